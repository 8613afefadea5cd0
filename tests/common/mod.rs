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
