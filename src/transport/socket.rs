//! Socket options and the TCP connect under SSH.

use super::TransportError;
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// Asks Linux to ACK at once instead of delaying; it lapses by itself, so it is set again
/// before each exchange.
pub(super) fn quickack(fd: std::os::fd::RawFd) {
    let one: libc::c_int = 1;
    // SAFETY: setsockopt on a socket fd the session owns, with a valid int option.
    unsafe {
        libc::setsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_QUICKACK,
            &one as *const libc::c_int as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

/// Unacknowledged data older than `after` aborts the connection (ETIMEDOUT).
pub(super) fn user_timeout(fd: std::os::fd::RawFd, after: Duration) {
    let ms = after.as_millis().min(u32::MAX as u128) as libc::c_uint;
    // SAFETY: setsockopt on a socket fd the session owns, with a valid uint option.
    unsafe {
        libc::setsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_USER_TIMEOUT,
            &ms as *const libc::c_uint as *const libc::c_void,
            std::mem::size_of::<libc::c_uint>() as libc::socklen_t,
        );
    }
}

/// The socket's pending error, e.g. ETIMEDOUT once keepalives went unanswered.
pub(super) fn socket_error(fd: std::os::fd::RawFd) -> Option<std::io::Error> {
    let mut e: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: getsockopt on a socket fd the session owns, into a valid int.
    let r = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ERROR,
            &mut e as *mut libc::c_int as *mut libc::c_void,
            &mut len,
        )
    };
    (r == 0 && e != 0).then(|| std::io::Error::from_raw_os_error(e))
}

/// Tries each address in turn (an unreachable IPv6 address before a working IPv4 one, as
/// OpenSSH does), all within one connect timeout.
pub(super) fn connect_any(
    target: &str,
    addrs: &[std::net::SocketAddr],
    timeout: Duration,
) -> Result<TcpStream, TransportError> {
    let deadline = Instant::now() + timeout;
    let mut errors = Vec::new();
    for addr in addrs {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            errors.push(format!("{addr}: no time left (--connect-timeout)"));
            break;
        }
        match TcpStream::connect_timeout(addr, left) {
            Ok(t) => return Ok(t),
            Err(e) => errors.push(format!("{addr}: {e}")),
        }
    }
    Err(TransportError(match errors.len() {
        0 => format!("cannot resolve {target}"),
        1 => format!(
            "cannot connect to {target}: {}",
            errors[0].split_once(": ").map_or("", |x| x.1)
        ),
        _ => format!("cannot connect to {target} ({})", errors.join("; ")),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// S4: a refused address is passed over for the next one, within the one timeout.
    #[test]
    fn tries_each_address() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let good = listener.local_addr().unwrap();
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let t = connect_any("h:22", &[closed, good], Duration::from_secs(5)).unwrap();
        assert_eq!(t.peer_addr().unwrap(), good);
        let e = connect_any("h:22", &[closed, closed], Duration::from_secs(5)).unwrap_err();
        assert!(
            e.0.starts_with("cannot connect to h:22 (127.0.0.1:"),
            "{}",
            e.0
        );
        let e = connect_any("h:22", &[closed], Duration::from_secs(5)).unwrap_err();
        assert!(e.0.starts_with("cannot connect to h:22: "), "{}", e.0);
        assert!(connect_any("h:22", &[], Duration::from_secs(5)).is_err());
    }
}
