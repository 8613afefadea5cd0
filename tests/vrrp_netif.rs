//! `vrrp::netif` against the kernel: each test runs in a fresh network namespace of its
//! own, created by `unshare(CLONE_NEWNET)` on a dedicated thread that does all the work
//! (the `ip` commands it spawns inherit its namespace), and checks what `Netif` does
//! against what iproute2 shows.
//!
//! Needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN) and iproute2; without them every test
//! fails with the reason. Links are veth pairs: the veth driver is built into common
//! kernels (dummy often is a module that a container cannot load), and its carrier
//! follows the peer, which lets the tests see a link that is up without carrier.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::process::Command;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use ipvsd::vrrp::netif::{
    ANSWER_TIMEOUT, Added, AddrFlags, Family, IfAddr, Link, LinkEvent, LinkWatch, Netif,
    NetifError, OperState, Removed, Scope,
};
use nix::sched::{CloneFlags, unshare};

/// Longest a test may take before it is failed (a blocked netlink read would hang it).
const TEST_TIMEOUT: Duration = Duration::from_secs(60);

const VIP4: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10));
const VIP6: IpAddr = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x10));

// IFF_* bits as the kernel reports them for a veth link.
const IFF_UP: u32 = 0x1;
const IFF_BROADCAST: u32 = 0x2;
const IFF_RUNNING: u32 = 0x40;
const IFF_MULTICAST: u32 = 0x1000;
const IFF_LOWER_UP: u32 = 0x10000;

/// Runs `body` on a new thread in a new network namespace and fails the test if it
/// panics or does not finish within [`TEST_TIMEOUT`].
fn in_netns(body: impl FnOnce() + Send + 'static) {
    assert!(
        nix::unistd::geteuid().is_root(),
        "tests/vrrp_netif.rs needs root: it creates network namespaces and links \
         (run `sudo -E cargo test --test vrrp_netif`)"
    );
    let (tx, rx) = mpsc::channel();
    let worker = thread::spawn(move || {
        unshare(CloneFlags::CLONE_NEWNET)
            .unwrap_or_else(|e| panic!("unshare(CLONE_NEWNET) failed: {e}"));
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(body));
        // The receiver is gone only if the test already failed on the timeout.
        let _ = tx.send(result);
    });
    match rx.recv_timeout(TEST_TIMEOUT) {
        Ok(Ok(())) => worker
            .join()
            .expect("the netns thread panicked after its body"),
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(_) => panic!("the test did not finish within {TEST_TIMEOUT:?}"),
    }
}

/// Runs `ip args...` in the current thread's namespace; its stdout. Fails the test if
/// `ip` cannot run or fails.
fn ip(args: &[&str]) -> String {
    let out = Command::new("ip")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run `ip` (iproute2 is needed): {e}"));
    assert!(
        out.status.success(),
        "`ip {}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("ip prints UTF-8")
}

/// A veth pair `name` / `peer`, both down.
fn veth(name: &str, peer: &str) {
    ip(&["link", "add", name, "type", "veth", "peer", "name", peer]);
}

/// A veth pair with both ends up (so `name` has carrier).
fn veth_up(name: &str, peer: &str) {
    veth(name, peer);
    ip(&["link", "set", peer, "up"]);
    ip(&["link", "set", name, "up"]);
}

/// `(address/prefix, the words after it up to the lifetimes)` of every address of
/// `dev` as `ip -o addr show` prints them.
fn ip_addrs(dev: &str) -> Vec<(String, Vec<String>)> {
    ip(&["-o", "addr", "show", "dev", dev])
        .lines()
        .filter_map(|line| {
            let mut words = line
                .split_whitespace()
                .skip_while(|w| !w.starts_with("inet"));
            words.next()?;
            let addr = words.next()?.to_owned();
            let rest = words
                .take_while(|w| !w.starts_with("valid_lft"))
                // `-o` ends the first part of the line with a backslash.
                .map(|w| w.trim_end_matches('\\'))
                .filter(|w| !w.is_empty())
                .map(str::to_owned)
                .collect();
            Some((addr, rest))
        })
        .collect()
}

/// `(index, MAC)` of `dev` from `ip -o link show`.
fn ip_link(dev: &str) -> (u32, [u8; 6]) {
    let out = ip(&["-o", "link", "show", "dev", dev]);
    let index = out
        .split(':')
        .next()
        .and_then(|i| i.trim().parse().ok())
        .unwrap_or_else(|| panic!("no index in {out:?}"));
    let mac = out
        .split_whitespace()
        .skip_while(|w| *w != "link/ether")
        .nth(1)
        .unwrap_or_else(|| panic!("no MAC in {out:?}"));
    let bytes: Vec<u8> = mac
        .split(':')
        .map(|b| u8::from_str_radix(b, 16).expect("hex MAC"))
        .collect();
    (index, bytes.try_into().expect("6-byte MAC"))
}

/// The addresses of `index` that Netif reports among `wanted`.
fn listed(nl: &mut Netif, index: u32, wanted: &[IpAddr]) -> Vec<IfAddr> {
    let mut addrs = nl.addresses(index).expect("addresses");
    addrs.retain(|a| wanted.contains(&a.addr));
    addrs
}

/// A lost answer fails the request after `ANSWER_TIMEOUT` instead of blocking the VRRP
/// task forever: the socket carries that receive timeout, and requests still work.
#[test]
fn requests_wait_for_the_answer_at_most_the_answer_timeout() {
    in_netns(|| {
        let mut nl = Netif::open().expect("open");
        assert_eq!(nl.answer_timeout().expect("SO_RCVTIMEO"), ANSWER_TIMEOUT);
        assert!(
            ANSWER_TIMEOUT >= Duration::from_secs(1),
            "{ANSWER_TIMEOUT:?}"
        );
        let lo = nl.link("lo").expect("lo");
        assert_eq!(nl.link_by_index(lo.index).expect("by index").name, "lo");
        assert!(nl.links().expect("dump").iter().any(|l| l.name == "lo"));
    });
}

#[test]
fn ipv4_and_ipv6_vips_are_added_once_seen_by_ip_and_deleted_once() {
    in_netns(|| {
        veth_up("vip0", "vip0p");
        let mut nl = Netif::open().expect("open");
        let index = nl.link("vip0").expect("link").index;

        assert_eq!(nl.add_address(index, VIP4, 32).unwrap(), Added::Added);
        assert_eq!(nl.add_address(index, VIP6, 128).unwrap(), Added::Added);

        let shown = ip_addrs("vip0");
        let v4 = shown.iter().find(|(a, _)| a == "192.0.2.10/32");
        assert_eq!(
            v4.map(|(_, w)| w.clone()),
            Some(vec!["scope".into(), "global".into(), "vip0".into()]),
            "{shown:?}"
        );
        let v6 = shown.iter().find(|(a, _)| a == "2001:db8::10/128");
        assert_eq!(
            v6.map(|(_, w)| w.clone()),
            Some(vec!["scope".into(), "global".into(), "nodad".into()]),
            "IPv6 VIPs skip DAD and are never tentative: {shown:?}"
        );
        assert_eq!(
            listed(&mut nl, index, &[VIP4, VIP6]),
            vec![
                IfAddr {
                    index,
                    addr: VIP4,
                    prefix_len: 32,
                    flags: AddrFlags::PERMANENT,
                    scope: Scope::Universe,
                },
                IfAddr {
                    index,
                    addr: VIP6,
                    prefix_len: 128,
                    flags: AddrFlags::PERMANENT | AddrFlags::NODAD,
                    scope: Scope::Universe,
                },
            ]
        );

        assert_eq!(
            nl.add_address(index, VIP4, 32).unwrap(),
            Added::AlreadyPresent
        );
        assert_eq!(
            nl.add_address(index, VIP6, 128).unwrap(),
            Added::AlreadyPresent
        );
        assert_eq!(listed(&mut nl, index, &[VIP4, VIP6]).len(), 2);

        assert_eq!(nl.del_address(index, VIP4, 32).unwrap(), Removed::Removed);
        assert_eq!(nl.del_address(index, VIP6, 128).unwrap(), Removed::Removed);
        let shown = ip_addrs("vip0");
        assert!(
            !shown
                .iter()
                .any(|(a, _)| a.starts_with("192.0.2.10/") || a.starts_with("2001:db8::10/")),
            "{shown:?}"
        );
        assert_eq!(listed(&mut nl, index, &[VIP4, VIP6]), vec![]);

        assert_eq!(nl.del_address(index, VIP4, 32).unwrap(), Removed::Absent);
        assert_eq!(nl.del_address(index, VIP6, 128).unwrap(), Removed::Absent);
    });
}

#[test]
fn link_reports_index_mac_mtu_and_up_down_as_ip_sets_them() {
    in_netns(|| {
        veth("st0", "st0p");
        ip(&[
            "link",
            "set",
            "st0",
            "mtu",
            "1400",
            "address",
            "02:00:5e:00:53:01",
        ]);
        let (index, mac) = ip_link("st0");
        assert_eq!(mac, [0x02, 0x00, 0x5e, 0x00, 0x53, 0x01]);
        let mut nl = Netif::open().expect("open");
        let expect = |flags, oper_state| Link {
            index,
            name: "st0".into(),
            mac: Some(mac),
            link_type: 1,
            flags,
            oper_state,
            mtu: 1400,
        };

        let down = nl.link("st0").unwrap();
        assert_eq!(down, expect(IFF_BROADCAST | IFF_MULTICAST, OperState::Down));
        assert!(!down.is_up());

        ip(&["link", "set", "st0", "up"]);
        let no_carrier = nl.link("st0").unwrap();
        assert_eq!(
            no_carrier,
            expect(
                IFF_UP | IFF_BROADCAST | IFF_MULTICAST,
                OperState::LowerLayerDown
            ),
            "up, but the peer is down"
        );
        assert!(no_carrier.admin_up() && !no_carrier.is_up());

        ip(&["link", "set", "st0p", "up"]);
        let up = nl.link("st0").unwrap();
        assert_eq!(
            up,
            expect(
                IFF_UP | IFF_BROADCAST | IFF_RUNNING | IFF_MULTICAST | IFF_LOWER_UP,
                OperState::Up
            )
        );
        assert!(up.is_up());
        assert_eq!(nl.link_by_index(index).unwrap(), up);

        ip(&["link", "set", "st0", "down"]);
        assert_eq!(
            nl.link("st0").unwrap(),
            expect(IFF_BROADCAST | IFF_MULTICAST, OperState::Down)
        );
    });
}

#[test]
fn links_lists_every_link_of_the_namespace_as_link_reports_it() {
    in_netns(|| {
        veth_up("ls0", "ls0p");
        let mut nl = Netif::open().expect("open");
        let links = nl.links().unwrap();
        let names: Vec<&str> = links.iter().map(|l| l.name.as_str()).collect();
        let by_ip: Vec<String> = ip(&["-o", "link", "show"])
            .lines()
            .filter_map(|l| l.split(": ").nth(1))
            .map(|n| n.split('@').next().unwrap_or(n).to_owned())
            .collect();
        assert_eq!(names, by_ip);
        assert!(names.contains(&"lo") && names.contains(&"ls0") && names.contains(&"ls0p"));
        for link in &links {
            assert_eq!(&nl.link(&link.name).unwrap(), link);
        }
        let lo = links.iter().find(|l| l.name == "lo").unwrap();
        assert_eq!((lo.mac, lo.link_type), (None, 772), "loopback has no MAC");
    });
}

#[test]
fn primary_address_is_the_first_global_ipv4_and_the_usable_ipv6_link_local() {
    in_netns(|| {
        veth_up("pa0", "pa0p");
        let mut nl = Netif::open().expect("open");
        let index = nl.link("pa0").unwrap().index;
        assert_eq!(nl.primary_address(index, Family::Inet).unwrap(), None);

        ip(&["addr", "add", "192.0.2.1/24", "dev", "pa0"]);
        ip(&["addr", "add", "192.0.2.20/24", "dev", "pa0"]);
        ip(&["addr", "add", "2001:db8::1/64", "dev", "pa0", "nodad"]);
        let vip = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7));
        assert_eq!(nl.add_address(index, vip, 32).unwrap(), Added::Added);

        let primary = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
        let secondary = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 20));
        let v4: Vec<(IpAddr, bool)> = listed(&mut nl, index, &[primary, secondary, vip])
            .iter()
            .map(|a| (a.addr, a.flags.contains(AddrFlags::SECONDARY)))
            .collect();
        assert_eq!(v4, vec![(primary, false), (vip, false), (secondary, true)]);
        assert_eq!(
            nl.primary_address(index, Family::Inet).unwrap(),
            Some(primary)
        );

        // The link-local address goes through DAD (about a second): until then it is
        // tentative and not a usable source. Netif is asked first, so a link-local that
        // `ip` still shows as tentative afterwards was tentative for Netif too.
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let seen = nl.primary_address(index, Family::Inet6).unwrap();
            let shown = ip_addrs("pa0");
            let link_local = shown.iter().find(|(a, _)| a.starts_with("fe80:"));
            match link_local {
                Some((addr, words)) if !words.iter().any(|w| w == "tentative") => {
                    let (addr, prefix) = addr.split_once('/').unwrap();
                    let want: IpAddr = addr.parse().unwrap();
                    assert_eq!(prefix, "64");
                    if seen == Some(want) {
                        break;
                    }
                    assert_eq!(seen, None, "{shown:?}");
                }
                _ => assert_eq!(seen, None, "no usable link-local address yet: {shown:?}"),
            }
            assert!(
                Instant::now() < deadline,
                "no usable link-local address: {shown:?}"
            );
            thread::sleep(Duration::from_millis(50));
        }
    });
}

#[test]
fn unknown_interfaces_bad_names_and_bad_prefixes_are_typed_errors() {
    in_netns(|| {
        let mut nl = Netif::open().expect("open");
        let missing = 9999;
        match nl.link("nosuch0") {
            Err(NetifError::NoSuchInterface { name }) => assert_eq!(name, "nosuch0"),
            other => panic!("expected NoSuchInterface, got {other:?}"),
        }
        match nl.link_by_index(missing) {
            Err(NetifError::NoSuchIndex { index }) => assert_eq!(index, missing),
            other => panic!("expected NoSuchIndex, got {other:?}"),
        }
        for addr in [VIP4, VIP6] {
            match nl.add_address(missing, addr, 32) {
                Err(NetifError::NoSuchIndex { index }) => assert_eq!(index, missing),
                other => panic!("add {addr}: expected NoSuchIndex, got {other:?}"),
            }
            match nl.del_address(missing, addr, 32) {
                Err(NetifError::NoSuchIndex { index }) => assert_eq!(index, missing),
                other => panic!("delete {addr}: expected NoSuchIndex, got {other:?}"),
            }
        }
        assert_eq!(nl.addresses(missing).unwrap(), vec![]);
        match nl.link("a-name-far-too-long") {
            Err(NetifError::InvalidName { name }) => assert_eq!(name, "a-name-far-too-long"),
            other => panic!("expected InvalidName, got {other:?}"),
        }
        let lo = nl.link("lo").unwrap().index;
        match nl.add_address(lo, VIP4, 33) {
            Err(NetifError::InvalidPrefix { addr, prefix_len }) => {
                assert_eq!((addr, prefix_len), (VIP4, 33))
            }
            other => panic!("expected InvalidPrefix, got {other:?}"),
        }
        // The socket is still in step after all the refusals.
        assert_eq!(nl.link("lo").unwrap().index, lo);
    });
}

#[test]
fn link_watch_reports_a_link_going_down_and_being_deleted() {
    in_netns(|| {
        veth_up("lw0", "lw0p");
        let mut watch = LinkWatch::open().expect("open watch");
        let mut nl = Netif::open().expect("open");
        let index = nl.link("lw0").unwrap().index;

        ip(&["link", "set", "lw0", "down"]);
        let down = next_event(
            &mut watch,
            |e| matches!(e, LinkEvent::Changed(l) if l.index == index && !l.admin_up()),
        );
        // The notification of `ip link set down` comes before the kernel settles the
        // operational state, so that may still be up: compare the rest.
        let now = nl.link("lw0").unwrap();
        match down {
            LinkEvent::Changed(link) => assert_eq!(
                (link.name, link.mac, link.mtu, link.flags & 0x1),
                (now.name, now.mac, now.mtu, 0)
            ),
            other => panic!("expected a change, got {other:?}"),
        }

        ip(&["link", "del", "lw0"]);
        let removed = next_event(&mut watch, |e| matches!(e, LinkEvent::Removed(_)));
        match removed {
            LinkEvent::Removed(link) => {
                assert!(link.name == "lw0" || link.name == "lw0p", "{link:?}")
            }
            other => panic!("expected a removal, got {other:?}"),
        }
    });
}

/// The first event `wanted` accepts among the next notifications (at most 50).
fn next_event(watch: &mut LinkWatch, wanted: impl Fn(&LinkEvent) -> bool) -> LinkEvent {
    let mut seen = Vec::new();
    while seen.len() < 50 {
        for event in watch.recv().expect("recv") {
            if wanted(&event) {
                return event;
            }
            seen.push(event);
        }
    }
    panic!("no such event among {seen:?}");
}
