//! Modules, pyinfra-style: each turns its rendered arguments into an `Action`; an action names
//! the shell snippet that reads the host's state (its probe), and a pure `plan` that turns the
//! probe's output into the changes to make and the script that makes them. `plumb plan` and
//! `plumb apply` both go through `plan`, so they cannot disagree.

pub(crate) mod apt;
pub(crate) mod apt_repository;
pub(crate) mod args;
pub(crate) mod authorized_key;
pub(crate) mod blockinfile;
pub(crate) mod command;
pub(crate) mod copy;
pub(crate) mod cron;
pub(crate) mod django_manage;
pub(crate) mod file;
pub(crate) mod file_fact;
pub(crate) mod git;
pub(crate) mod group;
pub(crate) mod hostname;
pub(crate) mod include_vars;
pub(crate) mod lineinfile;
pub(crate) mod locale_gen;
pub(crate) mod mount;
pub(crate) mod mysql_db;
pub(crate) mod mysql_user;
pub(crate) mod package_facts;
pub(crate) mod pause;
pub(crate) mod pip;
pub(crate) mod postgresql_db;
pub(crate) mod postgresql_privs;
pub(crate) mod postgresql_user;
// Not registered yet: the engine must reconnect after the reboot (see `reboot::ENGINE`).
#[allow(dead_code)]
pub(crate) mod reboot;
pub(crate) mod replace;
pub(crate) mod safe_write;
pub(crate) mod service;
pub(crate) mod service_facts;
pub(crate) mod set_fact;
pub(crate) mod setup;
pub(crate) mod stat;
pub(crate) mod supervisorctl;
pub(crate) mod sysctl;
pub(crate) mod textfile;
pub(crate) mod timezone;
pub(crate) mod ufw;
pub(crate) mod uri;
pub(crate) mod user;

use crate::error::{Error, Result, suggest};
use crate::modules::args::Args;
use crate::template::Vars;
use args::Getter;
use serde_json::{Map, Value};
use std::path::Path;
use std::sync::Arc;

pub(crate) const NAMES: &[&str] = &[
    "apt",
    "file",
    "copy",
    "template",
    "lineinfile",
    "stat",
    "user",
    "authorized_key",
    "group",
    "systemd_service",
    "service",
    "command",
    "shell",
    "uri",
    "debug",
    "meta",
    "blockinfile",
    "replace",
    "cron",
    "git",
    "pip",
    "apt_repository",
    "hostname",
    "sysctl",
    "ufw",
    "timezone",
    "service_facts",
    "package_facts",
    "pause",
    "locale_gen",
    "mount",
    "django_manage",
    "mysql_db",
    "mysql_user",
    "postgresql_db",
    "postgresql_user",
    "supervisorctl",
    "postgresql_privs",
    "setup",
    "set_fact",
    "include_vars",
];

/// The canonical module for a task key: `ansible.builtin.` prefixes and aliases resolved.
pub(crate) fn canonical(key: &str) -> Option<&'static str> {
    let k = key
        .strip_prefix("ansible.builtin.")
        .or_else(|| key.strip_prefix("ansible.legacy."))
        .unwrap_or(key);
    Some(match k {
        "apt" => "apt",
        "file" => "file",
        "copy" => "copy",
        "template" => "template",
        "lineinfile" => "lineinfile",
        "stat" => "stat",
        "authorized_key" | "ansible.posix.authorized_key" => "authorized_key",
        "user" => "user",
        "group" => "group",
        "systemd_service" | "systemd" | "service" => "systemd_service",
        "command" => "command",
        "shell" => "shell",
        "uri" => "uri",
        "debug" => "debug",
        "meta" => "meta",
        "blockinfile" => "blockinfile",
        "replace" => "replace",
        "cron" => "cron",
        "git" => "git",
        "pip" => "pip",
        "apt_repository" => "apt_repository",
        "hostname" => "hostname",
        "sysctl" | "ansible.posix.sysctl" => "sysctl",
        "ufw" | "community.general.ufw" => "ufw",
        "timezone" | "community.general.timezone" => "timezone",
        "service_facts" => "service_facts",
        "setup" => "setup",
        "set_fact" => "set_fact",
        "include_vars" => "include_vars",
        "package_facts" => "package_facts",
        "pause" => "pause",
        "locale_gen" | "community.general.locale_gen" => "locale_gen",
        "mount" | "ansible.posix.mount" => "mount",
        "django_manage" | "community.general.django_manage" => "django_manage",
        "mysql_db" | "community.mysql.mysql_db" => "mysql_db",
        "mysql_user" | "community.mysql.mysql_user" => "mysql_user",
        "postgresql_db" | "community.postgresql.postgresql_db" => "postgresql_db",
        "postgresql_user" | "community.postgresql.postgresql_user" => "postgresql_user",
        "supervisorctl" | "community.general.supervisorctl" => "supervisorctl",
        "postgresql_privs" | "community.postgresql.postgresql_privs" => "postgresql_privs",
        _ => return None,
    })
}

pub(crate) fn takes_free_form(module: &str) -> bool {
    matches!(module, "command" | "shell" | "meta" | "include_vars")
}

/// Arguments each module accepts; `_raw` is the free-form text of `command: ls -l`.
fn spec(module: &str) -> &'static [&'static str] {
    match module {
        "apt" => &[
            "name",
            "pkg",
            "package",
            "state",
            "update_cache",
            "cache_valid_time",
            "install_recommends",
            "purge",
            "lock_timeout",
        ],
        "file" => &[
            "path", "dest", "name", "state", "mode", "owner", "group", "src", "force",
        ],
        "copy" => &[
            "src",
            "content",
            "dest",
            "mode",
            "owner",
            "group",
            "backup",
            "validate",
            "validate_in_place",
            "force",
            "directory_mode",
        ],
        "template" => &[
            "src",
            "dest",
            "mode",
            "owner",
            "group",
            "backup",
            "validate",
            "validate_in_place",
            "force",
        ],
        "systemd_service" => &["name", "state", "enabled", "daemon_reload"],
        "command" => &["_raw", "cmd", "argv", "chdir", "creates", "removes"],
        "shell" => &["_raw", "cmd", "chdir", "creates", "removes", "executable"],
        "uri" => &[
            "url",
            "method",
            "status_code",
            "return_content",
            "timeout",
            "headers",
            "validate_certs",
            "ca_path",
        ],
        "lineinfile" => &[
            "path",
            "dest",
            "name",
            "line",
            "regexp",
            "state",
            "insertafter",
            "insertbefore",
            "create",
            "backup",
            "mode",
            "owner",
            "group",
            "validate",
        ],
        "user" => &[
            "name",
            "state",
            "uid",
            "group",
            "groups",
            "append",
            "shell",
            "home",
            "create_home",
            "createhome",
            "system",
            "comment",
            "remove",
        ],
        "group" => &["name", "state", "gid", "system"],
        "stat" => &["path", "get_checksum", "checksum_algorithm"],
        "authorized_key" => &["user", "key", "state", "exclusive", "path", "manage_dir"],
        "debug" => &["msg", "var"],
        "meta" => &["_raw"],
        "blockinfile" => &[
            "path",
            "dest",
            "destfile",
            "name",
            "block",
            "content",
            "marker",
            "marker_begin",
            "marker_end",
            "insertafter",
            "insertbefore",
            "state",
            "create",
            "backup",
            "mode",
            "owner",
            "group",
            "validate",
            "append_newline",
            "prepend_newline",
        ],
        "replace" => &[
            "path", "dest", "destfile", "name", "regexp", "replace", "after", "before", "backup",
            "mode", "owner", "group", "validate",
        ],
        "cron" => &[
            "name",
            "job",
            "value",
            "minute",
            "hour",
            "day",
            "month",
            "weekday",
            "special_time",
            "user",
            "state",
            "disabled",
            "env",
            "cron_file",
            "backup",
            "insertafter",
            "insertbefore",
        ],
        "git" => &[
            "repo",
            "name",
            "dest",
            "version",
            "force",
            "update",
            "clone",
            "depth",
            "single_branch",
            "recursive",
            "remote",
            "accept_hostkey",
            "accept_newhostkey",
            "key_file",
            "ssh_opts",
        ],
        "pip" => &[
            "name",
            "version",
            "requirements",
            "virtualenv",
            "virtualenv_command",
            "virtualenv_python",
            "virtualenv_site_packages",
            "state",
            "extra_args",
            "chdir",
            "executable",
        ],
        "apt_repository" => &[
            "repo",
            "state",
            "filename",
            "update_cache",
            "update-cache",
            "mode",
            "codename",
            "validate_certs",
            "install_python_apt",
        ],
        "hostname" => &["name", "use"],
        "sysctl" => &[
            "name",
            "value",
            "state",
            "sysctl_file",
            "reload",
            "sysctl_set",
            "ignoreerrors",
        ],
        "timezone" => &["name", "hwclock"],
        "service_facts" => &[],
        "setup" => &["gather_subset", "filter", "gather_timeout", "fact_path"],
        "include_vars" => &[
            "_raw",
            "file",
            "dir",
            "name",
            "depth",
            "files_matching",
            "ignore_files",
            "extensions",
            "ignore_unknown_extensions",
            "hash_behaviour",
        ],
        "package_facts" => &["manager", "strategy"],
        "pause" => &["seconds", "minutes", "prompt", "echo"],
        "locale_gen" => &["name", "state"],
        "postgresql_privs" => &[
            "db",
            "database",
            "privs",
            "priv",
            "type",
            "objs",
            "obj",
            "schema",
            "roles",
            "role",
            "state",
            "login_user",
            "login_password",
            "login_host",
            "login_db",
            "port",
            "login_port",
        ],
        "supervisorctl" => &[
            "name",
            "state",
            "config",
            "server_url",
            "username",
            "password",
            "supervisorctl_path",
            "stop_before_removing",
        ],
        "postgresql_user" => &[
            "name",
            "user",
            "password",
            "role_attr_flags",
            "priv",
            "db",
            "state",
            "no_password_changes",
            "login_user",
            "login_password",
            "login_host",
            "port",
            "login_port",
        ],
        "postgresql_db" => &[
            "name",
            "db",
            "state",
            "owner",
            "encoding",
            "lc_collate",
            "lc_ctype",
            "template",
            "login_user",
            "login_password",
            "login_host",
            "login_db",
            "port",
            "login_port",
        ],
        "mysql_user" => &[
            "name",
            "user",
            "host",
            "password",
            "encrypted",
            "update_password",
            "priv",
            "append_privs",
            "state",
            "login_user",
            "login_password",
            "login_host",
            "login_port",
            "login_unix_socket",
        ],
        "mysql_db" => &[
            "name",
            "state",
            "encoding",
            "collation",
            "login_user",
            "login_password",
            "login_host",
            "login_port",
            "login_unix_socket",
        ],
        "django_manage" => &[
            "command",
            "project_path",
            "app_path",
            "chdir",
            "settings",
            "virtualenv",
            "virtual_env",
            "pythonpath",
            "python_path",
            "database",
            "fixtures",
            "apps",
            "link",
            "clear",
        ],
        "mount" => &[
            "path", "name", "src", "fstype", "opts", "dump", "passno", "state", "fstab", "boot",
        ],
        "ufw" => &[
            "state",
            "default",
            "policy",
            "direction",
            "logging",
            "rule",
            "route",
            "insert",
            "delete",
            "log",
            "interface",
            "if",
            "interface_in",
            "if_in",
            "interface_out",
            "if_out",
            "from_ip",
            "from",
            "src",
            "from_port",
            "to_ip",
            "to",
            "dest",
            "to_port",
            "port",
            "proto",
            "protocol",
            "name",
            "app",
            "comment",
        ],
        _ => &[],
    }
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
    let known = spec(module);
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
    let need = |any: &[&str]| any.iter().any(|k| args.map.contains_key(*k));
    let missing = match module {
        "apt" if !need(&["name", "pkg", "package", "update_cache"]) => Some("name"),
        "file" if !need(&["path", "dest", "name"]) => Some("path"),
        "copy" if !need(&["src", "content"]) => Some("src` or `content"),
        "copy" | "template" if !need(&["dest"]) => Some("dest"),
        "template" if !need(&["src"]) => Some("src"),
        "lineinfile" if !need(&["path", "dest", "name"]) => Some("path"),
        "user" | "group" if !need(&["name"]) => Some("name"),
        "stat" if !need(&["path"]) => Some("path"),
        "authorized_key" if !need(&["user"]) => Some("user"),
        "authorized_key" if !need(&["key"]) => Some("key"),
        "systemd_service" if !need(&["name", "daemon_reload"]) => Some("name"),
        "command" if !need(&["_raw", "cmd", "argv"]) => Some("cmd"),
        "shell" if !need(&["_raw", "cmd"]) => Some("cmd"),
        "uri" if !need(&["url"]) => Some("url"),
        "meta" if !need(&["_raw"]) => Some("flush_handlers"),
        "blockinfile" | "replace" if !need(&["path", "dest", "destfile", "name"]) => Some("path"),
        "replace" if !need(&["regexp"]) => Some("regexp"),
        "git" if !need(&["repo", "name"]) => Some("repo"),
        "git" if !need(&["dest"]) => Some("dest"),
        "pip" if !need(&["name", "requirements"]) => Some("name` or `requirements"),
        "apt_repository" if !need(&["repo"]) => Some("repo"),
        "hostname" if !need(&["name"]) => Some("name"),
        "sysctl" if !need(&["name"]) => Some("name"),
        "locale_gen" if !need(&["name"]) => Some("name"),
        "mount" if !need(&["path", "name"]) => Some("path"),
        "django_manage" if !need(&["command"]) => Some("command"),
        "mysql_db" if !need(&["name"]) => Some("name"),
        "mysql_user" if !need(&["name", "user"]) => Some("name"),
        "postgresql_db" if !need(&["name", "db"]) => Some("name"),
        "postgresql_user" if !need(&["name", "user"]) => Some("name"),
        "supervisorctl" if !need(&["name"]) => Some("name"),
        "postgresql_privs" if !need(&["roles", "role"]) => Some("roles"),
        "postgresql_privs" if !need(&["privs", "priv"]) => Some("privs"),
        "supervisorctl" if !need(&["state"]) => Some("state"),
        "django_manage" if !need(&["project_path", "app_path", "chdir"]) => Some("project_path"),
        "mount" if !need(&["state"]) => Some("state"),
        _ => None,
    };
    if let Some(m) = missing {
        return Err(Error::input(
            args.loc.clone(),
            format!("`{module}` needs `{m}`"),
        ));
    }
    Ok(())
}

/// Something on a host that a task reads or a change writes; used to decide which probes an
/// earlier change may have made stale.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Resource {
    Path(String),
    Unit(String),
    Package(String),
    /// A package install or an arbitrary command: may touch anything.
    All,
}

impl Resource {
    pub(crate) fn overlaps(&self, other: &Resource) -> bool {
        use Resource::*;
        match (self, other) {
            (All, _) | (_, All) => true,
            (Path(a), Path(b)) => path_within(a, b) || path_within(b, a),
            (Unit(a), Unit(b)) => a == b || a == "*" || b == "*",
            (Package(a), Package(b)) => a == b,
            _ => false,
        }
    }
}

fn path_within(inner: &str, outer: &str) -> bool {
    let outer = outer.trim_end_matches('/');
    inner == outer || outer.is_empty() || inner.starts_with(&format!("{outer}/"))
}

/// A file's new content, kept so a diff can be shown against what is on the host.
#[derive(Debug, Clone)]
pub(crate) struct ContentChange {
    pub(crate) path: String,
    pub(crate) new: Arc<Vec<u8>>,
    /// Whether the file exists now (no need to fetch it for a diff otherwise).
    pub(crate) exists: bool,
}

/// One thing that will change, in words a reviewer reads.
#[derive(Debug, Clone)]
pub(crate) struct Change {
    pub(crate) summary: String,
    pub(crate) content: Option<ContentChange>,
}

impl Change {
    pub(crate) fn new(summary: impl Into<String>) -> Change {
        Change {
            summary: summary.into(),
            content: None,
        }
    }
}

/// What applying a task does.
#[derive(Debug, Clone)]
pub(crate) enum Run {
    Nothing,
    /// A shell script run on the host; the task fails if it exits non-zero.
    Script(String),
    /// A user's command: always run; its rc and output are the task's result.
    Command(String),
    Http(uri::Request),
}

#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub(crate) changes: Vec<Change>,
    pub(crate) run: Run,
    /// What the changes may affect on the host (for re-probing later tasks).
    pub(crate) writes: Vec<Resource>,
    /// Outcome unknown until run (a command with no creates/removes).
    pub(crate) uncertain: bool,
    /// What the facts say, for the registered result (`stat`'s `stat`): known in a dry run too.
    pub(crate) result: Map<String, Value>,
    /// The unit this plan starts or restarts (a reload of a running unit does neither).
    pub(crate) starts: Option<String>,
}

impl Plan {
    pub(crate) fn ok() -> Plan {
        Plan {
            starts: None,
            changes: Vec::new(),
            run: Run::Nothing,
            writes: Vec::new(),
            uncertain: false,
            result: Default::default(),
        }
    }
}

/// A task's module with its arguments rendered for one host.
#[derive(Debug, Clone)]
pub(crate) enum Action {
    Apt(apt::Apt),
    File(file::File),
    Copy(copy::Copy),
    LineInFile(lineinfile::LineInFile),
    User(user::User),
    Stat(stat::Stat),
    AuthorizedKey(authorized_key::AuthorizedKey),
    Group(group::Group),
    Service(service::Service),
    Command(command::Command),
    Uri(uri::Uri),
    BlockInFile(blockinfile::BlockInFile),
    Replace(replace::Replace),
    Cron(cron::Cron),
    Git(git::Git),
    Pip(pip::Pip),
    AptRepository(apt_repository::AptRepository),
    Hostname(hostname::Hostname),
    Sysctl(sysctl::Sysctl),
    Ufw(ufw::Ufw),
    Timezone(timezone::Timezone),
    ServiceFacts(service_facts::ServiceFacts),
    Setup(setup::Setup),
    SetFact(set_fact::SetFact),
    IncludeVars(include_vars::IncludeVars),
    PackageFacts(package_facts::PackageFacts),
    Pause(pause::Pause),
    LocaleGen(locale_gen::LocaleGen),
    Mount(mount::Mount),
    DjangoManage(django_manage::DjangoManage),
    MysqlDb(mysql_db::MysqlDb),
    MysqlUser(mysql_user::MysqlUser),
    PostgresqlDb(postgresql_db::PostgresqlDb),
    PostgresqlUser(postgresql_user::PostgresqlUser),
    Supervisorctl(supervisorctl::Supervisorctl),
    PostgresqlPrivs(postgresql_privs::PostgresqlPrivs),
    Debug(String),
    FlushHandlers,
    Noop,
}

/// What building an action may read besides its arguments.
pub(crate) struct BuildCtx<'a> {
    /// Directory relative `src` paths resolve against (the playbook's).
    pub(crate) base_dir: &'a Path,
    /// The task's role, if any: searched first.
    pub(crate) role_dir: Option<&'a Path>,
    pub(crate) vars: &'a Vars,
    pub(crate) args: &'a Args,
}

impl Action {
    pub(crate) fn build(
        module: &str,
        rendered: Map<String, Value>,
        ctx: &BuildCtx,
    ) -> Result<Action> {
        let a = Getter::new(&rendered, ctx.args);
        Ok(match module {
            "apt" => Action::Apt(apt::Apt::build(&a)?),
            "file" => Action::File(file::File::build(&a)?),
            "copy" => Action::Copy(copy::Copy::build(&a, ctx, false)?),
            "template" => Action::Copy(copy::Copy::build(&a, ctx, true)?),
            "lineinfile" => Action::LineInFile(lineinfile::LineInFile::build(&a)?),
            "user" => Action::User(user::User::build(&a)?),
            "stat" => Action::Stat(stat::Stat::build(&a)?),
            "authorized_key" => Action::AuthorizedKey(authorized_key::AuthorizedKey::build(&a)?),
            "group" => Action::Group(group::Group::build(&a)?),
            "systemd_service" => Action::Service(service::Service::build(&a)?),
            "command" => Action::Command(command::Command::build(&a, false)?),
            "shell" => Action::Command(command::Command::build(&a, true)?),
            "uri" => Action::Uri(uri::Uri::build(&a, ctx.base_dir)?),
            "blockinfile" => Action::BlockInFile(blockinfile::BlockInFile::build(&a)?),
            "replace" => Action::Replace(replace::Replace::build(&a)?),
            "cron" => Action::Cron(cron::Cron::build(&a)?),
            "git" => Action::Git(git::Git::build(&a)?),
            "pip" => Action::Pip(pip::Pip::build(&a)?),
            "apt_repository" => Action::AptRepository(apt_repository::AptRepository::build(&a)?),
            "hostname" => Action::Hostname(hostname::Hostname::build(&a)?),
            "sysctl" => Action::Sysctl(sysctl::Sysctl::build(&a)?),
            "ufw" => Action::Ufw(ufw::Ufw::build(&a)?),
            "timezone" => Action::Timezone(timezone::Timezone::build(&a)?),
            "service_facts" => Action::ServiceFacts(service_facts::ServiceFacts),
            "setup" => Action::Setup(setup::Setup::build(&a)?),
            "set_fact" => Action::SetFact(set_fact::SetFact::build(&rendered, &a)?),
            "include_vars" => Action::IncludeVars(include_vars::IncludeVars::build(
                &a,
                ctx.base_dir,
                ctx.role_dir,
            )?),
            "package_facts" => Action::PackageFacts(package_facts::PackageFacts::build(&a)?),
            "pause" => Action::Pause(pause::Pause::build(&a)?),
            "locale_gen" => Action::LocaleGen(locale_gen::LocaleGen::build(&a)?),
            "mount" => Action::Mount(mount::Mount::build(&a)?),
            "django_manage" => Action::DjangoManage(django_manage::DjangoManage::build(&a)?),
            "mysql_db" => Action::MysqlDb(mysql_db::MysqlDb::build(&a)?),
            "mysql_user" => Action::MysqlUser(mysql_user::MysqlUser::build(&a)?),
            "postgresql_db" => Action::PostgresqlDb(postgresql_db::PostgresqlDb::build(&a)?),
            "supervisorctl" => Action::Supervisorctl(supervisorctl::Supervisorctl::build(&a)?),
            "postgresql_privs" => {
                Action::PostgresqlPrivs(postgresql_privs::PostgresqlPrivs::build(&a)?)
            }
            "postgresql_user" => {
                Action::PostgresqlUser(postgresql_user::PostgresqlUser::build(&a)?)
            }
            "debug" => {
                let msg = match (rendered.get("msg"), rendered.get("var")) {
                    (Some(Value::String(s)), _) => s.clone(),
                    (Some(v), _) => v.to_string(),
                    (None, Some(Value::String(name))) => {
                        let v = ctx.vars.map().get(name).cloned().unwrap_or(Value::Null);
                        format!("{name} = {v}")
                    }
                    _ => "Hello world!".into(),
                };
                Action::Debug(msg)
            }
            "meta" => match a.str("_raw")?.trim() {
                "flush_handlers" => Action::FlushHandlers,
                "noop" => Action::Noop,
                other => {
                    return Err(Error::input(
                        ctx.args.loc_of("_raw").clone(),
                        format!("`meta: {other}` is not supported"),
                    )
                    .with_hint("supported: flush_handlers, noop"));
                }
            },
            other => unreachable!("module {other} passed check_args"),
        })
    }

    /// The sh snippet whose output `plan` reads; None when the action needs no facts.
    pub(crate) fn probe(&self) -> Option<String> {
        match self {
            Action::Apt(a) => Some(a.probe()),
            Action::File(f) => Some(f.probe()),
            Action::Copy(c) => Some(c.probe()),
            Action::LineInFile(l) => Some(l.probe()),
            Action::User(u) => Some(u.probe()),
            Action::Stat(s) => Some(s.probe()),
            Action::AuthorizedKey(k) => Some(k.probe()),
            Action::Group(g) => Some(g.probe()),
            Action::Service(s) => Some(s.probe()),
            Action::Command(c) => c.probe(),
            Action::BlockInFile(b) => Some(b.probe()),
            Action::Replace(r) => Some(r.probe()),
            Action::Cron(c) => Some(c.probe()),
            Action::Git(g) => Some(g.probe()),
            Action::Pip(p) => Some(p.probe()),
            Action::AptRepository(r) => Some(r.probe()),
            Action::Hostname(h) => Some(h.probe()),
            Action::Sysctl(s) => Some(s.probe()),
            Action::Ufw(u) => Some(u.probe()),
            Action::Timezone(t) => Some(t.probe()),
            Action::ServiceFacts(s) => Some(s.probe()),
            Action::Setup(s) => Some(s.probe()),
            Action::PackageFacts(p) => Some(p.probe()),
            Action::LocaleGen(l) => Some(l.probe()),
            Action::Mount(m) => Some(m.probe()),
            Action::DjangoManage(d) => d.probe(),
            Action::MysqlDb(m) => Some(m.probe()),
            Action::MysqlUser(m) => Some(m.probe()),
            Action::PostgresqlDb(p) => Some(p.probe()),
            Action::PostgresqlUser(p) => Some(p.probe()),
            Action::Supervisorctl(s) => Some(s.probe()),
            Action::PostgresqlPrivs(p) => Some(p.probe()),
            _ => None,
        }
    }

    /// What on the host this action's probe looks at.
    pub(crate) fn reads(&self) -> Vec<Resource> {
        match self {
            Action::Apt(a) => a.reads(),
            Action::File(f) => vec![Resource::Path(f.path.clone())],
            Action::Copy(c) => vec![Resource::Path(c.dest.clone())],
            Action::LineInFile(l) => l.reads(),
            Action::User(u) => u.reads(),
            Action::Stat(s) => s.reads(),
            Action::AuthorizedKey(k) => k.reads(),
            Action::Group(g) => g.reads(),
            Action::Service(s) => s.reads(),
            Action::Command(c) => c.reads(),
            Action::BlockInFile(b) => b.reads(),
            Action::Replace(r) => r.reads(),
            Action::Cron(c) => c.reads(),
            Action::Git(g) => g.reads(),
            Action::Pip(p) => p.reads(),
            Action::AptRepository(r) => r.reads(),
            Action::Hostname(h) => h.reads(),
            Action::Sysctl(s) => s.reads(),
            Action::Ufw(u) => u.reads(),
            Action::Timezone(t) => t.reads(),
            Action::ServiceFacts(s) => s.reads(),
            Action::Setup(s) => s.reads(),
            Action::PackageFacts(p) => p.reads(),
            Action::LocaleGen(l) => l.reads(),
            Action::Mount(m) => m.reads(),
            Action::DjangoManage(d) => d.reads(),
            Action::MysqlDb(m) => m.reads(),
            Action::MysqlUser(m) => m.reads(),
            Action::PostgresqlDb(p) => p.reads(),
            Action::PostgresqlUser(p) => p.reads(),
            Action::Supervisorctl(s) => s.reads(),
            Action::PostgresqlPrivs(p) => p.reads(),
            _ => Vec::new(),
        }
    }

    /// Pure: the probe's output in, the plan out. An error means the facts could not be read
    /// or the action is impossible; it is never taken as "no change".
    pub(crate) fn plan(&self, facts: &str) -> std::result::Result<Plan, String> {
        match self {
            Action::Apt(a) => a.plan(facts),
            Action::File(f) => f.plan(facts),
            Action::Copy(c) => c.plan(facts),
            Action::LineInFile(l) => l.plan(facts),
            Action::User(u) => u.plan(facts),
            Action::Stat(s) => s.plan(facts),
            Action::AuthorizedKey(k) => k.plan(facts),
            Action::Group(g) => g.plan(facts),
            Action::Service(s) => s.plan(facts),
            Action::Command(c) => c.plan(facts),
            Action::BlockInFile(b) => b.plan(facts),
            Action::Replace(r) => r.plan(facts),
            Action::Cron(c) => c.plan(facts),
            Action::Git(g) => g.plan(facts),
            Action::Pip(p) => p.plan(facts),
            Action::AptRepository(r) => r.plan(facts),
            Action::Hostname(h) => h.plan(facts),
            Action::Sysctl(s) => s.plan(facts),
            Action::Ufw(u) => u.plan(facts),
            Action::Timezone(t) => t.plan(facts),
            Action::ServiceFacts(s) => s.plan(facts),
            Action::Setup(s) => s.plan(facts),
            Action::PackageFacts(p) => p.plan(facts),
            Action::Pause(p) => Ok(p.plan()),
            Action::LocaleGen(l) => l.plan(facts),
            Action::Mount(m) => m.plan(facts),
            Action::DjangoManage(d) => d.plan(facts),
            Action::MysqlDb(m) => m.plan(facts),
            Action::MysqlUser(m) => m.plan(facts),
            Action::PostgresqlDb(p) => p.plan(facts),
            Action::PostgresqlUser(p) => p.plan(facts),
            Action::Supervisorctl(s) => s.plan(facts),
            Action::PostgresqlPrivs(p) => p.plan(facts),
            Action::Uri(u) => Ok(Plan {
                run: Run::Http(u.request.clone()),
                ..Plan::ok()
            }),
            Action::Debug(_)
            | Action::FlushHandlers
            | Action::Noop
            | Action::SetFact(_)
            | Action::IncludeVars(_) => Ok(Plan::ok()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_overlap_on_path_prefixes() {
        let p = |s: &str| Resource::Path(s.into());
        assert!(p("/etc/nginx").overlaps(&p("/etc/nginx/conf.d/a.conf")));
        assert!(p("/etc/nginx/conf.d/a.conf").overlaps(&p("/etc/nginx")));
        assert!(!p("/etc/nginx2").overlaps(&p("/etc/nginx")));
        assert!(Resource::All.overlaps(&p("/x")));
        assert!(Resource::Unit("*".into()).overlaps(&Resource::Unit("nginx.service".into())));
        assert!(!Resource::Unit("a.service".into()).overlaps(&p("/etc")));
    }
}
