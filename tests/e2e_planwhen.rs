//! A plan's `when` on registered results, on two real Debian 12 hosts: after one host's file
//! drifted, what reads that file's result is planned exactly on the host that did not drift
//! and `may-change` on the one that did (never judged on a stand-in), and applying agrees;
//! converged, nothing is `may-change` at all.

mod support;

use std::collections::BTreeMap;
use support::{Hosts, Run, inventory, playbook};

const A: u32 = 196;
const B: u32 = 197;

const PLAYBOOK: &str = r#"
- hosts: all
  gather_facts: false
  tasks:
    - name: dir
      file: {path: /srv/planwhen, state: directory}
    - name: conf
      copy: {dest: /srv/planwhen/app.conf, content: "port=8080\n"}
      register: conf
    - name: check
      command: grep -c '^port=' /srv/planwhen/app.conf
      register: check
      changed_when: false
      check_mode: false
    - name: restart
      shell: echo restarted >> /srv/planwhen/restarts
      when: conf is changed
    - name: checked
      file: {path: "/srv/planwhen/checked-{{ check.stdout }}", state: touch}
      when: check.stdout | int > 0
    - name: lines
      file: {path: "/srv/planwhen/line-{{ item | length }}", state: touch}
      loop: "{{ check.stdout_lines }}"
"#;

fn statuses(r: &Run, k: u32) -> BTreeMap<String, String> {
    r.statuses(&format!("h{k}")).into_iter().collect()
}

fn map(rows: &[(&str, &str)]) -> BTreeMap<String, String> {
    rows.iter()
        .map(|(t, s)| (t.to_string(), s.to_string()))
        .collect()
}

#[test]
fn a_plan_after_drift_judges_what_it_knows_and_apply_agrees() {
    let _hosts = Hosts::up(&[A, B]);
    let dir = tempfile::tempdir().unwrap();
    let inv = inventory(dir.path(), &[A, B], "root");
    std::fs::write(dir.path().join("site.yml"), PLAYBOOK).unwrap();
    let pb = dir.path().join("site.yml").display().to_string();
    let json = ["--host-key-checking", "accept-new", "--output", "json"];
    let go = |cmd: &str| {
        let r = playbook(dir.path(), cmd, &pb, &inv, &json);
        assert_eq!(r.code, 0, "{cmd}:\n{}\n{}", r.stdout, r.stderr);
        r
    };
    go("apply");
    // Converged: every `when` reads a result the plan knows (nothing changes before `check`,
    // which runs in the plan), so nothing is `may-change`.
    let converged = go("plan");
    let steady = map(&[
        ("dir", "ok"),
        ("conf", "ok"),
        ("check", "ok"),
        ("restart", "skipped"),
        ("checked", "ok"),
        ("lines", "ok"),
    ]);
    for k in [A, B] {
        assert_eq!(
            statuses(&converged, k),
            steady,
            "h{k}: {}",
            converged.stdout
        );
    }
    // B's file drifts: its `conf` will change, so its `check` would read the file as it is,
    // not as it will be: what reads `check` may change there, and only there.
    Hosts::sh(B, "echo port=1 > /srv/planwhen/app.conf");
    let plan = go("plan");
    assert_eq!(statuses(&plan, A), steady, "{}", plan.stdout);
    let planned_b = statuses(&plan, B);
    assert_eq!(
        planned_b,
        map(&[
            ("dir", "ok"),
            ("conf", "changed"),
            ("check", "skipped"),
            ("restart", "may-change"),
            ("checked", "may-change"),
            ("lines", "may-change"),
        ]),
        "{}",
        plan.stdout
    );
    assert_eq!(
        plan.task_msg(&format!("h{B}"), "checked"),
        "depends on `check.stdout`, known only when applied"
    );
    assert_eq!(Hosts::sh(B, "cat /srv/planwhen/app.conf"), "port=1");
    let apply = go("apply");
    assert_eq!(statuses(&apply, A), steady, "{}", apply.stdout);
    let applied_b = statuses(&apply, B);
    assert_eq!(
        applied_b,
        map(&[
            ("dir", "ok"),
            ("conf", "changed"),
            ("check", "ok"),
            ("restart", "changed"),
            ("checked", "ok"),
            ("lines", "ok"),
        ]),
        "{}",
        apply.stdout
    );
    // Where the plan was certain, applying did the same.
    for (task, st) in &planned_b {
        assert!(
            st == "may-change" || task == "check" || applied_b[task] == *st,
            "{task}: planned {st}, applied {}",
            applied_b[task]
        );
    }
    assert_eq!(Hosts::sh(A, "wc -l < /srv/planwhen/restarts").trim(), "1");
    assert_eq!(Hosts::sh(B, "wc -l < /srv/planwhen/restarts").trim(), "2");
    let again = go("plan");
    for k in [A, B] {
        assert_eq!(statuses(&again, k), steady, "h{k}: {}", again.stdout);
    }
}
