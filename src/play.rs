//! A play: the hosts it selects, its variables, and the tasks then handlers it runs on them.

use crate::error::{Error, Result, suggest};
use crate::inherited::Inherited;
use crate::location::Location;
use crate::serial::Serial;
use crate::task::{Task, boolean, scalar_string};
use crate::task_list::{TaskList, read_named};
use crate::yaml::{self, Doc};
use marked_yaml::Node;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

#[derive(Debug)]
pub(crate) struct Play {
    pub(crate) name: Option<String>,
    /// The directory of the playbook the play is written in (an imported playbook's own).
    pub(crate) dir: PathBuf,
    pub(crate) loc: Location,
    pub(crate) hosts: String,
    pub(crate) hosts_loc: Location,
    pub(crate) vars: Map<String, Value>,
    pub(crate) vars_loc: Location,
    /// Where each of `vars` (and `vars_files`') values was written, for errors in them.
    pub(crate) var_locs: std::collections::HashMap<String, Location>,
    pub(crate) become_: bool,
    pub(crate) become_user: Option<String>,
    /// Asked on the terminal before the run (`-e` wins): see `vars_prompt.rs`.
    pub(crate) vars_prompt: Vec<crate::vars_prompt::VarPrompt>,
    /// `sudo` (the default) or `su`.
    pub(crate) become_method: Option<String>,
    pub(crate) remote_user: Option<String>,
    pub(crate) tasks: Vec<Task>,
    pub(crate) handlers: Vec<Task>,
    pub(crate) serial: Vec<Serial>,
    pub(crate) max_fail_percentage: Option<f64>,
    pub(crate) any_errors_fatal: bool,
    /// `ignore_unreachable` on the play: also for gathering facts.
    pub(crate) ignore_unreachable: bool,
    /// `gather_facts` (true unless the play says otherwise, as in Ansible).
    pub(crate) gather_facts: bool,
    /// `gather_subset`: what the play's fact gathering collects (everything unless it says).
    pub(crate) facts_subset: crate::facts::Subset,
    pub(crate) tags: Vec<String>,
    /// What the tasks' `blocks` refer to.
    pub(crate) blocks: Vec<crate::block::BlockInfo>,
    /// Roles' `defaults/main.yml`: below every other variable, inventory included.
    pub(crate) defaults: Map<String, Value>,
    /// Where each of `defaults` was written.
    pub(crate) default_locs: std::collections::HashMap<String, Location>,
    pub(crate) environment: crate::task::Env,
    /// The names `vars_files` define: they win over `vars_prompt` answers.
    pub(crate) file_var_names: std::collections::BTreeSet<String>,
    /// `connection`: how the play's hosts are reached unless `ansible_connection` says.
    pub(crate) connection: Option<crate::conn_type::ConnType>,
    /// `order`: the order the hosts are listed, batched and started in.
    pub(crate) order: crate::host_order::HostOrder,
    /// `force_handlers`: notified handlers run on a host even after it failed.
    pub(crate) force_handlers: bool,
    /// `become_exe` on the play: also how its facts are gathered.
    pub(crate) become_exe: Option<String>,
    /// `port`: the SSH port of the hosts whose variables set no `ansible_port`.
    pub(crate) port: Option<u16>,
}

pub(crate) const PLAY_KEYS: &[&str] = &[
    "name",
    "run_once",
    "throttle",
    "hosts",
    "vars",
    "become",
    "become_user",
    "become_method",
    "vars_prompt",
    "remote_user",
    "tasks",
    "handlers",
    "gather_facts",
    "gather_subset",
    "gather_timeout",
    "serial",
    "max_fail_percentage",
    "any_errors_fatal",
    "ignore_unreachable",
    "vars_files",
    "tags",
    "roles",
    "environment",
    "pre_tasks",
    "post_tasks",
    "module_defaults",
    "connection",
    "collections",
    "strategy",
    "order",
    "force_handlers",
    "become_flags",
    "timeout",
    "no_log",
    "diff",
    "check_mode",
    "ignore_errors",
    "become_exe",
    "port",
];

impl Play {
    pub(crate) fn parse(doc: &Doc, node: &Node, dir: &Path) -> Result<Play> {
        let Node::Mapping(map) = node else {
            return Err(Error::input(
                doc.loc(node),
                format!(
                    "a play must be a mapping with `hosts` and `tasks`, found {}",
                    yaml::kind(node)
                ),
            ));
        };
        let mut play = Play {
            name: None,
            dir: dir.to_path_buf(),
            loc: doc.loc(node),
            hosts: String::new(),
            hosts_loc: doc.loc(node),
            vars: Map::new(),
            vars_loc: doc.loc(node),
            var_locs: Default::default(),
            become_: false,
            become_user: None,
            become_method: None,
            vars_prompt: Vec::new(),
            remote_user: None,
            tasks: Vec::new(),
            handlers: Vec::new(),
            serial: Vec::new(),
            max_fail_percentage: None,
            any_errors_fatal: false,
            ignore_unreachable: false,
            gather_facts: true,
            facts_subset: crate::facts::Subset::all(),
            tags: Vec::new(),
            blocks: Vec::new(),
            defaults: Map::new(),
            default_locs: Default::default(),
            file_var_names: Default::default(),
            environment: crate::task::Env::new(),
            connection: None,
            order: Default::default(),
            force_handlers: false,
            port: None,
            become_exe: None,
        };
        // Roles run before the play's own tasks, wherever `roles` is written.
        let mut role_tasks: Vec<Task> = Vec::new();
        let mut pre_tasks: Option<Vec<Task>> = None;
        let mut module_defaults = crate::module_defaults::ModuleDefaults::default();
        let mut post_tasks: Option<Vec<Task>> = None;
        // `timeout`: for each task that sets none.
        let mut timeout = None;
        // `run_once` and `throttle` on the play: for every task (a task's own throttle wins).
        let mut run_once = false;
        let mut throttle = 0;
        // `no_log`, `diff`, `check_mode`, `ignore_errors`, `become_exe`: for each task (and
        // handler) that, and whose blocks and roles, set none.
        let mut scoped = Inherited::default();
        let mut has_hosts = false;
        // Ansible's precedence: what vars_files define wins over the play's `vars`.
        let mut file_vars = Map::new();
        let mut file_locs = std::collections::HashMap::new();
        let mut errors = Vec::new();
        let mut broken_handlers = Vec::new();
        for (key, value) in map.iter() {
            let k = key.as_str();
            let mut one = || -> Result<()> {
                match k {
                    "name" => play.name = Some(scalar_string(doc, value, k)?),
                    "hosts" => {
                        play.hosts = match yaml::to_value(value) {
                            Value::String(s) => s,
                            Value::Array(a) => a
                                .iter()
                                .map(|v| v.as_str().map(String::from).unwrap_or(v.to_string()))
                                .collect::<Vec<_>>()
                                .join(","),
                            other => other.to_string(),
                        };
                        play.hosts_loc = doc.loc(value);
                        has_hosts = true;
                    }
                    "vars" => {
                        play.vars = crate::inventory::vars_map(doc, value)?;
                        play.vars_loc = doc.loc(value);
                        play.var_locs.extend(crate::yaml::value_locs(doc, value));
                    }
                    "vars_files" => {
                        let items = match value {
                            Node::Sequence(seq) => seq.iter().collect::<Vec<_>>(),
                            other => vec![other],
                        };
                        for item in items {
                            let (vars, locs) = vars_file(doc, item, dir)?;
                            file_vars.extend(vars);
                            file_locs.extend(locs);
                        }
                    }
                    "tags" => play.tags = crate::task::tag_list(doc, value)?,
                    "environment" => play.environment = crate::task::environment(doc, value)?,
                    "module_defaults" => {
                        module_defaults = crate::module_defaults::ModuleDefaults::parse(doc, value)?
                    }
                    "become" => play.become_ = boolean(doc, value, k)?,
                    "become_user" => play.become_user = Some(scalar_string(doc, value, k)?),
                    "vars_prompt" => play.vars_prompt = crate::vars_prompt::parse(doc, value)?,
                    "become_method" => {
                        play.become_method = Some(crate::task::become_method(doc, value)?)
                    }
                    "remote_user" => play.remote_user = Some(scalar_string(doc, value, k)?),
                    "gather_facts" => play.gather_facts = boolean(doc, value, k)?,
                    "gather_subset" => {
                        // `min,network` or a list, as `setup` takes it.
                        let names = crate::task_values::name_list(doc, value, k)?;
                        let none: &[&str] = &[];
                        // The error points at the item that is wrong, when it is one of a list.
                        let at = |e: String| match value {
                            Node::Sequence(seq) => seq
                                .iter()
                                .find(|n| {
                                    let one = crate::task_values::name_list(doc, n, k);
                                    one.is_ok_and(|one| {
                                        crate::facts::Subset::new(&one, none).is_err()
                                    })
                                })
                                .map_or_else(
                                    || Error::input(doc.loc(value), e.clone()),
                                    |n| Error::input(doc.loc(n), e.clone()),
                                ),
                            _ => Error::input(doc.loc(value), e),
                        };
                        play.facts_subset = crate::facts::Subset::new(&names, none).map_err(at)?;
                    }
                    // Ansible's limit per fact collector; plumb's facts are read from files
                    // in the probe's exec (no collector that can hang on a mount), which
                    // `--command-timeout` bounds. Checked, then nothing more to do.
                    "gather_timeout" => {
                        crate::task_values::number(doc, value, k)?;
                    }
                    "tasks" | "handlers" | "pre_tasks" | "post_tasks" => {
                        let is_handler = k == "handlers";
                        let items = match value {
                            Node::Sequence(seq) => seq.iter().collect::<Vec<_>>(),
                            Node::Scalar(s) if s.as_str().is_empty() => vec![],
                            other => {
                                return Err(Error::input(
                                    doc.loc(other),
                                    format!("`{k}` must be a list, found {}", yaml::kind(other)),
                                )
                                .with_hint(format!("start each of the play's {k} with `- `")));
                            }
                        };
                        let mut found =
                            TaskList::new(is_handler, dir, std::mem::take(&mut play.blocks));
                        found.collect(doc, &items, &Inherited::default(), 0);
                        let tasks = std::mem::take(&mut found.tasks);
                        match k {
                            "handlers" => play.handlers.extend(tasks),
                            "pre_tasks" => pre_tasks.get_or_insert_default().extend(tasks),
                            "post_tasks" => post_tasks.get_or_insert_default().extend(tasks),
                            _ => play.tasks.extend(tasks),
                        }
                        play.take_back(found, &mut errors, &mut broken_handlers);
                    }
                    "roles" => {
                        let items = match value {
                            Node::Sequence(seq) => seq.iter().collect::<Vec<_>>(),
                            Node::Scalar(s) if s.as_str().is_empty() => vec![],
                            other => {
                                return Err(Error::input(
                                    doc.loc(other),
                                    format!("`roles` must be a list, found {}", yaml::kind(other)),
                                ));
                            }
                        };
                        let mut found = TaskList::new(false, dir, std::mem::take(&mut play.blocks));
                        for item in items {
                            if let Err(e) = found.role(doc, item, None, &Inherited::default(), 0) {
                                found.errors.push(e);
                            }
                        }
                        role_tasks.extend(std::mem::take(&mut found.tasks));
                        play.take_back(found, &mut errors, &mut broken_handlers);
                    }
                    "serial" => play.serial = crate::serial::parse_list(doc, value)?,
                    "max_fail_percentage" => match yaml::to_value(value) {
                        Value::Number(n)
                            if n.as_f64().is_some_and(|f| (0.0..=100.0).contains(&f)) =>
                        {
                            play.max_fail_percentage = n.as_f64()
                        }
                        _ => {
                            return Err(Error::input(
                                doc.loc(value),
                                "`max_fail_percentage` must be a number from 0 to 100",
                            ));
                        }
                    },
                    "any_errors_fatal" => play.any_errors_fatal = boolean(doc, value, k)?,
                    "ignore_unreachable" => play.ignore_unreachable = boolean(doc, value, k)?,
                    "connection" => {
                        play.connection = Some(crate::conn_type::ConnType::parse(doc, value)?)
                    }
                    "collections" => {
                        crate::collections::Collections::parse(doc, value)?;
                    }
                    "strategy" => crate::task_values::strategy(doc, value)?,
                    "become_flags" => crate::task_values::become_flags(doc, value)?,
                    "timeout" => timeout = crate::time_limit::TimeLimit::timeout(doc, value)?,
                    "order" => play.order = crate::host_order::HostOrder::parse(doc, value)?,
                    "force_handlers" => play.force_handlers = boolean(doc, value, k)?,
                    "run_once" => run_once = boolean(doc, value, k)?,
                    "throttle" => throttle = crate::task_values::number(doc, value, k)? as usize,
                    "no_log" | "diff" | "check_mode" | "ignore_errors" | "become_exe" => {
                        scoped.keyword(doc, k, value)?;
                    }
                    "port" => play.port = Some(crate::task_values::port(doc, value)?),
                    other if crate::task_values::NOT_YET.contains(&other) => {
                        errors.push(crate::task_values::not_yet(doc.key_loc(key), other, "play"));
                    }
                    other => {
                        let mut e = Error::input(
                            doc.key_loc(key),
                            format!("unknown play keyword `{other}`"),
                        );
                        if let Some(s) = suggest(other, PLAY_KEYS.iter().copied()) {
                            e = e.with_hint(format!("did you mean `{s}`?"));
                        }
                        errors.push(e);
                    }
                }
                Ok(())
            };
            if let Err(e) = one() {
                errors.push(e);
            }
        }
        play.become_exe = scoped.become_exe.clone();
        play.file_var_names = file_vars.keys().cloned().collect();
        play.vars.extend(file_vars);
        play.var_locs.extend(file_locs);
        // Ansible's order: pre_tasks, their handlers, roles, tasks, handlers, post_tasks.
        let mut all = Vec::new();
        if let Some(pre) = pre_tasks {
            all.extend(pre);
            all.push(Task::flush_handlers(&play.loc));
        }
        all.extend(role_tasks);
        all.append(&mut play.tasks);
        if let Some(post) = post_tasks {
            all.push(Task::flush_handlers(&play.loc));
            all.extend(post);
        }
        play.tasks = all;
        for t in &mut play.tasks {
            t.tags.extend(play.tags.iter().cloned());
        }
        for t in play.tasks.iter_mut().chain(play.handlers.iter_mut()) {
            let own = std::mem::take(&mut t.environment);
            t.environment = play.environment.iter().cloned().chain(own).collect();
            t.ignore_unreachable |= play.ignore_unreachable;
            // As on a task: the result would reach the one host that runs it only.
            if run_once
                && !t.run_once
                && let Some(r) = &t.register
            {
                errors.push(
                    Error::input(
                        t.loc.clone(),
                        format!(
                            "`run_once` (on the play) with `register: {r}` is not supported yet"
                        ),
                    )
                    .with_hint("plumb would register the result on the one host that runs it only"),
                );
            }
            t.run_once |= run_once;
            if t.throttle == 0 {
                t.throttle = throttle;
            }
            scoped.apply_scoped(t);
            if t.time_limit.is_none() {
                t.time_limit = timeout.clone();
            }
            module_defaults.apply(&t.module, &mut t.args);
            if let Err(e) = crate::modules::registry::check_required(&t.module, &t.args) {
                errors.push(e);
            }
        }
        errors.extend(end_role_misplaced(&play));
        if !has_hosts {
            errors.push(
                Error::input(play.loc.clone(), "this play has no `hosts`")
                    .with_hint("add `hosts: all` or a group name"),
            );
        }
        errors.extend(check_handlers(&play, &broken_handlers));
        match errors.len() {
            0 => Ok(play),
            _ => Err(Error::many(errors)),
        }
    }
}

/// The variables of one `vars_files` entry: a YAML mapping, its path relative to the playbook.
fn vars_file(
    doc: &Doc,
    item: &Node,
    dir: &Path,
) -> Result<(
    Map<String, Value>,
    std::collections::HashMap<String, Location>,
)> {
    let rel = match item {
        Node::Scalar(s) => s.as_str().to_string(),
        other => {
            return Err(Error::input(
                doc.loc(other),
                format!(
                    "a `vars_files` entry must be a file name, found {}",
                    yaml::kind(other)
                ),
            )
            .with_hint("lists of alternatives (first found) are not supported"));
        }
    };
    if rel.contains("{{") {
        return Err(Error::input(
            doc.loc(item),
            "templated `vars_files` names are not supported yet",
        )
        .with_hint("name the file itself"));
    }
    let path = crate::paths::under(dir, &rel);
    let text = read_named(doc, item, "vars file", &path)?;
    let vars = Doc::parse(path, &text, false)?;
    Ok((
        crate::inventory::vars_map(&vars, &vars.root)?,
        crate::yaml::value_locs(&vars, &vars.root),
    ))
}

/// `meta: end_role` ends the role it is in: outside any role, or in a handler, it is an
/// error, as in Ansible.
fn end_role_misplaced(play: &Play) -> Vec<Error> {
    let is_end_role = |t: &Task| crate::dry_run::end_meta(t) == Some("end_role");
    let outside = (play.tasks.iter())
        .filter(|t| is_end_role(t) && t.roles.is_empty())
        .map(|t| {
            Error::input(t.module_loc.clone(), "`meta: end_role` outside a role")
                .with_hint("it ends the role it is in; `meta: end_host` ends the play for the host")
        });
    let handlers = (play.handlers.iter()).filter(|t| is_end_role(t)).map(|t| {
        Error::input(t.module_loc.clone(), "`meta: end_role` in a handler")
            .with_hint("a handler is not part of a role's run; Ansible refuses it too")
    });
    outside.chain(handlers).collect()
}

/// Notified handlers must exist; handler names must be unique. `broken` are the names of
/// handlers that failed to parse (already reported).
fn check_handlers(play: &Play, broken: &[String]) -> Vec<Error> {
    let mut errors = Vec::new();
    for (i, h) in play.handlers.iter().enumerate() {
        let name = h.name.as_deref().unwrap_or_default();
        if let Some(prev) = play.handlers[..i]
            .iter()
            .find(|p| p.name.as_deref() == Some(name))
        {
            errors.push(
                Error::input(h.loc.clone(), format!("duplicate handler name `{name}`")).with_hint(
                    format!(
                        "the first one is at line {}; rename one of them",
                        prev.loc.line
                    ),
                ),
            );
        }
    }
    let names: Vec<&str> = play
        .handlers
        .iter()
        .flat_map(|h| {
            h.name
                .iter()
                .map(String::as_str)
                .chain(h.listen.iter().map(String::as_str))
        })
        .collect();
    // A templated name (a notify's, or a handler's) is matched on each host, once rendered.
    let templated = names.iter().any(|n| crate::template::has_template(n));
    for t in play.tasks.iter().chain(play.handlers.iter()) {
        for n in &t.notify {
            if !names.contains(&n.value.as_str())
                && !broken.contains(&n.value)
                && !templated
                && !crate::template::has_template(&n.value)
            {
                let mut e = Error::input(n.loc.clone(), format!("no handler named `{}`", n.value));
                e = match suggest(&n.value, names.iter().copied()) {
                    Some(s) => e.with_hint(format!("did you mean `{s}`?")),
                    None if names.is_empty() => e.with_hint("this play has no `handlers`"),
                    None => e.with_hint(format!("handlers are: {}", names.join(", "))),
                };
                errors.push(e);
            }
        }
    }
    errors
}

impl Play {
    /// Takes back from a task list what is not its tasks: blocks, roles' handlers and defaults.
    fn take_back(&mut self, found: TaskList, errors: &mut Vec<Error>, broken: &mut Vec<String>) {
        self.blocks = found.blocks;
        self.handlers.extend(found.handlers);
        for (k, v) in found.defaults {
            if !self.defaults.contains_key(&k)
                && let Some(at) = found.default_locs.get(&k)
            {
                self.default_locs.insert(k.clone(), at.clone());
            }
            self.defaults.entry(k).or_insert(v);
        }
        errors.extend(found.errors);
        broken.extend(found.broken_handlers);
    }

    /// `vars_prompt` answers join the play's variables: over its `vars`, under its
    /// `vars_files`, as in Ansible.
    pub(crate) fn add_prompted(&mut self, answers: Map<String, Value>) {
        for (k, v) in answers {
            if !self.file_var_names.contains(&k) {
                self.vars.insert(k, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::playbook::Playbook;
    use std::io::Write;

    fn load(text: &str) -> Result<Playbook> {
        let mut f = tempfile::Builder::new().suffix(".yml").tempfile().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        Playbook::load(f.path())
    }

    fn input_err(r: Result<Playbook>) -> (usize, usize, String, Option<String>) {
        match r.expect_err("an error") {
            Error::Input {
                loc: Some(l),
                msg,
                hint,
                ..
            } => (l.line, l.col, msg, hint),
            e => panic!("{e:?}"),
        }
    }

    #[test]
    fn prompted_variables_sit_between_vars_and_vars_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f.yml"), "from_file: file\n").unwrap();
        let site = dir.path().join("site.yml");
        std::fs::write(
            &site,
            "- hosts: all\n  vars: {from_vars: vars, from_file: vars}\n  vars_files: [f.yml]\n  tasks: []\n",
        )
        .unwrap();
        let mut pb = Playbook::load(&site).unwrap();
        let play = &mut pb.plays[0];
        let answers = serde_json::json!({"from_vars": "prompt", "from_file": "prompt"});
        play.add_prompted(answers.as_object().unwrap().clone());
        assert_eq!(play.vars["from_vars"], "prompt");
        assert_eq!(play.vars["from_file"], "file");
    }

    #[test]
    fn parses_a_play() {
        let pb = load(
            "- hosts: web\n  become: yes\n  vars:\n    pkgs: [nginx]\n  tasks:\n    - name: install\n      apt:\n        name: \"{{ pkgs }}\"\n      notify: reload\n    - command: echo hi\n      register: out\n      changed_when: false\n  handlers:\n    - name: reload\n      service: name=nginx state=reloaded\n",
        )
        .unwrap();
        let p = &pb.plays[0];
        assert!(p.become_);
        assert_eq!(p.tasks.len(), 2);
        assert_eq!(p.tasks[0].module, "apt");
        assert_eq!(p.tasks[1].args.map["_raw"], "echo hi");
        assert_eq!(p.handlers[0].module, "systemd_service");
        assert_eq!(p.handlers[0].args.map["state"], "reloaded");
        assert_eq!(p.tasks[0].notify[0].value, "reload");
    }

    #[test]
    fn unknown_module_is_located_with_a_suggestion() {
        let (l, c, msg, hint) = input_err(load(
            "- hosts: all\n  tasks:\n    - name: x\n      tempalte:\n        src: a\n",
        ));
        assert_eq!((l, c), (4, 7));
        assert_eq!(msg, "unknown module or task keyword `tempalte`");
        assert_eq!(hint.unwrap(), "did you mean `template`?");
    }

    #[test]
    fn missing_handler() {
        let (l, c, msg, hint) = input_err(load(
            "- hosts: all\n  tasks:\n    - copy: {content: x, dest: /tmp/x}\n      notify: restart ngnix\n  handlers:\n    - name: restart nginx\n      service: {name: nginx, state: restarted}\n",
        ));
        assert_eq!((l, c), (4, 15));
        assert_eq!(msg, "no handler named `restart ngnix`");
        assert_eq!(hint.unwrap(), "did you mean `restart nginx`?");
    }

    #[test]
    fn duplicate_handlers() {
        let (l, _, msg, _) = input_err(load(
            "- hosts: all\n  tasks: []\n  handlers:\n    - name: h\n      debug: {msg: a}\n    - name: h\n      debug: {msg: b}\n",
        ));
        assert_eq!(l, 6);
        assert_eq!(msg, "duplicate handler name `h`");
    }

    #[test]
    fn errors_are_collected_not_stopped_at() {
        let err = load(
            "- hosts: all\n  become: maybe\n  tasks:\n    - apt: {nme: x, stat: present}\n      retries: many\n  handlers:\n    - name: reload\n      servce: {name: nginx}\n- hosts: all\n  tasks:\n    - debug: {msg: hi}\n      notify: reload\n",
        )
        .expect_err("errors");
        let Error::Many(all) = err else {
            panic!("{err:?}")
        };
        let msgs: Vec<String> = all.iter().map(|e| e.to_string()).collect();
        assert_eq!(
            msgs,
            [
                "`become` must be true or false, found `maybe`",
                "`retries` must be a non-negative number, found `many`",
                "unknown argument `nme` for module `apt`",
                "unknown argument `stat` for module `apt`",
                "unknown module or handler keyword `servce`",
                // The second play has no handlers; the first play's broken `reload` is not
                // reported again as missing.
                "no handler named `reload`",
            ]
        );
    }

    #[test]
    fn a_broken_handler_is_not_also_missing() {
        let (l, _, msg, _) = input_err(load(
            "- hosts: all\n  tasks:\n    - debug: {msg: hi}\n      notify: reload\n  handlers:\n    - name: reload\n      servce: {name: nginx}\n",
        ));
        assert_eq!(
            (l, msg.as_str()),
            (7, "unknown module or handler keyword `servce`")
        );
    }

    #[test]
    fn serial_forms() {
        let pb = load("- hosts: all\n  serial: [1, \"30%\", \"100%\"]\n  tasks: []\n").unwrap();
        assert_eq!(
            pb.plays[0].serial,
            vec![
                Serial::Count(1),
                Serial::Percent(30.0),
                Serial::Percent(100.0)
            ]
        );
        let (l, _, msg, _) = input_err(load("- hosts: all\n  serial: lots\n  tasks: []\n"));
        assert_eq!(l, 2);
        assert!(msg.starts_with("`serial` must be"));
    }

    #[test]
    fn unknown_module_argument() {
        let (l, c, msg, hint) = input_err(load(
            "- hosts: all\n  tasks:\n    - apt:\n        nme: nginx\n",
        ));
        assert_eq!((l, c), (4, 9));
        assert_eq!(msg, "unknown argument `nme` for module `apt`");
        assert_eq!(hint.unwrap(), "did you mean `name`?");
    }
}
