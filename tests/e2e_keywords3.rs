//! Keywords on real hosts: `connection: local` tasks in an SSH play and `connection: ssh` in a
//! local one, `order`, `force_handlers` after a failure, and `timeout` stopping a command on
//! the host.

mod support;

use support::{Hosts, apply_json, inventory};

#[test]
fn connection_order_force_handlers_and_timeout_on_two_hosts() {
    let ks = [198, 199];
    let _hosts = Hosts::up(&ks);
    let dir = tempfile::tempdir().unwrap();
    let inv = inventory(dir.path(), &ks, "root");
    let pb = dir.path().join("site.yml");
    let here = dir.path().display().to_string();
    std::fs::write(
        &pb,
        r#"- hosts: all
  gather_facts: false
  order: reverse_sorted
  force_handlers: true
  tasks:
    - name: order
      shell: echo "{{ inventory_hostname }} {{ ansible_play_hosts_all | join(',') }}" >> @DIR@/order
      connection: local
    - name: on the host
      copy: {content: "{{ inventory_hostname }}\n", dest: /tmp/kw3-remote}
    - name: on the control machine
      copy: {content: "{{ inventory_hostname }} {{ ansible_host }}\n", dest: "@DIR@/local-{{ inventory_hostname }}"}
      connection: local
    - name: hostname there
      command: hostname
      register: there
      changed_when: false
    - block:
        - name: hostname here
          command: hostname
          register: here
          changed_when: false
      connection: local
    - name: record
      copy: {content: "{{ there.stdout }} {{ here.stdout }}\n", dest: /tmp/kw3-names}
      notify: mark
    - name: slow
      command: sleep 120
      timeout: 2
      when: inventory_hostname == 'h199'
    - name: slow through sudo
      shell: sleep 90 & sleep 91
      become: true
      become_user: nobody
      timeout: 2
      ignore_errors: true
      when: inventory_hostname == 'h198'
    - name: after
      copy: {content: "after\n", dest: /tmp/kw3-after}
  handlers:
    - name: mark
      copy: {content: "handled\n", dest: /tmp/kw3-handler}
- hosts: all
  gather_facts: false
  connection: local
  tasks:
    - name: local play
      shell: echo "{{ inventory_hostname }}" >> @DIR@/local-play
    - name: back over ssh
      copy: {content: "ssh from a local play\n", dest: /tmp/kw3-ssh}
      connection: ssh
"#
        .replace("@DIR@", &here),
    )
    .unwrap();
    let pb = pb.display().to_string();
    let r = apply_json(dir.path(), &pb, &inv, &["-f", "1"]);
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap_or_default();
    // `order: reverse_sorted` with one fork: h199 starts first, and the play lists it first.
    assert_eq!(read("order"), "h199 h199,h198\nh198 h199,h198\n");
    // `connection: local`: on the control machine, with each host's variables.
    assert_eq!(read("local-h198"), "h198 10.231.198.2\n");
    assert_eq!(read("local-h199"), "h199 10.231.199.2\n");
    let control = std::process::Command::new("hostname").output().unwrap();
    let control = String::from_utf8_lossy(&control.stdout).trim().to_string();
    for k in ks {
        let names = format!("{} {control}", Hosts::sh(k, "hostname"));
        assert_eq!(Hosts::sh(k, "cat /tmp/kw3-names"), names, "h{k}");
        assert_eq!(Hosts::sh(k, "cat /tmp/kw3-remote"), format!("h{k}"));
        // `force_handlers`: notified, then run on h199 too, after its failure.
        assert_eq!(Hosts::sh(k, "cat /tmp/kw3-handler"), "handled", "h{k}");
    }
    // `timeout`: the command stopped on the host, the host failed there and went no further.
    assert_eq!(r.host_status("h199"), "failed");
    assert_eq!(
        r.task_msg("h199", "slow"),
        "timed out after 2 s (`timeout: 2`): its processes on the host were stopped"
    );
    assert_eq!(Hosts::ssh(199, "pgrep -x sleep").0, 1, "sleep still runs");
    assert_eq!(Hosts::ssh(199, "test -e /tmp/kw3-after").0, 1);
    assert_eq!(Hosts::sh(198, "cat /tmp/kw3-after"), "after");
    // Through sudo too, the command and what it started in the background are gone.
    assert!(
        r.task_msg("h198", "slow through sudo").starts_with(
            "timed out after 2 s (`timeout: 2`): its processes on the host were stopped"
        ),
        "{}",
        r.stdout
    );
    assert_eq!(Hosts::ssh(198, "pgrep -x sleep").0, 1, "sleep still runs");
    // The local play, on h198 only (h199 failed): its ssh task went to the host.
    assert_eq!(read("local-play"), "h198\n");
    assert_eq!(Hosts::sh(198, "cat /tmp/kw3-ssh"), "ssh from a local play");

    // Converged on h198: nothing changes, locally or on the host.
    let again = apply_json(dir.path(), &pb, &inv, &["--limit", "h198"]);
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
    assert_eq!(
        again.with_status("h198", "changed"),
        ["order", "local play"],
        "{}",
        again.stdout
    );
}
