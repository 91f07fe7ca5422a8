//! Ansible Vault, format 1.1 and 1.2 with AES256: what `ansible-vault` writes, plumb reads, and
//! the other way round. The primitives come from RustCrypto crates (AES-256-CTR, PBKDF2 with
//! HMAC-SHA256, HMAC-SHA256 checked in constant time); this file only frames them as Ansible does
//! (ansible/parsing/vault: VaultAES256).

use aes::Aes256;
use ctr::cipher::{KeyIvInit, StreamCipher};
use hmac::{Hmac, Mac};
use sha2::Sha256;

type Aes256Ctr = ctr::Ctr128BE<Aes256>;

/// The first bytes of every vaulted file or value.
const HEADER: &str = "$ANSIBLE_VAULT;";

/// One vault password, with the label `--vault-id` gave it (`default` otherwise).
#[derive(Clone)]
pub(crate) struct Secret {
    pub(crate) label: String,
    pub(crate) password: Vec<u8>,
}

impl std::fmt::Debug for Secret {
    // A password never reaches a debug print.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret({}, ********)", self.label)
    }
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum VaultError {
    /// Vaulted input, and no vault password was given.
    NoSecret,
    /// No given password opens it (the HMAC does not match for any).
    WrongPassword { label: Option<String> },
    /// Not a vault this reader knows, or damaged.
    Malformed(String),
}

impl std::fmt::Display for VaultError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VaultError::NoSecret => write!(
                f,
                "this is encrypted with Ansible Vault, and no vault password was given"
            ),
            VaultError::WrongPassword { label: Some(l) } => write!(
                f,
                "no vault password given opens this (vault id `{l}`): the password is wrong"
            ),
            VaultError::WrongPassword { label: None } => {
                write!(
                    f,
                    "no vault password given opens this: the password is wrong"
                )
            }
            VaultError::Malformed(m) => write!(f, "not a valid Ansible Vault: {m}"),
        }
    }
}

/// Whether a file's or a value's text is a vault.
pub(crate) fn is_vaulted(text: &[u8]) -> bool {
    let start = text
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(text.len());
    text[start..].starts_with(HEADER.as_bytes())
}

/// Header fields: version, cipher, label.
fn header(line: &str) -> Result<Option<String>, VaultError> {
    let fields: Vec<&str> = line.trim().split(';').collect();
    match fields.as_slice() {
        ["$ANSIBLE_VAULT", "1.1" | "1.0", "AES256"] => Ok(None),
        ["$ANSIBLE_VAULT", "1.2", "AES256", label] => Ok(Some(label.to_string())),
        ["$ANSIBLE_VAULT", v, c, ..] if *c != "AES256" => Err(VaultError::Malformed(format!(
            "cipher `{c}` (version {v}) is not supported; only AES256"
        ))),
        _ => Err(VaultError::Malformed(format!(
            "unknown header `{}`",
            line.trim()
        ))),
    }
}

/// The label of a vault (1.2 only), for messages and for choosing the secret.
pub(crate) fn label(text: &str) -> Option<String> {
    header(text.trim_start().lines().next().unwrap_or_default())
        .ok()
        .flatten()
}

/// Decrypts a vault. Secrets whose label matches the vault's are tried first, then all the
/// others, as Ansible does when a label is unknown.
pub(crate) fn decrypt(text: &str, secrets: &[Secret]) -> Result<Vec<u8>, VaultError> {
    let text = text.trim_start();
    let mut lines = text.lines();
    let label = header(lines.next().unwrap_or_default())?;
    let body: String = lines.flat_map(|l| l.trim().chars()).collect();
    let inner = hex::decode(&body)
        .map_err(|e| VaultError::Malformed(format!("the body is not hex ({e})")))?;
    let inner = String::from_utf8(inner)
        .map_err(|_| VaultError::Malformed("the body is not hex text".into()))?;
    let parts: Vec<&str> = inner.split('\n').collect();
    let [salt, mac, data] = parts.as_slice() else {
        return Err(VaultError::Malformed(
            "expected salt, HMAC and ciphertext".into(),
        ));
    };
    let bad = |what: &str| VaultError::Malformed(format!("the {what} is not hex"));
    let salt = hex::decode(salt).map_err(|_| bad("salt"))?;
    let mac = hex::decode(mac).map_err(|_| bad("HMAC"))?;
    let data = hex::decode(data.trim()).map_err(|_| bad("ciphertext"))?;
    if secrets.is_empty() {
        return Err(VaultError::NoSecret);
    }
    let ordered = secrets
        .iter()
        .filter(|s| Some(&s.label) == label.as_ref())
        .chain(secrets.iter().filter(|s| Some(&s.label) != label.as_ref()));
    for secret in ordered {
        let (key, hmac_key, iv) = derive(&secret.password, &salt);
        let mut check = <Hmac<Sha256> as Mac>::new_from_slice(&hmac_key).expect("any key size");
        check.update(&data);
        // verify_slice compares in constant time.
        if check.verify_slice(&mac).is_err() {
            continue;
        }
        let mut plain = data.clone();
        Aes256Ctr::new(&key.into(), &iv.into()).apply_keystream(&mut plain);
        return unpad(plain);
    }
    Err(VaultError::WrongPassword { label })
}

/// Encrypts as `ansible-vault encrypt` does: format 1.1, or 1.2 when the label is not `default`.
pub(crate) fn encrypt(plain: &[u8], secret: &Secret) -> String {
    let mut salt = [0u8; 32];
    getrandom::getrandom(&mut salt).expect("the system's random source");
    encrypt_with_salt(plain, secret, &salt)
}

fn encrypt_with_salt(plain: &[u8], secret: &Secret, salt: &[u8]) -> String {
    let (key, hmac_key, iv) = derive(&secret.password, salt);
    let mut data = pad(plain);
    Aes256Ctr::new(&key.into(), &iv.into()).apply_keystream(&mut data);
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&hmac_key).expect("any key size");
    mac.update(&data);
    let mac = mac.finalize().into_bytes();
    let inner = format!(
        "{}\n{}\n{}",
        hex::encode(salt),
        hex::encode(mac),
        hex::encode(&data)
    );
    let body = hex::encode(inner.as_bytes());
    let mut out = if secret.label == "default" {
        "$ANSIBLE_VAULT;1.1;AES256\n".to_string()
    } else {
        format!("$ANSIBLE_VAULT;1.2;AES256;{}\n", secret.label)
    };
    for chunk in body.as_bytes().chunks(80) {
        out.push_str(std::str::from_utf8(chunk).expect("hex is ascii"));
        out.push('\n');
    }
    out
}

/// PBKDF2-HMAC-SHA256, 10,000 rounds, 80 bytes: the AES key, the HMAC key and the counter block.
fn derive(password: &[u8], salt: &[u8]) -> ([u8; 32], [u8; 32], [u8; 16]) {
    let mut out = [0u8; 80];
    pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, 10_000, &mut out);
    let mut key = [0u8; 32];
    let mut hmac_key = [0u8; 32];
    let mut iv = [0u8; 16];
    key.copy_from_slice(&out[..32]);
    hmac_key.copy_from_slice(&out[32..64]);
    iv.copy_from_slice(&out[64..]);
    (key, hmac_key, iv)
}

/// PKCS#7 to AES's 16-byte block, as Ansible pads before CTR.
fn pad(plain: &[u8]) -> Vec<u8> {
    let n = 16 - plain.len() % 16;
    let mut v = plain.to_vec();
    v.extend(std::iter::repeat_n(n as u8, n));
    v
}

fn unpad(mut v: Vec<u8>) -> Result<Vec<u8>, VaultError> {
    let n = *v.last().unwrap_or(&0) as usize;
    let ok =
        (1..=16).contains(&n) && v.len() >= n && v[v.len() - n..].iter().all(|&b| b as usize == n);
    if !ok {
        return Err(VaultError::Malformed("bad padding after decryption".into()));
    }
    v.truncate(v.len() - n);
    Ok(v)
}

/// The run's vault passwords, what was decrypted with them (each vault once), and the secrets
/// revealed so far, which no output shows.
#[derive(Default)]
struct Keyring {
    secrets: Vec<Secret>,
    opened: std::collections::HashMap<String, Vec<u8>>,
    revealed: Vec<String>,
}

static KEYRING: std::sync::RwLock<Option<Keyring>> = std::sync::RwLock::new(None);

/// Sets the run's vault passwords; before any input is read.
pub(crate) fn install(secrets: Vec<Secret>) {
    let mut k = KEYRING.write().expect("keyring lock");
    let ring = k.get_or_insert_with(Keyring::default);
    ring.secrets = secrets;
}

/// Decrypts a vault with the run's passwords (once per distinct vault) and remembers the result
/// as a secret to mask.
fn open(text: &str) -> Result<Vec<u8>, VaultError> {
    if let Some(ring) = KEYRING.read().expect("keyring lock").as_ref()
        && let Some(p) = ring.opened.get(text)
    {
        return Ok(p.clone());
    }
    let secrets = KEYRING
        .read()
        .expect("keyring lock")
        .as_ref()
        .map(|r| r.secrets.clone())
        .unwrap_or_default();
    let plain = decrypt(text, &secrets)?;
    let mut k = KEYRING.write().expect("keyring lock");
    let ring = k.get_or_insert_with(Keyring::default);
    ring.opened.insert(text.to_string(), plain.clone());
    Ok(plain)
}

/// Decrypts many vaults at once, on every core, into the run's cache (each key derivation is
/// 10,000 rounds of PBKDF2: a file with a hundred vaulted values would otherwise spend most of
/// a run on them one by one). Failures are left for the reader, who reports them in place.
pub(crate) fn prefetch(texts: &[&str]) {
    let pending: Vec<&str> = {
        let k = KEYRING.read().expect("keyring lock");
        let Some(ring) = k.as_ref().filter(|r| !r.secrets.is_empty()) else {
            return;
        };
        let mut seen = std::collections::HashSet::new();
        texts
            .iter()
            .copied()
            .filter(|t| !ring.opened.contains_key(*t) && seen.insert(*t))
            .collect()
    };
    if pending.len() < 2 {
        return;
    }
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .min(pending.len());
    let chunk = pending.len().div_ceil(workers);
    std::thread::scope(|s| {
        for part in pending.chunks(chunk) {
            s.spawn(move || {
                for t in part {
                    let _ = open(t);
                }
            });
        }
    });
}

/// An inline `!vault` value, decrypted; the value becomes a secret no output shows.
pub(crate) fn reveal(text: &str) -> Result<String, VaultError> {
    let plain = open(text)?;
    let plain = String::from_utf8(plain)
        .map_err(|_| VaultError::Malformed("the value is not text (UTF-8)".into()))?;
    remember(&plain);
    Ok(plain)
}

/// Marks text as secret: every later output shows `********` in its place. Too short a text
/// would mask everything else too, so values under 3 characters are not tracked.
fn remember(secret: &str) {
    let s = secret.trim_end_matches(['\n', '\r']);
    if s.chars().count() < 3 {
        return;
    }
    let mut k = KEYRING.write().expect("keyring lock");
    let ring = k.get_or_insert_with(Keyring::default);
    if !ring.revealed.iter().any(|r| r == s) {
        ring.revealed.push(s.to_string());
        // Longest first, so a secret containing another is masked whole.
        ring.revealed.sort_by_key(|r| std::cmp::Reverse(r.len()));
    }
}

/// Every secret revealed so far replaced by `********`.
pub(crate) fn mask(text: &str) -> std::borrow::Cow<'_, str> {
    let k = KEYRING.read().expect("keyring lock");
    let Some(ring) = k.as_ref() else {
        return std::borrow::Cow::Borrowed(text);
    };
    if !ring.revealed.iter().any(|s| text.contains(s.as_str())) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = text.to_string();
    for s in &ring.revealed {
        out = out.replace(s.as_str(), "********");
    }
    std::borrow::Cow::Owned(out)
}

/// JSON text with every secret masked, also where JSON escaped it (quotes, backslashes,
/// control characters).
pub(crate) fn mask_json(text: &str) -> String {
    let masked = mask(text).into_owned();
    let k = KEYRING.read().expect("keyring lock");
    let Some(ring) = k.as_ref() else {
        return masked;
    };
    let mut out = masked;
    for s in &ring.revealed {
        let escaped = serde_json::to_string(s).expect("a string serializes");
        let inner = &escaped[1..escaped.len() - 1];
        if inner != s {
            out = out.replace(inner, "********");
        }
    }
    out
}

/// A file's bytes as read, decrypted when they are a whole-file vault (every line of it then a
/// secret). A vault that does not open is an error at the file's first line (exit code 2).
fn open_bytes(path: &std::path::Path, bytes: Vec<u8>) -> crate::error::Result<Vec<u8>> {
    use crate::error::Error;
    if !is_vaulted(&bytes) {
        return Ok(bytes);
    }
    let text = String::from_utf8_lossy(&bytes);
    let file = std::sync::Arc::new(path.to_path_buf());
    let plain = open(&text).map_err(|e| {
        Error::vault(
            Error::input(crate::location::Location::new(&file, 1, 1), e.to_string()).with_hint(
                "give the vault password with --vault-password-file, --vault-id or --ask-vault-pass",
            ),
        )
    })?;
    for line in String::from_utf8_lossy(&plain).lines() {
        remember_line(line);
    }
    Ok(plain)
}

/// Text as read from a file, decrypted when it is a whole-file vault.
pub(crate) fn open_text(path: &std::path::Path, text: String) -> crate::error::Result<String> {
    if !is_vaulted(text.as_bytes()) {
        return Ok(text);
    }
    let plain = open_bytes(path, text.into_bytes())?;
    String::from_utf8(plain).map_err(|_| crate::error::Error::Io {
        path: path.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, "decrypted, not UTF-8 text"),
    })
}

/// A file's bytes, decrypted when it is a whole-file vault.
pub(crate) fn read(path: &std::path::Path) -> crate::error::Result<Vec<u8>> {
    let bytes = std::fs::read(path).map_err(crate::error::Error::with_path(path))?;
    open_bytes(path, bytes)
}

/// A vaulted file's line is secret as a whole and, for `key: value` lines, by its value.
fn remember_line(line: &str) {
    let t = line.trim();
    if t.is_empty() || t.starts_with('#') || t == "---" {
        return;
    }
    if let Some((_, v)) = t.split_once(": ") {
        remember(v.trim().trim_matches(['"', '\'']));
    } else {
        remember(t);
    }
}

/// A text file, decrypted when it is a whole-file vault.
pub(crate) fn read_text(path: &std::path::Path) -> crate::error::Result<String> {
    let text = std::fs::read_to_string(path).map_err(crate::error::Error::with_path(path))?;
    open_text(path, text)
}

/// `encrypt_string`'s output: a YAML `!vault` block scalar, under `name:` when one is given.
pub(crate) fn yaml_value(vaulted: &str, name: Option<&str>) -> String {
    let mut out = match name {
        Some(n) => format!("{n}: !vault |\n"),
        None => "!vault |\n".to_string(),
    };
    for line in vaulted.lines() {
        out.push_str("          ");
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(label: &str, pw: &str) -> Secret {
        Secret {
            label: label.into(),
            password: pw.as_bytes().to_vec(),
        }
    }

    // Written by ansible-vault (ansible-core 2.19): `ansible-vault encrypt_string --vault-password-file
    // pw 'hello vault'` with `pw` holding `plumb-test`.
    const FROM_ANSIBLE: &str = "$ANSIBLE_VAULT;1.1;AES256
32643166316362326461353364646530616132343635613234653561353539333566653231653233
3963383631636237653835303134323265656437616364620a316161303737313665623833613761
31333066663637396432323961346136343630326564373866323930323835396661653430663537
6463303261633933620a623733303265633165366362386364333265303933643338313833303537
3861
";

    #[test]
    fn reads_what_ansible_vault_wrote() {
        let out = decrypt(FROM_ANSIBLE, &[secret("default", "plumb-test")]).unwrap();
        assert_eq!(out, b"hello vault");
    }

    #[test]
    fn wrong_password_and_no_password() {
        assert_eq!(
            decrypt(FROM_ANSIBLE, &[secret("default", "nope")]),
            Err(VaultError::WrongPassword { label: None })
        );
        assert_eq!(decrypt(FROM_ANSIBLE, &[]), Err(VaultError::NoSecret));
    }

    #[test]
    fn round_trip_with_labels() {
        for (label, header) in [
            ("default", "$ANSIBLE_VAULT;1.1;AES256\n"),
            ("prod", "$ANSIBLE_VAULT;1.2;AES256;prod\n"),
        ] {
            for plain in [
                &b""[..],
                b"x",
                b"exactly sixteen!",
                b"line\nline2\n\xff bytes",
            ] {
                let v = encrypt(plain, &secret(label, "pw"));
                assert!(v.starts_with(header), "{v}");
                assert!(v.lines().skip(1).all(|l| l.len() <= 80));
                // The labelled secret is found among others, wherever it stands.
                let secrets = [secret("other", "x"), secret(label, "pw")];
                assert_eq!(decrypt(&v, &secrets).unwrap(), plain);
            }
        }
    }

    #[test]
    fn an_unknown_label_tries_every_secret() {
        let v = encrypt(b"s", &secret("dev", "pw"));
        assert_eq!(decrypt(&v, &[secret("prod", "pw")]).unwrap(), b"s");
    }

    #[test]
    fn malformed_vaults() {
        for text in [
            "$ANSIBLE_VAULT;1.1;AES128\n3031\n",
            "$ANSIBLE_VAULT;9;AES256\n3031\n",
            "$ANSIBLE_VAULT;1.1;AES256\nzz\n",
            "$ANSIBLE_VAULT;1.1;AES256\n3031\n",
        ] {
            assert!(
                matches!(
                    decrypt(text, &[secret("default", "pw")]),
                    Err(VaultError::Malformed(_))
                ),
                "{text}"
            );
        }
    }

    #[test]
    fn known_answer() {
        // A fixed salt makes the output reproducible.
        let v = encrypt_with_salt(b"hello vault", &secret("default", "plumb-test"), &[7u8; 32]);
        assert_eq!(
            decrypt(&v, &[secret("default", "plumb-test")]).unwrap(),
            b"hello vault"
        );
        assert!(is_vaulted(v.as_bytes()));
        assert!(is_vaulted(b"  \n$ANSIBLE_VAULT;1.1;AES256\n"));
        assert!(!is_vaulted(b"key: value\n"));
    }

    #[test]
    fn encrypt_string_layout() {
        assert_eq!(
            yaml_value("$ANSIBLE_VAULT;1.1;AES256\nabcd\n", Some("db_password")),
            "db_password: !vault |\n          $ANSIBLE_VAULT;1.1;AES256\n          abcd\n"
        );
    }
}
