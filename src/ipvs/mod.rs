//! IPVS: the table model, the reconciler, the backends (kernel over generic netlink, and
//! in memory) and the ipvsadm save format.

pub mod backend;
pub mod listing;
pub mod model;
pub mod netlink;
pub mod reconcile;
pub mod save;
pub mod sync;
pub mod task;
