//! Variables as written that read other variables (`app_dir: "/srv/{{ app }}"`). plumb renders
//! each once when a host starts; Ansible renders a variable whenever it is read, so once a
//! `set_fact`, `include_vars` or `register` gives `app` a new value, `app_dir` follows it. Those
//! readers are handed back as written, to be rendered for each task like the variables that
//! wait for a registered result (`host_vars::task_item_vars`).

use crate::inventory::Host;
use crate::play::Play;
use crate::template::names_in;
use serde_json::{Map, Value};
use std::collections::BTreeSet;

/// A host's templated variables (roles' defaults, the inventory, the play's), each with the
/// names it reads. `-e` values are fixed: nothing set later changes them.
#[derive(Default)]
pub(crate) struct LazyVars {
    written: Vec<(String, Value, BTreeSet<String>)>,
}

impl LazyVars {
    pub(crate) fn new(host: &Host, play: &Play, extra: &Map<String, Value>) -> LazyVars {
        let mut m = play.defaults.clone();
        m.extend(host.vars.clone());
        m.extend(play.vars.clone());
        LazyVars::from_written(m, extra)
    }

    fn from_written(m: Map<String, Value>, extra: &Map<String, Value>) -> LazyVars {
        let written = m
            .into_iter()
            .filter(|(k, _)| !extra.contains_key(k))
            .filter_map(|(k, v)| {
                let reads = names_in(&v);
                (!reads.is_empty()).then_some((k, v, reads))
            })
            .collect();
        LazyVars { written }
    }

    /// The variables that read one of `changed`, directly or through another variable that
    /// does, as written. A variable that `changed` names itself is not among them: its new
    /// value wins.
    pub(crate) fn readers(&self, changed: &BTreeSet<String>) -> Map<String, Value> {
        let mut stale: BTreeSet<&str> = BTreeSet::new();
        loop {
            let more: Vec<&str> = (self.written.iter())
                .filter(|(k, _, _)| !changed.contains(k) && !stale.contains(k.as_str()))
                .filter(|(_, _, reads)| {
                    reads
                        .iter()
                        .any(|r| changed.contains(r) || stale.contains(r.as_str()))
                })
                .map(|(k, _, _)| k.as_str())
                .collect();
            if more.is_empty() {
                break;
            }
            stale.extend(more);
        }
        (self.written.iter())
            .filter(|(k, _, _)| stale.contains(k.as_str()))
            .map(|(k, v, _)| (k.clone(), v.clone()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Who reads a changed variable, also through another one; not what `-e` fixed, nor the
    /// changed variable itself.
    #[test]
    fn readers_of_changed_variables() {
        let written = json!({
            "app": "shop",
            "app_dir": "/srv/{{ app }}",
            "static": "{{ app_dir }}/static",
            "logs": ["{{ app_dir }}/log"],
            "port": "{{ base_port | int + 1 }}",
            "fixed": "{{ app }}",
            "self": "{{ self_base }}",
        });
        let extra = json!({"fixed": "by -e"});
        let lazy = LazyVars::from_written(
            written.as_object().unwrap().clone(),
            extra.as_object().unwrap(),
        );
        let table: &[(&[&str], &[&str])] = &[
            (&["app"], &["app_dir", "static", "logs"]),
            (&["app_dir"], &["static", "logs"]),
            (&["app", "app_dir"], &["static", "logs"]),
            (&["base_port"], &["port"]),
            (&["static"], &[]),
            (&["self_base"], &["self"]),
            (&["other"], &[]),
            (&[], &[]),
        ];
        for (changed, want) in table {
            let changed: BTreeSet<String> = changed.iter().map(|s| s.to_string()).collect();
            let got = lazy.readers(&changed);
            // In the order written.
            let names: Vec<&str> = got.keys().map(String::as_str).collect();
            assert_eq!(names, *want, "{changed:?}");
            for n in names {
                assert_eq!(got[n], written[n], "{n} as written");
            }
        }
    }
}
