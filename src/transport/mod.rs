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

    fn close(&mut self) {}
}

#[derive(Debug)]
pub enum HttpError {
    /// The endpoint could not be reached or answered garbage: the task fails.
    Request(String),
    /// The connection to the host itself is gone.
    Transport(TransportError),
}

/// The command line that runs a script read from stdin, as `sudo_user` if needed.
pub fn sh_command(login: &str, sudo_user: Option<&str>) -> String {
    match sudo_user {
        Some(u) if u != login => {
            format!("sudo -n -H -u {} -- sh -s", crate::shell::quote(u))
        }
        _ => "sh -s".to_string(),
    }
}
