//! The daemon: the only place that wires tasks, signals, reload and shutdown together.
//!
//! It loads the config, sets up logging, starts the IPVS task (its own thread, owning the
//! netlink socket) with the desired table, and supervises signals: SIGTERM/SIGINT stop it
//! cleanly (IPVS rules stay unless `remove_rules_on_exit`); SIGHUP re-reads and validates
//! the config, keeping the running one if the new one has problems, and hands the new
//! desired table to the IPVS task. Checkers and VRRP join here as they are built.

mod logging;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;
use tracing::{debug, error, info, warn};

use crate::cli::IpvsBackend;
use crate::config::{self, Config, LoadError};
use crate::controller;
use crate::ipvs::backend::{Backend, MemoryBackend};
use crate::ipvs::model::ServiceKey;
use crate::ipvs::netlink::NetlinkBackend;
use crate::ipvs::task::{self, Command, Connect, Event};

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
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
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

/// The services a config owns.
fn owned(cfg: &Config) -> BTreeSet<ServiceKey> {
    cfg.virtual_servers.iter().map(|v| v.key).collect()
}

async fn supervise(path: PathBuf, mut cfg: Config, backend: IpvsBackend) -> Result<(), RunError> {
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
    let ipvs = std::thread::Builder::new()
        .name("ipvs".into())
        .spawn(move || {
            task::run(connector(backend), cmd_rx, interval, |e| {
                let _ = ev_tx.try_send(e);
            })
        })
        .map_err(|source| RunError::Setup {
            what: "the ipvs thread",
            source,
        })?;
    let desired = |cfg: &Config, owned: BTreeSet<ServiceKey>| Command::Desired {
        table: controller::configured_table(cfg),
        owned,
    };
    // The task lives as long as this function, so a send only fails if it panicked.
    let send = |c: Command| {
        if cmd_tx.send(c).is_err() {
            error!("the ipvs task has stopped");
        }
    };
    send(desired(&cfg, owned(&cfg)));

    let mut ready = false;
    loop {
        tokio::select! {
            _ = term.recv() => { info!(signal = "SIGTERM", "stopping"); break; }
            _ = int.recv() => { info!(signal = "SIGINT", "stopping"); break; }
            _ = hup.recv() => {
                if let Some(new) = reload(&path).await {
                    // Services dropped by the new config are still ours to delete.
                    let mut keys = owned(&cfg);
                    keys.extend(owned(&new));
                    send(desired(&new, keys));
                    cfg = new;
                }
            }
            Some(ev) = ev_rx.recv() => {
                let Event::Converged { writes, repairs, converged } = ev;
                debug!(writes, repairs, converged, "ipvs reconciled");
                if converged && !ready {
                    ready = true;
                    info!(writes, "ipvs table converged");
                }
            }
        }
    }
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
