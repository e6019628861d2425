//! One test body in both socket modes: [`on_worker`] runs a future with the
//! runtime access of thread-local actors, [`thread_safe`] with that of
//! thread-safe ones, and [`in_both_modes!`] declares the pair of tests
//! that run one body each way.
//!
//! A body is generic over the mode, but the bounds a mode needs (`Send`
//! for thread-safe futures and actors, none for thread-local ones) can
//! only be proved for a named mode: so each test names its mode and the
//! body stays generic.

use std::future::Future;
use std::sync::mpsc;

use hearth::FutureOptions;
use hearth::{Runtime, RuntimeRef, Setup, ThreadSafe};

/// Declares, for each body named, a module of the same name holding the
/// tests `thread_local` and `thread_safe`, which run that body in each
/// mode:
///
/// - `in_both_modes!(name, ...)`: `fn name<RT>()`, generic over the mode
///   (a server test, which picks its connection actor by the mode);
/// - `in_both_modes!(async name, ...)`: `async fn name<RT, A>(rt: A) ->
///   io::Result<()>` with `A: SocketAccess<RT>`, run by [`on_worker`] and
///   by [`thread_safe`]; it must not fail.
macro_rules! in_both_modes {
    (async $($body:ident),+ $(,)?) => {
        $(
            mod $body {
                #[test]
                fn thread_local() {
                    let setup = hearth::Runtime::setup();
                    crate::modes::on_worker(setup, super::$body).unwrap();
                }

                #[test]
                fn thread_safe() {
                    crate::modes::thread_safe(super::$body).unwrap();
                }
            }
        )+
    };
    ($($body:ident),+ $(,)?) => {
        $(
            mod $body {
                #[test]
                fn thread_local() {
                    super::$body::<hearth::ThreadLocal>();
                }

                #[test]
                fn thread_safe() {
                    super::$body::<hearth::ThreadSafe>();
                }
            }
        )+
    };
}

/// Runs `body` with the runtime access of thread-local actors, on the one
/// worker of a runtime built from `setup`, and returns its output.
#[allow(dead_code)]
pub fn on_worker<T, F, Fut>(setup: Setup, body: F) -> T
where
    F: FnOnce(RuntimeRef) -> Fut + Send + Clone + 'static,
    Fut: Future<Output = T> + 'static,
    T: Send + 'static,
{
    let mut runtime = setup.num_threads(1).build().unwrap();
    let (tx, rx) = mpsc::channel();
    runtime.run_on_workers(move |mut rt: RuntimeRef| {
        let future = body(rt.clone());
        rt.spawn_local_future(
            async move {
                let _ = tx.send(future.await);
            },
            FutureOptions::default(),
        );
    });
    runtime.start().unwrap();
    rx.recv().expect("the body did not finish (did it panic?)")
}

/// Runs `body` with the runtime access of thread-safe actors, on a
/// runtime of two workers, and returns its output.
#[allow(dead_code)]
pub fn thread_safe<T, F, Fut>(body: F) -> T
where
    F: FnOnce(ThreadSafe) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let runtime = Runtime::setup().num_threads(2).build().unwrap();
    let rt = runtime.thread_safe();
    runtime.block_on(body(rt)).unwrap()
}

/// The name of the mode `RT`, for the names of a test's files.
#[allow(dead_code)]
pub fn mode_name<RT>() -> &'static str {
    let name = std::any::type_name::<RT>();
    name.rsplit("::").next().unwrap_or(name)
}
