//! A role brought into a play: its dependencies, defaults, vars, handlers and tasks.

use crate::error::{Error, Result};
use crate::inherited::Inherited;
use crate::task::scalar_string;
use crate::task_list::{MAX_IMPORT_DEPTH, TaskList};
use crate::yaml::{self, Doc};
use marked_yaml::Node;
use serde_json::Map;
use std::path::{Path, PathBuf};

/// A new role instance's number: unique in the run (roles of every play, included ones too).
fn next_role_id() -> usize {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// `include_role` with `public: true`: plumb brings an included role's tasks in before the run,
/// so it cannot export the role's variables from where the include runs (behind its `when`,
/// per loop item) to the play's later tasks.
fn public_refused(doc: &Doc, key: &marked_yaml::types::MarkedScalarNode) -> Error {
    Error::input(
        doc.key_loc(key),
        "`public: true` on `include_role` is not supported",
    )
    .with_hint(
        "in plumb a role's `defaults/` are seen by the whole play already; for its `vars/`, load \
         the file with `include_vars` where the later tasks need it, or put them in the play's `vars`",
    )
}

impl TaskList {
    /// A role: from a play's `roles` (`key` None: `- NAME` or `- role: NAME` with keywords)
    /// or an `import_role` / `include_role` task (`name:` under the key). Its defaults go to
    /// the play, its vars and the entry's `vars` to its tasks, its handlers to the play's.
    pub(crate) fn role(
        &mut self,
        doc: &Doc,
        item: &Node,
        key: Option<&str>,
        inherited: &Inherited,
        depth: usize,
    ) -> Result<()> {
        let mut inh = inherited.clone();
        let include = key.is_some_and(|k| k.ends_with("include_role"));
        // An `include_role`'s own tags (see `Inherited::gate`).
        let mut own_tags = Vec::new();
        // Role parameters (`- role: nginx, port: 80`) and the entry's `vars`.
        let mut params = Map::new();
        let mut entry_vars = Map::new();
        // `tasks_from: install` and the like: which file of each folder, `main` by default.
        let mut from: Vec<(String, String)> = Vec::new();
        // `apply` on `include_role`: keywords for the role's tasks, over the entry's.
        let mut apply: Option<&Node> = None;
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
                                        f @ ("tasks_from" | "handlers_from" | "vars_from"
                                        | "defaults_from") => {
                                            let sub = f.trim_end_matches("_from").to_string();
                                            from.push((sub, scalar_string(doc, av, f)?));
                                        }
                                        "apply" if k2.ends_with("include_role") => apply = Some(av),
                                        // `public: false` is include_role's default.
                                        "public" if k2.ends_with("include_role") => {
                                            if crate::task::boolean(doc, av, "public")? {
                                                return Err(public_refused(doc, ak));
                                            }
                                        }
                                        other => {
                                            return Err(Error::input(
                                                doc.key_loc(ak),
                                                format!("`{other}` is not supported on `{k2}`"),
                                            )
                                            .with_hint("give the role's `name` (and `tasks_from` ...); its variables go under the task's `vars`"));
                                        }
                                    }
                                }
                            }
                            other => found = Some((scalar_string(doc, other, k2)?, other)),
                        },
                        "name" => {}
                        "vars" => entry_vars.extend(crate::inventory::vars_map(doc, v)?),
                        other
                            if match include {
                                true => inh.dynamic_keyword(doc, other, v, &mut own_tags)?,
                                false => inh.keyword(doc, other, v)?,
                            } => {}
                        other
                            if key.is_none()
                                && !crate::play::PLAY_KEYS.contains(&other)
                                && !crate::task::is_keyword(other) =>
                        {
                            // Ansible's role parameters: `- role: nginx, port: 80`.
                            params.insert(other.to_string(), yaml::to_value(v));
                        }
                        _ => {
                            return Err(crate::inherited::unknown(doc, k, "a role", "`vars`, "));
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
        if include {
            inh.gate(std::mem::take(&mut own_tags));
        }
        if let Some(a) = apply {
            inh.apply_keywords(doc, a, key.unwrap_or("include_role"))?;
        }
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
            let base = from
                .iter()
                .find(|(s, _)| s == sub)
                .map(|(_, f)| f.as_str())
                .unwrap_or("main");
            [
                base.to_string(),
                format!("{base}.yml"),
                format!("{base}.yaml"),
            ]
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
        // A role of `roles:` or a dependency runs once per play for the same parameters, as
        // in Ansible: a dependency shared by two roles is not run twice.
        let seen = (
            role_dir.clone(),
            format!(
                "{}{from:?}",
                serde_json::to_string(&(&params, &entry_vars)).unwrap_or_default()
            ),
        );
        for (sub, f) in &from {
            if file(sub).is_none() {
                return Err(Error::input(
                    doc.loc(name_node),
                    format!("role `{name}` has no `{sub}/{f}` (`{sub}_from: {f}`)"),
                ));
            }
        }
        let meta = match file("meta") {
            Some(p) => read(&p, false)?,
            None => None,
        };
        // `import_role` and `include_role` run the role every time, as in Ansible; so does a
        // role whose meta says `allow_duplicates: true`.
        let in_meta = meta.as_ref().and_then(|m| {
            let n = m.root.as_mapping()?.get_node("allow_duplicates")?;
            Some((m, n))
        });
        let allow_duplicates = match in_meta {
            Some((m, n)) => crate::task_values::boolean(m, n, "allow_duplicates")?,
            None => false,
        } || key.is_some();
        if !allow_duplicates {
            if self.roles_seen.contains(&seen) {
                return Ok(());
            }
            self.roles_seen.push(seen);
        }
        // Its `collections` are checked; plumb's modules resolve the same with or without them.
        if let Some(m) = &meta
            && let Some(c) = m.root.as_mapping().and_then(|r| r.get_node("collections"))
        {
            crate::collections::Collections::parse(m, c)?;
        }
        // Dependencies first (meta/main.yml), with the entry's conditions but not its variables.
        if let Some(m) = meta
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
                params: inherited.params.clone(),
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
        // The entry's `vars`, as Ansible places them: in a play's `roles`, the role's own
        // (under its `vars/main.yml`); on `import_role`, the task's (over them); on
        // `include_role`, include parameters (over `set_fact` too).
        if key.is_none() {
            inh.vars.extend(std::mem::take(&mut entry_vars));
        }
        if let Some(p) = file("vars")
            && let Some(d) = read(&p, false)?
        {
            inh.vars.extend(crate::inventory::vars_map(&d, &d.root)?);
        }
        if include {
            inh.params.extend(entry_vars);
        } else {
            inh.vars.extend(entry_vars);
        }
        inh.params.extend(params);
        inh.role_dir = Some(role_dir.clone());
        // This instance of the role, for `meta: end_role`.
        inh.roles.push(next_role_id());
        if let Some(p) = file("handlers")
            && let Some(d) = read(&p, true)?
        {
            let mut hl = TaskList::empty(true, &self.dir);
            let handler_inh = Inherited {
                role_dir: Some(role_dir.clone()),
                vars: inh.vars.clone(),
                params: inh.params.clone(),
                become_: inh.become_,
                become_if: inh.become_if.clone(),
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
