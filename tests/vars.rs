//! Variables as Ansible has them, on the control machine (`ansible_connection=local`): what
//! outlives a play, `hostvars` rendered in the other host's context, the precedence table,
//! and which `ansible_*` names validation accepts.

mod support;

use support::{Run, local_project as project, local_run as run};

fn ok(r: &Run) {
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
}

/// Two local hosts, `a` (group `front`) and `b` (group `back`).
const TWO: &str = "[front]\na ansible_connection=local\n[back]\nb ansible_connection=local\n";

#[test]
fn set_fact_register_and_include_vars_outlive_their_play() {
    let dir = project(&[
        ("local.ini", TWO),
        ("vars/extra.yml", "included: from-file\n"),
        (
            "site.yml",
            "- hosts: all\n  gather_facts: false\n  tasks:\n    - set_fact: {colour: \"red-{{ inventory_hostname }}\"}\n    - command: echo out-{{ inventory_hostname }}\n      register: said\n      check_mode: false\n    - include_vars: vars/extra.yml\n\
- hosts: all\n  gather_facts: false\n  vars:\n    colour: play-vars-lose\n    derived: \"{{ colour }}+{{ said.stdout }}\"\n  tasks:\n    - name: mine\n      debug: {msg: \"{{ colour }} {{ said.stdout }} {{ included }} {{ derived }}\"}\n      when: said.rc == 0\n    - name: other\n      debug: {msg: \"{{ hostvars[(inventory_hostname == 'a') | ternary('b', 'a')].colour }} {{ hostvars['a'].said.stdout }}\"}\n",
        ),
    ]);
    for cmd in ["plan", "apply"] {
        let r = run(dir.path(), cmd, &[]);
        ok(&r);
        assert_eq!(
            r.task_msg("a", "mine"),
            "red-a out-a from-file red-a+out-a",
            "{cmd}"
        );
        assert_eq!(r.task_msg("b", "mine"), "red-b out-b from-file red-b+out-b");
        assert_eq!(r.task_msg("a", "other"), "red-b out-a", "{cmd}");
        assert_eq!(r.task_msg("b", "other"), "red-a out-a", "{cmd}");
    }
}

#[test]
fn hostvars_renders_another_hosts_inventory_variables_in_its_context() {
    let dir = project(&[
        ("local.ini", TWO),
        (
            "group_vars/all.yml",
            "base: \"/srv/{{ inventory_hostname }}\"\napp: \"{{ base }}/app\"\nansible_host: \"{{ net }}.{{ last }}\"\nnet: 10.0.0\n",
        ),
        ("host_vars/a.yml", "last: 1\n"),
        ("host_vars/b.yml", "last: 2\nbase: /opt/b\n"),
        (
            "site.yml",
            "- hosts: a\n  gather_facts: false\n  vars:\n    base: /play/not/seen/by/hostvars\n  tasks:\n    - name: b seen from a\n      debug: {msg: \"{{ hostvars['b'].app }} {{ hostvars['b'].ansible_host }} {{ hostvars['b'].group_names }} {{ hostvars['b'].inventory_hostname }} {{ hostvars.b.base }} {{ hostvars.b.inventory_dir == inventory_dir }} {{ hostvars.b.ansible_version.major }}\"}\n    - name: a seen from a\n      debug: {msg: \"{{ hostvars[inventory_hostname].app }} {{ app }}\"}\n    - name: every host\n      debug: {msg: \"{{ groups['all'] | map('extract', hostvars, 'app') | join(',') }}\"}\n",
        ),
    ]);
    let r = run(dir.path(), "apply", &[]);
    ok(&r);
    assert_eq!(
        r.task_msg("a", "b seen from a"),
        "/opt/b/app 10.0.0.2 ['back'] b /opt/b True 2"
    );
    // hostvars has no play vars (Ansible's HostVars has no play): the inventory's `base`.
    assert_eq!(
        r.task_msg("a", "a seen from a"),
        "/srv/a/app /play/not/seen/by/hostvars/app"
    );
    assert_eq!(r.task_msg("a", "every host"), "/srv/a/app,/opt/b/app");
}

#[test]
fn validation_lets_every_name_the_host_defines_wait_for_it() {
    // Facts plumb gathers, a cacheable set_fact's (by both names, in a later play), an
    // interface's, a connection variable, and facts of a play without gathering after one
    // that gathered.
    let dir = project(&[(
        "site.yml",
        "- hosts: all\n  tasks:\n    - set_fact: {tier: gold, cacheable: true}\n    - name: lo\n      debug: {msg: \"{{ ansible_lo.device }} {{ ansible_facts['lo']['device'] }}\"}\n\
- hosts: all\n  gather_facts: false\n  tasks:\n    - name: later\n      debug: {msg: \"{{ ansible_facts.tier }} {{ ansible_tier }} {{ ansible_os_family == ansible_facts.os_family }} {{ ansible_connection }}\"}\n\
- hosts: all\n  tasks:\n    - name: gathered again\n      debug: {msg: \"{{ ansible_facts.tier }} {{ ansible_facts.lo.device }}\"}\n",
    )]);
    for cmd in ["validate", "plan", "apply"] {
        let r = match cmd {
            "validate" => support::plumb(dir.path(), &["validate", "site.yml", "-i", "local.ini"]),
            _ => run(dir.path(), cmd, &[]),
        };
        ok(&r);
        if cmd != "validate" {
            assert_eq!(r.task_msg("here", "lo"), "lo lo", "{cmd}");
            assert_eq!(r.task_msg("here", "later"), "gold gold True local", "{cmd}");
            // Facts gathered again merge over the cached ones, as Ansible's fact cache does.
            assert_eq!(r.task_msg("here", "gathered again"), "gold lo", "{cmd}");
        }
    }
}

/// Ansible's precedence, lowest first: each level defines `v<its number>` and every later
/// level's variable, so `v<n>` must come out as level n's value, whatever the levels above.
const LEVELS: &[&str] = &[
    "role defaults",
    "inventory file group vars",
    "inventory group_vars/all",
    "playbook group_vars/all",
    "inventory group_vars/GROUP",
    "playbook group_vars/GROUP",
    "inventory file host vars",
    "inventory host_vars/HOST",
    "playbook host_vars/HOST",
    "play vars",
    "play vars_files",
    "role entry vars",
    "role vars",
    "block vars",
    "task vars",
    "include_vars",
    "set_fact",
    "role params",
    "include params",
    "extra vars",
];

#[test]
fn precedence_level_by_level() {
    let n = LEVELS.len();
    // YAML mapping lines of level `i` (1-based): v_i .. v_n = "L<i>".
    let yaml = |i: usize, indent: &str| -> String {
        (i..=n).map(|j| format!("{indent}v{j}: L{i}\n")).collect()
    };
    let ini = |i: usize| -> String { (i..=n).map(|j| format!(" v{j}=L{i}")).collect() };
    let level = |name: &str| LEVELS.iter().position(|l| *l == name).unwrap() + 1;
    let shown: String = (1..=n).map(|j| format!("{{{{ v{j} }}}} ")).collect();
    let inventory = format!(
        "[web]\nhere ansible_connection=local{}\n[all:vars]\n{}",
        ini(level("inventory file host vars")),
        ini(level("inventory file group vars"))
            .trim()
            .replace(' ', "\n")
    );
    let include_params = level("include params");
    let files: Vec<(String, String)> = vec![
        ("local.ini".into(), inventory),
        ("inv_dir_marker".into(), String::new()),
        (
            "group_vars/all.yml".into(),
            yaml(level("playbook group_vars/all"), ""),
        ),
        (
            "group_vars/web.yml".into(),
            yaml(level("playbook group_vars/GROUP"), ""),
        ),
        (
            "host_vars/here.yml".into(),
            yaml(level("playbook host_vars/HOST"), ""),
        ),
        (
            "inv/group_vars/all.yml".into(),
            yaml(level("inventory group_vars/all"), ""),
        ),
        (
            "inv/group_vars/web.yml".into(),
            yaml(level("inventory group_vars/GROUP"), ""),
        ),
        (
            "inv/host_vars/here.yml".into(),
            yaml(level("inventory host_vars/HOST"), ""),
        ),
        ("vars/file.yml".into(), yaml(level("play vars_files"), "")),
        (
            "roles/r/defaults/main.yml".into(),
            yaml(level("role defaults"), ""),
        ),
        ("roles/r/vars/main.yml".into(), yaml(level("role vars"), "")),
        (
            "roles/r/vars/included.yml".into(),
            yaml(level("include_vars"), ""),
        ),
        (
            "roles/r/tasks/main.yml".into(),
            format!(
                "- block:\n    - include_tasks:\n        file: inner.yml\n      vars:\n{}  vars:\n{}",
                yaml(include_params, "        "),
                yaml(level("block vars"), "    ")
            ),
        ),
        (
            "roles/r/tasks/inner.yml".into(),
            format!(
                "- include_vars: included.yml\n- set_fact:\n{}- name: show\n  debug: {{msg: \"{shown}\"}}\n  vars:\n{}",
                yaml(level("set_fact"), "    "),
                yaml(level("task vars"), "    ")
            ),
        ),
        (
            "site.yml".into(),
            format!(
                "- hosts: all\n  gather_facts: false\n  vars:\n{}  vars_files: [vars/file.yml]\n  roles:\n    - role: r\n      vars:\n{}{}",
                yaml(level("play vars"), "    "),
                yaml(level("role entry vars"), "        "),
                yaml(level("role params"), "      ")
            ),
        ),
    ];
    let files: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let dir = project(&files);
    // The inventory in its own folder, with its group_vars and host_vars beside it.
    std::fs::rename(
        dir.path().join("local.ini"),
        dir.path().join("inv/local.ini"),
    )
    .unwrap();
    let extra = format!("v{n}=L{n}");
    let r = support::plumb(
        dir.path(),
        &[
            "apply",
            "site.yml",
            "-i",
            "inv/local.ini",
            "--output",
            "json",
            "-e",
            &extra,
        ],
    );
    ok(&r);
    let got = r.task_msg("here", "show");
    let want: String = (1..=n).map(|j| format!("L{j} ")).collect();
    let got_levels: Vec<&str> = got.split_whitespace().collect();
    let want_levels: Vec<&str> = want.split_whitespace().collect();
    for (j, (g, w)) in got_levels.iter().zip(&want_levels).enumerate() {
        let lost_to = g
            .trim_start_matches('L')
            .parse::<usize>()
            .ok()
            .map(|k| LEVELS[k - 1]);
        assert_eq!(g, w, "{}: lost to {lost_to:?}\n{got}", LEVELS[j]);
    }
    assert_eq!(got_levels.len(), n, "{got}");
}

#[test]
fn facts_sit_between_the_inventory_and_play_vars() {
    let dir = project(&[
        (
            "host_vars/here.yml",
            "ansible_kernel: from-inventory\nansible_system: from-inventory\n",
        ),
        (
            "site.yml",
            "- hosts: all\n  vars:\n    ansible_system: from-play\n  tasks:\n    - name: show\n      debug: {msg: \"{{ ansible_kernel != 'from-inventory' }} {{ ansible_system }} {{ hostvars['here'].ansible_kernel != 'from-inventory' }}\"}\n",
        ),
    ]);
    let r = run(dir.path(), "apply", &[]);
    ok(&r);
    assert_eq!(r.task_msg("here", "show"), "True from-play True");
}

#[test]
fn a_template_file_may_read_facts_and_set_fact_variables() {
    let dir = project(&[
        (
            "templates/t.j2",
            "{{ mine }} {{ ansible_facts.os_family == ansible_os_family }} {{ earlier }}\n",
        ),
        (
            "site.yml",
            "- hosts: all\n  tasks:\n    - set_fact: {earlier: before}\n- hosts: all\n  tasks:\n    - set_fact: {mine: hello}\n    - template: {src: t.j2, dest: \"@DIR@/out\"}\n",
        ),
    ]);
    let r = run(dir.path(), "apply", &[]);
    ok(&r);
    let out = std::fs::read_to_string(dir.path().join("out")).unwrap();
    assert_eq!(out, "hello True before\n");
}

#[test]
fn include_role_vars_are_parameters_import_role_vars_are_task_vars() {
    let dir = project(&[
        ("roles/r/vars/main.yml", "x: role-vars\ny: role-vars\n"),
        (
            "roles/r/tasks/main.yml",
            "- name: show\n  debug: {msg: \"{{ x }} {{ y }}\"}\n",
        ),
        (
            "site.yml",
            "- hosts: all\n  gather_facts: false\n  tasks:\n    - set_fact: {y: set-fact}\n    - include_role: {name: r}\n      vars: {x: included, y: included}\n\
- hosts: all\n  gather_facts: false\n  tasks:\n    - import_role: {name: r}\n      vars: {x: imported, y: imported}\n",
        ),
    ]);
    let r = run(dir.path(), "apply", &[]);
    ok(&r);
    let tasks = r.host("here")["tasks"].clone();
    let msgs: Vec<&str> = tasks
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["name"] == "show")
        .map(|t| t["msg"].as_str().unwrap())
        .collect();
    // Include parameters win over set_fact; an import's vars are its tasks' (over the
    // role's vars/main.yml, under set_fact, which the first play left).
    assert_eq!(msgs, ["included included", "imported set-fact"]);
}

#[test]
fn another_hosts_inventory_template_reads_its_own_facts() {
    let dir = project(&[
        ("local.ini", TWO),
        (
            "group_vars/all.yml",
            "where: \"{{ inventory_hostname }}@{{ ansible_facts.hostname }}\"\n",
        ),
        (
            "site.yml",
            "- hosts: all\n  tasks: []\n- hosts: a\n  gather_facts: false\n  tasks:\n    - name: peer\n      debug: {msg: \"{{ hostvars['b'].where }} {{ where }}\"}\n",
        ),
    ]);
    let r = run(dir.path(), "apply", &[]);
    ok(&r);
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let short = host.trim().split('.').next().unwrap().to_string();
    assert_eq!(r.task_msg("a", "peer"), format!("b@{short} a@{short}"));
}

/// Ansible renders a variable when it is read: once a `set_fact`, `include_vars` or
/// `register` gives a variable a new value, the variables written to read it follow (also
/// through another one, in a loop, in a later play); `-e` and a variable set itself still win.
#[test]
fn variables_that_read_a_set_variable_follow_its_new_value() {
    let dir = project(&[
        ("local.ini", "here ansible_connection=local\n"),
        (
            "group_vars/all.yml",
            "app: shop\napp_dir: \"/srv/{{ app }}\"\n",
        ),
        ("vars/v.yml", "app: from-file\n"),
        (
            "site.yml",
            "- hosts: all\n  gather_facts: false\n  vars:\n    static: \"{{ app_dir }}/static\"\n    mode: \"{{ m }}\"\n    m: a\n    fixed: \"{{ app }}\"\n  tasks:\n    - name: before\n      debug: {msg: \"{{ static }}\"}\n    - set_fact: {app: blog}\n    - name: after set_fact\n      debug: {msg: \"{{ static }} {{ app_dir }} {{ mode }}\"}\n    - name: looped\n      debug: {msg: \"{{ item }}:{{ static }}\"}\n      loop: [1]\n    - include_vars: vars/v.yml\n    - name: still set_fact\n      debug: {msg: \"{{ app_dir }}\"}\n    - command: echo b\n      register: m\n      changed_when: false\n      check_mode: false\n    - name: after register\n      debug: {msg: \"{{ mode.stdout }}\"}\n    - set_fact: {app_dir: /own}\n    - name: set itself\n      debug: {msg: \"{{ app_dir }} {{ static }} {{ fixed }}\"}\n\
- hosts: all\n  gather_facts: false\n  tasks:\n    - name: next play\n      debug: {msg: \"{{ app_dir }}\"}\n",
        ),
    ]);
    for cmd in ["plan", "apply"] {
        let r = run(dir.path(), cmd, &[]);
        ok(&r);
        let msg = |t: &str| r.task_msg("here", t);
        assert_eq!(msg("before"), "/srv/shop/static", "{cmd}");
        assert_eq!(
            msg("after set_fact"),
            "/srv/blog/static /srv/blog a",
            "{cmd}"
        );
        assert_eq!(msg("looped"), "1:/srv/blog/static", "{cmd}");
        // include_vars sits below set_fact.
        assert_eq!(msg("still set_fact"), "/srv/blog", "{cmd}");
        assert_eq!(msg("after register"), "b", "{cmd}");
        assert_eq!(msg("set itself"), "/own /own/static blog", "{cmd}");
        assert_eq!(msg("next play"), "/own", "{cmd}");
    }
    let r = run(dir.path(), "apply", &["-e", "app=cli"]);
    ok(&r);
    assert_eq!(
        r.task_msg("here", "after set_fact"),
        "/srv/cli/static /srv/cli a"
    );
}
