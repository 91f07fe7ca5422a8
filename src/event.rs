//! What a host's run tells the report, over a channel: events, and the task and host reports
//! they carry.

use crate::outcome::{HostStatus, Status};
use serde::{Deserialize, Serialize};
use std::sync::mpsc::Sender;
use std::time::Duration;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TaskReport {
    pub name: String,
    pub status: Status,
    #[serde(default)]
    pub msg: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub handler: bool,
    pub duration_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HostReport {
    pub host: String,
    pub status: HostStatus,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub msg: String,
    pub tasks: Vec<TaskReport>,
    pub duration_ms: u64,
}

impl HostReport {
    pub fn new(host: &str) -> HostReport {
        HostReport {
            host: host.to_string(),
            status: HostStatus::Ok,
            msg: String::new(),
            tasks: Vec::new(),
            duration_ms: 0,
        }
    }

    pub fn count(&self, s: Status) -> usize {
        self.tasks.iter().filter(|t| t.status == s).count()
    }
}

#[derive(Debug, Clone)]
pub enum Event {
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
pub struct Log<'a> {
    pub tx: &'a Sender<Event>,
    pub host: &'a str,
    pub verbose: u8,
    /// The current task has `no_log`.
    pub quiet: bool,
}

impl Log<'_> {
    pub fn detail(&self, level: u8, text: String) {
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
