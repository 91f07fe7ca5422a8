//! An unencrypted OpenSSH Ed25519 key file, signed with by plumb (ring, already here for TLS)
//! rather than by libssh2. libssh2 reads a key file again for every host, and starts by letting
//! OpenSSL try every PEM decoder on it: about 5M instructions per host, a fifth of plumb's own
//! work for a converged host. This key is read once per run; libssh2 still runs the protocol
//! and only asks for the signature (`libssh2_userauth_publickey`, its sign callback).

use super::key_file::openssh_ed25519;
use ring::signature::Ed25519KeyPair;
use ssh2::Session;
use std::collections::HashMap;
use std::ffi::{CString, c_char, c_int, c_void};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

pub(super) struct Ed25519Key {
    /// The public key as the protocol sends it (`string "ssh-ed25519", string key`).
    blob: Vec<u8>,
    pair: Ed25519KeyPair,
}

type SignCallback = unsafe extern "C" fn(
    *mut c_void,
    *mut *mut u8,
    *mut usize,
    *const u8,
    usize,
    *mut *mut c_void,
) -> c_int;

unsafe extern "C" {
    // Part of libssh2's public API, compiled into the libssh2 that ssh2 links; libssh2-sys
    // does not declare it.
    fn libssh2_userauth_publickey(
        session: *mut c_void,
        username: *const c_char,
        pubkeydata: *const u8,
        pubkeydata_len: usize,
        sign_callback: Option<SignCallback>,
        abstract_: *mut *mut c_void,
    ) -> c_int;
}

/// libssh2's LIBSSH2_ERROR_BAD_USE.
const BAD_USE: c_int = -39;

impl Ed25519Key {
    /// The key in the file `path` (whose text is `text`) if it is an unencrypted OpenSSH
    /// Ed25519 key; parsed once per run, whatever the host count.
    pub(super) fn load(path: &Path, text: &str) -> Option<Arc<Ed25519Key>> {
        type Keys = Mutex<Option<HashMap<PathBuf, Option<Arc<Ed25519Key>>>>>;
        static KEYS: Keys = Mutex::new(None);
        let mut keys = KEYS.lock().unwrap_or_else(|e| e.into_inner());
        let keys = keys.get_or_insert_with(HashMap::new);
        if let Some(k) = keys.get(path) {
            return k.clone();
        }
        let key = Ed25519Key::parse(text).map(Arc::new);
        keys.insert(path.to_path_buf(), key.clone());
        key
    }

    fn parse(text: &str) -> Option<Ed25519Key> {
        let (blob, seed) = openssh_ed25519(text)?;
        // The public key at the blob's end (after "ssh-ed25519"), checked against the seed's.
        let pair =
            Ed25519KeyPair::from_seed_and_public_key(&seed, &blob[blob.len() - 32..]).ok()?;
        Some(Ed25519Key { blob, pair })
    }

    /// Public key authentication as `user`, signed with this key. Non-blocking like the
    /// session: EAGAIN comes back as an error, and the call is repeated as it stands.
    pub(super) fn userauth(&self, session: &Session, user: &str) -> Result<(), ssh2::Error> {
        let user = CString::new(user).map_err(|_| {
            ssh2::Error::new(ssh2::ErrorCode::Session(BAD_USE), "user name holds a NUL")
        })?;
        let mut me = self as *const Ed25519Key as *mut c_void;
        let rc = {
            let mut raw = session.raw();
            let raw: *mut _ = &mut *raw;
            // SAFETY: the session pointer is held under ssh2's lock for the call; `user` and
            // `blob` outlive it; `me` points at `self`, which `sign` only reads during it.
            unsafe {
                libssh2_userauth_publickey(
                    raw.cast(),
                    user.as_ptr(),
                    self.blob.as_ptr(),
                    self.blob.len(),
                    Some(sign),
                    &mut me,
                )
            }
        };
        match rc {
            0 => Ok(()),
            rc => Err(ssh2::Error::from_session_error(session, rc)),
        }
    }

    #[cfg(test)]
    fn sign(&self, data: &[u8]) -> Vec<u8> {
        self.pair.sign(data).as_ref().to_vec()
    }
}

/// libssh2's sign callback: the raw 64-byte signature of `data`, in memory libssh2 frees with
/// its allocator (ssh2 leaves it at the default, malloc/free).
unsafe extern "C" fn sign(
    _session: *mut c_void,
    sig: *mut *mut u8,
    sig_len: *mut usize,
    data: *const u8,
    data_len: usize,
    abstract_: *mut *mut c_void,
) -> c_int {
    // SAFETY: `abstract_` is the `&mut me` that `userauth` passed, pointing at a live key;
    // `data` is `data_len` bytes libssh2 owns for the call; `sig` and `sig_len` are its out
    // parameters.
    unsafe {
        let key = &*(*abstract_ as *const Ed25519Key);
        let signature = key.pair.sign(std::slice::from_raw_parts(data, data_len));
        let bytes = signature.as_ref();
        let out = libc::malloc(bytes.len()) as *mut u8;
        if out.is_null() {
            return -1;
        }
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), out, bytes.len());
        *sig = out;
        *sig_len = bytes.len();
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::signature::{ED25519, UnparsedPublicKey};

    fn keygen(dir: &Path, name: &str, kind: &str, pass: &str) -> String {
        let key = dir.join(name);
        let ok = std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", kind, "-N", pass, "-C", name, "-f"])
            .arg(&key)
            .status()
            .unwrap()
            .success();
        assert!(ok);
        std::fs::read_to_string(key).unwrap()
    }

    /// The key ssh-keygen wrote: its public key is the .pub file's, and its signatures verify
    /// under it. Other keys are left to libssh2.
    #[test]
    fn signs_with_unencrypted_openssh_ed25519_keys_only() {
        let dir = tempfile::tempdir().unwrap();
        let text = keygen(dir.path(), "plain", "ed25519", "");
        let key = Ed25519Key::parse(&text).expect("an unencrypted ed25519 key");
        let pub_line = std::fs::read_to_string(dir.path().join("plain.pub")).unwrap();
        let want = super::super::key_file::public_blob(&dir.path().join("plain")).unwrap();
        assert!(pub_line.starts_with("ssh-ed25519 "));
        assert_eq!(key.blob, want);
        let sig = key.sign(b"session id and request");
        let public = UnparsedPublicKey::new(&ED25519, &key.blob[key.blob.len() - 32..]);
        assert!(public.verify(b"session id and request", &sig).is_ok());
        assert!(public.verify(b"another request", &sig).is_err());

        let locked = keygen(dir.path(), "locked", "ed25519", "secret words");
        assert!(Ed25519Key::parse(&locked).is_none());
        let ecdsa = keygen(dir.path(), "ecdsa", "ecdsa", "");
        assert!(Ed25519Key::parse(&ecdsa).is_none());
        assert!(Ed25519Key::parse("-----BEGIN RSA PRIVATE KEY-----\nabc\n").is_none());

        // A header whose public key disagrees with the private section's is refused.
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD;
        let body: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
        let mut raw = b64.decode(body).unwrap();
        let at = raw.windows(11).position(|w| w == b"ssh-ed25519").unwrap() + 11 + 4;
        raw[at] ^= 1;
        let pem = |raw: &[u8]| {
            format!(
                "-----BEGIN OPENSSH PRIVATE KEY-----\n{}\n-----END OPENSSH PRIVATE KEY-----\n",
                b64.encode(raw)
            )
        };
        assert!(Ed25519Key::parse(&pem(&raw)).is_none());
        raw[at] ^= 1;
        assert!(Ed25519Key::parse(&pem(&raw)).is_some());
    }
}
