//! The director's state in the daemon's main task: the config in force, every real
//! server's health, the controller, and the last table handed to the IPVS task.
//!
//! Each method takes one event (a probe result, a reload, a tick), updates the state,
//! logs each transition once, and returns the command for the IPVS task when the desired
//! table changed. No I/O besides logging.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use tracing::{info, warn};

use crate::check::health::Health;
use crate::check::runner::CheckResult;
use crate::check::schedule::Lateness;
use crate::check::servers::Servers;
use crate::config::Config;
use crate::controller::{Controller, Event, dest_key, initial_health};
use crate::ipvs::model::{ServiceKey, Table};
use crate::ipvs::task::Command;

pub struct Director {
    pub cfg: Config,
    pub servers: Servers,
    controller: Controller,
    /// Services owned: desired now, plus those a reload dropped (still to be deleted).
    owned: BTreeSet<ServiceKey>,
    last: Option<Table>,
    /// Some weight is ramping up (slow start): recompute on the next tick.
    pub ramping: bool,
    /// Probe start lateness since the last report.
    pub lateness: Lateness,
    /// Health transitions so far: what depends on health is recomputed when it moves.
    pub transitions: u64,
}

fn keys(cfg: &Config) -> BTreeSet<ServiceKey> {
    cfg.virtual_servers.iter().map(|v| v.key).collect()
}

impl Director {
    pub fn new(cfg: Config) -> Self {
        Director {
            servers: Servers::from_config(&cfg, None),
            owned: keys(&cfg),
            cfg,
            controller: Controller::new(),
            last: None,
            ramping: false,
            lateness: Lateness::default(),
            transitions: 0,
        }
    }

    /// The desired table for now; `Some(command)` if it differs from the last one sent.
    pub fn update(&mut self, now: Instant) -> Option<Command> {
        let d = self
            .controller
            .desired(&self.cfg, &self.servers.inputs(), now);
        self.ramping = d.ramping;
        for e in &d.events {
            match e {
                Event::QuorumLost {
                    service,
                    alive_weight,
                    quorum,
                } => warn!(
                    service,
                    alive_weight, quorum, "quorum lost; sorry server in"
                ),
                Event::QuorumRegained {
                    service,
                    alive_weight,
                    quorum,
                } => info!(
                    service,
                    alive_weight, quorum, "quorum regained; sorry server out"
                ),
            }
        }
        if self.last.as_ref() == Some(&d.table) {
            return None;
        }
        self.last = Some(d.table.clone());
        Some(Command::Desired {
            table: d.table,
            owned: self.owned.clone(),
        })
    }

    /// For each virtual server (by name): whether at least one of its real servers is
    /// healthy here. VRRP instances that track a service lower their priority without one.
    pub fn services_alive(&self) -> BTreeMap<String, bool> {
        self.cfg
            .virtual_servers
            .iter()
            .map(|vs| {
                let alive = vs.real_servers.iter().any(|rs| {
                    self.servers
                        .health(vs.key, dest_key(rs))
                        .unwrap_or_else(|| initial_health(rs))
                        == Health::Up
                });
                (vs.name.clone(), alive)
            })
            .collect()
    }

    /// A probe result; the IPVS command if a server went up or down.
    pub fn on_result(&mut self, r: CheckResult, now: Instant) -> Option<Command> {
        self.lateness.record(r.late);
        let t = self.servers.record(&r.id, r.outcome, now)?;
        self.transitions += 1;
        match t.to {
            Health::Down => warn!(
                service = t.service,
                rs = %t.dest,
                reason = t.reason.as_deref().unwrap_or(""),
                "real server down"
            ),
            Health::Up => info!(service = t.service, rs = %t.dest, "real server up"),
        }
        self.update(now)
    }

    /// Logs how punctual the probes were since the last report, and starts a new window.
    pub fn report_schedule(&mut self) {
        if self.lateness.total() > 0 {
            tracing::debug!(lateness = %self.lateness, "check schedule");
        }
        self.lateness.reset();
    }

    /// A new config: servers whose checks did not change keep their health.
    pub fn reload(&mut self, cfg: Config, now: Instant) -> Option<Command> {
        self.servers = Servers::from_config(&cfg, Some(&self.servers));
        // Services dropped by the new config are still ours to delete.
        self.owned = keys(&self.cfg);
        self.owned.extend(keys(&cfg));
        self.cfg = cfg;
        self.update(now)
    }
}
