//! Writes that must not be turned against root, run for real through the local transport in a
//! temporary directory (as root: the attacks need a directory owned by someone else, here
//! `nobody`): planted symlinks and hard links, predictable names, options as owners, and the
//! setuid bit that chown clears. tests/e2e_race.rs races the same paths on a real host.
//! `PLUMB_RACE_BIN=/path/to/plumb` runs them against another plumb binary (an old one fails).

mod support;

use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::Path;
use support::Run;

const NOBODY: u32 = 65534;

fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A scratch directory with a local inventory, a root-owned 0600 `victim` and `victimdir`, and
/// `box`, a directory `nobody` owns (the attacker's).
fn scratch() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(d.join("inv.ini"), "here ansible_connection=local\n").unwrap();
    std::fs::write(d.join("victim"), "victim secret\n").unwrap();
    std::fs::set_permissions(d.join("victim"), std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::create_dir(d.join("victimdir")).unwrap();
    std::fs::create_dir(d.join("box")).unwrap();
    std::os::unix::fs::chown(d.join("box"), Some(NOBODY), Some(NOBODY)).unwrap();
    dir
}

fn apply(d: &Path, tasks: &str) -> Run {
    let pb = format!(
        "- hosts: all\n  tasks:\n{}",
        tasks.replace("@D@", &d.display().to_string())
    );
    std::fs::write(d.join("pb.yml"), pb).unwrap();
    let bin = std::env::var("PLUMB_RACE_BIN").unwrap_or(env!("CARGO_BIN_EXE_plumb").into());
    let out = std::process::Command::new(bin)
        .current_dir(d)
        .args(["apply", "pb.yml", "-i", "inv.ini", "--output", "json"])
        .env("NO_COLOR", "1")
        .env("PLUMB_RETRY_DIR", d)
        .output()
        .expect("run plumb");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn statuses(run: &Run) -> Vec<String> {
    run.statuses("here").into_iter().map(|(_, s)| s).collect()
}

fn victim_intact(d: &Path) {
    let v = d.join("victim");
    assert_eq!(std::fs::read_to_string(&v).unwrap(), "victim secret\n");
    let m = std::fs::metadata(&v).unwrap();
    assert_eq!(
        (m.mode() & 0o7777, m.uid()),
        (0o600, 0),
        "victim's mode/owner"
    );
    assert_eq!(std::fs::read_dir(d.join("victimdir")).unwrap().count(), 0);
}

#[test]
fn planted_symlinks_and_hard_links_are_not_followed() {
    if !is_root() {
        eprintln!("skipped: needs root (chown to nobody)");
        return;
    }
    let dir = scratch();
    let d = dir.path();
    // A symlink component in nobody's directory: refused, not followed into victimdir.
    symlink(d.join("victimdir"), d.join("box/sub")).unwrap();
    // A hard link to the victim in nobody's directory: chmod/chown refused.
    std::fs::hard_link(d.join("victim"), d.join("box/h.conf")).unwrap();
    let run = apply(
        d,
        "    - copy: {content: \"x\\n\", dest: \"@D@/box/sub/a.conf\", mode: \"0666\", owner: nobody}\n      ignore_errors: true\n\
         \x20   - file: {path: \"@D@/box/sub/dir\", state: directory}\n      ignore_errors: true\n\
         \x20   - file: {path: \"@D@/box/sub/lnk\", state: link, src: /x}\n      ignore_errors: true\n\
         \x20   - file: {path: \"@D@/box/h.conf\", mode: \"0666\", owner: nobody}\n      ignore_errors: true\n",
    );
    assert_eq!(statuses(&run), ["failed"; 4], "{}", run.stdout);
    let msg = run.task_msg("here", &format!("copy {}/box/sub/a.conf", d.display()));
    assert!(
        msg.contains("box/sub is a symlink in a directory that nobody (or others) can write; refusing to follow it"),
        "{msg}"
    );
    let msg = run.task_msg("here", &format!("file {}/box/h.conf", d.display()));
    assert!(msg.contains("has other hard links"), "{msg}");
    victim_intact(d);

    // In a directory only root can write, a symlink is followed like any path.
    std::fs::create_dir(d.join("real")).unwrap();
    symlink("real", d.join("via")).unwrap();
    let run = apply(
        d,
        "    - copy: {content: \"y\\n\", dest: \"@D@/via/b.conf\"}\n",
    );
    assert_eq!(statuses(&run), ["changed"], "{}", run.stdout);
    assert_eq!(
        std::fs::read_to_string(d.join("real/b.conf")).unwrap(),
        "y\n"
    );
}

#[test]
fn backups_and_link_temp_names_cannot_be_planted() {
    if !is_root() {
        eprintln!("skipped: needs root (chown to nobody)");
        return;
    }
    let dir = scratch();
    let d = dir.path();
    let conf = d.join("box/app.conf");
    std::fs::write(&conf, "OLD\n").unwrap();
    std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o640)).unwrap();
    // The names plumb used to back up to, planted for the next minute.
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "now=$(date +%s); for s in $(seq 0 60); do ln -s {v} \"{c}.$(date -d @$((now+s)) +%Y-%m-%d@%H:%M:%S)~\"; done",
            v = d.join("victim").display(),
            c = conf.display()
        ))
        .status()
        .unwrap();
    assert!(out.success());
    // The link's old temp names (`.plumb-link.PID`), planted as directories for the next PIDs.
    let last: u32 = std::fs::read_to_string("/proc/sys/kernel/ns_last_pid")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    for pid in last..last + 1500 {
        let _ = std::fs::create_dir(d.join(format!("box/.plumb-link.{pid}")));
    }
    let run = apply(
        d,
        "    - copy: {content: \"NEW\\n\", dest: \"@D@/box/app.conf\", backup: true}\n\
         \x20   - file: {path: \"@D@/box/current\", state: link, src: releases/v2}\n",
    );
    assert_eq!(statuses(&run), ["changed", "changed"], "{}", run.stdout);
    victim_intact(d);
    // The backup is the old file itself (content, mode), under DEST.PID.TIMESTAMP~.
    let backup = std::fs::read_dir(d.join("box"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            let n = p.file_name().unwrap().to_string_lossy().to_string();
            n.starts_with("app.conf.") && n.ends_with('~') && !p.is_symlink()
        })
        .expect("a backup");
    assert_eq!(std::fs::read_to_string(&backup).unwrap(), "OLD\n");
    assert_eq!(std::fs::metadata(&backup).unwrap().mode() & 0o777, 0o640);
    // The new file keeps the old one's mode.
    assert_eq!(std::fs::metadata(&conf).unwrap().mode() & 0o777, 0o640);
    assert_eq!(
        std::fs::read_link(d.join("box/current")).unwrap(),
        Path::new("releases/v2")
    );
}

#[test]
fn setuid_survives_owners_are_checked_and_validate_quotes_work() {
    if !is_root() {
        eprintln!("skipped: needs root (chown to nobody)");
        return;
    }
    let dir = scratch();
    let d = dir.path();
    let tasks = "    - copy: {content: \"#!/bin/sh\\ntrue\\n\", dest: \"@D@/tool\", mode: \"4755\", owner: nobody}\n\
                 \x20   - copy: {content: \"v\\n\", dest: \"@D@/v.conf\", validate: \"sh -c 'test -s %s'\"}\n";
    let run = apply(d, tasks);
    assert_eq!(statuses(&run), ["changed", "changed"], "{}", run.stdout);
    let m = std::fs::metadata(d.join("tool")).unwrap();
    assert_eq!((m.mode() & 0o7777, m.uid()), (0o4755, NOBODY));
    assert_eq!(statuses(&apply(d, tasks)), ["ok", "ok"]);

    // An owner that is an option is refused before anything runs.
    for bad in ["--version", "-x", "a b"] {
        let run = apply(
            d,
            &format!("    - copy: {{content: \"x\", dest: \"@D@/o.conf\", owner: \"{bad}\"}}\n"),
        );
        assert_ne!(run.code, 0, "{bad}: {}", run.stdout);
        assert!(
            (run.stdout.clone() + &run.stderr).contains("is not a valid user or group name"),
            "{bad}: {}{}",
            run.stdout,
            run.stderr
        );
    }
    assert!(!d.join("o.conf").exists());

    // `$()` in a path is never run by the in-place check's message.
    let run = apply(
        d,
        "    - copy: {content: \"x\\n\", dest: \"@D@/a$(touch PWNED).conf\", validate_in_place: \"false\"}\n",
    );
    assert_eq!(statuses(&run), ["failed"], "{}", run.stdout);
    assert!(!d.join("PWNED").exists());
    let msg = run.task_msg(
        "here",
        &format!("copy {}/a$(touch PWNED).conf", d.display()),
    );
    assert!(
        msg.contains(
            "a$(touch PWNED).conf: in-place check failed (false); the new file was removed"
        ),
        "{msg}"
    );
}

#[test]
fn file_on_a_symlink_refuses_attributes_and_touch_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("inv.ini"), "here ansible_connection=local\n").unwrap();
    std::fs::write(d.join("target"), "t").unwrap();
    std::fs::set_permissions(d.join("target"), std::fs::Permissions::from_mode(0o644)).unwrap();
    symlink("target", d.join("lnk")).unwrap();
    let touch = "    - file: {path: \"@D@/lnk\", state: touch}\n";
    assert_eq!(statuses(&apply(d, touch)), ["ok"]);
    for state in ["file", "touch"] {
        let run = apply(
            d,
            &format!("    - file: {{path: \"@D@/lnk\", state: {state}, mode: \"0600\"}}\n"),
        );
        assert_eq!(statuses(&run), ["failed"], "{}", run.stdout);
        let msg = run.task_msg("here", &format!("file {}/lnk", d.display()));
        assert!(msg.contains("is a symlink (to target)"), "{msg}");
    }
    let m = std::fs::metadata(d.join("target")).unwrap();
    assert_eq!(m.mode() & 0o777, 0o644);
    // touch on an existing file, and directories, twice: the second run changes nothing.
    let tasks = "    - file: {path: \"@D@/t\", state: touch, mode: \"0640\"}\n\
                 \x20   - file: {path: \"@D@/a/b\", state: directory, mode: \"0750\"}\n";
    assert_eq!(statuses(&apply(d, tasks)), ["changed", "changed"]);
    assert_eq!(statuses(&apply(d, tasks)), ["ok", "ok"]);
    assert_eq!(
        std::fs::metadata(d.join("a/b")).unwrap().mode() & 0o777,
        0o750
    );
}

/// A loop's writes made together (one `mkdir`, one `mv`, one `chmod` per mode) keep every
/// check: in a directory others can write they are made one item at a time, by each item's own
/// script (sent again: a second exec), and a planted symlink is refused as it would be; where
/// only root can write they are made together, with the modes and owners asked for.
#[test]
fn a_loops_writes_made_together_keep_the_checks() {
    if !is_root() {
        eprintln!("skipped: needs root (chown to nobody)");
        return;
    }
    let dir = scratch();
    let d = dir.path();
    symlink(d.join("victimdir"), d.join("box/sub")).unwrap();
    std::fs::hard_link(d.join("victim"), d.join("box/h.conf")).unwrap();
    let tasks = "    - name: into box/sub\n      copy: {content: \"x\\n\", dest: \"@D@/box/sub/{{ item }}\"}\n      loop: [a, b]\n      ignore_errors: true\n\
                 \x20   - name: into box\n      copy: {content: \"{{ item }}\\n\", dest: \"@D@/box/{{ item }}\", mode: \"0600\"}\n      loop: [a, h.conf]\n\
                 \x20   - name: dirs\n      file: {path: \"@D@/mine/d{{ item }}\", state: directory, mode: \"0700\", owner: nobody}\n      loop: [0, 1, 2]\n\
                 \x20   - name: files\n      copy: {content: \"n{{ item }}\\n\", dest: \"@D@/mine/f{{ item }}\", mode: \"{{ '0640' if item == 1 else '0604' }}\", group: \"65534\"}\n      loop: [0, 1, 2]\n\
                 \x20   - name: lines\n      lineinfile: {path: \"@D@/mine/lines\", line: \"l{{ item }}\", create: true, mode: \"0620\"}\n      loop: [0, 1, 2, 3]\n";
    let pb = format!(
        "- hosts: all\n  tasks:\n{}",
        tasks.replace("@D@", &d.display().to_string())
    );
    std::fs::write(d.join("pb.yml"), pb).unwrap();
    let run = support::plumb(d, &["apply", "pb.yml", "-i", "inv.ini", "-v"]);
    let all = format!("{}{}", run.stdout, run.stderr);
    assert_eq!(run.code, 0, "{all}");
    assert!(all.contains("box/sub is a symlink in a directory that nobody (or others) can write; refusing to follow it"), "{all}");
    victim_intact(d);
    // Execs: box/sub and box are tried together, then item by item (box/sub's first item is
    // refused, its second is planned again and refused alone: a failed item does not end the
    // loop); `mine` is root's: one exec a task (the lines: the first item creates the file,
    // the rest go together).
    let runs: Vec<&str> = all
        .lines()
        .filter_map(|l| l.split("| run (").nth(1))
        .map(|l| l.split(' ').next().unwrap())
        .collect();
    assert_eq!(
        runs,
        ["2", "2", "1", "2", "2", "3", "3", "1", "3"],
        "{}",
        run.stderr
    );
    let meta = |p: &str| std::fs::symlink_metadata(d.join(p)).unwrap();
    for (p, mode) in [("box/a", 0o600), ("box/h.conf", 0o600)] {
        assert_eq!(meta(p).mode() & 0o7777, mode, "{p}");
    }
    for i in 0..3 {
        let m = meta(&format!("mine/d{i}"));
        assert!(m.is_dir() && m.mode() & 0o7777 == 0o700 && m.uid() == NOBODY);
        let m = meta(&format!("mine/f{i}"));
        let mode = if i == 1 { 0o640 } else { 0o604 };
        assert_eq!((m.mode() & 0o7777, m.uid(), m.gid()), (mode, 0, NOBODY));
    }
    assert_eq!(std::fs::read_to_string(d.join("mine/f2")).unwrap(), "n2\n");
    assert_eq!(
        std::fs::read_to_string(d.join("mine/lines")).unwrap(),
        "l0\nl1\nl2\nl3\n"
    );
    assert_eq!(meta("mine/lines").mode() & 0o7777, 0o620);
    // Nothing left behind: no temp directory.
    assert_eq!(std::fs::read_dir(d.join("mine")).unwrap().count(), 7);
    let again = apply(d, tasks);
    assert_eq!(
        statuses(&again),
        ["failed", "ok", "ok", "ok", "ok"],
        "{}",
        again.stdout
    );
}
