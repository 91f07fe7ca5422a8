//! The honest dry run's rules: what the changes that were not made would have touched, and
//! which registered results only a real run can produce.

use crate::error::Error;
use crate::modules::{Plan, Resource, Run};
use crate::outcome::{Outcome, Status};
use crate::task::Task;
use serde_json::{Value, json};

#[derive(Debug, Default)]
pub(crate) struct DryRun {
    /// What the changes that were not made would have touched.
    simulated: Vec<Resource>,
    /// Registered results that only a real run can produce.
    unknown: Vec<String>,
}

impl DryRun {
    /// Whether an earlier (unmade) change would have altered what a task `reads`: its facts
    /// are not to be trusted.
    pub(crate) fn stale(&self, reads: &[Resource]) -> bool {
        reads
            .iter()
            .any(|r| self.simulated.iter().any(|w| w.overlaps(r)))
    }

    /// A task that could not be rendered or built: failed, unless what it misses is a result
    /// only a real run produces (then it may change; a `debug` is skipped).
    pub(crate) fn unknown_result(&self, task: &Task, e: &Error) -> Outcome {
        if let Some(root) = e.undefined_root()
            && self.unknown.iter().any(|u| u == root)
        {
            return depends(task, root);
        }
        Outcome::new(Status::Failed, e.one_line())
    }

    /// A result only a real run produces that one of `conds` reads (its root name): a
    /// `meta: end_*` behind it may or may not end the play, and the plan says so.
    pub(crate) fn unknown_read(&self, conds: &[crate::location::Spanned<Value>]) -> Option<String> {
        conds.iter().find_map(|c| {
            let mut names = crate::template::names_in(&c.value);
            if let Value::String(s) = &c.value {
                // A bare condition is an expression, not a template.
                names.extend(crate::template::names_in(&Value::String(format!(
                    "{{{{ {s} }}}}"
                ))));
            }
            names.into_iter().find(|n| self.unknown.contains(n))
        })
    }

    /// The outcome of a task that reads `root`, a result known only when applied.
    pub(crate) fn depends(&self, task: &Task, root: &str) -> Outcome {
        depends(task, root)
    }

    /// What a task would do, from its plan, without doing it. `o` carries the plan's changes and
    /// diffs; `stale`: an earlier unmade change alters what it reads. A request (`uri`) only
    /// means something when made, so it waits for apply.
    pub(crate) fn judge(
        &mut self,
        task: &Task,
        mut o: Outcome,
        plan: Plan,
        stale: bool,
    ) -> Outcome {
        let runs_on_apply = matches!(plan.run, Run::Http(_));
        let never_changes = matches!(&task.changed_when, Some(c) if c.value == Value::Bool(false));
        if runs_on_apply || (matches!(plan.run, Run::Command(_)) && never_changes) {
            o.status = Status::Skipped;
            o.msg = "not run in a dry run: runs on apply".into();
            o.changes.clear();
            if let Some(r) = &task.register {
                self.unknown.push(r.clone());
            }
            return o;
        }
        // A change not made leaves out what only making it tells (a key `user` generates): a
        // task that reads such a field is then `may-change`, not failed.
        if (plan.uncertain || stale || !plan.changes.is_empty())
            && let Some(r) = &task.register
        {
            self.unknown.push(r.clone());
        }
        o.status = if plan.changes.is_empty() {
            if stale {
                o.msg = "depends on an earlier change".into();
                Status::MayChange
            } else {
                Status::Ok
            }
        } else if plan.uncertain {
            Status::MayChange
        } else {
            Status::Changed
        };
        if o.status != Status::Ok {
            self.simulated.extend(plan.writes);
        }
        o.value = json!({"changed": o.status != Status::Ok, "failed": false, "skipped": false, "msg": o.msg});
        // Facts an earlier (unmade) change may alter are not registered: what reads them is
        // then `may-change`, not planned on stale facts.
        if let Value::Object(v) = &mut o.value
            && !stale
        {
            v.extend(plan.result);
        }
        o
    }
}

/// May change (a `debug` is skipped): it reads `root`, known only when applied.
fn depends(task: &Task, root: &str) -> Outcome {
    // `debug` is the engine's own action (it prints, touches nothing): skipped.
    let status = if crate::modules::registry::prints_only(&task.module) {
        Status::Skipped
    } else {
        Status::MayChange
    };
    let mut msg = format!("depends on the result of `{root}`, known only when applied");
    if let Some(end) = end_meta(task) {
        // What the plan cannot say: whether the play goes on after this line.
        msg = format!("may end the play here (meta: {end}): {msg}");
    }
    Outcome::new(status, msg)
}

/// `end_play` or `end_host` for a `meta: end_*` task.
pub(crate) fn end_meta(task: &Task) -> Option<&str> {
    task.args
        .map
        .get("_raw")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|m| crate::modules::registry::steers_play(&task.module) && m.starts_with("end_"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::location::Location;
    use crate::modules::Change;
    use crate::yaml::Doc;

    fn task(yaml: &str) -> Task {
        let doc = Doc::parse("t.yml".into(), yaml, false).unwrap();
        Task::parse(&doc, &doc.root, false).unwrap()
    }

    fn at() -> Location {
        Location::new(&std::sync::Arc::new("t.yml".into()), 1, 1)
    }

    #[test]
    fn judge_a_plan_without_running_it() {
        use Status::*;
        // (task, changes, uncertain, a command, stale, runs on apply) → status, and whether its
        // register is then unknown and its writes simulated.
        type Row<'a> = (&'a str, bool, bool, bool, bool, bool, Status, bool, bool);
        let table: &[Row] = &[
            (
                "file: {path: /x}\nregister: r\n",
                false,
                false,
                false,
                false,
                false,
                Ok,
                false,
                false,
            ),
            (
                "file: {path: /x}\nregister: r\n",
                true,
                false,
                false,
                false,
                false,
                Changed,
                true,
                true,
            ),
            (
                "file: {path: /x}\nregister: r\n",
                false,
                false,
                false,
                true,
                false,
                MayChange,
                true,
                true,
            ),
            (
                "command: x\nregister: r\n",
                true,
                true,
                true,
                false,
                false,
                MayChange,
                true,
                true,
            ),
            (
                "command: x\nregister: r\nchanged_when: false\n",
                true,
                true,
                true,
                false,
                false,
                Skipped,
                true,
                false,
            ),
            (
                "uri: {url: 'http://h/'}\nregister: r\n",
                false,
                false,
                false,
                false,
                true,
                Skipped,
                true,
                false,
            ),
            (
                "file: {path: /x}\n",
                true,
                true,
                false,
                false,
                false,
                MayChange,
                false,
                true,
            ),
        ];
        for &(yaml, changes, uncertain, command, stale, on_apply, want, unknown, simulated) in table
        {
            let t = task(yaml);
            let mut plan = Plan::ok();
            if changes {
                plan.changes.push(Change::new("write /x"));
            }
            plan.uncertain = uncertain;
            if command {
                plan.run = Run::Command("x".into());
            }
            if on_apply {
                plan.run = Run::Http(crate::http::Request::default());
            }
            plan.writes = vec![Resource::Path("/x".into())];
            let mut d = DryRun::default();
            let o = d.judge(&t, Outcome::new(Ok, ""), plan, stale);
            assert_eq!(o.status, want, "{yaml}");
            assert_eq!(
                o.value["changed"],
                json!(want != Ok && want != Skipped),
                "{yaml}"
            );
            assert_eq!(d.unknown == ["r"], unknown, "{yaml}");
            assert_eq!(
                d.stale(&[Resource::Path("/x/y".into())]),
                simulated,
                "{yaml}"
            );
        }
    }

    #[test]
    fn a_result_known_only_on_apply_is_not_a_failure() {
        let mut d = DryRun::default();
        d.unknown.push("out".into());
        // (task, error, status)
        let table = [
            (
                "command: x\n",
                Error::undefined_variable(at(), "out.stdout"),
                Status::MayChange,
            ),
            (
                "debug: {msg: x}\n",
                Error::undefined_variable(at(), "out"),
                Status::Skipped,
            ),
            (
                "command: x\n",
                Error::undefined_variable(at(), "other"),
                Status::Failed,
            ),
            (
                "command: x\n",
                Error::input(at(), "undefined variable `out`"),
                Status::Failed,
            ),
        ];
        for (yaml, e, want) in table {
            let o = d.unknown_result(&task(yaml), &e);
            assert_eq!(o.status, want, "{yaml} {e}");
        }
    }
}
