//! `service_facts`: the host's systemd services, read-only, in Ansible's shape:
//! `ansible_facts.services["nginx.service"] = {name, state, status, source: "systemd"}` in the
//! registered result. `state` is `running`, `stopped` or `failed` (from the unit's sub-state),
//! `status` the unit file's state (`enabled`, `disabled`, `static`, `masked`, …) or
//! `not-found`/`unknown` for a loaded unit without one.

use super::{Plan, Resource};
use serde_json::{Map, Value, json};

#[derive(Debug, Clone)]
pub(crate) struct ServiceFacts;

super::plain_module!(ServiceFacts);

impl ServiceFacts {
    pub(crate) fn reads(&self) -> Vec<Resource> {
        vec![Resource::Unit("*".into())]
    }

    /// Each line tagged `u` (list-units) or `f` (list-unit-files); unit names hold no blanks.
    pub(crate) fn probe(&self) -> String {
        "command -v systemctl >/dev/null || { echo 'error\tsystemctl not found (service_facts reads systemd services)'; false; } && \
         { systemctl list-units --type=service --all --no-legend --no-pager --plain 2>&1 | sed 's/^/u /'; \
         systemctl list-unit-files --type=service --no-legend --no-pager 2>&1 | sed 's/^/f /'; echo done; }"
            .into()
    }

    pub(crate) fn plan(&self, facts: &str) -> std::result::Result<Plan, String> {
        if let Some(e) = facts.lines().find_map(|l| l.strip_prefix("error\t")) {
            return Err(e.to_string());
        }
        if facts.lines().last() != Some("done") {
            return Err(format!("unexpected probe output: {}", facts.trim()));
        }
        let mut services: Map<String, Value> = Map::new();
        for line in facts.lines() {
            let mut w = line.split_whitespace();
            match (w.next(), w.next()) {
                (Some("u"), Some(name)) => {
                    let load = w.next().unwrap_or_default();
                    let _active = w.next();
                    let sub = w.next().unwrap_or_default();
                    if !name.ends_with(".service") || sub.is_empty() {
                        return Err(format!("systemctl: unexpected line `{line}`"));
                    }
                    let state = match sub {
                        "running" => "running",
                        "failed" => "failed",
                        _ => "stopped",
                    };
                    let status = if load == "not-found" {
                        "not-found"
                    } else {
                        "unknown"
                    };
                    services.insert(
                        name.to_string(),
                        json!({"name": name, "state": state, "status": status, "source": "systemd"}),
                    );
                }
                (Some("f"), Some(name)) => {
                    let Some(status) = w.next() else {
                        return Err(format!("systemctl: unexpected line `{line}`"));
                    };
                    match services.get_mut(name) {
                        Some(Value::Object(s)) => {
                            s.insert("status".into(), json!(status));
                        }
                        _ => {
                            services.insert(
                                name.to_string(),
                                json!({"name": name, "state": "inactive", "status": status, "source": "systemd"}),
                            );
                        }
                    }
                }
                (Some("done"), None) => {}
                _ => return Err(format!("systemctl: {}", facts.trim())),
            }
        }
        let mut result = Map::new();
        result.insert("ansible_facts".into(), json!({ "services": services }));
        Ok(Plan {
            result,
            ..Plan::ok()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Recorded on a Debian 12 test host.
    const OUT: &str = "u auditd.service                       not-found inactive dead    auditd.service\n\
u console-getty.service                masked    inactive dead    console-getty.service\n\
u dbus.service                         loaded    active   running D-Bus System Message Bus\n\
u nginx.service                        loaded    failed   failed  A high performance web server\n\
u ssh.service                          loaded    active   running OpenBSD Secure Shell server\n\
f apt-daily.service                      masked          enabled\n\
f console-getty.service                  masked          disabled\n\
f ssh.service                            enabled         enabled\n\
f dbus.service                           static          -\n\
done\n";

    #[test]
    fn services_in_ansibles_shape() {
        let p = ServiceFacts.plan(OUT).unwrap();
        assert!(p.changes.is_empty());
        let s = &p.result["ansible_facts"]["services"];
        assert_eq!(
            s["ssh.service"],
            json!({"name": "ssh.service", "state": "running", "status": "enabled", "source": "systemd"})
        );
        assert_eq!(s["dbus.service"]["status"], "static");
        assert_eq!(s["nginx.service"]["state"], "failed");
        assert_eq!(s["auditd.service"]["status"], "not-found");
        assert_eq!(s["console-getty.service"]["status"], "masked");
        assert_eq!(s["apt-daily.service"]["state"], "inactive");
        assert_eq!(s.as_object().unwrap().len(), 6);
    }

    #[test]
    fn errors() {
        assert!(ServiceFacts.plan("").is_err());
        assert!(
            ServiceFacts
                .plan("error\tsystemctl not found (service_facts reads systemd services)\n")
                .unwrap_err()
                .contains("not found")
        );
        assert!(
            ServiceFacts
                .plan("u System has not been booted with systemd\ndone\n")
                .is_err()
        );
    }
}
