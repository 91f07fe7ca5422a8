//! The file-editing and host modules of the second batch, on one real Debian 12 host over SSH,
//! in the idioms public roles use: `blockinfile`, `replace`, `cron`, and the others as they
//! come. One playbook, planned, applied (every change predicted by the plan), applied again
//! (nothing changes), and the host's state checked with ssh, independently of plumb.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use support::{Hosts, Run, inventory};

const K: u32 = 81;

const PLAYBOOK: &str = r###"
- hosts: all
  become: true
  vars:
    app_user: www-data
    sshd_config: /etc/ssh/sshd_config
    app_repo: /srv/git/app.git
    pip_offline: "--no-index --find-links /srv/wheels"
  tasks:
    - name: hardening block in sshd_config
      ansible.builtin.blockinfile:
        path: "{{ sshd_config }}"
        marker: "# {mark} hardening (managed)"
        insertbefore: '^Include '
        backup: yes
        block: |
          ClientAliveInterval 300
          MaxAuthTries 3
      register: hardening

    - name: login banner
      blockinfile:
        dest: /etc/app/banner.txt
        create: yes
        mode: "0640"
        content: |
          Authorised use only.
          Host managed by plumb.

    - name: root logins by key only
      ansible.builtin.replace:
        path: "{{ sshd_config }}"
        regexp: '^#?PermitRootLogin\s+.*$'
        replace: 'PermitRootLogin prohibit-password'

    - name: no X11 forwarding
      replace:
        path: "{{ sshd_config }}"
        regexp: '^(X11Forwarding\s+)yes$'
        replace: '\g<1>no'
      register: x11

    - name: sshd config still valid
      command: sshd -t
      changed_when: false

    - name: host name
      ansible.builtin.hostname:
        name: web81.example.test
        use: systemd

    - name: contrib archive area
      apt_repository:
        repo: "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm contrib"
        filename: debian-contrib
        state: present

    - name: no backports
      ansible.builtin.apt_repository:
        repo: deb http://deb.debian.org/debian bookworm-backports main
        state: absent
        update_cache: no

    - name: cron installed
      apt:
        name: cron
        state: present

    - name: cron mail goes to ops
      cron:
        name: MAILTO
        env: yes
        job: ops@example.com

    - name: nightly backup
      ansible.builtin.cron:
        name: "nightly backup"
        minute: "30"
        hour: "2"
        job: "/usr/bin/test -d /var/backups && /bin/true > /dev/null 2>&1"
      register: backup_job

    - name: an old job that must go
      cron:
        name: "legacy sync"
        state: absent

    - name: app cleanup in cron.d
      cron:
        name: app cleanup
        special_time: hourly
        user: "{{ app_user }}"
        job: "find /tmp -maxdepth 1 -name 'app-*' -mmin +60 -delete"
        cron_file: app-cleanup

    - name: git installed
      apt:
        name: git

    - name: app source checked out
      ansible.builtin.git:
        repo: "{{ app_repo }}"
        dest: /srv/app/src
        version: main
        depth: 1
        accept_hostkey: yes
      register: checkout

    - name: deployed revision
      debug:
        msg: "deployed {{ checkout.after }}"

    - name: release tag checked out
      git:
        repo: "file://{{ app_repo }}"
        dest: /srv/app/release
        version: v1
        update: yes

    - name: python venv support
      apt:
        name: [python3-venv]
        state: present

    - name: wheelhouse
      copy:
        src: wheels/
        dest: /srv/wheels/

    - name: requirements file
      copy:
        dest: /srv/app/requirements.txt
        content: |
          # the app and what it needs
          plumbapp==2.0

    - name: app requirements in its virtualenv
      pip:
        requirements: requirements.txt
        chdir: /srv/app
        virtualenv: /srv/app/venv
        extra_args: "{{ pip_offline }}"

    - name: pinned tool in the app virtualenv
      ansible.builtin.pip:
        name: plumbdemo
        version: "1.0"
        virtualenv: /srv/app/venv
        extra_args: "{{ pip_offline }}"

    - name: latest tools in their own virtualenv
      pip:
        name:
          - plumbdemo
        state: latest
        virtualenv: /srv/tools
        virtualenv_command: python3 -m venv
        extra_args: "{{ pip_offline }}"

    - name: helper not in the tools virtualenv
      pip:
        name: plumbhelper
        state: absent
        virtualenv: /srv/tools
"###;

fn run(dir: &Path, inv: &Path, cmd: &str) -> Run {
    let pb = dir.join("site.yml");
    let json = ["--host-key-checking", "accept-new", "--output", "json"];
    let r = support::playbook(dir, cmd, pb.to_str().unwrap(), inv, &json);
    assert_eq!(r.code, 0, "{cmd} failed:\n{}\n{}", r.stdout, r.stderr);
    r
}

fn statuses(run: &Run) -> BTreeMap<String, String> {
    run.statuses(&format!("h{K}")).into_iter().collect()
}

fn task(run: &Run, name: &str) -> serde_json::Value {
    run.host(&format!("h{K}"))["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("no task {name}"))
}

#[test]
fn second_batch_modules_converge() {
    let _hosts = Hosts::up(&[K]);
    let dir = tempfile::tempdir().unwrap();
    let inv = inventory(dir.path(), &[K], "root");
    std::fs::write(dir.path().join("site.yml"), PLAYBOOK).unwrap();
    wheelhouse(&dir.path().join("files/wheels"));
    // A crontab Ansible wrote before: the job to remove is found by its marker.
    Hosts::sh(
        K,
        "printf 'SHELL=/bin/sh\\n#Ansible: legacy sync\\n*/5 * * * * /usr/bin/true\\n' > /tmp/ct",
    );

    // A repository on the host itself (the hosts reach no forge): two commits, an annotated tag.
    Hosts::sh(
        K,
        "set -e; export DEBIAN_FRONTEND=noninteractive; apt-get update -qq; apt-get install -y -qq git >/dev/null; \
         git init -q --bare -b main /srv/git/app.git; git init -q -b main /tmp/w; cd /tmp/w; \
         git config user.email dev@example.com; git config user.name dev; \
         echo one > README; git add README; git commit -qm one; git tag -a v1 -m v1; \
         echo two > README; git commit -qam two; git push -q /srv/git/app.git main v1",
    );
    let head = Hosts::sh(K, "git -C /tmp/w rev-parse HEAD");
    let tagged = Hosts::sh(K, "git -C /tmp/w rev-parse 'v1^{}'");

    // Plan: the changes are predicted, with diffs, and nothing is touched.
    let before = Hosts::sh(
        K,
        "sha256sum /etc/ssh/sshd_config; ls /etc/app 2>&1 || true",
    );
    let plan = run(dir.path(), &inv, "plan");
    assert_eq!(
        before,
        Hosts::sh(
            K,
            "sha256sum /etc/ssh/sshd_config; ls /etc/app 2>&1 || true"
        )
    );
    let p = statuses(&plan);
    let diff = task(&plan, "hardening block in sshd_config")["diff"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        diff.contains("+# BEGIN hardening (managed)\n+ClientAliveInterval 300"),
        "{diff}"
    );
    let diff = task(&plan, "root logins by key only")["diff"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        diff.contains("+PermitRootLogin prohibit-password"),
        "{diff}"
    );

    // The legacy crontab is installed once cron is there: the first apply installs cron.
    let first = run(dir.path(), &inv, "apply");
    let a = statuses(&first);
    for (t, s) in &a {
        if s == "changed" {
            let predicted = p.get(t).map(String::as_str).unwrap_or("absent");
            assert!(
                predicted == "changed" || predicted == "may-change",
                "apply changed `{t}` but plan said `{predicted}`\nplan: {p:?}\napply: {a:?}"
            );
        }
    }
    for t in [
        "hardening block in sshd_config",
        "login banner",
        "root logins by key only",
        "no X11 forwarding",
        "host name",
        "contrib archive area",
        "cron installed",
        "cron mail goes to ops",
        "nightly backup",
        "app cleanup in cron.d",
        "app source checked out",
        "release tag checked out",
        "app requirements in its virtualenv",
        "pinned tool in the app virtualenv",
        "latest tools in their own virtualenv",
    ] {
        assert_eq!(a[t], "changed", "{t}: {a:?}");
    }
    assert_eq!(a["an old job that must go"], "ok");
    assert_eq!(a["no backports"], "ok");
    assert_eq!(a["helper not in the tools virtualenv"], "ok");

    assert_eq!(
        first.task_msg(&format!("h{K}"), "deployed revision"),
        format!("deployed {head}")
    );

    // Drift: an Ansible-managed job appears and someone pip-installs the helper into the tools
    // virtualenv; the next plan and apply remove both, and change nothing else.
    Hosts::sh(
        K,
        "(crontab -l; cat /tmp/ct) | crontab - && \
         echo 'deb http://deb.debian.org/debian bookworm-backports main' > /etc/apt/sources.list.d/bp.list && \
         /srv/tools/bin/python -m pip install -q --no-index --find-links /srv/wheels plumbhelper",
    );
    let plan2 = run(dir.path(), &inv, "plan");
    let p2 = statuses(&plan2);
    let changed: Vec<_> = p2
        .iter()
        .filter(|(_, s)| *s != "ok" && *s != "skipped")
        .collect();
    let changed: Vec<(&str, &str)> = changed
        .into_iter()
        .map(|(t, s)| (t.as_str(), s.as_str()))
        .collect();
    assert_eq!(
        changed,
        vec![
            ("an old job that must go", "changed"),
            ("helper not in the tools virtualenv", "changed"),
            ("no backports", "changed")
        ],
        "{p2:?}"
    );
    let second = run(dir.path(), &inv, "apply");
    assert_eq!(statuses(&second)["an old job that must go"], "changed");
    assert_eq!(
        statuses(&second)["helper not in the tools virtualenv"],
        "changed"
    );

    // A new commit upstream: the checkout follows it; a local edit without force is refused.
    Hosts::sh(
        K,
        "set -e; cd /tmp/w; echo three > README; git commit -qam three; git push -q /srv/git/app.git main",
    );
    let head = Hosts::sh(K, "git -C /tmp/w rev-parse HEAD");
    let moved = run(dir.path(), &inv, "apply");
    assert_eq!(statuses(&moved)["app source checked out"], "changed");
    assert_eq!(
        moved.task_msg(&format!("h{K}"), "deployed revision"),
        format!("deployed {head}")
    );
    Hosts::sh(K, "echo local >> /srv/app/release/README");
    let pb = dir.path().join("site.yml");
    let refused = support::playbook(
        dir.path(),
        "apply",
        pb.to_str().unwrap(),
        &inv,
        &["--output", "json"],
    );
    assert_eq!(refused.code, 2, "{}", refused.stdout);
    assert_eq!(
        refused.task_msg(&format!("h{K}"), "release tag checked out"),
        "Local modifications exist in the destination: /srv/app/release (force=no)."
    );
    Hosts::sh(K, "git -C /srv/app/release checkout -- README");

    // Converged: nothing changes.
    let third = run(dir.path(), &inv, "apply");
    let changed: Vec<_> = statuses(&third)
        .into_iter()
        .filter(|(_, s)| s != "ok")
        .collect();
    assert!(changed.is_empty(), "second run changed: {changed:?}");

    // The host, read with ssh.
    let sshd = Hosts::sh(K, "cat /etc/ssh/sshd_config");
    let block = "# BEGIN hardening (managed)\nClientAliveInterval 300\nMaxAuthTries 3\n# END hardening (managed)\nInclude ";
    assert!(sshd.contains(block), "{sshd}");
    assert!(
        sshd.contains("\nPermitRootLogin prohibit-password\n"),
        "{sshd}"
    );
    assert!(sshd.contains("\nX11Forwarding no\n"), "{sshd}");
    assert_eq!(sshd.matches("ClientAliveInterval 300").count(), 1);
    // backup: yes kept the original.
    assert_eq!(
        Hosts::sh(K, "ls /etc/ssh | grep -c '^sshd_config\\..*~$'"),
        "1"
    );
    assert_eq!(
        Hosts::sh(
            K,
            "stat -c '%a %U' /etc/app/banner.txt; cat /etc/app/banner.txt"
        ),
        "640 root\n# BEGIN ANSIBLE MANAGED BLOCK\nAuthorised use only.\nHost managed by plumb.\n# END ANSIBLE MANAGED BLOCK"
    );
    assert_eq!(
        Hosts::sh(K, "crontab -l"),
        "MAILTO=ops@example.com\n#Ansible: nightly backup\n30 2 * * * /usr/bin/test -d /var/backups && /bin/true > /dev/null 2>&1\nSHELL=/bin/sh"
    );
    assert_eq!(
        Hosts::sh(
            K,
            "stat -c '%a %U' /etc/cron.d/app-cleanup; cat /etc/cron.d/app-cleanup"
        ),
        "644 root\n#Ansible: app cleanup\n@hourly www-data find /tmp -maxdepth 1 -name 'app-*' -mmin +60 -delete"
    );
    assert_eq!(
        Hosts::sh(
            K,
            "ls /etc/apt/sources.list.d; cat /etc/apt/sources.list.d/*"
        ),
        "debian-contrib.list\ndeb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm contrib"
    );
    assert_eq!(
        Hosts::sh(K, "hostname; cat /etc/hostname"),
        "web81.example.test\nweb81.example.test"
    );
    assert_eq!(Hosts::sh(K, "git -C /srv/app/src rev-parse HEAD"), head);
    assert_eq!(
        Hosts::sh(K, "git -C /srv/app/src rev-list --count HEAD"),
        "1"
    );
    assert_eq!(
        Hosts::sh(K, "git -C /srv/app/release rev-parse HEAD"),
        tagged
    );
    assert_eq!(
        Hosts::sh(K, "/srv/app/venv/bin/python -m pip freeze | grep -i plumb"),
        "plumbapp==2.0\nplumbdemo==1.0\nplumbhelper==0.3"
    );
    assert_eq!(
        Hosts::sh(K, "/srv/tools/bin/python -m pip freeze | grep -i plumb"),
        "plumbdemo==1.1"
    );
}

/// Pure-Python wheels for a wheelhouse (the hosts reach no package index): a zip with the
/// module, METADATA, WHEEL and a RECORD, made by the control machine's python3.
fn wheelhouse(dir: &Path) {
    let script = r#"
import base64, hashlib, os, sys, zipfile
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
def wheel(name, version, requires=()):
    dist = f"{name}-{version}.dist-info"
    meta = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    meta += "".join(f"Requires-Dist: {r}\n" for r in requires)
    files = {
        f"{name}/__init__.py": f"VERSION = {version!r}\n",
        f"{dist}/METADATA": meta,
        f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: plumb-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    with zipfile.ZipFile(os.path.join(out, f"{name}-{version}-py3-none-any.whl"), "w") as z:
        for n, t in files.items():
            data = t.encode()
            z.writestr(n, data)
            h = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append(f"{n},sha256={h},{len(data)}")
        record.append(f"{dist}/RECORD,,")
        z.writestr(f"{dist}/RECORD", "\n".join(record) + "\n")
wheel("plumbdemo", "1.0")
wheel("plumbdemo", "1.1")
wheel("plumbhelper", "0.3")
wheel("plumbapp", "2.0", ["plumbhelper>=0.2"])
"#;
    let ok = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(dir)
        .status()
        .expect("python3 on the control machine")
        .success();
    assert!(ok, "building the wheels");
}
