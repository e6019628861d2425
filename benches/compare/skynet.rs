//! The skynet tree: 10 children per node, leaves hold the numbers
//! `0..size`.
//!
//! Every run allocates and frees a million actors (tasks), so what the
//! allocator kept from the run before weighs on the next: each run is made
//! in a child process of its own (`child.rs`), which reports its time.

use super::{
    ActorOptions, ActorRef, Context, Done, Duration, Figures, Future, Instant, NoSupervisor,
    Outcome, Pin, RuntimeRef, SKYNET_CHILDREN, SKYNET_FANOUT, ThreadLocal, ThreadSafe, actor_fn,
    options, run_hearth, run_tokio_local, run_tokio_shared, sum_below,
};
use crate::child::{self, Family, Flavour, Side};

/// hearth, thread-local actors, in a child process.
pub(super) fn isolated_hearth_local(size: u64) -> Outcome {
    in_child(Side::Hearth, Flavour::Local, size)
}

/// hearth, thread-safe actors on two workers, in a child process.
pub(super) fn isolated_hearth_shared(size: u64) -> Outcome {
    in_child(Side::Hearth, Flavour::Shared, size)
}

/// tokio `current_thread`, in a child process.
pub(super) fn isolated_tokio_local(size: u64) -> Outcome {
    in_child(Side::Tokio, Flavour::Local, size)
}

/// tokio multi-thread with two workers, in a child process.
pub(super) fn isolated_tokio_shared(size: u64) -> Outcome {
    in_child(Side::Tokio, Flavour::Shared, size)
}

/// Runs one side in a child process and takes its time (milliseconds).
fn in_child(side: Side, flavour: Flavour, size: u64) -> Outcome {
    match child::run(Family::Skynet, side, flavour, size)?.as_slice() {
        [ms, _peak] => Ok(Duration::from_secs_f64(ms / 1e3)),
        other => Err(format!(
            "the skynet child printed {other:?}, not a time and a peak"
        )),
    }
}

/// The figure of the `skynet-memory` workloads: the child's peak resident
/// memory (`VmHWM`).
pub(super) const MEMORY_LABELS: &[&str] = &["peak MB"];

/// `skynet-memory`, hearth, thread-local actors: the peak resident memory
/// of a child process that ran the tree once.
pub(super) fn memory_hearth_local(size: u64) -> Figures {
    peak_of_child(Side::Hearth, Flavour::Local, size)
}

/// `skynet-memory`, hearth, thread-safe actors on two workers.
pub(super) fn memory_hearth_shared(size: u64) -> Figures {
    peak_of_child(Side::Hearth, Flavour::Shared, size)
}

/// `skynet-memory`, tokio `current_thread`.
pub(super) fn memory_tokio_local(size: u64) -> Figures {
    peak_of_child(Side::Tokio, Flavour::Local, size)
}

/// `skynet-memory`, tokio multi-thread with two workers.
pub(super) fn memory_tokio_shared(size: u64) -> Figures {
    peak_of_child(Side::Tokio, Flavour::Shared, size)
}

/// Runs one side in a child process and takes its peak resident memory.
fn peak_of_child(side: Side, flavour: Flavour, size: u64) -> Figures {
    match child::run(Family::Skynet, side, flavour, size)?.as_slice() {
        [_ms, peak] => Ok(vec![*peak]),
        other => Err(format!(
            "the skynet child printed {other:?}, not a time and a peak"
        )),
    }
}

/// The child's part: runs one side once and returns its time in
/// milliseconds and the process's peak resident memory in MB (the whole
/// process: the runtime, the tree at its largest, the allocator's slack).
pub(super) fn child(side: Side, flavour: Flavour, size: u64) -> Figures {
    let run = match (side, flavour) {
        (Side::Hearth, Flavour::Local) => hearth_local,
        (Side::Hearth, Flavour::Shared) => hearth_shared,
        (Side::Tokio, Flavour::Local) => tokio_local,
        (Side::Tokio, Flavour::Shared) => tokio_shared,
    };
    let elapsed = run(size)?;
    Ok(vec![elapsed.as_secs_f64() * 1e3, peak_resident_mb()?])
}

/// This process's peak resident memory, in MB.
fn peak_resident_mb() -> Result<f64, String> {
    #[allow(clippy::cast_precision_loss)] // Far below 2^52.
    Ok(super::memory::peak_rss()? as f64 / (1024.0 * 1024.0))
}

/// Where a node sends its sum.
enum Parent {
    /// Another node.
    Node(ActorRef<u64>),
    /// The driver: the root node reports the outcome.
    Root {
        /// When the run started.
        start: Instant,
        /// Leaves in the tree.
        size: u64,
        /// Where the outcome goes.
        done: Done,
    },
}

impl Parent {
    /// Sends `sum` to the parent node, or reports the outcome.
    async fn deliver(self, sum: u64) {
        match self {
            Parent::Node(parent) => {
                // A parent that stopped never reports to the root, which
                // then reports no result: the run fails.
                let _ = parent.send(sum).await;
            }
            Parent::Root { start, size, done } => {
                let elapsed = start.elapsed();
                let expected = sum_below(size);
                let outcome = if sum == expected {
                    Ok(elapsed)
                } else {
                    Err(format!("skynet sum is {sum}, expected {expected}"))
                };
                let _ = done.send(outcome);
            }
        }
    }
}

/// A node of the tree: the first leaf's number, the number of leaves
/// below it and where its sum goes.
struct Node {
    /// The first leaf's number.
    num: u64,
    /// Leaves below this node.
    size: u64,
    /// Where the sum goes.
    parent: Parent,
}

impl Node {
    /// The argument and inbox options of child `i` of this node.
    fn child(&self, i: u64, me: ActorRef<u64>) -> (Node, ActorOptions) {
        let size = self.size / SKYNET_CHILDREN;
        let node = Node {
            num: self.num + i * size,
            size,
            parent: Parent::Node(me),
        };
        // Nodes receive one message per child, leaves none.
        let capacity = if size == 1 { 1 } else { SKYNET_FANOUT };
        (node, options(capacity))
    }
}

/// Checks that `size` is a power of [`SKYNET_CHILDREN`].
fn check_size(size: u64) -> Result<(), String> {
    let mut s = size;
    while s > 1 && s.is_multiple_of(SKYNET_CHILDREN) {
        s /= SKYNET_CHILDREN;
    }
    if s == 1 {
        Ok(())
    } else {
        Err(format!(
            "skynet size must be a power of {SKYNET_CHILDREN}, got {size}"
        ))
    }
}

/// The root node of a tree of `size` leaves, reporting to `done`.
fn root(size: u64, done: Done) -> Node {
    Node {
        num: 0,
        size,
        parent: Parent::Root {
            start: Instant::now(),
            size,
            done,
        },
    }
}

/// hearth, thread-local actors on one worker.
pub(super) fn hearth_local(size: u64) -> Outcome {
    check_size(size)?;
    run_hearth(1, |runtime, done| {
        runtime.run_on_workers(move |mut rt: RuntimeRef| {
            let _ = rt.spawn_local(
                NoSupervisor,
                actor_fn(node_local),
                root(size, done),
                options(SKYNET_FANOUT),
            );
            Ok::<(), String>(())
        });
    })
}

/// hearth, thread-safe actors on two workers.
pub(super) fn hearth_shared(size: u64) -> Outcome {
    check_size(size)?;
    run_hearth(2, |runtime, done| {
        let _ = runtime.spawn(
            NoSupervisor,
            actor_fn(node_shared),
            root(size, done),
            options(SKYNET_FANOUT),
        );
    })
}

/// A thread-local node: a leaf sends its number up, a node spawns its
/// children and sends their sum up.
async fn node_local(mut ctx: Context<u64, ThreadLocal>, node: Node) {
    if node.size == 1 {
        node.parent.deliver(node.num).await;
        return;
    }
    for i in 0..SKYNET_CHILDREN {
        let (child, options) = node.child(i, ctx.actor_ref());
        let _ = ctx
            .runtime()
            .spawn_local(NoSupervisor, actor_fn(node_local), child, options);
    }
    if let Some(sum) = sum_children(&mut ctx).await {
        node.parent.deliver(sum).await;
    }
}

/// A thread-safe node, as [`node_local`].
async fn node_shared(mut ctx: Context<u64, ThreadSafe>, node: Node) {
    if node.size == 1 {
        node.parent.deliver(node.num).await;
        return;
    }
    for i in 0..SKYNET_CHILDREN {
        let (child, options) = node.child(i, ctx.actor_ref());
        spawn_shared(ctx.runtime(), child, options);
    }
    if let Some(sum) = sum_children(&mut ctx).await {
        node.parent.deliver(sum).await;
    }
}

/// Spawns a thread-safe node. (Outside `node_shared`: proving that
/// function's own future `Send` inside its body is a cycle for rustc.)
fn spawn_shared(rt: &ThreadSafe, child: Node, options: ActorOptions) {
    let _ = rt.spawn(NoSupervisor, actor_fn(node_shared), child, options);
}

/// Receives the sum of every child; `None` if a child is missing.
async fn sum_children<RT>(ctx: &mut Context<u64, RT>) -> Option<u64> {
    let mut sum = 0;
    for _ in 0..SKYNET_CHILDREN {
        sum += ctx.receive_next().await.ok()?;
    }
    Some(sum)
}

/// tokio, a `current_thread` runtime.
pub(super) fn tokio_local(size: u64) -> Outcome {
    check_size(size)?;
    run_tokio_local(tokio_root(size))
}

/// tokio, a multi-thread runtime with two workers.
pub(super) fn tokio_shared(size: u64) -> Outcome {
    check_size(size)?;
    run_tokio_shared(tokio_root(size))
}

/// The tokio root: times the tree and checks its sum.
async fn tokio_root(size: u64) -> Outcome {
    let start = Instant::now();
    let sum = tokio_node(0, size).await?;
    let elapsed = start.elapsed();
    let expected = sum_below(size);
    if sum == expected {
        Ok(elapsed)
    } else {
        Err(format!("skynet sum is {sum}, expected {expected}"))
    }
}

/// A tokio node's future (boxed: the tree is recursive).
type NodeFuture = Pin<Box<dyn Future<Output = Result<u64, String>> + Send>>;

/// A tokio node: its number for a leaf, the sum of its children's
/// tasks otherwise.
fn tokio_node(num: u64, size: u64) -> NodeFuture {
    Box::pin(async move {
        if size == 1 {
            return Ok(num);
        }
        let child = size / SKYNET_CHILDREN;
        let children: [tokio::task::JoinHandle<Result<u64, String>>; SKYNET_FANOUT] =
            std::array::from_fn(|i| tokio::spawn(tokio_node(num + i as u64 * child, child)));
        let mut sum = 0;
        for child in children {
            sum += child
                .await
                .map_err(|err| format!("skynet task failed: {err}"))??;
        }
        Ok(sum)
    })
}
