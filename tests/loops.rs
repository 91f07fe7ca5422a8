//! A loop's items applied together (issue 18), run for real on the control machine
//! (`ansible_connection=local`): the items' scripts go in as few execs as their order allows,
//! and each item keeps its own result, in order (an item that fails does not end the loop).

mod support;

use std::path::Path;
use support::{Run, plumb};

fn project(site: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("local.ini"),
        "here ansible_connection=local\n",
    )
    .unwrap();
    let d = dir.path().display().to_string();
    std::fs::write(dir.path().join("site.yml"), site.replace("@DIR@", &d)).unwrap();
    dir
}

fn run(dir: &Path, extra: &[&str]) -> Run {
    let mut args = vec!["apply", "site.yml", "-i", "local.ini"];
    args.extend_from_slice(extra);
    plumb(dir, &args)
}

const SITE: &str = "- hosts: all
  vars: {n: 30}
  tasks:
    - name: dirs
      file: {path: \"@DIR@/out/d{{ item }}\", state: directory}
      loop: \"{{ range(n | int) | list }}\"
    - name: lines
      lineinfile: {path: \"@DIR@/out/lines.conf\", line: \"key_{{ item }}_ = {{ item }}\", create: true}
      loop: \"{{ range(n | int) | list }}\"
    - name: files
      copy: {content: \"item {{ item }}\\n\", dest: \"@DIR@/out/f{{ item }}.txt\"}
      loop: \"{{ range(n | int) | list }}\"
      register: made
    - name: results
      debug: {msg: \"{{ made.results | length }} {{ made.results[7].item }} {{ made.results | selectattr('changed') | list | length }} {{ made.changed }}\"}
";

#[test]
fn a_loops_items_go_in_one_exec_each_with_its_result() {
    let dir = project(SITE);
    let out = dir.path().join("out");
    let r = run(dir.path(), &["-v"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let all = format!("{}{}", r.stdout, r.stderr);
    // dirs and files: one exec each. lines: the first creates the file (its mode is the
    // host's to say), then the other 29 plan on what each leaves and go in one exec.
    let runs: Vec<&str> = all
        .lines()
        .filter_map(|l| l.split("| run (").nth(1))
        .collect();
    assert_eq!(
        runs,
        [
            "30 items in one round trip):",
            "1 item in one round trip):",
            "29 items in one round trip):",
            "30 items in one round trip):"
        ],
        "{all}"
    );
    for i in 0..30 {
        assert!(out.join(format!("d{i}")).is_dir());
        let f = std::fs::read_to_string(out.join(format!("f{i}.txt"))).unwrap();
        assert_eq!(f, format!("item {i}\n"));
    }
    let lines = std::fs::read_to_string(out.join("lines.conf")).unwrap();
    let want: String = (0..30).map(|i| format!("key_{i}_ = {i}\n")).collect();
    assert_eq!(lines, want);

    let again = plumb(
        dir.path(),
        &["apply", "site.yml", "-i", "local.ini", "--output", "json"],
    );
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
    let statuses: Vec<String> = again.statuses("here").into_iter().map(|(_, s)| s).collect();
    assert_eq!(statuses, ["ok", "ok", "ok", "ok"]);
    assert_eq!(again.task_msg("here", "results"), "30 7 0 False");

    // One line gone, one file changed: only those items change, and say so.
    std::fs::write(out.join("lines.conf"), want.replace("key_4_ = 4\n", "")).unwrap();
    std::fs::write(out.join("f9.txt"), "edited\n").unwrap();
    let fix = plumb(
        dir.path(),
        &["apply", "site.yml", "-i", "local.ini", "--output", "json"],
    );
    assert_eq!(fix.code, 0, "{}\n{}", fix.stdout, fix.stderr);
    assert_eq!(fix.task_msg("here", "results"), "30 7 1 True");
    let lines = std::fs::read_to_string(out.join("lines.conf")).unwrap();
    assert!(lines.ends_with("key_29_ = 29\nkey_4_ = 4\n"), "{lines}");
    assert_eq!(
        std::fs::read_to_string(out.join("f9.txt")).unwrap(),
        "item 9\n"
    );
}

/// An item that fails does not end the loop, as in Ansible: the items after it run too (those
/// that were to go with it in one exec are planned again), the registered results hold every
/// item's, and the task's line names each failed item.
#[test]
fn a_failing_item_does_not_end_the_loop() {
    let dir = project(
        "- hosts: all
  tasks:
    - name: files
      copy: {content: \"x\\n\", dest: \"@DIR@/{{ item }}\"}
      loop: [a, b, missing/c, d, missing/e, f]
      loop_control: {label: \"file {{ item }}\"}
      register: made
      ignore_errors: true
    - name: plain
      command: \"test {{ item }} = 1\"
      loop: [1, 2]
      ignore_errors: true
    - name: results
      debug: {msg: \"{{ made.results | length }} {{ made.results | map(attribute='failed') | list }}\"}
",
    );
    let r = plumb(
        dir.path(),
        &["apply", "site.yml", "-i", "local.ini", "--output", "json"],
    );
    for f in ["a", "b", "d", "f"] {
        assert!(dir.path().join(f).exists(), "{f}\n{}", r.stdout);
    }
    assert_eq!(
        r.task_msg("here", "results"),
        "6 [False, False, True, False, True, False]",
        "{}\n{}",
        r.stdout,
        r.stderr
    );
    assert_eq!(r.task("here", "files")["status"], "failed", "{}", r.stdout);
    // Each failed item is named: by its `loop_control.label`, else by itself.
    let msg = r.task_msg("here", "files");
    assert!(
        msg.contains("(item=file missing/c) ") && msg.contains("(item=file missing/e) "),
        "{msg}"
    );
    assert!(!msg.contains("(item=file d)"), "{msg}");
    let plain = r.task_msg("here", "plain");
    assert!(plain.starts_with("(item=2) non-zero exit 1"), "{plain}");
    // Once the directory is there, the same loop succeeds, and a second run changes nothing.
    std::fs::create_dir(dir.path().join("missing")).unwrap();
    let r = plumb(dir.path(), &["apply", "site.yml", "-i", "local.ini"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(dir.path().join("missing/e").exists(), "{}", r.stdout);
    let again = plumb(dir.path(), &["apply", "site.yml", "-i", "local.ini"]);
    assert!(!again.stdout.contains("here  changed"), "{}", again.stdout);
}

/// A loop's items are built once for the batched probe and kept for the run only where the run
/// would build the same: a variable the items read that changed in between (a `set_fact` of a
/// result only the run knows) has them built again; the facts gathered and a registered result
/// they do not read change nothing they write.
#[test]
fn items_built_for_the_probe_are_built_again_where_what_they_read_changed() {
    let dir = project(
        "- hosts: all
  vars: {sub: a}
  tasks:
    - name: where
      command: echo b
      register: r
      changed_when: false
    - name: moved
      set_fact: {sub: \"{{ r.stdout }}\"}
    - name: dirs
      file: {path: \"@DIR@/out/{{ sub }}/d{{ item }}\", state: directory}
      loop: [1, 2]
    - name: others
      file: {path: \"@DIR@/out/c{{ item }}\", state: directory}
      loop: [1, 2]
",
    );
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let r = run(dir.path(), &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    for d in ["b/d1", "b/d2", "c1", "c2"] {
        assert!(out.join(d).is_dir(), "{d}\n{}", r.stdout);
    }
    assert!(!out.join("a").exists(), "{}", r.stdout);
    // The plan says what the run does, and the run then changes nothing.
    let plan = plumb(dir.path(), &["plan", "site.yml", "-i", "local.ini"]);
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
    assert!(!out.join("a").exists());
    let again = run(dir.path(), &[]);
    assert_eq!(again.code, 0);
    let changed = (again.stdout.lines()).filter(|l| l.starts_with("here  changed"));
    assert_eq!(changed.count(), 0, "{}", again.stdout);
    assert!(
        again.stdout.contains("here  ok          dirs"),
        "{}",
        again.stdout
    );
}

/// A loop over no items is skipped, as in Ansible: `register` says so, with its reason.
#[test]
fn a_loop_over_no_items_is_skipped() {
    let dir = project(
        "- hosts: all
  vars: {empty: []}
  tasks:
    - name: nothing
      file: {path: \"@DIR@/{{ item }}\", state: directory}
      loop: \"{{ empty }}\"
      register: r
    - name: said
      debug: {msg: \"{{ r is skipped }} {{ r.results | length }} {{ r.skipped_reason }}\"}
",
    );
    for cmd in ["plan", "apply"] {
        let r = plumb(
            dir.path(),
            &[cmd, "site.yml", "-i", "local.ini", "--output", "json"],
        );
        assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
        assert_eq!(r.task("here", "nothing")["status"], "skipped", "{cmd}");
        assert_eq!(
            r.task_msg("here", "said"),
            "True 0 No items in the list",
            "{cmd}"
        );
    }
}
