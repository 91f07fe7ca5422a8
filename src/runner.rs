//! Runs a playbook: checks everything that can be checked before touching a host, then runs
//! each play's hosts in parallel (in `serial` batches), collecting results as events.

use crate::error::{Error, Result};
use crate::event::Event;
use crate::host_run::{HostRun, Shared};
use crate::host_vars::{host_vars_full, placeholder_result, split_unresolved, var_error, var_loc};
use crate::inventory::{Host, Inventory};
use crate::options::Options;
use crate::outcome::HostStatus;
use crate::playbook::{Play, Playbook};
use crate::report::Report;
use crate::serial::{StopRule, batches};
use crate::task_instance::{LoopError, TaskInstance};
use crate::template::Vars;
use serde_json::{Map, Value, json};
use std::collections::{BTreeSet, VecDeque};
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

pub(crate) struct Runner<'a> {
    pub(crate) pb: &'a Playbook,
    pub(crate) inv: &'a Inventory,
    pub(crate) opts: &'a Options,
    /// Set when a host fails in a play with `any_errors_fatal`: the others stop before their
    /// next task.
    pub(crate) abort: AtomicBool,
    /// The sudo password for `become`, if one was given.
    pub(crate) become_pass: Option<String>,
}

impl<'a> Runner<'a> {
    pub(crate) fn new(pb: &'a Playbook, inv: &'a Inventory, opts: &'a Options) -> Runner<'a> {
        Runner {
            pb,
            inv,
            opts,
            abort: AtomicBool::new(false),
            become_pass: None,
        }
    }

    /// A play's hosts: its pattern, `--limit`, then `--shard` (a slice of the hosts of every
    /// play together, so a host is in one slice for the whole run).
    pub(crate) fn selected(&self, play: &Play) -> Result<Vec<&'a Host>> {
        let mut hosts = self.unsharded(play)?;
        if let Some(shard) = &self.opts.shard {
            let everyone: Vec<&Host> = self
                .pb
                .plays
                .iter()
                .filter_map(|p| self.unsharded(p).ok())
                .flatten()
                .collect();
            let mine = shard.select(everyone.iter().map(|h| h.name.as_str()));
            hosts.retain(|h| mine.contains(&h.name));
        }
        Ok(hosts)
    }

    fn unsharded(&self, play: &Play) -> Result<Vec<&'a Host>> {
        let mut hosts = self.inv.select(&play.hosts).map_err(|e| match e {
            Error::Usage(m) => Error::input(play.hosts_loc.clone(), m),
            other => other,
        })?;
        if let Some(limit) = &self.opts.limit {
            let allowed: BTreeSet<&str> = self
                .inv
                .select(limit)
                .map_err(|e| match e {
                    Error::Usage(m) => Error::Usage(format!("--limit {limit}: {m}")),
                    other => other,
                })?
                .iter()
                .map(|h| h.name.as_str())
                .collect();
            hosts.retain(|h| allowed.contains(h.name.as_str()));
        }
        Ok(hosts)
    }

    /// Everything that can be wrong without a host: host patterns, connection settings,
    /// templates, `when` expressions, loops, module arguments, local files.
    pub(crate) fn validate(&self) -> Result<()> {
        crate::magic::install_hostvars(self.inv, &self.opts.extra_vars);
        let mut errors: Vec<Error> = Vec::new();
        let mut seen: BTreeSet<String> = BTreeSet::new();
        let mut push = |e: Error, errors: &mut Vec<Error>| {
            let key = match &e {
                Error::Input { loc, msg, .. } => format!("{loc:?}{msg}"),
                other => other.to_string(),
            };
            if seen.insert(key) {
                errors.push(e);
            }
        };
        let mut any_host = false;
        for play in &self.pb.plays {
            let hosts = match self.selected(play) {
                Ok(h) => h,
                Err(e) => {
                    push(e, &mut errors);
                    continue;
                }
            };
            any_host |= !hosts.is_empty();
            // Names only known on the host: registered results, what a `rescue` sees.
            let mut runtime: BTreeSet<String> = play
                .tasks
                .iter()
                .chain(&play.handlers)
                .filter_map(|t| t.register.clone())
                .collect();
            let registers: Vec<String> = runtime.iter().cloned().collect();
            // What `set_fact` and `include_vars` define, as far as known before the run.
            for t in play.tasks.iter().chain(&play.handlers) {
                match t.module.as_str() {
                    "set_fact" => runtime.extend(crate::modules::set_fact::names(&t.args.map)),
                    "include_vars" => runtime.extend(crate::modules::include_vars::static_names(
                        &t.args,
                        &self.pb.dir,
                        t.role_dir.as_deref(),
                    )),
                    _ => {}
                }
            }
            runtime.extend(["ansible_failed_task".into(), "ansible_failed_result".into()]);
            // Other hosts' entries grow as they run (facts, set_fact, registered results).
            runtime.insert("hostvars".into());
            // A play variable may also read what a task defines (a role's parameters, a loop
            // item): rendered per task, as Ansible does.
            let mut waits_for = runtime.clone();
            for t in play.tasks.iter().chain(&play.handlers) {
                waits_for.extend(t.vars.keys().cloned());
                waits_for.insert(t.loop_var.clone());
                waits_for.extend(t.index_var.clone());
            }
            // Whether the host's facts will be known: gathered, or returned by a task.
            let facts = play.gather_facts
                || play.tasks.iter().any(|t| {
                    matches!(
                        t.module.as_str(),
                        "setup" | "service_facts" | "package_facts" | "hostname"
                    )
                });
            let magic = crate::magic::play_magic(self.inv, self.opts, &hosts, &hosts);
            for host in hosts {
                let (mut base, unresolved) = host_vars_full(
                    host,
                    play,
                    &play.dir,
                    &self.opts.extra_vars,
                    &Map::new(),
                    &magic,
                );
                // Facts are only known on the host: what reads them waits for them.
                let mut waits_for = waits_for.clone();
                if facts {
                    waits_for.extend(
                        unresolved
                            .iter()
                            .flat_map(|u| crate::template::names_in(&u.value))
                            .filter(|n| is_fact_name(n) && !base.contains_key(n)),
                    );
                }
                if let Err(e) = crate::connection::connection_check(host, &base) {
                    push(e, &mut errors);
                }
                // Variables that read a registered result, a task's vars or a loop item wait
                // for them (rendered per task); every other one that does not render is an
                // error where it is written.
                let (deferred, broken) = split_unresolved(&unresolved, &waits_for);
                let deferred: Map<String, Value> = unresolved
                    .iter()
                    .filter(|u| deferred.contains(&u.name))
                    .map(|u| (u.name.clone(), u.value.clone()))
                    .collect();
                // Those are rendered later, but their syntax, filters and tests are known now.
                let checker = Vars::new(base.clone());
                for (name, value) in &deferred {
                    let at = var_loc(host, play, &self.opts.extra_vars, name);
                    let here = at.clone().unwrap_or_else(|| play.vars_loc.clone());
                    if let Err(e) = checker.check_value(value, &here, &mut BTreeSet::new()) {
                        push(var_error(name, &e, at.is_some()), &mut errors);
                    }
                }
                for e in broken {
                    push(e, &mut errors);
                }
                for r in &registers {
                    base.insert(r.to_string(), placeholder_result());
                }
                if !play.blocks.is_empty() {
                    base.insert(
                        "ansible_failed_task".into(),
                        json!({"name": "", "action": ""}),
                    );
                    base.insert("ansible_failed_result".into(), placeholder_result());
                }
                // Values of these are only known on the host.
                let mut later = runtime.clone();
                later.extend(unresolved.iter().map(|u| u.name.clone()));
                for task in play.tasks.iter().chain(&play.handlers) {
                    if let Err(e) = self.check_task(task, &base, &deferred, &later, facts) {
                        push(e, &mut errors);
                    }
                }
            }
        }
        if !any_host && errors.is_empty() {
            let what = match &self.opts.limit {
                Some(l) => format!("no host matches both the plays' `hosts` and --limit `{l}`"),
                None => "no host in the inventory matches any play's `hosts`".into(),
            };
            return Err(Error::Usage(what));
        }
        match errors.len() {
            0 => Ok(()),
            1 => Err(errors.pop().unwrap()),
            _ => Err(Error::Many(errors)),
        }
    }

    /// One task, whatever its `when` or loop says: every template's syntax, filters, tests
    /// and functions, and every condition; then, where the values are known (nothing it
    /// reads is in `later`), it is rendered and its module arguments built for every loop
    /// item, as the host would.
    fn check_task(
        &self,
        task: &crate::task::Task,
        base: &Map<String, Value>,
        deferred: &Map<String, Value>,
        later: &BTreeSet<String>,
        facts: bool,
    ) -> Result<()> {
        let mut m = base.clone();
        m.extend(task.vars.clone());
        let vars = Vars::new(m.clone());
        let mut names = BTreeSet::new();
        for (k, v) in &task.args.map {
            vars.check_value(v, task.args.loc_of(k), &mut names)?;
        }
        for w in &task.when {
            vars.check_condition(&w.value, &w.loc, &mut names)?;
        }
        for c in [&task.changed_when, &task.failed_when, &task.until]
            .into_iter()
            .flatten()
        {
            vars.check_condition(&c.value, &c.loc, &mut names)?;
        }
        if let Some(l) = &task.loop_items {
            vars.check_value(&l.value, &l.loc, &mut names)?;
        }
        for v in task.environment.values() {
            vars.check_value(&v.value, &v.loc, &mut names)?;
        }
        for (k, v) in &task.vars {
            match task.var_locs.get(k) {
                Some(at) => vars.check_value(v, at, &mut names)?,
                // Inherited (a block's, a role's): no place of its own; said at the task.
                None => vars
                    .check_value(v, &task.loc, &mut names)
                    .map_err(|err| task_var_error(task, k, err))?,
            }
        }
        // Which registered results it reads, by the templates' own variable names. Such a
        // task is rendered with stand-ins for them, and only an undefined variable that is
        // none of those is an error (the rest depends on values only the host has).
        let m = base.clone();
        // With facts gathered, the `ansible_*` names it reads that nothing else defines are
        // the host's facts.
        let mut later = later.clone();
        if facts {
            later.extend(
                names
                    .iter()
                    .filter(|n| is_fact_name(n) && !base.contains_key(*n))
                    .cloned(),
            );
        }
        if names.iter().any(|n| later.contains(n)) {
            return match self.render_items(task, m, deferred, &names) {
                Err(e)
                    if undefined_root(&e).is_some_and(|n| {
                        !later.contains(n) && n != task.loop_var && m_has_not(base, task, n)
                    }) =>
                {
                    Err(e)
                }
                _ => Ok(()),
            };
        }
        self.render_items(task, m, deferred, &names)
    }

    /// Renders the task for every loop item, as the host would (see `check_task`).
    fn render_items(
        &self,
        task: &crate::task::Task,
        m: Map<String, Value>,
        deferred: &Map<String, Value>,
        reads: &BTreeSet<String>,
    ) -> Result<()> {
        let inst = TaskInstance::new(task, &m, deferred);
        let vars = inst.vars();
        let items = match inst.items(&vars) {
            Ok(items) => items,
            Err(LoopError::Render(e)) => return Err(e),
            Err(e @ LoopError::NotAList(_)) => {
                let at = task.loop_items.as_ref().map(|l| l.loc.clone());
                return Err(Error::input(at, e.message()));
            }
        };
        if items.is_empty() {
            // Nothing to run: the arguments are built if they render without an item.
            return match self.render_task(&inst, vars) {
                Err(err) => unguarded(err),
                Ok(()) => Ok(()),
            };
        }
        for item in items {
            let (vars, failed) = inst.item_vars(item.as_ref());
            // A variable of its own it reads that does not render (one it does not read may
            // be meant for another task of its role or block).
            let failed = failed
                .into_iter()
                .filter(|u| task.vars.contains_key(&u.name) && reads.contains(&u.name));
            let run = inst.when(&vars)?;
            let rendered = match failed.into_iter().next() {
                Some(u) => Err((Stage::Render, task_var_error(task, &u.name, u.err))),
                None => self.render_task(&inst, vars),
            };
            match rendered {
                Err((_, e)) if run => return Err(e),
                Err(err) => unguarded(err)?,
                Ok(()) => {}
            }
        }
        Ok(())
    }

    /// Renders a task's environment, conditions on its result and arguments, and builds its
    /// module, as the host would. An error says whether the module's build found it.
    fn render_task(
        &self,
        inst: &TaskInstance,
        vars: Vars,
    ) -> std::result::Result<(), (Stage, Error)> {
        let task = inst.task;
        let render = |e: Error| (Stage::Render, e);
        for v in task.environment.values() {
            vars.render_value(&v.value, &v.loc).map_err(render)?;
        }
        for c in [&task.changed_when, &task.failed_when, &task.until]
            .into_iter()
            .flatten()
        {
            inst.with_result(&vars, &placeholder_result())
                .condition(&c.value, &c.loc)
                .map_err(render)?;
        }
        let rendered = inst.args(&vars).map_err(render)?;
        // The directory of the playbook the task's play is in (`playbook_dir`).
        let dir = vars
            .map()
            .get("playbook_dir")
            .and_then(Value::as_str)
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| self.pb.dir.clone());
        inst.build(rendered, &vars, &dir)
            .map_err(|e| (Stage::Build, e))?;
        Ok(())
    }

    /// Runs every play; returns the retry file written, if any host failed.
    pub(crate) fn run(&self, report: &mut Report) -> Result<Option<String>> {
        crate::magic::install_hostvars(self.inv, &self.opts.extra_vars);
        let mut dead: BTreeSet<String> = BTreeSet::new();
        for play in &self.pb.plays {
            let hosts: Vec<&Host> = self
                .selected(play)?
                .into_iter()
                .filter(|h| !dead.contains(&h.name))
                .collect();
            report.event(Event::Play {
                name: play.name.clone().unwrap_or_else(|| play.hosts.clone()),
                hosts: hosts.len(),
                check: self.opts.check,
            });
            self.abort.store(false, Ordering::SeqCst);
            let serial = self.opts.serial.as_ref().unwrap_or(&play.serial);
            let rule = StopRule {
                any_errors_fatal: play.any_errors_fatal,
                max_fail_percentage: play.max_fail_percentage,
            };
            let mut stopped: Option<String> = None;
            for batch in batches(&hosts, serial) {
                if let Some(why) = &stopped {
                    for h in batch {
                        report.event(Event::Host {
                            host: h.name.clone(),
                            status: HostStatus::NotRun,
                            msg: why.clone(),
                            duration: Duration::ZERO,
                        });
                    }
                    continue;
                }
                let statuses = self.run_batch(play, &hosts, batch, report);
                let mut failed = 0usize;
                for (name, s) in statuses {
                    if matches!(s, HostStatus::Failed | HostStatus::Unreachable) {
                        failed += 1;
                        dead.insert(name);
                    }
                }
                stopped = rule.after_batch(batch.len(), failed);
            }
        }
        let bad: Vec<&str> = report
            .hosts()
            .iter()
            .filter(|h| {
                matches!(
                    h.status,
                    HostStatus::Failed | HostStatus::Unreachable | HostStatus::NotRun
                )
            })
            .map(|h| h.host.as_str())
            .collect();
        if bad.is_empty() || self.opts.check {
            return Ok(None);
        }
        let stem = self
            .pb
            .path
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_else(|| "playbook".into());
        let dir = std::env::var_os("PLUMB_RETRY_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| crate::paths::home().join(".local/state/plumb"));
        let path = dir.join(format!("{stem}.retry"));
        std::fs::create_dir_all(&dir).map_err(Error::with_path(&dir))?;
        std::fs::write(&path, bad.join("\n") + "\n").map_err(Error::with_path(&path))?;
        Ok(Some(path.display().to_string()))
    }

    /// One batch: every host on its own thread (up to `forks`), none waiting for another.
    fn run_batch(
        &self,
        play: &Play,
        play_hosts: &[&Host],
        hosts: &[&Host],
        report: &mut Report,
    ) -> Vec<(String, HostStatus)> {
        let queue = Mutex::new(hosts.iter().copied().collect::<VecDeque<&Host>>());
        let (tx, rx) = mpsc::channel::<Event>();
        let workers = self.opts.forks.max(1).min(hosts.len());
        let mut statuses = Vec::new();
        let magic = crate::magic::play_magic(self.inv, self.opts, play_hosts, hosts);
        let shared = Shared {
            magic: &magic,
            opts: self.opts,
            playbook_dir: &play.dir,
            become_pass: self.become_pass.as_deref(),
            abort: &self.abort,
        };
        let shared = &shared;
        std::thread::scope(|s| {
            for _ in 0..workers {
                let tx = tx.clone();
                let queue = &queue;
                s.spawn(move || {
                    loop {
                        let Some(host) = queue.lock().expect("queue lock").pop_front() else {
                            break;
                        };
                        HostRun::run(shared, play, host, &tx);
                    }
                });
            }
            drop(tx);
            for ev in rx {
                if let Event::Host { host, status, .. } = &ev {
                    statuses.push((host.clone(), *status));
                }
                report.event(ev);
            }
        });
        statuses
    }
}

/// A task variable that did not render: where it is written, else at the task.
fn task_var_error(task: &crate::task::Task, name: &str, err: Error) -> Error {
    match err {
        Error::Input { loc, msg, hint, .. } => Error::Input {
            // The message now says more than that a variable is undefined.
            undefined: None,
            loc: Some(match task.var_locs.get(name) {
                Some(_) => loc.unwrap_or_else(|| task.loc.clone()),
                None => task.loc.clone(),
            }),
            msg: format!("variable `{name}`: {msg}"),
            hint,
        },
        other => other,
    }
}

/// Where `render_task` found an error.
enum Stage {
    Render,
    Build,
}

/// An error of a task that does not run here (behind a false `when`, or a loop with no
/// item), if it is one whatever the guard: the module's arguments, once they render. What
/// the guard may be there for is not: values (`when: x is defined`), a local file only some
/// hosts have. Template syntax, filters and tests were checked before, unguarded.
fn unguarded((stage, e): (Stage, Error)) -> Result<()> {
    let missing_file = matches!(&e, Error::Input { msg, .. }
        if (msg.starts_with("file `") || msg.starts_with("template `")) && msg.ends_with("` not found"));
    match stage {
        Stage::Build if !is_undefined(&e) && !missing_file => Err(e),
        _ => Ok(()),
    }
}

/// A name a host's gathered facts may define: `ansible_facts` or an injected `ansible_*`.
fn is_fact_name(name: &str) -> bool {
    name == "ansible_facts" || name.starts_with("ansible_")
}

/// An undefined variable, which a false `when` or an empty loop may be guarding.
fn is_undefined(e: &Error) -> bool {
    undefined_root(e).is_some()
}

/// The root name of the undefined variable an error is about (`r` of `r.stat.exists`).
fn undefined_root(e: &Error) -> Option<&str> {
    let Error::Input { msg, .. } = e else {
        return None;
    };
    let name = msg
        .split("undefined variable `")
        .nth(1)?
        .split('`')
        .next()?;
    name.split(['.', '[']).next()
}

/// Whether `name` is defined neither for the play nor by the task's own `vars`.
fn m_has_not(base: &Map<String, Value>, task: &crate::task::Task, name: &str) -> bool {
    !base.contains_key(name) && !task.vars.contains_key(name)
}
