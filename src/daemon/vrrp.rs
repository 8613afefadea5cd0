//! The daemon's VRRP instances: one task each (`vrrp::task`), started from the config,
//! kept across a reload when their settings did not change (no VIP flap), restarted when
//! they did, and released on stop.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::sync::mpsc;
use tracing::info;

use crate::config::Config;
use crate::vrrp::task::{InstanceTask, StateEvent};

/// How long a stopping instance may take to send its priority-0 advert and remove its
/// addresses.
const STOP_LIMIT: Duration = Duration::from_secs(2);

pub struct VrrpSet {
    tasks: BTreeMap<String, InstanceTask>,
    events: mpsc::Sender<StateEvent>,
}

impl VrrpSet {
    pub fn start(cfg: &Config, events: mpsc::Sender<StateEvent>) -> VrrpSet {
        let mut set = VrrpSet {
            tasks: BTreeMap::new(),
            events,
        };
        for v in &cfg.vrrp_instances {
            set.tasks.insert(
                v.name.clone(),
                InstanceTask::spawn(v.clone(), set.events.clone()),
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

    /// Applies a new config: unchanged instances keep running untouched; removed or
    /// changed ones are released first (so a changed one's addresses never sit on two
    /// tasks), then new and changed ones start.
    pub async fn reload(&mut self, cfg: &Config) {
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
            }
        }
        for (name, v) in wanted {
            if !self.tasks.contains_key(&name) {
                self.tasks
                    .insert(name, InstanceTask::spawn(v.clone(), self.events.clone()));
            }
        }
    }

    /// Releases every instance (priority 0 where master, addresses removed).
    pub async fn shutdown(self) {
        let stops = self.tasks.into_values().map(|t| t.shutdown(STOP_LIMIT));
        for s in stops {
            s.await;
        }
    }
}
