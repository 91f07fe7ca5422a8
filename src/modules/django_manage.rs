//! `django_manage` (`community.general.django_manage`): `python manage.py COMMAND` in the
//! project's directory, with the project's Python (the virtualenv's `bin/python`, else the
//! host's `python3`). `migrate` and `collectstatic` are planned from what Django itself says
//! (`showmigrations --plan`: any `[ ]` is a migration to apply; `collectstatic --dry-run`:
//! `N static files copied` with N > 0), so a converged project is `ok`; every other command
//! runs each time and is `may-change`, like `command`.

use super::args::Getter;
use super::{Change, Plan, Resource, Run};
use crate::error::Result;
use crate::shell::quote;
use base64::Engine;

#[derive(Debug, Clone)]
pub(crate) struct DjangoManage {
    /// The subcommand and its own arguments (`migrate`, `loaddata a.json`).
    pub argv: Vec<String>,
    pub project: String,
    pub settings: Option<String>,
    pub virtualenv: Option<String>,
    pub pythonpath: Option<String>,
    pub database: Option<String>,
    pub fixtures: Vec<String>,
    pub apps: Vec<String>,
    pub link: bool,
    pub clear: bool,
}

impl super::Module for DjangoManage {
    fn probe(&self) -> Option<String> {
        DjangoManage::probe(self)
    }
    fn reads(&self) -> Vec<Resource> {
        DjangoManage::reads(self)
    }
    fn plan(&self, facts: &str) -> std::result::Result<Plan, String> {
        DjangoManage::plan(self, facts)
    }
}

impl DjangoManage {
    pub(crate) fn build(a: &Getter) -> Result<DjangoManage> {
        let text = a.str("command")?;
        let argv = crate::shell::split(&text)
            .ok()
            .filter(|v| !v.is_empty())
            .ok_or_else(|| a.err("command", format!("cannot split `{text}` into words")))?;
        if argv[0].starts_with('-') {
            return Err(a.err("command", "`command` starts with the subcommand's name"));
        }
        let key = ["project_path", "app_path", "chdir"]
            .into_iter()
            .find(|k| a.has(k))
            .unwrap_or("project_path");
        let project = a
            .opt_path(key)?
            .ok_or_else(|| a.err(key, "`project_path` is required"))?;
        let venv = ["virtualenv", "virtual_env"]
            .into_iter()
            .find(|k| a.has(k))
            .unwrap_or("virtualenv");
        let ppath = ["pythonpath", "python_path"]
            .into_iter()
            .find(|k| a.has(k))
            .unwrap_or("pythonpath");
        let split = |k: &str| -> Result<Vec<String>> {
            Ok(a.opt_str(k)?
                .map(|s| s.split_whitespace().map(String::from).collect())
                .unwrap_or_default())
        };
        Ok(DjangoManage {
            argv,
            project,
            settings: a.opt_str("settings")?,
            virtualenv: a.opt_path(venv)?,
            pythonpath: a.opt_str(ppath)?,
            database: a.opt_str("database")?,
            fixtures: split("fixtures")?,
            apps: split("apps")?,
            link: a.bool("link", false)?,
            clear: a.bool("clear", false)?,
        })
    }

    pub(crate) fn reads(&self) -> Vec<Resource> {
        vec![Resource::Path(self.project.clone())]
    }

    fn cmd(&self) -> &str {
        &self.argv[0]
    }

    /// `cd PROJECT && … PYTHON manage.py` with the environment Ansible sets up.
    fn base(&self) -> String {
        let mut s = format!("cd -- {} && ", quote(&self.project));
        let py = match &self.virtualenv {
            Some(v) => {
                s.push_str(&format!(
                    "VIRTUAL_ENV={v} PATH={v}/bin:\"$PATH\" ",
                    v = quote(v)
                ));
                format!("{}/bin/python", quote(v))
            }
            None => "python3".into(),
        };
        s.push_str(&format!("{py} manage.py"));
        s
    }

    fn common(&self) -> String {
        let mut s = String::new();
        if let Some(v) = &self.settings {
            s.push_str(&format!(" {}", quote(&format!("--settings={v}"))));
        }
        if let Some(v) = &self.pythonpath {
            s.push_str(&format!(" {}", quote(&format!("--pythonpath={v}"))));
        }
        s
    }

    fn db(&self) -> String {
        self.database
            .as_ref()
            .map(|d| format!(" {}", quote(&format!("--database={d}"))))
            .unwrap_or_default()
    }

    /// The command line that does the work, as Ansible builds it.
    pub(crate) fn line(&self) -> String {
        let mut s = self.base();
        for w in &self.argv {
            s.push_str(&format!(" {}", quote(w)));
        }
        s.push_str(&self.common());
        let c = self.cmd();
        if matches!(c, "flush" | "migrate" | "test" | "collectstatic") {
            s.push_str(" --noinput");
        }
        if matches!(c, "flush" | "migrate" | "loaddata" | "createcachetable") {
            s.push_str(&self.db());
        }
        if c == "collectstatic" {
            if self.link {
                s.push_str(" --link");
            }
            if self.clear {
                s.push_str(" --clear");
            }
        }
        let pos = match c {
            "loaddata" => &self.fixtures,
            "test" => &self.apps,
            _ => &Vec::new(),
        };
        for w in pos {
            s.push_str(&format!(" {}", quote(w)));
        }
        s
    }

    /// Only `migrate` and `collectstatic` are read; the rest always run.
    pub(crate) fn probe(&self) -> Option<String> {
        let check = match self.cmd() {
            "migrate" => format!(
                "{} showmigrations --plan{}{}",
                self.base(),
                self.common(),
                self.db()
            ),
            "collectstatic" if !self.clear => format!(
                "{} collectstatic --noinput --dry-run{}{}",
                self.base(),
                self.common(),
                if self.link { " --link" } else { "" }
            ),
            _ => return None,
        };
        Some(format!(
            "printf 'out\\t'; plumb_v=$( ( {check} ) </dev/null 2>&1); plumb_rc=$?; printf '%s' \"$plumb_v\" | base64 -w0; printf '\\nrc\\t%s\\n' \"$plumb_rc\"\n"
        ))
    }

    pub(crate) fn plan(&self, facts: &str) -> std::result::Result<Plan, String> {
        let line = self.line();
        let runs = |summary: String, uncertain: bool| -> Plan {
            Plan {
                batch: None,
                starts: None,
                changes: vec![Change::new(summary)],
                run: if uncertain {
                    Run::Command(format!("{line} </dev/null\n"))
                } else {
                    Run::Script(format!("set -e\n{line} </dev/null\n"))
                },
                writes: vec![Resource::All],
                uncertain,
                result: Default::default(),
            }
        };
        let words = self.argv.join(" ");
        if self.probe().is_none() {
            return Ok(runs(format!("run manage.py {words}"), true));
        }
        let mut out = None;
        let mut rc = None;
        for l in facts.lines() {
            match l.split_once('\t') {
                Some(("out", v)) => {
                    let b = base64::engine::general_purpose::STANDARD
                        .decode(v.trim())
                        .map_err(|e| format!("unexpected probe output: {e}"))?;
                    out = Some(String::from_utf8_lossy(&b).into_owned());
                }
                Some(("rc", v)) => rc = Some(v.trim().to_string()),
                _ => return Err(format!("unexpected probe output: {}", facts.trim())),
            }
        }
        let (Some(out), Some(rc)) = (out, rc) else {
            return Err(format!("unexpected probe output: {}", facts.trim()));
        };
        if rc != "0" {
            let tail: Vec<&str> = out.lines().rev().take(8).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            return Err(format!(
                "manage.py in {} failed (exit {rc}): {}",
                self.project,
                tail.join("\n")
            ));
        }
        if self.cmd() == "migrate" {
            let pending: Vec<&str> = out
                .lines()
                .filter_map(|l| l.strip_prefix("[ ]"))
                .map(str::trim)
                .collect();
            if pending.is_empty() {
                return Ok(Plan::ok());
            }
            let first = pending
                .iter()
                .take(3)
                .copied()
                .collect::<Vec<_>>()
                .join(", ");
            let more = if pending.len() > 3 { ", …" } else { "" };
            // Arguments after `migrate` (an app, a target) make the count a guess.
            return Ok(runs(
                format!(
                    "migrate: {} unapplied migration{} ({first}{more})",
                    pending.len(),
                    if pending.len() == 1 { "" } else { "s" }
                ),
                self.argv.len() > 1,
            ));
        }
        // collectstatic --dry-run: "N static files copied to '…', M unmodified."
        let n = out
            .lines()
            .rev()
            .find_map(|l| {
                let (n, rest) = l.trim().split_once(' ')?;
                (rest.starts_with("static file")
                    && (rest.contains("copied") || rest.contains("symlinked")))
                .then(|| n.parse::<u64>().ok())?
            })
            .ok_or_else(|| format!("collectstatic --dry-run said: {}", out.trim()))?;
        if n == 0 {
            return Ok(Plan::ok());
        }
        Ok(runs(
            format!(
                "collectstatic: {n} static file{} to copy",
                if n == 1 { "" } else { "s" }
            ),
            false,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::args::Args;
    use serde_json::{Map, Value, json};
    use std::collections::HashMap;
    use std::sync::Arc;

    fn dm(args: Value) -> std::result::Result<DjangoManage, String> {
        let map: Map<String, Value> = args.as_object().unwrap().clone();
        let args = Args {
            map: map.clone(),
            locs: HashMap::new(),
            key_locs: HashMap::new(),
            loc: crate::location::Location::new(&Arc::new("t.yml".into()), 1, 1),
        };
        DjangoManage::build(&Getter::new(&map, &args)).map_err(|e| e.to_string())
    }

    fn facts(out: &str, rc: u8) -> String {
        format!(
            "out\t{}\nrc\t{rc}\n",
            base64::engine::general_purpose::STANDARD.encode(out)
        )
    }

    // Recorded on Debian 12 (python3-django 3.2).
    const PENDING: &str = "[ ]  contenttypes.0001_initial\n[ ]  auth.0001_initial\n[ ]  admin.0001_initial\n[ ]  sessions.0001_initial\n";
    const APPLIED: &str = "[X]  contenttypes.0001_initial\n[X]  auth.0001_initial\n";

    #[test]
    fn command_lines_follow_ansible() {
        let m = dm(json!({"command": "migrate", "project_path": "/srv/app", "virtualenv": "/srv/venv", "settings": "mysite.prod", "database": "default"})).unwrap();
        assert_eq!(
            m.line(),
            "cd -- /srv/app && VIRTUAL_ENV=/srv/venv PATH=/srv/venv/bin:\"$PATH\" /srv/venv/bin/python manage.py migrate --settings=mysite.prod --noinput --database=default"
        );
        let m =
            dm(json!({"command": "loaddata", "app_path": "/srv/app", "fixtures": "a.json b.json"}))
                .unwrap();
        assert_eq!(
            m.line(),
            "cd -- /srv/app && python3 manage.py loaddata a.json b.json"
        );
        assert!(m.probe().is_none());
        let p = m.plan("").unwrap();
        assert!(p.uncertain);
        assert_eq!(p.changes[0].summary, "run manage.py loaddata");
    }

    #[test]
    fn migrate_and_collectstatic_from_djangos_own_answers() {
        let m = dm(json!({"command": "migrate", "project_path": "/srv/app"})).unwrap();
        let p = m.plan(&facts(PENDING, 0)).unwrap();
        assert_eq!(
            p.changes[0].summary,
            "migrate: 4 unapplied migrations (contenttypes.0001_initial, auth.0001_initial, admin.0001_initial, …)"
        );
        assert!(!p.uncertain);
        assert!(m.plan(&facts(APPLIED, 0)).unwrap().changes.is_empty());
        let c = dm(json!({"command": "collectstatic", "project_path": "/srv/app"})).unwrap();
        let p = c
            .plan(&facts(
                "\n120 static files copied to '/srv/app/static'.\n",
                0,
            ))
            .unwrap();
        assert_eq!(
            p.changes[0].summary,
            "collectstatic: 120 static files to copy"
        );
        let ok = "\n0 static files copied to '/srv/app/static', 120 unmodified.\n";
        assert!(c.plan(&facts(ok, 0)).unwrap().changes.is_empty());
    }

    #[test]
    fn errors() {
        let m = dm(json!({"command": "migrate", "project_path": "/srv/app"})).unwrap();
        let e = m
            .plan(&facts(
                "Traceback …\nModuleNotFoundError: No module named 'mysite'\n",
                1,
            ))
            .unwrap_err();
        assert!(e.contains("No module named"), "{e}");
        assert!(m.plan("").is_err());
        let c = dm(json!({"command": "collectstatic", "project_path": "/srv/app"})).unwrap();
        assert!(c.plan(&facts("something else\n", 0)).is_err());
        assert!(dm(json!({"command": "migrate"})).is_err());
        assert!(dm(json!({"command": "--x", "project_path": "/srv/app"})).is_err());
        assert!(dm(json!({"command": "migrate", "project_path": "srv"})).is_err());
    }
}
