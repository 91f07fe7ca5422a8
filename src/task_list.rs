//! A play's tasks (or handlers) as they are collected: task files spliced in where they are
//! imported, blocks flattened with their positions, roles brought in. Every file is read and
//! checked now, before any host is contacted.

use crate::error::{Error, Result};
use crate::inherited::Inherited;
use crate::location::Location;
use crate::task::Task;
use crate::yaml::{self, Doc};
use marked_yaml::Node;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

const IMPORT_KEYS: &[&str] = &[
    "import_tasks",
    "include_tasks",
    "ansible.builtin.import_tasks",
    "ansible.builtin.include_tasks",
];

/// Task files may import task files; deeper than this is taken for a cycle.
pub(crate) const MAX_IMPORT_DEPTH: usize = 16;

/// A play's tasks (or handlers) as they are collected, task files spliced in where they are
/// imported: the file is read and checked now, before any host is contacted.
pub(crate) struct TaskList {
    pub(crate) is_handler: bool,
    pub(crate) tasks: Vec<Task>,
    pub(crate) errors: Vec<Error>,
    /// Names of handlers that did not parse: notifying them is not a second error.
    pub(crate) broken_handlers: Vec<String>,
    pub(crate) blocks: Vec<crate::block::BlockInfo>,
    /// The playbook's directory, where `roles/` is.
    pub(crate) dir: PathBuf,
    /// Found while collecting: roles' handlers and defaults.
    pub(crate) handlers: Vec<Task>,
    pub(crate) defaults: Map<String, Value>,
    pub(crate) default_locs: std::collections::HashMap<String, Location>,
    /// Roles brought in so far (folder, parameters): each runs once.
    pub(crate) roles_seen: Vec<(PathBuf, String)>,
}

const ROLE_KEYS: &[&str] = &[
    "import_role",
    "include_role",
    "ansible.builtin.import_role",
    "ansible.builtin.include_role",
];

impl TaskList {
    pub(crate) fn empty(is_handler: bool, dir: &Path) -> TaskList {
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

    /// Collects into a play: block numbers go on from the play's `blocks`.
    pub(crate) fn new(
        is_handler: bool,
        dir: &Path,
        blocks: Vec<crate::block::BlockInfo>,
    ) -> TaskList {
        TaskList {
            blocks,
            ..TaskList::empty(is_handler, dir)
        }
    }

    pub(crate) fn collect(
        &mut self,
        doc: &Doc,
        items: &[&Node],
        inherited: &Inherited,
        depth: usize,
    ) {
        for item in items {
            if let Some(map) = item.as_mapping()
                && map.get_node("block").is_some()
            {
                if let Err(e) = self.block(doc, item, inherited, depth) {
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
                    self.include(doc, item, &key, true, inherited, depth)
                };
                if let Err(e) = res {
                    self.errors.push(e);
                }
                continue;
            }
            let import = item.as_mapping().and_then(|m| {
                m.iter()
                    .find(|(k, _)| IMPORT_KEYS.contains(&k.as_str()))
                    .map(|(k, _)| k.as_str().to_string())
            });
            if let Some(key) = import {
                if self.is_handler {
                    self.errors.push(Error::input(
                        doc.loc(item),
                        format!("`{key}` is not supported among handlers"),
                    ));
                    continue;
                }
                if let Err(e) = self.include(doc, item, &key, false, inherited, depth) {
                    self.errors.push(e);
                }
                continue;
            }
            match Task::parse(doc, item, self.is_handler) {
                Ok(mut t) => {
                    // As on the task itself (see `Task::parse`): a block's, role's or import's
                    // `run_once` would register the result on one host only.
                    if inherited.run_once
                        && !t.run_once
                        && let Some(r) = &t.register
                    {
                        self.errors.push(
                            Error::input(
                                t.loc.clone(),
                                format!("`run_once` (around the task) with `register: {r}` is not supported yet"),
                            )
                            .with_hint("plumb would register the result on the one host that runs it only"),
                        );
                    }
                    inherited.apply(&mut t);
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
    pub(crate) fn block(
        &mut self,
        doc: &Doc,
        item: &Node,
        inherited: &Inherited,
        depth: usize,
    ) -> Result<()> {
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
                _ => {
                    if !inh.keyword(doc, key, v)? {
                        return Err(crate::inherited::unknown(
                            doc,
                            k,
                            "a block",
                            "`rescue` and `always`, `name`, ",
                        ));
                    }
                }
            }
        }
        if self.is_handler {
            // Among handlers a block only groups: each of its tasks is a handler with the
            // block's keywords.
            for (section, items) in sections {
                if section != Section::Main && !items.is_empty() {
                    return Err(Error::input(
                        doc.loc(item),
                        "`rescue` and `always` are not supported in a block of handlers",
                    )
                    .with_hint("give each handler its own `ignore_errors` instead"));
                }
                self.collect(doc, &items, &inh, depth + 1);
            }
            return Ok(());
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

/// A file the playbook names at `at`: what goes wrong reading it is an error there.
pub(crate) fn read_named(doc: &Doc, at: &Node, what: &str, path: &Path) -> Result<String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        let why = match e.kind() {
            std::io::ErrorKind::NotFound => "not found".to_string(),
            _ => e.to_string(),
        };
        Error::input(doc.loc(at), format!("{what} `{}`: {why}", path.display()))
    })?;
    crate::vault::open_text(path, text)
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
