//! One host through one play: connect, probe every task in one round trip, then plan and apply
//! task by task (re-probing only what an earlier change may have touched), then handlers.

mod delegate;
mod handlers;
mod item;
mod iteration;
mod prefetch;
mod reconnect;
mod task_line;

use crate::dry_run::DryRun;
use crate::event::{Event, Log};
use crate::fact_cache::FactCache;
use crate::host_vars::host_vars_full;
use crate::inventory::Host;
use crate::item_batch::ItemBatch;
use crate::modules::Resource;
use crate::notify::Notifications;
use crate::options::Options;
use crate::outcome::{HostStatus, Outcome, Status};
use crate::play::Play;
use crate::task::Task;
use crate::task_instance::TaskInstance;
use crate::transport::local::Local;
use crate::transport::{Transport, TransportError};
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// A host's variables before a task's own, and the part of them above the task's `vars`.
type Known = (Arc<Map<String, Value>>, Arc<Map<String, Value>>);
use std::sync::mpsc::Sender;
use std::time::Instant;

/// What every host of a run shares, from the runner.
pub(crate) struct Shared<'a> {
    pub(crate) opts: &'a Options,
    /// The play's magic variables (`magic.rs`).
    pub(crate) magic: &'a Map<String, Value>,
    /// Where relative `src`, `template` and `ca_path` files are read from.
    pub(crate) playbook_dir: &'a std::path::Path,
    /// The sudo password for `become`, if one was given.
    pub(crate) become_pass: Option<&'a str>,
    /// Set when a host fails in a play with `any_errors_fatal`: the others stop before their
    /// next task.
    pub(crate) abort: &'a std::sync::atomic::AtomicBool,
    /// Where `meta: end_play` ended the play (a task's index, `usize::MAX` while it goes
    /// on): every host stops there, none failed. Hosts run free, so one that is behind runs up
    /// to that task, as Ansible's hosts all reach it; one already past it (its own `when` was
    /// false) stops before its next task.
    pub(crate) end_play: &'a std::sync::atomic::AtomicUsize,
    /// Set with it by `end_play` (not `end_batch`): the play's later batches do not run.
    pub(crate) play_over: &'a std::sync::atomic::AtomicBool,
}

pub(crate) struct HostRun<'a> {
    r: &'a Shared<'a>,
    play: &'a Play,
    host: &'a Host,
    tx: &'a Sender<Event>,
    t: Box<dyn Transport>,
    /// How `t` reaches the host: a task whose connection differs runs elsewhere (`Via`).
    own: crate::conn_type::ConnType,
    local: Local,
    /// Connections to the hosts tasks are delegated to (`delegate_to`), by name.
    delegates: std::collections::HashMap<String, Box<dyn Transport>>,
    base: Map<String, Value>,
    /// Play variables that did not render at the start (they read a registered result, a
    /// task's vars or the loop item), as written: rendered for each task by
    /// `host_vars::task_item_vars` (validation rejected every other one).
    deferred: Map<String, Value>,
    /// The host's variables as written, to find those that read what a task set.
    lazy: std::cell::OnceCell<crate::lazy_vars::LazyVars>,
    /// Variables rendered at the start that read what a task set since: in `deferred` too,
    /// and kept there when the facts change it.
    rerendered: Map<String, Value>,
    /// Registered results and `set_fact` variables (one level in Ansible), this play's and
    /// earlier plays'.
    registered: Map<String, Value>,
    /// `include_vars` variables: below `set_fact`, above task vars; also earlier plays'.
    included: Map<String, Value>,
    /// `known_vars()` and `over()`, built once until `base`, `registered` or `included`
    /// change (`vars_changed`): each build copies every variable of the host, facts included.
    known: std::cell::OnceCell<Known>,
    facts: FactCache,
    /// Loop items the batched probe built that the run would build alike (see prepared.rs).
    prepared: crate::prepared::Prepared,
    /// The host's facts (`ansible_facts`), once gathered.
    gathered: Option<Map<String, Value>>,
    /// Why gathering facts failed: the host stops before its first task.
    facts_error: Option<String>,
    /// The play gathers facts, but nothing loaded so far reads them: not gathered yet
    /// (`fact_need.rs`).
    facts_skipped: bool,
    notes: Notifications,
    dry: DryRun,
    /// Why the host stopped early, when it was not its own task that failed.
    stop_msg: String,
    /// The current task has `no_log`.
    quiet: bool,
    /// The current task's name as its line shows it (see `start_line`), by its location.
    shown: Option<(crate::location::Location, String)>,
    /// A `meta: end_host` or `end_play` ran: the host's play ends, not failed.
    ended: bool,
    /// The role instance a `meta: end_role` ended: the rest of its tasks are skipped.
    ended_role: Option<usize>,
    /// Why the host cannot be reached, once known (`ignore_unreachable` let it go on).
    down: Option<String>,
    /// The index of the task the host is at (in `play.tasks`).
    pos: usize,
}

impl<'a> HostRun<'a> {
    pub(crate) fn run(r: &'a Shared<'a>, play: &'a Play, host: &'a Host, tx: &'a Sender<Event>) {
        let start = Instant::now();
        let _ = tx.send(Event::HostStart {
            host: host.name.clone(),
        });
        let (base, unresolved) = host_vars_full(
            host,
            play,
            r.playbook_dir,
            &r.opts.extra_vars,
            &Map::new(),
            r.magic,
        );
        let deferred: Map<String, Value> =
            unresolved.into_iter().map(|u| (u.name, u.value)).collect();
        let done = |status: HostStatus, msg: String| {
            let _ = tx.send(Event::Host {
                host: host.name.clone(),
                status,
                msg,
                duration: start.elapsed(),
            });
        };
        let fatal = || {
            if play.any_errors_fatal {
                r.abort.store(true, std::sync::atomic::Ordering::SeqCst);
            }
        };
        let detail = |text: String| {
            let _ = tx.send(Event::Detail {
                host: host.name.clone(),
                text,
            });
        };
        let mut down = None;
        let own =
            crate::conn_type::ConnType::effective(base.get("ansible_connection"), play.connection);
        let t = match crate::connection::connect(r.opts, r.become_pass, play, &base, own, &detail) {
            Ok(t) => t,
            // Its tasks say so one by one, and those that ignore it go on.
            Err(e) if ignores_down(play) => {
                detail(format!("unreachable: {}", e.0));
                down = Some(e.0.clone());
                Box::new(crate::transport::down::Down(e.0))
            }
            Err(e) => {
                fatal();
                return done(HostStatus::Unreachable, e.0);
            }
        };
        // What earlier plays set on the host (`include_vars`, `set_fact`, registered results)
        // stays its own for the rest of the run, as in Ansible.
        let (included, registered) = crate::hostvars::carried(&host.name);
        let mut local = Local::new();
        local.set_become_password(r.become_pass.map(str::to_string));
        let mut hr = HostRun {
            r,
            play,
            host,
            tx,
            t,
            own,
            local,
            delegates: Default::default(),
            base,
            deferred,
            lazy: std::cell::OnceCell::new(),
            rerendered: Map::new(),
            registered,
            included,
            known: std::cell::OnceCell::new(),
            facts: FactCache::default(),
            prepared: Default::default(),
            gathered: None,
            facts_error: None,
            facts_skipped: false,
            notes: Notifications::default(),
            dry: crate::dry_run::carried(&host.name),
            stop_msg: String::new(),
            quiet: false,
            shown: None,
            ended: false,
            ended_role: None,
            down,
            pos: 0,
        };
        // What earlier plays set counts as set now for this play's variables that read it.
        let carried: Vec<String> = (hr.registered.keys())
            .chain(hr.included.keys())
            .cloned()
            .collect();
        if !carried.is_empty() {
            hr.set_vars(&carried);
        }
        let result = hr.run_play();
        crate::dry_run::keep(&host.name, std::mem::take(&mut hr.dry));
        hr.t.close();
        for t in hr.delegates.values_mut() {
            t.close();
        }
        match result {
            Ok((false, changed)) => done(
                if changed {
                    HostStatus::Changed
                } else {
                    HostStatus::Ok
                },
                hr.stop_msg,
            ),
            Ok((true, _)) => {
                fatal();
                done(HostStatus::Failed, hr.stop_msg)
            }
            Err(TransportError(msg)) => {
                fatal();
                done(HostStatus::Unreachable, msg)
            }
        }
    }

    /// -v detail; nothing of a `no_log` task is shown.
    fn detail(&self, level: u8, text: String) {
        self.log().detail(level, text);
    }

    fn log(&self) -> Log<'a> {
        Log {
            tx: self.tx,
            host: &self.host.name,
            verbose: self.r.opts.verbose,
            quiet: self.quiet,
        }
    }

    fn check(&self) -> bool {
        self.r.opts.check
    }

    /// Returns (failed, changed).
    fn run_play(&mut self) -> std::result::Result<(bool, bool), TransportError> {
        let (failed, changed) = self.run_tasks()?;
        // `force_handlers`: what was notified before the host failed still runs, as in Ansible
        // (a handler that fails then does not stop the others).
        if failed && self.forces_handlers() && !self.ended {
            let (_, c) = self.flush_handlers()?;
            return Ok((true, changed || c));
        }
        Ok((failed, changed))
    }

    /// `force_handlers` on the play, or `--force-handlers`.
    fn forces_handlers(&self) -> bool {
        self.play.force_handlers || self.r.opts.force_handlers
    }

    /// The play's tasks, then its handlers. Returns (failed, changed).
    fn run_tasks(&mut self) -> std::result::Result<(bool, bool), TransportError> {
        // Two runs on one host must not interleave. A dry run takes no lock: it changes nothing
        // and must leave nothing behind, not even a lock file. A real run takes the lock and
        // probes in the same exec, so the probe sees the host as no other run can change it.
        let lock = (!self.check()).then_some(self.r.opts.lock_timeout);
        match self.prefetch(lock) {
            Ok(crate::transport::Lock::Held) => {}
            Ok(crate::transport::Lock::TimedOut) => {
                if let Some(wait) = lock {
                    self.stop_msg = format!(
                        "another plumb run held the host's plumb lock for {} s; giving up (see --lock-timeout)",
                        wait.as_secs()
                    );
                }
                return Ok((true, false));
            }
            Ok(crate::transport::Lock::Refused(why)) => {
                self.stop_msg = format!("cannot take the plumb lock: {why}");
                return Ok((true, false));
            }
            // Unreachable: the tasks that ignore it go on, each one saying so.
            Err(e) if ignores_down(self.play) => {
                self.down = Some(e.0.clone());
                self.t = Box::new(crate::transport::down::Down(e.0));
            }
            Err(e) => return Err(e),
        }
        if let Some(e) = self.facts_error.take() {
            self.stop_msg = format!("gathering facts: {e}");
            return Ok((true, false));
        }
        let mut changed = false;
        let mut blocks = crate::block::Blocks::new(&self.play.blocks);
        let play = self.play;
        let tasks = &play.tasks;
        // The looped includes the host is inside, outermost first.
        let mut frames: Vec<crate::include_loop::Frame> = Vec::new();
        let mut next = 0;
        loop {
            // The end of a looped include's tasks: its next item, or what follows it.
            if let Some(f) = frames.last_mut()
                && next == f.end
            {
                f.at += 1;
                // A looped `include_role` runs its role anew for the next item.
                if let Some(r) = self.ended_role
                    && !tasks[f.header].roles.contains(&r)
                {
                    self.ended_role = None;
                }
                if f.at < f.items.len() {
                    next = f.header + 1;
                    // The blocks opened among its tasks close before the next item.
                    if !blocks.enter(&tasks[f.header].blocks) {
                        return Ok((true, changed));
                    }
                } else {
                    frames.pop();
                }
                continue;
            }
            let Some(written) = tasks.get(next) else {
                break;
            };
            let pos = next;
            next += 1;
            self.pos = pos;
            let owned;
            let task = match frames.is_empty() {
                true => written,
                false => {
                    owned = crate::include_loop::in_iteration(written, &frames);
                    &owned
                }
            };
            // A looped include's tasks, after its header.
            let body = task.include_loop.map(|n| &tasks[pos + 1..pos + 1 + n]);
            let flush = crate::modules::registry::steers_play(&task.module)
                && task
                    .args
                    .map
                    .get("_raw")
                    .and_then(Value::as_str)
                    .map(str::trim)
                    == Some("flush_handlers");
            // Not taken by --tags / --skip-tags: not run, not reported (flush_handlers always
            // is; other meta tasks follow tags, as in ansible-core 2.11 and later).
            // A looped include runs if one of its tasks is taken.
            let selected = match body {
                Some(b) => b.iter().any(|t| t.selected(&self.r.opts.tags)),
                None => flush || task.selected(&self.r.opts.tags),
            };
            // Its tasks run only in its items.
            if let Some(b) = body {
                next += b.len();
            }
            if !selected {
                continue;
            }
            // `meta: end_role`: the rest of that role (and of the roles it brings in) is not
            // run for this host, nor reported, as in Ansible.
            if let Some(r) = self.ended_role {
                if task.roles.contains(&r) {
                    continue;
                }
                self.ended_role = None;
            }
            // Leaving a block whose failure nothing rescued fails the host here; inside one,
            // tasks after a failure give way to its `rescue` and `always`.
            if !blocks.enter(&task.blocks) {
                return Ok((true, changed));
            }
            if !blocks.runs() {
                continue;
            }
            if self.r.abort.load(std::sync::atomic::Ordering::SeqCst) {
                self.stop_msg = "stopped: another host failed and any_errors_fatal is set".into();
                return Ok((true, changed));
            }
            // Notified handlers do not run after it, as in Ansible.
            if self.r.end_play.load(std::sync::atomic::Ordering::SeqCst) <= pos {
                self.stop_msg = self.ended_by();
                return Ok((false, changed));
            }
            if flush {
                let (f, c) = self.flush_handlers()?;
                changed |= c;
                if f {
                    return Ok((true, changed));
                }
                continue;
            }
            let (status, value) = if body.is_some() {
                let (status, value, frame) = self.start_loop(task, pos);
                if let Some(f) = frame {
                    next = pos + 1;
                    frames.push(f);
                    self.prefetch_items(&frames, body.unwrap_or_default());
                }
                (status, value)
            } else {
                match self.run_task(task, false, &[], true) {
                    Ok(r) => r,
                    Err(e) if task.ignore_unreachable => {
                        self.unreachable_ignored(task, e);
                        continue;
                    }
                    Err(e) => return Err(e),
                }
            };
            // An include's header changes nothing itself.
            changed |= body.is_none() && matches!(status, Status::Changed | Status::MayChange);
            if self.ended {
                return Ok((false, changed));
            }
            if status == Status::Failed && !self.ignores(task) {
                // A failure no rescue can make up for stops every host under any_errors_fatal.
                let rescued = task.blocks.iter().any(|b| {
                    b.section == crate::block::Section::Main && self.play.blocks[b.id].has_rescue
                });
                if task.any_errors_fatal && !rescued {
                    self.r
                        .abort
                        .store(true, std::sync::atomic::Ordering::SeqCst);
                }
                if !blocks.fail() {
                    return Ok((true, changed));
                }
                // What a `rescue` may look at, as in Ansible.
                self.registered.insert(
                    "ansible_failed_task".into(),
                    json!({"name": task.display_name(), "action": task.module}),
                );
                self.registered
                    .insert("ansible_failed_result".into(), value);
                self.set_vars(&["ansible_failed_task".into(), "ansible_failed_result".into()]);
            }
        }
        if !blocks.finish() {
            return Ok((true, changed));
        }
        if self.r.end_play.load(std::sync::atomic::Ordering::SeqCst) != usize::MAX {
            self.stop_msg = self.ended_by();
            return Ok((false, changed));
        }
        self.pos = self.play.tasks.len();
        let (f, c) = self.flush_handlers()?;
        Ok((f, changed || c))
    }

    /// Variables a task sees before its own `vars` and loop item (`host_vars::task_item_vars`
    /// adds those).
    fn known_vars(&self) -> Arc<Map<String, Value>> {
        self.known_and_over().0.clone()
    }

    /// What sits above a task's own `vars`: `include_vars`, then `set_fact` and registered
    /// results.
    fn over(&self) -> Arc<Map<String, Value>> {
        self.known_and_over().1.clone()
    }

    fn known_and_over(&self) -> &Known {
        self.known.get_or_init(|| {
            let mut over = self.included.clone();
            over.extend(self.registered.clone());
            let mut m = self.base.clone();
            m.extend(over.clone());
            // `-e` still wins.
            for (k, v) in self.r.opts.extra_vars.iter() {
                if over.contains_key(k) {
                    m.insert(k.clone(), v.clone());
                }
            }
            (Arc::new(m), Arc::new(over))
        })
    }

    /// `base`, `registered` or `included` changed: `known_vars()` is built again.
    fn vars_changed(&mut self) {
        self.known = std::cell::OnceCell::new();
    }

    /// A task set the variables `names` (`set_fact`, `include_vars`, `register`): those read
    /// by others (as written) render again, for each task, as Ansible renders them when read.
    fn set_vars<'n>(&mut self, names: impl IntoIterator<Item = &'n String>) {
        let changed: std::collections::BTreeSet<String> = names.into_iter().cloned().collect();
        let (host, play, extra) = (self.host, self.play, &self.r.opts.extra_vars);
        let lazy = (self.lazy).get_or_init(|| crate::lazy_vars::LazyVars::new(host, play, extra));
        let readers = lazy.readers(&changed);
        self.vars_changed();
        if readers.is_empty() {
            return;
        }
        self.rerendered.extend(readers.clone());
        self.deferred.extend(readers);
    }

    /// A task, or a handler (`handler`) notified `by` these tasks, `certain`ly or not.
    fn run_task(
        &mut self,
        task: &Task,
        handler: bool,
        by: &[String],
        certain: bool,
    ) -> std::result::Result<(Status, Value), TransportError> {
        let _permit = (task.throttle > 0)
            .then(|| crate::throttle::acquire(throttle_key(task), task.throttle));
        if let Some(t) = self.judged(task) {
            return self.run_task(&t, handler, by, certain);
        }
        let start = Instant::now();
        self.notes.next_task();
        self.dry.next_task();
        self.quiet = task.no_log;
        self.start_line(task);
        if let Some(why) = self.late_facts()? {
            let o = Outcome::new(Status::Failed, why);
            return Ok(self.finish(task, handler, by, vec![o], false, start));
        }
        let m = self.known_vars();
        let over = self.over();
        let batch = task
            .run_once
            .then(|| crate::play_lists::get("ansible_play_batch"))
            .flatten();
        if let Some(first) = batch
            .as_ref()
            .and_then(|b| b.get(0))
            .and_then(Value::as_str)
            && first != self.host.name
        {
            let o = Outcome::new(Status::Skipped, format!("run_once: runs on {first}"));
            return Ok(self.finish(task, handler, by, vec![o], false, start));
        }
        let deferred = self.deferred.clone();
        let inst = TaskInstance::new(task, &m, &deferred)
            .with_over(&over)
            .with_known(m.clone());
        // A plan does not loop over a result known only when applied (`r.stdout_lines`) as
        // over no items: the task may change.
        if self.check()
            && let Some(l) = &task.loop_items
            && let Some(o) =
                self.dry
                    .unknown_in(task, &[(&l.value, &l.loc, false)], &[&deferred, &task.vars])
        {
            if o.status == Status::MayChange {
                self.dry.simulate(vec![Resource::All]);
            }
            return Ok(self.finish(task, handler, by, vec![o], false, start));
        }
        let items = match inst.items(&inst.vars()) {
            Ok(items) => items,
            Err(e) => {
                let o = Outcome::new(Status::Failed, e.message());
                return Ok(self.finish(task, handler, by, vec![o], false, start));
            }
        };
        let looped = task.loop_items.is_some();
        // A loop's items are applied together (see item_batch.rs); a single run is not.
        let mut run = ItemBatch::new(looped);
        let mut seen = Vec::new();
        // `set_fact` and `include_vars` in a loop: each item sees what the ones before set.
        let sets_vars = crate::modules::registry::sets_vars(&task.module);
        // As in Ansible, an item that fails does not end the loop: the items after it run too.
        // Those that waited with it were planned on its success, so they are planned again.
        let mut n = 0;
        loop {
            while n < items.len() {
                let item = items[n].clone();
                if n > 0 && task.loop_pause > 0.0 {
                    // A pause between items: what came before is applied first.
                    self.apply_waiting(&inst, &mut run)?;
                    if let Some(k) = run.replan_from() {
                        seen.truncate(k);
                        n = k;
                        continue;
                    }
                    std::thread::sleep(std::time::Duration::from_secs_f64(task.loop_pause));
                }
                let (now, over) = match sets_vars {
                    true => (self.known_vars(), self.over()),
                    false => (Arc::default(), Arc::default()),
                };
                let fresh = TaskInstance::new(task, &now, &deferred).with_over(&over);
                let inst = if sets_vars { &fresh } else { &inst };
                let vars = inst.item_vars(item.as_ref()).0;
                // With the variables the task started with: nothing in the loop changes them.
                let ready = match sets_vars || !deferred.is_empty() {
                    true => None,
                    false => self.prepared.take(task, n, item.as_ref(), &m),
                };
                let o = self.run_item(inst, &vars, ready, &mut run)?;
                let failed = o.as_ref().is_some_and(|o| o.status == Status::Failed);
                run.slots.push(o);
                seen.push(item);
                n += 1;
                if failed {
                    // The items before it are applied first, as they come first.
                    self.apply_waiting(inst, &mut run)?;
                }
                if let Some(k) = run.replan_from() {
                    seen.truncate(k);
                    n = k;
                }
            }
            self.apply_waiting(&inst, &mut run)?;
            match run.replan_from() {
                Some(k) => {
                    seen.truncate(k);
                    n = k;
                }
                None => break,
            }
        }
        // A failed item says which it was (`loop_control.label`, else the item), as Ansible's
        // `failed: [host] (item=…)` does.
        let labels: Vec<(usize, String)> = (run.slots.iter().enumerate())
            .filter(|(_, o)| looped && o.as_ref().is_some_and(|o| o.status == Status::Failed))
            .filter_map(|(i, _)| {
                let item = seen.get(i)?.as_ref()?;
                let vars = inst.item_vars(Some(item)).0;
                let render = |l: &Value| vars.render_value(l, &task.loc).ok();
                Some((i, task.item_label(&item.value, render)))
            })
            .collect();
        let mut outcomes = run.outcomes(seen, &task.loop_var, task.index_var.as_deref());
        for (i, l) in labels {
            if let Some(o) = outcomes.get_mut(i) {
                o.msg = format!("(item={l}) {}", o.msg);
            }
        }
        // A handler notified only by tasks that may change may not need to run; one notified by
        // a certain change will run, even if what it then does depends on earlier changes.
        if handler {
            for o in outcomes.iter_mut() {
                o.status = Notifications::certain(o.status, certain, self.check());
            }
        }
        Ok(self.finish(task, handler, by, outcomes, looped, start))
    }
}

/// Whether a host that cannot be reached still runs the play: some task ignores it, and the
/// play gathers no facts (gathering them would fail it) unless the play itself ignores it.
fn ignores_down(play: &Play) -> bool {
    play.tasks.iter().any(|t| t.ignore_unreachable)
        && (play.ignore_unreachable || !play.gather_facts)
}

/// Which task a `throttle` counts hosts for: the task as written (its file as read, line and
/// column), the same for the copies a looped include's items run.
fn throttle_key(task: &Task) -> usize {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    let file = std::sync::Arc::as_ptr(&task.loc.file) as usize;
    (file, task.loc.line, task.loc.col).hash(&mut h);
    h.finish() as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A looped include's items run copies of its tasks: they count as the task written.
    #[test]
    fn a_copy_of_a_task_throttles_as_the_task() {
        let doc = crate::yaml::Doc::parse(
            "f.yml".into(),
            "- command: a\n  throttle: 1\n- command: b\n  throttle: 1\n",
            true,
        )
        .unwrap();
        let items = doc.items();
        let a = Task::parse(&doc, items[0], false).unwrap();
        let b = Task::parse(&doc, items[1], false).unwrap();
        let copy = crate::include_loop::with_vars(&a, [&Map::new()]);
        assert_eq!(throttle_key(&a), throttle_key(&copy));
        assert_ne!(throttle_key(&a), throttle_key(&b));
    }
}
