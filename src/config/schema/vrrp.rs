//! `vrrp_instances`: VRRP routers that move the virtual addresses between directors.
//!
//! Pure apart from the `Env` (notify program executable). Ranges follow RFC 5798 (v3) and
//! RFC 3768 (v2).

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use super::Env;
use super::scalar;
use crate::config::node::{Diags, Loc, MapReader, Node, Path, Value};
use crate::config::types::{
    ExecCheck, Garp, IpvsSync, Notify, TrackInterface, TrackScript, TrackVirtualServer,
    VirtualAddress, VirtualServer, VrrpInstance, VrrpScript, VrrpVersion,
};
use crate::ipvs::model::Family;

const KEYS: &[&str] = &[
    "name",
    "interface",
    "vrid",
    "version",
    "priority",
    "address_owner",
    "advert_interval",
    "preempt",
    "preempt_delay",
    "unicast_source",
    "unicast_peers",
    "virtual_addresses",
    "track",
    "sync_group",
    "notify",
    "auth_password",
    "garp",
    "ipvs_sync",
];
const VIP_KEYS: &[&str] = &["address", "device"];
const TRACK_KEYS: &[&str] = &["interfaces", "virtual_servers", "scripts", "own_interface"];
const SCRIPT_KEYS: &[&str] = &[
    "name",
    "program",
    "args",
    "user",
    "interval",
    "timeout",
    "rise",
    "fall",
    "init_fail",
];
const TRACK_ITEM_KEYS: &[&str] = &["name", "weight"];
const NOTIFY_KEYS: &[&str] = &["program", "args", "user"];
const GARP_KEYS: &[&str] = &["repeat", "delay", "refresh"];
const SYNC_KEYS: &[&str] = &["interface", "sync_id"];

/// `vrrp_scripts`: programs the instances track, each named once.
pub fn decode_scripts(node: &Node, path: &Path, env: &dyn Env, d: &mut Diags) -> Vec<VrrpScript> {
    let Some(items) = scalar::list(node, path, d) else {
        return Vec::new();
    };
    let mut out: Vec<VrrpScript> = Vec::new();
    let mut names: HashMap<String, usize> = HashMap::new();
    for (i, item) in items.iter().enumerate() {
        let p = path.index(i);
        let Some(script) = decode_script(item, &p, env, d) else {
            continue;
        };
        if let Some(first) = names.insert(script.name.clone(), i) {
            d.push(
                item.loc,
                &p.key("name"),
                format!(
                    "name `{}` is already used by vrrp_scripts[{first}]",
                    script.name
                ),
            );
        }
        out.push(script);
    }
    out
}

/// Defaults of a script: keepalived's interval (1 s) and rise/fall of 1.
const SCRIPT_INTERVAL: Duration = Duration::from_secs(1);

fn decode_script(node: &Node, path: &Path, env: &dyn Env, d: &mut Diags) -> Option<VrrpScript> {
    let mut m = MapReader::new(node, path, d)?;
    let name = required(&mut m, "name", path, d, scalar::name);
    let exec = command(&mut m, path, "scripts", env, d);
    let t = super::check::timing(
        &mut m,
        path,
        d,
        super::check::TimingDefaults {
            interval: SCRIPT_INTERVAL,
            timeout: None,
            rise: 1,
            fall: 1,
        },
        "a script",
    );
    let init_fail = match m.get("init_fail") {
        Some(n) => scalar::boolean(n, &path.key("init_fail"), d),
        None => Some(false),
    };
    m.finish(d, SCRIPT_KEYS);
    Some(VrrpScript {
        name: name?,
        exec: exec?,
        interval: t.interval?,
        timeout: t.timeout?,
        rise: t.rise?,
        fall: t.fall?,
        init_fail: init_fail?,
    })
}

pub fn decode_all(
    node: &Node,
    path: &Path,
    virtual_servers: &[VirtualServer],
    scripts: &[VrrpScript],
    env: &dyn Env,
    d: &mut Diags,
) -> Vec<VrrpInstance> {
    let Some(items) = scalar::list(node, path, d) else {
        return Vec::new();
    };
    let mut out: Vec<VrrpInstance> = Vec::new();
    let mut names: HashMap<String, usize> = HashMap::new();
    let mut routers: HashMap<(String, u8, Family), usize> = HashMap::new();
    let mut sync_owner: Option<usize> = None;
    for (i, item) in items.iter().enumerate() {
        let p = path.index(i);
        let Some(inst) = decode_one(item, &p, virtual_servers, scripts, env, d) else {
            continue;
        };
        if let Some(first) = names.insert(inst.name.clone(), i) {
            d.push(
                item.loc,
                &p.key("name"),
                format!(
                    "name `{}` is already used by vrrp_instances[{first}]",
                    inst.name
                ),
            );
        }
        let router = (inst.interface.clone(), inst.vrid, inst.family);
        if let Some(first) = routers.insert(router, i) {
            d.push(
                item.loc,
                &p.key("vrid"),
                format!(
                    "vrid {} on {} ({}) is already used by vrrp_instances[{first}]",
                    inst.vrid, inst.interface, inst.family
                ),
            );
        }
        if inst.ipvs_sync.is_some() {
            if let Some(first) = sync_owner {
                d.push(
                    item.loc,
                    &p.key("ipvs_sync"),
                    format!(
                        "only one instance may drive the IPVS sync daemon; vrrp_instances[{first}] already does"
                    ),
                );
            }
            sync_owner.get_or_insert(i);
        }
        out.push(inst);
    }
    out
}

fn decode_one(
    node: &Node,
    path: &Path,
    virtual_servers: &[VirtualServer],
    scripts: &[VrrpScript],
    env: &dyn Env,
    d: &mut Diags,
) -> Option<VrrpInstance> {
    let mut m = MapReader::new(node, path, d)?;
    let name = required(&mut m, "name", path, d, scalar::name);
    let interface = required(&mut m, "interface", path, d, scalar::name);
    let vrid = required(&mut m, "vrid", path, d, |n, p, d| {
        scalar::int(n, p, d, 1, 255)
    });
    let version = match m.get("version") {
        Some(n) => scalar::int::<u8>(n, &path.key("version"), d, 2, 3).map(|v| {
            if v == 2 {
                VrrpVersion::V2
            } else {
                VrrpVersion::V3
            }
        }),
        None => Some(VrrpVersion::V3),
    };
    let address_owner = match m.get("address_owner") {
        Some(n) => scalar::boolean(n, &path.key("address_owner"), d),
        None => Some(false),
    };
    let priority = match m.get("priority") {
        Some(n) => priority(n, &path.key("priority"), address_owner, d),
        None => Some(if address_owner == Some(true) {
            255
        } else {
            100
        }),
    };
    let advert_interval = match (m.get("advert_interval"), version) {
        (Some(n), Some(v)) => advert_interval(n, &path.key("advert_interval"), v, d),
        (Some(_), None) => None,
        (None, _) => Some(Duration::from_secs(1)),
    };
    let preempt = match m.get("preempt") {
        Some(n) => scalar::boolean(n, &path.key("preempt"), d),
        None => Some(true),
    };
    let preempt_delay = match m.get("preempt_delay") {
        Some(n) => scalar::duration_in(
            n,
            &path.key("preempt_delay"),
            d,
            Duration::ZERO,
            Duration::from_secs(1000),
        ),
        None => Some(Duration::ZERO),
    };
    let vips = match m.get("virtual_addresses") {
        Some(n) => virtual_addresses(n, &path.key("virtual_addresses"), interface.as_deref(), d),
        None => {
            d.push(node.loc, path, "missing `virtual_addresses`");
            None
        }
    };
    let family = vips
        .as_ref()
        .and_then(|v| v.first())
        .map(|v| Family::of(&v.address));
    let unicast_source = match m.get("unicast_source") {
        Some(n) => same_family(n, &path.key("unicast_source"), family, d).map(Some),
        None => Some(None),
    };
    let unicast_peers = match m.get("unicast_peers") {
        Some(n) => {
            let p = path.key("unicast_peers");
            let before = d.len();
            let v = scalar::list_of(n, &p, d, |n, p, d| same_family(n, p, family, d));
            (d.len() == before).then_some(v)
        }
        None => Some(Vec::new()),
    };
    let Tracks {
        interfaces: track_interfaces,
        services: track_virtual_servers,
        scripts: track_scripts,
        own: track_own,
    } = match m.get("track") {
        Some(n) => track(n, &path.key("track"), virtual_servers, scripts, d),
        None => Tracks {
            interfaces: Some(Vec::new()),
            services: Some(Vec::new()),
            scripts: Some(Vec::new()),
            own: Some(true),
        },
    };
    // The instance's own interface is tracked with weight 0 (down: FAULT), as keepalived
    // does unless `dont_track_primary`; an explicit entry for it keeps its own weight.
    let track_interfaces = match (track_interfaces, &interface, track_own) {
        (Some(mut list), Some(own), Some(true)) => {
            if !list.iter().any(|t| &t.name == own) {
                list.push(TrackInterface {
                    name: own.clone(),
                    weight: 0,
                });
            }
            Some(list)
        }
        (list, _, Some(_)) => list,
        (_, _, None) => None,
    };
    let sync_group = match m.get("sync_group") {
        Some(n) => scalar::name(n, &path.key("sync_group"), d).map(Some),
        None => Some(None),
    };
    let notify = match m.get("notify") {
        Some(n) => notify(n, &path.key("notify"), env, d).map(Some),
        None => Some(None),
    };
    let auth_password = match m.get("auth_password") {
        Some(n) => auth_password(n, &path.key("auth_password"), version, d).map(Some),
        None => Some(None),
    };
    let garp = match m.get("garp") {
        Some(n) => garp(n, &path.key("garp"), d),
        None => Some(default_garp()),
    };
    let ipvs_sync = match (m.get("ipvs_sync"), vrid) {
        (Some(n), Some(vrid)) => ipvs_sync(n, &path.key("ipvs_sync"), vrid, d).map(Some),
        (Some(_), None) => None,
        (None, _) => Some(None),
    };
    m.finish(d, KEYS);
    Some(VrrpInstance {
        name: name?,
        interface: interface?,
        vrid: vrid?,
        version: version?,
        priority: priority?,
        address_owner: address_owner?,
        advert_interval: advert_interval?,
        preempt: preempt?,
        preempt_delay: preempt_delay?,
        unicast_source: unicast_source?,
        unicast_peers: unicast_peers?,
        virtual_addresses: vips?,
        family: family?,
        track_interfaces: track_interfaces?,
        track_virtual_servers: track_virtual_servers?,
        track_scripts: track_scripts?,
        sync_group: sync_group?,
        notify: notify?,
        auth_password: auth_password?,
        garp: garp?,
        ipvs_sync: ipvs_sync?,
    })
}

fn required<T>(
    m: &mut MapReader<'_>,
    key: &str,
    path: &Path,
    d: &mut Diags,
    f: impl Fn(&Node, &Path, &mut Diags) -> Option<T>,
) -> Option<T> {
    match m.get(key) {
        Some(n) => f(n, &path.key(key), d),
        None => {
            d.push(m.loc, path, format!("missing `{key}`"));
            None
        }
    }
}

/// RFC 5798 section 5.2.4: 255 is the address owner's, 0 means "stop being master", backups
/// use 1-254.
fn priority(n: &Node, p: &Path, owner: Option<bool>, d: &mut Diags) -> Option<u8> {
    let v: u8 = scalar::int(n, p, d, 1, 255)?;
    match (v, owner) {
        (255, Some(false)) => {
            d.push(
                n.loc,
                p,
                "priority 255 is reserved for the address owner (set `address_owner: true` if \
                 the virtual addresses are this director's own); use 1-254",
            );
            None
        }
        (v, Some(true)) if v != 255 => {
            d.push(n.loc, p, "the address owner always has priority 255");
            None
        }
        _ => Some(v),
    }
}

/// v3 (RFC 5798 section 5.2.7): centiseconds, 1-4095. v2 (RFC 3768 section 5.3.7): whole
/// seconds, 1-255.
fn advert_interval(n: &Node, p: &Path, version: VrrpVersion, d: &mut Diags) -> Option<Duration> {
    match version {
        VrrpVersion::V3 => {
            let v = scalar::duration_in(
                n,
                p,
                d,
                Duration::from_millis(10),
                Duration::from_millis(40950),
            )?;
            if v.as_millis() % 10 != 0 {
                d.push(
                    n.loc,
                    p,
                    "VRRPv3 counts the interval in centiseconds: use a multiple of 10ms",
                );
                return None;
            }
            Some(v)
        }
        VrrpVersion::V2 => {
            let v = scalar::duration_in(n, p, d, Duration::from_secs(1), Duration::from_secs(255))?;
            if v.subsec_millis() != 0 {
                d.push(n.loc, p, "VRRPv2 counts the interval in whole seconds");
                return None;
            }
            Some(v)
        }
    }
}

fn virtual_addresses(
    node: &Node,
    path: &Path,
    interface: Option<&str>,
    d: &mut Diags,
) -> Option<Vec<VirtualAddress>> {
    let items = scalar::list(node, path, d)?;
    if items.is_empty() {
        d.push(node.loc, path, "list at least one virtual address");
        return None;
    }
    let mut out: Vec<VirtualAddress> = Vec::new();
    let mut ok = true;
    let mut family: Option<(Family, usize)> = None;
    for (i, item) in items.iter().enumerate() {
        let p = path.index(i);
        let Some(vip) = vip(item, &p, interface, d) else {
            ok = false;
            continue;
        };
        let f = Family::of(&vip.address);
        match family {
            None => family = Some((f, i)),
            Some((first, j)) if first != f => {
                d.push(
                    item.loc,
                    &p,
                    format!(
                        "{} is {f} but virtual_addresses[{j}] is {first}; an instance is IPv4 or IPv6 (use two instances)",
                        vip.address
                    ),
                );
                ok = false;
            }
            Some(_) => {}
        }
        if let Some(j) = out.iter().position(|o| o.address == vip.address) {
            d.push(
                item.loc,
                &p,
                format!("{} is already virtual_addresses[{j}]", vip.address),
            );
            ok = false;
        }
        out.push(vip);
    }
    ok.then_some(out)
}

/// `192.0.2.7/24` or `{address: 192.0.2.7/24, device: eth1}`.
fn vip(node: &Node, path: &Path, interface: Option<&str>, d: &mut Diags) -> Option<VirtualAddress> {
    let (cidr, device) = match &node.value {
        Value::Map(_) => {
            let mut m = MapReader::new(node, path, d)?;
            let cidr = required(&mut m, "address", path, d, scalar::cidr);
            let device = match m.get("device") {
                Some(n) => scalar::name(n, &path.key("device"), d),
                None => interface.map(str::to_string),
            };
            m.finish(d, VIP_KEYS);
            (cidr?, device?)
        }
        _ => (scalar::cidr(node, path, d)?, interface?.to_string()),
    };
    let (address, prefix_len) = cidr;
    if address.is_unspecified() || address.is_multicast() || address.is_loopback() {
        d.push(
            node.loc,
            path,
            format!("{address} cannot be a virtual address"),
        );
        return None;
    }
    Some(VirtualAddress {
        address,
        prefix_len,
        device,
    })
}

fn same_family(n: &Node, p: &Path, family: Option<Family>, d: &mut Diags) -> Option<IpAddr> {
    let a = scalar::ip(n, p, d)?;
    if let Some(f) = family {
        if Family::of(&a) != f {
            d.push(
                n.loc,
                p,
                format!(
                    "{a} is {} but the virtual addresses are {f}",
                    Family::of(&a)
                ),
            );
            return None;
        }
    }
    Some(a)
}

/// What `track` says; `None` where it has problems.
struct Tracks {
    interfaces: Option<Vec<TrackInterface>>,
    services: Option<Vec<TrackVirtualServer>>,
    scripts: Option<Vec<TrackScript>>,
    own: Option<bool>,
}

fn track(
    node: &Node,
    path: &Path,
    virtual_servers: &[VirtualServer],
    scripts: &[VrrpScript],
    d: &mut Diags,
) -> Tracks {
    let Some(mut m) = MapReader::new(node, path, d) else {
        return Tracks {
            interfaces: None,
            services: None,
            scripts: None,
            own: None,
        };
    };
    let own = match m.get("own_interface") {
        Some(n) => scalar::boolean(n, &path.key("own_interface"), d),
        None => Some(true),
    };
    let interfaces = match m.get("interfaces") {
        Some(n) => track_items(n, &path.key("interfaces"), d, |_, _, _| true).map(|v| {
            v.into_iter()
                .map(|(name, weight)| TrackInterface { name, weight })
                .collect()
        }),
        None => Some(Vec::new()),
    };
    let services = match m.get("virtual_servers") {
        Some(n) => track_items(n, &path.key("virtual_servers"), d, |name, loc, d| {
            let known = virtual_servers.iter().any(|v| v.name == name);
            if !known {
                let names: Vec<&str> = virtual_servers.iter().map(|v| v.name.as_str()).collect();
                d.push(
                    loc,
                    &path.key("virtual_servers"),
                    format!(
                        "no virtual server is named `{name}` (known: {})",
                        names.join(", ")
                    ),
                );
            }
            known
        })
        .map(|v| {
            v.into_iter()
                .map(|(name, weight)| TrackVirtualServer { name, weight })
                .collect()
        }),
        None => Some(Vec::new()),
    };
    let tracked_scripts = match m.get("scripts") {
        Some(n) => track_items(n, &path.key("scripts"), d, |name, loc, d| {
            let known = scripts.iter().any(|s| s.name == name);
            if !known {
                let mut names: Vec<&str> = Vec::new();
                for s in scripts {
                    if !names.contains(&s.name.as_str()) {
                        names.push(&s.name);
                    }
                }
                let known_list = if names.is_empty() {
                    "vrrp_scripts defines none".to_string()
                } else {
                    format!("known: {}", names.join(", "))
                };
                d.push(
                    loc,
                    &path.key("scripts"),
                    format!("no vrrp_script is named `{name}` ({known_list})"),
                );
            }
            known
        })
        .map(|v| {
            v.into_iter()
                .map(|(name, weight)| TrackScript { name, weight })
                .collect()
        }),
        None => Some(Vec::new()),
    };
    m.finish(d, TRACK_KEYS);
    Tracks {
        interfaces,
        services,
        scripts: tracked_scripts,
        own,
    }
}

/// Items are a name (weight 0: go to FAULT) or `{name, weight}` with weight -253..253.
fn track_items(
    node: &Node,
    path: &Path,
    d: &mut Diags,
    known: impl Fn(&str, Loc, &mut Diags) -> bool,
) -> Option<Vec<(String, i32)>> {
    let items = scalar::list(node, path, d)?;
    let mut out = Vec::new();
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        let p = path.index(i);
        let entry = match &item.value {
            Value::Map(_) => MapReader::new(item, &p, d).and_then(|mut m| {
                let name = required(&mut m, "name", &p, d, scalar::name);
                let weight = match m.get("weight") {
                    Some(n) => scalar::int(n, &p.key("weight"), d, -253, 253),
                    None => Some(0),
                };
                m.finish(d, TRACK_ITEM_KEYS);
                Some((name?, weight?))
            }),
            _ => scalar::name(item, &p, d).map(|n| (n, 0)),
        };
        match entry {
            Some((name, w)) if known(&name, item.loc, d) => out.push((name, w)),
            _ => ok = false,
        }
    }
    ok.then_some(out)
}

/// `program` (required), `args` and `user` of a program ipvsd runs (`what`, for the
/// message about relative paths); `None` if any has problems.
fn command(
    m: &mut MapReader<'_>,
    path: &Path,
    what: &str,
    env: &dyn Env,
    d: &mut Diags,
) -> Option<ExecCheck> {
    let program = required(m, "program", path, d, |n, p, d| {
        super::check::program(n, p, what, env, d)
    });
    let args = match m.get("args") {
        Some(n) => {
            let before = d.len();
            let v = scalar::list_of(n, &path.key("args"), d, scalar::string);
            (d.len() == before).then_some(v)
        }
        None => Some(Vec::new()),
    };
    let user = match m.get("user") {
        Some(n) => scalar::name(n, &path.key("user"), d).map(Some),
        None => Some(None),
    };
    Some(ExecCheck {
        program: program?,
        args: args?,
        user: user?,
    })
}

fn notify(node: &Node, path: &Path, env: &dyn Env, d: &mut Diags) -> Option<Notify> {
    let mut m = MapReader::new(node, path, d)?;
    let c = command(&mut m, path, "notify commands", env, d);
    m.finish(d, NOTIFY_KEYS);
    let c = c?;
    Some(Notify {
        program: c.program,
        args: c.args,
        user: c.user,
    })
}

/// RFC 3768 section 5.3.6.1: up to 8 octets, v2 only (RFC 5798 removed authentication).
fn auth_password(
    n: &Node,
    p: &Path,
    version: Option<VrrpVersion>,
    d: &mut Diags,
) -> Option<String> {
    let s = scalar::nonempty_string(n, p, d)?;
    if version == Some(VrrpVersion::V3) {
        d.push(
            n.loc,
            p,
            "VRRPv3 has no authentication (RFC 5798 section 9); set `version: 2`",
        );
        return None;
    }
    if s.len() > 8 {
        d.push(n.loc, p, "VRRPv2 simple passwords are at most 8 bytes");
        return None;
    }
    Some(s)
}

pub fn default_garp() -> Garp {
    Garp {
        repeat: 3,
        delay: Duration::from_millis(200),
        refresh: Duration::ZERO,
    }
}

fn garp(node: &Node, path: &Path, d: &mut Diags) -> Option<Garp> {
    let mut m = MapReader::new(node, path, d)?;
    let def = default_garp();
    let repeat = match m.get("repeat") {
        Some(n) => scalar::int(n, &path.key("repeat"), d, 1, 100),
        None => Some(def.repeat),
    };
    let delay = match m.get("delay") {
        Some(n) => scalar::duration_in(
            n,
            &path.key("delay"),
            d,
            Duration::ZERO,
            Duration::from_secs(60),
        ),
        None => Some(def.delay),
    };
    let refresh = match m.get("refresh") {
        Some(n) => scalar::duration_in(
            n,
            &path.key("refresh"),
            d,
            Duration::ZERO,
            Duration::from_secs(86400),
        ),
        None => Some(def.refresh),
    };
    m.finish(d, GARP_KEYS);
    Some(Garp {
        repeat: repeat?,
        delay: delay?,
        refresh: refresh?,
    })
}

fn ipvs_sync(node: &Node, path: &Path, vrid: u8, d: &mut Diags) -> Option<IpvsSync> {
    let mut m = MapReader::new(node, path, d)?;
    let interface = required(&mut m, "interface", path, d, scalar::name);
    let sync_id = match m.get("sync_id") {
        Some(n) => scalar::int(n, &path.key("sync_id"), d, 0, 255),
        None => Some(vrid),
    };
    m.finish(d, SYNC_KEYS);
    Some(IpvsSync {
        interface: interface?,
        sync_id: sync_id?,
    })
}
