//! `hostname`: the host's name, both the running one (`hostname`) and the stored one
//! (`/etc/hostname`), set with `hostnamectl` under systemd or by writing `/etc/hostname`
//! atomically and running `hostname`.

use super::args::Getter;
use super::copy::{Copy, Entry, sha256_hex};
use super::{Change, Plan, Resource};
use crate::error::Result;
use crate::shell::quote;
use base64::Engine;
use serde_json::{Value, json};
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Use {
    Auto,
    Systemd,
    File,
}

#[derive(Debug, Clone)]
pub(crate) struct Hostname {
    pub name: String,
    pub using: Use,
}

super::plain_module!(Hostname);

impl Hostname {
    pub(crate) fn build(a: &Getter) -> Result<Hostname> {
        let name = a.str("name")?;
        let ok = !name.is_empty()
            && name.len() <= 253
            && !name.starts_with(['-', '.'])
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
        if !ok {
            return Err(a.err(
                "name",
                format!("`{name}` is not a valid host name (letters, digits, `-` and `.`)"),
            ));
        }
        let using = match a.opt_str("use")?.as_deref() {
            None => Use::Auto,
            Some("systemd") => Use::Systemd,
            Some("debian" | "generic" | "alpine") => Use::File,
            Some(other) => {
                return Err(a.err(
                    "use",
                    format!("`use: {other}` is not supported here; use systemd, debian or generic"),
                ));
            }
        };
        Ok(Hostname { name, using })
    }

    pub(crate) fn reads(&self) -> Vec<Resource> {
        vec![Resource::Path("/etc/hostname".into())]
    }

    /// `current\tB64`, `stored\tB64` or `stored\tnone`, `systemd\tyes|no`.
    pub(crate) fn probe(&self) -> String {
        "printf 'current\\t'; hostname | base64 -w0; printf '\\n'; \
         if [ -f /etc/hostname ]; then printf 'stored\\t'; base64 -w0 < /etc/hostname; printf '\\n'; else printf 'stored\\tnone\\n'; fi; \
         if [ -d /run/systemd/system ] && command -v hostnamectl >/dev/null 2>&1; then printf 'systemd\\tyes\\n'; else printf 'systemd\\tno\\n'; fi\n"
            .to_string()
    }

    pub(crate) fn plan(&self, facts: &str) -> std::result::Result<Plan, String> {
        let b64 = |s: &str| -> std::result::Result<String, String> {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(s)
                .map_err(|e| format!("unexpected probe output: {e}"))?;
            Ok(String::from_utf8_lossy(&bytes).trim().to_string())
        };
        let (mut current, mut stored, mut systemd) = (None, None, None);
        for line in facts.lines() {
            match line.split_once('\t') {
                Some(("current", v)) if current.is_none() => current = Some(b64(v)?),
                Some(("stored", "none")) if stored.is_none() => stored = Some(None),
                Some(("stored", v)) if stored.is_none() => {
                    // The first line that is not a comment, as systemd reads it.
                    let text = b64(v)?;
                    let first = text
                        .lines()
                        .map(str::trim)
                        .find(|l| !l.is_empty() && !l.starts_with('#'))
                        .unwrap_or("")
                        .to_string();
                    stored = Some(Some(first));
                }
                Some(("systemd", v)) if systemd.is_none() => systemd = Some(v == "yes"),
                _ => return Err(format!("unexpected probe output: {line:?}")),
            }
        }
        let (Some(current), Some(stored), Some(systemd)) = (current, stored, systemd) else {
            return Err(format!("unexpected probe output: {facts:?}"));
        };
        let short = self.name.split('.').next().unwrap_or_default();
        let result = match json!({
            "name": self.name,
            "ansible_facts": {"ansible_hostname": short, "ansible_nodename": self.name},
        }) {
            Value::Object(m) => m,
            _ => unreachable!(),
        };
        let mut changes = Vec::new();
        if current != self.name {
            changes.push(Change::new(format!("hostname {current} → {}", self.name)));
        }
        if stored.as_deref() != Some(self.name.as_str()) {
            changes.push(Change::new(format!(
                "/etc/hostname: {} → {}",
                stored.as_deref().unwrap_or("(none)"),
                self.name
            )));
        }
        if changes.is_empty() {
            return Ok(Plan {
                result,
                ..Plan::ok()
            });
        }
        let n = quote(&self.name);
        let use_systemd = match self.using {
            Use::Systemd => true,
            Use::File => false,
            Use::Auto => systemd,
        };
        let script = if use_systemd {
            format!("hostnamectl set-hostname {n}\n")
        } else {
            let content = Arc::new(format!("{}\n", self.name).into_bytes());
            let entry = Entry {
                dest: "/etc/hostname".into(),
                sha256: sha256_hex(&content),
                content,
            };
            let w = Copy {
                mode: Some(0o644),
                ..Copy::writer("/etc/hostname")
            };
            format!(
                "{}{}hostname {n}\n",
                super::safe_write::HEAD,
                w.write(&entry, None)
            )
        };
        Ok(Plan {
            result,
            ..Plan::script(changes, script, self.reads())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::Run;
    use crate::modules::args::Args;
    use serde_json::Map;
    use std::collections::HashMap;

    fn h(args: Value) -> std::result::Result<Hostname, String> {
        let map: Map<String, Value> = args.as_object().unwrap().clone();
        let args = Args {
            map: map.clone(),
            locs: HashMap::new(),
            key_locs: HashMap::new(),
            loc: crate::location::Location::new(&Arc::new("t.yml".into()), 1, 1),
        };
        Hostname::build(&Getter::new(&map, &args)).map_err(|e| e.to_string())
    }

    fn facts(current: &str, stored: Option<&str>, systemd: bool) -> String {
        let e = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        format!(
            "current\t{}\nstored\t{}\nsystemd\t{}\n",
            e(&format!("{current}\n")),
            stored.map_or("none".to_string(), e),
            if systemd { "yes" } else { "no" }
        )
    }

    #[test]
    fn table() {
        let web = h(json!({"name": "web1.example.com"})).unwrap();
        // (facts, changes, script contains)
        let table: Vec<(String, Vec<&str>, &str)> = vec![
            (
                facts("web1.example.com", Some("web1.example.com\n"), true),
                vec![],
                "",
            ),
            (
                facts("debian", Some("debian\n"), true),
                vec![
                    "hostname debian → web1.example.com",
                    "/etc/hostname: debian → web1.example.com",
                ],
                "hostnamectl set-hostname web1.example.com\n",
            ),
            (
                facts(
                    "web1.example.com",
                    Some("# set by cloud-init\nold\n"),
                    false,
                ),
                vec!["/etc/hostname: old → web1.example.com"],
                "hostname web1.example.com\n",
            ),
            (
                facts("x", None, false),
                vec![
                    "hostname x → web1.example.com",
                    "/etc/hostname: (none) → web1.example.com",
                ],
                "plumb_put ./hostname /etc/hostname",
            ),
        ];
        for (f, want, script) in table {
            let p = web.plan(&f).unwrap();
            let got: Vec<&str> = p.changes.iter().map(|c| c.summary.as_str()).collect();
            assert_eq!(got, want, "{f}");
            if let Run::Script(s) = &p.run {
                assert!(s.contains(script), "{s}");
            }
            assert_eq!(p.result["ansible_facts"]["ansible_hostname"], "web1");
        }
        // use: debian writes the file even under systemd.
        let deb = h(json!({"name": "db1", "use": "debian"})).unwrap();
        let Run::Script(s) = deb.plan(&facts("x", Some("x\n"), true)).unwrap().run else {
            panic!()
        };
        assert!(s.contains("plumb_put ./hostname /etc/hostname") && s.ends_with("hostname db1\n"));
    }

    #[test]
    fn errors() {
        let web = h(json!({"name": "web1"})).unwrap();
        assert!(web.plan("").is_err());
        assert!(
            web.plan("current\t!!\nstored\tnone\nsystemd\tno\n")
                .is_err()
        );
        assert!(
            web.plan(&format!("{}current\tAA==\n", facts("a", None, true)))
                .is_err()
        );
        for bad in [
            json!({"name": "a b"}),
            json!({"name": "-x"}),
            json!({"name": "a;b"}),
            json!({"name": "a", "use": "openbsd"}),
        ] {
            assert!(h(bad.clone()).is_err(), "{bad}");
        }
    }
}
