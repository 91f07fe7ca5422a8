//! Files on the control machine that `copy` uploads, read and hashed once per run rather than
//! once per host and build (validation, the probe and the run each build the action). Every
//! use looks at the file again (identity, size, times), so a file that changed in between, say
//! written by an earlier local task, is read anew. A file changed within the last second is
//! not kept: another write in the same clock tick would leave its times as they were (git's
//! "racily clean" rule).

use crate::error::{Error, Result};
use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Kept only up to this size: a large upload is read again rather than held for the run.
const KEEP_UP_TO: u64 = 4 << 20;

/// What says a file is still the one that was read.
#[derive(PartialEq, Eq, Clone, Copy, Debug)]
struct Stamp {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Stamp {
    fn of(m: &std::fs::Metadata) -> Stamp {
        Stamp {
            dev: m.dev(),
            ino: m.ino(),
            len: m.len(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
        }
    }

    /// Whether both times are at least `settle` old: no write can keep them any more.
    fn settled(&self, settle: Duration) -> bool {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let at =
            |(s, ns): (i64, i64)| Duration::new(s.max(0) as u64, ns.clamp(0, 999_999_999) as u32);
        [self.mtime, self.ctime]
            .into_iter()
            .all(|t| now.saturating_sub(at(t)) >= settle)
    }
}

/// SHA-256 in hex, as `copy` compares contents.
pub(crate) fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}

type Kept = (Stamp, Arc<Vec<u8>>, String);

static KEPT: LazyLock<Mutex<HashMap<PathBuf, Kept>>> = LazyLock::new(Mutex::default);

/// A source file's content (decrypted if vaulted) and its SHA-256 in hex.
pub(crate) fn read(path: &Path) -> Result<(Arc<Vec<u8>>, String)> {
    read_settled(path, Duration::from_secs(1))
}

fn read_settled(path: &Path, settle: Duration) -> Result<(Arc<Vec<u8>>, String)> {
    let stamp = Stamp::of(&std::fs::metadata(path).map_err(Error::with_path(path))?);
    let kept = |p: &Path| {
        let map = KEPT.lock().unwrap_or_else(|e| e.into_inner());
        map.get(p)
            .filter(|k| k.0 == stamp)
            .map(|k| (k.1.clone(), k.2.clone()))
    };
    if let Some(hit) = kept(path) {
        return Ok(hit);
    }
    let data = Arc::new(crate::vault::read(path)?);
    let sha = sha256_hex(&data);
    // Looked at again: nothing may have changed while it was read.
    let unchanged = std::fs::metadata(path).is_ok_and(|m| Stamp::of(&m) == stamp);
    if unchanged && stamp.len <= KEEP_UP_TO && stamp.settled(settle) {
        let mut map = KEPT.lock().unwrap_or_else(|e| e.into_inner());
        map.insert(path.to_path_buf(), (stamp, data.clone(), sha.clone()));
    }
    Ok((data, sha))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_kept(path: &Path) -> bool {
        KEPT.lock().unwrap().contains_key(path)
    }

    /// Read once while the file stays as it is; read again once it changes in any way.
    #[test]
    fn a_kept_file_is_read_again_once_it_changes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("index.html");
        std::fs::write(&p, "one").unwrap();
        // Just written: not kept (a second write this tick could keep its times).
        let (data, sha) = read(&p).unwrap();
        assert_eq!(data.as_slice(), b"one");
        assert_eq!(sha, sha256_hex(b"one"));
        assert!(!is_kept(&p));
        let (_, _) = read_settled(&p, Duration::ZERO).unwrap();
        assert!(is_kept(&p));
        for (i, want) in ["two", "three", "3hree"].into_iter().enumerate() {
            // Another content, or the same size with another time (rewritten in place).
            std::fs::write(&p, want).unwrap();
            let f = std::fs::File::options().write(true).open(&p).unwrap();
            let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1 + i as u64);
            f.set_modified(t).unwrap();
            let (data, sha) = read_settled(&p, Duration::ZERO).unwrap();
            assert_eq!(data.as_slice(), want.as_bytes());
            assert_eq!(sha, sha256_hex(want.as_bytes()));
        }
        // Replaced by another file (another inode).
        let q = dir.path().join("new");
        std::fs::write(&q, "4our_").unwrap();
        std::fs::rename(&q, &p).unwrap();
        let (data, _) = read_settled(&p, Duration::ZERO).unwrap();
        assert_eq!(data.as_slice(), b"4our_");
        std::fs::remove_file(&p).unwrap();
        assert!(read(&p).is_err());
    }
}
