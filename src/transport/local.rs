//! Runs on the control machine itself (`ansible_connection=local`).

use super::{HttpError, Output, Transport, TransportError};
use crate::http::Request;
use std::io::Write;
use std::net::{TcpStream, ToSocketAddrs};
use std::process::{Command, Stdio};
use std::time::Duration;

pub(crate) struct Local {
    user: String,
    lock: Option<std::process::Child>,
    become_pass: super::BecomePass,
}

impl Local {
    pub(crate) fn new() -> Local {
        // SAFETY: geteuid has no preconditions.
        let uid = unsafe { libc::geteuid() };
        let user = if uid == 0 {
            "root".to_string()
        } else {
            std::env::var("USER").unwrap_or_else(|_| uid.to_string())
        };
        Local {
            user,
            lock: None,
            become_pass: super::BecomePass::default(),
        }
    }
}

impl Local {
    /// The command that runs a script as `sudo_user`, and what goes before the script on stdin.
    fn sh_for(&self, sudo_user: Option<&str>) -> (String, Option<String>) {
        self.become_pass.sh_command(&self.user, sudo_user)
    }
}

/// `sh -c LINE` without plumb's secrets in its environment: local commands (and every tool
/// they start) never see the become password or a key passphrase.
fn sh(line: &str) -> Command {
    let mut c = Command::new("sh");
    c.args(["-c", line]);
    for k in crate::env_secrets::SECRET_ENV {
        c.env_remove(k);
    }
    c
}

impl Default for Local {
    fn default() -> Self {
        Local::new()
    }
}

impl Transport for Local {
    fn run(&mut self, script: &str, sudo_user: Option<&str>) -> Result<Output, TransportError> {
        let (cmd, prefix) = self.sh_for(sudo_user);
        let line = format!("exec {cmd}");
        let mut child = sh(&line)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| TransportError(format!("cannot run sh: {e}")))?;
        let mut stdin = child.stdin.take().expect("piped");
        let input = prefix.unwrap_or_default() + &super::whole(script);
        // Feed stdin from a thread so a chatty script cannot deadlock against a full pipe.
        let feeder = std::thread::spawn(move || {
            let _ = stdin.write_all(input.as_bytes());
        });
        let out = child
            .wait_with_output()
            .map_err(|e| TransportError(format!("sh: {e}")))?;
        let _ = feeder.join();
        let text = |b: &[u8]| {
            self.become_pass
                .mask(String::from_utf8_lossy(b).into_owned())
        };
        Ok(Output {
            code: out.status.code().unwrap_or(128),
            out: text(&out.stdout),
            err: text(&out.stderr),
        })
    }

    fn set_become_password(&mut self, password: Option<String>) {
        self.become_pass = super::BecomePass::new(password);
    }

    fn http(&mut self, req: &Request) -> Result<crate::http::Response, HttpError> {
        let addr = (req.host.as_str(), req.port)
            .to_socket_addrs()
            .map_err(|e| HttpError::Request(format!("{}: {e}", req.host)))?
            .next()
            .ok_or_else(|| HttpError::Request(format!("{}: no address", req.host)))?;
        let timeout = Duration::from_secs(req.timeout.max(1));
        let mut stream = TcpStream::connect_timeout(&addr, timeout)
            .map_err(|e| HttpError::Request(format!("{}: {e}", req.url)))?;
        stream.set_read_timeout(Some(timeout)).ok();
        crate::http::exchange(&mut stream, req).map_err(HttpError::Request)
    }

    fn lock_and_run(
        &mut self,
        wait: Duration,
        script: &str,
        sudo_user: Option<&str>,
        on_wait: &mut dyn FnMut(),
    ) -> Result<(super::Lock, Option<Output>), TransportError> {
        use std::io::Read;
        let (cmd, prefix) = self.sh_for(sudo_user);
        let end = format!("@@plumb:{}:end:", super::random_nonce());
        let line = format!("exec 2>&1; exec {cmd}");
        let mut child = sh(&line)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| TransportError(format!("cannot run sh: {e}")))?;
        let input = super::lock_run_input(prefix.as_deref(), wait.as_secs(), script, &end);
        // No end of input: that is what releases the lock, at `close`.
        let written = child
            .stdin
            .as_mut()
            .expect("piped")
            .write_all(input.as_bytes());
        let mut stdout = child.stdout.take().expect("piped");
        self.lock = Some(child);
        written.map_err(|e| TransportError(format!("sh: {e}")))?;
        let (lock, out) = super::read_lock_run(
            |buf| {
                stdout
                    .read(buf)
                    .map_err(|e| TransportError(format!("sh: {e}")))
            },
            &end,
            on_wait,
        )?;
        let out = out.map(|o| Output {
            code: o.code,
            out: self.become_pass.mask(o.out),
            err: String::new(),
        });
        Ok((lock, out))
    }

    fn close(&mut self) {
        if let Some(mut child) = self.lock.take() {
            drop(child.stdin.take());
            let _ = child.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_scripts_and_reports_exit_codes() {
        let mut l = Local::new();
        let out = l.run("echo out; echo err >&2; exit 3\n", None).unwrap();
        assert_eq!(out.code, 3);
        assert_eq!((out.out.as_str(), out.err.as_str()), ("out\n", "err\n"));
        assert_eq!(out.all(), "out\nerr\n");
    }
}
