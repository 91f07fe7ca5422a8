//! Ansible's `meta` actions, templated `environment`, `ignore_errors` and `become` on blocks and
//! includes, and `ignore_unreachable`, run for real on the control machine
//! (`ansible_connection=local`) in a temporary directory.

mod support;

use std::path::Path;
use support::{local_project as project, local_run as run};

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_default()
}

/// Two hosts on the control machine.
const TWO: &str = "a ansible_connection=local\nb ansible_connection=local\n";

#[test]
fn end_host_and_end_play_end_without_failing() {
    let dir = project(&[
        ("local.ini", TWO),
        (
            "site.yml",
            r#"- hosts: all
  gather_facts: false
  tasks:
    - name: before
      shell: echo {{ inventory_hostname }} >> @DIR@/before
    - name: end b
      meta: end_host
      when: inventory_hostname == 'b'
    - name: after
      shell: echo {{ inventory_hostname }} >> @DIR@/after
    - meta: noop
    - meta: refresh_inventory
    - meta: clear_host_errors
    - name: end all
      ansible.builtin.meta: end_play
    - name: never
      shell: echo {{ inventory_hostname }} >> @DIR@/never
- hosts: all
  gather_facts: false
  tasks:
    - name: second play
      shell: echo {{ inventory_hostname }} >> @DIR@/second
"#,
        ),
    ]);
    let r = run(dir.path(), "apply", &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let sorted = |name: &str| {
        let mut l: Vec<String> = read(dir.path(), name).lines().map(String::from).collect();
        l.sort();
        l.join(" ")
    };
    assert_eq!(sorted("before"), "a b");
    assert_eq!(sorted("after"), "a");
    assert_eq!(sorted("never"), "");
    assert_eq!(sorted("second"), "a b");
    assert_eq!(r.host_status("b"), "changed");
    assert!(
        r.task_msg("a", "end all")
            .contains("the play ends here, for every host")
    );

    // The plan says where the play ends, and plans nothing after it.
    let p = run(dir.path(), "plan", &[]);
    assert_eq!(p.code, 0, "{}\n{}", p.stdout, p.stderr);
    assert!(p.task_msg("b", "end b").contains("ends here for this host"));
    assert!(
        p.statuses("a").iter().all(|(n, _)| n != "never"),
        "{}",
        p.stdout
    );
    assert!(
        p.statuses("b").iter().all(|(n, _)| n != "after"),
        "{}",
        p.stdout
    );
}

#[test]
fn end_play_stops_the_later_batches_and_a_plan_says_when_it_cannot_know() {
    let dir = project(&[
        ("local.ini", TWO),
        (
            "site.yml",
            r#"- hosts: all
  gather_facts: false
  serial: 1
  tasks:
    - name: look
      command: echo yes
      register: out
      changed_when: false
    - name: end
      meta: end_play
      when: out.stdout == 'yes'
    - name: never
      shell: echo {{ inventory_hostname }} >> @DIR@/never
"#,
        ),
    ]);
    let r = run(dir.path(), "apply", &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(read(dir.path(), "never"), "");
    assert_eq!(r.host_status("b"), "ok");
    assert!(r.host_msg("b").contains("the play ended"), "{}", r.stdout);
    // `out` is only known when applied: the plan says the play may end there.
    let p = run(dir.path(), "plan", &[]);
    assert_eq!(p.code, 0, "{}\n{}", p.stdout, p.stderr);
    assert!(
        p.task_msg("a", "end")
            .contains("may end the play here (meta: end_play)"),
        "{}",
        p.stdout
    );
}

#[test]
fn clear_facts_forgets_the_gathered_facts() {
    let dir = project(&[(
        "site.yml",
        r#"- hosts: all
  tasks:
    - shell: echo "{{ ansible_facts.system | default('gone') }}" >> @DIR@/out
    - meta: clear_facts
    - shell: echo "{{ ansible_facts.system | default('gone') }}" >> @DIR@/out
"#,
    )]);
    let r = run(dir.path(), "apply", &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(read(dir.path(), "out"), "Linux\ngone\n");
}

#[test]
fn reset_connection_connects_again_and_a_local_reboot_is_refused() {
    let dir = project(&[
        (
            "site.yml",
            r#"- hosts: all
  tasks:
    - shell: echo one >> @DIR@/out
    - name: reset
      meta: reset_connection
    - shell: echo "two {{ ansible_facts.system }}" >> @DIR@/out
"#,
        ),
        (
            "reboot.yml",
            "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: reboot\n      reboot: {msg: never}\n",
        ),
    ]);
    let r = run(dir.path(), "apply", &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    // The facts gathered before the reset stay.
    assert_eq!(read(dir.path(), "out"), "one\ntwo Linux\n");
    assert_eq!(r.task_msg("here", "reset"), "connection reset");
    let p = run(dir.path(), "plan", &[]);
    assert_eq!(
        p.task_msg("here", "reset"),
        "the connection is reset here when applied"
    );
    // Only ever planned here: the refusal comes before anything could run, also in a plan.
    let p = support::plumb(
        dir.path(),
        &["plan", "reboot.yml", "-i", "local.ini", "--output", "json"],
    );
    assert_eq!(p.code, 2, "{}\n{}", p.stdout, p.stderr);
    assert_eq!(
        p.task_msg("here", "reboot"),
        "refusing to reboot over a local connection: it would restart the control machine"
    );
}

#[test]
fn environment_from_a_variable_merges_play_block_and_task_innermost_winning() {
    let dir = project(&[(
        "site.yml",
        r#"- hosts: all
  gather_facts: false
  vars:
    base_env: {A: play, B: play, C: play}
    app_env:
      B: "block {{ who }}"
    who: "{{ inventory_hostname }}"
  environment: "{{ base_env }}"
  tasks:
    - block:
        - name: env
          shell: echo "$A $B $C $D" > @DIR@/out
          environment:
            - C: task
            - "{{ {'D': 'from a list'} }}"
      environment: "{{ app_env }}"
"#,
    )]);
    let r = run(dir.path(), "apply", &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(
        read(dir.path(), "out"),
        "play block here task from a list\n"
    );
    // What renders to no mapping is an error at its place, before any host.
    std::fs::write(
        dir.path().join("site.yml"),
        "- hosts: all\n  vars: {who: x}\n  tasks:\n    - shell: \"true\"\n      environment: \"{{ who }}\"\n",
    )
    .unwrap();
    let r = run(dir.path(), "apply", &[]);
    assert_ne!(r.code, 0);
    assert!(
        r.stderr
            .contains("`environment` must be a mapping, but this renders to a string"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("site.yml:5:21"), "{}", r.stderr);
}

#[test]
fn templated_ignore_errors_and_become_on_blocks_and_includes() {
    // (On `include_tasks` through `apply`: written on the include, it is the include's own.)
    // The tests run as root: becoming `nobody` through su needs no password.
    let dir = project(&[
        (
            "site.yml",
            r#"- hosts: all
  gather_facts: false
  vars:
    lenient: true
    strict: false
    as_other: false
  tasks:
    - block:
        - name: fails, ignored by the block's template
          command: /bin/false
      ignore_errors: "{{ lenient }}"
    - import_tasks: tasks.yml
      ignore_errors: "{{ lenient and not strict }}"
    - include_tasks:
        file: tasks.yml
        apply: {ignore_errors: "{{ lenient }}"}
    - block:
        - name: who
          command: id -un
          register: who
          changed_when: false
        - name: who else
          command: id -un
          register: other
          changed_when: false
          become: "{{ not as_other }}"
      become: "{{ as_other }}"
      become_method: su
      become_user: nobody
    - name: record
      copy: {content: "{{ who.stdout }} {{ other.stdout }}", dest: "@DIR@/who"}
    - block:
        - name: not ignored
          command: /bin/false
      ignore_errors: "{{ strict }}"
    - name: never
      copy: {content: "x", dest: "@DIR@/never"}
"#,
        ),
        (
            "tasks.yml",
            "- name: fails in a task file\n  command: /bin/false\n",
        ),
    ]);
    let r = run(dir.path(), "apply", &[]);
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    let me = std::process::Command::new("id")
        .arg("-un")
        .output()
        .unwrap();
    let me = String::from_utf8(me.stdout).unwrap();
    assert_eq!(read(dir.path(), "who"), format!("{} nobody", me.trim()));
    assert_eq!(read(dir.path(), "never"), "");
    let failed = r.with_status("here", "failed");
    assert_eq!(failed.len(), 4, "{failed:?}");
    assert_eq!(r.host_status("here"), "failed");
}

/// On a dynamic include (`include_tasks`, `include_role`) task keywords are the include's own,
/// as in Ansible: its `tags` select the include (the tasks it brings in are selected by theirs),
/// and `ignore_errors`, `become` and the like do not reach those tasks; `apply` gives them.
/// An import's keywords go to every task it brings in.
#[test]
fn a_dynamic_includes_keywords_are_its_own() {
    let dir = project(&[
        (
            "site.yml",
            r#"- hosts: all
  gather_facts: false
  tasks:
    - include_tasks: inner.yml
      tags: [web]
    - import_tasks: imported.yml
      tags: [db]
    - include_role: {name: r}
      tags: [web]
      no_log: true
    - include_tasks:
        file: applied.yml
        apply: {tags: [web]}
      tags: [web]
    - include_tasks: hidden.yml
    - include_tasks: always.yml
      tags: [always]
    - include_tasks: failing.yml
      ignore_errors: true
    - name: after
      debug: {msg: after}
"#,
        ),
        (
            "inner.yml",
            "- name: inner untagged\n  debug: {msg: a}\n- name: inner web\n  debug: {msg: b}\n  tags: [web]\n",
        ),
        ("imported.yml", "- name: imported\n  debug: {msg: c}\n"),
        ("applied.yml", "- name: applied\n  debug: {msg: d}\n"),
        (
            "roles/r/tasks/main.yml",
            "- name: in role\n  debug: {msg: shown}\n",
        ),
        ("failing.yml", "- name: fails\n  command: /bin/false\n"),
        // Tagged inside an untagged include: `--tags web` does not take the include.
        (
            "hidden.yml",
            "- name: hidden\n  debug: {msg: e}\n  tags: [web]\n",
        ),
        (
            "always.yml",
            "- name: under always\n  debug: {msg: f}\n  tags: [web]\n- name: untagged under always\n  debug: {msg: g}\n",
        ),
    ]);
    let names = |r: &support::Run| -> Vec<String> {
        r.statuses("here").into_iter().map(|(n, _)| n).collect()
    };
    let web = run(dir.path(), "apply", &["--tags", "web"]);
    assert_eq!(
        names(&web),
        ["inner web", "applied", "under always"],
        "{}",
        web.stdout
    );
    let db = run(dir.path(), "apply", &["--tags", "db"]);
    assert_eq!(names(&db), ["imported"], "{}", db.stdout);
    let skip = run(dir.path(), "apply", &["--skip-tags", "web"]);
    assert_eq!(names(&skip)[..1], ["imported"], "{}", skip.stdout);
    // Untagged: everything runs; `no_log` stayed on the include, and the failure in the
    // included file is not ignored.
    let all = run(dir.path(), "apply", &[]);
    assert_eq!(all.code, 2, "{}\n{}", all.stdout, all.stderr);
    assert_eq!(all.task_msg("here", "in role"), "shown");
    assert_eq!(all.task("here", "fails")["status"], "failed");
    assert!(
        !names(&all).contains(&"after".to_string()),
        "{}",
        all.stdout
    );
}

/// A host on the control machine, and one nothing answers for (a closed port on loopback).
const ONE_GONE: &str = "a ansible_connection=local\ngone ansible_host=127.0.0.1 ansible_port=1\n";

#[test]
fn ignore_unreachable_reports_the_host_and_goes_on() {
    let dir = project(&[
        ("local.ini", ONE_GONE),
        (
            "site.yml",
            r#"- hosts: all
  gather_facts: false
  tasks:
    - name: reach
      command: "true"
      ignore_unreachable: true
      register: r
    - name: say
      debug: {msg: "unreachable={{ r.unreachable | default(false) }}"}
    - name: skipped, so not unreachable
      command: "true"
      when: r.unreachable is not defined
    - block:
        - name: again
          command: "true"
      ignore_unreachable: true
    - name: must reach
      command: "true"
    - name: after
      command: "true"
- hosts: all
  ignore_unreachable: true
  tasks:
    - name: next play
      command: "true"
"#,
        ),
    ]);
    let r = run(dir.path(), "apply", &[]);
    assert_ne!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.task_msg("gone", "reach")
            .starts_with("unreachable, ignored (ignore_unreachable): "),
        "{}",
        r.stdout
    );
    assert_eq!(r.task_msg("gone", "say"), "unreachable=True");
    assert!(
        r.task_msg("gone", "again")
            .starts_with("unreachable, ignored")
    );
    let skipped = r.with_status("gone", "skipped");
    assert_eq!(skipped, ["skipped, so not unreachable"], "{}", r.stdout);
    let names: Vec<String> = r.statuses("gone").into_iter().map(|(n, _)| n).collect();
    assert!(!names.contains(&"after".to_string()), "{names:?}");
    assert_eq!(r.host_status("gone"), "unreachable");
    assert_eq!(r.host_status("a"), "changed");
    // An unreachable host does not run the next play, as in Ansible.
    assert!(!names.contains(&"next play".to_string()), "{names:?}");
}

#[test]
fn a_play_that_ignores_unreachable_runs_on_without_facts() {
    let dir = project(&[
        ("local.ini", ONE_GONE),
        (
            "site.yml",
            r#"- hosts: all
  ignore_unreachable: true
  tasks:
    - name: reach
      command: "true"
    - name: facts
      debug: {msg: "{{ ansible_facts.system | default('none') }}"}
"#,
        ),
    ]);
    let r = run(dir.path(), "apply", &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.host_status("gone"), "ok");
    assert!(
        r.task_msg("gone", "reach")
            .starts_with("unreachable, ignored")
    );
    assert_eq!(r.task_msg("gone", "facts"), "none");
    assert_eq!(r.task_msg("a", "facts"), "Linux");
}

#[test]
fn delegate_to_runs_on_the_delegates_connection_with_the_hosts_variables() {
    let dir = project(&[
        (
            "local.ini",
            "gone ansible_host=127.0.0.1 ansible_port=1\nd ansible_connection=local\n",
        ),
        (
            "site.yml",
            r#"- hosts: gone
  gather_facts: false
  vars: {who: "gone's variable"}
  tasks:
    - name: reach
      command: "true"
      ignore_unreachable: true
    - name: tell d
      set_fact: {told: yes}
      delegate_to: "{{ 'd' }}"
      delegate_facts: true
    - name: gather d
      setup:
      delegate_to: d
      delegate_facts: true
    - name: on d
      shell: echo "{{ who }} for {{ inventory_hostname }}" > @DIR@/out
      args: {creates: "@DIR@/out"}
      delegate_to: d
    - name: seen
      debug:
        msg: "{{ hostvars['d'].told }} {{ hostvars['d'].ansible_facts.system }} {{ told | default('not mine') }}"
"#,
        ),
    ]);
    let p = run(dir.path(), "plan", &[]);
    assert_eq!(p.code, 0, "{}\n{}", p.stdout, p.stderr);
    let status = |r: &support::Run, task: &str| {
        let s = r.statuses("gone");
        s.iter().find(|(n, _)| n == task).unwrap().1.clone()
    };
    assert_eq!(status(&p, "on d"), "may-change", "{}", p.stdout);
    // The one task that needs `gone` itself says it is unreachable, in the plan too.
    assert!(
        p.task_msg("gone", "reach")
            .starts_with("unreachable, ignored")
    );
    let r = run(dir.path(), "apply", &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(read(dir.path(), "out"), "gone's variable for gone\n");
    assert_eq!(r.task_msg("gone", "seen"), "True Linux not mine");
    // Probed on d: nothing left to do.
    let p = run(dir.path(), "plan", &[]);
    assert_eq!(status(&p, "on d"), "ok", "{}", p.stdout);
    // A name that is no host is an error at its place, before the run.
    std::fs::write(
        dir.path().join("site.yml"),
        "- hosts: gone\n  tasks:\n    - command: \"true\"\n      delegate_to: nothere\n",
    )
    .unwrap();
    let r = run(dir.path(), "apply", &[]);
    assert_ne!(r.code, 0);
    assert!(
        r.stderr
            .contains("`delegate_to: nothere`: no host of that name in the inventory"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("site.yml:4:20"), "{}", r.stderr);
}

#[test]
fn end_batch_ends_each_serial_batch_and_the_next_one_runs() {
    let dir = project(&[
        ("local.ini", TWO),
        (
            "site.yml",
            r#"- hosts: all
  gather_facts: false
  serial: 1
  tasks:
    - name: before
      shell: echo {{ inventory_hostname }} >> @DIR@/before
    - name: end
      meta: end_batch
    - name: never
      shell: echo {{ inventory_hostname }} >> @DIR@/never
"#,
        ),
    ]);
    let r = run(dir.path(), "apply", &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(read(dir.path(), "before"), "a\nb\n");
    assert_eq!(read(dir.path(), "never"), "");
    assert!(r.task_msg("b", "end").contains("the batch ends here"));
}
