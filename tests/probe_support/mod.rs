//! Shared pieces of the probe tests: checks with test-sized timeouts, and small servers on
//! 127.0.0.1 that answer, misbehave on purpose and record what they saw.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ipvsd::check::probe::{ProbeContext, Prober};
use ipvsd::check::{Outcome, Target};
use ipvsd::config::types::{Check, CheckKind, HttpCheck, StatusSet};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// The timeout most tests use: short, but far above loopback round trips.
pub const TIMEOUT: Duration = Duration::from_millis(300);
/// How late past its timeout a probe may return.
pub const SLACK: Duration = Duration::from_millis(250);

pub fn check(kind: CheckKind) -> Check {
    Check {
        kind,
        interval: Duration::from_secs(2),
        timeout: TIMEOUT,
        rise: 2,
        fall: 3,
        connect_address: None,
        connect_port: None,
        source_address: None,
    }
}

pub fn http() -> HttpCheck {
    HttpCheck {
        method: "GET".into(),
        path: "/".into(),
        host: None,
        headers: BTreeMap::new(),
        expect_status: StatusSet(vec![(200, 299)]),
        expect_body: None,
        max_body_bytes: 65536,
    }
}

pub fn target(addr: SocketAddr) -> Target {
    Target {
        addr: addr.ip(),
        port: addr.port(),
        source: None,
    }
}

pub fn ctx() -> ProbeContext {
    ProbeContext {
        service: "web".into(),
        real_server: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10)),
        real_port: 8080,
    }
}

pub fn prober(check: &Check, target: Target) -> Prober {
    Prober::new(check, target, ctx(), "nobody").expect("prober setup")
}

/// One probe of `check` against `addr`.
pub async fn probe(check: &Check, addr: SocketAddr) -> Outcome {
    prober(check, target(addr)).probe().await
}

/// Asserts that a timed-out probe returned at its timeout, not before and not much after.
pub fn assert_cut_at_timeout(o: &Outcome, timeout: Duration) {
    assert!(
        o.latency >= timeout && o.latency < timeout + SLACK,
        "latency {:?} for a {timeout:?} timeout",
        o.latency
    );
}

/// A port on 127.0.0.1 that nothing listens on.
pub async fn closed_port() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap()
}

/// A TCP server on 127.0.0.1 that runs `handle` for every connection until dropped.
pub struct Server {
    pub addr: SocketAddr,
    pub seen: Seen,
    task: JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What a test server saw: one string per request (or per connection), in order.
#[derive(Clone, Default)]
pub struct Seen(Arc<Mutex<Vec<String>>>);

impl Seen {
    pub fn push(&self, s: impl Into<String>) {
        self.0.lock().unwrap().push(s.into());
    }

    pub fn all(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

pub async fn serve<F, Fut>(handle: F) -> Server
where
    F: Fn(TcpStream, SocketAddr, Seen) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    serve_at("127.0.0.1:0", handle).await
}

/// `serve` on another local address (`[::1]:0`).
pub async fn serve_at<F, Fut>(bind: &str, handle: F) -> Server
where
    F: Fn(TcpStream, SocketAddr, Seen) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind(bind)
        .await
        .unwrap_or_else(|e| panic!("cannot listen on {bind}: {e}"));
    let addr = listener.local_addr().unwrap();
    let seen = Seen::default();
    let seen2 = seen.clone();
    let handle = Arc::new(handle);
    let task = tokio::spawn(async move {
        let mut conns = tokio::task::JoinSet::new();
        while let Ok((stream, peer)) = listener.accept().await {
            conns.spawn(handle(stream, peer, seen2.clone()));
        }
    });
    Server { addr, seen, task }
}

/// Reads an HTTP request head (up to the blank line).
pub async fn read_head<S: AsyncRead + Unpin>(s: &mut S) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 16 * 1024 {
        match s.read(&mut byte).await {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// A server that reads each request, records its head, and sends `response` (then closes).
pub async fn respond(response: &'static str) -> Server {
    serve(move |mut s, _, seen| async move {
        use tokio::io::AsyncWriteExt;
        let head = read_head(&mut s).await;
        seen.push(head);
        let _ = s.write_all(response.as_bytes()).await;
        let _ = s.shutdown().await;
    })
    .await
}

/// A complete response with a body.
pub fn response(status: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// Leaks a response so it can be served by `respond` (tests only).
pub fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// An HTTP server whose answer the test switches: 200 while `up()` holds, 503 otherwise
/// (asked as each request is read). Each answer is recorded (`"200"` or `"503"`).
pub async fn switchable(up: impl Fn() -> bool + Send + Sync + 'static) -> Server {
    let up = Arc::new(up);
    serve(move |mut s, _, seen| {
        let up = up.clone();
        async move {
            use tokio::io::AsyncWriteExt;
            read_head(&mut s).await;
            let status = if up() {
                "200 OK"
            } else {
                "503 Service Unavailable"
            };
            seen.push(&status[..3]);
            let _ = s.write_all(response(status, "").as_bytes()).await;
            let _ = s.shutdown().await;
        }
    })
    .await
}
