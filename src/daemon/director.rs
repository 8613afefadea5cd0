//! The director's state in the daemon's main task: the config in force, every real
//! server's health, the controller, and the last table handed to the IPVS task.
//!
//! Each method takes one event (a probe result, a reload, a tick), updates the state,
//! logs each transition once, and returns the command for the IPVS task when the desired
//! table changed. No I/O besides logging.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use tracing::{info, warn};

use crate::check::Reason;
use crate::check::health::Health;
use crate::check::runner::CheckResult;
use crate::check::schedule::Lateness;
use crate::check::servers::Servers;
use crate::config::Config;
use crate::controller::{Controller, Event, dest_key, initial_health};
use crate::ipvs::backend::Observed;
use crate::ipvs::model::{DestKey, Destination, Service, ServiceEntry, ServiceKey, Table};
use crate::ipvs::task::Command;
use crate::metrics::{self, Metrics, Shared};
use crate::status;

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
    metrics: Shared,
    /// The reason each real server last failed for (the one `last_failure` series it has).
    last_failure: BTreeMap<(ServiceKey, DestKey), Reason>,
    /// Real servers drained by an operator: weight 0 until undrained, across reloads and
    /// (kept in the state file) restarts.
    drains: BTreeSet<(ServiceKey, DestKey)>,
    /// Real servers a reload removed, kept at weight 0 until their connections end (or
    /// `removal_grace` passes), with the service they belong to.
    retiring: BTreeMap<(ServiceKey, DestKey), Retiring>,
}

/// How long a retiring destination stays at weight 0 at least, so that connections being
/// opened or answered when it stopped taking new ones finish.
const RETIRE_SETTLE: std::time::Duration = std::time::Duration::from_secs(2);

/// A destination on its way out of the kernel.
#[derive(Clone, Debug)]
struct Retiring {
    service: Service,
    dest: Destination,
    since: Instant,
}

fn keys(cfg: &Config) -> BTreeSet<ServiceKey> {
    cfg.virtual_servers.iter().map(|v| v.key).collect()
}

impl Director {
    pub fn new(cfg: Config) -> Self {
        Self::with_metrics(cfg, Shared::new(Metrics::new()))
    }

    pub fn with_metrics(cfg: Config, metrics: Shared) -> Self {
        let d = Director {
            servers: Servers::from_config(&cfg, None),
            owned: keys(&cfg),
            cfg,
            controller: Controller::new(),
            last: None,
            ramping: false,
            lateness: Lateness::default(),
            transitions: 0,
            metrics,
            last_failure: BTreeMap::new(),
            drains: BTreeSet::new(),
            retiring: BTreeMap::new(),
        };
        d.publish_health();
        d
    }

    /// Every real server's up gauge (at start and after a reload).
    fn publish_health(&self) {
        for vs in &self.cfg.virtual_servers {
            for rs in &vs.real_servers {
                let up = self
                    .servers
                    .health(vs.key, dest_key(rs))
                    .unwrap_or_else(|| initial_health(rs))
                    == Health::Up;
                let labels = rs_labels(&vs.name, &dest_key(rs));
                self.metrics
                    .real_server_up
                    .get_or_create(&labels)
                    .set(i64::from(up));
                let drained = self.drains.contains(&(vs.key, dest_key(rs)));
                self.metrics
                    .real_server_drained
                    .get_or_create(&labels)
                    .set(i64::from(drained));
            }
        }
    }

    /// Weights and virtual-server gauges of a new desired table: only what changed.
    fn publish_table(&self, new: &Table) {
        for vs in &self.cfg.virtual_servers {
            let weight_in = |t: &Table, d: &DestKey| {
                t.services
                    .get(&vs.key)
                    .and_then(|e| e.dests.get(d))
                    .map(|d| d.weight)
            };
            let mut alive = 0u64;
            for rs in &vs.real_servers {
                let d = dest_key(rs);
                let w = weight_in(new, &d);
                if self.last.as_ref().map(|t| weight_in(t, &d)) != Some(w) {
                    self.metrics
                        .real_server_weight
                        .get_or_create(&rs_labels(&vs.name, &d))
                        .set(i64::from(w.unwrap_or(0)));
                }
                if self
                    .servers
                    .health(vs.key, d)
                    .unwrap_or_else(|| initial_health(rs))
                    == Health::Up
                    && !self.drains.contains(&(vs.key, d))
                {
                    alive += u64::from(rs.weight);
                }
            }
            let name = metrics::VirtualServer {
                virtual_server: vs.name.clone(),
            };
            self.metrics
                .virtual_server_alive_weight
                .get_or_create(&name)
                .set(i64::try_from(alive).unwrap_or(i64::MAX));
            let sorry = vs.sorry_server.as_ref().is_some_and(|s| {
                weight_in(
                    new,
                    &DestKey {
                        addr: s.address,
                        port: s.port,
                    },
                )
                .is_some()
            });
            self.metrics
                .virtual_server_sorry_server_active
                .get_or_create(&name)
                .set(i64::from(sorry));
            if let Some(up) = self.controller.quorum_up(&vs.key) {
                self.metrics
                    .virtual_server_quorum_up
                    .get_or_create(&name)
                    .set(i64::from(up));
            }
        }
    }

    /// The desired table for now; `Some(command)` if it differs from the last one sent.
    pub fn update(&mut self, now: Instant) -> Option<Command> {
        let mut inputs = self.servers.inputs();
        for k in &self.drains {
            if let Some(i) = inputs.get_mut(k) {
                i.drained = true;
            }
        }
        let mut d = self.controller.desired(&self.cfg, &inputs, now);
        self.ramping = d.ramping;
        // Retiring destinations stay, at weight 0, in their (possibly removed) service.
        for ((svc, dk), r) in &self.retiring {
            let entry = d
                .table
                .services
                .entry(*svc)
                .or_insert_with(|| ServiceEntry {
                    service: r.service.clone(),
                    dests: BTreeMap::new(),
                });
            entry.dests.entry(*dk).or_insert_with(|| r.dest.clone());
        }
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
        self.publish_table(&d.table);
        self.last = Some(d.table.clone());
        let mut owned = self.owned.clone();
        owned.extend(self.retiring.keys().map(|(svc, _)| *svc));
        Some(Command::Desired {
            table: d.table,
            owned,
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
        if let Err(f) = &r.outcome.result {
            self.failed(&r.id, f.reason);
        }
        let t = self.servers.record_at(r.server, &r.id, r.outcome, now)?;
        self.transitions += 1;
        let vs_name = self
            .cfg
            .virtual_servers
            .iter()
            .find(|v| v.key == r.id.service)
            .map(|v| v.name.as_str())
            .unwrap_or_default();
        let labels = rs_labels(vs_name, &t.dest);
        let up = t.to == Health::Up;
        self.metrics
            .real_server_up
            .get_or_create(&labels)
            .set(i64::from(up));
        self.metrics
            .real_server_transitions
            .get_or_create(&metrics::RealServerTo {
                virtual_server: labels.virtual_server.clone(),
                real_server: labels.real_server.clone(),
                to: if up { "up" } else { "down" },
            })
            .inc();
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

    /// Keeps the one `last_failure` series of a real server on its latest reason.
    fn failed(&mut self, id: &crate::check::servers::CheckId, reason: Reason) {
        let key = (id.service, id.dest);
        let previous = self.last_failure.insert(key, reason);
        if previous == Some(reason) {
            return;
        }
        let Some(vs) = self
            .cfg
            .virtual_servers
            .iter()
            .find(|v| v.key == id.service)
        else {
            return;
        };
        let series = |r: Reason| metrics::RealServerReason {
            virtual_server: vs.name.clone(),
            real_server: id.dest.to_string(),
            reason: r.name(),
        };
        if let Some(p) = previous {
            self.metrics.real_server_last_failure.remove(&series(p));
        }
        self.metrics
            .real_server_last_failure
            .get_or_create(&series(reason))
            .set(1);
    }

    /// Logs how punctual the probes were since the last report, and starts a new window.
    pub fn report_schedule(&mut self) {
        if self.lateness.total() > 0 {
            tracing::debug!(lateness = %self.lateness, "check schedule");
        }
        self.lateness.reset();
    }

    /// The real servers drained by the operator.
    pub fn drains(&self) -> &BTreeSet<(ServiceKey, DestKey)> {
        &self.drains
    }

    /// Drains kept by the previous run, before the first update. They name servers of
    /// this config: `status::drains_from_text` resolved them against it.
    pub fn restore_drains(&mut self, drains: BTreeSet<(ServiceKey, DestKey)>) {
        self.drains = drains;
        self.publish_health();
    }

    /// Drains (`drain: true`) or undrains a real server named as the operator wrote it.
    /// `Ok(changed)` and the command for the IPVS task; an error names what was not found.
    pub fn drain(
        &mut self,
        virtual_server: &str,
        real_server: &str,
        drain: bool,
        now: Instant,
    ) -> Result<(bool, Option<Command>), String> {
        let key = status::find_real_server(&self.cfg, virtual_server, real_server)?;
        let changed = if drain {
            self.drains.insert(key)
        } else {
            self.drains.remove(&key)
        };
        if !changed {
            return Ok((false, None));
        }
        let name = self
            .cfg
            .virtual_servers
            .iter()
            .find(|v| v.key == key.0)
            .map(|v| v.name.clone())
            .unwrap_or_default();
        if drain {
            info!(service = %name, rs = %key.1, "real server drained by the operator");
        } else {
            info!(service = %name, rs = %key.1, "real server undrained by the operator");
        }
        self.metrics
            .real_server_drained
            .get_or_create(&rs_labels(&name, &key.1))
            .set(i64::from(drain));
        Ok((true, self.update(now)))
    }

    /// One line for systemd's STATUS: `2 virtual servers, 3/4 real servers up, 1 drained`.
    pub fn summary_line(&self) -> String {
        let (mut total, mut up) = (0, 0);
        for vs in &self.cfg.virtual_servers {
            for rs in &vs.real_servers {
                total += 1;
                let h = self
                    .servers
                    .health(vs.key, dest_key(rs))
                    .unwrap_or_else(|| initial_health(rs));
                if h == Health::Up {
                    up += 1;
                }
            }
        }
        let mut s = format!(
            "{} virtual servers, {up}/{total} real servers up",
            self.cfg.virtual_servers.len()
        );
        if !self.drains.is_empty() {
            s.push_str(&format!(", {} drained", self.drains.len()));
        }
        s
    }

    /// The daemon's side of the status document.
    pub fn status_view<'a>(
        &'a self,
        vrrp: Vec<(
            &'a crate::config::VrrpInstance,
            crate::vrrp::task::InstanceStatus,
        )>,
        ready: bool,
    ) -> status::DaemonView<'a> {
        let quorum_up = self
            .cfg
            .virtual_servers
            .iter()
            .filter_map(|v| Some((v.key, self.controller.quorum_up(&v.key)?)))
            .collect();
        status::DaemonView {
            cfg: &self.cfg,
            servers: &self.servers,
            drains: &self.drains,
            desired: self.last.as_ref(),
            quorum_up,
            vrrp,
            ready,
        }
    }

    /// Whether some removed real server is still waiting for its connections to end.
    pub fn is_retiring(&self) -> bool {
        !self.retiring.is_empty()
    }

    /// Ends the retirement of removed real servers that have no active connection left in
    /// the kernel (`observed`: a dump of the owned services), are gone from it, or used up
    /// `removal_grace`; the command that deletes them, if any ended.
    pub fn retire(&mut self, observed: &Result<Observed, String>, now: Instant) -> Option<Command> {
        let grace = self.cfg.global.removal_grace;
        let before = self.retiring.len();
        self.retiring.retain(|(svc, dk), r| {
            let waited = now.saturating_duration_since(r.since);
            // (weight, active connections) in the kernel; None inside: not there.
            let kernel = observed.as_ref().ok().map(|o| {
                o.get(svc)
                    .and_then(|s| s.dests.get(dk))
                    .map(|d| (d.dest.weight, d.active_conns))
            });
            let active = kernel.flatten().map(|(_, a)| a);
            match kernel {
                // At weight 0 long enough for handshakes and replies in flight to finish,
                // and no established connection left (TIME_WAIT entries may be cut).
                Some(Some((0, 0))) if waited >= RETIRE_SETTLE => {
                    info!(service = %svc, rs = %dk, waited_ms = waited.as_millis() as u64, "removed real server drained; deleting it");
                    false
                }
                // Gone from the kernel already.
                Some(None) => false,
                _ if waited >= grace => {
                    warn!(
                        service = %svc,
                        rs = %dk,
                        active_connections = active.unwrap_or_default(),
                        "removal_grace over; deleting the removed real server with connections left"
                    );
                    false
                }
                _ => true,
            }
        });
        if self.retiring.len() == before {
            return None;
        }
        self.update(now)
    }

    /// A new config: servers whose checks did not change keep their health.
    pub fn reload(&mut self, cfg: Config, now: Instant) -> Option<Command> {
        self.retire_removed(&cfg, now);
        self.servers = Servers::from_config(&cfg, Some(&self.servers));
        let kept = status::drains_kept(&self.drains, &cfg);
        for (svc, rs) in self.drains.difference(&kept) {
            info!(service = %svc, rs = %rs, "drain dropped: the reload removed the real server");
        }
        self.drains = kept;
        // Services dropped by the new config are still ours to delete.
        self.owned = keys(&self.cfg);
        self.owned.extend(keys(&cfg));
        // Series of servers and services the new config dropped must go: their counters
        // and histograms are removed; the gauges are all cleared and published again.
        // The series of what stays keep counting.
        let gone =
            metrics::ConfigSeries::of(&self.cfg).dropped_by(&metrics::ConfigSeries::of(&cfg));
        self.cfg = cfg;
        let m = &self.metrics;
        m.forget(&gone);
        m.real_server_up.clear();
        m.real_server_drained.clear();
        m.real_server_weight.clear();
        m.real_server_last_failure.clear();
        m.virtual_server_alive_weight.clear();
        m.virtual_server_quorum_up.clear();
        m.virtual_server_sorry_server_active.clear();
        self.last_failure.clear();
        self.publish_health();
        self.last = None;
        self.update(now)
    }
}

impl Director {
    /// Destinations of the table in force that `cfg` no longer has (as a real server or
    /// sorry server) start retiring: weight 0 now, deleted once their connections end.
    /// With `removal_grace: 0s` they go at once.
    fn retire_removed(&mut self, cfg: &Config, now: Instant) {
        let mut keep: BTreeSet<(ServiceKey, DestKey)> = BTreeSet::new();
        for vs in &cfg.virtual_servers {
            for rs in &vs.real_servers {
                keep.insert((vs.key, dest_key(rs)));
            }
            if let Some(s) = &vs.sorry_server {
                keep.insert((
                    vs.key,
                    DestKey {
                        addr: s.address,
                        port: s.port,
                    },
                ));
            }
        }
        // Back in the config: no longer retiring.
        self.retiring.retain(|k, _| !keep.contains(k));
        if cfg.global.removal_grace.is_zero() {
            self.retiring.clear();
            return;
        }
        let Some(last) = &self.last else { return };
        for (svc, entry) in &last.services {
            for (dk, dest) in &entry.dests {
                let k = (*svc, *dk);
                if keep.contains(&k) || self.retiring.contains_key(&k) {
                    continue;
                }
                info!(service = %svc, rs = %dk, "real server removed by the reload; weight 0 until its connections end");
                self.retiring.insert(
                    k,
                    Retiring {
                        service: entry.service.clone(),
                        dest: Destination {
                            weight: 0,
                            ..dest.clone()
                        },
                        since: now,
                    },
                );
            }
        }
    }
}

fn rs_labels(virtual_server: &str, dest: &DestKey) -> metrics::RealServer {
    metrics::RealServer {
        virtual_server: virtual_server.to_string(),
        real_server: dest.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use super::*;
    use crate::config::schema::NoFiles;
    use crate::ipvs::backend::{DestState, ServiceState, Stats};

    fn cfg(services: &[(&str, &[u8])], grace: &str) -> Config {
        let mut y = format!("global: {{removal_grace: {grace}}}\nvirtual_servers:\n");
        for (addr, rs) in services {
            y.push_str(&format!("  - address: {addr}\n    real_servers:\n"));
            for r in *rs {
                y.push_str(&format!("      - address: 198.51.100.{r}:80\n"));
            }
        }
        crate::config::load_str(&y, Path::new("t"), &NoFiles).unwrap()
    }

    fn table(c: Option<Command>) -> Table {
        match c {
            Some(Command::Desired { table, .. }) => table,
            other => panic!("expected a desired table, got {other:?}"),
        }
    }

    fn weights(t: &Table) -> Vec<(String, String, u32)> {
        t.services
            .iter()
            .flat_map(|(k, e)| {
                e.dests
                    .values()
                    .map(move |d| (k.to_string(), d.key.to_string(), d.weight))
            })
            .collect()
    }

    /// The kernel as a dump: every destination of `t` with `active` connections.
    fn kernel(t: &Table, active: u32) -> Result<Observed, String> {
        Ok(t.services
            .iter()
            .map(|(k, e)| {
                let dests = e
                    .dests
                    .iter()
                    .map(|(dk, d)| {
                        let st = DestState {
                            dest: d.clone(),
                            active_conns: active,
                            inactive_conns: 0,
                            persistent_conns: 0,
                            stats: Stats::default(),
                        };
                        (*dk, st)
                    })
                    .collect();
                let st = ServiceState {
                    service: e.service.clone(),
                    stats: Stats::default(),
                    dests,
                };
                (*k, st)
            })
            .collect())
    }

    #[test]
    fn a_removed_real_server_drains_before_it_is_deleted() {
        let t0 = Instant::now();
        let mut d = Director::new(cfg(&[("192.0.2.7:80", &[27, 37])], "30s"));
        table(d.update(t0));
        // The reload drops .37: it stays at weight 0.
        let t = table(d.reload(cfg(&[("192.0.2.7:80", &[27, 47])], "30s"), t0));
        assert_eq!(
            weights(&t),
            [
                ("tcp 192.0.2.7:80".into(), "198.51.100.27:80".into(), 1),
                ("tcp 192.0.2.7:80".into(), "198.51.100.37:80".into(), 0),
                ("tcp 192.0.2.7:80".into(), "198.51.100.47:80".into(), 1),
            ]
        );
        assert!(d.is_retiring());
        // Connections still open: it stays; none left but too soon: it stays.
        assert!(
            d.retire(&kernel(&t, 3), t0 + Duration::from_secs(5))
                .is_none()
        );
        assert!(
            d.retire(&kernel(&t, 0), t0 + Duration::from_secs(1))
                .is_none()
        );
        // No connection, at weight 0 for long enough: deleted.
        let t2 = table(d.retire(&kernel(&t, 0), t0 + Duration::from_secs(3)));
        assert_eq!(weights(&t2).len(), 2);
        assert!(!d.is_retiring());
    }

    #[test]
    fn removal_grace_bounds_the_wait_and_zero_deletes_at_once() {
        let t0 = Instant::now();
        let mut d = Director::new(cfg(&[("192.0.2.7:80", &[27, 37])], "10s"));
        table(d.update(t0));
        let t = table(d.reload(cfg(&[("192.0.2.7:80", &[27])], "10s"), t0));
        assert!(
            d.retire(&kernel(&t, 5), t0 + Duration::from_secs(9))
                .is_none()
        );
        let t2 = table(d.retire(&kernel(&t, 5), t0 + Duration::from_secs(10)));
        assert_eq!(weights(&t2).len(), 1);

        let mut d = Director::new(cfg(&[("192.0.2.7:80", &[27, 37])], "0s"));
        table(d.update(t0));
        let t = table(d.reload(cfg(&[("192.0.2.7:80", &[27])], "0s"), t0));
        assert_eq!(weights(&t).len(), 1);
        assert!(!d.is_retiring());
    }

    #[test]
    fn a_removed_virtual_server_keeps_its_service_until_its_servers_drained() {
        let t0 = Instant::now();
        let mut d = Director::new(cfg(
            &[("192.0.2.7:80", &[27]), ("192.0.2.8:80", &[37])],
            "30s",
        ));
        table(d.update(t0));
        let t = table(d.reload(cfg(&[("192.0.2.7:80", &[27])], "30s"), t0));
        assert_eq!(
            weights(&t)[1],
            ("tcp 192.0.2.8:80".into(), "198.51.100.37:80".into(), 0)
        );
        // Gone from the kernel already (deleted by hand): nothing to wait for.
        let mut k = kernel(&t, 0).unwrap();
        k.retain(|key, _| key.to_string() == "tcp 192.0.2.7:80");
        let c = d.retire(&Ok(k), t0 + Duration::from_millis(500));
        let Some(Command::Desired { table, owned }) = c else {
            panic!("{c:?}")
        };
        assert_eq!(table.services.len(), 1);
        // Still owned: the reconciler deletes the service.
        assert_eq!(owned.len(), 2);
        // A reload that brings it back ends its retirement.
    }

    #[test]
    fn a_reload_removes_the_counters_of_the_real_servers_it_drops() {
        let t0 = Instant::now();
        let metrics = Shared::new(Metrics::new());
        let c = cfg(&[("192.0.2.7:80", &[27, 37])], "30s");
        let name = c.virtual_servers[0].name.clone();
        let mut d = Director::with_metrics(c, metrics.clone());
        table(d.update(t0));
        let series = |rs: &str| metrics::RealServerTo {
            virtual_server: name.clone(),
            real_server: rs.to_string(),
            to: "down",
        };
        for rs in ["198.51.100.27:80", "198.51.100.37:80"] {
            metrics
                .real_server_transitions
                .get_or_create(&series(rs))
                .inc();
        }
        table(d.reload(cfg(&[("192.0.2.7:80", &[27])], "30s"), t0));
        let text = metrics.render();
        assert!(
            text.contains("real_server=\"198.51.100.27:80\",to=\"down\"} 1"),
            "{text}"
        );
        assert!(
            !text.contains("real_server=\"198.51.100.37:80\",to="),
            "{text}"
        );
    }

    #[test]
    fn a_server_back_in_the_config_stops_retiring() {
        let t0 = Instant::now();
        let mut d = Director::new(cfg(&[("192.0.2.7:80", &[27, 37])], "30s"));
        table(d.update(t0));
        table(d.reload(cfg(&[("192.0.2.7:80", &[27])], "30s"), t0));
        assert!(d.is_retiring());
        let t = table(d.reload(cfg(&[("192.0.2.7:80", &[27, 37])], "30s"), t0));
        assert!(!d.is_retiring());
        assert!(weights(&t).iter().all(|(_, _, w)| *w == 1));
    }
}
