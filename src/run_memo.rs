//! A value made once per run for each text (a template, a pattern, a string to check) that
//! every host's validation and build would make again. Shared by the hosts' threads; made
//! outside the lock, so the others go on meanwhile; bounded, since texts built from data
//! (a loop's items) could be many.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex, MutexGuard};

/// Keyed by whole template files too: hashed with a fast hash, not SipHash.
type Kept<V> = HashMap<String, V, foldhash::fast::RandomState>;

pub(crate) struct RunMemo<V> {
    kept: LazyLock<Mutex<Kept<V>>>,
    /// Beyond this many texts it starts afresh.
    up_to: usize,
}

impl<V: Clone> RunMemo<V> {
    pub(crate) const fn new(up_to: usize) -> RunMemo<V> {
        RunMemo {
            kept: LazyLock::new(Mutex::default),
            up_to,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Kept<V>> {
        self.kept.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// What `make` gives for `key`, made once; an error is not kept (it stops the run, or is
    /// made again where it is met again).
    pub(crate) fn get_or<E>(&self, key: &str, make: impl FnOnce() -> Result<V, E>) -> Result<V, E> {
        if let Some(v) = self.lock().get(key) {
            return Ok(v.clone());
        }
        let v = make()?;
        let mut kept = self.lock();
        if kept.len() >= self.up_to {
            kept.clear();
        }
        kept.insert(key.to_string(), v.clone());
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Made once per key, errors never kept, and bounded.
    #[test]
    fn made_once_errors_again_bounded() {
        static M: RunMemo<usize> = RunMemo::new(2);
        let made = std::cell::Cell::new(0);
        let make = |v: usize| {
            made.set(made.get() + 1);
            Ok::<_, ()>(v)
        };
        assert_eq!(M.get_or("a", || make(1)), Ok(1));
        assert_eq!(M.get_or("a", || make(9)), Ok(1));
        assert_eq!(made.get(), 1);
        assert_eq!(M.get_or("bad", || Err::<usize, _>("no")), Err("no"));
        assert_eq!(M.get_or("bad", || make(2)), Ok(2));
        // The third key starts it afresh: "a" is made again.
        assert_eq!(M.get_or("c", || make(3)), Ok(3));
        assert_eq!(M.get_or("a", || make(4)), Ok(4));
    }
}
