//! The least a health checker can do, for tests/bench/checks.sh: the same probes as
//! ipvsd and keepalived (TCP connect, or HTTP GET / with a 200 expected) on the same
//! schedule (every real server once a second, spread over the second on a 10 ms grid),
//! with nothing else: blocking sockets, no event loop, no timers beyond one sleep per
//! step, no results kept, no table. Its CPU time is the floor that the kernel's work per
//! probe (socket, loopback handshake, close) puts under any connect-based checker.
//! Standard library only: built with `rustc -O` into target/bench/.
//!
//!   floor MODE N SECONDS
//!
//! MODE `tcp` or `http`; N real servers 127.0.1.1.. (250 per /24, as checks.sh writes
//! them) on port 80; runs SECONDS seconds, then prints `probes=P failures=F`.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

fn addr(i: usize) -> SocketAddr {
    let ip = Ipv4Addr::new(127, 0, (1 + i / 250) as u8, (1 + i % 250) as u8);
    SocketAddr::from((ip, 80))
}

fn probe(a: &SocketAddr, http: bool) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(a, Duration::from_secs(1)) else {
        return false;
    };
    if !http {
        return true;
    }
    let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
    if s.write_all(b"GET / HTTP/1.0\r\nHost: rs\r\n\r\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 4096];
    let mut got = Vec::new();
    while let Ok(n) = s.read(&mut buf) {
        if n == 0 || got.len() > 65536 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
    got.starts_with(b"HTTP/1.0 200") || got.starts_with(b"HTTP/1.1 200")
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        eprintln!("usage: floor tcp|http N SECONDS");
        std::process::exit(2);
    }
    let http = args[1] == "http";
    let n: usize = args[2].parse().expect("N");
    let secs: u64 = args[3].parse().expect("SECONDS");
    let addrs: Vec<SocketAddr> = (0..n).map(addr).collect();
    let step = Duration::from_millis(10);
    let steps = 100; // per second
    let start = Instant::now();
    let (mut probes, mut failures) = (0u64, 0u64);
    let mut k: u64 = 0;
    while start.elapsed() < Duration::from_secs(secs) {
        // Step k of its second: the servers whose offset falls in it.
        let s = (k % steps) as usize;
        let lo = n * s / steps as usize;
        let hi = n * (s + 1) / steps as usize;
        for a in &addrs[lo..hi] {
            probes += 1;
            if !probe(a, http) {
                failures += 1;
            }
        }
        k += 1;
        let due = start + step * k as u32;
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    println!("probes={probes} failures={failures}");
}
