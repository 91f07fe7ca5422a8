//! Reaching hosts the way OpenSSH does (issue 15), on real test hosts 91-96: a bastion (h91),
//! targets that accept SSH only from the bastion (h92, h93), a second bastion reachable only
//! from the first (h94) with a host only it can reach (h95), and 30 sshd behind the bastion
//! (h96, ports 2201-2230, each with its own host key). Everything is named only in an ssh
//! config file the test writes; logins go through an ssh-agent whose first key is wrong.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use support::{Hosts, Run, http_get, site};

const BASTION: u32 = 91;
const APP1: u32 = 92;
const APP2: u32 = 93;
const BASTION2: u32 = 94;
const DEEP: u32 = 95;
const MANY: u32 = 96;
const MANY_N: u32 = 30;

/// The test hosts' packets may cross the control machine (only theirs: per-interface
/// forwarding on their veths, which go away with them).
fn route(ids: &[u32]) {
    for k in ids {
        let ok = Command::new("sysctl")
            .args(["-qw", &format!("net.ipv4.conf.ve-h{k}.forwarding=1")])
            .status()
            .unwrap()
            .success();
        assert!(ok, "forwarding on ve-h{k}");
    }
}

/// sshd on hK accepts logins only from `from` (an address): the control machine is refused.
fn only_from(k: u32, from: &str) {
    Hosts::sh(
        k,
        &format!(
            "printf 'AllowUsers root@{from}\\n' > /etc/ssh/sshd_config.d/00-only-bastion.conf && \
             systemctl reload ssh"
        ),
    );
    std::thread::sleep(std::time::Duration::from_millis(300));
    let (code, out) = Hosts::ssh(k, "true");
    assert_ne!(code, 0, "h{k} still accepts the control machine: {out}");
}

/// An ssh-agent of the test's own, killed on drop.
struct Agent {
    sock: PathBuf,
    pid: String,
}

impl Agent {
    fn start(dir: &Path, keys: &[&Path]) -> Agent {
        let sock = dir.join("agent.sock");
        let out = Command::new("ssh-agent")
            .args(["-s", "-a"])
            .arg(&sock)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let pid = text
            .split("SSH_AGENT_PID=")
            .nth(1)
            .and_then(|r| r.split(';').next())
            .expect("agent pid")
            .to_string();
        let agent = Agent { sock, pid };
        for k in keys {
            let ok = Command::new("ssh-add")
                .arg("-q")
                .arg(k)
                .env("SSH_AUTH_SOCK", &agent.sock)
                .status()
                .unwrap()
                .success();
            assert!(ok, "ssh-add {}", k.display());
        }
        agent
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(&self.pid).status();
    }
}

fn keygen(path: &Path, pass: &str) {
    let ok = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", pass, "-C", "reach-test", "-f"])
        .arg(path)
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

/// plumb with its environment under the test's control (no agent unless given).
fn plumb(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_plumb"));
    cmd.current_dir(dir)
        .args(args)
        .env("NO_COLOR", "1")
        .env("PLUMB_RETRY_DIR", dir)
        .env_remove("SSH_AUTH_SOCK")
        .env_remove("PLUMB_KEY_PASSPHRASE");
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

fn apply(dir: &Path, playbook: &str, inv: &str, extra: &[&str], env: &[(&str, &str)]) -> Run {
    let inv_path = dir.join(format!("{inv}.ini"));
    let kh = dir.join("known_hosts").display().to_string();
    let cfg = dir.join("ssh_config").display().to_string();
    let mut args = vec![
        "apply",
        playbook,
        "-i",
        inv_path.to_str().unwrap(),
        "--known-hosts",
        &kh,
        "--ssh-config",
        &cfg,
        "--output",
        "json",
    ];
    args.extend_from_slice(extra);
    plumb(dir, &args, env)
}

/// `Accepted` logins in hK's sshd journal.
fn logins(k: u32) -> usize {
    Hosts::sh(
        k,
        "journalctl -u ssh --no-pager -o cat | grep -c '^Accepted' || true",
    )
    .parse()
    .unwrap_or(0)
}

#[test]
fn through_bastions_with_only_an_ssh_config_and_an_agent() {
    let ids = [BASTION, APP1, APP2, BASTION2, DEEP, MANY];
    let _hosts = Hosts::up(&ids);
    route(&ids);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let key = Hosts::key();
    let wrong = d.join("wrong_key");
    keygen(&wrong, "");
    let locked = d.join("locked_key");
    keygen(&locked, "correct horse");
    let locked_pub = std::fs::read_to_string(d.join("locked_key.pub")).unwrap();

    // 30 sshd on h96, each with its own host key, before the firewall goes up.
    Hosts::sh(
        MANY,
        &format!(
            "for p in $(seq 2201 {}); do \
               ssh-keygen -q -t ed25519 -N '' -f /etc/ssh/k_$p && \
               /usr/sbin/sshd -o Port=$p -o HostKey=/etc/ssh/k_$p -o PidFile=/run/sshd_$p.pid \
                 -o AllowUsers=root@{b}; \
             done",
            2200 + MANY_N,
            b = Hosts::ip(BASTION)
        ),
    );
    // The passphrase key opens h92 (besides the test key).
    Hosts::sh(
        APP1,
        &format!("echo '{}' >> /root/.ssh/authorized_keys", locked_pub.trim()),
    );
    // h93 also takes a password, as root.
    Hosts::sh(
        APP2,
        "echo root:pw-secret-123 | chpasswd && \
         printf 'PasswordAuthentication yes\\nPermitRootLogin yes\\n' \
           > /etc/ssh/sshd_config.d/01-password.conf",
    );
    for k in [APP1, APP2, BASTION2, MANY] {
        only_from(k, &Hosts::ip(BASTION));
    }
    only_from(DEEP, &Hosts::ip(BASTION2));
    let before = logins(BASTION);

    let config = format!(
        "# written by e2e_reach
Host bastion
    HostName {b}
    User root
    IdentityFile {key}
    UserKnownHostsFile {dir}/known_hosts
Host bastion2
    HostName {b2}
    User root
    ProxyJump bastion
Host app1 app2 t*
    ProxyJump bastion
    User root
Host app1
    HostName {a1}
Host app2
    HostName {a2}
Host deep
    HostName {deep}
    ProxyJump bastion,bastion2
    User root
Host locked
    HostName {a1}
    User root
    ProxyJump bastion
    IdentityFile {locked}
    IdentitiesOnly yes
Host pc
    HostName {a1}
    User root
    ProxyCommand ssh -F {cfg} -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -W %h:%p bastion
Host aliased
    HostName {a1}
    User root
    ProxyJump bastion
    HostKeyAlias app1-alias
    UserKnownHostsFile {dir}/kh_alias
Host pw
    HostName {a2}
    User root
    ProxyJump bastion
    IdentityAgent none
Match host {many}
    User root
Host t*
    HostName {many}
",
        b = Hosts::ip(BASTION),
        b2 = Hosts::ip(BASTION2),
        a1 = Hosts::ip(APP1),
        a2 = Hosts::ip(APP2),
        deep = Hosts::ip(DEEP),
        many = Hosts::ip(MANY),
        locked = locked.display(),
        key = key.display(),
        cfg = d.join("ssh_config").display(),
        dir = d.display(),
    );
    std::fs::write(d.join("ssh_config"), config).unwrap();
    std::fs::write(d.join("apps.ini"), "[web]\napp1\napp2\n").unwrap();
    let mut many = String::from("[many]\n");
    for i in 1..=MANY_N {
        many.push_str(&format!("t{i:02} ansible_port={}\n", 2200 + i));
    }
    std::fs::write(d.join("many.ini"), many).unwrap();
    std::fs::write(d.join("deep.ini"), "deep\n").unwrap();
    std::fs::write(d.join("locked.ini"), "locked\n").unwrap();
    std::fs::write(d.join("pc.ini"), "pc\n").unwrap();
    std::fs::write(d.join("pw.ini"), "pw ansible_password=pw-secret-123\n").unwrap();
    let small = d.join("small.yml");
    std::fs::write(
        &small,
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: mark\n      copy:\n        \
         dest: \"/root/reached-{{ inventory_hostname }}\"\n        content: \"{{ inventory_hostname }}\\n\"\n",
    )
    .unwrap();
    let small = small.display().to_string();

    // The agent's first key is wrong; the second opens every host.
    let agent = Agent::start(d, &[&wrong, &key]);
    let sock = agent.sock.display().to_string();
    let with_agent = [("SSH_AUTH_SOCK", sock.as_str())];

    // The seed playbook on both targets, through the bastion, names from the config only.
    let run = apply(
        d,
        &site(),
        "apps",
        &["--host-key-checking", "accept-new"],
        &with_agent,
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    for (h, k) in [("app1", APP1), ("app2", APP2)] {
        assert_eq!(run.host_status(h), "changed", "{}", run.stdout);
        let (status, body) = http_get(&Hosts::ip(k), "/");
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("Hello from myproject"), "{body}");
    }
    // Every hop's key was checked and recorded.
    let kh = std::fs::read_to_string(d.join("known_hosts")).unwrap();
    assert_eq!(kh.lines().count(), 3, "bastion, app1, app2:\n{kh}");
    // Converged, now strictly checked at every hop.
    let again = apply(d, &site(), "apps", &[], &with_agent);
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
    assert_eq!(again.host_status("app1"), "ok", "{}", again.stdout);
    assert_eq!(again.host_status("app2"), "ok", "{}", again.stdout);
    // -v names the config lines that applied to each host.
    let inv = d.join("apps.ini").display().to_string();
    let kh_path = d.join("known_hosts").display().to_string();
    let cfg = d.join("ssh_config").display().to_string();
    let verbose = plumb(
        d,
        &[
            "plan",
            &small,
            "-i",
            &inv,
            "--known-hosts",
            &kh_path,
            "--ssh-config",
            &cfg,
            "-v",
        ],
        &with_agent,
    );
    let all = verbose.stdout.clone() + &verbose.stderr;
    assert_eq!(verbose.code, 0, "{all}");
    assert!(all.contains("ssh_config:12:1  ProxyJump bastion"), "{all}");

    // Two bastions: deep is reachable only from bastion2, bastion2 only from bastion.
    let run = apply(
        d,
        &small,
        "deep",
        &["--host-key-checking", "accept-new"],
        &with_agent,
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(run.host_status("deep"), "changed", "{}", run.stdout);

    // 30 hosts behind one bastion, default MaxStartups there: all converge, over one login.
    let run = apply(
        d,
        &small,
        "many",
        &["--host-key-checking", "accept-new", "-f", "50"],
        &with_agent,
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    for i in 1..=MANY_N {
        assert_eq!(
            run.host_status(&format!("t{i:02}")),
            "changed",
            "{}",
            run.stdout
        );
    }
    let run = apply(d, &small, "many", &["-f", "50"], &with_agent);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    for i in 1..=MANY_N {
        assert_eq!(run.host_status(&format!("t{i:02}")), "ok", "{}", run.stdout);
    }
    // One login per plumb run on the bastion (6 runs so far, and the login that counts), not
    // one per host.
    assert_eq!(logins(BASTION) - before, 7, "logins on the bastion");

    // A passphrase key, without an agent: from PLUMB_KEY_PASSPHRASE.
    let run = apply(
        d,
        &small,
        "locked",
        &["--host-key-checking", "accept-new"],
        &[],
    );
    assert_eq!(run.host_status("locked"), "unreachable", "{}", run.stdout);
    assert!(
        run.host_msg("locked").contains("passphrase"),
        "{}",
        run.host_msg("locked")
    );
    let run = apply(
        d,
        &small,
        "locked",
        &["--host-key-checking", "accept-new"],
        &[("PLUMB_KEY_PASSPHRASE", "correct horse")],
    );
    assert_eq!(
        run.host_status("locked"),
        "changed",
        "{}\n{}",
        run.stdout,
        run.stderr
    );

    // ProxyCommand: the system ssh's `-W` through the bastion.
    let run = apply(
        d,
        &small,
        "pc",
        &["--host-key-checking", "accept-new"],
        &with_agent,
    );
    assert_eq!(
        run.host_status("pc"),
        "changed",
        "{}\n{}",
        run.stdout,
        run.stderr
    );

    // A password (ansible_password), no agent, no key: through the jump, never shown.
    let run = apply(
        d,
        &small,
        "pw",
        &["--host-key-checking", "accept-new", "-v"],
        &with_agent,
    );
    assert_eq!(
        run.host_status("pw"),
        "changed",
        "{}\n{}",
        run.stdout,
        run.stderr
    );
    assert!(!(run.stdout.clone() + &run.stderr).contains("pw-secret-123"));

    // HostKeyAlias and UserKnownHostsFile from the config (no --known-hosts flag): the target's
    // key is looked up under its alias, strictly.
    let key_of = |ip: String| {
        kh.lines()
            .find(|l| l.starts_with(&format!("{ip} ")))
            .map(|l| l.split_whitespace().skip(1).collect::<Vec<_>>().join(" "))
            .unwrap()
    };
    std::fs::write(d.join("aliased.ini"), "aliased\n").unwrap();
    let aliased = |entry: String| {
        std::fs::write(d.join("kh_alias"), format!("app1-alias {entry}\n")).unwrap();
        plumb(
            d,
            &[
                "apply",
                &small,
                "-i",
                d.join("aliased.ini").to_str().unwrap(),
                "--ssh-config",
                d.join("ssh_config").to_str().unwrap(),
                "--output",
                "json",
            ],
            &with_agent,
        )
    };
    let run = aliased(key_of(Hosts::ip(APP1)));
    assert_eq!(
        run.host_status("aliased"),
        "changed",
        "{}\n{}",
        run.stdout,
        run.stderr
    );
    let run = aliased(key_of(Hosts::ip(APP2)));
    assert_eq!(run.host_status("aliased"), "unreachable", "{}", run.stdout);
    let msg = run.host_msg("aliased");
    assert!(msg.contains("HOST KEY CHANGED for app1-alias"), "{msg}");
    assert!(msg.contains("kh_alias"), "{msg}");

    // A revoked host key behind the jump is refused, also under accept-new.
    let app2_key = kh
        .lines()
        .find(|l| l.starts_with(&format!("{} ", Hosts::ip(APP2))))
        .map(|l| l.split_whitespace().skip(1).collect::<Vec<_>>().join(" "))
        .unwrap();
    let mut text = std::fs::read_to_string(d.join("known_hosts")).unwrap();
    text.insert_str(0, &format!("@revoked * {app2_key}\n"));
    std::fs::write(d.join("known_hosts"), text).unwrap();
    let run = apply(
        d,
        &site(),
        "apps",
        &["--host-key-checking", "accept-new"],
        &with_agent,
    );
    assert_eq!(run.host_status("app1"), "ok", "{}", run.stdout);
    assert_eq!(run.host_status("app2"), "unreachable", "{}", run.stdout);
    let msg = run.host_msg("app2");
    assert!(msg.contains("REVOKED HOST KEY"), "{msg}");
    assert!(msg.contains("through root@"), "{msg}");
    drop(agent);
}
