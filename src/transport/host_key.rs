//! The host key: which types to offer, and the verdict against known_hosts.

use super::TransportError;
use super::host_key_checking::HostKeyChecking;
use super::ssh_config::SshConfig;
use crate::known_hosts::{self, Known, KnownKey};
use ssh2::{HostKeyType, Session};

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
pub(super) fn hostkey_methods(known: &[KnownKey]) -> String {
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

/// The host key against known_hosts. A `@revoked` key is refused first, in every mode (also
/// with checking off); then a pinned key must match; a host trusted only through a
/// `@cert-authority` line is refused, as libssh2 cannot verify host certificates (never
/// falling back to recording its raw key); else an unknown key is recorded under accept-new.
pub(super) fn check_host_key(
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

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
}
