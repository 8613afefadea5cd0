//! dns probes against a tiny DNS responder written here (hickory-proto builds its answers),
//! over UDP and TCP.

mod probe_support;

use std::net::SocketAddr;
use std::sync::Arc;

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, TXT};
use hickory_proto::rr::{RData, Record};
use ipvsd::check::{Failure, Reason};
use ipvsd::config::types::{Check, CheckKind, DnsCheck, DnsTransport};
use probe_support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UdpSocket;
use tokio::task::JoinHandle;

/// What the responder does with a query.
#[derive(Clone)]
enum Reply {
    Answer(Vec<RData>),
    Rcode(ResponseCode),
    /// Never answers.
    Silent,
    /// First an answer with another id (a stray or spoofed datagram), then the real one.
    StrayThenAnswer(Vec<RData>),
    /// Bytes that are not a DNS message.
    Garbage,
    /// TCP only: reads the query and closes.
    Close,
}

fn a(s: &str) -> RData {
    RData::A(A(s.parse().unwrap()))
}

fn answer_to(query: &Message, rcode: ResponseCode, rdata: &[RData]) -> Vec<u8> {
    let mut m = Message::new();
    m.set_id(query.id())
        .set_message_type(MessageType::Response)
        .set_op_code(OpCode::Query)
        .set_recursion_desired(query.recursion_desired())
        .set_recursion_available(true)
        .set_response_code(rcode);
    m.add_queries(query.queries().to_vec());
    if let Some(q) = query.queries().first() {
        for rd in rdata {
            m.add_answer(Record::from_rdata(q.name().clone(), 60, rd.clone()));
        }
    }
    m.to_vec().unwrap()
}

/// The datagrams or frames to send back for `query`.
fn replies(query: &Message, reply: &Reply) -> Vec<Vec<u8>> {
    match reply {
        Reply::Answer(rd) => vec![answer_to(query, ResponseCode::NoError, rd)],
        Reply::Rcode(rc) => vec![answer_to(query, *rc, &[])],
        Reply::StrayThenAnswer(rd) => {
            let mut stray = query.clone();
            stray.set_id(query.id().wrapping_add(1));
            vec![
                answer_to(&stray, ResponseCode::NoError, &[a("192.0.2.66")]),
                answer_to(query, ResponseCode::NoError, rd),
            ]
        }
        Reply::Garbage => vec![b"\x00\x01 not dns".to_vec()],
        Reply::Silent | Reply::Close => vec![],
    }
}

fn describe(query: &Message) -> String {
    let q = query.queries().first().unwrap();
    format!(
        "{} {} rd={}",
        q.name(),
        q.query_type(),
        query.recursion_desired()
    )
}

struct Udp {
    addr: SocketAddr,
    seen: Seen,
    task: JoinHandle<()>,
}

impl Drop for Udp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn udp_server(reply: Reply) -> Udp {
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = sock.local_addr().unwrap();
    let seen = Seen::default();
    let seen2 = seen.clone();
    let task = tokio::spawn(async move {
        let mut buf = [0u8; 4096];
        while let Ok((n, peer)) = sock.recv_from(&mut buf).await {
            let Ok(query) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            seen2.push(describe(&query));
            for r in replies(&query, &reply) {
                let _ = sock.send_to(&r, peer).await;
            }
        }
    });
    Udp { addr, seen, task }
}

async fn tcp_server(reply: Reply) -> Server {
    let reply = Arc::new(reply);
    serve(move |mut s, _, seen| {
        let reply = reply.clone();
        async move {
            let mut len = [0u8; 2];
            if s.read_exact(&mut len).await.is_err() {
                return;
            }
            let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
            if s.read_exact(&mut buf).await.is_err() {
                return;
            }
            let query = Message::from_vec(&buf).unwrap();
            seen.push(describe(&query));
            if let Reply::Silent = *reply {
                tokio::time::sleep(std::time::Duration::from_secs(10)).await;
            }
            for r in replies(&query, &reply) {
                let mut framed = (r.len() as u16).to_be_bytes().to_vec();
                framed.extend_from_slice(&r);
                let _ = s.write_all(&framed).await;
            }
        }
    })
    .await
}

fn dns(protocol: DnsTransport, qtype: &str, expect: Option<&str>) -> Check {
    check(CheckKind::Dns(DnsCheck {
        query_name: "www.example.test".into(),
        query_type: qtype.into(),
        protocol,
        expect_answer: expect.map(str::to_string),
    }))
}

fn udp(expect: Option<&str>) -> Check {
    dns(DnsTransport::Udp, "A", expect)
}

// === UDP ===

#[tokio::test]
async fn dns_probe_over_udp_with_an_a_answer_is_up() {
    let server = udp_server(Reply::Answer(vec![a("10.0.0.1")])).await;
    let o = probe(&udp(None), server.addr).await;
    assert_eq!(o.result, Ok(()));
    // The name is absolute (no search domain), recursion is asked for.
    assert_eq!(
        server.seen.all(),
        vec!["www.example.test. A rd=true".to_string()]
    );
}

#[tokio::test]
async fn dns_probe_finds_the_expected_address_among_several() {
    let server = udp_server(Reply::Answer(vec![a("10.0.0.1"), a("10.0.0.2")])).await;
    let o = probe(&udp(Some("10.0.0.2")), server.addr).await;
    assert_eq!(o.result, Ok(()));
}

#[tokio::test]
async fn dns_probe_without_the_expected_address_fails_listing_the_answers() {
    let server = udp_server(Reply::Answer(vec![a("10.0.0.1"), a("10.0.0.2")])).await;
    let o = probe(&udp(Some("10.0.0.3")), server.addr).await;
    assert_eq!(
        o.result,
        Err(Failure::new(
            Reason::DnsAnswer,
            "`10.0.0.3` not among the answers: 10.0.0.1, 10.0.0.2"
        ))
    );
}

#[tokio::test]
async fn dns_probe_compares_aaaa_answers_as_addresses() {
    let v6 = RData::AAAA(AAAA("2001:db8::1".parse().unwrap()));
    let server = udp_server(Reply::Answer(vec![v6])).await;
    let check = dns(DnsTransport::Udp, "AAAA", Some("2001:DB8:0:0::1"));
    assert_eq!(probe(&check, server.addr).await.result, Ok(()));
    assert_eq!(
        server.seen.all(),
        vec!["www.example.test. AAAA rd=true".to_string()]
    );
}

#[tokio::test]
async fn dns_probe_compares_txt_answers_as_text() {
    let txt = RData::TXT(TXT::new(vec!["state=".into(), "ready".into()]));
    let server = udp_server(Reply::Answer(vec![txt])).await;
    let up = dns(DnsTransport::Udp, "TXT", Some("state=ready"));
    assert_eq!(probe(&up, server.addr).await.result, Ok(()));
    let down = dns(DnsTransport::Udp, "TXT", Some("state=draining"));
    assert_eq!(
        probe(&down, server.addr).await.result,
        Err(Failure::new(
            Reason::DnsAnswer,
            "`state=draining` not among the answers: state=ready"
        ))
    );
}

#[tokio::test]
async fn dns_probe_of_nxdomain_fails_with_the_rcode() {
    let server = udp_server(Reply::Rcode(ResponseCode::NXDomain)).await;
    let o = probe(&udp(None), server.addr).await;
    assert_eq!(o.result, Err(Failure::new(Reason::DnsRcode, "NXDOMAIN")));
}

#[tokio::test]
async fn dns_probe_of_servfail_fails_with_the_rcode() {
    let server = udp_server(Reply::Rcode(ResponseCode::ServFail)).await;
    let o = probe(&udp(None), server.addr).await;
    assert_eq!(o.result, Err(Failure::new(Reason::DnsRcode, "SERVFAIL")));
}

#[tokio::test]
async fn dns_probe_of_noerror_without_answers_fails_with_dns_answer() {
    let server = udp_server(Reply::Answer(vec![])).await;
    let o = probe(&udp(None), server.addr).await;
    assert_eq!(o.result, Err(Failure::new(Reason::DnsAnswer, "no answer")));
}

#[tokio::test]
async fn dns_probe_of_a_silent_server_times_out_after_one_attempt() {
    let server = udp_server(Reply::Silent).await;
    let o = probe(&udp(None), server.addr).await;
    assert_eq!(
        o.result,
        Err(Failure::new(Reason::Timeout, "no DNS answer within 300ms"))
    );
    assert_cut_at_timeout(&o, TIMEOUT);
    assert_eq!(server.seen.all().len(), 1, "one query, no retry");
}

#[tokio::test]
async fn dns_probe_over_udp_of_a_closed_port_is_refused() {
    // Nothing bound: the ICMP port unreachable comes back as a refusal.
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = sock.local_addr().unwrap();
    drop(sock);
    let o = probe(&udp(None), addr).await;
    assert_eq!(
        o.result,
        Err(Failure::new(Reason::Refused, "connection refused"))
    );
}

#[tokio::test]
async fn dns_probe_ignores_an_answer_with_another_id() {
    let server = udp_server(Reply::StrayThenAnswer(vec![a("10.0.0.1")])).await;
    let o = probe(&udp(Some("10.0.0.1")), server.addr).await;
    assert_eq!(o.result, Ok(()));
}

#[tokio::test]
async fn dns_probe_of_something_that_is_not_dns_fails_with_protocol() {
    let server = udp_server(Reply::Garbage).await;
    let o = probe(&udp(None), server.addr).await;
    assert_eq!(
        o.result.as_ref().map_err(|f| f.reason),
        Err(Reason::Protocol)
    );
    let detail = o.result.unwrap_err().detail;
    assert!(detail.starts_with("malformed DNS answer: "), "{detail}");
}

// === TCP ===

#[tokio::test]
async fn dns_probe_over_tcp_with_an_a_answer_is_up() {
    let server = tcp_server(Reply::Answer(vec![a("10.0.0.1")])).await;
    let check = dns(DnsTransport::Tcp, "A", Some("10.0.0.1"));
    let o = probe(&check, server.addr).await;
    assert_eq!(o.result, Ok(()));
    assert_eq!(
        server.seen.all(),
        vec!["www.example.test. A rd=true".to_string()]
    );
}

#[tokio::test]
async fn dns_probe_over_tcp_of_nxdomain_fails_with_the_rcode() {
    let server = tcp_server(Reply::Rcode(ResponseCode::NXDomain)).await;
    let o = probe(&dns(DnsTransport::Tcp, "A", None), server.addr).await;
    assert_eq!(o.result, Err(Failure::new(Reason::DnsRcode, "NXDOMAIN")));
}

#[tokio::test]
async fn dns_probe_over_tcp_of_a_server_that_hangs_times_out() {
    let server = tcp_server(Reply::Silent).await;
    let o = probe(&dns(DnsTransport::Tcp, "A", None), server.addr).await;
    assert_eq!(
        o.result,
        Err(Failure::new(Reason::Timeout, "no DNS answer within 300ms"))
    );
    assert_cut_at_timeout(&o, TIMEOUT);
}

#[tokio::test]
async fn dns_probe_over_tcp_of_a_server_that_closes_fails_with_reset() {
    let server = tcp_server(Reply::Close).await;
    let o = probe(&dns(DnsTransport::Tcp, "A", None), server.addr).await;
    assert_eq!(
        o.result,
        Err(Failure::new(Reason::Reset, "connection closed early"))
    );
}

#[tokio::test]
async fn dns_probe_over_tcp_of_a_closed_port_is_refused() {
    let o = probe(&dns(DnsTransport::Tcp, "A", None), closed_port().await).await;
    assert_eq!(
        o.result,
        Err(Failure::new(Reason::Refused, "connection refused"))
    );
}

#[tokio::test]
async fn dns_probe_over_tcp_rejects_an_answer_with_another_id() {
    let server = tcp_server(Reply::StrayThenAnswer(vec![a("10.0.0.1")])).await;
    let o = probe(&dns(DnsTransport::Tcp, "A", None), server.addr).await;
    assert_eq!(
        o.result,
        Err(Failure::new(
            Reason::Protocol,
            "the answer does not match the query"
        ))
    );
}
