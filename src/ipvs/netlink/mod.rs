//! The kernel backend: IPVS over generic netlink (family "IPVS", version 1), on neli.
//!
//! - [`consts`]: the uapi numbers (`include/uapi/linux/ip_vs.h`). Pure.
//! - `attr`: writing and reading `struct nlattr`. Pure, panic-free on any input.
//! - [`encode`]: requests (an [`Op`](crate::ipvs::backend::Op), a get, a dump, timeouts,
//!   sync daemons) to generic netlink payloads. Pure.
//! - [`decode`]: reply payloads to the model. Pure, panic-free on any input.
//! - `socket`: [`NetlinkBackend`], the I/O shell implementing
//!   [`Backend`](crate::ipvs::backend::Backend) on a neli `NlRouter`.
//!
//! Tests: `tests/netlink_codec.rs` (byte vectors, round trips, property tests) on any host;
//! `tests/vm/netlink.sh` runs `tests/vm_netlink.rs` against a real kernel in the test VM.

mod attr;
pub mod consts;
pub mod decode;
pub mod encode;
mod socket;

pub use decode::{
    DecodeError, decode_daemon, decode_dest, decode_info, decode_service, decode_timeouts,
};
pub use encode::{EncodeError, Exchange, Request};
pub use socket::{NetlinkBackend, errno_to_error};
