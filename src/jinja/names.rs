//! Which variable an expression reads without a guard, and which one is undefined: the names
//! the template engine reports, located in the text.

use super::vars::Vars;
use super::ws::{Ws, split_header};
use crate::jinja_rewrite::{is_ident, rewrite_source, skip_bracket, skip_string, skip_ws};
use minijinja::Environment;
use std::collections::HashSet;
use std::sync::Arc;

/// `undeclared_variables` by source: a loop's item and every host render the same strings
/// again, and each answer costs a parse.
static UNDECLARED: crate::run_memo::RunMemo<HashSet<String>> = crate::run_memo::RunMemo::new(4096);

/// The variables a template (or a playbook string) reads from outside itself.
pub fn undeclared_variables(source: &str) -> HashSet<String> {
    let made = UNDECLARED.get_or(source, || {
        Ok::<_, std::convert::Infallible>(parse_undeclared(source))
    });
    made.unwrap_or_else(|never| match never {})
}

fn parse_undeclared(source: &str) -> HashSet<String> {
    let env = Environment::new();
    let mut ws = Ws {
        trim_blocks: true,
        lstrip_blocks: false,
        keep_trailing_newline: false,
    };
    let body = split_header(source, &mut ws);
    let src = rewrite_source(&body);
    match env.template_from_str(&src) {
        Ok(t) => t
            .undeclared_variables(false)
            .into_iter()
            .filter(|n| !matches!(n.as_str(), "__pyfmt" | "lookup" | "query" | "q"))
            .collect(),
        Err(_) => HashSet::new(),
    }
}

/// The byte offset of `name` as a whole identifier (outside strings) in `text`.
pub(super) fn find_ident(text: &str, name: &str) -> Option<usize> {
    ident_offsets(text, name).into_iter().next()
}

fn ident_offsets(text: &str, name: &str) -> Vec<usize> {
    let b = text.as_bytes();
    let mut out = vec![];
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\'' || b[i] == b'"' {
            i = skip_string(b, i);
            continue;
        }
        if is_ident(b[i]) && (i == 0 || (!is_ident(b[i - 1]) && b[i - 1] != b'.')) {
            let start = i;
            while i < b.len() && is_ident(b[i]) {
                i += 1;
            }
            if &text[start..i] == name {
                out.push(start);
            }
            continue;
        }
        i += 1;
    }
    out
}

/// True if every use of `name` in `expr` is tested for definedness or given a default.
pub(super) fn all_uses_guarded(expr: &str, name: &str) -> bool {
    ident_offsets(expr, name)
        .into_iter()
        .all(|start| guarded_from(expr, start + name.len()))
}

/// Whether the use of a name that ends at byte `end` of `expr` (with the attributes and items
/// after it) is tested for definedness or given a default.
fn guarded_from(expr: &str, end: usize) -> bool {
    let b = expr.as_bytes();
    let mut i = end;
    // skip an attribute/item chain
    loop {
        let j = skip_ws(b, i);
        if j < b.len() && b[j] == b'.' {
            i = j + 1;
            while i < b.len() && is_ident(b[i]) {
                i += 1;
            }
        } else if j < b.len() && b[j] == b'[' {
            i = skip_bracket(b, j);
        } else {
            i = j;
            break;
        }
    }
    let rest: String = expr[i..].split_whitespace().collect::<Vec<_>>().join(" ");
    [
        "is defined",
        "is not defined",
        "is undefined",
        "is not undefined",
        "is ansible.builtin.defined",
        "|default",
        "| default",
        "|d(",
        "| d(",
        "|d ",
        "| d ",
        "| mandatory",
        "|mandatory",
    ]
    .iter()
    .any(|g| rest.starts_with(g))
}

/// The facts `text` (a template, or a bare expression) reads by name from `ansible_facts`
/// (`ansible_facts.os_family`, `ansible_facts['os_family']`): each name's byte offset in
/// `text`, the name, and whether the read is guarded (`is defined`, `| default`).
pub(crate) fn fact_reads(text: &str, bare: bool) -> Vec<(usize, String, bool)> {
    let mut out = Vec::new();
    for (start, expr) in expressions(text, bare) {
        let b = expr.as_bytes();
        for at in ident_offsets(expr, "ansible_facts") {
            let i = skip_ws(b, at + "ansible_facts".len());
            let (off, name) = if b.get(i) == Some(&b'.') {
                let s = skip_ws(b, i + 1);
                let mut e = s;
                while e < b.len() && is_ident(b[e]) {
                    e += 1;
                }
                // A method (`ansible_facts.get('x')`), not a fact.
                if b.get(skip_ws(b, e)) == Some(&b'(') {
                    continue;
                }
                (s, &expr[s..e])
            } else if b.get(i) == Some(&b'[') {
                let s = skip_ws(b, i + 1);
                let q = b.get(s).copied();
                if !matches!(q, Some(b'\'' | b'"')) {
                    continue;
                }
                let e = skip_string(b, s);
                if e < s + 2 || b.get(e - 1).copied() != q {
                    continue;
                }
                (s + 1, &expr[s + 1..e - 1])
            } else {
                continue;
            };
            if name.is_empty() {
                continue;
            }
            let guarded = guarded_from(expr, at + "ansible_facts".len());
            out.push((start + off, name.to_string(), guarded));
        }
    }
    out
}

/// What an expression does with a variable at one place it names it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Use {
    /// Reads one of its fields (`r.stdout`, `r['rc']`, also `r.stdout.split()`): the field's
    /// byte offset in the text, its name, and whether the read is guarded (`is defined`,
    /// `| default`).
    Field(usize, String, bool),
    /// Puts it whole to a test (`r is changed`, `r is not ansible.builtin.failed`): the test.
    Test(String),
    /// Anything else: it is read whole (printed, filtered, a method called on it ...).
    Whole,
}

/// What a template (or a bare expression) does with the variable `root`, at each place it
/// names it (a name after a `.`, or inside a string, is not it).
pub(crate) fn uses_of(text: &str, bare: bool, root: &str) -> Vec<Use> {
    let mut out = Vec::new();
    for (start, expr) in expressions(text, bare) {
        let b = expr.as_bytes();
        for at in ident_offsets(expr, root) {
            let i = skip_ws(b, at + root.len());
            let guarded = guarded_from(expr, at + root.len());
            let field = match b.get(i) {
                Some(b'.') => {
                    let s = skip_ws(b, i + 1);
                    let e = ident_end(b, s);
                    // A method of the mapping (`r.get('rc')`) reads it whole.
                    (e > s && b.get(skip_ws(b, e)) != Some(&b'(')).then_some((s, &expr[s..e]))
                }
                Some(b'[') => {
                    let s = skip_ws(b, i + 1);
                    let q = b.get(s).copied();
                    let e = match q {
                        Some(b'\'' | b'"') => skip_string(b, s),
                        _ => s,
                    };
                    let closed = e >= s + 2
                        && b.get(e - 1).copied() == q
                        && b.get(skip_ws(b, e)) == Some(&b']');
                    closed.then(|| (s + 1, &expr[s + 1..e - 1]))
                }
                _ => None,
            };
            out.push(match field {
                Some((off, name)) => Use::Field(start + off, name.to_string(), guarded),
                None => match test_at(expr, i) {
                    Some(t) => Use::Test(t),
                    None => Use::Whole,
                },
            });
        }
    }
    out
}

/// A read of a name from a host's entry in `hostvars` (`hostvars[h].ansible_os_family`,
/// `hostvars['db'].ansible_facts['os_family']`, `hostvars.db.x`).
#[derive(Debug, PartialEq)]
pub(crate) struct EntryRead {
    /// The byte offset in the text of the name read (of the fact's, through `ansible_facts`).
    pub(crate) off: usize,
    /// The read as written, from `hostvars` to the name.
    pub(crate) written: String,
    /// The name read from the entry.
    pub(crate) name: String,
    /// The fact read by name through the entry's `ansible_facts`.
    pub(crate) fact: Option<String>,
    /// Whether the read is guarded (`is defined`, `| default`).
    pub(crate) guarded: bool,
}

/// The names a template (or a bare expression) reads from hosts' entries in `hostvars`.
pub(crate) fn entry_reads(text: &str, bare: bool) -> Vec<EntryRead> {
    let mut out = Vec::new();
    for (start, expr) in expressions(text, bare) {
        let b = expr.as_bytes();
        for at in ident_offsets(expr, "hostvars") {
            let i = skip_ws(b, at + "hostvars".len());
            // The host: `[expr]` or `.name`.
            let host_end = match b.get(i) {
                Some(b'[') => skip_bracket(b, i),
                Some(b'.') => ident_end(b, skip_ws(b, i + 1)),
                _ => continue,
            };
            let Some((off, end, name)) = attr_at(expr, host_end) else {
                continue;
            };
            let (off, end, fact) = match (name == "ansible_facts", attr_at(expr, end)) {
                (true, Some((o, e, f))) => (o, e, Some(f.to_string())),
                _ => (off, end, None),
            };
            out.push(EntryRead {
                off: start + off,
                written: expr[at..end].to_string(),
                name: name.to_string(),
                fact,
                guarded: guarded_from(expr, at + "hostvars".len()),
            });
        }
    }
    out
}

/// The attribute or constant item read at byte `i` of `expr` (`.name`, not a method call, or
/// `['name']`): where its name starts, where the read ends, and the name.
fn attr_at(expr: &str, i: usize) -> Option<(usize, usize, &str)> {
    let b = expr.as_bytes();
    let i = skip_ws(b, i);
    match b.get(i) {
        Some(b'.') => {
            let s = skip_ws(b, i + 1);
            let e = ident_end(b, s);
            (e > s && b.get(skip_ws(b, e)) != Some(&b'(')).then_some((s, e, &expr[s..e]))
        }
        Some(b'[') => {
            let s = skip_ws(b, i + 1);
            let q = b.get(s).copied();
            if !matches!(q, Some(b'\'' | b'"')) {
                return None;
            }
            let e = skip_string(b, s);
            let close = skip_ws(b, e);
            (e >= s + 2 && b.get(e - 1).copied() == q && b.get(close) == Some(&b']'))
                .then(|| (s + 1, close + 1, &expr[s + 1..e - 1]))
        }
        _ => None,
    }
}

/// The end of the identifier that starts at byte `s` of `b` (`s` itself if none does).
fn ident_end(b: &[u8], s: usize) -> usize {
    let mut e = s;
    while e < b.len() && is_ident(b[e]) {
        e += 1;
    }
    e
}

/// The test of an `is [not] TEST` at byte `i` of `expr` (its last name: `changed` of
/// `ansible.builtin.changed`), if there is one.
fn test_at(expr: &str, i: usize) -> Option<String> {
    let b = expr.as_bytes();
    let word = |s: usize| {
        let s = skip_ws(b, s);
        (s, ident_end(b, s))
    };
    let (s, e) = word(i);
    if &expr[s..e] != "is" || e == b.len() || !b[e].is_ascii_whitespace() {
        return None;
    }
    let (mut s, mut e) = word(e);
    if &expr[s..e] == "not" {
        (s, e) = word(e);
    }
    let mut name = &expr[s..e];
    while b.get(e) == Some(&b'.') {
        (s, e) = (e + 1, ident_end(b, e + 1));
        name = &expr[s..e];
    }
    (!name.is_empty()).then(|| name.to_string())
}

/// The expressions of a template (inside `{{ }}` and `{% %}`) with their byte offsets; a bare
/// expression is one.
fn expressions(text: &str, bare: bool) -> Vec<(usize, &str)> {
    if bare {
        return vec![(0, text)];
    }
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(open) = text[i..].find(['{']).map(|o| o + i) {
        let close = match text.get(open + 1..open + 2) {
            Some("{") => "}}",
            Some("%") => "%}",
            _ => {
                i = open + 1;
                continue;
            }
        };
        let from = open + 2;
        let Some(end) = text[from..].find(close).map(|e| e + from) else {
            break;
        };
        out.push((from, &text[from..end]));
        i = end + 2;
    }
    out
}

pub(super) const KEYWORDS: &[&str] = &[
    "and",
    "or",
    "not",
    "in",
    "is",
    "if",
    "else",
    "true",
    "false",
    "none",
    "True",
    "False",
    "None",
    "loop",
    "range",
    "dict",
    "lookup",
    "query",
    "q",
    "namespace",
    "__pyfmt",
    "caller",
    "varargs",
    "kwargs",
    "self",
    "super",
    "omit",
    "vars",
    "ansible_managed",
];

/// The first root identifier in `text` that the variables do not define.
pub(super) fn first_undefined_name(text: &str, vars: &Arc<Vars>) -> Option<String> {
    let b = text.as_bytes();
    let mut i = 0;
    let mut prev_sig: u8 = b' ';
    let mut prev_word = String::new();
    while i < b.len() {
        let c = b[i];
        if c == b'\'' || c == b'"' {
            i = skip_string(b, i);
            prev_sig = b'"';
            continue;
        }
        if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            let word = &text[start..i];
            let rest = text[i..].trim_start();
            let is_kwarg = rest.starts_with('=') && !rest.starts_with("==");
            if prev_sig != b'.'
                && prev_sig != b'|'
                && prev_word != "is"
                && !is_kwarg
                && !KEYWORDS.contains(&word)
                && vars.get(word).is_none()
            {
                return Some(word.to_string());
            }
            prev_word = word.to_string();
            prev_sig = b'a';
            continue;
        }
        if !c.is_ascii_whitespace() {
            prev_sig = c;
            prev_word.clear();
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::{Use, entry_reads, fact_reads, uses_of};

    #[test]
    fn names_read_from_hosts_entries_in_hostvars() {
        let t = "{{ hostvars['db'].ansible_distrbution }} {{ hostvars[h].ansible_facts['os'] | default(1) }} {{ hostvars.db.app }} {{ hostvars[h].get('x') }} {{ hostvars }}";
        let reads = entry_reads(t, false);
        let got: Vec<(usize, &str, &str, Option<&str>, bool)> = reads
            .iter()
            .map(|r| {
                (
                    r.off,
                    &t[r.off..r.off + 2],
                    r.name.as_str(),
                    r.fact.as_deref(),
                    r.guarded,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (18, "an", "ansible_distrbution", None, false),
                (71, "os", "ansible_facts", Some("os"), true),
                (107, "ap", "app", None, false),
            ]
        );
        let r = &entry_reads(t, false)[1];
        assert_eq!(r.written, "hostvars[h].ansible_facts['os']");
        assert_eq!(
            entry_reads("hostvars[inventory_hostname]['ansible_host']", true)[0].name,
            "ansible_host"
        );
    }

    #[test]
    fn uses_of_a_variable_field_by_field() {
        let f = |o: usize, n: &str, g: bool| Use::Field(o, n.to_string(), g);
        let t = |n: &str| Use::Test(n.to_string());
        // (text, bare) → its uses of `r`
        let table: Vec<(&str, bool, Vec<Use>)> = vec![
            ("r.stdout == 'x'", true, vec![f(2, "stdout", false)]),
            (
                "r['rc'] != 0 and r.x.y",
                true,
                vec![f(3, "rc", false), f(19, "x", false)],
            ),
            ("r is changed", true, vec![t("changed")]),
            ("r is not ansible.builtin.failed", true, vec![t("failed")]),
            (
                "r.stdout.split() | length",
                true,
                vec![f(2, "stdout", false)],
            ),
            ("r.stdot is defined", true, vec![f(2, "stdot", true)]),
            (
                "r.get('rc') or r[0] or r | default({}) or r",
                true,
                vec![Use::Whole; 4],
            ),
            ("'r.stdout' in x.r and rr", true, vec![]),
            (
                "a {{ r.stdout_lines }} r.rc",
                false,
                vec![f(7, "stdout_lines", false)],
            ),
            (
                "{% for l in r.stdout_lines %}{{ l }}{% endfor %}",
                false,
                vec![f(14, "stdout_lines", false)],
            ),
        ];
        for (text, bare, want) in table {
            assert_eq!(uses_of(text, bare, "r"), want, "{text}");
        }
    }

    #[test]
    fn facts_read_by_name_with_their_offsets_and_guards() {
        let t = "a {{ ansible_facts.os_family }} {{ ansible_facts['x'] | default(1) }} {{ ansible_facts.get('y') }} ansible_facts.z";
        let got = fact_reads(t, false);
        let want = vec![
            (19, "os_family".to_string(), false),
            (50, "x".to_string(), true),
        ];
        assert_eq!(got, want);
        assert_eq!(&t[19..28], "os_family");
        // A condition is one expression; a string inside it is not a read.
        let c = "ansible_facts.lsb.id is defined and 'ansible_facts.no' != ansible_facts [\"distribution\"]";
        let got: Vec<(String, bool)> = fact_reads(c, true)
            .into_iter()
            .map(|(_, n, g)| (n, g))
            .collect();
        assert_eq!(
            got,
            [
                ("lsb".to_string(), true),
                ("distribution".to_string(), false)
            ]
        );
    }
}
