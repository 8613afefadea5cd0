//! `vrrp_instance` and `vrrp_sync_group` (with `global_defs`' VRRP settings) ->
//! `vrrp_instances`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use super::lvs::exec_argv;
use super::parse::{Loc, Stmt, split_script};
use super::{Ctx, Globals, item, origin, parse_ip};
use crate::import::yaml::{Item, Map, Value};
use crate::ipvs::model::Family;

/// `vrrp_garp_interval 0.001`: seconds, within ipvsd's `garp.delay` range.
pub(super) fn garp_delay(ctx: &mut Ctx<'_>, s: &Stmt) -> Option<Duration> {
    let d = ctx.timer(s, 1)?;
    if d > Duration::from_secs(60) {
        ctx.omit_stmt(s, "ipvsd's garp.delay is at most 1m; not converted");
        return None;
    }
    Some(d)
}

/// A tracked interface or script: name, weight, reverse, where, from the sync group.
struct Track {
    name: String,
    weight: i32,
    reverse: bool,
    loc: Loc,
    keyword: &'static str,
    from_group: bool,
}

impl Track {
    fn is_script(&self) -> bool {
        self.keyword == "track_script"
    }

    /// What "up" means for it, in the listed problems.
    fn while_up(&self) -> &'static str {
        if self.is_script() {
            "while the script passes"
        } else {
            "while the interface is up"
        }
    }
}

/// A `vrrp_script`'s own weight and direction, which a `track_script` entry without a
/// weight takes.
#[derive(Clone, Copy, Debug)]
pub(super) struct ScriptWeight {
    weight: i32,
    reverse: bool,
}

/// Every `vrrp_script NAME { ... }`: the `vrrp_scripts` entries, and each script's weight
/// for the instances that track it.
pub(super) fn scripts(
    ctx: &mut Ctx<'_>,
    stmts: &[Stmt],
) -> (Vec<Item>, HashMap<String, ScriptWeight>) {
    let mut out = Vec::new();
    let mut weights = HashMap::new();
    for s in stmts.iter().filter(|s| s.keyword() == "vrrp_script") {
        let Some(name) = ctx.name(s, 1) else { continue };
        if weights.contains_key(&name) {
            ctx.omit_stmt(
                s,
                format!("there is already a vrrp_script {name}; this one is not converted"),
            );
            continue;
        }
        let mut argv: Option<(Vec<String>, Vec<String>, Stmt)> = None;
        let mut interval = None;
        let mut timeout = None;
        let mut rise = None;
        let mut fall = None;
        let mut user = None;
        let mut init_fail = false;
        let mut weight = ScriptWeight {
            weight: 0,
            reverse: false,
        };
        for c in s.children() {
            match c.keyword() {
                "script" => match split_script(&c.raw) {
                    Ok((words, rest)) if !words.is_empty() => {
                        argv = Some((words, rest, c.clone()));
                    }
                    Ok(_) => ctx.omit_stmt(c, "missing command; not converted"),
                    Err(why) => ctx.omit_stmt(c, format!("{why}; not converted")),
                },
                "interval" => interval = ctx.timer(c, 1),
                "timeout" => timeout = ctx.timer(c, 1),
                "rise" => rise = ctx.uint(c, 1, 1, 1000),
                "fall" => fall = ctx.uint(c, 1, 1, 1000),
                "user" => {
                    user = ctx.name(c, 1);
                    if c.words.len() > 2 {
                        ctx.omit_stmt(
                            c,
                            "the group is not converted: ipvsd runs scripts with the user's primary group",
                        );
                    }
                }
                "init_fail" => init_fail = true,
                "weight" => {
                    match c.arg(1).and_then(|v| v.parse::<i32>().ok()) {
                        Some(v) if (-253..=253).contains(&v) => weight.weight = v,
                        _ => ctx.omit_stmt(c, "the weight must be -253..253; not converted"),
                    }
                    match c.arg(2) {
                        Some("reverse") => weight.reverse = true,
                        None | Some("noreverse") => {}
                        Some(other) => {
                            ctx.omit_stmt(c, format!("unknown option `{other}`; not converted"))
                        }
                    }
                }
                _ => ctx.unknown(c, "vrrp_script"),
            }
        }
        let Some((words, rest, st)) = argv else {
            ctx.omit_stmt(
                s,
                "no `script`: keepalived ignores this vrrp_script; not converted",
            );
            continue;
        };
        if !rest.is_empty() {
            ctx.omit_stmt(
                &st,
                format!(
                    "`{}` after the command is ignored by keepalived; not converted (quote the whole command)",
                    rest.join(" ")
                ),
            );
        }
        let argv = exec_argv(ctx, &st, words);
        let mut m = Map::new();
        m.push("name", Value::str(&name));
        m.push("program", Value::str(&argv[0]));
        if argv.len() > 1 {
            m.push("args", Value::seq(argv[1..].iter().map(Value::str)));
        }
        if let Some(u) = user {
            m.push("user", Value::str(u));
        }
        let interval = interval.unwrap_or(Duration::from_secs(1));
        if interval != Duration::from_secs(1) {
            m.push("interval", Value::duration(interval));
        }
        // keepalived's timeout defaults to the interval, as ipvsd's; a longer one is cut
        // to the interval (a script runs at most once per interval).
        if let Some(t) = timeout.filter(|t| !t.is_zero()) {
            if t > interval {
                ctx.omit(
                    s.loc,
                    "vrrp_script",
                    format!(
                        "{name}: a timeout longer than the interval is the interval in ipvsd (a script runs at most once per interval)"
                    ),
                );
            } else if t != interval {
                m.push("timeout", Value::duration(t));
            }
        }
        if let Some(r) = rise.filter(|r| *r != 1) {
            m.push("rise", Value::int(r as i64));
        }
        if let Some(f) = fall.filter(|f| *f != 1) {
            m.push("fall", Value::int(f as i64));
        }
        if init_fail {
            m.push("init_fail", Value::Bool(true));
        }
        weights.insert(name.clone(), weight);
        out.push(item(
            Value::Map(m),
            origin(ctx, s.loc, &format!("vrrp_script {name}")),
        ));
    }
    (out, weights)
}

struct SyncGroup {
    name: String,
    tracks: Vec<Track>,
    tracking_weight: bool,
}

/// Reads `track_interface { eth0; eth1 weight -20 [reverse] }` or `track_script { chk;
/// chk2 weight -20 [reverse] }` (`keyword`); a script without a weight here has its
/// `vrrp_script`'s.
fn tracks(
    ctx: &mut Ctx<'_>,
    s: &Stmt,
    from_group: bool,
    keyword: &'static str,
    scripts: &HashMap<String, ScriptWeight>,
) -> Vec<Track> {
    let mut out = Vec::new();
    for c in s.children() {
        let name = c.keyword().to_string();
        let mut weight = None;
        let mut reverse = false;
        let mut i = 1;
        let mut ok = true;
        while let Some(w) = c.arg(i) {
            match w {
                "weight" => {
                    match c.arg(i + 1).and_then(|v| v.parse::<i32>().ok()) {
                        Some(v) if (-253..=253).contains(&v) => weight = Some(v),
                        _ => {
                            ctx.omit(
                                c.loc,
                                keyword,
                                format!("{name}: the weight must be -253..253; not converted"),
                            );
                            ok = false;
                        }
                    }
                    i += 2;
                }
                "reverse" => {
                    reverse = true;
                    i += 1;
                }
                "noreverse" => i += 1,
                other => {
                    ctx.omit(
                        c.loc,
                        keyword,
                        format!("{name}: unknown option `{other}`; not converted"),
                    );
                    ok = false;
                    i += 1;
                }
            }
        }
        let (weight, reverse) = if keyword == "track_script" {
            match (scripts.get(&name), weight) {
                (None, _) => {
                    ctx.omit(
                        c.loc,
                        keyword,
                        format!("there is no (converted) vrrp_script {name}; not converted"),
                    );
                    ok = false;
                    (0, false)
                }
                (Some(_), Some(w)) => (w, reverse),
                (Some(def), None) => (def.weight, def.reverse),
            }
        } else {
            (weight.unwrap_or(0), reverse)
        };
        if ok {
            out.push(Track {
                name,
                weight,
                reverse,
                loc: c.loc,
                keyword,
                from_group,
            });
        }
    }
    out
}

fn sync_groups(
    ctx: &mut Ctx<'_>,
    stmts: &[Stmt],
    scripts: &HashMap<String, ScriptWeight>,
) -> HashMap<String, SyncGroup> {
    let mut members: HashMap<String, SyncGroup> = HashMap::new();
    for s in stmts.iter().filter(|s| s.keyword() == "vrrp_sync_group") {
        let Some(name) = ctx.name(s, 1) else { continue };
        let mut group = SyncGroup {
            name: name.clone(),
            tracks: Vec::new(),
            tracking_weight: false,
        };
        let mut names = Vec::new();
        for c in s.children() {
            match c.keyword() {
                "group" => {
                    for m in c.children() {
                        names.extend(m.words.iter().cloned());
                    }
                }
                "track_interface" => {
                    group
                        .tracks
                        .extend(tracks(ctx, c, true, "track_interface", scripts));
                }
                "track_script" => {
                    group
                        .tracks
                        .extend(tracks(ctx, c, true, "track_script", scripts));
                }
                "sync_group_tracking_weight" => group.tracking_weight = true,
                "global_tracking" => {}
                "notify" | "notify_master" | "notify_backup" | "notify_fault" | "notify_stop"
                | "notify_deleted" => ctx.no_equivalent(
                    c,
                    "ipvsd notifies per instance: give the members a `notify` program",
                ),
                "track_file" | "track_process" | "track_bfd" => ctx.no_equivalent(
                    c,
                    "ipvsd tracks interfaces, scripts and virtual servers (track.virtual_servers)",
                ),
                "smtp_alert" => ctx.no_equivalent(c, "ipvsd sends no email"),
                "notify_priority_changes" => ctx.no_equivalent(c, ""),
                _ => ctx.unknown(c, "vrrp_sync_group"),
            }
        }
        if names.is_empty() {
            ctx.omit_stmt(
                s,
                "the group lists no instance (`group { ... }`); not converted",
            );
        }
        for n in names {
            let g = SyncGroup {
                name: group.name.clone(),
                tracks: group
                    .tracks
                    .iter()
                    .map(|t| Track {
                        name: t.name.clone(),
                        weight: t.weight,
                        reverse: t.reverse,
                        loc: t.loc,
                        keyword: t.keyword,
                        from_group: true,
                    })
                    .collect(),
                tracking_weight: group.tracking_weight,
            };
            if let Some(first) = members.insert(n.clone(), g) {
                ctx.omit_stmt(
                    s,
                    format!(
                        "{n} is already in vrrp_sync_group {}; an instance is in one group: this membership is not converted",
                        first.name
                    ),
                );
                members.insert(n, first);
            }
        }
    }
    members
}

/// Every `vrrp_instance`, in file order.
pub(super) fn convert(
    ctx: &mut Ctx<'_>,
    stmts: &[Stmt],
    g: &Globals,
    scripts: &HashMap<String, ScriptWeight>,
) -> Vec<Item> {
    let mut groups = sync_groups(ctx, stmts, scripts);
    let mut out = Vec::new();
    let mut sync_used = false;
    let mut names_seen: Vec<String> = Vec::new();
    let mut routers: Vec<(String, i64, Family)> = Vec::new();
    for s in stmts.iter().filter(|s| s.keyword() == "vrrp_instance") {
        if let Some(name) = s.arg(1) {
            if names_seen.iter().any(|n| n == name) {
                ctx.omit_stmt(
                    s,
                    format!("there is already a vrrp_instance {name}; this one is not converted"),
                );
                continue;
            }
        }
        let group = s.arg(1).and_then(|n| groups.remove(n));
        let mut used = sync_used;
        let Some((m, router)) = instance(ctx, s, g, group, scripts, &mut used) else {
            continue;
        };
        if routers.contains(&router) {
            ctx.omit_stmt(
                s,
                format!(
                    "virtual_router_id {} on {} ({}) is already used by another instance; ipvsd needs one instance per router: not converted",
                    router.1, router.0, router.2
                ),
            );
            continue;
        }
        sync_used = used;
        routers.push(router);
        if let Some(Value::Str(name)) = m.get("name") {
            names_seen.push(name.clone());
        }
        let what = format!("vrrp_instance {}", s.arg(1).unwrap_or(""));
        out.push(item(Value::Map(m), origin(ctx, s.loc, &what)));
    }
    // Sync group members that are not instances.
    let mut leftover: Vec<(String, SyncGroup)> = groups.into_iter().collect();
    leftover.sort_by(|a, b| a.0.cmp(&b.0));
    for (n, grp) in leftover {
        if let Some(s) = stmts
            .iter()
            .find(|s| s.keyword() == "vrrp_sync_group" && s.arg(1) == Some(grp.name.as_str()))
        {
            ctx.omit_stmt(
                s,
                format!("there is no vrrp_instance {n}; that member is not converted"),
            );
        }
    }
    if let Some((_, inst, _, loc)) = &g.lvs_sync {
        if !names_seen.contains(inst) {
            ctx.omit(
                *loc,
                "lvs_sync_daemon",
                format!("there is no vrrp_instance {inst}; not converted"),
            );
        }
    }
    out
}

fn instance(
    ctx: &mut Ctx<'_>,
    s: &Stmt,
    g: &Globals,
    group: Option<SyncGroup>,
    scripts: &HashMap<String, ScriptWeight>,
    sync_used: &mut bool,
) -> Option<(Map, (String, i64, Family))> {
    let name = ctx.name(s, 1)?;
    let mut interface = None;
    let mut vrid = None;
    let mut priority: Option<u32> = None;
    let mut advert: Option<(Duration, Stmt)> = None;
    let mut version: Option<(u8, Stmt)> = None;
    let mut preempt = true;
    let mut preempt_delay: Option<(Duration, Stmt)> = None;
    let mut unicast_src: Option<(IpAddr, Stmt)> = None;
    let mut peers: Vec<(IpAddr, Stmt)> = Vec::new();
    let mut vips: Vec<(IpAddr, u8, Option<String>, Stmt)> = Vec::new();
    let mut track = Vec::new();
    let mut track_primary = true;
    let mut notify: Option<Map> = None;
    let mut auth: Option<(String, Stmt)> = None;
    let mut garp_repeat = g.garp_repeat.or(g.min_garp.then_some(1));
    let mut garp_refresh = g.garp_refresh;
    let mut sync_iface: Option<(String, Stmt)> = None;
    for c in s.children() {
        match c.keyword() {
            "state" => match c.arg(1) {
                Some("BACKUP") => {}
                Some("MASTER") => ctx.omit_stmt(
                    c,
                    "ipvsd has no initial state: every instance starts as backup and the highest priority becomes master (after 3 advert intervals)",
                ),
                _ => ctx.omit_stmt(c, "not MASTER or BACKUP; not converted"),
            },
            "interface" => interface = ctx.name(c, 1),
            "virtual_router_id" => vrid = ctx.uint(c, 1, 1, 255),
            "priority" => priority = ctx.uint(c, 1, 1, 255).map(|p| p as u32),
            "advert_int" => {
                if let Some(d) = ctx.timer(c, 1) {
                    advert = Some((d, c.clone()));
                }
            }
            "version" => {
                if let Some(v) = ctx.uint(c, 1, 2, 3) {
                    version = Some((v as u8, c.clone()));
                }
            }
            "nopreempt" => preempt = false,
            "preempt" => preempt = true,
            "preempt_delay" => {
                if let Some(d) = ctx.timer(c, 1) {
                    preempt_delay = Some((d, c.clone()));
                }
            }
            "unicast_src_ip" => {
                if let Some(ip) = ctx.ip(c, 1) {
                    unicast_src = Some((ip, c.clone()));
                }
            }
            "unicast_peer" => {
                for p in c.children() {
                    let Some(ip) = parse_ip(p.keyword()) else {
                        ctx.omit(
                            p.loc,
                            "unicast_peer",
                            format!("{}: not an IP address; not converted", p.keyword()),
                        );
                        continue;
                    };
                    if p.words.len() > 1 {
                        ctx.omit(
                            p.loc,
                            "unicast_peer",
                            format!(
                                "{ip}: `{}` not converted: ipvsd checks that adverts arrive with TTL 255 (RFC 5798)",
                                p.words[1..].join(" ")
                            ),
                        );
                    }
                    peers.push((ip, p.clone()));
                }
            }
            "virtual_ipaddress" => {
                for v in c.children() {
                    if let Some(vip) = vip(ctx, v) {
                        vips.push(vip);
                    }
                }
            }
            "track_interface" => track.extend(tracks(ctx, c, false, "track_interface", scripts)),
            "track_script" => track.extend(tracks(ctx, c, false, "track_script", scripts)),
            "dont_track_primary" => track_primary = false,
            "notify" => notify = notify_program(ctx, c),
            "authentication" => {
                let mut pass = None;
                let mut ah = false;
                for a in c.children() {
                    match a.keyword() {
                        "auth_type" => match a.arg(1) {
                            Some("PASS") => {}
                            Some("AH") => {
                                ctx.omit_stmt(a, "ipvsd has no IPsec AH authentication; not converted");
                                ah = true;
                            }
                            _ => ctx.omit_stmt(a, "not PASS or AH; not converted"),
                        },
                        // keepalived uses the first eight characters only, as ipvsd.
                        "auth_pass" => {
                            pass = ctx.arg(a, 1).map(|p| {
                                let mut end = p.len().min(8);
                                while !p.is_char_boundary(end) {
                                    end -= 1;
                                }
                                p[..end].to_string()
                            })
                        }
                        _ => ctx.unknown(a, "authentication"),
                    }
                }
                if let (Some(p), false) = (pass, ah) {
                    auth = Some((p, c.clone()));
                }
            }
            "garp_master_repeat" => {
                if let Some(v) = ctx.uint(c, 1, 1, 100) {
                    garp_repeat = Some(v as u32);
                }
            }
            "garp_master_refresh" => {
                if let Some(v) = ctx.uint(c, 1, 0, 86400) {
                    garp_refresh = Some(Duration::from_secs(v));
                }
            }
            "lvs_sync_daemon_interface" => {
                if let Some(i) = ctx.name(c, 1) {
                    sync_iface = Some((i, c.clone()));
                }
            }
            "mcast_src_ip" => ctx.no_equivalent(
                c,
                "ipvsd sends multicast adverts from the interface's primary address; `unicast_source` is for unicast",
            ),
            "virtual_ipaddress_excluded" => ctx.no_equivalent(
                c,
                "ipvsd carries only advertised addresses: move them to virtual_ipaddress (same family) or to a second instance",
            ),
            "track_file" | "track_process" | "track_bfd" => ctx.no_equivalent(
                c,
                "ipvsd tracks interfaces, scripts (vrrp_scripts: a script can test a file or a process) and virtual servers",
            ),
            "notify_master" | "notify_backup" | "notify_fault" | "notify_stop"
            | "notify_deleted" | "notify_master_rx_lower_pri" => ctx.no_equivalent(
                c,
                "ipvsd runs one `notify` program on every change, with the new state as an argument",
            ),
            "auth_hmac" => ctx.no_equivalent(c, "ipvsd has VRRPv2 simple passwords only"),
            "garp_master_delay" | "garp_master_refresh_repeat" | "garp_lower_prio_delay"
            | "garp_lower_prio_repeat" | "garp_extra_if" | "vmac_garp_intvl" => ctx
                .no_equivalent(
                    c,
                    "ipvsd sends one burst of `garp.repeat` messages `garp.delay` apart on becoming master, and again every `garp.refresh`",
                ),
            "native_ipv6" => ctx.no_equivalent(c, "the virtual addresses decide the family"),
            "smtp_alert" => ctx.no_equivalent(c, "ipvsd sends no email"),
            "use_vmac" | "use_vmac_addr" | "vmac_xmit_base" | "use_ipvlan" | "accept" | "no_accept" | "strict_mode" | "skip_check_adv_addr"
            | "check_unicast_src" | "unicast_fault_no_peer" | "unicast_ttl" | "mcast_dst_ip"
            | "track_src_ip" | "virtual_routes" | "virtual_rules" | "promote_secondaries"
            | "debug" | "linkbeat_use_polling" | "down_timer_adverts"
            | "timer_expired_backup" | "lower_prio_no_advert" | "higher_prio_send_advert"
            | "kernel_rx_buf_size" | "old_unicast_checksum" | "v3_checksum_as_v2"
            | "notify_priority_changes" | "no_virtual_ipaddress" | "vrf"
            | "owner_ignore_adverts" | "thread_timer_expired" => ctx.no_equivalent(c, ""),
            _ => ctx.unknown(c, "vrrp_instance"),
        }
    }

    let interface = match interface {
        Some(i) => i,
        None => match &g.default_interface {
            Some(d) => {
                ctx.omit_stmt(
                    s,
                    format!("no `interface`: global_defs' default_interface {d} is used (ipvsd needs one)"),
                );
                d.clone()
            }
            None => {
                ctx.omit_stmt(
                    s,
                    "no `interface` (ipvsd needs one); the instance is not converted",
                );
                return None;
            }
        },
    };
    let Some(vrid) = vrid else {
        ctx.omit_stmt(s, "no `virtual_router_id`; the instance is not converted");
        return None;
    };

    // Virtual addresses: one family, no duplicates.
    let mut family = None;
    let mut addrs: Vec<Item> = Vec::new();
    let mut seen: Vec<IpAddr> = Vec::new();
    for (ip, len, dev, v) in vips {
        let f = Family::of(&ip);
        if *family.get_or_insert(f) != f {
            ctx.omit(
                v.loc,
                "virtual_ipaddress",
                format!("{}: an instance is IPv4 or IPv6 (its first address decides): put it in a second instance; not converted", v.keyword()),
            );
            continue;
        }
        if seen.contains(&ip) {
            ctx.omit(
                v.loc,
                "virtual_ipaddress",
                format!("{}: listed twice; not converted", v.keyword()),
            );
            continue;
        }
        seen.push(ip);
        let full = if f == Family::Inet { 32 } else { 128 };
        let cidr = if len == full {
            ip.to_string()
        } else {
            format!("{ip}/{len}")
        };
        match dev {
            Some(d) if d != interface => {
                let mut m = Map::new();
                m.push("address", Value::str(cidr));
                m.push("device", Value::str(d));
                addrs.push(Item::new(Value::Map(m)));
            }
            _ => addrs.push(Item::new(Value::str(cidr))),
        }
    }
    let Some(family) = family.filter(|_| !addrs.is_empty()) else {
        ctx.omit_stmt(
            s,
            "no virtual address (ipvsd needs at least one); the instance is not converted",
        );
        return None;
    };

    // Version: keepalived's default is the global vrrp_version, else 2; IPv6 is always 3.
    let v = match (family, &version) {
        (Family::Inet6, Some((2, vs))) => {
            ctx.omit_stmt(
                vs,
                "keepalived runs IPv6 instances as VRRPv3; version 3 is used",
            );
            3
        }
        (Family::Inet6, _) => 3,
        (Family::Inet, Some((v, _))) => *v,
        (Family::Inet, None) => g.vrrp_version.unwrap_or(2),
    };

    let mut m = Map::new();
    m.push("name", Value::str(&name));
    m.push("interface", Value::str(&interface));
    m.push("vrid", Value::int(vrid as i64));
    if version.is_none() && family == Family::Inet {
        let why = if g.vrrp_version.is_some() {
            "global_defs' vrrp_version"
        } else {
            "keepalived's default; ipvsd's is 3"
        };
        m.push_commented("version", Value::int(i64::from(v)), why);
    } else {
        m.push("version", Value::int(i64::from(v)));
    }

    // Priority and tracked interfaces (see `track_weights`).
    let base = priority.unwrap_or(100);
    let owner = base == 255;
    let mut all_tracks = track;
    let in_group = group.is_some();
    let tracking_weight = group.as_ref().is_some_and(|g| g.tracking_weight);
    if let Some(grp) = &group {
        all_tracks.extend(grp.tracks.iter().map(|t| Track {
            name: t.name.clone(),
            weight: t.weight,
            reverse: t.reverse,
            loc: t.loc,
            keyword: t.keyword,
            from_group: true,
        }));
    }
    let (prio, shift_note, (track_items, script_items)) =
        track_weights(ctx, base, owner, in_group && !tracking_weight, all_tracks);
    if owner {
        m.push("address_owner", Value::Bool(true));
    } else if prio != 100 || priority.is_some() {
        match shift_note {
            Some(n) => m.push_commented("priority", Value::int(i64::from(prio)), n),
            None => {
                m.push("priority", Value::int(i64::from(prio)));
            }
        }
    }

    if let Some((d, st)) = advert {
        let d = advert_interval(ctx, &st, d, v);
        m.push("advert_interval", Value::duration(d));
    }
    if !preempt {
        m.push("preempt", Value::Bool(false));
    }
    if let Some((d, st)) = preempt_delay {
        let max = Duration::from_secs(1000);
        let d = if d > max {
            ctx.omit_stmt(&st, "ipvsd's preempt_delay is at most 1000s: 1000s instead");
            max
        } else {
            d
        };
        m.push("preempt_delay", Value::duration(d));
    }
    if let Some((ip, st)) = unicast_src {
        if Family::of(&ip) == family {
            m.push("unicast_source", Value::str(ip.to_string()));
        } else {
            ctx.omit_stmt(
                &st,
                format!("{ip} is not {family} like the virtual addresses; not converted"),
            );
        }
    }
    let mut peer_values = Vec::new();
    for (ip, st) in peers {
        if Family::of(&ip) == family {
            peer_values.push(Value::str(ip.to_string()));
        } else {
            ctx.omit(
                st.loc,
                "unicast_peer",
                format!("{ip} is not {family} like the virtual addresses; not converted"),
            );
        }
    }
    if !peer_values.is_empty() {
        m.push("unicast_peers", Value::seq(peer_values));
    }
    m.push("virtual_addresses", Value::Seq(addrs));
    if !track_items.is_empty() || !script_items.is_empty() || !track_primary {
        let mut t = Map::new();
        if !track_items.is_empty() {
            t.push("interfaces", Value::seq(track_items));
        }
        if !script_items.is_empty() {
            t.push("scripts", Value::seq(script_items));
        }
        if !track_primary {
            // keepalived's `dont_track_primary`: the instance's own interface going down
            // does not mean FAULT.
            t.push("own_interface", Value::Bool(false));
        }
        m.push("track", Value::Map(t));
    }
    if let Some(grp) = &group {
        m.push("sync_group", Value::str(&grp.name));
    }
    if let Some(n) = notify {
        m.push("notify", Value::Map(n));
    }
    if let Some((p, st)) = auth {
        if v == 2 {
            m.push("auth_password", Value::str(p));
        } else {
            ctx.omit_stmt(
                &st,
                "VRRPv3 has no authentication (RFC 5798); not converted",
            );
        }
    }
    let delay = match family {
        Family::Inet => g.garp_interval,
        Family::Inet6 => g.gna_interval,
    };
    if garp_repeat.is_some() || delay.is_some() || garp_refresh.is_some() {
        let mut gm = Map::new();
        if let Some(r) = garp_repeat {
            gm.push("repeat", Value::int(i64::from(r)));
        }
        if let Some(d) = delay {
            gm.push("delay", Value::duration(d));
        }
        if let Some(r) = garp_refresh {
            gm.push("refresh", Value::duration(r));
        }
        m.push("garp", Value::Map(gm));
    }

    // The IPVS sync daemon: this instance's own keyword, or global_defs' lvs_sync_daemon.
    let global_sync = g
        .lvs_sync
        .as_ref()
        .filter(|(_, inst, _, _)| *inst == name)
        .map(|(iface, _, id, loc)| (iface.clone(), *id, *loc));
    let sync = match (sync_iface, global_sync) {
        (Some((iface, st)), _) => Some((iface, None, st.loc, "lvs_sync_daemon_interface")),
        (None, Some((iface, id, loc))) => Some((iface, id, loc, "lvs_sync_daemon")),
        (None, None) => None,
    };
    if let Some((iface, id, loc, kw)) = sync {
        if *sync_used {
            ctx.omit(
                loc,
                kw,
                "another instance already drives the IPVS sync daemon (ipvsd allows one); not converted",
            );
        } else {
            *sync_used = true;
            let mut sm = Map::new();
            sm.push("interface", Value::str(iface));
            if let Some(id) = id {
                sm.push("sync_id", Value::int(i64::from(id)));
            }
            m.push("ipvs_sync", Value::Map(sm));
        }
    }
    Some((m, (interface, vrid as i64, family)))
}

/// keepalived adds a positive weight while the interface is up (the script passes) and a
/// negative one while it is down (fails); `reverse` swaps that. ipvsd only changes the
/// priority while it is down. The same effective priorities come from raising the base by
/// what keepalived adds while up: for each weight, up-change `u` and down-change `d`,
/// ipvsd's priority is `base + sum(u)` and the tracker's weight `d - u`. Returns the
/// priority, its note, and the `track.interfaces` and `track.scripts` items.
fn track_weights(
    ctx: &mut Ctx<'_>,
    base: u32,
    owner: bool,
    group_member: bool,
    tracks: Vec<Track>,
) -> (u32, Option<String>, (Vec<Value>, Vec<Value>)) {
    let mut interfaces = Vec::new();
    let mut scripts = Vec::new();
    let mut shift: i64 = 0;
    let mut shifted_by = Vec::new();
    let mut names: Vec<(bool, String)> = Vec::new();
    for t in tracks {
        let key = (t.is_script(), t.name.clone());
        let items = if t.is_script() {
            &mut scripts
        } else {
            &mut interfaces
        };
        if names.contains(&key) {
            ctx.omit(
                t.loc,
                t.keyword,
                format!("{} is already tracked; not converted", t.name),
            );
            continue;
        }
        if t.weight == 0 {
            if t.reverse {
                ctx.omit(
                    t.loc,
                    t.keyword,
                    format!(
                        "`{} weight 0 reverse` (FAULT {}) has no equivalent; not converted",
                        t.name,
                        t.while_up()
                    ),
                );
                continue;
            }
            names.push(key);
            items.push(Value::str(t.name));
            continue;
        }
        if owner {
            ctx.omit(
                t.loc,
                t.keyword,
                format!("{}: keepalived does not track weighted {} of an address owner (priority 255); not converted", t.name, if t.is_script() { "scripts" } else { "interfaces" }),
            );
            continue;
        }
        if group_member && !t.from_group {
            if t.reverse {
                ctx.omit(
                    t.loc,
                    t.keyword,
                    format!("{}: keepalived drops the weight of a sync group member's tracker (without sync_group_tracking_weight), leaving `weight 0 reverse` (FAULT {}), which has no equivalent; not converted", t.name, t.while_up()),
                );
                continue;
            }
            ctx.omit(
                t.loc,
                t.keyword,
                format!("{}: keepalived drops the weight of a sync group member's tracker (without sync_group_tracking_weight): converted as keepalived runs it, FAULT while down", t.name),
            );
            names.push(key);
            items.push(Value::str(t.name));
            continue;
        }
        let w = i64::from(t.weight);
        // Positive weights count while up, negative ones while down; reverse swaps that.
        let (up, down) = if (w > 0) != t.reverse { (w, 0) } else { (0, w) };
        if up != 0 {
            shift += up;
            shifted_by.push(format!("{} {:+}", t.name, up));
        }
        let mut m = Map::new();
        m.push("name", Value::str(&t.name));
        m.push("weight", Value::int(down - up));
        names.push(key);
        items.push(Value::Map(m));
    }
    if shift == 0 {
        return (base, None, (interfaces, scripts));
    }
    let raw = i64::from(base) + shift;
    let prio = raw.clamp(1, 254) as u32;
    let mut note = format!(
        "keepalived priority {base}, plus {} while up",
        shifted_by.join(", ")
    );
    if i64::from(prio) != raw {
        note.push_str(&format!(" = {raw}, limited to {prio}"));
    }
    (prio, Some(note), (interfaces, scripts))
}

fn advert_interval(ctx: &mut Ctx<'_>, s: &Stmt, d: Duration, version: u8) -> Duration {
    let ms = d.as_millis() as u64;
    let fixed = if version == 2 {
        Duration::from_secs(((ms + 500) / 1000).clamp(1, 255))
    } else {
        Duration::from_millis((((ms + 5) / 10) * 10).clamp(10, 40950))
    };
    if fixed != d {
        let unit = if version == 2 {
            "VRRPv2 counts whole seconds (1-255)"
        } else {
            "VRRPv3 counts centiseconds (10ms-40950ms)"
        };
        ctx.omit_stmt(
            s,
            format!(
                "{unit}: {} instead",
                crate::config::schema::fmt_duration(fixed)
            ),
        );
    }
    fixed
}

/// `192.0.2.7/24 dev eth1 [label ...] [scope ...] ...`: address, prefix and device.
fn vip(ctx: &mut Ctx<'_>, s: &Stmt) -> Option<(IpAddr, u8, Option<String>, Stmt)> {
    let spec = s.keyword();
    let omit = |ctx: &mut Ctx<'_>, why: String| {
        ctx.omit(s.loc, "virtual_ipaddress", format!("{spec}: {why}"));
    };
    let (addr, len) = match spec.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (spec, None),
    };
    let Some(ip) = parse_ip(addr) else {
        omit(
            ctx,
            "not an address or ADDRESS/PREFIX; not converted".to_string(),
        );
        return None;
    };
    let full: u8 = if ip.is_ipv4() { 32 } else { 128 };
    let len = match len {
        None => full,
        Some(l) => match l.parse::<u8>() {
            Ok(l) if l <= full => l,
            _ => {
                omit(ctx, format!("`{l}` is not a prefix length; not converted"));
                return None;
            }
        },
    };
    if ip.is_unspecified() || ip.is_loopback() || ip.is_multicast() {
        omit(
            ctx,
            format!("{ip} cannot be a virtual address; not converted"),
        );
        return None;
    }
    let mut dev = None;
    let mut other = Vec::new();
    let mut i = 1;
    while let Some(w) = s.arg(i) {
        match w {
            "dev" => {
                dev = s.arg(i + 1).map(str::to_string);
                i += 2;
            }
            "brd" | "broadcast" | "scope" | "label" | "peer" | "preferred_lft" | "track_group" => {
                other.push(format!("{w} {}", s.arg(i + 1).unwrap_or("")));
                i += 2;
            }
            w => {
                other.push(w.to_string());
                i += 1;
            }
        }
    }
    if !other.is_empty() {
        omit(
            ctx,
            format!(
                "`{}` not converted: ipvsd adds the address with its prefix on its device only",
                other.join(" ").trim()
            ),
        );
    }
    Some((ip, len, dev, s.clone()))
}

/// `notify "/path/script arg" [user [group]]`.
fn notify_program(ctx: &mut Ctx<'_>, s: &Stmt) -> Option<Map> {
    let (argv, rest) = match split_script(&s.raw) {
        Ok((argv, rest)) if !argv.is_empty() => (argv, rest),
        Ok(_) => {
            ctx.omit_stmt(s, "missing program; not converted");
            return None;
        }
        Err(why) => {
            ctx.omit_stmt(s, format!("{why}; not converted"));
            return None;
        }
    };
    let argv = exec_argv(ctx, s, argv);
    ctx.omit_stmt(
        s,
        "keepalived called it with `INSTANCE NAME STATE PRIORITY` appended (state in capitals), ipvsd with `NAME STATE PRIORITY` (state in lower case: master, backup, fault, initialize) and IPVSD_* variables: adapt the program",
    );
    let mut m = Map::new();
    m.push("program", Value::str(&argv[0]));
    if argv.len() > 1 {
        m.push("args", Value::seq(argv[1..].iter().map(Value::str)));
    }
    if let Some(u) = rest.first() {
        m.push("user", Value::str(u.trim_start_matches(':')));
    }
    if rest.len() > 1 {
        ctx.omit_stmt(
            s,
            "the group is not converted: ipvsd runs the program with the user's primary group",
        );
    }
    Some(m)
}
