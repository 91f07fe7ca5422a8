//! `user`'s `generate_ssh_key`: a key pair made with the host's `ssh-keygen` when its private
//! key file is missing (an existing one is never replaced, as in Ansible), read back for the
//! registered `ssh_public_key`, `ssh_key_file` and `ssh_fingerprint`.

use super::args::Getter;
use crate::error::Result;
use crate::shell::quote;
use serde_json::{Map, Value};

#[derive(Debug, Clone)]
pub(crate) struct SshKey {
    /// `ssh_key_file`: absolute, or relative to the user's home.
    pub(crate) file: String,
    pub(crate) kind: String,
    pub(crate) bits: Option<u64>,
    /// None: Ansible's `ansible-generated on HOSTNAME`.
    pub(crate) comment: Option<String>,
}

/// The key as the probe found it.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct KeyFact {
    pub(crate) present: bool,
    pub(crate) public: String,
    pub(crate) fingerprint: String,
}

impl SshKey {
    /// None unless `generate_ssh_key: true`.
    pub(crate) fn build(a: &Getter) -> Result<Option<SshKey>> {
        if !a.bool("generate_ssh_key", false)? {
            return Ok(None);
        }
        if a.opt_str("ssh_key_passphrase")?.is_some() {
            // ssh-keygen takes a passphrase only on its command line, which would put it in
            // the script plumb logs with -v.
            return Err(a
                .err("ssh_key_passphrase", "`ssh_key_passphrase` is not supported")
                .with_hint("generate the key without one, or with `command: ssh-keygen ...` and `no_log: true`"));
        }
        let file = a
            .opt_str("ssh_key_file")?
            .unwrap_or_else(|| ".ssh/id_rsa".into());
        if file.is_empty() || file.ends_with('/') || file.contains('\n') {
            return Err(a.err("ssh_key_file", "`ssh_key_file` must name a file"));
        }
        Ok(Some(SshKey {
            file,
            kind: a.choice(
                "ssh_key_type",
                &["rsa", "dsa", "ecdsa", "ed25519", "ecdsa-sk", "ed25519-sk"],
                "rsa",
            )?,
            bits: a.opt_u64("ssh_key_bits")?,
            comment: a.opt_str("ssh_key_comment")?,
        }))
    }

    /// The key's path for a user whose home is `home`.
    pub(crate) fn path(&self, home: &str) -> String {
        if self.file.starts_with('/') {
            self.file.clone()
        } else {
            format!("{}/{}", home.trim_end_matches('/'), self.file)
        }
    }

    /// Sh that sets `f` to the key's path, reading the home of the user `n` (quoted) now.
    fn locate(&self, n: &str) -> String {
        if self.file.starts_with('/') {
            format!("f={}\n", quote(&self.file))
        } else {
            format!(
                "f=\"$(getent passwd -- {n} | cut -d: -f6)\"/{}\n",
                quote(&self.file)
            )
        }
    }

    /// Probe lines for an existing user `n` (quoted): `key\tabsent`, or `key\tpresent` with
    /// `pub\t` and `fingerprint\t` lines.
    pub(crate) fn probe(&self, n: &str) -> String {
        format!(
            "{}if [ -e \"$f\" ]; then printf 'key\\tpresent\\n'; \
             printf 'pub\\t%s\\n' \"$(head -n 1 -- \"$f.pub\" 2>/dev/null)\"; \
             printf 'fingerprint\\t%s\\n' \"$(ssh-keygen -lf \"$f.pub\" 2>/dev/null)\"; \
             else printf 'key\\tabsent\\n'; fi\n",
            self.locate(n)
        )
    }

    /// Reads the probe's key lines (the others are the caller's).
    pub(crate) fn parse(lines: &[&str]) -> std::result::Result<Option<KeyFact>, String> {
        let mut fact: Option<KeyFact> = None;
        for line in lines {
            let (tag, rest) = line.split_once('\t').unwrap_or((line, ""));
            let bad = || format!("unexpected probe output: `{line}`");
            match tag {
                "key" => {
                    fact = Some(KeyFact {
                        present: match rest {
                            "present" => true,
                            "absent" => false,
                            _ => return Err(bad()),
                        },
                        ..KeyFact::default()
                    })
                }
                "pub" => fact.as_mut().ok_or_else(bad)?.public = rest.to_string(),
                "fingerprint" => fact.as_mut().ok_or_else(bad)?.fingerprint = rest.to_string(),
                _ => return Err(bad()),
            }
        }
        Ok(fact)
    }

    /// Registered values for a key in place.
    pub(crate) fn result(&self, home: &str, fact: &KeyFact) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("ssh_key_file".into(), Value::String(self.path(home)));
        m.insert("ssh_public_key".into(), Value::String(fact.public.clone()));
        m.insert(
            "ssh_fingerprint".into(),
            Value::String(fact.fingerprint.clone()),
        );
        m
    }

    /// Sh that makes the key for user `n` (quoted) once the user exists, as that user: its
    /// directory (0700, the user's) made by root as Ansible does, never through a link; then
    /// `plumb-result` with what it made.
    pub(crate) fn script(&self, n: &str) -> String {
        let mut keygen = format!("ssh-keygen -q -t {}", quote(&self.kind));
        if let Some(b) = self.bits {
            keygen.push_str(&format!(" -b {b}"));
        }
        let comment = match &self.comment {
            Some(c) => quote(c),
            None => "\"ansible-generated on $(uname -n)\"".into(),
        };
        format!(
            "{locate}d=$(dirname -- \"$f\")\n\
             if [ ! -e \"$d\" ] && [ ! -L \"$d\" ]; then mkdir -m 0700 -- \"$d\"; chown -h -- {n}:\"$(id -g -- {n})\" \"$d\"; fi\n\
             if [ \"$(id -u)\" = 0 ] && [ \"$(id -u -- {n})\" != 0 ]; then set -- runuser -u {n} --; else set --; fi\n\
             \"$@\" {keygen} -C {comment} -N '' -f \"$f\" </dev/null\n\
             plumb_json() {{ printf %s \"$1\" | sed 's/[\\\\\"]/\\\\&/g'; }}\n\
             printf 'plumb-result\\t{{\"ssh_key_file\": \"%s\", \"ssh_public_key\": \"%s\", \"ssh_fingerprint\": \"%s\"}}\\n' \
             \"$(plumb_json \"$f\")\" \"$(plumb_json \"$(head -n 1 -- \"$f.pub\")\")\" \"$(plumb_json \"$(ssh-keygen -lf \"$f.pub\")\")\"\n",
            locate = self.locate(n),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SshKey {
        SshKey {
            file: ".ssh/id_rsa".into(),
            kind: "ed25519".into(),
            bits: None,
            comment: Some("app's \"key\"".into()),
        }
    }

    // Recorded on Debian 12 for a user with a key.
    const FOUND: &[&str] = &[
        "key\tpresent",
        "pub\tssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDMy app@h181",
        "fingerprint\t256 SHA256:qz1B7l2m5Q3nq app@h181 (ED25519)",
    ];

    #[test]
    fn parses_and_registers() {
        let f = SshKey::parse(FOUND).unwrap().unwrap();
        assert!(f.present);
        let r = key().result("/home/app/", &f);
        assert_eq!(r["ssh_key_file"], "/home/app/.ssh/id_rsa");
        assert_eq!(
            r["ssh_public_key"],
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDMy app@h181"
        );
        assert!(!SshKey::parse(&["key\tabsent"]).unwrap().unwrap().present);
        assert!(SshKey::parse(&["pub\tx"]).is_err());
        assert!(SshKey::parse(&["key\tmaybe"]).is_err());
        assert_eq!(SshKey::parse(&[]).unwrap(), None);
    }

    /// The script and the probe, run here on a key in a temporary directory (as the user
    /// running the test, so without runuser).
    #[test]
    fn makes_a_key_and_the_probe_then_finds_it() {
        let dir = tempfile::tempdir().unwrap();
        let me = String::from_utf8(
            std::process::Command::new("id")
                .arg("-un")
                .output()
                .unwrap()
                .stdout,
        )
        .unwrap();
        let n = quote(me.trim());
        let mut k = key();
        k.file = dir.path().join("keys/id").display().to_string();
        let sh = |s: &str| {
            let out = std::process::Command::new("/bin/sh")
                .arg("-c")
                .arg(s)
                .output()
                .unwrap();
            assert!(out.status.success(), "{out:?}");
            String::from_utf8(out.stdout).unwrap()
        };
        let facts = sh(&k.probe(&n));
        let lines: Vec<&str> = facts.lines().collect();
        assert!(!SshKey::parse(&lines).unwrap().unwrap().present);
        let out = sh(&format!("set -e\n{}", k.script(&n)));
        let mut v = serde_json::json!({});
        crate::modules::script_said::script_said(&out, &mut v);
        assert_eq!(v["ssh_key_file"], k.file.as_str(), "{out}");
        assert!(
            v["ssh_public_key"]
                .as_str()
                .unwrap()
                .ends_with(" app's \"key\""),
            "{v}"
        );
        let mode = std::fs::metadata(dir.path().join("keys/id")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(mode.permissions().mode() & 0o777, 0o600);
        let facts = sh(&k.probe(&n));
        let lines: Vec<&str> = facts.lines().collect();
        let f = SshKey::parse(&lines).unwrap().unwrap();
        assert!(f.present);
        assert_eq!(f.public, v["ssh_public_key"].as_str().unwrap());
        assert!(f.fingerprint.contains("SHA256:"), "{f:?}");
    }
}
