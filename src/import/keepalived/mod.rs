//! `ipvsd import keepalived`: keepalived.conf -> ipvsd YAML.
//!
//! Pure apart from the `Files` handed in (the main file and its includes). Three steps:
//! `parse` reads the text into a tree of statements with file and line; `lvs` converts
//! virtual servers (and groups, real servers, checkers), `vrrp` the VRRP instances and sync
//! groups, this module `global_defs` and the document. docs/config.md ("From keepalived")
//! is the mapping, key by key. Whatever has no ipvsd equivalent, and every keyword this
//! importer does not know, is listed as an `Omission` with its file and line: nothing is
//! dropped silently.

mod lvs;
pub mod parse;
mod vrrp;

use std::collections::HashSet;
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use parse::{Loc, Stmt};

use super::yaml::{self, Item, Map, Value};
use super::{Conversion, Files, ImportError, Omission};

/// Converts `main` (and what it includes) into an ipvsd config.
pub fn convert(main: &Path, files: &dyn Files) -> Result<Conversion, ImportError> {
    let parsed = parse::parse(main, files)?;
    Ok(convert_parsed(&parsed, &main.display().to_string()))
}

/// Converts keepalived.conf text that includes nothing (an `include` is listed as not
/// converted). `name` is used in messages.
pub fn convert_str(name: &str, text: &str) -> Result<Conversion, ImportError> {
    let parsed = parse::parse_str(name, text)?;
    Ok(convert_parsed(&parsed, name))
}

/// Collects what was not converted, each with its place in reading order.
pub(crate) struct Ctx<'a> {
    files: &'a [String],
    omissions: Vec<(usize, Omission)>,
}

impl Ctx<'_> {
    pub(crate) fn omit(&mut self, loc: Loc, keyword: &str, why: impl Into<String>) {
        self.omissions.push((
            loc.seq,
            Omission {
                file: self.files[loc.file].clone(),
                line: loc.line,
                keyword: keyword.to_string(),
                why: why.into(),
            },
        ));
    }

    pub(crate) fn omit_stmt(&mut self, s: &Stmt, why: impl Into<String>) {
        self.omit(s.loc, s.keyword(), why);
    }

    /// A keyword with no ipvsd equivalent (its block, if any, goes with it).
    pub(crate) fn no_equivalent(&mut self, s: &Stmt, instead: &str) {
        let block = if s.block.is_some() {
            " (with its block)"
        } else {
            ""
        };
        let why = if instead.is_empty() {
            format!("no ipvsd equivalent; not converted{block}")
        } else {
            format!("no ipvsd equivalent; not converted{block}: {instead}")
        };
        self.omit_stmt(s, why);
    }

    /// A keyword this importer does not know in `place`.
    pub(crate) fn unknown(&mut self, s: &Stmt, place: &str) {
        let block = if s.block.is_some() {
            " (with its block)"
        } else {
            ""
        };
        let why = match s.keyword().chars().next() {
            Some('@') => format!(
                "conditional configuration is not supported; not converted{block}: keep the lines for this director without the `@` prefix"
            ),
            Some('$') => format!(
                "parameter definitions and substitution are not supported; not converted{block}: write the values out"
            ),
            Some('~') => format!(
                "sequence and list blocks are not supported; not converted{block}: write the lines out"
            ),
            _ => format!("unknown keyword in {place}; not converted{block}"),
        };
        self.omit_stmt(s, why);
    }

    /// The `i`th word, or a listed problem.
    pub(crate) fn arg<'s>(&mut self, s: &'s Stmt, i: usize) -> Option<&'s str> {
        let a = s.arg(i);
        if a.is_none() {
            self.omit_stmt(s, "missing value; not converted");
        }
        a
    }

    /// A whole number in `min..=max` at word `i`.
    pub(crate) fn uint(&mut self, s: &Stmt, i: usize, min: u64, max: u64) -> Option<u64> {
        let a = self.arg(s, i)?;
        match a.parse::<u64>() {
            Ok(v) if (min..=max).contains(&v) => Some(v),
            _ => {
                self.omit_stmt(
                    s,
                    format!("`{a}` is not a whole number from {min} to {max}; not converted"),
                );
                None
            }
        }
    }

    /// keepalived's TIMER: seconds with an optional fraction (`3`, `0.5`, `2.71828`).
    pub(crate) fn timer(&mut self, s: &Stmt, i: usize) -> Option<Duration> {
        let a = self.arg(s, i)?;
        match parse_seconds(a) {
            Some(d) => Some(d),
            None => {
                self.omit_stmt(
                    s,
                    format!("`{a}` is not a time in seconds such as 3 or 0.5; not converted"),
                );
                None
            }
        }
    }

    /// keepalived's optional BOOL after a keyword: absent is true.
    pub(crate) fn flag(&mut self, s: &Stmt, i: usize) -> Option<bool> {
        match s.arg(i) {
            None => Some(true),
            Some("on" | "true" | "yes") => Some(true),
            Some("off" | "false" | "no") => Some(false),
            Some(other) => {
                self.omit_stmt(
                    s,
                    format!("`{other}` is not one of on, off, true, false, yes, no; not converted"),
                );
                None
            }
        }
    }

    /// An IP address at word `i` (bare, or IPv6 in brackets).
    pub(crate) fn ip(&mut self, s: &Stmt, i: usize) -> Option<IpAddr> {
        let a = self.arg(s, i)?;
        match parse_ip(a) {
            Some(ip) => Some(ip),
            None => {
                self.omit_stmt(s, format!("`{a}` is not an IP address; not converted"));
                None
            }
        }
    }

    /// A name (no whitespace) at word `i`.
    pub(crate) fn name(&mut self, s: &Stmt, i: usize) -> Option<String> {
        let a = self.arg(s, i)?;
        if a.is_empty() || a.chars().any(char::is_whitespace) {
            self.omit_stmt(
                s,
                format!("`{a}` is not a name without spaces; not converted"),
            );
            return None;
        }
        Some(a.to_string())
    }
}

pub(crate) fn parse_ip(s: &str) -> Option<IpAddr> {
    let s = s
        .strip_prefix('[')
        .and_then(|x| x.strip_suffix(']'))
        .unwrap_or(s);
    s.parse().ok()
}

/// `3`, `0.5`, `2.71828` seconds -> a duration rounded to whole milliseconds (ipvsd's
/// resolution).
pub(crate) fn parse_seconds(s: &str) -> Option<Duration> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secs: u64 = if int.is_empty() { 0 } else { int.parse().ok()? };
    // Microseconds from up to six fraction digits (keepalived's resolution), then round.
    let mut micros: u64 = 0;
    for d in frac.bytes().chain(std::iter::repeat(b'0')).take(6) {
        micros = micros * 10 + u64::from(d - b'0');
    }
    let ms = secs.checked_mul(1000)? + (micros + 500) / 1000;
    Some(Duration::from_millis(ms))
}

/// What `global_defs` (and nothing else) says that the rest needs.
#[derive(Clone, Debug, Default)]
pub(crate) struct Globals {
    pub vrrp_version: Option<u8>,
    pub garp_repeat: Option<u32>,
    pub garp_refresh: Option<Duration>,
    pub garp_interval: Option<Duration>,
    pub gna_interval: Option<Duration>,
    pub min_garp: bool,
    /// `lvs_sync_daemon IFACE [inst] INSTANCE [id N]`: (interface, instance, id, where).
    pub lvs_sync: Option<(String, String, Option<u8>, Loc)>,
    pub default_interface: Option<String>,
}

fn convert_parsed(p: &parse::Parsed, main: &str) -> Conversion {
    let mut ctx = Ctx {
        files: &p.files,
        omissions: Vec::new(),
    };
    for (loc, keyword, why) in &p.include_problems {
        ctx.omit(*loc, keyword, why.clone());
    }
    let mut global = Map::new();
    let mut globals = Globals::default();
    for s in p.stmts.iter().filter(|s| s.keyword() == "global_defs") {
        global_defs(&mut ctx, s, &mut global, &mut globals);
    }
    let ssl = lvs::ssl(&mut ctx, &p.stmts);
    let groups = lvs::groups(&mut ctx, &p.stmts);
    let mut services = Vec::new();
    for s in &p.stmts {
        match s.keyword() {
            "virtual_server" => {
                if let Some(vs) = lvs::parse_vs(&mut ctx, s) {
                    services.push(vs);
                }
            }
            "global_defs"
            | "SSL"
            | "virtual_server_group"
            | "vrrp_instance"
            | "vrrp_sync_group"
            | "vrrp_script" => {}
            "static_ipaddress"
            | "static_routes"
            | "static_rules"
            | "track_group"
            | "linkbeat_interfaces"
            | "vrrp_track_process"
            | "track_file"
            | "bfd_instance"
            | "garp_group"
            | "interface_up_down_delays"
            | "net_namespace"
            | "net_namespace_ipvs"
            | "namespace_with_ipsets"
            | "instance"
            | "use_pid_dir"
            | "child_wait_time"
            | "linkbeat_use_polling" => ctx.no_equivalent(s, ""),
            _ => ctx.unknown(s, "the top level"),
        }
    }
    let virtual_servers = lvs::emit_all(&mut ctx, &services, &groups, &ssl);
    let (scripts, script_weights) = vrrp::scripts(&mut ctx, &p.stmts);
    let instances = vrrp::convert(&mut ctx, &p.stmts, &globals, &script_weights);

    let mut root = Map::new();
    if !global.is_empty() {
        root.push("global", Value::Map(global));
    }
    if !virtual_servers.is_empty() {
        root.push("virtual_servers", Value::Seq(virtual_servers));
    }
    if !scripts.is_empty() {
        root.push("vrrp_scripts", Value::Seq(scripts));
    }
    if !instances.is_empty() {
        root.push("vrrp_instances", Value::Seq(instances));
    }

    let mut omissions = ctx.omissions;
    omissions.sort_by_key(|(seq, _)| *seq);
    let mut seen = HashSet::new();
    let omissions: Vec<Omission> = omissions
        .into_iter()
        .map(|(_, o)| o)
        .filter(|o| seen.insert(o.clone()))
        .collect();

    let mut header = vec![
        format!(
            "Converted from {main} by `ipvsd import keepalived` (ipvsd {}).",
            env!("CARGO_PKG_VERSION")
        ),
        "docs/config.md, \"From keepalived\", lists how each keyword maps. Check the result on"
            .to_string(),
        "the director with `ipvsd check-config FILE` (it also checks that files and programs exist)."
            .to_string(),
        String::new(),
    ];
    if omissions.is_empty() {
        header.push("Everything was converted.".to_string());
    } else {
        header.push(format!("Not converted ({}):", omissions.len()));
        header.extend(omissions.iter().map(|o| format!("  {o}")));
    }
    let text = yaml::document(&header, &root);
    Conversion {
        yaml: text,
        omissions,
        notes: Vec::new(),
    }
}

fn global_defs(ctx: &mut Ctx<'_>, s: &Stmt, global: &mut Map, g: &mut Globals) {
    for c in s.children() {
        match c.keyword() {
            "router_id" => {
                if let Some(n) = ctx.name(c, 1) {
                    global.entries.retain(|e| e.key != "node_name");
                    global.push("node_name", Value::str(n));
                }
            }
            "script_user" => {
                if let Some(u) = ctx.name(c, 1) {
                    global.entries.retain(|e| e.key != "exec_user");
                    global.push("exec_user", Value::str(u));
                    if c.words.len() > 2 {
                        ctx.omit_stmt(
                            c,
                            "the group is not converted: ipvsd runs checks and notify programs with the user's primary group",
                        );
                    }
                }
            }
            "vrrp_version" => {
                if let Some(v) = ctx.uint(c, 1, 2, 3) {
                    g.vrrp_version = Some(v as u8);
                }
            }
            "vrrp_garp_master_repeat" => {
                if let Some(v) = ctx.uint(c, 1, 1, 100) {
                    g.garp_repeat = Some(v as u32);
                }
            }
            "vrrp_garp_master_refresh" => {
                if let Some(v) = ctx.uint(c, 1, 0, 86400) {
                    g.garp_refresh = Some(Duration::from_secs(v));
                }
            }
            "vrrp_garp_interval" => {
                if let Some(d) = vrrp::garp_delay(ctx, c) {
                    g.garp_interval = Some(d);
                }
            }
            "vrrp_gna_interval" => {
                if let Some(d) = vrrp::garp_delay(ctx, c) {
                    g.gna_interval = Some(d);
                }
            }
            "vrrp_min_garp" => {
                if let Some(b) = ctx.flag(c, 1) {
                    g.min_garp = b;
                }
            }
            "vrrp_garp_master_delay" | "vrrp_garp_lower_prio_delay"
            | "vrrp_garp_lower_prio_repeat" | "vrrp_garp_master_refresh_repeat" => ctx
                .no_equivalent(
                    c,
                    "ipvsd sends one burst of `garp.repeat` messages `garp.delay` apart on becoming master, and again every `garp.refresh`",
                ),
            "lvs_sync_daemon" => lvs_sync_daemon(ctx, c, g),
            "default_interface" => {
                if let Some(n) = ctx.name(c, 1) {
                    g.default_interface = Some(n);
                }
            }
            "lvs_flush" => ctx.no_equivalent(
                c,
                "ipvsd never flushes the IPVS table; it touches only the services in its config",
            ),
            "lvs_flush_on_stop" | "lvs_flush_onstop" => ctx.no_equivalent(
                c,
                "set `global.remove_rules_on_exit: true` to remove ipvsd's own services when it stops",
            ),
            "notification_email" | "notification_email_from" | "smtp_server"
            | "smtp_helo_name" | "smtp_connect_timeout" | "smtp_alert" | "smtp_alert_vrrp"
            | "smtp_alert_checker" | "no_email_faults" => ctx.no_equivalent(
                c,
                "ipvsd sends no email; alert on its Prometheus metrics (packaging/prometheus)",
            ),
            "enable_snmp_vrrp" | "enable_snmp_checker" | "enable_snmp_rfc"
            | "enable_snmp_rfcv2" | "enable_snmp_rfcv3" | "enable_snmp_keepalived"
            | "enable_traps" | "snmp_socket" | "enable_dbus" => ctx.no_equivalent(
                c,
                "ipvsd has no SNMP or D-Bus; use /metrics and the admin API",
            ),
            "enable_script_security" => ctx.no_equivalent(
                c,
                "ipvsd runs programs as `global.exec_user` (default nobody), never as root unless a check or notify says `user: root`",
            ),
            k if KEEPALIVED_GLOBALS.contains(&k) => ctx.no_equivalent(c, ""),
            _ => ctx.unknown(c, "global_defs"),
        }
    }
}

/// The rest of keepalived's `global_defs` keywords (keepalived/core/global_parser.c): known,
/// without an ipvsd equivalent.
const KEEPALIVED_GLOBALS: &[&str] = &[
    "linkbeat_use_polling",
    "net_namespace",
    "net_namespace_ipvs",
    "namespace_with_ipsets",
    "use_pid_dir",
    "instance",
    "child_wait_time",
    "process_names",
    "process_name",
    "vrrp_process_name",
    "checker_process_name",
    "lvs_process_name",
    "bfd_process_name",
    "use_symlink_paths",
    "set_supplementary_groups",
    "startup_script",
    "startup_script_timeout",
    "shutdown_script",
    "shutdown_script_timeout",
    "max_auto_priority",
    "min_auto_priority_delay",
    "checker_log_all_failures",
    "dynamic_interfaces",
    "disable_local_igmp",
    "v3_checksum_as_v2",
    "lvs_timeouts",
    "vrrp_mcast_group4",
    "vrrp_mcast_group6",
    "vrrp_down_timer_adverts",
    "vrrp_garp_extra_if",
    "vrrp_vmac_garp_intvl",
    "vrrp_lower_prio_no_advert",
    "vrrp_higher_prio_send_advert",
    "vrrp_iptables",
    "vrrp_ipsets",
    "nftables",
    "nftables_priority",
    "nftables_ifindex",
    "vrrp_check_unicast_src",
    "vrrp_skip_check_adv_addr",
    "vrrp_strict",
    "vrrp_priority",
    "vrrp_no_swap",
    "vrrp_rt_priority",
    "vrrp_cpu_affinity",
    "vrrp_rlimit_rttime",
    "vrrp_rlimit_rtime",
    "nftables_ipvs",
    "nftables_ipvs_priority",
    "nftables_ipvs_start_fwmark",
    "nftables_counters",
    "notify_fifo",
    "notify_fifo_script",
    "vrrp_notify_fifo",
    "vrrp_notify_fifo_script",
    "vrrp_notify_priority_changes",
    "fifo_write_vrrp_states_on_reload",
    "lvs_notify_fifo",
    "lvs_notify_fifo_script",
    "checker_priority",
    "checker_no_swap",
    "checker_rt_priority",
    "checker_cpu_affinity",
    "checker_rlimit_rttime",
    "checker_rlimit_rtime",
    "bfd_priority",
    "bfd_no_swap",
    "bfd_rt_priority",
    "bfd_cpu_affinity",
    "bfd_rlimit_rttime",
    "bfd_rlimit_rtime",
    "snmp_vs_stats_update_interval",
    "snmp_rs_stats_update_interval",
    "dbus_service_name",
    "dbus_no_interface_name",
    "vrrp_netlink_cmd_rcv_bufs",
    "vrrp_netlink_cmd_rcv_bufs_force",
    "vrrp_netlink_monitor_rcv_bufs",
    "vrrp_netlink_monitor_rcv_bufs_force",
    "process_monitor_rcv_bufs",
    "process_monitor_rcv_bufs_force",
    "lvs_netlink_cmd_rcv_bufs",
    "lvs_netlink_cmd_rcv_bufs_force",
    "lvs_netlink_monitor_rcv_bufs",
    "lvs_netlink_monitor_rcv_bufs_force",
    "rs_init_notifies",
    "no_checker_emails",
    "vrrp_rx_bufs_policy",
    "vrrp_rx_bufs_multiplier",
    "vrrp_startup_delay",
    "vrrp_delay_after_boot",
    "log_unknown_vrids",
    "vrrp_owner_ignore_adverts",
    "vmac_prefix",
    "vmac_addr_prefix",
    "umask",
    "random_seed",
    "reload_check_config",
    "reload_time_file",
    "reload_repeat",
    "reload_file",
    "include_check",
    "config_save_dir",
    "tmp_config_directory",
    "data_use_instance",
    "json_version",
    "iproute_usr_dir",
    "iproute_etc_dir",
    "state_dump_file",
    "stats_dump_file",
    "json_dump_file",
];

/// `lvs_sync_daemon IFACE [inst] INSTANCE [id N] [maxlen N] [port N] [ttl N] [group IP]`.
fn lvs_sync_daemon(ctx: &mut Ctx<'_>, s: &Stmt, g: &mut Globals) {
    let Some(iface) = ctx.name(s, 1) else {
        return;
    };
    let mut i = 2;
    let mut instance = None;
    let mut id = None;
    let mut unsupported = Vec::new();
    while let Some(w) = s.arg(i) {
        match w {
            "inst" => {
                instance = s.arg(i + 1).map(str::to_string);
                i += 2;
            }
            "id" => {
                match s.arg(i + 1).and_then(|v| v.parse::<u8>().ok()) {
                    Some(v) => id = Some(v),
                    None => {
                        ctx.omit_stmt(s, "the sync id must be 0-255; not converted");
                        return;
                    }
                }
                i += 2;
            }
            "maxlen" | "port" | "ttl" | "group" => {
                unsupported.push(w.to_string());
                i += 2;
            }
            other if instance.is_none() => {
                instance = Some(other.to_string());
                i += 1;
            }
            other => {
                ctx.omit_stmt(s, format!("unknown option `{other}`; not converted"));
                return;
            }
        }
    }
    if !unsupported.is_empty() {
        ctx.omit_stmt(
            s,
            format!(
                "{} not converted: ipvsd starts the sync daemon with the kernel's defaults",
                unsupported.join(", ")
            ),
        );
    }
    match instance {
        Some(inst) => g.lvs_sync = Some((iface, inst, id, s.loc)),
        None => ctx.omit_stmt(
            s,
            "without a VRRP instance keepalived runs both sync daemons all the time; ipvsd drives them from one instance's state: add `ipvs_sync` to that instance",
        ),
    }
}

/// A comment naming where a converted item came from.
pub(crate) fn origin(ctx: &Ctx<'_>, loc: Loc, what: &str) -> String {
    format!("{what} ({}:{})", ctx.files[loc.file], loc.line)
}

pub(crate) fn item(value: Value, comment: String) -> Item {
    Item::with_comments(value, vec![comment])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timers_are_seconds_with_fractions() {
        assert_eq!(parse_seconds("3"), Some(Duration::from_secs(3)));
        assert_eq!(parse_seconds("0.5"), Some(Duration::from_millis(500)));
        assert_eq!(parse_seconds("2.71828"), Some(Duration::from_millis(2718)));
        assert_eq!(parse_seconds(".25"), Some(Duration::from_millis(250)));
        assert_eq!(parse_seconds("0.0005"), Some(Duration::from_millis(1)));
        for bad in ["", ".", "-1", "1s", "1e3", "a"] {
            assert_eq!(parse_seconds(bad), None, "{bad:?}");
        }
    }
}
