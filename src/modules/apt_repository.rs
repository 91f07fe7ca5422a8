//! `apt_repository`: one one-line-style APT source (`deb [opts] URI SUITE COMPONENTS`) present
//! in, or absent from, the host's sources lists. Every `.list` file is read in the probe; a
//! line is added to `/etc/apt/sources.list.d/FILENAME.list` (written atomically, like `copy`)
//! and removed from whichever files hold it; the package cache is refreshed after a change.

use super::args::Getter;
use super::copy::Copy;
use super::file_fact::FileFact;
use super::textfile;
use super::{Plan, Resource, Run};
use crate::error::Result;
use base64::Engine;
use serde_json::{Value, json};

const DIR: &str = "/etc/apt/sources.list.d";

#[derive(Debug, Clone)]
pub(crate) struct AptRepository {
    /// The line as given, whitespace normalised.
    pub repo: String,
    pub present: bool,
    /// The file a new line goes to.
    pub path: String,
    pub update_cache: bool,
    pub writer: Copy,
}

super::plain_module!(AptRepository);

impl AptRepository {
    pub(crate) fn build(a: &Getter) -> Result<AptRepository> {
        let raw = a.str("repo")?;
        let repo = norm(&raw);
        if raw.contains('\n') {
            return Err(a.err("repo", "`repo` must be one line"));
        }
        if repo.starts_with("ppa:") {
            return Err(a.err(
                "repo",
                "PPAs are for Ubuntu's add-apt-repository; give the `deb …` line and the key",
            ));
        }
        let bare = strip_options(&repo);
        let words: Vec<&str> = bare.split_whitespace().collect();
        if !matches!(words.first(), Some(&"deb") | Some(&"deb-src")) || words.len() < 3 {
            return Err(a.err(
                "repo",
                format!("`{raw}` is not a source line (`deb [options] URI SUITE [COMPONENT…]`)"),
            ));
        }
        let name = match a.opt_str("filename")? {
            Some(f) => {
                if f.is_empty() || f.contains('/') || f.starts_with('.') {
                    return Err(a.err("filename", format!("`{f}` is not a file name")));
                }
                f
            }
            None => suggest_filename(&repo),
        };
        let path = format!("{DIR}/{name}.list");
        let writer = Copy {
            mode: Some(a.opt_mode("mode")?.unwrap_or(0o644)),
            ..Copy::writer(&path)
        };
        Ok(AptRepository {
            present: a.choice("state", &["present", "absent"], "present")? == "present",
            update_cache: a.bool("update_cache", true)? || a.bool("update-cache", false)?,
            repo,
            path,
            writer,
        })
    }

    pub(crate) fn reads(&self) -> Vec<Resource> {
        vec![Resource::Path("/etc/apt".into())]
    }

    /// The target file (stat and content), then every sources file as `list\tB64NAME\tB64TEXT`.
    pub(crate) fn probe(&self) -> String {
        format!(
            "{}for plumb_f in /etc/apt/sources.list {DIR}/*.list; do [ -f \"$plumb_f\" ] || continue; \
             printf 'list\\t'; printf '%s' \"$plumb_f\" | base64 -w0; printf '\\t'; base64 -w0 -- \"$plumb_f\"; printf '\\n'; done\n",
            textfile::probe(&self.path)
        )
    }

    pub(crate) fn plan(&self, facts: &str) -> std::result::Result<Plan, String> {
        let (lists, rest): (Vec<&str>, Vec<&str>) =
            facts.lines().partition(|l| l.starts_with("list\t"));
        let (fact, _) = textfile::read(&rest.join("\n"), &self.path)?;
        let b64 = |s: &str| -> std::result::Result<String, String> {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(s)
                .map_err(|e| format!("unexpected probe output: {e}"))?;
            String::from_utf8(bytes).map_err(|_| "a sources list is not UTF-8 text".to_string())
        };
        let mut files = Vec::new();
        for l in lists {
            let mut parts = l.split('\t').skip(1);
            let (Some(n), Some(t), None) = (parts.next(), parts.next(), parts.next()) else {
                return Err(format!("unexpected probe output: {l:?}"));
            };
            files.push((b64(n)?, b64(t)?));
        }
        let target_text = files
            .iter()
            .find(|(n, _)| *n == self.path)
            .map(|(_, t)| t.clone());
        if fact.kind == super::file_fact::Kind::File && target_text.is_none() {
            return Err(format!(
                "unexpected probe output: {} was not listed",
                self.path
            ));
        }
        let matches = |line: &str| norm(line.split('#').next().unwrap_or("")) == self.repo;
        let mut plan = if self.present {
            if files.iter().any(|(_, t)| t.lines().any(matches)) {
                Plan::ok()
            } else {
                let old = target_text.clone().unwrap_or_default();
                let mut new = old.clone();
                if !new.is_empty() && !new.ends_with('\n') {
                    new.push('\n');
                }
                new.push_str(&self.repo);
                new.push('\n');
                let exists = target_text.is_some();
                textfile::write_plan(
                    &self.writer,
                    exists.then_some(&fact),
                    new,
                    format!("add `{}` to {}", self.repo, self.path),
                )
            }
        } else {
            let mut script = String::from(super::safe_write::HEAD);
            let mut changes = Vec::new();
            for (name, text) in &files {
                if !text.lines().any(matches) {
                    continue;
                }
                let kept: String = text
                    .split_inclusive('\n')
                    .filter(|l| !matches(l.trim_end_matches(['\n', '\r'])))
                    .collect();
                let has_sources = kept.lines().any(|l| {
                    let w = l.split('#').next().unwrap_or("").trim_start();
                    w.starts_with("deb ") || w.starts_with("deb-src ")
                });
                if !has_sources && name != "/etc/apt/sources.list" {
                    changes.push(super::Change::new(format!(
                        "remove {name} (its only source was `{}`)",
                        self.repo
                    )));
                    script.push_str(&super::safe_write::remove(name));
                    script.push('\n');
                } else {
                    let w = Copy {
                        mode: None,
                        ..Copy::writer(name)
                    };
                    let f = if *name == self.path {
                        fact.clone()
                    } else {
                        root_file()
                    };
                    let p = textfile::write_plan(
                        &w,
                        Some(&f),
                        kept,
                        format!("remove `{}` from {name}", self.repo),
                    );
                    changes.extend(p.changes);
                    if let Run::Script(s) = p.run {
                        script.push_str(s.strip_prefix(super::safe_write::HEAD).unwrap_or(&s));
                    }
                }
            }
            if changes.is_empty() {
                Plan::ok()
            } else {
                Plan::script(changes, script, Vec::new())
            }
        };
        if !plan.changes.is_empty() {
            plan.writes = vec![Resource::Path("/etc/apt".into())];
            if self.update_cache
                && let Run::Script(s) = &mut plan.run
            {
                // Only a refreshed cache changes what apt would install.
                plan.writes.push(Resource::Path("/var/lib/apt".into()));
                s.push_str("apt-get -q -o DPkg::Lock::Timeout=60 update\n");
                plan.changes
                    .push(super::Change::new("update the package cache"));
            }
        }
        plan.result = match json!({"repo": self.repo, "state": if self.present {"present"} else {"absent"}, "sources_added": if self.present && !plan.changes.is_empty() {vec![self.path.clone()]} else {vec![]}})
        {
            Value::Object(m) => m,
            _ => unreachable!(),
        };
        Ok(plan)
    }
}

/// A sources file plumb rewrites without having stat'ed it: root's, 0644, as apt wants them.
fn root_file() -> FileFact {
    FileFact {
        kind: super::file_fact::Kind::File,
        mode: 0o644,
        owner: "root".into(),
        group: "root".into(),
        uid: "0".into(),
        gid: "0".into(),
        ..FileFact::absent()
    }
}

fn norm(line: &str) -> String {
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn strip_options(line: &str) -> String {
    match (line.find('['), line.find(']')) {
        (Some(a), Some(b)) if a < b => format!("{}{}", &line[..a], &line[b + 1..]),
        _ => line.to_string(),
    }
}

/// Ansible's default file name: the URI's host and path, without scheme and credentials,
/// every run of other characters as one `_` (`deb http://dl.example.com/apt/ stable main` →
/// `dl_example_com_apt`).
fn suggest_filename(line: &str) -> String {
    let line = strip_options(line);
    let uri = line
        .split_whitespace()
        .find(|w| *w != "deb" && *w != "deb-src")
        .unwrap_or("");
    let uri = uri.split_once("://").map_or(uri, |(_, r)| r);
    let uri = uri.rsplit_once('@').map_or(uri, |(_, r)| r);
    uri.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("_")
}

#[cfg(test)]
mod tests {
    use super::super::textfile::tests::{ABSENT, facts};
    use super::*;
    use crate::modules::args::Args;
    use serde_json::Map;
    use std::collections::HashMap;
    use std::sync::Arc;

    fn repo(args: Value) -> std::result::Result<AptRepository, String> {
        let map: Map<String, Value> = args.as_object().unwrap().clone();
        let args = Args {
            map: map.clone(),
            locs: HashMap::new(),
            key_locs: HashMap::new(),
            loc: crate::location::Location::new(&Arc::new("t.yml".into()), 1, 1),
        };
        AptRepository::build(&Getter::new(&map, &args)).map_err(|e| e.to_string())
    }

    fn list(name: &str, text: &str) -> String {
        let e = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        format!("list\t{}\t{}\n", e(name), e(text))
    }

    const LINE: &str = "deb [signed-by=/etc/apt/keyrings/pg.asc] http://apt.example.org/pub/repos/apt bookworm-pgdg main";
    const MAIN: &str = "deb http://deb.debian.org/debian bookworm main\n";

    #[test]
    fn file_names() {
        assert_eq!(suggest_filename(LINE), "apt_example_org_pub_repos_apt");
        assert_eq!(
            suggest_filename("deb https://user:pw@dl.example.com/linux/deb/ stable main"),
            "dl_example_com_linux_deb"
        );
        let r = repo(json!({"repo": LINE, "filename": "pgdg"})).unwrap();
        assert_eq!(r.path, "/etc/apt/sources.list.d/pgdg.list");
    }

    #[test]
    fn present_and_absent() {
        let r = repo(json!({"repo": LINE, "filename": "pgdg"})).unwrap();
        let path = "/etc/apt/sources.list.d/pgdg.list";
        // Missing: added to its file, then the cache updated.
        let p = r
            .plan(&format!("{ABSENT}{}", list("/etc/apt/sources.list", MAIN)))
            .unwrap();
        let words: Vec<&str> = p.changes.iter().map(|c| c.summary.as_str()).collect();
        assert_eq!(
            words,
            vec![
                format!("add `{LINE}` to {path}").as_str(),
                "update the package cache"
            ]
        );
        let cc = p.changes[0].content.as_ref().unwrap();
        assert_eq!(std::str::from_utf8(&cc.new).unwrap(), format!("{LINE}\n"));
        let Run::Script(s) = &p.run else { panic!() };
        assert!(
            s.ends_with("apt-get -q -o DPkg::Lock::Timeout=60 update\n"),
            "{s}"
        );
        assert!(s.contains("0644 /dev/fd/3"), "{s}");
        // Present anywhere (spacing aside): ok.
        let spaced = LINE.replace(' ', "  ");
        let f = format!("{}{}", facts(path, &spaced), list(path, &spaced));
        assert!(r.plan(&f).unwrap().changes.is_empty());
        let other = format!(
            "{ABSENT}{}",
            list("/etc/apt/sources.list", &format!("{MAIN}{LINE}\n"))
        );
        assert!(r.plan(&other).unwrap().changes.is_empty());
        // Absent: the file that only held it goes; another file keeps its other lines.
        let gone = repo(
            json!({"repo": LINE, "filename": "pgdg", "state": "absent", "update_cache": false}),
        )
        .unwrap();
        let p = gone
            .plan(&format!(
                "{}{}",
                facts(path, &format!("{LINE}\n")),
                list(path, &format!("{LINE}\n"))
            ))
            .unwrap();
        assert_eq!(
            p.changes[0].summary,
            format!("remove {path} (its only source was `{LINE}`)")
        );
        let p = gone.plan(&other).unwrap();
        assert_eq!(
            p.changes[0].summary,
            format!("remove `{LINE}` from /etc/apt/sources.list")
        );
        assert_eq!(
            std::str::from_utf8(&p.changes[0].content.as_ref().unwrap().new).unwrap(),
            MAIN
        );
        assert_eq!(p.changes.len(), 1);
        assert!(
            gone.plan(&format!("{ABSENT}{}", list("/etc/apt/sources.list", MAIN)))
                .unwrap()
                .changes
                .is_empty()
        );
    }

    #[test]
    fn errors() {
        let r = repo(json!({"repo": LINE})).unwrap();
        assert!(r.plan("").is_err());
        assert!(r.plan(&format!("{ABSENT}list\tnot base64!\n")).is_err());
        for bad in [
            json!({"repo": "ppa:x/y"}),
            json!({"repo": "http://x stable"}),
            json!({"repo": "deb http://x"}),
            json!({"repo": LINE, "filename": "../x"}),
            json!({"repo": LINE, "state": "maybe"}),
        ] {
            assert!(repo(bad.clone()).is_err(), "{bad}");
        }
    }
}
