//! Two complete Django stacks, written as Ansible users write them (roles with defaults, split
//! task files, handlers, templates, group_vars), deployed end to end on real Debian 12 hosts:
//! PostgreSQL, a deploy user, a git checkout, a virtualenv, gunicorn or uWSGI, nginx and ufw.
//! Each is validated, planned, applied, checked over ssh independently of plumb, applied again
//! (nothing changes) and planned again (nothing to change).
//!
//! The hosts reach Debian's mirror only: the app's git repository is made on the control
//! machine from tests/fixtures/stacks/app_source and unpacked on the host as /srv/git/blog.git,
//! and the virtualenvs see Debian's python3-django (and friends) through system site-packages.

mod support;

use base64::Engine;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use support::{Hosts, Run, apply_json, inventory, playbook};

fn fixture(name: &str) -> PathBuf {
    support::repo().join("tests/fixtures/stacks").join(name)
}

/// A bare repository of the app's source, one commit on `main`, unpacked on hK at
/// /srv/git/blog.git; returns the commit.
fn seed_repo(k: u32, dir: &Path) -> String {
    let work = dir.join("src");
    let git = |args: &[&str], cwd: &Path| {
        let out = Command::new("git")
            .args([
                "-c",
                "user.name=Blog Author",
                "-c",
                "user.email=author@example.test",
                "-c",
                "commit.gpgsign=false",
                "-c",
                "init.defaultBranch=main",
            ])
            .args(args)
            .current_dir(cwd)
            .env("GIT_AUTHOR_DATE", "2024-01-01T00:00:00Z")
            .env("GIT_COMMITTER_DATE", "2024-01-01T00:00:00Z")
            .output()
            .expect("git on the control machine");
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let ok = Command::new("cp")
        .arg("-r")
        .arg(fixture("app_source"))
        .arg(&work)
        .status()
        .unwrap()
        .success();
    assert!(ok, "copying the app source");
    git(&["init", "-q"], &work);
    git(&["add", "-A"], &work);
    git(&["commit", "-q", "-m", "The blog"], &work);
    let head = git(&["rev-parse", "HEAD"], &work);
    git(&["clone", "-q", "--bare", "src", "blog.git"], dir);
    let tar = Command::new("tar")
        .arg("-C")
        .arg(dir)
        .args(["-czf", "-", "blog.git"])
        .output()
        .unwrap();
    assert!(tar.status.success());
    let b64 = base64::engine::general_purpose::STANDARD.encode(&tar.stdout);
    // The repository belongs to root and the checkout runs as the deploy user: git refuses a
    // repository another user owns unless it is listed as safe, as on any shared git server.
    Hosts::sh(
        k,
        &format!(
            "mkdir -p /srv/git && echo {b64} | base64 -d | tar -C /srv/git -xzf - && \
             printf '[safe]\\n\\tdirectory = /srv/git/blog.git\\n' >> /etc/gitconfig"
        ),
    );
    head
}

fn statuses(r: &Run, host: &str) -> BTreeMap<String, String> {
    r.statuses(host).into_iter().collect()
}

/// validate, plan, apply on a fresh host; returns the first apply.
fn first_deploy(dir: &Path, pb: &str, inv: &Path, extra: &[&str]) -> Run {
    let mut args = vec!["validate", pb, "-i", inv.to_str().unwrap()];
    args.extend_from_slice(extra);
    let v = support::plumb(dir, &args);
    assert_eq!(v.code, 0, "validate:\n{}\n{}", v.stdout, v.stderr);

    let mut args = vec!["--host-key-checking", "accept-new", "--output", "json"];
    args.extend_from_slice(extra);
    let plan = playbook(dir, "plan", pb, inv, &args);
    assert_eq!(plan.code, 0, "plan:\n{}\n{}", plan.stdout, plan.stderr);

    let first = apply_json(dir, pb, inv, extra);
    assert_eq!(first.code, 0, "apply:\n{}\n{}", first.stdout, first.stderr);
    first
}

/// A second apply changes nothing and a plan finds nothing to change.
fn converged(dir: &Path, pb: &str, inv: &Path, host: &str, extra: &[&str]) {
    let second = apply_json(dir, pb, inv, extra);
    assert_eq!(second.code, 0, "{}\n{}", second.stdout, second.stderr);
    let a = statuses(&second, host);
    let changed: Vec<&String> = a
        .iter()
        .filter(|(_, s)| *s != "ok" && *s != "skipped")
        .map(|(t, _)| t)
        .collect();
    assert!(changed.is_empty(), "second run changed {changed:?}: {a:?}");
    assert!(a.len() > 20, "{a:?}");

    let mut args = vec!["--host-key-checking", "accept-new", "--output", "json"];
    args.extend_from_slice(extra);
    let plan = playbook(dir, "plan", pb, inv, &args);
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
    let p = statuses(&plan, host);
    let pending: Vec<&String> = p
        .iter()
        .filter(|(_, s)| *s != "ok" && *s != "skipped")
        .map(|(t, _)| t)
        .collect();
    assert!(
        pending.is_empty(),
        "converged host, plan: {pending:?}: {p:?}"
    );
}

/// The page answers through nginx (retrying briefly: a reload's old workers may still serve).
fn page(k: u32, path: &str) -> String {
    Hosts::sh(
        k,
        &format!(
            "for i in $(seq 40); do out=$(curl -sf http://localhost{path}) && break; sleep 0.25; done; \
             printf '%s' \"$out\""
        ),
    )
}

fn psql(k: u32, sql: &str) -> String {
    Hosts::sh(
        k,
        &format!("cd / && runuser -u postgres -- psql -XAtq -c \"{sql}\""),
    )
}

fn ufw_rules(k: u32) -> String {
    let status = Hosts::sh(k, "ufw status verbose");
    assert!(status.contains("Status: active"), "{status}");
    assert!(
        status.contains("Default: deny (incoming)"),
        "default policy: {status}"
    );
    status
}

#[test]
fn stack_postgresql_gunicorn_nginx() {
    let k = 171;
    let _hosts = Hosts::up(&[k]);
    let dir = tempfile::tempdir().unwrap();
    let head = seed_repo(k, dir.path());
    let inv = inventory(dir.path(), &[k], "root");
    let pb = fixture("django_pg_gunicorn").join("site.yml");
    let pb = pb.to_str().unwrap();
    let key_file = format!(
        "deploy_public_key_file={}.pub",
        Hosts::key().to_str().unwrap()
    );
    let extra = ["-e", key_file.as_str()];
    let host = format!("h{k}");

    let first = first_deploy(dir.path(), pb, &inv, &extra);
    let a = statuses(&first, &host);
    for t in [
        "Create the deploy user",
        "Authorize the deploy key",
        "Allow OpenSSH",
        "Deny everything else and enable the firewall",
        "Create the database user",
        "Create the database",
        "Nobody but the app connects to its database",
        "Check out the code",
        "Install the requirements in a virtualenv",
        "Run the migrations",
        "Collect the static files",
        "Listen on the socket",
        "Enable the site",
    ] {
        assert_eq!(a.get(t).map(String::as_str), Some("changed"), "{t}: {a:?}");
    }

    // nginx → gunicorn (socket activated) → Django → PostgreSQL.
    let home = page(k, "/");
    assert!(
        home.starts_with("Hello from blog on gunicorn: database blog as blog,"),
        "{home}"
    );
    assert!(!home.contains(", 0 migrations"), "{home}");
    assert!(page(k, "/static/blog/site.css").contains("font-family"));
    assert_eq!(
        Hosts::sh(k, "systemctl is-active blog.socket blog.service nginx"),
        "active\nactive\nactive"
    );
    assert_eq!(
        Hosts::sh(
            k,
            "stat -c %U /run/gunicorn-blog.sock; readlink /etc/nginx/sites-enabled/blog"
        ),
        "www-data\n/etc/nginx/sites-available/blog"
    );
    // The database, its owner, and PUBLIC's default privileges revoked.
    assert_eq!(
        psql(
            k,
            "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'blog'"
        ),
        "blog"
    );
    let acl = psql(k, "SELECT datacl FROM pg_database WHERE datname = 'blog'");
    assert!(
        !acl.contains("{=") && !acl.contains(",="),
        "PUBLIC keeps {acl}"
    );
    // The firewall.
    let rules = ufw_rules(k);
    assert!(rules.contains("22/tcp (OpenSSH)"), "{rules}");
    assert!(rules.contains("80/tcp"), "{rules}");
    // The deploy user logs in with its key; the checkout is its own, at the repo's commit.
    let (code, who) = Hosts::ssh_as(k, "webdeploy", &Hosts::key(), "id -un; id -Gn");
    assert_eq!(code, 0, "{who}");
    assert!(
        who.starts_with("webdeploy\n") && who.contains("www-data"),
        "{who}"
    );
    assert_eq!(
        Hosts::sh(
            k,
            "cd / && runuser -u webdeploy -- git -C /srv/blog/src rev-parse HEAD; stat -c %U /srv/blog/src/manage.py"
        ),
        format!("{head}\nwebdeploy")
    );
    assert_eq!(
        Hosts::sh(
            k,
            "/srv/blog/venv/bin/python -c 'import django, gunicorn; print(django.VERSION[0] >= 3)'"
        ),
        "True"
    );
    assert_eq!(
        Hosts::sh(
            k,
            "cd / && sudo -u webdeploy -n sudo -n -l /usr/bin/systemctl restart blog.service"
        ),
        "/usr/bin/systemctl restart blog.service"
    );

    converged(dir.path(), pb, &inv, &host, &extra);
}

#[test]
fn stack_postgresql_uwsgi_emperor_nginx() {
    let k = 172;
    let _hosts = Hosts::up(&[k]);
    let dir = tempfile::tempdir().unwrap();
    let head = seed_repo(k, dir.path());
    let inv = inventory(dir.path(), &[k], "root");
    let pb = fixture("django_pg_uwsgi").join("deploy.yml");
    let pb = pb.to_str().unwrap();
    let key_file = format!(
        "admin_public_key_file={}.pub",
        Hosts::key().to_str().unwrap()
    );
    let extra = ["-e", key_file.as_str()];
    let host = format!("h{k}");

    let first = first_deploy(dir.path(), pb, &inv, &extra);
    let a = statuses(&first, &host);
    for t in [
        "Install the base packages (Debian family)",
        "Administrator accounts",
        "Administrator keys",
        "Firewall rules",
        "Firewall on",
        "Database roles",
        "Databases",
        "The read-only role may connect",
        "Code checked out",
        "Virtualenv with the requirements",
        "Settings for this host",
        "Database schema",
        "Static files",
        "Emperor running",
        "Site configuration",
        "The read-only role may read every table",
    ] {
        assert_eq!(a.get(t).map(String::as_str), Some("changed"), "{t}: {a:?}");
    }
    assert_eq!(
        a.get("The site answers through nginx and uWSGI")
            .map(String::as_str),
        Some("ok"),
        "{a:?}"
    );

    // nginx → uwsgi_pass → the emperor's vassal → Django → PostgreSQL.
    let home = page(k, "/");
    assert!(
        home.starts_with("Hello from notes on uWSGI: database notes as notes,"),
        "{home}"
    );
    assert!(page(k, "/static/blog/site.css").contains("font-family"));
    assert_eq!(
        Hosts::sh(k, "systemctl is-active emperor.uwsgi nginx postgresql"),
        "active\nactive\nactive"
    );
    assert_eq!(
        Hosts::sh(k, "stat -c '%U:%G %a' /run/uwsgi/notes.sock"),
        "notes:www-data 660"
    );
    assert!(
        Hosts::sh(k, "cat /etc/nginx/conf.d/notes.conf")
            .contains("uwsgi_pass unix:/run/uwsgi/notes.sock;")
    );
    // The read-only role connects with its password and reads what migrate created.
    assert_eq!(
        Hosts::sh(
            k,
            "PGPASSWORD=read-0nly-pass psql -XAtq -h 127.0.0.1 -U notes_ro -d notes -c 'SELECT count(*) > 0 FROM django_migrations'"
        ),
        "t"
    );
    assert_eq!(
        psql(
            k,
            "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'notes'"
        ),
        "notes"
    );
    // The firewall, rule by rule from the dict loop.
    let rules = ufw_rules(k);
    for r in ["22/tcp", "80/tcp", "5432/tcp", "# no remote postgres"] {
        assert!(rules.contains(r), "{r}: {rules}");
    }
    assert!(rules.contains("DENY IN"), "{rules}");
    // The administrator logs in with the key; the checkout is the app account's.
    let (code, who) = Hosts::ssh_as(k, "ops", &Hosts::key(), "id -un; id -Gn");
    assert_eq!(code, 0, "{who}");
    assert!(who.starts_with("ops\n") && who.contains("sudo"), "{who}");
    assert_eq!(
        Hosts::sh(
            k,
            "cd / && runuser -u notes -- git -C /srv/notes/code rev-parse HEAD; stat -c %U /srv/notes/code/manage.py"
        ),
        format!("{head}\nnotes")
    );

    converged(dir.path(), pb, &inv, &host, &extra);
}
