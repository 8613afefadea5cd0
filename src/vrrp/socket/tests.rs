//! Unit tests of the pure helpers of `vrrp::socket`: destinations, control messages
//! in and out, scopes, error classification.

use super::*;

const LL_A: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0xa);
const DOC6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);

fn pktinfo6(addr: Ipv6Addr, ifindex: u32) -> ControlMessageOwned {
    ControlMessageOwned::Ipv6PacketInfo(ipv6_pktinfo(addr, ifindex))
}

#[test]
fn multicast_mode_sends_to_the_familys_vrrp_group() {
    assert_eq!(
        destinations(Family::Inet, &[]),
        vec![IpAddr::V4(Ipv4Addr::new(224, 0, 0, 18))]
    );
    assert_eq!(
        destinations(Family::Inet6, &[]),
        vec!["ff02::12".parse::<IpAddr>().unwrap()]
    );
}

#[test]
fn unicast_mode_sends_to_every_peer_in_order() {
    let peers: Vec<IpAddr> = vec![
        "198.51.100.7".parse().unwrap(),
        "192.0.2.2".parse().unwrap(),
    ];
    assert_eq!(destinations(Family::Inet, &peers), peers);
}

#[test]
fn ipv4_pktinfo_carries_the_source_in_network_order_and_the_interface() {
    let info = ipv4_pktinfo(Ipv4Addr::new(192, 0, 2, 1), 7);
    assert_eq!(
        (
            info.ipi_ifindex,
            info.ipi_spec_dst.s_addr.to_ne_bytes(),
            info.ipi_addr.s_addr
        ),
        (7, [192, 0, 2, 1], 0)
    );
}

#[test]
fn ipv6_pktinfo_carries_the_source_and_the_interface() {
    let info = ipv6_pktinfo(LL_A, 9);
    assert_eq!(
        (info.ipi6_addr.s6_addr, info.ipi6_ifindex),
        (LL_A.octets(), 9)
    );
}

#[test]
fn link_scoped_destinations_get_the_interface_as_scope_and_global_ones_none() {
    let got: Vec<SocketAddrV6> = [
        LL_A,
        VRRP_GROUP_V6,
        ALL_NODES_V6,
        DOC6,
        "ff05::12".parse().unwrap(),
    ]
    .into_iter()
    .map(|a| ipv6_destination(a, 4))
    .collect();
    assert_eq!(
        got,
        vec![
            SocketAddrV6::new(LL_A, 0, 0, 4),
            SocketAddrV6::new(VRRP_GROUP_V6, 0, 0, 4),
            SocketAddrV6::new(ALL_NODES_V6, 0, 0, 4),
            SocketAddrV6::new(DOC6, 0, 0, 0),
            SocketAddrV6::new("ff05::12".parse().unwrap(), 0, 0, 0),
        ]
    );
}

#[test]
fn unicast_source_binds_without_a_port_and_link_local_with_its_scope() {
    assert_eq!(
        (
            local_address("192.0.2.1".parse().unwrap(), 3),
            local_address(IpAddr::V6(LL_A), 3),
            local_address(IpAddr::V6(DOC6), 3),
        ),
        (
            "192.0.2.1:0".parse().unwrap(),
            SocketAddr::V6(SocketAddrV6::new(LL_A, 0, 0, 3)),
            SocketAddr::V6(SocketAddrV6::new(DOC6, 0, 0, 0)),
        )
    );
}

#[test]
fn ipv6_control_messages_give_destination_and_hop_limit() {
    let control = ipv6_control([
        ControlMessageOwned::Ipv6HopLimit(255),
        pktinfo6(VRRP_GROUP_V6, 2),
    ]);
    assert_eq!(
        control,
        Ipv6Control {
            dst: Some(VRRP_GROUP_V6),
            hop_limit: Some(255),
        }
    );
}

#[test]
fn ipv6_control_messages_missing_or_out_of_range_leave_the_fields_unset() {
    assert_eq!(
        (
            ipv6_control([]),
            ipv6_control([ControlMessageOwned::Ipv6HopLimit(256)]),
            ipv6_control([ControlMessageOwned::Ipv6HopLimit(-1)]),
        ),
        (
            Ipv6Control::default(),
            Ipv6Control::default(),
            Ipv6Control::default(),
        )
    );
}

#[test]
fn a_hop_limit_of_64_is_reported_as_64_not_assumed_255() {
    let control = ipv6_control([pktinfo6(DOC6, 2), ControlMessageOwned::Ipv6HopLimit(64)]);
    assert_eq!(
        control,
        Ipv6Control {
            dst: Some(DOC6),
            hop_limit: Some(64),
        }
    );
}

#[test]
fn addresses_of_the_other_family_are_refused_with_interface_and_address() {
    let interface = Interface {
        index: 3,
        name: Some("eth0".into()),
    };
    let err = check_family(&interface, Family::Inet, IpAddr::V6(DOC6)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "address 2001:db8::2 is not of the socket's family ipv4 on interface eth0 (index 3)"
    );
    assert!(check_family(&interface, Family::Inet6, IpAddr::V6(DOC6)).is_ok());
}

#[test]
fn interface_indexes_beyond_c_int_are_refused() {
    assert!(matches!(
        c_index(u32::MAX),
        Err(SocketError::InvalidIndex { index: u32::MAX })
    ));
    assert_eq!(c_index(2).ok(), Some(2));
}

#[test]
fn only_packet_level_errors_count_as_malformed() {
    let interface = Interface {
        index: 1,
        name: None,
    };
    let errors = [
        SocketError::Truncated {
            interface: interface.clone(),
            capacity: 10,
        },
        SocketError::Malformed {
            interface: interface.clone(),
            source: DecodeError::NotIpv4 { version: 6 },
        },
        SocketError::MissingControl {
            interface: interface.clone(),
            what: "IPV6_PKTINFO",
        },
        SocketError::Recv {
            interface: interface.clone(),
            source: io::Error::from(io::ErrorKind::PermissionDenied),
        },
        SocketError::InvalidIndex { index: u32::MAX },
    ];
    let malformed: Vec<bool> = errors.iter().map(SocketError::is_malformed).collect();
    assert_eq!(malformed, vec![true, true, true, false, false]);
}
