//! The host-configuration modules (`sysctl`, `ufw`, …) on a real Debian 12 host, written the way
//! public roles write them: the plan predicts the first run's changes, the first run makes them,
//! the second changes nothing.

mod support;

use std::collections::BTreeMap;
use support::{Hosts, apply_json, inventory, playbook};

const PLAYBOOK: &str = r##"---
- name: Harden and tune a web host
  hosts: all
  become: true
  vars:
    app_port: 8000
    db_password: "s3cret-app"
  tasks:
    - name: Install the tools the modules drive
      apt:
        name: [procps, ufw, locales, python3-django, mariadb-server, postgresql, supervisor]
        state: present
        update_cache: true
        cache_valid_time: 3600

    - name: Allow ssh
      community.general.ufw:
        rule: allow
        port: "22"
        proto: tcp

    - name: Rate-limit ssh from the office
      ufw:
        rule: limit
        port: ssh
        proto: tcp
        from_ip: 10.0.0.0/8
        comment: office ssh

    - name: Allow the web ports
      ufw:
        rule: allow
        port: "{{ item }}"
        proto: tcp
      loop: ["80", "443"]

    - name: App port only from loopback
      ufw:
        rule: allow
        to_port: "{{ app_port }}"
        from_ip: 127.0.0.1
        proto: tcp

    - name: Deny by default
      ufw:
        default: deny
        direction: incoming

    - name: Log
      ufw:
        logging: medium

    - name: Enable the firewall
      ufw:
        state: enabled

    - name: Enable IP forwarding
      ansible.posix.sysctl:
        name: net.ipv4.ip_forward
        value: "1"
        sysctl_set: true
        state: present
        reload: true

    - name: Bigger listen backlog, in its own file
      sysctl:
        name: net.core.somaxconn
        value: 1024
        sysctl_file: /etc/sysctl.d/60-web.conf

    - name: No stale key
      sysctl:
        name: net.ipv4.tcp_syncookies
        state: absent

    - name: Set the time zone
      community.general.timezone:
        name: Europe/Paris

    - name: Generate the locales
      community.general.locale_gen:
        name: "{{ item }}"
        state: present
      loop: [en_US.UTF-8, nl_NL.UTF-8]

    - name: A tmpfs for the app's cache
      ansible.posix.mount:
        path: /srv/cache
        src: tmpfs
        fstype: tmpfs
        opts: size=16m,mode=0755
        state: mounted

    - name: Let the firewall settle
      pause:
        seconds: 1

    - name: Gather service facts
      ansible.builtin.service_facts:
      register: svc

    - name: Gather package facts
      package_facts:
        manager: auto
      register: pkgs

    - name: Write what the facts say
      copy:
        dest: /etc/motd.d-facts
        content: |
          ssh {{ svc.ansible_facts.services["ssh.service"].state }} {{ svc.ansible_facts.services["ssh.service"].status }}
          ufw {{ pkgs.ansible_facts.packages["ufw"][0].version }}
          {{ services["ssh.service"].state }} {{ ansible_facts.services["ssh.service"].status }} {{ 'ufw' in packages }} {{ ansible_services is defined }}

    - name: Django project directories
      file:
        path: "{{ item }}"
        state: directory
        mode: "0755"
      loop: [/srv/app, /srv/app/mysite, /srv/app/assets]

    - name: manage.py
      copy:
        dest: /srv/app/manage.py
        mode: "0755"
        content: |
          #!/usr/bin/env python3
          import os
          import sys

          if __name__ == "__main__":
              os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
              from django.core.management import execute_from_command_line
              execute_from_command_line(sys.argv)

    - name: The project package
      copy:
        dest: /srv/app/mysite/__init__.py
        content: ""

    - name: Settings
      copy:
        dest: /srv/app/mysite/settings.py
        content: |
          from pathlib import Path
          BASE_DIR = Path(__file__).resolve().parent.parent
          SECRET_KEY = "e2e-only"
          ALLOWED_HOSTS = ["*"]
          INSTALLED_APPS = [
              "django.contrib.contenttypes",
              "django.contrib.auth",
              "django.contrib.sessions",
              "django.contrib.staticfiles",
          ]
          DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "db.sqlite3"}}
          DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
          STATIC_URL = "/static/"
          STATIC_ROOT = "/srv/app/static"
          STATICFILES_DIRS = [BASE_DIR / "assets"]

    - name: A stylesheet
      copy:
        dest: /srv/app/assets/site.css
        content: "body { margin: 0 }\n"

    - name: Apply migrations
      community.general.django_manage:
        command: migrate
        project_path: /srv/app

    - name: Collect static files
      django_manage:
        command: collectstatic
        app_path: /srv/app
        settings: mysite.settings

    - name: Application database
      community.mysql.mysql_db:
        name: appdb
        encoding: utf8mb4
        collation: utf8mb4_unicode_ci
        state: present

    - name: Application database user
      community.mysql.mysql_user:
        name: app
        host: localhost
        password: "{{ db_password }}"
        priv: "appdb.*:ALL"
        state: present
      no_log: true

    - name: Read-only reporting user
      mysql_user:
        name: report
        host: "%"
        password: r3port
        priv: "appdb.*:SELECT/mysql.*:SELECT"

    - name: PostgreSQL role for Django
      community.postgresql.postgresql_user:
        name: django
        password: "{{ db_password }}"
        role_attr_flags: CREATEDB,NOSUPERUSER
        state: present
      no_log: true

    - name: PostgreSQL database for Django
      community.postgresql.postgresql_db:
        name: django_app
        owner: django
        encoding: UTF-8
        template: template0
        state: present

    - name: PostgreSQL reporting role
      postgresql_user:
        name: report
        role_attr_flags: NOLOGIN

    - name: Reporting role may connect
      community.postgresql.postgresql_privs:
        db: django_app
        type: database
        privs: CONNECT,TEMP
        roles: report

    - name: Worker program
      copy:
        dest: /etc/supervisor/conf.d/worker.conf
        content: |
          [program:worker]
          command=/bin/sleep 100000
          autostart=false

    - name: Worker runs
      community.general.supervisorctl:
        name: worker
        state: started
"##;

fn statuses(r: &support::Run, host: &str) -> BTreeMap<String, String> {
    r.statuses(host).into_iter().collect()
}

#[test]
fn host_modules_converge_and_plan_predicts() {
    let k = 86;
    let _hosts = Hosts::up(&[k]);
    let dir = tempfile::tempdir().unwrap();
    let inv = inventory(dir.path(), &[k], "root");
    let pb = dir.path().join("site.yml");
    std::fs::write(&pb, PLAYBOOK).unwrap();
    let pb = pb.to_str().unwrap();
    let host = format!("h{k}");
    // A stale line for `state: absent` to remove.
    Hosts::sh(k, "echo 'net.ipv4.tcp_syncookies=1' >> /etc/sysctl.conf");

    let first = apply_json(dir.path(), pb, &inv, &[]);
    assert_eq!(first.code, 0, "{}\n{}", first.stdout, first.stderr);
    let a = statuses(&first, &host);
    for t in [
        "Enable IP forwarding",
        "Bigger listen backlog, in its own file",
        "No stale key",
        "Allow ssh",
        "Rate-limit ssh from the office",
        "Allow the web ports",
        "App port only from loopback",
        "Log",
        "Enable the firewall",
        "Set the time zone",
        "Write what the facts say",
        "Generate the locales",
        "A tmpfs for the app's cache",
        "Apply migrations",
        "Collect static files",
        "Application database",
        "Application database user",
        "Read-only reporting user",
        "PostgreSQL role for Django",
        "PostgreSQL database for Django",
        "PostgreSQL reporting role",
        "Reporting role may connect",
        "Worker runs",
    ] {
        assert_eq!(a.get(t).map(String::as_str), Some("changed"), "{t}: {a:?}");
    }

    // The host really is configured.
    assert_eq!(Hosts::sh(k, "cat /proc/sys/net/ipv4/ip_forward"), "1");
    assert_eq!(Hosts::sh(k, "cat /proc/sys/net/core/somaxconn"), "1024");
    assert_eq!(
        Hosts::sh(k, "cat /etc/sysctl.d/60-web.conf"),
        "net.core.somaxconn=1024"
    );
    assert_eq!(
        Hosts::sh(
            k,
            "grep -c '^net.ipv4.tcp_syncookies' /etc/sysctl.conf || true"
        ),
        "0"
    );
    assert_eq!(Hosts::sh(k, "cat /etc/timezone"), "Europe/Paris");
    assert_eq!(
        Hosts::sh(k, "timedatectl show -p Timezone --value"),
        "Europe/Paris"
    );
    let locales = Hosts::sh(k, "locale -a");
    assert!(
        locales.contains("en_US.utf8") && locales.contains("nl_NL.utf8"),
        "{locales}"
    );
    assert_eq!(
        Hosts::sh(k, "grep /srv/cache /etc/fstab"),
        "tmpfs /srv/cache tmpfs size=16m,mode=0755 0 0"
    );
    assert_eq!(Hosts::sh(k, "findmnt -n -o FSTYPE /srv/cache"), "tmpfs");
    assert_eq!(
        Hosts::sh(k, "cat /srv/app/static/site.css"),
        "body { margin: 0 }"
    );
    let migrated = Hosts::sh(k, "cd /srv/app && python3 manage.py showmigrations --plan");
    assert!(!migrated.contains("[ ]"), "{migrated}");
    assert_eq!(
        Hosts::sh(
            k,
            "MYSQL_PWD=s3cret-app mysql -NB -uapp appdb -e 'SELECT @@character_set_database, @@collation_database'"
        ),
        "utf8mb4\tutf8mb4_unicode_ci"
    );
    let grants = Hosts::sh(k, "mysql -NBe \"SHOW GRANTS FOR report@'%'\"");
    assert!(grants.contains("GRANT SELECT ON `mysql`.*"), "{grants}");
    assert_eq!(
        Hosts::sh(
            k,
            "PGPASSWORD=s3cret-app psql -XAtq -h 127.0.0.1 -U django -d django_app -c 'SELECT current_user, pg_encoding_to_char(encoding) FROM pg_database WHERE datname = current_database()'"
        ),
        "django|UTF8"
    );
    let acl = Hosts::sh(
        k,
        "cd / && runuser -u postgres -- psql -XAtq -c \"SELECT datacl FROM pg_database WHERE datname = 'django_app'\"",
    );
    assert!(acl.contains("report=Tc/"), "{acl}");
    let sv = Hosts::sh(k, "supervisorctl status worker");
    assert!(sv.contains("RUNNING"), "{sv}");
    let motd = Hosts::sh(k, "cat /etc/motd.d-facts");
    let ufw_version = Hosts::sh(k, "dpkg-query -W -f='${Version}' ufw");
    // The module facts are variables as Ansible injects them: `services`, `packages`.
    assert_eq!(
        motd,
        format!("ssh running enabled\nufw {ufw_version}\nrunning enabled True False")
    );
    for t in [
        "Let the firewall settle",
        "Gather service facts",
        "Gather package facts",
    ] {
        assert_eq!(a.get(t).map(String::as_str), Some("ok"), "{t}: {a:?}");
    }
    // ufw's enable loads /etc/ufw/sysctl.conf; the sysctl tasks run after it.
    let status = Hosts::sh(k, "ufw status verbose");
    assert!(status.contains("Status: active"), "{status}");
    assert!(status.contains("443/tcp"), "{status}");
    assert!(status.contains("LIMIT IN    10.0.0.0/8"), "{status}");

    // Converged: the plan is quiet and so is the second run.
    let plan = playbook(
        dir.path(),
        "plan",
        pb,
        &inv,
        &["--host-key-checking", "accept-new", "--output", "json"],
    );
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
    let p = statuses(&plan, &host);
    assert!(p.values().all(|s| s == "ok"), "converged host, plan: {p:?}");
    let second = apply_json(dir.path(), pb, &inv, &[]);
    assert_eq!(second.code, 0, "{}\n{}", second.stdout, second.stderr);
    let a = statuses(&second, &host);
    assert!(a.values().all(|s| s == "ok"), "second run: {a:?}");

    // Drift: the plan names exactly what the apply then changes.
    Hosts::sh(
        k,
        "sysctl -q -w net.ipv4.ip_forward=0; ufw --force delete allow 443/tcp >/dev/null; \
         mysql -e \"REVOKE SELECT ON mysql.* FROM report@'%'\"; \
         runuser -u postgres -- psql -Xq -c 'ALTER ROLE django NOCREATEDB' 2>/dev/null; \
         supervisorctl stop worker",
    );
    let plan = playbook(
        dir.path(),
        "plan",
        pb,
        &inv,
        &["--host-key-checking", "accept-new", "--output", "json"],
    );
    let p = statuses(&plan, &host);
    let third = apply_json(dir.path(), pb, &inv, &[]);
    assert_eq!(third.code, 0, "{}\n{}", third.stdout, third.stderr);
    let a = statuses(&third, &host);
    let changed = |m: &BTreeMap<String, String>| -> Vec<String> {
        m.iter()
            .filter(|(_, s)| *s == "changed")
            .map(|(t, _)| t.clone())
            .collect()
    };
    assert_eq!(
        changed(&p),
        [
            "Allow the web ports",
            "Enable IP forwarding",
            "PostgreSQL role for Django",
            "Read-only reporting user",
            "Worker runs"
        ],
        "{p:?}"
    );
    assert_eq!(changed(&a), changed(&p), "{a:?}");
}
