//! VRRP (RFC 5798 version 3, RFC 3768 version 2 for compatibility): moves the virtual
//! addresses between two directors.
//!
//! - `packet`: the advertisement codec and receive-side validation (pure).
//! - `announce`: gratuitous ARP and unsolicited neighbour advertisement frames (pure).
//! - `fsm`: the per-instance state machine, `handle(now, input) -> actions` (pure).
//! - `netif`: interfaces and addresses over rtnetlink (I/O).
//! - `notify`: the notify programs, run one at a time in order (I/O).
//! - `task`: the task that runs one instance (I/O shell of `fsm`).
//! - `timer`: a microsecond one-shot timer for the state machine's deadlines (I/O).
//! - `track`: tracked interfaces -> priority or FAULT (pure).
//! - `socket`: the raw sockets adverts, gratuitous ARP and neighbour advertisements go
//!   through (I/O, async).

pub mod announce;
pub mod fsm;
pub mod netif;
pub mod notify;
pub mod packet;
pub mod socket;
pub mod task;
pub mod timer;
pub mod track;
