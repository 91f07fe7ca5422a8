//! plumb.toml: defaults for what people otherwise repeat on every command line. Flags override.

use crate::error::{Error, Result};
use crate::location::Location;
use crate::transport::host_key_checking::HostKeyChecking;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Config {
    #[serde(default)]
    pub(crate) defaults: Defaults,
    /// Where it was read from, if anywhere.
    #[serde(skip)]
    pub(crate) path: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Defaults {
    pub(crate) inventory: Option<String>,
    pub(crate) forks: Option<usize>,
    pub(crate) host_key_checking: Option<HostKeyChecking>,
    pub(crate) known_hosts: Option<String>,
    pub(crate) remote_user: Option<String>,
    pub(crate) private_key: Option<String>,
    pub(crate) timeout: Option<u64>,
    pub(crate) command_timeout: Option<u64>,
    pub(crate) keepalive: Option<u64>,
    /// OpenSSH client config (`none`: not read), below --ssh-config.
    pub(crate) ssh_config: Option<String>,
    /// Vault password file (or executable), below --vault-password-file and
    /// PLUMB_VAULT_PASSWORD_FILE.
    pub(crate) vault_password_file: Option<String>,
}

impl Config {
    /// `explicit` (--config / PLUMB_CONFIG), else ./plumb.toml, else ~/.config/plumb/plumb.toml,
    /// else no config.
    pub(crate) fn load(explicit: Option<&Path>) -> Result<Config> {
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

    pub(crate) fn parse(path: &Path, text: &str) -> Result<Config> {
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
