//! TLS for https checks: the client configuration (built once from the check's PEM
//! files), the handshake, and the mapping of TLS errors to bounded reasons.
//!
//! Unlike keepalived's SSL_GET, the server certificate is always verified: against
//! `ca_file`, plus the system's roots only with `system_roots: true`. Session resumption is
//! off, so every probe makes a full handshake and sees the certificate the server presents
//! now (an expired or replaced certificate is noticed at the next probe).
//!
//! `Tls::new` reads files; `Tls::handshake` is network I/O. `server_name` and `failure`
//! are pure.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use rustls::client::Resumption;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, RootCertStore};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tracing::warn;

use super::{ProbeSetupError, io_failure};
use crate::check::{Failure, Reason};
use crate::config::types::TlsCheck;

/// A ready client configuration and the name the server must prove.
pub(super) struct Tls {
    connector: TlsConnector,
    server_name: ServerName<'static>,
}

impl Tls {
    /// Reads the CA bundle (and the client certificate and key) and fixes the server name:
    /// `server_name`, else `host` without its port, else the connect address (then the
    /// certificate needs an IP address SAN).
    pub(super) fn new(
        tls: &TlsCheck,
        host: Option<&str>,
        target: IpAddr,
    ) -> Result<Tls, ProbeSetupError> {
        let name = server_name(tls.server_name.as_deref(), host, target);
        let server_name =
            ServerName::try_from(name.clone()).map_err(|_| ProbeSetupError::ServerName { name })?;

        let mut roots = RootCertStore::empty();
        if let Some(path) = &tls.ca_file {
            let mut n = 0;
            for cert in read_certs(path)? {
                roots
                    .add(cert)
                    .map_err(|source| ProbeSetupError::CaCertificate {
                        path: path.clone(),
                        source,
                    })?;
                n += 1;
            }
            if n == 0 {
                return Err(ProbeSetupError::NoCertificate { path: path.clone() });
            }
        }
        if tls.system_roots {
            let native = rustls_native_certs::load_native_certs();
            for e in &native.errors {
                warn!(error = %e, "cannot load some of the system's root certificates");
            }
            let (added, ignored) = roots.add_parsable_certificates(native.certs);
            if added == 0 || ignored > 0 {
                warn!(added, ignored, "system root certificates loaded");
            }
        }

        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|source| ProbeSetupError::Tls { source })?
            .with_root_certificates(roots);
        let mut config = match (&tls.client_cert, &tls.client_key) {
            (Some(cert_path), Some(key_path)) => {
                let certs = read_certs(cert_path)?;
                if certs.is_empty() {
                    return Err(ProbeSetupError::NoCertificate {
                        path: cert_path.clone(),
                    });
                }
                let key = PrivateKeyDer::from_pem_file(key_path).map_err(|source| {
                    ProbeSetupError::ReadPem {
                        path: key_path.clone(),
                        source,
                    }
                })?;
                builder
                    .with_client_auth_cert(certs, key)
                    .map_err(|source| ProbeSetupError::ClientCertificate {
                        cert: cert_path.clone(),
                        key: key_path.clone(),
                        source,
                    })?
            }
            _ => builder.with_no_client_auth(),
        };
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        config.resumption = Resumption::disabled();
        Ok(Tls {
            connector: TlsConnector::from(Arc::new(config)),
            server_name,
        })
    }

    /// The TLS handshake over a fresh connection.
    pub(super) async fn handshake(&self, tcp: TcpStream) -> Result<TlsStream<TcpStream>, Failure> {
        self.connector
            .connect(self.server_name.clone(), tcp)
            .await
            .map_err(|e| match tls_error_in(&e) {
                Some(t) => failure(t),
                None => io_failure(&e),
            })
    }
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, ProbeSetupError> {
    let err = |source| ProbeSetupError::ReadPem {
        path: path.to_path_buf(),
        source,
    };
    CertificateDer::pem_file_iter(path)
        .map_err(err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(err)
}

/// The name sent in SNI and checked against the certificate.
fn server_name(server_name: Option<&str>, host: Option<&str>, target: IpAddr) -> String {
    match (server_name, host) {
        (Some(n), _) => n.to_string(),
        (None, Some(h)) => host_without_port(h).to_string(),
        (None, None) => target.to_string(),
    }
}

/// `www.example.com:8443` -> `www.example.com`; `[2001:db8::1]:443` -> `2001:db8::1`.
fn host_without_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((name, port))
            if !name.contains(':')
                && !port.is_empty()
                && port.bytes().all(|b| b.is_ascii_digit()) =>
        {
            name
        }
        _ => host,
    }
}

/// The rustls error inside an I/O error, where tokio-rustls puts it.
pub(super) fn tls_error_in(e: &std::io::Error) -> Option<&rustls::Error> {
    e.get_ref()?.downcast_ref::<rustls::Error>()
}

/// The bounded reason and a short detail for a TLS failure.
pub(super) fn failure(e: &rustls::Error) -> Failure {
    use CertificateError as C;
    let rustls::Error::InvalidCertificate(cert) = e else {
        return match e {
            rustls::Error::AlertReceived(alert) => {
                Failure::new(Reason::TlsOther, format!("server sent TLS alert {alert:?}"))
            }
            other => Failure::new(Reason::TlsOther, other.to_string()),
        };
    };
    match cert {
        C::Expired => Failure::new(Reason::TlsExpired, "certificate expired"),
        C::ExpiredContext { not_after, .. } => Failure::new(
            Reason::TlsExpired,
            format!("certificate expired {}", date(*not_after)),
        ),
        C::NotValidYet => Failure::new(Reason::TlsExpired, "certificate not valid yet"),
        C::NotValidYetContext { not_before, .. } => Failure::new(
            Reason::TlsExpired,
            format!("certificate not valid before {}", date(*not_before)),
        ),
        C::UnknownIssuer => Failure::new(
            Reason::TlsUnknownCa,
            "certificate not issued by a trusted CA",
        ),
        // Signed by another key than the trusted CA's (a different CA with the same name).
        C::BadSignature => Failure::new(
            Reason::TlsUnknownCa,
            "certificate signature does not verify with a trusted CA",
        ),
        C::NotValidForName => Failure::new(Reason::TlsNameMismatch, "certificate name mismatch"),
        C::NotValidForNameContext {
            expected,
            presented,
        } => {
            let names = if presented.is_empty() {
                "no names".to_string()
            } else {
                let names: Vec<&str> = presented.iter().map(|n| presented_name(n)).collect();
                names.join(", ")
            };
            Failure::new(
                Reason::TlsNameMismatch,
                format!(
                    "certificate not valid for {} (it names {names})",
                    expected.to_str()
                ),
            )
        }
        other => Failure::new(Reason::TlsOther, format!("invalid certificate: {other}")),
    }
}

/// webpki reports the certificate's names as `DnsName("www.example.com")` and
/// `IpAddress(192.0.2.1)`; the detail wants them as written in a config.
fn presented_name(s: &str) -> &str {
    let inner = s
        .strip_prefix("DnsName(")
        .or_else(|| s.strip_prefix("IpAddress("))
        .and_then(|rest| rest.strip_suffix(')'));
    match inner {
        Some(i) => i.trim_matches('"'),
        None => s,
    }
}

/// `2024-01-01`: a certificate's validity boundary, in UTC.
fn date(t: UnixTime) -> String {
    let days = i64::try_from(t.as_secs() / 86_400).unwrap_or(i64::MAX / 2);
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day); H. Hinnant's
/// `civil_from_days`.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::AlertDescription;
    use std::time::Duration;

    #[test]
    fn server_name_prefers_server_name_then_host_then_the_address() {
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        assert_eq!(
            server_name(Some("sni.test"), Some("host.test"), ip),
            "sni.test"
        );
        assert_eq!(server_name(None, Some("host.test"), ip), "host.test");
        assert_eq!(server_name(None, Some("host.test:8443"), ip), "host.test");
        assert_eq!(
            server_name(None, Some("[2001:db8::1]:443"), ip),
            "2001:db8::1"
        );
        assert_eq!(server_name(None, Some("2001:db8::1"), ip), "2001:db8::1");
        assert_eq!(server_name(None, None, ip), "192.0.2.7");
    }

    #[test]
    fn presented_names_are_shown_plain() {
        assert_eq!(
            presented_name("DnsName(\"www.example.test\")"),
            "www.example.test"
        );
        assert_eq!(presented_name("IpAddress(2001:db8::1)"), "2001:db8::1");
        assert_eq!(presented_name("www.example.test"), "www.example.test");
    }

    #[test]
    fn validity_dates_are_printed_in_utc() {
        assert_eq!(
            date(UnixTime::since_unix_epoch(Duration::ZERO)),
            "1970-01-01"
        );
        assert_eq!(
            date(UnixTime::since_unix_epoch(Duration::from_secs(
                1_704_067_199
            ))),
            "2023-12-31"
        );
        assert_eq!(
            date(UnixTime::since_unix_epoch(Duration::from_secs(
                1_709_164_800
            ))),
            "2024-02-29"
        );
    }

    #[test]
    fn certificate_errors_map_to_bounded_reasons() {
        let t = |secs| UnixTime::since_unix_epoch(Duration::from_secs(secs));
        let cases = [
            (
                CertificateError::ExpiredContext {
                    time: t(1_800_000_000),
                    not_after: t(1_704_067_200),
                },
                Failure::new(Reason::TlsExpired, "certificate expired 2024-01-01"),
            ),
            (
                CertificateError::NotValidYetContext {
                    time: t(0),
                    not_before: t(1_704_067_200),
                },
                Failure::new(
                    Reason::TlsExpired,
                    "certificate not valid before 2024-01-01",
                ),
            ),
            (
                CertificateError::UnknownIssuer,
                Failure::new(
                    Reason::TlsUnknownCa,
                    "certificate not issued by a trusted CA",
                ),
            ),
            (
                CertificateError::NotValidForNameContext {
                    expected: ServerName::try_from("www.example.test").unwrap(),
                    presented: vec![
                        "DnsName(\"other.test\")".into(),
                        "IpAddress(127.0.0.1)".into(),
                    ],
                },
                Failure::new(
                    Reason::TlsNameMismatch,
                    "certificate not valid for www.example.test (it names other.test, 127.0.0.1)",
                ),
            ),
        ];
        for (cert, want) in cases {
            assert_eq!(failure(&rustls::Error::InvalidCertificate(cert)), want);
        }
        assert_eq!(
            failure(&rustls::Error::AlertReceived(
                AlertDescription::CertificateRequired
            )),
            Failure::new(
                Reason::TlsOther,
                "server sent TLS alert CertificateRequired"
            )
        );
        assert_eq!(
            failure(&rustls::Error::InvalidCertificate(
                CertificateError::Revoked
            ))
            .reason,
            Reason::TlsOther
        );
    }

    #[test]
    fn the_rustls_error_is_found_inside_an_io_error() {
        let inner = rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer);
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, inner.clone());
        assert_eq!(tls_error_in(&io), Some(&inner));
        assert_eq!(
            tls_error_in(&std::io::Error::from(std::io::ErrorKind::ConnectionReset)),
            None
        );
    }
}
