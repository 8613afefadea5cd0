//! The exposition: names, types and values as docs/metrics.md says.

use super::*;
use crate::vrrp::fsm::State;

/// `name{labels} value` lines of the exposition (no comments), as (series, value).
fn samples(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            Some((series.to_string(), value.to_string()))
        })
        .collect()
}

fn value(text: &str, series: &str) -> Option<String> {
    samples(text)
        .into_iter()
        .find(|(s, _)| s == series)
        .map(|(_, v)| v)
}

#[test]
fn the_exposition_is_openmetrics_with_build_info_and_process_metrics() {
    let m = Metrics::new();
    let text = m.render();
    assert!(text.ends_with("# EOF\n"), "{text}");
    assert_eq!(
        value(
            &text,
            &format!(
                "ipvsd_build_info{{version=\"{}\"}}",
                env!("CARGO_PKG_VERSION")
            )
        ),
        Some("1".into())
    );
    assert!(text.contains("# TYPE process_cpu_seconds counter\n"));
    let rss: f64 = value(&text, "process_resident_memory_bytes")
        .unwrap()
        .parse()
        .unwrap();
    assert!(rss > 1e6, "rss {rss}");
    let fds: f64 = value(&text, "process_open_fds").unwrap().parse().unwrap();
    assert!(fds >= 3.0);
}

#[test]
fn counters_get_total_and_vrrp_state_has_one_series_per_state() {
    let m = Metrics::new();
    m.set_vrrp_state("VI_1", State::Master);
    m.vrrp_packets_dropped
        .get_or_create(&VrrpReason {
            vrrp_instance: "VI_1".into(),
            reason: "bad_ttl",
        })
        .inc_by(3);
    let text = m.render();
    let states: Vec<_> = samples(&text)
        .into_iter()
        .filter(|(s, _)| s.starts_with("ipvsd_vrrp_state{"))
        .collect();
    assert_eq!(states.len(), 4, "{states:?}");
    assert_eq!(
        value(
            &text,
            "ipvsd_vrrp_state{vrrp_instance=\"VI_1\",state=\"master\"}"
        ),
        Some("1".into())
    );
    assert_eq!(
        value(
            &text,
            "ipvsd_vrrp_state{vrrp_instance=\"VI_1\",state=\"backup\"}"
        ),
        Some("0".into())
    );
    assert_eq!(
        value(
            &text,
            "ipvsd_vrrp_packets_dropped_total{vrrp_instance=\"VI_1\",reason=\"bad_ttl\"}"
        ),
        Some("3".into())
    );
}
