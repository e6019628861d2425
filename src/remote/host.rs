//! The hosts of a pool, and which of them a job may run on.

use std::fmt;

use std::sync::Arc;

use crate::remote::install::Install;
use crate::remote::{PoolError, Transport, Workdir};

/// A host of the pool: a name, how many slots, how to reach it, and tags.
#[derive(Clone, Debug)]
pub struct Host {
    pub(crate) name: String,
    pub(crate) slots: usize,
    pub(crate) transport: Transport,
    pub(crate) tags: Vec<(String, String)>,
    pub(crate) workdir: Option<Workdir>,
    /// Environment variables for this host's jobs, after the pool's.
    pub(crate) env: Vec<(String, String)>,
    /// Copy this program to the host when it has none
    /// ([`Host::install_worker`]).
    pub(crate) install_worker: bool,
    /// This program, once the pool is built, for a host that installs it.
    pub(crate) install: Option<Arc<Install>>,
    /// The login that reaches the host, when it is not the name
    /// ([`Host::login`]).
    pub(crate) login: Option<String>,
}

impl Host {
    /// The local machine, running the current executable (the embedded
    /// default: no ssh, no configuration).
    pub fn local(slots: usize) -> Host {
        Host {
            name: "local".to_owned(),
            slots,
            transport: Transport::local(),
            tags: Vec::new(),
            workdir: None,
            env: Vec::new(),
            install_worker: false,
            install: None,
            login: None,
        }
    }

    /// A host reached with `transport`.
    pub fn new(name: impl Into<String>, slots: usize, transport: Transport) -> Host {
        Host {
            name: name.into(),
            slots,
            transport,
            tags: Vec::new(),
            workdir: None,
            env: Vec::new(),
            install_worker: false,
            install: None,
            login: None,
        }
    }

    /// Adds a tag, e.g. `("role", "db")`.
    #[must_use]
    pub fn tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Host {
        self.tags.push((key.into(), value.into()));
        self
    }

    /// Runs the host's jobs in `workdir`: a directory (made if missing;
    /// a relative one is relative to the home directory there), or a
    /// fresh temporary directory per job, removed after it. Files sent
    /// with a job go there too. Default: the worker's own directory (the
    /// login directory over ssh, the pool's directory locally).
    #[must_use]
    pub fn workdir(mut self, workdir: Workdir) -> Host {
        self.workdir = Some(workdir);
        self
    }

    /// Sets the environment variable `name` to `value` for the jobs of
    /// this host (over the pool's
    /// [`env`](crate::remote::PoolBuilder::env) of the same name), e.g.
    /// which host runs them: sent with each of its slots' session set-up.
    #[must_use]
    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> Host {
        let name = name.into();
        self.env.retain(|(n, _)| *n != name);
        self.env.push((name, value.into()));
        self
    }

    /// Copies this very program to the host when it has no copy of it,
    /// over the first slot's own ssh connection (the others wait for it),
    /// to `~/.cache/hearth/hearth-CRC-LEN`, and runs that as the worker
    /// (the transport's `bin` is not used then): a cluster needs nothing
    /// installed. Only to a host of the system and architecture this
    /// program was built for, checked first (another is a permanent
    /// failure that says so). For ssh hosts only (see
    /// [`PoolBuilder::build`](crate::remote::PoolBuilder::build)).
    #[must_use]
    pub fn install_worker(mut self) -> Host {
        self.install_worker = true;
        self
    }

    /// Reaches the host through `login` (for ssh `host`, `user@host` or
    /// `user@host:port`) while its name stays what logs, results, metrics
    /// and [`Target::Host`] call it: e.g. a short label for an address,
    /// or the whole of GNU parallel's `-S "ssh -p 2222 node1"` for the
    /// host `node1` reached with that ssh command. Default: the name.
    #[must_use]
    pub fn login(mut self, login: impl Into<String>) -> Host {
        self.login = Some(login.into());
        self
    }

    /// What the transport is given to reach the host: its
    /// [`login`](Host::login), or else its name.
    pub(crate) fn reached_as(&self) -> &str {
        self.login.as_deref().unwrap_or(&self.name)
    }

    /// The host's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The host's slots.
    pub fn slots(&self) -> usize {
        self.slots
    }

    /// The host's tags.
    pub fn tags(&self) -> &[(String, String)] {
        &self.tags
    }
}

/// Where a job may run: the target of [`Pool::map`](crate::remote::Pool::map)
/// and the other runs, usually [`Target::Any`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Target {
    /// Any slot.
    Any,
    /// The slots of the host of this name.
    Host(String),
    /// The slots of the hosts that have every one of these tags.
    Tags(Vec<(String, String)>),
}

impl Target {
    /// Parses a tag query, `key=value,key=value`.
    ///
    /// # Errors
    ///
    /// [`PoolError::BadQuery`] if a part has no `=` or an empty key.
    pub fn tags(query: &str) -> Result<Target, PoolError> {
        query
            .split(',')
            .map(|part| match part.trim().split_once('=') {
                Some((key, value)) if !key.trim().is_empty() => {
                    Ok((key.trim().to_owned(), value.trim().to_owned()))
                }
                _ => Err(PoolError::BadQuery(query.to_owned())),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Target::Tags)
    }

    /// True if a job of this target may run on `host`'s slots.
    pub fn matches(&self, host: &Host) -> bool {
        match self {
            Target::Any => true,
            Target::Host(name) => host.name == *name,
            Target::Tags(tags) => tags.iter().all(|tag| host.tags.contains(tag)),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Any => f.write_str("any host"),
            Target::Host(name) => write!(f, "host {name:?}"),
            Target::Tags(tags) => {
                let tags: Vec<String> = tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
                write!(f, "tags {}", tags.join(","))
            }
        }
    }
}

/// What a host of the pool is doing, see
/// [`Pool::host_states`](crate::remote::Pool::host_states).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct HostState {
    /// The host's name.
    pub name: String,
    /// The host's tags.
    pub tags: Vec<(String, String)>,
    /// Slots of the host.
    pub slots: usize,
    /// Slots that completed their handshake and take jobs.
    pub alive: usize,
    /// Slots dead for good.
    pub dead: usize,
    /// Jobs this host answered (outputs and job errors).
    pub jobs_done: usize,
}
