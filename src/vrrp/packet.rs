//! The VRRP advertisement codec (RFC 5798 version 3 over IPv4 and IPv6, RFC 3768 version 2
//! over IPv4), the IPv4 header reader for raw sockets, and receive-side validation.
//!
//! Pure: bytes and addresses in, values or typed errors out. No sockets, no clock; nothing
//! here panics on any input.
//!
//! VRRPv3, RFC 5798 section 5.1 (after the IPv4 or IPv6 header):
//!
//! ```text
//!     0                   1                   2                   3
//!     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!    |Version| Type  | Virtual Rtr ID|   Priority    |Count IPvX Addr|
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!    |(rsvd) |     Max Adver Int     |          Checksum             |
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!    |                                                               |
//!    +                                                               +
//!    |                       IPvX Address(es)                        |
//!    +                                                               +
//!    |                                                               |
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! Max Adver Int is in centiseconds (12 bits, at most 40.95 s). The checksum covers the
//! VRRP message and the IPv4 or IPv6 pseudo-header with protocol 112 (section 5.2.8).
//!
//! VRRPv2, RFC 3768 section 5.1 (IPv4 only):
//!
//! ```text
//!     0                   1                   2                   3
//!     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!    |Version| Type  | Virtual Rtr ID|   Priority    | Count IP Addrs|
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!    |   Auth Type   |   Adver Int   |          Checksum             |
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!    |                         IP Address (1)                        |
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!    |                            .                                  |
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!    |                         IP Address (n)                        |
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!    |                     Authentication Data (1)                   |
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!    |                     Authentication Data (2)                   |
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! Adver Int is in whole seconds; the checksum covers the VRRP message only. Auth types
//! (RFC 2338 section 5.3.6): 0 none, 1 simple text password (kept for keepalived
//! interoperability; it is no security), 2 IP Authentication Header (recognised and refused).
//!
//! Length: a message must be exactly as long as its address count says. RFC 5798 section
//! 7.1 only asks that the packet "contains the complete VRRP packet", but nothing may
//! follow the addresses (v3) or the authentication data (v2), the v2 checksum would be
//! ambiguous over extra bytes, and keepalived 2.2.7 (`vrrp_check_packet`) drops any packet
//! whose length differs ("vrrp packet too long"). Matching it means a mixed cluster agrees
//! on what a valid advert is.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use crate::config::VrrpVersion;

/// IP protocol number of VRRP (both versions).
pub const IPPROTO_VRRP: u8 = 112;
/// TTL / hop limit every advert is sent with and must arrive with (RFC 5798 section 5.1.1.3).
pub const VRRP_TTL: u8 = 255;
/// The address count is 8 bits.
pub const MAX_ADDRESSES: usize = 255;

const HEADER_LEN: usize = 8;
const AUTH_DATA_LEN: usize = 8;
const IPV4_MIN_HEADER: usize = 20;
const TYPE_ADVERTISEMENT: u8 = 1;
const AUTH_NONE: u8 = 0;
const AUTH_PASSWORD: u8 = 1;
const AUTH_AH: u8 = 2;
const V3_INTERVAL_MASK: u16 = 0x0fff;
const CENTISECOND: Duration = Duration::from_millis(10);
const SECOND: Duration = Duration::from_secs(1);

// === Types ===

/// The address family of an advert (of its IP header and of every address it carries).
pub use crate::ipvs::model::Family;

fn address_len(f: Family) -> usize {
    match f {
        Family::Inet => 4,
        Family::Inet6 => 16,
    }
}

/// VRRPv2 authentication. Version 3 has none (RFC 5798 section 9); its adverts always
/// carry `Auth::None`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Auth {
    None,
    /// Auth type 1, simple text password, zero-padded to 8 bytes as keepalived does.
    Password([u8; 8]),
}

impl Auth {
    /// A simple password from its text: zero-padded, `None` if longer than 8 bytes.
    pub fn password(text: &[u8]) -> Option<Auth> {
        let mut data = [0u8; AUTH_DATA_LEN];
        data.get_mut(..text.len())?.copy_from_slice(text);
        Some(Auth::Password(data))
    }
}

/// One VRRP advertisement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Advert {
    pub version: VrrpVersion,
    pub vrid: u8,
    pub priority: u8,
    pub interval: Duration,
    pub addresses: Vec<IpAddr>,
    pub auth: Auth,
}

/// An IPv4 datagram as a raw IPv4 socket delivers it (Linux keeps the header as received,
/// total length in network byte order).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4Packet<'a> {
    pub header_len: usize,
    pub total_len: usize,
    pub protocol: u8,
    pub ttl: u8,
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    /// The bytes after the header, up to the total length.
    pub payload: &'a [u8],
}

/// A received VRRP message with what the socket said about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Received<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// IPv4 TTL, or the IPv6 hop limit from the `IPV6_HOPLIMIT` control message.
    pub ttl: u8,
    /// The VRRP message (after the IP header).
    pub message: &'a [u8],
}

/// What one configured instance accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Expect {
    pub vrid: u8,
    pub version: VrrpVersion,
    pub family: Family,
    /// Checked for version 2 only: a version 3 backup adopts the master's interval.
    pub interval: Duration,
    /// Checked for version 2 only.
    pub auth: Auth,
}

/// Why a received advert was dropped: a small bounded set, usable as a metric label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// TTL or hop limit is not 255 (RFC 5798 section 7.1): sent from off-link.
    BadTtl,
    /// Too short, length not matching the address count, zero interval, v2 over IPv6.
    Malformed,
    WrongVersion,
    /// Not an advertisement (type 1).
    WrongType,
    BadChecksum,
    /// Another virtual router on the same link: normal, counted but not logged.
    OtherVrid,
    /// Version 2 only: the interval differs from the configured one (RFC 3768 section 7.1).
    IntervalMismatch,
    /// Version 2 only: auth type or password differs, or IP AH / unknown auth type.
    AuthMismatch,
    /// The advert's family is not the instance's.
    FamilyMismatch,
}

impl DropReason {
    pub const ALL: [DropReason; 9] = [
        DropReason::BadTtl,
        DropReason::Malformed,
        DropReason::WrongVersion,
        DropReason::WrongType,
        DropReason::BadChecksum,
        DropReason::OtherVrid,
        DropReason::IntervalMismatch,
        DropReason::AuthMismatch,
        DropReason::FamilyMismatch,
    ];

    /// A stable snake_case label.
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::BadTtl => "bad_ttl",
            DropReason::Malformed => "malformed",
            DropReason::WrongVersion => "wrong_version",
            DropReason::WrongType => "wrong_type",
            DropReason::BadChecksum => "bad_checksum",
            DropReason::OtherVrid => "other_vrid",
            DropReason::IntervalMismatch => "interval_mismatch",
            DropReason::AuthMismatch => "auth_mismatch",
            DropReason::FamilyMismatch => "family_mismatch",
        }
    }

    /// Whether the drop is worth a (rate-limited) log line: everything but another
    /// virtual router's adverts, which every instance on a shared link sees all the time.
    pub fn is_logged(self) -> bool {
        self != DropReason::OtherVrid
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("advert interval {interval:?} is outside {min:?}..={max:?} for {version:?}")]
    IntervalOutOfRange {
        version: VrrpVersion,
        interval: Duration,
        min: Duration,
        max: Duration,
    },
    #[error("advert interval {interval:?} is not a whole number of {unit:?} for {version:?}")]
    IntervalNotWhole {
        version: VrrpVersion,
        interval: Duration,
        unit: Duration,
    },
    #[error("{count} addresses do not fit the 8-bit address count")]
    TooManyAddresses { count: usize },
    #[error("an advert carries at least one address")]
    NoAddresses,
    #[error("address {address} is not of the advert's family {family}")]
    FamilyMismatch { address: IpAddr, family: Family },
    #[error("vrrp version 2 runs over ipv4 only")]
    V2OverIpv6,
    #[error("vrrp version 3 has no authentication")]
    AuthInV3,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("{len} bytes is shorter than the {need} bytes needed")]
    Truncated { len: usize, need: usize },
    #[error("{len} bytes is longer than the {expected} bytes the address count gives")]
    TrailingBytes { len: usize, expected: usize },
    #[error("unknown vrrp version {version}")]
    UnknownVersion { version: u8 },
    #[error("vrrp packet type {packet_type} is not an advertisement")]
    NotAdvertisement { packet_type: u8 },
    #[error("vrrp version 2 over ipv6")]
    V2OverIpv6,
    #[error("source {src} and destination {dst} are of different families")]
    MixedFamilies { src: IpAddr, dst: IpAddr },
    #[error("advert interval is zero")]
    ZeroInterval,
    #[error("checksum {found:#06x} does not match the computed {computed:#06x}")]
    Checksum { found: u16, computed: u16 },
    #[error("vrrpv2 ip authentication header (auth type 2) is not supported")]
    AhAuthentication,
    #[error("unknown vrrpv2 auth type {auth_type}")]
    UnknownAuthType { auth_type: u8 },
    #[error("ip version {version} is not 4")]
    NotIpv4 { version: u8 },
    #[error("ipv4 header length {header_len} is invalid")]
    HeaderLength { header_len: usize },
    #[error("ipv4 total length {total_len} is more than the {len} bytes received")]
    TotalLength { total_len: usize, len: usize },
    #[error("ipv4 fragment (offset {offset}, more fragments {more})")]
    Fragment { offset: u16, more: bool },
}

// === Encode ===

/// The VRRP message for `advert` sent from `src` to `dst` (what follows the IP header),
/// checksum filled in.
pub fn encode(advert: &Advert, src: IpAddr, dst: IpAddr) -> Result<Vec<u8>, EncodeError> {
    let family = Family::of(&src);
    if Family::of(&dst) != family {
        return Err(EncodeError::FamilyMismatch {
            address: dst,
            family,
        });
    }
    match (advert.version, family, advert.auth) {
        (VrrpVersion::V2, Family::Inet6, _) => return Err(EncodeError::V2OverIpv6),
        (VrrpVersion::V3, _, Auth::Password(_)) => return Err(EncodeError::AuthInV3),
        _ => {}
    }
    if advert.addresses.is_empty() {
        return Err(EncodeError::NoAddresses);
    }
    let count =
        u8::try_from(advert.addresses.len()).map_err(|_| EncodeError::TooManyAddresses {
            count: advert.addresses.len(),
        })?;
    if let Some(&address) = advert.addresses.iter().find(|a| Family::of(a) != family) {
        return Err(EncodeError::FamilyMismatch { address, family });
    }
    let interval = interval_field(advert.version, advert.interval)?;
    let (version, word) = match (advert.version, advert.auth) {
        (VrrpVersion::V3, _) => (3u8, interval),
        (VrrpVersion::V2, Auth::None) => (2, interval),
        (VrrpVersion::V2, Auth::Password(_)) => (2, u16::from(AUTH_PASSWORD) << 8 | interval),
    };

    let mut msg = Vec::with_capacity(HEADER_LEN + 16 * advert.addresses.len() + AUTH_DATA_LEN);
    msg.extend_from_slice(&[
        version << 4 | TYPE_ADVERTISEMENT,
        advert.vrid,
        advert.priority,
    ]);
    msg.push(count);
    msg.extend_from_slice(&word.to_be_bytes());
    msg.extend_from_slice(&[0, 0]);
    for address in &advert.addresses {
        match address {
            IpAddr::V4(a) => msg.extend_from_slice(&a.octets()),
            IpAddr::V6(a) => msg.extend_from_slice(&a.octets()),
        }
    }
    if advert.version == VrrpVersion::V2 {
        match advert.auth {
            Auth::Password(data) => msg.extend_from_slice(&data),
            Auth::None => msg.extend_from_slice(&[0; AUTH_DATA_LEN]),
        }
    }
    let sum = ones_sum(&[&pseudo_header(advert.version, src, dst, msg.len()), &msg]);
    let checksum = !sum;
    if let Some(field) = msg.get_mut(6..8) {
        field.copy_from_slice(&checksum.to_be_bytes());
    }
    Ok(msg)
}

/// The 16-bit word after count: v3 the 12-bit centiseconds, v2 the seconds in the low byte.
fn interval_field(version: VrrpVersion, interval: Duration) -> Result<u16, EncodeError> {
    let (unit, max_units) = match version {
        VrrpVersion::V3 => (CENTISECOND, u32::from(V3_INTERVAL_MASK)),
        VrrpVersion::V2 => (SECOND, u32::from(u8::MAX)),
    };
    let max = unit * max_units;
    if interval < unit || interval > max {
        return Err(EncodeError::IntervalOutOfRange {
            version,
            interval,
            min: unit,
            max,
        });
    }
    if interval.as_nanos() % unit.as_nanos() != 0 {
        return Err(EncodeError::IntervalNotWhole {
            version,
            interval,
            unit,
        });
    }
    u16::try_from(interval.as_nanos() / unit.as_nanos()).map_err(|_| {
        EncodeError::IntervalOutOfRange {
            version,
            interval,
            min: unit,
            max,
        }
    })
}

// === Decode ===

/// Decodes and checks one VRRP message received from `src` on `dst`: structure and
/// length, type, checksum, then the fields. Says nothing about whether the advert is for
/// a configured instance: see [`validate`]. An address count of zero is accepted (RFC 5798
/// section 5.2.5 makes 1 the minimum for senders; the receive checks do not list it), so
/// [`encode`] refuses what `decode` lets through there. A zero interval is refused: a
/// backup adopting it would time out at once.
pub fn decode(msg: &[u8], src: IpAddr, dst: IpAddr) -> Result<Advert, DecodeError> {
    let parsed = Parsed::new(msg, src, dst)?;
    parsed.check_type()?;
    parsed.check_checksum()?;
    parsed.advert()
}

/// The fixed fields of a message whose length matches its version, family and count.
struct Parsed<'a> {
    version: VrrpVersion,
    packet_type: u8,
    vrid: u8,
    priority: u8,
    family: Family,
    /// v3: reserved bits and Max Adver Int; v2: Auth Type and Adver Int.
    word: u16,
    addresses: &'a [u8],
    /// v2 only; empty for v3.
    auth_data: &'a [u8],
    msg: &'a [u8],
    src: IpAddr,
    dst: IpAddr,
}

impl<'a> Parsed<'a> {
    fn new(msg: &'a [u8], src: IpAddr, dst: IpAddr) -> Result<Parsed<'a>, DecodeError> {
        let family = Family::of(&src);
        if Family::of(&dst) != family {
            return Err(DecodeError::MixedFamilies { src, dst });
        }
        let Some(&[version_type, vrid, priority, count, w0, w1, _, _]) =
            msg.first_chunk::<HEADER_LEN>()
        else {
            return Err(DecodeError::Truncated {
                len: msg.len(),
                need: HEADER_LEN,
            });
        };
        let version = match version_type >> 4 {
            2 => VrrpVersion::V2,
            3 => VrrpVersion::V3,
            version => return Err(DecodeError::UnknownVersion { version }),
        };
        if version == VrrpVersion::V2 && family == Family::Inet6 {
            return Err(DecodeError::V2OverIpv6);
        }
        let addresses_len = usize::from(count) * address_len(family);
        let auth_len = match version {
            VrrpVersion::V2 => AUTH_DATA_LEN,
            VrrpVersion::V3 => 0,
        };
        let expected = HEADER_LEN + addresses_len + auth_len;
        if msg.len() < expected {
            return Err(DecodeError::Truncated {
                len: msg.len(),
                need: expected,
            });
        }
        if msg.len() > expected {
            return Err(DecodeError::TrailingBytes {
                len: msg.len(),
                expected,
            });
        }
        let word = u16::from_be_bytes([w0, w1]);
        let parsed = Parsed {
            version,
            packet_type: version_type & 0x0f,
            vrid,
            priority,
            family,
            word,
            addresses: msg
                .get(HEADER_LEN..HEADER_LEN + addresses_len)
                .unwrap_or(&[]),
            auth_data: msg.get(HEADER_LEN + addresses_len..).unwrap_or(&[]),
            msg,
            src,
            dst,
        };
        if parsed.interval_units() == 0 {
            return Err(DecodeError::ZeroInterval);
        }
        Ok(parsed)
    }

    fn interval_units(&self) -> u16 {
        match self.version {
            VrrpVersion::V3 => self.word & V3_INTERVAL_MASK,
            VrrpVersion::V2 => self.word & 0x00ff,
        }
    }

    fn interval(&self) -> Duration {
        match self.version {
            VrrpVersion::V3 => CENTISECOND * u32::from(self.interval_units()),
            VrrpVersion::V2 => SECOND * u32::from(self.interval_units()),
        }
    }

    fn check_type(&self) -> Result<(), DecodeError> {
        if self.packet_type == TYPE_ADVERTISEMENT {
            Ok(())
        } else {
            Err(DecodeError::NotAdvertisement {
                packet_type: self.packet_type,
            })
        }
    }

    /// Sums everything, stored checksum included: a valid message folds to 0xffff. This
    /// accepts both one's-complement zeros (0x0000 and 0xffff) as keepalived does.
    fn check_checksum(&self) -> Result<(), DecodeError> {
        let pseudo = pseudo_header(self.version, self.src, self.dst, self.msg.len());
        let head = self.msg.get(..6).unwrap_or(&[]);
        let tail = self.msg.get(8..).unwrap_or(&[]);
        let found = self
            .msg
            .get(6..)
            .and_then(|c| c.first_chunk::<2>())
            .map_or(0, |c| u16::from_be_bytes(*c));
        let without = ones_sum(&[&pseudo, head, tail]);
        if fold(u32::from(without) + u32::from(found)) == 0xffff {
            Ok(())
        } else {
            Err(DecodeError::Checksum {
                found,
                computed: !without,
            })
        }
    }

    fn auth(&self) -> Result<Auth, DecodeError> {
        if self.version == VrrpVersion::V3 {
            return Ok(Auth::None);
        }
        // The high byte of the word is the auth type (RFC 2338 section 5.3.6).
        match (self.word >> 8) as u8 {
            // RFC 3768 section 5.3.6.1: auth data is ignored on reception.
            AUTH_NONE => Ok(Auth::None),
            AUTH_PASSWORD => {
                let mut data = [0u8; AUTH_DATA_LEN];
                if self.auth_data.len() == AUTH_DATA_LEN {
                    data.copy_from_slice(self.auth_data);
                }
                Ok(Auth::Password(data))
            }
            AUTH_AH => Err(DecodeError::AhAuthentication),
            auth_type => Err(DecodeError::UnknownAuthType { auth_type }),
        }
    }

    fn advert(&self) -> Result<Advert, DecodeError> {
        let auth = self.auth()?;
        let addresses = match self.family {
            Family::Inet => self
                .addresses
                .chunks_exact(4)
                .filter_map(|c| <[u8; 4]>::try_from(c).ok())
                .map(|o| IpAddr::V4(Ipv4Addr::from(o)))
                .collect(),
            Family::Inet6 => self
                .addresses
                .chunks_exact(16)
                .filter_map(|c| <[u8; 16]>::try_from(c).ok())
                .map(|o| IpAddr::V6(Ipv6Addr::from(o)))
                .collect(),
        };
        Ok(Advert {
            version: self.version,
            vrid: self.vrid,
            priority: self.priority,
            interval: self.interval(),
            addresses,
            auth,
        })
    }
}

/// Reads the header of an IPv4 datagram from a raw socket. The header checksum is not
/// checked: the kernel dropped bad ones before delivery.
pub fn parse_ipv4(datagram: &[u8]) -> Result<Ipv4Packet<'_>, DecodeError> {
    let Some(
        &[
            ver_ihl,
            _,
            tl0,
            tl1,
            _,
            _,
            f0,
            f1,
            ttl,
            protocol,
            _,
            _,
            s0,
            s1,
            s2,
            s3,
            d0,
            d1,
            d2,
            d3,
        ],
    ) = datagram.first_chunk::<IPV4_MIN_HEADER>()
    else {
        return Err(DecodeError::Truncated {
            len: datagram.len(),
            need: IPV4_MIN_HEADER,
        });
    };
    if ver_ihl >> 4 != 4 {
        return Err(DecodeError::NotIpv4 {
            version: ver_ihl >> 4,
        });
    }
    let header_len = usize::from(ver_ihl & 0x0f) * 4;
    let total_len = usize::from(u16::from_be_bytes([tl0, tl1]));
    if header_len < IPV4_MIN_HEADER || header_len > total_len {
        return Err(DecodeError::HeaderLength { header_len });
    }
    if total_len > datagram.len() {
        return Err(DecodeError::TotalLength {
            total_len,
            len: datagram.len(),
        });
    }
    let frag = u16::from_be_bytes([f0, f1]);
    let (more, offset) = (frag & 0x2000 != 0, frag & 0x1fff);
    if more || offset != 0 {
        return Err(DecodeError::Fragment { offset, more });
    }
    Ok(Ipv4Packet {
        header_len,
        total_len,
        protocol,
        ttl,
        src: Ipv4Addr::new(s0, s1, s2, s3),
        dst: Ipv4Addr::new(d0, d1, d2, d3),
        payload: datagram.get(header_len..total_len).unwrap_or(&[]),
    })
}

// === Validate ===

/// Receive-side checks of RFC 5798 section 7.1 and RFC 3768 section 7.1, in this order:
/// TTL / hop limit, structure, version, type, checksum, VRID, (v2) auth, (v2) interval,
/// family. Auth comes before the interval as RFC 3768 section 7.1 lists them and as
/// keepalived checks them. Whether the sender claims to own our addresses (priority 255)
/// is the state machine's business. The address list is not compared with the configuration (the RFCs say MAY
/// log): the caller does that if it wants.
pub fn validate(rx: &Received<'_>, expect: &Expect) -> Result<Advert, DropReason> {
    if rx.ttl != VRRP_TTL {
        return Err(DropReason::BadTtl);
    }
    let parsed = Parsed::new(rx.message, rx.src, rx.dst).map_err(|e| match e {
        DecodeError::UnknownVersion { .. } => DropReason::WrongVersion,
        _ => DropReason::Malformed,
    })?;
    if parsed.version != expect.version {
        return Err(DropReason::WrongVersion);
    }
    parsed.check_type().map_err(|_| DropReason::WrongType)?;
    parsed
        .check_checksum()
        .map_err(|_| DropReason::BadChecksum)?;
    if parsed.vrid != expect.vrid {
        return Err(DropReason::OtherVrid);
    }
    // RFC 3768 section 7.1 (and keepalived): auth type and password before the interval.
    let advert = parsed.advert().map_err(|e| match e {
        DecodeError::AhAuthentication | DecodeError::UnknownAuthType { .. } => {
            DropReason::AuthMismatch
        }
        _ => DropReason::Malformed,
    })?;
    if parsed.version == VrrpVersion::V2 && advert.auth != expect.auth {
        return Err(DropReason::AuthMismatch);
    }
    // A v2 interval mismatch is dropped; v3 adopts the master's interval (RFC 5798
    // section 6.4.2), so no check there.
    if parsed.version == VrrpVersion::V2 && advert.interval != expect.interval {
        return Err(DropReason::IntervalMismatch);
    }
    if parsed.family != expect.family {
        return Err(DropReason::FamilyMismatch);
    }
    Ok(advert)
}

// === Checksum ===

/// v3: the IPv4 (RFC 768 style) or IPv6 (RFC 8200 section 8.1) pseudo-header with
/// protocol 112; v2: nothing.
fn pseudo_header(version: VrrpVersion, src: IpAddr, dst: IpAddr, len: usize) -> Vec<u8> {
    if version == VrrpVersion::V2 {
        return Vec::new();
    }
    let mut ph = Vec::with_capacity(40);
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            ph.extend_from_slice(&s.octets());
            ph.extend_from_slice(&d.octets());
            ph.extend_from_slice(&[0, IPPROTO_VRRP]);
            ph.extend_from_slice(&(len as u16).to_be_bytes());
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            ph.extend_from_slice(&s.octets());
            ph.extend_from_slice(&d.octets());
            ph.extend_from_slice(&(len as u32).to_be_bytes());
            ph.extend_from_slice(&[0, 0, 0, IPPROTO_VRRP]);
        }
        // Callers reject mixed families first.
        _ => {}
    }
    ph
}

/// The folded one's-complement sum of the parts taken as one byte string (RFC 1071); an
/// odd last byte is padded with zero.
fn ones_sum(parts: &[&[u8]]) -> u16 {
    let mut sum: u32 = 0;
    let mut high: Option<u8> = None;
    for &byte in parts.iter().flat_map(|p| p.iter()) {
        match high.take() {
            Some(h) => sum = u32::from(fold(sum + u32::from(u16::from_be_bytes([h, byte])))),
            None => high = Some(byte),
        }
    }
    if let Some(h) = high {
        sum += u32::from(u16::from_be_bytes([h, 0]));
    }
    fold(sum)
}

fn fold(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

#[cfg(test)]
mod tests;
