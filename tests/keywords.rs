//! Ansible's task and play keywords, run for real on the control machine
//! (`ansible_connection=local`) in a temporary directory, written in the idioms public roles use.

mod support;

use std::path::Path;
use support::{Run, plumb};

/// Writes `files` (name, text) into a fresh directory with a local inventory; `@DIR@` in a
/// text is that directory.
fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("local.ini"),
        "here ansible_connection=local\n",
    )
    .unwrap();
    for (name, text) in files {
        let p = dir.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text.replace("@DIR@", &dir.path().display().to_string())).unwrap();
    }
    dir
}

fn run(dir: &Path, cmd: &str, extra: &[&str]) -> Run {
    let mut args = vec![cmd, "site.yml", "-i", "local.ini", "--output", "json"];
    args.extend_from_slice(extra);
    plumb(dir, &args)
}

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
