//! A looped `include_tasks` or `include_role` (`loop`, `with_NAME`, `loop_control`): the task
//! file or role is read and checked before the run like any include, and a header task
//! before its tasks holds the loop. On each host the header's items are rendered when it is
//! reached, its `when` judged per item (as Ansible judges a looped include's `when`), and the
//! tasks after it run once per item that passes, with the loop variables as include
//! parameters (see `host_run/iteration.rs`). A dynamic include with a `when` and no loop is
//! a header of one item: Ansible judges its `when` once, where the include is reached, not
//! again before each of its tasks (one of them may change what it reads).

use crate::error::{Error, Result};
use crate::inherited::Inherited;
use crate::task::{Task, conditions, scalar_string};
use crate::task_instance::TaskInstance;
use crate::task_list::TaskList;
use crate::yaml::Doc;
use marked_yaml::Node;
use serde_json::{Map, Value};

/// A looped include's items as far as validation knows them (None: only the host does).
pub(crate) type KnownItems = Option<Vec<Map<String, Value>>>;

/// Validation checks a looped include's tasks for at most this many of its items.
const CHECKED_ITEMS: usize = 16;

/// A key that makes a task a loop.
pub(crate) fn is_loop_key(k: &str) -> bool {
    k == "loop" || k == "loop_control" || k.starts_with("with_")
}

impl TaskList {
    /// `include_tasks`, `import_tasks`, `include_role` or `import_role` (`key`) at `item`:
    /// looped if it has a loop (only the dynamic ones may: the static ones say so where they
    /// read the key).
    pub(crate) fn include(
        &mut self,
        doc: &Doc,
        item: &Node,
        key: &str,
        role: bool,
        inherited: &Inherited,
        depth: usize,
    ) -> Result<()> {
        let map = item.as_mapping().expect("an include is a mapping");
        let dynamic = key.ends_with("include_tasks") || key.ends_with("include_role");
        let has = |key: &str| map.iter().any(|(k, _)| k.as_str() == key);
        let looped = map.iter().any(|(k, _)| is_loop_key(k.as_str()));
        // Judged once when reached (`register` is refused where the include is read).
        let once = dynamic && !looped && has("when") && !has("register");
        if !dynamic || !(looped || once) {
            return self.bring(doc, item, key, role, inherited, depth);
        }
        let mut header = Task::synthetic(&doc.loc(item), "meta: noop\n");
        let what = match map.get_node(key) {
            Some(Node::Scalar(s)) => s.as_str().to_string(),
            Some(Node::Mapping(m)) => m
                .get_node(if role { "name" } else { "file" })
                .and_then(Node::as_scalar)
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            _ => String::new(),
        };
        header.name = Some(format!("{key} {what}"));
        let mut rest = map.clone();
        let mut vars = None;
        for (k, v) in map.iter() {
            match k.as_str() {
                // Judged per item, before the item's tasks, and not again by each of them.
                "when" => header.when.extend(conditions(doc, v)),
                // They select the header as they select the include (kept for its tasks' gate).
                "tags" => {
                    header.tags.extend(crate::task::tag_list(doc, v)?);
                    continue;
                }
                "name" => header.name = Some(scalar_string(doc, v, "name")?),
                // The include's parameters: the loop may read them too.
                "vars" => {
                    vars = Some(crate::inventory::vars_map(doc, v)?);
                    continue;
                }
                "register" => {
                    return Err(Error::input(
                        doc.key_loc(k),
                        format!("`register` on a looped `{key}` is not supported"),
                    )
                    .with_hint("register the results of the tasks it includes instead"));
                }
                _ => {
                    if !header.loop_keyword(doc, k, v)? {
                        continue;
                    }
                }
            }
            if k.as_str() != "name" {
                rest.remove(k);
            }
        }
        if header.loop_items.is_none() && !once {
            return Err(Error::input(
                doc.loc(item),
                "`loop_control` without a loop (`loop` or `with_NAME`)",
            ));
        }
        let start = self.tasks.len();
        let mut inner = inherited.clone();
        inner.behind_when |= once;
        self.bring(doc, &Node::Mapping(rest), key, role, &inner, depth)?;
        // One item without a loop defines no loop variables.
        let names = match once {
            true => Vec::new(),
            false => loop_names(&header),
        };
        for t in &mut self.tasks[start..] {
            t.outer_loop_vars.extend(names.iter().cloned());
        }
        let mut outer = inherited.clone();
        if let Some(v) = vars {
            outer.params.extend(v);
        }
        outer.apply(&mut header);
        header.include_loop = Some(self.tasks.len() - start);
        self.tasks.insert(start, header);
        Ok(())
    }

    /// The task file or role itself.
    fn bring(
        &mut self,
        doc: &Doc,
        item: &Node,
        key: &str,
        role: bool,
        inherited: &Inherited,
        depth: usize,
    ) -> Result<()> {
        if role {
            return self.role(doc, item, Some(key), inherited, depth);
        }
        let map = item.as_mapping().expect("an include is a mapping");
        let file = map.get_node(key).expect("the include's key is there");
        self.import(doc, item, key, file, inherited, depth)
    }
}

/// The variables a looped include defines for its tasks.
pub(crate) fn loop_names(header: &Task) -> Vec<String> {
    let mut names = vec![header.loop_var.clone(), "ansible_loop_var".to_string()];
    if let Some(iv) = &header.index_var {
        names.push(iv.clone());
        names.push("ansible_index_var".into());
    }
    if header.loop_extended {
        names.push("ansible_loop".into());
    }
    names
}

/// A looped include the host is inside: on one host: where its tasks are, and its items.
pub(crate) struct Frame {
    /// The header's index in the play's tasks; its tasks follow it, up to `end`.
    pub(crate) header: usize,
    pub(crate) end: usize,
    /// The variables of each item whose `when` held (the loop variable, `index_var`,
    /// `ansible_loop` ...).
    pub(crate) items: Vec<Map<String, Value>>,
    /// The item being run.
    pub(crate) at: usize,
}

/// A task inside looped includes as the current items of `frames` see it.
pub(crate) fn in_iteration(task: &Task, frames: &[Frame]) -> Task {
    with_vars(task, frames.iter().map(|f| &f.items[f.at]))
}

/// A task inside looped includes as their current items (`layers`, outermost first) see it:
/// their variables are its include parameters, the innermost loop's winning.
pub(crate) fn with_vars<'m>(
    task: &Task,
    layers: impl IntoIterator<Item = &'m Map<String, Value>>,
) -> Task {
    let mut t = task.clone();
    for layer in layers {
        for (k, v) in layer {
            t.vars.insert(k.clone(), v.clone());
            t.params.insert(k.clone());
        }
    }
    t
}

/// The variables of one item of a header's loop (the loop variable, `index_var`,
/// `ansible_loop` ...).
pub(crate) fn item_vars(
    header: &Task,
    item: Option<&crate::task_instance::Item>,
) -> Map<String, Value> {
    let mut vars = Map::new();
    if let Some(i) = item {
        vars.insert(header.loop_var.clone(), i.value.clone());
        vars.extend(i.extra.clone());
    }
    vars
}

/// For validation: the items of a looped include known before the run (those its `when`
/// does not rule out), or None when they are only known on the host.
pub(crate) fn known_items(
    header: &Task,
    base: &Map<String, Value>,
    deferred: &Map<String, Value>,
) -> KnownItems {
    let inst = TaskInstance::new(header, base, deferred);
    let items = inst.items(&inst.vars()).ok()?;
    let kept = items.into_iter().filter(|item| {
        let vars = inst.item_vars(item.as_ref()).0;
        !matches!(inst.when(&vars), Ok(false))
    });
    Some(
        kept.take(CHECKED_ITEMS)
            .map(|item| item_vars(header, item.as_ref()))
            .collect(),
    )
}

/// For validation: the combinations of the known items of the looped includes around a task
/// (outermost first), each as the variables it sees; None when one's items are only known
/// on the host.
pub(crate) fn combinations(
    frames: &[Option<Vec<Map<String, Value>>>],
) -> Option<Vec<Map<String, Value>>> {
    let mut out = vec![Map::new()];
    for f in frames {
        let items = f.as_ref()?;
        out = out
            .iter()
            .flat_map(|c| {
                items.iter().map(move |i| {
                    let mut m = c.clone();
                    m.extend(i.clone());
                    m
                })
            })
            .take(CHECKED_ITEMS)
            .collect();
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(dir: &std::path::Path, yaml: &str) -> TaskList {
        let doc = Doc::parse(dir.join("play.yml"), yaml, true).unwrap();
        let mut tl = TaskList::empty(false, dir);
        tl.collect(&doc, &doc.items(), &Inherited::default(), 0);
        tl
    }

    /// A looped include: a header holding the loop and the include's `when`, then the file's
    /// tasks (without that `when`), each knowing the loop's variables; nested loops nest.
    #[test]
    fn a_looped_include_is_a_header_then_its_tasks() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("user.yml"),
            "- debug: {msg: \"{{ u }}\"}\n- include_tasks: key.yml\n  loop: \"{{ u.keys }}\"\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("key.yml"),
            "- debug: {msg: \"{{ item }}\"}\n",
        )
        .unwrap();
        let tl = collect(
            dir.path(),
            "- include_tasks: user.yml\n  loop: \"{{ users }}\"\n  loop_control: {loop_var: u, index_var: i}\n  when: u.name != 'x'\n  vars: {a: 1}\n- debug: {msg: after}\n",
        );
        assert!(tl.errors.is_empty(), "{:?}", tl.errors);
        let shape: Vec<(Option<usize>, usize, Vec<String>)> = tl
            .tasks
            .iter()
            .map(|t| (t.include_loop, t.when.len(), t.outer_loop_vars.clone()))
            .collect();
        let outer = ["u", "ansible_loop_var", "i", "ansible_index_var"].map(String::from);
        let inner: Vec<String> = ["item", "ansible_loop_var"]
            .map(String::from)
            .into_iter()
            .chain(outer.iter().cloned())
            .collect();
        assert_eq!(
            shape,
            vec![
                (Some(3), 1, vec![]),
                (None, 0, outer.to_vec()),
                (Some(1), 0, outer.to_vec()),
                (None, 0, inner),
                (None, 0, vec![]),
            ]
        );
        assert_eq!(tl.tasks[0].loop_var, "u");
        assert_eq!(tl.tasks[0].vars.get("a"), Some(&serde_json::json!(1)));
    }

    /// A dynamic include with a `when` and no loop: a header of one item holding the `when`,
    /// then the file's tasks without it and without loop variables. An import keeps its
    /// `when` on each task.
    #[test]
    fn a_conditional_include_is_a_header_of_one_item() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("t.yml"),
            "- debug: {msg: a}\n- debug: {msg: b}\n",
        )
        .unwrap();
        type Shape = Vec<(Option<usize>, usize, usize)>;
        let table: &[(&str, Shape)] = &[
            (
                "- include_tasks: t.yml\n  when: x\n",
                vec![(Some(2), 1, 0), (None, 0, 0), (None, 0, 0)],
            ),
            (
                "- import_tasks: t.yml\n  when: x\n",
                vec![(None, 1, 0), (None, 1, 0)],
            ),
            ("- include_tasks: t.yml\n", vec![(None, 0, 0), (None, 0, 0)]),
        ];
        for (yaml, want) in table {
            let tl = collect(dir.path(), yaml);
            assert!(tl.errors.is_empty(), "{yaml}: {:?}", tl.errors);
            let shape: Shape = (tl.tasks.iter())
                .map(|t| (t.include_loop, t.when.len(), t.outer_loop_vars.len()))
                .collect();
            assert_eq!(&shape, want, "{yaml}");
        }
    }

    #[test]
    fn what_a_looped_include_may_not_have() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("t.yml"), "- debug: {msg: x}\n").unwrap();
        let table = [
            (
                "- include_tasks: t.yml\n  loop: [1]\n  register: r\n",
                "`register` on a looped `include_tasks` is not supported",
            ),
            (
                "- import_tasks: t.yml\n  loop: [1]\n",
                "`loop` is not supported on `import_tasks`",
            ),
            (
                "- include_tasks: t.yml\n  loop_control: {loop_var: x}\n",
                "`loop_control` without a loop",
            ),
            (
                "- include_tasks: t.yml\n  with_itemz: [1]\n",
                "plumb has no lookup `itemz`",
            ),
        ];
        for (yaml, want) in table {
            let tl = collect(dir.path(), yaml);
            let all: String = tl.errors.iter().map(|e| e.to_string()).collect();
            assert!(all.contains(want), "{yaml}: {all}");
        }
    }
}
