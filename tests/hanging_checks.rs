//! Checks that never end by themselves, against the real `ipvsd run` binary (in-memory IPVS
//! backend): HTTP checks of servers that accept and never answer, of a server that never
//! accepts (its accept queue full, so SYNs are dropped), and exec checks of a program that
//! sleeps for an hour. Watched from /proc while they run: never more than one probe of a
//! check in flight, each probe cut at its timeout with reason `timeout`, every `sleep`
//! killed and reaped (none left over, no zombie piling up), and the daemon's open fds and
//! threads flat.
//!
//! `IPVSD_HANG_SECS` sets the watched run (default 20 s).

mod daemon_support;
mod probe_support;

use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use daemon_support::{Daemon, free_port, get, scrape, status, value};
use tokio::io::AsyncReadExt;

/// Every check probes every 200 ms with a 200 ms timeout: a probe that hangs uses its
/// whole interval, so a second one in flight would show at once.
const INTERVAL: Duration = Duration::from_millis(200);
/// Bounds stated up front: the daemon's open fds and threads never exceed these, and
/// its median count of open fds in the last third of the run is at most `GROWTH_FDS` more
/// than in the first third.
const MAX_FDS: usize = 64;
const MAX_THREADS: usize = 8;
const GROWTH_FDS: usize = 2;

/// (accepted, closed by the prober) of each connection a silent server saw.
type Conns = Arc<Mutex<Vec<(Instant, Option<Instant>)>>>;

/// Accepts, reads whatever comes, never answers; records when each connection came and
/// when the prober gave up on it.
async fn silent() -> (probe_support::Server, Conns) {
    let conns = Conns::default();
    let record = conns.clone();
    let server = probe_support::serve(move |mut s, _, _| {
        let conns = record.clone();
        async move {
            let i = {
                let mut c = conns.lock().unwrap();
                c.push((Instant::now(), None));
                c.len() - 1
            };
            let mut buf = [0u8; 1024];
            while let Ok(n) = s.read(&mut buf).await {
                if n == 0 {
                    break;
                }
            }
            conns.lock().unwrap()[i].1 = Some(Instant::now());
        }
    })
    .await;
    (server, conns)
}

/// A listener whose accept queue is full (backlog 0, one connection queued and never
/// accepted): the kernel drops further SYNs, so a connect hangs. Returns the socket and
/// the queued connection (both must stay open).
fn never_accepts() -> (socket2::Socket, Vec<TcpStream>, SocketAddr) {
    use socket2::{Domain, Socket, Type};
    let l = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    l.bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
        .unwrap();
    l.listen(0).unwrap();
    let addr = l.local_addr().unwrap().as_socket().unwrap();
    let mut queued = Vec::new();
    for _ in 0..3 {
        if let Ok(s) = TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
            queued.push(s);
        }
    }
    // The environment must behave as assumed, or the test says so.
    let probe = TcpStream::connect_timeout(&addr, Duration::from_millis(300));
    assert!(
        probe.is_err(),
        "a connect to a listener with a full accept queue succeeded: SYNs are not dropped here"
    );
    (l, queued, addr)
}

fn fds(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

fn threads(pid: i32) -> usize {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// (pid, parent pid, state) of every process.
fn processes() -> Vec<(i32, i32, char)> {
    let mut all = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // "pid (comm) S ppid ...": the fields after the last ')'.
        let mut rest = stat.rsplit(')').next().unwrap_or("").split_whitespace();
        let state = rest.next().and_then(|s| s.chars().next()).unwrap_or('?');
        let ppid = rest.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        all.push((pid, ppid, state));
    }
    all
}

/// The children of `pid`: (pid, state, command line).
fn children(pid: i32) -> Vec<(i32, char, Vec<u8>)> {
    let mut kids = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let list = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
        for child in list
            .split_whitespace()
            .filter_map(|c| c.parse::<i32>().ok())
        {
            let stat = std::fs::read_to_string(format!("/proc/{child}/stat")).unwrap_or_default();
            let state = stat
                .rsplit(')')
                .next()
                .and_then(|r| r.trim().chars().next())
                .unwrap_or('?');
            let cmdline = std::fs::read(format!("/proc/{child}/cmdline")).unwrap_or_default();
            kids.push((child, state, cmdline));
        }
    }
    kids
}

/// Live processes whose command line has the argument `tag`.
fn running_with_arg(tag: &str) -> usize {
    processes()
        .iter()
        .filter(|(pid, _, state)| {
            *state != 'Z'
                && std::fs::read(format!("/proc/{pid}/cmdline"))
                    .map(|c| c.split(|b| *b == 0).any(|a| a == tag.as_bytes()))
                    .unwrap_or(false)
        })
        .count()
}

/// Sockets in SYN_SENT towards `port` on 127.0.0.1 (the daemon is the only one trying).
/// /proc/net/tcp may hold tens of thousands of lines on a busy host: a substring search
/// (remote address, then the state) rather than parsing each line.
fn syn_sent_to(port: u16) -> usize {
    let want = format!(" 0100007F:{port:04X} 02 ");
    std::fs::read_to_string("/proc/net/tcp")
        .unwrap_or_default()
        .matches(want.as_str())
        .count()
}

#[derive(Default, Debug)]
struct Watch {
    samples: usize,
    fds: Vec<usize>,
    max_threads: usize,
    max_children: usize,
    max_zombies: usize,
    max_sleeps: usize,
    max_syn_sent: usize,
}

#[test]
fn hanging_checks_time_out_one_at_a_time_and_leave_nothing_behind() {
    let secs: u64 = std::env::var("IPVSD_HANG_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (silent_a, conns_a) = rt.block_on(silent());
    let (silent_b, conns_b) = rt.block_on(silent());
    let (_full, _queued, full) = never_accepts();
    let admin = free_port();
    // Arguments no other process has: `sleep 3600.PID` and `sleep 3601.PID`.
    let me = std::process::id() % 1_000_000;
    let tags = [format!("3600.{me:06}"), format!("3601.{me:06}")];

    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("ipvsd.yaml");
    let http = "checks: [{type: http, interval: 200ms, timeout: 200ms, rise: 1, fall: 1}]";
    let exec = |tag: &str| {
        format!(
            "checks: [{{type: exec, program: /bin/sleep, args: [\"{tag}\"], interval: 200ms, timeout: 200ms, rise: 1, fall: 1}}]"
        )
    };
    let y = format!(
        "global: {{node_name: t, admin_listen: \"127.0.0.1:{admin}\", control_socket: none}}\n\
         virtual_servers:\n\
         \x20 - name: hang\n    address: 203.0.113.20:80\n    forwarding: nat\n    real_servers:\n\
         \x20     - {{address: \"{}\", {http}}}\n\
         \x20     - {{address: \"{}\", {http}}}\n\
         \x20     - {{address: \"{full}\", {http}}}\n\
         \x20     - {{address: \"127.0.0.1:9001\", {}}}\n\
         \x20     - {{address: \"127.0.0.1:9002\", {}}}\n",
        silent_a.addr,
        silent_b.addr,
        exec(&tags[0]),
        exec(&tags[1]),
    );
    std::fs::write(&cfg, y).unwrap();
    let log = std::fs::File::create(dir.path().join("ipvsd.log")).unwrap();
    let spawned = Instant::now();
    let d = Daemon(
        Command::new(env!("CARGO_BIN_EXE_ipvsd"))
            .args(["run", "--ipvs-backend", "memory", "--config"])
            .arg(&cfg)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let pid = d.pid();
    let deadline = Instant::now() + Duration::from_secs(10);
    while get(admin, "/healthz").is_none() {
        assert!(Instant::now() < deadline, "the daemon never answered");
        std::thread::sleep(Duration::from_millis(50));
    }

    // Watch it from /proc every 50 ms, once every check has started (their starts are
    // spread over one interval).
    std::thread::sleep(Duration::from_secs(1));
    let started = Instant::now();
    let mut w = Watch::default();
    while started.elapsed() < Duration::from_secs(secs) {
        let kids = children(pid);
        w.samples += 1;
        w.fds.push(fds(pid));
        w.max_threads = w.max_threads.max(threads(pid));
        w.max_children = w.max_children.max(kids.len());
        w.max_zombies = w
            .max_zombies
            .max(kids.iter().filter(|k| k.1 == 'Z').count());
        for tag in &tags {
            let alive = kids
                .iter()
                .filter(|k| k.1 != 'Z' && k.2.split(|b| *b == 0).any(|a| a == tag.as_bytes()))
                .count();
            w.max_sleeps = w.max_sleeps.max(alive);
        }
        // The socket table can be large: read it every fourth sample.
        if w.samples % 4 == 1 {
            w.max_syn_sent = w.max_syn_sent.max(syn_sent_to(full.port()));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let ran = started.elapsed();

    // One probe in flight per check: each exec check has at most one `sleep` alive, the
    // daemon at most one child per exec check (a killed one is reaped before the next
    // starts; allow one not yet reaped at the moment of a sample), one SYN towards the
    // full listener.
    assert!(w.max_sleeps <= 1, "{w:?}");
    assert!(w.max_children <= 2 * tags.len(), "{w:?}");
    assert!(w.max_zombies <= tags.len(), "{w:?}");
    assert_eq!(w.max_syn_sent, 1, "{w:?}");
    assert!(w.max_threads <= MAX_THREADS, "{w:?}");
    let max_fds = w.fds.iter().copied().max().unwrap_or(0);
    assert!(max_fds <= MAX_FDS, "{w:?}");
    // Not growing: the median count of the last third is that of the first (every check
    // always has a probe in flight, so the count moves by a few around it); a leak of one
    // fd per probe would add about 25 a second.
    let median = |v: &[usize]| {
        let mut v = v.to_vec();
        v.sort();
        v.get(v.len() / 2).copied().unwrap_or(0)
    };
    let third = w.fds.len() / 3;
    let first = median(&w.fds[..third]);
    let last = median(&w.fds[2 * third..]);
    assert!(
        last <= first + GROWTH_FDS,
        "fds grew: {first} -> {last} ({:?})",
        w.fds
    );
    // No child left but the one of a probe in flight (zombies are reaped).
    let zombies_now = children(pid).iter().filter(|k| k.1 == 'Z').count();

    // The silent servers: one connection at a time, each given up at the timeout.
    // Probes since the daemon started (a few intervals more than the watched run).
    let expected = spawned.elapsed().as_secs_f64() / INTERVAL.as_secs_f64();
    let mut medians = Vec::new();
    for (name, conns) in [("a", &conns_a), ("b", &conns_b)] {
        let c = conns.lock().unwrap().clone();
        let n = c.len() as f64;
        assert!(
            n >= 0.6 * expected && n <= 1.1 * expected + 3.0,
            "silent {name}: {n} probes in {ran:?}"
        );
        for pair in c.windows(2) {
            let (_, closed) = pair[0];
            let (next, _) = pair[1];
            let closed = closed.expect("a probe still open while the next one came");
            // Both ends are seen by this process's tasks: allow 50 ms of their scheduling
            // on a loaded machine (an overlapping probe would start 200 ms early).
            assert!(
                next + Duration::from_millis(50) >= closed,
                "silent {name}: a probe started {:?} before the previous one ended",
                closed - next
            );
        }
        // Cut at the timeout: typically right at it, never much later.
        let mut held: Vec<Duration> = c.iter().filter_map(|(o, c)| Some((*c)? - *o)).collect();
        held.sort();
        let median = held[held.len() / 2];
        assert!(
            median >= INTERVAL - Duration::from_millis(50)
                && median <= INTERVAL + Duration::from_millis(50),
            "silent {name}: probes held their connection {median:?} (median)"
        );
        let longest = held.last().copied().unwrap_or_default();
        assert!(
            longest < INTERVAL + Duration::from_millis(300),
            "silent {name}: a probe held its connection {longest:?}"
        );
        medians.push(median);
    }

    // Every check failed every probe with reason timeout.
    let doc = status(admin).expect("/api/v1/status");
    let rs = doc["virtual_servers"][0]["real_servers"]
        .as_array()
        .unwrap();
    assert_eq!(rs.len(), 5);
    for r in rs {
        assert_eq!(r["health"], "down", "{r}");
        assert_eq!(r["last_failure"]["reason"], "timeout", "{r}");
        assert_eq!(r["checks"][0]["last"]["reason"], "timeout", "{r}");
        assert_eq!(r["kernel_weight"], 0, "{r}");
    }
    let m = scrape(admin);
    let mut probes = Vec::new();
    for (addr, check) in [
        (silent_a.addr.to_string(), "http#0"),
        (silent_b.addr.to_string(), "http#0"),
        (full.to_string(), "http#0"),
        ("127.0.0.1:9001".to_string(), "exec#0"),
        ("127.0.0.1:9002".to_string(), "exec#0"),
    ] {
        let labels = format!("virtual_server=\"hang\",real_server=\"{addr}\"");
        let sel = |result: &str| {
            format!("ipvsd_checks{{{labels},check=\"{check}\",result=\"{result}\"}}")
        };
        assert_eq!(value(&m, &sel("success")), 0.0);
        let failures = value(&m, &sel("failure"));
        let total = spawned.elapsed().as_secs_f64() / INTERVAL.as_secs_f64();
        assert!(
            failures >= 0.6 * total && failures <= 1.1 * total + 3.0,
            "{addr}: {failures} failed probes in about {total} intervals"
        );
        assert_eq!(
            value(
                &m,
                &format!("ipvsd_real_server_last_failure{{{labels},reason=\"timeout\"}}")
            ),
            1.0
        );
        probes.push(failures);
    }

    // Stopped, it leaves no `sleep` behind.
    d.signal(nix::sys::signal::Signal::SIGTERM);
    let deadline = Instant::now() + Duration::from_secs(5);
    let left = loop {
        let left: usize = tags.iter().map(|t| running_with_arg(t)).sum();
        if left == 0 || Instant::now() > deadline {
            break left;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(left, 0, "sleep processes left after the daemon stopped");

    println!(
        "{:.1} s watched, {} samples: probes per check {probes:?} (about {:.0} intervals), \
         silent servers held {medians:?} per probe (median); \
         fds {}..{} (median in the first third {first}, in the last {last}; bound {MAX_FDS}), \
         threads max {} (bound {MAX_THREADS}), children max {}, zombies max {} (now {zombies_now}), \
         sleep processes per check max {}, SYN_SENT max {}",
        ran.as_secs_f64(),
        w.samples,
        expected,
        w.fds.iter().min().unwrap_or(&0),
        max_fds,
        w.max_threads,
        w.max_children,
        w.max_zombies,
        w.max_sleeps,
        w.max_syn_sent,
    );
}
