//! `package`: apt on the hosts plumb manages. As Ansible's, it passes the other arguments to
//! the package manager's module: apt's are taken; those of yum and dnf are accepted where
//! written (a role's task for RedHat, skipped here, or `omit`) and fail the task on a host they
//! reach, as apt would refuse them.

use super::args::Getter;
use super::{Action, apt};
use crate::error::Result;

/// `package`'s own arguments, and apt's that it passes on.
const APT: &[&str] = &[
    "name",
    "state",
    "use",
    "update_cache",
    "cache_valid_time",
    "install_recommends",
    "purge",
    "lock_timeout",
];

/// What `package` accepts: apt's, and those of yum and dnf.
pub(crate) const ARGS: &[&str] = &[
    "name",
    "state",
    "use",
    "update_cache",
    "cache_valid_time",
    "install_recommends",
    "purge",
    "lock_timeout",
    "enablerepo",
    "disablerepo",
    "disable_gpg_check",
    "exclude",
    "conf_file",
    "installroot",
    "releasever",
    "security",
    "bugfix",
    "skip_broken",
    "allow_downgrade",
    "autoremove",
    "install_weak_deps",
    "update_only",
    "download_only",
    "enable_plugin",
    "disable_plugin",
    "disable_excludes",
    "validate_certs",
    "sslverify",
];

pub(crate) fn build(a: &Getter) -> Result<Action> {
    a.choice("use", &["auto", "apt"], "auto")?;
    // Failed where it runs, not when built: a task skipped on this host (its `when`) is never
    // checked, as in Ansible.
    if let Some(k) = (a.map().keys()).find(|k| !APT.contains(&k.as_str()) && a.has(k)) {
        return Ok(Action::Fail(format!(
            "{}: `{k}` is an argument of yum and dnf: `package` runs apt on this host, which does not take it",
            a.loc(k)
        )));
    }
    Ok(Action::Module(std::sync::Arc::new(apt::Apt::build(a)?)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// apt's arguments are a part of what `package` takes.
    #[test]
    fn apts_arguments_are_taken() {
        assert!(APT.iter().all(|a| ARGS.contains(a)));
    }
}
