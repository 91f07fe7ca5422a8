//! `package`: apt on the hosts plumb manages. As Ansible's, it passes the other arguments to
//! the package manager's module: apt's are taken; those of yum and dnf are accepted where
//! written (a role's task for RedHat, skipped here, or `omit`) and fail the task on a host they
//! reach, as apt would refuse them.

use super::args::Getter;
use super::{Action, apt};
use crate::error::Result;

/// What `package` accepts: its own and apt's (the first `APT` of them), then those of yum and
/// dnf.
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

/// How many of `ARGS` are `package`'s own and apt's.
const APT: usize = 8;

pub(crate) fn build(a: &Getter) -> Result<Action> {
    a.choice("use", &["auto", "apt"], "auto")?;
    // Failed where it runs, not when built: a task skipped on this host (its `when`) is never
    // checked, as in Ansible.
    let apt = &ARGS[..APT];
    if let Some(k) = (a.map().keys()).find(|k| !apt.contains(&k.as_str()) && a.has(k)) {
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

    /// apt's own arguments are the first of what `package` takes.
    #[test]
    fn apts_arguments_come_first() {
        let apt = crate::modules::registry::spec("apt").unwrap().args;
        let own = ["use"];
        for a in &ARGS[..APT] {
            assert!(apt.contains(a) || own.contains(a), "{a}");
        }
        assert!(!apt.contains(&ARGS[APT]));
    }
}
