//! Frames a new master sends so that neighbours update their caches at once: gratuitous ARP
//! for IPv4 virtual addresses and unsolicited neighbour advertisements for IPv6 ones
//! (RFC 5798 section 6.4.1, RFC 3768 section 6.4.1).
//!
//! Pure: builds bytes, sends nothing. Both are sent from the interface's own MAC address
//! (we do not use the 00:00:5e:00:01:{vrid} virtual MAC).

use std::net::{Ipv4Addr, Ipv6Addr};

const ETHERTYPE_ARP: u16 = 0x0806;
const ETHERTYPE_IPV4: u16 = 0x0800;
const ARPHRD_ETHER: u16 = 1;
const ARPOP_REQUEST: u16 = 1;
const ICMPV6_NEIGHBOUR_ADVERTISEMENT: u8 = 136;
const NA_FLAG_ROUTER: u8 = 0x80;
const NA_FLAG_OVERRIDE: u8 = 0x20;
const ND_OPT_TARGET_LINK_LAYER_ADDRESS: u8 = 2;

/// Length of a gratuitous ARP frame: 14-byte Ethernet header + 28-byte ARP message. The
/// NIC pads it to the 60-byte Ethernet minimum.
pub const GRATUITOUS_ARP_LEN: usize = 42;
/// Length of the neighbour advertisement built by [`unsolicited_na`].
pub const UNSOLICITED_NA_LEN: usize = 32;

/// A whole Ethernet frame announcing that `ip` is at `src_mac`, for a packet socket.
///
/// ```text
///  Ethernet: dst ff:ff:ff:ff:ff:ff | src src_mac | type 0x0806
///  ARP (RFC 826):
///   0                   1                   2                   3
///   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
///  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///  |     Hardware type (1)         |     Protocol type (0x0800)    |
///  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///  |  HW len (6)   | Proto len (4) |        Operation (1)          |
///  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///  |            Sender hardware address (src_mac, 6 bytes)         |
///  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///  |            Sender protocol address (ip)                       |
///  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///  |            Target hardware address (zero, 6 bytes)            |
///  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///  |            Target protocol address (ip)                       |
///  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
///
/// An ARP request with sender = target = `ip`: the ARP Announcement of RFC 5227 section 3,
/// and the operation keepalived 2.2.7 uses (request, not reply: every stack updates an
/// existing entry from a request, and some ignore unsolicited replies). The target
/// hardware address is all zeroes as RFC 5227 section 2.1.1 says it SHOULD be, and as the
/// Linux kernel's own announcements are; keepalived puts ff:ff:ff:ff:ff:ff there. Receivers
/// ignore the field in a request (RFC 826), so both work; tests/vrrp_vectors.rs checks that
/// this is the only byte range where we differ from keepalived.
pub fn gratuitous_arp(src_mac: [u8; 6], ip: Ipv4Addr) -> [u8; GRATUITOUS_ARP_LEN] {
    let mut frame = [0u8; GRATUITOUS_ARP_LEN];
    let parts: [&[u8]; 11] = [
        &[0xff; 6],
        &src_mac,
        &ETHERTYPE_ARP.to_be_bytes(),
        &ARPHRD_ETHER.to_be_bytes(),
        &ETHERTYPE_IPV4.to_be_bytes(),
        &[6, 4],
        &ARPOP_REQUEST.to_be_bytes(),
        &src_mac,
        &ip.octets(),
        &[0; 6],
        &ip.octets(),
    ];
    let mut at = 0;
    for part in parts {
        if let Some(dst) = frame.get_mut(at..at + part.len()) {
            dst.copy_from_slice(part);
        }
        at += part.len();
    }
    frame
}

/// The ICMPv6 Neighbor Advertisement (RFC 4861 section 4.4) announcing that `target` is at
/// `src_mac`, for a raw ICMPv6 socket:
///
/// ```text
///   0                   1                   2                   3
///   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
///  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///  |     Type (136)|     Code (0)  |          Checksum (0)         |
///  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///  |R|S|O|                     Reserved                            |
///  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///  |                                                               |
///  +                       Target Address                          +
///  |                          (target)                             |
///  +                                                               +
///  |                                                               |
///  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///  |   Type (2)    |  Length (1)   |  Target link-layer address    |
///  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+       (src_mac, 6 bytes)      +
///  |                                                               |
///  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
///
/// Flags (RFC 4861 section 7.2.6): Solicited 0, Override 1 (replace cached link-layer
/// addresses), Router = `router`. Like keepalived (which reads the interface's
/// `net.ipv6.conf.<if>.forwarding`), the caller passes whether the interface forwards:
/// a host that sees R=0 from a neighbour it knows as a router removes it from its default
/// router list (RFC 4861 section 7.2.5), which would cut off real servers that route
/// through the VIP (LVS-NAT), and R=1 from a non-router would wrongly make it one.
///
/// The checksum is left 0: the kernel fills it in on a raw ICMPv6 socket (RFC 3542 section
/// 3.1). Send it to ff02::1 (all nodes) with hop limit 255 (receivers drop neighbour
/// discovery with any other, RFC 4861 section 7.1.2) and, as keepalived does, with
/// `target` itself as the IPv6 source address.
pub fn unsolicited_na(src_mac: [u8; 6], target: Ipv6Addr, router: bool) -> Vec<u8> {
    let flags = if router {
        NA_FLAG_ROUTER | NA_FLAG_OVERRIDE
    } else {
        NA_FLAG_OVERRIDE
    };
    let mut na = Vec::with_capacity(UNSOLICITED_NA_LEN);
    na.extend_from_slice(&[ICMPV6_NEIGHBOUR_ADVERTISEMENT, 0, 0, 0, flags, 0, 0, 0]);
    na.extend_from_slice(&target.octets());
    na.extend_from_slice(&[ND_OPT_TARGET_LINK_LAYER_ADDRESS, 1]);
    na.extend_from_slice(&src_mac);
    na
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x0a];

    #[test]
    fn gratuitous_arp_is_a_broadcast_request_from_and_for_the_address() {
        let frame = gratuitous_arp(MAC, Ipv4Addr::new(192, 0, 2, 101));
        let expected: Vec<u8> = [
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff][..], // Ethernet destination: broadcast
            &MAC,                                      // Ethernet source
            &[0x08, 0x06],                             // ARP
            &[0x00, 0x01, 0x08, 0x00, 6, 4],           // Ethernet / IPv4, lengths 6 and 4
            &[0x00, 0x01],                             // request
            &MAC,                                      // sender MAC
            &[192, 0, 2, 101],                         // sender IP
            &[0, 0, 0, 0, 0, 0],                       // target MAC: zero (RFC 5227)
            &[192, 0, 2, 101],                         // target IP = sender IP
        ]
        .concat();
        assert_eq!(frame.to_vec(), expected);
    }

    #[test]
    fn unsolicited_na_overrides_and_is_not_solicited() {
        let target = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x52);
        let expected: Vec<u8> = [
            &[136, 0, 0, 0][..], // type, code, checksum left to the kernel
            &[0x20, 0, 0, 0],    // R=0 S=0 O=1
            &target.octets(),    // target address
            &[2, 1],             // option: target link-layer address, 8 bytes
            &MAC,
        ]
        .concat();
        assert_eq!(unsolicited_na(MAC, target, false), expected);
    }

    #[test]
    fn unsolicited_na_from_a_forwarding_interface_sets_the_router_flag() {
        let target = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
        let na = unsolicited_na(MAC, target, true);
        let mut expected = unsolicited_na(MAC, target, false);
        expected[4] = 0xa0; // R=1 S=0 O=1
        assert_eq!(na, expected);
        assert_eq!(na.len(), UNSOLICITED_NA_LEN);
    }
}
