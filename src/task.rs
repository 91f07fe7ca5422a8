//! One task (or handler) as written: a module with its arguments plus Ansible's task keywords,
//! every piece with the position it came from.

use crate::error::{Error, Result, suggest};
use crate::location::{Location, Spanned};
use crate::modules;
use crate::modules::args::Args;
use crate::task_args::{ArgSource, action, parse_args};
pub(crate) use crate::task_values::{
    Env, become_method, boolean, conditions, environment, identifier, number, scalar_string,
    tag_list,
};
use crate::yaml::{self, Doc};
use marked_yaml::Node;
use serde_json::{Map, Value};
use std::collections::HashMap;

#[derive(Debug, Clone)]
pub(crate) struct Task {
    pub(crate) name: Option<String>,
    pub(crate) loc: Location,
    /// Canonical module name (`service` → `systemd_service`, `ansible.builtin.` stripped).
    pub(crate) module: String,
    pub(crate) module_loc: Location,
    pub(crate) args: Args,
    pub(crate) notify: Vec<Spanned<String>>,
    pub(crate) listen: Vec<String>,
    /// All must hold: the task's own `when`, after those of the imports it came through.
    pub(crate) when: Vec<Spanned<Value>>,
    pub(crate) loop_items: Option<Spanned<Value>>,
    /// `with_NAME`: the lookup the loop's value goes through (`with_items` is `items`).
    pub(crate) loop_lookup: Option<String>,
    pub(crate) loop_var: String,
    /// `loop_control`: `index_var`, `pause` (seconds between items), `extended`, `label`.
    pub(crate) index_var: Option<String>,
    pub(crate) loop_pause: f64,
    pub(crate) loop_extended: bool,
    pub(crate) loop_label: Option<Value>,
    pub(crate) register: Option<String>,
    pub(crate) until: Option<Spanned<Value>>,
    pub(crate) retries: u32,
    pub(crate) delay: f64,
    pub(crate) changed_when: Option<Spanned<Value>>,
    pub(crate) failed_when: Option<Spanned<Value>>,
    /// `delegate_to`: the host (a template, rendered per host) the task runs on instead.
    pub(crate) delegate_to: Option<Spanned<String>>,
    /// `delegate_facts`: facts the task sets go to the delegate's `hostvars`.
    pub(crate) delegate_facts: bool,
    pub(crate) become_: Option<bool>,
    /// `become: "{{ expr }}"`: evaluated on the host before the task runs.
    pub(crate) become_if: Option<Spanned<Value>>,
    pub(crate) become_user: Option<String>,
    pub(crate) become_method: Option<String>,
    /// `become_exe`: the program of `become_method` (sudo's, su's path).
    pub(crate) become_exe: Option<String>,
    pub(crate) no_log: bool,
    /// `no_log: "{{ expr }}"`, judged on the host as the task starts; until then (the batched
    /// probe) the task counts as `no_log`.
    pub(crate) no_log_if: Option<Spanned<Value>>,
    pub(crate) ignore_errors: bool,
    /// `ignore_unreachable`: the host unreachable on this task is reported, not given up.
    pub(crate) ignore_unreachable: bool,
    /// `run_once`: only the batch's first host runs it.
    pub(crate) run_once: bool,
    /// `any_errors_fatal` on the task or a block around it: a failure that fails the host
    /// stops every host of the play.
    pub(crate) any_errors_fatal: bool,
    /// `throttle`: at most this many hosts run the task at once (0: no limit).
    pub(crate) throttle: usize,
    /// `connection` on the task or a block or role around it (the play's is the play's).
    pub(crate) connection: Option<crate::conn_type::ConnType>,
    /// `timeout`, or `async` with `poll` above 0: what the task runs on the host is stopped
    /// after it.
    pub(crate) time_limit: Option<crate::time_limit::TimeLimit>,
    /// `ignore_errors: "{{ expr }}"`: evaluated on the host when the task fails.
    pub(crate) ignore_errors_if: Option<Spanned<Value>>,
    /// `diff`: None follows the run (a plan shows diffs, `apply` with `--diff`).
    pub(crate) diff: Option<bool>,
    /// `check_mode` on the task or the innermost level around it that sets it.
    pub(crate) check_mode: Option<Spanned<bool>>,
    /// Which keywords the task, or a level around it, set (see `Inherited::apply`).
    pub(crate) set: crate::task_values::Set,
    /// The role instances the task comes from, outermost first (see `meta: end_role`).
    pub(crate) roles: Vec<usize>,
    /// `check_mode: false`: a read-only command that runs in `plumb plan` too, so that what
    /// depends on its result can be planned.
    pub(crate) runs_in_plan: bool,
    /// The task's own tags, then those of its imports and its play.
    pub(crate) tags: Vec<String>,
    /// The tags of each dynamic include around the task (`include_tasks`, `include_role`),
    /// outermost first, each with those the include inherits: as in Ansible, an include's
    /// tags select the include, not the tasks it brings in (`apply` gives them those).
    pub(crate) tag_gates: Vec<Vec<String>>,
    /// The blocks around the task, outermost first.
    pub(crate) blocks: Vec<crate::block::BlockPos>,
    /// `environment`: variables exported for what the task runs (templated at run time);
    /// the task's own over its blocks' and its play's.
    pub(crate) environment: Env,
    /// The role the task comes from: its `src` files are looked for there first.
    pub(crate) role_dir: Option<std::path::PathBuf>,
    pub(crate) vars: Map<String, Value>,
    /// Where the task's own `vars` were written (not those it inherits).
    pub(crate) var_locs: std::collections::HashMap<String, Location>,
    /// Which of `vars` are role parameters (`- role: r, port: 80`) or the `vars` of an
    /// `include_tasks`/`include_role`: in Ansible these win over `include_vars`, `set_fact`
    /// and registered results too, not only over task vars.
    pub(crate) params: std::collections::BTreeSet<String>,
    /// A task file an `include_tasks` behind a `when` names that could not be used: the
    /// task fails with this where it runs (see `include.rs`).
    pub(crate) unread: Option<String>,
    /// A looped `include_tasks` or `include_role` (see `include_loop.rs`): the number of tasks
    /// after it that it runs once per item.
    pub(crate) include_loop: Option<usize>,
    /// The loop variables of the looped includes around the task (`loop_var`, `index_var` ...):
    /// defined for it.
    pub(crate) outer_loop_vars: Vec<String>,
}

const KEYWORDS: &[&str] = &[
    "name",
    "notify",
    "listen",
    "when",
    "loop",
    "with_items",
    "with_dict",
    "with_fileglob",
    "with_first_found",
    "with_subelements",
    "with_nested",
    "with_together",
    "with_sequence",
    "with_lines",
    "with_indexed_items",
    "with_list",
    "action",
    "local_action",
    "loop_control",
    "register",
    "until",
    "retries",
    "delay",
    "changed_when",
    "failed_when",
    "delegate_to",
    "delegate_facts",
    "become",
    "become_user",
    "become_method",
    "run_once",
    "any_errors_fatal",
    "throttle",
    "no_log",
    "ignore_errors",
    "ignore_unreachable",
    "diff",
    "args",
    "vars",
    "check_mode",
    "tags",
    "environment",
    "module_defaults",
    "connection",
    "collections",
    "timeout",
    "async",
    "poll",
    "become_flags",
    // Handled by the play, which splices the file in; listed for "did you mean".
    "import_tasks",
    "include_tasks",
    "block",
    "import_role",
    "include_role",
];

/// A task keyword (or a module name): not a role parameter.
pub(crate) fn is_keyword(key: &str) -> bool {
    KEYWORDS.contains(&key) || modules::registry::canonical(key).is_some()
}

/// Ansible keywords plumb does not support yet, with what to do instead.
const UNSUPPORTED: &[(&str, &str)] = &[
    (
        "include",
        "bare `include` was removed in ansible-core 2.16: use `include_tasks` or `import_tasks`",
    ),
    (
        "ansible.builtin.include",
        "bare `include` was removed in ansible-core 2.16: use `include_tasks` or `import_tasks`",
    ),
];

/// The lookups a `with_NAME` loop may go through.
const LOOP_LOOKUPS: &[&str] = &[
    "items",
    "list",
    "dict",
    "fileglob",
    "first_found",
    "subelements",
    "nested",
    "together",
    "sequence",
    "lines",
    "indexed_items",
    "file",
    "env",
    "pipe",
    "template",
    "vars",
];

impl Task {
    /// The `meta: flush_handlers` Ansible puts after `pre_tasks` and before `post_tasks`.
    pub(crate) fn flush_handlers(at: &Location) -> Task {
        Task::synthetic(at, "meta: flush_handlers\n")
    }

    /// A task plumb writes itself (`text`), placed at `at`.
    pub(crate) fn synthetic(at: &Location, text: &str) -> Task {
        let doc = Doc::parse(at.file.as_ref().clone(), text, false).expect("a fixed task parses");
        let mut t = Task::parse(&doc, &doc.root, false).expect("a fixed task parses");
        t.loc = at.clone();
        t.module_loc = at.clone();
        t.args.loc = at.clone();
        t
    }

    /// `loop`, `with_NAME` or `loop_control` (false: `key` is none of them); a looped
    /// `include_tasks` or `include_role` reads them too.
    pub(crate) fn loop_keyword(
        &mut self,
        doc: &Doc,
        key: &marked_yaml::types::MarkedScalarNode,
        value: &Node,
    ) -> Result<bool> {
        let spanned = Spanned {
            value: yaml::to_value(value),
            loc: doc.loc(value),
        };
        match key.as_str() {
            "loop" => self.loop_items = Some(spanned),
            "loop_control" => loop_control(doc, value, self)?,
            with if with.starts_with("with_") => {
                let name = &with["with_".len()..];
                if !LOOP_LOOKUPS.contains(&name) {
                    return Err(Error::input(
                        doc.key_loc(key),
                        format!("`{with}`: plumb has no lookup `{name}`"),
                    )
                    .with_hint(
                        match suggest(name, LOOP_LOOKUPS.iter().copied()) {
                            Some(s) => format!("did you mean `with_{s}`?"),
                            None => format!(
                                "the `with_` loops plumb has: {}",
                                LOOP_LOOKUPS
                                    .iter()
                                    .map(|l| format!("with_{l}"))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        },
                    ));
                }
                self.loop_items = Some(spanned);
                self.loop_lookup = Some(name.to_string());
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    pub(crate) fn parse(doc: &Doc, node: &Node, is_handler: bool) -> Result<Task> {
        let Node::Mapping(map) = node else {
            return Err(Error::input(
                doc.loc(node),
                format!(
                    "a task must be a mapping (`- name: ...` then a module), found {}",
                    yaml::kind(node)
                ),
            ));
        };
        let mut module: Option<(String, ArgSource, Location)> = None;
        let mut local_action = None;
        let mut defaults = None;
        let mut t = Task {
            name: None,
            loc: doc.loc(node),
            module: String::new(),
            module_loc: doc.loc(node),
            args: Args {
                map: Map::new(),
                locs: HashMap::new(),
                key_locs: HashMap::new(),
                loc: doc.loc(node),
            },
            notify: Vec::new(),
            listen: Vec::new(),
            when: Vec::new(),
            loop_items: None,
            loop_lookup: None,
            loop_var: "item".into(),
            index_var: None,
            loop_pause: 0.0,
            loop_extended: false,
            loop_label: None,
            register: None,
            until: None,
            retries: 3,
            delay: 5.0,
            changed_when: None,
            failed_when: None,
            delegate_to: None,
            delegate_facts: false,
            become_: None,
            become_if: None,
            become_user: None,
            become_method: None,
            become_exe: None,
            no_log: false,
            no_log_if: None,
            ignore_errors: false,
            ignore_unreachable: false,
            run_once: false,
            any_errors_fatal: false,
            throttle: 0,
            connection: None,
            time_limit: None,
            ignore_errors_if: None,
            diff: None,
            check_mode: None,
            set: Default::default(),
            roles: Vec::new(),
            runs_in_plan: false,
            tags: Vec::new(),
            tag_gates: Vec::new(),
            blocks: Vec::new(),
            role_dir: None,
            environment: Env::new(),
            vars: Map::new(),
            var_locs: Default::default(),
            params: Default::default(),
            unread: None,
            include_loop: None,
            outer_loop_vars: Vec::new(),
        };
        let mut extra_args: Option<&Node> = None;
        let mut retries_set = false;
        let mut errors = Vec::new();
        // Read first: a short module name before it in the task resolves through it too.
        let collections = match map.get_node("collections") {
            Some(n) => crate::collections::Collections::parse(doc, n).unwrap_or_else(|e| {
                errors.push(e);
                Default::default()
            }),
            None => Default::default(),
        };
        // `timeout`, `async` and `poll`, with where each was written.
        let mut limits: [Option<(u64, Location)>; 3] = Default::default();
        for (key, value) in map.iter() {
            let k = key.as_str();
            let kloc = doc.key_loc(key);
            let spanned = |v: &Node| Spanned {
                value: yaml::to_value(v),
                loc: doc.loc(v),
            };
            let one = || -> Result<()> {
                match k {
                    "name" => t.name = Some(scalar_string(doc, value, k)?),
                    "notify" | "listen" => {
                        let names: Vec<Spanned<String>> = match value {
                            Node::Sequence(seq) => seq
                                .iter()
                                .map(|n| {
                                    Ok(Spanned {
                                        value: scalar_string(doc, n, k)?,
                                        loc: doc.loc(n),
                                    })
                                })
                                .collect::<Result<_>>()?,
                            n => vec![Spanned {
                                value: scalar_string(doc, n, k)?,
                                loc: doc.loc(n),
                            }],
                        };
                        if k == "notify" {
                            t.notify = names;
                        } else {
                            t.listen = names.into_iter().map(|s| s.value).collect();
                        }
                    }
                    "when" => t.when.extend(conditions(doc, value)),
                    l if l == "loop" || l == "loop_control" || l.starts_with("with_") => {
                        t.loop_keyword(doc, key, value)?;
                    }
                    "action" | "local_action" => {
                        let (m, src) = action(doc, value, k)?;
                        if let Some((prev, _, ploc)) = &module {
                            return Err(Error::input(
                                kloc,
                                format!(
                                    "a task runs one module, but this one names `{prev}` (line {}) and `{k}`",
                                    ploc.line
                                ),
                            )
                            .with_hint("split it into two tasks"));
                        }
                        if k == "local_action" {
                            local_action = Some(kloc.clone());
                        }
                        module = Some((m, src, kloc));
                    }
                    "register" => t.register = Some(identifier(doc, value, k)?),
                    "until" => t.until = Some(spanned(value)),
                    "retries" => {
                        t.retries = number(doc, value, k)? as u32;
                        retries_set = true;
                    }
                    "delay" => t.delay = number(doc, value, k)?,
                    "changed_when" => t.changed_when = Some(spanned(value)),
                    "failed_when" => t.failed_when = Some(spanned(value)),
                    "delegate_to" => {
                        t.delegate_to = Some(Spanned {
                            value: scalar_string(doc, value, k)?,
                            loc: doc.loc(value),
                        })
                    }
                    "become" => match value {
                        Node::Scalar(s) if crate::template::has_template(s.as_str()) => {
                            t.become_if = Some(spanned(value))
                        }
                        _ => t.become_ = Some(boolean(doc, value, k)?),
                    },
                    "become_user" => t.become_user = Some(scalar_string(doc, value, k)?),
                    "become_method" => t.become_method = Some(become_method(doc, value)?),
                    "no_log" => {
                        t.set.no_log = true;
                        match value {
                            Node::Scalar(s) if crate::template::has_template(s.as_str()) => {
                                (t.no_log, t.no_log_if) = (true, Some(spanned(value)))
                            }
                            _ => t.no_log = boolean(doc, value, k)?,
                        }
                    }
                    "become_exe" => {
                        t.become_exe = Some(crate::task_values::become_exe(doc, value)?)
                    }
                    "run_once" => t.run_once = boolean(doc, value, k)?,
                    "any_errors_fatal" => t.any_errors_fatal = boolean(doc, value, k)?,
                    "throttle" => t.throttle = number(doc, value, k)? as usize,
                    "connection" => {
                        t.connection = Some(crate::conn_type::ConnType::parse(doc, value)?)
                    }
                    "collections" => {}
                    "become_flags" => crate::task_values::become_flags(doc, value)?,
                    "timeout" | "async" | "poll" => {
                        let i = ["timeout", "async", "poll"].iter().position(|w| *w == k);
                        limits[i.unwrap_or(0)] = Some((number(doc, value, k)? as u64, kloc));
                    }
                    "ignore_errors" => {
                        t.set.ignore_errors = true;
                        match value {
                            Node::Scalar(s) if crate::template::has_template(s.as_str()) => {
                                t.ignore_errors_if = Some(spanned(value))
                            }
                            _ => t.ignore_errors = boolean(doc, value, k)?,
                        }
                    }
                    "diff" => (t.diff, t.set.diff) = (Some(boolean(doc, value, k)?), true),
                    "ignore_unreachable" => t.ignore_unreachable = boolean(doc, value, k)?,
                    "delegate_facts" => t.delegate_facts = boolean(doc, value, k)?,
                    "tags" => t.tags = tag_list(doc, value)?,
                    "environment" => t.environment = environment(doc, value)?,
                    "module_defaults" => {
                        defaults = Some(crate::module_defaults::ModuleDefaults::parse(doc, value)?)
                    }
                    "check_mode" => {
                        t.check_mode = Some(Spanned {
                            value: boolean(doc, value, k)?,
                            loc: doc.loc(value),
                        })
                    }
                    "args" => extra_args = Some(value),
                    "vars" => {
                        t.vars = crate::inventory::vars_map(doc, value)?;
                        t.var_locs = yaml::value_locs(doc, value);
                    }
                    _ => {
                        if let Some((_, why)) = UNSUPPORTED.iter().find(|(u, _)| *u == k) {
                            return Err(Error::input(kloc, format!("`{k}` is not supported"))
                                .with_hint(*why));
                        }
                        if crate::task_values::NOT_YET.contains(&k) {
                            return Err(crate::task_values::not_yet(kloc, k, "task"));
                        }
                        let canonical = collections.resolve(k);
                        match canonical {
                            Some(m) => {
                                if let Some((prev, _, ploc)) = &module {
                                    return Err(Error::input(
                                        kloc,
                                        format!(
                                            "a task runs one module, but this one names `{prev}` (line {}) and `{k}`",
                                            ploc.line
                                        ),
                                    )
                                    .with_hint("split it into two tasks"));
                                }
                                module = Some((m.to_string(), ArgSource::Node(value), kloc));
                            }
                            None => {
                                let what = if is_handler { "handler" } else { "task" };
                                let mut e = Error::input(
                                    kloc,
                                    format!("unknown module or {what} keyword `{k}`"),
                                );
                                let cands = modules::registry::names()
                                    .into_iter()
                                    .chain(KEYWORDS.iter().copied());
                                if let Some(s) = suggest(k, cands) {
                                    e = e.with_hint(format!("did you mean `{s}`?"));
                                } else {
                                    e = e.with_hint(format!(
                                        "modules are: {}",
                                        modules::registry::names().join(", ")
                                    ));
                                }
                                return Err(e);
                            }
                        }
                    }
                }
                Ok(())
            };
            if let Err(e) = one() {
                errors.push(e);
            }
        }
        if is_handler && t.name.is_none() {
            errors.push(
                Error::input(t.loc.clone(), "a handler needs a `name`")
                    .with_hint("tasks notify handlers by name"),
            );
        }
        let Some((module, args_node, module_loc)) = module else {
            // An unknown key is most likely the module, misspelt: already reported.
            if errors.is_empty() {
                errors.push(Error::input(
                    t.loc.clone(),
                    "this task names no module (e.g. `apt:`, `template:`, `systemd_service:`)",
                ));
            }
            return Err(Error::many(errors));
        };
        if let Some(at) = local_action {
            if t.delegate_to.is_some() {
                errors.push(
                    Error::input(at, "`local_action` and `delegate_to` on the same task")
                        .with_hint("`local_action` already runs the task on the control machine"),
                );
            }
            t.delegate_to = Some(Spanned {
                value: "localhost".into(),
                loc: t.loc.clone(),
            });
        }
        if t.run_once
            && let Some(r) = &t.register
        {
            errors.push(
                Error::input(
                    t.loc.clone(),
                    format!("`run_once` with `register: {r}` is not supported yet"),
                )
                .with_hint("plumb would register the result on the one host that runs it only"),
            );
        }
        let [timeout, async_, poll] = limits;
        match crate::time_limit::TimeLimit::of(timeout, async_, poll) {
            Ok(l) => t.time_limit = l,
            Err(e) => errors.push(e),
        }
        if t.until.is_some() && !retries_set {
            t.retries = 3;
        }
        t.module = module;
        t.module_loc = module_loc;
        // The task's own `check_mode: false` must be on a module that only reads (one from a
        // block or play around it is the rule of `CheckMode::of`).
        if let Some(c) = &t.check_mode
            && !c.value
            && !modules::registry::runs_in_plan(&t.module)
        {
            errors.push(
                Error::input(
                    c.loc.clone(),
                    format!("`check_mode: false` is not allowed on `{}`", t.module),
                )
                .with_hint(format!(
                    "it runs a read-only {} in `plumb plan` too; a plan never changes a host",
                    modules::registry::runs_in_plan_names()
                )),
            );
        }
        t.settle_check_mode();
        match parse_args(doc, &t.module, args_node, extra_args) {
            Ok(args) => {
                // What it needs is checked once `module_defaults` around it are known.
                if let Err(e) = modules::registry::check_arg_names(&t.module, &args) {
                    errors.push(e);
                }
                t.args = args;
                if let Some(d) = defaults {
                    d.apply(&t.module, &mut t.args);
                }
            }
            Err(e) => errors.push(e),
        }
        if errors.is_empty() {
            Ok(t)
        } else {
            Err(Error::many(errors))
        }
    }
}

/// `loop_control`: `loop_var`, `index_var`, `label`, `pause`, `extended`.
fn loop_control(doc: &Doc, node: &Node, t: &mut Task) -> Result<()> {
    let Node::Mapping(m) = node else {
        return Err(Error::input(
            doc.loc(node),
            format!(
                "`loop_control` must be a mapping, found {}",
                yaml::kind(node)
            ),
        ));
    };
    for (k, v) in m.iter() {
        match k.as_str() {
            "loop_var" => t.loop_var = identifier(doc, v, "loop_var")?,
            "index_var" => t.index_var = Some(identifier(doc, v, "index_var")?),
            "label" => t.loop_label = Some(yaml::to_value(v)),
            "pause" => t.loop_pause = number(doc, v, "pause")?,
            "extended" => t.loop_extended = boolean(doc, v, "extended")?,
            other => {
                let mut e = Error::input(
                    doc.key_loc(k),
                    format!("`{other}` is not a `loop_control` keyword plumb has"),
                );
                e = e.with_hint(
                    "`loop_control` takes `loop_var`, `index_var`, `label`, `pause` and `extended`",
                );
                return Err(e);
            }
        }
    }
    Ok(())
}
