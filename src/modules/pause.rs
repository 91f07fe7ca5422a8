//! `pause`: waits `seconds` or `minutes` (on the host, in the task's turn: plumb has no
//! controller-side wait), then goes on. Ansible's interactive `prompt` without a time needs a
//! terminal; plumb refuses it when there is none (and, for now, also with one: hosts run in
//! parallel and a play-wide prompt needs the engine). With a time, `prompt` is only shown.

use super::args::Getter;
use super::{Plan, Run};
use crate::error::Result;
use serde_json::json;

#[derive(Debug, Clone)]
pub(crate) struct Pause {
    pub seconds: u64,
    pub prompt: Option<String>,
}

/// Needs no facts: it only waits, when applied.
impl super::Module for Pause {
    fn probe(&self) -> Option<String> {
        None
    }
    fn reads(&self) -> Vec<super::Resource> {
        Vec::new()
    }
    fn plan(&self, _facts: &str) -> std::result::Result<Plan, String> {
        Ok(Pause::plan(self))
    }
}

impl Pause {
    pub(crate) fn build(a: &Getter) -> Result<Pause> {
        let seconds = match (a.opt_u64("seconds")?, a.opt_u64("minutes")?) {
            (Some(_), Some(_)) => {
                return Err(a.err("minutes", "give `seconds` or `minutes`, not both"));
            }
            (Some(s), None) => Some(s),
            (None, Some(m)) => Some(m * 60),
            (None, None) => None,
        };
        let prompt = a.opt_str("prompt")?;
        let Some(seconds) = seconds else {
            use std::io::IsTerminal;
            let why = if std::io::stdin().is_terminal() {
                "a `pause` that waits for a key press is not supported yet"
            } else {
                "a `pause` without `seconds` or `minutes` waits for a key press, and there is no terminal to read it from"
            };
            return Err(a.err(if prompt.is_some() { "prompt" } else { "seconds" }, why)
                .with_hint("give `seconds` or `minutes`, or use `wait_for`/`until` to wait for a condition"));
        };
        if seconds > 24 * 3600 {
            return Err(a.err("seconds", "a pause of more than a day"));
        }
        Ok(Pause { seconds, prompt })
    }

    pub(crate) fn plan(&self) -> Plan {
        let mut result = serde_json::Map::new();
        result.insert("delta".into(), json!(self.seconds));
        result.insert(
            "stdout".into(),
            json!(format!("Paused for {} seconds", self.seconds)),
        );
        result.insert("user_input".into(), json!(""));
        if let Some(p) = &self.prompt {
            result.insert("prompt".into(), json!(p));
        }
        Plan {
            run: Run::Script(format!("sleep {}\n", self.seconds)),
            result,
            ..Plan::ok()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::args::Args;
    use serde_json::{Map, Value};
    use std::collections::HashMap;
    use std::sync::Arc;

    fn pause(args: Value) -> std::result::Result<Pause, String> {
        let map: Map<String, Value> = args.as_object().unwrap().clone();
        let args = Args {
            map: map.clone(),
            locs: HashMap::new(),
            key_locs: HashMap::new(),
            loc: crate::location::Location::new(&Arc::new("t.yml".into()), 1, 1),
        };
        Pause::build(&Getter::new(&map, &args)).map_err(|e| format!("{e:?}"))
    }

    #[test]
    fn waits_without_changing() {
        let p = pause(json!({"minutes": 1})).unwrap().plan();
        assert!(p.changes.is_empty());
        assert!(matches!(&p.run, Run::Script(s) if s == "sleep 60\n"));
        assert_eq!(p.result["stdout"], "Paused for 60 seconds");
        let p = pause(json!({"seconds": "5", "prompt": "Waiting for the cache"})).unwrap();
        assert_eq!(p.seconds, 5);
    }

    #[test]
    fn errors() {
        // Tests run without a terminal on stdin.
        let e = pause(json!({"prompt": "Press enter"})).unwrap_err();
        assert!(e.contains("key press"), "{e}");
        assert!(pause(json!({})).is_err());
        assert!(pause(json!({"seconds": 1, "minutes": 1})).is_err());
        assert!(pause(json!({"seconds": "soon"})).is_err());
    }
}
