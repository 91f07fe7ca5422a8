//! `supervisorctl` (`community.general.supervisorctl`): a supervisord program (or a group,
//! `name:`) present, started, stopped, restarted or absent, read from `supervisorctl status`.
//! A program the daemon does not know yet is `reread` and `add`ed first, as Ansible does.

use super::args::Getter;
use super::sql::fields;
use super::{Change, Plan, Resource};
use crate::error::Result;
use crate::shell::quote;

#[derive(Debug, Clone)]
pub(crate) struct Supervisorctl {
    pub name: String,
    pub state: String,
    /// `supervisorctl` with `-c`/`-s`/`-u`/`-p`.
    pub ctl: String,
    pub stop_before_removing: bool,
}

const STATES: &[&str] = &[
    "STOPPED", "STARTING", "RUNNING", "BACKOFF", "STOPPING", "EXITED", "FATAL", "UNKNOWN",
];

super::plain_module!(Supervisorctl);

impl Supervisorctl {
    pub(crate) fn build(a: &Getter) -> Result<Supervisorctl> {
        let name = a.str("name")?;
        if name.is_empty()
            || name.starts_with('-')
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.:-".contains(c))
        {
            return Err(a.err("name", format!("`{name}` is not a program or group name")));
        }
        let state = a.choice(
            "state",
            &["present", "started", "stopped", "restarted", "absent"],
            "present",
        )?;
        let mut ctl = match a.opt_path("supervisorctl_path")? {
            Some(p) => quote(&p),
            None => "supervisorctl".into(),
        };
        for (k, flag) in [
            ("config", "-c"),
            ("server_url", "-s"),
            ("username", "-u"),
            ("password", "-p"),
        ] {
            if let Some(v) = a.opt_str(k)? {
                if v.contains(|c: char| c.is_control()) {
                    return Err(a.err(k, format!("`{k}` must be one line")));
                }
                ctl.push_str(&format!(" {flag} {}", quote(&v)));
            }
        }
        Ok(Supervisorctl {
            name,
            state,
            ctl,
            stop_before_removing: a.bool("stop_before_removing", false)?,
        })
    }

    pub(crate) fn reads(&self) -> Vec<Resource> {
        vec![
            Resource::Path("/etc/supervisor".into()),
            Resource::Unit("supervisor.service".into()),
        ]
    }

    pub(crate) fn probe(&self) -> String {
        format!(
            "printf 'status\\t'; plumb_v=$({} status 2>&1); plumb_rc=$?; printf '%s' \"$plumb_v\" | base64 -w0; printf '\\nstatus_rc\\t%s\\n' \"$plumb_rc\"\n",
            self.ctl
        )
    }

    /// Runs `supervisorctl ARGS`; its "ERROR" answers fail the task (its exit code does not
    /// always say so).
    fn cmd(&self, args: &str) -> String {
        format!(
            "plumb_o=$({} {args} 2>&1) || {{ printf '%s\\n' \"$plumb_o\" >&2; exit 1; }}\nprintf '%s\\n' \"$plumb_o\"\ncase $plumb_o in *ERROR*) exit 1 ;; esac\n",
            self.ctl
        )
    }

    pub(crate) fn plan(&self, facts: &str) -> std::result::Result<Plan, String> {
        let f = fields(facts)?;
        let (out, _rc) = f
            .get("status")
            .ok_or_else(|| format!("unexpected probe output: {}", facts.trim()))?;
        // `status` exits 3 when a process is not running: the lines say what is wrong.
        let mut procs = Vec::new();
        for l in out.lines().filter(|l| !l.trim().is_empty()) {
            let mut w = l.split_whitespace();
            match (w.next(), w.next()) {
                (Some(n), Some(s)) if STATES.contains(&s) => {
                    procs.push((n.to_string(), s.to_string()))
                }
                _ => return Err(format!("supervisorctl status: {}", out.trim())),
            }
        }
        let group = self.name.ends_with(':');
        let mine: Vec<&(String, String)> = procs
            .iter()
            .filter(|(n, _)| {
                if group {
                    n.starts_with(&self.name)
                } else {
                    *n == self.name
                }
            })
            .collect();
        let target = if group {
            format!("{}*", self.name)
        } else {
            self.name.clone()
        };
        let t = quote(&target);
        let bare = self.name.trim_end_matches(':');
        let mut changes = Vec::new();
        let mut script = String::from("set -e\n");
        let known = !mine.is_empty();
        if !known && self.state != "absent" && self.state != "stopped" {
            changes.push(Change::new(format!(
                "add {bare} (reread the configuration)"
            )));
            script.push_str(&self.cmd("reread"));
            script.push_str(&self.cmd(&format!("add {}", quote(bare))));
        }
        let running = |s: &str| matches!(s, "RUNNING" | "STARTING" | "BACKOFF");
        match self.state.as_str() {
            "started" => {
                let stopped: Vec<&str> = mine
                    .iter()
                    .filter(|(_, s)| !running(s))
                    .map(|(n, _)| n.as_str())
                    .collect();
                if !known || !stopped.is_empty() {
                    changes.push(Change::new(if known {
                        format!("start {}", stopped.join(", "))
                    } else {
                        format!("start {bare}")
                    }));
                    script.push_str(&self.cmd(&format!("start {t}")));
                }
            }
            "stopped" => {
                let up: Vec<&str> = mine
                    .iter()
                    .filter(|(_, s)| running(s))
                    .map(|(n, _)| n.as_str())
                    .collect();
                if !up.is_empty() {
                    changes.push(Change::new(format!("stop {}", up.join(", "))));
                    script.push_str(&self.cmd(&format!("stop {t}")));
                }
            }
            "restarted" => {
                changes.push(Change::new(format!("restart {bare}")));
                script.push_str(&self.cmd(&format!("restart {t}")));
            }
            "absent" if known => {
                if self.stop_before_removing || mine.iter().any(|(_, s)| running(s)) {
                    script.push_str(&self.cmd(&format!("stop {t}")));
                }
                changes.push(Change::new(format!("remove {bare}")));
                script.push_str(&self.cmd(&format!("remove {}", quote(bare))));
            }
            _ => {}
        }
        if changes.is_empty() {
            return Ok(Plan::ok());
        }
        Ok(Plan::script(
            changes,
            script,
            vec![Resource::Unit("supervisor.service".into())],
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::Run;
    use crate::modules::args::Args;
    use base64::Engine;
    use serde_json::{Map, Value, json};
    use std::collections::HashMap;
    use std::sync::Arc;

    fn sv(args: Value) -> std::result::Result<Supervisorctl, String> {
        let map: Map<String, Value> = args.as_object().unwrap().clone();
        let args = Args {
            map: map.clone(),
            locs: HashMap::new(),
            key_locs: HashMap::new(),
            loc: crate::location::Location::new(&Arc::new("t.yml".into()), 1, 1),
        };
        Supervisorctl::build(&Getter::new(&map, &args)).map_err(|e| e.to_string())
    }

    fn facts(out: &str, rc: u8) -> String {
        format!(
            "status\t{}\nstatus_rc\t{rc}\n",
            base64::engine::general_purpose::STANDARD.encode(out)
        )
    }

    // Recorded on Debian 12 (supervisor 4.2.5).
    const STOPPED: &str = "sleeper                          STOPPED   Not started\n";
    const RUNNING: &str = "sleeper                          RUNNING   pid 3869, uptime 0:00:01\n";
    const GROUP: &str = "web:web_00                       RUNNING   pid 10, uptime 0:01:00\nweb:web_01                       STOPPED   Mar 01 10:00 AM\n";

    fn summaries(p: &Plan) -> Vec<&str> {
        p.changes.iter().map(|c| c.summary.as_str()).collect()
    }

    #[test]
    fn table() {
        let table: &[(Value, &str, u8, &[&str])] = &[
            (
                json!({"name": "sleeper", "state": "started"}),
                "",
                0,
                &["add sleeper (reread the configuration)", "start sleeper"],
            ),
            (
                json!({"name": "sleeper", "state": "started"}),
                STOPPED,
                3,
                &["start sleeper"],
            ),
            (
                json!({"name": "sleeper", "state": "started"}),
                RUNNING,
                0,
                &[],
            ),
            (
                json!({"name": "sleeper", "state": "present"}),
                STOPPED,
                3,
                &[],
            ),
            (
                json!({"name": "sleeper", "state": "present"}),
                "",
                0,
                &["add sleeper (reread the configuration)"],
            ),
            (
                json!({"name": "sleeper", "state": "stopped"}),
                RUNNING,
                0,
                &["stop sleeper"],
            ),
            (
                json!({"name": "sleeper", "state": "stopped"}),
                STOPPED,
                3,
                &[],
            ),
            (
                json!({"name": "sleeper", "state": "restarted"}),
                RUNNING,
                0,
                &["restart sleeper"],
            ),
            (
                json!({"name": "sleeper", "state": "absent"}),
                RUNNING,
                0,
                &["remove sleeper"],
            ),
            (json!({"name": "sleeper", "state": "absent"}), "", 0, &[]),
            (
                json!({"name": "web:", "state": "started"}),
                GROUP,
                3,
                &["start web:web_01"],
            ),
        ];
        for (args, out, rc, want) in table {
            let p = sv(args.clone()).unwrap().plan(&facts(out, *rc)).unwrap();
            assert_eq!(summaries(&p), *want, "{args}");
        }
    }

    #[test]
    fn commands() {
        let s = sv(json!({"name": "web:", "state": "started", "config": "/etc/sv.conf", "server_url": "unix:///run/sv.sock"})).unwrap();
        let p = s.plan(&facts(GROUP, 3)).unwrap();
        let Run::Script(sh) = &p.run else { panic!() };
        assert!(
            sh.contains("supervisorctl -c /etc/sv.conf -s unix:///run/sv.sock start 'web:*'"),
            "{sh}"
        );
    }

    #[test]
    fn errors() {
        let s = sv(json!({"name": "sleeper", "state": "started"})).unwrap();
        let e = s
            .plan(&facts("unix:///var/run/supervisor.sock no such file\n", 4))
            .unwrap_err();
        assert!(e.contains("no such file"), "{e}");
        assert!(s.plan("").is_err());
        assert!(sv(json!({"name": "a b"})).is_err());
        assert!(sv(json!({"name": "-x"})).is_err());
        assert!(sv(json!({"name": "x", "state": "signalled"})).is_err());
    }
}
