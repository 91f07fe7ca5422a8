//! Pacing of SSH connection setup. A fleet run opens hundreds of connections at once; no connect
//! may be refused for being one too many: handshakes in flight are bounded, overall and per
//! destination (sshd's `MaxStartups` starts dropping unauthenticated connections beyond 10 by
//! default; its listen backlog is 128), independently of `--forks` (see `Gate`).

use std::collections::HashMap;
use std::sync::{Condvar, Mutex, OnceLock};

/// Handshakes (TCP connect to end of authentication) in flight at once, over all hosts; the
/// environment variable `PLUMB_HANDSHAKES` overrides it.
const DEFAULT_HANDSHAKES: usize = 64;
/// Handshakes in flight to one address and port: below sshd's default `MaxStartups` start (10).
const PER_DESTINATION: usize = 8;

/// How many handshakes are in flight, overall and per destination.
#[derive(Debug, Default)]
struct InFlight {
    total: usize,
    per: HashMap<String, usize>,
}

impl InFlight {
    /// Takes a slot for `dest` if both limits allow it.
    fn try_take(&mut self, dest: &str, total: usize, per: usize) -> bool {
        let n = self.per.get(dest).copied().unwrap_or(0);
        if self.total >= total.max(1) || n >= per.max(1) {
            return false;
        }
        self.total += 1;
        *self.per.entry(dest.to_string()).or_insert(0) += 1;
        true
    }

    fn give_back(&mut self, dest: &str) {
        self.total = self.total.saturating_sub(1);
        if let Some(n) = self.per.get_mut(dest) {
            *n -= 1;
            if *n == 0 {
                self.per.remove(dest);
            }
        }
    }
}

/// Bounds handshakes in flight; `enter` blocks until there is room.
pub(crate) struct Gate {
    total: usize,
    per: usize,
    state: Mutex<InFlight>,
    freed: Condvar,
}

/// A handshake slot, given back when dropped.
pub(crate) struct Permit<'a> {
    gate: &'a Gate,
    dest: String,
}

impl Gate {
    pub(crate) fn new(total: usize, per: usize) -> Gate {
        Gate {
            total,
            per,
            state: Mutex::new(InFlight::default()),
            freed: Condvar::new(),
        }
    }

    pub(crate) fn enter(&self, dest: &str) -> Permit<'_> {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        while !st.try_take(dest, self.total, self.per) {
            st = self.freed.wait(st).unwrap_or_else(|e| e.into_inner());
        }
        Permit {
            gate: self,
            dest: dest.to_string(),
        }
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        let mut st = self.gate.state.lock().unwrap_or_else(|e| e.into_inner());
        st.give_back(&self.dest);
        drop(st);
        self.gate.freed.notify_all();
    }
}

/// The process's gate for SSH handshakes.
pub(crate) fn handshakes() -> &'static Gate {
    static GATE: OnceLock<Gate> = OnceLock::new();
    GATE.get_or_init(|| {
        let total = std::env::var("PLUMB_HANDSHAKES")
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
            .filter(|&n| n > 0)
            .unwrap_or(DEFAULT_HANDSHAKES);
        Gate::new(total, PER_DESTINATION)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_flight_is_bounded_overall_and_per_destination() {
        let mut f = InFlight::default();
        for _ in 0..2 {
            assert!(f.try_take("a:22", 3, 2));
        }
        assert!(!f.try_take("a:22", 3, 2), "per destination");
        assert!(f.try_take("b:22", 3, 2));
        assert!(!f.try_take("c:22", 3, 2), "overall");
        f.give_back("a:22");
        assert!(!f.try_take("b:22", 3, 1), "b is at its own limit");
        assert!(f.try_take("c:22", 3, 2));
        f.give_back("a:22");
        f.give_back("b:22");
        f.give_back("c:22");
        assert_eq!(f.total, 0);
        assert!(f.per.is_empty());
        // Zero limits mean one at a time, never none.
        assert!(f.try_take("a:22", 0, 0));
        assert!(!f.try_take("b:22", 0, 0));
    }

    #[test]
    fn gate_never_lets_more_through_than_allowed() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let gate = Gate::new(4, 2);
        let now = [
            AtomicUsize::new(0),
            AtomicUsize::new(0),
            AtomicUsize::new(0),
        ];
        let peak = [
            AtomicUsize::new(0),
            AtomicUsize::new(0),
            AtomicUsize::new(0),
        ];
        let total = AtomicUsize::new(0);
        let total_peak = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for i in 0..24 {
                let (gate, now, peak, total, total_peak) =
                    (&gate, &now, &peak, &total, &total_peak);
                s.spawn(move || {
                    let d = i % 3;
                    let _p = gate.enter(&format!("h{d}:22"));
                    let n = now[d].fetch_add(1, Ordering::SeqCst) + 1;
                    peak[d].fetch_max(n, Ordering::SeqCst);
                    let t = total.fetch_add(1, Ordering::SeqCst) + 1;
                    total_peak.fetch_max(t, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(5));
                    now[d].fetch_sub(1, Ordering::SeqCst);
                    total.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        assert!(total_peak.load(Ordering::SeqCst) <= 4);
        for p in &peak {
            assert!(p.load(Ordering::SeqCst) <= 2);
        }
        assert_eq!(gate.state.lock().unwrap().total, 0);
    }
}
