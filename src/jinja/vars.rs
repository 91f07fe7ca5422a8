//! The variables of one render: the caller's map, read lazily, and the render in progress.

use crate::jinja_rewrite::has_template;
use crate::py_value::from_json;
use crate::render_ctx::RenderCtx;
use minijinja::value::{Enumerator, Object, ObjectRepr, Value};
use serde_json::Map;
use std::cell::Cell;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

/// Renders a playbook string with these variables: the template engine's, which sits above.
pub(super) type Render = fn(&str, &Arc<Vars>) -> Result<Value, minijinja::Error>;

/// The value of `omit`: a parameter whose value is this marker is left out, as in Ansible.
pub const OMIT: &str = "__omit_place_holder__plumb";

thread_local! {
    static DEPTH: Cell<usize> = const { Cell::new(0) };
}

/// The variables of a render: the caller's map, with `{{ }}` inside values rendered when read,
/// and Ansible's defaults (`ansible_managed`, `omit`) underneath.
#[derive(Debug)]
pub(crate) struct Vars {
    /// Shared, not copied: a host's variables (its facts with them) are read by every render.
    raw: Arc<Map<String, serde_json::Value>>,
    cache: Mutex<HashMap<String, Value>>,
    pub(crate) ctx: RenderCtx,
    /// How a value holding `{{ }}` is rendered when read.
    render: Render,
    /// With `ctx.resolved` off, only these names are rendered when read (another host's
    /// inventory variables, not its registered results); None: every one.
    only: Option<BTreeSet<String>>,
}

impl Vars {
    pub(crate) fn new(
        raw: &Arc<Map<String, serde_json::Value>>,
        ctx: &RenderCtx,
        render: Render,
    ) -> Arc<Vars> {
        Arc::new(Vars {
            raw: raw.clone(),
            cache: Mutex::new(HashMap::new()),
            ctx: ctx.clone(),
            render,
            only: None,
        })
    }

    /// Variables whose `templated` names are rendered when read, in their own context (a
    /// host's entry in `hostvars`).
    pub(super) fn rendering(
        raw: Map<String, serde_json::Value>,
        templated: BTreeSet<String>,
        ctx: &RenderCtx,
        render: Render,
    ) -> Arc<Vars> {
        Arc::new(Vars {
            raw: Arc::new(raw),
            cache: Mutex::new(HashMap::new()),
            ctx: RenderCtx {
                resolved: false,
                // Another host's variables: the reader's loop item is not among them.
                item: None,
                ..ctx.clone()
            },
            render,
            only: Some(templated),
        })
    }

    /// A variable's value, its templated strings rendered (None if undefined).
    pub(crate) fn get(self: &Arc<Self>, name: &str) -> Option<Value> {
        if let Some(v) = self.cache.lock().ok()?.get(name) {
            return Some(v.clone());
        }
        let item = self.ctx.item.as_ref().and_then(|i| i.get(name));
        let v = match item.or_else(|| self.raw.get(name)) {
            Some(raw) if self.ctx.resolved => from_json(raw),
            Some(raw) if self.only.as_ref().is_some_and(|o| !o.contains(name)) => from_json(raw),
            Some(raw) => self.lazy(raw),
            None => match name {
                "ansible_managed" => Value::from("Ansible managed"),
                "omit" => Value::from(OMIT),
                "vars" => Value::from_dyn_object(self.clone()),
                "hostvars" => hostvars(&self.ctx, self.render),
                // A host's entry (`hostvars[h].groups`): the run's, as in Ansible.
                "groups" if self.only.is_some() => from_json(&crate::hostvars::groups()?),
                // The play's host lists, shared by the hosts (not in another's entry).
                n if self.only.is_none() && crate::play_lists::holds(n) => {
                    from_json(&crate::play_lists::get(n)?)
                }
                _ => return None,
            },
        };
        self.cache.lock().ok()?.insert(name.to_string(), v.clone());
        Some(v)
    }

    pub(super) fn lazy(self: &Arc<Self>, raw: &serde_json::Value) -> Value {
        match raw {
            serde_json::Value::String(s) if has_template(s) => {
                let depth = DEPTH.with(|d| d.get());
                if depth > 40 {
                    return Value::from(s.as_str());
                }
                DEPTH.with(|d| d.set(depth + 1));
                let r = (self.render)(s, self);
                DEPTH.with(|d| d.set(depth));
                match r {
                    Ok(v) => v,
                    Err(_) => Value::UNDEFINED,
                }
            }
            serde_json::Value::Array(a) if a.iter().any(needs_render) => {
                Value::from(a.iter().map(|x| self.lazy(x)).collect::<Vec<_>>())
            }
            serde_json::Value::Object(m) if m.values().any(needs_render) => {
                crate::py_value::map_from(m.iter().map(|(k, v)| (k.clone(), self.lazy(v))))
            }
            other => from_json(other),
        }
    }
}

fn needs_render(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::String(s) => has_template(s),
        serde_json::Value::Array(a) => a.iter().any(needs_render),
        serde_json::Value::Object(m) => m.values().any(needs_render),
        _ => false,
    }
}

impl Object for Vars {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.get(key.as_str()?)
    }
    fn enumerate(self: &Arc<Self>) -> Enumerator {
        let mut keys: Vec<Value> = self.raw.keys().map(|k| Value::from(k.as_str())).collect();
        if let Some(item) = &self.ctx.item {
            let more = item.keys().filter(|k| !self.raw.contains_key(*k));
            keys.extend(more.map(|k| Value::from(k.as_str())));
        }
        if !self.raw.contains_key("ansible_managed") {
            keys.push(Value::from("ansible_managed"));
        }
        Enumerator::Values(keys)
    }
}

thread_local! {
    /// The variables of the renders in progress on this thread (innermost last).
    static CURRENT: std::cell::RefCell<Vec<Arc<Vars>>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The variables of the innermost render in progress (for lookups and the include loader).
pub(crate) fn current_vars() -> Option<Arc<Vars>> {
    CURRENT.with(|c| c.borrow().last().cloned())
}

/// Makes `vars` the current variables until dropped.
pub(super) struct Scope;

impl Scope {
    pub(super) fn enter(vars: &Arc<Vars>) -> Scope {
        CURRENT.with(|c| c.borrow_mut().push(vars.clone()));
        Scope
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        CURRENT.with(|c| {
            c.borrow_mut().pop();
        });
    }
}

// `hostvars`: each host's entry of the run's store (`hostvars.rs`), looked up when read, with
// its inventory variables rendered in that host's own context, as Ansible's `HostVarsVars`
// renders them (`hostvars['db1'].url` where `url: "{{ base }}/x"` gives db1's `base`).

/// `render` renders another host's templated values (the engine's, which sits above).
/// `hostvars` as templates see it.
fn hostvars(ctx: &RenderCtx, render: Render) -> Value {
    Value::from_object(HostVars {
        ctx: ctx.clone(),
        render,
    })
}

#[derive(Debug)]
struct HostVars {
    /// Where lookups in another host's variables look (the render that reads them).
    ctx: RenderCtx,
    render: Render,
}

impl Object for HostVars {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let (raw, templated) = crate::hostvars::get(key.as_str()?)?;
        Some(Value::from_dyn_object(Vars::rendering(
            raw,
            templated,
            &self.ctx,
            self.render,
        )))
    }
    fn enumerate(self: &Arc<Self>) -> Enumerator {
        let names = crate::hostvars::names();
        Enumerator::Values(names.iter().map(|n| Value::from(n.as_str())).collect())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn another_hosts_variables_render_in_its_own_context() {
        let obj = |v: serde_json::Value| v.as_object().unwrap().clone();
        let mut t = std::collections::BTreeMap::new();
        t.insert(
            "jhv-db".to_string(),
            (
                obj(json!({"base": "/srv/db", "app": "{{ base }}/app",
                           "ansible_host": "{{ net }}.5", "net": "10.0.0",
                           "broken": "{{ nope }}"})),
                obj(json!({"inventory_hostname": "jhv-db", "group_names": ["db"]})),
            ),
        );
        crate::hostvars::add_for_test(t);
        crate::hostvars::register("jhv-db", &obj(json!({"out": {"stdout": "{{ base }}"}})));
        let here = std::sync::Arc::new(obj(json!({"base": "/here"})));
        let r = |s: &str| {
            crate::jinja::render_str(s, &here, &super::RenderCtx::default())
                .map_err(|e| e.to_string())
        };
        assert_eq!(r("{{ hostvars['jhv-db'].app }}").unwrap(), "/srv/db/app");
        assert_eq!(
            r("{{ hostvars['jhv-db'].ansible_host }}").unwrap(),
            "10.0.0.5"
        );
        assert_eq!(
            r("{{ hostvars['jhv-db'].group_names | join(',') }} {{ hostvars['jhv-db'].inventory_hostname }}")
                .unwrap(),
            "db jhv-db"
        );
        // A registered result's text is what the host said, never a template.
        assert_eq!(
            r("{{ hostvars['jhv-db'].out.stdout }}").unwrap(),
            "{{ base }}"
        );
        // One that does not render is undefined there.
        assert_eq!(
            r("{{ hostvars['jhv-db'].broken | default('none') }}").unwrap(),
            "none"
        );
        assert_eq!(
            r("{{ hostvars['nobody'] | default('none') }}").unwrap(),
            "none"
        );
    }
}
