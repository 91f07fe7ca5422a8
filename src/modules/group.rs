//! `group`: a local group present (with its gid) or absent, read with `getent`.

use super::account_name::check_name;
use super::args::Getter;
use super::{Change, Plan, Resource};
use crate::error::Result;
use crate::shell::quote;

#[derive(Debug, Clone)]
pub(crate) struct Group {
    pub(crate) name: String,
    pub(crate) present: bool,
    pub(crate) gid: Option<u64>,
    pub(crate) system: bool,
}

/// A group as `getent group` prints it.
#[derive(Debug, PartialEq)]
pub(crate) struct GroupFact {
    pub(crate) gid: u64,
}

super::plain_module!(Group);

impl Group {
    pub(crate) fn build(a: &Getter) -> Result<Group> {
        let name = a.str("name")?;
        check_name(a, "name", &name)?;
        Ok(Group {
            present: a.choice("state", &["present", "absent"], "present")? == "present",
            gid: a.opt_u64("gid")?,
            system: a.bool("system", false)?,
            name,
        })
    }

    pub(crate) fn reads(&self) -> Vec<Resource> {
        vec![Resource::Path("/etc/group".into())]
    }

    pub(crate) fn probe(&self) -> String {
        format!("getent group -- {} || true\n", quote(&self.name))
    }

    /// `name:x:gid:members`, or nothing: the group is absent.
    pub(crate) fn parse(facts: &str, name: &str) -> std::result::Result<Option<GroupFact>, String> {
        for line in facts.lines().filter(|l| !l.trim().is_empty()) {
            let f: Vec<&str> = line.split(':').collect();
            if f.len() < 3 {
                return Err(format!("unexpected probe output: `{line}`"));
            }
            if f[0] == name {
                let gid = f[2]
                    .parse()
                    .map_err(|_| format!("unexpected probe output: `{line}`"))?;
                return Ok(Some(GroupFact { gid }));
            }
        }
        Ok(None)
    }

    pub(crate) fn plan(&self, facts: &str) -> std::result::Result<Plan, String> {
        let now = Self::parse(facts, &self.name)?;
        let n = quote(&self.name);
        let (summary, cmd) = match (&now, self.present) {
            (None, false) => return Ok(Plan::ok()),
            (Some(_), false) => (
                format!("remove group {}", self.name),
                format!("groupdel -- {n}"),
            ),
            (None, true) => {
                let mut c = String::from("groupadd");
                if let Some(g) = self.gid {
                    c.push_str(&format!(" -g {g}"));
                }
                if self.system {
                    c.push_str(" -r");
                }
                (format!("create group {}", self.name), format!("{c} -- {n}"))
            }
            (Some(f), true) => match self.gid {
                Some(g) if g != f.gid => (
                    format!("group {}: gid {} → {g}", self.name, f.gid),
                    format!("groupmod -g {g} -- {n}"),
                ),
                _ => return Ok(Plan::ok()),
            },
        };
        Ok(Plan::script(
            vec![Change::new(summary)],
            format!("set -e\n{cmd}\n"),
            self.reads(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::Run;

    fn group(present: bool, gid: Option<u64>) -> Group {
        Group {
            name: "app".into(),
            present,
            gid,
            system: true,
        }
    }

    #[test]
    fn creates_changes_gid_and_removes() {
        let absent = "";
        let there = "app:x:998:\n";
        let p = group(true, None).plan(absent).unwrap();
        assert_eq!(p.changes[0].summary, "create group app");
        assert!(
            matches!(&p.run, Run::Script(s) if s.contains("groupadd -r -- 'app'") || s.contains("groupadd -r -- app"))
        );
        assert!(group(true, None).plan(there).unwrap().changes.is_empty());
        assert!(
            group(true, Some(998))
                .plan(there)
                .unwrap()
                .changes
                .is_empty()
        );
        let p = group(true, Some(1500)).plan(there).unwrap();
        assert_eq!(p.changes[0].summary, "group app: gid 998 → 1500");
        assert_eq!(
            group(false, None).plan(there).unwrap().changes[0].summary,
            "remove group app"
        );
        assert!(group(false, None).plan(absent).unwrap().changes.is_empty());
        assert!(Group::parse("garbage\n", "app").is_err());
    }
}
