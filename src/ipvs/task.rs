//! The IPVS task: owns the backend (the netlink socket) on its own thread and keeps the
//! kernel converged on the desired table.
//!
//! It converges when the desired table changes, every `reconcile_interval`, and soon after
//! any error. Each convergence reads the kernel, computes the ops (`reconcile`), applies
//! them; an EEXIST/ENOENT race makes it read again and start over, never fail. Ops applied
//! while the desired table did not change are drift repairs (someone changed the kernel by
//! hand): each is logged and counted.

use std::collections::BTreeSet;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use tracing::{debug, info, warn};

use super::backend::{Backend, BackendError, Observed, Op, SyncDaemon, SyncRole};
use super::model::{ServiceKey, Table};
use super::reconcile::reconcile;
use super::sync::{SyncOp, sync_ops};

/// Rounds of read-compute-apply before a convergence gives up until the next trigger.
const MAX_ROUNDS: usize = 5;

/// What one convergence did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Ops applied successfully, in order.
    pub applied: Vec<Op>,
    /// Dumps taken (1 when nothing raced).
    pub rounds: usize,
    /// EEXIST/ENOENT races resolved by re-reading.
    pub races: usize,
    /// Last error if the table could not be converged.
    pub error: Option<String>,
    /// The backend itself failed (socket error): open a new one before the next pass.
    pub reconnect: bool,
}

impl Report {
    pub fn converged(&self) -> bool {
        self.error.is_none()
    }
}

/// Brings the kernel to `desired`, touching only `desired` and `owned` services.
pub fn converge(
    backend: &mut dyn Backend,
    desired: &Table,
    owned: &BTreeSet<ServiceKey>,
) -> Report {
    let mut report = Report::default();
    for _ in 0..MAX_ROUNDS {
        report.rounds += 1;
        let observed: Observed = match backend.dump() {
            Ok(o) => o,
            Err(e) => {
                report.reconnect = matches!(e, BackendError::Io(_) | BackendError::Unavailable);
                report.error = Some(error_text(&e));
                return report;
            }
        };
        let ops = reconcile(desired, &observed, owned);
        if ops.is_empty() {
            return report;
        }
        // Every op is attempted (the backend may pipeline them); a race on any of them
        // means our view was stale: read again and reconcile what is left.
        let results = backend.apply_all(&ops);
        let mut raced = false;
        let mut hard: Option<String> = None;
        for (op, result) in ops.into_iter().zip(results) {
            match result {
                Ok(()) => report.applied.push(op),
                Err(e) if e.is_race() => {
                    debug!(op = op.kind(), service = %op.service_key(), error = %e, "ipvs race, re-reading");
                    report.races += 1;
                    raced = true;
                }
                Err(e) => {
                    report.reconnect |= matches!(e, BackendError::Io(_));
                    hard.get_or_insert_with(|| format!("{}: {}", op.kind(), error_text(&e)));
                }
            }
        }
        if let Some(e) = hard {
            report.error = Some(e);
            return report;
        }
        if !raced {
            return report;
        }
    }
    report.error = Some(format!("still racing after {MAX_ROUNDS} rounds"));
    report
}

fn error_text(e: &BackendError) -> String {
    crate::cli::error_chain(e)
}

/// Messages to the IPVS task.
#[derive(Debug)]
pub enum Command {
    /// A new desired table; `owned` are the services the config owns (desired now, or
    /// desired before this change and to be removed).
    Desired {
        table: Table,
        owned: BTreeSet<ServiceKey>,
    },
    /// The connection-sync daemon that should run (from the VRRP state), kept running
    /// from now on.
    SyncDaemon(SyncDaemon),
    /// Read the owned services from the kernel now (settings, counters, connection
    /// counts) for `/metrics` and the status document. Answered between passes; an error
    /// if the backend is not open or the dump fails.
    Snapshot(tokio::sync::oneshot::Sender<Result<Observed, String>>),
    /// Stop after an optional last action.
    Shutdown { remove_owned: bool },
}

/// Events the task reports (for logs, metrics and readiness).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// One pass (dump, compare, write) ended: the kinds of the ops written, how long it
    /// took, and whether it met an error (it is retried).
    Pass {
        ops: Vec<&'static str>,
        duration: Duration,
        failed: bool,
    },
    /// A convergence finished: ops applied, how many were drift repairs, whether it
    /// converged.
    Converged {
        writes: usize,
        repairs: usize,
        converged: bool,
    },
}

/// An error that repeats on every retry is logged once: `is_new` is true when the text
/// differs from the last one; `clear` (on success) is true if an error was pending.
#[derive(Debug, Default)]
struct Repeats(Option<String>);

impl Repeats {
    fn is_new(&mut self, text: &str) -> bool {
        if self.0.as_deref() == Some(text) {
            return false;
        }
        self.0 = Some(text.to_string());
        true
    }

    fn clear(&mut self) -> bool {
        self.0.take().is_some()
    }
}

/// Opens a backend (the netlink socket); called again after the connection breaks.
pub type Connect = Box<dyn FnMut() -> Result<Box<dyn Backend>, BackendError> + Send>;

/// Runs the task until `Shutdown` or until the command channel closes. Blocking: run it on
/// its own thread. A backend that cannot be opened, or breaks, is opened again on the
/// next pass: the task never gives up.
pub fn run(
    mut connect: Connect,
    commands: Receiver<Command>,
    interval: Duration,
    mut on_event: impl FnMut(Event),
) {
    let retry_after_error = Duration::from_secs(1).min(interval);
    let mut backend: Option<Box<dyn Backend>> = None;
    let mut connect_errors = Repeats::default();
    let mut pass_errors = Repeats::default();
    let mut desired: Option<(Table, BTreeSet<ServiceKey>)> = None;
    let mut changed = false;
    let mut sync: Option<SyncDaemon> = None;
    let mut sync_changed = false;
    let mut next = Instant::now() + interval;
    loop {
        let wait = next.saturating_duration_since(Instant::now());
        match commands.recv_timeout(wait) {
            Ok(Command::Desired { table, owned }) => {
                desired = Some((table, owned));
                changed = true;
            }
            Ok(Command::SyncDaemon(d)) => {
                sync_changed = sync.as_ref() != Some(&d);
                sync = Some(d);
            }
            Ok(Command::Snapshot(reply)) => {
                let _ = reply.send(snapshot(backend.as_mut(), desired.as_ref()));
                // Not a trigger: the next pass stays when it was due.
                continue;
            }
            Ok(Command::Shutdown { remove_owned }) => {
                if let (true, Some(b), Some((_, owned))) =
                    (remove_owned, backend.as_mut(), &desired)
                {
                    remove_services(b.as_mut(), owned);
                }
                return;
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        let Some((table, owned)) = &desired else {
            next = Instant::now() + interval;
            continue;
        };
        if backend.is_none() {
            match connect() {
                Ok(b) => {
                    if connect_errors.clear() {
                        info!("ipvs backend connected");
                    }
                    backend = Some(b);
                }
                Err(e) => {
                    let text = error_text(&e);
                    if connect_errors.is_new(&text) {
                        warn!(error = %text, "cannot open the ipvs backend; retrying");
                    }
                    on_event(Event::Pass {
                        ops: Vec::new(),
                        duration: Duration::ZERO,
                        failed: true,
                    });
                    on_event(Event::Converged {
                        writes: 0,
                        repairs: 0,
                        converged: false,
                    });
                    next = Instant::now() + retry_after_error;
                    continue;
                }
            }
        }
        let Some(b) = backend.as_mut() else { continue };
        let started = Instant::now();
        let sync_ok = match &sync {
            Some(want) => {
                let ok = converge_sync(b.as_mut(), want, sync_changed);
                if ok {
                    sync_changed = false;
                }
                ok
            }
            None => true,
        };
        let report = converge(b.as_mut(), table, owned);
        let repairs = if changed { 0 } else { report.applied.len() };
        for op in &report.applied {
            let dest = op.dest_key().map(|d| d.to_string()).unwrap_or_default();
            if changed {
                info!(op = op.kind(), service = %op.service_key(), dest, "ipvs change applied");
            } else {
                warn!(op = op.kind(), service = %op.service_key(), dest, "ipvs drift repaired");
            }
        }
        // Without CAP_NET_ADMIN every pass fails alike: once, not every interval. Each
        // failed pass is still counted (ipvsd_reconcile_runs_total{result="failed"}).
        match &report.error {
            Some(e) if pass_errors.is_new(e) => warn!(error = %e, "ipvs not converged; retrying"),
            Some(_) => debug!("ipvs not converged; same error as the last pass"),
            None => {
                if pass_errors.clear() {
                    info!("ipvs pass succeeded after errors");
                }
            }
        }
        if report.reconnect {
            backend = None;
        }
        on_event(Event::Pass {
            ops: report.applied.iter().map(|op| op.kind()).collect(),
            duration: started.elapsed(),
            failed: !report.converged() || !sync_ok,
        });
        on_event(Event::Converged {
            writes: report.applied.len(),
            repairs,
            converged: report.converged(),
        });
        // After a new desired table converges, the next difference is drift.
        if report.converged() {
            changed = false;
        }
        next = Instant::now()
            + if report.converged() && sync_ok {
                interval
            } else {
                retry_after_error
            };
    }
}

/// The owned (and desired) services as the kernel holds them now.
fn snapshot(
    backend: Option<&mut Box<dyn Backend>>,
    desired: Option<&(Table, BTreeSet<ServiceKey>)>,
) -> Result<Observed, String> {
    let Some(b) = backend else {
        return Err("the ipvs backend is not open".into());
    };
    let mut observed = b.dump().map_err(|e| error_text(&e))?;
    observed.retain(|k, _| {
        desired.is_some_and(|(table, owned)| table.services.contains_key(k) || owned.contains(k))
    });
    Ok(observed)
}

/// Makes `want` the one connection-sync daemon running; true once it is. Logged at info
/// when asked for (`requested`), as a repair otherwise.
fn converge_sync(backend: &mut dyn Backend, want: &SyncDaemon, requested: bool) -> bool {
    let running = match backend.sync_daemons() {
        Ok(r) => r,
        Err(e) => {
            warn!(error = %error_text(&e), "cannot read the ipvs sync daemons");
            return false;
        }
    };
    let mut ok = true;
    for op in sync_ops(want, &running) {
        let (r, what) = match &op {
            SyncOp::Stop(role) => (backend.stop_sync_daemon(*role), "stop"),
            SyncOp::Start(d) => (backend.start_sync_daemon(d), "start"),
        };
        let role = match &op {
            SyncOp::Stop(r) => *r,
            SyncOp::Start(d) => d.role,
        };
        let role = match role {
            SyncRole::Master => "master",
            SyncRole::Backup => "backup",
        };
        match r {
            Ok(()) if requested => {
                info!(op = what, role, interface = %want.interface, sync_id = want.sync_id, "ipvs sync daemon changed")
            }
            Ok(()) => {
                warn!(op = what, role, interface = %want.interface, "ipvs sync daemon repaired")
            }
            Err(e) => {
                ok = false;
                warn!(op = %what, role = %role, error = %error_text(&e), "ipvs sync daemon change failed; retrying");
            }
        }
    }
    ok
}

/// Deletes the owned services (the `remove_rules_on_exit` option).
fn remove_services(backend: &mut dyn Backend, owned: &BTreeSet<ServiceKey>) {
    for key in owned {
        match backend.apply(&Op::DelService(*key)) {
            Ok(()) => info!(service = %key, "ipvs service removed on exit"),
            Err(BackendError::NotFound) => {}
            Err(e) => {
                warn!(service = %key, error = %error_text(&e), "cannot remove ipvs service on exit")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipvs::backend::MemoryBackend;
    use crate::ipvs::model::{
        DestKey, Destination, Forwarding, Protocol, Scheduler, Service, ServiceEntry,
    };

    fn table(weights: &[u32]) -> Table {
        let key = ServiceKey::Addr {
            protocol: Protocol::Tcp,
            addr: "192.0.2.1".parse().unwrap(),
            port: 80,
        };
        let dests = weights
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let dk = DestKey {
                    addr: format!("198.51.100.{}", i + 2).parse().unwrap(),
                    port: 80,
                };
                let d = Destination {
                    key: dk,
                    forwarding: Forwarding::Nat,
                    weight: *w,
                    upper_threshold: 0,
                    lower_threshold: 0,
                };
                (dk, d)
            })
            .collect();
        let service = Service {
            key,
            scheduler: Scheduler::Wrr,
            flags: 0,
            timeout: 0,
            netmask: u32::MAX,
            pe_name: None,
        };
        Table {
            services: [(key, ServiceEntry { service, dests })].into(),
        }
    }

    #[test]
    fn converging_twice_writes_nothing_the_second_time() {
        let mut b = MemoryBackend::new();
        let want = table(&[1, 2]);
        let first = converge(&mut b, &want, &BTreeSet::new());
        assert_eq!(first.applied.len(), 3);
        let second = converge(&mut b, &want, &BTreeSet::new());
        assert_eq!(
            second,
            Report {
                rounds: 1,
                ..Report::default()
            }
        );
        assert_eq!(b.writes(), 3);
    }

    /// A kernel where someone else adds the same service between our dump and our add.
    struct Racer {
        inner: MemoryBackend,
        other: Table,
        raced: bool,
    }

    impl Backend for Racer {
        fn dump(&mut self) -> Result<Observed, BackendError> {
            self.inner.dump()
        }
        fn apply(&mut self, op: &Op) -> Result<(), BackendError> {
            if !self.raced {
                self.raced = true;
                converge(&mut self.inner, &self.other, &BTreeSet::new());
            }
            self.inner.apply(op)
        }
        fn info(&mut self) -> Result<crate::ipvs::backend::Info, BackendError> {
            self.inner.info()
        }
        fn timeouts(&mut self) -> Result<crate::ipvs::backend::Timeouts, BackendError> {
            self.inner.timeouts()
        }
        fn set_timeouts(&mut self, t: crate::ipvs::backend::Timeouts) -> Result<(), BackendError> {
            self.inner.set_timeouts(t)
        }
        fn sync_daemons(&mut self) -> Result<Vec<crate::ipvs::backend::SyncDaemon>, BackendError> {
            self.inner.sync_daemons()
        }
        fn start_sync_daemon(
            &mut self,
            d: &crate::ipvs::backend::SyncDaemon,
        ) -> Result<(), BackendError> {
            self.inner.start_sync_daemon(d)
        }
        fn stop_sync_daemon(
            &mut self,
            r: crate::ipvs::backend::SyncRole,
        ) -> Result<(), BackendError> {
            self.inner.stop_sync_daemon(r)
        }
    }

    #[test]
    fn a_race_is_resolved_by_reading_again() {
        // The racer creates the service with one destination of weight 5 just before our
        // first add, which then fails with EEXIST.
        let mut b = Racer {
            inner: MemoryBackend::new(),
            other: table(&[5]),
            raced: false,
        };
        let want = table(&[1, 2]);
        let r = converge(&mut b, &want, &BTreeSet::new());
        assert!(r.converged(), "{r:?}");
        // First round: our service add and the add of the racer's destination hit EEXIST,
        // the other destination is added. Second round: the racer's weight is edited.
        assert_eq!((r.rounds, r.races), (2, 2));
        let key = *want.services.keys().next().unwrap();
        assert_eq!(
            r.applied.iter().map(Op::kind).collect::<Vec<_>>(),
            ["add_dest", "edit_dest"]
        );
        assert_eq!(b.inner.dump().unwrap()[&key].dests.len(), 2);
        assert_eq!(converge(&mut b, &want, &BTreeSet::new()).applied, vec![]);
    }

    #[test]
    fn a_repeated_error_is_new_only_when_it_changes_or_after_a_success() {
        let mut r = Repeats::default();
        assert!(!r.clear());
        assert!(r.is_new("eperm"));
        assert!(!r.is_new("eperm"));
        assert!(r.is_new("enomem"));
        assert!(r.clear());
        assert!(!r.clear());
        assert!(r.is_new("enomem"));
    }

    #[test]
    fn a_hard_error_is_reported_not_fatal() {
        let mut b = MemoryBackend::new();
        b.fail_next = vec![BackendError::Kernel { errno: 12 }];
        let r = converge(&mut b, &table(&[1]), &BTreeSet::new());
        assert_eq!(
            r.error.as_deref(),
            Some("kernel refused the request: Cannot allocate memory (os error 12)")
        );
        // The next convergence, with the fault gone, completes.
        let r = converge(&mut b, &table(&[1]), &BTreeSet::new());
        assert!(r.converged());
        assert_eq!(r.applied.len(), 2);
    }

    #[test]
    fn the_task_applies_changes_then_repairs_drift_on_its_interval_and_can_clean_up() {
        let kernel = std::sync::Arc::new(std::sync::Mutex::new(MemoryBackend::new()));
        let (cmd_tx, cmd_rx) = std::sync::mpsc::channel();
        let (ev_tx, ev_rx) = std::sync::mpsc::channel();
        let shared = kernel.clone();
        let connect: Connect = Box::new(move || Ok(Box::new(shared.clone()) as Box<dyn Backend>));
        let handle = std::thread::spawn(move || {
            run(connect, cmd_rx, Duration::from_millis(50), |e| {
                if let Event::Converged { .. } = e {
                    let _ = ev_tx.send(e);
                }
            })
        });
        let want = table(&[1, 2]);
        let owned: BTreeSet<ServiceKey> = want.services.keys().copied().collect();
        cmd_tx
            .send(Command::Desired {
                table: want.clone(),
                owned: owned.clone(),
            })
            .unwrap();
        let wait = || ev_rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(
            wait(),
            Event::Converged {
                writes: 3,
                repairs: 0,
                converged: true
            }
        );
        // Someone deletes a destination by hand: the next periodic pass repairs it.
        let key = *owned.iter().next().unwrap();
        let gone = *want.services[&key].dests.keys().next().unwrap();
        kernel
            .lock()
            .unwrap()
            .apply(&Op::DelDest(key, gone))
            .unwrap();
        loop {
            match wait() {
                Event::Converged { writes: 0, .. } => continue,
                e => {
                    assert_eq!(
                        e,
                        Event::Converged {
                            writes: 1,
                            repairs: 1,
                            converged: true
                        }
                    );
                    break;
                }
            }
        }
        cmd_tx
            .send(Command::Shutdown { remove_owned: true })
            .unwrap();
        handle.join().unwrap();
        assert!(kernel.lock().unwrap().table.is_empty());
    }

    #[test]
    fn a_backend_that_cannot_be_opened_is_retried_until_it_can() {
        let kernel = std::sync::Arc::new(std::sync::Mutex::new(MemoryBackend::new()));
        let shared = kernel.clone();
        let mut attempts = 0;
        let connect: Connect = Box::new(move || {
            attempts += 1;
            if attempts < 3 {
                Err(BackendError::Unavailable)
            } else {
                Ok(Box::new(shared.clone()) as Box<dyn Backend>)
            }
        });
        let (cmd_tx, cmd_rx) = std::sync::mpsc::channel();
        let (ev_tx, ev_rx) = std::sync::mpsc::channel();
        let handle = std::thread::spawn(move || {
            run(connect, cmd_rx, Duration::from_millis(20), |e| {
                if let Event::Converged { .. } = e {
                    let _ = ev_tx.send(e);
                }
            })
        });
        let want = table(&[1]);
        cmd_tx
            .send(Command::Desired {
                table: want,
                owned: BTreeSet::new(),
            })
            .unwrap();
        let mut seen = Vec::new();
        loop {
            let e = ev_rx.recv_timeout(Duration::from_secs(10)).unwrap();
            seen.push(e.clone());
            if let Event::Converged {
                converged: true, ..
            } = e
            {
                break;
            }
        }
        let failed = Event::Converged {
            writes: 0,
            repairs: 0,
            converged: false,
        };
        let ok = Event::Converged {
            writes: 2,
            repairs: 0,
            converged: true,
        };
        assert_eq!(seen, vec![failed.clone(), failed, ok]);
        drop(cmd_tx);
        handle.join().unwrap();
        assert_eq!(kernel.lock().unwrap().writes(), 2);
    }
}
