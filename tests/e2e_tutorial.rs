//! The README's tutorial, run as written against a real test host, so it cannot rot.

mod support;

use std::process::Command;
use support::{Hosts, repo};

#[test]
fn readme_tutorial_works_as_written() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let start = readme
        .find("<!-- tutorial:start -->")
        .expect("tutorial start marker");
    let end = readme
        .find("<!-- tutorial:end -->")
        .expect("tutorial end marker");
    let block = &readme[start..end];
    let script = block
        .split_once("```sh\n")
        .and_then(|(_, rest)| rest.rsplit_once("```"))
        .map(|(code, _)| code)
        .expect("a sh block between the markers");

    let k = 61;
    let _hosts = Hosts::up(&[k]);
    let dir = tempfile::tempdir().unwrap();
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_plumb"));
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("bash")
        .args(["-euo", "pipefail", "-c", script])
        .current_dir(dir.path())
        .env("PATH", path)
        .env("HOME", dir.path())
        .env("NO_COLOR", "1")
        .env("HOST", Hosts::ip(k))
        .env("REMOTE_USER", "deploy")
        .env("KEY", Hosts::key())
        .env("PLUMB_REPO", repo())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the tutorial failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The last step really changed the host.
    assert_eq!(
        Hosts::sh(k, "grep '^processes' /etc/uwsgi/myproject.ini"),
        "processes = 4"
    );
}
