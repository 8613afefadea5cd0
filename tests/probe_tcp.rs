//! tcp probes against local listeners.

mod probe_support;

use std::net::{IpAddr, Ipv4Addr};

use ipvsd::check::{Failure, Reason, Target};
use ipvsd::config::types::CheckKind;
use probe_support::*;

#[tokio::test]
async fn tcp_probe_of_a_listening_port_is_up() {
    let server = serve(|_s, _, _| async {}).await;
    let o = probe(&check(CheckKind::Tcp), server.addr).await;
    assert_eq!(o.result, Ok(()));
    assert!(o.latency < TIMEOUT, "{:?}", o.latency);
}

#[tokio::test]
async fn tcp_probe_of_a_closed_port_is_refused() {
    let addr = closed_port().await;
    let o = probe(&check(CheckKind::Tcp), addr).await;
    assert_eq!(
        o.result,
        Err(Failure::new(Reason::Refused, "connection refused"))
    );
}

#[tokio::test]
async fn tcp_probe_connects_from_the_source_address() {
    let server = serve(|_s, peer, seen| async move { seen.push(peer.ip().to_string()) }).await;
    let source = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    let target = Target {
        source: Some(source),
        ..target(server.addr)
    };
    let o = prober(&check(CheckKind::Tcp), target).probe().await;
    assert_eq!(o.result, Ok(()));
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert_eq!(server.seen.all(), vec!["127.0.0.2".to_string()]);
}

#[tokio::test]
async fn tcp_probe_from_a_source_address_that_is_not_local_fails_without_connecting() {
    let server = serve(|_s, peer, seen| async move { seen.push(peer.ip().to_string()) }).await;
    let target = Target {
        source: Some("192.0.2.99".parse().unwrap()),
        ..target(server.addr)
    };
    let o = prober(&check(CheckKind::Tcp), target).probe().await;
    assert_eq!(
        o.result,
        Err(Failure::new(
            Reason::Network,
            "cannot bind 192.0.2.99: Cannot assign requested address (os error 99)"
        ))
    );
    assert!(server.seen.all().is_empty());
}

#[tokio::test]
async fn tcp_probe_of_a_listener_whose_queue_is_full_times_out() {
    // Nobody accepts and the accept queue is full: the kernel drops the probe's SYN.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(0).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut fillers = Vec::new();
    for _ in 0..2 {
        let connect = tokio::net::TcpStream::connect(addr);
        if let Ok(Ok(s)) =
            tokio::time::timeout(std::time::Duration::from_millis(100), connect).await
        {
            fillers.push(s);
        }
    }
    assert!(!fillers.is_empty(), "could not fill the accept queue");
    let o = probe(&check(CheckKind::Tcp), addr).await;
    assert_eq!(
        o.result,
        Err(Failure::new(Reason::Timeout, "no connection within 300ms"))
    );
    assert_cut_at_timeout(&o, TIMEOUT);
    drop(listener);
}

#[tokio::test]
async fn a_tcp_probe_in_flight_holds_little_memory() {
    // Every check task holds its probe future for its whole life: 10,000 TCP checks must
    // not each reserve the space of an HTTPS exchange (the big kinds are boxed).
    let addr = closed_port().await;
    let p = prober(&check(CheckKind::Tcp), target(addr));
    let fut = p.probe_from(tokio::time::Instant::now());
    let size = std::mem::size_of_val(&fut);
    assert!(size <= 1024, "probe future is {size} bytes");
    assert_eq!(
        fut.await.result,
        Err(Failure::new(Reason::Refused, "connection refused"))
    );
}
