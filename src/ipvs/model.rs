//! The IPVS table as plain data: services, destinations and their attributes.
//!
//! Pure. This is the vocabulary shared by the config (what is desired), the netlink client
//! (what the kernel holds) and the reconciler (the difference). Field meanings and numeric
//! values follow the kernel's `include/uapi/linux/ip_vs.h`.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

/// Address family of a service or destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Family {
    Inet,
    Inet6,
}

impl Family {
    pub fn of(addr: &IpAddr) -> Family {
        match addr {
            IpAddr::V4(_) => Family::Inet,
            IpAddr::V6(_) => Family::Inet6,
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Family::Inet => "ipv4",
            Family::Inet6 => "ipv6",
        })
    }
}

/// Transport protocol of an address:port service. Ordered by IP protocol number, as
/// ipvsadm sorts them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    pub const NAMES: &[&str] = &["tcp", "udp", "sctp"];

    pub fn from_name(name: &str) -> Option<Protocol> {
        match name {
            "tcp" => Some(Protocol::Tcp),
            "udp" => Some(Protocol::Udp),
            "sctp" => Some(Protocol::Sctp),
            _ => None,
        }
    }

    /// IP protocol number (IPPROTO_*).
    pub fn number(self) -> u16 {
        match self {
            Protocol::Tcp => 6,
            Protocol::Udp => 17,
            Protocol::Sctp => 132,
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        })
    }
}

/// What identifies a virtual service in the kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ServiceKey {
    /// Address:port service (`ipvsadm -t/-u/--sctp-service`).
    Addr {
        protocol: Protocol,
        addr: IpAddr,
        port: u16,
    },
    /// Firewall-mark service (`ipvsadm -f`).
    Fwmark { family: Family, mark: u32 },
}

impl ServiceKey {
    pub fn family(&self) -> Family {
        match self {
            ServiceKey::Addr { addr, .. } => Family::of(addr),
            ServiceKey::Fwmark { family, .. } => *family,
        }
    }

    /// Sort key matching ipvsadm's listing order: fwmark, family, protocol, address, port.
    pub fn listing_order(&self) -> (u32, Family, u16, IpAddr, u16) {
        match *self {
            ServiceKey::Addr {
                protocol,
                addr,
                port,
            } => (0, Family::of(&addr), protocol.number(), addr, port),
            ServiceKey::Fwmark { family, mark } => {
                let zero = match family {
                    Family::Inet => IpAddr::from([0u8; 4]),
                    Family::Inet6 => IpAddr::from([0u8; 16]),
                };
                (mark, family, 0, zero, 0)
            }
        }
    }
}

impl fmt::Display for ServiceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServiceKey::Addr {
                protocol,
                addr,
                port,
            } => write!(f, "{protocol} {}", fmt_addr_port(addr, *port)),
            ServiceKey::Fwmark {
                family: Family::Inet,
                mark,
            } => write!(f, "fwmark {mark}"),
            ServiceKey::Fwmark {
                family: Family::Inet6,
                mark,
            } => write!(f, "fwmark {mark} ipv6"),
        }
    }
}

/// `192.0.2.1:80` or `[2001:db8::1]:80`.
pub fn fmt_addr_port(addr: &IpAddr, port: u16) -> String {
    match addr {
        IpAddr::V4(a) => format!("{a}:{port}"),
        IpAddr::V6(a) => format!("[{a}]:{port}"),
    }
}

/// Kernel schedulers (ip_vs_*.ko).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scheduler {
    Rr,
    Wrr,
    Lc,
    Wlc,
    Lblc,
    Lblcr,
    Dh,
    Sh,
    Sed,
    Nq,
    Fo,
    Ovf,
    Mh,
    Twos,
}

impl Scheduler {
    pub const ALL: &[Scheduler] = &[
        Scheduler::Rr,
        Scheduler::Wrr,
        Scheduler::Lc,
        Scheduler::Wlc,
        Scheduler::Lblc,
        Scheduler::Lblcr,
        Scheduler::Dh,
        Scheduler::Sh,
        Scheduler::Sed,
        Scheduler::Nq,
        Scheduler::Fo,
        Scheduler::Ovf,
        Scheduler::Mh,
        Scheduler::Twos,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Scheduler::Rr => "rr",
            Scheduler::Wrr => "wrr",
            Scheduler::Lc => "lc",
            Scheduler::Wlc => "wlc",
            Scheduler::Lblc => "lblc",
            Scheduler::Lblcr => "lblcr",
            Scheduler::Dh => "dh",
            Scheduler::Sh => "sh",
            Scheduler::Sed => "sed",
            Scheduler::Nq => "nq",
            Scheduler::Fo => "fo",
            Scheduler::Ovf => "ovf",
            Scheduler::Mh => "mh",
            Scheduler::Twos => "twos",
        }
    }

    pub fn from_name(name: &str) -> Option<Scheduler> {
        Scheduler::ALL.iter().copied().find(|s| s.name() == name)
    }

    /// Names of the scheduler flags this scheduler understands, as ipvsadm spells them,
    /// in bit order (flag-1, flag-2).
    pub fn flag_names(self) -> &'static [&'static str] {
        match self {
            Scheduler::Sh => &["sh-fallback", "sh-port"],
            Scheduler::Mh => &["mh-fallback", "mh-port"],
            _ => &["flag-1", "flag-2", "flag-3"],
        }
    }
}

impl fmt::Display for Scheduler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Service flags (IP_VS_SVC_F_*).
pub mod svc_flags {
    pub const PERSISTENT: u32 = 0x0001;
    /// Set by the kernel on every hashed service; never compared.
    pub const HASHED: u32 = 0x0002;
    pub const ONEPACKET: u32 = 0x0004;
    pub const SCHED1: u32 = 0x0008;
    pub const SCHED2: u32 = 0x0010;
    pub const SCHED3: u32 = 0x0020;
    pub const SCHED_MASK: u32 = SCHED1 | SCHED2 | SCHED3;
}

/// Tunnel encapsulation of a tunnel destination (IP_VS_CONN_F_TUNNEL_TYPE_*).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TunnelType {
    Ipip,
    /// Generic UDP encapsulation to the given destination port.
    Gue {
        port: u16,
    },
    Gre,
}

/// Tunnel checksum mode (IP_VS_TUNNEL_ENCAP_FLAG_*).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum TunnelCsum {
    #[default]
    NoCsum,
    Csum,
    RemCsum,
}

impl TunnelCsum {
    pub const NAMES: &[&str] = &["none", "csum", "remcsum"];
}

/// Packet forwarding method of a destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Forwarding {
    /// Masquerading (NAT), `ipvsadm -m`.
    Nat,
    /// Direct routing, `ipvsadm -g`.
    Dr,
    /// IP tunnelling, `ipvsadm -i`.
    Tunnel { kind: TunnelType, csum: TunnelCsum },
}

impl Forwarding {
    pub fn name(&self) -> &'static str {
        match self {
            Forwarding::Nat => "nat",
            Forwarding::Dr => "dr",
            Forwarding::Tunnel { .. } => "tunnel",
        }
    }
}

/// A virtual service's attributes (its key aside).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Service {
    pub key: ServiceKey,
    pub scheduler: Scheduler,
    /// IP_VS_SVC_F_* without HASHED; PERSISTENT is set iff `timeout > 0`.
    pub flags: u32,
    /// Persistence timeout in seconds, 0 when not persistent.
    pub timeout: u32,
    /// Persistence granularity: for IPv4 a mask in host byte order (0xffff_ffff = per
    /// client), for IPv6 a prefix length (128 = per client).
    pub netmask: u32,
    /// Persistence engine (`sip`), if any.
    pub pe_name: Option<String>,
}

impl Service {
    /// The set scheduler flags by ipvsadm's names (`sh-fallback`, `flag-2`, ...).
    pub fn sched_flag_names(&self) -> Vec<&'static str> {
        [svc_flags::SCHED1, svc_flags::SCHED2, svc_flags::SCHED3]
            .iter()
            .zip(self.scheduler.flag_names())
            .filter(|(bit, _)| self.flags & **bit != 0)
            .map(|(_, n)| *n)
            .collect()
    }

    /// The persistence granularity as ipvsadm prints it (`255.255.255.0`, `64`), or `None`
    /// when it is the whole address (per client).
    pub fn netmask_text(&self) -> Option<String> {
        match self.key.family() {
            Family::Inet if self.netmask != u32::MAX => {
                Some(std::net::Ipv4Addr::from(self.netmask).to_string())
            }
            Family::Inet6 if self.netmask != 128 => Some(self.netmask.to_string()),
            _ => None,
        }
    }
}

/// What identifies a destination within its service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DestKey {
    pub addr: IpAddr,
    pub port: u16,
}

impl fmt::Display for DestKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&fmt_addr_port(&self.addr, self.port))
    }
}

/// A real server as the kernel holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Destination {
    pub key: DestKey,
    pub forwarding: Forwarding,
    pub weight: u32,
    pub upper_threshold: u32,
    pub lower_threshold: u32,
}

/// A service with its destinations, ordered as ipvsadm lists them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceEntry {
    pub service: Service,
    pub dests: BTreeMap<DestKey, Destination>,
}

/// A whole IPVS table (or the part of it a config owns).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Table {
    pub services: BTreeMap<ServiceKey, ServiceEntry>,
}

impl Table {
    /// Services in ipvsadm's listing order.
    pub fn in_listing_order(&self) -> Vec<&ServiceEntry> {
        let mut v: Vec<&ServiceEntry> = self.services.values().collect();
        v.sort_by_key(|e| e.service.key.listing_order());
        v
    }
}
