//! `checks`: health checks of real servers (tcp, http, https, dns, exec).
//!
//! Pure apart from the `Env` (CA, certificate and key files readable; exec program
//! executable). Keys that belong to another check type are reported as such.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use super::Env;
use super::scalar;
use crate::config::node::{Diags, Loc, MapReader, Node, Path, Value};
use crate::config::types::{
    Check, CheckKind, DnsCheck, DnsTransport, ExecCheck, HttpCheck, StatusSet, TlsCheck,
};

const COMMON_KEYS: &[&str] = &[
    "type",
    "interval",
    "timeout",
    "rise",
    "fall",
    "connect_address",
    "connect_port",
    "source_address",
];
const HTTP_KEYS: &[&str] = &[
    "method",
    "path",
    "host",
    "headers",
    "expect_status",
    "expect_body",
    "max_body_bytes",
];
const TLS_KEYS: &[&str] = &[
    "ca_file",
    "system_roots",
    "client_cert",
    "client_key",
    "server_name",
];
const DNS_KEYS: &[&str] = &["query_name", "query_type", "dns_protocol", "expect_answer"];
const EXEC_KEYS: &[&str] = &["program", "args", "user"];

pub const TYPES: &[&str] = &["tcp", "http", "https", "dns", "exec"];
const DNS_TYPES: &[&str] = &["A", "AAAA", "CNAME", "MX", "NS", "PTR", "SOA", "SRV", "TXT"];

pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(2);
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);
pub const DEFAULT_RISE: u32 = 2;
pub const DEFAULT_FALL: u32 = 3;
const DEFAULT_MAX_BODY: usize = 64 * 1024;

/// A list of checks; `None` if any of them is invalid.
pub fn decode_list(node: &Node, path: &Path, env: &dyn Env, d: &mut Diags) -> Option<Vec<Check>> {
    let items = scalar::list(node, path, d)?;
    let mut out = Vec::with_capacity(items.len());
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        match decode_one(item, &path.index(i), env, d) {
            Some(c) => out.push(c),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

/// Checks that need a port (tcp, http, https, dns) must have one: a real server with port 0
/// (fwmark or all-ports service) gives none, so the check must say `connect_port`.
pub fn check_targets(checks: &[Check], rs_port: u16, rs_path: &Path, loc: Loc, d: &mut Diags) {
    for (i, c) in checks.iter().enumerate() {
        let needs_port = !matches!(c.kind, CheckKind::Exec(_));
        if needs_port && rs_port == 0 && c.connect_port.is_none() {
            d.push(
                loc,
                &rs_path.key("checks").index(i),
                format!(
                    "this {} check needs `connect_port`: the real server has no port",
                    c.kind.name()
                ),
            );
        }
    }
}

fn decode_one(node: &Node, path: &Path, env: &dyn Env, d: &mut Diags) -> Option<Check> {
    let mut m = MapReader::new(node, path, d)?;
    let ty = match m.get("type") {
        Some(n) => scalar::one_of(n, &path.key("type"), d, TYPES),
        None => {
            d.push(
                node.loc,
                path,
                format!("missing `type` ({})", TYPES.join(", ")),
            );
            None
        }
    };
    let t = timing(
        &mut m,
        path,
        d,
        TimingDefaults {
            interval: DEFAULT_INTERVAL,
            timeout: Some(DEFAULT_TIMEOUT),
            rise: DEFAULT_RISE,
            fall: DEFAULT_FALL,
        },
        "a probe",
    );
    let connect_address = opt(&mut m, "connect_address", path, d, scalar::ip);
    let connect_port = opt(&mut m, "connect_port", path, d, |n, p, d| {
        scalar::int(n, p, d, 1, 65535)
    });
    let source_address = opt(&mut m, "source_address", path, d, scalar::ip);

    let ty = ty?;
    let kind = match ty {
        "tcp" => Some(CheckKind::Tcp),
        "http" => http(&mut m, path, d).map(CheckKind::Http),
        "https" => {
            let h = http(&mut m, path, d);
            let t = tls(&mut m, path, node.loc, env, d);
            Some(CheckKind::Https(h?, t?))
        }
        "dns" => dns(&mut m, path, node.loc, d).map(CheckKind::Dns),
        _ => exec(&mut m, path, node.loc, env, d).map(CheckKind::Exec),
    };
    report_foreign_keys(&mut m, ty, path, node, d);
    let allowed: Vec<&str> = COMMON_KEYS.iter().chain(keys_of(ty)).copied().collect();
    m.finish(d, &allowed);
    Some(Check {
        kind: kind?,
        interval: t.interval?,
        timeout: t.timeout?,
        rise: t.rise?,
        fall: t.fall?,
        connect_address: connect_address?,
        connect_port: connect_port?,
        source_address: source_address?,
    })
}

/// What `timing` takes when a key is absent.
pub struct TimingDefaults {
    pub interval: Duration,
    /// `None`: the interval; else this, or the interval if shorter.
    pub timeout: Option<Duration>,
    pub rise: u32,
    pub fall: u32,
}

/// How often something runs, how long it may take and how many results in a row change
/// its state; `None` where a key has problems.
pub struct Timing {
    pub interval: Option<Duration>,
    pub timeout: Option<Duration>,
    pub rise: Option<u32>,
    pub fall: Option<u32>,
}

/// `interval` (100ms-1h), `timeout` (10ms-1h, at most the interval), `rise` and `fall`
/// (1-1000) of a check or a script (`what` runs at most once per interval).
pub fn timing(
    m: &mut MapReader<'_>,
    path: &Path,
    d: &mut Diags,
    defaults: TimingDefaults,
    what: &str,
) -> Timing {
    let interval = match m.get("interval") {
        Some(n) => scalar::duration_in(
            n,
            &path.key("interval"),
            d,
            Duration::from_millis(100),
            Duration::from_secs(3600),
        ),
        None => Some(defaults.interval),
    };
    let timeout_node = m.get("timeout");
    let timeout = match timeout_node {
        Some(n) => scalar::duration_in(
            n,
            &path.key("timeout"),
            d,
            Duration::from_millis(10),
            Duration::from_secs(3600),
        ),
        None => {
            let i = interval.unwrap_or(defaults.interval);
            Some(defaults.timeout.map_or(i, |t| t.min(i)))
        }
    };
    if let (Some(i), Some(t), Some(n)) = (interval, timeout, timeout_node) {
        if t > i {
            d.push(
                n.loc,
                &path.key("timeout"),
                format!(
                    "must not exceed interval ({} > {}): {what} runs at most once per interval",
                    scalar::fmt_duration(t),
                    scalar::fmt_duration(i)
                ),
            );
        }
    }
    let rise = match m.get("rise") {
        Some(n) => scalar::int(n, &path.key("rise"), d, 1, 1000),
        None => Some(defaults.rise),
    };
    let fall = match m.get("fall") {
        Some(n) => scalar::int(n, &path.key("fall"), d, 1, 1000),
        None => Some(defaults.fall),
    };
    Timing {
        interval,
        timeout,
        rise,
        fall,
    }
}

fn keys_of(ty: &str) -> impl Iterator<Item = &'static &'static str> {
    let (a, b): (&[&str], &[&str]) = match ty {
        "http" => (HTTP_KEYS, &[]),
        "https" => (HTTP_KEYS, TLS_KEYS),
        "dns" => (DNS_KEYS, &[]),
        "exec" => (EXEC_KEYS, &[]),
        _ => (&[], &[]),
    };
    a.iter().chain(b.iter())
}

/// A key valid for another check type gets a clearer message than "unknown key". It is
/// marked as read so `finish` does not report it twice.
fn report_foreign_keys(m: &mut MapReader<'_>, ty: &str, path: &Path, node: &Node, d: &mut Diags) {
    let Value::Map(entries) = &node.value else {
        return;
    };
    let mine: Vec<&str> = keys_of(ty).copied().collect();
    for (key, _) in entries {
        let k = key.name.as_str();
        if COMMON_KEYS.contains(&k) || mine.contains(&k) {
            continue;
        }
        let owner = TYPES.iter().find(|t| keys_of(t).any(|x| *x == k));
        if let Some(owner) = owner {
            m.get(k);
            d.push(
                key.loc,
                &path.key(k),
                format!("`{k}` belongs to {owner} checks, not {ty} checks"),
            );
        }
    }
}

fn opt<T>(
    m: &mut MapReader<'_>,
    key: &str,
    path: &Path,
    d: &mut Diags,
    f: impl Fn(&Node, &Path, &mut Diags) -> Option<T>,
) -> Option<Option<T>> {
    match m.get(key) {
        Some(n) => f(n, &path.key(key), d).map(Some),
        None => Some(None),
    }
}

fn http(m: &mut MapReader<'_>, path: &Path, d: &mut Diags) -> Option<HttpCheck> {
    let method = match m.get("method") {
        Some(n) => http_method(n, &path.key("method"), d),
        None => Some("GET".to_string()),
    };
    let req_path = match m.get("path") {
        Some(n) => http_path(n, &path.key("path"), d),
        None => Some("/".to_string()),
    };
    let host = opt(m, "host", path, d, header_value);
    let headers = match m.get("headers") {
        Some(n) => headers(n, &path.key("headers"), d),
        None => Some(BTreeMap::new()),
    };
    let expect_status = match m.get("expect_status") {
        Some(n) => status_set(n, &path.key("expect_status"), d),
        None => Some(StatusSet(vec![(200, 299)])),
    };
    let expect_body = opt(m, "expect_body", path, d, |n, p, d| {
        let s = scalar::string(n, p, d)?;
        match regex::Regex::new(&s) {
            Ok(_) => Some(s),
            Err(e) => {
                let why = e.to_string();
                let why = why
                    .lines()
                    .last()
                    .unwrap_or("invalid")
                    .trim_start_matches("error: ");
                d.push(n.loc, p, format!("not a valid regular expression: {why}"));
                None
            }
        }
    });
    let max_body_bytes = match m.get("max_body_bytes") {
        Some(n) => scalar::int(n, &path.key("max_body_bytes"), d, 1, 16 * 1024 * 1024),
        None => Some(DEFAULT_MAX_BODY),
    };
    Some(HttpCheck {
        method: method?,
        path: req_path?,
        host: host?,
        headers: headers?,
        expect_status: expect_status?,
        expect_body: expect_body?,
        max_body_bytes: max_body_bytes?,
    })
}

fn http_method(n: &Node, p: &Path, d: &mut Diags) -> Option<String> {
    let s = scalar::nonempty_string(n, p, d)?;
    if !s.bytes().all(|b| b.is_ascii_uppercase()) {
        d.push(
            n.loc,
            p,
            format!("`{s}` is not an HTTP method such as GET or HEAD"),
        );
        return None;
    }
    Some(s)
}

fn http_path(n: &Node, p: &Path, d: &mut Diags) -> Option<String> {
    let s = scalar::string(n, p, d)?;
    if !s.starts_with('/') || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        d.push(n.loc, p, "must start with `/` and contain no spaces");
        return None;
    }
    Some(s)
}

fn header_value(n: &Node, p: &Path, d: &mut Diags) -> Option<String> {
    let s = scalar::nonempty_string(n, p, d)?;
    if s.chars().any(|c| c == '\r' || c == '\n') {
        d.push(n.loc, p, "must not contain line breaks");
        return None;
    }
    Some(s)
}

fn headers(node: &Node, path: &Path, d: &mut Diags) -> Option<BTreeMap<String, String>> {
    let Value::Map(entries) = &node.value else {
        d.push(
            node.loc,
            path,
            format!(
                "expected a mapping of header names to values, found {}",
                node.value.kind()
            ),
        );
        return None;
    };
    let mut out = BTreeMap::new();
    let mut ok = true;
    for (k, v) in entries {
        let p = path.key(&k.name);
        let valid_name = !k.name.is_empty()
            && k.name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_!#$%&'*+.^`|~".contains(&b));
        if !valid_name {
            d.push(
                k.loc,
                &p,
                format!("`{}` is not a valid header name", k.name),
            );
            ok = false;
        } else if k.name.eq_ignore_ascii_case("host") {
            d.push(k.loc, &p, "set the Host header with the check's `host` key");
            ok = false;
        }
        match header_value(v, &p, d) {
            Some(val) => {
                out.insert(k.name.clone(), val);
            }
            None => ok = false,
        }
    }
    ok.then_some(out)
}

/// `[200, 204, "300-399"]`, or a single code or range.
fn status_set(node: &Node, path: &Path, d: &mut Diags) -> Option<StatusSet> {
    let single = std::slice::from_ref(node);
    let items = match &node.value {
        Value::Seq(items) => items.as_slice(),
        _ => single,
    };
    if items.is_empty() {
        d.push(node.loc, path, "must list at least one status code");
        return None;
    }
    let mut out = Vec::new();
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        let p = if matches!(node.value, Value::Seq(_)) {
            path.index(i)
        } else {
            path.clone()
        };
        let range = match &item.value {
            Value::Int(_) => scalar::int::<u16>(item, &p, d, 100, 599).map(|c| (c, c)),
            Value::Str(s) => match parse_status_range(s) {
                Some(r) => Some(r),
                None => {
                    d.push(
                        item.loc,
                        &p,
                        format!("`{s}` is not a status code or range such as 200-299"),
                    );
                    None
                }
            },
            other => {
                d.push(
                    item.loc,
                    &p,
                    format!("expected a status code, found {}", other.kind()),
                );
                None
            }
        };
        match range {
            Some(r) => out.push(r),
            None => ok = false,
        }
    }
    ok.then_some(StatusSet(out))
}

fn parse_status_range(s: &str) -> Option<(u16, u16)> {
    let (lo, hi) = s.split_once('-').unwrap_or((s, s));
    let lo: u16 = lo.trim().parse().ok()?;
    let hi: u16 = hi.trim().parse().ok()?;
    ((100..=599).contains(&lo) && (lo..=599).contains(&hi)).then_some((lo, hi))
}

fn file(env: &dyn Env, n: &Node, p: &Path, d: &mut Diags) -> Option<PathBuf> {
    let s = scalar::nonempty_string(n, p, d)?;
    let path = env.resolve(&PathBuf::from(&s));
    if let Err(why) = env.check_readable(&path) {
        d.push(n.loc, p, format!("cannot read {s}: {why}"));
        return None;
    }
    Some(path)
}

fn tls(
    m: &mut MapReader<'_>,
    path: &Path,
    loc: Loc,
    env: &dyn Env,
    d: &mut Diags,
) -> Option<TlsCheck> {
    let ca_file = opt(m, "ca_file", path, d, |n, p, d| file(env, n, p, d));
    let system_roots = match m.get("system_roots") {
        Some(n) => scalar::boolean(n, &path.key("system_roots"), d),
        None => Some(false),
    };
    let cert_node = m.get("client_cert");
    let key_node = m.get("client_key");
    let client_cert = opt(m, "client_cert", path, d, |n, p, d| file(env, n, p, d));
    let client_key = opt(m, "client_key", path, d, |n, p, d| file(env, n, p, d));
    match (cert_node, key_node) {
        (Some(n), None) => d.push(n.loc, &path.key("client_cert"), "needs `client_key` too"),
        (None, Some(n)) => d.push(n.loc, &path.key("client_key"), "needs `client_cert` too"),
        _ => {}
    }
    let server_name = opt(m, "server_name", path, d, scalar::name);
    if let (Some(None), Some(false)) = (&ca_file, system_roots) {
        d.push(
            loc,
            path,
            "an https check verifies the server certificate: set `ca_file`, or `system_roots: true`",
        );
        return None;
    }
    Some(TlsCheck {
        ca_file: ca_file?,
        system_roots: system_roots?,
        client_cert: client_cert?,
        client_key: client_key?,
        server_name: server_name?,
    })
}

fn dns(m: &mut MapReader<'_>, path: &Path, loc: Loc, d: &mut Diags) -> Option<DnsCheck> {
    let query_name = match m.get("query_name") {
        Some(n) => scalar::name(n, &path.key("query_name"), d),
        None => {
            d.push(loc, path, "a dns check needs `query_name`");
            None
        }
    };
    let query_type = match m.get("query_type") {
        Some(n) => scalar::one_of(n, &path.key("query_type"), d, DNS_TYPES).map(str::to_string),
        None => Some("A".to_string()),
    };
    let protocol = match m.get("dns_protocol") {
        Some(n) => scalar::one_of(n, &path.key("dns_protocol"), d, &["udp", "tcp"]).map(|s| {
            if s == "tcp" {
                DnsTransport::Tcp
            } else {
                DnsTransport::Udp
            }
        }),
        None => Some(DnsTransport::Udp),
    };
    let expect_answer = opt(m, "expect_answer", path, d, scalar::nonempty_string);
    Some(DnsCheck {
        query_name: query_name?,
        query_type: query_type?,
        protocol: protocol?,
        expect_answer: expect_answer?,
    })
}

/// An absolute path to an executable file (exec checks, notify commands).
pub fn program(n: &Node, p: &Path, what: &str, env: &dyn Env, d: &mut Diags) -> Option<PathBuf> {
    let s = scalar::nonempty_string(n, p, d)?;
    let prog = PathBuf::from(&s);
    if !prog.is_absolute() {
        d.push(
            n.loc,
            p,
            format!("must be an absolute path ({what} run without a shell or PATH)"),
        );
        return None;
    }
    if let Err(why) = env.check_executable(&prog) {
        d.push(n.loc, p, format!("cannot run {s}: {why}"));
        return None;
    }
    Some(prog)
}

fn exec(
    m: &mut MapReader<'_>,
    path: &Path,
    loc: Loc,
    env: &dyn Env,
    d: &mut Diags,
) -> Option<ExecCheck> {
    let program = match m.get("program") {
        Some(n) => program(n, &path.key("program"), "checks", env, d),
        None => {
            d.push(loc, path, "an exec check needs `program`");
            None
        }
    };
    let args = match m.get("args") {
        Some(n) => {
            let p = path.key("args");
            let before = d.len();
            let v = scalar::list_of(n, &p, d, scalar::string);
            (d.len() == before).then_some(v)
        }
        None => Some(Vec::new()),
    };
    let user = opt(m, "user", path, d, scalar::name);
    Some(ExecCheck {
        program: program?,
        args: args?,
        user: user?,
    })
}
