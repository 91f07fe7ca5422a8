//! `Group`: an inventory group as read, before its variables are merged into its hosts'.

use crate::location::Location;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

#[derive(Debug, Default)]
pub(super) struct Group {
    pub(super) hosts: Vec<String>,
    pub(super) children: Vec<String>,
    pub(super) vars: Map<String, Value>,
    pub(super) var_locs: BTreeMap<String, Location>,
}
