//! The VRRP I/O endpoints on one interface: [`VrrpSocket`] sends and receives
//! advertisements (raw IP protocol 112), [`Announcer`] sends gratuitous ARP (a packet
//! socket) and unsolicited neighbour advertisements (a raw ICMPv6 socket).
//!
//! I/O shell, async on tokio (nonblocking sockets registered with the reactor, see
//! `Registered`). It moves bytes and reports what the kernel said about them (source,
//! destination, TTL or hop limit); every protocol decision (is this advert valid, for us,
//! from a peer we know) is the caller's, through `packet::validate` and the state machine.
//! The pure helpers at the end (where a packet goes, control messages in and out) have
//! unit tests in `socket/tests.rs`; `tests/vrrp_socket.rs` runs the sockets between two
//! network namespaces (root needed).
//!
//! Socket options follow RFC 5798 section 5.1.1 / 5.1.2 and keepalived 2.2
//! (`open_vrrp_send_socket` / `open_vrrp_read_socket` in `vrrp.c`):
//!
//! - Both families: `SO_BINDTODEVICE`, multicast loop off (we must not hear our own
//!   adverts), `IP(V6)_MULTICAST_ALL` off (only the groups this socket joined, not every
//!   group some other socket joined on the host), TTL / hop limit 255 for unicast and
//!   multicast.
//! - IPv4: the kernel hands over the IP header; TTL and destination come from it
//!   (`packet::parse_ipv4`). Joins 224.0.0.18 with `ip_mreqn` by interface index. The
//!   source address and the interface go in `IP_PKTINFO` on every send: the source must be
//!   the one the caller put in the checksum's pseudo-header, and `IP_MULTICAST_IF` by
//!   index would need an `ip_mreqn` setter that neither socket2 nor nix has.
//! - IPv6: no header; the hop limit and destination come from `IPV6_HOPLIMIT` and
//!   `IPV6_PKTINFO` control messages, the source (link-local in multicast mode, RFC 5798
//!   section 5.1.2.1) goes out in `IPV6_PKTINFO`. `IPV6_MULTICAST_IF` is the interface.
//!   The kernel neither computes nor checks a checksum for protocol 112 (no
//!   `IPV6_CHECKSUM`): `packet::encode` fills it and `packet::validate` checks it.

use std::io::{self, IoSlice, IoSliceMut};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use nix::libc;
use nix::sys::socket::{
    self as nix_socket, AddressFamily, ControlMessage, ControlMessageOwned, LinkAddr, MsgFlags,
    SockFlag, SockType, SockaddrIn, SockaddrIn6, sockopt,
};
use socket2::{Domain, InterfaceIndexOrAddress, Protocol, Socket, Type};
use tokio::io::Interest;

use super::packet::{DecodeError, Family, IPPROTO_VRRP, Received, VRRP_TTL, parse_ipv4};

/// The VRRP IPv4 multicast group (RFC 5798 section 5.1.1.2).
pub const VRRP_GROUP_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// The VRRP IPv6 multicast group (RFC 5798 section 5.1.2.2).
pub const VRRP_GROUP_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);
/// All-nodes, where unsolicited neighbour advertisements go (RFC 4861 section 7.2.6).
pub const ALL_NODES_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

// === Types ===

/// Where a [`VrrpSocket`] lives and whom it talks to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SocketConfig {
    pub ifindex: u32,
    pub ifname: String,
    pub family: Family,
    /// Bound as the local address in unicast mode (also receives only packets sent to it).
    pub unicast_source: Option<IpAddr>,
    /// Empty: multicast mode (joins the VRRP group). Otherwise adverts go to each peer.
    pub unicast_peers: Vec<IpAddr>,
}

/// An interface as errors name it: always the index, the name where it is known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interface {
    pub index: u32,
    pub name: Option<String>,
}

impl std::fmt::Display for Interface {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.name {
            Some(name) => write!(f, "{name} (index {})", self.index),
            None => write!(f, "index {}", self.index),
        }
    }
}

/// What went wrong on a VRRP or announcement socket. [`SocketError::is_malformed`] tells
/// a bad packet (count it, keep going) from a failing socket.
#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    #[error("cannot open a {family} {kind} socket on interface {interface}")]
    Open {
        interface: Interface,
        family: Family,
        kind: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("cannot set {option} on interface {interface}")]
    SetOption {
        interface: Interface,
        option: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("cannot join {group} on interface {interface}")]
    Join {
        interface: Interface,
        group: IpAddr,
        #[source]
        source: io::Error,
    },
    #[error("cannot bind to {address} on interface {interface}")]
    Bind {
        interface: Interface,
        address: IpAddr,
        #[source]
        source: io::Error,
    },
    #[error("interface index {index} does not fit a c int")]
    InvalidIndex { index: u32 },
    #[error("interface {interface} has no link-layer address to send frames to")]
    NoLinkAddress { interface: Interface },
    #[error("address {address} is not of the socket's family {family} on interface {interface}")]
    FamilyMismatch {
        interface: Interface,
        address: IpAddr,
        family: Family,
    },
    #[error("cannot send from {src} to {dst} on interface {interface}")]
    Send {
        interface: Interface,
        src: IpAddr,
        dst: IpAddr,
        #[source]
        source: io::Error,
    },
    #[error("sent {sent} of {len} bytes to {dst} on interface {interface}")]
    ShortSend {
        interface: Interface,
        dst: IpAddr,
        sent: usize,
        len: usize,
    },
    #[error("cannot receive on interface {interface}")]
    Recv {
        interface: Interface,
        #[source]
        source: io::Error,
    },
    #[error("packet longer than the {capacity}-byte buffer on interface {interface}")]
    Truncated {
        interface: Interface,
        capacity: usize,
    },
    #[error("malformed ipv4 packet on interface {interface}")]
    Malformed {
        interface: Interface,
        #[source]
        source: DecodeError,
    },
    #[error("packet without {what} on interface {interface}")]
    MissingControl {
        interface: Interface,
        what: &'static str,
    },
}

impl SocketError {
    /// A bad or unusable packet, not a failing socket: the caller counts it as malformed
    /// and receives the next one.
    pub fn is_malformed(&self) -> bool {
        matches!(
            self,
            SocketError::Truncated { .. }
                | SocketError::Malformed { .. }
                | SocketError::MissingControl { .. }
        )
    }
}

// === impl VrrpSocket ===

/// A raw protocol-112 socket bound to one interface, for one address family.
#[derive(Debug)]
pub struct VrrpSocket {
    fd: Registered,
    interface: Interface,
    family: Family,
    ifindex_c: i32,
    destinations: Vec<IpAddr>,
}

impl VrrpSocket {
    /// Opens and configures the socket (see the module docs for the options). Must be
    /// called within a tokio runtime.
    pub fn open(cfg: &SocketConfig) -> Result<VrrpSocket, SocketError> {
        let interface = Interface {
            index: cfg.ifindex,
            name: Some(cfg.ifname.clone()),
        };
        let ifindex_c = c_index(cfg.ifindex)?;
        for &address in cfg.unicast_source.iter().chain(&cfg.unicast_peers) {
            check_family(&interface, cfg.family, address)?;
        }
        let domain = match cfg.family {
            Family::Inet => Domain::IPV4,
            Family::Inet6 => Domain::IPV6,
        };
        let socket = Socket::new(
            domain,
            Type::RAW,
            Some(Protocol::from(i32::from(IPPROTO_VRRP))),
        )
        .map_err(|source| SocketError::Open {
            interface: interface.clone(),
            family: cfg.family,
            kind: "vrrp",
            source,
        })?;
        let set = |option: &'static str, result: io::Result<()>| {
            result.map_err(|source| SocketError::SetOption {
                interface: interface.clone(),
                option,
                source,
            })
        };
        set("O_NONBLOCK", socket.set_nonblocking(true))?;
        set(
            "SO_BINDTODEVICE",
            socket.bind_device(Some(cfg.ifname.as_bytes())),
        )?;
        let ttl = u32::from(VRRP_TTL);
        let multicast = cfg.unicast_peers.is_empty();
        match cfg.family {
            Family::Inet => {
                set("IP_TTL", socket.set_ttl_v4(ttl))?;
                set("IP_MULTICAST_TTL", socket.set_multicast_ttl_v4(ttl))?;
                set("IP_MULTICAST_LOOP", socket.set_multicast_loop_v4(false))?;
                set("IP_MULTICAST_ALL", socket.set_multicast_all_v4(false))?;
                if multicast {
                    socket
                        .join_multicast_v4_n(
                            &VRRP_GROUP_V4,
                            &InterfaceIndexOrAddress::Index(cfg.ifindex),
                        )
                        .map_err(|source| SocketError::Join {
                            interface: interface.clone(),
                            group: IpAddr::V4(VRRP_GROUP_V4),
                            source,
                        })?;
                }
            }
            Family::Inet6 => {
                set("IPV6_UNICAST_HOPS", socket.set_unicast_hops_v6(ttl))?;
                set("IPV6_MULTICAST_HOPS", socket.set_multicast_hops_v6(ttl))?;
                set("IPV6_MULTICAST_LOOP", socket.set_multicast_loop_v6(false))?;
                set("IPV6_MULTICAST_ALL", socket.set_multicast_all_v6(false))?;
                set("IPV6_MULTICAST_IF", socket.set_multicast_if_v6(cfg.ifindex))?;
                set("IPV6_RECVHOPLIMIT", socket.set_recv_hoplimit_v6(true))?;
                set(
                    "IPV6_RECVPKTINFO",
                    nix_socket::setsockopt(&socket, sockopt::Ipv6RecvPacketInfo, &true)
                        .map_err(io::Error::from),
                )?;
                if multicast {
                    socket
                        .join_multicast_v6(&VRRP_GROUP_V6, cfg.ifindex)
                        .map_err(|source| SocketError::Join {
                            interface: interface.clone(),
                            group: IpAddr::V6(VRRP_GROUP_V6),
                            source,
                        })?;
                }
            }
        }
        if let Some(address) = cfg.unicast_source {
            socket
                .bind(&local_address(address, cfg.ifindex).into())
                .map_err(|source| SocketError::Bind {
                    interface: interface.clone(),
                    address,
                    source,
                })?;
        }
        let fd = Registered::new(socket.into()).map_err(|source| SocketError::SetOption {
            interface: interface.clone(),
            option: "tokio registration",
            source,
        })?;
        Ok(VrrpSocket {
            fd,
            destinations: destinations(cfg.family, &cfg.unicast_peers),
            interface,
            family: cfg.family,
            ifindex_c,
        })
    }

    pub fn family(&self) -> Family {
        self.family
    }

    pub fn interface(&self) -> &Interface {
        &self.interface
    }

    /// Where adverts go: the unicast peers, or the VRRP multicast group of the family.
    pub fn destinations(&self) -> Vec<IpAddr> {
        self.destinations.clone()
    }

    /// Sends one VRRP message from `src` to `dst`. The caller encoded it with
    /// `packet::encode` for the same `src` and `dst`: the checksum covers them.
    pub async fn send(&self, msg: &[u8], src: IpAddr, dst: IpAddr) -> Result<(), SocketError> {
        check_family(&self.interface, self.family, src)?;
        check_family(&self.interface, self.family, dst)?;
        let send_error = |source| SocketError::Send {
            interface: self.interface.clone(),
            src,
            dst,
            source,
        };
        let (ifindex, ifindex_c) = (self.interface.index, self.ifindex_c);
        let sent = self
            .fd
            .write_with(|fd| send_with_source(fd, msg, src, dst, ifindex, ifindex_c))
            .await
            .map_err(send_error)?;
        if sent != msg.len() {
            return Err(SocketError::ShortSend {
                interface: self.interface.clone(),
                dst,
                sent,
                len: msg.len(),
            });
        }
        Ok(())
    }

    /// Receives one packet into `buf` and returns what the kernel said about it, the VRRP
    /// message borrowed from `buf`. A packet that does not fit in `buf` (64 KiB always
    /// does), an IPv4 header `parse_ipv4` refuses, or a missing control message is an error
    /// for which [`SocketError::is_malformed`] holds.
    pub async fn recv<'b>(&self, buf: &'b mut [u8]) -> Result<Received<'b>, SocketError> {
        let family = self.family;
        let raw = self
            .fd
            .read_with(|fd| recv_raw(fd, family, buf))
            .await
            .map_err(|source| SocketError::Recv {
                interface: self.interface.clone(),
                source,
            })?;
        if raw.truncated {
            return Err(SocketError::Truncated {
                interface: self.interface.clone(),
                capacity: buf.len(),
            });
        }
        let datagram = buf.get(..raw.len).unwrap_or(&[]);
        match self.family {
            Family::Inet => {
                let ip = parse_ipv4(datagram).map_err(|source| SocketError::Malformed {
                    interface: self.interface.clone(),
                    source,
                })?;
                Ok(Received {
                    src: IpAddr::V4(ip.src),
                    dst: IpAddr::V4(ip.dst),
                    ttl: ip.ttl,
                    message: ip.payload,
                })
            }
            Family::Inet6 => {
                let missing = |what| SocketError::MissingControl {
                    interface: self.interface.clone(),
                    what,
                };
                let src = raw.src.ok_or_else(|| missing("source address"))?;
                let dst = raw.control.dst.ok_or_else(|| missing("IPV6_PKTINFO"))?;
                let ttl = raw
                    .control
                    .hop_limit
                    .ok_or_else(|| missing("IPV6_HOPLIMIT"))?;
                Ok(Received {
                    src: IpAddr::V6(src),
                    dst: IpAddr::V6(dst),
                    ttl,
                    message: datagram,
                })
            }
        }
    }
}

/// What one `recvmsg` returned, before it is interpreted.
struct RawRecv {
    len: usize,
    truncated: bool,
    /// IPv6 only: IPv4 reads the source from the header.
    src: Option<Ipv6Addr>,
    control: Ipv6Control,
}

fn recv_raw(fd: RawFd, family: Family, buf: &mut [u8]) -> io::Result<RawRecv> {
    let mut iov = [IoSliceMut::new(buf)];
    match family {
        Family::Inet => {
            let msg = nix_socket::recvmsg::<SockaddrIn>(fd, &mut iov, None, MsgFlags::empty())?;
            Ok(RawRecv {
                len: msg.bytes,
                truncated: msg.flags.contains(MsgFlags::MSG_TRUNC),
                src: None,
                control: Ipv6Control::default(),
            })
        }
        Family::Inet6 => {
            let mut cmsg = nix::cmsg_space!(libc::in6_pktinfo, libc::c_int);
            let msg = nix_socket::recvmsg::<SockaddrIn6>(
                fd,
                &mut iov,
                Some(&mut cmsg),
                MsgFlags::empty(),
            )?;
            // A truncated control buffer (it is sized for exactly what we asked for) leaves
            // the fields unset: reported as a missing control message.
            let control = msg
                .cmsgs()
                .map(ipv6_control)
                .unwrap_or_else(|_| Ipv6Control::default());
            Ok(RawRecv {
                len: msg.bytes,
                truncated: msg.flags.contains(MsgFlags::MSG_TRUNC),
                src: msg.address.map(|a| a.ip()),
                control,
            })
        }
    }
}

fn send_with_source(
    fd: RawFd,
    msg: &[u8],
    src: IpAddr,
    dst: IpAddr,
    ifindex: u32,
    ifindex_c: i32,
) -> io::Result<usize> {
    let iov = [IoSlice::new(msg)];
    let sent = match (src, dst) {
        (IpAddr::V4(src), IpAddr::V4(dst)) => {
            let info = ipv4_pktinfo(src, ifindex_c);
            let to = SockaddrIn::from(SocketAddrV4::new(dst, 0));
            nix_socket::sendmsg(
                fd,
                &iov,
                &[ControlMessage::Ipv4PacketInfo(&info)],
                MsgFlags::empty(),
                Some(&to),
            )?
        }
        (IpAddr::V6(src), IpAddr::V6(dst)) => {
            let info = ipv6_pktinfo(src, ifindex);
            let to = SockaddrIn6::from(ipv6_destination(dst, ifindex));
            nix_socket::sendmsg(
                fd,
                &iov,
                &[ControlMessage::Ipv6PacketInfo(&info)],
                MsgFlags::empty(),
                Some(&to),
            )?
        }
        // Callers check both against the socket's family first.
        _ => return Err(io::Error::from(io::ErrorKind::InvalidInput)),
    };
    Ok(sent)
}

// === impl Announcer ===

/// Sends gratuitous ARP (IPv4) or unsolicited neighbour advertisements (IPv6) on one
/// interface. Repeats and delays between them are the caller's.
#[derive(Debug)]
pub struct Announcer {
    interface: Interface,
    kind: AnnouncerKind,
}

#[derive(Debug)]
enum AnnouncerKind {
    /// A packet socket of protocol 0 (it receives nothing) and the interface's link
    /// address to send whole Ethernet frames to.
    Arp { fd: Registered, link: LinkAddr },
    /// A raw ICMPv6 socket; the kernel fills the ICMPv6 checksum (RFC 3542 section 3.1).
    Nd { fd: Registered },
}

impl Announcer {
    /// Opens the announcement socket of `family` on interface `ifindex`. Must be called
    /// within a tokio runtime.
    pub fn open(ifindex: u32, family: Family) -> Result<Announcer, SocketError> {
        let mut interface = Interface {
            index: ifindex,
            name: None,
        };
        let kind = match family {
            Family::Inet => {
                let (name, link) =
                    link_address(ifindex).ok_or_else(|| SocketError::NoLinkAddress {
                        interface: interface.clone(),
                    })?;
                interface.name = Some(name);
                let fd = nix_socket::socket(
                    AddressFamily::Packet,
                    SockType::Raw,
                    SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
                    None,
                )
                .map_err(|errno| SocketError::Open {
                    interface: interface.clone(),
                    family,
                    kind: "packet",
                    source: errno.into(),
                })?;
                let fd = Registered::new(fd).map_err(|source| SocketError::SetOption {
                    interface: interface.clone(),
                    option: "tokio registration",
                    source,
                })?;
                AnnouncerKind::Arp { fd, link }
            }
            Family::Inet6 => {
                let socket = Socket::new(Domain::IPV6, Type::RAW, Some(Protocol::ICMPV6)).map_err(
                    |source| SocketError::Open {
                        interface: interface.clone(),
                        family,
                        kind: "icmpv6",
                        source,
                    },
                )?;
                let set = |option: &'static str, result: io::Result<()>| {
                    result.map_err(|source| SocketError::SetOption {
                        interface: interface.clone(),
                        option,
                        source,
                    })
                };
                set("O_NONBLOCK", socket.set_nonblocking(true))?;
                // RFC 4861 section 7.1.2: receivers drop neighbour discovery with any
                // other hop limit.
                let hops = u32::from(VRRP_TTL);
                set("IPV6_MULTICAST_HOPS", socket.set_multicast_hops_v6(hops))?;
                set("IPV6_UNICAST_HOPS", socket.set_unicast_hops_v6(hops))?;
                set("IPV6_MULTICAST_LOOP", socket.set_multicast_loop_v6(false))?;
                set("IPV6_MULTICAST_IF", socket.set_multicast_if_v6(ifindex))?;
                // The socket only sends, but a raw ICMPv6 socket is handed every ICMPv6
                // packet that arrives: the smallest buffer bounds what waits there.
                set("SO_RCVBUF", socket.set_recv_buffer_size(0))?;
                let fd =
                    Registered::new(socket.into()).map_err(|source| SocketError::SetOption {
                        interface: interface.clone(),
                        option: "tokio registration",
                        source,
                    })?;
                AnnouncerKind::Nd { fd }
            }
        };
        Ok(Announcer { interface, kind })
    }

    pub fn interface(&self) -> &Interface {
        &self.interface
    }

    /// Announces that `addr` is at `src_mac`: one `announce::gratuitous_arp` frame
    /// broadcast on the interface, or one `announce::unsolicited_na` (`router` sets its R
    /// flag) to ff02::1 from `addr` itself, which must be assigned to a local interface
    /// and not tentative.
    pub async fn announce(
        &self,
        addr: IpAddr,
        src_mac: [u8; 6],
        router: bool,
    ) -> Result<(), SocketError> {
        match (&self.kind, addr) {
            (AnnouncerKind::Arp { fd, link }, IpAddr::V4(ip)) => {
                let frame = super::announce::gratuitous_arp(src_mac, ip);
                let dst = IpAddr::V4(Ipv4Addr::BROADCAST);
                let sent = send_ready(fd, addr, dst, &self.interface, |raw| {
                    nix_socket::sendto(raw, &frame, link, MsgFlags::empty())
                        .map_err(io::Error::from)
                })
                .await?;
                self.check_sent(dst, sent, frame.len())
            }
            (AnnouncerKind::Nd { fd }, IpAddr::V6(target)) => {
                let na = super::announce::unsolicited_na(src_mac, target, router);
                let dst = IpAddr::V6(ALL_NODES_V6);
                let info = ipv6_pktinfo(target, self.interface.index);
                let to = SockaddrIn6::from(ipv6_destination(ALL_NODES_V6, self.interface.index));
                let sent = send_ready(fd, addr, dst, &self.interface, |raw| {
                    nix_socket::sendmsg(
                        raw,
                        &[IoSlice::new(&na)],
                        &[ControlMessage::Ipv6PacketInfo(&info)],
                        MsgFlags::empty(),
                        Some(&to),
                    )
                    .map_err(io::Error::from)
                })
                .await?;
                self.check_sent(dst, sent, na.len())
            }
            (AnnouncerKind::Arp { .. }, address) => Err(SocketError::FamilyMismatch {
                interface: self.interface.clone(),
                address,
                family: Family::Inet,
            }),
            (AnnouncerKind::Nd { .. }, address) => Err(SocketError::FamilyMismatch {
                interface: self.interface.clone(),
                address,
                family: Family::Inet6,
            }),
        }
    }

    fn check_sent(&self, dst: IpAddr, sent: usize, len: usize) -> Result<(), SocketError> {
        if sent == len {
            Ok(())
        } else {
            Err(SocketError::ShortSend {
                interface: self.interface.clone(),
                dst,
                sent,
                len,
            })
        }
    }
}

/// Runs `send` once `fd` is writable, mapping its error to [`SocketError::Send`].
async fn send_ready(
    fd: &Registered,
    src: IpAddr,
    dst: IpAddr,
    interface: &Interface,
    send: impl FnMut(RawFd) -> io::Result<usize>,
) -> Result<usize, SocketError> {
    fd.write_with(send)
        .await
        .map_err(|source| SocketError::Send {
            interface: interface.clone(),
            src,
            dst,
            source,
        })
}

// === impl Registered ===

/// A nonblocking socket registered with tokio's reactor, for any syscall on its fd.
///
/// `AsyncFd` would be the natural type, but tokio 1.54 deprecated its safe constructor
/// and made `AsyncFd::register` `unsafe` (tokio#8587), and this crate forbids `unsafe`.
/// `tokio::net::UdpSocket` is a readiness registration over any datagram socket it is
/// given (`From<OwnedFd>` is safe, the fd is owned and never changes) and its `async_io`
/// runs our own syscalls; its UDP methods are never called.
#[derive(Debug)]
pub(super) struct Registered(tokio::net::UdpSocket);

impl Registered {
    /// `fd` must be nonblocking. Needs a tokio runtime.
    pub(super) fn new(fd: OwnedFd) -> io::Result<Registered> {
        tokio::net::UdpSocket::from_std(std::net::UdpSocket::from(fd)).map(Registered)
    }

    /// Runs `op` once the socket is readable, again after a spurious wake-up
    /// (`EWOULDBLOCK`).
    pub(super) async fn read_with<R>(
        &self,
        mut op: impl FnMut(RawFd) -> io::Result<R>,
    ) -> io::Result<R> {
        let fd = self.0.as_raw_fd();
        self.0.async_io(Interest::READABLE, || op(fd)).await
    }

    /// Runs `op` once the socket is writable, again after a spurious wake-up.
    async fn write_with<R>(&self, mut op: impl FnMut(RawFd) -> io::Result<R>) -> io::Result<R> {
        let fd = self.0.as_raw_fd();
        self.0.async_io(Interest::WRITABLE, || op(fd)).await
    }
}

/// The interface's name and the kernel's own `sockaddr_ll` for it, from `getifaddrs`
/// (its `AF_PACKET` entry). nix can build a `LinkAddr` only from what the kernel returns,
/// and this is the one way to get it without `unsafe`. Sending a whole frame on a
/// `SOCK_RAW` packet socket uses only the interface index from it: the frame carries its
/// own destination, and the kernel reads the protocol from the Ethernet header when
/// `sll_protocol` is 0 (Linux 5.1, `packet_parse_headers`).
fn link_address(ifindex: u32) -> Option<(String, LinkAddr)> {
    let wanted = usize::try_from(ifindex).ok()?;
    nix::ifaddrs::getifaddrs().ok()?.find_map(|entry| {
        let link = *entry.address.as_ref()?.as_link_addr()?;
        (link.ifindex() == wanted).then_some((entry.interface_name, link))
    })
}

// === Pure helpers ===

/// Where adverts go (RFC 5798 section 5.1.1.2 / 5.1.2.2): the peers in unicast mode,
/// else the family's multicast group.
fn destinations(family: Family, unicast_peers: &[IpAddr]) -> Vec<IpAddr> {
    if !unicast_peers.is_empty() {
        return unicast_peers.to_vec();
    }
    match family {
        Family::Inet => vec![IpAddr::V4(VRRP_GROUP_V4)],
        Family::Inet6 => vec![IpAddr::V6(VRRP_GROUP_V6)],
    }
}

fn check_family(interface: &Interface, family: Family, address: IpAddr) -> Result<(), SocketError> {
    if Family::of(&address) == family {
        Ok(())
    } else {
        Err(SocketError::FamilyMismatch {
            interface: interface.clone(),
            address,
            family,
        })
    }
}

fn c_index(index: u32) -> Result<i32, SocketError> {
    i32::try_from(index).map_err(|_| SocketError::InvalidIndex { index })
}

/// Whether an IPv6 destination needs the interface as its scope: link-local unicast
/// (fe80::/10) and link-local multicast (ff02::/16) do.
fn is_link_scoped(addr: Ipv6Addr) -> bool {
    let first = addr.segments()[0];
    first & 0xffc0 == 0xfe80 || first & 0xff0f == 0xff02
}

/// An IPv6 socket address, scoped to the interface when the address is link-scoped.
fn ipv6_destination(addr: Ipv6Addr, ifindex: u32) -> SocketAddrV6 {
    let scope = if is_link_scoped(addr) { ifindex } else { 0 };
    SocketAddrV6::new(addr, 0, 0, scope)
}

/// The local address a unicast socket binds to (port 0: raw sockets have none).
fn local_address(addr: IpAddr, ifindex: u32) -> SocketAddr {
    match addr {
        IpAddr::V4(a) => SocketAddr::V4(SocketAddrV4::new(a, 0)),
        IpAddr::V6(a) => SocketAddr::V6(ipv6_destination(a, ifindex)),
    }
}

/// `IP_PKTINFO` for a send: the source address (`ipi_spec_dst`, network byte order) and
/// the outgoing interface.
fn ipv4_pktinfo(src: Ipv4Addr, ifindex: i32) -> libc::in_pktinfo {
    libc::in_pktinfo {
        ipi_ifindex: ifindex,
        ipi_spec_dst: libc::in_addr {
            s_addr: u32::from_ne_bytes(src.octets()),
        },
        ipi_addr: libc::in_addr { s_addr: 0 },
    }
}

/// `IPV6_PKTINFO` for a send: the source address and the outgoing interface.
fn ipv6_pktinfo(src: Ipv6Addr, ifindex: u32) -> libc::in6_pktinfo {
    libc::in6_pktinfo {
        ipi6_addr: libc::in6_addr {
            s6_addr: src.octets(),
        },
        ipi6_ifindex: ifindex,
    }
}

/// What the IPv6 control messages of one received packet said.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Ipv6Control {
    dst: Option<Ipv6Addr>,
    hop_limit: Option<u8>,
}

/// Reads the destination (`IPV6_PKTINFO`) and hop limit (`IPV6_HOPLIMIT`) from the
/// control messages; others are ignored. A hop limit outside 0..=255 is left unset.
fn ipv6_control(cmsgs: impl IntoIterator<Item = ControlMessageOwned>) -> Ipv6Control {
    let mut control = Ipv6Control::default();
    for cmsg in cmsgs {
        match cmsg {
            ControlMessageOwned::Ipv6PacketInfo(info) => {
                control.dst = Some(Ipv6Addr::from(info.ipi6_addr.s6_addr));
            }
            ControlMessageOwned::Ipv6HopLimit(limit) => {
                control.hop_limit = u8::try_from(limit).ok();
            }
            _ => {}
        }
    }
    control
}

#[cfg(test)]
mod tests;
