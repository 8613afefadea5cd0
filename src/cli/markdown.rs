//! Markdown to roff (man(7) macros, tables for tbl(1)), for the subset the project's docs
//! use: ATX headings, paragraphs, bullet and numbered lists, fenced code blocks, pipe
//! tables, and inline code, strong, emphasis, links and backslash escapes. Anything else
//! is kept as text. Pure: markdown in, roff out; `generate.rs` puts the page around it.
//!
//! - `#` and `##` headings become `.SH` (upper-cased unless they hold code), deeper ones `.SS`.
//! - Code (inline and fenced) is literal: `-` stays an ASCII hyphen-minus, quotes stay ASCII.
//! - Tables become tbl `allbox` tables whose cells are text blocks (`T{ ... T}`): the column
//!   with the most text expands to the line length, the others get the width of their
//!   text, up to a share of an 80-column terminal (never less than their longest word).
//!   A page with a table needs `'\" t` as its first line so man(1) runs tbl.

/// Line length of an 80-column terminal inside a man page section (man-db: 78n, less the
/// 7n section indent).
const LINE: usize = 71;

/// Converts markdown to roff body text (no `.TH`; headings become sections).
pub fn to_roff(md: &str) -> String {
    let lines: Vec<&str> = md.lines().collect();
    let mut out = String::new();
    render_blocks(&parse_blocks(&lines), &mut out);
    out
}

/// Markdown inline text to roff text in the regular font (for a paragraph of one line).
pub fn inline_to_roff(text: &str) -> String {
    let mut out = String::new();
    render_inlines(&parse_inline(text), Font::R, &[], &mut out);
    line_start_safe(&out)
}

/// `text` with roff's special characters escaped, for text set literally (also inside
/// quoted macro arguments).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\e"),
            '-' => out.push_str("\\-"),
            '\'' => out.push_str("\\(aq"),
            '`' => out.push_str("\\(ga"),
            '"' => out.push_str("\\(dq"),
            '\t' => out.push(' '),
            c if c.is_ascii() => out.push(c),
            c => out.push_str(&format!("\\[u{:04X}]", c as u32)),
        }
    }
    out
}

/// `.NAME ARG`, the argument quoted if it has spaces.
pub fn macro_line(name: &str, arg: &str) -> String {
    let a = escape(arg);
    if a.contains(' ') {
        format!(".{name} \"{a}\"\n")
    } else {
        format!(".{name} {a}\n")
    }
}

/// A text line that would start with a control character is protected with `\&`.
fn line_start_safe(line: &str) -> String {
    if line.starts_with('.') || line.starts_with('\'') {
        format!("\\&{line}")
    } else {
        line.to_string()
    }
}

// --- blocks ----------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
enum Block {
    Heading {
        level: usize,
        text: String,
    },
    Paragraph(String),
    Code(Vec<String>),
    List {
        ordered: bool,
        items: Vec<Vec<Block>>,
    },
    Table {
        align: Vec<Align>,
        rows: Vec<Vec<String>>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Align {
    Left,
    Center,
    Right,
}

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

fn is_blank(line: &str) -> bool {
    line.trim().is_empty()
}

/// The opening fence of a code block: its character, length and indent.
fn fence(line: &str) -> Option<(char, usize, usize)> {
    let indent = indent_of(line);
    if indent > 3 {
        return None;
    }
    let rest = &line[indent..];
    let c = rest.chars().next()?;
    if c != '`' && c != '~' {
        return None;
    }
    let n = rest.chars().take_while(|&x| x == c).count();
    if n < 3 || (c == '`' && rest[n..].contains('`')) {
        return None;
    }
    Some((c, n, indent))
}

fn heading(line: &str) -> Option<(usize, String)> {
    if indent_of(line) > 3 {
        return None;
    }
    let t = line.trim_start();
    let level = t.chars().take_while(|&c| c == '#').count();
    if !(1..=6).contains(&level) {
        return None;
    }
    let rest = &t[level..];
    if !rest.is_empty() && !rest.starts_with(' ') {
        return None;
    }
    let text = rest.trim();
    // An optional closing sequence of #s.
    let text = match text.trim_end_matches('#') {
        s if s.is_empty() || s.ends_with(' ') => s.trim_end(),
        _ => text,
    };
    Some((level, text.to_string()))
}

/// A list item's marker: ordered or not, and the indent of its content.
fn list_item(line: &str) -> Option<(bool, usize)> {
    let indent = indent_of(line);
    if indent > 3 {
        return None;
    }
    let rest = &line[indent..];
    let (ordered, marker) = if rest.starts_with(['-', '*', '+']) {
        (false, 1)
    } else {
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        if digits == 0 || digits > 9 || !rest[digits..].starts_with(['.', ')']) {
            return None;
        }
        (true, digits + 1)
    };
    let after = &rest[marker..];
    if after.is_empty() {
        return Some((ordered, indent + marker + 1));
    }
    let spaces = indent_of(after);
    if spaces == 0 {
        return None;
    }
    // Thematic breaks (`- - -`, `***`) are not items.
    if !ordered
        && rest
            .chars()
            .all(|c| c == rest.as_bytes()[0] as char || c == ' ')
    {
        return None;
    }
    let spaces = if spaces > 4 { 1 } else { spaces };
    Some((ordered, indent + marker + spaces))
}

/// The cells of a table row: split on unescaped `|`, an escaped `\|` kept as `|`.
fn table_cells(line: &str) -> Vec<String> {
    let t = line.trim();
    let t = t.strip_prefix('|').unwrap_or(t);
    let t = if t.ends_with('|') && !t.ends_with("\\|") {
        &t[..t.len() - 1]
    } else {
        t
    };
    let mut cells = Vec::new();
    let mut cur = String::new();
    let mut chars = t.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                cur.push('|');
                chars.next();
            }
            '|' => cells.push(std::mem::take(&mut cur).trim().to_string()),
            c => cur.push(c),
        }
    }
    cells.push(cur.trim().to_string());
    cells
}

/// The delimiter row under a table's header: `| --- | :-: | --: |`.
fn table_delimiter(line: &str) -> Option<Vec<Align>> {
    if !line.contains('-') || !line.contains('|') {
        return None;
    }
    table_cells(line)
        .iter()
        .map(|c| {
            let core = c.trim_start_matches(':').trim_end_matches(':');
            if core.is_empty() || !core.chars().all(|x| x == '-') {
                return None;
            }
            Some(match (c.starts_with(':'), c.ends_with(':')) {
                (true, true) => Align::Center,
                (false, true) => Align::Right,
                _ => Align::Left,
            })
        })
        .collect()
}

fn starts_table(lines: &[&str], i: usize) -> bool {
    lines[i].contains('|') && i + 1 < lines.len() && table_delimiter(lines[i + 1]).is_some()
}

/// Whether `line` (not blank) starts a block other than a paragraph.
fn interrupts_paragraph(lines: &[&str], i: usize) -> bool {
    let line = lines[i];
    fence(line).is_some()
        || heading(line).is_some()
        || starts_table(lines, i)
        || matches!(list_item(line), Some((false, _)))
        || (list_item(line).is_some() && line.trim_start().starts_with("1"))
}

fn parse_blocks(lines: &[&str]) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if is_blank(line) {
            i += 1;
        } else if let Some((c, n, indent)) = fence(line) {
            let mut code = Vec::new();
            i += 1;
            while i < lines.len() {
                let l = lines[i];
                let t = l.trim_start();
                if indent_of(l) <= 3
                    && t.starts_with(&c.to_string().repeat(n))
                    && t.trim_end().chars().all(|x| x == c)
                {
                    i += 1;
                    break;
                }
                let strip = indent_of(l).min(indent);
                code.push(l[strip..].to_string());
                i += 1;
            }
            blocks.push(Block::Code(code));
        } else if let Some((level, text)) = heading(line) {
            blocks.push(Block::Heading { level, text });
            i += 1;
        } else if starts_table(lines, i) {
            let header = table_cells(line);
            let align = table_delimiter(lines[i + 1]).unwrap_or_default();
            let width = header.len();
            let mut rows = vec![header];
            i += 2;
            while i < lines.len() && !is_blank(lines[i]) && lines[i].contains('|') {
                let mut cells = table_cells(lines[i]);
                cells.resize(width, String::new());
                rows.push(cells);
                i += 1;
            }
            let mut align = align;
            align.resize(width, Align::Left);
            blocks.push(Block::Table { align, rows });
        } else if let Some((ordered, _)) = list_item(line) {
            let (items, next) = parse_list(lines, i, ordered);
            blocks.push(Block::List { ordered, items });
            i = next;
        } else {
            let mut text = vec![line.trim()];
            i += 1;
            while i < lines.len() && !is_blank(lines[i]) && !interrupts_paragraph(lines, i) {
                text.push(lines[i].trim());
                i += 1;
            }
            blocks.push(Block::Paragraph(text.join("\n")));
        }
    }
    blocks
}

/// The items of the list starting at `start`, and the index of the first line after it.
fn parse_list(lines: &[&str], start: usize, ordered: bool) -> (Vec<Vec<Block>>, usize) {
    let mut items = Vec::new();
    let mut i = start;
    while i < lines.len() {
        let Some((o, content)) = list_item(lines[i]) else {
            break;
        };
        if o != ordered {
            break;
        }
        let first = lines[i].get(content..).unwrap_or("").to_string();
        let mut body = vec![first];
        i += 1;
        loop {
            if i >= lines.len() {
                break;
            }
            let l = lines[i];
            if is_blank(l) {
                // A blank line continues the item only if indented content follows.
                let next = (i + 1..lines.len()).find(|&j| !is_blank(lines[j]));
                match next {
                    Some(j) if indent_of(lines[j]) >= content => {
                        for _ in i..j {
                            body.push(String::new());
                        }
                        i = j;
                    }
                    _ => break,
                }
            } else if indent_of(l) >= content {
                body.push(l[content..].to_string());
                i += 1;
            } else if list_item(l).is_some() || interrupts_paragraph(lines, i) {
                break;
            } else if body.last().is_some_and(|b| !b.is_empty()) {
                // Lazy continuation of the item's paragraph.
                body.push(l.trim().to_string());
                i += 1;
            } else {
                break;
            }
        }
        let body_lines: Vec<&str> = body.iter().map(String::as_str).collect();
        items.push(parse_blocks(&body_lines));
        // Blank lines between items keep the list going.
        let mut j = i;
        while j < lines.len() && is_blank(lines[j]) {
            j += 1;
        }
        if j < lines.len() && matches!(list_item(lines[j]), Some((o, _)) if o == ordered) {
            i = j;
        } else {
            break;
        }
    }
    (items, i)
}

// --- inlines ---------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
enum Inline {
    Text(String),
    Code(String),
    Strong(Vec<Inline>),
    Emph(Vec<Inline>),
    Link(Vec<Inline>, String),
}

fn is_punct(c: char) -> bool {
    c.is_ascii_punctuation()
}

/// The byte index just past the code span that opens at `at` (a run of backticks), and
/// its content; `None` if the run is never closed.
fn code_span(s: &str, at: usize) -> Option<(usize, String)> {
    let n = s[at..].chars().take_while(|&c| c == '`').count();
    let mut j = at + n;
    while j < s.len() {
        let rel = s[j..].find('`')?;
        let k = j + rel;
        let m = s[k..].chars().take_while(|&c| c == '`').count();
        if m == n {
            let raw = s[at + n..k].replace('\n', " ");
            let content = if raw.len() >= 2
                && raw.starts_with(' ')
                && raw.ends_with(' ')
                && !raw.trim().is_empty()
            {
                raw[1..raw.len() - 1].to_string()
            } else {
                raw
            };
            return Some((k + m, content));
        }
        j = k + m;
    }
    None
}

/// The byte index of the delimiter `delim` closing an emphasis opened just before `from`:
/// not escaped, not inside a code span, preceded by a non-space, and (for `_`) not inside
/// a word.
fn find_closer(s: &str, from: usize, delim: &str) -> Option<usize> {
    let mut j = from;
    while j < s.len() {
        let c = s[j..].chars().next()?;
        if c == '\\' {
            j += 1 + s[j + 1..].chars().next().map_or(0, char::len_utf8);
            continue;
        }
        if c == '`' {
            match code_span(s, j) {
                Some((end, _)) => {
                    j = end;
                    continue;
                }
                None => {
                    j += s[j..].chars().take_while(|&x| x == '`').count();
                    continue;
                }
            }
        }
        if s[j..].starts_with(delim) && j > from {
            let before = s[..j].chars().next_back().unwrap_or(' ');
            let after = s[j + delim.len()..].chars().next().unwrap_or(' ');
            let dc = delim.as_bytes()[0] as char;
            let run_continues = after == dc;
            let ok = !before.is_whitespace()
                && !run_continues
                && (dc != '_' || !after.is_alphanumeric());
            if ok {
                return Some(j);
            }
            j += s[j..].chars().take_while(|&x| x == dc).count();
            continue;
        }
        j += c.len_utf8();
    }
    None
}

fn parse_inline(s: &str) -> Vec<Inline> {
    let mut out = Vec::new();
    let mut text = String::new();
    let flush = |text: &mut String, out: &mut Vec<Inline>| {
        if !text.is_empty() {
            out.push(Inline::Text(std::mem::take(text)));
        }
    };
    let mut i = 0;
    while i < s.len() {
        let rest = &s[i..];
        let c = rest.chars().next().unwrap_or(' ');
        let prev = s[..i].chars().next_back();
        match c {
            '\\' => {
                match rest[1..].chars().next() {
                    Some(n) if is_punct(n) => {
                        text.push(n);
                        i += 2;
                    }
                    _ => {
                        text.push('\\');
                        i += 1;
                    }
                }
                continue;
            }
            '`' => {
                if let Some((end, content)) = code_span(s, i) {
                    flush(&mut text, &mut out);
                    out.push(Inline::Code(content));
                    i = end;
                } else {
                    let n = rest.chars().take_while(|&x| x == '`').count();
                    text.push_str(&rest[..n]);
                    i += n;
                }
                continue;
            }
            '*' | '_' => {
                let double = rest[1..].starts_with(c);
                let delim = if double { &rest[..2] } else { &rest[..1] };
                let after = rest[delim.len()..].chars().next();
                let opens = after.is_some_and(|a| !a.is_whitespace() && a != c)
                    && (c == '*' || !prev.is_some_and(char::is_alphanumeric));
                if opens && let Some(close) = find_closer(s, i + delim.len(), delim) {
                    flush(&mut text, &mut out);
                    let inner = parse_inline(&s[i + delim.len()..close]);
                    out.push(if double {
                        Inline::Strong(inner)
                    } else {
                        Inline::Emph(inner)
                    });
                    i = close + delim.len();
                    continue;
                }
                let n = rest.chars().take_while(|&x| x == c).count();
                text.push_str(&rest[..n]);
                i += n;
                continue;
            }
            '[' => {
                if let Some((label, url, end)) = link(s, i) {
                    flush(&mut text, &mut out);
                    out.push(Inline::Link(parse_inline(label), url.to_string()));
                    i = end;
                    continue;
                }
            }
            '<' => {
                if let Some(end) = rest.find('>') {
                    let inner = &rest[1..end];
                    if (inner.starts_with("http://") || inner.starts_with("https://"))
                        && !inner.contains(char::is_whitespace)
                    {
                        flush(&mut text, &mut out);
                        out.push(Inline::Link(
                            vec![Inline::Text(inner.to_string())],
                            inner.to_string(),
                        ));
                        i += end + 1;
                        continue;
                    }
                }
            }
            _ => {}
        }
        text.push(c);
        i += c.len_utf8();
    }
    flush(&mut text, &mut out);
    out
}

/// `[label](url)` at `at`: the label, the url and the index past the link.
fn link(s: &str, at: usize) -> Option<(&str, &str, usize)> {
    let mut depth = 0;
    let mut j = at;
    let mut close = None;
    while j < s.len() {
        let c = s[j..].chars().next()?;
        match c {
            '\\' => {
                j += 1 + s[j + 1..].chars().next().map_or(0, char::len_utf8);
                continue;
            }
            '`' => {
                j = code_span(s, j).map_or(j + 1, |(end, _)| end);
                continue;
            }
            '[' => depth += 1,
            ']' => {
                depth -= 1;
                if depth == 0 {
                    close = Some(j);
                    break;
                }
            }
            _ => {}
        }
        j += c.len_utf8();
    }
    let close = close?;
    let after = &s[close + 1..];
    if !after.starts_with('(') {
        return None;
    }
    let end = after.find(')')?;
    let url = after[1..end].trim();
    if url.contains(char::is_whitespace) {
        return None;
    }
    Some((&s[at + 1..close], url, close + 1 + end + 1))
}

/// The text of inlines without markup (for headings and to measure table cells).
fn plain(inlines: &[Inline]) -> String {
    let mut s = String::new();
    for i in inlines {
        match i {
            Inline::Text(t) | Inline::Code(t) => s.push_str(t),
            Inline::Strong(x) | Inline::Emph(x) => s.push_str(&plain(x)),
            Inline::Link(x, url) => {
                s.push_str(&plain(x));
                if let Some(u) = external(url)
                    && plain(x) != u
                {
                    s.push_str(&format!(" <{u}>"));
                }
            }
        }
    }
    s
}

/// A link target worth printing: a web address (in-page anchors and paths relative to the
/// repository mean nothing in a man page).
fn external(url: &str) -> Option<&str> {
    (url.starts_with("http://") || url.starts_with("https://")).then_some(url)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Font {
    bold: bool,
    italic: bool,
}

impl Font {
    const R: Font = Font {
        bold: false,
        italic: false,
    };
    const B: Font = Font {
        bold: true,
        italic: false,
    };

    fn escape(self) -> &'static str {
        match (self.bold, self.italic) {
            (false, false) => "\\fR",
            (true, false) => "\\fB",
            (false, true) => "\\fI",
            (true, true) => "\\f(BI",
        }
    }
}

/// Renders inlines in font `font`. Code is bold, emphasis italic, strong bold; after each,
/// the font goes back to `font`. `breaks`: where long code may
/// break (table cells; empty elsewhere).
fn render_inlines(inlines: &[Inline], font: Font, breaks: &[char], out: &mut String) {
    for i in inlines {
        match i {
            Inline::Text(t) => out.push_str(&escape(t)),
            Inline::Code(t) => {
                let f = Font { bold: true, ..font };
                switch_font(out, font, f, |o| {
                    protect_word(o);
                    o.push_str(&code(t, breaks));
                });
            }
            Inline::Strong(x) => {
                let f = Font { bold: true, ..font };
                switch_font(out, font, f, |o| render_inlines(x, f, breaks, o));
            }
            Inline::Emph(x) => {
                let f = Font {
                    italic: true,
                    ..font
                };
                switch_font(out, font, f, |o| render_inlines(x, f, breaks, o));
            }
            Inline::Link(x, url) => {
                render_inlines(x, font, breaks, out);
                if let Some(u) = external(url)
                    && plain(x) != u
                {
                    out.push_str(" <");
                    protect_word(out);
                    out.push_str(&code(u, breaks));
                    out.push('>');
                }
            }
        }
    }
}

/// Characters after which a long code word in a table cell may break (no hyphen is
/// added): in the first column (keys, names: they stay whole at `_`)...
const KEY_BREAKS: &[char] = &['/', ',', '=', '|', '.'];
/// ... and in the others.
const CELL_BREAKS: &[char] = &['/', ',', '=', '|', '.', '_', '-', ']'];
/// Code words longer than this may break in a table cell.
const LONG_WORD: usize = 12;

/// Code text as characters, each with whether a line may break after it: after a `breaks`
/// character inside a word longer than [`LONG_WORD`] (after `.` only before a letter, so
/// addresses stay whole; after `-` only after a letter or digit, so `--option` keeps its
/// dashes).
fn code_marks(text: &str, breaks: &[char]) -> Vec<(char, bool)> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::with_capacity(chars.len());
    let mut word_len = 0;
    for (k, &c) in chars.iter().enumerate() {
        if c == ' ' {
            word_len = 0;
        } else if word_len == 0 {
            word_len = chars[k..].iter().take_while(|&&x| x != ' ').count();
        }
        let next = chars.get(k + 1).copied().unwrap_or(' ');
        let prev = if k > 0 { chars[k - 1] } else { ' ' };
        let brk = word_len > LONG_WORD
            && breaks.contains(&c)
            && next != ' '
            && (c != '.' || next.is_alphabetic())
            && (c != '-' || prev.is_alphanumeric());
        out.push((c, brk));
    }
    out
}

/// Marks the word `out` ends with as never hyphenated: `\%` at its start (not in its
/// middle, where it would be a hyphenation point), unless it has one.
fn protect_word(out: &mut String) {
    let start = out.rfind(char::is_whitespace).map_or(0, |i| i + 1);
    if !out[start..].contains("\\%") {
        out.insert_str(start, "\\%");
    }
}

/// Code text: escaped, each word after a space marked so it is never hyphenated (`\%`;
/// the first one is [`protect_word`]'s), with optional breaks (`\:`) as [`code_marks`]
/// says.
fn code(text: &str, breaks: &[char]) -> String {
    let mut out = String::new();
    let mut prev = 'x';
    for (c, brk) in code_marks(text, breaks) {
        if c != ' ' && prev == ' ' {
            out.push_str("\\%");
        }
        out.push_str(&escape(&c.to_string()));
        if brk {
            out.push_str("\\:");
        }
        prev = c;
    }
    out
}

/// The longest piece of a table cell that a line cannot break (text breaks at spaces, code
/// as [`code_marks`] says).
fn longest_unbreakable(inlines: &[Inline], breaks: &[char]) -> usize {
    const MARK: char = '\u{1}';
    fn flat(i: &Inline, breaks: &[char], out: &mut String) {
        match i {
            Inline::Text(t) => out.push_str(t),
            Inline::Code(t) => {
                for (c, brk) in code_marks(t, breaks) {
                    out.push(c);
                    if brk {
                        out.push(MARK);
                    }
                }
            }
            Inline::Strong(x) | Inline::Emph(x) => x.iter().for_each(|y| flat(y, breaks, out)),
            Inline::Link(..) => out.push_str(&plain(std::slice::from_ref(i))),
        }
    }
    let mut s = String::new();
    for i in inlines {
        flat(i, breaks, &mut s);
    }
    s.split(|c: char| c.is_whitespace() || c == MARK)
        .map(|w| w.chars().count())
        .max()
        .unwrap_or(1)
}

/// Writes `inner` in font `to`, then returns to `from`.
fn switch_font(out: &mut String, from: Font, to: Font, inner: impl FnOnce(&mut String)) {
    if to != from {
        out.push_str(to.escape());
    }
    inner(out);
    if to != from {
        out.push_str(from.escape());
    }
}

/// Paragraph text to roff lines: the source's line breaks kept, each line safe.
fn render_text(text: &str, font: Font) -> String {
    let mut s = String::new();
    if font != Font::R {
        s.push_str(font.escape());
    }
    render_inlines(&parse_inline(text), font, &[], &mut s);
    if font != Font::R {
        s.push_str(Font::R.escape());
    }
    let mut out = String::new();
    for line in s.split('\n') {
        let line = line.trim_start();
        if !line.is_empty() {
            out.push_str(&line_start_safe(line));
            out.push('\n');
        }
    }
    out
}

// --- rendering -------------------------------------------------------------------------

fn render_blocks(blocks: &[Block], out: &mut String) {
    for b in blocks {
        render_block(b, out);
    }
}

fn render_block(b: &Block, out: &mut String) {
    match b {
        Block::Heading { level, text } => {
            let inl = parse_inline(text);
            let has_code = inl.iter().any(|i| matches!(i, Inline::Code(_)));
            let mut t = plain(&inl);
            if !has_code {
                t = t.to_uppercase();
            }
            let m = if *level <= 2 { "SH" } else { "SS" };
            out.push_str(&macro_line(m, &t));
        }
        Block::Paragraph(text) => {
            out.push_str(".PP\n");
            out.push_str(&render_text(text, Font::R));
        }
        Block::Code(lines) => {
            out.push_str(".PP\n.RS 4\n.EX\n");
            for l in lines {
                let e = escape(l);
                out.push_str(&if e.is_empty() {
                    "\\&".to_string()
                } else {
                    line_start_safe(&e)
                });
                out.push('\n');
            }
            out.push_str(".EE\n.RE\n");
        }
        Block::List { ordered, items } => {
            for (n, item) in items.iter().enumerate() {
                let (tag, width) = if *ordered {
                    (format!("{}.", n + 1), 4)
                } else {
                    ("\\(bu".to_string(), 2)
                };
                out.push_str(&format!(".IP {tag} {width}\n"));
                let rest = match item.first() {
                    Some(Block::Paragraph(text)) => {
                        out.push_str(&render_text(text, Font::R));
                        &item[1..]
                    }
                    _ => &item[..],
                };
                if !rest.is_empty() {
                    out.push_str(".RS\n");
                    render_blocks(rest, out);
                    out.push_str(".RE\n");
                }
            }
        }
        Block::Table { align, rows } => render_table(align, rows, out),
    }
}

/// Where code in column `c` may break.
fn breaks_of(c: usize) -> &'static [char] {
    if c == 0 { KEY_BREAKS } else { CELL_BREAKS }
}

/// Column widths: `None` for the column that expands to the line length.
///
/// A table that fits an 80-column terminal gets each column's natural width. Otherwise
/// the column with the longest cell expands, and the line is shared in proportion to the
/// square root of each column's amount of text (a column of short values keeps them on
/// one line, a column of sentences gets the most room); no column is narrower than the
/// longest piece of text it cannot break, nor wider than its longest cell.
fn column_widths(rows: &[Vec<Vec<Inline>>]) -> Vec<Option<usize>> {
    let n = rows.first().map_or(0, Vec::len);
    let mut natural = vec![1usize; n];
    let mut word = vec![1usize; n];
    let mut total = vec![1usize; n];
    for row in rows {
        for (c, cell) in row.iter().enumerate() {
            let len = plain(cell).chars().count();
            natural[c] = natural[c].max(len);
            total[c] += len;
            word[c] = word[c].max(longest_unbreakable(cell, breaks_of(c)));
        }
    }
    // Columns and their separators (3n) and the box's sides.
    let budget = LINE.saturating_sub(3 * n.saturating_sub(1) + 2);
    if natural.iter().sum::<usize>() <= budget {
        return natural.into_iter().map(Some).collect();
    }
    let weight = |c: usize| (total[c] as f64).sqrt();
    let mut fixed: Vec<Option<usize>> = vec![None; n];
    loop {
        let open: Vec<usize> = (0..n).filter(|&c| fixed[c].is_none()).collect();
        if open.is_empty() {
            break;
        }
        let room = budget.saturating_sub(fixed.iter().flatten().sum::<usize>()) as f64;
        let total: f64 = open.iter().map(|&c| weight(c)).sum();
        let share = |c: usize| room * weight(c) / total;
        // First give the columns that need less than their share what they need; then
        // the longest unbreakable piece to one whose share is smaller; then shares.
        let small: Vec<usize> = open
            .iter()
            .copied()
            .filter(|&c| natural[c] as f64 <= share(c))
            .collect();
        if !small.is_empty() {
            for c in small {
                fixed[c] = Some(natural[c]);
            }
            continue;
        }
        if let Some(&c) = open.iter().find(|&&c| word[c] as f64 >= share(c)) {
            fixed[c] = Some(word[c]);
            continue;
        }
        for c in open {
            fixed[c] = Some(share(c).floor() as usize);
        }
    }
    let expand = (0..n)
        .max_by_key(|&c| (natural[c], usize::MAX - c))
        .unwrap_or(0);
    fixed[expand] = None;
    fixed
}

fn render_table(align: &[Align], rows: &[Vec<String>], out: &mut String) {
    let parsed: Vec<Vec<Vec<Inline>>> = rows
        .iter()
        .map(|r| r.iter().map(|c| parse_inline(c)).collect())
        .collect();
    let widths = column_widths(&parsed);
    let format: Vec<String> = align
        .iter()
        .zip(&widths)
        .map(|(a, w)| {
            let k = match a {
                Align::Left => 'l',
                Align::Center => 'c',
                Align::Right => 'r',
            };
            match w {
                Some(w) => format!("{k}w({w}n)"),
                None => format!("{k}x"),
            }
        })
        .collect();
    // Cells are set ragged-right without hyphenation; both come back after the table.
    out.push_str(".PP\n.na\n.nh\n.TS\nallbox;\n");
    out.push_str(&format.join(" "));
    out.push_str(".\n");
    for (r, row) in parsed.iter().enumerate() {
        let font = if r == 0 { Font::B } else { Font::R };
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(c, cell)| {
                if cell.is_empty() {
                    return String::new();
                }
                let mut s = String::new();
                if font != Font::R {
                    s.push_str(font.escape());
                }
                render_inlines(cell, font, breaks_of(c), &mut s);
                if font != Font::R {
                    s.push_str(Font::R.escape());
                }
                format!("T{{\n{}\nT}}", line_start_safe(&s))
            })
            .collect();
        out.push_str(&cells.join("\t"));
        out.push('\n');
    }
    out.push_str(".TE\n.ad\n.hy \\n[HY]\n.sp\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_roff_specials_and_non_ascii() {
        assert_eq!(
            escape(r#"a-b \n 'x' `y` "z" · —"#),
            r#"a\-b \en \(aqx\(aq \(gay\(ga \(dqz\(dq \[u00B7] \[u2014]"#
        );
    }

    #[test]
    fn headings_become_sections_upper_cased_unless_they_hold_code() {
        assert_eq!(
            to_roff("# Title\n## Value syntax\n### `type: tcp`\n#### Deep ###\n"),
            ".SH TITLE\n.SH \"VALUE SYNTAX\"\n.SS \"type: tcp\"\n.SS DEEP\n"
        );
        // `#5` is not a heading.
        assert_eq!(to_roff("#5 is a number"), ".PP\n#5 is a number\n");
    }

    #[test]
    fn paragraphs_keep_their_lines_and_protect_control_characters() {
        assert_eq!(
            to_roff("one\n  two\n.three\n'four\n\nnext"),
            ".PP\none\ntwo\n\\&.three\n\\(aqfour\n.PP\nnext\n"
        );
    }

    #[test]
    fn inline_code_strong_emphasis_and_escapes() {
        assert_eq!(
            inline_to_roff("a `x-y` **b `c` d** *e* \\*f\\* snake_case_name __g__ _h_"),
            "a \\%\\fBx\\-y\\fR \\fBb \\%c d\\fR \\fIe\\fR *f* snake_case_name \\fBg\\fR \\fIh\\fR"
        );
        // Emphasis inside strong, and strong inside emphasis.
        assert_eq!(inline_to_roff("**a *b* c**"), "\\fBa \\f(BIb\\fB c\\fR");
        assert_eq!(inline_to_roff("*a **b** c*"), "\\fIa \\f(BIb\\fI c\\fR");
        // No closer: literal.
        assert_eq!(inline_to_roff("2 * 3 and **x"), "2 * 3 and **x");
        // A `*` inside code does not close emphasis outside it.
        assert_eq!(inline_to_roff("*a `*` b*"), "\\fIa \\%\\f(BI*\\fI b\\fR");
        // Code inside a word: the word is protected at its start, where `\\%` does not
        // make a hyphenation point; long code words in table cells may break.
        assert_eq!(
            inline_to_roff("(`ipvsadm-restore`)"),
            "\\%(\\fBipvsadm\\-restore\\fR)"
        );
        assert_eq!(
            code(
                "tcp/192.0.2.7:80 vrrp_instances[].track --sctp-service",
                CELL_BREAKS
            ),
            "tcp/\\:192.0.2.7:80 \\%vrrp_\\:instances[]\\:.\\:track \\%\\-\\-sctp\\-\\:service"
        );
        assert_eq!(code("a/b/c", CELL_BREAKS), "a/b/c");
    }

    #[test]
    fn code_spans_with_double_backticks_and_line_breaks() {
        assert_eq!(
            inline_to_roff("`` `x` is `y` `` and `a\nb`"),
            "\\%\\fB\\(gax\\(ga \\%is \\%\\(gay\\(ga\\fR and \\%\\fBa \\%b\\fR"
        );
        assert_eq!(inline_to_roff("an ` alone"), "an \\(ga alone");
    }

    #[test]
    fn links_keep_their_text_and_show_web_addresses() {
        assert_eq!(
            inline_to_roff(
                "[`global`](#global) and [docs](docs/x.md) and [site](https://example.com/a-b) <https://example.org>"
            ),
            "\\%\\fBglobal\\fR and docs and site \\%<https://example.com/a\\-b> https://example.org"
        );
        assert_eq!(inline_to_roff("checks[] [x]"), "checks[] [x]");
    }

    #[test]
    fn a_line_starting_with_a_dot_after_formatting_is_protected() {
        assert_eq!(inline_to_roff(".x"), "\\&.x");
        assert_eq!(to_roff("- .a"), ".IP \\(bu 2\n\\&.a\n");
        // A quote cannot start a line: it is always written \(aq.
        assert_eq!(to_roff("- 'a'"), ".IP \\(bu 2\n\\(aqa\\(aq\n");
    }

    #[test]
    fn fenced_code_is_literal_and_blank_lines_survive() {
        let md = "```yaml\nkey: -1 # it's\n\n.dot\n  \\x\n```\nafter";
        assert_eq!(
            to_roff(md),
            ".PP\n.RS 4\n.EX\nkey: \\-1 # it\\(aqs\n\\&\n\\&.dot\n  \\ex\n.EE\n.RE\n.PP\nafter\n"
        );
        // An unclosed fence runs to the end; ~~~ works too and a longer close is fine.
        assert_eq!(to_roff("~~~\na\n~~~~\n"), ".PP\n.RS 4\n.EX\na\n.EE\n.RE\n");
        assert_eq!(
            to_roff("```\n# not a heading"),
            ".PP\n.RS 4\n.EX\n# not a heading\n.EE\n.RE\n"
        );
    }

    #[test]
    fn bullet_lists_with_continuation_lines() {
        let md = "Intro:\n\n- **One** first\n  continued\n- two\nlazy\n\n- three\n\nAfter.";
        assert_eq!(
            to_roff(md),
            ".PP\nIntro:\n.IP \\(bu 2\n\\fBOne\\fR first\ncontinued\n.IP \\(bu 2\ntwo\nlazy\n.IP \\(bu 2\nthree\n.PP\nAfter.\n"
        );
    }

    #[test]
    fn a_list_interrupts_a_paragraph_and_items_hold_blocks() {
        let md =
            "Text\n- a\n\n  more of a\n\n  ```\n  code\n  ```\n  - nested\n1. first\n2) second";
        assert_eq!(
            to_roff(md),
            ".PP\nText\n.IP \\(bu 2\na\n.RS\n.PP\nmore of a\n.PP\n.RS 4\n.EX\ncode\n.EE\n.RE\n.IP \\(bu 2\nnested\n.RE\n.IP 1. 4\nfirst\n.IP 2. 4\nsecond\n"
        );
    }

    #[test]
    fn thematic_breaks_are_not_list_items() {
        assert_eq!(list_item("- - -"), None);
        assert_eq!(list_item("***"), None);
        assert_eq!(list_item("-x"), None);
        assert_eq!(list_item("- x"), Some((false, 2)));
        assert_eq!(list_item("10. x"), Some((true, 4)));
    }

    #[test]
    fn a_narrow_table_gets_its_natural_widths() {
        let md = "| Code | Meaning |\n| --- | ---: |\n| 0 | ok `a\\|b` |\n| 1 |\n";
        assert_eq!(
            to_roff(md),
            ".PP\n.na\n.nh\n.TS\nallbox;\nlw(4n) rw(7n).\n\
             T{\n\\fBCode\\fR\nT}\tT{\n\\fBMeaning\\fR\nT}\n\
             T{\n0\nT}\tT{\nok \\%\\fBa|b\\fR\nT}\n\
             T{\n1\nT}\t\n\
             .TE\n.ad\n.hy \\n[HY]\n.sp\n"
        );
    }

    #[test]
    fn a_wide_table_expands_its_widest_column_and_narrows_the_others() {
        let long = "word ".repeat(40);
        let md = format!(
            "| Key | Type | Meaning |\n| --- | --- | --- |\n| `admin_allow_remote` | integer, 1-4294967295 and more | {long} |\n"
        );
        let r = to_roff(&md);
        // 63 columns to share (71 less the separators); by the square root of each
        // column's text (header included): Key 22, Type 35, Meaning 208 -> 11.8, 14.9,
        // 36.3. Key cannot go under its unbreakable 18; Type gets 13 of the 45 left.
        assert!(r.contains("lw(18n) lw(13n) lx.\n"), "{r}");
        // A column is never narrower than its longest word.
        let md = format!("| A | B |\n| - | - |\n| {} | {long} |\n", "x".repeat(60));
        assert!(to_roff(&md).contains("lw(60n) lx.\n"));
    }

    #[test]
    fn table_rows_need_a_delimiter_row_and_end_at_a_blank_line() {
        assert_eq!(to_roff("a | b\nc | d"), ".PP\na | b\nc | d\n");
        let r = to_roff("| a |\n|---|\n| b |\n\n| c |");
        assert!(r.starts_with(".PP\n.na\n.nh\n.TS\n"), "{r}");
        assert!(
            r.ends_with(".TE\n.ad\n.hy \\n[HY]\n.sp\n.PP\n| c |\n"),
            "{r}"
        );
    }

    #[test]
    fn the_config_reference_converts_every_table_and_code_block() {
        let md = include_str!("../../docs/config.md");
        let roff = to_roff(md);
        let tables = md.lines().filter(|l| table_delimiter(l).is_some()).count();
        let fences = md.lines().filter(|l| l.starts_with("```")).count();
        assert_eq!(roff.matches(".TS\n").count(), tables);
        assert_eq!(roff.matches(".EX\n").count() * 2, fences);
        let mut fenced = false;
        let headings = md
            .lines()
            .filter(|l| {
                fenced ^= l.starts_with("```");
                !fenced && (l.starts_with("# ") || l.starts_with("## "))
            })
            .count();
        assert_eq!(roff.matches(".SH ").count(), headings);
        // No markdown syntax left over outside code blocks.
        let mut in_code = false;
        for line in roff.lines() {
            match line {
                ".EX" => in_code = true,
                ".EE" => in_code = false,
                _ if !in_code => {
                    assert!(!line.contains('`'), "{line}");
                    assert!(!line.contains("**"), "{line}");
                    assert!(!line.contains("]("), "{line}");
                    assert!(!line.starts_with("| "), "{line}");
                    assert!(line.is_ascii(), "{line}");
                }
                _ => {}
            }
        }
    }
}
