//! A loop's items made together (issue 18), on two real Debian 12 hosts over SSH: fresh hosts,
//! three 60-item loops (`file` directories, `lineinfile` lines in one file, `copy` files) with
//! modes and owners; planned, applied (each task one exec a host, the lines two: the first item
//! creates the file), checked with ssh independently of plumb, then applied again (nothing
//! changes) and planned again (nothing to do).

mod support;

use std::path::Path;
use support::{Hosts, Run, inventory};

const KS: [u32; 2] = [153, 154];

const PLAYBOOK: &str = r#"
- hosts: all
  vars:
    n: 60
  tasks:
    - name: dirs
      file:
        path: "/srv/loops/d{{ item }}"
        state: directory
        mode: "0750"
        owner: www-data
      loop: "{{ range(n | int) | list }}"

    - name: lines
      lineinfile:
        path: /srv/loops/lines.conf
        line: "key_{{ item }}_ = {{ item }}"
        create: true
        mode: "0640"
      loop: "{{ range(n | int) | list }}"

    - name: files
      copy:
        content: "item {{ item }}\n"
        dest: "/srv/loops/f{{ item }}.txt"
        mode: "{{ '0600' if item % 2 else '0644' }}"
        group: "{{ 'www-data' if item % 3 == 0 else 'root' }}"
      loop: "{{ range(n | int) | list }}"
      register: made

    - name: results
      debug:
        msg: "{{ made.results | length }} {{ made.results | selectattr('changed') | list | length }} {{ made.results[59].item }}"
"#;

fn run(dir: &Path, inv: &Path, cmd: &str, extra: &[&str]) -> Run {
    let pb = dir.join("site.yml");
    let mut args = vec!["--host-key-checking", "accept-new"];
    args.extend_from_slice(extra);
    let r = support::playbook(dir, cmd, pb.to_str().unwrap(), inv, &args);
    assert_eq!(r.code, 0, "{cmd} failed:\n{}\n{}", r.stdout, r.stderr);
    r
}

#[test]
fn cold_loops_converge_with_modes_and_owners() {
    let _hosts = Hosts::up(&KS);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("site.yml"), PLAYBOOK).unwrap();
    let inv = inventory(dir.path(), &KS, "root");

    let plan = run(dir.path(), &inv, "plan", &["--output", "json"]);
    for k in KS {
        let st: Vec<String> = plan
            .statuses(&format!("h{k}"))
            .into_iter()
            .map(|(_, s)| s)
            .collect();
        // `debug` of a loop's registered results, which only applying makes: not shown
        // on a stand-in (see `register` in a plan).
        assert_eq!(
            st,
            ["changed", "changed", "changed", "skipped"],
            "{}",
            plan.stdout
        );
    }

    let apply = run(dir.path(), &inv, "apply", &["-v"]);
    let all = format!("{}{}", apply.stdout, apply.stderr);
    for k in KS {
        // One exec a task (the lines: the first creates the file, the rest go together).
        let runs: Vec<&str> = all
            .lines()
            .filter(|l| l.starts_with(&format!("h{k} ")))
            .filter_map(|l| l.split("| run (").nth(1))
            .map(|l| l.split(' ').next().unwrap())
            .collect();
        assert_eq!(runs, ["60", "1", "59", "60"], "h{k}:\n{all}");
    }

    for k in KS {
        let stat = Hosts::sh(
            k,
            "cd /srv/loops && stat -c '%n %F %a %U %G' d0 d7 f0.txt f1.txt f3.txt lines.conf",
        );
        assert_eq!(
            stat,
            "d0 directory 750 www-data root\n\
             d7 directory 750 www-data root\n\
             f0.txt regular file 644 root www-data\n\
             f1.txt regular file 600 root root\n\
             f3.txt regular file 600 root www-data\n\
             lines.conf regular file 640 root root",
            "h{k}"
        );
        // 60 directories, 60 files, the lines; no temp file or directory left.
        assert_eq!(Hosts::sh(k, "ls -A /srv/loops | wc -l"), "121", "h{k}");
        assert_eq!(
            Hosts::sh(
                k,
                "find /srv/loops -type d -name 'd*' -perm 0750 -user www-data | wc -l"
            ),
            "60"
        );
        let lines = Hosts::sh(k, "cat /srv/loops/lines.conf");
        let want: Vec<String> = (0..60).map(|i| format!("key_{i}_ = {i}")).collect();
        assert_eq!(lines, want.join("\n"), "h{k}");
        assert_eq!(Hosts::sh(k, "cat /srv/loops/f59.txt"), "item 59");
        assert_eq!(
            Hosts::sh(k, "cat /srv/loops/f*.txt | sort -u | wc -l"),
            "60"
        );
    }

    let again = run(dir.path(), &inv, "apply", &["--output", "json"]);
    for k in KS {
        let st: Vec<String> = again
            .statuses(&format!("h{k}"))
            .into_iter()
            .map(|(_, s)| s)
            .collect();
        assert_eq!(st, ["ok"; 4], "{}", again.stdout);
        assert_eq!(again.task_msg(&format!("h{k}"), "results"), "60 0 59");
    }
    let plan2 = run(dir.path(), &inv, "plan", &["--output", "json"]);
    for k in KS {
        let st: Vec<String> = plan2
            .statuses(&format!("h{k}"))
            .into_iter()
            .map(|(_, s)| s)
            .collect();
        assert_eq!(st, ["ok"; 4], "{}", plan2.stdout);
    }
}
