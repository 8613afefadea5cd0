//! The rtnetlink codec: requests for links and addresses framed as the kernel expects
//! them, datagrams from the kernel split into messages, the answer to one request
//! collected by sequence number, and link and address messages decoded.
//!
//! Pure and panic-free on any input: wire bytes are only read through `get` and
//! `first_chunk`, and anything malformed is a [`DecodeError`]. Layouts follow the kernel
//! uapi headers (`linux/netlink.h`, `linux/rtnetlink.h`, `linux/if_link.h`,
//! `linux/if_addr.h`); integers are in host byte order, addresses in network order.
//!
//! ```text
//! struct nlmsghdr (16 bytes)             struct nlattr (4 bytes + payload, padded to 4)
//! +------------------------------+       +----------------+----------------+
//! | nlmsg_len (u32)              |       | nla_len (u16)  | nla_type (u16) |
//! +---------------+--------------+       +----------------+----------------+
//! | type (u16)    | flags (u16)  |       | payload ...                     |
//! +---------------+--------------+       +---------------------------------+
//! | nlmsg_seq (u32)              |
//! +------------------------------+
//! | nlmsg_pid (u32)              |
//! +------------------------------+
//!
//! struct ifinfomsg (16 bytes)            struct ifaddrmsg (8 bytes)
//! +------+------+---------------+       +--------+-----------+-------+-------+
//! |family| pad  | type (u16)    |       | family | prefixlen | flags | scope |
//! +------+------+---------------+       +--------+-----------+-------+-------+
//! | ifi_index (i32)             |       | ifa_index (u32)                    |
//! +-----------------------------+       +------------------------------------+
//! | ifi_flags (u32, IFF_*)      |
//! +-----------------------------+
//! | ifi_change (u32)            |
//! +-----------------------------+
//! ```
//! A request is the header, the family header, then attributes. `NLMSG_ERROR` carries an
//! `int` (0 = ACK, else a negative errno) and the request's header; `NLMSG_DONE` ends a
//! dump and carries an `int` too.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::types::{AddrFlags, IfAddr, Link, LinkEvent, OperState, Scope};

/// The uapi numbers used here.
pub mod uapi {
    pub const NLMSG_HDRLEN: usize = 16;
    pub const NLMSG_NOOP: u16 = 1;
    pub const NLMSG_ERROR: u16 = 2;
    pub const NLMSG_DONE: u16 = 3;
    pub const NLMSG_OVERRUN: u16 = 4;
    /// Types below this are netlink control messages.
    pub const NLMSG_MIN_TYPE: u16 = 0x10;

    pub const NLM_F_REQUEST: u16 = 0x01;
    pub const NLM_F_MULTI: u16 = 0x02;
    pub const NLM_F_ACK: u16 = 0x04;
    /// The dump changed while it was read: its entries may be inconsistent.
    pub const NLM_F_DUMP_INTR: u16 = 0x10;
    pub const NLM_F_DUMP: u16 = 0x300;
    pub const NLM_F_EXCL: u16 = 0x200;
    pub const NLM_F_CREATE: u16 = 0x400;

    pub const RTM_NEWLINK: u16 = 16;
    pub const RTM_DELLINK: u16 = 17;
    pub const RTM_GETLINK: u16 = 18;
    pub const RTM_NEWADDR: u16 = 20;
    pub const RTM_DELADDR: u16 = 21;
    pub const RTM_GETADDR: u16 = 22;

    /// Multicast group of link notifications (`RTNLGRP_LINK`, group bit `RTMGRP_LINK`).
    pub const RTNLGRP_LINK: u32 = 1;

    pub const AF_UNSPEC: u8 = 0;
    pub const AF_INET: u8 = 2;
    pub const AF_INET6: u8 = 10;

    pub const IFINFOMSG_LEN: usize = 16;
    pub const IFADDRMSG_LEN: usize = 8;

    pub const IFLA_ADDRESS: u16 = 1;
    pub const IFLA_IFNAME: u16 = 3;
    pub const IFLA_MTU: u16 = 4;
    pub const IFLA_OPERSTATE: u16 = 16;
    pub const IFLA_EXT_MASK: u16 = 29;
    /// `IFLA_EXT_MASK` bit: leave the link statistics out of the answer.
    pub const RTEXT_FILTER_SKIP_STATS: u32 = 1 << 3;

    pub const IFA_ADDRESS: u16 = 1;
    pub const IFA_LOCAL: u16 = 2;
    pub const IFA_FLAGS: u16 = 8;

    pub const IFF_UP: u32 = 0x1;
    pub const IFF_RUNNING: u32 = 0x40;

    /// Flag bits of `nla_type`.
    pub const NLA_TYPE_MASK: u16 = !(1 << 15 | 1 << 14);

    /// Longest interface name, without its NUL (`IFNAMSIZ - 1`).
    pub const IFNAME_MAX: usize = 15;
}

use uapi::*;

fn align4(n: usize) -> usize {
    n.saturating_add(3) & !3
}

// === Errors ===

/// A request that cannot be put on the wire.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("invalid interface name {name:?} (1 to 15 bytes, no NUL or '/')")]
    InvalidName { name: String },
    #[error("prefix length {prefix_len} is too long for {addr}")]
    InvalidPrefix { addr: IpAddr, prefix_len: u8 },
}

/// Bytes from the kernel that are not what the uapi layouts say.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("netlink message header cut off at offset {offset}")]
    TruncatedMessage { offset: usize },
    #[error("netlink message at offset {offset} has invalid length {len}")]
    BadMessageLength { offset: usize, len: usize },
    #[error("netlink error or done message of {len} bytes has no error code")]
    ShortControlMessage { len: usize },
    /// Any other error of the shared netlink framing.
    #[error("netlink framing")]
    Framing(#[source] crate::ipvs::netlink::decode::DecodeError),
    #[error("{what} message of {len} bytes is shorter than its {need} byte header")]
    ShortHeader {
        what: &'static str,
        len: usize,
        need: usize,
    },
    #[error("attribute header cut off at offset {offset}")]
    TruncatedAttribute { offset: usize },
    #[error("attribute at offset {offset} has invalid length {len}")]
    BadAttributeLength { offset: usize, len: usize },
    #[error("attribute {attr} is missing")]
    MissingAttribute { attr: &'static str },
    #[error("attribute {attr} has {len} bytes, expected {expected}")]
    BadAttributeSize {
        attr: &'static str,
        len: usize,
        expected: usize,
    },
    #[error("interface index {index} is not positive")]
    BadIndex { index: i64 },
    #[error("address of family {family} has prefix length {prefix_len}")]
    BadPrefix { family: u8, prefix_len: u8 },
}

/// The shared framing's errors, under the same names here.
impl From<crate::ipvs::netlink::decode::DecodeError> for DecodeError {
    fn from(e: crate::ipvs::netlink::decode::DecodeError) -> Self {
        use crate::ipvs::netlink::decode::DecodeError as Frame;
        match e {
            Frame::TruncatedMessage { offset } => DecodeError::TruncatedMessage { offset },
            Frame::BadMessageLength { offset, len } => {
                DecodeError::BadMessageLength { offset, len }
            }
            Frame::ShortControlMessage { len } => DecodeError::ShortControlMessage { len },
            other => DecodeError::Framing(other),
        }
    }
}

// === Requests ===

/// One request to the kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request<'a> {
    /// `RTM_GETLINK` by `IFLA_IFNAME`.
    GetLinkByName(&'a str),
    /// `RTM_GETLINK` by `ifi_index`.
    GetLinkByIndex(u32),
    /// `RTM_GETLINK` dump of every link.
    DumpLinks,
    /// `RTM_GETADDR` dump of every address of both families (the kernel filters by
    /// interface only on sockets with strict checking; the caller filters).
    DumpAddrs,
    /// `RTM_NEWADDR`, failing with EEXIST if the address is there.
    AddAddr {
        index: u32,
        addr: IpAddr,
        prefix_len: u8,
    },
    /// `RTM_DELADDR`, failing with EADDRNOTAVAIL if the address is not there.
    DelAddr {
        index: u32,
        addr: IpAddr,
        prefix_len: u8,
    },
}

impl Request<'_> {
    /// What the request does, for errors and logs.
    pub fn name(&self) -> &'static str {
        match self {
            Request::GetLinkByName(_) | Request::GetLinkByIndex(_) => "get link",
            Request::DumpLinks => "dump links",
            Request::DumpAddrs => "dump addresses",
            Request::AddAddr { .. } => "add address",
            Request::DelAddr { .. } => "delete address",
        }
    }

    /// The message type of the replies that carry data (none for writes).
    pub fn reply_type(&self) -> Option<u16> {
        match self {
            Request::GetLinkByName(_) | Request::GetLinkByIndex(_) | Request::DumpLinks => {
                Some(RTM_NEWLINK)
            }
            Request::DumpAddrs => Some(RTM_NEWADDR),
            Request::AddAddr { .. } | Request::DelAddr { .. } => None,
        }
    }

    /// The framed message with sequence number `seq` (port id 0: the kernel fills it).
    /// Gets and writes ask for an ACK, so every request ends with `NLMSG_ERROR` or, for
    /// a dump, `NLMSG_DONE`.
    pub fn encode(&self, seq: u32) -> Result<Vec<u8>, EncodeError> {
        let ack = NLM_F_REQUEST | NLM_F_ACK;
        let (msg_type, flags, body) = match *self {
            Request::GetLinkByName(name) => {
                check_name(name)?;
                let mut body = ifinfomsg(0);
                push_attr(
                    &mut body,
                    IFLA_EXT_MASK,
                    &RTEXT_FILTER_SKIP_STATS.to_ne_bytes(),
                );
                push_attr(&mut body, IFLA_IFNAME, &[name.as_bytes(), &[0]].concat());
                (RTM_GETLINK, ack, body)
            }
            Request::GetLinkByIndex(index) => {
                let mut body = ifinfomsg(index);
                push_attr(
                    &mut body,
                    IFLA_EXT_MASK,
                    &RTEXT_FILTER_SKIP_STATS.to_ne_bytes(),
                );
                (RTM_GETLINK, ack, body)
            }
            Request::DumpLinks => {
                let mut body = ifinfomsg(0);
                push_attr(
                    &mut body,
                    IFLA_EXT_MASK,
                    &RTEXT_FILTER_SKIP_STATS.to_ne_bytes(),
                );
                (RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, body)
            }
            Request::DumpAddrs => {
                let body = vec![AF_UNSPEC, 0, 0, 0, 0, 0, 0, 0];
                (RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, body)
            }
            Request::AddAddr {
                index,
                addr,
                prefix_len,
            } => (
                RTM_NEWADDR,
                ack | NLM_F_CREATE | NLM_F_EXCL,
                ifaddr_body(index, addr, prefix_len)?,
            ),
            Request::DelAddr {
                index,
                addr,
                prefix_len,
            } => (RTM_DELADDR, ack, ifaddr_body(index, addr, prefix_len)?),
        };
        // A body is a few dozen bytes: its length always fits.
        let len = u32::try_from(NLMSG_HDRLEN + body.len()).unwrap_or(u32::MAX);
        let mut out = Vec::with_capacity(NLMSG_HDRLEN + body.len());
        out.extend_from_slice(&len.to_ne_bytes());
        out.extend_from_slice(&msg_type.to_ne_bytes());
        out.extend_from_slice(&flags.to_ne_bytes());
        out.extend_from_slice(&seq.to_ne_bytes());
        out.extend_from_slice(&0u32.to_ne_bytes());
        out.extend_from_slice(&body);
        Ok(out)
    }
}

fn check_name(name: &str) -> Result<(), EncodeError> {
    let bad =
        name.is_empty() || name.len() > IFNAME_MAX || name.bytes().any(|b| b == 0 || b == b'/');
    if bad {
        return Err(EncodeError::InvalidName {
            name: name.to_owned(),
        });
    }
    Ok(())
}

/// `struct ifinfomsg` for family `AF_UNSPEC` and `index` (0 = not by index).
fn ifinfomsg(index: u32) -> Vec<u8> {
    let mut body = vec![AF_UNSPEC, 0, 0, 0];
    body.extend_from_slice(&index.to_ne_bytes());
    body.extend_from_slice(&[0; 8]);
    body
}

/// `struct ifaddrmsg` and the attributes of an address to add or delete. `IFA_LOCAL`
/// and `IFA_ADDRESS` both hold the address (as iproute2 sends them; different values
/// would make `IFA_ADDRESS` a peer). IPv6 addresses get `IFA_F_NODAD`, so that they are
/// usable at once (as keepalived adds them); the flags go both in the 8-bit `ifa_flags`
/// and in `IFA_FLAGS`, which newer kernels read instead.
fn ifaddr_body(index: u32, addr: IpAddr, prefix_len: u8) -> Result<Vec<u8>, EncodeError> {
    let (af, max, flags, octets) = match addr {
        IpAddr::V4(a) => (AF_INET, 32, 0u32, a.octets().to_vec()),
        IpAddr::V6(a) => (AF_INET6, 128, AddrFlags::NODAD.0, a.octets().to_vec()),
    };
    if prefix_len > max {
        return Err(EncodeError::InvalidPrefix { addr, prefix_len });
    }
    let low_flags = u8::try_from(flags & 0xff).unwrap_or(0);
    // RT_SCOPE_UNIVERSE; the kernel derives the scope of IPv6 addresses itself.
    let mut body = vec![af, prefix_len, low_flags, 0];
    body.extend_from_slice(&index.to_ne_bytes());
    push_attr(&mut body, IFA_LOCAL, &octets);
    push_attr(&mut body, IFA_ADDRESS, &octets);
    push_attr(&mut body, IFA_FLAGS, &flags.to_ne_bytes());
    Ok(body)
}

/// Appends one attribute (payloads here are far below the u16 limit) and its padding.
fn push_attr(buf: &mut Vec<u8>, ty: u16, payload: &[u8]) {
    let len = u16::try_from(4 + payload.len()).unwrap_or(u16::MAX);
    buf.extend_from_slice(&len.to_ne_bytes());
    buf.extend_from_slice(&ty.to_ne_bytes());
    buf.extend_from_slice(payload);
    buf.resize(align4(buf.len()), 0);
}

// === Messages ===

/// The framing is the IPVS client's (`ipvs::netlink::frame`): one netlink, one parser.
pub use crate::ipvs::netlink::frame::{Body, Message};

/// Splits a datagram into its messages.
pub fn split_messages(datagram: &[u8]) -> Result<Vec<Message<'_>>, DecodeError> {
    crate::ipvs::netlink::frame::split_messages(datagram).map_err(DecodeError::from)
}

// === Collecting one answer ===

/// How a request ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Acknowledged, or the dump completed: the payloads of its replies (none for a
    /// write). `interrupted`: the kernel flagged the dump as changed while it was read
    /// (`NLM_F_DUMP_INTR`); it should be read again.
    Replies {
        replies: Vec<Vec<u8>>,
        interrupted: bool,
    },
    /// Refused with this errno (positive).
    Errno(i32),
}

/// The answer to one request (sequence number `seq`), read datagram by datagram. It ends
/// with the request's `NLMSG_ERROR` (ACK or error) or, for a dump, its `NLMSG_DONE`.
/// Messages with another sequence number (left over from an exchange that broke off)
/// are counted and dropped, as are replies of a type the request does not expect.
#[derive(Debug)]
pub struct Answer {
    seq: u32,
    reply_type: Option<u16>,
    replies: Vec<Vec<u8>>,
    interrupted: bool,
    end: Option<Result<(), i32>>,
    strays: usize,
}

impl Answer {
    pub fn new(seq: u32, request: &Request<'_>) -> Self {
        Answer {
            seq,
            reply_type: request.reply_type(),
            replies: Vec::new(),
            interrupted: false,
            end: None,
            strays: 0,
        }
    }

    /// Takes in one datagram. A malformed datagram is an error and nothing of it is
    /// taken: the caller can no longer trust the stream.
    pub fn feed(&mut self, datagram: &[u8]) -> Result<(), DecodeError> {
        let messages = split_messages(datagram)?;
        let bodies = messages
            .iter()
            .map(|m| m.body().map(|b| (m, b)).map_err(DecodeError::from))
            .collect::<Result<Vec<_>, _>>()?;
        for (msg, body) in bodies {
            if msg.seq != self.seq || self.end.is_some() {
                self.strays += 1;
                continue;
            }
            if msg.flags & NLM_F_DUMP_INTR != 0 {
                self.interrupted = true;
            }
            match body {
                Body::Data(p) if Some(msg.msg_type) == self.reply_type => {
                    self.replies.push(p.to_vec());
                }
                Body::Data(_) | Body::Ignored => {}
                Body::Ack | Body::Done { errno: 0 } => self.end = Some(Ok(())),
                Body::Error { errno } | Body::Done { errno } => self.end = Some(Err(errno)),
            }
        }
        Ok(())
    }

    /// The request has its answer.
    pub fn is_complete(&self) -> bool {
        self.end.is_some()
    }

    /// Messages that were not part of this answer.
    pub fn strays(&self) -> usize {
        self.strays
    }

    /// The outcome, once complete.
    pub fn finish(self) -> Option<Outcome> {
        match self.end? {
            Ok(()) => Some(Outcome::Replies {
                replies: self.replies,
                interrupted: self.interrupted,
            }),
            Err(errno) => Some(Outcome::Errno(errno)),
        }
    }
}

// === Decoding links and addresses ===

/// Splits attributes into `(type without flag bits, payload)`; a repeated type keeps
/// its first value.
fn attrs(buf: &[u8]) -> Result<Vec<(u16, &[u8])>, DecodeError> {
    let mut out = Vec::new();
    let mut rest = buf;
    let mut offset = 0usize;
    while !rest.is_empty() {
        let &[l0, l1, t0, t1] = rest
            .first_chunk::<4>()
            .ok_or(DecodeError::TruncatedAttribute { offset })?;
        let len = usize::from(u16::from_ne_bytes([l0, l1]));
        if len < 4 || len > rest.len() {
            return Err(DecodeError::BadAttributeLength { offset, len });
        }
        let ty = u16::from_ne_bytes([t0, t1]) & NLA_TYPE_MASK;
        out.push((ty, rest.get(4..len).unwrap_or_default()));
        let step = align4(len).min(rest.len());
        rest = rest.get(step..).unwrap_or_default();
        offset += step;
    }
    Ok(out)
}

fn find<'a>(attrs: &[(u16, &'a [u8])], ty: u16) -> Option<&'a [u8]> {
    attrs.iter().find(|(t, _)| *t == ty).map(|(_, p)| *p)
}

fn fixed<const N: usize>(attr: &'static str, payload: &[u8]) -> Result<[u8; N], DecodeError> {
    <[u8; N]>::try_from(payload).map_err(|_| DecodeError::BadAttributeSize {
        attr,
        len: payload.len(),
        expected: N,
    })
}

fn positive_index(index: i64) -> Result<u32, DecodeError> {
    u32::try_from(index)
        .ok()
        .filter(|&i| i > 0)
        .ok_or(DecodeError::BadIndex { index })
}

/// Decodes the payload of an `RTM_NEWLINK` (or `RTM_DELLINK`) message.
pub fn decode_link(payload: &[u8]) -> Result<Link, DecodeError> {
    let header = payload
        .first_chunk::<IFINFOMSG_LEN>()
        .ok_or(DecodeError::ShortHeader {
            what: "link",
            len: payload.len(),
            need: IFINFOMSG_LEN,
        })?;
    let [_family, _pad, y0, y1, i0, i1, i2, i3, f0, f1, f2, f3, ..] = *header;
    let index = positive_index(i64::from(i32::from_ne_bytes([i0, i1, i2, i3])))?;
    let list = attrs(payload.get(IFINFOMSG_LEN..).unwrap_or_default())?;
    let raw_name = find(&list, IFLA_IFNAME).ok_or(DecodeError::MissingAttribute {
        attr: "IFLA_IFNAME",
    })?;
    let end = raw_name
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(raw_name.len());
    let name = String::from_utf8_lossy(raw_name.get(..end).unwrap_or_default()).into_owned();
    let mtu = find(&list, IFLA_MTU).ok_or(DecodeError::MissingAttribute { attr: "IFLA_MTU" })?;
    let mtu = u32::from_ne_bytes(fixed("IFLA_MTU", mtu)?);
    let oper_state = match find(&list, IFLA_OPERSTATE) {
        Some(p) => OperState::from(u8::from_ne_bytes(fixed("IFLA_OPERSTATE", p)?)),
        None => OperState::Unknown,
    };
    let mac = find(&list, IFLA_ADDRESS)
        .and_then(|p| <[u8; 6]>::try_from(p).ok())
        .filter(|m| m.iter().any(|&b| b != 0));
    Ok(Link {
        index,
        name,
        mac,
        link_type: u16::from_ne_bytes([y0, y1]),
        flags: u32::from_ne_bytes([f0, f1, f2, f3]),
        oper_state,
        mtu,
    })
}

/// Decodes the payload of an `RTM_NEWADDR` message; `Ok(None)` for families other than
/// IPv4 and IPv6 (a dump of `AF_UNSPEC` may hold others).
pub fn decode_addr(payload: &[u8]) -> Result<Option<IfAddr>, DecodeError> {
    let header = payload
        .first_chunk::<IFADDRMSG_LEN>()
        .ok_or(DecodeError::ShortHeader {
            what: "address",
            len: payload.len(),
            need: IFADDRMSG_LEN,
        })?;
    let [family, prefix_len, low_flags, scope, i0, i1, i2, i3] = *header;
    let index = positive_index(i64::from(u32::from_ne_bytes([i0, i1, i2, i3])))?;
    let list = attrs(payload.get(IFADDRMSG_LEN..).unwrap_or_default())?;
    let raw = find(&list, IFA_LOCAL)
        .map(|p| ("IFA_LOCAL", p))
        .or_else(|| find(&list, IFA_ADDRESS).map(|p| ("IFA_ADDRESS", p)))
        .ok_or(DecodeError::MissingAttribute {
            attr: "IFA_ADDRESS",
        });
    let (addr, max) = match family {
        AF_INET => {
            let (attr, p) = raw?;
            (IpAddr::V4(Ipv4Addr::from(fixed::<4>(attr, p)?)), 32)
        }
        AF_INET6 => {
            let (attr, p) = raw?;
            (IpAddr::V6(Ipv6Addr::from(fixed::<16>(attr, p)?)), 128)
        }
        _ => return Ok(None),
    };
    if prefix_len > max {
        return Err(DecodeError::BadPrefix { family, prefix_len });
    }
    let flags = match find(&list, IFA_FLAGS) {
        Some(p) => u32::from_ne_bytes(fixed("IFA_FLAGS", p)?),
        None => u32::from(low_flags),
    };
    Ok(Some(IfAddr {
        index,
        addr,
        prefix_len,
        flags: AddrFlags(flags),
        scope: Scope::from(scope),
    }))
}

/// Decodes a datagram of link notifications (`RTM_NEWLINK`, `RTM_DELLINK`); other
/// messages are left out.
pub fn decode_link_events(datagram: &[u8]) -> Result<Vec<LinkEvent>, DecodeError> {
    let mut out = Vec::new();
    for msg in split_messages(datagram)? {
        let Body::Data(payload) = msg.body()? else {
            continue;
        };
        match msg.msg_type {
            RTM_NEWLINK => out.push(LinkEvent::Changed(decode_link(payload)?)),
            RTM_DELLINK => out.push(LinkEvent::Removed(decode_link(payload)?)),
            _ => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
