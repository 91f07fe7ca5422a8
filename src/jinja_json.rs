//! JSON as Python's `json.dumps` writes it for `to_json`/`to_nice_json` (`", "` and `": "`
//! separators, `\uXXXX` escapes unless `ensure_ascii=False`, floats as Python prints them),
//! and `from_json`.

use crate::filter_err::err;
use crate::py_value::{float_repr, py_str};
use minijinja::Error;
use minijinja::value::{Kwargs, Value, ValueKind};

/// JSON as Python's `json.dumps` writes it.
fn json_dumps(
    v: &Value,
    indent: Option<usize>,
    sort_keys: bool,
    ensure_ascii: bool,
    level: usize,
    out: &mut String,
) {
    let nl = |out: &mut String, lvl: usize| {
        if let Some(n) = indent {
            out.push('\n');
            out.push_str(&" ".repeat(n * lvl));
        }
    };
    let item_sep = if indent.is_some() { "," } else { ", " };
    match v.kind() {
        ValueKind::Undefined | ValueKind::None => out.push_str("null"),
        ValueKind::Bool => out.push_str(if v.is_true() { "true" } else { "false" }),
        ValueKind::Number => {
            if v.is_integer() {
                out.push_str(&v.to_string());
            } else {
                let f = f64::try_from(v.clone()).unwrap_or(0.0);
                out.push_str(&if f.is_nan() {
                    "NaN".into()
                } else if f.is_infinite() {
                    if f > 0.0 {
                        "Infinity".into()
                    } else {
                        "-Infinity".into()
                    }
                } else {
                    float_repr(f)
                });
            }
        }
        ValueKind::String => json_str(v.as_str().unwrap_or_default(), ensure_ascii, out),
        ValueKind::Map => {
            let mut keys: Vec<Value> = v.try_iter().map(|i| i.collect()).unwrap_or_default();
            if keys.is_empty() {
                out.push_str("{}");
                return;
            }
            if sort_keys {
                keys.sort_by_key(py_str);
            }
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push_str(item_sep);
                }
                nl(out, level + 1);
                let ks = match k.kind() {
                    ValueKind::Bool => {
                        if k.is_true() {
                            "true".into()
                        } else {
                            "false".into()
                        }
                    }
                    ValueKind::None => "null".into(),
                    _ => py_str(k),
                };
                json_str(&ks, ensure_ascii, out);
                out.push_str(": ");
                json_dumps(
                    &v.get_item(k).unwrap_or_default(),
                    indent,
                    sort_keys,
                    ensure_ascii,
                    level + 1,
                    out,
                );
            }
            nl(out, level);
            out.push('}');
        }
        ValueKind::Seq | ValueKind::Iterable => {
            let list: Vec<Value> = v.try_iter().map(|i| i.collect()).unwrap_or_default();
            if list.is_empty() {
                out.push_str("[]");
                return;
            }
            out.push('[');
            for (i, x) in list.iter().enumerate() {
                if i > 0 {
                    out.push_str(item_sep);
                }
                nl(out, level + 1);
                json_dumps(x, indent, sort_keys, ensure_ascii, level + 1, out);
            }
            nl(out, level);
            out.push(']');
        }
        _ => json_str(&v.to_string(), ensure_ascii, out),
    }
}

fn json_str(s: &str, ensure_ascii: bool, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c if ensure_ascii && (c as u32) > 0x7e => {
                let mut buf = [0u16; 2];
                for u in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{:04x}", u));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

pub(crate) fn to_json(v: Value, kw: Kwargs) -> Result<String, Error> {
    let indent: Option<usize> = kw.get("indent")?;
    let sort_keys: bool = kw.get::<Option<bool>>("sort_keys")?.unwrap_or(false);
    let ensure_ascii: bool = kw.get::<Option<bool>>("ensure_ascii")?.unwrap_or(true);
    let mut out = String::new();
    json_dumps(&v, indent, sort_keys, ensure_ascii, 0, &mut out);
    Ok(out)
}

pub(crate) fn to_nice_json(v: Value, kw: Kwargs) -> Result<String, Error> {
    let indent: usize = kw.get::<Option<usize>>("indent")?.unwrap_or(4);
    let sort_keys: bool = kw.get::<Option<bool>>("sort_keys")?.unwrap_or(true);
    let ensure_ascii: bool = kw.get::<Option<bool>>("ensure_ascii")?.unwrap_or(true);
    let mut out = String::new();
    json_dumps(&v, Some(indent), sort_keys, ensure_ascii, 0, &mut out);
    Ok(out)
}

pub(crate) fn from_json(v: Value) -> Result<Value, Error> {
    let s = py_str(&v);
    let j: serde_json::Value =
        serde_json::from_str(&s).map_err(|e| err(format!("from_json: {e}")))?;
    Ok(crate::py_value::from_json(&j))
}
