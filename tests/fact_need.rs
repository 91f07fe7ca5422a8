//! Facts are gathered only when something the run loads may read them (`src/fact_need.rs`):
//! wherever the read is written, the facts are there when it is evaluated. On the control
//! machine (`ansible_connection=local`), in a temporary directory.

mod support;

use support::{Run, local_project as project, local_run as run, plumb};

fn ok(r: &Run) {
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
}

/// `apply -v`: whether the host's facts were gathered, as its detail lines say.
fn gathered(dir: &std::path::Path) -> bool {
    let r = plumb(dir, &["apply", "site.yml", "-i", "local.ini", "-v"]);
    ok(&r);
    let skipped = r
        .stdout
        .contains("| facts: not gathered (nothing in the run reads them)");
    let got = r.stdout.lines().any(|l| {
        l.contains("| facts: ") && l.trim_end().ends_with(" gathered") && !l.contains("not")
    });
    assert!(skipped != got, "one or the other:\n{}", r.stdout);
    got
}

const SYSTEM: &str = "{{ ansible_system }}";

#[test]
fn a_play_that_reads_no_fact_gathers_none() {
    let dir = project(&[(
        "site.yml",
        "- hosts: all\n  vars: {greeting: hello}\n  tasks:\n    - name: write\n      copy: {content: \"{{ greeting }}\", dest: \"@DIR@/out.txt\"}\n    - name: say\n      debug: {msg: \"{{ greeting }} from vars and ansible_facts in prose\"}\n      when: greeting == 'hello'\n",
    )]);
    assert!(!gathered(dir.path()));
    let r = plumb(dir.path(), &["apply", "site.yml", "-i", "local.ini", "-v"]);
    assert!(
        r.stdout.contains("| probe: 1 tasks in one round trip"),
        "{}",
        r.stdout
    );
    let r = run(dir.path(), "apply", &[]);
    ok(&r);
    assert_eq!(
        r.task_msg("here", "say"),
        "hello from vars and ansible_facts in prose"
    );
}

#[test]
fn a_fact_read_anywhere_is_gathered_for() {
    let play = |tasks: &str| format!("- hosts: all\n  tasks:\n{tasks}");
    let show = "    - name: show\n      debug: {msg: \"{{ shown }}\"}\n";
    // (files, the `show` task's message when applied)
    let cases: Vec<(Vec<(&str, String)>, &str)> = vec![
        // In a task's argument, and in a bare condition.
        (
            vec![(
                "site.yml",
                play(&format!(
                    "    - name: show\n      debug: {{msg: \"{SYSTEM}\"}}\n      when: ansible_os_family is defined\n"
                )),
            )],
            "Linux",
        ),
        // In a play variable read by a task.
        (
            vec![(
                "site.yml",
                format!("- hosts: all\n  vars: {{shown: \"{SYSTEM}\"}}\n  tasks:\n{show}"),
            )],
            "Linux",
        ),
        // In the inventory (INI), and in group_vars.
        (
            vec![
                ("site.yml", play(show)),
                (
                    "local.ini",
                    format!("here ansible_connection=local shown=\"{SYSTEM}\"\n"),
                ),
            ],
            "Linux",
        ),
        (
            vec![
                ("site.yml", play(show)),
                ("group_vars/all.yml", format!("shown: \"{SYSTEM}\"\n")),
            ],
            "Linux",
        ),
        // Only in a template file.
        (
            vec![
                (
                    "site.yml",
                    play(
                        "    - name: render\n      template: {src: t.j2, dest: \"@DIR@/out.txt\"}\n    - name: show\n      debug: {msg: rendered}\n",
                    ),
                ),
                ("t.j2", format!("on {SYSTEM}\n")),
            ],
            "rendered",
        ),
        // Through another host's entry, by a name known only when evaluated.
        (
            vec![(
                "site.yml",
                play(
                    "    - name: show\n      debug: {msg: \"{{ hostvars[inventory_hostname]['ansible_' + 'system'] }}\"}\n",
                ),
            )],
            "Linux",
        ),
        // Only in a handler.
        (
            vec![(
                "site.yml",
                format!(
                    "{}  handlers:\n    - name: h\n      debug: {{msg: \"{SYSTEM}\"}}\n",
                    play(
                        "    - name: show\n      debug: {msg: Linux}\n      changed_when: true\n      notify: h\n"
                    )
                ),
            )],
            "Linux",
        ),
    ];
    for (files, want) in cases {
        let files: Vec<(&str, &str)> = files.iter().map(|(n, t)| (*n, t.as_str())).collect();
        let dir = project(&files);
        assert!(gathered(dir.path()), "{files:?}");
        let r = run(dir.path(), "apply", &[]);
        ok(&r);
        assert_eq!(r.task_msg("here", "show"), want, "{files:?}");
        if want == "rendered" {
            let out = std::fs::read_to_string(dir.path().join("out.txt")).unwrap();
            assert_eq!(out, "on Linux\n");
        }
    }
}

#[test]
fn a_fact_read_in_a_file_loaded_during_the_run_is_gathered_then() {
    // The file's name is known only once `pick` ran: nothing read the facts at the start.
    let dir = project(&[
        (
            "site.yml",
            "- hosts: all\n  tasks:\n    - name: pick\n      set_fact: {f: v.yml}\n    - name: load\n      include_vars: {file: \"{{ f }}\"}\n    - name: show\n      debug: {msg: \"{{ shown | default('unset') }}\"}\n",
        ),
        ("v.yml", "shown: \"on {{ ansible_system }}\"\n"),
    ]);
    for cmd in ["plan", "apply"] {
        let r = run(dir.path(), cmd, &[]);
        ok(&r);
        assert_eq!(r.task_msg("here", "show"), "on Linux", "{cmd}");
    }
}

#[test]
fn a_template_named_by_a_result_that_reads_a_fact_is_rendered_with_it() {
    // The template is read only when the task runs, after the probe that skipped the facts.
    let dir = project(&[
        (
            "site.yml",
            "- hosts: all\n  tasks:\n    - name: pick\n      command: echo t.j2\n      register: r\n      changed_when: false\n    - name: render\n      template: {src: \"{{ r.stdout }}\", dest: \"@DIR@/out.txt\"}\n",
        ),
        ("t.j2", "on {{ ansible_system }}\n"),
    ]);
    let r = run(dir.path(), "apply", &[]);
    ok(&r);
    let out = std::fs::read_to_string(dir.path().join("out.txt")).unwrap();
    assert_eq!(out, "on Linux\n");
}
