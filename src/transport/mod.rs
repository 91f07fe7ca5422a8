//! How plumb talks to a host: run a sh script (optionally through sudo) and open a TCP stream
//! from the host's side. SSH for real hosts; local for `ansible_connection=local` and tests.

pub mod local;
pub mod ssh;

use crate::modules::uri::Request;

#[derive(Debug, Clone)]
pub struct Output {
    pub code: i32,
    /// stdout and stderr, merged in order.
    pub out: String,
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

    /// Asks for the host's plumb lock, held for the rest of the connection so two runs never
    /// interleave on one host. Does not wait for the answer: the read-only probe runs
    /// meanwhile, saving a round trip.
    fn lock_request(&mut self, wait: std::time::Duration) -> Result<(), TransportError>;

    /// Waits for the lock asked for with `lock_request`. `on_wait` is told once if another run
    /// holds it.
    fn lock_wait(&mut self, on_wait: &mut dyn FnMut()) -> Result<Lock, TransportError>;

    fn close(&mut self) {}
}

#[derive(Debug, PartialEq, Eq)]
pub enum Lock {
    /// `waited`: another run held it first, so anything read before may be stale.
    Held { waited: bool },
    /// Another run kept it for the whole wait.
    TimedOut,
}

pub const LOCK_FILE: &str = "/run/lock/plumb.lock";

/// Held by a process that lives as long as the connection: when plumb goes away, however it
/// goes, the lock goes with it. flock is util-linux, on every Debian and Ubuntu.
pub fn lock_script(wait_secs: u64) -> String {
    format!(
        "f={LOCK_FILE}; [ -e \"$f\" ] || {{ : > \"$f\"; chmod 666 \"$f\"; }} 2>/dev/null
exec 9<\"$f\" || exit 3
if ! flock -n 9; then echo busy; flock -w {wait_secs} 9 || {{ echo timeout; exit 1; }}; fi
echo locked
exec cat >/dev/null
"
    )
}

/// Reads the lock holder's answer line by line until it says `locked` or `timeout`.
pub fn read_lock_answer(
    mut read_line: impl FnMut() -> Result<Option<String>, TransportError>,
    on_wait: &mut dyn FnMut(),
) -> Result<Lock, TransportError> {
    let mut waited = false;
    loop {
        match read_line()?.as_deref().map(str::trim) {
            Some("busy") => {
                waited = true;
                on_wait();
            }
            Some("locked") => return Ok(Lock::Held { waited }),
            Some("timeout") => return Ok(Lock::TimedOut),
            Some(other) => {
                return Err(TransportError(format!(
                    "cannot take the plumb lock {LOCK_FILE}: {other}"
                )));
            }
            None => {
                return Err(TransportError(format!(
                    "cannot take the plumb lock {LOCK_FILE} (is flock installed?)"
                )));
            }
        }
    }
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
