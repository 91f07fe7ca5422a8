//! Private key files: the public key inside, and whether a passphrase is needed.

/// The public key blob of a private key file: from KEY.pub, or from the unencrypted header of
/// an OpenSSH-format key. None if neither is there.
pub(super) fn public_blob(key: &std::path::Path) -> Option<Vec<u8>> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut pubfile = key.as_os_str().to_owned();
    pubfile.push(".pub");
    if let Ok(text) = std::fs::read_to_string(&pubfile)
        && let Some(field) = text.split_whitespace().nth(1)
        && let Ok(blob) = b64.decode(field)
    {
        return Some(blob);
    }
    openssh_key(&std::fs::read_to_string(key).ok()?).map(|(blob, _)| blob)
}

/// (public key blob, encrypted) of an `-----BEGIN OPENSSH PRIVATE KEY-----` file: its header
/// is `openssh-key-v1\0`, then strings (u32 length + bytes) cipher, kdf, kdf options, a u32
/// key count and the public keys, all unencrypted.
fn openssh_key(text: &str) -> Option<(Vec<u8>, bool)> {
    let raw = openssh_raw(text)?;
    let (public, cipher, _) = openssh_fields(&raw)?;
    Some((public.to_vec(), cipher != b"none"))
}

/// The decoded body of an OpenSSH-format key, after its `openssh-key-v1\0` magic.
fn openssh_raw(text: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    let body: String = text
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    let raw = base64::engine::general_purpose::STANDARD
        .decode(body.trim())
        .ok()?;
    Some(raw.strip_prefix(b"openssh-key-v1\0".as_slice())?.to_vec())
}

/// (first public key blob, cipher, offset of the private section) of a decoded key body.
fn openssh_fields(raw: &[u8]) -> Option<(&[u8], &[u8], usize)> {
    let mut at = 0;
    let cipher = field(raw, &mut at)?;
    field(raw, &mut at)?;
    field(raw, &mut at)?;
    let count = be32(raw, &mut at)?;
    if count == 0 {
        return None;
    }
    let public = field(raw, &mut at)?;
    for _ in 1..count {
        field(raw, &mut at)?;
    }
    Some((public, cipher, at))
}

/// (public key blob, 32-byte seed) of an unencrypted OpenSSH-format Ed25519 key holding one
/// key. Its private section is a string of: two equal check words, the key type, the public
/// key, the seed followed by the public key again, a comment and padding. None for any other
/// key, or one whose parts disagree.
pub(super) fn openssh_ed25519(text: &str) -> Option<(Vec<u8>, [u8; 32])> {
    let raw = openssh_raw(text)?;
    let (public, cipher, mut at) = openssh_fields(&raw)?;
    if cipher != b"none" {
        return None;
    }
    let private = field(&raw, &mut at)?;
    let mut at = 0;
    if be32(private, &mut at)? != be32(private, &mut at)? {
        return None;
    }
    if field(private, &mut at)? != b"ssh-ed25519" {
        return None;
    }
    let pk = field(private, &mut at)?;
    let both = field(private, &mut at)?;
    let mut pat = 0;
    let blob_pk = (field(public, &mut pat)? == b"ssh-ed25519")
        .then(|| field(public, &mut pat))
        .flatten()?;
    if pk.len() != 32 || both.len() != 64 || &both[32..] != pk || blob_pk != pk {
        return None;
    }
    Some((public.to_vec(), both[..32].try_into().ok()?))
}

fn be32(raw: &[u8], at: &mut usize) -> Option<usize> {
    let n = u32::from_be_bytes(raw.get(*at..*at + 4)?.try_into().ok()?) as usize;
    *at += 4;
    Some(n)
}

fn field<'a>(raw: &'a [u8], at: &mut usize) -> Option<&'a [u8]> {
    let n = be32(raw, at)?;
    let v = raw.get(*at..*at + n)?;
    *at += n;
    Some(v)
}

/// The public key line (`ssh-ed25519 AAAA...`) in the header of an OpenSSH-format private
/// key's text. Handing it to libssh2 spares it deriving the public key, which starts with
/// OpenSSL trying every PEM decoder on a file that is not PEM (about a tenth of plumb's work
/// per host).
pub(super) fn openssh_public_line(text: &str) -> Option<String> {
    use base64::Engine;
    let (blob, _) = openssh_key(text)?;
    let mut at = 0;
    let kind = std::str::from_utf8(field(&blob, &mut at)?).ok()?;
    let b64 = base64::engine::general_purpose::STANDARD.encode(&blob);
    Some(format!("{kind} {b64}"))
}

/// Whether a private key file needs a passphrase (OpenSSH or PEM format).
pub(super) fn encrypted(text: &str) -> bool {
    text.contains("ENCRYPTED") || openssh_key(text).is_some_and(|(_, enc)| enc)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// S3: the public key of a private key file (to find it in the agent), from the .pub file
    /// or the key's own header, and whether it needs a passphrase.
    #[test]
    fn reads_public_keys_and_passphrase_need_from_key_files() {
        let dir = tempfile::tempdir().unwrap();
        for (name, pass) in [("plain", ""), ("locked", "secret words")] {
            let key = dir.path().join(name);
            let ok = std::process::Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", pass, "-C", name, "-f"])
                .arg(&key)
                .status()
                .unwrap()
                .success();
            assert!(ok);
            let text = std::fs::read_to_string(&key).unwrap();
            assert_eq!(encrypted(&text), !pass.is_empty(), "{name}");
            let from_pub = public_blob(&key).unwrap();
            let mut pubfile = key.as_os_str().to_owned();
            pubfile.push(".pub");
            // The line in the key's header is the .pub file's, comment aside.
            let written = std::fs::read_to_string(&pubfile).unwrap();
            let two: Vec<&str> = written.split_whitespace().take(2).collect();
            assert_eq!(openssh_public_line(&text), Some(two.join(" ")), "{name}");
            std::fs::remove_file(&pubfile).unwrap();
            assert_eq!(public_blob(&key).unwrap(), from_pub, "{name}");
            assert!(from_pub.starts_with(b"\0\0\0\x0bssh-ed25519"), "{name}");
        }
        assert!(!encrypted("-----BEGIN RSA PRIVATE KEY-----\nabc\n"));
        assert_eq!(
            openssh_public_line("-----BEGIN RSA PRIVATE KEY-----\nabc\n"),
            None
        );
        assert!(encrypted(
            "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n"
        ));
    }
}
