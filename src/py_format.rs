//! Python's printf-style formatting (`'%s:%d' % (a, b)`, the `format` filter), with values
//! printed by Python's rules.

use crate::py_value::{py_repr, py_str};
use minijinja::value::{Value, ValueKind};
use minijinja::{Error, ErrorKind};

fn err(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

fn as_f64(v: &Value) -> Result<f64, Error> {
    if v.kind() == ValueKind::Bool {
        return Ok(if v.is_true() { 1.0 } else { 0.0 });
    }
    f64::try_from(v.clone())
        .map_err(|_| err(format!("a real number is required, not {}", v.kind())))
}

fn pad(s: String, width: usize, left: bool, zero: bool) -> String {
    let n = s.chars().count();
    if n >= width {
        return s;
    }
    let fill = width - n;
    if left {
        format!("{s}{}", " ".repeat(fill))
    } else if zero {
        let (sign, digits) = if s.starts_with(['-', '+', ' ']) {
            s.split_at(1)
        } else {
            ("", s.as_str())
        };
        format!("{sign}{}{digits}", "0".repeat(fill))
    } else {
        format!("{}{s}", " ".repeat(fill))
    }
}

/// Format with a C-like exponent as Python does (`1.500000e+00`).
fn fmt_exp(f: f64, prec: usize, upper: bool) -> String {
    let s = format!("{f:.prec$e}");
    let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
    let e: i32 = e.parse().unwrap_or(0);
    let out = format!("{m}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs());
    if upper { out.to_uppercase() } else { out }
}

fn fmt_general(f: f64, prec: usize, alt: bool) -> String {
    let p = if prec == 0 { 1 } else { prec };
    if f == 0.0 {
        return "0".into();
    }
    let exp = f.abs().log10().floor() as i32;
    let s = if exp < -4 || exp >= p as i32 {
        fmt_exp(f, p - 1, false)
    } else {
        let decimals = (p as i32 - 1 - exp).max(0) as usize;
        format!("{f:.decimals$}")
    };
    if alt {
        return s;
    }
    // strip trailing zeros
    if let Some((m, e)) = s.split_once('e') {
        let m = if m.contains('.') {
            m.trim_end_matches('0').trim_end_matches('.')
        } else {
            m
        };
        format!("{m}e{e}")
    } else if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// `fmt % args` with Python's rules. `args` is a tuple/list for several values, a mapping for
/// `%(name)s`, or a single value.
pub(crate) fn percent_format(fmt: &str, args: &Value) -> Result<String, Error> {
    let positional: Vec<Value> = match args.kind() {
        ValueKind::Seq => args.try_iter()?.collect(),
        _ => vec![args.clone()],
    };
    let mut next = 0;
    let mut out = String::new();
    let chars: Vec<char> = fmt.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c != '%' {
            out.push(c);
            i += 1;
            continue;
        }
        i += 1;
        if i >= chars.len() {
            return Err(err("incomplete format"));
        }
        let mut key: Option<String> = None;
        if chars[i] == '(' {
            let end = chars[i..]
                .iter()
                .position(|&c| c == ')')
                .ok_or_else(|| err("incomplete format key"))?;
            key = Some(chars[i + 1..i + end].iter().collect());
            i += end + 1;
        }
        let (mut left, mut zero, mut plus, mut space, mut alt) =
            (false, false, false, false, false);
        while i < chars.len() && "-0+ #".contains(chars[i]) {
            match chars[i] {
                '-' => left = true,
                '0' => zero = true,
                '+' => plus = true,
                ' ' => space = true,
                _ => alt = true,
            }
            i += 1;
        }
        let mut take_arg = |key: &Option<String>| -> Result<Value, Error> {
            if let Some(k) = key {
                return args.get_item(&Value::from(k.as_str())).and_then(|v| {
                    if v.is_undefined() {
                        Err(err(format!("KeyError: '{k}'")))
                    } else {
                        Ok(v)
                    }
                });
            }
            let v = positional
                .get(next)
                .cloned()
                .ok_or_else(|| err("not enough arguments for format string"))?;
            next += 1;
            Ok(v)
        };
        let mut width = 0usize;
        if i < chars.len() && chars[i] == '*' {
            width = take_arg(&None)?.as_usize().unwrap_or(0);
            i += 1;
        }
        while i < chars.len() && chars[i].is_ascii_digit() {
            width = width * 10 + chars[i].to_digit(10).unwrap_or(0) as usize;
            i += 1;
        }
        let mut prec: Option<usize> = None;
        if i < chars.len() && chars[i] == '.' {
            i += 1;
            let mut p = 0usize;
            while i < chars.len() && chars[i].is_ascii_digit() {
                p = p * 10 + chars[i].to_digit(10).unwrap_or(0) as usize;
                i += 1;
            }
            prec = Some(p);
        }
        while i < chars.len() && "hlL".contains(chars[i]) {
            i += 1;
        }
        let conv = *chars.get(i).ok_or_else(|| err("incomplete format"))?;
        i += 1;
        if conv == '%' {
            out.push('%');
            continue;
        }
        let v = take_arg(&key)?;
        let sign = |neg: bool| {
            if neg {
                "-"
            } else if plus {
                "+"
            } else if space {
                " "
            } else {
                ""
            }
        };
        let s = match conv {
            's' => {
                let s = py_str(&v);
                match prec {
                    Some(p) => s.chars().take(p).collect(),
                    None => s,
                }
            }
            'r' | 'a' => py_repr(&v),
            'd' | 'i' | 'u' => {
                let n = if v.is_integer() {
                    i128::try_from(v.clone()).unwrap_or(0)
                } else {
                    as_f64(&v)?.trunc() as i128
                };
                format!("{}{}", sign(n < 0), n.unsigned_abs())
            }
            'x' | 'X' | 'o' => {
                let n = i128::try_from(v.clone())
                    .map_err(|_| err("%x format: an integer is required"))?;
                let body = match conv {
                    'x' => format!("{:x}", n.unsigned_abs()),
                    'X' => format!("{:X}", n.unsigned_abs()),
                    _ => format!("{:o}", n.unsigned_abs()),
                };
                let prefix = if alt {
                    match conv {
                        'x' => "0x",
                        'X' => "0X",
                        _ => "0o",
                    }
                } else {
                    ""
                };
                format!("{}{prefix}{body}", sign(n < 0))
            }
            'f' | 'F' => {
                let f = as_f64(&v)?;
                let p = prec.unwrap_or(6);
                format!("{}{:.p$}", sign(f < 0.0), f.abs())
            }
            'e' | 'E' => {
                let f = as_f64(&v)?;
                format!(
                    "{}{}",
                    sign(f < 0.0),
                    fmt_exp(f.abs(), prec.unwrap_or(6), conv == 'E')
                )
            }
            'g' | 'G' => {
                let f = as_f64(&v)?;
                let s = fmt_general(f.abs(), prec.unwrap_or(6), alt);
                let s = if conv == 'G' { s.to_uppercase() } else { s };
                format!("{}{s}", sign(f < 0.0))
            }
            'c' => match v.as_str() {
                Some(s) => s.to_string(),
                None => char::from_u32(v.as_usize().unwrap_or(0) as u32)
                    .map(String::from)
                    .unwrap_or_default(),
            },
            other => return Err(err(format!("unsupported format character '{other}'"))),
        };
        let numeric = !matches!(conv, 's' | 'r' | 'a' | 'c');
        out.push_str(&pad(s, width, left, zero && numeric && !left));
    }
    if key_free(fmt) && next < positional.len() && args.kind() == ValueKind::Seq {
        return Err(err("not all arguments converted during string formatting"));
    }
    Ok(out)
}

fn key_free(fmt: &str) -> bool {
    !fmt.contains("%(")
}

/// `__pyfmt(fmt, args)`: the rewritten form of `fmt % args`.
pub(crate) fn pyfmt(fmt: &Value, args: &Value) -> Result<Value, Error> {
    match fmt.as_str() {
        Some(s) => percent_format(s, args).map(Value::from),
        None => Err(err("unsupported operand type(s) for %")),
    }
}

/// The `format` filter: `'%s-%s' | format(a, b)`.
pub(crate) fn format_filter(
    fmt: &Value,
    args: minijinja::value::Rest<Value>,
) -> Result<Value, Error> {
    let s = fmt.as_str().ok_or_else(|| err("format needs a string"))?;
    let args = if args.len() == 1 && args[0].kind() == ValueKind::Map {
        args[0].clone()
    } else {
        Value::from(args.0.clone())
    };
    percent_format(s, &args).map(Value::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printf_like_python() {
        let cases: &[(&str, Value, &str)] = &[
            (
                "%s:%d",
                Value::from(vec![Value::from("h"), Value::from(80)]),
                "h:80",
            ),
            ("%.1f%%", Value::from(33.33), "33.3%"),
            (
                "%-8s|%5d|%.2f",
                Value::from(vec![
                    Value::from("abc"),
                    Value::from(42),
                    Value::from(1.23456),
                ]),
                "abc     |   42|1.23",
            ),
            ("%05d", Value::from(42), "00042"),
            (
                "%x %o %X",
                Value::from(vec![Value::from(255), Value::from(8), Value::from(255)]),
                "ff 10 FF",
            ),
            (
                "%s",
                Value::from(vec![Value::from(vec![Value::from("a")])]),
                "['a']",
            ),
            ("%e", Value::from(1500.0), "1.500000e+03"),
            ("%g", Value::from(0.0001), "0.0001"),
            (
                "%(a)s-%(b)s",
                crate::py_value::map_from([("a", 1), ("b", 2)]),
                "1-2",
            ),
        ];
        for (f, a, want) in cases {
            assert_eq!(percent_format(f, a).unwrap(), *want, "{f}");
        }
    }
}
