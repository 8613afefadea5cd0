//! `virtual_server`, `virtual_server_group`, `real_server`, the checkers and `SSL` ->
//! `virtual_servers`.
//!
//! Two steps: `parse_vs` reads a virtual server block into plain data (listing what has no
//! equivalent, once), `emit_all` writes one ipvsd virtual server per service it stands for
//! (a group gives one per member), listing what depends on the service (ports, families).

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::time::Duration;

use super::parse::{Loc, Stmt, split_script};
use super::{Ctx, item, origin, parse_ip};
use crate::import::yaml::{Item, Map, Value};
use crate::ipvs::model::{
    Family, Forwarding, Protocol, Scheduler, ServiceKey, TunnelCsum, TunnelType, fmt_addr_port,
};

/// keepalived's `delay_loop` default.
const DEFAULT_DELAY_LOOP: Duration = Duration::from_secs(60);
/// keepalived's `connect_timeout` default.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// ipvsd's limits for checks (docs/config.md).
const MIN_INTERVAL: Duration = Duration::from_millis(100);
const MAX_INTERVAL: Duration = Duration::from_secs(3600);
const MIN_TIMEOUT: Duration = Duration::from_millis(10);
/// Largest group address range expanded into virtual servers.
const MAX_RANGE: u128 = 256;

/// Timers a virtual server or real server passes down to its checkers.
#[derive(Clone, Debug, Default)]
struct Timing {
    delay_loop: Option<(Duration, Loc)>,
    connect_timeout: Option<(Duration, Loc)>,
    retry: Option<u32>,
}

impl Timing {
    /// `self` where set, else `parent`.
    fn over(&self, parent: &Timing) -> Timing {
        Timing {
            delay_loop: self.delay_loop.or(parent.delay_loop),
            connect_timeout: self.connect_timeout.or(parent.connect_timeout),
            retry: self.retry.or(parent.retry),
        }
    }

    /// Handles a timing keyword; false if `s` is not one.
    fn read(&mut self, ctx: &mut Ctx<'_>, s: &Stmt) -> bool {
        match s.keyword() {
            "delay_loop" => {
                if let Some(d) = ctx.timer(s, 1) {
                    self.delay_loop = Some((d, s.loc));
                }
            }
            "connect_timeout" => {
                if let Some(d) = ctx.timer(s, 1) {
                    self.connect_timeout = Some((d, s.loc));
                }
            }
            "retry" | "nb_get_retry" | "nb_sock_retry" => {
                if let Some(v) = ctx.uint(s, 1, 0, u32::MAX.into()) {
                    self.retry = Some(v as u32);
                }
            }
            "delay_before_retry" => ctx.no_equivalent(
                s,
                "ipvsd re-probes a failing server every `interval` (`fall` counts the failures); shorten `interval` for faster detection",
            ),
            "warmup" => ctx.no_equivalent(
                s,
                "ipvsd spreads the first probes of all checks over their interval by itself",
            ),
            _ => return false,
        }
        true
    }
}

#[derive(Clone)]
enum Target {
    Addr(IpAddr, u16),
    Fwmark(u32),
    Group(String),
}

#[derive(Clone)]
pub(super) struct Vs {
    loc: Loc,
    header: String,
    target: Target,
    /// None: keepalived's default, UDP.
    protocol: Option<Protocol>,
    protocol_stmt: Option<Stmt>,
    ip_family: Option<Family>,
    scheduler: Option<Scheduler>,
    flags: Vec<(String, Stmt)>,
    ops: Option<Stmt>,
    forwarding: Option<Forwarding>,
    persistence_timeout: Option<u32>,
    granularity: Option<(String, Stmt)>,
    engine: Option<Stmt>,
    quorum: Option<(u32, Stmt)>,
    hysteresis: Option<u32>,
    inhibit: bool,
    alpha: bool,
    timing: Timing,
    virtualhost: Option<String>,
    weight: Option<u32>,
    sorry: Option<(IpAddr, Option<u16>, Stmt)>,
    sorry_forwarding: Option<Forwarding>,
    snmp_name: Option<String>,
    real_servers: Vec<Rs>,
}

#[derive(Clone)]
struct Rs {
    loc: Loc,
    ip: IpAddr,
    port: Option<u16>,
    weight: Option<u32>,
    forwarding: Option<Forwarding>,
    uthreshold: Option<u32>,
    lthreshold: Option<u32>,
    inhibit: Option<(bool, Loc)>,
    alpha: Option<bool>,
    timing: Timing,
    virtualhost: Option<String>,
    checkers: Vec<Checker>,
}

#[derive(Clone)]
struct Checker {
    loc: Loc,
    keyword: String,
    kind: Kind,
    connect_ip: Option<IpAddr>,
    connect_port: Option<u16>,
    bindto: Option<IpAddr>,
    timing: Timing,
    alpha: bool,
}

#[derive(Clone)]
enum Kind {
    Tcp,
    Http {
        ssl: bool,
        urls: Vec<Url>,
        virtualhost: Option<String>,
        sni_name: Option<String>,
    },
    Dns {
        qtype: Option<String>,
        name: Option<String>,
    },
    Misc {
        argv: Vec<String>,
        timeout: Option<Duration>,
        user: Option<String>,
    },
}

#[derive(Clone)]
struct Url {
    path: String,
    status: Vec<Value>,
    virtualhost: Option<String>,
    regex: Option<String>,
}

/// The top-level `SSL { ca; certificate; key }` block: the files SSL_GET checks use.
#[derive(Default)]
pub(super) struct Ssl {
    ca: Option<String>,
    certificate: Option<String>,
    key: Option<String>,
}

pub(super) fn ssl(ctx: &mut Ctx<'_>, stmts: &[Stmt]) -> Ssl {
    let mut out = Ssl::default();
    for s in stmts.iter().filter(|s| s.keyword() == "SSL") {
        for c in s.children() {
            match c.keyword() {
                "ca" => out.ca = ctx.arg(c, 1).map(str::to_string),
                "certificate" => out.certificate = ctx.arg(c, 1).map(str::to_string),
                "key" => out.key = ctx.arg(c, 1).map(str::to_string),
                "password" => ctx.no_equivalent(
                    c,
                    "ipvsd reads unencrypted PEM keys only: decrypt the key (openssl pkey -in KEY -out KEY.plain)",
                ),
                _ => ctx.unknown(c, "SSL"),
            }
        }
    }
    if out.certificate.is_some() != out.key.is_some() {
        let s = stmts.iter().find(|s| s.keyword() == "SSL").expect("seen");
        ctx.omit_stmt(
            s,
            "a client certificate needs both `certificate` and `key`; the client certificate is not converted",
        );
        out.certificate = None;
        out.key = None;
    }
    out
}

/// One member of a `virtual_server_group`.
#[derive(Clone)]
enum Member {
    Addr(IpAddr, u16, Loc),
    Fwmark(u32, Option<Family>, Loc),
}

pub(super) struct Group {
    members: Vec<Member>,
}

/// Every `virtual_server_group`, by name, its address ranges expanded.
pub(super) fn groups(ctx: &mut Ctx<'_>, stmts: &[Stmt]) -> HashMap<String, Group> {
    let mut out = HashMap::new();
    for s in stmts
        .iter()
        .filter(|s| s.keyword() == "virtual_server_group")
    {
        let Some(name) = ctx.arg(s, 1).map(str::to_string) else {
            continue;
        };
        let mut members = Vec::new();
        for c in s.children() {
            if c.keyword() == "fwmark" {
                let Some(mark) = ctx.uint(c, 1, 1, u32::MAX.into()) else {
                    continue;
                };
                let family = match c.arg(2) {
                    None => None,
                    Some("inet") => Some(Family::Inet),
                    Some("inet6") => Some(Family::Inet6),
                    Some(other) => {
                        ctx.omit(
                            c.loc,
                            "virtual_server_group",
                            format!("fwmark {mark}: unknown family `{other}`; not converted"),
                        );
                        continue;
                    }
                };
                members.push(Member::Fwmark(mark as u32, family, c.loc));
                continue;
            }
            let port = match c.arg(1) {
                None => 0,
                Some(p) => match p.parse::<u16>() {
                    Ok(p) => p,
                    Err(_) => {
                        ctx.omit(
                            c.loc,
                            "virtual_server_group",
                            format!("{}: `{p}` is not a port; not converted", c.keyword()),
                        );
                        continue;
                    }
                },
            };
            match expand_range(c.keyword()) {
                Ok(addrs) => {
                    members.extend(addrs.into_iter().map(|a| Member::Addr(a, port, c.loc)))
                }
                Err(why) => ctx.omit(c.loc, "virtual_server_group", why),
            }
        }
        if out.insert(name.clone(), Group { members }).is_some() {
            ctx.omit_stmt(
                s,
                format!(
                    "virtual_server_group {name} is defined again; this one replaces the first"
                ),
            );
        }
    }
    out
}

/// `192.0.2.1`, `192.0.2.1-10`, `192.0.2.250-192.0.3.10`, `192.0.2.8/29` (and IPv6, where
/// `2001:db8::1-a` ends the last group in hex).
fn expand_range(spec: &str) -> Result<Vec<IpAddr>, String> {
    let bad = || format!("`{spec}` is not an address, range or prefix; not converted");
    let too_big = |n: u128| {
        format!(
            "the range `{spec}` has {n} addresses; more than {MAX_RANGE} are not expanded (one ipvsd virtual server each): not converted"
        )
    };
    if let Some((addr, len)) = spec.split_once('/') {
        let a = parse_ip(addr).ok_or_else(bad)?;
        let len: u32 = len.parse().map_err(|_| bad())?;
        let bits = if a.is_ipv4() { 32 } else { 128 };
        if len == 0 || len > bits {
            return Err(bad());
        }
        let n = 1u128 << (bits - len).min(127);
        if n > MAX_RANGE {
            return Err(too_big(n));
        }
        let start = to_u128(a);
        if start & (n - 1) != 0 {
            return Err(format!(
                "`{spec}`: the address has bits set outside the prefix; not converted"
            ));
        }
        return Ok((0..n).map(|i| from_u128(a, start + i)).collect());
    }
    let Some((first, last)) = spec.split_once('-') else {
        return parse_ip(spec).map(|a| vec![a]).ok_or_else(bad);
    };
    let a = parse_ip(first).ok_or_else(bad)?;
    let end = match parse_ip(last) {
        Some(b) if b.is_ipv4() == a.is_ipv4() => to_u128(b),
        Some(_) => return Err(bad()),
        None => {
            // The last part only: an IPv4 octet (decimal) or an IPv6 group (hex).
            let (v, width) = if a.is_ipv4() {
                (u128::from(last.parse::<u8>().map_err(|_| bad())?), 8)
            } else {
                (
                    u128::from(u16::from_str_radix(last, 16).map_err(|_| bad())?),
                    16,
                )
            };
            (to_u128(a) >> width << width) | v
        }
    };
    let start = to_u128(a);
    if end < start {
        return Err(format!(
            "`{spec}`: the range ends before it starts; not converted"
        ));
    }
    let n = end - start + 1;
    if n > MAX_RANGE {
        return Err(too_big(n));
    }
    Ok((0..n).map(|i| from_u128(a, start + i)).collect())
}

fn to_u128(a: IpAddr) -> u128 {
    match a {
        IpAddr::V4(v) => u128::from(u32::from(v)),
        IpAddr::V6(v) => u128::from(v),
    }
}

fn from_u128(like: IpAddr, v: u128) -> IpAddr {
    match like {
        IpAddr::V4(_) => IpAddr::from(std::net::Ipv4Addr::from(v as u32)),
        IpAddr::V6(_) => IpAddr::from(std::net::Ipv6Addr::from(v)),
    }
}

fn parse_port(ctx: &mut Ctx<'_>, s: &Stmt, i: usize) -> Option<Option<u16>> {
    match s.arg(i) {
        None => Some(None),
        Some(p) => match p.parse::<u16>() {
            Ok(0) => Some(None),
            Ok(p) => Some(Some(p)),
            Err(_) => {
                ctx.omit_stmt(s, format!("`{p}` is not a port; not converted"));
                None
            }
        },
    }
}

/// `lb_kind`/`lvs_method NAT|DR|TUN [type ipip|gue port N|gre] [nocsum|csum|remcsum]`.
fn forwarding(ctx: &mut Ctx<'_>, s: &Stmt) -> Option<Forwarding> {
    let kind = ctx.arg(s, 1)?;
    match kind {
        "NAT" => return Some(Forwarding::Nat),
        "DR" => return Some(Forwarding::Dr),
        "TUN" => {}
        other => {
            ctx.omit_stmt(s, format!("`{other}` is not NAT, DR or TUN; not converted"));
            return None;
        }
    }
    let mut ty = "ipip";
    let mut port = None;
    let mut csum = TunnelCsum::NoCsum;
    let mut i = 2;
    while let Some(w) = s.arg(i) {
        match w {
            "type" => {
                ty = s.arg(i + 1).unwrap_or("");
                i += 2;
            }
            "port" => {
                port = s.arg(i + 1).and_then(|p| p.parse::<u16>().ok());
                i += 2;
            }
            "nocsum" => {
                csum = TunnelCsum::NoCsum;
                i += 1;
            }
            "csum" => {
                csum = TunnelCsum::Csum;
                i += 1;
            }
            "remcsum" => {
                csum = TunnelCsum::RemCsum;
                i += 1;
            }
            other => {
                ctx.omit_stmt(s, format!("unknown tunnel option `{other}`; not converted"));
                return None;
            }
        }
    }
    let kind = match (ty, port) {
        ("ipip", None) => TunnelType::Ipip,
        ("gre", None) => TunnelType::Gre,
        ("gue", Some(p)) if p > 0 => TunnelType::Gue { port: p },
        _ => {
            ctx.omit_stmt(
                s,
                "a tunnel is `type ipip`, `type gre` or `type gue port N`; not converted",
            );
            return None;
        }
    };
    let valid = match kind {
        TunnelType::Ipip => csum == TunnelCsum::NoCsum,
        TunnelType::Gre => csum != TunnelCsum::RemCsum,
        TunnelType::Gue { .. } => true,
    };
    if !valid {
        ctx.omit_stmt(
            s,
            "this checksum option does not exist for this tunnel type; not converted",
        );
        return None;
    }
    Some(Forwarding::Tunnel { kind, csum })
}

/// Reads a `virtual_server` block.
pub(super) fn parse_vs(ctx: &mut Ctx<'_>, s: &Stmt) -> Option<Vs> {
    let header = s.words.join(" ");
    let target = match s.arg(1) {
        Some("group") => Target::Group(ctx.arg(s, 2)?.to_string()),
        Some("fwmark") => {
            let mark = ctx.uint(s, 2, 1, u32::MAX.into())?;
            Target::Fwmark(mark as u32)
        }
        Some(_) => {
            let ip = ctx.ip(s, 1)?;
            let port = parse_port(ctx, s, 2)?;
            Target::Addr(ip, port.unwrap_or(0))
        }
        None => {
            ctx.omit_stmt(
                s,
                "missing address, `fwmark N` or `group NAME`; not converted",
            );
            return None;
        }
    };
    let mut vs = Vs {
        loc: s.loc,
        header,
        target,
        protocol: None,
        protocol_stmt: None,
        ip_family: None,
        scheduler: None,
        flags: Vec::new(),
        ops: None,
        forwarding: None,
        persistence_timeout: None,
        granularity: None,
        engine: None,
        quorum: None,
        hysteresis: None,
        inhibit: false,
        alpha: false,
        timing: Timing::default(),
        virtualhost: None,
        weight: None,
        sorry: None,
        sorry_forwarding: None,
        snmp_name: None,
        real_servers: Vec::new(),
    };
    for c in s.children() {
        if vs.timing.read(ctx, c) {
            continue;
        }
        match c.keyword() {
            "lb_algo" | "lvs_sched" => {
                let Some(name) = ctx.arg(c, 1) else { continue };
                match Scheduler::from_name(name) {
                    Some(sch) => vs.scheduler = Some(sch),
                    None => ctx.omit_stmt(
                        c,
                        format!("`{name}` is not a scheduler ipvsd knows; the default wlc is used"),
                    ),
                }
            }
            "ops" => vs.ops = Some(c.clone()),
            "flag-1" | "flag-2" | "flag-3" | "sh-port" | "sh-fallback" | "mh-port"
            | "mh-fallback" => vs.flags.push((c.keyword().to_string(), c.clone())),
            "hashed" => ctx.no_equivalent(c, "the kernel hashes every service"),
            "lb_kind" | "lvs_method" => {
                if let Some(f) = forwarding(ctx, c) {
                    vs.forwarding = Some(f);
                }
            }
            "persistence_timeout" => {
                if c.arg(1).is_none() {
                    vs.persistence_timeout = Some(360);
                } else if let Some(t) = ctx.uint(c, 1, 1, 86400 * 31) {
                    vs.persistence_timeout = Some(t as u32);
                }
            }
            "persistence_granularity" => {
                if let Some(g) = ctx.arg(c, 1) {
                    vs.granularity = Some((g.to_string(), c.clone()));
                }
            }
            "persistence_engine" => match c.arg(1) {
                Some("sip") => vs.engine = Some(c.clone()),
                _ => ctx.omit_stmt(c, "the only persistence engine is sip; not converted"),
            },
            "protocol" => {
                match c.arg(1).map(str::to_ascii_uppercase).as_deref() {
                    Some("TCP") => vs.protocol = Some(Protocol::Tcp),
                    Some("UDP") => vs.protocol = Some(Protocol::Udp),
                    Some("SCTP") => vs.protocol = Some(Protocol::Sctp),
                    _ => ctx.omit_stmt(c, "not TCP, UDP or SCTP; not converted"),
                }
                vs.protocol_stmt = Some(c.clone());
            }
            "ip_family" => match c.arg(1) {
                Some("inet") => vs.ip_family = Some(Family::Inet),
                Some("inet6") => vs.ip_family = Some(Family::Inet6),
                _ => ctx.omit_stmt(c, "not inet or inet6; not converted"),
            },
            "quorum" => {
                if let Some(q) = ctx.uint(c, 1, 0, u32::MAX.into()) {
                    vs.quorum = Some((q as u32, c.clone()));
                }
            }
            "hysteresis" => {
                if let Some(h) = ctx.uint(c, 1, 0, u32::MAX.into()) {
                    vs.hysteresis = Some(h as u32);
                }
            }
            "inhibit_on_failure" => vs.inhibit = true,
            "alpha" => vs.alpha = true,
            "virtualhost" => vs.virtualhost = ctx.arg(c, 1).map(str::to_string),
            "weight" => {
                if let Some(w) = ctx.uint(c, 1, 1, 65535) {
                    vs.weight = Some(w as u32);
                }
            }
            "snmp_name" => {
                // Used as the virtual server's name when it is one.
                match c.arg(1) {
                    Some(n) if !n.is_empty() && !n.contains(char::is_whitespace) => {
                        vs.snmp_name = Some(n.to_string());
                    }
                    _ => ctx.omit_stmt(
                        c,
                        "not usable as an ipvsd name (empty or with spaces); not converted",
                    ),
                }
            }
            "sorry_server" => {
                let Some(ip) = ctx.ip(c, 1) else { continue };
                let Some(port) = parse_port(ctx, c, 2) else {
                    continue;
                };
                vs.sorry = Some((ip, port, c.clone()));
            }
            "sorry_server_lvs_method" => {
                if let Some(f) = forwarding(ctx, c) {
                    vs.sorry_forwarding = Some(f);
                }
            }
            "sorry_server_inhibit" => {
                ctx.no_equivalent(c, "ipvsd removes the sorry server once quorum is back")
            }
            "real_server" => {
                if let Some(rs) = parse_rs(ctx, c, &vs) {
                    vs.real_servers.push(rs);
                }
            }
            "quorum_up" | "quorum_down" => ctx.no_equivalent(
                c,
                "watch ipvsd_virtual_server_quorum_up in /metrics, or the quorum events in the log",
            ),
            "smtp_alert" => ctx.no_equivalent(c, "ipvsd sends no email"),
            "ha_suspend" => ctx.no_equivalent(
                c,
                "ipvsd checks real servers whether or not the virtual address is on this director",
            ),
            "omega" => ctx.no_equivalent(c, "ipvsd runs no notify programs for real servers"),
            _ => ctx.unknown(c, "virtual_server"),
        }
    }
    if vs.engine.is_some() && vs.persistence_timeout.is_none() && vs.granularity.is_none() {
        let e = vs.engine.take().expect("checked");
        ctx.omit_stmt(
            &e,
            "keepalived uses the engine only on persistent services and this one is not; not converted",
        );
    }
    if vs.real_servers.is_empty() {
        ctx.omit_stmt(
            s,
            "keepalived ignores a virtual server without real servers; not converted",
        );
        return None;
    }
    Some(vs)
}

fn parse_rs(ctx: &mut Ctx<'_>, s: &Stmt, vs: &Vs) -> Option<Rs> {
    let ip = ctx.ip(s, 1)?;
    let port = parse_port(ctx, s, 2)?;
    let mut rs = Rs {
        loc: s.loc,
        ip,
        port,
        weight: None,
        forwarding: None,
        uthreshold: None,
        lthreshold: None,
        inhibit: None,
        alpha: None,
        timing: Timing::default(),
        virtualhost: None,
        checkers: Vec::new(),
    };
    for c in s.children() {
        if rs.timing.read(ctx, c) {
            continue;
        }
        match c.keyword() {
            "weight" => {
                if let Some(w) = ctx.uint(c, 1, 0, 65535) {
                    rs.weight = Some(w as u32);
                }
            }
            "lvs_method" | "lb_kind" => {
                if let Some(f) = forwarding(ctx, c) {
                    rs.forwarding = Some(f);
                }
            }
            "uthreshold" => {
                if let Some(v) = ctx.uint(c, 1, 0, i32::MAX as u64) {
                    rs.uthreshold = Some(v as u32);
                }
            }
            "lthreshold" => {
                if let Some(v) = ctx.uint(c, 1, 0, i32::MAX as u64) {
                    rs.lthreshold = Some(v as u32);
                }
            }
            "inhibit_on_failure" => {
                if let Some(b) = ctx.flag(c, 1) {
                    rs.inhibit = Some((b, c.loc));
                }
            }
            "alpha" => rs.alpha = ctx.flag(c, 1),
            "virtualhost" => rs.virtualhost = ctx.arg(c, 1).map(str::to_string),
            "notify_up" | "notify_down" => ctx.no_equivalent(
                c,
                "ipvsd runs no program when a real server changes state: watch ipvsd_real_server_up in /metrics or the log",
            ),
            "smtp_alert" => ctx.no_equivalent(c, "ipvsd sends no email"),
            "snmp_name" => ctx.no_equivalent(c, "ipvsd has no SNMP"),
            "TCP_CHECK" | "HTTP_GET" | "SSL_GET" | "DNS_CHECK" | "MISC_CHECK" => {
                if let Some(ck) = parse_checker(ctx, c, vs) {
                    rs.checkers.push(ck);
                }
            }
            "SMTP_CHECK" | "UDP_CHECK" | "PING_CHECK" | "BFD_CHECK" | "FILE_CHECK" => ctx
                .no_equivalent(
                    c,
                    "ipvsd checks are tcp, http, https, dns and exec: an exec check running a probe program can replace it",
                ),
            _ => ctx.unknown(c, "real_server"),
        }
    }
    Some(rs)
}

fn parse_checker(ctx: &mut Ctx<'_>, s: &Stmt, vs: &Vs) -> Option<Checker> {
    let keyword = s.keyword().to_string();
    let misc = keyword == "MISC_CHECK";
    let mut ck = Checker {
        loc: s.loc,
        keyword: keyword.clone(),
        kind: Kind::Tcp,
        connect_ip: None,
        connect_port: None,
        bindto: None,
        timing: Timing::default(),
        alpha: false,
    };
    let mut urls = Vec::new();
    let mut virtualhost = None;
    let mut sni_name = None;
    let mut qtype = None;
    let mut qname = None;
    let mut argv: Option<Vec<String>> = None;
    let mut misc_timeout = None;
    let mut user = None;
    let http = keyword == "HTTP_GET" || keyword == "SSL_GET";
    let _ = vs;
    for c in s.children() {
        let k = c.keyword();
        // MISC_CHECK has only the options from alpha on (keepalived.conf(5)).
        let connection = matches!(
            k,
            "connect_ip"
                | "connect_port"
                | "bindto"
                | "bind_if"
                | "bind_port"
                | "fwmark"
                | "connect_timeout"
        );
        if connection && misc {
            ctx.unknown(c, "MISC_CHECK");
            continue;
        }
        if ck.timing.read(ctx, c) {
            continue;
        }
        match k {
            "connect_ip" => ck.connect_ip = ctx.ip(c, 1),
            "connect_port" => {
                ck.connect_port = ctx.uint(c, 1, 1, 65535).map(|p| p as u16);
            }
            "bindto" => ck.bindto = ctx.ip(c, 1),
            "bind_if" | "bind_port" | "fwmark" => ctx.no_equivalent(
                c,
                "ipvsd probes from `source_address` (bindto) only",
            ),
            "alpha" => ck.alpha = ctx.flag(c, 1).unwrap_or(false),
            "log_all_failures" => ctx.no_equivalent(
                c,
                "ipvsd logs state changes; every probe result is in /metrics (ipvsd_check_results_total)",
            ),
            "virtualhost" if http => virtualhost = ctx.arg(c, 1).map(str::to_string),
            "url" if http => {
                if let Some(u) = parse_url(ctx, c) {
                    urls.push(u);
                }
            }
            "http_protocol" if http => {
                if !matches!(c.arg(1), Some("1.1" | "1.0C")) {
                    ctx.omit_stmt(
                        c,
                        "ipvsd always sends HTTP/1.1 requests with `Connection: close`",
                    );
                }
            }
            "enable_sni" if http => {}
            "sni_name" if http => sni_name = ctx.name(c, 1),
            "fast_recovery" if http => ctx.no_equivalent(
                c,
                "ipvsd probes every url (one check each) every interval; set `rise: 1` to come up after one success",
            ),
            "tls_compliant" if http => ctx.no_equivalent(c, ""),
            "type" if keyword == "DNS_CHECK" => {
                qtype = ctx.arg(c, 1).map(str::to_ascii_uppercase);
            }
            "name" if keyword == "DNS_CHECK" => qname = ctx.name(c, 1),
            "misc_path" if misc => match split_script(&c.raw) {
                Ok((words, rest)) if !words.is_empty() => {
                    if !rest.is_empty() {
                        ctx.omit_stmt(
                            c,
                            format!(
                                "`{}` after the command is ignored by keepalived; not converted (quote the whole command)",
                                rest.join(" ")
                            ),
                        );
                    }
                    argv = Some(words);
                }
                Ok(_) => ctx.omit_stmt(c, "missing command; not converted"),
                Err(why) => ctx.omit_stmt(c, format!("{why}; not converted")),
            },
            "misc_timeout" if misc => {
                misc_timeout = ctx
                    .uint(c, 1, 0, 3600)
                    .map(Duration::from_secs)
                    .filter(|d| !d.is_zero());
            }
            "misc_dynamic" if misc => ctx.no_equivalent(
                c,
                "an exec check is up or down; ipvsd does not set weights from exit codes",
            ),
            "user" if misc => {
                user = ctx.name(c, 1);
                if c.words.len() > 2 {
                    ctx.omit_stmt(
                        c,
                        "the group is not converted: ipvsd runs the program with the user's primary group",
                    );
                }
            }
            _ => ctx.unknown(c, &keyword),
        }
    }
    ck.kind = match keyword.as_str() {
        "TCP_CHECK" => Kind::Tcp,
        "HTTP_GET" | "SSL_GET" => {
            if urls.is_empty() {
                ctx.omit_stmt(
                    s,
                    "no `url` with a `path`: keepalived ignores this checker; not converted",
                );
                return None;
            }
            Kind::Http {
                ssl: keyword == "SSL_GET",
                urls,
                virtualhost,
                sni_name,
            }
        }
        "DNS_CHECK" => Kind::Dns { qtype, name: qname },
        _ => {
            let Some(argv) = argv else {
                ctx.omit_stmt(
                    s,
                    "no `misc_path`: keepalived ignores this checker; not converted",
                );
                return None;
            };
            let argv = exec_argv(ctx, s, argv);
            Kind::Misc {
                argv,
                timeout: misc_timeout,
                user,
            }
        }
    };
    Some(ck)
}

/// keepalived finds a relative program on PATH and runs it without a shell, as ipvsd does;
/// ipvsd wants an absolute path, so a relative one goes through /usr/bin/env. Shell syntax
/// in the arguments is listed: neither runs a shell unless the program is one.
pub(super) fn exec_argv(ctx: &mut Ctx<'_>, s: &Stmt, mut argv: Vec<String>) -> Vec<String> {
    let shell = matches!(
        argv[0].rsplit('/').next(),
        Some("sh" | "bash" | "dash" | "ash" | "zsh" | "ksh")
    );
    if !shell {
        let meta: Vec<char> = argv[1..]
            .iter()
            .flat_map(|a| a.chars())
            .filter(|c| "|&;<>$`*?(){}".contains(*c))
            .collect::<HashSet<char>>()
            .into_iter()
            .collect();
        if !meta.is_empty() {
            let mut meta = meta;
            meta.sort_unstable();
            let shown: Vec<String> = meta.iter().map(|c| format!("`{c}`")).collect();
            ctx.omit_stmt(
                s,
                format!(
                    "the arguments contain shell syntax ({}) but no shell runs them (in keepalived either): converted as literal arguments; run `/bin/sh -c '...'` if a shell is meant",
                    shown.join(" ")
                ),
            );
        }
    }
    if !argv[0].starts_with('/') {
        ctx.omit_stmt(
            s,
            format!(
                "`{}` is not an absolute path: converted to run through /usr/bin/env (PATH=/usr/sbin:/usr/bin:/sbin:/bin); write the absolute path",
                argv[0]
            ),
        );
        argv.insert(0, "/usr/bin/env".to_string());
    }
    argv
}

fn parse_url(ctx: &mut Ctx<'_>, s: &Stmt) -> Option<Url> {
    let mut path = None;
    let mut status = Vec::new();
    let mut virtualhost = None;
    let mut regex = None;
    let mut no_match = None;
    for c in s.children() {
        match c.keyword() {
            "path" => {
                let Some(p) = ctx.arg(c, 1) else { continue };
                if !p.starts_with('/') || p.chars().any(|c| c.is_whitespace() || c.is_control()) {
                    ctx.omit_stmt(
                        c,
                        format!("`{p}` is not a path starting with `/` without spaces; the url is not converted"),
                    );
                    return None;
                }
                path = Some(p.to_string());
            }
            "status_code" => {
                for w in &c.words[1..] {
                    let (lo, hi) = w.split_once('-').unwrap_or((w, w));
                    match (lo.parse::<u16>(), hi.parse::<u16>()) {
                        (Ok(lo), Ok(hi)) if (100..=599).contains(&lo) && (lo..=599).contains(&hi) => {
                            status.push(if lo == hi {
                                Value::int(lo)
                            } else {
                                Value::str(format!("{lo}-{hi}"))
                            });
                        }
                        _ => ctx.omit_stmt(
                            c,
                            format!("`{w}` is not a status code or range from 100 to 599; not converted"),
                        ),
                    }
                }
            }
            "virtualhost" => virtualhost = ctx.arg(c, 1).map(str::to_string),
            "digest" => ctx.no_equivalent(
                c,
                "ipvsd does not hash the body; match it with `expect_body` (a regular expression) instead",
            ),
            "regex" => {
                let Some(r) = ctx.arg(c, 1) else { continue };
                match regex::Regex::new(r) {
                    Ok(_) => regex = Some((r.to_string(), c.clone())),
                    Err(_) => ctx.omit_stmt(
                        c,
                        "not a valid regular expression for ipvsd (Rust regex syntax, not PCRE); not converted",
                    ),
                }
            }
            "regex_no_match" => no_match = Some(c.clone()),
            "regex_options" | "regex_stack" | "regex_min_offset" | "regex_max_offset" => {
                ctx.no_equivalent(c, "write the options into the expression, e.g. (?i) for caseless")
            }
            "tls_compliant" => ctx.no_equivalent(c, ""),
            _ => ctx.unknown(c, "url"),
        }
    }
    if let Some(nm) = no_match {
        ctx.omit_stmt(
            &nm,
            "ipvsd's expect_body must match, it cannot be inverted: the regex is not converted",
        );
        if let Some((_, r)) = regex.take() {
            ctx.omit_stmt(&r, "inverted by regex_no_match; not converted");
        }
    }
    let Some(path) = path else {
        ctx.omit_stmt(s, "no `path`: keepalived ignores this url; not converted");
        return None;
    };
    Some(Url {
        path,
        status,
        virtualhost,
        regex: regex.map(|(r, _)| r),
    })
}

// ------------------------------------------------------------------------- emitting

/// Every virtual server, in file order; a group's virtual server gives one per member.
pub(super) fn emit_all(
    ctx: &mut Ctx<'_>,
    services: &[Vs],
    groups: &HashMap<String, Group>,
    ssl: &Ssl,
) -> Vec<Item> {
    let mut items = Vec::new();
    let mut names: Vec<String> = Vec::new();
    let mut keys: HashSet<ServiceKey> = HashSet::new();
    for vs in services {
        let adjusted = keepalived_corrections(ctx, vs, groups);
        let vs = &adjusted;
        let protocol = vs.protocol.unwrap_or(Protocol::Udp);
        let mut concrete: Vec<(ServiceKey, String, String)> = Vec::new();
        match &vs.target {
            Target::Addr(ip, port) => {
                let key = ServiceKey::Addr {
                    protocol,
                    addr: *ip,
                    port: *port,
                };
                let base = vs.snmp_name.clone().unwrap_or_else(|| default_name(&key));
                concrete.push((key, base, origin(ctx, vs.loc, &vs.header)));
            }
            Target::Fwmark(mark) => {
                let key = ServiceKey::Fwmark {
                    family: fwmark_family(vs, None),
                    mark: *mark,
                };
                let base = vs.snmp_name.clone().unwrap_or_else(|| default_name(&key));
                concrete.push((key, base, origin(ctx, vs.loc, &vs.header)));
            }
            Target::Group(g) => {
                let Some(group) = groups.get(g) else {
                    ctx.omit(
                        vs.loc,
                        "virtual_server",
                        format!("there is no virtual_server_group {g}; not converted"),
                    );
                    continue;
                };
                if group.members.is_empty() {
                    ctx.omit(
                        vs.loc,
                        "virtual_server",
                        format!("virtual_server_group {g} has no members; not converted"),
                    );
                }
                let base = vs.snmp_name.clone().unwrap_or_else(|| g.clone());
                for (i, m) in group.members.iter().enumerate() {
                    let (key, loc) = match m {
                        Member::Addr(ip, port, loc) => (
                            ServiceKey::Addr {
                                protocol,
                                addr: *ip,
                                port: *port,
                            },
                            *loc,
                        ),
                        Member::Fwmark(mark, family, loc) => (
                            ServiceKey::Fwmark {
                                family: fwmark_family(vs, *family),
                                mark: *mark,
                            },
                            *loc,
                        ),
                    };
                    let what = format!(
                        "{} ({}:{}): {} ({}:{})",
                        vs.header,
                        ctx.files[vs.loc.file],
                        vs.loc.line,
                        describe_key(&key),
                        ctx.files[loc.file],
                        loc.line
                    );
                    concrete.push((key, format!("{base}-{}", i + 1), what));
                }
            }
        }
        for (key, base, comment) in concrete {
            if !keys.insert(key) {
                ctx.omit(
                    vs.loc,
                    "virtual_server",
                    format!(
                        "{} is already defined by another virtual server; this one is not converted",
                        describe_key(&key)
                    ),
                );
                continue;
            }
            let name = unique(&names, &base);
            if let Some(map) = emit_service(ctx, vs, key, &name, ssl) {
                names.push(name);
                items.push(item(Value::Map(map), comment));
            } else {
                keys.remove(&key);
            }
        }
    }
    items
}

/// What keepalived itself changes in a virtual server before using it
/// (check_data.c, validate_check_config), each listed: no `protocol` on an address service
/// is UDP; a port-0 address that is not persistent is made persistent (360 s); a protocol
/// on a fwmark service is ignored.
fn keepalived_corrections(ctx: &mut Ctx<'_>, vs: &Vs, groups: &HashMap<String, Group>) -> Vs {
    let mut vs = vs.clone();
    let (has_addr, zero_port) = match &vs.target {
        Target::Addr(_, port) => (true, *port == 0),
        Target::Fwmark(_) => (false, false),
        Target::Group(g) => groups.get(g).map_or((false, false), |g| {
            let addrs: Vec<u16> = g
                .members
                .iter()
                .filter_map(|m| match m {
                    Member::Addr(_, port, _) => Some(*port),
                    Member::Fwmark(..) => None,
                })
                .collect();
            (!addrs.is_empty(), addrs.contains(&0))
        }),
    };
    if has_addr && vs.protocol.is_none() && vs.protocol_stmt.is_none() {
        ctx.omit(
            vs.loc,
            "virtual_server",
            "no `protocol`: keepalived uses UDP (its log says \"no protocol set - defaulting to UDP\"), and so does this config; if TCP was meant, write `protocol: tcp`",
        );
    }
    if !has_addr {
        if let Some(p) = &vs.protocol_stmt {
            ctx.omit_stmt(
                p,
                "a fwmark service has no protocol (keepalived ignores it too)",
            );
        }
    }
    let persistent = vs.persistence_timeout.is_some() || vs.granularity.is_some();
    if zero_port && !persistent {
        ctx.omit(
            vs.loc,
            "virtual_server",
            "a service without a port (all ports) must be persistent: keepalived makes it persistent for 360 s, and so does this config",
        );
        vs.persistence_timeout = Some(360);
    }
    vs
}

fn describe_key(key: &ServiceKey) -> String {
    match key {
        ServiceKey::Addr {
            protocol,
            addr,
            port,
        } => format!("{protocol} {}", fmt_addr_port(addr, *port)),
        ServiceKey::Fwmark { family, mark } => format!("fwmark {mark} ({family})"),
    }
}

fn unique(used: &[String], base: &str) -> String {
    if !used.iter().any(|u| u == base) {
        return base.to_string();
    }
    (2..)
        .map(|i| format!("{base}-{i}"))
        .find(|n| !used.contains(n))
        .expect("some suffix is free")
}

/// ipvsd's default name: `tcp/192.0.2.7:80`, `fwmark/3`, `fwmark6/3`.
fn default_name(key: &ServiceKey) -> String {
    match key {
        ServiceKey::Addr {
            protocol,
            addr,
            port,
        } => format!("{protocol}/{}", fmt_addr_port(addr, *port)),
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

/// A fwmark service's family: the member's or `ip_family`, else the family of its first
/// real (or sorry) server that is not tunnelled, else IPv4 (keepalived's rule).
fn fwmark_family(vs: &Vs, member: Option<Family>) -> Family {
    if let Some(f) = member.or(vs.ip_family) {
        return f;
    }
    let default_fwd = vs.forwarding.unwrap_or(Forwarding::Nat);
    vs.real_servers
        .iter()
        .filter(|rs| {
            !matches!(
                rs.forwarding.unwrap_or(default_fwd),
                Forwarding::Tunnel { .. }
            )
        })
        .map(|rs| Family::of(&rs.ip))
        .chain(vs.sorry.as_ref().map(|(ip, _, _)| Family::of(ip)))
        .next()
        .unwrap_or(Family::Inet)
}

/// `forwarding` (and `tunnel` unless it is the default ipip without checksum that would be
/// inherited anyway: a real server of a service with another tunnel gets it written out).
pub(crate) fn push_forwarding(m: &mut Map, f: &Forwarding, parent: Option<&Forwarding>) {
    m.push("forwarding", Value::str(f.name()));
    if let Forwarding::Tunnel { kind, csum } = f {
        let inherits_other = matches!(parent, Some(p @ Forwarding::Tunnel { .. }) if p != f);
        if (*kind, *csum) == (TunnelType::Ipip, TunnelCsum::NoCsum) && !inherits_other {
            return;
        }
        let mut t = Map::new();
        match kind {
            TunnelType::Ipip => {
                t.push("type", Value::str("ipip"));
            }
            TunnelType::Gre => {
                t.push("type", Value::str("gre"));
            }
            TunnelType::Gue { port } => {
                t.push("type", Value::str("gue"));
                t.push("port", Value::int(*port));
            }
        }
        match csum {
            TunnelCsum::NoCsum => {}
            TunnelCsum::Csum => {
                t.push("checksum", Value::str("csum"));
            }
            TunnelCsum::RemCsum => {
                t.push("checksum", Value::str("remcsum"));
            }
        }
        m.push("tunnel", Value::Map(t));
    }
}

/// One ipvsd virtual server for `key`; `None` (listed) when keepalived's would not work.
fn emit_service(ctx: &mut Ctx<'_>, vs: &Vs, key: ServiceKey, name: &str, ssl: &Ssl) -> Option<Map> {
    let family = key.family();
    let svc_port = match key {
        ServiceKey::Addr { port, .. } => port,
        ServiceKey::Fwmark { .. } => 0,
    };
    let persistent = vs.persistence_timeout.is_some() || vs.granularity.is_some();
    let mut m = Map::new();
    m.push("name", Value::str(name));
    match key {
        ServiceKey::Addr {
            protocol,
            addr,
            port,
        } => {
            m.push("address", Value::str(fmt_addr_port(&addr, port)));
            m.push("protocol", Value::str(protocol.to_string()));
        }
        ServiceKey::Fwmark { family, mark } => {
            m.push("fwmark", Value::int(mark));
            if family == Family::Inet6 {
                m.push("family", Value::str("ipv6"));
            }
        }
    }
    let scheduler = vs.scheduler.unwrap_or(Scheduler::Wlc);
    m.push("scheduler", Value::str(scheduler.name()));
    let mut flags = Vec::new();
    for (f, s) in &vs.flags {
        if scheduler.flag_names().contains(&f.as_str()) {
            if !flags.contains(f) {
                flags.push(f.clone());
            }
        } else {
            ctx.omit_stmt(
                s,
                format!(
                    "not a flag of the {scheduler} scheduler (its flags: {}); not converted",
                    scheduler.flag_names().join(", ")
                ),
            );
        }
    }
    if !flags.is_empty() {
        m.push(
            "scheduler_flags",
            Value::seq(flags.into_iter().map(Value::Str)),
        );
    }
    if let Some(ops) = &vs.ops {
        let udp_or_mark = matches!(
            key,
            ServiceKey::Fwmark { .. }
                | ServiceKey::Addr {
                    protocol: Protocol::Udp,
                    ..
                }
        );
        if udp_or_mark {
            m.push("one_packet", Value::Bool(true));
        } else {
            ctx.omit_stmt(
                ops,
                format!(
                    "one-packet scheduling applies to UDP (and fwmark) services, not {}; not converted",
                    describe_key(&key)
                ),
            );
        }
    }
    let fwd = vs.forwarding.unwrap_or(Forwarding::Nat);
    push_forwarding(&mut m, &fwd, None);

    if persistent {
        let mut p = Map::new();
        p.push(
            "timeout",
            Value::duration(Duration::from_secs(
                vs.persistence_timeout.unwrap_or(360).into(),
            )),
        );
        if let Some((g, s)) = &vs.granularity {
            match netmask(g, family) {
                Some(v) => {
                    p.push("netmask", v);
                }
                None => ctx.omit_stmt(
                    s,
                    format!("`{g}` is not a {family} netmask (IPv4: 255.255.255.0, IPv6: a prefix length); not converted"),
                ),
            }
        }
        if vs.engine.is_some() {
            p.push("engine", Value::str("sip"));
        }
        m.push("persistence", Value::Map(p));
    }
    if on_failure_drain(ctx, vs) {
        m.push_commented("on_failure", Value::str("drain"), "inhibit_on_failure");
    } else {
        m.push_commented(
            "on_failure",
            Value::str("remove"),
            "keepalived's default (without inhibit_on_failure)",
        );
    }

    // Real servers first: quorum and the sorry server are checked against them.
    let mut rs_maps: Vec<(Map, Vec<Value>, Loc)> = Vec::new();
    let mut rs_keys: Vec<(IpAddr, u16)> = Vec::new();
    for rs in &vs.real_servers {
        let Some((map, checks, addr)) = emit_rs(ctx, vs, rs, &key, fwd, ssl) else {
            continue;
        };
        if rs_keys.contains(&addr) {
            ctx.omit(
                rs.loc,
                "real_server",
                format!(
                    "{} is already a real server of {}; not converted",
                    fmt_addr_port(&addr.0, addr.1),
                    describe_key(&key)
                ),
            );
            continue;
        }
        rs_keys.push(addr);
        rs_maps.push((map, checks, rs.loc));
    }
    if rs_maps.is_empty() {
        ctx.omit(
            vs.loc,
            "virtual_server",
            format!(
                "{}: no real server could be converted; not converted",
                describe_key(&key)
            ),
        );
        return None;
    }
    let total_weight: u64 = vs
        .real_servers
        .iter()
        .map(|rs| u64::from(rs.weight.or(vs.weight).unwrap_or(1)))
        .sum();
    quorum(ctx, vs, total_weight, &mut m);

    if vs.alpha {
        m.push("initial_state", Value::str("down"));
    }
    if let Some(sorry) = emit_sorry(ctx, vs, &key, svc_port, fwd, &rs_keys) {
        m.push("sorry_server", Value::Map(sorry));
    }

    // The same checks on every real server are written once, for the service.
    let shared = rs_maps
        .first()
        .map(|(_, c, _)| c.clone())
        .filter(|first| !first.is_empty() && rs_maps.iter().all(|(_, c, _)| c == first));
    if let Some(checks) = &shared {
        m.push("checks", Value::seq(checks.iter().cloned()));
    }
    let items: Vec<Item> = rs_maps
        .into_iter()
        .map(|(mut map, checks, _)| {
            if shared.is_none() && !checks.is_empty() {
                map.push("checks", Value::seq(checks));
            }
            Item::new(Value::Map(map))
        })
        .collect();
    m.push("real_servers", Value::Seq(items));
    Some(m)
}

/// `inhibit_on_failure` is per real server in keepalived, per service in ipvsd: the real
/// servers' setting when they agree, else the service's, listing the ones that differ.
fn on_failure_drain(ctx: &mut Ctx<'_>, vs: &Vs) -> bool {
    let each: Vec<(bool, Option<Loc>)> = vs
        .real_servers
        .iter()
        .map(|rs| match rs.inhibit {
            Some((b, loc)) => (b, Some(loc)),
            None => (vs.inhibit, None),
        })
        .collect();
    let chosen = if each.iter().all(|(b, _)| *b == each[0].0) {
        each[0].0
    } else {
        vs.inhibit
    };
    for (b, loc) in each {
        if let (true, Some(loc)) = (b != chosen, loc) {
            ctx.omit(
                loc,
                "inhibit_on_failure",
                format!(
                    "ipvsd has one `on_failure` per virtual server ({}); this real server's setting is not converted",
                    if chosen { "drain" } else { "remove" }
                ),
            );
        }
    }
    chosen
}

/// keepalived loses quorum below `quorum - hysteresis` and regains it at `quorum +
/// hysteresis`; ipvsd loses it below `quorum` and regains it at `quorum + hysteresis`. So
/// keepalived's (q, h) is ipvsd's (q - h, 2h).
fn quorum(ctx: &mut Ctx<'_>, vs: &Vs, total_weight: u64, m: &mut Map) {
    let q = vs.quorum.as_ref().map_or(1, |(q, _)| *q);
    let mut h = vs.hysteresis.unwrap_or(0);
    if h > 0 && h >= q {
        // keepalived's own correction.
        h = q.saturating_sub(1);
    }
    let q2 = q - h;
    let h2 = h * 2;
    if vs.quorum.is_none() && h2 == 0 {
        return;
    }
    if u64::from(q2) > total_weight {
        if let Some((_, s)) = &vs.quorum {
            ctx.omit_stmt(
                s,
                format!(
                    "quorum {q2} can never be met: the real servers' weights add up to {total_weight}; not converted"
                ),
            );
        }
        return;
    }
    if h2 > 0 {
        let note = format!(
            "keepalived: quorum {q}, hysteresis {h} (lost below {q2}, regained at {})",
            q + h
        );
        m.push_commented("quorum", Value::int(q2), note);
        m.push("hysteresis", Value::int(h2));
    } else {
        m.push("quorum", Value::int(q2));
    }
}

fn netmask(g: &str, family: Family) -> Option<Value> {
    match family {
        Family::Inet => g
            .parse::<std::net::Ipv4Addr>()
            .ok()
            .map(|a| Value::str(a.to_string())),
        Family::Inet6 => g
            .parse::<u8>()
            .ok()
            .filter(|n| (1..=128).contains(n))
            .map(Value::int),
    }
}

/// The address ipvsd writes for a real server of `key`, its port, and the port keepalived
/// probed when ipvsd would probe another. keepalived passes a real server's port to the
/// kernel as written, except that a group member takes it from the member unless NAT (port
/// 0 for a fwmark member), ipvsd's real servers without a port take the service's.
fn rs_address(
    ctx: &mut Ctx<'_>,
    rs: &Rs,
    key: &ServiceKey,
    fwd: &Forwarding,
    group: bool,
) -> (String, u16, Option<u16>) {
    let (svc_port, is_mark) = match key {
        ServiceKey::Addr { port, .. } => (*port, false),
        ServiceKey::Fwmark { .. } => (0, true),
    };
    let bare = match rs.ip {
        IpAddr::V4(a) => a.to_string(),
        IpAddr::V6(a) => a.to_string(),
    };
    let nat = *fwd == Forwarding::Nat;
    match rs.port {
        None => (bare, svc_port, None),
        Some(p) if p == svc_port => (bare, svc_port, None),
        Some(p) if nat || (is_mark && !group) => (fmt_addr_port(&rs.ip, p), p, None),
        // keepalived's own rule for groups (it warns that the port is ignored): the same
        // table, the checks keep probing the written port.
        Some(p) if group => (bare, svc_port, Some(p)),
        Some(p) => {
            ctx.omit(
                rs.loc,
                "real_server",
                format!(
                    "port {p} differs from the service's port {svc_port} but {} forwarding does not change ports: the real server is written without it; its checks still probe port {p}",
                    fwd.name()
                ),
            );
            (bare, svc_port, Some(p))
        }
    }
}

/// One real server: its mapping (without checks), its checks, its (address, port).
fn emit_rs(
    ctx: &mut Ctx<'_>,
    vs: &Vs,
    rs: &Rs,
    key: &ServiceKey,
    svc_fwd: Forwarding,
    ssl: &Ssl,
) -> Option<(Map, Vec<Value>, (IpAddr, u16))> {
    let fwd = rs.forwarding.unwrap_or(svc_fwd);
    let tunnelled = matches!(fwd, Forwarding::Tunnel { .. });
    if Family::of(&rs.ip) != key.family() && !tunnelled {
        ctx.omit(
            rs.loc,
            "real_server",
            format!(
                "{} is {} but {} is {}; mixed families need TUN forwarding: not converted",
                rs.ip,
                Family::of(&rs.ip),
                describe_key(key),
                key.family()
            ),
        );
        return None;
    }
    let group = matches!(vs.target, Target::Group(_));
    let (address, port, probe_port) = rs_address(ctx, rs, key, &fwd, group);
    let mut m = Map::new();
    m.push("address", Value::str(address));
    if let Some(w) = rs.weight.or(vs.weight) {
        m.push("weight", Value::int(w));
    }
    let upper = rs.uthreshold.unwrap_or(0);
    let mut lower = rs.lthreshold.unwrap_or(0);
    if upper > 0 && lower > upper {
        ctx.omit(
            rs.loc,
            "lthreshold",
            format!("lthreshold {lower} exceeds uthreshold {upper}; not converted"),
        );
        lower = 0;
    }
    if upper > 0 {
        m.push("upper_threshold", Value::int(upper));
    }
    if lower > 0 {
        m.push("lower_threshold", Value::int(lower));
    }
    if fwd != svc_fwd {
        push_forwarding(&mut m, &fwd, Some(&svc_fwd));
    }
    let alpha = rs.alpha.unwrap_or(vs.alpha) || rs.checkers.iter().any(|c| c.alpha);
    if alpha != vs.alpha {
        m.push(
            "initial_state",
            Value::str(if alpha { "down" } else { "up" }),
        );
    }
    let mut checks = Vec::new();
    for ck in &rs.checkers {
        checks.extend(emit_checks(ctx, vs, rs, ck, port, probe_port, ssl));
    }
    Some((m, checks, (rs.ip, port)))
}

fn emit_sorry(
    ctx: &mut Ctx<'_>,
    vs: &Vs,
    key: &ServiceKey,
    svc_port: u16,
    svc_fwd: Forwarding,
    rs_keys: &[(IpAddr, u16)],
) -> Option<Map> {
    let (ip, port, s) = vs.sorry.as_ref()?;
    if Family::of(ip) != key.family() {
        ctx.omit_stmt(
            s,
            format!(
                "{ip} is {} but {} is {}: ipvsd's sorry server is of the service's family; not converted",
                Family::of(ip),
                describe_key(key),
                key.family()
            ),
        );
        return None;
    }
    let eff_port = port.unwrap_or(svc_port);
    if rs_keys.contains(&(*ip, eff_port)) {
        ctx.omit_stmt(
            s,
            "the sorry server is also a real server; ipvsd needs a different server: not converted",
        );
        return None;
    }
    let mut m = Map::new();
    m.push(
        "address",
        Value::str(match port {
            Some(p) => fmt_addr_port(ip, *p),
            None => ip.to_string(),
        }),
    );
    if let Some(w) = vs.weight {
        m.push("weight", Value::int(w));
    }
    let fwd = vs.sorry_forwarding.unwrap_or(svc_fwd);
    if fwd != svc_fwd {
        push_forwarding(&mut m, &fwd, Some(&svc_fwd));
    }
    Some(m)
}

/// The ipvsd checks of one keepalived checker on one real server (an HTTP_GET with three
/// urls is three checks). `port`: the port ipvsd probes by default; `probe_port`: the port
/// keepalived probed when it differs.
fn emit_checks(
    ctx: &mut Ctx<'_>,
    vs: &Vs,
    rs: &Rs,
    ck: &Checker,
    port: u16,
    probe_port: Option<u16>,
    ssl: &Ssl,
) -> Vec<Value> {
    let timing = ck.timing.over(&rs.timing.over(&vs.timing));
    let (interval, interval_loc) = match timing.delay_loop {
        Some((d, loc)) => (d, Some(loc)),
        None => (DEFAULT_DELAY_LOOP, None),
    };
    let interval = clamp(
        ctx,
        interval,
        MIN_INTERVAL,
        MAX_INTERVAL,
        interval_loc.unwrap_or(ck.loc),
        if interval_loc.is_some() {
            "delay_loop"
        } else {
            &ck.keyword
        },
        "interval",
    );
    let default_retry = match ck.kind {
        Kind::Dns { .. } => 3,
        Kind::Misc { .. } => 0,
        _ => 1,
    };
    let fall = timing
        .retry
        .unwrap_or(default_retry)
        .saturating_add(1)
        .min(1000);
    let timeout = match &ck.kind {
        Kind::Misc { timeout, .. } => timeout.unwrap_or(interval),
        _ => timing
            .connect_timeout
            .map_or(DEFAULT_CONNECT_TIMEOUT, |(d, _)| d),
    };
    let timeout = if timeout > interval {
        let (loc, kw) = match (&ck.kind, timing.connect_timeout) {
            (Kind::Misc { .. }, _) | (_, None) => (ck.loc, ck.keyword.as_str()),
            (_, Some((_, loc))) => (loc, "connect_timeout"),
        };
        ctx.omit(
            loc,
            kw,
            format!(
                "the timeout {} is longer than the interval {} (delay_loop); ipvsd bounds each probe by its interval: timeout {} instead",
                fmt_secs(timeout),
                fmt_secs(interval),
                fmt_secs(interval)
            ),
        );
        interval
    } else {
        timeout.max(MIN_TIMEOUT)
    };

    let mut common = Map::new();
    common.push("interval", Value::duration(interval));
    common.push("timeout", Value::duration(timeout));
    common.push("rise", Value::int(1));
    common.push("fall", Value::int(i64::from(fall)));
    if let Some(ip) = ck.connect_ip {
        common.push("connect_address", Value::str(ip.to_string()));
    }
    let needs_port = !matches!(ck.kind, Kind::Misc { .. });
    let mut connect_port = ck.connect_port.or(probe_port);
    if let (Kind::Dns { .. }, None) = (&ck.kind, connect_port) {
        // keepalived queries the real server's port; ipvsd port 53 unless told.
        if port != 53 && port != 0 {
            connect_port = Some(port);
        }
    }
    if let Some(p) = connect_port {
        common.push("connect_port", Value::int(p));
    }
    if needs_port && connect_port.is_none() && port == 0 {
        ctx.omit(
            ck.loc,
            &ck.keyword,
            format!(
                "the real server {} has no port and the checker no connect_port, so there is nothing to probe (keepalived probes port 0); not converted",
                rs.ip
            ),
        );
        return Vec::new();
    }
    if let Some(ip) = ck.bindto {
        common.push("source_address", Value::str(ip.to_string()));
    }
    let with_type = |ty: &str| {
        let mut m = Map::new();
        m.push("type", Value::str(ty));
        m.entries.extend(common.entries.iter().cloned());
        m
    };
    match &ck.kind {
        Kind::Tcp => vec![Value::Map(with_type("tcp"))],
        Kind::Http {
            ssl: is_ssl,
            urls,
            virtualhost,
            sni_name,
        } => {
            if *is_ssl {
                let why = match &ssl.ca {
                    Some(ca) => format!(
                        "keepalived does not verify the server certificate; ipvsd does, against the SSL block's ca {ca} (and the name in `server_name`/`host`): make sure the real servers' certificates pass"
                    ),
                    None => "keepalived does not verify the server certificate; ipvsd does: converted with `system_roots: true`; for self-signed or private-CA certificates set `ca_file` to the CA (and `server_name` to the name in the certificate)".to_string(),
                };
                ctx.omit(ck.loc, &ck.keyword, why);
            }
            let mut out = Vec::new();
            for u in urls {
                let mut m = with_type(if *is_ssl { "https" } else { "http" });
                m.push("path", Value::str(&u.path));
                let host = u
                    .virtualhost
                    .as_ref()
                    .or(virtualhost.as_ref())
                    .or(rs.virtualhost.as_ref())
                    .or(vs.virtualhost.as_ref());
                if let Some(h) = host {
                    if h.contains(['\r', '\n']) {
                        ctx.omit(
                            ck.loc,
                            "virtualhost",
                            "contains a line break; not converted",
                        );
                    } else {
                        m.push("host", Value::str(h));
                    }
                }
                if !u.status.is_empty() {
                    m.push(
                        "expect_status",
                        Value::Seq(u.status.iter().cloned().map(Item::new).collect()),
                    );
                }
                if let Some(r) = &u.regex {
                    m.push("expect_body", Value::str(r));
                }
                if *is_ssl {
                    match &ssl.ca {
                        Some(ca) => {
                            m.push("ca_file", Value::str(ca));
                        }
                        None => {
                            m.push("system_roots", Value::Bool(true));
                        }
                    }
                    if let (Some(c), Some(k)) = (&ssl.certificate, &ssl.key) {
                        m.push("client_cert", Value::str(c));
                        m.push("client_key", Value::str(k));
                    }
                    if let Some(n) = sni_name {
                        m.push("server_name", Value::str(n));
                    }
                }
                out.push(Value::Map(m));
            }
            out
        }
        Kind::Dns { qtype, name } => {
            let mut m = with_type("dns");
            m.push("query_name", Value::str(name.as_deref().unwrap_or(".")));
            const TYPES: &[&str] = &["A", "AAAA", "CNAME", "MX", "NS", "PTR", "SOA", "SRV", "TXT"];
            let t = match qtype.as_deref() {
                None => "SOA",
                Some(t) if TYPES.contains(&t) => t,
                Some(t) => {
                    ctx.omit(
                        ck.loc,
                        "type",
                        format!("ipvsd does not query {t} records: the check queries SOA (keepalived's default) instead"),
                    );
                    "SOA"
                }
            };
            m.push("query_type", Value::str(t));
            vec![Value::Map(m)]
        }
        Kind::Misc { argv, user, .. } => {
            let mut m = with_type("exec");
            m.push("program", Value::str(&argv[0]));
            if argv.len() > 1 {
                m.push("args", Value::seq(argv[1..].iter().map(Value::str)));
            }
            if let Some(u) = user {
                m.push("user", Value::str(u));
            }
            vec![Value::Map(m)]
        }
    }
}

fn fmt_secs(d: Duration) -> String {
    crate::config::schema::fmt_duration(d)
}

/// Keeps `d` within ipvsd's range, listing a change.
fn clamp(
    ctx: &mut Ctx<'_>,
    d: Duration,
    min: Duration,
    max: Duration,
    loc: Loc,
    keyword: &str,
    what: &str,
) -> Duration {
    let c = d.clamp(min, max);
    if c != d {
        ctx.omit(
            loc,
            keyword,
            format!(
                "{} is outside ipvsd's {what} range ({} to {}): {} instead",
                fmt_secs(d),
                fmt_secs(min),
                fmt_secs(max),
                fmt_secs(c)
            ),
        );
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ips(v: &[IpAddr]) -> Vec<String> {
        v.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn group_ranges_expand_like_keepalived() {
        assert_eq!(
            ips(&expand_range("192.0.2.1-3").unwrap()),
            ["192.0.2.1", "192.0.2.2", "192.0.2.3"]
        );
        assert_eq!(
            ips(&expand_range("192.0.2.254-192.0.3.1").unwrap()),
            ["192.0.2.254", "192.0.2.255", "192.0.3.0", "192.0.3.1"]
        );
        assert_eq!(
            ips(&expand_range("198.51.100.8/30").unwrap()),
            [
                "198.51.100.8",
                "198.51.100.9",
                "198.51.100.10",
                "198.51.100.11"
            ]
        );
        assert_eq!(
            ips(&expand_range("2001:db8::9-b").unwrap()),
            ["2001:db8::9", "2001:db8::a", "2001:db8::b"]
        );
        assert_eq!(ips(&expand_range("2001:db8::1").unwrap()), ["2001:db8::1"]);
        assert!(expand_range("192.0.2.9-3").is_err());
        assert!(expand_range("198.51.100.9/30").is_err());
        assert!(
            expand_range("203.0.113.0/16")
                .unwrap_err()
                .contains("65536 addresses")
        );
        assert!(expand_range("nonsense").is_err());
    }
}
