//! `user`: a local account present (uid, primary and supplementary groups, shell, home,
//! comment) or absent, read with `getent` and `id`, changed with shadow-utils.

use super::args::Getter;
use super::group::check_name;
use super::{Change, Plan, Resource};
use crate::error::Result;
use crate::shell::quote;

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
            name,
        })
    }

    pub(crate) fn reads(&self) -> Vec<Resource> {
        vec![
            Resource::Path("/etc/passwd".into()),
            Resource::Path("/etc/group".into()),
        ]
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
        format!(
            "if p=$(getent passwd -- {n}); then printf 'passwd\\t%s\\n' \"$p\"; \
             printf 'primary\\t%s\\n' \"$(id -gn -- {n})\"; printf 'groups\\t%s\\n' \"$(id -Gn -- {n})\"; \
             {default_home}fi\n"
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
        let (default_home, facts): (Vec<&str>, Vec<&str>) =
            facts.lines().partition(|l| l.starts_with("defaulthome\t"));
        let default_home = default_home
            .first()
            .map_or("/home", |l| l["defaulthome\t".len()..].trim());
        let now = Self::parse(&facts.join("\n"))?;
        let n = quote(&self.name);
        let mut changes = Vec::new();
        let mut script = String::from("set -e\n");
        match (&now, self.present) {
            (None, false) => return Ok(Plan::ok()),
            (Some(_), false) => {
                changes.push(Change::new(format!("remove user {}", self.name)));
                let r = if self.remove { " -r" } else { "" };
                script.push_str(&format!("userdel{r} -- {n}\n"));
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
                if flags.is_empty() {
                    return Ok(Plan::ok());
                }
                script.push_str(&format!("usermod {} -- {n}\n", flags.join(" ")));
            }
        }
        let mut writes = self.reads();
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
        Ok(Plan::script(changes, script, writes))
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
}
