//! `group_vars/` and `host_vars/` beside the inventory and the playbook, as Ansible's
//! host_group_vars plugin reads them.

use crate::error::{Error, Result};
use crate::location::Location;
use crate::yaml::{self, Doc};
use marked_yaml::Node;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// `group_vars/` and `host_vars/` files, per directory in precedence order (the inventory's,
/// then the playbook's), per group or host name.
#[derive(Default)]
pub(super) struct VarsDirs {
    pub(super) groups: Vec<BTreeMap<String, Located>>,
    pub(super) hosts: Vec<BTreeMap<String, Located>>,
}

impl VarsDirs {
    /// The files for these groups (and `all`) and hosts, in each of `dirs`.
    pub(super) fn read<'a>(
        dirs: &[PathBuf],
        group_names: impl Iterator<Item = &'a String>,
        hosts: &[String],
    ) -> Result<VarsDirs> {
        let mut out = VarsDirs::default();
        let mut groups: BTreeSet<String> = group_names.cloned().collect();
        groups.insert("all".into());
        for dir in dirs {
            let mut g = BTreeMap::new();
            for name in &groups {
                if let Some(l) = read_entity(&dir.join("group_vars"), name)? {
                    g.insert(name.clone(), l);
                }
            }
            let mut h = BTreeMap::new();
            for name in hosts {
                if let Some(l) = read_entity(&dir.join("host_vars"), name)? {
                    h.insert(name.clone(), l);
                }
            }
            out.groups.push(g);
            out.hosts.push(h);
        }
        Ok(out)
    }
}

/// `DIR/NAME`, `DIR/NAME.yml|.yaml|.json`, or every such file under the directory `DIR/NAME/`
/// (in name order), as Ansible's host_group_vars plugin reads them; None if there is none.
fn read_entity(dir: &Path, name: &str) -> Result<Option<Located>> {
    let mut files = Vec::new();
    for ext in ["", ".yml", ".yaml", ".json"] {
        let p = dir.join(format!("{name}{ext}"));
        if p.is_file() {
            files.push(p);
        } else if ext.is_empty() && p.is_dir() {
            collect_vars_files(&p, &mut files).map_err(Error::with_path(&p))?;
        }
    }
    if files.is_empty() {
        return Ok(None);
    }
    let mut all = Located::default();
    for f in files {
        let text = crate::vault::read_text(&f)?;
        if yaml::is_blank(&text) {
            continue;
        }
        let doc = Doc::parse(f.clone(), &text, false)?;
        let l = located_vars(&doc, &doc.root)?;
        all.vars.extend(l.vars);
        all.locs.extend(l.locs);
    }
    Ok(Some(all))
}

fn collect_vars_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()?;
    entries.sort();
    for p in entries {
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        // Hidden files and editor backups are not variables, as in Ansible.
        if name.starts_with('.') || name.ends_with('~') {
            continue;
        }
        if p.is_dir() {
            collect_vars_files(&p, out)?;
        } else if matches!(
            p.extension().and_then(|e| e.to_str()),
            None | Some("yml" | "yaml" | "json")
        ) {
            out.push(p);
        }
    }
    Ok(())
}

/// Variables with where each value was written.
#[derive(Default)]
pub(super) struct Located {
    pub(super) vars: Map<String, Value>,
    pub(super) locs: BTreeMap<String, Location>,
}

pub(super) fn located_vars(doc: &Doc, node: &Node) -> Result<Located> {
    let vars = vars_map(doc, node)?;
    let locs = match node {
        Node::Mapping(m) => m
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), doc.loc(v)))
            .collect(),
        _ => BTreeMap::new(),
    };
    Ok(Located { vars, locs })
}

pub(crate) fn vars_map(doc: &Doc, node: &Node) -> Result<Map<String, Value>> {
    match node {
        Node::Mapping(_) => match yaml::to_value(node) {
            Value::Object(m) => Ok(m),
            _ => unreachable!(),
        },
        Node::Scalar(s) if s.as_str().is_empty() => Ok(Map::new()),
        other => Err(Error::input(
            doc.loc(other),
            format!("`vars` must be a mapping, found {}", yaml::kind(other)),
        )),
    }
}
