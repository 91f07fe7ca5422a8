//! `HostKeyChecking`: what to do with a host key known_hosts does not hold.

/// `strict` (refuse), `accept-new` (add it), or `off` (neither check nor add).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum HostKeyChecking {
    Strict,
    AcceptNew,
    Off,
}
