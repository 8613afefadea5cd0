//! Unit tests of the VRRP codec (a child module of `packet`, so it sees the private
//! checksum helpers). Captured keepalived packets are in tests/vrrp_vectors.rs.

use super::*;

const SRC4: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
const GROUP4: IpAddr = IpAddr::V4(Ipv4Addr::new(224, 0, 0, 18));
// VRRPv3 over IPv6 is sent from the link-local address to ff02::12.
const SRC6: IpAddr = IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0xff, 0xfe00, 0xa));
const GROUP6: IpAddr = IpAddr::V6(Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12));

fn v4(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(192, 0, 2, last))
}

fn v6(last: u16) -> IpAddr {
    IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, last))
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn v3(addresses: Vec<IpAddr>) -> Advert {
    Advert {
        version: VrrpVersion::V3,
        vrid: 1,
        priority: 100,
        interval: Duration::from_secs(1),
        addresses,
        auth: Auth::None,
    }
}

fn v2(auth: Auth) -> Advert {
    Advert {
        version: VrrpVersion::V2,
        auth,
        ..v3(vec![v4(100)])
    }
}

fn secret() -> Auth {
    Auth::Password(*b"secret12")
}

/// Rewrites the checksum of a hand-edited message so that later checks are reached.
fn rechecksum(mut msg: Vec<u8>, version: VrrpVersion, src: IpAddr, dst: IpAddr) -> Vec<u8> {
    msg[6] = 0;
    msg[7] = 0;
    let sum = !ones_sum(&[&pseudo_header(version, src, dst, msg.len()), &msg]);
    msg[6..8].copy_from_slice(&sum.to_be_bytes());
    msg
}

// === Checksum on hand-made examples ===

#[test]
fn v3_ipv4_checksum_covers_the_pseudo_header() {
    // Pseudo-header c000 0201 e000 0012 0070 000c (src, dst, zero+proto, length 12)
    // + message 3101 6401 0064 0000 c000 0264 = 0x2fa59, folded 0xfa5b, inverted 0x05a4.
    let msg = encode(&v3(vec![v4(100)]), SRC4, GROUP4).unwrap();
    assert_eq!(
        msg,
        hex("310164010064_05a4_c0000264".replace('_', "").as_str())
    );
}

#[test]
fn v2_checksum_covers_the_message_only() {
    // 2101 6401 0001 0000 c000 0264 0000 0000 0000 0000 = 0x14767, folded 0x4768,
    // inverted 0xb897.
    let msg = encode(&v2(Auth::None), SRC4, GROUP4).unwrap();
    assert_eq!(
        msg,
        hex("2101640100_01_b897_c0000264_0000000000000000"
            .replace('_', "")
            .as_str())
    );
}

#[test]
fn ones_sum_pads_an_odd_last_byte_and_folds_carries() {
    assert_eq!(ones_sum(&[&[0xff, 0xff], &[0x00, 0x02]]), 0x0002);
    assert_eq!(ones_sum(&[&[0x12], &[0x34, 0x56]]), 0x1234 + 0x5600);
    assert_eq!(ones_sum(&[]), 0);
}

#[test]
fn both_ones_complement_zeros_are_accepted_as_checksum() {
    // vrid + 256 * priority walks every 16-bit value, so one advert sums to 0xffff and
    // gets checksum 0x0000; its twin 0xffff must be accepted as well.
    let found = (0..=u8::MAX)
        .flat_map(|vrid| (0..=u8::MAX).map(move |priority| (vrid, priority)))
        .map(|(vrid, priority)| Advert {
            vrid,
            priority,
            ..v3(vec![v4(100)])
        })
        .find_map(|a| {
            let msg = encode(&a, SRC4, GROUP4).unwrap();
            (msg[6..8] == [0, 0]).then_some((a, msg))
        });
    let (advert, mut msg) = found.expect("some advert has checksum 0");
    assert_eq!(decode(&msg, SRC4, GROUP4), Ok(advert.clone()));
    msg[6..8].copy_from_slice(&[0xff, 0xff]);
    assert_eq!(decode(&msg, SRC4, GROUP4), Ok(advert));
}

// === Round trips ===

#[test]
fn every_version_and_family_round_trips() {
    let cases = [
        (v3(vec![v4(101), v4(102)]), SRC4, GROUP4, 16),
        (v3(vec![v6(0x52)]), SRC6, GROUP6, 24),
        (
            Advert {
                interval: Duration::from_millis(40950),
                ..v3(vec![v6(1), v6(2)])
            },
            SRC6,
            GROUP6,
            40,
        ),
        (v2(Auth::None), SRC4, GROUP4, 20),
        (
            Advert {
                interval: Duration::from_secs(255),
                ..v2(secret())
            },
            SRC4,
            GROUP4,
            20,
        ),
    ];
    for (advert, src, dst, len) in cases {
        let msg = encode(&advert, src, dst).unwrap();
        assert_eq!(msg.len(), len, "{advert:?}");
        assert_eq!(decode(&msg, src, dst), Ok(advert));
    }
}

#[test]
fn v3_unicast_adverts_checksum_over_the_unicast_destination() {
    let advert = v3(vec![v4(100)]);
    let msg = encode(&advert, SRC4, v4(2)).unwrap();
    assert_eq!(decode(&msg, SRC4, v4(2)), Ok(advert));
    assert_eq!(
        decode(&msg, SRC4, GROUP4),
        Err(DecodeError::Checksum {
            found: u16::from_be_bytes([msg[6], msg[7]]),
            computed: 0x05a4
        })
    );
}

#[test]
fn password_is_zero_padded_and_at_most_eight_bytes() {
    assert_eq!(
        Auth::password(b"abc"),
        Some(Auth::Password(*b"abc\0\0\0\0\0"))
    );
    assert_eq!(Auth::password(b"secret12"), Some(secret()));
    assert_eq!(Auth::password(b"secret123"), None);
}

// === Encode errors ===

#[test]
fn encode_refuses_what_the_wire_cannot_carry() {
    let v4_family = Family::Inet;
    let cases: Vec<(Advert, IpAddr, IpAddr, EncodeError)> = vec![
        (
            Advert {
                interval: Duration::from_millis(40960),
                ..v3(vec![v4(1)])
            },
            SRC4,
            GROUP4,
            EncodeError::IntervalOutOfRange {
                version: VrrpVersion::V3,
                interval: Duration::from_millis(40960),
                min: Duration::from_millis(10),
                max: Duration::from_millis(40950),
            },
        ),
        (
            Advert {
                interval: Duration::ZERO,
                ..v3(vec![v4(1)])
            },
            SRC4,
            GROUP4,
            EncodeError::IntervalOutOfRange {
                version: VrrpVersion::V3,
                interval: Duration::ZERO,
                min: Duration::from_millis(10),
                max: Duration::from_millis(40950),
            },
        ),
        (
            Advert {
                interval: Duration::from_millis(1005),
                ..v3(vec![v4(1)])
            },
            SRC4,
            GROUP4,
            EncodeError::IntervalNotWhole {
                version: VrrpVersion::V3,
                interval: Duration::from_millis(1005),
                unit: Duration::from_millis(10),
            },
        ),
        (
            Advert {
                interval: Duration::from_secs(256),
                ..v2(Auth::None)
            },
            SRC4,
            GROUP4,
            EncodeError::IntervalOutOfRange {
                version: VrrpVersion::V2,
                interval: Duration::from_secs(256),
                min: Duration::from_secs(1),
                max: Duration::from_secs(255),
            },
        ),
        (
            Advert {
                interval: Duration::from_millis(1500),
                ..v2(Auth::None)
            },
            SRC4,
            GROUP4,
            EncodeError::IntervalNotWhole {
                version: VrrpVersion::V2,
                interval: Duration::from_millis(1500),
                unit: Duration::from_secs(1),
            },
        ),
        (
            v3((0..256).map(|i| v4(i as u8)).collect()),
            SRC4,
            GROUP4,
            EncodeError::TooManyAddresses { count: 256 },
        ),
        (v3(vec![]), SRC4, GROUP4, EncodeError::NoAddresses),
        (
            v3(vec![v4(1), v6(1)]),
            SRC4,
            GROUP4,
            EncodeError::FamilyMismatch {
                address: v6(1),
                family: v4_family,
            },
        ),
        (
            v3(vec![v4(1)]),
            SRC4,
            GROUP6,
            EncodeError::FamilyMismatch {
                address: GROUP6,
                family: v4_family,
            },
        ),
        (
            Advert {
                addresses: vec![v6(1)],
                ..v2(Auth::None)
            },
            SRC6,
            GROUP6,
            EncodeError::V2OverIpv6,
        ),
        (
            Advert {
                auth: secret(),
                ..v3(vec![v4(1)])
            },
            SRC4,
            GROUP4,
            EncodeError::AuthInV3,
        ),
    ];
    for (advert, src, dst, err) in cases {
        assert_eq!(encode(&advert, src, dst), Err(err));
    }
    assert_eq!(
        encode(&v3((0..255).map(|i| v4(i as u8)).collect()), SRC4, GROUP4).map(|m| m.len()),
        Ok(8 + 255 * 4)
    );
}

// === Decode errors ===

#[test]
fn decode_reports_every_structural_problem() {
    let good = encode(&v3(vec![v4(101), v4(102)]), SRC4, GROUP4).unwrap();
    let good_v2 = encode(&v2(secret()), SRC4, GROUP4).unwrap();
    let mut long = good.clone();
    long.push(0);
    let mut v5 = good.clone();
    v5[0] = 0x51;
    let mut v2_on_v6 = encode(&v3(vec![v6(1)]), SRC6, GROUP6).unwrap();
    v2_on_v6[0] = 0x21;
    let cases: Vec<(Vec<u8>, IpAddr, IpAddr, DecodeError)> = vec![
        (
            vec![],
            SRC4,
            GROUP4,
            DecodeError::Truncated { len: 0, need: 8 },
        ),
        (
            good[..7].to_vec(),
            SRC4,
            GROUP4,
            DecodeError::Truncated { len: 7, need: 8 },
        ),
        (
            good[..15].to_vec(),
            SRC4,
            GROUP4,
            DecodeError::Truncated { len: 15, need: 16 },
        ),
        (
            good_v2[..19].to_vec(),
            SRC4,
            GROUP4,
            DecodeError::Truncated { len: 19, need: 20 },
        ),
        // The same 16 bytes read as IPv6 would need 8 + 2 * 16.
        (
            good.clone(),
            SRC6,
            GROUP6,
            DecodeError::Truncated { len: 16, need: 40 },
        ),
        (
            long,
            SRC4,
            GROUP4,
            DecodeError::TrailingBytes {
                len: 17,
                expected: 16,
            },
        ),
        (v5, SRC4, GROUP4, DecodeError::UnknownVersion { version: 5 }),
        (v2_on_v6, SRC6, GROUP6, DecodeError::V2OverIpv6),
        (
            good.clone(),
            SRC4,
            GROUP6,
            DecodeError::MixedFamilies {
                src: SRC4,
                dst: GROUP6,
            },
        ),
    ];
    for (msg, src, dst, err) in cases {
        assert_eq!(decode(&msg, src, dst), Err(err), "{msg:02x?}");
    }
}

#[test]
fn decode_reports_type_then_checksum_then_fields() {
    let good = encode(&v3(vec![v4(101)]), SRC4, GROUP4).unwrap();
    let mut typ = good.clone();
    typ[0] = 0x32; // type 2, checksum left wrong: type is checked first
    let mut zero = good.clone();
    zero[4..6].copy_from_slice(&[0xf0, 0x00]); // reserved bits set, interval 0
    let mut bad_sum = good.clone();
    bad_sum[2] = 99;
    let v2 = encode(&v2(secret()), SRC4, GROUP4).unwrap();
    let with_auth = |t: u8| {
        let mut m = v2.clone();
        m[4] = t;
        rechecksum(m, VrrpVersion::V2, SRC4, GROUP4)
    };
    let cases: Vec<(Vec<u8>, DecodeError)> = vec![
        (typ, DecodeError::NotAdvertisement { packet_type: 2 }),
        (zero, DecodeError::ZeroInterval),
        (
            bad_sum,
            DecodeError::Checksum {
                found: 0x05a3,
                computed: 0x06a3,
            },
        ),
        (with_auth(2), DecodeError::AhAuthentication),
        (with_auth(3), DecodeError::UnknownAuthType { auth_type: 3 }),
    ];
    for (msg, err) in cases {
        assert_eq!(decode(&msg, SRC4, GROUP4), Err(err), "{msg:02x?}");
    }
}

#[test]
fn v3_reserved_bits_and_v2_unused_auth_data_are_ignored() {
    let mut msg = encode(&v3(vec![v4(101)]), SRC4, GROUP4).unwrap();
    msg[4] |= 0xf0;
    let msg = rechecksum(msg, VrrpVersion::V3, SRC4, GROUP4);
    assert_eq!(decode(&msg, SRC4, GROUP4), Ok(v3(vec![v4(101)])));

    let mut msg = encode(&v2(Auth::None), SRC4, GROUP4).unwrap();
    msg[12..20].copy_from_slice(b"garbage!");
    let msg = rechecksum(msg, VrrpVersion::V2, SRC4, GROUP4);
    assert_eq!(decode(&msg, SRC4, GROUP4), Ok(v2(Auth::None)));
}

// === parse_ipv4 ===

/// A 20-byte header (TOS 0xc0, id 1, TTL 255, protocol 112) before `payload`.
fn datagram(payload: &[u8]) -> Vec<u8> {
    let total = (20 + payload.len()) as u16;
    let mut d = vec![0x45, 0xc0];
    d.extend_from_slice(&total.to_be_bytes());
    d.extend_from_slice(&[0, 1, 0, 0, 255, 112, 0, 0, 192, 0, 2, 1, 224, 0, 0, 18]);
    d.extend_from_slice(payload);
    d
}

#[test]
fn parse_ipv4_reads_the_header_and_cuts_the_payload_at_total_length() {
    let mut d = datagram(&[1, 2, 3, 4]);
    d.extend_from_slice(&[9, 9]); // bytes past the total length are not payload
    assert_eq!(
        parse_ipv4(&d),
        Ok(Ipv4Packet {
            header_len: 20,
            total_len: 24,
            protocol: 112,
            ttl: 255,
            src: Ipv4Addr::new(192, 0, 2, 1),
            dst: Ipv4Addr::new(224, 0, 0, 18),
            payload: &[1, 2, 3, 4],
        })
    );
}

#[test]
fn parse_ipv4_skips_header_options() {
    // IHL 6: one 4-byte option (router alert, RFC 2113) before the payload.
    let mut d = datagram(&[0x94, 0x04, 0x00, 0x00, 7, 7]);
    d[0] = 0x46;
    let p = parse_ipv4(&d).unwrap();
    assert_eq!(
        (p.header_len, p.total_len, p.payload),
        (24, 26, &[7u8, 7][..])
    );
}

#[test]
fn parse_ipv4_reports_every_bad_header() {
    let good = datagram(&[1, 2, 3, 4]);
    let edit = |i: usize, v: &[u8]| {
        let mut d = good.clone();
        d[i..i + v.len()].copy_from_slice(v);
        d
    };
    let cases: Vec<(Vec<u8>, DecodeError)> = vec![
        (
            good[..19].to_vec(),
            DecodeError::Truncated { len: 19, need: 20 },
        ),
        (edit(0, &[0x65]), DecodeError::NotIpv4 { version: 6 }),
        (
            edit(0, &[0x44]),
            DecodeError::HeaderLength { header_len: 16 },
        ),
        (
            edit(0, &[0x47]),
            DecodeError::HeaderLength { header_len: 28 },
        ),
        (
            edit(2, &[0, 25]),
            DecodeError::TotalLength {
                total_len: 25,
                len: 24,
            },
        ),
        (
            edit(6, &[0x20, 0]),
            DecodeError::Fragment {
                offset: 0,
                more: true,
            },
        ),
        (
            edit(6, &[0x00, 0x10]),
            DecodeError::Fragment {
                offset: 16,
                more: false,
            },
        ),
    ];
    for (d, err) in cases {
        assert_eq!(parse_ipv4(&d), Err(err), "{d:02x?}");
    }
    // Don't Fragment alone is fine.
    assert_eq!(
        parse_ipv4(&edit(6, &[0x40, 0])).map(|p| p.payload),
        Ok(&[1u8, 2, 3, 4][..])
    );
}

// === validate ===

fn expect_v3() -> Expect {
    Expect {
        vrid: 1,
        version: VrrpVersion::V3,
        family: Family::Inet,
        interval: Duration::from_secs(3),
        auth: Auth::None,
    }
}

fn expect_v2() -> Expect {
    Expect {
        version: VrrpVersion::V2,
        interval: Duration::from_secs(1),
        auth: secret(),
        ..expect_v3()
    }
}

fn rx(message: &[u8]) -> Received<'_> {
    Received {
        src: SRC4,
        dst: GROUP4,
        ttl: 255,
        message,
    }
}

#[test]
fn validate_accepts_good_adverts_and_v3_ignores_the_configured_interval() {
    let a3 = v3(vec![v4(101)]);
    let m3 = encode(&a3, SRC4, GROUP4).unwrap();
    assert_eq!(validate(&rx(&m3), &expect_v3()), Ok(a3));
    let a2 = v2(secret());
    let m2 = encode(&a2, SRC4, GROUP4).unwrap();
    assert_eq!(validate(&rx(&m2), &expect_v2()), Ok(a2));
    let a6 = v3(vec![v6(1)]);
    let m6 = encode(&a6, SRC6, GROUP6).unwrap();
    let rx6 = Received {
        src: SRC6,
        dst: GROUP6,
        ttl: 255,
        message: &m6,
    };
    assert_eq!(
        validate(
            &rx6,
            &Expect {
                family: Family::Inet6,
                ..expect_v3()
            }
        ),
        Ok(a6)
    );
}

#[test]
fn validate_drops_with_one_reason_per_check() {
    let m3 = encode(&v3(vec![v4(101)]), SRC4, GROUP4).unwrap();
    let m2 = encode(&v2(secret()), SRC4, GROUP4).unwrap();
    let mut bad_sum = m3.clone();
    bad_sum[7] ^= 1;
    let mut typ = m3.clone();
    typ[0] = 0x32;
    let mut v7 = m3.clone();
    v7[0] = 0x71;
    let mut ah = m2.clone();
    ah[4] = 2;
    let ah = rechecksum(ah, VrrpVersion::V2, SRC4, GROUP4);
    let m6 = encode(&v3(vec![v6(1)]), SRC6, GROUP6).unwrap();
    let v4_rx = |m: &[u8], ttl: u8| (SRC4, GROUP4, ttl, m.to_vec());
    type Case = ((IpAddr, IpAddr, u8, Vec<u8>), Expect, DropReason);
    let cases: Vec<Case> = vec![
        (v4_rx(&m3, 254), expect_v3(), DropReason::BadTtl),
        (v4_rx(&m3[..10], 255), expect_v3(), DropReason::Malformed),
        (v4_rx(&v7, 255), expect_v3(), DropReason::WrongVersion),
        (v4_rx(&m2, 255), expect_v3(), DropReason::WrongVersion),
        (v4_rx(&typ, 255), expect_v3(), DropReason::WrongType),
        (v4_rx(&bad_sum, 255), expect_v3(), DropReason::BadChecksum),
        (
            v4_rx(&m3, 255),
            Expect {
                vrid: 2,
                ..expect_v3()
            },
            DropReason::OtherVrid,
        ),
        (
            v4_rx(&m2, 255),
            Expect {
                interval: Duration::from_secs(2),
                ..expect_v2()
            },
            DropReason::IntervalMismatch,
        ),
        (
            v4_rx(&m2, 255),
            Expect {
                auth: Auth::None,
                ..expect_v2()
            },
            DropReason::AuthMismatch,
        ),
        (
            v4_rx(&m2, 255),
            Expect {
                auth: Auth::Password(*b"secret13"),
                ..expect_v2()
            },
            DropReason::AuthMismatch,
        ),
        (v4_rx(&ah, 255), expect_v2(), DropReason::AuthMismatch),
        (
            (SRC6, GROUP6, 255, m6),
            expect_v3(),
            DropReason::FamilyMismatch,
        ),
    ];
    let mut seen = Vec::new();
    for ((src, dst, ttl, message), expect, reason) in cases {
        let r = Received {
            src,
            dst,
            ttl,
            message: &message,
        };
        assert_eq!(
            validate(&r, &expect),
            Err(reason),
            "{message:02x?} {expect:?}"
        );
        seen.push(reason);
    }
    for reason in DropReason::ALL {
        assert!(seen.contains(&reason), "{reason:?} not exercised");
    }
}

#[test]
fn validate_checks_ttl_first_then_vrid_then_auth_then_interval() {
    // Garbage with a bad TTL is a TTL drop; another VRID with another interval and
    // password is "not ours", not a misconfiguration; a wrong password with a wrong
    // interval is an auth failure (RFC 3768 section 7.1 order).
    let r = Received {
        ttl: 1,
        ..rx(&[0xff])
    };
    assert_eq!(validate(&r, &expect_v3()), Err(DropReason::BadTtl));
    let other = Advert {
        vrid: 9,
        interval: Duration::from_secs(5),
        ..v2(Auth::None)
    };
    let m = encode(&other, SRC4, GROUP4).unwrap();
    assert_eq!(validate(&rx(&m), &expect_v2()), Err(DropReason::OtherVrid));
    let ours = Advert { vrid: 1, ..other };
    let m = encode(&ours, SRC4, GROUP4).unwrap();
    assert_eq!(
        validate(&rx(&m), &expect_v2()),
        Err(DropReason::AuthMismatch)
    );
}

#[test]
fn drop_reasons_have_stable_distinct_labels() {
    let labels: Vec<&str> = DropReason::ALL.iter().map(|r| r.as_str()).collect();
    assert_eq!(
        labels,
        [
            "bad_ttl",
            "malformed",
            "wrong_version",
            "wrong_type",
            "bad_checksum",
            "other_vrid",
            "interval_mismatch",
            "auth_mismatch",
            "family_mismatch",
        ]
    );
    let logged: Vec<bool> = DropReason::ALL.iter().map(|r| r.is_logged()).collect();
    assert_eq!(
        logged,
        [true, true, true, true, true, false, true, true, true]
    );
}
