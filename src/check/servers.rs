//! The health of every real server of a config, fed by probe results.
//!
//! Pure: results and time come in as arguments. Owned by the daemon's main task; the
//! controller reads it as `Inputs`. On reload, a server keeps its state when its service,
//! address, port and checks are unchanged; anything else starts over from its configured
//! initial state.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::Outcome;
use super::health::{Health, ServerHealth};
use crate::config::{Check, Config, RealServer};
use crate::controller::{Inputs, ServerInput, dest_key, initial_health};
use crate::ipvs::model::{DestKey, ServiceKey};

/// Identifies one check of one real server of one service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CheckId {
    pub service: ServiceKey,
    pub dest: DestKey,
    /// Index in the real server's `checks`.
    pub index: usize,
}

/// A real server went up or down.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transition {
    pub service: String,
    pub dest: DestKey,
    pub to: Health,
    /// The probe result that tipped it (for the log line): `None` when the server came up.
    pub reason: Option<String>,
}

/// The last result of one check, for the status document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LastProbe {
    pub outcome: Outcome,
    pub at: Instant,
}

/// What the status document shows of one real server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerView<'a> {
    pub health: Health,
    /// When it last changed state (None: still in its initial state).
    pub since: Option<Instant>,
    /// The last result of each check (None: not probed yet).
    pub last: &'a [Option<LastProbe>],
    /// The most recent failed probe of any check: (check index, failure, when).
    pub last_failure: Option<&'a (usize, super::Failure, Instant)>,
}

#[derive(Clone, Debug)]
struct Server {
    key: (ServiceKey, DestKey),
    service_name: String,
    checks: Vec<Check>,
    health: ServerHealth,
    up_since: Option<Instant>,
    since: Option<Instant>,
    last: Vec<Option<LastProbe>>,
    last_failure: Option<(usize, super::Failure, Instant)>,
}

/// The servers in config order, and where each one is by key. A check task's results
/// carry its server's position ([`Servers::position`], which the checkers refresh on every
/// reload), so recording a result costs no search: thousands a second at 10,000 servers.
#[derive(Clone, Debug, Default)]
pub struct Servers {
    index: BTreeMap<(ServiceKey, DestKey), usize>,
    list: Vec<Server>,
}

impl Servers {
    /// The servers of `cfg`, keeping the state of those unchanged since `previous`.
    pub fn from_config(cfg: &Config, previous: Option<&Servers>) -> Servers {
        let mut servers = Servers::default();
        for vs in &cfg.virtual_servers {
            for rs in &vs.real_servers {
                let key = (vs.key, dest_key(rs));
                let kept = previous
                    .and_then(|p| p.get(key))
                    .filter(|old| old.checks == rs.checks)
                    .map(|old| Server {
                        service_name: vs.name.clone(),
                        ..old.clone()
                    });
                let server = kept.unwrap_or_else(|| fresh(key, &vs.name, rs));
                match servers.index.get(&key) {
                    Some(&pos) => servers.list[pos] = server,
                    None => {
                        servers.index.insert(key, servers.list.len());
                        servers.list.push(server);
                    }
                }
            }
        }
        servers
    }

    fn get(&self, key: (ServiceKey, DestKey)) -> Option<&Server> {
        self.index.get(&key).map(|&pos| &self.list[pos])
    }

    /// Where the real server `dest` of `service` is, for [`Servers::record_at`].
    pub fn position(&self, service: ServiceKey, dest: DestKey) -> Option<usize> {
        self.index.get(&(service, dest)).copied()
    }

    /// Records a probe result; returns the server's transition, if any.
    pub fn record(&mut self, id: &CheckId, outcome: Outcome, now: Instant) -> Option<Transition> {
        self.record_at(None, id, outcome, now)
    }

    /// [`Servers::record`] with the server's position if the caller knows it: used when
    /// the server there is `id`'s (a comparison), else `id` is looked up.
    pub fn record_at(
        &mut self,
        position: Option<usize>,
        id: &CheckId,
        outcome: Outcome,
        now: Instant,
    ) -> Option<Transition> {
        let key = (id.service, id.dest);
        let pos = position
            .filter(|&p| self.list.get(p).is_some_and(|s| s.key == key))
            .or_else(|| self.index.get(&key).copied())?;
        let server = &mut self.list[pos];
        let ok = outcome.result.is_ok();
        let reason = outcome.result.as_ref().err().map(|f| f.to_string());
        if let Err(f) = &outcome.result {
            server.last_failure = Some((id.index, f.clone(), now));
        }
        if let Some(slot) = server.last.get_mut(id.index) {
            *slot = Some(LastProbe { outcome, at: now });
        }
        let to = server.health.record(id.index, ok)?;
        server.up_since = (to == Health::Up).then_some(now);
        server.since = Some(now);
        Some(Transition {
            service: server.service_name.clone(),
            dest: id.dest,
            to,
            reason: if to == Health::Down { reason } else { None },
        })
    }

    /// What the controller needs.
    pub fn inputs(&self) -> Inputs {
        self.index
            .iter()
            .map(|(k, &pos)| {
                let s = &self.list[pos];
                let input = ServerInput {
                    health: s.health.state(),
                    up_since: s.up_since,
                    drained: false,
                };
                (*k, input)
            })
            .collect()
    }

    pub fn health(&self, service: ServiceKey, dest: DestKey) -> Option<Health> {
        self.get((service, dest)).map(|s| s.health.state())
    }

    /// Health, last results and last failure of one real server.
    pub fn view(&self, service: ServiceKey, dest: DestKey) -> Option<ServerView<'_>> {
        self.get((service, dest)).map(|s| ServerView {
            health: s.health.state(),
            since: s.since,
            last: &s.last,
            last_failure: s.last_failure.as_ref(),
        })
    }

    /// Every check to run: its id, the check, and where it probes.
    pub fn checks<'a>(
        &'a self,
        cfg: &'a Config,
    ) -> impl Iterator<Item = (CheckId, &'a RealServer, &'a Check)> + 'a {
        cfg.virtual_servers.iter().flat_map(|vs| {
            vs.real_servers.iter().flat_map(move |rs| {
                rs.checks.iter().enumerate().map(move |(index, c)| {
                    let id = CheckId {
                        service: vs.key,
                        dest: dest_key(rs),
                        index,
                    };
                    (id, rs, c)
                })
            })
        })
    }
}

fn fresh(key: (ServiceKey, DestKey), service_name: &str, rs: &RealServer) -> Server {
    let rise_fall: Vec<(u32, u32)> = rs.checks.iter().map(|c| (c.rise, c.fall)).collect();
    Server {
        key,
        service_name: service_name.to_string(),
        checks: rs.checks.clone(),
        health: ServerHealth::new(initial_health(rs), &rise_fall),
        up_since: None,
        since: None,
        last: vec![None; rs.checks.len()],
        last_failure: None,
    }
}

/// Probes start on a grid of this step: the checks that fall in one step start together,
/// so the daemon wakes at most once a step for them (the wake-ups, not the probes, are
/// what costs CPU when thousands of checks are spread evenly: each would wake the process
/// on its own).
pub const SCHEDULE_STEP: Duration = Duration::from_millis(10);

/// When check `i` of `n` starts: the checks are spread evenly over one interval so they
/// don't all fire at once, on the [`SCHEDULE_STEP`] grid (at most one interval / step
/// groups; an interval shorter than a step is not rounded).
pub fn start_offset(i: usize, n: usize, interval: Duration) -> Duration {
    if n == 0 {
        return Duration::ZERO;
    }
    let nanos = interval.as_nanos() * (i as u128) / (n as u128);
    let step = SCHEDULE_STEP.as_nanos();
    let nanos = if interval.as_nanos() >= step {
        nanos / step * step
    } else {
        nanos
    };
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use super::*;
    use crate::check::{Failure, Reason};
    use crate::config::schema::NoFiles;

    fn cfg(check: &str) -> Config {
        let y = format!(
            "virtual_servers:\n  - address: 192.0.2.7:80\n    checks: [{check}]\n    real_servers:\n      - address: 198.51.100.27:80\n"
        );
        crate::config::load_str(&y, Path::new("t"), &NoFiles).unwrap()
    }

    fn id(c: &Config) -> CheckId {
        CheckId {
            service: c.virtual_servers[0].key,
            dest: dest_key(&c.virtual_servers[0].real_servers[0]),
            index: 0,
        }
    }

    fn fail() -> Outcome {
        Outcome {
            result: Err(Failure::new(Reason::HttpStatus, "status 503")),
            latency: Duration::from_millis(3),
        }
    }

    fn pass() -> Outcome {
        Outcome {
            result: Ok(()),
            latency: Duration::from_millis(1),
        }
    }

    #[test]
    fn a_server_goes_down_with_the_reason_of_the_tipping_result_and_comes_back() {
        let c = cfg("{type: http, rise: 1, fall: 2}");
        let mut s = Servers::from_config(&c, None);
        let now = Instant::now();
        assert_eq!(s.record(&id(&c), fail(), now), None);
        let t = s.record(&id(&c), fail(), now).unwrap();
        assert_eq!(t.to, Health::Down);
        assert_eq!(t.reason.as_deref(), Some("http_status: status 503"));
        assert_eq!(t.service, "tcp/192.0.2.7:80");
        let t = s.record(&id(&c), pass(), now).unwrap();
        assert_eq!((t.to, t.reason), (Health::Up, None));
        let input = s.inputs()[&(id(&c).service, id(&c).dest)];
        assert_eq!(input.up_since, Some(now));
    }

    #[test]
    fn a_reload_keeps_the_state_of_unchanged_servers_and_resets_changed_checks() {
        let c = cfg("{type: http, rise: 1, fall: 1}");
        let mut s = Servers::from_config(&c, None);
        s.record(&id(&c), fail(), Instant::now());
        let same = Servers::from_config(&c, Some(&s));
        assert_eq!(same.health(id(&c).service, id(&c).dest), Some(Health::Down));
        let changed = cfg("{type: http, rise: 1, fall: 2}");
        let reset = Servers::from_config(&changed, Some(&s));
        assert_eq!(reset.health(id(&c).service, id(&c).dest), Some(Health::Up));
    }

    #[test]
    fn a_position_is_used_only_when_it_holds_the_results_server() {
        let y = "virtual_servers:\n  - address: 192.0.2.7:80\n    checks: [{type: tcp, rise: 1, fall: 1}]\n    real_servers:\n      - address: 198.51.100.27:80\n      - address: 198.51.100.37:80\n";
        let c = crate::config::load_str(y, Path::new("t"), &NoFiles).unwrap();
        let mut s = Servers::from_config(&c, None);
        let first = id(&c);
        let second = CheckId {
            dest: dest_key(&c.virtual_servers[0].real_servers[1]),
            ..first
        };
        assert_eq!(s.position(second.service, second.dest), Some(1));
        let now = Instant::now();
        // The right position: recorded there.
        let t = s.record_at(Some(1), &second, fail(), now).unwrap();
        assert_eq!(t.dest, second.dest);
        // A wrong (stale) position or one past the end: looked up by key instead, so the
        // result still lands on its own server and no other.
        let t = s.record_at(Some(1), &first, fail(), now).unwrap();
        assert_eq!(t.dest, first.dest);
        assert_eq!(
            s.record_at(Some(7), &first, pass(), now).map(|t| t.dest),
            Some(first.dest)
        );
        assert_eq!(s.health(second.service, second.dest), Some(Health::Down));
        assert_eq!(s.health(first.service, first.dest), Some(Health::Up));
    }

    #[test]
    fn stale_results_for_unknown_servers_are_ignored() {
        let c = cfg("{type: tcp}");
        let mut s = Servers::from_config(&c, None);
        let mut other = id(&c);
        other.dest.port = 81;
        assert_eq!(s.record(&other, fail(), Instant::now()), None);
    }

    #[test]
    fn checks_are_spread_over_the_interval() {
        let i = Duration::from_secs(2);
        assert_eq!(start_offset(0, 4, i), Duration::ZERO);
        assert_eq!(start_offset(1, 4, i), Duration::from_millis(500));
        assert_eq!(start_offset(3, 4, i), Duration::from_millis(1500));
    }

    #[test]
    fn many_checks_share_the_steps_of_the_schedule_grid() {
        let i = Duration::from_secs(1);
        let offsets: Vec<_> = (0..500).map(|k| start_offset(k, 500, i)).collect();
        // 500 checks over 1 s on a 10 ms grid: 100 distinct start times, 5 checks each.
        let distinct: BTreeSet<_> = offsets.iter().collect();
        assert_eq!(distinct.len(), 100);
        assert!(
            offsets
                .iter()
                .all(|o| o.as_nanos() % SCHEDULE_STEP.as_nanos() == 0)
        );
        assert_eq!(offsets[4], Duration::ZERO);
        assert_eq!(offsets[5], Duration::from_millis(10));
        assert_eq!(offsets[499], Duration::from_millis(990));
    }

    #[test]
    fn an_interval_shorter_than_a_step_is_spread_exactly() {
        let i = Duration::from_millis(8);
        assert_eq!(start_offset(1, 4, i), Duration::from_millis(2));
    }
}
