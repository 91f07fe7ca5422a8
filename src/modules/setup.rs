//! `setup`: gathers the host's facts again, as a task (`gather_subset`, `filter`). Its probe is
//! the same sh snippet a play gathers with; the result carries `ansible_facts` with Ansible's
//! `ansible_` prefixes, and the engine merges them into the host's facts.

use super::args::Getter;
use super::{Plan, Resource};
use crate::error::Result;
use crate::facts::{Subset, injected, parse, snippet};
use serde_json::{Map, Value};

#[derive(Debug, Clone)]
pub(crate) struct Setup {
    pub(crate) subset: Subset,
}

impl Setup {
    pub(crate) fn build(a: &Getter) -> Result<Setup> {
        let mut given = a.list("gather_subset")?;
        if !a.has("gather_subset") {
            given = vec!["all".into()];
        }
        let filter = a.list("filter")?;
        let subset = Subset::new(&given, &filter).map_err(|e| a.err("gather_subset", e))?;
        Ok(Setup { subset })
    }

    /// Facts read the whole system: any earlier change may alter them.
    pub(crate) fn reads(&self) -> Vec<Resource> {
        vec![Resource::All]
    }

    pub(crate) fn probe(&self) -> String {
        snippet(&self.subset)
    }

    pub(crate) fn plan(&self, output: &str) -> std::result::Result<Plan, String> {
        let facts = parse(output, &self.subset)?;
        // As Ansible's `setup` returns them: prefixed, but for its two metadata facts.
        let mut shown: Map<String, Value> = injected(&facts);
        for k in ["gather_subset", "module_setup"] {
            if let Some(v) = facts.get(k) {
                shown.insert(k.into(), v.clone());
            }
        }
        let mut p = Plan::ok();
        p.result
            .insert("ansible_facts".into(), Value::Object(shown));
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::args::Args;
    use serde_json::json;

    fn build(args: Value) -> Result<Setup> {
        let map = args.as_object().unwrap().clone();
        let a = Args {
            map: map.clone(),
            locs: Default::default(),
            key_locs: Default::default(),
            loc: crate::location::Location::new(&std::sync::Arc::new("t.yml".into()), 1, 1),
        };
        Setup::build(&Getter::new(&map, &a))
    }

    #[test]
    fn subset_and_filter() {
        let s = build(json!({})).unwrap();
        assert_eq!(s.subset, Subset::all());
        let s =
            build(json!({"gather_subset": ["!all", "network"], "filter": "ansible_default_ipv4"}))
                .unwrap();
        assert!(s.subset.has("network") && !s.subset.has("hardware"));
        assert!(s.subset.keep("default_ipv4") && !s.subset.keep("hostname"));
        let e = build(json!({"gather_subset": "nonsense"})).unwrap_err();
        assert!(e.to_string().contains("nonsense"), "{e}");
    }

    #[test]
    fn plan_reports_prefixed_facts() {
        let out = include_str!("../../tests/fixtures/facts/h72.txt");
        let s = build(json!({"gather_subset": "!all", "filter": ["ansible_os_family"]})).unwrap();
        let p = s.plan(out).unwrap();
        assert!(p.changes.is_empty());
        let f = p.result["ansible_facts"].as_object().unwrap();
        assert_eq!(f["ansible_os_family"], "Debian");
        assert!(!f.contains_key("ansible_hostname") && !f.contains_key("os_family"));
        assert!(s.plan("cut short").is_err());
    }
}
