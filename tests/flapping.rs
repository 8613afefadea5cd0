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

use daemon_support::{Daemon, free_port, get, openmetrics, scrape, status};

const INTERVAL: Duration = Duration::from_millis(100);
const TIMEOUT: Duration = Duration::from_millis(80);
/// rise = fall.
const N: u32 = 3;
/// How late a log line may reach this process after the probe that decided it.
const LOG_LAG: Duration = Duration::from_millis(30);

/// splitmix64.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// A transition as the daemon logged it: when this process read it, to up or down.
#[derive(Clone, Debug)]
struct Logged {
    at: Instant,
    rs: String,
    up: bool,
}

/// Reads the daemon's JSON log lines; keeps the health transitions.
fn read_logs(stderr: std::process::ChildStderr) -> Arc<Mutex<Vec<Logged>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let out = seen.clone();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines() {
            let Ok(line) = line else { return };
            let at = Instant::now();
            let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
                panic!("a log line that is not JSON: {line}");
            };
            let up = match v["message"].as_str() {
                Some("real server up") => true,
                Some("real server down") => false,
                _ => continue,
            };
            let rs = v["rs"].as_str().unwrap_or_default().to_string();
            out.lock().unwrap().push(Logged { at, rs, up });
        }
    });
    seen
}

/// A server that flips between up and down after random dwell times, recording when.
struct Flapper {
    vs: &'static str,
    weight: u32,
    up: Arc<AtomicBool>,
    server: probe_support::Server,
    /// Every change of its real state, starting with up at the start of the run.
    truth: Arc<Mutex<Vec<(Instant, bool)>>>,
}

impl Flapper {
    fn addr(&self) -> SocketAddr {
        self.server.addr
    }

    fn set(&self, up: bool) {
        if self.up.swap(up, Ordering::SeqCst) != up {
            self.truth.lock().unwrap().push((Instant::now(), up));
        }
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
    let seed: u64 = std::env::var("IPVSD_FLAP_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    println!("seed {seed} (IPVSD_FLAP_SEED), flapping for {secs} s (IPVSD_FLAP_SECS)");

    let rt = tokio::runtime::Runtime::new().unwrap();
    let mode = Arc::new(AtomicU8::new(ALTERNATE));
    let alt_requests = Arc::new(AtomicU64::new(0));
    let alt = rt.block_on(alternating(mode.clone(), alt_requests.clone()));
    let flappers: Vec<Flapper> = [("flap", 2), ("flap", 3), ("flapr", 4), ("flapr", 5)]
        .into_iter()
        .map(|(vs, weight)| {
            let up = Arc::new(AtomicBool::new(true));
            let server = rt.block_on(probe_support::switchable(up.clone()));
            Flapper {
                vs,
                weight,
                up,
                server,
                truth: Arc::default(),
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
        "global: {{node_name: t, admin_listen: \"127.0.0.1:{admin}\", log_format: json}}\n\
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
        let (up, truth, stop) = (f.up.clone(), f.truth.clone(), stop.clone());
        let mut rng = Rng(seed.wrapping_add(i as u64));
        threads.push(std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(30 + rng.next() % 970));
                let now_up = !up.fetch_xor(true, Ordering::SeqCst);
                truth.lock().unwrap().push((Instant::now(), now_up));
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
    let alt_during = logs
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.rs == alt.addr.to_string())
        .count();

    // Final states: the alternating server down for good, one flapper up, the rest down
    // (flapr has none left: its sorry server goes in).
    mode.store(STEADY_DOWN, Ordering::SeqCst);
    let finals = [true, false, false, false];
    for (f, up) in flappers.iter().zip(finals) {
        f.set(up);
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
                .is_some_and(|f| f.up.load(Ordering::SeqCst));
            assert_eq!(rs["health"], if up { "up" } else { "down" }, "{rs}");
        }
    }

    // (a) The alternating server: no transition while it alternated, one (down) after.
    let alt_probes = alt_requests.load(Ordering::SeqCst);
    assert!(
        alt_probes as f64 >= 0.6 * secs as f64 / INTERVAL.as_secs_f64(),
        "the alternating server was probed {alt_probes} times"
    );
    assert_eq!(alt_during, 0, "the alternating server made transitions");
    let alt_all: Vec<_> = logged
        .iter()
        .filter(|l| l.rs == alt.addr.to_string())
        .collect();
    assert_eq!(alt_all.len(), 1, "{alt_all:?}");
    assert!(!alt_all[0].up);

    // (b) The flappers.
    let required = INTERVAL * N - (INTERVAL + TIMEOUT);
    let decides = INTERVAL * N + INTERVAL + TIMEOUT + Duration::from_millis(200);
    let (mut total_transitions, mut total_probes, mut stretches_checked) = (0, 0, 0);
    let (mut short, mut long) = (0, 0);
    for f in &flappers {
        let addr = f.addr().to_string();
        let truth = f.truth.lock().unwrap().clone();
        let mine: Vec<&Logged> = logged.iter().filter(|l| l.rs == addr).collect();
        total_transitions += mine.len();
        total_probes += f.server.seen.all().len();
        // Transitions alternate, starting from up.
        let mut daemon_up = true;
        for l in &mine {
            assert_ne!(l.up, daemon_up, "{addr}: two transitions the same way");
            daemon_up = l.up;
            // Preceded by a stable stretch in the new state.
            let (since, real) = state_at(&truth, l.at - LOG_LAG);
            assert_eq!(
                real,
                l.up,
                "{addr}: went {} at +{:?} while the server was the other way (since +{:?})",
                if l.up { "up" } else { "down" },
                l.at - start,
                since.saturating_duration_since(start)
            );
            let stable = l.at - since;
            assert!(
                stable >= required,
                "{addr}: went {} after {stable:?} in that state (less than {required:?})",
                if l.up { "up" } else { "down" }
            );
        }
        // No stuck state: every stretch long enough to decide ends agreed on.
        let daemon_at = |t: Instant| mine.iter().rev().find(|l| l.at <= t).map_or(true, |l| l.up);
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
            if length >= decides {
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
        // The counters agree with the log.
        let labels = format!("virtual_server=\"{}\",real_server=\"{addr}\"", f.vs);
        for (to, up) in [("up", true), ("down", false)] {
            let counted = sum(
                &m,
                &format!("ipvsd_real_server_transitions{{{labels},to=\"{to}\"}}"),
            );
            let logged_n = mine.iter().filter(|l| l.up == up).count();
            assert_eq!(counted, logged_n as f64, "{addr} to {to}");
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
         alternating server: {alt_probes} probes, 0 transitions; final table {} ms after the final states",
        converged.as_millis()
    );
}
