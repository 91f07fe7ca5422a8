//! `import_tasks` and `include_tasks`: the task file is read and checked before the run, as
//! the rest of the playbook. `include_tasks` is dynamic in Ansible, so where it differs it
//! behaves so here too: a templated file name stands for every file beside it that it could
//! render to, each guarded by the name it must render to on the host; and a file behind a
//! `when` that does not parse (a role's tasks for another system) fails only the hosts that
//! reach it, never the run.

use crate::error::{Error, Result};
use crate::inherited::Inherited;
use crate::location::{Location, Spanned};
use crate::task::Task;
use crate::task_list::{MAX_IMPORT_DEPTH, TaskList, read_named};
use crate::yaml::{self, Doc};
use marked_yaml::Node;
use serde_json::Value;
use std::path::{Path, PathBuf};

impl TaskList {
    pub(crate) fn import(
        &mut self,
        doc: &Doc,
        item: &Node,
        key: &str,
        file: &Node,
        inherited: &Inherited,
        depth: usize,
    ) -> Result<()> {
        let mut inh = inherited.clone();
        let dynamic = key.ends_with("include_tasks");
        let mut own_tags = Vec::new();
        for (k, v) in item.as_mapping().expect("an import is a mapping").iter() {
            match k.as_str() {
                "name" => {}
                other if other == key => {}
                // Ansible's include parameters: over `set_fact` too (an import's `vars` are
                // its tasks' vars).
                "vars" if dynamic => inh.params.extend(crate::inventory::vars_map(doc, v)?),
                other => {
                    let known = match dynamic {
                        true => inh.dynamic_keyword(doc, other, v, &mut own_tags)?,
                        false => inh.keyword(doc, other, v)?,
                    };
                    if !known {
                        return Err(crate::inherited::unknown(
                            doc,
                            k,
                            &format!("`{key}`"),
                            "`name`, ",
                        ));
                    }
                }
            }
        }
        if dynamic {
            inh.gate(own_tags);
        }
        let (rel, at) = file_name(doc, key, file)?;
        if let Node::Mapping(m) = file {
            for (k, v) in m.iter() {
                match k.as_str() {
                    "file" => {}
                    "apply" if dynamic => inh.apply_keywords(doc, v, key)?,
                    other => {
                        return Err(Error::input(
                            doc.key_loc(k),
                            format!("`{other}` is not supported under `{key}`"),
                        )
                        .with_hint(if dynamic {
                            "it takes `file` and `apply`"
                        } else {
                            "it takes `file`"
                        }));
                    }
                }
            }
        }
        if depth >= MAX_IMPORT_DEPTH {
            return Err(Error::input(
                doc.loc(at),
                format!("task files nested more than {MAX_IMPORT_DEPTH} deep"),
            )
            .with_hint("does a task file import itself?"));
        }
        let dir = doc.file.parent().unwrap_or(Path::new("")).to_path_buf();
        if !rel.contains("{{") {
            let path = crate::paths::under(&dir, &rel);
            let deferrable = dynamic && (!inh.when.is_empty() || inh.behind_when);
            self.include_one(doc, at, &path, &inh, depth, deferrable);
            return Ok(());
        }
        if !dynamic {
            return Err(Error::input(
                doc.loc(at),
                format!("a templated file name needs `include_tasks`, not `{key}`"),
            )
            .with_hint("imports are static in Ansible too"));
        }
        let expr = name_expr(&rel).ok_or_else(|| {
            Error::input(
                doc.loc(at),
                "only `{{ expr }}` parts are supported in a templated task file name",
            )
        })?;
        let cands = candidates(&dir, &rel);
        let loc = doc.loc(at);
        // A name may render to the file as written or to its full path (`with_first_found`
        // gives full paths).
        let forms = |c: &str| {
            let full = std::path::absolute(dir.join(c)).unwrap_or_else(|_| dir.join(c));
            [py_str(c), py_str(&full.display().to_string())]
        };
        for c in &cands {
            let mut sub = inh.clone();
            sub.when.push(Spanned {
                value: Value::String(format!("({expr}) in [{}]", forms(c).join(", "))),
                loc: loc.clone(),
            });
            self.include_one(doc, at, &crate::paths::under(&dir, c), &sub, depth, true);
        }
        // On a host where the name renders to none of them, Ansible fails: so does plumb.
        let mut none = inh.clone();
        let list: Vec<String> = cands.iter().flat_map(|c| forms(c)).collect();
        none.when.push(Spanned {
            value: Value::String(format!("({expr}) not in [{}]", list.join(", "))),
            loc: loc.clone(),
        });
        let msg = format!(
            "{loc}: no task file for `{rel}` on this host (there are: {})",
            if cands.is_empty() {
                "none".to_string()
            } else {
                cands.join(", ")
            }
        );
        self.tasks.push(unread(&loc, key, &rel, msg, &none));
        Ok(())
    }

    /// One task file, spliced in; when `deferrable`, what is wrong with it fails the hosts
    /// that reach it instead of the run.
    fn include_one(
        &mut self,
        doc: &Doc,
        at: &Node,
        path: &Path,
        inh: &Inherited,
        depth: usize,
        deferrable: bool,
    ) {
        let parsed = read_named(doc, at, "task file", path).and_then(|text| {
            if yaml::is_blank(&text) {
                Ok(None)
            } else {
                Doc::parse(path.to_path_buf(), &text, true).map(Some)
            }
        });
        let (errors, tasks) = (self.errors.len(), self.tasks.len());
        match parsed {
            Ok(Some(sub)) => self.collect(&sub, &sub.items(), inh, depth + 1),
            Ok(None) => {}
            Err(e) => self.errors.push(e),
        }
        if deferrable && self.errors.len() > errors {
            let errs = self.errors.split_off(errors);
            self.tasks.truncate(tasks);
            let msg = errs
                .iter()
                .map(Error::one_line)
                .collect::<Vec<_>>()
                .join("; ");
            let rel = path.display().to_string();
            self.tasks
                .push(unread(&doc.loc(at), "include_tasks", &rel, msg, inh));
        }
    }
}

/// A task standing for a task file that could not be used: it fails with `msg` where its
/// `when` holds.
fn unread(at: &Location, key: &str, rel: &str, msg: String, inh: &Inherited) -> Task {
    let mut t = Task::synthetic(at, "meta: noop\n");
    t.name = Some(format!("{key} {rel}"));
    t.unread = Some(msg);
    inh.apply(&mut t);
    t
}

/// The file an import names: `FILE` or `{file: FILE}`.
fn file_name<'a>(doc: &Doc, key: &str, file: &'a Node) -> Result<(String, &'a Node)> {
    match file {
        Node::Scalar(s) => Ok((s.as_str().to_string(), file)),
        Node::Mapping(m) => match m.get_node("file") {
            Some(n @ Node::Scalar(s)) => Ok((s.as_str().to_string(), n)),
            _ => Err(
                Error::input(doc.loc(file), format!("`{key}` needs a file name"))
                    .with_hint(format!("`{key}: tasks/setup.yml`")),
            ),
        },
        other => Err(Error::input(
            doc.loc(other),
            format!("`{key}` needs a file name, found {}", yaml::kind(other)),
        )),
    }
}

/// A Python string literal.
fn py_str(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// `setup-{{ ansible_os_family }}.yml` as one Jinja expression: `'setup-' ~ (…) ~ '.yml'`.
fn name_expr(rel: &str) -> Option<String> {
    if rel.contains("{%") || rel.contains("{#") {
        return None;
    }
    let mut parts = Vec::new();
    let mut rest = rel;
    while let Some(i) = rest.find("{{") {
        if i > 0 {
            parts.push(py_str(&rest[..i]));
        }
        let j = rest[i..].find("}}")? + i;
        parts.push(format!("({})", rest[i + 2..j].trim()));
        rest = &rest[j + 2..];
    }
    if !rest.is_empty() {
        parts.push(py_str(rest));
    }
    Some(parts.join(" ~ "))
}

/// The files (relative to `dir`, as written) a templated name could render to: its
/// `{{ }}` parts taken as `*`.
fn candidates(dir: &Path, rel: &str) -> Vec<String> {
    let mut pattern = String::new();
    let mut rest = rel;
    while let Some(i) = rest.find("{{") {
        pattern.push_str(&rest[..i]);
        pattern.push('*');
        rest = match rest[i..].find("}}") {
            Some(j) => &rest[i + j + 2..],
            None => "",
        };
    }
    pattern.push_str(rest);
    let (sub, name) = match pattern.rsplit_once('/') {
        Some((d, n)) => (d.to_string(), n.to_string()),
        None => (String::new(), pattern.clone()),
    };
    if sub.contains('*') {
        return Vec::new();
    }
    let Ok(entries) = std::fs::read_dir(dir.join(&sub)) else {
        return Vec::new();
    };
    let mut out: Vec<String> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| glob(&name, n))
        .map(|n| {
            let p: PathBuf = if sub.is_empty() {
                PathBuf::from(&n)
            } else {
                Path::new(&sub).join(&n)
            };
            p.display().to_string()
        })
        .collect();
    out.sort();
    out
}

/// `*` matches any run of characters, everything else itself.
fn glob(pat: &str, name: &str) -> bool {
    match pat.split_once('*') {
        None => pat == name,
        Some((head, tail)) => {
            name.starts_with(head)
                && (0..=name.len() - head.len()).any(|i| {
                    name.is_char_boundary(head.len() + i) && glob(tail, &name[head.len() + i..])
                })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templated_names() {
        assert_eq!(
            name_expr("setup-{{ ansible_os_family }}.yml").unwrap(),
            "'setup-' ~ (ansible_os_family) ~ '.yml'"
        );
        assert_eq!(name_expr("{{ f }}").unwrap(), "(f)");
        assert!(name_expr("{% if a %}x{% endif %}.yml").is_none());
        assert!(glob("setup-*.yml", "setup-Debian.yml"));
        assert!(!glob("setup-*.yml", "setup-Debian.yaml"));
        assert!(glob("*-*.yml", "a-b.yml"));
    }
}
