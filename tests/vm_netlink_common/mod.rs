//! Shared by the real-kernel tests of the netlink backend (`vm_netlink*.rs`): builders for
//! model values, the ipvsadm witness, and the guard that keeps these tests inside the VM.
//!
//! `tests/vm/netlink.sh` runs every test in its own fresh network namespace (IPVS state is
//! per namespace), so each test starts from an empty table.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::process::Command;

use ipvsd::ipvs::backend::{Backend, BackendError, DestState, Observed, Op, ServiceState, Stats};
use ipvsd::ipvs::model::{
    DestKey, Destination, Family, Forwarding, Protocol, Scheduler, Service, ServiceEntry,
    ServiceKey, Table,
};
use ipvsd::ipvs::netlink::NetlinkBackend;

/// Connects to the kernel's IPVS, refusing to run anywhere but in the test VM: these tests
/// add and delete IPVS services.
pub fn backend() -> NetlinkBackend {
    assert_eq!(
        std::env::var("IPVSD_VM").as_deref(),
        Ok("1"),
        "refusing to program IPVS outside the test VM; run: bash tests/vm/netlink.sh"
    );
    NetlinkBackend::connect().expect("the VM kernel has IPVS")
}

/// Marks the test as skipped for `tests/vm/netlink.sh` (which counts it as skipped, not
/// passed) and prints why.
pub fn skip(reason: &str) {
    println!("vm-netlink-skip: {reason}");
}

/// True if the module is loaded or built in, or `modprobe` can load it (it is in the VM's
/// initramfs).
pub fn module_available(name: &str) -> bool {
    std::path::Path::new("/sys/module").join(name).exists()
        || Command::new("modprobe")
            .arg(name)
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
}

pub fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// `ipvsadm ARGS`, as lines with trailing blanks removed.
pub fn ipvsadm(args: &[&str]) -> Vec<String> {
    run("ipvsadm", args)
        .lines()
        .map(|l| l.trim_end().to_string())
        .collect()
}

/// `ipvsadm -S -n`: the independent witness of what the kernel holds.
pub fn saved() -> Vec<String> {
    ipvsadm(&["-S", "-n"])
}

pub fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address")
}

pub fn tcp(addr: &str, port: u16) -> ServiceKey {
    ServiceKey::Addr {
        protocol: Protocol::Tcp,
        addr: ip(addr),
        port,
    }
}

pub fn udp(addr: &str, port: u16) -> ServiceKey {
    ServiceKey::Addr {
        protocol: Protocol::Udp,
        addr: ip(addr),
        port,
    }
}

pub fn sctp(addr: &str, port: u16) -> ServiceKey {
    ServiceKey::Addr {
        protocol: Protocol::Sctp,
        addr: ip(addr),
        port,
    }
}

pub fn fwmark(family: Family, mark: u32) -> ServiceKey {
    ServiceKey::Fwmark { family, mark }
}

/// A non-persistent service: netmask per client (/32 or /128), as ipvsadm sends it.
pub fn service(key: ServiceKey, scheduler: Scheduler) -> Service {
    let netmask = match key.family() {
        Family::Inet => u32::MAX,
        Family::Inet6 => 128,
    };
    Service {
        key,
        scheduler,
        flags: 0,
        timeout: 0,
        netmask,
        pe_name: None,
    }
}

pub fn dest(addr: &str, port: u16, forwarding: Forwarding, weight: u32) -> Destination {
    Destination {
        key: DestKey {
            addr: ip(addr),
            port,
        },
        forwarding,
        weight,
        upper_threshold: 0,
        lower_threshold: 0,
    }
}

/// Applies each op, failing the test on the first error.
pub fn apply_all(b: &mut NetlinkBackend, ops: &[Op]) {
    for op in ops {
        if let Err(e) = b.apply(op) {
            panic!("{} {}: {e:#}", op.kind(), op.service_key());
        }
    }
}

/// The ops that create these services with their destinations.
pub fn add_ops(table: &[(Service, Vec<Destination>)]) -> Vec<Op> {
    let mut ops = Vec::new();
    for (s, dests) in table {
        ops.push(Op::AddService(s.clone()));
        ops.extend(dests.iter().map(|d| Op::AddDest(s.key, d.clone())));
    }
    ops
}

/// What a dump must return for a table that has seen no traffic: the model, zero counters.
pub fn observed(table: &[(Service, Vec<Destination>)]) -> Observed {
    table
        .iter()
        .map(|(s, dests)| {
            let dests: BTreeMap<DestKey, DestState> = dests
                .iter()
                .map(|d| {
                    let state = DestState {
                        dest: d.clone(),
                        active_conns: 0,
                        inactive_conns: 0,
                        persistent_conns: 0,
                        stats: Stats::default(),
                    };
                    (d.key, state)
                })
                .collect();
            let state = ServiceState {
                service: s.clone(),
                stats: Stats::default(),
                dests,
            };
            (s.key, state)
        })
        .collect()
}

/// Applies `table`, then checks both witnesses: ipvsadm's save output equals `lines`, and
/// our dump equals the model.
pub fn apply_and_check(table: &[(Service, Vec<Destination>)], lines: &[&str]) {
    let mut b = backend();
    apply_all(&mut b, &add_ops(table));
    assert_eq!(saved(), lines, "ipvsadm -S -n");
    assert_eq!(b.dump().expect("dump"), observed(table), "our dump");
}

/// The same services as a model table (what the IPVS task is asked to converge to).
pub fn table(entries: &[(Service, Vec<Destination>)]) -> Table {
    Table {
        services: entries
            .iter()
            .map(|(s, dests)| {
                let dests = dests.iter().map(|d| (d.key, d.clone())).collect();
                let entry = ServiceEntry {
                    service: s.clone(),
                    dests,
                };
                (s.key, entry)
            })
            .collect(),
    }
}

/// One result of `apply_all` in a word, for comparing whole batches: "ok", "exists",
/// "not found", "kernel ERRNO", "io ERRNO" (or "io" without one), "decode".
pub fn outcome(result: &Result<(), BackendError>) -> String {
    match result {
        Ok(()) => "ok".into(),
        Err(BackendError::Exists) => "exists".into(),
        Err(BackendError::NotFound) => "not found".into(),
        Err(BackendError::Kernel { errno }) => format!("kernel {errno}"),
        Err(BackendError::Io(e)) => match e.raw_os_error() {
            Some(errno) => format!("io {errno}"),
            None => "io".into(),
        },
        Err(BackendError::Decode(_)) => "decode".into(),
        Err(BackendError::Unavailable) => "unavailable".into(),
    }
}
