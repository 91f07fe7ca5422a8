//! Vault passwords from flags, environment and plumb.toml; and `plumb vault ...`, which reads and
//! writes the files `ansible-vault` does.

use crate::cli::{VaultAction, VaultArgs, VaultSecretArgs};
use crate::error::{Error, Result};
use crate::vault::{self, Secret};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// The run's vault passwords, in the order given: `--vault-id`s and `--vault-password-file`s,
/// then `--ask-vault-pass`; with none of those, PLUMB_VAULT_PASSWORD_FILE, then plumb.toml's.
pub(crate) fn secrets(args: &VaultSecretArgs, config_file: Option<&str>) -> Result<Vec<Secret>> {
    let mut out = Vec::new();
    for id in &args.vault_id {
        let (label, source) = match id.split_once('@') {
            Some((l, s)) if !l.is_empty() => (l.to_string(), s.to_string()),
            _ => ("default".to_string(), id.clone()),
        };
        out.push(from_source(&label, &source)?);
    }
    for f in &args.vault_password_file {
        out.push(from_source("default", &f.display().to_string())?);
    }
    if args.ask_vault_pass {
        out.push(from_source("default", "prompt")?);
    }
    if out.is_empty() {
        let fallback = std::env::var("PLUMB_VAULT_PASSWORD_FILE")
            .ok()
            .filter(|v| !v.is_empty())
            .or_else(|| config_file.map(|p| crate::paths::expand(p).display().to_string()));
        if let Some(f) = fallback {
            out.push(from_source("default", &f)?);
        }
    }
    Ok(out)
}

/// One password from `prompt`, an executable (its stdout) or a file (its text, trimmed), as
/// Ansible reads them.
fn from_source(label: &str, source: &str) -> Result<Secret> {
    use std::os::unix::fs::PermissionsExt;
    let password = if source == "prompt" {
        let prompt = if label == "default" {
            "Vault password: ".to_string()
        } else {
            format!("Vault password ({label}): ")
        };
        crate::prompt::password(&prompt)
            .map_err(|e| {
                Error::Usage(format!(
                    "--vault-id {label}@prompt: cannot ask without a terminal ({e}); use a password file"
                ))
            })?
            .into_bytes()
    } else {
        let path = crate::paths::expand(source);
        let meta = std::fs::metadata(&path).map_err(Error::with_path(&path))?;
        if meta.is_file() && meta.permissions().mode() & 0o111 != 0 {
            let mut cmd = std::process::Command::new(&path);
            // As Ansible: only a script named `*-client` is told which vault id is wanted.
            if path
                .file_stem()
                .is_some_and(|s| s.to_string_lossy().ends_with("-client"))
            {
                cmd.arg("--vault-id").arg(label);
            }
            let out = cmd
                .stdin(std::process::Stdio::inherit())
                .output()
                .map_err(Error::with_path(&path))?;
            if !out.status.success() {
                return Err(Error::Usage(format!(
                    "vault password script {} failed ({}): {}",
                    path.display(),
                    out.status,
                    String::from_utf8_lossy(&out.stderr).trim()
                )));
            }
            let mut p = out.stdout;
            while p.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                p.pop();
            }
            p
        } else {
            let text = std::fs::read(&path).map_err(Error::with_path(&path))?;
            text.trim_ascii().to_vec()
        }
    };
    if password.is_empty() {
        return Err(Error::Usage(format!(
            "the vault password from {source} is empty"
        )));
    }
    Ok(Secret {
        label: label.to_string(),
        password,
    })
}

/// `plumb vault ACTION`.
pub(crate) fn run(a: VaultArgs) -> Result<i32> {
    let cfg = crate::config::Config::load(a.config.as_deref())?;
    let secrets = secrets(&a.secrets, cfg.defaults.vault_password_file.as_deref())?;
    match a.action {
        VaultAction::Encrypt { files, output } => {
            let secret = encrypting(&secrets, a.encrypt_vault_id.as_deref())?;
            one_output(&files, &output)?;
            for f in &files {
                let plain = read(f)?;
                if vault::is_vaulted(&plain) {
                    return Err(Error::Usage(format!(
                        "{} is already encrypted",
                        f.display()
                    )));
                }
                write(
                    output.as_deref().unwrap_or(f),
                    vault::encrypt(&plain, secret).as_bytes(),
                )?;
            }
            Ok(0)
        }
        VaultAction::Decrypt { files, output } => {
            one_output(&files, &output)?;
            for f in &files {
                let plain = open(f, &secrets)?;
                write(output.as_deref().unwrap_or(f), &plain)?;
            }
            Ok(0)
        }
        VaultAction::View { files } => {
            let mut out = std::io::stdout().lock();
            for f in &files {
                let plain = open(f, &secrets)?;
                out.write_all(&plain).map_err(Error::with_path("stdout"))?;
            }
            Ok(0)
        }
        VaultAction::Edit { file } => edit(&file, &secrets, a.encrypt_vault_id.as_deref()),
        VaultAction::Rekey {
            files,
            new_vault_password_file,
            new_vault_id,
        } => {
            let new = match (new_vault_id, new_vault_password_file) {
                (Some(id), _) => secrets_of_id(&id)?,
                (None, Some(f)) => from_source("default", &f.display().to_string())?,
                (None, None) => from_source("default", "prompt")?,
            };
            for f in &files {
                let plain = open(f, &secrets)?;
                write(f, vault::encrypt(&plain, &new).as_bytes())?;
            }
            Ok(0)
        }
        VaultAction::EncryptString {
            strings,
            names,
            stdin_name,
        } => {
            let secret = encrypting(&secrets, a.encrypt_vault_id.as_deref())?;
            let mut out = String::new();
            if strings.is_empty() {
                let mut input = Vec::new();
                std::io::stdin()
                    .read_to_end(&mut input)
                    .map_err(Error::with_path("stdin"))?;
                let name = stdin_name.as_deref().or(names.first().map(String::as_str));
                out.push_str(&vault::yaml_value(&vault::encrypt(&input, secret), name));
            }
            for (i, s) in strings.iter().enumerate() {
                let v = vault::encrypt(s.as_bytes(), secret);
                out.push_str(&vault::yaml_value(&v, names.get(i).map(String::as_str)));
            }
            print!("{out}");
            Ok(0)
        }
    }
}

fn secrets_of_id(id: &str) -> Result<Secret> {
    match id.split_once('@') {
        Some((l, s)) if !l.is_empty() => from_source(l, s),
        _ => from_source("default", id),
    }
}

/// The password to encrypt with: the one named, or the only one.
fn encrypting<'a>(secrets: &'a [Secret], label: Option<&str>) -> Result<&'a Secret> {
    match (label, secrets) {
        (Some(l), _) => secrets.iter().find(|s| s.label == l).ok_or_else(|| {
            Error::Usage(format!("--encrypt-vault-id {l}: no vault password has that label"))
        }),
        (None, []) => Err(Error::Usage(
            "no vault password: give --vault-password-file, --vault-id or --ask-vault-pass".into(),
        )),
        (None, [one]) => Ok(one),
        (None, _) => Err(Error::Usage(
            "several vault passwords given: choose the one to encrypt with by --encrypt-vault-id LABEL"
                .into(),
        )),
    }
}

fn one_output(files: &[PathBuf], output: &Option<PathBuf>) -> Result<()> {
    if output.is_some() && files.len() > 1 {
        return Err(Error::Usage("--output takes one input file".into()));
    }
    Ok(())
}

fn read(f: &Path) -> Result<Vec<u8>> {
    if f == Path::new("-") {
        let mut v = Vec::new();
        std::io::stdin()
            .read_to_end(&mut v)
            .map_err(Error::with_path("stdin"))?;
        return Ok(v);
    }
    std::fs::read(f).map_err(Error::with_path(f))
}

/// Decrypts a vaulted file; a wrong or missing password names the file.
fn open(f: &Path, secrets: &[Secret]) -> Result<Vec<u8>> {
    let text = read(f)?;
    if !vault::is_vaulted(&text) {
        return Err(Error::Usage(format!("{} is not encrypted", f.display())));
    }
    vault::decrypt(&String::from_utf8_lossy(&text), secrets)
        .map_err(|e| Error::vault(Error::Usage(format!("{}: {e}", f.display()))))
}

/// Replaces a file whole (temp file beside it, then rename), keeping its mode; `-` is stdout.
fn write(f: &Path, bytes: &[u8]) -> Result<()> {
    if f == Path::new("-") {
        return std::io::stdout()
            .write_all(bytes)
            .map_err(Error::with_path("stdout"));
    }
    let dir = f
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(Error::with_path(dir))?;
    tmp.write_all(bytes).map_err(Error::with_path(tmp.path()))?;
    if let Ok(meta) = std::fs::metadata(f) {
        let _ = std::fs::set_permissions(tmp.path(), meta.permissions());
    }
    tmp.persist(f).map_err(|e| Error::Io {
        path: f.to_path_buf(),
        source: e.error,
    })?;
    Ok(())
}

fn edit(file: &Path, secrets: &[Secret], label: Option<&str>) -> Result<i32> {
    let (plain, secret) = if file.exists() {
        let text = read(file)?;
        let plain = open(file, secrets)?;
        // Encrypt again with the password that opened it.
        let vault_label = vault::label(&String::from_utf8_lossy(&text));
        let opener = secrets
            .iter()
            .find(|s| {
                vault::decrypt(&String::from_utf8_lossy(&text), std::slice::from_ref(s)).is_ok()
            })
            .or_else(|| {
                secrets
                    .iter()
                    .find(|s| Some(&s.label) == vault_label.as_ref())
            })
            .ok_or_else(|| Error::Usage("no vault password opens it".into()))?;
        (plain, opener.clone())
    } else {
        (Vec::new(), encrypting(secrets, label)?.clone())
    };
    // A private directory: the plain text is readable by no one else while it is edited.
    let dir = tempfile::Builder::new()
        .prefix("plumb-vault-")
        .tempdir()
        .map_err(Error::with_path(std::env::temp_dir()))?;
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "vault".into());
    let tmp = dir.path().join(name);
    std::fs::write(&tmp, &plain).map_err(Error::with_path(&tmp))?;
    let editor = std::env::var("EDITOR")
        .ok()
        .filter(|e| !e.trim().is_empty())
        .unwrap_or_else(|| "vi".into());
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("sh")
        .arg(&tmp)
        .status()
        .map_err(Error::with_path("sh"))?;
    if !status.success() {
        return Err(Error::Usage(format!(
            "the editor `{editor}` failed ({status}); {} is unchanged",
            file.display()
        )));
    }
    let edited = std::fs::read(&tmp).map_err(Error::with_path(&tmp))?;
    if edited != plain || !file.exists() {
        write(file, vault::encrypt(&edited, &secret).as_bytes())?;
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_sources() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, "  s3cret \n").unwrap();
        let script = dir.path().join("pw-client.sh");
        std::fs::write(&script, "#!/bin/sh\nprintf 'from-%s\\n' \"$2\"\n").unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let args = VaultSecretArgs {
            vault_password_file: vec![file.clone()],
            vault_id: vec![format!("prod@{}", script.display())],
            ask_vault_pass: false,
        };
        let s = secrets(&args, None).unwrap();
        assert_eq!(s[0].label, "prod");
        assert_eq!(s[0].password, b"from-prod");
        assert_eq!(
            (s[1].label.as_str(), &s[1].password[..]),
            ("default", &b"s3cret"[..])
        );
        let none = secrets(&VaultSecretArgs::default(), Some(file.to_str().unwrap())).unwrap();
        assert_eq!(none[0].password, b"s3cret");
    }

    #[test]
    fn choosing_the_password_to_encrypt_with() {
        let s = |l: &str| Secret {
            label: l.into(),
            password: b"x".to_vec(),
        };
        assert!(encrypting(&[], None).is_err());
        assert_eq!(encrypting(&[s("a")], None).unwrap().label, "a");
        assert!(encrypting(&[s("a"), s("b")], None).is_err());
        assert_eq!(encrypting(&[s("a"), s("b")], Some("b")).unwrap().label, "b");
    }
}
