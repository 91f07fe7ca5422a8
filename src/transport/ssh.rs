//! SSH through libssh2: one session per host for the whole run, host keys checked against
//! known_hosts before anything is sent, key auth from the inventory, ssh-agent or ~/.ssh.

use super::{HttpError, Output, Transport, TransportError};
use crate::http::Request;
use crate::known_hosts::{self, Known, KnownKey};
use ssh2::{BlockDirections, HostKeyType, MethodType, Session};
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum HostKeyChecking {
    Strict,
    AcceptNew,
    Off,
}

#[derive(Debug, Clone)]
pub(crate) struct SshConfig {
    pub(crate) address: String,
    pub(crate) port: u16,
    pub(crate) user: String,
    pub(crate) key_file: Option<PathBuf>,
    pub(crate) known_hosts: PathBuf,
    pub(crate) checking: HostKeyChecking,
    pub(crate) connect_timeout: Duration,
    /// Longest a command may stay silent before the host counts as gone.
    pub(crate) command_timeout: Duration,
    /// Interval of keepalives while waiting on the host (zero: none).
    pub(crate) keepalive: Duration,
    /// What ~/.ssh/config and ansible_ssh_*_args add (src/reach.rs); default: nothing.
    pub(crate) extra: crate::reach::Extra,
}

pub(crate) struct Ssh {
    session: Session,
    /// The TCP socket's fd (owned by the session), for TCP_QUICKACK.
    fd: std::os::fd::RawFd,
    /// The channel whose remote process holds the host's plumb lock.
    lock: Option<ssh2::Channel>,
    user: String,
    command_timeout: Duration,
    keepalive: Duration,
    become_pass: super::BecomePass,
}

/// The order OpenSSH prefers; known_hosts written by OpenSSH holds the first one a server has.
const HOSTKEY_PREF: &[&str] = &[
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "rsa-sha2-512",
    "rsa-sha2-256",
];

fn key_type_name(t: HostKeyType) -> &'static str {
    match t {
        HostKeyType::Ed25519 => "ssh-ed25519",
        HostKeyType::Ecdsa256 => "ecdsa-sha2-nistp256",
        HostKeyType::Ecdsa384 => "ecdsa-sha2-nistp384",
        HostKeyType::Ecdsa521 => "ecdsa-sha2-nistp521",
        HostKeyType::Rsa => "ssh-rsa",
        HostKeyType::Dss => "ssh-dss",
        HostKeyType::Unknown => "unknown",
    }
}

/// Host-key methods to offer: only the types known_hosts has for this host, so that a server
/// with several keys is not taken for one whose key changed.
fn hostkey_methods(known: &[KnownKey]) -> String {
    let known_types: Vec<&str> = known.iter().map(|k| k.key_type.as_str()).collect();
    let wanted: Vec<&str> = HOSTKEY_PREF
        .iter()
        .copied()
        .filter(|m| {
            let kt = if m.starts_with("rsa-sha2") {
                "ssh-rsa"
            } else {
                m
            };
            known_types.is_empty() || known_types.contains(&kt)
        })
        .collect();
    if wanted.is_empty() {
        HOSTKEY_PREF.join(",")
    } else {
        wanted.join(",")
    }
}

/// Asks Linux to ACK at once instead of delaying; it lapses by itself, so it is set again
/// before each exchange.
fn quickack(fd: std::os::fd::RawFd) {
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
fn user_timeout(fd: std::os::fd::RawFd, after: Duration) {
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
fn socket_error(fd: std::os::fd::RawFd) -> Option<std::io::Error> {
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

fn err(what: &str) -> impl Fn(ssh2::Error) -> TransportError + '_ {
    move |e| TransportError(format!("{what}: {}", e.message()))
}

impl Ssh {
    pub(crate) fn connect(cfg: &SshConfig) -> Result<Ssh, TransportError> {
        let target = format!("{}:{}", cfg.address, cfg.port);
        let addrs: Vec<std::net::SocketAddr> = target
            .to_socket_addrs()
            .map_err(|e| TransportError(format!("cannot resolve {}: {e}", cfg.address)))?
            .collect();
        // Connection setup is paced: a bounded number of handshakes in flight, overall and to
        // this destination, so neither the control machine nor sshd's MaxStartups is swamped.
        let dest = addrs
            .first()
            .map_or_else(|| target.clone(), |a| a.to_string());
        let _permit = super::pace::handshakes().enter(&dest);
        let tcp = connect_any(&target, &addrs, cfg.connect_timeout)?;
        // Without it every exec waits on Nagle + delayed ACK (≈ 40 ms each).
        tcp.set_nodelay(true).ok();
        Self::over(cfg, tcp)
    }

    /// SSH over a stream already connected to the host (a TCP socket, or a socket pumped
    /// through a ProxyJump channel or a ProxyCommand: see transport/jump.rs).
    pub(crate) fn over<S: std::os::fd::AsRawFd + 'static>(
        cfg: &SshConfig,
        stream: S,
    ) -> Result<Ssh, TransportError> {
        let target = format!("{}:{}", cfg.address, cfg.port);
        let fd = stream.as_raw_fd();
        let mut session = Session::new().map_err(err("ssh session"))?;
        session.set_timeout(cfg.connect_timeout.as_millis() as u32);
        session.set_tcp_stream(stream);

        let name = match &cfg.extra.host_key_alias {
            Some(alias) => alias.clone(),
            None => known_hosts::host_name(&cfg.address, cfg.port),
        };
        let text = match std::fs::read_to_string(&cfg.known_hosts) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => {
                return Err(TransportError(format!(
                    "cannot read {}: {e}",
                    cfg.known_hosts.display()
                )));
            }
        };
        let known = known_hosts::lookup(&text, &name);
        if cfg.checking != HostKeyChecking::Off {
            session
                .method_pref(MethodType::HostKey, &hostkey_methods(&known.keys))
                .map_err(err("ssh"))?;
        }
        session
            .handshake()
            .map_err(|e| TransportError(format!("ssh handshake with {target}: {}", e.message())))?;
        check_host_key(&session, cfg, &name, &known)?;
        authenticate(&session, cfg)?;
        // After auth sshd sends its host-keys message and, Nagle on, holds its next small
        // packets until we ACK it; Linux would delay that ACK by 40 ms. From here on the session
        // is non-blocking and every wait sets TCP_QUICKACK first (see `Io`).
        quickack(fd);
        session.set_blocking(false);
        session.set_timeout(cfg.command_timeout.as_millis() as u32);
        if !cfg.keepalive.is_zero() {
            // A host that dies or drops off the network sends nothing, not even a reset: without
            // this, a silent command would only be given up after --command-timeout. With
            // keepalives in flight, Linux aborts the connection once they stay unacknowledged
            // for three intervals (like OpenSSH's ServerAliveInterval, ServerAliveCountMax 3).
            session.set_keepalive(true, cfg.keepalive.as_secs().max(1) as u32);
            user_timeout(fd, cfg.keepalive * cfg.extra.alive_count_max.unwrap_or(3));
        }
        Ok(Ssh {
            session,
            fd,
            lock: None,
            user: cfg.user.clone(),
            command_timeout: cfg.command_timeout,
            keepalive: cfg.keepalive,
            become_pass: super::BecomePass::default(),
        })
    }

    /// The session and its socket, for a bastion's channel pump (transport/jump.rs).
    pub(crate) fn session(&self) -> (Session, std::os::fd::RawFd) {
        (self.session.clone(), self.fd)
    }
}

/// The host key against known_hosts. A `@revoked` key is refused first, in every mode (also
/// with checking off); then a pinned key must match; a host trusted only through a
/// `@cert-authority` line is refused, as libssh2 cannot verify host certificates (never
/// falling back to recording its raw key); else an unknown key is recorded under accept-new.
fn check_host_key(
    session: &Session,
    cfg: &SshConfig,
    name: &str,
    known: &Known,
) -> Result<(), TransportError> {
    let (blob, kt) = session
        .host_key()
        .ok_or_else(|| TransportError("the server sent no host key".into()))?;
    let kt = key_type_name(kt);
    verdict(cfg, name, known, blob, kt)
}

fn verdict(
    cfg: &SshConfig,
    name: &str,
    known: &Known,
    blob: &[u8],
    kt: &str,
) -> Result<(), TransportError> {
    let fp = known_hosts::fingerprint(blob);
    let file = cfg.known_hosts.display();
    if let Some(r) = known.revoked.iter().find(|k| k.blob == blob) {
        return Err(TransportError(format!(
            "REVOKED HOST KEY for {name}: it offers {kt} {fp}, which {file}:{} marks @revoked. \
             Refusing to connect.",
            r.line
        )));
    }
    if cfg.checking == HostKeyChecking::Off {
        return Ok(());
    }
    if known.keys.iter().any(|k| k.blob == blob) {
        return Ok(());
    }
    if let Some(k) = known.keys.first() {
        return Err(TransportError(format!(
            "HOST KEY CHANGED for {name}: it now offers {kt} {fp}, which does not match {file}:{}. \
             Refusing to connect: this may be an attack, or the host was rebuilt. If you know it \
             was rebuilt, remove the old entry (ssh-keygen -R {name} -f {file}) and run again.",
            k.line
        )));
    }
    if let Some(ca) = known.cert_authorities.first() {
        return Err(TransportError(format!(
            "{name} is trusted through a @cert-authority line ({file}:{}), but plumb (libssh2) \
             cannot verify host certificates, so it refuses rather than trust the raw key. \
             Pin the host key instead: check that {kt} {fp} is the host's key, then add a \
             plain line for it (e.g. `ssh-keyscan -t {kt} HOST`, adding `[HOST]:PORT` off port \
             22, appended to {file}).",
            ca.line
        )));
    }
    match cfg.checking {
        HostKeyChecking::AcceptNew => known_hosts::append(&cfg.known_hosts, name, kt, blob)
            .map_err(|e| TransportError(format!("cannot record the host key in {file}: {e}"))),
        _ => Err(TransportError(format!(
            "unknown host key for {name}: {kt} {fp} is not in {file}. Check the fingerprint, \
             then run with --host-key-checking accept-new to record it."
        ))),
    }
}

/// Tries each address in turn (an unreachable IPv6 address before a working IPv4 one, as
/// OpenSSH does), all within one connect timeout.
fn connect_any(
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

/// The public key blob of a private key file: from KEY.pub, or from the unencrypted header of
/// an OpenSSH-format key. None if neither is there.
pub(super) fn public_blob(key: &std::path::Path) -> Option<Vec<u8>> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut pubfile = key.as_os_str().to_owned();
    pubfile.push(".pub");
    if let Ok(text) = std::fs::read_to_string(&pubfile)
        && let Some(field) = text.split_whitespace().nth(1)
        && let Ok(blob) = b64.decode(field)
    {
        return Some(blob);
    }
    openssh_key(&std::fs::read_to_string(key).ok()?).map(|(blob, _)| blob)
}

/// (public key blob, encrypted) of an `-----BEGIN OPENSSH PRIVATE KEY-----` file: its header
/// is `openssh-key-v1\0`, then strings (u32 length + bytes) cipher, kdf, kdf options, a u32
/// key count and the public keys, all unencrypted.
fn openssh_key(text: &str) -> Option<(Vec<u8>, bool)> {
    use base64::Engine;
    let body: String = text
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    let raw = base64::engine::general_purpose::STANDARD
        .decode(body.trim())
        .ok()?;
    let raw = raw.strip_prefix(b"openssh-key-v1\0".as_slice())?;
    let mut at = 0;
    let cipher = field(raw, &mut at)?;
    field(raw, &mut at)?;
    field(raw, &mut at)?;
    let count = be32(raw, &mut at)?;
    if count == 0 {
        return None;
    }
    let public = field(raw, &mut at)?;
    Some((public.to_vec(), cipher != b"none"))
}

fn be32(raw: &[u8], at: &mut usize) -> Option<usize> {
    let n = u32::from_be_bytes(raw.get(*at..*at + 4)?.try_into().ok()?) as usize;
    *at += 4;
    Some(n)
}

fn field<'a>(raw: &'a [u8], at: &mut usize) -> Option<&'a [u8]> {
    let n = be32(raw, at)?;
    let v = raw.get(*at..*at + n)?;
    *at += n;
    Some(v)
}

/// Whether a private key file needs a passphrase (OpenSSH or PEM format).
pub(super) fn encrypted(text: &str) -> bool {
    text.contains("ENCRYPTED") || openssh_key(text).is_some_and(|(_, enc)| enc)
}

fn authenticate(session: &Session, cfg: &SshConfig) -> Result<(), TransportError> {
    if cfg.extra.configured() {
        return super::auth::authenticate(session, cfg);
    }
    let user = &cfg.user;
    let mut tried = Vec::new();
    let agent = std::env::var_os("SSH_AUTH_SOCK").is_some();
    if let Some(key) = &cfg.key_file {
        if !key.exists() {
            return Err(TransportError(format!(
                "private key {} does not exist",
                key.display()
            )));
        }
        // The agent may hold this very key (unlocked): that identity first.
        if agent
            && let Some(blob) = public_blob(key)
            && try_agent(session, user, Some(&blob), &mut tried)
        {
            return Ok(());
        }
        if try_key_file(session, user, key, &mut tried)? {
            return Ok(());
        }
    } else {
        if agent && try_agent(session, user, None, &mut tried) {
            return Ok(());
        }
        for name in ["id_ed25519", "id_ecdsa", "id_rsa"] {
            let key = crate::paths::home().join(".ssh").join(name);
            if key.exists() && try_key_file(session, user, &key, &mut tried)? {
                return Ok(());
            }
        }
    }
    if tried.is_empty() {
        tried.push(
            "no key given (ansible_ssh_private_key_file), no ssh-agent, no ~/.ssh/id_* key".into(),
        );
    }
    Err(TransportError(format!(
        "authentication as {user} failed ({})",
        tried.join("; ")
    )))
}

/// Every identity the agent holds, in its order (libssh2's userauth_agent tries only the
/// first), or only the one whose public key is `only`. True once authenticated.
pub(super) fn try_agent(
    session: &Session,
    user: &str,
    only: Option<&[u8]>,
    tried: &mut Vec<String>,
) -> bool {
    let ids = session.agent().and_then(|mut a| {
        a.connect()?;
        a.list_identities()?;
        let ids = a.identities()?;
        Ok((a, ids))
    });
    let (mut agent, ids) = match ids {
        Ok(x) => x,
        Err(e) => {
            tried.push(format!("ssh-agent: {}", e.message()));
            return false;
        }
    };
    let mut any = false;
    for id in ids.iter().filter(|id| only.is_none_or(|b| id.blob() == b)) {
        any = true;
        match agent.userauth(user, id) {
            Ok(()) if session.authenticated() => {
                let _ = agent.disconnect();
                return true;
            }
            Ok(()) => {}
            Err(e) => tried.push(format!("ssh-agent key {}: {}", id.comment(), e.message())),
        }
    }
    if !any {
        tried.push(match only {
            Some(_) => "ssh-agent: does not hold this key".into(),
            None => "ssh-agent: no keys".into(),
        });
    }
    let _ = agent.disconnect();
    false
}

/// A private key file, with PLUMB_KEY_PASSPHRASE if it is protected. Ok(true) once
/// authenticated; an error (stop) for a protected key and no passphrase.
pub(super) fn try_key_file(
    session: &Session,
    user: &str,
    key: &std::path::Path,
    tried: &mut Vec<String>,
) -> Result<bool, TransportError> {
    let text = std::fs::read_to_string(key).unwrap_or_default();
    let pass = super::auth::passphrase(key, encrypted(&text));
    if encrypted(&text) && pass.is_none() {
        tried.push(format!(
            "key {} is protected by a passphrase: load it into ssh-agent (ssh-add), or set \
             PLUMB_KEY_PASSPHRASE",
            key.display()
        ));
        return Ok(false);
    }
    match session.userauth_pubkey_file(user, None, key, pass.as_deref()) {
        Ok(()) if session.authenticated() => return Ok(true),
        Ok(()) => {}
        Err(e) => tried.push(format!("key {}: {}", key.display(), e.message())),
    }
    Ok(false)
}

/// Non-blocking use of the session: every libssh2 call that would block instead returns, and we
/// poll the socket ourselves, setting TCP_QUICKACK before each wait. In blocking mode libssh2
/// waits inside its own calls, where a delayed ACK stalls small exchanges by 40 ms.
struct Io {
    session: Session,
    fd: std::os::fd::RawFd,
    /// Longest silence accepted from the host within one call.
    timeout: Duration,
    /// Interval of keepalives while waiting (zero: none).
    keepalive: Duration,
    /// An end for the whole operation, not only each call (a uri task's `timeout`), and
    /// what to tell then.
    overall: Option<(Instant, String)>,
}

const EAGAIN: i32 = -37;

impl Io {
    fn wait(&self, deadline: Instant) -> Result<(), TransportError> {
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
    fn call<T>(&self, mut f: impl FnMut() -> Result<T, ssh2::Error>) -> Result<T, TransportError> {
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
struct Stream<'a> {
    ch: &'a mut ssh2::Channel,
    io: &'a Io,
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

fn io_lost(e: std::io::Error) -> TransportError {
    match e.kind() {
        std::io::ErrorKind::TimedOut => TransportError(e.to_string()),
        _ => TransportError(format!("connection lost: {e}")),
    }
}

impl Ssh {
    /// The command that runs a script as `sudo_user`, and what goes before the script on stdin.
    fn sh_for(&self, sudo_user: Option<&str>) -> (String, Option<String>) {
        self.become_pass.sh_command(&self.user, sudo_user)
    }

    fn io(&self) -> Io {
        Io {
            session: self.session.clone(),
            fd: self.fd,
            timeout: self.command_timeout,
            keepalive: self.keepalive,
            overall: None,
        }
    }

    /// Runs `cmd` on a new channel of the session, feeding it `stdin`.
    fn exec(&mut self, cmd: &str, stdin: &[&[u8]]) -> Result<Output, TransportError> {
        let io = self.io();
        let mut ch = io.call(|| self.session.channel_session())?;
        io.call(|| ch.exec(cmd))?;
        {
            let mut st = Stream {
                ch: &mut ch,
                io: &io,
            };
            for part in stdin {
                st.write_all(part).map_err(io_lost)?;
            }
        }
        io.call(|| ch.send_eof())?;
        let (mut out, mut err) = drain(&ch, &io)?;
        io.call(|| ch.wait_close())?;
        let mut code = io.call(|| ch.exit_status())?;
        // A command killed by a signal reports status 0 (libssh2): do not take that as success.
        if let Ok(sig) = ch.exit_signal()
            && let Some(name) = sig.exit_signal
        {
            code = 128;
            err.extend_from_slice(format!("\n(killed by signal {name})\n").as_bytes());
        }
        let text = |b: &mut Vec<u8>| {
            self.become_pass
                .mask(String::from_utf8_lossy(&std::mem::take(b)).into_owned())
        };
        Ok(Output {
            code,
            out: text(&mut out),
            err: text(&mut err),
        })
    }
}

/// Reads a channel's stdout and stderr to their ends, side by side: reading one to its end
/// while the other fills the channel's window would hang.
fn drain(ch: &ssh2::Channel, io: &Io) -> Result<(Vec<u8>, Vec<u8>), TransportError> {
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

impl Transport for Ssh {
    fn run(&mut self, script: &str, sudo_user: Option<&str>) -> Result<Output, TransportError> {
        let (cmd, prefix) = self.sh_for(sudo_user);
        let whole = super::whole(script);
        self.exec(
            &cmd,
            &[prefix.unwrap_or_default().as_bytes(), whole.as_bytes()],
        )
    }

    fn set_become_password(&mut self, password: Option<String>) {
        self.become_pass = super::BecomePass::new(password);
    }

    fn http(&mut self, req: &Request) -> Result<(u16, String), HttpError> {
        // The task's own timeout, for each wait and for the whole request: an endpoint that
        // accepts and never answers fails after it, not after --command-timeout.
        let limit = Duration::from_secs(req.timeout.max(1));
        let io = Io {
            timeout: limit,
            overall: Some((
                Instant::now() + limit,
                format!(
                    "no answer within the task's timeout ({} s)",
                    limit.as_secs()
                ),
            )),
            ..self.io()
        };
        let opened = io.call(|| self.session.channel_direct_tcpip(&req.host, req.port, None));
        // The host's side refused to connect: a failed check, not a lost host.
        let mut ch = opened
            .map_err(|e| HttpError::Request(format!("{}: cannot connect ({})", req.url, e.0)))?;
        let res = crate::http::exchange(
            &mut Stream {
                ch: &mut ch,
                io: &io,
            },
            req,
        )
        .map_err(HttpError::Request);
        let _ = io.call(|| ch.close());
        res
    }

    fn lock_and_run(
        &mut self,
        wait: Duration,
        script: &str,
        sudo_user: Option<&str>,
        on_wait: &mut dyn FnMut(),
    ) -> Result<(super::Lock, Option<Output>), TransportError> {
        let (cmd, prefix) = self.sh_for(sudo_user);
        let end = format!("@@plumb:{}:end:", super::random_nonce());
        // The wait can be long: allow for it on top of the usual silence limit.
        let io = Io {
            timeout: self.command_timeout + wait,
            ..self.io()
        };
        let mut ch = io.call(|| self.session.channel_session())?;
        io.call(|| ch.handle_extended_data(ssh2::ExtendedData::Merge))?;
        io.call(|| ch.exec(&cmd))?;
        let input = super::lock_run_input(prefix.as_deref(), wait.as_secs(), script, &end);
        let mut st = Stream {
            ch: &mut ch,
            io: &io,
        };
        // No end of input: that is what releases the lock, at `close`.
        st.write_all(input.as_bytes()).map_err(io_lost)?;
        let res = super::read_lock_run(|buf| st.read(buf).map_err(io_lost), &end, on_wait)?;
        self.lock = Some(ch);
        Ok(match res {
            (lock, Some(out)) => (
                lock,
                Some(Output {
                    code: out.code,
                    out: self.become_pass.mask(out.out),
                    err: String::new(),
                }),
            ),
            other => other,
        })
    }

    fn close(&mut self) {
        // Orderly goodbyes are simplest blocking, bounded by the session timeout.
        self.session.set_timeout(2000);
        self.session.set_blocking(true);
        if let Some(mut ch) = self.lock.take() {
            let _ = ch.send_eof();
            let _ = ch.close();
        }
        let _ = self.session.disconnect(None, "plumb done", None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offers_only_known_key_types() {
        let k = |t: &str| KnownKey {
            line: 1,
            key_type: t.into(),
            blob: vec![],
        };
        assert_eq!(hostkey_methods(&[k("ssh-ed25519")]), "ssh-ed25519");
        assert_eq!(
            hostkey_methods(&[k("ssh-rsa")]),
            "rsa-sha2-512,rsa-sha2-256"
        );
        assert_eq!(hostkey_methods(&[]), HOSTKEY_PREF.join(","));
    }

    fn cfg(kh: &std::path::Path, checking: HostKeyChecking) -> SshConfig {
        SshConfig {
            address: "h".into(),
            port: 22,
            user: "u".into(),
            key_file: None,
            known_hosts: kh.to_path_buf(),
            checking,
            connect_timeout: Duration::from_secs(1),
            command_timeout: Duration::from_secs(1),
            keepalive: Duration::ZERO,
            extra: Default::default(),
        }
    }

    /// S2: revoked keys and CA-only hosts are refused in every mode, and never recorded.
    #[test]
    fn revoked_and_cert_authority_are_refused_never_recorded() {
        use base64::Engine;
        let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
        let dir = tempfile::tempdir().unwrap();
        let kh = dir.path().join("known_hosts");
        let (good, bad) = (b"good-key".as_slice(), b"revoked-key".as_slice());
        for (text, offered, want) in [
            // Revoked, for another host's pattern, and also listed plainly for this one.
            (
                format!(
                    "@revoked other {t} {}\nh {t} {}\n",
                    b64(bad),
                    b64(bad),
                    t = "ssh-ed25519"
                ),
                bad,
                Some("REVOKED HOST KEY"),
            ),
            // Revoked and nothing else known: accept-new must not record it.
            (
                format!("@revoked * ssh-ed25519 {}\n", b64(bad)),
                bad,
                Some("REVOKED"),
            ),
            (
                format!("@cert-authority *.x,h ssh-ed25519 {}\n", b64(good)),
                good,
                Some("cannot verify host certificates"),
            ),
            (format!("@revoked * ssh-ed25519 {}\n", b64(bad)), good, None),
            (format!("H ssh-ed25519 {}\n", b64(good)), good, None),
        ] {
            for checking in [
                HostKeyChecking::Strict,
                HostKeyChecking::AcceptNew,
                HostKeyChecking::Off,
            ] {
                std::fs::write(&kh, &text).unwrap();
                let known = known_hosts::lookup(&text, "h");
                let res = verdict(&cfg(&kh, checking), "h", &known, offered, "ssh-ed25519");
                let after = std::fs::read_to_string(&kh).unwrap();
                match want {
                    Some(w)
                        if w == "cannot verify host certificates"
                            && checking == HostKeyChecking::Off =>
                    {
                        assert!(res.is_ok())
                    }
                    Some(w) => {
                        let e = res.expect_err(&text).0;
                        assert!(e.contains(w), "{checking:?}: {e}");
                        assert_eq!(after, text, "{checking:?}: recorded");
                    }
                    None if checking == HostKeyChecking::Strict && !text.starts_with('H') => {
                        assert!(res.is_err())
                    }
                    None => assert!(res.is_ok(), "{checking:?} {text}: {res:?}"),
                }
            }
        }
    }

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

    /// S3: the public key of a private key file (to find it in the agent), from the .pub file
    /// or the key's own header, and whether it needs a passphrase.
    #[test]
    fn reads_public_keys_and_passphrase_need_from_key_files() {
        let dir = tempfile::tempdir().unwrap();
        for (name, pass) in [("plain", ""), ("locked", "secret words")] {
            let key = dir.path().join(name);
            let ok = std::process::Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", pass, "-C", name, "-f"])
                .arg(&key)
                .status()
                .unwrap()
                .success();
            assert!(ok);
            let text = std::fs::read_to_string(&key).unwrap();
            assert_eq!(encrypted(&text), !pass.is_empty(), "{name}");
            let from_pub = public_blob(&key).unwrap();
            let mut pubfile = key.as_os_str().to_owned();
            pubfile.push(".pub");
            std::fs::remove_file(&pubfile).unwrap();
            assert_eq!(public_blob(&key).unwrap(), from_pub, "{name}");
            assert!(from_pub.starts_with(b"\0\0\0\x0bssh-ed25519"), "{name}");
        }
        assert!(!encrypted("-----BEGIN RSA PRIVATE KEY-----\nabc\n"));
        assert!(encrypted(
            "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n"
        ));
    }
}
