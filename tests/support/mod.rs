//! Shared pieces of the end-to-end tests: real Debian hosts booted with tests/hosts/testhosts.sh
//! (torn down on drop, also when a test panics), and a small builder to run the plumb binary.
#![allow(dead_code)]

use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

pub(crate) fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn script() -> PathBuf {
    repo().join("tests/hosts/testhosts.sh")
}

/// Test hosts hK for the given K, booted now and torn down on drop.
pub(crate) struct Hosts {
    ids: Vec<u32>,
}

impl Hosts {
    pub(crate) fn up(ids: &[u32]) -> Hosts {
        // Tear down first so a host left by a killed run cannot get in the way.
        let hosts = Hosts { ids: ids.to_vec() };
        let mut args = vec!["up".to_string()];
        args.extend(ids.iter().map(u32::to_string));
        let out = Command::new("bash")
            .arg(script())
            .args(&args)
            .output()
            .expect("run testhosts.sh");
        assert!(
            out.status.success(),
            "booting test hosts {ids:?} failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        hosts
    }

    pub(crate) fn ip(k: u32) -> String {
        format!("10.231.{k}.2")
    }

    pub(crate) fn key() -> PathBuf {
        let out = Command::new("bash")
            .arg(script())
            .arg("key")
            .output()
            .expect("testhosts.sh key");
        PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
    }

    /// Runs `cmd` on hK as root over the system's ssh client (independent of plumb).
    pub(crate) fn ssh(k: u32, cmd: &str) -> (i32, String) {
        Self::ssh_as(k, "root", &Self::key(), cmd)
    }

    /// Runs `cmd` on hK as `user`, logging in with `key`: (exit code, stdout then stderr).
    pub(crate) fn ssh_as(k: u32, user: &str, key: &Path, cmd: &str) -> (i32, String) {
        let out = Command::new("ssh")
            .arg("-i")
            .arg(key)
            .args([
                "-o",
                "BatchMode=yes",
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
                "-o",
                "LogLevel=ERROR",
                "-o",
                "ConnectTimeout=5",
            ])
            .arg(format!("{user}@{}", Self::ip(k)))
            .arg(cmd)
            .output()
            .expect("ssh");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    }

    /// Like `ssh` but the command must succeed; returns its trimmed output.
    pub(crate) fn sh(k: u32, cmd: &str) -> String {
        let (code, out) = Self::ssh(k, cmd);
        assert_eq!(code, 0, "`{cmd}` on h{k} failed: {out}");
        out.trim().to_string()
    }

    pub(crate) fn link(k: u32, state: &str) {
        let ok = Command::new("bash")
            .arg(script())
            .args(["link", &k.to_string(), state])
            .status()
            .expect("testhosts.sh link")
            .success();
        assert!(ok, "link h{k} {state}");
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        let mut args = vec!["down".to_string()];
        args.extend(self.ids.iter().map(u32::to_string));
        let _ = Command::new("bash").arg(script()).args(&args).status();
    }
}

/// An INI inventory for hosts hK, logging in as `user` with the test key.
pub(crate) fn inventory(dir: &Path, ids: &[u32], user: &str) -> PathBuf {
    let mut text = String::from("[web]\n");
    for k in ids {
        text.push_str(&format!(
            "h{k} ansible_host={} ansible_user={user} ansible_ssh_private_key_file={}\n",
            Hosts::ip(*k),
            Hosts::key().display()
        ));
    }
    let path = dir.join("inventory.ini");
    std::fs::write(&path, text).unwrap();
    path
}

pub(crate) struct Run {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Run {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!("not JSON ({e}):\n{}\nstderr:\n{}", self.stdout, self.stderr)
        })
    }

    /// One host's entry in the JSON report.
    pub(crate) fn host(&self, host: &str) -> Value {
        let doc = self.json();
        doc["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["host"] == host)
            .cloned()
            .unwrap_or_else(|| panic!("no host {host} in {doc}"))
    }

    /// Task name → status, for one host.
    pub(crate) fn statuses(&self, host: &str) -> Vec<(String, String)> {
        self.host(host)["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                let name = t["name"].as_str().unwrap().to_string();
                let name = if t["handler"] == true {
                    format!("handler: {name}")
                } else {
                    name
                };
                (name, t["status"].as_str().unwrap().to_string())
            })
            .collect()
    }

    pub(crate) fn host_status(&self, host: &str) -> String {
        self.host(host)["status"].as_str().unwrap().to_string()
    }

    /// Why a host is unreachable or was not run ("" when it has no message).
    pub(crate) fn host_msg(&self, host: &str) -> String {
        self.host(host)["msg"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// One task's JSON result on one host.
    pub(crate) fn task(&self, host: &str, task: &str) -> serde_json::Value {
        let h = self.host(host);
        h["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == task)
            .cloned()
            .unwrap_or_else(|| panic!("no task {task} for {host}: {h}"))
    }

    /// One task's message on one host.
    pub(crate) fn task_msg(&self, host: &str, task: &str) -> String {
        self.task(host, task)["msg"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Names of the tasks with this status on this host.
    pub(crate) fn with_status(&self, host: &str, status: &str) -> Vec<String> {
        self.statuses(host)
            .into_iter()
            .filter(|(_, s)| s == status)
            .map(|(n, _)| n)
            .collect()
    }
}

/// Runs the plumb binary with `args` in `dir`.
pub(crate) fn plumb(dir: &Path, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_plumb"))
        .current_dir(dir)
        .args(args)
        .env("NO_COLOR", "1")
        .env("PLUMB_RETRY_DIR", dir)
        .output()
        .expect("run plumb");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The shipped playbook.
pub(crate) fn site() -> String {
    repo().join("playbooks/site.yml").display().to_string()
}

/// `plumb CMD PLAYBOOK -i INV --known-hosts DIR/known_hosts EXTRA…`, run in `dir`.
pub(crate) fn playbook(dir: &Path, cmd: &str, playbook: &str, inv: &Path, extra: &[&str]) -> Run {
    let kh = dir.join("known_hosts").display().to_string();
    let mut args = vec![
        cmd,
        playbook,
        "-i",
        inv.to_str().unwrap(),
        "--known-hosts",
        &kh,
    ];
    args.extend_from_slice(extra);
    plumb(dir, &args)
}

/// `apply` recording unknown host keys and answering in JSON: what most tests want.
pub(crate) fn apply_json(dir: &Path, playbook: &str, inv: &Path, extra: &[&str]) -> Run {
    let mut args = vec!["--host-key-checking", "accept-new", "--output", "json"];
    args.extend_from_slice(extra);
    self::playbook(dir, "apply", playbook, inv, &args)
}

/// GET http://HOST/path from the control machine: (status, body).
pub(crate) fn http_get(host: &str, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect((host, 80)).unwrap_or_else(|e| panic!("connect {host}:80: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("bad response from {host}{path}: {text}"));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// Writes `files` (name, text) into a fresh directory with an inventory of one local host
/// (`ansible_connection=local`); `@DIR@` in a text is that directory.
pub(crate) fn local_project(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("local.ini"),
        "here ansible_connection=local\n",
    )
    .unwrap();
    for (name, text) in files {
        let p = dir.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text.replace("@DIR@", &dir.path().display().to_string())).unwrap();
    }
    dir
}

/// `plumb CMD site.yml -i local.ini --output json EXTRA...` in `dir`.
pub(crate) fn local_run(dir: &Path, cmd: &str, extra: &[&str]) -> Run {
    let mut args = vec![cmd, "site.yml", "-i", "local.ini", "--output", "json"];
    args.extend_from_slice(extra);
    plumb(dir, &args)
}
