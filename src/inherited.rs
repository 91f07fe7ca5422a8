//! What a block, an imported task file or a role passes on to every task it brings in: the
//! keywords Ansible lets those three carry, parsed in one place.

use crate::error::{Error, Result};
use crate::location::Spanned;
use crate::task::{Task, boolean, scalar_string};
use crate::yaml::Doc;
use marked_yaml::Node;
use marked_yaml::types::MarkedScalarNode;
use serde_json::{Map, Value};
use std::path::PathBuf;

#[derive(Default, Clone)]
pub(crate) struct Inherited {
    pub(crate) when: Vec<Spanned<Value>>,
    pub(crate) vars: Map<String, Value>,
    /// Role parameters and `include_tasks`/`include_role` `vars` (Ansible's "role params"
    /// and "include params"): over the tasks' own vars and over `set_fact`.
    pub(crate) params: Map<String, Value>,
    pub(crate) tags: Vec<String>,
    pub(crate) become_: Option<bool>,
    /// `become: "{{ expr }}"`, evaluated on the host for each task.
    pub(crate) become_if: Option<Spanned<Value>>,
    pub(crate) become_user: Option<String>,
    pub(crate) become_method: Option<String>,
    pub(crate) ignore_errors: bool,
    /// `ignore_errors: "{{ expr }}"`, evaluated on the host when a task fails.
    pub(crate) ignore_errors_if: Option<Spanned<Value>>,
    pub(crate) no_log: bool,
    pub(crate) ignore_unreachable: bool,
    pub(crate) run_once: bool,
    pub(crate) any_errors_fatal: bool,
    pub(crate) blocks: Vec<crate::block::BlockPos>,
    /// The role the tasks come from: where their `src` files are looked for first.
    pub(crate) role_dir: Option<PathBuf>,
    pub(crate) environment: crate::task::Env,
    pub(crate) module_defaults: crate::module_defaults::ModuleDefaults,
    /// `connection`: the innermost level's wins, the task's own over all.
    pub(crate) connection: Option<crate::conn_type::ConnType>,
    /// `timeout`: the same way.
    pub(crate) time_limit: Option<crate::time_limit::TimeLimit>,
}

/// The keywords `keyword` takes, for hints.
pub(crate) const KEYS: &str = "`when`, `vars`, `tags`, `become`, `become_user`, `become_method`, `ignore_errors`, `ignore_unreachable`, `no_log`, `run_once`, `any_errors_fatal`, `environment`, `module_defaults`, `connection`, `collections`, `become_flags` and `timeout`";

impl Inherited {
    /// Takes `key` if it is one of the inherited keywords (`vars` included: the caller decides
    /// first whether its `vars` mean something else); false if it is not one.
    pub(crate) fn keyword(&mut self, doc: &Doc, key: &str, v: &Node) -> Result<bool> {
        match key {
            "when" => self.when.extend(crate::task::conditions(doc, v)),
            "vars" => self.vars.extend(crate::inventory::vars_map(doc, v)?),
            "tags" => self.tags.extend(crate::task::tag_list(doc, v)?),
            // A template is judged on the host; the innermost level's value wins either way.
            "become" => match templated(doc, v) {
                Some(c) => (self.become_, self.become_if) = (None, Some(c)),
                None => (self.become_, self.become_if) = (Some(boolean(doc, v, key)?), None),
            },
            "become_user" => self.become_user = Some(scalar_string(doc, v, key)?),
            "become_method" => self.become_method = Some(crate::task::become_method(doc, v)?),
            "ignore_errors" => match templated(doc, v) {
                Some(c) => (self.ignore_errors, self.ignore_errors_if) = (false, Some(c)),
                None => (self.ignore_errors, self.ignore_errors_if) = (boolean(doc, v, key)?, None),
            },
            "no_log" => self.no_log |= boolean(doc, v, key)?,
            "ignore_unreachable" => self.ignore_unreachable = boolean(doc, v, key)?,
            "run_once" => self.run_once |= boolean(doc, v, key)?,
            "any_errors_fatal" => self.any_errors_fatal |= boolean(doc, v, key)?,
            "environment" => self.environment.extend(crate::task::environment(doc, v)?),
            "module_defaults" => self
                .module_defaults
                .extend(&crate::module_defaults::ModuleDefaults::parse(doc, v)?),
            "become_flags" => crate::task_values::become_flags(doc, v)?,
            "timeout" => self.time_limit = crate::time_limit::TimeLimit::timeout(doc, v)?,
            "connection" => self.connection = Some(crate::conn_type::ConnType::parse(doc, v)?),
            // Checked; plumb's modules resolve by short name either way (see collections.rs).
            "collections" => {
                crate::collections::Collections::parse(doc, v)?;
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// `apply` on an `include_role` or `include_tasks` (`what`): task keywords for every task
    /// it brings in; one that is not such a keyword is an error at its line.
    pub(crate) fn apply_keywords(&mut self, doc: &Doc, node: &Node, what: &str) -> Result<()> {
        let Node::Mapping(m) = node else {
            return Err(Error::input(
                doc.loc(node),
                format!(
                    "`apply` must be a mapping of task keywords, found {}",
                    crate::yaml::kind(node)
                ),
            ));
        };
        for (k, v) in m.iter() {
            if !self.keyword(doc, k.as_str(), v)? {
                return Err(unknown(doc, k, &format!("the `apply` of `{what}`"), ""));
            }
        }
        Ok(())
    }

    /// Gives a task what it inherits; its own keywords win.
    pub(crate) fn apply(&self, t: &mut Task) {
        t.when = self.when.iter().cloned().chain(t.when.drain(..)).collect();
        let mut vars = self.vars.clone();
        vars.extend(std::mem::take(&mut t.vars));
        vars.extend(self.params.clone());
        t.vars = vars;
        t.params.extend(self.params.keys().cloned());
        t.tags.extend(self.tags.iter().cloned());
        if t.become_.is_none() && t.become_if.is_none() {
            t.become_ = self.become_;
            t.become_if = self.become_if.clone();
        }
        if t.become_user.is_none() {
            t.become_user = self.become_user.clone();
        }
        if t.become_method.is_none() {
            t.become_method = self.become_method.clone();
        }
        // A task's own template is its answer; else any level's `true` ignores.
        if t.ignore_errors_if.is_none() {
            t.ignore_errors |= self.ignore_errors;
            if !t.ignore_errors {
                t.ignore_errors_if = self.ignore_errors_if.clone();
            }
        }
        t.no_log |= self.no_log;
        t.ignore_unreachable |= self.ignore_unreachable;
        t.run_once |= self.run_once;
        t.any_errors_fatal |= self.any_errors_fatal;
        if t.connection.is_none() {
            t.connection = self.connection;
        }
        if t.time_limit.is_none() {
            t.time_limit = self.time_limit.clone();
        }
        t.blocks = self.blocks.clone();
        if t.role_dir.is_none() {
            t.role_dir = self.role_dir.clone();
        }
        // Outer layers first: the task's own win, name by name, when rendered.
        let own = std::mem::take(&mut t.environment);
        t.environment = self.environment.iter().cloned().chain(own).collect();
        self.module_defaults.apply(&t.module, &mut t.args);
    }
}

/// A keyword's value written as a template (`"{{ expr }}"`), kept to be judged on the host.
fn templated(doc: &Doc, v: &Node) -> Option<Spanned<Value>> {
    match v {
        Node::Scalar(s) if crate::template::has_template(s.as_str()) => Some(Spanned {
            value: crate::yaml::to_value(v),
            loc: doc.loc(v),
        }),
        _ => None,
    }
}

/// An error for a key none of the inherited keywords is, on `what` (a block, `import_tasks` …).
pub(crate) fn unknown(doc: &Doc, key: &MarkedScalarNode, what: &str, also: &str) -> Error {
    Error::input(
        doc.key_loc(key),
        format!("`{}` is not supported on {what}", key.as_str()),
    )
    .with_hint(format!("{what} takes {also}{KEYS}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (a block's keywords, the task's) → the task's `become` and `ignore_errors`, a template
    /// shown as written.
    #[test]
    fn templated_become_and_ignore_errors_are_inherited_innermost_winning() {
        let show = |b: Option<bool>, c: &Option<Spanned<Value>>| match (b, c) {
            (_, Some(c)) => c.value.as_str().unwrap_or_default().to_string(),
            (Some(b), None) => b.to_string(),
            (None, None) => "-".into(),
        };
        let table: &[(&str, &str, &str, &str)] = &[
            ("become: true", "", "true", "false"),
            ("become: \"{{ x }}\"", "", "{{ x }}", "false"),
            ("become: \"{{ x }}\"", "become: false", "false", "false"),
            ("become: true", "become: \"{{ y }}\"", "{{ y }}", "false"),
            ("ignore_errors: \"{{ x }}\"", "", "-", "{{ x }}"),
            (
                "ignore_errors: \"{{ x }}\"",
                "ignore_errors: true",
                "-",
                "true",
            ),
            (
                "ignore_errors: true",
                "ignore_errors: \"{{ y }}\"",
                "-",
                "{{ y }}",
            ),
            (
                "ignore_errors: \"{{ x }}\"",
                "ignore_errors: \"{{ y }}\"",
                "-",
                "{{ y }}",
            ),
        ];
        for (outer, own, become_, ignore) in table {
            let doc = Doc::parse("t.yml".into(), &format!("{outer}\n"), false).unwrap();
            let Node::Mapping(m) = &doc.root else {
                unreachable!()
            };
            let mut inh = Inherited::default();
            for (k, v) in m.iter() {
                assert!(inh.keyword(&doc, k.as_str(), v).unwrap(), "{outer}");
            }
            let text = format!("command: x\n{own}\n");
            let tdoc = Doc::parse("t.yml".into(), &text, false).unwrap();
            let mut t = Task::parse(&tdoc, &tdoc.root, false).unwrap();
            inh.apply(&mut t);
            assert_eq!(show(t.become_, &t.become_if), *become_, "{outer} / {own}");
            let ie = (t.ignore_errors || t.ignore_errors_if.is_none()).then_some(t.ignore_errors);
            assert_eq!(show(ie, &t.ignore_errors_if), *ignore, "{outer} / {own}");
        }
    }
}
