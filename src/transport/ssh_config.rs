//! `SshConfig`: everything the SSH transport needs to reach one host, as the engine resolved it.

use super::extra::Extra;
use super::host_key_checking::HostKeyChecking;
use std::path::PathBuf;
use std::time::Duration;

/// One SSH connection's settings: address, login, host key policy, timeouts.
#[derive(Debug, Clone)]
pub(crate) struct SshConfig {
    pub(crate) address: String,
    pub(crate) port: u16,
    pub(crate) user: String,
    pub(crate) key_file: Option<PathBuf>,
    pub(crate) known_hosts: PathBuf,
    pub(crate) checking: HostKeyChecking,
    pub(crate) connect_timeout: Duration,
    /// Longest a command may stay silent before the host counts as gone.
    pub(crate) command_timeout: Duration,
    /// Interval of keepalives while waiting on the host (zero: none).
    pub(crate) keepalive: Duration,
    /// What ~/.ssh/config and ansible_ssh_*_args add (from src/reach.rs); default: nothing.
    pub(crate) extra: Extra,
}
