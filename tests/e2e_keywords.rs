//! Keywords that matter on real hosts: `become_method: su` (a root login becoming a service
//! user, as database roles do), `throttle` and `run_once` across hosts, in the idioms of public
//! roles.

mod support;

use support::{Hosts, apply_json, inventory};

const K: u32 = 141;

#[test]
fn become_method_su_runs_tasks_as_the_become_user() {
    let _hosts = Hosts::up(&[K]);
    let dir = tempfile::tempdir().unwrap();
    let h = format!("h{K}");
    let inv = inventory(dir.path(), &[K], "root");
    let pb = dir.path().join("site.yml");
    std::fs::write(
        &pb,
        r#"- hosts: all
  become: true
  become_method: su
  become_user: www-data
  tasks:
    - name: a file written as www-data
      copy: {content: "hi\n", dest: /tmp/su-owned}
    - name: whoami
      command: id -un
      register: who
      changed_when: false
    - name: back to root for one task, through sudo
      copy: {content: "{{ who.stdout }}\n", dest: /root/who}
      become_user: root
      become_method: sudo
"#,
    )
    .unwrap();
    let pb = pb.display().to_string();
    let first = apply_json(dir.path(), &pb, &inv, &[]);
    assert_eq!(first.code, 0, "{}\n{}", first.stdout, first.stderr);
    assert_eq!(
        Hosts::sh(
            K,
            "stat -c %U /tmp/su-owned; stat -c %U /root/who; cat /root/who"
        ),
        "www-data\nroot\nwww-data"
    );
    let again = apply_json(dir.path(), &pb, &inv, &[]);
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
    assert_eq!(again.with_status(&h, "changed"), Vec::<String>::new());
}

#[test]
fn throttle_and_run_once_across_hosts() {
    let ks = [142, 143];
    let _hosts = Hosts::up(&ks);
    let dir = tempfile::tempdir().unwrap();
    let inv = inventory(dir.path(), &ks, "root");
    let d = dir.path().display();
    let pb = dir.path().join("site.yml");
    std::fs::write(
        &pb,
        format!(
            r#"- hosts: all
  gather_facts: false
  tasks:
    - name: one host at a time on the control machine
      local_action: shell mkdir {d}/busy && sleep 1 && rmdir {d}/busy
      throttle: 1
    - name: migrate once
      shell: echo migrated > /tmp/once
      run_once: true
"#
        ),
    )
    .unwrap();
    let pb = pb.display().to_string();
    // Two hosts in the first task at once would find `busy` there and fail.
    let r = apply_json(dir.path(), &pb, &inv, &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let ran: Vec<String> = ks
        .iter()
        .map(|k| {
            Hosts::ssh(*k, "cat /tmp/once 2>/dev/null")
                .1
                .trim()
                .to_string()
        })
        .collect();
    assert_eq!(ran, ["migrated", ""], "only the first host runs it");
}
