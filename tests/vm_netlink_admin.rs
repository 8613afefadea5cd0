//! The netlink backend against a real kernel, beyond adding and deleting: traffic counters,
//! GET_INFO, the connection timeouts and the connection-sync daemons, each checked against
//! what ipvsadm (or /proc) reports.
//!
//! Runs only inside the test VM (`bash tests/vm/netlink.sh`); on any other host each test
//! is ignored. Every test gets a fresh network namespace.

#[path = "vm_netlink_common/mod.rs"]
mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use common::*;
use ipvsd::ipvs::backend::{Backend, BackendError, Observed, SyncDaemon, SyncRole, Timeouts};
use ipvsd::ipvs::model::{Forwarding, Scheduler};

/// The numbers of an ipvsadm listing line: ("192.0.2.1:80", [4, 12, ...]).
type Listed = Vec<(String, Vec<u64>)>;

fn numbers(line: &str) -> Option<(String, Vec<u64>)> {
    let mut words = line.split_whitespace().skip(1);
    let name = words.next()?.to_string();
    let nums: Vec<u64> = words.filter_map(|w| w.parse().ok()).collect();
    Some((name, nums))
}

/// Our dump in the shape of `ipvsadm -L -n --stats --exact` (conns, inpkts, outpkts,
/// inbytes, outbytes) and of `ipvsadm -L -n` (weight, active, inactive), service first,
/// then destinations by address.
fn as_listed(observed: &Observed) -> (Listed, Listed) {
    let mut stats = Vec::new();
    let mut conns = Vec::new();
    for st in observed.values() {
        let s = &st.stats;
        let name = st.service.key.to_string().replace("tcp ", "");
        stats.push((
            name,
            vec![s.conns, s.inpkts, s.outpkts, s.inbytes, s.outbytes],
        ));
        for (k, d) in &st.dests {
            let s = &d.stats;
            stats.push((
                k.to_string(),
                vec![s.conns, s.inpkts, s.outpkts, s.inbytes, s.outbytes],
            ));
            let counts = [d.dest.weight, d.active_conns, d.inactive_conns];
            conns.push((k.to_string(), counts.map(u64::from).to_vec()));
        }
    }
    (stats, conns)
}

#[test]
#[ignore = "needs the IPVS test VM: bash tests/vm/netlink.sh"]
fn traffic_shows_in_the_dumped_counters_as_ipvsadm_reports_them() {
    run("ip", &["link", "add", "vip0", "type", "dummy"]);
    run("ip", &["link", "set", "vip0", "up"]);
    run("ip", &["addr", "add", "192.0.2.1/32", "dev", "vip0"]);
    // Two real servers in this process, two connections each (rr).
    let servers: Vec<_> = ["192.0.2.1:8080", "127.0.0.1:8081"]
        .into_iter()
        .map(|addr| {
            let listener = TcpListener::bind(addr).expect("bind real server");
            std::thread::spawn(move || {
                for conn in listener.incoming().take(2) {
                    conn.expect("accept").write_all(b"hello\n").expect("write");
                }
            })
        })
        .collect();
    let mut b = backend();
    let s = service(tcp("192.0.2.1", 80), Scheduler::Rr);
    let dests = vec![
        dest("192.0.2.1", 8080, Forwarding::Nat, 1),
        dest("127.0.0.1", 8081, Forwarding::Nat, 1),
    ];
    apply_all(&mut b, &add_ops(&[(s.clone(), dests)]));
    let vip = "192.0.2.1:80".parse().expect("address");
    for _ in 0..4 {
        let mut c = TcpStream::connect_timeout(&vip, Duration::from_secs(5)).expect("connect");
        let mut got = String::new();
        c.read_to_string(&mut got).expect("read");
        assert_eq!(got, "hello\n");
    }
    for t in servers {
        t.join().expect("real server");
    }

    // The kernel publishes counters every 2 s (the estimator). Compare once two dumps
    // taken around ipvsadm's listings agree, so all three saw the same numbers.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let before = b.dump().expect("dump");
        let stats = ipvsadm(&["-L", "-n", "--stats", "--exact"]);
        let conns = ipvsadm(&["-L", "-n"]);
        let after = b.dump().expect("dump");
        if before == after && after[&s.key].stats.conns == 4 {
            let (want_stats, want_conns) = as_listed(&after);
            let got_stats: Vec<_> = stats.iter().skip(3).filter_map(|l| numbers(l)).collect();
            let got_conns: Vec<_> = conns.iter().skip(4).filter_map(|l| numbers(l)).collect();
            assert_eq!(got_stats, want_stats, "{stats:#?}");
            assert_eq!(got_conns, want_conns, "{conns:#?}");
            for d in after[&s.key].dests.values() {
                assert_eq!(d.stats.conns, 2, "{d:?}");
            }
            break;
        }
        assert!(
            Instant::now() < deadline,
            "counters never settled at 4 connections: {after:#?}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
#[ignore = "needs the IPVS test VM: bash tests/vm/netlink.sh"]
fn get_info_reports_the_version_and_table_size_that_proc_shows() {
    let info = backend().info().expect("info");
    assert_eq!(info.version, 0x010201);
    // First line of /proc/net/ip_vs: "IP Virtual Server version 1.2.1 (size=4096)".
    let proc = std::fs::read_to_string("/proc/net/ip_vs").expect("/proc/net/ip_vs");
    let first = proc.lines().next().unwrap_or_default();
    assert_eq!(
        first,
        format!(
            "IP Virtual Server version 1.2.1 (size={})",
            info.conn_tab_size
        )
    );
}

#[test]
#[ignore = "needs the IPVS test VM: bash tests/vm/netlink.sh"]
fn timeouts_read_back_what_was_set_and_zero_leaves_a_timeout_unchanged() {
    let mut b = backend();
    let defaults = b.timeouts().expect("get");
    assert_eq!(
        ipvsadm(&["-L", "--timeout"]),
        [format!(
            "Timeout (tcp tcpfin udp): {} {} {}",
            defaults.tcp, defaults.tcp_fin, defaults.udp
        )]
    );

    let set = Timeouts {
        tcp: 1000,
        tcp_fin: 60,
        udp: 200,
    };
    b.set_timeouts(set).expect("set");
    assert_eq!(b.timeouts().expect("get"), set);
    assert_eq!(
        ipvsadm(&["-L", "--timeout"]),
        ["Timeout (tcp tcpfin udp): 1000 60 200"]
    );

    b.set_timeouts(Timeouts {
        tcp: 0,
        tcp_fin: 30,
        udp: 0,
    })
    .expect("set");
    assert_eq!(
        b.timeouts().expect("get"),
        Timeouts {
            tcp: 1000,
            tcp_fin: 30,
            udp: 200
        }
    );
}

/// A multicast-capable interface with an IPv4 address in this test's namespace.
fn sync_interface(name: &str) {
    run("ip", &["link", "add", name, "type", "dummy"]);
    run("ip", &["link", "set", name, "multicast", "on", "up"]);
    run("ip", &["addr", "add", "192.0.2.10/24", "dev", name]);
}

#[test]
#[ignore = "needs the IPVS test VM: bash tests/vm/netlink.sh"]
fn sync_daemons_start_list_and_stop_as_master_and_backup() {
    sync_interface("sync0");
    let mut b = backend();
    assert_eq!(b.sync_daemons().expect("list"), []);
    let master = SyncDaemon {
        role: SyncRole::Master,
        interface: "sync0".into(),
        sync_id: 5,
    };
    let backup = SyncDaemon {
        role: SyncRole::Backup,
        interface: "sync0".into(),
        sync_id: 7,
    };
    b.start_sync_daemon(&master).expect("start master");
    b.start_sync_daemon(&backup).expect("start backup");
    assert_eq!(
        b.sync_daemons().expect("list"),
        [master.clone(), backup.clone()]
    );
    let listing = ipvsadm(&["-L", "--daemon"]);
    assert_eq!(listing.len(), 2, "{listing:#?}");
    assert!(
        listing[0].starts_with("master sync daemon (mcast=sync0, syncid=5"),
        "{listing:#?}"
    );
    assert!(
        listing[1].starts_with("backup sync daemon (mcast=sync0, syncid=7"),
        "{listing:#?}"
    );

    assert!(matches!(
        b.start_sync_daemon(&master),
        Err(BackendError::Exists)
    ));

    b.stop_sync_daemon(SyncRole::Master).expect("stop master");
    assert_eq!(b.sync_daemons().expect("list"), [backup]);
    b.stop_sync_daemon(SyncRole::Backup).expect("stop backup");
    assert_eq!(b.sync_daemons().expect("list"), []);
    assert!(ipvsadm(&["-L", "--daemon"]).is_empty());

    assert!(matches!(
        b.stop_sync_daemon(SyncRole::Master),
        Err(BackendError::NotFound)
    ));
}

#[test]
#[ignore = "needs the IPVS test VM: bash tests/vm/netlink.sh"]
fn a_sync_daemon_on_a_missing_interface_is_refused() {
    let mut b = backend();
    let d = SyncDaemon {
        role: SyncRole::Master,
        interface: "nosuch0".into(),
        sync_id: 1,
    };
    let err = b.start_sync_daemon(&d).expect_err("no such interface");
    // ENODEV from start_sync_thread.
    assert!(matches!(err, BackendError::Kernel { errno: 19 }), "{err:?}");
    assert_eq!(b.sync_daemons().expect("list"), []);
}
