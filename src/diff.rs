//! Before and after of the files a plan rewrites: the old content read from the host, then a
//! unified diff, within limits a reviewer can read.

use crate::modules::Plan;
use crate::transport::Output;

/// Unified diffs of the files a plan rewrites, against what is on the host now. `run` runs a
/// script on the host (as the task's user) and returns its output.
pub(crate) fn diffs<E>(
    plan: &Plan,
    mut run: impl FnMut(&str) -> Result<Output, E>,
) -> Result<Vec<String>, E> {
    let mut out = Vec::new();
    for c in &plan.changes {
        let Some(cc) = &c.content else { continue };
        let limit = MAX_DIFF_BYTES;
        if cc.new.len() > limit {
            out.push(format!(
                "({}: {} bytes, too large to diff)\n",
                cc.path,
                cc.new.len()
            ));
            continue;
        }
        let old = if cc.exists {
            let script = format!("head -c {} -- {}", limit + 1, crate::shell::quote(&cc.path));
            let res = run(&script)?;
            if res.code != 0 {
                out.push(format!(
                    "(cannot read {} for a diff: {})\n",
                    cc.path,
                    res.all().trim()
                ));
                continue;
            }
            if res.out.len() > limit {
                out.push(format!(
                    "({}: the file on the host is over {limit} bytes, too large to diff)\n",
                    cc.path
                ));
                continue;
            }
            Some(res.out.into_bytes())
        } else {
            None
        };
        out.push(unified_diff(&cc.path, old.as_deref(), &cc.new));
    }
    Ok(out)
}

/// A unified diff between a file's old and new content, as a reviewer reads it.
fn unified_diff(path: &str, old: Option<&[u8]>, new: &[u8]) -> String {
    let binary = |b: &[u8]| b.contains(&0) || std::str::from_utf8(b).is_err();
    if old.is_some_and(binary) || binary(new) {
        return format!("binary file {path} differs\n");
    }
    let old_text = old
        .map(|o| String::from_utf8_lossy(o).into_owned())
        .unwrap_or_default();
    let new_text = String::from_utf8_lossy(new);
    let before = if old.is_some() {
        format!("a{path}")
    } else {
        "/dev/null".into()
    };
    let diff = similar::TextDiff::from_lines(old_text.as_str(), &*new_text)
        .unified_diff()
        .context_radius(3)
        .header(&before, &format!("b{path}"))
        .to_string();
    // A reviewer reads a diff, not a novel: a new 5000-line file is summarised.
    let lines: Vec<&str> = diff.lines().collect();
    if lines.len() <= MAX_DIFF_LINES {
        return diff;
    }
    let mut out = lines[..MAX_DIFF_LINES].join("\n");
    out.push_str(&format!(
        "\n… {} more lines of diff not shown\n",
        lines.len() - MAX_DIFF_LINES
    ));
    out
}

/// Longest diff shown per file, in lines.
const MAX_DIFF_LINES: usize = 400;

/// Largest file content diffed, in bytes (on either side).
const MAX_DIFF_BYTES: usize = 256 * 1024;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_has_headers_and_context() {
        let d = unified_diff("/etc/x.conf", Some(b"a\nb\nc\n"), b"a\nB\nc\n");
        assert!(d.starts_with("--- a/etc/x.conf\n+++ b/etc/x.conf\n"), "{d}");
        assert!(d.contains("-b\n+B\n"));
        let new = unified_diff("/etc/y", None, b"hi\n");
        assert!(new.starts_with("--- /dev/null\n+++ b/etc/y\n"), "{new}");
        let long: String = (0..1000).map(|i| format!("{i}\n")).collect();
        let d = unified_diff("/etc/long", None, long.as_bytes());
        assert_eq!(d.lines().count(), MAX_DIFF_LINES + 1);
        assert!(d.ends_with("more lines of diff not shown\n"), "{d}");
        assert_eq!(
            unified_diff("/bin/x", Some(b"\0"), b"x"),
            "binary file /bin/x differs\n"
        );
    }

    /// (file on the host: exists, what `head -c` returns (code, stdout, stderr)), new content,
    /// and the start of what is shown.
    #[test]
    fn diffs_read_the_old_file_within_limits() {
        let big = "x".repeat(MAX_DIFF_BYTES + 1);
        type Row<'a> = (bool, (i32, &'a str, &'a str), &'a str, &'a str);
        let table: &[Row] = &[
            (false, (0, "", ""), "new\n", "--- /dev/null\n+++ b/etc/f\n"),
            (
                true,
                (0, "old\n", ""),
                "new\n",
                "--- a/etc/f\n+++ b/etc/f\n",
            ),
            (
                true,
                (1, "", "Permission denied"),
                "new\n",
                "(cannot read /etc/f for a diff: Permission denied)",
            ),
            (
                true,
                (0, &big, ""),
                "new\n",
                "(/etc/f: the file on the host is over 262144 bytes",
            ),
            (
                true,
                (0, "", ""),
                &big,
                "(/etc/f: 262145 bytes, too large to diff)",
            ),
        ];
        for (exists, (code, out, err), new, shown) in table {
            let mut plan = Plan::ok();
            plan.changes.push(crate::modules::Change {
                summary: "write /etc/f".into(),
                content: Some(crate::modules::ContentChange {
                    path: "/etc/f".into(),
                    new: std::sync::Arc::new(new.as_bytes().to_vec()),
                    exists: *exists,
                }),
            });
            let mut scripts = Vec::new();
            let got = diffs(&plan, |script| {
                scripts.push(script.to_string());
                Ok::<_, ()>(Output {
                    code: *code,
                    out: out.to_string(),
                    err: err.to_string(),
                })
            })
            .unwrap();
            assert!(got[0].starts_with(shown), "{got:?}");
            // The old content is read only when the file exists and the new one is small.
            let reads = *exists && new.len() <= MAX_DIFF_BYTES;
            assert_eq!(scripts.len(), usize::from(reads), "{scripts:?}");
            if reads {
                assert_eq!(scripts[0], "head -c 262145 -- /etc/f");
            }
        }
    }
}
