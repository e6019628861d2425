//! `ActorRef::send` did not take part in the fairness budget: a sender whose
//! target always had room never yielded, so the receiver (on the same
//! worker) got nothing until the sender was done.

use std::cell::Cell;
use std::num::NonZeroUsize;
use std::rc::Rc;
use std::sync::mpsc;

use hearth::FutureOptions;
use hearth::actor::{Context, actor_fn};
use hearth::supervisor::NoSupervisor;
use hearth::{ActorOptions, Runtime, RuntimeRef, ThreadLocal};

async fn counter(mut ctx: Context<u64, ThreadLocal>, seen: Rc<Cell<u64>>) {
    while ctx.receive_next().await.is_ok() {
        seen.set(seen.get() + 1);
    }
}

#[test]
fn sender_with_room_yields_to_receiver() {
    let (tx, rx) = mpsc::channel();
    let mut runtime = Runtime::setup().num_threads(1).build().unwrap();
    runtime.run_on_workers(move |mut rt: RuntimeRef| {
        let seen = Rc::new(Cell::new(0));
        let options =
            ActorOptions::default().with_inbox_capacity(NonZeroUsize::new(10_000).unwrap());
        let counter = rt.spawn_local(NoSupervisor, actor_fn(counter), seen.clone(), options);
        rt.spawn_local_future(
            async move {
                for i in 0..10_000u64 {
                    counter.send(i).await.unwrap();
                }
                tx.send(seen.get()).unwrap();
            },
            FutureOptions::default(),
        );
        Ok::<_, String>(())
    });
    runtime.start().unwrap();
    let seen_when_done = rx.recv().unwrap();
    assert!(
        seen_when_done > 0,
        "the receiver never ran while the sender sent 10,000 messages"
    );
}
