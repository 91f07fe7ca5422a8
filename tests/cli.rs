//! The command-line surface: help, completions, man page, colour, -v, the config file, exit
//! codes. Runs on the control machine only (ansible_connection=local).

use std::path::Path;
use std::process::Command;

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn plumb(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Out {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_plumb"));
    cmd.current_dir(dir)
        .args(args)
        .env_remove("NO_COLOR")
        .env_remove("PLUMB_CONFIG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A scratch project: a local inventory and a playbook writing under the temp dir.
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::write(p.join("local.ini"), "here ansible_connection=local\n").unwrap();
    std::fs::write(p.join("other.ini"), "elsewhere ansible_connection=local\n").unwrap();
    std::fs::write(
        p.join("site.yml"),
        format!(
            "- hosts: all\n  tasks:\n    - name: write a file\n      copy:\n        content: hello\n        dest: {}/out.txt\n    - name: say\n      command: echo said-it\n      changed_when: false\n",
            p.display()
        ),
    )
    .unwrap();
    dir
}

#[test]
fn every_subcommand_has_help() {
    let dir = tempfile::tempdir().unwrap();
    let top = plumb(dir.path(), &["--help"], &[]);
    assert_eq!(top.code, 0);
    for sub in [
        "apply",
        "plan",
        "validate",
        "inventory",
        "completions",
        "man",
    ] {
        assert!(top.stdout.contains(sub), "{sub} missing from --help");
        let h = plumb(dir.path(), &[sub, "--help"], &[]);
        assert_eq!(h.code, 0, "{sub} --help");
        assert!(h.stdout.contains("Usage: plumb"), "{sub}: {}", h.stdout);
    }
    let apply = plumb(dir.path(), &["apply", "--help"], &[]);
    for flag in [
        "--inventory",
        "--limit",
        "--extra-vars",
        "--output",
        "--host-key-checking",
        "--known-hosts",
        "--color",
        "--forks",
        "--serial",
        "--timeout",
    ] {
        assert!(
            apply.stdout.contains(flag),
            "{flag} missing from apply --help"
        );
    }
}

#[test]
fn version_names_the_revision() {
    let dir = tempfile::tempdir().unwrap();
    let v = plumb(dir.path(), &["--version"], &[]);
    assert_eq!(v.code, 0);
    assert!(
        v.stdout
            .starts_with(&format!("plumb {} (", env!("CARGO_PKG_VERSION"))),
        "{}",
        v.stdout
    );
}

#[test]
fn completions_and_man_page_generate() {
    let dir = tempfile::tempdir().unwrap();
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef plumb"),
        ("fish", "complete -c plumb"),
    ] {
        let out = plumb(dir.path(), &["completions", shell], &[]);
        assert_eq!(out.code, 0, "{shell}");
        assert!(
            out.stdout.contains(marker),
            "{shell}: {}",
            &out.stdout[..200.min(out.stdout.len())]
        );
        assert!(out.stdout.contains("host-key-checking"), "{shell}");
    }
    let man = plumb(dir.path(), &["man"], &[]);
    assert_eq!(man.code, 0);
    assert!(
        man.stdout.starts_with(".ie") || man.stdout.contains(".TH plumb"),
        "{}",
        man.stdout
    );
}

#[test]
fn usage_errors_exit_5() {
    let dir = project();
    let out = plumb(dir.path(), &["apply", "site.yml"], &[]);
    assert_eq!(out.code, 5);
    assert!(
        out.stderr.contains("no inventory: pass -i INVENTORY"),
        "{}",
        out.stderr
    );
    let out = plumb(
        dir.path(),
        &["apply", "site.yml", "-i", "local.ini", "--forks", "many"],
        &[],
    );
    assert_eq!(out.code, 5);
}

#[test]
fn colour_follows_flag_and_no_color() {
    let dir = project();
    let always = plumb(
        dir.path(),
        &["apply", "site.yml", "-i", "local.ini", "--color", "always"],
        &[],
    );
    assert_eq!(always.code, 0, "{}", always.stderr);
    assert!(
        always.stdout.contains("\x1b["),
        "--color always: {}",
        always.stdout
    );
    for (args, env) in [
        (vec!["--color", "never"], vec![]),
        (vec![], vec![("NO_COLOR", "1")]),
    ] {
        let mut a = vec!["apply", "site.yml", "-i", "local.ini"];
        a.extend(args);
        let out = plumb(dir.path(), &a, &env);
        assert_eq!(out.code, 0);
        assert!(
            !out.stdout.contains('\x1b'),
            "escape codes in: {}",
            out.stdout
        );
    }
}

#[test]
fn colour_on_a_terminal_unless_no_color() {
    // `script` gives plumb a pseudo-terminal, so "auto" means colour unless NO_COLOR is set.
    if Command::new("script").arg("--version").output().is_err() {
        panic!("util-linux `script` is needed for this test");
    }
    let dir = project();
    let bin = env!("CARGO_BIN_EXE_plumb");
    let run = |no_color: bool| {
        let mut cmd = Command::new("script");
        cmd.current_dir(dir.path())
            .args([
                "-qec",
                &format!("{bin} apply site.yml -i local.ini"),
                "/dev/null",
            ])
            .env_remove("NO_COLOR");
        if no_color {
            cmd.env("NO_COLOR", "1");
        }
        String::from_utf8_lossy(&cmd.output().unwrap().stdout).into_owned()
    };
    assert!(run(false).contains("\x1b["), "a terminal gets colour");
    let plain = run(true);
    assert!(!plain.contains('\x1b'), "NO_COLOR on a terminal: {plain:?}");
    assert!(plain.contains("RECAP"));
}

#[test]
fn verbose_shows_probes_and_commands() {
    let dir = project();
    let v = plumb(
        dir.path(),
        &["apply", "site.yml", "-i", "local.ini", "-v"],
        &[],
    );
    assert_eq!(v.code, 0, "{}", v.stderr);
    assert!(
        v.stdout.contains("| probe: 1 tasks in one round trip"),
        "{}",
        v.stdout
    );
    assert!(v.stdout.contains("| run:"), "{}", v.stdout);
    assert!(v.stdout.contains("| ( echo said-it"), "{}", v.stdout);
    assert!(
        v.stdout.contains("[1 lines of base64 content]"),
        "{}",
        v.stdout
    );
    let vv = plumb(
        dir.path(),
        &["apply", "site.yml", "-i", "local.ini", "-vv"],
        &[],
    );
    assert!(vv.stdout.contains("| script:"), "{}", vv.stdout);
    assert!(
        vv.stdout.contains("| said-it"),
        "raw output at -vv: {}",
        vv.stdout
    );
    let quiet = plumb(dir.path(), &["apply", "site.yml", "-i", "local.ini"], &[]);
    assert!(!quiet.stdout.contains("| run:"));
}

#[test]
fn config_file_defaults_and_flag_overrides() {
    let dir = project();
    std::fs::write(
        dir.path().join("plumb.toml"),
        "[defaults]\ninventory = \"local.ini\"\nforks = 3\n",
    )
    .unwrap();
    let out = plumb(dir.path(), &["apply", "site.yml", "--output", "json"], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("\"host\": \"here\""), "{}", out.stdout);
    let out = plumb(
        dir.path(),
        &["apply", "site.yml", "-i", "other.ini", "--output", "json"],
        &[],
    );
    assert!(
        out.stdout.contains("\"host\": \"elsewhere\""),
        "{}",
        out.stdout
    );
    // --config and PLUMB_CONFIG pick another file; mistakes in it are located.
    std::fs::write(dir.path().join("bad.toml"), "[defaults]\nforcs = 3\n").unwrap();
    let out = plumb(
        dir.path(),
        &["apply", "site.yml", "--config", "bad.toml"],
        &[],
    );
    assert_eq!(out.code, 4);
    assert!(out.stderr.contains("bad.toml:2:1"), "{}", out.stderr);
    assert!(out.stderr.contains("forcs"), "{}", out.stderr);
    let out = plumb(
        dir.path(),
        &["inventory"],
        &[("PLUMB_CONFIG", "plumb.toml")],
    );
    assert!(out.stdout.contains("\"here\""), "{}", out.stdout);
}
