//! Generic netlink payloads (the 4-byte `genlmsghdr` and the IPVS attributes, without the
//! 16-byte `nlmsghdr`) that ipvsadm sent to, and received from, a real kernel.
//!
//! Provenance: ipvsadm 1:1.31-1+b1 with libnl 3.7.0 (Debian 12), run under
//! `strace -f -xx -s 65535 -e trace=sendmsg,recvmsg` inside the test VM booting Debian's
//! linux-image 6.1.0-56-amd64 (x86-64, so host byte order is little-endian):
//! `IPVSD_VM_EXTRA=strace IPVSD_VM_CACHE=$PWD/target/vm-strace bash tests/vm/run.sh
//! tests/vm/netlink.sh --capture` prints every message below. The family id (0x20 there),
//! sequence numbers and port ids are the socket's and are not part of these payloads.
//! The TRAFFIC_* replies come from the same capture taken after four TCP connections
//! through a NAT service to two local real servers (192.0.2.1:8080 and 127.0.0.1:8081).
//!
//! At the end: whole datagrams, `nlmsghdr` included, of the same exchanges.
//!
//! Each string is split per attribute (`nla_len` u16, `nla_type` u16, payload padded to 4
//! bytes); the comments decode them by hand from include/uapi/linux/ip_vs.h.

/// Sent by `ipvsadm -A -t 192.0.2.1:80 -s rr`,
/// netlink flags NLM_F_REQUEST|NLM_F_ACK.
pub const ADD_SERVICE_TCP4: &str = concat!(
    "01010000",                                 // genlmsghdr: cmd 1 NEW_SERVICE, version 1
    "54000180",                                 // SERVICE: nested, 84 bytes (NLA_F_NESTED)
    "0600010002000000",                         //   AF = 2 (AF_INET) (u16)
    "0600020006000000",                         //   PROTOCOL = 6 (tcp) (u16)
    "14000300c0000201000000000000000000000000", //   ADDR = 192.0.2.1 (in 16 bytes)
    "0600040000500000",                         //   PORT = 80 (big-endian)
    "0700060072720000",                         //   SCHED_NAME = 'rr' NUL-terminated
    "0c00070000000000ffffffff",                 //   FLAGS = {flags 0x0, mask 0xffffffff}
    "0800080000000000",                         //   TIMEOUT = 0 (u32)
    "08000900ffffffff",                         //   NETMASK = 255.255.255.255 (mask, big-endian)
);

/// Sent by `ipvsadm -A -u [2001:db8::1]:53 -s wlc -p 300 -M 64`,
/// netlink flags NLM_F_REQUEST|NLM_F_ACK.
pub const ADD_SERVICE_UDP6_PERSISTENT: &str = concat!(
    "01010000",                                 // genlmsghdr: cmd 1 NEW_SERVICE, version 1
    "54000180",                                 // SERVICE: nested, 84 bytes (NLA_F_NESTED)
    "060001000a000000",                         //   AF = 10 (AF_INET6) (u16)
    "0600020011000000",                         //   PROTOCOL = 17 (udp) (u16)
    "1400030020010db8000000000000000000000001", //   ADDR = 2001:db8::1
    "0600040000350000",                         //   PORT = 53 (big-endian)
    "08000600776c6300",                         //   SCHED_NAME = 'wlc' NUL-terminated
    "0c00070001000000ffffffff",                 //   FLAGS = {flags 0x1, mask 0xffffffff}
    "080008002c010000",                         //   TIMEOUT = 300 (u32)
    "0800090040000000",                         //   NETMASK = 64 (prefix length, u32)
);

/// Sent by `ipvsadm -A -f 7 -s sh -b sh-port -p 60 -M 255.255.255.0 -o`,
/// netlink flags NLM_F_REQUEST|NLM_F_ACK.
pub const ADD_SERVICE_FWMARK: &str = concat!(
    "01010000",                 // genlmsghdr: cmd 1 NEW_SERVICE, version 1
    "38000180",                 // SERVICE: nested, 56 bytes (NLA_F_NESTED)
    "0600010002000000",         //   AF = 2 (AF_INET) (u16)
    "0800050007000000",         //   FWMARK = 7 (u32)
    "0700060073680000",         //   SCHED_NAME = 'sh' NUL-terminated
    "0c00070015000000ffffffff", //   FLAGS = {flags 0x15, mask 0xffffffff}
    "080008003c000000",         //   TIMEOUT = 60 (u32)
    "08000900ffffff00",         //   NETMASK = 255.255.255.0 (mask, big-endian)
);

/// Sent by `ipvsadm -E -t 192.0.2.1:80 -s wlc`,
/// netlink flags NLM_F_REQUEST|NLM_F_ACK.
pub const EDIT_SERVICE_TCP4: &str = concat!(
    "02010000",                                 // genlmsghdr: cmd 2 SET_SERVICE, version 1
    "54000180",                                 // SERVICE: nested, 84 bytes (NLA_F_NESTED)
    "0600010002000000",                         //   AF = 2 (AF_INET) (u16)
    "0600020006000000",                         //   PROTOCOL = 6 (tcp) (u16)
    "14000300c0000201000000000000000000000000", //   ADDR = 192.0.2.1 (in 16 bytes)
    "0600040000500000",                         //   PORT = 80 (big-endian)
    "08000600776c6300",                         //   SCHED_NAME = 'wlc' NUL-terminated
    "0c00070000000000ffffffff",                 //   FLAGS = {flags 0x0, mask 0xffffffff}
    "0800080000000000",                         //   TIMEOUT = 0 (u32)
    "08000900ffffffff",                         //   NETMASK = 255.255.255.255 (mask, big-endian)
);

/// Sent by `ipvsadm -a -t 192.0.2.1:80 -r 198.51.100.1:8080 -m -w 5`,
/// netlink flags NLM_F_REQUEST|NLM_F_ACK.
pub const ADD_DEST_NAT: &str = concat!(
    "05010000",                                 // genlmsghdr: cmd 5 NEW_DEST, version 1
    "54000180",                                 // SERVICE: nested, 84 bytes (NLA_F_NESTED)
    "0600010002000000",                         //   AF = 2 (AF_INET) (u16)
    "0600020006000000",                         //   PROTOCOL = 6 (tcp) (u16)
    "14000300c0000201000000000000000000000000", //   ADDR = 192.0.2.1 (in 16 bytes)
    "0600040000500000",                         //   PORT = 80 (big-endian)
    "0500060000000000",                         //   SCHED_NAME = '' NUL-terminated
    "0c00070000000000ffffffff",                 //   FLAGS = {flags 0x0, mask 0xffffffff}
    "0800080000000000",                         //   TIMEOUT = 0 (u32)
    "08000900ffffffff",                         //   NETMASK = 255.255.255.255 (mask, big-endian)
    "60000280",                                 // DEST: nested, 96 bytes (NLA_F_NESTED)
    "06000b0002000000",                         //   ADDR_FAMILY = 2 (AF_INET) (u16)
    "14000100c6336401000000000000000000000000", //   ADDR = 198.51.100.1 (in 16 bytes)
    "060002001f900000",                         //   PORT = 8080 (big-endian)
    "0800030000000000",                         //   FWD_METHOD = 0 (u32)
    "0800040005000000",                         //   WEIGHT = 5 (u32)
    "05000d0000000000",                         //   TUN_TYPE = 0 (u8)
    "06000e0000000000",                         //   TUN_PORT = 0 (big-endian)
    "06000f0000000000",                         //   TUN_FLAGS = 0 (u16)
    "0800050000000000",                         //   U_THRESH = 0 (u32)
    "0800060000000000",                         //   L_THRESH = 0 (u32)
);

/// Sent by `ipvsadm -a -u [2001:db8::1]:53 -r [2001:db8::10]:53 -i --tun-type gue --tun-port 6080 --tun-csum -w 2 -x 100 -y 50`,
/// netlink flags NLM_F_REQUEST|NLM_F_ACK.
pub const ADD_DEST_GUE6: &str = concat!(
    "05010000",                                 // genlmsghdr: cmd 5 NEW_DEST, version 1
    "54000180",                                 // SERVICE: nested, 84 bytes (NLA_F_NESTED)
    "060001000a000000",                         //   AF = 10 (AF_INET6) (u16)
    "0600020011000000",                         //   PROTOCOL = 17 (udp) (u16)
    "1400030020010db8000000000000000000000001", //   ADDR = 2001:db8::1
    "0600040000350000",                         //   PORT = 53 (big-endian)
    "0500060000000000",                         //   SCHED_NAME = '' NUL-terminated
    "0c00070000000000ffffffff",                 //   FLAGS = {flags 0x0, mask 0xffffffff}
    "0800080000000000",                         //   TIMEOUT = 0 (u32)
    "0800090080000000",                         //   NETMASK = 128 (prefix length, u32)
    "60000280",                                 // DEST: nested, 96 bytes (NLA_F_NESTED)
    "06000b000a000000",                         //   ADDR_FAMILY = 10 (AF_INET6) (u16)
    "1400010020010db8000000000000000000000010", //   ADDR = 2001:db8::10
    "0600020000350000",                         //   PORT = 53 (big-endian)
    "0800030002000000",                         //   FWD_METHOD = 2 (u32)
    "0800040002000000",                         //   WEIGHT = 2 (u32)
    "05000d0001000000",                         //   TUN_TYPE = 1 (u8)
    "06000e0017c00000",                         //   TUN_PORT = 6080 (big-endian)
    "06000f0001000000",                         //   TUN_FLAGS = 1 (u16)
    "0800050064000000",                         //   U_THRESH = 100 (u32)
    "0800060032000000",                         //   L_THRESH = 50 (u32)
);

/// Sent by `ipvsadm -e -t 192.0.2.1:80 -r 198.51.100.1:8080 -g -w 9`,
/// netlink flags NLM_F_REQUEST|NLM_F_ACK.
pub const EDIT_DEST_DR: &str = concat!(
    "06010000",                                 // genlmsghdr: cmd 6 SET_DEST, version 1
    "54000180",                                 // SERVICE: nested, 84 bytes (NLA_F_NESTED)
    "0600010002000000",                         //   AF = 2 (AF_INET) (u16)
    "0600020006000000",                         //   PROTOCOL = 6 (tcp) (u16)
    "14000300c0000201000000000000000000000000", //   ADDR = 192.0.2.1 (in 16 bytes)
    "0600040000500000",                         //   PORT = 80 (big-endian)
    "0500060000000000",                         //   SCHED_NAME = '' NUL-terminated
    "0c00070000000000ffffffff",                 //   FLAGS = {flags 0x0, mask 0xffffffff}
    "0800080000000000",                         //   TIMEOUT = 0 (u32)
    "08000900ffffffff",                         //   NETMASK = 255.255.255.255 (mask, big-endian)
    "60000280",                                 // DEST: nested, 96 bytes (NLA_F_NESTED)
    "06000b0002000000",                         //   ADDR_FAMILY = 2 (AF_INET) (u16)
    "14000100c6336401000000000000000000000000", //   ADDR = 198.51.100.1 (in 16 bytes)
    "0600020000500000",                         //   PORT = 80 (big-endian)
    "0800030003000000",                         //   FWD_METHOD = 3 (u32)
    "0800040009000000",                         //   WEIGHT = 9 (u32)
    "05000d0000000000",                         //   TUN_TYPE = 0 (u8)
    "06000e0000000000",                         //   TUN_PORT = 0 (big-endian)
    "06000f0000000000",                         //   TUN_FLAGS = 0 (u16)
    "0800050000000000",                         //   U_THRESH = 0 (u32)
    "0800060000000000",                         //   L_THRESH = 0 (u32)
);

/// Sent by `ipvsadm -L -n`,
/// netlink flags NLM_F_REQUEST|NLM_F_ACK|0x300.
pub const DUMP_SERVICES: &str = "04010000"; // genlmsghdr: cmd 4 GET_SERVICE, version 1

/// Sent by `ipvsadm -L -n`,
/// netlink flags NLM_F_REQUEST|NLM_F_ACK|0x300.
pub const DUMP_DESTS_TCP4: &str = concat!(
    "08010000",                                 // genlmsghdr: cmd 8 GET_DEST, version 1
    "30000180",                                 // SERVICE: nested, 48 bytes (NLA_F_NESTED)
    "0600010002000000",                         //   AF = 2 (AF_INET) (u16)
    "0600020006000000",                         //   PROTOCOL = 6 (tcp) (u16)
    "14000300c0000201000000000000000000000000", //   ADDR = 192.0.2.1 (in 16 bytes)
    "0600040000500000",                         //   PORT = 80 (big-endian)
);

/// Sent by `ipvsadm -L -n`,
/// netlink flags NLM_F_REQUEST|NLM_F_ACK|0x300.
pub const DUMP_DESTS_UDP6: &str = concat!(
    "08010000",                                 // genlmsghdr: cmd 8 GET_DEST, version 1
    "30000180",                                 // SERVICE: nested, 48 bytes (NLA_F_NESTED)
    "060001000a000000",                         //   AF = 10 (AF_INET6) (u16)
    "0600020011000000",                         //   PROTOCOL = 17 (udp) (u16)
    "1400030020010db8000000000000000000000001", //   ADDR = 2001:db8::1
    "0600040000350000",                         //   PORT = 53 (big-endian)
);

/// Sent by `ipvsadm -L -n`,
/// netlink flags NLM_F_REQUEST|NLM_F_ACK|0x300.
pub const DUMP_DESTS_FWMARK: &str = concat!(
    "08010000",         // genlmsghdr: cmd 8 GET_DEST, version 1
    "14000180",         // SERVICE: nested, 20 bytes (NLA_F_NESTED)
    "0600010002000000", //   AF = 2 (AF_INET) (u16)
    "0800050007000000", //   FWMARK = 7 (u32)
);

/// Sent by `ipvsadm -L -n`,
/// netlink flags NLM_F_REQUEST|NLM_F_ACK.
pub const GET_INFO: &str = "0f010000"; // genlmsghdr: cmd 15 GET_INFO, version 1

/// Sent by `ipvsadm -L --timeout`,
/// netlink flags NLM_F_REQUEST|NLM_F_ACK.
pub const GET_CONFIG: &str = "0d010000"; // genlmsghdr: cmd 13 GET_CONFIG, version 1

/// Sent by `ipvsadm --set 1000 60 200`,
/// netlink flags NLM_F_REQUEST|NLM_F_ACK.
pub const SET_CONFIG: &str = concat!(
    "0c010000",         // genlmsghdr: cmd 12 SET_CONFIG, version 1
    "08000400e8030000", // TIMEOUT_TCP = 1000 (u32)
    "080005003c000000", // TIMEOUT_TCP_FIN = 60 (u32)
    "08000600c8000000", // TIMEOUT_UDP = 200 (u32)
);

/// Sent by `ipvsadm --start-daemon master --mcast-interface sync0 --syncid 5`,
/// netlink flags NLM_F_REQUEST|NLM_F_ACK.
pub const NEW_DAEMON: &str = concat!(
    "09010000",                 // genlmsghdr: cmd 9 NEW_DAEMON, version 1
    "20000380",                 // DAEMON: nested, 32 bytes (NLA_F_NESTED)
    "0800010001000000",         //   STATE = 1 (u32)
    "0a00020073796e6330000000", //   MCAST_IFN = 'sync0' NUL-terminated
    "0800030005000000",         //   SYNC_ID = 5 (u32)
);

/// Sent by `ipvsadm -L --daemon`,
/// netlink flags NLM_F_REQUEST|NLM_F_ACK|0x300.
pub const DUMP_DAEMONS: &str = "0b010000"; // genlmsghdr: cmd 11 GET_DAEMON, version 1

/// Received by `ipvsadm -L -n`,
/// netlink flags 0.
pub const INFO_REPLY: &str = concat!(
    "0e010000",         // genlmsghdr: cmd 14 SET_INFO, version 1
    "0800010001020100", // VERSION = 0x10201
    "0800020000100000", // CONN_TAB_SIZE = 4096 (u32)
);

/// Received by `ipvsadm -L --timeout`,
/// netlink flags 0.
pub const CONFIG_REPLY: &str = concat!(
    "0c010000",         // genlmsghdr: cmd 12 SET_CONFIG, version 1
    "0800040084030000", // TIMEOUT_TCP = 900 (u32)
    "0800050078000000", // TIMEOUT_TCP_FIN = 120 (u32)
    "080006002c010000", // TIMEOUT_UDP = 300 (u32)
);

/// Received by `ipvsadm -L --daemon`,
/// netlink flags NLM_F_MULTI.
pub const DAEMON_REPLY: &str = concat!(
    "09010000",                 // genlmsghdr: cmd 9 NEW_DAEMON, version 1
    "40000300",                 // DAEMON: nested, 64 bytes
    "0800010001000000",         //   STATE = 1 (u32)
    "0a00020073796e6330000000", //   MCAST_IFN = 'sync0' NUL-terminated
    "0800030005000000",         //   SYNC_ID = 5 (u32)
    "06000400c0050000",         //   SYNC_MAXLEN = 1472 (u16)
    "0600070090220000",         //   MCAST_PORT = 8848 (u16)
    "0500080001000000",         //   MCAST_TTL = 1 (u8)
    "08000500e0000051",         //   MCAST_GROUP = 224.0.0.81
);

/// Received by `ipvsadm -L -n`,
/// netlink flags NLM_F_MULTI.
pub const SERVICE_TCP4_REPLY: &str = concat!(
    "01010000",                                 // genlmsghdr: cmd 1 NEW_SERVICE, version 1
    "2c010100",                                 // SERVICE: nested, 300 bytes
    "0600010002000000",                         //   AF = 2 (AF_INET) (u16)
    "0600020006000000",                         //   PROTOCOL = 6 (tcp) (u16)
    "14000300c0000201000000000000000000000000", //   ADDR = 192.0.2.1 (in 16 bytes)
    "0600040000500000",                         //   PORT = 80 (big-endian)
    "08000600776c6300",                         //   SCHED_NAME = 'wlc' NUL-terminated
    "0c00070002000000ffffffff",                 //   FLAGS = {flags 0x2, mask 0xffffffff}
    "0800080000000000",                         //   TIMEOUT = 0 (u32)
    "08000900ffffffff",                         //   NETMASK = 255.255.255.255 (mask, big-endian)
    "5c000a00", //   STATS: nested, 92 bytes, every counter 0 (u32 counts and rates, u64 bytes)
    "0800010000000000",
    "0800020000000000",
    "0800030000000000",
    "0c0004000000000000000000",
    "0c0005000000000000000000",
    "0800060000000000",
    "0800070000000000",
    "0800080000000000",
    "0800090000000000",
    "08000a0000000000",
    "7c000c00", //   STATS64: nested, 124 bytes, every counter 0 (u64)
    "0c0001000000000000000000",
    "0c0002000000000000000000",
    "0c0003000000000000000000",
    "0c0004000000000000000000",
    "0c0005000000000000000000",
    "0c0006000000000000000000",
    "0c0007000000000000000000",
    "0c0008000000000000000000",
    "0c0009000000000000000000",
    "0c000a000000000000000000",
);

/// Received by `ipvsadm -L -n`,
/// netlink flags NLM_F_MULTI.
pub const SERVICE_UDP6_REPLY: &str = concat!(
    "01010000",                                 // genlmsghdr: cmd 1 NEW_SERVICE, version 1
    "2c010100",                                 // SERVICE: nested, 300 bytes
    "060001000a000000",                         //   AF = 10 (AF_INET6) (u16)
    "0600020011000000",                         //   PROTOCOL = 17 (udp) (u16)
    "1400030020010db8000000000000000000000001", //   ADDR = 2001:db8::1
    "0600040000350000",                         //   PORT = 53 (big-endian)
    "08000600776c6300",                         //   SCHED_NAME = 'wlc' NUL-terminated
    "0c00070003000000ffffffff",                 //   FLAGS = {flags 0x3, mask 0xffffffff}
    "080008002c010000",                         //   TIMEOUT = 300 (u32)
    "0800090040000000",                         //   NETMASK = 64 (prefix length, u32)
    "5c000a00", //   STATS: nested, 92 bytes, every counter 0 (u32 counts and rates, u64 bytes)
    "0800010000000000",
    "0800020000000000",
    "0800030000000000",
    "0c0004000000000000000000",
    "0c0005000000000000000000",
    "0800060000000000",
    "0800070000000000",
    "0800080000000000",
    "0800090000000000",
    "08000a0000000000",
    "7c000c00", //   STATS64: nested, 124 bytes, every counter 0 (u64)
    "0c0001000000000000000000",
    "0c0002000000000000000000",
    "0c0003000000000000000000",
    "0c0004000000000000000000",
    "0c0005000000000000000000",
    "0c0006000000000000000000",
    "0c0007000000000000000000",
    "0c0008000000000000000000",
    "0c0009000000000000000000",
    "0c000a000000000000000000",
);

/// Received by `ipvsadm -L -n`,
/// netlink flags NLM_F_MULTI.
pub const SERVICE_FWMARK_REPLY: &str = concat!(
    "01010000",                 // genlmsghdr: cmd 1 NEW_SERVICE, version 1
    "10010100",                 // SERVICE: nested, 272 bytes
    "0600010002000000",         //   AF = 2 (AF_INET) (u16)
    "0800050007000000",         //   FWMARK = 7 (u32)
    "0700060073680000",         //   SCHED_NAME = 'sh' NUL-terminated
    "0c00070017000000ffffffff", //   FLAGS = {flags 0x17, mask 0xffffffff}
    "080008003c000000",         //   TIMEOUT = 60 (u32)
    "08000900ffffff00",         //   NETMASK = 255.255.255.0 (mask, big-endian)
    "5c000a00", //   STATS: nested, 92 bytes, every counter 0 (u32 counts and rates, u64 bytes)
    "0800010000000000",
    "0800020000000000",
    "0800030000000000",
    "0c0004000000000000000000",
    "0c0005000000000000000000",
    "0800060000000000",
    "0800070000000000",
    "0800080000000000",
    "0800090000000000",
    "08000a0000000000",
    "7c000c00", //   STATS64: nested, 124 bytes, every counter 0 (u64)
    "0c0001000000000000000000",
    "0c0002000000000000000000",
    "0c0003000000000000000000",
    "0c0004000000000000000000",
    "0c0005000000000000000000",
    "0c0006000000000000000000",
    "0c0007000000000000000000",
    "0c0008000000000000000000",
    "0c0009000000000000000000",
    "0c000a000000000000000000",
);

/// Received by `ipvsadm -L -n`,
/// netlink flags NLM_F_MULTI.
pub const DEST_NAT_REPLY: &str = concat!(
    "05010000",                                 // genlmsghdr: cmd 5 NEW_DEST, version 1
    "50010200",                                 // DEST: nested, 336 bytes
    "14000100c6336401000000000000000000000000", //   ADDR = 198.51.100.1 (in 16 bytes)
    "060002001f900000",                         //   PORT = 8080 (big-endian)
    "0800030000000000",                         //   FWD_METHOD = 0 (u32)
    "0800040005000000",                         //   WEIGHT = 5 (u32)
    "05000d0000000000",                         //   TUN_TYPE = 0 (u8)
    "06000e0000000000",                         //   TUN_PORT = 0 (big-endian)
    "06000f0000000000",                         //   TUN_FLAGS = 0 (u16)
    "0800050000000000",                         //   U_THRESH = 0 (u32)
    "0800060000000000",                         //   L_THRESH = 0 (u32)
    "0800070000000000",                         //   ACTIVE_CONNS = 0 (u32)
    "0800080000000000",                         //   INACT_CONNS = 0 (u32)
    "0800090000000000",                         //   PERSIST_CONNS = 0 (u32)
    "06000b0002000000",                         //   ADDR_FAMILY = 2 (AF_INET) (u16)
    "5c000a00", //   STATS: nested, 92 bytes, every counter 0 (u32 counts and rates, u64 bytes)
    "0800010000000000",
    "0800020000000000",
    "0800030000000000",
    "0c0004000000000000000000",
    "0c0005000000000000000000",
    "0800060000000000",
    "0800070000000000",
    "0800080000000000",
    "0800090000000000",
    "08000a0000000000",
    "7c000c00", //   STATS64: nested, 124 bytes, every counter 0 (u64)
    "0c0001000000000000000000",
    "0c0002000000000000000000",
    "0c0003000000000000000000",
    "0c0004000000000000000000",
    "0c0005000000000000000000",
    "0c0006000000000000000000",
    "0c0007000000000000000000",
    "0c0008000000000000000000",
    "0c0009000000000000000000",
    "0c000a000000000000000000",
);

/// Received by `ipvsadm -L -n`,
/// netlink flags NLM_F_MULTI.
pub const DEST_GUE6_REPLY: &str = concat!(
    "05010000",                                 // genlmsghdr: cmd 5 NEW_DEST, version 1
    "50010200",                                 // DEST: nested, 336 bytes
    "1400010020010db8000000000000000000000010", //   ADDR = 2001:db8::10
    "0600020000350000",                         //   PORT = 53 (big-endian)
    "0800030002000000",                         //   FWD_METHOD = 2 (u32)
    "0800040002000000",                         //   WEIGHT = 2 (u32)
    "05000d0001000000",                         //   TUN_TYPE = 1 (u8)
    "06000e0017c00000",                         //   TUN_PORT = 6080 (big-endian)
    "06000f0001000000",                         //   TUN_FLAGS = 1 (u16)
    "0800050064000000",                         //   U_THRESH = 100 (u32)
    "0800060032000000",                         //   L_THRESH = 50 (u32)
    "0800070000000000",                         //   ACTIVE_CONNS = 0 (u32)
    "0800080000000000",                         //   INACT_CONNS = 0 (u32)
    "0800090000000000",                         //   PERSIST_CONNS = 0 (u32)
    "06000b000a000000",                         //   ADDR_FAMILY = 10 (AF_INET6) (u16)
    "5c000a00", //   STATS: nested, 92 bytes, every counter 0 (u32 counts and rates, u64 bytes)
    "0800010000000000",
    "0800020000000000",
    "0800030000000000",
    "0c0004000000000000000000",
    "0c0005000000000000000000",
    "0800060000000000",
    "0800070000000000",
    "0800080000000000",
    "0800090000000000",
    "08000a0000000000",
    "7c000c00", //   STATS64: nested, 124 bytes, every counter 0 (u64)
    "0c0001000000000000000000",
    "0c0002000000000000000000",
    "0c0003000000000000000000",
    "0c0004000000000000000000",
    "0c0005000000000000000000",
    "0c0006000000000000000000",
    "0c0007000000000000000000",
    "0c0008000000000000000000",
    "0c0009000000000000000000",
    "0c000a000000000000000000",
);

/// Received by `ipvsadm -L -n`,
/// netlink flags NLM_F_MULTI.
pub const TRAFFIC_SERVICE_REPLY: &str = concat!(
    "01010000",                                 // genlmsghdr: cmd 1 NEW_SERVICE, version 1
    "2c010100",                                 // SERVICE: nested, 300 bytes
    "0600010002000000",                         //   AF = 2 (AF_INET) (u16)
    "0600020006000000",                         //   PROTOCOL = 6 (tcp) (u16)
    "14000300c0000201000000000000000000000000", //   ADDR = 192.0.2.1 (in 16 bytes)
    "0600040000500000",                         //   PORT = 80 (big-endian)
    "0700060072720000",                         //   SCHED_NAME = 'rr' NUL-terminated
    "0c00070002000000ffffffff",                 //   FLAGS = {flags 0x2, mask 0xffffffff}
    "0800080000000000",                         //   TIMEOUT = 0 (u32)
    "08000900ffffffff",                         //   NETMASK = 255.255.255.255 (mask, big-endian)
    "5c000a00",                                 //   STATS: nested, 92 bytes
    "0800010004000000",                         //     CONNS = 4 (u32)
    "080002000c000000",                         //     INPKTS = 12 (u32)
    "080003000a000000",                         //     OUTPKTS = 10 (u32)
    "0c0004009602000000000000",                 //     INBYTES = 662 (u64)
    "0c0005001402000000000000",                 //     OUTBYTES = 532 (u64)
    "0800060000000000",                         //     CPS = 0 (u32)
    "0800070001000000",                         //     INPPS = 1 (u32)
    "0800080001000000",                         //     OUTPPS = 1 (u32)
    "0800090053000000",                         //     INBPS = 83 (u32)
    "08000a0042000000",                         //     OUTBPS = 66 (u32)
    "7c000c00",                                 //   STATS64: nested, 124 bytes
    "0c0001000400000000000000",                 //     CONNS = 4 (u64)
    "0c0002000c00000000000000",                 //     INPKTS = 12 (u64)
    "0c0003000a00000000000000",                 //     OUTPKTS = 10 (u64)
    "0c0004009602000000000000",                 //     INBYTES = 662 (u64)
    "0c0005001402000000000000",                 //     OUTBYTES = 532 (u64)
    "0c0006000000000000000000",                 //     CPS = 0 (u64)
    "0c0007000100000000000000",                 //     INPPS = 1 (u64)
    "0c0008000100000000000000",                 //     OUTPPS = 1 (u64)
    "0c0009005300000000000000",                 //     INBPS = 83 (u64)
    "0c000a004200000000000000",                 //     OUTBPS = 66 (u64)
);

/// Received by `ipvsadm -L -n`,
/// netlink flags NLM_F_MULTI.
pub const TRAFFIC_DEST_LOCALHOST_REPLY: &str = concat!(
    "05010000",                                 // genlmsghdr: cmd 5 NEW_DEST, version 1
    "50010200",                                 // DEST: nested, 336 bytes
    "140001007f000001000000000000000000000000", //   ADDR = 127.0.0.1 (in 16 bytes)
    "060002001f910000",                         //   PORT = 8081 (big-endian)
    "0800030000000000",                         //   FWD_METHOD = 0 (u32)
    "0800040001000000",                         //   WEIGHT = 1 (u32)
    "05000d0000000000",                         //   TUN_TYPE = 0 (u8)
    "06000e0000000000",                         //   TUN_PORT = 0 (big-endian)
    "06000f0000000000",                         //   TUN_FLAGS = 0 (u16)
    "0800050000000000",                         //   U_THRESH = 0 (u32)
    "0800060000000000",                         //   L_THRESH = 0 (u32)
    "0800070000000000",                         //   ACTIVE_CONNS = 0 (u32)
    "0800080002000000",                         //   INACT_CONNS = 2 (u32)
    "0800090000000000",                         //   PERSIST_CONNS = 0 (u32)
    "06000b0002000000",                         //   ADDR_FAMILY = 2 (AF_INET) (u16)
    "5c000a00",                                 //   STATS: nested, 92 bytes
    "0800010002000000",                         //     CONNS = 2 (u32)
    "0800020006000000",                         //     INPKTS = 6 (u32)
    "0800030005000000",                         //     OUTPKTS = 5 (u32)
    "0c0004004b01000000000000",                 //     INBYTES = 331 (u64)
    "0c0005000a01000000000000",                 //     OUTBYTES = 266 (u64)
    "0800060000000000",                         //     CPS = 0 (u32)
    "0800070001000000",                         //     INPPS = 1 (u32)
    "0800080001000000",                         //     OUTPPS = 1 (u32)
    "0800090029000000",                         //     INBPS = 41 (u32)
    "08000a0021000000",                         //     OUTBPS = 33 (u32)
    "7c000c00",                                 //   STATS64: nested, 124 bytes
    "0c0001000200000000000000",                 //     CONNS = 2 (u64)
    "0c0002000600000000000000",                 //     INPKTS = 6 (u64)
    "0c0003000500000000000000",                 //     OUTPKTS = 5 (u64)
    "0c0004004b01000000000000",                 //     INBYTES = 331 (u64)
    "0c0005000a01000000000000",                 //     OUTBYTES = 266 (u64)
    "0c0006000000000000000000",                 //     CPS = 0 (u64)
    "0c0007000100000000000000",                 //     INPPS = 1 (u64)
    "0c0008000100000000000000",                 //     OUTPPS = 1 (u64)
    "0c0009002900000000000000",                 //     INBPS = 41 (u64)
    "0c000a002100000000000000",                 //     OUTBPS = 33 (u64)
);

/// Received by `ipvsadm -L -n`,
/// netlink flags NLM_F_MULTI.
pub const TRAFFIC_DEST_VIP_REPLY: &str = concat!(
    "05010000",                                 // genlmsghdr: cmd 5 NEW_DEST, version 1
    "50010200",                                 // DEST: nested, 336 bytes
    "14000100c0000201000000000000000000000000", //   ADDR = 192.0.2.1 (in 16 bytes)
    "060002001f900000",                         //   PORT = 8080 (big-endian)
    "0800030000000000",                         //   FWD_METHOD = 0 (u32)
    "0800040001000000",                         //   WEIGHT = 1 (u32)
    "05000d0000000000",                         //   TUN_TYPE = 0 (u8)
    "06000e0000000000",                         //   TUN_PORT = 0 (big-endian)
    "06000f0000000000",                         //   TUN_FLAGS = 0 (u16)
    "0800050000000000",                         //   U_THRESH = 0 (u32)
    "0800060000000000",                         //   L_THRESH = 0 (u32)
    "0800070000000000",                         //   ACTIVE_CONNS = 0 (u32)
    "0800080002000000",                         //   INACT_CONNS = 2 (u32)
    "0800090000000000",                         //   PERSIST_CONNS = 0 (u32)
    "06000b0002000000",                         //   ADDR_FAMILY = 2 (AF_INET) (u16)
    "5c000a00",                                 //   STATS: nested, 92 bytes
    "0800010002000000",                         //     CONNS = 2 (u32)
    "0800020006000000",                         //     INPKTS = 6 (u32)
    "0800030005000000",                         //     OUTPKTS = 5 (u32)
    "0c0004004b01000000000000",                 //     INBYTES = 331 (u64)
    "0c0005000a01000000000000",                 //     OUTBYTES = 266 (u64)
    "0800060000000000",                         //     CPS = 0 (u32)
    "0800070001000000",                         //     INPPS = 1 (u32)
    "0800080001000000",                         //     OUTPPS = 1 (u32)
    "0800090029000000",                         //     INBPS = 41 (u32)
    "08000a0021000000",                         //     OUTBPS = 33 (u32)
    "7c000c00",                                 //   STATS64: nested, 124 bytes
    "0c0001000200000000000000",                 //     CONNS = 2 (u64)
    "0c0002000600000000000000",                 //     INPKTS = 6 (u64)
    "0c0003000500000000000000",                 //     OUTPKTS = 5 (u64)
    "0c0004004b01000000000000",                 //     INBYTES = 331 (u64)
    "0c0005000a01000000000000",                 //     OUTBYTES = 266 (u64)
    "0c0006000000000000000000",                 //     CPS = 0 (u64)
    "0c0007000100000000000000",                 //     INPPS = 1 (u64)
    "0c0008000100000000000000",                 //     OUTPPS = 1 (u64)
    "0c0009002900000000000000",                 //     INBPS = 41 (u64)
    "0c000a002100000000000000",                 //     OUTBPS = 33 (u64)
);

// === Whole datagrams (nlmsghdr included) ===
//
// Captured in the same VM by `... tests/vm/netlink.sh --capture-datagrams` (strace with
// `-e read=3 -e write=3`: the hex dump of every datagram on the netlink socket) from
// `ipvsadm -A -t 192.0.2.1:80 -s rr` run twice (the second add fails) and `ipvsadm -L -n`. libipvs opens a socket and resolves the
// family for every message, so each exchange starts with the controller's. The port id
// in the headers is the socket's (libnl fills it in on requests too; we send 0).

/// Sent by libnl's `genl_ctrl_resolve(sock, "IPVS")`: CTRL_CMD_GETFAMILY.
pub const CTRL_GETFAMILY_DATAGRAM: &str = concat!(
    "20000000100005009b79066b7200c031", // nlmsghdr: 32 bytes, type 0x10 (controller), flags 0x5
    "03010000",                         // genlmsghdr: cmd 3 GETFAMILY, version 1
    "090002004950565300000000",         // FAMILY_NAME = 'IPVS' NUL-terminated
);

/// The controller's answer: CTRL_CMD_NEWFAMILY for IPVS, family id 0x20.
pub const CTRL_NEWFAMILY_DATAGRAM: &str = concat!(
    "84010000100000009b79066b7200c031", // nlmsghdr: 388 bytes, type 0x10 (controller), flags 0x0
    "01020000",                         // genlmsghdr: cmd 1 NEWFAMILY, version 2
    "090002004950565300000000",         // FAMILY_NAME = 'IPVS' NUL-terminated
    "0600010020000000",                 // FAMILY_ID = 0x20 (u16)
    "0800030001000000",                 // VERSION = 1 (u32)
    "0800040000000000",                 // HDRSIZE = 0 (u32)
    "0800050006000000",                 // MAXATTR = 6 (u32)
    "44010600",                         // OPS: nested, 324 bytes: 16 x {ID, FLAGS}
    "140001000800010001000000080002000b000000",
    "140002000800010002000000080002000b000000",
    "140003000800010003000000080002000b000000",
    "140004000800010004000000080002000f000000",
    "140005000800010005000000080002000b000000",
    "140006000800010006000000080002000b000000",
    "140007000800010007000000080002000b000000",
    "140008000800010008000000080002000d000000",
    "140009000800010009000000080002000b000000",
    "14000a00080001000a000000080002000b000000",
    "14000b00080001000b000000080002000d000000",
    "14000c00080001000c000000080002000b000000",
    "14000d00080001000d000000080002000b000000",
    "14000e00080001000f000000080002000b000000",
    "14000f000800010010000000080002000b000000",
    "140010000800010011000000080002000b000000",
);

/// The ACK of the GETFAMILY request: error 0, NLM_F_CAPPED (the request's header only).
pub const CTRL_ACK_DATAGRAM: &str = concat!(
    "24000000020000019b79066b7200c031", // nlmsghdr: 36 bytes, type 0x2 NLMSG_ERROR, flags 0x100
    "00000000",                         // error = 0
    "20000000100005009b79066b7200c031", // the request's nlmsghdr
);

/// The answer to the second `ipvsadm -A -t 192.0.2.1:80 -s rr`: EEXIST, with the whole
/// request echoed (ADD_SERVICE_TCP4 as libnl sends it: with NLA_F_NESTED on the nest).
pub const ADD_SERVICE_EEXIST_DATAGRAM: &str = concat!(
    "7c000000020000009c79066b7200408f", // nlmsghdr: 124 bytes, type 0x2 NLMSG_ERROR, flags 0x0
    "efffffff",                         // error = -17 (EEXIST)
    "68000000200005009c79066b7200408f", // the request's nlmsghdr (family 0x20, flags REQUEST|ACK)
    "0101000054000180060001000200000006000200",
    "0600000014000300c00002010000000000000000",
    "0000000006000400005000000700060072720000",
    "0c00070000000000ffffffff0800080000000000",
    "08000900ffffffff",
);

/// Sent by `ipvsadm -L -n`: the service dump request (DUMP_SERVICES).
pub const DUMP_SERVICES_DATAGRAM: &str = concat!(
    "14000000200005039f79066ba4008088", // nlmsghdr: 20 bytes, type 0x20 IPVS, flags 0x305
    "04010000",                         // genlmsghdr: cmd 4 GET_SERVICE, version 1
);

/// The one entry of that dump: 192.0.2.1:80 rr (NLM_F_MULTI).
pub const DUMPED_SERVICE_DATAGRAM: &str = concat!(
    "40010000200002009f79066ba4008088", // nlmsghdr: 320 bytes, type 0x20 IPVS, flags 0x2
    "01010000",                         // genlmsghdr: cmd 1 NEW_SERVICE, version 1
    "2c01010006000100020000000600020006000000",
    "14000300c0000201000000000000000000000000",
    "060004000050000007000600727200000c000700",
    "02000000ffffffff080008000000000008000900",
    "ffffffff5c000a00080001000000000008000200",
    "0000000008000300000000000c00040000000000",
    "000000000c000500000000000000000008000600",
    "0000000008000700000000000800080000000000",
    "080009000000000008000a00000000007c000c00",
    "0c00010000000000000000000c00020000000000",
    "000000000c00030000000000000000000c000400",
    "00000000000000000c0005000000000000000000",
    "0c00060000000000000000000c00070000000000",
    "000000000c00080000000000000000000c000900",
    "00000000000000000c000a000000000000000000",
);

/// The end of that dump: NLMSG_DONE with error 0 (NLM_F_MULTI).
pub const DUMP_DONE_DATAGRAM: &str = concat!(
    "14000000030002009f79066ba4008088", // nlmsghdr: 20 bytes, type 0x3 NLMSG_DONE, flags 0x2
    "00000000",                         // error = 0
);
