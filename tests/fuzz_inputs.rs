//! The fuzz targets' bodies (`ipvsd::fuzzing`) on every kept input, on stable Rust and in
//! every `cargo test`: the seeds (`fuzz/seeds/`, captured packets, replies and the shipped
//! configs; see fuzz/make-seeds.py) and the regressions (`fuzz/regressions/`: every input
//! a fuzzer ever crashed on, kept after the fix). tests/fuzz.sh runs the fuzzers.

use std::path::{Path, PathBuf};

fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for kind in ["seeds", "regressions"] {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz")
            .join(kind)
            .join(target);
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for entry in entries {
            let path = entry.expect("directory entry").path();
            if path.file_name().is_some_and(|n| n == ".gitkeep") {
                continue;
            }
            let data = std::fs::read(&path).expect("readable input");
            out.push((path, data));
        }
    }
    out.sort();
    out
}

fn run_all(target: &str, body: fn(&[u8])) -> usize {
    let all = inputs(target);
    for (path, data) in &all {
        if let Err(panic) = std::panic::catch_unwind(|| body(data)) {
            let why = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            panic!("{target}: {} fails: {why}", path.display());
        }
    }
    all.len()
}

#[test]
fn vrrp_inputs() {
    assert!(run_all("vrrp", ipvsd::fuzzing::vrrp) >= 6);
}

#[test]
fn netlink_inputs() {
    assert!(run_all("netlink", ipvsd::fuzzing::netlink) >= 18);
}

#[test]
fn config_inputs() {
    assert!(run_all("config", ipvsd::fuzzing::config) >= 8);
}

/// The seeds are worth starting from only if they reach past the first checks: each VRRP
/// seed decodes, each netlink reply decodes as something, each config loads.
#[test]
fn the_seeds_are_valid_inputs() {
    use ipvsd::vrrp::packet::{decode, parse_ipv4};
    use std::net::{IpAddr, Ipv6Addr};
    for (path, data) in inputs("vrrp") {
        if !path.starts_with(Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds")) {
            continue;
        }
        let ok = match data.split_first() {
            Some((0, dgram)) => parse_ipv4(dgram)
                .ok()
                .map(|ip| decode(ip.payload, IpAddr::V4(ip.src), IpAddr::V4(ip.dst))),
            Some((1, msg)) => Some(decode(
                msg,
                IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1)),
                IpAddr::V6(Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12)),
            )),
            _ => None,
        };
        // The IPv6 captures were sent from keepalived's own link-local address, so their
        // checksum only verifies with that source; IPv4 ones carry theirs.
        if data[0] == 0 {
            assert!(matches!(ok, Some(Ok(_))), "{}: {ok:?}", path.display());
        }
    }
    for (path, data) in inputs("config") {
        let text = std::str::from_utf8(&data).expect("UTF-8");
        struct AnyFile;
        impl ipvsd::config::schema::Env for AnyFile {
            fn hostname(&self) -> String {
                "director-a".into()
            }
            fn check_readable(&self, _: &Path) -> Result<(), String> {
                Ok(())
            }
            fn check_executable(&self, _: &Path) -> Result<(), String> {
                Ok(())
            }
        }
        if let Err(e) = ipvsd::config::load_str(text, &path, &AnyFile) {
            panic!("{}: {:?}", path.display(), e.problems());
        }
    }
}
