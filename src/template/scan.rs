//! What the static checks use besides `template_strict::named_calls`: where a variable
//! stands in the text, and the filter and test names worth suggesting for a typo.

use crate::location::Location;

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
