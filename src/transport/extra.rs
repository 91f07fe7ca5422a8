//! `Extra`: what ~/.ssh/config and `ansible_ssh_*_args` add to a connection.

use std::path::PathBuf;

/// What the OpenSSH config and ssh args add to a connection, beyond plumb's own settings.
#[derive(Clone, Default)]
pub(crate) struct Extra {
    /// `IdentityFile`s (after `ansible_ssh_private_key_file`, which is `SshConfig::key_file`).
    pub identity_files: Vec<PathBuf>,
    pub identities_only: bool,
    /// `IdentityAgent`: a socket path; `Some("none")` disables the agent.
    pub identity_agent: Option<String>,
    /// `ansible_password` / `--ask-pass`.
    pub password: Option<String>,
    pub host_key_alias: Option<String>,
    /// `ServerAliveCountMax` (plumb's default: 3).
    pub alive_count_max: Option<u32>,
}

impl Extra {
    /// Whether anything here changes how plumb authenticates.
    pub(crate) fn configured(&self) -> bool {
        !self.identity_files.is_empty()
            || self.identities_only
            || self.identity_agent.is_some()
            || self.password.is_some()
    }
}

/// Never shows the password.
impl std::fmt::Debug for Extra {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Extra")
            .field("identity_files", &self.identity_files)
            .field("identities_only", &self.identities_only)
            .field("identity_agent", &self.identity_agent)
            .field("password", &self.password.as_ref().map(|_| "(hidden)"))
            .field("host_key_alias", &self.host_key_alias)
            .finish()
    }
}
