//! A task's time limit: `timeout: N`, or `async: N` with `poll` above 0 (run in the
//! foreground, `async` as the limit). The host enforces it: what the task runs there is started
//! under coreutils' `timeout`, in a process group of its own, which is sent TERM when the time
//! is up and KILL a few seconds later if anything is left.

use crate::error::{Error, Result};
use crate::location::Location;
use crate::transport::Output;

/// Seconds between TERM and KILL.
const GRACE: u64 = 5;

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TimeLimit {
    pub(crate) secs: u64,
    /// The keyword that set it, for the message: `timeout` or `async`.
    keyword: &'static str,
}

impl TimeLimit {
    /// The limit the task's `timeout`, `async` and `poll` (each with where it was written) set,
    /// if any. `async` with `poll: 0` (fire and forget) is an error: plumb waits for every task.
    pub(crate) fn of(
        timeout: Option<(u64, Location)>,
        async_: Option<(u64, Location)>,
        poll: Option<(u64, Location)>,
    ) -> Result<Option<TimeLimit>> {
        match (&async_, &poll) {
            (Some(_), Some((0, at))) => {
                return Err(Error::input(
                    at.clone(),
                    "`async` with `poll: 0` (fire and forget) is not supported",
                )
                .with_hint("plumb waits for every task to end; give `poll` a number above 0 to run it with `async` as its time limit"));
            }
            (None, Some((_, at))) => {
                return Err(Error::input(at.clone(), "`poll` without `async`")
                    .with_hint("`poll` is how often Ansible checks an `async` task"));
            }
            _ => {}
        }
        let limit = |secs: u64, keyword| Some(TimeLimit { secs, keyword });
        // 0 is no limit; with both, the shorter one ends the task.
        let timeout = timeout.map(|(t, _)| t).filter(|t| *t > 0);
        let async_ = async_.map(|(a, _)| a).filter(|a| *a > 0);
        Ok(match (timeout, async_) {
            (Some(t), Some(a)) if a < t => limit(a, "async"),
            (Some(t), _) => limit(t, "timeout"),
            (None, Some(a)) => limit(a, "async"),
            (None, None) => None,
        })
    }

    /// `timeout: N` on a play, block or role, for each task in it.
    pub(crate) fn timeout(
        doc: &crate::yaml::Doc,
        node: &marked_yaml::Node,
    ) -> Result<Option<TimeLimit>> {
        let secs = crate::task_values::number(doc, node, "timeout")? as u64;
        TimeLimit::of(Some((secs, doc.loc(node))), None, None)
    }

    /// `script` run under the limit: sh reads the whole here-document before it starts
    /// `timeout`, which puts the script's shell in a process group of its own so that TERM
    /// (and KILL after the grace) reaches every process it started.
    pub(crate) fn wrap(&self, script: &str) -> String {
        let mark = format!("PLUMB_TIMED_{}", crate::transport::random_nonce());
        format!(
            "timeout --verbose -k {GRACE} {} sh -s <<'{mark}'\n{script}\n{mark}\n",
            self.secs
        )
    }

    /// Whether the limit stopped what ran: `timeout` exits 124 (137 when KILL was needed) and
    /// says so on stderr, on a line of its own that starts with its name (the rest of the
    /// line may be in the host's language).
    pub(crate) fn expired(out: &Output) -> bool {
        matches!(out.code, 124 | 137) && out.err.lines().any(|l| l.starts_with("timeout: "))
    }

    /// The task's message when it ran out of time.
    pub(crate) fn message(&self) -> String {
        format!(
            "timed out after {} s (`{}: {}`): its processes on the host were stopped",
            self.secs, self.keyword, self.secs
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::Transport;

    fn at() -> Location {
        Location {
            file: std::sync::Arc::new("t.yml".into()),
            line: 1,
            col: 1,
        }
    }

    /// A keyword's value and where it was written.
    type Given = Option<(u64, Location)>;

    #[test]
    fn which_keyword_sets_the_limit() {
        let s = |n: u64| Some((n, at()));
        let show = |r: Result<Option<TimeLimit>>| match r {
            Ok(Some(l)) => format!("{} {}", l.keyword, l.secs),
            Ok(None) => "none".into(),
            Err(e) => e.to_string(),
        };
        let table: &[(Given, Given, Given, &str)] = &[
            (None, None, None, "none"),
            (s(5), None, None, "timeout 5"),
            (s(0), None, None, "none"),
            (None, s(30), None, "async 30"),
            (None, s(30), s(5), "async 30"),
            (s(10), s(30), s(5), "timeout 10"),
            (s(60), s(30), None, "async 30"),
            (s(0), s(30), None, "async 30"),
            (
                None,
                s(30),
                s(0),
                "`async` with `poll: 0` (fire and forget) is not supported",
            ),
            (None, None, s(5), "`poll` without `async`"),
        ];
        for (t, a, p, want) in table {
            assert_eq!(
                show(TimeLimit::of(t.clone(), a.clone(), p.clone())),
                *want,
                "{t:?} {a:?} {p:?}"
            );
        }
    }

    /// The wrapped script run by a real sh: the output of one that ends in time is untouched;
    /// one that does not is stopped, with its children, and said to have run out of time.
    #[test]
    fn the_limit_stops_the_script_and_its_children() {
        let mut local = crate::transport::local::Local::new();
        let quick = TimeLimit {
            secs: 30,
            keyword: "timeout",
        };
        let out = local
            .run(&quick.wrap("echo 'a $x'; echo err >&2; exit 3"), None)
            .unwrap();
        assert_eq!(
            (out.code, out.out.as_str(), out.err.as_str()),
            (3, "a $x\n", "err\n")
        );
        assert!(!TimeLimit::expired(&out));

        let dir = tempfile::tempdir().unwrap();
        let pid = dir.path().join("pid");
        let slow = TimeLimit {
            secs: 1,
            keyword: "timeout",
        };
        let script = format!("sleep 300 & echo $! > {}; wait", pid.display());
        let out = local.run(&slow.wrap(&script), None).unwrap();
        assert!(TimeLimit::expired(&out), "{out:?}");
        // The background child is gone too.
        let child = std::fs::read_to_string(&pid).unwrap();
        // Gone, or a zombie waiting to be reaped (its state, after the name in parentheses).
        // The signal was sent; on a busy machine dying takes a moment: a bounded wait, not a
        // measure of speed.
        let alive = || {
            let stat = std::fs::read_to_string(format!("/proc/{}/stat", child.trim()));
            stat.is_ok_and(|s| {
                let state = s.rsplit(") ").next().unwrap_or("").chars().next();
                !matches!(state, Some('Z') | Some('X'))
            })
        };
        let mut waited = 0;
        while alive() && waited < 200 {
            std::thread::sleep(std::time::Duration::from_millis(50));
            waited += 1;
        }
        assert!(!alive(), "sleep {} survived", child.trim());
        assert_eq!(
            slow.message(),
            "timed out after 1 s (`timeout: 1`): its processes on the host were stopped"
        );
    }
}
