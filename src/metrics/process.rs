//! The standard process metrics (`process_cpu_seconds_total`, `process_resident_memory_bytes`,
//! `process_virtual_memory_bytes`, `process_open_fds`, `process_max_fds`,
//! `process_start_time_seconds`), read from /proc at scrape time.
//!
//! The parsing is pure (`parse_*`, unit-tested); `refresh` reads the files.

use std::sync::atomic::{AtomicU64, Ordering};

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// /proc's clock tick (USER_HZ): fixed at 100 by the Linux ABI.
const TICKS_PER_SECOND: f64 = 100.0;

pub struct Process {
    cpu_seconds: Counter<f64, AtomicU64>,
    /// The CPU seconds already added to the counter (f64 bits).
    cpu_seen: AtomicU64,
    resident_memory_bytes: Gauge,
    virtual_memory_bytes: Gauge,
    open_fds: Gauge,
    max_fds: Gauge,
    start_time_seconds: Gauge<f64, AtomicU64>,
}

impl Process {
    pub fn new() -> Process {
        let p = Process {
            cpu_seconds: Counter::default(),
            cpu_seen: AtomicU64::new(0f64.to_bits()),
            resident_memory_bytes: Gauge::default(),
            virtual_memory_bytes: Gauge::default(),
            open_fds: Gauge::default(),
            max_fds: Gauge::default(),
            start_time_seconds: Gauge::default(),
        };
        let boot = std::fs::read_to_string("/proc/stat")
            .ok()
            .and_then(|s| parse_btime(&s));
        let stat = std::fs::read_to_string("/proc/self/stat").ok();
        if let (Some(boot), Some(st)) = (boot, stat.as_deref().and_then(parse_stat)) {
            p.start_time_seconds
                .set(boot as f64 + st.start_ticks as f64 / TICKS_PER_SECOND);
        }
        p
    }

    pub fn register(&self, r: &mut Registry) {
        r.register(
            "process_cpu_seconds",
            "Total user and system CPU time spent in seconds",
            self.cpu_seconds.clone(),
        );
        r.register(
            "process_resident_memory_bytes",
            "Resident memory size in bytes",
            self.resident_memory_bytes.clone(),
        );
        r.register(
            "process_virtual_memory_bytes",
            "Virtual memory size in bytes",
            self.virtual_memory_bytes.clone(),
        );
        r.register(
            "process_open_fds",
            "Number of open file descriptors",
            self.open_fds.clone(),
        );
        r.register(
            "process_max_fds",
            "Maximum number of open file descriptors",
            self.max_fds.clone(),
        );
        r.register(
            "process_start_time_seconds",
            "Start time of the process since unix epoch in seconds",
            self.start_time_seconds.clone(),
        );
    }

    pub fn refresh(&self) {
        if let Some(st) = std::fs::read_to_string("/proc/self/stat")
            .ok()
            .as_deref()
            .and_then(parse_stat)
        {
            let cpu = (st.utime + st.stime) as f64 / TICKS_PER_SECOND;
            let seen = f64::from_bits(self.cpu_seen.swap(cpu.to_bits(), Ordering::Relaxed));
            if cpu > seen {
                self.cpu_seconds.inc_by(cpu - seen);
            }
            self.virtual_memory_bytes
                .set(i64::try_from(st.vsize).unwrap_or(i64::MAX));
        }
        if let Some(kb) = std::fs::read_to_string("/proc/self/status")
            .ok()
            .as_deref()
            .and_then(|s| parse_status_kb(s, "VmRSS"))
        {
            self.resident_memory_bytes
                .set(i64::try_from(kb * 1024).unwrap_or(i64::MAX));
        }
        if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
            self.open_fds.set(dir.count() as i64);
        }
        if let Some(max) = std::fs::read_to_string("/proc/self/limits")
            .ok()
            .as_deref()
            .and_then(parse_max_fds)
        {
            self.max_fds.set(i64::try_from(max).unwrap_or(i64::MAX));
        }
    }
}

impl Default for Process {
    fn default() -> Self {
        Self::new()
    }
}

#[derive(Debug, PartialEq, Eq)]
struct Stat {
    utime: u64,
    stime: u64,
    start_ticks: u64,
    vsize: u64,
}

/// Fields of /proc/PID/stat after the command name (which may hold spaces and ')').
fn parse_stat(s: &str) -> Option<Stat> {
    let rest = &s[s.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state): field N is f[N - 3].
    let n = |i: usize| f.get(i - 3)?.parse::<u64>().ok();
    Some(Stat {
        utime: n(14)?,
        stime: n(15)?,
        start_ticks: n(22)?,
        vsize: n(23)?,
    })
}

fn parse_btime(s: &str) -> Option<u64> {
    s.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

fn parse_status_kb(s: &str, key: &str) -> Option<u64> {
    s.lines().find_map(|l| {
        let v = l.strip_prefix(key)?.strip_prefix(':')?;
        v.split_whitespace().next()?.parse().ok()
    })
}

fn parse_max_fds(s: &str) -> Option<u64> {
    let line = s.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_read_after_a_command_name_with_spaces_and_parens() {
        let s = "1234 (ipv sd) (x)) S 1 1234 1234 0 -1 4194560 500 0 0 0 250 125 0 0 20 0 3 0 98765 123456789 2000 18446744073709551615";
        assert_eq!(
            parse_stat(s),
            Some(Stat {
                utime: 250,
                stime: 125,
                start_ticks: 98765,
                vsize: 123456789
            })
        );
        assert_eq!(parse_stat("garbage"), None);
        assert_eq!(parse_stat("1 (x) S 1"), None);
    }

    #[test]
    fn btime_status_and_limits_are_read() {
        assert_eq!(
            parse_btime("cpu 1 2\nbtime 1700000000\nprocesses 5\n"),
            Some(1_700_000_000)
        );
        assert_eq!(
            parse_status_kb("Name:\tipvsd\nVmRSS:\t   40960 kB\n", "VmRSS"),
            Some(40960)
        );
        assert_eq!(parse_status_kb("VmRSSx: 1 kB\n", "VmRSS"), None);
        let limits = "Limit                     Soft Limit           Hard Limit           Units\nMax open files            1024                 524288               files\n";
        assert_eq!(parse_max_fds(limits), Some(1024));
    }
}
