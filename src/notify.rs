//! Handler bookkeeping for one host: which tasks notified which handler, whether any of those
//! changes is certain, and which units plumb (re)started since, so a restart can be skipped.

use crate::outcome::Status;
use crate::task::Task;
use std::collections::HashMap;

/// The indexes of the handlers a task's `notify` names, by name or by `listen` topic, in the
/// order it names them.
pub(crate) fn handlers_of(
    handlers: &[Task],
    task: &Task,
    render: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<usize>, String> {
    // A name written as a template is rendered, on both sides, as Ansible does.
    let named = |s: &str| match crate::template::has_template(s) {
        true => render(s).unwrap_or_else(|| s.to_string()),
        false => s.to_string(),
    };
    let mut found = Vec::new();
    for n in &task.notify {
        let want = named(&n.value);
        let before = found.len();
        found.extend(
            (handlers.iter().enumerate())
                .filter(|(_, h)| {
                    h.name.as_deref().map(named).as_deref() == Some(want.as_str())
                        || h.listen.contains(&want)
                })
                .map(|(i, _)| i),
        );
        if found.len() == before {
            return Err(format!(
                "no handler named `{want}` (notified as `{}`)",
                n.value
            ));
        }
    }
    Ok(found)
}

/// One handler's pending notification.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Pending {
    /// The notifying tasks' names, in order.
    pub(crate) by: Vec<String>,
    /// Whether any notifying change is certain (not only `may-change`).
    pub(crate) certain: bool,
}

#[derive(Debug, Default)]
pub(crate) struct Notifications {
    /// Handler index → its pending notification, in the order first notified.
    pending: Vec<(usize, Pending)>,
    /// Tasks run so far: orders (re)starts against notifications.
    seq: usize,
    /// Unit → when plumb last started or restarted it in this run.
    restarted: HashMap<String, usize>,
    /// Handler index → when it was last notified.
    notified_at: HashMap<usize, usize>,
    /// The handler being run, if any.
    current: Option<usize>,
}

impl Notifications {
    /// A task (or handler) starts.
    pub(crate) fn next_task(&mut self) {
        self.seq += 1;
    }

    /// Task `by` ended with `status`; `handlers` are the indexes of the handlers it notifies.
    /// Only a change (certain or not) notifies.
    pub(crate) fn notify(
        &mut self,
        by: &str,
        status: Status,
        handlers: impl IntoIterator<Item = usize>,
    ) {
        if !matches!(status, Status::Changed | Status::MayChange) {
            return;
        }
        let certain = status == Status::Changed;
        for i in handlers {
            self.notified_at.insert(i, self.seq);
            match self.pending.iter_mut().find(|(idx, _)| *idx == i) {
                Some((_, p)) => {
                    p.by.push(by.to_string());
                    p.certain |= certain;
                }
                None => self.pending.push((
                    i,
                    Pending {
                        by: vec![by.to_string()],
                        certain,
                    },
                )),
            }
        }
    }

    /// Handler `i`'s pending notification, taken: it now runs (until `done`).
    pub(crate) fn take(&mut self, i: usize) -> Option<Pending> {
        let pos = self.pending.iter().position(|(idx, _)| *idx == i)?;
        self.current = Some(i);
        Some(self.pending.remove(pos).1)
    }

    /// The handler taken last has run.
    pub(crate) fn done(&mut self) {
        self.current = None;
    }

    /// A handler's status from its own: one notified only by tasks that may change may not
    /// need to run; one notified by a certain change will run (in a dry run, `changed`), even
    /// if what it then does depends on earlier changes.
    pub(crate) fn certain(status: Status, certain: bool, check: bool) -> Status {
        match status {
            Status::Changed if !certain => Status::MayChange,
            Status::MayChange if certain && check => Status::Changed,
            s => s,
        }
    }

    /// plumb (re)started `unit` in the task now running.
    pub(crate) fn started(&mut self, unit: &str) {
        self.restarted.insert(unit.to_string(), self.seq);
    }

    /// Whether the handler now running, which restarts or reloads `unit`, has nothing left to
    /// do: plumb itself started the unit after the change that notified the handler.
    pub(crate) fn restart_done(&self, unit: &str) -> bool {
        match (self.current, self.restarted.get(unit)) {
            (Some(h), Some(&started)) => self.notified_at.get(&h).is_some_and(|&n| started > n),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Status::*;

    fn task(yaml: &str, handler: bool) -> Task {
        let doc = crate::yaml::Doc::parse("t.yml".into(), yaml, false).unwrap();
        Task::parse(&doc, &doc.root, handler).unwrap()
    }

    #[test]
    fn a_notify_names_handlers_by_name_or_listen_topic() {
        let handlers = [
            task("name: restart web\ncommand: x\n", true),
            task("name: reload\ncommand: x\nlisten: web changed\n", true),
            task("name: other\ncommand: x\n", true),
            task("name: \"restart {{ svc }}-other\"\ncommand: x\n", true),
        ];
        // (notify, handler indexes)
        let table: &[(&str, &[usize])] = &[
            ("[restart web]", &[0]),
            ("[web changed, restart web]", &[1, 0]),
            ("[web changed, restart web]", &[1, 0]),
            ("[\"restart {{ svc }}\"]", &[0]),
            ("[\"{{ svc }} changed\"]", &[1]),
            ("[\"restart {{ svc }}-other\"]", &[3]),
        ];
        let render = |s: &str| Some(s.replace("{{ svc }}", "web"));
        for (notify, want) in table {
            let t = task(&format!("command: x\nnotify: {notify}\n"), false);
            assert_eq!(
                handlers_of(&handlers, &t, &render),
                std::result::Result::Ok(want.to_vec()),
                "{notify}"
            );
        }
        let t = task("command: x\nnotify: \"restart {{ svc }}s\"\n", false);
        assert_eq!(
            handlers_of(&handlers, &t, &render),
            Err("no handler named `restart webs` (notified as `restart {{ svc }}s`)".into())
        );
    }

    #[test]
    fn notifications_gather_until_taken() {
        let mut n = Notifications::default();
        // (task, status, handlers it notifies)
        let steps: &[(&str, Status, &[usize])] = &[
            ("a", Ok, &[0]),
            ("b", MayChange, &[0, 1]),
            ("c", Changed, &[1]),
            ("d", Failed, &[2]),
            ("e", Skipped, &[2]),
        ];
        for (by, status, handlers) in steps {
            n.next_task();
            n.notify(by, *status, handlers.iter().copied());
        }
        let p = |by: &[&str], certain| Pending {
            by: by.iter().map(|s| s.to_string()).collect(),
            certain,
        };
        assert_eq!(n.take(0), Some(p(&["b"], false)));
        n.done();
        assert_eq!(n.take(1), Some(p(&["b", "c"], true)));
        n.done();
        assert_eq!(n.take(1), None);
        assert_eq!(n.take(2), None);
    }

    #[test]
    fn handler_status_follows_certainty() {
        // (its own status, certain, dry run, shown)
        let table = [
            (Changed, false, false, MayChange),
            (Changed, false, true, MayChange),
            (Changed, true, false, Changed),
            (MayChange, true, true, Changed),
            (MayChange, true, false, MayChange),
            (MayChange, false, true, MayChange),
            (Ok, true, true, Ok),
            (Failed, false, false, Failed),
        ];
        for (own, certain, check, shown) in table {
            assert_eq!(
                Notifications::certain(own, certain, check),
                shown,
                "{own:?} {certain} {check}"
            );
        }
    }

    #[test]
    fn restart_is_done_when_started_after_the_notification() {
        // (unit started before the notifying change, started after it, restart already done)
        let table = [
            (false, false, false),
            (true, false, false),
            (false, true, true),
        ];
        for (before, after, done) in table {
            let mut n = Notifications::default();
            n.next_task();
            if before {
                n.started("nginx.service");
            }
            n.next_task();
            n.notify("config", Changed, [0]);
            n.next_task();
            if after {
                n.started("nginx.service");
            }
            n.next_task();
            assert!(!n.restart_done("nginx.service"), "no handler running yet");
            n.take(0).unwrap();
            assert_eq!(n.restart_done("nginx.service"), done, "{before} {after}");
            assert!(!n.restart_done("other.service"));
            n.done();
        }
    }
}
