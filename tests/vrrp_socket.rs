//! `vrrp::socket` against the kernel: two named network namespaces (`ipvsd-t-<pid>-<n>-a`
//! and `-b`, removed by a guard even when a test fails) joined by a veth pair
//! (`va` 192.0.2.1/24, 2001:db8::1/64, fe80::a/64 and `vb` 192.0.2.2/24, 2001:db8::2/64,
//! fe80::b/64, no DAD, no generated link-local). Each side runs on its own thread that
//! entered its namespace with `setns` and drives its own current-thread tokio runtime;
//! the sender repeats until the receiver has its packet (the first one can be lost while
//! the link comes up or neighbour discovery runs), and the test asserts on what the
//! receiver saw.
//!
//! Needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN, CAP_NET_RAW) and iproute2; without them every
//! test fails with the reason.

use std::fs::File;
use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use ipvsd::config::VrrpVersion;
use ipvsd::vrrp::announce::{gratuitous_arp, unsolicited_na};
use ipvsd::vrrp::netif::Netif;
use ipvsd::vrrp::packet::{self, Advert, Auth, DropReason, Expect, Family, IPPROTO_VRRP, Received};
use ipvsd::vrrp::socket::{Announcer, SocketConfig, VrrpSocket};
use nix::sched::{CloneFlags, setns};
use socket2::{Domain, Protocol, Socket, Type};

/// Longest a receiver waits for its packet.
const TIMEOUT: Duration = Duration::from_secs(5);
/// Between two sends of the same packet.
const RESEND: Duration = Duration::from_millis(50);

const A4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const B4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
const A6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
const B6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);
const A_LL: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0xa);
const GROUP4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
const GROUP6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);
const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
const VIP4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 100);
const VIP6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x100);

const ETH_P_ARP: u16 = 0x0806;
const ETH_P_IPV6: u16 = 0x86dd;

// === Namespaces ===

static NEXT_PAIR: AtomicU32 = AtomicU32::new(0);

/// Two namespaces joined by a veth pair; deleted on drop.
struct Netns {
    a: String,
    b: String,
}

impl Netns {
    fn new() -> Netns {
        assert!(
            nix::unistd::geteuid().is_root(),
            "tests/vrrp_socket.rs needs root: it creates network namespaces and raw sockets \
             (run `sudo -E cargo test --test vrrp_socket`)"
        );
        let n = NEXT_PAIR.fetch_add(1, Ordering::Relaxed);
        let base = format!("ipvsd-t-{}-{n}", std::process::id());
        // The guard exists before the first namespace does.
        let ns = Netns {
            a: format!("{base}-a"),
            b: format!("{base}-b"),
        };
        ip(&["netns", "add", &ns.a]);
        ip(&["netns", "add", &ns.b]);
        ip(&[
            "-n", &ns.a, "link", "add", "va", "type", "veth", "peer", "name", "vb", "netns", &ns.b,
        ]);
        for (name, dev, v4, v6, ll) in [
            (&ns.a, "va", "192.0.2.1/24", "2001:db8::1/64", "fe80::a/64"),
            (&ns.b, "vb", "192.0.2.2/24", "2001:db8::2/64", "fe80::b/64"),
        ] {
            ip(&["-n", name, "link", "set", "lo", "up"]);
            ip(&["-n", name, "link", "set", dev, "addrgenmode", "none"]);
            ip(&["-n", name, "link", "set", dev, "up"]);
            ip(&["-n", name, "addr", "add", v4, "dev", dev]);
            ip(&["-n", name, "addr", "add", v6, "dev", dev, "nodad"]);
            ip(&["-n", name, "addr", "add", ll, "dev", dev, "nodad"]);
        }
        for (name, dev) in [(&ns.a, "va"), (&ns.b, "vb")] {
            let deadline = Instant::now() + TIMEOUT;
            while !ip(&["-n", name, "-o", "link", "show", "dev", dev]).contains("state UP") {
                assert!(Instant::now() < deadline, "{dev} in {name} did not come up");
                thread::sleep(Duration::from_millis(10));
            }
        }
        ns
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        for name in [&self.a, &self.b] {
            // Deleting a namespace that was never created fails; nothing to undo then.
            let _ = Command::new("ip").args(["netns", "del", name]).status();
        }
    }
}

/// Runs `ip args...`; its stdout. Fails the test if `ip` cannot run or fails.
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

/// Spawns `body` on a thread inside namespace `name`.
fn in_netns<T: Send + 'static>(
    name: &str,
    body: impl FnOnce() -> T + Send + 'static,
) -> thread::JoinHandle<T> {
    let path = format!("/run/netns/{name}");
    thread::spawn(move || {
        let ns = File::open(&path).unwrap_or_else(|e| panic!("cannot open {path}: {e}"));
        setns(ns, CloneFlags::CLONE_NEWNET).unwrap_or_else(|e| panic!("setns {path}: {e}"));
        body()
    })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime")
}

/// `(index, MAC)` of `dev` in the current thread's namespace.
fn link(dev: &str) -> (u32, [u8; 6]) {
    let link = Netif::open()
        .and_then(|mut n| n.link(dev))
        .unwrap_or_else(|e| panic!("no link {dev}: {e:#}"));
    (link.index, link.mac.expect("a veth has a MAC address"))
}

// === Sender / receiver harness ===

/// The sender's side of the handshake.
struct Sender {
    ready: mpsc::Receiver<()>,
    done: Arc<AtomicBool>,
    deadline: Instant,
}

impl Sender {
    /// Blocks until the receiver is listening.
    fn wait_ready(&self) {
        self.ready
            .recv_timeout(TIMEOUT)
            .expect("the receiver never got ready");
    }

    /// Whether to send again: the receiver has not finished and time is not up.
    fn more(&self) -> bool {
        !self.done.load(Ordering::SeqCst) && Instant::now() < self.deadline
    }
}

/// The receiver's side: `ready()` once its socket is open. Its drop (also on a panic)
/// stops the sender.
struct Receiver {
    ready: mpsc::Sender<()>,
    done: Arc<AtomicBool>,
}

impl Receiver {
    fn ready(&self) {
        self.ready.send(()).expect("the sender is gone");
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.done.store(true, Ordering::SeqCst);
    }
}

/// Runs `send` in namespace A and `receive` in B; both results. A panic on either side
/// fails the test, the sender's first (a receiver timing out is usually its consequence).
fn run_pair<S: Send + 'static, R: Send + 'static>(
    ns: &Netns,
    send: impl FnOnce(Sender) -> S + Send + 'static,
    receive: impl FnOnce(Receiver) -> R + Send + 'static,
) -> (S, R) {
    let (ready_tx, ready_rx) = mpsc::channel();
    let done = Arc::new(AtomicBool::new(false));
    let sender = Sender {
        ready: ready_rx,
        done: done.clone(),
        deadline: Instant::now() + TIMEOUT * 2,
    };
    let receiver = Receiver {
        ready: ready_tx,
        done,
    };
    let b = in_netns(&ns.b, move || receive(receiver));
    let a = in_netns(&ns.a, move || send(sender));
    let (a, b) = (a.join(), b.join());
    match (a, b) {
        (Ok(s), Ok(r)) => (s, r),
        (Err(panic), _) | (Ok(_), Err(panic)) => std::panic::resume_unwind(panic),
    }
}

// === VRRP adverts ===

fn advert(address: IpAddr) -> Advert {
    Advert {
        version: VrrpVersion::V3,
        vrid: 51,
        priority: 150,
        interval: Duration::from_secs(1),
        addresses: vec![address],
        auth: Auth::None,
    }
}

fn expect(family: Family) -> Expect {
    Expect {
        vrid: 51,
        version: VrrpVersion::V3,
        family,
        interval: Duration::from_secs(1),
        auth: Auth::None,
    }
}

fn config(
    dev: &str,
    index: u32,
    family: Family,
    unicast: Option<(IpAddr, IpAddr)>,
) -> SocketConfig {
    SocketConfig {
        ifindex: index,
        ifname: dev.to_owned(),
        family,
        unicast_source: unicast.map(|(source, _)| source),
        unicast_peers: unicast.map(|(_, peer)| peer).into_iter().collect(),
    }
}

/// What the receiver saw: source, destination, TTL, message, and `packet::validate`'s
/// verdict on it.
type Seen = (IpAddr, IpAddr, u8, Vec<u8>, Result<Advert, DropReason>);

/// Opens a `VrrpSocket` on `vb` and returns the first packet it receives.
fn receive_advert(rx: Receiver, family: Family, unicast: Option<(IpAddr, IpAddr)>) -> Seen {
    let (index, _) = link("vb");
    runtime().block_on(async move {
        let socket = VrrpSocket::open(&config("vb", index, family, unicast))
            .unwrap_or_else(|e| panic!("open on vb: {e:#}"));
        rx.ready();
        let mut buf = vec![0u8; 65536];
        let got: Received<'_> = tokio::time::timeout(TIMEOUT, socket.recv(&mut buf))
            .await
            .expect("no advert within the timeout")
            .unwrap_or_else(|e| panic!("recv on vb: {e:#}"));
        let verdict = packet::validate(&got, &expect(family));
        (got.src, got.dst, got.ttl, got.message.to_vec(), verdict)
    })
}

/// Opens a `VrrpSocket` on `va` and sends `msg` from `src` to its first destination until
/// the receiver has it; the destinations it reported.
fn send_advert(
    tx: Sender,
    family: Family,
    unicast: Option<(IpAddr, IpAddr)>,
    msg: Vec<u8>,
    src: IpAddr,
) -> Vec<IpAddr> {
    let (index, _) = link("va");
    tx.wait_ready();
    runtime().block_on(async move {
        let socket = VrrpSocket::open(&config("va", index, family, unicast))
            .unwrap_or_else(|e| panic!("open on va: {e:#}"));
        let destinations = socket.destinations();
        let dst = *destinations.first().expect("at least one destination");
        while tx.more() {
            socket
                .send(&msg, src, dst)
                .await
                .unwrap_or_else(|e| panic!("send from {src} to {dst}: {e:#}"));
            tokio::time::sleep(RESEND).await;
        }
        destinations
    })
}

/// Sends `advert` from A to B over `VrrpSocket`s; what A's socket gave as destinations
/// and what B saw.
fn exchange(
    family: Family,
    src: IpAddr,
    dst: IpAddr,
    unicast: Option<((IpAddr, IpAddr), (IpAddr, IpAddr))>,
    extra_on_a: Option<&str>,
) -> (Vec<IpAddr>, Seen, Vec<u8>) {
    let ns = Netns::new();
    if let Some(address) = extra_on_a {
        ip(&["-n", &ns.a, "addr", "add", address, "dev", "va", "nodad"]);
    }
    let msg = packet::encode(&advert(vip(family)), src, dst).expect("a valid advert");
    let sent = msg.clone();
    let (a_unicast, b_unicast) = (unicast.map(|u| u.0), unicast.map(|u| u.1));
    let (destinations, seen) = run_pair(
        &ns,
        move |tx| send_advert(tx, family, a_unicast, msg, src),
        move |rx| receive_advert(rx, family, b_unicast),
    );
    (destinations, seen, sent)
}

fn vip(family: Family) -> IpAddr {
    match family {
        Family::Inet => IpAddr::V4(VIP4),
        Family::Inet6 => IpAddr::V6(VIP6),
    }
}

#[test]
fn ipv4_multicast_advert_arrives_from_a_to_224_0_0_18_with_ttl_255_and_validates() {
    let (src, dst) = (IpAddr::V4(A4), IpAddr::V4(GROUP4));
    let (destinations, seen, sent) = exchange(Family::Inet, src, dst, None, None);
    assert_eq!(destinations, vec![dst]);
    assert_eq!(seen, (src, dst, 255, sent, Ok(advert(vip(Family::Inet)))));
}

#[test]
fn ipv6_multicast_advert_arrives_from_the_link_local_source_to_ff02_12_with_hop_limit_255_and_validates()
 {
    let (src, dst) = (IpAddr::V6(A_LL), IpAddr::V6(GROUP6));
    let (destinations, seen, sent) = exchange(Family::Inet6, src, dst, None, None);
    assert_eq!(destinations, vec![dst]);
    assert_eq!(seen, (src, dst, 255, sent, Ok(advert(vip(Family::Inet6)))));
}

#[test]
fn ipv4_unicast_advert_arrives_at_the_peer_address_with_ttl_255_and_validates() {
    let (a, b) = (IpAddr::V4(A4), IpAddr::V4(B4));
    let (destinations, seen, sent) = exchange(Family::Inet, a, b, Some(((a, b), (b, a))), None);
    assert_eq!(destinations, vec![b]);
    assert_eq!(seen, (a, b, 255, sent, Ok(advert(vip(Family::Inet)))));
}

#[test]
fn ipv6_unicast_advert_arrives_at_the_peer_address_with_hop_limit_255_and_validates() {
    let (a, b) = (IpAddr::V6(A6), IpAddr::V6(B6));
    let (destinations, seen, sent) = exchange(Family::Inet6, a, b, Some(((a, b), (b, a))), None);
    assert_eq!(destinations, vec![b]);
    assert_eq!(seen, (a, b, 255, sent, Ok(advert(vip(Family::Inet6)))));
}

/// The source `send` is given is the one on the wire, not the address the kernel would
/// pick (the interface's primary one): the checksum covers it.
#[test]
fn ipv4_multicast_advert_goes_out_from_the_given_secondary_address() {
    let secondary = Ipv4Addr::new(192, 0, 2, 11);
    let (src, dst) = (IpAddr::V4(secondary), IpAddr::V4(GROUP4));
    let (_, seen, sent) = exchange(Family::Inet, src, dst, None, Some("192.0.2.11/24"));
    assert_eq!(seen, (src, dst, 255, sent, Ok(advert(vip(Family::Inet)))));
}

#[test]
fn ipv6_multicast_advert_goes_out_from_the_given_one_of_two_link_local_addresses() {
    for (extra, chosen) in [
        ("fe80::c/64", A_LL),
        ("fe80::d/64", Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0xd)),
    ] {
        let (src, dst) = (IpAddr::V6(chosen), IpAddr::V6(GROUP6));
        let (_, seen, sent) = exchange(Family::Inet6, src, dst, None, Some(extra));
        assert_eq!(seen, (src, dst, 255, sent, Ok(advert(vip(Family::Inet6)))));
    }
}

/// Sends `msg` from a plain raw protocol-112 socket on A with TTL / hop limit 64, bound
/// to `src`, to `dst`, until B has it.
fn send_plain(tx: Sender, src: IpAddr, dst: IpAddr, msg: Vec<u8>) {
    tx.wait_ready();
    let domain = match dst {
        IpAddr::V4(_) => Domain::IPV4,
        IpAddr::V6(_) => Domain::IPV6,
    };
    let socket = Socket::new(
        domain,
        Type::RAW,
        Some(Protocol::from(i32::from(IPPROTO_VRRP))),
    )
    .expect("a raw socket");
    match dst {
        IpAddr::V4(_) => socket.set_ttl_v4(64),
        IpAddr::V6(_) => socket.set_unicast_hops_v6(64),
    }
    .expect("set the TTL / hop limit");
    socket
        .bind(&SocketAddr::new(src, 0).into())
        .expect("bind the source");
    while tx.more() {
        let sent = socket
            .send_to(&msg, &SocketAddr::new(dst, 0).into())
            .expect("send from the plain socket");
        assert_eq!(sent, msg.len());
        thread::sleep(RESEND);
    }
}

#[test]
fn ipv4_advert_sent_with_ttl_64_arrives_with_ttl_64_and_is_dropped_as_bad_ttl() {
    let ns = Netns::new();
    let (src, dst) = (IpAddr::V4(A4), IpAddr::V4(B4));
    let msg = packet::encode(&advert(vip(Family::Inet)), src, dst).expect("a valid advert");
    let sent = msg.clone();
    let ((), seen) = run_pair(
        &ns,
        move |tx| send_plain(tx, src, dst, msg),
        |rx| receive_advert(rx, Family::Inet, None),
    );
    assert_eq!(seen, (src, dst, 64, sent, Err(DropReason::BadTtl)));
}

#[test]
fn ipv6_advert_sent_with_hop_limit_64_arrives_with_hop_limit_64_and_is_dropped_as_bad_ttl() {
    let ns = Netns::new();
    let (src, dst) = (IpAddr::V6(A6), IpAddr::V6(B6));
    let msg = packet::encode(&advert(vip(Family::Inet6)), src, dst).expect("a valid advert");
    let sent = msg.clone();
    let ((), seen) = run_pair(
        &ns,
        move |tx| send_plain(tx, src, dst, msg),
        |rx| receive_advert(rx, Family::Inet6, None),
    );
    assert_eq!(seen, (src, dst, 64, sent, Err(DropReason::BadTtl)));
}

// === Announcements ===

/// A packet socket in B receiving frames of `ethertype`; returns the first one `wanted`
/// accepts (other traffic on the link, such as B's own neighbour discovery, is skipped).
fn capture(rx: Receiver, ethertype: u16, wanted: impl Fn(&[u8]) -> bool) -> Vec<u8> {
    let socket = Socket::new(
        Domain::PACKET,
        Type::RAW,
        Some(Protocol::from(i32::from(ethertype.to_be()))),
    )
    .expect("a packet socket");
    socket
        .set_read_timeout(Some(Duration::from_millis(100)))
        .expect("a read timeout");
    rx.ready();
    let deadline = Instant::now() + TIMEOUT;
    let mut buf = vec![0u8; 2048];
    while Instant::now() < deadline {
        match (&socket).read(&mut buf) {
            Ok(len) => {
                let frame = buf.get(..len).expect("read returns at most the buffer");
                if wanted(frame) {
                    return frame.to_vec();
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("capture failed: {e}"),
        }
    }
    panic!("no matching frame of ethertype {ethertype:#06x} within {TIMEOUT:?}");
}

/// Announces `addr` from A's `va` until B has seen it; A's MAC.
fn announce_from_a(tx: Sender, addr: IpAddr) -> [u8; 6] {
    let (index, mac) = link("va");
    tx.wait_ready();
    runtime().block_on(async move {
        let announcer = Announcer::open(index, packet::Family::of(&addr))
            .unwrap_or_else(|e| panic!("announcer on va: {e:#}"));
        while tx.more() {
            announcer
                .announce(addr, mac, false)
                .await
                .unwrap_or_else(|e| panic!("announce {addr}: {e:#}"));
            tokio::time::sleep(RESEND).await;
        }
    });
    mac
}

#[test]
fn gratuitous_arp_arrives_on_the_peer_as_exactly_the_frame_announce_builds() {
    let ns = Netns::new();
    let (mac, frame) = run_pair(
        &ns,
        |tx| announce_from_a(tx, IpAddr::V4(VIP4)),
        |rx| capture(rx, ETH_P_ARP, |f| f.get(28..32) == Some(&VIP4.octets()[..])),
    );
    assert_eq!(frame, gratuitous_arp(mac, VIP4).to_vec());
}

/// The fields of a received Ethernet + IPv6 + ICMPv6 frame that an unsolicited neighbour
/// advertisement is judged by.
#[derive(Debug, PartialEq, Eq)]
struct NaFrame {
    eth_dst: Vec<u8>,
    eth_src: Vec<u8>,
    ethertype: u16,
    ip_version: u8,
    payload_len: usize,
    next_header: u8,
    hop_limit: u8,
    src: Ipv6Addr,
    dst: Ipv6Addr,
    /// The ICMPv6 message with its checksum field zeroed.
    icmp: Vec<u8>,
    checksum_valid: bool,
}

fn na_frame(frame: &[u8]) -> NaFrame {
    let get = |range: std::ops::Range<usize>| {
        frame
            .get(range.clone())
            .unwrap_or_else(|| panic!("frame of {} bytes has no {range:?}", frame.len()))
            .to_vec()
    };
    let addr = |at: usize| {
        Ipv6Addr::from(<[u8; 16]>::try_from(get(at..at + 16).as_slice()).expect("16 bytes"))
    };
    let payload_len = usize::from(u16::from_be_bytes([get(18..19)[0], get(19..20)[0]]));
    let icmp_raw = get(54..54 + payload_len);
    let (src, dst) = (addr(22), addr(38));
    let mut icmp = icmp_raw.clone();
    icmp[2..4].copy_from_slice(&[0, 0]);
    NaFrame {
        eth_dst: get(0..6),
        eth_src: get(6..12),
        ethertype: u16::from_be_bytes([get(12..13)[0], get(13..14)[0]]),
        ip_version: get(14..15)[0] >> 4,
        payload_len,
        next_header: get(20..21)[0],
        hop_limit: get(21..22)[0],
        src,
        dst,
        icmp,
        checksum_valid: icmpv6_sum(src, dst, &icmp_raw) == 0xffff,
    }
}

/// The one's-complement sum of the ICMPv6 pseudo-header and message (RFC 8200 section
/// 8.1): 0xffff when the checksum in the message is right.
fn icmpv6_sum(src: Ipv6Addr, dst: Ipv6Addr, msg: &[u8]) -> u16 {
    let mut bytes = Vec::new();
    bytes.extend_from_slice(&src.octets());
    bytes.extend_from_slice(&dst.octets());
    bytes.extend_from_slice(&u32::try_from(msg.len()).expect("short").to_be_bytes());
    bytes.extend_from_slice(&[0, 0, 0, 58]);
    bytes.extend_from_slice(msg);
    if bytes.len() % 2 == 1 {
        bytes.push(0);
    }
    let mut sum: u32 = bytes
        .chunks_exact(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

#[test]
fn unsolicited_na_arrives_at_all_nodes_from_the_target_with_hop_limit_255_and_a_valid_checksum() {
    let ns = Netns::new();
    // The source of the advertisement is the target itself: it must be a local address.
    ip(&[
        "-n",
        &ns.a,
        "addr",
        "add",
        "2001:db8::100/64",
        "dev",
        "va",
        "nodad",
    ]);
    let is_na_for_vip = |f: &[u8]| {
        f.get(20) == Some(&58)
            && f.get(54) == Some(&136)
            && f.get(62..78) == Some(&VIP6.octets()[..])
    };
    let (mac, frame) = run_pair(
        &ns,
        |tx| announce_from_a(tx, IpAddr::V6(VIP6)),
        move |rx| capture(rx, ETH_P_IPV6, is_na_for_vip),
    );
    let na = unsolicited_na(mac, VIP6, false);
    assert_eq!(
        na_frame(&frame),
        NaFrame {
            eth_dst: vec![0x33, 0x33, 0, 0, 0, 1],
            eth_src: mac.to_vec(),
            ethertype: ETH_P_IPV6,
            ip_version: 6,
            payload_len: na.len(),
            next_header: 58,
            hop_limit: 255,
            src: VIP6,
            dst: ALL_NODES,
            icmp: na,
            checksum_valid: true,
        }
    );
    assert_eq!(frame.len(), 54 + 32, "nothing follows the advertisement");
}

#[test]
fn a_socket_refuses_to_send_an_address_of_the_other_family() {
    let ns = Netns::new();
    let (index, err) = in_netns(&ns.a, || {
        let (index, _) = link("va");
        let err = runtime().block_on(async move {
            let socket = VrrpSocket::open(&config("va", index, Family::Inet, None))
                .unwrap_or_else(|e| panic!("open on va: {e:#}"));
            socket
                .send(&[0; 8], IpAddr::V6(A_LL), IpAddr::V6(GROUP6))
                .await
                .expect_err("an IPv6 source on an IPv4 socket")
                .to_string()
        });
        (index, err)
    })
    .join()
    .unwrap_or_else(|p| std::panic::resume_unwind(p));
    assert_eq!(
        err,
        format!(
            "address fe80::a is not of the socket's family ipv4 on interface va (index {index})"
        )
    );
}
