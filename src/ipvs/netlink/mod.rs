//! The kernel backend: IPVS over generic netlink (being written).
