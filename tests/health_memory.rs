//! The health loop end to end on the host, with the in-memory IPVS backend: real TCP
//! checks against local listeners drive the table the way they drive the kernel's.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use ipvsd::check::runner::{self, CheckResult};
use ipvsd::config::schema::Env;
use ipvsd::daemon::director::Director;
use ipvsd::ipvs::backend::{Backend, MemoryBackend};
use ipvsd::ipvs::model::ServiceKey;
use ipvsd::ipvs::task::{Command, converge};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

struct NoFiles;
impl Env for NoFiles {
    fn hostname(&self) -> String {
        "t".into()
    }
    fn check_readable(&self, _: &Path) -> Result<(), String> {
        Ok(())
    }
    fn check_executable(&self, _: &Path) -> Result<(), String> {
        Ok(())
    }
}

/// Listens on `port` (0: any) and accepts forever; dropping the task's handle closes it.
async fn listen(port: u16) -> (u16, tokio::task::JoinHandle<()>) {
    let l = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    let port = l.local_addr().unwrap().port();
    let h = tokio::spawn(async move {
        loop {
            if l.accept().await.is_err() {
                return;
            }
        }
    });
    (port, h)
}

struct Loop {
    director: Director,
    kernel: MemoryBackend,
    rx: mpsc::Receiver<CheckResult>,
    key: ServiceKey,
}

impl Loop {
    /// Runs the daemon's loop until the table's (port, weight) pairs equal `want`, or
    /// fails after 3 s.
    async fn until(&mut self, want: &[(u16, u32)]) {
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            let got: Vec<(u16, u32)> = self
                .kernel
                .dump()
                .unwrap()
                .get(&self.key)
                .map(|s| {
                    s.dests
                        .values()
                        .map(|d| (d.dest.key.port, d.dest.weight))
                        .collect()
                })
                .unwrap_or_default();
            if got == want {
                return;
            }
            assert!(Instant::now() < deadline, "table {got:?}, want {want:?}");
            let r = tokio::time::timeout(Duration::from_secs(1), self.rx.recv())
                .await
                .expect("a probe result within a second")
                .expect("checkers running");
            if let Some(Command::Desired { table, owned }) =
                self.director.on_result(r, Instant::now())
            {
                let report = converge(&mut self.kernel, &table, &owned);
                assert!(report.converged(), "{report:?}");
            }
        }
    }
}

#[tokio::test]
async fn a_dead_server_is_drained_all_dead_means_the_sorry_server_and_recovery_restores_them() {
    let (p1, h1) = listen(0).await;
    let (p2, h2) = listen(0).await;
    let yaml = format!(
        "virtual_servers:\n  - name: web\n    address: 192.0.2.7:80\n    forwarding: nat\n    sorry_server: {{address: 127.0.0.1:9, forwarding: dr}}\n    checks: [{{type: tcp, interval: 100ms, timeout: 50ms, rise: 1, fall: 2}}]\n    real_servers:\n      - address: 127.0.0.1:{p1}\n      - address: 127.0.0.1:{p2}\n"
    );
    let cfg = ipvsd::config::load_str(&yaml, Path::new("t"), &NoFiles).unwrap();
    let key = cfg.virtual_servers[0].key;
    let mut director = Director::new(cfg);
    let (tx, rx) = mpsc::channel(64);
    let _checkers = runner::spawn(
        &director.cfg,
        &director.servers,
        tx,
        &ipvsd::metrics::Metrics::new(),
    );
    let mut kernel = MemoryBackend::new();
    let Some(Command::Desired { table, owned }) = director.update(Instant::now()) else {
        panic!("no initial table");
    };
    assert_eq!(owned, BTreeSet::from([key]));
    assert!(converge(&mut kernel, &table, &owned).converged());
    let mut l = Loop {
        director,
        kernel,
        rx,
        key,
    };
    let (lo, hi) = (p1.min(p2), p1.max(p2));
    l.until(&[(lo, 1), (hi, 1)]).await;

    h2.abort();
    let _ = h2.await;
    let want: Vec<(u16, u32)> = [(p1, 1), (p2, 0)]
        .into_iter()
        .collect::<std::collections::BTreeMap<_, _>>()
        .into_iter()
        .collect();
    l.until(&want).await;

    h1.abort();
    let _ = h1.await;
    // The sorry server (port 9) sorts first: 127.0.0.1:9 < 127.0.0.1:p.
    l.until(&[(9, 1), (lo, 0), (hi, 0)]).await;

    let (_, _h1) = listen(p1).await;
    let (_, _h2) = listen(p2).await;
    l.until(&[(lo, 1), (hi, 1)]).await;
}
