//! `file`: directories, links, removals, empty files, and attributes of existing paths.

use super::args::Getter;
use super::copy::{Copy, Entry, sha256_hex};
use super::file_fact::{self, FileFact, Kind, attr_changes};
use super::safe_write;
use super::{Change, Plan, Resource};
use crate::error::Result;
use std::sync::Arc;

#[derive(Debug, Clone)]
pub(crate) struct File {
    pub(crate) path: String,
    pub(crate) state: String,
    pub(crate) mode: Option<u32>,
    pub(crate) owner: Option<String>,
    pub(crate) group: Option<String>,
    pub(crate) src: Option<String>,
    pub(crate) force: bool,
}

impl super::Module for File {
    fn probe(&self) -> Option<String> {
        Some(File::probe(self))
    }
    fn reads(&self) -> Vec<Resource> {
        vec![Resource::Path(self.path.clone())]
    }
    fn plan(&self, facts: &str) -> std::result::Result<Plan, String> {
        File::plan(self, facts)
    }
    fn need(&self) -> super::Need {
        super::Need::Files {
            paths: vec![self.path.clone()],
            sums: vec![],
        }
    }
}

impl File {
    pub(crate) fn build(a: &Getter) -> Result<File> {
        let key = ["path", "dest", "name"]
            .into_iter()
            .find(|k| a.has(k))
            .unwrap_or("path");
        let path = a
            .opt_path(key)?
            .ok_or_else(|| a.err(key, "`path` is required"))?;
        let state = a.choice(
            "state",
            &["file", "directory", "absent", "link", "touch"],
            if a.has("src") { "link" } else { "file" },
        )?;
        let src = a.opt_str("src")?;
        if state == "link" && src.is_none() {
            return Err(a.err("state", "`state: link` needs `src` (the link's target)"));
        }
        Ok(File {
            path,
            state,
            mode: a.opt_mode("mode")?,
            owner: super::safe_write::check_owner(a, "owner")?,
            group: super::safe_write::check_owner(a, "group")?,
            src,
            force: a.bool("force", false)?,
        })
    }

    pub(crate) fn probe(&self) -> String {
        file_fact::probe(&[&self.path], &[])
    }

    pub(crate) fn plan(&self, facts: &str) -> std::result::Result<Plan, String> {
        let fact = file_fact::parse(facts, &[&self.path])?.remove(0);
        let (mut words, mut cmds): (Vec<String>, Vec<String>) = (Vec::new(), Vec::new());
        let attrs = |fact: &FileFact| {
            attr_changes(
                fact,
                &self.path,
                self.mode,
                self.owner.as_deref(),
                self.group.as_deref(),
            )
        };
        let describe = |k: &Kind| match k {
            Kind::File => "a file",
            Kind::Dir => "a directory",
            Kind::Link => "a symlink",
            Kind::Other => "a special file",
            Kind::Absent => "absent",
        };
        match self.state.as_str() {
            "absent" => {
                if fact.kind != Kind::Absent {
                    words.push(format!("remove {} {}", describe(&fact.kind), self.path));
                    cmds.push(safe_write::remove(&self.path));
                }
            }
            "directory" => match fact.kind {
                Kind::Absent => {
                    words.push(format!("create directory {}", self.path));
                    cmds.push(safe_write::make_dir(
                        &self.path,
                        self.owner.as_deref(),
                        self.group.as_deref(),
                        self.mode,
                    ));
                }
                Kind::Dir => (words, cmds) = attrs(&fact),
                ref k => {
                    return Err(format!(
                        "{} exists and is {}, not a directory",
                        self.path,
                        describe(k)
                    ));
                }
            },
            "file" => match fact.kind {
                Kind::Absent => {
                    return Err(format!(
                        "{} does not exist (`state: file` only changes attributes; use `state: touch` or `copy` to create it)",
                        self.path
                    ));
                }
                Kind::Link => self.link_attrs(&fact)?,
                _ => (words, cmds) = attrs(&fact),
            },
            "touch" => match fact.kind {
                Kind::Absent => {
                    words.push(format!("create empty file {}", self.path));
                    // Created like any other file: O_EXCL temp, attributes, rename.
                    let writer = Copy {
                        mode: self.mode,
                        owner: self.owner.clone(),
                        group: self.group.clone(),
                        ..Copy::writer(&self.path)
                    };
                    let entry = Entry {
                        dest: self.path.clone(),
                        content: Arc::new(Vec::new()),
                        sha256: sha256_hex(b""),
                    };
                    cmds.push(writer.write(&entry, None));
                }
                // An existing path is left as it is (touch is idempotent here).
                Kind::Link => self.link_attrs(&fact)?,
                _ => (words, cmds) = attrs(&fact),
            },
            "link" => {
                let src = self.src.as_deref().expect("checked in build");
                let make = safe_write::link(&self.path, src);
                match fact.kind {
                    Kind::Link if fact.target.as_deref() == Some(src) => {}
                    Kind::Link => {
                        words.push(format!(
                            "link {}: target {} → {}",
                            self.path,
                            fact.target.unwrap_or_default(),
                            src
                        ));
                        cmds.push(make);
                    }
                    Kind::Absent => {
                        words.push(format!("create link {} → {}", self.path, src));
                        cmds.push(make);
                    }
                    Kind::File | Kind::Other if self.force => {
                        words.push(format!("replace file {} with a link → {}", self.path, src));
                        cmds.push(make);
                    }
                    ref k => {
                        return Err(format!(
                            "{} exists and is {}; set `force: true` to replace it with a link",
                            self.path,
                            describe(k)
                        ));
                    }
                }
            }
            other => unreachable!("state {other} checked in build"),
        }
        if words.is_empty() {
            return Ok(Plan::ok());
        }
        Ok(Plan::script(
            words.into_iter().map(Change::new).collect(),
            format!("{}{}\n", safe_write::HEAD, cmds.join("\n")),
            vec![Resource::Path(self.path.clone())],
        ))
    }
}

impl File {
    /// `state: file`/`touch` on a symlink: nothing to do unless attributes are asked for, and
    /// those plumb refuses to set through the link (it would compare the link's own 0777 and
    /// act on the target).
    fn link_attrs(&self, fact: &FileFact) -> std::result::Result<(), String> {
        if self.mode.is_none() && self.owner.is_none() && self.group.is_none() {
            return Ok(());
        }
        Err(format!(
            "{} is a symlink (to {}); plumb does not set mode/owner/group through a symlink: set them on its target",
            self.path,
            fact.target.as_deref().unwrap_or("?")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // In the format of a recorded `stat` probe on Debian 12 (see file_fact's tests).
    const ABSENT: &str = "absent\t0\nstats\n";

    fn stat(kind: &str, mode: &str, target: &str) -> String {
        let n = if target.is_empty() {
            "\"/srv/app\"".to_string()
        } else {
            format!("\"/srv/app\" -> \"{target}\"")
        };
        format!("stats\nstat\t{kind}\t{mode}\troot\troot\t0\t0\t{n}\n")
    }

    fn file(state: &str, mode: Option<u32>, src: Option<&str>) -> File {
        File {
            path: "/srv/app".into(),
            state: state.into(),
            mode,
            owner: None,
            group: None,
            src: src.map(String::from),
            force: false,
        }
    }

    #[test]
    fn directory() {
        let d = file("directory", Some(0o755), None);
        let p = d.plan(ABSENT).unwrap();
        assert_eq!(p.changes[0].summary, "create directory /srv/app");
        assert!(
            d.plan(&stat("directory", "755", ""))
                .unwrap()
                .changes
                .is_empty()
        );
        let p = d.plan(&stat("directory", "700", "")).unwrap();
        assert_eq!(p.changes[0].summary, "mode 0700 → 0755");
        assert!(d.plan(&stat("regular file", "644", "")).is_err());
    }

    #[test]
    fn absent_and_link() {
        let a = file("absent", None, None);
        assert!(a.plan(ABSENT).unwrap().changes.is_empty());
        assert_eq!(
            a.plan(&stat(
                "symbolic link",
                "777",
                "/etc/nginx/sites-available/default"
            ))
            .unwrap()
            .changes[0]
                .summary,
            "remove a symlink /srv/app"
        );
        let l = file("link", None, Some("/opt/x"));
        assert!(
            l.plan(&stat("symbolic link", "777", "/opt/x"))
                .unwrap()
                .changes
                .is_empty()
        );
        assert_eq!(
            l.plan(&stat("symbolic link", "777", "/opt/y"))
                .unwrap()
                .changes[0]
                .summary,
            "link /srv/app: target /opt/y → /opt/x"
        );
        assert!(l.plan(&stat("regular file", "644", "")).is_err());
    }

    #[test]
    fn probe_errors_are_not_no_change() {
        let a = file("absent", None, None);
        assert!(a.plan("sh: 1: stat: not found").is_err());
    }
}
