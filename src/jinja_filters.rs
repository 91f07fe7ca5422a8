//! Ansible's and Jinja2's filters on scalars: strings, numbers, booleans, regexes, paths,
//! encodings and hashes, with Python's semantics. Collections are in `jinja_filters2`.

pub(crate) use crate::jinja_regex::compile_regex;
use crate::jinja_regex::{regex_escape, regex_findall, regex_replace, regex_search};
pub(crate) use crate::jinja_text::justify;
use crate::jinja_text::{capitalize, comment, indent, title, truncate, wordcount, wordwrap};
use crate::py_value::{float_repr, py_str};
use base64::Engine;
use minijinja::value::{Kwargs, Rest, Value, ValueKind, from_args};
use minijinja::{Environment, Error, ErrorKind};

mod size;
mod url;

use size::{human_readable, human_to_bytes};
use url::{urlencode, urlsplit};

pub(crate) use crate::filter_err::err;

/// Register a filter under its name and `ansible.builtin.<name>`.
macro_rules! both {
    ($env:expr, $name:literal, $f:expr) => {
        $env.add_filter($name, $f);
        $env.add_filter(concat!("ansible.builtin.", $name), $f);
    };
}
pub(crate) use both;

/// Positional arguments with keyword arguments of the given names put in their slots, for
/// filters whose Jinja2 signature takes either (`truncate(9, leeway=0)`).
pub(crate) fn positional(args: &[Value], kw: &Kwargs, names: &[&str]) -> Result<Vec<Value>, Error> {
    let mut out: Vec<Value> = args.to_vec();
    for (i, name) in names.iter().enumerate() {
        if let Some(v) = kw.get::<Option<Value>>(name)? {
            if out.len() <= i {
                out.resize(i + 1, Value::UNDEFINED);
            }
            out[i] = v;
        }
    }
    kw.assert_all_used()?;
    while out.last().is_some_and(|v| v.is_undefined()) {
        out.pop();
    }
    Ok(out)
}

/// Ansible's `bool` on a string.
fn str_bool(s: &str) -> bool {
    matches!(
        s.trim().to_lowercase().as_str(),
        "yes" | "on" | "1" | "true"
    )
}

pub(crate) fn to_bool(v: &Value) -> bool {
    match v.kind() {
        ValueKind::Bool => v.is_true(),
        ValueKind::String => str_bool(v.as_str().unwrap_or_default()),
        ValueKind::Number => f64::try_from(v.clone()).map(|f| f == 1.0).unwrap_or(false),
        _ => false,
    }
}

fn s_of(v: &Value) -> String {
    py_str(v)
}

fn to_int(v: Value, default: Option<Value>, kw: Kwargs) -> Result<Value, Error> {
    let base: Option<u32> = kw.get("base")?;
    let default = match kw.get::<Option<Value>>("default")? {
        Some(d) => d,
        None => default.unwrap_or(Value::from(0)),
    };
    kw.assert_all_used()?;
    let base = base.unwrap_or(10);
    Ok(match v.kind() {
        ValueKind::Bool => Value::from(if v.is_true() { 1 } else { 0 }),
        ValueKind::Number if v.is_integer() => v,
        ValueKind::Number => Value::from(f64::try_from(v).unwrap_or(0.0).trunc() as i64),
        ValueKind::String => {
            let s = v.as_str().unwrap_or_default().trim().replace('_', "");
            let digits = match base {
                16 => s
                    .trim_start_matches("0x")
                    .trim_start_matches("0X")
                    .to_string(),
                8 => s
                    .trim_start_matches("0o")
                    .trim_start_matches("0O")
                    .to_string(),
                2 => s
                    .trim_start_matches("0b")
                    .trim_start_matches("0B")
                    .to_string(),
                _ => s.clone(),
            };
            if let Ok(i) = i64::from_str_radix(&digits, base) {
                Value::from(i)
            } else if let Ok(f) = s.parse::<f64>() {
                if f.is_finite() {
                    Value::from(f.trunc() as i64)
                } else {
                    default
                }
            } else {
                default
            }
        }
        _ => default,
    })
}

fn to_float(v: Value, default: Option<Value>) -> Value {
    let default = default.unwrap_or(Value::from(0.0));
    match v.kind() {
        ValueKind::Bool => Value::from(if v.is_true() { 1.0 } else { 0.0 }),
        ValueKind::Number => Value::from(f64::try_from(v).unwrap_or(0.0)),
        ValueKind::String => v
            .as_str()
            .unwrap_or_default()
            .trim()
            .parse::<f64>()
            .map(Value::from)
            .unwrap_or(default),
        _ => default,
    }
}

/// Python's `round()` with Jinja2's `method` (common rounds half to even like Python).
fn round(v: Value, precision: Option<i32>, method: Option<String>) -> Result<Value, Error> {
    let p = precision.unwrap_or(0);
    let common = matches!(method.as_deref(), None | Some("common"));
    if common && v.is_integer() {
        // Python's round() keeps ints ints.
        let i = i128::try_from(v)?;
        if p >= 0 {
            return Ok(Value::from(i));
        }
        let m = 10i128.pow(p.unsigned_abs());
        let (q, r) = (i.div_euclid(m), i.rem_euclid(m));
        let q = if r * 2 > m || (r * 2 == m && q % 2 != 0) {
            q + 1
        } else {
            q
        };
        return Ok(Value::from(q * m));
    }
    let f = f64::try_from(v).map_err(|_| err("round needs a number"))?;
    let m = 10f64.powi(p);
    let r = match method.as_deref().unwrap_or("common") {
        "ceil" => (f * m).ceil() / m,
        "floor" => (f * m).floor() / m,
        _ => {
            // Python rounds the exact decimal value half to even; format gives that.
            let s = format!("{:.*}", p.max(0) as usize, f);
            let r: f64 = s.parse().unwrap_or(f);
            if p < 0 {
                (f * m).round_ties_even() / m
            } else {
                r
            }
        }
    };
    Ok(Value::from(r))
}

fn trim(v: Value, chars: Option<String>) -> String {
    let s = s_of(&v);
    match chars {
        Some(c) => s.trim_matches(|x| c.contains(x)).to_string(),
        None => s.trim().to_string(),
    }
}

fn replace(v: Value, old: String, new: String, count: Option<usize>) -> String {
    let s = s_of(&v);
    match count {
        Some(n) => s.replacen(&old, &new, n),
        None => s.replace(&old, &new),
    }
}

/// Python's `shlex.quote`.
fn shell_quote(s: &str) -> String {
    if s.is_empty() {
        return "''".into();
    }
    if s.chars()
        .all(|c| c.is_alphanumeric() || "@%+=:,./-_".contains(c))
        && s.is_ascii()
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', "'\"'\"'"))
}

fn splitext(v: Value) -> Value {
    let s = s_of(&v);
    let base_start = s.rfind('/').map(|i| i + 1).unwrap_or(0);
    let base = &s[base_start..];
    let lead = base.len() - base.trim_start_matches('.').len();
    let (root, ext) = match base[lead..].rfind('.') {
        Some(i) => s.split_at(base_start + lead + i),
        None => (s.as_str(), ""),
    };
    Value::from(vec![Value::from(root), Value::from(ext)])
}

fn basename(v: Value) -> String {
    let s = s_of(&v);
    s.rsplit('/').next().unwrap_or_default().to_string()
}

fn dirname(v: Value) -> String {
    let s = s_of(&v);
    match s.rfind('/') {
        Some(0) => "/".into(),
        Some(i) => {
            let d = &s[..i];
            let t = d.trim_end_matches('/');
            if t.is_empty() {
                d.to_string()
            } else {
                t.to_string()
            }
        }
        None => String::new(),
    }
}

fn path_join(v: Value) -> Result<String, Error> {
    let parts: Vec<String> = match v.kind() {
        ValueKind::Seq | ValueKind::Iterable => v.try_iter()?.map(|p| s_of(&p)).collect(),
        _ => vec![s_of(&v)],
    };
    let mut out = String::new();
    for p in parts {
        if p.starts_with('/') {
            out = p;
        } else if out.is_empty() || out.ends_with('/') {
            out.push_str(&p);
        } else {
            out.push('/');
            out.push_str(&p);
        }
    }
    Ok(out)
}

fn expanduser(v: Value) -> String {
    let s = s_of(&v);
    let home = std::env::var("HOME").unwrap_or_default();
    if s == "~" {
        home
    } else if let Some(rest) = s.strip_prefix("~/") {
        format!("{home}/{rest}")
    } else {
        s
    }
}

fn realpath(v: Value) -> String {
    let s = s_of(&v);
    std::fs::canonicalize(&s)
        .map(|p| p.display().to_string())
        .unwrap_or(s)
}

fn b64encode(v: Value) -> String {
    base64::engine::general_purpose::STANDARD.encode(s_of(&v).as_bytes())
}

fn b64decode(v: Value) -> Result<String, Error> {
    let s = s_of(&v);
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(s.trim().as_bytes())
        .map_err(|e| err(format!("b64decode: {e}")))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// `hash('sha1' | 'md5' | 'sha256' | 'sha512' | ...)`.
fn hash_hex(data: &[u8], algo: &str) -> Result<String, Error> {
    use sha2::Digest;
    Ok(match algo {
        "sha1" => hex::encode(sha1::Sha1::digest(data)),
        "md5" => hex::encode(md5::Md5::digest(data)),
        "sha224" => hex::encode(sha2::Sha224::digest(data)),
        "sha256" => hex::encode(sha2::Sha256::digest(data)),
        "sha384" => hex::encode(sha2::Sha384::digest(data)),
        "sha512" => hex::encode(sha2::Sha512::digest(data)),
        other => return Err(err(format!("unsupported hash type {other}"))),
    })
}

fn password_hash(
    v: Value,
    scheme: Option<String>,
    salt: Option<String>,
    kw: Kwargs,
) -> Result<String, Error> {
    let scheme = scheme.unwrap_or_else(|| "sha512".into());
    let salt = match kw.get::<Option<String>>("salt")? {
        Some(s) => Some(s),
        None => salt,
    };
    let rounds: Option<usize> = kw.get("rounds")?;
    if scheme != "sha512" && scheme != "sha512_crypt" {
        return Err(err(format!(
            "password_hash: only sha512 is supported, not {scheme}"
        )));
    }
    let salt = match salt {
        Some(s) => s,
        None => {
            const CHARS: &[u8] =
                b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
            let mut buf = [0u8; 16];
            getrandom::getrandom(&mut buf).map_err(|e| err(e.to_string()))?;
            buf.iter()
                .map(|b| CHARS[(*b as usize) % CHARS.len()] as char)
                .collect()
        }
    };
    let rounds = rounds.unwrap_or(5000);
    let params = sha_crypt::Sha512Params::new(rounds).map_err(|_| err("bad rounds"))?;
    let hashed = sha_crypt::sha512_crypt_b64(s_of(&v).as_bytes(), salt.as_bytes(), &params)
        .map_err(|_| err("sha512 crypt failed"))?;
    Ok(if rounds == 5000 {
        format!("$6${salt}${hashed}")
    } else {
        format!("$6$rounds={rounds}${salt}${hashed}")
    })
}

fn checksum(v: Value) -> Result<String, Error> {
    hash_hex(s_of(&v).as_bytes(), "sha1")
}

fn mandatory(v: Value, msg: Option<String>) -> Result<Value, Error> {
    if v.is_undefined() {
        return Err(Error::new(
            ErrorKind::UndefinedError,
            msg.unwrap_or_else(|| "Mandatory variable not defined.".into()),
        ));
    }
    Ok(v)
}

fn ternary(v: Value, a: Value, b: Value, none_val: Option<Value>) -> Value {
    if let (true, Some(n)) = (v.is_none(), none_val) {
        return n;
    }
    if v.is_true() { a } else { b }
}

fn default(v: Value, d: Option<Value>, boolean: Option<bool>) -> Value {
    let d = d.unwrap_or(Value::from(""));
    if v.is_undefined() || (boolean.unwrap_or(false) && !v.is_true()) {
        d
    } else {
        v
    }
}

fn split(v: Value, sep: Option<String>, maxsplit: Option<i64>) -> Value {
    let parts =
        crate::py_methods::py_split(&s_of(&v), sep.as_deref(), maxsplit.unwrap_or(-1), false);
    Value::from(parts.into_iter().map(Value::from).collect::<Vec<_>>())
}

/// Python's type name of a value.
pub(crate) fn type_name(v: &Value) -> &'static str {
    type_debug(v.clone())
}

fn type_debug(v: Value) -> &'static str {
    match v.kind() {
        ValueKind::Undefined => "AnsibleUndefined",
        ValueKind::None => "NoneType",
        ValueKind::Bool => "bool",
        ValueKind::Number if v.is_integer() => "int",
        ValueKind::Number => "float",
        ValueKind::String => "str",
        ValueKind::Bytes => "bytes",
        ValueKind::Seq | ValueKind::Iterable => "list",
        ValueKind::Map => "dict",
        _ => "object",
    }
}

pub(crate) fn register(env: &mut Environment<'static>) {
    both!(env, "bool", |v: Value| to_bool(&v));
    both!(env, "int", to_int);
    both!(env, "float", to_float);
    both!(env, "string", |v: Value| s_of(&v));
    both!(env, "lower", |v: Value| s_of(&v).to_lowercase());
    both!(env, "upper", |v: Value| s_of(&v).to_uppercase());
    both!(env, "title", |v: Value| title(&s_of(&v)));
    both!(env, "capitalize", |v: Value| capitalize(&s_of(&v)));
    both!(env, "trim", trim);
    both!(env, "replace", replace);
    both!(env, "round", |v: Value, a: Rest<Value>, kw: Kwargs| {
        let (p, m) = from_args(&positional(&a, &kw, &["precision", "method"])?)?;
        round(v, p, m)
    });
    both!(env, "abs", |v: Value| -> Result<Value, Error> {
        if v.is_integer() {
            Ok(Value::from(i128::try_from(v)?.abs()))
        } else {
            Ok(Value::from(f64::try_from(v)?.abs()))
        }
    });
    both!(env, "regex_replace", regex_replace);
    both!(env, "regex_search", regex_search);
    both!(env, "regex_findall", regex_findall);
    both!(env, "regex_escape", regex_escape);
    both!(env, "quote", |v: Value| shell_quote(&s_of(&v)));
    both!(env, "comment", comment);
    both!(env, "basename", basename);
    both!(env, "dirname", dirname);
    both!(env, "splitext", splitext);
    both!(env, "path_join", path_join);
    both!(env, "expanduser", expanduser);
    both!(env, "expandvars", |v: Value| s_of(&v));
    both!(env, "realpath", realpath);
    both!(env, "b64encode", b64encode);
    both!(env, "b64decode", b64decode);
    both!(env, "hash", |v: Value, algo: Option<String>| hash_hex(
        s_of(&v).as_bytes(),
        &algo.unwrap_or_else(|| "sha1".into())
    ));
    both!(env, "checksum", checksum);
    both!(env, "sha1", checksum);
    both!(env, "md5", |v: Value| hash_hex(s_of(&v).as_bytes(), "md5"));
    both!(env, "password_hash", password_hash);
    both!(env, "urlsplit", urlsplit);
    both!(env, "truncate", |v: Value,
                            a: Rest<Value>,
                            kw: Kwargs|
     -> Result<String, Error> {
        let a = positional(&a, &kw, &["length", "killwords", "end", "leeway"])?;
        let (l, k, e, lw) = from_args(&a)?;
        Ok(truncate(v, l, k, e, lw))
    });
    both!(env, "wordwrap", |v: Value,
                            a: Rest<Value>,
                            kw: Kwargs|
     -> Result<String, Error> {
        let a = positional(
            &a,
            &kw,
            &[
                "width",
                "break_long_words",
                "wrapstring",
                "break_on_hyphens",
            ],
        )?;
        let (w, b, s, _h): (_, _, _, Option<bool>) = from_args(&a)?;
        Ok(wordwrap(v, w, b, s))
    });
    both!(env, "wordcount", wordcount);
    both!(env, "center", |v: Value, w: Option<usize>| justify(
        &s_of(&v),
        w.unwrap_or(80),
        ' ',
        "center"
    ));
    both!(env, "format", crate::py_format::format_filter);
    both!(env, "mandatory", mandatory);
    both!(env, "ternary", |v: Value,
                           a: Rest<Value>,
                           kw: Kwargs|
     -> Result<Value, Error> {
        let a = positional(&a, &kw, &["true_val", "false_val", "none_val"])?;
        let (t, f, n): (Option<Value>, Option<Value>, _) = from_args(&a)?;
        Ok(ternary(
            v,
            t.unwrap_or(Value::from(true)),
            f.unwrap_or(Value::from(false)),
            n,
        ))
    });
    let dflt = |v: Value, a: Rest<Value>, kw: Kwargs| -> Result<Value, Error> {
        let (d, b) = from_args(&positional(&a, &kw, &["default_value", "boolean"])?)?;
        Ok(default(v, d, b))
    };
    both!(env, "default", dflt);
    both!(env, "d", dflt);
    // Put before a filter whose input may be an undefined variable (src/template.rs does):
    // Ansible fails there (`{{ nope | upper }}`), where a lenient engine would go on.
    env.add_filter("__plumb_defined", |v: Value| -> Result<Value, Error> {
        if v.is_undefined() {
            Err(Error::new(
                minijinja::ErrorKind::UndefinedError,
                "undefined value passed to a filter",
            ))
        } else {
            Ok(v)
        }
    });
    both!(env, "split", |v: Value,
                         a: Rest<Value>,
                         kw: Kwargs|
     -> Result<Value, Error> {
        let (s, m) = from_args(&positional(&a, &kw, &["sep", "maxsplit"])?)?;
        Ok(split(v, s, m))
    });
    both!(env, "indent", indent);
    both!(env, "type_debug", type_debug);
    both!(env, "urlencode", urlencode);
    both!(
        env,
        "human_readable",
        |v: Value, a: Rest<Value>, kw: Kwargs| {
            let (b, u) = from_args(&positional(&a, &kw, &["isbits", "unit"])?)?;
            human_readable(v, b, u)
        }
    );
    both!(
        env,
        "human_to_bytes",
        |v: Value, a: Rest<Value>, kw: Kwargs| {
            let (u, b) = from_args(&positional(&a, &kw, &["default_unit", "isbits"])?)?;
            human_to_bytes(v, u, b)
        }
    );
    both!(env, "float_repr", |v: Value| f64::try_from(v)
        .map(float_repr)
        .unwrap_or_default());
    env.add_function("__pyfmt", crate::py_format::pyfmt);
}
