//! `unarchive`: a tar (gz, xz, bz2, zst, plain) or zip archive unpacked into an existing
//! directory with the host's `tar` or `unzip`.
//!
//! Idempotence as in Ansible: `creates` that exists means done; otherwise the archive is
//! compared with `dest` member by member (`tar --compare` checks content, size, mode and
//! mtime; a zip member is compared byte for byte with `unzip -p | cmp`). For `remote_src` the
//! probe does the comparison, so the plan is exact. A `src` on the control machine is not on
//! the host until applied: the plan says `may-change` and the apply script uploads it, compares
//! and unpacks only when something differs.

use super::args::Getter;
use super::get_url::Fetch;
use super::{BuildCtx, Change, Plan, Resource, Run};
use crate::error::{Error, Result};
use crate::shell::quote;
use base64::Engine;
use serde_json::{Map, json};
use std::sync::Arc;

#[derive(Debug, Clone)]
pub(crate) enum Source {
    /// The archive's bytes, read on the control machine.
    Local(Arc<Vec<u8>>),
    Remote(String),
    Url(Fetch),
}

#[derive(Debug, Clone)]
pub(crate) struct Unarchive {
    pub(crate) src: Source,
    src_name: String,
    pub(crate) dest: String,
    pub(crate) creates: Option<String>,
    pub(crate) extra_opts: Vec<String>,
    pub(crate) owner: Option<String>,
    pub(crate) group: Option<String>,
    pub(crate) mode: Option<String>,
    pub(crate) exclude: Vec<String>,
    pub(crate) keep_newer: bool,
}

super::plain_module!(Unarchive);

impl Unarchive {
    pub(crate) fn build(a: &Getter, ctx: &BuildCtx) -> Result<Unarchive> {
        let src_name = a.str("src")?;
        let remote = match (a.opt_bool("remote_src")?, a.opt_bool("copy")?) {
            (Some(r), _) => r,
            (None, Some(c)) => !c,
            (None, None) => false,
        };
        let is_url = src_name.contains("://");
        let src = if is_url {
            Source::Url(Fetch::build(a, "src")?)
        } else if remote {
            if !src_name.starts_with('/') {
                return Err(a.err("src", "with `remote_src`, `src` must be an absolute path"));
            }
            Source::Remote(src_name.clone())
        } else {
            let path = super::copy::resolve_src(ctx.base_dir(), ctx.role_dir(), &src_name, false)
                .ok_or_else(|| a.err("src", format!("archive `{src_name}` not found")))?;
            Source::Local(Arc::new(crate::vault::read(&path)?))
        };
        let dest = a
            .opt_path("dest")?
            .ok_or_else(|| a.err("dest", "`unarchive` needs `dest`"))?;
        let mode = match a.opt_str("mode")? {
            None => None,
            Some(m) if super::file_mode::parse(&m).is_some() => Some(m),
            Some(m) => return Err(a.err("mode", format!("`mode: {m}` is not a file mode"))),
        };
        for k in ["list_files", "decrypt", "validate_certs"] {
            let _ = a.raw(k);
        }
        let include = a.list("include")?;
        if !include.is_empty() {
            return Err(Error::input(a.loc("include"), "`include` is not supported"));
        }
        Ok(Unarchive {
            src,
            src_name,
            dest,
            creates: a.opt_str("creates")?,
            extra_opts: a.list("extra_opts")?,
            owner: super::safe_write::check_owner(a, "owner")?,
            group: super::safe_write::check_owner(a, "group")?,
            mode,
            exclude: a.list("exclude")?,
            keep_newer: a.bool("keep_newer", false)?,
        })
    }

    pub(crate) fn reads(&self) -> Vec<Resource> {
        let mut r = vec![Resource::Path(self.dest.clone())];
        if let Some(c) = &self.creates {
            r.push(Resource::Path(c.clone()));
        }
        if let Source::Remote(s) = &self.src {
            r.push(Resource::Path(s.clone()));
        }
        r
    }

    /// tar's options after the archive: `-C dest`, excludes, the user's `extra_opts`.
    fn tar_opts(&self) -> String {
        let mut s = format!("-C {}", quote(&self.dest));
        for e in &self.exclude {
            s.push_str(&format!(" --exclude={}", quote(e)));
        }
        for o in &self.extra_opts {
            s.push(' ');
            s.push_str(&quote(o));
        }
        s
    }

    /// Shell defining `plumb_differs A`: prints what differs between archive A and `dest`
    /// (nothing when the same) and fails when the archive cannot be read; and `plumb_unpack A`.
    fn functions(&self) -> String {
        let opts = self.tar_opts();
        let d = quote(&self.dest);
        let x: String = self
            .exclude
            .iter()
            .map(|e| format!(" -x {}", quote(e)))
            .collect();
        // A member whose name `--strip-components` empties is `tar: : …`: not a difference.
        // tar --compare reports differing owners too; when the task sets them they are
        // compared separately below, as tar would otherwise differ on every run.
        let mut ignore = String::from("Uid differs|Gid differs");
        if self.mode.is_some() {
            ignore.push_str("|Mode differs");
        }
        let keep = if self.keep_newer {
            " --keep-newer-files"
        } else {
            ""
        };
        let attrs = {
            let mut f = String::new();
            if let Some(o) = &self.owner {
                f.push_str(&format!(" ! -user {}", quote(o)));
            }
            if let Some(g) = &self.group {
                f.push_str(&format!(" -o ! -group {}", quote(g)));
            }
            f.trim_start_matches(" -o").to_string()
        };
        let own = format!(
            "plumb_members \"$1\" | while IFS= read -r m; do [ -e \"$m\" ] || [ -L \"$m\" ] || continue; find \"$m\" -maxdepth 0 \\({attrs} \\) -printf 'owner differs: %p\\n'; done"
        );
        format!(
            "plumb_zip() {{ case $(head -c 2 -- \"$1\") in PK) return 0;; esac; return 1; }}\n\
             plumb_members() {{ if plumb_zip \"$1\"; then unzip -Z1 -- \"$1\"{x}; else tar -tf \"$1\" {opts}; fi | ( cd -- {d} && while IFS= read -r m; do [ -n \"$m\" ] && printf '%s\\n' \"$PWD/${{m%/}}\"; done ); }}\n\
             plumb_differs() {{\n\
             \x20 if plumb_zip \"$1\"; then\n\
             \x20   command -v unzip >/dev/null || plumb_die 'unzip is not installed on the host (needed for %s)' {src}\n\
             \x20   unzip -Z1 -- \"$1\"{x} >/dev/null || plumb_die '%s: not a readable zip archive' {src}\n\
             \x20   unzip -Z1 -- \"$1\"{x} | while IFS= read -r m; do case $m in */) [ -d {d}/\"$m\" ] || echo \"$m: missing directory\";; *) unzip -p -- \"$1\" \"$m\" | cmp -s - {d}/\"$m\" || echo \"$m: contents differ\";; esac; done\n\
             \x20 else\n\
             \x20   tar -tf \"$1\" >/dev/null || plumb_die '%s: not a readable archive' {src}\n\
             \x20   LC_ALL=C tar --compare -f \"$1\" {opts} 2>&1 | grep -Ev -e ': ({ignore})$' -e '^tar: : ' || true\n\
             \x20 fi\n\
             {own_line}\
             }}\n\
             plumb_unpack() {{\n\
             \x20 if plumb_zip \"$1\"; then unzip -o -q -- \"$1\"{x} -d {d}; else tar -xf \"$1\"{keep} {opts}; fi\n\
             {fix}\
             }}\n",
            src = quote(&self.src_name),
            own_line = if attrs.is_empty() {
                String::new()
            } else {
                format!("  {own}\n")
            },
            fix = self.fix_attrs(),
        )
    }

    /// Owner, group and mode set on every member unpacked (never through a symlink).
    fn fix_attrs(&self) -> String {
        let mut s = String::new();
        if self.owner.is_some() || self.group.is_some() {
            let og = format!(
                "{}{}",
                self.owner.as_deref().unwrap_or(""),
                self.group
                    .as_deref()
                    .map(|g| format!(":{g}"))
                    .unwrap_or_default()
            );
            s.push_str(&format!(
                "  plumb_members \"$1\" | while IFS= read -r m; do [ -L \"$m\" ] || chown -- {} \"$m\"; done\n",
                quote(&og)
            ));
        }
        if let Some(m) = &self.mode {
            s.push_str(&format!(
                "  plumb_members \"$1\" | while IFS= read -r m; do [ -L \"$m\" ] || chmod -- {} \"$m\"; done\n",
                quote(m)
            ));
        }
        s
    }

    /// `dest\tdir|absent|other`, `creates\tyes|no`, and for a remote archive what differs
    /// (base64, one line) or why it could not be read.
    pub(crate) fn probe(&self) -> String {
        let d = quote(&self.dest);
        let mut s = format!(
            "if [ -d {d} ]; then echo 'dest\tdir'; elif [ -e {d} ]; then echo 'dest\tother'; else echo 'dest\tabsent'; fi\n"
        );
        if let Some(c) = &self.creates {
            let c = quote(c);
            s.push_str(&format!(
                "if [ -e {c} ] || [ -L {c} ]; then echo 'creates\tyes'; else echo 'creates\tno'; fi\n"
            ));
        }
        if let Source::Remote(src) = &self.src {
            let q = quote(src);
            s.push_str(&format!(
                "if [ ! -f {q} ]; then echo 'src\tabsent'; elif [ -d {d} ]; then ( plumb_die() {{ _f=$1; shift; printf \"plumb: $_f\\n\" \"$@\" >&2; exit 1; }}\n{}\
                 out=$(plumb_differs {q} 2>&1) && printf 'differs\\t%s\\n' \"$(printf '%s' \"$out\" | base64 -w0)\" || printf 'error\\t%s\\n' \"$(printf '%s' \"$out\" | base64 -w0)\" ); fi\n",
                self.functions()
            ));
        }
        s
    }

    pub(crate) fn plan(&self, facts: &str) -> std::result::Result<Plan, String> {
        let (mut dest, mut creates, mut differs, mut src_absent) = (None, None, None, false);
        let b64 = |v: &str| {
            base64::engine::general_purpose::STANDARD
                .decode(v)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .map_err(|e| format!("unexpected probe output: {e}"))
        };
        for line in facts.lines() {
            match line.split_once('\t') {
                Some(("dest", v)) => dest = Some(v.to_string()),
                Some(("creates", v)) => creates = Some(v == "yes"),
                Some(("src", "absent")) => src_absent = true,
                Some(("differs", v)) => differs = Some(b64(v)?),
                Some(("error", v)) => return Err(b64(v)?.trim().to_string()),
                _ => return Err(format!("unexpected probe output: {line:?}")),
            }
        }
        let dest = dest.ok_or_else(|| format!("unexpected probe output: {facts:?}"))?;
        let mut result = Map::new();
        result.insert("dest".into(), json!(self.dest));
        result.insert("src".into(), json!(self.src_name));
        if creates == Some(true) {
            return Ok(Plan {
                result,
                ..Plan::ok()
            });
        }
        match dest.as_str() {
            "dir" => {}
            "absent" => return Err(format!("dest '{}' must be an existing dir", self.dest)),
            _ => return Err(format!("dest '{}' is not a directory", self.dest)),
        }
        if src_absent {
            return Err(format!("Source '{}' does not exist", self.src_name));
        }
        let what = |why: &str| format!("unpack {} into {}{why}", self.src_name, self.dest);
        let (summary, uncertain) = match &self.src {
            Source::Remote(_) => {
                let d = differs.ok_or_else(|| format!("unexpected probe output: {facts:?}"))?;
                let lines: Vec<&str> = d.lines().filter(|l| !l.is_empty()).collect();
                if lines.is_empty() {
                    return Ok(Plan {
                        result,
                        ..Plan::ok()
                    });
                }
                let first = lines[0].trim_start_matches(&self.dest).to_string();
                let more = if lines.len() > 1 {
                    format!(" and {} more", lines.len() - 1)
                } else {
                    String::new()
                };
                (what(&format!(" ({first}{more})")), false)
            }
            Source::Local(..) => (what(" (compared on the host when applied)"), true),
            Source::Url(_) => (
                what(" (downloaded and compared on the host when applied)"),
                true,
            ),
        };
        Ok(Plan {
            batch: None,
            starts: None,
            changes: vec![Change::new(summary)],
            run: Run::Script(self.script()),
            writes: vec![Resource::Path(self.dest.clone())],
            uncertain,
            result,
        })
    }

    fn script(&self) -> String {
        let mut s = format!("{}{}", super::safe_write::HEAD, self.functions());
        let archive = match &self.src {
            Source::Remote(p) => quote(p),
            Source::Local(data) => {
                s.push_str(
                    "a=$(mktemp)\ntrap 'rm -f -- \"$a\"' EXIT\nbase64 -d > \"$a\" <<'PLUMB_EOF'\n",
                );
                let b64 = base64::engine::general_purpose::STANDARD.encode(data.as_slice());
                for chunk in b64.as_bytes().chunks(76) {
                    s.push_str(std::str::from_utf8(chunk).expect("base64 is ascii"));
                    s.push('\n');
                }
                s.push_str("PLUMB_EOF\n");
                "\"$a\"".into()
            }
            Source::Url(f) => {
                s.push_str(&format!(
                    "a=$(mktemp)\ntrap 'rm -f -- \"$a\"' EXIT\n{{ {}; }} > \"$a\" || plumb_die 'download of %s failed' {}\n",
                    f.command(),
                    quote(&f.url)
                ));
                "\"$a\"".into()
            }
        };
        if matches!(self.src, Source::Remote(_)) {
            s.push_str(&format!("plumb_unpack {archive}\n"));
        } else {
            s.push_str(&format!(
                "out=$(plumb_differs {archive})\nif [ -z \"$out\" ]; then echo plumb-unchanged; exit 0; fi\nplumb_unpack {archive}\n"
            ));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn un(src: Source) -> Unarchive {
        Unarchive {
            src,
            src_name: "/tmp/app.tar.gz".into(),
            dest: "/srv/app".into(),
            creates: Some("/srv/app/bin".into()),
            extra_opts: vec!["--strip-components=1".into()],
            owner: Some("www-data".into()),
            group: None,
            mode: None,
            exclude: vec![],
            keep_newer: false,
        }
    }

    fn b(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    #[test]
    fn creates_means_done() {
        let u = un(Source::Remote("/tmp/app.tar.gz".into()));
        let p = u.plan("dest\tdir\ncreates\tyes\n").unwrap();
        assert!(p.changes.is_empty());
        assert_eq!(p.result["dest"], "/srv/app");
    }

    /// Recorded from `tar --compare` on Debian 12 after a file of the archive was edited.
    #[test]
    fn remote_archive_compared_in_the_probe() {
        let u = un(Source::Remote("/tmp/app.tar.gz".into()));
        let same = format!("dest\tdir\ncreates\tno\ndiffers\t{}\n", b(""));
        assert!(u.plan(&same).unwrap().changes.is_empty());
        let d = format!(
            "dest\tdir\ncreates\tno\ndiffers\t{}\n",
            b("app/index.html: Contents differ\napp/index.html: Mod time differs\n")
        );
        let p = u.plan(&d).unwrap();
        assert_eq!(
            p.changes[0].summary,
            "unpack /tmp/app.tar.gz into /srv/app (app/index.html: Contents differ and 1 more)"
        );
        assert!(!p.uncertain);
        let Run::Script(s) = &p.run else { panic!() };
        assert!(
            s.contains("tar -xf \"$1\" -C /srv/app --strip-components=1"),
            "{s}"
        );
        assert!(s.contains("chown -- www-data"), "{s}");
        assert!(s.ends_with("plumb_unpack /tmp/app.tar.gz\n"), "{s}");
    }

    #[test]
    fn local_archive_is_compared_when_applied() {
        let u = un(Source::Local(Arc::new(b"\x1f\x8b".to_vec())));
        let p = u.plan("dest\tdir\ncreates\tno\n").unwrap();
        assert!(p.uncertain);
        let Run::Script(s) = &p.run else { panic!() };
        assert!(s.contains("H4s=\nPLUMB_EOF\n"), "{s}");
        assert!(s.contains("then echo plumb-unchanged; exit 0; fi"), "{s}");
    }

    #[test]
    fn errors_are_never_no_change() {
        let u = un(Source::Remote("/tmp/app.tar.gz".into()));
        let e = u
            .plan("dest\tabsent\ncreates\tno\nsrc\tabsent\n")
            .unwrap_err();
        assert_eq!(e, "dest '/srv/app' must be an existing dir");
        let e = u.plan("dest\tdir\ncreates\tno\nsrc\tabsent\n").unwrap_err();
        assert_eq!(e, "Source '/tmp/app.tar.gz' does not exist");
        let err = format!(
            "dest\tdir\ncreates\tno\nerror\t{}\n",
            b("plumb: not a readable archive")
        );
        assert!(u.plan(&err).is_err());
        assert!(u.plan("dest\tdir\ncreates\tno\n").is_err());
        assert!(u.plan("").is_err());
    }

    /// The probe and script through a local shell, with the machine's own tar: unpacked once,
    /// then the same.
    #[test]
    fn unpacks_then_compares_equal() {
        use crate::transport::Transport;
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display().to_string();
        std::fs::create_dir_all(dir.path().join("src/app-1.0/bin")).unwrap();
        std::fs::write(dir.path().join("src/app-1.0/bin/run"), "#!/bin/sh\n").unwrap();
        std::fs::write(dir.path().join("src/app-1.0/README"), "hi\n").unwrap();
        std::fs::create_dir_all(dir.path().join("dest")).unwrap();
        let mut t = crate::transport::local::Local::new();
        let out = t
            .run(&format!("cd {d}/src && tar -czf ../app.tgz app-1.0"), None)
            .unwrap();
        assert_eq!(out.code, 0, "{}", out.all());
        let u = Unarchive {
            src: Source::Remote(format!("{d}/app.tgz")),
            src_name: format!("{d}/app.tgz"),
            dest: format!("{d}/dest"),
            creates: None,
            extra_opts: vec!["--strip-components=1".into()],
            owner: None,
            group: None,
            mode: None,
            exclude: vec![],
            keep_newer: false,
        };
        let facts = t.run(&u.probe(), None).unwrap().out;
        let p = u.plan(&facts).unwrap();
        assert_eq!(p.changes.len(), 1, "{facts}");
        let Run::Script(s) = &p.run else { panic!() };
        let out = t.run(s, None).unwrap();
        assert_eq!(out.code, 0, "{}", out.all());
        assert!(dir.path().join("dest/bin/run").exists());
        let facts = t.run(&u.probe(), None).unwrap().out;
        assert!(u.plan(&facts).unwrap().changes.is_empty(), "{facts}");
        std::fs::write(dir.path().join("dest/README"), "changed\n").unwrap();
        let facts = t.run(&u.probe(), None).unwrap().out;
        let p = u.plan(&facts).unwrap();
        assert!(
            p.changes[0].summary.contains("README"),
            "{}",
            p.changes[0].summary
        );
    }
}
