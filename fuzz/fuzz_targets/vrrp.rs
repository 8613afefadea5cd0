//! Fuzz target: a received VRRP datagram (IPv4 with its header, or an IPv6 message). The body is `ipvsd::fuzzing::vrrp`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ipvsd::fuzzing::vrrp(data));
