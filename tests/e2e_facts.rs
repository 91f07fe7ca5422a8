//! Facts and variables on real Debian 12 hosts: the facts say what the host says, a `when` on
//! them, another host's facts through `hostvars`, `set_fact` and `include_vars` across tasks,
//! `gather_facts: false`, and a second run that changes nothing.

mod support;

use support::{Hosts, apply_json, inventory};

const A: u32 = 131;
const B: u32 = 132;

const PLAYBOOK: &str = r#"
- hosts: all
  tasks:
    - name: dir
      file: {path: /srv/facts, state: directory}
    - name: write facts
      copy:
        dest: "/srv/facts/{{ inventory_hostname }}.txt"
        content: "{{ ansible_distribution }} {{ ansible_distribution_major_version }} {{ ansible_default_ipv4.address }} {{ ansible_hostname }} {{ ansible_facts.os_family }}\n"
    - name: on debian
      debug: {msg: "{{ ansible_distribution_release }} {{ ansible_service_mgr }} {{ ansible_pkg_mgr }} {{ ansible_user_id }}"}
      when: ansible_os_family == 'Debian'
    - name: not on redhat
      debug: {msg: never}
      when: ansible_os_family == 'RedHat'
    - name: set
      set_fact:
        my_ip: "{{ ansible_default_ipv4.address }}"
        port: "{{ base_port + 1 }}"
    - name: include
      include_vars: app.yml
    - name: show
      debug: {msg: "{{ my_ip }} {{ port }} {{ app_name }}-{{ port }}"}
    - name: numbers
      debug: {msg: "{{ ansible_processor_vcpus > 0 }} {{ ansible_memtotal_mb > 0 }} {{ ansible_mounts | length > 0 }} {{ ansible_env.HOME }}"}
- hosts: h131
  gather_facts: false
  tasks:
    - name: peer
      debug: {msg: "{{ hostvars['h132'].ansible_default_ipv4.address }} {{ hostvars['h132']['my_ip'] }} {{ ansible_hostname }}"}
"#;

#[test]
fn facts_and_variables_on_real_hosts() {
    let _hosts = Hosts::up(&[A, B]);
    let dir = tempfile::tempdir().unwrap();
    let inv = inventory(dir.path(), &[A, B], "root");
    std::fs::write(dir.path().join("site.yml"), PLAYBOOK).unwrap();
    std::fs::create_dir_all(dir.path().join("vars")).unwrap();
    std::fs::write(dir.path().join("vars/app.yml"), "app_name: shop\n").unwrap();
    let pb = dir.path().join("site.yml").display().to_string();
    let run = apply_json(dir.path(), &pb, &inv, &["-e", "base_port=8000"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    for k in [A, B] {
        let h = format!("h{k}");
        let name = Hosts::sh(k, "hostname -s").trim().to_string();
        let ip = Hosts::ip(k);
        let written = Hosts::sh(k, &format!("cat /srv/facts/{h}.txt"));
        assert_eq!(written, format!("Debian 12 {ip} {name} Debian"), "{h}");
        assert_eq!(run.task_msg(&h, "on debian"), "bookworm systemd apt root");
        assert_eq!(run.with_status(&h, "skipped"), ["not on redhat"]);
        assert_eq!(run.task_msg(&h, "show"), format!("{ip} 8001 shop-8001"));
        assert_eq!(run.task_msg(&h, "numbers"), "True True True /root");
    }
    let peer = run.task_msg("h131", "peer");
    let name = Hosts::sh(A, "hostname -s").trim().to_string();
    assert_eq!(peer, format!("{0} {0} {name}", Hosts::ip(B)));
    // Converged: nothing changes the second time.
    let again = apply_json(dir.path(), &pb, &inv, &["-e", "base_port=8000"]);
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
    for k in [A, B] {
        let h = format!("h{k}");
        assert!(
            again.with_status(&h, "changed").is_empty(),
            "{}",
            again.stdout
        );
    }
}
