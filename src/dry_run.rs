//! The honest dry run's rules: what the changes that were not made would have touched, which
//! registered results only a real run can produce (and what the plan knows of them), and what
//! a task that reads what only a real run tells comes to: never judged on a stand-in.

use crate::error::Error;
use crate::location::Location;
use crate::modules::{Plan, Resource, Run};
use crate::outcome::{Outcome, Status};
use crate::partial_result::{PartialResult, Unknown};
use crate::task::Task;
use crate::template::Vars;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::sync::Mutex;

#[derive(Debug, Default)]
pub(crate) struct DryRun {
    /// What the changes that were not made would have touched.
    simulated: Vec<Resource>,
    /// Registered results (and variables set from them) that only a real run produces whole,
    /// with what the plan knows of each.
    unknown: BTreeMap<String, PartialResult>,
    /// What the current task's items left unknown of its result: registered when it finishes.
    pending: Option<PartialResult>,
}

/// What each host's plan left unmade and unknown at the end of its play, for its next play
/// (registered results and changes outlive the play that made them).
static CARRIED: Mutex<BTreeMap<String, DryRun>> = Mutex::new(BTreeMap::new());

/// What `host`'s earlier plays left unmade and unknown.
pub(crate) fn carried(host: &str) -> DryRun {
    CARRIED
        .lock()
        .ok()
        .and_then(|mut c| c.remove(host))
        .unwrap_or_default()
}

/// What `host`'s play leaves unmade and unknown, for its next one.
pub(crate) fn keep(host: &str, dry: DryRun) {
    if let Ok(mut c) = CARRIED.lock() {
        c.insert(host.to_string(), dry);
    }
}

/// A value a task reads: a condition (`bare`) or a value with templates, and where it is.
pub(crate) type Read<'v> = (&'v Value, &'v Location, bool);

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
    pub(crate) fn unknown_result(&mut self, task: &Task, e: &Error) -> Outcome {
        if let Some(root) = e.undefined_within()
            && self.unknown.contains_key(root)
        {
            let root = root.to_string();
            return self.depends(task, &root);
        }
        Outcome::new(Status::Failed, e.one_line())
    }

    /// What a task that may change may write (it was not planned: see `HostRun::may_write`).
    pub(crate) fn simulate(&mut self, writes: Vec<Resource>) {
        self.simulated.extend(writes);
    }

    /// A new task starts: nothing of its result is pending.
    pub(crate) fn next_task(&mut self) {
        self.pending = None;
    }

    /// What a task's `when` comes to when it reads what the plan does not know: a condition
    /// the plan knows to be false skips it (they must all hold), else it depends on the
    /// unknown value (or fails on a field its result never holds). None: judge it as usual.
    pub(crate) fn unknown_when(
        &mut self,
        task: &Task,
        vars: &Vars,
        expand: &[&Map<String, Value>],
    ) -> Option<Outcome> {
        if self.unknown.is_empty() {
            return None;
        }
        let mut first = None;
        let mut known = Vec::new();
        for c in &task.when {
            match self.first_unknown(&c.value, true, expand, 0) {
                Some((Unknown::Typo(off, msg, hint), text)) => {
                    return Some(typo(&c.loc, &text, off, msg, hint));
                }
                Some((u, _)) => first = first.or(Some(u)),
                None => known.push(c),
            }
        }
        let Some(Unknown::Value(what)) = first else {
            return None;
        };
        for c in known {
            match vars.condition(&c.value, &c.loc) {
                Ok(true) => {}
                Ok(false) => return Some(Outcome::new(Status::Skipped, "")),
                // Wrong whatever the unknown value: said as it would be without it.
                Err(e) => return Some(self.unknown_result(task, &e)),
            }
        }
        Some(self.depends(task, &what))
    }

    /// What a task comes to whose `reads` (its loop, its arguments) read what the plan does
    /// not know: it depends on it, or fails on a field its result never holds.
    pub(crate) fn unknown_in(
        &mut self,
        task: &Task,
        reads: &[Read],
        expand: &[&Map<String, Value>],
    ) -> Option<Outcome> {
        if self.unknown.is_empty() {
            return None;
        }
        let mut first = None;
        for &(v, loc, bare) in reads {
            match self.first_unknown(v, bare, expand, 0) {
                Some((Unknown::Typo(off, msg, hint), text)) => {
                    return Some(typo(loc, &text, off, msg, hint));
                }
                Some((u, _)) => first = first.or(Some(u)),
                None => {}
            }
        }
        match first {
            Some(Unknown::Value(what)) => Some(self.depends(task, &what)),
            _ => None,
        }
    }

    /// The first read in `v` the plan cannot answer, with the text it is in: a typo first.
    /// A name of `expand` it reads (a play or task variable as written) is read through.
    fn first_unknown(
        &self,
        v: &Value,
        bare: bool,
        expand: &[&Map<String, Value>],
        depth: usize,
    ) -> Option<(Unknown, String)> {
        let mut texts = Vec::new();
        strings(v, &mut texts);
        let mut first = None;
        for text in texts {
            if !bare && !crate::template::has_template(text) {
                continue;
            }
            for (name, p) in &self.unknown {
                if !text.contains(name.as_str()) {
                    continue;
                }
                match p.read(name, text, bare) {
                    Some(t @ Unknown::Typo(..)) => return Some((t, text.to_string())),
                    Some(u) => first = first.or(Some((u, text.to_string()))),
                    None => {}
                }
            }
            // Through the variables it reads: only what is unknown there counts (a typo is
            // said where it is written, when that task or variable is read).
            let through = expand.iter().flat_map(|m| m.iter());
            for (name, value) in through.filter(|_| depth < 4) {
                if text.contains(name.as_str())
                    && !crate::jinja::uses_of(text, bare, name).is_empty()
                    && let Some((Unknown::Value(u), t)) =
                        self.first_unknown(value, false, expand, depth + 1)
                {
                    first = first.or(Some((Unknown::Value(u), t)));
                }
            }
        }
        first
    }

    /// The outcome of a task that reads `what`, a value known only when applied: its own
    /// result (and what it sets) is then unknown too.
    pub(crate) fn depends(&mut self, task: &Task, what: &str) -> Outcome {
        self.pending = Some(PartialResult::of(task, Vec::new()));
        depends(task, what)
    }

    /// A task finished with `status`: what it registered, and the variables `sets` it set
    /// (`set_fact`), are unknown if one of its items was, else known.
    pub(crate) fn finish(&mut self, task: &Task, sets: Vec<String>, status: Status, looped: bool) {
        let pending = self.pending.take();
        if let Some(r) = &task.register {
            match &pending {
                Some(p) if looped => self.unknown.insert(r.clone(), p.looped()),
                Some(p) => self.unknown.insert(r.clone(), p.clone()),
                None => self.unknown.remove(r),
            };
        }
        for n in sets {
            match (&pending, status) {
                (Some(_), _) => {
                    self.unknown.insert(n, PartialResult::default());
                }
                // Set now, to a value the plan knows.
                (None, Status::Ok) => {
                    self.unknown.remove(&n);
                }
                _ => {}
            }
        }
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
            // Only that it runs is known, and that it never changes.
            let mut known = vec!["skipped".to_string()];
            if never_changes {
                known.push("changed".into());
            }
            o.value = json!({"changed": false, "failed": false, "skipped": false, "msg": o.msg});
            self.pend(task, known);
            return o;
        }
        // Planned on facts an earlier unmade change may alter: not `ok`. A change it plans
        // stays planned, as Ansible's check mode says it (the earlier change may also make it:
        // then the run finds nothing to do).
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
        // A change not made leaves out what only making it tells (a key `user` generates): a
        // task that reads such a field is then `may-change`, not failed. What the plan does
        // know stays known: the module's own result, and whether a certain change changes.
        if plan.uncertain || stale || !plan.changes.is_empty() {
            let mut known: Vec<String> = match stale {
                true => Vec::new(),
                false => plan.result.keys().cloned().collect(),
            };
            known.push("skipped".into());
            if o.status == Status::Changed && task.changed_when.is_none() {
                known.push("changed".into());
            }
            if o.status == Status::Changed
                && task.failed_when.is_none()
                && !task.ignore_errors
                && task.ignore_errors_if.is_none()
            {
                known.push("failed".into());
            }
            self.pend(task, known);
        }
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

    /// One item's result is known only in part: so is the task's.
    fn pend(&mut self, task: &Task, known: Vec<String>) {
        if self.pending.is_none() {
            self.pending = Some(PartialResult::of(task, known));
        }
    }
}

/// A field a result never holds, read at byte `off` of `text`, which starts at `loc`.
fn typo(loc: &Location, text: &str, off: usize, msg: String, hint: Option<String>) -> Outcome {
    let mut e = Error::input(loc.offset_in(text, off), msg);
    if let Some(h) = hint {
        e = e.with_hint(h);
    }
    Outcome::new(Status::Failed, e.one_line())
}

/// The strings of a value, at any depth.
fn strings<'v>(v: &'v Value, out: &mut Vec<&'v str>) {
    match v {
        Value::String(s) => out.push(s),
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(o) => o.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

/// May change (a `debug` is skipped): it reads `what`, known only when applied.
fn depends(task: &Task, what: &str) -> Outcome {
    // `debug` is the engine's own action (it prints, touches nothing): skipped.
    let status = if crate::modules::registry::prints_only(&task.module) {
        Status::Skipped
    } else {
        Status::MayChange
    };
    let mut msg = match what.contains(['.', '[']) {
        true => format!("depends on `{what}`, known only when applied"),
        false => format!("depends on the result of `{what}`, known only when applied"),
    };
    if let Some(end) = end_meta(task) {
        // What the plan cannot say: whether the play goes on after this line.
        let what = if end == "end_role" { "role" } else { "play" };
        msg = format!("may end the {what} here (meta: {end}): {msg}");
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
            // A change planned on what an earlier change may alter stays planned.
            (
                "file: {path: /x}\nregister: r\n",
                true,
                false,
                false,
                true,
                false,
                Changed,
                true,
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
            d.finish(&t, Vec::new(), o.status, false);
            assert_eq!(d.unknown.contains_key("r"), unknown, "{yaml}");
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
        d.unknown.insert("out".into(), PartialResult::default());
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

    #[test]
    fn what_a_plan_knows_of_a_result_is_judged_and_the_rest_depends_on_it() {
        use Status::*;
        let mut d = DryRun::default();
        // `r`: a command that runs on apply.
        let cmd = task("command: x\nregister: r\n");
        let mut plan = Plan::ok();
        plan.changes.push(Change::new("run `x`"));
        plan.uncertain = true;
        plan.run = Run::Command("x".into());
        let o = d.judge(&cmd, Outcome::new(Ok, ""), plan, false);
        d.finish(&cmd, Vec::new(), o.status, false);
        let mut m = Map::new();
        m.insert("r".into(), o.value.clone());
        m.insert("x".into(), json!(1));
        let vars = Vars::new(m);
        let mut expand = Map::new();
        expand.insert("derived".into(), json!("{{ r.stdout }}+"));
        // (task) → its status and message, when the plan cannot judge its `when` as usual
        let depends_rc = "depends on `r.rc`, known only when applied";
        let table: &[(&str, Option<(Status, &str)>)] = &[
            (
                "file: {path: /y}\nwhen: r.stdout == 'x'\n",
                Some((MayChange, "depends on `r.stdout`, known only when applied")),
            ),
            (
                "file: {path: /y}\nwhen: r is changed\n",
                Some((
                    MayChange,
                    "depends on the result of `r`, known only when applied",
                )),
            ),
            ("file: {path: /y}\nwhen: r is not skipped\n", None),
            (
                "file: {path: /y}\nwhen: [x == 2, r.rc != 0]\n",
                Some((Skipped, "")),
            ),
            (
                "file: {path: /y}\nwhen: [x == 1, r.rc != 0]\n",
                Some((MayChange, depends_rc)),
            ),
            (
                "file: {path: /y}\nwhen: [r.rc != 0, nope == 1]\n",
                Some((
                    Failed,
                    "t.yml:2:19: cannot evaluate condition `nope == 1`: undefined variable `nope` (define it, or write `nope is defined and …`)",
                )),
            ),
            (
                "debug: {msg: hi}\nwhen: r.rc == 0\n",
                Some((Skipped, depends_rc)),
            ),
            (
                "meta: end_play\nwhen: r.rc == 0\n",
                Some((
                    MayChange,
                    "may end the play here (meta: end_play): depends on `r.rc`, known only when applied",
                )),
            ),
            (
                "file: {path: /y}\nwhen: x == 2 and r.stdot == 'x'\n",
                Some((
                    Failed,
                    "t.yml:2:20: `r.stdot`: a `command` result has no field `stdot` (did you mean `r.stdout`?)",
                )),
            ),
            (
                "file: {path: /y}\nwhen: derived == 'x'\n",
                Some((MayChange, "depends on `r.stdout`, known only when applied")),
            ),
            ("file: {path: /y}\nwhen: x == 1\n", None),
        ];
        for (yaml, want) in table {
            let got = d
                .unknown_when(&task(yaml), &vars, &[&expand])
                .map(|o| (o.status, o.msg));
            assert_eq!(got, want.map(|(s, m)| (s, m.to_string())), "{yaml}");
        }
        // A loop over what only applying says, and a fact set from it.
        let looped = task("file: {path: '{{ item }}'}\nloop: '{{ r.stdout_lines }}'\n");
        let l = looped.loop_items.as_ref().unwrap();
        let o = d.unknown_in(&looped, &[(&l.value, &l.loc, false)], &[]);
        assert_eq!(
            o.map(|o| (o.status, o.msg)),
            Some((
                MayChange,
                "depends on `r.stdout_lines`, known only when applied".into()
            ))
        );
        d.next_task();
        let sf = task("set_fact: {out: '{{ r.stdout | default(\"\") }}'}\n");
        let v = Value::Object(sf.args.map.clone());
        let o = d.unknown_in(&sf, &[(&v, &sf.args.loc, false)], &[]);
        let o = o.expect("set from an unknown value");
        d.finish(&sf, vec!["out".into()], o.status, false);
        let when_out = task("file: {path: /y}\nwhen: out == 'x'\n");
        let o = d.unknown_when(&when_out, &vars, &[]);
        assert_eq!(o.map(|o| o.status), Some(MayChange));
        // Registered again with a result the plan knows whole: judged as usual.
        d.next_task();
        d.finish(&cmd, Vec::new(), Ok, false);
        let o = d.unknown_when(
            &task("file: {path: /y}\nwhen: r.rc == 0\n"),
            &vars,
            &[&expand],
        );
        assert!(o.is_none());
    }
}
