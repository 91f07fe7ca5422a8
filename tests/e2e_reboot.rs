//! `reboot` and `meta: reset_connection` on real hosts (issue 14): planned as a change that
//! touches nothing; applied, the host really boots again (a new boot id), plumb waits for it,
//! takes its plumb lock again and goes on with the play's later tasks and handlers, on a root
//! login and on a sudo user's. The test hosts boot again in place (tests/hosts/testhosts.sh),
//! and `down` still stops everything after that.

mod support;

use support::{Hosts, apply_json, playbook};

const PLAY: &str = r#"- hosts: all
  become: true
  tasks:
    - name: write before
      copy: {content: "before\n", dest: /root/reboot-before}
    - name: boot id before
      command: cat /proc/sys/kernel/random/boot_id
      register: before
      changed_when: false
    - name: reboot
      reboot: {reboot_timeout: 300, post_reboot_delay: 1, connect_timeout: 5, msg: plumb e2e}
      register: rebooted
      notify: after the reboot
    - name: boot id after
      command: cat /proc/sys/kernel/random/boot_id
      register: after
      changed_when: false
    - name: what the boot wrote
      stat: {path: /var/lib/plumb-boot-marker}
      register: marker
    - name: a new boot, facts kept
      when: not ansible_check_mode
      assert:
        that:
          - after.stdout != before.stdout
          - marker.stat.exists
          - rebooted.rebooted
          - rebooted.elapsed is number
          - ansible_facts.hostname == inventory_hostname
    - name: the lock is held again
      command: flock -n /run/plumb/lock true
      register: lock
      failed_when: lock.rc == 0
      changed_when: false
    - name: write after
      copy: {content: "{{ after.stdout }}\n", dest: /root/reboot-after}
    - name: reset
      meta: reset_connection
    - name: the lock is held after the reset
      command: flock -n /run/plumb/lock true
      register: lock2
      failed_when: lock2.rc == 0
      changed_when: false
    - name: write after the reset
      copy: {content: "reset\n", dest: /root/reboot-reset}
  handlers:
    - name: after the reboot
      copy: {content: "{{ after.stdout }}\n", dest: /root/reboot-handler}
"#;

const BOOT_ID: &str = "cat /proc/sys/kernel/random/boot_id";

/// A unit that writes a marker at the next boot, before sshd starts: the batched probe taken
/// before the reboot says it is missing, and must not be believed after it.
const MARK_AT_BOOT: &str =
    "printf '%s\\n' '[Unit]' 'Before=ssh.service' '[Service]' 'Type=oneshot' \
    'ExecStart=/bin/touch /var/lib/plumb-boot-marker' '[Install]' 'WantedBy=multi-user.target' \
    > /etc/systemd/system/plumb-boot-marker.service
    systemctl enable --quiet plumb-boot-marker.service";

/// Processes whose command line holds `needle` (the harness's supervisor or nspawn of a host).
fn processes(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(raw) = std::fs::read(e.path().join("cmdline")) {
            let line = String::from_utf8_lossy(&raw).replace('\0', " ");
            if line.contains(needle) {
                found.push(line);
            }
        }
    }
    found
}

#[test]
fn reboot_then_the_play_goes_on_and_reset_connection() {
    let ks = [193, 194, 195];
    let hosts = Hosts::up(&ks);
    let dir = tempfile::tempdir().unwrap();
    let key = Hosts::key();
    // h195 logs in as a sudo user: its lock is root's, taken again through sudo.
    let mut inv = String::from("[web]\n");
    for (k, user) in [(193, "root"), (194, "root"), (195, "deploy")] {
        inv.push_str(&format!(
            "h{k} ansible_host={} ansible_user={user} ansible_ssh_private_key_file={}\n",
            Hosts::ip(k),
            key.display()
        ));
    }
    let inv_path = dir.path().join("inventory.ini");
    std::fs::write(&inv_path, inv).unwrap();
    let pb = dir.path().join("site.yml");
    std::fs::write(&pb, PLAY).unwrap();
    let pb = pb.display().to_string();
    let boots: Vec<String> = ks.iter().map(|k| Hosts::sh(*k, BOOT_ID)).collect();
    for k in ks {
        Hosts::sh(k, MARK_AT_BOOT);
    }

    // The plan: the reboot would change, nothing is done, the reset waits for apply.
    let plan = playbook(
        dir.path(),
        "plan",
        &pb,
        &inv_path,
        &["--host-key-checking", "accept-new", "--output", "json"],
    );
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
    for (i, k) in ks.iter().enumerate() {
        let h = format!("h{k}");
        assert!(
            plan.with_status(&h, "changed")
                .contains(&"reboot".to_string()),
            "{}",
            plan.stdout
        );
        assert_eq!(
            plan.task_msg(&h, "reset"),
            "the connection is reset here when applied"
        );
        assert_eq!(Hosts::sh(*k, BOOT_ID), boots[i], "the plan rebooted h{k}");
        assert_ne!(Hosts::ssh(*k, "test -e /root/reboot-before").0, 0);
    }

    let r = apply_json(dir.path(), &pb, &inv_path, &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    for (i, k) in ks.iter().enumerate() {
        let h = format!("h{k}");
        assert_eq!(r.host_status(&h), "changed");
        assert_eq!(r.with_status(&h, "failed"), Vec::<String>::new());
        let changed = r.with_status(&h, "changed");
        for t in [
            "write before",
            "reboot",
            "write after",
            "write after the reset",
            "handler: after the reboot",
        ] {
            assert!(changed.contains(&t.to_string()), "h{k}: {t}: {changed:?}");
        }
        assert_eq!(r.task_msg(&h, "reset"), "connection reset");
        // A new boot, seen by the tasks after the reboot and by its handler; the file written
        // before it is still there.
        let now = Hosts::sh(*k, BOOT_ID);
        assert_ne!(now, boots[i], "h{k} did not reboot");
        for (file, want) in [
            ("before", "before"),
            ("after", &now),
            ("handler", &now),
            ("reset", "reset"),
        ] {
            assert_eq!(
                Hosts::sh(*k, &format!("cat /root/reboot-{file}")),
                want,
                "h{k}"
            );
        }
    }

    // A reboot command that does not reboot: the boot id never changes, and the task fails
    // once reboot_timeout is up, saying why.
    let never = dir.path().join("never.yml");
    std::fs::write(
        &never,
        "- hosts: h193\n  gather_facts: false\n  tasks:\n    - name: no reboot\n      reboot: {reboot_command: 'true', reboot_timeout: 3}\n",
    )
    .unwrap();
    let r = apply_json(dir.path(), never.to_str().unwrap(), &inv_path, &[]);
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.host_status("h193"), "failed");
    assert_eq!(
        r.task_msg("h193", "no reboot"),
        "timed out waiting for a new boot id (reboot_timeout 3 s); last: the boot id has not \
         changed yet"
    );

    // The harness booted them again in place; `down` still stops everything.
    drop(hosts);
    for k in ks {
        let left: Vec<String> = [format!("_supervise {k} "), format!("-M h{k} ")]
            .iter()
            .flat_map(|n| processes(n))
            .collect();
        assert_eq!(left, Vec::<String>::new(), "h{k} left processes behind");
    }
}
