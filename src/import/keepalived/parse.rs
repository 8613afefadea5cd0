//! keepalived.conf text -> a tree of statements with their file and line.
//!
//! Pure apart from the `Files` it reads includes through. Follows keepalived's own reader
//! (lib/parser.c): a comment starts at `#` or `!` anywhere outside double quotes (`\#` and
//! `\!` are literal); a `\` at the end of a line continues it on the next; `include FILE`
//! (and `includer`, `includem`, `includew`, `includeb`, `includea`) at the start of a line
//! is replaced by the files its glob matches, relative to the including file's folder; `{`
//! and `}` outside quotes are tokens wherever they stand, so `url { path / }` is a block on
//! one line; a double-quoted string is one word without its quotes. Statement = the words of
//! one line between braces; a `{` (on the same line or the next) opens the block of the
//! statement before it.

use std::path::{Path, PathBuf};

use super::super::{Files, ImportError};

/// Where a statement (or brace) stands: file (index into `Parsed::files`), line, and its
/// position in reading order across includes (`seq`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Loc {
    pub file: usize,
    pub line: u32,
    pub seq: usize,
}

/// One statement: `real_server 192.0.2.1 80 { ... }` has the words `real_server`,
/// `192.0.2.1`, `80` and a block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stmt {
    pub loc: Loc,
    pub words: Vec<String>,
    /// The text after the keyword as written (comments removed, quotes kept), for keywords
    /// whose value keepalived splits again (scripts: `misc_path "/bin/x --y 'a b'" user`).
    pub raw: String,
    pub block: Option<Vec<Stmt>>,
}

impl Stmt {
    pub fn keyword(&self) -> &str {
        self.words.first().map_or("", String::as_str)
    }

    /// The `i`th word (0 is the keyword).
    pub fn arg(&self, i: usize) -> Option<&str> {
        self.words.get(i).map(String::as_str)
    }

    /// The block's statements (none when it has no block).
    pub fn children(&self) -> &[Stmt] {
        self.block.as_deref().unwrap_or(&[])
    }
}

/// A whole configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parsed {
    /// File names as they appear in messages; 0 is the main file.
    pub files: Vec<String>,
    pub stmts: Vec<Stmt>,
    /// Includes that matched no file: (where, keyword, why).
    pub include_problems: Vec<(Loc, String, String)>,
}

/// How deep includes may nest (keepalived has no limit; a loop would never end).
const MAX_INCLUDE_DEPTH: usize = 32;

enum Tok {
    Seg {
        loc: Loc,
        words: Vec<String>,
        raw: String,
    },
    Open(Loc),
    Close(Loc),
}

struct Lexer<'a> {
    files: &'a dyn Files,
    names: Vec<String>,
    toks: Vec<Tok>,
    include_problems: Vec<(Loc, String, String)>,
    seq: usize,
}

/// Reads `main` and every file it includes, and builds the statement tree.
pub fn parse(main: &Path, files: &dyn Files) -> Result<Parsed, ImportError> {
    let text = files.read(main).map_err(|source| ImportError::Unreadable {
        path: main.to_path_buf(),
        source,
    })?;
    let mut lx = Lexer {
        files,
        names: Vec::new(),
        toks: Vec::new(),
        include_problems: Vec::new(),
        seq: 0,
    };
    lx.file(main, &text, 0)?;
    let stmts = build(&lx.toks, &lx.names)?;
    Ok(Parsed {
        files: lx.names,
        stmts,
        include_problems: lx.include_problems,
    })
}

/// Parses text that includes nothing (tests, and files given as a string).
pub fn parse_str(name: &str, text: &str) -> Result<Parsed, ImportError> {
    struct NoFiles<'t>(&'t str);
    impl Files for NoFiles<'_> {
        fn read(&self, _: &Path) -> std::io::Result<String> {
            Ok(self.0.to_string())
        }
        fn glob(&self, _: &Path) -> std::io::Result<Vec<PathBuf>> {
            Ok(Vec::new())
        }
    }
    parse(Path::new(name), &NoFiles(text))
}

impl Lexer<'_> {
    fn next_seq(&mut self) -> usize {
        self.seq += 1;
        self.seq
    }

    fn file(&mut self, path: &Path, text: &str, depth: usize) -> Result<(), ImportError> {
        let file = self.names.len();
        self.names.push(path.display().to_string());
        let dir = path.parent().unwrap_or(Path::new("")).to_path_buf();
        let mut pending: Option<(u32, String)> = None;
        for (i, line) in text.lines().enumerate() {
            let lineno = u32::try_from(i + 1).unwrap_or(u32::MAX);
            let (clean, cont) = decomment(line).map_err(|message| ImportError::Syntax {
                file: self.names[file].clone(),
                line: lineno,
                message,
            })?;
            let (start, mut joined) = match pending.take() {
                Some((start, mut acc)) => {
                    acc.push(' ');
                    acc.push_str(&clean);
                    (start, acc)
                }
                None => (lineno, clean),
            };
            if cont {
                pending = Some((start, joined));
                continue;
            }
            joined = joined.trim().to_string();
            if joined.is_empty() {
                continue;
            }
            let loc = Loc {
                file,
                line: start,
                seq: 0,
            };
            if let Some((keyword, pattern)) = include_line(&joined) {
                self.include(loc, keyword, pattern, &dir, depth)?;
                continue;
            }
            self.line(loc, &joined)?;
        }
        if let Some((start, joined)) = pending {
            let loc = Loc {
                file,
                line: start,
                seq: 0,
            };
            self.line(loc, joined.trim())?;
        }
        Ok(())
    }

    fn include(
        &mut self,
        mut loc: Loc,
        keyword: &str,
        pattern: &str,
        dir: &Path,
        depth: usize,
    ) -> Result<(), ImportError> {
        loc.seq = self.next_seq();
        let name = self.names[loc.file].clone();
        if depth >= MAX_INCLUDE_DEPTH {
            return Err(ImportError::Syntax {
                file: name,
                line: loc.line,
                message: format!(
                    "includes nest deeper than {MAX_INCLUDE_DEPTH} files (does a file include itself?)"
                ),
            });
        }
        let pattern = pattern.trim_matches('"');
        let full = dir.join(pattern);
        let matched = self
            .files
            .glob(&full)
            .map_err(|source| ImportError::Unreadable {
                path: full.clone(),
                source,
            })?;
        if matched.is_empty() {
            self.include_problems.push((
                loc,
                keyword.to_string(),
                format!("no file matches {}; nothing included", full.display()),
            ));
        }
        for path in matched {
            let text = self
                .files
                .read(&path)
                .map_err(|source| ImportError::Unreadable {
                    path: path.clone(),
                    source,
                })?;
            self.file(&path, &text, depth + 1)?;
        }
        Ok(())
    }

    /// One logical line: split at unquoted braces into statements and brace tokens.
    fn line(&mut self, loc: Loc, text: &str) -> Result<(), ImportError> {
        let mut seg = String::new();
        let mut quoted = false;
        for c in text.chars() {
            match c {
                '"' => {
                    quoted = !quoted;
                    seg.push(c);
                }
                '{' | '}' if !quoted => {
                    self.segment(loc, &seg)?;
                    seg.clear();
                    let at = Loc {
                        seq: self.next_seq(),
                        ..loc
                    };
                    self.toks.push(if c == '{' {
                        Tok::Open(at)
                    } else {
                        Tok::Close(at)
                    });
                }
                c => seg.push(c),
            }
        }
        self.segment(loc, &seg)
    }

    fn segment(&mut self, loc: Loc, text: &str) -> Result<(), ImportError> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(());
        }
        let words = split_words(text).map_err(|message| ImportError::Syntax {
            file: self.names[loc.file].clone(),
            line: loc.line,
            message,
        })?;
        let raw = text
            .split_once(char::is_whitespace)
            .map_or("", |(_, rest)| rest)
            .trim()
            .to_string();
        let loc = Loc {
            seq: self.next_seq(),
            ..loc
        };
        self.toks.push(Tok::Seg { loc, words, raw });
        Ok(())
    }
}

/// `include FILE` and its variants, as keepalived recognises them before anything else.
fn include_line(line: &str) -> Option<(&str, &str)> {
    let (keyword, rest) = line.split_once(char::is_whitespace)?;
    let known = [
        "include", "includer", "includem", "includew", "includeb", "includea",
    ];
    known
        .contains(&keyword)
        .then(|| (keyword, rest.trim()))
        .filter(|(_, rest)| !rest.is_empty())
}

/// Removes the comment of one physical line. Returns the text and whether it ends with a
/// `\` (continued on the next line). Inside double quotes nothing is a comment; outside,
/// `\#` and `\!` are the characters themselves.
fn decomment(line: &str) -> Result<(String, bool), String> {
    let mut out = String::with_capacity(line.len());
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                quoted = !quoted;
                out.push(c);
            }
            '\\' => match chars.peek() {
                None => return Ok((out, true)),
                Some(&n) if !quoted && (n == '#' || n == '!') => {
                    out.push(n);
                    chars.next();
                }
                Some(&n) => {
                    out.push('\\');
                    out.push(n);
                    chars.next();
                }
            },
            '#' | '!' if !quoted => break,
            c => out.push(c),
        }
    }
    if quoted {
        return Err("missing closing `\"`".to_string());
    }
    Ok((out, false))
}

/// Words as keepalived's `alloc_strvec` splits them: at whitespace, a `"..."` string is one
/// word without the quotes (a quote also ends the word before it), backslashes are kept.
fn split_words(text: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(&c) = chars.peek() else {
            break;
        };
        let mut w = String::new();
        if c == '"' {
            chars.next();
            let mut closed = false;
            for c in chars.by_ref() {
                if c == '"' {
                    closed = true;
                    break;
                }
                w.push(c);
            }
            if !closed {
                return Err("missing closing `\"`".to_string());
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() || c == '"' {
                    break;
                }
                w.push(c);
                chars.next();
            }
        }
        words.push(w);
    }
    Ok(words)
}

/// Splits a script command line as keepalived does for `misc_path`, `notify` and the like:
/// first the statement's value into words honouring `"` and `'` (backslashes kept), then
/// the first of them into the program and its arguments, honouring both quotes and
/// backslash escapes (`\n`, `\t`, `\x41`, `\101`, `\"`). Returns (argv, the other words:
/// user and group).
pub fn split_script(raw: &str) -> Result<(Vec<String>, Vec<String>), String> {
    let words = shell_words(raw, false)?;
    let Some((cmd, rest)) = words.split_first() else {
        return Ok((Vec::new(), Vec::new()));
    };
    Ok((shell_words(cmd, true)?, rest.to_vec()))
}

/// keepalived's `alloc_strvec_quoted_escaped`: words split at unquoted whitespace; `"` and
/// `'` quote (and are removed); with `escapes`, `\` escapes are decoded, without, a
/// backslash and the character after it are kept as they are.
fn shell_words(s: &str, escapes: bool) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quote) {
            ('\\', _) => {
                let Some(n) = chars.next() else {
                    return Err("a `\\` ends the command".to_string());
                };
                in_word = true;
                if escapes {
                    cur.push(unescape(n, &mut chars));
                } else {
                    cur.push('\\');
                    cur.push(n);
                }
            }
            (q @ ('"' | '\''), None) => {
                quote = Some(q);
                in_word = true;
            }
            (c, Some(q)) if c == q => quote = None,
            (c, None) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (c, _) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if let Some(q) = quote {
        return Err(format!("missing closing `{q}`"));
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

fn unescape(n: char, rest: &mut std::iter::Peekable<std::str::Chars<'_>>) -> char {
    match n {
        'a' => '\x07',
        'b' => '\x08',
        'E' => '\x1b',
        'f' => '\x0c',
        'n' => '\n',
        'r' => '\r',
        't' => '\t',
        'v' => '\x0b',
        'x' if rest.peek().is_some_and(|c| c.is_ascii_hexdigit()) => number(rest, 16, 2, 0, 0),
        '0'..='7' => number(rest, 8, 3, n.to_digit(8).unwrap_or(0), 1),
        'c' => match rest.next() {
            Some(c) => char::from_u32(u32::from(c) & 0x1f).unwrap_or('?'),
            None => 'c',
        },
        other => other,
    }
}

/// Up to `max` digits in `radix` (`used` of them already read, giving `v`), as a byte.
fn number(
    rest: &mut std::iter::Peekable<std::str::Chars<'_>>,
    radix: u32,
    max: usize,
    mut v: u32,
    mut used: usize,
) -> char {
    while used < max {
        match rest.peek().and_then(|c| c.to_digit(radix)) {
            Some(d) => {
                v = v * radix + d;
                rest.next();
                used += 1;
            }
            None => break,
        }
    }
    char::from_u32(v & 0xff).unwrap_or('?')
}

/// Tokens -> statement tree. `{` belongs to the statement just before it; errors name the
/// file and line.
fn build(toks: &[Tok], names: &[String]) -> Result<Vec<Stmt>, ImportError> {
    // A stack of open blocks: the statement list being filled, and the brace that opened it.
    let mut stack: Vec<(Vec<Stmt>, Option<Loc>)> = vec![(Vec::new(), None)];
    let err = |loc: Loc, message: String| ImportError::Syntax {
        file: names[loc.file].clone(),
        line: loc.line,
        message,
    };
    for t in toks {
        match t {
            Tok::Seg { loc, words, raw } => {
                let top = &mut stack.last_mut().expect("never empty").0;
                top.push(Stmt {
                    loc: *loc,
                    words: words.clone(),
                    raw: raw.clone(),
                    block: None,
                });
            }
            Tok::Open(loc) => {
                let top = &stack.last().expect("never empty").0;
                match top.last() {
                    Some(s) if s.block.is_none() => stack.push((Vec::new(), Some(*loc))),
                    Some(s) => {
                        return Err(err(
                            *loc,
                            format!(
                                "`{{` without a keyword before it (`{}` on line {} already has its block)",
                                s.keyword(),
                                s.loc.line
                            ),
                        ));
                    }
                    None => {
                        return Err(err(*loc, "`{` without a keyword before it".to_string()));
                    }
                }
            }
            Tok::Close(loc) => {
                if stack.len() == 1 {
                    return Err(err(*loc, "`}` closes no block".to_string()));
                }
                let (stmts, _) = stack.pop().expect("checked");
                let owner = stack
                    .last_mut()
                    .expect("never empty")
                    .0
                    .last_mut()
                    .expect("a block has an owner");
                owner.block = Some(stmts);
            }
        }
    }
    if stack.len() > 1 {
        let (_, open) = stack.pop().expect("checked");
        let open = open.expect("inner blocks have an opening brace");
        let owner = stack
            .last()
            .and_then(|(s, _)| s.last())
            .map_or("", Stmt::keyword);
        return Err(err(
            open,
            format!("the block of `{owner}` opened here is not closed (missing `}}`)"),
        ));
    }
    Ok(stack.pop().expect("never empty").0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &Stmt) -> Vec<&str> {
        s.words.iter().map(String::as_str).collect()
    }

    #[test]
    fn comments_quotes_and_braces_anywhere() {
        let p = parse_str(
            "k.conf",
            "! a comment\n\
             global_defs { router_id \"lb 1\" }   # trailing\n\
             virtual_server 192.0.2.7 80\n\
             {\n\
             \x20 url { path /a }  # x }\n\
             \x20 notify \"/bin/x '#1'\" root\n\
             \x20 escaped \\#not-a-comment\n\
             }\n",
        )
        .unwrap();
        assert_eq!(p.stmts.len(), 2);
        let g = &p.stmts[0];
        assert_eq!(words(g), ["global_defs"]);
        assert_eq!(words(&g.children()[0]), ["router_id", "lb 1"]);
        let vs = &p.stmts[1];
        assert_eq!(vs.loc.line, 3);
        assert_eq!(words(vs), ["virtual_server", "192.0.2.7", "80"]);
        let kids = vs.children();
        assert_eq!(words(&kids[0]), ["url"]);
        assert_eq!(words(&kids[0].children()[0]), ["path", "/a"]);
        assert_eq!(kids[0].loc.line, 5);
        assert_eq!(words(&kids[1]), ["notify", "/bin/x '#1'", "root"]);
        assert_eq!(kids[1].raw, "\"/bin/x '#1'\" root");
        assert_eq!(words(&kids[2]), ["escaped", "#not-a-comment"]);
    }

    #[test]
    fn a_backslash_continues_the_line() {
        let p = parse_str("k.conf", "a b \\\n  c\nd\n").unwrap();
        assert_eq!(words(&p.stmts[0]), ["a", "b", "c"]);
        assert_eq!(p.stmts[0].loc.line, 1);
        assert_eq!(p.stmts[1].loc.line, 3);
    }

    #[test]
    fn unbalanced_braces_are_errors_with_file_and_line() {
        let e = parse_str("k.conf", "a {\n b {\n }\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "k.conf:1: the block of `a` opened here is not closed (missing `}`)"
        );
        let e = parse_str("k.conf", "a {\n}\n}\n").unwrap_err();
        assert_eq!(e.to_string(), "k.conf:3: `}` closes no block");
        let e = parse_str("k.conf", "{\n}\n").unwrap_err();
        assert_eq!(e.to_string(), "k.conf:1: `{` without a keyword before it");
        let e = parse_str("k.conf", "x \"open\n").unwrap_err();
        assert_eq!(e.to_string(), "k.conf:1: missing closing `\"`");
    }

    #[test]
    fn scripts_split_like_keepalived() {
        let (argv, rest) =
            split_script(r#""/usr/bin/check --x 1 'a b' \x41\"q" nobody grp"#).unwrap();
        assert_eq!(argv, ["/usr/bin/check", "--x", "1", "a b", "A\"q"]);
        assert_eq!(rest, ["nobody", "grp"]);
        let (argv, rest) = split_script("/bin/true").unwrap();
        assert_eq!(argv, ["/bin/true"]);
        assert!(rest.is_empty());
        assert!(split_script("\"/bin/x 'unclosed\"").is_err());
    }
}
