//! A looped include on one host (see `include_loop.rs`): its items rendered and its `when`
//! judged per item when the host reaches it, then its tasks once per item, each seeing the
//! item's variables as include parameters (over `set_fact`, as Ansible's include vars).

use super::HostRun;
use crate::include_loop::Frame;
use crate::item_batch::ItemBatch;
use crate::outcome::{Outcome, Status};
use crate::task::Task;
use crate::task_instance::TaskInstance;
use serde_json::{Map, Value};
use std::time::Instant;

impl<'a> HostRun<'a> {
    /// The header of a looped include at `pos`: its line (one entry per item, skipped where
    /// the `when` is false), and the frame to run its tasks in when an item passed.
    pub(super) fn start_loop(
        &mut self,
        header: &Task,
        pos: usize,
    ) -> (Status, Value, Option<Frame>) {
        let start = Instant::now();
        self.notes.next_task();
        self.quiet = header.no_log;
        self.start_line(header);
        let (m, over, deferred) = (self.known_vars(), self.over(), self.deferred.clone());
        let inst = TaskInstance::new(header, &m, &deferred)
            .with_over(&over)
            .with_known(m.clone());
        let items = match inst.items(&inst.vars()) {
            Ok(items) => items,
            Err(e) => {
                let o = Outcome::new(Status::Failed, e.message());
                let (s, v) = self.finish(header, false, &[], vec![o], false, start);
                return (s, v, None);
            }
        };
        let mut run = ItemBatch::new(false);
        let mut seen = Vec::new();
        let mut passed = Vec::new();
        for item in items {
            let vars = inst.item_vars(item.as_ref()).0;
            let o = match inst.when(&vars) {
                Ok(true) => Outcome::new(Status::Ok, "included"),
                Ok(false) => Outcome::new(Status::Skipped, ""),
                // A plan that cannot judge it (a result known only when applied) plans the
                // item's tasks: they say what they depend on.
                Err(e) => self.dry.unknown_result(header, &e),
            };
            let failed = o.status == Status::Failed;
            if matches!(o.status, Status::Ok | Status::MayChange) {
                passed.push(crate::include_loop::item_vars(header, item.as_ref()));
            }
            run.slots.push(Some(o));
            seen.push(item);
            if failed {
                break;
            }
        }
        let outcomes = run.outcomes(seen, &header.loop_var, header.index_var.as_deref());
        let (status, value) = self.finish(header, false, &[], outcomes, true, start);
        let frame = (status != Status::Failed && !passed.is_empty()).then(|| Frame {
            header: pos,
            end: pos + 1 + header.include_loop.unwrap_or(0),
            items: passed,
            at: 0,
        });
        (status, value, frame)
    }

    /// The probes of a looped include's tasks (`body`) for every item of the innermost of
    /// `frames`, in one round trip before its first item runs. What an earlier item changes
    /// is probed again when reached, as after any change (the fact cache forgets it).
    pub(super) fn prefetch_items(&mut self, frames: &[Frame], body: &[Task]) {
        let Some((inner, outer)) = frames.split_last() else {
            return;
        };
        let mut tasks = Vec::new();
        for item in &inner.items {
            let layers: Vec<&Map<String, Value>> =
                outer.iter().map(|f| &f.items[f.at]).chain([item]).collect();
            tasks.extend(
                body.iter()
                    .map(|t| crate::include_loop::with_vars(t, layers.iter().copied())),
            );
        }
        // Not answered (the host went away): each task probes alone when reached, and says
        // what went wrong there.
        let _ = self.prefetch_round(None, None, &tasks);
    }
}
