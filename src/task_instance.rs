//! A task on one host: its loop items, each item's variables and `when`, its rendered arguments
//! and module, and the variables its result is judged with. Validation, the batched probe and
//! the run all go through here, so they expand a task the same way.

use crate::error::{Error, Result};
pub(crate) use crate::host_vars::Item;
use crate::host_vars::{Unresolved, task_item_vars};
use crate::modules::{Action, BuildCtx};
use crate::task::Task;
use crate::template::Vars;
use serde_json::{Map, Value};
use std::path::Path;

/// The variable a `with_NAME` loop's terms are handed to its lookup in.
const TERMS: &str = "__plumb_loop_terms";

/// A task with the variables it sees on one host before its own `vars` and loop item.
pub(crate) struct TaskInstance<'a> {
    pub(crate) task: &'a Task,
    /// The play's variables and registered results.
    base: &'a Map<String, Value>,
    /// Play variables that wait for a registered result, a task's vars or the item, as written.
    deferred: &'a Map<String, Value>,
    /// `include_vars`, `set_fact` and registered results: above the task's own `vars`.
    over: Option<&'a Map<String, Value>>,
    /// `vars()`, built once: a task asks for it several times (items, `when`, become, the
    /// batched apply), and each build copies every variable of the host.
    memo: std::cell::OnceCell<Vars>,
    /// `base`, shared, when it already holds `over` as the host keeps them (`with_known`).
    known: Option<std::sync::Arc<Map<String, Value>>>,
}

/// Why a task's `loop` gave no list of items.
#[derive(Debug)]
pub(crate) enum LoopError {
    /// Its template did not render.
    Render(Error),
    /// It rendered to something else than a list: that value's type.
    NotAList(&'static str),
}

impl LoopError {
    /// The message a task line shows.
    pub(crate) fn message(&self) -> String {
        match self {
            LoopError::Render(e) => e.one_line(),
            LoopError::NotAList(found) => format!("`loop` must be a list, found {found}"),
        }
    }
}

impl<'a> TaskInstance<'a> {
    pub(crate) fn new(
        task: &'a Task,
        base: &'a Map<String, Value>,
        deferred: &'a Map<String, Value>,
    ) -> TaskInstance<'a> {
        TaskInstance {
            task,
            base,
            deferred,
            over: None,
            memo: std::cell::OnceCell::new(),
            known: None,
        }
    }

    /// With the variables that sit above the task's own `vars` (Ansible's `include_vars`,
    /// `set_fact` and registered results levels).
    pub(crate) fn with_over(mut self, over: &'a Map<String, Value>) -> TaskInstance<'a> {
        self.over = Some(over);
        self.memo = std::cell::OnceCell::new();
        self
    }

    /// `base` is `known`, shared: the host's variables with `over` already merged in (a task
    /// that adds no variables of its own then shares them instead of copying them).
    pub(crate) fn with_known(mut self, known: std::sync::Arc<Map<String, Value>>) -> Self {
        self.known = Some(known);
        self.memo = std::cell::OnceCell::new();
        self
    }

    /// The task's variables with no loop item.
    pub(crate) fn vars(&self) -> Vars {
        self.memo.get_or_init(|| self.item_vars(None).0).clone()
    }

    /// The variables for one loop item, and the task's own `vars` that did not render.
    pub(crate) fn item_vars(&self, item: Option<&Item>) -> (Vars, Vec<Unresolved>) {
        // Without vars of its own nothing can fail to render: the variables are the same
        // whoever asks.
        let own = self.task.vars.is_empty() && self.deferred.is_empty();
        // An item of such a task: the host's variables shared, the item's (and the role's)
        // over them.
        if own && let (Some(i), Some(k)) = (item, &self.known) {
            let mut top = crate::host_vars::role_vars(self.task);
            top.insert(self.task.loop_var.clone(), i.value.clone());
            top.extend(i.extra.clone());
            return (Vars::with_item(k.clone(), top), Vec::new());
        }
        let plain = item.is_none() && own;
        if plain {
            if let Some(v) = self.memo.get() {
                return (v.clone(), Vec::new());
            }
            if self.task.role_dir.is_none()
                && let Some(k) = &self.known
            {
                return (Vars::shared(k.clone()), Vec::new());
            }
        }
        let (m, failed) = task_item_vars(self.task, self.base, item, self.deferred, self.over);
        (Vars::new(m), failed)
    }

    /// The loop's items (one `None` without a loop), rendered with `vars`; a `with_NAME`
    /// loop's value goes through its lookup, as Ansible's does.
    pub(crate) fn items(&self, vars: &Vars) -> std::result::Result<Vec<Option<Item>>, LoopError> {
        let Some(l) = &self.task.loop_items else {
            return Ok(vec![None]);
        };
        let value = vars
            .render_value(&l.value, &l.loc)
            .map_err(LoopError::Render)?;
        let values = match (&self.task.loop_lookup, value) {
            (None, Value::Array(a)) => a,
            (None, other) => {
                return Err(LoopError::NotAList(crate::modules::args::type_name(&other)));
            }
            (Some(name), value) => {
                // Ansible's listify_lookup_plugin_terms: a list is the terms, else one term.
                let terms = match value {
                    Value::Array(a) => a,
                    other => vec![other],
                };
                let mut m = vars.map().clone();
                m.insert(TERMS.into(), Value::Array(terms));
                // As Ansible gives a loop's lookup its task's kind: `with_first_found` on
                // `include_vars` looks in a role's `vars/`, on `template` in `templates/`.
                let kind = ["template", "var"]
                    .into_iter()
                    .find(|k| self.task.module.contains(k))
                    .unwrap_or("file");
                let sub = match name.as_str() {
                    "first_found" => format!(", _subdir='{kind}s'"),
                    _ => String::new(),
                };
                let expr = Value::String(format!("{{{{ query('{name}', *{TERMS}{sub}) }}}}"));
                match Vars::new(m).render_value(&expr, &l.loc) {
                    Ok(Value::Array(a)) => a,
                    Ok(other) => {
                        return Err(LoopError::NotAList(crate::modules::args::type_name(&other)));
                    }
                    Err(e) => return Err(LoopError::Render(e)),
                }
            }
        };
        Ok(self.with_loop_vars(values).into_iter().map(Some).collect())
    }

    /// Each value with the variables `loop_control` asks for.
    fn with_loop_vars(&self, values: Vec<Value>) -> Vec<Item> {
        let t = self.task;
        let n = values.len();
        (0..n)
            .map(|i| {
                let mut extra = Map::new();
                extra.insert("ansible_loop_var".into(), Value::from(t.loop_var.clone()));
                if let Some(iv) = &t.index_var {
                    extra.insert(iv.clone(), Value::from(i));
                    extra.insert("ansible_index_var".into(), Value::from(iv.clone()));
                }
                if t.loop_extended {
                    let at = |j: Option<usize>| j.and_then(|j| values.get(j)).cloned();
                    let mut l = Map::new();
                    l.insert("allitems".into(), Value::Array(values.clone()));
                    l.insert("index".into(), Value::from(i + 1));
                    l.insert("index0".into(), Value::from(i));
                    l.insert("revindex".into(), Value::from(n - i));
                    l.insert("revindex0".into(), Value::from(n - i - 1));
                    l.insert("first".into(), Value::Bool(i == 0));
                    l.insert("last".into(), Value::Bool(i + 1 == n));
                    l.insert("length".into(), Value::from(n));
                    if let Some(p) = at(i.checked_sub(1)) {
                        l.insert("previtem".into(), p);
                    }
                    if let Some(x) = at(Some(i + 1)) {
                        l.insert("nextitem".into(), x);
                    }
                    extra.insert("ansible_loop".into(), Value::Object(l));
                }
                Item {
                    value: values[i].clone(),
                    extra,
                }
            })
            .collect()
    }

    /// Whether every `when` holds; the first false one or error stops.
    pub(crate) fn when(&self, vars: &Vars) -> Result<bool> {
        for w in &self.task.when {
            if !vars.condition(&w.value, &w.loc)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The user the task runs as through sudo, if any: the play's rule (`Play::sudo_for`), with
    /// a templated `become_user` (`"{{ app_user }}"`, as roles write it) rendered with `vars`.
    pub(crate) fn sudo(&self, play: &crate::play::Play, vars: &Vars) -> Result<Option<String>> {
        let user = match &self.task.become_if {
            // `become: "{{ expr }}"`: judged with the host's variables.
            Some(c) => play.sudo_if(self.task, vars.condition(&c.value, &c.loc)?),
            None => play.sudo_for(self.task),
        };
        let Some(user) = user else {
            return Ok(None);
        };
        if !user.contains("{{") && !user.contains("{%") {
            return Ok(Some(user));
        }
        match vars.render_value(&Value::String(user), &self.task.loc)? {
            Value::String(u) if !u.trim().is_empty() => Ok(Some(u.trim().to_string())),
            other => Err(Error::input(
                self.task.loc.clone(),
                format!("`become_user` must name a user, found {other}"),
            )),
        }
    }

    /// The probe of `action` as this task runs it: with the task's `environment` exported, in a
    /// subshell, as Ansible runs a whole module in it. A probe that runs the project's own code
    /// (`manage.py showmigrations` reading DB_PASSWORD) needs it; a file probe ignores it.
    pub(crate) fn probe(&self, action: &Action, vars: &Vars) -> Result<Option<String>> {
        let Some(p) = action.probe() else {
            return Ok(None);
        };
        if self.task.environment.is_empty() {
            return Ok(Some(p));
        }
        let exports = exports(self.task, vars)?;
        Ok(Some(format!("(\n{exports}{p}\n)")))
    }

    /// The module's arguments rendered with `vars`.
    pub(crate) fn args(&self, vars: &Vars) -> Result<Map<String, Value>> {
        let task = self.task;
        let mut rendered = Map::new();
        for (k, v) in &task.args.map {
            let r = vars.render_value(v, task.args.loc_of(k))?;
            // `default(omit)` / `omit`: the argument is left out, as Ansible does.
            if !crate::jinja::is_omit(&r) {
                rendered.insert(k.clone(), r);
            }
        }
        Ok(rendered)
    }

    /// The module built from rendered arguments; `base_dir` is the playbook's directory.
    pub(crate) fn build(
        &self,
        rendered: Map<String, Value>,
        vars: &Vars,
        base_dir: &Path,
    ) -> Result<Action> {
        self.build_counted(rendered, vars, base_dir).0
    }

    /// `build`, and whether the build read more than its arguments (see `BuildCtx`).
    fn build_counted(
        &self,
        rendered: Map<String, Value>,
        vars: &Vars,
        base_dir: &Path,
    ) -> (Result<Action>, bool) {
        let task = self.task;
        let ctx = BuildCtx::new(base_dir, task.role_dir.as_deref(), vars, &task.args);
        let action = crate::modules::registry::build(&task.module, rendered, &ctx);
        (action, ctx.read_more())
    }

    /// `action`, and whether it is a pure function of the host's shared variables and the
    /// item: the variables are `known` with the item over them (no task `vars`, nothing
    /// deferred), every argument rendered without the template engine (no lookup, filter or
    /// clock), the module built from its arguments alone, and its probe taken as it is (no
    /// `environment`). Such an action, built for the batched probe, is the one the run would
    /// build: it is kept for it (see `prepared.rs`).
    pub(crate) fn action_plain(
        &self,
        item: Option<&Item>,
        vars: &Vars,
        base_dir: &Path,
    ) -> (Result<Action>, bool) {
        let Some(rendered) = self.plain_args(item, vars) else {
            return (self.action(vars, base_dir), false);
        };
        self.build_pure(rendered, vars, base_dir)
    }

    /// The arguments rendered without the template engine, where an action built from them
    /// may be kept (see `action_plain`); None where it may not.
    pub(crate) fn plain_args(
        &self,
        item: Option<&Item>,
        vars: &Vars,
    ) -> Option<Map<String, Value>> {
        let task = self.task;
        let shared = task.vars.is_empty()
            && self.deferred.is_empty()
            && self.known.is_some()
            && (item.is_some() || task.role_dir.is_none());
        (shared && task.environment.is_empty())
            .then(|| {
                (task.args.map.iter())
                    .map(|(k, v)| {
                        // `omit` (through a variable): left out by `args`, so not plain.
                        let r = vars.render_value_plain(v)?;
                        (!crate::jinja::is_omit(&r)).then(|| (k.clone(), r))
                    })
                    .collect::<Option<Map<String, Value>>>()
            })
            .flatten()
    }

    /// `build` from arguments `plain_args` gave, and whether the action may be kept: the
    /// module read nothing but them.
    pub(crate) fn build_pure(
        &self,
        rendered: Map<String, Value>,
        vars: &Vars,
        base_dir: &Path,
    ) -> (Result<Action>, bool) {
        let (action, read_more) = self.build_counted(rendered, vars, base_dir);
        let pure = !read_more && matches!(action, Ok(Action::Module(_)));
        (action, pure)
    }

    /// Arguments rendered, then the module built.
    pub(crate) fn action(&self, vars: &Vars, base_dir: &Path) -> Result<Action> {
        self.build(self.args(vars)?, vars, base_dir)
    }

    /// The variables `changed_when`, `failed_when` and `until` see: the result under its
    /// register name and as `result`.
    pub(crate) fn with_result(&self, vars: &Vars, value: &Value) -> Vars {
        let mut with = Map::new();
        if let Some(r) = &self.task.register {
            with.insert(r.clone(), value.clone());
        }
        with.insert("result".into(), value.clone());
        vars.over(with)
    }
}

/// `export NAME='value'` lines for the task's `environment`, rendered and merged.
pub(crate) fn exports(task: &Task, vars: &Vars) -> Result<String> {
    crate::task_env::exports(&task.environment, vars)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::Doc;
    use serde_json::json;

    fn task(yaml: &str) -> Task {
        let doc = Doc::parse("t.yml".into(), yaml, false).unwrap();
        Task::parse(&doc, &doc.root, false).unwrap()
    }

    /// (task, variables, the items' `when` verdicts, or the loop's error)
    #[test]
    fn items_and_when() {
        type Row<'a> = (&'a str, Value, std::result::Result<&'a [bool], &'a str>);
        let table: &[Row] = &[
            ("debug: {msg: hi}\n", json!({}), Ok(&[true])),
            (
                "debug: {msg: hi}\nwhen: x > 1\n",
                json!({"x": 2}),
                Ok(&[true]),
            ),
            (
                "debug: {msg: hi}\nwhen: [true, x > 1]\n",
                json!({"x": 1}),
                Ok(&[false]),
            ),
            (
                "debug: {msg: hi}\nloop: \"{{ xs }}\"\nwhen: item > 1\n",
                json!({"xs": [1, 2, 3]}),
                Ok(&[false, true, true]),
            ),
            ("debug: {msg: hi}\nloop: []\n", json!({}), Ok(&[])),
            (
                "debug: {msg: hi}\nloop: \"{{ xs }}\"\n",
                json!({"xs": "abc"}),
                Err("`loop` must be a list, found a string"),
            ),
            (
                "debug: {msg: hi}\nloop: \"{{ nope }}\"\n",
                json!({}),
                Err("undefined variable"),
            ),
        ];
        for (yaml, vars, want) in table {
            let t = task(yaml);
            let base = vars.as_object().unwrap().clone();
            let deferred = Map::new();
            let inst = TaskInstance::new(&t, &base, &deferred);
            match (inst.items(&inst.vars()), want) {
                (Ok(items), Ok(when)) => {
                    let got: Vec<bool> = items
                        .iter()
                        .map(|i| inst.when(&inst.item_vars(i.as_ref()).0).unwrap())
                        .collect();
                    assert_eq!(&got, when, "{yaml}");
                }
                (Err(e), Err(msg)) => assert!(e.message().contains(msg), "{yaml}: {e:?}"),
                (got, _) => panic!("{yaml}: {got:?}"),
            }
        }
    }

    #[test]
    fn result_is_seen_under_its_register_name_and_as_result() {
        let t = task("command: /bin/true\nregister: out\n");
        let base = Map::new();
        let deferred = Map::new();
        let inst = TaskInstance::new(&t, &base, &deferred);
        let vars = inst.with_result(&inst.vars(), &json!({"rc": 3}));
        assert_eq!(vars.map()["out"]["rc"], 3);
        assert_eq!(vars.map()["result"]["rc"], 3);
        let rendered = inst.args(&vars).unwrap();
        assert!(inst.build(rendered, &vars, Path::new("/")).is_ok());
        // Over a loop item's variables: the item stays, the result is over both.
        let host = std::sync::Arc::new(json!({"x": 1, "out": 0}).as_object().unwrap().clone());
        let item = json!({"item": "a", "result": "shadowed"});
        let with_item = Vars::with_item(host, item.as_object().unwrap().clone());
        let vars = inst.with_result(&with_item, &json!({"rc": 4}));
        for (name, want) in [
            ("x", json!(1)),
            ("item", json!("a")),
            ("out", json!({"rc": 4})),
        ] {
            assert_eq!(vars.get(name), Some(&want), "{name}");
            assert_eq!(vars.map()[name], want, "{name}");
        }
        assert_eq!(vars.get("result"), Some(&json!({"rc": 4})));
        assert_eq!(with_item.get("out"), Some(&json!(0)));
    }

    /// A task's item over the host's shared variables sees exactly what a copy of them with
    /// the item in would hold: the loop variable, `ansible_loop`, the item over a variable of
    /// the same name, and renders read the item first.
    #[test]
    fn an_item_over_shared_variables_is_the_same_as_a_copy() {
        let t = task(
            "debug: {msg: \"{{ it }} {{ ansible_loop.index }} {{ x }}\"}\nloop: [1, 2]\nloop_control: {loop_var: it, extended: true}\n",
        );
        let base = json!({"x": "a", "it": "shadowed"})
            .as_object()
            .unwrap()
            .clone();
        let deferred = Map::new();
        let items = TaskInstance::new(&t, &base, &deferred)
            .items(&TaskInstance::new(&t, &base, &deferred).vars())
            .unwrap();
        for item in &items {
            let copied = TaskInstance::new(&t, &base, &deferred)
                .item_vars(item.as_ref())
                .0;
            let shared = TaskInstance::new(&t, &base, &deferred)
                .with_known(std::sync::Arc::new(base.clone()))
                .item_vars(item.as_ref())
                .0;
            assert_eq!(copied.map(), shared.map());
            let msg = |v: &Vars| TaskInstance::new(&t, &base, &deferred).args(v).unwrap();
            assert_eq!(msg(&copied), msg(&shared));
        }
        assert_eq!(items.len(), 2);
    }
}
