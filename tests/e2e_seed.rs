//! End to end, over real SSH against real Debian 12 hosts: the shipped playbooks/site.yml
//! deploys nginx → uWSGI (unix socket) → Django, converges, and repairs drift.

mod support;

use support::{Hosts, http_get, inventory, playbook, repo, site};

fn apply(dir: &std::path::Path, inv: &std::path::Path) -> support::Run {
    support::apply_json(dir, &site(), inv, &[])
}

fn main_pid(k: u32, unit: &str) -> String {
    Hosts::sh(k, &format!("systemctl show -p MainPID --value {unit}"))
}

#[test]
fn seed_deploys_converges_and_repairs_drift() {
    let k = 11;
    let _hosts = Hosts::up(&[k]);
    let dir = tempfile::tempdir().unwrap();
    let inv = inventory(dir.path(), &[k], "root");
    let host = format!("h{k}");
    let ip = Hosts::ip(k);

    // Fresh host: everything is installed and the site answers through nginx.
    let first = apply(dir.path(), &inv);
    assert_eq!(
        first.code, 0,
        "first apply failed:\n{}\n{}",
        first.stdout, first.stderr
    );
    assert_eq!(first.host_status(&host), "changed");
    let (status, body) = http_get(&ip, "/");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Hello from myproject"), "{body}");
    let css = std::fs::read_to_string(
        repo().join("playbooks/files/myproject/static/myproject/style.css"),
    )
    .unwrap();
    let (status, body) = http_get(&ip, "/static/myproject/style.css");
    assert_eq!(status, 200);
    assert_eq!(body, css);
    // The socket is for nginx's user only.
    let sock = Hosts::sh(k, "stat -c '%U:%G %a' /run/myproject/myproject.sock");
    assert_eq!(sock, "www-data:www-data 660");
    assert!(Hosts::ssh(k, "test -e /etc/nginx/sites-enabled/default").0 != 0);

    // Second run: nothing changes, nothing restarts.
    let uwsgi_pid = main_pid(k, "uwsgi-myproject");
    let nginx_pid = main_pid(k, "nginx");
    assert_ne!(uwsgi_pid, "0");
    let second = apply(dir.path(), &inv);
    assert_eq!(second.code, 0, "{}", second.stdout);
    assert_eq!(second.host_status(&host), "ok", "{}", second.stdout);
    assert!(
        second.with_status(&host, "changed").is_empty(),
        "{:?}",
        second.statuses(&host)
    );
    assert_eq!(
        main_pid(k, "uwsgi-myproject"),
        uwsgi_pid,
        "uWSGI was restarted"
    );
    assert_eq!(main_pid(k, "nginx"), nginx_pid, "nginx was restarted");

    // uWSGI stopped: exactly that task changes, and the site works again.
    Hosts::sh(k, "systemctl stop uwsgi-myproject");
    assert_eq!(http_get(&ip, "/").0, 502);
    let third = apply(dir.path(), &inv);
    assert_eq!(third.code, 0, "{}", third.stdout);
    assert_eq!(
        third.with_status(&host, "changed"),
        ["uWSGI running and enabled"]
    );
    let (status, body) = http_get(&ip, "/");
    assert_eq!(status, 200);
    assert!(body.contains("Hello from myproject"));

    // The nginx conf edited on the host: restored, and nginx reloaded (not restarted).
    let conf = "/etc/nginx/conf.d/myproject.conf";
    let good = Hosts::sh(k, &format!("sha256sum {conf}"));
    Hosts::sh(k, &format!("echo '# edited by hand' >> {conf}"));
    let nginx_pid = main_pid(k, "nginx");
    let fourth = apply(dir.path(), &inv);
    assert_eq!(fourth.code, 0, "{}", fourth.stdout);
    assert_eq!(
        fourth.with_status(&host, "changed"),
        ["nginx site", "handler: reload nginx"]
    );
    assert_eq!(Hosts::sh(k, &format!("sha256sum {conf}")), good);
    assert_eq!(
        main_pid(k, "nginx"),
        nginx_pid,
        "nginx restarted instead of reloaded"
    );
    assert_eq!(http_get(&ip, "/").0, 200);
}

#[test]
fn seed_deploys_as_a_sudo_user() {
    let k = 12;
    let _hosts = Hosts::up(&[k]);
    let dir = tempfile::tempdir().unwrap();
    let inv = inventory(dir.path(), &[k], "deploy");
    let host = format!("h{k}");

    let first = apply(dir.path(), &inv);
    assert_eq!(first.code, 0, "{}\n{}", first.stdout, first.stderr);
    let (status, body) = http_get(&Hosts::ip(k), "/");
    assert_eq!(status, 200);
    assert!(body.contains("Hello from myproject"));
    // Files written through sudo belong to root, not to the login user.
    assert_eq!(
        Hosts::sh(k, "stat -c %U /etc/nginx/conf.d/myproject.conf"),
        "root"
    );
    let second = apply(dir.path(), &inv);
    assert_eq!(second.host_status(&host), "ok", "{}", second.stdout);

    // Without become, commands run as the login user; with it, as root.
    let pb = dir.path().join("whoami.yml");
    std::fs::write(
        &pb,
        "- hosts: all\n  tasks:\n    - command: id -un\n      register: plain\n      changed_when: false\n    - command: id -un\n      become: true\n      register: root\n      changed_when: false\n    - debug:\n        msg: \"{{ plain.stdout }}/{{ root.stdout }}\"\n    - shell: echo out; echo err >&2\n      become: true\n      register: both\n      changed_when: false\n    - debug:\n        msg: \"{{ both.stdout }}|{{ both.stderr }}|{{ both.stderr_lines | length }}\"\n    - command: ls /nonexistent\n      ignore_errors: true\n    - shell: head -c 3000000 /dev/zero | tr '\\0' e >&2; head -c 3000000 /dev/zero | tr '\\0' o\n      register: big\n      changed_when: false\n    - debug:\n        msg: \"{{ big.stdout | length }}/{{ big.stderr | length }}/{{ big.stdout.startswith('ooo') }}\"\n",
    )
    .unwrap();
    let run = playbook(
        dir.path(),
        "apply",
        pb.to_str().unwrap(),
        &inv,
        &["--output", "json"],
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let doc = run.json();
    assert_eq!(doc["hosts"][0]["tasks"][2]["msg"], "deploy/root");
    // stderr is kept apart in the registered result, and shown when a command fails.
    assert_eq!(doc["hosts"][0]["tasks"][4]["msg"], "out|err|1");
    let failed = doc["hosts"][0]["tasks"][5]["msg"].as_str().unwrap();
    assert!(failed.contains("No such file or directory"), "{failed}");
    // Megabytes on both streams at once: drained side by side, neither window stalls the other.
    assert_eq!(doc["hosts"][0]["tasks"][7]["msg"], "3000000/3000000/True");

    // https, spoken by plumb itself through the SSH tunnel: nginx with a certificate for
    // `localhost` from a private CA, which the control machine does not trust by itself.
    Hosts::sh(
        k,
        "set -e; cd /etc/nginx; \
         openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -subj /CN=plumb-test-ca -days 2 2>/dev/null; \
         openssl req -newkey rsa:2048 -nodes -keyout tls.key -out tls.csr -subj /CN=localhost 2>/dev/null; \
         printf 'subjectAltName=DNS:localhost\\nbasicConstraints=CA:FALSE\\n' > tls.ext; \
         openssl x509 -req -in tls.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out tls.crt -days 2 -extfile tls.ext 2>/dev/null; \
         printf 'server { listen 443 ssl; ssl_certificate /etc/nginx/tls.crt; ssl_certificate_key /etc/nginx/tls.key; location / { return 200 \"secure\\\\n\"; } }\\n' \
           > /etc/nginx/conf.d/tls.conf && systemctl reload nginx",
    );
    std::fs::write(
        dir.path().join("ca.pem"),
        Hosts::sh(k, "cat /etc/nginx/ca.crt"),
    )
    .unwrap();
    let pb = dir.path().join("tls.yml");
    std::fs::write(
        &pb,
        "- hosts: all\n  tasks:\n    - name: unchecked\n      uri: {url: 'https://localhost/', validate_certs: false, return_content: true}\n      register: a\n      loop: \"{{ range(20) }}\"\n    - name: show\n      debug: {msg: \"{{ a.results | map(attribute='content') | join('') | trim }}\"}\n    - name: trusted\n      uri: {url: 'https://localhost/', ca_path: ca.pem}\n    - name: untrusted\n      uri: {url: 'https://localhost/'}\n      ignore_errors: true\n",
    )
    .unwrap();
    let run = playbook(
        dir.path(),
        "apply",
        pb.to_str().unwrap(),
        &inv,
        &["--output", "json"],
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    // Twenty times: TLS records that arrive early (session tickets) must not be lost.
    assert_eq!(run.task_msg(&host, "show"), "secure\n".repeat(20).trim());
    let st: Vec<(String, String)> = run.statuses(&host);
    assert_eq!(st[2], ("trusted".to_string(), "ok".to_string()), "{st:?}");
    assert_eq!(st[3].1, "failed", "{st:?}");
    let why = run.task_msg(&host, "untrusted");
    assert!(
        why.contains("invalid peer certificate") && why.contains("ca_path"),
        "{why}"
    );

    // lineinfile through sudo: Debian's commented `# server_tokens off;` put in force, checked
    // by `nginx -t` before it lands; planned with its diff first, then applied once.
    let pb = dir.path().join("tokens.yml");
    std::fs::write(
        &pb,
        "- hosts: all\n  become: true\n  tasks:\n    - name: hide the version\n      lineinfile:\n        path: /etc/nginx/nginx.conf\n        regexp: '^\\s*#?\\s*server_tokens'\n        line: \"\\tserver_tokens off;\"\n        validate: nginx -t -q -c %s\n",
    )
    .unwrap();
    let tokens = |cmd: &str| {
        playbook(
            dir.path(),
            cmd,
            pb.to_str().unwrap(),
            &inv,
            &["--output", "json"],
        )
    };
    let changed = vec![("hide the version".to_string(), "changed".to_string())];
    let before = Hosts::sh(k, "sha256sum /etc/nginx/nginx.conf");
    let plan = tokens("plan");
    assert_eq!(plan.statuses(&host), changed, "{}", plan.stdout);
    let diff = plan.host(&host)["tasks"][0]["diff"].to_string();
    assert!(
        diff.contains("-\\t# server_tokens off;") && diff.contains("+\\tserver_tokens off;"),
        "{diff}"
    );
    assert_eq!(Hosts::sh(k, "sha256sum /etc/nginx/nginx.conf"), before);
    let run = tokens("apply");
    assert_eq!(run.statuses(&host), changed, "{}", run.stdout);
    assert_eq!(
        Hosts::sh(k, "grep -c '^\\s*server_tokens off;' /etc/nginx/nginx.conf"),
        "1"
    );
    let again = tokens("apply");
    assert_eq!(
        again.statuses(&host),
        [("hide the version".to_string(), "ok".to_string())]
    );

    // A service account: group, then user with a supplementary group; converged on the second
    // run; `append` adds a group and keeps the others.
    let account = |groups: &str, extra: &str| {
        let pb = dir.path().join("account.yml");
        std::fs::write(
            &pb,
            format!("- hosts: all\n  become: true\n  tasks:\n    - name: app group\n      group: {{name: app, system: true}}\n    - name: app user\n      user: {{name: app, group: app, groups: [{groups}], shell: /usr/sbin/nologin, home: /srv/app, create_home: false, system: true{extra}}}\n"),
        )
        .unwrap();
        let r = playbook(
            dir.path(),
            "apply",
            pb.to_str().unwrap(),
            &inv,
            &["--output", "json"],
        );
        assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
        r.statuses(&host)
            .into_iter()
            .map(|(_, s)| s)
            .collect::<Vec<_>>()
    };
    assert_eq!(account("www-data", ""), ["changed", "changed"]);
    let id = Hosts::sh(k, "id -Gn app; getent passwd app | cut -d: -f6,7");
    assert_eq!(id, "app www-data\n/srv/app:/usr/sbin/nologin");
    assert_eq!(account("www-data", ""), ["ok", "ok"]);
    assert_eq!(account("adm", ", append: true"), ["ok", "changed"]);
    let mut groups: Vec<String> = Hosts::sh(k, "id -Gn app")
        .split_whitespace()
        .map(String::from)
        .collect();
    groups.sort();
    assert_eq!(groups, ["adm", "app", "www-data"]);

    // A person's key: plumb creates the account and authorizes a key made here; logging in
    // with that key then works, which is the real proof.
    let key = dir.path().join("ops_key");
    let made = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "ops@control", "-f"])
        .arg(&key)
        .status()
        .unwrap();
    assert!(made.success());
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    let pb = dir.path().join("ops.yml");
    std::fs::write(
        &pb,
        format!(
            "- hosts: all\n  become: true\n  tasks:\n    - name: ops user\n      user: {{name: ops, shell: /bin/bash}}\n    - name: ops key\n      authorized_key:\n        user: ops\n        key: \"{}\"\n",
            public.trim()
        ),
    )
    .unwrap();
    let ops = || {
        let r = playbook(
            dir.path(),
            "apply",
            pb.to_str().unwrap(),
            &inv,
            &["--output", "json"],
        );
        assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
        r.statuses(&host)
            .into_iter()
            .map(|(_, s)| s)
            .collect::<Vec<_>>()
    };
    assert_eq!(ops(), ["changed", "changed"]);
    let (code, login) = Hosts::ssh_as(
        k,
        "ops",
        &key,
        "id -un; stat -c %a ~/.ssh ~/.ssh/authorized_keys",
    );
    assert_eq!((code, login.as_str()), (0, "ops\n700\n600\n"));
    assert_eq!(ops(), ["ok", "ok"]);
}
