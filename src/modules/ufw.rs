//! `ufw` (`community.general.ufw`): the firewall's state, default policies, logging and rules,
//! through the host's `ufw`. Rules are compared as Ansible's check mode does: the probe runs the
//! rule's command with `--dry-run` (which prints the rules files ufw would write, and writes
//! nothing) and the plan compares its `### tuple` lines with the ones in the rules files now.
//! Policies and logging are read from `/etc/default/ufw` and `/etc/ufw/ufw.conf`; the state from
//! `ufw status`.

use super::args::Getter;
use super::{Change, Plan, Resource};
use crate::error::Result;
use crate::shell::quote;
use base64::Engine;

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Ufw {
    /// enabled, disabled, reloaded, reset.
    pub state: Option<String>,
    /// (policy, direction): allow/deny/reject, incoming/outgoing/routed.
    pub default: Option<(String, String)>,
    /// on, off, low, medium, high, full.
    pub logging: Option<String>,
    /// The rule's words after `ufw` (`allow from any to any port 22 proto tcp`).
    pub rule: Option<Vec<String>>,
}

super::plain_module!(Ufw);

impl Ufw {
    pub(crate) fn build(a: &Getter) -> Result<Ufw> {
        let pick = |keys: &[&'static str]| -> Result<Option<(String, &'static str)>> {
            for k in keys {
                if let Some(v) = a.opt_str(k)? {
                    return Ok(Some((v, *k)));
                }
            }
            Ok(None)
        };
        let state = match a.opt_str("state")? {
            None => None,
            Some(_) => Some(a.choice(
                "state",
                &["enabled", "disabled", "reloaded", "reset"],
                "enabled",
            )?),
        };
        let policy = match pick(&["default", "policy"])? {
            None => None,
            Some((_, k)) => Some(a.choice(k, &["allow", "deny", "reject"], "deny")?),
        };
        let direction = match a.opt_str("direction")? {
            None => None,
            Some(_) => Some(a.choice(
                "direction",
                &["in", "incoming", "out", "outgoing", "routed"],
                "in",
            )?),
        };
        let logging = match a.opt_str("logging")? {
            None => None,
            Some(_) => Some(a.choice(
                "logging",
                &["on", "off", "low", "medium", "high", "full"],
                "on",
            )?),
        };
        let default = policy.map(|p| {
            let d = match direction.as_deref() {
                Some("out" | "outgoing") => "outgoing",
                Some("routed") => "routed",
                _ => "incoming",
            };
            (p, d.to_string())
        });
        let rule = match a.opt_str("rule")? {
            None => None,
            Some(_) => {
                let r = a.choice("rule", &["allow", "deny", "limit", "reject"], "allow")?;
                let word = |k: &str, v: &str| -> Result<String> {
                    if v.is_empty()
                        || v.starts_with('-')
                        || v.contains(|c: char| c.is_whitespace() || c.is_control())
                    {
                        return Err(a.err(k, format!("`{k}: {v}` is not valid here")));
                    }
                    Ok(v.to_string())
                };
                let mut w = Vec::new();
                if a.bool("route", false)? {
                    w.push("route".into());
                }
                if let Some(n) = a.opt_u64("insert")? {
                    w.push("insert".into());
                    w.push(n.to_string());
                }
                if a.bool("delete", false)? {
                    w.push("delete".into());
                }
                w.push(r);
                let dir = match direction.as_deref() {
                    Some("in" | "incoming") => Some("in"),
                    Some("out" | "outgoing") => Some("out"),
                    Some(_) => return Err(a.err("direction", "a rule's `direction` is in or out")),
                    None => None,
                };
                if let Some(d) = dir {
                    w.push(d.into());
                }
                if a.bool("log", false)? {
                    w.push("log".into());
                }
                if let Some((i, k)) = pick(&["interface", "if"])? {
                    if dir.is_none() {
                        return Err(a.err(k, "`interface` needs `direction: in` or `out`"));
                    }
                    w.push("on".into());
                    w.push(word(k, &i)?);
                }
                for (keys, d) in [
                    (["interface_in", "if_in"], "in"),
                    (["interface_out", "if_out"], "out"),
                ] {
                    if let Some((i, k)) = pick(&keys)? {
                        w.push(d.into());
                        w.push("on".into());
                        w.push(word(k, &i)?);
                    }
                }
                let from = pick(&["from_ip", "from", "src"])?;
                w.push("from".into());
                w.push(match &from {
                    Some((v, k)) => word(k, v)?,
                    None => "any".into(),
                });
                if let Some((p, k)) = pick(&["from_port"])? {
                    w.push("port".into());
                    w.push(word(k, &p)?);
                }
                let to = pick(&["to_ip", "to", "dest"])?;
                w.push("to".into());
                w.push(match &to {
                    Some((v, k)) => word(k, v)?,
                    None => "any".into(),
                });
                if let Some((p, k)) = pick(&["to_port", "port"])? {
                    w.push("port".into());
                    w.push(word(k, &p)?);
                }
                if let Some((_, k)) = pick(&["proto", "protocol"])? {
                    let p = a.choice(
                        k,
                        &["any", "tcp", "udp", "ipv6", "esp", "ah", "gre", "igmp"],
                        "any",
                    )?;
                    w.push("proto".into());
                    w.push(p);
                }
                if let Some((n, _)) = pick(&["name", "app"])? {
                    if n.contains(|c: char| c.is_control()) || n.starts_with('-') {
                        return Err(a.err("name", format!("`{n}` is not an application name")));
                    }
                    w.push("app".into());
                    w.push(n);
                }
                if let Some(c) = a.opt_str("comment")? {
                    if c.contains(|c: char| c.is_control()) {
                        return Err(a.err("comment", "`comment` must be one line"));
                    }
                    w.push("comment".into());
                    w.push(c);
                }
                Some(w)
            }
        };
        if rule.is_none() {
            for k in [
                "port",
                "to_port",
                "from_ip",
                "to_ip",
                "proto",
                "name",
                "comment",
                "delete",
                "insert",
                "interface",
                "from_port",
                "route",
            ] {
                if a.has(k) {
                    return Err(a.err(k, format!("`{k}` needs `rule`")));
                }
            }
        }
        if state.is_none() && default.is_none() && logging.is_none() && rule.is_none() {
            return Err(a.err(
                "state",
                "nothing to do: give `state`, `default`, `logging` or `rule`",
            ));
        }
        Ok(Ufw {
            state,
            default,
            logging,
            rule,
        })
    }

    pub(crate) fn reads(&self) -> Vec<Resource> {
        vec![
            Resource::Path("/etc/ufw".into()),
            Resource::Path("/etc/default/ufw".into()),
        ]
    }

    fn rule_cmd(&self) -> Option<String> {
        self.rule
            .as_ref()
            .map(|w| w.iter().map(|s| quote(s)).collect::<Vec<_>>().join(" "))
    }

    /// Every field is one line: a tag, a tab, base64 of the text (host-controlled text cannot
    /// make a field of its own).
    pub(crate) fn probe(&self) -> String {
        let b = |tag: &str, cmd: &str| {
            format!(
                "printf '{tag}\\t'; plumb_v=$({cmd}); plumb_rc=$?; printf '%s' \"$plumb_v\" | base64 -w0; printf '\\n{tag}_rc\\t%s\\n' \"$plumb_rc\"\n"
            )
        };
        let mut s = String::new();
        s.push_str(&b("status", "LC_ALL=C ufw status verbose 2>&1"));
        s.push_str(&b("conf", "cat /etc/ufw/ufw.conf 2>&1"));
        s.push_str(&b("defaults", "cat /etc/default/ufw 2>&1"));
        if let Some(cmd) = self.rule_cmd() {
            s.push_str(&b(
                "rules4",
                "grep -h '^### tuple' /etc/ufw/user.rules 2>/dev/null",
            ));
            s.push_str(&b(
                "rules6",
                "grep -h '^### tuple' /etc/ufw/user6.rules 2>/dev/null",
            ));
            s.push_str(&b("dry", &format!("LC_ALL=C ufw --dry-run {cmd} 2>&1")));
        }
        s
    }

    pub(crate) fn plan(&self, facts: &str) -> std::result::Result<Plan, String> {
        let mut f = std::collections::HashMap::new();
        for line in facts.lines() {
            let (k, v) = line
                .split_once('\t')
                .ok_or_else(|| format!("unexpected probe output: {}", facts.trim()))?;
            let v = if k.ends_with("_rc") {
                v.trim().to_string()
            } else {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(v.trim())
                    .map_err(|e| format!("unexpected probe output: {e}"))?;
                String::from_utf8_lossy(&bytes).into_owned()
            };
            f.insert(k.to_string(), v);
        }
        let get = |k: &str| -> std::result::Result<&str, String> {
            f.get(k)
                .map(String::as_str)
                .ok_or_else(|| format!("unexpected probe output: no {k}"))
        };
        if get("status_rc")? != "0" {
            return Err(format!("ufw status: {}", get("status")?.trim()));
        }
        let status = get("status")?;
        let active = match status.lines().next().unwrap_or_default().trim() {
            "Status: active" => true,
            "Status: inactive" => false,
            other => return Err(format!("ufw status: unexpected `{other}`")),
        };
        let setting = |text: &str, key: &str| -> Option<String> {
            text.lines()
                .filter_map(|l| l.trim().strip_prefix(key)?.strip_prefix('='))
                .map(|v| v.trim().trim_matches('"').to_string())
                .next_back()
        };
        let mut changes = Vec::new();
        let mut script = String::from("set -e\n");
        if let Some((policy, dir)) = &self.default {
            if get("defaults_rc")? != "0" {
                return Err(format!("/etc/default/ufw: {}", get("defaults")?.trim()));
            }
            let key = match dir.as_str() {
                "outgoing" => "DEFAULT_OUTPUT_POLICY",
                "routed" => "DEFAULT_FORWARD_POLICY",
                _ => "DEFAULT_INPUT_POLICY",
            };
            let now = match setting(get("defaults")?, key).as_deref() {
                Some("ACCEPT") => "allow",
                Some("DROP") => "deny",
                Some("REJECT") => "reject",
                _ => "unknown",
            };
            if now != policy {
                changes.push(Change::new(format!(
                    "default {dir} policy: {now} → {policy}"
                )));
                script.push_str(&format!("ufw default {policy} {dir}\n"));
            }
        }
        if let Some(level) = &self.logging {
            if get("conf_rc")? != "0" {
                return Err(format!("/etc/ufw/ufw.conf: {}", get("conf")?.trim()));
            }
            let now = setting(get("conf")?, "LOGLEVEL").unwrap_or_else(|| "off".into());
            let same = match level.as_str() {
                "on" => now != "off",
                l => now == l,
            };
            if !same {
                changes.push(Change::new(format!("logging: {now} → {level}")));
                script.push_str(&format!("ufw logging {level}\n"));
            }
        }
        if let Some(cmd) = self.rule_cmd() {
            if get("dry_rc")? != "0" {
                return Err(format!("ufw {cmd}: {}", get("dry")?.trim()));
            }
            let tuples = |t: &str| -> Vec<String> {
                t.lines()
                    .filter_map(|l| l.strip_prefix("### tuple ### "))
                    .map(|l| l.trim_end().to_string())
                    .collect()
            };
            // ufw --dry-run prints each rules file it would write (`*filter` … `COMMIT`; the
            // IPv6 one has `ufw6-` chains) and nothing for a family it would leave alone
            // ("Skipping adding existing rule").
            let dry = get("dry")?;
            let mut now = Vec::new();
            let mut after = Vec::new();
            for (tag, chain) in [
                ("rules4", ":ufw-user-input"),
                ("rules6", ":ufw6-user-input"),
            ] {
                let current = tuples(get(tag)?);
                let written = dry
                    .split("*filter")
                    .skip(1)
                    .find(|sec| sec.contains(chain))
                    .map(tuples)
                    .unwrap_or_else(|| current.clone());
                now.extend(current);
                after.extend(written);
            }
            if now != after {
                let added = after.iter().filter(|t| !now.contains(t)).count();
                let removed = now.iter().filter(|t| !after.contains(t)).count();
                let what = match (added, removed) {
                    (0, 0) => "reorders rules".to_string(),
                    (a, 0) => format!("adds {a} rule{}", if a == 1 { "" } else { "s" }),
                    (0, r) => format!("removes {r} rule{}", if r == 1 { "" } else { "s" }),
                    (a, r) => format!("adds {a}, removes {r} rules"),
                };
                changes.push(Change::new(format!(
                    "ufw {} ({what})",
                    self.rule.as_ref().expect("rule").join(" ")
                )));
                script.push_str(&format!("ufw {cmd}\n"));
            }
        }
        match self.state.as_deref() {
            Some("enabled") if !active => {
                changes.push(Change::new("enable the firewall (was inactive)"));
                script.push_str("ufw --force enable\n");
            }
            Some("disabled") if active => {
                changes.push(Change::new("disable the firewall"));
                script.push_str("ufw disable\n");
            }
            Some("reloaded") if active => {
                changes.push(Change::new("reload the firewall"));
                script.push_str("ufw reload\n");
            }
            Some("reset") => {
                changes.push(Change::new(
                    "reset the firewall (all rules removed, disabled)",
                ));
                script.push_str("ufw --force reset\n");
            }
            _ => {}
        }
        if changes.is_empty() {
            return Ok(Plan::ok());
        }
        Ok(Plan::script(changes, script, self.reads()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::Run;
    use crate::modules::args::Args;
    use serde_json::{Map, Value, json};
    use std::collections::HashMap;
    use std::sync::Arc;

    fn ufw(args: Value) -> std::result::Result<Ufw, String> {
        let map: Map<String, Value> = args.as_object().unwrap().clone();
        let args = Args {
            map: map.clone(),
            locs: HashMap::new(),
            key_locs: HashMap::new(),
            loc: crate::location::Location::new(&Arc::new("t.yml".into()), 1, 1),
        };
        Ufw::build(&Getter::new(&map, &args)).map_err(|e| e.to_string())
    }

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    // Recorded on Debian 12 (ufw 0.36.2).
    const INACTIVE: &str = "Status: inactive\n";
    const ACTIVE: &str = "Status: active\nLogging: on (low)\nDefault: deny (incoming), allow (outgoing), disabled (routed)\nNew profiles: skip\n\nTo                         Action      From\n--                         ------      ----\n22/tcp                     ALLOW IN    Anywhere\n22/tcp (v6)                ALLOW IN    Anywhere (v6)\n";
    const CONF: &str = "# /etc/ufw/ufw.conf\n#\n\nENABLED=no\n\nLOGLEVEL=low\n";
    const DEFAULTS: &str = "IPV6=yes\nDEFAULT_INPUT_POLICY=\"DROP\"\nDEFAULT_OUTPUT_POLICY=\"ACCEPT\"\nDEFAULT_FORWARD_POLICY=\"DROP\"\n";
    const SSH: &str = "### tuple ### allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 in\n### tuple ### allow tcp 22 ::/0 any ::/0 in\n";

    fn facts(status: &str, rules: Option<(&str, &str, u8)>) -> String {
        let mut s = format!(
            "status\t{}\nstatus_rc\t0\nconf\t{}\nconf_rc\t0\ndefaults\t{}\ndefaults_rc\t0\n",
            b64(status),
            b64(CONF),
            b64(DEFAULTS)
        );
        if let Some((now, dry, rc)) = rules {
            let (v4, v6): (Vec<&str>, Vec<&str>) = now.lines().partition(|l| !l.contains("::/0"));
            s.push_str(&format!(
                "rules4\t{}\nrules4_rc\t0\nrules6\t{}\nrules6_rc\t0\ndry\t{}\ndry_rc\t{rc}\n",
                b64(&v4.join("\n")),
                b64(&v6.join("\n")),
                b64(dry)
            ));
        }
        s
    }

    fn summaries(p: &Plan) -> Vec<String> {
        p.changes.iter().map(|c| c.summary.clone()).collect()
    }

    #[test]
    fn rule_words_follow_ansible() {
        let u = ufw(json!({"rule": "limit", "port": "ssh", "proto": "tcp", "from_ip": "10.0.0.0/8", "comment": "office ssh"})).unwrap();
        assert_eq!(
            u.rule_cmd().unwrap(),
            "limit from 10.0.0.0/8 to any port ssh proto tcp comment 'office ssh'"
        );
        let u = ufw(json!({"rule": "allow", "name": "OpenSSH", "delete": true})).unwrap();
        assert_eq!(
            u.rule_cmd().unwrap(),
            "delete allow from any to any app OpenSSH"
        );
        let u = ufw(json!({"rule": "allow", "direction": "in", "interface": "eth0", "port": 80, "route": true})).unwrap();
        assert_eq!(
            u.rule_cmd().unwrap(),
            "route allow in on eth0 from any to any port 80"
        );
    }

    #[test]
    #[allow(clippy::type_complexity)]
    fn table() {
        // Recorded: a new rule's dry run prints both files; an existing one prints "Skipping".
        let dry_ssh = "*filter\n:ufw-user-input - [0:0]\n### RULES ###\n\n### tuple ### allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 in\n-A ufw-user-input -p tcp --dport 22 -j ACCEPT\n### END RULES ###\nCOMMIT\n*filter\n:ufw6-user-input - [0:0]\n### RULES ###\n\n### tuple ### allow tcp 22 ::/0 any ::/0 in\n-A ufw6-user-input -p tcp --dport 22 -j ACCEPT\n### END RULES ###\nCOMMIT\nRules updated\nRules updated (v6)\n".to_string();
        let skip = "Skipping adding existing rule\nSkipping adding existing rule (v6)\n";
        let deleted = "*filter\n:ufw-user-input - [0:0]\n### RULES ###\n### END RULES ###\nCOMMIT\n*filter\n:ufw6-user-input - [0:0]\n### RULES ###\n### END RULES ###\nCOMMIT\nRules updated\nRules updated (v6)\n";
        // (args, status, rules (now, dry-run, rc), expected summaries)
        let table: Vec<(Value, &str, Option<(&str, &str, u8)>, Vec<&str>)> = vec![
            (
                json!({"rule": "allow", "port": "22", "proto": "tcp"}),
                INACTIVE,
                Some(("", &dry_ssh, 0)),
                vec!["ufw allow from any to any port 22 proto tcp (adds 2 rules)"],
            ),
            (
                json!({"rule": "allow", "port": "22", "proto": "tcp"}),
                INACTIVE,
                Some((SSH, skip, 0)),
                vec![],
            ),
            // Only the IPv6 rule is missing: only that file is written.
            (
                json!({"rule": "allow", "port": "22", "proto": "tcp"}),
                ACTIVE,
                Some((
                    "### tuple ### allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 in\n",
                    "Skipping adding existing rule\n*filter\n:ufw6-user-input - [0:0]\n### tuple ### allow tcp 22 ::/0 any ::/0 in\nCOMMIT\nRules updated (v6)\n",
                    0,
                )),
                vec!["ufw allow from any to any port 22 proto tcp (adds 1 rule)"],
            ),
            (
                json!({"rule": "allow", "port": "22", "proto": "tcp", "delete": true}),
                ACTIVE,
                Some((SSH, deleted, 0)),
                vec!["ufw delete allow from any to any port 22 proto tcp (removes 2 rules)"],
            ),
            (
                json!({"state": "enabled"}),
                INACTIVE,
                None,
                vec!["enable the firewall (was inactive)"],
            ),
            (json!({"state": "enabled"}), ACTIVE, None, vec![]),
            (
                json!({"state": "disabled"}),
                ACTIVE,
                None,
                vec!["disable the firewall"],
            ),
            (
                json!({"default": "deny", "direction": "incoming"}),
                ACTIVE,
                None,
                vec![],
            ),
            (
                json!({"policy": "reject", "direction": "outgoing"}),
                ACTIVE,
                None,
                vec!["default outgoing policy: allow → reject"],
            ),
            (json!({"logging": "on"}), ACTIVE, None, vec![]),
            (
                json!({"logging": "medium"}),
                ACTIVE,
                None,
                vec!["logging: low → medium"],
            ),
            (
                json!({"logging": "off"}),
                ACTIVE,
                None,
                vec!["logging: low → off"],
            ),
        ];
        for (args, status, rules, want) in table {
            let p = ufw(args.clone())
                .unwrap()
                .plan(&facts(status, rules))
                .unwrap();
            assert_eq!(summaries(&p), want, "{args}");
        }
    }

    #[test]
    fn script_orders_rules_before_enable() {
        let dry = format!("*filter\n:ufw-user-input - [0:0]\n{SSH}COMMIT\n");
        let u =
            ufw(json!({"rule": "allow", "port": 22, "proto": "tcp", "state": "enabled"})).unwrap();
        let p = u.plan(&facts(INACTIVE, Some(("", &dry, 0)))).unwrap();
        let Run::Script(s) = p.run else { panic!() };
        assert_eq!(
            s,
            "set -e\nufw allow from any to any port 22 proto tcp\nufw --force enable\n"
        );
    }

    #[test]
    fn errors() {
        let u = ufw(json!({"rule": "allow", "port": "99999", "proto": "tcp"})).unwrap();
        let e = u
            .plan(&facts(INACTIVE, Some(("", "ERROR: Bad port\n", 1))))
            .unwrap_err();
        assert!(e.contains("Bad port"), "{e}");
        let st = ufw(json!({"state": "enabled"})).unwrap();
        let missing = "status\tc2g6IHVmdzogbm90IGZvdW5k\nstatus_rc\t127\n";
        assert!(st.plan(missing).unwrap_err().contains("not found"));
        assert!(st.plan("garbage").is_err());
        assert!(st.plan("").is_err());
        assert!(
            ufw(json!({"port": 22}))
                .unwrap_err()
                .contains("needs `rule`")
        );
        assert!(ufw(json!({})).unwrap_err().contains("nothing to do"));
        assert!(ufw(json!({"rule": "allow", "port": "22 --x"})).is_err());
        assert!(ufw(json!({"rule": "allow", "from_ip": "-x"})).is_err());
        assert!(ufw(json!({"rule": "open"})).is_err());
        assert!(ufw(json!({"rule": "allow", "interface": "eth0"})).is_err());
    }
}
