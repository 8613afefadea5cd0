//! Semantic validation: each bad config gets exactly the problems it has, each at the
//! right line:column and document path.

mod common;

use common::problems;

/// Asserts the exact list of problems (`LINE:COL: path: message`).
fn check(yaml: &str, want: &[&str]) {
    let got = problems(yaml);
    assert_eq!(got, want, "for config:\n{yaml}");
}

const VS: &str = "virtual_servers:\n";

#[test]
fn three_independent_mistakes_are_all_reported_in_document_order() {
    check(
        "global:\n  reconcile_interval: 5\nvirtual_servers:\n  - address: 192.0.2.7:80\n    scheduler: roundrobin\n    real_servers:\n      - address: 198.51.100.2:80\n        weight: -1\n",
        &[
            "2:23: global.reconcile_interval: durations need a unit: write `5s` or `5ms`",
            "5:16: virtual_servers[0].scheduler: `roundrobin` is not one of: rr, wrr, lc, wlc, lblc, lblcr, dh, sh, sed, nq, fo, ovf, mh, twos",
            "8:17: virtual_servers[0].real_servers[0].weight: must be between 0 and 65535 (got -1)",
        ],
    );
}

#[test]
fn duplicate_services_and_names_are_rejected() {
    check(
        &format!(
            "{VS}  - {{name: a, address: 192.0.2.7:80}}\n  - {{name: a, address: 192.0.2.7:80}}\n  - {{name: b, address: 192.0.2.7:80, protocol: udp}}\n  - {{name: b, address: 192.0.2.8:80}}\n"
        ),
        &[
            "3:24: virtual_servers[1].address: service tcp 192.0.2.7:80 is already defined by virtual_servers[0]",
            "5:12: virtual_servers[3].name: name `b` is already used by virtual_servers[2]",
        ],
    );
    check(
        &format!("{VS}  - {{fwmark: 3}}\n  - {{fwmark: 3, family: ipv6}}\n  - {{fwmark: 3}}\n"),
        &[
            "4:14: virtual_servers[2].fwmark: service fwmark 3 is already defined by virtual_servers[0]",
        ],
    );
}

#[test]
fn fwmark_services_have_no_protocol_or_address() {
    check(
        &format!(
            "{VS}  - {{fwmark: 3, protocol: tcp}}\n  - {{fwmark: 0}}\n  - {{fwmark: 4, address: 192.0.2.1:80}}\n"
        ),
        &[
            "2:27: virtual_servers[0].protocol: a fwmark service has no protocol: the firewall rule that sets the mark decides",
            "3:14: virtual_servers[1].fwmark: must be between 1 and 4294967295 (got 0)",
            "4:14: virtual_servers[2].fwmark: a service has either `address` or `fwmark`, not both",
        ],
    );
}

#[test]
fn real_servers_must_match_the_service_family_unless_tunnelled() {
    let yaml = format!(
        "{VS}  - address: '[2001:db8::1]:80'\n    forwarding: dr\n    real_servers:\n      - address: 198.51.100.2\n      - address: 198.51.100.3\n        forwarding: tunnel\n      - address: '[2001:db8::2]:80'\n"
    );
    check(
        &yaml,
        &[
            "5:18: virtual_servers[0].real_servers[0].address: 198.51.100.2 is ipv4 but the service is ipv6; mixed families need forwarding: tunnel",
        ],
    );
}

#[test]
fn port_mapping_needs_nat_and_port_zero_needs_persistence() {
    check(
        &format!(
            "{VS}  - address: 192.0.2.7:80\n    forwarding: dr\n    real_servers:\n      - address: 198.51.100.2:8080\n  - address: 192.0.2.7:0\n"
        ),
        &[
            "5:18: virtual_servers[0].real_servers[0].address: port 8080 differs from the service port 80; port mapping needs forwarding: nat",
            "6:14: virtual_servers[1].address: a port-0 service (all ports) must be persistent: add `persistence`",
        ],
    );
}

#[test]
fn the_sorry_server_must_not_be_a_real_server_and_quorum_must_be_reachable() {
    check(
        &format!(
            "{VS}  - address: 192.0.2.7:80\n    forwarding: nat\n    quorum: 5\n    sorry_server: {{address: 198.51.100.2:80}}\n    real_servers:\n      - {{address: 198.51.100.2:80, weight: 2}}\n      - {{address: 198.51.100.3:80, weight: 2}}\n"
        ),
        &[
            "4:13: virtual_servers[0].quorum: quorum 5 can never be met: the real servers' weights add up to 4",
            "5:19: virtual_servers[0].sorry_server: the sorry server is also real_servers[0]; it must be a different server",
        ],
    );
}

#[test]
fn thresholds_and_weights_have_ranges() {
    check(
        &format!(
            "{VS}  - address: 192.0.2.7:80\n    real_servers:\n      - {{address: 198.51.100.2:80, weight: 65536, upper_threshold: 10, lower_threshold: 20}}\n"
        ),
        &[
            "4:44: virtual_servers[0].real_servers[0].weight: must be between 0 and 65535 (got 65536)",
            "4:89: virtual_servers[0].real_servers[0].lower_threshold: must not exceed upper_threshold (20 > 10)",
        ],
    );
}

#[test]
fn scheduler_flags_must_belong_to_the_scheduler() {
    check(
        &format!("{VS}  - {{address: 192.0.2.7:80, scheduler: rr, scheduler_flags: [sh-port]}}\n"),
        &[
            "2:62: virtual_servers[0].scheduler_flags[0]: `sh-port` is not a flag of the rr scheduler (its flags: flag-1, flag-2, flag-3)",
        ],
    );
}

#[test]
fn tunnel_options_follow_ipvsadm_rules() {
    check(
        &format!(
            "{VS}  - address: 192.0.2.7:80\n    forwarding: tunnel\n    tunnel: {{type: gue}}\n  - address: 192.0.2.8:80\n    forwarding: nat\n    tunnel: {{type: ipip}}\n  - address: 192.0.2.9:80\n    forwarding: tunnel\n    tunnel: {{type: gre, checksum: remcsum}}\n"
        ),
        &[
            "4:13: virtual_servers[0].tunnel: a gue tunnel needs `port` (the real server's GUE port)",
            "7:13: virtual_servers[1].tunnel: `tunnel` settings need `forwarding: tunnel` (forwarding is nat)",
            "10:35: virtual_servers[2].tunnel.checksum: remcsum is only for gue tunnels",
        ],
    );
}

#[test]
fn check_timing_and_targets_are_validated() {
    check(
        &format!(
            "{VS}  - fwmark: 3\n    checks:\n      - {{type: tcp, interval: 1s, timeout: 2s}}\n      - {{type: http, rise: 0}}\n    real_servers:\n      - address: 198.51.100.2\n"
        ),
        &[
            "4:44: virtual_servers[0].checks[0].timeout: must not exceed interval (2s > 1s): a probe runs at most once per interval",
            "5:28: virtual_servers[0].checks[1].rise: must be between 1 and 1000 (got 0)",
        ],
    );
    check(
        &format!(
            "{VS}  - fwmark: 3\n    checks: [{{type: tcp}}]\n    real_servers:\n      - address: 198.51.100.2\n"
        ),
        &[
            "5:18: virtual_servers[0].real_servers[0].checks[0]: this tcp check needs `connect_port`: the real server has no port",
        ],
    );
}

#[test]
fn https_checks_need_a_trust_anchor_and_readable_files() {
    check(
        &format!(
            "{VS}  - address: 192.0.2.7:443\n    checks:\n      - {{type: https}}\n      - {{type: https, ca_file: /etc/missing.pem, client_cert: /etc/c.pem}}\n      - {{type: http, ca_file: /etc/ca.pem, expect_status: [99, '200-199'], expect_body: '(' }}\n"
        ),
        &[
            "4:9: virtual_servers[0].checks[0]: an https check verifies the server certificate: set `ca_file`, or `system_roots: true`",
            "5:32: virtual_servers[0].checks[1].ca_file: cannot read /etc/missing.pem: No such file or directory (os error 2)",
            "5:63: virtual_servers[0].checks[1].client_cert: needs `client_key` too",
            "6:22: virtual_servers[0].checks[2].ca_file: `ca_file` belongs to https checks, not http checks",
            "6:60: virtual_servers[0].checks[2].expect_status[0]: must be between 100 and 599 (got 99)",
            "6:64: virtual_servers[0].checks[2].expect_status[1]: `200-199` is not a status code or range such as 200-299",
            "6:89: virtual_servers[0].checks[2].expect_body: not a valid regular expression: unclosed group",
        ],
    );
}

#[test]
fn exec_checks_need_an_absolute_existing_program() {
    check(
        &format!(
            "{VS}  - address: 192.0.2.7:80\n    checks:\n      - {{type: exec, program: probe.sh}}\n      - {{type: exec, program: /opt/missing/probe}}\n      - {{type: exec}}\n"
        ),
        &[
            "4:31: virtual_servers[0].checks[0].program: must be an absolute path (checks run without a shell or PATH)",
            "5:31: virtual_servers[0].checks[1].program: cannot run /opt/missing/probe: No such file or directory (os error 2)",
            "6:9: virtual_servers[0].checks[2]: an exec check needs `program`",
        ],
    );
}

#[test]
fn vrrp_ranges_follow_the_rfcs() {
    check(
        "vrrp_instances:\n  - {name: a, interface: eth0, vrid: 0, virtual_addresses: [192.0.2.1]}\n  - {name: b, interface: eth0, vrid: 2, priority: 255, virtual_addresses: [192.0.2.2]}\n  - {name: c, interface: eth0, vrid: 3, advert_interval: 15ms, virtual_addresses: [192.0.2.3]}\n  - {name: d, interface: eth0, vrid: 4, version: 2, advert_interval: 1500ms, auth_password: toolongpassword, virtual_addresses: [192.0.2.4]}\n  - {name: e, interface: eth0, vrid: 5, auth_password: x, virtual_addresses: [192.0.2.5]}\n",
        &[
            "2:38: vrrp_instances[0].vrid: must be between 1 and 255 (got 0)",
            "3:51: vrrp_instances[1].priority: priority 255 is reserved for the address owner (set `address_owner: true` if the virtual addresses are this director's own); use 1-254",
            "4:58: vrrp_instances[2].advert_interval: VRRPv3 counts the interval in centiseconds: use a multiple of 10ms",
            "5:70: vrrp_instances[3].advert_interval: VRRPv2 counts the interval in whole seconds",
            "5:93: vrrp_instances[3].auth_password: VRRPv2 simple passwords are at most 8 bytes",
            "6:56: vrrp_instances[4].auth_password: VRRPv3 has no authentication (RFC 5798 section 9); set `version: 2`",
        ],
    );
}

#[test]
fn vrrp_scripts_are_named_once_runnable_and_tracked_by_name() {
    check(
        "vrrp_scripts:\n  - {name: up, program: /bin/true}\n  - {name: up, program: /bin/true, interval: 1s, timeout: 2s}\n  - {program: probe, rise: 0}\nvrrp_instances:\n  - name: a\n    interface: eth0\n    vrid: 1\n    virtual_addresses: [192.0.2.1/24]\n    track: {scripts: [up, {name: down, weight: -300}, nope]}\n",
        &[
            "3:5: vrrp_scripts[1].name: name `up` is already used by vrrp_scripts[0]",
            "3:59: vrrp_scripts[1].timeout: must not exceed interval (2s > 1s): a script runs at most once per interval",
            "4:5: vrrp_scripts[2]: missing `name`",
            "4:15: vrrp_scripts[2].program: must be an absolute path (scripts run without a shell or PATH)",
            "4:28: vrrp_scripts[2].rise: must be between 1 and 1000 (got 0)",
            "10:48: vrrp_instances[0].track.scripts[1].weight: must be between -253 and 253 (got -300)",
            "10:55: vrrp_instances[0].track.scripts: no vrrp_script is named `nope` (known: up)",
        ],
    );
    let cfg = common::load(
        "vrrp_scripts: [{name: up, program: /bin/true}]\nvrrp_instances: [{name: a, interface: eth0, vrid: 1, virtual_addresses: [192.0.2.1], track: {scripts: [up]}}]\n",
    );
    let s = &cfg.vrrp_scripts[0];
    assert_eq!(
        (s.interval, s.timeout, s.rise, s.fall, s.init_fail),
        (
            std::time::Duration::from_secs(1),
            std::time::Duration::from_secs(1),
            1,
            1,
            false
        )
    );
    assert_eq!(cfg.vrrp_instances[0].track_scripts[0].weight, 0);
}

#[test]
fn vrrp_cross_checks() {
    check(
        "virtual_servers:\n  - {name: web, address: 192.0.2.7:80}\nvrrp_instances:\n  - name: a\n    interface: eth0\n    vrid: 1\n    virtual_addresses: [192.0.2.1/24, '2001:db8::1/64']\n    unicast_peers: ['2001:db8::3']\n    track: {virtual_servers: [webb]}\n",
        &[
            "7:39: vrrp_instances[0].virtual_addresses[1]: 2001:db8::1 is ipv6 but virtual_addresses[0] is ipv4; an instance is IPv4 or IPv6 (use two instances)",
            "9:31: vrrp_instances[0].track.virtual_servers: no virtual server is named `webb` (known: web)",
        ],
    );
    check(
        "vrrp_instances:\n  - {name: a, interface: eth0, vrid: 1, virtual_addresses: [192.0.2.1], unicast_source: 192.0.2.2, unicast_peers: [192.0.2.3, '2001:db8::3']}\n",
        &[
            "2:127: vrrp_instances[0].unicast_peers[1]: 2001:db8::3 is ipv6 but the virtual addresses are ipv4",
        ],
    );
}

#[test]
fn vrrp_instances_must_not_collide() {
    let one = "{name: a, interface: eth0, vrid: 1, virtual_addresses: [192.0.2.1], ipvs_sync: {interface: eth1}}";
    let v6 = "{name: b, interface: eth0, vrid: 1, virtual_addresses: ['2001:db8::1']}";
    check(
        &format!("vrrp_instances:\n  - {one}\n  - {v6}\n  - {one}\n"),
        &[
            "4:5: vrrp_instances[2].ipvs_sync: only one instance may drive the IPVS sync daemon; vrrp_instances[0] already does",
            "4:5: vrrp_instances[2].name: name `a` is already used by vrrp_instances[0]",
            "4:5: vrrp_instances[2].vrid: vrid 1 on eth0 (ipv4) is already used by vrrp_instances[0]",
        ],
    );
}

#[test]
fn the_admin_api_stays_on_loopback_unless_allowed() {
    check(
        "global: {admin_listen: '0.0.0.0:9180'}\n",
        &[
            "1:24: global.admin_listen: 0.0.0.0 is not a loopback address; the admin API shows every service, real server and its health, so set `admin_allow_remote: true` to expose it",
        ],
    );
    assert!(
        problems("global: {admin_listen: '0.0.0.0:9180', admin_allow_remote: true}\n").is_empty()
    );
}

#[test]
fn the_control_socket_is_an_absolute_socket_path_or_none() {
    let long = format!("/run/{}", "x".repeat(103));
    check(
        "global: {control_socket: run/ipvsd.sock}\n",
        &[
            "1:26: global.control_socket: must be the absolute path of a socket file, or `none`, not `run/ipvsd.sock`",
        ],
    );
    check(
        "global: {control_socket: /run/ipvsd/}\n",
        &[
            "1:26: global.control_socket: must be the absolute path of a socket file, or `none`, not `/run/ipvsd/`",
        ],
    );
    check(
        &format!("global: {{control_socket: {long}}}\n"),
        &["1:26: global.control_socket: is 108 bytes long; a Unix socket path has at most 107"],
    );
    let cfg = common::load;
    assert_eq!(
        cfg("global: {control_socket: none}\n")
            .global
            .control_socket,
        None
    );
    assert_eq!(
        cfg("{}\n").global.control_socket.as_deref(),
        Some(std::path::Path::new("/run/ipvsd/ipvsd.sock"))
    );
    assert_eq!(
        cfg(&format!("global: {{control_socket: {}}}\n", &long[..107]))
            .global
            .control_socket,
        Some(std::path::PathBuf::from(&long[..107]))
    );
}

#[test]
fn yaml_1_1_booleans_are_not_booleans() {
    check(
        "global: {remove_rules_on_exit: yes}\n",
        &["1:32: global.remove_rules_on_exit: expected true or false, found a string"],
    );
}

#[test]
fn syntax_errors_are_reported_with_their_location() {
    let got = problems("global:\n  node_name: [a\n");
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(
        got[0].starts_with("3:1: invalid YAML") || got[0].starts_with("2:"),
        "{got:?}"
    );
}

#[test]
fn an_empty_file_is_a_valid_config_that_owns_nothing() {
    assert!(problems("").is_empty());
}

#[test]
fn a_bad_value_does_not_turn_the_keys_after_it_into_unknown_keys() {
    check(
        &format!(
            "{VS}  - address: 192.0.2.7:80\n    forwarding: natt\n    tunnel: {{type: ipip}}\n    checks:\n      - {{type: http, method: get, path: /x}}\n      - {{type: exec, program: relative, args: [a]}}\n"
        ),
        &[
            "3:17: virtual_servers[0].forwarding: `natt` is not one of: nat, dr, tunnel",
            "6:30: virtual_servers[0].checks[0].method: `get` is not an HTTP method such as GET or HEAD",
            "7:31: virtual_servers[0].checks[1].program: must be an absolute path (checks run without a shell or PATH)",
        ],
    );
}

#[test]
fn a_bad_service_key_does_not_hide_the_rest_of_the_service() {
    check(
        &format!(
            "{VS}  - address: 192.0.2.7\n    schedular: rr\n    persistence: {{timeout: 1500ms, netmask: 24}}\n    real_servers:\n      - {{address: 198.51.100.2:80, weight: 99999}}\n"
        ),
        &[
            "2:14: virtual_servers[0].address: a service address needs a port (`:0` with persistence for all ports)",
            "3:5: virtual_servers[0].schedular: unknown key `schedular` (did you mean `scheduler`?)",
            "4:28: virtual_servers[0].persistence.timeout: the kernel counts persistence in whole seconds",
            "6:44: virtual_servers[0].real_servers[0].weight: must be between 0 and 65535 (got 99999)",
        ],
    );
}

#[test]
fn a_single_status_code_may_be_quoted() {
    assert!(
        problems(&format!(
            "{VS}  - address: 192.0.2.7:80\n    checks: [{{type: http, expect_status: \"204\"}}]\n"
        ))
        .is_empty()
    );
}

#[test]
fn hashing_schedulers_remove_failed_servers_by_default() {
    use ipvsd::config::OnFailure;
    let on_failure = |sched: &str, extra: &str| {
        let y = format!("{VS}  - {{address: 192.0.2.7:80, scheduler: {sched}{extra}}}\n");
        common::load(&y).virtual_servers[0].on_failure
    };
    // A weight-0 server still owns its hash bucket in sh (without sh-fallback), mh (without
    // mh-fallback) and dh: its clients would be refused, so it is removed instead.
    assert_eq!(on_failure("sh", ""), OnFailure::Remove);
    assert_eq!(on_failure("mh", ""), OnFailure::Remove);
    assert_eq!(on_failure("dh", ""), OnFailure::Remove);
    assert_eq!(
        on_failure("sh", ", scheduler_flags: [sh-port]"),
        OnFailure::Remove
    );
    assert_eq!(
        on_failure("sh", ", scheduler_flags: [sh-fallback]"),
        OnFailure::Drain
    );
    assert_eq!(
        on_failure("mh", ", scheduler_flags: [mh-fallback]"),
        OnFailure::Drain
    );
    assert_eq!(on_failure("rr", ""), OnFailure::Drain);
    assert_eq!(on_failure("wlc", ""), OnFailure::Drain);
    // Said explicitly, it stands.
    assert_eq!(on_failure("sh", ", on_failure: drain"), OnFailure::Drain);
}
