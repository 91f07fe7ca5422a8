//! `Host`: one inventory host with its merged variables.

use crate::location::Location;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

#[derive(Debug, Clone)]
pub(crate) struct Host {
    pub(crate) name: String,
    /// Inventory variables, merged: `all`, then groups by depth and name, then the host's own.
    pub(crate) vars: Map<String, Value>,
    /// Where each of `vars` was written (the value that won), when it came from a file: errors
    /// about a connection variable (a missing key file) point there.
    pub(crate) var_locs: BTreeMap<String, Location>,
    pub(crate) groups: Vec<String>,
}
