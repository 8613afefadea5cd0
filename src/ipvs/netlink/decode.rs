//! Replies from the kernel, as generic netlink payloads (`genlmsghdr` + attributes), turned
//! into the model: services, destinations with their counters, GET_INFO, the timeouts and
//! the sync daemons.
//!
//! Pure and panic-free on any input; every problem is a [`DecodeError`]. What the kernel
//! fills is in `ip_vs_genl_fill_service`, `ip_vs_genl_fill_dest`, `ip_vs_genl_fill_stats*`
//! and `ip_vs_genl_fill_daemon` (net/netfilter/ipvs/ip_vs_ctl.c); the attributes required
//! here are those ipvsadm's libipvs requires.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::attr::{Table, fixed};
use super::consts::{
    AF_INET, AF_INET6, GENL_HDRLEN, Key, cmd, cmd_attr, ctrl, daemon_attr, dest_attr, fwd,
    info_attr, state, stats_attr, svc_attr, tun_flags, tun_type,
};
use crate::ipvs::backend::{DestState, Info, Stats, SyncDaemon, SyncRole, Timeouts};
use crate::ipvs::model::{
    DestKey, Destination, Family, Forwarding, Protocol, Scheduler, Service, ServiceKey, TunnelCsum,
    TunnelType, svc_flags,
};

/// Why a reply could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("netlink message header cut off at offset {offset}")]
    TruncatedMessage { offset: usize },
    #[error("netlink message at offset {offset} has invalid length {len}")]
    BadMessageLength { offset: usize, len: usize },
    #[error("netlink error or done message of {len} bytes has no error code")]
    ShortControlMessage { len: usize },
    #[error("message of {len} bytes is shorter than the generic netlink header")]
    ShortMessage { len: usize },
    #[error("reply has command {got}, expected {expected}")]
    UnexpectedCommand { got: u8, expected: u8 },
    #[error("attribute header cut off at offset {offset}")]
    Truncated { offset: usize },
    #[error("attribute at offset {offset} has invalid length {len}")]
    BadAttrLength { offset: usize, len: usize },
    #[error("attribute {attr} is missing")]
    Missing { attr: &'static str },
    #[error("attribute {attr} has {len} bytes, expected {expected}")]
    BadLength {
        attr: &'static str,
        len: usize,
        expected: usize,
    },
    #[error("attribute {attr} is not a UTF-8 string")]
    BadString { attr: &'static str },
    #[error("unknown address family {family}")]
    UnknownFamily { family: u16 },
    #[error("unknown protocol {protocol}")]
    UnknownProtocol { protocol: u16 },
    /// Includes "none", the kernel's name for a service without a scheduler.
    #[error("unknown scheduler {name:?}")]
    UnknownScheduler { name: String },
    #[error("unknown forwarding method {method}")]
    UnknownForwarding { method: u32 },
    #[error("unknown tunnel type {kind}")]
    UnknownTunnelType { kind: u8 },
    #[error("unknown tunnel flags {flags:#x}")]
    UnknownTunnelFlags { flags: u16 },
    #[error("unknown sync daemon state {state}")]
    UnknownDaemonState { state: u32 },
    #[error("sync id {id} is above 255")]
    SyncIdOutOfRange { id: u32 },
}

impl DecodeError {
    /// The message is well formed but says something the model has no value for: a
    /// scheduler it does not know ("none", out-of-tree modules), a family, protocol,
    /// forwarding method or tunnel setting of a newer kernel. Such an entry is someone
    /// else's: a dump leaves it out ([`Skipped`]) instead of failing.
    pub fn is_unrepresentable(&self) -> bool {
        matches!(
            self,
            DecodeError::UnknownFamily { .. }
                | DecodeError::UnknownProtocol { .. }
                | DecodeError::UnknownScheduler { .. }
                | DecodeError::UnknownForwarding { .. }
                | DecodeError::UnknownTunnelType { .. }
                | DecodeError::UnknownTunnelFlags { .. }
        )
    }
}

const CMD_N: usize = cmd_attr::MAX + 1;
const SVC_N: usize = svc_attr::MAX + 1;
const DEST_N: usize = dest_attr::MAX + 1;
const STATS_N: usize = stats_attr::MAX + 1;
const DAEMON_N: usize = daemon_attr::MAX + 1;
const INFO_N: usize = info_attr::MAX + 1;

/// Checks the generic netlink header's command and parses the first-level attributes.
fn genl<const N: usize>(msg: &[u8], expected: u8) -> Result<Table<'_, N>, DecodeError> {
    let (&[got, _version, _, _], attrs) = msg
        .split_first_chunk::<GENL_HDRLEN>()
        .ok_or(DecodeError::ShortMessage { len: msg.len() })?;
    if got != expected {
        return Err(DecodeError::UnexpectedCommand { got, expected });
    }
    Table::parse(attrs)
}

fn family(number: u16) -> Result<Family, DecodeError> {
    match number {
        AF_INET => Ok(Family::Inet),
        AF_INET6 => Ok(Family::Inet6),
        family => Err(DecodeError::UnknownFamily { family }),
    }
}

/// `union nf_inet_addr` (16 bytes; an IPv4 address in the first four). A bare 4-byte IPv4
/// address is accepted too.
fn inet_addr(key: Key, family: Family, payload: &[u8]) -> Result<IpAddr, DecodeError> {
    match family {
        Family::Inet => {
            let four = match payload.len() {
                4 | 16 => payload.first_chunk::<4>().copied(),
                _ => None,
            };
            let four = four.ok_or(DecodeError::BadLength {
                attr: key.name,
                len: payload.len(),
                expected: 16,
            })?;
            Ok(IpAddr::V4(Ipv4Addr::from(four)))
        }
        Family::Inet6 => Ok(IpAddr::V6(Ipv6Addr::from(fixed::<16>(key, payload)?))),
    }
}

// === Services ===

fn service_key(t: &Table<'_, SVC_N>) -> Result<ServiceKey, DecodeError> {
    let fam = family(t.u16(svc_attr::AF)?)?;
    Ok(match t.opt(svc_attr::FWMARK, Table::u32)? {
        Some(mark) => ServiceKey::Fwmark { family: fam, mark },
        None => {
            let number = t.u16(svc_attr::PROTOCOL)?;
            let protocol = [Protocol::Tcp, Protocol::Udp, Protocol::Sctp]
                .into_iter()
                .find(|p| p.number() == number)
                .ok_or(DecodeError::UnknownProtocol { protocol: number })?;
            ServiceKey::Addr {
                protocol,
                addr: inet_addr(svc_attr::ADDR, fam, t.require(svc_attr::ADDR)?)?,
                port: t.be16(svc_attr::PORT)?,
            }
        }
    })
}

/// Only the key of a NEW_SERVICE message (to name a service the model cannot hold).
pub fn decode_service_key(msg: &[u8]) -> Result<ServiceKey, DecodeError> {
    let top = genl::<CMD_N>(msg, cmd::NEW_SERVICE)?;
    service_key(&top.nested::<SVC_N>(cmd_attr::SERVICE)?)
}

/// One NEW_SERVICE message (a service dump entry or the GET_SERVICE reply).
pub fn decode_service(msg: &[u8]) -> Result<(Service, Stats), DecodeError> {
    let top = genl::<CMD_N>(msg, cmd::NEW_SERVICE)?;
    let t = top.nested::<SVC_N>(cmd_attr::SERVICE)?;
    let key = service_key(&t)?;
    let fam = key.family();

    let sched = t.string(svc_attr::SCHED_NAME)?;
    let scheduler = Scheduler::from_name(sched).ok_or_else(|| DecodeError::UnknownScheduler {
        name: sched.to_owned(),
    })?;

    // struct ip_vs_flags { flags, mask }; libipvs keeps flags & mask. HASHED is the
    // kernel's bookkeeping, not part of the model.
    let [f0, f1, f2, f3, m0, m1, m2, m3] =
        fixed::<8>(svc_attr::FLAGS, t.require(svc_attr::FLAGS)?)?;
    let flags = u32::from_ne_bytes([f0, f1, f2, f3])
        & u32::from_ne_bytes([m0, m1, m2, m3])
        & !svc_flags::HASHED;

    let mask = fixed::<4>(svc_attr::NETMASK, t.require(svc_attr::NETMASK)?)?;
    let netmask = match fam {
        Family::Inet => u32::from_be_bytes(mask),
        Family::Inet6 => u32::from_ne_bytes(mask),
    };

    let pe_name = t
        .opt(svc_attr::PE_NAME, Table::string)?
        .filter(|pe| !pe.is_empty())
        .map(str::to_owned);

    let service = Service {
        key,
        scheduler,
        flags,
        timeout: t.u32(svc_attr::TIMEOUT)?,
        netmask,
        pe_name,
    };
    let stats = stats(t.get(svc_attr::STATS64), t.get(svc_attr::STATS))?;
    Ok((service, stats))
}

// === Statistics ===

/// STATS64 (every counter u64) when present, else the legacy STATS (u32 counters and
/// rates, u64 byte counters), else zeros.
fn stats(stats64: Option<&[u8]>, stats32: Option<&[u8]>) -> Result<Stats, DecodeError> {
    use stats_attr::*;
    if let Some(nest) = stats64 {
        let t = Table::<STATS_N>::parse(nest)?;
        return Ok(Stats {
            conns: t.u64(CONNS)?,
            inpkts: t.u64(INPKTS)?,
            outpkts: t.u64(OUTPKTS)?,
            inbytes: t.u64(INBYTES)?,
            outbytes: t.u64(OUTBYTES)?,
            cps: t.u64(CPS)?,
            inpps: t.u64(INPPS)?,
            outpps: t.u64(OUTPPS)?,
            inbps: t.u64(INBPS)?,
            outbps: t.u64(OUTBPS)?,
        });
    }
    if let Some(nest) = stats32 {
        let t = Table::<STATS_N>::parse(nest)?;
        let u = |k| t.u32(k).map(u64::from);
        return Ok(Stats {
            conns: u(CONNS)?,
            inpkts: u(INPKTS)?,
            outpkts: u(OUTPKTS)?,
            inbytes: t.u64(INBYTES)?,
            outbytes: t.u64(OUTBYTES)?,
            cps: u(CPS)?,
            inpps: u(INPPS)?,
            outpps: u(OUTPPS)?,
            inbps: u(INBPS)?,
            outbps: u(OUTBPS)?,
        });
    }
    Ok(Stats::default())
}

// === Destinations ===

fn dest_key(t: &Table<'_, DEST_N>, service_family: Family) -> Result<DestKey, DecodeError> {
    let fam = match t.opt(dest_attr::ADDR_FAMILY, Table::u16)? {
        Some(n) => family(n)?,
        None => service_family,
    };
    Ok(DestKey {
        addr: inet_addr(dest_attr::ADDR, fam, t.require(dest_attr::ADDR)?)?,
        port: t.be16(dest_attr::PORT)?,
    })
}

/// Only the key of a NEW_DEST message (to name a destination the model cannot hold).
pub fn decode_dest_key(msg: &[u8], service_family: Family) -> Result<DestKey, DecodeError> {
    let top = genl::<CMD_N>(msg, cmd::NEW_DEST)?;
    dest_key(&top.nested::<DEST_N>(cmd_attr::DEST)?, service_family)
}

/// One NEW_DEST message of a GET_DEST dump. `service_family` is used when the kernel
/// predates `IPVS_DEST_ATTR_ADDR_FAMILY` (Linux < 3.18).
pub fn decode_dest(msg: &[u8], service_family: Family) -> Result<DestState, DecodeError> {
    let top = genl::<CMD_N>(msg, cmd::NEW_DEST)?;
    let t = top.nested::<DEST_N>(cmd_attr::DEST)?;
    let key = dest_key(&t, service_family)?;

    let forwarding = match t.u32(dest_attr::FWD_METHOD)? {
        fwd::MASQ => Forwarding::Nat,
        // The kernel reports LOCALNODE for a real server on this host; it is routed
        // like DR and ipvsadm shows it as "Local".
        fwd::DROUTE | fwd::LOCALNODE => Forwarding::Dr,
        fwd::TUNNEL => tunnel(&t)?,
        method => return Err(DecodeError::UnknownForwarding { method }),
    };

    let dest = Destination {
        key,
        forwarding,
        weight: t.u32(dest_attr::WEIGHT)?,
        upper_threshold: t.u32(dest_attr::U_THRESH)?,
        lower_threshold: t.u32(dest_attr::L_THRESH)?,
    };
    Ok(DestState {
        dest,
        active_conns: t.u32(dest_attr::ACTIVE_CONNS)?,
        inactive_conns: t.u32(dest_attr::INACT_CONNS)?,
        persistent_conns: t.u32(dest_attr::PERSIST_CONNS)?,
        stats: stats(t.get(dest_attr::STATS64), t.get(dest_attr::STATS))?,
    })
}

/// Tunnel type, port and checksum flags; kernels before 5.2 send none of them (IPIP).
fn tunnel(t: &Table<'_, DEST_N>) -> Result<Forwarding, DecodeError> {
    let kind = match t
        .opt(dest_attr::TUN_TYPE, Table::u8)?
        .unwrap_or(tun_type::IPIP)
    {
        tun_type::IPIP => TunnelType::Ipip,
        tun_type::GUE => TunnelType::Gue {
            port: t.opt(dest_attr::TUN_PORT, Table::be16)?.unwrap_or(0),
        },
        tun_type::GRE => TunnelType::Gre,
        kind => return Err(DecodeError::UnknownTunnelType { kind }),
    };
    let csum = match t
        .opt(dest_attr::TUN_FLAGS, Table::u16)?
        .unwrap_or(tun_flags::NOCSUM)
    {
        tun_flags::NOCSUM => TunnelCsum::NoCsum,
        tun_flags::CSUM => TunnelCsum::Csum,
        tun_flags::REMCSUM => TunnelCsum::RemCsum,
        flags => return Err(DecodeError::UnknownTunnelFlags { flags }),
    };
    Ok(Forwarding::Tunnel { kind, csum })
}

// === Dumps ===

/// A dumped service or destination that the model cannot represent, left out of the
/// dump. `service` and `dest` are what could be read of its key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    pub service: Option<ServiceKey>,
    pub dest: Option<DestKey>,
    pub reason: DecodeError,
}

impl std::fmt::Display for Skipped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.service {
            Some(k) => write!(f, "{k}")?,
            None => f.write_str("a service")?,
        }
        if let Some(d) = &self.dest {
            write!(f, " -> {d}")?;
        }
        write!(f, ": {}", self.reason)
    }
}

/// The entries of a dump the model can hold, and those left out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dumped<T> {
    pub entries: Vec<T>,
    pub skipped: Vec<Skipped>,
}

/// The messages of a GET_SERVICE dump. A service the model cannot represent is skipped
/// (and listed); any other problem fails the whole dump.
pub fn decode_services(msgs: &[Vec<u8>]) -> Result<Dumped<(Service, Stats)>, DecodeError> {
    let mut services = Vec::with_capacity(msgs.len());
    let mut skipped = Vec::new();
    for msg in msgs {
        match decode_service(msg) {
            Ok(s) => services.push(s),
            Err(reason) if reason.is_unrepresentable() => skipped.push(Skipped {
                service: decode_service_key(msg).ok(),
                dest: None,
                reason,
            }),
            Err(e) => return Err(e),
        }
    }
    Ok(Dumped {
        entries: services,
        skipped,
    })
}

/// The messages of a GET_DEST dump of `service`, skipping as [`decode_services`] does.
pub fn decode_dests(
    msgs: &[Vec<u8>],
    service: &ServiceKey,
) -> Result<Dumped<DestState>, DecodeError> {
    let family = service.family();
    let mut dests = Vec::with_capacity(msgs.len());
    let mut skipped = Vec::new();
    for msg in msgs {
        match decode_dest(msg, family) {
            Ok(d) => dests.push(d),
            Err(reason) if reason.is_unrepresentable() => skipped.push(Skipped {
                service: Some(*service),
                dest: decode_dest_key(msg, family).ok(),
                reason,
            }),
            Err(e) => return Err(e),
        }
    }
    Ok(Dumped {
        entries: dests,
        skipped,
    })
}

// === Info, timeouts, sync daemons ===

/// The GET_INFO reply (command SET_INFO).
pub fn decode_info(msg: &[u8]) -> Result<Info, DecodeError> {
    let t = genl::<INFO_N>(msg, cmd::SET_INFO)?;
    Ok(Info {
        version: t.u32(info_attr::VERSION)?,
        conn_tab_size: t.u32(info_attr::CONN_TAB_SIZE)?,
    })
}

/// The GET_CONFIG reply (command SET_CONFIG). A timeout the kernel leaves out (its
/// protocol is compiled out) reads as 0.
pub fn decode_timeouts(msg: &[u8]) -> Result<Timeouts, DecodeError> {
    let t = genl::<CMD_N>(msg, cmd::SET_CONFIG)?;
    let get = |k| t.opt(k, Table::u32).map(Option::unwrap_or_default);
    Ok(Timeouts {
        tcp: get(cmd_attr::TIMEOUT_TCP)?,
        tcp_fin: get(cmd_attr::TIMEOUT_TCP_FIN)?,
        udp: get(cmd_attr::TIMEOUT_UDP)?,
    })
}

/// One NEW_DAEMON message of a GET_DAEMON dump.
pub fn decode_daemon(msg: &[u8]) -> Result<SyncDaemon, DecodeError> {
    let top = genl::<CMD_N>(msg, cmd::NEW_DAEMON)?;
    let t = top.nested::<DAEMON_N>(cmd_attr::DAEMON)?;
    let role = match t.u32(daemon_attr::STATE)? {
        state::MASTER => SyncRole::Master,
        state::BACKUP => SyncRole::Backup,
        state => return Err(DecodeError::UnknownDaemonState { state }),
    };
    let id = t.u32(daemon_attr::SYNC_ID)?;
    Ok(SyncDaemon {
        role,
        interface: t.string(daemon_attr::MCAST_IFN)?.to_owned(),
        sync_id: u8::try_from(id).map_err(|_| DecodeError::SyncIdOutOfRange { id })?,
    })
}

// === Generic netlink controller ===

/// The CTRL_CMD_NEWFAMILY reply to CTRL_CMD_GETFAMILY: the family's id.
pub fn decode_family_id(msg: &[u8]) -> Result<u16, DecodeError> {
    let t = genl::<{ ctrl::MAX + 1 }>(msg, ctrl::CMD_NEWFAMILY)?;
    t.u16(ctrl::ATTR_FAMILY_ID)
}
