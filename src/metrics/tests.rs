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

fn config(yaml: &str) -> crate::config::Config {
    crate::config::load_str(
        yaml,
        std::path::Path::new("t"),
        &crate::config::schema::NoFiles,
    )
    .unwrap()
}

#[test]
fn a_reload_forgets_the_series_of_dropped_servers_and_checks_only() {
    let before = config(
        "virtual_servers:\n  - name: web\n    address: 192.0.2.7:80\n    checks: [{type: tcp}, {type: http}]\n    real_servers:\n      - address: 198.51.100.27:80\n      - address: 198.51.100.37:80\n",
    );
    // .37 goes; .27 keeps its tcp check and loses the http one.
    let after = config(
        "virtual_servers:\n  - name: web\n    address: 192.0.2.7:80\n    checks: [{type: tcp}]\n    real_servers:\n      - address: 198.51.100.27:80\n",
    );
    let gone = ConfigSeries::of(&before).dropped_by(&ConfigSeries::of(&after));
    assert!(!gone.is_empty());
    assert!(
        ConfigSeries::of(&after)
            .dropped_by(&ConfigSeries::of(&after))
            .is_empty()
    );

    let m = Metrics::new();
    for rs in ["198.51.100.27:80", "198.51.100.37:80"] {
        m.real_server_transitions
            .get_or_create(&RealServerTo {
                virtual_server: "web".into(),
                real_server: rs.into(),
                to: "down",
            })
            .inc();
        for check in ["tcp#0", "http#1"] {
            m.checks
                .get_or_create(&CheckResultLabels {
                    virtual_server: "web".into(),
                    real_server: rs.into(),
                    check: check.into(),
                    result: "success",
                })
                .inc_by(5);
        }
    }
    for check in ["tcp#0", "http#1"] {
        m.check_duration_seconds
            .get_or_create(&CheckLabels {
                virtual_server: "web".into(),
                check: check.into(),
            })
            .observe(0.002);
    }
    m.forget(&gone);
    let text = m.render();
    let kept: Vec<String> = samples(&text)
        .into_iter()
        .map(|(s, _)| s)
        .filter(|s| {
            s.starts_with("ipvsd_real_server_transitions")
                || s.starts_with("ipvsd_checks")
                || s.starts_with("ipvsd_check_duration_seconds_count")
        })
        .collect();
    assert_eq!(
        kept,
        [
            "ipvsd_real_server_transitions_total{virtual_server=\"web\",real_server=\"198.51.100.27:80\",to=\"down\"}",
            "ipvsd_checks_total{virtual_server=\"web\",real_server=\"198.51.100.27:80\",check=\"tcp#0\",result=\"success\"}",
            "ipvsd_check_duration_seconds_count{virtual_server=\"web\",check=\"tcp#0\"}",
        ],
        "{text}"
    );
    // What stays keeps its count.
    assert_eq!(
        value(
            &text,
            "ipvsd_checks_total{virtual_server=\"web\",real_server=\"198.51.100.27:80\",check=\"tcp#0\",result=\"success\"}"
        ),
        Some("5".into())
    );
}

#[test]
fn a_removed_vrrp_instance_leaves_no_series() {
    let m = Metrics::new();
    for vi in ["VI_1", "VI_2"] {
        m.set_vrrp_state(vi, State::Master);
        m.vrrp_adverts_sent
            .get_or_create(&Vrrp {
                vrrp_instance: vi.into(),
            })
            .inc();
        m.vrrp_priority
            .get_or_create(&Vrrp {
                vrrp_instance: vi.into(),
            })
            .set(150);
        m.vrrp_packets_dropped
            .get_or_create(&VrrpReason {
                vrrp_instance: vi.into(),
                reason: "bad_ttl",
            })
            .inc();
        m.vrrp_transitions
            .get_or_create(&VrrpTo {
                vrrp_instance: vi.into(),
                to: "master",
            })
            .inc();
    }
    m.forget_vrrp_instance("VI_2");
    let text = m.render();
    let series: Vec<String> = samples(&text).into_iter().map(|(s, _)| s).collect();
    assert!(
        !series.iter().any(|s| s.contains("VI_2")),
        "VI_2 still exported:\n{text}"
    );
    for family in [
        "ipvsd_vrrp_state{",
        "ipvsd_vrrp_adverts_sent_total{",
        "ipvsd_vrrp_priority{",
        "ipvsd_vrrp_packets_dropped_total{",
        "ipvsd_vrrp_transitions_total{",
    ] {
        assert!(
            series
                .iter()
                .any(|s| s.starts_with(family) && s.contains("VI_1")),
            "{family} of VI_1 gone:\n{text}"
        );
    }
}
