//! How a task and its items are named on their lines, and whether `--tags` takes it.

use crate::task::Task;
use serde_json::Value;

impl Task {
    /// How an item is named on the task's line: `loop_control.label` rendered by `render`
    /// (with the item's variables), else the item itself, shortened.
    pub(crate) fn item_label(
        &self,
        item: &Value,
        render: impl FnOnce(&Value) -> Option<Value>,
    ) -> String {
        match self.loop_label.as_ref().and_then(render) {
            Some(l) => compact(&l),
            None => compact(item),
        }
    }

    /// Whether `--tags`/`--skip-tags` take the task: by its tags, and every dynamic include
    /// around it by the include's.
    pub(crate) fn selected(&self, filter: &crate::tags::TagFilter) -> bool {
        filter.selects(&self.tags) && self.tag_gates.iter().all(|g| filter.selects(g))
    }

    pub(crate) fn display_name(&self) -> String {
        match &self.name {
            Some(n) => n.clone(),
            None => {
                let raw = self
                    .args
                    .map
                    .get("_raw")
                    .or_else(|| self.args.map.get("name"))
                    .or_else(|| self.args.map.get("dest"))
                    .or_else(|| self.args.map.get("path"))
                    .or_else(|| self.args.map.get("url"));
                match raw {
                    Some(v) => format!("{} {}", self.module, compact(v)),
                    None => self.module.clone(),
                }
            }
        }
    }
}

fn compact(v: &Value) -> String {
    let s = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let first = s.lines().next().unwrap_or("").to_string();
    if first.chars().count() > 60 {
        format!("{}…", first.chars().take(60).collect::<String>())
    } else {
        first
    }
}
