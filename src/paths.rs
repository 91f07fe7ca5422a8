//! The user's home directory and `~` expansion.

use std::path::PathBuf;

pub(crate) fn home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/root"))
}

/// `rel` under `dir`, leaving off a `.` directory so that messages read `vars/x.yml`, not
/// `./vars/x.yml`. Absolute `rel` stays as it is.
pub(crate) fn under(dir: &std::path::Path, rel: impl AsRef<std::path::Path>) -> PathBuf {
    if dir.as_os_str().is_empty() || dir == std::path::Path::new(".") {
        rel.as_ref().to_path_buf()
    } else {
        dir.join(rel)
    }
}

pub(crate) fn expand(p: &str) -> PathBuf {
    match p.strip_prefix("~/") {
        Some(rest) => home().join(rest),
        None if p == "~" => home(),
        None => PathBuf::from(p),
    }
}
