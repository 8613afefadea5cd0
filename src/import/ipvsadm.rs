//! `ipvsd import ipvsadm`: `ipvsadm -S -n` (ipvsadm-save) output -> ipvsd YAML.
//!
//! Pure. The inverse of `ipvs::save`: `-A` lines become virtual servers, `-a` lines their
//! real servers. Long option spellings (`--tcp-service`, `--weight`, ...) are read too, so
//! hand-edited rule files work. Rules carry no health checks, so the config has none: every
//! real server is always up, as it was under ipvsadm. Converting back (`ipvsd run
//! --dry-run`) gives the same rules in ipvsadm's order, with these normalizations: services
//! sorted as ipvsadm lists them and real servers by address and port; long options written
//! short; `-p` without a value written `-p 360`; a per-client netmask (`-M 255.255.255.255`,
//! `-M 128`), `-x 0 -y 0` and `--tun-nocsum` on ipip tunnels left out; `--tun-type ipip`
//! written for every ipip tunnel and the checksum option for every gue and gre tunnel.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use super::yaml::{self, Item, Map, Value};
use super::{Conversion, ImportError, Omission};
use crate::ipvs::model::{
    Family, Forwarding, Protocol, Scheduler, ServiceKey, TunnelCsum, TunnelType, fmt_addr_port,
};

#[derive(Clone, Debug)]
struct Service {
    line: u32,
    key: ServiceKey,
    scheduler: Scheduler,
    flags: Vec<String>,
    one_packet: bool,
    persistence: Option<u32>,
    netmask: Option<String>,
    pe: Option<String>,
    dests: Vec<Dest>,
}

#[derive(Clone, Debug)]
struct Dest {
    line: u32,
    addr: IpAddr,
    port: u16,
    forwarding: Forwarding,
    weight: u32,
    upper: u32,
    lower: u32,
}

/// What one line says.
#[derive(Default)]
struct Line {
    add_service: bool,
    key: Option<ServiceKey>,
    ipv6: bool,
    scheduler: Option<String>,
    persistent: Option<u32>,
    netmask: Option<String>,
    pe: Option<String>,
    one_packet: bool,
    flags: Vec<String>,
    real: Option<(IpAddr, Option<u16>)>,
    method: Option<char>,
    weight: Option<i64>,
    upper: Option<u32>,
    lower: Option<u32>,
    tun_type: Option<String>,
    tun_port: Option<u16>,
    tun_csum: Option<TunnelCsum>,
}

/// Converts ipvsadm save output; `name` is used in messages.
pub fn convert(name: &str, text: &str) -> Result<Conversion, ImportError> {
    let mut services: Vec<Service> = Vec::new();
    let mut index: BTreeMap<ServiceKey, usize> = BTreeMap::new();
    let mut omissions = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let lineno = u32::try_from(i + 1).unwrap_or(u32::MAX);
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let err = |message: String| ImportError::Syntax {
            file: name.to_string(),
            line: lineno,
            message,
        };
        let l = parse_line(line).map_err(err)?;
        let key = fix_family(l.key, l.ipv6).map_err(err)?;
        if l.add_service {
            if l.real.is_some() {
                return Err(err("`-r` belongs to `-a` lines".to_string()));
            }
            let scheduler = match &l.scheduler {
                None => Scheduler::Wlc,
                Some(s) => Scheduler::from_name(s)
                    .ok_or_else(|| err(format!("`{s}` is not a scheduler ipvsd knows")))?,
            };
            let mut svc = Service {
                line: lineno,
                key,
                scheduler,
                flags: Vec::new(),
                one_packet: false,
                persistence: l.persistent,
                netmask: None,
                pe: None,
                dests: Vec::new(),
            };
            service_options(&mut svc, &l, name, &mut omissions);
            if let Some(first) = index.insert(key, services.len()) {
                return Err(err(format!(
                    "{} is already added on line {}",
                    describe(&key),
                    services[first].line
                )));
            }
            services.push(svc);
        } else {
            let Some(&si) = index.get(&key) else {
                return Err(err(format!(
                    "no `-A` line before this one adds {}",
                    describe(&key)
                )));
            };
            let (addr, port) = l
                .real
                .ok_or_else(|| err("an `-a` line needs `-r ADDRESS[:PORT]`".to_string()))?;
            let svc_port = match key {
                ServiceKey::Addr { port, .. } => port,
                ServiceKey::Fwmark { .. } => 0,
            };
            let forwarding = forwarding(&l).map_err(err)?;
            let mut weight = l.weight.unwrap_or(1);
            if !(0..=65535).contains(&weight) {
                omissions.push(Omission {
                    file: name.to_string(),
                    line: lineno,
                    keyword: "-w".to_string(),
                    why: format!("ipvsd weights are 0-65535: {weight} becomes 65535"),
                });
                weight = weight.clamp(0, 65535);
            }
            let d = Dest {
                line: lineno,
                addr,
                port: port.unwrap_or(svc_port),
                forwarding,
                weight: weight as u32,
                upper: l.upper.unwrap_or(0),
                lower: l.lower.unwrap_or(0),
            };
            let svc = &mut services[si];
            if let Some(other) = svc
                .dests
                .iter()
                .find(|o| (o.addr, o.port) == (d.addr, d.port))
            {
                return Err(err(format!(
                    "{} is already a real server of {} (line {})",
                    fmt_addr_port(&d.addr, d.port),
                    describe(&key),
                    other.line
                )));
            }
            svc.dests.push(d);
        }
    }

    let mut items = Vec::new();
    for svc in &services {
        let map = emit(svc, name, &mut omissions);
        items.push(Item::with_comments(
            Value::Map(map),
            vec![format!("{name}:{}", svc.line)],
        ));
    }
    let mut root = Map::new();
    root.push("virtual_servers", Value::Seq(items));
    omissions.sort_by_key(|o| o.line);

    let note = "ipvsadm rules have no health checks: these real servers have none and are \
                always up, as under ipvsadm. Add `checks` (docs/config.md) so ipvsd takes failed \
                servers out."
        .to_string();
    let mut header = vec![
        format!(
            "Converted from {name} (ipvsadm -S -n) by `ipvsd import ipvsadm` (ipvsd {}).",
            env!("CARGO_PKG_VERSION")
        ),
        "`ipvsd run --dry-run --config FILE` prints these rules back in ipvsadm's format."
            .to_string(),
        String::new(),
    ];
    header.extend(wrap(&note, 88));
    header.push(String::new());
    if omissions.is_empty() {
        header.push("Everything was converted.".to_string());
    } else {
        header.push(format!("Not converted ({}):", omissions.len()));
        header.extend(omissions.iter().map(|o| format!("  {o}")));
    }
    let yaml = yaml::document(&header, &root);
    Ok(Conversion {
        yaml,
        omissions,
        notes: vec![note],
    })
}

fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut cur = String::new();
    for w in text.split_whitespace() {
        if !cur.is_empty() && cur.len() + 1 + w.len() > width {
            lines.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(w);
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    lines
}

fn describe(key: &ServiceKey) -> String {
    match key {
        ServiceKey::Addr {
            protocol,
            addr,
            port,
        } => format!("{protocol} service {}", fmt_addr_port(addr, *port)),
        ServiceKey::Fwmark {
            family: Family::Inet,
            mark,
        } => format!("fwmark service {mark}"),
        ServiceKey::Fwmark {
            family: Family::Inet6,
            mark,
        } => format!("IPv6 fwmark service {mark}"),
    }
}

fn parse_line(line: &str) -> Result<Line, String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let mut l = Line::default();
    match words.first().copied() {
        Some("-A" | "--add-service") => l.add_service = true,
        Some("-a" | "--add-server") => l.add_service = false,
        Some(other) => {
            return Err(format!(
                "`{other}`: only `-A` and `-a` lines (ipvsadm -S -n output) can be imported"
            ));
        }
        None => unreachable!("empty lines are skipped"),
    }
    let mut i = 1;
    let value = |i: usize, opt: &str| -> Result<&str, String> {
        words
            .get(i + 1)
            .copied()
            .ok_or_else(|| format!("`{opt}` needs a value"))
    };
    let number = |s: &str, opt: &str| -> Result<u32, String> {
        s.parse::<u32>()
            .map_err(|_| format!("`{opt} {s}`: not a number"))
    };
    while i < words.len() {
        let opt = words[i];
        let mut used = 2;
        match opt {
            "-t" | "--tcp-service" | "-u" | "--udp-service" | "--sctp-service" => {
                let protocol = match opt {
                    "-t" | "--tcp-service" => Protocol::Tcp,
                    "-u" | "--udp-service" => Protocol::Udp,
                    _ => Protocol::Sctp,
                };
                let v = value(i, opt)?;
                let (addr, port) = addr_port(v)?;
                let port = port.ok_or_else(|| {
                    format!("`{v}`: a service address needs a port (ipvsadm -S -n writes one)")
                })?;
                set_key(
                    &mut l,
                    ServiceKey::Addr {
                        protocol,
                        addr,
                        port,
                    },
                )?;
            }
            "-f" | "--fwmark-service" => {
                let v = value(i, opt)?;
                let mark = number(v, opt)?;
                if mark == 0 {
                    return Err("`-f 0`: firewall marks start at 1".to_string());
                }
                set_key(
                    &mut l,
                    ServiceKey::Fwmark {
                        family: Family::Inet,
                        mark,
                    },
                )?;
            }
            "-6" | "--ipv6" => {
                l.ipv6 = true;
                used = 1;
            }
            "-s" | "--scheduler" => l.scheduler = Some(value(i, opt)?.to_string()),
            "-p" | "--persistent" => match words.get(i + 1) {
                Some(v) if !v.starts_with('-') => l.persistent = Some(number(v, opt)?),
                _ => {
                    l.persistent = Some(360);
                    used = 1;
                }
            },
            "-M" | "--netmask" => l.netmask = Some(value(i, opt)?.to_string()),
            "--pe" => l.pe = Some(value(i, opt)?.to_string()),
            "-o" | "--ops" => {
                l.one_packet = true;
                used = 1;
            }
            "-b" | "--sched-flags" => {
                l.flags = value(i, opt)?.split(',').map(str::to_string).collect();
            }
            "-r" | "--real-server" => l.real = Some(addr_port(value(i, opt)?)?),
            "-g" | "--gatewaying" | "-i" | "--ipip" | "-m" | "--masquerading" => {
                l.method = Some(match opt {
                    "-g" | "--gatewaying" => 'g',
                    "-i" | "--ipip" => 'i',
                    _ => 'm',
                });
                used = 1;
            }
            "-w" | "--weight" => {
                let v = value(i, opt)?;
                l.weight = Some(
                    v.parse::<i64>()
                        .map_err(|_| format!("`{opt} {v}`: not a number"))?,
                );
            }
            "-x" | "--u-threshold" => l.upper = Some(number(value(i, opt)?, opt)?),
            "-y" | "--l-threshold" => l.lower = Some(number(value(i, opt)?, opt)?),
            "--tun-type" => l.tun_type = Some(value(i, opt)?.to_string()),
            "--tun-port" => {
                let v = value(i, opt)?;
                l.tun_port = Some(
                    v.parse::<u16>()
                        .ok()
                        .filter(|p| *p > 0)
                        .ok_or_else(|| format!("`{opt} {v}`: not a port"))?,
                );
            }
            "--tun-nocsum" | "--tun-csum" | "--tun-remcsum" => {
                l.tun_csum = Some(match opt {
                    "--tun-nocsum" => TunnelCsum::NoCsum,
                    "--tun-csum" => TunnelCsum::Csum,
                    _ => TunnelCsum::RemCsum,
                });
                used = 1;
            }
            other => return Err(format!("unknown option `{other}`")),
        }
        i += used;
    }
    if l.key.is_none() {
        return Err("no service (`-t`, `-u`, `--sctp-service` or `-f`)".to_string());
    }
    Ok(l)
}

fn set_key(l: &mut Line, key: ServiceKey) -> Result<(), String> {
    if l.key.replace(key).is_some() {
        return Err("more than one service on one line".to_string());
    }
    Ok(())
}

/// `-6` makes a fwmark service IPv6; an address service takes the address's family.
fn fix_family(key: Option<ServiceKey>, ipv6: bool) -> Result<ServiceKey, String> {
    match key.expect("checked in parse_line") {
        ServiceKey::Fwmark { mark, .. } if ipv6 => Ok(ServiceKey::Fwmark {
            family: Family::Inet6,
            mark,
        }),
        k @ ServiceKey::Addr { addr, .. } if ipv6 && addr.is_ipv4() => {
            Err(format!("`-6` with the IPv4 service {}", describe(&k)))
        }
        k => Ok(k),
    }
}

/// `192.0.2.1:80`, `[2001:db8::1]:80`, or without the port. Names are refused: the save
/// must be numeric (`-n`).
fn addr_port(s: &str) -> Result<(IpAddr, Option<u16>), String> {
    let not_numeric =
        || format!("`{s}` is not a numeric address (save the rules with `ipvsadm -S -n`)");
    let port = |p: &str| p.parse::<u16>().map_err(|_| not_numeric());
    if let Some(rest) = s.strip_prefix('[') {
        let (a, after) = rest.split_once(']').ok_or_else(not_numeric)?;
        let addr: IpAddr = a.parse().map_err(|_| not_numeric())?;
        return match after.strip_prefix(':') {
            Some(p) => Ok((addr, Some(port(p)?))),
            None if after.is_empty() => Ok((addr, None)),
            None => Err(not_numeric()),
        };
    }
    if let Ok(addr) = s.parse::<IpAddr>() {
        return Ok((addr, None));
    }
    let (a, p) = s.rsplit_once(':').ok_or_else(not_numeric)?;
    let addr: std::net::Ipv4Addr = a.parse().map_err(|_| not_numeric())?;
    Ok((IpAddr::V4(addr), Some(port(p)?)))
}

fn forwarding(l: &Line) -> Result<Forwarding, String> {
    let tunnel_opts = l.tun_type.is_some() || l.tun_port.is_some() || l.tun_csum.is_some();
    match l.method.unwrap_or('g') {
        'm' | 'g' if tunnel_opts => Err("tunnel options need `-i`".to_string()),
        'm' => Ok(Forwarding::Nat),
        'g' => Ok(Forwarding::Dr),
        _ => {
            let csum = l.tun_csum.unwrap_or(TunnelCsum::NoCsum);
            let kind = match (l.tun_type.as_deref().unwrap_or("ipip"), l.tun_port) {
                ("ipip", None) => TunnelType::Ipip,
                ("gre", None) => TunnelType::Gre,
                ("gue", Some(port)) => TunnelType::Gue { port },
                ("gue", None) => return Err("a gue tunnel needs `--tun-port`".to_string()),
                (t @ ("ipip" | "gre"), Some(_)) => {
                    return Err(format!("`--tun-port` is only for gue tunnels, not {t}"));
                }
                (other, _) => return Err(format!("`{other}` is not ipip, gue or gre")),
            };
            match (kind, csum) {
                (TunnelType::Ipip, TunnelCsum::Csum | TunnelCsum::RemCsum) => {
                    Err("ipip tunnels have no checksum option".to_string())
                }
                (TunnelType::Gre, TunnelCsum::RemCsum) => {
                    Err("remcsum is only for gue tunnels".to_string())
                }
                _ => Ok(Forwarding::Tunnel { kind, csum }),
            }
        }
    }
}

/// Scheduler flags, one-packet, netmask and engine of an `-A` line; what ipvsd refuses is
/// listed and left out.
fn service_options(svc: &mut Service, l: &Line, file: &str, omissions: &mut Vec<Omission>) {
    let mut omit = |keyword: &str, why: String| {
        omissions.push(Omission {
            file: file.to_string(),
            line: svc.line,
            keyword: keyword.to_string(),
            why,
        });
    };
    let names = svc.scheduler.flag_names();
    for f in &l.flags {
        if names.contains(&f.as_str()) {
            if !svc.flags.contains(f) {
                svc.flags.push(f.clone());
            }
        } else {
            omit(
                "-b",
                format!(
                    "`{f}` is not a flag of the {} scheduler (its flags: {}); not converted",
                    svc.scheduler,
                    names.join(", ")
                ),
            );
        }
    }
    if l.one_packet {
        match svc.key {
            ServiceKey::Addr {
                protocol: p @ (Protocol::Tcp | Protocol::Sctp),
                ..
            } => omit(
                "-o",
                format!("one-packet scheduling applies to UDP services, not {p}; not converted"),
            ),
            _ => svc.one_packet = true,
        }
    }
    if svc.persistence.is_none() {
        if let Some(m) = &l.netmask {
            omit(
                "-M",
                format!("`-M {m}` without `-p` has no effect; not converted"),
            );
        }
        if let Some(pe) = &l.pe {
            omit(
                "--pe",
                format!("`--pe {pe}` without `-p` has no effect; not converted"),
            );
        }
        return;
    }
    if let Some(t) = svc.persistence {
        if !(1..=86400 * 31).contains(&t) {
            omit(
                "-p",
                format!("the persistence timeout must be 1-2678400 s; {t} becomes 360"),
            );
            svc.persistence = Some(360);
        }
    }
    if let Some(m) = &l.netmask {
        let ok = match svc.key.family() {
            Family::Inet => m.parse::<std::net::Ipv4Addr>().is_ok(),
            Family::Inet6 => m.parse::<u8>().is_ok_and(|n| (1..=128).contains(&n)),
        };
        if ok {
            svc.netmask = Some(m.clone());
        } else {
            omit(
                "-M",
                format!("`{m}` is not a {} netmask; not converted", svc.key.family()),
            );
        }
    }
    match l.pe.as_deref() {
        None => {}
        Some("sip") => svc.pe = Some("sip".to_string()),
        Some(other) => omit(
            "--pe",
            format!("`{other}`: the only persistence engine is sip; not converted"),
        ),
    }
}

/// `forwarding`, and `tunnel` unless it is ipip without checksum inherited from nowhere
/// else (a real server of a service with another tunnel gets it written out).
fn push_forwarding(m: &mut Map, f: &Forwarding, parent: Option<&Forwarding>) {
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

fn emit(svc: &Service, file: &str, omissions: &mut Vec<Omission>) -> Map {
    let mut m = Map::new();
    let svc_port = match svc.key {
        ServiceKey::Addr {
            protocol,
            addr,
            port,
        } => {
            m.push(
                "name",
                Value::str(format!("{protocol}/{}", fmt_addr_port(&addr, port))),
            );
            m.push("address", Value::str(fmt_addr_port(&addr, port)));
            m.push("protocol", Value::str(protocol.to_string()));
            port
        }
        ServiceKey::Fwmark { family, mark } => {
            let prefix = if family == Family::Inet6 {
                "fwmark6"
            } else {
                "fwmark"
            };
            m.push("name", Value::str(format!("{prefix}/{mark}")));
            m.push("fwmark", Value::int(mark));
            if family == Family::Inet6 {
                m.push("family", Value::str("ipv6"));
            }
            0
        }
    };
    m.push("scheduler", Value::str(svc.scheduler.name()));
    if !svc.flags.is_empty() {
        m.push(
            "scheduler_flags",
            Value::seq(svc.flags.iter().map(Value::str)),
        );
    }
    if svc.one_packet {
        m.push("one_packet", Value::Bool(true));
    }
    // The service's forwarding: the one most of its real servers use (the first on a tie).
    let mut counts: Vec<(Forwarding, usize)> = Vec::new();
    for d in &svc.dests {
        match counts.iter_mut().find(|(f, _)| *f == d.forwarding) {
            Some((_, n)) => *n += 1,
            None => counts.push((d.forwarding, 1)),
        }
    }
    let fwd = counts
        .iter()
        .fold(None::<(Forwarding, usize)>, |best, &(f, n)| match best {
            Some((_, bn)) if bn >= n => best,
            _ => Some((f, n)),
        })
        .map_or(Forwarding::Dr, |(f, _)| f);
    push_forwarding(&mut m, &fwd, None);
    if let Some(t) = svc.persistence {
        let mut p = Map::new();
        p.push("timeout", Value::duration(Duration::from_secs(t.into())));
        if let Some(mask) = &svc.netmask {
            p.push(
                "netmask",
                match mask.parse::<i64>() {
                    Ok(n) => Value::int(n),
                    Err(_) => Value::str(mask),
                },
            );
        }
        if let Some(pe) = &svc.pe {
            p.push("engine", Value::str(pe));
        }
        m.push("persistence", Value::Map(p));
    }
    let mut rs = Vec::new();
    for d in &svc.dests {
        let mut r = Map::new();
        let mut port = d.port;
        if let ServiceKey::Addr { .. } = svc.key {
            if port != svc_port && d.forwarding != Forwarding::Nat {
                omissions.push(Omission {
                    file: file.to_string(),
                    line: d.line,
                    keyword: "-r".to_string(),
                    why: format!(
                        "port {port} differs from the service's port {svc_port} without masquerading (-m); ipvsd maps ports with nat only: written with port {svc_port}"
                    ),
                });
                port = svc_port;
            }
        }
        let address = if port == 0 {
            d.addr.to_string()
        } else {
            fmt_addr_port(&d.addr, port)
        };
        r.push("address", Value::str(address));
        r.push("weight", Value::int(d.weight));
        if d.upper > 0 {
            r.push("upper_threshold", Value::int(d.upper));
        }
        if d.lower > 0 {
            if d.upper > 0 && d.lower > d.upper {
                omissions.push(Omission {
                    file: file.to_string(),
                    line: d.line,
                    keyword: "-y".to_string(),
                    why: format!(
                        "the lower threshold {} exceeds the upper {}; not converted",
                        d.lower, d.upper
                    ),
                });
            } else {
                r.push("lower_threshold", Value::int(d.lower));
            }
        }
        if d.forwarding != fwd {
            push_forwarding(&mut r, &d.forwarding, Some(&fwd));
        }
        if Family::of(&d.addr) != svc.key.family()
            && !matches!(d.forwarding, Forwarding::Tunnel { .. })
        {
            omissions.push(Omission {
                file: file.to_string(),
                line: d.line,
                keyword: "-r".to_string(),
                why: format!(
                    "{} is {} but the service is {}; mixed families need tunnelling (-i): not converted",
                    d.addr,
                    Family::of(&d.addr),
                    svc.key.family()
                ),
            });
            continue;
        }
        rs.push(Item::new(Value::Map(r)));
    }
    m.push("real_servers", Value::Seq(rs));
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_must_be_numeric() {
        assert_eq!(
            addr_port("192.0.2.1:80").unwrap(),
            ("192.0.2.1".parse().unwrap(), Some(80))
        );
        assert_eq!(
            addr_port("[2001:db8::1]:443").unwrap(),
            ("2001:db8::1".parse().unwrap(), Some(443))
        );
        assert_eq!(
            addr_port("198.51.100.2").unwrap(),
            ("198.51.100.2".parse().unwrap(), None)
        );
        let e = addr_port("www.example.com:http").unwrap_err();
        assert!(e.contains("ipvsadm -S -n"), "{e}");
    }

    #[test]
    fn bad_lines_are_errors_with_the_line_number() {
        let e = convert(
            "rules",
            "-A -t 192.0.2.1:80 -s rr\n-a -t 192.0.2.9:80 -r 198.51.100.1:80 -g -w 1\n",
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "rules:2: no `-A` line before this one adds tcp service 192.0.2.9:80"
        );
        let e = convert("rules", "\n-C\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "rules:2: `-C`: only `-A` and `-a` lines (ipvsadm -S -n output) can be imported"
        );
        let e = convert("rules", "-A -t 192.0.2.1:80 -s rr --bogus\n").unwrap_err();
        assert_eq!(e.to_string(), "rules:1: unknown option `--bogus`");
    }
}
