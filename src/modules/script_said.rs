//! The one channel from a module's script back to the engine, on its stdout (a module's own
//! protocol, so it lives with the modules).

use serde_json::Value;

/// What a module's script reports on stdout, for the cases only the host can decide: a line
/// `plumb-result\t{JSON object}` adds to the registered result; a line `plumb-unchanged` says
/// the planned change turned out not to be needed (a download identical to the file in place).
/// Returns whether the script said unchanged.
pub(crate) fn script_said(stdout: &str, value: &mut Value) -> bool {
    let mut unchanged = false;
    for line in stdout.lines() {
        if line == "plumb-unchanged" {
            unchanged = true;
        } else if let Some(j) = line.strip_prefix("plumb-result\t")
            && let Ok(Value::Object(m)) = serde_json::from_str::<Value>(j)
            && let Value::Object(v) = value
        {
            v.extend(m);
        }
    }
    unchanged
}
