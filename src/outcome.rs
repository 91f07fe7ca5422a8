//! What a task or a host came to: statuses, one item's outcome, and the items of a loop taken
//! together.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Status {
    Ok,
    Changed,
    MayChange,
    Failed,
    Skipped,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum HostStatus {
    Ok,
    Changed,
    Failed,
    Unreachable,
    /// Never started: the rollout stopped before this host's batch.
    NotRun,
}

/// One item's (or one task's) result.
pub(crate) struct Outcome {
    pub(crate) status: Status,
    pub(crate) msg: String,
    pub(crate) changes: Vec<String>,
    pub(crate) diffs: Vec<String>,
    pub(crate) value: Value,
}

impl Outcome {
    pub(crate) fn new(status: Status, msg: impl Into<String>) -> Outcome {
        let msg = msg.into();
        let failed = status == Status::Failed;
        Outcome {
            value: json!({"changed": false, "failed": failed, "skipped": status == Status::Skipped, "msg": msg}),
            status,
            msg,
            changes: Vec::new(),
            diffs: Vec::new(),
        }
    }
}

/// A task's status and registered result from its items' (one item when it has no loop):
/// failed over changed over may-change; skipped only when every item was (a loop over no
/// items is skipped).
pub(crate) fn aggregate(outcomes: &[Outcome], looped: bool) -> (Status, Value) {
    let any = |s: Status| outcomes.iter().any(|o| o.status == s);
    let status = if any(Status::Failed) {
        Status::Failed
    } else if any(Status::Changed) {
        Status::Changed
    } else if any(Status::MayChange) {
        Status::MayChange
    } else if (looped || !outcomes.is_empty())
        && outcomes.iter().all(|o| o.status == Status::Skipped)
    {
        // A loop over no items is skipped, as in Ansible ("No items in the list").
        Status::Skipped
    } else {
        Status::Ok
    };
    let value = if looped {
        let results: Vec<Value> = outcomes.iter().map(|o| o.value.clone()).collect();
        // Built in place: `json!` would serialize every item's result again.
        let mut m = serde_json::Map::new();
        m.insert("results".into(), Value::Array(results));
        m.insert("changed".into(), Value::Bool(status == Status::Changed));
        m.insert("failed".into(), Value::Bool(status == Status::Failed));
        m.insert("skipped".into(), Value::Bool(status == Status::Skipped));
        m.insert("msg".into(), Value::from(""));
        if outcomes.is_empty() {
            m.insert("skipped_reason".into(), Value::from("No items in the list"));
        }
        Value::Object(m)
    } else {
        outcomes
            .first()
            .map(|o| o.value.clone())
            .unwrap_or(json!({}))
    };
    (status, value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_make_the_task() {
        use Status::*;
        // (item statuses, looped, task status)
        let table: &[(&[Status], bool, Status)] = &[
            (&[], false, Ok),
            (&[], true, Skipped),
            (&[Skipped], false, Skipped),
            (&[Skipped, Skipped], true, Skipped),
            (&[Skipped, Ok], true, Ok),
            (&[Ok, MayChange], true, MayChange),
            (&[MayChange, Changed], true, Changed),
            (&[Changed, Failed], true, Failed),
            (&[Failed, Skipped], true, Failed),
        ];
        for (items, looped, want) in table {
            let outcomes: Vec<Outcome> = items.iter().map(|s| Outcome::new(*s, "m")).collect();
            let (status, value) = aggregate(&outcomes, *looped);
            assert_eq!(status, *want, "{items:?}");
            if *looped {
                assert_eq!(value["results"].as_array().unwrap().len(), items.len());
                assert_eq!(value["changed"], json!(status == Changed));
                assert_eq!(value["failed"], json!(status == Failed));
            } else if let Some(first) = outcomes.first() {
                assert_eq!(value, first.value);
            } else {
                assert_eq!(value, json!({}));
            }
        }
    }
}
