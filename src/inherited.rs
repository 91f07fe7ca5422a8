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
    pub(crate) become_user: Option<String>,
    pub(crate) become_method: Option<String>,
    pub(crate) ignore_errors: bool,
    pub(crate) no_log: bool,
    pub(crate) run_once: bool,
    pub(crate) any_errors_fatal: bool,
    pub(crate) blocks: Vec<crate::block::BlockPos>,
    /// The role the tasks come from: where their `src` files are looked for first.
    pub(crate) role_dir: Option<PathBuf>,
    pub(crate) environment: crate::task::Env,
    pub(crate) module_defaults: crate::module_defaults::ModuleDefaults,
}

/// The keywords `keyword` takes, for hints.
pub(crate) const KEYS: &str = "`when`, `vars`, `tags`, `become`, `become_user`, `become_method`, `ignore_errors`, `no_log`, `run_once`, `any_errors_fatal`, `environment` and `module_defaults`";

impl Inherited {
    /// Takes `key` if it is one of the inherited keywords (`vars` included: the caller decides
    /// first whether its `vars` mean something else); false if it is not one.
    pub(crate) fn keyword(&mut self, doc: &Doc, key: &str, v: &Node) -> Result<bool> {
        match key {
            "when" => self.when.extend(crate::task::conditions(doc, v)),
            "vars" => self.vars.extend(crate::inventory::vars_map(doc, v)?),
            "tags" => self.tags.extend(crate::task::tag_list(doc, v)?),
            "become" => self.become_ = Some(boolean(doc, v, key)?),
            "become_user" => self.become_user = Some(scalar_string(doc, v, key)?),
            "become_method" => self.become_method = Some(crate::task::become_method(doc, v)?),
            "ignore_errors" => self.ignore_errors |= boolean(doc, v, key)?,
            "no_log" => self.no_log |= boolean(doc, v, key)?,
            "run_once" => self.run_once |= boolean(doc, v, key)?,
            "any_errors_fatal" => self.any_errors_fatal |= boolean(doc, v, key)?,
            "environment" => self.environment.extend(crate::task::environment(doc, v)?),
            "module_defaults" => self
                .module_defaults
                .extend(&crate::module_defaults::ModuleDefaults::parse(doc, v)?),
            _ => return Ok(false),
        }
        Ok(true)
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
        if t.become_.is_none() {
            t.become_ = self.become_;
        }
        if t.become_user.is_none() {
            t.become_user = self.become_user.clone();
        }
        if t.become_method.is_none() {
            t.become_method = self.become_method.clone();
        }
        t.ignore_errors |= self.ignore_errors;
        t.no_log |= self.no_log;
        t.run_once |= self.run_once;
        t.any_errors_fatal |= self.any_errors_fatal;
        t.blocks = self.blocks.clone();
        if t.role_dir.is_none() {
            t.role_dir = self.role_dir.clone();
        }
        for (k, v) in &self.environment {
            t.environment.entry(k.clone()).or_insert_with(|| v.clone());
        }
        self.module_defaults.apply(t);
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
