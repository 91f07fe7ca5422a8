//! What follows a task: its line and registered result, notified handlers run at a flush,
//! failures judged (`ignore_errors`), a host found down under `ignore_unreachable`, and why
//! another host's `meta` ended the play.

use super::HostRun;
use crate::event::{Event, Line};
use crate::outcome::{Outcome, Status};
use crate::task::Task;
use crate::task_instance::TaskInstance;
use crate::transport::TransportError;
use serde_json::{Map, Value};
use std::time::Instant;

impl<'a> HostRun<'a> {
    /// Why another host's `meta` ended this host's play.
    pub(super) fn ended_by(&self) -> String {
        match self.r.play_over.load(std::sync::atomic::Ordering::SeqCst) {
            true => "the play ended (meta: end_play)".into(),
            false => "the batch ended (meta: end_batch)".into(),
        }
    }

    /// `ignore_unreachable`: the task's line says the host was unreachable, and the play goes
    /// on. plumb does not connect again: the host's later tasks find it down too.
    pub(super) fn unreachable_ignored(&mut self, task: &Task, e: TransportError) {
        let msg = format!("unreachable, ignored (ignore_unreachable): {}", e.0);
        let mut o = Outcome::new(Status::Ok, msg);
        o.value["unreachable"] = Value::Bool(true);
        self.finish(task, false, &[], vec![o], false, Instant::now());
        self.down = Some(e.0.clone());
        self.t = Box::new(crate::transport::down::Down(e.0));
    }

    pub(super) fn flush_handlers(&mut self) -> std::result::Result<(bool, bool), TransportError> {
        let mut changed = false;
        let mut failed = false;
        // Handlers run in the order they are defined, each at most once per flush; a handler
        // may notify a later one.
        for (i, h) in self.play.handlers.iter().enumerate() {
            let Some(p) = self.notes.take(i) else {
                continue;
            };
            let res = self.run_task(h, true, &p.by, p.certain);
            self.notes.done();
            let (mut status, _) = res?;
            if status == Status::MayChange {
                status = Status::Changed;
            }
            changed |= status == Status::Changed;
            if self.ended {
                return Ok((false, changed));
            }
            if status == Status::Failed && !self.ignores(h) {
                // Under `force_handlers` the host has failed, and its other handlers run.
                if !self.forces_handlers() {
                    return Ok((true, changed));
                }
                failed = true;
            }
        }
        Ok((failed, changed))
    }

    /// Whether a failure of the task is ignored: `ignore_errors`, templated ones evaluated
    /// with what the host knows now (an expression that does not evaluate ignores nothing).
    /// The variables `task`'s keywords are judged with (its own `vars` over the host's).
    fn task_vars(&self, task: &Task) -> crate::template::Vars {
        let (m, deferred) = (self.known_vars(), self.deferred.clone());
        TaskInstance::new(task, &m, &deferred).vars()
    }

    /// The task with its templated `no_log` and `ignore_errors` judged for this host, before
    /// it starts (its line says whether its output is hidden, whether a failure is ignored);
    /// None when it has neither. A `no_log` that cannot be judged keeps the output hidden.
    pub(super) fn judged(&self, task: &Task) -> Option<Task> {
        if task.no_log_if.is_none() && task.ignore_errors_if.is_none() {
            return None;
        }
        let mut t = task.clone();
        if let Some(c) = &task.no_log_if {
            let vars = self.task_vars(task);
            t.no_log = vars.condition(&c.value, &c.loc).unwrap_or(true);
            t.no_log_if = None;
        }
        if task.ignore_errors_if.is_some() {
            t.ignore_errors = self.ignores(task);
            t.ignore_errors_if = None;
        }
        // A throttle's permit is held by the caller, keyed by the task as written.
        t.throttle = 0;
        Some(t)
    }

    pub(super) fn ignores(&self, task: &Task) -> bool {
        task.ignore_errors
            || task.ignore_errors_if.as_ref().is_some_and(|c| {
                (self.task_vars(task))
                    .condition(&c.value, &c.loc)
                    .unwrap_or(false)
            })
    }

    /// Aggregates items into the task's line, registers the result, notifies handlers.
    pub(super) fn finish(
        &mut self,
        task: &Task,
        handler: bool,
        by: &[String],
        outcomes: Vec<Outcome>,
        looped: bool,
        start: Instant,
    ) -> (Status, Value) {
        let (status, value) = crate::outcome::aggregate(&outcomes, looped);
        // Facts a module returns (`setup`, `service_facts`, `hostname` ...) join the host's.
        let sets_vars = crate::modules::registry::sets_vars(&task.module);
        for o in outcomes.iter().filter(|_| !sets_vars) {
            if o.status != Status::Failed
                && let Some(Value::Object(af)) = o.value.get("ansible_facts")
            {
                self.merge_facts(af);
            }
        }
        if let Some(r) = &task.register {
            self.registered.insert(r.clone(), value.clone());
            self.set_vars([r]);
            let mut seen = Map::new();
            seen.insert(r.clone(), value.clone());
            crate::hostvars::register(&self.host.name, &seen);
        }
        if self.check() {
            // What the plan knows of what it registered and set, for the tasks after it.
            let sets = crate::modules::registry::defined_vars(
                &task.module,
                &task.args,
                self.r.playbook_dir,
                task.role_dir.as_deref(),
            );
            self.dry.finish(task, sets, status, looped);
        }
        // The task's variables, built only for a templated name.
        let vars = std::cell::OnceCell::new();
        let render = |s: &str| {
            let vars = vars.get_or_init(|| self.task_vars(task));
            (vars
                .render_value(&Value::String(s.to_string()), &task.loc)
                .ok())
            .and_then(|v| v.as_str().map(String::from))
        };
        let mut outcomes = outcomes;
        let mut status = status;
        let notified = match crate::notify::handlers_of(&self.play.handlers, task, &render) {
            Ok(n) => n,
            // A notification that names no handler fails the task, as in Ansible.
            Err(e) if matches!(status, Status::Changed | Status::MayChange) => {
                outcomes.push(Outcome::new(Status::Failed, e));
                status = Status::Failed;
                Vec::new()
            }
            Err(_) => Vec::new(),
        };
        let name = self.line_name(task);
        self.notes.notify(&name, status, notified);
        // A failure that a block's rescue handles is said so on the task's line.
        let rescued =
            task.blocks.iter().rev().any(|b| {
                b.section == crate::block::Section::Main && self.play.blocks[b.id].has_rescue
            });
        let line = Line {
            handler,
            by,
            rescued,
            check: self.check(),
        };
        let report = line.report(task, name, status, &outcomes, start.elapsed());
        let _ = self.tx.send(Event::Task {
            host: self.host.name.clone(),
            task: report,
        });
        (status, value)
    }
}
