//! Non-blocking channel I/O over an established session.

use super::TransportError;
use super::setup::EAGAIN;
use super::socket::{quickack, socket_error};
use ssh2::{BlockDirections, Session};
use std::io::{Read, Write};
use std::time::{Duration, Instant};

/// Non-blocking use of the session: every libssh2 call that would block instead returns, and we
/// poll the socket ourselves, setting TCP_QUICKACK before each wait. In blocking mode libssh2
/// waits inside its own calls, where a delayed ACK stalls small exchanges by 40 ms.
pub(super) struct Io {
    pub(super) session: Session,
    pub(super) fd: std::os::fd::RawFd,
    /// Longest silence accepted from the host within one call.
    pub(super) timeout: Duration,
    /// Interval of keepalives while waiting (zero: none).
    pub(super) keepalive: Duration,
    /// An end for the whole operation, not only each call (a uri task's `timeout`), and
    /// what to tell then.
    pub(super) overall: Option<(Instant, String)>,
}

impl Io {
    pub(super) fn wait(&self, deadline: Instant) -> Result<(), TransportError> {
        let now = Instant::now();
        if let Some((end, what)) = &self.overall
            && now >= *end
        {
            return Err(TransportError(what.clone()));
        }
        let deadline = self
            .overall
            .as_ref()
            .map_or(deadline, |(end, _)| deadline.min(*end));
        if now >= deadline {
            return Err(TransportError(format!(
                "no answer from the host for {} s (see --command-timeout)",
                self.timeout.as_secs()
            )));
        }
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
        let mut left = deadline - now;
        if !self.keepalive.is_zero() {
            left = left.min(self.keepalive);
        }
        let ms = left.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: one valid pollfd for a socket the session owns.
        let ready = unsafe { libc::poll(&mut pfd, 1, ms) };
        quickack(self.fd);
        if ready == 0 && !self.keepalive.is_zero() {
            // Silence for a whole interval: a keepalive, which a dead host will not acknowledge.
            let _ = self.session.keepalive_send();
        }
        if pfd.revents & (libc::POLLERR | libc::POLLHUP) != 0
            && let Some(e) = socket_error(self.fd)
        {
            return Err(TransportError(
                if e.raw_os_error() == Some(libc::ETIMEDOUT) && !self.keepalive.is_zero() {
                    format!(
                        "connection lost: the host stopped answering (no reply to keepalives for {} s)",
                        (self.keepalive * 3).as_secs()
                    )
                } else {
                    format!("connection lost: {e}")
                },
            ));
        }
        Ok(())
    }

    /// Retries `f` until it stops asking to wait.
    pub(super) fn call<T>(
        &self,
        mut f: impl FnMut() -> Result<T, ssh2::Error>,
    ) -> Result<T, TransportError> {
        let deadline = Instant::now() + self.timeout;
        loop {
            match f() {
                Ok(v) => return Ok(v),
                Err(e) if e.code() == ssh2::ErrorCode::Session(EAGAIN) => self.wait(deadline)?,
                Err(e) => return Err(TransportError(format!("connection lost: {}", e.message()))),
            }
        }
    }
}

/// A channel read and written as if blocking, over the non-blocking session.
pub(super) struct Stream<'a> {
    pub(super) ch: &'a mut ssh2::Channel,
    pub(super) io: &'a Io,
}

impl Stream<'_> {
    fn retry<T>(
        &mut self,
        mut f: impl FnMut(&mut ssh2::Channel) -> std::io::Result<T>,
    ) -> std::io::Result<T> {
        let deadline = Instant::now() + self.io.timeout;
        loop {
            match f(self.ch) {
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => self
                    .io
                    .wait(deadline)
                    .map_err(|e| std::io::Error::new(std::io::ErrorKind::TimedOut, e.0))?,
                other => return other,
            }
        }
    }
}

impl Read for Stream<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.retry(|ch| ch.read(buf))
    }
}

impl Write for Stream<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.retry(|ch| ch.write(buf))
    }

    /// Nothing to do: a write is already on its way. (ssh2's `Channel::flush` is libssh2's
    /// `channel_flush`, which *discards* data received and not yet read: TLS records that
    /// arrived early, such as session tickets, would be lost, and the stream corrupted.)
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub(super) fn io_lost(e: std::io::Error) -> TransportError {
    match e.kind() {
        std::io::ErrorKind::TimedOut => TransportError(e.to_string()),
        _ => TransportError(format!("connection lost: {e}")),
    }
}

/// Reads a channel's stdout and stderr to their ends, side by side: reading one to its end
/// while the other fills the channel's window would hang.
pub(super) fn drain(ch: &ssh2::Channel, io: &Io) -> Result<(Vec<u8>, Vec<u8>), TransportError> {
    let mut got: [Vec<u8>; 2] = [Vec::new(), Vec::new()];
    let mut done = [false, false];
    let mut buf = [0u8; 32768];
    let mut deadline = Instant::now() + io.timeout;
    while !(done[0] && done[1]) {
        let mut progress = false;
        for id in 0..2 {
            while !done[id] {
                match ch.stream(id as i32).read(&mut buf) {
                    Ok(0) => done[id] = true,
                    Ok(n) => {
                        got[id].extend_from_slice(&buf[..n]);
                        progress = true;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(e) => return Err(io_lost(e)),
                }
            }
        }
        if progress {
            deadline = Instant::now() + io.timeout;
        } else if !(done[0] && done[1]) {
            io.wait(deadline)?;
        }
    }
    let [out, err] = got;
    Ok((out, err))
}
