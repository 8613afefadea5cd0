//! Controller scenarios on configs written as YAML, so each test reads like an operator's
//! situation.

use std::path::Path;
use std::time::{Duration, Instant};

use super::*;
use crate::config::schema::NoFiles;

fn config(extra: &str) -> Config {
    let yaml = format!(
        "virtual_servers:\n  - name: web\n    address: 192.0.2.7:80\n    forwarding: nat\n    checks: [{{type: tcp}}]\n    sorry_server: {{address: 127.0.0.1:80, forwarding: dr}}\n{extra}    real_servers:\n      - {{address: 198.51.100.27:80, weight: 1}}\n      - {{address: 198.51.100.37:80, weight: 2}}\n"
    );
    crate::config::load_str(&yaml, Path::new("t.yaml"), &NoFiles).unwrap()
}

fn key(cfg: &Config) -> ServiceKey {
    cfg.virtual_servers[0].key
}

fn rs(last: u8) -> DestKey {
    DestKey {
        addr: format!("198.51.100.{last}").parse().unwrap(),
        port: 80,
    }
}

fn sorry() -> DestKey {
    DestKey {
        addr: "127.0.0.1".parse().unwrap(),
        port: 80,
    }
}

fn input(health: Health) -> ServerInput {
    ServerInput {
        health,
        up_since: None,
        drained: false,
    }
}

fn inputs(cfg: &Config, states: &[(u8, ServerInput)]) -> Inputs {
    states
        .iter()
        .map(|(l, i)| ((key(cfg), rs(*l)), *i))
        .collect()
}

/// (destination, weight) pairs of the one service.
fn weights(d: &Desired, cfg: &Config) -> Vec<(DestKey, u32)> {
    d.table.services[&key(cfg)]
        .dests
        .values()
        .map(|d| (d.key, d.weight))
        .collect()
}

#[test]
fn healthy_servers_keep_their_configured_weights() {
    let cfg = config("");
    let d = Controller::new().desired(&cfg, &Inputs::new(), Instant::now());
    assert_eq!(weights(&d, &cfg), vec![(rs(27), 1), (rs(37), 2)]);
    assert_eq!(d.events, vec![]);
    assert!(!d.ramping);
}

#[test]
fn a_failed_server_is_drained_to_weight_zero_by_default() {
    let cfg = config("");
    let i = inputs(&cfg, &[(27, input(Health::Down))]);
    let d = Controller::new().desired(&cfg, &i, Instant::now());
    assert_eq!(weights(&d, &cfg), vec![(rs(27), 0), (rs(37), 2)]);
}

#[test]
fn a_failed_server_is_removed_with_on_failure_remove() {
    let cfg = config("    on_failure: remove\n");
    let i = inputs(&cfg, &[(37, input(Health::Down))]);
    let d = Controller::new().desired(&cfg, &i, Instant::now());
    assert_eq!(weights(&d, &cfg), vec![(rs(27), 1)]);
}

#[test]
fn when_every_server_is_down_the_sorry_server_goes_in_and_comes_out_on_recovery() {
    let cfg = config("");
    let mut c = Controller::new();
    let now = Instant::now();
    c.desired(&cfg, &Inputs::new(), now);
    let down = inputs(
        &cfg,
        &[(27, input(Health::Down)), (37, input(Health::Down))],
    );
    let d = c.desired(&cfg, &down, now);
    assert_eq!(
        weights(&d, &cfg),
        vec![(sorry(), 1), (rs(27), 0), (rs(37), 0)]
    );
    assert_eq!(
        d.table.services[&key(&cfg)].dests[&sorry()].forwarding,
        crate::ipvs::model::Forwarding::Dr
    );
    assert_eq!(
        d.events,
        vec![Event::QuorumLost {
            service: "web".into(),
            alive_weight: 0,
            quorum: 1
        }]
    );
    // Still down: no repeated event.
    assert_eq!(c.desired(&cfg, &down, now).events, vec![]);
    let back = inputs(&cfg, &[(27, input(Health::Down))]);
    let d = c.desired(&cfg, &back, now);
    assert_eq!(weights(&d, &cfg), vec![(rs(27), 0), (rs(37), 2)]);
    assert_eq!(
        d.events,
        vec![Event::QuorumRegained {
            service: "web".into(),
            alive_weight: 2,
            quorum: 1
        }]
    );
}

#[test]
fn quorum_is_regained_only_at_quorum_plus_hysteresis() {
    let cfg = config("    quorum: 2\n    hysteresis: 1\n");
    let mut c = Controller::new();
    let now = Instant::now();
    // Only RS27 (weight 1) up: below quorum 2.
    let one = inputs(&cfg, &[(37, input(Health::Down))]);
    let d = c.desired(&cfg, &one, now);
    assert!(weights(&d, &cfg).contains(&(sorry(), 1)));
    // Only RS37 (weight 2) up: quorum 2 reached, but not 2 + 1: the sorry server stays.
    let two = inputs(&cfg, &[(27, input(Health::Down))]);
    let d = c.desired(&cfg, &two, now);
    assert!(weights(&d, &cfg).contains(&(sorry(), 1)));
    assert_eq!(d.events, vec![]);
    // Both up: 3 >= 2 + 1: out it goes.
    let d = c.desired(&cfg, &Inputs::new(), now);
    assert!(!weights(&d, &cfg).contains(&(sorry(), 1)));
    assert_eq!(d.events.len(), 1);
    // Down to weight 2: quorum (2) still met, no hysteresis on the way down.
    let d = c.desired(&cfg, &two, now);
    assert!(!weights(&d, &cfg).contains(&(sorry(), 1)));
}

#[test]
fn a_drained_server_has_weight_zero_whatever_its_health_and_does_not_count_for_quorum() {
    let cfg = config("");
    let drained = ServerInput {
        drained: true,
        ..input(Health::Up)
    };
    let i = inputs(&cfg, &[(27, drained), (37, input(Health::Down))]);
    let d = Controller::new().desired(&cfg, &i, Instant::now());
    assert_eq!(
        weights(&d, &cfg),
        vec![(sorry(), 1), (rs(27), 0), (rs(37), 0)]
    );
}

#[test]
fn a_recovered_server_ramps_up_over_slow_start() {
    let cfg = config("    slow_start: 10s\n");
    let t0 = Instant::now();
    let recovered = ServerInput {
        up_since: Some(t0),
        ..input(Health::Up)
    };
    let i = inputs(&cfg, &[(37, recovered)]);
    let mut c = Controller::new();
    let at = |s: u64| t0 + Duration::from_secs(s);
    let d = c.desired(&cfg, &i, at(0));
    assert_eq!(
        weights(&d, &cfg),
        vec![(rs(27), 1), (rs(37), 1)],
        "starts at 1"
    );
    assert!(d.ramping);
    let d = c.desired(&cfg, &i, at(6));
    assert_eq!(
        weights(&d, &cfg)[1],
        (rs(37), 1),
        "2 x 6/10 rounds down to 1"
    );
    let d = c.desired(&cfg, &i, at(10));
    assert_eq!(weights(&d, &cfg)[1], (rs(37), 2));
    assert!(!d.ramping);
}

#[test]
fn servers_start_in_their_initial_state_until_checks_decide() {
    let cfg = config("    initial_state: down\n");
    let d = Controller::new().desired(&cfg, &Inputs::new(), Instant::now());
    assert_eq!(
        weights(&d, &cfg),
        vec![(sorry(), 1), (rs(27), 0), (rs(37), 0)]
    );
}

#[test]
fn the_configured_table_has_every_server_up_and_no_sorry_server() {
    let cfg = config("    initial_state: down\n");
    let t = configured_table(&cfg);
    let ws: Vec<_> = t.services[&key(&cfg)]
        .dests
        .values()
        .map(|d| d.weight)
        .collect();
    assert_eq!(ws, vec![1, 2]);
}
