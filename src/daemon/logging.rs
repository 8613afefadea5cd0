//! Structured logs to stderr (the journal under systemd), as text or JSON lines.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global subscriber. `filter` was validated with the config (or comes from
/// the command line; an invalid one falls back to `info` with a warning).
pub fn init(format: LogFormat, filter: &str) {
    let (env_filter, bad) = match EnvFilter::builder().parse(filter) {
        Ok(f) => (f, None),
        Err(e) => (EnvFilter::new("info"), Some(e)),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(env_filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    let installed = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
    };
    if installed.is_ok() {
        if let Some(e) = bad {
            tracing::warn!(filter, error = %e, "invalid log filter, using info");
        }
    }
}
