//! Scanners over template text that the static checks use: the filters and tests it names,
//! where a variable stands, and the names worth suggesting for a typo.

use crate::location::Location;

/// The filters (`| name`) and tests (`is [not] name`) named inside a template's `{{ }}` and
/// `{% %}` (all of `src` when `bare`: a condition), with their byte offsets; string literals,
/// comments and `{% raw %}` are skipped.
pub(super) fn named_calls(src: &str, bare: bool) -> Vec<(usize, &str, bool)> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut inside = bare;
    let mut prev: Option<&str> = None;
    let mut prev2: Option<&str> = None;
    let ident = |i: usize| -> usize {
        let mut j = i;
        while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_' || b[j] == b'.') {
            j += 1;
        }
        j
    };
    while i < b.len() {
        // Only ASCII bytes start what is looked for, so `i` is a char boundary where it slices.
        if !inside && b[i] != b'{' {
            i += 1;
            continue;
        }
        if !inside {
            if src[i..].starts_with("{#") {
                i = src[i..].find("#}").map_or(b.len(), |e| i + e + 2);
            } else if src[i..].starts_with("{%") && is_raw(&src[i..]) {
                i = src[i..]
                    .find("endraw")
                    .map_or(b.len(), |e| i + e + "endraw".len());
            } else if src[i..].starts_with("{{") || src[i..].starts_with("{%") {
                inside = true;
                i += 2;
            } else {
                i += 1;
            }
            continue;
        }
        let c = b[i];
        if !c.is_ascii() {
            i += 1;
            continue;
        }
        if !bare && (src[i..].starts_with("}}") || src[i..].starts_with("%}")) {
            inside = false;
            prev = None;
            prev2 = None;
            i += 2;
        } else if c == b'"' || c == b'\'' {
            let mut j = i + 1;
            while j < b.len() && b[j] != c {
                j += if b[j] == b'\\' { 2 } else { 1 };
            }
            i = j + 1;
            prev = Some("lit");
        } else if c == b'|' {
            let mut j = i + 1;
            while j < b.len() && b[j] == b' ' {
                j += 1;
            }
            let end = ident(j);
            if end > j {
                out.push((j, &src[j..end], false));
            }
            i = end.max(i + 1);
            prev = Some("filter");
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let end = ident(i);
            let word = &src[i..end];
            let after_is = prev == Some("is") || (prev == Some("not") && prev2 == Some("is"));
            if after_is && word != "not" {
                out.push((i, word, true));
            }
            prev2 = prev;
            prev = Some(word);
            i = end;
        } else {
            if !c.is_ascii_whitespace() {
                prev = Some("op");
                prev2 = None;
            }
            i += 1;
        }
    }
    out
}

pub(super) fn is_raw(s: &str) -> bool {
    let t = s[2..].trim_start_matches(['-', '+', ' ']);
    t.starts_with("raw") && t[3..].trim_start().starts_with(['-', '%', '+'])
}

/// Jinja's and Ansible's filters and tests people name most, for "did you mean" hints.
pub(super) const FILTERS: &[&str] = &[
    "abs",
    "b64decode",
    "b64encode",
    "basename",
    "bool",
    "capitalize",
    "combine",
    "comment",
    "default",
    "dict2items",
    "difference",
    "dirname",
    "first",
    "flatten",
    "float",
    "from_json",
    "from_yaml",
    "hash",
    "indent",
    "int",
    "intersect",
    "items2dict",
    "join",
    "last",
    "length",
    "list",
    "lower",
    "map",
    "mandatory",
    "max",
    "min",
    "password_hash",
    "quote",
    "regex_escape",
    "regex_findall",
    "regex_replace",
    "regex_search",
    "reject",
    "rejectattr",
    "replace",
    "reverse",
    "round",
    "select",
    "selectattr",
    "sort",
    "split",
    "string",
    "sum",
    "ternary",
    "title",
    "to_json",
    "to_nice_json",
    "to_nice_yaml",
    "to_yaml",
    "trim",
    "union",
    "unique",
    "upper",
    "urlsplit",
    "zip",
];
pub(super) const TESTS: &[&str] = &[
    "changed",
    "defined",
    "directory",
    "divisibleby",
    "even",
    "exists",
    "failed",
    "file",
    "iterable",
    "mapping",
    "match",
    "none",
    "number",
    "odd",
    "regex",
    "search",
    "sequence",
    "skipped",
    "string",
    "subset",
    "succeeded",
    "success",
    "superset",
    "undefined",
    "version",
];

/// The same place one line over when the text was not copied verbatim from the file (a block
/// scalar's indentation, escapes): where `token` actually is on the located line.
pub(super) fn snap(at: Location, token: &str) -> Location {
    let Ok(file) = std::fs::read_to_string(at.path()) else {
        return at;
    };
    let Some(line) = file.lines().nth(at.line - 1) else {
        return at;
    };
    let cols: Vec<usize> = line
        .match_indices(token)
        .map(|(i, _)| line[..i].chars().count() + 1)
        .collect();
    if cols.is_empty() || cols.contains(&at.col) {
        return at;
    }
    let col = *cols
        .iter()
        .min_by_key(|c| c.abs_diff(at.col))
        .expect("non-empty");
    Location::new(&at.file, at.line, col)
}

/// Byte offset of variable `name` standing alone inside a `{{ }}` or `{% %}` of `text`.
pub(super) fn find_var(text: &str, name: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = text[from..].find(name) {
        let at = from + i;
        let before = text[..at].chars().next_back();
        let after = text[at + name.len()..].chars().next();
        let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
        let opened = text[..at].rfind("{{").max(text[..at].rfind("{%"));
        let closed = text[..at].rfind("}}").max(text[..at].rfind("%}"));
        let bare = !text.contains("{{") && !text.contains("{%");
        if !word(before) && !word(after) && (bare || (opened.is_some() && opened > closed)) {
            return Some(at);
        }
        from = at + name.len();
    }
    None
}
