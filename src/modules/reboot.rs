//! `reboot`: the module's half of Ansible's `reboot`. NOT REGISTERED YET: the engine must do the
//! other half (see `ENGINE`). The probe reads the boot id; the plan's script schedules the
//! reboot detached from the SSH session (after `pre_reboot_delay`), so the session ends
//! cleanly; the result carries what the engine needs to wait for the host to come back.

use super::args::Getter;
use super::{Change, Plan, Resource};
use crate::error::Result;
use crate::shell::quote;
use serde_json::json;

/// What the engine must do after running a `Reboot` plan's script (`Run::Script`):
/// 1. drop the connection (expect it to die; a lost connection here is not a failure);
/// 2. wait `post_reboot_delay`, then reconnect with retries (each try bounded by
///    `connect_timeout`) until `reboot_timeout` seconds have passed since the script ran;
/// 3. on each connection read `/proc/sys/kernel/random/boot_id`; the host is back when it
///    differs from `boot_id_before` in the plan's result;
/// 4. run `test_command` until it exits 0 (within the same timeout);
/// 5. register `rebooted: true` and `elapsed` (seconds); a timeout fails the task with the
///    last error. In `plumb plan` nothing runs (the task is `changed`).
pub(crate) const ENGINE: &str =
    "reconnect after the script, wait for a new boot id, run test_command";

#[derive(Debug, Clone)]
struct Reboot {
    reboot_timeout: u64,
    pub connect_timeout: Option<u64>,
    pre_reboot_delay: u64,
    post_reboot_delay: u64,
    test_command: String,
    pub msg: String,
    pub command: Option<String>,
}

impl Reboot {
    pub(crate) fn build(a: &Getter) -> Result<Reboot> {
        let msg = a
            .opt_str("msg")?
            .unwrap_or_else(|| "Reboot initiated by Ansible".into());
        if msg.contains(|c: char| c.is_control()) {
            return Err(a.err("msg", "`msg` must be one line"));
        }
        Ok(Reboot {
            reboot_timeout: a.opt_u64("reboot_timeout")?.unwrap_or(600),
            connect_timeout: a.opt_u64("connect_timeout")?,
            pre_reboot_delay: a.opt_u64("pre_reboot_delay")?.unwrap_or(0),
            post_reboot_delay: a.opt_u64("post_reboot_delay")?.unwrap_or(0),
            test_command: a
                .opt_str("test_command")?
                .unwrap_or_else(|| "whoami".into()),
            msg,
            command: a.opt_str("reboot_command")?,
        })
    }

    pub(crate) fn reads(&self) -> Vec<Resource> {
        Vec::new()
    }

    pub(crate) fn probe(&self) -> String {
        "printf 'boot_id\\t%s\\n' \"$(cat /proc/sys/kernel/random/boot_id)\"".into()
    }

    pub(crate) fn plan(&self, facts: &str) -> std::result::Result<Plan, String> {
        let id = facts
            .lines()
            .find_map(|l| l.strip_prefix("boot_id\t"))
            .map(str::trim)
            .filter(|id| id.len() == 36 && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-'))
            .ok_or_else(|| format!("could not read the boot id: {}", facts.trim()))?;
        // Minutes for shutdown's own delay; the rest sleeps first (shutdown counts in minutes).
        let cmd = self.command.clone().unwrap_or_else(|| {
            format!(
                "shutdown -r now {} || systemctl reboot || reboot",
                quote(&self.msg)
            )
        });
        let script = format!(
            "nohup sh -c {} >/dev/null 2>&1 </dev/null &\n",
            quote(&format!("sleep {}; {cmd}", self.pre_reboot_delay.max(1)))
        );
        let mut result = serde_json::Map::new();
        result.insert("boot_id_before".into(), json!(id));
        result.insert("reboot_timeout".into(), json!(self.reboot_timeout));
        result.insert("post_reboot_delay".into(), json!(self.post_reboot_delay));
        result.insert("test_command".into(), json!(self.test_command));
        Ok(Plan {
            result,
            ..Plan::script(
                vec![Change::new(format!(
                    "reboot (wait up to {}s for it to come back)",
                    self.reboot_timeout
                ))],
                script,
                vec![Resource::All],
            )
        })
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

    #[test]
    fn schedules_a_detached_reboot() {
        let r = reboot(json!({"pre_reboot_delay": 5, "msg": "kernel update"})).unwrap();
        let p = r
            .plan("boot_id\t4a1f5c3e-8d2b-4e6f-9a7c-1b2d3e4f5a6b\n")
            .unwrap();
        let Run::Script(s) = &p.run else { panic!() };
        assert!(
            s.starts_with("nohup sh -c 'sleep 5; shutdown -r now "),
            "{s}"
        );
        assert_eq!(
            p.result["boot_id_before"],
            "4a1f5c3e-8d2b-4e6f-9a7c-1b2d3e4f5a6b"
        );
        assert_eq!(p.result["test_command"], "whoami");
        assert!(r.plan("boot_id\t\n").is_err());
        assert!(
            r.plan("cat: /proc/sys/kernel/random/boot_id: No such file")
                .is_err()
        );
        assert!(reboot(json!({"msg": "a\nb"})).is_err());
    }
}
