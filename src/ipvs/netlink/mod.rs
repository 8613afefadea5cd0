//! The kernel backend: IPVS over generic netlink (family "IPVS", version 1), on neli.
//!
//! - [`consts`]: the uapi numbers (`include/uapi/linux/ip_vs.h`). Pure.
//! - `attr`: writing and reading `struct nlattr`. Pure, panic-free on any input.
//! - [`encode`]: requests (an [`Op`](crate::ipvs::backend::Op), a get, a dump, timeouts,
//!   sync daemons) to generic netlink payloads. Pure.
//! - [`decode`]: reply payloads to the model; dumps leave out (and list) what the model
//!   cannot represent. Pure, panic-free on any input.
//! - [`frame`]: `struct nlmsghdr` framing, and matching answers to pipelined requests by
//!   sequence number. Pure, panic-free on any input.
//! - `socket`: [`NetlinkBackend`], the I/O shell implementing
//!   [`Backend`](crate::ipvs::backend::Backend) on one plain neli socket, with pipelined
//!   writes.
//!
//! Tests: `tests/netlink_codec.rs` (byte vectors, round trips, property tests) on any host;
//! `tests/vm/netlink.sh` runs `tests/vm_netlink.rs` against a real kernel in the test VM.

mod attr;
pub mod consts;
pub mod decode;
pub mod encode;
pub mod frame;
mod socket;

pub use decode::{
    DecodeError, Dumped, Skipped, decode_daemon, decode_dest, decode_dest_key, decode_dests,
    decode_family_id, decode_info, decode_service, decode_service_key, decode_services,
    decode_timeouts,
};
pub use encode::{EncodeError, Exchange, Request, get_family};
pub use socket::{NetlinkBackend, WINDOW, errno_to_error};
