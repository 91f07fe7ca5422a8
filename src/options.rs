//! What one run needs to know besides the playbook and the inventory: the flags and plumb.toml,
//! resolved.

use crate::cli::RunArgs;
use crate::config::Defaults;
use crate::error::{Error, Result};
use crate::serial::Serial;
use crate::transport::host_key_checking::HostKeyChecking;
use crate::{known_hosts, paths, shard, tags, transport, vault, yaml};
use serde_json::{Map, Value};
use std::path::PathBuf;
use std::time::Duration;

pub(crate) struct Options {
    /// Dry run: read state, report, change nothing.
    pub(crate) check: bool,
    pub(crate) diff: bool,
    /// `--force-handlers`: as the play keyword, for every play.
    pub(crate) force_handlers: bool,
    pub(crate) forks: usize,
    pub(crate) checking: HostKeyChecking,
    pub(crate) known_hosts: PathBuf,
    pub(crate) connect_timeout: Duration,
    pub(crate) command_timeout: Duration,
    /// Interval of SSH keepalives while waiting; zero: none.
    pub(crate) keepalive: Duration,
    pub(crate) extra_vars: Map<String, Value>,
    pub(crate) limit: Option<String>,
    /// `--tags` / `--skip-tags`: which tasks run (handlers run when notified, as in Ansible).
    pub(crate) tags: crate::tags::TagFilter,
    pub(crate) serial: Option<Vec<Serial>>,
    /// -v: probe results and commands sent; -vv: whole scripts and raw output.
    pub(crate) verbose: u8,
    /// How long to wait for another plumb run on the same host.
    pub(crate) lock_timeout: Duration,
    /// plumb.toml defaults, below the inventory's and the play's settings.
    pub(crate) default_user: Option<String>,
    pub(crate) default_key: Option<PathBuf>,
    /// `--shard K/N`: only this slice of the run's hosts.
    pub(crate) shard: Option<crate::shard::Shard>,
}

impl Options {
    /// From the flags of `apply`, `plan` or `validate`, over plumb.toml's defaults. `plan` is a
    /// dry run with diffs.
    pub(crate) fn new(a: &RunArgs, d: &Defaults, plan: bool) -> Result<Options> {
        let check = plan || a.check;
        let serial = match &a.serial {
            None => None,
            Some(s) => Some(crate::serial::parse_serial(s)?),
        };
        let known_hosts = a
            .known_hosts
            .clone()
            .or_else(|| d.known_hosts.as_deref().map(paths::expand))
            .unwrap_or_else(known_hosts::default_path);
        Ok(Options {
            check,
            diff: a.diff || plan,
            force_handlers: a.force_handlers,
            forks: a.forks.or(d.forks).unwrap_or(50),
            checking: a
                .host_key_checking
                .or(d.host_key_checking)
                .unwrap_or(transport::host_key_checking::HostKeyChecking::Strict),
            known_hosts,
            connect_timeout: Duration::from_secs(a.timeout.or(d.timeout).unwrap_or(10).max(1)),
            command_timeout: Duration::from_secs(
                a.command_timeout
                    .or(d.command_timeout)
                    .unwrap_or(600)
                    .max(1),
            ),
            keepalive: Duration::from_secs(a.keepalive.or(d.keepalive).unwrap_or(10)),
            extra_vars: extra_vars(&a.extra_vars)?,
            limit: a.limit.clone(),
            tags: tags::TagFilter::new(&a.tags, &a.skip_tags),
            serial,
            verbose: a.verbose,
            lock_timeout: Duration::from_secs(a.lock_timeout),
            default_user: d.remote_user.clone(),
            default_key: d.private_key.as_deref().map(paths::expand),
            shard: a.shard.as_deref().map(shard::Shard::parse).transpose()?,
        })
    }
}

/// `-e KEY=VALUE` (value typed like YAML), `-e '{"k": 1}'`, or `-e @vars.yml`.
pub(crate) fn extra_vars(items: &[String]) -> Result<Map<String, Value>> {
    let mut out = Map::new();
    for item in items {
        let text;
        let src = if let Some(file) = item.strip_prefix('@') {
            text = vault::read_text(std::path::Path::new(file))?;
            text.as_str()
        } else {
            item.as_str()
        };
        let t = src.trim_start();
        if item.starts_with('@') || t.starts_with('{') {
            let v: Value = serde_yaml::from_str(src)
                .map_err(|e| Error::Usage(format!("-e `{item}`: not a YAML/JSON mapping: {e}")))?;
            match v {
                Value::Object(m) => out.extend(m),
                _ => return Err(Error::Usage(format!("-e {item}: expected a mapping"))),
            }
            continue;
        }
        let Some((k, v)) = item.split_once('=') else {
            return Err(Error::Usage(format!("-e {item}: expected KEY=VALUE")));
        };
        let starts_ok = k
            .chars()
            .next()
            .is_some_and(|c| c.is_alphabetic() || c == '_');
        if !starts_ok || !k.chars().all(|c| c.is_alphanumeric() || c == '_') {
            return Err(Error::Usage(format!(
                "-e `{item}`: `{k}` is not a variable name (letters, digits and `_`, not starting with a digit)"
            )));
        }
        out.insert(k.to_string(), yaml::typed_scalar(v));
    }
    crate::fact_need::note_vars(&out);
    Ok(out)
}
