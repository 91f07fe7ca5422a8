//! Ansible's strictness about undefined variables, made of checks written into a template
//! before it renders (MiniJinja's chainable undefined is lenient where Ansible 2.19 is not):
//! before each filter that could receive one, around each `{% if %}`/`{% elif %}` condition,
//! and around the operands of `~`. Only a template that reads a variable which is not
//! defined is rewritten; `is defined`, `default`, `d` and `mandatory` keep working.

use crate::jinja;
use crate::jinja_rewrite::{is_ident, skip_bracket, skip_string, skip_ws};
use serde_json::Value;
use std::collections::BTreeSet;

/// The root names (`r` of `r.stdout`) of a set of variable names.
pub(crate) fn roots(names: impl IntoIterator<Item = String>) -> impl Iterator<Item = String> {
    names
        .into_iter()
        .map(|n| n.split(['.', '[']).next().unwrap_or(&n).to_string())
}

/// The root names of the variables a value's templates read (empty for text that does not
/// parse: rendering it reports that).
pub(crate) fn names_in(v: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    match v {
        Value::String(s) if jinja::has_template(s) => {
            out.extend(roots(jinja::undeclared_variables(s)))
        }
        Value::Array(a) => a.iter().for_each(|x| out.extend(names_in(x))),
        Value::Object(o) => o.values().for_each(|x| out.extend(names_in(x))),
        _ => {}
    }
    out
}

/// `names` and, transitively, every name their values read (`get`): a value that holds `{{ }}`
/// renders when read, so `root: "{{ base }}/x"` reads `base` too. Sorted.
pub(crate) fn names_read<'v>(
    names: BTreeSet<String>,
    get: &dyn Fn(&str) -> Option<&'v Value>,
) -> BTreeSet<String> {
    let mut todo: Vec<String> = names.into_iter().collect();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    while let Some(n) = todo.pop() {
        if let Some(v) = get(&n) {
            todo.extend(names_in(v).into_iter().filter(|m| !seen.contains(m)));
        }
        seen.insert(n);
    }
    seen
}

/// `source` with a check before each filter that could receive an undefined variable, so
/// that `{{ nope | upper }}` fails as in Ansible instead of printing `NONE`. Only when the
/// source reads a variable that is not defined (else nothing changes), and never before the
/// filters meant for undefined values (`default`, `d`, `mandatory`).
pub(crate) fn strict(defined: &dyn Fn(&str) -> bool, source: &str, bare: bool) -> String {
    let reads_undefined = roots(jinja::undeclared_variables(&if bare {
        format!("{{{{ {source} }}}}")
    } else {
        source.to_string()
    }))
    .any(|n| !defined(&n) && !matches!(n.as_str(), "omit" | "ansible_managed" | "vars"));
    if !reads_undefined {
        return source.to_string();
    }
    let mut out = String::with_capacity(source.len() + 32);
    let mut last = 0;
    for (off, name, test) in named_calls(source, bare) {
        let tolerant = matches!(
            name.trim_start_matches("ansible.builtin."),
            "default" | "d" | "mandatory"
        );
        if test || tolerant {
            continue;
        }
        out.push_str(&source[last..off]);
        out.push_str("__plumb_defined | ");
        last = off;
    }
    out.push_str(&source[last..]);
    if bare { out } else { around(&out) }
}

/// Keywords that are not variables.
const KEYWORDS: &[&str] = &[
    "and",
    "or",
    "not",
    "if",
    "else",
    "elif",
    "is",
    "in",
    "true",
    "false",
    "none",
    "True",
    "False",
    "None",
    "for",
    "endif",
    "endfor",
    "set",
    "endset",
    "block",
    "endblock",
    "macro",
    "endmacro",
    "with",
    "endwith",
    "include",
    "import",
    "from",
    "as",
    "recursive",
    "raw",
    "endraw",
    "filter",
    "endfilter",
    "call",
    "endcall",
];

/// `src` with `{% if c %}`/`{% elif c %}` turned into `{% if (c) | __plumb_defined %}`, and each
/// variable (with its `.attr`/`[key]` chain) on either side of `~` into
/// `(v | __plumb_defined)`: an undefined value there is an error, as in Ansible 2.19.
fn around(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = String::with_capacity(src.len() + 32);
    let (mut i, mut last, mut inside) = (0, 0, false);
    let mut prev = "";
    while i < b.len() {
        if !inside {
            if src[i..].starts_with("{#") {
                i = src[i..].find("#}").map_or(b.len(), |e| i + e + 2);
            } else if src[i..].starts_with("{%") && is_raw(&src[i..]) {
                i = src[i..]
                    .find("endraw")
                    .map_or(b.len(), |e| i + e + "endraw".len());
            } else if src[i..].starts_with("{{") || src[i..].starts_with("{%") {
                let stmt = src[i..].starts_with("{%");
                inside = true;
                prev = "op";
                i += 2;
                if stmt {
                    let w = skip_ws(
                        b,
                        if matches!(b.get(i), Some(b'-' | b'+')) {
                            i + 1
                        } else {
                            i
                        },
                    );
                    let mut e = w;
                    while e < b.len() && is_ident(b[e]) {
                        e += 1;
                    }
                    if matches!(&src[w..e], "if" | "elif")
                        && let Some(end) = tag_end(b, e)
                    {
                        let cond = &src[e..end];
                        let trim = cond.trim_end_matches(['-', '+']);
                        out.push_str(&src[last..e]);
                        out.push_str(&format!(" ({}) | __plumb_defined ", trim.trim()));
                        out.push_str(&cond[trim.len()..]);
                        last = end;
                        i = end;
                    }
                }
            } else {
                i += 1;
            }
            continue;
        }
        let c = b[i];
        if src[i..].starts_with("}}") || src[i..].starts_with("%}") {
            inside = false;
            i += 2;
        } else if c == b'"' || c == b'\'' {
            i = skip_string(b, i);
            prev = "lit";
        } else if (c.is_ascii_alphabetic() || c == b'_') && prev != "." {
            let start = i;
            let mut e = i;
            while e < b.len() && is_ident(b[e]) {
                e += 1;
            }
            let word = &src[start..e];
            loop {
                if b.get(e) == Some(&b'.') && b.get(e + 1).is_some_and(|x| is_ident(*x)) {
                    e += 1;
                    while e < b.len() && is_ident(b[e]) {
                        e += 1;
                    }
                } else if b.get(e) == Some(&b'[') {
                    e = skip_bracket(b, e);
                } else {
                    break;
                }
            }
            let next = b.get(skip_ws(b, e)).copied();
            let var =
                !KEYWORDS.contains(&word) && prev != "|" && prev != "is" && next != Some(b'(');
            if var && (prev == "~" || next == Some(b'~')) {
                out.push_str(&src[last..start]);
                out.push('(');
                out.push_str(&src[start..e]);
                out.push_str(" | __plumb_defined)");
                last = e;
            }
            prev = if word == "is" { "is" } else { "ident" };
            i = e;
        } else {
            if !c.is_ascii_whitespace() {
                prev = match c {
                    b'~' => "~",
                    b'|' => "|",
                    b'.' => ".",
                    _ => "op",
                };
            }
            i += 1;
        }
    }
    out.push_str(&src[last..]);
    out
}

/// Where a `{% %}` tag's expression starting at `i` ends (the `%}`), outside strings.
fn tag_end(b: &[u8], mut i: usize) -> Option<usize> {
    while i + 1 < b.len() {
        match b[i] {
            b'"' | b'\'' => i = skip_string(b, i),
            b'%' if b[i + 1] == b'}' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// The filters (`| name`) and tests (`is [not] name`) named inside a template's `{{ }}` and
/// `{% %}` (all of `src` when `bare`: a condition), with their byte offsets; string literals,
/// comments and `{% raw %}` are skipped.
pub(crate) fn named_calls(src: &str, bare: bool) -> Vec<(usize, &str, bool)> {
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

fn is_raw(s: &str) -> bool {
    let t = s[2..].trim_start_matches(['-', '+', ' ']);
    t.starts_with("raw") && t[3..].trim_start().starts_with(['-', '%', '+'])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn conditions_and_concatenations_are_checked() {
        let m = json!({"x": "a"}).as_object().unwrap().clone();
        assert_eq!(
            strict(
                &|n| m.contains_key(n),
                "{% if nope %}y{%- elif x -%}z{% endif %}",
                false
            ),
            "{% if (nope) | __plumb_defined %}y{%- elif (x) | __plumb_defined -%}z{% endif %}"
        );
        assert_eq!(
            strict(
                &|n| m.contains_key(n),
                "{{ nope.a['b'] ~ 'x' ~ x }} {{ 'y' ~ f(nope) }}",
                false
            ),
            "{{ (nope.a['b'] | __plumb_defined) ~ 'x' ~ (x | __plumb_defined) }} {{ 'y' ~ f(nope) }}"
        );
        // Nothing undefined read: unchanged.
        assert_eq!(
            strict(
                &|n| m.contains_key(n),
                "{% if x %}{{ x ~ 'y' }}{% endif %}",
                false
            ),
            "{% if x %}{{ x ~ 'y' }}{% endif %}"
        );
    }
}
