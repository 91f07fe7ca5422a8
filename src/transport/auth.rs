//! Authentication in OpenSSH's order, with what ~/.ssh/config adds (`IdentityFile`,
//! `IdentitiesOnly`, `IdentityAgent`) and a password for hosts that need one:
//! 1. the agent's copies of the named key files, in file order;
//! 2. unless `IdentitiesOnly` (or an inventory key file is given), every other agent identity,
//!    in the agent's order;
//! 3. the named key files themselves (the default ~/.ssh/id_* when none is named), a protected
//!    one with PLUMB_KEY_PASSPHRASE;
//! 4. the password (`ansible_password`, `--ask-pass`), never shown.

use super::TransportError;
use super::ed25519_key::Ed25519Key;
use super::key_file::{encrypted, openssh_public_line, public_blob};
use super::setup::{Fail, Setup};
use super::ssh_config::SshConfig;
use ssh2::Session;
use std::path::PathBuf;

fn configured(session: &Session, cfg: &SshConfig, setup: &mut Setup) -> Result<(), TransportError> {
    let user = &cfg.user;
    let extra = &cfg.extra;
    let mut tried = Vec::new();
    let mut files: Vec<PathBuf> = cfg.key_file.iter().cloned().collect();
    // Named in the config but missing: skipped, as OpenSSH does.
    files.extend(extra.identity_files.iter().filter(|f| f.exists()).cloned());
    let named = !files.is_empty();
    if !named {
        files = ["id_ed25519", "id_ecdsa", "id_rsa"]
            .iter()
            .map(|n| crate::paths::home().join(".ssh").join(n))
            .filter(|k| k.exists())
            .collect();
    }
    let blobs: Vec<Option<Vec<u8>>> = files.iter().map(|f| public_blob(f)).collect();
    let mut in_agent = vec![false; files.len()];

    let agent_sock = match extra.identity_agent.as_deref() {
        Some(a) if a.eq_ignore_ascii_case("none") => None,
        Some("SSH_AUTH_SOCK") | None => std::env::var_os("SSH_AUTH_SOCK").map(PathBuf::from),
        Some(p) => Some(PathBuf::from(p)),
    };
    if let Some(sock) = agent_sock {
        let only_named = extra.identities_only || cfg.key_file.is_some();
        match agent_ids(session, &sock) {
            Err(e) => tried.push(format!("ssh-agent {}: {e}", sock.display())),
            Ok((mut agent, ids)) => {
                // The agent's copies of the named keys first, in file order; then the rest.
                let mut order: Vec<usize> = Vec::new();
                for (i, b) in blobs.iter().enumerate() {
                    if let Some(b) = b
                        && let Some(j) = ids.iter().position(|id| id.blob() == b.as_slice())
                    {
                        in_agent[i] = true;
                        if !order.contains(&j) {
                            order.push(j);
                        }
                    }
                }
                if !(only_named && named) {
                    let rest: Vec<usize> = (0..ids.len()).filter(|j| !order.contains(j)).collect();
                    order.extend(rest);
                }
                for j in order {
                    let id = &ids[j];
                    match setup.drive(|| agent.userauth(user, id)) {
                        Ok(()) if session.authenticated() => {
                            let _ = agent.disconnect();
                            return Ok(());
                        }
                        Ok(()) => {}
                        Err(Fail::Ssh(e)) => {
                            tried.push(format!("ssh-agent key {}: {}", id.comment(), refusal(&e)))
                        }
                        Err(lost) => return Err(lost_in_auth(lost)),
                    }
                }
                let _ = agent.disconnect();
            }
        }
    }
    for (i, key) in files.iter().enumerate() {
        if in_agent[i] {
            continue;
        }
        if try_key_file(session, setup, user, key, &mut tried)? {
            return Ok(());
        }
    }
    if let Some(pass) = &extra.password {
        match setup.drive(|| session.userauth_password(user, pass)) {
            Ok(()) if session.authenticated() => return Ok(()),
            // The message of libssh2 never holds the password.
            Ok(()) => tried.push("password: refused".into()),
            Err(Fail::Ssh(e)) => tried.push(format!("password: {}", e.message())),
            Err(lost) => return Err(lost_in_auth(lost)),
        }
    }
    if tried.is_empty() {
        tried.push("no key file, no ssh-agent, no ~/.ssh/id_* key, no password".into());
    }
    Err(TransportError(format!(
        "authentication as {user} failed ({})",
        tried.join("; ")
    )))
}

/// Authenticates as `cfg.user`: with what ~/.ssh/config names if it names anything, else with
/// the inventory's key (the agent's copy first), the agent's keys or ~/.ssh/id_*.
pub(super) fn authenticate(
    session: &Session,
    cfg: &SshConfig,
    setup: &mut Setup,
) -> Result<(), TransportError> {
    if cfg.extra.configured() {
        return configured(session, cfg, setup);
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
            && try_agent(session, setup, user, Some(&blob), &mut tried)?
        {
            return Ok(());
        }
        if try_key_file(session, setup, user, key, &mut tried)? {
            return Ok(());
        }
    } else {
        if agent && try_agent(session, setup, user, None, &mut tried)? {
            return Ok(());
        }
        for name in ["id_ed25519", "id_ecdsa", "id_rsa"] {
            let key = crate::paths::home().join(".ssh").join(name);
            if key.exists() && try_key_file(session, setup, user, &key, &mut tried)? {
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
fn try_agent(
    session: &Session,
    setup: &mut Setup,
    user: &str,
    only: Option<&[u8]>,
    tried: &mut Vec<String>,
) -> Result<bool, TransportError> {
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
            return Ok(false);
        }
    };
    let mut any = false;
    for id in ids.iter().filter(|id| only.is_none_or(|b| id.blob() == b)) {
        any = true;
        match setup.drive(|| agent.userauth(user, id)) {
            Ok(()) if session.authenticated() => {
                let _ = agent.disconnect();
                return Ok(true);
            }
            Ok(()) => {}
            Err(Fail::Ssh(e)) => {
                tried.push(format!("ssh-agent key {}: {}", id.comment(), refusal(&e)))
            }
            Err(lost) => return Err(lost_in_auth(lost)),
        }
    }
    if !any {
        tried.push(match only {
            Some(_) => "ssh-agent: does not hold this key".into(),
            None => "ssh-agent: no keys".into(),
        });
    }
    let _ = agent.disconnect();
    Ok(false)
}

/// A private key file, with PLUMB_KEY_PASSPHRASE if it is protected. Ok(true) once
/// authenticated; an error (stop) for a protected key and no passphrase.
fn try_key_file(
    session: &Session,
    setup: &mut Setup,
    user: &str,
    key: &std::path::Path,
    tried: &mut Vec<String>,
) -> Result<bool, TransportError> {
    let text = std::fs::read_to_string(key).unwrap_or_default();
    let pass = passphrase(key, encrypted(&text));
    if encrypted(&text) && pass.is_none() {
        tried.push(format!(
            "key {} is protected by a passphrase: load it into ssh-agent (ssh-add), or set \
             PLUMB_KEY_PASSPHRASE",
            key.display()
        ));
        return Ok(false);
    }
    let public = openssh_public_line(&text);
    let own = Ed25519Key::load(key, &text);
    let sign = || match (&own, &public) {
        (Some(k), _) => k.userauth(session, user),
        (None, Some(line)) => {
            session.userauth_pubkey_memory(user, Some(line), &text, pass.as_deref())
        }
        (None, None) => session.userauth_pubkey_file(user, None, key, pass.as_deref()),
    };
    match setup.drive(sign) {
        Ok(()) if session.authenticated() => return Ok(true),
        Ok(()) => {}
        Err(Fail::Ssh(e)) => tried.push(format!("key {}: {}", key.display(), refusal(&e))),
        Err(lost) => return Err(lost_in_auth(lost)),
    }
    Ok(false)
}

/// libssh2's LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED: the host hung up after the key was signed.
const PUBLICKEY_UNVERIFIED: i32 = -19;

/// Why a key was refused, in words a user can act on. A host that hangs up right after the
/// signature has accepted the key but not the account (PAM's account stage): most often
/// `/run/nologin` while the host is still booting, or `/etc/nologin`, or a locked or expired
/// account. libssh2 only says it was "waiting for publickey USERAUTH response".
fn refusal(e: &ssh2::Error) -> String {
    if e.code() == ssh2::ErrorCode::Session(PUBLICKEY_UNVERIFIED) {
        return format!(
            "{}: the host closed the connection after the key; it refuses this account \
             (/run/nologin while it boots, /etc/nologin, a locked or expired account?)",
            e.message()
        );
    }
    e.message().to_string()
}

fn lost_in_auth(lost: Fail) -> TransportError {
    TransportError(format!("authentication: {lost}"))
}

fn agent_ids(
    session: &Session,
    sock: &std::path::Path,
) -> Result<(ssh2::Agent, Vec<ssh2::PublicKey>), String> {
    let mut a = session.agent().map_err(|e| e.message().to_string())?;
    a.set_identity_path(sock)
        .map_err(|e| e.message().to_string())?;
    a.connect().map_err(|e| e.message().to_string())?;
    a.list_identities().map_err(|e| e.message().to_string())?;
    let ids = a.identities().map_err(|e| e.message().to_string())?;
    Ok((a, ids))
}

/// Passphrases typed at the prompt, by key file: asked once per run, whatever the host count.
static TYPED: std::sync::Mutex<Vec<(PathBuf, Option<String>)>> = std::sync::Mutex::new(Vec::new());

/// The passphrase of a protected key: PLUMB_KEY_PASSPHRASE, else asked once on the terminal
/// (when plumb runs on one), else None (the caller's error names the key).
pub(crate) fn passphrase(key: &std::path::Path, protected: bool) -> Option<String> {
    if let Some(p) = crate::env_secrets::key_passphrase() {
        return Some(p);
    }
    if !protected {
        return None;
    }
    use std::io::IsTerminal;
    // Held while asking: other hosts wanting the same key wait for the answer.
    let mut typed = TYPED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, p)) = typed.iter().find(|(k, _)| k == key) {
        return p.clone();
    }
    let asked = (std::io::stdin().is_terminal())
        .then(|| crate::prompt::password(&format!("Passphrase for key {}: ", key.display())).ok())
        .flatten()
        .filter(|p| !p.is_empty());
    typed.push((key.to_path_buf(), asked.clone()));
    asked
}
