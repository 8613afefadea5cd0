//! Decodes the node tree into typed config, checking everything on the way.
//!
//! Pure apart from the `Env` it is handed (host name, whether files exist), so tests can
//! decode configs that name files that are not there. Every problem is recorded with its
//! location and path and decoding goes on, so one run reports them all. Cross-field rules
//! (duplicates, address families, sorry server vs real servers, tracked names) are checked
//! here too, where the nodes and their locations are at hand.

mod check;
mod scalar;
mod service;
mod vrrp;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path as FsPath;
use std::time::Duration;

pub use scalar::{fmt_duration, parse_duration};

use super::node::{Diags, MapReader, Node, Path};
use super::types::{Config, Global, LogFormat};

/// What decoding needs from the machine. `load.rs` has the real one.
pub trait Env {
    fn hostname(&self) -> String;
    /// Where a file named in the config is: relative paths are relative to the config
    /// file's folder.
    fn resolve(&self, path: &FsPath) -> std::path::PathBuf {
        path.to_path_buf()
    }
    /// `Err(reason)` when the file cannot be read.
    fn check_readable(&self, path: &FsPath) -> Result<(), String>;
    /// `Err(reason)` when the program does not exist or is not executable.
    fn check_executable(&self, path: &FsPath) -> Result<(), String>;
}

/// For unit tests: host name `t`, every file readable and every program executable.
#[cfg(test)]
pub(crate) struct NoFiles;

#[cfg(test)]
impl Env for NoFiles {
    fn hostname(&self) -> String {
        "t".into()
    }
    fn check_readable(&self, _: &FsPath) -> Result<(), String> {
        Ok(())
    }
    fn check_executable(&self, _: &FsPath) -> Result<(), String> {
        Ok(())
    }
}

pub const DEFAULT_ADMIN_PORT: u16 = 9180;

const TOP_KEYS: &[&str] = &[
    "global",
    "virtual_servers",
    "vrrp_scripts",
    "vrrp_instances",
];
const GLOBAL_KEYS: &[&str] = &[
    "node_name",
    "admin_listen",
    "admin_allow_remote",
    "log_format",
    "log_level",
    "reconcile_interval",
    "remove_rules_on_exit",
    "removal_grace",
    "exec_user",
    "state_dir",
    "control_socket",
];

/// Decodes a whole document. `Err` holds every problem found.
pub fn decode(root: &Node, env: &dyn Env) -> Result<Config, Diags> {
    let mut d = Diags::default();
    let top = Path::root();
    let Some(mut m) = MapReader::new(root, &top, &mut d) else {
        return Err(d);
    };
    let global = decode_global(m.get("global"), &top.key("global"), env, &mut d);
    let virtual_servers = match m.get("virtual_servers") {
        Some(n) => service::decode_all(n, &top.key("virtual_servers"), env, &mut d),
        None => Vec::new(),
    };
    let vrrp_scripts = match m.get("vrrp_scripts") {
        Some(n) => vrrp::decode_scripts(n, &top.key("vrrp_scripts"), env, &mut d),
        None => Vec::new(),
    };
    let vrrp_instances = match m.get("vrrp_instances") {
        Some(n) => vrrp::decode_all(
            n,
            &top.key("vrrp_instances"),
            &virtual_servers,
            &vrrp_scripts,
            env,
            &mut d,
        ),
        None => Vec::new(),
    };
    m.finish(&mut d, TOP_KEYS);
    match global {
        Some(global) if d.is_empty() => Ok(Config {
            global,
            virtual_servers,
            vrrp_scripts,
            vrrp_instances,
        }),
        _ => Err(d),
    }
}

fn decode_global(node: Option<&Node>, path: &Path, env: &dyn Env, d: &mut Diags) -> Option<Global> {
    let empty = Node {
        value: super::node::Value::Null,
        loc: Default::default(),
    };
    let node = node.unwrap_or(&empty);
    let mut m = MapReader::new(node, path, d)?;
    let node_name = match m.get("node_name") {
        Some(n) => scalar::name(n, &path.key("node_name"), d),
        None => Some(env.hostname()),
    };
    let admin_allow_remote = match m.get("admin_allow_remote") {
        Some(n) => scalar::boolean(n, &path.key("admin_allow_remote"), d),
        None => Some(false),
    };
    let admin_listen = match m.get("admin_listen") {
        Some(n) => admin_listen(
            n,
            &path.key("admin_listen"),
            admin_allow_remote == Some(true),
            d,
        ),
        None => Some(SocketAddr::new(
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            DEFAULT_ADMIN_PORT,
        )),
    };
    let log_format = match m.get("log_format") {
        Some(n) => scalar::one_of(n, &path.key("log_format"), d, &["text", "json"]).map(|s| {
            if s == "json" {
                LogFormat::Json
            } else {
                LogFormat::Text
            }
        }),
        None => Some(LogFormat::Text),
    };
    let log_level = match m.get("log_level") {
        Some(n) => log_level(n, &path.key("log_level"), d),
        None => Some("info".to_string()),
    };
    let reconcile_interval = match m.get("reconcile_interval") {
        Some(n) => scalar::duration_in(
            n,
            &path.key("reconcile_interval"),
            d,
            Duration::from_millis(100),
            Duration::from_secs(3600),
        ),
        None => Some(Duration::from_secs(10)),
    };
    let remove_rules_on_exit = match m.get("remove_rules_on_exit") {
        Some(n) => scalar::boolean(n, &path.key("remove_rules_on_exit"), d),
        None => Some(false),
    };
    let removal_grace = match m.get("removal_grace") {
        Some(n) => scalar::duration_in(
            n,
            &path.key("removal_grace"),
            d,
            Duration::ZERO,
            Duration::from_secs(24 * 3600),
        ),
        None => Some(Duration::from_secs(30)),
    };
    let exec_user = match m.get("exec_user") {
        Some(n) => scalar::name(n, &path.key("exec_user"), d),
        None => Some("nobody".to_string()),
    };
    let state_dir = match m.get("state_dir") {
        Some(n) => state_dir(n, &path.key("state_dir"), d),
        None => Some(Some(std::path::PathBuf::from(DEFAULT_STATE_DIR))),
    };
    let control_socket = match m.get("control_socket") {
        Some(n) => control_socket(n, &path.key("control_socket"), d),
        None => Some(Some(std::path::PathBuf::from(DEFAULT_CONTROL_SOCKET))),
    };
    m.finish(d, GLOBAL_KEYS);
    Some(Global {
        node_name: node_name?,
        admin_listen: admin_listen?,
        admin_allow_remote: admin_allow_remote?,
        log_format: log_format?,
        log_level: log_level?,
        reconcile_interval: reconcile_interval?,
        remove_rules_on_exit: remove_rules_on_exit?,
        removal_grace: removal_grace?,
        exec_user: exec_user?,
        state_dir: state_dir?,
        control_socket: control_socket?,
    })
}

/// Where the state lives unless `global.state_dir` says otherwise (systemd's
/// `StateDirectory=ipvsd`).
pub const DEFAULT_STATE_DIR: &str = "/var/lib/ipvsd";

/// An absolute directory, or `none` (keep nothing across restarts).
fn state_dir(node: &Node, path: &Path, d: &mut Diags) -> Option<Option<std::path::PathBuf>> {
    let s = scalar::nonempty_string(node, path, d)?;
    if s == "none" {
        return Some(None);
    }
    if !s.starts_with('/') {
        d.push(
            node.loc,
            path,
            format!("must be an absolute directory or `none`, not `{s}`"),
        );
        return None;
    }
    Some(Some(std::path::PathBuf::from(s)))
}

/// The control socket unless `global.control_socket` says otherwise (systemd's
/// `RuntimeDirectory=ipvsd`).
pub const DEFAULT_CONTROL_SOCKET: &str = "/run/ipvsd/ipvsd.sock";

/// Longest socket path: `sun_path` holds 108 bytes with the terminating NUL.
const MAX_SOCKET_PATH: usize = 107;

/// An absolute path a Unix socket can be bound at, or `none` (no control socket).
fn control_socket(node: &Node, path: &Path, d: &mut Diags) -> Option<Option<std::path::PathBuf>> {
    let s = scalar::nonempty_string(node, path, d)?;
    if s == "none" {
        return Some(None);
    }
    if !s.starts_with('/') || s.ends_with('/') {
        d.push(
            node.loc,
            path,
            format!("must be the absolute path of a socket file, or `none`, not `{s}`"),
        );
        return None;
    }
    if s.len() > MAX_SOCKET_PATH {
        d.push(
            node.loc,
            path,
            format!(
                "is {} bytes long; a Unix socket path has at most {MAX_SOCKET_PATH}",
                s.len()
            ),
        );
        return None;
    }
    Some(Some(std::path::PathBuf::from(s)))
}

fn admin_listen(node: &Node, path: &Path, allow_remote: bool, d: &mut Diags) -> Option<SocketAddr> {
    let (addr, port) = scalar::addr_port(node, path, d)?;
    let addr = SocketAddr::new(addr, port.unwrap_or(DEFAULT_ADMIN_PORT));
    if !addr.ip().is_loopback() && !allow_remote {
        d.push(
            node.loc,
            path,
            format!(
                "{} is not a loopback address; the admin API shows every service, real \
                 server and its health, so set `admin_allow_remote: true` to expose it",
                addr.ip()
            ),
        );
        return None;
    }
    Some(addr)
}

fn log_level(node: &Node, path: &Path, d: &mut Diags) -> Option<String> {
    let s = scalar::nonempty_string(node, path, d)?;
    match tracing_subscriber::EnvFilter::builder().parse(&s) {
        Ok(_) => Some(s),
        Err(e) => {
            d.push(
                node.loc,
                path,
                format!("`{s}` is not a log filter such as `info` or `ipvsd=debug` ({e})"),
            );
            None
        }
    }
}
