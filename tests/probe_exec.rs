//! exec probes: programs run without a shell (the tests choose /bin/sh as the program to
//! script the misbehaviour), with a cleared environment, killed with their process group on
//! timeout and always reaped.

mod probe_support;

use std::path::Path;
use std::time::{Duration, Instant};

use ipvsd::check::probe::Prober;
use ipvsd::check::{Failure, Reason, Target};
use ipvsd::config::types::{Check, CheckKind, ExecCheck};
use nix::unistd::{Uid, User};
use probe_support::*;

/// The user these tests run as: the checks write into a private temporary directory.
fn me() -> String {
    User::from_uid(Uid::effective())
        .unwrap()
        .expect("the test user has a name")
        .name
}

fn exec_as(user: Option<String>, program: &str, args: &[&str]) -> Check {
    check(CheckKind::Exec(ExecCheck {
        program: program.into(),
        args: args.iter().map(|s| s.to_string()).collect(),
        user,
    }))
}

/// `/bin/sh -c script check args...`: `$1`, `$2`... are `args`.
fn sh(script: &str, args: &[&str]) -> Check {
    let mut all = vec!["-c", script, "check"];
    all.extend_from_slice(args);
    exec_as(Some(me()), "/bin/sh", &all)
}

fn exec_target() -> Target {
    Target {
        addr: "192.0.2.10".parse().unwrap(),
        port: 8081,
        source: None,
    }
}

async fn run(check: &Check) -> ipvsd::check::Outcome {
    prober(check, exec_target()).probe().await
}

fn read_pid(path: &Path) -> i32 {
    let text = std::fs::read_to_string(path).unwrap();
    text.trim().parse().unwrap()
}

/// `None` if the process is gone, else its state letter (`Z` for a zombie).
fn state(pid: i32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) S ...": the state follows the last ')'.
    stat.rsplit(')').next()?.trim().chars().next()
}

/// A process the probe started and left to init: it must be dead. Whether PID 1 has
/// reaped it yet is up to PID 1 (a zombie there is not ours to reap).
fn assert_dead_within(pid: i32, within: Duration) {
    let start = Instant::now();
    loop {
        match state(pid) {
            None | Some('Z') => return,
            Some(s) if start.elapsed() > within => {
                panic!("process {pid} still running (state {s})")
            }
            Some(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

#[tokio::test]
async fn exec_probe_of_a_program_that_exits_zero_is_up() {
    let o = run(&sh("exit 0", &[])).await;
    assert_eq!(o.result, Ok(()));
}

#[tokio::test]
async fn exec_probe_of_exit_two_fails_with_the_code_and_the_first_stderr_line() {
    let o = run(&sh(
        "echo progress; echo 'backend not ready' >&2; echo more >&2; exit 2",
        &[],
    ))
    .await;
    assert_eq!(
        o.result,
        Err(Failure::new(Reason::ExitCode, "exit 2: backend not ready"))
    );
}

#[tokio::test]
async fn exec_probe_of_a_program_killed_by_a_signal_fails_with_signal() {
    let o = run(&sh("kill -TERM $$", &[])).await;
    assert_eq!(
        o.result,
        Err(Failure::new(Reason::Signal, "killed by SIGTERM"))
    );
}

#[tokio::test]
async fn exec_probe_of_a_missing_program_fails_to_spawn() {
    let o = run(&exec_as(None, "/nonexistent/ipvsd-check", &[])).await;
    assert_eq!(
        o.result,
        Err(Failure::new(
            Reason::Spawn,
            "cannot start /nonexistent/ipvsd-check: No such file or directory (os error 2)"
        ))
    );
}

#[tokio::test]
async fn exec_probe_past_its_timeout_is_killed_with_its_group_and_reaped() {
    let dir = tempfile::tempdir().unwrap();
    let me_file = dir.path().join("sh.pid");
    let bg_file = dir.path().join("sleep.pid");
    let check = sh(
        "echo $$ > \"$1\"; sleep 30 & echo $! > \"$2\"; wait",
        &[me_file.to_str().unwrap(), bg_file.to_str().unwrap()],
    );
    let o = run(&check).await;
    assert_eq!(
        o.result,
        Err(Failure::new(
            Reason::Timeout,
            "still running after 300ms; killed"
        ))
    );
    assert_cut_at_timeout(&o, TIMEOUT);
    // The program itself was reaped before the probe returned: no /proc entry, no zombie.
    let sh_pid = read_pid(&me_file);
    assert_eq!(
        state(sh_pid),
        None,
        "the check process {sh_pid} was not reaped"
    );
    // What it started died with its process group.
    assert_dead_within(read_pid(&bg_file), Duration::from_secs(1));
}

#[tokio::test]
async fn exec_probe_does_not_wait_for_what_the_program_left_running() {
    // The background sleep keeps stdout and stderr open; the probe must not wait for them
    // until its timeout, and must not leave the sleep behind.
    let dir = tempfile::tempdir().unwrap();
    let bg_file = dir.path().join("sleep.pid");
    let mut check = sh(
        "sleep 30 & echo $! > \"$1\"; exit 0",
        &[bg_file.to_str().unwrap()],
    );
    check.timeout = Duration::from_secs(2);
    let o = run(&check).await;
    assert_eq!(o.result, Ok(()));
    assert!(o.latency < Duration::from_millis(500), "{:?}", o.latency);
    assert_dead_within(read_pid(&bg_file), Duration::from_secs(1));
}

#[tokio::test]
async fn exec_probe_sees_only_path_and_the_ipvsd_variables() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("env");
    let o = run(&sh("exec /usr/bin/env > \"$1\"", &[out.to_str().unwrap()])).await;
    assert_eq!(o.result, Ok(()));
    let mut vars: Vec<String> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(str::to_string)
        // The shell that stands in for the program adds its working directory.
        .filter(|l| l != "PWD=/")
        .collect();
    vars.sort();
    assert_eq!(
        vars,
        vec![
            "IPVSD_CHECK_ADDRESS=192.0.2.10",
            "IPVSD_CHECK_PORT=8081",
            "IPVSD_REAL_PORT=8080",
            "IPVSD_REAL_SERVER=192.0.2.10",
            "IPVSD_SERVICE=web",
            "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
        ]
    );
}

#[tokio::test]
async fn exec_probe_passes_arguments_verbatim_without_a_shell() {
    let check = exec_as(
        Some(me()),
        "/usr/bin/test",
        &["a b $HOME;*", "=", "a b $HOME;*"],
    );
    assert_eq!(run(&check).await.result, Ok(()));
    let differs = exec_as(Some(me()), "/usr/bin/test", &["a", "=", "b"]);
    assert_eq!(
        run(&differs).await.result,
        Err(Failure::new(Reason::ExitCode, "exit 1"))
    );
}

#[tokio::test]
async fn exec_probe_runs_with_stdin_closed_in_the_root_directory() {
    let o = run(&sh(
        "if read line; then echo \"stdin gave $line\" >&2; exit 3; fi; echo \"cwd $(pwd)\" >&2; exit 4",
        &[],
    ))
    .await;
    assert_eq!(
        o.result,
        Err(Failure::new(Reason::ExitCode, "exit 4: cwd /"))
    );
}

#[tokio::test]
async fn exec_probe_of_a_chatty_program_does_not_block_on_its_pipes() {
    let o = run(&sh(
        "head -c 1000000 /dev/zero; head -c 1000000 /dev/zero >&2; exit 0",
        &[],
    ))
    .await;
    assert_eq!(o.result, Ok(()));
    assert!(o.latency < TIMEOUT, "{:?}", o.latency);
}

#[tokio::test]
async fn exec_probe_runs_as_the_configured_user_and_never_as_root_by_default() {
    let check = exec_as(
        None,
        "/bin/sh",
        &["-c", "echo \"$(id -u) $(id -g) $(id -G)\" >&2; exit 3"],
    );
    let o = Prober::new(&check, exec_target(), ctx(), "nobody")
        .unwrap()
        .probe()
        .await;
    if Uid::effective().is_root() {
        let nobody = User::from_name("nobody").unwrap().expect("a nobody user");
        let (u, g) = (nobody.uid, nobody.gid);
        // uid, gid, and no supplementary group left over from root.
        assert_eq!(
            o.result,
            Err(Failure::new(
                Reason::ExitCode,
                format!("exit 3: {u} {g} {g}")
            ))
        );
    } else {
        // Without root the user cannot be switched: the daemon's own user, and a warning.
        let me = User::from_uid(Uid::effective()).unwrap().unwrap();
        let line = o.result.unwrap_err().detail;
        assert!(
            line.starts_with(&format!("exit 3: {} {} ", me.uid, me.gid)),
            "{line}"
        );
    }
}

#[tokio::test]
async fn exec_probe_for_an_unknown_user_does_not_run_as_root() {
    let check = exec_as(
        Some("ipvsd-no-such-user".into()),
        "/bin/sh",
        &["-c", "id -u >&2; exit 3"],
    );
    let o = run(&check).await;
    if Uid::effective().is_root() {
        assert_eq!(
            o.result,
            Err(Failure::new(
                Reason::Spawn,
                "unknown user `ipvsd-no-such-user`"
            ))
        );
    } else {
        let uid = Uid::effective().as_raw();
        assert_eq!(
            o.result,
            Err(Failure::new(Reason::ExitCode, format!("exit 3: {uid}")))
        );
    }
}

#[tokio::test]
async fn exec_probe_abandoned_midway_still_kills_and_reaps_its_process() {
    // The daemon drops a checker (reload, shutdown) while a probe runs.
    let dir = tempfile::tempdir().unwrap();
    let me_file = dir.path().join("sh.pid");
    let bg_file = dir.path().join("sleep.pid");
    let mut check = sh(
        "echo $$ > \"$1\"; sleep 30 & echo $! > \"$2\"; wait",
        &[me_file.to_str().unwrap(), bg_file.to_str().unwrap()],
    );
    check.timeout = Duration::from_secs(10);
    let p = prober(&check, exec_target());
    let cut = tokio::time::timeout(Duration::from_millis(200), p.probe()).await;
    assert!(cut.is_err(), "the probe should still have been running");
    let sh_pid = read_pid(&me_file);
    // tokio reaps the dropped child in the background: give it a moment, then no trace.
    let start = Instant::now();
    while state(sh_pid).is_some() && start.elapsed() < Duration::from_secs(2) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        state(sh_pid),
        None,
        "the check process {sh_pid} was not reaped"
    );
    assert_dead_within(read_pid(&bg_file), Duration::from_secs(1));
}

#[tokio::test]
async fn exec_probe_without_stderr_reports_the_first_stdout_line() {
    // Monitoring plugins print their verdict on stdout.
    let o = run(&sh("echo 'CRITICAL - 3 workers down'; exit 2", &[])).await;
    assert_eq!(
        o.result,
        Err(Failure::new(
            Reason::ExitCode,
            "exit 2: CRITICAL - 3 workers down"
        ))
    );
}
