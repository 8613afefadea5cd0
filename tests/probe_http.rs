//! http probes against local servers that answer well, badly, slowly or not at all.

mod probe_support;

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use ipvsd::check::{Failure, Reason, Target};
use ipvsd::config::types::{CheckKind, HttpCheck, StatusSet};
use probe_support::*;
use tokio::io::AsyncWriteExt;

fn http_check(h: HttpCheck) -> ipvsd::config::types::Check {
    check(CheckKind::Http(h))
}

#[tokio::test]
async fn http_probe_of_a_200_is_up_and_sends_a_plain_get() {
    let server = respond(leak(response("200 OK", "ok"))).await;
    let o = probe(&http_check(http()), server.addr).await;
    assert_eq!(o.result, Ok(()));
    assert_eq!(
        server.seen.all(),
        vec![format!(
            "GET / HTTP/1.1\r\nhost: 127.0.0.1:{}\r\nuser-agent: ipvsd/{} health-check\r\nconnection: close\r\n\r\n",
            server.addr.port(),
            env!("CARGO_PKG_VERSION")
        )]
    );
}

#[tokio::test]
async fn http_probe_of_a_closed_port_is_refused() {
    let o = probe(&http_check(http()), closed_port().await).await;
    assert_eq!(
        o.result,
        Err(Failure::new(Reason::Refused, "connection refused"))
    );
}

#[tokio::test]
async fn http_probe_of_a_server_that_resets_after_accept_fails_with_reset() {
    let server = serve(|s, _, _| async move {
        // SO_LINGER 0: close sends RST instead of FIN.
        let s = socket2_linger_zero(s);
        drop(s);
    })
    .await;
    let o = probe(&http_check(http()), server.addr).await;
    assert_eq!(
        o.result,
        Err(Failure::new(Reason::Reset, "connection reset"))
    );
}

#[allow(deprecated)]
fn socket2_linger_zero(s: tokio::net::TcpStream) -> tokio::net::TcpStream {
    s.set_linger(Some(Duration::ZERO)).unwrap();
    s
}

#[tokio::test]
async fn http_probe_of_a_server_that_closes_without_answering_fails_with_reset() {
    let server = serve(|mut s, _, _| async move {
        read_head(&mut s).await;
        let _ = s.shutdown().await;
    })
    .await;
    let o = probe(&http_check(http()), server.addr).await;
    assert_eq!(
        o.result,
        Err(Failure::new(
            Reason::Reset,
            "connection closed before the response was complete"
        ))
    );
}

#[tokio::test]
async fn http_probe_of_a_server_that_hangs_after_accept_times_out() {
    let server = serve(|s, _, _| async move {
        tokio::time::sleep(Duration::from_secs(10)).await;
        drop(s);
    })
    .await;
    let o = probe(&http_check(http()), server.addr).await;
    assert_eq!(
        o.result,
        Err(Failure::new(Reason::Timeout, "no response within 300ms"))
    );
    assert_cut_at_timeout(&o, TIMEOUT);
}

#[tokio::test]
async fn http_probe_of_a_server_that_trickles_its_headers_times_out() {
    let server = serve(|mut s, _, _| async move {
        read_head(&mut s).await;
        for b in b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok" {
            if s.write_all(&[*b]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(40)).await;
        }
    })
    .await;
    let o = probe(&http_check(http()), server.addr).await;
    assert_eq!(
        o.result,
        Err(Failure::new(Reason::Timeout, "no response within 300ms"))
    );
    assert_cut_at_timeout(&o, TIMEOUT);
}

#[tokio::test]
async fn http_probe_of_a_server_that_trickles_its_body_times_out() {
    let server = serve(|mut s, _, _| async move {
        read_head(&mut s).await;
        let _ = s
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n")
            .await;
        for _ in 0..100 {
            if s.write_all(b"x").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(40)).await;
        }
    })
    .await;
    let o = probe(&http_check(http()), server.addr).await;
    assert_eq!(
        o.result,
        Err(Failure::new(
            Reason::Timeout,
            "response body not complete within 300ms"
        ))
    );
    assert_cut_at_timeout(&o, TIMEOUT);
}

#[tokio::test]
async fn http_probe_of_a_server_that_closes_mid_body_fails_with_reset() {
    let server = respond("HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly part").await;
    let o = probe(&http_check(http()), server.addr).await;
    assert_eq!(
        o.result,
        Err(Failure::new(Reason::Reset, "connection closed early"))
    );
}

#[tokio::test]
async fn http_probe_of_a_500_fails_with_the_status() {
    let server = respond(leak(response("500 Internal Server Error", "oops"))).await;
    let o = probe(&http_check(http()), server.addr).await;
    assert_eq!(
        o.result,
        Err(Failure::new(Reason::HttpStatus, "status 500"))
    );
}

#[tokio::test]
async fn http_probe_of_something_that_is_not_http_fails_with_protocol() {
    let server = respond("SSH-2.0-OpenSSH_9.6\r\n\r\n").await;
    let o = probe(&http_check(http()), server.addr).await;
    assert_eq!(
        o.result,
        Err(Failure::new(
            Reason::Protocol,
            "malformed response: invalid HTTP version parsed"
        ))
    );
}

#[tokio::test]
async fn http_probe_with_the_expected_body_is_up() {
    let server = respond(leak(response("200 OK", "status: ok\n"))).await;
    let h = HttpCheck {
        expect_body: Some("status: ok".into()),
        ..http()
    };
    let o = probe(&http_check(h), server.addr).await;
    assert_eq!(o.result, Ok(()));
}

#[tokio::test]
async fn http_probe_with_the_wrong_body_fails_with_body_mismatch() {
    let server = respond(leak(response("200 OK", "status: degraded\n"))).await;
    let h = HttpCheck {
        expect_body: Some("^status: ok$".into()),
        ..http()
    };
    let o = probe(&http_check(h), server.addr).await;
    assert_eq!(
        o.result,
        Err(Failure::new(
            Reason::BodyMismatch,
            "body does not match \"^status: ok$\""
        ))
    );
}

#[tokio::test]
async fn http_probe_matches_only_the_first_max_body_bytes() {
    let server = respond(leak(response("200 OK", "xxxxxxxxok"))).await;
    let cut = HttpCheck {
        expect_body: Some("ok".into()),
        max_body_bytes: 8,
        ..http()
    };
    let o = probe(&http_check(cut.clone()), server.addr).await;
    assert_eq!(
        o.result,
        Err(Failure::new(
            Reason::BodyMismatch,
            "body does not match \"ok\" in the first 8 bytes"
        ))
    );
    let whole = HttpCheck {
        max_body_bytes: 10,
        ..cut
    };
    assert_eq!(probe(&http_check(whole), server.addr).await.result, Ok(()));
}

#[tokio::test]
async fn http_probe_stops_reading_an_endless_body_at_max_body_bytes() {
    // With a body pattern (the body is kept and matched) and without one (only counted).
    for expect_body in [Some("^y+$".to_string()), None] {
        endless_body(expect_body).await;
    }
}

async fn endless_body(expect_body: Option<String>) {
    let server = serve(|mut s, _, seen| async move {
        read_head(&mut s).await;
        let _ = s
            .write_all(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
            .await;
        let chunk = format!("400\r\n{}\r\n", "y".repeat(1024));
        let mut sent = 0usize;
        while s.write_all(chunk.as_bytes()).await.is_ok() {
            sent += 1024;
            if sent > 64 * 1024 * 1024 {
                break;
            }
        }
        seen.push(format!("stopped after {} KiB", sent / 1024));
    })
    .await;
    let h = HttpCheck {
        expect_body,
        max_body_bytes: 4096,
        ..http()
    };
    let o = probe(&http_check(h), server.addr).await;
    assert_eq!(o.result, Ok(()));
    assert!(o.latency < TIMEOUT, "{:?}", o.latency);
    // The probe hung up long before the server ran out of body.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let seen = server.seen.all();
    assert_eq!(seen.len(), 1);
    assert_ne!(seen[0], "stopped after 65537 KiB");
}

#[tokio::test]
async fn http_probe_accepts_exactly_the_configured_status_codes_and_ranges() {
    let h = HttpCheck {
        expect_status: StatusSet(vec![(204, 204), (300, 399)]),
        ..http()
    };
    for (status, want) in [
        ("204 No Content", Ok(())),
        ("302 Found", Ok(())),
        ("399 Whatever", Ok(())),
        (
            "200 OK",
            Err(Failure::new(Reason::HttpStatus, "status 200")),
        ),
        (
            "205 Reset Content",
            Err(Failure::new(Reason::HttpStatus, "status 205")),
        ),
    ] {
        let server = respond(leak(response(status, ""))).await;
        let o = probe(&http_check(h.clone()), server.addr).await;
        assert_eq!(o.result, want, "{status}");
    }
}

#[tokio::test]
async fn http_probe_sends_head_with_the_host_and_headers_of_the_check() {
    // A HEAD answer announces a length but has no body; the probe must not wait for one.
    let server = respond("HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n").await;
    let h = HttpCheck {
        method: "HEAD".into(),
        path: "/health?deep=1".into(),
        host: Some("www.example.test".into()),
        headers: [
            ("X-Check".to_string(), "ipvsd".to_string()),
            ("User-Agent".to_string(), "probe/1".to_string()),
        ]
        .into(),
        ..http()
    };
    let o = probe(&http_check(h), server.addr).await;
    assert_eq!(o.result, Ok(()));
    assert_eq!(
        server.seen.all(),
        vec![
            "HEAD /health?deep=1 HTTP/1.1\r\nhost: www.example.test\r\nuser-agent: probe/1\r\nx-check: ipvsd\r\nconnection: close\r\n\r\n"
                .to_string()
        ]
    );
}

#[tokio::test]
async fn http_probe_sends_post_with_an_empty_body_of_length_zero() {
    let server = respond(leak(response("200 OK", ""))).await;
    let h = HttpCheck {
        method: "POST".into(),
        path: "/check".into(),
        ..http()
    };
    let o = probe(&http_check(h), server.addr).await;
    assert_eq!(o.result, Ok(()));
    let seen = server.seen.all();
    assert_eq!(seen.len(), 1);
    assert!(
        seen[0].starts_with("POST /check HTTP/1.1\r\n"),
        "{}",
        seen[0]
    );
    assert!(seen[0].contains("\r\ncontent-length: 0\r\n"), "{}", seen[0]);
}

#[tokio::test]
async fn http_probe_does_not_follow_a_redirect() {
    let server = respond(
        "HTTP/1.1 301 Moved Permanently\r\nlocation: /elsewhere\r\ncontent-length: 0\r\n\r\n",
    )
    .await;
    let o = probe(&http_check(http()), server.addr).await;
    assert_eq!(
        o.result,
        Err(Failure::new(Reason::HttpStatus, "status 301"))
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(server.seen.all().len(), 1, "{:?}", server.seen.all());
}

#[tokio::test]
async fn http_probe_opens_a_new_connection_every_time() {
    // A keep-alive server: it would happily serve both requests on one connection.
    let server = serve(|mut s, peer, seen| async move {
        loop {
            let head = read_head(&mut s).await;
            if head.is_empty() {
                return;
            }
            seen.push(format!("{}", peer.port()));
            let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
            if s.write_all(ok).await.is_err() {
                return;
            }
        }
    })
    .await;
    let p = prober(&http_check(http()), target(server.addr));
    assert_eq!(p.probe().await.result, Ok(()));
    assert_eq!(p.probe().await.result, Ok(()));
    let ports = server.seen.all();
    assert_eq!(ports.len(), 2);
    assert_ne!(ports[0], ports[1], "both requests came over one connection");
}

#[tokio::test]
async fn http_probe_connects_from_the_source_address() {
    let server = serve(|mut s, peer, seen| async move {
        read_head(&mut s).await;
        seen.push(peer.ip().to_string());
        let _ = s.write_all(response("200 OK", "").as_bytes()).await;
    })
    .await;
    let t = Target {
        source: Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3))),
        ..target(server.addr)
    };
    let o = prober(&http_check(http()), t).probe().await;
    assert_eq!(o.result, Ok(()));
    assert_eq!(server.seen.all(), vec!["127.0.0.3".to_string()]);
}

#[tokio::test]
async fn http_probe_over_ipv6_sends_the_address_in_brackets_as_host() {
    // Needs IPv6 on loopback; without it the test fails loudly at `serve_at`.
    let server = serve_at("[::1]:0", |mut s, _, seen| async move {
        seen.push(
            read_head(&mut s)
                .await
                .lines()
                .nth(1)
                .unwrap_or("")
                .to_string(),
        );
        let _ = s.write_all(response("200 OK", "").as_bytes()).await;
    })
    .await;
    let o = probe(&http_check(http()), server.addr).await;
    assert_eq!(o.result, Ok(()));
    assert_eq!(
        server.seen.all(),
        vec![format!("host: [::1]:{}", server.addr.port())]
    );
}
