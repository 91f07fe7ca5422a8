//! Writes as root into directories an unprivileged user owns, on a real host, with that user
//! racing every write (tests/race/racer.py: inotify swaps of new names for symlinks, and path
//! components flipped between a directory and a symlink). Whatever the race, no file or
//! directory outside the user's own directories is written, chmodded, chowned or created, and
//! every write either succeeds or fails with a clear message.
//!
//! `PLUMB_RACE_BIN=/path/to/plumb` runs the race against another plumb binary (an old one fails).

mod support;

use std::path::Path;
use std::process::Command;
use support::{Hosts, Run, inventory};

const K: u32 = 101;
const RUNS: u32 = 20;

const PLAYBOOK: &str = r#"- hosts: all
  tasks:
    - name: copy
      copy: {content: "copy {{ i }}\n", dest: /home/mallory/app/sub/c.conf, mode: "0604", owner: mallory}
      ignore_errors: true
    - name: template
      template: {src: t.j2, dest: /home/mallory/app/sub/t.conf, mode: "0604", owner: mallory}
      ignore_errors: true
    - name: lineinfile
      lineinfile: {path: /home/mallory/app/sub/l.conf, regexp: "^n=", line: "n={{ i }}", create: true, mode: "0604", owner: mallory}
      ignore_errors: true
    - name: authorized_key
      authorized_key: {user: mallory, key: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5{{ i }} run{{ i }}", exclusive: true}
      ignore_errors: true
    - name: backup
      copy: {content: "backup {{ i }}\n", dest: /home/mallory/app/b.conf, backup: true, mode: "0666"}
      ignore_errors: true
    - name: link
      file: {path: /home/mallory/app/sub/lnk, state: link, src: "/opt/target{{ i }}"}
      ignore_errors: true
    - name: directory
      file: {path: "/home/mallory/app/sub/d{{ i }}/x", state: directory, mode: "0700"}
      ignore_errors: true
    - name: touch
      file: {path: "/home/mallory/app/sub/touch{{ i }}", state: touch, mode: "0666", owner: mallory}
      ignore_errors: true
    - name: attributes
      file: {path: /home/mallory/app/sub/c.conf, state: file, mode: "{{ m }}"}
      ignore_errors: true
"#;

const TASKS: [&str; 9] = [
    "copy",
    "template",
    "lineinfile",
    "authorized_key",
    "backup",
    "link",
    "directory",
    "touch",
    "attributes",
];

/// mallory owns her home and `app/sub`; the victims are root's, outside them.
const SETUP: &str = r#"set -e
useradd -m -s /bin/sh mallory
mkdir -p /home/mallory/app/sub /home/mallory/.ssh
printf 'start\n' > /home/mallory/app/sub/c.conf
chown -R mallory:mallory /home/mallory
chmod 0755 /home/mallory /home/mallory/app
printf 'victim secret\n' > /etc/victim
chmod 0600 /etc/victim
mkdir -p /etc/victimdir
printf 'ssh-ed25519 AAAAvictim root@victim\n' > /etc/victimdir/authorized_keys
chmod 0600 /etc/victimdir/authorized_keys
"#;

/// What must not change: the victims' content, mode, owner, and what /etc and /root hold.
const VICTIMS: &str = "stat -c '%n %a %U %G %s %i' /etc/victim /etc/victimdir /etc/victimdir/*; \
     sha256sum /etc/victim /etc/victimdir/authorized_keys; \
     ls -A /etc /etc/victimdir /root /opt | sha256sum; \
     find /etc /root /opt /usr /srv -xdev -newer /tmp/race-start -print 2>/dev/null | grep -v '^/etc$' || true";

fn apply(dir: &Path, inv: &Path, i: u32) -> Run {
    let bin = std::env::var("PLUMB_RACE_BIN").unwrap_or(env!("CARGO_BIN_EXE_plumb").into());
    let kh = dir.join("known_hosts").display().to_string();
    let i = i.to_string();
    let out = Command::new(bin)
        .current_dir(dir)
        .args(["apply", "race.yml", "-i", inv.to_str().unwrap()])
        .args(["--known-hosts", &kh, "--host-key-checking", "accept-new"])
        .args(["--output", "json", "-e", &format!("i={i}")])
        .args([
            "-e",
            if i.ends_with(['1', '3', '5', '7', '9']) {
                "m=0614"
            } else {
                "m=0604"
            },
        ])
        .env("NO_COLOR", "1")
        .env("PLUMB_RETRY_DIR", dir)
        .output()
        .expect("run plumb");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A failure that says plumb refused or noticed the race (or what the attacker left: a symlink
/// at the name, or a path that was not there when probed).
fn clear_refusal(msg: &str) -> bool {
    [
        "plumb: ",
        "refusing",
        "exists and is not a regular file",
        "exists and is a symlink",
        "is a symlink",
        "cannot read the keys file",
        // The probe ran while a component was the symlink: the file is not there.
        "does not exist",
        // lineinfile's probe (`[ $(stat …) -le N ]`) when the file vanished between its checks:
        // a probe error, so a failed task, never "no change".
        "unexpected operator",
        // The batched probe saw paths change while it read them (a record for a path it had
        // just found absent, or a record missing): a failed probe, never "no change".
        "probe failed",
        "changed while it was probed",
    ]
    .iter()
    .any(|m| msg.contains(m))
}

#[test]
fn an_unprivileged_user_racing_every_write_path_gets_nothing_outside_its_own_directories() {
    let _hosts = Hosts::up(&[K]);
    let dir = tempfile::tempdir().unwrap();
    let inv = inventory(dir.path(), &[K], "root");
    std::fs::write(dir.path().join("race.yml"), PLAYBOOK).unwrap();
    std::fs::write(dir.path().join("t.j2"), "template {{ i }}\n").unwrap();
    Hosts::sh(K, SETUP);
    let racer = std::fs::read_to_string(support::repo().join("tests/race/racer.py")).unwrap();
    Hosts::sh(
        K,
        &format!("cat > /tmp/racer.py <<'RACER_EOF'\n{racer}RACER_EOF\ntouch /tmp/race-start"),
    );
    let before = Hosts::sh(K, VICTIMS);
    Hosts::sh(
        K,
        "cd /home/mallory && { setsid su mallory -s /bin/sh -c 'PLANT=/home/mallory/app/b.conf \
         exec python3 /tmp/racer.py /etc/victim /etc/victimdir /home/mallory /home/mallory/app \
         /home/mallory/app/sub /home/mallory/.ssh -- /home/mallory/app/sub /home/mallory/.ssh' \
         </dev/null >/tmp/racer.log 2>&1 & } ; for n in $(seq 50); do [ -s /tmp/racer.pid ] && break; sleep 0.2; done; \
         sleep 0.5; cat /tmp/racer.pid",
    );

    let mut failed: Vec<String> = Vec::new();
    let mut unclear: Vec<String> = Vec::new();
    let mut succeeded = 0;
    for i in 1..=RUNS {
        let run = apply(dir.path(), &inv, i);
        let host = run.host(&format!("h{K}"));
        let tasks = host["tasks"].as_array().unwrap();
        assert_eq!(tasks.len(), TASKS.len(), "run {i}: {}", run.stdout);
        for t in tasks {
            let (name, status) = (t["name"].as_str().unwrap(), t["status"].as_str().unwrap());
            let msg = t["msg"].as_str().unwrap_or_default();
            match status {
                "changed" | "ok" => succeeded += 1,
                "failed" if clear_refusal(msg) => failed.push(format!("run {i}, {name}: {msg}")),
                "failed" => unclear.push(format!("run {i}, {name}: {msg}")),
                s => panic!("run {i}, {name}: status {s}: {msg}"),
            }
        }
    }
    Hosts::sh(
        K,
        "touch /tmp/racer.stop; for n in 1 2 3 4 5 6 7 8 9 10; do kill -0 $(cat /tmp/racer.pid) 2>/dev/null || break; sleep 1; done; cat /tmp/racer.log",
    );
    let log = Hosts::sh(K, "cat /tmp/racer.log");
    eprintln!(
        "{succeeded} writes succeeded, {} refused; racer: {log}\n{}\nunclear:\n{}",
        failed.len(),
        failed.join("\n"),
        unclear.join("\n")
    );
    let after = Hosts::sh(K, VICTIMS);
    assert_eq!(
        before, after,
        "a victim outside mallory's directories changed"
    );
    assert!(
        unclear.is_empty(),
        "unclear failures:\n{}",
        unclear.join("\n")
    );
    let swaps: u32 = log
        .trim()
        .strip_prefix("swaps ")
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(swaps >= RUNS, "the racer hardly raced: {log}");

    // Without the racer, every path works (on fresh names: the racer left its symlinks).
    Hosts::sh(
        K,
        "cd /home/mallory && rm -rf app/sub .ssh app/b.conf* && mkdir app/sub .ssh && echo start > app/sub/c.conf && chown -R mallory: app/sub .ssh",
    );
    let run = apply(dir.path(), &inv, 101);
    for (name, status) in run.statuses(&format!("h{K}")) {
        assert_eq!(status, "changed", "{name}: {}", run.stdout);
    }
    let got = Hosts::sh(
        K,
        "cd /home/mallory/app/sub && cat c.conf t.conf l.conf ../b.conf && readlink lnk && \
         stat -c '%a %U' c.conf touch101 d101/x && cat /home/mallory/.ssh/authorized_keys",
    );
    assert_eq!(
        got,
        "copy 101\ntemplate 101\nn=101\nbackup 101\n/opt/target101\n614 mallory\n666 mallory\n700 root\n\
         ssh-ed25519 AAAAC3NzaC1lZDI1NTE5101 run101"
    );
}
