//! The probe's framing on a real host: files with hostile names (newline, tab, quotes,
//! backslash, `$()`, a leading `-`, ` -> `, non-ASCII, a non-UTF-8 link target) are created
//! and then left alone, a symlink whose target forges probe records (review C3) does not stop
//! plumb from creating the path it names, and `stat` of a path the login user cannot reach
//! fails instead of reporting that it does not exist (C15).

mod support;

use base64::Engine;
use serde_json::{Value, json};
use std::path::Path;
use support::{Hosts, Run, apply_json, inventory};

const K: u32 = 111;
const D: &str = "/srv/probe";

/// The names the copies go to, under `D`.
const NAMES: [&str; 11] = [
    "nl\nname.conf",
    "tab\tname.conf",
    "it's.conf",
    "q\"uote.conf",
    "back\\slash.conf",
    "$(touch PWNED).conf",
    "`touch PWNED2`.conf",
    "-lead.conf",
    "x -> y.conf",
    "café.conf",
    "trailing\\",
];

/// A sh word that expands to `D/name`, whatever bytes the name holds.
fn on_host(name: &[u8]) -> String {
    let mut p = format!("{D}/").into_bytes();
    p.extend_from_slice(name);
    let b64 = base64::engine::general_purpose::STANDARD.encode(p);
    format!("\"$(printf %s {b64} | base64 -d)\"")
}

/// The playbook, as JSON (which YAML reads): every string escaped by serde.
fn playbook(dir: &Path, name: &str, tasks: Vec<Value>) -> String {
    let p = dir.join(name);
    let doc = json!([{"hosts": "all", "tasks": tasks}]);
    std::fs::write(&p, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    p.display().to_string()
}

fn changed(run: &Run) -> Vec<String> {
    run.with_status(&format!("h{K}"), "changed")
}

#[test]
fn hostile_names_and_forged_records() {
    let _hosts = Hosts::up(&[K]);
    let dir = tempfile::tempdir().unwrap();
    let h = format!("h{K}");
    let sum = |s: &str| {
        use sha2::Digest;
        format!("{:x}", sha2::Sha256::digest(s.as_bytes()))
    };
    // On the host: some names exist with other content and mode, the rest are absent. A link
    // `current` whose target forges a record and a checksum for the absent `policy.conf`, in
    // the old line format and in the new one; `evil` does the same for the stat module.
    let policy = format!("{D}/policy.conf");
    let forged = format!(
        "x\nstat\t{policy}\tregular file\t600\troot\troot\t0\t0\tq\n{s}  {policy}\nabsent\t9\norder\t 0\nstat\tregular file\t600\troot\troot\t0\t0\t1764000000\t\"{policy}\"\nsums\t 0\n{s}  {policy}",
        s = sum("must exist\n")
    );
    let evil = "x\nstat\tregular file\t600\troot\troot\t0\t0\t1764000000\t42\t0\nsum\t0000";
    let mut setup = format!(
        "set -e; rm -rf {D}; mkdir -p {D}/releases/v2 /srv/locked; chmod 700 /srv/locked; echo x > /srv/locked/data\n\
         ln -s {} {}\nln -s {} {}\nln -s {} {}\n",
        on_host(forged.as_bytes()),
        on_host(b"current"),
        on_host(evil.as_bytes()),
        on_host(b"evil"),
        on_host(b"raw\xff\n-> x"),
        on_host(b"raw"),
    );
    for n in NAMES.iter().step_by(2) {
        setup.push_str(&format!(
            "printf old > {p}; chmod 644 {p}\n",
            p = on_host(n.as_bytes())
        ));
    }
    Hosts::sh(K, &setup);

    let mut tasks: Vec<Value> = NAMES
        .iter()
        .enumerate()
        .map(|(i, n)| {
            json!({"name": format!("copy {i}"),
                   "copy": {"content": format!("v1 {i}\n"), "dest": format!("{D}/{n}"), "mode": "0640"}})
        })
        .collect();
    tasks.extend([
        json!({"name": "policy", "copy": {"content": "must exist\n", "dest": policy, "mode": "0600"}}),
        json!({"name": "release", "file": {"path": format!("{D}/current"), "state": "link", "src": format!("{D}/releases/v2")}}),
        json!({"name": "odd dir", "file": {"path": format!("{D}/dir\n'with' \\ $(x)"), "state": "directory", "mode": "0750"}}),
        json!({"name": "odd link", "file": {"path": format!("{D}/link\n-> x"), "state": "link", "src": format!("{D}/{}", NAMES[0])}}),
        json!({"name": "line", "lineinfile": {"path": format!("{D}/line\n'it' \\ $(x).conf"), "line": "a=1", "create": true}}),
        json!({"name": "key", "authorized_key": {"user": "deploy", "key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl probe@test"}}),
        json!({"name": "stat evil", "stat": {"path": format!("{D}/evil")}, "register": "ev"}),
        json!({"name": "show evil", "debug": {"msg": "{{ ev.stat.islnk }} {{ ev.stat.isreg }} {{ ev.stat.checksum | default('none') }}"}}),
        json!({"name": "stat raw", "stat": {"path": format!("{D}/raw")}, "register": "rw"}),
        json!({"name": "show raw", "debug": {"msg": "{{ rw.stat.islnk }} {{ rw.stat.lnk_target }}"}}),
        json!({"name": "stat odd", "stat": {"path": format!("{D}/{}", NAMES[0])}, "register": "od"}),
        json!({"name": "show odd", "debug": {"msg": "{{ od.stat.exists }} {{ od.stat.mode }} {{ od.stat.checksum }}"}}),
    ]);
    let pb = playbook(dir.path(), "hostile.yml", tasks);
    let inv = inventory(dir.path(), &[K], "root");

    // First run: every copy, the policy file, the link and the directory change.
    let run = apply_json(dir.path(), &pb, &inv, &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let mut want: Vec<String> = (0..NAMES.len()).map(|i| format!("copy {i}")).collect();
    want.extend(["policy", "release", "odd dir", "odd link", "line", "key"].map(String::from));
    assert_eq!(changed(&run), want, "{}", run.stdout);
    assert_eq!(run.task_msg(&h, "show evil"), "True False none");
    assert_eq!(
        run.task_msg(&h, "show raw"),
        format!("True \"{D}/raw\\377\\n-> x\"")
    );
    assert_eq!(
        run.task_msg(&h, "show odd"),
        format!("True 0640 {}", sum("v1 0\n"))
    );
    // On the host: the content and mode of each, the policy file, and no `$()` ran.
    for (i, n) in NAMES.iter().enumerate() {
        let p = on_host(n.as_bytes());
        assert_eq!(
            Hosts::sh(K, &format!("stat -c %a {p}; cat {p}")),
            format!("640\nv1 {i}"),
            "{n:?}"
        );
    }
    assert_eq!(
        Hosts::sh(K, &format!("stat -c %a {policy}; cat {policy}")),
        "600\nmust exist"
    );
    assert_eq!(
        Hosts::sh(K, &format!("readlink {}", on_host(b"link\n-> x"))),
        format!("{D}/nl\nname.conf")
    );
    assert_eq!(
        Hosts::sh(K, &format!("find / /root {D} -maxdepth 1 -name 'PWNED*'")),
        ""
    );

    // Second run: nothing to do.
    let run = apply_json(dir.path(), &pb, &inv, &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(changed(&run).is_empty(), "{}", run.stdout);
    assert!(run.with_status(&h, "failed").is_empty(), "{}", run.stdout);

    // A path under a directory the login user cannot search: an error, not "does not exist".
    let pb = playbook(
        dir.path(),
        "locked.yml",
        vec![
            json!({"name": "locked", "stat": {"path": "/srv/locked/data"}, "register": "l", "ignore_errors": true}),
            json!({"name": "missing", "stat": {"path": format!("{D}/none")}, "register": "m"}),
            json!({"name": "show", "debug": {"msg": "{{ m.stat.exists }}"}}),
        ],
    );
    let inv = inventory(dir.path(), &[K], "deploy");
    let run = apply_json(dir.path(), &pb, &inv, &[]);
    assert_eq!(run.with_status(&h, "failed"), ["locked"], "{}", run.stdout);
    assert!(
        run.task_msg(&h, "locked").contains("Permission denied"),
        "{}",
        run.stdout
    );
    assert_eq!(run.task_msg(&h, "show"), "false");
}
