//! Runs a playbook: checks everything that can be checked before touching a host, then runs
//! each play's hosts in parallel (in `serial` batches), collecting results as events.

use crate::error::{Error, Result};
use crate::host_run::HostRun;
use crate::inventory::{Host, Inventory};
use crate::modules::{Action, BuildCtx};
use crate::playbook::{Play, Playbook, Serial};
use crate::report::{Event, HostStatus, Report};
use crate::template::{Vars, has_template};
use crate::transport::ssh::HostKeyChecking;
use serde_json::{Map, Value, json};
use std::collections::{BTreeSet, VecDeque};
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

pub struct Options {
    /// Dry run: read state, report, change nothing.
    pub check: bool,
    pub diff: bool,
    pub forks: usize,
    pub checking: HostKeyChecking,
    pub known_hosts: PathBuf,
    pub connect_timeout: Duration,
    pub command_timeout: Duration,
    /// Interval of SSH keepalives while waiting; zero: none.
    pub keepalive: Duration,
    pub extra_vars: Map<String, Value>,
    pub limit: Option<String>,
    /// `--tags` / `--skip-tags`: which tasks run (handlers run when notified, as in Ansible).
    pub tags: crate::tags::TagFilter,
    pub serial: Option<Vec<Serial>>,
    /// -v: probe results and commands sent; -vv: whole scripts and raw output.
    pub verbose: u8,
    /// How long to wait for another plumb run on the same host.
    pub lock_timeout: Duration,
    /// plumb.toml defaults, below the inventory's and the play's settings.
    pub default_user: Option<String>,
    pub default_key: Option<PathBuf>,
    /// `--shard K/N`: only this slice of the run's hosts.
    pub shard: Option<crate::shard::Shard>,
}

pub struct Runner<'a> {
    pub pb: &'a Playbook,
    pub inv: &'a Inventory,
    pub opts: &'a Options,
    /// Set when a host fails in a play with `any_errors_fatal`: the others stop before their
    /// next task.
    pub abort: AtomicBool,
    /// The sudo password for `become`, if one was given.
    pub become_pass: Option<String>,
}

/// A variable whose template did not render against the host's other variables: an error in
/// it, or a value only known on the host (a registered result). It is left out of the
/// variables (never kept as literal `{{ … }}` text) until it renders.
#[derive(Debug)]
pub struct Unresolved {
    pub name: String,
    /// As written.
    pub value: Value,
    pub err: Error,
    /// Whether `err`'s place is where the variable is written (play `vars`, `vars_files`);
    /// else (inventory, role defaults, `-e`) it has no place to point at.
    pub located: bool,
}

/// Variables a task sees before registered results: inventory, then play vars, then `-e`;
/// and those that did not render.
pub fn host_vars(
    host: &Host,
    play: &Play,
    pb: &Playbook,
    extra: &Map<String, Value>,
) -> (Map<String, Value>, Vec<Unresolved>) {
    // Roles' defaults are the weakest of all, below the inventory.
    let mut m = play.defaults.clone();
    m.extend(host.vars.clone());
    m.insert("inventory_hostname".into(), json!(host.name));
    m.insert("group_names".into(), json!(host.groups));
    m.insert("playbook_dir".into(), json!(pb.dir.display().to_string()));
    m.entry("ansible_host").or_insert_with(|| json!(host.name));
    m.extend(play.vars.clone());
    m.extend(extra.clone());
    let loc =
        |name: &str| var_loc(host, play, extra, name).unwrap_or_else(|| play.vars_loc.clone());
    let (m, mut failed) = resolve(m, &loc);
    for u in &mut failed {
        u.located = var_loc(host, play, extra, &u.name).is_some();
    }
    (m, failed)
}

/// Where the value a host sees for `name` was written, when plumb knows: play `vars` and
/// `vars_files`, or a role's defaults that nothing overrides (not the inventory, not `-e`).
fn var_loc(
    host: &Host,
    play: &Play,
    extra: &Map<String, Value>,
    name: &str,
) -> Option<crate::location::Location> {
    if extra.contains_key(name) {
        None
    } else if play.vars.contains_key(name) {
        play.var_locs.get(name).cloned()
    } else if host.vars.contains_key(name) {
        None
    } else {
        play.default_locs.get(name).cloned()
    }
}

/// Variables may refer to each other (`static_root: "{{ app_dir }}/static"`): each is
/// rendered once, from the text it was written with, after the variables it reads. One that
/// fails is taken out, with its error.
pub fn resolve(
    m: Map<String, Value>,
    loc: &dyn Fn(&str) -> crate::location::Location,
) -> (Map<String, Value>, Vec<Unresolved>) {
    let keys: BTreeSet<String> = m
        .iter()
        .filter(|(_, v)| mentions_template(v))
        .map(|(k, _)| k.clone())
        .collect();
    let keys: BTreeSet<&String> = keys.iter().collect();
    resolve_only(m, &keys, loc)
}

/// `resolve` for the variables named in `keys` only (the others are values, never rendered:
/// a registered result's text is not a template).
pub fn resolve_only(
    mut m: Map<String, Value>,
    keys: &BTreeSet<&String>,
    loc: &dyn Fn(&str) -> crate::location::Location,
) -> (Map<String, Value>, Vec<Unresolved>) {
    let written: Map<String, Value> = m
        .iter()
        .filter(|(k, _)| keys.contains(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    // 0: not yet, 1: under way (a cycle when met again), 2: done.
    let mut state: std::collections::HashMap<String, u8> = Default::default();
    let mut failed: Vec<Unresolved> = Vec::new();
    fn visit(
        k: &str,
        written: &Map<String, Value>,
        m: &mut Map<String, Value>,
        state: &mut std::collections::HashMap<String, u8>,
        failed: &mut Vec<Unresolved>,
        loc: &dyn Fn(&str) -> crate::location::Location,
    ) {
        match state.get(k) {
            Some(2) => return,
            Some(1) => {
                // Read while it is being rendered: a cycle. Left out, so its reader fails.
                m.remove(k);
                return;
            }
            _ => {}
        }
        state.insert(k.to_string(), 1);
        let value = &written[k];
        for dep in crate::template::names_in(value) {
            if dep != k && written.contains_key(&dep) {
                visit(&dep, written, m, state, failed, loc);
                // A variable read by this one could not be rendered: neither can this one
                // (the engine would otherwise see an undefined value pass through a filter).
                if !m.contains_key(&dep) {
                    m.remove(k);
                    failed.push(Unresolved {
                        name: k.to_string(),
                        value: value.clone(),
                        err: Error::input(loc(k), format!("undefined variable `{dep}`")),
                        located: true,
                    });
                    state.insert(k.to_string(), 2);
                    return;
                }
            }
        }
        m.remove(k);
        let vars = Vars::new(m.clone());
        match vars.render_value(value, &loc(k)) {
            Ok(v) => {
                m.insert(k.to_string(), v);
            }
            Err(err) => failed.push(Unresolved {
                name: k.to_string(),
                value: value.clone(),
                err,
                located: true,
            }),
        }
        state.insert(k.to_string(), 2);
    }
    for k in written.keys() {
        visit(k, &written, &mut m, &mut state, &mut failed, loc);
    }
    (m, failed)
}

fn mentions_template(v: &Value) -> bool {
    match v {
        Value::String(s) => has_template(s),
        Value::Array(a) => a.iter().any(mentions_template),
        Value::Object(o) => o.values().any(mentions_template),
        _ => false,
    }
}

/// A stand-in for registered results while validating: has the fields templates read.
fn placeholder_result() -> Value {
    json!({"changed": false, "failed": false, "skipped": false, "rc": 0, "stdout": "",
           "stdout_lines": [], "stderr": "", "msg": "", "status": 200, "content": "", "results": []})
}

impl<'a> Runner<'a> {
    pub fn new(pb: &'a Playbook, inv: &'a Inventory, opts: &'a Options) -> Runner<'a> {
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
    pub fn selected(&self, play: &Play) -> Result<Vec<&'a Host>> {
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
    pub fn validate(&self) -> Result<()> {
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
            runtime.extend(["ansible_failed_task".into(), "ansible_failed_result".into()]);
            // A play variable may also read what a task defines (a role's parameters, a loop
            // item): rendered per task, as Ansible does.
            let mut waits_for = runtime.clone();
            for t in play.tasks.iter().chain(&play.handlers) {
                waits_for.extend(t.vars.keys().cloned());
                waits_for.insert(t.loop_var.clone());
            }
            for host in hosts {
                let (mut base, unresolved) = host_vars(host, play, self.pb, &self.opts.extra_vars);
                if let Err(e) = crate::host_run::connection_check(host, &base) {
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
                    if let Err(e) = self.check_task(task, &base, &deferred, &later) {
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
        let vars = Vars::new(task_item_vars(task, &m, None, deferred).0);
        let items = match &task.loop_items {
            None => vec![None],
            Some(l) => match vars.render_value(&l.value, &l.loc)? {
                Value::Array(a) => a.into_iter().map(Some).collect(),
                other => {
                    return Err(Error::input(
                        l.loc.clone(),
                        format!(
                            "`loop` must be a list, found {}",
                            crate::modules::args::type_name(&other)
                        ),
                    ));
                }
            },
        };
        if items.is_empty() {
            // Nothing to run: the arguments are built if they render without an item.
            return match self.render_task(task, vars) {
                Err(err) => unguarded(err),
                Ok(()) => Ok(()),
            };
        }
        for item in items {
            let (mi, failed) = task_item_vars(task, &m, item.as_ref(), deferred);
            // A variable of its own it reads that does not render (one it does not read may
            // be meant for another task of its role or block).
            let failed = failed
                .into_iter()
                .filter(|u| task.vars.contains_key(&u.name) && reads.contains(&u.name));
            let vars = Vars::new(mi);
            let mut run = true;
            for w in &task.when {
                if !vars.condition(&w.value, &w.loc)? {
                    run = false;
                    break;
                }
            }
            let rendered = match failed.into_iter().next() {
                Some(u) => Err((Stage::Render, task_var_error(task, &u.name, u.err))),
                None => self.render_task(task, vars),
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
        task: &crate::task::Task,
        vars: Vars,
    ) -> std::result::Result<(), (Stage, Error)> {
        let render = |e: Error| (Stage::Render, e);
        for v in task.environment.values() {
            vars.render_value(&v.value, &v.loc).map_err(render)?;
        }
        for c in [&task.changed_when, &task.failed_when, &task.until]
            .into_iter()
            .flatten()
        {
            let mut with_result = vars.map().clone();
            with_result.insert("result".into(), placeholder_result());
            if let Some(r) = &task.register {
                with_result.insert(r.clone(), placeholder_result());
            }
            Vars::new(with_result)
                .condition(&c.value, &c.loc)
                .map_err(render)?;
        }
        let mut rendered = Map::new();
        for (k, v) in &task.args.map {
            let v = vars.render_value(v, task.args.loc_of(k)).map_err(render)?;
            rendered.insert(k.clone(), v);
        }
        let ctx = BuildCtx {
            base_dir: &self.pb.dir,
            role_dir: task.role_dir.as_deref(),
            vars: &vars,
            args: &task.args,
        };
        Action::build(&task.module, rendered, &ctx).map_err(|e| (Stage::Build, e))?;
        Ok(())
    }

    /// Runs every play; returns the retry file written, if any host failed.
    pub fn run(&self, report: &mut Report) -> Result<Option<String>> {
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
                let statuses = self.run_batch(play, batch, report);
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
        hosts: &[&Host],
        report: &mut Report,
    ) -> Vec<(String, HostStatus)> {
        let queue = Mutex::new(hosts.iter().copied().collect::<VecDeque<&Host>>());
        let (tx, rx) = mpsc::channel::<Event>();
        let workers = self.opts.forks.max(1).min(hosts.len());
        let mut statuses = Vec::new();
        std::thread::scope(|s| {
            for _ in 0..workers {
                let tx = tx.clone();
                let queue = &queue;
                s.spawn(move || {
                    loop {
                        let Some(host) = queue.lock().expect("queue lock").pop_front() else {
                            break;
                        };
                        HostRun::run(self, play, host, &tx);
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

/// A task's variables for one loop item: `m` (the play's, registered results), the item,
/// and the task's own `vars` (a block's, a role's, an include's) rendered against them, as
/// Ansible evaluates them when used: they may read the item, or each other. One that does
/// not render is left out, with its error.
pub fn task_item_vars(
    task: &crate::task::Task,
    m: &Map<String, Value>,
    item: Option<&Value>,
    deferred: &Map<String, Value>,
) -> (Map<String, Value>, Vec<Unresolved>) {
    let mut mi = m.clone();
    // Play variables that wait for a registered result, a task's vars or the item, as
    // written: rendered here from that text, never from a registered value's.
    mi.extend(deferred.clone());
    mi.extend(task.vars.clone());
    if let Some(i) = item {
        mi.insert(task.loop_var.clone(), i.clone());
    }
    let keys: BTreeSet<&String> = task
        .vars
        .iter()
        .filter(|(k, v)| mentions_template(v) && (item.is_none() || **k != task.loop_var))
        .map(|(k, _)| k)
        .chain(deferred.keys().filter(|k| !task.vars.contains_key(*k)))
        .collect();
    if keys.is_empty() {
        return (mi, Vec::new());
    }
    resolve_only(mi, &keys, &|k| {
        task.var_locs
            .get(k)
            .cloned()
            .unwrap_or_else(|| task.loc.clone())
    })
}

/// A task variable that did not render: where it is written, else at the task.
fn task_var_error(task: &crate::task::Task, name: &str, err: Error) -> Error {
    match err {
        Error::Input { loc, msg, hint } => Error::Input {
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

/// Splits the variables that did not render into those that wait for a value known only on
/// the host (they read one of `runtime`, or such a variable), and the errors to report: each
/// broken variable at its place, except one that only fails because another broken one does.
pub fn split_unresolved(
    unresolved: &[Unresolved],
    runtime: &BTreeSet<String>,
) -> (BTreeSet<String>, Vec<Error>) {
    let deps: Vec<BTreeSet<String>> = unresolved
        .iter()
        .map(|u| crate::template::names_in(&u.value))
        .collect();
    let mut deferred: BTreeSet<String> = BTreeSet::new();
    loop {
        let before = deferred.len();
        for (u, d) in unresolved.iter().zip(&deps) {
            if d.iter()
                .any(|n| runtime.contains(n) || deferred.contains(n))
            {
                deferred.insert(u.name.clone());
            }
        }
        if deferred.len() == before {
            break;
        }
    }
    let broken: BTreeSet<&str> = unresolved
        .iter()
        .map(|u| u.name.as_str())
        .filter(|n| !deferred.contains(*n))
        .collect();
    let named = |u: &Unresolved| var_error(&u.name, &u.err, u.located);
    let candidates: Vec<(&Unresolved, &BTreeSet<String>)> = unresolved
        .iter()
        .zip(&deps)
        .filter(|(u, _)| broken.contains(u.name.as_str()))
        .collect();
    let roots: Vec<Error> = candidates
        .iter()
        .filter(|(u, d)| {
            !d.iter()
                .any(|n| *n != u.name && broken.contains(n.as_str()))
        })
        .map(|(u, _)| named(u))
        .collect();
    let errors = if roots.is_empty() {
        // Only variables reading each other: all of them.
        candidates.iter().map(|(u, _)| named(u)).collect()
    } else {
        roots
    };
    (deferred, errors)
}

/// An error in variable `name`'s template, at its place when that is known.
fn var_error(name: &str, err: &Error, located: bool) -> Error {
    match err {
        Error::Input { loc, msg, hint } => Error::Input {
            loc: loc.clone().filter(|_| located),
            msg: format!("variable `{name}`: {msg}"),
            hint: hint.clone(),
        },
        other => Error::Input {
            loc: None,
            msg: format!("variable `{name}`: {other}"),
            hint: None,
        },
    }
}

/// When a rollout stops, decided after each batch as Ansible does: a failure with
/// `any_errors_fatal`; a batch in which every host failed (with or without
/// `max_fail_percentage`), so a change that breaks every host is not rolled through the fleet;
/// or more than `max_fail_percentage` of this batch's hosts failed (Ansible divides by the
/// batch size, not by the play's hosts).
#[derive(Debug, Clone, Copy)]
pub struct StopRule {
    pub any_errors_fatal: bool,
    pub max_fail_percentage: Option<f64>,
}

impl StopRule {
    /// Why the remaining batches do not run, or None to go on.
    pub fn after_batch(&self, size: usize, failed: usize) -> Option<String> {
        if failed == 0 || size == 0 {
            return None;
        }
        if self.any_errors_fatal {
            return Some("not run: a host failed and any_errors_fatal is set".into());
        }
        if let Some(max) = self.max_fail_percentage
            && (failed as f64) * 100.0 / (size as f64) > max
        {
            return Some(format!(
                "not run: {failed} of {size} hosts of the previous batch failed, over max_fail_percentage {max}"
            ));
        }
        (failed >= size).then(|| {
            format!("not run: every host of the previous batch failed ({failed} of {size})")
        })
    }
}

/// Splits hosts into rolling batches: `serial` sizes in order, the last one repeating.
pub fn batches<'h, T>(hosts: &'h [T], serial: &[Serial]) -> Vec<&'h [T]> {
    if serial.is_empty() || hosts.is_empty() {
        return vec![hosts];
    }
    let total = hosts.len();
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while start < total {
        let step = &serial[i.min(serial.len() - 1)];
        let n = match step {
            Serial::Count(c) => *c,
            Serial::Percent(p) => ((total as f64) * p / 100.0).floor() as usize,
        }
        .max(1);
        let end = (start + n).min(total);
        out.push(&hosts[start..end]);
        start = end;
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unresolved_variables_wait_for_registers_or_are_errors() {
        let u = |name: &str, text: &str| Unresolved {
            name: name.into(),
            value: json!(text),
            err: Error::input(None, "boom"),
            located: true,
        };
        let runtime: BTreeSet<String> = ["r".to_string()].into();
        let vars = [
            u("out", "{{ r.stdout }}"),
            u("loud", "{{ out | upper }}"),
            u("bad", "{{ x | nope }}"),
            u("worse", "{{ bad }}/x"),
            u("rsync_opts", "{{ nope }}"),
        ];
        let (deferred, errors) = split_unresolved(&vars, &runtime);
        // By name: `rsync_opts` is not `r`, and reads no register.
        assert_eq!(deferred, ["loud", "out"].map(String::from).into());
        let msgs: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        // `worse` fails only because `bad` does: one error, at `bad`.
        assert_eq!(
            msgs,
            ["variable `bad`: boom", "variable `rsync_opts`: boom"]
        );
        // Two reading each other: both reported.
        let (_, errors) = split_unresolved(&[u("a", "{{ b }}"), u("b", "{{ a }}")], &runtime);
        assert_eq!(errors.len(), 2);
    }

    #[test]
    fn resolve_renders_each_variable_once_after_what_it_reads() {
        let loc = |_: &str| crate::location::Location::new(&std::sync::Arc::new("t".into()), 1, 1);
        let m = json!({
            "c": "{{ b }}/c", "b": "{{ a }}/b", "a": "/srv",
            "raw": "{% raw %}{{ not_a_var }}{% endraw %}",
            "broken": "{{ a | nope }}", "self": "{{ self }}/x",
        });
        let (m, failed) = resolve(m.as_object().unwrap().clone(), &loc);
        assert_eq!(m["c"], "/srv/b/c");
        // Rendered once: raw text stays raw.
        assert_eq!(m["raw"], "{{ not_a_var }}");
        let names: Vec<&str> = failed.iter().map(|u| u.name.as_str()).collect();
        assert_eq!(names, ["broken", "self"]);
        assert!(!m.contains_key("broken") && !m.contains_key("self"));
    }

    #[test]
    fn stop_rule_after_each_batch() {
        // (any_errors_fatal, max_fail_percentage, batch size, failed in it, stops)
        let table: &[(bool, Option<f64>, usize, usize, bool)] = &[
            (false, None, 1, 0, false),
            (false, None, 1, 1, true), // serial: 1, the host failed: stop (the old code went on)
            (false, None, 3, 2, false),
            (false, None, 3, 3, true),
            (true, None, 3, 1, true),
            (true, None, 3, 0, false),
            (false, Some(0.0), 4, 1, true),
            (false, Some(50.0), 4, 2, false), // exactly 50% is not over
            (false, Some(50.0), 4, 3, true),
            // Per batch: 1 of a batch of 2 is 50%, over 40 (the old code divided by all 10 hosts).
            (false, Some(40.0), 2, 1, true),
            (false, Some(100.0), 2, 2, true), // a whole batch failed stops even at 100%
            (false, Some(30.0), 0, 0, false),
        ];
        for &(fatal, max, size, failed, stops) in table {
            let rule = StopRule {
                any_errors_fatal: fatal,
                max_fail_percentage: max,
            };
            assert_eq!(
                rule.after_batch(size, failed).is_some(),
                stops,
                "{fatal} {max:?} {failed}/{size}"
            );
        }
    }

    #[test]
    fn rolling_batches() {
        let hosts: Vec<u32> = (1..=10).collect();
        let sizes = |s: &[Serial]| {
            batches(&hosts, s)
                .iter()
                .map(|b| b.len())
                .collect::<Vec<_>>()
        };
        assert_eq!(sizes(&[]), [10]);
        assert_eq!(sizes(&[Serial::Count(3)]), [3, 3, 3, 1]);
        assert_eq!(
            sizes(&[
                Serial::Count(1),
                Serial::Percent(30.0),
                Serial::Percent(100.0)
            ]),
            [1, 3, 6]
        );
        assert_eq!(sizes(&[Serial::Percent(1.0)]), [1; 10]);
    }
}
