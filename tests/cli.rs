//! The `ipvsd` binary end to end: check-config's output and exit codes, `run --dry-run`,
//! and the daemon skeleton's signal handling.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

fn ipvsd() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ipvsd"))
}

fn conf(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("conf")
        .join(name)
}

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn check_config_accepts_a_lab_config_with_a_summary() {
    let out = ipvsd()
        .arg("check-config")
        .arg(conf("director-a.yaml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.ends_with(": ok: 1 virtual server, 2 real servers, 2 checks, 1 VRRP instance\n"),
        "{stdout}"
    );
}

#[test]
fn check_config_reports_three_mistakes_with_file_line_column_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        &dir,
        "bad.yaml",
        "virtual_servers:\n  - address: 192.0.2.7:80\n    real_servers:\n      - address: 198.51.100.2:80\n        weight: 70000\n      - address: 198.51.100.3:80\n        wieght: 2\nvrrp_instances:\n  - {name: v, interface: eth0, vrid: 256, virtual_addresses: [192.0.2.7]}\n",
    );
    let out = ipvsd().arg("check-config").arg(&f).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let f = f.display();
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        format!(
            "{f}:5:17: virtual_servers[0].real_servers[0].weight: must be between 0 and 65535 (got 70000)\n\
             {f}:7:9: virtual_servers[0].real_servers[1].wieght: unknown key `wieght` (did you mean `weight`?)\n\
             {f}:9:38: vrrp_instances[0].vrid: must be between 1 and 255 (got 256)\n\
             3 problems found\n"
        )
    );
}

#[test]
fn check_config_exits_3_when_the_file_cannot_be_read() {
    let out = ipvsd()
        .args(["check-config", "/nonexistent/ipvsd.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.starts_with("cannot read /nonexistent/ipvsd.yaml: "),
        "{stderr}"
    );
}

#[test]
fn a_bad_command_line_exits_2() {
    let out = ipvsd().args(["check-config", "--bogus"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn generate_writes_the_man_pages_and_completions_but_help_does_not_list_it() {
    let dir = tempfile::tempdir().unwrap();
    let man = dir.path().join("man");
    let out = ipvsd()
        .args(["generate", "man"])
        .arg(&man)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let listed = String::from_utf8(out.stdout).unwrap();
    for page in [
        "ipvsd.8",
        "ipvsd.yaml.5",
        "ipvsd-run.8",
        "ipvsd-realserver-setup.8",
    ] {
        let text = std::fs::read_to_string(man.join(page)).unwrap();
        assert!(text.contains(".SH NAME\n"), "{page}");
        assert!(listed.contains(&man.join(page).display().to_string()));
    }
    let comp = dir.path().join("comp");
    let out = ipvsd()
        .args(["generate", "completions", "zsh"])
        .arg(&comp)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        std::fs::read_to_string(comp.join("_ipvsd"))
            .unwrap()
            .starts_with("#compdef ipvsd")
    );
    // A directory that cannot be made: a run-time failure.
    let out = ipvsd()
        .args(["generate", "man", "/proc/ipvsd-man"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{out:?}");
    let help = ipvsd().arg("--help").output().unwrap();
    assert!(!String::from_utf8(help.stdout).unwrap().contains("generate"));
}

#[test]
fn dry_run_prints_the_nat_lab_in_ipvsadm_save_format() {
    let out = ipvsd()
        .args(["run", "--dry-run", "--config"])
        .arg(conf("lvs-nat.yaml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "-A -t 203.0.113.7:80 -s rr\n\
         -a -t 203.0.113.7:80 -r 198.51.100.27:80 -m -w 1\n\
         -a -t 203.0.113.7:80 -r 198.51.100.37:80 -m -w 1\n"
    );
}

#[test]
fn dry_run_refuses_an_invalid_config() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        &dir,
        "bad.yaml",
        "virtual_servers:\n  - address: 192.0.2.7\n",
    );
    let out = ipvsd()
        .args(["run", "--dry-run", "--config"])
        .arg(&f)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stdout.is_empty(),
        "nothing is printed for an invalid config"
    );
}

/// A running daemon whose stderr lines arrive on a channel.
struct Daemon {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Daemon {
    fn start(config: &Path) -> Daemon {
        let mut child = ipvsd()
            .args(["run", "--config"])
            .arg(config)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Daemon {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits (at most 10 s) for a log line containing `needle`.
    fn wait_for(&mut self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let hit = line.contains(needle);
                    self.seen.push(line);
                    if hit {
                        return;
                    }
                }
                Err(_) => break,
            }
        }
        panic!(
            "no log line with {needle:?}; got:\n{}",
            self.seen.join("\n")
        );
    }

    fn signal(&self, sig: Signal) {
        kill(Pid::from_raw(self.child.id() as i32), sig).unwrap();
    }

    fn wait_exit(mut self) -> i32 {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status
                    .code()
                    .expect("exited by itself, not killed by a signal");
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("daemon did not exit");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

#[test]
fn the_daemon_starts_and_stops_cleanly_on_sigterm_and_sigint() {
    for sig in [Signal::SIGTERM, Signal::SIGINT] {
        let mut d = Daemon::start(&conf("lvs-nat.yaml"));
        d.wait_for("ipvsd started");
        d.signal(sig);
        d.wait_for("stopping");
        d.wait_for("ipvsd stopped");
        assert_eq!(d.wait_exit(), 0, "after {sig}");
    }
}

#[test]
fn sighup_with_a_broken_config_keeps_the_running_one() {
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read_to_string(conf("lvs-nat.yaml")).unwrap();
    let f = write(&dir, "ipvsd.yaml", &good);
    let mut d = Daemon::start(&f);
    d.wait_for("ipvsd started");

    std::fs::write(
        &f,
        "virtual_servers:\n  - address: 192.0.2.7:80\n    bogus: 1\n",
    )
    .unwrap();
    d.signal(Signal::SIGHUP);
    d.wait_for("unknown key `bogus`");
    d.wait_for("reload rejected");

    std::fs::write(&f, good.replace("scheduler: rr", "scheduler: wrr")).unwrap();
    d.signal(Signal::SIGHUP);
    d.wait_for("config reloaded");

    d.signal(Signal::SIGTERM);
    d.wait_for("ipvsd stopped");
    assert_eq!(d.wait_exit(), 0);
}

#[test]
fn json_logs_are_one_object_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        &dir,
        "ipvsd.yaml",
        "global: {log_format: json, node_name: n1}\n",
    );
    let mut d = Daemon::start(&f);
    d.wait_for("ipvsd started");
    d.signal(Signal::SIGTERM);
    d.wait_for("ipvsd stopped");
    let lines = d.seen.clone();
    assert_eq!(d.wait_exit(), 0);
    assert!(lines.len() >= 3, "{lines:?}");
    for line in &lines {
        assert!(
            line.starts_with('{') && line.ends_with('}'),
            "not JSON: {line}"
        );
        assert!(line.contains("\"level\":"), "{line}");
    }
    assert!(
        lines[0].contains("\"message\":\"ipvsd started\""),
        "{lines:?}"
    );
    assert!(lines[0].contains("\"node\":\"n1\""), "{lines:?}");
}

#[test]
fn a_config_writable_by_every_user_is_refused_unless_overridden() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, "ipvsd.yaml", "virtual_servers: []\n");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
    let out = ipvsd()
        .arg("check-config")
        .arg(&path)
        .env_remove("IPVSD_ALLOW_INSECURE_CONFIG")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("writable by every user (mode 0666)") && err.contains("chmod o-w"),
        "{err}"
    );
    // The documented override.
    let out = ipvsd()
        .arg("check-config")
        .arg(&path)
        .env("IPVSD_ALLOW_INSECURE_CONFIG", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Group-writable (e.g. root:ipvsd 0660) is the owner's choice: accepted.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o660)).unwrap();
    let out = ipvsd().arg("check-config").arg(&path).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
