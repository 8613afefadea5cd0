//! Fuzz target: a datagram from the IPVS generic netlink socket. The body is `ipvsd::fuzzing::netlink`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ipvsd::fuzzing::netlink(data));
