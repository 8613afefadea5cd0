//! Probes (being written).
