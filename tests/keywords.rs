//! Ansible's task and play keywords, run for real on the control machine
//! (`ansible_connection=local`) in a temporary directory, written in the idioms public roles use.

mod support;

use std::path::Path;
use support::{Run, local_project as project, local_run as run, plumb};

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn applied(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = project(files);
    let r = run(dir.path(), "apply", &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    dir
}

#[test]
fn with_loops_go_through_their_lookups() {
    let dir = applied(&[
        (
            "site.yml",
            r#"- hosts: all
  vars:
    users:
      alice: {shell: /bin/bash}
      bob: {shell: /bin/sh}
    accounts:
      - name: carol
        keys: [k1, k2]
      - name: dave
        keys: [k3]
    out: "@DIR@/out"
  tasks:
    - name: items flatten one level
      shell: echo "items {{ item }}" >> {{ out }}
      with_items:
        - a
        - [b, c]
    - name: dict
      shell: echo "dict {{ item.key }} {{ item.value.shell }}" >> {{ out }}
      with_dict: "{{ users }}"
    - name: subelements
      shell: echo "sub {{ item.0.name }} {{ item.1 }}" >> {{ out }}
      with_subelements:
        - "{{ accounts }}"
        - keys
    - name: nested
      shell: echo "nested {{ item[0] }}{{ item[1] }}" >> {{ out }}
      with_nested:
        - [x, y]
        - [1, 2]
    - name: together
      shell: echo "together {{ item.0 }}{{ item.1 }}" >> {{ out }}
      with_together:
        - [p, q]
        - [7, 8]
    - name: sequence
      shell: echo "seq {{ item }}" >> {{ out }}
      with_sequence: start=1 end=3 format=n%02d
    - name: fileglob
      shell: echo "glob {{ item | basename }}" >> {{ out }}
      with_fileglob: "@DIR@/conf.d/*.conf"
    - name: lines
      shell: echo "line {{ item }}" >> {{ out }}
      with_lines: printf 'l1\nl2\n'
    - name: first found
      shell: echo "found {{ item | basename }}" >> {{ out }}
      with_first_found:
        - "@DIR@/vars/{{ ansible_distribution | default('Nothing') }}.yml"
        - "@DIR@/vars/default.yml"
"#,
        ),
        ("conf.d/a.conf", ""),
        ("conf.d/b.conf", ""),
        ("conf.d/c.txt", ""),
        ("vars/default.yml", ""),
    ]);
    let out = read(dir.path(), "out");
    let mut glob: Vec<&str> = out.lines().filter(|l| l.starts_with("glob")).collect();
    glob.sort();
    assert_eq!(glob, ["glob a.conf", "glob b.conf"]);
    let rest: Vec<&str> = out.lines().filter(|l| !l.starts_with("glob")).collect();
    assert_eq!(
        rest,
        [
            "items a",
            "items b",
            "items c",
            "dict alice /bin/bash",
            "dict bob /bin/sh",
            "sub carol k1",
            "sub carol k2",
            "sub dave k3",
            "nested x1",
            "nested x2",
            "nested y1",
            "nested y2",
            "together p7",
            "together q8",
            "seq n01",
            "seq n02",
            "seq n03",
            "line l1",
            "line l2",
            "found default.yml",
        ]
    );
}

#[test]
fn loop_control_names_the_item_and_its_index() {
    let dir = applied(&[(
        "site.yml",
        r#"- hosts: all
  tasks:
    - name: extended
      shell: >
        echo "{{ pkg }} {{ idx }} {{ ansible_loop.index }}/{{ ansible_loop.length }}
        first={{ ansible_loop.first }} last={{ ansible_loop.last }}
        prev={{ ansible_loop.previtem | default('-') }} var={{ ansible_loop_var }}" >> @DIR@/out
      loop: [nginx, git, curl]
      loop_control:
        loop_var: pkg
        index_var: idx
        label: "{{ pkg }}"
        extended: true
        pause: 0
"#,
    )]);
    assert_eq!(
        read(dir.path(), "out"),
        "nginx 0 1/3 first=True last=False prev=- var=pkg\n\
         git 1 2/3 first=False last=False prev=nginx var=pkg\n\
         curl 2 3/3 first=False last=True prev=git var=pkg\n"
    );
}

#[test]
fn action_and_local_action_name_the_module() {
    let dir = applied(&[(
        "site.yml",
        r#"- hosts: all
  tasks:
    - name: string form
      action: copy content=one dest=@DIR@/one
    - name: mapping form
      action:
        module: ansible.builtin.copy
        content: two
        dest: "@DIR@/two"
    - name: local
      local_action: command touch @DIR@/three creates=@DIR@/three
"#,
    )]);
    assert_eq!(read(dir.path(), "one"), "one");
    assert_eq!(read(dir.path(), "two"), "two");
    assert_eq!(read(dir.path(), "three"), "");
}

#[test]
fn free_form_options_are_not_passed_to_the_command() {
    let files = [(
        "site.yml",
        r#"- hosts: all
  tasks:
    - name: args
      command: /bin/sh -c 'echo "$@" > @DIR@/args' sh one two creates=@DIR@/args chdir=@DIR@
    - name: spaced template in key=value
      copy: dest=@DIR@/{{ item }} content="{{ item }} and {{ 'more' }}" mode=0640
      with_items: [f1]
"#,
    )];
    let dir = applied(&files);
    assert_eq!(read(dir.path(), "args"), "one two\n");
    assert_eq!(read(dir.path(), "f1"), "f1 and more");
    // `creates` holds now: the second run changes nothing.
    let r = run(dir.path(), "apply", &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.with_status("here", "changed"), Vec::<String>::new());
}

#[test]
fn pre_tasks_roles_tasks_post_tasks_each_followed_by_their_handlers() {
    let dir = applied(&[
        (
            "site.yml",
            r#"- hosts: all
  vars: {log: "@DIR@/log"}
  post_tasks:
    - name: post
      shell: echo post >> {{ log }}
      notify: after post
  tasks:
    - name: task
      shell: echo task >> {{ log }}
      notify: after tasks
  roles:
    - web
  pre_tasks:
    - name: pre
      shell: echo pre >> {{ log }}
      notify: after pre
  handlers:
    - name: after pre
      shell: echo handler-pre >> {{ log }}
    - name: grouped
      block:
        - name: after tasks
          shell: echo handler-tasks >> {{ log }}
        - name: listener
          shell: echo handler-listen >> {{ log }}
          listen: after post
      when: true
"#,
        ),
        (
            "roles/web/tasks/main.yml",
            "- name: role task\n  shell: echo role >> {{ log }}\n",
        ),
    ]);
    assert_eq!(
        read(dir.path(), "log"),
        "pre\nhandler-pre\nrole\ntask\nhandler-tasks\npost\nhandler-listen\n"
    );
}

#[test]
fn import_playbook_with_when_and_vars() {
    let dir = applied(&[
        (
            "site.yml",
            r#"- import_playbook: plays/web.yml
  vars: {colour: blue}
- ansible.builtin.import_playbook: plays/web.yml
  when: false
- hosts: all
  tasks:
    - name: last
      shell: echo last >> @DIR@/log
"#,
        ),
        (
            "plays/web.yml",
            r#"- hosts: all
  vars: {colour: red, size: big}
  tasks:
    - name: web
      shell: echo "{{ colour }} {{ size }}" >> @DIR@/log
    - name: relative src is the imported playbook's
      copy: {src: files/a.txt, dest: "@DIR@/copied"}
"#,
        ),
        ("plays/files/a.txt", "from plays\n"),
    ]);
    assert_eq!(read(dir.path(), "log"), "blue big\nlast\n");
    assert_eq!(read(dir.path(), "copied"), "from plays\n");
}

#[test]
fn module_defaults_from_play_block_and_task_by_short_name_and_fqcn() {
    let dir = applied(&[(
        "site.yml",
        r#"- hosts: all
  module_defaults:
    ansible.builtin.copy: {mode: "0600", content: "play\n"}
    command: {chdir: "@DIR@"}
  tasks:
    - name: play's defaults
      copy: {dest: "@DIR@/a"}
    - name: in a block
      block:
        - name: block's over the play's
          ansible.builtin.copy: {dest: "@DIR@/b"}
        - name: task's over the block's, its own over all
          copy: {dest: "@DIR@/c", mode: "0640"}
          module_defaults:
            copy: {content: "task\n", mode: "0604"}
      module_defaults:
        copy: {content: "block\n"}
    - name: relative to chdir
      command: touch made-here
"#,
    )]);
    let mode = |n: &str| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(dir.path().join(n))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(read(dir.path(), "a"), "play\n");
    assert_eq!(read(dir.path(), "b"), "block\n");
    assert_eq!(read(dir.path(), "c"), "task\n");
    assert_eq!((mode("a"), mode("b"), mode("c")), (0o600, 0o600, 0o640));
    assert!(dir.path().join("made-here").exists());
}

/// Runs plumb in a new session, with no terminal to ask on.
fn run_without_tty(dir: &Path, extra: &[&str]) -> Run {
    let mut args = vec![
        env!("CARGO_BIN_EXE_plumb"),
        "apply",
        "site.yml",
        "-i",
        "local.ini",
        "--output",
        "json",
    ];
    args.extend_from_slice(extra);
    let out = std::process::Command::new("setsid")
        .args(&args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("PLUMB_RETRY_DIR", dir)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("setsid plumb");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn vars_prompt_takes_extra_vars_and_needs_a_terminal_otherwise() {
    let dir = project(&[(
        "site.yml",
        r#"- hosts: all
  vars_prompt:
    - name: release
      prompt: Which release?
      private: false
      default: main
    - name: db_password
      prompt: Database password
  tasks:
    - name: write
      copy: {content: "{{ release }} {{ db_password }}", dest: "@DIR@/answers"}
"#,
    )]);
    let r = run_without_tty(dir.path(), &["-e", "release=v2", "-e", "db_password=s3"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(read(dir.path(), "answers"), "v2 s3");
    let r = run_without_tty(dir.path(), &["-e", "db_password=s3"]);
    assert_ne!(r.code, 0);
    assert!(
        r.stderr
            .contains("`vars_prompt` asks for `release`, but there is no terminal")
            && r.stderr.contains("site.yml:3:7")
            && r.stderr.contains("-e release=VALUE"),
        "{}",
        r.stderr
    );
}

#[test]
fn fqcn_task_keywords() {
    let dir = applied(&[
        (
            "site.yml",
            r#"- hosts: all
  tasks:
    - ansible.builtin.import_tasks: tasks/a.yml
    - ansible.builtin.include_tasks: {file: tasks/a.yml}
    - ansible.builtin.import_role: {name: web}
    - ansible.builtin.include_role:
        name: web
      vars: {who: other}
"#,
        ),
        (
            "tasks/a.yml",
            "- ansible.builtin.shell: echo a >> @DIR@/log\n",
        ),
        (
            "roles/web/tasks/main.yml",
            "- ansible.builtin.shell: echo \"web {{ who | default('role') }}\" >> @DIR@/log\n",
        ),
    ]);
    assert_eq!(read(dir.path(), "log"), "a\na\nweb role\nweb other\n");
}

#[test]
fn include_tasks_per_system_files_are_chosen_on_the_host() {
    let files = [
        (
            "site.yml",
            r#"- hosts: all
  vars: {log: "@DIR@/log", family: Debian}
  roles: [base]
"#,
        ),
        (
            "roles/base/tasks/main.yml",
            r#"- name: per family
  include_tasks: "setup-{{ family }}.yml"
- include_tasks: setup-Archlinux.yml
  when: family == 'Archlinux'
- name: after
  shell: echo after >> {{ log }}
"#,
        ),
        (
            "roles/base/tasks/setup-Debian.yml",
            "- shell: echo debian >> {{ log }}\n",
        ),
        (
            "roles/base/tasks/setup-Archlinux.yml",
            "- pacman: {name: nginx}\n",
        ),
    ];
    let dir = applied(&files);
    assert_eq!(read(dir.path(), "log"), "debian\nafter\n");
    // Where the unreadable file is reached, the host fails there, saying why.
    let r = run(dir.path(), "apply", &["-e", "family=Archlinux"]);
    assert_ne!(r.code, 0);
    let failed = r.with_status("here", "failed");
    assert_eq!(failed.len(), 1, "{}", r.stdout);
    let msg = r.task_msg("here", &failed[0]);
    assert!(
        msg.contains("unknown module or task keyword `pacman`"),
        "{msg}"
    );
    // A name that renders to no file fails as in Ansible.
    let r = run(dir.path(), "apply", &["-e", "family=Gentoo"]);
    assert_ne!(r.code, 0);
    let failed = r.with_status("here", "failed");
    let msg = r.task_msg("here", &failed[0]);
    assert!(
        msg.contains("no task file for `setup-{{ family }}.yml` on this host")
            && msg.contains("setup-Archlinux.yml, setup-Debian.yml"),
        "{msg}"
    );
}

#[test]
fn implicit_localhost_is_the_control_machine_and_not_in_all() {
    let dir = project(&[
        ("remote.ini", "[web]\nweb1 ansible_host=192.0.2.1\n"),
        (
            "site.yml",
            r#"- hosts: localhost
  gather_facts: false
  tasks:
    - name: on the control machine
      copy: {content: "local\n", dest: "@DIR@/out"}
"#,
        ),
    ]);
    let r = plumb(
        dir.path(),
        &["apply", "site.yml", "-i", "remote.ini", "--output", "json"],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(read(dir.path(), "out"), "local\n");
    // `all` is the inventory's hosts only: web1 (unreachable here) is listed, localhost not.
    let r = plumb(dir.path(), &["inventory", "-i", "remote.ini", "--list"]);
    assert!(!r.stdout.contains("localhost"), "{}", r.stdout);
}

#[test]
fn templated_ignore_errors_is_evaluated_on_the_host() {
    let dir = project(&[(
        "site.yml",
        r#"- hosts: all
  gather_facts: false
  tasks:
    - name: may fail
      command: /bin/false
      ignore_errors: "{{ tolerant | bool }}"
    - name: after
      copy: {content: "reached\n", dest: "@DIR@/after"}
"#,
    )]);
    let r = run(dir.path(), "apply", &["-e", "tolerant=no"]);
    assert_ne!(r.code, 0, "{}", r.stdout);
    assert!(!dir.path().join("after").exists());
    let r = run(dir.path(), "apply", &["-e", "tolerant=yes"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.task_msg("here", "may fail")
            .contains("(ignored: ignore_errors is set)")
    );
    assert_eq!(read(dir.path(), "after"), "reached\n");
}

#[test]
fn run_once_runs_on_the_batchs_first_host() {
    let dir = project(&[(
        "site.yml",
        r#"- hosts: all
  gather_facts: false
  tasks:
    - name: migrate
      shell: echo "once {{ inventory_hostname }}" >> @DIR@/log
      run_once: true
    - name: every host
      shell: echo "each {{ inventory_hostname }}" >> @DIR@/log-{{ inventory_hostname }}
"#,
    )]);
    std::fs::write(
        dir.path().join("two.ini"),
        "a ansible_connection=local\nb ansible_connection=local\n",
    )
    .unwrap();
    let r = plumb(
        dir.path(),
        &["apply", "site.yml", "-i", "two.ini", "--output", "json"],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(read(dir.path(), "log"), "once a\n");
    assert_eq!(r.task_msg("b", "migrate"), "run_once: runs on a");
    assert_eq!(read(dir.path(), "log-b"), "each b\n");
}

#[test]
fn include_role_tasks_from() {
    let dir = applied(&[
        (
            "site.yml",
            r#"- hosts: all
  gather_facts: false
  tasks:
    - ansible.builtin.include_role:
        name: app
        tasks_from: install
    - import_role: {name: app, tasks_from: configure.yml}
    - include_role: {name: app}
"#,
        ),
        (
            "roles/app/tasks/main.yml",
            "- shell: echo main >> @DIR@/log\n",
        ),
        (
            "roles/app/tasks/install.yml",
            "- shell: echo install >> @DIR@/log\n",
        ),
        (
            "roles/app/tasks/configure.yml",
            "- shell: echo configure >> @DIR@/log\n",
        ),
    ]);
    assert_eq!(read(dir.path(), "log"), "install\nconfigure\nmain\n");
}

#[test]
fn any_errors_fatal_on_a_block_stops_every_host() {
    let dir = project(&[(
        "site.yml",
        r#"- hosts: all
  gather_facts: false
  tasks:
    - name: checks
      any_errors_fatal: true
      block:
        - name: must hold
          command: /bin/false
    - name: never
      shell: echo "{{ inventory_hostname }}" >> @DIR@/never
"#,
    )]);
    // Both hosts are this machine: plumb's host lock lets one run at a time, so the second
    // starts after the first has failed.
    std::fs::write(
        dir.path().join("two.ini"),
        "a ansible_connection=local\nb ansible_connection=local\n",
    )
    .unwrap();
    let r = plumb(
        dir.path(),
        &["apply", "site.yml", "-i", "two.ini", "--output", "json"],
    );
    assert_ne!(r.code, 0);
    assert!(!dir.path().join("never").exists());
    let ran: Vec<&str> = ["a", "b"]
        .into_iter()
        .filter(|h| {
            r.with_status(h, "failed")
                .contains(&"must hold".to_string())
        })
        .collect();
    assert_eq!(ran.len(), 1, "{}", r.stdout);
    let other = if ran[0] == "a" { "b" } else { "a" };
    assert!(
        r.host_msg(other).contains("any_errors_fatal"),
        "{}",
        r.stdout
    );
}

#[test]
fn assert_and_fail_stop_a_host_as_in_ansible() {
    let dir = applied(&[(
        "site.yml",
        r#"- hosts: all
  gather_facts: false
  vars:
    app_port: 8000
  tasks:
    - name: the port is sane
      ansible.builtin.assert:
        that:
          - app_port | int > 1024
          - app_port is number
        success_msg: port ok
    - ansible.builtin.copy:
        dest: "@DIR@/after-assert"
        content: "ran\n"
"#,
    )]);
    assert_eq!(read(dir.path(), "after-assert"), "ran\n");

    let dir = project(&[(
        "site.yml",
        r#"- hosts: all
  gather_facts: false
  vars:
    app_port: 80
  tasks:
    - assert:
        that: app_port | int > 1024
        fail_msg: "app_port must be above 1024"
      register: checked
      ignore_errors: true
    - copy:
        dest: "@DIR@/assertion"
        content: "{{ checked.assertion }}\n"
    - fail:
        msg: "stopping here"
      when: checked is failed
    - copy:
        dest: "@DIR@/never"
        content: "no\n"
"#,
    )]);
    let r = run(dir.path(), "apply", &[]);
    assert_ne!(r.code, 0, "{}", r.stdout);
    assert!(
        r.stdout.contains("app_port must be above 1024"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("stopping here"), "{}", r.stdout);
    assert_eq!(
        read(dir.path(), "assertion").trim_end(),
        "app_port | int > 1024"
    );
    assert!(!dir.path().join("never").exists());
}

#[test]
fn an_omitted_argument_is_left_out_also_in_a_loop() {
    let dir = applied(&[(
        "site.yml",
        r#"- hosts: all
  gather_facts: false
  tasks:
    - file:
        path: "@DIR@/d{{ item }}"
        state: directory
        mode: "{{ '0700' if item == 1 else omit }}"
      loop: [1, 2]
    - copy:
        content: "x"
        dest: "@DIR@/f"
        mode: "{{ nothing | default(omit) }}"
"#,
    )]);
    use std::os::unix::fs::PermissionsExt;
    let mode = |n: &str| {
        std::fs::metadata(dir.path().join(n))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode("d1"), 0o700);
    assert_ne!(mode("d2"), 0o700, "the omitted mode is the default one");
    assert_eq!(read(dir.path(), "f"), "x");
    let again = run(dir.path(), "apply", &[]);
    assert_eq!(again.code, 0, "{}", again.stdout);
    assert_eq!(again.with_status("here", "changed"), Vec::<String>::new());
}
