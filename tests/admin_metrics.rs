//! The admin API of a running daemon (in-memory IPVS backend), read the way operators
//! read it: /metrics parsed by a real OpenMetrics parser, the status document as JSON,
//! `ipvsd status`, `ipvsd drain|undrain` and `ipvsd reload` through the control socket,
//! after controlled events: a real server fails its checks, an operator drains one, the
//! config is reloaded (and a bad one rejected).

mod common;
mod daemon_support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use daemon_support::{Daemon, free_port, get, openmetrics, value, wait_for};

/// A TCP server that accepts and closes, forever (the test process ends it).
fn listener() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for c in l.incoming() {
            drop(c);
        }
    });
    port
}

/// POST a body with a content type -> status.
fn post(port: u16, path: &str, content_type: &str, body: &str) -> Option<(u16, String)> {
    let s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    post_on(s, path, content_type, body)
}

/// The same through the control socket.
fn post_socket(socket: &Path, path: &str, content_type: &str, body: &str) -> Option<(u16, String)> {
    let s = UnixStream::connect(socket).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    post_on(s, path, content_type, body)
}

/// The answer's status and body.
fn post_on(
    mut s: impl Read + Write,
    path: &str,
    content_type: &str,
    body: &str,
) -> Option<(u16, String)> {
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut raw = String::new();
    s.read_to_string(&mut raw).ok()?;
    let code = raw.split_whitespace().nth(1)?.parse().ok()?;
    Some((code, raw.split_once("\r\n\r\n")?.1.to_string()))
}

/// The control socket `config` puts in a directory that does not exist yet.
fn control_socket(cfg: &Path) -> PathBuf {
    cfg.parent().unwrap().join("run/ipvsd.sock")
}

/// The command exited 0 (else its stderr is the failure).
#[track_caller]
fn assert_success(out: &Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn ipvsd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ipvsd"))
        .args(args)
        .output()
        .unwrap()
}

/// `ipvsd run` on `cfg` with the in-memory IPVS backend.
fn daemon(cfg: &Path) -> Daemon {
    Daemon(
        Command::new(env!("CARGO_BIN_EXE_ipvsd"))
            .args(["run", "--ipvs-backend", "memory", "--config"])
            .arg(cfg)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

/// The config, its state directory and control socket beside it (never the host's
/// /var/lib/ipvsd and /run/ipvsd).
fn config(path: &Path, admin: u16, servers: &[(u16, u32)]) {
    let state = path.parent().unwrap().join("state");
    std::fs::create_dir_all(&state).unwrap();
    let mut y = format!(
        "global: {{node_name: t, admin_listen: \"127.0.0.1:{admin}\", state_dir: \"{}\", \
         control_socket: \"{}\"}}\n\
         virtual_servers:\n\
         \x20 - name: web\n\
         \x20   address: 203.0.113.7:80\n\
         \x20   forwarding: nat\n\
         \x20   checks: [{{type: tcp, interval: 100ms, timeout: 50ms, rise: 1, fall: 1}}]\n\
         \x20   real_servers:\n",
        state.display(),
        control_socket(path).display()
    );
    for (port, weight) in servers {
        y.push_str(&format!(
            "      - {{address: \"127.0.0.1:{port}\", weight: {weight}}}\n"
        ));
    }
    std::fs::write(path, y).unwrap();
}

#[test]
fn metrics_status_and_drain_after_a_failure_a_drain_and_reloads() {
    let up_port = listener();
    let down_port = free_port();
    let admin = free_port();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("ipvsd.yaml");
    config(&cfg, admin, &[(up_port, 2), (down_port, 3)]);
    let sock = control_socket(&cfg);
    let sock_arg = sock.to_str().unwrap().to_string();
    let d = daemon(&cfg);
    let up = format!("virtual_server=\"web\",real_server=\"127.0.0.1:{up_port}\"");
    let down = format!("virtual_server=\"web\",real_server=\"127.0.0.1:{down_port}\"");

    // 1. A real server fails its checks.
    let m = wait_for(
        admin,
        &format!("ipvsd_real_server_transitions{{{down},to=\"down\"}}"),
        1.0,
    );
    let v = |sel: &str| value(&m, sel);
    assert_eq!(v("ipvsd_ready"), 1.0);
    assert_eq!(v("ipvsd_config_last_reload_successful"), 1.0);
    assert_eq!(v(&format!("ipvsd_real_server_up{{{up}}}")), 1.0);
    assert_eq!(v(&format!("ipvsd_real_server_up{{{down}}}")), 0.0);
    // on_failure: drain: the failed server stays at weight 0, the healthy one at 2.
    assert_eq!(v(&format!("ipvsd_real_server_weight{{{up}}}")), 2.0);
    assert_eq!(v(&format!("ipvsd_real_server_weight{{{down}}}")), 0.0);
    assert_eq!(v(&format!("ipvsd_real_server_drained{{{up}}}")), 0.0);
    assert_eq!(
        v(&format!(
            "ipvsd_real_server_last_failure{{{down},reason=\"refused\"}}"
        )),
        1.0
    );
    assert_eq!(
        v("ipvsd_virtual_server_alive_weight{virtual_server=\"web\"}"),
        2.0
    );
    assert_eq!(
        v("ipvsd_virtual_server_quorum_up{virtual_server=\"web\"}"),
        1.0
    );
    assert!(
        v(&format!(
            "ipvsd_checks{{{up},check=\"tcp#0\",result=\"success\"}}"
        )) >= 1.0
    );
    assert!(
        v(&format!(
            "ipvsd_checks{{{down},check=\"tcp#0\",result=\"failure\"}}"
        )) >= 1.0
    );
    assert!(v("ipvsd_check_duration_seconds{virtual_server=\"web\",check=\"tcp#0\"}") >= 2.0);
    assert!(v("ipvsd_reconcile_writes{op=\"add_service\"}") >= 1.0);
    assert!(v("process_resident_memory_bytes") > 0.0);
    // The kernel's side (here the in-memory table), with node_exporter's label names.
    let backend = |port: u16| {
        format!(
            "virtual_server=\"web\",local_address=\"203.0.113.7\",local_port=\"80\",proto=\"TCP\",remote_address=\"127.0.0.1\",remote_port=\"{port}\""
        )
    };
    assert_eq!(
        v(&format!(
            "ipvsd_ipvs_backend_weight{{{}}}",
            backend(up_port)
        )),
        2.0
    );
    assert_eq!(
        v(&format!(
            "ipvsd_ipvs_backend_weight{{{}}}",
            backend(down_port)
        )),
        0.0
    );
    assert_eq!(
        v(&format!(
            "ipvsd_ipvs_backend_connections_active{{{}}}",
            backend(up_port)
        )),
        0.0
    );
    assert_eq!(
        v(
            "ipvsd_ipvs_connections{virtual_server=\"web\",local_address=\"203.0.113.7\",local_port=\"80\",proto=\"TCP\",local_mark=\"\"}"
        ),
        0.0
    );

    // The status document says the same.
    let out = ipvsd(&["status", "--json", "--socket", &sock_arg]);
    assert_success(&out);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["ready"], true);
    let vs = &doc["virtual_servers"][0];
    assert_eq!(vs["name"], "web");
    assert_eq!(vs["service"], "TCP 203.0.113.7:80");
    assert_eq!(vs["in_kernel"], true);
    let rs = |port: u16| {
        vs["real_servers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["address"] == format!("127.0.0.1:{port}"))
            .unwrap()
            .clone()
    };
    assert_eq!(rs(up_port)["health"], "up");
    assert_eq!(rs(up_port)["kernel_weight"], 2);
    assert_eq!(rs(up_port)["checks"][0]["last"]["result"], "success");
    assert!(
        rs(up_port)["checks"][0]["last"]["latency_seconds"]
            .as_f64()
            .unwrap()
            < 0.05
    );
    assert_eq!(rs(down_port)["health"], "down");
    assert_eq!(rs(down_port)["kernel_weight"], 0);
    assert_eq!(rs(down_port)["last_failure"]["reason"], "refused");
    assert_eq!(rs(down_port)["checks"][0]["last"]["reason"], "refused");
    let out = ipvsd(&["status", "--socket", &sock_arg]);
    assert!(out.status.success());
    let table = String::from_utf8(out.stdout).unwrap();
    let down_addr = format!("127.0.0.1:{down_port}");
    let line = table.lines().find(|l| l.contains(&down_addr)).unwrap();
    let cols: Vec<&str> = line.split_whitespace().collect();
    // -> ADDR Forward Weight ActiveConn InActConn Health Drain Last-failure...
    assert_eq!(
        &cols[..8],
        ["->", &down_addr, "Masq", "0", "0", "0", "down", "-"],
        "{table}"
    );
    assert_eq!(cols[8..10], ["tcp#0", "refused:"], "{table}");

    // The control socket: made with its directory, reachable by root and the daemon's
    // user and group only.
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode(&sock), 0o660, "{}", sock.display());
    assert_eq!(mode(sock.parent().unwrap()), 0o750);

    // The TCP listener is read-only: changes are refused there, whoever asks.
    let (code, body) = post(
        admin,
        "/api/v1/drain",
        "application/json",
        &format!("{{\"virtual_server\": \"web\", \"real_server\": \"127.0.0.1:{up_port}\"}}"),
    )
    .expect("an answer");
    assert_eq!(code, 403, "{body}");
    assert!(body.contains("control socket"), "{body}");
    assert_eq!(
        post(admin, "/api/v1/reload", "application/json", "").map(|r| r.0),
        Some(403)
    );
    let out = ipvsd(&["reload", "--admin", &format!("127.0.0.1:{admin}")]);
    assert_eq!(out.status.code(), Some(4));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("read-only"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // 2. The operator drains the healthy server: weight 0, out of the quorum. `ipvsd
    // drain --config` finds the control socket in the config.
    let up_addr = format!("127.0.0.1:{up_port}");
    let out = ipvsd(&["drain", "web", &up_addr, "--config", cfg.to_str().unwrap()]);
    assert_success(&out);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("{up_addr} of web: drained\n")
    );
    let m = wait_for(admin, &format!("ipvsd_real_server_drained{{{up}}}"), 1.0);
    assert_eq!(value(&m, &format!("ipvsd_real_server_weight{{{up}}}")), 0.0);
    assert_eq!(value(&m, &format!("ipvsd_real_server_up{{{up}}}")), 1.0);
    assert_eq!(
        value(
            &m,
            "ipvsd_virtual_server_alive_weight{virtual_server=\"web\"}"
        ),
        0.0
    );
    assert_eq!(
        value(&m, "ipvsd_virtual_server_quorum_up{virtual_server=\"web\"}"),
        0.0
    );
    let m = wait_for(
        admin,
        &format!("ipvsd_ipvs_backend_weight{{{}}}", backend(up_port)),
        0.0,
    );
    assert_eq!(
        value(&m, &format!("ipvsd_real_server_drained{{{up}}}")),
        1.0
    );
    // Again: no change. Unknown names: exit 5 with what exists.
    let out = ipvsd(&["drain", "web", &up_addr, "--socket", &sock_arg]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("already drained"));
    let out = ipvsd(&["drain", "web", "192.0.2.99:80", "--socket", &sock_arg]);
    assert_eq!(out.status.code(), Some(5));
    assert!(String::from_utf8_lossy(&out.stderr).contains("has no real server `192.0.2.99:80`"));
    let out = ipvsd(&["undrain", "nope", "192.0.2.99:80", "--socket", &sock_arg]);
    assert_eq!(out.status.code(), Some(5));
    // A drain must be JSON: a form post is refused.
    assert_eq!(
        post_socket(
            &sock,
            "/api/v1/drain",
            "application/x-www-form-urlencoded",
            "virtual_server=web"
        )
        .map(|r| r.0),
        Some(415)
    );

    // 3. A reload adds a real server: the drain survives it.
    let third = listener();
    config(&cfg, admin, &[(up_port, 2), (down_port, 3), (third, 4)]);
    // `ipvsd reload` (the admin API) says what it changed: the two unchanged checks kept
    // running, one started.
    let out = ipvsd(&["reload", "--socket", &sock_arg]);
    assert_success(&out);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "reloaded: checks 2 kept, 1 started, 0 stopped; VRRP instances 0 kept, 0 restarted\n"
    );
    let third_rs = format!("virtual_server=\"web\",real_server=\"127.0.0.1:{third}\"");
    let m = wait_for(
        admin,
        &format!("ipvsd_real_server_weight{{{third_rs}}}"),
        4.0,
    );
    assert_eq!(value(&m, "ipvsd_config_reloads{result=\"success\"}"), 1.0);
    assert_eq!(
        value(&m, &format!("ipvsd_real_server_drained{{{up}}}")),
        1.0
    );
    assert_eq!(value(&m, &format!("ipvsd_real_server_weight{{{up}}}")), 0.0);
    assert_eq!(
        value(
            &m,
            "ipvsd_virtual_server_alive_weight{virtual_server=\"web\"}"
        ),
        4.0
    );

    // 4. A bad config is rejected: flag down, everything else as it was.
    std::fs::write(&cfg, "virtual_servers: [{address: nonsense}]\n").unwrap();
    d.hup();
    let m = wait_for(admin, "ipvsd_config_last_reload_successful", 0.0);
    assert_eq!(value(&m, "ipvsd_config_reloads{result=\"failure\"}"), 1.0);
    // Through `ipvsd reload`: exit 1 and every problem with file:line:column.
    let out = ipvsd(&["reload", "--socket", &sock_arg]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with(&format!("{}:1:", cfg.display())), "{err}");
    assert!(err.contains("reload rejected"), "{err}");
    let m = wait_for(admin, "ipvsd_config_reloads{result=\"failure\"}", 2.0);
    assert_eq!(
        value(&m, &format!("ipvsd_real_server_weight{{{third_rs}}}")),
        4.0
    );
    // The bad-input corpus's hostile files (10 MB, not UTF-8, nested 100,000 deep, an
    // alias bomb, numbers beyond 64 bits, ...): each reload is refused with its reason and
    // writes nothing to the table.
    let writes = |m: &[openmetrics::Sample]| -> f64 {
        m.iter()
            .filter(|s| s.family == "ipvsd_reconcile_writes")
            .map(|s| s.value)
            .sum()
    };
    let writes_before = writes(&m);
    let hostile = common::hostile_configs();
    for (name, content, says) in &hostile {
        std::fs::write(&cfg, content).unwrap();
        let out = ipvsd(&["reload", "--socket", &sock_arg]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {err}");
        assert!(err.contains(says), "{name}: expected {says:?} in {err}");
    }
    let failures = 2.0 + hostile.len() as f64;
    let m = wait_for(admin, "ipvsd_config_reloads{result=\"failure\"}", failures);
    assert_eq!(
        writes(&m),
        writes_before,
        "a refused reload wrote to the table"
    );
    assert_eq!(
        value(&m, &format!("ipvsd_real_server_weight{{{third_rs}}}")),
        4.0
    );
    assert_eq!(
        value(&m, &format!("ipvsd_real_server_drained{{{up}}}")),
        1.0
    );

    // 5. Undrained (the service named as `ipvsd status` shows it): the weight comes back.
    let out = ipvsd(&[
        "undrain",
        "TCP 203.0.113.7:80",
        &up_addr,
        "--socket",
        &sock_arg,
    ]);
    assert_success(&out);
    let m = wait_for(admin, &format!("ipvsd_real_server_weight{{{up}}}"), 2.0);
    assert_eq!(
        value(&m, &format!("ipvsd_real_server_drained{{{up}}}")),
        0.0
    );

    // 6. A reload drops the failed server: its counters go with it (they would otherwise
    // pile up as a pool's addresses change); the servers that stay keep counting.
    let up_ok = format!("ipvsd_checks{{{up},check=\"tcp#0\",result=\"success\"}}");
    let before = value(&m, &up_ok);
    config(&cfg, admin, &[(up_port, 2), (third, 4)]);
    let out = ipvsd(&["reload", "--socket", &sock_arg]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "reloaded: checks 2 kept, 0 started, 1 stopped; VRRP instances 0 kept, 0 restarted\n"
    );
    // The kept check goes on counting from where it was (not from 0).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let m = loop {
        let m = daemon_support::scrape(admin);
        if value(&m, &up_ok) >= before + 2.0 {
            break m;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{up_ok} stopped counting"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    for gone in [
        format!("ipvsd_real_server_transitions{{{down},to=\"down\"}}"),
        format!("ipvsd_checks{{{down},check=\"tcp#0\",result=\"failure\"}}"),
        format!("ipvsd_real_server_up{{{down}}}"),
    ] {
        assert!(
            openmetrics::value(&m, &gone).is_err(),
            "{gone} is still exported after the reload dropped its server"
        );
    }

    assert_eq!(get(admin, "/healthz"), Some((200, "ok\n".into())));
    assert_eq!(get(admin, "/readyz"), Some((200, "ready\n".into())));
    assert_eq!(get(admin, "/nope").map(|r| r.0), Some(404));
}

#[test]
fn a_drain_outlives_a_restart_and_an_undrain_too() {
    let port = listener();
    let admin = free_port();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("ipvsd.yaml");
    config(&cfg, admin, &[(port, 5)]);
    let sock = control_socket(&cfg);
    let sock_arg = sock.to_str().unwrap().to_string();
    let start = || daemon(&cfg);
    let rs = format!("virtual_server=\"web\",real_server=\"127.0.0.1:{port}\"");
    let addr = format!("127.0.0.1:{port}");
    let drains = dir.path().join("state/drains");

    let d = start();
    wait_for(admin, &format!("ipvsd_real_server_weight{{{rs}}}"), 5.0);
    assert!(!drains.exists(), "nothing drained, nothing written");
    let out = ipvsd(&["drain", "web", &addr, "--socket", &sock_arg]);
    assert_success(&out);
    wait_for(admin, &format!("ipvsd_real_server_drained{{{rs}}}"), 1.0);
    let text = std::fs::read_to_string(&drains).unwrap();
    assert!(
        text.ends_with(&format!("TCP 203.0.113.7:80\t{addr}\n")),
        "{text}"
    );
    drop(d);

    // The next run starts with the drain: weight 0 from its first table on.
    let d = start();
    let m = wait_for(admin, "ipvsd_ready", 1.0);
    assert_eq!(
        value(&m, &format!("ipvsd_real_server_drained{{{rs}}}")),
        1.0
    );
    assert_eq!(value(&m, &format!("ipvsd_real_server_weight{{{rs}}}")), 0.0);
    let out = ipvsd(&["undrain", "web", &addr, "--socket", &sock_arg]);
    assert_success(&out);
    wait_for(admin, &format!("ipvsd_real_server_weight{{{rs}}}"), 5.0);
    drop(d);

    // Undrained is kept too. (The killed daemons left their control socket behind; each
    // start replaced it.)
    let d = start();
    let m = wait_for(admin, "ipvsd_ready", 1.0);
    assert_eq!(
        value(&m, &format!("ipvsd_real_server_drained{{{rs}}}")),
        0.0
    );
    wait_for(admin, &format!("ipvsd_real_server_weight{{{rs}}}"), 5.0);

    // A second daemon with the same control socket leaves the live one alone.
    let other_cfg = dir.path().join("other.yaml");
    config(&other_cfg, free_port(), &[(port, 5)]);
    let other = daemon(&other_cfg);
    std::thread::sleep(Duration::from_millis(1500));
    let out = ipvsd(&["status", "--socket", &sock_arg, "--json"]);
    assert_success(&out);
    let out = ipvsd(&["drain", "web", &addr, "--socket", &sock_arg]);
    assert_success(&out);
    wait_for(admin, &format!("ipvsd_real_server_drained{{{rs}}}"), 1.0);
    drop(other);

    // A stopped daemon takes its socket file away.
    d.signal(nix::sys::signal::Signal::SIGTERM);
    let mut d = d;
    let status = d.0.wait().unwrap();
    assert!(status.success(), "{status}");
    assert!(!sock.exists(), "{} left behind", sock.display());
}
