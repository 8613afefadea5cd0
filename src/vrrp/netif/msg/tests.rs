//! Byte vectors written from the uapi layouts (`linux/netlink.h`, `linux/rtnetlink.h`,
//! `linux/if_link.h`, `linux/if_addr.h`). Integers on the wire are in host byte order;
//! the literal vectors are little-endian (x86-64, aarch64), so on a big-endian host
//! these tests fail rather than pass by accident.

use super::*;
use crate::vrrp::netif::types::Family;
use proptest::prelude::*;

const V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
const V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x10);

/// A message as the kernel sends it (port id 0).
fn msg(msg_type: u16, flags: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(16 + payload.len()).unwrap();
    let mut out = Vec::new();
    out.extend_from_slice(&len.to_ne_bytes());
    out.extend_from_slice(&msg_type.to_ne_bytes());
    out.extend_from_slice(&flags.to_ne_bytes());
    out.extend_from_slice(&seq.to_ne_bytes());
    out.extend_from_slice(&0u32.to_ne_bytes());
    out.extend_from_slice(payload);
    out.resize(align4(out.len()), 0);
    out
}

/// `struct nlmsgerr` for request `seq`: the error, then the request's header.
fn err(seq: u32, error: i32) -> Vec<u8> {
    let request = msg(RTM_NEWADDR, 0x605, seq, &[]);
    msg(
        NLMSG_ERROR,
        0x100,
        seq,
        &[&error.to_ne_bytes()[..], &request].concat(),
    )
}

fn done(seq: u32, error: i32) -> Vec<u8> {
    msg(NLMSG_DONE, NLM_F_MULTI, seq, &error.to_ne_bytes())
}

fn attr(ty: u16, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    push_attr(&mut out, ty, payload);
    out
}

/// An `RTM_NEWLINK` payload as the kernel fills it for a veth link that is up, with
/// attributes the decoder does not use (IFLA_TXQLEN, a nested IFLA_AF_SPEC) in between.
fn veth_link_payload() -> Vec<u8> {
    [
        // ifinfomsg: AF_UNSPEC, pad, ARPHRD_ETHER, index 7,
        // IFF_UP|IFF_BROADCAST|IFF_RUNNING|IFF_MULTICAST|IFF_LOWER_UP, change 0
        &[0, 0, 1, 0, 7, 0, 0, 0, 0x43, 0x10, 0x01, 0x00, 0, 0, 0, 0][..],
        &[10, 0, 3, 0, b'v', b'e', b't', b'h', b'0', 0, 0, 0], // IFLA_IFNAME "veth0"
        &[8, 0, 13, 0, 0xe8, 0x03, 0, 0],                      // IFLA_TXQLEN 1000
        &[5, 0, 16, 0, 6, 0, 0, 0],                            // IFLA_OPERSTATE UP
        &[8, 0, 4, 0, 0xdc, 0x05, 0, 0],                       // IFLA_MTU 1500
        &[12, 0, 26, 0x80, 8, 0, 2, 0, 1, 2, 3, 4],            // IFLA_AF_SPEC, nested
        &[10, 0, 1, 0, 0x02, 0x00, 0x5e, 0x00, 0x53, 0x01, 0, 0], // IFLA_ADDRESS
        &[10, 0, 2, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0], // IFLA_BROADCAST
    ]
    .concat()
}

fn veth_link() -> Link {
    Link {
        index: 7,
        name: "veth0".into(),
        mac: Some([0x02, 0x00, 0x5e, 0x00, 0x53, 0x01]),
        link_type: 1,
        flags: 0x11043,
        oper_state: OperState::Up,
        mtu: 1500,
    }
}

fn ifaddr(addr: IpAddr, prefix_len: u8, flags: u32, scope: Scope) -> IfAddr {
    IfAddr {
        index: 2,
        addr,
        prefix_len,
        flags: AddrFlags(flags),
        scope,
    }
}

// === Requests ===

#[test]
fn get_link_by_name_is_an_unspec_ifinfomsg_skipping_stats_with_a_nul_terminated_name() {
    assert_eq!(
        Request::GetLinkByName("eth0").encode(7).unwrap(),
        [
            // nlmsghdr: len 52, RTM_GETLINK, NLM_F_REQUEST|NLM_F_ACK, seq 7, port 0
            &[52, 0, 0, 0, 18, 0, 5, 0, 7, 0, 0, 0, 0, 0, 0, 0][..],
            // ifinfomsg: AF_UNSPEC, index 0
            &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            // IFLA_EXT_MASK = RTEXT_FILTER_SKIP_STATS
            &[8, 0, 29, 0, 8, 0, 0, 0],
            // IFLA_IFNAME "eth0\0", padded
            &[9, 0, 3, 0, b'e', b't', b'h', b'0', 0, 0, 0, 0],
        ]
        .concat()
    );
}

#[test]
fn get_link_by_index_puts_the_index_in_the_ifinfomsg() {
    assert_eq!(
        Request::GetLinkByIndex(3).encode(0x0102_0304).unwrap(),
        [
            &[40, 0, 0, 0, 18, 0, 5, 0, 4, 3, 2, 1, 0, 0, 0, 0][..],
            &[0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            &[8, 0, 29, 0, 8, 0, 0, 0],
        ]
        .concat()
    );
}

#[test]
fn dumps_of_links_and_addresses_ask_for_a_dump_without_an_ack() {
    assert_eq!(
        Request::DumpLinks.encode(1).unwrap(),
        [
            // NLM_F_REQUEST|NLM_F_DUMP = 0x301
            &[40, 0, 0, 0, 18, 0, 0x01, 0x03, 1, 0, 0, 0, 0, 0, 0, 0][..],
            &[0; 16],
            &[8, 0, 29, 0, 8, 0, 0, 0],
        ]
        .concat()
    );
    assert_eq!(
        Request::DumpAddrs.encode(2).unwrap(),
        [
            &[24, 0, 0, 0, 22, 0, 0x01, 0x03, 2, 0, 0, 0, 0, 0, 0, 0][..],
            // ifaddrmsg: AF_UNSPEC, everything else 0
            &[0, 0, 0, 0, 0, 0, 0, 0],
        ]
        .concat()
    );
}

#[test]
fn adding_an_ipv4_address_sends_local_and_address_and_zero_flags_exclusively() {
    let req = Request::AddAddr {
        index: 4,
        addr: IpAddr::V4(V4),
        prefix_len: 32,
    };
    assert_eq!(
        req.encode(9).unwrap(),
        [
            // RTM_NEWADDR, NLM_F_REQUEST|NLM_F_ACK|NLM_F_EXCL|NLM_F_CREATE = 0x605
            &[48, 0, 0, 0, 20, 0, 0x05, 0x06, 9, 0, 0, 0, 0, 0, 0, 0][..],
            // ifaddrmsg: AF_INET, /32, flags 0, RT_SCOPE_UNIVERSE, index 4
            &[2, 32, 0, 0, 4, 0, 0, 0],
            &[8, 0, 2, 0, 192, 0, 2, 10], // IFA_LOCAL
            &[8, 0, 1, 0, 192, 0, 2, 10], // IFA_ADDRESS
            &[8, 0, 8, 0, 0, 0, 0, 0],    // IFA_FLAGS 0
        ]
        .concat()
    );
}

#[test]
fn adding_an_ipv6_address_sets_nodad_in_ifa_flags_and_in_the_ifa_flags_attribute() {
    let req = Request::AddAddr {
        index: 0x0102,
        addr: IpAddr::V6(V6),
        prefix_len: 128,
    };
    let octets = V6.octets();
    assert_eq!(
        req.encode(1).unwrap(),
        [
            &[72, 0, 0, 0, 20, 0, 0x05, 0x06, 1, 0, 0, 0, 0, 0, 0, 0][..],
            // AF_INET6, /128, IFA_F_NODAD, scope 0, index 0x0102
            &[10, 128, 2, 0, 2, 1, 0, 0],
            &[20, 0, 2, 0],
            &octets,
            &[20, 0, 1, 0],
            &octets,
            &[8, 0, 8, 0, 2, 0, 0, 0],
        ]
        .concat()
    );
}

#[test]
fn deleting_an_address_is_rtm_deladdr_with_an_ack_and_no_create_flags() {
    let req = Request::DelAddr {
        index: 4,
        addr: IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1)),
        prefix_len: 24,
    };
    assert_eq!(
        req.encode(3).unwrap(),
        [
            &[48, 0, 0, 0, 21, 0, 5, 0, 3, 0, 0, 0, 0, 0, 0, 0][..],
            &[2, 24, 0, 0, 4, 0, 0, 0],
            &[8, 0, 2, 0, 198, 51, 100, 1],
            &[8, 0, 1, 0, 198, 51, 100, 1],
            &[8, 0, 8, 0, 0, 0, 0, 0],
        ]
        .concat()
    );
}

#[test]
fn names_the_kernel_would_refuse_are_not_sent() {
    for name in ["", "sixteen-chars-xx", "a/b", "a\0b"] {
        assert_eq!(
            Request::GetLinkByName(name).encode(1),
            Err(EncodeError::InvalidName { name: name.into() }),
            "{name:?}"
        );
    }
    assert!(Request::GetLinkByName("fifteen-chars-x").encode(1).is_ok());
}

#[test]
fn prefix_lengths_past_the_address_size_are_not_sent() {
    for (addr, prefix_len) in [(IpAddr::V4(V4), 33), (IpAddr::V6(V6), 129)] {
        for req in [
            Request::AddAddr {
                index: 1,
                addr,
                prefix_len,
            },
            Request::DelAddr {
                index: 1,
                addr,
                prefix_len,
            },
        ] {
            assert_eq!(
                req.encode(1),
                Err(EncodeError::InvalidPrefix { addr, prefix_len })
            );
        }
    }
}

// === Links ===

#[test]
fn a_link_message_decodes_to_index_name_mac_flags_state_and_mtu() {
    let link = decode_link(&veth_link_payload()).unwrap();
    assert_eq!(link, veth_link());
    assert!(link.admin_up() && link.running() && link.is_up());
}

#[test]
fn loopback_has_no_mac_and_a_link_without_operstate_is_unknown() {
    let payload = [
        // ARPHRD_LOOPBACK (772), index 1, IFF_UP|IFF_LOOPBACK|IFF_RUNNING
        &[0, 0, 0x04, 0x03, 1, 0, 0, 0, 0x49, 0, 0, 0, 0, 0, 0, 0][..],
        &[7, 0, 3, 0, b'l', b'o', 0, 0],
        &[8, 0, 4, 0, 0, 0, 1, 0], // IFLA_MTU 65536
        &[10, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    ]
    .concat();
    assert_eq!(
        decode_link(&payload),
        Ok(Link {
            index: 1,
            name: "lo".into(),
            mac: None,
            link_type: 772,
            flags: 0x49,
            oper_state: OperState::Unknown,
            mtu: 65536,
        })
    );
}

#[test]
fn a_link_that_is_up_without_carrier_is_not_up() {
    let mut payload = veth_link_payload();
    // ifi_flags without IFF_RUNNING and IFF_LOWER_UP; IF_OPER_LOWERLAYERDOWN.
    payload[8..12].copy_from_slice(&0x1003u32.to_ne_bytes());
    payload[40] = 3;
    let link = decode_link(&payload).unwrap();
    assert_eq!(
        link,
        Link {
            flags: 0x1003,
            oper_state: OperState::LowerLayerDown,
            ..veth_link()
        }
    );
    assert!(link.admin_up() && !link.running() && !link.is_up());
}

#[test]
fn malformed_link_messages_are_errors() {
    let good = veth_link_payload();
    assert_eq!(
        decode_link(&good[..15]),
        Err(DecodeError::ShortHeader {
            what: "link",
            len: 15,
            need: 16
        })
    );
    let mut zero_index = good.clone();
    zero_index[4..8].copy_from_slice(&0i32.to_ne_bytes());
    assert_eq!(
        decode_link(&zero_index),
        Err(DecodeError::BadIndex { index: 0 })
    );
    let mut negative = good.clone();
    negative[4..8].copy_from_slice(&(-5i32).to_ne_bytes());
    assert_eq!(
        decode_link(&negative),
        Err(DecodeError::BadIndex { index: -5 })
    );
    let header = &good[..16];
    let mtu = attr(IFLA_MTU, &1500u32.to_ne_bytes());
    let name = attr(IFLA_IFNAME, b"x\0");
    assert_eq!(
        decode_link(&[header, &mtu].concat()),
        Err(DecodeError::MissingAttribute {
            attr: "IFLA_IFNAME"
        })
    );
    assert_eq!(
        decode_link(&[header, &name].concat()),
        Err(DecodeError::MissingAttribute { attr: "IFLA_MTU" })
    );
    assert_eq!(
        decode_link(&[header, &name, &attr(IFLA_MTU, &[1, 2])].concat()),
        Err(DecodeError::BadAttributeSize {
            attr: "IFLA_MTU",
            len: 2,
            expected: 4
        })
    );
    // An attribute whose length runs past the message.
    assert_eq!(
        decode_link(&[header, &name, &[12, 0, 4, 0, 0, 0, 0, 0]].concat()),
        Err(DecodeError::BadAttributeLength { offset: 8, len: 12 })
    );
    assert_eq!(
        decode_link(&[header, &name, &[3, 0, 4, 0]].concat()),
        Err(DecodeError::BadAttributeLength { offset: 8, len: 3 })
    );
    assert_eq!(
        decode_link(&[header, &name, &[8, 0]].concat()),
        Err(DecodeError::TruncatedAttribute { offset: 8 })
    );
}

// === Addresses ===

#[test]
fn an_ipv4_address_message_decodes_with_ifa_flags_attribute_and_label_ignored() {
    let payload = [
        // AF_INET, /24, IFA_F_PERMANENT|IFA_F_SECONDARY, RT_SCOPE_UNIVERSE, index 2
        &[2, 24, 0x81, 0, 2, 0, 0, 0][..],
        &attr(IFA_ADDRESS, &[192, 0, 2, 20]),
        &attr(IFA_LOCAL, &[192, 0, 2, 20]),
        &attr(3, b"veth0\0"), // IFA_LABEL
        &attr(IFA_FLAGS, &0x281u32.to_ne_bytes()),
        &attr(6, &[0xff; 16]), // IFA_CACHEINFO
    ]
    .concat();
    let addr = decode_addr(&payload).unwrap().unwrap();
    assert_eq!(
        addr,
        ifaddr(
            IpAddr::V4(Ipv4Addr::new(192, 0, 2, 20)),
            24,
            0x281,
            Scope::Universe
        )
    );
    assert_eq!(addr.family(), Family::Inet);
    assert!(
        addr.flags
            .contains(AddrFlags::SECONDARY | AddrFlags::NOPREFIXROUTE)
    );
}

#[test]
fn on_a_point_to_point_link_the_local_address_is_taken_not_the_peer() {
    let payload = [
        &[2, 32, 0x80, 0, 2, 0, 0, 0][..],
        &attr(IFA_ADDRESS, &[203, 0, 113, 2]),
        &attr(IFA_LOCAL, &[203, 0, 113, 1]),
    ]
    .concat();
    assert_eq!(
        decode_addr(&payload),
        Ok(Some(ifaddr(
            IpAddr::V4(Ipv4Addr::new(203, 0, 113, 1)),
            32,
            0x80,
            Scope::Universe
        )))
    );
}

#[test]
fn an_ipv6_address_without_ifa_flags_takes_the_8_bit_flags() {
    let ll = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1);
    let payload = [
        // AF_INET6, /64, IFA_F_TENTATIVE|IFA_F_PERMANENT, RT_SCOPE_LINK, index 2
        &[10, 64, 0xc0, 253, 2, 0, 0, 0][..],
        &attr(IFA_ADDRESS, &ll.octets()),
    ]
    .concat();
    let addr = decode_addr(&payload).unwrap().unwrap();
    assert_eq!(addr, ifaddr(IpAddr::V6(ll), 64, 0xc0, Scope::Link));
    assert_eq!(addr.family(), Family::Inet6);
    assert!(addr.flags.contains(AddrFlags::TENTATIVE));
}

#[test]
fn addresses_of_other_families_are_skipped_and_malformed_ones_are_errors() {
    // AF_PACKET (17): not an error, not an address we know.
    assert_eq!(
        decode_addr(&[&[17, 0, 0, 0, 2, 0, 0, 0][..], &attr(IFA_ADDRESS, &[1; 6])].concat()),
        Ok(None)
    );
    assert_eq!(
        decode_addr(&[2, 32, 0, 0, 2, 0, 0]),
        Err(DecodeError::ShortHeader {
            what: "address",
            len: 7,
            need: 8
        })
    );
    assert_eq!(
        decode_addr(&[2, 32, 0, 0, 2, 0, 0, 0]),
        Err(DecodeError::MissingAttribute {
            attr: "IFA_ADDRESS"
        })
    );
    assert_eq!(
        decode_addr(
            &[
                &[2, 32, 0, 0, 2, 0, 0, 0][..],
                &attr(IFA_LOCAL, &V6.octets())
            ]
            .concat()
        ),
        Err(DecodeError::BadAttributeSize {
            attr: "IFA_LOCAL",
            len: 16,
            expected: 4
        })
    );
    assert_eq!(
        decode_addr(&[&[10, 64, 0, 0, 2, 0, 0, 0][..], &attr(IFA_ADDRESS, &[1; 4])].concat()),
        Err(DecodeError::BadAttributeSize {
            attr: "IFA_ADDRESS",
            len: 4,
            expected: 16
        })
    );
    assert_eq!(
        decode_addr(&[&[2, 33, 0, 0, 2, 0, 0, 0][..], &attr(IFA_LOCAL, &[1; 4])].concat()),
        Err(DecodeError::BadPrefix {
            family: 2,
            prefix_len: 33
        })
    );
    assert_eq!(
        decode_addr(&[&[2, 32, 0, 0, 0, 0, 0, 0][..], &attr(IFA_LOCAL, &[1; 4])].concat()),
        Err(DecodeError::BadIndex { index: 0 })
    );
    assert_eq!(
        decode_addr(
            &[
                &[2, 32, 0, 0, 2, 0, 0, 0][..],
                &attr(IFA_LOCAL, &[1; 4]),
                &attr(IFA_FLAGS, &[1])
            ]
            .concat()
        ),
        Err(DecodeError::BadAttributeSize {
            attr: "IFA_FLAGS",
            len: 1,
            expected: 4
        })
    );
}

// === Framing and answers ===

#[test]
fn a_datagram_splits_into_messages_and_the_last_padding_may_be_missing() {
    let first = msg(RTM_NEWLINK, NLM_F_MULTI, 9, &[4, 1, 0, 0, 7]);
    let last = msg(RTM_NEWLINK, NLM_F_MULTI, 9, &[1]);
    let dgram = [&first[..], &done(9, 0), &last[..17]].concat();
    assert_eq!(
        split_messages(&dgram),
        Ok(vec![
            Message {
                msg_type: RTM_NEWLINK,
                flags: NLM_F_MULTI,
                seq: 9,
                port: 0,
                payload: &[4, 1, 0, 0, 7],
            },
            Message {
                msg_type: NLMSG_DONE,
                flags: NLM_F_MULTI,
                seq: 9,
                port: 0,
                payload: &[0, 0, 0, 0],
            },
            Message {
                msg_type: RTM_NEWLINK,
                flags: NLM_F_MULTI,
                seq: 9,
                port: 0,
                payload: &[1],
            },
        ])
    );
}

#[test]
fn message_lengths_below_the_header_or_past_the_datagram_are_errors() {
    let mut short = msg(RTM_NEWLINK, 0, 1, &[]);
    short[0] = 15;
    assert_eq!(
        split_messages(&short),
        Err(DecodeError::BadMessageLength { offset: 0, len: 15 })
    );
    let long = [
        msg(RTM_NEWLINK, 0, 1, &[]),
        msg(RTM_NEWLINK, 0, 2, &[0; 8])[..20].to_vec(),
    ]
    .concat();
    assert_eq!(
        split_messages(&long),
        Err(DecodeError::BadMessageLength {
            offset: 16,
            len: 24
        })
    );
    assert_eq!(
        split_messages(&[1, 2, 3]),
        Err(DecodeError::TruncatedMessage { offset: 0 })
    );
    let short_error = msg(NLMSG_ERROR, 0, 1, &[0, 0]);
    assert_eq!(
        split_messages(&short_error).unwrap()[0]
            .body()
            .map_err(DecodeError::from),
        Err(DecodeError::ShortControlMessage { len: 2 })
    );
}

#[test]
fn a_get_keeps_its_reply_until_the_ack() {
    let req = Request::GetLinkByName("veth0");
    let mut answer = Answer::new(5, &req);
    answer
        .feed(&msg(RTM_NEWLINK, 0, 5, &veth_link_payload()))
        .unwrap();
    assert!(!answer.is_complete());
    answer.feed(&err(5, 0)).unwrap();
    assert!(answer.is_complete());
    assert_eq!(
        answer.finish(),
        Some(Outcome::Replies {
            replies: vec![veth_link_payload()],
            interrupted: false
        })
    );
}

#[test]
fn a_write_ends_with_its_errno_and_answers_to_earlier_requests_are_strays() {
    let req = Request::AddAddr {
        index: 2,
        addr: IpAddr::V4(V4),
        prefix_len: 32,
    };
    let mut answer = Answer::new(u32::MAX, &req);
    // Left over from an earlier request, then this one's EEXIST, then a repeat.
    answer
        .feed(&[err(7, -2), err(u32::MAX, -17), err(u32::MAX, 0)].concat())
        .unwrap();
    assert_eq!(answer.strays(), 2);
    assert_eq!(answer.finish(), Some(Outcome::Errno(17)));
}

#[test]
fn a_dump_collects_entries_of_its_type_across_datagrams_until_done() {
    let mut answer = Answer::new(6, &Request::DumpAddrs);
    answer
        .feed(&[msg(RTM_NEWADDR, 2, 6, &[1]), msg(RTM_NEWLINK, 2, 6, &[9])].concat())
        .unwrap();
    answer
        .feed(&[msg(RTM_NEWADDR, 2, 6, &[2]), msg(NLMSG_NOOP, 0, 6, &[])].concat())
        .unwrap();
    assert!(!answer.is_complete());
    answer.feed(&done(6, 0)).unwrap();
    assert_eq!(
        answer.finish(),
        Some(Outcome::Replies {
            replies: vec![vec![1], vec![2]],
            interrupted: false
        })
    );

    let mut failed = Answer::new(7, &Request::DumpLinks);
    failed.feed(&done(7, -16)).unwrap();
    assert_eq!(failed.finish(), Some(Outcome::Errno(16)));
    assert_eq!(Answer::new(8, &Request::DumpLinks).finish(), None);
}

#[test]
fn a_dump_the_kernel_flags_as_interrupted_says_so() {
    let mut answer = Answer::new(6, &Request::DumpLinks);
    answer
        .feed(
            &[
                msg(RTM_NEWLINK, NLM_F_MULTI, 6, &[1]),
                msg(RTM_NEWLINK, NLM_F_MULTI | NLM_F_DUMP_INTR, 6, &[2]),
                done(6, 0),
            ]
            .concat(),
        )
        .unwrap();
    assert_eq!(
        answer.finish(),
        Some(Outcome::Replies {
            replies: vec![vec![1], vec![2]],
            interrupted: true
        })
    );
}

#[test]
fn a_malformed_datagram_is_refused_whole() {
    let mut answer = Answer::new(1, &Request::DumpLinks);
    let bad = [msg(RTM_NEWLINK, 2, 1, &[1]), done(1, 0), vec![0, 0, 0]].concat();
    assert_eq!(
        answer.feed(&bad),
        Err(DecodeError::TruncatedMessage { offset: 40 })
    );
    assert!(!answer.is_complete());
    assert_eq!(answer.finish(), None);
}

#[test]
fn link_notifications_decode_to_changes_and_removals_and_other_messages_are_left_out() {
    let dgram = [
        msg(RTM_NEWLINK, 0, 0, &veth_link_payload()),
        msg(RTM_NEWADDR, 0, 0, &[2, 32, 0, 0, 7, 0, 0, 0]),
        msg(RTM_DELLINK, 0, 0, &veth_link_payload()),
        done(0, 0),
    ]
    .concat();
    assert_eq!(
        decode_link_events(&dgram),
        Ok(vec![
            LinkEvent::Changed(veth_link()),
            LinkEvent::Removed(veth_link())
        ])
    );
    let broken = msg(RTM_NEWLINK, 0, 0, &veth_link_payload()[..10]);
    assert_eq!(
        decode_link_events(&broken),
        Err(DecodeError::ShortHeader {
            what: "link",
            len: 10,
            need: 16
        })
    );
}

// === Never panics ===

proptest! {
    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = split_messages(&bytes);
        let _ = decode_link(&bytes);
        let _ = decode_addr(&bytes);
        let _ = decode_link_events(&bytes);
        let mut answer = Answer::new(1, &Request::DumpLinks);
        let _ = answer.feed(&bytes);
    }

    #[test]
    fn decoding_mutated_valid_messages_never_panics(
        index in 0usize..200,
        value in any::<u8>(),
        cut in 0usize..200,
    ) {
        let mut link = msg(RTM_NEWLINK, 0, 0, &veth_link_payload());
        if let Some(b) = link.get_mut(index) {
            *b = value;
        }
        link.truncate(cut.max(1));
        let _ = decode_link_events(&link);
        let payload = link.get(16..).unwrap_or_default();
        let _ = decode_link(payload);
        let _ = decode_addr(payload);
    }

    #[test]
    fn encoded_address_requests_decode_back_to_the_same_address(
        v4 in any::<[u8; 4]>(),
        v6 in any::<[u8; 16]>(),
        is_v6 in any::<bool>(),
        index in 1u32..=u32::MAX,
        prefix in 0u8..=128,
    ) {
        let (addr, prefix_len) = if is_v6 {
            (IpAddr::V6(Ipv6Addr::from(v6)), prefix)
        } else {
            (IpAddr::V4(Ipv4Addr::from(v4)), prefix % 33)
        };
        let bytes = Request::AddAddr { index, addr, prefix_len }.encode(1).unwrap();
        let messages = split_messages(&bytes).unwrap();
        prop_assert_eq!(messages.len(), 1);
        let flags = if is_v6 { 0x02 } else { 0 };
        prop_assert_eq!(
            decode_addr(messages[0].payload).unwrap(),
            Some(IfAddr {
                index,
                addr,
                prefix_len,
                flags: AddrFlags(flags),
                scope: Scope::Universe,
            })
        );
    }
}
