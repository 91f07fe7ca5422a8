//! Safe by default, on real hosts: host keys, sudo with a password, in-place checks that roll
//! back, atomic writes when the connection dies, one run at a time per host, apt's lock, and a
//! diagnosis when the site does not answer.

mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;
use support::{Hosts, Run, http_get, inventory, site};

fn apply(dir: &Path, inv: &Path, playbook: &str, extra: &[&str]) -> Run {
    support::playbook(dir, "apply", playbook, inv, extra)
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

#[test]
fn host_keys_unknown_changed_and_hashed() {
    let k = 41;
    let hosts = Hosts::up(&[k]);
    let dir = tempfile::tempdir().unwrap();
    let inv = inventory(dir.path(), &[k], "root");
    let pb = write(
        dir.path(),
        "ping.yml",
        "- hosts: all\n  tasks:\n    - command: 'true'\n",
    );
    let kh = dir.path().join("known_hosts");

    // Unknown key, strict (the default): refused, with the key's fingerprint and the way out.
    let run = apply(dir.path(), &inv, &pb, &["--output", "json"]);
    assert_eq!(run.code, 3, "{}", run.stdout);
    let doc = run.json();
    let msg = doc["hosts"][0]["msg"].as_str().unwrap();
    assert!(
        msg.contains("unknown host key for 10.231.41.2: ssh-ed25519 SHA256:"),
        "{msg}"
    );
    assert!(msg.contains("--host-key-checking accept-new"), "{msg}");
    assert!(!kh.exists() || std::fs::read_to_string(&kh).unwrap().is_empty());

    // accept-new records it; strict then accepts it, also once the file is hashed.
    let run = apply(
        dir.path(),
        &inv,
        &pb,
        &["--host-key-checking", "accept-new"],
    );
    assert_eq!(run.code, 0, "{}", run.stdout);
    let run = apply(dir.path(), &inv, &pb, &[]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let hashed = Command::new("ssh-keygen")
        .arg("-H")
        .arg("-f")
        .arg(&kh)
        .output()
        .unwrap();
    assert!(hashed.status.success());
    assert!(std::fs::read_to_string(&kh).unwrap().starts_with("|1|"));
    let run = apply(dir.path(), &inv, &pb, &[]);
    assert_eq!(run.code, 0, "hashed entry: {}", run.stdout);

    // The host rebuilt with new keys: refused, even under accept-new, naming file and line.
    drop(hosts);
    let _hosts = Hosts::up(&[k]);
    let run = apply(
        dir.path(),
        &inv,
        &pb,
        &["--host-key-checking", "accept-new", "--output", "json"],
    );
    assert_eq!(run.code, 3, "{}", run.stdout);
    let doc = run.json();
    let msg = doc["hosts"][0]["msg"].as_str().unwrap();
    assert!(msg.contains("HOST KEY CHANGED for 10.231.41.2"), "{msg}");
    assert!(msg.contains(&format!("{}:1", kh.display())), "{msg}");
}

#[test]
fn become_with_a_sudo_password() {
    let k = 42;
    let _hosts = Hosts::up(&[k]);
    let secret = "Plumb-s3cret-pass";
    Hosts::sh(
        k,
        &format!(
            "useradd -m -s /bin/bash pw && echo 'pw:{secret}' | chpasswd && \
             echo 'pw ALL=(ALL) ALL' > /etc/sudoers.d/pw && chmod 440 /etc/sudoers.d/pw && \
             mkdir -p ~pw/.ssh && cp /root/.ssh/authorized_keys ~pw/.ssh/ && chown -R pw: ~pw/.ssh"
        ),
    );
    let dir = tempfile::tempdir().unwrap();
    let inv = inventory(dir.path(), &[k], "pw");
    let pb = write(
        dir.path(),
        "become.yml",
        "- hosts: all\n  become: true\n  tasks:\n    - copy: {content: root-only, dest: /etc/plumb-become, mode: '0600'}\n    - command: id -un\n      register: who\n      changed_when: false\n    - debug: {msg: \"{{ who.stdout }}\"}\n",
    );
    let kh = dir.path().join("known_hosts").display().to_string();
    let run_with = |pass: Option<&str>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_plumb"));
        cmd.current_dir(dir.path())
            .args([
                "apply",
                &pb,
                "-i",
                inv.to_str().unwrap(),
                "--known-hosts",
                &kh,
            ])
            .args(["--host-key-checking", "accept-new", "-vv"])
            .env("NO_COLOR", "1");
        match pass {
            Some(p) => cmd.env("PLUMB_BECOME_PASS", p),
            None => cmd.env_remove("PLUMB_BECOME_PASS"),
        };
        let out = cmd.output().unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (code, out) = run_with(None);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("a password is required"), "{out}");
    let (code, out) = run_with(Some(secret));
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("debug — root"), "{out}");
    assert!(!out.contains(secret), "the password leaked into the output");
    assert_eq!(
        Hosts::sh(k, "stat -c '%U %a' /etc/plumb-become"),
        "root 600"
    );
}

#[test]
fn broken_nginx_conf_never_reaches_a_reload_and_a_wrong_socket_is_diagnosed() {
    let k = 43;
    let _hosts = Hosts::up(&[k]);
    let dir = tempfile::tempdir().unwrap();
    let inv = inventory(dir.path(), &[k], "root");
    let first = apply(
        dir.path(),
        &inv,
        &site(),
        &["--host-key-checking", "accept-new"],
    );
    assert_eq!(first.code, 0, "{}", first.stdout);
    let conf = "/etc/nginx/conf.d/myproject.conf";
    let good = Hosts::sh(k, &format!("sha256sum {conf}"));

    // A value that breaks the nginx config: the task fails with nginx's message, the old
    // config stays, nginx keeps serving.
    let run = apply(
        dir.path(),
        &inv,
        &site(),
        &["-e", "server_name=bad{", "--output", "json"],
    );
    assert_eq!(run.code, 2, "{}", run.stdout);
    let msg = run.task_msg("h43", "nginx site");
    assert!(msg.contains("in-place check failed (nginx -t)"), "{msg}");
    assert!(
        msg.contains("[emerg]") && msg.contains("server_name"),
        "{msg}"
    );
    assert!(msg.contains("the previous file was put back"), "{msg}");
    assert_eq!(Hosts::sh(k, &format!("sha256sum {conf}")), good);
    assert_eq!(
        Hosts::sh(k, "ls -a /etc/nginx/conf.d | grep -c plumb || true"),
        "0"
    );
    assert_eq!(http_get(&Hosts::ip(k), "/").0, 200);

    // uWSGI switched to HTTP by hand: the verify step fails and says why.
    Hosts::sh(
        k,
        "sed -i 's/^socket = /http-socket = /' /etc/uwsgi/myproject.ini && systemctl restart uwsgi-myproject",
    );
    let verify = write(
        dir.path(),
        "verify.yml",
        "- hosts: all\n  become: true\n  tasks:\n    - name: site answers\n      uri: {url: 'http://127.0.0.1/'}\n      register: r\n      until: r.status == 200\n      retries: 2\n      delay: 1\n",
    );
    let run = apply(dir.path(), &inv, &verify, &["--output", "json"]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    let msg = run.task_msg("h43", "site answers");
    assert!(msg.contains("answered 502"), "{msg}");
    assert!(msg.contains("/var/log/nginx/error.log"), "{msg}");
    assert!(msg.contains("hint: uWSGI seems to speak HTTP"), "{msg}");
    // The playbook puts it right.
    let run = apply(dir.path(), &inv, &site(), &[]);
    assert_eq!(run.code, 0, "{}", run.stdout);

    // plumb killed at any moment while writing a big file: the host keeps the old file or
    // gets the whole new one, never a mix, and no temp file is left behind.
    let big: Vec<u8> = (0..24_000_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 24) as u8)
        .collect();
    std::fs::write(dir.path().join("big.bin"), &big).unwrap();
    let new_sum = {
        let out = Command::new("sha256sum")
            .arg(dir.path().join("big.bin"))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .split(' ')
            .next()
            .unwrap()
            .to_string()
    };
    let pb = write(
        dir.path(),
        "big.yml",
        &format!(
            "- hosts: all\n  tasks:\n    - copy: {{src: {}/big.bin, dest: /root/big}}\n",
            dir.path().display()
        ),
    );
    let kh = dir.path().join("known_hosts");
    for delay_ms in [100, 300, 600, 1000, 1500, 2500] {
        Hosts::sh(k, "echo old-content > /root/big");
        let old_sum = Hosts::sh(k, "sha256sum /root/big | cut -d' ' -f1");
        let mut child = Command::new(env!("CARGO_BIN_EXE_plumb"))
            .args([
                "apply",
                &pb,
                "-i",
                inv.to_str().unwrap(),
                "--known-hosts",
                kh.to_str().unwrap(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        // Let whatever the host was doing finish: no decoder running, no temp file.
        let mut settled = false;
        for _ in 0..150 {
            let busy = Hosts::sh(
                k,
                "pgrep -x base64 >/dev/null && echo busy; ls -a /root | grep plumb || true",
            );
            if busy.is_empty() {
                settled = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        assert!(
            settled,
            "after a kill at {delay_ms} ms the host kept a temp file"
        );
        let sum = Hosts::sh(k, "sha256sum /root/big | cut -d' ' -f1");
        assert!(
            sum == old_sum || sum == new_sum,
            "after a kill at {delay_ms} ms /root/big is neither the old nor the new file"
        );
    }
}

#[test]
fn one_run_at_a_time_and_apt_waits_for_its_lock() {
    let k = 44;
    let _hosts = Hosts::up(&[k]);
    let dir = tempfile::tempdir().unwrap();
    let inv = inventory(dir.path(), &[k], "root");
    let kh = dir.path().join("known_hosts");
    let pb = write(
        dir.path(),
        "slow.yml",
        "- hosts: all\n  tasks:\n    - shell: echo start-{{ run }} >> /root/runs; sleep 3; echo end-{{ run }} >> /root/runs\n",
    );
    let spawn = |run: &str| {
        Command::new(env!("CARGO_BIN_EXE_plumb"))
            .args([
                "apply",
                &pb,
                "-i",
                inv.to_str().unwrap(),
                "--known-hosts",
                kh.to_str().unwrap(),
            ])
            .args([
                "--host-key-checking",
                "accept-new",
                "-e",
                &format!("run={run}"),
            ])
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let a = spawn("a");
    for _ in 0..100 {
        if Hosts::sh(k, "cat /root/runs 2>/dev/null || true").contains("start-a") {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let b = spawn("b");
    let a = a.wait_with_output().unwrap();
    let b = b.wait_with_output().unwrap();
    assert!(a.status.success() && b.status.success());
    let b_out = String::from_utf8_lossy(&b.stdout);
    assert!(
        b_out.contains("waiting for another plumb run on this host"),
        "{b_out}"
    );
    assert_eq!(
        Hosts::sh(k, "cat /root/runs"),
        "start-a\nend-a\nstart-b\nend-b"
    );

    // apt's lock held by someone else: plumb waits up to lock_timeout, then says so.
    Hosts::sh(
        k,
        "nohup python3 -c \"import fcntl,time; f=open('/var/lib/dpkg/lock-frontend','w'); fcntl.lockf(f, fcntl.LOCK_EX); open('/root/locked','w').close(); time.sleep(12)\" >/dev/null 2>&1 & \
         for i in $(seq 50); do [ -e /root/locked ] && break; sleep 0.1; done",
    );
    let apt = |timeout: u32| {
        write(
            dir.path(),
            "apt.yml",
            &format!(
                "- hosts: all\n  tasks:\n    - name: tree\n      apt: {{name: tree, lock_timeout: {timeout}}}\n"
            ),
        )
    };
    let run = apply(dir.path(), &inv, &apt(2), &["--output", "json"]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    let msg = run.task_msg("h44", "tree");
    // apt words it one of two ways, depending on whether it names the holder.
    assert!(
        msg.contains("Could not get lock /var/lib/dpkg/lock-frontend")
            || msg
                .contains("Unable to acquire the dpkg frontend lock (/var/lib/dpkg/lock-frontend)"),
        "{msg}"
    );
    let run = apply(dir.path(), &inv, &apt(120), &["--output", "json"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(
        Hosts::sh(k, "dpkg-query -W -f='${Status}' tree"),
        "install ok installed"
    );
}
