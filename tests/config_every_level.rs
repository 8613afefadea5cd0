//! An unknown key is rejected at every nesting level of the schema, and reported at its
//! own path and location, without hiding or inventing any other problem.

mod common;

use common::FakeEnv;
use ipvsd::config::node::{self, Key, Loc, Node, Path, Value};
use ipvsd::config::schema;

/// A config that uses every mapping the schema has.
const FULL: &str = r#"
global:
  node_name: director-a
  admin_listen: 127.0.0.1:9180
  log_format: json
  log_level: info
  reconcile_interval: 5s
  remove_rules_on_exit: false
  removal_grace: 45s
  exec_user: nobody
virtual_servers:
  - name: web
    address: 192.0.2.7:80
    protocol: tcp
    scheduler: sh
    scheduler_flags: [sh-port]
    forwarding: nat
    persistence: {timeout: 60s, netmask: 255.255.255.0, engine: sip}
    on_failure: remove
    quorum: 2
    hysteresis: 1
    slow_start: 30s
    initial_state: down
    sorry_server: {address: 127.0.0.1:80, forwarding: dr, weight: 1}
    checks:
      - {type: tcp, interval: 1s, timeout: 500ms, rise: 1, fall: 2}
      - type: http
        method: HEAD
        path: /health
        host: www.example.com
        headers: {X-Check: ipvsd}
        expect_status: [200, "300-399"]
        expect_body: "ok"
        max_body_bytes: 1024
      - type: https
        ca_file: /etc/ipvsd/ca.pem
        client_cert: /etc/ipvsd/c.pem
        client_key: /etc/ipvsd/c.key
        server_name: www.example.com
      - {type: dns, query_name: example.com, query_type: AAAA, dns_protocol: tcp, expect_answer: "2001:db8::53"}
      - {type: exec, program: /usr/local/bin/probe, args: ["--fast"], user: nobody}
    real_servers:
      - address: 198.51.100.27:8080
        weight: 2
        upper_threshold: 100
        lower_threshold: 50
        initial_state: up
      - address: 198.51.100.37:80
        forwarding: tunnel
        tunnel: {type: gue, port: 6080, checksum: remcsum}
        checks:
          - {type: tcp, connect_address: 198.51.100.38, connect_port: 81, source_address: 198.51.100.2}
vrrp_instances:
  - name: VI_1
    interface: eth0
    vrid: 51
    version: 3
    priority: 150
    advert_interval: 100ms
    preempt: true
    preempt_delay: 10s
    unicast_source: 192.0.2.2
    unicast_peers: [192.0.2.3]
    virtual_addresses:
      - 192.0.2.7/24
      - {address: 198.51.100.7/24, device: eth1}
    track:
      interfaces: [eth1, {name: eth2, weight: -20}]
      virtual_servers: [{name: web, weight: -50}]
    sync_group: G1
    notify: {program: /usr/local/bin/notify, args: [x], user: nobody}
    garp: {repeat: 2, delay: 100ms, refresh: 60s}
    ipvs_sync: {interface: eth1, sync_id: 51}
"#;

/// Paths of every mapping node in the tree.
fn mapping_paths(node: &Node, path: &Path, out: &mut Vec<(Path, Vec<String>)>) {
    match &node.value {
        Value::Map(entries) => {
            out.push((path.clone(), Vec::new()));
            for (k, v) in entries {
                // `headers` maps arbitrary header names: any key is allowed there.
                if k.name == "headers" {
                    continue;
                }
                mapping_paths(v, &path.key(&k.name), out);
            }
        }
        Value::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                mapping_paths(item, &path.index(i), out);
            }
        }
        _ => {}
    }
}

/// Inserts `bogus_key: 1` into the mapping at `target`.
fn inject(node: &mut Node, path: &Path, target: &Path) -> bool {
    if path == target {
        if let Value::Map(entries) = &mut node.value {
            let loc = Loc {
                line: 999,
                column: 7,
            };
            entries.push((
                Key {
                    name: "bogus_key".into(),
                    loc,
                },
                Node {
                    value: Value::Int(1),
                    loc,
                },
            ));
            return true;
        }
        return false;
    }
    match &mut node.value {
        Value::Map(entries) => entries
            .iter_mut()
            .any(|(k, v)| inject(v, &path.key(&k.name), target)),
        Value::Seq(items) => items
            .iter_mut()
            .enumerate()
            .any(|(i, v)| inject(v, &path.index(i), target)),
        _ => false,
    }
}

#[test]
fn the_full_config_is_valid() {
    let root = node::parse(FULL).unwrap();
    let cfg = schema::decode(&root, &FakeEnv)
        .map_err(|d| d.into_sorted())
        .unwrap();
    assert_eq!(cfg.summary().checks, 5 + 1);
}

#[test]
fn an_unknown_key_is_rejected_at_every_level() {
    let root = node::parse(FULL).unwrap();
    let mut maps = Vec::new();
    mapping_paths(&root, &Path::root(), &mut maps);
    // global, vs, persistence, sorry, 5 checks, 2 rs, tunnel, rs check, vrrp, vip map,
    // track, 2 track items, notify, garp, ipvs_sync, root
    assert!(maps.len() >= 22, "only {} mappings found", maps.len());
    for (target, _) in &maps {
        let mut tree = root.clone();
        assert!(
            inject(&mut tree, &Path::root(), target),
            "cannot inject at {target}"
        );
        let diags = match schema::decode(&tree, &FakeEnv) {
            Ok(_) => panic!("bogus_key accepted at `{target}`"),
            Err(d) => d.into_sorted(),
        };
        let want = target.key("bogus_key").to_string();
        assert_eq!(diags.len(), 1, "at `{target}`: {diags:?}");
        assert_eq!(diags[0].path, want);
        assert_eq!(
            diags[0].loc,
            Loc {
                line: 999,
                column: 7
            }
        );
        assert_eq!(diags[0].message, "unknown key `bogus_key`");
    }
}
