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

#[test]
fn task_files_are_spliced_in_with_their_when_and_vars() {
    let dir = project(&[
        (
            "site.yml",
            "- hosts: all\n  vars: {who: play}\n  tasks:\n    - name: first\n      debug: {msg: start}\n    - import_tasks: tasks/greet.yml\n      vars: {who: import}\n    - name: not wanted\n      include_tasks:\n        file: tasks/greet.yml\n      when: false\n    - name: last\n      debug: {msg: end}\n",
        ),
        (
            "tasks/greet.yml",
            "- name: greet\n  debug: {msg: \"hello {{ who }}\"}\n- import_tasks: inner.yml\n",
        ),
        (
            "tasks/inner.yml",
            "- name: inner\n  copy: {content: \"{{ who }}\", dest: \"@DIR@/inner.txt\"}\n",
        ),
    ]);
    let r = run(dir.path(), "apply", &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let names: Vec<(String, String)> = r.statuses("here");
    assert_eq!(
        names,
        [
            ("first", "ok"),
            ("greet", "ok"),
            ("inner", "changed"),
            ("greet", "skipped"),
            ("inner", "skipped"),
            ("last", "ok"),
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    assert_eq!(r.task_msg("here", "greet"), "hello import");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("inner.txt")).unwrap(),
        "import"
    );
}
