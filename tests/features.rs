//! Playbook features that need no remote host, run for real on the control machine
//! (`ansible_connection=local`) in a temporary directory: vars_files, task files, tags.

mod support;

use std::path::Path;
use support::{Run, plumb};

/// Writes `files` (name, text) into a fresh directory with a local inventory.
fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("local.ini"),
        "here ansible_connection=local\n",
    )
    .unwrap();
    for (name, text) in files {
        let p = dir.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text.replace("@DIR@", &dir.path().display().to_string())).unwrap();
    }
    dir
}

fn run(dir: &Path, cmd: &str, extra: &[&str]) -> Run {
    let mut args = vec![cmd, "site.yml", "-i", "local.ini", "--output", "json"];
    args.extend_from_slice(extra);
    plumb(dir, &args)
}

#[test]
fn vars_files_override_play_vars_in_order() {
    let dir = project(&[
        (
            "site.yml",
            "- hosts: all\n  vars: {colour: red, size: small}\n  vars_files:\n    - vars/common.yml\n    - vars/prod.yml\n  tasks:\n    - name: say\n      debug: {msg: \"{{ colour }} {{ size }} {{ port }}\"}\n",
        ),
        ("vars/common.yml", "colour: green\nport: 80\n"),
        ("vars/prod.yml", "port: 8080\n"),
    ]);
    let r = run(dir.path(), "apply", &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.task_msg("here", "say"), "green small 8080");
}
