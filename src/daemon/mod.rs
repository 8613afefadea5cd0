//! The daemon: the only place that wires tasks, signals, reload and shutdown together.
//!
//! Today it loads the config, sets up logging, and supervises signals: SIGTERM/SIGINT stop
//! it cleanly; SIGHUP re-reads and validates the config, keeping the running one if the new
//! one has problems. Checkers, the IPVS task and VRRP join here as they are built.

mod logging;

use std::path::{Path, PathBuf};

use tokio::signal::unix::{SignalKind, signal};
use tracing::{error, info, warn};

use crate::config::{self, Config, LoadError};

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
pub fn run(config_path: &Path, log_override: Option<&str>) -> Result<(), RunError> {
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
    rt.block_on(supervise(config_path.to_path_buf(), cfg))
}

async fn supervise(path: PathBuf, mut cfg: Config) -> Result<(), RunError> {
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
    loop {
        tokio::select! {
            _ = term.recv() => { info!(signal = "SIGTERM", "stopping"); break; }
            _ = int.recv() => { info!(signal = "SIGINT", "stopping"); break; }
            _ = hup.recv() => {
                if let Some(new) = reload(&path).await {
                    cfg = new;
                }
            }
        }
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
