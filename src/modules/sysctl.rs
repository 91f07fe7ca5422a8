//! `sysctl` (`ansible.posix.sysctl`): a kernel parameter's line in a sysctl file (`name=value`),
//! and optionally its live value. The file is rewritten through the race-free writer; the live
//! value is set with `sysctl -w` (`sysctl_set`) or the file is loaded with `sysctl -p FILE`
//! (`reload`, when the file changed), as Ansible does.

use super::args::Getter;
use super::copy::Copy;
use super::textfile;
use super::{Change, Plan, Resource};
use crate::error::Result;
use crate::shell::quote;
use base64::Engine;

#[derive(Debug, Clone)]
pub(crate) struct Sysctl {
    pub name: String,
    /// Normalised (booleans as 1/0, runs of blanks as one space); None with `state: absent`.
    pub value: Option<String>,
    pub present: bool,
    pub file: String,
    pub reload: bool,
    set_live: bool,
    pub ignore_errors: bool,
}

/// Files larger than this are not read into a probe.
const MAX_BYTES: usize = 1 << 20;

/// A value as the kernel and Ansible compare it: blanks collapsed, yes/no/true/false as 1/0.
fn normalize(v: &str) -> String {
    let v = v.split_whitespace().collect::<Vec<_>>().join(" ");
    match v.to_ascii_lowercase().as_str() {
        "yes" | "true" | "on" => "1".into(),
        "no" | "false" | "off" => "0".into(),
        _ => v,
    }
}

super::plain_module!(Sysctl);

impl Sysctl {
    pub(crate) fn build(a: &Getter) -> Result<Sysctl> {
        let name = a.str("name")?.trim().to_string();
        if name.is_empty()
            || name.starts_with('-')
            || name.contains(|c: char| c.is_whitespace() || c == '=' || c.is_control())
        {
            return Err(a.err("name", format!("`{name}` is not a sysctl key")));
        }
        let present = a.choice("state", &["present", "absent"], "present")? == "present";
        let value = match a.raw("value") {
            Some(serde_json::Value::Bool(b)) => Some(if *b { "1" } else { "0" }.to_string()),
            _ => match a.opt_str("value")? {
                Some(v) if v.trim().contains(['\n', '\r']) => {
                    return Err(a.err("value", "`value` must be one line"));
                }
                v => v.map(|v| normalize(&v)),
            },
        };
        if present && value.as_deref().is_none_or(str::is_empty) {
            return Err(a.err("value", "`state: present` needs a `value`"));
        }
        let file = a
            .opt_path("sysctl_file")?
            .unwrap_or_else(|| "/etc/sysctl.conf".into());
        Ok(Sysctl {
            name,
            value: if present { value } else { None },
            present,
            file,
            reload: a.bool("reload", true)?,
            set_live: a.bool("sysctl_set", false)?,
            ignore_errors: a.bool("ignoreerrors", false)?,
        })
    }

    pub(crate) fn reads(&self) -> Vec<Resource> {
        vec![
            Resource::Path(self.file.clone()),
            Resource::Path(format!("/proc/sys/{}", self.name.replace('.', "/"))),
        ]
    }

    /// The file's stat and content (base64 on one line), then the live value (base64) and the
    /// exit code of `sysctl -n`.
    pub(crate) fn probe(&self) -> String {
        format!(
            "{}printf 'live\\t'; plumb_v=$(LC_ALL=C sysctl -n -- {n} 2>&1); plumb_rc=$?; printf '%s' \"$plumb_v\" | base64 -w0; printf '\\nlive_rc\\t%s\\n' \"$plumb_rc\"\n",
            textfile::probe_max(&self.file, MAX_BYTES),
            n = quote(&self.name),
        )
    }

    pub(crate) fn plan(&self, facts: &str) -> std::result::Result<Plan, String> {
        let mut live = None;
        let mut live_rc = None;
        let mut rest = Vec::new();
        for l in facts.lines() {
            if let Some(v) = l.strip_prefix("live\t") {
                live = Some(v);
            } else if let Some(v) = l.strip_prefix("live_rc\t") {
                live_rc = Some(v);
            } else {
                rest.push(l);
            }
        }
        let (Some(live), Some(live_rc)) = (live, live_rc) else {
            return Err(format!("unexpected probe output: {}", facts.trim()));
        };
        let live_text = String::from_utf8_lossy(
            &base64::engine::general_purpose::STANDARD
                .decode(live.trim())
                .map_err(|e| format!("unexpected probe output: {e}"))?,
        )
        .trim()
        .to_string();
        let (fact, old) = textfile::read_max(&rest.join("\n"), &self.file, MAX_BYTES)?;
        let name = &self.name;
        let key_of = |line: &str| -> Option<(String, String)> {
            let t = line.trim();
            if t.is_empty() || t.starts_with('#') || t.starts_with(';') {
                return None;
            }
            let (k, v) = t.split_once('=')?;
            Some((k.trim().trim_start_matches('-').to_string(), v.to_string()))
        };
        let text = old.clone().unwrap_or_default();
        // The last assignment wins, as when the kernel loads the file.
        let in_file = text
            .lines()
            .filter_map(key_of)
            .filter(|(k, _)| k == name)
            .map(|(_, v)| normalize(&v))
            .next_back();
        let mut changes = Vec::new();
        let mut script = String::from(super::safe_write::HEAD);
        let mut file_changed = false;
        let live_ok = live_rc.trim() == "0";
        if self.present && !live_ok && !self.ignore_errors && (self.set_live || self.reload) {
            return Err(format!("sysctl {name}: {live_text}"));
        }
        let want = self.value.as_deref().unwrap_or_default();
        let needs_file = if self.present {
            in_file.as_deref() != Some(want)
        } else {
            in_file.is_some()
        };
        if needs_file {
            // Ansible's rewrite: the first line for the key becomes `name=value`, later ones go.
            let mut out = String::new();
            let mut done = false;
            for l in text.split_inclusive('\n') {
                if key_of(l).is_some_and(|(k, _)| &k == name) {
                    if self.present && !done {
                        out.push_str(&format!("{name}={want}\n"));
                        done = true;
                    }
                    continue;
                }
                out.push_str(l);
            }
            if self.present && !done {
                if !out.is_empty() && !out.ends_with('\n') {
                    out.push('\n');
                }
                out.push_str(&format!("{name}={want}\n"));
            }
            let summary = match (&in_file, self.present) {
                (None, true) => format!("add {name}={want} to {}", self.file),
                (Some(v), true) => format!("{name}: {v} → {want} in {}", self.file),
                _ => format!("remove {name} from {}", self.file),
            };
            let writer = Copy::writer(&self.file);
            let (change, write) =
                textfile::rewrite(&writer, old.is_some().then_some(&fact), out, summary);
            changes.push(change);
            script.push_str(&write);
            script.push('\n');
            file_changed = true;
        }
        let e = if self.ignore_errors { "-e " } else { "" };
        if self.present && self.set_live && live_ok && normalize(&live_text) != want {
            changes.push(Change::new(format!(
                "set {name} live: {} → {want}",
                normalize(&live_text)
            )));
            script.push_str(&format!(
                "sysctl {e}-q -w -- {}\n",
                quote(&format!("{name}={want}"))
            ));
        } else if self.present && file_changed && self.reload && !self.set_live {
            changes.push(Change::new(format!("reload {}", self.file)));
        }
        if file_changed && self.reload && self.present {
            script.push_str(&format!("sysctl {e}-q -p {}\n", quote(&self.file)));
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
    use crate::modules::copy::sha256_hex;
    use serde_json::{Map, Value, json};
    use std::collections::HashMap;
    use std::sync::Arc;

    fn sysctl(args: Value) -> std::result::Result<Sysctl, String> {
        let map: Map<String, Value> = args.as_object().unwrap().clone();
        let args = Args {
            map: map.clone(),
            locs: HashMap::new(),
            key_locs: HashMap::new(),
            loc: crate::location::Location::new(&Arc::new("t.yml".into()), 1, 1),
        };
        Sysctl::build(&Getter::new(&map, &args)).map_err(|e| e.to_string())
    }

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    /// Facts as the probe prints them (the stat line recorded on Debian 12).
    fn facts(file: Option<&str>, live: &str, rc: u8) -> String {
        let f = match file {
            Some(text) => format!(
                "stats\nstat\tregular file\t644\troot\troot\t0\t0\t1764000000\t\"/etc/sysctl.conf\"\nsums\t 0\n{}  /etc/sysctl.conf\ncontent\t{}\n",
                sha256_hex(text.as_bytes()),
                b64(text)
            ),
            None => "absent\t0\nstats\n".into(),
        };
        format!("{f}live\t{}\nlive_rc\t{rc}\n", b64(live))
    }

    fn new_text(p: &Plan) -> String {
        String::from_utf8(p.changes[0].content.as_ref().unwrap().new.to_vec()).unwrap()
    }

    fn summaries(p: &Plan) -> Vec<&str> {
        p.changes.iter().map(|c| c.summary.as_str()).collect()
    }

    const DEBIAN: &str = "#\n# /etc/sysctl.conf\n#net.ipv4.ip_forward=1\n\n";

    #[test]
    fn adds_the_line_and_reloads_then_is_ok() {
        let s = sysctl(json!({"name": "net.ipv4.ip_forward", "value": "1"})).unwrap();
        let p = s.plan(&facts(Some(DEBIAN), "0", 0)).unwrap();
        assert_eq!(new_text(&p), format!("{DEBIAN}net.ipv4.ip_forward=1\n"));
        assert_eq!(
            summaries(&p),
            [
                "add net.ipv4.ip_forward=1 to /etc/sysctl.conf",
                "reload /etc/sysctl.conf"
            ]
        );
        let Run::Script(sh) = &p.run else { panic!() };
        assert!(sh.ends_with("sysctl -q -p /etc/sysctl.conf\n"), "{sh}");
        let done = format!("{DEBIAN}net.ipv4.ip_forward = 1\n");
        assert!(
            s.plan(&facts(Some(&done), "1", 0))
                .unwrap()
                .changes
                .is_empty()
        );
    }

    #[test]
    #[allow(clippy::type_complexity)]
    fn table_of_file_and_live_states() {
        // (args, file, live, rc, expected summaries, expected new file)
        let table: &[(Value, Option<&str>, &str, u8, &[&str], Option<&str>)] = &[
            // Value changed in place; later duplicates go (Ansible's rewrite).
            (
                json!({"name": "vm.swappiness", "value": 10}),
                Some("a=1\nvm.swappiness = 60\nb=2\nvm.swappiness=30\n"),
                "60",
                0,
                &[
                    "vm.swappiness: 30 → 10 in /etc/sysctl.conf",
                    "reload /etc/sysctl.conf",
                ],
                Some("a=1\nvm.swappiness=10\nb=2\n"),
            ),
            // sysctl_set: the live value too, even when the file is right.
            (
                json!({"name": "net.core.somaxconn", "value": "1024", "sysctl_set": true}),
                Some("net.core.somaxconn=1024\n"),
                "4096",
                0,
                &["set net.core.somaxconn live: 4096 → 1024"],
                None,
            ),
            // Multi-valued keys compare with blanks collapsed (the kernel prints a tab).
            (
                json!({"name": "net.ipv4.ip_local_port_range", "value": "32768  60999", "sysctl_set": true}),
                Some("net.ipv4.ip_local_port_range=32768 60999\n"),
                "32768\t60999",
                0,
                &[],
                None,
            ),
            // Booleans are 1/0.
            (
                json!({"name": "net.ipv4.ip_forward", "value": true, "reload": false}),
                Some("net.ipv4.ip_forward=1\n"),
                "0",
                0,
                &[],
                None,
            ),
            // Absent removes every line for the key, leaves the live value alone.
            (
                json!({"name": "net.ipv4.ip_forward", "state": "absent"}),
                Some("x=1\nnet.ipv4.ip_forward=1\n"),
                "1",
                0,
                &["remove net.ipv4.ip_forward from /etc/sysctl.conf"],
                Some("x=1\n"),
            ),
            (
                json!({"name": "net.ipv4.ip_forward", "state": "absent"}),
                None,
                "1",
                0,
                &[],
                None,
            ),
            // A missing file is created.
            (
                json!({"name": "net.ipv4.ip_forward", "value": "1", "sysctl_file": "/etc/sysctl.d/90-app.conf", "reload": false}),
                None,
                "0",
                0,
                &["add net.ipv4.ip_forward=1 to /etc/sysctl.d/90-app.conf"],
                Some("net.ipv4.ip_forward=1\n"),
            ),
            // An unknown key is tolerated with ignoreerrors.
            (
                json!({"name": "no.such.key", "value": "1", "ignoreerrors": true, "reload": false}),
                Some(""),
                "sysctl: cannot stat /proc/sys/no/such/key: No such file or directory",
                255,
                &["add no.such.key=1 to /etc/sysctl.conf"],
                Some("no.such.key=1\n"),
            ),
        ];
        for (args, file, live, rc, want, text) in table {
            let p = sysctl(args.clone())
                .unwrap()
                .plan(&facts(*file, live, *rc))
                .unwrap();
            assert_eq!(summaries(&p), *want, "{args}");
            if let Some(t) = text {
                assert_eq!(new_text(&p), *t, "{args}");
            }
        }
    }

    #[test]
    fn errors() {
        let s = sysctl(json!({"name": "no.such.key", "value": "1"})).unwrap();
        let e = s
            .plan(&facts(
                Some(""),
                "sysctl: cannot stat /proc/sys/no/such/key: No such file or directory",
                255,
            ))
            .unwrap_err();
        assert!(e.contains("cannot stat"), "{e}");
        assert!(s.plan("sysctl: not found\n").is_err());
        assert!(
            sysctl(json!({"name": "vm.x"}))
                .unwrap_err()
                .contains("value")
        );
        assert!(sysctl(json!({"name": "-p", "value": "1"})).is_err());
        assert!(sysctl(json!({"name": "a b", "value": "1"})).is_err());
        assert!(sysctl(json!({"name": "vm.x", "value": "1\n2"})).is_err());
    }
}
