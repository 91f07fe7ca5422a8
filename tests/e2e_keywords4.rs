//! Keywords on real hosts: the play's `port` (below the inventory's `ansible_port`),
//! `become_exe`, `no_log` and `ignore_errors` on a play, `check_mode: true` under `apply` (on a
//! task and a play), `meta: end_role`, `mode: preserve` and `uri` following a redirect from
//! the host; converged on a second run.

mod support;

use support::{Hosts, apply_json};

#[test]
fn play_keywords_check_mode_end_role_preserve_and_redirects_on_two_hosts() {
    let ks = [184, 185];
    let _hosts = Hosts::up(&ks);
    let dir = tempfile::tempdir().unwrap();
    // h185's inventory says port 22: the play's `port` does not win over it.
    let key = Hosts::key().display().to_string();
    let inv = dir.path().join("inventory.ini");
    std::fs::write(
        &inv,
        format!(
            "[web]\nh184 ansible_host={} ansible_user=root ansible_ssh_private_key_file={key}\n\
             h185 ansible_host={} ansible_user=root ansible_ssh_private_key_file={key} ansible_port=22\n",
            Hosts::ip(184),
            Hosts::ip(185)
        ),
    )
    .unwrap();
    let put = |name: &str, text: &str, mode: u32| {
        use std::os::unix::fs::PermissionsExt;
        let p = dir.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    put("files/tool.sh", "#!/bin/sh\necho tool\n", 0o750);
    put(
        "templates/app.conf.j2",
        "host={{ inventory_hostname }}\n",
        0o640,
    );
    put(
        "roles/stepped/tasks/main.yml",
        "- copy: {content: \"a\\n\", dest: /tmp/kw4-role-a}\n\
         - meta: end_role\n  when: inventory_hostname == 'h184'\n\
         - copy: {content: \"b\\n\", dest: /tmp/kw4-role-b}\n",
        0o644,
    );
    // A second sshd on port 2222, and a python web server on each host: `/sub` is redirected
    // to `/sub/` (301).
    for k in ks {
        Hosts::sh(k, "mkdir -p /run/sshd && /usr/sbin/sshd -p 2222");
        Hosts::sh(
            k,
            "mkdir -p /tmp/www/sub && echo hello > /tmp/www/sub/index.html && \
             (setsid python3 -m http.server 8099 --bind 127.0.0.1 --directory /tmp/www \
             >/dev/null 2>&1 < /dev/null &) && sleep 1",
        );
    }
    put(
        "site.yml",
        r#"- hosts: all
  gather_facts: false
  tasks:
    - name: a become program
      copy:
        dest: /usr/local/bin/kw4-sudo
        mode: "0755"
        content: |
          #!/bin/sh
          printf '%s\n' "$*" | cut -c1-20 >> /tmp/kw4-sudo.log
          exec sudo "$@"
    - name: tool
      copy: {src: tool.sh, dest: /usr/local/bin/kw4-tool, mode: preserve}
    - name: app conf
      template: {src: app.conf.j2, dest: /etc/kw4-app.conf, mode: preserve}
    - name: source mode
      copy: {content: "src\n", dest: /etc/kw4-src, mode: "0604"}
    - name: remote copy
      copy: {src: /etc/kw4-src, dest: /etc/kw4-dst, remote_src: true, mode: preserve}

- hosts: all
  gather_facts: false
  port: 2222
  become: true
  become_user: nobody
  become_exe: /usr/local/bin/kw4-sudo
  no_log: true
  ignore_errors: true
  roles:
    - stepped
  tasks:
    - name: which port
      shell: echo "${SSH_CONNECTION##* }"
      register: port
      changed_when: false
      become: false
    - name: who
      command: id -un
      register: who
      changed_when: false
      become: "{{ inventory_hostname == 'h184' }}"
    - name: fails, ignored by the play
      command: "false"
      become: false
    - name: secret
      debug: {msg: "kw4 secret value"}
    - name: record
      copy: {content: "{{ port.stdout }} {{ who.stdout }}\n", dest: /tmp/kw4-where}
      become: false
    - name: planned only
      copy: {content: "never\n", dest: /tmp/kw4-planned}
      check_mode: true
      become: false
      register: planned
    - name: says
      copy: {content: "said {{ planned.changed }}\n", dest: /tmp/kw4-planned-said}
      become: false
    - name: follow
      uri: {url: "http://127.0.0.1:8099/sub", return_content: true}
      register: page
      become: false
    - name: page
      copy: {content: "{{ page.redirected }} {{ page.url }} {{ page.content }}", dest: /tmp/kw4-page}
      become: false

- hosts: all
  gather_facts: false
  check_mode: true
  tasks:
    - name: planned by the play
      copy: {content: "never\n", dest: /tmp/kw4-play-planned}
"#,
        0o644,
    );
    let pb = dir.path().join("site.yml").display().to_string();
    let r = apply_json(dir.path(), &pb, &inv, &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(!r.stdout.contains("kw4 secret value"), "{}", r.stdout);
    // `port: 2222` reached h184; h185's ansible_port=22 won. Only h184's task became nobody,
    // through the `become_exe`.
    assert_eq!(Hosts::sh(184, "cat /tmp/kw4-where"), "2222 nobody");
    assert_eq!(Hosts::sh(185, "cat /tmp/kw4-where"), "22 root");
    assert!(Hosts::sh(184, "cat /tmp/kw4-sudo.log").contains("-u nobody"));
    for k in ks {
        // `check_mode: true`: nothing written, the registered result says it would change.
        assert_eq!(Hosts::ssh(k, "test -e /tmp/kw4-planned").0, 1, "h{k}");
        assert_eq!(Hosts::ssh(k, "test -e /tmp/kw4-play-planned").0, 1, "h{k}");
        assert_eq!(Hosts::sh(k, "cat /tmp/kw4-planned-said"), "said True");
        // `mode: preserve`: the control machine's modes, and the host's own source's.
        assert_eq!(
            Hosts::sh(
                k,
                "stat -c %a /usr/local/bin/kw4-tool /etc/kw4-app.conf /etc/kw4-dst"
            ),
            "750\n640\n604"
        );
        assert_eq!(
            Hosts::sh(k, "cat /tmp/kw4-page"),
            "True http://127.0.0.1:8099/sub/ hello"
        );
        assert_eq!(Hosts::sh(k, "cat /tmp/kw4-role-a"), "a");
    }
    // `meta: end_role` on h184 only.
    assert_eq!(Hosts::ssh(184, "test -e /tmp/kw4-role-b").0, 1);
    assert_eq!(Hosts::sh(185, "cat /tmp/kw4-role-b"), "b");

    // Converged: only what check mode plans (it would change, every time, as in Ansible) and
    // the request (a `uri` reports ok) run again; nothing else changes.
    let again = apply_json(dir.path(), &pb, &inv, &[]);
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
    for k in ks {
        assert_eq!(
            again.with_status(&format!("h{k}"), "changed"),
            ["planned only", "planned by the play"],
            "{}",
            again.stdout
        );
    }
}
