//! `reboot`, as Ansible's: the probe reads the boot id (`boot_time_command`) and finds the
//! reboot command in `search_paths`; the plan's script checks it can reboot (root, the
//! command) and schedules the reboot detached from the SSH session (after `pre_reboot_delay`,
//! at least 1 s), so the script itself ends cleanly. The engine then waits for the host to come
//! back (`comes_back`, see reboot_wait.rs). In `plumb plan` it is `changed` and nothing runs.

use super::args::Getter;
use super::reboot_wait::Back;
use super::{Change, Plan, Resource};
use crate::error::Result;
use crate::shell::quote;
use serde_json::json;
use std::time::Duration;

const BOOT_ID: &str = "cat /proc/sys/kernel/random/boot_id";

#[derive(Debug, Clone)]
pub(crate) struct Reboot {
    reboot_timeout: u64,
    connect_timeout: Option<u64>,
    pre_reboot_delay: u64,
    post_reboot_delay: u64,
    test_command: String,
    msg: String,
    search_paths: Vec<String>,
    boot_time_command: String,
    /// `reboot_command`: its first word (looked for in `search_paths` unless a path) and the
    /// rest as written; None: `shutdown -r now MSG`.
    command: Option<(String, String)>,
}

impl Reboot {
    pub(crate) fn build(a: &Getter) -> Result<Reboot> {
        let msg = a
            .opt_str("msg")?
            .unwrap_or_else(|| "Reboot initiated by Ansible".into());
        if msg.contains(|c: char| c.is_control()) {
            return Err(a.err("msg", "`msg` must be one line"));
        }
        let mut search_paths = a.list("search_paths")?;
        if search_paths.is_empty() {
            search_paths = ["/sbin", "/bin", "/usr/sbin", "/usr/bin", "/usr/local/sbin"]
                .map(String::from)
                .to_vec();
        }
        if let Some(p) = search_paths.iter().find(|p| !p.starts_with('/')) {
            return Err(a.err(
                "search_paths",
                format!("`search_paths` must be absolute paths, found `{p}`"),
            ));
        }
        let command = match a.opt_str("reboot_command")? {
            None => None,
            Some(c) => {
                let c = c.trim();
                let (bin, rest) = c.split_once(char::is_whitespace).unwrap_or((c, ""));
                if bin.is_empty() {
                    return Err(a.err("reboot_command", "`reboot_command` is empty"));
                }
                Some((bin.to_string(), rest.trim().to_string()))
            }
        };
        let nonempty = |key: &str, default: &str| -> Result<String> {
            match a.opt_str(key)? {
                Some(c) if c.trim().is_empty() => Err(a.err(key, format!("`{key}` is empty"))),
                Some(c) => Ok(c),
                None => Ok(default.to_string()),
            }
        };
        Ok(Reboot {
            reboot_timeout: a.opt_u64("reboot_timeout")?.unwrap_or(600),
            connect_timeout: a.opt_u64("connect_timeout")?.filter(|t| *t > 0),
            pre_reboot_delay: a.opt_u64("pre_reboot_delay")?.unwrap_or(0),
            post_reboot_delay: a.opt_u64("post_reboot_delay")?.unwrap_or(0),
            test_command: nonempty("test_command", "whoami")?,
            boot_time_command: nonempty("boot_time_command", BOOT_ID)?,
            msg,
            search_paths,
            command,
        })
    }

    /// The command's name, and whether it is to be looked for in `search_paths`.
    fn bin(&self) -> (&str, bool) {
        match &self.command {
            Some((bin, _)) => (bin, !bin.contains('/')),
            None => ("shutdown", true),
        }
    }

    pub(crate) fn reads(&self) -> Vec<Resource> {
        Vec::new()
    }

    /// `command\tPATH` for the reboot command when found, then `boot_id\t` and what the boot
    /// time command said, to the end (it may span lines), or `boot_failed\tCODE`.
    pub(crate) fn probe(&self) -> String {
        let (bin, search) = self.bin();
        let find = if search {
            let dirs: Vec<String> = self
                .search_paths
                .iter()
                .map(|d| quote(&format!("{}/{bin}", d.trim_end_matches('/'))))
                .collect();
            format!(
                "for plumb_c in {}; do if [ -x \"$plumb_c\" ]; then printf 'command\\t%s\\n' \"$plumb_c\"; break; fi; done\n",
                dirs.join(" ")
            )
        } else {
            format!(
                "if [ -x {b} ]; then printf 'command\\t%s\\n' {b}; fi\n",
                b = quote(bin)
            )
        };
        format!(
            "{find}if plumb_b=$({}); then printf 'boot_id\\t%s\\n' \"$plumb_b\"; else printf 'boot_failed\\t%s\\n' $?; fi",
            self.boot_time_command
        )
    }

    /// The boot id the probe read.
    fn boot_id<'f>(&self, facts: &'f str) -> std::result::Result<&'f str, String> {
        if let Some(code) = facts.lines().find_map(|l| l.strip_prefix("boot_failed\t")) {
            return Err(format!(
                "could not read the boot id: `{}` failed (exit {})",
                self.boot_time_command,
                code.trim()
            ));
        }
        facts
            .split_once("boot_id\t")
            .map(|(_, id)| id.trim())
            .filter(|id| !id.is_empty())
            .ok_or_else(|| format!("could not read the boot id: {}", facts.trim()))
    }

    pub(crate) fn plan(&self, facts: &str) -> std::result::Result<Plan, String> {
        self.boot_id(facts)?;
        let path = facts
            .lines()
            .find_map(|l| l.strip_prefix("command\t"))
            .ok_or_else(|| match self.bin() {
                (bin, true) => format!(
                    "cannot find the reboot command `{bin}` in {}",
                    self.search_paths.join(", ")
                ),
                (bin, false) => format!("the reboot command `{bin}` is not an executable"),
            })?;
        let cmd = match &self.command {
            Some((_, args)) if args.is_empty() => quote(path),
            Some((_, args)) => format!("{} {args}", quote(path)),
            None => format!("{} -r now {}", quote(path), quote(&self.msg)),
        };
        // Checked before detaching, where a failure still fails the task; the reboot itself
        // waits until the script has ended and the session can close cleanly.
        let script = format!(
            "if [ \"$(id -u)\" != 0 ]; then echo 'rebooting needs root: use become' >&2; exit 1; fi\n\
             nohup sh -c {} >/dev/null 2>&1 </dev/null &\n",
            quote(&format!("sleep {}; {cmd}", self.pre_reboot_delay.max(1)))
        );
        let mut result = serde_json::Map::new();
        // What Ansible's check mode returns; a real run sets `elapsed` once the host is back.
        result.insert("rebooted".into(), json!(true));
        result.insert("elapsed".into(), json!(0));
        // What a reboot changes beyond the disk: running units and the volatile file systems
        // (a real run probes every later task again anyway).
        let writes = ["/run", "/tmp", "/proc", "/sys", "/dev"]
            .map(|p| Resource::Path(p.into()))
            .into_iter()
            .chain([Resource::Unit("*".into())])
            .collect();
        Ok(Plan {
            result,
            ..Plan::script(
                vec![Change::new(format!(
                    "reboot (and wait up to {} s for it to come back)",
                    self.reboot_timeout
                ))],
                script,
                writes,
            )
        })
    }

    /// How the engine waits once the script ran: the boot id before is the probe's.
    pub(crate) fn comes_back(&self, facts: &str) -> Option<Back> {
        Some(Back {
            before: self.boot_id(facts).ok()?.to_string(),
            timeout: Duration::from_secs(self.reboot_timeout),
            connect_timeout: self.connect_timeout.map(Duration::from_secs),
            post_delay: Duration::from_secs(self.post_reboot_delay),
            boot_command: self.boot_time_command.clone(),
            test_command: self.test_command.clone(),
        })
    }
}

impl super::Module for Reboot {
    fn probe(&self) -> Option<String> {
        Some(Reboot::probe(self))
    }
    fn reads(&self) -> Vec<Resource> {
        Reboot::reads(self)
    }
    fn plan(&self, facts: &str) -> std::result::Result<Plan, String> {
        Reboot::plan(self, facts)
    }
    fn comes_back(&self, facts: &str) -> Option<Back> {
        Reboot::comes_back(self, facts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::Run;
    use crate::modules::args::Args;
    use serde_json::{Map, Value};
    use std::collections::HashMap;
    use std::sync::Arc;

    const ID: &str = "4a1f5c3e-8d2b-4e6f-9a7c-1b2d3e4f5a6b";

    fn reboot(args: Value) -> std::result::Result<Reboot, String> {
        let map: Map<String, Value> = args.as_object().unwrap().clone();
        let args = Args {
            map: map.clone(),
            locs: HashMap::new(),
            key_locs: HashMap::new(),
            loc: crate::location::Location::new(&Arc::new("t.yml".into()), 1, 1),
        };
        Reboot::build(&Getter::new(&map, &args)).map_err(|e| e.to_string())
    }

    fn script(p: &Plan) -> &str {
        let Run::Script(s) = &p.run else {
            panic!("{:?}", p.run)
        };
        s
    }

    /// Arguments → the error's text, or the defaults Ansible has.
    #[test]
    fn arguments() {
        let r = reboot(json!({})).unwrap();
        assert_eq!(
            (
                r.reboot_timeout,
                r.connect_timeout,
                r.pre_reboot_delay,
                r.post_reboot_delay
            ),
            (600, None, 0, 0)
        );
        assert_eq!(r.test_command, "whoami");
        assert_eq!(r.boot_time_command, BOOT_ID);
        assert_eq!(r.msg, "Reboot initiated by Ansible");
        assert_eq!(r.search_paths[0], "/sbin");
        assert_eq!(r.bin(), ("shutdown", true));
        let r = reboot(json!({"reboot_command": "systemctl reboot", "search_paths": "/usr/bin"}))
            .unwrap();
        assert_eq!(r.bin(), ("systemctl", true));
        assert_eq!(r.search_paths, ["/usr/bin"]);
        let r = reboot(json!({"reboot_command": "/sbin/reboot", "connect_timeout": "5"})).unwrap();
        assert_eq!(
            (r.bin(), r.connect_timeout),
            (("/sbin/reboot", false), Some(5))
        );
        for (args, err) in [
            (json!({"msg": "a\nb"}), "`msg` must be one line"),
            (json!({"reboot_timeout": "soon"}), "must be a whole number"),
            (json!({"reboot_timeout": -1}), "must be a whole number"),
            (json!({"search_paths": ["sbin"]}), "must be absolute paths"),
            (json!({"reboot_command": " "}), "`reboot_command` is empty"),
            (json!({"test_command": ""}), "`test_command` is empty"),
        ] {
            let e = reboot(args.clone()).unwrap_err();
            assert!(e.contains(err), "{args}: {e}");
        }
    }

    #[test]
    fn schedules_a_detached_reboot_after_checking_it_can() {
        let r = reboot(json!({"pre_reboot_delay": 5, "msg": "kernel update"})).unwrap();
        let p = r
            .plan(&format!("command\t/usr/sbin/shutdown\nboot_id\t{ID}\n"))
            .unwrap();
        let s = script(&p);
        assert!(s.starts_with("if [ \"$(id -u)\" != 0 ]"), "{s}");
        assert!(
            s.contains("nohup sh -c 'sleep 5; /usr/sbin/shutdown -r now '\\''kernel update'\\'''"),
            "{s}"
        );
        assert_eq!(p.changes.len(), 1);
        assert_eq!(
            (&p.result["rebooted"], &p.result["elapsed"]),
            (&json!(true), &json!(0))
        );
        // No delay: still a second, for the script to end before the host goes down.
        let r = reboot(json!({"reboot_command": "systemctl reboot --force"})).unwrap();
        let p = r
            .plan(&format!("command\t/usr/bin/systemctl\nboot_id\t{ID}\n"))
            .unwrap();
        assert!(
            script(&p).contains("'sleep 1; /usr/bin/systemctl reboot --force'"),
            "{}",
            script(&p)
        );
    }

    #[test]
    fn what_the_probe_could_not_read_fails_the_task() {
        let r = reboot(json!({})).unwrap();
        let table: &[(&str, &str)] = &[
            ("boot_id\t\n", "could not read the boot id"),
            (
                "command\t/sbin/shutdown\nboot_failed\t1\n",
                "`cat /proc/sys/kernel/random/boot_id` failed (exit 1)",
            ),
            (
                &format!("boot_id\t{ID}\n"),
                "cannot find the reboot command `shutdown` in /sbin, /bin",
            ),
        ];
        for (facts, err) in table {
            let e = r.plan(facts).unwrap_err();
            assert!(e.contains(err), "{facts:?}: {e}");
        }
        let r = reboot(json!({"reboot_command": "/opt/reboot-it now"})).unwrap();
        let e = r.plan(&format!("boot_id\t{ID}\n")).unwrap_err();
        assert_eq!(
            e,
            "the reboot command `/opt/reboot-it` is not an executable"
        );
    }

    #[test]
    fn the_probe_runs_in_sh_and_says_what_the_plan_reads() {
        let r = reboot(json!({"search_paths": ["/nonexistent", "/bin"],
            "reboot_command": "true now", "boot_time_command": "printf 'a\\nb'"}))
        .unwrap();
        let out = std::process::Command::new("sh")
            .args(["-c", &r.probe()])
            .output()
            .unwrap();
        let facts = String::from_utf8(out.stdout).unwrap();
        assert_eq!(facts, "command\t/bin/true\nboot_id\ta\nb\n");
        assert_eq!(r.boot_id(&facts), Ok("a\nb"));
        let back = r.comes_back(&facts).unwrap();
        assert_eq!(back.before, "a\nb");
        assert_eq!(back.timeout, Duration::from_secs(600));
        let r = reboot(json!({"boot_time_command": "false"})).unwrap();
        let out = std::process::Command::new("sh")
            .args(["-c", &r.probe()])
            .output()
            .unwrap();
        let facts = String::from_utf8(out.stdout).unwrap();
        assert!(facts.ends_with("boot_failed\t1\n"), "{facts}");
        assert!(r.comes_back(&facts).is_none());
    }
}
