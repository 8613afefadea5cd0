//! IPVS: the table model and its ipvsadm save format.

pub mod model;
pub mod save;
