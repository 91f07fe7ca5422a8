//! `hostvars` as templates see it: each host's entry of the run's store (`hostvars.rs`),
//! looked up when read, with its inventory variables rendered in that host's own context, as
//! Ansible's `HostVarsVars` renders them (`hostvars['db1'].url` where `url: "{{ base }}/x"`
//! gives db1's `base`).

use super::RenderCtx;
use super::vars::{Render, Vars};
use minijinja::value::{Enumerator, Object, ObjectRepr, Value};
use std::sync::Arc;

/// `render` renders another host's templated values (the engine's, which sits above).
pub(super) fn value(ctx: &RenderCtx, render: Render) -> Value {
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
        let here = obj(json!({"base": "/here"}));
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
