//! What `groupby` yields, in its own file so that the value printer (py_value.rs) can know it
//! without importing the filters.

use minijinja::value::{Object, ObjectRepr, Value};
use std::sync::Arc;

/// One `groupby` result: unpacks as `(grouper, list)` and has `.grouper` / `.list`.
#[derive(Debug)]
pub(crate) struct Group(pub(crate) Value, pub(crate) Value);

impl Object for Group {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match (key.as_str(), key.as_i64()) {
            (Some("grouper"), _) | (_, Some(0)) => Some(self.0.clone()),
            (Some("list"), _) | (_, Some(1)) => Some(self.1.clone()),
            _ => None,
        }
    }
    fn enumerate(self: &Arc<Self>) -> minijinja::value::Enumerator {
        minijinja::value::Enumerator::Seq(2)
    }
}
