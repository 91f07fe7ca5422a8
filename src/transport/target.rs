//! `Target`: how to reach a host, hops included.

use super::ssh_config::SshConfig;

/// How to reach a host: the hops to go through (first to last), or a command to connect
/// through, then the host itself.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub jumps: Vec<SshConfig>,
    pub proxy_command: Option<String>,
    pub ssh: SshConfig,
    /// `file:line  Keyword value` of the config lines that applied (the host's, then the hops').
    pub applied: Vec<String>,
}
