//! `--shard K/N` splits a run's hosts into slices that together cover every host once, and
//! `plumb recap` merges the slices' JSON results into one recap and one exit code. Run on the
//! control machine (`ansible_connection=local` hosts).

mod support;

use support::plumb;

fn project(hosts: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut inv = String::from("[web]\n");
    for i in 1..=hosts {
        inv.push_str(&format!("web{i} ansible_connection=local\n"));
    }
    std::fs::write(d.join("inv.ini"), inv).unwrap();
    std::fs::write(
        d.join("site.yml"),
        format!(
            "- hosts: web\n  tasks:\n    - name: mark\n      shell: echo {{{{ inventory_hostname }}}} >> {}/ran\n    - name: fail on web3\n      command: \"false\"\n      when: inventory_hostname == 'web3' and boom\n",
            d.display()
        ),
    )
    .unwrap();
    dir
}

#[test]
fn shards_cover_every_host_once_and_recap_merges_them() {
    let dir = project(7);
    let d = dir.path();
    let mut files = Vec::new();
    for k in 1..=3 {
        let shard = format!("{k}/3");
        let r = plumb(
            d,
            &[
                "apply",
                "site.yml",
                "-i",
                "inv.ini",
                "--shard",
                &shard,
                "--output",
                "json",
                "-e",
                "boom=false",
            ],
        );
        assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
        let n = r.json()["hosts"].as_array().unwrap().len();
        assert!((2..=3).contains(&n), "shard {shard} has {n} hosts");
        let f = d.join(format!("shard{k}.json"));
        std::fs::write(&f, &r.stdout).unwrap();
        files.push(f.display().to_string());
    }
    let mut ran: Vec<String> = std::fs::read_to_string(d.join("ran"))
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    ran.sort();
    let want: Vec<String> = {
        let mut w: Vec<String> = (1..=7).map(|i| format!("web{i}")).collect();
        w.sort();
        w
    };
    assert_eq!(ran, want, "every host ran exactly once");

    let mut args = vec!["recap"];
    args.extend(files.iter().map(String::as_str));
    let r = plumb(d, &args);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.starts_with("\nRECAP\n"), "{}", r.stdout);
    assert_eq!(r.stdout.lines().filter(|l| l.starts_with("web")).count(), 7);

    let mut json = args.clone();
    json.extend(["--output", "json"]);
    let r = plumb(d, &json);
    assert_eq!(r.json()["hosts"].as_array().unwrap().len(), 7);

    // The same slice twice is a mistake, not a bigger fleet.
    let r = plumb(d, &["recap", &files[0], &files[0]]);
    assert_eq!(r.code, 5);
    assert!(r.stderr.contains("is in both"), "{}", r.stderr);
}

#[test]
fn recap_exit_code_reflects_a_failed_host_in_any_slice() {
    let dir = project(4);
    let d = dir.path();
    let mut files = Vec::new();
    for k in 1..=2 {
        let shard = format!("{k}/2");
        let r = plumb(
            d,
            &[
                "apply",
                "site.yml",
                "-i",
                "inv.ini",
                "--shard",
                &shard,
                "--output",
                "json",
                "-e",
                "boom=true",
            ],
        );
        let f = d.join(format!("s{k}.json"));
        std::fs::write(&f, &r.stdout).unwrap();
        files.push(f.display().to_string());
    }
    let r = plumb(d, &["recap", &files[0], &files[1]]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("web3") && r.stdout.contains("FAILED"),
        "{}",
        r.stdout
    );
}
