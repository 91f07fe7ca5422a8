//! `copy` with `remote_src: true`: a file already on the host copied to `dest` on the host.
//! Both are read in the probe (stat and SHA-256, on the host); the copy is written as `copy`
//! writes, through a temp file in the target directory, with `cat` filling it. A directory
//! `src` is copied as a tree (see `copy_remote_tree`).

use super::args::Getter;
use super::copy::Copy;
use super::copy_remote_tree;
use super::file_fact::{self, Kind, attr_changes};
use super::{Change, Plan, Resource, safe_write};
use crate::error::Result;
use crate::shell::quote;
use serde_json::Value;

#[derive(Debug, Clone)]
pub(crate) struct RemoteCopy {
    /// An absolute path on the host; a directory's contents with a trailing `/`.
    pub(crate) src: String,
    /// `dest` (for a file `src`), `mode`, `owner`, `group`, `directory_mode`, `backup`,
    /// `validate`, `force`: as `copy` takes them.
    pub(crate) copy: Copy,
    /// Where a directory `src` goes: `dest/NAME`, or `dest` itself for `src: dir/`.
    pub(crate) top: String,
    /// `mode: preserve`: each file gets the mode of its source on the host.
    pub(crate) preserve: bool,
}

impl super::Module for RemoteCopy {
    fn probe(&self) -> Option<String> {
        let paths = self.paths();
        Some(copy_remote_tree::probe(paths[0], &self.top) + &file_fact::probe(&paths, &paths[..2]))
    }
    fn reads(&self) -> Vec<Resource> {
        self.paths()
            .into_iter()
            .map(|p| Resource::Path(p.to_string()))
            .collect()
    }
    fn plan(&self, facts: &str) -> std::result::Result<Plan, String> {
        RemoteCopy::plan(self, facts)
    }
}

impl RemoteCopy {
    pub(crate) fn build(a: &Getter) -> Result<RemoteCopy> {
        if a.has("content") {
            return Err(a.err(
                "content",
                "`remote_src` copies a file on the host: give `src`, not `content`",
            ));
        }
        let src = a.str("src")?;
        if !src.starts_with('/') {
            return Err(a.err(
                "src",
                "with `remote_src`, `src` is an absolute path on the host",
            ));
        }
        let dest_dir = a.opt_path("dest")?.expect("dest is present");
        let dest_dir = dest_dir.trim_end_matches('/');
        let name = src.trim_end_matches('/').rsplit('/').next().unwrap_or("");
        if name.is_empty() {
            return Err(a.err("src", "`src` names no file or directory"));
        }
        // `dest/` copies a file into that directory, under the source's name; a directory
        // goes under its name unless `src` ends with `/` (its contents), as in Ansible.
        let dest = if a.str("dest")?.ends_with('/') {
            format!("{dest_dir}/{name}")
        } else {
            dest_dir.to_string()
        };
        let top = if src.ends_with('/') {
            dest_dir.to_string()
        } else {
            format!("{dest_dir}/{name}")
        };
        let mut copy = Copy::writer(&dest);
        copy.directory_mode = a.opt_mode("directory_mode")?;
        let (mode, preserve) = super::copy::mode_arg(a)?;
        copy.mode = mode;
        copy.owner = safe_write::check_owner(a, "owner")?;
        copy.group = safe_write::check_owner(a, "group")?;
        copy.backup = a.bool("backup", false)?;
        copy.force = a.bool("force", true)?;
        copy.validate = a.opt_str("validate")?;
        if let Some(v) = &copy.validate
            && !v.contains("%s")
        {
            return Err(a.err(
                "validate",
                "`validate` must contain `%s` (where the new file's path goes)",
            ));
        }
        if a.has("validate_in_place") {
            return Err(a.err(
                "validate_in_place",
                "`validate_in_place` is not supported with `remote_src`",
            ));
        }
        Ok(RemoteCopy {
            src,
            copy,
            top,
            preserve,
        })
    }

    /// The source, the file destination and the tree's top (when it is another path).
    fn paths(&self) -> Vec<&str> {
        let mut p = vec![self.src.trim_end_matches('/'), self.copy.dest.as_str()];
        if self.top != self.copy.dest {
            p.push(&self.top);
        }
        p
    }

    pub(crate) fn plan(&self, facts: &str) -> std::result::Result<Plan, String> {
        let (trees, facts) = copy_remote_tree::split(facts)?;
        let paths = self.paths();
        let f = file_fact::parse(facts, &paths)?;
        let (src, dest) = (&f[0], &f[1]);
        let d = &self.copy.dest;
        let mut result = serde_json::Map::new();
        result.insert("src".into(), Value::String(self.src.clone()));
        match src.kind {
            Kind::File if self.src.ends_with('/') => {
                return Err(format!("{} is a file, not a directory", self.src));
            }
            Kind::File => {}
            Kind::Absent => return Err(format!("{} (`src`) does not exist on the host", self.src)),
            Kind::Dir => {
                let top_fact = f.last().expect("facts for every path");
                if !matches!(top_fact.kind, Kind::Absent | Kind::Dir) {
                    return Err(format!("{} exists and is not a directory", self.top));
                }
                let (changes, script) = copy_remote_tree::tree(
                    &self.copy,
                    &self.src,
                    &trees,
                    &self.top,
                    top_fact,
                    src.mode,
                    self.preserve,
                )?;
                result.insert("dest".into(), Value::String(self.top.clone()));
                if changes.is_empty() {
                    return Ok(Plan {
                        result,
                        ..Plan::ok()
                    });
                }
                return Ok(Plan {
                    result,
                    ..Plan::script(
                        changes,
                        format!("{}{script}", safe_write::HEAD),
                        vec![Resource::Path(self.top.clone())],
                    )
                });
            }
            _ => {
                return Err(format!(
                    "{} is not a regular file (a link: give the path it points to)",
                    self.src
                ));
            }
        }
        let src_sum = src
            .sha256
            .as_deref()
            .ok_or("the probe printed no checksum")?;
        let fill = format!("cat -- {} >&3\n", quote(&self.src));
        // `mode: preserve`: the source's mode, as probed.
        let preserved;
        let copy = match self.preserve {
            true => {
                let mut c = self.copy.clone();
                c.mode = Some(src.mode);
                preserved = c;
                &preserved
            }
            false => &self.copy,
        };
        let mut changes = Vec::new();
        let mut script = String::from(safe_write::HEAD);
        let attrs = |fact| {
            attr_changes(
                fact,
                d,
                copy.mode,
                copy.owner.as_deref(),
                copy.group.as_deref(),
            )
        };
        match dest.kind {
            Kind::Absent => {
                changes.push(Change::new(format!("create {d} (a copy of {})", self.src)));
                script.push_str(&copy.write_with(d, &fill, None));
            }
            Kind::File if dest.sha256.as_deref() != Some(src_sum) && copy.force => {
                let (words, _) = attrs(dest);
                let mut summary = format!("update {d} from {}", self.src);
                if !words.is_empty() {
                    summary = format!("{summary}; {}", words.join(", "));
                }
                changes.push(Change::new(summary));
                script.push_str(&copy.write_with(d, &fill, Some(dest)));
            }
            Kind::File => {
                let (words, cmds) = attrs(dest);
                changes.extend(words.into_iter().map(|w| Change::new(format!("{d}: {w}"))));
                for c in cmds {
                    script.push_str(&c);
                    script.push('\n');
                }
            }
            Kind::Dir => {
                return Err(format!(
                    "{d} is a directory; end `dest` with `/` to copy into it"
                ));
            }
            _ => return Err(format!("{d} exists and is not a regular file")),
        }
        result.insert("dest".into(), Value::String(d.clone()));
        if changes.is_empty() {
            return Ok(Plan {
                result,
                ..Plan::ok()
            });
        }
        Ok(Plan {
            result,
            ..Plan::script(changes, script, vec![Resource::Path(d.clone())])
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::Run;

    fn rc() -> RemoteCopy {
        let mut copy = Copy::writer("/etc/app.conf");
        copy.mode = Some(0o640);
        RemoteCopy {
            src: "/srv/app.conf".into(),
            copy,
            top: "/etc/app.conf".into(),
            preserve: false,
        }
    }

    /// A probe of /srv/app.conf and /etc/app.conf as recorded on Debian 12 (both 0644
    /// root:root), with these checksums.
    fn recorded(src: &str, dest: Option<&str>) -> String {
        let mut s = String::from("facts\n");
        if dest.is_none() {
            s.push_str("absent\t1\n");
        }
        s.push_str(
            "stats\nstat\tregular file\t644\troot\troot\t0\t0\t1764000000\t\"/srv/app.conf\"\n",
        );
        if dest.is_some() {
            s.push_str(
                "stat\tregular file\t644\troot\troot\t0\t0\t1764000000\t\"/etc/app.conf\"\n",
            );
        }
        match dest {
            Some(d) => s.push_str(&format!(
                "sums\t 0 1\n{src}  /srv/app.conf\n{d}  /etc/app.conf\n"
            )),
            None => s.push_str(&format!("sums\t 0\n{src}  /srv/app.conf\n")),
        }
        s
    }

    /// `mode: preserve` (dest's mode, src's 0644) → what the plan does with the mode.
    #[test]
    fn mode_preserve_takes_the_source_files_mode() {
        let a = "a".repeat(64);
        let mut r = rc();
        r.copy.mode = None;
        r.preserve = true;
        // Same content, dest 0644 like its source: nothing to do.
        let p = r.plan(&recorded(&a, Some(&a))).unwrap();
        assert!(p.changes.is_empty(), "{:?}", p.changes);
        // A new file gets the source's 0644.
        let p = r.plan(&recorded(&a, None)).unwrap();
        let Run::Script(s) = &p.run else { panic!() };
        assert!(s.contains("plumb_own '' '' 0644 /dev/fd/3"), "{s}");
        // Same content, dest 0600: back to the source's 0644.
        let facts = recorded(&a, Some(&a)).replace(
            "stat\tregular file\t644\troot\troot\t0\t0\t1764000000\t\"/etc/app.conf\"",
            "stat\tregular file\t600\troot\troot\t0\t0\t1764000000\t\"/etc/app.conf\"",
        );
        let p = r.plan(&facts).unwrap();
        assert_eq!(p.changes[0].summary, "/etc/app.conf: mode 0600 → 0644");
    }

    #[test]
    fn copies_on_the_host_by_checksum() {
        let (a, b) = ("a".repeat(64), "b".repeat(64));
        let p = rc().plan(&recorded(&a, None)).unwrap();
        assert_eq!(
            p.changes[0].summary,
            "create /etc/app.conf (a copy of /srv/app.conf)"
        );
        let Run::Script(s) = &p.run else { panic!() };
        assert!(
            s.contains("plumb_open .plumb-") && s.contains("cat -- /srv/app.conf >&3\n"),
            "{s}"
        );
        assert!(s.contains("plumb_own '' '' 0640 /dev/fd/3"), "{s}");
        assert!(s.contains("plumb_put ./app.conf /etc/app.conf )"), "{s}");
        let p = rc().plan(&recorded(&a, Some(&b))).unwrap();
        assert_eq!(
            p.changes[0].summary,
            "update /etc/app.conf from /srv/app.conf; mode 0644 → 0640"
        );
        // Same content: only the mode.
        let p = rc().plan(&recorded(&a, Some(&a))).unwrap();
        assert_eq!(p.changes.len(), 1);
        assert_eq!(p.changes[0].summary, "/etc/app.conf: mode 0644 → 0640");
        let mut same = rc();
        same.copy.mode = None;
        let p = same.plan(&recorded(&a, Some(&a))).unwrap();
        assert!(p.changes.is_empty());
        assert_eq!(p.result["dest"], "/etc/app.conf");
    }

    #[test]
    fn a_missing_source_or_a_file_in_the_trees_way_is_an_error() {
        let e = rc()
            .plan("facts\nabsent\t0\nabsent\t1\nstats\n")
            .unwrap_err();
        assert!(e.contains("does not exist on the host"), "{e}");
        let dir = "facts\nstats\nstat\tdirectory\t755\troot\troot\t0\t0\t1764000000\t\"/srv/app.conf\"\nstat\tregular file\t644\troot\troot\t0\t0\t1764000000\t\"/etc/app.conf\"\nsums\t 1\n".to_string()
            + &"a".repeat(64)
            + "  /etc/app.conf\n";
        // A directory whose copy would go where a file is.
        let e = rc().plan(&dir).unwrap_err();
        assert_eq!(e, "/etc/app.conf exists and is not a directory");
        assert!(rc().plan("").is_err());
    }

    /// The script, run here as the test's user on files in a temporary directory.
    #[test]
    fn the_script_copies_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display().to_string();
        std::fs::write(dir.path().join("src"), "hello\n").unwrap();
        let mut copy = Copy::writer(&format!("{d}/dest"));
        copy.mode = Some(0o600);
        let r = RemoteCopy {
            src: format!("{d}/src"),
            copy,
            top: format!("{d}/dest/src"),
            preserve: false,
        };
        let run = |s: &str| {
            let out = std::process::Command::new("/bin/sh")
                .arg("-c")
                .arg(s)
                .output()
                .unwrap();
            assert!(out.status.success(), "{out:?}");
            String::from_utf8(out.stdout).unwrap()
        };
        let facts = run(&super::super::Module::probe(&r).unwrap());
        let p = r.plan(&facts).unwrap();
        let Run::Script(s) = &p.run else { panic!() };
        run(s);
        assert_eq!(
            std::fs::read_to_string(dir.path().join("dest")).unwrap(),
            "hello\n"
        );
        use std::os::unix::fs::PermissionsExt;
        let m = std::fs::metadata(dir.path().join("dest")).unwrap();
        assert_eq!(m.permissions().mode() & 0o777, 0o600);
        let facts = run(&super::super::Module::probe(&r).unwrap());
        assert!(r.plan(&facts).unwrap().changes.is_empty());
    }

    /// A tree, copied here as the test's user: `src/` into `dest`, then converged, then one
    /// file changed on the source side.
    #[test]
    fn a_tree_is_copied_and_converges() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display().to_string();
        std::fs::create_dir_all(dir.path().join("rel/sub/deeper")).unwrap();
        std::fs::write(dir.path().join("rel/a.txt"), "a\n").unwrap();
        std::fs::write(dir.path().join("rel/sub/b.txt"), "b\n").unwrap();
        std::fs::create_dir_all(dir.path().join("out")).unwrap();
        std::fs::write(dir.path().join("out/extra"), "kept\n").unwrap();
        let mut copy = Copy::writer(&format!("{d}/out"));
        copy.directory_mode = Some(0o750);
        let r = RemoteCopy {
            src: format!("{d}/rel/"),
            copy,
            top: format!("{d}/out"),
            preserve: false,
        };
        let run = |s: &str| {
            let out = std::process::Command::new("/bin/sh")
                .arg("-c")
                .arg(s)
                .output()
                .unwrap();
            assert!(out.status.success(), "{out:?}");
            String::from_utf8(out.stdout).unwrap()
        };
        let probe = super::super::Module::probe(&r).unwrap();
        let p = r.plan(&run(&probe)).unwrap();
        let mut sums: Vec<String> = p
            .changes
            .iter()
            .map(|c| c.summary.replace(&d, "D"))
            .collect();
        sums.sort();
        assert_eq!(
            sums,
            [
                "D/out: mode 0755 → 0750",
                "create D/out/a.txt (a copy of D/rel/a.txt)",
                "create D/out/sub/b.txt (a copy of D/rel/sub/b.txt)",
                "create directory D/out/sub",
                "create directory D/out/sub/deeper",
            ],
            "{:?}",
            p.changes
        );
        let Run::Script(s) = &p.run else { panic!() };
        run(s);
        let read = |p: &str| std::fs::read_to_string(dir.path().join(p)).unwrap();
        assert_eq!(
            read("out/a.txt") + &read("out/sub/b.txt") + &read("out/extra"),
            "a\nb\nkept\n"
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &str| {
            std::fs::metadata(dir.path().join(p))
                .unwrap()
                .permissions()
                .mode()
                & 0o7777
        };
        assert_eq!(mode("out/sub/deeper"), 0o750);
        let p = r.plan(&run(&probe)).unwrap();
        assert!(p.changes.is_empty(), "{:?}", p.changes);
        std::fs::write(dir.path().join("rel/sub/b.txt"), "b2\n").unwrap();
        let p = r.plan(&run(&probe)).unwrap();
        let sums: Vec<String> = p
            .changes
            .iter()
            .map(|c| c.summary.replace(&d, "D"))
            .collect();
        assert_eq!(sums, ["update D/out/sub/b.txt from D/rel/sub/b.txt"]);
        // A link in the source is refused, by the probe's own words.
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("rel/link")).unwrap();
        let e = r.plan(&run(&probe)).unwrap_err();
        assert!(e.contains("not a file or a directory"), "{e}");
    }
}
