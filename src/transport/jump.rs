//! Reaching a host through ProxyJump bastions or a ProxyCommand.
//!
//! libssh2 needs a socket for each session. For a host behind a bastion, that socket is one
//! end of a socketpair; the other end is pumped to and from a direct-tcpip channel of the
//! bastion's session. All hosts behind one bastion share that one authenticated session (one
//! TCP connection, so sshd's MaxStartups never sees more than one login from plumb), each
//! through its own channel. libssh2 sessions are not thread-safe: one pump thread per bastion
//! owns the session and multiplexes all its channels, non-blocking. A hop behind another hop
//! is a session over a socketpair pumped by the previous hop's thread.

use super::TransportError;
use super::ssh::Ssh;
use super::ssh_config::SshConfig;
use super::target::Target;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Connects to a resolved target: directly, through its ProxyJump hops, or its ProxyCommand.
pub(crate) fn connect(t: &Target) -> Result<Ssh, TransportError> {
    if !t.jumps.is_empty() {
        let bastion = bastion(&t.jumps)?;
        let stream = bastion.open(&t.ssh.address, t.ssh.port, t.ssh.connect_timeout)?;
        let last = t.jumps.last().map(hop_name).unwrap_or_default();
        return Ssh::over(&t.ssh, stream)
            .map_err(|e| TransportError(format!("{} (through {last})", e.0)));
    }
    if let Some(cmd) = &t.proxy_command {
        let stream = proxy_command(cmd)?;
        return Ssh::over(&t.ssh, stream);
    }
    Ssh::connect(&t.ssh)
}

fn hop_name(c: &SshConfig) -> String {
    format!("{}@{}:{}", c.user, c.address, c.port)
}

/// Runs `sh -c CMD` with one end of a socketpair as its stdin and stdout.
fn proxy_command(cmd: &str) -> Result<UnixStream, TransportError> {
    let (ours, theirs) =
        UnixStream::pair().map_err(|e| TransportError(format!("ProxyCommand: socketpair: {e}")))?;
    let fd: std::os::fd::OwnedFd = theirs.into();
    let stdin = fd
        .try_clone()
        .map_err(|e| TransportError(format!("ProxyCommand: {e}")))?;
    std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("exec {cmd}"))
        .stdin(std::process::Stdio::from(stdin))
        .stdout(std::process::Stdio::from(fd))
        .spawn()
        .map_err(|e| TransportError(format!("ProxyCommand `{cmd}`: {e}")))?;
    Ok(ours)
}

type Cell = Arc<OnceLock<Result<Arc<Bastion>, String>>>;

/// Bastion sessions by their chain of hops, one per chain for the whole run.
static POOL: Mutex<Option<HashMap<String, Cell>>> = Mutex::new(None);

/// The session to the last of `hops`, reached through the ones before it; made once, shared.
fn bastion(hops: &[SshConfig]) -> Result<Arc<Bastion>, TransportError> {
    let key: Vec<String> = hops.iter().map(hop_name).collect();
    let key = key.join(",");
    let cell = {
        let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
        pool.get_or_insert_with(HashMap::new)
            .entry(key)
            .or_default()
            .clone()
    };
    // Other hosts behind the same bastion wait here while the first one logs in.
    cell.get_or_init(|| {
        let (last, before) = hops.split_last().expect("at least one hop");
        let ssh = if before.is_empty() {
            Ssh::connect(last)
        } else {
            let prev = bastion(before).map_err(|e| e.0)?;
            let stream = prev
                .open(&last.address, last.port, last.connect_timeout)
                .map_err(|e| e.0)?;
            Ssh::over(last, stream)
        };
        let ssh = ssh.map_err(|e| format!("jump host {}: {}", hop_name(last), e.0))?;
        Ok(Arc::new(Bastion::start(ssh, last.keepalive)))
    })
    .clone()
    .map_err(TransportError)
}

struct Request {
    host: String,
    port: u16,
    sock: UnixStream,
    reply: mpsc::Sender<Result<(), String>>,
}

/// A bastion session, owned by its pump thread.
struct Bastion {
    tx: Mutex<mpsc::Sender<Request>>,
    wake: UnixStream,
}

impl Bastion {
    fn start(ssh: Ssh, keepalive: Duration) -> Bastion {
        let (tx, rx) = mpsc::channel();
        let (wake, wake_rx) = UnixStream::pair().expect("socketpair");
        wake_rx.set_nonblocking(true).ok();
        let (session, fd) = ssh.session();
        std::thread::spawn(move || {
            let _keep = ssh;
            Pump {
                session,
                fd,
                rx,
                wake: wake_rx,
                pending: Vec::new(),
                chans: Vec::new(),
                keepalive,
            }
            .run()
        });
        Bastion {
            tx: Mutex::new(tx),
            wake,
        }
    }

    /// A socket connected (through a new channel) to host:port as the bastion sees it.
    fn open(&self, host: &str, port: u16, timeout: Duration) -> Result<UnixStream, TransportError> {
        let (ours, theirs) =
            UnixStream::pair().map_err(|e| TransportError(format!("socketpair: {e}")))?;
        theirs.set_nonblocking(true).ok();
        let (reply, answer) = mpsc::channel();
        let sent = self
            .tx
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .send(Request {
                host: host.to_string(),
                port,
                sock: theirs,
                reply,
            });
        if sent.is_err() {
            return Err(TransportError("the jump host's connection is gone".into()));
        }
        let _ = (&self.wake).write(&[1]);
        match answer.recv_timeout(timeout) {
            Ok(Ok(())) => Ok(ours),
            Ok(Err(e)) => Err(TransportError(format!(
                "jump host cannot connect to {host}:{port}: {e}"
            ))),
            Err(_) => Err(TransportError(format!(
                "jump host did not open a channel to {host}:{port} within {} s",
                timeout.as_secs()
            ))),
        }
    }
}

/// One forwarded connection: a channel and the socket pumped to and from it.
struct Chan {
    ch: ssh2::Channel,
    sock: UnixStream,
    to_sock: Vec<u8>,
    to_ch: Vec<u8>,
    ch_eof: bool,
    sock_eof: bool,
    sock_shut: bool,
    dead: bool,
}

struct Pump {
    session: ssh2::Session,
    fd: RawFd,
    rx: mpsc::Receiver<Request>,
    wake: UnixStream,
    pending: Vec<Request>,
    chans: Vec<Chan>,
    keepalive: Duration,
}

const EAGAIN: i32 = -37;
const BUF: usize = 256 * 1024;

fn would_block(e: &ssh2::Error) -> bool {
    e.code() == ssh2::ErrorCode::Session(EAGAIN)
}

impl Pump {
    fn run(mut self) {
        self.session.set_blocking(false);
        let mut last_alive = Instant::now();
        let mut buf = vec![0u8; 32768];
        // Waits that ended at once without anything to move since: the bastion's socket stays
        // readable while every channel's consumer is slow. Then a short sleep, not a spin.
        let mut idle = 0u32;
        loop {
            let mut progress = false;
            let mut w = [0u8; 64];
            while matches!((&self.wake).read(&mut w), Ok(n) if n > 0) {}
            loop {
                match self.rx.try_recv() {
                    Ok(r) => self.pending.push(r),
                    Err(mpsc::TryRecvError::Empty) => break,
                    Err(mpsc::TryRecvError::Disconnected) => {
                        if self.chans.is_empty() && self.pending.is_empty() {
                            return;
                        }
                        break;
                    }
                }
            }
            // libssh2 opens one channel at a time.
            if let Some(req) = self.pending.first() {
                match self.session.channel_direct_tcpip(&req.host, req.port, None) {
                    Ok(ch) => {
                        let req = self.pending.remove(0);
                        let _ = req.reply.send(Ok(()));
                        self.chans.push(Chan {
                            ch,
                            sock: req.sock,
                            to_sock: Vec::new(),
                            to_ch: Vec::new(),
                            ch_eof: false,
                            sock_eof: false,
                            sock_shut: false,
                            dead: false,
                        });
                        progress = true;
                    }
                    Err(e) if would_block(&e) => {}
                    Err(e) => {
                        let req = self.pending.remove(0);
                        let _ = req.reply.send(Err(e.message().to_string()));
                        progress = true;
                    }
                }
            }
            for c in &mut self.chans {
                progress |= c.pump(&mut buf);
            }
            self.chans.retain_mut(|c| {
                let done = c.dead || (c.sock_eof && c.to_ch.is_empty());
                if done {
                    let _ = c.ch.send_eof();
                    let _ = c.ch.close();
                }
                !done
            });
            if !self.keepalive.is_zero() && last_alive.elapsed() >= self.keepalive {
                let _ = self.session.keepalive_send();
                last_alive = Instant::now();
            }
            if progress {
                idle = 0;
                continue;
            }
            // Data libssh2 already read for a channel would not wake the poll.
            if self
                .chans
                .iter()
                .any(|c| c.ch.read_window().available > 0 && c.to_sock.len() < BUF)
            {
                continue;
            }
            idle += 1;
            if idle > 2 {
                std::thread::sleep(Duration::from_millis(1));
            }
            if self.wait() {
                // The bastion's connection is gone: every channel with it.
                for r in self.pending.drain(..) {
                    let _ = r
                        .reply
                        .send(Err("the jump host's connection was lost".into()));
                }
                self.chans.clear();
                while let Ok(r) = self.rx.try_recv() {
                    let _ = r
                        .reply
                        .send(Err("the jump host's connection was lost".into()));
                }
                return;
            }
        }
    }

    /// Waits for any socket; true when the bastion's socket failed.
    fn wait(&self) -> bool {
        let mut fds = vec![
            libc::pollfd {
                fd: self.fd,
                events: libc::POLLIN
                    | match self.session.block_directions() {
                        ssh2::BlockDirections::Outbound | ssh2::BlockDirections::Both => {
                            libc::POLLOUT
                        }
                        _ => 0,
                    },
                revents: 0,
            },
            libc::pollfd {
                fd: self.wake.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        for c in &self.chans {
            let mut ev = 0;
            if !c.sock_eof && c.to_ch.len() < BUF {
                ev |= libc::POLLIN;
            }
            if !c.to_sock.is_empty() {
                ev |= libc::POLLOUT;
            }
            fds.push(libc::pollfd {
                fd: c.sock.as_raw_fd(),
                events: ev,
                revents: 0,
            });
        }
        let ms = if self.keepalive.is_zero() {
            1000
        } else {
            self.keepalive.as_millis().min(1000) as i32
        };
        // SAFETY: valid pollfds for sockets owned by this thread.
        unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
        fds[0].revents & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0
    }
}

impl Chan {
    /// Moves what can move without waiting; true if anything did.
    fn pump(&mut self, buf: &mut [u8]) -> bool {
        let mut progress = false;
        // Channel → socket.
        while !self.ch_eof && self.to_sock.len() < BUF {
            match self.ch.read(buf) {
                Ok(0) => {
                    if self.ch.eof() {
                        self.ch_eof = true;
                        progress = true;
                    }
                    break;
                }
                Ok(n) => {
                    self.to_sock.extend_from_slice(&buf[..n]);
                    progress = true;
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(_) => {
                    self.dead = true;
                    return true;
                }
            }
        }
        while !self.to_sock.is_empty() {
            match (&self.sock).write(&self.to_sock) {
                Ok(n) => {
                    self.to_sock.drain(..n);
                    progress = true;
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(_) => {
                    self.dead = true;
                    return true;
                }
            }
        }
        if self.ch_eof && self.to_sock.is_empty() && !self.sock_shut {
            let _ = self.sock.shutdown(std::net::Shutdown::Write);
            self.sock_shut = true;
            progress = true;
        }
        // Socket → channel.
        while !self.sock_eof && self.to_ch.len() < BUF {
            match (&self.sock).read(buf) {
                Ok(0) => {
                    self.sock_eof = true;
                    progress = true;
                }
                Ok(n) => {
                    self.to_ch.extend_from_slice(&buf[..n]);
                    progress = true;
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(_) => {
                    self.sock_eof = true;
                    progress = true;
                }
            }
        }
        while !self.to_ch.is_empty() {
            match self.ch.write(&self.to_ch) {
                Ok(0) => break,
                Ok(n) => {
                    self.to_ch.drain(..n);
                    progress = true;
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(_) => {
                    self.dead = true;
                    return true;
                }
            }
        }
        if self.ch_eof && self.sock_eof {
            self.dead = self.to_ch.is_empty() || self.dead;
        }
        progress
    }
}
