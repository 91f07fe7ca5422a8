//! Ansible Vault: `plumb vault` against the real `ansible-vault` (both directions), and vaulted
//! variables used by a playbook run on the control machine (`ansible_connection=local`): the
//! secrets reach the file, and no output mode shows them.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use support::plumb;

const PW: &str = "correct horse battery staple";
const FILE_SECRET: &str = "db-pass-9Xq7!";
const INLINE_SECRET: &str = "api-token-Zk42";

/// A venv with ansible-core from PyPI, made once per machine; None (the test then says it is
/// skipped) only when PyPI cannot be reached.
fn ansible_vault() -> Option<PathBuf> {
    let venv = PathBuf::from("/var/tmp/plumb-ansible-venv");
    let bin = venv.join("bin/ansible-vault");
    if bin.exists() {
        return Some(bin);
    }
    let lock = std::fs::File::create("/var/tmp/plumb-ansible-venv.lock").ok()?;
    // SAFETY: flock on an open file; released when `lock` is dropped.
    unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&lock), libc::LOCK_EX) };
    if bin.exists() {
        return Some(bin);
    }
    let ok = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .is_ok_and(|s| s.success())
        && Command::new(venv.join("bin/pip"))
            .args(["install", "-q", "ansible-core"])
            .status()
            .is_ok_and(|s| s.success());
    if !ok {
        let _ = std::fs::remove_dir_all(&venv);
        eprintln!("skipped: ansible-core could not be installed from PyPI");
        return None;
    }
    Some(bin)
}

fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pw"), format!("{PW}\n")).unwrap();
    std::fs::write(
        dir.path().join("local.ini"),
        "here ansible_connection=local\n",
    )
    .unwrap();
    dir
}

fn vault(dir: &Path, args: &[&str]) -> support::Run {
    let mut all = vec!["vault"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--vault-password-file", "pw"]);
    plumb(dir, &all)
}

#[test]
fn ansible_vault_and_plumb_read_each_other() {
    let Some(av) = ansible_vault() else { return };
    let dir = project();
    let d = dir.path();
    let run_av = |args: &[&str]| {
        let out = Command::new(&av)
            .current_dir(d)
            .args(args)
            .args(["--vault-password-file", "pw"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "ansible-vault {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };

    // plumb encrypts, ansible-vault reads.
    std::fs::write(d.join("a.yml"), "a: 1\n").unwrap();
    assert_eq!(vault(d, &["encrypt", "a.yml"]).code, 0);
    assert!(
        std::fs::read_to_string(d.join("a.yml"))
            .unwrap()
            .starts_with("$ANSIBLE_VAULT;1.1;AES256\n")
    );
    assert_eq!(run_av(&["view", "a.yml"]), "a: 1\n");

    // ansible-vault encrypts, plumb reads.
    std::fs::write(d.join("b.yml"), "b: 2\n").unwrap();
    run_av(&["encrypt", "b.yml"]);
    let r = vault(d, &["view", "b.yml"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "b: 2\n"), "{}", r.stderr);
    assert_eq!(vault(d, &["decrypt", "b.yml"]).code, 0);
    assert_eq!(std::fs::read_to_string(d.join("b.yml")).unwrap(), "b: 2\n");

    // encrypt_string both ways, as variables files hold them.
    let r = vault(d, &["encrypt_string", "plumb-said", "--name", "x"]);
    std::fs::write(d.join("x.yml"), &r.stdout).unwrap();
    // An inline value is read by ansible through a variables file, as playbooks hold them.
    let out = Command::new(av.with_file_name("ansible"))
        .current_dir(d)
        .args(["localhost", "-m", "debug", "-a", "var=x", "-e", "@x.yml"])
        .args(["--vault-password-file", "pw"])
        .env("ANSIBLE_LOCALHOST_WARNING", "false")
        .env("ANSIBLE_INVENTORY_UNPARSED_WARNING", "false")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("\"x\": \"plumb-said\""),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let inline = run_av(&["encrypt_string", "ansible-said", "--name", "y"]);
    std::fs::write(
        d.join("site.yml"),
        format!("- hosts: all\n  vars:\n    {}\n  tasks:\n    - name: show\n      debug: {{msg: \"{{{{ y | length }}}}\"}}\n", inline.trim_end().replace('\n', "\n    ")),
    )
    .unwrap();
    let r = plumb(
        d,
        &[
            "apply",
            "site.yml",
            "-i",
            "local.ini",
            "--output",
            "json",
            "--vault-password-file",
            "pw",
        ],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(r.task_msg("here", "show"), "12");

    // rekey: the old password no longer opens it, the new one does.
    std::fs::write(d.join("pw2"), "other\n").unwrap();
    let r = vault(d, &["rekey", "a.yml", "--new-vault-password-file", "pw2"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_ne!(vault(d, &["view", "a.yml"]).code, 0);
    let out = Command::new(&av)
        .current_dir(d)
        .args(["view", "a.yml", "--vault-password-file", "pw2"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "a: 1\n");
}

/// A playbook whose vars_files hold a vaulted file and whose vars hold an inline `!vault` value.
fn secret_project() -> tempfile::TempDir {
    let dir = project();
    let d = dir.path();
    std::fs::create_dir_all(d.join("vars")).unwrap();
    std::fs::write(
        d.join("vars/vault.yml"),
        format!("vault_db_password: \"{FILE_SECRET}\"\n"),
    )
    .unwrap();
    assert_eq!(vault(d, &["encrypt", "vars/vault.yml"]).code, 0);
    let inline = vault(d, &["encrypt_string", INLINE_SECRET, "--name", "api_token"]).stdout;
    std::fs::write(
        d.join("site.yml"),
        format!(
            "- hosts: all\n  vars_files: [vars/vault.yml]\n  vars:\n    {}\n  tasks:\n    - name: config\n      copy:\n        dest: \"{}/app.conf\"\n        content: \"user=app\\npassword={{{{ vault_db_password }}}}\\ntoken={{{{ api_token }}}}\\n\"\n    - name: show\n      debug: {{msg: \"the token is {{{{ api_token }}}}\"}}\n",
            inline.trim_end().replace('\n', "\n    "),
            d.display()
        ),
    )
    .unwrap();
    dir
}

fn assert_hidden(what: &str, text: &str) {
    for s in [FILE_SECRET, INLINE_SECRET] {
        assert!(!text.contains(s), "{what} shows a secret:\n{text}");
    }
}

#[test]
fn vaulted_values_reach_the_file_and_never_the_output() {
    let dir = secret_project();
    let d = dir.path();
    let args = |cmd: &'static str, extra: &[&'static str]| {
        let mut a = vec![
            cmd,
            "site.yml",
            "-i",
            "local.ini",
            "--vault-password-file",
            "pw",
        ];
        a.extend_from_slice(extra);
        a
    };
    let r = plumb(d, &args("plan", &["-vv"]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("+password=********"),
        "the diff masks the secret:\n{}",
        r.stdout
    );
    assert_hidden("plan -vv", &(r.stdout.clone() + &r.stderr));
    let r = plumb(d, &args("plan", &["--output", "json"]));
    assert_hidden("plan json", &(r.stdout.clone() + &r.stderr));

    let r = plumb(d, &args("apply", &["-vv", "--diff"]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_hidden("apply -vv --diff", &(r.stdout.clone() + &r.stderr));
    let written = std::fs::read_to_string(d.join("app.conf")).unwrap();
    assert_eq!(
        written,
        format!("user=app\npassword={FILE_SECRET}\ntoken={INLINE_SECRET}\n")
    );

    let r = plumb(d, &args("apply", &["--output", "json"]));
    assert_eq!(r.code, 0);
    assert_hidden("apply json", &(r.stdout.clone() + &r.stderr));
    assert_eq!(r.task_msg("here", "show"), "the token is ********");
    assert!(
        r.with_status("here", "changed").is_empty(),
        "a second run changes nothing: {}",
        r.stdout
    );
    let r = plumb(d, &args("apply", &["-v"]));
    assert_hidden("apply -v", &(r.stdout.clone() + &r.stderr));
}

#[test]
fn a_wrong_or_missing_password_stops_before_any_host() {
    let dir = secret_project();
    let d = dir.path();
    std::fs::write(d.join("bad"), "wrong\n").unwrap();
    let inline_only = std::fs::read_to_string(d.join("site.yml")).unwrap();
    let file_only = inline_only.replace("token={{ api_token }}", "").replace(
        &inline_only[inline_only.find("  vars:\n").unwrap()..inline_only.find("  tasks:").unwrap()],
        "",
    );
    for (site, at) in [
        (&inline_only, "site.yml:5:15"),
        (&file_only, "vars/vault.yml:1:1"),
    ] {
        std::fs::write(
            d.join("site.yml"),
            site.replace("the token is {{ api_token }}", "hi"),
        )
        .unwrap();
        for extra in [&["--vault-password-file", "bad"][..], &[][..]] {
            let mut a = vec!["apply", "site.yml", "-i", "local.ini"];
            a.extend_from_slice(extra);
            let r = plumb(d, &a);
            assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
            assert!(r.stderr.contains(at), "{at}: {}", r.stderr);
            assert!(!d.join("app.conf").exists(), "nothing ran");
        }
    }
}

#[test]
fn edit_re_encrypts_and_ask_needs_a_terminal() {
    use std::os::unix::fs::PermissionsExt;
    let dir = project();
    let d = dir.path();
    std::fs::write(d.join("s.yml"), "a: 1\n").unwrap();
    assert_eq!(vault(d, &["encrypt", "s.yml"]).code, 0);
    let before = std::fs::read_to_string(d.join("s.yml")).unwrap();
    // The "editor" appends a line to the decrypted copy it is given.
    let editor = d.join("ed.sh");
    std::fs::write(&editor, "#!/bin/sh\nprintf 'b: 2\\n' >> \"$1\"\n").unwrap();
    std::fs::set_permissions(&editor, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_plumb"))
        .current_dir(d)
        .args(["vault", "edit", "s.yml", "--vault-password-file", "pw"])
        .env("EDITOR", &editor)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let after = std::fs::read_to_string(d.join("s.yml")).unwrap();
    assert!(after.starts_with("$ANSIBLE_VAULT;1.1;AES256\n") && after != before);
    let r = vault(d, &["view", "s.yml"]);
    assert_eq!(r.stdout, "a: 1\nb: 2\n");

    // -J without a terminal: a clear error, not a hang.
    let out = std::process::Command::new("setsid")
        .current_dir(d)
        .arg(env!("CARGO_BIN_EXE_plumb"))
        .args(["vault", "view", "s.yml", "-J"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{err}");
    assert!(err.contains("cannot ask without a terminal"), "{err}");
}

#[test]
fn vaulted_group_vars_beside_the_playbook() {
    let dir = project();
    let d = dir.path();
    std::fs::create_dir_all(d.join("group_vars/all")).unwrap();
    std::fs::write(
        d.join("group_vars/all/vault.yml"),
        format!("vault_db_password: {FILE_SECRET}\n"),
    )
    .unwrap();
    std::fs::write(
        d.join("group_vars/all/vars.yml"),
        "db_password: \"{{ vault_db_password }}\"\n",
    )
    .unwrap();
    assert_eq!(vault(d, &["encrypt", "group_vars/all/vault.yml"]).code, 0);
    std::fs::write(
        d.join("site.yml"),
        "- hosts: all\n  tasks:\n    - name: show\n      debug: {msg: \"{{ db_password | length }} {{ db_password }}\"}\n",
    )
    .unwrap();
    let r = plumb(
        d,
        &[
            "apply",
            "site.yml",
            "-i",
            "local.ini",
            "--output",
            "json",
            "--vault-password-file",
            "pw",
        ],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(
        r.task_msg("here", "show"),
        format!("{} ********", FILE_SECRET.len())
    );
}

#[test]
fn many_inline_values_decrypt_side_by_side() {
    let dir = project();
    let d = dir.path();
    let mut vars = String::new();
    for i in 0..12 {
        let r = vault(
            d,
            &[
                "encrypt_string",
                &format!("value-{i:02}-secret"),
                "--name",
                &format!("v{i}"),
            ],
        );
        vars.push_str(&r.stdout);
    }
    std::fs::write(d.join("vars.yml"), &vars).unwrap();
    let mut msg = String::new();
    for i in 0..12 {
        msg.push_str(&format!("{{{{ v{i} | length }}}},"));
    }
    std::fs::write(
        d.join("site.yml"),
        format!("- hosts: all\n  vars_files: [vars.yml]\n  tasks:\n    - name: show\n      debug: {{msg: \"{msg}\"}}\n"),
    )
    .unwrap();
    let r = plumb(
        d,
        &[
            "apply",
            "site.yml",
            "-i",
            "local.ini",
            "--output",
            "json",
            "--vault-password-file",
            "pw",
        ],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(r.task_msg("here", "show"), "15,".repeat(12));
}
