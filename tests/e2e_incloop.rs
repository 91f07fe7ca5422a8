//! Looped includes (issue 14) on two real Debian 12 hosts over SSH, logged in as `deploy`
//! (sudo): users made by a looped `include_tasks` with a `loop_var`, one nginx-style conf per
//! site by a looped `include_role` with `apply: {become: true}`, a handler notified from the
//! items; checked with ssh independently of plumb; applied again (nothing changes), then
//! planned with one site changed and one added (exactly those items change).

mod support;

use std::path::Path;
use support::{Hosts, Run, inventory};

const KS: [u32; 2] = [191, 192];

const PLAYBOOK: &str = r#"
- hosts: all
  vars:
    app_users:
      - {name: app1, uid: 2101}
      - {name: app2, uid: 2102}
      - {name: old, uid: 2103, absent: true}
    sites:
      - {name: a.example, port: 80}
      - {name: b.example, port: 8080}
  tasks:
    - name: Create users
      ansible.builtin.include_tasks:
        file: user.yml
        apply: {become: true}
      loop: "{{ app_users }}"
      loop_control:
        loop_var: app_user
        index_var: n
      when: not (app_user.absent | default(false))

    - name: Sites
      include_role:
        name: vhost
        apply:
          become: true
          tags: [web]
      loop: "{{ sites }}"
      loop_control: {loop_var: site}
      # The include itself is taken by `--tags web` (its `apply` tags only its tasks).
      tags: [web]
"#;

const USER_YML: &str = r#"- name: user
  user:
    name: "{{ app_user.name }}"
    uid: "{{ app_user.uid }}"
    shell: /bin/bash
- name: marker
  copy:
    dest: "/home/{{ app_user.name }}/.made-by-plumb"
    content: "{{ app_user.name }} {{ n }}\n"
    owner: "{{ app_user.name }}"
    mode: "0640"
"#;

const VHOST_TASKS: &str = r#"- name: sites dir
  file: {path: /etc/plumbweb/sites, state: directory, mode: "0755"}
- name: site conf
  template:
    src: site.conf.j2
    dest: "/etc/plumbweb/sites/{{ site.name }}.conf"
    mode: "0644"
  notify: reload web
"#;

const VHOST_TEMPLATE: &str = "server {\n    listen {{ site.port }};\n    server_name {{ site.name }};\n    root /srv/{{ site.name }};\n}\n";

const VHOST_HANDLERS: &str = r#"- name: reload web
  shell: echo reload >> /etc/plumbweb/reloads
  become: true
"#;

fn run(dir: &Path, inv: &Path, cmd: &str, extra: &[&str]) -> Run {
    let pb = dir.join("site.yml");
    let mut args = vec!["--host-key-checking", "accept-new", "--output", "json"];
    args.extend_from_slice(extra);
    let r = support::playbook(dir, cmd, pb.to_str().unwrap(), inv, &args);
    assert_eq!(r.code, 0, "{cmd} failed:\n{}\n{}", r.stdout, r.stderr);
    r
}

fn statuses(r: &Run, k: u32) -> Vec<String> {
    r.statuses(&format!("h{k}"))
        .into_iter()
        .map(|(_, s)| s)
        .collect()
}

#[test]
fn looped_includes_make_users_and_sites() {
    let _hosts = Hosts::up(&KS);
    let dir = tempfile::tempdir().unwrap();
    let files = [
        ("site.yml", PLAYBOOK),
        ("user.yml", USER_YML),
        ("roles/vhost/tasks/main.yml", VHOST_TASKS),
        ("roles/vhost/templates/site.conf.j2", VHOST_TEMPLATE),
        ("roles/vhost/handlers/main.yml", VHOST_HANDLERS),
    ];
    for (name, text) in files {
        let p = dir.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    let inv = inventory(dir.path(), &KS, "deploy");

    let apply = run(dir.path(), &inv, "apply", &[]);
    for k in KS {
        // The headers, then each passing item's tasks; `old` is ruled out by the `when`.
        assert_eq!(
            statuses(&apply, k),
            [
                "ok", "changed", "changed", "changed", "changed", // users
                "ok", "changed", "changed", "ok", "changed", // sites
                "changed", // the handler, once
            ],
            "{}",
            apply.stdout
        );
        assert_eq!(
            Hosts::sh(
                k,
                "id -u app1; id -u app2; id -u old 2>/dev/null || echo none"
            ),
            "2101\n2102\nnone"
        );
        assert_eq!(
            Hosts::sh(
                k,
                "stat -c '%U %a' /home/app2/.made-by-plumb; cat /home/app2/.made-by-plumb"
            ),
            "app2 640\napp2 1"
        );
        assert_eq!(
            Hosts::sh(k, "cat /etc/plumbweb/sites/b.example.conf"),
            "server {\n    listen 8080;\n    server_name b.example;\n    root /srv/b.example;\n}"
        );
        // `apply: become` made them root's.
        assert_eq!(
            Hosts::sh(
                k,
                "stat -c %U /etc/plumbweb/sites/a.example.conf; cat /etc/plumbweb/reloads"
            ),
            "root\nreload"
        );
    }

    let again = run(dir.path(), &inv, "apply", &[]);
    for k in KS {
        assert!(
            again.with_status(&format!("h{k}"), "changed").is_empty(),
            "{}",
            again.stdout
        );
    }

    // One site's port changes, one site is added: the plan says so for exactly those items.
    let plan = run(
        dir.path(),
        &inv,
        "plan",
        &[
            "--tags",
            "web",
            "-e",
            r#"{"sites": [{"name": "a.example", "port": 81}, {"name": "b.example", "port": 8080}, {"name": "c.example", "port": 80}]}"#,
        ],
    );
    for k in KS {
        assert_eq!(
            statuses(&plan, k),
            // After a's unmade change under /etc/plumbweb/sites, the plan cannot vouch for
            // the directory (`may-change`, its honest rule for what an earlier change
            // touches); the confs are exact: a changes, b does not, c is new.
            [
                "ok",
                "ok",
                "changed",
                "may-change",
                "ok",
                "may-change",
                "changed",
                "changed", // the handler
            ],
            "{}",
            plan.stdout
        );
        assert_eq!(
            Hosts::sh(k, "ls /etc/plumbweb/sites"),
            "a.example.conf\nb.example.conf"
        );
    }
}
