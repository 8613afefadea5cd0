//! Reads an OpenMetrics exposition on stdin with a real parser and prints the value of
//! each selector given as an argument, one per line. For the shell tests:
//!
//!     curl -s http://127.0.0.1:9180/metrics |
//!       target/debug/examples/openmetrics 'ipvsd_vrrp_state{vrrp_instance="VI_1",state="master"}'
//!
//! A selector is a family name (counters without `_total`) with optional `label="value"`
//! matchers; `sum:SELECTOR` prints the sum of every match, `count:SELECTOR` how many
//! match. Exit status 1 if the exposition does not parse or a plain selector does not
//! match exactly one sample (the message says which), 2 on usage errors.

#[path = "../tests/openmetrics/mod.rs"]
mod openmetrics;

use std::io::Read;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() || args.iter().any(|a| a == "-h" || a == "--help") {
        eprintln!("usage: openmetrics SELECTOR... < exposition");
        std::process::exit(2);
    }
    let mut text = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut text) {
        eprintln!("openmetrics: cannot read stdin: {e}");
        std::process::exit(1);
    }
    let samples = match openmetrics::parse(&text) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("openmetrics: {e}");
            std::process::exit(1);
        }
    };
    for a in &args {
        let r = if let Some(sel) = a.strip_prefix("sum:") {
            openmetrics::select(&samples, sel).map(|m| m.iter().map(|s| s.value).sum::<f64>())
        } else if let Some(sel) = a.strip_prefix("count:") {
            openmetrics::select(&samples, sel).map(|m| m.len() as f64)
        } else {
            openmetrics::value(&samples, a)
        };
        match r {
            Ok(v) => println!("{v}"),
            Err(e) => {
                eprintln!("openmetrics: {e}");
                std::process::exit(1);
            }
        }
    }
}
