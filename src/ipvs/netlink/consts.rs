//! Numbers from the kernel's `include/uapi/linux/ip_vs.h` (generic netlink part), the
//! netlink framing and the generic netlink controller.
//!
//! Pure data. Each attribute is a [`Key`]: its type number plus the uapi name, so that a
//! decode error can say which attribute was wrong.

/// Generic netlink family name and version (`IPVS_GENL_NAME`, `IPVS_GENL_VERSION`).
pub const GENL_NAME: &str = "IPVS";
pub const GENL_VERSION: u8 = 1;

/// Size of `struct genlmsghdr` (cmd u8, version u8, reserved u16); IPVS has no user header.
pub const GENL_HDRLEN: usize = 4;

/// `AF_INET` / `AF_INET6` as the kernel sends them in `*_ATTR_AF`.
pub const AF_INET: u16 = 2;
pub const AF_INET6: u16 = 10;

/// `NLA_F_NESTED`: set by libnl (and so by ipvsadm) on nested attributes; the kernel
/// accepts it with or without. `NLA_TYPE_MASK` strips it and `NLA_F_NET_BYTEORDER`.
pub const NLA_F_NESTED: u16 = 0x8000;
pub const NLA_TYPE_MASK: u16 = 0x3fff;

/// Netlink message framing (`include/uapi/linux/netlink.h`).
pub mod nlmsg {
    /// Size of `struct nlmsghdr` (len u32, type u16, flags u16, seq u32, port id u32).
    pub const HDRLEN: usize = 16;
    /// Control message types; generic netlink families have ids from 0x10 on.
    pub const NOOP: u16 = 1;
    pub const ERROR: u16 = 2;
    pub const DONE: u16 = 3;
    pub const OVERRUN: u16 = 4;
    /// `NLM_F_*` request flags.
    pub const F_REQUEST: u16 = 0x1;
    pub const F_MULTI: u16 = 0x2;
    pub const F_ACK: u16 = 0x4;
    /// `NLM_F_ROOT | NLM_F_MATCH`.
    pub const F_DUMP: u16 = 0x300;
}

/// The generic netlink controller (`include/uapi/linux/genetlink.h`), which maps family
/// names to ids.
pub mod ctrl {
    use super::{Key, key};
    /// `GENL_ID_CTRL`: the controller's fixed family id.
    pub const FAMILY_ID: u16 = 0x10;
    pub const CMD_NEWFAMILY: u8 = 1;
    pub const CMD_GETFAMILY: u8 = 3;
    /// The version libnl's `genl_ctrl_resolve` sends (the controller ignores it).
    pub const VERSION: u8 = 1;
    pub const MAX: usize = 2;
    pub const ATTR_FAMILY_ID: Key = key(1, "CTRL_ATTR_FAMILY_ID");
    pub const ATTR_FAMILY_NAME: Key = key(2, "CTRL_ATTR_FAMILY_NAME");
}

/// Generic netlink commands (`IPVS_CMD_*`).
pub mod cmd {
    pub const NEW_SERVICE: u8 = 1;
    pub const SET_SERVICE: u8 = 2;
    pub const DEL_SERVICE: u8 = 3;
    pub const GET_SERVICE: u8 = 4;
    pub const NEW_DEST: u8 = 5;
    pub const SET_DEST: u8 = 6;
    pub const DEL_DEST: u8 = 7;
    pub const GET_DEST: u8 = 8;
    pub const NEW_DAEMON: u8 = 9;
    pub const DEL_DAEMON: u8 = 10;
    pub const GET_DAEMON: u8 = 11;
    pub const SET_CONFIG: u8 = 12;
    pub const GET_CONFIG: u8 = 13;
    /// Only used as the command of the GET_INFO reply.
    pub const SET_INFO: u8 = 14;
    pub const GET_INFO: u8 = 15;
}

/// One attribute: its type number inside its nest, and its uapi name for error messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Key {
    pub ty: u16,
    pub name: &'static str,
}

const fn key(ty: u16, name: &'static str) -> Key {
    Key { ty, name }
}

/// First-level attributes (`IPVS_CMD_ATTR_*`).
pub mod cmd_attr {
    use super::{Key, key};
    pub const MAX: usize = 6;
    pub const SERVICE: Key = key(1, "IPVS_CMD_ATTR_SERVICE");
    pub const DEST: Key = key(2, "IPVS_CMD_ATTR_DEST");
    pub const DAEMON: Key = key(3, "IPVS_CMD_ATTR_DAEMON");
    pub const TIMEOUT_TCP: Key = key(4, "IPVS_CMD_ATTR_TIMEOUT_TCP");
    pub const TIMEOUT_TCP_FIN: Key = key(5, "IPVS_CMD_ATTR_TIMEOUT_TCP_FIN");
    pub const TIMEOUT_UDP: Key = key(6, "IPVS_CMD_ATTR_TIMEOUT_UDP");
}

/// Service attributes, nested in `IPVS_CMD_ATTR_SERVICE` (`IPVS_SVC_ATTR_*`).
pub mod svc_attr {
    use super::{Key, key};
    pub const MAX: usize = 12;
    pub const AF: Key = key(1, "IPVS_SVC_ATTR_AF");
    pub const PROTOCOL: Key = key(2, "IPVS_SVC_ATTR_PROTOCOL");
    pub const ADDR: Key = key(3, "IPVS_SVC_ATTR_ADDR");
    pub const PORT: Key = key(4, "IPVS_SVC_ATTR_PORT");
    pub const FWMARK: Key = key(5, "IPVS_SVC_ATTR_FWMARK");
    pub const SCHED_NAME: Key = key(6, "IPVS_SVC_ATTR_SCHED_NAME");
    pub const FLAGS: Key = key(7, "IPVS_SVC_ATTR_FLAGS");
    pub const TIMEOUT: Key = key(8, "IPVS_SVC_ATTR_TIMEOUT");
    pub const NETMASK: Key = key(9, "IPVS_SVC_ATTR_NETMASK");
    pub const STATS: Key = key(10, "IPVS_SVC_ATTR_STATS");
    pub const PE_NAME: Key = key(11, "IPVS_SVC_ATTR_PE_NAME");
    pub const STATS64: Key = key(12, "IPVS_SVC_ATTR_STATS64");
}

/// Destination attributes, nested in `IPVS_CMD_ATTR_DEST` (`IPVS_DEST_ATTR_*`).
pub mod dest_attr {
    use super::{Key, key};
    pub const MAX: usize = 15;
    pub const ADDR: Key = key(1, "IPVS_DEST_ATTR_ADDR");
    pub const PORT: Key = key(2, "IPVS_DEST_ATTR_PORT");
    pub const FWD_METHOD: Key = key(3, "IPVS_DEST_ATTR_FWD_METHOD");
    pub const WEIGHT: Key = key(4, "IPVS_DEST_ATTR_WEIGHT");
    pub const U_THRESH: Key = key(5, "IPVS_DEST_ATTR_U_THRESH");
    pub const L_THRESH: Key = key(6, "IPVS_DEST_ATTR_L_THRESH");
    pub const ACTIVE_CONNS: Key = key(7, "IPVS_DEST_ATTR_ACTIVE_CONNS");
    pub const INACT_CONNS: Key = key(8, "IPVS_DEST_ATTR_INACT_CONNS");
    pub const PERSIST_CONNS: Key = key(9, "IPVS_DEST_ATTR_PERSIST_CONNS");
    pub const STATS: Key = key(10, "IPVS_DEST_ATTR_STATS");
    pub const ADDR_FAMILY: Key = key(11, "IPVS_DEST_ATTR_ADDR_FAMILY");
    pub const STATS64: Key = key(12, "IPVS_DEST_ATTR_STATS64");
    pub const TUN_TYPE: Key = key(13, "IPVS_DEST_ATTR_TUN_TYPE");
    pub const TUN_PORT: Key = key(14, "IPVS_DEST_ATTR_TUN_PORT");
    pub const TUN_FLAGS: Key = key(15, "IPVS_DEST_ATTR_TUN_FLAGS");
}

/// Sync daemon attributes, nested in `IPVS_CMD_ATTR_DAEMON` (`IPVS_DAEMON_ATTR_*`).
pub mod daemon_attr {
    use super::{Key, key};
    pub const MAX: usize = 8;
    pub const STATE: Key = key(1, "IPVS_DAEMON_ATTR_STATE");
    pub const MCAST_IFN: Key = key(2, "IPVS_DAEMON_ATTR_MCAST_IFN");
    pub const SYNC_ID: Key = key(3, "IPVS_DAEMON_ATTR_SYNC_ID");
}

/// Statistics attributes, nested in `*_ATTR_STATS` and `*_ATTR_STATS64`.
pub mod stats_attr {
    use super::{Key, key};
    pub const MAX: usize = 11;
    pub const CONNS: Key = key(1, "IPVS_STATS_ATTR_CONNS");
    pub const INPKTS: Key = key(2, "IPVS_STATS_ATTR_INPKTS");
    pub const OUTPKTS: Key = key(3, "IPVS_STATS_ATTR_OUTPKTS");
    pub const INBYTES: Key = key(4, "IPVS_STATS_ATTR_INBYTES");
    pub const OUTBYTES: Key = key(5, "IPVS_STATS_ATTR_OUTBYTES");
    pub const CPS: Key = key(6, "IPVS_STATS_ATTR_CPS");
    pub const INPPS: Key = key(7, "IPVS_STATS_ATTR_INPPS");
    pub const OUTPPS: Key = key(8, "IPVS_STATS_ATTR_OUTPPS");
    pub const INBPS: Key = key(9, "IPVS_STATS_ATTR_INBPS");
    pub const OUTBPS: Key = key(10, "IPVS_STATS_ATTR_OUTBPS");
}

/// Top-level attributes of the GET_INFO reply (`IPVS_INFO_ATTR_*`).
pub mod info_attr {
    use super::{Key, key};
    pub const MAX: usize = 2;
    pub const VERSION: Key = key(1, "IPVS_INFO_ATTR_VERSION");
    pub const CONN_TAB_SIZE: Key = key(2, "IPVS_INFO_ATTR_CONN_TAB_SIZE");
}

/// Forwarding methods (`IP_VS_CONN_F_*` & `IP_VS_CONN_F_FWD_MASK`).
pub mod fwd {
    pub const MASQ: u32 = 0;
    pub const LOCALNODE: u32 = 1;
    pub const TUNNEL: u32 = 2;
    pub const DROUTE: u32 = 3;
}

/// Tunnel types (`IP_VS_CONN_F_TUNNEL_TYPE_*`).
pub mod tun_type {
    pub const IPIP: u8 = 0;
    pub const GUE: u8 = 1;
    pub const GRE: u8 = 2;
}

/// Tunnel encapsulation flags (`IP_VS_TUNNEL_ENCAP_FLAG_*`).
pub mod tun_flags {
    pub const NOCSUM: u16 = 0;
    pub const CSUM: u16 = 1;
    pub const REMCSUM: u16 = 2;
}

/// Sync daemon states (`IP_VS_STATE_*`).
pub mod state {
    pub const MASTER: u32 = 1;
    pub const BACKUP: u32 = 2;
}

/// Longest scheduler, persistence engine or interface name, without the NUL
/// (`IP_VS_SCHEDNAME_MAXLEN` etc. are 16 including it).
pub const NAME_MAXLEN: usize = 15;

/// A key named "test", for unit tests of the attribute layer.
#[cfg(test)]
pub(crate) const fn key_for_tests(ty: u16) -> Key {
    key(ty, "test")
}
