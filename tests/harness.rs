//! The test-host harness sets up what it needs itself: a package the control machine lacks is
//! installed (as root), or named with the command to run (otherwise), before anything long.
//! Nothing is uninstalled: the harness is told to treat installed packages as missing, and
//! apt-get is a stub that records how it was called.

use std::path::Path;
use std::process::{Command, Output};

fn harness(state: &Path, env: &[(&str, &str)], as_nobody: bool) -> Output {
    let mut script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/hosts/testhosts.sh");
    if as_nobody {
        // The checkout may sit where an unprivileged user cannot read (under /root, say).
        let copy = state.parent().unwrap().join("testhosts.sh");
        std::fs::copy(&script, &copy).unwrap();
        script = copy;
    }
    let mut cmd = if as_nobody {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "bash"]);
        c
    } else {
        Command::new("bash")
    };
    cmd.arg(&script)
        .arg("deps")
        .env("PLUMB_TESTHOSTS_DIR", state);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run testhosts.sh")
}

fn stub_apt(dir: &Path) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let stub = dir.join("apt-get");
    let log = dir.join("calls");
    std::fs::write(
        &stub,
        format!("#!/bin/sh\necho \"$*\" >> '{}'\n", log.display()),
    )
    .unwrap();
    std::fs::set_permissions(&stub, std::fs::Permissions::from_mode(0o755)).unwrap();
    stub
}

fn is_root() -> bool {
    // SAFETY: getuid has no preconditions.
    unsafe { libc::getuid() == 0 }
}

#[test]
fn a_missing_package_is_installed_once_with_a_line_saying_so() {
    if !is_root() {
        eprintln!("skipped: the install path is taken only as root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let stub = stub_apt(dir.path());
    let out = harness(
        &dir.path().join("state"),
        &[
            ("PLUMB_TESTHOSTS_PRETEND_MISSING", "socat curl"),
            ("PLUMB_TESTHOSTS_APT_GET", stub.to_str().unwrap()),
        ],
        false,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("installing missing packages (once): socat curl"),
        "{stderr}"
    );
    let calls = std::fs::read_to_string(dir.path().join("calls")).unwrap();
    assert_eq!(calls, "update -qq\ninstall -y -qq socat curl\n");
}

#[test]
fn without_root_it_says_what_to_run() {
    if !is_root() {
        eprintln!("skipped: needs root to switch to an unprivileged user");
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let stub = stub_apt(dir.path());
    let out = harness(
        &dir.path().join("state"),
        &[
            ("PLUMB_TESTHOSTS_PRETEND_MISSING", "debootstrap"),
            ("PLUMB_TESTHOSTS_APT_GET", stub.to_str().unwrap()),
        ],
        true,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert_eq!(
        stderr,
        "testhosts: error: missing packages: debootstrap. Run: sudo apt-get install -y debootstrap (or run this as root and it installs them)\n"
    );
    assert!(!dir.path().join("calls").exists());
}
