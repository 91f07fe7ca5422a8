//! A playbook: a list of plays, each selecting hosts and running tasks then handlers.

use crate::error::{Error, Result, suggest};
use crate::location::Location;
use crate::serial::Serial;
use crate::task::{Task, boolean, scalar_string};
use crate::yaml::{self, Doc};
use marked_yaml::Node;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

#[derive(Debug)]
pub(crate) struct Playbook {
    pub(crate) path: PathBuf,
    /// Relative `src` paths resolve against this directory, as in Ansible.
    pub(crate) dir: PathBuf,
    pub(crate) plays: Vec<Play>,
}

#[derive(Debug)]
pub(crate) struct Play {
    pub(crate) name: Option<String>,
    pub(crate) loc: Location,
    pub(crate) hosts: String,
    pub(crate) hosts_loc: Location,
    pub(crate) vars: Map<String, Value>,
    pub(crate) vars_loc: Location,
    /// Where each of `vars` (and `vars_files`') values was written, for errors in them.
    pub(crate) var_locs: std::collections::HashMap<String, Location>,
    pub(crate) become_: bool,
    pub(crate) become_user: Option<String>,
    pub(crate) remote_user: Option<String>,
    pub(crate) tasks: Vec<Task>,
    pub(crate) handlers: Vec<Task>,
    pub(crate) serial: Vec<Serial>,
    pub(crate) max_fail_percentage: Option<f64>,
    pub(crate) any_errors_fatal: bool,
    /// `gather_facts` (true unless the play says otherwise, as in Ansible).
    pub(crate) gather_facts: bool,
    pub(crate) tags: Vec<String>,
    /// What the tasks' `blocks` refer to.
    pub(crate) blocks: Vec<crate::block::BlockInfo>,
    /// Roles' `defaults/main.yml`: below every other variable, inventory included.
    pub(crate) defaults: Map<String, Value>,
    /// Where each of `defaults` was written.
    pub(crate) default_locs: std::collections::HashMap<String, Location>,
    pub(crate) environment: crate::task::Env,
}

const PLAY_KEYS: &[&str] = &[
    "name",
    "hosts",
    "vars",
    "become",
    "become_user",
    "remote_user",
    "tasks",
    "handlers",
    "gather_facts",
    "serial",
    "max_fail_percentage",
    "any_errors_fatal",
    "vars_files",
    "tags",
    "roles",
    "environment",
];

impl Playbook {
    pub(crate) fn load(path: &Path) -> Result<Playbook> {
        let text = crate::vault::read_text(path)?;
        let doc = Doc::parse(path.to_path_buf(), &text, true)?;
        let dir = path
            .parent()
            .map(Path::to_path_buf)
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| PathBuf::from("."));
        let mut plays = Vec::new();
        let mut errors = Vec::new();
        for node in doc.root.as_sequence().expect("top level is a list").iter() {
            match Play::parse(&doc, node, &dir) {
                Ok(p) => plays.push(p),
                Err(e) => errors.push(e),
            }
        }
        match errors.len() {
            0 => Ok(Playbook {
                path: path.to_path_buf(),
                dir,
                plays,
            }),
            _ => Err(Error::many(errors)),
        }
    }
}

impl Play {
    fn parse(doc: &Doc, node: &Node, dir: &Path) -> Result<Play> {
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
            loc: doc.loc(node),
            hosts: String::new(),
            hosts_loc: doc.loc(node),
            vars: Map::new(),
            vars_loc: doc.loc(node),
            var_locs: Default::default(),
            become_: false,
            become_user: None,
            remote_user: None,
            tasks: Vec::new(),
            handlers: Vec::new(),
            serial: Vec::new(),
            max_fail_percentage: None,
            any_errors_fatal: false,
            gather_facts: true,
            tags: Vec::new(),
            blocks: Vec::new(),
            defaults: Map::new(),
            default_locs: Default::default(),
            environment: crate::task::Env::new(),
        };
        // Roles run before the play's own tasks, wherever `roles` is written.
        let mut role_tasks: Vec<Task> = Vec::new();
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
                    "become" => play.become_ = boolean(doc, value, k)?,
                    "become_user" => play.become_user = Some(scalar_string(doc, value, k)?),
                    "remote_user" => play.remote_user = Some(scalar_string(doc, value, k)?),
                    "gather_facts" => play.gather_facts = boolean(doc, value, k)?,
                    "tasks" | "handlers" => {
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
                        let mut found = TaskList::new(is_handler, dir, &mut play);
                        found.collect(doc, &items, &Inherited::default(), 0);
                        if is_handler {
                            play.handlers.extend(std::mem::take(&mut found.tasks));
                        } else {
                            play.tasks.extend(std::mem::take(&mut found.tasks));
                        }
                        found.finish(&mut play, &mut errors, &mut broken_handlers);
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
                        let mut found = TaskList::new(false, dir, &mut play);
                        for item in items {
                            if let Err(e) = found.role(doc, item, None, &Inherited::default(), 0) {
                                found.errors.push(e);
                            }
                        }
                        role_tasks.extend(std::mem::take(&mut found.tasks));
                        found.finish(&mut play, &mut errors, &mut broken_handlers);
                    }
                    "serial" => play.serial = parse_serial(doc, value)?,
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
                    other => {
                        let mut e = Error::input(
                            doc.key_loc(key),
                            format!("unknown play keyword `{other}`"),
                        );
                        if matches!(other, "pre_tasks" | "post_tasks" | "import_playbook") {
                            e = e.with_hint(format!("`{other}` is not supported yet"));
                        } else if let Some(s) = suggest(other, PLAY_KEYS.iter().copied()) {
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
        play.vars.extend(file_vars);
        play.var_locs.extend(file_locs);
        role_tasks.append(&mut play.tasks);
        play.tasks = role_tasks;
        for t in &mut play.tasks {
            t.tags.extend(play.tags.iter().cloned());
        }
        for t in play.tasks.iter_mut().chain(play.handlers.iter_mut()) {
            for (k, v) in &play.environment {
                t.environment.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
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

const IMPORT_KEYS: &[&str] = &[
    "import_tasks",
    "include_tasks",
    "ansible.builtin.import_tasks",
    "ansible.builtin.include_tasks",
];

/// Task files may import task files; deeper than this is taken for a cycle.
const MAX_IMPORT_DEPTH: usize = 16;

/// What an import passes on to every task it brings in.
#[derive(Default, Clone)]
struct Inherited {
    when: Vec<crate::location::Spanned<Value>>,
    vars: Map<String, Value>,
    tags: Vec<String>,
    // From blocks only.
    become_: Option<bool>,
    become_user: Option<String>,
    ignore_errors: bool,
    no_log: bool,
    blocks: Vec<crate::block::BlockPos>,
    /// The role the tasks come from: where their `src` files are looked for first.
    role_dir: Option<PathBuf>,
    environment: crate::task::Env,
}

/// What a block takes besides its sections.
const BLOCK_KEYS: &str = "`name`, `when`, `vars`, `tags`, `become`, `become_user`, `ignore_errors`, `no_log`, `environment`";

/// A play's tasks (or handlers) as they are collected, task files spliced in where they are
/// imported: the file is read and checked now, before any host is contacted.
struct TaskList {
    is_handler: bool,
    tasks: Vec<Task>,
    errors: Vec<Error>,
    /// Names of handlers that did not parse: notifying them is not a second error.
    broken_handlers: Vec<String>,
    blocks: Vec<crate::block::BlockInfo>,
    /// The playbook's directory, where `roles/` is.
    dir: PathBuf,
    /// Found while collecting: roles' handlers and defaults.
    handlers: Vec<Task>,
    defaults: Map<String, Value>,
    default_locs: std::collections::HashMap<String, Location>,
    /// Roles brought in so far (folder, parameters): each runs once.
    roles_seen: Vec<(PathBuf, String)>,
}

const ROLE_KEYS: &[&str] = &[
    "import_role",
    "include_role",
    "ansible.builtin.import_role",
    "ansible.builtin.include_role",
];

impl TaskList {
    fn empty(is_handler: bool, dir: &Path) -> TaskList {
        TaskList {
            is_handler,
            tasks: Vec::new(),
            errors: Vec::new(),
            broken_handlers: Vec::new(),
            blocks: Vec::new(),
            dir: dir.to_path_buf(),
            handlers: Vec::new(),
            defaults: Map::new(),
            default_locs: Default::default(),
            roles_seen: Vec::new(),
        }
    }

    /// Collects into a play: block numbers go on from the play's.
    fn new(is_handler: bool, dir: &Path, play: &mut Play) -> TaskList {
        TaskList {
            blocks: std::mem::take(&mut play.blocks),
            ..TaskList::empty(is_handler, dir)
        }
    }

    /// Hands back to the play what is not its task list.
    fn finish(self, play: &mut Play, errors: &mut Vec<Error>, broken: &mut Vec<String>) {
        play.blocks = self.blocks;
        play.handlers.extend(self.handlers);
        for (k, v) in self.defaults {
            if !play.defaults.contains_key(&k)
                && let Some(at) = self.default_locs.get(&k)
            {
                play.default_locs.insert(k.clone(), at.clone());
            }
            play.defaults.entry(k).or_insert(v);
        }
        errors.extend(self.errors);
        broken.extend(self.broken_handlers);
    }

    fn collect(&mut self, doc: &Doc, items: &[&Node], inherited: &Inherited, depth: usize) {
        for item in items {
            if let Some(map) = item.as_mapping()
                && map.get_node("block").is_some()
            {
                if self.is_handler {
                    self.errors.push(Error::input(
                        doc.loc(item),
                        "`block` is not supported among handlers",
                    ));
                } else if let Err(e) = self.block(doc, item, inherited, depth) {
                    self.errors.push(e);
                }
                continue;
            }
            let role = item.as_mapping().and_then(|m| {
                m.iter()
                    .find(|(k, _)| ROLE_KEYS.contains(&k.as_str()))
                    .map(|(k, _)| k.as_str().to_string())
            });
            if let Some(key) = role {
                let res = if self.is_handler {
                    Err(Error::input(
                        doc.loc(item),
                        format!("`{key}` is not supported among handlers"),
                    ))
                } else {
                    self.role(doc, item, Some(&key), inherited, depth)
                };
                if let Err(e) = res {
                    self.errors.push(e);
                }
                continue;
            }
            let import = item.as_mapping().and_then(|m| {
                m.iter()
                    .find(|(k, _)| IMPORT_KEYS.contains(&k.as_str()))
                    .map(|(k, v)| (k.as_str().to_string(), v))
            });
            if let Some((key, file)) = import {
                if self.is_handler {
                    self.errors.push(Error::input(
                        doc.loc(item),
                        format!("`{key}` is not supported among handlers"),
                    ));
                    continue;
                }
                match import_file(doc, item, &key, file, inherited, depth) {
                    Ok((Some(sub), inh)) => self.collect(&sub, &sub.items(), &inh, depth + 1),
                    Ok((None, _)) => {}
                    Err(e) => self.errors.push(e),
                }
                continue;
            }
            match Task::parse(doc, item, self.is_handler) {
                Ok(mut t) => {
                    t.when = inherited.when.iter().cloned().chain(t.when).collect();
                    let mut vars = inherited.vars.clone();
                    vars.extend(std::mem::take(&mut t.vars));
                    t.vars = vars;
                    t.tags.extend(inherited.tags.iter().cloned());
                    if t.become_.is_none() {
                        t.become_ = inherited.become_;
                    }
                    if t.become_user.is_none() {
                        t.become_user = inherited.become_user.clone();
                    }
                    t.ignore_errors |= inherited.ignore_errors;
                    t.no_log |= inherited.no_log;
                    t.blocks = inherited.blocks.clone();
                    if t.role_dir.is_none() {
                        t.role_dir = inherited.role_dir.clone();
                    }
                    for (k, v) in &inherited.environment {
                        t.environment.entry(k.clone()).or_insert_with(|| v.clone());
                    }
                    self.tasks.push(t);
                }
                Err(e) => {
                    if self.is_handler {
                        self.broken_handlers.extend(handler_names(item));
                    }
                    self.errors.push(e)
                }
            }
        }
    }
}

impl TaskList {
    /// A `block` with its `rescue` and `always`: their tasks are collected in order, each
    /// knowing where it sits; the block's keywords go to all of them.
    fn block(&mut self, doc: &Doc, item: &Node, inherited: &Inherited, depth: usize) -> Result<()> {
        use crate::block::{BlockInfo, BlockPos, Section};
        let map = item.as_mapping().expect("a block is a mapping");
        if depth >= MAX_IMPORT_DEPTH {
            return Err(Error::input(
                doc.loc(item),
                format!("blocks and task files nested more than {MAX_IMPORT_DEPTH} deep"),
            ));
        }
        let mut inh = inherited.clone();
        let mut sections: Vec<(Section, Vec<&Node>)> = Vec::new();
        for (k, v) in map.iter() {
            let key = k.as_str();
            match key {
                "block" | "rescue" | "always" => {
                    let items = match v {
                        Node::Sequence(seq) => seq.iter().collect(),
                        Node::Scalar(s) if s.as_str().is_empty() => Vec::new(),
                        other => {
                            return Err(Error::input(
                                doc.loc(other),
                                format!(
                                    "`{key}` must be a list of tasks, found {}",
                                    yaml::kind(other)
                                ),
                            ));
                        }
                    };
                    let section = match key {
                        "block" => Section::Main,
                        "rescue" => Section::Rescue,
                        _ => Section::Always,
                    };
                    sections.push((section, items));
                }
                "name" => {}
                "when" => inh.when.extend(crate::task::conditions(doc, v)),
                "vars" => inh.vars.extend(crate::inventory::vars_map(doc, v)?),
                "tags" => inh.tags.extend(crate::task::tag_list(doc, v)?),
                "become" => inh.become_ = Some(boolean(doc, v, key)?),
                "become_user" => inh.become_user = Some(scalar_string(doc, v, key)?),
                "ignore_errors" => inh.ignore_errors |= boolean(doc, v, key)?,
                "no_log" => inh.no_log |= boolean(doc, v, key)?,
                "environment" => inh.environment.extend(crate::task::environment(doc, v)?),
                other => {
                    return Err(Error::input(
                        doc.key_loc(k),
                        format!("`{other}` is not supported on a block"),
                    )
                    .with_hint(format!(
                        "a block takes `rescue` and `always`, and {BLOCK_KEYS}"
                    )));
                }
            }
        }
        let id = self.blocks.len();
        self.blocks.push(BlockInfo {
            has_rescue: sections
                .iter()
                .any(|(s, items)| *s == Section::Rescue && !items.is_empty()),
        });
        // Written order does not matter: block, then rescue, then always.
        sections.sort_by_key(|(s, _)| *s as u8);
        for (section, items) in sections {
            let mut sub = inh.clone();
            sub.blocks.push(BlockPos { id, section });
            self.collect(doc, &items, &sub, depth + 1);
        }
        Ok(())
    }
}

impl TaskList {
    /// A role: from a play's `roles` (`key` None: `- NAME` or `- role: NAME` with keywords)
    /// or an `import_role` / `include_role` task (`name:` under the key). Its defaults go to
    /// the play, its vars and the entry's `vars` to its tasks, its handlers to the play's.
    fn role(
        &mut self,
        doc: &Doc,
        item: &Node,
        key: Option<&str>,
        inherited: &Inherited,
        depth: usize,
    ) -> Result<()> {
        let mut inh = inherited.clone();
        let mut params = Map::new();
        let (name, name_node) = match (item, key) {
            (Node::Scalar(s), None) => (s.as_str().to_string(), item),
            (Node::Mapping(m), _) => {
                let mut found = None;
                for (k, v) in m.iter() {
                    let kk = k.as_str();
                    match kk {
                        "role" | "name" if key.is_none() => {
                            found = Some((scalar_string(doc, v, kk)?, v))
                        }
                        k2 if Some(k2) == key => match v {
                            Node::Mapping(args) => {
                                for (ak, av) in args.iter() {
                                    match ak.as_str() {
                                        "name" => {
                                            found = Some((scalar_string(doc, av, "name")?, av))
                                        }
                                        other => {
                                            return Err(Error::input(
                                                doc.key_loc(ak),
                                                format!("`{other}` is not supported on `{k2}`"),
                                            )
                                            .with_hint("give the role's `name`; its variables go under the task's `vars`"));
                                        }
                                    }
                                }
                            }
                            other => found = Some((scalar_string(doc, other, k2)?, other)),
                        },
                        "name" => {}
                        "when" => inh.when.extend(crate::task::conditions(doc, v)),
                        "vars" => params.extend(crate::inventory::vars_map(doc, v)?),
                        "tags" => inh.tags.extend(crate::task::tag_list(doc, v)?),
                        "become" => inh.become_ = Some(boolean(doc, v, kk)?),
                        "become_user" => inh.become_user = Some(scalar_string(doc, v, kk)?),
                        other
                            if key.is_none()
                                && !PLAY_KEYS.contains(&other)
                                && !crate::task::is_keyword(other) =>
                        {
                            // Ansible's role parameters: `- role: nginx, port: 80`.
                            params.insert(other.to_string(), yaml::to_value(v));
                        }
                        other => {
                            return Err(Error::input(
                                doc.key_loc(k),
                                format!("`{other}` is not supported on a role"),
                            )
                            .with_hint(
                                "a role takes `vars`, `when`, `tags`, `become` and `become_user`",
                            ));
                        }
                    }
                }
                match found {
                    Some(f) => f,
                    None => {
                        return Err(Error::input(doc.loc(item), "this role entry names no role")
                            .with_hint("`- role: NAME`, or `import_role: {name: NAME}`"));
                    }
                }
            }
            (other, _) => {
                return Err(Error::input(
                    doc.loc(other),
                    format!(
                        "a role must be a name or a mapping, found {}",
                        yaml::kind(other)
                    ),
                ));
            }
        };
        if depth >= MAX_IMPORT_DEPTH {
            return Err(Error::input(
                doc.loc(name_node),
                format!("roles, blocks and task files nested more than {MAX_IMPORT_DEPTH} deep"),
            ));
        }
        let candidates = [
            crate::paths::under(&self.dir, Path::new("roles").join(&name)),
            crate::paths::under(&self.dir, &name),
        ];
        let Some(role_dir) = candidates.iter().find(|c| {
            c.join("tasks").is_dir() || c.join("handlers").is_dir() || c.join("defaults").is_dir()
        }) else {
            return Err(
                Error::input(doc.loc(name_node), format!("role `{name}` not found")).with_hint(
                    format!(
                        "looked for {} and {}",
                        candidates[0].display(),
                        candidates[1].display()
                    ),
                ),
            );
        };
        let role_dir = role_dir.clone();
        let file = |sub: &str| -> Option<PathBuf> {
            ["main.yml", "main.yaml"]
                .iter()
                .map(|f| role_dir.join(sub).join(f))
                .find(|p| p.is_file())
        };
        let read = |path: &Path, list: bool| -> Result<Option<Doc>> {
            let text = crate::vault::read_text(path)?;
            if yaml::is_blank(&text) {
                return Ok(None);
            }
            Ok(Some(Doc::parse(path.to_path_buf(), &text, list)?))
        };
        // A role runs once per play for the same parameters, as in Ansible: a dependency
        // shared by two roles is not run twice.
        let seen = (
            role_dir.clone(),
            serde_json::to_string(&params).unwrap_or_default(),
        );
        if self.roles_seen.contains(&seen) {
            return Ok(());
        }
        self.roles_seen.push(seen);
        // Dependencies first (meta/main.yml), with the entry's conditions but not its variables.
        if let Some(meta) = file("meta")
            && let Some(m) = read(&meta, false)?
            && let Some(deps) = m.root.as_mapping().and_then(|r| r.get_node("dependencies"))
        {
            let Node::Sequence(deps) = deps else {
                return Err(Error::input(
                    m.loc(deps),
                    "`dependencies` must be a list of roles",
                ));
            };
            let dep_inh = Inherited {
                vars: inherited.vars.clone(),
                role_dir: None,
                ..inh.clone()
            };
            for d in deps.iter() {
                self.role(&m, d, None, &dep_inh, depth + 1)?;
            }
        }
        if let Some(p) = file("defaults")
            && let Some(d) = read(&p, false)?
        {
            let locs = crate::yaml::value_locs(&d, &d.root);
            for (k, v) in crate::inventory::vars_map(&d, &d.root)? {
                if !self.defaults.contains_key(&k)
                    && let Some(at) = locs.get(&k)
                {
                    self.default_locs.insert(k.clone(), at.clone());
                }
                self.defaults.entry(k).or_insert(v);
            }
        }
        if let Some(p) = file("vars")
            && let Some(d) = read(&p, false)?
        {
            inh.vars.extend(crate::inventory::vars_map(&d, &d.root)?);
        }
        inh.vars.extend(params);
        inh.role_dir = Some(role_dir.clone());
        if let Some(p) = file("handlers")
            && let Some(d) = read(&p, true)?
        {
            let mut hl = TaskList::empty(true, &self.dir);
            let handler_inh = Inherited {
                role_dir: Some(role_dir.clone()),
                vars: inh.vars.clone(),
                become_: inh.become_,
                become_user: inh.become_user.clone(),
                ..Inherited::default()
            };
            hl.collect(&d, &d.items(), &handler_inh, depth + 1);
            self.handlers.extend(hl.tasks);
            self.errors.extend(hl.errors);
            self.broken_handlers.extend(hl.broken_handlers);
        }
        if let Some(p) = file("tasks")
            && let Some(d) = read(&p, true)?
        {
            self.collect(&d, &d.items(), &inh, depth + 1);
        }
        Ok(())
    }
}

/// The task file an `import_tasks` / `include_tasks` names (relative to the file that names
/// it), parsed; `None` for an empty file. The import's `when` and `vars` go to its tasks.
fn import_file(
    doc: &Doc,
    item: &Node,
    key: &str,
    file: &Node,
    inherited: &Inherited,
    depth: usize,
) -> Result<(Option<Doc>, Inherited)> {
    let mut inh = inherited.clone();
    for (k, v) in item.as_mapping().expect("an import is a mapping").iter() {
        match k.as_str() {
            "name" => {}
            "when" => inh.when.extend(crate::task::conditions(doc, v)),
            "vars" => inh.vars.extend(crate::inventory::vars_map(doc, v)?),
            "tags" => inh.tags.extend(crate::task::tag_list(doc, v)?),
            other if other == key => {}
            other => {
                return Err(Error::input(
                    doc.key_loc(k),
                    format!("`{other}` is not supported on `{key}`"),
                )
                .with_hint("an import takes `name`, `when`, `vars` and `tags`"));
            }
        }
    }
    let (rel, at) = match file {
        Node::Scalar(s) => (s.as_str().to_string(), file),
        Node::Mapping(m) => match m.get_node("file") {
            Some(Node::Scalar(s)) => (
                s.as_str().to_string(),
                m.get_node("file").expect("just seen"),
            ),
            _ => {
                return Err(
                    Error::input(doc.loc(file), format!("`{key}` needs a file name"))
                        .with_hint(format!("`{key}: tasks/setup.yml`")),
                );
            }
        },
        other => {
            return Err(Error::input(
                doc.loc(other),
                format!("`{key}` needs a file name, found {}", yaml::kind(other)),
            ));
        }
    };
    if rel.contains("{{") {
        return Err(Error::input(
            doc.loc(at),
            format!("templated `{key}` file names are not supported"),
        )
        .with_hint("task files are read before the run, so name the file itself"));
    }
    if depth >= MAX_IMPORT_DEPTH {
        return Err(Error::input(
            doc.loc(at),
            format!("task files nested more than {MAX_IMPORT_DEPTH} deep"),
        )
        .with_hint("does a task file import itself?"));
    }
    let path = crate::paths::under(doc.file.parent().unwrap_or(Path::new("")), &rel);
    let text = read_named(doc, at, "task file", &path)?;
    if yaml::is_blank(&text) {
        return Ok((None, inh));
    }
    Ok((Some(Doc::parse(path, &text, true)?), inh))
}

/// A file the playbook names at `at`: what goes wrong reading it is an error there.
fn read_named(doc: &Doc, at: &Node, what: &str, path: &Path) -> Result<String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        let why = match e.kind() {
            std::io::ErrorKind::NotFound => "not found".to_string(),
            _ => e.to_string(),
        };
        Error::input(doc.loc(at), format!("{what} `{}`: {why}", path.display()))
    })?;
    crate::vault::open_text(path, text)
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

/// The `name` and `listen` names written on a handler that did not parse.
fn handler_names(node: &Node) -> Vec<String> {
    let Some(map) = node.as_mapping() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for key in ["name", "listen"] {
        match map.get_node(key) {
            Some(Node::Scalar(s)) => out.push(s.as_str().to_string()),
            Some(Node::Sequence(seq)) => out.extend(
                seq.iter()
                    .filter_map(|n| n.as_scalar())
                    .map(|s| s.as_str().to_string()),
            ),
            _ => {}
        }
    }
    out
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
    for t in play.tasks.iter().chain(play.handlers.iter()) {
        for n in &t.notify {
            if !names.contains(&n.value.as_str()) && !broken.contains(&n.value) {
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

fn parse_serial(doc: &Doc, node: &Node) -> Result<Vec<Serial>> {
    let one = |n: &Node| -> Result<Serial> {
        let bad = || {
            let found = match n {
                Node::Scalar(s) => format!("`{}`", s.as_str()),
                other => yaml::kind(other).to_string(),
            };
            Error::input(
                doc.loc(n),
                format!(
                    "`serial` must be a positive number of hosts or a percentage, found {found}"
                ),
            )
            .with_hint(
                "for example `serial: 2`, `serial: \"30%\"` or `serial: [1, \"30%\", \"100%\"]`",
            )
        };
        match yaml::to_value(n) {
            Value::Number(x) => match x.as_u64() {
                Some(c) if c > 0 => Ok(Serial::Count(c as usize)),
                _ => Err(bad()),
            },
            Value::String(s) => {
                let p = s.trim().strip_suffix('%').ok_or_else(bad)?;
                Serial::percent(p.trim()).ok_or_else(bad)
            }
            _ => Err(bad()),
        }
    };
    match node {
        Node::Sequence(seq) if !seq.is_empty() => seq.iter().map(one).collect(),
        n => Ok(vec![one(n)?]),
    }
}

impl Play {
    /// The user a task runs as through sudo (`become`), if any.
    pub(crate) fn sudo_for(&self, task: &Task) -> Option<String> {
        if task.become_.unwrap_or(self.become_) {
            Some(
                task.become_user
                    .clone()
                    .or_else(|| self.become_user.clone())
                    .unwrap_or_else(|| "root".into()),
            )
        } else {
            None
        }
    }

    /// Whom facts are gathered as: the play's own `become`, as Ansible runs `setup`.
    pub(crate) fn facts_user(&self) -> Option<String> {
        self.become_
            .then(|| self.become_user.clone().unwrap_or_else(|| "root".into()))
    }

    /// Whom the host lock is taken as: root if any task of the play becomes root, else the
    /// first become user, else the login user (None).
    pub(crate) fn lock_user(&self) -> Option<String> {
        let users: Vec<String> = self.tasks.iter().filter_map(|t| self.sudo_for(t)).collect();
        users
            .iter()
            .find(|u| *u == "root")
            .or(users.first())
            .cloned()
    }

    /// nginx's log is readable by root (and adm): read it as the play's become user.
    pub(crate) fn sudo_for_diagnosis(&self) -> Option<&str> {
        if self.become_ {
            Some(self.become_user.as_deref().unwrap_or("root"))
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
