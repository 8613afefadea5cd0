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
mod scripts;
mod state;
mod systemd;
mod vrrp;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{mpsc, oneshot};
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
    privileges();
    runtime()?.block_on(supervise(
        config_path.to_path_buf(),
        cfg,
        connector(backend),
        std::future::pending(),
    ))
}

/// Runs the daemon's main loop like `run`, on the IPVS backend that `connect` opens, until
/// `stop` completes (or SIGTERM/SIGINT: it installs the same signal handlers). Logging and
/// capabilities are left as they are.
/// For tests that put a backend of their own under the real loop (one that injects
/// faults, or a table they look into); the product only uses `run`.
#[doc(hidden)]
pub fn run_with_connector(
    config_path: &Path,
    connect: Connect,
    stop: impl std::future::Future<Output = ()>,
) -> Result<(), RunError> {
    let cfg = config::load_file(config_path).map_err(RunError::Config)?;
    runtime()?.block_on(supervise(config_path.to_path_buf(), cfg, connect, stop))
}

/// The daemon runs on one thread (no cross-thread wake-up per probe).
fn runtime() -> Result<tokio::runtime::Runtime, RunError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| RunError::Setup {
            what: "the async runtime",
            source,
        })
}

/// Run as a dedicated user, ipvsd gets CAP_NET_ADMIN and CAP_NET_RAW as ambient
/// capabilities (systemd's AmbientCapabilities=); it keeps them in its effective set but
/// clears the ambient and inheritable sets, so the programs it starts (exec checks,
/// notify programs) get none. Missing capabilities are reported once, up front.
fn privileges() {
    use caps::{CapSet, Capability};
    for set in [CapSet::Ambient, CapSet::Inheritable] {
        if let Err(e) = caps::clear(None, set) {
            warn!(error = %e, set = ?set, "cannot clear a capability set; programs ipvsd starts may inherit capabilities");
        }
    }
    for (cap, what) in [
        (
            Capability::CAP_NET_ADMIN,
            "programming IPVS and adding VRRP addresses",
        ),
        (
            Capability::CAP_NET_RAW,
            "VRRP and gratuitous ARP / NA sockets",
        ),
    ] {
        if !caps::has_cap(None, CapSet::Effective, cap).unwrap_or(true) {
            warn!(capability = %cap, needed_for = what, "capability missing; those parts will fail until it is granted");
        }
    }
}

fn connector(kind: IpvsBackend) -> Connect {
    match kind {
        IpvsBackend::Kernel => {
            Box::new(|| Ok(Box::new(NetlinkBackend::connect()?) as Box<dyn Backend>))
        }
        IpvsBackend::Memory => Box::new(|| Ok(Box::new(MemoryBackend::new()) as Box<dyn Backend>)),
    }
}

async fn supervise(
    path: PathBuf,
    cfg: Config,
    connect: Connect,
    stop: impl std::future::Future<Output = ()>,
) -> Result<(), RunError> {
    tokio::pin!(stop);
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
            task::run(connect, cmd_rx, interval, |e| {
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
    // Drains kept by the last run, before the first table: a drained server never
    // takes traffic across a restart.
    let mut drain_file = state::DrainFile::new(director.cfg.global.state_dir.as_deref());
    director.restore_drains(drain_file.load(&director.cfg));
    drain_file.save(director.drains());
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
    // The control socket: the API's changes (reload, drain, undrain).
    let control_of = |cfg: &Config| {
        cfg.global
            .control_socket
            .clone()
            .map(|p| tokio::spawn(admin::serve_control(p, admin_ctx.clone())))
    };
    let mut control = control_of(&director.cfg);

    // VRRP: one task per instance; their state changes come back here.
    let (vrrp_tx, mut vrrp_rx) = mpsc::channel::<StateEvent>(64);
    let mut vrrp = VrrpSet::start(&director.cfg, vrrp_tx, metrics.clone());
    // The programs VRRP instances track; their outcomes come back here.
    let (script_tx, mut script_rx) = mpsc::channel::<scripts::ScriptResult>(64);
    let mut scripts = scripts::Scripts::start(&director.cfg, script_tx, metrics.clone());
    // What tracked virtual servers and scripts report to VRRP: sent again when it moves.
    let mut alive = director.services_alive();
    let mut seen_transitions = director.transitions;
    vrrp.health(&track_health(&alive, &scripts));
    if !vrrp.is_empty() {
        info!(
            instances = vrrp.len(),
            scripts = scripts.len(),
            "vrrp started"
        );
    }

    // systemd (Type=notify-reload): READY after the first convergence, watchdog keep-alives
    // from this loop (so a stuck loop is restarted).
    let sd = systemd::Notifier::from_env();
    let mut watchdog =
        tokio::time::interval(sd.watchdog_period().unwrap_or(Duration::from_secs(3600)));
    watchdog.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

    // Real servers a reload removed: their connections are checked in the kernel every
    // 500 ms (by a spawned request, so the loop never waits on the IPVS task) until they
    // can be deleted.
    let (retire_tx, mut retire_rx) =
        mpsc::channel::<Result<crate::ipvs::backend::Observed, String>>(1);
    let mut retire_tick = tokio::time::interval(Duration::from_millis(500));
    retire_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut retire_pending = false;

    let mut ready = false;
    let mut results = Vec::with_capacity(RESULT_BATCH);
    loop {
        // A reload asked by SIGHUP (None) or by the admin API (its reply).
        let mut reload_asked: Option<Option<oneshot::Sender<admin::ReloadReply>>> = None;
        tokio::select! {
            _ = term.recv() => { info!(signal = "SIGTERM", "stopping"); break; }
            _ = int.recv() => { info!(signal = "SIGINT", "stopping"); break; }
            () = &mut stop => { info!("stopping"); break; }
            _ = hup.recv() => reload_asked = Some(None),
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
                        if changed {
                            drain_file.save(director.drains());
                        }
                        changed
                    });
                    let _ = reply.send(r);
                }
                admin::DaemonRequest::Reload { reply } => reload_asked = Some(Some(reply)),
            },
            Some(ev) = vrrp_rx.recv() => {
                if let Some(d) = vrrp.on_event(&ev) {
                    send(Command::SyncDaemon(d));
                }
            }
            n = res_rx.recv_many(&mut results, RESULT_BATCH) => {
                // Results a reload's stopped tasks left in the channel are not counted.
                results.retain_mut(|r| checkers.route(r));
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
                        vrrp.health(&track_health(&alive, &scripts));
                    }
                }
            }
            Some(r) = script_rx.recv() => {
                if scripts.on_result(r) {
                    vrrp.health(&track_health(&alive, &scripts));
                }
            }
            _ = schedule_tick.tick() => director.report_schedule(),
            _ = retire_tick.tick(), if director.is_retiring() && !retire_pending => {
                retire_pending = true;
                let (ipvs, tx) = (cmd_tx.clone(), retire_tx.clone());
                tokio::spawn(async move {
                    let _ = tx.send(admin::snapshot(&ipvs).await).await;
                });
            }
            Some(observed) = retire_rx.recv() => {
                retire_pending = false;
                if let Some(c) = director.retire(&observed, Instant::now()) {
                    send(c);
                }
            }
            _ = watchdog.tick(), if sd.watchdog_period().is_some() => sd.watchdog(),
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
                        sd.ready(&director.summary_line());
                    }
                }
            }
        }
        if let Some(reply) = reload_asked {
            sd.reloading();
            let outcome = match reload(&path).await {
                Ok(new) => {
                    if new.global.admin_listen != director.cfg.global.admin_listen {
                        admin.abort();
                        admin =
                            tokio::spawn(admin::serve(new.global.admin_listen, admin_ctx.clone()));
                    }
                    if new.global.control_socket != director.cfg.global.control_socket {
                        // The old socket file goes before the new one is made (they may be
                        // the same path under another name).
                        stop_task(control.take()).await;
                        control = control_of(&new);
                    }
                    metrics.ipvs.set_names(status::service_names(&new));
                    // Unchanged servers keep their health, unchanged checks keep running.
                    if let Some(c) = director.reload(new, Instant::now()) {
                        send(c);
                    }
                    // The reload may have dropped drains, or moved the state directory.
                    drain_file.set_dir(director.cfg.global.state_dir.as_deref());
                    drain_file.save(director.drains());
                    let checks =
                        checkers.update(&director.cfg, &director.servers, &res_tx, &metrics);
                    let script_changes = scripts.reload(&director.cfg);
                    let vrrp_changes = vrrp.reload(&director.cfg).await;
                    info!(
                        checks_kept = checks.kept,
                        checks_started = checks.started,
                        checks_stopped = checks.stopped,
                        vrrp_kept = vrrp_changes.kept,
                        vrrp_restarted = vrrp_changes.restarted,
                        scripts_kept = script_changes.kept,
                        scripts_started = script_changes.started,
                        scripts_stopped = script_changes.stopped,
                        "reload applied"
                    );
                    alive = director.services_alive();
                    vrrp.health(&track_health(&alive, &scripts));
                    Ok(admin::Reloaded {
                        checks_kept: checks.kept,
                        checks_started: checks.started,
                        checks_stopped: checks.stopped,
                        vrrp_kept: vrrp_changes.kept,
                        vrrp_restarted: vrrp_changes.restarted,
                    })
                }
                Err(problems) => Err(problems),
            };
            let result = if outcome.is_ok() {
                "success"
            } else {
                "failure"
            };
            metrics
                .config_reloads
                .get_or_create(&ResultLabel { result })
                .inc();
            metrics
                .config_last_reload_successful
                .set(i64::from(outcome.is_ok()));
            if outcome.is_ok() {
                metrics
                    .config_last_reload_success_timestamp_seconds
                    .set(unix_now());
            }
            // READY again either way: a rejected file leaves the old config running.
            // (Before the first convergence, READY still waits for it.)
            let mut line = director.summary_line();
            if outcome.is_err() {
                line.push_str("; last reload rejected");
            }
            if ready {
                sd.ready(&line);
            } else {
                sd.status(&line);
            }
            if let Some(reply) = reply {
                let _ = reply.send(outcome);
            }
        }
    }
    sd.stopping();
    drop(checkers);
    admin.abort();
    stop_task(control.take()).await;
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

/// What the tracking VRRP instances are told: the virtual servers' and scripts' health.
fn track_health(
    alive: &std::collections::BTreeMap<String, bool>,
    scripts: &scripts::Scripts,
) -> std::sync::Arc<crate::vrrp::task::TrackHealth> {
    std::sync::Arc::new(crate::vrrp::task::TrackHealth {
        services: alive.clone(),
        scripts: scripts.states(),
    })
}

/// Aborts a task and waits until it is gone (its drops have run).
async fn stop_task(task: Option<tokio::task::JoinHandle<()>>) {
    if let Some(t) = task {
        t.abort();
        let _ = t.await;
    }
}

/// Stack of the thread that loads a config on reload.
const CONFIG_THREAD_STACK: usize = 32 * 1024 * 1024;

/// Loads and validates the config again. The problems (each logged) if it has any: the
/// running config then stays in force.
async fn reload(path: &Path) -> Result<Config, Vec<String>> {
    let p = path.to_path_buf();
    let (tx, rx) = tokio::sync::oneshot::channel();
    // Parsing recurses once per nesting level: a thread of its own with a stack sized for
    // the deepest file the parser accepts (the blocking pool's 2 MiB overflowed on 64
    // levels in a debug build, and a stack overflow aborts the daemon).
    let spawned = std::thread::Builder::new()
        .name("config".into())
        .stack_size(CONFIG_THREAD_STACK)
        .spawn(move || {
            let _ = tx.send(config::load_file(&p));
        });
    let loaded = match spawned {
        Ok(_) => rx
            .await
            .map_err(|_| "the config thread panicked".to_string()),
        Err(e) => Err(format!("cannot start the config thread: {e}")),
    };
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
            Ok(cfg)
        }
        Ok(Err(e)) => {
            let problems = e.problems();
            for problem in &problems {
                warn!(problem = %problem, "config problem");
            }
            error!(config = %path.display(), "reload rejected; the running config stays in force");
            Err(problems)
        }
        Err(e) => {
            error!(error = %e, "reload task failed; the running config stays in force");
            Err(vec![format!("the reload task failed: {e}")])
        }
    }
}
