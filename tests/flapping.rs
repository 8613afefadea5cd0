//! Real servers flapping at random for a long run, against the `ipvsd run` binary
//! (in-memory IPVS backend, JSON logs): health moves only as rise/fall allow, never gets
//! stuck, and the table ends exactly where the final states put it.
//!
//! - a server that answers up and down in turn, probe after probe, never makes a
//!   transition (rise = fall = 3);
//! - servers whose state flips after random dwell times, shorter and longer than
//!   fall x interval: every transition the daemon logs follows a stretch of at least
//!   (rise or fall) x interval, less one interval and one timeout, in which the server
//!   really was in the new state; every stretch long enough to decide ends with the
//!   daemon agreeing with it; the transition counters in /metrics equal the logged ones;
//! - at the end every server takes a final state and the table converges on it.
//!
//! `IPVSD_FLAP_SECS` sets the flapping phase (default 60 s; `IPVSD_FLAP_SECS=300` for
//! minutes), `IPVSD_FLAP_SEED` the random seed (printed).

mod daemon_support;
mod probe_support;

use std::collections::BTreeMap;
use std::io::BufRead;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use daemon_support::{Daemon, Rng, free_port, get, openmetrics, scrape, status};

const INTERVAL: Duration = Duration::from_millis(100);
const TIMEOUT: Duration = Duration::from_millis(80);
/// rise = fall.
const N: u32 = 3;
/// A failed probe this slow is taken as a timeout.
const SLOW: Duration = Duration::from_millis(60);

/// What the daemon logged about one real server.
#[derive(Clone, Debug)]
enum Event {
    /// One probe (debug level): passed or not, and how long it took.
    Probe { ok: bool, latency: Duration },
    /// A health transition, with the last failure's reason when down.
    Transition { up: bool, reason: String },
}

/// A log line: when the daemon logged it (on this process's clock), about which real server.
#[derive(Clone, Debug)]
struct Logged {
    at: Instant,
    rs: String,
    event: Event,
}

impl Logged {
    fn transition(&self) -> Option<bool> {
        match self.event {
            Event::Transition { up, .. } => Some(up),
            Event::Probe { .. } => None,
        }
    }
}

/// Reads the daemon's JSON log lines; keeps the probes and the health transitions.
fn read_logs(stderr: std::process::ChildStderr) -> Arc<Mutex<Vec<Logged>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let out = seen.clone();
    // The daemon stamps each line with the wall clock when it logs it; that moment, on this
    // process's monotonic clock, is when the event happened (reading the pipe may lag on
    // a loaded machine).
    let (anchor_instant, anchor_wall) = (Instant::now(), std::time::SystemTime::now());
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines() {
            let Ok(line) = line else { return };
            let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
                panic!("a log line that is not JSON: {line}");
            };
            let stamp = v["timestamp"]
                .as_str()
                .and_then(parse_rfc3339)
                .unwrap_or_else(|| panic!("a log line without a readable timestamp: {line}"));
            let at = match stamp.duration_since(anchor_wall) {
                Ok(after) => anchor_instant + after,
                Err(e) => anchor_instant - e.duration(),
            };
            let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
            let (rs, event) = match v["message"].as_str() {
                Some("probe") => (
                    text(&v["span"]["rs"]),
                    Event::Probe {
                        ok: v["ok"].as_bool().unwrap_or(false),
                        latency: Duration::from_millis(v["latency_ms"].as_u64().unwrap_or(0)),
                    },
                ),
                Some(m @ ("real server up" | "real server down")) => (
                    text(&v["rs"]),
                    Event::Transition {
                        up: m == "real server up",
                        reason: text(&v["reason"]),
                    },
                ),
                _ => continue,
            };
            out.lock().unwrap().push(Logged { at, rs, event });
        }
    });
    seen
}

/// Replays a server's probes through rise/fall (the daemon's rule, restated): the
/// transitions they call for, each with whether one of its deciding probes was slow
/// (failed at or near the timeout: the loaded machine, not the server's state).
fn replay(events: &[&Logged]) -> Vec<(bool, bool)> {
    let (mut up, mut run, mut slow_in_run) = (true, 0u32, false);
    let mut last_ok = None;
    let mut out = Vec::new();
    for l in events {
        let Event::Probe { ok, latency } = l.event else {
            continue;
        };
        if last_ok != Some(ok) {
            run = 0;
            slow_in_run = false;
        }
        last_ok = Some(ok);
        run += 1;
        slow_in_run |= !ok && latency >= SLOW;
        if ok != up && run >= N {
            up = ok;
            out.push((up, slow_in_run));
        }
    }
    out
}

/// A server that flips between up and down after random dwell times, recording when.
struct Flapper {
    vs: &'static str,
    weight: u32,
    server: probe_support::Server,
    /// Every change of its real state, starting with up. The server answers from the last
    /// entry under the same lock, so this record and its answers cannot disagree.
    truth: Truth,
}

type Truth = Arc<Mutex<Vec<(Instant, bool)>>>;

/// Sets the state (and records the change, if it is one).
fn set(truth: &Truth, up: bool) {
    let mut t = truth.lock().unwrap();
    if t.last().map(|x| x.1) != Some(up) {
        t.push((Instant::now(), up));
    }
}

fn current(truth: &Truth) -> bool {
    truth.lock().unwrap().last().is_none_or(|x| x.1)
}

impl Flapper {
    fn addr(&self) -> SocketAddr {
        self.server.addr
    }
}

/// How the alternating server answers.
const ALTERNATE: u8 = 0;
const STEADY_DOWN: u8 = 2;

/// Answers 200 and 503 in turn (or 503 always once told `STEADY_DOWN`); counts requests.
async fn alternating(mode: Arc<AtomicU8>, requests: Arc<AtomicU64>) -> probe_support::Server {
    probe_support::serve(move |mut s, _, _| {
        let (mode, requests) = (mode.clone(), requests.clone());
        async move {
            use tokio::io::AsyncWriteExt;
            probe_support::read_head(&mut s).await;
            let n = requests.fetch_add(1, Ordering::SeqCst);
            let ok = mode.load(Ordering::SeqCst) == ALTERNATE && n % 2 == 0;
            let status = if ok {
                "200 OK"
            } else {
                "503 Service Unavailable"
            };
            let _ = s
                .write_all(probe_support::response(status, "").as_bytes())
                .await;
            let _ = s.shutdown().await;
        }
    })
    .await
}

/// The real state of `truth` at `t`.
/// `2026-12-02T04:07:21.123456Z` (tracing-subscriber's JSON timestamp, UTC).
fn parse_rfc3339(s: &str) -> Option<std::time::SystemTime> {
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let frac = s
        .get(19..)?
        .strip_prefix('.')
        .unwrap_or("")
        .trim_end_matches('Z');
    let nanos = format!("{frac:0<9}").get(..9)?.parse::<u64>().ok()?;
    // Days from 1970-01-01 (Howard Hinnant's days_from_civil).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if mo > 2 { mo - 3 } else { mo + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = u64::try_from(days * 86_400 + h * 3600 + mi * 60 + sec).ok()?;
    Some(std::time::UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_nanos(nanos))
}

fn state_at(truth: &[(Instant, bool)], t: Instant) -> (Instant, bool) {
    truth
        .iter()
        .rev()
        .find(|(c, _)| *c <= t)
        .copied()
        .unwrap_or(truth[0])
}

/// Every sample of a family matching `sel`'s labels, summed (0 when there is none).
fn sum(m: &[openmetrics::Sample], sel: &str) -> f64 {
    openmetrics::select(m, sel)
        .unwrap()
        .iter()
        .map(|s| s.value)
        .sum()
}

/// The kernel's (here the memory table's) weights of a virtual server, from /metrics.
fn kernel_weights(m: &[openmetrics::Sample], vs: &str) -> BTreeMap<String, u32> {
    openmetrics::select(
        m,
        &format!("ipvsd_ipvs_backend_weight{{virtual_server=\"{vs}\"}}"),
    )
    .unwrap()
    .iter()
    .map(|s| {
        (
            format!("{}:{}", s.labels["remote_address"], s.labels["remote_port"]),
            s.value as u32,
        )
    })
    .collect()
}

#[test]
fn flapping_servers_move_only_as_rise_and_fall_allow_and_end_in_the_right_table() {
    let secs: u64 = std::env::var("IPVSD_FLAP_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let seed = Rng::seed_from_env("IPVSD_FLAP_SEED");
    println!("seed {seed} (IPVSD_FLAP_SEED), flapping for {secs} s (IPVSD_FLAP_SECS)");

    let rt = tokio::runtime::Runtime::new().unwrap();
    let mode = Arc::new(AtomicU8::new(ALTERNATE));
    let alt_requests = Arc::new(AtomicU64::new(0));
    let alt = rt.block_on(alternating(mode.clone(), alt_requests.clone()));
    let flappers: Vec<Flapper> = [("flap", 2), ("flap", 3), ("flapr", 4), ("flapr", 5)]
        .into_iter()
        .map(|(vs, weight)| {
            let truth = Truth::default();
            let state = truth.clone();
            let server = rt.block_on(probe_support::switchable(move || current(&state)));
            Flapper {
                vs,
                weight,
                server,
                truth,
            }
        })
        .collect();
    let admin = free_port();
    let sorry = free_port();

    let check = format!(
        "checks: [{{type: http, interval: {}ms, timeout: {}ms, rise: {N}, fall: {N}}}]",
        INTERVAL.as_millis(),
        TIMEOUT.as_millis()
    );
    let mut y = format!(
        "global: {{node_name: t, admin_listen: \"127.0.0.1:{admin}\", log_format: json, control_socket: none}}\n\
         virtual_servers:\n\
         \x20 - name: flap\n    address: 203.0.113.30:80\n    scheduler: rr\n    forwarding: nat\n\
         \x20   {check}\n    real_servers:\n\
         \x20     - {{address: \"{}\", weight: 1}}\n",
        alt.addr
    );
    let section = |vs: &str, y: &mut String| {
        for f in flappers.iter().filter(|f| f.vs == vs) {
            y.push_str(&format!(
                "      - {{address: \"{}\", weight: {}}}\n",
                f.addr(),
                f.weight
            ));
        }
    };
    section("flap", &mut y);
    y.push_str(&format!(
        "  - name: flapr\n    address: 203.0.113.31:80\n    forwarding: nat\n    on_failure: remove\n\
         \x20   {check}\n    sorry_server: {{address: \"127.0.0.1:{sorry}\", forwarding: dr}}\n    real_servers:\n"
    ));
    section("flapr", &mut y);
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("ipvsd.yaml");
    std::fs::write(&cfg, y).unwrap();

    let mut child = Command::new(env!("CARGO_BIN_EXE_ipvsd"))
        .args(["run", "--ipvs-backend", "memory", "--config"])
        .arg(&cfg)
        // Every probe's result, with its real server (the check span).
        .args(["--log-level", "info,ipvsd::check::runner=debug"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let logs = read_logs(child.stderr.take().unwrap());
    let mut d = Daemon(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while get(admin, "/readyz").map(|r| r.0) != Some(200) {
        assert!(Instant::now() < deadline, "the daemon never got ready");
        std::thread::sleep(Duration::from_millis(50));
    }

    // Flap: each server on its own thread, dwell times of 30 ms to 1 s (fall x interval is
    // 300 ms).
    let start = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::new();
    for (i, f) in flappers.iter().enumerate() {
        f.truth.lock().unwrap().push((start, true));
        let (truth, stop) = (f.truth.clone(), stop.clone());
        let mut rng = Rng(seed.wrapping_add(i as u64));
        threads.push(std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(30 + rng.next() % 970));
                let up = current(&truth);
                set(&truth, !up);
            }
        }));
    }
    while start.elapsed() < Duration::from_secs(secs) {
        std::thread::sleep(Duration::from_millis(500));
        assert!(d.0.try_wait().unwrap().is_none(), "the daemon exited");
    }
    stop.store(true, Ordering::SeqCst);
    for t in threads {
        t.join().unwrap();
    }
    let flap_end = Instant::now();
    let alt_during: Vec<Logged> = logs
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.rs == alt.addr.to_string())
        .cloned()
        .collect();

    // Final states: the alternating server down for good, one flapper up, the rest down
    // (flapr has none left: its sorry server goes in).
    mode.store(STEADY_DOWN, Ordering::SeqCst);
    let finals = [true, false, false, false];
    for (f, up) in flappers.iter().zip(finals) {
        set(&f.truth, up);
    }
    let final_at = Instant::now();
    let want_flap: BTreeMap<String, u32> = [
        (alt.addr.to_string(), 0),
        (flappers[0].addr().to_string(), 2),
        (flappers[1].addr().to_string(), 0),
    ]
    .into();
    let want_flapr: BTreeMap<String, u32> = [(format!("127.0.0.1:{sorry}"), 1)].into();
    // Bound: rise/fall x interval + a timeout, with room: 3 s.
    let converged = loop {
        let m = scrape(admin);
        if kernel_weights(&m, "flap") == want_flap && kernel_weights(&m, "flapr") == want_flapr {
            break final_at.elapsed();
        }
        assert!(
            final_at.elapsed() < Duration::from_secs(3),
            "no convergence on the final states: flap {:?} (want {want_flap:?}), flapr {:?} (want {want_flapr:?})",
            kernel_weights(&m, "flap"),
            kernel_weights(&m, "flapr")
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    // Quiet for a moment: nothing moves any more.
    std::thread::sleep(Duration::from_millis(1000));
    let logged = logs.lock().unwrap().clone();
    let m = scrape(admin);
    assert_eq!(kernel_weights(&m, "flap"), want_flap);
    assert_eq!(kernel_weights(&m, "flapr"), want_flapr);
    let doc = status(admin).expect("/api/v1/status");
    for vs in doc["virtual_servers"].as_array().unwrap() {
        for rs in vs["real_servers"].as_array().unwrap() {
            let up = flappers
                .iter()
                .find(|f| f.addr().to_string() == rs["address"])
                .is_some_and(|f| current(&f.truth));
            assert_eq!(rs["health"], if up { "up" } else { "down" }, "{rs}");
        }
    }

    // Every server: its transitions are exactly those rise/fall call for, given the
    // probes the daemon logged, and /metrics counted the same.
    let mut slow_transitions = 0;
    let mut check_replay = |addr: &str, vs: &str| -> Vec<(bool, bool)> {
        let mine: Vec<&Logged> = logged.iter().filter(|l| l.rs == addr).collect();
        let want = replay(&mine);
        let got: Vec<bool> = mine.iter().filter_map(|l| l.transition()).collect();
        assert_eq!(
            got,
            want.iter().map(|(up, _)| *up).collect::<Vec<_>>(),
            "{addr}: transitions the probes do not call for"
        );
        slow_transitions += want.iter().filter(|(_, slow)| *slow).count();
        let labels = format!("virtual_server=\"{vs}\",real_server=\"{addr}\"");
        for (to, up) in [("up", true), ("down", false)] {
            let counted = sum(
                &m,
                &format!("ipvsd_real_server_transitions{{{labels},to=\"{to}\"}}"),
            );
            let logged_n = got.iter().filter(|g| **g == up).count();
            assert_eq!(counted, logged_n as f64, "{addr} to {to}");
        }
        want
    };

    // (a) The alternating server: no transition while it alternated (but for probes the
    // loaded machine made time out), one down after.
    let alt_probes = alt_requests.load(Ordering::SeqCst);
    assert!(
        alt_probes as f64 >= 0.6 * secs as f64 / INTERVAL.as_secs_f64(),
        "the alternating server was probed {alt_probes} times"
    );
    let during: Vec<&Logged> = alt_during.iter().collect();
    let alt_flaps = replay(&during);
    assert!(
        alt_flaps.iter().all(|(_, slow)| *slow),
        "the alternating server made transitions: {alt_flaps:?}"
    );
    let alt_all = check_replay(&alt.addr.to_string(), "flap");
    assert_eq!(alt_all.last().map(|t| t.0), Some(false));

    // (b) The flappers.
    // The deciding probes' spread: (N - 1) intervals, less a timeout (a probe is logged
    // when it ends, after up to a timeout) and 20 ms (the start grid and tokio's tick).
    let required = INTERVAL * (N - 1) - TIMEOUT - Duration::from_millis(20);
    let decides = INTERVAL * N + INTERVAL + TIMEOUT + Duration::from_millis(200);
    let (mut total_transitions, mut total_probes, mut stretches_checked) = (0, 0, 0);
    let (mut short, mut long, mut slow_probes) = (0, 0, 0);
    for f in &flappers {
        let addr = f.addr().to_string();
        let truth = f.truth.lock().unwrap().clone();
        let decided = check_replay(&addr, f.vs);
        let mine: Vec<&Logged> = logged.iter().filter(|l| l.rs == addr).collect();
        let transitions: Vec<(&Logged, bool)> = mine
            .iter()
            .filter(|l| l.transition().is_some())
            .zip(decided.iter().map(|(_, slow)| *slow))
            .map(|(l, slow)| (*l, slow))
            .collect();
        total_transitions += transitions.len();
        // Each probe saw the state the server had around its time (a slow failure is
        // the machine's, not the server's).
        let mut slow_at = Vec::new();
        for l in &mine {
            let Event::Probe { ok, latency } = l.event else {
                continue;
            };
            total_probes += 1;
            if !ok && latency >= SLOW {
                slow_probes += 1;
                slow_at.push(l.at);
                continue;
            }
            let from = l.at - latency - Duration::from_millis(100);
            let (_, before) = state_at(&truth, from);
            let seen = before == ok
                || truth
                    .iter()
                    .any(|(c, s)| *c >= from && *c <= l.at && *s == ok);
            assert!(
                seen,
                "{addr}: a probe at +{:?} saw {ok} but the server never was",
                l.at - start
            );
        }
        // Each transition follows a stable stretch in the new state (those decided with
        // a slow probe are the machine's and are not judged).
        for (l, slow) in &transitions {
            let (Event::Transition { up, reason }, false) = (&l.event, slow) else {
                continue;
            };
            let way = if *up { "up" } else { "down" };
            // The deciding probes: the last `N` of this server logged before the
            // transition. Each must have seen the new state (and, checked above, each saw
            // a state the server really had), and they must be spread over at least
            // (N - 1) intervals: the daemon counts probes, never less than `N` of them,
            // never faster than its schedule. A dip shorter than an interval between two
            // probes is invisible to any prober and is not held against it.
            let deciding: Vec<(Instant, bool)> = mine
                .iter()
                .rev()
                .filter(|e| e.at <= l.at)
                .filter_map(|e| match e.event {
                    Event::Probe { ok, .. } => Some((e.at, ok)),
                    _ => None,
                })
                .take(N as usize)
                .collect();
            let around = || {
                mine.iter()
                    .filter(|e| e.at + INTERVAL * (N + 2) >= l.at && e.at <= l.at)
                    .map(|e| format!("\n  +{:?} {:?}", e.at - start, e.event))
                    .collect::<String>()
            };
            assert_eq!(
                deciding.len(),
                N as usize,
                "{addr}: went {way} at +{:?} with fewer than {N} probes{}",
                l.at - start,
                around()
            );
            assert!(
                deciding.iter().all(|(_, ok)| ok == up),
                "{addr}: went {way} at +{:?} but its last {N} probes were not all {way} {reason}{}",
                l.at - start,
                around()
            );
            let spread = deciding[0].0 - deciding[N as usize - 1].0;
            assert!(
                spread >= required,
                "{addr}: went {way} at +{:?} on {N} probes within {spread:?} (less than {required:?}){}",
                l.at - start,
                around()
            );
        }
        // No stuck state: every stretch long enough to decide (and free of slow probes)
        // ends with the daemon agreeing.
        let daemon_at = |t: Instant| {
            transitions
                .iter()
                .rev()
                .find(|(l, _)| l.at <= t)
                .is_none_or(|(l, _)| l.transition() == Some(true))
        };
        let mut ends: Vec<Instant> = truth.iter().skip(1).map(|(c, _)| *c).collect();
        ends.push(final_at + Duration::from_millis(1000));
        for (i, (from, real)) in truth.iter().enumerate() {
            let to = ends[i];
            let length = to - *from;
            if *from < flap_end {
                if length < INTERVAL * N {
                    short += 1;
                } else if length >= decides {
                    long += 1;
                }
            }
            let disturbed = slow_at.iter().any(|t| *t >= *from && *t <= to);
            if length >= decides && !disturbed {
                stretches_checked += 1;
                assert_eq!(
                    daemon_at(to),
                    *real,
                    "{addr}: {} from +{:?} for {length:?}, the daemon never followed",
                    if *real { "up" } else { "down" },
                    from.saturating_duration_since(start)
                );
            }
        }
    }
    assert!(
        short > 0 && long > 0,
        "dwell times: {short} short, {long} long"
    );
    assert!(stretches_checked > 0);
    println!(
        "{secs} s of flapping: {total_probes} probes of 4 flapping servers, {total_transitions} transitions, \
         {stretches_checked} stretches long enough to decide (all followed), {short} shorter than fall x interval; \
         {slow_probes} probes failed slow (>= {SLOW:?}, the loaded machine), {slow_transitions} transitions decided with one; \
         alternating server: {alt_probes} probes, {} transitions while alternating; final table {} ms after the final states",
        alt_flaps.len(),
        converged.as_millis()
    );
}
