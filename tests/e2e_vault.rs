//! Ansible Vault end to end on a real host over SSH: a playbook whose vars_files hold an
//! ansible-vault file and whose vars hold an inline `!vault` value writes both secrets into a
//! file through a template, with become; no output mode shows them; a second run changes nothing.

mod support;

use support::{Hosts, playbook};

const FILE_SECRET: &str = "pg-Secret-41x";
const INLINE_SECRET: &str = "tok-Secret-97y";

#[test]
fn vaulted_secrets_deploy_and_stay_hidden() {
    let k = 71;
    let _hosts = Hosts::up(&[k]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("pw"), "e2e vault password\n").unwrap();
    std::fs::create_dir_all(d.join("templates")).unwrap();
    std::fs::write(
        d.join("secrets.yml"),
        format!("vault_db_password: {FILE_SECRET}\n"),
    )
    .unwrap();
    let vault = |args: &[&str]| {
        let mut all = vec!["vault"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--vault-password-file", "pw"]);
        let r = support::plumb(d, &all);
        assert_eq!(r.code, 0, "{}", r.stderr);
        r.stdout
    };
    vault(&["encrypt", "secrets.yml"]);
    let inline = vault(&["encrypt_string", INLINE_SECRET, "--name", "api_token"]);
    std::fs::write(
        d.join("templates/app.env.j2"),
        "DB_PASSWORD={{ vault_db_password }}\nAPI_TOKEN={{ api_token }}\n",
    )
    .unwrap();
    std::fs::write(
        d.join("site.yml"),
        format!(
            "- hosts: all\n  become: true\n  vars_files: [secrets.yml]\n  vars:\n    {}\n  tasks:\n    - name: app env\n      template: {{src: app.env.j2, dest: /etc/app.env, mode: \"0600\"}}\n    - name: tell\n      debug: {{msg: \"token {{{{ api_token }}}}\"}}\n",
            inline.trim_end().replace('\n', "\n    ")
        ),
    )
    .unwrap();
    let inv = support::inventory(d, &[k], "deploy");
    let site = d.join("site.yml").display().to_string();
    let pw = ["--vault-password-file", "pw"];
    let hidden = |what: &str, r: &support::Run| {
        let all = format!("{}{}", r.stdout, r.stderr);
        for s in [FILE_SECRET, INLINE_SECRET] {
            assert!(!all.contains(s), "{what} shows a secret:\n{all}");
        }
    };

    let r = playbook(
        d,
        "plan",
        &site,
        &inv,
        &[&pw[..], &["--host-key-checking", "accept-new", "-vv"]].concat(),
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("+DB_PASSWORD=********"), "{}", r.stdout);
    hidden("plan -vv", &r);

    let r = playbook(
        d,
        "apply",
        &site,
        &inv,
        &[&pw[..], &["-v", "--diff"]].concat(),
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    hidden("apply -v --diff", &r);
    assert_eq!(
        Hosts::sh(k, "cat /etc/app.env; stat -c %a /etc/app.env"),
        format!("DB_PASSWORD={FILE_SECRET}\nAPI_TOKEN={INLINE_SECRET}\n600")
    );

    let r = playbook(
        d,
        "apply",
        &site,
        &inv,
        &[&pw[..], &["--output", "json"]].concat(),
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    hidden("apply json", &r);
    assert!(
        r.with_status(&format!("h{k}"), "changed").is_empty(),
        "{}",
        r.stdout
    );
    assert_eq!(r.task_msg(&format!("h{k}"), "tell"), "token ********");
}
