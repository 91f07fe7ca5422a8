//! Variables across plays and hosts on real Debian 12 hosts: `set_fact` and registered
//! results of the first play read in the second, on the host itself and from the other host
//! through `hostvars`, with the other host's inventory templates rendered in its context (its
//! `ansible_host`, its `port`, its facts).

mod support;

use support::{Hosts, apply_json, inventory, playbook};

const A: u32 = 176;
const B: u32 = 177;

const PLAYBOOK: &str = r#"
- hosts: all
  tasks:
    - name: remember
      set_fact:
        my_ip: "{{ ansible_default_ipv4.address }}"
    - name: ask
      command: hostname -s
      register: hn
      changed_when: false
      check_mode: false
- hosts: all
  gather_facts: false
  tasks:
    - name: dir
      file: {path: /srv/vars, state: directory}
    - name: write
      copy:
        dest: "/srv/vars/{{ inventory_hostname }}.txt"
        content: "{{ my_ip }} {{ hn.stdout }} | {{ hostvars[peer].my_ip }} {{ hostvars[peer].hn.stdout }} {{ hostvars[peer].app_url }} {{ hostvars[peer].inventory_hostname }} {{ hostvars[peer].group_names | join(',') }} {{ hostvars[peer].my_addr }}\n"
"#;

#[test]
fn set_fact_and_register_cross_plays_and_hosts() {
    let _hosts = Hosts::up(&[A, B]);
    let dir = tempfile::tempdir().unwrap();
    let inv = inventory(dir.path(), &[A, B], "root");
    std::fs::create_dir_all(dir.path().join("group_vars")).unwrap();
    std::fs::create_dir_all(dir.path().join("host_vars")).unwrap();
    std::fs::write(
        dir.path().join("group_vars/all.yml"),
        "app_url: \"http://{{ ansible_host }}:{{ port }}/app\"\nmy_addr: \"{{ ansible_default_ipv4.address }}\"\n",
    )
    .unwrap();
    for (me, peer, port) in [(A, B, 8001), (B, A, 8002)] {
        std::fs::write(
            dir.path().join(format!("host_vars/h{me}.yml")),
            format!("peer: h{peer}\nport: {port}\n"),
        )
        .unwrap();
    }
    std::fs::write(dir.path().join("site.yml"), PLAYBOOK).unwrap();
    let pb = dir.path().join("site.yml").display().to_string();
    let run = apply_json(dir.path(), &pb, &inv, &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let name = |k: u32| Hosts::sh(k, "hostname -s").trim().to_string();
    for (me, peer, port) in [(A, B, 8002), (B, A, 8001)] {
        let written = Hosts::sh(me, &format!("cat /srv/vars/h{me}.txt"));
        let (ip, pip) = (Hosts::ip(me), Hosts::ip(peer));
        let want = format!(
            "{ip} {} | {pip} {} http://{pip}:{port}/app h{peer} web {pip}",
            name(me),
            name(peer)
        );
        assert_eq!(written.trim_end(), want, "h{me}");
    }
    // Planned again: the second play's file is known from the first play's results, so
    // nothing would change.
    let plan = playbook(dir.path(), "plan", &pb, &inv, &["--output", "json"]);
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
    for k in [A, B] {
        let h = format!("h{k}");
        assert_eq!(plan.with_status(&h, "changed"), Vec::<String>::new(), "{h}");
        assert_eq!(
            plan.with_status(&h, "may-change"),
            Vec::<String>::new(),
            "{h}"
        );
    }
}
