//! Playbook features that need no remote host, run for real on the control machine
//! (`ansible_connection=local`) in a temporary directory: vars_files, task files, tags.

mod support;

use support::{Run, local_project as project, local_run as run, plumb};

#[test]
fn vars_files_override_play_vars_in_order() {
    let dir = project(&[
        (
            "site.yml",
            "- hosts: all\n  vars: {colour: red, size: small}\n  vars_files:\n    - vars/common.yml\n    - vars/prod.yml\n  tasks:\n    - name: say\n      debug: {msg: \"{{ colour }} {{ size }} {{ port }}\"}\n",
        ),
        ("vars/common.yml", "colour: green\nport: 80\n"),
        ("vars/prod.yml", "port: 8080\n"),
    ]);
    let r = run(dir.path(), "apply", &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.task_msg("here", "say"), "green small 8080");
}

#[test]
fn task_files_are_spliced_in_with_their_when_and_vars() {
    let dir = project(&[
        (
            "site.yml",
            "- hosts: all\n  vars: {who: play}\n  tasks:\n    - name: first\n      debug: {msg: start}\n    - import_tasks: tasks/greet.yml\n      vars: {who: import}\n    - name: not wanted\n      include_tasks:\n        file: tasks/greet.yml\n      when: false\n    - name: last\n      debug: {msg: end}\n",
        ),
        (
            "tasks/greet.yml",
            "- name: greet\n  debug: {msg: \"hello {{ who }}\"}\n- import_tasks: inner.yml\n",
        ),
        (
            "tasks/inner.yml",
            "- name: inner\n  copy: {content: \"{{ who }}\", dest: \"@DIR@/inner.txt\"}\n",
        ),
    ]);
    let r = run(dir.path(), "apply", &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let names: Vec<(String, String)> = r.statuses("here");
    assert_eq!(
        names,
        [
            ("first", "ok"),
            ("greet", "ok"),
            ("inner", "changed"),
            // A dynamic include whose `when` is false is skipped once, as in Ansible.
            ("not wanted", "skipped"),
            ("last", "ok"),
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    assert_eq!(r.task_msg("here", "greet"), "hello import");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("inner.txt")).unwrap(),
        "import"
    );
}

#[test]
fn tags_pick_tasks_with_ansibles_special_tags() {
    let dir = project(&[
        (
            "site.yml",
            "- hosts: all\n  tags: play\n  tasks:\n    - name: web\n      debug: {msg: w}\n      tags: web\n    - name: db\n      debug: {msg: d}\n      tags: [db, data]\n    - name: always\n      debug: {msg: a}\n      tags: always\n    - name: debug only\n      debug: {msg: n}\n      tags: [never, debug]\n    - import_tasks: cache.yml\n      tags: cache\n",
        ),
        ("cache.yml", "- name: cache\n  debug: {msg: c}\n"),
    ]);
    let names = |extra: &[&str]| -> Vec<String> {
        let r = run(dir.path(), "apply", extra);
        assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
        r.statuses("here").into_iter().map(|(n, _)| n).collect()
    };
    assert_eq!(names(&[]), ["web", "db", "always", "cache"]);
    assert_eq!(names(&["--tags", "web"]), ["web", "always"]);
    assert_eq!(names(&["-t", "data,cache"]), ["db", "always", "cache"]);
    assert_eq!(names(&["--tags", "debug"]), ["always", "debug only"]);
    // Inherited tags count as the task's own, as in Ansible: `never` too is picked by them.
    assert_eq!(
        names(&["--tags", "play"]),
        ["web", "db", "always", "debug only", "cache"]
    );
    assert_eq!(
        names(&["--skip-tags", "db", "--skip-tags", "always"]),
        ["web", "cache"]
    );
    assert_eq!(
        names(&["--tags", "all", "--skip-tags", "cache"]),
        ["web", "db", "always"]
    );
    // The same selection in a plan.
    let r = run(dir.path(), "plan", &["--tags", "web"]);
    let planned: Vec<String> = r.statuses("here").into_iter().map(|(n, _)| n).collect();
    assert_eq!(planned, ["web", "always"]);
}

#[test]
fn block_rescue_always() {
    let dir = project(&[(
        "site.yml",
        "- hosts: all\n  tasks:\n    - name: guarded\n      block:\n        - name: try\n          command: \"false\"\n        - name: not reached\n          debug: {msg: no}\n      rescue:\n        - name: recover\n          copy: {content: \"rescued {{ ansible_failed_task.name }} {{ ansible_failed_result.rc }}\", dest: \"@DIR@/r.txt\"}\n      always:\n        - name: cleanup\n          debug: {msg: always}\n    - name: after\n      debug: {msg: after}\n    - block:\n        - name: inner fails\n          command: \"false\"\n      always:\n        - name: last words\n          debug: {msg: bye}\n      when: second | default(false)\n    - name: end\n      debug: {msg: end}\n",
    )]);
    let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    };
    // A failure that the rescue makes up for: the play goes on, the host has not failed.
    let r = run(dir.path(), "apply", &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(
        r.statuses("here"),
        pairs(&[
            ("try", "failed"),
            ("recover", "changed"),
            ("cleanup", "ok"),
            ("after", "ok"),
            ("inner fails", "skipped"),
            ("last words", "skipped"),
            ("end", "ok"),
        ])
    );
    assert_eq!(r.host_status("here"), "changed");
    // A rescue sees what failed, as in Ansible.
    assert_eq!(
        std::fs::read_to_string(dir.path().join("r.txt")).unwrap(),
        "rescued try 1"
    );
    // No rescue: `always` runs, then the host fails and nothing after runs.
    let r = run(dir.path(), "apply", &["-e", "second=true"]);
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.host_status("here"), "failed");
    let ran: Vec<(String, String)> = r.statuses("here").into_iter().skip(4).collect();
    assert_eq!(
        ran,
        pairs(&[("inner fails", "failed"), ("last words", "ok")])
    );
}

#[test]
fn roles_bring_tasks_handlers_defaults_vars_and_files() {
    let dir = project(&[
        (
            "local.ini",
            "here ansible_connection=local port=8080 colour=green\n",
        ),
        (
            "site.yml",
            "- hosts: all\n  vars: {greeting: play}\n  tasks:\n    - name: own task\n      debug: {msg: \"own {{ port }} {{ timeout }}\"}\n    - import_role: {name: db}\n      vars: {db_name: app}\n  roles:\n    - web\n    - cache\n",
        ),
        ("roles/web/meta/main.yml", "dependencies:\n  - common\n"),
        (
            "roles/cache/meta/main.yml",
            "dependencies: [{role: common}]\n",
        ),
        (
            "roles/cache/tasks/main.yml",
            "- name: cache task\n  debug: {msg: cache}\n",
        ),
        (
            "roles/common/tasks/main.yml",
            "- name: common task\n  debug: {msg: common}\n",
        ),
        (
            "roles/web/defaults/main.yml",
            "port: 80\ncolour: blue\ntimeout: 5\n",
        ),
        ("roles/web/vars/main.yml", "colour: red\n"),
        (
            "roles/web/tasks/main.yml",
            "- name: web config\n  template: {src: site.conf.j2, dest: \"@DIR@/site.conf\"}\n  notify: web changed\n- name: web says\n  debug: {msg: \"{{ colour }} {{ port }} {{ greeting }}\"}\n",
        ),
        ("roles/web/templates/site.conf.j2", "listen {{ port }};\n"),
        (
            "roles/web/handlers/main.yml",
            "- name: web changed\n  copy: {src: marker.txt, dest: \"@DIR@/handled.txt\"}\n",
        ),
        ("roles/web/files/marker.txt", "handled\n"),
        (
            "roles/db/tasks/main.yml",
            "- name: db task\n  debug: {msg: \"db {{ db_name }}\"}\n",
        ),
    ]);
    let r = run(dir.path(), "apply", &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let names: Vec<String> = r.statuses("here").into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names[..6],
        [
            "common task",
            "web config",
            "web says",
            "cache task",
            "own task",
            "db task"
        ]
    );
    // Role vars beat the inventory; the inventory beats role defaults, which reach the play.
    assert_eq!(r.task_msg("here", "web says"), "red 8080 play");
    assert_eq!(r.task_msg("here", "own task"), "own 8080 5");
    assert_eq!(r.task_msg("here", "db task"), "db app");
    let read = |f: &str| std::fs::read_to_string(dir.path().join(f)).unwrap();
    assert_eq!(read("site.conf"), "listen 8080;\n");
    assert_eq!(read("handled.txt"), "handled\n");
}

/// A role of `roles:` or a dependency runs once per play for the same parameters; one whose
/// meta allows duplicates runs each time; `import_role` and `include_role` always run it.
#[test]
fn roles_run_once_unless_imported_included_or_duplicates_are_allowed() {
    let dir = project(&[
        (
            "site.yml",
            "- hosts: all\n  gather_facts: false\n  roles:\n    - a\n    - b\n    - common\n    - {role: common, who: other}\n  tasks:\n    - import_role: {name: common}\n    - include_role: {name: common}\n    - include_role: {name: common}\n",
        ),
        ("roles/a/meta/main.yml", "dependencies: [common, again]\n"),
        ("roles/b/meta/main.yml", "dependencies: [common, again]\n"),
        ("roles/a/tasks/main.yml", "- name: a\n  debug: {msg: a}\n"),
        ("roles/b/tasks/main.yml", "- name: b\n  debug: {msg: b}\n"),
        ("roles/again/meta/main.yml", "allow_duplicates: yes\n"),
        (
            "roles/again/tasks/main.yml",
            "- name: again\n  debug: {msg: again}\n",
        ),
        (
            "roles/common/tasks/main.yml",
            "- name: common\n  debug: {msg: \"{{ who | default('me') }}\"}\n",
        ),
    ]);
    let r = run(dir.path(), "apply", &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let names: Vec<String> = r.statuses("here").into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "common", "again", "a", "again", "b", "common", "common", "common", "common"
        ],
        "{}",
        r.stdout
    );
    let msgs: Vec<String> = r.host("here")["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["name"] == "common")
        .map(|t| t["msg"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(msgs, ["me", "other", "me", "me", "me"], "{}", r.stdout);
}

/// `package` takes yum's and dnf's arguments where a role writes them for RedHat: accepted
/// when the task is skipped or the value is `omit`, refused on a host they would reach.
#[test]
fn package_takes_other_managers_arguments_where_they_do_not_reach_apt() {
    let dir = project(&[(
        "site.yml",
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: redhat only\n      package: {name: git, enablerepo: epel}\n      when: false\n    - name: omitted\n      debug: {msg: ok}\n    - name: through omit\n      package: {name: git, enablerepo: \"{{ repo | default(omit) }}\", state: present}\n      when: false\n",
    )]);
    let r = run(dir.path(), "plan", &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let dir = project(&[(
        "site.yml",
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: reaches apt\n      package: {name: git, enablerepo: epel}\n",
    )]);
    let r = run(dir.path(), "plan", &[]);
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    let msg = r.task_msg("here", "reaches apt");
    assert!(
        msg.contains("site.yml:5:40: `enablerepo` is an argument of yum and dnf"),
        "{msg}"
    );
}

/// The facts a module returns are variables for the tasks after it, as Ansible injects them
/// (`services` after `service_facts`): validation takes them as defined.
#[test]
fn module_facts_are_variables_for_validation() {
    let dir = project(&[(
        "site.yml",
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - service_facts:\n    - debug: {msg: yes}\n      when: '\"ssh.service\" in services'\n    - debug: {msg: \"{{ packages | default({}) | length }}\"}\n      when: packages is defined\n    - package_facts:\n",
    )]);
    let r = plumb(dir.path(), &["validate", "site.yml", "-i", "local.ini"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
}

#[test]
fn environment_from_play_block_and_task() {
    let dir = project(&[(
        "site.yml",
        "- hosts: all\n  vars: {who: world}\n  environment: {GREETING: hello, WHO: nobody}\n  tasks:\n    - block:\n        - name: env\n          shell: echo \"$GREETING $WHO $PLACE\"\n          environment: {WHO: \"{{ who }}\"}\n          register: out\n          changed_when: false\n      environment: {PLACE: here}\n    - name: show\n      debug: {msg: \"{{ out.stdout }}\"}\n",
    )]);
    let r = run(dir.path(), "apply", &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.task_msg("here", "show"), "hello world here");
}

#[test]
fn stat_registers_facts_in_plan_and_apply() {
    let dir = project(&[
        ("present.txt", "hello"),
        (
            "site.yml",
            "- hosts: all\n  tasks:\n    - name: look\n      stat: {path: \"@DIR@/present.txt\"}\n      register: st\n    - name: look again\n      stat: {path: \"@DIR@/missing.txt\"}\n      register: st2\n    - name: when present\n      debug: {msg: \"{{ st.stat.size }} {{ st.stat.isreg }} {{ st.stat.checksum }}\"}\n      when: st.stat.exists\n    - name: when missing\n      copy: {content: made, dest: \"@DIR@/missing.txt\"}\n      when: not st2.stat.exists\n    - name: after the change\n      stat: {path: \"@DIR@/missing.txt\"}\n      register: st3\n    - name: show\n      debug: {msg: \"{{ st3.stat.exists }}\"}\n",
        ),
    ]);
    let sha = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
    let statuses =
        |r: &Run| -> Vec<String> { r.statuses("here").into_iter().map(|(_, s)| s).collect() };
    // A dry run reads what it can: `stat` answers, and what reads it is planned, except after
    // a change the plan has not made.
    let plan = run(dir.path(), "plan", &[]);
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
    assert_eq!(
        statuses(&plan),
        ["ok", "ok", "ok", "changed", "may-change", "skipped"]
    );
    assert_eq!(
        plan.task_msg("here", "when present"),
        format!("5 True {sha}")
    );
    assert!(!dir.path().join("missing.txt").exists());
    let apply = run(dir.path(), "apply", &[]);
    assert_eq!(apply.code, 0, "{}\n{}", apply.stdout, apply.stderr);
    assert_eq!(statuses(&apply), ["ok", "ok", "ok", "changed", "ok", "ok"]);
    assert_eq!(apply.task_msg("here", "show"), "true");
    let again = run(dir.path(), "apply", &[]);
    assert_eq!(statuses(&again), ["ok", "ok", "ok", "skipped", "ok", "ok"]);
}

/// The review's C4 reproduction: at -vv the batched probe's script and output are printed
/// before any task runs; a `no_log` task's section must not be (lineinfile's probe holds the
/// file's content in base64), nor anything else of it, in human or JSON output.
#[test]
fn no_log_probe_output_never_printed() {
    use base64::Engine;
    let dir = project(&[(
        "site.yml",
        "- hosts: all\n  tasks:\n    - name: other\n      copy: {content: \"x\\n\", dest: \"@DIR@/other.conf\"}\n    - name: rotate\n      no_log: true\n      lineinfile: {path: \"@DIR@/creds.conf\", regexp: '^db_password=', line: \"db_password={{ new_pw }}\"}\n    - name: also hidden\n      no_log: true\n      copy: {content: \"db_password=N3wSecretValue\\n\", dest: \"@DIR@/creds2.conf\"}\n",
    )]);
    let old = "db_password=Sup3rSecret\n";
    std::fs::write(dir.path().join("creds.conf"), old).unwrap();
    std::fs::write(dir.path().join("creds2.conf"), old).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(old);
    for args in [
        vec![
            "plan",
            "site.yml",
            "-i",
            "local.ini",
            "-vv",
            "--output",
            "json",
        ],
        vec!["plan", "site.yml", "-i", "local.ini", "-vv"],
        vec!["apply", "site.yml", "-i", "local.ini", "-vv", "--diff"],
    ] {
        let mut args = args;
        args.extend(["-e", "new_pw=N3wSecretValue"]);
        let r = plumb(dir.path(), &args);
        let all = format!("{}{}", r.stdout, r.stderr);
        assert!(all.contains("other.conf"), "{args:?}: {all}");
        for secret in ["Sup3rSecret", b64.as_str(), "N3wSecretValue"] {
            assert!(!all.contains(secret), "{args:?} printed {secret}:\n{all}");
        }
        assert!(all.contains("hidden: no_log"), "{args:?}: {all}");
        assert_eq!(r.code, 0, "{args:?}: {all}");
    }
}

#[test]
fn a_rollout_stops_after_a_batch_in_which_every_host_failed() {
    // Ansible stops a play when a whole batch failed, with or without max_fail_percentage: a
    // change that breaks every host must not be rolled through the fleet.
    let dir = project(&[
        (
            "three.ini",
            "a1 ansible_connection=local\na2 ansible_connection=local\na3 ansible_connection=local\n",
        ),
        (
            "site.yml",
            "- hosts: all\n  serial: 1\n  tasks:\n    - name: broken\n      command: /bin/false\n",
        ),
    ]);
    let r = plumb(
        dir.path(),
        &["apply", "site.yml", "-i", "three.ini", "--output", "json"],
    );
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.host_status("a1"), "failed", "{}", r.stdout);
    for h in ["a2", "a3"] {
        assert_eq!(r.host_status(h), "not-run", "{}", r.stdout);
        assert!(r.host_msg(h).contains("every host"), "{}", r.stdout);
    }
}

#[test]
fn a_variable_reading_a_registered_result_is_rendered_when_it_is_there() {
    // Not kept as literal `{{ … }}` text: rendered for each task once the result exists, and
    // the host's output inside it is never rendered again as a template.
    let dir = project(&[(
        "site.yml",
        "- hosts: all\n  vars:\n    greeting: \"{{ r.stdout }} there\"\n    shout: \"{{ greeting | upper }}\"\n    raw: \"{{ braces.stdout }}\"\n  tasks:\n    - name: say\n      command: echo hi\n      register: r\n    - name: show\n      debug: {msg: \"{{ shout }}\"}\n    - name: braces\n      shell: \"echo '{{ '{{' }} greeting }}'\"\n      register: braces\n    - name: raw\n      debug: {msg: \"{{ raw }}\"}\n",
    )]);
    let r = run(dir.path(), "apply", &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.task_msg("here", "show"), "HI THERE");
    assert_eq!(r.task_msg("here", "raw"), "{{ greeting }}");
}

#[test]
fn task_vars_are_rendered_and_may_read_the_loop_item() {
    // A task's own `vars` are templates too, evaluated when used as in Ansible (they were
    // passed on as literal `{{ … }}` text).
    let dir = project(&[(
        "site.yml",
        "- hosts: all\n  vars: {base: /srv}\n  tasks:\n    - name: paths\n      debug: {msg: \"{{ path }} {{ loud }}\"}\n      loop: [a, b]\n      vars:\n        path: \"{{ base }}/{{ item }}\"\n        loud: \"{{ path | upper }}\"\n",
    )]);
    let r = run(dir.path(), "apply", &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.task_msg("here", "paths"), "/srv/a /SRV/A\n/srv/b /SRV/B");
}

#[test]
fn role_defaults_may_read_the_roles_parameters() {
    // `defaults/main.yml` reading a parameter given where the role is used, as public roles
    // do: rendered for the role's tasks (it was kept as literal `{{ app_name }}` text).
    let dir = project(&[
        (
            "site.yml",
            "- hosts: all\n  roles:\n    - role: app\n      app_name: shop\n",
        ),
        (
            "roles/app/defaults/main.yml",
            "app_dir: \"/srv/{{ app_name }}\"\napp_log: \"{{ app_dir }}/log\"\n",
        ),
        (
            "roles/app/tasks/main.yml",
            "- name: show\n  debug: {msg: \"{{ app_log }}\"}\n",
        ),
    ]);
    let r = run(dir.path(), "apply", &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.task_msg("here", "show"), "/srv/shop/log");
}

#[test]
fn what_a_guard_is_there_for_still_validates() {
    // Checked whatever `when` says, but not rejected for what the guard protects from: an
    // undefined variable, an empty value, a local file only some hosts have, an empty loop's
    // item, a registered result only the host has.
    let dir = project(&[(
        "site.yml",
        "- hosts: all\n  vars: {custom_conf: \"\", extra: []}\n  tasks:\n    - name: custom\n      copy: {src: \"{{ custom_conf }}\", dest: /etc/custom.conf}\n      when: custom_conf | length > 0\n    - name: per host\n      template: {src: \"{{ inventory_hostname }}.conf.j2\", dest: /etc/host.conf}\n      when: host_template is defined\n    - name: maybe\n      debug: {msg: \"{{ maybe_var }}\"}\n      when: maybe_var is defined\n    - name: extras\n      apt: {name: \"{{ item.name }}\"}\n      loop: \"{{ extra }}\"\n    - name: look\n      stat: {path: /etc/hostname}\n      register: st\n    - name: size\n      debug: {msg: \"{{ st.stat.size }} {{ st.stat.pw_name }}\"}\n      when: st.stat.exists\n",
    )]);
    let r = plumb(dir.path(), &["validate", "site.yml", "-i", "local.ini"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
}

#[test]
fn extra_vars_win_over_task_block_and_role_vars() {
    // Ansible's precedence: `-e` beats every level, a task's own `vars` included.
    let dir = project(&[(
        "site.yml",
        "- hosts: all\n  vars: {who: play}\n  tasks:\n    - name: task level\n      debug: {msg: \"{{ who }}\"}\n      vars: {who: task}\n    - block:\n        - name: block level\n          debug: {msg: \"{{ who }}\"}\n      vars: {who: block}\n    - name: other\n      debug: {msg: \"{{ other }}\"}\n      vars: {other: \"task {{ who }}\"}\n",
    )]);
    let r = run(dir.path(), "apply", &["-e", "who=cli"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.task_msg("here", "task level"), "cli");
    assert_eq!(r.task_msg("here", "block level"), "cli");
    assert_eq!(r.task_msg("here", "other"), "task cli");
    let r = run(dir.path(), "apply", &[]);
    assert_eq!(r.task_msg("here", "task level"), "task");
    assert_eq!(r.task_msg("here", "block level"), "block");
}

#[test]
fn debug_with_verbosity_is_skipped_below_that_many_v() {
    let dir = project(&[(
        "site.yml",
        "- hosts: all\n  tasks:\n    - name: always\n      debug: {msg: hi}\n    - name: chatty\n      debug: {msg: details, verbosity: 2}\n",
    )]);
    for (extra, status, msg) in [
        (&[][..], "skipped", "Verbosity threshold not met."),
        (&["-v"][..], "skipped", "Verbosity threshold not met."),
        (&["-vv"][..], "ok", "details"),
    ] {
        let r = run(dir.path(), "apply", extra);
        assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
        let s = r.statuses("here");
        assert_eq!(s[0], ("always".into(), "ok".into()), "{extra:?}");
        assert_eq!(s[1], ("chatty".into(), status.into()), "{extra:?}");
        assert_eq!(r.task_msg("here", "chatty"), msg, "{extra:?}");
    }
}
