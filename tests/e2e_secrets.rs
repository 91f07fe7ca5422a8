//! Secrets and trust on a real host (h121): a become password with shell metacharacters never
//! runs, whether sudo asks for it (root) or not (a NOPASSWD rule for www-data), and appears
//! nowhere in -vv, JSON or the retry file; root's lock is root's own; a revoked host key is
//! refused also under accept-new; every agent key is tried, and a protected key file works
//! through the agent or PLUMB_KEY_PASSPHRASE; a hung HTTP endpoint fails after the uri task's
//! timeout. One host for all of it.

mod support;

use std::path::Path;
use std::process::Command;
use support::{Hosts, Run};

const K: u32 = 121;
const PASSWORD: &str = "a;touch /root/plumb-pw-ran \"x";

fn plumb_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_plumb"));
    cmd.current_dir(dir)
        .args(args)
        .env("NO_COLOR", "1")
        .env("PLUMB_RETRY_DIR", dir)
        .env_remove("SSH_AUTH_SOCK")
        .env_remove("PLUMB_BECOME_PASS");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run plumb");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

/// An inventory for h121 as `user`, with `key` as the key file (or none: agent and ~/.ssh).
fn inv(dir: &Path, name: &str, user: &str, key: Option<&Path>) -> String {
    let key = key
        .map(|k| format!(" ansible_ssh_private_key_file={}", k.display()))
        .unwrap_or_default();
    write(
        dir,
        name,
        &format!(
            "[web]\nh{K} ansible_host={} ansible_user={user}{key}\n",
            Hosts::ip(K)
        ),
    )
}

#[test]
fn secrets_and_trust_on_one_host() {
    let _hosts = Hosts::up(&[K]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let kh = d.join("known_hosts");
    let khs = kh.display().to_string();
    // deploy now needs its password for root, and none for www-data.
    Hosts::sh(
        K,
        &format!(
            "printf '%s\\n' 'deploy:{PASSWORD}' | chpasswd && \
             printf '%s\\n' 'deploy ALL=(root) ALL' 'deploy ALL=(www-data) NOPASSWD: ALL' \
               > /etc/sudoers.d/deploy && chmod 440 /etc/sudoers.d/deploy && \
             rm -f /root/plumb-pw-ran"
        ),
    );
    // A local user holds the shared lock: a root run must not care (S9).
    Hosts::sh(
        K,
        "su deploy -c 'setsid flock /run/lock/plumb.lock sleep 600 </dev/null >/dev/null 2>&1 &'",
    );
    let inv_deploy = inv(d, "deploy.ini", "deploy", Some(&Hosts::key()));
    let pb = write(
        d,
        "become.yml",
        "- hosts: all\n  become: true\n  tasks:\n\
         \x20   - copy: {content: root-only, dest: /etc/plumb-secrets, mode: '0600'}\n\
         \x20   - {name: root1, command: id -un, register: r1, changed_when: false}\n\
         \x20   - {name: www1, command: id -un, become_user: www-data, register: w1, changed_when: false}\n\
         \x20   - {name: www2, command: id -un, become_user: www-data, changed_when: false}\n\
         \x20   - {name: root2, command: id -un, changed_when: false}\n\
         \x20   - stat: {path: /var/www}\n      become_user: www-data\n\
         \x20   - {name: who, debug: {msg: \"{{ r1.stdout }} {{ w1.stdout }}\"}}\n\
         \x20   - {name: root3, command: id -un, changed_when: false}\n\
         \x20   - {name: fail, command: 'false'}\n",
    );
    for fmt in [&["-vv"][..], &["--output", "json", "-v"][..]] {
        let mut args = vec![
            "apply",
            &pb,
            "-i",
            &inv_deploy,
            "--known-hosts",
            &khs,
            "--host-key-checking",
            "accept-new",
            "--lock-timeout",
            "2",
        ];
        args.extend_from_slice(fmt);
        let r = plumb_env(d, &args, &[("PLUMB_BECOME_PASS", PASSWORD)]);
        let all = format!("{}{}", r.stdout, r.stderr);
        // Ran to the failing task, as root and as www-data.
        assert_eq!(r.code, 2, "{all}");
        assert!(all.contains("root www-data"), "{all}");
        let (code, _) = Hosts::ssh(K, "test -e /root/plumb-pw-ran");
        assert_ne!(code, 0, "the password ran as a command:\n{all}");
        for bad in [
            "touch",
            "plumb-pw-ran",
            "not found",
            "Syntax error",
            "********",
        ] {
            assert!(!all.contains(bad), "`{bad}` in the output:\n{all}");
        }
        let retry = std::fs::read_to_string(d.join("become.retry")).unwrap();
        assert!(!retry.contains("touch"), "{retry}");
    }
    // No password: sudo refuses in the lock's exec; the host failed (not unreachable), saying so.
    let r = plumb_env(
        d,
        &["apply", &pb, "-i", &inv_deploy, "--known-hosts", &khs],
        &[],
    );
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("a password is required"),
        "{}{}",
        r.stdout,
        r.stderr
    );
    // Root's lock: a directory only root can use, held by root's run.
    assert_eq!(
        Hosts::sh(K, "stat -c '%U %a %F' /run/plumb /run/plumb/lock"),
        "root 700 directory\nroot 644 regular empty file"
    );

    // S5: an endpoint that accepts and never answers fails after the task's timeout.
    Hosts::sh(
        K,
        "setsid python3 -c 'import socket,time\ns=socket.socket()\ns.bind((\"127.0.0.1\",8181))\ns.listen(8)\ntime.sleep(600)' </dev/null >/dev/null 2>&1 &\nsleep 1",
    );
    let inv_root = inv(d, "root.ini", "root", Some(&Hosts::key()));
    let hung = write(
        d,
        "hung.yml",
        "- hosts: all\n  tasks:\n    - name: hung\n      uri: {url: 'http://127.0.0.1:8181/', timeout: 2}\n",
    );
    let r = plumb_env(
        d,
        &[
            "apply",
            &hung,
            "-i",
            &inv_root,
            "--known-hosts",
            &khs,
            "--output",
            "json",
            "--command-timeout",
            "60",
        ],
        &[],
    );
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    let msg = r.task_msg(&format!("h{K}"), "hung");
    assert!(
        msg.contains("no answer within the task's timeout (2 s)"),
        "{msg}"
    );

    // S3: the agent's second key is the right one; then a passphrase-protected key file.
    let agent_sock = d.join("agent.sock");
    let out = Command::new("ssh-agent")
        .arg("-a")
        .arg(&agent_sock)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    let pid: i32 = said
        .split("SSH_AGENT_PID=")
        .nth(1)
        .and_then(|s| s.split(';').next())
        .and_then(|s| s.parse().ok())
        .expect("ssh-agent pid");
    let keygen = |args: &[&str]| {
        let ok = Command::new("ssh-keygen")
            .args(args)
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(ok.success(), "ssh-keygen {args:?}");
    };
    let wrong = d.join("wrong");
    keygen(&[
        "-q",
        "-t",
        "ed25519",
        "-N",
        "",
        "-f",
        wrong.to_str().unwrap(),
    ]);
    let locked = d.join("locked");
    std::fs::copy(Hosts::key(), &locked).unwrap();
    std::fs::set_permissions(&locked, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    keygen(&[
        "-q",
        "-p",
        "-P",
        "",
        "-N",
        "pass phrase",
        "-f",
        locked.to_str().unwrap(),
    ]);
    let sock = agent_sock.display().to_string();
    let home = d.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let homes = home.display().to_string();
    for k in [wrong.clone(), Hosts::key()] {
        let ok = Command::new("ssh-add")
            .arg("-q")
            .arg(&k)
            .env("SSH_AUTH_SOCK", &sock)
            .status()
            .unwrap();
        assert!(ok.success());
    }
    let ping = write(
        d,
        "ping.yml",
        "- hosts: all\n  tasks:\n    - command: 'true'\n",
    );
    let run = |inv: &str, env: &[(&str, &str)]| {
        let mut e = vec![("HOME", homes.as_str())];
        e.extend_from_slice(env);
        plumb_env(
            d,
            &[
                "apply",
                &ping,
                "-i",
                inv,
                "--known-hosts",
                &khs,
                "--output",
                "json",
            ],
            &e,
        )
    };
    let agent_only = inv(d, "agent.ini", "root", None);
    let r = run(&agent_only, &[("SSH_AUTH_SOCK", &sock)]);
    assert_eq!(r.code, 0, "second agent key: {}{}", r.stdout, r.stderr);
    let with_locked = inv(d, "locked.ini", "root", Some(&locked));
    let r = run(&with_locked, &[("SSH_AUTH_SOCK", &sock)]);
    assert_eq!(
        r.code, 0,
        "the key file's agent identity: {}{}",
        r.stdout, r.stderr
    );
    let r = run(&with_locked, &[]);
    assert_eq!(r.code, 3, "{}{}", r.stdout, r.stderr);
    assert!(
        r.host_msg(&format!("h{K}")).contains(&format!(
            "key {} is protected by a passphrase",
            locked.display()
        )),
        "{}",
        r.stdout
    );
    let r = run(&with_locked, &[("PLUMB_KEY_PASSPHRASE", "pass phrase")]);
    assert_eq!(
        r.code, 0,
        "passphrase from the environment: {}{}",
        r.stdout, r.stderr
    );
    // SAFETY: kill on the agent this test started, by its pid.
    unsafe { libc::kill(pid, libc::SIGTERM) };

    // S2: the host's own key marked @revoked: refused, also under accept-new, not recorded.
    let host_key = Hosts::sh(K, "cut -d' ' -f1,2 /etc/ssh/ssh_host_ed25519_key.pub");
    let revoked = format!("@revoked * {host_key}\n");
    std::fs::write(&kh, &revoked).unwrap();
    let r = plumb_env(
        d,
        &[
            "apply",
            &ping,
            "-i",
            &inv_root,
            "--known-hosts",
            &khs,
            "--host-key-checking",
            "accept-new",
            "--output",
            "json",
        ],
        &[],
    );
    assert_eq!(r.code, 3, "{}{}", r.stdout, r.stderr);
    assert!(
        r.host_msg(&format!("h{K}")).contains("REVOKED HOST KEY"),
        "{}",
        r.stdout
    );
    assert_eq!(std::fs::read_to_string(&kh).unwrap(), revoked);
}
