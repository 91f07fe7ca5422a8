//! How plumb talks to a host: run a sh script (optionally through sudo) and open a TCP stream
//! from the host's side. SSH for real hosts; local for `ansible_connection=local` and tests.

pub mod local;
pub mod ssh;

use crate::modules::uri::Request;

#[derive(Debug, Clone, Default)]
pub struct Output {
    pub code: i32,
    pub out: String,
    /// stderr, kept apart: a registered result has both, as in Ansible.
    pub err: String,
}

impl Output {
    /// stdout, then stderr: for messages, where both matter.
    pub fn all(&self) -> String {
        match (
            self.out.trim_end().is_empty(),
            self.err.trim_end().is_empty(),
        ) {
            (_, true) => self.out.clone(),
            (true, false) => self.err.clone(),
            (false, false) => format!("{}\n{}", self.out.trim_end(), self.err),
        }
    }
}

/// The connection failed or was lost: the host is unreachable, not failed.
#[derive(Debug, Clone)]
pub struct TransportError(pub String);

impl std::fmt::Display for TransportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

pub trait Transport: Send {
    /// Runs `script` with sh on the host; as `sudo_user` through `sudo -n` when given.
    fn run(&mut self, script: &str, sudo_user: Option<&str>) -> Result<Output, TransportError>;

    /// An HTTP request made from the host's side of the connection.
    fn http(&mut self, req: &Request) -> Result<(u16, String), HttpError>;

    /// The user commands run as without sudo.
    fn login_user(&self) -> &str;

    /// The sudo password to use for `become`, if any.
    fn set_become_password(&mut self, password: Option<String>);

    /// Takes the host's plumb lock, held for the rest of the connection so two runs never
    /// interleave on one host, and then runs `script` (the first probe) on the same channel:
    /// one exec for both, and the probe reads the host only once no other run can change it.
    /// `on_wait` is told once if another run holds the lock. No output if the wait timed out.
    fn lock_and_run(
        &mut self,
        wait: std::time::Duration,
        script: &str,
        sudo_user: Option<&str>,
        on_wait: &mut dyn FnMut(),
    ) -> Result<(Lock, Option<Output>), TransportError>;

    fn close(&mut self) {}
}

#[derive(Debug, PartialEq, Eq)]
pub enum Lock {
    Held,
    /// Another run kept it for the whole wait.
    TimedOut,
}

pub const LOCK_FILE: &str = "/run/lock/plumb.lock";

/// The lock is held by a process that lives as long as the connection: when plumb goes away,
/// however it goes, the lock goes with it. flock is util-linux, on every Debian and Ubuntu.
/// Once locked, `cmd` reads its script from stdin (which must end with `exit`: stdin stays
/// open, since its end is what releases the lock), then `end` and the exit code are printed;
/// the shell then waits for that end with its own `read`, not one more process.
pub fn lock_run_script(wait_secs: u64, cmd: &str, end: &str) -> String {
    format!(
        "f={LOCK_FILE}; [ -e \"$f\" ] || {{ : > \"$f\"; chmod 666 \"$f\"; }} 2>/dev/null
exec 9<\"$f\" || exit 3
if ! flock -n 9; then echo busy; flock -w {wait_secs} 9 || {{ echo timeout; exit 1; }}; fi
echo locked
{cmd}
printf '\\n{end}%d\\n' $?
while read -r x; do :; done
"
    )
}

/// What to send on stdin after the command of `lock_run_script` started.
pub fn lock_run_input(prefix: Option<&str>, script: &str) -> String {
    format!("{}{}exit\n", prefix.unwrap_or_default(), whole(script))
}

/// Reads what `lock_run_script` says: the lock's answer line by line, then the script's output
/// up to `end` and its exit code. `read` returns 0 at the end of the stream.
pub fn read_lock_run(
    mut read: impl FnMut(&mut [u8]) -> Result<usize, TransportError>,
    end: &str,
    on_wait: &mut dyn FnMut(),
) -> Result<(Lock, Option<Output>), TransportError> {
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = [0u8; 16384];
    let mut more = |buf: &mut Vec<u8>| -> Result<bool, TransportError> {
        let n = read(&mut chunk)?;
        buf.extend_from_slice(&chunk[..n]);
        Ok(n > 0)
    };
    // The lock's answer.
    loop {
        let Some(nl) = buf.iter().position(|&b| b == b'\n') else {
            if more(&mut buf)? {
                continue;
            }
            let said = String::from_utf8_lossy(&buf).trim().to_string();
            return Err(TransportError(if said.is_empty() {
                format!("cannot take the plumb lock {LOCK_FILE} (is flock installed?)")
            } else {
                format!("cannot take the plumb lock {LOCK_FILE}: {said}")
            }));
        };
        let line: Vec<u8> = buf.drain(..=nl).collect();
        match String::from_utf8_lossy(&line).trim() {
            "busy" => on_wait(),
            "locked" => break,
            "timeout" => return Ok((Lock::TimedOut, None)),
            other => {
                return Err(TransportError(format!(
                    "cannot take the plumb lock {LOCK_FILE}: {other}"
                )));
            }
        }
    }
    // The script's output, up to the end marker and its code.
    let marker = format!("\n{end}");
    let mut from = 0;
    loop {
        if let Some(at) = find(&buf[from..], marker.as_bytes()).map(|i| i + from) {
            let tail = &buf[at + marker.len()..];
            if let Some(nl) = tail.iter().position(|&b| b == b'\n') {
                let code = String::from_utf8_lossy(&tail[..nl])
                    .trim()
                    .parse()
                    .map_err(|_| TransportError("garbled answer from the host".into()))?;
                buf.truncate(at);
                let out = String::from_utf8_lossy(&buf).into_owned();
                let err = String::new();
                return Ok((Lock::Held, Some(Output { code, out, err })));
            }
        }
        from = buf.len().saturating_sub(marker.len() + 16);
        if !more(&mut buf)? {
            return Err(TransportError(
                "connection lost: the host closed the channel before the probe ended".into(),
            ));
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[derive(Debug)]
pub enum HttpError {
    /// The endpoint could not be reached or answered garbage: the task fails.
    Request(String),
    /// The connection to the host itself is gone.
    Transport(TransportError),
}

/// The script as one brace group: sh parses a group whole before running any of it, so a
/// script cut short in transit (connection lost, plumb killed) runs not at all, instead of
/// running a truncated half (a partial heredoc would write a partial file).
pub fn whole(script: &str) -> String {
    format!("{{\n{script}\n}}\n")
}

/// How a script reaches sh: the command line, and what to send before the script on stdin.
/// The sudo password, when one is needed, goes first on stdin (`sudo -S`), never in argv.
pub fn sh_command(
    login: &str,
    sudo_user: Option<&str>,
    password: Option<&str>,
) -> (String, Option<String>) {
    match sudo_user {
        Some(u) if u != login => match password {
            Some(p) => (
                format!("sudo -S -p '' -H -u {} -- sh -s", crate::shell::quote(u)),
                Some(format!("{p}\n")),
            ),
            None => (
                format!("sudo -n -H -u {} -- sh -s", crate::shell::quote(u)),
                None,
            ),
        },
        _ => ("sh -s".to_string(), None),
    }
}

/// The sudo password for `become`, and whether this host asks for it (NOPASSWD hosts do not:
/// sending it there would hand it to sh as a command).
#[derive(Default)]
pub struct BecomePass {
    pub password: Option<String>,
    needed: Option<bool>,
}

impl BecomePass {
    pub fn new(password: Option<String>) -> BecomePass {
        BecomePass {
            password,
            needed: None,
        }
    }

    /// How a script runs as `sudo_user` for `login` (see `sh_command`), with the password
    /// only if this host asks for one; `sudo_works` answers that, once per host.
    pub fn sh_command(
        &mut self,
        login: &str,
        sudo_user: Option<&str>,
        sudo_works: impl FnOnce() -> Result<bool, TransportError>,
    ) -> Result<(String, Option<String>), TransportError> {
        let password = match sudo_user {
            Some(u) if u != login => self.for_run(sudo_works)?.map(String::from),
            _ => None,
        };
        Ok(sh_command(login, sudo_user, password.as_deref()))
    }

    /// The password to send for a sudo run. `sudo_works` answers, once per host, whether
    /// `sudo -n true` succeeds without one.
    pub fn for_run(
        &mut self,
        sudo_works: impl FnOnce() -> Result<bool, TransportError>,
    ) -> Result<Option<&str>, TransportError> {
        if self.password.is_none() {
            return Ok(None);
        }
        if self.needed.is_none() {
            self.needed = Some(!sudo_works()?);
        }
        Ok(if self.needed == Some(true) {
            self.password.as_deref()
        } else {
            None
        })
    }

    /// Removes the password from text that came back from the host.
    pub fn mask(&self, text: String) -> String {
        match &self.password {
            Some(p) if !p.is_empty() && text.contains(p.as_str()) => {
                text.replace(p.as_str(), "********")
            }
            _ => text,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out `parts` one per call, then the end of the stream.
    fn scripted(parts: &[&str]) -> impl FnMut(&mut [u8]) -> Result<usize, TransportError> {
        let mut parts: Vec<Vec<u8>> = parts.iter().rev().map(|p| p.as_bytes().to_vec()).collect();
        move |buf| match parts.pop() {
            Some(p) => {
                buf[..p.len()].copy_from_slice(&p);
                Ok(p.len())
            }
            None => Ok(0),
        }
    }

    #[test]
    fn lock_then_output_split_anywhere() {
        let whole = "locked\nstat\t/a\nx\n\n@@end:7\n";
        for cut in 1..whole.len() {
            let mut waits = 0;
            let (lock, out) = read_lock_run(
                scripted(&[&whole[..cut], &whole[cut..]]),
                "@@end:",
                &mut || waits += 1,
            )
            .unwrap();
            assert_eq!(lock, Lock::Held);
            let out = out.unwrap();
            assert_eq!(
                (out.code, out.out.as_str()),
                (7, "stat\t/a\nx\n"),
                "cut {cut}"
            );
            assert_eq!(waits, 0);
        }
    }

    #[test]
    fn busy_then_locked_tells_once() {
        let mut waits = 0;
        let (lock, out) = read_lock_run(
            scripted(&["busy\n", "locked\n\n@@end:0\n"]),
            "@@end:",
            &mut || waits += 1,
        )
        .unwrap();
        assert_eq!(
            (lock, out.unwrap().out.as_str(), waits),
            (Lock::Held, "", 1)
        );
    }

    #[test]
    fn timeout_gives_no_output() {
        let (lock, out) =
            read_lock_run(scripted(&["busy\ntimeout\n"]), "@@end:", &mut || {}).unwrap();
        assert_eq!(lock, Lock::TimedOut);
        assert!(out.is_none());
    }

    #[test]
    fn lost_before_the_end_is_an_error_not_empty_facts() {
        let e = read_lock_run(scripted(&["locked\npartial"]), "@@end:", &mut || {}).unwrap_err();
        assert!(e.0.starts_with("connection lost"), "{}", e.0);
        let e = read_lock_run(scripted(&[]), "@@end:", &mut || {}).unwrap_err();
        assert!(e.0.contains("is flock installed?"), "{}", e.0);
        let e = read_lock_run(
            scripted(&["sh: 2: cannot open /run/lock/plumb.lock\n"]),
            "@@end:",
            &mut || {},
        )
        .unwrap_err();
        assert!(e.0.contains("cannot open"), "{}", e.0);
    }

    /// The script itself, run by a real sh: locked, then the probe, then held until stdin ends.
    #[test]
    fn lock_run_script_runs_the_probe_after_the_lock() {
        use std::io::{Read, Write};
        let dir = tempfile::tempdir().unwrap();
        let lock = dir.path().join("plumb.lock");
        let script =
            lock_run_script(5, "sh -s", "@@end:").replace(LOCK_FILE, lock.to_str().unwrap());
        let mut child = std::process::Command::new("sh")
            .args(["-c", &script])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin
            .write_all(lock_run_input(None, "echo one; (exit 4)").as_bytes())
            .unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let (l, out) =
            read_lock_run(|b| Ok(stdout.read(b).unwrap()), "@@end:", &mut || {}).unwrap();
        assert_eq!(l, Lock::Held);
        let out = out.unwrap();
        assert_eq!((out.code, out.out.as_str()), (4, "one\n"));
        // Still held: a second taker is busy.
        let busy = std::process::Command::new("flock")
            .args(["-n", lock.to_str().unwrap(), "true"])
            .status()
            .unwrap();
        assert!(!busy.success());
        drop(stdin);
        assert!(child.wait().unwrap().success());
        let free = std::process::Command::new("flock")
            .args(["-n", lock.to_str().unwrap(), "true"])
            .status()
            .unwrap();
        assert!(free.success());
    }
}
