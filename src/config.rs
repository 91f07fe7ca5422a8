//! plumb.toml: defaults for what people otherwise repeat on every command line. Flags override.

use crate::error::{Error, Result};
use crate::location::Location;
use crate::transport::ssh::HostKeyChecking;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub defaults: Defaults,
    /// Where it was read from, if anywhere.
    #[serde(skip)]
    pub path: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    pub inventory: Option<String>,
    pub forks: Option<usize>,
    pub host_key_checking: Option<HostKeyChecking>,
    pub known_hosts: Option<String>,
    pub remote_user: Option<String>,
    pub private_key: Option<String>,
    pub timeout: Option<u64>,
    pub command_timeout: Option<u64>,
    pub keepalive: Option<u64>,
    /// OpenSSH client config (`none`: not read), below --ssh-config.
    pub ssh_config: Option<String>,
    /// Vault password file (or executable), below --vault-password-file and
    /// PLUMB_VAULT_PASSWORD_FILE.
    pub vault_password_file: Option<String>,
}

impl Config {
    /// `explicit` (--config / PLUMB_CONFIG), else ./plumb.toml, else ~/.config/plumb/plumb.toml,
    /// else no config.
    pub fn load(explicit: Option<&Path>) -> Result<Config> {
        let path = match explicit {
            Some(p) => {
                if !p.exists() {
                    return Err(Error::Usage(format!(
                        "config file {} does not exist",
                        p.display()
                    )));
                }
                p.to_path_buf()
            }
            None => {
                let local = PathBuf::from("plumb.toml");
                let user = crate::paths::home().join(".config/plumb/plumb.toml");
                match [local, user].into_iter().find(|p| p.exists()) {
                    Some(p) => p,
                    None => return Ok(Config::default()),
                }
            }
        };
        let text = std::fs::read_to_string(&path).map_err(Error::with_path(&path))?;
        Self::parse(&path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Config> {
        let mut cfg: Config = toml::from_str(text).map_err(|e| {
            let file = Arc::new(path.to_path_buf());
            let loc = e.span().map(|s| {
                let start = Location::new(&file, 1, 1);
                start.offset_in(text, s.start)
            });
            Error::input(loc, format!("config: {}", e.message()))
        })?;
        cfg.path = Some(path.to_path_buf());
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_defaults() {
        let c = Config::parse(
            Path::new("plumb.toml"),
            "[defaults]\ninventory = \"hosts.ini\"\nforks = 5\nhost_key_checking = \"accept-new\"\n",
        )
        .unwrap();
        assert_eq!(c.defaults.inventory.as_deref(), Some("hosts.ini"));
        assert_eq!(c.defaults.forks, Some(5));
        assert_eq!(
            c.defaults.host_key_checking,
            Some(HostKeyChecking::AcceptNew)
        );
    }

    #[test]
    fn unknown_keys_are_located() {
        let err = Config::parse(Path::new("plumb.toml"), "[defaults]\nforcs = 5\n")
            .err()
            .unwrap();
        match err {
            Error::Input {
                loc: Some(l), msg, ..
            } => {
                assert_eq!(l.line, 2);
                assert!(msg.contains("forcs"), "{msg}");
            }
            e => panic!("{e:?}"),
        }
    }
}
