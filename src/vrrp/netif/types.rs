//! What the kernel says about links and addresses, as plain values, and the choice of
//! the address VRRP adverts are sent from. Pure.

use std::net::IpAddr;

use super::msg::uapi::{IFF_RUNNING, IFF_UP};

/// An address family.
pub use crate::ipvs::model::Family;

/// `IF_OPER_*` (RFC 2863 operational status) from `IFLA_OPERSTATE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OperState {
    /// Also what links report that do not track carrier (loopback, dummy) and what a
    /// message without `IFLA_OPERSTATE` means.
    Unknown,
    NotPresent,
    Down,
    LowerLayerDown,
    Testing,
    Dormant,
    Up,
    Other(u8),
}

impl From<u8> for OperState {
    fn from(v: u8) -> Self {
        match v {
            0 => OperState::Unknown,
            1 => OperState::NotPresent,
            2 => OperState::Down,
            3 => OperState::LowerLayerDown,
            4 => OperState::Testing,
            5 => OperState::Dormant,
            6 => OperState::Up,
            other => OperState::Other(other),
        }
    }
}

/// One network interface as `RTM_NEWLINK` describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    pub index: u32,
    /// `IFLA_IFNAME`; bytes that are not UTF-8 are replaced (names are normally ASCII).
    pub name: String,
    /// `IFLA_ADDRESS` when it is a 6-byte hardware address other than all zeros; `None`
    /// for links without one (loopback, tunnels, `tun`).
    pub mac: Option<[u8; 6]>,
    /// `ifi_type`: the `ARPHRD_*` hardware type (1 = Ethernet).
    pub link_type: u16,
    /// `ifi_flags`: the `IFF_*` bits.
    pub flags: u32,
    pub oper_state: OperState,
    pub mtu: u32,
}

impl Link {
    /// Set up by the administrator (`IFF_UP`).
    pub fn admin_up(&self) -> bool {
        self.flags & IFF_UP != 0
    }

    /// `IFF_RUNNING`: the kernel sets it when the link is up and its operational state
    /// is `Up` or `Unknown` (carrier present, or not tracked).
    pub fn running(&self) -> bool {
        self.flags & IFF_RUNNING != 0
    }

    /// Usable for VRRP: `IFF_UP` and `IFF_RUNNING`, the test keepalived uses
    /// (`IF_ISUP`).
    pub fn is_up(&self) -> bool {
        self.admin_up() && self.running()
    }
}

/// What changed, from a link notification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkEvent {
    /// `RTM_NEWLINK`: the link exists (new, or its state changed), as it is now.
    Changed(Link),
    /// `RTM_DELLINK`: the link is gone; its last state.
    Removed(Link),
}

/// `IFA_F_*` address flags (`IFA_FLAGS`, or the 8-bit `ifa_flags` without it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct AddrFlags(pub u32);

impl AddrFlags {
    /// IPv4: not the first address of its subnet. (IPv6: a temporary address, same bit.)
    pub const SECONDARY: AddrFlags = AddrFlags(0x01);
    pub const NODAD: AddrFlags = AddrFlags(0x02);
    pub const OPTIMISTIC: AddrFlags = AddrFlags(0x04);
    pub const DADFAILED: AddrFlags = AddrFlags(0x08);
    pub const HOMEADDRESS: AddrFlags = AddrFlags(0x10);
    pub const DEPRECATED: AddrFlags = AddrFlags(0x20);
    /// IPv6 duplicate address detection is still running: the address cannot be used.
    pub const TENTATIVE: AddrFlags = AddrFlags(0x40);
    pub const PERMANENT: AddrFlags = AddrFlags(0x80);
    pub const MANAGETEMPADDR: AddrFlags = AddrFlags(0x100);
    pub const NOPREFIXROUTE: AddrFlags = AddrFlags(0x200);
    pub const MCAUTOJOIN: AddrFlags = AddrFlags(0x400);
    pub const STABLE_PRIVACY: AddrFlags = AddrFlags(0x800);

    pub fn contains(self, other: AddrFlags) -> bool {
        self.0 & other.0 == other.0
    }
}

impl std::ops::BitOr for AddrFlags {
    type Output = AddrFlags;
    fn bitor(self, rhs: AddrFlags) -> AddrFlags {
        AddrFlags(self.0 | rhs.0)
    }
}

/// `RT_SCOPE_*` of an address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// `RT_SCOPE_UNIVERSE`: global.
    Universe,
    Site,
    Link,
    Host,
    Nowhere,
    Other(u8),
}

impl From<u8> for Scope {
    fn from(v: u8) -> Self {
        match v {
            0 => Scope::Universe,
            200 => Scope::Site,
            253 => Scope::Link,
            254 => Scope::Host,
            255 => Scope::Nowhere,
            other => Scope::Other(other),
        }
    }
}

/// One address of an interface as `RTM_NEWADDR` describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IfAddr {
    pub index: u32,
    /// The local address (`IFA_LOCAL`, else `IFA_ADDRESS`; they differ only on
    /// point-to-point links, where `IFA_ADDRESS` is the peer).
    pub addr: IpAddr,
    pub prefix_len: u8,
    pub flags: AddrFlags,
    pub scope: Scope,
}

impl IfAddr {
    pub fn family(&self) -> Family {
        Family::of(&self.addr)
    }
}

/// The address VRRP sends adverts from, among the addresses of one interface (in the
/// kernel's order):
///
/// - IPv4: the first global-scope address that is not secondary (the interface's
///   primary address, as keepalived takes it).
/// - IPv6: the first link-local address (RFC 5798 section 5.1.2.1: the source of an
///   IPv6 advert is the interface's link-local address) that is usable, i.e. neither
///   tentative (duplicate address detection still running) nor failed DAD.
///
/// `None` when there is none (yet): a link-local address appears only once the link is
/// up with carrier and passed DAD.
pub fn primary_address(addrs: &[IfAddr], family: Family) -> Option<IpAddr> {
    addrs
        .iter()
        .find(|a| match (family, a.addr) {
            (Family::Inet, IpAddr::V4(_)) => {
                a.scope == Scope::Universe && !a.flags.contains(AddrFlags::SECONDARY)
            }
            (Family::Inet6, IpAddr::V6(v6)) => {
                v6.is_unicast_link_local()
                    && !a.flags.contains(AddrFlags::TENTATIVE)
                    && !a.flags.contains(AddrFlags::DADFAILED)
            }
            _ => false,
        })
        .map(|a| a.addr)
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;

    const V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
    const V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x10);

    fn ifaddr(addr: IpAddr, prefix_len: u8, flags: u32, scope: Scope) -> IfAddr {
        IfAddr {
            index: 2,
            addr,
            prefix_len,
            flags: AddrFlags(flags),
            scope,
        }
    }

    #[test]
    fn the_primary_ipv4_address_is_the_first_global_one_that_is_not_secondary() {
        let addrs = [
            ifaddr(IpAddr::V6(V6), 128, 0x82, Scope::Universe),
            ifaddr(
                IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)),
                8,
                0x80,
                Scope::Host,
            ),
            ifaddr(IpAddr::V4(V4), 24, 0x81, Scope::Universe),
            ifaddr(
                IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1)),
                24,
                0x80,
                Scope::Universe,
            ),
            ifaddr(
                IpAddr::V4(Ipv4Addr::new(203, 0, 113, 1)),
                24,
                0x80,
                Scope::Universe,
            ),
        ];
        assert_eq!(
            primary_address(&addrs, Family::Inet),
            Some(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1)))
        );
        assert_eq!(primary_address(&addrs[..3], Family::Inet), None);
        assert_eq!(primary_address(&[], Family::Inet), None);
    }

    #[test]
    fn the_primary_ipv6_address_is_the_first_usable_link_local_one_never_a_global_one() {
        let ll = |last| IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, last));
        let addrs = [
            ifaddr(IpAddr::V4(V4), 32, 0x80, Scope::Universe),
            ifaddr(IpAddr::V6(V6), 128, 0x82, Scope::Universe),
            ifaddr(ll(1), 64, 0xc0, Scope::Link), // tentative
            ifaddr(ll(2), 64, 0x88, Scope::Link), // DAD failed
            ifaddr(ll(3), 64, 0x80, Scope::Link),
            ifaddr(ll(4), 64, 0x80, Scope::Link),
        ];
        assert_eq!(primary_address(&addrs, Family::Inet6), Some(ll(3)));
        assert_eq!(primary_address(&addrs[..4], Family::Inet6), None);
    }
}
