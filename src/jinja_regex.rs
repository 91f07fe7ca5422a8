//! Ansible's regex filters on Python-style patterns and replacements (`\\1`, `\\g<name>`,
//! `ignorecase=`, `multiline=`), on `fancy-regex` (lookaround and backreferences, as in Python).

use crate::filter_err::err;
use crate::py_value::py_str;
use minijinja::Error;
use minijinja::value::{Kwargs, Rest, Value};

fn s_of(v: &Value) -> String {
    py_str(v)
}

/// Python's `re` pattern as a Rust regex (with Ansible's flag keywords). Compiled once per
/// pattern and flags for the whole run: a template renders for every host, and compiling
/// costs more than matching.
pub(crate) fn compile_regex(
    pattern: &str,
    kw: &Kwargs,
) -> Result<std::sync::Arc<fancy_regex::Regex>, Error> {
    let mut flags = String::new();
    if kw.get::<Option<bool>>("ignorecase")?.unwrap_or(false) {
        flags.push('i');
    }
    if kw.get::<Option<bool>>("multiline")?.unwrap_or(false) {
        flags.push('m');
    }
    let pat = if flags.is_empty() {
        pattern.to_string()
    } else {
        format!("(?{flags}){pattern}")
    };
    static COMPILED: crate::run_memo::RunMemo<std::sync::Arc<fancy_regex::Regex>> =
        crate::run_memo::RunMemo::new(512);
    COMPILED.get_or(&pat, || {
        fancy_regex::Regex::new(&pat)
            .map(std::sync::Arc::new)
            .map_err(|e| err(format!("invalid regular expression: {e}")))
    })
}

/// A Python replacement string (`\1`, `\g<name>`) as a Rust one (`${1}`, `${name}`).
fn py_repl(repl: &str) -> String {
    let mut out = String::new();
    let mut chars = repl.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '$' => out.push_str("$$"),
            '\\' => match chars.peek().copied() {
                Some(d) if d.is_ascii_digit() => {
                    let mut n = String::new();
                    while let Some(&d) = chars.peek() {
                        if d.is_ascii_digit() && n.len() < 2 {
                            n.push(d);
                            chars.next();
                        } else {
                            break;
                        }
                    }
                    out.push_str(&format!("${{{n}}}"));
                }
                Some('g') => {
                    chars.next();
                    if chars.peek() == Some(&'<') {
                        chars.next();
                        let name: String = chars.by_ref().take_while(|&c| c != '>').collect();
                        out.push_str(&format!("${{{name}}}"));
                    } else {
                        out.push_str("\\g");
                    }
                }
                Some('n') => {
                    chars.next();
                    out.push('\n');
                }
                Some('t') => {
                    chars.next();
                    out.push('\t');
                }
                Some('\\') => {
                    chars.next();
                    out.push('\\');
                }
                _ => out.push('\\'),
            },
            c => out.push(c),
        }
    }
    out
}

pub(crate) fn regex_replace(
    v: Value,
    pattern: String,
    repl: Option<String>,
    count: Option<usize>,
    kw: Kwargs,
) -> Result<String, Error> {
    let re = compile_regex(&pattern, &kw)?;
    let count = match kw.get::<Option<usize>>("count")? {
        Some(c) => c,
        None => count.unwrap_or(0),
    };
    let _ = kw.assert_all_used();
    let s = s_of(&v);
    let r = py_repl(&repl.unwrap_or_default());
    re.try_replacen(&s, count, r.as_str())
        .map(|c| c.into_owned())
        .map_err(|e| err(format!("regex_replace: {e}")))
}

fn group_value(caps: &fancy_regex::Captures, spec: &str) -> Value {
    let spec = spec.trim_start_matches('\\');
    let m = if let Some(name) = spec.strip_prefix("g<").and_then(|s| s.strip_suffix('>')) {
        match name.parse::<usize>() {
            Ok(i) => caps.get(i),
            Err(_) => caps.name(name),
        }
    } else {
        spec.parse::<usize>().ok().and_then(|i| caps.get(i))
    };
    m.map(|m| Value::from(m.as_str()))
        .unwrap_or(Value::from(()))
}

pub(crate) fn regex_search(
    v: Value,
    pattern: String,
    groups: Rest<String>,
    kw: Kwargs,
) -> Result<Value, Error> {
    let re = compile_regex(&pattern, &kw)?;
    let _ = kw.assert_all_used();
    let s = s_of(&v);
    let Some(caps) = re
        .captures(&s)
        .map_err(|e| err(format!("regex_search: {e}")))?
    else {
        return Ok(Value::from(()));
    };
    if groups.is_empty() {
        return Ok(Value::from(
            caps.get(0).map(|m| m.as_str()).unwrap_or_default(),
        ));
    }
    Ok(Value::from(
        groups
            .iter()
            .map(|g| group_value(&caps, g))
            .collect::<Vec<_>>(),
    ))
}

pub(crate) fn regex_findall(v: Value, pattern: String, kw: Kwargs) -> Result<Value, Error> {
    let re = compile_regex(&pattern, &kw)?;
    let _ = kw.assert_all_used();
    let s = s_of(&v);
    let n = re.captures_len() - 1;
    let caps: Vec<fancy_regex::Captures> = re
        .captures_iter(&s)
        .collect::<Result<_, _>>()
        .map_err(|e| err(format!("regex_findall: {e}")))?;
    let out: Vec<Value> = caps
        .iter()
        .map(|c| match n {
            0 => Value::from(c.get(0).map(|m| m.as_str()).unwrap_or_default()),
            1 => Value::from(c.get(1).map(|m| m.as_str()).unwrap_or_default()),
            _ => Value::from(
                (1..=n)
                    .map(|i| Value::from(c.get(i).map(|m| m.as_str()).unwrap_or_default()))
                    .collect::<Vec<_>>(),
            ),
        })
        .collect();
    Ok(Value::from(out))
}

/// Python's `re.escape`.
pub(crate) fn regex_escape(v: Value) -> String {
    let mut out = String::new();
    for c in s_of(&v).chars() {
        if "()[]{}?*+-|^$\\.&~# \t\n\r\x0b\x0c".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
