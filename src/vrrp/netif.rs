//! Interfaces and addresses over rtnetlink: what VRRP needs to know about its interface
//! (index, MAC address, up or down, MTU, the address adverts are sent from) and adding
//! and removing the virtual addresses.
//!
//! - [`msg`]: the rtnetlink codec (requests, framing, link and address messages). Pure,
//!   panic-free on any input.
//! - `types`: links and addresses as plain values, and [`primary_address`], the choice
//!   of the address adverts are sent from. Pure.
//! - `socket`: [`Netif`], blocking requests on one `NETLINK_ROUTE` socket, and
//!   [`LinkWatch`], link notifications on another. I/O; it decides nothing beyond
//!   mapping errnos to [`NetifError`].
//!
//! Everything here blocks: the VRRP task calls it from a blocking task or thread.
//! Tests: unit tests of the codec in `netif/msg/tests.rs`, of the
//! primary address choice in `types`; `tests/vrrp_netif.rs` runs
//! against the kernel in a fresh network namespace (root needed).

use std::io;
use std::net::IpAddr;

pub mod msg;
mod socket;
mod types;

pub use msg::DecodeError;
pub use socket::{ANSWER_TIMEOUT, Added, LinkWatch, Netif, Removed};
pub use types::{AddrFlags, Family, IfAddr, Link, LinkEvent, OperState, Scope, primary_address};

/// What went wrong talking to the kernel. Errnos are positive.
#[derive(Debug, thiserror::Error)]
pub enum NetifError {
    #[error("cannot open the rtnetlink socket")]
    Open(#[source] io::Error),
    #[error("rtnetlink {request} failed on the socket")]
    Io {
        request: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("malformed rtnetlink answer to {request}")]
    Decode {
        request: &'static str,
        #[source]
        source: DecodeError,
    },
    #[error("no interface named {name:?}")]
    NoSuchInterface { name: String },
    #[error("no interface with index {index}")]
    NoSuchIndex { index: u32 },
    #[error("invalid interface name {name:?}")]
    InvalidName { name: String },
    #[error("prefix length {prefix_len} is too long for {addr}")]
    InvalidPrefix { addr: IpAddr, prefix_len: u8 },
    #[error("kernel refused to add {addr}/{prefix_len} on interface {index}: {}", errno_text(*errno))]
    AddAddress {
        index: u32,
        addr: IpAddr,
        prefix_len: u8,
        errno: i32,
    },
    #[error("kernel refused to delete {addr}/{prefix_len} from interface {index}: {}", errno_text(*errno))]
    DelAddress {
        index: u32,
        addr: IpAddr,
        prefix_len: u8,
        errno: i32,
    },
    #[error("kernel refused rtnetlink {request}: {}", errno_text(*errno))]
    Kernel { request: &'static str, errno: i32 },
    #[error("rtnetlink {request} kept changing while it was read ({attempts} attempts)")]
    Inconsistent {
        request: &'static str,
        attempts: u32,
    },
    /// The kernel dropped link notifications (the socket's buffer was full): the links
    /// must be read again with [`Netif::links`].
    #[error("link notifications were lost")]
    WatchOverrun,
}

impl NetifError {
    /// The errno the kernel answered, if that is what this error is.
    pub fn errno(&self) -> Option<i32> {
        match self {
            NetifError::AddAddress { errno, .. }
            | NetifError::DelAddress { errno, .. }
            | NetifError::Kernel { errno, .. } => Some(*errno),
            NetifError::Open(e) | NetifError::Io { source: e, .. } => e.raw_os_error(),
            _ => None,
        }
    }

    /// A non-blocking socket had nothing to read ([`LinkWatch::open_nonblocking`]).
    pub fn is_would_block(&self) -> bool {
        matches!(self, NetifError::Io { source, .. } if source.kind() == io::ErrorKind::WouldBlock)
    }
}

/// The C library's text for an errno ("File exists (os error 17)").
fn errno_text(errno: i32) -> io::Error {
    io::Error::from_raw_os_error(errno)
}
