//! Helpers for `tests/netlink_codec.rs`: netlink attributes written by hand (independent of
//! the crate's encoder), hand-built kernel replies whose attributes a test can replace or
//! drop, and model values. The captured ipvsadm vectors are in `vectors.rs`.

use std::net::IpAddr;

use ipvsd::ipvs::backend::Stats;
use ipvsd::ipvs::model::{
    DestKey, Destination, Family, Forwarding, Protocol, Scheduler, Service, ServiceKey, svc_flags,
};
use ipvsd::ipvs::netlink::Request;

pub mod vectors;

// === Helpers: bytes by hand ===

pub fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex vector"))
        .collect()
}

/// One `struct nlattr`: u16 length (header + payload), u16 type, payload zero-padded to 4.
pub fn nla(ty: u16, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&(4 + payload.len() as u16).to_le_bytes());
    out.extend_from_slice(&ty.to_le_bytes());
    out.extend_from_slice(payload);
    out.resize(out.len().div_ceil(4) * 4, 0);
    out
}

pub fn nest(ty: u16, attrs: &[Vec<u8>]) -> Vec<u8> {
    nla(ty, &attrs.concat())
}

/// A generic netlink payload: cmd, version 1, reserved 0, then the attributes.
pub fn genl(cmd: u8, attrs: &[Vec<u8>]) -> Vec<u8> {
    [vec![cmd, 1, 0, 0], attrs.concat()].concat()
}

pub fn u16a(ty: u16, v: u16) -> Vec<u8> {
    nla(ty, &v.to_le_bytes())
}
pub fn u32a(ty: u16, v: u32) -> Vec<u8> {
    nla(ty, &v.to_le_bytes())
}
pub fn u64a(ty: u16, v: u64) -> Vec<u8> {
    nla(ty, &v.to_le_bytes())
}

/// The attributes of a plain IPv4 service as the kernel dumps it (see SERVICE_TCP4_REPLY),
/// keyed by type so that a test can replace or drop one.
pub fn svc_attrs() -> Vec<(u16, Vec<u8>)> {
    let addr = [vec![192, 0, 2, 1], vec![0; 12]].concat();
    vec![
        (1, u16a(1, 2)),                                  // AF = AF_INET
        (2, u16a(2, 6)),                                  // PROTOCOL = tcp
        (3, nla(3, &addr)),                               // ADDR = 192.0.2.1
        (4, nla(4, &80u16.to_be_bytes())),                // PORT = 80, big-endian
        (6, nla(6, b"rr\0")),                             // SCHED_NAME
        (7, nla(7, &[[2, 0, 0, 0], [0xff; 4]].concat())), // FLAGS {HASHED, ~0}
        (8, u32a(8, 0)),                                  // TIMEOUT
        (9, nla(9, &[0xff; 4])),                          // NETMASK
    ]
}

/// The attributes of a NAT destination as the kernel dumps it (see DEST_NAT_REPLY).
pub fn dest_attrs() -> Vec<(u16, Vec<u8>)> {
    let addr = [vec![198, 51, 100, 1], vec![0; 12]].concat();
    vec![
        (1, nla(1, &addr)),                  // ADDR = 198.51.100.1
        (2, nla(2, &8080u16.to_be_bytes())), // PORT
        (3, u32a(3, 0)),                     // FWD_METHOD = MASQ
        (4, u32a(4, 5)),                     // WEIGHT
        (13, nla(13, &[0])),                 // TUN_TYPE
        (14, nla(14, &[0, 0])),              // TUN_PORT
        (15, u16a(15, 0)),                   // TUN_FLAGS
        (5, u32a(5, 0)),                     // U_THRESH
        (6, u32a(6, 0)),                     // L_THRESH
        (7, u32a(7, 1)),                     // ACTIVE_CONNS
        (8, u32a(8, 2)),                     // INACT_CONNS
        (9, u32a(9, 3)),                     // PERSIST_CONNS
        (11, u16a(11, 2)),                   // ADDR_FAMILY = AF_INET
    ]
}

pub fn with(mut attrs: Vec<(u16, Vec<u8>)>, ty: u16, attr: Vec<u8>) -> Vec<(u16, Vec<u8>)> {
    attrs.retain(|(t, _)| *t != ty);
    attrs.push((ty, attr));
    attrs
}

pub fn without(mut attrs: Vec<(u16, Vec<u8>)>, ty: u16) -> Vec<(u16, Vec<u8>)> {
    attrs.retain(|(t, _)| *t != ty);
    attrs
}

/// NEW_SERVICE (cmd 1) with these attributes nested in IPVS_CMD_ATTR_SERVICE (1).
pub fn svc_msg(attrs: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let inner: Vec<Vec<u8>> = attrs.iter().map(|(_, a)| a.clone()).collect();
    genl(1, &[nest(1, &inner)])
}

/// NEW_DEST (cmd 5) with these attributes nested in IPVS_CMD_ATTR_DEST (2).
pub fn dest_msg(attrs: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let inner: Vec<Vec<u8>> = attrs.iter().map(|(_, a)| a.clone()).collect();
    genl(5, &[nest(2, &inner)])
}

/// A stats nest: ten counters, `wide` says which are u64 (all for STATS64).
pub fn stats_nest(ty: u16, values: [u64; 10], wide: impl Fn(u16) -> bool) -> Vec<u8> {
    let attrs: Vec<Vec<u8>> = (1u16..=10)
        .zip(values)
        .map(|(t, v)| {
            if wide(t) {
                u64a(t, v)
            } else {
                u32a(t, v as u32)
            }
        })
        .collect();
    nest(ty, &attrs)
}

pub fn legacy_wide(t: u16) -> bool {
    t == 4 || t == 5 // INBYTES, OUTBYTES
}

pub fn stats(v: [u64; 10]) -> Stats {
    let [
        conns,
        inpkts,
        outpkts,
        inbytes,
        outbytes,
        cps,
        inpps,
        outpps,
        inbps,
        outbps,
    ] = v;
    Stats {
        conns,
        inpkts,
        outpkts,
        inbytes,
        outbytes,
        cps,
        inpps,
        outpps,
        inbps,
        outbps,
    }
}

// === Helpers: model values ===

pub fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address")
}

pub fn addr_key(protocol: Protocol, addr: &str, port: u16) -> ServiceKey {
    ServiceKey::Addr {
        protocol,
        addr: ip(addr),
        port,
    }
}

pub fn tcp4() -> ServiceKey {
    addr_key(Protocol::Tcp, "192.0.2.1", 80)
}

pub fn udp6() -> ServiceKey {
    addr_key(Protocol::Udp, "2001:db8::1", 53)
}

pub fn fwmark7() -> ServiceKey {
    ServiceKey::Fwmark {
        family: Family::Inet,
        mark: 7,
    }
}

pub fn svc(
    key: ServiceKey,
    scheduler: Scheduler,
    flags: u32,
    timeout: u32,
    netmask: u32,
) -> Service {
    Service {
        key,
        scheduler,
        flags,
        timeout,
        netmask,
        pe_name: None,
    }
}

pub fn dest(addr: &str, port: u16, forwarding: Forwarding, weight: u32) -> Destination {
    Destination {
        key: DestKey {
            addr: ip(addr),
            port,
        },
        forwarding,
        weight,
        upper_threshold: 0,
        lower_threshold: 0,
    }
}

pub fn encode(req: Request<'_>) -> Vec<u8> {
    req.encode().expect("encodable request")
}

pub fn persistent_udp6() -> Service {
    svc(udp6(), Scheduler::Wlc, svc_flags::PERSISTENT, 300, 64)
}

pub fn fwmark_sh() -> Service {
    let flags = svc_flags::PERSISTENT | svc_flags::ONEPACKET | svc_flags::SCHED2;
    svc(fwmark7(), Scheduler::Sh, flags, 60, 0xffff_ff00)
}
