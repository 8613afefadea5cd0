//! A one-shot timer with microsecond precision for the VRRP state machine's deadlines.
//!
//! I/O shell. tokio's timer wheel has a 1 ms resolution and rounds each deadline up (and
//! the park timeout again), so a master-down deadline fired 1-2 ms late; keepalived uses a
//! timerfd and takes over that much sooner. This is a `CLOCK_MONOTONIC` timerfd (the clock
//! of `std::time::Instant` on Linux) registered with the tokio reactor.

use std::io;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};

use super::socket::Registered;

pub struct PreciseTimer {
    timer: TimerFd,
    /// A duplicate of the timer's descriptor, registered for readiness.
    reg: Registered,
}

impl PreciseTimer {
    /// Needs a tokio runtime.
    pub fn new() -> io::Result<PreciseTimer> {
        let timer = TimerFd::new(
            ClockId::CLOCK_MONOTONIC,
            TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
        )?;
        let dup = timer.as_fd().try_clone_to_owned()?;
        let reg = Registered::new(dup)?;
        Ok(PreciseTimer { timer, reg })
    }

    /// Waits until `deadline` (at once if it has passed).
    pub async fn sleep_until(&self, deadline: Instant) -> io::Result<()> {
        // A zero expiration would disarm the timer: at least a nanosecond.
        let d = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_nanos(1));
        self.timer.set(
            Expiration::OneShot(TimeSpec::from_duration(d)),
            TimerSetTimeFlags::empty(),
        )?;
        self.reg
            .read_with(|_| self.timer.wait().map_err(io::Error::from))
            .await
    }
}
