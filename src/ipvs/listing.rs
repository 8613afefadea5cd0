//! The live table as `ipvsadm -Ln` prints it (plain, `--stats`, `--rate`, `--exact`),
//! with the services ipvsd owns marked.
//!
//! Pure. Column widths and number formats follow ipvsadm 1.31's `print_service_entry`, so
//! an operator's eyes (and scripts) read it the same way. The one addition: an owned
//! service's line ends with `  [ipvsd: NAME]`.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::backend::{Info, Observed, ServiceState, Stats};
use super::model::{Family, Forwarding, Protocol, ServiceKey, fmt_addr_port, svc_flags};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Columns {
    /// Forward, weight, active and inactive connections.
    Plain,
    /// Connections, packets and bytes since the service was created.
    Stats,
    /// Per-second rates.
    Rate,
}

/// Renders the table. `owned` maps the services ipvsd owns to their config names.
pub fn render(
    info: &Info,
    table: &Observed,
    columns: Columns,
    exact: bool,
    owned: &BTreeMap<ServiceKey, String>,
) -> String {
    let mut out = String::new();
    let v = info.version;
    let _ = writeln!(
        out,
        "IP Virtual Server version {}.{}.{} (size={})",
        (v >> 16) & 0xff,
        (v >> 8) & 0xff,
        v & 0xff,
        info.conn_tab_size
    );
    let title = |a: &str, b: &str, c: &str, d: &str, e: &str| {
        format!(
            "{:<33} {a:>8} {b:>8} {c:>8} {d:>8} {e:>8}\n  -> RemoteAddress:Port\n",
            "Prot LocalAddress:Port"
        )
    };
    out.push_str(&match columns {
        Columns::Plain => "Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n".to_string(),
        Columns::Stats => title("Conns", "InPkts", "OutPkts", "InBytes", "OutBytes"),
        Columns::Rate => title("CPS", "InPPS", "OutPPS", "InBPS", "OutBPS"),
    });
    let mut services: Vec<&ServiceState> = table.values().collect();
    services.sort_by_key(|s| s.service.key.listing_order());
    for s in services {
        render_service(&mut out, s, columns, exact, owned.get(&s.service.key));
    }
    out
}

fn service_name(key: &ServiceKey) -> String {
    match key {
        ServiceKey::Fwmark {
            family: Family::Inet,
            mark,
        } => format!("FWM  {mark}"),
        ServiceKey::Fwmark {
            family: Family::Inet6,
            mark,
        } => format!("FWM  {mark} IPv6"),
        ServiceKey::Addr {
            protocol,
            addr,
            port,
        } => {
            let proto = match protocol {
                Protocol::Tcp => "TCP",
                Protocol::Udp => "UDP",
                Protocol::Sctp => "SCTP",
            };
            let mut s = format!("{proto:<4} {}", fmt_addr_port(addr, *port));
            if addr.is_ipv4() {
                s.truncate(33);
            }
            s
        }
    }
}

fn render_service(
    out: &mut String,
    st: &ServiceState,
    columns: Columns,
    exact: bool,
    owner: Option<&String>,
) {
    let s = &st.service;
    let name = service_name(&s.key);
    match columns {
        Columns::Plain => {
            let _ = write!(out, "{name} {}", s.scheduler);
            let flags = s.sched_flag_names();
            if !flags.is_empty() {
                let _ = write!(out, " ({})", flags.join(","));
            }
            if s.flags & svc_flags::PERSISTENT != 0 {
                let _ = write!(out, " persistent {}", s.timeout);
                if let Some(mask) = s.netmask_text() {
                    let _ = write!(out, " mask {mask}");
                }
                if let Some(pe) = &s.pe_name {
                    let _ = write!(out, " pe {pe}");
                }
            }
            if s.flags & svc_flags::ONEPACKET != 0 {
                out.push_str(" ops");
            }
        }
        Columns::Stats => {
            let _ = write!(out, "{name:<33}");
            counters(out, &st.stats, exact);
        }
        Columns::Rate => {
            let _ = write!(out, "{name:<33}");
            rates(out, &st.stats, exact, false);
        }
    }
    if let Some(n) = owner {
        let _ = write!(out, "  [ipvsd: {n}]");
    }
    out.push('\n');

    for d in st.dests.values() {
        let mut dname = d.dest.key.to_string();
        if d.dest.key.addr.is_ipv4() {
            dname.truncate(28);
        }
        match columns {
            Columns::Plain => {
                let fwd = match d.dest.forwarding {
                    Forwarding::Nat => "Masq",
                    Forwarding::Dr => "Route",
                    Forwarding::Tunnel { .. } => "Tunnel",
                };
                let _ = writeln!(
                    out,
                    "  -> {dname:<28} {fwd:<7} {:<6} {:<10} {:<10}",
                    d.dest.weight, d.active_conns, d.inactive_conns
                );
            }
            Columns::Stats => {
                let _ = write!(out, "  -> {dname:<28}");
                counters(out, &d.stats, exact);
                out.push('\n');
            }
            Columns::Rate => {
                let _ = write!(out, "  -> {dname:<28}");
                rates(out, &d.stats, exact, true);
                out.push('\n');
            }
        }
    }
}

fn counters(out: &mut String, s: &Stats, exact: bool) {
    for v in [s.conns, s.inpkts, s.outpkts, s.inbytes, s.outbytes] {
        largenum(out, v, exact);
    }
}

/// ipvsadm prints a destination's connection and packet rates as plain `%8llu`, and only
/// the byte rates (and every service rate) as large numbers.
fn rates(out: &mut String, s: &Stats, exact: bool, dest: bool) {
    if dest {
        let _ = write!(out, " {:>8} {:>8} {:>8}", s.cps, s.inpps, s.outpps);
    } else {
        for v in [s.cps, s.inpps, s.outpps] {
            largenum(out, v, exact);
        }
    }
    for v in [s.inbps, s.outbps] {
        largenum(out, v, exact);
    }
}

/// ipvsadm's `print_largenum`: 9 columns, with K/M/G/T above 10^8 unless `--exact`.
fn largenum(out: &mut String, v: u64, exact: bool) {
    if exact {
        let len = v.to_string().len();
        let width = if len <= 8 { 9 } else { len + 1 };
        let _ = write!(out, "{v:>width$}");
        return;
    }
    let _ = match v {
        v if v < 100_000_000 => write!(out, "{v:>9}"),
        v if v < 1_000_000_000 => write!(out, "{:>8}K", v / 1000),
        v if v < 100_000_000_000 => write!(out, "{:>8}M", v / 1_000_000),
        v if v < 100_000_000_000_000 => write!(out, "{:>8}G", v / 1_000_000_000),
        v => write!(out, "{:>8}T", v / 1_000_000_000_000),
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipvs::backend::DestState;
    use crate::ipvs::model::{DestKey, Destination, Scheduler, Service};

    fn seed_table() -> Observed {
        // The seed's table after RS1 died and the sorry server went in.
        let key = ServiceKey::Addr {
            protocol: Protocol::Tcp,
            addr: "172.16.0.7".parse().unwrap(),
            port: 80,
        };
        let dest = |a: &str, fwd, w, stats: Stats| {
            let k = DestKey {
                addr: a.parse().unwrap(),
                port: 80,
            };
            let st = DestState {
                dest: Destination {
                    key: k,
                    forwarding: fwd,
                    weight: w,
                    upper_threshold: 0,
                    lower_threshold: 0,
                },
                active_conns: 0,
                inactive_conns: 0,
                persistent_conns: 0,
                stats,
            };
            (k, st)
        };
        let s = |conns, inpkts, outpkts, inbytes, outbytes| Stats {
            conns,
            inpkts,
            outpkts,
            inbytes,
            outbytes,
            ..Stats::default()
        };
        let st = ServiceState {
            service: Service {
                key,
                scheduler: Scheduler::Wrr,
                flags: svc_flags::HASHED,
                timeout: 0,
                netmask: u32::MAX,
                pe_name: None,
            },
            stats: s(177, 928, 510, 69241, 59548),
            dests: [
                dest("127.0.0.1", Forwarding::Dr, 1, s(22, 134, 0, 8720, 0)),
                dest(
                    "192.168.79.37",
                    Forwarding::Nat,
                    0,
                    s(118, 641, 417, 50781, 49348),
                ),
            ]
            .into(),
        };
        [(key, st)].into()
    }

    const INFO: Info = Info {
        version: 0x010201,
        conn_tab_size: 4096,
    };

    #[test]
    fn plain_listing_matches_ipvsadm_columns_and_marks_owned_services() {
        let t = seed_table();
        let owned = [(*t.keys().next().unwrap(), "web".to_string())].into();
        assert_eq!(
            render(&INFO, &t, Columns::Plain, false, &owned),
            "IP Virtual Server version 1.2.1 (size=4096)\n\
             Prot LocalAddress:Port Scheduler Flags\n\
             \x20 -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n\
             TCP  172.16.0.7:80 wrr  [ipvsd: web]\n\
             \x20 -> 127.0.0.1:80                 Route   1      0          0         \n\
             \x20 -> 192.168.79.37:80             Masq    0      0          0         \n"
        );
    }

    #[test]
    fn stats_listing_matches_the_seeds_numbers() {
        assert_eq!(
            render(
                &INFO,
                &seed_table(),
                Columns::Stats,
                false,
                &BTreeMap::new()
            ),
            "IP Virtual Server version 1.2.1 (size=4096)\n\
             Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes\n\
             \x20 -> RemoteAddress:Port\n\
             TCP  172.16.0.7:80                     177      928      510    69241    59548\n\
             \x20 -> 127.0.0.1:80                       22      134        0     8720        0\n\
             \x20 -> 192.168.79.37:80                  118      641      417    50781    49348\n"
        );
    }

    #[test]
    fn large_numbers_abbreviate_unless_exact() {
        let mut s = String::new();
        largenum(&mut s, 123_456_789, false);
        largenum(&mut s, 123_456_789, true);
        largenum(&mut s, 12_345_678_901_234, false);
        largenum(&mut s, 7, true);
        assert_eq!(s, "  123456K 123456789   12345G        7");
    }
}
