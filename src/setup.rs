//! [`Setup`]: the builder of a [`Runtime`].

use std::sync::Arc;
use std::thread;

use crate::runtime::RuntimeShared;
use crate::scheduler::SharedScheduler;
use crate::{Error, Runtime, worker};

/// Configures a [`Runtime`]; made by [`Runtime::setup`].
///
/// # Examples
///
/// ```
/// use hearth::Runtime;
///
/// let runtime = Runtime::setup().name("my_app").use_all_cores().auto_cpu_affinity().build()?;
/// # drop(runtime);
/// # Ok::<(), hearth::Error>(())
/// ```
#[derive(Clone, Debug)]
#[must_use = "a setup does nothing until `build` is called"]
pub struct Setup {
    name: Option<String>,
    threads: usize,
    auto_cpu_affinity: bool,
}

impl Setup {
    /// Most worker threads a runtime may have.
    pub const MAX_THREADS: usize = 256;

    pub(crate) fn new() -> Setup {
        Setup {
            name: None,
            threads: 1,
            auto_cpu_affinity: false,
        }
    }

    /// Sets the name of the runtime (default: the name of the program).
    pub fn name<N: Into<String>>(mut self, name: N) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets the number of worker threads (default 1). Checked by
    /// [`Setup::build`]: at least 1, at most [`Setup::MAX_THREADS`].
    pub fn num_threads(mut self, n: usize) -> Self {
        self.threads = n;
        self
    }

    /// One worker thread per available CPU core.
    pub fn use_all_cores(mut self) -> Self {
        self.threads = thread::available_parallelism().map_or(1, usize::from);
        self
    }

    /// Pins worker thread `i` to CPU `i` (modulo the number of CPUs). A CPU
    /// that cannot be used is logged, not an error.
    pub fn auto_cpu_affinity(mut self) -> Self {
        self.auto_cpu_affinity = true;
        self
    }

    /// The number of worker threads set so far.
    pub fn get_threads(&self) -> usize {
        self.threads
    }

    /// Builds the runtime and starts its worker threads.
    ///
    /// # Errors
    ///
    /// An invalid number of threads, or a thread or poll that cannot be
    /// created.
    pub fn build(self) -> Result<Runtime, Error> {
        if self.threads == 0 {
            return Err(Error::setup(
                "the number of worker threads must be at least 1, got 0".to_owned(),
            ));
        }
        if self.threads > Self::MAX_THREADS {
            return Err(Error::setup(format!(
                "the number of worker threads must be at most {}, got {} (use `use_all_cores` for one per core)",
                Self::MAX_THREADS,
                self.threads
            )));
        }
        let name = self.name.unwrap_or_else(default_name);
        let prepared = (1..=self.threads)
            .map(worker::prepare)
            .collect::<Result<Vec<_>, _>>()
            .map_err(Error::start_worker)?;
        let wakes = prepared.iter().map(worker::Prepared::wake).collect();
        let shared = Arc::new(RuntimeShared {
            name,
            scheduler: SharedScheduler::new(wakes),
        });
        let cpus = thread::available_parallelism().map_or(1, usize::from);
        let mut workers = Vec::with_capacity(self.threads);
        for (i, prepared) in prepared.into_iter().enumerate() {
            let cpu = self.auto_cpu_affinity.then_some(i % cpus);
            match worker::start(prepared, shared.clone(), cpu) {
                Ok(handle) => workers.push(handle),
                Err(err) => {
                    // The runtime stops the workers already started.
                    drop(Runtime::from_parts(shared, workers));
                    return Err(Error::start_worker(err));
                }
            }
        }
        Ok(Runtime::from_parts(shared, workers))
    }
}

/// The program's name, from its path.
fn default_name() -> String {
    std::env::args_os()
        .next()
        .and_then(|arg0| {
            std::path::Path::new(&arg0)
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "hearth".to_owned())
}
