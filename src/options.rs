//! What one run needs to know besides the playbook and the inventory: the flags and plumb.toml,
//! resolved.

use crate::playbook::Serial;
use crate::transport::ssh::HostKeyChecking;
use serde_json::{Map, Value};
use std::path::PathBuf;
use std::time::Duration;

pub struct Options {
    /// Dry run: read state, report, change nothing.
    pub check: bool,
    pub diff: bool,
    pub forks: usize,
    pub checking: HostKeyChecking,
    pub known_hosts: PathBuf,
    pub connect_timeout: Duration,
    pub command_timeout: Duration,
    /// Interval of SSH keepalives while waiting; zero: none.
    pub keepalive: Duration,
    pub extra_vars: Map<String, Value>,
    pub limit: Option<String>,
    /// `--tags` / `--skip-tags`: which tasks run (handlers run when notified, as in Ansible).
    pub tags: crate::tags::TagFilter,
    pub serial: Option<Vec<Serial>>,
    /// -v: probe results and commands sent; -vv: whole scripts and raw output.
    pub verbose: u8,
    /// How long to wait for another plumb run on the same host.
    pub lock_timeout: Duration,
    /// plumb.toml defaults, below the inventory's and the play's settings.
    pub default_user: Option<String>,
    pub default_key: Option<PathBuf>,
    /// `--shard K/N`: only this slice of the run's hosts.
    pub shard: Option<crate::shard::Shard>,
}
