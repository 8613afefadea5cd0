//! The exec probe: runs a program directly (no shell), as an unprivileged user, in its own
//! process group, with a cleared environment; exit 0 passes.
//!
//! Process hygiene is the point of this file. The program gets a new process group, so on
//! timeout the whole group (the program and anything it started) is killed with SIGKILL
//! and the program is reaped before the probe returns; when the program exits on its own,
//! whatever it left running in its group is killed too, so it cannot hold the output pipes
//! open or pile up over the intervals. If the probe future is dropped half-way, a guard
//! kills the group and tokio reaps the child (`kill_on_drop`). No zombie is left behind.
//!
//! `ExecProbe::new` looks the user up (I/O: the user database); `run` spawns; `judge` and
//! `first_line` are pure.

use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::{Gid, Pid, Uid, User};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;
use tracing::warn;

use super::{ProbeContext, ProbeSetupError, fmt_duration};
use crate::check::{Failure, Reason, Target};
use crate::config::types::ExecCheck;

/// The only `PATH` a check sees.
const PATH: &str = "/usr/sbin:/usr/bin:/sbin:/bin";
/// Output kept from each of stdout and stderr; the rest is read and dropped, so a chatty
/// program never blocks on a full pipe.
const CAPTURE_BYTES: usize = 4096;
/// Longest stderr line put in a failure detail.
const DETAIL_CHARS: usize = 200;
/// After SIGKILL, how long to wait for the exit before leaving the reaping to tokio (a
/// process stuck in the kernel cannot die at once).
const REAP_GRACE: Duration = Duration::from_millis(200);

pub(super) struct ExecProbe {
    program: PathBuf,
    args: Vec<String>,
    env: Vec<(&'static str, String)>,
    run_as: RunAs,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum RunAs {
    /// The daemon's own user: it is not root (it cannot switch), or the user is root.
    Current,
    User {
        uid: Uid,
        gid: Gid,
    },
    /// Not in the user database: the check fails rather than run as root.
    Unknown(String),
}

impl ExecProbe {
    pub(super) fn new(
        e: &ExecCheck,
        target: &Target,
        ctx: &ProbeContext,
        exec_user: &str,
    ) -> Result<ExecProbe, ProbeSetupError> {
        let env = vec![
            ("IPVSD_SERVICE", ctx.service.clone()),
            ("IPVSD_REAL_SERVER", ctx.real_server.to_string()),
            ("IPVSD_REAL_PORT", ctx.real_port.to_string()),
            ("IPVSD_CHECK_ADDRESS", target.addr.to_string()),
            ("IPVSD_CHECK_PORT", target.port.to_string()),
        ];
        ExecProbe::with_env(e, env, exec_user)
    }

    /// The program of `e` with `PATH` and `env` as its whole environment.
    pub(super) fn with_env(
        e: &ExecCheck,
        env: Vec<(&'static str, String)>,
        exec_user: &str,
    ) -> Result<ExecProbe, ProbeSetupError> {
        let user = e.user.as_deref().unwrap_or(exec_user);
        let run_as = run_as(user)?;
        let mut all = vec![("PATH", PATH.to_string())];
        all.extend(env);
        Ok(ExecProbe {
            program: e.program.clone(),
            args: e.args.clone(),
            env: all,
            run_as,
        })
    }

    pub(super) async fn run(&self, timeout: Duration) -> Result<(), Failure> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .current_dir("/")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        match &self.run_as {
            RunAs::Current => {}
            // std drops the supplementary groups when it sets the uid (setgroups(0)).
            RunAs::User { uid, gid } => {
                cmd.gid(gid.as_raw()).uid(uid.as_raw());
            }
            RunAs::Unknown(user) => {
                return Err(Failure::new(
                    Reason::Spawn,
                    format!("unknown user `{user}`"),
                ));
            }
        }
        let mut child = cmd.spawn().map_err(|e| {
            Failure::new(
                Reason::Spawn,
                format!("cannot start {}: {e}", self.program.display()),
            )
        })?;
        let mut group = GroupGuard(
            child
                .id()
                .and_then(|id| i32::try_from(id).ok())
                .map(Pid::from_raw),
        );
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        let mut out = Vec::new();
        let mut err = Vec::new();

        let work = async {
            let reads = async {
                tokio::join!(capture(stdout, &mut out), capture(stderr, &mut err));
            };
            let wait = child.wait();
            tokio::pin!(reads);
            tokio::pin!(wait);
            tokio::select! {
                status = &mut wait => {
                    // The check is over: end what it left running so the pipes close.
                    // (The group id cannot have been reused yet: the group outlives its
                    // leader while members remain, and we kill it microseconds later.)
                    group.kill();
                    (&mut reads).await;
                    status
                }
                () = &mut reads => wait.await,
            }
        };
        let result = match tokio::time::timeout_at(deadline, work).await {
            Ok(Ok(status)) => judge(status, &err, &out),
            Ok(Err(e)) => Err(Failure::new(
                Reason::Spawn,
                format!("cannot wait for {}: {e}", self.program.display()),
            )),
            Err(_) => {
                group.kill();
                // If it is not gone in time, kill_on_drop leaves the reaping to tokio.
                let _ = tokio::time::timeout(REAP_GRACE, child.wait()).await;
                Err(Failure::new(
                    Reason::Timeout,
                    format!("still running after {}; killed", fmt_duration(timeout)),
                ))
            }
        };
        group.disarm();
        result
    }
}

/// Which user a check runs as. Root may switch to anyone; another user cannot, so the check
/// runs as that user and a warning says so, once per user asked for (not once per real
/// server, check, reload or notify run).
pub(crate) fn run_as(user: &str) -> Result<RunAs, ProbeSetupError> {
    let lookup = |user: &str| {
        User::from_name(user).map_err(|source| ProbeSetupError::UserLookup {
            user: user.to_string(),
            source,
        })
    };
    let euid = Uid::effective();
    if euid.is_root() {
        return Ok(match lookup(user)? {
            Some(u) if u.uid.is_root() => RunAs::Current,
            Some(u) => RunAs::User {
                uid: u.uid,
                gid: u.gid,
            },
            None => RunAs::Unknown(user.to_string()),
        });
    }
    let current = User::from_uid(euid).ok().flatten().map(|u| u.name);
    if current.as_deref() != Some(user) && first_warning(user) {
        warn!(
            user,
            current = current.as_deref().unwrap_or("?"),
            uid = euid.as_raw(),
            "exec check cannot switch user without root; it runs as the daemon's user"
        );
    }
    Ok(RunAs::Current)
}

/// Users the "cannot switch user" warning was given for, in this process.
static WARNED_USERS: std::sync::Mutex<std::collections::BTreeSet<String>> =
    std::sync::Mutex::new(std::collections::BTreeSet::new());

/// True the first time it is called for `user`.
fn first_warning(user: &str) -> bool {
    // A poisoned lock only means a panic elsewhere mid-insert: the set is still usable.
    let mut warned = WARNED_USERS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    warned.insert(user.to_string())
}

/// Kills the check's process group with SIGKILL, once: on `kill`, or on drop if the probe
/// was abandoned before it cleaned up.
struct GroupGuard(Option<Pid>);

impl GroupGuard {
    fn kill(&mut self) {
        if let Some(pgid) = self.0.take() {
            // ESRCH: the group is already empty.
            let _ = killpg(pgid, Signal::SIGKILL);
        }
    }

    fn disarm(&mut self) {
        self.0 = None;
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Reads a pipe to its end, keeping the first `CAPTURE_BYTES`.
async fn capture<R: AsyncRead + Unpin>(pipe: Option<R>, keep: &mut Vec<u8>) {
    let Some(mut pipe) = pipe else {
        return;
    };
    let mut buf = [0u8; 4096];
    loop {
        match pipe.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                let room = CAPTURE_BYTES.saturating_sub(keep.len());
                let chunk = buf.get(..n.min(room)).unwrap_or_default();
                keep.extend_from_slice(chunk);
            }
        }
    }
}

/// Exit 0 passes; otherwise the exit code or the signal, and the first line of stderr (of
/// stdout if stderr is empty: monitoring plugins print their verdict there).
fn judge(status: ExitStatus, stderr: &[u8], stdout: &[u8]) -> Result<(), Failure> {
    if status.success() {
        return Ok(());
    }
    let (reason, what) = match (status.code(), status.signal()) {
        (Some(code), _) => (Reason::ExitCode, format!("exit {code}")),
        (None, Some(sig)) => {
            let name = Signal::try_from(sig)
                .map_or_else(|_| format!("signal {sig}"), |s| s.as_str().to_string());
            (Reason::Signal, format!("killed by {name}"))
        }
        (None, None) => (Reason::ExitCode, status.to_string()),
    };
    let detail = match first_line(stderr).or_else(|| first_line(stdout)) {
        Some(line) => format!("{what}: {line}"),
        None => what,
    };
    Err(Failure::new(reason, detail))
}

/// The first non-empty line, trimmed and cut to `DETAIL_CHARS` characters.
fn first_line(bytes: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(bytes);
    let line = text.lines().map(str::trim).find(|l| !l.is_empty())?;
    Some(line.chars().take(DETAIL_CHARS).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_zero_passes_and_others_give_code_and_stderr() {
        assert_eq!(judge(ExitStatus::from_raw(0), b"noise", b"more"), Ok(()));
        assert_eq!(
            judge(ExitStatus::from_raw(2 << 8), b"", b""),
            Err(Failure::new(Reason::ExitCode, "exit 2"))
        );
        assert_eq!(
            judge(
                ExitStatus::from_raw(1 << 8),
                b"\n  disk full \nsecond line\n",
                b"stdout line"
            ),
            Err(Failure::new(Reason::ExitCode, "exit 1: disk full"))
        );
    }

    #[test]
    fn without_stderr_the_first_stdout_line_is_the_detail() {
        assert_eq!(
            judge(ExitStatus::from_raw(2 << 8), b"", b"CRITICAL - load 42\n"),
            Err(Failure::new(Reason::ExitCode, "exit 2: CRITICAL - load 42"))
        );
    }

    #[test]
    fn death_by_signal_names_the_signal() {
        assert_eq!(
            judge(ExitStatus::from_raw(Signal::SIGTERM as i32), b"", b""),
            Err(Failure::new(Reason::Signal, "killed by SIGTERM"))
        );
        assert_eq!(
            judge(ExitStatus::from_raw(9), b"bye", b""),
            Err(Failure::new(Reason::Signal, "killed by SIGKILL: bye"))
        );
    }

    #[test]
    fn the_detail_line_is_bounded_and_lossy() {
        let long = "x".repeat(1000);
        assert_eq!(
            first_line(long.as_bytes()).map(|l| l.len()),
            Some(DETAIL_CHARS)
        );
        assert_eq!(
            first_line(b"bad \xff byte"),
            Some("bad \u{fffd} byte".to_string())
        );
        assert_eq!(first_line(b"\n\n"), None);
    }

    #[test]
    fn root_is_never_assumed_for_an_unknown_user() {
        if Uid::effective().is_root() {
            assert_eq!(
                run_as("ipvsd-no-such-user").unwrap(),
                RunAs::Unknown("ipvsd-no-such-user".into())
            );
            assert_eq!(run_as("root").unwrap(), RunAs::Current);
        } else {
            // Without root nothing can be switched: the current user, whatever was asked.
            assert_eq!(run_as("ipvsd-no-such-user").unwrap(), RunAs::Current);
        }
    }

    #[test]
    fn the_cannot_switch_user_warning_is_given_once_per_user() {
        assert!(first_warning("ipvsd-test-warn-a"));
        assert!(!first_warning("ipvsd-test-warn-a"));
        assert!(first_warning("ipvsd-test-warn-b"));
        assert!(!first_warning("ipvsd-test-warn-a"));
    }
}
