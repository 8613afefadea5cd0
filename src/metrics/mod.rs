//! Prometheus metrics: the registry and every metric family ipvsd exports
//! (`docs/metrics.md` is the contract), and the process metrics read at scrape time.
//!
//! The families are atomics behind `Arc`s (prometheus-client's): each task updates its own
//! series through cheap clones of the handles it was given; nothing here decides anything.
//! `render` encodes the OpenMetrics text for `/metrics`.

pub mod ipvs;
mod process;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

pub use ipvs::IpvsStats;
pub use process::Process;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Version {
    pub version: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabel {
    pub result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RealServer {
    pub virtual_server: String,
    pub real_server: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RealServerTo {
    pub virtual_server: String,
    pub real_server: String,
    pub to: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RealServerReason {
    pub virtual_server: String,
    pub real_server: String,
    pub reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CheckResultLabels {
    pub virtual_server: String,
    pub real_server: String,
    pub check: String,
    pub result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CheckLabels {
    pub virtual_server: String,
    pub check: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct VirtualServer {
    pub virtual_server: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Vrrp {
    pub vrrp_instance: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct VrrpScript {
    pub vrrp_script: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct VrrpState {
    pub vrrp_instance: String,
    pub state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct VrrpTo {
    pub vrrp_instance: String,
    pub to: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct VrrpReason {
    pub vrrp_instance: String,
    pub reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Op {
    pub op: &'static str,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn duration_histogram() -> Histogram {
    // 1 ms .. ~16 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

/// Every metric ipvsd exports. Shared as `Arc<Metrics>`.
pub struct Metrics {
    registry: Registry,
    process: Process,

    pub build_info: Family<Version, Gauge>,
    pub config_last_reload_successful: Gauge,
    pub config_last_reload_success_timestamp_seconds: Gauge<f64, AtomicU64>,
    pub config_reloads: Family<ResultLabel, Counter>,
    pub ready: Gauge,

    pub real_server_up: Family<RealServer, Gauge>,
    pub real_server_weight: Family<RealServer, Gauge>,
    pub real_server_drained: Family<RealServer, Gauge>,
    pub real_server_transitions: Family<RealServerTo, Counter>,
    pub real_server_last_failure: Family<RealServerReason, Gauge>,
    pub checks: Family<CheckResultLabels, Counter>,
    pub check_duration_seconds: HistogramFamily<CheckLabels>,
    pub check_schedule_lateness_seconds: Histogram,

    pub virtual_server_alive_weight: Family<VirtualServer, Gauge>,
    pub virtual_server_quorum_up: Family<VirtualServer, Gauge>,
    pub virtual_server_sorry_server_active: Family<VirtualServer, Gauge>,

    pub vrrp_state: Family<VrrpState, Gauge>,
    pub vrrp_priority: Family<Vrrp, Gauge>,
    pub vrrp_script_up: Family<VrrpScript, Gauge>,
    pub vrrp_transitions: Family<VrrpTo, Counter>,
    pub vrrp_became_master: Family<Vrrp, Counter>,
    pub vrrp_adverts_sent: Family<Vrrp, Counter>,
    pub vrrp_adverts_received: Family<Vrrp, Counter>,
    pub vrrp_packets_dropped: Family<VrrpReason, Counter>,

    pub reconcile_runs: Family<ResultLabel, Counter>,
    pub reconcile_writes: Family<Op, Counter>,
    pub reconcile_drift_repairs: Counter,
    pub netlink_errors: Counter,
    pub reconcile_duration_seconds: Histogram,

    /// The kernel's counters of the owned services, refreshed before each scrape.
    pub ipvs: Arc<IpvsStats>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut m = Metrics {
            registry: Registry::default(),
            process: Process::new(),
            build_info: Family::default(),
            config_last_reload_successful: Gauge::default(),
            config_last_reload_success_timestamp_seconds: Gauge::default(),
            config_reloads: Family::default(),
            ready: Gauge::default(),
            real_server_up: Family::default(),
            real_server_weight: Family::default(),
            real_server_drained: Family::default(),
            real_server_transitions: Family::default(),
            real_server_last_failure: Family::default(),
            checks: Family::default(),
            check_duration_seconds: Family::new_with_constructor(duration_histogram),
            check_schedule_lateness_seconds: duration_histogram(),
            virtual_server_alive_weight: Family::default(),
            virtual_server_quorum_up: Family::default(),
            virtual_server_sorry_server_active: Family::default(),
            vrrp_state: Family::default(),
            vrrp_priority: Family::default(),
            vrrp_script_up: Family::default(),
            vrrp_transitions: Family::default(),
            vrrp_became_master: Family::default(),
            vrrp_adverts_sent: Family::default(),
            vrrp_adverts_received: Family::default(),
            vrrp_packets_dropped: Family::default(),
            reconcile_runs: Family::default(),
            reconcile_writes: Family::default(),
            reconcile_drift_repairs: Counter::default(),
            netlink_errors: Counter::default(),
            reconcile_duration_seconds: duration_histogram(),
            ipvs: Arc::new(IpvsStats::default()),
        };
        m.register();
        m.build_info
            .get_or_create(&Version {
                version: env!("CARGO_PKG_VERSION").to_string(),
            })
            .set(1);
        m
    }

    fn register(&mut self) {
        let r = &mut self.registry;
        // Counters are registered without `_total`: the encoder appends it.
        r.register(
            "ipvsd_build_info",
            "Always 1; the version in a label",
            self.build_info.clone(),
        );
        r.register(
            "ipvsd_config_last_reload_successful",
            "1 if the last load or reload of the config succeeded",
            self.config_last_reload_successful.clone(),
        );
        r.register(
            "ipvsd_config_last_reload_success_timestamp_seconds",
            "Unix time of the last successful config load",
            self.config_last_reload_success_timestamp_seconds.clone(),
        );
        r.register(
            "ipvsd_config_reloads",
            "Config reloads by outcome",
            self.config_reloads.clone(),
        );
        r.register(
            "ipvsd_ready",
            "1 once the IPVS table has converged after start",
            self.ready.clone(),
        );
        r.register(
            "ipvsd_real_server_up",
            "1 if the real server's checks say up",
            self.real_server_up.clone(),
        );
        r.register(
            "ipvsd_real_server_weight",
            "Weight ipvsd puts in the kernel for the real server",
            self.real_server_weight.clone(),
        );
        r.register(
            "ipvsd_real_server_drained",
            "1 while an operator drain is in force",
            self.real_server_drained.clone(),
        );
        r.register(
            "ipvsd_real_server_transitions",
            "Health transitions of the real server",
            self.real_server_transitions.clone(),
        );
        r.register(
            "ipvsd_real_server_last_failure",
            "1 on the reason of the real server's last failed probe",
            self.real_server_last_failure.clone(),
        );
        r.register("ipvsd_checks", "Probes by outcome", self.checks.clone());
        r.register(
            "ipvsd_check_duration_seconds",
            "Probe durations",
            self.check_duration_seconds.clone(),
        );
        r.register(
            "ipvsd_check_schedule_lateness_seconds",
            "How late probes start compared with their schedule",
            self.check_schedule_lateness_seconds.clone(),
        );
        r.register(
            "ipvsd_virtual_server_alive_weight",
            "Sum of the weights of the healthy real servers",
            self.virtual_server_alive_weight.clone(),
        );
        r.register(
            "ipvsd_virtual_server_quorum_up",
            "1 while the alive weight meets the quorum",
            self.virtual_server_quorum_up.clone(),
        );
        r.register(
            "ipvsd_virtual_server_sorry_server_active",
            "1 while the sorry server is in the table",
            self.virtual_server_sorry_server_active.clone(),
        );
        r.register(
            "ipvsd_vrrp_state",
            "1 on the VRRP instance's current state",
            self.vrrp_state.clone(),
        );
        r.register(
            "ipvsd_vrrp_priority",
            "The VRRP priority in force",
            self.vrrp_priority.clone(),
        );
        r.register(
            "ipvsd_vrrp_script_up",
            "1 while the tracked VRRP script passes (after rise/fall), 0 while it fails",
            self.vrrp_script_up.clone(),
        );
        r.register(
            "ipvsd_vrrp_transitions",
            "VRRP state transitions",
            self.vrrp_transitions.clone(),
        );
        r.register(
            "ipvsd_vrrp_became_master",
            "Times this director became master",
            self.vrrp_became_master.clone(),
        );
        r.register(
            "ipvsd_vrrp_adverts_sent",
            "VRRP advertisements sent",
            self.vrrp_adverts_sent.clone(),
        );
        r.register(
            "ipvsd_vrrp_adverts_received",
            "Valid VRRP advertisements received",
            self.vrrp_adverts_received.clone(),
        );
        r.register(
            "ipvsd_vrrp_packets_dropped",
            "VRRP packets dropped, by reason",
            self.vrrp_packets_dropped.clone(),
        );
        r.register(
            "ipvsd_reconcile_runs",
            "IPVS reconcile passes",
            self.reconcile_runs.clone(),
        );
        r.register(
            "ipvsd_reconcile_writes",
            "Changes written to the kernel",
            self.reconcile_writes.clone(),
        );
        r.register(
            "ipvsd_reconcile_drift_repairs",
            "Writes that put back a change made outside ipvsd",
            self.reconcile_drift_repairs.clone(),
        );
        r.register(
            "ipvsd_netlink_errors",
            "IPVS netlink requests that failed",
            self.netlink_errors.clone(),
        );
        r.register(
            "ipvsd_reconcile_duration_seconds",
            "Duration of a reconcile pass",
            self.reconcile_duration_seconds.clone(),
        );
        r.register_collector(Box::new(self.ipvs.clone()));
        self.process.register(r);
    }

    /// The exposition for `/metrics` (OpenMetrics text); process metrics read now.
    pub fn render(&self) -> String {
        self.process.refresh();
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// A VRRP instance's state series: 1 on `state`, 0 on the others.
    pub fn set_vrrp_state(&self, instance: &str, state: crate::vrrp::fsm::State) {
        for s in crate::vrrp::fsm::State::ALL {
            self.vrrp_state
                .get_or_create(&VrrpState {
                    vrrp_instance: instance.to_string(),
                    state: s.as_str(),
                })
                .set(i64::from(s == state));
        }
    }
}

/// The shared handle every task gets.
pub type Shared = Arc<Metrics>;

/// The `check` label of a real server's check: its type and position among the server's
/// checks, e.g. `http#0`.
pub fn check_label(kind: &str, index: usize) -> String {
    format!("{kind}#{index}")
}

/// The label values a config gives the per-server series: what a reload that drops a real
/// server or a check must remove. Pure.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConfigSeries {
    /// (virtual server, real server).
    real_servers: BTreeSet<(String, String)>,
    /// (virtual server, real server, check).
    checks: BTreeSet<(String, String, String)>,
    /// (virtual server, check): the duration histograms.
    check_kinds: BTreeSet<(String, String)>,
}

impl ConfigSeries {
    pub fn of(cfg: &crate::config::Config) -> ConfigSeries {
        let mut s = ConfigSeries::default();
        for vs in &cfg.virtual_servers {
            for rs in &vs.real_servers {
                let dest = crate::controller::dest_key(rs).to_string();
                for (i, c) in rs.checks.iter().enumerate() {
                    let check = check_label(c.kind.name(), i);
                    s.checks
                        .insert((vs.name.clone(), dest.clone(), check.clone()));
                    s.check_kinds.insert((vs.name.clone(), check));
                }
                s.real_servers.insert((vs.name.clone(), dest));
            }
        }
        s
    }

    /// What `self` names and `next` does not.
    pub fn dropped_by(&self, next: &ConfigSeries) -> ConfigSeries {
        ConfigSeries {
            real_servers: self
                .real_servers
                .difference(&next.real_servers)
                .cloned()
                .collect(),
            checks: self.checks.difference(&next.checks).cloned().collect(),
            check_kinds: self
                .check_kinds
                .difference(&next.check_kinds)
                .cloned()
                .collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.real_servers.is_empty() && self.checks.is_empty() && self.check_kinds.is_empty()
    }
}

impl Metrics {
    /// Removes the counter and histogram series of the real servers and checks in
    /// `gone` (a reload dropped them). Without this, every address a server pool ever
    /// had would stay exported forever. (Gauges are cleared and republished on every
    /// reload instead.)
    pub fn forget(&self, gone: &ConfigSeries) {
        for (vs, rs) in &gone.real_servers {
            for to in ["up", "down"] {
                self.real_server_transitions.remove(&RealServerTo {
                    virtual_server: vs.clone(),
                    real_server: rs.clone(),
                    to,
                });
            }
        }
        for (vs, rs, check) in &gone.checks {
            for result in ["success", "failure"] {
                self.checks.remove(&CheckResultLabels {
                    virtual_server: vs.clone(),
                    real_server: rs.clone(),
                    check: check.clone(),
                    result,
                });
            }
        }
        for (vs, check) in &gone.check_kinds {
            self.check_duration_seconds.remove(&CheckLabels {
                virtual_server: vs.clone(),
                check: check.clone(),
            });
        }
    }

    /// Removes every series of a VRRP instance the config no longer has, so a removed
    /// instance that was master does not stay exported as master.
    pub fn forget_vrrp_instance(&self, instance: &str) {
        let label = Vrrp {
            vrrp_instance: instance.to_string(),
        };
        self.vrrp_priority.remove(&label);
        self.vrrp_became_master.remove(&label);
        self.vrrp_adverts_sent.remove(&label);
        self.vrrp_adverts_received.remove(&label);
        for s in crate::vrrp::fsm::State::ALL {
            self.vrrp_state.remove(&VrrpState {
                vrrp_instance: instance.to_string(),
                state: s.as_str(),
            });
            self.vrrp_transitions.remove(&VrrpTo {
                vrrp_instance: instance.to_string(),
                to: s.as_str(),
            });
        }
        for r in crate::vrrp::packet::DropReason::ALL {
            self.vrrp_packets_dropped.remove(&VrrpReason {
                vrrp_instance: instance.to_string(),
                reason: r.as_str(),
            });
        }
    }
}

#[cfg(test)]
mod tests;
