//! The IPVS generic netlink codec without a kernel: requests must be byte for byte what
//! ipvsadm sends, real kernel replies must decode into the model, encode/decode must round
//! trip, and no input may make a decoder panic.
//!
//! Netlink integers are in host byte order; the captured vectors come from x86-64, so these
//! tests only build on little-endian targets.

#![cfg(target_endian = "little")]

#[path = "netlink_codec_support/mod.rs"]
mod support;

/// Whole datagrams (framing, the controller, ACKs, dumps) and dumps with entries the model
/// cannot represent.
#[path = "netlink_codec_support/datagrams.rs"]
mod datagrams;

use support::vectors as v;
use support::*;

use std::net::IpAddr;

use ipvsd::ipvs::backend::{DestState, Info, Op, Stats, SyncDaemon, SyncRole, Timeouts};
use ipvsd::ipvs::model::{
    DestKey, Destination, Family, Forwarding, Protocol, Scheduler, Service, ServiceKey, TunnelCsum,
    TunnelType, svc_flags,
};
use ipvsd::ipvs::netlink::{
    DecodeError, EncodeError, Exchange, Request, decode_daemon, decode_dest, decode_dest_key,
    decode_family_id, decode_info, decode_service, decode_service_key, decode_timeouts,
};
use proptest::prelude::*;

// === Encoding: captured ipvsadm requests ===

#[test]
fn add_service_is_byte_for_byte_what_ipvsadm_sends() {
    let plain = svc(tcp4(), Scheduler::Rr, 0, 0, u32::MAX);
    let cases = [
        (plain, v::ADD_SERVICE_TCP4),
        (persistent_udp6(), v::ADD_SERVICE_UDP6_PERSISTENT),
        (fwmark_sh(), v::ADD_SERVICE_FWMARK),
    ];
    for (s, vector) in cases {
        assert_eq!(encode(Request::Apply(&Op::AddService(s))), hex(vector));
    }
}

#[test]
fn edit_service_is_byte_for_byte_what_ipvsadm_sends() {
    let s = svc(tcp4(), Scheduler::Wlc, 0, 0, u32::MAX);
    assert_eq!(
        encode(Request::Apply(&Op::EditService(s))),
        hex(v::EDIT_SERVICE_TCP4)
    );
}

#[test]
fn the_kernel_hashed_flag_is_never_sent() {
    let mut s = persistent_udp6();
    s.flags |= svc_flags::HASHED;
    assert_eq!(
        encode(Request::Apply(&Op::AddService(s))),
        hex(v::ADD_SERVICE_UDP6_PERSISTENT)
    );
}

/// ipvsadm repeats the whole service (with an empty scheduler name) in destination
/// commands; the kernel reads only its identifying attributes (`ip_vs_genl_parse_service`
/// with `full_entry` false), which is the nest ipvsadm itself sends to dump destinations.
/// So the expected bytes are: the command's genlmsghdr, the service nest of ipvsadm's
/// GET_DEST dump request, then ipvsadm's destination nest.
fn dest_vector(command: &str, dump_dests: &str) -> Vec<u8> {
    let cmd = hex(command);
    let service_nest_end = 4 + usize::from(u16::from_le_bytes([cmd[4], cmd[5]]));
    [&cmd[..4], &hex(dump_dests)[4..], &cmd[service_nest_end..]].concat()
}

#[test]
fn add_and_edit_dest_carry_ipvsadms_destination_attributes() {
    let nat = dest("198.51.100.1", 8080, Forwarding::Nat, 5);
    assert_eq!(
        encode(Request::Apply(&Op::AddDest(tcp4(), nat))),
        dest_vector(v::ADD_DEST_NAT, v::DUMP_DESTS_TCP4)
    );

    let mut gue = dest(
        "2001:db8::10",
        53,
        Forwarding::Tunnel {
            kind: TunnelType::Gue { port: 6080 },
            csum: TunnelCsum::Csum,
        },
        2,
    );
    gue.upper_threshold = 100;
    gue.lower_threshold = 50;
    assert_eq!(
        encode(Request::Apply(&Op::AddDest(udp6(), gue))),
        dest_vector(v::ADD_DEST_GUE6, v::DUMP_DESTS_UDP6)
    );

    // ipvsadm -g replaced the real server's port with the service's (80).
    let dr = dest("198.51.100.1", 80, Forwarding::Dr, 9);
    assert_eq!(
        encode(Request::Apply(&Op::EditDest(tcp4(), dr))),
        dest_vector(v::EDIT_DEST_DR, v::DUMP_DESTS_TCP4)
    );
}

#[test]
fn dumps_info_timeouts_and_sync_daemon_start_are_what_ipvsadm_sends() {
    let master = SyncDaemon {
        role: SyncRole::Master,
        interface: "sync0".into(),
        sync_id: 5,
    };
    let timeouts = Timeouts {
        tcp: 1000,
        tcp_fin: 60,
        udp: 200,
    };
    let cases = [
        (Request::DumpServices, v::DUMP_SERVICES),
        (Request::DumpDests(tcp4()), v::DUMP_DESTS_TCP4),
        (Request::DumpDests(udp6()), v::DUMP_DESTS_UDP6),
        (Request::DumpDests(fwmark7()), v::DUMP_DESTS_FWMARK),
        (Request::GetInfo, v::GET_INFO),
        (Request::GetConfig, v::GET_CONFIG),
        (Request::SetConfig(timeouts), v::SET_CONFIG),
        (Request::NewDaemon(&master), v::NEW_DAEMON),
        (Request::DumpDaemons, v::DUMP_DAEMONS),
    ];
    for (req, vector) in cases {
        assert_eq!(encode(req), hex(vector), "{req:?}");
    }
}

// === Encoding: requests where we send less than ipvsadm (built by hand) ===

#[test]
fn deletes_and_get_service_send_only_the_identifying_attributes() {
    // The service nest of ipvsadm's GET_DEST dump request: AF, PROTOCOL, ADDR, PORT.
    let key_nest = &hex(v::DUMP_DESTS_TCP4)[4..];
    let with_cmd = |cmd: u8| [&[cmd, 1, 0, 0][..], key_nest].concat();
    assert_eq!(encode(Request::Apply(&Op::DelService(tcp4()))), with_cmd(3));
    assert_eq!(encode(Request::GetService(tcp4())), with_cmd(4));

    // DEL_DEST: the kernel needs ADDR and PORT (ip_vs_genl_parse_dest, full_entry false);
    // ADDR_FAMILY keeps mixed-family destinations unambiguous.
    let key = DestKey {
        addr: ip("198.51.100.1"),
        port: 8080,
    };
    let expected = [
        with_cmd(7),
        hex(concat!(
            "28000280",                                 // DEST, 40 bytes, NLA_F_NESTED
            "06000b0002000000",                         //   ADDR_FAMILY = 2 + pad
            "14000100c6336401000000000000000000000000", //   ADDR = 198.51.100.1, 16 bytes
            "060002001f900000",                         //   PORT = 8080 big-endian + pad
        )),
    ]
    .concat();
    assert_eq!(encode(Request::Apply(&Op::DelDest(tcp4(), key))), expected);
}

#[test]
fn stopping_a_sync_daemon_sends_only_its_state() {
    // ip_vs_genl_del_daemon reads IPVS_DAEMON_ATTR_STATE only.
    assert_eq!(
        encode(Request::DelDaemon(SyncRole::Master)),
        hex(concat!(
            "0a010000",         // genlmsghdr: cmd 10 DEL_DAEMON, version 1
            "0c000380",         // DAEMON, 12 bytes, NLA_F_NESTED
            "0800010001000000", //   STATE = 1 (IP_VS_STATE_MASTER)
        ))
    );
    assert_eq!(
        encode(Request::DelDaemon(SyncRole::Backup)),
        hex(concat!("0a010000", "0c000380", "0800010002000000")) // STATE = 2 (BACKUP)
    );
}

#[test]
fn every_request_names_its_command_and_how_it_is_exchanged() {
    let s = svc(tcp4(), Scheduler::Rr, 0, 0, u32::MAX);
    let d = dest("198.51.100.1", 80, Forwarding::Dr, 1);
    let daemon = SyncDaemon {
        role: SyncRole::Backup,
        interface: "eth0".into(),
        sync_id: 1,
    };
    let ops = [
        (Op::AddService(s.clone()), 1),
        (Op::EditService(s.clone()), 2),
        (Op::DelService(s.key), 3),
        (Op::AddDest(s.key, d.clone()), 5),
        (Op::EditDest(s.key, d.clone()), 6),
        (Op::DelDest(s.key, d.key), 7),
    ];
    for (op, cmd) in &ops {
        let req = Request::Apply(op);
        assert_eq!((req.command(), req.exchange()), (*cmd, Exchange::Ack));
    }
    let others = [
        (Request::GetService(s.key), 4, Exchange::Reply),
        (Request::DumpServices, 4, Exchange::Dump),
        (Request::DumpDests(s.key), 8, Exchange::Dump),
        (Request::NewDaemon(&daemon), 9, Exchange::Ack),
        (Request::DelDaemon(SyncRole::Backup), 10, Exchange::Ack),
        (Request::DumpDaemons, 11, Exchange::Dump),
        (Request::SetConfig(Timeouts::default()), 12, Exchange::Ack),
        (Request::GetConfig, 13, Exchange::Reply),
        (Request::GetInfo, 15, Exchange::Reply),
    ];
    for (req, cmd, exchange) in others {
        assert_eq!((req.command(), req.exchange()), (cmd, exchange), "{req:?}");
        assert_eq!(encode(req)[..4], [cmd, 1, 0, 0]);
    }
}

#[test]
fn names_the_kernel_cannot_take_and_fwmark_zero_are_refused() {
    let bad_pe = |pe: &str| {
        let mut s = persistent_udp6();
        s.pe_name = Some(pe.into());
        Request::Apply(&Op::AddService(s)).encode()
    };
    for pe in ["", "sixteen-chars-pe", "s\0p"] {
        assert_eq!(
            bad_pe(pe),
            Err(EncodeError::BadName {
                what: "persistence engine",
                name: pe.into()
            })
        );
    }
    assert!(bad_pe("fifteen-chars-p").is_ok());

    let daemon = SyncDaemon {
        role: SyncRole::Master,
        interface: "sixteen-chars-if".into(),
        sync_id: 1,
    };
    assert!(matches!(
        Request::NewDaemon(&daemon).encode(),
        Err(EncodeError::BadName { .. })
    ));

    let zero = ServiceKey::Fwmark {
        family: Family::Inet,
        mark: 0,
    };
    let d = dest("198.51.100.1", 80, Forwarding::Dr, 1);
    for op in [
        Op::AddService(svc(zero, Scheduler::Rr, 0, 0, u32::MAX)),
        Op::DelService(zero),
        Op::AddDest(zero, d),
    ] {
        assert_eq!(Request::Apply(&op).encode(), Err(EncodeError::ZeroFwmark));
    }
    assert_eq!(
        Request::DumpDests(zero).encode(),
        Err(EncodeError::ZeroFwmark)
    );
}

// === Decoding: real kernel replies ===

#[test]
fn real_service_dumps_decode_with_the_hashed_flag_stripped() {
    let cases = [
        (
            v::SERVICE_TCP4_REPLY,
            svc(tcp4(), Scheduler::Wlc, 0, 0, u32::MAX),
        ),
        (v::SERVICE_UDP6_REPLY, persistent_udp6()),
        (v::SERVICE_FWMARK_REPLY, fwmark_sh()),
    ];
    for (vector, want) in cases {
        assert_eq!(decode_service(&hex(vector)), Ok((want, Stats::default())));
    }
}

#[test]
fn real_destination_dumps_decode_into_destinations_and_connection_counts() {
    let nat = dest("198.51.100.1", 8080, Forwarding::Nat, 5);
    let mut gue = dest(
        "2001:db8::10",
        53,
        Forwarding::Tunnel {
            kind: TunnelType::Gue { port: 6080 },
            csum: TunnelCsum::Csum,
        },
        2,
    );
    gue.upper_threshold = 100;
    gue.lower_threshold = 50;
    let state = |dest| DestState {
        dest,
        active_conns: 0,
        inactive_conns: 0,
        persistent_conns: 0,
        stats: Stats::default(),
    };
    assert_eq!(
        decode_dest(&hex(v::DEST_NAT_REPLY), Family::Inet),
        Ok(state(nat))
    );
    assert_eq!(
        decode_dest(&hex(v::DEST_GUE6_REPLY), Family::Inet6),
        Ok(state(gue))
    );
}

#[test]
fn real_traffic_counters_decode_for_the_service_and_each_destination() {
    let (s, st) = decode_service(&hex(v::TRAFFIC_SERVICE_REPLY)).expect("decodes");
    assert_eq!(s, svc(tcp4(), Scheduler::Rr, 0, 0, u32::MAX));
    assert_eq!(st, stats([4, 12, 10, 662, 532, 0, 1, 1, 83, 66]));

    for (vector, addr, port) in [
        (v::TRAFFIC_DEST_LOCALHOST_REPLY, "127.0.0.1", 8081),
        (v::TRAFFIC_DEST_VIP_REPLY, "192.0.2.1", 8080),
    ] {
        assert_eq!(
            decode_dest(&hex(vector), Family::Inet),
            Ok(DestState {
                dest: dest(addr, port, Forwarding::Nat, 1),
                active_conns: 0,
                inactive_conns: 2,
                persistent_conns: 0,
                stats: stats([2, 6, 5, 331, 266, 0, 1, 1, 41, 33]),
            })
        );
    }
}

#[test]
fn real_info_timeouts_and_sync_daemon_replies_decode() {
    assert_eq!(
        decode_info(&hex(v::INFO_REPLY)),
        Ok(Info {
            version: 0x010201,
            conn_tab_size: 4096
        })
    );
    assert_eq!(
        decode_timeouts(&hex(v::CONFIG_REPLY)),
        Ok(Timeouts {
            tcp: 900,
            tcp_fin: 120,
            udp: 300
        })
    );
    // The kernel adds SYNC_MAXLEN, MCAST_PORT, MCAST_TTL and MCAST_GROUP; the model has no
    // place for them and they are ignored.
    assert_eq!(
        decode_daemon(&hex(v::DAEMON_REPLY)),
        Ok(SyncDaemon {
            role: SyncRole::Master,
            interface: "sync0".into(),
            sync_id: 5
        })
    );
}

// === Decoding: hand-built replies ===

#[test]
fn legacy_stats_are_read_when_stats64_is_absent() {
    let values = [7, 8, 9, 1 << 40, 5, 1, 2, 3, 4, 6];
    let msg = svc_msg(&with(svc_attrs(), 10, stats_nest(10, values, legacy_wide)));
    assert_eq!(decode_service(&msg).map(|(_, s)| s), Ok(stats(values)));
}

#[test]
fn stats64_wins_over_legacy_stats_when_both_are_present() {
    let wide = [(1 << 32) + 1, 1 << 33, 3, 4, 5, 6, 7, 8, 9, 10];
    let truncated = wide.map(|x| x & 0xffff_ffff);
    let attrs = with(svc_attrs(), 10, stats_nest(10, truncated, legacy_wide));
    let attrs = with(attrs, 12, stats_nest(12, wide, |_| true));
    assert_eq!(
        decode_service(&svc_msg(&attrs)).map(|(_, s)| s),
        Ok(stats(wide))
    );

    // The same on a destination.
    let attrs = with(dest_attrs(), 10, stats_nest(10, truncated, legacy_wide));
    let attrs = with(attrs, 12, stats_nest(12, wide, |_| true));
    assert_eq!(
        decode_dest(&dest_msg(&attrs), Family::Inet).map(|d| d.stats),
        Ok(stats(wide))
    );
}

#[test]
fn replies_without_counters_read_as_zero_counters() {
    assert_eq!(
        decode_service(&svc_msg(&svc_attrs())).map(|(_, s)| s),
        Ok(Stats::default())
    );
    let d = decode_dest(&dest_msg(&dest_attrs()), Family::Inet).expect("decodes");
    assert_eq!(
        (
            d.active_conns,
            d.inactive_conns,
            d.persistent_conns,
            d.stats
        ),
        (1, 2, 3, Stats::default())
    );
}

#[test]
fn a_local_real_server_reported_as_localnode_reads_as_direct_routing() {
    let msg = dest_msg(&with(dest_attrs(), 3, u32a(3, 1)));
    assert_eq!(
        decode_dest(&msg, Family::Inet).map(|d| d.dest.forwarding),
        Ok(Forwarding::Dr)
    );
}

#[test]
fn without_an_address_family_a_destination_takes_the_services() {
    let v6 = hex("20010db8000000000000000000000010");
    let attrs = with(without(dest_attrs(), 11), 1, nla(1, &v6));
    assert_eq!(
        decode_dest(&dest_msg(&attrs), Family::Inet6).map(|d| d.dest.key.addr),
        Ok(ip("2001:db8::10"))
    );
}

#[test]
fn a_tunnel_without_tunnel_attributes_is_ipip_as_before_linux_5_2() {
    let attrs = without(without(without(dest_attrs(), 13), 14), 15);
    let msg = dest_msg(&with(attrs, 3, u32a(3, 2)));
    assert_eq!(
        decode_dest(&msg, Family::Inet).map(|d| d.dest.forwarding),
        Ok(Forwarding::Tunnel {
            kind: TunnelType::Ipip,
            csum: TunnelCsum::NoCsum
        })
    );
}

#[test]
fn malformed_or_unknown_replies_are_decode_errors() {
    let svc_err = |attrs: Vec<(u16, Vec<u8>)>| decode_service(&svc_msg(&attrs)).map(drop);
    let dest_err =
        |attrs: Vec<(u16, Vec<u8>)>| decode_dest(&dest_msg(&attrs), Family::Inet).map(drop);
    let tunnel = with(dest_attrs(), 3, u32a(3, 2));
    let daemon = |state: u32, id: u32| {
        genl(
            9,
            &[nest(3, &[u32a(1, state), nla(2, b"eth0\0"), u32a(3, id)])],
        )
    };
    let mut cut = hex(v::SERVICE_TCP4_REPLY);
    cut.truncate(100);

    let cases: Vec<(Result<(), DecodeError>, DecodeError)> = vec![
        (
            decode_service(&[1, 1]).map(drop),
            DecodeError::ShortMessage { len: 2 },
        ),
        (
            decode_service(&hex(v::INFO_REPLY)).map(drop),
            DecodeError::UnexpectedCommand {
                got: 14,
                expected: 1,
            },
        ),
        (
            decode_service(&cut).map(drop),
            DecodeError::BadAttrLength {
                offset: 0,
                len: 300,
            },
        ),
        (
            decode_service(&genl(1, &[])).map(drop),
            DecodeError::Missing {
                attr: "IPVS_CMD_ATTR_SERVICE",
            },
        ),
        (
            svc_err(without(svc_attrs(), 6)),
            DecodeError::Missing {
                attr: "IPVS_SVC_ATTR_SCHED_NAME",
            },
        ),
        (
            svc_err(with(svc_attrs(), 6, nla(6, b"none\0"))),
            DecodeError::UnknownScheduler {
                name: "none".into(),
            },
        ),
        (
            svc_err(with(svc_attrs(), 1, u16a(1, 7))),
            DecodeError::UnknownFamily { family: 7 },
        ),
        (
            svc_err(with(svc_attrs(), 2, u16a(2, 1))),
            DecodeError::UnknownProtocol { protocol: 1 },
        ),
        (
            svc_err(with(svc_attrs(), 4, u32a(4, 80))),
            DecodeError::BadLength {
                attr: "IPVS_SVC_ATTR_PORT",
                len: 4,
                expected: 2,
            },
        ),
        (
            svc_err(with(
                with(svc_attrs(), 1, u16a(1, 10)),
                3,
                nla(3, &[192, 0, 2, 1]),
            )),
            DecodeError::BadLength {
                attr: "IPVS_SVC_ATTR_ADDR",
                len: 4,
                expected: 16,
            },
        ),
        (
            dest_err(with(dest_attrs(), 3, u32a(3, 4))),
            DecodeError::UnknownForwarding { method: 4 },
        ),
        (
            dest_err(with(tunnel.clone(), 13, nla(13, &[3]))),
            DecodeError::UnknownTunnelType { kind: 3 },
        ),
        (
            dest_err(with(tunnel, 15, u16a(15, 3))),
            DecodeError::UnknownTunnelFlags { flags: 3 },
        ),
        (
            dest_err(with(
                dest_attrs(),
                1,
                nla(1, &[198, 51, 100, 1, 0, 0, 0, 0]),
            )),
            DecodeError::BadLength {
                attr: "IPVS_DEST_ATTR_ADDR",
                len: 8,
                expected: 16,
            },
        ),
        (
            decode_daemon(&daemon(0, 1)).map(drop),
            DecodeError::UnknownDaemonState { state: 0 },
        ),
        (
            decode_daemon(&daemon(2, 256)).map(drop),
            DecodeError::SyncIdOutOfRange { id: 256 },
        ),
    ];
    for (i, (got, want)) in cases.into_iter().enumerate() {
        assert_eq!(got, Err(want), "case {i}");
    }
}

// === Round trips ===

/// What the kernel sends back for a destination we added: our destination nest plus the
/// connection counts (the kernel's nest has no NLA_F_NESTED flag; the decoder takes both).
fn kernel_echo(encoded_add_dest: &[u8], conns: [u32; 3]) -> Vec<u8> {
    let at = |i: usize| {
        usize::from(u16::from_le_bytes([
            encoded_add_dest[i],
            encoded_add_dest[i + 1],
        ]))
    };
    let dest_at = 4 + at(4).div_ceil(4) * 4;
    let dest_len = at(dest_at);
    let inner = &encoded_add_dest[dest_at + 4..dest_at + dest_len];
    let counts = [u32a(7, conns[0]), u32a(8, conns[1]), u32a(9, conns[2])].concat();
    genl(5, &[nla(2, &[inner, &counts].concat())])
}

#[test]
fn a_fixed_service_and_destination_round_trip() {
    let mut s = persistent_udp6();
    s.pe_name = Some("sip".into());
    let req = encode(Request::Apply(&Op::AddService(s.clone())));
    assert_eq!(decode_service(&req), Ok((s.clone(), Stats::default())));

    let d = dest(
        "192.0.2.7",
        53,
        Forwarding::Tunnel {
            kind: TunnelType::Gre,
            csum: TunnelCsum::RemCsum,
        },
        7,
    );
    let req = encode(Request::Apply(&Op::AddDest(s.key, d.clone())));
    assert_eq!(
        decode_dest(&kernel_echo(&req, [1, 2, 3]), Family::Inet6),
        Ok(DestState {
            dest: d,
            active_conns: 1,
            inactive_conns: 2,
            persistent_conns: 3,
            stats: Stats::default()
        })
    );
}

fn arb_ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(IpAddr::from),
        any::<[u8; 16]>().prop_map(IpAddr::from),
    ]
}

fn arb_key() -> impl Strategy<Value = ServiceKey> {
    let protocol = prop_oneof![
        Just(Protocol::Tcp),
        Just(Protocol::Udp),
        Just(Protocol::Sctp)
    ];
    let family = prop_oneof![Just(Family::Inet), Just(Family::Inet6)];
    prop_oneof![
        (protocol, arb_ip(), any::<u16>()).prop_map(|(protocol, addr, port)| ServiceKey::Addr {
            protocol,
            addr,
            port
        }),
        (family, 1..=u32::MAX).prop_map(|(family, mark)| ServiceKey::Fwmark { family, mark }),
    ]
}

fn arb_service() -> impl Strategy<Value = Service> {
    (
        arb_key(),
        proptest::sample::select(Scheduler::ALL),
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
        proptest::option::of("[a-z0-9_]{1,15}"),
    )
        .prop_map(
            |(key, scheduler, flags, timeout, netmask, pe_name)| Service {
                key,
                scheduler,
                flags: flags & !svc_flags::HASHED,
                timeout,
                netmask,
                pe_name,
            },
        )
}

fn arb_forwarding() -> impl Strategy<Value = Forwarding> {
    let kind = prop_oneof![
        Just(TunnelType::Ipip),
        any::<u16>().prop_map(|port| TunnelType::Gue { port }),
        Just(TunnelType::Gre),
    ];
    let csum = prop_oneof![
        Just(TunnelCsum::NoCsum),
        Just(TunnelCsum::Csum),
        Just(TunnelCsum::RemCsum)
    ];
    prop_oneof![
        Just(Forwarding::Nat),
        Just(Forwarding::Dr),
        (kind, csum).prop_map(|(kind, csum)| Forwarding::Tunnel { kind, csum }),
    ]
}

fn arb_dest() -> impl Strategy<Value = Destination> {
    (arb_ip(), any::<u16>(), arb_forwarding(), any::<[u32; 3]>()).prop_map(
        |(addr, port, forwarding, [weight, upper_threshold, lower_threshold])| Destination {
            key: DestKey { addr, port },
            forwarding,
            weight,
            upper_threshold,
            lower_threshold,
        },
    )
}

/// A real reply of each kind, for mutation.
const REPLIES: &[&str] = &[
    v::SERVICE_TCP4_REPLY,
    v::SERVICE_UDP6_REPLY,
    v::SERVICE_FWMARK_REPLY,
    v::DEST_NAT_REPLY,
    v::DEST_GUE6_REPLY,
    v::TRAFFIC_SERVICE_REPLY,
    v::INFO_REPLY,
    v::CONFIG_REPLY,
    v::DAEMON_REPLY,
];

/// Every decoder on `msg`; only panics matter, so the results are dropped.
fn decode_everything(msg: &[u8]) {
    let _ = decode_service(msg);
    let _ = decode_dest(msg, Family::Inet);
    let _ = decode_dest(msg, Family::Inet6);
    let _ = decode_info(msg);
    let _ = decode_timeouts(msg);
    let _ = decode_daemon(msg);
    let _ = decode_service_key(msg);
    let _ = decode_dest_key(msg, Family::Inet6);
    let _ = decode_family_id(msg);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_services_round_trip(s in arb_service()) {
        let req = encode(Request::Apply(&Op::AddService(s.clone())));
        prop_assert_eq!(decode_service(&req), Ok((s.clone(), Stats::default())));
        let req = encode(Request::Apply(&Op::EditService(s.clone())));
        prop_assert_eq!(decode_service(&[&[1, 1, 0, 0][..], &req[4..]].concat()), Ok((s, Stats::default())));
    }

    #[test]
    fn arbitrary_destinations_round_trip(key in arb_key(), d in arb_dest(), conns in any::<[u32; 3]>()) {
        let req = encode(Request::Apply(&Op::AddDest(key, d.clone())));
        let want = DestState {
            dest: d,
            active_conns: conns[0],
            inactive_conns: conns[1],
            persistent_conns: conns[2],
            stats: Stats::default(),
        };
        prop_assert_eq!(decode_dest(&kernel_echo(&req, conns), key.family()), Ok(want));
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics(cmd in 0u8..16, body in proptest::collection::vec(any::<u8>(), 0..600)) {
        decode_everything(&body);
        decode_everything(&[&[cmd, 1, 0, 0][..], &body].concat());
    }

    #[test]
    fn decoding_corrupted_real_replies_never_panics(
        which in 0..REPLIES.len(),
        edits in proptest::collection::vec((any::<proptest::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<proptest::sample::Index>(),
    ) {
        let mut msg = hex(REPLIES[which]);
        for (at, byte) in edits {
            let i = at.index(msg.len());
            msg[i] = byte;
        }
        decode_everything(&msg);
        msg.truncate(cut.index(msg.len() + 1));
        decode_everything(&msg);
    }
}
