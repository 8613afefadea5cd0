//! The VRRP scripts (`vrrp_scripts`): one task each runs its program every interval and
//! reports the raw outcome; [`Scripts`], owned by the main loop, turns the outcomes into
//! passing/failing with rise and fall (`check::health::Tracker`), logs each change once,
//! exports `ipvsd_vrrp_script_up` and says when the instances must hear of it.
//!
//! A reload keeps an unchanged script running with its state; a changed one starts again
//! from its initial state; a removed one stops. Outcomes a stopped task left in the channel
//! are recognised by their generation and ignored.

use std::collections::BTreeMap;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;
use tracing::{info, warn};

use crate::check::health::{Health, Tracker};
use crate::check::probe::ScriptProbe;
use crate::config::{Config, VrrpScript};
use crate::metrics::{Shared, VrrpScript as ScriptLabel};

/// One run of a script.
#[derive(Debug)]
pub struct ScriptResult {
    name: String,
    generation: u64,
    /// `Err`: why it failed (exit status and stderr, timeout, cannot start).
    outcome: Result<(), String>,
}

struct Running {
    cfg: VrrpScript,
    generation: u64,
    tracker: Tracker,
    task: JoinHandle<()>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub struct Scripts {
    running: BTreeMap<String, Running>,
    results: mpsc::Sender<ScriptResult>,
    next_generation: u64,
    metrics: Shared,
}

/// What a reload did to the scripts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScriptsReload {
    pub kept: usize,
    pub started: usize,
    pub stopped: usize,
}

impl Scripts {
    /// Starts the scripts of `cfg`; their outcomes arrive on `results`.
    pub fn start(cfg: &Config, results: mpsc::Sender<ScriptResult>, metrics: Shared) -> Scripts {
        let mut s = Scripts {
            running: BTreeMap::new(),
            results,
            next_generation: 0,
            metrics,
        };
        s.reload(cfg);
        s
    }

    pub fn len(&self) -> usize {
        self.running.len()
    }

    /// Each script's state: passing or not.
    pub fn states(&self) -> BTreeMap<String, bool> {
        self.running
            .iter()
            .map(|(name, r)| (name.clone(), r.tracker.state() == Health::Up))
            .collect()
    }

    /// Brings the running scripts to those of `cfg`.
    pub fn reload(&mut self, cfg: &Config) -> ScriptsReload {
        let mut report = ScriptsReload::default();
        let wanted: BTreeMap<&str, &VrrpScript> = cfg
            .vrrp_scripts
            .iter()
            .map(|s| (s.name.as_str(), s))
            .collect();
        let before = self.running.len();
        self.running.retain(|name, r| {
            let keep = wanted.get(name.as_str()).is_some_and(|w| **w == r.cfg);
            if !wanted.contains_key(name.as_str()) {
                self.metrics.vrrp_script_up.remove(&ScriptLabel {
                    vrrp_script: name.clone(),
                });
            }
            keep
        });
        report.stopped = before - self.running.len();
        for (name, script) in wanted {
            if self.running.contains_key(name) {
                report.kept += 1;
                continue;
            }
            let r = self.spawn(script, &cfg.global.exec_user);
            self.running.insert(name.to_string(), r);
            report.started += 1;
        }
        report
    }

    fn spawn(&mut self, cfg: &VrrpScript, exec_user: &str) -> Running {
        self.next_generation += 1;
        let generation = self.next_generation;
        let initial = if cfg.init_fail {
            Health::Down
        } else {
            Health::Up
        };
        self.set_metric(&cfg.name, initial);
        // The config was validated; a user gone since fails every run, saying why.
        let probe = ScriptProbe::new(&cfg.exec, &cfg.name, exec_user)
            .map_err(|e| format!("cannot run: {e}"));
        let task = tokio::spawn(run(
            cfg.name.clone(),
            generation,
            probe,
            cfg.interval,
            cfg.timeout,
            self.results.clone(),
        ));
        Running {
            cfg: cfg.clone(),
            generation,
            tracker: Tracker::new(initial, cfg.rise, cfg.fall),
            task,
        }
    }

    fn set_metric(&self, name: &str, h: Health) {
        self.metrics
            .vrrp_script_up
            .get_or_create(&ScriptLabel {
                vrrp_script: name.to_string(),
            })
            .set(i64::from(h == Health::Up));
    }

    /// Records an outcome; true when the script's state changed (the instances must
    /// hear of it). Outcomes of a stopped or replaced task are ignored.
    pub fn on_result(&mut self, r: ScriptResult) -> bool {
        let Some(run) = self.running.get_mut(&r.name) else {
            return false;
        };
        if run.generation != r.generation {
            return false;
        }
        let Some(now) = run.tracker.record(r.outcome.is_ok()) else {
            return false;
        };
        match (&r.outcome, now) {
            (Err(why), Health::Down) => {
                warn!(script = %r.name, reason = %why, fall = run.cfg.fall, "vrrp script failing");
            }
            _ => info!(script = %r.name, rise = run.cfg.rise, "vrrp script passing"),
        }
        self.set_metric(&r.name, now);
        true
    }
}

/// Runs the program every `interval` (the first time at once) until the receiver is gone
/// or the task is aborted; a probe that could not be set up fails every run.
async fn run(
    name: String,
    generation: u64,
    probe: Result<ScriptProbe, String>,
    interval: std::time::Duration,
    timeout: std::time::Duration,
    results: mpsc::Sender<ScriptResult>,
) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let outcome = match &probe {
            Ok(p) => p.run(timeout).await.map_err(|f| f.to_string()),
            Err(why) => Err(why.clone()),
        };
        let r = ScriptResult {
            name: name.clone(),
            generation,
            outcome,
        };
        if results.send(r).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;

    use super::*;
    use crate::config::{SystemEnv, load_str};
    use crate::metrics::Metrics;

    fn cfg(scripts: &str) -> Config {
        let env = SystemEnv {
            base_dir: Path::new(".").to_path_buf(),
        };
        load_str(
            &format!("global: {{exec_user: root}}\nvrrp_scripts:\n{scripts}"),
            Path::new("t.yaml"),
            &env,
        )
        .expect("valid")
    }

    fn result(name: &str, generation: u64, ok: bool) -> ScriptResult {
        ScriptResult {
            name: name.into(),
            generation,
            outcome: if ok { Ok(()) } else { Err("exit 1".into()) },
        }
    }

    fn up(metrics: &Metrics, name: &str) -> Option<i64> {
        let text = metrics.render();
        let key = format!("ipvsd_vrrp_script_up{{vrrp_script=\"{name}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&key))
            .map(|v| v.parse().unwrap())
    }

    #[tokio::test]
    async fn rise_and_fall_decide_and_stale_or_replaced_runs_are_ignored() {
        let (tx, _rx) = mpsc::channel(16);
        let metrics = Arc::new(Metrics::new());
        let c = cfg(
            "  - {name: a, program: /bin/true, interval: 1h, fall: 2, rise: 2}\n  - {name: b, program: /bin/true, interval: 1h, init_fail: true}\n",
        );
        let mut s = Scripts::start(&c, tx, metrics.clone());
        let ga = s.running["a"].generation;
        let gb = s.running["b"].generation;
        assert_eq!(
            s.states(),
            BTreeMap::from([("a".to_string(), true), ("b".to_string(), false)])
        );
        assert_eq!((up(&metrics, "a"), up(&metrics, "b")), (Some(1), Some(0)));
        // Fall 2: one failure is not enough; a pass in between starts the count again.
        assert!(!s.on_result(result("a", ga, false)));
        assert!(!s.on_result(result("a", ga, true)));
        assert!(!s.on_result(result("a", ga, false)));
        assert!(s.on_result(result("a", ga, false)));
        assert!(!s.states()["a"]);
        assert_eq!(up(&metrics, "a"), Some(0));
        // init_fail with rise 1: one pass.
        assert!(s.on_result(result("b", gb, true)));
        assert_eq!(up(&metrics, "b"), Some(1));
        // Unknown names and other generations change nothing.
        assert!(!s.on_result(result("c", ga, true)));
        assert!(!s.on_result(result("a", gb, true)));
        assert!(!s.on_result(result("a", gb, true)));
        assert!(!s.states()["a"]);

        // A reload: a unchanged (kept with its state), b changed (new run, initial
        // state), c new; then one without b.
        let c2 = cfg(
            "  - {name: a, program: /bin/true, interval: 1h, fall: 2, rise: 2}\n  - {name: b, program: /bin/true, interval: 30m, init_fail: true}\n  - {name: c, program: /bin/true, interval: 1h}\n",
        );
        assert_eq!(
            s.reload(&c2),
            ScriptsReload {
                kept: 1,
                started: 2,
                stopped: 1
            }
        );
        assert_eq!(s.running["a"].generation, ga);
        assert_ne!(s.running["b"].generation, gb);
        assert_eq!(
            s.states(),
            BTreeMap::from([
                ("a".to_string(), false),
                ("b".to_string(), false),
                ("c".to_string(), true)
            ])
        );
        // The replaced b's last runs do not count.
        assert!(!s.on_result(result("b", gb, true)));
        let c3 = cfg("  - {name: a, program: /bin/true, interval: 1h, fall: 2, rise: 2}\n");
        assert_eq!(
            s.reload(&c3),
            ScriptsReload {
                kept: 1,
                started: 0,
                stopped: 2
            }
        );
        assert_eq!((up(&metrics, "b"), up(&metrics, "c")), (None, None));
    }

    #[tokio::test]
    async fn a_script_runs_at_once_and_reports_its_exit_status() {
        let (tx, mut rx) = mpsc::channel(16);
        let metrics = Arc::new(Metrics::new());
        let c = cfg(
            "  - {name: t, program: /bin/true, interval: 1h}\n  - {name: f, program: /bin/false, interval: 1h}\n",
        );
        let mut s = Scripts::start(&c, tx, metrics);
        let mut seen = BTreeMap::new();
        while seen.len() < 2 {
            let r = tokio::time::timeout(std::time::Duration::from_secs(10), rx.recv())
                .await
                .expect("both scripts ran within 10 s")
                .expect("open");
            seen.insert(r.name.clone(), r.outcome.clone());
            s.on_result(r);
        }
        assert_eq!(seen["t"], Ok(()));
        assert!(
            seen["f"].as_ref().is_err_and(|e| e.contains("exit")),
            "{seen:?}"
        );
        assert_eq!(
            s.states(),
            BTreeMap::from([("f".to_string(), false), ("t".to_string(), true)])
        );
    }
}
