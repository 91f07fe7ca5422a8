//! Python's `str.format()`: `{}`, `{0}`, `{name}`, `{0.attr}`, `{0[key]}` and the format-spec
//! mini-language (`{:>8}`, `{:05d}`, `{:.2f}`, `{:,}`), with values printed by Python's rules.

use crate::py_value::{float_repr, py_repr, py_str};
use minijinja::value::{Value, ValueKind};
use minijinja::{Error, ErrorKind};

fn err(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

fn group(digits: &str, sep: char) -> String {
    let mut out = String::new();
    let n = digits.len();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (n - i).is_multiple_of(3) {
            out.push(sep);
        }
        out.push(c);
    }
    out
}

/// Apply one format spec to a value.
fn format_spec(v: &Value, spec: &str) -> Result<String, Error> {
    let c: Vec<char> = spec.chars().collect();
    let mut i = 0;
    let (mut fill, mut align) = (' ', None::<char>);
    if c.len() >= 2 && "<>^=".contains(c[1]) {
        fill = c[0];
        align = Some(c[1]);
        i = 2;
    } else if !c.is_empty() && "<>^=".contains(c[0]) {
        align = Some(c[0]);
        i = 1;
    }
    let mut sign = '-';
    if i < c.len() && "+- ".contains(c[i]) {
        sign = c[i];
        i += 1;
    }
    let mut alt = false;
    if i < c.len() && c[i] == '#' {
        alt = true;
        i += 1;
    }
    if i < c.len() && c[i] == '0' && align.is_none() {
        fill = '0';
        align = Some('=');
        i += 1;
    }
    let mut width = 0usize;
    while i < c.len() && c[i].is_ascii_digit() {
        width = width * 10 + c[i].to_digit(10).unwrap_or(0) as usize;
        i += 1;
    }
    let mut sep = None;
    if i < c.len() && (c[i] == ',' || c[i] == '_') {
        sep = Some(c[i]);
        i += 1;
    }
    let mut prec = None;
    if i < c.len() && c[i] == '.' {
        i += 1;
        let mut p = 0;
        while i < c.len() && c[i].is_ascii_digit() {
            p = p * 10 + c[i].to_digit(10).unwrap_or(0) as usize;
            i += 1;
        }
        prec = Some(p);
    }
    let ty = c.get(i).copied();
    let is_num = matches!(v.kind(), ValueKind::Number | ValueKind::Bool);
    let (neg, body): (bool, String) = match ty {
        None | Some('s') if !is_num || ty == Some('s') => {
            let s = py_str(v);
            (
                false,
                match prec {
                    Some(p) => s.chars().take(p).collect(),
                    None => s,
                },
            )
        }
        Some('r') => (false, py_repr(v)),
        None if v.is_integer() || v.kind() == ValueKind::Bool => {
            let n = i128::try_from(v.clone()).unwrap_or(if v.is_true() { 1 } else { 0 });
            let d = n.unsigned_abs().to_string();
            (n < 0, sep.map(|s| group(&d, s)).unwrap_or(d))
        }
        None => {
            let f = f64::try_from(v.clone()).map_err(|_| err("bad float"))?;
            match prec {
                Some(p) => (f < 0.0, format!("{:.p$}", f.abs())),
                None => (f < 0.0, float_repr(f.abs())),
            }
        }
        Some('d') | Some('n') => {
            let n =
                i128::try_from(v.clone()).map_err(|_| err("Unknown format code 'd' for object"))?;
            let d = n.unsigned_abs().to_string();
            (n < 0, sep.map(|s| group(&d, s)).unwrap_or(d))
        }
        Some('x') | Some('X') | Some('o') | Some('b') => {
            let n = i128::try_from(v.clone()).map_err(|_| err("an integer is required"))?;
            let a = n.unsigned_abs();
            let (d, p) = match ty {
                Some('x') => (format!("{a:x}"), "0x"),
                Some('X') => (format!("{a:X}"), "0X"),
                Some('o') => (format!("{a:o}"), "0o"),
                _ => (format!("{a:b}"), "0b"),
            };
            (n < 0, if alt { format!("{p}{d}") } else { d })
        }
        Some('f') | Some('F') | Some('%') | Some('e') | Some('E') | Some('g') | Some('G') => {
            let mut f = f64::try_from(v.clone()).map_err(|_| err("a number is required"))?;
            let p = prec.unwrap_or(6);
            if ty == Some('%') {
                f *= 100.0;
            }
            let s = match ty {
                Some('e') | Some('E') => crate::py_format::percent_format(
                    &format!("%.{p}{}", ty.unwrap_or('e')),
                    &Value::from(f.abs()),
                )?,
                Some('g') | Some('G') => crate::py_format::percent_format(
                    &format!("%.{p}{}", ty.unwrap_or('g')),
                    &Value::from(f.abs()),
                )?,
                _ => {
                    let s = format!("{:.p$}", f.abs());
                    match sep {
                        Some(sc) => {
                            let (a, b) = s.split_once('.').unwrap_or((&s, ""));
                            if b.is_empty() {
                                group(a, sc)
                            } else {
                                format!("{}.{b}", group(a, sc))
                            }
                        }
                        None => s,
                    }
                }
            };
            (f < 0.0, if ty == Some('%') { format!("{s}%") } else { s })
        }
        Some(other) => return Err(err(format!("Unknown format code '{other}'"))),
    };
    let sign_s = if neg {
        "-"
    } else if sign == '+' && is_num {
        "+"
    } else if sign == ' ' && is_num {
        " "
    } else {
        ""
    };
    let len = sign_s.chars().count() + body.chars().count();
    let align = align.unwrap_or(if is_num && ty != Some('s') { '>' } else { '<' });
    if len >= width {
        return Ok(format!("{sign_s}{body}"));
    }
    let pad = width - len;
    let f = |n: usize| fill.to_string().repeat(n);
    Ok(match align {
        '<' => format!("{sign_s}{body}{}", f(pad)),
        '>' => format!("{}{sign_s}{body}", f(pad)),
        '^' => format!("{}{sign_s}{body}{}", f(pad / 2), f(pad - pad / 2)),
        _ => format!("{sign_s}{}{body}", f(pad)),
    })
}

/// `'...'.format(*args, **kwargs)`; keyword arguments arrive as a trailing kwargs map.
pub(crate) fn str_format(fmt: &str, args: &[Value]) -> Result<String, Error> {
    let (pos, kw): (Vec<Value>, Option<Value>) = match args.last() {
        Some(last) if last.is_kwargs() => (args[..args.len() - 1].to_vec(), Some(last.clone())),
        _ => (args.to_vec(), None),
    };
    let mut out = String::new();
    let mut auto = 0usize;
    let mut rest = fmt;
    while let Some(p) = rest.find(['{', '}']) {
        out.push_str(&rest[..p]);
        let c = rest.as_bytes()[p];
        let after = &rest[p + 1..];
        if after.starts_with(c as char) {
            out.push(c as char);
            rest = &after[1..];
            continue;
        }
        if c == b'}' {
            return Err(err("Single '}' encountered in format string"));
        }
        let end = after
            .find('}')
            .ok_or_else(|| err("expected '}' before end of string"))?;
        let field = &after[..end];
        rest = &after[end + 1..];
        let (name, spec) = field.split_once(':').unwrap_or((field, ""));
        let (name, conv) = name
            .split_once('!')
            .map(|(a, b)| (a, Some(b)))
            .unwrap_or((name, None));
        let head_end = name.find(['.', '[']).unwrap_or(name.len());
        let head = &name[..head_end];
        let mut v = if head.is_empty() {
            let v = pos
                .get(auto)
                .cloned()
                .ok_or_else(|| err("Replacement index out of range"))?;
            auto += 1;
            v
        } else if let Ok(n) = head.parse::<usize>() {
            pos.get(n)
                .cloned()
                .ok_or_else(|| err("Replacement index out of range"))?
        } else {
            kw.as_ref()
                .and_then(|k| k.get_attr(head).ok())
                .filter(|v| !v.is_undefined())
                .ok_or_else(|| err(format!("KeyError: '{head}'")))?
        };
        let mut tail = &name[head_end..];
        while !tail.is_empty() {
            if let Some(t) = tail.strip_prefix('.') {
                let e = t.find(['.', '[']).unwrap_or(t.len());
                v = v.get_attr(&t[..e])?;
                tail = &t[e..];
            } else if let Some(t) = tail.strip_prefix('[') {
                let e = t
                    .find(']')
                    .ok_or_else(|| err("Missing ']' in format string"))?;
                let key = &t[..e];
                v = match key.parse::<i64>() {
                    Ok(n) => v.get_item(&Value::from(n))?,
                    Err(_) => v.get_item(&Value::from(key))?,
                };
                tail = &t[e + 1..];
            } else {
                break;
            }
        }
        let v = match conv {
            Some("r") => Value::from(py_repr(&v)),
            Some("s") => Value::from(py_str(&v)),
            _ => v,
        };
        out.push_str(&format_spec(&v, spec)?);
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_like_python() {
        let a = |v: Vec<Value>| v;
        for (f, args, want) in [
            ("{}:{}", a(vec![Value::from("h"), Value::from(80)]), "h:80"),
            (
                "{0}-{1}-{0}",
                a(vec![Value::from("a"), Value::from("b")]),
                "a-b-a",
            ),
            (
                "{:>8}|{:<6}|{:05d}",
                a(vec![
                    Value::from("right"),
                    Value::from("left"),
                    Value::from(42),
                ]),
                "   right|left  |00042",
            ),
            ("{:.2f}", a(vec![Value::from(0.3333)]), "0.33"),
            ("{:,}", a(vec![Value::from(1234567)]), "1,234,567"),
            ("{:^7}", a(vec![Value::from("mid")]), "  mid  "),
            ("{}", a(vec![Value::from(vec![Value::from("x")])]), "['x']"),
            ("{{}} {:x}", a(vec![Value::from(255)]), "{} ff"),
            ("{}", a(vec![Value::from(2.0)]), "2.0"),
        ] {
            assert_eq!(str_format(f, &args).unwrap(), want, "{f}");
        }
    }
}
