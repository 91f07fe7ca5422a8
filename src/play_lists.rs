//! The play's host lists (`groups`, `play_hosts`, `ansible_play_hosts`,
//! `ansible_play_hosts_all`, `ansible_play_batch`): one copy for the play and batch being run,
//! which every host's variables read when a name is not their own. A copy in each host's
//! variables made a thousand hosts hold five million names (0.9 GB), and every copy of a
//! host's variables copied them again.
//!
//! One play, and one `serial` batch of it, runs at a time (validation checks the plays one
//! after another before that): the lists are set before each, and read as they are then.

use serde_json::{Map, Value};
use std::sync::{Arc, RwLock};

/// The names it holds.
pub(crate) const NAMES: [&str; 5] = [
    "groups",
    "play_hosts",
    "ansible_play_hosts",
    "ansible_play_hosts_all",
    "ansible_play_batch",
];

static CURRENT: RwLock<Option<Arc<Map<String, Value>>>> = RwLock::new(None);

/// The lists of the play (and batch) about to run.
pub(crate) fn set(lists: Map<String, Value>) {
    *CURRENT.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(lists));
}

/// The lists now, shared.
pub(crate) fn current() -> Option<Arc<Map<String, Value>>> {
    CURRENT.read().unwrap_or_else(|e| e.into_inner()).clone()
}

/// One of the lists now.
pub(crate) fn get(name: &str) -> Option<Value> {
    if !NAMES.contains(&name) {
        return None;
    }
    current().and_then(|m| m.get(name).cloned())
}

/// Whether `name` is one of them.
pub(crate) fn holds(name: &str) -> bool {
    NAMES.contains(&name)
}
