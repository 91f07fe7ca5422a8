//! Play keywords `no_log`, `diff`, `check_mode`, `ignore_errors`, `become_exe` and `port`,
//! their inheritance; `check_mode: true` under `apply`; `meta: end_role`; `include_role`'s
//! `public`; `mode: preserve`; `uri`'s `follow_redirects`: run for real on the control machine
//! in a temporary directory.

mod support;

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use support::{local_project as project, local_run as run};

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_default()
}

#[test]
fn play_keywords_reach_every_task_and_the_innermost_level_wins() {
    let dir = project(&[(
        "site.yml",
        r#"- hosts: all
  gather_facts: false
  no_log: true
  diff: false
  ignore_errors: true
  tasks:
    - name: fails, ignored by the play
      command: "false"
    - name: hidden
      debug: {msg: "secret one"}
    - name: shown
      debug: {msg: "plain two"}
      no_log: false
    - block:
        - name: shown by its block
          debug: {msg: "plain three"}
      no_log: false
    - name: no diff
      copy: {content: "a\n", dest: "@DIR@/a"}
      no_log: false
    - name: with diff
      copy: {content: "b\n", dest: "@DIR@/b"}
      diff: true
      no_log: false
    - name: still there
      copy: {content: "c\n", dest: "@DIR@/c"}
"#,
    )]);
    let p = run(dir.path(), "plan", &[]);
    assert_eq!(p.code, 0, "{}\n{}", p.stdout, p.stderr);
    assert!(
        p.task("here", "no diff").get("diff").is_none(),
        "{}",
        p.stdout
    );
    assert!(
        p.task("here", "with diff")["diff"].is_string(),
        "{}",
        p.stdout
    );
    let r = run(dir.path(), "apply", &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(!r.stdout.contains("secret one"), "{}", r.stdout);
    assert!(r.task_msg("here", "shown").contains("plain two"));
    assert!(
        r.task_msg("here", "shown by its block")
            .contains("plain three")
    );
    // The failure was ignored: the play went on.
    assert_eq!(read(dir.path(), "c"), "c\n");
    assert_eq!(r.host_status("here"), "changed");
}

#[test]
fn check_mode_true_plans_a_task_under_apply_and_false_runs_one_in_a_plan() {
    let dir = project(&[(
        "site.yml",
        r#"- hosts: all
  gather_facts: false
  tasks:
    - name: planned only
      copy: {content: "new\n", dest: "@DIR@/planned"}
      check_mode: true
      register: r
    - name: not run
      command: touch @DIR@/touched
      check_mode: true
    - block:
        - set_fact: {inside: "{{ ansible_check_mode }}"}
      check_mode: true
    - name: report
      copy:
        content: "{{ r.changed }} {{ inside }} {{ ansible_check_mode }}\n"
        dest: "@DIR@/report"
- hosts: all
  gather_facts: false
  check_mode: true
  tasks:
    - name: planned by the play
      copy: {content: "x\n", dest: "@DIR@/play_planned"}
    - name: runs anyway
      shell: echo "{{ ansible_check_mode }}" > @DIR@/ran
      check_mode: false
"#,
    )]);
    let r = run(dir.path(), "apply", &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(!dir.path().join("planned").exists());
    assert!(!dir.path().join("touched").exists());
    assert!(!dir.path().join("play_planned").exists());
    assert_eq!(read(dir.path(), "report"), "True True False\n");
    assert_eq!(read(dir.path(), "ran"), "False\n");
    assert_eq!(
        r.task("here", "planned only")["status"],
        "changed",
        "{}",
        r.stdout
    );
    assert!(r.task_msg("here", "planned only").contains("planned only"));
    // The file a check-mode task would change: once it exists, it is ok.
    std::fs::write(dir.path().join("planned"), "new\n").unwrap();
    let r = run(dir.path(), "apply", &[]);
    assert_eq!(r.task("here", "planned only")["status"], "ok");
    // In a plan, a `check_mode: false` command (from its block) runs, and knows it is not in
    // check mode; the `debug` beside it too.
    let dir = project(&[(
        "site.yml",
        r#"- hosts: all
  gather_facts: false
  tasks:
    - block:
        - shell: echo "{{ ansible_check_mode }}" > @DIR@/ran
        - debug: {msg: "in check mode: {{ ansible_check_mode }}"}
          name: says
      check_mode: false
    - copy: {content: "{{ ansible_check_mode }}\n", dest: "@DIR@/planned"}
"#,
    )]);
    let p = run(dir.path(), "plan", &[]);
    assert_eq!(p.code, 0, "{}\n{}", p.stdout, p.stderr);
    assert_eq!(read(dir.path(), "ran"), "False\n");
    assert_eq!(p.task_msg("here", "says"), "in check mode: False");
    assert!(!dir.path().join("planned").exists());
}

#[test]
fn end_role_skips_the_rest_of_that_role_only() {
    let dir = project(&[
        (
            "roles/early/tasks/main.yml",
            r#"- shell: echo "{{ tag }} a" >> @DIR@/out
- meta: end_role
  when: stop
- shell: echo "{{ tag }} b" >> @DIR@/out
- import_role: {name: inner}
"#,
        ),
        (
            "roles/inner/tasks/main.yml",
            "- shell: echo \"{{ tag }} inner\" >> @DIR@/out\n",
        ),
        (
            "site.yml",
            r#"- hosts: all
  gather_facts: false
  roles:
    - {role: early, tag: one, stop: true}
  tasks:
    - include_role: {name: early, public: false}
      vars: {tag: two, stop: false}
    - shell: echo "play c" >> @DIR@/out
"#,
        ),
    ]);
    let r = run(dir.path(), "apply", &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(
        read(dir.path(), "out"),
        "one a\ntwo a\ntwo b\ntwo inner\nplay c\n"
    );
}

#[test]
fn become_exe_and_port_reach_how_a_task_runs() {
    // A stand-in for sudo that logs its arguments and runs the command as it is.
    let dir = project(&[
        (
            "fake-sudo",
            "#!/bin/sh\nprintf '%s %s %s %s\\n' \"$1\" \"$2\" \"$3\" \"$4\" >> @DIR@/sudo.log\nwhile [ \"$1\" != -- ]; do shift; done; shift\nexec \"$@\"\n",
        ),
        (
            "site.yml",
            r#"- hosts: here
  gather_facts: false
  become: true
  become_user: nobody
  become_exe: "@DIR@/fake-sudo"
  tasks:
    - shell: echo ran >> @DIR@/out
- hosts: remote
  gather_facts: false
  port: 1
  tasks:
    - name: over ssh
      command: "true"
"#,
        ),
        (
            "local.ini",
            "here ansible_connection=local\n[remote]\nnoport ansible_host=127.0.0.1\nport2 ansible_host=127.0.0.1 ansible_port=2\n",
        ),
    ]);
    let exe = dir.path().join("fake-sudo");
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    let r = run(dir.path(), "apply", &["--limit", "here"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(read(dir.path(), "out"), "ran\n");
    // Every script (the probe, the task) went through it.
    let log = read(dir.path(), "sudo.log");
    assert!(
        !log.is_empty() && log.lines().all(|l| l == "-n -H -u nobody"),
        "{log}"
    );
    // The play's port where the inventory sets none; the inventory's ansible_port wins.
    let r = run(dir.path(), "apply", &[]);
    let all = format!("{}{}", r.stdout, r.stderr);
    assert!(all.contains("127.0.0.1:1"), "{all}");
    assert!(all.contains("127.0.0.1:2"), "{all}");
}

#[test]
fn mode_preserve_takes_the_source_files_mode() {
    let dir = project(&[
        ("files/run.sh", "#!/bin/sh\n"),
        ("templates/app.conf.j2", "port={{ 80 }}\n"),
        ("src/remote.txt", "remote\n"),
        (
            "site.yml",
            r#"- hosts: all
  gather_facts: false
  tasks:
    - copy: {src: run.sh, dest: "@DIR@/out/run", mode: preserve}
    - template: {src: app.conf.j2, dest: "@DIR@/out/app.conf", mode: preserve}
    - copy: {src: "@DIR@/src/remote.txt", dest: "@DIR@/out/remote", remote_src: true, mode: preserve}
"#,
        ),
    ]);
    let set = |p: &str, m: u32| {
        std::fs::set_permissions(dir.path().join(p), std::fs::Permissions::from_mode(m)).unwrap()
    };
    set("files/run.sh", 0o750);
    set("templates/app.conf.j2", 0o640);
    set("src/remote.txt", 0o604);
    std::fs::create_dir(dir.path().join("out")).unwrap();
    let r = run(dir.path(), "apply", &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let mode = |p: &str| {
        std::fs::metadata(dir.path().join(p))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777
    };
    assert_eq!(
        (mode("out/run"), mode("out/app.conf"), mode("out/remote")),
        (0o750, 0o640, 0o604)
    );
    // A mode changed by hand goes back to the source's.
    set("out/run", 0o600);
    let r = run(dir.path(), "apply", &[]);
    assert_eq!(r.with_status("here", "changed").len(), 1, "{}", r.stdout);
    assert_eq!(mode("out/run"), 0o750);
    let r = run(dir.path(), "apply", &[]);
    assert!(r.with_status("here", "changed").is_empty(), "{}", r.stdout);
}

/// An HTTP server on a local port: `/old` moves to `/new` (301), `/temp` to `/new` (307),
/// `/new` answers 200 with the method it got.
fn redirecting_server() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let mut buf = [0u8; 4096];
            let n = s.read(&mut buf).unwrap_or(0);
            let text = String::from_utf8_lossy(&buf[..n]).to_string();
            let mut first = text.split_whitespace();
            let (method, path) = (first.next().unwrap_or(""), first.next().unwrap_or(""));
            let answer = match path {
                "/old" => "HTTP/1.0 301 Moved\r\nLocation: /new\r\n\r\n".to_string(),
                "/temp" => format!(
                    "HTTP/1.0 307 Temporary\r\nLocation: http://127.0.0.1:{port}/new\r\n\r\n"
                ),
                _ => format!("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n{method}"),
            };
            let _ = s.write_all(answer.as_bytes());
        }
    });
    port
}

#[test]
fn uri_follows_redirects_as_ansible_does() {
    let port = redirecting_server();
    let site = r#"- hosts: all
  gather_facts: false
  vars: {base: "http://127.0.0.1:@PORT@"}
  tasks:
    - uri: {url: "{{ base }}/old", return_content: true}
      register: safe
    - uri: {url: "{{ base }}/old", follow_redirects: none, status_code: 301}
      register: nofollow
    - uri: {url: "{{ base }}/old", method: POST, body: x, status_code: 301}
      register: post_safe
    - uri: {url: "{{ base }}/old", method: POST, body: x, follow_redirects: all, return_content: true}
      register: post_all
    - uri: {url: "{{ base }}/temp", method: POST, body: x, follow_redirects: yes, return_content: true}
      register: post_307
    - copy:
        dest: "@DIR@/out"
        content: |
          {{ safe.status }} {{ safe.redirected }} {{ safe.url }} {{ safe.content }}
          {{ nofollow.status }} {{ nofollow.redirected }} {{ nofollow.url }}
          {{ post_safe.status }} {{ post_safe.redirected }}
          {{ post_all.status }} {{ post_all.content }}
          {{ post_307.status }} {{ post_307.content }}
"#
    .replace("@PORT@", &port.to_string());
    let dir = project(&[("site.yml", &site)]);
    let r = run(dir.path(), "apply", &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let b = format!("http://127.0.0.1:{port}");
    assert_eq!(
        read(dir.path(), "out"),
        format!("200 True {b}/new GET\n301 False {b}/old\n301 False\n200 GET\n200 POST\n")
    );
}

/// A module's string argument given a boolean or a number is Python's `str` of it, as Ansible
/// converts it (checked against ansible-core 2.19: `content: "{{ flag }}\n"` writes `True`, the
/// one expression keeping its type and so dropping the newline; `x{{ flag }}\n` writes
/// `xTrue\n`).
#[test]
fn a_string_argument_given_a_boolean_is_written_as_python_prints_it() {
    let dir = project(&[(
        "site.yml",
        r#"- hosts: all
  gather_facts: false
  vars: {flag: true, off: false, n: 5}
  tasks:
    - copy: {content: "{{ flag }}\n", dest: "@DIR@/o1"}
    - copy: {content: "x{{ flag }}\n", dest: "@DIR@/o2"}
    - copy: {content: "{{ n }}\n", dest: "@DIR@/o3"}
    - lineinfile: {path: "@DIR@/o4", line: "{{ off }}", create: true}
"#,
    )]);
    let r = run(dir.path(), "apply", &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(read(dir.path(), "o1"), "True");
    assert_eq!(read(dir.path(), "o2"), "xTrue\n");
    assert_eq!(read(dir.path(), "o3"), "5");
    assert_eq!(read(dir.path(), "o4"), "False\n");
}

/// `run_once` and `throttle` on the play reach every task (a task's own `throttle` wins), as
/// Ansible's play keywords do; `run_once` on the play or a block with a `register` is refused at
/// the task.
#[test]
fn play_run_once_and_throttle_reach_every_task() {
    let dir = project(&[
        (
            "site.yml",
            r#"- hosts: all
  gather_facts: false
  run_once: true
  throttle: 1
  tasks:
    - name: first
      shell: echo "one {{ inventory_hostname }}" >> @DIR@/log
    - name: second
      shell: echo "two {{ inventory_hostname }}" >> @DIR@/log
      throttle: 2
"#,
        ),
        (
            "bad.yml",
            r#"- hosts: all
  gather_facts: false
  run_once: true
  tasks:
    - name: registers
      command: "true"
      register: out
"#,
        ),
        (
            "block.yml",
            r#"- hosts: all
  gather_facts: false
  tasks:
    - block:
        - name: registers
          command: "true"
          register: out
      run_once: true
"#,
        ),
        (
            "two.ini",
            "a ansible_connection=local\nb ansible_connection=local\n",
        ),
    ]);
    let r = support::plumb(
        dir.path(),
        &["apply", "site.yml", "-i", "two.ini", "--output", "json"],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(read(dir.path(), "log"), "one a\ntwo a\n");
    assert_eq!(
        r.task("b", "first")["msg"],
        "run_once: runs on a",
        "{}",
        r.stdout
    );
    let bad = support::plumb(dir.path(), &["validate", "bad.yml", "-i", "two.ini"]);
    assert_eq!(bad.code, 4, "{}\n{}", bad.stdout, bad.stderr);
    assert!(
        bad.stderr.contains("bad.yml:5:7")
            && bad
                .stderr
                .contains("`run_once` (on the play) with `register: out`"),
        "{}",
        bad.stderr
    );
    let block = support::plumb(dir.path(), &["validate", "block.yml", "-i", "two.ini"]);
    assert_eq!(block.code, 4, "{}\n{}", block.stdout, block.stderr);
    assert!(
        block.stderr.contains("block.yml:5:11")
            && block
                .stderr
                .contains("`run_once` (around the task) with `register: out`"),
        "{}",
        block.stderr
    );
}

/// A task's name is rendered with the host's variables as the task starts (play, host and
/// task `vars`, registered results), as Ansible's banner is; a name that cannot render then,
/// such as one reading `item`, is shown as written. A handler says the rendered name.
#[test]
fn task_names_are_rendered_as_the_task_starts() {
    let dir = project(&[
        (
            "site.yml",
            r#"- hosts: all
  gather_facts: false
  vars:
    app: shop
  tasks:
    - name: "deploy {{ app }}"
      copy: {content: "x\n", dest: "@DIR@/x"}
      notify: reload
    - name: "listen on {{ port }}"
      vars: {port: 8080}
      command: "echo {{ port }}"
      register: out
    - name: "after {{ out.stdout }} and {{ out.stdout }}"
      debug: {msg: ok}
    - name: "each {{ item }}"
      debug: {msg: "{{ item }}"}
      loop: [a]
    - name: "{{ nowhere }} stays"
      debug: {msg: fine}
  handlers:
    - name: reload
      debug: {msg: reloaded}
"#,
        ),
        ("local.ini", "here ansible_connection=local\n"),
    ]);
    let r = run(dir.path(), "apply", &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let names: Vec<String> = r.statuses("here").into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "deploy shop",
            "listen on 8080",
            "after 8080 and 8080",
            "each {{ item }}",
            "{{ nowhere }} stays",
            "handler: reload"
        ],
        "{}",
        r.stdout
    );
    assert!(
        r.task_msg("here", "reload")
            .contains("notified by: deploy shop"),
        "{}",
        r.stdout
    );
    // The human output says the same.
    let h = support::plumb(dir.path(), &["plan", "site.yml", "-i", "local.ini"]);
    assert!(h.stdout.contains("deploy shop"), "{}", h.stdout);
}

/// `no_log` may be a template (on a task, block or play), judged on each host as the task
/// starts, as Ansible does.
#[test]
fn a_templated_no_log_is_judged_per_host() {
    let dir = project(&[(
        "site.yml",
        r#"- hosts: all
  gather_facts: false
  vars: {quiet: true, loud: false}
  tasks:
    - name: hidden
      debug: {msg: secret one}
      no_log: "{{ quiet }}"
    - name: shown
      debug: {msg: plain one}
      no_log: "{{ loud }}"
    - block:
        - name: hidden by its block
          command: echo secret two
      no_log: "{{ quiet and not loud }}"
"#,
    )]);
    for cmd in ["plan", "apply"] {
        let r = run(dir.path(), cmd, &[]);
        assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
        assert!(!r.stdout.contains("secret"), "{cmd}: {}", r.stdout);
        assert_eq!(r.task_msg("here", "shown"), "plain one", "{cmd}");
    }
    let r = run(dir.path(), "apply", &["-e", "quiet=false"]);
    assert!(r.stdout.contains("secret one"), "{}", r.stdout);
}

/// A `notify` and a handler's name may be templates, rendered with the host's variables, as
/// in Ansible; a notify that then names no handler fails its task.
#[test]
fn templated_notify_and_handler_names() {
    let dir = project(&[(
        "site.yml",
        r#"- hosts: all
  gather_facts: false
  vars: {svc: web, other: db}
  tasks:
    - name: conf
      copy: {content: "x\n", dest: "@DIR@/conf"}
      notify: ["restart {{ svc }}", "reload {{ other }}"]
    - name: unknown
      copy: {content: "y\n", dest: "@DIR@/other"}
      notify: "restart {{ svc }}2"
      ignore_errors: true
  handlers:
    - name: restart web
      debug: {msg: web restarted}
    - name: "reload {{ other }}"
      debug: {msg: db reloaded}
"#,
    )]);
    let r = run(dir.path(), "apply", &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.task_msg("here", "restart web")
            .starts_with("web restarted")
    );
    assert!(r.task_msg("here", "reload db").starts_with("db reloaded"));
    let msg = r.task_msg("here", "unknown");
    assert!(msg.contains("no handler named `restart web2`"), "{msg}");
}
