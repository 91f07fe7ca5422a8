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
            "- hosts: a\n  gather_facts: false\n  vars:\n    base: /play/not/seen/by/hostvars\n  tasks:\n    - name: b seen from a\n      debug: {msg: \"{{ hostvars['b'].app }} {{ hostvars['b'].ansible_host }} {{ hostvars['b'].group_names }} {{ hostvars['b'].inventory_hostname }} {{ hostvars.b.base }}\"}\n    - name: a seen from a\n      debug: {msg: \"{{ hostvars[inventory_hostname].app }} {{ app }}\"}\n    - name: every host\n      debug: {msg: \"{{ groups['all'] | map('extract', hostvars, 'app') | join(',') }}\"}\n",
        ),
    ]);
    let r = run(dir.path(), "apply", &[]);
    ok(&r);
    assert_eq!(
        r.task_msg("a", "b seen from a"),
        "/opt/b/app 10.0.0.2 ['back'] b /opt/b"
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
- hosts: all\n  gather_facts: false\n  tasks:\n    - name: later\n      debug: {msg: \"{{ ansible_facts.tier }} {{ ansible_tier }} {{ ansible_os_family == ansible_facts.os_family }} {{ ansible_connection }}\"}\n",
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
        }
    }
}
