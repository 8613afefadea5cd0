//! Probes: one health-check attempt against one real server (tcp, http, https, dns, exec).
//!
//! The I/O shell of `check`: sockets, TLS and child processes. `Prober::new` does every
//! fallible or costly step once (reading PEM files, building the TLS config, compiling the
//! body regex, looking up the exec user); `Prober::probe` then only does the network or
//! process work, bounded as a whole by the check's `timeout`, and always returns an
//! `Outcome` (it never panics and never hangs).
//!
//! Each kind has its own file (`tcp`, `http`, `tls`, `dns`, `exec`). What can be decided
//! without I/O is kept in plain functions with unit tests beside them: mapping I/O and TLS
//! errors to bounded `Reason`s, matching DNS answers, choosing the TLS server name, reading
//! an exit status.

mod dns;
mod exec;
mod http;
mod tcp;
mod tls;

pub(crate) use exec::{RunAs, run_as};

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use super::{Failure, Outcome, Reason, Target};
use crate::config::types::{Check, CheckKind, ExecCheck};

/// Which real server a probe is for, as the exec check's environment tells it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeContext {
    /// The virtual server's name.
    pub service: String,
    pub real_server: IpAddr,
    pub real_port: u16,
}

/// A check that cannot be set up. The config was validated at load, so these are files
/// that changed since (unreadable, not PEM, a key that does not fit its certificate) or
/// values the TLS/DNS libraries refuse.
#[derive(Debug, thiserror::Error)]
pub enum ProbeSetupError {
    #[error("cannot read {}", path.display())]
    ReadPem {
        path: PathBuf,
        #[source]
        source: rustls::pki_types::pem::Error,
    },
    #[error("no certificate in {}", path.display())]
    NoCertificate { path: PathBuf },
    #[error("cannot use a CA certificate from {}", path.display())]
    CaCertificate {
        path: PathBuf,
        #[source]
        source: rustls::Error,
    },
    #[error("cannot use the client certificate {} with the key {}", cert.display(), key.display())]
    ClientCertificate {
        cert: PathBuf,
        key: PathBuf,
        #[source]
        source: rustls::Error,
    },
    #[error("cannot build the TLS configuration")]
    Tls {
        #[source]
        source: rustls::Error,
    },
    #[error("`{name}` is not a valid TLS server name")]
    ServerName { name: String },
    #[error("invalid HTTP request {what}")]
    HttpRequest { what: String },
    #[error("invalid expect_body regular expression")]
    BodyRegex {
        #[source]
        source: regex::Error,
    },
    #[error("`{name}` is not a valid DNS name")]
    DnsName {
        name: String,
        #[source]
        source: hickory_proto::ProtoError,
    },
    #[error("`{name}` is not a DNS record type")]
    DnsType { name: String },
    #[error("cannot look up user `{user}`")]
    UserLookup {
        user: String,
        #[source]
        source: nix::Error,
    },
}

/// A VRRP script's program (`vrrp_scripts`): an exec probe of no real server, with
/// `IPVSD_SCRIPT` (its name) and `PATH` as its environment.
pub struct ScriptProbe(exec::ExecProbe);

impl ScriptProbe {
    /// `exec_user` is `global.exec_user`, for a script that names no user.
    pub fn new(e: &ExecCheck, name: &str, exec_user: &str) -> Result<Self, ProbeSetupError> {
        exec::ExecProbe::with_env(e, vec![("IPVSD_SCRIPT", name.to_string())], exec_user)
            .map(ScriptProbe)
    }

    /// One run: passes on exit 0; killed (with what it started) at `timeout`.
    pub async fn run(&self, timeout: Duration) -> Result<(), Failure> {
        self.0.run(timeout).await
    }
}

/// One check against one real server, ready to probe. Built once, probed every interval;
/// `Send + Sync`, so it can be shared or moved into a task.
pub struct Prober {
    target: Target,
    timeout: Duration,
    kind: Kind,
}

enum Kind {
    Tcp,
    Http(Box<http::HttpProbe>),
    Dns(dns::DnsProbe),
    Exec(exec::ExecProbe),
}

impl fmt::Debug for Prober {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            Kind::Tcp => "tcp",
            Kind::Http(ref h) if h.is_tls() => "https",
            Kind::Http(_) => "http",
            Kind::Dns(_) => "dns",
            Kind::Exec(_) => "exec",
        };
        f.debug_struct("Prober")
            .field("kind", &kind)
            .field("target", &self.target)
            .field("timeout", &self.timeout)
            .finish()
    }
}

// === impl Prober ===

impl Prober {
    /// Prepares `check` against `target`. `exec_user` is `global.exec_user`, used by exec
    /// checks that name no user.
    pub fn new(
        check: &Check,
        target: Target,
        ctx: ProbeContext,
        exec_user: &str,
    ) -> Result<Prober, ProbeSetupError> {
        let kind = match &check.kind {
            CheckKind::Tcp => Kind::Tcp,
            CheckKind::Http(h) => Kind::Http(Box::new(http::HttpProbe::new(h, None, &target)?)),
            CheckKind::Https(h, t) => {
                Kind::Http(Box::new(http::HttpProbe::new(h, Some(t), &target)?))
            }
            CheckKind::Dns(d) => Kind::Dns(dns::DnsProbe::new(d)?),
            CheckKind::Exec(e) => Kind::Exec(exec::ExecProbe::new(e, &target, &ctx, exec_user)?),
        };
        Ok(Prober {
            target,
            timeout: check.timeout,
            kind,
        })
    }

    /// One attempt. Returns within the check's timeout; an exec check cut by the timeout
    /// takes a little longer to kill and reap its process group (at most 200 ms more).
    pub async fn probe(&self) -> Outcome {
        self.probe_from(tokio::time::Instant::now()).await
    }

    /// [`Prober::probe`] started at `start` (the caller's clock reading: a clock read costs
    /// a system call on hosts without a vDSO clock, and thousands of probes a second add up).
    pub async fn probe_from(&self, start: tokio::time::Instant) -> Outcome {
        let result = match &self.kind {
            // The exec probe owns its deadline: on timeout it must still kill and reap.
            Kind::Exec(e) => Box::pin(e.run(self.timeout)).await,
            _ => {
                let stage = StageCell::new();
                let deadline = start + self.timeout;
                match tokio::time::timeout_at(deadline, self.network(&stage)).await {
                    Ok(r) => r,
                    Err(_) => Err(stage.get().timed_out(self.timeout)),
                }
            }
        };
        Outcome {
            result,
            latency: start.elapsed(),
        }
    }

    async fn network(&self, stage: &StageCell) -> Result<(), Failure> {
        match &self.kind {
            Kind::Tcp => tcp::probe(&self.target).await,
            // Boxed: an HTTP/TLS or DNS exchange is a large state machine, and a future is
            // as large as its largest branch. Inline, every check task (thousands of them,
            // mostly TCP) would reserve that much memory for its whole life.
            Kind::Http(h) => Box::pin(h.probe(&self.target, stage)).await,
            Kind::Dns(d) => Box::pin(d.probe(&self.target, stage)).await,
            Kind::Exec(_) => Ok(()),
        }
    }
}

// === stages, for a useful timeout detail ===

/// How far a network probe got; read when the timeout cuts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum Stage {
    Connect = 0,
    TlsHandshake,
    ResponseHead,
    ResponseBody,
    DnsAnswer,
}

impl Stage {
    fn timed_out(self, after: Duration) -> Failure {
        let what = match self {
            Stage::Connect => "no connection",
            Stage::TlsHandshake => "TLS handshake not complete",
            Stage::ResponseHead => "no response",
            Stage::ResponseBody => "response body not complete",
            Stage::DnsAnswer => "no DNS answer",
        };
        Failure::new(
            Reason::Timeout,
            format!("{what} within {}", fmt_duration(after)),
        )
    }
}

/// The current `Stage`, shared by reference with the probe future (an atomic, so that
/// future stays `Send`).
struct StageCell(AtomicU8);

impl StageCell {
    fn new() -> Self {
        StageCell(AtomicU8::new(Stage::Connect as u8))
    }

    fn set(&self, s: Stage) {
        self.0.store(s as u8, Ordering::Relaxed);
    }

    fn get(&self) -> Stage {
        match self.0.load(Ordering::Relaxed) {
            1 => Stage::TlsHandshake,
            2 => Stage::ResponseHead,
            3 => Stage::ResponseBody,
            4 => Stage::DnsAnswer,
            _ => Stage::Connect,
        }
    }
}

/// `300ms`, `2s`, `1.5s`: the config's own way of writing durations.
fn fmt_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms >= 1000 && ms % 1000 == 0 {
        format!("{}s", ms / 1000)
    } else if ms >= 1000 {
        let frac = format!("{:03}", ms % 1000);
        format!("{}.{}s", ms / 1000, frac.trim_end_matches('0'))
    } else if ms > 0 {
        format!("{ms}ms")
    } else {
        format!("{}us", d.as_micros())
    }
}

/// Maps a socket error to its bounded reason.
fn io_failure(e: &std::io::Error) -> Failure {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::ConnectionRefused => Failure::new(Reason::Refused, "connection refused"),
        K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe => {
            Failure::new(Reason::Reset, "connection reset")
        }
        K::UnexpectedEof => Failure::new(Reason::Reset, "connection closed early"),
        K::TimedOut => Failure::new(Reason::Timeout, e.to_string()),
        _ => Failure::new(Reason::Network, e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

    #[test]
    fn durations_are_written_as_in_the_config() {
        assert_eq!(fmt_duration(Duration::from_millis(300)), "300ms");
        assert_eq!(fmt_duration(Duration::from_secs(2)), "2s");
        assert_eq!(fmt_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(fmt_duration(Duration::from_millis(1250)), "1.25s");
        assert_eq!(fmt_duration(Duration::from_micros(20)), "20us");
    }

    #[test]
    fn socket_errors_map_to_bounded_reasons() {
        let cases = [
            (io::ErrorKind::ConnectionRefused, Reason::Refused),
            (io::ErrorKind::ConnectionReset, Reason::Reset),
            (io::ErrorKind::BrokenPipe, Reason::Reset),
            (io::ErrorKind::UnexpectedEof, Reason::Reset),
            (io::ErrorKind::TimedOut, Reason::Timeout),
            (io::ErrorKind::HostUnreachable, Reason::Network),
            (io::ErrorKind::AddrNotAvailable, Reason::Network),
        ];
        for (kind, reason) in cases {
            assert_eq!(
                io_failure(&io::Error::from(kind)).reason,
                reason,
                "{kind:?}"
            );
        }
        assert_eq!(
            io_failure(&io::Error::from(io::ErrorKind::ConnectionRefused)),
            Failure::new(Reason::Refused, "connection refused")
        );
    }

    #[test]
    fn a_timeout_names_the_stage_it_cut() {
        let cell = StageCell::new();
        assert_eq!(
            cell.get().timed_out(Duration::from_millis(250)),
            Failure::new(Reason::Timeout, "no connection within 250ms")
        );
        cell.set(Stage::ResponseBody);
        assert_eq!(
            cell.get().timed_out(Duration::from_secs(1)),
            Failure::new(Reason::Timeout, "response body not complete within 1s")
        );
        for s in [
            Stage::Connect,
            Stage::TlsHandshake,
            Stage::ResponseHead,
            Stage::ResponseBody,
            Stage::DnsAnswer,
        ] {
            cell.set(s);
            assert_eq!(cell.get(), s);
        }
    }

    #[test]
    fn prober_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Prober>();
    }
}
