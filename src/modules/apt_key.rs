//! `apt_key`: an APT signing key as a file apt reads, without the deprecated `apt-key`
//! (gone from Debian 13): `keyring` when given, else `/etc/apt/trusted.gpg.d/plumb-NAME.asc`
//! (`.gpg` for a binary key), NAME being the key `id` or a digest of where the key came from.
//! The key comes from `data`, from `url` (fetched on the host in the probe, read-only) or from
//! `file` (a path on the host). With `id` and the host's `gpg`, a key apt already trusts from
//! any keyring counts as present, as with Ansible. An armored key going to a `.gpg` keyring is
//! dearmored here. Changes nothing else; the cache is not updated (as in Ansible).

use super::args::Getter;
use super::copy::sha256_hex;
use super::file_set::{self, Want};
use super::get_url::Fetch;
use super::{Plan, Resource, Run};
use crate::error::Result;
use crate::shell::quote;
use base64::Engine;
use serde_json::{Map, json};
use std::sync::Arc;

const DIR: &str = "/etc/apt/trusted.gpg.d";

#[derive(Debug, Clone)]
pub(crate) enum KeySource {
    Data(Vec<u8>),
    Url(Fetch),
    File(String),
    None,
}

#[derive(Debug, Clone)]
pub(crate) struct AptKey {
    pub(crate) id: Option<String>,
    pub(crate) source: KeySource,
    pub(crate) keyring: Option<String>,
    pub(crate) present: bool,
    /// The name used under trusted.gpg.d.
    pub(crate) name: String,
}

fn b64(s: &str) -> std::result::Result<Vec<u8>, String> {
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|e| format!("unexpected probe output: {e}"))
}

/// An ASCII-armored OpenPGP block's binary packets (the checksum line is not needed: the
/// base64 itself is checked).
fn dearmor(text: &str) -> Option<Vec<u8>> {
    let start = text.find("-----BEGIN PGP PUBLIC KEY BLOCK-----")?;
    let mut lines = text[start..].lines().skip(1);
    // Armor headers (`Version: …`) end at the first blank line.
    for l in lines.by_ref() {
        if l.trim().is_empty() {
            break;
        }
    }
    let mut body = String::new();
    for l in lines {
        let l = l.trim();
        if l.starts_with("-----END") || (l.starts_with('=') && l.len() == 5) {
            break;
        }
        body.push_str(l);
    }
    base64::engine::general_purpose::STANDARD.decode(body).ok()
}

super::plain_module!(AptKey);

impl AptKey {
    pub(crate) fn build(a: &Getter) -> Result<AptKey> {
        let present = a.choice("state", &["present", "absent"], "present")? == "present";
        let id = match a.opt_str("id")? {
            None => None,
            Some(i) => {
                let hex = i.trim_start_matches("0x").to_ascii_uppercase();
                if !(8..=40).contains(&hex.len()) || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
                    return Err(a.err("id", format!("`{i}` is not a key id (8 to 40 hex digits)")));
                }
                Some(hex)
            }
        };
        let source = if let Some(d) = a.opt_str("data")? {
            KeySource::Data(d.into_bytes())
        } else if a.has("url") {
            KeySource::Url(Fetch::build(a, "url")?)
        } else if let Some(f) = a.opt_str("file")? {
            KeySource::File(f)
        } else {
            KeySource::None
        };
        if a.has("keyserver") {
            return Err(a.err(
                "keyserver",
                "`keyserver` is not supported (it needs gpg's network access); give `url` or `data`",
            ));
        }
        if present && matches!(source, KeySource::None) {
            return Err(a.err("id", "`apt_key` needs `data`, `url` or `file`"));
        }
        if !present && id.is_none() {
            return Err(a.err("state", "`state: absent` needs the key's `id`"));
        }
        let keyring = a.opt_path("keyring")?;
        let name = match (&id, &source) {
            (Some(i), _) => i.clone(),
            (None, KeySource::Data(d)) => sha256_hex(d)[..16].to_string(),
            (None, KeySource::Url(f)) => sha256_hex(f.url.as_bytes())[..16].to_string(),
            (None, KeySource::File(p)) => sha256_hex(p.as_bytes())[..16].to_string(),
            (None, KeySource::None) => unreachable!("checked above"),
        };
        Ok(AptKey {
            id,
            source,
            keyring,
            present,
            name,
        })
    }

    fn paths(&self) -> Vec<String> {
        match &self.keyring {
            Some(k) => vec![k.clone()],
            None => vec![
                format!("{DIR}/plumb-{}.asc", self.name),
                format!("{DIR}/plumb-{}.gpg", self.name),
            ],
        }
    }

    pub(crate) fn reads(&self) -> Vec<Resource> {
        vec![Resource::Path(DIR.into())]
            .into_iter()
            .chain(self.keyring.iter().map(|k| Resource::Path(k.clone())))
            .collect()
    }

    /// `key\tB64`/`keyerr\tB64` for a key read on the host; `fpr\tFINGERPRINT` for each key
    /// apt trusts when `id` is given and gpg is there; then `files` and the target's facts.
    pub(crate) fn probe(&self) -> String {
        let mut s = String::new();
        let fetch = match (&self.source, self.present) {
            (KeySource::Url(f), true) => Some(f.command()),
            (KeySource::File(p), true) => Some(format!("cat -- {}", quote(p))),
            _ => None,
        };
        if let Some(cmd) = fetch {
            s.push_str(&format!(
                "( plumb_die() {{ _f=$1; shift; printf \"plumb: $_f\\n\" \"$@\" >&2; exit 1; }}\n\
                 e=$(mktemp)\nif k=$( {{ {cmd}; }} 2>\"$e\" | base64 -w0) && [ -n \"$k\" ]; then printf 'key\\t%s\\n' \"$k\"; \
                 else printf 'keyerr\\t%s\\n' \"$(base64 -w0 < \"$e\")\"; fi; rm -f -- \"$e\" )\n"
            ));
        }
        if self.id.is_some() {
            let mut files = String::from(
                "/etc/apt/trusted.gpg /etc/apt/trusted.gpg.d/*.gpg /etc/apt/trusted.gpg.d/*.asc",
            );
            if let Some(k) = &self.keyring {
                files.push(' ');
                files.push_str(&quote(k));
            }
            s.push_str(&format!(
                "if command -v gpg >/dev/null 2>&1; then for f in {files}; do [ -f \"$f\" ] || continue; \
                 gpg --batch --no-tty --show-keys --with-colons -- \"$f\" 2>/dev/null | awk -F: '$1 == \"fpr\" {{ print \"fpr\\t\" $10 }}'; done; fi\n"
            ));
        }
        s.push_str("printf 'files\\n'\n");
        let paths = self.paths();
        let refs: Vec<&str> = paths.iter().map(String::as_str).collect();
        s.push_str(&file_set::probe(&refs));
        s
    }

    pub(crate) fn plan(&self, facts: &str) -> std::result::Result<Plan, String> {
        let (head, rest) = facts
            .split_once("files\n")
            .ok_or_else(|| format!("unexpected probe output: {}", facts.trim()))?;
        let (mut key, mut fprs) = (None, Vec::new());
        for line in head.lines() {
            match line.split_once('\t') {
                Some(("key", v)) => key = Some(b64(v)?),
                Some(("keyerr", v)) => {
                    return Err(format!(
                        "could not read the key: {}",
                        String::from_utf8_lossy(&b64(v)?).trim()
                    ));
                }
                Some(("fpr", v)) => fprs.push(v.to_string()),
                _ => return Err(format!("unexpected probe output: {line:?}")),
            }
        }
        let paths = self.paths();
        let refs: Vec<&str> = paths.iter().map(String::as_str).collect();
        let trusted = self
            .id
            .as_ref()
            .is_some_and(|id| fprs.iter().any(|f| f.ends_with(id.as_str())));
        let mut result = Map::new();
        if let Some(id) = &self.id {
            result.insert("id".into(), json!(id));
        }
        let mut wants: Vec<Want> = paths
            .iter()
            .map(|p| Want {
                path: p.clone(),
                content: None,
                mode: 0o644,
            })
            .collect();
        if self.present {
            // With `id`, a key apt trusts already (from any keyring) is left as it is.
            let facts = super::file_fact::parse(rest, &refs)?;
            if trusted && self.keyring.is_none() {
                let ours = facts
                    .iter()
                    .any(|f| f.kind != super::file_fact::Kind::Absent);
                if !ours {
                    return Ok(Plan {
                        result,
                        ..Plan::ok()
                    });
                }
            }
            let bytes = match &self.source {
                KeySource::Data(d) => d.clone(),
                _ => key.ok_or_else(|| "the key was not read".to_string())?,
            };
            let armored =
                String::from_utf8_lossy(&bytes).contains("-----BEGIN PGP PUBLIC KEY BLOCK-----");
            let (i, content) = match &self.keyring {
                Some(k) if armored && !k.ends_with(".asc") => (
                    0,
                    dearmor(&String::from_utf8_lossy(&bytes))
                        .ok_or_else(|| "the key's ASCII armor is broken".to_string())?,
                ),
                Some(_) => (0, bytes),
                None => (if armored { 0 } else { 1 }, bytes),
            };
            if !armored && content.first().is_none_or(|b| b & 0x80 == 0) {
                return Err("the key is neither an armored nor a binary OpenPGP key".into());
            }
            wants[i].content = Some(Arc::new(content));
            result.insert("key_file".into(), json!(wants[i].path));
        }
        let (changes, cmds) = file_set::plan(&wants, &refs, rest)?;
        if changes.is_empty() {
            return Ok(Plan {
                result,
                ..Plan::ok()
            });
        }
        Ok(Plan {
            batch: None,
            starts: None,
            changes,
            run: Run::Script(format!("{}{cmds}", super::safe_write::HEAD)),
            writes: paths.into_iter().map(Resource::Path).collect(),
            uncertain: false,
            result,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "-----BEGIN PGP PUBLIC KEY BLOCK-----\nComment: test\n\nmQENBGVh\n=abcd\n-----END PGP PUBLIC KEY BLOCK-----\n";

    fn key(source: KeySource, id: Option<&str>, keyring: Option<&str>) -> AptKey {
        AptKey {
            id: id.map(String::from),
            source,
            keyring: keyring.map(String::from),
            present: true,
            name: id.unwrap_or("0123456789abcdef").into(),
        }
    }

    #[test]
    fn armored_data_goes_to_trusted_gpg_d() {
        let k = key(KeySource::Data(KEY.into()), None, None);
        let p = k.plan("files\nabsent\t0\nabsent\t1\nstats\n").unwrap();
        assert_eq!(
            p.changes[0].summary,
            "create /etc/apt/trusted.gpg.d/plumb-0123456789abcdef.asc"
        );
        let sum = sha256_hex(KEY.as_bytes());
        let there = format!(
            "files\nabsent\t1\nstats\nstat\tregular file\t644\troot\troot\t0\t0\t1764000000\t\"/etc/apt/trusted.gpg.d/plumb-0123456789abcdef.asc\"\nsums\t 0\n{sum}  /etc/apt/trusted.gpg.d/plumb-0123456789abcdef.asc\n"
        );
        assert!(k.plan(&there).unwrap().changes.is_empty());
    }

    #[test]
    fn a_key_trusted_elsewhere_is_present_and_dearmoring() {
        let id = "B7B3B788A8D3785C";
        let k = key(
            KeySource::Url(Fetch {
                url: "https://repo.example/key.asc".into(),
                headers: vec![],
                timeout: 10,
                validate_certs: true,
                user: None,
                password: None,
            }),
            Some(id),
            None,
        );
        let facts =
            format!("fpr\tA4285295FC7B1A81600062A9{id}\nfiles\nabsent\t0\nabsent\t1\nstats\n");
        assert!(k.plan(&facts).unwrap().changes.is_empty());
        assert!(k.probe().contains("curl -fsSL"));
        let ring = key(
            KeySource::Data(KEY.into()),
            None,
            Some("/usr/share/keyrings/x.gpg"),
        );
        let p = ring.plan("files\nabsent\t0\nstats\n").unwrap();
        let c = p.changes[0].content.as_ref().unwrap();
        assert_eq!(c.new.as_slice(), &[0x99, 0x01, 0x0d, 0x04, 0x65, 0x61]);
        assert!(
            k.plan("keyerr\tZmFpbA==\nfiles\n")
                .unwrap_err()
                .contains("fail")
        );
        assert!(
            key(KeySource::Data(b"garbage".to_vec()), None, None)
                .plan("files\nabsent\t0\nabsent\t1\nstats\n")
                .is_err()
        );
    }
}
