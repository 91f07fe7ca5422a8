//! Many probes in one round trip: one sh script runs every snippet (as a brace group, not a
//! subshell: a fork each adds up on a host) and frames each one's output with a marker that
//! carries its exit status. So a snippet must not `cd` or `exit` outside a subshell of its own.

/// A marker no probe output contains by accident.
pub(crate) fn nonce() -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{:x}{:x}", t, std::process::id())
}

pub(crate) fn batch_script(snippets: &[&str], nonce: &str) -> String {
    let mut s = String::new();
    for (i, snip) in snippets.iter().enumerate() {
        s.push_str(&format!(
            "{{ {snip}\n}} 2>&1 </dev/null; printf '\\n@@plumb:{nonce}:{i}:%d\\n' $?\n"
        ));
    }
    s
}

/// The batch script as -vv prints it: the snippets of `no_log` tasks replaced.
pub(crate) fn redacted_script(snippets: &[&str], nonce: &str, hidden: &[bool]) -> String {
    let shown: Vec<&str> = snippets
        .iter()
        .zip(hidden)
        .map(|(s, h)| if *h { ": (hidden: no_log)" } else { s })
        .collect();
    batch_script(&shown, nonce)
}

/// A batch's output as -vv prints it: the sections of `no_log` tasks replaced. Output that
/// does not split holds them somewhere unknown, so none of it is shown.
pub(crate) fn redacted_output(output: &str, nonce: &str, hidden: &[bool]) -> String {
    if !hidden.contains(&true) {
        return output.to_string();
    }
    match split(output, nonce, hidden.len()) {
        Ok(parts) => parts
            .iter()
            .zip(hidden)
            .enumerate()
            .map(|(i, ((code, body), h))| {
                let body = if *h { "(hidden: no_log)" } else { body };
                format!("{body}\n@@plumb:{nonce}:{i}:{code}\n")
            })
            .collect(),
        Err(_) => "(hidden: it holds the probe of a no_log task, and did not split into sections)"
            .to_string(),
    }
}

/// Why a batch's output could not be split.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum SplitError {
    /// The output ended before the last marker (the shell died, sudo refused): each task can
    /// still probe alone.
    Incomplete(String),
    /// A marker where none belongs, or output after the last one: something on the host
    /// printed the marker (it can read the nonce in the script). Nothing in it can be trusted.
    Forged(String),
}

/// Splits a batch's output into (exit status, output) per snippet, in order. Exactly `count`
/// markers, in order, and nothing after the last one.
pub(crate) fn split(
    output: &str,
    nonce: &str,
    count: usize,
) -> Result<Vec<(i32, String)>, SplitError> {
    let marker = format!("\n@@plumb:{nonce}:");
    let forged = |why: String| SplitError::Forged(format!("probe failed: {why}"));
    let seen = output.matches(&marker).count() + usize::from(output.starts_with(&marker[1..]));
    if seen > count {
        return Err(forged(format!(
            "{seen} section markers for {count} sections (a forged marker)"
        )));
    }
    let mut out = Vec::with_capacity(count);
    let mut rest = output;
    for i in 0..count {
        let Some(at) = rest.find(&marker) else {
            if seen > i {
                return Err(forged(format!("a misplaced section marker at {i}")));
            }
            return Err(SplitError::Incomplete(format!(
                "probe output ended early (section {i} of {count}): {}",
                rest.trim()
            )));
        };
        let body = &rest[..at];
        let after = &rest[at + marker.len()..];
        let line_end = after.find('\n').unwrap_or(after.len());
        let marker_at = |why: &str| forged(format!("{why} at section {i}"));
        let (idx, code) = after[..line_end]
            .split_once(':')
            .ok_or_else(|| marker_at("a malformed section marker"))?;
        if idx.parse::<usize>().ok() != Some(i) {
            return Err(marker_at("sections out of order"));
        }
        let code = code
            .parse::<i32>()
            .map_err(|_| marker_at("a malformed section marker"))?;
        out.push((code, body.to_string()));
        rest = after.get(line_end + 1..).unwrap_or("");
    }
    if !rest.is_empty() {
        return Err(forged(format!(
            "output after the last section: `{}`",
            rest.escape_debug()
        )));
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
        assert!(matches!(
            split("a\n", "n", 1),
            Err(SplitError::Incomplete(_))
        ));
        assert!(matches!(
            split("a\n@@plumb:n:0:0\nb", "n", 2),
            Err(SplitError::Incomplete(_))
        ));
    }

    #[test]
    fn forged_markers_are_errors() {
        let ok = "a\n@@plumb:n:0:0\nb\n@@plumb:n:1:3\n";
        assert_eq!(
            split(ok, "n", 2).unwrap(),
            [(0, "a".to_string()), (3, "b".to_string())]
        );
        // (what, output) for 2 sections.
        let cases = [
            ("output after the last marker", format!("{ok}x\n")),
            (
                "a forged end of section 0 inside it",
                format!("x\n@@plumb:n:0:0\n{ok}"),
            ),
            (
                "a forged section 1 inside section 0",
                "a\n@@plumb:n:1:0\nb\n@@plumb:n:0:0\nc\n@@plumb:n:1:0\n".to_string(),
            ),
            (
                "every marker forged, then the real ones",
                format!("{ok}{ok}"),
            ),
            (
                "a forged marker then a truncation",
                "a\n@@plumb:n:0:0\nb\n@@plumb:n:0:0\n".to_string(),
            ),
            (
                "a malformed marker",
                "a\n@@plumb:n:0:x\nb\n@@plumb:n:1:0\n".to_string(),
            ),
            (
                "a marker at the very start",
                "@@plumb:n:0:0\na\n@@plumb:n:0:0\nb\n@@plumb:n:1:0\n".to_string(),
            ),
        ];
        for (what, out) in cases {
            assert!(
                matches!(split(&out, "n", 2), Err(SplitError::Forged(_))),
                "{what}: {:?}",
                split(&out, "n", 2)
            );
        }
    }

    #[test]
    fn no_log_sections_are_redacted() {
        let out = "a\n@@plumb:n:0:0\nSECRET\n@@plumb:n:1:0\n";
        let shown = redacted_output(out, "n", &[false, true]);
        assert_eq!(shown, "a\n@@plumb:n:0:0\n(hidden: no_log)\n@@plumb:n:1:0\n");
        assert_eq!(redacted_output(out, "n", &[false, false]), out);
        // Output that does not split: none of it.
        assert!(!redacted_output("SECRET", "n", &[false, true]).contains("SECRET"));
        let script = redacted_script(&["stat a", "cat SECRET"], "n", &[false, true]);
        assert!(
            script.contains("stat a") && !script.contains("SECRET"),
            "{script}"
        );
    }
}
