//! One task (or handler) as written: a module with its arguments plus Ansible's task keywords,
//! every piece with the position it came from.

use crate::error::{Error, Result, suggest};
use crate::location::{Location, Spanned};
use crate::modules;
use crate::modules::args::Args;
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
    pub(crate) loop_var: String,
    pub(crate) register: Option<String>,
    pub(crate) until: Option<Spanned<Value>>,
    pub(crate) retries: u32,
    pub(crate) delay: f64,
    pub(crate) changed_when: Option<Spanned<Value>>,
    pub(crate) failed_when: Option<Spanned<Value>>,
    pub(crate) delegate_to: Option<String>,
    pub(crate) become_: Option<bool>,
    pub(crate) become_user: Option<String>,
    pub(crate) no_log: bool,
    pub(crate) ignore_errors: bool,
    pub(crate) diff: bool,
    /// `check_mode: false`: a read-only command that runs in `plumb plan` too, so that what
    /// depends on its result can be planned.
    pub(crate) runs_in_plan: bool,
    /// The task's own tags, then those of its imports and its play.
    pub(crate) tags: Vec<String>,
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
}

const KEYWORDS: &[&str] = &[
    "name",
    "notify",
    "listen",
    "when",
    "loop",
    "with_items",
    "loop_control",
    "register",
    "until",
    "retries",
    "delay",
    "changed_when",
    "failed_when",
    "delegate_to",
    "become",
    "become_user",
    "no_log",
    "ignore_errors",
    "diff",
    "args",
    "vars",
    "check_mode",
    "tags",
    "environment",
    // Handled by the play, which splices the file in; listed for "did you mean".
    "import_tasks",
    "include_tasks",
    "block",
    "import_role",
    "include_role",
];

/// A task keyword (or a module name): not a role parameter.
pub(crate) fn is_keyword(key: &str) -> bool {
    KEYWORDS.contains(&key) || modules::canonical(key).is_some()
}

/// Ansible keywords plumb does not support yet, with what to do instead.
const UNSUPPORTED: &[(&str, &str)] = &[
    (
        "with_dict",
        "use `loop: \"{{ mydict | items }}\"` style lists instead",
    ),
    ("async", "`async` is not supported"),
];

impl Task {
    pub(crate) fn display_name(&self) -> String {
        match &self.name {
            Some(n) => n.clone(),
            None => {
                let raw = self
                    .args
                    .map
                    .get("_raw")
                    .or_else(|| self.args.map.get("name"))
                    .or_else(|| self.args.map.get("dest"))
                    .or_else(|| self.args.map.get("path"))
                    .or_else(|| self.args.map.get("url"));
                match raw {
                    Some(v) => format!("{} {}", self.module, compact(v)),
                    None => self.module.clone(),
                }
            }
        }
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
        let mut module: Option<(String, &Node, Location)> = None;
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
            loop_var: "item".into(),
            register: None,
            until: None,
            retries: 3,
            delay: 5.0,
            changed_when: None,
            failed_when: None,
            delegate_to: None,
            become_: None,
            become_user: None,
            no_log: false,
            ignore_errors: false,
            diff: true,
            runs_in_plan: false,
            tags: Vec::new(),
            blocks: Vec::new(),
            role_dir: None,
            environment: Env::new(),
            vars: Map::new(),
            var_locs: Default::default(),
        };
        let mut check_mode: Option<(bool, Location)> = None;
        let mut extra_args: Option<&Node> = None;
        let mut retries_set = false;
        let mut errors = Vec::new();
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
                    "loop" | "with_items" => t.loop_items = Some(spanned(value)),
                    "loop_control" => {
                        let lc = yaml::to_value(value);
                        match lc.get("loop_var").and_then(Value::as_str) {
                            Some(v) => t.loop_var = v.to_string(),
                            None => {
                                return Err(Error::input(
                                    doc.loc(value),
                                    "`loop_control` supports `loop_var: NAME` only",
                                ));
                            }
                        }
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
                        let d = scalar_string(doc, value, k)?;
                        if !matches!(d.as_str(), "localhost" | "127.0.0.1") {
                            return Err(Error::input(
                                doc.loc(value),
                                format!("`delegate_to: {d}` is not supported"),
                            )
                            .with_hint("only `delegate_to: localhost` (the control machine) is"));
                        }
                        t.delegate_to = Some(d);
                    }
                    "become" => t.become_ = Some(boolean(doc, value, k)?),
                    "become_user" => t.become_user = Some(scalar_string(doc, value, k)?),
                    "no_log" => t.no_log = boolean(doc, value, k)?,
                    "ignore_errors" => t.ignore_errors = boolean(doc, value, k)?,
                    "diff" => t.diff = boolean(doc, value, k)?,
                    "tags" => t.tags = tag_list(doc, value)?,
                    "environment" => t.environment = environment(doc, value)?,
                    "check_mode" => check_mode = Some((boolean(doc, value, k)?, doc.loc(value))),
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
                        let canonical = modules::canonical(k);
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
                                module = Some((m.to_string(), value, kloc));
                            }
                            None => {
                                let what = if is_handler { "handler" } else { "task" };
                                let mut e = Error::input(
                                    kloc,
                                    format!("unknown module or {what} keyword `{k}`"),
                                );
                                let cands = modules::NAMES.iter().chain(KEYWORDS.iter()).copied();
                                if let Some(s) = suggest(k, cands) {
                                    e = e.with_hint(format!("did you mean `{s}`?"));
                                } else {
                                    e = e.with_hint(format!(
                                        "modules are: {}",
                                        modules::NAMES.join(", ")
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
        if t.until.is_some() && !retries_set {
            t.retries = 3;
        }
        t.module = module;
        t.module_loc = module_loc;
        match check_mode {
            Some((false, _)) if matches!(t.module.as_str(), "command" | "shell" | "uri") => {
                t.runs_in_plan = true
            }
            Some((false, loc)) => errors.push(
                Error::input(
                    loc,
                    format!("`check_mode: false` is not allowed on `{}`", t.module),
                )
                .with_hint(
                    "it runs a read-only `command`, `shell` or `uri` in `plumb plan` too; \
                         a plan never changes a host",
                ),
            ),
            Some((true, loc)) => errors.push(
                Error::input(loc, "`check_mode: true` is not supported")
                    .with_hint("`plumb plan` dry-runs the whole play"),
            ),
            None => {}
        }
        match parse_args(doc, &t.module, args_node, extra_args) {
            Ok(args) => {
                if let Err(e) = modules::check_args(&t.module, &args) {
                    errors.push(e);
                }
                t.args = args;
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

/// `environment`: names a shell can export, each with its value (a template) and its place.
pub(crate) type Env = std::collections::BTreeMap<String, Spanned<Value>>;

/// `environment: {NAME: value}`: names a shell can export.
pub(crate) fn environment(doc: &Doc, node: &Node) -> Result<Env> {
    let Node::Mapping(m) = node else {
        return Err(Error::input(
            doc.loc(node),
            format!(
                "`environment` must be a mapping, found {}",
                yaml::kind(node)
            ),
        ));
    };
    let mut env = Env::new();
    for (k, v) in m.iter() {
        let name = k.as_str();
        let ok = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok {
            return Err(Error::input(
                doc.key_loc(k),
                format!("`{name}` is not an environment variable name"),
            ));
        }
        env.insert(
            name.to_string(),
            Spanned {
                value: yaml::to_value(v),
                loc: doc.loc(v),
            },
        );
    }
    Ok(env)
}

/// `tags: web`, `tags: web,db` or `tags: [web, db]`.
pub(crate) fn tag_list(doc: &Doc, node: &Node) -> Result<Vec<String>> {
    let items: Vec<&Node> = match node {
        Node::Sequence(seq) => seq.iter().collect(),
        other => vec![other],
    };
    let mut tags = Vec::new();
    for n in items {
        let s = scalar_string(doc, n, "tags")?;
        tags.extend(
            s.split(',')
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty()),
        );
    }
    Ok(tags)
}

fn parse_args(doc: &Doc, module: &str, node: &Node, extra: Option<&Node>) -> Result<Args> {
    let mut args = Args {
        map: Map::new(),
        locs: HashMap::new(),
        key_locs: HashMap::new(),
        loc: doc.loc(node),
    };
    match node {
        Node::Mapping(m) => {
            for (k, v) in m.iter() {
                args.map.insert(k.as_str().to_string(), yaml::to_value(v));
                args.locs.insert(k.as_str().to_string(), doc.loc(v));
                args.key_locs.insert(k.as_str().to_string(), doc.key_loc(k));
            }
        }
        Node::Scalar(s) => {
            let text = s.as_str();
            if modules::takes_free_form(module) {
                args.map
                    .insert("_raw".into(), Value::String(text.to_string()));
                args.locs.insert("_raw".into(), doc.loc(node));
            } else if !text.is_empty() {
                // Ansible's `apt: name={{ item }} state=present` form.
                let pairs = crate::kv_args::parse(text).map_err(|e| match e {
                    crate::kv_args::KvError::Stray(w) => Error::input(
                        doc.loc(node),
                        format!("expected `key=value` arguments for `{module}`, found `{w}`"),
                    )
                    .with_hint(format!(
                        "write the arguments as a mapping under `{module}:`"
                    )),
                    crate::kv_args::KvError::Syntax(m) => Error::input(
                        doc.loc(node),
                        format!("the `key=value` arguments of `{module}` have {m}"),
                    ),
                })?;
                for (k, v) in pairs {
                    let value = match v {
                        crate::kv_args::KvValue::Bare(v) => yaml::typed_scalar(&v),
                        crate::kv_args::KvValue::Quoted(v) => Value::String(v),
                    };
                    args.map.insert(k.clone(), value);
                    args.locs.insert(k, doc.loc(node));
                }
            }
        }
        Node::Sequence(_) => {
            return Err(Error::input(
                doc.loc(node),
                format!("the arguments of `{module}` must be a mapping, found a list"),
            ));
        }
    }
    if let Some(extra) = extra {
        let Node::Mapping(m) = extra else {
            return Err(Error::input(doc.loc(extra), "`args` must be a mapping"));
        };
        for (k, v) in m.iter() {
            args.map.insert(k.as_str().to_string(), yaml::to_value(v));
            args.locs.insert(k.as_str().to_string(), doc.loc(v));
            args.key_locs.insert(k.as_str().to_string(), doc.key_loc(k));
        }
    }
    Ok(args)
}

fn compact(v: &Value) -> String {
    let s = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let first = s.lines().next().unwrap_or("").to_string();
    if first.chars().count() > 60 {
        format!("{}…", first.chars().take(60).collect::<String>())
    } else {
        first
    }
}

pub(crate) fn scalar_string(doc: &Doc, node: &Node, key: &str) -> Result<String> {
    match node {
        Node::Scalar(s) => Ok(s.as_str().to_string()),
        other => Err(Error::input(
            doc.loc(other),
            format!("`{key}` must be a string, found {}", yaml::kind(other)),
        )),
    }
}

fn identifier(doc: &Doc, node: &Node, key: &str) -> Result<String> {
    let s = scalar_string(doc, node, key)?;
    let ok = s
        .chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_alphanumeric() || c == '_');
    if !ok {
        return Err(Error::input(
            doc.loc(node),
            format!("`{key}` must be a variable name (letters, digits, `_`), found `{s}`"),
        ));
    }
    Ok(s)
}

/// What was written instead, for "must be X, found Y" messages: a scalar as written.
fn found(node: &Node) -> String {
    match node {
        Node::Scalar(s) => format!("`{}`", s.as_str()),
        other => yaml::kind(other).to_string(),
    }
}

pub(crate) fn boolean(doc: &Doc, node: &Node, key: &str) -> Result<bool> {
    match yaml::to_value(node) {
        Value::Bool(b) => Ok(b),
        _ => Err(Error::input(
            doc.loc(node),
            format!("`{key}` must be true or false, found {}", found(node)),
        )
        .with_hint("write true or false (yes and no work too)")),
    }
}

fn number(doc: &Doc, node: &Node, key: &str) -> Result<f64> {
    match yaml::to_value(node) {
        Value::Number(n) if n.as_f64().is_some_and(|f| f >= 0.0) => Ok(n.as_f64().unwrap()),
        _ => Err(Error::input(
            doc.loc(node),
            format!(
                "`{key}` must be a non-negative number, found {}",
                found(node)
            ),
        )),
    }
}

/// A `when`, each condition of a list on its own, so that an error points at its own line.
pub(crate) fn conditions(doc: &Doc, node: &Node) -> Vec<Spanned<Value>> {
    match node {
        Node::Sequence(seq) => seq
            .iter()
            .map(|n| Spanned {
                value: yaml::to_value(n),
                loc: doc.loc(n),
            })
            .collect(),
        other => vec![Spanned {
            value: yaml::to_value(other),
            loc: doc.loc(other),
        }],
    }
}
