//! Keywords that matter on a real host: `become_method: su` (a root login becoming a service
//! user, as database roles do), in the idioms of public roles.

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
