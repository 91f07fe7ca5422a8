//! Looped `include_tasks` and `include_role` (`loop`, `with_items`, `loop_control`) and
//! `include_role`'s `apply`, run for real on the control machine (`ansible_connection=local`)
//! in the idioms public roles use.

mod support;

use std::path::Path;
use support::{local_project as project, local_run as run};

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

const USERS: &str = r#"- hosts: all
  gather_facts: false
  vars:
    out: "@DIR@/out"
    app_users:
      - {name: alice, keys: [k1, k2]}
      - {name: bob, keys: [k3]}
      - {name: carol, keys: [], skip: true}
  tasks:
    - file: {path: "{{ out }}", state: directory}
    - set_fact:
        greeting: hello
    - name: Create users
      ansible.builtin.include_tasks: user.yml
      loop: "{{ app_users }}"
      loop_control:
        loop_var: app_user
        index_var: n
        extended: true
      when: not (app_user.skip | default(false))
    - name: after
      shell: echo after >> {{ out }}/log
  handlers:
    - name: users changed
      shell: echo handler >> {{ out }}/log
"#;

const USER_YML: &str = r#"- name: home of {{ app_user.name }}
  copy:
    dest: "{{ out }}/{{ app_user.name }}.txt"
    content: "{{ greeting }} {{ app_user.name }} #{{ n }} of {{ ansible_loop.length }}\n"
  notify: users changed
- name: keys
  include_tasks: key.yml
  loop: "{{ app_user.keys }}"
  loop_control: {loop_var: key}
- name: log
  shell: echo "{{ app_user.name }}" >> {{ out }}/log
  when: ansible_loop.first or app_user.name == 'bob'
"#;

const KEY_YML: &str = r#"- copy:
    dest: "{{ out }}/{{ app_user.name }}-{{ key }}.key"
    content: "key={{ key }}\n"
"#;

#[test]
fn a_looped_include_tasks_runs_its_file_once_per_item() {
    let dir = project(&[
        ("site.yml", USERS),
        ("user.yml", USER_YML),
        ("key.yml", KEY_YML),
    ]);
    let r = run(dir.path(), "apply", &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    // The item, index_var, extended ansible_loop and an earlier set_fact, seen by every task.
    assert_eq!(read(dir.path(), "out/alice.txt"), "hello alice #0 of 3\n");
    assert_eq!(read(dir.path(), "out/bob.txt"), "hello bob #1 of 3\n");
    // The include's `when` is judged per item: carol's tasks never ran.
    assert!(!dir.path().join("out/carol.txt").exists());
    // A nested looped include sees both loops' variables.
    for (f, k) in [("alice-k1", "k1"), ("alice-k2", "k2"), ("bob-k3", "k3")] {
        assert_eq!(
            read(dir.path(), &format!("out/{f}.key")),
            format!("key={k}\n")
        );
    }
    // Each item's `when` on its own tasks, then what follows, then the handler notified from
    // inside the items, once.
    assert_eq!(read(dir.path(), "out/log"), "alice\nbob\nafter\nhandler\n");
    let header = r.statuses("here");
    assert!(
        header.contains(&("Create users".into(), "ok".into())),
        "{header:?}"
    );
    assert!(
        header.contains(&("handler: users changed".into(), "changed".into())),
        "{header:?}"
    );

    // Nothing to do the second time (but the shell tasks).
    let again = run(dir.path(), "apply", &[]);
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
    let changed = again.with_status("here", "changed");
    assert!(
        changed.iter().all(|n| n == "log" || n == "after"),
        "{changed:?}"
    );

    // A plan after a change in the items shows the new item's tasks, planned from probes.
    let plan = run(
        dir.path(),
        "plan",
        &[
            "-e",
            r#"{"app_users": [{"name": "alice", "keys": ["k1"]}, {"name": "dave", "keys": ["k9"]}]}"#,
        ],
    );
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
    let st: Vec<String> = plan.statuses("here").into_iter().map(|(_, s)| s).collect();
    // alice's file says "#0 of 2" now, her k1 is as it was; dave's are new (his `log` is
    // skipped: neither first nor bob); the handler is notified.
    assert_eq!(
        st,
        [
            "ok",
            "ok",
            "ok",
            "changed",
            "ok",
            "ok",
            "may-change",
            "changed",
            "ok",
            "changed",
            "skipped",
            "may-change",
            "changed"
        ],
        "{}",
        plan.stdout
    );
    assert!(!dir.path().join("out/dave.txt").exists());
}

#[test]
fn a_looped_include_role_with_apply() {
    let dir = project(&[
        (
            "site.yml",
            r#"- hosts: all
  gather_facts: false
  vars:
    out: "@DIR@/out"
    sites:
      - {name: a.example, port: 80}
      - {name: b.example, port: 8080}
  tasks:
    - file: {path: "{{ out }}", state: directory}
      tags: [always]
    - include_role:
        name: vhost
        apply:
          tags: [web]
          when: site.port > 0
      loop: "{{ sites }}"
      loop_control: {loop_var: site}
      tags: [web]
    - name: untagged
      shell: echo no >> {{ out }}/untagged
"#,
        ),
        (
            "roles/vhost/tasks/main.yml",
            r#"- name: conf for {{ site.name }}
  template:
    src: vhost.conf.j2
    dest: "{{ out }}/{{ site.name }}.conf"
  notify: reload web
"#,
        ),
        (
            "roles/vhost/templates/vhost.conf.j2",
            "server {\n  listen {{ site.port }};\n  server_name {{ site.name }};\n}\n",
        ),
        (
            "roles/vhost/handlers/main.yml",
            "- name: reload web\n  shell: echo reload >> {{ out }}/reloads\n",
        ),
    ]);
    // `apply`'s tags reach the role's tasks: --tags web runs them and not the rest.
    let r = run(dir.path(), "apply", &["--tags", "web"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(
        read(dir.path(), "out/b.example.conf"),
        "server {\n  listen 8080;\n  server_name b.example;\n}\n"
    );
    assert!(read(dir.path(), "out/a.example.conf").contains("listen 80;"));
    assert_eq!(read(dir.path(), "out/reloads"), "reload\n");
    assert!(!dir.path().join("out/untagged").exists());
    let again = run(dir.path(), "apply", &["--tags", "web"]);
    assert_eq!(again.with_status("here", "changed"), Vec::<String>::new());
}

#[test]
fn validation_knows_the_loop_variables_and_finds_the_rest() {
    // The loop variable and index_var are defined in the included file; a misspelt name is
    // not, and is reported at its line in that file.
    let dir = project(&[
        ("site.yml", USERS),
        (
            "user.yml",
            "- debug: {msg: \"{{ app_user.name }} {{ n }}\"}\n- debug: {msg: \"{{ app_usr.name }}\"}\n",
        ),
    ]);
    let r = run(dir.path(), "validate", &[]);
    assert_ne!(r.code, 0, "{}", r.stdout);
    let all = format!("{}{}", r.stdout, r.stderr);
    assert!(all.contains("user.yml:2:"), "{all}");
    assert!(all.contains("app_usr"), "{all}");
    assert!(!all.contains("undefined variable `app_user`"), "{all}");
    assert!(!all.contains("undefined variable `n`"), "{all}");

    // What `apply` may not hold is an error at its line.
    let dir = project(&[
        (
            "site.yml",
            "- hosts: all\n  tasks:\n    - include_role:\n        name: r\n        apply:\n          loop: [1]\n",
        ),
        ("roles/r/tasks/main.yml", "- debug: {msg: x}\n"),
    ]);
    let r = run(dir.path(), "validate", &[]);
    let all = format!("{}{}", r.stdout, r.stderr);
    assert_ne!(r.code, 0, "{all}");
    assert!(all.contains("site.yml:6:11"), "{all}");
    assert!(
        all.contains("`loop` is not supported on the `apply` of `include_role`"),
        "{all}"
    );
}

#[test]
fn every_items_probes_go_in_one_round_trip() {
    let dir = project(&[
        (
            "site.yml",
            r#"- hosts: all
  gather_facts: false
  tasks:
    - include_tasks: f.yml
      loop: [a, b, c]
      loop_control: {loop_var: x}
"#,
        ),
        (
            "f.yml",
            r#"- copy: {dest: "@DIR@/{{ x }}.txt", content: "x={{ x }}\n"}
- file: {path: "@DIR@/{{ x }}.d", state: directory}
"#,
        ),
    ]);
    for _ in 0..2 {
        let r = support::plumb(dir.path(), &["apply", "site.yml", "-i", "local.ini", "-v"]);
        assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
        let all = format!("{}{}", r.stdout, r.stderr);
        let rounds: Vec<&str> = all.lines().filter(|l| l.contains("round trip")).collect();
        assert_eq!(rounds.len(), 1, "{all}");
        assert!(rounds[0].contains("probe: 6 tasks"), "{all}");
        assert_eq!(all.matches("(from the batched probe)").count(), 6, "{all}");
    }
    assert_eq!(read(dir.path(), "c.txt"), "x=c\n");
}

#[test]
fn a_block_in_a_looped_file_starts_afresh_for_each_item() {
    // The first item fails in the block and is rescued; the second runs the block's tasks
    // anew. `apply` on `include_tasks` gives the file's tasks its tags.
    let dir = project(&[
        (
            "site.yml",
            r#"- hosts: all
  gather_facts: false
  tasks:
    - include_tasks:
        file: f.yml
        apply: {tags: [mine]}
      loop: [bad, good]
      tags: [mine]
    - name: not mine
      shell: echo x >> @DIR@/log
"#,
        ),
        (
            "f.yml",
            r#"- block:
    - shell: "test {{ item }} = good && echo ran {{ item }} >> @DIR@/log"
    - shell: echo after {{ item }} >> @DIR@/log
  rescue:
    - shell: echo rescued {{ item }} >> @DIR@/log
"#,
        ),
    ]);
    let r = run(dir.path(), "apply", &["--tags", "mine"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(
        read(dir.path(), "log"),
        "rescued bad\nran good\nafter good\n"
    );
}

#[test]
fn include_tasks_with_first_found_in_a_role() {
    // The public roles' idiom: the first of a list of task files that exists, found by full
    // path in the role's `tasks/`.
    let dir = project(&[
        (
            "site.yml",
            "- hosts: all\n  gather_facts: false\n  roles: [r]\n",
        ),
        (
            "roles/r/tasks/main.yml",
            r#"- include_tasks: "{{ item }}"
  with_first_found:
    - files:
        - "setup-{{ distro | default('Plan9') }}.yml"
        - setup-default.yml
      paths: ["{{ role_path }}/tasks"]
"#,
        ),
        (
            "roles/r/tasks/setup-default.yml",
            "- shell: echo default >> @DIR@/log\n",
        ),
        (
            "roles/r/tasks/setup-Debian.yml",
            "- shell: echo debian >> @DIR@/log\n",
        ),
    ]);
    let r = run(dir.path(), "apply", &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let r = run(dir.path(), "apply", &["-e", "distro=Debian"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(read(dir.path(), "log"), "default\ndebian\n");
}

/// A dynamic include's `when` is judged once, where the include is reached, as Ansible judges
/// it: a task of the file that changes what the condition reads does not skip the tasks after
/// it. An import's `when` stays on each of its tasks; a false one skips the include once.
#[test]
fn a_dynamic_include_judges_its_when_once() {
    let site = r#"- hosts: all
  gather_facts: false
  vars:
    installed: false
  tasks:
    - name: install once
      include_tasks: install.yml
      when: not installed
    - name: install again
      include_tasks: install.yml
      when: not installed
    - name: imported
      import_tasks: flip.yml
      when: not installed_too | default(false)
    - name: role once
      include_role: {name: setup}
      when: installed
"#;
    let install = "- name: mark installed\n  set_fact: {installed: true}\n- name: after the mark\n  debug: {msg: still here}\n";
    let flip = "- name: flip\n  set_fact: {installed_too: true}\n- name: after the flip\n  debug: {msg: skipped}\n";
    let role = "- name: role task\n  set_fact: {installed: false}\n- name: role task after\n  debug: {msg: role still here}\n";
    let dir = project(&[
        ("site.yml", site),
        ("install.yml", install),
        ("flip.yml", flip),
        ("roles/setup/tasks/main.yml", role),
    ]);
    for cmd in ["plan", "apply"] {
        let r = run(dir.path(), cmd, &[]);
        assert_eq!(r.code, 0, "{cmd}: {}\n{}", r.stdout, r.stderr);
        let want: Vec<(String, String)> = [
            ("install once", "ok"),
            ("mark installed", "ok"),
            ("after the mark", "ok"),
            ("install again", "skipped"),
            ("flip", "ok"),
            ("after the flip", "skipped"),
            ("role once", "ok"),
            ("role task", "ok"),
            ("role task after", "ok"),
        ]
        .iter()
        .map(|(n, s)| (n.to_string(), s.to_string()))
        .collect();
        assert_eq!(r.statuses("here"), want, "{cmd}: {}", r.stdout);
    }
}

/// A task file behind a dynamic include's `when` that cannot be used (another system's) fails
/// only the hosts whose condition holds, never the run.
#[test]
fn a_broken_file_behind_a_dynamic_include_when_waits_for_the_host() {
    let site = "- hosts: all\n  gather_facts: false\n  tasks:\n    - include_tasks: other.yml\n      when: false\n    - name: after\n      debug: {msg: ran}\n";
    let dir = project(&[
        ("site.yml", site),
        ("other.yml", "- no_such_module_here: {x: 1}\n"),
    ]);
    let r = run(dir.path(), "apply", &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.statuses("here").contains(&("after".into(), "ok".into())),
        "{}",
        r.stdout
    );
}
