use std::path::Path;
use std::time::Duration;

use super::*;
use crate::check::servers::CheckId;
use crate::check::{Failure, Outcome, Reason};
use crate::config::schema::Env;
use crate::ipvs::backend::{DestState, ServiceState, Stats};
use crate::vrrp::fsm::State;

struct NoFiles;
impl Env for NoFiles {
    fn hostname(&self) -> String {
        "lb1".into()
    }
    fn check_readable(&self, _: &Path) -> Result<(), String> {
        Ok(())
    }
    fn check_executable(&self, _: &Path) -> Result<(), String> {
        Ok(())
    }
}

fn cfg() -> Config {
    let y = "virtual_servers:\n  - name: web\n    address: 192.0.2.7:80\n    checks: [{type: http, rise: 1, fall: 1}]\n    sorry_server: {address: 127.0.0.1:8080}\n    real_servers:\n      - address: 198.51.100.27:80\n        weight: 2\n      - address: 198.51.100.37:80\n        weight: 3\nvrrp_instances:\n  - name: VI_1\n    interface: eth0\n    vrid: 51\n    priority: 150\n    virtual_addresses: [192.0.2.7]\n";
    crate::config::load_str(y, Path::new("t"), &NoFiles).unwrap()
}

fn key(c: &Config, i: usize) -> (ServiceKey, DestKey) {
    let vs = &c.virtual_servers[0];
    (vs.key, dest_key(&vs.real_servers[i]))
}

#[test]
fn the_document_joins_health_drain_desired_and_kernel_state() {
    let c = cfg();
    let mut servers = Servers::from_config(&c, None);
    let t0 = Instant::now();
    let (svc, rs1) = key(&c, 1);
    let failed = Outcome {
        result: Err(Failure::new(Reason::HttpStatus, "status 503")),
        latency: Duration::from_millis(4),
    };
    let id = CheckId {
        service: svc,
        dest: rs1,
        index: 0,
    };
    servers.record(&id, failed, t0);
    let drains: BTreeSet<_> = [key(&c, 0)].into();
    let mut desired = crate::controller::configured_table(&c);
    desired
        .services
        .get_mut(&svc)
        .unwrap()
        .dests
        .values_mut()
        .for_each(|d| d.weight = 0);
    let vrrp_cfg = &c.vrrp_instances[0];
    let wall = UNIX_EPOCH + Duration::from_secs(1_000_000);
    let view = DaemonView {
        cfg: &c,
        servers: &servers,
        drains: &drains,
        desired: Some(&desired),
        quorum_up: [(svc, false)].into(),
        vrrp: vec![(
            vrrp_cfg,
            InstanceStatus {
                state: State::Master,
                priority: 140,
                since: wall,
            },
        )],
        ready: true,
    };
    // The kernel holds the first server only, at weight 0, with 7 active connections.
    let entry = &desired.services[&svc];
    let (k0, d0) = entry.dests.iter().next().unwrap();
    let observed: Observed = [(
        svc,
        ServiceState {
            service: entry.service.clone(),
            stats: Stats::default(),
            dests: [(
                *k0,
                DestState {
                    dest: d0.clone(),
                    active_conns: 7,
                    inactive_conns: 1,
                    persistent_conns: 0,
                    stats: Stats::default(),
                },
            )]
            .into(),
        },
    )]
    .into();
    let clock = Clock {
        mono: t0 + Duration::from_secs(10),
        wall,
    };
    let s = build(&view, &Ok(observed), &clock);
    assert_eq!(s.node, "lb1");
    assert_eq!(s.kernel_error, None);
    let vs = &s.virtual_servers[0];
    assert_eq!(vs.service, "TCP 192.0.2.7:80");
    assert!(!vs.quorum_up);
    // Drained server 0 and failed server 1: nothing alive.
    assert_eq!(vs.alive_weight, 0);
    assert_eq!(vs.in_kernel, Some(true));
    assert_eq!(
        vs.sorry_server,
        Some(SorryStatus {
            address: "127.0.0.1:8080".into(),
            active: false
        })
    );
    let r0 = &vs.real_servers[0];
    assert_eq!((r0.health.as_str(), r0.drained), ("up", true));
    assert_eq!(
        (r0.kernel_weight, r0.active_connections, r0.desired_weight),
        (Some(0), Some(7), Some(0))
    );
    assert_eq!(r0.checks[0].last, None);
    let r1 = &vs.real_servers[1];
    assert_eq!((r1.health.as_str(), r1.drained), ("down", false));
    assert_eq!(r1.kernel_weight, None);
    let when = 1_000_000.0 - 10.0;
    assert_eq!(r1.health_since, Some(when));
    assert_eq!(
        r1.last_failure,
        Some(ProbeFailure {
            check: "http#0".into(),
            reason: "http_status".into(),
            detail: "status 503".into(),
            at: when,
        })
    );
    let last = r1.checks[0].last.as_ref().unwrap();
    assert_eq!(last.result, "failure");
    assert_eq!(last.reason.as_deref(), Some("http_status"));
    assert!((last.latency_seconds - 0.004).abs() < 1e-9);
    let v = &s.vrrp_instances[0];
    assert_eq!(
        (v.state.as_str(), v.priority, v.base_priority, v.vrid),
        ("master", 140, 150, 51)
    );

    // Round trip through JSON (what `ipvsd status` reads), then the table.
    let json = serde_json::to_string(&s).unwrap();
    let back: Status = serde_json::from_str(&json).unwrap();
    assert_eq!(back, s);
    let table = render(&back);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(
        lines[0],
        "ipvsd 0.1.0 on lb1: ready"
            .replace("0.1.0", env!("CARGO_PKG_VERSION"))
            .as_str()
    );
    assert!(
        lines[3].starts_with("TCP  192.0.2.7:80 wlc  [web] quorum LOST (alive weight 0/1)"),
        "{table}"
    );
    assert_eq!(
        lines[4],
        "  -> 198.51.100.27:80             Route   0      7          1          up     yes"
    );
    assert_eq!(
        lines[5],
        "  -> 198.51.100.37:80             Route   -      -          -          down   -     http#0 http_status: status 503 (10s ago)"
    );
    assert_eq!(
        lines[7],
        "VI_1                 eth0       51   MASTER     140/150 192.0.2.7"
    );

    // Without the kernel: the reason is shown, the kernel columns are empty.
    let s = build(
        &view,
        &Err("the ipvs task is busy; try again".into()),
        &clock,
    );
    assert_eq!(s.virtual_servers[0].in_kernel, None);
    assert_eq!(s.virtual_servers[0].real_servers[0].kernel_weight, None);
    assert!(render(&s).contains("kernel table not read: the ipvs task is busy"));
}

#[test]
fn drain_requests_name_servers_as_the_operator_sees_them() {
    let c = cfg();
    let want = key(&c, 1);
    assert_eq!(find_real_server(&c, "web", "198.51.100.37:80"), Ok(want));
    assert_eq!(
        find_real_server(&c, "TCP 192.0.2.7:80", "198.51.100.37:80"),
        Ok(want)
    );
    assert_eq!(
        find_real_server(&c, "web", "198.51.100.99:80"),
        Err("virtual server `web` has no real server `198.51.100.99:80` (it has: 198.51.100.27:80, 198.51.100.37:80)".into())
    );
    assert_eq!(
        find_real_server(&c, "api", "198.51.100.37:80"),
        Err("no virtual server `api` (there are: web)".into())
    );
}

#[test]
fn a_reload_keeps_the_drains_of_servers_it_keeps() {
    let c = cfg();
    let drains: BTreeSet<_> = [key(&c, 0), key(&c, 1)].into();
    let y = "virtual_servers:\n  - name: web\n    address: 192.0.2.7:80\n    real_servers:\n      - address: 198.51.100.27:80\n";
    let smaller = crate::config::load_str(y, Path::new("t"), &NoFiles).unwrap();
    assert_eq!(drains_kept(&drains, &smaller), [key(&c, 0)].into());
}

#[test]
fn drains_survive_a_round_trip_through_the_state_file() {
    let c = cfg();
    let drains: BTreeSet<_> = [key(&c, 1)].into();
    let text = drains_text(&drains);
    assert_eq!(
        text,
        "# ipvsd: real servers drained by the operator (ipvsd drain)\nTCP 192.0.2.7:80\t198.51.100.37:80\n"
    );
    assert_eq!(drains_from_text(&text, &c), (drains, vec![]));
    // Nothing drained: only the comment, and nothing read back.
    let none = drains_text(&BTreeSet::new());
    assert_eq!(drains_from_text(&none, &c), (BTreeSet::new(), vec![]));
}

#[test]
fn a_state_file_entry_the_config_lacks_is_dropped_and_said() {
    let c = cfg();
    let text = "# comment\n\nTCP 192.0.2.7:80\t198.51.100.27:80\nTCP 192.0.2.7:80\t198.51.100.99:80\nnonsense\n";
    let (drains, dropped) = drains_from_text(text, &c);
    assert_eq!(drains, [key(&c, 0)].into());
    assert_eq!(
        dropped,
        [
            "line 4: virtual server `web` has no real server `198.51.100.99:80` (it has: 198.51.100.27:80, 198.51.100.37:80)",
            "line 5: `nonsense` is not SERVICE<TAB>REAL_SERVER",
        ]
    );
}
