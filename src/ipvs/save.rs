//! The ipvsadm save format (`ipvsadm -S -n`), as `ipvsadm-restore` reads it.
//!
//! Pure. Output matches ipvsadm 1.31 line for line: services in ipvsadm's order, each
//! followed by its destinations sorted by address and port. One extension: ipvsadm's save
//! omits connection thresholds, so a destination with a non-zero threshold gets
//! ` -x UPPER -y LOWER` appended (ipvsadm-restore accepts it), and nothing is lost.

use std::fmt::Write;

use super::model::{
    Family, Forwarding, Protocol, Scheduler, ServiceEntry, ServiceKey, Table, TunnelCsum,
    TunnelType, fmt_addr_port, svc_flags,
};

/// The whole table in save format, one rule per line.
pub fn save(table: &Table) -> String {
    let mut out = String::new();
    for entry in table.in_listing_order() {
        save_service(&mut out, entry);
    }
    out
}

fn service_arg(key: &ServiceKey) -> String {
    match key {
        ServiceKey::Addr {
            protocol,
            addr,
            port,
        } => {
            let opt = match protocol {
                Protocol::Tcp => "-t",
                Protocol::Udp => "-u",
                Protocol::Sctp => "--sctp-service",
            };
            format!("{opt} {}", fmt_addr_port(addr, *port))
        }
        ServiceKey::Fwmark {
            family: Family::Inet,
            mark,
        } => format!("-f {mark}"),
        ServiceKey::Fwmark {
            family: Family::Inet6,
            mark,
        } => format!("-f {mark} -6"),
    }
}

fn save_service(out: &mut String, entry: &ServiceEntry) {
    let s = &entry.service;
    let svc = service_arg(&s.key);
    let _ = write!(out, "-A {svc} -s {}", s.scheduler);
    if s.flags & svc_flags::PERSISTENT != 0 {
        let _ = write!(out, " -p {}", s.timeout);
        match s.key.family() {
            Family::Inet if s.netmask != u32::MAX => {
                let _ = write!(out, " -M {}", std::net::Ipv4Addr::from(s.netmask));
            }
            Family::Inet6 if s.netmask != 128 => {
                let _ = write!(out, " -M {}", s.netmask);
            }
            _ => {}
        }
    }
    if let Some(pe) = &s.pe_name {
        let _ = write!(out, " --pe {pe}");
    }
    if s.flags & svc_flags::ONEPACKET != 0 {
        out.push_str(" -o");
    }
    if s.flags & svc_flags::SCHED_MASK != 0 {
        let _ = write!(
            out,
            " -b {}",
            sched_flag_names(s.scheduler, s.flags).join(",")
        );
    }
    out.push('\n');

    for d in entry.dests.values() {
        let _ = write!(
            out,
            "-a {svc} -r {} {} -w {}",
            d.key,
            fwd_switch(&d.forwarding),
            d.weight
        );
        if let Forwarding::Tunnel { kind, csum } = d.forwarding {
            match kind {
                TunnelType::Ipip => out.push_str(" --tun-type ipip"),
                TunnelType::Gue { port } => {
                    let _ = write!(out, " --tun-type gue --tun-port {port} {}", csum_opt(csum));
                }
                TunnelType::Gre => {
                    let _ = write!(out, " --tun-type gre {}", csum_opt(csum));
                }
            }
        }
        if d.upper_threshold != 0 || d.lower_threshold != 0 {
            let _ = write!(out, " -x {} -y {}", d.upper_threshold, d.lower_threshold);
        }
        out.push('\n');
    }
}

/// ipvsadm names the generic SCHED1..3 bits after the scheduler that uses them.
fn sched_flag_names(scheduler: Scheduler, flags: u32) -> Vec<&'static str> {
    let names = scheduler.flag_names();
    [svc_flags::SCHED1, svc_flags::SCHED2, svc_flags::SCHED3]
        .iter()
        .zip(names)
        .filter(|(bit, _)| flags & **bit != 0)
        .map(|(_, n)| *n)
        .collect()
}

fn fwd_switch(f: &Forwarding) -> &'static str {
    match f {
        Forwarding::Nat => "-m",
        Forwarding::Dr => "-g",
        Forwarding::Tunnel { .. } => "-i",
    }
}

fn csum_opt(c: TunnelCsum) -> &'static str {
    match c {
        TunnelCsum::NoCsum => "--tun-nocsum",
        TunnelCsum::Csum => "--tun-csum",
        TunnelCsum::RemCsum => "--tun-remcsum",
    }
}
