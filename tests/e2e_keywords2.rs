//! Keywords on real hosts: `meta: end_host` / `end_play`, a templated `environment` merged over
//! the play's, templated `become` on a block, `delegate_to` another host with `delegate_facts`,
//! and `ignore_unreachable`.

mod support;

use support::{Hosts, apply_json, inventory, playbook};

#[test]
fn meta_environment_become_and_delegation_on_two_hosts() {
    let ks = [186, 187];
    let _hosts = Hosts::up(&ks);
    let dir = tempfile::tempdir().unwrap();
    let inv = inventory(dir.path(), &ks, "root");
    let pb = dir.path().join("site.yml");
    std::fs::write(
        &pb,
        r#"- hosts: h186
  gather_facts: false
  vars: {mine: from h186}
  tasks:
    - name: on h187
      copy: {content: "{{ mine }} {{ inventory_hostname }}", dest: /tmp/kw-delegated}
      delegate_to: h187
    - name: facts of h187
      setup:
      delegate_to: h187
      delegate_facts: true
    - name: seen
      debug: {msg: "{{ hostvars['h187'].ansible_facts.hostname }}"}
- hosts: all
  gather_facts: false
  vars:
    app_env: {GREETING: "hello {{ inventory_hostname }}", WHO: play}
  environment: "{{ app_env }}"
  tasks:
    - name: env
      shell: echo "$GREETING $WHO" > /tmp/kw-env
      args: {creates: /tmp/kw-env}
      environment: {WHO: task}
    - block:
        - name: who
          command: id -un
          register: who
          changed_when: false
      become: "{{ inventory_hostname == 'h187' }}"
      become_user: nobody
    - name: record
      copy: {content: "{{ who.stdout }}", dest: /tmp/kw-who}
    - name: end h187
      meta: end_host
      when: inventory_hostname == 'h187'
    - name: only h186
      copy: {content: "x\n", dest: /tmp/kw-after}
    - name: end
      meta: end_play
    - name: never
      copy: {content: "x\n", dest: /tmp/kw-never}
"#,
    )
    .unwrap();
    let pb = pb.display().to_string();
    let r = apply_json(dir.path(), &pb, &inv, &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let files =
        "cat /tmp/kw-env /tmp/kw-who; echo; ls /tmp/kw-after /tmp/kw-never 2>&1 | sed 's/:.*//'";
    assert_eq!(
        Hosts::sh(186, files),
        "hello h186 task\nroot\nls\n/tmp/kw-after"
    );
    assert_eq!(Hosts::sh(187, files), "hello h187 task\nnobody\nls\nls");
    assert!(
        r.task_msg("h187", "end h187")
            .contains("ends here for this host")
    );
    // delegate_to: written on h187 with h186's variables; h187's facts seen from h186.
    assert_eq!(Hosts::sh(187, "cat /tmp/kw-delegated"), "from h186 h186");
    assert_eq!(Hosts::ssh(186, "test -e /tmp/kw-delegated").0, 1);
    assert_eq!(r.task_msg("h186", "seen"), Hosts::sh(187, "hostname"));
    // Converged, and the plan says where each host's play ends.
    let again = apply_json(dir.path(), &pb, &inv, &[]);
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
    assert_eq!(again.with_status("h186", "changed"), Vec::<String>::new());
    assert_eq!(again.with_status("h187", "changed"), Vec::<String>::new());
    let kh = "--host-key-checking";
    let plan = playbook(
        dir.path(),
        "plan",
        &pb,
        &inv,
        &[kh, "accept-new", "--output", "json"],
    );
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
    assert!(
        plan.task_msg("h186", "end")
            .contains("the play ends here, for every host")
    );
    let names: Vec<String> = plan.statuses("h186").into_iter().map(|(n, _)| n).collect();
    assert!(!names.contains(&"never".to_string()), "{names:?}");
    // Probed on h187, where it is done already.
    assert!(
        plan.with_status("h186", "ok")
            .contains(&"on h187".to_string())
    );
}

#[test]
fn ignore_unreachable_goes_on_past_a_host_that_is_down() {
    let ks = [188, 189];
    let _hosts = Hosts::up(&ks);
    Hosts::link(189, "down");
    let dir = tempfile::tempdir().unwrap();
    let inv = inventory(dir.path(), &ks, "root");
    let pb = dir.path().join("site.yml");
    std::fs::write(
        &pb,
        r#"- hosts: all
  gather_facts: false
  tasks:
    - name: probe
      command: id -un
      register: out
      changed_when: false
      ignore_unreachable: true
    - name: mark
      copy: {content: "{{ out.stdout }}\n", dest: /tmp/kw-mark}
      when: out.unreachable is not defined
    - name: report
      debug: {msg: "{{ 'down' if out.unreachable | default(false) else 'up' }}"}
"#,
    )
    .unwrap();
    let pb = pb.display().to_string();
    let r = apply_json(dir.path(), &pb, &inv, &["--timeout", "3"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.host_status("h189"), "ok");
    assert!(
        r.task_msg("h189", "probe")
            .starts_with("unreachable, ignored")
    );
    assert_eq!(r.task_msg("h189", "report"), "down");
    assert_eq!(r.task_msg("h188", "report"), "up");
    assert_eq!(Hosts::sh(188, "cat /tmp/kw-mark"), "root");
    Hosts::link(189, "up");
}
