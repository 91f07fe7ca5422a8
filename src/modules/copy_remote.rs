//! `copy` with `remote_src: true`: a file already on the host copied to `dest` on the host.
//! Both are read in the probe (stat and SHA-256, on the host); the copy is written as `copy`
//! writes, through a temp file in the target directory, with `cat` filling it.

use super::args::Getter;
use super::copy::Copy;
use super::file_fact::{self, Kind, attr_changes};
use super::{Change, Plan, Resource, safe_write};
use crate::error::Result;
use crate::shell::quote;
use serde_json::Value;

#[derive(Debug, Clone)]
pub(crate) struct RemoteCopy {
    /// An absolute path on the host.
    pub(crate) src: String,
    /// `dest`, `mode`, `owner`, `group`, `backup`, `validate`, `force`: as `copy` takes them.
    pub(crate) copy: Copy,
}

impl super::Module for RemoteCopy {
    fn probe(&self) -> Option<String> {
        Some(file_fact::probe(&self.paths(), &self.paths()))
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
    fn need(&self) -> super::Need {
        let paths: Vec<String> = self.paths().into_iter().map(String::from).collect();
        super::Need::Files {
            sums: paths.clone(),
            paths,
        }
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
        let mut dest = a.opt_path("dest")?.expect("dest is present");
        // `dest/` copies into that directory, under the source's name.
        if a.str("dest")?.ends_with('/') {
            let name = src.trim_end_matches('/').rsplit('/').next().unwrap_or("");
            dest = format!("{}/{name}", dest.trim_end_matches('/'));
        }
        let mut copy = Copy::writer(&dest);
        copy.mode = a.opt_mode("mode")?;
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
        Ok(RemoteCopy { src, copy })
    }

    fn paths(&self) -> Vec<&str> {
        vec![self.src.as_str(), self.copy.dest.as_str()]
    }

    pub(crate) fn plan(&self, facts: &str) -> std::result::Result<Plan, String> {
        let f = file_fact::parse(facts, &self.paths())?;
        let (src, dest) = (&f[0], &f[1]);
        let d = &self.copy.dest;
        match src.kind {
            Kind::File => {}
            Kind::Absent => return Err(format!("{} (`src`) does not exist on the host", self.src)),
            Kind::Dir => {
                return Err(format!(
                    "{} is a directory: `remote_src` copies single files (copy a tree with `command: cp -a` and `creates`, or ship it with a local `src`)",
                    self.src
                ));
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
        let mut changes = Vec::new();
        let mut script = String::from(safe_write::HEAD);
        let attrs = |fact| {
            attr_changes(
                fact,
                d,
                self.copy.mode,
                self.copy.owner.as_deref(),
                self.copy.group.as_deref(),
            )
        };
        match dest.kind {
            Kind::Absent => {
                changes.push(Change::new(format!("create {d} (a copy of {})", self.src)));
                script.push_str(&self.copy.write_with(d, &fill, None));
            }
            Kind::File if dest.sha256.as_deref() != Some(src_sum) && self.copy.force => {
                let (words, _) = attrs(dest);
                let mut summary = format!("update {d} from {}", self.src);
                if !words.is_empty() {
                    summary = format!("{summary}; {}", words.join(", "));
                }
                changes.push(Change::new(summary));
                script.push_str(&self.copy.write_with(d, &fill, Some(dest)));
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
        let mut result = serde_json::Map::new();
        result.insert("src".into(), Value::String(self.src.clone()));
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
        }
    }

    /// A probe of /srv/app.conf and /etc/app.conf as recorded on Debian 12 (both 0644
    /// root:root), with these checksums.
    fn recorded(src: &str, dest: Option<&str>) -> String {
        let mut s = String::new();
        if dest.is_none() {
            s.push_str("absent\t1\n");
        }
        s.push_str("stats\nstat\tregular file\t644\troot\troot\t0\t0\t\"/srv/app.conf\"\n");
        if dest.is_some() {
            s.push_str("stat\tregular file\t644\troot\troot\t0\t0\t\"/etc/app.conf\"\n");
        }
        match dest {
            Some(d) => s.push_str(&format!(
                "sums\t 0 1\n{src}  /srv/app.conf\n{d}  /etc/app.conf\n"
            )),
            None => s.push_str(&format!("sums\t 0\n{src}  /srv/app.conf\n")),
        }
        s
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
    fn a_missing_or_directory_source_is_an_error() {
        let e = rc().plan("absent\t0\nabsent\t1\nstats\n").unwrap_err();
        assert!(e.contains("does not exist on the host"), "{e}");
        let dir = "stats\nstat\tdirectory\t755\troot\troot\t0\t0\t\"/srv/app.conf\"\nstat\tregular file\t644\troot\troot\t0\t0\t\"/etc/app.conf\"\nsums\t 1\n".to_string()
            + &"a".repeat(64)
            + "  /etc/app.conf\n";
        let e = rc().plan(&dir).unwrap_err();
        assert!(e.contains("is a directory"), "{e}");
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
}
