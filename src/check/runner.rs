//! Checker tasks: one per (real server, check). The I/O shell around `probe`.
//!
//! Each task waits for its start offset (the checks of a config are spread evenly over
//! their interval, so they never fire in a burst), then probes once per interval (a slow
//! probe delays the next one rather than overlapping it: at most one probe per check is in
//! flight) and sends every result to the daemon on a bounded channel. All tasks live in one
//! `Checkers` set owned by the daemon: dropping it stops them.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinSet;
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
}

/// The running checker tasks. Dropping it aborts them all.
pub struct Checkers {
    tasks: JoinSet<()>,
}

impl Checkers {
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
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
        let check = format!("{}#{}", check.kind.name(), id.index);
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
    let mut tasks = JoinSet::new();
    let all: Vec<_> = servers.checks(cfg).collect();
    let n = all.len();
    // One origin for every task, so checks given the same offset wake together.
    let origin = Instant::now();
    for (i, (id, rs, check)) in all.into_iter().enumerate() {
        let service = cfg
            .virtual_servers
            .iter()
            .find(|v| v.key == id.service)
            .map(|v| v.name.clone())
            .unwrap_or_default();
        let ctx = ProbeContext {
            service: service.clone(),
            real_server: rs.address,
            real_port: rs.port,
        };
        let prober = Prober::new(check, target(rs, check), ctx, &cfg.global.exec_user);
        let m = CheckMetrics::new(metrics, &service, &id, check);
        let offset = start_offset(i, n, check.interval);
        let span =
            info_span!("check", service = %service, rs = %id.dest, check = check.kind.name());
        tasks.spawn(
            run(id, prober, check.interval, origin + offset, tx.clone(), m).instrument(span),
        );
    }
    Checkers { tasks }
}

async fn run(
    id: CheckId,
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
        if tx.send(CheckResult { id, outcome, late }).await.is_err() {
            return;
        }
    }
}
