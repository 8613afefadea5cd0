//! A tiny accept-and-reply server for the health-check benchmarks (tests/bench/checks*.sh).
//! Standard library only: built with `rustc -O` into target/bench/ (no Cargo.toml change).
//!
//!   listener MODE PORT STATUS_FILE [THREADS] [MAX_SECONDS]
//!
//! MODE `tcp`: accept and close at once. MODE `http`: read the request head (up to the
//! blank line), answer `HTTP/1.0 200 OK` with a 3-byte body and close. It listens on
//! 0.0.0.0:PORT (so every 127.x.y.z address is served), with THREADS (default 4) threads
//! blocking in accept, and rewrites STATUS_FILE once a second with its totals:
//!
//!   uptime=S accepted=N served=N errors=N dests=D
//!
//! `served` counts completed replies (http) or closed connections (tcp); `errors` counts
//! requests that failed (reset, timeout, no complete head); `dests` the distinct local
//! addresses connected to so far. It exits by itself after MAX_SECONDS (default 900).
//!
//! Flapping (the soak test, http mode): the addresses listed in the file named by
//! `LISTENER_DOWN_FILE` (one per line, re-read every second) answer `503`; those listed in
//! `LISTENER_FAST_FILE` answer `503` during even seconds of the wall clock and `200` during
//! odd ones, flapping faster than any rise/fall count of 2 or more lets through.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{IpAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

unsafe extern "C" {
    fn listen(fd: i32, backlog: i32) -> i32;
}

#[derive(Default)]
struct Stats {
    accepted: AtomicU64,
    served: AtomicU64,
    errors: AtomicU64,
    dests: Mutex<HashSet<IpAddr>>,
}

const REPLY: &[u8] = b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n";
const DOWN: &[u8] = b"HTTP/1.0 503 Service Unavailable\r\nContent-Length: 5\r\nConnection: close\r\n\r\ndown\n";

/// The addresses that answer 503: always (`down`), or in even seconds (`fast`).
#[derive(Default)]
struct Flaps {
    down: HashSet<IpAddr>,
    fast: HashSet<IpAddr>,
}

impl Flaps {
    fn is_down(&self, ip: &IpAddr) -> bool {
        if self.down.contains(ip) {
            return true;
        }
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.fast.contains(ip) && secs % 2 == 0
    }
}

fn read_set(var: &str) -> HashSet<IpAddr> {
    std::env::var(var)
        .ok()
        .and_then(|f| std::fs::read_to_string(f).ok())
        .map(|t| t.lines().filter_map(|l| l.trim().parse().ok()).collect())
        .unwrap_or_default()
}

fn serve_http(mut s: TcpStream, down: bool) -> bool {
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = s.set_write_timeout(Some(Duration::from_secs(2)));
    let mut buf = [0u8; 4096];
    let mut len = 0;
    loop {
        match s.read(&mut buf[len..]) {
            Ok(0) | Err(_) => return false,
            Ok(n) => len += n,
        }
        if buf[..len].windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
        if len == buf.len() {
            return false;
        }
    }
    s.write_all(if down { DOWN } else { REPLY }).is_ok()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!("usage: listener tcp|http PORT STATUS_FILE [THREADS] [MAX_SECONDS]");
        std::process::exit(2);
    }
    let http = match args[1].as_str() {
        "http" => true,
        "tcp" => false,
        m => {
            eprintln!("listener: unknown mode {m}");
            std::process::exit(2);
        }
    };
    let port: u16 = args[2].parse().expect("PORT");
    let status = args[3].clone();
    let threads: usize = args.get(4).map_or(4, |t| t.parse().expect("THREADS"));
    let max_secs: u64 = args.get(5).map_or(900, |t| t.parse().expect("MAX_SECONDS"));

    let l = TcpListener::bind(("0.0.0.0", port)).unwrap_or_else(|e| {
        eprintln!("listener: cannot listen on 0.0.0.0:{port}: {e}");
        std::process::exit(1);
    });
    // std listens with a backlog of 128; a larger one (capped by somaxconn) keeps bursts
    // from overflowing the accept queue.
    unsafe { listen(l.as_raw_fd(), 65535) };
    let stats = Arc::new(Stats::default());
    let flaps = Arc::new(Mutex::new(Flaps::default()));
    for _ in 0..threads {
        let l = l.try_clone().expect("clone listener");
        let st = stats.clone();
        let flaps = flaps.clone();
        std::thread::spawn(move || {
            loop {
                let s = match l.accept() {
                    Ok((s, _)) => s,
                    Err(_) => continue,
                };
                st.accepted.fetch_add(1, Relaxed);
                let mut down = false;
                if let Ok(a) = s.local_addr() {
                    let ip = a.ip();
                    down = flaps.lock().unwrap().is_down(&ip);
                    let mut d = st.dests.lock().unwrap();
                    if !d.contains(&ip) {
                        d.insert(ip);
                    }
                }
                let ok = if http { serve_http(s, down) } else { true };
                if ok {
                    st.served.fetch_add(1, Relaxed);
                } else {
                    st.errors.fetch_add(1, Relaxed);
                }
            }
        });
    }
    let t0 = Instant::now();
    let tmp = format!("{status}.tmp");
    loop {
        {
            let mut f = flaps.lock().unwrap();
            f.down = read_set("LISTENER_DOWN_FILE");
            f.fast = read_set("LISTENER_FAST_FILE");
        }
        std::thread::sleep(Duration::from_secs(1));
        let up = t0.elapsed().as_secs();
        let line = format!(
            "uptime={} accepted={} served={} errors={} dests={}\n",
            up,
            stats.accepted.load(Relaxed),
            stats.served.load(Relaxed),
            stats.errors.load(Relaxed),
            stats.dests.lock().unwrap().len()
        );
        if std::fs::write(&tmp, line).is_ok() {
            let _ = std::fs::rename(&tmp, &status);
        }
        if up >= max_secs {
            std::process::exit(0);
        }
    }
}
