//! https probes against local TLS servers with certificates minted at test time: the
//! server certificate is really verified (unlike keepalived's SSL_GET), with the right
//! name, and client certificates work.

mod probe_support;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ipvsd::check::probe::{ProbeSetupError, Prober};
use ipvsd::check::{Failure, Reason};
use ipvsd::config::types::{Check, CheckKind, HttpCheck, TlsCheck};
use probe_support::*;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, date_time_ymd,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use tokio::io::AsyncWriteExt;
use tokio_rustls::TlsAcceptor;

// === certificates ===

struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
}

fn ca(name: &str) -> Ca {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    Ca {
        cert: params.self_signed(&key).unwrap(),
        key,
    }
}

struct Leaf {
    der: CertificateDer<'static>,
    pem: String,
    key: KeyPair,
}

#[derive(Clone, Copy)]
enum Validity {
    Now,
    Expired,
    NotYet,
}

fn leaf(ca: &Ca, names: &[&str], validity: Validity, purpose: ExtendedKeyUsagePurpose) -> Leaf {
    let key = KeyPair::generate().unwrap();
    let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    let mut params = CertificateParams::new(names).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "ipvsd test");
    params.extended_key_usages = vec![purpose];
    match validity {
        Validity::Now => {}
        Validity::Expired => {
            params.not_before = date_time_ymd(2000, 1, 1);
            params.not_after = date_time_ymd(2001, 1, 1);
        }
        Validity::NotYet => {
            params.not_before = date_time_ymd(2099, 1, 1);
            params.not_after = date_time_ymd(2100, 1, 1);
        }
    }
    let cert = params.signed_by(&key, &ca.cert, &ca.key).unwrap();
    Leaf {
        der: cert.der().clone(),
        pem: cert.pem(),
        key,
    }
}

fn server_leaf(ca: &Ca, names: &[&str], validity: Validity) -> Leaf {
    leaf(ca, names, validity, ExtendedKeyUsagePurpose::ServerAuth)
}

fn key_der(key: &KeyPair) -> PrivateKeyDer<'static> {
    PrivatePkcs8KeyDer::from(key.serialize_der()).into()
}

/// Files the check reads, in a directory that lives as long as the test.
struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    fn new() -> Files {
        Files {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}

// === a TLS server ===

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn server_config(leaf: &Leaf, client_ca: Option<&Ca>) -> Arc<ServerConfig> {
    let builder = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap();
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            roots.add(ca.cert.der().clone()).unwrap();
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
                .build()
                .unwrap();
            builder.with_client_cert_verifier(verifier)
        }
    };
    Arc::new(
        builder
            .with_single_cert(vec![leaf.der.clone()], key_der(&leaf.key))
            .unwrap(),
    )
}

/// Serves `ok` over TLS; records per connection `sni=<name> kind=<full|resumed> <request
/// line> host=<host>`, or `handshake failed: <error>`.
async fn tls_server(config: Arc<ServerConfig>) -> Server {
    let acceptor = TlsAcceptor::from(config);
    serve(move |s, _, seen| {
        let acceptor = acceptor.clone();
        async move {
            let mut tls = match acceptor.accept(s).await {
                Ok(t) => t,
                Err(e) => return seen.push(format!("handshake failed: {e}")),
            };
            let (_, conn) = tls.get_ref();
            let sni = conn.server_name().unwrap_or("none").to_string();
            let kind = match conn.handshake_kind() {
                Some(rustls::HandshakeKind::Resumed) => "resumed",
                _ => "full",
            };
            let head = read_head(&mut tls).await;
            if head.is_empty() {
                return seen.push(format!("sni={sni} kind={kind} no request"));
            }
            let line = head.lines().next().unwrap_or("").to_string();
            let host = head
                .lines()
                .find_map(|l| l.strip_prefix("host: "))
                .unwrap_or("none")
                .to_string();
            seen.push(format!("sni={sni} kind={kind} {line} host={host}"));
            let _ = tls
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
                .await;
            let _ = tls.shutdown().await;
        }
    })
    .await
}

fn tls(ca_file: PathBuf) -> TlsCheck {
    TlsCheck {
        ca_file: Some(ca_file),
        system_roots: false,
        client_cert: None,
        client_key: None,
        server_name: None,
    }
}

fn https(h: HttpCheck, t: TlsCheck) -> Check {
    check(CheckKind::Https(h, t))
}

/// A CA, its file, and a server with a certificate from it for `names`.
struct Setup {
    ca: Ca,
    files: Files,
    ca_file: PathBuf,
}

fn setup() -> Setup {
    let ca = ca("ipvsd test CA");
    let files = Files::new();
    let ca_file = files.write("ca.pem", &ca.cert.pem());
    Setup { ca, files, ca_file }
}

async fn settle() {
    tokio::time::sleep(Duration::from_millis(50)).await;
}

// === tests ===

#[tokio::test]
async fn https_probe_of_a_certificate_from_the_ca_for_the_address_is_up() {
    let s = setup();
    let server = tls_server(server_config(
        &server_leaf(&s.ca, &["127.0.0.1"], Validity::Now),
        None,
    ))
    .await;
    let o = probe(&https(http(), tls(s.ca_file.clone())), server.addr).await;
    assert_eq!(o.result, Ok(()));
    settle().await;
    // An address is never sent as SNI (RFC 6066 section 3); the certificate's IP SAN is checked.
    assert_eq!(
        server.seen.all(),
        vec![format!(
            "sni=none kind=full GET / HTTP/1.1 host=127.0.0.1:{}",
            server.addr.port()
        )]
    );
}

#[tokio::test]
async fn https_probe_sends_server_name_as_sni_while_connecting_to_the_address() {
    let s = setup();
    let server = tls_server(server_config(
        &server_leaf(&s.ca, &["www.example.test"], Validity::Now),
        None,
    ))
    .await;
    let t = TlsCheck {
        server_name: Some("www.example.test".into()),
        ..tls(s.ca_file.clone())
    };
    let h = HttpCheck {
        host: Some("shop.example.test".into()),
        ..http()
    };
    let o = probe(&https(h, t), server.addr).await;
    assert_eq!(o.result, Ok(()));
    settle().await;
    assert_eq!(
        server.seen.all(),
        vec!["sni=www.example.test kind=full GET / HTTP/1.1 host=shop.example.test".to_string()]
    );
}

#[tokio::test]
async fn https_probe_uses_the_host_without_its_port_as_sni_by_default() {
    let s = setup();
    let server = tls_server(server_config(
        &server_leaf(&s.ca, &["www.example.test"], Validity::Now),
        None,
    ))
    .await;
    let h = HttpCheck {
        host: Some("www.example.test:8443".into()),
        ..http()
    };
    let o = probe(&https(h, tls(s.ca_file.clone())), server.addr).await;
    assert_eq!(o.result, Ok(()));
    settle().await;
    assert_eq!(
        server.seen.all(),
        vec![
            "sni=www.example.test kind=full GET / HTTP/1.1 host=www.example.test:8443".to_string()
        ]
    );
}

#[tokio::test]
async fn https_probe_of_a_certificate_from_another_ca_fails_with_unknown_ca() {
    let s = setup();
    let other = ca("some other CA");
    let server = tls_server(server_config(
        &server_leaf(&other, &["127.0.0.1"], Validity::Now),
        None,
    ))
    .await;
    let o = probe(&https(http(), tls(s.ca_file.clone())), server.addr).await;
    assert_eq!(
        o.result,
        Err(Failure::new(
            Reason::TlsUnknownCa,
            "certificate not issued by a trusted CA"
        ))
    );
}

#[tokio::test]
async fn https_probe_of_a_certificate_from_a_namesake_ca_fails_with_unknown_ca() {
    // Same CA name, different key: the signature does not verify.
    let s = setup();
    let impostor = ca("ipvsd test CA");
    let server = tls_server(server_config(
        &server_leaf(&impostor, &["127.0.0.1"], Validity::Now),
        None,
    ))
    .await;
    let o = probe(&https(http(), tls(s.ca_file.clone())), server.addr).await;
    assert_eq!(
        o.result,
        Err(Failure::new(
            Reason::TlsUnknownCa,
            "certificate signature does not verify with a trusted CA"
        ))
    );
}

#[tokio::test]
async fn https_probe_with_only_system_roots_does_not_trust_a_private_ca() {
    let s = setup();
    let server = tls_server(server_config(
        &server_leaf(&s.ca, &["127.0.0.1"], Validity::Now),
        None,
    ))
    .await;
    let t = TlsCheck {
        ca_file: None,
        system_roots: true,
        ..tls(s.ca_file.clone())
    };
    let o = probe(&https(http(), t), server.addr).await;
    assert_eq!(
        o.result,
        Err(Failure::new(
            Reason::TlsUnknownCa,
            "certificate not issued by a trusted CA"
        ))
    );
}

#[tokio::test]
async fn https_probe_of_an_expired_certificate_fails_with_expired() {
    let s = setup();
    let server = tls_server(server_config(
        &server_leaf(&s.ca, &["127.0.0.1"], Validity::Expired),
        None,
    ))
    .await;
    let o = probe(&https(http(), tls(s.ca_file.clone())), server.addr).await;
    assert_eq!(
        o.result,
        Err(Failure::new(
            Reason::TlsExpired,
            "certificate expired 2001-01-01"
        ))
    );
}

#[tokio::test]
async fn https_probe_of_a_certificate_not_yet_valid_fails_with_expired() {
    let s = setup();
    let server = tls_server(server_config(
        &server_leaf(&s.ca, &["127.0.0.1"], Validity::NotYet),
        None,
    ))
    .await;
    let o = probe(&https(http(), tls(s.ca_file.clone())), server.addr).await;
    assert_eq!(
        o.result,
        Err(Failure::new(
            Reason::TlsExpired,
            "certificate not valid before 2099-01-01"
        ))
    );
}

#[tokio::test]
async fn https_probe_of_a_certificate_for_another_name_fails_with_name_mismatch() {
    let s = setup();
    let server = tls_server(server_config(
        &server_leaf(&s.ca, &["www.example.test", "127.0.0.1"], Validity::Now),
        None,
    ))
    .await;
    let t = TlsCheck {
        server_name: Some("shop.example.test".into()),
        ..tls(s.ca_file.clone())
    };
    let o = probe(&https(http(), t), server.addr).await;
    assert_eq!(
        o.result,
        Err(Failure::new(
            Reason::TlsNameMismatch,
            "certificate not valid for shop.example.test (it names www.example.test, 127.0.0.1)"
        ))
    );
}

#[tokio::test]
async fn https_probe_by_address_needs_an_address_in_the_certificate() {
    let s = setup();
    let server = tls_server(server_config(
        &server_leaf(&s.ca, &["www.example.test"], Validity::Now),
        None,
    ))
    .await;
    let o = probe(&https(http(), tls(s.ca_file.clone())), server.addr).await;
    assert_eq!(
        o.result,
        Err(Failure::new(
            Reason::TlsNameMismatch,
            "certificate not valid for 127.0.0.1 (it names www.example.test)"
        ))
    );
}

#[tokio::test]
async fn https_probe_makes_a_full_handshake_every_time() {
    // Resumption would skip the certificate check: a replaced or expired certificate would
    // go unnoticed for as long as the session ticket lives.
    let s = setup();
    let server = tls_server(server_config(
        &server_leaf(&s.ca, &["127.0.0.1"], Validity::Now),
        None,
    ))
    .await;
    let p = prober(&https(http(), tls(s.ca_file.clone())), target(server.addr));
    for _ in 0..3 {
        assert_eq!(p.probe().await.result, Ok(()));
    }
    settle().await;
    let kinds: Vec<bool> = server
        .seen
        .all()
        .iter()
        .map(|l| l.contains("kind=full"))
        .collect();
    assert_eq!(kinds, vec![true, true, true], "{:?}", server.seen.all());
}

#[tokio::test]
async fn https_probe_of_a_server_that_requires_a_client_certificate() {
    let s = setup();
    let clients = ca("ipvsd client CA");
    let server = tls_server(server_config(
        &server_leaf(&s.ca, &["127.0.0.1"], Validity::Now),
        Some(&clients),
    ))
    .await;

    // Without a certificate the server refuses (after the client's side of the handshake
    // in TLS 1.3, so the alert arrives while the probe waits for the response).
    let without = probe(&https(http(), tls(s.ca_file.clone())), server.addr).await;
    assert_eq!(
        without.result,
        Err(Failure::new(
            Reason::TlsOther,
            "server sent TLS alert CertificateRequired"
        ))
    );

    // With the right one, it answers.
    let client = leaf(
        &clients,
        &["ipvsd.test"],
        Validity::Now,
        ExtendedKeyUsagePurpose::ClientAuth,
    );
    let t = TlsCheck {
        client_cert: Some(s.files.write("client.pem", &client.pem)),
        client_key: Some(s.files.write("client.key", &client.key.serialize_pem())),
        ..tls(s.ca_file.clone())
    };
    let with = probe(&https(http(), t), server.addr).await;
    assert_eq!(with.result, Ok(()));

    // One from a CA the server does not trust is refused too.
    let stranger = ca("stranger CA");
    let wrong = leaf(
        &stranger,
        &["ipvsd.test"],
        Validity::Now,
        ExtendedKeyUsagePurpose::ClientAuth,
    );
    let t = TlsCheck {
        client_cert: Some(s.files.write("wrong.pem", &wrong.pem)),
        client_key: Some(s.files.write("wrong.key", &wrong.key.serialize_pem())),
        ..tls(s.ca_file.clone())
    };
    let refused = probe(&https(http(), t), server.addr).await;
    assert_eq!(
        refused.result,
        Err(Failure::new(
            Reason::TlsOther,
            "server sent TLS alert UnknownCA"
        ))
    );
}

#[tokio::test]
async fn https_probe_of_a_server_that_never_finishes_the_handshake_times_out() {
    let s = setup();
    let server = serve(|s, _, _| async move {
        tokio::time::sleep(Duration::from_secs(10)).await;
        drop(s);
    })
    .await;
    let o = probe(&https(http(), tls(s.ca_file.clone())), server.addr).await;
    assert_eq!(
        o.result,
        Err(Failure::new(
            Reason::Timeout,
            "TLS handshake not complete within 300ms"
        ))
    );
    assert_cut_at_timeout(&o, TIMEOUT);
}

#[tokio::test]
async fn https_probe_of_a_plain_http_server_fails_with_tls_other() {
    let s = setup();
    // It answers the ClientHello as a bad HTTP request.
    let server = serve(|mut s, _, _| async move {
        let _ = s
            .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
            .await;
        tokio::time::sleep(Duration::from_secs(1)).await;
    })
    .await;
    let o = probe(&https(http(), tls(s.ca_file.clone())), server.addr).await;
    assert_eq!(
        o.result,
        Err(Failure::new(
            Reason::TlsOther,
            "received corrupt message of type InvalidContentType"
        ))
    );
}

#[tokio::test]
async fn https_probe_of_a_500_behind_good_tls_fails_with_the_status() {
    let s = setup();
    let leaf = server_leaf(&s.ca, &["127.0.0.1"], Validity::Now);
    let acceptor = TlsAcceptor::from(server_config(&leaf, None));
    let server = serve(move |s, _, _| {
        let acceptor = acceptor.clone();
        async move {
            if let Ok(mut tls) = acceptor.accept(s).await {
                read_head(&mut tls).await;
                let _ = tls
                    .write_all(response("503 Service Unavailable", "").as_bytes())
                    .await;
                let _ = tls.shutdown().await;
            }
        }
    })
    .await;
    let o = probe(&https(http(), tls(s.ca_file.clone())), server.addr).await;
    assert_eq!(
        o.result,
        Err(Failure::new(Reason::HttpStatus, "status 503"))
    );
}

#[test]
fn https_setup_fails_on_a_ca_file_without_certificates() {
    let s = setup();
    let empty = s.files.write("empty.pem", "not a certificate\n");
    let err = Prober::new(
        &https(http(), tls(empty.clone())),
        target("127.0.0.1:443".parse().unwrap()),
        ctx(),
        "nobody",
    )
    .unwrap_err();
    assert!(
        matches!(&err, ProbeSetupError::NoCertificate { path } if *path == empty),
        "{err:?}"
    );
}

#[test]
fn https_setup_fails_on_a_client_key_that_does_not_fit_the_certificate() {
    let s = setup();
    let client = leaf(
        &s.ca,
        &["ipvsd.test"],
        Validity::Now,
        ExtendedKeyUsagePurpose::ClientAuth,
    );
    let other_key = KeyPair::generate().unwrap();
    let t = TlsCheck {
        client_cert: Some(s.files.write("client.pem", &client.pem)),
        client_key: Some(s.files.write("other.key", &other_key.serialize_pem())),
        ..tls(s.ca_file.clone())
    };
    let err = Prober::new(
        &https(http(), t),
        target("127.0.0.1:443".parse().unwrap()),
        ctx(),
        "nobody",
    )
    .unwrap_err();
    assert!(
        matches!(err, ProbeSetupError::ClientCertificate { .. }),
        "{err:?}"
    );
}
