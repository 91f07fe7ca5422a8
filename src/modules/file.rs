//! `file`: directories, links, removals, empty files, and attributes of existing paths.

use super::args::Getter;
use super::copy::{Copy, Entry, sha256_hex};
use super::file_fact::{self, FileFact, Kind, attr_changes};
use super::file_mode::{self, Mode};
use super::safe_batch::BatchOp;
use super::safe_write;
use super::{Change, Plan, Resource};
use crate::error::Result;
use std::sync::Arc;

#[derive(Debug, Clone)]
pub(crate) struct File {
    pub(crate) path: String,
    pub(crate) state: String,
    /// Octal or symbolic (`u=rwX,g=rX,o=`), resolved against each path's current mode.
    pub(crate) mode: Option<Mode>,
    pub(crate) owner: Option<String>,
    pub(crate) group: Option<String>,
    pub(crate) src: Option<String>,
    pub(crate) force: bool,
    /// `state: directory` with `recurse`: owner, group and mode also on everything below.
    pub(crate) recurse: bool,
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
        // `recurse` also lists the tree below: its own snippet.
        if self.recurse {
            return super::Need::Own;
        }
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
        let mode = match a.opt_str("mode")? {
            None => None,
            Some(m) => match file_mode::parse(&m) {
                Some(m) => Some(m),
                // Its error, for anything neither octal nor symbolic.
                None => a.opt_mode("mode")?.map(Mode::Octal),
            },
        };
        let recurse = a.bool("recurse", false)?;
        if recurse && state != "directory" {
            return Err(a.err("recurse", "`recurse` needs `state: directory`"));
        }
        Ok(File {
            path,
            state,
            mode,
            owner: super::safe_write::check_owner(a, "owner")?,
            group: super::safe_write::check_owner(a, "group")?,
            src,
            force: a.bool("force", false)?,
            recurse,
        })
    }

    /// With `recurse`, first the attributes of everything below the directory (links aside),
    /// counted per distinct kind/mode/owner/group: no names, so none can garble the output.
    pub(crate) fn probe(&self) -> String {
        let mut s = String::new();
        if self.recurse {
            let q = crate::shell::quote(&self.path);
            s.push_str(&format!(
                "if [ -d {q} ]; then find {q} -mindepth 1 ! -type l -printf '%y %m %U %G %u %g\\n' | LC_ALL=C sort | uniq -c | sed 's/^ */tree /'; fi\nprintf 'end\\n'\n"
            ));
        }
        s.push_str(&file_fact::probe(&[&self.path], &[]));
        s
    }

    /// The numeric mode wanted for a path whose mode is `cur`.
    fn want(&self, cur: u32, is_dir: bool) -> Option<u32> {
        self.mode.as_ref().map(|m| m.resolve(cur, is_dir))
    }

    pub(crate) fn plan(&self, facts: &str) -> std::result::Result<Plan, String> {
        let (tree, facts) = if self.recurse {
            facts
                .split_once("end\n")
                .ok_or_else(|| format!("unexpected probe output: {}", facts.trim()))?
        } else {
            ("", facts)
        };
        let fact = file_fact::parse(facts, &[&self.path])?.remove(0);
        let (mut words, mut cmds): (Vec<String>, Vec<String>) = (Vec::new(), Vec::new());
        // The one write made, as a loop's batch can make it.
        let mut batch = None;
        let attrs = |fact: &FileFact| {
            attr_changes(
                fact,
                &self.path,
                self.want(fact.mode, fact.kind == Kind::Dir),
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
                        self.want(0o755, true),
                    ));
                    batch = Some(BatchOp::Dir {
                        path: self.path.clone(),
                        owner: self.owner.clone(),
                        group: self.group.clone(),
                        mode: self.want(0o755, true),
                    });
                }
                Kind::Dir => {
                    (words, cmds) = attrs(&fact);
                    if self.recurse {
                        let (w, c) = self.below(tree)?;
                        words.extend(w);
                        cmds.extend(c);
                    }
                }
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
                        mode: self.want(0o644, false),
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
                    batch = writer.batch_op(&entry, None, false);
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
        Ok(Plan {
            batch,
            ..Plan::script(
                words.into_iter().map(Change::new).collect(),
                format!("{}{}\n", safe_write::HEAD, cmds.join("\n")),
                vec![Resource::Path(self.path.clone())],
            )
        })
    }
}

impl File {
    /// What `recurse` changes below the directory: one line per attribute, with how many
    /// paths it concerns, and the commands (run inside the directory, reached safely; never
    /// through a symlink: `chown -h`, and links are skipped).
    fn below(&self, tree: &str) -> std::result::Result<(Vec<String>, Vec<String>), String> {
        let (mut modes, mut owners, mut groups) = (0u64, 0u64, 0u64);
        for line in tree.lines() {
            let f: Vec<&str> = line.split(' ').collect();
            let bad = || format!("unexpected probe output: {line:?}");
            let ["tree", n, kind, mode, uid, gid, user, group] = f[..] else {
                return Err(bad());
            };
            let n: u64 = n.parse().map_err(|_| bad())?;
            let cur = u32::from_str_radix(mode, 8).map_err(|_| bad())?;
            if self.want(cur, kind == "d").is_some_and(|m| m != cur) {
                modes += n;
            }
            if self.owner.as_deref().is_some_and(|o| o != user && o != uid) {
                owners += n;
            }
            if self
                .group
                .as_deref()
                .is_some_and(|g| g != group && g != gid)
            {
                groups += n;
            }
        }
        let (mut words, mut cmds) = (Vec::new(), Vec::new());
        let q = crate::shell::quote;
        let find = |cmd: String| {
            format!(
                "( plumb_cd {}\nfind . -mindepth 1 ! -type l -exec {cmd} {{}} + )",
                q(&self.path)
            )
        };
        if let (Some(o), true) = (&self.owner, owners > 0) {
            words.push(format!(
                "{}: owner → {o} on {owners} paths below",
                self.path
            ));
            cmds.push(find(format!("chown -h -- {}", q(o))));
        }
        if let (Some(g), true) = (&self.group, groups > 0) {
            words.push(format!(
                "{}: group → {g} on {groups} paths below",
                self.path
            ));
            cmds.push(find(format!("chgrp -h -- {}", q(g))));
        }
        if let (Some(m), true) = (&self.mode, modes > 0) {
            let text = m.text();
            words.push(format!("{}: mode {text} on {modes} paths below", self.path));
            cmds.push(find(format!("chmod -- {}", q(&text))));
        }
        Ok((words, cmds))
    }

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
    use crate::modules::Run;

    // In the format of a recorded `stat` probe on Debian 12 (see file_fact's tests).
    const ABSENT: &str = "absent\t0\nstats\n";

    fn stat(kind: &str, mode: &str, target: &str) -> String {
        let n = if target.is_empty() {
            "\"/srv/app\"".to_string()
        } else {
            format!("\"/srv/app\" -> \"{target}\"")
        };
        format!("stats\nstat\t{kind}\t{mode}\troot\troot\t0\t0\t1764000000\t{n}\n")
    }

    fn file(state: &str, mode: Option<u32>, src: Option<&str>) -> File {
        File {
            path: "/srv/app".into(),
            state: state.into(),
            mode: mode.map(Mode::Octal),
            recurse: false,
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

    /// `recurse` with a symbolic mode, on a recorded tree: 3 files 0644 and a directory 0755
    /// owned by root; www-data wanted, `u=rwX,g=rX,o=`.
    #[test]
    fn recurse_counts_what_differs_below() {
        let f = File {
            mode: file_mode::parse("u=rwX,g=rX,o="),
            owner: Some("www-data".into()),
            recurse: true,
            ..file("directory", None, None)
        };
        let top = "stats\nstat\tdirectory\t750\twww-data\troot\t33\t0\t1764000000\t\"/srv/app\"\n";
        let tree =
            format!("tree 3 f 644 0 0 root root\ntree 1 d 755 33 0 www-data root\nend\n{top}");
        let p = f.plan(&tree).unwrap();
        let s: Vec<_> = p.changes.iter().map(|c| c.summary.as_str()).collect();
        assert_eq!(
            s,
            [
                "/srv/app: owner → www-data on 3 paths below",
                "/srv/app: mode u=rwX,g=rX,o= on 4 paths below"
            ]
        );
        let Run::Script(sc) = &p.run else { panic!() };
        assert!(
            sc.contains("find . -mindepth 1 ! -type l -exec chmod -- u=rwX,g=rX,o= {} + )"),
            "{sc}"
        );
        let done =
            format!("tree 3 f 640 33 0 www-data root\ntree 1 d 750 33 0 www-data root\nend\n{top}");
        assert!(f.plan(&done).unwrap().changes.is_empty());
        assert!(f.plan(top).is_err());
    }
}
#[cfg(test)]
mod local_probe {
    use super::*;
    #[test]
    fn recurse_probe_through_a_shell() {
        use crate::transport::Transport;
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/f"), "").unwrap();
        let f = File {
            path: dir.path().display().to_string(),
            state: "directory".into(),
            mode: file_mode::parse("u=rwX,g=rX,o="),
            owner: None,
            group: None,
            src: None,
            force: false,
            recurse: true,
        };
        let out = crate::transport::local::Local::new()
            .run(&f.probe(), None)
            .unwrap();
        let p = f
            .plan(&out.out)
            .unwrap_or_else(|e| panic!("{e}\n{}", out.out));
        assert!(!p.changes.is_empty());
    }
}
