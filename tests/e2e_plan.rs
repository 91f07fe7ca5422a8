//! `plumb plan` is honest: on fresh, converged and drifted real hosts, every task that the real
//! apply right after it changes was predicted `changed` or `may-change`; a converged host shows
//! no noise; and the plan itself changes nothing on the host.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use support::{Hosts, Run, inventory};

fn run(dir: &Path, inv: &Path, cmd: &str) -> Run {
    let json = ["--host-key-checking", "accept-new", "--output", "json"];
    support::playbook(dir, cmd, &support::site(), inv, &json)
}

/// Everything a plan must not touch: files under /etc, /srv and the unit directories, links and
/// modes, installed packages, services' active/enabled states, apt's caches and locks.
fn snapshot(k: u32) -> String {
    Hosts::sh(
        k,
        "set -e; export LC_ALL=C; \
         find /etc /srv /lib/systemd/system -xdev -type f -print0 | sort -z | xargs -0 sha256sum; \
         find /etc /srv /run/myproject -xdev \\( -type l -o -type d \\) -printf '%p %l %m %u\\n' 2>/dev/null | sort; \
         dpkg-query -W -f='${Package} ${Version} ${db:Status-Abbrev}\\n'; \
         systemctl list-units --all --type=service --no-legend --plain | awk '{print $1,$3,$4}'; \
         systemctl list-unit-files --type=service --no-legend --plain | awk '{print $1,$2}'; \
         stat -c '%n %Y %s' /var/lib/apt/lists/* /var/cache/apt/* /var/lib/dpkg/lock* 2>/dev/null || true",
    )
}

fn statuses(run: &Run, host: &str) -> BTreeMap<String, String> {
    run.statuses(host).into_iter().collect()
}

/// Plans, checks the host did not change, applies, and checks the plan predicted every change.
/// Returns (plan, apply) statuses.
fn plan_then_apply(
    dir: &Path,
    inv: &Path,
    k: u32,
) -> (BTreeMap<String, String>, BTreeMap<String, String>, Run) {
    let host = format!("h{k}");
    let before = snapshot(k);
    let plan = run(dir, inv, "plan");
    assert_eq!(
        plan.code, 0,
        "plan failed:\n{}\n{}",
        plan.stdout, plan.stderr
    );
    let after = snapshot(k);
    if before != after {
        let diff = similar_lines(&before, &after);
        panic!("plan changed the host:\n{diff}");
    }
    let apply = run(dir, inv, "apply");
    assert_eq!(
        apply.code, 0,
        "apply failed:\n{}\n{}",
        apply.stdout, apply.stderr
    );
    let p = statuses(&plan, &host);
    let a = statuses(&apply, &host);
    for (task, status) in &a {
        if status == "changed" {
            let predicted = p.get(task).map(String::as_str).unwrap_or("absent");
            assert!(
                predicted == "changed" || predicted == "may-change",
                "false ok: apply changed `{task}` but plan said `{predicted}`\nplan: {p:?}\napply: {a:?}"
            );
        }
    }
    (p, a, plan)
}

fn similar_lines(a: &str, b: &str) -> String {
    let a: Vec<&str> = a.lines().collect();
    let b: Vec<&str> = b.lines().collect();
    let gone = a
        .iter()
        .filter(|l| !b.contains(l))
        .map(|l| format!("- {l}"));
    let new = b
        .iter()
        .filter(|l| !a.contains(l))
        .map(|l| format!("+ {l}"));
    gone.chain(new).collect::<Vec<_>>().join("\n")
}

fn with(p: &BTreeMap<String, String>, status: &str) -> Vec<String> {
    p.iter()
        .filter(|(_, s)| *s == status)
        .map(|(t, _)| t.clone())
        .collect()
}

#[test]
fn plan_is_honest_on_fresh_converged_and_drifted_hosts() {
    let k = 21;
    let _hosts = Hosts::up(&[k]);
    let dir = tempfile::tempdir().unwrap();
    let inv = inventory(dir.path(), &[k], "root");

    // Fresh host: everything will change or may change, nothing is wrongly `ok` (a restart
    // handler of a unit the play itself starts after the change may be: the run does nothing
    // there either).
    let (p, a, _) = plan_then_apply(dir.path(), &inv, k);
    for t in with(&p, "ok") {
        assert!(
            t.starts_with("handler: restart") && a.get(&t).map(String::as_str) == Some("ok"),
            "fresh host, plan said ok to `{t}`: {p:?}\napply: {a:?}"
        );
    }
    assert!(with(&a, "changed").len() >= 10, "{a:?}");

    // Converged: no noise at all.
    let (p, a, _) = plan_then_apply(dir.path(), &inv, k);
    assert!(with(&p, "changed").is_empty(), "{p:?}");
    assert!(with(&p, "may-change").is_empty(), "{p:?}");
    assert!(with(&a, "changed").is_empty(), "{a:?}");

    // One file drifted: exactly that task (with its diff) and its handler.
    Hosts::sh(
        k,
        "sed -i 's/charset utf-8;/charset latin1;/' /etc/nginx/conf.d/myproject.conf",
    );
    let (p, a, plan) = plan_then_apply(dir.path(), &inv, k);
    assert_eq!(with(&p, "changed"), ["handler: reload nginx", "nginx site"]);
    assert!(with(&p, "may-change").is_empty(), "{p:?}");
    let doc = plan.json();
    let task = doc["hosts"][0]["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "nginx site")
        .unwrap()
        .clone();
    let diff = task["diff"].as_str().unwrap();
    assert!(
        diff.contains("-    charset latin1;\n+    charset utf-8;\n"),
        "{diff}"
    );
    assert!(
        diff.starts_with("--- a/etc/nginx/conf.d/myproject.conf\n"),
        "{diff}"
    );
    assert_eq!(with(&a, "changed"), ["handler: reload nginx", "nginx site"]);

    // The uWSGI unit stopped.
    Hosts::sh(k, "systemctl stop uwsgi-myproject");
    let (p, _, _) = plan_then_apply(dir.path(), &inv, k);
    assert_eq!(with(&p, "changed"), ["uWSGI running and enabled"]);

    // The uWSGI unit stopped and its config drifted: the play starts the unit after the
    // change, so its restart handler has nothing left to do, in the plan as in the run.
    Hosts::sh(
        k,
        "systemctl stop uwsgi-myproject && sed -i 's/^processes = .*/processes = 7/' /etc/uwsgi/myproject.ini",
    );
    let (p, a, plan) = plan_then_apply(dir.path(), &inv, k);
    assert_eq!(
        with(&p, "changed"),
        ["uWSGI app config", "uWSGI running and enabled"],
        "{p:?}"
    );
    assert_eq!(p["handler: restart uwsgi"], "ok", "{p:?}");
    assert_eq!(a["handler: restart uwsgi"], "ok", "{a:?}");
    assert!(
        plan.task_msg(&format!("h{k}"), "restart uwsgi")
            .contains("will be started after the change"),
        "{}",
        plan.stdout
    );

    // nginx's default site restored by hand.
    Hosts::sh(
        k,
        "ln -s /etc/nginx/sites-available/default /etc/nginx/sites-enabled/default",
    );
    let (p, _, _) = plan_then_apply(dir.path(), &inv, k);
    assert_eq!(
        with(&p, "changed"),
        ["Disable nginx's default site", "handler: reload nginx"]
    );

    // A package removed: what follows may change, and nothing is wrongly `ok`.
    Hosts::sh(
        k,
        "DEBIAN_FRONTEND=noninteractive apt-get remove -y -q python3-django >/dev/null",
    );
    let (p, a, _) = plan_then_apply(dir.path(), &inv, k);
    assert!(p["Install nginx, uWSGI and Django"] == "changed", "{p:?}");
    assert!(a["Install nginx, uWSGI and Django"] == "changed", "{a:?}");

    // And converged again afterwards.
    let (p, _, _) = plan_then_apply(dir.path(), &inv, k);
    assert!(
        with(&p, "changed").is_empty() && with(&p, "may-change").is_empty(),
        "{p:?}"
    );

    // `check_mode: false`: a read-only command runs in the plan too, so what uses its result
    // is planned, not guessed; one that reads what an earlier change alters waits for apply.
    let pb = dir.path().join("versions.yml");
    std::fs::write(
        &pb,
        "- hosts: all\n  tasks:\n    - name: nginx version\n      command: nginx -v\n      register: v\n      check_mode: false\n      changed_when: false\n    - name: show it\n      debug: {msg: \"{{ v.stderr }}\"}\n    - name: marker\n      copy: {content: here, dest: /root/marker}\n    - name: read marker\n      command: cat /root/marker\n      register: m\n      check_mode: false\n      changed_when: false\n    - name: show marker\n      debug: {msg: \"{{ m.stdout }}\"}\n",
    )
    .unwrap();
    let json = ["--host-key-checking", "accept-new", "--output", "json"];
    let before = snapshot(k);
    let plan = support::playbook(dir.path(), "plan", pb.to_str().unwrap(), &inv, &json);
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
    assert_eq!(before, snapshot(k), "the plan changed the host");
    assert_ne!(Hosts::ssh(k, "test -e /root/marker").0, 0);
    let host = format!("h{k}");
    let p = statuses(&plan, &host);
    assert_eq!(p["nginx version"], "ok", "{p:?}");
    assert!(
        plan.task_msg(&host, "show it")
            .starts_with("nginx version: nginx/"),
        "{}",
        plan.stdout
    );
    assert_eq!(p["marker"], "changed", "{p:?}");
    assert_eq!(p["read marker"], "skipped", "{p:?}");
    assert_eq!(
        plan.task_msg(&host, "read marker"),
        "not run in this plan: an earlier change alters what it reads"
    );
    assert_eq!(p["show marker"], "skipped", "{p:?}");
    let apply = support::playbook(dir.path(), "apply", pb.to_str().unwrap(), &inv, &json);
    assert_eq!(apply.code, 0, "{}\n{}", apply.stdout, apply.stderr);
    assert_eq!(apply.task_msg(&host, "show marker"), "here");
}
