//! The controller: turns config and real-server health into the desired IPVS table.
//!
//! Pure: time comes in as an argument, nothing is read or written. Per service:
//! - healthy real servers at their configured weight (ramped up over `slow_start` after
//!   they recover);
//! - failed ones at weight 0 (`on_failure: drain`: established connections finish) or
//!   absent (`remove`); servers drained at run time at weight 0 whatever their health;
//! - when the healthy weight falls below `quorum`, the sorry server goes in; it comes out
//!   once the healthy weight is back to `quorum + hysteresis` (keepalived's semantics).
//!
//! `Controller` keeps the one piece of state that needs memory: whether each service's
//! quorum is currently met (for hysteresis). Transitions come back as `Event`s for the
//! caller to log, once each.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use crate::check::health::Health;
use crate::config::{Config, InitialState, OnFailure, RealServer, VirtualServer};
use crate::ipvs::model::{
    DestKey, Destination, Family, Service, ServiceEntry, ServiceKey, Table, svc_flags,
};

/// What the controller needs to know about one real server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerInput {
    pub health: Health,
    /// When it last came up, if that was a recovery (not the start-up state): drives slow
    /// start.
    pub up_since: Option<Instant>,
    /// Drained by an operator at run time: weight 0 until undrained.
    pub drained: bool,
}

/// Health by (service, real server); a server missing here has its configured initial
/// state.
pub type Inputs = BTreeMap<(ServiceKey, DestKey), ServerInput>;

/// A change the caller logs (once) and counts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The healthy weight of `service` fell below its quorum: the sorry server (if any)
    /// is in.
    QuorumLost {
        service: String,
        alive_weight: u32,
        quorum: u32,
    },
    /// The healthy weight is back at `quorum + hysteresis`: the sorry server is out.
    QuorumRegained {
        service: String,
        alive_weight: u32,
        quorum: u32,
    },
}

/// The desired table and what else the caller needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Desired {
    pub table: Table,
    pub events: Vec<Event>,
    /// Some weight is still ramping up (slow start): compute again in a moment.
    pub ramping: bool,
}

#[derive(Debug, Default)]
pub struct Controller {
    /// Whether each service's quorum is met, as last computed.
    quorum_up: BTreeMap<ServiceKey, bool>,
}

impl Controller {
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether `service`'s quorum is met, as last computed (`None` before the first
    /// computation).
    pub fn quorum_up(&self, service: &ServiceKey) -> Option<bool> {
        self.quorum_up.get(service).copied()
    }

    /// The desired table for `cfg` given the servers' health at `now`.
    pub fn desired(&mut self, cfg: &Config, inputs: &Inputs, now: Instant) -> Desired {
        let mut table = Table::default();
        let mut events = Vec::new();
        let mut ramping = false;
        for vs in &cfg.virtual_servers {
            let (entry, ramps) = self.service_entry(vs, inputs, now, &mut events);
            ramping |= ramps;
            table.services.insert(vs.key, entry);
        }
        // Forget services that are gone, so a re-added one starts fresh.
        let keys: BTreeSet<ServiceKey> = cfg.virtual_servers.iter().map(|v| v.key).collect();
        self.quorum_up.retain(|k, _| keys.contains(k));
        Desired {
            table,
            events,
            ramping,
        }
    }

    fn service_entry(
        &mut self,
        vs: &VirtualServer,
        inputs: &Inputs,
        now: Instant,
        events: &mut Vec<Event>,
    ) -> (ServiceEntry, bool) {
        let mut dests = BTreeMap::new();
        let mut ramping = false;
        for rs in &vs.real_servers {
            let key = dest_key(rs);
            let input = input_of(vs, rs, inputs);
            let weight = match (input.health, input.drained) {
                (_, true) => Some(0),
                (Health::Up, false) => {
                    let (w, ramps) = ramped_weight(rs.weight, vs.slow_start, input.up_since, now);
                    ramping |= ramps;
                    Some(w)
                }
                (Health::Down, false) => match vs.on_failure {
                    OnFailure::Drain => Some(0),
                    OnFailure::Remove => None,
                },
            };
            if let Some(weight) = weight {
                dests.insert(key, destination(rs, weight));
            }
        }

        let alive = alive_weight(vs, inputs);
        let was_up = self.quorum_up.get(&vs.key).copied();
        let up = match was_up {
            // First evaluation: no hysteresis yet.
            None => alive >= vs.quorum,
            Some(true) => alive >= vs.quorum,
            Some(false) => alive >= vs.quorum.saturating_add(vs.hysteresis),
        };
        self.quorum_up.insert(vs.key, up);
        match (was_up, up) {
            (Some(true) | None, false) => events.push(Event::QuorumLost {
                service: vs.name.clone(),
                alive_weight: alive,
                quorum: vs.quorum,
            }),
            (Some(false), true) => events.push(Event::QuorumRegained {
                service: vs.name.clone(),
                alive_weight: alive,
                quorum: vs.quorum,
            }),
            _ => {}
        }
        if let (false, Some(sorry)) = (up, &vs.sorry_server) {
            let key = DestKey {
                addr: sorry.address,
                port: sorry.port,
            };
            dests.insert(
                key,
                Destination {
                    key,
                    forwarding: sorry.forwarding,
                    weight: sorry.weight,
                    upper_threshold: 0,
                    lower_threshold: 0,
                },
            );
        }
        let entry = ServiceEntry {
            service: service(vs),
            dests,
        };
        (entry, ramping)
    }
}

pub fn dest_key(rs: &RealServer) -> DestKey {
    DestKey {
        addr: rs.address,
        port: rs.port,
    }
}

fn input_of(vs: &VirtualServer, rs: &RealServer, inputs: &Inputs) -> ServerInput {
    inputs
        .get(&(vs.key, dest_key(rs)))
        .copied()
        .unwrap_or(ServerInput {
            health: initial_health(rs),
            up_since: None,
            drained: false,
        })
}

pub fn initial_health(rs: &RealServer) -> Health {
    if rs.checks.is_empty() {
        return Health::Up;
    }
    match rs.initial_state {
        InitialState::Up => Health::Up,
        InitialState::Down => Health::Down,
    }
}

/// Sum of the configured weights of the healthy, undrained real servers.
fn alive_weight(vs: &VirtualServer, inputs: &Inputs) -> u32 {
    vs.real_servers
        .iter()
        .filter(|rs| {
            let i = input_of(vs, rs, inputs);
            i.health == Health::Up && !i.drained
        })
        .map(|rs| rs.weight)
        .fold(0u32, u32::saturating_add)
}

/// Slow start: a recovered server's weight grows linearly from 1 to its configured weight
/// over `slow_start`. Returns the weight and whether it is still ramping.
fn ramped_weight(
    weight: u32,
    slow_start: Option<Duration>,
    up_since: Option<Instant>,
    now: Instant,
) -> (u32, bool) {
    let (Some(ramp), Some(since)) = (slow_start, up_since) else {
        return (weight, false);
    };
    let elapsed = now.saturating_duration_since(since);
    if elapsed >= ramp || weight == 0 {
        return (weight, false);
    }
    let scaled = (u128::from(weight) * elapsed.as_millis()) / ramp.as_millis().max(1);
    let w = u32::try_from(scaled).unwrap_or(weight).clamp(1, weight);
    (w, true)
}

fn destination(rs: &RealServer, weight: u32) -> Destination {
    Destination {
        key: dest_key(rs),
        forwarding: rs.forwarding,
        weight,
        upper_threshold: rs.upper_threshold,
        lower_threshold: rs.lower_threshold,
    }
}

/// The table the config describes with every real server healthy (`--dry-run`,
/// `apply`): real servers at their configured weights; a sorry server only where a service
/// has no real servers at all.
pub fn configured_table(cfg: &Config) -> Table {
    let all_up: Inputs = cfg
        .virtual_servers
        .iter()
        .flat_map(|vs| {
            vs.real_servers.iter().map(|rs| {
                let input = ServerInput {
                    health: Health::Up,
                    up_since: None,
                    drained: false,
                };
                ((vs.key, dest_key(rs)), input)
            })
        })
        .collect();
    Controller::new()
        .desired(cfg, &all_up, Instant::now())
        .table
}

/// The service attributes as ipvsadm would set them.
pub fn service(vs: &VirtualServer) -> Service {
    let mut flags = vs.scheduler_flags;
    if vs.one_packet {
        flags |= svc_flags::ONEPACKET;
    }
    let full_mask = match vs.key.family() {
        Family::Inet => u32::MAX,
        Family::Inet6 => 128,
    };
    let (timeout, netmask, pe_name) = match &vs.persistence {
        Some(p) => {
            flags |= svc_flags::PERSISTENT;
            (p.timeout, p.netmask, p.engine.clone())
        }
        None => (0, full_mask, None),
    };
    Service {
        key: vs.key,
        scheduler: vs.scheduler,
        flags,
        timeout,
        netmask,
        pe_name,
    }
}

#[cfg(test)]
mod tests;
