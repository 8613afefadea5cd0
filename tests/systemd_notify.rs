//! The systemd notify protocol as a `Type=notify` unit sees it: a daemon started with
//! `$NOTIFY_SOCKET` and `$WATCHDOG_USEC` sends READY=1 once its IPVS table converged (with a
//! STATUS line), WATCHDOG=1 keep-alives at half the watchdog timeout, RELOADING=1 then
//! READY=1 around `ipvsd reload`, and STOPPING=1 on SIGTERM.

use std::net::TcpListener;
use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The next datagram, or None after `limit`.
fn next(sock: &UnixDatagram, limit: Duration) -> Option<String> {
    sock.set_read_timeout(Some(limit)).unwrap();
    let mut buf = [0u8; 4096];
    let n = sock.recv(&mut buf).ok()?;
    Some(String::from_utf8_lossy(&buf[..n]).into_owned())
}

/// Datagrams until one starts with `prefix` (at most 10 s); every one seen.
fn until(sock: &UnixDatagram, prefix: &str) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        if let Some(m) = next(sock, Duration::from_millis(500)) {
            let done = m.starts_with(prefix);
            seen.push(m);
            if done {
                return seen;
            }
        }
    }
    panic!("no {prefix} within 10 s; got {seen:?}");
}

#[test]
fn ready_watchdog_reload_and_stop_are_notified() {
    let dir = tempfile::tempdir().unwrap();
    let sock_path = dir.path().join("notify");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    let admin = free_port();
    let cfg = dir.path().join("ipvsd.yaml");
    let control = dir.path().join("ipvsd.sock");
    let write = |weight: u32| {
        std::fs::write(
            &cfg,
            format!(
                "global: {{node_name: t, admin_listen: \"127.0.0.1:{admin}\", control_socket: \"{}\"}}\n\
                 virtual_servers:\n\
                 \x20 - name: web\n\
                 \x20   address: 203.0.113.7:80\n\
                 \x20   real_servers: [{{address: 198.51.100.27:80, weight: {weight}}}]\n",
                control.display()
            ),
        )
        .unwrap()
    };
    write(1);
    let mut child = Command::new(env!("CARGO_BIN_EXE_ipvsd"))
        .args(["run", "--ipvs-backend", "memory", "--config"])
        .arg(&cfg)
        .env("NOTIFY_SOCKET", &sock_path)
        .env("WATCHDOG_USEC", "200000")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let ready = until(&sock, "READY=1");
    assert_eq!(
        ready.last().unwrap(),
        "READY=1\nSTATUS=1 virtual servers, 1/1 real servers up"
    );
    // Keep-alives every 100 ms (half of 200 ms): at least 5 in 1 s.
    let start = Instant::now();
    let mut dogs = 0;
    while start.elapsed() < Duration::from_secs(1) {
        if next(&sock, Duration::from_millis(300)).as_deref() == Some("WATCHDOG=1") {
            dogs += 1;
        }
    }
    assert!(
        (5..=15).contains(&dogs),
        "{dogs} watchdog keep-alives in 1 s"
    );

    write(2);
    let out = Command::new(env!("CARGO_BIN_EXE_ipvsd"))
        .args(["reload", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen = until(&sock, "READY=1");
    let reloading = seen
        .iter()
        .position(|m| m.starts_with("RELOADING=1\nMONOTONIC_USEC="))
        .unwrap_or_else(|| panic!("no RELOADING=1 in {seen:?}"));
    assert!(reloading < seen.len() - 1);

    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
    let seen = until(&sock, "STOPPING=1");
    assert_eq!(seen.last().unwrap(), "STOPPING=1\nSTATUS=stopping");
    assert!(child.wait().unwrap().success());
}
