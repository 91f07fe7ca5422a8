//! `delegate_to` and `connection` for `HostRun`: a task run on another inventory host's
//! connection (its `ansible_host`, user, key ...), on the control machine (`localhost` outside
//! the inventory, `connection: local`), or over SSH to a host the play reaches locally; always
//! with the variables of the host it runs for, as in Ansible.

use super::HostRun;
use crate::conn_type::ConnType;
use crate::error::Error;
use crate::modules::{Plan, Resource};
use crate::task::Task;
use crate::template::Vars;
use crate::transport::{Transport, TransportError};
use serde_json::Value;

/// Where a task runs when it does not run through the host's own transport.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Via {
    /// `delegate_to` another inventory host, over SSH.
    Delegate(String),
    /// The control machine: `connection: local`, or a delegate reached locally.
    Local,
    /// `connection: ssh` on a host the play reaches locally.
    OwnSsh,
}

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

    /// Where `task` runs, rendered with `vars`: None through the host's own transport. The
    /// connection is the `ansible_connection` of the host it runs on (the delegate's, or the
    /// task's variables'), else the innermost `connection` keyword, as in Ansible.
    pub(super) fn via(&self, task: &Task, vars: &Vars) -> Result<Option<Via>, Error> {
        let keyword = task.connection.or(self.play.connection);
        if let Some(name) = self.delegate(task, vars)? {
            let kind = match crate::hostvars::get(&name) {
                Some((v, _)) => ConnType::effective(v.get("ansible_connection"), keyword),
                None => ConnType::Local,
            };
            return Ok(Some(match kind {
                ConnType::Local => Via::Local,
                ConnType::Ssh => Via::Delegate(name),
            }));
        }
        let want = ConnType::effective(vars.get("ansible_connection"), keyword);
        Ok(match want {
            w if w == self.own => None,
            ConnType::Local => Some(Via::Local),
            ConnType::Ssh => Some(Via::OwnSsh),
        })
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
        via: Option<&Via>,
    ) -> Result<&mut dyn Transport, TransportError> {
        // The host's own SSH is kept under its name, which no delegate has (see `delegate`).
        let (name, what) = match via {
            None => return Ok(&mut *self.t),
            Some(Via::Local) => return Ok(&mut self.local),
            Some(Via::Delegate(name)) => (name.clone(), format!("delegate_to {name}")),
            Some(Via::OwnSsh) => (self.host.name.clone(), "connection: ssh".to_string()),
        };
        if !self.delegates.contains_key(&name) {
            let vars = match via {
                Some(Via::Delegate(_)) => crate::hostvars::get(&name)
                    .map(|(v, _)| v)
                    .unwrap_or_default(),
                _ => self.base.clone(),
            };
            let log = self.log();
            let detail = |text: String| log.detail(1, format!("{what}: {text}"));
            let t = crate::connection::connect(
                self.r.opts,
                self.r.become_pass,
                self.play,
                &vars,
                ConnType::Ssh,
                &detail,
            )
            .map_err(|e| TransportError(format!("{what}: {}", e.0)))?;
            self.delegates.insert(name.clone(), t);
        }
        Ok(&mut **self.delegates.get_mut(&name).expect("inserted above"))
    }

    /// Facts for one probe: from the batch if nothing since may have changed them, else fresh.
    pub(super) fn facts(
        &mut self,
        probe: &str,
        reads: &[Resource],
        sudo: Option<&str>,
        via: Option<&Via>,
    ) -> std::result::Result<std::result::Result<String, String>, TransportError> {
        // A delegated task runs elsewhere: the batch probed the host itself.
        let cached = match via {
            Some(_) => None,
            None => self.facts.get(probe, sudo, reads),
        };
        let log = self.log();
        crate::fact_cache::read(cached, self.transport(via)?, &log, probe, sudo)
    }

    /// Unified diffs of the files a plan rewrites, against what is on the host now.
    pub(super) fn diffs_of(
        &mut self,
        plan: &Plan,
        sudo: Option<&str>,
        via: Option<&Via>,
    ) -> std::result::Result<Vec<String>, TransportError> {
        let t = self.transport(via)?;
        crate::diff::diffs(plan, |script| t.run(script, sudo))
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
