//! The admin listener of a running daemon (in-memory IPVS backend): /healthz, /readyz and
//! /metrics after a real server fails its checks and another passes.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// GET path -> (status, body).
fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut raw = String::new();
    s.read_to_string(&mut raw).ok()?;
    let (head, body) = raw.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, body.to_string()))
}

/// The value of one series (`name{labels}` exactly as exposed).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        let (s, v) = l.rsplit_once(' ')?;
        (s == series).then(|| v.parse().ok())?
    })
}

#[test]
fn metrics_and_health_endpoints_report_a_failed_and_a_healthy_real_server() {
    let up = TcpListener::bind("127.0.0.1:0").unwrap();
    let up_port = up.local_addr().unwrap().port();
    // Accept and close, forever (the test process ends it).
    std::thread::spawn(move || {
        for c in up.incoming() {
            drop(c);
        }
    });
    let down_port = free_port();
    let admin = free_port();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("ipvsd.yaml");
    std::fs::write(
        &cfg,
        format!(
            "global: {{node_name: t, admin_listen: \"127.0.0.1:{admin}\"}}\n\
             virtual_servers:\n\
             \x20 - name: web\n\
             \x20   address: 203.0.113.7:80\n\
             \x20   forwarding: nat\n\
             \x20   checks: [{{type: tcp, interval: 100ms, timeout: 50ms, rise: 1, fall: 1}}]\n\
             \x20   real_servers:\n\
             \x20     - {{address: \"127.0.0.1:{up_port}\", weight: 2}}\n\
             \x20     - {{address: \"127.0.0.1:{down_port}\", weight: 3}}\n"
        ),
    )
    .unwrap();
    let _d = Daemon(
        Command::new(env!("CARGO_BIN_EXE_ipvsd"))
            .args(["run", "--ipvs-backend", "memory", "--config"])
            .arg(&cfg)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let up_rs = format!("real_server=\"127.0.0.1:{up_port}\"");
    let down_rs = format!("real_server=\"127.0.0.1:{down_port}\"");
    let want_transition = format!(
        "ipvsd_real_server_transitions_total{{virtual_server=\"web\",{down_rs},to=\"down\"}}"
    );
    // Until the failed server's transition shows (a few probes), at most 10 s.
    let deadline = Instant::now() + Duration::from_secs(10);
    let text = loop {
        if let Some((200, body)) = get(admin, "/metrics")
            && sample(&body, &want_transition) == Some(1.0)
        {
            break body;
        }
        assert!(Instant::now() < deadline, "no down transition in /metrics");
        std::thread::sleep(Duration::from_millis(100));
    };
    let s =
        |series: &str| sample(&text, series).unwrap_or_else(|| panic!("no {series} in\n{text}"));
    assert_eq!(s("ipvsd_ready"), 1.0);
    assert_eq!(s("ipvsd_config_last_reload_successful"), 1.0);
    assert_eq!(
        s(&format!(
            "ipvsd_real_server_up{{virtual_server=\"web\",{up_rs}}}"
        )),
        1.0
    );
    assert_eq!(
        s(&format!(
            "ipvsd_real_server_up{{virtual_server=\"web\",{down_rs}}}"
        )),
        0.0
    );
    // on_failure: drain: the failed server stays at weight 0, the healthy one at 2.
    assert_eq!(
        s(&format!(
            "ipvsd_real_server_weight{{virtual_server=\"web\",{up_rs}}}"
        )),
        2.0
    );
    assert_eq!(
        s(&format!(
            "ipvsd_real_server_weight{{virtual_server=\"web\",{down_rs}}}"
        )),
        0.0
    );
    assert_eq!(
        s(&format!(
            "ipvsd_real_server_last_failure{{virtual_server=\"web\",{down_rs},reason=\"refused\"}}"
        )),
        1.0
    );
    assert_eq!(
        s("ipvsd_virtual_server_alive_weight{virtual_server=\"web\"}"),
        2.0
    );
    assert_eq!(
        s("ipvsd_virtual_server_quorum_up{virtual_server=\"web\"}"),
        1.0
    );
    assert!(
        s(&format!(
            "ipvsd_checks_total{{virtual_server=\"web\",{up_rs},check=\"tcp#0\",result=\"success\"}}"
        )) >= 1.0
    );
    assert!(
        s(&format!(
            "ipvsd_checks_total{{virtual_server=\"web\",{down_rs},check=\"tcp#0\",result=\"failure\"}}"
        )) >= 1.0
    );
    assert!(s("ipvsd_reconcile_writes_total{op=\"add_service\"}") >= 1.0);
    assert!(s("process_resident_memory_bytes") > 0.0);
    assert!(text.ends_with("# EOF\n"));

    assert_eq!(get(admin, "/healthz"), Some((200, "ok\n".into())));
    assert_eq!(get(admin, "/readyz"), Some((200, "ready\n".into())));
    assert_eq!(get(admin, "/nope").map(|r| r.0), Some(404));
}
