//! The http and https probes: one request over a fresh connection (never pooled, so every
//! probe tests connecting and, for https, a full TLS handshake), no redirects followed, no
//! proxy, and a body read bounded by `max_body_bytes`.
//!
//! Built directly on hyper's HTTP/1.1 connection (what reqwest wraps): the probe owns the
//! TCP connect (source address, always to the target whatever the names), the TLS server
//! name, and sees the underlying I/O and TLS errors to map them to bounded reasons.
//!
//! `HttpProbe::new` is pure (builds the request once); `probe` is I/O; `classify` is pure.

use std::error::Error as StdError;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, Uri};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};

use super::tls::{self, Tls};
use super::{ProbeSetupError, Stage, StageCell, io_failure, tcp};
use crate::check::{Failure, Reason, Target};
use crate::config::types::{HttpCheck, StatusSet, TlsCheck};

const USER_AGENT: &str = concat!("ipvsd/", env!("CARGO_PKG_VERSION"), " health-check");

pub(super) struct HttpProbe {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    expect_status: StatusSet,
    expect_body: Option<BodyPattern>,
    max_body_bytes: usize,
    tls: Option<Tls>,
}

struct BodyPattern {
    regex: regex::bytes::Regex,
    source: String,
}

// === impl HttpProbe ===

impl HttpProbe {
    pub(super) fn new(
        h: &HttpCheck,
        tls: Option<&TlsCheck>,
        target: &Target,
    ) -> Result<HttpProbe, ProbeSetupError> {
        let bad = |what: String| ProbeSetupError::HttpRequest { what };
        let method = Method::from_bytes(h.method.as_bytes())
            .map_err(|_| bad(format!("method `{}`", h.method)))?;
        let uri = Uri::try_from(h.path.as_str()).map_err(|_| bad(format!("path `{}`", h.path)))?;

        let host = match &h.host {
            Some(host) => host.clone(),
            None => default_host(target, tls.is_some()),
        };
        let mut headers = HeaderMap::new();
        headers.insert(
            header::HOST,
            HeaderValue::from_str(&host).map_err(|_| bad(format!("host `{host}`")))?,
        );
        for (name, value) in &h.headers {
            let n = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| bad(format!("header name `{name}`")))?;
            let v = HeaderValue::from_str(value)
                .map_err(|_| bad(format!("value of header `{name}`")))?;
            headers.append(n, v);
        }
        if !headers.contains_key(header::USER_AGENT) {
            headers.insert(header::USER_AGENT, HeaderValue::from_static(USER_AGENT));
        }
        // The connection is used once; tell the server so it need not keep it open.
        if !headers.contains_key(header::CONNECTION) {
            headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        // hyper sends no length for an empty body; servers may answer 411 to a POST without.
        if expects_length(&method)
            && !headers.contains_key(header::CONTENT_LENGTH)
            && !headers.contains_key(header::TRANSFER_ENCODING)
        {
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
        }

        let expect_body = match &h.expect_body {
            Some(src) => Some(BodyPattern {
                regex: regex::bytes::Regex::new(src)
                    .map_err(|source| ProbeSetupError::BodyRegex { source })?,
                source: src.clone(),
            }),
            None => None,
        };
        let tls = match tls {
            Some(t) => Some(Tls::new(t, h.host.as_deref(), target.addr)?),
            None => None,
        };
        Ok(HttpProbe {
            method,
            uri,
            headers,
            expect_status: h.expect_status.clone(),
            expect_body,
            max_body_bytes: h.max_body_bytes,
            tls,
        })
    }

    pub(super) fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    pub(super) async fn probe(&self, target: &Target, stage: &StageCell) -> Result<(), Failure> {
        let tcp = tcp::connect(target).await?;
        match &self.tls {
            None => self.exchange(tcp, stage).await,
            Some(tls) => {
                stage.set(Stage::TlsHandshake);
                let stream = tls.handshake(tcp).await?;
                self.exchange(stream, stage).await
            }
        }
    }

    /// Sends the request and judges the response. The connection future is driven here,
    /// beside the request, rather than in a spawned task: it ends with the probe.
    async fn exchange<S>(&self, io: S, stage: &StageCell) -> Result<(), Failure>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        stage.set(Stage::ResponseHead);
        let (mut sender, conn) = hyper::client::conn::http1::Builder::new()
            .handshake::<_, Empty<Bytes>>(TokioIo::new(io))
            .await
            .map_err(|e| classify(&e))?;
        let exchange = async move {
            sender.ready().await.map_err(|e| classify(&e))?;
            let mut req = Request::new(Empty::<Bytes>::new());
            *req.method_mut() = self.method.clone();
            *req.uri_mut() = self.uri.clone();
            *req.headers_mut() = self.headers.clone();
            let resp = sender.send_request(req).await.map_err(|e| classify(&e))?;
            let status = resp.status().as_u16();
            if !self.expect_status.contains(status) {
                return Err(Failure::new(Reason::HttpStatus, format!("status {status}")));
            }
            stage.set(Stage::ResponseBody);
            let keep = self.expect_body.is_some();
            let body = read_body(resp.into_body(), self.max_body_bytes, keep).await?;
            match &self.expect_body {
                Some(p) if !p.regex.is_match(&body) => {
                    Err(body_mismatch(&p.source, body.len(), self.max_body_bytes))
                }
                _ => Ok(()),
            }
        };
        tokio::pin!(conn);
        tokio::pin!(exchange);
        tokio::select! {
            biased;
            r = &mut exchange => r,
            c = &mut conn => match c {
                Err(e) => Err(classify(&e)),
                // Closed after delivering everything: the exchange has what it needs.
                Ok(()) => exchange.await,
            },
        }
    }
}

/// Reads at most `max` bytes of the body (the rest is never read), to its end or that
/// bound: a response is complete only then. Returns them if `keep` (a body pattern wants
/// them), else nothing: most checks need no copy, nor a buffer, of every body.
async fn read_body(
    mut body: hyper::body::Incoming,
    max: usize,
    keep: bool,
) -> Result<Vec<u8>, Failure> {
    let mut buf = Vec::new();
    let mut read = 0;
    while read < max {
        match body.frame().await {
            None => break,
            Some(Err(e)) => return Err(classify(&e)),
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    let take = data.len().min(max - read);
                    if keep {
                        buf.extend_from_slice(data.get(..take).unwrap_or(&data));
                    }
                    read += take;
                }
            }
        }
    }
    Ok(buf)
}

fn body_mismatch(pattern: &str, read: usize, max: usize) -> Failure {
    let detail = if read >= max {
        format!("body does not match \"{pattern}\" in the first {read} bytes")
    } else {
        format!("body does not match \"{pattern}\"")
    };
    Failure::new(Reason::BodyMismatch, detail)
}

/// `Host` when the check sets none: the address probed, with its port unless it is the
/// scheme's default.
fn default_host(target: &Target, https: bool) -> String {
    let default_port = if https { 443 } else { 80 };
    let addr = match target.addr {
        std::net::IpAddr::V4(a) => a.to_string(),
        std::net::IpAddr::V6(a) => format!("[{a}]"),
    };
    if target.port == default_port {
        addr
    } else {
        format!("{addr}:{}", target.port)
    }
}

fn expects_length(m: &Method) -> bool {
    ![
        Method::GET,
        Method::HEAD,
        Method::DELETE,
        Method::OPTIONS,
        Method::TRACE,
        Method::CONNECT,
    ]
    .contains(m)
}

/// The bounded reason for an error from hyper: the TLS or socket error underneath if there
/// is one, else what hyper says about the HTTP exchange.
fn classify(e: &(dyn StdError + 'static)) -> Failure {
    let mut hyper_err = None;
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(t) = err.downcast_ref::<rustls::Error>() {
            return tls::failure(t);
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if let Some(t) = tls::tls_error_in(io) {
                return tls::failure(t);
            }
            return match io.kind() {
                std::io::ErrorKind::InvalidData | std::io::ErrorKind::InvalidInput => {
                    Failure::new(Reason::Protocol, format!("malformed response: {io}"))
                }
                _ => io_failure(io),
            };
        }
        if hyper_err.is_none() {
            hyper_err = err.downcast_ref::<hyper::Error>();
        }
        cur = err.source();
    }
    match hyper_err {
        Some(h) if h.is_incomplete_message() || h.is_canceled() || h.is_closed() => Failure::new(
            Reason::Reset,
            "connection closed before the response was complete",
        ),
        Some(h) if h.is_parse() || h.is_parse_status() => {
            Failure::new(Reason::Protocol, format!("malformed response: {h}"))
        }
        _ => Failure::new(Reason::Protocol, e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    fn target(addr: &str, port: u16) -> Target {
        Target {
            addr: addr.parse::<IpAddr>().unwrap(),
            port,
            source: None,
        }
    }

    #[test]
    fn default_host_is_the_target_with_a_non_default_port() {
        assert_eq!(default_host(&target("192.0.2.1", 80), false), "192.0.2.1");
        assert_eq!(
            default_host(&target("192.0.2.1", 8080), false),
            "192.0.2.1:8080"
        );
        assert_eq!(default_host(&target("192.0.2.1", 443), true), "192.0.2.1");
        assert_eq!(default_host(&target("192.0.2.1", 80), true), "192.0.2.1:80");
        assert_eq!(
            default_host(&target("2001:db8::1", 80), false),
            "[2001:db8::1]"
        );
        assert_eq!(
            default_host(&target("2001:db8::1", 81), false),
            "[2001:db8::1]:81"
        );
    }

    #[test]
    fn body_mismatch_says_when_the_read_was_cut_at_the_limit() {
        assert_eq!(
            body_mismatch("ok", 5, 100),
            Failure::new(Reason::BodyMismatch, "body does not match \"ok\"")
        );
        assert_eq!(
            body_mismatch("ok", 100, 100),
            Failure::new(
                Reason::BodyMismatch,
                "body does not match \"ok\" in the first 100 bytes"
            )
        );
    }

    #[test]
    fn io_errors_under_hyper_decide_the_reason() {
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        assert_eq!(
            classify(&reset),
            Failure::new(Reason::Reset, "connection reset")
        );
        let bad = std::io::Error::new(std::io::ErrorKind::InvalidData, "bad chunk");
        assert_eq!(
            classify(&bad),
            Failure::new(Reason::Protocol, "malformed response: bad chunk")
        );
        let tls = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        );
        assert_eq!(classify(&tls).reason, Reason::TlsUnknownCa);
    }

    #[test]
    fn a_post_gets_a_zero_content_length_and_a_get_none() {
        assert!(expects_length(&Method::POST));
        assert!(expects_length(&Method::PUT));
        assert!(!expects_length(&Method::GET));
        assert!(!expects_length(&Method::HEAD));
    }
}
