//! Where IPVS operations land: the `Backend` trait, the operations, what a dump returns,
//! and an in-memory backend that behaves like the kernel's table.
//!
//! The trait is synchronous: the IPVS task owns one backend on its own thread. The netlink
//! implementation talks to the kernel; `MemoryBackend` is used by every test above the
//! netlink layer (controller, reconcile loop, daemon) and by benchmarks on hosts without IPVS.

use std::collections::BTreeMap;

use super::model::{DestKey, Destination, Service, ServiceEntry, ServiceKey, Table};

/// One change to the kernel table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    AddService(Service),
    /// Changes scheduler, flags, timeout, netmask or persistence engine in place.
    EditService(Service),
    DelService(ServiceKey),
    AddDest(ServiceKey, Destination),
    /// Changes weight, forwarding or thresholds in place.
    EditDest(ServiceKey, Destination),
    DelDest(ServiceKey, DestKey),
}

impl Op {
    /// Short name for logs and metric labels.
    pub fn kind(&self) -> &'static str {
        match self {
            Op::AddService(_) => "add_service",
            Op::EditService(_) => "edit_service",
            Op::DelService(_) => "del_service",
            Op::AddDest(..) => "add_dest",
            Op::EditDest(..) => "edit_dest",
            Op::DelDest(..) => "del_dest",
        }
    }

    /// The destination an op is about, if any (for logs).
    pub fn dest_key(&self) -> Option<DestKey> {
        match self {
            Op::AddDest(_, d) | Op::EditDest(_, d) => Some(d.key),
            Op::DelDest(_, k) => Some(*k),
            _ => None,
        }
    }

    pub fn service_key(&self) -> ServiceKey {
        match self {
            Op::AddService(s) | Op::EditService(s) => s.key,
            Op::DelService(k) | Op::AddDest(k, _) | Op::EditDest(k, _) | Op::DelDest(k, _) => *k,
        }
    }
}

/// Traffic counters and rates the kernel keeps per service and destination.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub conns: u64,
    pub inpkts: u64,
    pub outpkts: u64,
    pub inbytes: u64,
    pub outbytes: u64,
    pub cps: u64,
    pub inpps: u64,
    pub outpps: u64,
    pub inbps: u64,
    pub outbps: u64,
}

/// A destination as dumped: its settings plus what the kernel counts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DestState {
    pub dest: Destination,
    pub active_conns: u32,
    pub inactive_conns: u32,
    pub persistent_conns: u32,
    pub stats: Stats,
}

/// A service as dumped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceState {
    pub service: Service,
    pub stats: Stats,
    pub dests: BTreeMap<DestKey, DestState>,
}

/// The whole kernel table as dumped.
pub type Observed = BTreeMap<ServiceKey, ServiceState>;

/// The settings of a dumped table, without counters (for `export` and comparisons).
pub fn to_table(observed: &Observed) -> Table {
    Table {
        services: observed
            .iter()
            .map(|(k, st)| {
                let entry = ServiceEntry {
                    service: st.service.clone(),
                    dests: st
                        .dests
                        .iter()
                        .map(|(dk, d)| (*dk, d.dest.clone()))
                        .collect(),
                };
                (*k, entry)
            })
            .collect(),
    }
}

/// GET_INFO.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Info {
    /// e.g. 0x010201 for 1.2.1.
    pub version: u32,
    pub conn_tab_size: u32,
}

/// TCP, TCP FIN-wait and UDP connection timeouts in seconds (0 = leave unchanged on set).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timeouts {
    pub tcp: u32,
    pub tcp_fin: u32,
    pub udp: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum SyncRole {
    Master,
    Backup,
}

/// A running connection-sync daemon.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncDaemon {
    pub role: SyncRole,
    pub interface: String,
    pub sync_id: u8,
}

#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// EEXIST: what we add is already there (someone else added it, or our view is stale).
    #[error("already exists")]
    Exists,
    /// ENOENT/ESRCH: what we edit or delete is gone.
    #[error("not found")]
    NotFound,
    /// Any other errno from the kernel.
    #[error("kernel refused the request: {}", std::io::Error::from_raw_os_error(*errno))]
    Kernel { errno: i32 },
    #[error("cannot talk to the kernel")]
    Io(#[source] std::io::Error),
    #[error("malformed reply from the kernel: {0}")]
    Decode(String),
    /// IPVS is not in this kernel (the generic netlink family is missing).
    #[error("IPVS is not available in this kernel")]
    Unavailable,
}

impl BackendError {
    /// EEXIST/ENOENT/ESRCH: the table changed under us; re-read and reconcile again.
    pub fn is_race(&self) -> bool {
        matches!(self, BackendError::Exists | BackendError::NotFound)
    }
}

pub trait Backend: Send {
    fn dump(&mut self) -> Result<Observed, BackendError>;
    fn apply(&mut self, op: &Op) -> Result<(), BackendError>;
    /// Applies every op and returns one result per op, in order. Unlike stopping at the
    /// first failure, every op is attempted: a backend may send them all before reading
    /// the answers (the netlink one pipelines them). The default applies them one by one.
    fn apply_all(&mut self, ops: &[Op]) -> Vec<Result<(), BackendError>> {
        ops.iter().map(|op| self.apply(op)).collect()
    }
    fn info(&mut self) -> Result<Info, BackendError>;
    fn timeouts(&mut self) -> Result<Timeouts, BackendError>;
    fn set_timeouts(&mut self, t: Timeouts) -> Result<(), BackendError>;
    fn sync_daemons(&mut self) -> Result<Vec<SyncDaemon>, BackendError>;
    fn start_sync_daemon(&mut self, d: &SyncDaemon) -> Result<(), BackendError>;
    fn stop_sync_daemon(&mut self, role: SyncRole) -> Result<(), BackendError>;
}

/// A backend shared with an observer (tests look into a `MemoryBackend` the task owns).
impl<B: Backend> Backend for std::sync::Arc<std::sync::Mutex<B>> {
    fn dump(&mut self) -> Result<Observed, BackendError> {
        lock(self).dump()
    }
    fn apply(&mut self, op: &Op) -> Result<(), BackendError> {
        lock(self).apply(op)
    }
    fn apply_all(&mut self, ops: &[Op]) -> Vec<Result<(), BackendError>> {
        lock(self).apply_all(ops)
    }
    fn info(&mut self) -> Result<Info, BackendError> {
        lock(self).info()
    }
    fn timeouts(&mut self) -> Result<Timeouts, BackendError> {
        lock(self).timeouts()
    }
    fn set_timeouts(&mut self, t: Timeouts) -> Result<(), BackendError> {
        lock(self).set_timeouts(t)
    }
    fn sync_daemons(&mut self) -> Result<Vec<SyncDaemon>, BackendError> {
        lock(self).sync_daemons()
    }
    fn start_sync_daemon(&mut self, d: &SyncDaemon) -> Result<(), BackendError> {
        lock(self).start_sync_daemon(d)
    }
    fn stop_sync_daemon(&mut self, role: SyncRole) -> Result<(), BackendError> {
        lock(self).stop_sync_daemon(role)
    }
}

fn lock<B>(m: &std::sync::Mutex<B>) -> std::sync::MutexGuard<'_, B> {
    // A panic while holding the lock leaves a table that is still a valid table.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

// === MemoryBackend ===

/// An IPVS table in memory with the kernel's add/edit/delete semantics (EEXIST on a
/// duplicate add, ENOENT on editing or deleting what is missing). Counts writes, and can be
/// told to fail the next operations, for tests.
#[derive(Debug, Default)]
pub struct MemoryBackend {
    pub table: Observed,
    /// Operations applied successfully, in order.
    pub applied: Vec<Op>,
    /// The next `fail_next.len()` operations (applies and dumps) fail with these errors.
    pub fail_next: Vec<BackendError>,
    timeouts: Timeouts,
    daemons: Vec<SyncDaemon>,
}

impl MemoryBackend {
    pub fn new() -> Self {
        MemoryBackend {
            timeouts: Timeouts {
                tcp: 900,
                tcp_fin: 120,
                udp: 300,
            },
            ..Default::default()
        }
    }

    /// Number of successful writes so far.
    pub fn writes(&self) -> usize {
        self.applied.len()
    }

    fn injected(&mut self) -> Result<(), BackendError> {
        if self.fail_next.is_empty() {
            Ok(())
        } else {
            Err(self.fail_next.remove(0))
        }
    }
}

impl Backend for MemoryBackend {
    fn dump(&mut self) -> Result<Observed, BackendError> {
        self.injected()?;
        Ok(self.table.clone())
    }

    fn apply(&mut self, op: &Op) -> Result<(), BackendError> {
        self.injected()?;
        match op {
            Op::AddService(s) => {
                if self.table.contains_key(&s.key) {
                    return Err(BackendError::Exists);
                }
                self.table.insert(
                    s.key,
                    ServiceState {
                        service: s.clone(),
                        stats: Stats::default(),
                        dests: BTreeMap::new(),
                    },
                );
            }
            Op::EditService(s) => {
                let st = self.table.get_mut(&s.key).ok_or(BackendError::NotFound)?;
                st.service = s.clone();
            }
            Op::DelService(k) => {
                self.table.remove(k).ok_or(BackendError::NotFound)?;
            }
            Op::AddDest(k, d) => {
                let st = self.table.get_mut(k).ok_or(BackendError::NotFound)?;
                if st.dests.contains_key(&d.key) {
                    return Err(BackendError::Exists);
                }
                st.dests.insert(
                    d.key,
                    DestState {
                        dest: d.clone(),
                        active_conns: 0,
                        inactive_conns: 0,
                        persistent_conns: 0,
                        stats: Stats::default(),
                    },
                );
            }
            Op::EditDest(k, d) => {
                let st = self.table.get_mut(k).ok_or(BackendError::NotFound)?;
                let ds = st.dests.get_mut(&d.key).ok_or(BackendError::NotFound)?;
                ds.dest = d.clone();
            }
            Op::DelDest(k, dk) => {
                let st = self.table.get_mut(k).ok_or(BackendError::NotFound)?;
                st.dests.remove(dk).ok_or(BackendError::NotFound)?;
            }
        }
        self.applied.push(op.clone());
        Ok(())
    }

    fn info(&mut self) -> Result<Info, BackendError> {
        self.injected()?;
        Ok(Info {
            version: 0x010201,
            conn_tab_size: 4096,
        })
    }

    fn timeouts(&mut self) -> Result<Timeouts, BackendError> {
        self.injected()?;
        Ok(self.timeouts)
    }

    fn set_timeouts(&mut self, t: Timeouts) -> Result<(), BackendError> {
        self.injected()?;
        let keep = |new: u32, old: u32| if new == 0 { old } else { new };
        self.timeouts = Timeouts {
            tcp: keep(t.tcp, self.timeouts.tcp),
            tcp_fin: keep(t.tcp_fin, self.timeouts.tcp_fin),
            udp: keep(t.udp, self.timeouts.udp),
        };
        Ok(())
    }

    fn sync_daemons(&mut self) -> Result<Vec<SyncDaemon>, BackendError> {
        self.injected()?;
        Ok(self.daemons.clone())
    }

    fn start_sync_daemon(&mut self, d: &SyncDaemon) -> Result<(), BackendError> {
        self.injected()?;
        if self.daemons.iter().any(|x| x.role == d.role) {
            return Err(BackendError::Exists);
        }
        self.daemons.push(d.clone());
        Ok(())
    }

    fn stop_sync_daemon(&mut self, role: SyncRole) -> Result<(), BackendError> {
        self.injected()?;
        let before = self.daemons.len();
        self.daemons.retain(|x| x.role != role);
        if self.daemons.len() == before {
            return Err(BackendError::NotFound);
        }
        Ok(())
    }
}
