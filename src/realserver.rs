//! `ipvsd realserver setup|teardown`: what a real server behind an LVS-DR or LVS-TUN
//! director needs (the seed's `setparam.sh` and `ifconfig lo:0 VIP/32`): the VIP on the
//! loopback as a host address, so the real server accepts packets for it, and the ARP
//! sysctls that keep it from answering ARP for the VIP (`arp_ignore=1`) or announcing it
//! (`arp_announce=2`), on `all` and on the device.
//!
//! Idempotent and reversible: `setup` records each sysctl's value before its first change
//! and the VIPs it added in a state file; `teardown` removes the VIPs and, once none is
//! left, puts the recorded values back and deletes the state. The plan is pure (`plan_*`,
//! unit-tested); `run_*` reads and writes /proc/sys and the addresses (rtnetlink).
//!
//! IPv6 VIPs go on as /128 (without DAD); IPv6 has no arp_ignore equivalent, so the real
//! server's router must not send neighbour solicitations for the VIP to it (the usual DR
//! setup: the director is the only neighbour that advertises it).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use crate::vrrp::netif::{Added, Netif, Removed};

pub const DEFAULT_STATE: &str = "/run/ipvsd/realserver.state";

/// The sysctls and the values a DR/TUN real server needs (under /proc/sys).
pub fn settings(dev: &str) -> Vec<(String, &'static str)> {
    vec![
        ("net/ipv4/conf/all/arp_ignore".into(), "1"),
        (format!("net/ipv4/conf/{dev}/arp_ignore"), "1"),
        ("net/ipv4/conf/all/arp_announce".into(), "2"),
        (format!("net/ipv4/conf/{dev}/arp_announce"), "2"),
    ]
}

/// What `setup` did, to put back on `teardown`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct State {
    /// Each sysctl's value before ipvsd first changed it.
    pub original: BTreeMap<String, String>,
    /// VIPs added, with their device.
    pub vips: Vec<(IpAddr, String)>,
}

impl State {
    /// `sysctl PATH VALUE` and `vip ADDR DEV` lines.
    pub fn parse(text: &str) -> Result<State, String> {
        let mut s = State::default();
        for (n, line) in text.lines().enumerate() {
            let f: Vec<&str> = line.split_whitespace().collect();
            match f.as_slice() {
                [] => {}
                ["sysctl", path, value] => {
                    s.original.insert((*path).into(), (*value).into());
                }
                ["vip", addr, dev] => {
                    let a = addr
                        .parse()
                        .map_err(|_| format!("line {}: bad address `{addr}`", n + 1))?;
                    s.vips.push((a, (*dev).into()));
                }
                _ => return Err(format!("line {}: cannot read `{line}`", n + 1)),
            }
        }
        Ok(s)
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        for (p, v) in &self.original {
            let _ = writeln!(out, "sysctl {p} {v}");
        }
        for (a, d) in &self.vips {
            let _ = writeln!(out, "vip {a} {d}");
        }
        out
    }
}

/// One step of a plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    SetSysctl {
        path: String,
        from: String,
        to: String,
    },
    AddVip {
        addr: IpAddr,
        dev: String,
    },
    DelVip {
        addr: IpAddr,
        dev: String,
    },
    RemoveState,
    SaveState(State),
}

fn host_prefix(addr: &IpAddr) -> u8 {
    if addr.is_ipv4() { 32 } else { 128 }
}

/// Setup: the ARP sysctls (when there is an IPv4 VIP) and the VIPs. `read` gives a
/// sysctl's current value. Adding a VIP that is already there is harmless, so it is
/// always in the plan.
pub fn plan_setup(
    state: &State,
    vips: &[IpAddr],
    dev: &str,
    read: impl Fn(&str) -> Option<String>,
) -> Result<Vec<Action>, String> {
    let mut next = state.clone();
    let mut actions = Vec::new();
    if vips.iter().any(IpAddr::is_ipv4) {
        for (path, want) in settings(dev) {
            let now = read(&path).ok_or_else(|| {
                format!("cannot read /proc/sys/{path} (no device `{dev}`, or no IPv4?)")
            })?;
            next.original.entry(path.clone()).or_insert(now.clone());
            if now != want {
                actions.push(Action::SetSysctl {
                    path,
                    from: now,
                    to: want.into(),
                });
            }
        }
    }
    for v in vips {
        actions.push(Action::AddVip {
            addr: *v,
            dev: dev.into(),
        });
        if !next.vips.iter().any(|(a, d)| a == v && d == dev) {
            next.vips.push((*v, dev.into()));
        }
    }
    actions.push(Action::SaveState(next));
    Ok(actions)
}

/// Teardown: remove the VIPs; once none that setup added is left, put the recorded
/// sysctl values back (without a record, the kernel defaults, 0, as the seed's script
/// does) and remove the state.
pub fn plan_teardown(
    state: Option<&State>,
    vips: &[IpAddr],
    dev: &str,
    read: impl Fn(&str) -> Option<String>,
) -> Vec<Action> {
    let mut next = state.cloned().unwrap_or_default();
    let mut actions = Vec::new();
    for v in vips {
        actions.push(Action::DelVip {
            addr: *v,
            dev: dev.into(),
        });
        next.vips.retain(|(a, d)| !(a == v && d == dev));
    }
    if !next.vips.is_empty() {
        actions.push(Action::SaveState(next));
        return actions;
    }
    let restore: Vec<(String, String)> = match state {
        Some(s) if !s.original.is_empty() => s
            .original
            .iter()
            .map(|(p, v)| (p.clone(), v.clone()))
            .collect(),
        _ => settings(dev)
            .into_iter()
            .map(|(p, _)| (p, "0".to_string()))
            .collect(),
    };
    for (path, to) in restore {
        if let Some(now) = read(&path)
            && now != to
        {
            actions.push(Action::SetSysctl {
                path,
                from: now,
                to,
            });
        }
    }
    actions.push(Action::RemoveState);
    actions
}

fn sysctl_path(p: &str) -> PathBuf {
    Path::new("/proc/sys").join(p)
}

fn read_sysctl(p: &str) -> Option<String> {
    std::fs::read_to_string(sysctl_path(p))
        .ok()
        .map(|s| s.trim().to_string())
}

fn load_state(path: &Path) -> Result<Option<State>, String> {
    match std::fs::read_to_string(path) {
        Ok(t) => State::parse(&t)
            .map(Some)
            .map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// Carries out a plan, printing one line per change; stops at the first error.
fn apply(actions: Vec<Action>, state_path: &Path, out: &mut String) -> Result<(), String> {
    let mut netif: Option<Netif> = None;
    // The rtnetlink socket (opened on first use) and DEV's interface index.
    let link = |netif: &mut Option<Netif>, dev: &str| -> Result<u32, String> {
        if netif.is_none() {
            *netif = Some(
                Netif::open().map_err(|e| format!("rtnetlink: {}", crate::cli::error_chain(&e)))?,
            );
        }
        let n = netif.as_mut().ok_or("rtnetlink")?;
        n.link(dev)
            .map(|l| l.index)
            .map_err(|e| format!("{dev}: {}", crate::cli::error_chain(&e)))
    };
    for a in actions {
        match a {
            Action::SetSysctl { path, from, to } => {
                std::fs::write(sysctl_path(&path), format!("{to}\n"))
                    .map_err(|e| format!("cannot write /proc/sys/{path}: {e}"))?;
                let _ = writeln!(out, "{}: {from} -> {to}", path.replace('/', "."));
            }
            Action::AddVip { addr, dev } => {
                let index = link(&mut netif, &dev)?;
                let n = netif.as_mut().ok_or("rtnetlink")?;
                let p = host_prefix(&addr);
                match n.add_address(index, addr, p) {
                    Ok(Added::Added) => {
                        let _ = writeln!(out, "{addr}/{p} added to {dev}");
                    }
                    Ok(Added::AlreadyPresent) => {
                        let _ = writeln!(out, "{addr}/{p} already on {dev}");
                    }
                    Err(e) => return Err(crate::cli::error_chain(&e)),
                }
            }
            Action::DelVip { addr, dev } => {
                let index = link(&mut netif, &dev)?;
                let n = netif.as_mut().ok_or("rtnetlink")?;
                let p = host_prefix(&addr);
                match n.del_address(index, addr, p) {
                    Ok(Removed::Removed) => {
                        let _ = writeln!(out, "{addr}/{p} removed from {dev}");
                    }
                    Ok(Removed::Absent) => {
                        let _ = writeln!(out, "{addr}/{p} was not on {dev}");
                    }
                    Err(e) => return Err(crate::cli::error_chain(&e)),
                }
            }
            Action::SaveState(s) => {
                if let Some(dir) = state_path.parent() {
                    std::fs::create_dir_all(dir)
                        .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
                }
                std::fs::write(state_path, s.render())
                    .map_err(|e| format!("cannot write {}: {e}", state_path.display()))?;
            }
            Action::RemoveState => match std::fs::remove_file(state_path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(format!("cannot remove {}: {e}", state_path.display())),
            },
        }
    }
    Ok(())
}

/// `ipvsd realserver setup`: the report printed, or what failed.
pub fn run_setup(vips: &[IpAddr], dev: &str, state_path: &Path) -> Result<String, String> {
    let state = load_state(state_path)?.unwrap_or_default();
    let plan = plan_setup(&state, vips, dev, read_sysctl)?;
    let mut out = String::new();
    apply(plan, state_path, &mut out)?;
    Ok(out)
}

/// `ipvsd realserver teardown`.
pub fn run_teardown(vips: &[IpAddr], dev: &str, state_path: &Path) -> Result<String, String> {
    let state = load_state(state_path)?;
    let plan = plan_teardown(state.as_ref(), vips, dev, read_sysctl);
    let mut out = String::new();
    apply(plan, state_path, &mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vip() -> IpAddr {
        "192.0.2.7".parse().unwrap()
    }

    fn sysctls(v: &str) -> impl Fn(&str) -> Option<String> + '_ {
        move |_| Some(v.to_string())
    }

    #[test]
    fn setup_records_the_values_it_changes_and_adds_the_vip() {
        let plan = plan_setup(&State::default(), &[vip()], "lo", sysctls("0")).unwrap();
        let sets: Vec<_> = plan
            .iter()
            .filter_map(|a| match a {
                Action::SetSysctl { path, from, to } => {
                    Some((path.as_str(), from.as_str(), to.as_str()))
                }
                _ => None,
            })
            .collect();
        assert_eq!(
            sets,
            [
                ("net/ipv4/conf/all/arp_ignore", "0", "1"),
                ("net/ipv4/conf/lo/arp_ignore", "0", "1"),
                ("net/ipv4/conf/all/arp_announce", "0", "2"),
                ("net/ipv4/conf/lo/arp_announce", "0", "2"),
            ]
        );
        assert!(plan.contains(&Action::AddVip {
            addr: vip(),
            dev: "lo".into()
        }));
        let Some(Action::SaveState(s)) = plan.last() else {
            panic!("{plan:?}")
        };
        assert_eq!(s.vips, vec![(vip(), "lo".to_string())]);
        assert_eq!(s.original.len(), 4);
        assert!(s.original.values().all(|v| v == "0"));
        // The state survives its text form.
        assert_eq!(State::parse(&s.render()).unwrap(), *s);
    }

    #[test]
    fn setup_again_changes_no_sysctl_and_keeps_the_first_originals() {
        let first = State {
            original: settings("lo")
                .into_iter()
                .map(|(p, _)| (p, "0".into()))
                .collect(),
            vips: vec![(vip(), "lo".into())],
        };
        // The sysctls now hold what setup wrote.
        let read = |p: &str| Some(if p.ends_with("arp_ignore") { "1" } else { "2" }.to_string());
        let plan = plan_setup(&first, &[vip()], "lo", read).unwrap();
        assert!(!plan.iter().any(|a| matches!(a, Action::SetSysctl { .. })));
        assert_eq!(plan.last(), Some(&Action::SaveState(first)));
    }

    #[test]
    fn teardown_restores_the_originals_once_the_last_vip_is_gone() {
        let other: IpAddr = "192.0.2.8".parse().unwrap();
        let state = State {
            original: [("net/ipv4/conf/all/arp_ignore".to_string(), "0".to_string())].into(),
            vips: vec![(vip(), "lo".into()), (other, "lo".into())],
        };
        // One VIP of two: the sysctls stay.
        let plan = plan_teardown(Some(&state), &[vip()], "lo", sysctls("1"));
        assert_eq!(
            plan,
            [
                Action::DelVip {
                    addr: vip(),
                    dev: "lo".into()
                },
                Action::SaveState(State {
                    original: state.original.clone(),
                    vips: vec![(other, "lo".into())],
                }),
            ]
        );
        // The last one: back to the recorded value, state removed.
        let plan = plan_teardown(Some(&state), &[vip(), other], "lo", sysctls("1"));
        assert_eq!(
            &plan[2..],
            [
                Action::SetSysctl {
                    path: "net/ipv4/conf/all/arp_ignore".into(),
                    from: "1".into(),
                    to: "0".into()
                },
                Action::RemoveState,
            ]
        );
    }

    #[test]
    fn teardown_without_a_record_resets_to_the_kernel_defaults() {
        let plan = plan_teardown(None, &[vip()], "lo", sysctls("1"));
        let resets = plan
            .iter()
            .filter(|a| matches!(a, Action::SetSysctl { to, .. } if to == "0"))
            .count();
        assert_eq!(resets, 4);
    }

    #[test]
    fn an_ipv6_vip_needs_no_arp_sysctl() {
        let v6: IpAddr = "2001:db8::7".parse().unwrap();
        let plan = plan_setup(&State::default(), &[v6], "lo", |_| None).unwrap();
        assert_eq!(plan.len(), 2);
        assert_eq!(host_prefix(&v6), 128);
    }

    #[test]
    fn a_missing_device_is_a_clear_error() {
        let e = plan_setup(&State::default(), &[vip()], "nope0", |_| None).unwrap_err();
        assert!(e.contains("no device `nope0`"), "{e}");
    }
}
