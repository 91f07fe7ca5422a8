//! Secrets given in plumb's environment, taken out of it before anything else runs.

/// Environment variables that carry secrets. plumb takes them out of its own environment as
/// the very first thing, so no child process (local commands, tools) and no template sees them.
pub(crate) const SECRET_ENV: [&str; 2] = ["PLUMB_BECOME_PASS", "PLUMB_KEY_PASSPHRASE"];

/// The secrets read from the environment at startup (see `SECRET_ENV`).
#[derive(Default)]
struct EnvSecrets {
    pub(crate) become_pass: Option<String>,
    pub(crate) key_passphrase: Option<String>,
}

static ENV_SECRETS: std::sync::Mutex<Option<EnvSecrets>> = std::sync::Mutex::new(None);

/// Reads the secret variables and removes them from the environment. Call before any thread
/// starts (removing a variable while another thread reads the environment is undefined).
pub(crate) fn take_env_secrets() {
    let mut got = EnvSecrets::default();
    for (k, slot) in SECRET_ENV
        .iter()
        .zip([&mut got.become_pass, &mut got.key_passphrase])
    {
        *slot = std::env::var(k).ok();
        // SAFETY: called first thing in `run`, while plumb is still single-threaded.
        unsafe { std::env::remove_var(k) };
    }
    *ENV_SECRETS.lock().unwrap_or_else(|e| e.into_inner()) = Some(got);
}

/// The become password from PLUMB_BECOME_PASS, once (taken out of the process at startup).
pub(crate) fn env_become_pass() -> Option<String> {
    ENV_SECRETS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_mut()
        .and_then(|s| s.become_pass.take())
}

/// The private key passphrase from PLUMB_KEY_PASSPHRASE (taken out of the process at startup).
pub(crate) fn key_passphrase() -> Option<String> {
    ENV_SECRETS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()
        .and_then(|s| s.key_passphrase.clone())
}
