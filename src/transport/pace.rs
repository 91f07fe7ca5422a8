//! Pacing of SSH connection setup, and the silence limit that bounds it.
//!
//! A fleet run opens hundreds of connections at once. Two things must hold however loaded the
//! machines are:
//! - a host counts as unreachable only when it is silent, not when it is slow: the connect
//!   timeout bounds the TCP connect and each stretch with no bytes from the host, never the whole
//!   handshake (see `Silence`);
//! - no connect is refused for being one too many: handshakes in flight are bounded, overall and
//!   per destination (sshd's `MaxStartups` starts dropping unauthenticated connections beyond 10
//!   by default; its listen backlog is 128), independently of `--forks` (see `Gate`).

use std::collections::HashMap;
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Handshakes (TCP connect to end of authentication) in flight at once, over all hosts; the
/// environment variable `PLUMB_HANDSHAKES` overrides it.
pub const DEFAULT_HANDSHAKES: usize = 64;
/// Handshakes in flight to one address and port: below sshd's default `MaxStartups` start (10).
pub const PER_DESTINATION: usize = 8;

/// A deadline that moves whenever the host is heard from: expired only after `limit` without a
/// byte received.
#[derive(Debug, Clone, Copy)]
pub struct Silence {
    limit: Duration,
    last: Instant,
}

impl Silence {
    pub fn new(limit: Duration, now: Instant) -> Silence {
        Silence { limit, last: now }
    }

    /// Bytes arrived at `now`.
    pub fn heard(&mut self, now: Instant) {
        if now > self.last {
            self.last = now;
        }
    }

    /// How long we may still wait at `now`; None once the host has been silent for `limit`.
    pub fn left(&self, now: Instant) -> Option<Duration> {
        let left = (self.last + self.limit).saturating_duration_since(now);
        (!left.is_zero()).then_some(left)
    }

    pub fn limit(&self) -> Duration {
        self.limit
    }
}

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
pub struct Gate {
    total: usize,
    per: usize,
    state: Mutex<InFlight>,
    freed: Condvar,
}

/// A handshake slot, given back when dropped.
pub struct Permit<'a> {
    gate: &'a Gate,
    dest: String,
}

impl Gate {
    pub fn new(total: usize, per: usize) -> Gate {
        Gate {
            total,
            per,
            state: Mutex::new(InFlight::default()),
            freed: Condvar::new(),
        }
    }

    pub fn enter(&self, dest: &str) -> Permit<'_> {
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
pub fn handshakes() -> &'static Gate {
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
    fn silence_moves_with_each_byte_heard() {
        let t0 = Instant::now();
        let s = |ms| Duration::from_millis(ms);
        let mut d = Silence::new(s(1000), t0);
        assert_eq!(d.left(t0), Some(s(1000)));
        assert_eq!(d.left(t0 + s(400)), Some(s(600)));
        assert_eq!(d.left(t0 + s(1000)), None);
        // Slow but talking: a handshake far longer than the limit stays alive.
        for k in 1..=10 {
            d.heard(t0 + s(900 * k));
            assert_eq!(d.left(t0 + s(900 * k + 500)), Some(s(500)));
        }
        assert_eq!(d.left(t0 + s(9000 + 999)), Some(s(1)));
        assert_eq!(d.left(t0 + s(9000 + 1000)), None);
        // Hearing "in the past" never moves the deadline back.
        d.heard(t0);
        assert_eq!(d.left(t0 + s(9500)), Some(s(500)));
    }

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
                    std::thread::sleep(Duration::from_millis(5));
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
