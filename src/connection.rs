//! A host's connection: its settings checked before any host is contacted, then the transport.

use crate::conn_type::ConnType;
use crate::error::{Error, Result};
use crate::inventory::Host;
use crate::options::Options;
use crate::play::Play;
use crate::transport::local::Local;
use crate::transport::ssh_config::SshConfig;
use crate::transport::{Transport, TransportError};
use serde_json::{Map, Value};

/// Connection settings from a host's variables, checked before any host is contacted.
pub(crate) fn connection_check(host: &Host, vars: &Map<String, Value>) -> Result<()> {
    // Point into the inventory when the value came from there (not from play vars or -e).
    let at = |key: &str| {
        host.var_locs
            .get(key)
            .filter(|_| host.vars.get(key) == vars.get(key))
            .cloned()
    };
    match vars.get("ansible_connection").and_then(Value::as_str) {
        None => {}
        Some(name) if crate::conn_type::ConnType::named(name).is_some() => {}
        Some(other) => {
            return Err(Error::input(
                at("ansible_connection"),
                format!(
                    "host {}: ansible_connection={other} is not supported",
                    host.name
                ),
            )
            .with_hint("use ssh or local"));
        }
    }
    if let Some((var, key)) = key_file(vars)
        && !key.exists()
    {
        return Err(Error::input(
            at(var),
            format!(
                "host {}: private key file {} does not exist ({var})",
                host.name,
                key.display()
            ),
        )
        .with_hint("fix the path, or remove the variable to use ssh-agent or ~/.ssh/id_*"));
    }
    if let Some(p) = vars.get("ansible_port")
        && !p.as_u64().is_some_and(|p| p > 0 && p < 65536)
        && p.as_str().is_none_or(|s| s.parse::<u16>().is_err())
    {
        return Err(Error::input(
            at("ansible_port"),
            format!("host {}: ansible_port={p} is not a port number", host.name),
        )
        .with_hint("a port is a number from 1 to 65535"));
    }
    Ok(())
}

/// The private key variable in use, and its path.
fn key_file(vars: &Map<String, Value>) -> Option<(&'static str, std::path::PathBuf)> {
    ["ansible_ssh_private_key_file", "ansible_private_key_file"]
        .into_iter()
        .find_map(|k| {
            vars.get(k)
                .and_then(Value::as_str)
                .map(|v| (k, crate::paths::expand(v)))
        })
}

fn str_var(vars: &Map<String, Value>, key: &str) -> Option<String> {
    vars.get(key).map(|v| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    })
}

/// Opens the host's transport (`kind`, see `ConnType::effective`): local, or one SSH session
/// reused for every task.
pub(crate) fn connect(
    opts: &Options,
    become_pass: Option<&str>,
    play: &Play,
    vars: &Map<String, Value>,
    kind: ConnType,
    detail: &dyn Fn(String),
) -> std::result::Result<Box<dyn Transport>, TransportError> {
    connect_within(opts, become_pass, play, vars, kind, detail, None)
}

/// `connect`, each attempt at the host bounded by `timeout` when given instead of the run's
/// (a rebooting host's `connect_timeout`).
pub(crate) fn connect_within(
    opts: &Options,
    become_pass: Option<&str>,
    play: &Play,
    vars: &Map<String, Value>,
    kind: ConnType,
    detail: &dyn Fn(String),
    timeout: Option<std::time::Duration>,
) -> std::result::Result<Box<dyn Transport>, TransportError> {
    if kind == ConnType::Local {
        let mut t = Local::new();
        t.set_become_password(become_pass.map(str::to_string));
        return Ok(Box::new(t));
    }
    // Inventory, then ansible_ssh_*_args, then ~/.ssh/config (src/reach.rs).
    let given = crate::reach::Given {
        name: str_var(vars, "ansible_host").unwrap_or_default(),
        user: str_var(vars, "ansible_user")
            .or_else(|| play.remote_user.clone())
            .or_else(|| opts.default_user.clone()),
        // The play's `port` is below any `ansible_port`, as in Ansible.
        port: str_var(vars, "ansible_port")
            .and_then(|p| p.parse().ok())
            .or(play.port),
        key: key_file(vars)
            .map(|(_, p)| p)
            .or_else(|| opts.default_key.clone()),
        args: ["ansible_ssh_common_args", "ansible_ssh_extra_args"]
            .iter()
            .filter_map(|k| str_var(vars, k))
            .collect::<Vec<_>>()
            .join(" "),
        password: str_var(vars, "ansible_password").or_else(|| str_var(vars, "ansible_ssh_pass")),
    };
    let base = SshConfig {
        address: String::new(),
        port: 22,
        user: String::new(),
        key_file: None,
        known_hosts: opts.known_hosts.clone(),
        checking: opts.checking,
        connect_timeout: opts.connect_timeout,
        command_timeout: opts.command_timeout,
        keepalive: opts.keepalive,
        extra: Default::default(),
    };
    let mut target = crate::reach::resolve(&given, &base).map_err(TransportError)?;
    if let Some(t) = timeout {
        target.ssh.connect_timeout = t;
    }
    if opts.verbose >= 1 {
        for line in &target.applied {
            detail(format!("ssh config: {line}"));
        }
        for hop in &target.jumps {
            detail(format!("through {}@{}:{}", hop.user, hop.address, hop.port));
        }
    }
    let mut t: Box<dyn Transport> = Box::new(crate::transport::jump::connect(&target)?);
    t.set_become_password(become_pass.map(str::to_string));
    Ok(t)
}

/// Takes the host's plumb lock and runs the first probe. A play that becomes another user takes
/// the lock as that user (`lock_user`: root's lock lives where only root can write, see
/// transport::LOCK_FILE), even when the first probe is not one of its become tasks; then the
/// probe runs on its own exec. `on_wait` tells the user another run holds the lock.
pub(crate) fn lock_and_run(
    t: &mut dyn Transport,
    lock_user: Option<&str>,
    wait: std::time::Duration,
    script: &str,
    user: Option<&str>,
    on_wait: &mut dyn FnMut(),
) -> Result<(crate::transport::Lock, Option<crate::transport::Output>), TransportError> {
    if lock_user == user {
        return t.lock_and_run(wait, script, user, on_wait);
    }
    let (lock, _) = t.lock_and_run(wait, "true", lock_user, on_wait)?;
    if lock != crate::transport::Lock::Held {
        return Ok((lock, None));
    }
    Ok((lock, Some(t.run(script, user)?)))
}
