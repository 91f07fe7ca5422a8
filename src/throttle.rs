//! `throttle: N`: at most N hosts run the same task at once. Hosts run in their own threads;
//! a task's permits are counted here, keyed by the task.

use std::collections::HashMap;
use std::sync::{Condvar, Mutex};

static RUNNING: Mutex<Option<HashMap<usize, usize>>> = Mutex::new(None);
static FREED: Condvar = Condvar::new();

/// Held while a host runs a throttled task.
pub(crate) struct Permit {
    key: usize,
}

/// Waits until fewer than `limit` hosts run the task `key`, then counts this one.
pub(crate) fn acquire(key: usize, limit: usize) -> Permit {
    let mut g = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
    while g.get_or_insert_default().get(&key).copied().unwrap_or(0) >= limit.max(1) {
        g = FREED.wait(g).unwrap_or_else(|e| e.into_inner());
    }
    *g.get_or_insert_default().entry(key).or_default() += 1;
    Permit { key }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut g = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = g.get_or_insert_default().get_mut(&self.key) {
            *n = n.saturating_sub(1);
        }
        FREED.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn never_more_than_the_limit_at_once() {
        static NOW: AtomicUsize = AtomicUsize::new(0);
        static MOST: AtomicUsize = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    for _ in 0..20 {
                        let _p = acquire(7, 2);
                        let n = NOW.fetch_add(1, Ordering::SeqCst) + 1;
                        MOST.fetch_max(n, Ordering::SeqCst);
                        std::thread::yield_now();
                        NOW.fetch_sub(1, Ordering::SeqCst);
                    }
                });
            }
        });
        assert!(MOST.load(Ordering::SeqCst) <= 2);
        assert!(MOST.load(Ordering::SeqCst) >= 1);
    }
}
