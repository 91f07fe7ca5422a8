//! `copy` and `template`: files (or a directory tree) with the given content, written
//! atomically: temp file in the target directory, mode and owner set, synced, renamed.

use super::args::Getter;
use super::file_fact::{self, FileFact, Kind, attr_changes};
use super::safe_batch::BatchOp;
use super::safe_write;
use super::{BuildCtx, Change, ContentChange, Plan, Resource};
use crate::error::{Error, Result};
use crate::location::Location;
use crate::shell::quote;
use base64::Engine;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) dest: String,
    pub(crate) content: Arc<Vec<u8>>,
    pub(crate) sha256: String,
}

#[derive(Debug, Clone)]
pub(crate) struct Copy {
    /// The `dest` argument (a file, or the top directory of a tree).
    pub(crate) dest: String,
    /// Directories to create first (tree copies), parents before children.
    pub(crate) dirs: Vec<String>,
    pub(crate) entries: Vec<Entry>,
    pub(crate) mode: Option<u32>,
    pub(crate) directory_mode: Option<u32>,
    pub(crate) owner: Option<String>,
    pub(crate) group: Option<String>,
    pub(crate) backup: bool,
    pub(crate) validate: Option<String>,
    /// A check that only works with the file in place (`nginx -t`): run after the rename; on
    /// failure the previous file is put back and the task fails with the check's output.
    pub(crate) validate_in_place: Option<String>,
    pub(crate) force: bool,
}

// Beside the source files it hashes, which this file imports.
pub(crate) use super::source_files::sha256_hex;

/// `mode`: an octal mode, or `preserve` (true: the source file's, as Ansible's `copy` and
/// `template` take it).
pub(crate) fn mode_arg(a: &Getter) -> Result<(Option<u32>, bool)> {
    match a.opt_str("mode")?.as_deref().map(str::trim) {
        Some("preserve") => Ok((None, true)),
        _ => Ok((a.opt_mode("mode")?, false)),
    }
}

/// A local file's permission bits (setuid, setgid and sticky included, as Ansible's
/// `stat.S_IMODE`).
fn source_mode(path: &Path) -> Result<u32> {
    use std::os::unix::fs::PermissionsExt;
    let m = std::fs::metadata(path).map_err(Error::with_path(path))?;
    Ok(m.permissions().mode() & 0o7777)
}

/// Finds a local `src` the way Ansible does: in the task's role's `templates/` or `files/`
/// folder and the role itself, then relative to the playbook's directory, then in its
/// `templates/` or `files/` folder.
pub(crate) fn resolve_src(
    base: &Path,
    role: Option<&Path>,
    src: &str,
    template: bool,
) -> Option<PathBuf> {
    let p = Path::new(src);
    if p.is_absolute() {
        return p.exists().then(|| p.to_path_buf());
    }
    src_candidates(base, role, src, template)
        .into_iter()
        .find(|c| c.exists())
}

/// Where a relative `src` is looked for, in order; `./` is left off so messages read cleanly.
fn src_candidates(base: &Path, role: Option<&Path>, src: &str, template: bool) -> Vec<PathBuf> {
    let sub = if template { "templates" } else { "files" };
    let mut c = Vec::new();
    if let Some(r) = role {
        c.push(crate::paths::under(r, Path::new(sub).join(src)));
        c.push(crate::paths::under(r, src));
    }
    c.push(crate::paths::under(base, src));
    c.push(crate::paths::under(base, Path::new(sub).join(src)));
    c
}

impl super::Module for Copy {
    fn probe(&self) -> Option<String> {
        Some(Copy::probe(self))
    }
    fn reads(&self) -> Vec<Resource> {
        vec![Resource::Path(self.dest.clone())]
    }
    fn plan(&self, facts: &str) -> std::result::Result<Plan, String> {
        Copy::plan(self, facts)
    }
    fn need(&self) -> super::Need {
        super::Need::Files {
            paths: self
                .dirs
                .iter()
                .cloned()
                .chain(self.entries.iter().map(|e| e.dest.clone()))
                .collect(),
            sums: self.entries.iter().map(|e| e.dest.clone()).collect(),
        }
    }
}

impl Copy {
    /// Writes one file at `dest`, with nothing else set: for modules that compute a file's
    /// content themselves and set what they need on top.
    pub(crate) fn writer(dest: &str) -> Copy {
        Copy {
            dest: dest.to_string(),
            dirs: Vec::new(),
            entries: Vec::new(),
            mode: None,
            directory_mode: None,
            owner: None,
            group: None,
            backup: false,
            validate: None,
            validate_in_place: None,
            force: true,
        }
    }

    pub(crate) fn build(a: &Getter, ctx: &BuildCtx, template: bool) -> Result<Copy> {
        let dest_raw = a.str("dest")?;
        let dest = a.opt_path("dest")?.expect("dest is present");
        let (mode, preserve) = mode_arg(a)?;
        let mut c = Copy {
            dest: dest.clone(),
            dirs: Vec::new(),
            entries: Vec::new(),
            mode,
            directory_mode: if template {
                None
            } else {
                a.opt_mode("directory_mode")?
            },
            owner: safe_write::check_owner(a, "owner")?,
            group: safe_write::check_owner(a, "group")?,
            backup: a.bool("backup", false)?,
            validate: a.opt_str("validate")?,
            validate_in_place: a.opt_str("validate_in_place")?,
            force: a.bool("force", true)?,
        };
        if let Some(v) = &c.validate
            && !v.contains("%s")
        {
            return Err(a.err(
                "validate",
                "`validate` must contain `%s` (where the new file's path goes)",
            ));
        }
        let into_dir = dest_raw.ends_with('/');
        let add = |c: &mut Copy, dest: String, content: Vec<u8>| {
            let sha256 = sha256_hex(&content);
            c.entries.push(Entry {
                dest,
                content: Arc::new(content),
                sha256,
            });
        };
        if let Some(content) = a.opt_str("content")?.filter(|_| !template) {
            if a.has("src") {
                return Err(a.err("content", "give either `src` or `content`, not both"));
            }
            if into_dir {
                return Err(a.err(
                    "dest",
                    "with `content`, `dest` must be a file path, not a directory",
                ));
            }
            if preserve {
                return Err(a
                    .err("mode", "`mode: preserve` with `content`: there is no source file to take the mode of")
                    .with_hint("give the mode itself, like \"0644\""));
            }
            add(&mut c, dest, content.into_bytes());
            return Ok(c);
        }
        let src = a.str("src")?;
        let Some(path) = resolve_src(ctx.base_dir(), ctx.role_dir(), &src, template) else {
            let what = if template { "template" } else { "file" };
            let hint = if Path::new(&src).is_absolute() {
                format!("no such file: {src}")
            } else {
                let c: Vec<String> = src_candidates(ctx.base_dir(), ctx.role_dir(), &src, template)
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect();
                let (last, rest) = c.split_last().expect("candidates");
                format!("looked for {} and {last}", rest.join(", "))
            };
            return Err(a
                .err("src", format!("{what} `{src}` not found"))
                .with_cause(crate::error::Cause::MissingFile)
                .with_hint(hint));
        };
        if preserve {
            // The source's mode on the control machine, as Ansible's action plugin takes it.
            if path.is_dir() {
                return Err(a
                    .err(
                        "mode",
                        "`mode: preserve` with a directory `src` is not supported yet",
                    )
                    .with_hint(
                        "give the mode itself, like \"0644\", or copy the files one by one",
                    ));
            }
            c.mode = Some(source_mode(&path)?);
        }
        if template {
            let text = crate::vault::read_text(&path)?;
            crate::fact_need::note_text(&text);
            let at = Location::new(&Arc::new(path.clone()), 1, 1);
            let dir = path.parent().unwrap_or(Path::new("."));
            let rendered = ctx.vars().render_file(&text, &at, dir)?;
            let dest = if into_dir {
                format!("{dest}/{}", file_name(&path).trim_end_matches(".j2"))
            } else {
                dest
            };
            add(&mut c, dest, rendered.into_bytes());
        } else if path.is_dir() {
            // `src: dir/` copies the contents; `src: dir` copies the directory itself.
            let top = if src.ends_with('/') {
                dest.clone()
            } else {
                format!("{dest}/{}", file_name(&path))
            };
            c.dirs.push(top.clone());
            let mut files = Vec::new();
            walk(&path, &mut files).map_err(Error::with_path(&path))?;
            files.sort();
            for (f, is_dir) in files {
                let rel = f.strip_prefix(&path).expect("under src");
                let rel = rel.to_string_lossy().to_string();
                if is_dir {
                    c.dirs.push(format!("{top}/{rel}"));
                } else {
                    let (content, sha256) = super::source_files::read(&f)?;
                    let dest = format!("{top}/{rel}");
                    c.entries.push(Entry {
                        dest,
                        content,
                        sha256,
                    });
                }
            }
        } else {
            let (content, sha256) = super::source_files::read(&path)?;
            let dest = if into_dir {
                format!("{dest}/{}", file_name(&path))
            } else {
                dest
            };
            c.entries.push(Entry {
                dest,
                content,
                sha256,
            });
        }
        Ok(c)
    }

    fn paths(&self) -> Vec<&str> {
        self.dirs
            .iter()
            .map(String::as_str)
            .chain(self.entries.iter().map(|e| e.dest.as_str()))
            .collect()
    }

    pub(crate) fn probe(&self) -> String {
        let files: Vec<&str> = self.entries.iter().map(|e| e.dest.as_str()).collect();
        file_fact::probe(&self.paths(), &files)
    }

    pub(crate) fn plan(&self, facts: &str) -> std::result::Result<Plan, String> {
        let all = file_fact::parse(facts, &self.paths())?;
        let (dir_facts, file_facts) = all.split_at(self.dirs.len());
        let mut changes = Vec::new();
        let mut script = String::from(safe_write::HEAD);
        // A single file's content write, as a loop's batch can make it.
        let mut op = None;
        for (d, fact) in self.dirs.iter().zip(dir_facts) {
            match fact.kind {
                Kind::Absent => {
                    changes.push(Change::new(format!("create directory {d}")));
                    script.push_str(&safe_write::make_dir(
                        d,
                        self.owner.as_deref(),
                        self.group.as_deref(),
                        self.directory_mode,
                    ));
                    script.push('\n');
                }
                Kind::Dir => {
                    let (words, cmds) = attr_changes(
                        fact,
                        d,
                        self.directory_mode,
                        self.owner.as_deref(),
                        self.group.as_deref(),
                    );
                    changes.extend(words.into_iter().map(|w| Change::new(format!("{d}: {w}"))));
                    for c in cmds {
                        script.push_str(&c);
                        script.push('\n');
                    }
                }
                _ => return Err(format!("{d} exists and is not a directory")),
            }
        }
        for (e, fact) in self.entries.iter().zip(file_facts) {
            match fact.kind {
                Kind::Absent => {
                    changes.push(Change {
                        summary: format!("create {} ({} bytes)", e.dest, e.content.len()),
                        content: Some(ContentChange {
                            path: e.dest.clone(),
                            new: e.content.clone(),
                            exists: false,
                        }),
                    });
                    script.push_str(&self.write(e, None));
                    op = self.batch_op(e, None, false);
                }
                Kind::File => {
                    let same = fact.sha256.as_deref() == Some(e.sha256.as_str());
                    if !same && self.force {
                        let (words, _) = self.attrs(fact, &e.dest);
                        let mut summary = format!("update {}", e.dest);
                        if !words.is_empty() {
                            summary = format!("{summary}; {}", words.join(", "));
                        }
                        changes.push(Change {
                            summary,
                            content: Some(ContentChange {
                                path: e.dest.clone(),
                                new: e.content.clone(),
                                exists: true,
                            }),
                        });
                        script.push_str(&self.write(e, Some(fact)));
                        op = self.batch_op(e, Some(fact), false);
                    } else {
                        let (words, cmds) = self.attrs(fact, &e.dest);
                        changes.extend(
                            words
                                .into_iter()
                                .map(|w| Change::new(format!("{}: {w}", e.dest))),
                        );
                        for c in cmds {
                            script.push_str(&c);
                            script.push('\n');
                        }
                    }
                }
                Kind::Dir => {
                    return Err(format!(
                        "{} is a directory; end `dest` with `/` to copy into it",
                        e.dest
                    ));
                }
                _ => return Err(format!("{} exists and is not a regular file", e.dest)),
            }
        }
        if changes.is_empty() {
            return Ok(Plan::ok());
        }
        let single = self.dirs.is_empty() && changes.len() == 1;
        Ok(Plan {
            batch: op.filter(|_| single),
            ..Plan::script(changes, script, vec![Resource::Path(self.dest.clone())])
        })
    }

    fn attrs(&self, fact: &FileFact, path: &str) -> (Vec<String>, Vec<String>) {
        attr_changes(
            fact,
            path,
            self.mode,
            self.owner.as_deref(),
            self.group.as_deref(),
        )
    }

    /// Owner, group ("" for as created) and mode a written file gets: from the arguments, else
    /// from the file being replaced (its probed numeric ids and mode), else 0644.
    fn attrs_of(&self, old: Option<&FileFact>) -> (String, String, u32) {
        let owner = self.owner.clone().or_else(|| old.map(|f| f.uid.clone()));
        let group = self.group.clone().or_else(|| old.map(|f| f.gid.clone()));
        let mode = self.mode.or(old.map(|f| f.mode)).unwrap_or(0o644);
        (owner.unwrap_or_default(), group.unwrap_or_default(), mode)
    }

    /// `write` (after `make_dir` of the parent when `mk`) as a loop's batch can make it; None
    /// with a backup or a validation, which a batch does not make.
    pub(crate) fn batch_op(&self, e: &Entry, old: Option<&FileFact>, mk: bool) -> Option<BatchOp> {
        if self.backup || self.validate.is_some() || self.validate_in_place.is_some() {
            return None;
        }
        let (owner, group, mode) = self.attrs_of(old);
        Some(BatchOp::File {
            dest: e.dest.clone(),
            content: e.content.clone(),
            owner,
            group,
            mode,
            mk,
        })
    }

    /// Shell that writes one file atomically (see `safe_write`). Mode and owner come from the
    /// arguments, else from the file being replaced (its probed numeric ids and mode), else
    /// 0644 and the remote user. The script must start with `safe_write::HEAD`.
    pub(crate) fn write(&self, e: &Entry, old: Option<&FileFact>) -> String {
        let mut fill = String::from("base64 -d >&3 <<'PLUMB_EOF'\n");
        let b64 = base64::engine::general_purpose::STANDARD.encode(e.content.as_slice());
        for chunk in b64.as_bytes().chunks(76) {
            fill.push_str(std::str::from_utf8(chunk).expect("base64 is ascii"));
            fill.push('\n');
        }
        fill.push_str("PLUMB_EOF\n");
        self.write_with(&e.dest, &fill, old)
    }

    /// `write` of the file at `dest` whose content `fill` (sh) writes to fd 3.
    pub(crate) fn write_with(&self, dest: &str, fill: &str, old: Option<&FileFact>) -> String {
        let (dir, name) = safe_write::split(dest);
        let t = safe_write::temp_name("");
        let n = quote(&format!("./{name}"));
        let dest = quote(dest);
        let mut s = format!("( plumb_cd {}\nplumb_open {t} {dest}\n{fill}", quote(&dir));
        let (owner, group, mode) = self.attrs_of(old);
        // chown before chmod: chown clears setuid/setgid.
        s.push_str(&format!(
            "plumb_own {} {} {mode:04o} /dev/fd/3\n",
            quote(&owner),
            quote(&group)
        ));
        if let Some(v) = &self.validate {
            // `%s` becomes the temp file's quoted path, so it works inside quotes too.
            let path = quote(&format!("{}/{t}", dir.trim_end_matches('/')));
            let cmd = v.replace("%s", &path);
            s.push_str(&format!(
                "PLUMB_TMP={path}; export PLUMB_TMP\nif ! out=$( ( {cmd} ) 2>&1 </dev/null); then printf 'validation failed: %s\\n%s\\n' {} \"$out\"; exit 1; fi\n",
                quote(v)
            ));
        }
        s.push_str("sync /dev/fd/3\n");
        if self.backup && old.is_some() {
            // A hard link under Ansible's name: link(2) never follows or overwrites a planted
            // name, and the old inode keeps its mode, owner and times.
            s.push_str(&format!(
                "if [ -e {n} ] || [ -L {n} ]; then ln -PT -- {n} {n}.$$.$(date +%Y-%m-%d@%H:%M:%S)~; fi\n"
            ));
        }
        match &self.validate_in_place {
            None => s.push_str(&format!("plumb_put {n} {dest} )\n")),
            Some(check) => {
                let o = safe_write::temp_name("old-");
                s.push_str(&format!(
                    "old=\nif [ -e {n} ] || [ -L {n} ]; then old={o}; ln -PT -- {n} {o}; fi\n\
                     plumb_put {n} {dest}\n\
                     if ! out=$( ( {check} ) 2>&1 </dev/null); then\n\
                     \x20 if [ -n \"$old\" ]; then mv -fT -- {o} {n}; what='the previous file was put back'; else rm -f -- {n}; what='the new file was removed'; fi\n\
                     \x20 printf '%s: in-place check failed (%s); %s\\n%s\\n' {dest} {} \"$what\" \"$out\"; exit 1\n\
                     fi\n\
                     [ -z \"$old\" ] || rm -f -- {o}\n)\n",
                    quote(check)
                ));
            }
        }
        s
    }
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default()
}

/// The entries under `dir`, each with whether it is a directory (a symlink counts as what it
/// points to, as `copy` follows it). The type comes with the listing: no `stat` per entry on
/// file systems that report it, and every host's build walks the same tree.
fn walk(dir: &Path, out: &mut Vec<(PathBuf, bool)>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        // Bytecode caches are build artefacts, not content to deploy.
        if path.file_name().is_some_and(|n| n == "__pycache__") {
            continue;
        }
        let t = entry.file_type()?;
        let is_dir = t.is_dir() || (t.is_symlink() && path.is_dir());
        out.push((path.clone(), is_dir));
        if is_dir {
            walk(&path, out)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::Run;

    /// A recorded probe of /etc/app.conf (0644 root:root) whose content has this sum.
    fn recorded(sum: &str) -> String {
        format!(
            "stats\nstat\tregular file\t644\troot\troot\t0\t0\t1764000000\t\"/etc/app.conf\"\nsums\t 0\n{sum}  /etc/app.conf\n"
        )
    }

    /// `mode: preserve` on `copy` and `template`: (task, the mode the file gets or the error).
    #[test]
    fn mode_preserve_takes_the_local_sources_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let put = |name: &str, mode: u32| {
            let p = dir.path().join(name);
            std::fs::write(&p, "x\n").unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        };
        put("run.sh", 0o750);
        put("app.conf.j2", 0o640);
        std::fs::create_dir(dir.path().join("tree")).unwrap();
        let table: &[(&str, std::result::Result<u32, &str>)] = &[
            (
                "copy: {src: run.sh, dest: /usr/local/bin/run, mode: preserve}",
                Ok(0o750),
            ),
            (
                "template: {src: app.conf.j2, dest: /etc/app.conf, mode: preserve}",
                Ok(0o640),
            ),
            ("copy: {src: run.sh, dest: /x, mode: '0600'}", Ok(0o600)),
            (
                "copy: {content: x, dest: /x, mode: preserve}",
                Err("no source file"),
            ),
            (
                "copy: {src: tree, dest: /x, mode: preserve}",
                Err("directory `src`"),
            ),
        ];
        for (yaml, want) in table {
            let doc = crate::yaml::Doc::parse("t.yml".into(), &format!("{yaml}\n"), false).unwrap();
            let t = crate::task::Task::parse(&doc, &doc.root, false).unwrap();
            let (base, deferred) = (serde_json::Map::new(), serde_json::Map::new());
            let inst = crate::task_instance::TaskInstance::new(&t, &base, &deferred);
            let got = inst
                .action(&inst.vars(), dir.path())
                .map(|a| format!("{a:?}"));
            match (got, want) {
                (Ok(a), Ok(m)) => assert!(a.contains(&format!("mode: Some({m})")), "{yaml}: {a}"),
                (Err(e), Err(w)) => assert!(e.to_string().contains(w), "{yaml}: {e}"),
                (got, _) => panic!("{yaml}: {got:?}"),
            }
        }
    }

    fn one(content: &str, mode: Option<u32>) -> Copy {
        Copy {
            dest: "/etc/app.conf".into(),
            dirs: vec![],
            entries: vec![Entry {
                dest: "/etc/app.conf".into(),
                content: Arc::new(content.as_bytes().to_vec()),
                sha256: sha256_hex(content.as_bytes()),
            }],
            mode,
            directory_mode: None,
            owner: None,
            group: None,
            backup: false,
            validate: None,
            validate_in_place: None,
            force: true,
        }
    }

    #[test]
    fn content_compared_by_checksum() {
        let c = one("hello\n", Some(0o644));
        let sum = sha256_hex(b"hello\n");
        let same = recorded(&sum);
        assert!(c.plan(&same).unwrap().changes.is_empty());
        let other = recorded(&sha256_hex(b"x"));
        let p = c.plan(&other).unwrap();
        assert_eq!(p.changes[0].summary, "update /etc/app.conf");
        assert!(p.changes[0].content.as_ref().unwrap().exists);
        let Run::Script(s) = &p.run else { panic!() };
        assert!(s.contains("plumb_cd /etc\nplumb_open .plumb-"), "{s}");
        // The old file's numeric owner and mode, chmod last.
        assert!(s.contains("plumb_own 0 0 0644 /dev/fd/3\n"), "{s}");
        assert!(s.contains("plumb_put ./app.conf /etc/app.conf )"), "{s}");
        let p = c.plan("absent\t0\nstats\n").unwrap();
        assert_eq!(p.changes[0].summary, "create /etc/app.conf (6 bytes)");
    }

    #[test]
    fn mode_only_change() {
        let c = one("hello\n", Some(0o640));
        let sum = sha256_hex(b"hello\n");
        let p = c.plan(&recorded(&sum)).unwrap();
        assert_eq!(p.changes[0].summary, "/etc/app.conf: mode 0644 → 0640");
        assert!(p.changes[0].content.is_none());
    }

    #[test]
    fn short_probe_output_is_an_error() {
        let c = one("x", None);
        assert!(c.plan("").is_err());
    }
}
