//! Every module in one table: the names a task may use for it, the arguments it takes, which
//! of them it needs, whether it takes free-form text, and how it is built from its rendered
//! arguments. Adding a module is its own file plus one row here.

use super::args::{Args, Getter};
use super::mark::Mark;
use super::*;
use crate::error::{Error, Result, suggest};

/// One module's row.
pub(crate) struct Spec {
    /// The canonical name (the one the engine and the reports use).
    pub(crate) name: &'static str,
    /// Other names listed among the modules (and suggested for a typo).
    pub(crate) listed: &'static [&'static str],
    /// Other names accepted but not listed: Ansible's old names and collection names.
    pub(crate) aliases: &'static [&'static str],
    /// The arguments it accepts; `_raw` is the free-form text of `command: ls -l`.
    pub(crate) args: &'static [&'static str],
    /// Arguments it needs: at least one key of each group, named in the error as the second.
    pub(crate) required: &'static [(&'static [&'static str], &'static str)],
    /// Whether `module: some text` is its free-form argument.
    pub(crate) free_form: bool,
    /// What the engine must know of it before building it (see `Mark`).
    pub(crate) marks: &'static [Mark],
    /// Its action from its rendered arguments.
    pub(crate) build: fn(&Getter, &BuildCtx) -> Result<Action>,
}

fn module(m: impl Module + 'static) -> Result<Action> {
    Ok(Action::Module(std::sync::Arc::new(m)))
}

// One row per module, kept compact by hand: the table is the point.
#[rustfmt::skip]
const MODULES: &[Spec] = &[
    Spec {
        name: "apt", listed: &[], aliases: &[],
        marks: &[Mark::Returns(returns::APT)],
        args: &["name", "pkg", "package", "state", "update_cache", "cache_valid_time",
            "install_recommends", "purge", "lock_timeout"],
        required: &[(&["name", "pkg", "package", "update_cache"], "name")],
        free_form: false, build: |a, _| module(apt::Apt::build(a)?),
    },
    Spec {
        name: "file", listed: &[], aliases: &[],
        marks: &[Mark::Returns(returns::FILE)],
        args: &["path", "dest", "name", "state", "mode", "owner", "group", "src", "force",
            "recurse"],
        required: &[(&["path", "dest", "name"], "path")],
        free_form: false, build: |a, _| module(file::File::build(a)?),
    },
    Spec {
        name: "copy", listed: &[], aliases: &[],
        marks: &[Mark::Returns(returns::COPY)],
        args: &["src", "content", "dest", "mode", "owner", "group", "backup", "validate",
            "validate_in_place", "force", "directory_mode", "remote_src"],
        required: &[(&["src", "content"], "src` or `content"), (&["dest"], "dest")],
        free_form: false, build: |a, ctx| if a.bool("remote_src", false)? {
            module(copy_remote::RemoteCopy::build(a)?)
        } else {
            module(copy::Copy::build(a, ctx, false)?)
        },
    },
    Spec {
        name: "template", listed: &[], aliases: &[],
        marks: &[Mark::Returns(returns::COPY)],
        args: &["src", "dest", "mode", "owner", "group", "backup", "validate",
            "validate_in_place", "force"],
        required: &[(&["dest"], "dest"), (&["src"], "src")],
        free_form: false, build: |a, ctx| module(copy::Copy::build(a, ctx, true)?),
    },
    Spec {
        name: "lineinfile", listed: &[], aliases: &[],
        marks: &[Mark::Returns(returns::LINEINFILE)],
        args: &["path", "dest", "name", "line", "regexp", "state", "insertafter", "insertbefore",
            "create", "backup", "mode", "owner", "group", "validate"],
        required: &[(&["path", "dest", "name"], "path")],
        free_form: false, build: |a, _| module(lineinfile::LineInFile::build(a)?),
    },
    Spec {
        name: "stat", listed: &[], aliases: &[],
        marks: &[Mark::Returns(returns::STAT)],
        args: &["path", "get_checksum", "checksum_algorithm"],
        required: &[(&["path"], "path")],
        free_form: false, build: |a, _| module(stat::Stat::build(a)?),
    },
    Spec {
        name: "user", listed: &[], aliases: &[],
        marks: &[Mark::Returns(returns::USER)],
        args: &["name", "state", "uid", "group", "groups", "append", "shell", "home",
            "create_home", "createhome", "system", "comment", "remove", "force", "password",
            "update_password", "generate_ssh_key", "ssh_key_bits", "ssh_key_type",
            "ssh_key_file", "ssh_key_comment", "ssh_key_passphrase"],
        required: &[(&["name"], "name")],
        free_form: false, build: |a, _| module(user::User::build(a)?),
    },
    Spec {
        name: "authorized_key", listed: &[], aliases: &["ansible.posix.authorized_key"],
        marks: &[],
        args: &["user", "key", "state", "exclusive", "path", "manage_dir"],
        required: &[(&["user"], "user"), (&["key"], "key")],
        free_form: false, build: |a, _| module(authorized_key::AuthorizedKey::build(a)?),
    },
    Spec {
        name: "group", listed: &[], aliases: &[],
        marks: &[Mark::Returns(returns::GROUP)],
        args: &["name", "state", "gid", "system"],
        required: &[(&["name"], "name")],
        free_form: false, build: |a, _| module(group::Group::build(a)?),
    },
    Spec {
        name: "systemd_service", listed: &["service"], aliases: &["systemd"],
        marks: &[Mark::Returns(returns::SERVICE)],
        args: &["name", "state", "enabled", "daemon_reload", "sleep"],
        required: &[(&["name", "daemon_reload"], "name")],
        free_form: false, build: |a, _| module(service::Service::build(a)?),
    },
    Spec {
        name: "command", listed: &[], aliases: &[],
        marks: &[Mark::RunsInPlan, Mark::Returns(returns::COMMAND)],
        args: &["_raw", "cmd", "argv", "chdir", "creates", "removes"],
        required: &[(&["_raw", "cmd", "argv"], "cmd")],
        free_form: true, build: |a, _| module(command::Command::build(a, false)?),
    },
    Spec {
        name: "shell", listed: &[], aliases: &[],
        marks: &[Mark::RunsInPlan, Mark::Returns(returns::COMMAND)],
        args: &["_raw", "cmd", "chdir", "creates", "removes", "executable"],
        required: &[(&["_raw", "cmd"], "cmd")],
        free_form: true, build: |a, _| module(command::Command::build(a, true)?),
    },
    Spec {
        name: "uri", listed: &[], aliases: &[],
        marks: &[Mark::RunsInPlan],
        args: &["url", "method", "status_code", "return_content", "timeout", "headers",
            "validate_certs", "ca_path", "body", "body_format", "follow_redirects"],
        required: &[(&["url"], "url")],
        free_form: false, build: |a, ctx| module(uri::Uri::build(a, ctx.base_dir())?),
    },
    Spec {
        name: "debug", listed: &[], aliases: &[],
        marks: &[Mark::PrintsOnly, Mark::Expressions(&["var"])],
        args: &["msg", "var", "verbosity"],
        required: &[],
        free_form: false, build: Action::debug,
    },
    Spec {
        name: "fail", listed: &[], aliases: &[],
        marks: &[],
        args: &["msg"],
        required: &[],
        free_form: false, build: Action::fail,
    },
    Spec {
        name: "assert", listed: &[], aliases: &[],
        marks: &[Mark::Expressions(&["that"])],
        args: &["that", "msg", "fail_msg", "success_msg", "quiet"],
        required: &[(&["that"], "that")],
        free_form: false, build: Action::assert,
    },
    Spec {
        name: "meta", listed: &[], aliases: &[],
        marks: &[Mark::SteersPlay],
        args: &["_raw"],
        required: &[(&["_raw"], "flush_handlers")],
        free_form: true, build: Action::meta,
    },
    Spec {
        name: "blockinfile", listed: &[], aliases: &[],
        marks: &[],
        args: &["path", "dest", "destfile", "name", "block", "content", "marker", "marker_begin",
            "marker_end", "insertafter", "insertbefore", "state", "create", "backup", "mode",
            "owner", "group", "validate", "append_newline", "prepend_newline"],
        required: &[(&["path", "dest", "destfile", "name"], "path")],
        free_form: false, build: |a, _| module(blockinfile::BlockInFile::build(a)?),
    },
    Spec {
        name: "replace", listed: &[], aliases: &[],
        marks: &[],
        args: &["path", "dest", "destfile", "name", "regexp", "replace", "after", "before",
            "backup", "mode", "owner", "group", "validate"],
        required: &[(&["path", "dest", "destfile", "name"], "path"), (&["regexp"], "regexp")],
        free_form: false, build: |a, _| module(replace::Replace::build(a)?),
    },
    Spec {
        name: "cron", listed: &[], aliases: &[],
        marks: &[],
        args: &["name", "job", "value", "minute", "hour", "day", "month", "weekday",
            "special_time", "user", "state", "disabled", "env", "cron_file", "backup",
            "insertafter", "insertbefore"],
        required: &[],
        free_form: false, build: |a, _| module(cron::Cron::build(a)?),
    },
    Spec {
        name: "git", listed: &[], aliases: &[],
        marks: &[Mark::Returns(returns::GIT)],
        args: &["repo", "name", "dest", "version", "force", "update", "clone", "depth",
            "single_branch", "recursive", "remote", "accept_hostkey", "accept_newhostkey",
            "key_file", "ssh_opts"],
        required: &[(&["repo", "name"], "repo"), (&["dest"], "dest")],
        free_form: false, build: |a, _| module(git::Git::build(a)?),
    },
    Spec {
        name: "pip", listed: &[], aliases: &[],
        marks: &[],
        args: &["name", "version", "requirements", "virtualenv", "virtualenv_command",
            "virtualenv_python", "virtualenv_site_packages", "state", "extra_args", "chdir",
            "executable"],
        required: &[(&["name", "requirements"], "name` or `requirements")],
        free_form: false, build: |a, _| module(pip::Pip::build(a)?),
    },
    Spec {
        name: "apt_repository", listed: &[], aliases: &[],
        marks: &[],
        args: &["repo", "state", "filename", "update_cache", "update-cache", "mode", "codename",
            "validate_certs", "install_python_apt"],
        required: &[(&["repo"], "repo")],
        free_form: false, build: |a, _| module(apt_repository::AptRepository::build(a)?),
    },
    Spec {
        name: "hostname", listed: &[], aliases: &[],
        marks: &[Mark::ReturnsFacts],
        args: &["name", "use"],
        required: &[(&["name"], "name")],
        free_form: false, build: |a, _| module(hostname::Hostname::build(a)?),
    },
    Spec {
        name: "sysctl", listed: &[], aliases: &["ansible.posix.sysctl"],
        marks: &[],
        args: &["name", "value", "state", "sysctl_file", "reload", "sysctl_set", "ignoreerrors"],
        required: &[(&["name"], "name")],
        free_form: false, build: |a, _| module(sysctl::Sysctl::build(a)?),
    },
    Spec {
        name: "ufw", listed: &[], aliases: &["community.general.ufw"],
        marks: &[],
        args: &["state", "default", "policy", "direction", "logging", "rule", "route", "insert",
            "delete", "log", "interface", "if", "interface_in", "if_in", "interface_out",
            "if_out", "from_ip", "from", "src", "from_port", "to_ip", "to", "dest", "to_port",
            "port", "proto", "protocol", "name", "app", "comment"],
        required: &[],
        free_form: false, build: |a, _| module(ufw::Ufw::build(a)?),
    },
    Spec {
        name: "timezone", listed: &[], aliases: &["community.general.timezone"],
        marks: &[],
        args: &["name", "hwclock"],
        required: &[],
        free_form: false, build: |a, _| module(timezone::Timezone::build(a)?),
    },
    Spec {
        name: "service_facts", listed: &[], aliases: &[],
        marks: &[Mark::ReturnsFacts],
        args: &[],
        required: &[],
        free_form: false, build: |_, _| module(service_facts::ServiceFacts),
    },
    Spec {
        name: "package_facts", listed: &[], aliases: &[],
        marks: &[Mark::ReturnsFacts],
        args: &["manager", "strategy"],
        required: &[],
        free_form: false, build: |a, _| module(package_facts::PackageFacts::build(a)?),
    },
    Spec {
        name: "pause", listed: &[], aliases: &[],
        marks: &[],
        args: &["seconds", "minutes", "prompt", "echo"],
        required: &[],
        free_form: false, build: |a, _| module(pause::Pause::build(a)?),
    },
    Spec {
        name: "reboot", listed: &[], aliases: &[],
        marks: &[],
        args: &["reboot_timeout", "connect_timeout", "test_command", "pre_reboot_delay",
            "post_reboot_delay", "msg", "search_paths", "boot_time_command", "reboot_command"],
        required: &[],
        free_form: false, build: |a, _| module(reboot::Reboot::build(a)?),
    },
    Spec {
        name: "locale_gen", listed: &[], aliases: &["community.general.locale_gen"],
        marks: &[],
        args: &["name", "state"],
        required: &[(&["name"], "name")],
        free_form: false, build: |a, _| module(locale_gen::LocaleGen::build(a)?),
    },
    Spec {
        name: "mount", listed: &[], aliases: &["ansible.posix.mount"],
        marks: &[],
        args: &["path", "name", "src", "fstype", "opts", "dump", "passno", "state", "fstab",
            "boot"],
        required: &[(&["path", "name"], "path"), (&["state"], "state")],
        free_form: false, build: |a, _| module(mount::Mount::build(a)?),
    },
    Spec {
        name: "django_manage", listed: &[], aliases: &["community.general.django_manage"],
        marks: &[],
        args: &["command", "project_path", "app_path", "chdir", "settings", "virtualenv",
            "virtual_env", "pythonpath", "python_path", "database", "fixtures", "apps", "link",
            "clear"],
        required: &[
            (&["command"], "command"),
            (&["project_path", "app_path", "chdir"], "project_path"),
        ],
        free_form: false, build: |a, _| module(django_manage::DjangoManage::build(a)?),
    },
    Spec {
        name: "mysql_db", listed: &[], aliases: &["community.mysql.mysql_db"],
        marks: &[],
        args: &["name", "state", "encoding", "collation", "login_user", "login_password",
            "login_host", "login_port", "login_unix_socket"],
        required: &[(&["name"], "name")],
        free_form: false, build: |a, _| module(mysql_db::MysqlDb::build(a)?),
    },
    Spec {
        name: "mysql_user", listed: &[], aliases: &["community.mysql.mysql_user"],
        marks: &[],
        args: &["name", "user", "host", "password", "encrypted", "update_password", "priv",
            "append_privs", "state", "login_user", "login_password", "login_host", "login_port",
            "login_unix_socket"],
        required: &[(&["name", "user"], "name")],
        free_form: false, build: |a, _| module(mysql_user::MysqlUser::build(a)?),
    },
    Spec {
        name: "postgresql_db", listed: &[], aliases: &["community.postgresql.postgresql_db"],
        marks: &[],
        args: &["name", "db", "state", "owner", "encoding", "lc_collate", "lc_ctype", "template",
            "login_user", "login_password", "login_host", "login_db", "port", "login_port",
            "login_unix_socket", "session_role"],
        required: &[(&["name", "db"], "name")],
        free_form: false, build: |a, _| module(postgresql_db::PostgresqlDb::build(a)?),
    },
    Spec {
        name: "postgresql_user", listed: &[], aliases: &["community.postgresql.postgresql_user"],
        marks: &[],
        args: &["name", "user", "password", "role_attr_flags", "priv", "db", "state",
            "no_password_changes", "login_user", "login_password", "login_host", "port",
            "login_port", "login_unix_socket", "encrypted", "session_role"],
        required: &[(&["name", "user"], "name")],
        free_form: false, build: |a, _| module(postgresql_user::PostgresqlUser::build(a)?),
    },
    Spec {
        name: "supervisorctl", listed: &[], aliases: &["community.general.supervisorctl"],
        marks: &[],
        args: &["name", "state", "config", "server_url", "username", "password",
            "supervisorctl_path", "stop_before_removing"],
        required: &[(&["name"], "name"), (&["state"], "state")],
        free_form: false, build: |a, _| module(supervisorctl::Supervisorctl::build(a)?),
    },
    Spec {
        name: "postgresql_privs", listed: &[], aliases: &["community.postgresql.postgresql_privs"],
        marks: &[],
        args: &["db", "database", "privs", "priv", "type", "objs", "obj", "schema", "roles", "role",
            "state", "login_user", "login_password", "login_host", "login_db", "port", "login_port",
            "login_unix_socket", "session_role", "fail_on_role", "grant_option", "target_roles"],
        required: &[(&["roles", "role"], "roles"), (&["privs", "priv"], "privs")],
        free_form: false, build: |a, _| module(postgresql_privs::PostgresqlPrivs::build(a)?),
    },
    Spec {
        name: "get_url", listed: &[], aliases: &[],
        marks: &[Mark::Returns(returns::GET_URL)],
        args: &["url", "dest", "checksum", "mode", "owner", "group", "force", "headers", "timeout",
            "validate_certs", "url_username", "url_password", "force_basic_auth", "use_proxy"],
        required: &[(&["url"], "url"), (&["dest"], "dest")],
        free_form: false, build: |a, _| module(get_url::GetUrl::build(a)?),
    },
    Spec {
        name: "unarchive", listed: &[], aliases: &[],
        marks: &[],
        args: &["src", "dest", "remote_src", "copy", "creates", "extra_opts", "owner", "group",
            "mode", "exclude", "include", "keep_newer", "list_files", "decrypt",
            "validate_certs", "headers", "timeout", "url_username", "url_password"],
        required: &[(&["dest"], "dest"), (&["src"], "src")],
        free_form: false, build: |a, ctx| module(unarchive::Unarchive::build(a, ctx)?),
    },
    Spec {
        name: "find", listed: &[], aliases: &[],
        marks: &[],
        args: &["paths", "path", "name", "patterns", "pattern", "excludes", "exclude",
            "use_regex", "file_type", "recurse", "depth", "hidden", "follow", "age", "age_stamp",
            "size", "contains", "get_checksum"],
        required: &[(&["paths", "path", "name"], "paths")],
        free_form: false, build: |a, _| module(find::Find::build(a)?),
    },
    Spec {
        name: "wait_for", listed: &[], aliases: &[],
        marks: &[],
        args: &["host", "port", "path", "state", "search_regex", "timeout", "delay", "sleep",
            "connect_timeout", "msg", "active_connection_states"],
        required: &[],
        free_form: false, build: |a, _| module(wait_for::WaitFor::build(a)?),
    },
    Spec {
        name: "script", listed: &[], aliases: &[],
        marks: &[],
        args: &["_raw", "cmd", "chdir", "creates", "removes", "executable"],
        required: &[(&["_raw", "cmd"], "cmd")],
        free_form: true, build: |a, ctx| module(script::Script::build(a, ctx)?),
    },
    Spec {
        name: "deb822_repository", listed: &[], aliases: &[],
        marks: &[],
        args: &["name", "state", "types", "uris", "suites", "components", "signed_by",
            "architectures", "enabled", "allow_downgrade_to_insecure", "allow_insecure",
            "allow_weak", "by_hash", "check_date", "check_valid_until", "date_max_future",
            "inrelease_path", "languages", "pdiffs", "targets", "trusted", "mode",
            "install_python_debian"],
        required: &[(&["name"], "name")],
        free_form: false,
        build: |a, _| module(deb822_repository::Deb822Repository::build(a)?),
    },
    Spec {
        name: "apt_key", listed: &[], aliases: &[],
        marks: &[],
        args: &["id", "url", "data", "file", "keyring", "keyserver", "state", "validate_certs"],
        required: &[],
        free_form: false, build: |a, _| module(apt_key::AptKey::build(a)?),
    },
    Spec {
        name: "package", listed: &[], aliases: &[],
        marks: &[],
        args: package::ARGS,
        required: &[(&["name"], "name")],
        free_form: false, build: |a, _| package::build(a),
    },
    Spec {
        name: "setup", listed: &[], aliases: &[],
        marks: &[Mark::ReturnsFacts],
        args: &["gather_subset", "filter", "gather_timeout", "fact_path"],
        required: &[],
        free_form: false, build: |a, _| module(setup::Setup::build(a)?),
    },
    // Engine actions: variables for the host's later tasks.
    Spec {
        name: "set_fact", listed: &[], aliases: &[],
        marks: &[Mark::SetsVars(|a, _, _| set_fact::names(&a.map))],
        // Any variable names (see `check_arg_names`).
        args: &[],
        required: &[],
        free_form: false,
        build: |a, _| Ok(Action::SetFact(set_fact::SetFact::build(a.map(), a)?)),
    },
    Spec {
        name: "include_vars", listed: &[], aliases: &[],
        marks: &[Mark::SetsVars(include_vars::static_names)],
        args: &["_raw", "file", "dir", "name", "depth", "files_matching", "ignore_files",
            "extensions", "ignore_unknown_extensions", "hash_behaviour"],
        required: &[],
        free_form: true,
        build: |a, ctx| {
            let iv = include_vars::IncludeVars::build(a, ctx.base_dir(), ctx.role_dir())?;
            Ok(Action::IncludeVars(iv))
        },
    },
];

/// A task's action, built from its rendered arguments by its module's row.
pub(crate) fn build(module: &str, rendered: Map<String, Value>, ctx: &BuildCtx) -> Result<Action> {
    let a = Getter::new(&rendered, ctx.args);
    match spec(module) {
        Some(spec) => (spec.build)(&a, ctx),
        None => unreachable!("module {module} passed check_args"),
    }
}

/// Every module's listed names, in the table's order.
pub(crate) fn names() -> Vec<&'static str> {
    MODULES
        .iter()
        .flat_map(|s| std::iter::once(s.name).chain(s.listed.iter().copied()))
        .collect()
}

/// The row for a task key: `ansible.builtin.` and `ansible.legacy.` prefixes and aliases resolved.
pub(crate) fn find(key: &str) -> Option<&'static Spec> {
    let k = key
        .strip_prefix("ansible.builtin.")
        .or_else(|| key.strip_prefix("ansible.legacy."))
        .unwrap_or(key);
    MODULES
        .iter()
        .find(|s| s.name == k || s.listed.contains(&k) || s.aliases.contains(&k))
}

/// The canonical module for a task key.
pub(crate) fn canonical(key: &str) -> Option<&'static str> {
    find(key).map(|s| s.name)
}

/// The row of a canonical module name.
pub(crate) fn spec(module: &str) -> Option<&'static Spec> {
    MODULES.iter().find(|s| s.name == module)
}

fn marks(module: &str) -> &'static [Mark] {
    spec(module).map_or(&[], |s| s.marks)
}

/// Whether `check_mode: false` may run the module in `plumb plan` (it only reads).
pub(crate) fn runs_in_plan(module: &str) -> bool {
    marks(module).iter().any(|m| matches!(m, Mark::RunsInPlan))
}

/// The modules that may run in `plumb plan`, for a hint: "`command`, `shell` or `uri`".
pub(crate) fn runs_in_plan_names() -> String {
    let names: Vec<String> = MODULES
        .iter()
        .filter(|s| runs_in_plan(s.name))
        .map(|s| format!("`{}`", s.name))
        .collect();
    match names.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

/// Whether the module may return facts.
pub(crate) fn returns_facts(module: &str) -> bool {
    marks(module)
        .iter()
        .any(|m| matches!(m, Mark::ReturnsFacts))
}

/// The fields the module's registered result may hold, if its row lists them.
pub(crate) fn returns(module: &str) -> Option<&'static [&'static str]> {
    marks(module).iter().find_map(|m| match m {
        Mark::Returns(f) => Some(*f),
        _ => None,
    })
}

/// Whether the module's argument `arg` is an expression (`assert`'s `that`), not a template.
pub(crate) fn is_expression(module: &str, arg: &str) -> bool {
    marks(module)
        .iter()
        .any(|m| matches!(m, Mark::Expressions(args) if args.contains(&arg)))
}

/// Whether the module only prints.
pub(crate) fn prints_only(module: &str) -> bool {
    marks(module).iter().any(|m| matches!(m, Mark::PrintsOnly))
}

/// Whether the module steers the play (`meta`).
pub(crate) fn steers_play(module: &str) -> bool {
    marks(module).iter().any(|m| matches!(m, Mark::SteersPlay))
}

/// Whether the module is the engine's own action: nothing of it runs on the host.
pub(crate) fn engine_only(module: &str) -> bool {
    prints_only(module) || steers_play(module) || sets_vars(module)
}

/// Whether the module sets variables for the host's later tasks.
pub(crate) fn sets_vars(module: &str) -> bool {
    marks(module).iter().any(|m| matches!(m, Mark::SetsVars(_)))
}

/// The variables a task defines for later tasks, as far as known before the run (none if its
/// module sets none).
pub(crate) fn defined_vars(
    module: &str,
    args: &Args,
    base: &Path,
    role: Option<&Path>,
) -> Vec<String> {
    marks(module)
        .iter()
        .flat_map(|m| match m {
            Mark::SetsVars(names) => names(args, base, role),
            _ => Vec::new(),
        })
        .collect()
}

pub(crate) fn takes_free_form(module: &str) -> bool {
    spec(module).is_some_and(|s| s.free_form)
}

/// Every argument is one the module takes (values are checked per host, once rendered).
pub(crate) fn check_arg_names(module: &str, args: &Args) -> Result<()> {
    // `set_fact` takes any variable names (checked when built).
    if module == "set_fact" {
        return match args.map.keys().any(|k| k != "cacheable") {
            true => Ok(()),
            false => Err(Error::input(
                args.loc.clone(),
                "`set_fact` needs at least one variable",
            )),
        };
    }
    let Some(spec) = spec(module) else {
        return Ok(());
    };
    let known = spec.args;
    let mut errors = Vec::new();
    for key in args.map.keys() {
        if !known.contains(&key.as_str()) {
            let mut e = Error::input(
                args.key_loc(key).clone(),
                format!("unknown argument `{key}` for module `{module}`"),
            );
            let names = known.iter().copied().filter(|k| *k != "_raw");
            e = match suggest(key, names.clone()) {
                Some(s) => e.with_hint(format!("did you mean `{s}`?")),
                None => e.with_hint(format!(
                    "`{module}` takes: {}",
                    names.collect::<Vec<_>>().join(", ")
                )),
            };
            if key == "_raw" {
                e = Error::input(
                    args.loc.clone(),
                    format!("`{module}` takes a mapping of arguments, not a plain string"),
                );
            }
            errors.push(e);
        }
    }
    if !errors.is_empty() {
        return Err(Error::many(errors));
    }
    Ok(())
}

/// The module has the arguments it needs (after `module_defaults`).
pub(crate) fn check_required(module: &str, args: &Args) -> Result<()> {
    let Some(spec) = spec(module) else {
        return Ok(());
    };
    let has_any = |any: &[&str]| any.iter().any(|k| args.map.contains_key(*k));
    if let Some((_, m)) = spec.required.iter().find(|(any, _)| !has_any(any)) {
        return Err(Error::input(
            args.loc.clone(),
            format!("`{module}` needs `{m}`"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_answer_for_their_rows_only() {
        assert_eq!(runs_in_plan_names(), "`command`, `shell` or `uri`");
        assert!(returns_facts("hostname") && !returns_facts("apt"));
        assert!(prints_only("debug") && !prints_only("fail"));
        assert!(steers_play("meta") && !steers_play("debug"));
        assert!(sets_vars("include_vars") && !sets_vars("stat"));
        assert!(returns("shell").is_some_and(|f| f.contains(&"delta")) && returns("uri").is_none());
        assert!(is_expression("assert", "that") && !is_expression("assert", "msg"));
        let file = std::sync::Arc::new(std::path::PathBuf::from("site.yml"));
        let args = Args {
            map: serde_json::json!({"x": 1, "cacheable": true})
                .as_object()
                .cloned()
                .unwrap_or_default(),
            locs: Default::default(),
            key_locs: Default::default(),
            loc: crate::location::Location::new(&file, 1, 1),
        };
        let here = Path::new(".");
        assert_eq!(defined_vars("set_fact", &args, here, None), ["x"]);
        assert!(defined_vars("copy", &args, here, None).is_empty());
    }

    #[test]
    fn every_name_resolves_to_one_row() {
        let mut seen = std::collections::HashSet::new();
        for s in MODULES {
            for n in std::iter::once(s.name)
                .chain(s.listed.iter().copied())
                .chain(s.aliases.iter().copied())
            {
                assert!(seen.insert(n), "{n} is named twice");
                assert_eq!(canonical(n), Some(s.name));
            }
            for (any, _) in s.required {
                assert!(
                    any.iter().all(|k| s.args.contains(k)),
                    "{}: {any:?}",
                    s.name
                );
            }
        }
        assert_eq!(
            canonical("ansible.builtin.service"),
            Some("systemd_service")
        );
        assert_eq!(canonical("nope"), None);
        assert!(names().contains(&"service") && !names().contains(&"systemd"));
    }
}
