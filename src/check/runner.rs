//! Checker tasks: one per (real server, check). The I/O shell around `probe`.
//!
//! Each task waits for its start offset (the checks of a config are spread evenly over
//! their interval, so they never fire in a burst), then probes once per interval (a slow
//! probe delays the next one rather than overlapping it: at most one probe per check is in
//! flight) and sends every result to the daemon on a bounded channel. All tasks live in one
//! `Checkers` set owned by the daemon: dropping it stops them.
//!
//! On a reload `Checkers::update` keeps every task whose check is unchanged (same real
//! server, same check settings and target, same names): it goes on probing on its own
//! schedule. Only checks that changed, or are new, start; removed ones stop. Each task's
//! results carry its token, so a result a stopped task left in the channel is ignored.

use std::net::IpAddr;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::{AbortHandle, JoinSet};
use tokio::time::{Instant, MissedTickBehavior, interval_at};
use tracing::{Instrument, debug, error, info_span};

use super::probe::{ProbeContext, Prober};
use super::servers::{CheckId, Servers, start_offset};
use super::{Failure, Outcome, Reason, Target};
use crate::config::{Check, Config, RealServer};
use crate::metrics::{self, Metrics};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::histogram::Histogram;

/// One probe result for the daemon.
#[derive(Debug)]
pub struct CheckResult {
    pub id: CheckId,
    pub outcome: Outcome,
    /// How late the probe started compared with its schedule.
    pub late: Duration,
    /// The task that probed (`Checkers::route`).
    pub token: u64,
    /// The task's entry in `Checkers::routes`.
    pub slot: u32,
    /// Where its real server is in `Servers` (set by `Checkers::route`).
    pub server: Option<usize>,
}

/// What a check task was started with: its id and a fingerprint of everything else (the
/// check's settings, target, names, user). A task is kept across a reload only if both are
/// unchanged. A fingerprint rather than a copy: at 10,000 checks the copies cost megabytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Spec {
    id: CheckId,
    fingerprint: u64,
}

fn fingerprint(
    check: &Check,
    target: &Target,
    service: &str,
    real: (IpAddr, u16),
    exec_user: &str,
) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    // Check has no Hash (durations, paths, regexes): its Debug form covers every field.
    format!("{check:?}").hash(&mut h);
    format!("{target:?}").hash(&mut h);
    service.hash(&mut h);
    real.hash(&mut h);
    exec_user.hash(&mut h);
    h.finish()
}

struct Running {
    spec: Spec,
    slot: u32,
    abort: AbortHandle,
}

/// Where a running task's results go: its token (results of a stopped task whose slot
/// was reused do not match) and its real server's position in the current `Servers`.
#[derive(Clone, Copy, Debug)]
struct Route {
    token: u64,
    server: Option<usize>,
}

/// What a reload did to the checks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Update {
    pub kept: usize,
    pub started: usize,
    pub stopped: usize,
}

/// The running checker tasks. Dropping it aborts them all.
#[derive(Default)]
pub struct Checkers {
    tasks: JoinSet<()>,
    running: Vec<Running>,
    /// Indexed by slot: the route of the task there (None: free). Looked up once per
    /// result, by index.
    routes: Vec<Option<Route>>,
    free: Vec<u32>,
    next_token: u64,
}

impl Checkers {
    pub fn len(&self) -> usize {
        self.running.len()
    }

    pub fn is_empty(&self) -> bool {
        self.running.is_empty()
    }

    /// Whether a result comes from a task that is still running (not one a reload
    /// stopped); if so, sets where its real server is (`CheckResult::server`).
    pub fn route(&self, r: &mut CheckResult) -> bool {
        match self.routes.get(r.slot as usize) {
            Some(Some(route)) if route.token == r.token => {
                r.server = route.server;
                true
            }
            _ => false,
        }
    }

    fn take_slot(&mut self, route: Route) -> u32 {
        match self.free.pop() {
            Some(slot) => {
                self.routes[slot as usize] = Some(route);
                slot
            }
            None => {
                self.routes.push(Some(route));
                u32::try_from(self.routes.len() - 1).expect("fewer than 2^32 checks")
            }
        }
    }

    /// Brings the running tasks to the checks of `cfg`: unchanged ones keep running, the
    /// rest stop or start. New tasks are spread over their interval from now.
    pub fn update(
        &mut self,
        cfg: &Config,
        servers: &Servers,
        tx: &mpsc::Sender<CheckResult>,
        metrics: &Metrics,
    ) -> Update {
        // Reap the tasks aborted by earlier updates.
        while self.tasks.try_join_next().is_some() {}
        let wanted: Vec<(Spec, String, &RealServer, &Check)> = servers
            .checks(cfg)
            .map(|(id, rs, check)| {
                let service = cfg
                    .virtual_servers
                    .iter()
                    .find(|v| v.key == id.service)
                    .map(|v| v.name.clone())
                    .unwrap_or_default();
                let spec = Spec {
                    id,
                    fingerprint: fingerprint(
                        check,
                        &target(rs, check),
                        &service,
                        (rs.address, rs.port),
                        &cfg.global.exec_user,
                    ),
                };
                (spec, service, rs, check)
            })
            .collect();
        let mut old = std::mem::take(&mut self.running);
        let mut report = Update::default();
        let n = wanted.len();
        // Kept tasks first (positions change with every reload: each gets its server's
        // new one), then the stopped ones free their slots, then new tasks start.
        let mut new = Vec::new();
        for (i, (spec, service, rs, check)) in wanted.into_iter().enumerate() {
            let server = servers.position(spec.id.service, spec.id.dest);
            match old.iter().position(|r| r.spec == spec) {
                Some(pos) => {
                    let kept = old.swap_remove(pos);
                    if let Some(Some(route)) = self.routes.get_mut(kept.slot as usize) {
                        route.server = server;
                    }
                    self.running.push(kept);
                    report.kept += 1;
                }
                None => new.push((i, spec, service, rs, check, server)),
            }
        }
        for r in old {
            r.abort.abort();
            self.routes[r.slot as usize] = None;
            self.free.push(r.slot);
            report.stopped += 1;
        }
        // One origin for every new task, so checks given the same offset wake together.
        let origin = Instant::now();
        for (i, spec, service, rs, check, server) in new {
            let ctx = ProbeContext {
                service: service.clone(),
                real_server: rs.address,
                real_port: rs.port,
            };
            let prober = Prober::new(check, target(rs, check), ctx, &cfg.global.exec_user);
            let m = CheckMetrics::new(metrics, &service, &spec.id, check);
            let offset = start_offset(i, n, check.interval);
            let span = info_span!("check", service = %service, rs = %spec.id.dest, check = check.kind.name());
            let token = self.next_token;
            self.next_token += 1;
            let slot = self.take_slot(Route { token, server });
            let abort = self.tasks.spawn(
                run(
                    (spec.id, token, slot),
                    prober,
                    check.interval,
                    origin + offset,
                    tx.clone(),
                    m,
                )
                .instrument(span),
            );
            self.running.push(Running { spec, slot, abort });
            report.started += 1;
        }
        report
    }
}

/// Where a check probes: its own connect address/port if set, else the real server's.
pub fn target(rs: &RealServer, check: &Check) -> Target {
    Target {
        addr: check.connect_address.unwrap_or(rs.address),
        port: check.connect_port.unwrap_or(rs.port),
        source: check.source_address,
    }
}

/// The metric handles one check task updates (cheap clones of shared atomics, resolved
/// once, so a probe costs no label lookup).
struct CheckMetrics {
    success: Counter,
    failure: Counter,
    duration: Histogram,
    lateness: Histogram,
}

impl CheckMetrics {
    fn new(m: &Metrics, service: &str, id: &CheckId, check: &Check) -> CheckMetrics {
        let check = metrics::check_label(check.kind.name(), id.index);
        let count = |result| {
            m.checks
                .get_or_create(&metrics::CheckResultLabels {
                    virtual_server: service.to_string(),
                    real_server: id.dest.to_string(),
                    check: check.clone(),
                    result,
                })
                .clone()
        };
        CheckMetrics {
            success: count("success"),
            failure: count("failure"),
            duration: m
                .check_duration_seconds
                .get_or_create(&metrics::CheckLabels {
                    virtual_server: service.to_string(),
                    check: check.clone(),
                })
                .clone(),
            lateness: m.check_schedule_lateness_seconds.clone(),
        }
    }
}

/// Starts one task per check of every real server of `cfg`.
pub fn spawn(
    cfg: &Config,
    servers: &Servers,
    tx: mpsc::Sender<CheckResult>,
    metrics: &Metrics,
) -> Checkers {
    let mut c = Checkers::default();
    c.update(cfg, servers, &tx, metrics);
    c
}

async fn run(
    (id, token, slot): (CheckId, u64, u32),
    prober: Result<Prober, super::probe::ProbeSetupError>,
    every: Duration,
    first: Instant,
    tx: mpsc::Sender<CheckResult>,
    m: CheckMetrics,
) {
    let mut ticker = interval_at(first, every);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    // A check that cannot be set up (e.g. its CA file became unreadable since the config
    // was loaded) fails every interval, so the server is not trusted blindly.
    let prober = match prober {
        Ok(p) => Ok(p),
        Err(e) => {
            error!(error = %crate::cli::error_chain(&e), "check cannot be set up; it fails until the config is fixed");
            Err(Failure::new(Reason::Spawn, e.to_string()))
        }
    };
    loop {
        let due = ticker.tick().await;
        let start = Instant::now();
        let late = start.saturating_duration_since(due);
        let outcome = match &prober {
            Ok(p) => p.probe_from(start).await,
            Err(f) => Outcome {
                result: Err(f.clone()),
                latency: Duration::ZERO,
            },
        };
        if outcome.result.is_ok() {
            m.success.inc();
        } else {
            m.failure.inc();
        }
        m.duration.observe(outcome.latency.as_secs_f64());
        m.lateness.observe(late.as_secs_f64());
        debug!(
            ok = outcome.result.is_ok(),
            latency_ms = outcome.latency.as_millis() as u64,
            "probe"
        );
        let r = CheckResult {
            id,
            outcome,
            late,
            token,
            slot,
            server: None,
        };
        if tx.send(r).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::schema::NoFiles;

    fn cfg(second_timeout: &str) -> Config {
        let y = format!(
            "virtual_servers:\n  - address: 192.0.2.7:80\n    checks: [{{type: tcp, interval: 1h}}]\n    real_servers:\n      - address: 198.51.100.27:80\n      - address: 198.51.100.37:80\n        checks: [{{type: tcp, interval: 1h, timeout: {second_timeout}}}]\n"
        );
        crate::config::load_str(&y, Path::new("t"), &NoFiles).unwrap()
    }

    #[tokio::test]
    async fn a_reload_restarts_only_the_checks_that_changed() {
        let metrics = Metrics::new();
        let (tx, _rx) = mpsc::channel(16);
        let c = cfg("1s");
        let servers = Servers::from_config(&c, None);
        let mut checkers = spawn(&c, &servers, tx.clone(), &metrics);
        assert_eq!(checkers.len(), 2);
        let routes: Vec<(u64, u32)> = checkers
            .running
            .iter()
            .map(|r| (checkers.routes[r.slot as usize].unwrap().token, r.slot))
            .collect();
        // A result as task `k` sends it.
        let result = |k: usize| CheckResult {
            id: checkers.running[k].spec.id,
            outcome: crate::check::Outcome {
                result: Ok(()),
                latency: Duration::ZERO,
            },
            late: Duration::ZERO,
            token: routes[k].0,
            slot: routes[k].1,
            server: None,
        };
        let (mut first, mut second) = (result(0), result(1));
        assert!(checkers.route(&mut first) && checkers.route(&mut second));
        assert_eq!((first.server, second.server), (Some(0), Some(1)));
        // The same config: everything keeps running.
        let same = checkers.update(&c, &servers, &tx, &metrics);
        assert_eq!(
            same,
            Update {
                kept: 2,
                started: 0,
                stopped: 0
            }
        );
        // The second server's check changed: only it restarts; its old token is stale.
        let changed = cfg("2s");
        let servers = Servers::from_config(&changed, Some(&servers));
        let u = checkers.update(&changed, &servers, &tx, &metrics);
        assert_eq!(
            u,
            Update {
                kept: 1,
                started: 1,
                stopped: 1
            }
        );
        let mut first = CheckResult {
            server: None,
            ..first
        };
        assert!(checkers.route(&mut first));
        assert_eq!(first.server, Some(0));
        // The stopped task's results are refused, also once its slot holds the new task.
        let mut second = CheckResult {
            server: None,
            ..second
        };
        assert!(!checkers.route(&mut second));
        assert!(checkers.running.iter().any(|r| r.slot == second.slot));
        assert_eq!(checkers.len(), 2);
        // No checks at all: everything stops.
        let none = crate::config::load_str("{}", Path::new("t"), &NoFiles).unwrap();
        let servers = Servers::from_config(&none, Some(&servers));
        let u = checkers.update(&none, &servers, &tx, &metrics);
        assert_eq!((u.kept, u.stopped), (0, 2));
        assert!(checkers.is_empty());
    }
}
