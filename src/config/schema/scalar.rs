//! Decoders for single values: integers in range, durations with units, addresses.
//!
//! Pure. Each returns `None` after recording a diagnostic at the node's location, so the
//! caller goes on and finds the next problem.

use std::net::IpAddr;
use std::time::Duration;

use crate::config::node::{Diags, Node, Path, Value};

pub fn string(node: &Node, path: &Path, d: &mut Diags) -> Option<String> {
    match &node.value {
        Value::Str(s) => Some(s.clone()),
        other => {
            d.push(
                node.loc,
                path,
                format!("expected a string, found {}", other.kind()),
            );
            None
        }
    }
}

pub fn nonempty_string(node: &Node, path: &Path, d: &mut Diags) -> Option<String> {
    let s = string(node, path, d)?;
    if s.trim().is_empty() {
        d.push(node.loc, path, "must not be empty");
        return None;
    }
    Some(s)
}

/// A name used as an identifier (interfaces, users, instance names): no whitespace.
pub fn name(node: &Node, path: &Path, d: &mut Diags) -> Option<String> {
    let s = nonempty_string(node, path, d)?;
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        d.push(node.loc, path, "must not contain whitespace");
        return None;
    }
    Some(s)
}

pub fn boolean(node: &Node, path: &Path, d: &mut Diags) -> Option<bool> {
    match &node.value {
        Value::Bool(b) => Some(*b),
        other => {
            d.push(
                node.loc,
                path,
                format!("expected true or false, found {}", other.kind()),
            );
            None
        }
    }
}

/// An integer within `min..=max`.
pub fn int<T: TryFrom<i128>>(
    node: &Node,
    path: &Path,
    d: &mut Diags,
    min: i128,
    max: i128,
) -> Option<T> {
    match &node.value {
        Value::Int(i) if *i < min || *i > max => {
            d.push(
                node.loc,
                path,
                format!("must be between {min} and {max} (got {i})"),
            );
            None
        }
        Value::Int(i) => T::try_from(*i).ok(),
        // YAML reads a whole number too large for 64 bits as a float.
        Value::Float(f) if f.fract() == 0.0 && f.abs() >= 9.2e18 => {
            d.push(
                node.loc,
                path,
                format!(
                    "must be between {min} and {max} (got a number of {} digits)",
                    f.abs().log10().floor() + 1.0
                ),
            );
            None
        }
        other => {
            d.push(
                node.loc,
                path,
                format!("expected an integer, found {}", other.kind()),
            );
            None
        }
    }
}

/// One of a fixed set of lower-case words.
pub fn one_of<'a>(node: &Node, path: &Path, d: &mut Diags, names: &[&'a str]) -> Option<&'a str> {
    let s = string(node, path, d)?;
    match names.iter().find(|n| **n == s) {
        Some(n) => Some(n),
        None => {
            d.push(
                node.loc,
                path,
                format!("`{s}` is not one of: {}", names.join(", ")),
            );
            None
        }
    }
}

/// A list; a null node (key with nothing after it) is an empty list.
pub fn list<'n>(node: &'n Node, path: &Path, d: &mut Diags) -> Option<&'n [Node]> {
    match &node.value {
        Value::Seq(items) => Some(items),
        Value::Null => Some(&[]),
        other => {
            d.push(
                node.loc,
                path,
                format!("expected a list, found {}", other.kind()),
            );
            None
        }
    }
}

/// Decodes every item of a list, keeping the good ones.
pub fn list_of<T>(
    node: &Node,
    path: &Path,
    d: &mut Diags,
    mut item: impl FnMut(&Node, &Path, &mut Diags) -> Option<T>,
) -> Vec<T> {
    let Some(items) = list(node, path, d) else {
        return Vec::new();
    };
    items
        .iter()
        .enumerate()
        .filter_map(|(i, n)| item(n, &path.index(i), d))
        .collect()
}

/// A duration written with units: `150ms`, `2s`, `5m`, `1h`, or combined `1m30s`.
pub fn duration(node: &Node, path: &Path, d: &mut Diags) -> Option<Duration> {
    match &node.value {
        Value::Str(s) => match parse_duration(s) {
            Ok(v) => Some(v),
            Err(e) => {
                d.push(node.loc, path, e);
                None
            }
        },
        Value::Int(i) => {
            d.push(
                node.loc,
                path,
                format!("durations need a unit: write `{i}s` or `{i}ms`"),
            );
            None
        }
        other => {
            d.push(
                node.loc,
                path,
                format!("expected a duration such as `2s`, found {}", other.kind()),
            );
            None
        }
    }
}

/// A duration within bounds, reported in the units the bounds are written in.
pub fn duration_in(
    node: &Node,
    path: &Path,
    d: &mut Diags,
    min: Duration,
    max: Duration,
) -> Option<Duration> {
    let v = duration(node, path, d)?;
    if v < min || v > max {
        d.push(
            node.loc,
            path,
            format!(
                "must be between {} and {} (got {})",
                fmt_duration(min),
                fmt_duration(max),
                fmt_duration(v)
            ),
        );
        return None;
    }
    Some(v)
}

pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad =
        || format!("`{s}` is not a duration: write a number with a unit (ms, s, m, h), e.g. `2s`");
    let mut rest = s.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total = Duration::ZERO;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        if digits == 0 {
            return Err(bad());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let part = match &rest[..unit_len] {
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            "m" => Duration::from_secs(n.saturating_mul(60)),
            "h" => Duration::from_secs(n.saturating_mul(3600)),
            _ => return Err(bad()),
        };
        total = total.checked_add(part).ok_or_else(bad)?;
        rest = &rest[unit_len..];
    }
    Ok(total)
}

/// Prints a duration the way the config writes it.
pub fn fmt_duration(v: Duration) -> String {
    let ms = v.as_millis();
    if ms == 0 {
        "0s".to_string()
    } else if ms % 3_600_000 == 0 {
        format!("{}h", ms / 3_600_000)
    } else if ms % 60_000 == 0 {
        format!("{}m", ms / 60_000)
    } else if ms % 1000 == 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

pub fn ip(node: &Node, path: &Path, d: &mut Diags) -> Option<IpAddr> {
    let s = string(node, path, d)?;
    match s.parse::<IpAddr>() {
        Ok(a) => Some(a),
        Err(_) => {
            d.push(node.loc, path, format!("`{s}` is not an IP address"));
            None
        }
    }
}

/// `ADDR:PORT`, `[V6]:PORT`, or a bare address (port `None`).
pub fn addr_port(node: &Node, path: &Path, d: &mut Diags) -> Option<(IpAddr, Option<u16>)> {
    let s = string(node, path, d)?;
    match parse_addr_port(&s) {
        Ok(v) => Some(v),
        Err(e) => {
            d.push(node.loc, path, e);
            None
        }
    }
}

pub fn parse_addr_port(s: &str) -> Result<(IpAddr, Option<u16>), String> {
    let bad = |why: &str| format!("`{s}` is not an address: {why}");
    if let Ok(a) = s.parse::<IpAddr>() {
        return Ok((a, None));
    }
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| bad("missing `]` after an IPv6 address"))?;
        if after.is_empty() {
            (host, None)
        } else {
            let port = after
                .strip_prefix(':')
                .ok_or_else(|| bad("expected `:PORT` after `]`"))?;
            (host, Some(port))
        }
    } else {
        let (host, port) = s
            .rsplit_once(':')
            .ok_or_else(|| bad("expected IP, IP:PORT or [IPv6]:PORT"))?;
        (host, Some(port))
    };
    let addr: IpAddr = host
        .parse()
        .map_err(|_| bad("expected IP, IP:PORT or [IPv6]:PORT"))?;
    let port = match port {
        None => None,
        Some(p) => Some(
            p.parse::<u16>()
                .map_err(|_| bad("the port must be a number from 0 to 65535"))?,
        ),
    };
    Ok((addr, port))
}

/// `ADDR/PREFIX`, or a bare address (full-length prefix).
pub fn cidr(node: &Node, path: &Path, d: &mut Diags) -> Option<(IpAddr, u8)> {
    let s = string(node, path, d)?;
    let (a, p) = match s.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (s.as_str(), None),
    };
    let Ok(addr) = a.parse::<IpAddr>() else {
        d.push(
            node.loc,
            path,
            format!("`{s}` is not an address or ADDRESS/PREFIX"),
        );
        return None;
    };
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = match p {
        None => max,
        Some(p) => match p.parse::<u8>() {
            Ok(n) if n <= max => n,
            _ => {
                d.push(
                    node.loc,
                    path,
                    format!("`{s}`: the prefix length must be between 0 and {max}"),
                );
                return None;
            }
        },
    };
    Some((addr, prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_need_units_and_may_be_combined() {
        assert_eq!(parse_duration("150ms"), Ok(Duration::from_millis(150)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        for bad in ["", "5", "s", "1.5s", "2 s", "-1s", "1d", "10sec"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn durations_print_in_their_largest_whole_unit() {
        assert_eq!(fmt_duration(Duration::from_millis(1500)), "1500ms");
        assert_eq!(fmt_duration(Duration::from_secs(120)), "2m");
        assert_eq!(fmt_duration(Duration::from_secs(61)), "61s");
        assert_eq!(fmt_duration(Duration::ZERO), "0s");
    }

    #[test]
    fn addresses_parse_with_and_without_ports() {
        let v4: IpAddr = "192.0.2.1".parse().unwrap();
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(parse_addr_port("192.0.2.1:80"), Ok((v4, Some(80))));
        assert_eq!(parse_addr_port("192.0.2.1"), Ok((v4, None)));
        assert_eq!(parse_addr_port("[2001:db8::1]:443"), Ok((v6, Some(443))));
        assert_eq!(parse_addr_port("2001:db8::1"), Ok((v6, None)));
        assert_eq!(parse_addr_port("[2001:db8::1]"), Ok((v6, None)));
        for bad in [
            "192.0.2.1:99999",
            "host:80",
            "2001:db8::1:80x",
            "[2001:db8::1",
            "192.0.2.1:",
        ] {
            assert!(parse_addr_port(bad).is_err(), "{bad:?} accepted");
        }
    }
}
