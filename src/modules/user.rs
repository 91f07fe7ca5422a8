//! `user`: a local account present (uid, primary and supplementary groups, shell, home,
//! comment, password hash, an SSH key) or absent, read with `getent` and `id`, changed with
//! shadow-utils. The password hash never appears in the probe's output (it prints a digest of
//! the shadow entry's hash), in a change, or in the script as logged (a heredoc, which the
//! logged sketch hides).

use super::account_name::check_name;
use super::args::Getter;
use super::user_key::{KeyFact, SshKey};
use super::{Change, Plan, Resource};
use crate::error::Result;
use crate::shell::quote;
use serde_json::Value;

#[derive(Debug, Clone)]
pub(crate) struct User {
    pub(crate) name: String,
    pub(crate) present: bool,
    pub(crate) uid: Option<u64>,
    /// Primary group.
    pub(crate) group: Option<String>,
    /// Supplementary groups: exactly these, or with `append` at least these.
    pub(crate) groups: Option<Vec<String>>,
    pub(crate) append: bool,
    pub(crate) shell: Option<String>,
    pub(crate) home: Option<String>,
    pub(crate) create_home: bool,
    pub(crate) system: bool,
    pub(crate) comment: Option<String>,
    /// `state: absent` with `remove: true` also removes the home directory.
    pub(crate) remove: bool,
    /// `state: absent` with `force: true`: `userdel -f`.
    pub(crate) force: bool,
    /// An already-hashed crypt string, as Ansible takes it.
    pub(crate) password: Option<String>,
    /// `update_password: always` (the default); `on_create` sets it only on a new user.
    pub(crate) update_password: bool,
    pub(crate) ssh_key: Option<SshKey>,
}

/// An account as `getent passwd` and `id` print it.
#[derive(Debug, PartialEq)]
pub(crate) struct UserFact {
    pub(crate) uid: u64,
    pub(crate) comment: String,
    pub(crate) home: String,
    pub(crate) shell: String,
    primary: String,
    pub(crate) groups: Vec<String>,
}

super::plain_module!(User);

impl User {
    pub(crate) fn build(a: &Getter) -> Result<User> {
        let name = a.str("name")?;
        check_name(a, "name", &name)?;
        let groups = if a.has("groups") {
            let g = a.list("groups")?;
            for x in &g {
                check_name(a, "groups", x)?;
            }
            Some(g)
        } else {
            None
        };
        if let Some(g) = a.opt_str("group")? {
            check_name(a, "group", &g)?;
        }
        let password = a.opt_str("password")?;
        if password
            .as_deref()
            .is_some_and(|p| p.contains([':', '\n', '\r']))
        {
            // Said without the value: it is a secret.
            return Err(a.err(
                "password",
                "`password` must be a crypt hash (one line, no `:`)",
            ));
        }
        Ok(User {
            present: a.choice("state", &["present", "absent"], "present")? == "present",
            uid: a.opt_u64("uid")?,
            group: a.opt_str("group")?,
            groups,
            append: a.bool("append", false)?,
            shell: a.opt_str("shell")?,
            home: a.opt_path("home")?,
            // `createhome` is the older spelling public roles still use.
            create_home: if a.has("createhome") {
                a.bool("createhome", true)?
            } else {
                a.bool("create_home", true)?
            },
            system: a.bool("system", false)?,
            comment: a.opt_str("comment")?,
            remove: a.bool("remove", false)?,
            force: a.bool("force", false)?,
            password,
            update_password: a.choice("update_password", &["always", "on_create"], "always")?
                == "always",
            ssh_key: SshKey::build(a)?,
            name,
        })
    }

    pub(crate) fn reads(&self) -> Vec<Resource> {
        let mut r = vec![
            Resource::Path("/etc/passwd".into()),
            Resource::Path("/etc/group".into()),
        ];
        if self.compares_password() {
            r.push(Resource::Path("/etc/shadow".into()));
        }
        r
    }

    /// Whether the probe compares the password with the shadow entry.
    fn compares_password(&self) -> bool {
        self.present && self.update_password && self.password.is_some()
    }

    pub(crate) fn probe(&self) -> String {
        let n = quote(&self.name);
        // Where useradd puts a new user's home when `home:` is not given (`HOME=` of
        // `useradd -D`), so that the home is among the task's writes.
        let default_home = if self.home.is_none() && self.present && self.create_home {
            "else useradd -D 2>/dev/null | sed -n 's/^HOME=/defaulthome\\t/p'; "
        } else {
            ""
        };
        // Only a digest of the shadow entry's hash: probe output is logged with -v.
        let shadow = if self.compares_password() {
            format!(
                "if s=$(getent shadow -- {n}); then printf 'shadow\\t%s\\n' \
                 \"$(printf '%s\\n' \"$s\" | cut -d: -f2 | sha256sum | cut -d' ' -f1)\"; \
                 else printf 'shadow\\t?\\n'; fi; "
            )
        } else {
            String::new()
        };
        let key = match (&self.ssh_key, self.present) {
            (Some(k), true) => k.probe(&n),
            _ => String::new(),
        };
        format!(
            "if p=$(getent passwd -- {n}); then printf 'passwd\\t%s\\n' \"$p\"; \
             printf 'primary\\t%s\\n' \"$(id -gn -- {n})\"; printf 'groups\\t%s\\n' \"$(id -Gn -- {n})\"; \
             {shadow}{key}{default_home}fi\n"
        )
    }

    pub(crate) fn parse(facts: &str) -> std::result::Result<Option<UserFact>, String> {
        let mut fact: Option<UserFact> = None;
        for line in facts.lines().filter(|l| !l.trim().is_empty()) {
            let (tag, rest) = line.split_once('\t').unwrap_or((line, ""));
            let bad = || format!("unexpected probe output: `{line}`");
            match tag {
                "passwd" => {
                    let f: Vec<&str> = rest.split(':').collect();
                    if f.len() < 7 {
                        return Err(bad());
                    }
                    fact = Some(UserFact {
                        uid: f[2].parse().map_err(|_| bad())?,
                        comment: f[4].to_string(),
                        home: f[5].to_string(),
                        shell: f[6].to_string(),
                        primary: String::new(),
                        groups: Vec::new(),
                    });
                }
                "primary" => fact.as_mut().ok_or_else(bad)?.primary = rest.trim().to_string(),
                "groups" => {
                    let f = fact.as_mut().ok_or_else(bad)?;
                    // `id -Gn` lists the primary group first.
                    f.groups = rest
                        .split_whitespace()
                        .filter(|g| *g != f.primary)
                        .map(String::from)
                        .collect();
                }
                _ => return Err(bad()),
            }
        }
        Ok(fact)
    }

    pub(crate) fn plan(&self, facts: &str) -> std::result::Result<Plan, String> {
        let mut default_home = "/home";
        let mut shadow = None;
        let (mut key_lines, mut rest) = (Vec::new(), Vec::new());
        for l in facts.lines() {
            match l.split_once('\t').map_or(l, |(tag, _)| tag) {
                "defaulthome" => default_home = l["defaulthome\t".len()..].trim(),
                "shadow" => shadow = Some(l["shadow\t".len()..].trim()),
                "key" | "pub" | "fingerprint" => key_lines.push(l),
                _ => rest.push(l),
            }
        }
        let now = Self::parse(&rest.join("\n"))?;
        let key = SshKey::parse(&key_lines)?;
        let n = quote(&self.name);
        let mut changes = Vec::new();
        let mut script = String::from("set -e\n");
        let mut result = self.result(now.as_ref());
        // Whether the script runs useradd, usermod or userdel (which write the account files).
        let mut account = now.is_some() != self.present;
        match (&now, self.present) {
            (None, false) => {
                return Ok(Plan {
                    result,
                    ..Plan::ok()
                });
            }
            (Some(_), false) => {
                changes.push(Change::new(format!("remove user {}", self.name)));
                let r = if self.remove { " -r" } else { "" };
                let f = if self.force { " -f" } else { "" };
                script.push_str(&format!("userdel{r}{f} -- {n}\n"));
            }
            (None, true) => {
                let mut c = String::from("useradd");
                if let Some(u) = self.uid {
                    c.push_str(&format!(" -u {u}"));
                }
                if let Some(g) = &self.group {
                    c.push_str(&format!(" -g {}", quote(g)));
                }
                if let Some(gs) = self.groups.as_ref().filter(|g| !g.is_empty()) {
                    c.push_str(&format!(" -G {}", quote(&gs.join(","))));
                }
                if let Some(s) = &self.shell {
                    c.push_str(&format!(" -s {}", quote(s)));
                }
                if let Some(h) = &self.home {
                    c.push_str(&format!(" -d {}", quote(h)));
                }
                if let Some(m) = &self.comment {
                    c.push_str(&format!(" -c {}", quote(m)));
                }
                if self.system {
                    c.push_str(" -r");
                }
                c.push_str(if self.create_home { " -m" } else { " -M" });
                changes.push(Change::new(format!("create user {}", self.name)));
                script.push_str(&format!("{c} -- {n}\n"));
                if let Some(p) = &self.password {
                    changes.push(Change::new(format!("user {}: password set", self.name)));
                    script.push_str(&self.set_password(p));
                }
            }
            (Some(f), true) => {
                let mut flags = Vec::new();
                let mut say = |what: String, flag: String| {
                    changes.push(Change::new(format!("user {}: {what}", self.name)));
                    flags.push(flag);
                };
                if let Some(u) = self.uid.filter(|u| *u != f.uid) {
                    say(format!("uid {} → {u}", f.uid), format!("-u {u}"));
                }
                if let Some(g) = self.group.as_ref().filter(|g| **g != f.primary) {
                    say(
                        format!("group {} → {g}", f.primary),
                        format!("-g {}", quote(g)),
                    );
                }
                if let Some(s) = self.shell.as_ref().filter(|s| **s != f.shell) {
                    say(
                        format!("shell {} → {s}", f.shell),
                        format!("-s {}", quote(s)),
                    );
                }
                if let Some(h) = self.home.as_ref().filter(|h| **h != f.home) {
                    say(format!("home {} → {h}", f.home), format!("-d {}", quote(h)));
                }
                if let Some(c) = self.comment.as_ref().filter(|c| **c != f.comment) {
                    say(
                        format!("comment `{}` → `{c}`", f.comment),
                        format!("-c {}", quote(c)),
                    );
                }
                if let Some(want) = &self.groups {
                    let missing: Vec<&String> =
                        want.iter().filter(|g| !f.groups.contains(g)).collect();
                    let extra: Vec<&String> =
                        f.groups.iter().filter(|g| !want.contains(g)).collect();
                    if self.append && !missing.is_empty() {
                        let m: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
                        say(
                            format!("add to {}", m.join(", ")),
                            format!("-a -G {}", quote(&m.join(","))),
                        );
                    } else if !self.append && (!missing.is_empty() || !extra.is_empty()) {
                        let mut words = Vec::new();
                        if !missing.is_empty() {
                            words.push(format!(
                                "add to {}",
                                missing
                                    .iter()
                                    .map(|s| s.as_str())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ));
                        }
                        if !extra.is_empty() {
                            words.push(format!(
                                "remove from {}",
                                extra
                                    .iter()
                                    .map(|s| s.as_str())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ));
                        }
                        say(words.join("; "), format!("-G {}", quote(&want.join(","))));
                    }
                }
                account = !flags.is_empty();
                if account {
                    script.push_str(&format!("usermod {} -- {n}\n", flags.join(" ")));
                }
                if let Some(p) = self.password.as_ref().filter(|_| self.compares_password()) {
                    match shadow {
                        Some(d) if d == super::copy::sha256_hex(format!("{p}\n").as_bytes()) => {}
                        Some("?") => {
                            return Err(format!(
                                "cannot read the shadow entry of {} (run as root: `become: true`)",
                                self.name
                            ));
                        }
                        Some(_) => {
                            changes
                                .push(Change::new(format!("user {}: password changed", self.name)));
                            script.push_str(&self.set_password(p));
                        }
                        None => return Err("the probe printed no shadow line".into()),
                    }
                }
            }
        }
        if let (Some(k), true) = (&self.ssh_key, self.present) {
            match (&now, &key) {
                (Some(f), Some(KeyFact { present: true, .. })) => {
                    result.extend(k.result(&f.home, key.as_ref().expect("matched")));
                }
                (Some(_), None) => return Err("the probe printed no key line".into()),
                _ => {
                    changes.push(Change::new(format!(
                        "user {}: generate SSH key {} ({})",
                        self.name, k.file, k.kind
                    )));
                    script.push_str(&k.script(&n));
                }
            }
        }
        if changes.is_empty() {
            return Ok(Plan {
                result,
                ..Plan::ok()
            });
        }
        // What the script touches: the account files when it runs useradd, usermod or
        // userdel; the shadow file for a password; the home for a new user or a key.
        let mut writes = Vec::new();
        if account {
            writes.push(Resource::Path("/etc/passwd".into()));
            writes.push(Resource::Path("/etc/group".into()));
        }
        if account || script.contains("\nchpasswd") {
            writes.push(Resource::Path("/etc/shadow".into()));
        }
        // A new user's home is written too (useradd -m copies /etc/skel there), so later
        // tasks under it are probed again instead of trusting a probe taken before.
        let new_home = (now.is_none() && self.present && self.create_home)
            .then(|| format!("{}/{}", default_home.trim_end_matches('/'), self.name));
        if let Some(h) = self
            .home
            .clone()
            .or_else(|| now.as_ref().map(|f| f.home.clone()))
            .or(new_home)
        {
            writes.push(Resource::Path(h));
        }
        if let Some(k) = self.ssh_key.as_ref().filter(|k| k.file.starts_with('/')) {
            writes.push(Resource::Path(k.file.clone()));
        }
        Ok(Plan {
            result,
            ..Plan::script(changes, script, writes)
        })
    }

    /// Sh that sets the password hash `p`: in a heredoc, so the logged script hides it.
    fn set_password(&self, p: &str) -> String {
        format!("chpasswd -e <<'PLUMB_EOF'\n{}:{p}\nPLUMB_EOF\n", self.name)
    }

    /// What Ansible registers besides `changed`: the account's name and state, its values
    /// when it exists, and never the password.
    fn result(&self, now: Option<&UserFact>) -> serde_json::Map<String, Value> {
        let mut m = serde_json::Map::new();
        m.insert("name".into(), Value::String(self.name.clone()));
        let state = if self.present { "present" } else { "absent" };
        m.insert("state".into(), Value::String(state.into()));
        if let (Some(f), true) = (now, self.present) {
            m.insert("uid".into(), f.uid.into());
            m.insert("home".into(), Value::String(f.home.clone()));
            m.insert("shell".into(), Value::String(f.shell.clone()));
            m.insert("comment".into(), Value::String(f.comment.clone()));
        }
        if self.password.is_some() {
            m.insert("password".into(), "NOT_LOGGING_PASSWORD".into());
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::Run;

    fn user() -> User {
        User {
            name: "app".into(),
            present: true,
            uid: None,
            group: Some("app".into()),
            groups: Some(vec!["www-data".into()]),
            append: false,
            shell: Some("/usr/sbin/nologin".into()),
            home: Some("/srv/app".into()),
            create_home: false,
            system: true,
            comment: None,
            remove: false,
            force: false,
            password: None,
            update_password: true,
            ssh_key: None,
        }
    }

    // Recorded on a Debian 12 host after `useradd -r -g app -G www-data -s /usr/sbin/nologin -d /srv/app -M app`.
    const THERE: &str =
        "passwd\tapp:x:999:998::/srv/app:/usr/sbin/nologin\nprimary\tapp\ngroups\tapp www-data\n";

    #[test]
    fn create_then_converged() {
        let p = user().plan("").unwrap();
        assert_eq!(p.changes[0].summary, "create user app");
        let Run::Script(s) = &p.run else { panic!() };
        assert!(
            s.contains("useradd -g app -G www-data -s /usr/sbin/nologin -d /srv/app -r -M -- app"),
            "{s}"
        );
        assert!(user().plan(THERE).unwrap().changes.is_empty());
        assert_eq!(User::parse(THERE).unwrap().unwrap().groups, ["www-data"]);
    }

    #[test]
    fn groups_exact_or_appended() {
        let mut u = user();
        u.groups = Some(vec!["adm".into()]);
        let p = u.plan(THERE).unwrap();
        assert_eq!(
            p.changes[0].summary,
            "user app: add to adm; remove from www-data"
        );
        let Run::Script(s) = &p.run else { panic!() };
        assert!(s.contains("usermod -G adm -- app"), "{s}");
        u.append = true;
        let p = u.plan(THERE).unwrap();
        assert_eq!(p.changes[0].summary, "user app: add to adm");
        let Run::Script(s) = &p.run else { panic!() };
        assert!(s.contains("usermod -a -G adm -- app"), "{s}");
        u.shell = Some("/bin/bash".into());
        let p = u.plan(THERE).unwrap();
        assert_eq!(p.changes.len(), 2);
    }

    #[test]
    fn a_new_users_home_is_among_the_writes() {
        let home = |p: &Plan| -> Vec<String> {
            p.writes
                .iter()
                .filter_map(|r| match r {
                    Resource::Path(p) if !p.starts_with("/etc/") => Some(p.clone()),
                    _ => None,
                })
                .collect()
        };
        let mut u = user();
        u.home = None;
        u.create_home = true;
        // The probe asks useradd where homes go only for a user it may create.
        assert!(u.probe().contains("useradd -D"), "{}", u.probe());
        // Recorded `useradd -D` line on Debian 12, as the probe prints it.
        let p = u.plan("defaulthome\t/home\n").unwrap();
        assert_eq!(p.changes[0].summary, "create user app");
        assert_eq!(home(&p), ["/home/app"]);
        let p = u.plan("defaulthome\t/var/home\n").unwrap();
        assert_eq!(home(&p), ["/var/home/app"]);
        // An existing user being changed: its home from getent.
        let mut w = u.clone();
        w.shell = Some("/bin/bash".into());
        assert_eq!(home(&w.plan(THERE).unwrap()), ["/srv/app"]);
        // `home:` given: that one, and useradd -D is not asked.
        let mut v = user();
        v.create_home = true;
        assert!(!v.probe().contains("useradd -D"));
        assert_eq!(home(&v.plan("").unwrap()), ["/srv/app"]);
        // The probe itself, run here for a name that does not exist: parses, names a home.
        let mut x = u.clone();
        x.name = "plumb-no-such-user".into();
        let out = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(x.probe())
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let p = x.plan(&String::from_utf8(out.stdout).unwrap()).unwrap();
        assert!(
            home(&p)[0].ends_with("/plumb-no-such-user"),
            "{:?}",
            home(&p)
        );
        // No home made: nothing written there.
        u.create_home = false;
        assert!(home(&u.plan("").unwrap()).is_empty());
    }

    #[test]
    fn absent_and_garbage() {
        let mut u = user();
        u.present = false;
        assert_eq!(u.plan(THERE).unwrap().changes[0].summary, "remove user app");
        assert!(u.plan("").unwrap().changes.is_empty());
        assert!(User::parse("passwd\tapp:x\n").is_err());
        assert!(User::parse("primary\tapp\n").is_err());
    }

    // A SHA-512 crypt hash of "secret" (`openssl passwd -6 -salt plumbsalt secret`).
    const HASH: &str = "$6$plumbsalt$ipA6HiVUVZsG1JSetZkMIasshE/Hoh/2b.BVxzg/qFXtMAKsDqrv/yd5fqsDPJ2YRNYiBPmV3QDyxqIWs5YXc/";

    #[test]
    fn the_password_is_compared_by_digest_and_never_shown() {
        let mut u = user();
        u.password = Some(HASH.into());
        let digest = crate::modules::copy::sha256_hex(format!("{HASH}\n").as_bytes());
        // The probe reads the shadow entry only to print its digest.
        assert!(u.probe().contains("getent shadow"), "{}", u.probe());
        let same = format!("{THERE}shadow\t{digest}\n");
        let p = u.plan(&same).unwrap();
        assert!(p.changes.is_empty());
        assert_eq!(p.result["password"], "NOT_LOGGING_PASSWORD");
        assert_eq!(p.result["home"], "/srv/app");
        let other = format!("{THERE}shadow\t{}\n", "0".repeat(64));
        let p = u.plan(&other).unwrap();
        assert_eq!(p.changes[0].summary, "user app: password changed");
        let Run::Script(s) = &p.run else { panic!() };
        assert!(s.contains(&format!(
            "chpasswd -e <<'PLUMB_EOF'\napp:{HASH}\nPLUMB_EOF\n"
        )));
        // Not in what is logged with -v either.
        assert!(!crate::execute::sketch(s).contains("plumbsalt"), "{s}");
        // A probe that could not read the entry is an error, never "no change".
        let e = u.plan(&format!("{THERE}shadow\t?\n")).unwrap_err();
        assert!(e.contains("become"), "{e}");
        assert!(u.plan(THERE).is_err());
        // A new user gets it after useradd.
        let p = u.plan("").unwrap();
        let sums: Vec<&str> = p.changes.iter().map(|c| c.summary.as_str()).collect();
        assert_eq!(sums, ["create user app", "user app: password set"]);
        // on_create: an existing user's password is not read, nor changed.
        u.update_password = false;
        assert!(!u.probe().contains("shadow"));
        assert!(u.plan(THERE).unwrap().changes.is_empty());
        assert_eq!(u.plan("").unwrap().changes.len(), 2);
    }

    #[test]
    fn an_ssh_key_is_made_once_and_registered() {
        let mut u = user();
        u.ssh_key = Some(SshKey {
            file: ".ssh/id_rsa".into(),
            kind: "rsa".into(),
            bits: Some(2048),
            comment: None,
        });
        assert!(u.probe().contains("ssh-keygen -lf"), "{}", u.probe());
        let p = u.plan(&format!("{THERE}key\tabsent\n")).unwrap();
        assert_eq!(
            p.changes[0].summary,
            "user app: generate SSH key .ssh/id_rsa (rsa)"
        );
        let Run::Script(s) = &p.run else { panic!() };
        assert!(s.contains("ssh-keygen -q -t rsa -b 2048 -C \"ansible-generated on $(uname -n)\" -N '' -f \"$f\""), "{s}");
        let there = format!(
            "{THERE}key\tpresent\npub\tssh-rsa AAAAB3Nza app@h\nfingerprint\t2048 SHA256:x app@h (RSA)\n"
        );
        let p = u.plan(&there).unwrap();
        assert!(p.changes.is_empty());
        assert_eq!(p.result["ssh_key_file"], "/srv/app/.ssh/id_rsa");
        assert_eq!(p.result["ssh_public_key"], "ssh-rsa AAAAB3Nza app@h");
        // Missing key facts for an existing user: an error.
        assert!(u.plan(THERE).is_err());
        // A new user: made after useradd.
        let p = u.plan("").unwrap();
        assert_eq!(p.changes.len(), 2);
    }

    #[test]
    fn force_and_remove_on_absent() {
        let mut u = user();
        u.present = false;
        u.force = true;
        u.remove = true;
        let Run::Script(s) = u.plan(THERE).unwrap().run else {
            panic!()
        };
        assert!(s.contains("userdel -r -f -- app"), "{s}");
    }
}
