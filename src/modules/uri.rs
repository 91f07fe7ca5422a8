//! `uri`: check an HTTP endpoint, from the host itself (through the SSH connection, so the host
//! needs no curl) or from the control machine (`delegate_to: localhost`).

use super::args::Getter;
use crate::error::Result;
pub(crate) use crate::http::{Request, Tls};
use serde_json::Value;

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
        let tls = if url.starts_with("https://") {
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
            Some(Tls {
                validate: a.bool("validate_certs", true)?,
                ca_pem,
            })
        } else {
            None
        };
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
        let method = a.choice("method", &["GET", "HEAD"], "GET")?;
        let headers = match a.raw("headers") {
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
                tls,
            },
        })
    }
}

fn parse_url(url: &str) -> std::result::Result<(String, u16, String), String> {
    let (rest, default_port) = if let Some(r) = url.strip_prefix("http://") {
        (r, 80)
    } else if let Some(r) = url.strip_prefix("https://") {
        (r, 443)
    } else {
        return Err(format!("`{url}` is not an http:// or https:// URL"));
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (
            h,
            p.parse::<u16>()
                .map_err(|_| format!("bad port in `{url}`"))?,
        ),
        None => (authority, default_port),
    };
    if host.is_empty() {
        return Err(format!("no host in `{url}`"));
    }
    Ok((host.to_string(), port, path.to_string()))
}

/// The registered result of a request, as Ansible's uri module shapes it.
pub(crate) fn result(req: &Request, status: u16, body: &str) -> Value {
    let mut v = serde_json::json!({
        "url": req.url,
        "status": status,
    });
    if req.return_content {
        v["content"] = Value::String(body.to_string());
    }
    v
}

/// The result of an answer, and why the task fails when the status is not an expected one.
pub(crate) fn check(req: &Request, status: u16, body: &str) -> (Value, Option<String>) {
    let mut value = result(req, status, body);
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
