//! `authorized_key`: SSH public keys present in (or absent from) a user's `authorized_keys`,
//! with the `.ssh` directory and the file's owner and modes as sshd demands them.

use super::args::Getter;
use super::copy::{Copy, Entry, sha256_hex};
use super::file_fact::{self, Kind};
use super::{Change, ContentChange, Plan, Resource, Run};
use crate::error::Result;
use crate::shell::quote;
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct AuthorizedKey {
    pub user: String,
    /// The key lines asked for (comments and blank lines dropped).
    pub keys: Vec<String>,
    pub present: bool,
    /// Only these keys: every other line goes.
    pub exclusive: bool,
    /// Default: `~USER/.ssh/authorized_keys`.
    pub path: Option<String>,
    pub manage_dir: bool,
}

/// A key's identity: its type and base64 blob, whatever options or comment surround it.
fn key_id(line: &str) -> Option<(&str, &str)> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let i = words
        .iter()
        .position(|w| w.starts_with("ssh-") || w.starts_with("ecdsa-") || w.starts_with("sk-"))?;
    Some((words[i], *words.get(i + 1)?))
}

impl AuthorizedKey {
    pub fn build(a: &Getter) -> Result<AuthorizedKey> {
        let user = a.str("user")?;
        super::group::check_name(a, "user", &user)?;
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

    pub fn reads(&self) -> Vec<Resource> {
        vec![Resource::Path("/etc/passwd".into()), Resource::All]
    }

    /// The account (for its home and ids), then the `.ssh` directory and the file, as
    /// `file_fact` prints them, and the file's content.
    pub fn probe(&self) -> String {
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
             if [ -f \"$f\" ]; then printf 'content\\t'; base64 -w0 -- \"$f\"; printf '\\n'; fi\n\
             else printf 'nouser\\n'; fi\n"
        )
    }

    pub fn plan(&self, facts: &str) -> std::result::Result<Plan, String> {
        let mut passwd = None;
        let mut content = None;
        let mut stats = String::new();
        for line in facts.lines() {
            if let Some(p) = line.strip_prefix("passwd\t") {
                passwd = Some(p.to_string());
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
        let old = match (&file_fact.kind, content) {
            (Kind::Absent, _) => None,
            (Kind::File, Some(b64)) => Some(file_fact::decode_text(&b64, &file)?),
            _ => return Err(format!("{file} exists and is not a regular file")),
        };
        let old_text = old.clone().unwrap_or_default();
        let lines: Vec<&str> = old_text.lines().collect();
        let wanted: Vec<(&str, &str)> = self.keys.iter().filter_map(|k| key_id(k)).collect();
        let mut new: Vec<String> = Vec::new();
        let (mut added, mut removed) = (0, 0);
        if self.present {
            for l in &lines {
                let keep = !self.exclusive || key_id(l).is_some_and(|id| wanted.contains(&id));
                if keep {
                    new.push(l.to_string());
                } else {
                    removed += 1;
                }
            }
            for k in &self.keys {
                if !lines.iter().any(|l| key_id(l) == key_id(k)) {
                    new.push(k.clone());
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
        let mut script = String::from("set -e\n");
        let owner = uid.to_string();
        if dir_fact.kind == Kind::Absent {
            if !self.present || !self.manage_dir {
                if self.present {
                    return Err(format!("{dir} does not exist (and `manage_dir` is false)"));
                }
                return Ok(Plan::ok());
            }
            changes.push(Change::new(format!("create {dir} (0700)")));
            let d = quote(&dir);
            script.push_str(&format!(
                "mkdir -p -- {d}\nchmod 0700 -- {d}\nchown {uid}:{gid} -- {d}\n"
            ));
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
        if added + removed > 0 {
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
        Ok(Plan {
            changes,
            run: Run::Script(script),
            writes: vec![Resource::Path(dir)],
            uncertain: false,
            result: Default::default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
                s.push_str("stat\tdirectory\t700\tops\tops\t1001\t1001\t\"/home/ops/.ssh\"\n");
                s.push_str("stat\tregular file\t600\tops\tops\t1001\t1001\t\"/home/ops/.ssh/authorized_keys\"\n");
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
            s.contains("chown 1001:1001") && s.contains("chmod 0600"),
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
}
