//! The download, archive, search, wait and APT-source modules on a real Debian 12 host, written
//! as public roles write them: the plan predicts the first run, the first run makes the
//! changes (checked on the host over ssh, not through plumb), the second changes nothing.

mod support;

use std::collections::BTreeMap;
use support::{Hosts, apply_json, inventory, playbook};

const PLAYBOOK: &str = r##"---
- name: Fetch, unpack and look around
  hosts: all
  become: true
  vars:
    payload_sum: "sha256:{{ payload_sha256 }}"
  tasks:
    - name: Curl, the generic way
      ansible.builtin.package:
        name: curl
        state: present

    - name: Wait for the file server
      wait_for:
        port: 8088
        timeout: 30

    - name: Wait for its ready file
      ansible.builtin.wait_for:
        path: /srv/www/ready
        search_regex: "^serving"
        timeout: 10

    - name: Download over http
      get_url:
        url: http://127.0.0.1:8088/payload.txt
        dest: /opt/payload.txt
        checksum: "{{ payload_sum }}"
        mode: "0640"
      register: dl

    - name: Download a local file into a directory
      ansible.builtin.get_url:
        url: file:///srv/www/ready
        dest: /opt/
        mode: u=rw,g=r,o=

    - name: Unpack the release on the host
      unarchive:
        src: /srv/app.tgz
        dest: /srv/app
        remote_src: true
        extra_opts: ["--strip-components=1"]

    - name: Unpack the site shipped with the playbook
      ansible.builtin.unarchive:
        src: site.tar.gz
        dest: /srv/site

    - name: Unpack with creates
      unarchive:
        src: /srv/app.tgz
        dest: /srv/other
        remote_src: yes
        creates: /srv/other/app-1.0

    - name: Old error logs
      find:
        paths: /var/log/myapp
        patterns: "*.log"
        age: 2d
        contains: "^ERROR"
      register: old

    - name: Record what find saw
      copy:
        content: "{{ old.matched }} {{ old.files | map(attribute='path') | join(',') }}\n"
        dest: /srv/found.txt

    - name: Run the setup script once
      script: hello.sh first "two words"
      args:
        creates: /srv/hello.out

    - name: Tree owned by www-data, group-readable
      file:
        path: /srv/tree
        state: directory
        recurse: true
        owner: www-data
        mode: u=rwX,g=rX,o=

    - name: Debian key as a keyring
      apt_key:
        file: /usr/share/keyrings/debian-archive-bookworm-stable.gpg
        keyring: /etc/apt/keyrings/bookworm-test.gpg

    - name: A disabled deb822 source
      ansible.builtin.deb822_repository:
        name: Example Repo
        types: [deb]
        uris: http://deb.example.invalid/debian
        suites: [bookworm]
        components: [main, contrib]
        signed_by: file:///usr/share/keyrings/debian-archive-bookworm-stable.gpg
        enabled: false
"##;

const SCRIPT: &str = "#!/bin/sh\nprintf '%s|%s\\n' \"$1\" \"$2\" > /srv/hello.out\necho done\n";

fn statuses(r: &support::Run, host: &str) -> BTreeMap<String, String> {
    r.statuses(host).into_iter().collect()
}

#[test]
fn downloads_archives_and_sources_converge_and_plan_predicts() {
    let k = 161;
    let _hosts = Hosts::up(&[k]);
    let dir = tempfile::tempdir().unwrap();
    let inv = inventory(dir.path(), &[k], "root");
    let files = dir.path().join("files");
    std::fs::create_dir_all(files.join("site/css")).unwrap();
    std::fs::write(files.join("site/index.html"), "<h1>site</h1>\n").unwrap();
    std::fs::write(files.join("site/css/a.css"), "h1{}\n").unwrap();
    let tar = std::process::Command::new("tar")
        .args(["-czf", "site.tar.gz", "-C", "site", "."])
        .current_dir(&files)
        .status()
        .unwrap();
    assert!(tar.success());
    std::fs::write(files.join("hello.sh"), SCRIPT).unwrap();
    let pb = dir.path().join("site.yml");
    std::fs::write(&pb, PLAYBOOK).unwrap();
    let pb = pb.to_str().unwrap();
    let host = format!("h{k}");
    Hosts::sh(
        k,
        "set -e; mkdir -p /srv/www /srv/src/app-1.0/bin /srv/app /srv/site /srv/other /var/log/myapp /srv/tree/sub\n\
         printf 'payload\\n' > /srv/www/payload.txt; echo 'serving files' > /srv/www/ready\n\
         echo hi > /srv/src/app-1.0/README; printf '#!/bin/sh\\necho run\\n' > /srv/src/app-1.0/bin/run; chmod +x /srv/src/app-1.0/bin/run\n\
         tar -czf /srv/app.tgz -C /srv/src app-1.0\n\
         echo 'ERROR boom' > /var/log/myapp/a.log; echo 'ERROR new' > /var/log/myapp/b.log; echo fine > /var/log/myapp/c.log\n\
         touch -d '10 days ago' /var/log/myapp/a.log /var/log/myapp/c.log\n\
         touch /srv/tree/f1 /srv/tree/sub/f2; chmod 0666 /srv/tree/f1; chmod 0755 /srv/tree/sub/f2\n\
         systemd-run --unit plumb-http --working-directory=/srv/www python3 -m http.server 8088 --bind 127.0.0.1 >/dev/null 2>&1",
    );
    let sum = Hosts::sh(k, "sha256sum < /srv/www/payload.txt | cut -d' ' -f1");
    let e = format!("payload_sha256={sum}");
    let extra = ["-e", e.as_str()];

    // Before anything: the plan says what the run will do.
    let mut args = vec!["--host-key-checking", "accept-new", "--output", "json"];
    args.extend_from_slice(&extra);
    let plan = playbook(dir.path(), "plan", pb, &inv, &args);
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
    let p = statuses(&plan, &host);
    for t in [
        "Download over http",
        "Download a local file into a directory",
        "Unpack the release on the host",
        "Tree owned by www-data, group-readable",
        "Debian key as a keyring",
        "A disabled deb822 source",
    ] {
        assert_eq!(p.get(t).map(String::as_str), Some("changed"), "{t}: {p:?}");
    }
    // After the script (which may touch anything), the tree is not planned on stale facts.
    for t in [
        "Unpack the site shipped with the playbook",
        "Run the setup script once",
    ] {
        assert_eq!(
            p.get(t).map(String::as_str),
            Some("may-change"),
            "{t}: {p:?}"
        );
    }
    assert_eq!(
        p.get("Unpack with creates").map(String::as_str),
        Some("changed"),
        "{p:?}"
    );

    let first = apply_json(dir.path(), pb, &inv, &extra);
    assert_eq!(first.code, 0, "{}\n{}", first.stdout, first.stderr);
    let a = statuses(&first, &host);
    for t in [
        "Download over http",
        "Download a local file into a directory",
        "Unpack the release on the host",
        "Unpack the site shipped with the playbook",
        "Unpack with creates",
        "Run the setup script once",
        "Tree owned by www-data, group-readable",
        "Debian key as a keyring",
        "A disabled deb822 source",
        "Record what find saw",
    ] {
        assert_eq!(a.get(t).map(String::as_str), Some("changed"), "{t}: {a:?}");
    }
    for t in [
        "Wait for the file server",
        "Wait for its ready file",
        "Old error logs",
    ] {
        assert_eq!(a.get(t).map(String::as_str), Some("ok"), "{t}: {a:?}");
    }

    // The host, read over ssh.
    assert_eq!(Hosts::sh(k, "cat /opt/payload.txt"), "payload");
    assert_eq!(Hosts::sh(k, "stat -c %a /opt/payload.txt"), "640");
    assert_eq!(
        Hosts::sh(k, "stat -c '%a %U' /opt/ready; cat /opt/ready"),
        "640 root\nserving files"
    );
    assert_eq!(
        Hosts::sh(k, "cat /srv/app/README; /srv/app/bin/run"),
        "hi\nrun"
    );
    assert_eq!(
        Hosts::sh(k, "cat /srv/site/index.html /srv/site/css/a.css"),
        "<h1>site</h1>\nh1{}"
    );
    assert_eq!(Hosts::sh(k, "cat /srv/other/app-1.0/README"), "hi");
    assert_eq!(Hosts::sh(k, "cat /srv/found.txt"), "1 /var/log/myapp/a.log");
    assert_eq!(Hosts::sh(k, "cat /srv/hello.out"), "first|two words");
    assert_eq!(
        Hosts::sh(
            k,
            "stat -c '%n %a %U' /srv/tree/f1 /srv/tree/sub /srv/tree/sub/f2"
        ),
        "/srv/tree/f1 640 www-data\n/srv/tree/sub 750 www-data\n/srv/tree/sub/f2 750 www-data"
    );
    assert_eq!(
        Hosts::sh(
            k,
            "cmp /usr/share/keyrings/debian-archive-bookworm-stable.gpg /etc/apt/keyrings/bookworm-test.gpg && echo same"
        ),
        "same"
    );
    assert_eq!(
        Hosts::sh(k, "cat /etc/apt/sources.list.d/example-repo.sources"),
        "Components: main contrib\nEnabled: no\nX-Repolib-Name: Example Repo\n\
         Signed-By: /etc/apt/keyrings/example-repo.gpg\nSuites: bookworm\nTypes: deb\n\
         URIs: http://deb.example.invalid/debian"
    );

    // Converged: the second run changes nothing; the plan too, but for the archive that is
    // only on the control machine (compared when applied).
    let second = apply_json(dir.path(), pb, &inv, &extra);
    assert_eq!(second.code, 0, "{}\n{}", second.stdout, second.stderr);
    let a = statuses(&second, &host);
    let changed: Vec<_> = a.iter().filter(|(_, s)| *s != "ok").collect();
    assert!(changed.is_empty(), "second run: {a:?}");
    let plan = playbook(dir.path(), "plan", pb, &inv, &args);
    let p = statuses(&plan, &host);
    let not_ok: Vec<_> = p.iter().filter(|(_, s)| *s != "ok").collect();
    assert_eq!(
        not_ok,
        [(
            &"Unpack the site shipped with the playbook".to_string(),
            &"may-change".to_string()
        )],
        "{p:?}"
    );

    // Drift: an edited file of the release is put back, a file deleted from the site too.
    Hosts::sh(k, "echo changed > /srv/app/README; rm /srv/site/css/a.css");
    let plan = playbook(dir.path(), "plan", pb, &inv, &args);
    let p = statuses(&plan, &host);
    assert_eq!(
        p.get("Unpack the release on the host").map(String::as_str),
        Some("changed")
    );
    let third = apply_json(dir.path(), pb, &inv, &extra);
    let a = statuses(&third, &host);
    assert_eq!(
        a.get("Unpack the release on the host").map(String::as_str),
        Some("changed")
    );
    assert_eq!(
        a.get("Unpack the site shipped with the playbook")
            .map(String::as_str),
        Some("changed")
    );
    assert_eq!(
        Hosts::sh(k, "cat /srv/app/README /srv/site/css/a.css"),
        "hi\nh1{}"
    );
}
