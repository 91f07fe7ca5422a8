//! What a host's run tells the report, over a channel: events, and the task and host reports
//! they carry.

use crate::outcome::{HostStatus, Outcome, Status};
use crate::task::Task;
use serde::{Deserialize, Serialize};
use std::sync::mpsc::Sender;
use std::time::Duration;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct TaskReport {
    pub(crate) name: String,
    pub(crate) status: Status,
    #[serde(default)]
    pub(crate) msg: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) changes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) diff: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) handler: bool,
    pub(crate) duration_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct HostReport {
    pub(crate) host: String,
    pub(crate) status: HostStatus,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub(crate) msg: String,
    pub(crate) tasks: Vec<TaskReport>,
    pub(crate) duration_ms: u64,
}

impl HostReport {
    pub(crate) fn new(host: &str) -> HostReport {
        HostReport {
            host: host.to_string(),
            status: HostStatus::Ok,
            msg: String::new(),
            tasks: Vec::new(),
            duration_ms: 0,
        }
    }

    pub(crate) fn count(&self, s: Status) -> usize {
        self.tasks.iter().filter(|t| t.status == s).count()
    }
}

#[derive(Debug, Clone)]
pub(crate) enum Event {
    Play {
        name: String,
        hosts: usize,
        check: bool,
    },
    /// A host's run began (connecting).
    HostStart {
        host: String,
    },
    /// A host moved on to a task.
    TaskStart {
        host: String,
        name: String,
    },
    /// -v / -vv detail: probes, commands sent, raw output.
    Detail {
        host: String,
        text: String,
    },
    Task {
        host: String,
        task: TaskReport,
    },
    Host {
        host: String,
        status: HostStatus,
        msg: String,
        duration: Duration,
    },
}

/// Where a host's -v details go: none above the verbosity asked for, and nothing of a `no_log`
/// task.
pub(crate) struct Log<'a> {
    pub(crate) tx: &'a Sender<Event>,
    pub(crate) host: &'a str,
    pub(crate) verbose: u8,
    /// The current task has `no_log`.
    pub(crate) quiet: bool,
}

impl Log<'_> {
    pub(crate) fn detail(&self, level: u8, text: String) {
        if self.verbose >= level {
            let text = if self.quiet {
                "(details hidden: no_log)".to_string()
            } else {
                text
            };
            let _ = self.tx.send(Event::Detail {
                host: self.host.to_string(),
                text,
            });
        }
    }
}

/// How a task's line reads beyond its items' outcomes.
pub(crate) struct Line<'a> {
    /// It is a handler.
    pub(crate) handler: bool,
    /// The tasks that notified the handler.
    pub(crate) by: &'a [String],
    /// A failure goes to a block's `rescue`.
    pub(crate) rescued: bool,
    /// A dry run.
    pub(crate) check: bool,
}

impl Line<'_> {
    /// The task's line, under `name`: its items' messages, changes and diffs, what is hidden
    /// by `no_log`.
    pub(crate) fn report(
        &self,
        task: &Task,
        name: String,
        status: Status,
        outcomes: &[Outcome],
        elapsed: Duration,
    ) -> TaskReport {
        let mut msgs: Vec<String> = outcomes
            .iter()
            .filter(|o| !o.msg.is_empty())
            .map(|o| o.msg.clone())
            .collect();
        msgs.dedup();
        let mut msg = msgs.join("\n");
        if status == Status::Failed && task.ignore_errors {
            msg = format!("{msg}\n(ignored: ignore_errors is set)");
        } else if status == Status::Failed && self.rescued {
            msg = format!("{msg}\n(a block's rescue runs next)");
        }
        if self.handler && !self.by.is_empty() && status != Status::Failed {
            let verb = match status {
                Status::MayChange => "may run",
                _ if self.check => "will run",
                _ => "ran",
            };
            // What the handler said stays (a restart with nothing left to do says why).
            msg = match msg.is_empty() {
                true => format!("{verb}, notified by: {}", self.by.join(", ")),
                false => format!("{msg}; notified by: {}", self.by.join(", ")),
            };
        }
        let mut changes: Vec<String> = outcomes.iter().flat_map(|o| o.changes.clone()).collect();
        let mut diffs: Vec<String> = outcomes.iter().flat_map(|o| o.diffs.clone()).collect();
        if task.no_log {
            if !changes.is_empty() {
                changes = vec!["(details hidden: no_log)".into()];
            }
            diffs.clear();
            if status == Status::Failed || !msg.is_empty() {
                msg = "(output hidden: no_log)".into();
            }
        }
        TaskReport {
            name,
            status,
            msg,
            changes,
            diff: if diffs.is_empty() {
                None
            } else {
                Some(diffs.join(""))
            },
            handler: self.handler,
            duration_ms: elapsed.as_millis() as u64,
        }
    }
}

/// The first `n` lines of `text`, and how many more there are.
pub(crate) fn head(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.trim_end().lines().collect();
    let mut out = lines.iter().take(n).copied().collect::<Vec<_>>().join("\n");
    if lines.len() > n {
        out.push_str(&format!("\n… {} more lines", lines.len() - n));
    }
    out
}
