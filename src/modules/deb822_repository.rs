//! `deb822_repository`: `/etc/apt/sources.list.d/SLUG.sources` in deb822 form, written as
//! Ansible writes it (fields in the order of their argument names, `X-Repolib-Name`, `URIs`,
//! booleans as yes/no, a key block indented with `.` for blank lines), so a file Ansible wrote
//! converges unchanged (current Ansible: without the `Install-Python-Debian` field older
//! releases wrote, ansible/ansible#86403). A `signed_by` URL is fetched on the host in the probe (read-only) and
//! kept as `/etc/apt/keyrings/SLUG.asc` (`.gpg` when not armored). As in Ansible, the package
//! cache is not updated: follow with `apt: update_cache: true`.

use super::args::Getter;
use super::file_set::{self, Want};
use super::get_url::Fetch;
use super::{Change, Plan, Resource, Run};
use crate::error::Result;
use crate::shell::quote;
use base64::Engine;
use serde_json::{Map, Value, json};
use std::sync::Arc;

const KEYRINGS: &str = "/etc/apt/keyrings";

#[derive(Debug, Clone)]
pub(crate) enum SignedBy {
    None,
    /// A URL, fetched on the host.
    Url(Fetch),
    /// A path if it is a file on the host, else the text itself (fingerprints or a key).
    Text(String),
}

#[derive(Debug, Clone)]
pub(crate) struct Deb822Repository {
    slug: String,
    pub(crate) present: bool,
    /// (field, value) in Ansible's order, `Signed-By` left out (decided on the host).
    pub(crate) fields: Vec<(String, String)>,
    pub(crate) signed_by: SignedBy,
    pub(crate) mode: u32,
}

/// `X-Repolib-Name`, `URIs`, else `by_hash` → `By-Hash`.
fn field_name(k: &str) -> String {
    match k {
        "name" => "X-Repolib-Name".into(),
        "uris" => "URIs".into(),
        _ => k
            .split('_')
            .map(|w| {
                let mut c = w.chars();
                match c.next() {
                    Some(f) => f
                        .to_uppercase()
                        .chain(c.flat_map(char::to_lowercase))
                        .collect(),
                    None => String::new(),
                }
            })
            .collect::<Vec<String>>()
            .join("-"),
    }
}

/// A value of several lines: each on its own line, indented, a blank one as `.`.
fn multiline(v: &str) -> String {
    let lines: Vec<String> = v
        .trim()
        .lines()
        .map(|l| {
            let l = l.trim();
            format!("    {}", if l.is_empty() { "." } else { l })
        })
        .collect();
    format!("\n{}", lines.join("\n"))
}

const BOOLS: &[&str] = &[
    "allow_downgrade_to_insecure",
    "allow_insecure",
    "allow_weak",
    "by_hash",
    "check_date",
    "check_valid_until",
    "enabled",
    "pdiffs",
    "trusted",
];
const LISTS: &[&str] = &[
    "architectures",
    "components",
    "languages",
    "suites",
    "targets",
    "types",
    "uris",
];

super::plain_module!(Deb822Repository);

impl Deb822Repository {
    pub(crate) fn build(a: &Getter) -> Result<Deb822Repository> {
        let name = a.str("name")?;
        let lower = name.to_lowercase();
        let dashed = regex::Regex::new(r"[_\s]+")
            .expect("regex")
            .replace_all(&lower, "-");
        let slug: String = dashed
            .chars()
            .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')
            .collect();
        if slug.is_empty() {
            return Err(a.err("name", format!("`{name}` leaves no file name")));
        }
        let present = a.choice("state", &["present", "absent"], "present")? == "present";
        let mut fields: Vec<(String, String)> = Vec::new();
        let mut keys: Vec<&str> = BOOLS
            .iter()
            .chain(LISTS)
            .chain(&["date_max_future", "inrelease_path", "name"])
            .copied()
            .collect();
        keys.sort_unstable();
        for k in keys {
            let v = if BOOLS.contains(&k) {
                match a.opt_bool(k)? {
                    None => continue,
                    Some(b) => if b { "yes" } else { "no" }.to_string(),
                }
            } else if LISTS.contains(&k) {
                let mut l = a.list(k)?;
                if k == "types" && !a.has("types") {
                    l = vec!["deb".into()];
                }
                if l.is_empty() {
                    continue;
                }
                if k == "types"
                    && let Some(t) = l.iter().find(|t| !matches!(t.as_str(), "deb" | "deb-src"))
                {
                    return Err(a.err("types", format!("`{t}` is not deb or deb-src")));
                }
                l.join(" ")
            } else if k == "date_max_future" {
                match a.opt_u64(k)? {
                    None => continue,
                    Some(n) => n.to_string(),
                }
            } else {
                match a.opt_str(k)? {
                    None => continue,
                    Some(s) => s,
                }
            };
            if v.contains('\n') {
                fields.push((field_name(k), multiline(&v)));
            } else {
                fields.push((field_name(k), v));
            }
        }
        if present && !a.has("uris") {
            return Err(a.err("uris", "`deb822_repository` needs `uris`"));
        }
        if present && !a.has("suites") {
            return Err(a.err("suites", "`deb822_repository` needs `suites`"));
        }
        let signed_by = match a.opt_str("signed_by")? {
            None => SignedBy::None,
            Some(s) if s.contains("://") && !s.contains('\n') => {
                SignedBy::Url(Fetch::build(a, "signed_by")?)
            }
            Some(s) => SignedBy::Text(s),
        };
        let mode = a.opt_mode("mode")?.unwrap_or(0o644);
        Ok(Deb822Repository {
            slug,
            present,
            fields,
            signed_by,
            mode,
        })
    }

    fn dest(&self) -> String {
        format!("/etc/apt/sources.list.d/{}.sources", self.slug)
    }

    fn key(&self, ext: &str) -> String {
        format!("{KEYRINGS}/{}.{ext}", self.slug)
    }

    pub(crate) fn reads(&self) -> Vec<Resource> {
        vec![Resource::Path(self.dest()), Resource::Path(KEYRINGS.into())]
    }

    fn paths(&self) -> Vec<String> {
        vec![
            self.dest(),
            self.key("asc"),
            self.key("gpg"),
            KEYRINGS.into(),
        ]
    }

    /// `signed\tfile` when `signed_by` names a file on the host; `key\tB64` (or `keyerr\tB64`)
    /// for a URL; then `files` and the four paths' facts.
    pub(crate) fn probe(&self) -> String {
        let mut s = String::new();
        match &self.signed_by {
            SignedBy::Text(t) if !t.contains('\n') => {
                let q = quote(t);
                s.push_str(&format!(
                    "if [ -f {q} ]; then printf 'signed\\tfile\\n'; fi\n"
                ));
            }
            SignedBy::Url(f) if self.present => {
                s.push_str(&format!(
                    "( plumb_die() {{ _f=$1; shift; printf \"plumb: $_f\\n\" \"$@\" >&2; exit 1; }}\n\
                     if k=$( {{ {}; }} 2>/tmp/.plumb-keyerr.$$ | base64 -w0); [ -n \"$k\" ]; then printf 'key\\t%s\\n' \"$k\"; \
                     else printf 'keyerr\\t%s\\n' \"$(base64 -w0 < /tmp/.plumb-keyerr.$$)\"; fi; rm -f /tmp/.plumb-keyerr.$$ )\n",
                    f.command()
                ));
            }
            _ => {}
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
        let b64 = |v: &str| {
            base64::engine::general_purpose::STANDARD
                .decode(v)
                .map_err(|e| format!("unexpected probe output: {e}"))
        };
        let (mut is_file, mut key) = (false, None);
        for line in head.lines() {
            match line.split_once('\t') {
                Some(("signed", "file")) => is_file = true,
                Some(("key", v)) => key = Some(b64(v)?),
                Some(("keyerr", v)) => {
                    return Err(format!(
                        "Could not fetch signed_by key: {}",
                        String::from_utf8_lossy(&b64(v)?).trim()
                    ));
                }
                _ => return Err(format!("unexpected probe output: {line:?}")),
            }
        }
        let paths = self.paths();
        let refs: Vec<&str> = paths.iter().map(String::as_str).collect();
        let mut result = Map::new();
        result.insert("dest".into(), json!(self.dest()));
        let mut wants = vec![
            Want {
                path: self.dest(),
                content: None,
                mode: self.mode,
            },
            Want {
                path: self.key("asc"),
                content: None,
                mode: 0o644,
            },
            Want {
                path: self.key("gpg"),
                content: None,
                mode: 0o644,
            },
        ];
        let mut key_filename = Value::Null;
        if self.present {
            let signed = match &self.signed_by {
                SignedBy::None => None,
                SignedBy::Text(t) if is_file => Some(t.clone()),
                SignedBy::Text(t) => Some(if t.contains('\n') {
                    multiline(t)
                } else {
                    t.clone()
                }),
                SignedBy::Url(_) => {
                    let k = key.ok_or_else(|| "the signed_by key was not fetched".to_string())?;
                    let armored = String::from_utf8_lossy(&k)
                        .contains("-----BEGIN PGP PUBLIC KEY BLOCK-----");
                    let i = if armored { 1 } else { 2 };
                    wants[i].content = Some(Arc::new(k));
                    key_filename = json!(wants[i].path);
                    Some(wants[i].path.clone())
                }
            };
            let mut text = String::new();
            let mut fields = self.fields.clone();
            if let Some(s) = signed {
                fields.push(("Signed-By".into(), s));
                // Ansible's order is by argument name: signed_by before suites.
                fields.sort_by_key(|(k, _)| arg_order(k));
            }
            for (k, v) in &fields {
                if v.is_empty() || v.starts_with('\n') {
                    text.push_str(&format!("{k}:{v}\n"));
                } else {
                    text.push_str(&format!("{k}: {v}\n"));
                }
            }
            result.insert("repo".into(), json!(text));
            wants[0].content = Some(Arc::new(text.into_bytes()));
        } else {
            result.insert("repo".into(), Value::Null);
        }
        result.insert("key_filename".into(), key_filename);
        let (mut changes, cmds) = file_set::plan(&wants, &refs, rest)?;
        let keyrings = super::file_fact::parse(rest, &refs)?.remove(3);
        let mut script = String::from(super::safe_write::HEAD);
        if wants[1..].iter().any(|w| w.content.is_some())
            && keyrings.kind == super::file_fact::Kind::Absent
        {
            changes.insert(0, Change::new(format!("create directory {KEYRINGS}")));
            script.push_str(&super::safe_write::make_dir(
                KEYRINGS,
                Some("root"),
                Some("root"),
                Some(0o755),
            ));
            script.push('\n');
        }
        script.push_str(&cmds);
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
            run: Run::Script(script),
            writes: vec![Resource::Path(self.dest()), Resource::Path(KEYRINGS.into())],
            uncertain: false,
            result,
        })
    }
}

/// A field's place: the order of the argument names it came from.
fn arg_order(field: &str) -> String {
    match field {
        "X-Repolib-Name" => "name".into(),
        "URIs" => "uris".into(),
        f => f.to_lowercase().replace('-', "_"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::args::Args;
    use std::collections::HashMap;

    fn repo(args: Value) -> Deb822Repository {
        let map: Map<String, Value> = args.as_object().unwrap().clone();
        let args = Args {
            map: map.clone(),
            locs: HashMap::new(),
            key_locs: HashMap::new(),
            loc: crate::location::Location::new(&Arc::new("t.yml".into()), 1, 1),
        };
        Deb822Repository::build(&Getter::new(&map, &args)).unwrap()
    }

    const NONE: &str = "files\nabsent\t0\nabsent\t1\nabsent\t2\nabsent\t3\nstats\n";

    #[test]
    fn written_as_ansible_writes_it() {
        let r = repo(json!({
            "name": "PostgreSQL APT",
            "uris": "https://apt.postgresql.org/pub/repos/apt",
            "suites": ["bookworm-pgdg"],
            "components": ["main"],
            "signed_by": "https://www.postgresql.org/media/keys/ACCC4CF8.asc",
        }));
        assert_eq!(r.slug, "postgresql-apt");
        let key =
            "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQINBE\n-----END PGP PUBLIC KEY BLOCK-----\n";
        let facts = format!(
            "key\t{}\n{NONE}",
            base64::engine::general_purpose::STANDARD.encode(key)
        );
        let p = r.plan(&facts).unwrap();
        assert_eq!(
            p.result["repo"],
            "Components: main\nX-Repolib-Name: PostgreSQL APT\n\
             Signed-By: /etc/apt/keyrings/postgresql-apt.asc\nSuites: bookworm-pgdg\nTypes: deb\n\
             URIs: https://apt.postgresql.org/pub/repos/apt\n"
        );
        let s: Vec<_> = p.changes.iter().map(|c| c.summary.as_str()).collect();
        assert_eq!(
            s,
            [
                "create directory /etc/apt/keyrings",
                "create /etc/apt/sources.list.d/postgresql-apt.sources",
                "create /etc/apt/keyrings/postgresql-apt.asc"
            ]
        );
        assert!(
            r.plan("keyerr\tZmFpbA==\nfiles\n")
                .unwrap_err()
                .contains("fail")
        );
    }

    #[test]
    fn inline_key_and_absent() {
        let r = repo(json!({
            "name": "local", "uris": ["http://deb.example/"], "suites": "./", "enabled": false,
            "signed_by": "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nabc\n-----END PGP PUBLIC KEY BLOCK-----\n",
        }));
        let p = r.plan(NONE).unwrap();
        let text = p.result["repo"].as_str().unwrap().to_string();
        assert!(text.starts_with("Enabled: no\n"), "{text}");
        assert!(
            text.contains("Signed-By:\n    -----BEGIN PGP PUBLIC KEY BLOCK-----\n    .\n    abc\n"),
            "{text}"
        );
        // The same file on the host: nothing to do.
        let sum = crate::modules::copy::sha256_hex(text.as_bytes());
        let same = format!(
            "files\nabsent\t1\nabsent\t2\nabsent\t3\nstats\nstat\tregular file\t644\troot\troot\t0\t0\t1764000000\t\"/etc/apt/sources.list.d/local.sources\"\nsums\t 0\n{sum}  /etc/apt/sources.list.d/local.sources\n"
        );
        assert!(r.plan(&same).unwrap().changes.is_empty());
        let gone = repo(json!({"name": "local", "state": "absent"}));
        let p = gone.plan(&same).unwrap();
        assert_eq!(
            p.changes[0].summary,
            "remove /etc/apt/sources.list.d/local.sources"
        );
        assert!(gone.plan(NONE).unwrap().changes.is_empty());
    }
}
