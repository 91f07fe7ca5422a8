//! Ansible's and Jinja2's tests (`is match`, `is version`, `is subset`, `is file`, ...), each
//! also under `ansible.builtin.`.

use crate::jinja_filters::{compile_regex, err, to_bool};
use crate::py_value::py_str;
use minijinja::value::{Kwargs, Value, ValueKind};
use minijinja::{Environment, Error};
use std::cmp::Ordering;

macro_rules! test_both {
    ($env:expr, $name:literal, $f:expr) => {
        $env.add_test($name, $f);
        $env.add_test(concat!("ansible.builtin.", $name), $f);
    };
}

fn list(v: &Value) -> Vec<Value> {
    v.try_iter().map(|i| i.collect()).unwrap_or_default()
}

fn regex_test(v: Value, pattern: String, kw: Kwargs, how: &str) -> Result<bool, Error> {
    // Python's re.match anchors at the start; re.search does not
    let pattern = if how == "match" {
        format!("\\A(?:{pattern})")
    } else {
        pattern
    };
    let re = compile_regex(&pattern, &kw)?;
    let _ = kw.assert_all_used();
    re.is_match(&py_str(&v))
        .map_err(|e| err(format!("regex test: {e}")))
}

/// One part of a loose version: a number or a word.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Part {
    Num(u64),
    Word(String),
}

fn loose_parts(s: &str) -> Vec<Part> {
    let mut out = vec![];
    let mut cur = String::new();
    let mut num = false;
    for c in s.chars() {
        if c == '.' || c == '-' || c == '_' || c == '+' || c == ' ' {
            if !cur.is_empty() {
                out.push(if num {
                    Part::Num(cur.parse().unwrap_or(0))
                } else {
                    Part::Word(std::mem::take(&mut cur))
                });
                cur.clear();
            }
            continue;
        }
        let d = c.is_ascii_digit();
        if !cur.is_empty() && d != num {
            out.push(if num {
                Part::Num(cur.parse().unwrap_or(0))
            } else {
                Part::Word(std::mem::take(&mut cur))
            });
            cur.clear();
        }
        num = d;
        cur.push(c);
    }
    if !cur.is_empty() {
        out.push(if num {
            Part::Num(cur.parse().unwrap_or(0))
        } else {
            Part::Word(cur)
        });
    }
    out
}

fn semver_cmp(a: &str, b: &str) -> Ordering {
    let split = |s: &str| {
        let s = s.split('+').next().unwrap_or_default().to_string();
        match s.split_once('-') {
            Some((c, p)) => (c.to_string(), Some(p.to_string())),
            None => (s, None),
        }
    };
    let (ca, pa) = split(a);
    let (cb, pb) = split(b);
    let core = |s: &str| {
        s.split('.')
            .map(|x| x.parse::<u64>().unwrap_or(0))
            .collect::<Vec<_>>()
    };
    match core(&ca).cmp(&core(&cb)) {
        Ordering::Equal => match (pa, pb) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Greater,
            (Some(_), None) => Ordering::Less,
            (Some(x), Some(y)) => loose_parts(&x).cmp(&loose_parts(&y)),
        },
        o => o,
    }
}

/// Ansible's `version` test: `x is version('1.2', '>=')`.
pub(crate) fn version(
    v: Value,
    other: Value,
    op: Option<String>,
    kw: Kwargs,
) -> Result<bool, Error> {
    let op = match kw.get::<Option<String>>("operator")? {
        Some(o) => o,
        None => op.unwrap_or_else(|| "eq".into()),
    };
    let strict: bool = kw.get::<Option<bool>>("strict")?.unwrap_or(false);
    let vtype: String = kw
        .get::<Option<String>>("version_type")?
        .unwrap_or_else(|| {
            if strict {
                "strict".into()
            } else {
                "loose".into()
            }
        });
    let (a, b) = (py_str(&v), py_str(&other));
    let ord = match vtype.as_str() {
        "semver" | "semantic" => semver_cmp(&a, &b),
        _ => loose_parts(&a).cmp(&loose_parts(&b)),
    };
    Ok(match op.as_str() {
        "==" | "=" | "eq" => ord == Ordering::Equal,
        "!=" | "<>" | "ne" => ord != Ordering::Equal,
        "<" | "lt" => ord == Ordering::Less,
        "<=" | "le" => ord != Ordering::Greater,
        ">" | "gt" => ord == Ordering::Greater,
        ">=" | "ge" => ord != Ordering::Less,
        other => return Err(err(format!("Invalid operator type ({other})"))),
    })
}

fn path_of(v: &Value) -> std::path::PathBuf {
    let s = py_str(v);
    let s = match s.strip_prefix("~/") {
        Some(r) => format!("{}/{r}", std::env::var("HOME").unwrap_or_default()),
        None => s,
    };
    std::path::PathBuf::from(s)
}

fn task_field(v: &Value, field: &str) -> bool {
    v.get_attr(field).map(|x| to_bool(&x)).unwrap_or(false)
}

pub(crate) fn register(env: &mut Environment<'static>) {
    test_both!(env, "match", |v: Value, p: String, kw: Kwargs| regex_test(
        v, p, kw, "match"
    ));
    test_both!(env, "search", |v: Value, p: String, kw: Kwargs| regex_test(
        v, p, kw, "search"
    ));
    test_both!(env, "regex", |v: Value,
                              p: String,
                              kw: Kwargs|
     -> Result<bool, Error> {
        let how: Option<String> = kw.get("match_type")?;
        regex_test(v, p, kw, how.as_deref().unwrap_or("search"))
    });
    test_both!(env, "version", version);
    test_both!(env, "version_compare", version);
    test_both!(env, "subset", |a: Value, b: Value| {
        let bl = list(&b);
        list(&a).iter().all(|x| bl.contains(x))
    });
    test_both!(env, "superset", |a: Value, b: Value| {
        let al = list(&a);
        list(&b).iter().all(|x| al.contains(x))
    });
    test_both!(env, "contains", |a: Value, x: Value| list(&a).contains(&x));
    test_both!(env, "any", |a: Value| list(&a).iter().any(|x| x.is_true()));
    test_both!(env, "all", |a: Value| list(&a).iter().all(|x| x.is_true()));
    test_both!(env, "truthy", |v: Value,
                               kw: Kwargs|
     -> Result<bool, Error> {
        let conv: bool = kw.get::<Option<bool>>("convert_bool")?.unwrap_or(false);
        Ok(
            if conv && matches!(v.kind(), ValueKind::String | ValueKind::Number) {
                to_bool(&v)
            } else {
                v.is_true()
            },
        )
    });
    test_both!(env, "falsy", |v: Value,
                              kw: Kwargs|
     -> Result<bool, Error> {
        let conv: bool = kw.get::<Option<bool>>("convert_bool")?.unwrap_or(false);
        Ok(
            !(if conv && matches!(v.kind(), ValueKind::String | ValueKind::Number) {
                to_bool(&v)
            } else {
                v.is_true()
            }),
        )
    });
    test_both!(env, "file", |v: Value| path_of(&v).is_file());
    test_both!(env, "directory", |v: Value| path_of(&v).is_dir());
    test_both!(env, "exists", |v: Value| path_of(&v).exists());
    test_both!(env, "link", |v: Value| path_of(&v).is_symlink());
    test_both!(env, "abs", |v: Value| py_str(&v).starts_with('/'));
    test_both!(env, "mount", |v: Value| {
        let p = path_of(&v);
        p.is_dir()
            && (p == std::path::Path::new("/")
                || std::fs::read_to_string("/proc/mounts")
                    .map(|m| m.lines().any(|l| l.split(' ').nth(1) == Some(&py_str(&v))))
                    .unwrap_or(false))
    });
    test_both!(env, "same_file", |a: Value, b: Value| match (
        std::fs::canonicalize(path_of(&a)),
        std::fs::canonicalize(path_of(&b))
    ) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    });
    test_both!(env, "string", |v: Value| v.kind() == ValueKind::String);
    test_both!(env, "boolean", |v: Value| v.kind() == ValueKind::Bool);
    test_both!(env, "number", |v: Value| matches!(
        v.kind(),
        ValueKind::Number | ValueKind::Bool
    ));
    test_both!(env, "integer", |v: Value| v.kind() == ValueKind::Number
        && v.is_integer());
    test_both!(env, "float", |v: Value| v.kind() == ValueKind::Number
        && !v.is_integer());
    test_both!(env, "mapping", |v: Value| v.kind() == ValueKind::Map);
    test_both!(env, "sequence", |v: Value| matches!(
        v.kind(),
        ValueKind::Seq | ValueKind::String | ValueKind::Map | ValueKind::Iterable
    ));
    test_both!(env, "iterable", |v: Value| matches!(
        v.kind(),
        ValueKind::Seq | ValueKind::String | ValueKind::Map | ValueKind::Iterable
    ));
    test_both!(env, "lower", |v: Value| {
        let s = py_str(&v);
        s.to_lowercase() == s && s.chars().any(char::is_alphabetic)
    });
    test_both!(env, "upper", |v: Value| {
        let s = py_str(&v);
        s.to_uppercase() == s && s.chars().any(char::is_alphabetic)
    });
    test_both!(env, "sameas", |a: Value, b: Value| {
        // Python's `is`: singletons, and equal small ints and strings (interned)
        a.kind() == b.kind()
            && a == b
            && (a.kind() != ValueKind::Number || (a.is_integer() && b.is_integer()))
            && !matches!(a.kind(), ValueKind::Seq | ValueKind::Map)
    });
    for (name, field, want) in [
        ("changed", "changed", true),
        ("change", "changed", true),
        ("failed", "failed", true),
        ("failure", "failed", true),
        ("succeeded", "failed", false),
        ("success", "failed", false),
        ("successful", "failed", false),
        ("skipped", "skipped", true),
        ("skip", "skipped", true),
        ("unreachable", "unreachable", true),
        ("reachable", "unreachable", false),
    ] {
        let f = move |v: Value| task_field(&v, field) == want;
        env.add_test(name, f);
        env.add_test(format!("ansible.builtin.{name}"), f);
    }
    test_both!(env, "nan", |v: Value| f64::try_from(v)
        .map(|f| f.is_nan())
        .unwrap_or(false));
}
