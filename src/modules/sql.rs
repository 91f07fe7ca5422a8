//! What the database modules (MySQL's and PostgreSQL's) share: the probe's tagged, base64
//! fields, the script that runs statements from a quoted here-document, and the check on text
//! that goes into SQL.

use super::args::Getter;
use crate::error::Result;
use crate::shell::quote;
use base64::Engine;

/// A probe line: `TAG\tBASE64(output)` then `TAG_rc\tEXIT`, for one query through `client`.
pub(crate) fn query(tag: &str, sql: &str, client: &str) -> String {
    format!(
        "printf '{tag}\\t'; plumb_v=$(printf '%s\\n' {} | {client} 2>&1); plumb_rc=$?; printf '%s' \"$plumb_v\" | base64 -w0; printf '\\n{tag}_rc\\t%s\\n' \"$plumb_rc\"\n",
        quote(sql),
    )
}

/// A script that runs these statements through `client`, from a quoted here-document.
pub(crate) fn script(client: &str, statements: &[String]) -> String {
    let end = super::safe_write::temp_name("SQL").replace(['.', '-'], "_");
    format!(
        "set -e\n{client} <<'{end}'\n{}\n{end}\n",
        statements.join("\n")
    )
}

/// The probe's tagged, base64 fields: tag → (output, exit code).
pub(crate) fn fields(
    facts: &str,
) -> std::result::Result<std::collections::HashMap<String, (String, String)>, String> {
    let mut out = std::collections::HashMap::new();
    let mut rcs = std::collections::HashMap::new();
    for l in facts.lines() {
        let (k, v) = l
            .split_once('\t')
            .ok_or_else(|| format!("unexpected probe output: {}", facts.trim()))?;
        if let Some(t) = k.strip_suffix("_rc") {
            rcs.insert(t.to_string(), v.trim().to_string());
        } else {
            let b = base64::engine::general_purpose::STANDARD
                .decode(v.trim())
                .map_err(|e| format!("unexpected probe output: {e}"))?;
            out.insert(k.to_string(), String::from_utf8_lossy(&b).into_owned());
        }
    }
    let mut m = std::collections::HashMap::new();
    for (k, v) in out {
        let rc = rcs
            .remove(&k)
            .ok_or_else(|| format!("unexpected probe output: no exit code for {k}"))?;
        m.insert(k, (v, rc));
    }
    Ok(m)
}

/// Names and words that go into SQL: no control characters.
pub(crate) fn check_text(a: &Getter, key: &str, v: &str) -> Result<()> {
    if v.is_empty() || v.contains(|c: char| c.is_control()) {
        return Err(a.err(key, format!("`{key}` must be one line of text")));
    }
    Ok(())
}
