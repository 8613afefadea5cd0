//! Requests to the kernel as generic netlink payloads: the 4-byte `genlmsghdr` followed by
//! the IPVS attributes. The netlink header (length, family id, flags, sequence, port) is
//! the socket's business; [`Request::exchange`] tells it which flags the request needs.
//!
//! Pure. Attribute order and contents follow ipvsadm's libipvs (`ipvs_nl_fill_service_attr`,
//! `ipvs_nl_fill_dest_attr`) so that captured ipvsadm messages serve as test vectors. Where
//! the kernel needs only the identifying attributes (delete, get, dumping destinations and
//! the service a destination belongs to) only those are sent.

use std::net::IpAddr;

use super::attr::AttrWriter;
use super::consts::{
    AF_INET, AF_INET6, GENL_VERSION, NAME_MAXLEN, cmd, cmd_attr, ctrl, daemon_attr, dest_attr, fwd,
    state, svc_attr, tun_flags, tun_type,
};
use crate::ipvs::backend::{Op, SyncDaemon, SyncRole, Timeouts};
use crate::ipvs::model::{
    DestKey, Destination, Family, Forwarding, Service, ServiceKey, TunnelCsum, TunnelType,
    svc_flags,
};

/// A request the model cannot express on the wire.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// Scheduler, persistence engine and interface names are 1 to 15 bytes without NUL.
    #[error("{what} name {name:?} must be 1 to 15 bytes without NUL")]
    BadName { what: &'static str, name: String },
    /// The kernel treats mark 0 as "no fwmark" and would read the request as an
    /// address service.
    #[error("firewall mark 0 does not identify a service")]
    ZeroFwmark,
    #[error("request does not fit in a netlink attribute")]
    TooLong,
}

/// How the socket exchanges a request with the kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exchange {
    /// A write: ask for an ACK (`NLM_F_ACK`) so that errors come back synchronously.
    Ack,
    /// A single reply message, followed by the requested ACK.
    Reply,
    /// A multipart dump (`NLM_F_DUMP`) ended by `NLMSG_DONE`.
    Dump,
}

/// Everything this client asks of the kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request<'a> {
    Apply(&'a Op),
    GetService(ServiceKey),
    DumpServices,
    DumpDests(ServiceKey),
    GetInfo,
    GetConfig,
    SetConfig(Timeouts),
    NewDaemon(&'a SyncDaemon),
    DelDaemon(SyncRole),
    DumpDaemons,
}

impl Request<'_> {
    /// The `IPVS_CMD_*` in the generic netlink header.
    pub fn command(&self) -> u8 {
        match self {
            Request::Apply(Op::AddService(_)) => cmd::NEW_SERVICE,
            Request::Apply(Op::EditService(_)) => cmd::SET_SERVICE,
            Request::Apply(Op::DelService(_)) => cmd::DEL_SERVICE,
            Request::Apply(Op::AddDest(..)) => cmd::NEW_DEST,
            Request::Apply(Op::EditDest(..)) => cmd::SET_DEST,
            Request::Apply(Op::DelDest(..)) => cmd::DEL_DEST,
            Request::GetService(_) | Request::DumpServices => cmd::GET_SERVICE,
            Request::DumpDests(_) => cmd::GET_DEST,
            Request::GetInfo => cmd::GET_INFO,
            Request::GetConfig => cmd::GET_CONFIG,
            Request::SetConfig(_) => cmd::SET_CONFIG,
            Request::NewDaemon(_) => cmd::NEW_DAEMON,
            Request::DelDaemon(_) => cmd::DEL_DAEMON,
            Request::DumpDaemons => cmd::GET_DAEMON,
        }
    }

    pub fn exchange(&self) -> Exchange {
        match self {
            Request::Apply(_)
            | Request::SetConfig(_)
            | Request::NewDaemon(_)
            | Request::DelDaemon(_) => Exchange::Ack,
            Request::GetService(_) | Request::GetInfo | Request::GetConfig => Exchange::Reply,
            Request::DumpServices | Request::DumpDests(_) | Request::DumpDaemons => Exchange::Dump,
        }
    }

    /// The generic netlink payload: `genlmsghdr` (command, version 1, reserved 0) and the
    /// attributes.
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        let mut w = AttrWriter::with_prefix(&[self.command(), GENL_VERSION, 0, 0]);
        match *self {
            Request::Apply(op) => match op {
                Op::AddService(s) | Op::EditService(s) => service_full(&mut w, s)?,
                Op::DelService(k) => service_key(&mut w, k)?,
                Op::AddDest(k, d) | Op::EditDest(k, d) => {
                    service_key(&mut w, k)?;
                    dest_full(&mut w, d);
                }
                Op::DelDest(k, dk) => {
                    service_key(&mut w, k)?;
                    dest_key(&mut w, dk);
                }
            },
            Request::GetService(k) | Request::DumpDests(k) => service_key(&mut w, &k)?,
            Request::DumpServices | Request::GetInfo | Request::GetConfig => {}
            Request::DumpDaemons => {}
            Request::SetConfig(t) => {
                // 0 leaves a timeout unchanged (ip_vs_set_timeout), as with ipvsadm --set.
                w.u32(cmd_attr::TIMEOUT_TCP, t.tcp);
                w.u32(cmd_attr::TIMEOUT_TCP_FIN, t.tcp_fin);
                w.u32(cmd_attr::TIMEOUT_UDP, t.udp);
            }
            Request::NewDaemon(d) => {
                check_name("interface", &d.interface)?;
                w.nested(cmd_attr::DAEMON, |w| {
                    w.u32(daemon_attr::STATE, role_state(d.role));
                    w.string(daemon_attr::MCAST_IFN, &d.interface);
                    w.u32(daemon_attr::SYNC_ID, u32::from(d.sync_id));
                });
            }
            Request::DelDaemon(role) => {
                // The kernel reads only the state (ip_vs_genl_del_daemon).
                w.nested(cmd_attr::DAEMON, |w| {
                    w.u32(daemon_attr::STATE, role_state(role));
                });
            }
        }
        w.finish().ok_or(EncodeError::TooLong)
    }
}

/// CTRL_CMD_GETFAMILY for the generic netlink family `name`, as libnl's
/// `genl_ctrl_resolve` asks for it (sent to the controller, [`ctrl::FAMILY_ID`]; the
/// answer is read by [`decode_family_id`](super::decode::decode_family_id)).
pub fn get_family(name: &str) -> Result<Vec<u8>, EncodeError> {
    check_name("generic netlink family", name)?;
    let mut w = AttrWriter::with_prefix(&[ctrl::CMD_GETFAMILY, ctrl::VERSION, 0, 0]);
    w.string(ctrl::ATTR_FAMILY_NAME, name);
    w.finish().ok_or(EncodeError::TooLong)
}

pub(crate) fn role_state(role: SyncRole) -> u32 {
    match role {
        SyncRole::Master => state::MASTER,
        SyncRole::Backup => state::BACKUP,
    }
}

fn family_number(f: Family) -> u16 {
    match f {
        Family::Inet => AF_INET,
        Family::Inet6 => AF_INET6,
    }
}

/// `union nf_inet_addr`: 16 bytes for both families, an IPv4 address in the first four.
fn inet_addr(addr: &IpAddr) -> [u8; 16] {
    match addr {
        IpAddr::V4(a) => {
            let mut out = [0u8; 16];
            out[..4].copy_from_slice(&a.octets());
            out
        }
        IpAddr::V6(a) => a.octets(),
    }
}

fn check_name(what: &'static str, name: &str) -> Result<(), EncodeError> {
    if name.is_empty() || name.len() > NAME_MAXLEN || name.contains('\0') {
        return Err(EncodeError::BadName {
            what,
            name: name.to_owned(),
        });
    }
    Ok(())
}

/// The identifying service attributes: AF, then FWMARK or PROTOCOL/ADDR/PORT.
fn key_attrs(w: &mut AttrWriter, key: &ServiceKey) {
    w.u16(svc_attr::AF, family_number(key.family()));
    match key {
        ServiceKey::Fwmark { mark, .. } => w.u32(svc_attr::FWMARK, *mark),
        ServiceKey::Addr {
            protocol,
            addr,
            port,
        } => {
            w.u16(svc_attr::PROTOCOL, protocol.number());
            w.bytes(svc_attr::ADDR, &inet_addr(addr));
            w.be16(svc_attr::PORT, *port);
        }
    }
}

fn check_key(key: &ServiceKey) -> Result<(), EncodeError> {
    match key {
        ServiceKey::Fwmark { mark: 0, .. } => Err(EncodeError::ZeroFwmark),
        _ => Ok(()),
    }
}

fn service_key(w: &mut AttrWriter, key: &ServiceKey) -> Result<(), EncodeError> {
    check_key(key)?;
    w.nested(cmd_attr::SERVICE, |w| key_attrs(w, key));
    Ok(())
}

/// The persistence netmask as the kernel stores it (`__be32 netmask`): an IPv4 mask in
/// network byte order, an IPv6 prefix length as a plain host-order number.
pub(crate) fn netmask_bytes(family: Family, netmask: u32) -> [u8; 4] {
    match family {
        Family::Inet => netmask.to_be_bytes(),
        Family::Inet6 => netmask.to_ne_bytes(),
    }
}

fn service_full(w: &mut AttrWriter, s: &Service) -> Result<(), EncodeError> {
    check_key(&s.key)?;
    if let Some(pe) = &s.pe_name {
        check_name("persistence engine", pe)?;
    }
    // struct ip_vs_flags { flags, mask }: the mask of all ones replaces every flag, as
    // ipvsadm does; the kernel adds HASHED itself.
    let flags = s.flags & !svc_flags::HASHED;
    let mut ip_vs_flags = [0u8; 8];
    ip_vs_flags[..4].copy_from_slice(&flags.to_ne_bytes());
    ip_vs_flags[4..].copy_from_slice(&u32::MAX.to_ne_bytes());
    w.nested(cmd_attr::SERVICE, |w| {
        key_attrs(w, &s.key);
        w.string(svc_attr::SCHED_NAME, s.scheduler.name());
        if let Some(pe) = &s.pe_name {
            w.string(svc_attr::PE_NAME, pe);
        }
        w.bytes(svc_attr::FLAGS, &ip_vs_flags);
        w.u32(svc_attr::TIMEOUT, s.timeout);
        w.bytes(svc_attr::NETMASK, &netmask_bytes(s.key.family(), s.netmask));
    });
    Ok(())
}

fn dest_key_attrs(w: &mut AttrWriter, key: &DestKey) {
    w.u16(dest_attr::ADDR_FAMILY, family_number(Family::of(&key.addr)));
    w.bytes(dest_attr::ADDR, &inet_addr(&key.addr));
    w.be16(dest_attr::PORT, key.port);
}

fn dest_key(w: &mut AttrWriter, key: &DestKey) {
    w.nested(cmd_attr::DEST, |w| dest_key_attrs(w, key));
}

/// FWD_METHOD, TUN_TYPE, TUN_PORT, TUN_FLAGS of a forwarding method. Non-tunnel
/// destinations carry zeros, as ipvsadm sends them.
pub(crate) fn forwarding_attrs(f: &Forwarding) -> (u32, u8, u16, u16) {
    match *f {
        Forwarding::Nat => (fwd::MASQ, tun_type::IPIP, 0, tun_flags::NOCSUM),
        Forwarding::Dr => (fwd::DROUTE, tun_type::IPIP, 0, tun_flags::NOCSUM),
        Forwarding::Tunnel { kind, csum } => {
            let (ty, port) = match kind {
                TunnelType::Ipip => (tun_type::IPIP, 0),
                TunnelType::Gue { port } => (tun_type::GUE, port),
                TunnelType::Gre => (tun_type::GRE, 0),
            };
            let flags = match csum {
                TunnelCsum::NoCsum => tun_flags::NOCSUM,
                TunnelCsum::Csum => tun_flags::CSUM,
                TunnelCsum::RemCsum => tun_flags::REMCSUM,
            };
            (fwd::TUNNEL, ty, port, flags)
        }
    }
}

fn dest_full(w: &mut AttrWriter, d: &Destination) {
    let (method, ty, port, flags) = forwarding_attrs(&d.forwarding);
    w.nested(cmd_attr::DEST, |w| {
        dest_key_attrs(w, &d.key);
        w.u32(dest_attr::FWD_METHOD, method);
        w.u32(dest_attr::WEIGHT, d.weight);
        w.u8(dest_attr::TUN_TYPE, ty);
        w.be16(dest_attr::TUN_PORT, port);
        w.u16(dest_attr::TUN_FLAGS, flags);
        w.u32(dest_attr::U_THRESH, d.upper_threshold);
        w.u32(dest_attr::L_THRESH, d.lower_threshold);
    });
}
