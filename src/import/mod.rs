//! Importers: keepalived.conf (`ipvsd import keepalived`) and ipvsadm save output
//! (`ipvsd import ipvsadm`) into ipvsd YAML.
//!
//! Pure apart from the `Files` the keepalived importer is handed to read the main file and
//! its `include`s: `FsFiles` is the real one (the CLI's), tests give files from memory.
//! Each importer returns the YAML text and everything it could not convert, as
//! `FILE:LINE: keyword: why` items; the YAML's header comment lists them too.

pub mod ipvsadm;
pub mod keepalived;
pub mod yaml;

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// Something in the input that has no place in the output, or needs the operator's hand.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Omission {
    /// The file as the importer named it (the command line's path, or an included file's
    /// path joined to the including file's folder).
    pub file: String,
    pub line: u32,
    pub keyword: String,
    pub why: String,
}

impl fmt::Display for Omission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {}: {}",
            self.file, self.line, self.keyword, self.why
        )
    }
}

/// The result of an import.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conversion {
    /// The ipvsd config, with a header comment.
    pub yaml: String,
    /// What was not converted (or was converted with a difference the operator must act
    /// on), in file order.
    pub omissions: Vec<Omission>,
    /// General remarks that are not about one line (e.g. "no health checks").
    pub notes: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The input (or a file it includes) cannot be read.
    #[error("cannot read {}", path.display())]
    Unreadable {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The input cannot be parsed at all.
    #[error("{file}:{line}: {message}")]
    Syntax {
        file: String,
        line: u32,
        message: String,
    },
}

/// Where the keepalived importer reads files from.
pub trait Files {
    /// The whole file as text.
    fn read(&self, path: &Path) -> io::Result<String>;
    /// The files matching a glob pattern (`*`, `?`, `[...]`, `{a,b}`), sorted; none is
    /// not an error.
    fn glob(&self, pattern: &Path) -> io::Result<Vec<PathBuf>>;
}

/// The problems `ipvsd check-config` would report in a converted config, on a machine where
/// every file and program it names exists (the importer cannot know the target machine's).
/// Empty for every conversion: a non-empty result is an importer bug.
pub fn validate(yaml: &str) -> Vec<String> {
    struct Anything;
    impl crate::config::schema::Env for Anything {
        fn hostname(&self) -> String {
            "ipvsd".to_string()
        }
        fn check_readable(&self, _: &Path) -> Result<(), String> {
            Ok(())
        }
        fn check_executable(&self, _: &Path) -> Result<(), String> {
            Ok(())
        }
    }
    match crate::config::load_str(yaml, Path::new("converted.yaml"), &Anything) {
        Ok(_) => Vec::new(),
        Err(e) => e.problems(),
    }
}

/// Files over this size are refused (as `ipvsd check-config` refuses YAML over 4 MiB).
pub const MAX_INPUT_BYTES: u64 = crate::config::MAX_CONFIG_BYTES;

/// The file system.
pub struct FsFiles;

impl Files for FsFiles {
    fn read(&self, path: &Path) -> io::Result<String> {
        let meta = std::fs::metadata(path)?;
        if meta.is_dir() {
            return Err(io::Error::other("is a directory"));
        }
        if meta.len() > MAX_INPUT_BYTES {
            return Err(io::Error::other(format!(
                "the file is {} bytes; at most {MAX_INPUT_BYTES} are read",
                meta.len()
            )));
        }
        let bytes = std::fs::read(path)?;
        String::from_utf8(bytes).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "not UTF-8 text (first bad byte at offset {})",
                    e.utf8_error().valid_up_to()
                ),
            )
        })
    }

    fn glob(&self, pattern: &Path) -> io::Result<Vec<PathBuf>> {
        let mut out = Vec::new();
        for p in expand_braces(&pattern.to_string_lossy()) {
            fs_glob(&p, &mut out)?;
        }
        out.sort();
        out.dedup();
        Ok(out)
    }
}

/// Matches one brace-free pattern against the file system, component by component.
fn fs_glob(pattern: &str, out: &mut Vec<PathBuf>) -> io::Result<()> {
    let absolute = pattern.starts_with('/');
    let parts: Vec<&str> = pattern.split('/').filter(|p| !p.is_empty()).collect();
    let start = if absolute {
        PathBuf::from("/")
    } else {
        PathBuf::new()
    };
    walk(&start, &parts, out)
}

fn walk(dir: &Path, parts: &[&str], out: &mut Vec<PathBuf>) -> io::Result<()> {
    let Some((first, rest)) = parts.split_first() else {
        return Ok(());
    };
    let candidates: Vec<PathBuf> = if has_wildcard(first) {
        let listing = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        let entries = match std::fs::read_dir(listing) {
            Ok(e) => e,
            Err(_) => return Ok(()),
        };
        let mut v = Vec::new();
        for entry in entries {
            let name = entry?.file_name().to_string_lossy().into_owned();
            if component_match(first, &name) {
                v.push(dir.join(name));
            }
        }
        v
    } else {
        vec![dir.join(first)]
    };
    for c in candidates {
        if rest.is_empty() {
            if c.is_file() {
                out.push(c);
            }
        } else if c.is_dir() {
            walk(&c, rest, out)?;
        }
    }
    Ok(())
}

fn has_wildcard(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// `a{b,c}d` -> `abd`, `acd` (nested braces too); a brace without a closing one is literal.
pub fn expand_braces(pattern: &str) -> Vec<String> {
    let bytes: Vec<char> = pattern.chars().collect();
    let Some(open) = bytes.iter().position(|&c| c == '{') else {
        return vec![pattern.to_string()];
    };
    // Find the matching `}` and the top-level commas.
    let mut depth = 0;
    let mut commas = Vec::new();
    let mut close = None;
    for (i, &c) in bytes.iter().enumerate().skip(open) {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    close = Some(i);
                    break;
                }
            }
            ',' if depth == 1 => commas.push(i),
            _ => {}
        }
    }
    let Some(close) = close else {
        return vec![pattern.to_string()];
    };
    let prefix: String = bytes[..open].iter().collect();
    let suffix: String = bytes[close + 1..].iter().collect();
    let mut bounds = vec![open];
    bounds.extend(&commas);
    bounds.push(close);
    let mut out = Vec::new();
    for w in bounds.windows(2) {
        let alt: String = bytes[w[0] + 1..w[1]].iter().collect();
        out.extend(expand_braces(&format!("{prefix}{alt}{suffix}")));
    }
    out
}

/// Whether a path matches a brace-free glob pattern: `*` and `?` do not match `/`, and a
/// leading `.` of a name is matched only by a literal `.`.
pub fn path_match(pattern: &str, path: &str) -> bool {
    let p: Vec<&str> = pattern.split('/').collect();
    let n: Vec<&str> = path.split('/').collect();
    p.len() == n.len() && p.iter().zip(&n).all(|(p, n)| component_match(p, n))
}

/// Glob matching of one path component: `*`, `?`, `[abc]`, `[a-z]`, `[!x]`/`[^x]`, `\x`.
pub fn component_match(pattern: &str, name: &str) -> bool {
    if name.starts_with('.') && !pattern.starts_with('.') && has_wildcard(pattern) {
        return false;
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    match_here(&p, &n)
}

fn match_here(p: &[char], n: &[char]) -> bool {
    match p.first() {
        None => n.is_empty(),
        Some('*') => (0..=n.len()).any(|i| match_here(&p[1..], &n[i..])),
        Some('?') => !n.is_empty() && match_here(&p[1..], &n[1..]),
        Some('[') => {
            let Some(&c) = n.first() else {
                return false;
            };
            match class_match(p, c) {
                Some((hit, used)) => hit && match_here(&p[used..], &n[1..]),
                // No closing `]`: a literal `[`.
                None => c == '[' && match_here(&p[1..], &n[1..]),
            }
        }
        Some('\\') if p.len() > 1 => n.first() == Some(&p[1]) && match_here(&p[2..], &n[1..]),
        Some(c) => n.first() == Some(c) && match_here(&p[1..], &n[1..]),
    }
}

/// `[...]` at the start of `p`: whether `c` is in it, and how many pattern chars it used.
fn class_match(p: &[char], c: char) -> Option<(bool, usize)> {
    let mut i = 1;
    let negate = matches!(p.get(1), Some('!' | '^'));
    if negate {
        i += 1;
    }
    let start = i;
    let mut hit = false;
    while i < p.len() {
        if p[i] == ']' && i > start {
            return Some((hit != negate, i + 1));
        }
        let lo = p[i];
        if p.get(i + 1) == Some(&'-') && p.get(i + 2).is_some_and(|&h| h != ']') {
            let hi = p[i + 2];
            if lo <= c && c <= hi {
                hit = true;
            }
            i += 3;
        } else {
            if c == lo {
                hit = true;
            }
            i += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn braces_expand_in_order_and_nest() {
        assert_eq!(expand_braces("a{b,c}d"), ["abd", "acd"]);
        assert_eq!(
            expand_braces("/e/{x/{,cat,dog},y}.conf"),
            ["/e/x/.conf", "/e/x/cat.conf", "/e/x/dog.conf", "/e/y.conf"]
        );
        assert_eq!(expand_braces("no{brace"), ["no{brace"]);
    }

    #[test]
    fn globs_match_like_the_shell() {
        assert!(path_match("conf.d/*.conf", "conf.d/web.conf"));
        assert!(!path_match("conf.d/*.conf", "conf.d/sub/web.conf"));
        assert!(!path_match("conf.d/*.conf", "conf.d/.hidden.conf"));
        assert!(path_match("conf.d/.*.conf", "conf.d/.hidden.conf"));
        assert!(path_match("vs-?.conf", "vs-1.conf"));
        assert!(!path_match("vs-?.conf", "vs-10.conf"));
        assert!(path_match("vs-[0-9].conf", "vs-7.conf"));
        assert!(!path_match("vs-[!0-9].conf", "vs-7.conf"));
        assert!(path_match("vs-[!0-9].conf", "vs-a.conf"));
        assert!(path_match("a\\*b", "a*b"));
        assert!(!path_match("a\\*b", "axb"));
        assert!(path_match("x[y", "x[y"));
    }

    #[test]
    fn the_file_system_glob_finds_sorted_files() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir(d.join("conf.d")).unwrap();
        for f in ["b.conf", "a.conf", "c.txt", ".h.conf"] {
            std::fs::write(d.join("conf.d").join(f), "x").unwrap();
        }
        let got = FsFiles
            .glob(&d.join("conf.d/{*.conf,c.txt}"))
            .unwrap()
            .into_iter()
            .map(|p| p.strip_prefix(d).unwrap().to_string_lossy().into_owned())
            .collect::<Vec<_>>();
        assert_eq!(got, ["conf.d/a.conf", "conf.d/b.conf", "conf.d/c.txt"]);
        assert!(FsFiles.glob(&d.join("nothing/*.conf")).unwrap().is_empty());
        assert_eq!(FsFiles.read(&d.join("conf.d/a.conf")).unwrap(), "x");
        std::fs::write(d.join("bad"), [0x66, 0xff]).unwrap();
        let e = FsFiles.read(&d.join("bad")).unwrap_err();
        assert!(e.to_string().contains("not UTF-8"), "{e}");
    }
}
