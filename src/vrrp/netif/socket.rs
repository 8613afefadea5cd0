//! The I/O shell: [`Netif`] sends one request at a time on its own `NETLINK_ROUTE`
//! socket and reads until the answer is complete; [`LinkWatch`] reads link
//! notifications on a socket subscribed to `RTNLGRP_LINK`.
//!
//! Not pure, but it decides nothing: [`msg`](super::msg) frames the requests, matches
//! the answers by sequence number and decodes them; this file moves the bytes and maps
//! errnos to [`NetifError`]. An answer is read to its end (ACK, `NLMSG_DONE` or the
//! error) before it is decoded, so no reply is left on the socket for the next request;
//! after a failed exchange, leftovers are dropped by their sequence number.

use std::io;
use std::net::IpAddr;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::time::Duration;

use nix::sys::socket::{
    AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol, SockType, bind, getsockopt,
    setsockopt, socket, sockopt,
};
use nix::sys::time::TimeVal;
use tracing::debug;

use super::NetifError;
use super::msg::uapi::RTNLGRP_LINK;
use super::msg::{
    Answer, DecodeError, EncodeError, Outcome, Request, decode_addr, decode_link,
    decode_link_events,
};
use super::types::{Family, IfAddr, Link, LinkEvent, primary_address};

// errno values (asm-generic/errno*.h); the crate is Linux-only.
const EEXIST: i32 = 17;
const ENODEV: i32 = 19;
const EADDRNOTAVAIL: i32 = 99;
const ENOBUFS: i32 = 105;

/// One `recv`: dump datagrams are at most 32 KiB (the kernel sizes them to the reader's
/// buffer, up to that); other answers are small.
const RECV_BUFFER: usize = 64 * 1024;

/// Receive buffer asked for the notification socket (capped by `net.core.rmem_max`), so
/// that a burst of link changes is not dropped.
const WATCH_RCVBUF: usize = 1 << 20;

/// Times a dump is read again when the kernel says it changed while being read.
const DUMP_ATTEMPTS: u32 = 5;

/// How long a request waits for the kernel's next answer datagram (`SO_RCVTIMEO`). The
/// kernel answers rtnetlink requests at once; a lost answer (the socket's buffer overrun)
/// must fail the request, which is retried, not hang the VRRP task.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);

/// What [`Netif::add_address`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Added {
    Added,
    /// The kernel already had the address (EEXIST): nothing changed.
    AlreadyPresent,
}

/// What [`Netif::del_address`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Removed {
    Removed,
    /// The interface had no such address (EADDRNOTAVAIL): nothing changed.
    Absent,
}

/// How one exchange failed.
enum Failure {
    /// The kernel refused the request.
    Errno(i32),
    Other(NetifError),
}

// === Netif ===

/// Links and addresses of the network namespace the socket was opened in.
pub struct Netif {
    fd: OwnedFd,
    next_seq: u32,
    buf: Vec<u8>,
}

impl std::fmt::Debug for Netif {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Netif")
            .field("fd", &self.fd.as_raw_fd())
            .field("next_seq", &self.next_seq)
            .finish()
    }
}

impl Netif {
    /// Opens a `NETLINK_ROUTE` socket in the caller's (thread's) network namespace. A
    /// request fails with a timeout (`NetifError::Io`) when the kernel's answer does not
    /// come within [`ANSWER_TIMEOUT`].
    pub fn open() -> Result<Netif, NetifError> {
        let fd = route_socket(SockFlag::SOCK_CLOEXEC, 0)?;
        let timeout = TimeVal::new(ANSWER_TIMEOUT.as_secs().try_into().unwrap_or(i64::MAX), 0);
        setsockopt(&fd, sockopt::ReceiveTimeout, &timeout)
            .map_err(|e| NetifError::Open(io::Error::from(e)))?;
        Ok(Netif {
            fd,
            next_seq: 1,
            buf: vec![0; RECV_BUFFER],
        })
    }

    /// The socket's receive timeout as the kernel holds it.
    pub fn answer_timeout(&self) -> io::Result<Duration> {
        let t = getsockopt(&self.fd, sockopt::ReceiveTimeout).map_err(io::Error::from)?;
        let secs = u64::try_from(t.tv_sec()).unwrap_or(0);
        let micros = u64::try_from(t.tv_usec()).unwrap_or(0);
        Ok(Duration::from_secs(secs) + Duration::from_micros(micros))
    }

    /// The link named `name`; `NoSuchInterface` when there is none.
    pub fn link(&mut self, name: &str) -> Result<Link, NetifError> {
        let req = Request::GetLinkByName(name);
        match self.call(&req) {
            Ok(replies) => one_link(&req, replies),
            Err(Failure::Errno(ENODEV)) => Err(NetifError::NoSuchInterface {
                name: name.to_owned(),
            }),
            Err(f) => Err(kernel(&req, f)),
        }
    }

    /// The link with index `index`; `NoSuchIndex` when there is none.
    pub fn link_by_index(&mut self, index: u32) -> Result<Link, NetifError> {
        let req = Request::GetLinkByIndex(index);
        match self.call(&req) {
            Ok(replies) => one_link(&req, replies),
            Err(Failure::Errno(ENODEV)) => Err(NetifError::NoSuchIndex { index }),
            Err(f) => Err(kernel(&req, f)),
        }
    }

    /// Every link, in the kernel's order (by index).
    pub fn links(&mut self) -> Result<Vec<Link>, NetifError> {
        let req = Request::DumpLinks;
        let replies = self.dump(&req)?;
        replies
            .iter()
            .map(|p| decode_link(p).map_err(|e| decode_error(&req, e)))
            .collect()
    }

    /// The IPv4 and IPv6 addresses of interface `index`, in the kernel's order (IPv4
    /// first). Empty when there is no such interface.
    pub fn addresses(&mut self, index: u32) -> Result<Vec<IfAddr>, NetifError> {
        let req = Request::DumpAddrs;
        let replies = self.dump(&req)?;
        let mut out = Vec::new();
        for payload in &replies {
            match decode_addr(payload).map_err(|e| decode_error(&req, e))? {
                Some(a) if a.index == index => out.push(a),
                _ => {}
            }
        }
        Ok(out)
    }

    /// The address VRRP adverts of `family` are sent from on interface `index`: the
    /// primary IPv4 address, or for IPv6 the link-local address (RFC 5798 section
    /// 5.1.2.1); see [`primary_address`] for the exact rule. `None` when the interface
    /// has none (yet).
    pub fn primary_address(
        &mut self,
        index: u32,
        family: Family,
    ) -> Result<Option<IpAddr>, NetifError> {
        Ok(primary_address(&self.addresses(index)?, family))
    }

    /// Adds `addr/prefix_len` to interface `index` (IPv6 with `IFA_F_NODAD`: usable at
    /// once). An address the interface already has is `AlreadyPresent`, not an error.
    pub fn add_address(
        &mut self,
        index: u32,
        addr: IpAddr,
        prefix_len: u8,
    ) -> Result<Added, NetifError> {
        let req = Request::AddAddr {
            index,
            addr,
            prefix_len,
        };
        match self.call(&req) {
            Ok(_) => Ok(Added::Added),
            Err(Failure::Errno(EEXIST)) => Ok(Added::AlreadyPresent),
            Err(Failure::Errno(ENODEV)) => Err(NetifError::NoSuchIndex { index }),
            Err(Failure::Errno(errno)) => Err(NetifError::AddAddress {
                index,
                addr,
                prefix_len,
                errno,
            }),
            Err(Failure::Other(e)) => Err(e),
        }
    }

    /// Removes `addr/prefix_len` from interface `index` (the kernel matches the prefix
    /// length too). An address the interface does not have is `Absent`, not an error.
    pub fn del_address(
        &mut self,
        index: u32,
        addr: IpAddr,
        prefix_len: u8,
    ) -> Result<Removed, NetifError> {
        let req = Request::DelAddr {
            index,
            addr,
            prefix_len,
        };
        match self.call(&req) {
            Ok(_) => Ok(Removed::Removed),
            Err(Failure::Errno(EADDRNOTAVAIL)) => Ok(Removed::Absent),
            Err(Failure::Errno(ENODEV)) => Err(NetifError::NoSuchIndex { index }),
            Err(Failure::Errno(errno)) => Err(NetifError::DelAddress {
                index,
                addr,
                prefix_len,
                errno,
            }),
            Err(Failure::Other(e)) => Err(e),
        }
    }

    /// A dump, read again while the kernel flags it as changed during the read.
    fn dump(&mut self, req: &Request<'_>) -> Result<Vec<Vec<u8>>, NetifError> {
        for attempt in 1..=DUMP_ATTEMPTS {
            match self.exchange(req) {
                Ok(Outcome::Replies {
                    interrupted: true, ..
                }) => debug!(request = req.name(), attempt, "rtnetlink dump interrupted"),
                Ok(Outcome::Replies { replies, .. }) => return Ok(replies),
                Ok(Outcome::Errno(errno)) => {
                    return Err(NetifError::Kernel {
                        request: req.name(),
                        errno,
                    });
                }
                Err(e) => return Err(e),
            }
        }
        Err(NetifError::Inconsistent {
            request: req.name(),
            attempts: DUMP_ATTEMPTS,
        })
    }

    /// A get or a write: its replies, or the errno.
    fn call(&mut self, req: &Request<'_>) -> Result<Vec<Vec<u8>>, Failure> {
        match self.exchange(req) {
            Ok(Outcome::Replies { replies, .. }) => Ok(replies),
            Ok(Outcome::Errno(errno)) => Err(Failure::Errno(errno)),
            Err(e) => Err(Failure::Other(e)),
        }
    }

    /// Sends `req` and reads until its answer is complete.
    fn exchange(&mut self, req: &Request<'_>) -> Result<Outcome, NetifError> {
        let seq = self.next_seq;
        self.next_seq = seq.wrapping_add(1);
        let bytes = req.encode(seq).map_err(|e| match e {
            EncodeError::InvalidName { name } => NetifError::InvalidName { name },
            EncodeError::InvalidPrefix { addr, prefix_len } => {
                NetifError::InvalidPrefix { addr, prefix_len }
            }
        })?;
        let io_error = |source| NetifError::Io {
            request: req.name(),
            source,
        };
        send(&self.fd, &bytes).map_err(io_error)?;
        let mut answer = Answer::new(seq, req);
        while !answer.is_complete() {
            let len = recv_datagram(&self.fd, &mut self.buf).map_err(|e| {
                if e.kind() == io::ErrorKind::WouldBlock {
                    io_error(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("no answer from the kernel within {ANSWER_TIMEOUT:?}"),
                    ))
                } else {
                    io_error(e)
                }
            })?;
            let datagram = self.buf.get(..len).unwrap_or_default();
            answer.feed(datagram).map_err(|e| decode_error(req, e))?;
        }
        if answer.strays() > 0 {
            debug!(
                strays = answer.strays(),
                "rtnetlink answers to earlier requests dropped"
            );
        }
        // Complete, so there is an outcome.
        answer.finish().ok_or_else(|| {
            io_error(io::Error::other(
                "rtnetlink answer ended without an outcome",
            ))
        })
    }
}

fn kernel(req: &Request<'_>, failure: Failure) -> NetifError {
    match failure {
        Failure::Errno(errno) => NetifError::Kernel {
            request: req.name(),
            errno,
        },
        Failure::Other(e) => e,
    }
}

fn decode_error(req: &Request<'_>, source: DecodeError) -> NetifError {
    NetifError::Decode {
        request: req.name(),
        source,
    }
}

/// The one link a get answers with.
fn one_link(req: &Request<'_>, replies: Vec<Vec<u8>>) -> Result<Link, NetifError> {
    match replies.as_slice() {
        [payload] => decode_link(payload).map_err(|e| decode_error(req, e)),
        _ => Err(NetifError::Io {
            request: req.name(),
            source: io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{} replies to a get, expected 1", replies.len()),
            ),
        }),
    }
}

/// A `NETLINK_ROUTE` socket bound to the multicast `groups` (a bit mask: group N is bit
/// N - 1), the kernel choosing its port id.
fn route_socket(flags: SockFlag, groups: u32) -> Result<OwnedFd, NetifError> {
    let open = |e: nix::errno::Errno| NetifError::Open(io::Error::from(e));
    let fd = socket(
        AddressFamily::Netlink,
        SockType::Raw,
        flags,
        SockProtocol::NetlinkRoute,
    )
    .map_err(open)?;
    bind(fd.as_raw_fd(), &NetlinkAddr::new(0, groups)).map_err(open)?;
    Ok(fd)
}

/// Sends one datagram to the kernel (an unconnected netlink socket sends to port 0).
fn send(fd: &OwnedFd, datagram: &[u8]) -> io::Result<()> {
    loop {
        match nix::sys::socket::send(fd.as_raw_fd(), datagram, MsgFlags::empty())
            .map_err(io::Error::from)
        {
            Ok(n) if n == datagram.len() => return Ok(()),
            Ok(n) => {
                return Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    format!("sent {n} of {} bytes", datagram.len()),
                ));
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// One whole datagram into `buf`: `recv_into` receives with `MSG_TRUNC`, so it returns the
/// datagram's real length, and one longer than `buf` is an error, not a silent cut.
/// Interrupted calls are retried; 0 bytes (a closed socket) is an error.
fn whole_datagram(
    buf: &mut [u8],
    mut recv_into: impl FnMut(&mut [u8]) -> io::Result<usize>,
) -> io::Result<usize> {
    loop {
        match recv_into(&mut *buf) {
            Ok(0) => return Err(io::Error::from(io::ErrorKind::UnexpectedEof)),
            Ok(n) if n > buf.len() => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "netlink datagram of {n} bytes exceeds the {} byte buffer",
                        buf.len()
                    ),
                ));
            }
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

// === LinkWatch ===

/// Link notifications (`RTNLGRP_LINK`): every change of a link's flags, state, name or
/// MTU, and links appearing and disappearing, as they happen.
///
/// Its socket is an fd of its own, so that it can be handed to an async reactor without
/// `unsafe`: [`LinkWatch::registrable_fd`].
pub struct LinkWatch {
    fd: OwnedFd,
    buf: Vec<u8>,
}

impl std::fmt::Debug for LinkWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkWatch")
            .field("fd", &self.fd.as_raw_fd())
            .finish()
    }
}

impl LinkWatch {
    /// Subscribes to link notifications of the caller's network namespace; `recv` waits
    /// for them. Changes before this call are not reported: read the links with
    /// [`Netif::links`] after opening the watch, not before, so that nothing falls in
    /// between.
    pub fn open() -> Result<LinkWatch, NetifError> {
        LinkWatch::with_flags(SockFlag::SOCK_CLOEXEC)
    }

    /// [`LinkWatch::open`], but `recv` returns at once when nothing is queued (an error
    /// for which [`NetifError::is_would_block`] holds): for an async reactor.
    pub fn open_nonblocking() -> Result<LinkWatch, NetifError> {
        LinkWatch::with_flags(SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK)
    }

    fn with_flags(flags: SockFlag) -> Result<LinkWatch, NetifError> {
        let fd = route_socket(flags, 1 << (RTNLGRP_LINK - 1))?;
        if let Err(e) = setsockopt(&fd, sockopt::RcvBuf, &WATCH_RCVBUF) {
            debug!(error = %e, "cannot raise the link watch receive buffer");
        }
        Ok(LinkWatch {
            fd,
            buf: vec![0; RECV_BUFFER],
        })
    }

    /// A second fd of the same socket, to register with a reactor (which takes it over)
    /// while `recv` goes on reading through this one.
    pub fn registrable_fd(&self) -> io::Result<OwnedFd> {
        self.fd.try_clone()
    }

    /// Waits for the next link notifications (one datagram or more, until one holds a
    /// link event). `WatchOverrun` when the kernel dropped some: read all links again.
    pub fn recv(&mut self) -> Result<Vec<LinkEvent>, NetifError> {
        const REQUEST: &str = "link watch";
        loop {
            let len = match recv_datagram(&self.fd, &mut self.buf) {
                Ok(len) => len,
                Err(e) if e.raw_os_error() == Some(ENOBUFS) => {
                    return Err(NetifError::WatchOverrun);
                }
                Err(source) => {
                    return Err(NetifError::Io {
                        request: REQUEST,
                        source,
                    });
                }
            };
            let datagram = self.buf.get(..len).unwrap_or_default();
            let events = decode_link_events(datagram).map_err(|source| NetifError::Decode {
                request: REQUEST,
                source,
            })?;
            if !events.is_empty() {
                return Ok(events);
            }
        }
    }
}

/// Reads one datagram into `buf`; its length. With MSG_TRUNC the kernel reports the
/// datagram's real length, so a datagram larger than the buffer is an error, never
/// silently cut.
fn recv_datagram(fd: &OwnedFd, buf: &mut [u8]) -> io::Result<usize> {
    whole_datagram(buf, |b| {
        nix::sys::socket::recv(fd.as_raw_fd(), b, MsgFlags::MSG_TRUNC).map_err(io::Error::from)
    })
}

/// For waiting on the watch with `poll`; call [`LinkWatch::recv`] once it is readable.
impl AsRawFd for LinkWatch {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}
