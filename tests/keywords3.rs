//! `connection`, `collections`, `strategy`, `order`, `force_handlers`, `timeout` and `async`,
//! run for real on the control machine in a temporary directory.

mod support;

use std::path::Path;
use support::{local_project as project, local_run as run};

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_default()
}

/// A host whose SSH port refuses: reached only if something connects to it.
const REFUSED: &str = "web ansible_host=127.0.0.1 ansible_port=1\n";

#[test]
fn connection_local_on_a_play_runs_its_hosts_on_the_control_machine() {
    // The common public idiom, on the implicit localhost and on an inventory host.
    let dir = project(&[
        ("local.ini", REFUSED),
        (
            "site.yml",
            r#"- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - shell: echo "{{ inventory_hostname }}" >> @DIR@/out
      # A command that may change is taken to write anything (later tasks would be
      # may-change in the plan); this one is only a trace.
      changed_when: false
- hosts: all
  connection: ansible.builtin.local
  strategy: free
  collections: [community.general]
  tasks:
    - shell: echo "{{ inventory_hostname }} {{ ansible_facts.system }}" >> @DIR@/out
      changed_when: false
- hosts: all
  gather_facts: false
  ignore_unreachable: true
  tasks:
    - name: copied here
      copy: {content: "{{ inventory_hostname }}\n", dest: "@DIR@/copied"}
      connection: local
"#,
        ),
    ]);
    let r = run(dir.path(), "apply", &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(read(dir.path(), "out"), "localhost\nweb Linux\n");
    assert_eq!(read(dir.path(), "copied"), "web\n");
    assert_eq!(r.host_status("web"), "changed");
    // The plan probes the local task on the control machine too: nothing left to change.
    let p = run(dir.path(), "plan", &[]);
    assert_eq!(p.code, 0, "{}\n{}", p.stdout, p.stderr);
    let copied = p
        .statuses("web")
        .into_iter()
        .find(|(n, _)| n == "copied here");
    assert_eq!(
        copied,
        Some(("copied here".into(), "ok".into())),
        "{}",
        p.stdout
    );
}

#[test]
fn a_task_connection_runs_that_task_elsewhere_with_the_hosts_variables() {
    // The play reaches `web` over SSH, which refuses; its tasks ignore that. A task (and a
    // block) with `connection: local` runs on the control machine with web's variables; a
    // task with `connection: ssh` in a local play goes to web's SSH, and finds it refused.
    let dir = project(&[
        ("local.ini", REFUSED),
        (
            "site.yml",
            r#"- hosts: all
  gather_facts: false
  ignore_unreachable: true
  vars: {where: here}
  tasks:
    - name: local task
      shell: echo "{{ inventory_hostname }} {{ where }}" >> @DIR@/out
      connection: local
    - block:
        - name: local block
          shell: echo "block {{ ansible_port }}" >> @DIR@/out
      connection: local
    - name: over ssh
      shell: echo never >> @DIR@/out
- hosts: all
  gather_facts: false
  connection: local
  tasks:
    - name: local play
      shell: echo "local play" >> @DIR@/out
    - name: ssh task
      shell: echo never >> @DIR@/out
      connection: ssh
      ignore_unreachable: true
"#,
        ),
    ]);
    let r = run(dir.path(), "apply", &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(read(dir.path(), "out"), "web here\nblock 1\nlocal play\n");
    assert_eq!(
        r.statuses("web")[0],
        ("local task".into(), "changed".into())
    );
    assert!(
        r.task_msg("web", "over ssh")
            .starts_with("unreachable, ignored (ignore_unreachable): "),
        "{}",
        r.stdout
    );
    let ssh = r.task_msg("web", "ssh task");
    assert!(
        ssh.starts_with("unreachable, ignored (ignore_unreachable): connection: ssh: "),
        "{ssh}"
    );
}

#[test]
fn ansible_connection_wins_over_the_keyword() {
    // As in Ansible, the variable wins: `here` is local whatever the play says.
    let dir = project(&[(
        "site.yml",
        r#"- hosts: all
  connection: ssh
  gather_facts: false
  tasks:
    - shell: echo "{{ ansible_connection }}" >> @DIR@/out
      connection: paramiko
"#,
    )]);
    let r = run(dir.path(), "apply", &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(read(dir.path(), "out"), "local\n");
}

#[test]
fn ansible_connection_as_a_play_variable_still_runs_locally() {
    let dir = project(&[
        ("local.ini", REFUSED),
        (
            "site.yml",
            r#"- hosts: all
  vars: {ansible_connection: local}
  tasks:
    - shell: echo "{{ inventory_hostname }} {{ ansible_facts.system }}" >> @DIR@/out
"#,
        ),
    ]);
    let r = run(dir.path(), "apply", &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(read(dir.path(), "out"), "web Linux\n");
}

#[test]
fn order_sets_the_order_hosts_start_in_and_the_play_lists() {
    let inv =
        "b ansible_connection=local\nc ansible_connection=local\na ansible_connection=local\n";
    for (order, want) in [
        ("inventory", "b c a"),
        ("reverse_inventory", "a c b"),
        ("sorted", "a b c"),
        ("reverse_sorted", "c b a"),
    ] {
        let dir = project(&[
            ("local.ini", inv),
            (
                "site.yml",
                &format!(
                    r#"- hosts: all
  order: {order}
  gather_facts: false
  serial: 2
  tasks:
    - shell: echo "{{{{ inventory_hostname }}}} {{{{ ansible_play_hosts_all | join(',') }}}}" >> @DIR@/out
"#
                ),
            ),
        ]);
        let r = run(dir.path(), "apply", &["-f", "1"]);
        assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
        let all = want.replace(' ', ",");
        let expect: String = want.split(' ').map(|h| format!("{h} {all}\n")).collect();
        assert_eq!(read(dir.path(), "out"), expect, "order: {order}");
    }
    // A shuffle runs every host once.
    let dir = project(&[
        ("local.ini", inv),
        (
            "site.yml",
            "- hosts: all\n  order: shuffle\n  gather_facts: false\n  tasks:\n    - shell: echo {{ inventory_hostname }} >> @DIR@/out\n",
        ),
    ]);
    let r = run(dir.path(), "apply", &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let mut lines: Vec<String> = read(dir.path(), "out").lines().map(String::from).collect();
    lines.sort();
    assert_eq!(lines, ["a", "b", "c"]);
}

const HANDLERS: &str = r#"- hosts: all
  gather_facts: false
  @FORCE@
  tasks:
    - name: change
      command: "true"
      notify: [first, second]
    - name: break
      command: "false"
    - name: never
      shell: echo never >> @DIR@/out
  handlers:
    - name: first
      shell: echo first >> @DIR@/out; exit 1
    - name: second
      shell: echo second >> @DIR@/out
"#;

#[test]
fn force_handlers_runs_what_was_notified_on_a_failed_host() {
    for (force, args, want) in [
        ("", &[][..], ""),
        ("force_handlers: true", &[][..], "first\nsecond\n"),
        ("", &["--force-handlers"][..], "first\nsecond\n"),
    ] {
        let dir = project(&[("site.yml", &HANDLERS.replace("@FORCE@", force))]);
        let r = run(dir.path(), "apply", args);
        assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
        assert_eq!(r.host_status("here"), "failed");
        assert_eq!(read(dir.path(), "out"), want, "{force} {args:?}");
        if !want.is_empty() {
            assert_eq!(
                r.statuses("here"),
                [
                    ("change".to_string(), "changed".to_string()),
                    ("break".into(), "failed".into()),
                    ("handler: first".into(), "failed".into()),
                    ("handler: second".into(), "changed".into()),
                ]
            );
        }
    }
}

#[test]
fn timeout_and_async_stop_a_task_that_runs_too_long() {
    let dir = project(&[(
        "site.yml",
        r#"- hosts: all
  gather_facts: false
  timeout: 30
  tasks:
    - name: quick
      command: echo done
      timeout: 30
      register: quick
      become_flags: -H -S -n
    - name: slow
      shell: sleep 60; echo late >> @DIR@/out
      timeout: 1
      ignore_errors: true
    - name: async
      command: sleep 60
      async: 1
      poll: 5
      ignore_errors: true
    - block:
        - name: slow in a block
          command: sleep 60
          ignore_errors: true
      timeout: 1
    - name: async in time
      shell: echo "{{ quick.stdout }}" >> @DIR@/out
      async: 30
      poll: 2
"#,
    )]);
    let r = run(dir.path(), "apply", &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(
        r.task_msg("here", "slow"),
        "timed out after 1 s (`timeout: 1`): its processes on the host were stopped\n(ignored: ignore_errors is set)"
    );
    assert_eq!(
        r.task_msg("here", "async"),
        "timed out after 1 s (`async: 1`): its processes on the host were stopped\n(ignored: ignore_errors is set)"
    );
    assert_eq!(
        r.task_msg("here", "slow in a block"),
        "timed out after 1 s (`timeout: 1`): its processes on the host were stopped\n(ignored: ignore_errors is set)"
    );
    assert_eq!(read(dir.path(), "out"), "done\n");
    assert_eq!(
        r.statuses("here"),
        [
            ("quick".to_string(), "changed".to_string()),
            ("slow".into(), "failed".into()),
            ("async".into(), "failed".into()),
            ("slow in a block".into(), "failed".into()),
            ("async in time".into(), "changed".into()),
        ]
    );
}

#[test]
fn collections_on_plays_roles_blocks_and_tasks_are_checked() {
    let dir = project(&[
        (
            "roles/fw/meta/main.yml",
            "collections: [community.general]\ndependencies: []\n",
        ),
        (
            "roles/fw/tasks/main.yml",
            "- name: firewall\n  ufw: {state: enabled}\n",
        ),
        (
            "site.yml",
            r#"- hosts: all
  collections: [ansible.posix]
  roles: [fw]
  tasks:
    - block:
        - name: short name, through the task's list
          collections: [community.general]
          ufw: {rule: allow, port: "22", proto: tcp}
      collections:
        - community.general
"#,
        ),
    ]);
    let r = run(dir.path(), "validate", &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    std::fs::write(
        dir.path().join("roles/fw/meta/main.yml"),
        "collections: [general]\n",
    )
    .unwrap();
    let r = run(dir.path(), "validate", &[]);
    assert_eq!(r.code, 4, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr
            .starts_with("error: `general` is not a collection name\n"),
        "{}",
        r.stderr
    );
}

/// The play's host lists are the run's for every host, and `serial` gives each batch its own
/// `ansible_play_batch` and `play_hosts` (also to a task validation built, and to a template);
/// `run_once` runs on the batch's first host.
#[test]
fn host_lists_follow_the_serial_batch() {
    let dir = project(&[
        (
            "local.ini",
            "[web]\na ansible_connection=local\nb ansible_connection=local\n[db]\nc ansible_connection=local\n",
        ),
        (
            "site.yml",
            r#"- hosts: all
  gather_facts: false
  serial: 2
  tasks:
    - name: lists
      debug:
        msg: "{{ ansible_play_batch | join(',') }} {{ play_hosts | join(',') }} {{ ansible_play_hosts_all | join(',') }} {{ groups['web'] | join(',') }} {{ groups.all | length }}"
    - name: batch as written
      debug: {msg: "{{ ansible_play_batch }}"}
    - name: once
      shell: echo "{{ inventory_hostname }} {{ ansible_play_batch | length }}" >> @DIR@/once
      run_once: true
    - name: from a template
      template: {src: lists.j2, dest: "@DIR@/{{ inventory_hostname }}.txt"}
    - name: a module's plain argument
      file: {path: "@DIR@/first-{{ inventory_hostname }}-{{ ansible_play_batch[0] }}", state: directory}
"#,
        ),
        ("lists.j2", "{{ play_hosts | join(' ') }}\n"),
    ]);
    let r = run(dir.path(), "apply", &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    for (h, batch) in [("a", "a,b"), ("b", "a,b"), ("c", "c")] {
        assert_eq!(
            r.task_msg(h, "lists"),
            format!("{batch} {batch} a,b,c a,b 3"),
            "{h}"
        );
        assert_eq!(
            r.task_msg(h, "batch as written"),
            serde_json::to_string(&batch.split(',').collect::<Vec<_>>()).unwrap(),
            "{h}"
        );
        let t = std::fs::read_to_string(dir.path().join(format!("{h}.txt"))).unwrap();
        assert_eq!(t, format!("{}\n", batch.replace(',', " ")), "{h}");
    }
    let once = std::fs::read_to_string(dir.path().join("once")).unwrap();
    assert_eq!(once, "a 2\nc 1\n");
    // Built for the batch, not taken from validation, which saw every host.
    for d in ["first-a-a", "first-b-a", "first-c-c"] {
        assert!(dir.path().join(d).is_dir(), "{d}: {}", r.stdout);
    }
}
