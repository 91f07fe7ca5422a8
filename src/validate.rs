//! Everything checked before a host is contacted: host patterns, connection settings, every
//! template's syntax, filters and tests, conditions, loops, module arguments and local files,
//! each task rendered and built for every host and loop item as the host would.

use crate::error::{Cause, Error, Result};
use crate::host_vars::{host_vars_full, placeholder_result, split_unresolved, var_error, var_loc};
use crate::prepared::Prepared;
use crate::runner::Runner;
use crate::task_instance::{LoopError, TaskInstance};
use crate::template::Vars;
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

mod fact_names;

use fact_names::{cacheable, entry_reads, fact_hint, fact_reads, host_defines};

/// Everything that can be wrong without a host: host patterns, connection settings,
/// templates, `when` expressions, loops, module arguments, local files.
pub(crate) fn validate(r: &Runner) -> Result<()> {
    crate::magic::install_hostvars(r.inv, &r.opts.extra_vars);
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
    // What earlier plays register, `set_fact` or `include_vars` on their hosts stays theirs for
    // the rest of the run; facts gathered once stay too.
    let mut earlier_registers: BTreeSet<String> = BTreeSet::new();
    let mut earlier_sets: BTreeSet<String> = BTreeSet::new();
    let mut earlier_facts = false;
    // Facts a cacheable `set_fact` adds (`ansible_facts.NAME`, `ansible_NAME`), in any play.
    let cached: BTreeSet<String> =
        r.pb.plays
            .iter()
            .flat_map(|p| p.tasks.iter().chain(&p.handlers))
            .filter(|t| cacheable(&t.args.map))
            .flat_map(|t| {
                crate::modules::registry::defined_vars(
                    &t.module,
                    &t.args,
                    &r.pb.dir,
                    t.role_dir.as_deref(),
                )
            })
            .collect();
    // Names some host's entry in `hostvars` holds: its variables now, and what the playbook
    // registers or sets (`set_fact`, `include_vars`).
    let mut in_entries = crate::hostvars::keys();
    for t in
        r.pb.plays
            .iter()
            .flat_map(|p| p.tasks.iter().chain(&p.handlers))
    {
        in_entries.extend(t.register.clone());
        in_entries.extend(crate::modules::registry::defined_vars(
            &t.module,
            &t.args,
            &r.pb.dir,
            t.role_dir.as_deref(),
        ));
    }
    for play in &r.pb.plays {
        let hosts = match r.selected(play) {
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
        runtime.extend(earlier_registers.iter().cloned());
        let registers: Vec<String> = runtime.iter().cloned().collect();
        earlier_registers = runtime.clone();
        // What `set_fact` and `include_vars` define, as far as known before the run.
        for t in play.tasks.iter().chain(&play.handlers) {
            earlier_sets.extend(crate::modules::registry::defined_vars(
                &t.module,
                &t.args,
                &r.pb.dir,
                t.role_dir.as_deref(),
            ));
            let facts = crate::facts::from_module(&t.module);
            earlier_sets.extend(facts.iter().map(|n| n.to_string()));
        }
        runtime.extend(earlier_sets.iter().cloned());
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
        let facts = earlier_facts
            || play.gather_facts
            || play
                .tasks
                .iter()
                .any(|t| crate::modules::registry::returns_facts(&t.module));
        earlier_facts = facts;
        // A `delegate_to` written as a name must name a host (or the control machine).
        for t in play.tasks.iter().chain(&play.handlers) {
            if let Some(d) = &t.delegate_to
                && !crate::template::has_template(&d.value)
                && !matches!(d.value.as_str(), "localhost" | "127.0.0.1")
                && !r.inv.hosts.iter().any(|h| h.name == d.value)
            {
                let e = Error::input(
                    d.loc.clone(),
                    format!(
                        "`delegate_to: {}`: no host of that name in the inventory",
                        d.value
                    ),
                )
                .with_hint("delegate to a host of the inventory, or to localhost");
                push(e, &mut errors);
            }
        }
        let (magic, lists) = crate::magic::play_magic(r.inv, r.opts, &hosts, &hosts);
        // What another host's entry in `hostvars` may hold.
        let mut defined = in_entries.clone();
        defined.extend(magic.keys().cloned());
        defined.extend(lists.keys().cloned());
        crate::play_lists::set(lists);
        for t in play.tasks.iter().chain(&play.handlers) {
            if let Err(e) = entry_reads(t, &cached, &defined) {
                push(e, &mut errors);
            }
        }
        // Each host's check is its own (the host's variables, the tasks rendered for it):
        // they run side by side, and their errors are kept in the hosts' order.
        let per_host = crate::par_map::par_map(&hosts, |&host| {
            let mut errs: Vec<Error> = Vec::new();
            let (mut base, unresolved) = host_vars_full(
                host,
                play,
                &play.dir,
                &r.opts.extra_vars,
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
                        .filter(|n| host_defines(n, &cached) && !base.contains_key(n)),
                );
            }
            if let Err(e) = crate::connection::connection_check(host, &base) {
                errs.push(e);
            }
            // Variables that read a registered result, a task's vars or a loop item wait
            // for them (rendered per task); every other one that does not render is an
            // error where it is written.
            let (deferred, broken) = split_unresolved(&unresolved, &waits_for);
            let mut deferred: Map<String, Value> = unresolved
                .iter()
                .filter(|u| deferred.contains(&u.name))
                .map(|u| (u.name.clone(), u.value.clone()))
                .collect();
            // Those are rendered later, but their syntax, filters and tests are known now.
            let checker = Vars::new(base.clone());
            for (name, value) in &deferred {
                let at = var_loc(host, play, &r.opts.extra_vars, name);
                let here = at.clone().unwrap_or_else(|| play.vars_loc.clone());
                if let Err(e) = checker.check_value(value, &here, &mut BTreeSet::new()) {
                    errs.push(var_error(name, &e, at.is_some()));
                }
            }
            for e in broken {
                errs.push(fact_hint(e, &base, &cached));
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
            // So are those of variables written to read what a task sets: they render again
            // once it is set (see lazy_vars.rs).
            let readers =
                crate::lazy_vars::LazyVars::new(host, play, &r.opts.extra_vars).readers(&runtime);
            for (name, value) in readers {
                base.remove(&name);
                later.insert(name.clone());
                deferred.insert(name, value);
            }
            let facts = facts.then_some(&cached);
            // Shared by every task's check (each adds its own vars over it, if any).
            let base = Arc::new(base);
            // A looped include's tasks are checked for its items known now (its loop
            // variables defined), else with those names left for the host.
            let mut frames: Vec<(usize, crate::include_loop::KnownItems)> = Vec::new();
            let mut kept = Prepared::new(base.clone());
            for (i, task) in play.tasks.iter().enumerate() {
                frames.retain(|(end, _)| i < *end);
                let known: Vec<_> = frames.iter().map(|(_, items)| items.clone()).collect();
                let runs = match crate::include_loop::combinations(&known) {
                    Some(c) if !frames.is_empty() && !c.is_empty() => c
                        .iter()
                        .map(|m| crate::include_loop::with_vars(task, [m]))
                        .collect(),
                    _ => vec![task.clone()],
                };
                // A looped include's copies are other tasks than the play's.
                let mut keep = frames.is_empty().then_some((task, &mut kept));
                for t in &runs {
                    let k = keep.take();
                    if let Err(e) = check_task(&r.pb.dir, t, &base, &deferred, &later, facts, k) {
                        errs.push(fact_hint(e, &base, &cached));
                    }
                }
                if let (Some(n), Some(t)) = (task.include_loop, runs.first()) {
                    let items = crate::include_loop::known_items(t, &base, &deferred);
                    frames.push((i + 1 + n, items));
                }
            }
            for task in &play.handlers {
                if let Err(e) = check_task(&r.pb.dir, task, &base, &deferred, &later, facts, None) {
                    errs.push(fact_hint(e, &base, &cached));
                }
            }
            if errs.is_empty() {
                kept.hand_over(play, &host.name);
            }
            errs
        });
        for e in per_host.into_iter().flatten() {
            push(e, &mut errors);
        }
    }
    if !any_host && errors.is_empty() {
        let what = match &r.opts.limit {
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
    dir: &Path,
    task: &crate::task::Task,
    base: &Arc<Map<String, Value>>,
    deferred: &Map<String, Value>,
    later: &BTreeSet<String>,
    facts: Option<&BTreeSet<String>>,
    keep: Option<(&crate::task::Task, &mut Prepared)>,
) -> Result<()> {
    // The host's variables are shared, not copied, unless the task has vars of its own.
    let vars = if task.vars.is_empty() {
        Vars::shared(base.clone())
    } else {
        let mut m = (**base).clone();
        m.extend(task.vars.clone());
        Vars::new(m)
    };
    let mut names = BTreeSet::new();
    for (k, v) in &task.args.map {
        vars.check_value(v, task.args.loc_of(k), &mut names)?;
    }
    for w in &task.when {
        vars.check_condition(&w.value, &w.loc, &mut names)?;
    }
    for c in [
        &task.changed_when,
        &task.failed_when,
        &task.until,
        &task.become_if,
        &task.ignore_errors_if,
    ]
    .into_iter()
    .flatten()
    {
        vars.check_condition(&c.value, &c.loc, &mut names)?;
    }
    if let Some(l) = &task.loop_items {
        vars.check_value(&l.value, &l.loc, &mut names)?;
    }
    for v in crate::task_env::templates(&task.environment) {
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
    let m = base;
    // With facts gathered, the `ansible_*` names it reads that nothing else defines are
    // the host's facts.
    let mut later = later.clone();
    // The loop variables of the looped includes around it, when their items are not known.
    later.extend(
        task.outer_loop_vars
            .iter()
            .filter(|n| !task.vars.contains_key(*n))
            .cloned(),
    );
    if let Some(cached) = facts {
        later.extend(
            names
                .iter()
                .filter(|n| host_defines(n, cached) && !base.contains_key(*n))
                .cloned(),
        );
        fact_reads(task, cached)?;
    }
    // A template file's names are not among `names`: one it reads that only the host
    // defines (a fact, a `set_fact`) is known there, not here.
    let waits = |n: &str| later.contains(n) || facts.is_some_and(|c| host_defines(n, c));
    if names.iter().any(|n| later.contains(n)) {
        return match render_items(dir, task, m, deferred, &names, None) {
            Err(e)
                if e.undefined_within().is_some_and(|n| {
                    !waits(n) && n != task.loop_var && m_has_not(base, task, n)
                }) =>
            {
                Err(e)
            }
            _ => Ok(()),
        };
    }
    // Rendered with the host's own values: what builds alike on the host is kept for it.
    match render_items(dir, task, m, deferred, &names, keep) {
        Err(e) if e.undefined_within().is_some_and(waits) => {
            with_stand_ins(dir, task, (**m).clone(), deferred, &names, &later, facts)
        }
        r => r,
    }
}

/// The task rendered again with stand-ins (`""`) for what only the host defines, so that a
/// template file is read to its end: only a name that nothing defines is an error then
/// (other errors may come from the stand-ins' values).
fn with_stand_ins(
    dir: &Path,
    task: &crate::task::Task,
    mut m: Map<String, Value>,
    deferred: &Map<String, Value>,
    names: &BTreeSet<String>,
    later: &BTreeSet<String>,
    facts: Option<&BTreeSet<String>>,
) -> Result<()> {
    let waits = |n: &str| later.contains(n) || facts.is_some_and(|c| host_defines(n, c));
    let base = m.clone();
    let mut stand_ins: Vec<String> = later.iter().cloned().collect();
    if let Some(cached) = facts {
        stand_ins.extend(crate::facts::all_injected());
        stand_ins.extend(cached.iter().map(|c| format!("ansible_{c}")));
        stand_ins.push("ansible_facts".into());
    }
    for n in stand_ins {
        m.entry(n).or_insert(json!(""));
    }
    // A few more rounds for names no list holds (an interface's facts).
    for _ in 0..4 {
        let Err(e) = render_items(dir, task, &Arc::new(m.clone()), deferred, names, None) else {
            return Ok(());
        };
        match e.undefined_within() {
            Some(n) if m.contains_key(n) => return Ok(()),
            Some(n) if waits(n) => {
                m.insert(n.to_string(), json!(""));
            }
            Some(n) if n != task.loop_var && m_has_not(&base, task, n) => return Err(e),
            _ => return Ok(()),
        }
    }
    Ok(())
}

/// Renders the task for every loop item, as the host would (see `check_task`).
/// `keep`: the task as the play holds it (`task` may be a copy) and where to keep the items'
/// actions that the host's batched probe may take instead of building them again.
fn render_items(
    dir: &Path,
    task: &crate::task::Task,
    m: &Arc<Map<String, Value>>,
    deferred: &Map<String, Value>,
    reads: &BTreeSet<String>,
    mut keep: Option<(&crate::task::Task, &mut Prepared)>,
) -> Result<()> {
    let inst = TaskInstance::new(task, m, deferred).with_known(m.clone());
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
        return match render_task(dir, &inst, vars, None, false) {
            Err(err) => unguarded(err),
            Ok(_) => Ok(()),
        };
    }
    for (n, item) in items.into_iter().enumerate() {
        let (vars, failed) = inst.item_vars(item.as_ref());
        // A variable of its own it reads that does not render (one it does not read may
        // be meant for another task of its role or block).
        let failed = failed
            .into_iter()
            .filter(|u| task.vars.contains_key(&u.name) && reads.contains(&u.name));
        let run = inst.when(&vars)?;
        let rendered = match failed.into_iter().next() {
            Some(u) => Err((Stage::Render, task_var_error(task, &u.name, u.err))),
            None => render_task(dir, &inst, vars, item.as_ref(), keep.is_some() && run),
        };
        match rendered {
            Err((_, e)) if run => return Err(e),
            Err(err) => unguarded(err)?,
            Ok(Some(ready)) => {
                if let Some((t, k)) = keep.as_mut() {
                    k.keep(t, n, item.as_ref(), ready);
                }
            }
            Ok(None) => {}
        }
    }
    Ok(())
}

/// Renders a task's environment, conditions on its result and arguments, and builds its
/// module, as the host would. An error says whether the module's build found it.
/// With `keep`, the action and its probe where the host's batched probe may take them (see
/// `TaskInstance::action_plain`).
fn render_task(
    dir: &Path,
    inst: &TaskInstance,
    vars: Vars,
    item: Option<&crate::host_vars::Item>,
    keep: bool,
) -> std::result::Result<Option<crate::prepared::Ready>, (Stage, Error)> {
    let task = inst.task;
    let render = |e: Error| (Stage::Render, e);
    crate::task_env::render(&task.environment, &vars).map_err(render)?;
    for c in [&task.changed_when, &task.failed_when, &task.until]
        .into_iter()
        .flatten()
    {
        inst.with_result(&vars, &placeholder_result())
            .condition(&c.value, &c.loc)
            .map_err(render)?;
    }
    // Arguments that render without the engine render so alike; only then may it be kept.
    let plain = keep.then(|| inst.plain_args(item, &vars)).flatten();
    let is_plain = plain.is_some();
    let rendered = match plain {
        Some(p) => p,
        None => inst.args(&vars).map_err(render)?,
    };
    // The directory of the playbook the task's play is in (`playbook_dir`).
    let dir = vars
        .get("playbook_dir")
        .and_then(Value::as_str)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| dir.to_path_buf());
    if is_plain {
        let (action, pure) = inst.build_pure(rendered, &vars, &dir);
        let action = action.map_err(|e| (Stage::Build, e))?;
        return Ok(match (pure, inst.probe(&action, &vars)) {
            (true, Ok(probe)) => Some((action, probe)),
            _ => None,
        });
    }
    inst.build(rendered, &vars, &dir)
        .map_err(|e| (Stage::Build, e))?;
    Ok(None)
}

/// A task variable that did not render: where it is written, else at the task.
fn task_var_error(task: &crate::task::Task, name: &str, err: Error) -> Error {
    match err {
        Error::Input {
            loc,
            msg,
            hint,
            cause,
        } => Error::Input {
            // The message now says more than that a variable is undefined.
            cause: Cause::wrapped(&cause),
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
    match stage {
        Stage::Build if e.undefined_within().is_none() && !e.is_missing_file() => Err(e),
        _ => Ok(()),
    }
}

/// Whether `name` is defined neither for the play nor by the task's own `vars`.
fn m_has_not(base: &Map<String, Value>, task: &crate::task::Task, name: &str) -> bool {
    !base.contains_key(name) && !task.vars.contains_key(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::location::Location;

    #[test]
    fn a_guarded_task_hides_only_typed_undefined_and_missing_file_errors() {
        let at = || Location::new(&std::sync::Arc::new("t.yml".into()), 1, 1);
        let undefined = || Error::undefined_variable(at(), "r.stdout");
        // (stage, error, still an error behind a false `when`)
        let table = [
            (Stage::Build, undefined(), false),
            (Stage::Build, var_error("v", &undefined(), true), false),
            (
                Stage::Build,
                Error::input(at(), "file `x` not found").with_cause(Cause::MissingFile),
                false,
            ),
            // The words alone decide nothing.
            (Stage::Build, Error::input(at(), "file `x` not found"), true),
            (
                Stage::Build,
                Error::input(at(), "undefined variable `x`"),
                true,
            ),
            (
                Stage::Build,
                Error::input(at(), "`mode` must be a string"),
                true,
            ),
            (
                Stage::Render,
                Error::input(at(), "`mode` must be a string"),
                false,
            ),
        ];
        for (stage, e, fails) in table {
            let msg = e.to_string();
            assert_eq!(unguarded((stage, e)).is_err(), fails, "{msg}");
        }
    }
}
