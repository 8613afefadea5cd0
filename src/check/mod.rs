//! Health checks: probing real servers (`probe`, the I/O), and turning results into up/down
//! transitions (`health`, pure rise/fall counting).

pub mod health;
pub mod probe;
pub mod runner;
pub mod schedule;
pub mod servers;

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

/// Where a probe goes: the check's `connect_address`/`connect_port` if set, else the real
/// server's; `source` binds the local end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Target {
    pub addr: IpAddr,
    pub port: u16,
    pub source: Option<IpAddr>,
}

/// Why a probe failed. A bounded set (it becomes a metric label): details such as the
/// status code or exit code travel in `Failure::detail`, not here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    /// TCP connection refused (RST to SYN).
    Refused,
    /// The whole probe did not finish within the check's timeout.
    Timeout,
    /// The connection was reset or closed before the answer was complete.
    Reset,
    /// Host/network unreachable, or another socket error.
    Network,
    /// The server certificate does not chain to the configured CA.
    TlsUnknownCa,
    /// The server certificate has expired or is not yet valid.
    TlsExpired,
    /// The server certificate is not valid for the expected name.
    TlsNameMismatch,
    /// Any other TLS failure (handshake, protocol, client certificate refused).
    TlsOther,
    /// Malformed HTTP or DNS answer.
    Protocol,
    /// HTTP status not in `expect_status`.
    HttpStatus,
    /// HTTP body did not match `expect_body`.
    BodyMismatch,
    /// DNS answer with an rcode other than NOERROR.
    DnsRcode,
    /// DNS answer without the expected value (or no answer at all).
    DnsAnswer,
    /// Exec check exited non-zero.
    ExitCode,
    /// Exec check was killed by a signal.
    Signal,
    /// Exec check could not be started (program missing, user unknown, ...).
    Spawn,
}

impl Reason {
    pub const ALL: &[Reason] = &[
        Reason::Refused,
        Reason::Timeout,
        Reason::Reset,
        Reason::Network,
        Reason::TlsUnknownCa,
        Reason::TlsExpired,
        Reason::TlsNameMismatch,
        Reason::TlsOther,
        Reason::Protocol,
        Reason::HttpStatus,
        Reason::BodyMismatch,
        Reason::DnsRcode,
        Reason::DnsAnswer,
        Reason::ExitCode,
        Reason::Signal,
        Reason::Spawn,
    ];

    /// snake_case name for logs and metric labels.
    pub fn name(self) -> &'static str {
        match self {
            Reason::Refused => "refused",
            Reason::Timeout => "timeout",
            Reason::Reset => "reset",
            Reason::Network => "network",
            Reason::TlsUnknownCa => "tls_unknown_ca",
            Reason::TlsExpired => "tls_expired",
            Reason::TlsNameMismatch => "tls_name_mismatch",
            Reason::TlsOther => "tls_other",
            Reason::Protocol => "protocol",
            Reason::HttpStatus => "http_status",
            Reason::BodyMismatch => "body_mismatch",
            Reason::DnsRcode => "dns_rcode",
            Reason::DnsAnswer => "dns_answer",
            Reason::ExitCode => "exit_code",
            Reason::Signal => "signal",
            Reason::Spawn => "spawn",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A failed probe: the bounded reason plus a human detail (`status 503`, `exit 2`,
/// `certificate expired 2024-01-01`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub reason: Reason,
    pub detail: String,
}

impl Failure {
    pub fn new(reason: Reason, detail: impl Into<String>) -> Self {
        Failure {
            reason,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.detail.is_empty() {
            write!(f, "{}", self.reason)
        } else {
            write!(f, "{}: {}", self.reason, self.detail)
        }
    }
}

/// The result of one probe and how long it took.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub result: Result<(), Failure>,
    pub latency: Duration,
}
