//! The bodies of the fuzz targets (`fuzz/fuzz_targets/`), here so that the same code runs
//! under libFuzzer (`tests/fuzz.sh`, nightly) and, on every input kept in
//! `fuzz/regressions/` and `fuzz/seeds/`, as a plain test on stable (`tests/fuzz_inputs.rs`).
//!
//! Each takes arbitrary bytes and checks more than "does not panic": whatever a decoder
//! accepts must survive an encode/decode round trip unchanged, and what a validator lets
//! through must match what it was asked to accept. A broken invariant panics, which the
//! fuzzer reports as a crash.

use std::net::{IpAddr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::VrrpVersion;
use crate::config::schema::Env;
use crate::ipvs::backend::Op;
use crate::ipvs::model::{Family, ServiceKey};
use crate::ipvs::netlink::Request;
use crate::ipvs::netlink::decode::{
    decode_daemon, decode_dest, decode_dest_key, decode_dests, decode_family_id, decode_info,
    decode_service, decode_services, decode_timeouts,
};
use crate::ipvs::netlink::frame::{Body, Pending, split_messages};
use crate::vrrp::packet::{self, Auth, DropReason, Expect, Received, parse_ipv4, validate};

// === VRRP ===

/// One received VRRP datagram. The first byte picks how the rest is read: an IPv4 datagram
/// as the raw socket delivers it (header included), or an IPv6 VRRP message (the kernel
/// strips the header; source, destination and hop limit come from the socket). The second
/// byte and onwards also make up the `Expect` of the instance it is validated against.
pub fn vrrp(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let expect = expect_from(selector, rest);
    if selector & 1 == 0 {
        let Ok(ip) = parse_ipv4(rest) else {
            return;
        };
        assert!(ip.payload.len() <= rest.len());
        let rx = Received {
            src: IpAddr::V4(ip.src),
            dst: IpAddr::V4(ip.dst),
            ttl: ip.ttl,
            message: ip.payload,
        };
        vrrp_message(&rx, &expect);
    } else {
        let rx = Received {
            src: IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1)),
            dst: IpAddr::V6(Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12)),
            ttl: if selector & 2 == 0 { 255 } else { 64 },
            message: rest,
        };
        vrrp_message(&rx, &expect);
    }
}

fn expect_from(selector: u8, rest: &[u8]) -> Expect {
    let byte = |i: usize| rest.get(i).copied().unwrap_or(0);
    Expect {
        vrid: byte(1),
        version: if selector & 4 == 0 {
            VrrpVersion::V3
        } else {
            VrrpVersion::V2
        },
        family: if selector & 1 == 0 {
            Family::Inet
        } else {
            Family::Inet6
        },
        interval: Duration::from_secs(u64::from(byte(5).max(1))),
        auth: if selector & 8 == 0 {
            Auth::None
        } else {
            Auth::Password(*b"secret\0\0")
        },
    }
}

fn vrrp_message(rx: &Received<'_>, expect: &Expect) {
    if let Ok(advert) = packet::decode(rx.message, rx.src, rx.dst) {
        for addr in &advert.addresses {
            assert_eq!(
                addr.is_ipv4(),
                rx.src.is_ipv4(),
                "address of the other family"
            );
        }
        assert!(!advert.interval.is_zero(), "a zero interval was accepted");
        // What we accept, we can say again, and read back the same.
        if let Ok(bytes) = packet::encode(&advert, rx.src, rx.dst) {
            let again = packet::decode(&bytes, rx.src, rx.dst)
                .unwrap_or_else(|e| panic!("our own encoding of {advert:?} fails: {e}"));
            assert_eq!(again, advert, "VRRP round trip changed the advert");
        }
    }
    match validate(rx, expect) {
        Ok(advert) => {
            assert_eq!(rx.ttl, 255, "accepted from off-link");
            assert_eq!(advert.vrid, expect.vrid, "accepted another VRID");
            assert_eq!(advert.version, expect.version, "accepted another version");
            assert_eq!(
                packet::decode(rx.message, rx.src, rx.dst).as_ref(),
                Ok(&advert),
                "validate and decode disagree"
            );
        }
        Err(reason) => {
            // Every reason has a metric label.
            assert!(!reason.as_str().is_empty());
            if reason == DropReason::BadTtl {
                assert_ne!(rx.ttl, 255);
            }
        }
    }
}

// === IPVS generic netlink ===

/// One datagram read from the IPVS netlink socket. It is split into messages and fed to a
/// `Pending` for a few requests; every data payload is decoded as each kind of reply, and
/// every service and destination decoded is encoded again (as we would send it) and must
/// decode to the same thing.
pub fn netlink(data: &[u8]) {
    let Some((&count, datagram)) = data.split_first() else {
        return;
    };
    let family_id = 0x20;
    let count = usize::from(count % 8);
    let mut pending = Pending::new(1, family_id, count);
    let fed = pending.feed(datagram);
    let split = split_messages(datagram);
    assert_eq!(
        fed.is_ok(),
        split
            .as_ref()
            .is_ok_and(|m| m.iter().all(|m| m.body().is_ok())),
        "Pending takes a datagram iff every message of it is readable"
    );
    assert_eq!(pending.finish().len(), count, "one answer per request");
    let Ok(messages) = split else {
        return;
    };
    let payloads: Vec<Vec<u8>> = messages
        .iter()
        .filter_map(|m| match m.body() {
            Ok(Body::Data(p)) => Some(p.to_vec()),
            _ => None,
        })
        .collect();
    for p in &payloads {
        netlink_payload(p);
    }
    let _ = decode_services(&payloads);
    let key = ServiceKey::Fwmark {
        family: Family::Inet6,
        mark: 1,
    };
    let _ = decode_dests(&payloads, &key);
}

/// One generic netlink payload (`genlmsghdr` + attributes), as each kind of reply.
pub fn netlink_payload(p: &[u8]) {
    if let Ok((service, _stats)) = decode_service(p) {
        let op = Op::AddService(service.clone());
        if let Ok(bytes) = Request::Apply(&op).encode() {
            let (again, _) = decode_service(&bytes)
                .unwrap_or_else(|e| panic!("our own encoding of {service:?} fails: {e}"));
            assert_eq!(again, service, "service round trip");
        }
    }
    for family in [Family::Inet, Family::Inet6] {
        if let Ok(state) = decode_dest(p, family) {
            let svc = ServiceKey::Fwmark { family, mark: 1 };
            let op = Op::AddDest(svc, state.dest.clone());
            if let Ok(bytes) = Request::Apply(&op).encode() {
                // A request carries no counters, which a reply must: compare the key.
                let again = decode_dest_key(&bytes, family)
                    .unwrap_or_else(|e| panic!("our own encoding of {state:?} fails: {e}"));
                assert_eq!(again, state.dest.key, "destination round trip");
            }
        }
    }
    let _ = decode_info(p);
    let _ = decode_timeouts(p);
    let _ = decode_daemon(p);
    let _ = decode_family_id(p);
}

// === Config ===

/// Config text as `ipvsd check-config` reads it (after the UTF-8 check `load_file` does).
/// What loads must also make a table that renders in `ipvsadm -S` form.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match crate::config::load_str(text, Path::new("fuzz.yaml"), &AnyFile) {
        Ok(cfg) => {
            let table = crate::controller::configured_table(&cfg);
            let _ = crate::ipvs::save::save(&table);
            let _ = cfg.summary();
        }
        Err(e) => {
            let problems = e.problems();
            assert!(
                !problems.is_empty(),
                "a rejected config with no problem listed"
            );
            for p in problems {
                assert!(!p.trim().is_empty(), "an empty problem");
            }
        }
    }
}

/// Every file readable, every program executable: the fuzzer explores the schema, not the
/// file system.
struct AnyFile;

impl Env for AnyFile {
    fn hostname(&self) -> String {
        "fuzz".into()
    }
    fn resolve(&self, path: &Path) -> PathBuf {
        path.to_path_buf()
    }
    fn check_readable(&self, _: &Path) -> Result<(), String> {
        Ok(())
    }
    fn check_executable(&self, _: &Path) -> Result<(), String> {
        Ok(())
    }
}
