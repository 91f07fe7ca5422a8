//! Facts, magic variables, `set_fact` and `include_vars` on the control machine
//! (`ansible_connection=local`), in a temporary directory.

mod support;

use support::{Run, local_project as project, local_run as run};

fn ok(r: &Run) {
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
}

fn whoami() -> String {
    let out = std::process::Command::new("id")
        .arg("-un")
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn facts_are_gathered_by_default_in_plan_and_apply() {
    let dir = project(&[(
        "site.yml",
        "- hosts: all\n  tasks:\n    - name: show\n      debug: {msg: \"{{ ansible_facts.hostname }} {{ ansible_hostname }} {{ ansible_user_id }} {{ ansible_facts['os_family'] == ansible_os_family }}\"}\n    - name: by family\n      debug: {msg: \"{{ ansible_distribution }}\"}\n      when: ansible_os_family == ansible_facts.os_family\n    - name: numbers\n      debug: {msg: \"{{ ansible_processor_vcpus > 0 and ansible_memtotal_mb > 0 }} {{ ansible_date_time.epoch | int > 0 }} {{ ansible_env.HOME is defined }}\"}\n",
    )]);
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let short = host.trim().split('.').next().unwrap().to_string();
    let want = format!("{short} {short} {} True", whoami());
    for cmd in ["plan", "apply"] {
        let r = run(dir.path(), cmd, &[]);
        ok(&r);
        assert_eq!(r.task_msg("here", "show"), want, "{cmd}");
        assert!(!r.task_msg("here", "by family").is_empty(), "{cmd}");
        assert_eq!(r.task_msg("here", "numbers"), "True True True", "{cmd}");
    }
}

#[test]
fn gather_facts_false_gathers_nothing() {
    let dir = project(&[(
        "site.yml",
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: show\n      debug: {msg: \"{{ ansible_facts | default('none') }} {{ ansible_hostname | default('none') }}\"}\n",
    )]);
    let r = run(dir.path(), "apply", &[]);
    ok(&r);
    assert_eq!(r.task_msg("here", "show"), "none none");
    // A fact read without facts is an undefined variable before any host is contacted.
    let dir = project(&[(
        "site.yml",
        "- hosts: all\n  gather_facts: no\n  tasks:\n    - name: show\n      debug: {msg: \"{{ ansible_hostname }}\"}\n",
    )]);
    let r = run(dir.path(), "apply", &[]);
    assert_eq!(r.code, 4, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("ansible_hostname"), "{}", r.stderr);
}

#[test]
fn a_plays_gather_subset_gathers_only_that() {
    let dir = project(&[(
        "site.yml",
        "- hosts: all\n  gather_subset: [\"!all\", \"!min\", network]\n  gather_timeout: 10\n  tasks:\n    - name: show\n      debug: {msg: \"{{ ansible_default_ipv4 is defined }} {{ ansible_distribution is defined }} {{ ansible_facts.gather_subset }}\"}\n- hosts: all\n  gather_facts: true\n  gather_subset: min\n  tasks:\n    - name: min\n      debug: {msg: \"{{ ansible_distribution is defined }} {{ ansible_processor_vcpus is defined }}\"}\n",
    )]);
    for cmd in ["plan", "apply"] {
        let r = run(dir.path(), cmd, &[]);
        ok(&r);
        assert_eq!(
            r.task_msg("here", "show"),
            "True False ['!all', '!min', 'network']",
            "{cmd}"
        );
        // Every play gathers its own subset, over what the first one left (`min` has the
        // distribution; the processor counts are `hardware`, gathered by neither).
        assert_eq!(r.task_msg("here", "min"), "True False", "{cmd}");
    }
    let dir = project(&[(
        "site.yml",
        "- hosts: all\n  gather_subset: [min, nonsense]\n  tasks: []\n",
    )]);
    let r = run(dir.path(), "validate", &[]);
    assert_eq!(r.code, 4, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("site.yml:2:24") && r.stderr.contains("unknown subset `nonsense`"),
        "{}",
        r.stderr
    );
}

#[test]
fn setup_gathers_again_with_subset_and_filter() {
    let dir = project(&[(
        "site.yml",
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: gather\n      setup: {gather_subset: ['!all'], filter: ['ansible_os_family', 'ansible_user_id']}\n      register: s\n    - name: show\n      debug: {msg: \"{{ ansible_user_id }} {{ ansible_facts.user_id }} {{ s.ansible_facts.ansible_user_id }} {{ ansible_hostname | default('none') }}\"}\n",
    )]);
    let me = whoami();
    for cmd in ["plan", "apply"] {
        let r = run(dir.path(), cmd, &[]);
        ok(&r);
        assert_eq!(
            r.task_msg("here", "show"),
            format!("{me} {me} {me} none"),
            "{cmd}"
        );
    }
}

#[test]
fn play_vars_may_read_facts() {
    let dir = project(&[(
        "site.yml",
        "- hosts: all\n  vars:\n    who: \"user {{ ansible_user_id }}\"\n  tasks:\n    - name: show\n      debug: {msg: \"{{ who }}\"}\n",
    )]);
    let r = run(dir.path(), "apply", &[]);
    ok(&r);
    assert_eq!(r.task_msg("here", "show"), format!("user {}", whoami()));
}

/// Two local hosts in groups, for the magic variables.
fn two_hosts(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = project(files);
    std::fs::write(
        dir.path().join("local.ini"),
        "[web]\nweb1.example.com ansible_connection=local colour=red\n[db]\ndb1 ansible_connection=local colour=blue\n[prod:children]\nweb\ndb\n",
    )
    .unwrap();
    dir
}

#[test]
fn magic_variables() {
    let dir = two_hosts(&[
        (
            "site.yml",
            "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: names\n      debug: {msg: \"{{ inventory_hostname }} {{ inventory_hostname_short }} {{ group_names | join(',') }}\"}\n    - name: groups\n      debug: {msg: \"{{ groups.web | join(',') }}|{{ groups.prod | sort | join(',') }}|{{ groups.all | length }}\"}\n    - name: play\n      debug: {msg: \"{{ ansible_play_hosts | sort | join(',') }}|{{ play_hosts | length }}|{{ ansible_play_batch | length }}\"}\n    - name: modes\n      debug: {msg: \"{{ ansible_check_mode }} {{ ansible_diff_mode }} {{ ansible_run_tags }} {{ ansible_limit | default('none') }}\"}\n    - name: version\n      debug: {msg: \"{{ ansible_version.full }} {{ ansible_version.major }}.{{ ansible_version.minor }} {{ ansible_version.string is version('2.19', '>=') }}\"}\n    - name: paths\n      debug: {msg: \"{{ inventory_file | basename }} {{ inventory_dir == playbook_dir | realpath }}\"}\n    - name: managed\n      debug: {msg: \"{{ ansible_managed }} {{ 'x' | default(omit) }}\"}\n    - name: hostvars\n      debug: {msg: \"{{ hostvars['db1'].colour }} {{ hostvars['web1.example.com']['colour'] }} {{ hostvars | length }}\"}\n    - name: role\n      import_role: {name: r}\n",
        ),
        (
            "roles/r/tasks/main.yml",
            "- name: role\n  debug: {msg: \"{{ role_name }} {{ role_path | basename }} {{ role_path is abs }}\"}\n",
        ),
    ]);
    let r = run(dir.path(), "plan", &["--limit", "web1.example.com"]);
    ok(&r);
    let h = "web1.example.com";
    assert_eq!(r.task_msg(h, "names"), "web1.example.com web1 prod,web");
    assert_eq!(
        r.task_msg(h, "groups"),
        "web1.example.com|db1,web1.example.com|2"
    );
    assert_eq!(r.task_msg(h, "play"), "web1.example.com|1|1");
    assert_eq!(r.task_msg(h, "modes"), "True True ['all'] web1.example.com");
    assert_eq!(r.task_msg(h, "version"), "2.19.0 2.19 True");
    assert_eq!(r.task_msg(h, "paths"), "local.ini True");
    assert_eq!(r.task_msg(h, "managed"), "Ansible managed x");
    assert_eq!(r.task_msg(h, "hostvars"), "blue red 2");
    assert_eq!(r.task_msg(h, "role"), "r r True");
    let r = run(dir.path(), "apply", &["--tags", "all"]);
    ok(&r);
    assert_eq!(r.task_msg("db1", "modes"), "False False ['all'] none");
    assert_eq!(r.task_msg("db1", "play"), "db1,web1.example.com|2|2");
}

#[test]
fn hostvars_hold_other_hosts_facts_once_gathered() {
    let dir = two_hosts(&[(
        "site.yml",
        "- hosts: all\n  tasks:\n    - name: mine\n      debug: {msg: \"{{ hostvars[inventory_hostname].ansible_facts.user_id == ansible_user_id }}\"}\n- hosts: web\n  gather_facts: false\n  tasks:\n    - name: theirs\n      debug: {msg: \"{{ hostvars['db1'].ansible_facts.hostname == hostvars['db1'].ansible_hostname }} {{ hostvars['db1']['ansible_user_id'] }}\"}\n",
    )]);
    let r = run(dir.path(), "apply", &[]);
    ok(&r);
    assert_eq!(r.task_msg("db1", "mine"), "true");
    assert_eq!(
        r.task_msg("web1.example.com", "theirs"),
        format!("True {}", whoami())
    );
}

#[test]
fn set_fact_and_include_vars_across_tasks_in_plan_and_apply() {
    let dir = project(&[
        (
            "site.yml",
            "- hosts: all\n  gather_facts: false\n  vars: {colour: red, size: small, shape: round}\n  tasks:\n    - name: set\n      set_fact:\n        colour: \"dark {{ colour }}\"\n        count: \"{{ 2 + 3 }}\"\n        shape: square\n      register: sf\n    - name: accumulate\n      set_fact: {seen: \"{{ seen | default([]) + [item] }}\"}\n      loop: [a, b, c]\n    - name: cache\n      set_fact: {kept: yes, cacheable: true}\n    - name: file\n      include_vars: more.yml\n    - name: named\n      include_vars: {file: more.yml, name: more}\n    - name: dir\n      include_vars: {dir: conf}\n    - name: show\n      debug: {msg: \"{{ colour }} {{ count + 1 }} {{ seen | join('') }} {{ ansible_facts.kept }} {{ size }} {{ more.size }} {{ from_dir }} {{ sf.ansible_facts.count }}\"}\n    - name: task vars lose\n      debug: {msg: \"{{ colour }} {{ size }}\"}\n      vars: {colour: task, size: task}\n    - name: -e wins\n      debug: {msg: \"{{ shape }}\"}\n",
        ),
        ("vars/more.yml", "size: big\n"),
        ("conf/a.yml", "from_dir: one\n"),
        ("conf/b.yml", "from_dir: two\n"),
    ]);
    for cmd in ["plan", "apply"] {
        let r = run(dir.path(), cmd, &["-e", "shape=triangle"]);
        ok(&r);
        assert_eq!(
            r.task_msg("here", "show"),
            "dark red 6 abc True big big two 5",
            "{cmd}"
        );
        // Ansible's order: include_vars and set_fact above task vars.
        assert_eq!(
            r.task_msg("here", "task vars lose"),
            "dark red big",
            "{cmd}"
        );
        assert_eq!(r.task_msg("here", "-e wins"), "triangle", "{cmd}");
    }
}

/// `include_vars`' values are templates, as in Ansible: rendered over the host's variables
/// (one may read another of the same file, or a fact set later), in a template file, a loop
/// and under `name`; never written out as literal `{{ … }}` text.
#[test]
fn include_vars_values_are_rendered() {
    let dir = project(&[
        (
            "site.yml",
            "- hosts: all\n  gather_facts: false\n  vars: {port: 80}\n  tasks:\n    - include_vars: listen.yml\n    - include_vars: {file: listen.yml, name: named}\n    - name: conf\n      template: {src: ports.conf.j2, dest: \"@DIR@/ports.conf\"}\n    - name: each\n      debug: {msg: \"{{ item }}\"}\n      loop: \"{{ listens }}\"\n    - set_fact: {later_fact: set}\n    - name: show\n      debug: {msg: \"{{ named.line }} {{ chained }} {{ waits }}\"}\n",
        ),
        (
            "vars/listen.yml",
            "line: \"Listen {{ port }}\"\nlistens: [\"{{ line }}\", \"Listen 443\"]\nchained: \"{{ line | lower }}!\"\nwaits: \"{{ later_fact }}\"\n",
        ),
        (
            "ports.conf.j2",
            "{{ line }}\n{% for l in listens %}{{ l }};{% endfor %}\n",
        ),
    ]);
    for cmd in ["plan", "apply"] {
        let r = run(dir.path(), cmd, &[]);
        ok(&r);
        assert_eq!(
            r.task_msg("here", "each"),
            "Listen 80\nListen 443",
            "{cmd}: {}",
            r.stdout
        );
        assert_eq!(
            r.task_msg("here", "show"),
            "Listen 80 listen 80! set",
            "{cmd}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(dir.path().join("ports.conf")).unwrap(),
        "Listen 80\nListen 80;Listen 443;\n"
    );
}

#[test]
fn include_vars_in_a_role_reads_its_vars_dir() {
    let dir = project(&[
        (
            "site.yml",
            "- hosts: all\n  gather_facts: false\n  roles: [r]\n",
        ),
        (
            "roles/r/tasks/main.yml",
            "- include_vars: \"{{ ansible_os_family | default('debian') | lower }}.yml\"\n- name: show\n  debug: {msg: \"{{ pkg }}\"}\n",
        ),
        ("roles/r/vars/debian.yml", "pkg: from-role\n"),
        ("vars/debian.yml", "pkg: from-playbook\n"),
        // `with_first_found` on `include_vars` looks in the role's `vars/` (Ansible gives a
        // loop's lookup its module's kind), on `template` in `templates/`.
        (
            "roles/ff/tasks/main.yml",
            "- include_vars: \"{{ item }}\"\n  with_first_found: [\"{{ ansible_os_family | default('Nothing') }}.yml\", default.yml]\n- template: {src: \"{{ item }}\", dest: \"@DIR@/ff.out\"}\n  with_first_found: [nothing.j2, ff.j2]\n- name: ff\n  debug: {msg: \"{{ ff_x }}\"}\n",
        ),
        ("roles/ff/vars/default.yml", "ff_x: from-ff-vars\n"),
        ("roles/ff/templates/ff.j2", "{{ ff_x }}\n"),
    ]);
    let r = run(dir.path(), "apply", &[]);
    ok(&r);
    assert_eq!(r.task_msg("here", "show"), "from-role");
    std::fs::write(
        dir.path().join("site.yml"),
        "- hosts: all\n  gather_facts: false\n  roles: [ff]\n",
    )
    .unwrap();
    let r = run(dir.path(), "apply", &[]);
    ok(&r);
    assert_eq!(r.task_msg("here", "ff"), "from-ff-vars");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("ff.out")).unwrap(),
        "from-ff-vars\n"
    );
    // A missing file is an error at its line before any host is contacted.
    let dir = project(&[(
        "site.yml",
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - include_vars: nope.yml\n",
    )]);
    let r = run(dir.path(), "apply", &[]);
    assert_eq!(r.code, 4, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("nope.yml") && r.stderr.contains("site.yml:4"),
        "{}",
        r.stderr
    );
}
