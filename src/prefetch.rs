//! The batched probe on one host: every task's probe that can be rendered before the run, merged
//! per sudo user (see batch.rs), sent in one round trip each, the answers kept in the fact cache.
//! With a lock wait, the host's plumb lock is taken in the same exec as the first round trip.

use crate::batch::{Batch, Wanted};
use crate::event::{Event, Log};
use crate::fact_cache::FactCache;
use crate::transport::{Lock, Output, Transport, TransportError};
use std::time::Duration;

pub(crate) struct Prefetch<'a> {
    pub(crate) t: &'a mut dyn Transport,
    pub(crate) log: Log<'a>,
    /// Who takes the lock (see `connection::lock_and_run`).
    pub(crate) lock_user: Option<String>,
}

impl Prefetch<'_> {
    /// `hidden`: the probes of `no_log` tasks, left out of what -vv prints.
    pub(crate) fn run(
        mut self,
        wanted: Vec<Wanted>,
        hidden: &[String],
        mut lock: Option<Duration>,
        facts: &mut FactCache,
    ) -> Result<Lock, TransportError> {
        let batches = Batch::plan(wanted);
        if let Some(wait) = lock
            && batches.is_empty()
        {
            // Nothing to probe: the lock alone.
            return Ok(self.lock_and_run(wait, "true", None)?.0);
        }
        for b in batches {
            let user = b.user.clone();
            let snippets = b.snippets();
            let nonce = crate::probe::nonce();
            let script = crate::probe::batch_script(&snippets, &nonce);
            let secret: Vec<bool> = snippets
                .iter()
                .map(|s| hidden.iter().any(|h| h == s))
                .collect();
            self.log.detail(
                1,
                format!(
                    "probe: {} tasks in one round trip{}",
                    b.task_count(),
                    user.as_deref()
                        .map(|u| format!(" (sudo -u {u})"))
                        .unwrap_or_default()
                ),
            );
            self.log.detail(
                2,
                format!(
                    "script:\n{}",
                    crate::probe::redacted_script(&snippets, &nonce, &secret)
                ),
            );
            let out = match lock.take() {
                Some(wait) => match self.lock_and_run(wait, &script, user.as_deref())? {
                    (_, Some(out)) => out,
                    (timed_out, None) => return Ok(timed_out),
                },
                None => self.t.run(&script, user.as_deref())?,
            };
            self.log.detail(
                2,
                format!(
                    "output (exit {}):\n{}",
                    out.code,
                    crate::probe::redacted_output(&out.all(), &nonce, &secret)
                ),
            );
            // A batch that fails as a whole (e.g. sudo refused) is not cached: each task then
            // probes alone and reports its own error.
            let answers = match crate::probe::split(&out.out, &nonce, snippets.len()) {
                Ok(parts) => b.answers(parts),
                Err(crate::probe::SplitError::Incomplete(_)) => continue,
                // Something on the host forged the framing: every task it probed fails.
                Err(crate::probe::SplitError::Forged(e)) => b.all_failed(&e),
            };
            for (probe, result) in answers {
                facts.insert(&probe, user.as_deref(), result);
            }
        }
        Ok(Lock::Held)
    }

    /// Takes the lock and runs the first probe (see `connection::lock_and_run`).
    fn lock_and_run(
        &mut self,
        wait: Duration,
        script: &str,
        user: Option<&str>,
    ) -> Result<(Lock, Option<Output>), TransportError> {
        let (tx, host) = (self.log.tx, self.log.host);
        let mut on_wait = || {
            let _ = tx.send(Event::Detail {
                host: host.to_string(),
                text: "waiting for another plumb run on this host to finish (its plumb lock)"
                    .to_string(),
            });
        };
        crate::connection::lock_and_run(
            &mut *self.t,
            self.lock_user.as_deref(),
            wait,
            script,
            user,
            &mut on_wait,
        )
    }
}
