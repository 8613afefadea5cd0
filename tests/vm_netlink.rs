//! The netlink backend against a real kernel: every scheduler, forwarding method, address
//! family and service option is applied with `NetlinkBackend`, then read back two ways:
//! `ipvsadm -S -n` must print the expected rules and our `dump()` must equal the model.
//! Then pipelined batches (`apply_all`: mixed results, many windows, answers the kernel
//! drops) and a foreign service the model cannot represent.
//!
//! Runs only inside the test VM (`bash tests/vm/netlink.sh`); on any other host each test
//! is ignored. Every test gets a fresh network namespace, hence an empty IPVS table.

#[path = "vm_netlink_common/mod.rs"]
mod common;

use common::*;
use ipvsd::ipvs::backend::{Backend, BackendError, Op};
use ipvsd::ipvs::model::{
    Destination, Family, Forwarding, Scheduler, Service, TunnelCsum, TunnelType, svc_flags,
};
use ipvsd::ipvs::netlink::{DecodeError, Skipped, WINDOW};
use ipvsd::ipvs::task::converge;

// === Schedulers ===

/// A TCP service with one DR destination under `scheduler`; skipped when the VM kernel has
/// no module for it (twos is new in Linux 6.7).
fn scheduler_round_trips(scheduler: Scheduler) {
    let module = format!("ip_vs_{}", scheduler.name());
    if !module_available(&module) {
        skip(&format!("kernel module {module} is not available"));
        return;
    }
    let s = service(tcp("192.0.2.1", 80), scheduler);
    let d = dest("198.51.100.1", 80, Forwarding::Dr, 1);
    apply_and_check(
        &[(s, vec![d])],
        &[
            &format!("-A -t 192.0.2.1:80 -s {}", scheduler.name()),
            "-a -t 192.0.2.1:80 -r 198.51.100.1:80 -g -w 1",
        ],
    );
}

macro_rules! scheduler_tests {
    ($($name:ident => $s:ident),* $(,)?) => {$(
        #[test]
        #[ignore = "needs the IPVS test VM: bash tests/vm/netlink.sh"]
        fn $name() {
            scheduler_round_trips(Scheduler::$s);
        }
    )*};
}

scheduler_tests! {
    scheduler_rr_round_trips => Rr,
    scheduler_wrr_round_trips => Wrr,
    scheduler_lc_round_trips => Lc,
    scheduler_wlc_round_trips => Wlc,
    scheduler_lblc_round_trips => Lblc,
    scheduler_lblcr_round_trips => Lblcr,
    scheduler_dh_round_trips => Dh,
    scheduler_sh_round_trips => Sh,
    scheduler_sed_round_trips => Sed,
    scheduler_nq_round_trips => Nq,
    scheduler_fo_round_trips => Fo,
    scheduler_ovf_round_trips => Ovf,
    scheduler_mh_round_trips => Mh,
    scheduler_twos_round_trips => Twos,
}

#[test]
#[ignore = "needs the IPVS test VM: bash tests/vm/netlink.sh"]
fn scheduler_flags_are_saved_under_the_scheduler_names() {
    let mut sh = service(tcp("192.0.2.1", 80), Scheduler::Sh);
    sh.flags = svc_flags::SCHED1 | svc_flags::SCHED2;
    let mut mh = service(tcp("192.0.2.2", 80), Scheduler::Mh);
    mh.flags = svc_flags::SCHED2;
    apply_and_check(
        &[(sh, vec![]), (mh, vec![])],
        &[
            "-A -t 192.0.2.1:80 -s sh -b sh-fallback,sh-port",
            "-A -t 192.0.2.2:80 -s mh -b mh-port",
        ],
    );
}

// === Forwarding methods ===

fn tunnel(kind: TunnelType, csum: TunnelCsum) -> Forwarding {
    Forwarding::Tunnel { kind, csum }
}

/// One destination with `forwarding`; `rule` is what ipvsadm prints after `-r ADDR:PORT`.
fn forwarding_round_trips(forwarding: Forwarding, rule: &str) {
    let s = service(tcp("192.0.2.1", 80), Scheduler::Wlc);
    let d = dest("198.51.100.1", 8080, forwarding, 3);
    apply_and_check(
        &[(s, vec![d])],
        &[
            "-A -t 192.0.2.1:80 -s wlc",
            &format!("-a -t 192.0.2.1:80 -r 198.51.100.1:8080 {rule}"),
        ],
    );
}

macro_rules! forwarding_tests {
    ($($name:ident => $fwd:expr, $rule:literal;)*) => {$(
        #[test]
        #[ignore = "needs the IPVS test VM: bash tests/vm/netlink.sh"]
        fn $name() {
            forwarding_round_trips($fwd, $rule);
        }
    )*};
}

forwarding_tests! {
    forwarding_nat_round_trips => Forwarding::Nat, "-m -w 3";
    forwarding_dr_round_trips => Forwarding::Dr, "-g -w 3";
    forwarding_ipip_round_trips =>
        tunnel(TunnelType::Ipip, TunnelCsum::NoCsum), "-i -w 3 --tun-type ipip";
    forwarding_gue_without_checksum_round_trips =>
        tunnel(TunnelType::Gue { port: 6080 }, TunnelCsum::NoCsum),
        "-i -w 3 --tun-type gue --tun-port 6080 --tun-nocsum";
    forwarding_gue_with_checksum_round_trips =>
        tunnel(TunnelType::Gue { port: 6081 }, TunnelCsum::Csum),
        "-i -w 3 --tun-type gue --tun-port 6081 --tun-csum";
    forwarding_gue_with_remote_checksum_round_trips =>
        tunnel(TunnelType::Gue { port: 6082 }, TunnelCsum::RemCsum),
        "-i -w 3 --tun-type gue --tun-port 6082 --tun-remcsum";
    forwarding_gre_without_checksum_round_trips =>
        tunnel(TunnelType::Gre, TunnelCsum::NoCsum), "-i -w 3 --tun-type gre --tun-nocsum";
    forwarding_gre_with_checksum_round_trips =>
        tunnel(TunnelType::Gre, TunnelCsum::Csum), "-i -w 3 --tun-type gre --tun-csum";
    forwarding_gre_with_remote_checksum_round_trips =>
        tunnel(TunnelType::Gre, TunnelCsum::RemCsum), "-i -w 3 --tun-type gre --tun-remcsum";
}

#[test]
#[ignore = "needs the IPVS test VM: bash tests/vm/netlink.sh"]
fn ipv6_real_server_behind_an_ipv4_service_is_tunnelled() {
    let s = service(tcp("192.0.2.1", 80), Scheduler::Rr);
    let d = dest(
        "2001:db8::10",
        80,
        tunnel(TunnelType::Ipip, TunnelCsum::NoCsum),
        1,
    );
    apply_and_check(
        &[(s, vec![d])],
        &[
            "-A -t 192.0.2.1:80 -s rr",
            "-a -t 192.0.2.1:80 -r [2001:db8::10]:80 -i -w 1 --tun-type ipip",
        ],
    );
}

// === Families, protocols and service options ===

#[test]
#[ignore = "needs the IPVS test VM: bash tests/vm/netlink.sh"]
fn ipv6_address_services_round_trip_for_every_protocol() {
    let t = service(tcp("2001:db8::1", 80), Scheduler::Rr);
    let u = service(udp("2001:db8::1", 53), Scheduler::Wrr);
    let s = service(sctp("2001:db8::1", 3868), Scheduler::Lc);
    let d = |a, p| dest(a, p, Forwarding::Nat, 2);
    apply_and_check(
        &[
            (t, vec![d("2001:db8::10", 8080), d("2001:db8::11", 8080)]),
            (u, vec![d("2001:db8::12", 53)]),
            (s, vec![d("2001:db8::13", 3868)]),
        ],
        &[
            "-A -t [2001:db8::1]:80 -s rr",
            "-a -t [2001:db8::1]:80 -r [2001:db8::10]:8080 -m -w 2",
            "-a -t [2001:db8::1]:80 -r [2001:db8::11]:8080 -m -w 2",
            "-A -u [2001:db8::1]:53 -s wrr",
            "-a -u [2001:db8::1]:53 -r [2001:db8::12]:53 -m -w 2",
            "-A --sctp-service [2001:db8::1]:3868 -s lc",
            "-a --sctp-service [2001:db8::1]:3868 -r [2001:db8::13]:3868 -m -w 2",
        ],
    );
}

#[test]
#[ignore = "needs the IPVS test VM: bash tests/vm/netlink.sh"]
fn fwmark_services_round_trip_for_both_families() {
    let v4 = service(fwmark(Family::Inet, 7), Scheduler::Wlc);
    let v6 = service(fwmark(Family::Inet6, 0x1_0000), Scheduler::Wlc);
    apply_and_check(
        &[
            (v4, vec![dest("198.51.100.1", 0, Forwarding::Dr, 1)]),
            (v6, vec![dest("2001:db8::10", 0, Forwarding::Dr, 1)]),
        ],
        &[
            "-A -f 7 -s wlc",
            "-a -f 7 -r 198.51.100.1:0 -g -w 1",
            "-A -f 65536 -6 -s wlc",
            "-a -f 65536 -6 -r [2001:db8::10]:0 -g -w 1",
        ],
    );
}

#[test]
#[ignore = "needs the IPVS test VM: bash tests/vm/netlink.sh"]
fn persistence_with_an_ipv4_mask_and_an_ipv6_prefix_round_trips() {
    let mut v4 = service(tcp("192.0.2.1", 443), Scheduler::Rr);
    v4.flags = svc_flags::PERSISTENT;
    v4.timeout = 300;
    v4.netmask = 0xffff_ff00;
    let mut v6 = service(tcp("2001:db8::1", 443), Scheduler::Rr);
    v6.flags = svc_flags::PERSISTENT;
    v6.timeout = 1800;
    v6.netmask = 64;
    let mut v4_client = service(tcp("192.0.2.2", 443), Scheduler::Rr);
    v4_client.flags = svc_flags::PERSISTENT;
    v4_client.timeout = 60;
    apply_and_check(
        &[(v4, vec![]), (v4_client, vec![]), (v6, vec![])],
        &[
            "-A -t 192.0.2.1:443 -s rr -p 300 -M 255.255.255.0",
            "-A -t 192.0.2.2:443 -s rr -p 60",
            "-A -t [2001:db8::1]:443 -s rr -p 1800 -M 64",
        ],
    );
}

#[test]
#[ignore = "needs the IPVS test VM: bash tests/vm/netlink.sh"]
fn sip_persistence_engine_on_udp_round_trips() {
    if !module_available("ip_vs_pe_sip") {
        skip("kernel module ip_vs_pe_sip is not available");
        return;
    }
    let mut s = service(udp("192.0.2.1", 5060), Scheduler::Rr);
    s.flags = svc_flags::PERSISTENT;
    s.timeout = 120;
    s.pe_name = Some("sip".into());
    apply_and_check(
        &[(s, vec![dest("198.51.100.1", 5060, Forwarding::Dr, 1)])],
        &[
            "-A -u 192.0.2.1:5060 -s rr -p 120 --pe sip",
            "-a -u 192.0.2.1:5060 -r 198.51.100.1:5060 -g -w 1",
        ],
    );
}

#[test]
#[ignore = "needs the IPVS test VM: bash tests/vm/netlink.sh"]
fn one_packet_scheduling_round_trips() {
    let mut s = service(udp("192.0.2.1", 53), Scheduler::Rr);
    s.flags = svc_flags::ONEPACKET;
    apply_and_check(&[(s, vec![])], &["-A -u 192.0.2.1:53 -s rr -o"]);
}

#[test]
#[ignore = "needs the IPVS test VM: bash tests/vm/netlink.sh"]
fn thresholds_round_trip_and_show_in_ipvsadm_thresholds_listing() {
    let s = service(tcp("192.0.2.1", 80), Scheduler::Wlc);
    let mut d = dest("198.51.100.1", 80, Forwarding::Dr, 1);
    d.upper_threshold = 100;
    d.lower_threshold = 50;
    // ipvsadm's save format has no thresholds; its --thresholds listing does.
    apply_and_check(
        &[(s, vec![d])],
        &[
            "-A -t 192.0.2.1:80 -s wlc",
            "-a -t 192.0.2.1:80 -r 198.51.100.1:80 -g -w 1",
        ],
    );
    let listing = ipvsadm(&["-L", "-n", "--thresholds"]);
    // (the first line, "IP Virtual Server version ...", is checked by the GET_INFO test)
    assert_eq!(
        listing.get(1..),
        Some(
            &[
                "Prot LocalAddress:Port            Uthreshold Lthreshold ActiveConn InActConn",
                "  -> RemoteAddress:Port",
                "TCP  192.0.2.1:80 wlc",
                "  -> 198.51.100.1:80              100        50         0          0",
            ]
            .map(String::from)[..]
        )
    );
}

// === Edits, deletes, errors ===

#[test]
#[ignore = "needs the IPVS test VM: bash tests/vm/netlink.sh"]
fn edits_change_services_and_destinations_in_place_and_deletes_remove_them() {
    let mut b = backend();
    let s = service(tcp("192.0.2.1", 80), Scheduler::Rr);
    let d1 = dest("198.51.100.1", 80, Forwarding::Dr, 1);
    let d2 = dest("198.51.100.2", 80, Forwarding::Dr, 1);
    apply_all(
        &mut b,
        &add_ops(&[(s.clone(), vec![d1.clone(), d2.clone()])]),
    );

    let mut s2 = s.clone();
    s2.scheduler = Scheduler::Wlc;
    s2.flags = svc_flags::PERSISTENT;
    s2.timeout = 600;
    let mut d1b = d1.clone();
    d1b.weight = 5;
    d1b.forwarding = Forwarding::Nat;
    d1b.upper_threshold = 10;
    apply_all(
        &mut b,
        &[
            Op::EditService(s2.clone()),
            Op::EditDest(s.key, d1b.clone()),
        ],
    );
    assert_eq!(
        saved(),
        [
            "-A -t 192.0.2.1:80 -s wlc -p 600",
            "-a -t 192.0.2.1:80 -r 198.51.100.1:80 -m -w 5",
            "-a -t 192.0.2.1:80 -r 198.51.100.2:80 -g -w 1",
        ]
    );
    assert_eq!(
        b.dump().expect("dump"),
        observed(&[(s2.clone(), vec![d1b.clone(), d2.clone()])])
    );

    apply_all(&mut b, &[Op::DelDest(s.key, d2.key)]);
    assert_eq!(
        saved(),
        [
            "-A -t 192.0.2.1:80 -s wlc -p 600",
            "-a -t 192.0.2.1:80 -r 198.51.100.1:80 -m -w 5",
        ]
    );
    assert_eq!(b.dump().expect("dump"), observed(&[(s2, vec![d1b])]));

    apply_all(&mut b, &[Op::DelService(s.key)]);
    assert_eq!(saved(), Vec::<String>::new());
    assert!(b.dump().expect("dump").is_empty());
}

#[test]
#[ignore = "needs the IPVS test VM: bash tests/vm/netlink.sh"]
fn duplicates_are_exists_and_missing_entries_are_not_found() {
    let mut b = backend();
    let s = service(tcp("192.0.2.1", 80), Scheduler::Rr);
    let d = dest("198.51.100.1", 80, Forwarding::Dr, 1);
    let absent = dest("198.51.100.9", 80, Forwarding::Dr, 1);
    let other = tcp("192.0.2.99", 80);
    apply_all(&mut b, &add_ops(&[(s.clone(), vec![d.clone()])]));

    let cases: Vec<(Op, &str)> = vec![
        (Op::AddService(s.clone()), "exists"),
        (Op::AddDest(s.key, d.clone()), "exists"),
        (Op::DelDest(s.key, absent.key), "not found"),
        (Op::EditDest(s.key, absent.clone()), "not found"),
        (Op::DelService(other), "not found"),
        (Op::EditService(service(other, Scheduler::Rr)), "not found"),
        (Op::AddDest(other, d.clone()), "not found"),
        (Op::DelDest(other, d.key), "not found"),
    ];
    for (op, want) in cases {
        let got = b.apply(&op).expect_err(op.kind());
        let ok = match want {
            "exists" => matches!(got, BackendError::Exists),
            _ => matches!(got, BackendError::NotFound),
        };
        assert!(
            ok,
            "{} {}: got {got:?}, want {want}",
            op.kind(),
            op.service_key()
        );
    }
    // Nothing changed.
    assert_eq!(b.dump().expect("dump"), observed(&[(s, vec![d])]));
}

#[test]
#[ignore = "needs the IPVS test VM: bash tests/vm/netlink.sh"]
fn a_module_the_kernel_cannot_load_is_a_kernel_error_not_a_race() {
    // NEW_SERVICE/SET_SERVICE answer ENOENT for a scheduler or persistence engine whose
    // module does not exist; that must not look like a vanished entry.
    let mut b = backend();
    let mut s = service(tcp("192.0.2.1", 80), Scheduler::Rr);
    s.pe_name = Some("nosuch".into());
    let err = b.apply(&Op::AddService(s.clone())).expect_err("no such PE");
    assert!(matches!(err, BackendError::Kernel { errno: 2 }), "{err:?}");

    s.pe_name = None;
    apply_all(&mut b, &[Op::AddService(s.clone())]);
    s.pe_name = Some("nosuch".into());
    let err = b
        .apply(&Op::EditService(s.clone()))
        .expect_err("no such PE");
    assert!(matches!(err, BackendError::Kernel { errno: 2 }), "{err:?}");
    assert_eq!(saved(), ["-A -t 192.0.2.1:80 -s rr"]);
}

#[test]
#[ignore = "needs the IPVS test VM: bash tests/vm/netlink.sh"]
fn get_service_reads_one_service_and_reports_a_missing_one_as_not_found() {
    let mut b = backend();
    let s = service(udp("192.0.2.1", 53), Scheduler::Sed);
    let d = dest("198.51.100.1", 53, Forwarding::Nat, 4);
    apply_all(&mut b, &add_ops(&[(s.clone(), vec![d.clone()])]));
    let want = observed(&[(s.clone(), vec![d])]);
    assert_eq!(Some(&b.service(&s.key).expect("get")), want.get(&s.key));
    assert!(matches!(
        b.service(&udp("192.0.2.2", 53)),
        Err(BackendError::NotFound)
    ));
}

#[test]
#[ignore = "needs the IPVS test VM: bash tests/vm/netlink.sh"]
fn a_table_larger_than_one_dump_buffer_is_dumped_completely() {
    // ~250 bytes per service message and ~300 per destination message: far more than
    // one 32 KiB receive buffer, so the dumps span many recvmsg calls.
    let table: Vec<_> = (0..400u32)
        .map(|i| {
            let [a, b] = u16::try_from(i).expect("small").to_be_bytes();
            let s = service(tcp(&format!("192.0.{a}.{b}"), 80), Scheduler::Rr);
            let dests = (1..=3)
                .map(|n| {
                    dest(
                        &format!("198.51.{a}.{b}"),
                        8000 + n,
                        Forwarding::Nat,
                        n.into(),
                    )
                })
                .collect();
            (s, dests)
        })
        .collect();
    let mut b = backend();
    apply_all(&mut b, &add_ops(&table));
    let dump = b.dump().expect("dump");
    assert_eq!(dump.len(), 400);
    assert_eq!(dump, observed(&table));
    assert_eq!(saved().len(), 400 * 4);
}

// === Pipelined writes (apply_all) ===

#[test]
#[ignore = "needs the IPVS test VM: bash tests/vm/netlink.sh"]
fn apply_all_answers_each_op_of_a_mixed_batch_in_order() {
    let mut b = backend();
    let s1 = service(tcp("192.0.2.1", 80), Scheduler::Rr);
    let s2 = service(tcp("192.0.2.2", 80), Scheduler::Wlc);
    let d1 = dest("198.51.100.1", 80, Forwarding::Dr, 1);
    let d2 = dest("198.51.100.2", 80, Forwarding::Dr, 1);
    let mut d1_heavier = d1.clone();
    d1_heavier.weight = 7;
    let mut no_such_pe = service(tcp("192.0.2.3", 80), Scheduler::Rr);
    no_such_pe.pe_name = Some("nosuch".into());
    let mark_zero = service(fwmark(Family::Inet, 0), Scheduler::Rr);
    let ops = vec![
        Op::AddService(s1.clone()),
        Op::AddDest(s1.key, d1.clone()),
        Op::AddService(s1.clone()),
        Op::AddDest(s1.key, d2.clone()),
        Op::DelDest(s1.key, dest("198.51.100.9", 80, Forwarding::Dr, 1).key),
        // Not encodable: never sent, answered as the kernel would.
        Op::AddService(mark_zero),
        // The kernel cannot load the persistence engine.
        Op::AddService(no_such_pe),
        Op::AddService(s2.clone()),
        Op::AddDest(s2.key, d1.clone()),
        Op::EditDest(s1.key, d1_heavier.clone()),
        Op::EditService(service(tcp("192.0.2.99", 80), Scheduler::Rr)),
        Op::AddDest(s2.key, d1.clone()),
    ];
    let got: Vec<String> = b.apply_all(&ops).iter().map(outcome).collect();
    assert_eq!(
        got,
        [
            "ok",
            "ok",
            "exists",
            "ok",
            "not found",
            "kernel 22",
            "kernel 2",
            "ok",
            "ok",
            "ok",
            "not found",
            "exists"
        ]
    );
    assert_eq!(
        saved(),
        [
            "-A -t 192.0.2.1:80 -s rr",
            "-a -t 192.0.2.1:80 -r 198.51.100.1:80 -g -w 7",
            "-a -t 192.0.2.1:80 -r 198.51.100.2:80 -g -w 1",
            "-A -t 192.0.2.2:80 -s wlc",
            "-a -t 192.0.2.2:80 -r 198.51.100.1:80 -g -w 1",
        ]
    );
    // The socket is in step after the batch: a dump reads exactly the table.
    assert_eq!(
        b.dump().expect("dump"),
        observed(&[(s1, vec![d1_heavier, d2]), (s2, vec![d1])])
    );
}

/// `count` TCP services on 192.0.2.x:80 and 192.0.3.x:80 with `dests` NAT destinations
/// each.
fn many(count: u16, dests: u16) -> Vec<(Service, Vec<Destination>)> {
    (0..count)
        .map(|i| {
            let [hi, lo] = i.to_be_bytes();
            let s = service(tcp(&format!("192.0.{}.{lo}", 2 + hi), 80), Scheduler::Wrr);
            let ds = (1..=dests)
                .map(|n| dest(&format!("198.51.100.{n}"), 8000 + i, Forwarding::Nat, 1))
                .collect();
            (s, ds)
        })
        .collect()
}

#[test]
#[ignore = "needs the IPVS test VM: bash tests/vm/netlink.sh"]
fn apply_all_over_many_windows_applies_everything_and_answers_across_the_boundaries() {
    let table = many(60, 4);
    let mut ops = add_ops(&table);
    // The last op of the first window and the first of the second are duplicates.
    ops.insert(WINDOW - 1, ops[0].clone());
    ops.insert(WINDOW, ops[2].clone());
    assert!(ops.len() > 4 * WINDOW, "{} ops", ops.len());
    let mut b = backend();
    let got: Vec<String> = b.apply_all(&ops).iter().map(outcome).collect();
    let mut want = vec!["ok"; ops.len()];
    want[WINDOW - 1] = "exists";
    want[WINDOW] = "exists";
    assert_eq!(got, want);
    assert_eq!(b.dump().expect("dump"), observed(&table));
    assert_eq!(saved().len(), 60 * 5);
}

#[test]
#[ignore = "needs the IPVS test VM: bash tests/vm/netlink.sh"]
fn answers_the_kernel_drops_fail_their_ops_with_io_and_later_windows_are_not_sent() {
    let table = many(3 * WINDOW as u16, 0);
    let ops = add_ops(&table);
    let mut b = backend();
    // The smallest buffer the kernel allows holds only a few answers: the kernel carries
    // out the whole first window but drops most of its ACKs and reports ENOBUFS (before
    // the answers it did queue, which are still read).
    b.set_receive_buffer_size(0).expect("setsockopt");
    let got: Vec<String> = b.apply_all(&ops).iter().map(outcome).collect();
    let answered = got.iter().take_while(|o| *o == "ok").count();
    assert!(
        (1..WINDOW).contains(&answered),
        "{answered} answers read: {got:?}"
    );
    const ENOBUFS: &str = "io 105";
    assert!(got[answered..].iter().all(|o| o == ENOBUFS), "{got:?}");
    // A new connection (what the IPVS task opens after an Io error) reads the truth.
    let dump = backend().dump().expect("dump");
    assert_eq!(dump, observed(&table[..WINDOW]));
}

// === Entries the model cannot represent ===

#[test]
#[ignore = "needs the IPVS test VM: bash tests/vm/netlink.sh"]
fn a_service_without_a_scheduler_is_skipped_and_the_owned_ones_still_converge() {
    // Made by hand, next to ours: `-s none` is the kernel's service without a scheduler.
    run("ipvsadm", &["-A", "-t", "192.0.2.9:80", "-s", "none"]);
    run(
        "ipvsadm",
        &["-a", "-t", "192.0.2.9:80", "-r", "198.51.100.9:80"],
    );
    let mut b = backend();
    let s = service(tcp("192.0.2.1", 80), Scheduler::Wrr);
    let d = dest("198.51.100.1", 80, Forwarding::Nat, 1);
    apply_all(&mut b, &add_ops(&[(s.clone(), vec![d.clone()])]));

    let dump = b.dump().expect("a foreign service must not fail the dump");
    assert_eq!(dump, observed(&[(s.clone(), vec![d.clone()])]));
    assert_eq!(
        b.skipped_last_dump(),
        [Skipped {
            service: Some(tcp("192.0.2.9", 80)),
            dest: None,
            reason: DecodeError::UnknownScheduler {
                name: "none".into()
            },
        }]
    );

    // The IPVS task converges what it owns and leaves the foreign service alone.
    let mut heavier = d.clone();
    heavier.weight = 3;
    let s2 = service(tcp("192.0.2.2", 80), Scheduler::Rr);
    let desired = table(&[(s.clone(), vec![heavier]), (s2.clone(), vec![])]);
    let owned = desired.services.keys().copied().collect();
    let report = converge(&mut b, &desired, &owned);
    assert!(report.converged(), "{report:?}");
    assert_eq!(
        report.applied.iter().map(Op::kind).collect::<Vec<_>>(),
        ["edit_dest", "add_service"]
    );
    assert_eq!(
        saved(),
        [
            "-A -t 192.0.2.1:80 -s wrr",
            "-a -t 192.0.2.1:80 -r 198.51.100.1:80 -m -w 3",
            "-A -t 192.0.2.2:80 -s rr",
            "-A -t 192.0.2.9:80 -s none",
            "-a -t 192.0.2.9:80 -r 198.51.100.9:80 -g -w 1",
        ]
    );
    assert_eq!(b.skipped_last_dump().len(), 1);
}
