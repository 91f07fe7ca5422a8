//! `hostvars`: every host's variables as far as they are known, shared by the hosts' threads.
//! A host's entry starts as its inventory variables and grows with its facts, `set_fact` and
//! registered results as its run goes; a template reads it when it looks (`hostvars['web2']`),
//! so another host's facts are there once that host has gathered them.

use minijinja::value::{Enumerator, Object, ObjectRepr, Value};
use serde_json::Map;
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

type Table = BTreeMap<String, Map<String, serde_json::Value>>;

static HOSTVARS: RwLock<Table> = RwLock::new(BTreeMap::new());

/// The run's hosts with their inventory variables (replaces what a previous run left).
pub(crate) fn install(hosts: Table) {
    if let Ok(mut t) = HOSTVARS.write() {
        *t = hosts;
    }
}

/// `vars` join `host`'s entry (facts, `set_fact`, a registered result).
pub(crate) fn update(host: &str, vars: &Map<String, serde_json::Value>) {
    if let Ok(mut t) = HOSTVARS.write() {
        t.entry(host.to_string())
            .or_default()
            .extend(vars.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
}

/// `names` leave `host`'s entry (`meta: clear_facts`).
pub(crate) fn forget(host: &str, names: &[String]) {
    if let Ok(mut t) = HOSTVARS.write()
        && let Some(h) = t.get_mut(host)
    {
        for n in names {
            h.remove(n);
        }
    }
}

/// A host's entry now, if the run knows the host.
pub(crate) fn get(host: &str) -> Option<Map<String, serde_json::Value>> {
    HOSTVARS.read().ok()?.get(host).cloned()
}

/// `hostvars` as templates see it: looked up when read.
pub(crate) fn value() -> Value {
    Value::from_object(HostVars)
}

#[derive(Debug)]
struct HostVars;

impl Object for HostVars {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let host = get(key.as_str()?)?;
        Some(crate::py_value::map_from(
            host.iter()
                .map(|(k, v)| (k.clone(), crate::py_value::from_json(v))),
        ))
    }
    fn enumerate(self: &Arc<Self>) -> Enumerator {
        let names: Vec<Value> = HOSTVARS
            .read()
            .map(|t| t.keys().map(|k| Value::from(k.as_str())).collect())
            .unwrap_or_default();
        Enumerator::Values(names)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn entries_grow_and_are_read_when_looked_at() {
        let mut t = Table::new();
        t.insert(
            "hv-a".into(),
            json!({"colour": "red"}).as_object().unwrap().clone(),
        );
        install(t);
        update(
            "hv-a",
            json!({"ansible_facts": {"hostname": "a"}})
                .as_object()
                .unwrap(),
        );
        let a = get("hv-a").unwrap();
        assert_eq!(a["colour"], "red");
        assert_eq!(a["ansible_facts"]["hostname"], "a");
        let v = value();
        let host = v.get_item(&Value::from("hv-a")).unwrap();
        assert_eq!(host.get_attr("colour").unwrap().as_str(), Some("red"));
        assert!(v.get_item(&Value::from("nobody")).unwrap().is_undefined());
    }
}
