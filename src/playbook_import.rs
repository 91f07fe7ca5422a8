//! A playbook file's plays, with `import_playbook` followed where it is written.

use crate::error::{Error, Result};
use crate::play::Play;
use crate::task::scalar_string;
use crate::yaml::Doc;
use marked_yaml::Node;
use serde_json::Map;
use std::path::{Path, PathBuf};

/// The directory a file is in (`.` for a bare name).
pub(crate) fn dir_of(path: &Path) -> PathBuf {
    path.parent()
        .map(Path::to_path_buf)
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The plays of a playbook file, those of the playbooks it imports in their place.
pub(crate) fn load_plays(path: &Path, depth: usize) -> Result<Vec<Play>> {
    let text = crate::vault::read_text(path)?;
    let doc = Doc::parse(path.to_path_buf(), &text, true)?;
    let dir = dir_of(path);
    let mut plays = Vec::new();
    let mut errors = Vec::new();
    for node in doc.root.as_sequence().expect("top level is a list").iter() {
        let import = node.as_mapping().and_then(|m| {
            m.iter()
                .find(|(k, _)| {
                    matches!(
                        k.as_str(),
                        "import_playbook" | "ansible.builtin.import_playbook"
                    )
                })
                .map(|(k, v)| (k.as_str().to_string(), v))
        });
        let res = match import {
            Some((key, file)) => import_playbook(&doc, node, &key, file, &dir, depth),
            None => Play::parse(&doc, node, &dir).map(|p| vec![p]),
        };
        match res {
            Ok(p) => plays.extend(p),
            Err(e) => errors.push(e),
        }
    }
    match errors.len() {
        0 => Ok(plays),
        _ => Err(Error::many(errors)),
    }
}

/// `- import_playbook: other.yml` (relative to the playbook naming it), with its `when` put
/// before every task's own and its `vars` over each play's, as in Ansible.
fn import_playbook(
    doc: &Doc,
    node: &Node,
    key: &str,
    file: &Node,
    dir: &Path,
    depth: usize,
) -> Result<Vec<Play>> {
    let mut when = Vec::new();
    let mut vars = Map::new();
    let mut tags = Vec::new();
    for (k, v) in node.as_mapping().expect("an import is a mapping").iter() {
        match k.as_str() {
            "name" => {}
            "when" => when.extend(crate::task::conditions(doc, v)),
            "vars" => vars.extend(crate::inventory::vars_map(doc, v)?),
            "tags" => tags.extend(crate::task::tag_list(doc, v)?),
            other if other == key => {}
            other => {
                return Err(Error::input(
                    doc.key_loc(k),
                    format!("`{other}` is not supported on `{key}`"),
                )
                .with_hint(format!("`{key}` takes `name`, `when`, `vars` and `tags`")));
            }
        }
    }
    let rel = scalar_string(doc, file, key)?;
    if rel.contains("{{") {
        return Err(Error::input(
            doc.loc(file),
            format!("templated `{key}` names are not supported"),
        )
        .with_hint("playbooks are read before the run, so name the file itself"));
    }
    if depth >= crate::task_list::MAX_IMPORT_DEPTH {
        return Err(Error::input(doc.loc(file), "playbooks nested too deep")
            .with_hint("does a playbook import itself?"));
    }
    let path = crate::paths::under(dir, &rel);
    if !path.is_file() {
        return Err(Error::input(
            doc.loc(file),
            format!("playbook `{}`: not found", path.display()),
        ));
    }
    let mut plays = load_plays(&path, depth + 1)?;
    for play in &mut plays {
        play.vars.extend(vars.clone());
        play.tags.extend(tags.iter().cloned());
        for t in &mut play.tasks {
            t.when = when.iter().cloned().chain(t.when.drain(..)).collect();
            t.tags.extend(tags.iter().cloned());
        }
    }
    Ok(plays)
}
