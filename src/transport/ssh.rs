//! SSH through libssh2: one session per host for the whole run, host keys checked against
//! known_hosts before anything is sent, key auth from the inventory, ssh-agent or ~/.ssh.

use super::channel_io::{Io, Stream, drain, io_lost};
use super::host_key::{check_host_key, hostkey_methods};
use super::host_key_checking::HostKeyChecking;
use super::setup::Setup;
use super::socket::{connect_any, quickack, user_timeout};
use super::ssh_config::SshConfig;
use super::{HttpError, Output, Transport, TransportError};
use crate::http::Request;
use crate::known_hosts;
use ssh2::{MethodType, Session};
use std::io::{Read, Write};
use std::net::ToSocketAddrs;
use std::time::{Duration, Instant};

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
        // A host that vanishes mid-handshake leaves our bytes unacknowledged: give up on it after
        // the connect timeout, as on silence (below). (Not a TCP socket behind a jump host or a
        // ProxyCommand: then the option does not apply, and silence alone counts.)
        user_timeout(fd, cfg.connect_timeout);
        let mut session = Session::new().map_err(err("ssh session"))?;
        session.set_tcp_stream(stream);
        // Non-blocking from the start: libssh2's own timeout would bound each whole call (the
        // handshake, an authentication), so a slow but live host on a loaded machine would be
        // given up. Ours bounds silence only (see transport/setup.rs).
        session.set_blocking(false);
        let mut setup = Setup::new(&session, fd, cfg.connect_timeout);

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
        setup
            .drive(|| session.handshake())
            .map_err(|e| TransportError(format!("ssh handshake with {target}: {e}")))?;
        check_host_key(&session, cfg, &name, &known)?;
        super::auth::authenticate(&session, cfg, &mut setup)?;
        // After auth sshd sends its host-keys message and, Nagle on, holds its next small
        // packets until we ACK it; Linux would delay that ACK by 40 ms. From here on the session
        // is non-blocking and every wait sets TCP_QUICKACK first (see `Io`).
        quickack(fd);
        session.set_timeout(cfg.command_timeout.as_millis() as u32);
        if !cfg.keepalive.is_zero() {
            // A host that dies or drops off the network sends nothing, not even a reset: without
            // this, a silent command would only be given up after --command-timeout. With
            // keepalives in flight, Linux aborts the connection once they stay unacknowledged
            // for three intervals (like OpenSSH's ServerAliveInterval, ServerAliveCountMax 3).
            session.set_keepalive(true, cfg.keepalive.as_secs().max(1) as u32);
            user_timeout(fd, cfg.keepalive * cfg.extra.alive_count_max.unwrap_or(3));
        } else {
            user_timeout(fd, Duration::ZERO);
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

    fn http(&mut self, req: &Request) -> Result<crate::http::Response, HttpError> {
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

    /// The connect timeout bounds silence, not the handshake: a server that answers slowly, a
    /// byte at a time over longer than the timeout, is waited for (the handshake then fails on
    /// its garbage, not for silence); one that says nothing is given up for silence.
    #[test]
    fn handshake_limit_is_silence_not_slowness() {
        let dir = tempfile::tempdir().unwrap();
        let connect = |port: u16| {
            let c = SshConfig {
                address: "127.0.0.1".into(),
                port,
                ..cfg(&dir.path().join("known_hosts"), HostKeyChecking::Off)
            };
            Ssh::connect(&c).err().expect("no real server here").0
        };
        let slow = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = slow.local_addr().unwrap().port();
        let sent = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = sent.clone();
        let server = std::thread::spawn(move || {
            let (mut s, _) = slow.accept().unwrap();
            // 24 bytes, 150 ms apart: 3.6 s in all, beyond the 1 s connect timeout.
            for b in b"SSH-2.0-slow\r\n\0\0\0\x0cgarbage!" {
                std::thread::sleep(Duration::from_millis(150));
                if s.write_all(&[*b]).is_err() {
                    break;
                }
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        });
        let e = connect(port);
        server.join().unwrap();
        assert!(!e.contains("no answer"), "{e}");
        // Every byte was read before the handshake gave up: the wait outlasted the timeout.
        assert!(sent.load(std::sync::atomic::Ordering::SeqCst) >= 20, "{e}");

        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = silent.local_addr().unwrap().port();
        let e = connect(port);
        assert!(e.contains("no answer from the host for 1 s"), "{e}");
        drop(silent);
    }
}
