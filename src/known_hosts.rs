//! OpenSSH known_hosts: find a host's keys (plain and hashed `|1|` entries, `[host]:port`,
//! OpenSSH's patterns `*`, `?`, `!negation` and comma lists, names compared in lowercase), with
//! their line numbers so a changed key can be reported precisely; and the `@revoked` and
//! `@cert-authority` lines, which plumb must never take for plain keys.

use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct KnownKey {
    pub(crate) line: usize,
    pub(crate) key_type: String,
    pub(crate) blob: Vec<u8>,
}

/// The name known_hosts uses for a host: `host`, or `[host]:port` off port 22.
pub(crate) fn host_name(host: &str, port: u16) -> String {
    if port == 22 {
        host.to_string()
    } else {
        format!("[{host}]:{port}")
    }
}

/// What known_hosts says about one host.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Known {
    /// Plain entries for the host: its pinned keys.
    pub(crate) keys: Vec<KnownKey>,
    /// `@cert-authority` lines for the host: it is trusted through host certificates.
    pub(crate) cert_authorities: Vec<KnownKey>,
    /// Every `@revoked` key in the file, whatever host pattern its line has: a revoked key
    /// is never accepted, for any host.
    pub(crate) revoked: Vec<KnownKey>,
}

/// What the file says about `name` (a host name or `[host]:port`, see `host_name`).
pub(crate) fn lookup(text: &str, name: &str) -> Known {
    let b64 = base64::engine::general_purpose::STANDARD;
    let name = name.to_ascii_lowercase();
    let mut out = Known::default();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut f = line.split_whitespace();
        let marker = if line.starts_with('@') {
            f.next()
        } else {
            None
        };
        let (Some(hosts), Some(kt), Some(key)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        let Ok(blob) = b64.decode(key) else {
            continue;
        };
        let k = KnownKey {
            line: i + 1,
            key_type: kt.to_string(),
            blob,
        };
        match marker {
            Some("@revoked") => out.revoked.push(k),
            Some("@cert-authority") if hosts_match(hosts, &name) => out.cert_authorities.push(k),
            // An unknown marker: not a plain key either.
            Some(_) => {}
            None if hosts_match(hosts, &name) => out.keys.push(k),
            None => {}
        }
    }
    out
}

/// OpenSSH's rule for a host field: a hashed name, or a comma list of patterns where one
/// positive pattern must match and no negated one (`!pat`) may.
fn hosts_match(hosts: &str, name: &str) -> bool {
    if let Some(rest) = hosts.strip_prefix("|1|") {
        return hashed_match(rest, name);
    }
    let mut yes = false;
    for p in hosts.split(',') {
        let p = p.to_ascii_lowercase();
        match p.strip_prefix('!') {
            Some(neg) if glob(neg.as_bytes(), name.as_bytes()) => return false,
            Some(_) => {}
            None => yes |= glob(p.as_bytes(), name.as_bytes()),
        }
    }
    yes
}

/// `*` any run of characters, `?` any one character, everything else itself.
fn glob(pat: &[u8], s: &[u8]) -> bool {
    match pat.split_first() {
        None => s.is_empty(),
        Some((b'*', rest)) => (0..=s.len()).any(|i| glob(rest, &s[i..])),
        Some((b'?', rest)) => !s.is_empty() && glob(rest, &s[1..]),
        Some((c, rest)) => s.first() == Some(c) && glob(rest, &s[1..]),
    }
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
pub(crate) fn fingerprint(blob: &[u8]) -> String {
    let digest = Sha256::digest(blob);
    format!(
        "SHA256:{}",
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(digest)
    )
}

/// Appends a line for `name`, creating the file (and its directory, 0700 like ~/.ssh) if
/// needed. The name is hashed (`|1|salt|hmac`) when most of the file's entries are, as with
/// OpenSSH's HashKnownHosts.
pub(crate) fn append(path: &Path, name: &str, key_type: &str, blob: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::DirBuilderExt;
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
    }
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e),
    };
    let name = name.to_ascii_lowercase();
    let shown = if mostly_hashed(&text) {
        hash_name(&name, &random_salt()?)
    } else {
        name
    };
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    let sep = if text.is_empty() || text.ends_with('\n') {
        ""
    } else {
        "\n"
    };
    let line = format!(
        "{sep}{shown} {key_type} {}\n",
        base64::engine::general_purpose::STANDARD.encode(blob)
    );
    f.write_all(line.as_bytes())
}

/// Whether more of the file's entries are hashed than plain.
fn mostly_hashed(text: &str) -> bool {
    let (mut hashed, mut plain) = (0, 0);
    for l in text.lines().map(str::trim) {
        if l.is_empty() || l.starts_with('#') || l.starts_with('@') {
            continue;
        }
        if l.starts_with("|1|") {
            hashed += 1;
        } else {
            plain += 1;
        }
    }
    hashed > plain
}

/// OpenSSH's hashed host name: `|1|` base64(salt) `|` base64(HMAC-SHA1(salt, name)).
fn hash_name(name: &str, salt: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(salt).expect("any key length");
    mac.update(name.as_bytes());
    format!(
        "|1|{}|{}",
        b64.encode(salt),
        b64.encode(mac.finalize().into_bytes())
    )
}

fn random_salt() -> std::io::Result<[u8; 20]> {
    let mut b = [0u8; 20];
    // SAFETY: getrandom writes at most b.len() bytes into the valid buffer b.
    let n = unsafe { libc::getrandom(b.as_mut_ptr() as *mut libc::c_void, b.len(), 0) };
    if n != b.len() as isize {
        return Err(std::io::Error::last_os_error());
    }
    Ok(b)
}

pub(crate) fn default_path() -> PathBuf {
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
        assert_eq!(lookup(&text, "10.0.0.1").keys[0].line, 2);
        assert_eq!(lookup(&text, "10.0.0.1").keys.len(), 1);
        assert_eq!(lookup(&text, &host_name("10.0.0.1", 2222)).keys[0].line, 3);
        assert_eq!(lookup(&text, "10.0.0.2").keys[0].line, 4);
        assert!(lookup(&text, "10.0.0.3").keys.is_empty());
    }

    #[test]
    fn hashed_entries() {
        // Made with `ssh-keygen -H` for host 10.231.1.2.
        let salt = base64::engine::general_purpose::STANDARD.encode(b"0123456789abcdefghij");
        let mut mac = Hmac::<sha1::Sha1>::new_from_slice(b"0123456789abcdefghij").unwrap();
        mac.update(b"10.231.1.2");
        let hash = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        let text = format!("|1|{salt}|{hash} ssh-ed25519 {KEY}\n");
        assert_eq!(lookup(&text, "10.231.1.2").keys.len(), 1);
        assert!(lookup(&text, "10.231.1.3").keys.is_empty());
        assert_eq!(
            hash_name("10.231.1.2", b"0123456789abcdefghij"),
            format!("|1|{salt}|{hash}")
        );
    }

    #[test]
    fn patterns_like_openssh() {
        let lines = |hosts: &str| format!("{hosts} ssh-ed25519 {KEY}\n");
        for (hosts, name, want) in [
            ("*.corp", "web1.corp", true),
            ("*.corp", "corp", false),
            ("web?.corp", "web1.corp", true),
            ("web?.corp", "web10.corp", false),
            ("*.corp,!bastion.corp", "bastion.corp", false),
            ("!bastion.corp,*.corp", "bastion.corp", false),
            ("*.corp,!bastion.corp", "db.corp", true),
            ("!bastion.corp", "db.corp", false),
            ("Web1.Corp", "web1.corp", true),
            ("web1.corp", "WEB1.corp", true),
            ("[web1.corp]:2222", "[web1.corp]:2222", true),
            ("[web*]:2222", "[web1.corp]:2222", true),
            ("web1.corp", "[web1.corp]:2222", false),
            ("[web1.corp]:2222", "web1.corp", false),
        ] {
            assert_eq!(
                lookup(&lines(hosts), name).keys.len() == 1,
                want,
                "{hosts} vs {name}"
            );
        }
    }

    #[test]
    fn markers_are_never_plain_keys() {
        let text = format!(
            "@revoked * ssh-ed25519 {KEY}\n@cert-authority *.corp ssh-ed25519 {KEY}\n\
             @revoked other ssh-rsa {KEY}\n@unknown web1.corp ssh-ed25519 {KEY}\n"
        );
        let k = lookup(&text, "web1.corp");
        assert!(k.keys.is_empty(), "{k:?}");
        assert_eq!(
            k.cert_authorities
                .iter()
                .map(|k| k.line)
                .collect::<Vec<_>>(),
            [2]
        );
        // Revoked whatever the host pattern.
        assert_eq!(k.revoked.iter().map(|k| k.line).collect::<Vec<_>>(), [1, 3]);
        assert!(lookup(&text, "elsewhere").cert_authorities.is_empty());
    }

    #[test]
    fn new_entries_hashed_when_the_file_is_and_dir_0700() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new/.ssh/known_hosts");
        append(&path, "Plain.Host", "ssh-ed25519", b"k1").unwrap();
        let mode = std::fs::metadata(path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("plain.host ssh-ed25519 "), "{text}");
        // A hashed file (no final newline) gets hashed entries.
        let hashed = dir.path().join("hashed");
        std::fs::write(&hashed, format!("|1|c2FsdA==|aGFzaA== ssh-ed25519 {KEY}")).unwrap();
        append(&hashed, "[h]:2222", "ssh-ed25519", b"k2").unwrap();
        let text = std::fs::read_to_string(&hashed).unwrap();
        let last = text.lines().nth(1).unwrap();
        assert!(last.starts_with("|1|"), "{text}");
        assert!(!text.contains("[h]"), "{text}");
        assert_eq!(lookup(&text, "[h]:2222").keys.len(), 1, "{text}");
        assert_eq!(lookup(&text, "[H]:2222").keys[0].blob, b"k2");
    }

    #[test]
    fn fingerprints_look_like_openssh() {
        let fp = fingerprint(b"abc");
        assert!(fp.starts_with("SHA256:") && !fp.ends_with('='));
    }
}
