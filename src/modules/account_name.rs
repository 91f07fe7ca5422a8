//! User and group names, checked before any host is touched (shared by the account, cron,
//! key and file modules; on its own so that the safe-write layer needs no module).

use super::args::Getter;
use crate::error::Result;

/// User and group names as shadow-utils takes them.
pub(crate) fn check_name(a: &Getter, key: &str, name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && !name.starts_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-$".contains(c));
    if ok {
        Ok(())
    } else {
        Err(a.err(key, format!("`{name}` is not a valid user or group name")))
    }
}
