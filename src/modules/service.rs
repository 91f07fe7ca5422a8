//! `systemd_service` (alias `service`): a unit's running and enabled state, and daemon-reload
//! when its unit file changed on disk.

use super::args::Getter;
use super::{Change, Plan, Resource, Run};
use crate::error::Result;
use crate::shell::quote;
use std::collections::HashMap;

#[derive(Debug, Clone)]
pub(crate) struct Service {
    /// Full unit name (`nginx` becomes `nginx.service`); None for a bare daemon-reload.
    pub(crate) unit: Option<String>,
    pub(crate) state: Option<String>,
    pub(crate) enabled: Option<bool>,
    pub(crate) daemon_reload: bool,
}

const UNIT_SUFFIXES: &[&str] = &[
    ".service", ".socket", ".timer", ".target", ".mount", ".path", ".slice",
];

pub(crate) const PROPS: &str =
    "Id,LoadState,ActiveState,SubState,UnitFileState,NeedDaemonReload,MainPID";

impl super::Module for Service {
    fn probe(&self) -> Option<String> {
        Some(Service::probe(self))
    }
    fn reads(&self) -> Vec<Resource> {
        Service::reads(self)
    }
    fn plan(&self, facts: &str) -> std::result::Result<Plan, String> {
        Service::plan(self, facts)
    }
    fn need(&self) -> super::Need {
        match &self.unit {
            Some(u) => super::Need::Unit(u.clone()),
            None => super::Need::Own,
        }
    }
    fn restarts(&self) -> Option<&str> {
        match self.state.as_deref() {
            Some("restarted" | "reloaded") => self.unit.as_deref(),
            _ => None,
        }
    }
}

impl Service {
    pub(crate) fn build(a: &Getter) -> Result<Service> {
        let unit = a.opt_str("name")?.map(|n| {
            if UNIT_SUFFIXES.iter().any(|s| n.ends_with(s)) {
                n
            } else {
                format!("{n}.service")
            }
        });
        let state = match a.opt_str("state")? {
            None => None,
            Some(_) => Some(a.choice(
                "state",
                &["started", "stopped", "restarted", "reloaded"],
                "started",
            )?),
        };
        let enabled = a.opt_bool("enabled")?;
        let daemon_reload = a.bool("daemon_reload", false)?;
        if unit.is_none() && (state.is_some() || enabled.is_some()) {
            return Err(a.err("state", "`state` and `enabled` need the unit's `name`"));
        }
        if unit.is_some() && state.is_none() && enabled.is_none() && !daemon_reload {
            return Err(a.err(
                "name",
                "nothing to do: give `state`, `enabled` or `daemon_reload`",
            ));
        }
        // `service`'s `sleep` (between a restart's stop and start): checked, and unused under
        // systemd, as Ansible's `service` ignores it there ("not used in systemd").
        a.opt_u64("sleep")?;
        Ok(Service {
            unit,
            state,
            enabled,
            daemon_reload,
        })
    }

    pub(crate) fn reads(&self) -> Vec<Resource> {
        let Some(u) = &self.unit else {
            return vec![
                Resource::Path("/etc/systemd/system".into()),
                Resource::Unit("*".into()),
            ];
        };
        let mut r = vec![Resource::Unit(u.clone())];
        for dir in [
            "/etc/systemd/system",
            "/lib/systemd/system",
            "/usr/lib/systemd/system",
        ] {
            r.push(Resource::Path(format!("{dir}/{u}")));
            r.push(Resource::Path(format!("{dir}/{u}.d")));
        }
        r
    }

    pub(crate) fn probe(&self) -> String {
        match &self.unit {
            Some(u) => format!("systemctl show -p {PROPS} -- {} 2>&1", quote(u)),
            // Any loaded unit whose file changed on disk since the last daemon-reload.
            None => "systemctl show -p Id,NeedDaemonReload -- $(systemctl list-units --all --plain --no-legend --no-pager 2>/dev/null | cut -d' ' -f1 | grep -v '^●') 2>&1 | grep -B1 '^NeedDaemonReload=yes' | sed -n 's/^Id=/stale=/p'; echo done=1".into(),
        }
    }

    pub(crate) fn parse(facts: &str) -> std::result::Result<HashMap<String, String>, String> {
        let mut m = HashMap::new();
        for line in facts.lines().filter(|l| !l.is_empty()) {
            match line.split_once('=') {
                Some((k, v)) if k.chars().all(|c| c.is_ascii_alphanumeric()) => {
                    m.insert(k.to_string(), v.to_string());
                }
                _ => return Err(format!("systemctl: {}", facts.trim())),
            }
        }
        Ok(m)
    }

    pub(crate) fn plan(&self, facts: &str) -> std::result::Result<Plan, String> {
        let f = Self::parse(facts)?;
        let Some(unit) = &self.unit else {
            if !f.contains_key("done") {
                return Err(format!("unexpected probe output: {}", facts.trim()));
            }
            return Ok(match f.get("stale") {
                None => Plan::ok(),
                Some(u) => Plan::script(
                    vec![Change::new(format!("daemon-reload ({u} changed on disk)"))],
                    "systemctl daemon-reload\n".into(),
                    vec![Resource::Unit("*".into())],
                ),
            });
        };
        let get = |k: &str| f.get(k).map(String::as_str).unwrap_or("");
        if !f.contains_key("LoadState") {
            return Err(format!("systemctl: {}", facts.trim()));
        }
        let q = quote(unit);
        let mut changes = Vec::new();
        let mut script = String::from("set -e\n");
        // When the run fails, say why: the unit's status and its last log lines.
        let why = format!(
            "|| {{ rc=$?; systemctl status --no-pager --lines=20 -- {q} 2>&1 || true; exit $rc; }}"
        );
        let mut writes = vec![Resource::Unit(unit.clone())];
        if self.daemon_reload && get("NeedDaemonReload") == "yes" {
            changes.push(Change::new(format!(
                "daemon-reload ({unit} changed on disk)"
            )));
            script.push_str("systemctl daemon-reload\n");
            writes.push(Resource::Unit("*".into()));
        }
        match get("LoadState") {
            "loaded" => {}
            "not-found" if self.state.is_some() || self.enabled.is_some() => {
                return Err(format!("unit {unit} not found"));
            }
            "masked" if self.state.is_some() || self.enabled.is_some() => {
                return Err(format!("unit {unit} is masked"));
            }
            _ => {}
        }
        let file_state = get("UnitFileState");
        match self.enabled {
            Some(true)
                if !matches!(
                    file_state,
                    "enabled" | "enabled-runtime" | "static" | "indirect" | "generated" | "alias"
                ) =>
            {
                changes.push(Change::new(format!(
                    "enable {unit} (was {})",
                    or_none(file_state)
                )));
                script.push_str(&format!("systemctl enable -- {q}\n"));
            }
            Some(false) if matches!(file_state, "enabled" | "enabled-runtime") => {
                changes.push(Change::new(format!("disable {unit}")));
                script.push_str(&format!("systemctl disable -- {q}\n"));
            }
            _ => {}
        }
        let active = get("ActiveState");
        let running = matches!(active, "active" | "activating" | "reloading");
        let mut starts = None;
        match self.state.as_deref() {
            Some("started") if !running => {
                changes.push(Change::new(format!(
                    "start {unit} (was {})",
                    or_none(active)
                )));
                script.push_str(&format!("systemctl start -- {q} {why}\n"));
                starts = Some(unit.clone());
            }
            Some("stopped") if running => {
                changes.push(Change::new(format!("stop {unit}")));
                script.push_str(&format!("systemctl stop -- {q}\n"));
            }
            Some("restarted") => {
                let verb = if running { "restart" } else { "start" };
                changes.push(Change::new(format!("{verb} {unit}")));
                script.push_str(&format!("systemctl restart -- {q} {why}\n"));
                starts = Some(unit.clone());
            }
            Some("reloaded") => {
                if running {
                    changes.push(Change::new(format!("reload {unit}")));
                    script.push_str(&format!("systemctl reload -- {q} {why}\n"));
                } else {
                    changes.push(Change::new(format!(
                        "start {unit} (was {})",
                        or_none(active)
                    )));
                    script.push_str(&format!("systemctl start -- {q} {why}\n"));
                    starts = Some(unit.clone());
                }
            }
            _ => {}
        }
        if changes.is_empty() {
            return Ok(Plan::ok());
        }
        Ok(Plan {
            batch: None,
            starts,
            changes,
            run: Run::Script(script),
            writes,
            uncertain: false,
            result: Default::default(),
        })
    }
}

fn or_none(s: &str) -> &str {
    if s.is_empty() { "unknown" } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc(state: Option<&str>, enabled: Option<bool>, reload: bool) -> Service {
        Service {
            unit: Some("uwsgi-myproject.service".into()),
            state: state.map(String::from),
            enabled,
            daemon_reload: reload,
        }
    }

    // Recorded from `systemctl show` on a Debian 12 host.
    const RUNNING: &str = "Id=uwsgi-myproject.service\nLoadState=loaded\nActiveState=active\nSubState=running\nUnitFileState=enabled\nNeedDaemonReload=no\nMainPID=812\n";
    const STOPPED: &str = "Id=uwsgi-myproject.service\nLoadState=loaded\nActiveState=inactive\nSubState=dead\nUnitFileState=disabled\nNeedDaemonReload=yes\nMainPID=0\n";
    const MISSING: &str = "Id=nope.service\nLoadState=not-found\nActiveState=inactive\nSubState=dead\nUnitFileState=\nNeedDaemonReload=no\nMainPID=0\n";

    #[test]
    fn converged_is_ok() {
        assert!(
            svc(Some("started"), Some(true), true)
                .plan(RUNNING)
                .unwrap()
                .changes
                .is_empty()
        );
    }

    #[test]
    fn stopped_unit_is_started_enabled_reloaded() {
        let p = svc(Some("started"), Some(true), true)
            .plan(STOPPED)
            .unwrap();
        let s: Vec<_> = p.changes.iter().map(|c| c.summary.as_str()).collect();
        assert_eq!(
            s,
            [
                "daemon-reload (uwsgi-myproject.service changed on disk)",
                "enable uwsgi-myproject.service (was disabled)",
                "start uwsgi-myproject.service (was inactive)"
            ]
        );
    }

    /// (state, recorded facts, the unit the plan says it starts)
    #[test]
    fn plans_say_which_unit_they_start() {
        let unit = Some("uwsgi-myproject.service");
        let table = [
            ("started", STOPPED, unit),
            ("started", RUNNING, None),
            ("restarted", RUNNING, unit),
            ("restarted", STOPPED, unit),
            ("reloaded", RUNNING, None),
            ("reloaded", STOPPED, unit),
            ("stopped", RUNNING, None),
        ];
        for (state, facts, starts) in table {
            let p = svc(Some(state), None, false).plan(facts).unwrap();
            assert_eq!(p.starts.as_deref(), starts, "{state}");
        }
    }

    #[test]
    fn restart_always_changes() {
        let p = svc(Some("restarted"), None, false).plan(RUNNING).unwrap();
        assert_eq!(p.changes[0].summary, "restart uwsgi-myproject.service");
    }

    #[test]
    fn missing_unit_is_an_error() {
        let e = svc(Some("started"), None, false)
            .plan(MISSING)
            .err()
            .unwrap();
        assert_eq!(e, "unit uwsgi-myproject.service not found");
        assert!(
            svc(Some("started"), None, false)
                .plan("Failed to connect to bus: No such file or directory")
                .is_err()
        );
    }
}
