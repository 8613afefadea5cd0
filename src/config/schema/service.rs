//! `virtual_servers`: services, their real servers and sorry server.
//!
//! Pure. See `docs/config.md` for the meaning and default of each key.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use super::Env;
use super::check;
use super::scalar;
use crate::config::node::{Diags, Loc, MapReader, Node, Path};
use crate::config::types::{
    InitialState, OnFailure, Persistence, RealServer, SorryServer, VirtualServer,
};
use crate::ipvs::model::{
    Family, Forwarding, Protocol, Scheduler, ServiceKey, TunnelCsum, TunnelType, svc_flags,
};

const VS_KEYS: &[&str] = &[
    "name",
    "address",
    "protocol",
    "fwmark",
    "family",
    "scheduler",
    "scheduler_flags",
    "one_packet",
    "forwarding",
    "tunnel",
    "persistence",
    "on_failure",
    "quorum",
    "hysteresis",
    "slow_start",
    "initial_state",
    "sorry_server",
    "checks",
    "real_servers",
];
const RS_KEYS: &[&str] = &[
    "address",
    "weight",
    "upper_threshold",
    "lower_threshold",
    "forwarding",
    "tunnel",
    "initial_state",
    "checks",
];
const SORRY_KEYS: &[&str] = &["address", "forwarding", "tunnel", "weight"];
const PERSISTENCE_KEYS: &[&str] = &["timeout", "netmask", "engine"];
const TUNNEL_KEYS: &[&str] = &["type", "port", "checksum"];

pub const MAX_WEIGHT: i128 = 65535;
pub const MAX_THRESHOLD: i128 = i32::MAX as i128;
/// ipvsadm's limit for persistence timeouts: 31 days.
const MAX_PERSISTENCE: Duration = Duration::from_secs(86400 * 31);
/// ipvsadm's default persistence timeout (IPVS_SVC_PERSISTENT_TIMEOUT).
const DEFAULT_PERSISTENCE: u32 = 360;

pub fn decode_all(node: &Node, path: &Path, env: &dyn Env, d: &mut Diags) -> Vec<VirtualServer> {
    let Some(items) = scalar::list(node, path, d) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut keys: HashMap<ServiceKey, usize> = HashMap::new();
    let mut names: HashMap<String, usize> = HashMap::new();
    for (i, item) in items.iter().enumerate() {
        let p = path.index(i);
        let Some((vs, key_loc, name_loc)) = decode_one(item, &p, env, d) else {
            continue;
        };
        if let Some(first) = keys.insert(vs.key, i) {
            let field = match vs.key {
                ServiceKey::Addr { .. } => "address",
                ServiceKey::Fwmark { .. } => "fwmark",
            };
            d.push(
                key_loc,
                &p.key(field),
                format!(
                    "service {} is already defined by virtual_servers[{first}]",
                    vs.key
                ),
            );
        } else if let Some(first) = names.insert(vs.name.clone(), i) {
            // (A repeated service usually repeats its default name: one report is enough.)
            d.push(
                name_loc,
                &p.key("name"),
                format!(
                    "name `{}` is already used by virtual_servers[{first}]",
                    vs.name
                ),
            );
        }
        out.push(vs);
    }
    out
}

/// Returns the service and the locations of its key and name, for duplicate reports.
fn decode_one(
    node: &Node,
    path: &Path,
    env: &dyn Env,
    d: &mut Diags,
) -> Option<(VirtualServer, Loc, Loc)> {
    let mut m = MapReader::new(node, path, d)?;
    // An invalid key does not stop decoding: the rest of the service is still checked
    // (skipping what depends on the key), so every problem is reported.
    let (key, key_loc) = match service_key(&mut m, path, d) {
        Some((k, loc)) => (Some(k), loc),
        None => (None, m.loc),
    };
    let family = key.map(|k| k.family());

    let name_node = m.get("name");
    let name = match (name_node, &key) {
        (Some(n), _) => scalar::name(n, &path.key("name"), d),
        (None, Some(k)) => Some(default_name(k)),
        (None, None) => None,
    };
    let name_loc = name_node.map_or(key_loc, |n| n.loc);

    let scheduler = match m.get("scheduler") {
        Some(n) => {
            let p = path.key("scheduler");
            let names: Vec<&str> = Scheduler::ALL.iter().map(|s| s.name()).collect();
            scalar::one_of(n, &p, d, &names).and_then(Scheduler::from_name)
        }
        None => Some(Scheduler::Wlc),
    };
    let scheduler_flags = match (m.get("scheduler_flags"), scheduler) {
        (Some(n), Some(s)) => sched_flags(n, &path.key("scheduler_flags"), s, d),
        (Some(_), None) => None,
        (None, _) => Some(0),
    };
    let one_packet = match m.get("one_packet") {
        Some(n) => {
            let p = path.key("one_packet");
            let v = scalar::boolean(n, &p, d);
            if v == Some(true)
                && matches!(key, Some(ServiceKey::Addr { protocol, .. }) if protocol != Protocol::Udp)
            {
                d.push(
                    n.loc,
                    &p,
                    "one-packet scheduling applies to UDP services only",
                );
            }
            v
        }
        None => Some(false),
    };
    let forwarding = forwarding(&mut m, path, Forwarding::Dr, d);
    let persistence = match m.get("persistence") {
        Some(n) => persistence(n, &path.key("persistence"), family, d).map(Some),
        None => Some(None),
    };
    if let (Some(ServiceKey::Addr { port: 0, .. }), Some(None)) = (key, &persistence) {
        d.push(
            key_loc,
            &path.key("address"),
            "a port-0 service (all ports) must be persistent: add `persistence`",
        );
    }
    let on_failure = match m.get("on_failure") {
        Some(n) => scalar::one_of(n, &path.key("on_failure"), d, &["drain", "remove"]).map(|s| {
            if s == "remove" {
                OnFailure::Remove
            } else {
                OnFailure::Drain
            }
        }),
        // A hashing scheduler sends a client to the server its hash names, and to none if
        // that one has weight 0 (sh and mh unless their fallback flag is set; dh always):
        // draining would refuse those clients, so by default a failed server is removed
        // and its clients are hashed onto the others.
        None => Some(match (scheduler, scheduler_flags) {
            (Some(Scheduler::Dh), _) => OnFailure::Remove,
            (Some(Scheduler::Sh | Scheduler::Mh), Some(f)) if f & svc_flags::SCHED1 == 0 => {
                OnFailure::Remove
            }
            _ => OnFailure::Drain,
        }),
    };
    let quorum_node = m.get("quorum");
    let quorum = match quorum_node {
        Some(n) => scalar::int(n, &path.key("quorum"), d, 0, u32::MAX.into()),
        None => Some(1),
    };
    let hysteresis = match m.get("hysteresis") {
        Some(n) => scalar::int(n, &path.key("hysteresis"), d, 0, u32::MAX.into()),
        None => Some(0),
    };
    let slow_start = match m.get("slow_start") {
        Some(n) => scalar::duration_in(
            n,
            &path.key("slow_start"),
            d,
            Duration::ZERO,
            Duration::from_secs(3600),
        )
        .map(|v| (!v.is_zero()).then_some(v)),
        None => Some(None),
    };
    let initial_state = match m.get("initial_state") {
        Some(n) => initial_state(n, &path.key("initial_state"), d),
        None => Some(InitialState::Up),
    };
    let default_checks = match m.get("checks") {
        Some(n) => check::decode_list(n, &path.key("checks"), env, d),
        None => Some(Vec::new()),
    };
    let service_port = match key {
        Some(ServiceKey::Addr { port, .. }) => port,
        _ => 0,
    };

    let mut real_servers = Vec::new();
    let mut rs_locs: HashMap<(IpAddr, u16), usize> = HashMap::new();
    if let (Some(n), Some(fwd), Some(init), Some(checks)) = (
        m.get("real_servers"),
        forwarding,
        initial_state,
        default_checks.as_ref(),
    ) {
        let rs_path = path.key("real_servers");
        if let Some(items) = scalar::list(n, &rs_path, d) {
            for (i, item) in items.iter().enumerate() {
                let p = rs_path.index(i);
                let defaults = RsDefaults {
                    key: key.as_ref(),
                    port: service_port,
                    forwarding: fwd,
                    initial_state: init,
                    checks,
                };
                let Some(rs) = real_server(item, &p, &defaults, env, d) else {
                    continue;
                };
                if let Some(first) = rs_locs.insert((rs.address, rs.port), i) {
                    d.push(
                        item.loc,
                        &p,
                        format!(
                            "real server {} is already listed as real_servers[{first}]",
                            crate::ipvs::model::fmt_addr_port(&rs.address, rs.port)
                        ),
                    );
                }
                real_servers.push(rs);
            }
        }
    }

    let sorry_server = match (m.get("sorry_server"), forwarding) {
        (Some(n), Some(fwd)) => {
            let p = path.key("sorry_server");
            let s = sorry(n, &p, family, service_port, fwd, d);
            if let Some(s) = &s {
                if let Some(i) = rs_locs.get(&(s.address, s.port)) {
                    d.push(
                        n.loc,
                        &p,
                        format!("the sorry server is also real_servers[{i}]; it must be a different server"),
                    );
                }
            }
            s.map(Some)
        }
        (Some(_), None) => None,
        (None, _) => Some(None),
    };

    if let (Some(q), Some(n)) = (quorum, quorum_node) {
        let total: u64 = real_servers.iter().map(|r| u64::from(r.weight)).sum();
        if !real_servers.is_empty() && u64::from(q) > total {
            d.push(
                n.loc,
                &path.key("quorum"),
                format!("quorum {q} can never be met: the real servers' weights add up to {total}"),
            );
        }
    }

    m.finish(d, VS_KEYS);
    let vs = VirtualServer {
        name: name?,
        key: key?,
        scheduler: scheduler?,
        scheduler_flags: scheduler_flags?,
        one_packet: one_packet?,
        persistence: persistence?,
        on_failure: on_failure?,
        quorum: quorum?,
        hysteresis: hysteresis?,
        slow_start: slow_start?,
        sorry_server: sorry_server?,
        real_servers,
    };
    Some((vs, key_loc, name_loc))
}

/// `tcp/192.0.2.7:80`, `fwmark/3`, `fwmark6/3`: the name a service gets when it has none.
fn default_name(key: &ServiceKey) -> String {
    match key {
        ServiceKey::Addr {
            protocol,
            addr,
            port,
        } => format!(
            "{protocol}/{}",
            crate::ipvs::model::fmt_addr_port(addr, *port)
        ),
        ServiceKey::Fwmark {
            family: Family::Inet,
            mark,
        } => format!("fwmark/{mark}"),
        ServiceKey::Fwmark {
            family: Family::Inet6,
            mark,
        } => format!("fwmark6/{mark}"),
    }
}

/// Either `address` (+ `protocol`) or `fwmark` (+ `family`).
fn service_key(m: &mut MapReader<'_>, path: &Path, d: &mut Diags) -> Option<(ServiceKey, Loc)> {
    let address = m.get("address");
    let protocol = m.get("protocol");
    let fwmark = m.get("fwmark");
    let family = m.get("family");
    match (address, fwmark) {
        (Some(_), Some(f)) => {
            d.push(
                f.loc,
                &path.key("fwmark"),
                "a service has either `address` or `fwmark`, not both",
            );
            None
        }
        (None, None) => {
            d.push(m.loc, path, "missing `address` (IP:PORT) or `fwmark`");
            None
        }
        (Some(a), None) => {
            if let Some(f) = family {
                d.push(
                    f.loc,
                    &path.key("family"),
                    "`family` is only for fwmark services; the address gives the family",
                );
            }
            let p = path.key("address");
            let (addr, port) = scalar::addr_port(a, &p, d)?;
            let Some(port) = port else {
                d.push(
                    a.loc,
                    &p,
                    "a service address needs a port (`:0` with persistence for all ports)",
                );
                return None;
            };
            let protocol = match protocol {
                Some(n) => Protocol::from_name(scalar::one_of(
                    n,
                    &path.key("protocol"),
                    d,
                    Protocol::NAMES,
                )?)?,
                None => Protocol::Tcp,
            };
            Some((
                ServiceKey::Addr {
                    protocol,
                    addr,
                    port,
                },
                a.loc,
            ))
        }
        (None, Some(f)) => {
            if let Some(p) = protocol {
                d.push(
                    p.loc,
                    &path.key("protocol"),
                    "a fwmark service has no protocol: the firewall rule that sets the mark decides",
                );
            }
            let mark = scalar::int(f, &path.key("fwmark"), d, 1, u32::MAX.into())?;
            let family = match family {
                Some(n) => match scalar::one_of(n, &path.key("family"), d, &["ipv4", "ipv6"])? {
                    "ipv6" => Family::Inet6,
                    _ => Family::Inet,
                },
                None => Family::Inet,
            };
            Some((ServiceKey::Fwmark { family, mark }, f.loc))
        }
    }
}

fn sched_flags(node: &Node, path: &Path, scheduler: Scheduler, d: &mut Diags) -> Option<u32> {
    let names = scheduler.flag_names();
    let mut bits = 0;
    let mut ok = true;
    for (i, item) in scalar::list(node, path, d)?.iter().enumerate() {
        let p = path.index(i);
        let Some(s) = scalar::string(item, &p, d) else {
            ok = false;
            continue;
        };
        match names.iter().position(|n| *n == s) {
            Some(bit) => bits |= svc_flags::SCHED1 << bit,
            None => {
                d.push(
                    item.loc,
                    &p,
                    format!(
                        "`{s}` is not a flag of the {scheduler} scheduler (its flags: {})",
                        names.join(", ")
                    ),
                );
                ok = false;
            }
        }
    }
    ok.then_some(bits)
}

fn initial_state(node: &Node, path: &Path, d: &mut Diags) -> Option<InitialState> {
    scalar::one_of(node, path, d, &["up", "down"]).map(|s| {
        if s == "down" {
            InitialState::Down
        } else {
            InitialState::Up
        }
    })
}

/// `forwarding` and `tunnel` of a service, real server or sorry server.
fn forwarding(
    m: &mut MapReader<'_>,
    path: &Path,
    default: Forwarding,
    d: &mut Diags,
) -> Option<Forwarding> {
    let kind = match m.get("forwarding") {
        Some(n) => scalar::one_of(n, &path.key("forwarding"), d, &["nat", "dr", "tunnel"]),
        None => Some(default.name()),
    };
    let tunnel = m.get("tunnel");
    let kind = kind?;
    match kind {
        "tunnel" => match tunnel {
            Some(n) => tunnel_params(n, &path.key("tunnel"), d),
            None => Some(match default {
                t @ Forwarding::Tunnel { .. } => t,
                _ => Forwarding::Tunnel {
                    kind: TunnelType::Ipip,
                    csum: TunnelCsum::NoCsum,
                },
            }),
        },
        other => {
            if let Some(n) = tunnel {
                d.push(
                    n.loc,
                    &path.key("tunnel"),
                    format!("`tunnel` settings need `forwarding: tunnel` (forwarding is {other})"),
                );
                return None;
            }
            Some(if other == "nat" {
                Forwarding::Nat
            } else {
                Forwarding::Dr
            })
        }
    }
}

fn tunnel_params(node: &Node, path: &Path, d: &mut Diags) -> Option<Forwarding> {
    let mut m = MapReader::new(node, path, d)?;
    let ty = match m.get("type") {
        Some(n) => scalar::one_of(n, &path.key("type"), d, &["ipip", "gue", "gre"]),
        None => Some("ipip"),
    };
    let port_node = m.get("port");
    let csum_node = m.get("checksum");
    let csum = match csum_node {
        Some(n) => {
            scalar::one_of(n, &path.key("checksum"), d, TunnelCsum::NAMES).map(|s| match s {
                "csum" => TunnelCsum::Csum,
                "remcsum" => TunnelCsum::RemCsum,
                _ => TunnelCsum::NoCsum,
            })
        }
        None => Some(TunnelCsum::NoCsum),
    };
    m.finish(d, TUNNEL_KEYS);
    // Which options each tunnel type takes, as ipvsadm's tunnel_types_v_options table.
    let kind = match ty? {
        "gue" => {
            let Some(pn) = port_node else {
                d.push(
                    node.loc,
                    path,
                    "a gue tunnel needs `port` (the real server's GUE port)",
                );
                return None;
            };
            TunnelType::Gue {
                port: scalar::int(pn, &path.key("port"), d, 1, 65535)?,
            }
        }
        other => {
            if let Some(pn) = port_node {
                d.push(
                    pn.loc,
                    &path.key("port"),
                    format!("`port` is only for gue tunnels, not {other}"),
                );
                return None;
            }
            let csum = csum?;
            if other == "ipip" && csum != TunnelCsum::NoCsum {
                if let Some(n) = csum_node {
                    d.push(
                        n.loc,
                        &path.key("checksum"),
                        "ipip tunnels have no checksum option",
                    );
                }
                return None;
            }
            if other == "gre" && csum == TunnelCsum::RemCsum {
                if let Some(n) = csum_node {
                    d.push(
                        n.loc,
                        &path.key("checksum"),
                        "remcsum is only for gue tunnels",
                    );
                }
                return None;
            }
            if other == "gre" {
                TunnelType::Gre
            } else {
                TunnelType::Ipip
            }
        }
    };
    Some(Forwarding::Tunnel { kind, csum: csum? })
}

fn persistence(
    node: &Node,
    path: &Path,
    family: Option<Family>,
    d: &mut Diags,
) -> Option<Persistence> {
    let mut m = MapReader::new(node, path, d)?;
    let timeout = match m.get("timeout") {
        Some(n) => persistence_timeout(n, &path.key("timeout"), d),
        None => Some(DEFAULT_PERSISTENCE),
    };
    let netmask = match (m.get("netmask"), family) {
        (Some(n), Some(f)) => netmask(n, &path.key("netmask"), f, d),
        (None, Some(Family::Inet)) => Some(u32::MAX),
        (None, Some(Family::Inet6)) => Some(128),
        // The service key is invalid (already reported): nothing to check against.
        (_, None) => None,
    };
    let engine = match m.get("engine") {
        Some(n) => scalar::one_of(n, &path.key("engine"), d, &["sip"]).map(|s| Some(s.to_string())),
        None => Some(None),
    };
    m.finish(d, PERSISTENCE_KEYS);
    Some(Persistence {
        timeout: timeout?,
        netmask: netmask?,
        engine: engine?,
    })
}

fn persistence_timeout(n: &Node, p: &Path, d: &mut Diags) -> Option<u32> {
    let v = scalar::duration_in(n, p, d, Duration::from_secs(1), MAX_PERSISTENCE)?;
    if v.subsec_millis() != 0 {
        d.push(n.loc, p, "the kernel counts persistence in whole seconds");
        return None;
    }
    u32::try_from(v.as_secs()).ok()
}

/// IPv4: a dotted mask or a prefix length, stored as a mask; IPv6: a prefix length.
fn netmask(node: &Node, path: &Path, family: Family, d: &mut Diags) -> Option<u32> {
    use crate::config::node::Value;
    match (family, &node.value) {
        (Family::Inet, Value::Int(_)) => {
            let len: u32 = scalar::int(node, path, d, 0, 32)?;
            Some(u32::MAX.checked_shl(32 - len).unwrap_or(0))
        }
        (Family::Inet, Value::Str(s)) => match s.parse::<std::net::Ipv4Addr>() {
            Ok(a) => Some(u32::from(a)),
            Err(_) => {
                d.push(
                    node.loc,
                    path,
                    format!("`{s}` is not a netmask: write 255.255.255.0 or a prefix length"),
                );
                None
            }
        },
        (Family::Inet6, _) => scalar::int(node, path, d, 1, 128),
        (_, other) => {
            d.push(
                node.loc,
                path,
                format!(
                    "expected a netmask or prefix length, found {}",
                    other.kind()
                ),
            );
            None
        }
    }
}

struct RsDefaults<'a> {
    /// `None` when the service's own key is invalid: checks against it are skipped.
    key: Option<&'a ServiceKey>,
    port: u16,
    forwarding: Forwarding,
    initial_state: InitialState,
    checks: &'a [crate::config::types::Check],
}

fn real_server(
    node: &Node,
    path: &Path,
    defaults: &RsDefaults<'_>,
    env: &dyn Env,
    d: &mut Diags,
) -> Option<RealServer> {
    let mut m = MapReader::new(node, path, d)?;
    let addr = match m.get("address") {
        Some(n) => {
            let p = path.key("address");
            scalar::addr_port(n, &p, d).map(|(a, port)| (a, port.unwrap_or(defaults.port), n.loc))
        }
        None => {
            d.push(node.loc, path, "missing `address`");
            None
        }
    };
    let weight = match m.get("weight") {
        Some(n) => scalar::int(n, &path.key("weight"), d, 0, MAX_WEIGHT),
        None => Some(1),
    };
    let upper = match m.get("upper_threshold") {
        Some(n) => scalar::int(n, &path.key("upper_threshold"), d, 0, MAX_THRESHOLD),
        None => Some(0),
    };
    let lower_node = m.get("lower_threshold");
    let lower = match lower_node {
        Some(n) => scalar::int(n, &path.key("lower_threshold"), d, 0, MAX_THRESHOLD),
        None => Some(0),
    };
    if let (Some(u), Some(l), Some(n)) = (upper, lower, lower_node) {
        if u > 0 && l > u {
            d.push(
                n.loc,
                &path.key("lower_threshold"),
                format!("must not exceed upper_threshold ({l} > {u})"),
            );
        }
    }
    let forwarding = forwarding(&mut m, path, defaults.forwarding, d);
    let initial_state = match m.get("initial_state") {
        Some(n) => initial_state(n, &path.key("initial_state"), d),
        None => Some(defaults.initial_state),
    };
    let checks = match m.get("checks") {
        Some(n) => check::decode_list(n, &path.key("checks"), env, d),
        None => Some(defaults.checks.to_vec()),
    };
    m.finish(d, RS_KEYS);

    let (address, port, addr_loc) = addr?;
    let forwarding = forwarding?;
    let p = path.key("address");
    let family = defaults.key.map(|k| k.family());
    if let Some(f) = family.filter(|f| *f != Family::of(&address)) {
        if !matches!(forwarding, Forwarding::Tunnel { .. }) {
            d.push(
                addr_loc,
                &p,
                format!(
                    "{address} is {} but the service is {f}; mixed families need forwarding: tunnel",
                    Family::of(&address)
                ),
            );
        }
    }
    if let Some(ServiceKey::Addr { port: svc_port, .. }) = defaults.key {
        if port != *svc_port && forwarding != Forwarding::Nat {
            d.push(
                addr_loc,
                &p,
                format!(
                    "port {port} differs from the service port {svc_port}; port mapping needs forwarding: nat"
                ),
            );
        }
    }
    let checks = checks?;
    check::check_targets(&checks, port, path, addr_loc, d);
    Some(RealServer {
        address,
        port,
        weight: weight?,
        upper_threshold: upper?,
        lower_threshold: lower?,
        forwarding,
        initial_state: initial_state?,
        checks,
    })
}

fn sorry(
    node: &Node,
    path: &Path,
    family: Option<Family>,
    service_port: u16,
    default_fwd: Forwarding,
    d: &mut Diags,
) -> Option<SorryServer> {
    let mut m = MapReader::new(node, path, d)?;
    let addr = match m.get("address") {
        Some(n) => scalar::addr_port(n, &path.key("address"), d).map(|(a, p)| (a, p, n.loc)),
        None => {
            d.push(node.loc, path, "missing `address`");
            None
        }
    };
    let weight = match m.get("weight") {
        Some(n) => scalar::int(n, &path.key("weight"), d, 1, MAX_WEIGHT),
        None => Some(1),
    };
    let forwarding = forwarding(&mut m, path, default_fwd, d);
    m.finish(d, SORRY_KEYS);
    let (address, port, loc) = addr?;
    if let Some(f) = family.filter(|f| *f != Family::of(&address)) {
        d.push(
            loc,
            &path.key("address"),
            format!(
                "{address} is {} but the service is {f}",
                Family::of(&address)
            ),
        );
        return None;
    }
    Some(SorryServer {
        address,
        port: port.unwrap_or(service_port),
        forwarding: forwarding?,
        weight: weight?,
    })
}
