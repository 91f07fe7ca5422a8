//! One task item on a host, for `HostRun`: planned from the facts (or from what a waiting item
//! of the same loop will leave), then applied at once or left waiting in the loop's
//! `ItemBatch` (see item_batch.rs).

use super::HostRun;
use crate::execute::Target;
use crate::item_batch::{self, ItemBatch, Waiting};
use crate::modules::{Action, Run};
use crate::outcome::{Outcome, Status};
use crate::task_instance::TaskInstance;
use crate::template::Vars;
use crate::transport::TransportError;
use serde_json::Value;

impl<'a> HostRun<'a> {
    /// One item: its outcome, or None when its plan waits in `batch` (a loop's items).
    pub(super) fn run_item(
        &mut self,
        inst: &TaskInstance,
        vars: &Vars,
        ready: Option<crate::prepared::Ready>,
        batch: &mut ItemBatch,
    ) -> std::result::Result<Option<Outcome>, TransportError> {
        let task = inst.task;
        // A plan judges a `when` on what it knows; one that reads a result known only when
        // applied (`r.stdout` of a command that runs then) is not judged on a stand-in: the
        // task may change (a `meta: end_*` may end the play).
        let expand = [&self.deferred, &task.vars];
        if self.check()
            && let Some(o) = self.dry.unknown_when(task, vars, &expand)
        {
            self.may_write(inst, vars, &o);
            return Ok(Some(o));
        }
        match inst.when(vars) {
            Ok(true) => {}
            Ok(false) => return Ok(Some(Outcome::new(Status::Skipped, ""))),
            Err(e) => return Ok(Some(self.dry.unknown_result(task, &e))),
        }
        // So are its arguments (`content: "{{ r.stdout | default('') }}"`) and its environment.
        let is_expression = |k: &str| crate::modules::registry::is_expression(&task.module, k);
        let mut args: Vec<_> = (task.args.map.iter())
            .map(|(k, v)| (v, task.args.loc_of(k), is_expression(k)))
            .collect();
        for e in crate::task_env::templates(&task.environment) {
            args.push((&e.value, &e.loc, false));
        }
        if self.check()
            && let Some(o) = self.dry.unknown_in(task, &args, &expand)
        {
            self.may_write(inst, vars, &o);
            return Ok(Some(o));
        }
        if let Some(why) = &task.unread {
            return Ok(Some(Outcome::new(Status::Failed, why.clone())));
        }
        // Built for the batched probe already, as it would be now (see prepared.rs).
        let with_facts;
        let mut vars = vars;
        let (action, probe) = match ready {
            Some((a, p)) => (a, Some(p)),
            None => match inst.action(vars, self.r.playbook_dir) {
                Ok(a) => (a, None),
                // A file this build read first (a template named by a result) names a fact
                // nothing before did: the facts are gathered now, and it is built again.
                Err(e) => match self.gather_for(vars)? {
                    Some(Ok(v)) => {
                        with_facts = v;
                        vars = &with_facts;
                        match inst.action(vars, self.r.playbook_dir) {
                            Ok(a) => (a, None),
                            Err(e) => return Ok(Some(self.dry.unknown_result(task, &e))),
                        }
                    }
                    Some(Err(why)) => return Ok(Some(Outcome::new(Status::Failed, why))),
                    None => return Ok(Some(self.dry.unknown_result(task, &e))),
                },
            },
        };
        match &action {
            Action::SetFact(sf) if self.facts_to(task, vars).is_some() => {
                // `delegate_facts`: they are the delegate's, seen through `hostvars`.
                let to = self.facts_to(task, vars).unwrap_or_default();
                crate::hostvars::register(&to, &sf.vars);
                let mut o = Outcome::new(Status::Ok, format!("facts set on {to}"));
                o.value = sf.result();
                return Ok(Some(o));
            }
            Action::SetFact(sf) => {
                self.registered.extend(sf.vars.clone());
                crate::hostvars::register(&self.host.name, &sf.vars);
                if sf.cacheable {
                    self.merge_facts(&sf.vars);
                }
                self.set_vars(sf.vars.keys());
                let mut o = Outcome::new(Status::Ok, "");
                o.value = sf.result();
                return Ok(Some(o));
            }
            Action::IncludeVars(iv) => {
                let (now, later) =
                    crate::host_vars::render_included(vars.map(), &iv.vars, &task.loc);
                for k in later.keys() {
                    self.included.remove(k);
                }
                self.included.extend(now.clone());
                // Rendered when read, as the play's variables that wait for a value.
                self.rerendered.extend(later.clone());
                self.deferred.extend(later);
                self.set_vars(iv.vars.keys());
                crate::hostvars::include(&self.host.name, &now);
                let mut o = Outcome::new(Status::Ok, "");
                o.value = iv.result();
                return Ok(Some(o));
            }
            Action::Debug(_, v) if *v > self.r.opts.verbose => {
                // Ansible's own words for it.
                return Ok(Some(Outcome::new(
                    Status::Skipped,
                    "Verbosity threshold not met.",
                )));
            }
            Action::Debug(m, _) => return Ok(Some(Outcome::new(Status::Ok, m.clone()))),
            Action::Fail(m) => return Ok(Some(Outcome::new(Status::Failed, m.clone()))),
            Action::Assert(a) => {
                use crate::modules::assert::Verdict;
                return Ok(Some(match a.judge(vars) {
                    Ok(Verdict::Passed(m)) => Outcome::new(Status::Ok, m),
                    Ok(Verdict::Failed(m, that)) => {
                        let mut o = Outcome::new(Status::Failed, m);
                        o.value["assertion"] = serde_json::Value::String(that);
                        o.value["evaluated_to"] = serde_json::Value::Bool(false);
                        o
                    }
                    Err(e) => self.dry.unknown_result(task, &e),
                }));
            }
            Action::Noop | Action::FlushHandlers => return Ok(Some(Outcome::new(Status::Ok, ""))),
            Action::EndPlay | Action::EndBatch | Action::EndHost => {
                use std::sync::atomic::Ordering::SeqCst;
                let (msg, stop) = match action {
                    Action::EndPlay => {
                        self.r.play_over.store(true, SeqCst);
                        ("the play ends here, for every host", "meta: end_play")
                    }
                    Action::EndBatch => {
                        ("the batch ends here, for all its hosts", "meta: end_batch")
                    }
                    _ => ("the play ends here for this host", "meta: end_host"),
                };
                if !matches!(action, Action::EndHost) {
                    self.r.end_play.fetch_min(self.pos, SeqCst);
                }
                self.ended = true;
                self.stop_msg = format!("the play ended here ({stop})");
                return Ok(Some(Outcome::new(Status::Ok, msg)));
            }
            Action::EndRole => {
                // Only in a role's tasks (checked before the run, see `Play::parse`).
                self.ended_role = task.roles.last().copied();
                return Ok(Some(Outcome::new(
                    Status::Ok,
                    "the role ends here for this host",
                )));
            }
            Action::ClearFacts => {
                self.clear_facts();
                return Ok(Some(Outcome::new(Status::Ok, "facts cleared")));
            }
            Action::ResetConnection => return self.reset_connection().map(Some),
            _ => {}
        }
        let mut o = self.run_action(inst, vars, action, probe, batch)?;
        // `delegate_facts`: what the module found (`setup` ...) is the delegate's.
        if let Some(to) = self.facts_to(task, vars)
            && let Some(o) = &mut o
            && let Some(Value::Object(af)) = o
                .value
                .as_object_mut()
                .and_then(|v| v.remove("ansible_facts"))
        {
            super::delegate::give_facts(&to, &af);
        }
        Ok(o)
    }

    /// In a plan, a task that may change because it reads what only applying tells: what it
    /// may write (what its module looks at, else anything) counts as changed for the tasks
    /// after it. The engine's own actions write nothing.
    fn may_write(&mut self, inst: &TaskInstance, vars: &Vars, o: &Outcome) {
        use crate::modules::registry::{prints_only, sets_vars, steers_play};
        let m = &inst.task.module;
        if o.status != Status::MayChange || prints_only(m) || sets_vars(m) || steers_play(m) {
            return;
        }
        let task = inst.task;
        let dir = self.r.playbook_dir;
        // An argument only applying tells stands as empty text, to learn where it writes
        // (`dest: "/etc/{{ r.stdout }}"` under /etc/); one it cannot do without, anywhere.
        let action = inst.action(vars, dir).or_else(|_| {
            let stand_in = (task.args.map.iter())
                .map(|(k, v)| {
                    let r = vars.render_value(v, task.args.loc_of(k));
                    (
                        k.clone(),
                        r.unwrap_or_else(|_| Value::String(String::new())),
                    )
                })
                .collect();
            inst.build(stand_in, vars, dir)
        });
        let writes = match action {
            Ok(a) if a.module().is_none() => return,
            Ok(a) if !a.reads().is_empty() => a.reads(),
            _ => vec![crate::modules::Resource::All],
        };
        self.dry.simulate(writes);
    }

    fn run_action(
        &mut self,
        inst: &TaskInstance,
        vars: &Vars,
        action: Action,
        probe: Option<Option<String>>,
        batch: &mut ItemBatch,
    ) -> std::result::Result<Option<Outcome>, TransportError> {
        let task = inst.task;
        // `check_mode: true`: planned only, also under `apply`.
        let checking = self.check() || task.planned_only();
        // A restart (or reload) handler for a unit that plumb itself started after the change
        // that notified it has nothing left to do: the unit already runs the new config.
        // A plan says the same of a start it plans (a task planned only under `apply` starts
        // nothing).
        if (!checking || self.check())
            && let Some(unit) = action.module().and_then(|m| m.restarts())
            && self.notes.restart_done(unit)
        {
            let was = if self.check() { "will be" } else { "was" };
            return Ok(Some(Outcome::new(
                Status::Ok,
                format!("{unit} {was} started after the change; no restart needed"),
            )));
        }
        let sudo = match inst.sudo(self.play, vars) {
            Ok(s) => s,
            Err(e) => return Ok(Some(self.dry.unknown_result(task, &e))),
        };
        let via = match self.via(task, vars) {
            Ok(v) => v,
            Err(e) => return Ok(Some(self.dry.unknown_result(task, &e))),
        };
        // A host known to be down: a module run on it is unreachable, also in a plan (which
        // might not use the connection for it). Engine actions, skipped and delegated tasks
        // need no connection.
        if let (Some(why), None) = (&self.down, &via) {
            return Err(TransportError(why.clone()));
        }
        let delegated = via.is_some();
        let mut reads = action.reads();
        if task.runs_in_plan {
            // A command run in a plan may read anything.
            reads.push(crate::modules::Resource::All);
        }
        // Dry run: facts an earlier (unmade) change would have altered are not to be trusted.
        let stale = self.dry.stale(&reads);
        let probe = match probe.map_or_else(|| inst.probe(&action, vars), Ok) {
            Ok(p) => p,
            Err(e) => return Ok(Some(Outcome::new(Status::Failed, e.one_line()))),
        };
        // What a waiting item writes: planned on what it will leave, if known, else after it.
        let predicted = match &probe {
            Some(p) if batch.overlaps(&reads) => {
                let known = batch.predicted(p, sudo.as_deref());
                if known.is_none() {
                    self.apply_waiting(inst, batch)?;
                    if batch.cut() {
                        return Ok(None);
                    }
                }
                known
            }
            _ => None,
        };
        let facts = match (&probe, predicted) {
            (_, Some(f)) => Ok(f),
            (None, None) => Ok(String::new()),
            (Some(p), None) => self.facts(p, &reads, sudo.as_deref(), via.as_ref())?,
        };
        let plan = match facts
            .as_ref()
            .map_err(Clone::clone)
            .and_then(|f| action.plan(f))
        {
            Ok(p) => p,
            Err(msg) if checking && stale => {
                return Ok(Some(Outcome::new(
                    Status::MayChange,
                    format!("depends on an earlier change (now: {msg})"),
                )));
            }
            Err(msg) => return Ok(Some(Outcome::new(Status::Failed, msg))),
        };
        // A task that restarts the host (`reboot`): plumb waits for the host it runs for only,
        // and never restarts the control machine (Ansible refuses it too).
        let back = facts.as_ref().ok().and_then(|f| action.comes_back(f));
        if back.is_some() {
            let local = vars.get("ansible_connection").and_then(Value::as_str) == Some("local");
            let refused = match (delegated, local) {
                (true, _) => {
                    Some("a reboot cannot be delegated: plumb waits for the host the task runs for")
                }
                (_, true) => Some(
                    "refusing to reboot over a local connection: it would restart the control machine",
                ),
                _ => None,
            };
            if let Some(why) = refused {
                return Ok(Some(Outcome::new(Status::Failed, why)));
            }
        }
        let mut o = Outcome::new(Status::Ok, "");
        o.changes = plan.changes.iter().map(|c| c.summary.clone()).collect();
        // `diff` on the task (or around it) wins over the run's (a plan shows diffs).
        let want_diff = task.diff.unwrap_or(checking || self.r.opts.diff) && !task.no_log;
        if want_diff {
            // Against the host as the items before left it.
            self.apply_waiting(inst, batch)?;
            if batch.cut() {
                return Ok(None);
            }
            o.diffs = self.diffs_of(&plan, sudo.as_deref(), via.as_ref())?;
        }
        // `check_mode: false`: the playbook vouches that this one only reads. It still waits for
        // apply when an earlier planned change would alter what it reads: run now, it would
        // read the host as it is, not as it will be.
        if checking && (!task.runs_in_plan || stale) {
            let starts = plan.starts.clone();
            let mut o = self.dry.judge(task, o, plan, stale);
            if let Some(unit) = starts
                && self.check()
                && o.status == Status::Changed
            {
                self.notes.started(&unit);
            }
            if task.runs_in_plan {
                o.msg = "not run in this plan: an earlier change alters what it reads".into();
            } else if !self.check() && o.msg.is_empty() {
                o.msg = "check_mode: planned only, nothing applied".into();
            }
            return Ok(Some(o));
        }
        // A unit plumb (re)started: a later restart handler notified before has nothing to do.
        let started = plan.starts.clone();
        // `environment`: exported before what the task runs (and its probe, see TaskInstance::probe).
        let exports = match crate::task_instance::exports(task, vars) {
            Ok(e) => e,
            Err(e) => return Ok(Some(Outcome::new(Status::Failed, e.one_line()))),
        };
        // A script run once, on the host, with no unit to note: it can wait for the others.
        if batch.defer
            && matches!(plan.run, Run::Script(_))
            && task.until.is_none()
            && !delegated
            && task.time_limit.is_none()
            && started.is_none()
            && !want_diff
            && back.is_none()
        {
            let after = match (&probe, &facts) {
                (Some(p), Ok(f)) => item_batch::after(&action, f, &plan)
                    .map(|a| (p.clone(), sudo.clone(), reads.clone(), a)),
                _ => None,
            };
            let w = Waiting {
                index: batch.slots.len(),
                outcome: o,
                plan,
                vars: vars.clone(),
                exports,
            };
            batch.push(w, after);
            return Ok(None);
        }
        // What runs now comes after the items waiting before it.
        if !matches!(plan.run, Run::Nothing) {
            self.apply_waiting(inst, batch)?;
            if batch.cut() {
                return Ok(None);
            }
        }
        let log = self.log();
        let diagnosis_sudo = self.play.sudo_for_diagnosis().map(String::from);
        let target = Target {
            t: self.transport(via.as_ref())?,
            sudo: sudo.as_deref(),
            delegated,
            diagnosis_sudo: diagnosis_sudo.as_deref(),
        };
        let mut o = crate::execute::apply(target, &log, inst, vars, o, &plan, &exports)?;
        if !plan.changes.is_empty() || matches!(plan.run, Run::Command(_)) {
            self.facts.touched(&plan.writes);
        }
        if let Some(back) = &back {
            o = self.rebooted(o, back, sudo.as_deref())?;
        }
        if let Some(unit) = started
            && o.status == Status::Changed
        {
            self.notes.started(&unit);
        }
        Ok(Some(o))
    }

    /// Runs the scripts of a loop's waiting items in one exec, and puts each item's outcome in
    /// its slot.
    pub(super) fn apply_waiting(
        &mut self,
        inst: &TaskInstance,
        batch: &mut ItemBatch,
    ) -> std::result::Result<(), TransportError> {
        // A templated become_user, rendered without the item (the items share one exec).
        let sudo = inst
            .sudo(self.play, &inst.vars())
            .unwrap_or_else(|_| self.play.sudo_for(inst.task));
        let log = self.log();
        batch.apply(&mut *self.t, &log, &mut self.facts, inst, sudo.as_deref())
    }
}
