//! `user` passwords and SSH keys, `uri` with bodies and methods, `copy` on the host
//! (`remote_src`) and `debug`'s `verbosity`, on real Debian 12 hosts: the plan predicts the
//! first run, the first run makes the changes (checked on the host over ssh, not through
//! plumb), the second changes nothing.

mod support;

use std::collections::BTreeMap;
use support::{Hosts, apply_json, inventory, playbook};

fn statuses(r: &support::Run, host: &str) -> BTreeMap<String, String> {
    r.statuses(host).into_iter().collect()
}

/// `plan` in JSON, recording unknown host keys.
fn plan(dir: &std::path::Path, pb: &str, inv: &std::path::Path) -> support::Run {
    let p = playbook(
        dir,
        "plan",
        pb,
        inv,
        &["--host-key-checking", "accept-new", "--output", "json"],
    );
    assert_eq!(p.code, 0, "{}\n{}", p.stdout, p.stderr);
    p
}

fn assert_status(s: &BTreeMap<String, String>, tasks: &[&str], want: &str) {
    for t in tasks {
        assert_eq!(s.get(*t).map(String::as_str), Some(want), "{t}: {s:?}");
    }
}

// `openssl passwd -6 -salt plumbsalt secret` and `… -salt othersalt other`.
const HASH1: &str = "$6$plumbsalt$ipA6HiVUVZsG1JSetZkMIasshE/Hoh/2b.BVxzg/qFXtMAKsDqrv/yd5fqsDPJ2YRNYiBPmV3QDyxqIWs5YXc/";

const USERS: &str = r##"---
- name: Accounts
  hosts: all
  become: true
  tasks:
    - name: Alice with a password and a key
      user:
        name: alice
        password: "{{ alice_hash }}"
        shell: /bin/bash
        generate_ssh_key: true
        ssh_key_type: ed25519
        ssh_key_comment: alice@plumb
      register: alice

    - name: Record her public key
      copy:
        content: "{{ alice.ssh_public_key }}|{{ alice.ssh_key_file }}|{{ alice.password }}\n"
        dest: /root/alice.pub

    - name: Bob's password only on creation
      ansible.builtin.user:
        name: bob
        password: "{{ alice_hash }}"
        update_password: on_create
        groups: [adm]

    - name: Bob's key in a place of his own
      user:
        name: bob
        generate_ssh_key: yes
        ssh_key_bits: 2048
        ssh_key_file: .ssh/custom

    - name: Carol goes, with her home
      user:
        name: carol
        state: absent
        force: true
        remove: true

    - name: Chatty
      debug:
        msg: details
        verbosity: 2
"##;

#[test]
fn users_get_passwords_and_keys_and_converge() {
    let k = 181;
    let _hosts = Hosts::up(&[k]);
    let dir = tempfile::tempdir().unwrap();
    let inv = inventory(dir.path(), &[k], "root");
    let pb = dir.path().join("users.yml");
    std::fs::write(&pb, USERS).unwrap();
    let pb = pb.to_str().unwrap();
    let host = format!("h{k}");
    Hosts::sh(k, "useradd -m carol && touch /home/carol/notes");
    let e = format!("alice_hash={HASH1}");
    let extra = ["-e", e.as_str()];
    let mut pargs = vec!["--host-key-checking", "accept-new", "--output", "json"];
    pargs.extend_from_slice(&extra);
    let p = playbook(dir.path(), "plan", pb, &inv, &pargs);
    assert_eq!(p.code, 0, "{}\n{}", p.stdout, p.stderr);
    let s = statuses(&p, &host);
    assert_status(
        &s,
        &[
            "Alice with a password and a key",
            "Bob's password only on creation",
            "Bob's key in a place of his own",
            "Carol goes, with her home",
        ],
        "changed",
    );
    // The key exists only once made: what reads it waits for apply.
    assert_status(&s, &["Record her public key"], "may-change");
    assert_status(&s, &["Chatty"], "skipped");
    assert!(!p.stdout.contains("plumbsalt"), "{}", p.stdout);

    let first = apply_json(dir.path(), pb, &inv, &extra);
    assert_eq!(first.code, 0, "{}\n{}", first.stdout, first.stderr);
    let a = statuses(&first, &host);
    assert_status(
        &a,
        &[
            "Alice with a password and a key",
            "Record her public key",
            "Bob's password only on creation",
            "Bob's key in a place of his own",
            "Carol goes, with her home",
        ],
        "changed",
    );
    assert_status(&a, &["Chatty"], "skipped");
    assert!(!first.stdout.contains("plumbsalt"), "{}", first.stdout);

    // The host, read over ssh.
    assert_eq!(
        Hosts::sh(k, "getent shadow alice | cut -d: -f2"),
        HASH1,
        "alice's shadow entry"
    );
    assert_eq!(Hosts::sh(k, "getent shadow bob | cut -d: -f2"), HASH1);
    assert_eq!(
        Hosts::sh(
            k,
            "stat -c '%a %U' /home/alice/.ssh /home/alice/.ssh/id_rsa /home/bob/.ssh/custom"
        ),
        "700 alice\n600 alice\n600 bob"
    );
    let pub_line = Hosts::sh(k, "cat /home/alice/.ssh/id_rsa.pub");
    assert!(
        pub_line.starts_with("ssh-ed25519 ") && pub_line.ends_with(" alice@plumb"),
        "{pub_line}"
    );
    assert_eq!(
        Hosts::sh(k, "cat /root/alice.pub"),
        format!("{pub_line}|/home/alice/.ssh/id_rsa|NOT_LOGGING_PASSWORD")
    );
    assert_eq!(
        Hosts::sh(
            k,
            "ssh-keygen -lf /home/bob/.ssh/custom.pub | cut -d' ' -f1"
        ),
        "2048"
    );
    assert_eq!(Hosts::sh(k, "id -Gn bob"), "bob adm");
    assert_eq!(
        Hosts::sh(k, "getent passwd carol; ls -d /home/carol 2>&1 || true"),
        "ls: cannot access '/home/carol': No such file or directory"
    );

    // Bob's password changed by hand stays (on_create); Alice's is put back (always).
    Hosts::sh(k, "usermod -p '$6$x$y' bob && usermod -p '$6$x$z' alice");
    let p = playbook(dir.path(), "plan", pb, &inv, &pargs);
    let s = statuses(&p, &host);
    assert_status(&s, &["Alice with a password and a key"], "changed");
    assert_status(
        &s,
        &[
            "Record her public key",
            "Bob's password only on creation",
            "Bob's key in a place of his own",
            "Carol goes, with her home",
        ],
        "ok",
    );
    assert!(
        p.stdout.contains("user alice: password changed"),
        "{}",
        p.stdout
    );
    assert!(!p.stdout.contains("plumbsalt"), "{}", p.stdout);
    // Applied with -vv, human output: the facts and the script are shown, the hash in neither.
    let mut vv = vec!["--host-key-checking", "accept-new", "-vv"];
    vv.extend_from_slice(&extra);
    let again = playbook(dir.path(), "apply", pb, &inv, &vv);
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
    let all = format!("{}{}", again.stdout, again.stderr);
    // Task lines (the recap's line for the host goes on with blanks and numbers).
    let prefix = format!("{host}  changed     ");
    let changed: Vec<&str> = all
        .lines()
        .filter_map(|l| l.strip_prefix(prefix.as_str()))
        .filter(|rest| rest.starts_with(|c: char| c.is_alphabetic()))
        .collect();
    assert_eq!(changed.len(), 1, "{all}");
    assert_eq!(changed[0], "Alice with a password and a key", "{all}");
    assert!(all.contains("chpasswd -e"), "{all}");
    assert!(!all.contains("plumbsalt"), "{all}");
    assert_eq!(Hosts::sh(k, "getent shadow alice | cut -d: -f2"), HASH1);
    assert_eq!(Hosts::sh(k, "getent shadow bob | cut -d: -f2"), "$6$x$y");

    // Converged: nothing changes, and the plan says so; with -vv the debug speaks.
    let second = apply_json(dir.path(), pb, &inv, &extra);
    assert_eq!(second.code, 0, "{}\n{}", second.stdout, second.stderr);
    assert!(
        second.with_status(&host, "changed").is_empty(),
        "{:?}",
        statuses(&second, &host)
    );
    let mut vv = extra.to_vec();
    vv.push("-vv");
    let third = apply_json(dir.path(), pb, &inv, &vv);
    assert_eq!(third.code, 0, "{}\n{}", third.stdout, third.stderr);
    assert_eq!(third.task_msg(&host, "Chatty"), "details");
    assert!(third.with_status(&host, "changed").is_empty());
    assert!(!third.stdout.contains("plumbsalt") && !third.stderr.contains("plumbsalt"));
    let p = playbook(dir.path(), "plan", pb, &inv, &pargs);
    let s = statuses(&p, &host);
    let not_ok: Vec<_> = s
        .iter()
        .filter(|(t, st)| *st != "ok" && t.as_str() != "Chatty")
        .collect();
    assert!(not_ok.is_empty(), "{s:?}");
}

/// One request as the test's server received it.
#[derive(Debug, Clone)]
struct Got {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: String,
}

/// A tiny HTTP server on the control side of hK's link (10.231.K.1, nowhere else): records
/// each request and answers with JSON (201 to a POST, 204 to a DELETE, else 200).
fn serve(k: u32) -> (u16, std::sync::Arc<std::sync::Mutex<Vec<Got>>>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind((format!("10.231.{k}.1").as_str(), 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = got.clone();
    std::thread::spawn(move || {
        for s in listener.incoming() {
            let Ok(mut s) = s else { continue };
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut line = String::new();
            r.read_line(&mut line).unwrap();
            let mut words = line.split_whitespace();
            let method = words.next().unwrap_or_default().to_string();
            let path = words.next().unwrap_or_default().to_string();
            let mut headers = Vec::new();
            loop {
                let mut h = String::new();
                r.read_line(&mut h).unwrap();
                let h = h.trim_end();
                if h.is_empty() {
                    break;
                }
                let (k, v) = h.split_once(':').unwrap();
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
            let len: usize = headers
                .iter()
                .find(|(k, _)| k == "content-length")
                .map_or(0, |(_, v)| v.parse().unwrap());
            let mut body = vec![0; len];
            r.read_exact(&mut body).unwrap();
            let status = match method.as_str() {
                "POST" => "201 Created",
                "DELETE" => "204 No Content",
                _ => "200 OK",
            };
            let answer = if method == "DELETE" {
                String::new()
            } else {
                format!("{{\"id\": 7, \"method\": \"{method}\"}}")
            };
            log.lock().unwrap().push(Got {
                method,
                path,
                headers,
                body: String::from_utf8(body).unwrap(),
            });
            let _ = write!(
                s,
                "HTTP/1.0 {status}\r\nContent-Type: application/json\r\nX-Served-By: plumb-test\r\nContent-Length: {}\r\n\r\n{answer}",
                answer.len()
            );
        }
    });
    (port, got)
}

const API: &str = r##"---
- name: Calls
  hosts: all
  tasks:
    - name: Create an item
      uri:
        url: "http://{{ api }}/items"
        method: POST
        body_format: json
        body:
          name: app
          tags: [a, b]
          port: 8080
        headers:
          X-Token: abc
        status_code: [200, 201]
      register: created

    - name: Record the answer
      copy:
        content: "{{ created.status }} {{ created.json.id }} {{ created.x_served_by }} {{ created.redirected }}\n"
        dest: /root/created.txt

    - name: A form
      ansible.builtin.uri:
        url: "http://{{ api }}/form"
        method: PUT
        body_format: form-urlencoded
        body:
          user: a b
          n: 1
        return_content: true
      register: form

    - name: Record the form's answer
      copy:
        content: "{{ form.content }}|{{ form.json.method }}\n"
        dest: /root/form.txt

    - name: Delete it
      uri:
        url: "http://{{ api }}/items/7"
        method: DELETE
        status_code: 204
"##;

#[test]
fn uri_sends_bodies_and_registers_answers() {
    let k = 182;
    let _hosts = Hosts::up(&[k]);
    let (port, got) = serve(k);
    let dir = tempfile::tempdir().unwrap();
    let inv = inventory(dir.path(), &[k], "root");
    let pb = dir.path().join("api.yml");
    std::fs::write(&pb, API).unwrap();
    let pb = pb.to_str().unwrap();
    let host = format!("h{k}");
    let e = format!("api=10.231.{k}.1:{port}");
    let extra = ["-e", e.as_str()];
    let mut pargs = vec!["--host-key-checking", "accept-new", "--output", "json"];
    pargs.extend_from_slice(&extra);

    // The plan makes no request; what reads an answer waits for apply.
    let p = playbook(dir.path(), "plan", pb, &inv, &pargs);
    assert_eq!(p.code, 0, "{}\n{}", p.stdout, p.stderr);
    let s = statuses(&p, &host);
    assert_status(&s, &["Create an item", "A form", "Delete it"], "skipped");
    assert_status(
        &s,
        &["Record the answer", "Record the form's answer"],
        "may-change",
    );
    assert!(got.lock().unwrap().is_empty());

    let first = apply_json(dir.path(), pb, &inv, &extra);
    assert_eq!(first.code, 0, "{}\n{}", first.stdout, first.stderr);
    let a = statuses(&first, &host);
    assert_status(&a, &["Create an item", "A form", "Delete it"], "ok");
    assert_status(
        &a,
        &["Record the answer", "Record the form's answer"],
        "changed",
    );
    let reqs = got.lock().unwrap().clone();
    assert_eq!(reqs.len(), 3, "{reqs:?}");
    assert_eq!(
        (reqs[0].method.as_str(), reqs[0].path.as_str()),
        ("POST", "/items")
    );
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&reqs[0].body).unwrap(),
        serde_json::json!({"name": "app", "tags": ["a", "b"], "port": 8080})
    );
    let h = |g: &Got, k: &str| {
        g.headers
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    assert_eq!(h(&reqs[0], "content-type"), "application/json");
    assert_eq!(h(&reqs[0], "x-token"), "abc");
    assert_eq!(reqs[1].method, "PUT");
    assert_eq!(reqs[1].body, "user=a+b&n=1");
    assert_eq!(
        h(&reqs[1], "content-type"),
        "application/x-www-form-urlencoded"
    );
    assert_eq!(
        (reqs[2].method.as_str(), reqs[2].path.as_str()),
        ("DELETE", "/items/7")
    );
    assert_eq!(
        Hosts::sh(k, "cat /root/created.txt /root/form.txt"),
        "201 7 plumb-test False\n{\"id\": 7, \"method\": \"PUT\"}|PUT"
    );

    // Again: the same answers, nothing to write.
    let second = apply_json(dir.path(), pb, &inv, &extra);
    assert_eq!(second.code, 0, "{}\n{}", second.stdout, second.stderr);
    assert!(
        second.with_status(&host, "changed").is_empty(),
        "{:?}",
        statuses(&second, &host)
    );
    assert_eq!(got.lock().unwrap().len(), 6);
}

const COPIES: &str = r##"---
- name: Copies on the host
  hosts: all
  become: true
  tasks:
    - name: The release's config into place
      copy:
        src: /srv/release/app.conf
        dest: /etc/app/app.conf
        remote_src: true
        owner: www-data
        group: root
        mode: "0640"

    - name: Into a directory
      ansible.builtin.copy:
        src: /srv/release/app.conf
        dest: /etc/app/conf.d/
        remote_src: yes

    - name: A shipped tree with its directories' mode
      copy:
        src: tree/
        dest: /srv/tree
        directory_mode: "0750"
        mode: "0640"

    - name: The release's tree beside it
      copy:
        src: /srv/release
        dest: /srv/copies/
        remote_src: true
        directory_mode: "0700"
        owner: www-data
"##;

#[test]
fn copy_on_the_host_converges() {
    let k = 183;
    let _hosts = Hosts::up(&[k]);
    let dir = tempfile::tempdir().unwrap();
    let inv = inventory(dir.path(), &[k], "root");
    let files = dir.path().join("files");
    std::fs::create_dir_all(files.join("tree/sub")).unwrap();
    std::fs::write(files.join("tree/sub/a.txt"), "a\n").unwrap();
    let pb = dir.path().join("copies.yml");
    std::fs::write(&pb, COPIES).unwrap();
    let pb = pb.to_str().unwrap();
    let host = format!("h{k}");
    Hosts::sh(
        k,
        "mkdir -p /srv/release/static /etc/app/conf.d /srv/copies && printf 'port=80\\n' > /srv/release/app.conf && echo css > /srv/release/static/a.css && chmod 0600 /srv/release/static/a.css",
    );

    let p = plan(dir.path(), pb, &inv);
    let all = [
        "The release's config into place",
        "Into a directory",
        "The release's tree beside it",
        "A shipped tree with its directories' mode",
    ];
    assert_status(&statuses(&p, &host), &all, "changed");
    let first = apply_json(dir.path(), pb, &inv, &[]);
    assert_eq!(first.code, 0, "{}\n{}", first.stdout, first.stderr);
    assert_status(&statuses(&first, &host), &all, "changed");
    assert_eq!(
        Hosts::sh(
            k,
            "stat -c '%a %U %G' /etc/app/app.conf /etc/app/conf.d/app.conf /srv/tree /srv/tree/sub /srv/tree/sub/a.txt; cat /etc/app/app.conf /etc/app/conf.d/app.conf"
        ),
        "640 www-data root\n644 root root\n750 root root\n750 root root\n640 root root\nport=80\nport=80"
    );
    assert_eq!(
        Hosts::sh(
            k,
            "cd /srv/copies && stat -c '%n %a %U' release release/static release/app.conf release/static/a.css; cat release/app.conf release/static/a.css"
        ),
        "release 700 www-data\nrelease/static 700 www-data\nrelease/app.conf 644 www-data\nrelease/static/a.css 600 www-data\nport=80\ncss"
    );

    // Converged; then a new release on the host is copied again, and only that.
    let second = apply_json(dir.path(), pb, &inv, &[]);
    assert_eq!(second.code, 0, "{}\n{}", second.stdout, second.stderr);
    assert!(
        second.with_status(&host, "changed").is_empty(),
        "{:?}",
        statuses(&second, &host)
    );
    Hosts::sh(
        k,
        "printf 'port=8080\\n' > /srv/release/app.conf; chmod 0600 /etc/app/conf.d/app.conf",
    );
    let p = plan(dir.path(), pb, &inv);
    let s = statuses(&p, &host);
    assert_status(&s, &all[..3], "changed");
    assert_status(&s, &all[3..], "ok");
    assert!(
        p.stdout
            .contains("update /srv/copies/release/app.conf from /srv/release/app.conf"),
        "{}",
        p.stdout
    );
    let third = apply_json(dir.path(), pb, &inv, &[]);
    assert_eq!(third.code, 0, "{}\n{}", third.stdout, third.stderr);
    assert_eq!(third.with_status(&host, "changed"), &all[..3]);
    assert_eq!(
        Hosts::sh(
            k,
            "stat -c '%a %U' /etc/app/app.conf /etc/app/conf.d/app.conf; cat /etc/app/app.conf /etc/app/conf.d/app.conf /srv/copies/release/app.conf"
        ),
        "640 www-data\n600 root\nport=8080\nport=8080\nport=8080"
    );
    let p = plan(dir.path(), pb, &inv);
    let s = statuses(&p, &host);
    assert_status(&s, &all, "ok");
}
