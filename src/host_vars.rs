//! The variables a host sees before registered results: inventory, play vars, `-e`, each
//! rendered after the variables it reads; those that cannot render yet, and why.

use crate::error::{Cause, Error};
use crate::inventory::Host;
use crate::play::Play;
use crate::template::{Vars, has_template};
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;

/// One item of a loop, with the variables `loop_control` adds (`index_var`, `ansible_loop`).
#[derive(Debug, Clone)]
pub(crate) struct Item {
    pub(crate) value: Value,
    pub(crate) extra: Map<String, Value>,
}

/// A variable whose template did not render against the host's other variables: an error in
/// it, or a value only known on the host (a registered result). It is left out of the
/// variables (never kept as literal `{{ … }}` text) until it renders.
#[derive(Debug)]
pub(crate) struct Unresolved {
    pub(crate) name: String,
    /// As written.
    pub(crate) value: Value,
    pub(crate) err: Error,
    /// Whether `err`'s place is where the variable is written (play `vars`, `vars_files`);
    /// else (inventory, role defaults, `-e`) it has no place to point at.
    pub(crate) located: bool,
}

/// Variables a task sees before registered results: inventory, the host's facts once known
/// (`ansible_facts` and the injected `ansible_*` names, above the inventory and below play
/// vars, as in Ansible), play vars, the magic variables (`magic.rs`), then `-e`; and those
/// that did not render.
pub(crate) fn host_vars_full(
    host: &Host,
    play: &Play,
    playbook_dir: &std::path::Path,
    extra: &Map<String, Value>,
    facts: &Map<String, Value>,
    magic: &Map<String, Value>,
) -> (Map<String, Value>, Vec<Unresolved>) {
    // Roles' defaults are the weakest of all, below the inventory.
    let mut m = play.defaults.clone();
    m.extend(host.vars.clone());
    m.insert("inventory_hostname".into(), json!(host.name));
    m.insert("group_names".into(), json!(host.groups));
    m.insert(
        "playbook_dir".into(),
        json!(playbook_dir.display().to_string()),
    );
    m.entry("ansible_host").or_insert_with(|| json!(host.name));
    if !facts.is_empty() {
        m.extend(crate::facts::injected(facts));
        m.insert("ansible_facts".into(), Value::Object(facts.clone()));
    }
    m.extend(play.vars.clone());
    m.extend(magic.clone());
    m.extend(crate::magic::host_magic(host));
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
pub(crate) fn var_loc(
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
pub(crate) fn resolve(
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
fn resolve_only(
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
                        err: Error::undefined_variable(loc(k), &dep),
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

/// `include_vars`' variables (`loaded`), rendered as they come in over the task's variables
/// `vars`, where one may read another of the same file: Ansible keeps them as written and
/// renders them when read, which gives the same as long as what they read does not change
/// later in the run. Those that cannot render yet come back apart, as written, to be
/// rendered when read (`HostRun::deferred`); a value is never kept as literal `{{ … }}` text.
pub(crate) fn render_included(
    vars: &Map<String, Value>,
    loaded: &Map<String, Value>,
    loc: &crate::location::Location,
) -> (Map<String, Value>, Map<String, Value>) {
    let keys: BTreeSet<&String> = (loaded.iter())
        .filter(|(_, v)| mentions_template(v))
        .map(|(k, _)| k)
        .collect();
    if keys.is_empty() {
        return (loaded.clone(), Map::new());
    }
    let mut m = vars.clone();
    m.extend(loaded.clone());
    let (mut rendered, failed) = resolve_only(m, &keys, &|_| loc.clone());
    let later: Map<String, Value> = (failed.into_iter()).map(|u| (u.name, u.value)).collect();
    let now = (loaded.keys())
        .filter(|k| !later.contains_key(*k))
        .filter_map(|k| Some((k.clone(), rendered.remove(k)?)))
        .collect();
    (now, later)
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
pub(crate) fn placeholder_result() -> Value {
    json!({"changed": false, "failed": false, "skipped": false, "rc": 0, "stdout": "",
           "stdout_lines": [], "stderr": "", "msg": "", "status": 200, "content": "", "results": []})
}

/// A task's variables for one loop item: `m` (the play's, registered results), the item,
/// and the task's own `vars` (a block's, a role's, an include's) rendered against them, as
/// Ansible evaluates them when used: they may read the item, or each other. One that does
/// not render is left out, with its error.
/// The run's `-e` variables: they win over every other level, a task's, block's or role's
/// `vars` included (set once by run.rs, before any host).
static EXTRA: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();

pub(crate) fn install_extra(extra: &Map<String, Value>) {
    let _ = EXTRA.set(extra.clone());
}

/// A role's tasks know their role: `role_path`, `role_name`.
pub(crate) fn role_vars(task: &crate::task::Task) -> Map<String, Value> {
    let mut m = Map::new();
    if let Some(dir) = &task.role_dir {
        let abs = std::path::absolute(dir).unwrap_or_else(|_| dir.clone());
        m.insert("role_path".into(), json!(abs.display().to_string()));
        let name = dir.file_name().map(|n| n.to_string_lossy().to_string());
        m.insert("role_name".into(), json!(name.unwrap_or_default()));
    }
    m
}

pub(crate) fn task_item_vars(
    task: &crate::task::Task,
    m: &Map<String, Value>,
    item: Option<&Item>,
    deferred: &Map<String, Value>,
    over: Option<&Map<String, Value>>,
) -> (Map<String, Value>, Vec<Unresolved>) {
    let mut mi = m.clone();
    mi.extend(role_vars(task));
    // Play variables that wait for a registered result, a task's vars or the item, as
    // written: rendered here from that text, never from a registered value's.
    mi.extend(deferred.clone());
    mi.extend(task.vars.clone());
    let over = over.filter(|o| !o.is_empty());
    // Above the task's vars, below its role and include parameters.
    let over_here =
        |k: &String| over.is_some_and(|o| o.contains_key(k)) && !task.params.contains(k);
    if let Some(o) = over {
        mi.extend(
            o.iter()
                .filter(|(k, _)| over_here(k))
                .map(|(k, v)| (k.clone(), v.clone())),
        );
    }
    let extra = EXTRA.get();
    if let Some(extra) = extra {
        let mine = |k: &String| task.vars.contains_key(k) || over_here(k);
        for (k, v) in extra.iter().filter(|(k, _)| mine(k)) {
            mi.insert(k.clone(), v.clone());
        }
    }
    if let Some(i) = item {
        mi.insert(task.loop_var.clone(), i.value.clone());
        mi.extend(i.extra.clone());
    }
    let keys: BTreeSet<&String> = task
        .vars
        .iter()
        .filter(|(k, _)| extra.is_none_or(|e| !e.contains_key(*k)))
        .filter(|(k, _)| !over_here(k))
        .filter(|(k, v)| mentions_template(v) && (item.is_none() || **k != task.loop_var))
        .map(|(k, _)| k)
        .chain(
            deferred
                .keys()
                .filter(|k| !task.vars.contains_key(*k) && !over_here(k)),
        )
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

/// Splits the variables that did not render into those that wait for a value known only on
/// the host (they read one of `runtime`, or such a variable), and the errors to report: each
/// broken variable at its place, except one that only fails because another broken one does.
pub(crate) fn split_unresolved(
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
pub(crate) fn var_error(name: &str, err: &Error, located: bool) -> Error {
    match err {
        Error::Input {
            loc,
            msg,
            hint,
            cause,
        } => Error::Input {
            // The message now says more than that a variable is undefined.
            cause: Cause::wrapped(cause),
            loc: loc.clone().filter(|_| located),
            msg: format!("variable `{name}`: {msg}"),
            hint: hint.clone(),
        },
        other => Error::Input {
            cause: None,
            loc: None,
            msg: format!("variable `{name}`: {other}"),
            hint: None,
        },
    }
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
}
