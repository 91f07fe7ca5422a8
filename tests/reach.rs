//! `--ssh-config` without test hosts: errors in the config come at file:line before any host
//! is contacted; a missing file is a usage error; `none` skips it; -v names the lines used.

use std::path::Path;
use std::process::Command;

fn plumb(dir: &Path, args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_plumb"))
        .current_dir(dir)
        .args(args)
        .env("NO_COLOR", "1")
        .env("PLUMB_RETRY_DIR", dir)
        .env_remove("SSH_AUTH_SOCK")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

fn setup(config: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("pb.yml"),
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - command: \"true\"\n",
    )
    .unwrap();
    std::fs::write(d.join("inv.ini"), "web1\n").unwrap();
    std::fs::write(d.join("cfg"), config).unwrap();
    dir
}

#[test]
fn config_errors_come_first_at_file_and_line() {
    let dir = setup("Host web*\n  HostName 10.0.0.1\n  Port abc\n");
    let (code, out) = plumb(
        dir.path(),
        &["apply", "pb.yml", "-i", "inv.ini", "--ssh-config", "cfg"],
    );
    assert_eq!(code, 4, "{out}");
    assert!(
        out.contains("`port` needs a port number, found `abc`"),
        "{out}"
    );
    assert!(out.contains("cfg:3:1"), "{out}");
    assert!(!out.contains("PLAY"), "no host was contacted: {out}");

    let (code, out) = plumb(
        dir.path(),
        &[
            "apply",
            "pb.yml",
            "-i",
            "inv.ini",
            "--ssh-config",
            "missing",
        ],
    );
    assert_eq!(code, 5, "{out}");
    assert!(out.contains("ssh config missing does not exist"), "{out}");
}

#[test]
fn verbose_names_the_lines_and_hops_and_none_disables() {
    let dir =
        setup("Host web*\n  HostName 127.0.0.1\n  ConnectTimeout 2\n  ProxyJump j@127.0.0.1:1\n");
    let args = ["apply", "pb.yml", "-i", "inv.ini", "-v", "--ssh-config"];
    let (code, out) = plumb(dir.path(), &[&args[..], &["cfg"]].concat());
    assert_eq!(code, 3, "{out}");
    assert!(
        out.contains("ssh config: cfg:4:1  ProxyJump j@127.0.0.1:1"),
        "{out}"
    );
    assert!(
        out.contains("jump host j@127.0.0.1:1: cannot connect to 127.0.0.1:1"),
        "{out}"
    );
    let (_, out) = plumb(dir.path(), &[&args[..], &["none"]].concat());
    assert!(!out.contains("ssh config:"), "{out}");
    assert!(!out.contains("jump host"), "{out}");
}
