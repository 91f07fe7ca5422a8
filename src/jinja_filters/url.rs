//! The URL filters: `urlsplit`, `urlencode`.

use crate::filter_err::err;
use crate::py_value::py_str;
use minijinja::Error;
use minijinja::value::{Value, ValueKind};

pub(super) fn urlsplit(v: Value, query: Option<String>) -> Result<Value, Error> {
    let s = py_str(&v);
    let (scheme, rest) = match s.split_once("://") {
        Some((a, b)) if !a.contains('/') => (a.to_lowercase(), format!("//{b}")),
        _ => (String::new(), s.clone()),
    };
    let (rest, fragment) = rest
        .split_once('#')
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .unwrap_or((rest.clone(), String::new()));
    let (rest, q) = rest
        .split_once('?')
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .unwrap_or((rest.clone(), String::new()));
    let (netloc, path) = match rest.strip_prefix("//") {
        Some(r) => match r.find('/') {
            Some(i) => (r[..i].to_string(), r[i..].to_string()),
            None => (r.to_string(), String::new()),
        },
        None => (String::new(), rest.clone()),
    };
    let (userinfo, hostport) = match netloc.rsplit_once('@') {
        Some((u, h)) => (Some(u.to_string()), h.to_string()),
        None => (None, netloc.clone()),
    };
    let (username, password) = match &userinfo {
        Some(u) => match u.split_once(':') {
            Some((a, b)) => (Value::from(a), Value::from(b)),
            None => (Value::from(u.as_str()), Value::from(())),
        },
        None => (Value::from(()), Value::from(())),
    };
    let (host, port) = if hostport.starts_with('[') {
        let end = hostport.find(']').unwrap_or(hostport.len() - 1);
        let h = hostport[1..end].to_string();
        let p = hostport[end + 1..]
            .strip_prefix(':')
            .and_then(|p| p.parse::<i64>().ok());
        (h, p)
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), p.parse::<i64>().ok()),
            None => (hostport.clone(), None),
        }
    };
    let hostname = if host.is_empty() {
        Value::from(())
    } else {
        Value::from(host.to_lowercase())
    };
    let port = port.map(Value::from).unwrap_or(Value::from(()));
    let fields: Vec<(&str, Value)> = vec![
        ("fragment", Value::from(fragment)),
        ("hostname", hostname),
        ("netloc", Value::from(netloc)),
        ("password", password),
        ("path", Value::from(path)),
        ("port", port),
        ("query", Value::from(q)),
        ("scheme", Value::from(scheme)),
        ("username", username),
    ];
    match query {
        Some(q) => fields
            .into_iter()
            .find(|(k, _)| *k == q)
            .map(|(_, v)| v)
            .ok_or_else(|| err(format!("urlsplit: unknown URL component: {q}"))),
        None => Ok(crate::py_value::map_from(fields)),
    }
}

/// Jinja2's `url_quote`: `%XX` for all but letters, digits and `_.-~` (and `/` outside queries).
fn url_quote(s: &str, for_qs: bool) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"_.-~".contains(&b) || (!for_qs && b == b'/') {
            out.push(b as char);
        } else if for_qs && b == b' ' {
            out.push('+');
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Jinja2's `urlencode`: a string is quoted, a dict becomes a query string.
pub(super) fn urlencode(v: Value) -> Result<String, Error> {
    match v.kind() {
        ValueKind::Map => Ok(v
            .try_iter()?
            .map(|k| {
                let x = v.get_item(&k).unwrap_or_default();
                format!(
                    "{}={}",
                    url_quote(&py_str(&k), true),
                    url_quote(&py_str(&x), true)
                )
            })
            .collect::<Vec<_>>()
            .join("&")),
        ValueKind::Seq => Ok(v
            .try_iter()?
            .map(|p| {
                let k = p.get_item(&Value::from(0)).unwrap_or_default();
                let x = p.get_item(&Value::from(1)).unwrap_or_default();
                format!(
                    "{}={}",
                    url_quote(&py_str(&k), true),
                    url_quote(&py_str(&x), true)
                )
            })
            .collect::<Vec<_>>()
            .join("&")),
        _ => Ok(url_quote(&py_str(&v), false)),
    }
}
