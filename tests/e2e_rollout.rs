//! Rollouts to several real hosts: rolling batches, a dead host, a host lost mid-run,
//! max_fail_percentage, --limit and the retry file.

mod support;

use std::path::Path;
use support::{Hosts, Run, http_get, inventory, plumb};

fn apply(dir: &Path, inv: &Path, playbook: &str, extra: &[&str]) -> Run {
    support::apply_json(dir, playbook, inv, extra)
}

#[test]
fn rollout_batches_dead_hosts_max_fail_and_retry() {
    let ids = [31, 32, 33, 34];
    let _hosts = Hosts::up(&ids);
    let dir = tempfile::tempdir().unwrap();
    let inv = inventory(dir.path(), &ids, "root");
    let site = support::site();

    // serial: 1 with max_fail_percentage: 0: the first host fails, no other host is touched.
    let pb = dir.path().join("fail-first.yml");
    std::fs::write(
        &pb,
        "- hosts: all\n  serial: 1\n  max_fail_percentage: 0\n  tasks:\n    - copy:\n        content: touched\n        dest: /root/plumb-touched\n    - command: /bin/false\n      when: inventory_hostname == 'h31'\n",
    )
    .unwrap();
    let run = apply(dir.path(), &inv, pb.to_str().unwrap(), &[]);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(run.host_status("h31"), "failed");
    for h in ["h32", "h33", "h34"] {
        assert_eq!(run.host_status(h), "not-run", "{}", run.stdout);
        assert!(
            run.host_msg(h).contains("max_fail_percentage"),
            "{}",
            run.stdout
        );
    }
    assert_eq!(Hosts::sh(31, "cat /root/plumb-touched"), "touched");
    for k in [32, 33, 34] {
        assert_ne!(
            Hosts::ssh(k, "test -e /root/plumb-touched").0,
            0,
            "h{k} was touched"
        );
    }

    // serial 2 with one host down before the run: the other three converge.
    Hosts::link(33, "down");
    let run = apply(dir.path(), &inv, &site, &["--serial", "2"]);
    assert_eq!(
        run.code, 3,
        "unreachable exit code\n{}\n{}",
        run.stdout, run.stderr
    );
    assert_eq!(run.host_status("h33"), "unreachable");
    assert!(!run.host_msg("h33").is_empty());
    for h in ["h31", "h32", "h34"] {
        assert_eq!(run.host_status(h), "changed", "{}", run.stdout);
    }
    for k in [31, 32, 34] {
        assert_eq!(http_get(&Hosts::ip(k), "/").0, 200);
    }
    let retry = run.json()["retry_file"].as_str().unwrap().to_string();
    assert_eq!(std::fs::read_to_string(&retry).unwrap().trim(), "h33");

    // The human recap names the dead host too.
    Hosts::link(33, "up");
    // Back: --limit @retry runs only that host, which converges.
    let run = apply(dir.path(), &inv, &site, &["--limit", &format!("@{retry}")]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let hosts: Vec<String> = run.json()["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["host"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(hosts, ["h33"]);
    assert_eq!(run.host_status("h33"), "changed");
    assert_eq!(http_get(&Hosts::ip(33), "/").0, 200);

    // Everyone again: nothing to change anywhere.
    let run = apply(dir.path(), &inv, &site, &[]);
    assert_eq!(run.code, 0);
    for h in ["h31", "h32", "h33", "h34"] {
        assert_eq!(run.host_status(h), "ok", "{}", run.stdout);
    }

    // Patterns select what they say, before anything connects.
    let list = plumb(
        dir.path(),
        &[
            "inventory",
            "-i",
            inv.to_str().unwrap(),
            "--limit",
            "web:!h31:!h3[2]",
        ],
    );
    let names: Vec<String> = serde_json::from_str::<serde_json::Value>(&list.stdout)
        .unwrap()
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(names, ["h33", "h34"]);
    let run = apply(dir.path(), &inv, &site, &["--limit", "h3*:&web:!h34"]);
    assert_eq!(run.json()["hosts"].as_array().unwrap().len(), 3);
    let none = apply(dir.path(), &inv, &site, &["--limit", "nosuchhost"]);
    assert_eq!(none.code, 5, "{}", none.stderr);
    assert!(none.stderr.contains("nosuchhost"), "{}", none.stderr);
}

/// Runs `slow` (a copy of `first`, a long `shell`, a copy of `second`) on all hosts with `flags`,
/// cutting h37 off the network once it is inside the long task.
fn cut_mid_run(
    dir: &Path,
    inv: &Path,
    name: &str,
    first: &str,
    second: &str,
    flags: &[&str],
) -> Run {
    let pb = dir.join(name);
    std::fs::write(
        &pb,
        format!("- hosts: all\n  tasks:\n    - copy: {{content: x, dest: /root/{first}}}\n    - shell: sleep 6\n    - copy: {{content: x, dest: /root/{second}}}\n"),
    )
    .unwrap();
    let (dir2, inv2, pb) = (
        dir.to_path_buf(),
        inv.to_path_buf(),
        pb.display().to_string(),
    );
    let flags: Vec<String> = flags.iter().map(|f| f.to_string()).collect();
    let runner = std::thread::spawn(move || {
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        apply(&dir2, &inv2, &pb, &flags)
    });
    for _ in 0..100 {
        if Hosts::ssh(37, &format!("test -e /root/{first}")).0 == 0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    Hosts::link(37, "down");
    let run = runner.join().unwrap();
    Hosts::link(37, "up");
    run
}

#[test]
fn host_lost_mid_rollout_is_unreachable_and_others_finish() {
    let ids = [36, 37, 38];
    let _hosts = Hosts::up(&ids);
    let dir = tempfile::tempdir().unwrap();
    let inv = inventory(dir.path(), &ids, "root");

    // Keepalives off: the silence limit gives the host up.
    let run = cut_mid_run(
        dir.path(),
        &inv,
        "slow.yml",
        "one",
        "two",
        &["--keepalive", "0", "--command-timeout", "8"],
    );
    assert_eq!(run.code, 3, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(run.host_status("h37"), "unreachable");
    assert!(
        run.host_msg("h37")
            .contains("no answer from the host for 8 s"),
        "{}",
        run.host_msg("h37")
    );
    for (h, k) in [("h36", 36), ("h38", 38)] {
        assert_eq!(run.host_status(h), "changed");
        assert_eq!(Hosts::sh(k, "cat /root/two"), "x");
    }
    assert_ne!(Hosts::ssh(37, "test -e /root/two").0, 0);

    // Back on the network, a re-run converges it.
    let slow = dir.path().join("slow.yml").display().to_string();
    let run = apply(dir.path(), &inv, &slow, &["--limit", "h37"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(Hosts::sh(37, "cat /root/two"), "x");

    // Keepalives on: the host is given up because they go unanswered, long before the
    // (generous) silence limit would.
    let run = cut_mid_run(
        dir.path(),
        &inv,
        "slow2.yml",
        "three",
        "four",
        &["--keepalive", "1", "--command-timeout", "300"],
    );
    assert_eq!(run.code, 3, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(run.host_status("h37"), "unreachable");
    assert!(
        run.host_msg("h37")
            .contains("the host stopped answering (no reply to keepalives for 3 s)"),
        "{}",
        run.host_msg("h37")
    );
    for (h, k) in [("h36", 36), ("h38", 38)] {
        assert_eq!(run.host_status(h), "changed");
        assert_eq!(Hosts::sh(k, "cat /root/four"), "x");
    }
    assert_ne!(Hosts::ssh(37, "test -e /root/four").0, 0);
}
