//! The VRRP state machine of one virtual router (RFC 5798 section 6.4; RFC 3768 section
//! 6.4 for version 2), plus the FAULT state of tracked interfaces and a preempt delay.
//!
//! Pure: `Instance::handle(now, input) -> Vec<Action>`. No sockets, no clock reads: the
//! time comes in with every input, and the shell sleeps until
//! [`Instance::next_deadline`] and then hands in [`Input::Timer`]. Adverts reach the state
//! machine only after `packet::validate` accepted them (TTL, version, VRID, checksum,
//! authentication and, in version 2, the advert interval are checked there).

use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::config::VrrpVersion;

/// The protocol state (RFC 5798 section 6.4), plus FAULT: a tracked interface at weight
/// 0 is down, so this router takes no part until it is back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum State {
    Initialize,
    Backup,
    Master,
    Fault,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Initialize => "initialize",
            State::Backup => "backup",
            State::Master => "master",
            State::Fault => "fault",
        }
    }

    pub const ALL: [State; 4] = [
        State::Initialize,
        State::Backup,
        State::Master,
        State::Fault,
    ];
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a transition happened; logged and passed to notify commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// Started (or fault cleared) with a priority below 255: wait for a master.
    Startup,
    /// Priority 255: the addresses are ours, take them at once.
    AddressOwner,
    /// No advert from a master within the master-down interval.
    MasterDown,
    /// The master announced priority 0 (it is stopping) and the skew time passed.
    MasterReleased,
    /// A master with a higher priority (or the same priority and a higher address).
    HigherPriority,
    /// The preempt delay ran out while a lower-priority router was master.
    PreemptDelayElapsed,
    Shutdown,
    /// A tracked interface with weight 0 went down.
    Fault,
    FaultCleared,
    /// A member of this instance's sync group moved, so this instance follows.
    SyncGroup,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Startup => "startup",
            Reason::AddressOwner => "address_owner",
            Reason::MasterDown => "master_down",
            Reason::MasterReleased => "master_released",
            Reason::HigherPriority => "higher_priority",
            Reason::PreemptDelayElapsed => "preempt_delay_elapsed",
            Reason::Shutdown => "shutdown",
            Reason::Fault => "fault",
            Reason::FaultCleared => "fault_cleared",
            Reason::SyncGroup => "sync_group",
        }
    }
}

/// What the instance is configured with (the parts the protocol needs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Params {
    pub version: VrrpVersion,
    /// Priority before tracking; 255 = address owner.
    pub priority: u8,
    pub advert_interval: Duration,
    pub preempt: bool,
    /// After startup (or a cleared fault), a lower-priority master is left in place this
    /// long before this router preempts it (0 = preempt at once).
    pub preempt_delay: Duration,
    /// This router's primary address on the interface (or its unicast source): breaks
    /// ties between equal priorities (RFC 5798 section 6.4.3).
    pub local_addr: IpAddr,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    Startup,
    Shutdown,
    /// A valid advertisement from another router of this virtual router.
    Advert {
        from: IpAddr,
        priority: u8,
        /// Version 3: the advert's Max Adver Int; version 2: the configured interval
        /// (validation dropped the adverts whose interval differs).
        interval: Duration,
    },
    /// A deadline from [`Instance::next_deadline`] was reached.
    Timer,
    /// The priority after tracking changed (1..=254; 255 stays 255).
    Priority(u8),
    /// A tracked interface with weight 0 went down (`true`) or every one is up (`false`).
    Fault(bool),
    /// Follow the sync group into BACKUP or MASTER (other states are ignored).
    SyncTo(State),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Send an advertisement with this priority (0 = releasing mastership).
    SendAdvert { priority: u8 },
    /// Put the virtual addresses on their devices.
    AddAddresses,
    /// Take the virtual addresses off.
    RemoveAddresses,
    /// Gratuitous ARP (IPv4) / unsolicited neighbour advertisements (IPv6) for every
    /// virtual address, repeated as configured.
    Announce,
    StateChanged {
        from: State,
        to: State,
        reason: Reason,
    },
}

/// One virtual router's protocol state.
#[derive(Clone, Debug)]
pub struct Instance {
    params: Params,
    state: State,
    /// Effective priority (after tracking).
    priority: u8,
    fault: bool,
    /// Master_Adver_Interval (RFC 5798 section 6.1): the master's, learnt from its adverts
    /// in version 3; always the configured one in version 2.
    master_adver_interval: Duration,
    /// The master we follow as BACKUP (from its last accepted advert).
    master: Option<(IpAddr, u8)>,
    adver_at: Option<Instant>,
    master_down_at: Option<Instant>,
    preempt_at: Option<Instant>,
    /// Until then, a lower-priority master is accepted (the preempt delay).
    preempt_not_before: Option<Instant>,
    /// The master-down timer was cut to the skew time by the master's priority-0 advert.
    released: bool,
    /// Last time a lower-priority master's advert made us re-announce (rate limit).
    last_lower_answer: Option<Instant>,
}

// === impl Instance ===

impl Instance {
    pub fn new(params: Params) -> Self {
        Instance {
            priority: params.priority,
            master_adver_interval: params.advert_interval,
            params,
            state: State::Initialize,
            fault: false,
            master: None,
            adver_at: None,
            master_down_at: None,
            preempt_at: None,
            preempt_not_before: None,
            last_lower_answer: None,
            released: false,
        }
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// The priority in force (after tracking).
    pub fn priority(&self) -> u8 {
        self.priority
    }

    /// The master this BACKUP follows: its address and priority.
    pub fn master(&self) -> Option<(IpAddr, u8)> {
        self.master
    }

    pub fn master_adver_interval(&self) -> Duration {
        self.master_adver_interval
    }

    /// The earliest armed timer; hand in [`Input::Timer`] once it has passed.
    pub fn next_deadline(&self) -> Option<Instant> {
        [self.adver_at, self.master_down_at, self.preempt_at]
            .into_iter()
            .flatten()
            .min()
    }

    /// Skew_Time (RFC 5798 section 6.1): `((256 - Priority) * Master_Adver_Interval) /
    /// 256`, kept exact in nanoseconds (a centisecond or second truncation would make it
    /// 0 for high priorities). Version 2 (RFC 3768 section 6.1): `(256 - Priority) / 256`
    /// seconds, whatever the advert interval.
    pub fn skew_time(&self) -> Duration {
        let base = match self.params.version {
            VrrpVersion::V3 => self.master_adver_interval,
            VrrpVersion::V2 => Duration::from_secs(1),
        };
        base * (256 - u32::from(self.priority)) / 256
    }

    /// Master_Down_Interval: `3 * Master_Adver_Interval + Skew_Time` (RFC 5798 section
    /// 6.1, RFC 3768 section 6.1).
    pub fn master_down_interval(&self) -> Duration {
        3 * self.master_adver_interval + self.skew_time()
    }

    /// An address owner always preempts, whatever `preempt` says (RFC 5798 section 6.1,
    /// Preempt_Mode).
    fn preempts(&self) -> bool {
        self.params.preempt || self.priority == 255
    }

    pub fn handle(&mut self, now: Instant, input: Input) -> Vec<Action> {
        let mut out = Vec::new();
        match input {
            Input::Startup => {
                if self.state == State::Initialize {
                    self.start(now, Reason::Startup, &mut out);
                }
            }
            Input::Shutdown => self.shutdown(&mut out),
            Input::Advert {
                from,
                priority,
                interval,
            } => self.advert(now, from, priority, interval, &mut out),
            Input::Timer => self.timers(now, &mut out),
            Input::Priority(p) => self.set_priority(now, p, &mut out),
            Input::Fault(on) => self.set_fault(now, on, &mut out),
            Input::SyncTo(to) => self.sync_to(now, to, &mut out),
        }
        out
    }

    /// RFC 5798 section 6.4.1 (Initialize), on Startup; also the way out of FAULT.
    fn start(&mut self, now: Instant, reason: Reason, out: &mut Vec<Action>) {
        if self.fault {
            self.transition(State::Fault, Reason::Fault, out);
            return;
        }
        self.preempt_not_before =
            (!self.params.preempt_delay.is_zero()).then(|| now + self.params.preempt_delay);
        if self.priority == 255 {
            // "If the Priority = 255 ... send an ADVERTISEMENT ... broadcast a gratuitous
            // ARP ... transition to the Master state".
            self.become_master(now, Reason::AddressOwner, out);
        } else {
            // "Set Master_Adver_Interval to Advertisement_Interval ... Set the
            // Master_Down_Timer to Master_Down_Interval ... transition to the Backup state".
            self.master_adver_interval = self.params.advert_interval;
            self.become_backup(now, reason, out);
        }
    }

    fn become_master(&mut self, now: Instant, reason: Reason, out: &mut Vec<Action>) {
        self.master_down_at = None;
        self.preempt_at = None;
        self.master = None;
        self.transition(State::Master, reason, out);
        out.push(Action::AddAddresses);
        out.push(Action::SendAdvert {
            priority: self.priority,
        });
        out.push(Action::Announce);
        self.adver_at = Some(now + self.params.advert_interval);
    }

    fn become_backup(&mut self, now: Instant, reason: Reason, out: &mut Vec<Action>) {
        let was_master = self.state == State::Master;
        self.adver_at = None;
        self.preempt_at = None;
        self.transition(State::Backup, reason, out);
        if was_master {
            out.push(Action::RemoveAddresses);
        }
        self.master_down_at = Some(now + self.master_down_interval());
    }

    /// RFC 5798 sections 6.4.2 and 6.4.3, on Shutdown.
    fn shutdown(&mut self, out: &mut Vec<Action>) {
        match self.state {
            State::Initialize => return,
            State::Master => {
                // "Send an ADVERTISEMENT with Priority = 0": the backup takes over after
                // its skew time instead of the whole master-down interval.
                out.push(Action::SendAdvert { priority: 0 });
                out.push(Action::RemoveAddresses);
            }
            State::Backup | State::Fault => {}
        }
        self.cancel_timers();
        self.master = None;
        self.transition(State::Initialize, Reason::Shutdown, out);
    }

    fn advert(
        &mut self,
        now: Instant,
        from: IpAddr,
        priority: u8,
        interval: Duration,
        out: &mut Vec<Action>,
    ) {
        match self.state {
            State::Initialize | State::Fault => {}
            State::Backup => self.backup_advert(now, from, priority, interval),
            State::Master => self.master_advert(now, from, priority, interval, out),
        }
    }

    /// RFC 5798 section 6.4.2 (Backup), "If an ADVERTISEMENT is received".
    fn backup_advert(&mut self, now: Instant, from: IpAddr, priority: u8, interval: Duration) {
        if priority == 0 {
            // "If the Priority in the ADVERTISEMENT is zero, then: Set the
            // Master_Down_Timer to Skew_Time".
            self.master_down_at = Some(now + self.skew_time());
            self.master = None;
            self.released = true;
            return;
        }
        let delayed = self.preempt_not_before.is_some_and(|t| now < t);
        if !self.preempts() || priority >= self.priority || delayed {
            // "If Preempt_Mode is False, or if the Priority in the ADVERTISEMENT is greater
            // than or equal to the local Priority, then: Set Master_Adver_Interval to Adver
            // Interval contained in the ADVERTISEMENT, Recompute the Master_Down_Interval,
            // Reset the Master_Down_Timer to Master_Down_Interval". In version 2 the
            // interval is the configured one (RFC 3768 section 7.1 drops the others), and
            // a backup keeps its own (RFC 3768 section 6.4.2 learns nothing).
            if self.params.version == VrrpVersion::V3 {
                self.master_adver_interval = interval;
            }
            self.master_down_at = Some(now + self.master_down_interval());
            self.master = Some((from, priority));
            self.released = false;
            if delayed && self.preempts() && priority < self.priority {
                // A lower-priority master inside the preempt delay: leave it in place until
                // the delay runs out, then take over.
                self.preempt_at = self.preempt_not_before;
            } else {
                self.preempt_at = None;
            }
        }
        // "Else ... Discard the ADVERTISEMENT": the Master_Down_Timer runs out and this
        // router preempts the lower-priority master.
    }

    /// RFC 5798 section 6.4.3 (Master), "If an ADVERTISEMENT is received".
    fn master_advert(
        &mut self,
        now: Instant,
        from: IpAddr,
        priority: u8,
        interval: Duration,
        out: &mut Vec<Action>,
    ) {
        if priority == 0 {
            // "If the Priority in the ADVERTISEMENT is zero, then: Send an ADVERTISEMENT,
            // Reset the Adver_Timer to Advertisement_Interval".
            self.send_advert(now, out);
            return;
        }
        if priority > self.priority
            || (priority == self.priority && ip_gt(from, self.params.local_addr))
        {
            // "If the Priority in the ADVERTISEMENT is greater than the local Priority or
            // the Priority in the ADVERTISEMENT is equal to the local Priority and the
            // primary IPvX Address of the sender is greater than the local primary IPvX
            // Address, then: Cancel Adver_Timer, Set Master_Adver_Interval to Adver Interval
            // contained in the ADVERTISEMENT, Recompute the Master_Down_Interval, Set
            // Master_Down_Timer to Master_Down_Interval, Transition to the Backup state".
            if self.params.version == VrrpVersion::V3 {
                self.master_adver_interval = interval;
            }
            // Beyond the RFC: one last advert at our priority before stepping down. If we
            // were master because of a partition, the other master has not heard us; this
            // advert makes it answer at once with fresh gratuitous ARPs (see below), so
            // hosts that followed our announcement come back to it within one advert
            // interval instead of when their ARP entry expires.
            out.push(Action::SendAdvert {
                priority: self.priority,
            });
            self.become_backup(now, Reason::HigherPriority, out);
            self.master = Some((from, priority));
            return;
        }
        // The RFC discards the advert. Two masters exist (a healed partition, a peer that
        // missed our adverts): answer at once with an advert and fresh gratuitous ARPs, so
        // the other steps down within one advert interval and the network's caches point
        // here again. Rate-limited to once per master-down interval.
        let answered_recently = self
            .last_lower_answer
            .is_some_and(|t| now < t + self.master_down_interval());
        if !answered_recently {
            self.last_lower_answer = Some(now);
            self.send_advert(now, out);
            out.push(Action::Announce);
        }
    }

    fn send_advert(&mut self, now: Instant, out: &mut Vec<Action>) {
        out.push(Action::SendAdvert {
            priority: self.priority,
        });
        self.adver_at = Some(now + self.params.advert_interval);
    }

    fn timers(&mut self, now: Instant, out: &mut Vec<Action>) {
        let due = |t: Option<Instant>| t.is_some_and(|t| t <= now);
        match self.state {
            State::Backup => {
                if due(self.master_down_at) {
                    // RFC 5798 section 6.4.2: "If the Master_Down_Timer fires" -> Master.
                    let reason = if self.released {
                        Reason::MasterReleased
                    } else {
                        Reason::MasterDown
                    };
                    self.become_master(now, reason, out);
                } else if due(self.preempt_at) {
                    self.become_master(now, Reason::PreemptDelayElapsed, out);
                }
            }
            State::Master => {
                if due(self.adver_at) {
                    // RFC 5798 section 6.4.3: "If the Adver_Timer fires, then: Send an
                    // ADVERTISEMENT, Reset the Adver_Timer to Advertisement_Interval".
                    self.send_advert(now, out);
                }
            }
            State::Initialize | State::Fault => {}
        }
    }

    fn set_priority(&mut self, now: Instant, p: u8, out: &mut Vec<Action>) {
        // The address owner keeps 255; nobody else may reach 255 or 0 by tracking.
        let p = if self.params.priority == 255 {
            255
        } else {
            p.clamp(1, 254)
        };
        if p == self.priority {
            return;
        }
        self.priority = p;
        if self.state == State::Master {
            // Tell the backups at once: one with preemption takes over at once instead of
            // at the next advert.
            self.send_advert(now, out);
        }
    }

    fn set_fault(&mut self, now: Instant, on: bool, out: &mut Vec<Action>) {
        if on == self.fault {
            return;
        }
        self.fault = on;
        match (on, self.state) {
            (_, State::Initialize) => {}
            (true, State::Master) => {
                // Leaving: release like a shutdown so the backup need not wait out the
                // master-down interval.
                out.push(Action::SendAdvert { priority: 0 });
                out.push(Action::RemoveAddresses);
                self.cancel_timers();
                self.master = None;
                self.transition(State::Fault, Reason::Fault, out);
            }
            (true, _) => {
                self.cancel_timers();
                self.master = None;
                self.transition(State::Fault, Reason::Fault, out);
            }
            (false, State::Fault) => self.start(now, Reason::FaultCleared, out),
            (false, _) => {}
        }
    }

    /// Sync groups: a member moved to BACKUP or MASTER; this instance follows unless it is
    /// in FAULT or not started.
    fn sync_to(&mut self, now: Instant, to: State, out: &mut Vec<Action>) {
        match (self.state, to) {
            (State::Backup, State::Master) => self.become_master(now, Reason::SyncGroup, out),
            (State::Master, State::Backup) => self.become_backup(now, Reason::SyncGroup, out),
            _ => {}
        }
    }

    fn cancel_timers(&mut self) {
        self.adver_at = None;
        self.master_down_at = None;
        self.preempt_at = None;
    }

    fn transition(&mut self, to: State, reason: Reason, out: &mut Vec<Action>) {
        let from = self.state;
        self.released = false;
        self.state = to;
        if from != to {
            out.push(Action::StateChanged { from, to, reason });
        }
    }
}

/// `a > b` as numbers, for the tie-break between equal priorities (both of one family:
/// an instance runs over one family).
fn ip_gt(a: IpAddr, b: IpAddr) -> bool {
    match (a, b) {
        (IpAddr::V4(a), IpAddr::V4(b)) => u32::from(a) > u32::from(b),
        (IpAddr::V6(a), IpAddr::V6(b)) => u128::from(a) > u128::from(b),
        _ => false,
    }
}

#[cfg(test)]
mod tests;
