//! A small YAML writer for the importers: block mappings and lists, flow lists of short
//! scalars, comments, and strings quoted whenever a plain scalar could be read back as
//! anything else.
//!
//! Pure. Only what the importers emit: no anchors, no multi-line strings (line breaks and
//! other control characters are escaped inside double quotes).

use std::fmt::Write;
use std::time::Duration;

/// A YAML value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// A string: written plain when that reads back as the same string, else quoted.
    Str(String),
    /// An integer.
    Int(i64),
    /// `true` or `false`.
    Bool(bool),
    /// A list; written `[a, b]` when every item is a short scalar, else one item a line.
    Seq(Vec<Item>),
    /// A mapping, keys in insertion order.
    Map(Map),
}

impl Value {
    pub fn str(s: impl Into<String>) -> Value {
        Value::Str(s.into())
    }

    pub fn int(i: impl Into<i64>) -> Value {
        Value::Int(i.into())
    }

    /// `60s`, `1500ms`, `2m`: the config's duration syntax.
    pub fn duration(d: Duration) -> Value {
        Value::Str(crate::config::schema::fmt_duration(d))
    }

    /// A list of plain items without comments.
    pub fn seq(items: impl IntoIterator<Item = Value>) -> Value {
        Value::Seq(items.into_iter().map(Item::new).collect())
    }

    fn is_scalar(&self) -> bool {
        matches!(self, Value::Str(_) | Value::Int(_) | Value::Bool(_))
    }
}

/// A list item with the comment lines written above it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    pub value: Value,
    pub before: Vec<String>,
}

impl Item {
    pub fn new(value: Value) -> Item {
        Item {
            value,
            before: Vec::new(),
        }
    }

    pub fn with_comments(value: Value, before: Vec<String>) -> Item {
        Item { value, before }
    }
}

/// One `key: value` with an optional comment at the end of its line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub key: String,
    pub value: Value,
    pub comment: Option<String>,
}

/// A mapping that keeps its keys in the order they were added.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Map {
    pub entries: Vec<Entry>,
}

impl Map {
    pub fn new() -> Map {
        Map::default()
    }

    pub fn push(&mut self, key: &str, value: Value) -> &mut Map {
        self.entries.push(Entry {
            key: key.to_string(),
            value,
            comment: None,
        });
        self
    }

    /// Adds `key: value  # comment`.
    pub fn push_commented(&mut self, key: &str, value: Value, comment: impl Into<String>) {
        self.entries.push(Entry {
            key: key.to_string(),
            value,
            comment: Some(comment.into()),
        });
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.entries.iter().find(|e| e.key == key).map(|e| &e.value)
    }

    pub fn remove(&mut self, key: &str) -> Option<Value> {
        let i = self.entries.iter().position(|e| e.key == key)?;
        Some(self.entries.remove(i).value)
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// The whole document: `comment` lines first (each prefixed with `# `), then `root`, its
/// top-level keys separated by blank lines.
pub fn document(comment: &[String], root: &Map) -> String {
    let mut out = String::new();
    for line in comment {
        push_comment_line(&mut out, 0, line);
    }
    for e in &root.entries {
        if !out.is_empty() {
            out.push('\n');
        }
        write_entry(&mut out, e, 0);
    }
    out
}

const INDENT: usize = 2;
/// Flow lists longer than this are written one item a line.
const MAX_FLOW: usize = 72;

fn pad(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

fn push_comment_line(out: &mut String, indent: usize, text: &str) {
    pad(out, indent);
    if text.is_empty() {
        out.push_str("#\n");
    } else {
        let _ = writeln!(out, "# {}", one_line(text));
    }
}

/// Comments cannot span lines: line breaks become spaces.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// `first_inline`: the first key goes on the current line (after a list item's `- `).
fn write_map(out: &mut String, map: &Map, indent: usize, first_inline: bool) {
    for (i, e) in map.entries.iter().enumerate() {
        if i > 0 || !first_inline {
            pad(out, indent);
        }
        write_entry(out, e, indent);
    }
}

fn write_entry(out: &mut String, e: &Entry, indent: usize) {
    out.push_str(&scalar_text(&Value::Str(e.key.clone())));
    out.push(':');
    match inline(&e.value) {
        Some(text) => {
            out.push(' ');
            out.push_str(&text);
            trailing_comment(out, e.comment.as_deref());
        }
        None => {
            trailing_comment(out, e.comment.as_deref());
            match &e.value {
                Value::Map(m) => write_map(out, m, indent + INDENT, false),
                Value::Seq(items) => write_seq(out, items, indent + INDENT),
                _ => unreachable!("scalars are inline"),
            }
        }
    }
}

fn trailing_comment(out: &mut String, comment: Option<&str>) {
    if let Some(c) = comment {
        let _ = write!(out, "  # {}", one_line(c));
    }
    out.push('\n');
}

/// The value written on the key's line, or `None` when it takes the following lines.
fn inline(v: &Value) -> Option<String> {
    match v {
        Value::Map(m) if m.is_empty() => Some("{}".to_string()),
        Value::Seq(items) if items.is_empty() => Some("[]".to_string()),
        Value::Seq(items)
            if items
                .iter()
                .all(|i| i.value.is_scalar() && i.before.is_empty()) =>
        {
            let parts: Vec<String> = items.iter().map(|i| scalar_text(&i.value)).collect();
            let text = format!("[{}]", parts.join(", "));
            (text.len() <= MAX_FLOW).then_some(text)
        }
        Value::Map(_) | Value::Seq(_) => None,
        scalar => Some(scalar_text(scalar)),
    }
}

fn write_seq(out: &mut String, items: &[Item], indent: usize) {
    for item in items {
        for c in &item.before {
            push_comment_line(out, indent, c);
        }
        pad(out, indent);
        out.push_str("- ");
        match &item.value {
            Value::Map(m) if !m.is_empty() => write_map(out, m, indent + INDENT, true),
            Value::Seq(inner) if !inner.is_empty() && inline(&item.value).is_none() => {
                // A list in a list: start it on the next line.
                out.push('\n');
                write_seq(out, inner, indent + INDENT);
            }
            v => {
                out.push_str(&inline(v).unwrap_or_default());
                out.push('\n');
            }
        }
    }
}

fn scalar_text(v: &Value) -> String {
    match v {
        Value::Int(i) => i.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Str(s) if plain_ok(s) => s.clone(),
        Value::Str(s) => quote(s),
        Value::Seq(_) | Value::Map(_) => unreachable!("not a scalar"),
    }
}

/// Whether `s` can be written without quotes and read back as the same string: only
/// characters that are never special inside a plain scalar, no indicator at the start,
/// and not a word YAML reads as something else (`true`, `null`, `1.5`, `0x10`, `1:20`,
/// `.inf`; YAML 1.1's `yes`/`no`/`on`/`off` too, for readers other than ipvsd's).
fn plain_ok(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    let safe = |c: char| c.is_ascii_alphanumeric() || "_./@+-:=~".contains(c);
    if !s.chars().all(safe)
        || !(first.is_ascii_alphanumeric() || first == '/' || first == '_')
        || s.ends_with(':')
    {
        return false;
    }
    let lower = s.to_ascii_lowercase();
    const WORDS: &[&str] = &[
        "true", "false", "null", "yes", "no", "on", "off", "y", "n", "nan", "inf",
    ];
    if WORDS.contains(&lower.as_str()) {
        return false;
    }
    !looks_numeric(s)
}

/// Integers, floats and sexagesimal numbers in YAML 1.1 or 1.2 spelling: anything made only
/// of digits and number punctuation, or `0x`/`0o`/`0b` prefixed.
fn looks_numeric(s: &str) -> bool {
    let body = s.trim_start_matches(['+', '-']);
    let lower = body.to_ascii_lowercase();
    if lower.starts_with("0x") || lower.starts_with("0o") || lower.starts_with("0b") {
        return true;
    }
    let starts_numeric = body.starts_with(|c: char| c.is_ascii_digit() || c == '.');
    // `192.0.2.7`, `192.0.2.7:80`, `198.51.100.0/24`: more than one dot is never a number.
    let dots = body.matches('.').count();
    starts_numeric
        && dots <= 1
        && body
            .chars()
            .all(|c| c.is_ascii_digit() || "._:eE+-".contains(c))
}

/// A double-quoted YAML string with `\`, `"` and control characters escaped.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            '\u{85}' | '\u{2028}' | '\u{2029}' | '\u{feff}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::node::{self, Value as N};

    /// Writes `k: <s>` and reads it back with the config's own YAML parser.
    fn read_back(s: &str) -> N {
        let mut m = Map::new();
        m.push("k", Value::str(s));
        let text = document(&[], &m);
        let root = node::parse(&text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        let N::Map(entries) = root.value else {
            panic!("not a map: {text}")
        };
        entries.into_iter().next().unwrap().1.value
    }

    #[test]
    fn every_string_reads_back_as_the_same_string() {
        let samples = [
            "web",
            "tcp/192.0.2.7:80",
            "[2001:db8::1]:443",
            "2001:db8::1",
            "192.0.2.7",
            "192.0.2.7/24",
            "60s",
            "1500ms",
            "1.5",
            "10",
            "0x10",
            "1:20",
            "1e3",
            ".inf",
            "true",
            "yes",
            "No",
            "null",
            "~",
            "",
            " leading space",
            "trailing space ",
            "a: b",
            "a #b",
            "#c",
            "-x",
            "- x",
            "?x",
            "*alias",
            "&anchor",
            "!tag",
            "%percent",
            "@at",
            "`tick",
            "{x}",
            "x, y",
            "quote\"inside",
            "back\\slash",
            "line\nbreak",
            "tab\there",
            "bell\x07",
            "del\x7f",
            "nel\u{85}",
            "ls\u{2028}",
            "ünïcödé",
            "'single'",
            "|",
            ">",
            "x:",
            "ends with :",
            "200-299",
            "/usr/bin/check",
            "--port=80",
            "$HOME",
            "a|b",
        ];
        for s in samples {
            match read_back(s) {
                N::Str(got) => assert_eq!(got, s, "{s:?}"),
                other => panic!("{s:?} read back as {other:?}"),
            }
        }
    }

    #[test]
    fn safe_strings_are_plain_and_others_quoted() {
        assert_eq!(scalar_text(&Value::str("192.0.2.7:80")), "192.0.2.7:80");
        assert_eq!(scalar_text(&Value::str("60s")), "60s");
        assert_eq!(scalar_text(&Value::str("eth0")), "eth0");
        assert_eq!(
            scalar_text(&Value::str("[2001:db8::1]:80")),
            "\"[2001:db8::1]:80\""
        );
        assert_eq!(scalar_text(&Value::str("10")), "\"10\"");
        assert_eq!(scalar_text(&Value::str("on")), "\"on\"");
        assert_eq!(scalar_text(&Value::str("a\"b\\c\n")), "\"a\\\"b\\\\c\\n\"");
    }

    #[test]
    fn nested_documents_are_laid_out_in_blocks_with_comments() {
        let mut check = Map::new();
        check.push("type", Value::str("http"));
        check.push(
            "expect_status",
            Value::seq([Value::int(200), Value::str("300-399")]),
        );
        let mut rs = Map::new();
        rs.push("address", Value::str("198.51.100.2:80"));
        rs.push_commented("weight", Value::int(2), "was 2");
        let mut vs = Map::new();
        vs.push("name", Value::str("web"));
        vs.push("persistence", Value::Map(Map::new()));
        vs.push("checks", Value::Seq(vec![Item::new(Value::Map(check))]));
        vs.push(
            "real_servers",
            Value::Seq(vec![Item::with_comments(
                Value::Map(rs),
                vec!["from a.conf:3".into()],
            )]),
        );
        let mut root = Map::new();
        root.push(
            "virtual_servers",
            Value::Seq(vec![Item::new(Value::Map(vs))]),
        );
        root.push("vrrp_instances", Value::Seq(vec![]));
        let text = document(&["header".to_string(), String::new()], &root);
        let text = text.replacen("#\n\n", "#\n", 1);
        assert_eq!(
            text,
            "# header\n\
             #\n\
             virtual_servers:\n\
             \x20 - name: web\n\
             \x20   persistence: {}\n\
             \x20   checks:\n\
             \x20     - type: http\n\
             \x20       expect_status: [200, \"300-399\"]\n\
             \x20   real_servers:\n\
             \x20     # from a.conf:3\n\
             \x20     - address: 198.51.100.2:80\n\
             \x20       weight: 2  # was 2\n\
             \n\
             vrrp_instances: []\n"
        );
        assert!(node::parse(&text).is_ok());
    }
}
