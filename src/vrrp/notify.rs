//! Notify commands: the program an instance's `notify` names runs on each of its state
//! changes, one at a time and in order (a queue, never concurrent: keepalived runs its
//! notify scripts concurrently and users are told to funnel them through a FIFO).
//!
//! I/O shell. The program runs without a shell, with the arguments from the config
//! followed by the instance name, the new state and the priority
//! (`PROGRAM ARGS... INSTANCE STATE PRIORITY`, as keepalived's `notify` passes them), the
//! same in the environment (`IPVSD_INSTANCE`, `IPVSD_STATE`, `IPVSD_PRIORITY`,
//! `IPVSD_REASON`), as `notify.user` or else `global.exec_user` (never root unless the
//! config says so), and is killed after [`NOTIFY_TIMEOUT`].

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::check::probe::{RunAs, run_as};
use crate::config::Notify;

/// A notify command still running after this is killed, so the queue moves on.
pub const NOTIFY_TIMEOUT: Duration = Duration::from_secs(30);
/// Transitions waiting for their command; beyond this a transition's command is skipped
/// (and logged): a stuck program must not hold the daemon's memory.
const QUEUE: usize = 64;

/// One command to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Job {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub user: String,
    pub instance: String,
    pub state: &'static str,
    pub reason: &'static str,
    pub priority: u8,
}

impl Job {
    pub fn new(
        n: &Notify,
        exec_user: &str,
        instance: &str,
        state: &'static str,
        reason: &'static str,
        priority: u8,
    ) -> Job {
        Job {
            program: n.program.clone(),
            args: n.args.clone(),
            user: n.user.clone().unwrap_or_else(|| exec_user.to_string()),
            instance: instance.to_string(),
            state,
            reason,
            priority,
        }
    }

    /// The full argument list after the program.
    pub fn argv(&self) -> Vec<String> {
        let mut v = self.args.clone();
        v.push(self.instance.clone());
        v.push(self.state.to_string());
        v.push(self.priority.to_string());
        v
    }
}

/// The queue and the task that works through it. Dropping it ends the task (a running
/// command is killed).
pub struct Notifier {
    tx: mpsc::Sender<Job>,
    join: JoinHandle<()>,
}

impl Default for Notifier {
    fn default() -> Self {
        Self::start()
    }
}

impl Notifier {
    pub fn start() -> Notifier {
        let (tx, mut rx) = mpsc::channel::<Job>(QUEUE);
        let join = tokio::spawn(async move {
            while let Some(job) = rx.recv().await {
                run(&job).await;
            }
        });
        Notifier { tx, join }
    }

    pub fn push(&self, job: Job) {
        if let Err(e) = self.tx.try_send(job) {
            let job = match e {
                mpsc::error::TrySendError::Full(j) | mpsc::error::TrySendError::Closed(j) => j,
            };
            warn!(instance = %job.instance, state = job.state, "notify queue full; this transition's command is skipped");
        }
    }
}

impl Drop for Notifier {
    fn drop(&mut self) {
        self.join.abort();
    }
}

async fn run(job: &Job) {
    let mut cmd = Command::new(&job.program);
    cmd.args(job.argv())
        .env_clear()
        .env(
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        )
        .env("IPVSD_INSTANCE", &job.instance)
        .env("IPVSD_STATE", job.state)
        .env("IPVSD_REASON", job.reason)
        .env("IPVSD_PRIORITY", job.priority.to_string())
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    match run_as(&job.user) {
        Ok(RunAs::Current) => {}
        Ok(RunAs::User { uid, gid }) => {
            cmd.gid(gid.as_raw()).uid(uid.as_raw());
        }
        Ok(RunAs::Unknown(user)) => {
            warn!(instance = %job.instance, user, "notify not run: unknown user");
            return;
        }
        Err(e) => {
            warn!(instance = %job.instance, error = %crate::cli::error_chain(&e), "notify not run");
            return;
        }
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            warn!(instance = %job.instance, program = %job.program.display(), error = %e, "notify cannot start");
            return;
        }
    };
    match tokio::time::timeout(NOTIFY_TIMEOUT, child.wait()).await {
        Ok(Ok(status)) if status.success() => {
            info!(instance = %job.instance, state = job.state, "notify ran")
        }
        Ok(Ok(status)) => {
            warn!(instance = %job.instance, state = job.state, %status, "notify failed")
        }
        Ok(Err(e)) => warn!(instance = %job.instance, error = %e, "notify wait failed"),
        Err(_) => {
            let _ = child.kill().await;
            warn!(instance = %job.instance, state = job.state, "notify killed after the timeout");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(state: &'static str) -> Job {
        Job::new(
            &Notify {
                program: PathBuf::from("/bin/sh"),
                args: vec!["-c".into(), "echo \"$@\" >> \"$0\"".into()],
                user: None,
            },
            "nobody",
            "VI_1",
            state,
            "startup",
            150,
        )
    }

    #[test]
    fn the_arguments_end_with_instance_state_and_priority() {
        assert_eq!(
            job("master").argv(),
            vec!["-c", "echo \"$@\" >> \"$0\"", "VI_1", "master", "150"]
        );
        assert_eq!(job("master").user, "nobody");
    }

    #[tokio::test]
    async fn commands_run_one_at_a_time_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("log");
        let script = dir.path().join("n.sh");
        // Each run appends "start STATE", sleeps, appends "end STATE": overlapping runs
        // would interleave the lines.
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\necho start $2 >> {o}\nsleep 0.2\necho end $2 >> {o}\n",
                o = out.display()
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let n = Notifier::start();
        let user = nix::unistd::User::from_uid(nix::unistd::Uid::effective())
            .unwrap()
            .unwrap()
            .name;
        // The daemon's own user (a test may run as root or not).
        let notify = Notify {
            program: script.clone(),
            args: vec![],
            user: Some(user),
        };
        for s in ["backup", "master", "fault"] {
            n.push(Job::new(&notify, "nobody", "VI_1", s, "startup", 100));
        }
        let want = "start backup\nend backup\nstart master\nend master\nstart fault\nend fault\n";
        let mut got = String::new();
        for _ in 0..50 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            got = std::fs::read_to_string(&out).unwrap_or_default();
            if got == want {
                break;
            }
        }
        assert_eq!(got, want);
    }
}
