//! The bad-input corpus: truncated, oversized and malformed VRRP packets and IPVS netlink
//! replies, and hostile config files. Every one must give a clear error (a drop reason, a
//! decode error, a located config problem), never a panic, and nothing may be applied.
//! Valid inputs come from fuzz/seeds/ (captured from keepalived and from ipvsadm's
//! exchanges with a real kernel).

mod common;

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv6Addr};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use ipvsd::config::VrrpVersion;
use ipvsd::ipvs::backend::{Backend, BackendError, MemoryBackend};
use ipvsd::ipvs::model::Family as IpvsFamily;
use ipvsd::ipvs::netlink::frame::{Pending, split_messages};
use ipvsd::ipvs::netlink::{DecodeError, decode_dest, decode_info, decode_service};
use ipvsd::vrrp::packet::{Auth, DropReason, Expect, Family, Received, parse_ipv4, validate};

fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/seeds")
        .join(target);
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect();
    out.sort();
    out
}

// === VRRP ===

/// The IPv4 seeds (keepalived's adverts, with their IP header) and what accepts them.
fn vrrp_v4() -> Vec<(String, Vec<u8>, Expect)> {
    seeds("vrrp")
        .into_iter()
        .filter(|(_, d)| d[0] == 0)
        .map(|(name, d)| {
            let dgram = d[1..].to_vec();
            let ip = parse_ipv4(&dgram).unwrap();
            let msg = ip.payload;
            let v2 = msg[0] >> 4 == 2;
            let expect = Expect {
                vrid: msg[1],
                version: if v2 { VrrpVersion::V2 } else { VrrpVersion::V3 },
                family: Family::Inet,
                interval: Duration::from_secs(1),
                auth: if v2 {
                    Auth::password(b"secret12").unwrap()
                } else {
                    Auth::None
                },
            };
            (name, dgram, expect)
        })
        .collect()
}

fn receive(dgram: &[u8], expect: &Expect) -> Result<(), DropReason> {
    let ip = parse_ipv4(dgram).map_err(|_| DropReason::Malformed)?;
    let rx = Received {
        src: IpAddr::V4(ip.src),
        dst: IpAddr::V4(ip.dst),
        ttl: ip.ttl,
        message: ip.payload,
    };
    validate(&rx, expect).map(|_| ())
}

#[test]
fn every_truncation_of_a_vrrp_packet_is_dropped_as_malformed() {
    let all = vrrp_v4();
    assert!(all.len() >= 4, "seeds: {}", all.len());
    for (name, dgram, expect) in &all {
        assert_eq!(receive(dgram, expect), Ok(()), "{name} itself is accepted");
        // Cut anywhere: in the IP header, in the VRRP header, in the addresses. The IP
        // total length still claims the whole packet.
        for len in 0..dgram.len() {
            assert_eq!(
                receive(&dgram[..len], expect),
                Err(DropReason::Malformed),
                "{name} cut to {len} bytes"
            );
        }
        // The IP header agreeing with the cut: the VRRP message itself is short.
        for cut in 1..dgram.len() - 20 {
            let mut short = dgram[..dgram.len() - cut].to_vec();
            let total = short.len() as u16;
            short[2..4].copy_from_slice(&total.to_be_bytes());
            assert_eq!(
                receive(&short, expect),
                Err(DropReason::Malformed),
                "{name} with {cut} bytes less, IP length fixed"
            );
        }
    }
}

#[test]
fn oversized_vrrp_packets_are_dropped() {
    for (name, dgram, expect) in vrrp_v4() {
        for extra in [1usize, 4, 16, 1500, 65_000] {
            let mut big = dgram.clone();
            big.extend(std::iter::repeat_n(0xa5, extra));
            let total = u16::try_from(big.len()).unwrap_or(u16::MAX);
            big[2..4].copy_from_slice(&total.to_be_bytes());
            // Trailing bytes make the length disagree with the address count.
            assert_eq!(
                receive(&big, &expect),
                Err(DropReason::Malformed),
                "{name} + {extra} bytes"
            );
        }
        // A datagram longer than its IP total length: the rest is ignored (padding).
        let mut padded = dgram.clone();
        padded.extend([0u8; 32]);
        assert_eq!(receive(&padded, &expect), Ok(()), "{name} + link padding");
    }
}

#[test]
fn every_single_bit_flip_of_a_vrrp_packet_is_caught_or_harmless() {
    for (name, dgram, expect) in vrrp_v4() {
        let mut reasons = std::collections::BTreeMap::<&str, usize>::new();
        for byte in 0..dgram.len() {
            for bit in 0..8 {
                let mut bad = dgram.clone();
                bad[byte] ^= 1 << bit;
                let r = receive(&bad, &expect);
                // In the VRRP message, only the checksum catches a flipped address or
                // priority bit: none may pass.
                if byte >= 20 {
                    assert!(r.is_err(), "{name}: bit {bit} of byte {byte} accepted");
                }
                *reasons
                    .entry(r.err().map_or("accepted", DropReason::as_str))
                    .or_default() += 1;
            }
        }
        assert!(reasons.contains_key("bad_checksum"), "{name}: {reasons:?}");
        assert!(reasons.contains_key("malformed"), "{name}: {reasons:?}");
    }
}

#[test]
fn ipv6_vrrp_messages_of_every_length_decode_without_panic() {
    let src = IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1));
    let dst = IpAddr::V6(Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12));
    let expect = Expect {
        vrid: 52,
        version: VrrpVersion::V3,
        family: Family::Inet6,
        interval: Duration::from_secs(1),
        auth: Auth::None,
    };
    let mut checked = 0;
    for (name, d) in seeds("vrrp").into_iter().filter(|(_, d)| d[0] == 1) {
        let msg = &d[1..];
        for len in 0..msg.len() {
            let rx = Received {
                src,
                dst,
                ttl: 255,
                message: &msg[..len],
            };
            assert_eq!(
                validate(&rx, &expect),
                Err(DropReason::Malformed),
                "{name}[..{len}]"
            );
            checked += 1;
        }
        let mut big = msg.to_vec();
        big.extend([0u8; 4096]);
        let rx = Received {
            src,
            dst,
            ttl: 255,
            message: &big,
        };
        assert_eq!(
            validate(&rx, &expect),
            Err(DropReason::Malformed),
            "{name} oversized"
        );
    }
    assert!(checked > 0);
}

// === IPVS netlink ===

#[test]
fn every_truncation_of_a_netlink_datagram_is_an_error_and_nothing_is_taken() {
    let mut checked = 0;
    for (name, d) in seeds("netlink") {
        let dgram = &d[1..];
        assert!(split_messages(dgram).is_ok(), "{name} itself splits");
        for len in 1..dgram.len() {
            let cut = &dgram[..len];
            // A cut that ends exactly on a message boundary is a shorter valid datagram.
            let Err(e) = split_messages(cut) else {
                continue;
            };
            assert!(
                matches!(
                    e,
                    DecodeError::TruncatedMessage { .. } | DecodeError::BadMessageLength { .. }
                ),
                "{name}[..{len}]: {e}"
            );
            let mut p = Pending::new(1, 0x20, 1);
            assert!(p.feed(cut).is_err());
            assert!(!p.is_complete(), "{name}[..{len}] completed a request");
            checked += 1;
        }
    }
    assert!(checked > 100, "{checked}");
}

#[test]
fn oversized_and_lying_netlink_lengths_are_errors() {
    for (name, d) in seeds("netlink") {
        let dgram = &d[1..];
        // nlmsg_len beyond the datagram, and absurd.
        for len in [dgram.len() as u32 + 1, u32::MAX, 15, 0] {
            let mut bad = dgram.to_vec();
            bad[0..4].copy_from_slice(&len.to_ne_bytes());
            assert!(
                matches!(
                    split_messages(&bad),
                    Err(DecodeError::BadMessageLength { .. } | DecodeError::TruncatedMessage { .. })
                ),
                "{name} with nlmsg_len {len}"
            );
        }
    }
}

type Decoder = fn(&[u8]) -> Result<(), DecodeError>;

/// The generic netlink payloads of the captured replies, and the decoder for each.
fn replies() -> Vec<(String, Vec<u8>, Decoder)> {
    let service: Decoder = |p| decode_service(p).map(|_| ());
    let dest4: Decoder = |p| decode_dest(p, IpvsFamily::Inet).map(|_| ());
    let dest6: Decoder = |p| decode_dest(p, IpvsFamily::Inet6).map(|_| ());
    let info: Decoder = |p| decode_info(p).map(|_| ());
    let mut out = Vec::new();
    for (name, d) in seeds("netlink") {
        let decoder = match name.as_str() {
            n if n.starts_with("service_") || n == "traffic_service_reply" => service,
            "dest_gue6_reply" => dest6,
            n if n.starts_with("dest_") || n.starts_with("traffic_dest") => dest4,
            "info_reply" => info,
            _ => continue,
        };
        out.push((name, d[17..].to_vec(), decoder));
    }
    out
}

#[test]
fn every_truncation_of_a_kernel_reply_is_a_decode_error() {
    let all = replies();
    assert!(all.len() >= 8, "{}", all.len());
    for (name, payload, decode) in &all {
        assert_eq!(decode(payload), Ok(()), "{name} itself decodes");
        let mut errors = std::collections::HashSet::new();
        for len in 0..payload.len() {
            // Cutting after a whole attribute leaves a valid reply when the rest is
            // optional; everything else must be an error, and none may panic.
            if let Err(e) = decode(&payload[..len]) {
                errors.insert(std::mem::discriminant(&e));
            }
        }
        assert!(errors.len() >= 2, "{name}: only {errors:?}");
        // A nested attribute claiming more than there is.
        let mut lying = payload.clone();
        let first_attr = 4;
        lying[first_attr..first_attr + 2].copy_from_slice(&u16::MAX.to_ne_bytes());
        assert!(
            decode(&lying).is_err(),
            "{name} with a lying attribute length"
        );
    }
}

/// A dump that cannot be read changes nothing: the reconciler writes only after a dump it
/// could decode.
#[test]
fn a_malformed_dump_applies_nothing() {
    let cfg = common::load(concat!(
        "virtual_servers:\n",
        "  - address: 192.0.2.1:80\n",
        "    protocol: tcp\n",
        "    real_servers:\n",
        "      - address: 198.51.100.1:80\n",
    ));
    let table = ipvsd::controller::configured_table(&cfg);
    let owned: BTreeSet<_> = table.services.keys().copied().collect();
    let mut b = MemoryBackend::new();
    b.fail_next = vec![BackendError::Decode(
        "attribute IPVS_SVC_ATTR_FLAGS has 3 bytes, expected 8".into(),
    )];
    let r = ipvsd::ipvs::task::converge(&mut b, &table, &owned);
    assert!(r.applied.is_empty(), "{r:?}");
    assert!(
        r.error
            .as_deref()
            .is_some_and(|e| e.contains("IPVS_SVC_ATTR_FLAGS")),
        "{r:?}"
    );
    assert_eq!(b.writes(), 0);
    assert!(b.dump().unwrap().is_empty());
    // And once the replies are readable again, it converges.
    assert!(ipvsd::ipvs::task::converge(&mut b, &table, &owned).converged());
    assert_eq!(b.writes(), 2);
}

// === Config files ===

#[test]
fn hostile_config_files_are_refused_quickly_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    for (name, content, says) in common::hostile_configs() {
        let path = dir.path().join(name);
        std::fs::write(&path, &content).unwrap();
        let started = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_ipvsd"))
            .args(["check-config"])
            .arg(&path)
            .output()
            .unwrap();
        let took = started.elapsed();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {err}");
        assert!(err.contains(says), "{name}: expected {says:?} in:\n{err}");
        assert!(
            err.starts_with(&path.display().to_string()),
            "{name}: names the file: {err}"
        );
        assert!(!err.contains("panicked"), "{name}: {err}");
        // Debug builds; the alias bomb is the slowest (the parser's node budget).
        assert!(took < Duration::from_secs(20), "{name} took {took:?}");
        eprintln!(
            "{name}: refused in {took:?}: {}",
            err.lines().next().unwrap_or("")
        );
    }
}

#[test]
fn special_files_are_refused_without_reading_them() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo.yaml");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    for path in [fifo.as_path(), Path::new("/dev/zero"), dir.path()] {
        let started = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_ipvsd"))
            .args(["check-config"])
            .arg(path)
            // /dev/zero and /tmp are world-writable: get past that check to this one.
            .env("IPVSD_ALLOW_INSECURE_CONFIG", "1")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{}: {err}", path.display());
        assert!(
            err.contains("not a regular file"),
            "{}: {err}",
            path.display()
        );
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
