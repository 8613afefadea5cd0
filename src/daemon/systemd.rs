//! The systemd notify protocol (`sd_notify(3)`), for `Type=notify-reload` units:
//! `READY=1` once the IPVS table has converged, `RELOADING=1` and `READY=1` around a
//! reload, `STOPPING=1`, `STATUS=` lines, and `WATCHDOG=1` keep-alives from the main loop
//! when the unit sets `WatchdogSec=`.
//!
//! Without `$NOTIFY_SOCKET` (not started by systemd) every call does nothing. A datagram
//! that cannot be sent is logged once at debug level: systemd's notify socket is local and
//! never blocks for long.

use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

use tracing::debug;

pub struct Notifier {
    socket: Option<(UnixDatagram, SocketAddr)>,
    /// Half of `$WATCHDOG_USEC`, if the watchdog is on for this process.
    watchdog: Option<Duration>,
}

/// Where `$NOTIFY_SOCKET` points: a path, or an abstract name (`@name`).
fn address(var: &str) -> Option<SocketAddr> {
    if let Some(name) = var.strip_prefix('@') {
        use std::os::linux::net::SocketAddrExt;
        SocketAddr::from_abstract_name(name.as_bytes()).ok()
    } else if var.starts_with('/') {
        SocketAddr::from_pathname(var).ok()
    } else {
        None
    }
}

/// The keep-alive period for `$WATCHDOG_USEC` (half of it, as sd_watchdog_enabled(3)
/// recommends), if `$WATCHDOG_PID` is unset or this process.
fn watchdog(usec: Option<&str>, pid: Option<&str>, me: u32) -> Option<Duration> {
    let usec: u64 = usec?.parse().ok().filter(|u| *u > 0)?;
    if let Some(p) = pid
        && p.parse::<u32>().ok() != Some(me)
    {
        return None;
    }
    Some(Duration::from_micros(usec / 2))
}

fn monotonic_usec() -> u64 {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
        .map(|t| t.tv_sec() as u64 * 1_000_000 + t.tv_nsec() as u64 / 1000)
        .unwrap_or(0)
}

impl Notifier {
    pub fn from_env() -> Notifier {
        let socket = std::env::var("NOTIFY_SOCKET")
            .ok()
            .and_then(|v| address(&v))
            .and_then(|a| UnixDatagram::unbound().ok().map(|s| (s, a)));
        let watchdog = watchdog(
            std::env::var("WATCHDOG_USEC").ok().as_deref(),
            std::env::var("WATCHDOG_PID").ok().as_deref(),
            std::process::id(),
        );
        let has_socket = socket.is_some();
        Notifier {
            socket,
            watchdog: watchdog.filter(|_| has_socket),
        }
    }

    /// The watchdog keep-alive period, if systemd asked for one.
    pub fn watchdog_period(&self) -> Option<Duration> {
        self.watchdog
    }

    fn send(&self, msg: &str) {
        if let Some((s, a)) = &self.socket
            && let Err(e) = s.send_to_addr(msg.as_bytes(), a)
        {
            debug!(error = %e, "systemd notify failed");
        }
    }

    pub fn ready(&self, status: &str) {
        self.send(&format!("READY=1\nSTATUS={status}"));
    }

    pub fn reloading(&self) {
        self.send(&format!("RELOADING=1\nMONOTONIC_USEC={}", monotonic_usec()));
    }

    pub fn status(&self, status: &str) {
        self.send(&format!("STATUS={status}"));
    }

    pub fn stopping(&self) {
        self.send("STOPPING=1\nSTATUS=stopping");
    }

    pub fn watchdog(&self) {
        self.send("WATCHDOG=1");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_watchdog_period_is_half_the_timeout_and_only_for_this_process() {
        assert_eq!(
            watchdog(Some("10000000"), None, 7),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            watchdog(Some("10000000"), Some("7"), 7),
            Some(Duration::from_secs(5))
        );
        assert_eq!(watchdog(Some("10000000"), Some("8"), 7), None);
        assert_eq!(watchdog(Some("0"), None, 7), None);
        assert_eq!(watchdog(None, None, 7), None);
        assert_eq!(watchdog(Some("x"), None, 7), None);
    }

    #[test]
    fn notify_socket_addresses() {
        assert!(address("/run/systemd/notify").is_some());
        assert!(address("@sd-notify").is_some());
        assert!(address("relative").is_none());
    }

    #[test]
    fn messages_reach_the_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let server = UnixDatagram::bind(&path).unwrap();
        let n = Notifier {
            socket: Some((
                UnixDatagram::unbound().unwrap(),
                SocketAddr::from_pathname(&path).unwrap(),
            )),
            watchdog: None,
        };
        n.ready("2 virtual servers");
        let mut buf = [0u8; 256];
        let len = server.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"READY=1\nSTATUS=2 virtual servers");
        n.reloading();
        let len = server.recv(&mut buf).unwrap();
        let msg = std::str::from_utf8(&buf[..len]).unwrap();
        assert!(msg.starts_with("RELOADING=1\nMONOTONIC_USEC="), "{msg}");
        let usec: u64 = msg.rsplit('=').next().unwrap().parse().unwrap();
        assert!(usec > 0);
    }
}
