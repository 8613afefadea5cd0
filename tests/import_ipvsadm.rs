//! `ipvsd import ipvsadm`: `ipvsadm -S -n` output converts into a config that passes
//! check-config and describes the same table: the config's table, written back in ipvsadm's
//! save format (what `ipvsd run --dry-run` prints), is the input again.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::FakeEnv;
use ipvsd::config::{self, Config};
use ipvsd::controller::configured_table;
use ipvsd::import::{Conversion, ImportError, ipvsadm};
use ipvsd::ipvs::model::{Family, Forwarding, ServiceKey, TunnelCsum, TunnelType};
use ipvsd::ipvs::save;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/import/ipvsadm")
        .join(name)
}

fn read(name: &str) -> String {
    std::fs::read_to_string(fixture(name)).unwrap()
}

fn import(name: &str) -> (Conversion, Config) {
    let conv = ipvsadm::convert(name, &read(name)).unwrap_or_else(|e| panic!("{e}"));
    let cfg =
        config::load_str(&conv.yaml, Path::new("converted.yaml"), &FakeEnv).unwrap_or_else(|e| {
            panic!(
                "does not load:\n{}\n---\n{}",
                e.problems().join("\n"),
                conv.yaml
            )
        });
    (conv, cfg)
}

/// The rules the converted config describes, as `ipvsd run --dry-run` prints them.
fn round_trip(cfg: &Config) -> String {
    save::save(&configured_table(cfg))
}

fn omitted(c: &Conversion) -> Vec<String> {
    c.omissions
        .iter()
        .map(|o| format!("{}:{}: {}", o.file, o.line, o.keyword))
        .collect()
}

/// Fixtures written as `ipvsadm -S -n` writes them come back line for line.
#[test]
fn canonical_saves_round_trip_exactly() {
    for name in [
        "basic.rules",
        "ipv6.rules",
        "persistence.rules",
        "tunnel.rules",
        "thresholds.rules",
    ] {
        let (c, cfg) = import(name);
        assert_eq!(round_trip(&cfg), read(name), "{name}:\n{}", c.yaml);
        assert!(c.omissions.is_empty(), "{name}: {:?}", c.omissions);
        assert!(
            c.yaml.contains("# Everything was converted.\n"),
            "{}",
            c.yaml
        );
    }
}

#[test]
fn services_and_real_servers_keep_every_attribute() {
    let (c, cfg) = import("basic.rules");
    let names: Vec<&str> = cfg
        .virtual_servers
        .iter()
        .map(|v| v.name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "tcp/192.0.2.1:80",
            "tcp/192.0.2.1:443",
            "tcp/203.0.113.5:25",
            "udp/192.0.2.53:53",
            "sctp/192.0.2.9:3868",
        ]
    );
    let web = &cfg.virtual_servers[0];
    assert_eq!(web.real_servers[0].port, 8080);
    assert_eq!(web.real_servers[0].weight, 3);
    assert_eq!(web.real_servers[0].forwarding, Forwarding::Nat);
    assert!(web.real_servers.iter().all(|r| r.checks.is_empty()));
    assert_eq!(cfg.virtual_servers[1].real_servers[1].weight, 0);
    let dns = &cfg.virtual_servers[3];
    assert!(dns.one_packet);
    assert_eq!(dns.scheduler_flags, 1 << 4, "sh-port");
    assert!(cfg.virtual_servers[2].real_servers.is_empty());
    // No health checks in ipvsadm rules: said in the header and as a note.
    assert!(
        c.yaml.contains("ipvsadm rules have no health checks"),
        "{}",
        c.yaml
    );
    assert_eq!(c.notes.len(), 1);
    assert!(c.notes[0].contains("always up"));
}

#[test]
fn ipv6_services_and_ipv6_fwmarks() {
    let (_, cfg) = import("ipv6.rules");
    let keys: Vec<ServiceKey> = cfg.virtual_servers.iter().map(|v| v.key).collect();
    assert_eq!(
        keys[2],
        ServiceKey::Fwmark {
            family: Family::Inet,
            mark: 7
        }
    );
    assert_eq!(
        keys[3],
        ServiceKey::Fwmark {
            family: Family::Inet6,
            mark: 7
        }
    );
    assert_eq!(cfg.virtual_servers[3].name, "fwmark6/7");
    let p = cfg.virtual_servers[0].persistence.as_ref().unwrap();
    assert_eq!((p.timeout, p.netmask), (300, 64));
    assert_eq!(cfg.virtual_servers[0].real_servers[0].port, 8443);
}

#[test]
fn persistence_netmask_engine_and_all_ports() {
    let (_, cfg) = import("persistence.rules");
    let all = &cfg.virtual_servers[0];
    assert_eq!(all.persistence.as_ref().unwrap().timeout, 360);
    assert!(all.real_servers.iter().all(|r| r.port == 0));
    let sip = &cfg.virtual_servers[1];
    let p = sip.persistence.as_ref().unwrap();
    assert_eq!(
        (p.timeout, p.netmask, p.engine.as_deref()),
        (600, 0xffff_ff00, Some("sip"))
    );
    assert!(sip.one_packet);
    assert_eq!(sip.scheduler_flags, 0b11 << 3);
    assert_eq!(
        cfg.virtual_servers[2].persistence.as_ref().unwrap().netmask,
        0xffff_0000
    );
}

#[test]
fn tunnel_options_per_real_server() {
    let (c, cfg) = import("tunnel.rules");
    let v = &cfg.virtual_servers[0];
    let gue = Forwarding::Tunnel {
        kind: TunnelType::Gue { port: 6080 },
        csum: TunnelCsum::RemCsum,
    };
    // Most real servers use gue/remcsum: it is the service's forwarding...
    assert!(c.yaml.contains("    forwarding: tunnel\n    tunnel:\n      type: gue\n      port: 6080\n      checksum: remcsum\n"), "{}", c.yaml);
    let fw: Vec<Forwarding> = v.real_servers.iter().map(|r| r.forwarding).collect();
    assert_eq!(
        fw,
        [
            // ... and ipip is written out, not inherited.
            Forwarding::Tunnel {
                kind: TunnelType::Ipip,
                csum: TunnelCsum::NoCsum
            },
            gue,
            gue,
            Forwarding::Tunnel {
                kind: TunnelType::Gre,
                csum: TunnelCsum::Csum
            },
            Forwarding::Dr,
            Forwarding::Tunnel {
                kind: TunnelType::Gue { port: 5555 },
                csum: TunnelCsum::NoCsum
            },
        ]
    );
    assert_eq!(
        v.real_servers[5].address.to_string(),
        "2001:db8::35",
        "IPv6 through a tunnel"
    );
}

#[test]
fn connection_thresholds_use_the_save_extension() {
    let (_, cfg) = import("thresholds.rules");
    let r = &cfg.virtual_servers[0].real_servers;
    assert_eq!((r[0].upper_threshold, r[0].lower_threshold), (500, 400));
    assert_eq!((r[1].upper_threshold, r[1].lower_threshold), (1000, 0));
    assert_eq!(r[2].weight, 65535);
}

#[test]
fn long_options_and_any_order_are_normalized() {
    let (c, cfg) = import("unsorted-long.rules");
    assert!(c.omissions.is_empty(), "{:?}", c.omissions);
    assert_eq!(
        round_trip(&cfg),
        "-A -t 192.0.2.49:80 -s wlc\n\
         -a -t 192.0.2.49:80 -r 198.51.100.49:80 -g -w 1\n\
         -A -t 192.0.2.50:80 -s wlc -p 360\n\
         -a -t 192.0.2.50:80 -r 198.51.100.50:80 -i -w 1 --tun-type ipip\n\
         -A -u 192.0.2.50:53 -s rr -o\n\
         -a -u 192.0.2.50:53 -r 198.51.100.50:53 -m -w 1\n\
         -a -u 192.0.2.50:53 -r 198.51.100.52:53 -m -w 2\n\
         -A -f 5 -s rr\n\
         -a -f 5 -r 198.51.100.51:0 -g -w 1\n"
    );
    // A canonical save, shuffled, converts to the same table.
    let text = read("basic.rules");
    let mut lines: Vec<&str> = text.lines().collect();
    // Services must come before their real servers: reverse the services' order only.
    let mut blocks: Vec<Vec<&str>> = Vec::new();
    for l in lines.drain(..) {
        if l.starts_with("-A") {
            blocks.push(vec![l]);
        } else {
            let last = blocks.last_mut().unwrap();
            last.insert(1, l);
        }
    }
    blocks.reverse();
    let shuffled: String = blocks.concat().iter().map(|l| format!("{l}\n")).collect();
    assert_ne!(shuffled, text);
    let conv = ipvsadm::convert("shuffled", &shuffled).unwrap();
    let cfg = config::load_str(&conv.yaml, Path::new("x.yaml"), &FakeEnv).unwrap();
    assert_eq!(round_trip(&cfg), text);
}

#[test]
fn what_ipvsd_refuses_is_listed_with_its_line() {
    let (c, cfg) = import("odd.rules");
    assert_eq!(
        omitted(&c),
        [
            "odd.rules:1: -b",
            "odd.rules:1: -o",
            "odd.rules:2: -r",
            "odd.rules:3: -w",
            "odd.rules:4: -M",
            "odd.rules:4: --pe",
            "odd.rules:5: -r",
        ]
    );
    let v = &cfg.virtual_servers[0];
    assert!(!v.one_packet, "-o on a tcp service");
    assert_eq!(v.scheduler_flags, 1 << 3, "flag-1 kept, sh-port dropped");
    assert_eq!(v.real_servers[0].port, 80, "DR does not map ports");
    assert_eq!(v.real_servers[1].weight, 65535);
    assert_eq!(cfg.virtual_servers[1].persistence, None);
    assert_eq!(
        cfg.virtual_servers[1].real_servers.len(),
        1,
        "the IPv6 one needs a tunnel"
    );
    assert!(c.yaml.contains("# Not converted (7):\n"), "{}", c.yaml);
}

#[test]
fn unparsable_rules_are_errors_with_file_and_line() {
    let cases = [
        (
            "-A -t 192.0.2.1:80 -s rr\n-a -t 192.0.2.1:80 -r 198.51.100.1:80 -g -w x\n",
            "r:2: `-w x`: not a number",
        ),
        (
            "-A -t www.example.com:http -s rr\n",
            "r:1: `www.example.com:http` is not a numeric address (save the rules with `ipvsadm -S -n`)",
        ),
        (
            "-A -t 192.0.2.1:80 -s rr\n-A -t 192.0.2.1:80 -s wlc\n",
            "r:2: tcp service 192.0.2.1:80 is already added on line 1",
        ),
        (
            "-A -t 192.0.2.1:80 -s bogus\n",
            "r:1: `bogus` is not a scheduler ipvsd knows",
        ),
        (
            "-A -t 192.0.2.1:80 -s rr\n-a -t 192.0.2.1:80 -r 198.51.100.1:80 -m --tun-type gue\n",
            "r:2: tunnel options need `-i`",
        ),
        (
            "-A -t 192.0.2.1:80 -s rr\n-a -t 192.0.2.1:80 -r 198.51.100.1:80 -i --tun-type gue\n",
            "r:2: a gue tunnel needs `--tun-port`",
        ),
        (
            "-A -s rr\n",
            "r:1: no service (`-t`, `-u`, `--sctp-service` or `-f`)",
        ),
        (
            "-A -t 192.0.2.1 -s rr\n",
            "r:1: `192.0.2.1`: a service address needs a port (ipvsadm -S -n writes one)",
        ),
    ];
    for (text, msg) in cases {
        let e = ipvsadm::convert("r", text).unwrap_err();
        assert!(matches!(e, ImportError::Syntax { .. }));
        assert_eq!(e.to_string(), msg);
    }
}

#[test]
fn an_empty_save_is_an_empty_config() {
    let conv = ipvsadm::convert("empty", "").unwrap();
    let cfg = config::load_str(&conv.yaml, Path::new("x.yaml"), &FakeEnv).unwrap();
    assert!(cfg.virtual_servers.is_empty());
    assert_eq!(round_trip(&cfg), "");
}

fn ipvsd() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ipvsd"))
}

#[test]
fn cli_import_then_dry_run_prints_the_rules_back() {
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("ipvsd.yaml");
    let out = ipvsd()
        .args(["import", "ipvsadm", "-o"])
        .arg(&out_path)
        .arg(fixture("ipv6.rules"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.starts_with("note: ipvsadm rules have no health checks"),
        "{stderr}"
    );
    let dry = ipvsd()
        .args(["run", "--dry-run", "--config"])
        .arg(&out_path)
        .output()
        .unwrap();
    assert_eq!(dry.status.code(), Some(0), "{dry:?}");
    assert_eq!(String::from_utf8(dry.stdout).unwrap(), read("ipv6.rules"));

    // --strict passes here (a note is not an omission), fails on odd.rules.
    let out = ipvsd()
        .args(["import", "ipvsadm", "--strict"])
        .arg(fixture("basic.rules"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let out = ipvsd()
        .args(["import", "ipvsadm", "--strict"])
        .arg(fixture("odd.rules"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(6), "{out:?}");
    assert!(out.stdout.is_empty());
}

#[test]
fn cli_reads_stdin_and_reports_errors_with_their_line() {
    use std::io::Write;
    let mut child = ipvsd()
        .args(["import", "ipvsadm", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"-A -t 192.0.2.1:80 -s rr\n-a -t 192.0.2.1:80 -r 198.51.100.1:80 -x\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        "-:2: `-x` needs a value\n"
    );
    let out = ipvsd()
        .args(["import", "ipvsadm"])
        .arg(fixture("nosuch.rules"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{out:?}");
}
