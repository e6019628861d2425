//! Runs on every host: a job (or every input) once on each host a target
//! matches, GNU parallel's `--nonall` and `--onall`, pdsh's "this command
//! everywhere". Each job may run only on the slots of its host: a host
//! whose slots are all dead answers its jobs with
//! [`JobFailure::NotRun`](crate::remote::JobFailure::NotRun), and the
//! other hosts run theirs.

use std::ops::ControlFlow;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::run::Placement;
use super::{Pool, encode_all};
use crate::remote::delivery::Event;
use crate::remote::engine::eligible_slots;
use crate::remote::feed::Source;
use crate::remote::{JobReport, Order, PoolError, Target};

impl Pool {
    /// Runs `handler` with `input` once on each host that `target` matches
    /// (usually [`Target::Any`]: every host) and returns one report per
    /// host, in the pool's order of the hosts; [`JobReport::host`] names
    /// the host that answered. A host whose slots are all dead for good
    /// (unreachable, refused) gets
    /// [`JobFailure::NotRun`](crate::remote::JobFailure::NotRun) with
    /// why, and the others run all the same.
    ///
    /// # Errors
    ///
    /// [`PoolError::NoMatchingHost`] at once if no host matches `target`,
    /// [`PoolError::Encode`] if `input` does not encode, or a failure of
    /// the pool's poll.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use hearth::remote::{Host, Pool, Target, Transport};
    ///
    /// let mut pool = Pool::builder()
    ///     .host(Host::new("node1", 1, Transport::ssh("/usr/local/bin/myprog")))
    ///     .host(Host::new("node2", 1, Transport::ssh("/usr/local/bin/myprog")).tag("role", "db"))
    ///     .build()?;
    /// // The free disk space of every host tagged role=db.
    /// for report in pool.on_each_host::<(), u64>(&Target::tags("role=db")?, "df", &())? {
    ///     println!("{:?}: {:?}", report.host, report.result);
    /// }
    /// # Ok::<(), hearth::remote::PoolError>(())
    /// ```
    pub fn on_each_host<I, O>(
        &mut self,
        target: &Target,
        handler: &str,
        input: &I,
    ) -> Result<Vec<JobReport<O>>, PoolError>
    where
        I: Serialize,
        O: DeserializeOwned,
    {
        let mut reports = Vec::new();
        let _hosts = self.run_each(
            target,
            handler,
            std::iter::once(input),
            Order::Submission,
            false,
            &mut |event| {
                if let Event::Done { report, .. } = event {
                    reports.push(report.decode());
                }
                ControlFlow::Continue(())
            },
        )?;
        Ok(reports)
    }

    /// Runs `handler` with every input on every host that `target`
    /// matches (GNU parallel's `--onall`) and hands `on_event` the jobs'
    /// streamed output and reports, as [`Pool::run_raw`] does.
    ///
    /// The jobs are numbered host by host: job `index` is input `index %
    /// inputs.len()` on the host `index / inputs.len()` of the list this
    /// returns (the hosts `target` matches, in the pool's order). In
    /// [`Order::Submission`] the jobs of a host come together, the first
    /// host's first, while every host runs its own at the same time. A
    /// host whose slots are all dead for good answers its jobs with
    /// [`JobFailure::NotRun`](crate::remote::JobFailure::NotRun); the
    /// others run theirs.
    ///
    /// Every job is taken in at the start (the inputs are a list), so the
    /// later hosts start with the first; their output waits for its turn
    /// as [`Pool::run_raw`]'s does, in memory and then in temporary files.
    ///
    /// # Errors
    ///
    /// [`PoolError::NoMatchingHost`] at once if no host matches `target`,
    /// [`PoolError::Encode`] before any job starts if an input does not
    /// encode; otherwise as [`Pool::run_raw`].
    pub fn run_raw_on_each_host<I: Serialize>(
        &mut self,
        target: &Target,
        handler: &str,
        inputs: &[I],
        order: Order,
        mut on_event: impl FnMut(Event<'_>) -> ControlFlow<()>,
    ) -> Result<Vec<String>, PoolError> {
        self.run_each(target, handler, inputs.iter(), order, true, &mut on_event)
    }

    /// The run of [`Pool::on_each_host`] and [`Pool::run_raw_on_each_host`];
    /// returns the hosts in the order of their jobs.
    fn run_each<'i, I: Serialize + 'i>(
        &mut self,
        target: &Target,
        handler: &str,
        inputs: impl Iterator<Item = &'i I>,
        order: Order,
        streamed: bool,
        on_event: &mut crate::remote::delivery::OnEvent<'_>,
    ) -> Result<Vec<String>, PoolError> {
        // The error names the pool's hosts when none matches.
        let _ = eligible_slots(&self.hosts, target)?;
        let payloads = encode_all(inputs)?;
        // A host's own slots (two entries of one name stay apart).
        let own_slots = |index: usize| -> Vec<bool> {
            self.hosts
                .iter()
                .enumerate()
                .flat_map(|(i, host)| std::iter::repeat_n(i == index, host.slots))
                .collect()
        };
        let chosen: Vec<usize> = (0..self.hosts.len())
            .filter(|&i| self.hosts[i].slots > 0 && target.matches(&self.hosts[i]))
            .collect();
        let names: Vec<String> = chosen.iter().map(|&i| self.hosts[i].name.clone()).collect();
        let placement = Placement::EachHost {
            hosts: chosen.iter().map(|&i| own_slots(i)).collect(),
            per_host: payloads.len(),
        };
        let count = names.len();
        let source = Source::List(
            (0..count).flat_map(move |_| payloads.clone().into_iter().map(|p| (p, None))),
        );
        self.run_source(&placement, handler, source, order, streamed, on_event)?;
        Ok(names)
    }
}
