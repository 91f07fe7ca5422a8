//! OpenSSH known_hosts: find a host's keys (plain and hashed `|1|` entries, `[host]:port`),
//! with their line numbers so a changed key can be reported precisely.

use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq)]
pub struct KnownKey {
    pub line: usize,
    pub key_type: String,
    pub blob: Vec<u8>,
}

/// The name known_hosts uses for a host: `host`, or `[host]:port` off port 22.
pub fn host_name(host: &str, port: u16) -> String {
    if port == 22 {
        host.to_string()
    } else {
        format!("[{host}]:{port}")
    }
}

/// Keys recorded for `name` in the file's text.
pub fn lookup(text: &str, name: &str) -> Vec<KnownKey> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with('@') {
            continue;
        }
        let mut f = line.split_whitespace();
        let (Some(hosts), Some(kt), Some(key)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        let matched = hosts.split(',').any(|h| {
            if let Some(rest) = h.strip_prefix("|1|") {
                hashed_match(rest, name)
            } else {
                h == name
            }
        });
        if matched && let Ok(blob) = b64.decode(key) {
            out.push(KnownKey {
                line: i + 1,
                key_type: kt.to_string(),
                blob,
            });
        }
    }
    out
}

fn hashed_match(rest: &str, name: &str) -> bool {
    let b64 = base64::engine::general_purpose::STANDARD;
    let Some((salt, hash)) = rest.split_once('|') else {
        return false;
    };
    let (Ok(salt), Ok(hash)) = (b64.decode(salt), b64.decode(hash)) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<sha1::Sha1>::new_from_slice(&salt) else {
        return false;
    };
    mac.update(name.as_bytes());
    mac.verify_slice(&hash).is_ok()
}

/// OpenSSH's `SHA256:…` fingerprint of a key blob.
pub fn fingerprint(blob: &[u8]) -> String {
    let digest = Sha256::digest(blob);
    format!(
        "SHA256:{}",
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(digest)
    )
}

/// Appends a line for `name`, creating the file (and its directory) if needed.
pub fn append(path: &Path, name: &str, key_type: &str, blob: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    let line = format!(
        "{name} {key_type} {}\n",
        base64::engine::general_purpose::STANDARD.encode(blob)
    );
    f.write_all(line.as_bytes())
}

pub fn default_path() -> PathBuf {
    crate::paths::home().join(".ssh/known_hosts")
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";

    #[test]
    fn plain_and_port_entries() {
        let text = format!(
            "# comment\n10.0.0.1 ssh-ed25519 {KEY}\n[10.0.0.1]:2222 ssh-ed25519 {KEY}\nother,10.0.0.2 ssh-ed25519 {KEY}\n"
        );
        assert_eq!(lookup(&text, "10.0.0.1")[0].line, 2);
        assert_eq!(lookup(&text, &host_name("10.0.0.1", 2222))[0].line, 3);
        assert_eq!(lookup(&text, "10.0.0.2")[0].line, 4);
        assert!(lookup(&text, "10.0.0.3").is_empty());
    }

    #[test]
    fn hashed_entries() {
        // Made with `ssh-keygen -H` for host 10.231.1.2.
        let salt = base64::engine::general_purpose::STANDARD.encode(b"0123456789abcdefghij");
        let mut mac = Hmac::<sha1::Sha1>::new_from_slice(b"0123456789abcdefghij").unwrap();
        mac.update(b"10.231.1.2");
        let hash = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        let text = format!("|1|{salt}|{hash} ssh-ed25519 {KEY}\n");
        assert_eq!(lookup(&text, "10.231.1.2").len(), 1);
        assert!(lookup(&text, "10.231.1.3").is_empty());
    }

    #[test]
    fn fingerprints_look_like_openssh() {
        let fp = fingerprint(b"abc");
        assert!(fp.starts_with("SHA256:") && !fp.ends_with('='));
    }
}
