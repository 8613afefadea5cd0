//! Shared by the tests that run a daemon and read its admin API: the child process (killed
//! when dropped), free ports, plain HTTP/1.1 GETs, and /metrics parsed by a real
//! OpenMetrics parser.
#![allow(dead_code)]

#[path = "../openmetrics/mod.rs"]
pub mod openmetrics;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Child;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// A daemon child process, killed and reaped when dropped.
pub struct Daemon(pub Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Daemon {
    pub fn pid(&self) -> i32 {
        self.0.id() as i32
    }

    pub fn signal(&self, s: Signal) {
        kill(Pid::from_raw(self.pid()), s).unwrap();
    }

    pub fn hup(&self) {
        self.signal(Signal::SIGHUP);
    }
}

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// GET path -> (status, body).
pub fn get(port: u16, path: &str) -> Option<(u16, String)> {
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

/// The parsed exposition; panics if /metrics does not answer or does not parse.
pub fn scrape(admin: u16) -> Vec<openmetrics::Sample> {
    let (code, body) = get(admin, "/metrics").expect("/metrics answers");
    assert_eq!(code, 200);
    assert!(body.ends_with("# EOF\n"));
    openmetrics::parse(&body).unwrap_or_else(|e| panic!("{e}\n{body}"))
}

pub fn value(samples: &[openmetrics::Sample], sel: &str) -> f64 {
    openmetrics::value(samples, sel).unwrap_or_else(|e| panic!("{e}"))
}

/// Scrapes until `sel` has the value `want` (at most 10 s); the samples of that scrape.
pub fn wait_for(admin: u16, sel: &str, want: f64) -> Vec<openmetrics::Sample> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if get(admin, "/metrics").is_some() {
            let s = scrape(admin);
            if openmetrics::value(&s, sel) == Ok(want) {
                return s;
            }
        }
        assert!(Instant::now() < deadline, "{sel} never became {want}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The status document (`/api/v1/status`) as JSON; None until the daemon answers 200.
pub fn status(admin: u16) -> Option<serde_json::Value> {
    let (code, body) = get(admin, "/api/v1/status")?;
    if code != 200 {
        return None;
    }
    serde_json::from_str(&body).ok()
}

/// splitmix64: small and seedable, for tests that pick faults and flaps at random and
/// print their seed.
pub struct Rng(pub u64);

impl Rng {
    /// The seed in the environment variable `var`, or one from the clock; the caller
    /// prints it, so a failing run can be repeated.
    pub fn seed_from_env(var: &str) -> u64 {
        std::env::var(var)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(1, |d| d.as_nanos() as u64)
            })
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in 0..n.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}
