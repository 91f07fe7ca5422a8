//! `set_fact`: variables for the rest of the host's run, computed on the control machine (no
//! probe, nothing on the host), so a dry run evaluates it too. The engine keeps them at
//! Ansible's level: above play, role, block and task vars and `include_vars`, below `-e`;
//! with `cacheable`, they also join `ansible_facts`.

use super::args::Getter;
use crate::error::{Error, Result};
use serde_json::{Map, Value};

#[derive(Debug, Clone)]
pub(crate) struct SetFact {
    pub(crate) vars: Map<String, Value>,
    pub(crate) cacheable: bool,
}

impl SetFact {
    pub(crate) fn build(rendered: &Map<String, Value>, a: &Getter) -> Result<SetFact> {
        let cacheable = a.bool("cacheable", false)?;
        let vars: Map<String, Value> = rendered
            .iter()
            .filter(|(k, _)| *k != "cacheable")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if let Some(bad) = vars.keys().find(|k| !is_var_name(k)) {
            return Err(a.err(
                bad,
                format!("`{bad}` is not a valid variable name for `set_fact`"),
            ));
        }
        if vars.is_empty() {
            return Err(Error::Usage(
                "`set_fact` needs at least one variable".into(),
            ));
        }
        Ok(SetFact { vars, cacheable })
    }

    /// The registered result, as Ansible's.
    pub(crate) fn result(&self) -> Value {
        serde_json::json!({"ansible_facts": self.vars, "changed": false, "failed": false})
    }
}

/// A Python identifier, as Ansible requires of a variable name.
fn is_var_name(k: &str) -> bool {
    let mut c = k.chars();
    c.next()
        .is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_')
}

/// The names a `set_fact` task defines, as written (for validation).
pub(crate) fn names(args: &Map<String, Value>) -> Vec<String> {
    args.keys()
        .filter(|k| *k != "cacheable" && is_var_name(k))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::args::Args;
    use serde_json::json;

    fn build(v: Value) -> std::result::Result<SetFact, String> {
        let map = v.as_object().unwrap().clone();
        let a = Args {
            map: map.clone(),
            locs: Default::default(),
            key_locs: Default::default(),
            loc: crate::location::Location::new(&std::sync::Arc::new("t.yml".into()), 1, 1),
        };
        SetFact::build(&map, &Getter::new(&map, &a)).map_err(|e| e.to_string())
    }

    #[test]
    fn variables_and_cacheable() {
        let s = build(json!({"a": 1, "b": [1, 2], "cacheable": "yes"})).unwrap();
        assert!(s.cacheable);
        assert_eq!(s.vars, *json!({"a": 1, "b": [1, 2]}).as_object().unwrap());
        assert_eq!(s.result()["ansible_facts"]["a"], 1);
        assert!(!build(json!({"a": 1})).unwrap().cacheable);
        assert!(build(json!({"cacheable": true})).is_err());
        assert!(
            build(json!({"1x": 1}))
                .unwrap_err()
                .contains("valid variable name")
        );
        assert_eq!(
            names(json!({"x": 1, "cacheable": 1}).as_object().unwrap()),
            ["x"]
        );
    }
}
