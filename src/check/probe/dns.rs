//! The dns probe: one query to the target over UDP or TCP, one attempt, no cache, no
//! search domains; the answer's rcode and records decide.
//!
//! Built on hickory-proto's message codec rather than hickory-resolver: the resolver is
//! made to find an answer (caches, retries over servers, search domains, the hosts file,
//! rcodes folded into errors), while a health check needs one raw exchange with one
//! server and its rcode as sent. The socket work is a few lines of tokio.
//!
//! `DnsProbe::probe` is I/O; `judge`, `answer_matches` and `rcode_name` are pure.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::sync::atomic::{AtomicU16, Ordering};

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UdpSocket;

use super::{ProbeSetupError, Stage, StageCell, io_failure, tcp};
use crate::check::{Failure, Reason, Target};
use crate::config::types::{DnsCheck, DnsTransport};

/// Largest UDP answer read. Queries carry no EDNS, so servers keep to 512 bytes; a larger
/// datagram is still read whole.
const UDP_BUFFER: usize = 4096;
/// Answers listed in a mismatch detail.
const LISTED_ANSWERS: usize = 5;

pub(super) struct DnsProbe {
    name: Name,
    rtype: RecordType,
    transport: DnsTransport,
    expect: Option<String>,
    next_id: AtomicU16,
}

impl DnsProbe {
    pub(super) fn new(d: &DnsCheck) -> Result<DnsProbe, ProbeSetupError> {
        let mut name =
            Name::from_utf8(&d.query_name).map_err(|source| ProbeSetupError::DnsName {
                name: d.query_name.clone(),
                source,
            })?;
        // Absolute: no search domain is ever appended.
        name.set_fqdn(true);
        let rtype = RecordType::from_str(&d.query_type).map_err(|_| ProbeSetupError::DnsType {
            name: d.query_type.clone(),
        })?;
        // Query ids only need to differ between probes; start somewhere unpredictable.
        let seed = RandomState::new().hash_one(d.query_name.as_str()) as u16;
        Ok(DnsProbe {
            name,
            rtype,
            transport: d.protocol,
            expect: d.expect_answer.clone(),
            next_id: AtomicU16::new(seed),
        })
    }

    pub(super) async fn probe(&self, target: &Target, stage: &StageCell) -> Result<(), Failure> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut query = Message::new();
        query
            .set_id(id)
            .set_message_type(MessageType::Query)
            .set_op_code(OpCode::Query)
            .set_recursion_desired(true)
            .add_query(Query::query(self.name.clone(), self.rtype));
        let bytes = query
            .to_vec()
            .map_err(|e| Failure::new(Reason::Protocol, format!("cannot encode the query: {e}")))?;
        let answer = match self.transport {
            DnsTransport::Udp => self.udp(target, &bytes, id, stage).await?,
            DnsTransport::Tcp => self.tcp(target, &bytes, id, stage).await?,
        };
        judge(&answer, self.expect.as_deref())
    }

    async fn udp(
        &self,
        target: &Target,
        query: &[u8],
        id: u16,
        stage: &StageCell,
    ) -> Result<Message, Failure> {
        let addr = SocketAddr::new(target.addr, target.port);
        let local = match (target.source, target.addr) {
            (Some(s), _) => s,
            (None, IpAddr::V4(_)) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            (None, IpAddr::V6(_)) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        };
        let sock = UdpSocket::bind(SocketAddr::new(local, 0))
            .await
            .map_err(|e| Failure::new(Reason::Network, format!("cannot bind {local}: {e}")))?;
        // Connected: only the target's datagrams arrive, and an ICMP port unreachable
        // comes back as "connection refused".
        sock.connect(addr).await.map_err(|e| io_failure(&e))?;
        sock.send(query).await.map_err(|e| io_failure(&e))?;
        stage.set(Stage::DnsAnswer);
        let mut buf = vec![0u8; UDP_BUFFER];
        loop {
            let n = sock.recv(&mut buf).await.map_err(|e| io_failure(&e))?;
            let msg = decode(buf.get(..n).unwrap_or_default())?;
            // A stray datagram is not the answer; keep waiting for it (the timeout bounds it).
            if self.is_answer_to(&msg, id) {
                return Ok(msg);
            }
        }
    }

    async fn tcp(
        &self,
        target: &Target,
        query: &[u8],
        id: u16,
        stage: &StageCell,
    ) -> Result<Message, Failure> {
        let mut stream = tcp::connect(target).await?;
        stage.set(Stage::DnsAnswer);
        // RFC 1035 section 4.2.2: each message is prefixed with its two-byte length.
        let len = u16::try_from(query.len())
            .map_err(|_| Failure::new(Reason::Protocol, "query too long"))?;
        let mut framed = Vec::with_capacity(query.len() + 2);
        framed.extend_from_slice(&len.to_be_bytes());
        framed.extend_from_slice(query);
        stream
            .write_all(&framed)
            .await
            .map_err(|e| io_failure(&e))?;
        let mut len = [0u8; 2];
        stream
            .read_exact(&mut len)
            .await
            .map_err(|e| io_failure(&e))?;
        let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
        stream
            .read_exact(&mut buf)
            .await
            .map_err(|e| io_failure(&e))?;
        let msg = decode(&buf)?;
        if !self.is_answer_to(&msg, id) {
            return Err(Failure::new(
                Reason::Protocol,
                "the answer does not match the query",
            ));
        }
        Ok(msg)
    }

    /// Same id, a response, and (when the server echoes it) the same question.
    fn is_answer_to(&self, msg: &Message, id: u16) -> bool {
        msg.id() == id
            && msg.message_type() == MessageType::Response
            && msg
                .queries()
                .iter()
                .all(|q| q.query_type() == self.rtype && *q.name() == self.name)
    }
}

fn decode(bytes: &[u8]) -> Result<Message, Failure> {
    Message::from_vec(bytes)
        .map_err(|e| Failure::new(Reason::Protocol, format!("malformed DNS answer: {e}")))
}

/// NOERROR with at least one answer (and, if set, `expect` among them) passes.
fn judge(msg: &Message, expect: Option<&str>) -> Result<(), Failure> {
    let rcode = msg.response_code();
    if rcode != ResponseCode::NoError {
        return Err(Failure::new(Reason::DnsRcode, rcode_name(rcode)));
    }
    let answers: Vec<&RData> = msg.answers().iter().map(|r| r.data()).collect();
    if answers.is_empty() {
        let detail = if msg.truncated() {
            "no answer (truncated)"
        } else {
            "no answer"
        };
        return Err(Failure::new(Reason::DnsAnswer, detail));
    }
    match expect {
        Some(want) if !answers.iter().any(|a| answer_matches(a, want)) => {
            let mut listed: Vec<String> = answers
                .iter()
                .take(LISTED_ANSWERS)
                .map(|a| answer_text(a))
                .collect();
            if answers.len() > LISTED_ANSWERS {
                listed.push(format!("and {} more", answers.len() - LISTED_ANSWERS));
            }
            Err(Failure::new(
                Reason::DnsAnswer,
                format!("`{want}` not among the answers: {}", listed.join(", ")),
            ))
        }
        _ => Ok(()),
    }
}

/// Compares an answer with `expect_answer`: addresses as addresses (`2001:db8::1` equals
/// `2001:DB8:0::1`), TXT as the exact text of its strings joined, anything else (names,
/// MX, SRV, SOA) as its presentation text without case or trailing dots.
fn answer_matches(rdata: &RData, want: &str) -> bool {
    if let (Some(ip), Ok(want_ip)) = (rdata.ip_addr(), want.trim().parse::<IpAddr>()) {
        return ip == want_ip;
    }
    if let RData::TXT(_) = rdata {
        return answer_text(rdata) == want;
    }
    normalise(&rdata.to_string()) == normalise(want)
}

/// An answer as `expect_answer` would write it.
fn answer_text(rdata: &RData) -> String {
    match rdata {
        RData::TXT(txt) => txt
            .iter()
            .map(|s| String::from_utf8_lossy(s))
            .collect::<Vec<_>>()
            .concat(),
        other => other.to_string(),
    }
}

fn normalise(s: &str) -> String {
    s.split_whitespace()
        .map(|t| t.trim_end_matches('.').to_ascii_lowercase())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The rcode's mnemonic (RFC 1035, RFC 2136, RFC 6891), as dig prints it.
fn rcode_name(rcode: ResponseCode) -> String {
    let name = match u16::from(rcode) {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        6 => "YXDOMAIN",
        7 => "YXRRSET",
        8 => "NXRRSET",
        9 => "NOTAUTH",
        10 => "NOTZONE",
        16 => "BADVERS",
        n => return format!("RCODE{n}"),
    };
    name.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::rr::Record;
    use hickory_proto::rr::rdata::{A, AAAA, CNAME, MX, TXT};

    fn response(rcode: ResponseCode, answers: Vec<RData>) -> Message {
        let mut m = Message::new();
        m.set_message_type(MessageType::Response)
            .set_response_code(rcode);
        let name = Name::from_ascii("www.example.test.").unwrap();
        for a in answers {
            m.add_answer(Record::from_rdata(name.clone(), 60, a));
        }
        m
    }

    fn a(s: &str) -> RData {
        RData::A(A(s.parse().unwrap()))
    }

    #[test]
    fn noerror_with_an_answer_passes_and_without_fails() {
        assert_eq!(
            judge(&response(ResponseCode::NoError, vec![a("10.0.0.1")]), None),
            Ok(())
        );
        assert_eq!(
            judge(&response(ResponseCode::NoError, vec![]), None),
            Err(Failure::new(Reason::DnsAnswer, "no answer"))
        );
    }

    #[test]
    fn an_error_rcode_fails_with_its_mnemonic() {
        assert_eq!(
            judge(&response(ResponseCode::NXDomain, vec![]), None),
            Err(Failure::new(Reason::DnsRcode, "NXDOMAIN"))
        );
        assert_eq!(
            judge(&response(ResponseCode::ServFail, vec![a("10.0.0.1")]), None),
            Err(Failure::new(Reason::DnsRcode, "SERVFAIL"))
        );
        assert_eq!(rcode_name(ResponseCode::Refused), "REFUSED");
        assert_eq!(rcode_name(ResponseCode::Unknown(3000)), "RCODE3000");
    }

    #[test]
    fn expected_addresses_compare_as_addresses() {
        let aaaa = RData::AAAA(AAAA("2001:db8::1".parse().unwrap()));
        assert!(answer_matches(&aaaa, "2001:DB8:0::1"));
        assert!(answer_matches(&a("10.0.0.2"), "10.0.0.2"));
        assert!(!answer_matches(&a("10.0.0.2"), "10.0.0.20"));
        assert!(!answer_matches(&a("10.0.0.2"), "not an address"));
    }

    #[test]
    fn expected_names_ignore_case_and_the_trailing_dot() {
        let cname = RData::CNAME(CNAME(Name::from_ascii("Backend.Example.TEST.").unwrap()));
        assert!(answer_matches(&cname, "backend.example.test"));
        assert!(answer_matches(&cname, "backend.example.test."));
        let mx = RData::MX(MX::new(10, Name::from_ascii("mail.example.test.").unwrap()));
        assert!(answer_matches(&mx, "10 mail.example.test"));
        assert!(!answer_matches(&mx, "20 mail.example.test"));
    }

    #[test]
    fn expected_txt_is_the_exact_joined_text() {
        let txt = RData::TXT(TXT::new(vec!["v=ok ".into(), "ready".into()]));
        assert!(answer_matches(&txt, "v=ok ready"));
        assert!(!answer_matches(&txt, "V=OK READY"));
    }

    #[test]
    fn a_missing_expected_answer_lists_what_came() {
        let answers = (1..=7).map(|i| a(&format!("10.0.0.{i}"))).collect();
        assert_eq!(
            judge(&response(ResponseCode::NoError, answers), Some("10.0.0.9")),
            Err(Failure::new(
                Reason::DnsAnswer,
                "`10.0.0.9` not among the answers: 10.0.0.1, 10.0.0.2, 10.0.0.3, 10.0.0.4, 10.0.0.5, and 2 more"
            ))
        );
    }
}
