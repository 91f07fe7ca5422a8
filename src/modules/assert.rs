//! `assert` and `fail`: engine actions that touch nothing on the host. `assert` keeps its
//! conditions as written and is judged by the engine on the host's variables at run time (also
//! in a dry run, since judging reads nothing on the host).

use crate::error::Error;
use crate::location::Location;
use crate::template::Vars;
use serde_json::Value;

/// `assert`: every condition of `that` must hold.
#[derive(Debug, Clone)]
pub(crate) struct Assert {
    pub(crate) that: Vec<Value>,
    pub(crate) loc: Location,
    pub(crate) fail_msg: Option<String>,
    pub(crate) success_msg: Option<String>,
    pub(crate) quiet: bool,
}

/// How an assertion came out.
#[derive(Debug, PartialEq)]
pub(crate) enum Verdict {
    /// Every condition held: the message to show (empty when `quiet`).
    Passed(String),
    /// A condition was false: the message, and the condition as written.
    Failed(String, String),
}

impl Assert {
    /// Judges the conditions in order, as Ansible does: the first false one fails the task.
    pub(crate) fn judge(&self, vars: &Vars) -> Result<Verdict, Error> {
        for c in &self.that {
            if !vars.condition(c, &self.loc)? {
                let written = match c {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                let msg = self
                    .fail_msg
                    .clone()
                    .unwrap_or_else(|| "Assertion failed".into());
                return Ok(Verdict::Failed(msg, written));
            }
        }
        let msg = match (self.quiet, &self.success_msg) {
            (true, _) => String::new(),
            (false, Some(m)) => m.clone(),
            (false, None) => "All assertions passed".into(),
        };
        Ok(Verdict::Passed(msg))
    }
}

/// A message argument as Ansible shows it: a string as is, anything else as JSON.
pub(crate) fn message(v: Option<&Value>) -> Option<String> {
    v.map(|v| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Map, json};
    use std::path::PathBuf;
    use std::sync::Arc;

    fn vars() -> Vars {
        let mut m = Map::new();
        m.insert("port".into(), json!(8000));
        m.insert("name".into(), json!("web"));
        Vars::new(m)
    }

    fn assert(that: Value, fail: Option<&str>, ok: Option<&str>, quiet: bool) -> Assert {
        let that = match that {
            Value::Array(v) => v,
            other => vec![other],
        };
        Assert {
            that,
            loc: Location::new(&Arc::new(PathBuf::from("site.yml")), 3, 5),
            fail_msg: fail.map(String::from),
            success_msg: ok.map(String::from),
            quiet,
        }
    }

    /// `that`, `fail_msg`, `success_msg`, `quiet`, and the verdict.
    type Case = (
        Value,
        Option<&'static str>,
        Option<&'static str>,
        bool,
        Verdict,
    );

    #[test]
    fn conditions_are_judged_in_order_the_first_false_one_fails() {
        let table: &[Case] = &[
            (
                json!(["port == 8000", "name == 'web'"]),
                None,
                None,
                false,
                Verdict::Passed("All assertions passed".into()),
            ),
            (
                json!("port > 1"),
                None,
                Some("fine"),
                false,
                Verdict::Passed("fine".into()),
            ),
            (
                json!("port > 1"),
                None,
                Some("fine"),
                true,
                Verdict::Passed(String::new()),
            ),
            (
                json!(["port == 8000", "name == 'db'", "port == 1"]),
                None,
                None,
                false,
                Verdict::Failed("Assertion failed".into(), "name == 'db'".into()),
            ),
            (
                json!("port < 1024"),
                Some("port must be high"),
                None,
                false,
                Verdict::Failed("port must be high".into(), "port < 1024".into()),
            ),
            (
                json!(true),
                None,
                None,
                false,
                Verdict::Passed("All assertions passed".into()),
            ),
        ];
        for (that, fail, ok, quiet, want) in table {
            let a = assert(that.clone(), *fail, *ok, *quiet);
            assert_eq!(&a.judge(&vars()).unwrap(), want, "{that}");
        }
    }

    #[test]
    fn an_undefined_variable_is_an_error_not_a_pass() {
        let a = assert(json!("nope == 1"), None, None, false);
        assert!(a.judge(&vars()).is_err());
    }
}
