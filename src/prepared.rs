//! Loop items built for the batched probe, kept for the run. A loop renders each item's
//! arguments and builds its module in the probe and again when it runs; where that second
//! build cannot differ from the first, the run takes the first (with its probe text, the key
//! of its facts) instead of repeating it.
//!
//! It cannot differ when the action is a pure function of the host's variables and the item
//! (`TaskInstance::action_plain` says so) and neither changed in between where the task reads
//! them: the run sees the very same shared variables (`Arc::ptr_eq`), or new ones (the facts,
//! a `register`, `set_fact` or `include_vars` build new ones) in which every variable the
//! task's arguments read is equal; and an equal item (the loop is rendered again when it runs).

use crate::host_vars::Item;
use crate::modules::Action;
use crate::task::Task;
use crate::template::{names_in, names_read};
use serde_json::{Map, Value};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

/// An item's action and its probe, as built for the batched probe.
pub(crate) type Ready = (Action, Option<String>);

struct Entry {
    item: Option<(Value, Map<String, Value>)>,
    ready: Ready,
}

/// The variables a task's arguments read, and the last verdict: other variables, and whether
/// those read the same in them.
type Reads = (BTreeSet<String>, Option<(Arc<Map<String, Value>>, bool)>);

/// The actions of one batched probe, keyed by task (its place in the play's task list, which
/// outlives the run) and item index, all built with the variables `vars`.
#[derive(Default)]
pub(crate) struct Prepared {
    /// Held, so that no other variables can take its address while it is compared.
    vars: Option<Arc<Map<String, Value>>>,
    entries: HashMap<(usize, usize), Entry>,
    /// By task: the variables its arguments read, and whether they are the same in the last
    /// other variables it was asked with (held, as `vars`).
    reads: HashMap<usize, Reads>,
}

impl Prepared {
    /// Built with `vars`; what an earlier probe kept is forgotten.
    pub(crate) fn new(vars: Arc<Map<String, Value>>) -> Prepared {
        Prepared {
            vars: Some(vars),
            ..Prepared::default()
        }
    }

    /// Keeps `ready`, built for item `n` (`item`) of `task`.
    pub(crate) fn keep(&mut self, task: &Task, n: usize, item: Option<&Item>, ready: Ready) {
        let item = item.map(|i| (i.value.clone(), i.extra.clone()));
        self.entries.insert(key(task, n), Entry { item, ready });
        (self.reads.entry(task_key(task)))
            .or_insert_with(|| (names_in(&Value::Object(task.args.map.clone())), None));
    }

    /// What was built for item `n` of `task`, if it was built with `vars` and the same item;
    /// given once.
    pub(crate) fn take(
        &mut self,
        task: &Task,
        n: usize,
        item: Option<&Item>,
        vars: &Arc<Map<String, Value>>,
    ) -> Option<Ready> {
        let built = self.vars.as_ref()?;
        if !Arc::ptr_eq(built, vars) && !self.same_reads(task, vars) {
            return None;
        }
        let e = self.entries.remove(&key(task, n))?;
        let same = match (&e.item, item) {
            (None, None) => true,
            (Some((v, x)), Some(i)) => *v == i.value && *x == i.extra,
            _ => false,
        };
        same.then_some(e.ready)
    }

    /// Whether every variable `task`'s arguments read is the same in `vars` as in the
    /// variables the items were built with (once per task and variables: a loop asks per item).
    fn same_reads(&mut self, task: &Task, vars: &Arc<Map<String, Value>>) -> bool {
        let Some(built) = &self.vars else {
            return false;
        };
        let Some((names, last)) = self.reads.get_mut(&task_key(task)) else {
            return false;
        };
        if let Some((v, same)) = last
            && Arc::ptr_eq(v, vars)
        {
            return *same;
        }
        let same = same_values(names, built, vars);
        *last = Some((vars.clone(), same));
        same
    }
}

/// Whether `names` read the same in `a` as in `b`, and so, transitively, does every variable
/// their values read: a value that holds `{{ }}` is rendered when read (`root: "{{ base }}/x"`
/// reads `base`), so an equal `root` is not enough.
fn same_values(names: &BTreeSet<String>, a: &Map<String, Value>, b: &Map<String, Value>) -> bool {
    // The names `a` reads: where `b` differs from `a`, it differs at one of them first. The
    // play's host lists are in neither (`play_lists.rs`) and differ between validation, which
    // sees every host, and a `serial` batch.
    names_read(names.clone(), &|n| a.get(n))
        .iter()
        .all(|n| !crate::play_lists::holds(n) && a.get(n) == b.get(n))
}

/// What validation built, by play and host, until the host's run takes it (`handed_over`):
/// validation renders and builds every task for every host before any host is touched, and
/// the batched probe would build the same actions again.
type Handed = (usize, HashMap<(usize, String), Prepared>);

static HANDED: std::sync::LazyLock<std::sync::Mutex<Handed>> =
    std::sync::LazyLock::new(Default::default);

/// Kept for all hosts at most: beyond it validation's builds are dropped (and built again by
/// the probe) rather than held in memory until each host's turn.
const HAND_OVER_UP_TO: usize = 100_000;

impl Prepared {
    /// Keeps what validation built for `host` in `play` until its run asks (`handed_over`).
    pub(crate) fn hand_over(self, play: &crate::play::Play, host: &str) {
        if self.entries.is_empty() {
            return;
        }
        let mut h = HANDED.lock().unwrap_or_else(|e| e.into_inner());
        if h.0 + self.entries.len() > HAND_OVER_UP_TO {
            return;
        }
        h.0 += self.entries.len();
        h.1.insert((play_key(play), host.to_string()), self);
    }

    /// What validation built for `host` in `play`, once.
    pub(crate) fn handed_over(play: &crate::play::Play, host: &str) -> Option<Prepared> {
        let mut h = HANDED.lock().unwrap_or_else(|e| e.into_inner());
        let p = h.1.remove(&(play_key(play), host.to_string()))?;
        h.0 -= p.entries.len();
        Some(p)
    }
}

fn play_key(play: &crate::play::Play) -> usize {
    play as *const crate::play::Play as usize
}

fn task_key(task: &Task) -> usize {
    task as *const Task as usize
}

fn key(task: &Task, n: usize) -> (usize, usize) {
    (task_key(task), n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn task(yaml: &str) -> Task {
        let doc = crate::yaml::Doc::parse("t.yml".into(), yaml, false).unwrap();
        Task::parse(&doc, &doc.root, false).unwrap()
    }

    fn item(v: Value) -> Item {
        Item {
            value: v,
            extra: Map::new(),
        }
    }

    fn ready(what: &str) -> Ready {
        (Action::Fail(what.into()), Some(format!("probe {what}")))
    }

    fn what(r: Option<Ready>) -> Option<String> {
        r.map(|(a, _)| match a {
            Action::Fail(m) => m,
            _ => unreachable!(),
        })
    }

    /// Taken only with the same variables (not equal ones), the same task and item, once.
    #[test]
    fn taken_only_where_nothing_could_differ() {
        let (t1, t2) = (task("debug: {msg: a}\n"), task("debug: {msg: b}\n"));
        let vars = Arc::new(json!({"x": 1}).as_object().unwrap().clone());
        let equal = Arc::new((*vars).clone());
        let fresh = || {
            let mut p = Prepared::new(vars.clone());
            p.keep(&t1, 0, Some(&item(json!(0))), ready("t1 0"));
            p.keep(&t1, 1, Some(&item(json!(1))), ready("t1 1"));
            p.keep(&t2, 0, None, ready("t2"));
            p
        };
        type Row<'a> = (&'a Task, usize, Option<Value>, bool, Option<&'a str>);
        let table: &[Row] = &[
            (&t1, 0, Some(json!(0)), true, Some("t1 0")),
            (&t1, 1, Some(json!(1)), true, Some("t1 1")),
            (&t2, 0, None, true, Some("t2")),
            // Other variables, equal where the task reads them.
            (&t1, 0, Some(json!(0)), false, Some("t1 0")),
            // The loop rendered other items this time.
            (&t1, 0, Some(json!(5)), true, None),
            (&t2, 0, Some(json!(0)), true, None),
            (&t1, 2, Some(json!(2)), true, None),
            (&t2, 1, None, true, None),
        ];
        for (t, n, it, same_vars, want) in table {
            let mut p = fresh();
            let it = it.clone().map(item);
            let v = if *same_vars { &vars } else { &equal };
            assert_eq!(what(p.take(t, *n, it.as_ref(), v)).as_deref(), *want);
            // Given once.
            assert_eq!(what(p.take(t, *n, it.as_ref(), v)), None);
        }
        // Nothing kept, nothing given.
        assert!(Prepared::default().take(&t1, 0, None, &vars).is_none());
        // A copy of a task (an include's item) is another task.
        let copy = t2.clone();
        assert!(fresh().take(&copy, 0, None, &vars).is_none());
    }

    /// New variables: kept where the task's arguments read the same values, else built again.
    #[test]
    fn new_variables_keep_what_reads_the_same() {
        let at = |v: Value| Arc::new(v.as_object().unwrap().clone());
        let table: &[(Value, bool)] = &[
            (json!({"root": "/srv", "other": 1}), true),
            // A fact or a registered result it does not read.
            (
                json!({"root": "/srv", "other": 2, "ansible_facts": {}}),
                true,
            ),
            (json!({"root": "/opt", "other": 1}), false),
            (json!({"other": 1}), false),
        ];
        let t = task("file: {path: \"{{ root }}/d{{ item }}\", state: directory}\n");
        let built = at(json!({"root": "{{ base }}/x", "base": "{{ top }}", "top": "/a"}));
        // Lazy values: `root` reads `base`, which reads `top`.
        let lazy: &[(Value, bool)] = &[
            (
                json!({"root": "{{ base }}/x", "base": "{{ top }}", "top": "/a"}),
                true,
            ),
            (
                json!({"root": "{{ base }}/x", "base": "{{ top }}", "top": "/b"}),
                false,
            ),
            (json!({"root": "{{ base }}/x", "base": "/a"}), false),
            (
                json!({"root": "{{ base }}/x", "base": "{{ top }}", "top": "/a", "n": 1}),
                true,
            ),
        ];
        for (now, want) in lazy {
            let now = at(now.clone());
            let mut p = Prepared::new(built.clone());
            p.keep(&t, 0, Some(&item(json!(1))), ready("x"));
            assert_eq!(
                p.take(&t, 0, Some(&item(json!(1))), &now).is_some(),
                *want,
                "{now:?}"
            );
        }
        let built = at(json!({"root": "/srv", "other": 1}));
        for (now, want) in table {
            let now = at(now.clone());
            let mut p = Prepared::new(built.clone());
            p.keep(&t, 0, Some(&item(json!(1))), ready("x"));
            p.keep(&t, 1, Some(&item(json!(2))), ready("y"));
            let got = p.take(&t, 0, Some(&item(json!(1))), &now);
            assert_eq!(got.is_some(), *want, "{now:?}");
            // The verdict holds for the loop's next item.
            let got = p.take(&t, 1, Some(&item(json!(2))), &now);
            assert_eq!(got.is_some(), *want, "{now:?}");
        }
    }

    /// A task that reads the play's host lists is built again with other variables, even
    /// equal ones: the lists are not among them, and a `serial` batch has its own.
    #[test]
    fn a_task_reading_the_host_lists_is_built_again() {
        let t = task("debug: {msg: \"{{ ansible_play_batch | length }}\"}\n");
        let built = Arc::new(json!({"x": 1}).as_object().unwrap().clone());
        let equal = Arc::new((*built).clone());
        let mut p = Prepared::new(built.clone());
        p.keep(&t, 0, None, ready("x"));
        assert!(p.take(&t, 0, None, &equal).is_none());
        // The very same variables: the same batch, so kept.
        let mut p = Prepared::new(built.clone());
        p.keep(&t, 0, None, ready("x"));
        assert!(p.take(&t, 0, None, &built).is_some());
    }

    /// What validation built goes to its own host and play, once.
    #[test]
    fn handed_over_to_its_host_and_play_once() {
        let dir = tempfile::tempdir().unwrap();
        let site = dir.path().join("site.yml");
        let two = "- hosts: all\n  tasks:\n    - debug: {msg: a}\n";
        std::fs::write(&site, format!("{two}{two}")).unwrap();
        let pb = crate::playbook::Playbook::load(&site).unwrap();
        let (p1, p2) = (&pb.plays[0], &pb.plays[1]);
        let vars = Arc::new(json!({"x": 1}).as_object().unwrap().clone());
        let mut built = Prepared::new(vars.clone());
        built.keep(&p1.tasks[0], 0, None, ready("built"));
        built.hand_over(p1, "web1");
        // Nothing kept: nothing handed over.
        Prepared::new(vars.clone()).hand_over(p1, "web2");
        assert!(Prepared::handed_over(p1, "web2").is_none());
        assert!(Prepared::handed_over(p2, "web1").is_none());
        let mut got = Prepared::handed_over(p1, "web1").expect("web1's");
        assert!(Prepared::handed_over(p1, "web1").is_none());
        let took = got.take(&p1.tasks[0], 0, None, &vars);
        assert_eq!(what(took).as_deref(), Some("built"));
    }

    /// Extra loop variables (`index_var`, `ansible_loop`) are part of the item.
    #[test]
    fn an_item_with_other_loop_variables_is_another_item() {
        let t = task("debug: {msg: a}\n");
        let vars = Arc::new(Map::new());
        let mut with = item(json!("a"));
        with.extra.insert("i".into(), json!(0));
        let mut p = Prepared::new(vars.clone());
        p.keep(&t, 0, Some(&with), ready("x"));
        assert!(p.take(&t, 0, Some(&item(json!("a"))), &vars).is_none());
        let mut p = Prepared::new(vars.clone());
        p.keep(&t, 0, Some(&with), ready("x"));
        assert_eq!(
            what(p.take(&t, 0, Some(&with), &vars)).as_deref(),
            Some("x")
        );
    }
}
