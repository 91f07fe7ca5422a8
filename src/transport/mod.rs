//! How plumb talks to a host: run a sh script (optionally through sudo) and open a TCP stream
//! from the host's side. SSH for real hosts; local for `ansible_connection=local` and tests.

pub(crate) mod auth;
mod channel_io;
pub(crate) mod down;
mod ed25519_key;
pub(crate) mod extra;
mod host_key;
pub(crate) mod host_key_checking;
pub(crate) mod jump;
mod key_file;
pub(crate) mod local;
pub(crate) mod pace;
mod setup;
mod socket;
pub(crate) mod ssh;
pub(crate) mod ssh_config;
pub(crate) mod target;

use crate::http::Request;

#[derive(Debug, Clone, Default)]
pub(crate) struct Output {
    pub(crate) code: i32,
    pub(crate) out: String,
    /// stderr, kept apart: a registered result has both, as in Ansible.
    pub(crate) err: String,
}

impl Output {
    /// stdout, then stderr: for messages, where both matter.
    pub(crate) fn all(&self) -> String {
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
pub(crate) struct TransportError(pub String);

impl std::fmt::Display for TransportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

pub(crate) trait Transport: Send {
    /// Runs `script` with sh on the host; as `sudo_user` through `sudo -n` when given.
    fn run(&mut self, script: &str, sudo_user: Option<&str>) -> Result<Output, TransportError>;

    /// An HTTP request made from the host's side of the connection.
    fn http(&mut self, req: &Request) -> Result<crate::http::Response, HttpError>;

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
pub(crate) enum Lock {
    Held,
    /// Another run kept it for the whole wait.
    TimedOut,
    /// It could not be taken, and the host said why: sudo refused (e.g. a password is
    /// required), an unsafe lock file, no flock. The host failed; it is not unreachable.
    Refused(String),
}

/// The host lock of runs that act as root (`become`, or root's login): in a directory only
/// root can write, so no other user can hold, break or replace it.
pub(crate) const LOCK_FILE: &str = "/run/plumb/lock";
/// The lock of runs that stay a non-root user: shared /run/lock, as any user can lock there.
const USER_LOCK_FILE: &str = "/run/lock/plumb.lock";

/// Sent on stdin to the shell that runs as the (become) user: takes the host lock and then runs
/// `script` (the first probe) in the same shell, so the lock costs no extra exec. Root locks
/// LOCK_FILE after checking that its directory and file are root's own; others the shared one.
/// The lock is held by that shell as long as the connection lives: after the script, `end` and
/// its exit code are printed, and the shell waits for the end of its stdin, which is what
/// releases the lock (when plumb goes away, however it goes). flock is util-linux.
fn lock_run_script(wait_secs: u64, script: &str, end: &str) -> String {
    // Every process forked here is paid on every host of every run, so the checks use the
    // shell's builtins where they can: the effective uid from /proc/self/status (`id -u` where
    // there is no /proc), no `mkdir` once the directory is there, and one `stat` that answers
    // for both the directory and the file (its lines say type, owner and mode; without -L a
    // symlink says so).
    format!(
        "plumb_u=
[ -r /proc/self/status ] && while read -r plumb_k plumb_r plumb_e plumb_x; do if [ \"$plumb_k\" = Uid: ]; then plumb_u=$plumb_e; break; fi; done </proc/self/status
[ -n \"$plumb_u\" ] || plumb_u=$(id -u)
if [ \"$plumb_u\" = 0 ]; then
d=/run/plumb f={LOCK_FILE} plumb_nl='
'
[ -d $d ] || mkdir -m 700 $d 2>/dev/null
if [ -e $f ] || [ -L $f ]; then plumb_s=$(LC_ALL=C stat -c %u:%a:%F $d $f 2>/dev/null); else plumb_s=$(LC_ALL=C stat -c %u:%a:%F $d 2>/dev/null); fi
case $plumb_s in \"0:700:directory\"|\"0:700:directory$plumb_nl\"*) ;; *) echo \"unsafe lock directory $d (it must be root's, mode 700)\"; exit 3;; esac
case $plumb_s in *\"$plumb_nl\"*) plumb_s=${{plumb_s#*\"$plumb_nl\"}};; *) : > $f; plumb_s=0:600:regular; [ -f $f ] && [ ! -L $f ] || plumb_s=;; esac
case $plumb_s in 0:*:regular*) ;; *) echo \"unsafe lock file $f (it must be a plain file of root's)\"; exit 3;; esac
else
f={USER_LOCK_FILE}
[ -e $f ] || {{ : > $f; chmod 666 $f; }} 2>/dev/null
if [ -L $f ] || [ ! -f $f ]; then echo \"unsafe lock file $f (not a plain file)\"; exit 3; fi
fi
exec 9<$f || exit 3
if ! flock -n 9; then echo busy; flock -w {wait_secs} 9 || {{ echo timeout; exit 1; }}; fi
echo locked
{}printf '\\n{end}%d\\n' $?
while read -r x; do :; done
",
        whole(script)
    )
}

/// What to send on stdin for a lock+probe exec: `prefix` (see `sh_command`), then the script.
/// Nothing may follow: the end of input is what releases the lock.
pub(crate) fn lock_run_input(
    prefix: Option<&str>,
    wait_secs: u64,
    script: &str,
    end: &str,
) -> String {
    format!(
        "{}{}",
        prefix.unwrap_or_default(),
        lock_run_script(wait_secs, script, end)
    )
}

/// Reads what `lock_run_script` says: the lock's answer line by line, then the script's output
/// up to `end` and its exit code. `read` returns 0 at the end of the stream.
pub(crate) fn read_lock_run(
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
                "cannot take the plumb lock (is flock installed?)".to_string()
            } else {
                format!("cannot take the plumb lock: {said}")
            }));
        };
        let word = String::from_utf8_lossy(&buf[..nl]).trim().to_string();
        match word.as_str() {
            "busy" => on_wait(),
            "locked" => {
                buf.drain(..=nl);
                break;
            }
            "timeout" => return Ok((Lock::TimedOut, None)),
            _ => {
                // sudo or the lock said why it failed, maybe on several lines: all of it.
                while more(&mut buf)? {}
                let said = String::from_utf8_lossy(&buf).trim().to_string();
                return Ok((Lock::Refused(said), None));
            }
        }
        buf.drain(..=nl);
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
pub(crate) enum HttpError {
    /// The endpoint could not be reached or answered garbage: the task fails.
    Request(String),
}

/// The script as one brace group: sh parses a group whole before running any of it, so a
/// script cut short in transit (connection lost, plumb killed) runs not at all, instead of
/// running a truncated half (a partial heredoc would write a partial file).
pub(crate) fn whole(script: &str) -> String {
    format!("{{\n{script}\n}}\n")
}

/// A random hex string (from the kernel), for markers no one can predict or forge.
pub(crate) fn random_nonce() -> String {
    let mut b = [0u8; 16];
    // SAFETY: getrandom writes at most b.len() bytes into the valid buffer b.
    let n = unsafe { libc::getrandom(b.as_mut_ptr() as *mut libc::c_void, b.len(), 0) };
    if n != b.len() as isize {
        // Never seen on Linux for 16 bytes; the time-based nonce still frames correctly.
        return crate::probe::nonce();
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// How a script reaches sh: the command line, and what to send before the script on stdin.
///
/// Through sudo, a password is never where a shell could run it: stdin starts with the
/// password line (when there is one, for `sudo -S`), then a marker line with a random nonce,
/// then the script. sudo reads its password byte by byte, and only when it asks; a small shell
/// loop then reads lines up to the marker (`read` also takes a pipe byte by byte) and execs
/// `sh -s` on the rest. So whatever sudo did not read (NOPASSWD, cached credentials, a rule
/// for this become user) is compared with the marker and dropped, never executed, and it does
/// not matter whether sudo asks. The password is never in argv or the environment.
pub(crate) fn sh_command(
    login: &str,
    sudo_user: Option<&str>,
    password: Option<&str>,
) -> (String, Option<String>) {
    let (exe, sudo_user) = match sudo_user.map(split_exe) {
        Some((exe, u)) => (exe, Some(u)),
        None => (None, None),
    };
    // `become_method: su` (see `Play::sudo_for`): su asks no password of root, and reads one
    // only from a terminal, so it is for a root login becoming another user.
    if let Some(u) = sudo_user.and_then(|u| u.strip_prefix("su:")) {
        if u == login {
            return ("sh -s".to_string(), None);
        }
        let mark = format!("PLUMB_MARK_{}", random_nonce());
        let skip = format!(
            "while IFS= read -r l; do [ \"$l\" = {mark} ] && exec sh -s; done; \
             echo 'plumb: the script did not arrive after su' >&2; exit 97"
        );
        return (
            format!(
                "{} -s /bin/sh {} -c {}",
                crate::shell::quote(exe.unwrap_or("su")),
                crate::shell::quote(u),
                crate::shell::quote(&skip)
            ),
            Some(format!("{mark}\n")),
        );
    }
    match sudo_user {
        Some(u) if u != login => {
            let mark = format!("PLUMB_MARK_{}", random_nonce());
            let skip = format!(
                "while IFS= read -r l; do [ \"$l\" = {mark} ] && exec sh -s; done; \
                 echo 'plumb: the script did not arrive after sudo' >&2; exit 97"
            );
            let (opts, pass) = match password {
                Some(p) => ("-S -p ''", format!("{p}\n")),
                None => ("-n", String::new()),
            };
            (
                format!(
                    "{} {opts} -H -u {} -- sh -c {}",
                    crate::shell::quote(exe.unwrap_or("sudo")),
                    crate::shell::quote(u),
                    crate::shell::quote(&skip)
                ),
                Some(format!("{pass}{mark}\n")),
            )
        }
        _ => ("sh -s".to_string(), None),
    }
}

/// Separates `become_exe` from the rest of a become user (see `with_exe`).
const EXE_SEP: char = '\u{1f}';

/// A become user (`USER`, or `su:USER`) whose program is `become_exe`: what `sh_command` takes.
/// A control character no user or path holds keeps the two apart.
pub(crate) fn with_exe(user: String, exe: Option<&str>) -> String {
    match exe {
        Some(e) => format!("{e}{EXE_SEP}{user}"),
        None => user,
    }
}

/// The `become_exe` of a become user, if any, and the rest.
pub(crate) fn split_exe(s: &str) -> (Option<&str>, &str) {
    match s.split_once(EXE_SEP) {
        Some((exe, rest)) => (Some(exe), rest),
        None => (None, s),
    }
}

/// The sudo password for `become`. It is sent whenever a script runs through sudo: with the
/// framing of `sh_command` it is harmless where sudo does not ask for it.
#[derive(Default)]
pub(crate) struct BecomePass {
    pub(crate) password: Option<String>,
}

impl BecomePass {
    pub(crate) fn new(password: Option<String>) -> BecomePass {
        BecomePass { password }
    }

    /// How a script runs as `sudo_user` for `login` (see `sh_command`).
    pub(crate) fn sh_command(
        &self,
        login: &str,
        sudo_user: Option<&str>,
    ) -> (String, Option<String>) {
        sh_command(login, sudo_user, self.password.as_deref())
    }

    /// Removes the password from text that came back from the host.
    pub(crate) fn mask(&self, text: String) -> String {
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
        let (lock, out) = read_lock_run(
            scripted(&["sudo: a password is required\n", "sudo: more\n"]),
            "@@end:",
            &mut || {},
        )
        .unwrap();
        assert_eq!(
            lock,
            Lock::Refused("sudo: a password is required\nsudo: more".into())
        );
        assert!(out.is_none());
    }

    /// The script itself, run by a real sh: locked, then the probe, then held until stdin ends.
    #[test]
    fn lock_run_script_runs_the_probe_after_the_lock() {
        use std::io::{Read, Write};
        let dir = tempfile::tempdir().unwrap();
        let lock = dir.path().join("plumb.lock");
        let input = lock_run_input(None, 5, "echo one; (exit 4)", "@@end:")
            .replace(LOCK_FILE, lock.to_str().unwrap())
            .replace(USER_LOCK_FILE, lock.to_str().unwrap())
            .replace("d=/run/plumb", &format!("d={}", dir.path().display()));
        // The directory as root's own lock directory must be (when the test runs as root).
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )
        .unwrap();
        let mut child = std::process::Command::new("sh")
            .arg("-s")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(input.as_bytes()).unwrap();
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

    /// Root's lock refuses a directory or file that is not root's own (S9): run as root only.
    #[test]
    fn root_lock_refuses_a_foreign_directory() {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("plumb");
        std::fs::create_dir(&d).unwrap();
        let input = lock_run_input(None, 1, "echo probed", "@@end:")
            .replace(LOCK_FILE, d.join("lock").to_str().unwrap())
            .replace("d=/run/plumb", &format!("d={}", d.display()));
        let run = |input: &str| {
            use std::io::Write;
            let mut c = std::process::Command::new("sh")
                .arg("-s")
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            c.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
            String::from_utf8(c.wait_with_output().unwrap().stdout).unwrap()
        };
        use std::os::unix::fs::PermissionsExt;
        // Another user's (here: mode 777, anyone's) directory.
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o777)).unwrap();
        let out = run(&input);
        assert!(out.starts_with("unsafe lock directory"), "{out}");
        // A lock file that is a symlink planted by someone else.
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", d.join("lock")).unwrap();
        let out = run(&input);
        assert!(out.starts_with("unsafe lock file"), "{out}");
        std::fs::remove_file(d.join("lock")).unwrap();
        let out = run(&input);
        assert!(out.starts_with("locked\nprobed\n"), "{out}");
        // The file it created is root's; once there, one `stat` answers for both.
        let out = run(&input);
        assert!(out.starts_with("locked\nprobed\n"), "{out}");
        // A lock file of another user's.
        std::os::unix::fs::chown(d.join("lock"), Some(65534), None).unwrap();
        let out = run(&input);
        assert!(out.starts_with("unsafe lock file"), "{out}");
        // A directory of root's but open to others.
        std::fs::remove_file(d.join("lock")).unwrap();
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
        let out = run(&input);
        assert!(out.starts_with("unsafe lock directory"), "{out}");
        // A missing directory is made, root's and 700.
        std::fs::remove_dir(&d).unwrap();
        let out = run(&input);
        assert!(out.starts_with("locked\nprobed\n"), "{out}");
        let m = std::fs::metadata(&d).unwrap();
        assert_eq!(m.permissions().mode() & 0o777, 0o700);
    }

    /// Runs `script` through `sh_command`'s framing with `sudo` replaced by `fake` (a sh snippet
    /// that sees sudo's arguments as "$@"): (stdout, stderr) and whether the password ran.
    fn through_sudo(fake: &str, password: &str) -> (String, String, bool) {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let ran = dir.path().join("ran");
        let password = password.replace("RAN", ran.to_str().unwrap());
        let (cmd, prefix) = sh_command("me", Some("other"), Some(&password));
        assert!(!cmd.contains(&password), "{cmd}");
        let line = format!("sudo() {{ {fake}\n}}\n{cmd}");
        let mut c = std::process::Command::new("sh")
            .args(["-c", &line])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let input = prefix.unwrap() + &whole("echo script ran");
        c.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        let out = c.wait_with_output().unwrap();
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
            ran.exists(),
        )
    }

    /// S1: whether sudo reads the password line or not, the script runs and the password never.
    #[test]
    fn the_password_line_is_never_run_by_sh() {
        // Arguments up to `--` are sudo's; the rest is the command.
        let skip = "while [ \"$1\" != -- ]; do shift; done; shift;";
        for (fake, what) in [
            (format!("{skip} \"$@\""), "sudo that does not ask"),
            (format!("IFS= read -r pw; {skip} \"$@\""), "sudo that asks"),
        ] {
            for pw in [
                "a;touch RAN",
                "x\"; touch RAN; \"",
                "$(touch RAN)",
                "`touch RAN`",
            ] {
                let (out, err, ran) = through_sudo(&fake, pw);
                assert!(!ran, "{what}: the password ran ({pw})");
                assert_eq!(out, "script ran\n", "{what} ({pw}): {err}");
                assert!(!err.contains("not found"), "{err}");
            }
        }
    }

    #[test]
    fn without_sudo_no_framing_and_the_nonce_is_random() {
        assert_eq!(
            sh_command("me", Some("me"), Some("pw")),
            ("sh -s".into(), None)
        );
        assert_eq!(sh_command("me", None, Some("pw")), ("sh -s".into(), None));
        assert_eq!(
            sh_command("me", Some("su:me"), None),
            ("sh -s".into(), None)
        );
        let (cmd, pre) = sh_command("root", Some("su:postgres"), Some("pw"));
        assert!(cmd.starts_with("su -s /bin/sh postgres -c 'while"), "{cmd}");
        assert!(
            pre.unwrap().starts_with("PLUMB_MARK_"),
            "no password for su"
        );
        let (cmd, pre) = sh_command("me", Some("root"), None);
        assert!(cmd.starts_with("sudo -n -H -u root -- sh -c "), "{cmd}");
        assert!(pre.unwrap().starts_with("PLUMB_MARK_"));
        assert_ne!(random_nonce(), random_nonce());
        assert_eq!(random_nonce().len(), 32);
    }

    /// `become_exe`: (login, become user, exe) → how the command line starts.
    #[test]
    fn become_exe_names_the_program() {
        let table: &[(&str, &str, Option<&str>, &str)] = &[
            ("me", "root", None, "sudo -n -H -u root -- "),
            (
                "me",
                "root",
                Some("/usr/local/bin/sudo"),
                "/usr/local/bin/sudo -n -H -u root -- ",
            ),
            (
                "root",
                "su:www-data",
                Some("/bin/su"),
                "/bin/su -s /bin/sh www-data -c ",
            ),
            ("root", "su:www-data", None, "su -s /bin/sh www-data -c "),
            // Becoming the login user runs no program at all.
            ("me", "me", Some("/opt/sudo"), "sh -s"),
        ];
        for (login, user, exe, want) in table {
            let spec = with_exe(user.to_string(), *exe);
            assert_eq!(split_exe(&spec), (*exe, *user));
            let (cmd, _) = sh_command(login, Some(&spec), None);
            assert!(cmd.starts_with(want), "{login} {user} {exe:?}: {cmd}");
        }
    }
}
