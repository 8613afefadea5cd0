//! Health tracking: rise/fall counting per check, and a real server's health from all of
//! its checks.
//!
//! Pure: no clock, no I/O. Every result resets the opposite counter, so alternating
//! results (F,P,F,P,F) never reach `fall` (the flap bug that tripped a Go health checker
//! whose equal-to-state results did not reset the other counter).

/// Up or down.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Health {
    Up,
    Down,
}

impl Health {
    pub fn name(self) -> &'static str {
        match self {
            Health::Up => "up",
            Health::Down => "down",
        }
    }
}

/// Rise/fall counter of one check of one real server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tracker {
    state: Health,
    rise: u32,
    fall: u32,
    /// Consecutive successes (reset by any failure).
    successes: u32,
    /// Consecutive failures (reset by any success).
    failures: u32,
}

impl Tracker {
    /// `rise` and `fall` are at least 1 (the config guarantees it; 0 is treated as 1).
    pub fn new(initial: Health, rise: u32, fall: u32) -> Self {
        Tracker {
            state: initial,
            rise: rise.max(1),
            fall: fall.max(1),
            successes: 0,
            failures: 0,
        }
    }

    pub fn state(&self) -> Health {
        self.state
    }

    /// Records one probe result; returns the new state if it changed.
    pub fn record(&mut self, ok: bool) -> Option<Health> {
        if ok {
            self.failures = 0;
            self.successes = self.successes.saturating_add(1);
            if self.state == Health::Down && self.successes >= self.rise {
                self.state = Health::Up;
                return Some(Health::Up);
            }
        } else {
            self.successes = 0;
            self.failures = self.failures.saturating_add(1);
            if self.state == Health::Up && self.failures >= self.fall {
                self.state = Health::Down;
                return Some(Health::Down);
            }
        }
        None
    }
}

/// A real server's health: up while every one of its checks is up (no checks: always up).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerHealth {
    checks: Vec<Tracker>,
    /// The server's state when it has no checks.
    fixed: Health,
}

impl ServerHealth {
    /// One tracker per check, as `(rise, fall)`, all starting at `initial`.
    pub fn new(initial: Health, checks: &[(u32, u32)]) -> Self {
        ServerHealth {
            checks: checks
                .iter()
                .map(|(rise, fall)| Tracker::new(initial, *rise, *fall))
                .collect(),
            fixed: Health::Up,
        }
    }

    pub fn state(&self) -> Health {
        if self.checks.is_empty() {
            return self.fixed;
        }
        if self.checks.iter().all(|t| t.state() == Health::Up) {
            Health::Up
        } else {
            Health::Down
        }
    }

    /// Records a result of check `i`; returns the server's new state if it changed. An
    /// index out of range (a stale result after a reload) is ignored.
    pub fn record(&mut self, i: usize, ok: bool) -> Option<Health> {
        let before = self.state();
        self.checks.get_mut(i)?.record(ok)?;
        let after = self.state();
        (after != before).then_some(after)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(t: &mut Tracker, results: &str) -> Vec<Option<Health>> {
        results.chars().map(|c| t.record(c == 'P')).collect()
    }

    #[test]
    fn an_up_server_goes_down_after_exactly_fall_consecutive_failures() {
        let mut t = Tracker::new(Health::Up, 2, 3);
        assert_eq!(run(&mut t, "FF"), vec![None, None]);
        assert_eq!(t.record(false), Some(Health::Down));
        assert_eq!(t.record(false), None, "already down: no second transition");
    }

    #[test]
    fn alternating_results_never_trip_fall() {
        let mut t = Tracker::new(Health::Up, 2, 3);
        assert_eq!(run(&mut t, "FPFPFPFPF"), vec![None; 9]);
        assert_eq!(t.state(), Health::Up);
    }

    #[test]
    fn a_success_equal_to_the_state_still_resets_the_failure_count() {
        // Up, two failures, one success (same as the state), two failures: not down yet.
        let mut t = Tracker::new(Health::Up, 1, 3);
        assert_eq!(run(&mut t, "FFPFF"), vec![None; 5]);
        assert_eq!(t.record(false), Some(Health::Down));
    }

    #[test]
    fn a_down_server_comes_back_after_exactly_rise_consecutive_successes() {
        let mut t = Tracker::new(Health::Down, 3, 1);
        assert_eq!(run(&mut t, "PPFPP"), vec![None; 5]);
        assert_eq!(t.record(true), Some(Health::Up));
    }

    #[test]
    fn rise_and_fall_of_one_switch_on_every_change() {
        let mut t = Tracker::new(Health::Down, 1, 1);
        assert_eq!(
            run(&mut t, "PPFFP"),
            vec![
                Some(Health::Up),
                None,
                Some(Health::Down),
                None,
                Some(Health::Up)
            ]
        );
    }

    #[test]
    fn a_server_is_up_only_while_all_its_checks_are_up() {
        let mut s = ServerHealth::new(Health::Up, &[(1, 1), (2, 2)]);
        assert_eq!(s.record(0, false), Some(Health::Down));
        assert_eq!(s.record(1, false), None, "the second check's first failure");
        assert_eq!(s.record(1, false), None, "already down because of check 0");
        assert_eq!(s.record(0, true), None, "check 1 is still down");
        assert_eq!(s.record(1, true), None);
        assert_eq!(s.record(1, true), Some(Health::Up));
        assert_eq!(s.state(), Health::Up);
    }

    #[test]
    fn a_server_without_checks_is_always_up_and_stale_results_are_ignored() {
        let mut s = ServerHealth::new(Health::Down, &[]);
        assert_eq!(s.state(), Health::Up);
        assert_eq!(s.record(0, false), None);
        assert_eq!(s.state(), Health::Up);
    }

    #[test]
    fn the_initial_state_applies_to_every_check() {
        let mut s = ServerHealth::new(Health::Down, &[(2, 3), (1, 3)]);
        assert_eq!(s.state(), Health::Down);
        assert_eq!(s.record(1, true), None, "check 0 still down");
        assert_eq!(s.record(0, true), None);
        assert_eq!(s.record(0, true), Some(Health::Up));
    }
}
