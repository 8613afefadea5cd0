//! Scenario tests of the state machine: every branch of RFC 5798 section 6.4 and our
//! extensions (FAULT, preempt delay, split-brain answer, sync groups), under a fake clock.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use super::*;

const SEC: Duration = Duration::from_secs(1);

fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(192, 0, 2, last))
}

fn params(priority: u8) -> Params {
    Params {
        version: VrrpVersion::V3,
        priority,
        advert_interval: SEC,
        preempt: true,
        preempt_delay: Duration::ZERO,
        local_addr: ip(10),
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn advert(from: u8, priority: u8, interval: Duration) -> Input {
    Input::Advert {
        from: ip(from),
        priority,
        interval,
    }
}

fn changed(from: State, to: State, reason: Reason) -> Action {
    Action::StateChanged { from, to, reason }
}

fn takeover(from: State, reason: Reason, priority: u8) -> Vec<Action> {
    vec![
        changed(from, State::Master, reason),
        Action::AddAddresses,
        Action::SendAdvert { priority },
        Action::Announce,
    ]
}

/// An instance started as BACKUP at `t0`.
fn backup(p: Params, t0: Instant) -> Instance {
    let mut i = Instance::new(p);
    assert_eq!(
        i.handle(t0, Input::Startup),
        vec![changed(State::Initialize, State::Backup, Reason::Startup)]
    );
    i
}

/// An instance that became MASTER at `t0 + master down interval`; returns that time.
fn master(p: Params, t0: Instant) -> (Instance, Instant) {
    let mut i = backup(p, t0);
    let t = i.next_deadline().expect("master-down timer armed");
    let prio = i.priority();
    assert_eq!(
        i.handle(t, Input::Timer),
        takeover(State::Backup, Reason::MasterDown, prio)
    );
    (i, t)
}

// === timing (RFC 5798 section 6.1) ===

#[test]
fn skew_and_master_down_interval_follow_rfc_5798_for_version_3() {
    let i = Instance::new(params(100));
    // (256 - 100) * 1 s / 256 = 609.375 ms; 3 * 1 s + skew.
    assert_eq!(i.skew_time(), Duration::from_micros(609_375));
    assert_eq!(i.master_down_interval(), Duration::from_micros(3_609_375));
}

#[test]
fn version_2_skew_is_in_seconds_whatever_the_advert_interval() {
    let mut p = params(200);
    p.version = VrrpVersion::V2;
    p.advert_interval = 2 * SEC;
    let i = Instance::new(p);
    // RFC 3768 section 6.1: (256 - 200) / 256 s = 218.75 ms; 3 * 2 s + skew.
    assert_eq!(i.skew_time(), Duration::from_micros(218_750));
    assert_eq!(i.master_down_interval(), Duration::from_micros(6_218_750));
}

#[test]
fn skew_of_a_high_priority_with_a_centisecond_interval_is_not_truncated_to_zero() {
    let mut p = params(254);
    p.advert_interval = ms(10);
    let i = Instance::new(p);
    // 2 * 10 ms / 256 = 78.125 us (a centisecond computation would give 0).
    assert_eq!(i.skew_time(), Duration::from_nanos(78_125));
}

// === Initialize (section 6.4.1) ===

#[test]
fn startup_below_255_becomes_backup_and_arms_the_master_down_timer() {
    let t0 = Instant::now();
    let i = backup(params(100), t0);
    assert_eq!(i.state(), State::Backup);
    assert_eq!(
        i.next_deadline(),
        Some(t0 + Duration::from_micros(3_609_375))
    );
}

#[test]
fn the_address_owner_starts_as_master_at_once() {
    let t0 = Instant::now();
    let mut i = Instance::new(params(255));
    assert_eq!(
        i.handle(t0, Input::Startup),
        takeover(State::Initialize, Reason::AddressOwner, 255)
    );
    assert_eq!(i.next_deadline(), Some(t0 + SEC));
}

#[test]
fn a_second_startup_changes_nothing() {
    let t0 = Instant::now();
    let mut i = backup(params(100), t0);
    assert_eq!(i.handle(t0 + ms(10), Input::Startup), vec![]);
    assert_eq!(i.state(), State::Backup);
}

// === Backup (section 6.4.2) ===

#[test]
fn backup_becomes_master_when_the_master_down_timer_fires() {
    let t0 = Instant::now();
    let (i, t) = master(params(100), t0);
    assert_eq!(t, t0 + Duration::from_micros(3_609_375));
    assert_eq!(i.next_deadline(), Some(t + SEC));
}

#[test]
fn a_timer_before_its_deadline_does_nothing() {
    let t0 = Instant::now();
    let mut i = backup(params(100), t0);
    assert_eq!(i.handle(t0 + 3 * SEC, Input::Timer), vec![]);
    assert_eq!(i.state(), State::Backup);
}

#[test]
fn backup_with_priority_zero_advert_arms_skew_timer() {
    let t0 = Instant::now();
    let mut i = backup(params(100), t0);
    let t1 = t0 + SEC;
    assert_eq!(i.handle(t1, advert(20, 200, SEC)), vec![]);
    let t2 = t1 + SEC;
    assert_eq!(i.handle(t2, advert(20, 0, SEC)), vec![]);
    assert_eq!(i.next_deadline(), Some(t2 + Duration::from_micros(609_375)));
    assert_eq!(
        i.handle(t2 + Duration::from_micros(609_375), Input::Timer),
        takeover(State::Backup, Reason::MasterReleased, 100)
    );
}

#[test]
fn backup_adopts_the_masters_advert_interval_in_version_3() {
    let t0 = Instant::now();
    let mut i = backup(params(100), t0);
    assert_eq!(i.handle(t0, advert(20, 200, ms(100))), vec![]);
    assert_eq!(i.master_adver_interval(), ms(100));
    // 3 * 100 ms + 156 * 100 ms / 256 = 360.9375 ms.
    assert_eq!(
        i.next_deadline(),
        Some(t0 + Duration::from_micros(360_937) + Duration::from_nanos(500))
    );
    assert_eq!(i.master(), Some((ip(20), 200)));
}

#[test]
fn version_2_backup_keeps_its_configured_interval() {
    let mut p = params(100);
    p.version = VrrpVersion::V2;
    let t0 = Instant::now();
    let mut i = backup(p, t0);
    assert_eq!(i.handle(t0, advert(20, 200, 3 * SEC)), vec![]);
    assert_eq!(i.master_adver_interval(), SEC);
}

#[test]
fn preempting_backup_discards_a_lower_priority_master_and_takes_over() {
    let t0 = Instant::now();
    let mut i = backup(params(150), t0);
    let down = i.next_deadline().unwrap();
    // Lower-priority adverts do not reset the master-down timer.
    assert_eq!(i.handle(t0 + SEC, advert(20, 100, SEC)), vec![]);
    assert_eq!(i.handle(t0 + 2 * SEC, advert(20, 100, SEC)), vec![]);
    assert_eq!(i.next_deadline(), Some(down));
    assert_eq!(i.master(), None);
    assert_eq!(
        i.handle(down, Input::Timer),
        takeover(State::Backup, Reason::MasterDown, 150)
    );
}

#[test]
fn backup_without_preemption_follows_a_lower_priority_master() {
    let mut p = params(150);
    p.preempt = false;
    let t0 = Instant::now();
    let mut i = backup(p, t0);
    let t1 = t0 + 3 * SEC;
    assert_eq!(i.handle(t1, advert(20, 100, SEC)), vec![]);
    assert_eq!(i.master(), Some((ip(20), 100)));
    assert_eq!(i.next_deadline(), Some(t1 + i.master_down_interval()));
    assert_eq!(i.handle(t0 + 4 * SEC, Input::Timer), vec![]);
    assert_eq!(i.state(), State::Backup);
}

#[test]
fn an_equal_priority_master_is_followed_by_a_preempting_backup() {
    let t0 = Instant::now();
    let mut i = backup(params(100), t0);
    let t1 = t0 + 3 * SEC;
    assert_eq!(i.handle(t1, advert(5, 100, SEC)), vec![]);
    assert_eq!(i.master(), Some((ip(5), 100)));
    assert_eq!(i.next_deadline(), Some(t1 + i.master_down_interval()));
}

#[test]
fn preempt_delay_leaves_a_lower_priority_master_in_place_until_it_runs_out() {
    let mut p = params(150);
    p.preempt_delay = 10 * SEC;
    let t0 = Instant::now();
    let mut i = backup(p, t0);
    // Adverts every second from a lower-priority master keep it in place...
    for s in 1..10 {
        assert_eq!(i.handle(t0 + s * SEC, advert(20, 100, SEC)), vec![]);
        assert_eq!(i.state(), State::Backup);
    }
    // ...until the delay ends: this router takes over then, without waiting for the
    // master-down interval.
    assert_eq!(i.next_deadline(), Some(t0 + 10 * SEC));
    assert_eq!(
        i.handle(t0 + 10 * SEC, Input::Timer),
        takeover(State::Backup, Reason::PreemptDelayElapsed, 150)
    );
}

#[test]
fn after_the_preempt_delay_lower_priority_adverts_are_discarded() {
    let mut p = params(150);
    p.preempt_delay = 2 * SEC;
    let t0 = Instant::now();
    let mut i = backup(p, t0);
    let down = i.next_deadline().unwrap();
    assert_eq!(i.handle(t0 + 3 * SEC, advert(20, 100, SEC)), vec![]);
    assert_eq!(i.master(), None);
    assert_eq!(i.next_deadline(), Some(down));
}

// === Master (section 6.4.3) ===

#[test]
fn master_sends_an_advert_every_interval() {
    let t0 = Instant::now();
    let (mut i, t) = master(params(100), t0);
    for k in 1..4 {
        assert_eq!(
            i.handle(t + k * SEC, Input::Timer),
            vec![Action::SendAdvert { priority: 100 }]
        );
        assert_eq!(i.next_deadline(), Some(t + (k + 1) * SEC));
    }
}

#[test]
fn master_steps_down_for_a_higher_priority_advert() {
    let t0 = Instant::now();
    let (mut i, t) = master(params(100), t0);
    let t1 = t + ms(300);
    assert_eq!(
        i.handle(t1, advert(20, 200, ms(500))),
        vec![
            // A last advert at our priority: a master that did not know of us (a healed
            // partition) answers it with fresh gratuitous ARPs.
            Action::SendAdvert { priority: 100 },
            changed(State::Master, State::Backup, Reason::HigherPriority),
            Action::RemoveAddresses
        ]
    );
    assert_eq!(i.master(), Some((ip(20), 200)));
    assert_eq!(i.master_adver_interval(), ms(500));
    assert_eq!(i.next_deadline(), Some(t1 + i.master_down_interval()));
}

#[test]
fn equal_priorities_are_broken_by_the_higher_primary_address() {
    let t0 = Instant::now();
    // Local address 192.0.2.10: a sender .20 wins, a sender .5 loses.
    let (mut i, t) = master(params(100), t0);
    assert_eq!(
        i.handle(t + ms(100), advert(5, 100, SEC)),
        vec![Action::SendAdvert { priority: 100 }, Action::Announce]
    );
    assert_eq!(i.state(), State::Master);
    assert_eq!(
        i.handle(t + ms(200), advert(20, 100, SEC)),
        vec![
            Action::SendAdvert { priority: 100 },
            changed(State::Master, State::Backup, Reason::HigherPriority),
            Action::RemoveAddresses
        ]
    );
}

#[test]
fn master_answers_a_priority_zero_advert_at_once() {
    let t0 = Instant::now();
    let (mut i, t) = master(params(100), t0);
    let t1 = t + ms(400);
    assert_eq!(
        i.handle(t1, advert(20, 0, SEC)),
        vec![Action::SendAdvert { priority: 100 }]
    );
    assert_eq!(i.next_deadline(), Some(t1 + SEC));
}

#[test]
fn two_masters_heal_the_lower_one_is_answered_once_per_master_down_interval() {
    let t0 = Instant::now();
    let (mut i, t) = master(params(200), t0);
    let answer = vec![Action::SendAdvert { priority: 200 }, Action::Announce];
    assert_eq!(i.handle(t + ms(100), advert(20, 100, SEC)), answer);
    assert_eq!(i.handle(t + ms(1100), advert(20, 100, SEC)), vec![]);
    let again = t + ms(100) + i.master_down_interval();
    assert_eq!(i.handle(again, advert(20, 100, SEC)), answer);
    assert_eq!(i.state(), State::Master);
}

#[test]
fn shutdown_of_a_master_sends_priority_zero_and_releases_the_addresses() {
    let t0 = Instant::now();
    let (mut i, t) = master(params(100), t0);
    assert_eq!(
        i.handle(t + ms(10), Input::Shutdown),
        vec![
            Action::SendAdvert { priority: 0 },
            Action::RemoveAddresses,
            changed(State::Master, State::Initialize, Reason::Shutdown)
        ]
    );
    assert_eq!(i.next_deadline(), None);
}

#[test]
fn shutdown_of_a_backup_only_stops_its_timers() {
    let t0 = Instant::now();
    let mut i = backup(params(100), t0);
    assert_eq!(
        i.handle(t0, Input::Shutdown),
        vec![changed(State::Backup, State::Initialize, Reason::Shutdown)]
    );
    assert_eq!(i.next_deadline(), None);
    assert_eq!(i.handle(t0 + 10 * SEC, advert(20, 0, SEC)), vec![]);
}

// === priority tracking and FAULT ===

#[test]
fn a_priority_change_in_master_is_advertised_at_once() {
    let t0 = Instant::now();
    let (mut i, t) = master(params(150), t0);
    assert_eq!(
        i.handle(t + ms(200), Input::Priority(90)),
        vec![Action::SendAdvert { priority: 90 }]
    );
    assert_eq!(i.priority(), 90);
    assert_eq!(i.next_deadline(), Some(t + ms(1200)));
    // The same priority again sends nothing.
    assert_eq!(i.handle(t + ms(300), Input::Priority(90)), vec![]);
}

#[test]
fn tracking_never_takes_a_priority_to_0_or_255_and_never_moves_the_owner() {
    let t0 = Instant::now();
    let mut i = backup(params(100), t0);
    assert_eq!(i.handle(t0, Input::Priority(0)), vec![]);
    assert_eq!(i.priority(), 1);
    assert_eq!(i.handle(t0, Input::Priority(255)), vec![]);
    assert_eq!(i.priority(), 254);
    let mut owner = Instance::new(params(255));
    owner.handle(t0, Input::Startup);
    assert_eq!(owner.handle(t0, Input::Priority(50)), vec![]);
    assert_eq!(owner.priority(), 255);
}

#[test]
fn a_lower_priority_makes_a_backup_preempted_sooner() {
    let t0 = Instant::now();
    let mut i = backup(params(100), t0);
    assert_eq!(i.handle(t0, Input::Priority(50)), vec![]);
    assert_eq!(i.handle(t0 + SEC, advert(20, 60, SEC)), vec![]);
    assert_eq!(i.master(), Some((ip(20), 60)));
}

#[test]
fn fault_in_master_releases_like_a_shutdown_and_clearing_it_restarts_as_backup() {
    let t0 = Instant::now();
    let (mut i, t) = master(params(100), t0);
    assert_eq!(
        i.handle(t + ms(1), Input::Fault(true)),
        vec![
            Action::SendAdvert { priority: 0 },
            Action::RemoveAddresses,
            changed(State::Master, State::Fault, Reason::Fault)
        ]
    );
    assert_eq!(i.next_deadline(), None);
    // In FAULT, adverts and timers change nothing.
    assert_eq!(i.handle(t + SEC, advert(20, 0, SEC)), vec![]);
    assert_eq!(i.handle(t + 10 * SEC, Input::Timer), vec![]);
    let t2 = t + 20 * SEC;
    assert_eq!(
        i.handle(t2, Input::Fault(false)),
        vec![changed(State::Fault, State::Backup, Reason::FaultCleared)]
    );
    assert_eq!(i.next_deadline(), Some(t2 + i.master_down_interval()));
}

#[test]
fn fault_in_backup_stops_listening() {
    let t0 = Instant::now();
    let mut i = backup(params(100), t0);
    assert_eq!(
        i.handle(t0, Input::Fault(true)),
        vec![changed(State::Backup, State::Fault, Reason::Fault)]
    );
    assert_eq!(i.handle(t0, Input::Fault(true)), vec![]);
}

#[test]
fn a_fault_before_startup_starts_in_fault() {
    let t0 = Instant::now();
    let mut i = Instance::new(params(100));
    assert_eq!(i.handle(t0, Input::Fault(true)), vec![]);
    assert_eq!(
        i.handle(t0, Input::Startup),
        vec![changed(State::Initialize, State::Fault, Reason::Fault)]
    );
}

#[test]
fn the_owner_leaves_fault_as_master() {
    let t0 = Instant::now();
    let mut i = Instance::new(params(255));
    i.handle(t0, Input::Startup);
    i.handle(t0, Input::Fault(true));
    assert_eq!(
        i.handle(t0 + SEC, Input::Fault(false)),
        takeover(State::Fault, Reason::AddressOwner, 255)
    );
}

// === sync groups ===

#[test]
fn a_sync_group_member_follows_into_master_and_back() {
    let t0 = Instant::now();
    let mut i = backup(params(100), t0);
    assert_eq!(
        i.handle(t0 + SEC, Input::SyncTo(State::Master)),
        takeover(State::Backup, Reason::SyncGroup, 100)
    );
    assert_eq!(
        i.handle(t0 + 2 * SEC, Input::SyncTo(State::Backup)),
        vec![
            changed(State::Master, State::Backup, Reason::SyncGroup),
            Action::RemoveAddresses
        ]
    );
    assert_eq!(i.handle(t0 + 3 * SEC, Input::SyncTo(State::Fault)), vec![]);
}

// === two routers on one link ===

/// Two instances exchanging adverts over a perfect link, stepped in 1 ms increments; the
/// link can be cut. Returns nothing; inspect the instances.
struct Link {
    a: Instance,
    b: Instance,
    now: Instant,
    up: bool,
    a_running: bool,
}

impl Link {
    fn new(a: Params, b: Params) -> Link {
        let now = Instant::now();
        let mut l = Link {
            a: Instance::new(a),
            b: Instance::new(b),
            now,
            up: true,
            a_running: true,
        };
        let (oa, ob) = (
            l.a.handle(now, Input::Startup),
            l.b.handle(now, Input::Startup),
        );
        l.deliver(oa, true);
        l.deliver(ob, false);
        l
    }

    fn deliver(&mut self, actions: Vec<Action>, from_a: bool) {
        for a in actions {
            if let Action::SendAdvert { priority } = a {
                if !self.up {
                    continue;
                }
                let (src, dst) = if from_a {
                    (&self.a, &mut self.b)
                } else {
                    (&self.b, &mut self.a)
                };
                let input = Input::Advert {
                    from: src.params.local_addr,
                    priority,
                    interval: src.params.advert_interval,
                };
                if !from_a && !self.a_running {
                    continue;
                }
                let out = dst.handle(self.now, input);
                self.deliver(out, !from_a);
            }
        }
    }

    fn run_for(&mut self, d: Duration) {
        let end = self.now + d;
        while self.now < end {
            self.now += ms(1);
            if self.a_running && self.a.next_deadline().is_some_and(|t| t <= self.now) {
                let out = self.a.handle(self.now, Input::Timer);
                self.deliver(out, true);
            }
            if self.b.next_deadline().is_some_and(|t| t <= self.now) {
                let out = self.b.handle(self.now, Input::Timer);
                self.deliver(out, false);
            }
        }
    }
}

fn pair(pa: u8, pb: u8) -> (Params, Params) {
    let a = params(pa);
    let mut b = params(pb);
    b.local_addr = ip(11);
    (a, b)
}

#[test]
fn the_higher_priority_router_becomes_master_and_the_other_backup() {
    let (a, b) = pair(150, 100);
    let mut l = Link::new(a, b);
    l.run_for(10 * SEC);
    assert_eq!((l.a.state(), l.b.state()), (State::Master, State::Backup));
    assert_eq!(l.b.master(), Some((ip(10), 150)));
}

#[test]
fn when_the_master_dies_the_backup_takes_over_within_the_master_down_interval() {
    let (a, b) = pair(150, 100);
    let mut l = Link::new(a, b);
    l.run_for(10 * SEC);
    // The master dies (SIGKILL: no priority-0 advert); measure the takeover.
    l.a_running = false;
    let killed = l.now;
    let bound = l.b.master_down_interval();
    let mut took = None;
    while l.now < killed + 10 * SEC {
        l.run_for(ms(1));
        if l.b.state() == State::Master {
            took = Some(l.now - killed);
            break;
        }
    }
    let took = took.expect("the backup took over");
    assert!(took <= bound + ms(1), "took {took:?}, bound {bound:?}");
    // It had the last advert up to one interval before the kill.
    assert!(took >= bound - SEC, "took {took:?}");
}

#[test]
fn a_partition_makes_two_masters_and_healing_leaves_the_higher_one() {
    let (a, b) = pair(150, 100);
    let mut l = Link::new(a, b);
    l.run_for(5 * SEC);
    l.up = false;
    l.run_for(5 * SEC);
    assert_eq!((l.a.state(), l.b.state()), (State::Master, State::Master));
    l.up = true;
    // The next advert of either side settles it within one advert interval.
    l.run_for(SEC + ms(1));
    assert_eq!((l.a.state(), l.b.state()), (State::Master, State::Backup));
}

#[test]
fn a_restarted_higher_priority_router_preempts_only_with_preemption() {
    for preempt in [true, false] {
        let (mut a, b) = pair(150, 100);
        a.preempt = preempt;
        let mut l = Link::new(a.clone(), b);
        l.run_for(5 * SEC);
        // a stops gracefully, b takes over, a comes back.
        let out = l.a.handle(l.now, Input::Shutdown);
        l.deliver(out, true);
        l.run_for(2 * SEC);
        assert_eq!(l.b.state(), State::Master);
        let out = l.a.handle(l.now, Input::Startup);
        l.deliver(out, true);
        l.run_for(10 * SEC);
        let want = if preempt {
            (State::Master, State::Backup)
        } else {
            (State::Backup, State::Master)
        };
        assert_eq!((l.a.state(), l.b.state()), want, "preempt {preempt}");
    }
}

#[test]
fn a_graceful_stop_hands_over_within_the_skew_time() {
    let (a, b) = pair(150, 100);
    let mut l = Link::new(a, b);
    l.run_for(5 * SEC);
    let stopped = l.now;
    let out = l.a.handle(l.now, Input::Shutdown);
    l.deliver(out, true);
    let skew = l.b.skew_time();
    while l.b.state() != State::Master && l.now < stopped + 5 * SEC {
        l.run_for(ms(1));
    }
    assert_eq!(l.b.state(), State::Master);
    assert!(
        l.now - stopped <= skew + ms(1),
        "took {:?}",
        l.now - stopped
    );
}
