//! Values printed the way Python prints them: `str()` and `repr()` of MiniJinja values (lists and
//! dicts as Python reprs, `True`/`False`/`None`, floats as `4.0` and `0.30000000000000004`), plus
//! the conversions between MiniJinja values and `serde_json` values that the rest of plumb uses.

use minijinja::value::{Value, ValueKind};

/// A float as Python's `repr(float)`: shortest round-trip digits, always a `.0` or an exponent.
pub(crate) fn float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if f == 0.0 {
        return if f.is_sign_negative() {
            "-0.0".into()
        } else {
            "0.0".into()
        };
    }
    // `{:e}` gives the shortest round-trip digits: "1.2345e3".
    let sci = format!("{f:e}");
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let neg = mant.starts_with('-');
    let digits: String = mant.chars().filter(|c| c.is_ascii_digit()).collect();
    let sign = if neg { "-" } else { "" };
    if (-4..16).contains(&exp) {
        let point = exp + 1; // digits before the decimal point
        if point <= 0 {
            format!("{sign}0.{}{}", "0".repeat((-point) as usize), digits)
        } else if (point as usize) >= digits.len() {
            format!(
                "{sign}{}{}.0",
                digits,
                "0".repeat(point as usize - digits.len())
            )
        } else {
            let (a, b) = digits.split_at(point as usize);
            format!("{sign}{a}.{b}")
        }
    } else {
        let (a, b) = digits.split_at(1);
        let mant = if b.is_empty() {
            a.to_string()
        } else {
            format!("{a}.{b}")
        };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{mant}e{esign}{:02}", exp.abs())
    }
}

/// Python's `repr()` of a string: single quotes unless the text holds `'` and no `"`.
fn str_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if (0x80..0xa0).contains(&(c as u32)) => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

fn number_str(v: &Value) -> String {
    if v.is_integer() {
        if let Ok(i) = i128::try_from(v.clone()) {
            return i.to_string();
        }
        return v.to_string();
    }
    match f64::try_from(v.clone()) {
        Ok(f) => float_repr(f),
        Err(_) => v.to_string(),
    }
}

/// Python's `repr()`.
pub(crate) fn py_repr(v: &Value) -> String {
    match v.kind() {
        ValueKind::Undefined | ValueKind::None => "None".into(),
        ValueKind::Bool => if v.is_true() { "True" } else { "False" }.into(),
        ValueKind::Number => number_str(v),
        ValueKind::String => str_repr(v.as_str().unwrap_or_default()),
        ValueKind::Bytes => format!(
            "b{}",
            str_repr(&String::from_utf8_lossy(v.as_bytes().unwrap_or_default()))
        ),
        ValueKind::Map => {
            let mut out = String::from("{");
            if let Ok(keys) = v.try_iter() {
                for (i, k) in keys.enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    let item = v.get_item(&k).unwrap_or_default();
                    out.push_str(&py_repr(&k));
                    out.push_str(": ");
                    out.push_str(&py_repr(&item));
                }
            }
            out.push('}');
            out
        }
        ValueKind::Seq
            if v.downcast_object_ref::<crate::jinja_group::Group>()
                .is_some() =>
        {
            // groupby's results are tuples
            let g = v.downcast_object_ref::<crate::jinja_group::Group>();
            let g = g
                .map(|g| (py_repr(&g.0), py_repr(&g.1)))
                .unwrap_or_default();
            format!("({}, {})", g.0, g.1)
        }
        ValueKind::Seq | ValueKind::Iterable => {
            let mut out = String::from("[");
            if let Ok(items) = v.try_iter() {
                for (i, item) in items.enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(&py_repr(&item));
                }
            }
            out.push(']');
            out
        }
        _ => v.to_string(),
    }
}

/// Python's `str()`: strings as they are, everything else as its repr.
pub(crate) fn py_str(v: &Value) -> String {
    match v.kind() {
        ValueKind::String => v.as_str().unwrap_or_default().to_string(),
        _ => py_repr(v),
    }
}

/// How `{{ x }}` prints in Ansible: like `str()`, but `None` prints as nothing.
pub(crate) fn py_output(v: &Value) -> String {
    match v.kind() {
        ValueKind::None | ValueKind::Undefined => String::new(),
        _ => py_str(v),
    }
}

/// A MiniJinja value as JSON (tuples and lazy sequences as arrays, undefined as null).
pub(crate) fn to_json(v: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v.kind() {
        ValueKind::Undefined | ValueKind::None => J::Null,
        ValueKind::Bool => J::Bool(v.is_true()),
        ValueKind::Number => {
            if v.is_integer() {
                if let Some(i) = v.as_i64() {
                    return J::from(i);
                }
                if let Ok(u) = u64::try_from(v.clone()) {
                    return J::from(u);
                }
                // Too big for JSON's integers: keep the digits.
                return serde_json::from_str(&v.to_string()).unwrap_or(J::Null);
            }
            f64::try_from(v.clone())
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(J::Number)
                .unwrap_or(J::Null)
        }
        ValueKind::String => J::String(v.as_str().unwrap_or_default().to_string()),
        ValueKind::Bytes => {
            J::String(String::from_utf8_lossy(v.as_bytes().unwrap_or_default()).into())
        }
        ValueKind::Map => {
            let mut m = serde_json::Map::new();
            if let Ok(keys) = v.try_iter() {
                for k in keys {
                    let item = v.get_item(&k).unwrap_or_default();
                    m.insert(py_str(&k), to_json(&item));
                }
            }
            J::Object(m)
        }
        ValueKind::Seq | ValueKind::Iterable => J::Array(
            v.try_iter()
                .map(|it| it.map(|x| to_json(&x)).collect())
                .unwrap_or_default(),
        ),
        _ => J::String(v.to_string()),
    }
}

/// A JSON value as a MiniJinja value (key order kept).
pub(crate) fn from_json(v: &serde_json::Value) -> Value {
    use serde_json::Value as J;
    match v {
        J::Null => Value::from(()),
        J::Bool(b) => Value::from(*b),
        J::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                Value::from(n.as_f64().unwrap_or(0.0))
            }
        }
        J::String(s) => Value::from(s.as_str()),
        J::Array(a) => Value::from(a.iter().map(from_json).collect::<Vec<_>>()),
        J::Object(m) => crate::py_value::map_from(m.iter().map(|(k, v)| (k.clone(), from_json(v)))),
    }
}

/// A dict (insertion order kept) from key/value pairs.
pub(crate) fn map_from<K: Into<Value>, V: Into<Value>, I: IntoIterator<Item = (K, V)>>(
    pairs: I,
) -> Value {
    Value::from(
        pairs
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect::<indexmap::IndexMap<Value, Value>>(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_like_python() {
        for (f, want) in [
            (4.0, "4.0"),
            (3.5, "3.5"),
            (0.1 + 0.2, "0.30000000000000004"),
            (1.0 / 3.0, "0.3333333333333333"),
            (1e3, "1000.0"),
            (1e16, "1e+16"),
            (1.5e-5, "1.5e-05"),
            (0.0001, "0.0001"),
            (-2.5, "-2.5"),
            (123456789012345.6, "123456789012345.6"),
        ] {
            assert_eq!(float_repr(f), want, "{f}");
        }
    }

    #[test]
    fn reprs_like_python() {
        let v = from_json(&serde_json::json!({"a": [1, "it's", "x\"y", null, true, 1.0], "é": {}}));
        assert_eq!(
            py_repr(&v),
            r#"{'a': [1, "it's", 'x"y', None, True, 1.0], 'é': {}}"#
        );
        assert_eq!(str_repr("a\nb\\"), r"'a\nb\\'");
        assert_eq!(str_repr("both ' and \""), r#"'both \' and "'"#);
    }
}
