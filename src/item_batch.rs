//! A loop's items applied together: each item is planned as before (from the batched probe), but
//! a plan that runs a script waits here, and the scripts of the waiting items go to the host in
//! one exec, each in its own subshell with its own exit status, in the items' order, stopping at
//! the first that fails: the ones after it were planned on its success, and are planned again
//! (the loop goes on, as Ansible's does). An item whose probe reads what a waiting item
//! writes first sends the waiting ones, then probes afresh — unless the module can tell what its
//! probe would print after the waiting change (`lineinfile`: a line per item in one file), in
//! which case it plans on that.

use crate::event::Log;
use crate::fact_cache::FactCache;
use crate::modules::safe_batch::BatchOp;
use crate::modules::{Action, Plan, Resource, Run};
use crate::outcome::{Outcome, Status};
use crate::task_instance::{Item, TaskInstance};
use crate::template::Vars;
use crate::transport::{Transport, TransportError};
use serde_json::Value;

/// One item's plan, waiting to be applied.
pub(crate) struct Waiting {
    /// Its place among the loop's items.
    pub(crate) index: usize,
    pub(crate) outcome: Outcome,
    pub(crate) plan: Plan,
    pub(crate) vars: Vars,
    /// `export` lines of the task's `environment`, for this item.
    pub(crate) exports: String,
}

/// What became of one waiting item's script.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Ran {
    /// Exit status and output (stdout and stderr together).
    Done(i32, String),
    /// The shell ended inside this item: what it printed, and why.
    Cut(String),
    /// Not run: an earlier item failed or the shell ended before it.
    Not,
}

/// A task's items on one host: each one's outcome, and the plans that wait to be applied.
#[derive(Default)]
pub(crate) struct ItemBatch {
    /// Whether plans may wait (a loop), or each is applied at once.
    pub(crate) defer: bool,
    /// Each item's outcome, in order; None while its plan waits (or after a failure).
    pub(crate) slots: Vec<Option<Outcome>>,
    waiting: Vec<Waiting>,
    /// What the waiting plans write.
    writes: Vec<Resource>,
    /// (probe, sudo user, what it reads) → the facts it would print after the waiting plans.
    predicted: Vec<(String, Option<String>, Vec<Resource>, String)>,
}

impl ItemBatch {
    pub(crate) fn new(defer: bool) -> ItemBatch {
        ItemBatch {
            defer,
            ..Default::default()
        }
    }

    /// Whether the last apply stopped at a failed item: the ones that waited after it did not
    /// run, and are to be planned again (`replan_from`) before any item after them.
    pub(crate) fn cut(&self) -> bool {
        self.waiting.is_empty() && self.slots.iter().any(Option::is_none)
    }

    /// Once nothing waits: the first item that was not run (it waited after one that failed),
    /// if any. Its slot and the ones after it are dropped, for those items to be planned again.
    pub(crate) fn replan_from(&mut self) -> Option<usize> {
        if !self.waiting.is_empty() {
            return None;
        }
        let k = self.slots.iter().position(Option::is_none)?;
        self.slots.truncate(k);
        Some(k)
    }

    /// Each item's outcome, with its loop item (`seen`, in order) under `loop_var` in its
    /// result.
    pub(crate) fn outcomes(
        self,
        seen: Vec<Option<Item>>,
        loop_var: &str,
        index_var: Option<&str>,
    ) -> Vec<Outcome> {
        let mut out = Vec::new();
        for (o, item) in self.slots.into_iter().zip(seen) {
            let Some(mut o) = o else { break };
            with_item(&mut o, loop_var, index_var, item);
            out.push(o);
        }
        out
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    /// Whether a waiting plan writes something that `reads` covers.
    pub(crate) fn overlaps(&self, reads: &[Resource]) -> bool {
        reads
            .iter()
            .any(|r| self.writes.iter().any(|w| w.overlaps(r)))
    }

    /// The facts `probe` would print once the waiting plans ran, if known.
    pub(crate) fn predicted(&self, probe: &str, user: Option<&str>) -> Option<String> {
        self.predicted
            .iter()
            .find(|(p, u, _, _)| p == probe && u.as_deref() == user)
            .map(|(_, _, _, f)| f.clone())
    }

    /// Adds a plan; `after` is what its own probe (`probe`, reading `reads`) would print once it
    /// ran. A prediction that this plan's writes may falsify is dropped.
    pub(crate) fn push(
        &mut self,
        w: Waiting,
        after: Option<(String, Option<String>, Vec<Resource>, String)>,
    ) {
        let writes = w.plan.writes.clone();
        self.predicted
            .retain(|(_, _, reads, _)| !reads.iter().any(|r| writes.iter().any(|x| x.overlaps(r))));
        self.predicted.extend(after);
        self.writes.extend(writes);
        self.waiting.push(w);
    }

    /// Runs the waiting plans' scripts in one exec on `t` (as `sudo`), and puts each item's
    /// outcome in its slot; what ran is marked touched in `facts`.
    pub(crate) fn apply(
        &mut self,
        t: &mut dyn Transport,
        log: &Log,
        facts: &mut FactCache,
        inst: &TaskInstance,
        sudo: Option<&str>,
    ) -> Result<(), TransportError> {
        if self.is_empty() {
            return Ok(());
        }
        let mut waiting: Vec<Option<Waiting>> = self.take().into_iter().map(Some).collect();
        // Made together first (see safe_batch.rs); if that stops short, the items it did not
        // finish are sent again, each with its own script.
        let mut start = 0;
        let mut together = true;
        let mut failed = false;
        while start < waiting.len() {
            let part = &waiting[start..];
            let n = part.len();
            let scripts: Vec<(&str, &str)> = part
                .iter()
                .flatten()
                .map(|w| match &w.plan.run {
                    Run::Script(s) => (w.exports.as_str(), s.as_str()),
                    _ => unreachable!("only scripts wait"),
                })
                .collect();
            let groups = if together {
                crate::modules::safe_batch::groups(&batch_ops(part.iter().flatten()))
            } else {
                Vec::new()
            };
            let nonce = crate::transport::random_nonce();
            let script = script(&scripts, &groups, &nonce);
            log.detail(
                1,
                format!(
                    "run ({} item{} in one round trip):\n{}",
                    n,
                    if n == 1 { "" } else { "s" },
                    crate::execute::sketch(&script)
                ),
            );
            let out = t.run(&script, sudo)?;
            log.detail(2, format!("output (exit {}):\n{}", out.code, out.all()));
            let again = format!("\n@@plumb-again:{nonce}\n");
            let (text, count) = match out.out.strip_suffix(&again) {
                Some(text) => (text, text.matches(&format!("\n@@plumb:{nonce}:")).count()),
                None => (out.out.as_str(), n),
            };
            let ran = results(text, &nonce, count);
            for k in 0..count {
                let w = waiting[start + k].take().expect("each item once");
                let o = match ran.as_ref().map(|r| &r[k]) {
                    Ok(Ran::Done(code, text)) => {
                        crate::execute::judge_script(inst, &w.vars, w.outcome, &w.plan, *code, text)
                    }
                    Ok(Ran::Cut(text)) => Outcome::new(
                        Status::Failed,
                        format!(
                            "the host's shell ended during this item (exit {}): {}",
                            out.code,
                            if text.is_empty() {
                                out.err.trim()
                            } else {
                                text
                            }
                        ),
                    ),
                    Ok(Ran::Not) => continue,
                    Err(e) => Outcome::new(Status::Failed, e.clone()),
                };
                // It ran, or may have run (a forged marker): what it writes is to be probed again.
                if !w.plan.changes.is_empty() {
                    facts.touched(&w.plan.writes);
                }
                failed |= o.status == Status::Failed;
                self.slots[w.index] = Some(o);
            }
            if count == n || failed {
                break;
            }
            start += count;
            together = false;
        }
        Ok(())
    }

    /// Empties the batch, giving its waiting plans.
    fn take(&mut self) -> Vec<Waiting> {
        self.writes.clear();
        self.predicted.clear();
        std::mem::take(&mut self.waiting)
    }
}

/// The one script for all `scripts` (each with its exports first): the write functions of
/// `safe_write::HEAD` once, then each item in a subshell of its own (its `set -e`, `cd` and fd 3
/// end with it), stdin from /dev/null (the script itself arrives on stdin), its status after a
/// marker; after a failure nothing more runs. `groups` (from `safe_batch::groups`) make the first
/// items together, quietly: each item they finish gets its marker, status 0 and no output; if they
/// stop short, an `@@plumb-again` line ends the output, for the rest to be sent again.
pub(crate) fn script(scripts: &[(&str, &str)], groups: &[(String, usize)], nonce: &str) -> String {
    let head = crate::modules::safe_write::HEAD;
    let shared = scripts.iter().all(|(_, s)| s.starts_with(head));
    let mut out = String::new();
    if shared || !groups.is_empty() {
        out.push_str(head);
    }
    out.push_str("set +e\n");
    let first = groups.last().map_or(0, |g| g.1);
    if first > 0 {
        // Each group in a subshell of its own whose status is tested afterwards: `set -e` has
        // no effect in one whose status is tested (`( … ) && …`).
        out.push_str("plumb_n=0\n");
        for (body, done) in groups {
            out.push_str(&format!(
                "( set -e\n{body}) >/dev/null 2>&1 </dev/null\nif [ $? = 0 ]; then plumb_n={done}\n"
            ));
        }
        out.push_str(&"fi\n".repeat(groups.len()));
        out.push_str(&format!(
            "plumb_i=0\n\
             while [ \"$plumb_i\" -lt \"$plumb_n\" ]; do printf '\\n@@plumb:{nonce}:%d:0\\n' \"$plumb_i\"; plumb_i=$((plumb_i + 1)); done\n\
             [ \"$plumb_n\" = {first} ] || {{ printf '\\n@@plumb-again:{nonce}\\n'; exit 0; }}\n"
        ));
    }
    for (i, (exports, s)) in scripts.iter().enumerate().skip(first) {
        let body = if shared { &s[head.len()..] } else { s };
        out.push_str(&format!(
            "( set -e\n{exports}{body}\n) 2>&1 </dev/null\nplumb_rc=$?\n\
             printf '\\n@@plumb:{nonce}:{i}:%d\\n' \"$plumb_rc\"\n\
             [ \"$plumb_rc\" = 0 ] || exit 0\n"
        ));
    }
    out
}

/// The writes of the first items, as a batch can make them together: none unless at least two
/// items in a row have one (and no `environment`).
fn batch_ops<'a>(waiting: impl Iterator<Item = &'a Waiting>) -> Vec<&'a BatchOp> {
    let ops: Vec<&BatchOp> = waiting
        .map_while(|w| w.plan.batch.as_ref().filter(|_| w.exports.is_empty()))
        .collect();
    if ops.len() < 2 { Vec::new() } else { ops }
}

/// What became of each of `count` items, from the script's output. Markers out of order or
/// after a failure (something on the host printed one) fail every item.
pub(crate) fn results(output: &str, nonce: &str, count: usize) -> Result<Vec<Ran>, String> {
    let marker = format!("\n@@plumb:{nonce}:");
    let seen = output.matches(&marker).count();
    // The end of the last marker's line: what follows is the output of an item cut short.
    let end = match output.rfind(&marker) {
        Some(at) => output[at + 1..]
            .find('\n')
            .map_or(output.len(), |n| at + 1 + n + 1),
        None => 0,
    };
    let parts = if seen == 0 {
        Vec::new()
    } else {
        crate::probe::split(&output[..end], nonce, seen.min(count + 1)).map_err(|e| match e {
            crate::probe::SplitError::Forged(m) | crate::probe::SplitError::Incomplete(m) => {
                m.replacen("probe failed", "apply failed", 1)
            }
        })?
    };
    if seen > count || parts.iter().rev().skip(1).any(|(code, _)| *code != 0) {
        return Err("apply failed: a forged section marker".into());
    }
    let failed = parts.last().is_some_and(|(code, _)| *code != 0);
    let rest = output[end..].trim();
    let mut ran: Vec<Ran> = parts.into_iter().map(|(c, t)| Ran::Done(c, t)).collect();
    while ran.len() < count {
        ran.push(if failed || ran.len() > seen {
            Ran::Not
        } else {
            Ran::Cut(rest.to_string())
        });
    }
    Ok(ran)
}

/// The facts an action's probe would print once `plan` ran, when the module can tell.
pub(crate) fn after(action: &Action, facts: &str, plan: &Plan) -> Option<String> {
    action.module().and_then(|m| m.after(facts, plan))
}

/// The loop variable (and `index_var`) added to each item's registered result.
fn with_item(o: &mut Outcome, loop_var: &str, index_var: Option<&str>, item: Option<Item>) {
    if let Some(i) = item
        && let Value::Object(obj) = &mut o.value
    {
        obj.insert(loop_var.to_string(), i.value);
        if let Some(iv) = index_var
            && let Some(x) = i.extra.get(iv)
        {
            obj.insert(iv.to_string(), x.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(scripts: &[(&str, &str)]) -> Result<Vec<Ran>, String> {
        let nonce = crate::transport::random_nonce();
        let s = script(scripts, &[], &nonce);
        let out = crate::transport::local::Local::new().run(&s, None).unwrap();
        results(&out.out, &nonce, scripts.len())
    }

    /// Items run in order, each in its own subshell (a `cd` or variable stays there), each with
    /// its status; after a failure nothing more runs.
    #[test]
    fn items_run_in_order_until_one_fails() {
        let head = crate::modules::safe_write::HEAD;
        let a = format!("{head}cd /tmp; v=1; echo a $(pwd)");
        let b = format!("{head}echo b ${{v:-unset}} $(pwd); echo err >&2");
        let c = format!("{head}false; echo not reached");
        let d = format!("{head}echo d");
        let got = run(&[("", &a), ("export X=1\n", &b), ("", &c), ("", &d)]).unwrap();
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(
            got,
            [
                Ran::Done(0, "a /tmp\n".into()),
                Ran::Done(0, format!("b unset {}\nerr\n", cwd.display())),
                Ran::Done(1, String::new()),
                Ran::Not,
            ]
        );
        // Scripts without the shared head run whole.
        let got = run(&[("", "echo x; exit 3"), ("", "echo y")]).unwrap();
        assert_eq!(got, [Ran::Done(3, "x\n".into()), Ran::Not]);
        assert_eq!(run(&[]).unwrap(), []);
    }

    /// Items whose writes a batch makes together: each gets its marker, status 0 and no output;
    /// the directories and files are as the items' own scripts leave them. When the batch stops
    /// short (a name that is now a directory), the output says so, marking only what it did.
    #[test]
    fn writes_made_together() {
        use crate::modules::safe_batch::{self, BatchOp};
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path().display().to_string();
        let dir = |n: &str| BatchOp::Dir {
            path: format!("{d}/{n}"),
            owner: None,
            group: None,
            mode: Some(0o750),
        };
        let file = |n: &str, text: &str| BatchOp::File {
            dest: format!("{d}/{n}"),
            content: std::sync::Arc::new(text.as_bytes().to_vec()),
            owner: String::new(),
            group: String::new(),
            mode: 0o640,
            mk: false,
        };
        let ops = [
            dir("d0"),
            dir("d1"),
            file("f", "1\n"),
            file("f", "1\n2\n"),
            file("g", ""),
        ];
        let refs: Vec<&BatchOp> = ops.iter().collect();
        let run = |groups: &[(String, usize)]| {
            let nonce = crate::transport::random_nonce();
            let items = vec![("", "exit 7"); ops.len()];
            let s = script(&items, groups, &nonce);
            let out = crate::transport::local::Local::new().run(&s, None).unwrap();
            (out.out, nonce)
        };
        let (out, nonce) = run(&safe_batch::groups(&refs));
        let got = results(&out, &nonce, ops.len()).unwrap();
        assert_eq!(got, vec![Ran::Done(0, String::new()); 5], "{out}");
        let mode = |n: &str| {
            let m = std::fs::symlink_metadata(tmp.path().join(n)).unwrap();
            (m.is_dir(), m.permissions().mode() & 0o7777)
        };
        assert_eq!(
            ["d0", "d1", "f", "g"].map(mode),
            [(true, 0o750), (true, 0o750), (false, 0o640), (false, 0o640)]
        );
        assert_eq!(
            std::fs::read_to_string(tmp.path().join("f")).unwrap(),
            "1\n2\n"
        );
        // Only the four names: the temp directory is gone.
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 4);
        // Again, with `g` now a directory: the files' group stops; only the first two are done.
        std::fs::remove_dir_all(tmp.path().join("d0")).unwrap();
        std::fs::remove_dir_all(tmp.path().join("d1")).unwrap();
        std::fs::remove_file(tmp.path().join("g")).unwrap();
        std::fs::create_dir(tmp.path().join("g")).unwrap();
        let (out, nonce) = run(&safe_batch::groups(&refs));
        let text = out
            .strip_suffix(&format!("\n@@plumb-again:{nonce}\n"))
            .unwrap_or_else(|| panic!("{out}"));
        let got = results(text, &nonce, 2).unwrap();
        assert_eq!(got, vec![Ran::Done(0, String::new()); 2]);
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 4);
    }

    /// (output, count) → what became of each item, or the error every item fails with.
    #[test]
    fn results_from_output() {
        let m = |i: usize, c: i32| format!("\n@@plumb:N:{i}:{c}\n");
        type Row = (String, usize, Result<Vec<Ran>, &'static str>);
        let table: Vec<Row> = vec![
            (
                format!("a{}b{}", m(0, 0), m(1, 0)),
                2,
                Ok(vec![Ran::Done(0, "a".into()), Ran::Done(0, "b".into())]),
            ),
            // The shell died inside the second item.
            (
                format!("a{}partial", m(0, 0)),
                3,
                Ok(vec![
                    Ran::Done(0, "a".into()),
                    Ran::Cut("partial".into()),
                    Ran::Not,
                ]),
            ),
            ("".into(), 1, Ok(vec![Ran::Cut(String::new())])),
            // A marker after a failure, or one too many: forged.
            (format!("a{}b{}", m(0, 1), m(1, 0)), 2, Err("forged")),
            (
                format!("a{}b{}c{}", m(0, 0), m(1, 0), m(2, 0)),
                2,
                Err("forged"),
            ),
            (format!("a{}b{}", m(1, 0), m(0, 0)), 2, Err("out of order")),
        ];
        for (out, count, want) in table {
            match (results(&out, "N", count), want) {
                (Ok(got), Ok(want)) => assert_eq!(got, want, "{out:?}"),
                (Err(e), Err(w)) => assert!(e.contains(w), "{out:?}: {e}"),
                (got, want) => panic!("{out:?}: {got:?}, want {want:?}"),
            }
        }
    }

    /// (slots, whether one waits) → where the loop goes on from: a slot left empty by an
    /// apply that stopped at a failure, once nothing waits; the slots from there are dropped.
    #[test]
    fn the_loop_goes_on_after_the_items_a_failure_cut() {
        use crate::outcome::Status::{Failed, Ok as Done};
        let o = |s| Some(Outcome::new(s, ""));
        type Row = (Vec<Option<Outcome>>, bool, Option<usize>, usize);
        let table: Vec<Row> = vec![
            (vec![o(Done), o(Done)], false, None, 2),
            // A failed item ends nothing by itself.
            (vec![o(Done), o(Failed), o(Done)], false, None, 3),
            // Items 2 and 3 waited after item 1, which failed: planned again from 2.
            (vec![o(Done), o(Failed), None, None], false, Some(2), 2),
            // While items wait, their empty slots are theirs.
            (vec![o(Done), None, None], true, None, 3),
        ];
        for (slots, waits, want, left) in table {
            let mut b = ItemBatch::new(true);
            b.slots = slots;
            if waits {
                b.waiting.push(Waiting {
                    index: 2,
                    outcome: Outcome::new(Done, ""),
                    plan: Plan::ok(),
                    vars: Vars::new(Default::default()),
                    exports: String::new(),
                });
            }
            assert_eq!(b.cut(), want.is_some(), "{want:?}");
            assert_eq!(b.replan_from(), want);
            assert_eq!(b.slots.len(), left);
        }
    }

    #[test]
    fn a_write_drops_the_predictions_it_may_falsify() {
        let p = |s: &str| Resource::Path(s.into());
        let waiting = |writes: Vec<Resource>| Waiting {
            index: 0,
            outcome: Outcome::new(crate::outcome::Status::Ok, ""),
            plan: Plan {
                writes,
                ..Plan::ok()
            },
            vars: Vars::new(Default::default()),
            exports: String::new(),
        };
        let mut b = ItemBatch::default();
        assert!(!b.overlaps(&[p("/srv/a")]));
        b.push(
            waiting(vec![p("/srv/a")]),
            Some(("probe a".into(), None, vec![p("/srv/a")], "facts".into())),
        );
        assert!(b.overlaps(&[p("/srv/a")]) && !b.overlaps(&[p("/srv/b")]));
        assert_eq!(b.predicted("probe a", None).as_deref(), Some("facts"));
        assert_eq!(b.predicted("probe a", Some("root")), None);
        b.push(waiting(vec![p("/srv/b")]), None);
        assert!(b.predicted("probe a", None).is_some());
        b.push(waiting(vec![p("/srv")]), None);
        assert_eq!(b.predicted("probe a", None), None);
        assert_eq!(b.take().len(), 3);
        assert!(b.is_empty() && !b.overlaps(&[p("/srv/a")]));
    }
}
