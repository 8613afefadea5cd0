//! The status document (`GET /api/v1/status` on the admin API, `ipvsd status`): every
//! virtual server with its real servers' health, last probe results, drain flag and the
//! kernel's weights and connection counts, and every VRRP instance's state.
//!
//! Pure: `build` takes the daemon's state, the kernel dump and the clock as arguments;
//! `render` turns a document (read back from JSON by the CLI) into the table `ipvsd
//! status` prints. The JSON field names are an interface (docs/admin-api.md).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::check::health::Health;
use crate::check::servers::{LastProbe, Servers};
use crate::config::{Config, VrrpInstance};
use crate::controller::{dest_key, initial_health};
use crate::ipvs::backend::Observed;
use crate::ipvs::model::{DestKey, Family, Protocol, ServiceKey, Table, fmt_addr_port};
use crate::vrrp::task::InstanceStatus;

/// Version of the document's layout; bumped on incompatible changes.
pub const SCHEMA: u32 = 1;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Status {
    pub schema: u32,
    pub version: String,
    pub node: String,
    /// Unix time the document was made.
    pub generated_at: f64,
    /// The IPVS table has converged since start (`/readyz`).
    pub ready: bool,
    /// Why the kernel's side (weights, connections) is missing, if it is.
    pub kernel_error: Option<String>,
    pub virtual_servers: Vec<VirtualServerStatus>,
    pub vrrp_instances: Vec<VrrpStatus>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VirtualServerStatus {
    pub name: String,
    /// As ipvsadm names it: `TCP 192.0.2.1:80`, `FWM 3`, `FWM 3 IPv6`.
    pub service: String,
    pub scheduler: String,
    /// Persistence timeout in seconds, if persistent.
    pub persistence_timeout: Option<u32>,
    pub quorum: u32,
    pub quorum_up: bool,
    /// Sum of the weights of the healthy, undrained real servers.
    pub alive_weight: u64,
    pub sorry_server: Option<SorryStatus>,
    /// The service is in the kernel now (None: the kernel could not be read).
    pub in_kernel: Option<bool>,
    pub real_servers: Vec<RealServerStatus>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SorryStatus {
    pub address: String,
    pub active: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RealServerStatus {
    /// `address:port` as in the config (`[2001:db8::1]:80`; the bare address when the port
    /// is 0). The name `ipvsd drain` takes.
    pub address: String,
    pub forwarding: String,
    /// The configured weight.
    pub weight: u32,
    /// `up` or `down`.
    pub health: String,
    /// Unix time of the last health change (None: still in its initial state).
    pub health_since: Option<f64>,
    /// Drained by an operator (`ipvsd drain`): weight 0 until undrained.
    pub drained: bool,
    /// The weight ipvsd wants in the kernel now (None: out of the table, `on_failure:
    /// remove`).
    pub desired_weight: Option<u32>,
    /// The weight the kernel holds (None: not in the kernel, or the kernel could not be read).
    pub kernel_weight: Option<u32>,
    pub active_connections: Option<u32>,
    pub inactive_connections: Option<u32>,
    pub checks: Vec<CheckStatus>,
    /// The most recent failed probe of any of its checks.
    pub last_failure: Option<ProbeFailure>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckStatus {
    /// Type and position, as in metrics: `http#0`.
    pub check: String,
    pub last: Option<ProbeResult>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProbeResult {
    /// `success` or `failure`.
    pub result: String,
    /// The failure reason (`refused`, `timeout`, `http_status`, ...), on failure.
    pub reason: Option<String>,
    pub detail: Option<String>,
    pub latency_seconds: f64,
    /// Unix time the result arrived.
    pub at: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProbeFailure {
    pub check: String,
    pub reason: String,
    pub detail: String,
    pub at: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VrrpStatus {
    pub name: String,
    pub interface: String,
    pub vrid: u8,
    /// `initialize`, `backup`, `master` or `fault`.
    pub state: String,
    /// Unix time it entered `state`.
    pub since: f64,
    /// The priority in force (after tracking), and the configured one.
    pub priority: u8,
    pub base_priority: u8,
    pub virtual_addresses: Vec<String>,
}

/// The daemon's side of the document: what the main task owns.
pub struct DaemonView<'a> {
    pub cfg: &'a Config,
    pub servers: &'a Servers,
    pub drains: &'a BTreeSet<(ServiceKey, DestKey)>,
    /// The desired table last handed to the IPVS task.
    pub desired: Option<&'a Table>,
    /// Whether each service's quorum is met (absent: not computed yet).
    pub quorum_up: BTreeMap<ServiceKey, bool>,
    pub vrrp: Vec<(&'a VrrpInstance, InstanceStatus)>,
    pub ready: bool,
}

/// Now, on both clocks: probe times are monotonic, the document shows Unix times.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    pub mono: Instant,
    pub wall: SystemTime,
}

impl Clock {
    pub fn now() -> Clock {
        Clock {
            mono: Instant::now(),
            wall: SystemTime::now(),
        }
    }

    fn unix(&self, at: Instant) -> f64 {
        let ago = self.mono.saturating_duration_since(at);
        unix(self.wall.checked_sub(ago).unwrap_or(UNIX_EPOCH))
    }
}

fn unix(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// ipvsadm's name of a service: `TCP 192.0.2.1:80`, `FWM 3`, `FWM 3 IPv6`.
pub fn service_text(key: &ServiceKey) -> String {
    match key {
        ServiceKey::Addr {
            protocol,
            addr,
            port,
        } => {
            let p = match protocol {
                Protocol::Tcp => "TCP",
                Protocol::Udp => "UDP",
                Protocol::Sctp => "SCTP",
            };
            format!("{p} {}", fmt_addr_port(addr, *port))
        }
        ServiceKey::Fwmark {
            family: Family::Inet,
            mark,
        } => format!("FWM {mark}"),
        ServiceKey::Fwmark {
            family: Family::Inet6,
            mark,
        } => format!("FWM {mark} IPv6"),
    }
}

fn probe_result(p: &LastProbe, clock: &Clock) -> ProbeResult {
    let (result, reason, detail) = match &p.outcome.result {
        Ok(()) => ("success", None, None),
        Err(f) => (
            "failure",
            Some(f.reason.name().to_string()),
            Some(f.detail.clone()),
        ),
    };
    ProbeResult {
        result: result.into(),
        reason,
        detail,
        latency_seconds: p.outcome.latency.as_secs_f64(),
        at: clock.unix(p.at),
    }
}

/// The whole document.
pub fn build(view: &DaemonView<'_>, kernel: &Result<Observed, String>, clock: &Clock) -> Status {
    let observed = kernel.as_ref().ok();
    let virtual_servers = view
        .cfg
        .virtual_servers
        .iter()
        .map(|vs| {
            let desired = view.desired.and_then(|t| t.services.get(&vs.key));
            let in_kernel = observed.map(|o| o.get(&vs.key));
            let mut alive = 0u64;
            let real_servers = vs
                .real_servers
                .iter()
                .map(|rs| {
                    let key = dest_key(rs);
                    let sv = view.servers.view(vs.key, key);
                    let health = sv.as_ref().map_or_else(|| initial_health(rs), |v| v.health);
                    let drained = view.drains.contains(&(vs.key, key));
                    if health == Health::Up && !drained {
                        alive += u64::from(rs.weight);
                    }
                    let kd = in_kernel.flatten().and_then(|s| s.dests.get(&key));
                    let check_name = |i: usize| {
                        rs.checks
                            .get(i)
                            .map_or_else(String::new, |c| format!("{}#{i}", c.kind.name()))
                    };
                    RealServerStatus {
                        address: key.to_string(),
                        forwarding: rs.forwarding.name().into(),
                        weight: rs.weight,
                        health: health.name().into(),
                        health_since: sv.as_ref().and_then(|v| v.since).map(|t| clock.unix(t)),
                        drained,
                        desired_weight: desired.and_then(|e| e.dests.get(&key)).map(|d| d.weight),
                        kernel_weight: kd.map(|d| d.dest.weight),
                        active_connections: kd.map(|d| d.active_conns),
                        inactive_connections: kd.map(|d| d.inactive_conns),
                        checks: (0..rs.checks.len())
                            .map(|i| CheckStatus {
                                check: check_name(i),
                                last: sv
                                    .as_ref()
                                    .and_then(|v| v.last.get(i))
                                    .and_then(Option::as_ref)
                                    .map(|p| probe_result(p, clock)),
                            })
                            .collect(),
                        last_failure: sv.as_ref().and_then(|v| v.last_failure).map(|(i, f, at)| {
                            ProbeFailure {
                                check: check_name(*i),
                                reason: f.reason.name().into(),
                                detail: f.detail.clone(),
                                at: clock.unix(*at),
                            }
                        }),
                    }
                })
                .collect();
            let sorry_server = vs.sorry_server.as_ref().map(|s| {
                let key = DestKey {
                    addr: s.address,
                    port: s.port,
                };
                SorryStatus {
                    address: key.to_string(),
                    active: desired.is_some_and(|e| e.dests.contains_key(&key)),
                }
            });
            VirtualServerStatus {
                name: vs.name.clone(),
                service: service_text(&vs.key),
                scheduler: vs.scheduler.to_string(),
                persistence_timeout: vs.persistence.as_ref().map(|p| p.timeout),
                quorum: vs.quorum,
                quorum_up: view.quorum_up.get(&vs.key).copied().unwrap_or(true),
                alive_weight: alive,
                sorry_server,
                in_kernel: in_kernel.map(|s| s.is_some()),
                real_servers,
            }
        })
        .collect();
    let vrrp_instances = view
        .vrrp
        .iter()
        .map(|(cfg, st)| VrrpStatus {
            name: cfg.name.clone(),
            interface: cfg.interface.clone(),
            vrid: cfg.vrid,
            state: st.state.as_str().into(),
            since: unix(st.since),
            priority: st.priority,
            base_priority: cfg.priority,
            virtual_addresses: cfg
                .virtual_addresses
                .iter()
                .map(|v| v.address.to_string())
                .collect(),
        })
        .collect();
    Status {
        schema: SCHEMA,
        version: env!("CARGO_PKG_VERSION").into(),
        node: view.cfg.global.node_name.clone(),
        generated_at: unix(clock.wall),
        ready: view.ready,
        kernel_error: kernel.as_ref().err().cloned(),
        virtual_servers,
        vrrp_instances,
    }
}

/// `42s`, `17m`, `5h`, `3d`.
fn ago(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    match s {
        0..120 => format!("{s}s"),
        120..7200 => format!("{}m", s / 60),
        7200..172_800 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "-".into(), |v| v.to_string())
}

/// The table `ipvsd status` prints: ipvsadm -Ln's layout, with the kernel's weight and
/// connection counts, plus health, drain and the last failure; then the VRRP instances.
pub fn render(s: &Status) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "ipvsd {} on {}: {}",
        s.version,
        s.node,
        if s.ready {
            "ready"
        } else {
            "not ready (IPVS not converged yet)"
        }
    );
    if let Some(e) = &s.kernel_error {
        let _ = writeln!(out, "kernel table not read: {e}");
    }
    out.push_str(
        "Prot LocalAddress:Port Scheduler Flags  [name] quorum\n  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn Health Drain Last failure\n",
    );
    for vs in &s.virtual_servers {
        let (proto, rest) = vs.service.split_once(' ').unwrap_or((&vs.service, ""));
        let _ = write!(out, "{proto:<4} {rest} {}", vs.scheduler);
        if let Some(t) = vs.persistence_timeout {
            let _ = write!(out, " persistent {t}");
        }
        let _ = write!(
            out,
            "  [{}] quorum {} (alive weight {}/{})",
            vs.name,
            if vs.quorum_up { "up" } else { "LOST" },
            vs.alive_weight,
            vs.quorum
        );
        if vs.in_kernel == Some(false) {
            out.push_str(" NOT IN KERNEL");
        }
        out.push('\n');
        for rs in &vs.real_servers {
            let fwd = match rs.forwarding.as_str() {
                "nat" => "Masq",
                "dr" => "Route",
                _ => "Tunnel",
            };
            let failure = rs.last_failure.as_ref().map_or(String::new(), |f| {
                let age = ago(s.generated_at - f.at);
                if f.detail.is_empty() {
                    format!("{} {} ({age} ago)", f.check, f.reason)
                } else {
                    format!("{} {}: {} ({age} ago)", f.check, f.reason, f.detail)
                }
            });
            let line = format!(
                "  -> {:<28} {fwd:<7} {:<6} {:<10} {:<10} {:<6} {:<5} {failure}",
                rs.address,
                opt(rs.kernel_weight),
                opt(rs.active_connections),
                opt(rs.inactive_connections),
                rs.health,
                if rs.drained { "yes" } else { "-" },
            );
            let _ = writeln!(out, "{}", line.trim_end());
        }
        if let Some(sorry) = vs.sorry_server.as_ref().filter(|s| s.active) {
            let _ = writeln!(out, "  -> {:<28} sorry server (in)", sorry.address);
        }
    }
    if !s.vrrp_instances.is_empty() {
        out.push_str("VRRP instance        Interface  VRID State      Prio  Virtual addresses\n");
        for v in &s.vrrp_instances {
            let prio = if v.priority == v.base_priority {
                v.priority.to_string()
            } else {
                format!("{}/{}", v.priority, v.base_priority)
            };
            let _ = writeln!(
                out,
                "{:<20} {:<10} {:<4} {:<10} {:<5} {}",
                v.name,
                v.interface,
                v.vrid,
                v.state.to_uppercase(),
                prio,
                v.virtual_addresses.join(" ")
            );
        }
    }
    out
}

/// The `(service, real server)` a drain request names: the virtual server by its config
/// name or ipvsadm-style service text, the real server by `address:port` (or the bare
/// address for port 0).
pub fn find_real_server(
    cfg: &Config,
    virtual_server: &str,
    real_server: &str,
) -> Result<(ServiceKey, DestKey), String> {
    let vs = cfg
        .virtual_servers
        .iter()
        .find(|v| v.name == virtual_server || service_text(&v.key) == virtual_server)
        .ok_or_else(|| {
            let names: Vec<&str> = cfg
                .virtual_servers
                .iter()
                .map(|v| v.name.as_str())
                .collect();
            format!(
                "no virtual server `{virtual_server}` (there are: {})",
                names.join(", ")
            )
        })?;
    let rs = vs
        .real_servers
        .iter()
        .map(dest_key)
        .find(|k| k.to_string() == real_server || k.addr.to_string() == real_server)
        .ok_or_else(|| {
            let names: Vec<String> = vs
                .real_servers
                .iter()
                .map(|r| dest_key(r).to_string())
                .collect();
            format!(
                "virtual server `{}` has no real server `{real_server}` (it has: {})",
                vs.name,
                names.join(", ")
            )
        })?;
    Ok((vs.key, rs))
}

/// Drains that still name a real server of `cfg` (a reload keeps these).
pub fn drains_kept(
    drains: &BTreeSet<(ServiceKey, DestKey)>,
    cfg: &Config,
) -> BTreeSet<(ServiceKey, DestKey)> {
    let present: BTreeSet<(ServiceKey, DestKey)> = cfg
        .virtual_servers
        .iter()
        .flat_map(|vs| vs.real_servers.iter().map(move |rs| (vs.key, dest_key(rs))))
        .collect();
    drains.intersection(&present).copied().collect()
}

/// The operator's drains as the state file keeps them: a comment, then one
/// `SERVICE<TAB>REAL_SERVER` line each, the service as ipvsadm names it (its key: a
/// rename of the virtual server keeps the drain) and the real server as `address:port`.
pub fn drains_text(drains: &BTreeSet<(ServiceKey, DestKey)>) -> String {
    let mut out = String::from("# ipvsd: real servers drained by the operator (ipvsd drain)\n");
    for (svc, rs) in drains {
        let _ = writeln!(out, "{}\t{rs}", service_text(svc));
    }
    out
}

/// The drains a state file names (see [`drains_text`]) that `cfg` has, and a line for
/// each entry it cannot use, for the log: a drain of a real server the config no longer
/// has is dropped, as a reload drops it.
pub fn drains_from_text(
    text: &str,
    cfg: &Config,
) -> (BTreeSet<(ServiceKey, DestKey)>, Vec<String>) {
    let mut drains = BTreeSet::new();
    let mut dropped = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let found = match line.split_once('\t') {
            Some((svc, rs)) => find_real_server(cfg, svc.trim(), rs.trim()),
            None => Err(format!("`{line}` is not SERVICE<TAB>REAL_SERVER")),
        };
        match found {
            Ok(key) => {
                drains.insert(key);
            }
            Err(e) => dropped.push(format!("line {}: {e}", i + 1)),
        }
    }
    (drains, dropped)
}

/// Names for the IPVS statistics' `virtual_server` label.
pub fn service_names(cfg: &Config) -> BTreeMap<ServiceKey, String> {
    cfg.virtual_servers
        .iter()
        .map(|v| (v.key, v.name.clone()))
        .collect()
}

#[cfg(test)]
mod tests;
