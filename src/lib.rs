//! ipvsd: a health-checking, highly available load-balancer director for Linux IPVS.
//!
//! The parts, each in its own module: `config` (the YAML file, validated once), `ipvs`
//! (the kernel table model), `vrrp` (failover of the
//! virtual addresses), `controller` (config + health -> desired table), `cli` and
//! `daemon` (the I/O shell that wires it together).

pub mod check;
pub mod cli;
pub mod config;
pub mod controller;
pub mod daemon;
#[doc(hidden)]
pub mod fuzzing;
pub mod import;
pub mod ipvs;
pub mod metrics;
pub mod realserver;
pub mod status;
pub mod vrrp;
