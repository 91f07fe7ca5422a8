//! Python methods on values (`'a:b'.split(':')`, `d.items()`, `l.index(x)`): the ones
//! minijinja-contrib's pycompat lacks are here, the rest go to pycompat.

use minijinja::value::{Value, ValueKind};
use minijinja::{Error, ErrorKind, State};

fn err(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

fn arg_str(args: &[Value], i: usize) -> Option<String> {
    args.get(i).and_then(|v| v.as_str().map(str::to_string))
}

/// Python's `str.split(sep, maxsplit)` / `rsplit`.
pub(crate) fn py_split(s: &str, sep: Option<&str>, maxsplit: i64, right: bool) -> Vec<String> {
    let max = if maxsplit < 0 {
        usize::MAX
    } else {
        maxsplit as usize
    };
    match sep {
        None => {
            let words: Vec<&str> = s.split_whitespace().collect();
            if max >= words.len() {
                return words.into_iter().map(String::from).collect();
            }
            if right {
                // keep the last `max` words separate, the rest joined as in the source
                let mut out = Vec::new();
                let mut rest = s.trim_end();
                for _ in 0..max {
                    let idx = rest.rfind(char::is_whitespace).map(|i| i + 1).unwrap_or(0);
                    out.push(rest[idx..].to_string());
                    rest = rest[..idx].trim_end();
                }
                out.push(rest.to_string());
                out.reverse();
                out
            } else {
                let mut out = Vec::new();
                let mut rest = s.trim_start();
                for _ in 0..max {
                    let idx = rest.find(char::is_whitespace).unwrap_or(rest.len());
                    out.push(rest[..idx].to_string());
                    rest = rest[idx..].trim_start();
                }
                out.push(rest.to_string());
                out
            }
        }
        Some(sep) => {
            if right {
                let mut v: Vec<String> = s
                    .rsplitn(max.saturating_add(1), sep)
                    .map(String::from)
                    .collect();
                v.reverse();
                v
            } else {
                s.splitn(max.saturating_add(1), sep)
                    .map(String::from)
                    .collect()
            }
        }
    }
}

/// The unknown-method callback of the environment.
pub(crate) fn call_method(
    state: &mut State,
    value: &Value,
    method: &str,
    args: &[Value],
) -> Result<Value, Error> {
    match own_method(value, method, args) {
        Err(e) if e.kind() == ErrorKind::UnknownMethod => {
            minijinja_contrib::pycompat::unknown_method_callback(state, value, method, args)
        }
        other => other,
    }
}

/// The methods implemented here; `UnknownMethod` for any other.
fn own_method(value: &Value, method: &str, args: &[Value]) -> Result<Value, Error> {
    if let Some(s) = value.as_str() {
        let strs = |v: Vec<String>| Value::from(v.into_iter().map(Value::from).collect::<Vec<_>>());
        match method {
            "split" | "rsplit" => {
                let sep = args
                    .first()
                    .filter(|v| !v.is_none())
                    .and_then(|v| v.as_str().map(str::to_string));
                let max = args.get(1).and_then(|v| v.as_i64()).unwrap_or(-1);
                return Ok(strs(py_split(s, sep.as_deref(), max, method == "rsplit")));
            }
            "zfill" => {
                let w = args.first().and_then(|v| v.as_usize()).unwrap_or(0);
                let n = s.chars().count();
                if n >= w {
                    return Ok(Value::from(s));
                }
                let (sign, rest) = if s.starts_with(['-', '+']) {
                    s.split_at(1)
                } else {
                    ("", s)
                };
                return Ok(Value::from(format!("{sign}{}{rest}", "0".repeat(w - n))));
            }
            "ljust" | "rjust" | "center" => {
                let w = args.first().and_then(|v| v.as_usize()).unwrap_or(0);
                let fill = arg_str(args, 1)
                    .and_then(|f| f.chars().next())
                    .unwrap_or(' ');
                return Ok(Value::from(crate::jinja_text::justify(s, w, fill, method)));
            }
            "index" | "rindex" => {
                let sub = arg_str(args, 0).unwrap_or_default();
                let pos = if method == "index" {
                    s.find(&sub)
                } else {
                    s.rfind(&sub)
                };
                return match pos {
                    Some(p) => Ok(Value::from(s[..p].chars().count())),
                    None => Err(err("ValueError: substring not found")),
                };
            }
            "count" => {
                let sub = arg_str(args, 0).unwrap_or_default();
                if sub.is_empty() {
                    return Ok(Value::from(s.chars().count() + 1));
                }
                return Ok(Value::from(s.matches(sub.as_str()).count()));
            }
            "find" | "rfind" => {
                let sub = arg_str(args, 0).unwrap_or_default();
                let pos = if method == "find" {
                    s.find(&sub)
                } else {
                    s.rfind(&sub)
                };
                return Ok(Value::from(
                    pos.map(|p| s[..p].chars().count() as i64).unwrap_or(-1),
                ));
            }
            "partition" | "rpartition" => {
                let sep = arg_str(args, 0).unwrap_or_default();
                let found = if method == "partition" {
                    s.split_once(&sep)
                } else {
                    s.rsplit_once(&sep)
                };
                let parts = match found {
                    Some((a, b)) => vec![a.to_string(), sep, b.to_string()],
                    None if method == "partition" => {
                        vec![s.to_string(), String::new(), String::new()]
                    }
                    None => vec![String::new(), String::new(), s.to_string()],
                };
                return Ok(strs(parts));
            }
            "removeprefix" => {
                let p = arg_str(args, 0).unwrap_or_default();
                return Ok(Value::from(s.strip_prefix(p.as_str()).unwrap_or(s)));
            }
            "removesuffix" => {
                let p = arg_str(args, 0).unwrap_or_default();
                return Ok(Value::from(s.strip_suffix(p.as_str()).unwrap_or(s)));
            }
            "swapcase" => {
                return Ok(Value::from(
                    s.chars()
                        .map(|c| {
                            if c.is_uppercase() {
                                c.to_lowercase().collect::<String>()
                            } else {
                                c.to_uppercase().collect()
                            }
                        })
                        .collect::<String>(),
                ));
            }
            "format" => {
                return crate::py_strformat::str_format(s, args).map(Value::from);
            }
            "encode" | "decode" => return Ok(Value::from(s)),
            _ => {}
        }
    }
    if matches!(value.kind(), ValueKind::Seq | ValueKind::Iterable) {
        match method {
            "index" => {
                let needle = args.first().cloned().unwrap_or_default();
                for (i, v) in value.try_iter()?.enumerate() {
                    if v == needle {
                        return Ok(Value::from(i));
                    }
                }
                return Err(err("ValueError: item is not in list"));
            }
            "count" => {
                let needle = args.first().cloned().unwrap_or_default();
                return Ok(Value::from(
                    value.try_iter()?.filter(|v| *v == needle).count(),
                ));
            }
            "copy" => return Ok(Value::from(value.try_iter()?.collect::<Vec<_>>())),
            _ => {}
        }
    }
    if value.kind() == ValueKind::Map && method == "copy" {
        return Ok(value.clone());
    }
    Err(Error::from(ErrorKind::UnknownMethod))
}
