//! The batched probe of `HostRun`: every task that renders before any runs, the host lock and
//! the play's facts in one exec; then the probes of tasks that read the facts.

use super::HostRun;
use crate::event::Event;
use crate::prepared::Prepared;
use crate::transport::TransportError;
use serde_json::{Map, Value};

impl<'a> HostRun<'a> {
    /// Probes every task that can be rendered now, in one round trip per sudo user, and
    /// gathers the play's facts in the same one; with `lock`, takes the host's plumb lock in the
    /// first of them. Tasks that read facts render only once they are known: their probes go
    /// in one more batched round trip.
    pub(super) fn prefetch(
        &mut self,
        lock: Option<std::time::Duration>,
    ) -> std::result::Result<crate::transport::Lock, TransportError> {
        // Facts gathered in an earlier play stay the host's, as in Ansible.
        if !self.play.gather_facts
            && self.gathered.is_none()
            && let Some(f) = crate::hostvars::facts(&self.host.name)
        {
            self.set_facts(f);
        }
        let wanted = self.play.gather_facts && self.gathered.is_none();
        let gather = wanted && crate::fact_need::may_read();
        self.facts_skipped = wanted && !gather;
        if self.facts_skipped {
            self.detail(
                1,
                "facts: not gathered (nothing in the run reads them)".into(),
            );
        }
        let facts_probe = gather.then(|| crate::facts::snippet(&self.play.facts_subset));
        let tasks = &self.play.tasks;
        let held = self.prefetch_round(lock, facts_probe.as_deref(), tasks)?;
        if !matches!(held, crate::transport::Lock::Held) {
            return Ok(held);
        }
        let Some(probe) = facts_probe else {
            return Ok(held);
        };
        let user = self.play.facts_user();
        // The batch did not split (its output was cut): the facts alone, once more.
        let answer = match self.facts.get(&probe, user.as_deref(), &[]) {
            Some(a) => a,
            None => {
                let out = self.t.run(&probe, user.as_deref())?;
                (out.code, out.out)
            }
        };
        self.take_facts(answer)?;
        Ok(held)
    }

    /// The play skipped gathering (nothing read the facts when it started), and a text loaded
    /// since may read them.
    fn facts_due(&self) -> bool {
        self.facts_skipped && crate::fact_need::may_read()
    }

    /// Gathers the facts now if they are due (an `include_vars` file named one). Why it
    /// failed, if it did, as the task's message.
    pub(super) fn late_facts(&mut self) -> std::result::Result<Option<String>, TransportError> {
        if !self.facts_due() {
            return Ok(None);
        }
        self.facts_skipped = false;
        let probe = crate::facts::snippet(&self.play.facts_subset);
        let out = self.t.run(&probe, self.play.facts_user().as_deref())?;
        self.take_facts((out.code, out.out))?;
        Ok(self
            .facts_error
            .take()
            .map(|e| format!("gathering facts: {e}")))
    }

    /// After a build failed: if the facts were skipped and what it read names one, they are
    /// gathered, and `vars` with them under the names it does not define yet (None: nothing
    /// to retry; an error: why gathering failed).
    pub(super) fn gather_for(
        &mut self,
        vars: &crate::template::Vars,
    ) -> std::result::Result<
        Option<std::result::Result<crate::template::Vars, String>>,
        TransportError,
    > {
        if !self.facts_due() {
            return Ok(None);
        }
        if let Some(why) = self.late_facts()? {
            return Ok(Some(Err(why)));
        }
        let mut top = fact_vars(&self.gathered.clone().unwrap_or_default());
        top.retain(|k, _| vars.get(k).is_none());
        Ok(Some(Ok(vars.over(top))))
    }

    /// The facts snippet's answer: the host's facts, and the tasks that read them probed.
    fn take_facts(&mut self, answer: (i32, String)) -> std::result::Result<(), TransportError> {
        let tasks = &self.play.tasks;
        match crate::fact_cache::facts(answer.0, answer.1)
            .and_then(|out| crate::facts::parse(&out, &self.play.facts_subset))
        {
            Ok(gathered) => {
                self.detail(1, format!("facts: {} gathered", gathered.len()));
                // Over what an earlier play left (a module's facts, a cacheable `set_fact`),
                // as Ansible's fact cache merges a new gathering.
                let mut facts = crate::hostvars::facts(&self.host.name).unwrap_or_default();
                facts.extend(gathered);
                let before = self.base.clone();
                self.set_facts(facts);
                // Only tasks that read a fact (or a play variable that does) may have been
                // left out: the others were rendered and probed already.
                if self
                    .play
                    .tasks
                    .iter()
                    .any(|t| reads_new(t, &before, &self.deferred))
                {
                    self.prefetch_round(None, None, tasks)?;
                }
            }
            Err(e) => self.facts_error = Some(e),
        }
        Ok(())
    }

    /// The host's facts are now `facts`: the variables that read them render.
    fn set_facts(&mut self, facts: Map<String, Value>) {
        let (base, unresolved) = crate::host_vars::host_vars_full(
            self.host,
            self.play,
            self.r.playbook_dir,
            &self.r.opts.extra_vars,
            &facts,
            self.r.magic,
        );
        self.base = base;
        self.vars_changed();
        self.deferred = unresolved.into_iter().map(|u| (u.name, u.value)).collect();
        self.deferred.extend(self.rerendered.clone());
        // Other hosts see them through `hostvars`.
        crate::hostvars::set_facts(&self.host.name, fact_vars(&facts));
        self.gathered = Some(facts);
    }

    /// `meta: clear_facts`: the host's facts are gone, for its tasks and for `hostvars`.
    pub(super) fn clear_facts(&mut self) {
        let mut old = self.gathered.take().unwrap_or_default();
        let mut names: Vec<String> = crate::facts::injected(&old).keys().cloned().collect();
        names.push("ansible_facts".into());
        crate::hostvars::forget(&self.host.name, &names);
        old.clear();
        self.set_facts(old);
    }

    /// Facts a module returned, merged into the host's (names without `ansible_`, as Ansible
    /// keeps them in `ansible_facts`).
    pub(super) fn merge_facts(&mut self, af: &Map<String, Value>) {
        let mut facts = self.gathered.clone().unwrap_or_default();
        for (k, v) in af {
            let bare = k.strip_prefix("ansible_").unwrap_or(k);
            facts.insert(bare.to_string(), v.clone());
        }
        self.set_facts(facts);
    }

    /// One round of `prefetch`: the probes of `tasks` not yet cached (and `facts_probe`, as
    /// the play's facts user), batched.
    pub(super) fn prefetch_round(
        &mut self,
        mut lock: Option<std::time::Duration>,
        facts_probe: Option<&str>,
        tasks: &[crate::task::Task],
    ) -> std::result::Result<crate::transport::Lock, TransportError> {
        use crate::batch;
        let m = self.known_vars();
        // The play's own tasks (not a looped include's copies, which live only as long as
        // this round): the items built purely are kept for the run.
        let mut kept = std::ptr::eq(tasks, &self.play.tasks[..]).then(|| Prepared::new(m.clone()));
        // What validation built for this host, taken where it would build alike now.
        let mut prior = kept
            .is_some()
            .then(|| Prepared::handed_over(self.play, &self.host.name))
            .flatten();
        let (mut wanted, hidden) = batch::wanted(
            self.play,
            tasks,
            &self.r.opts.tags,
            &m,
            &self.deferred,
            self.r.playbook_dir,
            kept.as_mut().map(|k| (k, prior.as_mut())),
        );
        if let Some(k) = kept {
            self.prepared = k;
        }
        wanted.retain(|(p, _, u)| !self.facts.contains(p, u.as_deref()));
        if let Some(p) = facts_probe {
            wanted.insert(0, (p.to_string(), batch::Need::Own, self.play.facts_user()));
        }
        if wanted.is_empty() && lock.is_none() {
            return Ok(crate::transport::Lock::Held);
        }
        let batches = batch::Batch::plan(wanted);
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
            let with_facts = facts_probe.is_some_and(|p| snippets.contains(&p));
            self.detail(
                1,
                format!(
                    "probe: {} tasks{} in one round trip{}",
                    b.task_count() - usize::from(with_facts),
                    if with_facts { " and the facts" } else { "" },
                    user.as_deref()
                        .map(|u| format!(" (sudo -u {u})"))
                        .unwrap_or_default()
                ),
            );
            self.detail(
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
            self.detail(
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
            for (probe, facts) in answers {
                self.facts.insert(&probe, user.as_deref(), facts);
            }
        }
        Ok(crate::transport::Lock::Held)
    }

    /// Takes the lock and runs the first probe (see `connection::lock_and_run`).
    fn lock_and_run(
        &mut self,
        wait: std::time::Duration,
        script: &str,
        user: Option<&str>,
    ) -> std::result::Result<
        (crate::transport::Lock, Option<crate::transport::Output>),
        TransportError,
    > {
        let (tx, host) = (self.tx, self.host.name.clone());
        let mut on_wait = || {
            let _ = tx.send(Event::Detail {
                host: host.clone(),
                text: "waiting for another plumb run on this host to finish (its plumb lock)"
                    .to_string(),
            });
        };
        let lock_user = self.play.lock_user();
        crate::connection::lock_and_run(
            &mut *self.t,
            lock_user.as_deref(),
            wait,
            script,
            user,
            &mut on_wait,
        )
    }
}

/// Whether `task` reads a variable that was not in `before` (the variables before the facts):
/// a fact, or a play variable that could not render without them.
fn reads_new(
    task: &crate::task::Task,
    before: &Map<String, Value>,
    deferred: &Map<String, Value>,
) -> bool {
    let mut names = crate::template::names_in(&Value::Object(task.args.map.clone()));
    for w in &task.when {
        names.extend(crate::template::names_in(&w.value));
        // A bare condition (`ansible_os_family == 'Debian'`) is an expression, not a template.
        if let Value::String(s) = &w.value {
            names.extend(crate::template::names_in(&Value::String(format!(
                "{{{{ {s} }}}}"
            ))));
        }
    }
    if let Some(l) = &task.loop_items {
        names.extend(crate::template::names_in(&l.value));
    }
    names.extend(task.vars.values().flat_map(crate::template::names_in));
    let local = |n: &String| {
        *n == task.loop_var
            || task.vars.contains_key(n)
            || matches!(
                n.as_str(),
                "omit" | "ansible_managed" | "vars" | "hostvars" | "item"
            )
    };
    // The engine's own globals (`range`, `lookup` ...) are no variables the facts could add.
    names.iter().filter(|n| !local(n)).any(|n| {
        (!before.contains_key(n) && !crate::jinja::is_global(n)) || deferred.contains_key(n)
    })
}

/// The variables `facts` define: `ansible_facts` and each injected `ansible_*`.
fn fact_vars(facts: &Map<String, Value>) -> Map<String, Value> {
    let mut v = crate::facts::injected(facts);
    v.insert("ansible_facts".into(), Value::Object(facts.clone()));
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A task reads something the facts added when it names a variable that was not there
    /// (or one still waiting to render); the engine's own globals are not variables.
    #[test]
    fn what_reads_the_new_facts() {
        let before = json!({"n": 3, "root": "/srv"}).as_object().unwrap().clone();
        let deferred = json!({"late": "{{ r.stdout }}"})
            .as_object()
            .unwrap()
            .clone();
        let table: &[(&str, bool)] = &[
            (
                "file: {path: \"{{ root }}/d{{ item }}\"}\nloop: \"{{ range(n | int) | list }}\"\n",
                false,
            ),
            (
                "debug: {msg: \"{{ dict(a=1) }} {{ lookup('env', 'HOME') }}\"}\n",
                false,
            ),
            ("debug: {msg: \"{{ ansible_hostname }}\"}\n", true),
            (
                "debug: {msg: hi}\nwhen: ansible_os_family == 'Debian'\n",
                true,
            ),
            ("debug: {msg: \"{{ late }}\"}\n", true),
        ];
        for (yaml, want) in table {
            let doc = crate::yaml::Doc::parse("t.yml".into(), yaml, false).unwrap();
            let task = crate::task::Task::parse(&doc, &doc.root, false).unwrap();
            assert_eq!(reads_new(&task, &before, &deferred), *want, "{yaml}");
        }
    }
}
