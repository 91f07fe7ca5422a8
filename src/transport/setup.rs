//! Connection setup (handshake, authentication) on a non-blocking session, where the connect
//! timeout bounds silence, not the whole: each byte from the host moves the deadline, so a host
//! that answers slowly (a loaded machine, hundreds of handshakes at once) is waited for, and
//! only one that stops answering is given up. libssh2's own timeout would bound each whole call.

use super::socket::{quickack, socket_error};
use ssh2::{BlockDirections, Session};
use std::time::{Duration, Instant};

/// libssh2's LIBSSH2_ERROR_EAGAIN: the call would block.
pub(super) const EAGAIN: i32 = -37;

/// A deadline that moves whenever the host is heard from: expired only after `limit` without a
/// byte received.
#[derive(Debug, Clone, Copy)]
pub(super) struct Silence {
    limit: Duration,
    last: Instant,
}

impl Silence {
    pub(super) fn new(limit: Duration, now: Instant) -> Silence {
        Silence { limit, last: now }
    }

    /// Bytes arrived at `now`.
    fn heard(&mut self, now: Instant) {
        if now > self.last {
            self.last = now;
        }
    }

    /// How long we may still wait at `now`; None once the host has been silent for `limit`.
    pub(super) fn left(&self, now: Instant) -> Option<Duration> {
        let left = (self.last + self.limit).saturating_duration_since(now);
        (!left.is_zero()).then_some(left)
    }
}

/// Why a setup call failed: libssh2 said so, or the host went silent or away.
pub(super) enum Fail {
    Ssh(ssh2::Error),
    Lost(String),
}

impl std::fmt::Display for Fail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fail::Ssh(e) => f.write_str(e.message()),
            Fail::Lost(m) => f.write_str(m),
        }
    }
}

/// Drives setup calls of a non-blocking session to their end, within the silence limit.
pub(super) struct Setup {
    session: Session,
    fd: std::os::fd::RawFd,
    silence: Silence,
}

impl Setup {
    pub(super) fn new(session: &Session, fd: std::os::fd::RawFd, limit: Duration) -> Setup {
        Setup {
            session: session.clone(),
            fd,
            silence: Silence::new(limit, Instant::now()),
        }
    }

    /// Retries `f` until it stops asking to wait, polling the socket in between.
    pub(super) fn drive<T>(
        &mut self,
        mut f: impl FnMut() -> Result<T, ssh2::Error>,
    ) -> Result<T, Fail> {
        loop {
            match f() {
                Ok(v) => return Ok(v),
                Err(e) if e.code() == ssh2::ErrorCode::Session(EAGAIN) => self.wait()?,
                Err(e) => return Err(Fail::Ssh(e)),
            }
        }
    }

    fn wait(&mut self) -> Result<(), Fail> {
        let Some(left) = self.silence.left(Instant::now()) else {
            return Err(Fail::Lost(format!(
                "no answer from the host for {} s (see --timeout)",
                self.silence.limit.as_secs()
            )));
        };
        let events = match self.session.block_directions() {
            BlockDirections::Inbound => libc::POLLIN,
            BlockDirections::Outbound => libc::POLLOUT,
            _ => libc::POLLIN | libc::POLLOUT,
        };
        quickack(self.fd);
        let mut pfd = libc::pollfd {
            fd: self.fd,
            events,
            revents: 0,
        };
        let ms = left.as_millis().clamp(1, i32::MAX as u128) as i32;
        // SAFETY: one valid pollfd for a socket the session owns.
        let ready = unsafe { libc::poll(&mut pfd, 1, ms) };
        if ready > 0 && pfd.revents & libc::POLLIN != 0 {
            self.silence.heard(Instant::now());
        }
        // A hang-up without an error leaves libssh2 to read what is left, then fail itself.
        if pfd.revents & (libc::POLLERR | libc::POLLHUP) != 0
            && let Some(e) = socket_error(self.fd)
        {
            return Err(Fail::Lost(format!("connection lost: {e}")));
        }
        Ok(())
    }
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
}
