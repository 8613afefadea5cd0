//! `ipvsd import keepalived`: every fixture in tests/import/keepalived/ (written from
//! keepalived.conf(5)) converts into a config that passes check-config; the converted values
//! are the keepalived ones; the not-converted list is exact, with files and lines.

mod common;

use std::collections::BTreeMap;
use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::FakeEnv;
use ipvsd::config::{
    self, CheckKind, Config, InitialState, OnFailure, RealServer, StatusSet, VirtualServer,
    VrrpVersion,
};
use ipvsd::import::keepalived;
use ipvsd::import::{Conversion, Files, FsFiles, ImportError};
use ipvsd::ipvs::model::{
    Family, Forwarding, Protocol, Scheduler, ServiceKey, TunnelCsum, TunnelType,
};

const DIR: &str = "tests/import/keepalived";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(DIR).join(name)
}

/// Converts a fixture and loads the result as check-config does (with files and programs
/// present).
fn import(name: &str) -> (Conversion, Config) {
    let conv =
        keepalived::convert(&fixture(name), &FsFiles).unwrap_or_else(|e| panic!("{name}: {e}"));
    load(&conv)
}

fn load(conv: &Conversion) -> (Conversion, Config) {
    match config::load_str(&conv.yaml, Path::new("converted.yaml"), &FakeEnv) {
        Ok(cfg) => (conv.clone(), cfg),
        Err(e) => panic!(
            "the converted config does not load:\n{}\n---\n{}",
            e.problems().join("\n"),
            conv.yaml
        ),
    }
}

/// `FILE:LINE: keyword` of every omission, the fixture folder left out.
fn omitted(c: &Conversion) -> Vec<String> {
    let prefix = format!("{}/", fixture("").display()).replace("//", "/");
    c.omissions
        .iter()
        .map(|o| {
            format!(
                "{}:{}: {}",
                o.file.trim_start_matches(&prefix),
                o.line,
                o.keyword
            )
        })
        .collect()
}

/// The omission at `line` (the only one there) must say `needle`.
fn why(c: &Conversion, line: u32, needle: &str) {
    let hits: Vec<&str> = c
        .omissions
        .iter()
        .filter(|o| o.line == line)
        .map(|o| o.why.as_str())
        .collect();
    assert!(
        hits.iter().any(|w| w.contains(needle)),
        "no omission at line {line} says {needle:?}: {hits:?}"
    );
}

fn vs<'a>(cfg: &'a Config, name: &str) -> &'a VirtualServer {
    cfg.virtual_servers
        .iter()
        .find(|v| v.name == name)
        .unwrap_or_else(|| {
            let names: Vec<&str> = cfg
                .virtual_servers
                .iter()
                .map(|v| v.name.as_str())
                .collect();
            panic!("no virtual server {name}: {names:?}")
        })
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn rs<'a>(v: &'a VirtualServer, addr: &str) -> &'a RealServer {
    v.real_servers
        .iter()
        .find(|r| r.address == ip(addr))
        .unwrap_or_else(|| panic!("{}: no real server {addr}", v.name))
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn http(kind: &CheckKind) -> &ipvsd::config::HttpCheck {
    match kind {
        CheckKind::Http(h) | CheckKind::Https(h, _) => h,
        other => panic!("not an http check: {other:?}"),
    }
}

#[test]
fn nat_lab_with_several_urls_per_http_check() {
    let (c, cfg) = import("nat-http.conf");
    assert_eq!(cfg.global.node_name, "director-a");
    assert_eq!(cfg.virtual_servers.len(), 1);
    let web = vs(&cfg, "tcp/203.0.113.7:80");
    assert_eq!(
        web.key,
        ServiceKey::Addr {
            protocol: Protocol::Tcp,
            addr: ip("203.0.113.7"),
            port: 80
        }
    );
    assert_eq!(web.scheduler, Scheduler::Wrr);
    assert_eq!(
        web.on_failure,
        OnFailure::Remove,
        "keepalived removes failed servers"
    );
    let a = rs(web, "198.51.100.27");
    assert_eq!((a.port, a.weight, a.forwarding), (8080, 2, Forwarding::Nat));
    assert_eq!(rs(web, "198.51.100.37").weight, 1);
    // Three urls: three http checks, the same on both servers.
    assert_eq!(a.checks, rs(web, "198.51.100.37").checks);
    assert_eq!(a.checks.len(), 3);
    for ch in &a.checks {
        assert_eq!((ch.interval, ch.timeout), (secs(5), secs(2)));
        assert_eq!((ch.rise, ch.fall), (1, 3), "retry 2: three failures");
        assert_eq!(ch.connect_port, None);
    }
    let paths: Vec<&str> = a
        .checks
        .iter()
        .map(|c| http(&c.kind).path.as_str())
        .collect();
    assert_eq!(paths, ["/healthz", "/status?format=short", "/"]);
    let h0 = http(&a.checks[0].kind);
    assert_eq!(h0.host.as_deref(), Some("www.example.com"));
    assert_eq!(h0.expect_status, StatusSet(vec![(200, 200)]));
    let h1 = http(&a.checks[1].kind);
    assert_eq!(h1.expect_status, StatusSet(vec![(200, 299), (304, 304)]));
    assert_eq!(h1.expect_body.as_deref(), Some("^ok"));
    let h2 = http(&a.checks[2].kind);
    assert_eq!(h2.host.as_deref(), Some("static.example.com"));
    assert_eq!(h2.expect_status, StatusSet(vec![(200, 299)]));
    assert!(cfg.vrrp_instances.is_empty());
    assert_eq!(
        omitted(&c),
        [
            "nat-http.conf:7: notification_email",
            "nat-http.conf:10: smtp_server",
            "nat-http.conf:34: digest",
            "nat-http.conf:55: digest",
        ]
    );
    why(&c, 34, "expect_body");
    // The header lists them too, and says where the config came from.
    assert!(c.yaml.starts_with("# Converted from "), "{}", c.yaml);
    assert!(c.yaml.contains("# Not converted (4):\n"), "{}", c.yaml);
    assert!(
        c.yaml
            .contains("nat-http.conf:55: digest: no ipvsd equivalent"),
        "{}",
        c.yaml
    );
}

#[test]
fn direct_routing_with_tcp_checks_and_inhibit_on_failure() {
    let (c, cfg) = import("dr-tcp.conf");
    let v = vs(&cfg, "tcp/192.0.2.10:443");
    assert_eq!(v.scheduler, Scheduler::Lc);
    assert_eq!(v.on_failure, OnFailure::Drain);
    let a = rs(v, "198.51.100.11");
    assert_eq!((a.port, a.weight, a.forwarding), (443, 10, Forwarding::Dr));
    assert_eq!((a.upper_threshold, a.lower_threshold), (1000, 800));
    assert_eq!(a.checks.len(), 1);
    let ch = &a.checks[0];
    assert_eq!(ch.kind, CheckKind::Tcp);
    assert_eq!(
        (ch.interval, ch.timeout, ch.rise, ch.fall),
        (secs(3), secs(2), 1, 2)
    );
    assert_eq!(ch.connect_port, Some(8443));
    assert_eq!(ch.source_address, Some(ip("198.51.100.1")));
    assert_eq!(rs(v, "198.51.100.12").weight, 5);
    // A DR real server written with another port: the kernel ignores it, the check keeps it.
    let c13 = rs(v, "198.51.100.13");
    assert_eq!((c13.port, c13.weight), (443, 0));
    assert_eq!(c13.checks[0].connect_port, Some(8443));
    assert_eq!(
        (c13.checks[0].interval, c13.checks[0].timeout),
        (secs(1), secs(1))
    );
    assert_eq!(
        omitted(&c),
        ["dr-tcp.conf:27: real_server", "dr-tcp.conf:32: warmup"]
    );
    why(&c, 27, "checks still probe port 8443");
}

#[test]
fn tunnels_keep_their_type_port_and_checksum() {
    let (c, cfg) = import("tun.conf");
    let v = vs(&cfg, "tcp/192.0.2.20:80");
    let gue = Forwarding::Tunnel {
        kind: TunnelType::Gue { port: 6080 },
        csum: TunnelCsum::Csum,
    };
    assert_eq!(rs(v, "198.51.100.21").forwarding, gue);
    // `lvs_method TUN` alone is ipip, not the service's gue.
    assert_eq!(
        rs(v, "198.51.100.22").forwarding,
        Forwarding::Tunnel {
            kind: TunnelType::Ipip,
            csum: TunnelCsum::NoCsum
        }
    );
    assert_eq!(
        rs(v, "2001:db8::22").forwarding,
        Forwarding::Tunnel {
            kind: TunnelType::Gre,
            csum: TunnelCsum::Csum
        }
    );
    let sorry = v.sorry_server.as_ref().unwrap();
    assert_eq!((sorry.address, sorry.port), (ip("192.0.2.254"), 80));
    assert_eq!(sorry.forwarding, Forwarding::Dr);
    assert_eq!(v.real_servers[0].checks[0].interval, secs(10));
    assert!(omitted(&c).is_empty(), "{:?}", c.omissions);
    assert!(c.yaml.contains("# Everything was converted.\n"));
}

#[test]
fn fwmark_with_sh_flags_persistence_and_granularity() {
    let (c, cfg) = import("fwmark-sh.conf");
    let v = vs(&cfg, "fwmark/3");
    assert_eq!(
        v.key,
        ServiceKey::Fwmark {
            family: Family::Inet,
            mark: 3
        }
    );
    assert_eq!(v.scheduler, Scheduler::Sh);
    assert_eq!(v.scheduler_flags, 0b11 << 3, "sh-fallback and sh-port");
    let p = v.persistence.as_ref().unwrap();
    assert_eq!((p.timeout, p.netmask), (600, 0xffff_ff00));
    let a = rs(v, "198.51.100.31");
    assert_eq!((a.port, a.forwarding), (0, Forwarding::Dr));
    let ports: Vec<Option<u16>> = a.checks.iter().map(|c| c.connect_port).collect();
    assert_eq!(ports, [Some(80), Some(443)]);
    // No port anywhere: the TCP_CHECK cannot be converted, the server has no check.
    assert!(rs(v, "198.51.100.33").checks.is_empty());
    let v4 = vs(&cfg, "fwmark/4");
    assert!(v4.one_packet);
    assert_eq!(v4.persistence.as_ref().unwrap().timeout, 360);
    assert_eq!(v4.scheduler_flags, 1 << 3, "flag-1");
    match &v4.real_servers[0].checks[0].kind {
        CheckKind::Exec(e) => {
            assert_eq!(e.program, Path::new("/usr/local/bin/check-fwmark4"));
            assert!(e.args.is_empty());
        }
        other => panic!("{other:?}"),
    }
    let ch = &v4.real_servers[0].checks[0];
    assert_eq!((ch.interval, ch.timeout, ch.fall), (secs(60), secs(60), 1));
    assert_eq!(omitted(&c), ["fwmark-sh.conf:31: TCP_CHECK"]);
    why(&c, 31, "nothing to probe");
}

#[test]
fn a_virtual_server_group_is_one_virtual_server_per_member() {
    let (c, cfg) = import("group.conf");
    // 192.0.2.40, .41-42, fwmark 7, 192.0.2.48/29 (8 addresses); the /22 is not expanded.
    let names: Vec<&str> = cfg
        .virtual_servers
        .iter()
        .map(|v| v.name.as_str())
        .collect();
    let expected: Vec<String> = (1..=12).map(|i| format!("web-{i}")).collect();
    assert_eq!(names, expected);
    let keys: Vec<String> = cfg
        .virtual_servers
        .iter()
        .map(|v| v.key.to_string())
        .collect();
    assert_eq!(
        keys[..5],
        [
            "tcp 192.0.2.40:80",
            "tcp 192.0.2.41:80",
            "tcp 192.0.2.42:80",
            "fwmark 7",
            "tcp 192.0.2.48:8080"
        ]
    );
    assert_eq!(keys[11], "tcp 192.0.2.55:8080");
    for v in &cfg.virtual_servers {
        assert_eq!(v.persistence.as_ref().unwrap().timeout, 120);
        assert_eq!(v.real_servers.len(), 2, "{}", v.name);
        for r in &v.real_servers {
            assert_eq!((r.weight, r.forwarding), (3, Forwarding::Dr));
            assert_eq!(r.checks.len(), 1);
            assert_eq!(r.checks[0].connect_port, Some(80));
            assert_eq!(r.checks[0].interval, secs(4));
        }
    }
    // Real servers without a port take each member's port.
    assert_eq!(vs(&cfg, "web-5").real_servers[0].port, 8080);
    assert_eq!(vs(&cfg, "web-4").real_servers[0].port, 0);
    assert_eq!(
        omitted(&c),
        [
            "group.conf:7: virtual_server_group",
            "group.conf:33: virtual_server"
        ]
    );
    why(&c, 7, "1024 addresses");
    why(&c, 33, "no virtual_server_group nosuch");
}

#[test]
fn ssl_get_uses_the_ssl_blocks_ca_and_client_certificate() {
    let (c, cfg) = import("ssl.conf");
    let v = vs(&cfg, "tcp/192.0.2.50:443");
    let ch = &v.real_servers[0].checks[0];
    assert_eq!((ch.interval, ch.timeout, ch.fall), (secs(10), secs(4), 2));
    match &ch.kind {
        CheckKind::Https(h, tls) => {
            assert_eq!(h.path, "/health");
            assert_eq!(
                tls.ca_file.as_deref(),
                Some(Path::new("/etc/keepalived/lab-ca.pem"))
            );
            assert!(!tls.system_roots);
            assert_eq!(
                tls.client_cert.as_deref(),
                Some(Path::new("/etc/keepalived/client.pem"))
            );
            assert_eq!(
                tls.client_key.as_deref(),
                Some(Path::new("/etc/keepalived/client.key"))
            );
            assert_eq!(tls.server_name.as_deref(), Some("www.example.com"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        omitted(&c),
        ["ssl.conf:6: password", "ssl.conf:16: SSL_GET"]
    );
    why(&c, 16, "keepalived does not verify the server certificate");
}

#[test]
fn ssl_get_without_a_ca_trusts_the_system_roots_and_says_so() {
    let (c, cfg) = import("ssl-noca.conf");
    let v = vs(&cfg, "tcp/192.0.2.55:443");
    let r = &v.real_servers[0];
    assert_eq!((r.port, r.forwarding), (8443, Forwarding::Nat));
    match &r.checks[0].kind {
        CheckKind::Https(h, tls) => {
            assert!(tls.system_roots);
            assert_eq!(tls.ca_file, None);
            assert_eq!(h.host.as_deref(), Some("shop.example.com"));
        }
        other => panic!("{other:?}"),
    }
    // keepalived's defaults: delay_loop 60 s, connect_timeout 5 s, retry 1.
    let ch = &r.checks[0];
    assert_eq!(
        (ch.interval, ch.timeout, ch.rise, ch.fall),
        (secs(60), secs(5), 1, 2)
    );
    assert_eq!(omitted(&c), ["ssl-noca.conf:6: SSL_GET"]);
    why(&c, 6, "set `ca_file`");
}

#[test]
fn dns_checks_query_what_keepalived_queried_on_the_same_port() {
    let (c, cfg) = import("dns.conf");
    let v = vs(&cfg, "udp/192.0.2.53:53");
    assert!(v.one_packet);
    assert_eq!(v.real_servers[0].checks, v.real_servers[1].checks);
    let ch = &v.real_servers[0].checks[0];
    assert_eq!(
        (ch.interval, ch.timeout, ch.fall),
        (secs(2), secs(1), 4),
        "DNS retry defaults to 3"
    );
    match &ch.kind {
        CheckKind::Dns(d) => {
            assert_eq!(
                (d.query_name.as_str(), d.query_type.as_str()),
                ("www.example.com", "A")
            );
        }
        other => panic!("{other:?}"),
    }
    let v2 = vs(&cfg, "udp/192.0.2.54:53");
    assert_eq!(
        v2.real_servers.len(),
        2,
        "the second definition is not merged in"
    );
    let r = rs(v2, "198.51.100.55");
    assert_eq!(r.port, 5353);
    let ch = &r.checks[0];
    assert_eq!(
        ch.connect_port,
        Some(5353),
        "keepalived queried the real server's port"
    );
    assert_eq!(ch.fall, 2);
    match &ch.kind {
        CheckKind::Dns(d) => {
            assert_eq!((d.query_name.as_str(), d.query_type.as_str()), (".", "SOA"))
        }
        other => panic!("{other:?}"),
    }
    match &rs(v2, "198.51.100.56").checks[0].kind {
        CheckKind::Dns(d) => assert_eq!(d.query_type, "SOA"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        omitted(&c),
        ["dns.conf:34: type", "dns.conf:41: virtual_server"]
    );
    why(&c, 34, "RRSIG");
    why(&c, 41, "already defined");
}

#[test]
fn misc_check_commands_become_program_and_args_without_a_shell() {
    let (c, cfg) = import("misc.conf");
    assert_eq!(cfg.global.exec_user, "keepalived_script");
    let v = vs(&cfg, "tcp/192.0.2.60:3306");
    let exec = |addr: &str, i: usize| match &rs(v, addr).checks[i].kind {
        CheckKind::Exec(e) => e.clone(),
        other => panic!("{other:?}"),
    };
    let e = exec("198.51.100.61", 0);
    assert_eq!(e.program, Path::new("/usr/local/bin/check_mysql"));
    assert_eq!(
        e.args,
        ["--host", "198.51.100.61", "--port", "3306", "select 1"]
    );
    assert_eq!(e.user.as_deref(), Some("mysqlcheck"));
    let ch = &rs(v, "198.51.100.61").checks[0];
    assert_eq!(
        (ch.interval, ch.timeout, ch.fall),
        (secs(10), secs(5), 1),
        "MISC retry defaults to 0"
    );
    // Shell syntax stays literal (keepalived runs no shell either), and is listed.
    let e = exec("198.51.100.62", 0);
    assert_eq!(
        e.args,
        ["--host", "198.51.100.62", "|", "grep", "-q", "alive"]
    );
    let ch = &rs(v, "198.51.100.62").checks[0];
    assert_eq!(
        (ch.timeout, ch.fall),
        (secs(10), 3),
        "misc_timeout 30 > delay_loop 10"
    );
    let e = exec("198.51.100.63", 0);
    assert_eq!(e.program, Path::new("/bin/sh"));
    assert_eq!(
        e.args,
        ["-c", "mysqladmin -h 198.51.100.63 ping | grep -q alive"]
    );
    let e = exec("198.51.100.63", 1);
    assert_eq!(e.program, Path::new("/usr/bin/env"));
    assert_eq!(e.args, ["check_disk.sh"]);
    assert_eq!(
        omitted(&c),
        [
            "misc.conf:4: enable_script_security",
            "misc.conf:21: MISC_CHECK",
            "misc.conf:21: MISC_CHECK",
            "misc.conf:24: misc_dynamic",
            "misc.conf:32: MISC_CHECK",
            "misc.conf:34: connect_port",
        ]
    );
    why(&c, 21, "shell syntax (`|`)");
    why(&c, 21, "timeout 10s instead");
    why(&c, 32, "/usr/bin/env");
}

#[test]
fn sorry_server_quorum_and_hysteresis_keep_keepalived_thresholds() {
    let (c, cfg) = import("sorry-quorum.conf");
    let v = vs(&cfg, "tcp/192.0.2.70:80");
    // keepalived: lost below 3 - 1, regained at 3 + 1. ipvsd: lost below quorum, regained
    // at quorum + hysteresis.
    assert_eq!((v.quorum, v.hysteresis), (2, 2));
    let sorry = v.sorry_server.as_ref().unwrap();
    assert_eq!((sorry.address, sorry.port), (ip("127.0.0.1"), 8080));
    assert_eq!(sorry.forwarding, Forwarding::Dr);
    assert_eq!(v.real_servers.iter().map(|r| r.weight).sum::<u32>(), 4);
    // No `protocol`: keepalived's default is UDP.
    let v2 = vs(&cfg, "udp/192.0.2.71:80");
    assert_eq!(v2.quorum, 1, "an unreachable quorum is not converted");
    assert_eq!(v2.sorry_server.as_ref().unwrap().port, 80);
    assert_eq!(
        omitted(&c),
        [
            "sorry-quorum.conf:10: quorum_up",
            "sorry-quorum.conf:11: quorum_down",
            "sorry-quorum.conf:14: sorry_server_inhibit",
            "sorry-quorum.conf:31: virtual_server",
            "sorry-quorum.conf:33: quorum",
        ]
    );
    why(&c, 31, "keepalived uses UDP");
    why(&c, 33, "can never be met");
}

#[test]
fn inhibit_on_failure_is_drain_and_alpha_starts_servers_down() {
    let (c, cfg) = import("inhibit-alpha.conf");
    let v = vs(&cfg, "tcp/192.0.2.80:80");
    assert_eq!(v.on_failure, OnFailure::Drain);
    assert_eq!(rs(v, "198.51.100.81").initial_state, InitialState::Down);
    assert_eq!(
        rs(v, "198.51.100.82").initial_state,
        InitialState::Up,
        "alpha off"
    );
    assert_eq!(rs(v, "198.51.100.83").initial_state, InitialState::Down);
    let v2 = vs(&cfg, "tcp/192.0.2.81:80");
    assert_eq!(v2.on_failure, OnFailure::Drain, "every real server says so");
    assert_eq!(
        v2.real_servers[0].initial_state,
        InitialState::Down,
        "a checker's alpha"
    );
    assert_eq!(omitted(&c), ["inhibit-alpha.conf:22: inhibit_on_failure"]);
    why(&c, 22, "one `on_failure` per virtual server");
}

#[test]
fn ipv6_virtual_server_and_vrrp_instance() {
    let (c, cfg) = import("ipv6.conf");
    let v = vs(&cfg, "tcp/[2001:db8::80]:443");
    assert_eq!(v.scheduler, Scheduler::Mh);
    assert_eq!(v.scheduler_flags, 1 << 4, "mh-port");
    assert_eq!(v.persistence.as_ref().unwrap().netmask, 64);
    assert_eq!(v.real_servers.len(), 2, "the IPv4 real server is left out");
    assert_eq!(rs(v, "2001:db8:1::10").port, 443);
    let f = vs(&cfg, "fwmark6/6");
    assert_eq!(
        f.key,
        ServiceKey::Fwmark {
            family: Family::Inet6,
            mark: 6
        },
        "the family of its real servers"
    );
    let vi = &cfg.vrrp_instances[0];
    assert_eq!(vi.name, "VI6");
    assert_eq!(vi.version, VrrpVersion::V3);
    assert_eq!((vi.vrid, vi.priority), (60, 150));
    assert_eq!(vi.advert_interval, Duration::from_millis(500));
    assert_eq!(vi.family, Family::Inet6);
    let vips: Vec<(String, u8, &str)> = vi
        .virtual_addresses
        .iter()
        .map(|a| (a.address.to_string(), a.prefix_len, a.device.as_str()))
        .collect();
    assert_eq!(
        vips,
        [
            ("2001:db8::80".to_string(), 64, "eth0"),
            ("2001:db8::81".to_string(), 64, "eth1")
        ]
    );
    assert_eq!(vi.unicast_source, Some(ip("2001:db8::2")));
    assert_eq!(vi.unicast_peers, [ip("2001:db8::3")]);
    assert_eq!(
        omitted(&c),
        [
            "ipv6.conf:10: virtual_ipaddress",
            "ipv6.conf:15: unicast_peer",
            "ipv6.conf:44: real_server"
        ]
    );
}

#[test]
fn a_vrrp_pair_in_a_sync_group_with_unicast_auth_tracking_and_notify() {
    let (c, cfg) = import("vrrp-pair.conf");
    assert_eq!(cfg.global.node_name, "lb-a");
    assert_eq!(cfg.global.exec_user, "root");
    assert!(cfg.virtual_servers.is_empty());
    let [ext, int] = &cfg.vrrp_instances[..] else {
        panic!("{:?}", cfg.vrrp_instances)
    };
    assert_eq!(
        (ext.name.as_str(), ext.interface.as_str(), ext.vrid),
        ("VI_EXT", "eth0", 51)
    );
    assert_eq!(ext.version, VrrpVersion::V2, "global_defs' vrrp_version");
    assert_eq!(ext.priority, 150);
    assert!(!ext.preempt);
    assert_eq!(ext.preempt_delay, secs(30));
    assert_eq!(ext.advert_interval, secs(1));
    assert_eq!(ext.unicast_source, Some(ip("203.0.113.2")));
    assert_eq!(ext.unicast_peers, [ip("203.0.113.3")]);
    assert_eq!(
        ext.auth_password.as_deref(),
        Some("s3cret-t"),
        "keepalived uses 8 characters"
    );
    assert_eq!(ext.sync_group.as_deref(), Some("VG_1"));
    assert_eq!(int.sync_group.as_deref(), Some("VG_1"));
    let vips: Vec<String> = ext
        .virtual_addresses
        .iter()
        .map(|a| format!("{}/{} {}", a.address, a.prefix_len, a.device))
        .collect();
    assert_eq!(vips, ["203.0.113.7/24 eth0", "203.0.113.53/24 eth0"]);
    // eth0 unweighted; eth3's weight dropped by keepalived (sync group member); the
    // group's eth2 -30 on both members.
    let tracks: Vec<(&str, i32)> = ext
        .track_interfaces
        .iter()
        .map(|t| (t.name.as_str(), t.weight))
        .collect();
    assert_eq!(tracks, [("eth0", 0), ("eth3", 0), ("eth2", -30)]);
    let tracks: Vec<(&str, i32)> = int
        .track_interfaces
        .iter()
        .map(|t| (t.name.as_str(), t.weight))
        .collect();
    // keepalived also tracks each instance's own interface (no `dont_track_primary`).
    assert_eq!(tracks, [("eth2", -30), ("eth1", 0)]);
    let n = ext.notify.as_ref().unwrap();
    assert_eq!(n.program, Path::new("/usr/local/bin/vrrp-notify"));
    assert_eq!(n.args, ["--site", "a"]);
    assert_eq!(n.user.as_deref(), Some("nobody"));
    assert_eq!(
        (ext.garp.repeat, ext.garp.delay, ext.garp.refresh),
        (5, Duration::from_millis(100), secs(60))
    );
    assert_eq!(int.garp.repeat, 2, "global_defs' vrrp_garp_master_repeat");
    assert_eq!(ext.ipvs_sync, None);
    let sync = int.ipvs_sync.as_ref().unwrap();
    assert_eq!((sync.interface.as_str(), sync.sync_id), ("eth1", 7));
    assert_eq!(int.unicast_peers, [ip("198.51.100.3")]);
    assert_eq!(
        omitted(&c),
        [
            "vrrp-pair.conf:8: vrrp_garp_master_delay",
            "vrrp-pair.conf:9: lvs_sync_daemon",
            "vrrp-pair.conf:21: notify_master",
            "vrrp-pair.conf:22: smtp_alert",
            "vrrp-pair.conf:26: state",
            "vrrp-pair.conf:47: track_interface",
            "vrrp-pair.conf:49: notify",
            "vrrp-pair.conf:50: notify_backup",
            "vrrp-pair.conf:62: unicast_peer",
            "vrrp-pair.conf:68: track_interface",
            "vrrp-pair.conf:69: track_interface",
            "vrrp-pair.conf:72: track_script",
        ]
    );
    why(&c, 72, "there is no (converted) vrrp_script chk_haproxy");
    why(&c, 9, "maxlen");
    why(&c, 49, "adapt the program");
    why(&c, 62, "min_ttl 250");
}

#[test]
fn track_interface_weights_keep_keepalived_effective_priorities() {
    // Positive weights count while the interface is up in keepalived, ipvsd's while it is
    // down: the base priority rises by what keepalived adds while up.
    let text = "vrrp_instance VI_1 {\n\
                \x20 interface eth0\n\
                \x20 virtual_router_id 1\n\
                \x20 priority 100\n\
                \x20 virtual_ipaddress {\n    192.0.2.1\n  }\n\
                \x20 track_interface {\n\
                \x20   eth1 weight 20\n\
                \x20   eth2 weight -15\n\
                \x20   eth3 weight 10 reverse\n\
                \x20   eth4 weight -5 reverse\n\
                \x20   eth5\n\
                \x20 }\n\
                }\n";
    let conv = keepalived::convert_str("k.conf", text).unwrap();
    let (c, cfg) = load(&conv);
    let vi = &cfg.vrrp_instances[0];
    // keepalived: 100 (+20 if eth1 up) (-15 if eth2 down) (+10 if eth3 down) (-5 if eth4 up).
    assert_eq!(vi.priority, 115);
    let tracks: BTreeMap<&str, i32> = vi
        .track_interfaces
        .iter()
        .map(|t| (t.name.as_str(), t.weight))
        .collect();
    assert_eq!(
        tracks,
        BTreeMap::from([
            // The instance's own interface, as keepalived tracks it.
            ("eth0", 0),
            ("eth1", -20),
            ("eth2", -15),
            ("eth3", 10),
            ("eth4", 5),
            ("eth5", 0)
        ])
    );
    // Every combination of up/down gives keepalived's priority.
    for mask in 0u8..16 {
        let up = |i: u8| mask & (1 << i) != 0;
        let keepalived = 100 + if up(0) { 20 } else { 0 } - if up(1) { 0 } else { 15 }
            + if up(2) { 0 } else { 10 }
            - if up(3) { 5 } else { 0 };
        let names = ["eth1", "eth2", "eth3", "eth4"];
        let ipvsd: i32 = i32::from(vi.priority)
            + names
                .iter()
                .enumerate()
                .filter(|(i, _)| !up(*i as u8))
                .map(|(_, n)| tracks[n])
                .sum::<i32>();
        assert_eq!(ipvsd, keepalived, "interfaces up: {mask:04b}");
    }
    assert!(c.omissions.is_empty(), "{:?}", c.omissions);
    assert!(
        c.yaml
            .contains("priority: 115  # keepalived priority 100, plus eth1 +20, eth4 -5 while up"),
        "{}",
        c.yaml
    );
}

#[test]
fn vrrp_scripts_and_their_weights_keep_keepalived_effective_priorities() {
    let text = "vrrp_script chk_haproxy {\n\
                \x20 script \"/usr/bin/killall -0 haproxy\"\n\
                \x20 interval 2\n\
                \x20 timeout 1\n\
                \x20 rise 3\n\
                \x20 fall 2\n\
                \x20 weight 20\n\
                \x20 user nobody\n\
                }\n\
                vrrp_script maint {\n\
                \x20 script \"test -e /etc/maint\"\n\
                \x20 init_fail\n\
                \x20 timeout 5\n\
                }\n\
                vrrp_script gw {\n\
                \x20 script \"/bin/ping -c1 -W1 192.0.2.254\"\n\
                \x20 weight -30\n\
                }\n\
                vrrp_instance VI_1 {\n\
                \x20 interface eth0\n\
                \x20 virtual_router_id 1\n\
                \x20 priority 100\n\
                \x20 virtual_ipaddress {\n    192.0.2.1\n  }\n\
                \x20 track_script {\n\
                \x20   chk_haproxy\n\
                \x20   maint weight 10 reverse\n\
                \x20   gw\n\
                \x20   missing\n\
                \x20 }\n\
                }\n";
    let conv = keepalived::convert_str("k.conf", text).unwrap();
    let (c, cfg) = load(&conv);
    let names: Vec<&str> = cfg.vrrp_scripts.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["chk_haproxy", "maint", "gw"]);
    let h = &cfg.vrrp_scripts[0];
    assert_eq!(h.exec.program, Path::new("/usr/bin/killall"));
    assert_eq!(h.exec.args, ["-0", "haproxy"]);
    assert_eq!(h.exec.user.as_deref(), Some("nobody"));
    assert_eq!((h.interval, h.timeout), (secs(2), secs(1)));
    assert_eq!((h.rise, h.fall, h.init_fail), (3, 2, false));
    let m = &cfg.vrrp_scripts[1];
    // A relative program runs through env; the timeout is cut to the interval.
    assert_eq!(m.exec.program, Path::new("/usr/bin/env"));
    assert_eq!(m.exec.args, ["test", "-e", "/etc/maint"]);
    assert_eq!(
        (m.interval, m.timeout, m.init_fail),
        (secs(1), secs(1), true)
    );
    let vi = &cfg.vrrp_instances[0];
    // keepalived: 100 (+20 while chk_haproxy passes) (+10 while maint fails)
    // (-30 while gw fails).
    assert_eq!(vi.priority, 120);
    let tracks: BTreeMap<&str, i32> = vi
        .track_scripts
        .iter()
        .map(|t| (t.name.as_str(), t.weight))
        .collect();
    assert_eq!(
        tracks,
        BTreeMap::from([("chk_haproxy", -20), ("maint", 10), ("gw", -30)])
    );
    for mask in 0u8..8 {
        let passes = |i: u8| mask & (1 << i) != 0;
        let keepalived = 100 + if passes(0) { 20 } else { 0 } + if passes(1) { 0 } else { 10 }
            - if passes(2) { 0 } else { 30 };
        let names = ["chk_haproxy", "maint", "gw"];
        let ipvsd: i32 = i32::from(vi.priority)
            + names
                .iter()
                .enumerate()
                .filter(|(i, _)| !passes(*i as u8))
                .map(|(_, n)| tracks[n])
                .sum::<i32>();
        assert_eq!(ipvsd, keepalived, "scripts passing: {mask:03b}");
    }
    assert_eq!(
        omitted(&c),
        [
            "k.conf:10: vrrp_script",
            "k.conf:11: script",
            "k.conf:30: track_script"
        ]
    );
    why(&c, 11, "/usr/bin/env");
    why(&c, 10, "timeout longer than the interval");
    why(&c, 30, "no (converted) vrrp_script missing");
}

#[test]
fn includes_are_read_in_place_and_items_name_their_file() {
    let (c, cfg) = import("include.conf");
    assert_eq!(cfg.global.node_name, "lb-include");
    let names: Vec<&str> = cfg
        .virtual_servers
        .iter()
        .map(|v| v.name.as_str())
        .collect();
    assert_eq!(
        names,
        ["tcp/192.0.2.110:80", "udp/192.0.2.110:53"],
        "sorted glob order"
    );
    let web = vs(&cfg, "tcp/192.0.2.110:80");
    assert_eq!(web.real_servers[0].checks[0].interval, secs(2));
    assert_eq!(cfg.vrrp_instances[0].version, VrrpVersion::V2);
    assert_eq!(
        omitted(&c),
        [
            "include.d/10-web.conf:12: notify_up",
            "include.d/20-dns.conf:6: notify_down",
            "include.conf:7: includer",
        ]
    );
    why(&c, 7, "no file matches");
    assert!(
        c.yaml
            .contains("(tests/import/keepalived/include.d/20-dns.conf:2)")
            || c.yaml.contains("include.d/20-dns.conf:2)"),
        "{}",
        c.yaml
    );
}

#[test]
fn everything_without_an_equivalent_is_listed_never_dropped() {
    let (c, cfg) = import("unknown.conf");
    // VI_B is conditional (@lb-b), VI_NOVIP has no address: only VI_U is converted.
    let names: Vec<&str> = cfg.vrrp_instances.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["VI_U"]);
    let u = &cfg.vrrp_instances[0];
    assert!(u.address_owner);
    assert_eq!(u.priority, 255);
    let tracks: Vec<&str> = u.track_interfaces.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        tracks,
        ["eth1"],
        "an owner's weighted tracker is not tracked by keepalived"
    );
    assert_eq!(cfg.virtual_servers.len(), 1);
    assert!(cfg.virtual_servers[0].real_servers[0].checks.is_empty());
    assert_eq!(
        omitted(&c),
        [
            "unknown.conf:2: $MAX_PRIO=200",
            "unknown.conf:5: vrrp_strict",
            "unknown.conf:6: enable_snmp_checker",
            "unknown.conf:7: lvs_flush",
            "unknown.conf:8: lvs_sync_daemon",
            "unknown.conf:9: frobnicate",
            "unknown.conf:18: static_ipaddress",
            "unknown.conf:22: @lb-b",
            "unknown.conf:34: use_vmac",
            "unknown.conf:36: mcast_src_ip",
            "unknown.conf:38: virtual_ipaddress",
            "unknown.conf:40: virtual_ipaddress_excluded",
            "unknown.conf:45: track_interface",
            "unknown.conf:48: track_script",
            "unknown.conf:50: notify_fault",
            "unknown.conf:51: notify_master",
            "unknown.conf:52: auth_hmac",
            "unknown.conf:55: mystery_option",
            "unknown.conf:58: vrrp_instance",
            "unknown.conf:61: no_virtual_ipaddress",
            "unknown.conf:64: virtual_server",
            "unknown.conf:66: smtp_alert",
            "unknown.conf:67: ha_suspend",
            "unknown.conf:69: SMTP_CHECK",
            "unknown.conf:72: PING_CHECK",
            "unknown.conf:74: smtp_alert",
            "unknown.conf:78: something_else",
        ]
    );
    why(&c, 5, "no ipvsd equivalent");
    why(&c, 9, "unknown keyword in global_defs");
    why(&c, 22, "conditional configuration");
    why(
        &c,
        48,
        "chk_haproxy: keepalived does not track weighted scripts of an address owner",
    );
    assert_eq!(
        cfg.vrrp_scripts.len(),
        1,
        "vrrp_script chk_haproxy is converted"
    );
    why(&c, 38, "brd 192.0.2.255 scope global");
    why(&c, 55, "unknown keyword in vrrp_instance");
    why(
        &c,
        78,
        "unknown keyword in the top level; not converted (with its block)",
    );
}

#[test]
fn keepalived_own_corrections_are_applied_and_listed() {
    // No protocol: UDP. Port 0 without persistence: persistent 360 s. A protocol on a
    // fwmark service: ignored. (keepalived's check_data.c does the same, logging each.)
    let text = "virtual_server 192.0.2.1 0 {\n\
                \x20 lb_kind DR\n\
                \x20 real_server 198.51.100.1 {\n  }\n\
                }\n\
                virtual_server fwmark 5 {\n\
                \x20 protocol TCP\n\
                \x20 real_server 198.51.100.2 {\n  }\n\
                }\n";
    let conv = keepalived::convert_str("k.conf", text).unwrap();
    let (c, cfg) = load(&conv);
    let v = vs(&cfg, "udp/192.0.2.1:0");
    assert_eq!(v.persistence.as_ref().unwrap().timeout, 360);
    assert_eq!(v.real_servers[0].port, 0);
    assert_eq!(vs(&cfg, "fwmark/5").real_servers.len(), 1);
    let items: Vec<String> = c.omissions.iter().map(ToString::to_string).collect();
    assert_eq!(
        items,
        [
            "k.conf:1: virtual_server: no `protocol`: keepalived uses UDP (its log says \"no protocol set - defaulting to UDP\"), and so does this config; if TCP was meant, write `protocol: tcp`",
            "k.conf:1: virtual_server: a service without a port (all ports) must be persistent: keepalived makes it persistent for 360 s, and so does this config",
            "k.conf:7: protocol: a fwmark service has no protocol (keepalived ignores it too)",
        ]
    );
}

/// Files from memory, for includes the fixtures do not cover.
struct MemFiles(BTreeMap<&'static str, &'static str>);

impl Files for MemFiles {
    fn read(&self, path: &Path) -> io::Result<String> {
        self.0
            .get(path.to_str().unwrap())
            .map(|s| s.to_string())
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
    }
    fn glob(&self, pattern: &Path) -> io::Result<Vec<PathBuf>> {
        let p = pattern.to_str().unwrap();
        let mut out: Vec<PathBuf> = ipvsd::import::expand_braces(p)
            .iter()
            .flat_map(|p| {
                self.0
                    .keys()
                    .filter(|k| ipvsd::import::path_match(p, k))
                    .map(PathBuf::from)
                    .collect::<Vec<_>>()
            })
            .collect();
        out.sort();
        Ok(out)
    }
}

#[test]
fn includes_nest_relative_to_the_including_file_with_brace_globs() {
    let files = MemFiles(BTreeMap::from([
        ("etc/keepalived.conf", "include conf.d/{web,dns}.conf\n"),
        (
            "etc/conf.d/web.conf",
            "virtual_server 192.0.2.1 80 {\n  lb_kind NAT\n  protocol TCP\n  include rs/*.conf\n}\n",
        ),
        ("etc/conf.d/rs/a.conf", "real_server 198.51.100.1 80 {\n}\n"),
        (
            "etc/conf.d/rs/b.conf",
            "real_server 198.51.100.2 80 {\n  bogus 1\n}\n",
        ),
        (
            "etc/conf.d/dns.conf",
            "virtual_server 192.0.2.1 53 {\n  protocol UDP\n  real_server 198.51.100.3 53\n}\n",
        ),
    ]));
    let conv = keepalived::convert(Path::new("etc/keepalived.conf"), &files).unwrap();
    let (c, cfg) = load(&conv);
    let v = vs(&cfg, "tcp/192.0.2.1:80");
    let addrs: Vec<String> = v
        .real_servers
        .iter()
        .map(|r| r.address.to_string())
        .collect();
    assert_eq!(addrs, ["198.51.100.1", "198.51.100.2"]);
    assert_eq!(vs(&cfg, "udp/192.0.2.1:53").real_servers.len(), 1);
    assert_eq!(
        c.omissions
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ["etc/conf.d/rs/b.conf:2: bogus: unknown keyword in real_server; not converted"]
    );
}

#[test]
fn an_include_loop_is_an_error_not_a_hang() {
    let files = MemFiles(BTreeMap::from([("a.conf", "include a.conf\n")]));
    let e = keepalived::convert(Path::new("a.conf"), &files).unwrap_err();
    assert!(
        matches!(e, ImportError::Syntax { ref file, line: 1, .. } if file == "a.conf"),
        "{e}"
    );
    assert!(e.to_string().contains("nest deeper"), "{e}");
}

#[test]
fn unbalanced_braces_are_syntax_errors_with_file_and_line() {
    let files = MemFiles(BTreeMap::from([
        (
            "main.conf",
            "global_defs {\n  router_id x\n}\ninclude vs.conf\n",
        ),
        (
            "vs.conf",
            "virtual_server 192.0.2.1 80 {\n  real_server 198.51.100.1 80 {\n    weight 2\n}\n",
        ),
    ]));
    let e = keepalived::convert(Path::new("main.conf"), &files).unwrap_err();
    assert_eq!(
        e.to_string(),
        "vs.conf:1: the block of `virtual_server` opened here is not closed (missing `}`)"
    );
    let e = keepalived::convert_str("k.conf", "virtual_server 192.0.2.1 80 {\n}\n}\n").unwrap_err();
    assert_eq!(e.to_string(), "k.conf:3: `}` closes no block");
    let e = keepalived::convert(&fixture("broken.conf"), &FsFiles).unwrap_err();
    assert!(matches!(e, ImportError::Syntax { line: 9, .. }), "{e}");
}

#[test]
fn a_missing_file_is_unreadable() {
    let e = keepalived::convert(&fixture("missing.conf"), &FsFiles).unwrap_err();
    assert!(matches!(e, ImportError::Unreadable { .. }), "{e}");
}

// ----------------------------------------------------------------------------- the CLI

fn ipvsd() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ipvsd"))
}

#[test]
fn cli_prints_the_config_and_lists_omissions_on_stderr() {
    let out = ipvsd()
        .args(["import", "keepalived"])
        .arg(fixture("sorry-quorum.conf"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(config::load_str(&stdout, Path::new("x.yaml"), &FakeEnv).is_ok());
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 6, "{stderr}");
    assert!(lines[0].ends_with("sorry-quorum.conf:10: quorum_up: no ipvsd equivalent; not converted: watch ipvsd_virtual_server_quorum_up in /metrics, or the quorum events in the log"), "{stderr}");
    assert_eq!(
        lines[5],
        "5 items not converted (also listed in the config's header)"
    );
}

#[test]
fn cli_writes_the_output_file_and_strict_refuses_omissions() {
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("ipvsd.yaml");
    let out = ipvsd()
        .args(["import", "keepalived"])
        .arg(fixture("tun.conf"))
        .arg("--strict")
        .arg("-o")
        .arg(&out_path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(out.stdout.is_empty());
    let written = std::fs::read_to_string(&out_path).unwrap();
    assert!(written.contains("name: tcp/192.0.2.20:80"), "{written}");
    let check = ipvsd().arg("check-config").arg(&out_path).output().unwrap();
    assert_eq!(check.status.code(), Some(0), "{check:?}");

    let strict = dir.path().join("strict.yaml");
    let out = ipvsd()
        .args(["import", "keepalived", "--strict", "-o"])
        .arg(&strict)
        .arg(fixture("dns.conf"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(6), "{out:?}");
    assert!(!strict.exists(), "nothing is written under --strict");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("dns.conf:34: type:"), "{stderr}");
}

#[test]
fn cli_exit_codes_for_unreadable_and_unparsable_input() {
    let out = ipvsd()
        .args(["import", "keepalived"])
        .arg(fixture("missing.conf"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.starts_with("ipvsd: cannot read "), "{stderr}");

    let out = ipvsd()
        .args(["import", "keepalived"])
        .arg(fixture("broken.conf"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("broken.conf:9: "), "{stderr}");
    assert!(out.stdout.is_empty());
}
