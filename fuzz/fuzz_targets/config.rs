//! Fuzz target: a config file's text. The body is `ipvsd::fuzzing::config`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ipvsd::fuzzing::config(data));
