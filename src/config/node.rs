//! A YAML document as a tree of located nodes, and the error collector used to decode it.
//!
//! Pure. serde-saphyr parses the text (it owns YAML syntax, anchors, merges and reports
//! syntax errors with their location); every node keeps the line and column it came from.
//! Decoding the tree into typed config is then done by hand in `schema/`, which lets the
//! loader report *every* problem in a file at once (serde stops at the first unknown key or
//! type error) while still pointing at the exact line and column of each one.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

/// 1-based line and column of a node in the source text; 0:0 when unknown.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Loc {
    pub line: u64,
    pub column: u64,
}

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

impl Loc {
    fn from_location(l: &serde_saphyr::Location) -> Self {
        Loc {
            line: l.line(),
            column: l.column(),
        }
    }
}

/// One YAML node with its location.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub value: Value,
    pub loc: Loc,
}

/// A mapping key: YAML allows any scalar as a key; the schema only uses strings.
#[derive(Clone, Debug, PartialEq)]
pub struct Key {
    pub name: String,
    pub loc: Loc,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Key, Node)>),
}

impl Value {
    /// What the node is, for "expected X, found Y" messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a float",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

/// Deepest nesting of mappings and lists a config may have.
pub const MAX_DEPTH: usize = 32;

/// Parses YAML text into a node tree. Syntax errors come back with their location.
pub fn parse(text: &str) -> Result<Node, Diag> {
    let mut options = serde_saphyr::Options::default();
    // Duplicate keys are reported by `MapReader`, together with every other problem.
    options.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::PassThrough;
    // YAML 1.2 booleans only: `on`, `yes`, `no` stay strings instead of silently flipping.
    options.strict_booleans = true;
    // No config is nested more than a dozen levels; a hostile file stops here, long
    // before the recursive parser needs much stack.
    let mut budget = serde_saphyr::Budget::default();
    budget.max_depth = MAX_DEPTH;
    options.budget = Some(budget);
    match serde_saphyr::from_str_with_options::<Option<Node>>(text, options) {
        Ok(Some(node)) => Ok(node),
        // An empty document is an empty mapping: every section has defaults.
        Ok(None) => Ok(Node {
            value: Value::Map(Vec::new()),
            loc: Loc { line: 1, column: 1 },
        }),
        Err(e) => {
            let loc = e
                .location()
                .map(|l| Loc::from_location(&l))
                .unwrap_or_default();
            // serde-saphyr renders a snippet; the first line is the message itself.
            let rendered = e.without_snippet().to_string();
            let message = rendered
                .lines()
                .next()
                .unwrap_or("invalid YAML")
                .to_string();
            Err(Diag {
                loc,
                path: String::new(),
                message: format!("invalid YAML: {}", plain(&message)),
            })
        }
    }
}

/// The parser's limits in words: they stop hostile files (deep nesting, alias bombs) and
/// an operator should see why, not the parser's internal names.
fn plain(message: &str) -> String {
    let limit = if message.contains("recursion limit exceeded") || message.contains("Depth {") {
        "nested too deeply"
    } else if message.contains("Nodes {") || message.contains("Aliases {") {
        "more YAML nodes than a config may have (aliases expanding too far, or a file far larger than any real config)"
    } else if message.contains("budget breached") {
        "too large for a config file"
    } else {
        return message.to_string();
    };
    match message.find(" at line ") {
        Some(at) => format!("{limit}{}", &message[at..]),
        None => limit.to_string(),
    }
}

// === serde glue ===

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<Value>::deserialize(d)?;
        Ok(Node {
            loc: Loc::from_location(&spanned.referenced),
            value: spanned.value,
        })
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Int(v.into()))
    }
    fn visit_i128<E>(self, v: i128) -> Result<Value, E> {
        Ok(Value::Int(v))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Value, E> {
        i128::try_from(v)
            .map(Value::Int)
            .map_err(|_| E::custom("integer out of range"))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Node>()? {
            items.push(item);
        }
        Ok(Value::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Node>()? {
            let name = match key.value {
                Value::Str(s) => s,
                Value::Int(i) => i.to_string(),
                Value::Bool(b) => b.to_string(),
                Value::Null => "null".to_string(),
                other => {
                    return Err(de::Error::custom(format!(
                        "mapping keys must be scalars, found {}",
                        other.kind()
                    )));
                }
            };
            let value = map.next_value::<Node>()?;
            entries.push((Key { name, loc: key.loc }, value));
        }
        Ok(Value::Map(entries))
    }
}

// === diagnostics ===

/// One problem found in a config file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diag {
    pub loc: Loc,
    /// Path in the document, e.g. `virtual_servers[1].real_servers[0].weight`.
    pub path: String,
    pub message: String,
}

impl fmt::Display for Diag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}: {}", self.loc, self.message)
        } else {
            write!(f, "{}: {}: {}", self.loc, self.path, self.message)
        }
    }
}

/// Collects every problem found while decoding, in document order at the end.
#[derive(Debug, Default)]
pub struct Diags(Vec<Diag>);

impl Diags {
    pub fn push(&mut self, loc: Loc, path: &Path, message: impl Into<String>) {
        self.0.push(Diag {
            loc,
            path: path.to_string(),
            message: message.into(),
        });
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn into_sorted(mut self) -> Vec<Diag> {
        self.0
            .sort_by(|a, b| a.loc.cmp(&b.loc).then(a.path.cmp(&b.path)));
        self.0.dedup();
        self.0
    }
}

/// A path in the document, printed as `a.b[2].c`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Path(String);

impl Path {
    pub fn root() -> Self {
        Path(String::new())
    }
    pub fn key(&self, key: &str) -> Path {
        if self.0.is_empty() {
            Path(key.to_string())
        } else {
            Path(format!("{}.{key}", self.0))
        }
    }
    pub fn index(&self, i: usize) -> Path {
        Path(format!("{}[{i}]", self.0))
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

// === mapping reader ===

/// Reads the fields of one mapping and reports the keys nobody asked for.
pub struct MapReader<'n> {
    pub loc: Loc,
    pub path: Path,
    entries: &'n [(Key, Node)],
    used: Vec<bool>,
}

impl<'n> MapReader<'n> {
    /// `None` (with a diagnostic) when the node is not a mapping. A null node (a key with
    /// nothing after it) reads as an empty mapping.
    pub fn new(node: &'n Node, path: &Path, diags: &mut Diags) -> Option<Self> {
        const EMPTY: &[(Key, Node)] = &[];
        let entries: &'n [(Key, Node)] = match &node.value {
            Value::Map(entries) => entries,
            Value::Null => EMPTY,
            other => {
                diags.push(
                    node.loc,
                    path,
                    format!("expected a mapping, found {}", other.kind()),
                );
                return None;
            }
        };
        let mut seen: Vec<&str> = Vec::with_capacity(entries.len());
        for (key, _) in entries {
            if seen.contains(&key.name.as_str()) {
                diags.push(key.loc, &path.key(&key.name), "duplicate key");
            }
            seen.push(&key.name);
        }
        Some(MapReader {
            loc: node.loc,
            path: path.clone(),
            used: vec![false; entries.len()],
            entries,
        })
    }

    /// The node under `key`, if present; marks the key as known.
    pub fn get(&mut self, key: &str) -> Option<&'n Node> {
        let mut found = None;
        for (i, (k, v)) in self.entries.iter().enumerate() {
            if k.name == key {
                self.used[i] = true;
                found.get_or_insert(v);
            }
        }
        found
    }

    /// Whether `key` is present, without marking it as known.
    pub fn has(&self, key: &str) -> bool {
        self.entries.iter().any(|(k, _)| k.name == key)
    }

    /// Reports every key that no `get` asked for. `allowed` names the keys valid here, for
    /// the message.
    pub fn finish(self, diags: &mut Diags, allowed: &[&str]) {
        for (i, (key, _)) in self.entries.iter().enumerate() {
            if !self.used[i] {
                let hint = closest(&key.name, allowed)
                    .map(|c| format!(" (did you mean `{c}`?)"))
                    .unwrap_or_default();
                diags.push(
                    key.loc,
                    &self.path.key(&key.name),
                    format!("unknown key `{}`{hint}", key.name),
                );
            }
        }
    }
}

/// The allowed name closest to a misspelt one, if it is close enough to be a typo.
fn closest<'a>(name: &str, allowed: &[&'a str]) -> Option<&'a str> {
    allowed
        .iter()
        .map(|a| (edit_distance(name, a), *a))
        .filter(|(d, a)| *d <= 2.max(a.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, a)| a)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_keep_line_and_column_of_values_and_keys() {
        let node = parse("a: 1\nb:\n  - x\n  - {c: true}\n").unwrap();
        let Value::Map(entries) = &node.value else {
            panic!("not a map")
        };
        assert_eq!(entries[0].0.name, "a");
        assert_eq!(entries[0].0.loc, Loc { line: 1, column: 1 });
        assert_eq!(entries[0].1.value, Value::Int(1));
        assert_eq!(entries[0].1.loc, Loc { line: 1, column: 4 });
        let Value::Seq(items) = &entries[1].1.value else {
            panic!("not a seq")
        };
        assert_eq!(items[0].value, Value::Str("x".into()));
        assert_eq!(items[0].loc, Loc { line: 3, column: 5 });
        let Value::Map(inner) = &items[1].value else {
            panic!("not a map")
        };
        assert_eq!(inner[0].0.loc, Loc { line: 4, column: 6 });
        assert_eq!(inner[0].1.value, Value::Bool(true));
    }

    #[test]
    fn empty_document_is_an_empty_mapping() {
        assert_eq!(parse("").unwrap().value, Value::Map(vec![]));
        assert_eq!(
            parse("# only a comment\n").unwrap().value,
            Value::Map(vec![])
        );
    }

    #[test]
    fn syntax_error_carries_its_location() {
        let err = parse("a: 1\nb: [1, 2\n").unwrap_err();
        assert!(err.message.starts_with("invalid YAML"), "{err}");
        assert!(err.loc.line >= 2, "{err}");
    }

    #[test]
    fn unknown_and_duplicate_keys_are_reported_with_a_hint() {
        let node = parse("weight: 1\nwieght: 2\nweight: 3\n").unwrap();
        let mut diags = Diags::default();
        let mut m = MapReader::new(&node, &Path::root().key("rs"), &mut diags).unwrap();
        assert!(m.get("weight").is_some());
        m.finish(&mut diags, &["weight", "address"]);
        let d = diags.into_sorted();
        assert_eq!(d.len(), 2);
        assert_eq!(
            d[0].to_string(),
            "2:1: rs.wieght: unknown key `wieght` (did you mean `weight`?)"
        );
        assert_eq!(d[1].to_string(), "3:1: rs.weight: duplicate key");
    }

    #[test]
    fn paths_print_like_the_document() {
        let p = Path::root()
            .key("virtual_servers")
            .index(1)
            .key("real_servers")
            .index(0)
            .key("weight");
        assert_eq!(p.to_string(), "virtual_servers[1].real_servers[0].weight");
    }
}
