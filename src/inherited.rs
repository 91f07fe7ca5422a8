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
    /// The tags of the dynamic includes around the tasks (see `Task::tag_gates`).
    pub(crate) tag_gates: Vec<Vec<String>>,
    pub(crate) become_: Option<bool>,
    /// `become: "{{ expr }}"`, evaluated on the host for each task.
    pub(crate) become_if: Option<Spanned<Value>>,
    pub(crate) become_user: Option<String>,
    pub(crate) become_method: Option<String>,
    /// `ignore_errors`, `no_log`, `diff`, `check_mode`: the innermost level that sets one wins
    /// (None: no level around the task set it).
    pub(crate) ignore_errors: Option<bool>,
    /// `ignore_errors: "{{ expr }}"`, evaluated on the host when a task fails.
    pub(crate) ignore_errors_if: Option<Spanned<Value>>,
    pub(crate) no_log: Option<bool>,
    /// `no_log: "{{ expr }}"` (see `Task::no_log_if`).
    pub(crate) no_log_if: Option<Spanned<Value>>,
    pub(crate) diff: Option<bool>,
    pub(crate) check_mode: Option<Spanned<bool>>,
    /// `become_exe`: the become program (sudo's or su's path), the innermost winning.
    pub(crate) become_exe: Option<String>,
    /// The role instances around the tasks, outermost first (see `meta: end_role`).
    pub(crate) roles: Vec<usize>,
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
    /// Behind a dynamic include's `when` (judged by its header, see `include_loop.rs`): a task
    /// file here that cannot be used fails the hosts that reach it, not the run.
    pub(crate) behind_when: bool,
}

/// The keywords `keyword` takes, for hints.
pub(crate) const KEYS: &str = "`when`, `vars`, `tags`, `become`, `become_user`, `become_method`, `become_exe`, `ignore_errors`, `ignore_unreachable`, `no_log`, `diff`, `check_mode`, `run_once`, `any_errors_fatal`, `environment`, `module_defaults`, `connection`, `collections`, `become_flags` and `timeout`";

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
            "become_exe" => self.become_exe = Some(crate::task_values::become_exe(doc, v)?),
            "ignore_errors" => match templated(doc, v) {
                Some(c) => (self.ignore_errors, self.ignore_errors_if) = (None, Some(c)),
                None => {
                    (self.ignore_errors, self.ignore_errors_if) =
                        (Some(boolean(doc, v, key)?), None)
                }
            },
            "no_log" => match templated(doc, v) {
                Some(c) => (self.no_log, self.no_log_if) = (Some(true), Some(c)),
                None => (self.no_log, self.no_log_if) = (Some(boolean(doc, v, key)?), None),
            },
            "diff" => self.diff = Some(boolean(doc, v, key)?),
            "check_mode" => {
                self.check_mode = Some(Spanned {
                    value: boolean(doc, v, key)?,
                    loc: doc.loc(v),
                })
            }
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

    /// `key` written on a dynamic include (`include_tasks`, `include_role`): as in Ansible, it
    /// applies to the include itself, not to the tasks it brings in (`apply` is for those).
    /// Its `when` decides whether they run at all; its `tags` go to `own_tags`, for `gate`;
    /// the other keywords are checked and, as the include does nothing on a host, have no
    /// effect. False if `key` is no such keyword.
    pub(crate) fn dynamic_keyword(
        &mut self,
        doc: &Doc,
        key: &str,
        v: &Node,
        own_tags: &mut Vec<String>,
    ) -> Result<bool> {
        match key {
            "when" => self.keyword(doc, key, v),
            "tags" => {
                own_tags.extend(crate::task::tag_list(doc, v)?);
                Ok(true)
            }
            _ => self.clone().keyword(doc, key, v),
        }
    }

    /// The tasks come in through a dynamic include whose own tags are `own`: it is taken by
    /// those and the ones it inherits, whether or not its tasks are (see `Task::tag_gates`).
    pub(crate) fn gate(&mut self, own: Vec<String>) {
        let mut gate = self.tags.clone();
        gate.extend(own);
        self.tag_gates.push(gate);
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

    /// The keywords a play passes on as well (`ignore_errors`, `no_log`, `diff`, `check_mode`,
    /// `become_exe`): given to a task that neither it nor a nearer level set.
    pub(crate) fn apply_scoped(&self, t: &mut Task) {
        if t.become_exe.is_none() {
            t.become_exe = self.become_exe.clone();
        }
        // The innermost level that sets one of these wins, the task's own over all.
        let set = &mut t.set;
        if !set.ignore_errors && (self.ignore_errors.is_some() || self.ignore_errors_if.is_some()) {
            t.ignore_errors = self.ignore_errors.unwrap_or(false);
            t.ignore_errors_if = self.ignore_errors_if.clone();
            set.ignore_errors = true;
        }
        if !set.no_log
            && let Some(b) = self.no_log
        {
            (t.no_log, set.no_log) = (b, true);
            t.no_log_if = self.no_log_if.clone();
        }
        if !set.diff
            && let Some(b) = self.diff
        {
            (t.diff, set.diff) = (Some(b), true);
        }
        if t.check_mode.is_none() {
            t.check_mode = self.check_mode.clone();
        }
        t.settle_check_mode();
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
        t.tag_gates = self.tag_gates.clone();
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
        self.apply_scoped(t);
        t.roles = self
            .roles
            .iter()
            .copied()
            .chain(t.roles.drain(..))
            .collect();
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

    /// (outer level, inner level, the task's own) → the task's `no_log`, `diff`, `check_mode`,
    /// `ignore_errors` and `become_exe`: the innermost that sets one wins.
    #[test]
    fn scoped_keywords_innermost_wins() {
        type Want<'a> = (bool, Option<bool>, Option<bool>, bool, Option<&'a str>);
        let table: &[(&str, &str, &str, Want)] = &[
            ("", "", "", (false, None, None, false, None)),
            ("no_log: true", "", "", (true, None, None, false, None)),
            (
                "no_log: true",
                "no_log: false",
                "",
                (false, None, None, false, None),
            ),
            (
                "no_log: true",
                "",
                "no_log: false",
                (false, None, None, false, None),
            ),
            (
                "diff: false",
                "",
                "",
                (false, Some(false), None, false, None),
            ),
            (
                "diff: false",
                "",
                "diff: true",
                (false, Some(true), None, false, None),
            ),
            (
                "check_mode: true",
                "",
                "",
                (false, None, Some(true), false, None),
            ),
            (
                "check_mode: true",
                "check_mode: false",
                "",
                (false, None, Some(false), false, None),
            ),
            (
                "check_mode: false",
                "",
                "check_mode: true",
                (false, None, Some(true), false, None),
            ),
            (
                "ignore_errors: true",
                "",
                "ignore_errors: false",
                (false, None, None, false, None),
            ),
            (
                "ignore_errors: false",
                "ignore_errors: true",
                "",
                (false, None, None, true, None),
            ),
            (
                "become_exe: /a/sudo",
                "become_exe: /b/sudo",
                "",
                (false, None, None, false, Some("/b/sudo")),
            ),
            (
                "become_exe: /a/sudo",
                "",
                "become_exe: /c/sudo",
                (false, None, None, false, Some("/c/sudo")),
            ),
        ];
        let level = |text: &str, inh: &mut Inherited| {
            if text.is_empty() {
                return;
            }
            let doc = Doc::parse("t.yml".into(), &format!("{text}\n"), false).unwrap();
            if let Node::Mapping(m) = &doc.root {
                for (k, v) in m.iter() {
                    assert!(inh.keyword(&doc, k.as_str(), v).unwrap(), "{text}");
                }
            }
        };
        for (outer, inner, own, want) in table {
            let mut inh = Inherited::default();
            level(outer, &mut inh);
            level(inner, &mut inh);
            let text = format!("command: x\n{own}\n");
            let tdoc = Doc::parse("t.yml".into(), &text, false).unwrap();
            let mut t = Task::parse(&tdoc, &tdoc.root, false).unwrap();
            inh.apply(&mut t);
            let got = (
                t.no_log,
                t.diff,
                t.check_mode.as_ref().map(|c| c.value),
                t.ignore_errors,
                t.become_exe.as_deref(),
            );
            assert_eq!(got, *want, "{outer} / {inner} / {own}");
        }
    }

    /// A play's level comes after a block's was applied: it fills only what is still unset.
    #[test]
    fn a_play_level_fills_only_what_no_nearer_level_set() {
        let doc = Doc::parse("t.yml".into(), "no_log: true\ndiff: false\n", false).unwrap();
        let mut play = Inherited::default();
        if let Node::Mapping(m) = &doc.root {
            for (k, v) in m.iter() {
                play.keyword(&doc, k.as_str(), v).unwrap();
            }
        }
        let bdoc = Doc::parse("t.yml".into(), "no_log: false\n", false).unwrap();
        let mut block = Inherited::default();
        if let Node::Mapping(m) = &bdoc.root {
            for (k, v) in m.iter() {
                block.keyword(&bdoc, k.as_str(), v).unwrap();
            }
        }
        let tdoc = Doc::parse("t.yml".into(), "command: x\n", false).unwrap();
        let mut t = Task::parse(&tdoc, &tdoc.root, false).unwrap();
        block.apply(&mut t);
        play.apply_scoped(&mut t);
        assert!(
            !t.no_log,
            "the block's `no_log: false` wins over the play's"
        );
        assert_eq!(
            t.diff,
            Some(false),
            "the play's `diff` where nothing nearer set one"
        );
    }

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
