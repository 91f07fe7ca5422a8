//! Every host's variables for the whole run, shared by the hosts' threads: what `hostvars`
//! shows, and what a host carries from one play to the next. A host's entry starts as its
//! inventory variables, its magic variables and `-e`, and grows with its facts, `include_vars`,
//! `set_fact` and registered results as its run goes. These outlive the play that set them,
//! as in Ansible (host variables for the rest of the run); a template reads the entry when it
//! looks (`hostvars['web2']`, see `jinja/hostvars.rs`), so another host's facts are there once
//! that host has gathered them.

use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::RwLock;

type Vars = Map<String, Value>;

/// One host's variables, by level (weakest first).
#[derive(Debug, Default, Clone)]
struct Entry {
    /// Inventory variables (group_vars, host_vars) as written: their templates are rendered
    /// when read, in the host's own context.
    inventory: Vars,
    /// `ansible_facts` and the injected `ansible_*` names.
    facts: Vars,
    /// `include_vars`.
    included: Vars,
    /// `set_fact` and registered results.
    registered: Vars,
    /// The host's magic variables and `-e`: over everything.
    top: Vars,
}

static HOSTVARS: RwLock<BTreeMap<String, Entry>> = RwLock::new(BTreeMap::new());

/// `groups`, which every host's entry shows (Ansible's `hostvars[h].groups`): kept once, not
/// copied into each entry.
static GROUPS: RwLock<Option<Value>> = RwLock::new(None);

/// The run's hosts, each with its inventory variables and (over everything) its magic
/// variables and `-e`, and the run's `groups`; replaces what a previous run left.
pub(crate) fn install(hosts: BTreeMap<String, (Vars, Vars)>, groups: Value) {
    if let Ok(mut t) = HOSTVARS.write() {
        t.clear();
    }
    if let Ok(mut g) = GROUPS.write() {
        *g = Some(groups);
    }
    add(hosts);
}

/// The run's `groups`, as every host's entry shows it.
pub(crate) fn groups() -> Option<Value> {
    GROUPS.read().ok()?.clone()
}

/// Hosts join the run's (tests share the one table: they add their own hosts).
fn add(hosts: BTreeMap<String, (Vars, Vars)>) {
    if let Ok(mut t) = HOSTVARS.write() {
        for (name, (inventory, top)) in hosts {
            let e = Entry {
                inventory,
                top,
                ..Entry::default()
            };
            t.insert(name, e);
        }
    }
}

#[cfg(test)]
pub(crate) fn add_for_test(hosts: BTreeMap<String, (Vars, Vars)>) {
    add(hosts);
}

fn with(host: &str, f: impl FnOnce(&mut Entry)) {
    if let Ok(mut t) = HOSTVARS.write() {
        f(t.entry(host.to_string()).or_default());
    }
}

/// The host's facts are now `facts` (`ansible_facts` and the injected names).
pub(crate) fn set_facts(host: &str, facts: Vars) {
    with(host, |e| e.facts = facts);
}

/// `names` leave `host`'s facts (`meta: clear_facts`).
pub(crate) fn forget(host: &str, names: &[String]) {
    with(host, |e| {
        for n in names {
            e.facts.remove(n);
        }
    });
}

/// Facts join `host`'s (another host's task with `delegate_facts`).
pub(crate) fn add_facts(host: &str, facts: &Vars) {
    with(host, |e| e.facts.extend(facts.clone()));
}

/// `include_vars` variables join `host`'s.
pub(crate) fn include(host: &str, vars: &Vars) {
    with(host, |e| e.included.extend(vars.clone()));
}

/// `set_fact` variables or a registered result join `host`'s.
pub(crate) fn register(host: &str, vars: &Vars) {
    with(host, |e| e.registered.extend(vars.clone()));
}

/// What `host` carries into its next play: its `include_vars` and its `set_fact` variables
/// and registered results.
pub(crate) fn carried(host: &str) -> (Vars, Vars) {
    HOSTVARS
        .read()
        .ok()
        .and_then(|t| {
            t.get(host)
                .map(|e| (e.included.clone(), e.registered.clone()))
        })
        .unwrap_or_default()
}

/// The host's `ansible_facts`, if it has any yet.
pub(crate) fn facts(host: &str) -> Option<Vars> {
    match HOSTVARS.read().ok()?.get(host)?.facts.get("ansible_facts") {
        Some(Value::Object(f)) => Some(f.clone()),
        _ => None,
    }
}

/// A host's entry now, if the run knows the host: every level merged, and the names whose
/// value is still a template as written (an inventory variable or `-e`), to be rendered in
/// the host's context when read.
pub(crate) fn get(host: &str) -> Option<(Vars, BTreeSet<String>)> {
    let t = HOSTVARS.read().ok()?;
    let e = t.get(host)?;
    let mut m = Vars::new();
    let mut templated = BTreeSet::new();
    let levels = [
        (&e.inventory, true),
        (&e.facts, false),
        (&e.included, false),
        (&e.registered, false),
        (&e.top, true),
    ];
    for (level, as_written) in levels {
        for (k, v) in level {
            if as_written && mentions_template(v) {
                templated.insert(k.clone());
            } else {
                templated.remove(k);
            }
            m.insert(k.clone(), v.clone());
        }
    }
    Some((m, templated))
}

/// Every name some host's entry holds now.
pub(crate) fn keys() -> BTreeSet<String> {
    HOSTVARS
        .read()
        .map(|t| {
            t.values()
                .flat_map(|e| [&e.inventory, &e.facts, &e.included, &e.registered, &e.top])
                .flat_map(|level| level.keys().cloned())
                .collect()
        })
        .unwrap_or_default()
}

/// The run's hosts, in name order.
pub(crate) fn names() -> Vec<String> {
    HOSTVARS
        .read()
        .map(|t| t.keys().cloned().collect())
        .unwrap_or_default()
}

fn mentions_template(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains("{{") || s.contains("{%") || s.contains("{#"),
        Value::Array(a) => a.iter().any(mentions_template),
        Value::Object(o) => o.values().any(mentions_template),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Vars {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn levels_merge_weakest_first_and_only_written_values_are_templates() {
        let mut t = BTreeMap::new();
        t.insert(
            "hv-a".to_string(),
            (
                obj(json!({"colour": "red", "app": "{{ base }}/app", "over": "{{ x }}"})),
                obj(json!({"inventory_hostname": "hv-a", "pinned": "{{ e }}"})),
            ),
        );
        add(t);
        set_facts("hv-a", obj(json!({"ansible_facts": {"hostname": "a"}})));
        include("hv-a", &obj(json!({"inc": 1, "colour": "green"})));
        register(
            "hv-a",
            &obj(json!({"r": {"stdout": "{{ not a template }}"}, "over": 2})),
        );
        register("hv-a", &obj(json!({"pinned": "lost to -e"})));
        let (a, templated) = get("hv-a").unwrap();
        assert_eq!(a["colour"], "green");
        assert_eq!(a["ansible_facts"]["hostname"], "a");
        assert_eq!(a["over"], 2);
        assert_eq!(a["pinned"], "{{ e }}");
        let want: BTreeSet<String> = ["app", "pinned"].map(String::from).into();
        assert_eq!(templated, want);
        assert_eq!(facts("hv-a").unwrap()["hostname"], "a");
        let (inc, reg) = carried("hv-a");
        assert_eq!(
            (inc["inc"].clone(), reg["over"].clone()),
            (json!(1), json!(2))
        );
        assert!(get("nobody").is_none());
    }
}
