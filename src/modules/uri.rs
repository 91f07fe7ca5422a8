//! `uri`: an HTTP request (a check, or a call with a body), from the host itself (through the
//! SSH connection, so the host needs no curl) or from the control machine
//! (`delegate_to: localhost`).

use super::args::Getter;
use crate::error::Result;
use crate::http::parse_url;
pub(crate) use crate::http::{Request, Response, Tls};
use serde_json::{Map, Value};

#[derive(Debug, Clone)]
pub(crate) struct Uri {
    pub(crate) request: Request,
}

/// Reads nothing beforehand: the request is the task, and its answer its result.
impl super::Module for Uri {
    fn probe(&self) -> Option<String> {
        None
    }
    fn reads(&self) -> Vec<super::Resource> {
        Vec::new()
    }
    fn plan(&self, _facts: &str) -> std::result::Result<super::Plan, String> {
        Ok(super::Plan {
            run: super::Run::Http(self.request.clone()),
            ..super::Plan::ok()
        })
    }
}

impl Uri {
    /// `base`: the playbook's directory, which a relative `ca_path` is read from.
    pub(crate) fn build(a: &Getter, base: &std::path::Path) -> Result<Uri> {
        let url = a.str("url")?;
        let (host, port, path) = parse_url(&url).map_err(|e| a.err("url", e))?;
        let tls_options = {
            let ca_pem = match a.opt_str("ca_path")? {
                None => None,
                Some(p) => {
                    let p = crate::paths::under(base, &p).display().to_string();
                    let pem = std::fs::read(&p)
                        .map_err(|e| a.err("ca_path", format!("cannot read `{p}`: {e}")))?;
                    crate::http::parse_pem(&pem)
                        .map_err(|e| a.err("ca_path", format!("`{p}`: {e}")))?;
                    Some(std::sync::Arc::new(pem))
                }
            };
            Tls {
                validate: a.bool("validate_certs", true)?,
                ca_pem,
            }
        };
        let tls = url.starts_with("https://").then(|| tls_options.clone());
        // YAML's `yes`/`no` arrive as booleans: Ansible reads them as its `yes` and `no`.
        let follow = match a.raw("follow_redirects") {
            Some(Value::Bool(true)) => "yes".to_string(),
            Some(Value::Bool(false)) => "no".to_string(),
            _ => a.choice("follow_redirects", crate::http::FOLLOW_NAMES, "safe")?,
        };
        let follow = crate::http::Follow::named(&follow).unwrap_or_default();
        let bad = || {
            a.err(
                "status_code",
                "`status_code` must be a number or a list of numbers",
            )
        };
        let code = |v: &Value| -> Result<u16> {
            match v {
                Value::Number(n) => n
                    .as_u64()
                    .and_then(|n| u16::try_from(n).ok())
                    .ok_or_else(bad),
                Value::String(s) => s.trim().parse().map_err(|_| bad()),
                _ => Err(bad()),
            }
        };
        let status_codes = match a.raw("status_code") {
            None | Some(Value::Null) => vec![200],
            Some(Value::Array(items)) => items.iter().map(code).collect::<Result<_>>()?,
            Some(Value::String(s)) if s.contains(',') => s
                .split(',')
                .map(|c| code(&Value::String(c.to_string())))
                .collect::<Result<_>>()?,
            Some(v) => vec![code(v)?],
        };
        let method = a
            .opt_str("method")?
            .unwrap_or_else(|| "GET".into())
            .to_ascii_uppercase();
        const METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
        if !METHODS.contains(&method.as_str()) {
            return Err(a.err(
                "method",
                format!("`method` must be one of {}", METHODS.join(", ")),
            ));
        }
        let mut headers: Vec<(String, String)> = match a.raw("headers") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Object(m)) => m
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str().map(String::from).unwrap_or(v.to_string()),
                    )
                })
                .collect(),
            Some(_) => return Err(a.err("headers", "`headers` must be a mapping")),
        };
        let format = a.choice("body_format", &["raw", "json", "form-urlencoded"], "raw")?;
        let body = match a.raw("body") {
            None | Some(Value::Null) => None,
            Some(v) => Some(body(&format, v).map_err(|e| a.err("body", e))?),
        };
        // Ansible's Content-Type for a serialised body, unless the task sets its own.
        let content_type = match format.as_str() {
            "json" => Some("application/json"),
            "form-urlencoded" => Some("application/x-www-form-urlencoded"),
            _ => None,
        };
        if let Some(ct) = content_type.filter(|_| body.is_some())
            && !headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        {
            headers.push(("Content-Type".into(), ct.into()));
        }
        Ok(Uri {
            request: Request {
                url,
                host,
                port,
                path,
                method,
                status_codes,
                return_content: a.bool("return_content", false)?,
                timeout: a.opt_u64("timeout")?.unwrap_or(30),
                headers,
                body,
                tls,
                tls_options,
                follow,
                redirected: false,
            },
        })
    }
}

/// A task's `body` as sent: JSON or form-urlencoded from a mapping or list, text as it is.
fn body(format: &str, v: &Value) -> std::result::Result<Vec<u8>, String> {
    Ok(match (format, v) {
        (_, Value::String(s)) => s.clone().into_bytes(),
        ("json", v) => v.to_string().into_bytes(),
        ("form-urlencoded", Value::Object(m)) => form(m.iter().map(|(k, v)| (k.as_str(), v))),
        ("form-urlencoded", Value::Array(items)) => {
            let mut pairs = Vec::new();
            for i in items {
                match i.as_array().map(Vec::as_slice) {
                    Some([Value::String(k), v]) => pairs.push((k.as_str(), v)),
                    _ => {
                        return Err(
                            "a form-urlencoded `body` list holds [name, value] pairs".into()
                        );
                    }
                }
            }
            form(pairs.into_iter())
        }
        ("form-urlencoded", _) => {
            return Err("a form-urlencoded `body` is a mapping, a list of pairs or text".into());
        }
        _ => {
            return Err(
                "with `body_format: raw` (the default), `body` must be text; set `body_format: json` or `form-urlencoded` to send a mapping".into(),
            );
        }
    })
}

/// `k=v&…` as Python's `urlencode` writes it (lists repeat their key, spaces become `+`).
fn form<'a>(pairs: impl Iterator<Item = (&'a str, &'a Value)>) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, v) in pairs {
        let values = match v {
            Value::Array(a) => a.iter().collect(),
            v => vec![v],
        };
        for v in values {
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Bool(true) => "True".into(),
                Value::Bool(false) => "False".into(),
                Value::Null => "None".into(),
                v => v.to_string(),
            };
            out.push(format!("{}={}", quote_plus(k), quote_plus(&text)));
        }
    }
    out.join("&").into_bytes()
}

fn quote_plus(s: &str) -> String {
    let mut o = String::new();
    for b in s.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' => {
                o.push(b as char)
            }
            b' ' => o.push('+'),
            b => o.push_str(&format!("%{b:02X}")),
        }
    }
    o
}

/// The registered result of a request, as Ansible's uri module shapes it: the response's
/// headers (lower case, `-` as `_`), `status`, `url` (the last one, after redirects),
/// `redirected`, `content` with `return_content`, and `json` when the answer says it is JSON.
pub(crate) fn result(req: &Request, resp: &Response) -> Value {
    let mut m = Map::new();
    for (k, v) in &resp.headers {
        m.insert(
            k.to_ascii_lowercase().replace('-', "_"),
            Value::String(v.clone()),
        );
    }
    m.insert("url".into(), Value::String(req.url.clone()));
    m.insert("status".into(), resp.status.into());
    m.insert("redirected".into(), req.redirected.into());
    if req.return_content {
        m.insert("content".into(), Value::String(resp.body.clone()));
    }
    let is_json = resp.headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("content-type") && {
            let v = v.to_ascii_lowercase();
            v.contains("json") || v.contains("javascript")
        }
    });
    if is_json && let Ok(j) = serde_json::from_str::<Value>(&resp.body) {
        m.insert("json".into(), j);
    }
    Value::Object(m)
}

/// The result of an answer, and why the task fails when the status is not an expected one.
pub(crate) fn check(req: &Request, resp: &Response) -> (Value, Option<String>) {
    let status = resp.status;
    let mut value = result(req, resp);
    value["changed"] = Value::Bool(false);
    value["skipped"] = Value::Bool(false);
    let failed = (!req.status_codes.contains(&status)).then(|| {
        format!(
            "{} answered {status}, expected {}",
            req.url,
            req.status_codes
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(" or ")
        )
    });
    (value, failed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::args::Args;
    use serde_json::json;
    use std::collections::HashMap;
    use std::sync::Arc;

    fn uri(args: Value) -> std::result::Result<Uri, String> {
        let map: Map<String, Value> = args.as_object().unwrap().clone();
        let args = Args {
            map: map.clone(),
            locs: HashMap::new(),
            key_locs: HashMap::new(),
            loc: crate::location::Location::new(&Arc::new("t.yml".into()), 1, 1),
        };
        Uri::build(&Getter::new(&map, &args), std::path::Path::new(".")).map_err(|e| e.to_string())
    }

    fn sent(args: Value) -> (String, Vec<(String, String)>, String) {
        let r = uri(args).unwrap().request;
        let body = String::from_utf8(r.body.unwrap_or_default()).unwrap();
        (r.method, r.headers, body)
    }

    #[test]
    fn bodies_as_ansible_sends_them() {
        let url = "http://10.231.1.1:8080/api";
        let (m, h, b) = sent(json!({"url": url, "method": "post", "body_format": "json",
            "body": {"name": "app", "tags": ["a", "b"], "n": 2}}));
        assert_eq!(m, "POST");
        assert_eq!(
            serde_json::from_str::<Value>(&b).unwrap(),
            json!({"name": "app", "tags": ["a", "b"], "n": 2})
        );
        assert_eq!(h, [("Content-Type".into(), "application/json".into())]);
        // The task's own Content-Type wins; a string is sent as it is.
        let (_, h, b) = sent(json!({"url": url, "method": "PUT", "body_format": "json",
            "headers": {"content-type": "application/vnd.x+json"}, "body": "{\"a\": 1}"}));
        assert_eq!(
            h,
            [("content-type".into(), "application/vnd.x+json".into())]
        );
        assert_eq!(b, "{\"a\": 1}");
        let (_, h, b) = sent(
            json!({"url": url, "method": "POST", "body_format": "form-urlencoded",
            "body": {"user": "a b", "x": ["1", "&"], "ok": true}}),
        );
        assert_eq!(b, "user=a+b&x=1&x=%26&ok=True");
        assert_eq!(
            h,
            [(
                "Content-Type".into(),
                "application/x-www-form-urlencoded".into()
            )]
        );
        let (_, _, b) = sent(
            json!({"url": url, "method": "POST", "body_format": "form-urlencoded",
            "body": [["k", "v"], ["k", "w"]]}),
        );
        assert_eq!(b, "k=v&k=w");
        let (_, h, b) = sent(json!({"url": url, "method": "DELETE", "body": "raw text"}));
        assert!(h.is_empty());
        assert_eq!(b, "raw text");
        assert!(
            uri(json!({"url": url, "body": {"a": 1}}))
                .unwrap_err()
                .contains("body_format")
        );
        assert!(uri(json!({"url": url, "method": "BREW"})).is_err());
        assert!(uri(json!({"url": url})).unwrap().request.body.is_none());
    }

    #[test]
    fn results_as_ansible_registers_them() {
        let req = uri(json!({"url": "http://h/api", "return_content": true}))
            .unwrap()
            .request;
        // Recorded from a small JSON API.
        let resp = Response {
            status: 201,
            headers: vec![
                (
                    "Content-Type".into(),
                    "application/json; charset=utf-8".into(),
                ),
                ("X-Request-Id".into(), "42".into()),
            ],
            body: "{\"id\": 7}".into(),
        };
        let (v, bad) = check(&req, &resp);
        assert_eq!(bad.unwrap(), "http://h/api answered 201, expected 200");
        assert_eq!(v["status"], 201);
        assert_eq!(v["json"], json!({"id": 7}));
        assert_eq!(v["content"], "{\"id\": 7}");
        assert_eq!(v["x_request_id"], "42");
        assert_eq!(v["content_type"], "application/json; charset=utf-8");
        assert_eq!(v["redirected"], false);
        // Not JSON by its type: no `json`.
        let html = Response {
            headers: vec![("Content-Type".into(), "text/html".into())],
            ..resp
        };
        assert!(result(&req, &html).get("json").is_none());
    }

    #[test]
    fn urls() {
        assert_eq!(
            parse_url("http://127.0.0.1/static/x.css").unwrap(),
            ("127.0.0.1".into(), 80, "/static/x.css".into())
        );
        assert_eq!(
            parse_url("http://10.231.1.2:8080").unwrap(),
            ("10.231.1.2".into(), 8080, "/".into())
        );
        assert_eq!(
            parse_url("https://example.org").unwrap(),
            ("example.org".into(), 443, "/".into())
        );
        assert!(parse_url("ftp://x").is_err());
    }
}
