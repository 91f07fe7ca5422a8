//! Secrets on the control machine, run for real through the local transport: the become
//! password never reaches a shell as text, nor a child's environment, a template or the output.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

/// A `sudo` that never reads stdin, like a NOPASSWD rule (or cached credentials) for the target
/// user; while `sudo -n` for root fails, as on a host where root needs the password. As root it
/// drops to nobody, so the play really runs as another user.
const FAKE_SUDO: &str = r#"#!/bin/sh
u=root n=
while [ $# -gt 0 ]; do
  case $1 in
    --) shift; break;;
    -u|-p) [ "$1" = -u ] && u=$2; shift 2;;
    -n) n=1; shift;;
    -*) shift;;
    *) break;;
  esac
done
if [ "$u" = root ] && [ -n "$n" ]; then echo "sudo: a password is required" >&2; exit 1; fi
if [ "$(id -u)" = 0 ]; then exec setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; fi
exec "$@"
"#;

fn run(dir: &Path, password: &str, args: &[&str]) -> support::Run {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::write(bin.join("sudo"), FAKE_SUDO).unwrap();
    std::fs::set_permissions(bin.join("sudo"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let out = Command::new(env!("CARGO_BIN_EXE_plumb"))
        .current_dir(dir)
        .args(args)
        .env("NO_COLOR", "1")
        .env("PLUMB_RETRY_DIR", dir)
        .env("PATH", path)
        .env("PLUMB_BECOME_PASS", password)
        .output()
        .expect("run plumb");
    support::Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// S1: a password sent to a sudo that does not ask for it must not be run by sh. Several become
/// tasks (the lock+probe exec and plain execs), a stat probe and commands; -vv, then JSON.
#[test]
fn a_password_sudo_does_not_read_is_never_executed() {
    let dir = tempfile::tempdir().unwrap();
    // nobody must be able to create the file, were the password ever run.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let d = dir.path().display().to_string();
    let pwned = dir.path().join("pwned");
    let password = format!("a;touch {d}/pwned;b c");
    std::fs::write(
        dir.path().join("local.ini"),
        "here ansible_connection=local\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("site.yml"),
        format!(
            "- hosts: all\n  become: true\n  become_user: nobody\n  tasks:\n\
             \x20   - name: look\n      stat: {{path: {d}}}\n\
             \x20   - name: one\n      command: id -u\n\
             \x20   - name: two\n      command: env\n      register: e\n\
             \x20   - name: show\n      debug: {{msg: \"{{{{ e.stdout }}}}\"}}\n\
             \x20   - name: three\n      command: id -u\n\
             \x20   - name: fail\n      command: \"false\"\n"
        ),
    )
    .unwrap();
    for fmt in [["-vv", "--color=never"], ["--output", "json"]] {
        let mut args = vec!["apply", "site.yml", "-i", "local.ini"];
        args.extend(fmt);
        let r = run(dir.path(), &password, &args);
        let all = format!("{}{}", r.stdout, r.stderr);
        // The play ran (through the fake sudo) up to the failing task.
        assert_eq!(r.code, 2, "{all}");
        assert!(!pwned.exists(), "the password was run as a command:\n{all}");
        assert!(
            all.contains("PATH="),
            "the env task's output is shown: {all}"
        );
        assert!(!all.contains("not found"), "{all}");
        for secret in ["touch", "PLUMB_BECOME_PASS", "b c", "********"] {
            assert!(!all.contains(secret), "`{secret}` in the output:\n{all}");
        }
        let retry = std::fs::read_to_string(dir.path().join("site.retry")).unwrap();
        assert!(!retry.contains("touch"), "{retry}");
    }
}

/// C14: local commands do not inherit the password; templates cannot read it.
#[test]
fn the_password_is_in_no_child_environment_nor_template() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("local.ini"),
        "here ansible_connection=local\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("site.yml"),
        "- hosts: all\n  tasks:\n\
         \x20   - name: env\n      command: env\n\
         \x20   - name: shell\n      shell: printenv PLUMB_BECOME_PASS | rev; echo done\n",
    )
    .unwrap();
    let r = run(
        dir.path(),
        "hunter2-Sudo",
        &["apply", "site.yml", "-i", "local.ini", "-vv"],
    );
    let all = format!("{}{}", r.stdout, r.stderr);
    assert_eq!(r.code, 0, "{all}");
    assert!(all.contains("PATH=") && all.contains("done"), "{all}");
    for secret in ["PLUMB_BECOME_PASS=", "hunter2", "oduS"] {
        assert!(!all.contains(secret), "`{secret}` in the output:\n{all}");
    }
    std::fs::write(
        dir.path().join("site.yml"),
        "- hosts: all\n  tasks:\n\
         \x20   - name: peek\n      debug: {msg: \"{{ lookup('env', 'PLUMB_BECOME_PASS') }}\"}\n",
    )
    .unwrap();
    let r = run(
        dir.path(),
        "hunter2-Sudo",
        &["apply", "site.yml", "-i", "local.ini"],
    );
    let all = format!("{}{}", r.stdout, r.stderr);
    assert_ne!(r.code, 0, "{all}");
    assert!(all.contains("not readable from templates"), "{all}");
    assert!(!all.contains("hunter2"), "{all}");
}
