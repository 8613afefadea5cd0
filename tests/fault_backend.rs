//! Fault injection under the real daemon loop: the IPVS backend fails at random (every
//! kind of error, and calls that hang, then time out, some after the change was made)
//! while real servers go down and up. The daemon must stay alive and answer its admin
//! API, count the failures, never touch a service it does not own, and, once the faults
//! stop, converge the table on exactly what the config and the servers' health say.
//!
//! Half-way through, a reload removes a real server: it retires (weight 0, then deleted)
//! while the faults go on.
//!
//! The daemon runs in this process (`daemon::run_with_connector`) on a `MemoryBackend`
//! wrapped by `FaultBackend`. `IPVSD_FAULT_SECS` sets the faulty phase (default 8 s),
//! `IPVSD_FAULT_SEED` the random seed (printed), `IPVSD_TEST_LOG=debug` shows the logs.

mod daemon_support;
mod probe_support;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use daemon_support::{Rng, free_port, get, scrape, status, value};
use ipvsd::ipvs::backend::{
    Backend, BackendError, Info, MemoryBackend, Observed, Op, SyncDaemon, SyncRole, Timeouts,
};
use ipvsd::ipvs::model::{
    DestKey, Destination, Forwarding, Protocol, Scheduler, Service, ServiceKey,
};
use ipvsd::ipvs::task::Connect;

fn seed() -> u64 {
    Rng::seed_from_env("IPVSD_FAULT_SEED")
}

// === FaultBackend ===

/// What the faulty backend does to one call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Fault {
    /// Another errno from the kernel.
    Kernel,
    /// The socket broke.
    Io,
    /// A reply that does not parse.
    Decode,
    /// A false EEXIST.
    Exists,
    /// A false ENOENT.
    NotFound,
    /// The call hangs for up to 250 ms, then fails with ETIMEDOUT.
    Timeout,
    /// An apply that took effect but whose answer was lost (ETIMEDOUT after the change).
    LostReply,
    /// Opening the backend fails.
    Connect,
}

const KINDS: [Fault; 8] = [
    Fault::Kernel,
    Fault::Io,
    Fault::Decode,
    Fault::Exists,
    Fault::NotFound,
    Fault::Timeout,
    Fault::LostReply,
    Fault::Connect,
];

/// The fault plan shared by the test and every backend the daemon opens.
struct Faults {
    /// Chance of a fault per call, in per mille (0: none).
    rate: AtomicU32,
    rng: Mutex<Rng>,
    injected: Mutex<BTreeMap<Fault, u64>>,
    /// Calls that reached the table (for the report).
    calls: Mutex<u64>,
}

impl Faults {
    fn roll(&self, apply: bool) -> Option<Fault> {
        *self.calls.lock().unwrap() += 1;
        let rate = u64::from(self.rate.load(Ordering::SeqCst));
        let mut rng = self.rng.lock().unwrap();
        if rng.below(1000) >= rate {
            return None;
        }
        // Any kind but a failed connect (that one is rolled when the daemon connects).
        let kinds = &KINDS[..KINDS.len() - 1];
        let mut f = kinds[rng.below(kinds.len() as u64) as usize];
        if f == Fault::LostReply && !apply {
            f = Fault::Timeout;
        }
        drop(rng);
        *self.injected.lock().unwrap().entry(f).or_default() += 1;
        Some(f)
    }

    fn error(&self, f: Fault) -> BackendError {
        let mut rng = self.rng.lock().unwrap();
        match f {
            Fault::Kernel => {
                // ENOMEM, EINVAL, EBUSY, EPERM, ENOBUFS
                let errnos = [12, 22, 16, 1, 105];
                BackendError::Kernel {
                    errno: errnos[rng.below(errnos.len() as u64) as usize],
                }
            }
            Fault::Io => BackendError::Io(std::io::Error::from(std::io::ErrorKind::BrokenPipe)),
            Fault::Decode => BackendError::Decode("injected: truncated attribute".into()),
            Fault::Exists => BackendError::Exists,
            Fault::NotFound => BackendError::NotFound,
            Fault::Timeout | Fault::LostReply => {
                let ms = 20 + rng.below(230);
                drop(rng);
                std::thread::sleep(Duration::from_millis(ms));
                BackendError::Io(std::io::Error::from(std::io::ErrorKind::TimedOut))
            }
            Fault::Connect => BackendError::Unavailable,
        }
    }

    fn total(&self) -> u64 {
        self.injected.lock().unwrap().values().sum()
    }

    /// Whether every kind of fault was injected at least `n` times.
    fn each_at_least(&self, n: u64) -> bool {
        let injected = self.injected.lock().unwrap();
        KINDS
            .iter()
            .all(|f| injected.get(f).copied().unwrap_or(0) >= n)
    }
}

/// A backend that fails at random in front of a shared in-memory table.
struct FaultBackend {
    table: Arc<Mutex<MemoryBackend>>,
    faults: Arc<Faults>,
}

impl FaultBackend {
    /// Runs `call` on the table unless a fault is rolled.
    fn call<T>(
        &mut self,
        call: impl FnOnce(&mut MemoryBackend) -> Result<T, BackendError>,
    ) -> Result<T, BackendError> {
        if let Some(f) = self.faults.roll(false) {
            return Err(self.faults.error(f));
        }
        call(&mut self.table.lock().unwrap())
    }
}

impl Backend for FaultBackend {
    fn dump(&mut self) -> Result<Observed, BackendError> {
        self.call(|t| t.dump())
    }
    fn apply(&mut self, op: &Op) -> Result<(), BackendError> {
        match self.faults.roll(true) {
            None => self.table.lock().unwrap().apply(op),
            Some(Fault::LostReply) => {
                let _ = self.table.lock().unwrap().apply(op);
                Err(self.faults.error(Fault::LostReply))
            }
            Some(f) => Err(self.faults.error(f)),
        }
    }
    fn info(&mut self) -> Result<Info, BackendError> {
        self.call(|t| t.info())
    }
    fn timeouts(&mut self) -> Result<Timeouts, BackendError> {
        self.call(|t| t.timeouts())
    }
    fn set_timeouts(&mut self, to: Timeouts) -> Result<(), BackendError> {
        self.call(|t| t.set_timeouts(to))
    }
    fn sync_daemons(&mut self) -> Result<Vec<SyncDaemon>, BackendError> {
        self.call(|t| t.sync_daemons())
    }
    fn start_sync_daemon(&mut self, d: &SyncDaemon) -> Result<(), BackendError> {
        self.call(|t| t.start_sync_daemon(d))
    }
    fn stop_sync_daemon(&mut self, role: SyncRole) -> Result<(), BackendError> {
        self.call(|t| t.stop_sync_daemon(role))
    }
}

/// Opens a `FaultBackend`; opening fails at the fault rate too.
fn connector(table: Arc<Mutex<MemoryBackend>>, faults: Arc<Faults>) -> Connect {
    Box::new(move || {
        let rate = u64::from(faults.rate.load(Ordering::SeqCst));
        if faults.rng.lock().unwrap().below(1000) < rate {
            *faults
                .injected
                .lock()
                .unwrap()
                .entry(Fault::Connect)
                .or_default() += 1;
            return Err(faults.error(Fault::Connect));
        }
        Ok(Box::new(FaultBackend {
            table: table.clone(),
            faults: faults.clone(),
        }) as Box<dyn Backend>)
    })
}

// === the scenario ===

/// A service nobody configured: it must come out exactly as it went in.
fn foreign(table: &mut MemoryBackend) -> ServiceKey {
    let key = ServiceKey::Addr {
        protocol: Protocol::Tcp,
        addr: "203.0.113.99".parse().unwrap(),
        port: 80,
    };
    let service = Service {
        key,
        scheduler: Scheduler::Wlc,
        flags: 0,
        timeout: 0,
        netmask: u32::MAX,
        pe_name: None,
    };
    let dest = Destination {
        key: DestKey {
            addr: "192.0.2.50".parse().unwrap(),
            port: 80,
        },
        forwarding: Forwarding::Dr,
        weight: 3,
        upper_threshold: 0,
        lower_threshold: 0,
    };
    table.apply(&Op::AddService(service)).unwrap();
    table.apply(&Op::AddDest(key, dest)).unwrap();
    table.applied.clear();
    key
}

/// One real server the test switches, with its configured weight.
struct Real {
    vs: &'static str,
    weight: u32,
    up: Arc<AtomicBool>,
    server: probe_support::Server,
}

impl Real {
    fn addr(&self) -> SocketAddr {
        self.server.addr
    }
}

/// web: rr, drained on failure, a sorry server; api: remove on failure; db: drain.
///
/// The servers answer at once (200 or 503), so the timeout only decides when a probe the
/// loaded machine delayed counts as a failure. With 100 ms (and a 100 ms interval), a
/// debug build in a full test run failed two probes in a row after the faults had
/// stopped, and the server rightly went down, which is not what this test is about: 250 ms.
fn write_config(path: &Path, admin: u16, sorry: u16, reals: &[Real]) {
    let check = "checks: [{type: http, interval: 250ms, timeout: 250ms, rise: 2, fall: 2}]";
    let control = path.with_file_name("ipvsd.sock");
    let mut y = format!(
        "global: {{node_name: t, admin_listen: \"127.0.0.1:{admin}\", reconcile_interval: 200ms, \
         control_socket: \"{}\"}}\n\
         virtual_servers:\n\
         \x20 - name: web\n    address: 203.0.113.10:80\n    scheduler: rr\n    forwarding: nat\n\
         \x20   {check}\n    sorry_server: {{address: \"127.0.0.1:{sorry}\", forwarding: dr}}\n    real_servers:\n",
        control.display()
    );
    let mut section = |name: &str, head: &str| {
        if name != "web" {
            y.push_str(head);
        }
        for r in reals.iter().filter(|r| r.vs == name) {
            y.push_str(&format!(
                "      - {{address: \"{}\", weight: {}}}\n",
                r.addr(),
                r.weight
            ));
        }
    };
    section("web", "");
    section(
        "api",
        &format!(
            "  - name: api\n    address: 203.0.113.11:443\n    scheduler: wrr\n    forwarding: nat\n    on_failure: remove\n    {check}\n    real_servers:\n"
        ),
    );
    section(
        "db",
        &format!(
            "  - name: db\n    address: 203.0.113.12:5432\n    forwarding: nat\n    {check}\n    real_servers:\n"
        ),
    );
    std::fs::write(path, y).unwrap();
}

fn service_of(vs: &str) -> &'static str {
    match vs {
        "web" => "tcp 203.0.113.10:80",
        "api" => "tcp 203.0.113.11:443",
        _ => "tcp 203.0.113.12:5432",
    }
}

/// What config + health say: service -> destination -> weight.
type Weights = BTreeMap<String, BTreeMap<String, u32>>;

/// `reals` are those the config has now.
fn expected(reals: &[Real], sorry: u16) -> Weights {
    let mut want = Weights::new();
    for vs in ["web", "api", "db"] {
        let dests = want.entry(service_of(vs).to_string()).or_default();
        for r in reals.iter().filter(|r| r.vs == vs) {
            let up = r.up.load(Ordering::SeqCst);
            match (up, vs) {
                (true, _) => {
                    dests.insert(r.addr().to_string(), r.weight);
                }
                // on_failure: remove
                (false, "api") => {}
                (false, _) => {
                    dests.insert(r.addr().to_string(), 0);
                }
            }
        }
        let alive = reals
            .iter()
            .any(|r| r.vs == vs && r.up.load(Ordering::SeqCst));
        if vs == "web" && !alive {
            dests.insert(format!("127.0.0.1:{sorry}"), 1);
        }
    }
    want
}

/// The owned part of the table as weights.
fn weights(table: &Observed, foreign: ServiceKey) -> Weights {
    table
        .iter()
        .filter(|(k, _)| **k != foreign)
        .map(|(k, s)| {
            let dests = s
                .dests
                .values()
                .map(|d| (d.dest.key.to_string(), d.dest.weight))
                .collect();
            (k.to_string(), dests)
        })
        .collect()
}

#[test]
fn the_daemon_survives_random_backend_faults_and_converges_when_they_stop() {
    if let Ok(filter) = std::env::var("IPVSD_TEST_LOG") {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .try_init();
    }
    let seed = seed();
    let fault_secs: u64 = std::env::var("IPVSD_FAULT_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(8);
    println!("seed {seed} (IPVSD_FAULT_SEED), faulty phase {fault_secs} s");
    let mut rng = Rng(seed ^ 0x5eed);

    let rt = tokio::runtime::Runtime::new().unwrap();
    let layout = [
        ("web", 2),
        ("web", 3),
        ("api", 1),
        ("api", 4),
        ("db", 5),
        ("db", 7),
    ];
    let reals: Vec<Real> = layout
        .iter()
        .map(|(vs, weight)| {
            let up = Arc::new(AtomicBool::new(true));
            let state = up.clone();
            let server = rt.block_on(probe_support::switchable(move || {
                state.load(Ordering::SeqCst)
            }));
            Real {
                vs,
                weight: *weight,
                up,
                server,
            }
        })
        .collect();
    let admin = free_port();
    let sorry = free_port();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ipvsd.yaml");
    write_config(&path, admin, sorry, &reals);

    let table = Arc::new(Mutex::new(MemoryBackend::new()));
    let foreign_key = foreign(&mut table.lock().unwrap());
    let foreign_before = table.lock().unwrap().table[&foreign_key].clone();
    let faults = Arc::new(Faults {
        rate: AtomicU32::new(400),
        rng: Mutex::new(Rng(seed)),
        injected: Mutex::new(BTreeMap::new()),
        calls: Mutex::new(0),
    });
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let connect = connector(table.clone(), faults.clone());
    let daemon_path = path.clone();
    let daemon = std::thread::spawn(move || {
        ipvsd::daemon::run_with_connector(&daemon_path, connect, async {
            let _ = stop_rx.await;
        })
    });

    // Faults at 40 % of calls and connects while servers go down and up, and once every
    // web server is down at the same time (the sorry server goes in). The phase lasts
    // until every kind of fault has been met at least 3 times (at most 4x as long).
    let start = Instant::now();
    let mut answered = 0;
    let mut flips = 0;
    // The real servers in the config: the last goes at the reload.
    let mut live = reals.len();
    while start.elapsed() < Duration::from_secs(fault_secs) || !faults.each_at_least(3) {
        assert!(
            start.elapsed() < Duration::from_secs(4 * fault_secs),
            "some kind of fault was never injected: {:?}",
            faults.injected.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(150 + rng.below(350)));
        let r = &reals[rng.below(live as u64) as usize];
        r.up.fetch_xor(true, Ordering::SeqCst);
        flips += 1;
        if flips == 6 {
            for r in reals.iter().filter(|r| r.vs == "web") {
                r.up.store(false, Ordering::SeqCst);
            }
        }
        if flips == 12 {
            live -= 1;
            write_config(&path, admin, sorry, &reals[..live]);
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_ipvsd"))
                .args(["reload", "--config"])
                .arg(&path)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "reload under faults: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        assert!(!daemon.is_finished(), "the daemon stopped under faults");
        // The admin API answers throughout (the status document and /metrics read the
        // faulty backend too).
        if start.elapsed() > Duration::from_secs(1) {
            assert_eq!(
                get(admin, "/healthz"),
                Some((200, "ok\n".into())),
                "/healthz under faults"
            );
            let path = ["/api/v1/status", "/metrics"][flips % 2];
            assert_eq!(
                get(admin, path).map(|r| r.0),
                Some(200),
                "{path} under faults"
            );
            answered += 1;
        }
    }

    // The faults stop, and every server takes its final state at the same moment.
    let finals = [false, false, true, false, true, false];
    for (r, up) in reals.iter().zip(finals) {
        r.up.store(up, Ordering::SeqCst);
    }
    faults.rate.store(0, Ordering::SeqCst);
    let stopped = Instant::now();
    let injected = faults.injected.lock().unwrap().clone();
    assert!(
        live < reals.len(),
        "the faulty phase ended before the reload"
    );
    let want = expected(&reals[..live], sorry);

    // Bound: the servers' health settles in fall x interval (0.5 s; a 503 fails at once), a failed
    // pass is retried after reconcile_interval (0.2 s), a hanging call ends within 0.25 s.
    // 2 s = 10 reconcile intervals.
    let bound = Duration::from_secs(2);
    let converged = loop {
        let got = weights(&table.lock().unwrap().table, foreign_key);
        if got == want {
            break stopped.elapsed();
        }
        assert!(
            stopped.elapsed() < bound,
            "not converged {bound:?} after the faults stopped:\n got  {got:?}\n want {want:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    // And it stays there.
    for _ in 0..10 {
        std::thread::sleep(Duration::from_millis(100));
        let got = weights(&table.lock().unwrap().table, foreign_key);
        if got != want {
            // What the daemon thinks, with each server's last check result and failure.
            let status = get(admin, "/api/v1/status")
                .map(|r| r.1)
                .unwrap_or_default();
            panic!("the table left the converged state:\n got  {got:?}\n want {want:?}\n{status}");
        }
    }

    // Nothing outside the owned services was touched.
    {
        let t = table.lock().unwrap();
        assert_eq!(t.table[&foreign_key], foreign_before);
        assert!(
            t.applied.iter().all(|op| op.service_key() != foreign_key),
            "an op touched the foreign service"
        );
        assert_eq!(t.table.len(), 4);
    }

    // Still alive, still answering.
    assert!(!daemon.is_finished());
    assert_eq!(get(admin, "/healthz"), Some((200, "ok\n".into())));
    let doc = status(admin).expect("/api/v1/status answers 200 with JSON");
    assert_eq!(doc["ready"], true);
    for r in &reals[..live] {
        let vs = doc["virtual_servers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == r.vs)
            .unwrap();
        let rs = vs["real_servers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["address"] == r.addr().to_string())
            .unwrap();
        let up = r.up.load(Ordering::SeqCst);
        assert_eq!(rs["health"], if up { "up" } else { "down" }, "{rs}");
    }
    // The failures were counted: every failed pass once, and no more passes failed than
    // faults were injected (a pass can meet several).
    let m = scrape(admin);
    let errors = value(&m, "ipvsd_netlink_errors");
    let failed = value(&m, "ipvsd_reconcile_runs{result=\"failed\"}");
    let total = faults.total();
    assert!(errors >= 1.0, "no netlink error counted");
    assert_eq!(errors, failed);
    assert!(
        errors <= total as f64,
        "{errors} errors from {total} faults"
    );
    assert!(value(&m, "ipvsd_reconcile_runs{result=\"converged\"}") >= 1.0);
    println!(
        "faults: {total} injected in {} backend calls over {} ms ({injected:?}); {flips} server flips; \
         the admin API answered {answered} times under faults; netlink errors counted {errors}; \
         converged {} ms after the faults stopped (bound {} ms)",
        faults.calls.lock().unwrap(),
        (stopped - start).as_millis(),
        converged.as_millis(),
        bound.as_millis()
    );

    // And it stops cleanly.
    stop_tx.send(()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !daemon.is_finished() {
        assert!(Instant::now() < deadline, "the daemon did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
    daemon.join().unwrap().unwrap();
    assert_eq!(table.lock().unwrap().table[&foreign_key], foreign_before);
}
