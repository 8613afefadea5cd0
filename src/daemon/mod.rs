//! The daemon: the only place that wires tasks, signals, reload and shutdown together.
//!
//! It loads the config, sets up logging, starts the IPVS task (its own thread, owning the
//! netlink socket) and the health checks (one task per real server and check), and runs
//! the main loop: probe results update the servers' health (`director`), which gives the
//! desired table for the IPVS task; SIGTERM/SIGINT stop it cleanly (IPVS rules stay
//! unless `remove_rules_on_exit`); SIGHUP re-reads and validates the config, keeping the
//! running one if the new one has problems. VRRP instances run as tasks (`vrrp.rs`): kept
//! across reloads that leave them unchanged, released (priority 0, addresses removed) on
//! stop.

pub mod admin;
pub mod director;
mod logging;
mod vrrp;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;
use tracing::{debug, error, info, warn};

use crate::check::runner::{self, CheckResult};
use crate::cli::IpvsBackend;
use crate::config::{self, Config, LoadError};
use crate::ipvs::backend::{Backend, MemoryBackend};
use crate::ipvs::netlink::NetlinkBackend;
use crate::ipvs::task::{self, Command, Connect, Event};
use crate::metrics::{Metrics, Op as OpLabel, ResultLabel, Shared};
use crate::status;
use crate::vrrp::task::StateEvent;
use director::Director;
use vrrp::VrrpSet;

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot start with this config")]
    Config(#[source] LoadError),
    #[error("cannot set up {what}")]
    Setup {
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
}

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The metrics of one reconcile pass.
fn record_pass(m: &Metrics, ops: &[&'static str], duration: Duration, failed: bool) {
    let result = if failed { "failed" } else { "converged" };
    m.reconcile_runs
        .get_or_create(&ResultLabel { result })
        .inc();
    for op in ops {
        m.reconcile_writes.get_or_create(&OpLabel { op }).inc();
    }
    if failed {
        m.netlink_errors.inc();
    }
    m.reconcile_duration_seconds.observe(duration.as_secs_f64());
}

/// Probe results taken from the channel at once.
const RESULT_BATCH: usize = 256;

/// Runs the daemon until SIGTERM or SIGINT.
pub fn run(
    config_path: &Path,
    log_override: Option<&str>,
    backend: IpvsBackend,
) -> Result<(), RunError> {
    let cfg = config::load_file(config_path).map_err(RunError::Config)?;
    logging::init(
        cfg.global.log_format,
        log_override.unwrap_or(&cfg.global.log_level),
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| RunError::Setup {
            what: "the async runtime",
            source,
        })?;
    rt.block_on(supervise(config_path.to_path_buf(), cfg, backend))
}

fn connector(kind: IpvsBackend) -> Connect {
    match kind {
        IpvsBackend::Kernel => {
            Box::new(|| Ok(Box::new(NetlinkBackend::connect()?) as Box<dyn Backend>))
        }
        IpvsBackend::Memory => Box::new(|| Ok(Box::new(MemoryBackend::new()) as Box<dyn Backend>)),
    }
}

async fn supervise(path: PathBuf, cfg: Config, backend: IpvsBackend) -> Result<(), RunError> {
    let setup = |source| RunError::Setup {
        what: "signal handlers",
        source,
    };
    let mut term = signal(SignalKind::terminate()).map_err(setup)?;
    let mut int = signal(SignalKind::interrupt()).map_err(setup)?;
    let mut hup = signal(SignalKind::hangup()).map_err(setup)?;

    let s = cfg.summary();
    info!(
        node = %cfg.global.node_name,
        config = %path.display(),
        virtual_servers = s.virtual_servers,
        real_servers = s.real_servers,
        vrrp_instances = s.vrrp_instances,
        "ipvsd started"
    );

    // The IPVS task: a thread that owns the backend. Its events come back on a bounded
    // channel; if the daemon falls behind, events are dropped, never queued without bound.
    let (cmd_tx, cmd_rx) = std::sync::mpsc::channel::<Command>();
    let (ev_tx, mut ev_rx) = mpsc::channel::<Event>(64);
    let interval = cfg.global.reconcile_interval;
    let metrics: Shared = Arc::new(Metrics::new());
    metrics.config_last_reload_successful.set(1);
    metrics
        .config_last_reload_success_timestamp_seconds
        .set(unix_now());
    let m = metrics.clone();
    let ipvs = std::thread::Builder::new()
        .name("ipvs".into())
        .spawn(move || {
            task::run(connector(backend), cmd_rx, interval, |e| {
                // Pass metrics are counted here, in the ipvs thread; the rest goes to the
                // main task.
                if let Event::Pass {
                    ops,
                    duration,
                    failed,
                } = &e
                {
                    record_pass(&m, ops, *duration, *failed);
                    return;
                }
                let _ = ev_tx.try_send(e);
            })
        })
        .map_err(|source| RunError::Setup {
            what: "the ipvs thread",
            source,
        })?;
    // The task lives as long as this function, so a send only fails if it panicked.
    let send = |c: Command| {
        if cmd_tx.send(c).is_err() {
            error!("the ipvs task has stopped");
        }
    };

    // Health checks: one task per (real server, check), results on a bounded channel.
    let mut director = Director::with_metrics(cfg, metrics.clone());
    let (res_tx, mut res_rx) = mpsc::channel::<CheckResult>(1024);
    let mut checkers = runner::spawn(&director.cfg, &director.servers, res_tx.clone(), &metrics);
    info!(checks = checkers.len(), "health checks started");
    if let Some(c) = director.update(Instant::now()) {
        send(c);
    }
    // Slow start: while a weight is ramping, recompute every second.
    let mut ramp_tick = tokio::time::interval(Duration::from_secs(1));
    ramp_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

    // Probe punctuality, reported at debug level once a minute.
    let mut schedule_tick = tokio::time::interval(Duration::from_secs(60));
    schedule_tick.tick().await;

    // The admin API: /metrics, /healthz, /readyz, status and drain; its requests for the
    // director's state come here.
    let (admin_tx, mut admin_rx) = mpsc::channel::<admin::DaemonRequest>(16);
    let admin_ctx = admin::Ctx {
        metrics: metrics.clone(),
        ipvs: cmd_tx.clone(),
        daemon: admin_tx,
    };
    metrics.ipvs.set_names(status::service_names(&director.cfg));
    let mut admin = tokio::spawn(admin::serve(
        director.cfg.global.admin_listen,
        admin_ctx.clone(),
    ));

    // VRRP: one task per instance; their state changes come back here.
    let (vrrp_tx, mut vrrp_rx) = mpsc::channel::<StateEvent>(64);
    let mut vrrp = VrrpSet::start(&director.cfg, vrrp_tx, metrics.clone());
    // What tracked virtual servers report to VRRP: recomputed when health moves.
    let mut alive = director.services_alive();
    let mut seen_transitions = director.transitions;
    vrrp.services(&alive);
    if !vrrp.is_empty() {
        info!(instances = vrrp.len(), "vrrp started");
    }

    let mut ready = false;
    let mut results = Vec::with_capacity(RESULT_BATCH);
    loop {
        tokio::select! {
            _ = term.recv() => { info!(signal = "SIGTERM", "stopping"); break; }
            _ = int.recv() => { info!(signal = "SIGINT", "stopping"); break; }
            _ = hup.recv() => {
                let new = reload(&path).await;
                let result = if new.is_some() { "success" } else { "failure" };
                metrics.config_reloads.get_or_create(&ResultLabel { result }).inc();
                metrics.config_last_reload_successful.set(i64::from(new.is_some()));
                if let Some(new) = new {
                    metrics.config_last_reload_success_timestamp_seconds.set(unix_now());
                    if new.global.admin_listen != director.cfg.global.admin_listen {
                        admin.abort();
                        admin = tokio::spawn(admin::serve(new.global.admin_listen, admin_ctx.clone()));
                    }
                    metrics.ipvs.set_names(status::service_names(&new));
                    // Checks restart with the new config; unchanged servers keep their health.
                    drop(checkers);
                    if let Some(c) = director.reload(new, Instant::now()) {
                        send(c);
                    }
                    checkers = runner::spawn(&director.cfg, &director.servers, res_tx.clone(), &metrics);
                    vrrp.reload(&director.cfg).await;
                    alive = director.services_alive();
                    vrrp.services(&alive);
                }
            }
            Some(req) = admin_rx.recv() => match req {
                admin::DaemonRequest::Status { kernel, reply } => {
                    let view = director.status_view(vrrp.status(), ready);
                    let _ = reply.send(status::build(&view, &kernel, &status::Clock::now()));
                }
                admin::DaemonRequest::Drain { virtual_server, real_server, drain, reply } => {
                    let r = director.drain(&virtual_server, &real_server, drain, Instant::now());
                    let r = r.map(|(changed, command)| {
                        if let Some(c) = command {
                            send(c);
                        }
                        changed
                    });
                    let _ = reply.send(r);
                }
            },
            Some(ev) = vrrp_rx.recv() => {
                if let Some(d) = vrrp.on_event(&ev) {
                    send(Command::SyncDaemon(d));
                }
            }
            n = res_rx.recv_many(&mut results, RESULT_BATCH) => {
                if n == 0 {
                    continue;
                }
                // Everything that arrived since the last wake-up, at one clock reading;
                // each command is the whole desired table, so only the last one matters.
                let now = Instant::now();
                let mut last = None;
                for r in results.drain(..) {
                    if let Some(c) = director.on_result(r, now) {
                        last = Some(c);
                    }
                }
                if let Some(c) = last {
                    send(c);
                }
                if director.transitions != seen_transitions {
                    seen_transitions = director.transitions;
                    let now_alive = director.services_alive();
                    if now_alive != alive {
                        alive = now_alive;
                        vrrp.services(&alive);
                    }
                }
            }
            _ = schedule_tick.tick() => director.report_schedule(),
            _ = ramp_tick.tick(), if director.ramping => {
                if let Some(c) = director.update(Instant::now()) {
                    send(c);
                }
            }
            Some(ev) = ev_rx.recv() => {
                if let Event::Converged { writes, repairs, converged } = ev {
                    debug!(writes, repairs, converged, "ipvs reconciled");
                    metrics.reconcile_drift_repairs.inc_by(repairs as u64);
                    if converged && !ready {
                        ready = true;
                        metrics.ready.set(1);
                        info!(writes, "ipvs table converged");
                    }
                }
            }
        }
    }
    drop(checkers);
    admin.abort();
    // VRRP first: the peer takes over at its skew time while the rest shuts down.
    vrrp.shutdown().await;
    let cfg = director.cfg;
    send(Command::Shutdown {
        remove_owned: cfg.global.remove_rules_on_exit,
    });
    if ipvs.join().is_err() {
        error!("the ipvs task panicked");
    }
    info!(node = %cfg.global.node_name, "ipvsd stopped");
    Ok(())
}

/// Loads and validates the config again. `None` (and the running config stays) if it has
/// problems; each is logged.
async fn reload(path: &Path) -> Option<Config> {
    let p = path.to_path_buf();
    let loaded = tokio::task::spawn_blocking(move || config::load_file(&p)).await;
    match loaded {
        Ok(Ok(cfg)) => {
            let s = cfg.summary();
            info!(
                config = %path.display(),
                virtual_servers = s.virtual_servers,
                real_servers = s.real_servers,
                vrrp_instances = s.vrrp_instances,
                "config reloaded"
            );
            Some(cfg)
        }
        Ok(Err(e)) => {
            for problem in e.problems() {
                warn!(problem = %problem, "config problem");
            }
            error!(config = %path.display(), "reload rejected; the running config stays in force");
            None
        }
        Err(e) => {
            error!(error = %e, "reload task failed; the running config stays in force");
            None
        }
    }
}
