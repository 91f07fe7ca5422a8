//! Broken inputs are reported before any host is contacted (README: "Bad input stops the run
//! before any host is contacted").
//!
//! Each case is a folder under `tests/bad_input/`: a `site.yml`, optionally an
//! `inventory.ini` or `inventory.yml` (without one, a one-host `inventory.ini` is written),
//! any templates or files the playbook uses, and `expected.txt`: plumb's exact stderr.
//!
//! A case runs in a copy of its folder, with relative paths (`plumb validate site.yml -i
//! inventory.ini`), so the locations in `expected.txt` read `site.yml:4:7`. In every file
//! `@PORT@` stands for the port of a TCP listener the test holds; every inventory points its
//! hosts at `127.0.0.1:@PORT@`. Each case runs as `plumb validate`, `plumb plan` and `plumb
//! apply`, and each run must: print exactly `expected.txt` on stderr, nothing on stdout, exit
//! with the expected code (4 bad input, 5 bad command line), and leave the listener with no
//! connection.
//!
//! `BLESS=1 cargo test --test bad_input` rewrites the `expected.txt` files from plumb's
//! output; review the diff before keeping it.

use std::io::ErrorKind;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const DEFAULT_INVENTORY: &str = "h1 ansible_host=127.0.0.1 ansible_port=@PORT@\n";

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad_input")
}

/// One case, in the style of just's integration tests: defaults, then what differs.
struct Test {
    args: Vec<String>,
    status: i32,
}

impl Test {
    fn new() -> Test {
        Test {
            args: Vec::new(),
            status: 4,
        }
    }

    fn args(mut self, args: &[&str]) -> Test {
        self.args.extend(args.iter().map(|a| a.to_string()));
        self
    }

    fn status(mut self, status: i32) -> Test {
        self.status = status;
        self
    }

    fn run(self, case: &str) {
        for command in ["validate", "plan", "apply"] {
            self.run_one(case, command);
        }
    }

    fn run_one(&self, case: &str, command: &str) {
        let src = cases_dir().join(case);
        assert!(src.is_dir(), "no folder {}", src.display());
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a local port");
        listener.set_nonblocking(true).expect("non-blocking");
        let port = listener
            .local_addr()
            .expect("local addr")
            .port()
            .to_string();
        let tmp = tempfile::tempdir().expect("temp dir");
        let dir = tmp.path();
        let tmp_path = dir.display().to_string();
        copy_case(&src, dir, &port);
        let inventory = ["inventory.yml", "inventory.ini"]
            .into_iter()
            .find(|f| dir.join(f).exists())
            .unwrap_or_else(|| {
                let text = DEFAULT_INVENTORY.replace("@PORT@", &port);
                std::fs::write(dir.join("inventory.ini"), text).expect("write inventory");
                "inventory.ini"
            });

        let out = Command::new(env!("CARGO_BIN_EXE_plumb"))
            .current_dir(dir)
            .arg(command)
            .arg("site.yml")
            .args(["-i", inventory])
            // Should plumb connect after all, it must neither hang nor touch the user's files.
            .args(["--known-hosts", "known_hosts", "--timeout", "2"])
            .args(&self.args)
            .env("HOME", dir) // also keeps ~/.config/plumb/plumb.toml out
            .env("PLUMB_RETRY_DIR", dir)
            .env("NO_COLOR", "1")
            // Nothing from the caller's environment: no config file, agent or password.
            .env_remove("PLUMB_CONFIG")
            .env_remove("PLUMB_BECOME_PASS")
            .env_remove("SSH_AUTH_SOCK")
            .stdin(Stdio::null())
            .output()
            .expect("run plumb");

        let stderr = String::from_utf8_lossy(&out.stderr);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let expected_file = src.join("expected.txt");
        if std::env::var_os("BLESS").is_some() {
            let text = stderr.replace(&tmp_path, "@TMP@").replace(&port, "@PORT@");
            std::fs::write(&expected_file, text).expect("write expected.txt");
        }
        let expected = std::fs::read_to_string(&expected_file)
            .unwrap_or_else(|e| panic!("{}: {e}", expected_file.display()))
            .replace("@TMP@", &tmp_path)
            .replace("@PORT@", &port);

        let contacted = match listener.accept() {
            Ok((_, peer)) => Some(peer),
            Err(e) if e.kind() == ErrorKind::WouldBlock => None,
            Err(e) => panic!("accept: {e}"),
        };
        let what = format!("case {case}, `plumb {command}`");
        assert!(
            contacted.is_none(),
            "{what}: a host was contacted (from {contacted:?}); stderr:\n{stderr}"
        );
        assert!(
            stderr == expected,
            "{what}: stderr differs\n--- expected\n{expected}--- got\n{stderr}---"
        );
        assert_eq!(
            out.status.code(),
            Some(self.status),
            "{what}: exit status; stderr:\n{stderr}"
        );
        assert!(stdout.is_empty(), "{what}: stdout is not empty:\n{stdout}");
    }
}

/// Copies a case folder (without `expected.txt`), putting the listener's port for `@PORT@`.
fn copy_case(from: &Path, to: &Path, port: &str) {
    for entry in std::fs::read_dir(from).expect("read case folder") {
        let entry = entry.expect("dir entry");
        let path = entry.path();
        let target = to.join(entry.file_name());
        if path.is_dir() {
            std::fs::create_dir_all(&target).expect("mkdir");
            copy_case(&path, &target, port);
        } else if entry.file_name() != "expected.txt" {
            let text = std::fs::read_to_string(&path).expect("case files are text");
            std::fs::write(&target, text.replace("@PORT@", port)).expect("write case file");
        }
    }
}

/// One `#[test]` per case; the function's name is the case's folder.
macro_rules! cases {
    ($($name:ident: $test:expr,)*) => {
        $(
            #[test]
            fn $name() {
                $test.run(stringify!($name));
            }
        )*

        /// Every folder has a test, and every test a folder.
        #[test]
        fn every_case_folder_is_tested() {
            let mut tested = vec![$(stringify!($name)),*];
            tested.sort();
            let mut folders: Vec<String> = std::fs::read_dir(cases_dir())
                .expect("tests/bad_input")
                .map(|e| e.expect("dir entry").file_name().to_string_lossy().into_owned())
                .collect();
            folders.sort();
            assert_eq!(folders, tested);
        }
    };
}

cases! {
    // YAML itself.
    yaml_syntax: Test::new(),
    yaml_unquoted_template: Test::new(),

    // Wrong types.
    become_not_a_boolean: Test::new(),
    retries_not_a_number: Test::new(),
    tasks_not_a_list: Test::new(),

    // Unknown names, with a suggestion.
    unknown_module: Test::new(),
    unknown_task_key: Test::new(),
    unknown_module_argument: Test::new(),
    include_bare: Test::new(),
    keyword_not_yet: Test::new(),
    keywords_refused: Test::new(),
    module_defaults_unknown_argument: Test::new(),
    import_playbook_missing: Test::new(),
    with_unknown_lookup: Test::new(),
    action_unknown_module: Test::new(),

    // A plan never changes a host: `check_mode: false` only for what merely reads.
    check_mode_false_on_copy: Test::new(),

    // `meta: end_role` only in a role; `become_exe` names a program, no flags.
    end_role_outside_role: Test::new(),
    become_exe_with_flags: Test::new(),
    // `public: true` cannot be honoured by a role brought in before the run.
    include_role_public: Test::new(),

    // vars_files: a missing file at its entry, a broken one at its own line.
    vars_files_missing: Test::new(),
    vars_file_bad_yaml: Test::new(),

    // Task files: read and checked before the run, errors at their own lines.
    import_tasks_missing: Test::new(),
    import_tasks_error_inside: Test::new(),
    import_tasks_cycle: Test::new(),
    block_unknown_key: Test::new(),
    role_missing: Test::new(),
    role_template_missing: Test::new(),
    environment_bad_name: Test::new(),
    environment_undefined_var: Test::new(),
    environment_not_a_mapping: Test::new(),
    delegate_to_unknown_host: Test::new(),

    // Local files.
    copy_src_missing: Test::new(),
    template_src_missing: Test::new(),

    // Templates and expressions.
    undefined_var_in_playbook: Test::new(),
    undefined_var_in_template: Test::new(),
    undefined_var_in_block_scalar: Test::new(),
    when_bad_expression: Test::new(),
    when_undefined_name: Test::new(),
    when_unknown_test: Test::new(),
    loop_not_a_list: Test::new(),

    // Checked whatever `when`, a loop or a short-circuit says, as Jinja compiles them: syntax,
    // filters, tests; and a `register` name does not hide other tasks' errors.
    register_name_hides_nothing: Test::new(),
    register_reader_undefined_var: Test::new(),
    when_false_still_checked: Test::new(),
    when_false_module_argument: Test::new(),
    empty_loop_still_checked: Test::new(),
    loop_fourth_item_checked: Test::new(),
    when_unknown_filter: Test::new(),
    when_unknown_test_after_and: Test::new(),
    when_list_later_condition_broken: Test::new(),
    template_unknown_filter_in_false_branch: Test::new(),
    // A variable that does not render is an error where it is written, not literal text.
    var_template_broken: Test::new(),
    task_var_undefined: Test::new(),
    role_default_unknown_filter: Test::new(),
    // An `ansible_*` name no fact, connection or magic variable defines is undefined.
    fact_typo: Test::new(),
    fact_typo_in_ansible_facts: Test::new(),
    fact_not_gathered: Test::new(),
    fact_typo_in_template: Test::new(),
    // Also read from a host's entry in `hostvars`, before that host has run.
    fact_typo_through_hostvars: Test::new(),

    // Rollout and host selection.
    serial_bad: Test::new(),
    hosts_no_match: Test::new(),
    limit_no_match: Test::new().args(&["--limit", "wbe"]).status(5),
    limit_glob_no_match: Test::new().args(&["--limit", "db*"]).status(5),

    // Connection settings. The key file is an inventory variable: exit 4, at the inventory's
    // file:line:col where it is written (src/connection.rs `connection_check`).
    key_file_missing: Test::new(),

    // Handlers.
    handler_duplicate: Test::new(),
    notify_missing_handler: Test::new(),

    // Inventories.
    ini_inventory_syntax: Test::new(),
    ini_inventory_host_var: Test::new(),
    yaml_inventory_unknown_key: Test::new(),

    // The command line.
    extra_vars_not_key_value: Test::new().args(&["-e", "release"]).status(5),
    extra_vars_bad_mapping: Test::new().args(&["-e", "{release: [1, 2"]).status(5),

    // Many errors at once, in one report.
    several_errors_in_playbook: Test::new(),
    several_errors_found_by_validate: Test::new(),
}
