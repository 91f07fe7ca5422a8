//! What a plan says of a task that reads a registered result, on the control machine
//! (`ansible_connection=local`): judged exactly where the plan knows the value (a `stat`, a
//! `check_mode: false` command, whether a task runs), `may-change` where only applying tells
//! (never skipped or ok on a stand-in), an error for a field the module's result never holds,
//! also across plays; and `hostvars[h].groups`.

mod support;

use support::{Run, local_project as project, local_run as run};

fn ok(r: &Run) {
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
}

fn status(r: &Run, task: &str) -> String {
    r.statuses("here")
        .into_iter()
        .find(|(n, _)| n == task)
        .map(|(_, s)| s)
        .unwrap_or_else(|| panic!("no task {task}: {}", r.stdout))
}

const READS: &str = r#"- hosts: all
  gather_facts: false
  tasks:
    - name: look
      stat: {path: "@DIR@/site.yml"}
      register: s
    - name: read now
      command: echo y
      register: now
      check_mode: false
      changed_when: false
    - name: say
      command: echo x
      register: r
    - name: known
      file: {path: "@DIR@/known", state: touch}
      when: s.stat.isreg and now.stdout == 'y'
    - name: known false
      file: {path: "@DIR@/nope", state: touch}
      when: now.stdout != 'y'
    - name: eq
      file: {path: "@DIR@/eq", state: touch}
      when: r.stdout == 'x'
    - name: rc
      file: {path: "@DIR@/rc", state: touch}
      when: r.rc != 0
    - name: changed
      file: {path: "@DIR@/changed", state: touch}
      when: r is changed
    - name: ran
      file: {path: "@DIR@/ran", state: touch}
      when: r is not skipped
    - name: false first
      file: {path: "@DIR@/never", state: touch}
      when: [now.rc == 1, r.rc == 0]
    - name: each line
      file: {path: "@DIR@/line-{{ item }}", state: touch}
      loop: "{{ r.stdout_lines }}"
    - name: keep
      set_fact: {said: "{{ r.stdout | default('') }}"}
    - name: from fact
      file: {path: "@DIR@/fact", state: touch}
      when: said == 'x'
    - name: show
      debug: {msg: "{{ r.stdout }}"}
    - name: show rc
      debug: {var: r.rc}
    - name: asserted
      assert: {that: [r.rc == 0]}
    - name: exported
      command: echo "$SAID"
      environment: {SAID: "{{ r.stdout | default('') }}"}
"#;

#[test]
fn a_plan_judges_what_it_knows_and_says_may_change_for_what_only_apply_tells() {
    let dir = project(&[("site.yml", READS)]);
    let p = run(dir.path(), "plan", &[]);
    ok(&p);
    let depends = |what: &str| format!("depends on `{what}`, known only when applied");
    // (task, plan status, plan message)
    let want = [
        ("look", "ok", String::new()),
        ("read now", "ok", String::new()),
        ("say", "may-change", String::new()),
        ("known", "changed", String::new()),
        ("known false", "skipped", String::new()),
        ("eq", "may-change", depends("r.stdout")),
        ("rc", "may-change", depends("r.rc")),
        (
            "changed",
            "may-change",
            "depends on the result of `r`, known only when applied".into(),
        ),
        ("ran", "changed", String::new()),
        ("false first", "skipped", String::new()),
        ("each line", "may-change", depends("r.stdout_lines")),
        ("keep", "may-change", depends("r.stdout")),
        (
            "from fact",
            "may-change",
            "depends on the result of `said`, known only when applied".into(),
        ),
        ("show", "skipped", depends("r.stdout")),
        ("show rc", "skipped", depends("r.rc")),
        ("asserted", "may-change", depends("r.rc")),
        ("exported", "may-change", depends("r.stdout")),
    ];
    for (task, st, msg) in &want {
        assert_eq!(status(&p, task), *st, "{task}: {}", p.stdout);
        if !msg.is_empty() {
            assert_eq!(p.task_msg("here", task), *msg, "{task}");
        }
    }
    // The plan touched nothing.
    assert!(!dir.path().join("known").exists() && !dir.path().join("eq").exists());
    // Applying agrees wherever the plan was certain.
    let a = run(dir.path(), "apply", &[]);
    ok(&a);
    for (task, st, _) in &want {
        let applied = status(&a, task);
        assert!(
            *st == "may-change" || applied == *st || (task.starts_with("show") && applied == "ok"),
            "{task}: planned {st}, applied {applied}"
        );
    }
    let applied: Vec<String> = want.iter().map(|(t, _, _)| status(&a, t)).collect();
    assert_eq!(
        applied,
        [
            "ok", "ok", "changed", "changed", "skipped", "changed", "skipped", "changed",
            "changed", "skipped", "changed", "ok", "changed", "ok", "ok", "ok", "changed"
        ]
    );
    assert!(dir.path().join("line-x").exists());
}

#[test]
fn a_field_the_modules_result_never_holds_fails_the_plan() {
    let dir = project(&[(
        "site.yml",
        r#"- hosts: all
  gather_facts: false
  tasks:
    - name: say
      command: echo x
      register: r
    - name: guarded
      debug: {msg: "{{ r.anything | default('-') }}"}
    - name: typo
      debug: {msg: "{{ r.stdot }}"}
"#,
    )]);
    let p = run(dir.path(), "plan", &[]);
    assert_eq!(p.code, 2, "{}", p.stdout);
    assert_eq!(status(&p, "guarded"), "skipped");
    assert_eq!(status(&p, "typo"), "failed");
    assert_eq!(
        p.task_msg("here", "typo"),
        "site.yml:10:26: `r.stdot`: a `command` result has no field `stdot` (did you mean `r.stdout`?)"
    );
    // Applying fails there too.
    let a = run(dir.path(), "apply", &[]);
    assert_eq!(a.code, 2, "{}", a.stdout);
    assert_eq!(status(&a, "typo"), "failed");
}

#[test]
fn another_hosts_entry_in_hostvars_has_groups() {
    let dir = project(&[
        (
            "local.ini",
            "[front]\na ansible_connection=local\n[back]\nb ansible_connection=local\n",
        ),
        (
            "site.yml",
            "- hosts: a\n  gather_facts: false\n  tasks:\n    - name: groups\n      debug: {msg: \"{{ hostvars['b'].groups['back'] }} {{ hostvars['b'].groups.all | length }} {{ hostvars['b'].group_names }}\"}\n",
        ),
    ]);
    for cmd in ["plan", "apply"] {
        let r = run(dir.path(), cmd, &[]);
        ok(&r);
        assert_eq!(r.task_msg("a", "groups"), "['b'] 2 ['back']", "{cmd}");
    }
}

#[test]
fn what_a_play_left_unknown_or_unmade_stays_so_in_the_next() {
    let dir = project(&[(
        "site.yml",
        r#"- hosts: all
  gather_facts: false
  tasks:
    - name: say
      command: echo x
      register: r
- hosts: all
  gather_facts: false
  tasks:
    - name: reads r
      file: {path: "@DIR@/eq", state: touch}
      when: r.stdout == 'x'
    - name: look
      stat: {path: "@DIR@/eq"}
      register: s
    - name: by stat
      file: {path: "@DIR@/by-stat", state: touch}
      when: s.stat.exists
"#,
    )]);
    let p = run(dir.path(), "plan", &[]);
    ok(&p);
    assert_eq!(status(&p, "reads r"), "may-change", "{}", p.stdout);
    assert_eq!(status(&p, "look"), "may-change");
    assert_eq!(
        p.task_msg("here", "by stat"),
        "depends on `s.stat`, known only when applied"
    );
    let a = run(dir.path(), "apply", &[]);
    ok(&a);
    assert_eq!(
        ["reads r", "look", "by stat"].map(|t| status(&a, t)),
        ["changed", "ok", "changed"]
    );
}

#[test]
fn what_a_task_that_may_change_may_write_is_not_read_as_it_is_now() {
    let dir = project(&[(
        "site.yml",
        r#"- hosts: all
  gather_facts: false
  tasks:
    - name: version
      command: echo 7
      register: v
      changed_when: false
    - name: write
      copy: {content: "{{ v.stdout }}", dest: "@DIR@/said"}
    - name: look at it
      stat: {path: "@DIR@/said"}
    - name: look elsewhere
      stat: {path: "@DIR@/site.yml"}
"#,
    )]);
    let p = run(dir.path(), "plan", &[]);
    ok(&p);
    assert_eq!(
        ["version", "write", "look at it", "look elsewhere"].map(|t| status(&p, t)),
        ["skipped", "may-change", "may-change", "ok"],
        "{}",
        p.stdout
    );
    assert_eq!(
        p.task_msg("here", "write"),
        "depends on `v.stdout`, known only when applied"
    );
    let a = run(dir.path(), "apply", &[]);
    ok(&a);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("said")).unwrap(),
        "7"
    );
}
