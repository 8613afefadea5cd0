//! The daemon's VRRP instances: one task each (`vrrp::task`), started from the config,
//! kept across a reload when their settings did not change (no VIP flap), restarted when
//! they did, and released on stop.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tracing::info;

use crate::config::Config;
use crate::ipvs::backend::{SyncDaemon, SyncRole};
use crate::metrics::Shared;
use crate::vrrp::fsm::{Reason, State};
use crate::vrrp::notify::{Job, Notifier};
use crate::vrrp::task::{InstanceStatus, InstanceTask, StateEvent, TrackHealth};

/// How long a stopping instance may take to send its priority-0 advert and remove its
/// addresses.
const STOP_LIMIT: Duration = Duration::from_secs(2);

/// What a reload did to the VRRP instances: kept running untouched, (re)started with new
/// settings, stopped (changed or removed).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VrrpReload {
    pub kept: usize,
    pub restarted: usize,
    pub stopped: usize,
}

pub struct VrrpSet {
    tasks: BTreeMap<String, InstanceTask>,
    events: mpsc::Sender<StateEvent>,
    notifier: Notifier,
    exec_user: String,
    metrics: Shared,
}

impl VrrpSet {
    pub fn start(cfg: &Config, events: mpsc::Sender<StateEvent>, metrics: Shared) -> VrrpSet {
        let mut set = VrrpSet {
            tasks: BTreeMap::new(),
            events,
            notifier: Notifier::start(),
            exec_user: cfg.global.exec_user.clone(),
            metrics,
        };
        for v in &cfg.vrrp_instances {
            set.tasks.insert(
                v.name.clone(),
                InstanceTask::spawn(v.clone(), set.events.clone(), set.metrics.clone()),
            );
        }
        set
    }

    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Every instance's config and where it stands now (for the status document).
    pub fn status(&self) -> Vec<(&crate::config::VrrpInstance, InstanceStatus)> {
        self.tasks.values().map(|t| (&t.cfg, t.status())).collect()
    }

    /// A state change of one instance: its notify command is queued, the other members
    /// of its sync group follow it, and the connection-sync daemon this instance drives
    /// (if any) is returned for the IPVS task.
    pub fn on_event(&self, ev: &StateEvent) -> Option<SyncDaemon> {
        let task = self.tasks.get(&ev.instance)?;
        let cfg = &task.cfg;
        if let Some(n) = &cfg.notify {
            self.notifier.push(Job::new(
                n,
                &self.exec_user,
                &ev.instance,
                ev.to.as_str(),
                ev.reason.as_str(),
                ev.priority,
            ));
        }
        // Sync groups move together (keepalived's vrrp_sync_group): a member that becomes
        // master pulls the others to master; one that leaves mastership (backup, fault)
        // takes the others to backup. Moves caused by the group do not echo.
        if let Some(group) = &cfg.sync_group
            && ev.reason != Reason::SyncGroup
        {
            let follow = match (ev.from, ev.to) {
                (_, State::Master) => Some(State::Master),
                (State::Master, State::Backup | State::Fault) => Some(State::Backup),
                _ => None,
            };
            if let Some(to) = follow {
                for (name, t) in &self.tasks {
                    if *name != ev.instance && t.cfg.sync_group.as_ref() == Some(group) {
                        info!(instance = %name, group = %group, to = %to, "following the sync group");
                        t.sync_to(to);
                    }
                }
            }
        }
        let sync = cfg.ipvs_sync.as_ref()?;
        let role = match ev.to {
            State::Master => SyncRole::Master,
            // A backup (or a faulted router) receives the master's connections, ready to
            // take over with them.
            State::Backup | State::Fault => SyncRole::Backup,
            State::Initialize => return None,
        };
        Some(SyncDaemon {
            role,
            interface: sync.interface.clone(),
            sync_id: sync.sync_id,
        })
    }

    /// The health of the virtual servers and scripts, for the instances that track them.
    pub fn health(&self, health: &Arc<TrackHealth>) {
        for t in self.tasks.values() {
            t.health(health);
        }
    }

    /// Applies a new config: unchanged instances keep running untouched; removed or
    /// changed ones are released first (so a changed one's addresses never sit on two
    /// tasks), then new and changed ones start.
    pub async fn reload(&mut self, cfg: &Config) -> VrrpReload {
        let mut report = VrrpReload::default();
        self.exec_user = cfg.global.exec_user.clone();
        let wanted: BTreeMap<_, _> = cfg
            .vrrp_instances
            .iter()
            .map(|v| (v.name.clone(), v))
            .collect();
        let stale: Vec<String> = self
            .tasks
            .iter()
            .filter(|(name, t)| wanted.get(*name).is_none_or(|v| **v != t.cfg))
            .map(|(name, _)| name.clone())
            .collect();
        for name in stale {
            if let Some(t) = self.tasks.remove(&name) {
                info!(instance = %name, "vrrp instance changed or removed by the reload; releasing it");
                t.shutdown(STOP_LIMIT).await;
                if !wanted.contains_key(&name) {
                    self.metrics.forget_vrrp_instance(&name);
                }
                report.stopped += 1;
            }
        }
        for (name, v) in wanted {
            if self.tasks.contains_key(&name) {
                report.kept += 1;
            } else {
                self.tasks.insert(
                    name,
                    InstanceTask::spawn(v.clone(), self.events.clone(), self.metrics.clone()),
                );
                report.restarted += 1;
            }
        }
        report
    }

    /// Releases every instance (priority 0 where master, addresses removed).
    pub async fn shutdown(self) {
        let stops = self.tasks.into_values().map(|t| t.shutdown(STOP_LIMIT));
        for s in stops {
            s.await;
        }
    }
}
