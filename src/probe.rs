//! Many probes in one round trip: one sh script runs every snippet (as a brace group, not a
//! subshell: a fork each adds up on a host) and frames each one's output with a marker that
//! carries its exit status. So a snippet must not `cd` or `exit` outside a subshell of its own.

/// A marker no probe output contains by accident.
pub fn nonce() -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{:x}{:x}", t, std::process::id())
}

pub fn batch_script(snippets: &[&str], nonce: &str) -> String {
    let mut s = String::new();
    for (i, snip) in snippets.iter().enumerate() {
        s.push_str(&format!(
            "{{ {snip}\n}} 2>&1 </dev/null; printf '\\n@@plumb:{nonce}:{i}:%d\\n' $?\n"
        ));
    }
    s
}

/// Splits a batch's output into (exit status, output) per snippet, in order.
pub fn split(output: &str, nonce: &str, count: usize) -> Result<Vec<(i32, String)>, String> {
    let marker = format!("\n@@plumb:{nonce}:");
    let mut out = Vec::with_capacity(count);
    let mut rest = output;
    for i in 0..count {
        let at = rest.find(&marker).ok_or_else(|| {
            format!(
                "probe output ended early (section {i} of {count}): {}",
                rest.trim()
            )
        })?;
        let body = &rest[..at];
        let after = &rest[at + marker.len()..];
        let line_end = after.find('\n').unwrap_or(after.len());
        let (idx, code) = after[..line_end]
            .split_once(':')
            .ok_or("malformed probe marker")?;
        if idx.parse::<usize>().ok() != Some(i) {
            return Err(format!("probe sections out of order at {i}"));
        }
        let code = code.parse::<i32>().map_err(|_| "malformed probe marker")?;
        out.push((code, body.to_string()));
        rest = after.get(line_end + 1..).unwrap_or("");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::Transport;

    #[test]
    fn round_trip_through_sh() {
        let n = nonce();
        let script = batch_script(
            &["echo a; echo b", "printf x", "echo err >&2; (exit 3)"],
            &n,
        );
        let out = crate::transport::local::Local::new()
            .run(&script, None)
            .unwrap();
        let parts = split(&out.out, &n, 3).unwrap();
        assert_eq!(parts[0], (0, "a\nb\n".into()));
        assert_eq!(parts[1], (0, "x".into()));
        assert_eq!(parts[2], (3, "err\n".into()));
    }

    #[test]
    fn truncated_output_is_an_error() {
        assert!(split("a\n", "n", 1).is_err());
    }
}
