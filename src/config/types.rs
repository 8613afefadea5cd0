//! The typed configuration: what the rest of the daemon reads.
//!
//! Pure data. Every value here has been validated by `schema/`; nothing
//! downstream validates again. Defaults are applied during decoding, so every field holds
//! the value in force. `docs/config.md` documents each field.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use crate::ipvs::model::{Family, Forwarding, Scheduler, ServiceKey};

#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub global: Global,
    pub virtual_servers: Vec<VirtualServer>,
    /// Programs whose exit status VRRP instances track (`track.scripts`).
    pub vrrp_scripts: Vec<VrrpScript>,
    pub vrrp_instances: Vec<VrrpInstance>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Global {
    /// This director's name in logs, metrics and status (default: the host name).
    pub node_name: String,
    /// Admin API and /metrics listener (default 127.0.0.1:9180).
    pub admin_listen: SocketAddr,
    /// Allow `admin_listen` on a non-loopback address.
    pub admin_allow_remote: bool,
    pub log_format: LogFormat,
    /// tracing filter directive, e.g. `info` or `ipvsd=debug`.
    pub log_level: String,
    /// Period of the full reconcile that repairs drift in the kernel table.
    pub reconcile_interval: Duration,
    /// Remove the IPVS services this config owns when the daemon stops (default: leave
    /// them, so a restart is hitless).
    pub remove_rules_on_exit: bool,
    /// How long a real server a reload removed stays at weight 0 so its connections can
    /// finish, at most (it goes as soon as it has no active connection); 0 = at once.
    pub removal_grace: Duration,
    /// User that exec checks run as unless a check names another.
    pub exec_user: String,
    /// Where the daemon keeps what must outlive it (the operator's drains); None: nowhere.
    pub state_dir: Option<std::path::PathBuf>,
    /// The control socket (Unix, mode 0660): the only way to reload, drain and undrain
    /// through the API (default `/run/ipvsd/ipvsd.sock`); None: none, the API is read-only.
    pub control_socket: Option<std::path::PathBuf>,
}

/// What happens to a real server whose checks fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnFailure {
    /// Keep it with weight 0: no new connections, established ones finish.
    Drain,
    /// Delete the destination.
    Remove,
}

/// Health assumed for a real server before its checks have decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitialState {
    Up,
    Down,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Persistence {
    /// Seconds.
    pub timeout: u32,
    /// IPv4: mask in host byte order; IPv6: prefix length. See `ipvs::model::Service`.
    pub netmask: u32,
    /// Persistence engine, e.g. `sip`.
    pub engine: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SorryServer {
    pub address: IpAddr,
    pub port: u16,
    pub forwarding: Forwarding,
    pub weight: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub struct VirtualServer {
    pub name: String,
    pub key: ServiceKey,
    pub scheduler: Scheduler,
    /// IP_VS_SVC_F_SCHED1..3 bits.
    pub scheduler_flags: u32,
    /// One-packet scheduling (`ipvsadm -o`), UDP only.
    pub one_packet: bool,
    pub persistence: Option<Persistence>,
    pub on_failure: OnFailure,
    /// Minimum total weight of healthy real servers; below it the sorry server is used.
    pub quorum: u32,
    /// Quorum is regained only at `quorum + hysteresis`.
    pub hysteresis: u32,
    /// A recovered server's weight ramps up over this time.
    pub slow_start: Option<Duration>,
    pub sorry_server: Option<SorryServer>,
    pub real_servers: Vec<RealServer>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RealServer {
    pub address: IpAddr,
    /// 0 for firewall-mark and port-0 services whose real servers keep the client's port.
    pub port: u16,
    pub weight: u32,
    pub upper_threshold: u32,
    pub lower_threshold: u32,
    pub forwarding: Forwarding,
    pub initial_state: InitialState,
    /// All must pass for the server to be up; empty = always up.
    pub checks: Vec<Check>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Check {
    pub kind: CheckKind,
    pub interval: Duration,
    /// Bounds the whole probe (connect, TLS, complete response, or the process).
    pub timeout: Duration,
    /// Consecutive successes that bring a down server up.
    pub rise: u32,
    /// Consecutive failures that bring an up server down.
    pub fall: u32,
    /// Probe target; defaults to the real server's address and port.
    pub connect_address: Option<IpAddr>,
    pub connect_port: Option<u16>,
    pub source_address: Option<IpAddr>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum CheckKind {
    Tcp,
    Http(HttpCheck),
    Https(HttpCheck, TlsCheck),
    Dns(DnsCheck),
    Exec(ExecCheck),
}

impl CheckKind {
    pub fn name(&self) -> &'static str {
        match self {
            CheckKind::Tcp => "tcp",
            CheckKind::Http(_) => "http",
            CheckKind::Https(..) => "https",
            CheckKind::Dns(_) => "dns",
            CheckKind::Exec(_) => "exec",
        }
    }
}

/// Expected HTTP status codes: inclusive ranges.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusSet(pub Vec<(u16, u16)>);

impl StatusSet {
    pub fn contains(&self, code: u16) -> bool {
        self.0.iter().any(|(lo, hi)| (*lo..=*hi).contains(&code))
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct HttpCheck {
    pub method: String,
    pub path: String,
    pub host: Option<String>,
    pub headers: BTreeMap<String, String>,
    pub expect_status: StatusSet,
    /// Regular expression the body must match (validated at load).
    pub expect_body: Option<String>,
    /// At most this many body bytes are read.
    pub max_body_bytes: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TlsCheck {
    /// PEM bundle of the CAs the server certificate must chain to.
    pub ca_file: Option<PathBuf>,
    /// Also trust the system's roots.
    pub system_roots: bool,
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
    /// Name sent in SNI and checked against the certificate; defaults to `host`, else the
    /// connect address.
    pub server_name: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct DnsCheck {
    pub query_name: String,
    /// Record type, upper case (`A`, `AAAA`, `TXT`, ...).
    pub query_type: String,
    pub protocol: DnsTransport,
    /// A value that must appear among the answers.
    pub expect_answer: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DnsTransport {
    Udp,
    Tcp,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ExecCheck {
    pub program: PathBuf,
    pub args: Vec<String>,
    /// Run as this user; `None` means `global.exec_user`.
    pub user: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct VrrpInstance {
    pub name: String,
    pub interface: String,
    pub vrid: u8,
    pub version: VrrpVersion,
    pub priority: u8,
    /// The virtual addresses are this router's own (priority 255).
    pub address_owner: bool,
    pub advert_interval: Duration,
    pub preempt: bool,
    pub preempt_delay: Duration,
    pub unicast_source: Option<IpAddr>,
    pub unicast_peers: Vec<IpAddr>,
    pub virtual_addresses: Vec<VirtualAddress>,
    pub family: Family,
    pub track_interfaces: Vec<TrackInterface>,
    pub track_virtual_servers: Vec<TrackVirtualServer>,
    pub track_scripts: Vec<TrackScript>,
    pub sync_group: Option<String>,
    pub notify: Option<Notify>,
    /// VRRPv2 simple password (interoperability only; no security).
    pub auth_password: Option<String>,
    pub garp: Garp,
    pub ipvs_sync: Option<IpvsSync>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VrrpVersion {
    V2,
    V3,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VirtualAddress {
    pub address: IpAddr,
    pub prefix_len: u8,
    pub device: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackInterface {
    pub name: String,
    /// Priority change when the interface is down; 0 = go to FAULT.
    pub weight: i32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackVirtualServer {
    pub name: String,
    /// Priority change when the service has no healthy real server here.
    pub weight: i32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackScript {
    /// A `vrrp_scripts[].name`.
    pub name: String,
    /// Priority change while the script fails; 0 = go to FAULT.
    pub weight: i32,
}

/// A program run every `interval` whose exit status (0: passing) instances track, with
/// rise and fall counts (keepalived's `vrrp_script`). One run serves every instance that
/// tracks it.
#[derive(Clone, Debug, PartialEq)]
pub struct VrrpScript {
    pub name: String,
    /// Program, arguments and user (`None`: `global.exec_user`), as an exec check's.
    pub exec: ExecCheck,
    pub interval: Duration,
    pub timeout: Duration,
    pub rise: u32,
    pub fall: u32,
    /// Failing until it has passed `rise` times (keepalived's `init_fail`); by default it
    /// starts passing.
    pub init_fail: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notify {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub user: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Garp {
    /// Gratuitous ARPs / unsolicited NAs sent on becoming master.
    pub repeat: u32,
    /// Gap between them.
    pub delay: Duration,
    /// Re-announce periodically while master (0 = never).
    pub refresh: Duration,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IpvsSync {
    pub interface: String,
    pub sync_id: u8,
}

// === summaries ===

/// Counts for `check-config`'s one-line summary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Summary {
    pub virtual_servers: usize,
    pub real_servers: usize,
    pub checks: usize,
    pub vrrp_instances: usize,
}

impl Config {
    pub fn summary(&self) -> Summary {
        Summary {
            virtual_servers: self.virtual_servers.len(),
            real_servers: self
                .virtual_servers
                .iter()
                .map(|v| v.real_servers.len())
                .sum(),
            checks: self
                .virtual_servers
                .iter()
                .flat_map(|v| &v.real_servers)
                .map(|r| r.checks.len())
                .sum(),
            vrrp_instances: self.vrrp_instances.len(),
        }
    }
}
