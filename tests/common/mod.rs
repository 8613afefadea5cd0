//! Shared by the integration tests: an `Env` that needs no files on disk.

#![allow(dead_code)]

use std::path::Path;

use ipvsd::config::schema::Env;

/// Every file is readable and every program executable, except paths containing
/// `missing`, which are reported as absent.
pub struct FakeEnv;

impl Env for FakeEnv {
    fn hostname(&self) -> String {
        "test-host".to_string()
    }
    fn check_readable(&self, path: &Path) -> Result<(), String> {
        if path.to_string_lossy().contains("missing") {
            Err("No such file or directory (os error 2)".to_string())
        } else {
            Ok(())
        }
    }
    fn check_executable(&self, path: &Path) -> Result<(), String> {
        self.check_readable(path)
    }
}

/// Loads config text with `FakeEnv`; the problems as `LINE:COL: path: message` strings.
pub fn problems(yaml: &str) -> Vec<String> {
    match ipvsd::config::load_str(yaml, Path::new("t.yaml"), &FakeEnv) {
        Ok(_) => Vec::new(),
        Err(e) => e
            .problems()
            .into_iter()
            .map(|p| p.trim_start_matches("t.yaml:").to_string())
            .collect(),
    }
}

/// Loads config text with `FakeEnv`; panics with the problems if it is invalid.
pub fn load(yaml: &str) -> ipvsd::config::Config {
    ipvsd::config::load_str(yaml, Path::new("t.yaml"), &FakeEnv)
        .unwrap_or_else(|e| panic!("{:?}\n{yaml}", e.problems()))
}

/// Hostile config files: (name, content, what the error must say). Each must be refused
/// with that message, quickly, without a panic (tests/bad_input.rs through
/// `check-config`; tests/admin_metrics.rs as reloads of a running daemon).
pub fn hostile_configs() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let mut alias_bomb = String::from("a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    let mut prev = 'a';
    for n in 'b'..='j' {
        alias_bomb += &format!("{n}: &{n} [{}]\n", vec![format!("*{prev}"); 9].join(", "));
        prev = n;
    }
    let huge_list: String = (0..200_000)
        .map(|i| {
            format!(
                "  - {{address: 192.0.2.1:{}, protocol: tcp}}\n",
                i % 60_000 + 1
            )
        })
        .collect();
    vec![
        (
            "ten-megabytes.yaml",
            format!("# {}\n", "x".repeat(10 * 1024 * 1024)).into_bytes(),
            "a config is at most",
        ),
        (
            "many-services.yaml",
            format!("virtual_servers:\n{huge_list}").into_bytes(),
            "a config is at most",
        ),
        (
            "not-utf8.yaml",
            b"global:\n  node_name: \"\xff\xfe\"\n".to_vec(),
            "not UTF-8 text (first bad byte at offset 22)",
        ),
        (
            "nul-byte.yaml",
            b"global:\n  node_name: a\x00b\n".to_vec(),
            ":2:",
        ),
        (
            "binary.yaml",
            (0u8..=255).cycle().take(4096).collect(),
            "not UTF-8",
        ),
        (
            "deep-flow-list.yaml",
            format!(
                "global:\n  x: {}{}\n",
                "[".repeat(100_000),
                "]".repeat(100_000)
            )
            .into_bytes(),
            "nested too deeply",
        ),
        (
            "deep-block-map.yaml",
            (0..200)
                .map(|i| format!("{}k{i}:\n", "  ".repeat(i)))
                .collect::<String>()
                .into_bytes(),
            "nested too deeply",
        ),
        (
            "alias-bomb.yaml",
            alias_bomb.into_bytes(),
            "more YAML nodes than a config may have",
        ),
        (
            "huge-numbers.yaml",
            concat!(
                "virtual_servers:\n",
                "  - address: 192.0.2.1:80\n",
                "    protocol: tcp\n",
                "    persistence: {timeout: 99999999999999999999999s}\n",
                "    real_servers:\n",
                "      - address: 198.51.100.1:80\n",
                "        weight: 18446744073709551616\n",
                "        upper_threshold: -1\n",
            )
            .as_bytes()
            .to_vec(),
            "must be between 0 and 65535 (got a number of 20 digits)",
        ),
        (
            "wrong-shape.yaml",
            b"- just\n- a\n- list\n".to_vec(),
            "1:1:",
        ),
        (
            "unterminated.yaml",
            b"virtual_servers: [{address: \"192.0.2.1:80\n".to_vec(),
            "invalid YAML",
        ),
    ]
}
