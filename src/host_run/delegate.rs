//! `delegate_to` for `HostRun`: a task run on another inventory host's connection (its
//! `ansible_host`, user, key ...) or, for `localhost` outside the inventory, on the control
//! machine; always with the variables of the host it runs for, as in Ansible.

use super::HostRun;
use crate::error::Error;
use crate::task::Task;
use crate::template::Vars;
use crate::transport::{Transport, TransportError};
use serde_json::Value;

/// Names of the control machine when the inventory does not have them.
fn is_local(name: &str) -> bool {
    matches!(name, "localhost" | "127.0.0.1")
}

impl<'a> HostRun<'a> {
    /// The host `task` is delegated to, rendered with `vars`; None when it runs on its own.
    pub(super) fn delegate(&self, task: &Task, vars: &Vars) -> Result<Option<String>, Error> {
        let Some(d) = &task.delegate_to else {
            return Ok(None);
        };
        let name = match vars.render_value(&Value::String(d.value.clone()), &d.loc)? {
            Value::String(s) => s.trim().to_string(),
            other => other.to_string(),
        };
        if name == self.host.name {
            return Ok(None);
        }
        if crate::hostvars::get(&name).is_none() && !is_local(&name) {
            return Err(Error::input(
                d.loc.clone(),
                format!("`delegate_to: {name}`: no host of that name in the inventory"),
            ));
        }
        Ok(Some(name))
    }

    /// `delegate_facts`: the delegate the facts of `task` go to, if they go to one.
    pub(super) fn facts_to(&self, task: &Task, vars: &Vars) -> Option<String> {
        task.delegate_facts
            .then(|| self.delegate(task, vars).ok().flatten())
            .flatten()
    }

    /// The transport a task runs through: the host's own, or its delegate's (connected on
    /// first use, then kept for the play; no plumb lock is taken there, as the delegate's own
    /// run may hold it).
    pub(super) fn transport(
        &mut self,
        via: Option<&str>,
    ) -> Result<&mut dyn Transport, TransportError> {
        let Some(name) = via else {
            return Ok(&mut *self.t);
        };
        let Some((vars, _)) = crate::hostvars::get(name) else {
            return Ok(&mut self.local);
        };
        if !self.delegates.contains_key(name) {
            let log = self.log();
            let detail = |text: String| log.detail(1, format!("delegate_to {name}: {text}"));
            let t = crate::connection::connect(
                self.r.opts,
                self.r.become_pass,
                self.play,
                &vars,
                &detail,
            )
            .map_err(|e| TransportError(format!("delegate_to {name}: {}", e.0)))?;
            self.delegates.insert(name.to_string(), t);
        }
        Ok(&mut **self.delegates.get_mut(name).expect("inserted above"))
    }
}

/// Facts (names with or without `ansible_`) join `name`'s in `hostvars`: its `ansible_facts`
/// and the `ansible_*` variables, as its own gathering would set them.
pub(super) fn give_facts(name: &str, facts: &serde_json::Map<String, Value>) {
    let mut all = crate::hostvars::get(name)
        .and_then(|(mut h, _)| h.remove("ansible_facts"))
        .and_then(|f| match f {
            Value::Object(m) => Some(m),
            _ => None,
        })
        .unwrap_or_default();
    let mut bare = serde_json::Map::new();
    for (k, v) in facts {
        bare.insert(
            k.strip_prefix("ansible_").unwrap_or(k).to_string(),
            v.clone(),
        );
    }
    all.extend(bare.clone());
    let mut seen = crate::facts::injected(&bare);
    seen.insert("ansible_facts".into(), Value::Object(all));
    crate::hostvars::add_facts(name, &seen);
}
