//! Modules, pyinfra-style: each turns its rendered arguments into an `Action`; an action names
//! the shell snippet that reads the host's state (its probe), and a pure `plan` that turns the
//! probe's output into the changes to make and the script that makes them. `plumb plan` and
//! `plumb apply` both go through `plan`, so they cannot disagree.

mod account_name;
pub(crate) mod apt;
pub(crate) mod apt_key;
pub(crate) mod apt_repository;
pub(crate) mod args;
pub(crate) mod assert;
pub(crate) mod authorized_key;
pub(crate) mod blockinfile;
mod build_ctx;
pub(crate) mod command;
pub(crate) mod copy;
pub(crate) mod copy_remote;
pub(crate) mod copy_remote_tree;
pub(crate) mod cron;
pub(crate) mod deb822_repository;
pub(crate) mod django_manage;
pub(crate) mod file;
pub(crate) mod file_fact;
pub(crate) mod file_mode;
pub(crate) mod file_set;
pub(crate) mod find;
pub(crate) mod get_url;
pub(crate) mod git;
pub(crate) mod group;
pub(crate) mod hostname;
pub(crate) mod include_vars;
pub(crate) mod lineinfile;
pub(crate) mod locale_gen;
mod mark;
pub(crate) mod mount;
pub(crate) mod mysql_db;
pub(crate) mod mysql_login;
pub(crate) mod mysql_user;
pub(crate) mod package;
pub(crate) mod package_facts;
pub(crate) mod pause;
pub(crate) mod pip;
pub(crate) mod postgresql_db;
pub(crate) mod postgresql_privs;
pub(crate) mod postgresql_user;
pub(crate) mod psql;
pub(crate) mod reboot;
pub(crate) mod reboot_wait;
pub(crate) mod registry;
pub(crate) mod replace;
pub(crate) mod returns;
pub(crate) mod safe_batch;
pub(crate) mod safe_write;
pub(crate) mod script;
pub(crate) mod script_said;
pub(crate) mod service;
pub(crate) mod service_facts;
pub(crate) mod set_fact;
pub(crate) mod setup;
mod source_files;
pub(crate) mod sql;
pub(crate) mod stat;
pub(crate) mod supervisorctl;
pub(crate) mod sysctl;
pub(crate) mod textfile;
pub(crate) mod timezone;
pub(crate) mod ufw;
pub(crate) mod unarchive;
pub(crate) mod uri;
pub(crate) mod user;
pub(crate) mod user_key;
pub(crate) mod wait_for;

use crate::error::{Error, Result};
use args::Getter;
pub(crate) use build_ctx::BuildCtx;
use serde_json::{Map, Value};
use std::path::Path;
use std::sync::Arc;

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
    Http(crate::http::Request),
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
    /// The same write as `run`, in a form a loop's batch can merge with the other items' (see
    /// safe_batch.rs); None for anything else.
    pub(crate) batch: Option<safe_batch::BatchOp>,
}

impl Plan {
    /// Changes made by a script that fails the task if it exits non-zero.
    pub(crate) fn script(changes: Vec<Change>, script: String, writes: Vec<Resource>) -> Plan {
        Plan {
            changes,
            run: Run::Script(script),
            writes,
            ..Plan::ok()
        }
    }

    pub(crate) fn ok() -> Plan {
        Plan {
            starts: None,
            changes: Vec::new(),
            run: Run::Nothing,
            writes: Vec::new(),
            uncertain: false,
            result: Default::default(),
            batch: None,
        }
    }
}

/// A module with its arguments rendered for one host: the snippet that reads the host's state,
/// what that snippet looks at, and the pure plan from its output.
pub(crate) trait Module: std::fmt::Debug + Send + Sync {
    /// The sh snippet whose output `plan` reads; None when the module needs no facts.
    fn probe(&self) -> Option<String>;

    /// What on the host the probe looks at.
    fn reads(&self) -> Vec<Resource>;

    /// Pure: the probe's output in, the plan out. An error means the facts could not be read
    /// or the action is impossible; it is never taken as "no change".
    fn plan(&self, facts: &str) -> std::result::Result<Plan, String>;

    /// How its probe merges with other tasks' into one round trip (see batch.rs).
    fn need(&self) -> Need {
        Need::Own
    }

    /// The unit a handler running this would restart or reload, if any: nothing to do when
    /// plumb itself started that unit after the change that notified the handler.
    fn restarts(&self) -> Option<&str> {
        None
    }

    /// The facts its probe would print once `plan` ran, when the module can tell: a loop's
    /// next item is planned on them without waiting for this one to be applied.
    fn after(&self, _facts: &str, _plan: &Plan) -> Option<String> {
        None
    }

    /// After its script the host restarts (`reboot`): how the engine waits for it to come
    /// back, from the probe's `facts` (see reboot_wait.rs).
    fn comes_back(&self, _facts: &str) -> Option<reboot_wait::Back> {
        None
    }
}

/// What one task's probe needs, in the form the batched probe merges.
pub(crate) enum Need {
    /// `stat` of these paths, and `sha256sum` of `sums`.
    Files {
        paths: Vec<String>,
        sums: Vec<String>,
    },
    /// `systemctl show` of one unit.
    Unit(String),
    /// The modification times of `paths` (as `stat --printf '%n\t%Y\n'` prints them for
    /// those that exist), read by the merged files `stat`; then its own snippet `rest`.
    Mtimes { paths: Vec<String>, rest: String },
    /// Anything else runs its own snippet.
    Own,
}

/// A module whose inherent `probe() -> String`, `reads()` and `plan(facts)` are the whole of it.
/// `plain_module!(T, need)`: and its inherent `need()` says how its probe merges.
macro_rules! plain_module {
    ($t:ty $(, $need:ident)?) => {
        impl $crate::modules::Module for $t {
            fn probe(&self) -> Option<String> {
                Some(<$t>::probe(self))
            }
            fn reads(&self) -> Vec<$crate::modules::Resource> {
                <$t>::reads(self)
            }
            fn plan(&self, facts: &str) -> std::result::Result<$crate::modules::Plan, String> {
                <$t>::plan(self, facts)
            }
            $(
                fn $need(&self) -> $crate::modules::Need {
                    <$t>::$need(self)
                }
            )?
        }
    };
}
pub(crate) use plain_module;

/// A task's action for one host.
#[derive(Debug, Clone)]
pub(crate) enum Action {
    Module(Arc<dyn Module>),
    // Engine actions, not modules: they touch nothing on the host; the engine acts on them
    // itself (prints a message, runs the notified handlers, or does nothing).
    /// `debug`: its message, and the `-v` count it needs to be shown (`verbosity`).
    Debug(String, u8),
    /// `fail`: the task fails with this message.
    Fail(String),
    /// `assert`: judged on the host's variables.
    Assert(assert::Assert),
    FlushHandlers,
    Noop,
    /// `meta: end_play`: the play ends, without failing, for every host.
    EndPlay,
    /// `meta: end_batch`: as `end_play`, for the hosts of this `serial` batch only.
    EndBatch,
    /// `meta: end_host`: the play ends for this host, which has not failed.
    EndHost,
    /// `meta: end_role`: the rest of the current role is skipped for this host.
    EndRole,
    /// `meta: clear_facts`: the host's gathered facts are forgotten.
    ClearFacts,
    /// `meta: reset_connection`: the host's connection is closed; the next task opens it again.
    ResetConnection,
    /// Variables for the host's later tasks.
    SetFact(set_fact::SetFact),
    IncludeVars(include_vars::IncludeVars),
}

impl Action {
    /// `debug`: its message, from `msg` or the variable named by `var`; with `verbosity: N`
    /// it is skipped unless plumb runs with at least N `-v`, as in Ansible.
    fn debug(a: &Getter, ctx: &BuildCtx) -> Result<Action> {
        let msg = match (a.raw("msg"), a.raw("var")) {
            (Some(Value::String(s)), _) => s.clone(),
            (Some(v), _) => v.to_string(),
            (None, Some(Value::String(name))) => {
                let v = ctx.vars().get(name).cloned().unwrap_or(Value::Null);
                format!("{name} = {v}")
            }
            _ => "Hello world!".into(),
        };
        let verbosity = a.opt_u64("verbosity")?.unwrap_or(0);
        let verbosity = u8::try_from(verbosity)
            .map_err(|_| a.err("verbosity", "`verbosity` must be at most 255"))?;
        Ok(Action::Debug(msg, verbosity))
    }

    /// `fail`: Ansible's default message unless `msg` says otherwise.
    fn fail(a: &Getter, _ctx: &BuildCtx) -> Result<Action> {
        let msg = assert::message(a.raw("msg"));
        Ok(Action::Fail(
            msg.unwrap_or_else(|| "Failed as requested from task".into()),
        ))
    }

    /// `assert`: the conditions kept as written (one or a list), judged at run time.
    fn assert(a: &Getter, ctx: &BuildCtx) -> Result<Action> {
        let that = match a.raw("that") {
            Some(Value::Array(v)) => v.clone(),
            Some(v) => vec![v.clone()],
            None => Vec::new(),
        };
        Ok(Action::Assert(assert::Assert {
            that,
            loc: ctx.args.loc_of("that").clone(),
            fail_msg: assert::message(a.raw("fail_msg").or(a.raw("msg"))),
            success_msg: assert::message(a.raw("success_msg")),
            quiet: a.bool("quiet", false)?,
        }))
    }

    fn meta(a: &Getter, ctx: &BuildCtx) -> Result<Action> {
        match a.str("_raw")?.trim() {
            "flush_handlers" => Ok(Action::FlushHandlers),
            // plumb reads the inventory once; a host that reaches `clear_host_errors` has no
            // error to clear (a failed host has stopped): nothing to do, as for `noop`.
            "noop" | "refresh_inventory" | "clear_host_errors" => Ok(Action::Noop),
            "end_play" => Ok(Action::EndPlay),
            "end_batch" => Ok(Action::EndBatch),
            "end_host" => Ok(Action::EndHost),
            "end_role" => Ok(Action::EndRole),
            "clear_facts" => Ok(Action::ClearFacts),
            "reset_connection" => Ok(Action::ResetConnection),
            other => Err(Error::input(
                ctx.args.loc_of("_raw").clone(),
                format!("`meta: {other}` is not supported"),
            )
            .with_hint(
                "supported: flush_handlers, noop, end_play, end_batch, end_host, end_role, refresh_inventory, \
                 clear_facts, clear_host_errors, reset_connection",
            )),
        }
    }

    /// The module, unless this is one of the engine's own actions.
    pub(crate) fn module(&self) -> Option<&dyn Module> {
        match self {
            Action::Module(m) => Some(&**m),
            _ => None,
        }
    }

    /// The sh snippet whose output `plan` reads; None when the action needs no facts.
    pub(crate) fn probe(&self) -> Option<String> {
        self.module().and_then(|m| m.probe())
    }

    /// What on the host this action's probe looks at.
    pub(crate) fn reads(&self) -> Vec<Resource> {
        self.module().map(|m| m.reads()).unwrap_or_default()
    }

    /// Pure: the probe's output in, the plan out. An error means the facts could not be read
    /// or the action is impossible; it is never taken as "no change".
    pub(crate) fn plan(&self, facts: &str) -> std::result::Result<Plan, String> {
        match self.module() {
            Some(m) => m.plan(facts),
            None => Ok(Plan::ok()),
        }
    }

    /// How the engine waits for the host after this action's script, if it restarts the host.
    pub(crate) fn comes_back(&self, facts: &str) -> Option<reboot_wait::Back> {
        self.module().and_then(|m| m.comes_back(facts))
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

    /// `meta: X` → the engine action, or the error's text.
    #[test]
    fn meta_actions() {
        let table: &[(&str, std::result::Result<&str, &str>)] = &[
            ("flush_handlers", Ok("FlushHandlers")),
            ("noop", Ok("Noop")),
            ("refresh_inventory", Ok("Noop")),
            ("clear_host_errors", Ok("Noop")),
            ("end_play", Ok("EndPlay")),
            ("end_host", Ok("EndHost")),
            ("clear_facts", Ok("ClearFacts")),
            ("reset_connection", Ok("ResetConnection")),
            ("end_batch", Ok("EndBatch")),
            ("end_role", Ok("EndRole")),
            (
                "end_everything",
                Err("`meta: end_everything` is not supported"),
            ),
        ];
        for (raw, want) in table {
            let yaml = format!("meta: {raw}\n");
            let doc = crate::yaml::Doc::parse("t.yml".into(), &yaml, false).unwrap();
            let t = crate::task::Task::parse(&doc, &doc.root, false).unwrap();
            let (base, deferred) = (Map::new(), Map::new());
            let inst = crate::task_instance::TaskInstance::new(&t, &base, &deferred);
            let got = inst
                .action(&inst.vars(), Path::new("/"))
                .map(|a| format!("{a:?}"))
                .map_err(|e| e.to_string());
            match (got, want) {
                (Ok(a), Ok(w)) => assert_eq!(&a, w, "{raw}"),
                (Err(e), Err(w)) => assert!(e.contains(w), "{raw}: {e}"),
                (got, _) => panic!("{raw}: {got:?}"),
            }
        }
    }
}
