//! The ipvsadm save format (`ipvsadm -S -n`), as `ipvsadm-restore` reads it.
//!
//! Pure. Output matches ipvsadm 1.31 line for line: services in ipvsadm's order, each
//! followed by its destinations sorted by address and port. One extension: ipvsadm's save
//! omits connection thresholds, so a destination with a non-zero threshold gets
//! ` -x UPPER -y LOWER` appended (ipvsadm-restore accepts it), and nothing is lost.

use std::fmt::Write;

use super::model::{
    Family, Forwarding, Protocol, ServiceEntry, ServiceKey, Table, TunnelCsum, TunnelType,
    fmt_addr_port, svc_flags,
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
        if let Some(mask) = s.netmask_text() {
            let _ = write!(out, " -M {mask}");
        }
    }
    if let Some(pe) = &s.pe_name {
        let _ = write!(out, " --pe {pe}");
    }
    if s.flags & svc_flags::ONEPACKET != 0 {
        out.push_str(" -o");
    }
    let flags = s.sched_flag_names();
    if !flags.is_empty() {
        let _ = write!(out, " -b {}", flags.join(","));
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::ipvs::model::{DestKey, Destination, Scheduler, Service};

    fn entry(service: Service, dests: Vec<Destination>) -> ServiceEntry {
        ServiceEntry {
            service,
            dests: dests
                .into_iter()
                .map(|d| (d.key, d))
                .collect::<BTreeMap<_, _>>(),
        }
    }

    fn svc(key: ServiceKey, scheduler: Scheduler) -> Service {
        let netmask = if key.family() == Family::Inet {
            u32::MAX
        } else {
            128
        };
        Service {
            key,
            scheduler,
            flags: 0,
            timeout: 0,
            netmask,
            pe_name: None,
        }
    }

    fn dest(addr: &str, port: u16, forwarding: Forwarding, weight: u32) -> Destination {
        Destination {
            key: DestKey {
                addr: addr.parse().unwrap(),
                port,
            },
            forwarding,
            weight,
            upper_threshold: 0,
            lower_threshold: 0,
        }
    }

    fn table(entries: Vec<ServiceEntry>) -> Table {
        Table {
            services: entries.into_iter().map(|e| (e.service.key, e)).collect(),
        }
    }

    fn tcp(addr: &str, port: u16) -> ServiceKey {
        ServiceKey::Addr {
            protocol: Protocol::Tcp,
            addr: addr.parse().unwrap(),
            port,
        }
    }

    #[test]
    fn persistent_service_with_netmask_engine_and_flags_prints_like_ipvsadm() {
        let mut s = svc(
            ServiceKey::Addr {
                protocol: Protocol::Udp,
                addr: "192.0.2.1".parse().unwrap(),
                port: 5060,
            },
            Scheduler::Sh,
        );
        s.flags =
            svc_flags::PERSISTENT | svc_flags::ONEPACKET | svc_flags::SCHED1 | svc_flags::SCHED2;
        s.timeout = 600;
        s.netmask = 0xffff_ff00;
        s.pe_name = Some("sip".into());
        let t = table(vec![entry(
            s,
            vec![dest("198.51.100.2", 5060, Forwarding::Dr, 1)],
        )]);
        assert_eq!(
            save(&t),
            "-A -u 192.0.2.1:5060 -s sh -p 600 -M 255.255.255.0 --pe sip -o -b sh-fallback,sh-port\n\
             -a -u 192.0.2.1:5060 -r 198.51.100.2:5060 -g -w 1\n"
        );
    }

    #[test]
    fn ipv6_services_print_bracketed_with_prefix_netmask() {
        let mut s = svc(tcp("2001:db8::1", 443), Scheduler::Wlc);
        s.flags = svc_flags::PERSISTENT;
        s.timeout = 360;
        s.netmask = 64;
        let f6 = svc(
            ServiceKey::Fwmark {
                family: Family::Inet6,
                mark: 7,
            },
            Scheduler::Mh,
        );
        let mut f6 = entry(f6, vec![dest("2001:db8::20", 0, Forwarding::Dr, 3)]);
        f6.service.flags = svc_flags::SCHED2;
        let t = table(vec![
            entry(s, vec![dest("2001:db8::10", 443, Forwarding::Nat, 2)]),
            f6,
        ]);
        assert_eq!(
            save(&t),
            "-A -t [2001:db8::1]:443 -s wlc -p 360 -M 64\n\
             -a -t [2001:db8::1]:443 -r [2001:db8::10]:443 -m -w 2\n\
             -A -f 7 -6 -s mh -b mh-port\n\
             -a -f 7 -6 -r [2001:db8::20]:0 -g -w 3\n"
        );
    }

    #[test]
    fn tunnel_destinations_print_their_encapsulation_and_thresholds_are_kept() {
        let s = svc(tcp("192.0.2.1", 80), Scheduler::Rr);
        let tun = |kind, csum| Forwarding::Tunnel { kind, csum };
        let mut with_thresholds = dest("198.51.100.5", 80, Forwarding::Nat, 1);
        with_thresholds.upper_threshold = 100;
        with_thresholds.lower_threshold = 10;
        let t = table(vec![entry(
            s,
            vec![
                dest(
                    "198.51.100.2",
                    80,
                    tun(TunnelType::Ipip, TunnelCsum::NoCsum),
                    1,
                ),
                dest(
                    "198.51.100.3",
                    80,
                    tun(TunnelType::Gue { port: 6080 }, TunnelCsum::RemCsum),
                    1,
                ),
                dest(
                    "198.51.100.4",
                    80,
                    tun(TunnelType::Gre, TunnelCsum::Csum),
                    1,
                ),
                with_thresholds,
            ],
        )]);
        assert_eq!(
            save(&t),
            "-A -t 192.0.2.1:80 -s rr\n\
             -a -t 192.0.2.1:80 -r 198.51.100.2:80 -i -w 1 --tun-type ipip\n\
             -a -t 192.0.2.1:80 -r 198.51.100.3:80 -i -w 1 --tun-type gue --tun-port 6080 --tun-remcsum\n\
             -a -t 192.0.2.1:80 -r 198.51.100.4:80 -i -w 1 --tun-type gre --tun-csum\n\
             -a -t 192.0.2.1:80 -r 198.51.100.5:80 -m -w 1 -x 100 -y 10\n"
        );
    }

    #[test]
    fn services_are_listed_in_ipvsadm_order() {
        // By fwmark (address services have mark 0, so they come first), then family,
        // protocol, address and port.
        let sctp = ServiceKey::Addr {
            protocol: Protocol::Sctp,
            addr: "192.0.2.1".parse().unwrap(),
            port: 80,
        };
        let fw = ServiceKey::Fwmark {
            family: Family::Inet,
            mark: 1,
        };
        let t = table(vec![
            entry(svc(fw, Scheduler::Rr), vec![]),
            entry(svc(tcp("2001:db8::1", 80), Scheduler::Rr), vec![]),
            entry(svc(sctp, Scheduler::Rr), vec![]),
            entry(svc(tcp("192.0.2.9", 80), Scheduler::Rr), vec![]),
            entry(svc(tcp("192.0.2.1", 443), Scheduler::Rr), vec![]),
            entry(svc(tcp("192.0.2.1", 80), Scheduler::Rr), vec![]),
        ]);
        assert_eq!(
            save(&t),
            "-A -t 192.0.2.1:80 -s rr\n\
             -A -t 192.0.2.1:443 -s rr\n\
             -A -t 192.0.2.9:80 -s rr\n\
             -A --sctp-service 192.0.2.1:80 -s rr\n\
             -A -t [2001:db8::1]:80 -s rr\n\
             -A -f 1 -s rr\n"
        );
    }
}
