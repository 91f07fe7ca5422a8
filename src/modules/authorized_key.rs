//! `authorized_key`: SSH public keys present in (or absent from) a user's `authorized_keys`,
//! with the `.ssh` directory and the file's owner and modes as sshd demands them.

use super::args::Getter;
use super::copy::{Copy, Entry, sha256_hex};
use super::file_fact::{self, Kind};
use super::{Change, ContentChange, Plan, Resource};
use crate::error::Result;
use crate::shell::quote;
use std::sync::Arc;

#[derive(Debug, Clone)]
pub(crate) struct AuthorizedKey {
    pub(crate) user: String,
    /// The key lines asked for (comments and blank lines dropped).
    pub(crate) keys: Vec<String>,
    pub(crate) present: bool,
    /// Only these keys: every other line goes.
    pub(crate) exclusive: bool,
    /// Default: `~USER/.ssh/authorized_keys`.
    pub(crate) path: Option<String>,
    pub(crate) manage_dir: bool,
}

/// A key line's parts that matter, as Ansible compares them: options, type and base64 blob
/// (the comment does not count). A commented-out or blank line is no key.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Key<'a> {
    options: Option<&'a str>,
    kind: &'a str,
    blob: &'a str,
}

fn is_type(w: &str) -> bool {
    w.starts_with("ssh-") || w.starts_with("ecdsa-") || w.starts_with("sk-")
}

/// The first word of `s` (after leading blanks) and the rest; double quotes (with `\"`) keep
/// blanks inside a word, as sshd reads the options field.
fn word(s: &str) -> (&str, &str) {
    let s = s.trim_start();
    let (mut quoted, mut escaped) = (false, false);
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => return (&s[..i], &s[i..]),
            _ => {}
        }
    }
    (s, "")
}

fn parse_key(line: &str) -> Option<Key<'_>> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let (first, rest) = word(line);
    let (options, kind, rest) = if is_type(first) {
        (None, first, rest)
    } else {
        let (kind, rest) = word(rest);
        (Some(first), kind, rest)
    };
    let (blob, _) = word(rest);
    (is_type(kind) && !blob.is_empty()).then_some(Key {
        options,
        kind,
        blob,
    })
}

/// A key's identity: its type and blob.
fn key_id(line: &str) -> Option<(&str, &str)> {
    parse_key(line).map(|k| (k.kind, k.blob))
}

super::plain_module!(AuthorizedKey);

impl AuthorizedKey {
    pub(crate) fn build(a: &Getter) -> Result<AuthorizedKey> {
        let user = a.str("user")?;
        super::account_name::check_name(a, "user", &user)?;
        let keys: Vec<String> = a
            .str("key")?
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(String::from)
            .collect();
        if keys.is_empty() {
            return Err(a.err("key", "no key in `key`"));
        }
        for k in &keys {
            if key_id(k).is_none() {
                return Err(a.err("key", format!("`{k}` is not an SSH public key")));
            }
        }
        Ok(AuthorizedKey {
            user,
            keys,
            present: a.choice("state", &["present", "absent"], "present")? == "present",
            exclusive: a.bool("exclusive", false)?,
            path: a.opt_path("path")?,
            manage_dir: a.bool("manage_dir", true)?,
        })
    }

    pub(crate) fn reads(&self) -> Vec<Resource> {
        vec![Resource::Path("/etc/passwd".into()), Resource::All]
    }

    /// The account (for its home and ids), then the `.ssh` directory and the file, as
    /// `file_fact` prints them, and the file's content.
    pub(crate) fn probe(&self) -> String {
        let u = quote(&self.user);
        // `d` and the home without trailing slashes as `plan` computes them: file_fact checks
        // the names stat prints against those.
        let file = match &self.path {
            Some(p) => quote(p),
            None => "\"$h/.ssh/authorized_keys\"".into(),
        };
        let stats = file_fact::probe_words(&["\"$d\"".into(), "\"$f\"".into()], &[]);
        format!(
            "if p=$(getent passwd -- {u}); then printf 'passwd\\t%s\\n' \"$p\"\n\
             set -f; IFS=:; set -- $p; IFS=' \t\n'; set +f; h=$6\n\
             while case $h in */) true;; *) false;; esac; do h=${{h%/}}; done\n\
             f={file}; case $f in */*) d=${{f%/*}}; [ -n \"$d\" ] || d=/;; *) d=.;; esac\n\
             {stats}\
             if [ -f \"$f\" ] && [ ! -L \"$f\" ] && [ ! -L \"$d\" ]; then\n\
             if c=$(base64 -w0 -- \"$f\" 2>&1); then printf 'content\\t%s\\n' \"$c\"; else printf 'unreadable\\t%s\\n' \"$c\"; fi; fi\n\
             else printf 'nouser\\n'; fi\n"
        )
    }

    pub(crate) fn plan(&self, facts: &str) -> std::result::Result<Plan, String> {
        let mut passwd = None;
        let mut content = None;
        let mut stats = String::new();
        for line in facts.lines() {
            if let Some(p) = line.strip_prefix("passwd\t") {
                passwd = Some(p.to_string());
            } else if let Some(e) = line.strip_prefix("unreadable\t") {
                // Changed between the probe's checks (a race) or unreadable: never "no keys".
                return Err(format!("cannot read the keys file: {e}"));
            } else if let Some(c) = line.strip_prefix("content\t") {
                content = Some(c.trim().to_string());
            } else if line.trim() == "nouser" {
                return Err(format!("no user `{}` on the host", self.user));
            } else {
                stats.push_str(line);
                stats.push('\n');
            }
        }
        let passwd =
            passwd.ok_or_else(|| format!("unexpected probe output: `{}`", facts.trim()))?;
        let f: Vec<&str> = passwd.split(':').collect();
        if f.len() < 7 {
            return Err(format!("unexpected probe output: `{passwd}`"));
        }
        let (uid, gid, home) = (f[2], f[3], f[5]);
        let file = self
            .path
            .clone()
            .unwrap_or_else(|| format!("{}/.ssh/authorized_keys", home.trim_end_matches('/')));
        let dir = match file.rsplit_once('/') {
            Some(("", _)) => "/".to_string(),
            Some((d, _)) => d.to_string(),
            None => ".".to_string(),
        };
        let facts = file_fact::parse(&stats, &[&dir, &file])?;
        let (dir_fact, file_fact) = (&facts[0], &facts[1]);
        // Root must not follow a link the user planted, nor write into someone else's files.
        for (what, f) in [(&dir, dir_fact), (&file, file_fact)] {
            if f.kind == Kind::Link {
                return Err(format!(
                    "{what} is a symlink (to {}); refusing to manage keys through it",
                    f.target.as_deref().unwrap_or("?")
                ));
            }
            if f.kind != Kind::Absent && f.uid != uid && f.uid != "0" {
                return Err(format!(
                    "{what} is owned by {} (uid {}), not by {} or root; refusing to manage keys there",
                    f.owner, f.uid, self.user
                ));
            }
        }
        let old = match (&file_fact.kind, content) {
            (Kind::Absent, _) => None,
            (Kind::File, Some(b64)) => Some(file_fact::decode_text(&b64, &file)?),
            _ => return Err(format!("{file} exists and is not a regular file")),
        };
        let old_text = old.clone().unwrap_or_default();
        let lines: Vec<&str> = old_text.lines().collect();
        let wanted: Vec<(&str, &str)> = self.keys.iter().filter_map(|k| key_id(k)).collect();
        let mut new: Vec<String> = Vec::new();
        let (mut added, mut updated, mut removed) = (0, 0, 0);
        if self.present {
            let mut seen: Vec<(&str, &str)> = Vec::new();
            for l in &lines {
                let id = key_id(l);
                match self.keys.iter().find(|k| id.is_some() && key_id(k) == id) {
                    // The same key with other options (or none): the asked-for line replaces it.
                    Some(k) => {
                        seen.extend(id);
                        if parse_key(l) == parse_key(k) {
                            new.push(l.to_string());
                        } else {
                            new.push(k.clone());
                            updated += 1;
                        }
                    }
                    None if self.exclusive => removed += 1,
                    None => new.push(l.to_string()),
                }
            }
            for k in &self.keys {
                if !key_id(k).is_some_and(|id| seen.contains(&id)) {
                    new.push(k.clone());
                    seen.extend(key_id(k));
                    added += 1;
                }
            }
        } else {
            for l in &lines {
                if key_id(l).is_some_and(|id| wanted.contains(&id)) {
                    removed += 1;
                } else {
                    new.push(l.to_string());
                }
            }
        }
        let mut changes = Vec::new();
        let mut script = String::from(super::safe_write::HEAD);
        let owner = uid.to_string();
        if dir_fact.kind == Kind::Absent {
            if !self.present || !self.manage_dir {
                if self.present {
                    return Err(format!("{dir} does not exist (and `manage_dir` is false)"));
                }
                return Ok(Plan::ok());
            }
            changes.push(Change::new(format!("create {dir} (0700)")));
            script.push_str(&super::safe_write::make_dir(
                &dir,
                Some(uid),
                Some(gid),
                Some(0o700),
            ));
            script.push('\n');
        } else if self.manage_dir && dir_fact.kind == Kind::Dir {
            let (words, cmds) =
                file_fact::attr_changes(dir_fact, &dir, Some(0o700), Some(&owner), None);
            changes.extend(
                words
                    .into_iter()
                    .map(|w| Change::new(format!("{dir}: {w}"))),
            );
            for c in cmds {
                script.push_str(&c);
                script.push('\n');
            }
        }
        if added + updated + removed > 0 {
            let bytes = Arc::new(file_fact::text_of(&new).into_bytes());
            let entry = Entry {
                dest: file.clone(),
                sha256: sha256_hex(&bytes),
                content: bytes.clone(),
            };
            let writer = Copy {
                mode: Some(0o600),
                owner: Some(owner.clone()),
                group: Some(gid.to_string()),
                ..Copy::writer(&file)
            };
            let mut words = Vec::new();
            if added > 0 {
                words.push(format!(
                    "authorize {added} key{}",
                    if added == 1 { "" } else { "s" }
                ));
            }
            if updated > 0 {
                words.push(format!(
                    "update the options of {updated} key{}",
                    if updated == 1 { "" } else { "s" }
                ));
            }
            if removed > 0 {
                words.push(format!(
                    "remove {removed} key{}",
                    if removed == 1 { "" } else { "s" }
                ));
            }
            changes.push(Change {
                summary: format!("{} for {} in {file}", words.join(", "), self.user),
                content: Some(ContentChange {
                    path: file.clone(),
                    new: bytes,
                    exists: old.is_some(),
                }),
            });
            let old_fact = old.is_some().then_some(file_fact);
            script.push_str(&writer.write(&entry, old_fact));
        } else if file_fact.kind == Kind::File {
            let (words, cmds) =
                file_fact::attr_changes(file_fact, &file, Some(0o600), Some(&owner), None);
            changes.extend(
                words
                    .into_iter()
                    .map(|w| Change::new(format!("{file}: {w}"))),
            );
            for c in cmds {
                script.push_str(&c);
                script.push('\n');
            }
        }
        if changes.is_empty() {
            return Ok(Plan::ok());
        }
        Ok(Plan::script(changes, script, vec![Resource::Path(dir)]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::Run;
    use base64::Engine;

    const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl ops@laptop";
    const OTHER: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 old@desk";

    fn ak(present: bool, exclusive: bool) -> AuthorizedKey {
        AuthorizedKey {
            user: "ops".into(),
            keys: vec![KEY.into()],
            present,
            exclusive,
            path: None,
            manage_dir: true,
        }
    }

    /// Probe output for ops (uid 1001) with `.ssh` and a file holding `text` (None: no .ssh).
    fn facts(text: Option<&str>) -> String {
        let mut s = String::from("passwd\tops:x:1001:1001::/home/ops:/bin/bash\n");
        match text {
            None => s.push_str("absent\t0\nabsent\t1\nstats\n"),
            Some(t) => {
                s.push_str("stats\n");
                s.push_str(
                    "stat\tdirectory\t700\tops\tops\t1001\t1001\t1764000000\t\"/home/ops/.ssh\"\n",
                );
                s.push_str("stat\tregular file\t600\tops\tops\t1001\t1001\t1764000000\t\"/home/ops/.ssh/authorized_keys\"\n");
                s.push_str(&format!(
                    "content\t{}\n",
                    base64::engine::general_purpose::STANDARD.encode(t)
                ));
            }
        }
        s
    }

    #[test]
    fn first_key_makes_the_directory_then_is_ok() {
        let p = ak(true, false).plan(&facts(None)).unwrap();
        let words: Vec<&str> = p.changes.iter().map(|c| c.summary.as_str()).collect();
        assert_eq!(
            words,
            [
                "create /home/ops/.ssh (0700)",
                "authorize 1 key for ops in /home/ops/.ssh/authorized_keys"
            ]
        );
        let Run::Script(s) = &p.run else { panic!() };
        assert!(
            s.contains("plumb_cd /home/ops/.ssh mk\nplumb_own 1001 1001 0700 .")
                && s.contains("plumb_own 1001 1001 0600 /dev/fd/3"),
            "{s}"
        );
        // Matched by key, whatever the comment says.
        let same = KEY.replace("ops@laptop", "renamed");
        assert!(
            ak(true, false)
                .plan(&facts(Some(&format!("{OTHER}\n{same}\n"))))
                .unwrap()
                .changes
                .is_empty()
        );
    }

    #[test]
    fn exclusive_and_absent() {
        let p = ak(true, true)
            .plan(&facts(Some(&format!("{OTHER}\n{KEY}\n"))))
            .unwrap();
        assert_eq!(
            p.changes[0].summary,
            "remove 1 key for ops in /home/ops/.ssh/authorized_keys"
        );
        let new = String::from_utf8(p.changes[0].content.as_ref().unwrap().new.to_vec()).unwrap();
        assert_eq!(new, format!("{KEY}\n"));
        let p = ak(false, false)
            .plan(&facts(Some(&format!("{OTHER}\n{KEY}\n"))))
            .unwrap();
        let new = String::from_utf8(p.changes[0].content.as_ref().unwrap().new.to_vec()).unwrap();
        assert_eq!(new, format!("{OTHER}\n"));
        assert!(
            ak(false, false)
                .plan(&facts(None))
                .unwrap()
                .changes
                .is_empty()
        );
        assert!(
            ak(true, false)
                .plan("nouser\n")
                .unwrap_err()
                .contains("no user `ops`")
        );
    }

    /// The probe through sh: the names stat prints match the paths `plan` computes, for the
    /// default path under root's home and for a given path.
    #[test]
    fn probe_runs_through_sh() {
        use crate::transport::Transport;
        let me = String::from_utf8(
            std::process::Command::new("id")
                .arg("-un")
                .output()
                .unwrap()
                .stdout,
        )
        .unwrap()
        .trim()
        .to_string();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("keys it's");
        std::fs::write(&file, format!("{KEY}\n")).unwrap();
        for path in [None, Some(file.display().to_string())] {
            let a = AuthorizedKey {
                user: me.clone(),
                path,
                ..ak(true, false)
            };
            let out = crate::transport::local::Local::new()
                .run(&a.probe(), None)
                .unwrap();
            a.plan(&out.out)
                .unwrap_or_else(|e| panic!("{e}\n{}", out.out));
        }
    }

    #[test]
    fn key_lines_are_parsed_as_sshd_reads_them() {
        let k = parse_key(r#"from="10.0.0.0/8",command="ssh-x \"a b\"" ssh-ed25519 AAAAblob c@d"#)
            .unwrap();
        assert_eq!(
            k.options,
            Some(r#"from="10.0.0.0/8",command="ssh-x \"a b\"""#)
        );
        assert_eq!((k.kind, k.blob), ("ssh-ed25519", "AAAAblob"));
        assert_eq!(parse_key("ssh-rsa AAAAx").unwrap().options, None);
        assert_eq!(parse_key("# ssh-ed25519 AAAAblob old"), None);
        assert_eq!(parse_key("  "), None);
        assert_eq!(parse_key("restrict AAAAnotakey"), None);
    }

    #[test]
    fn options_count_and_commented_keys_do_not() {
        // The same key without the options asked for: replaced by the asked-for line.
        let mut a = ak(true, false);
        a.keys = vec![format!("from=\"10.0.0.0/8\",restrict {KEY}")];
        let p = a.plan(&facts(Some(&format!("{OTHER}\n{KEY}\n")))).unwrap();
        assert_eq!(
            p.changes[0].summary,
            "update the options of 1 key for ops in /home/ops/.ssh/authorized_keys"
        );
        let new = String::from_utf8(p.changes[0].content.as_ref().unwrap().new.to_vec()).unwrap();
        assert_eq!(new, format!("{OTHER}\n{}\n", a.keys[0]));
        assert!(a.plan(&facts(Some(&new))).unwrap().changes.is_empty());
        // A commented-out key is not authorized: the key is added.
        let p = ak(true, false)
            .plan(&facts(Some(&format!("# {KEY}\n"))))
            .unwrap();
        assert_eq!(
            p.changes[0].summary,
            "authorize 1 key for ops in /home/ops/.ssh/authorized_keys"
        );
    }

    #[test]
    fn refuses_symlinks_and_foreign_owners() {
        let linked = facts(Some(KEY)).replace(
            "stat\tdirectory\t700\tops\tops\t1001\t1001\t1764000000\t\"/home/ops/.ssh\"",
            "stat\tsymbolic link\t777\tops\tops\t1001\t1001\t1764000000\t\"/home/ops/.ssh\" -> \"/root/.ssh\"",
        );
        let e = ak(true, false).plan(&linked).unwrap_err();
        assert!(
            e.contains("/home/ops/.ssh is a symlink (to /root/.ssh); refusing"),
            "{e}"
        );
        let foreign = facts(Some(KEY)).replace(
            "regular file\t600\tops\tops\t1001\t1001",
            "regular file\t600\tbob\tbob\t1002\t1002",
        );
        let e = ak(true, false).plan(&foreign).unwrap_err();
        assert!(
            e.contains("owned by bob (uid 1002), not by ops or root"),
            "{e}"
        );
    }
}
