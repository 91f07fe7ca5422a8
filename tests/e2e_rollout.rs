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

#[test]
fn host_lost_mid_rollout_is_unreachable_and_others_finish() {
    let ids = [36, 37, 38];
    let _hosts = Hosts::up(&ids);
    let dir = tempfile::tempdir().unwrap();
    let inv = inventory(dir.path(), &ids, "root");
    let pb = dir.path().join("slow.yml");
    std::fs::write(
        &pb,
        "- hosts: all\n  tasks:\n    - copy: {content: one, dest: /root/one}\n    - shell: sleep 4\n    - copy: {content: two, dest: /root/two}\n",
    )
    .unwrap();
    let pb = pb.display().to_string();
    let dir_path = dir.path().to_path_buf();
    let inv2 = inv.clone();
    let runner =
        std::thread::spawn(move || apply(&dir_path, &inv2, &pb, &["--command-timeout", "8"]));
    // Cut h37 off once it is inside the slow task.
    for _ in 0..100 {
        if Hosts::ssh(37, "test -e /root/one").0 == 0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    Hosts::link(37, "down");
    let run = runner.join().unwrap();
    Hosts::link(37, "up");
    assert_eq!(run.code, 3, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(run.host_status("h37"), "unreachable");
    for (h, k) in [("h36", 36), ("h38", 38)] {
        assert_eq!(run.host_status(h), "changed");
        assert_eq!(Hosts::sh(k, "cat /root/two"), "two");
    }
    assert_ne!(Hosts::ssh(37, "test -e /root/two").0, 0);

    // Back on the network, a re-run converges it.
    let slow = dir.path().join("slow.yml").display().to_string();
    let run = apply(dir.path(), &inv, &slow, &["--limit", "h37"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(Hosts::sh(37, "cat /root/two"), "two");
}
