//! The inventory as it is read: hosts and groups from the INI or YAML file, then merged into
//! `Inventory` with the vars directories.

use super::group::Group;
use super::host::Host;
use super::vars_dirs::{Located, VarsDirs, located_vars};
use crate::error::{Error, Result, suggest};
use crate::location::Location;
use crate::yaml::{self, Doc};
use marked_yaml::Node;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

/// One source of a host's variables, with where each was written.
type Layer<'a> = (&'a Map<String, Value>, &'a BTreeMap<String, Location>);

#[derive(Default)]
pub(super) struct Builder {
    pub(super) vars_dirs: VarsDirs,
    pub(super) order: Vec<String>,
    pub(super) host_vars: BTreeMap<String, Map<String, Value>>,
    host_var_locs: BTreeMap<String, BTreeMap<String, Location>>,
    pub(super) groups: BTreeMap<String, Group>,
}

impl Builder {
    pub(super) fn group(&mut self, name: &str) -> &mut Group {
        self.groups.entry(name.to_string()).or_default()
    }

    pub(super) fn add_host(&mut self, group: &str, name: &str, vars: Located) {
        if !self.host_vars.contains_key(name) {
            self.order.push(name.to_string());
        }
        self.host_vars
            .entry(name.to_string())
            .or_default()
            .extend(vars.vars);
        self.host_var_locs
            .entry(name.to_string())
            .or_default()
            .extend(vars.locs);
        let g = self.group(group);
        if !g.hosts.iter().any(|h| h == name) {
            g.hosts.push(name.to_string());
        }
    }

    /// The hosts with their variables merged, the implicit `localhost`, and the groups.
    pub(super) fn finish(mut self) -> Result<(Vec<Host>, Host, BTreeMap<String, Group>)> {
        // Every group is a child of `all`; hosts with no group but `all` are `ungrouped`.
        let names: Vec<String> = self.groups.keys().cloned().collect();
        let children: BTreeSet<String> = self
            .groups
            .values()
            .flat_map(|g| g.children.iter().cloned())
            .collect();
        for child in &children {
            self.group(child);
        }
        let all_children: Vec<String> = names
            .iter()
            .filter(|n| *n != "all" && !children.contains(*n))
            .cloned()
            .collect();
        self.group("all").children.extend(all_children);

        // Depth of each group below `all`, for variable precedence (deeper wins).
        let mut depth: BTreeMap<String, usize> = BTreeMap::new();
        let mut frontier = vec![("all".to_string(), 0usize)];
        while let Some((g, d)) = frontier.pop() {
            if depth.get(&g).is_some_and(|&old| old >= d) {
                continue;
            }
            if d > self.groups.len() {
                continue; // a cycle; stop descending
            }
            depth.insert(g.clone(), d);
            for c in &self.groups[&g].children {
                frontier.push((c.clone(), d + 1));
            }
        }

        let mut hosts = Vec::new();
        for name in &self.order {
            // Groups this host belongs to, transitively (a host of `web` is in `web`'s parents).
            let mut member: BTreeSet<String> = self
                .groups
                .iter()
                .filter(|(_, g)| g.hosts.contains(name))
                .map(|(n, _)| n.clone())
                .collect();
            loop {
                let parents: Vec<String> = self
                    .groups
                    .iter()
                    .filter(|(n, g)| {
                        !member.contains(*n) && g.children.iter().any(|c| member.contains(c))
                    })
                    .map(|(n, _)| n.clone())
                    .collect();
                if parents.is_empty() {
                    break;
                }
                member.extend(parents);
            }
            member.insert("all".into());
            let mut ordered: Vec<&String> = member.iter().collect();
            ordered.sort_by_key(|g| (depth.get(*g).copied().unwrap_or(1), (*g).clone()));
            // Ansible's order: the inventory file's group vars (`all` first, deeper groups
            // later), then group_vars/all of each directory, then group_vars/GROUP of each
            // directory; the inventory file's host vars, then host_vars/HOST of each directory.
            let mut layers: Vec<Layer> = Vec::new();
            for g in &ordered {
                layers.push((&self.groups[*g].vars, &self.groups[*g].var_locs));
            }
            for dir in &self.vars_dirs.groups {
                if let Some(l) = dir.get("all") {
                    layers.push((&l.vars, &l.locs));
                }
            }
            for dir in &self.vars_dirs.groups {
                for g in ordered.iter().filter(|g| g.as_str() != "all") {
                    if let Some(l) = dir.get(*g) {
                        layers.push((&l.vars, &l.locs));
                    }
                }
            }
            let none = BTreeMap::new();
            layers.push((
                &self.host_vars[name],
                self.host_var_locs.get(name).unwrap_or(&none),
            ));
            for dir in &self.vars_dirs.hosts {
                if let Some(l) = dir.get(name) {
                    layers.push((&l.vars, &l.locs));
                }
            }
            let mut vars = Map::new();
            let mut var_locs = BTreeMap::new();
            for (v, locs) in layers {
                for (k, val) in v {
                    vars.insert(k.clone(), val.clone());
                    match locs.get(k) {
                        Some(l) => var_locs.insert(k.clone(), l.clone()),
                        None => var_locs.remove(k),
                    };
                }
            }
            hosts.push(Host {
                name: name.clone(),
                vars,
                var_locs,
                groups: ordered
                    .into_iter()
                    .filter(|g| *g != "all")
                    .cloned()
                    .collect(),
            });
        }
        let mut local_vars = self
            .groups
            .get("all")
            .map(|g| g.vars.clone())
            .unwrap_or_default();
        local_vars.insert("ansible_connection".into(), Value::from("local"));
        let implicit_localhost = Host {
            name: "localhost".into(),
            vars: local_vars,
            var_locs: BTreeMap::new(),
            groups: Vec::new(),
        };
        Ok((hosts, implicit_localhost, self.groups))
    }
}

pub(super) fn parse_yaml(path: PathBuf, text: &str) -> Result<Builder> {
    let doc = Doc::parse(path, text, false)?;
    let mut b = Builder::default();
    let root = doc.root.as_mapping().expect("top level is a mapping");
    for (name, node) in root.iter() {
        yaml_group(&doc, &mut b, name.as_str(), node)?;
    }
    Ok(b)
}

fn yaml_group(doc: &Doc, b: &mut Builder, name: &str, node: &Node) -> Result<()> {
    b.group(name);
    let map = match node {
        Node::Mapping(m) => m,
        Node::Scalar(s) if s.as_str().is_empty() => return Ok(()),
        other => {
            return Err(Error::input(
                doc.loc(other),
                format!(
                    "group `{name}` must be a mapping with `hosts`, `vars` or `children`, found {}",
                    yaml::kind(other)
                ),
            ));
        }
    };
    for (key, value) in map.iter() {
        match key.as_str() {
            "hosts" => {
                let Some(hosts) = value.as_mapping() else {
                    if matches!(value, Node::Scalar(s) if s.as_str().is_empty()) {
                        continue;
                    }
                    return Err(Error::input(
                        doc.loc(value),
                        format!(
                            "`hosts` of group `{name}` must be a mapping of host names, found {}",
                            yaml::kind(value)
                        ),
                    ));
                };
                for (host, hvars) in hosts.iter() {
                    let vars = match hvars {
                        Node::Mapping(_) => located_vars(doc, hvars)?,
                        Node::Scalar(s) if s.as_str().is_empty() => Located::default(),
                        other => {
                            return Err(Error::input(
                                doc.loc(other),
                                format!(
                                    "host `{}` must map to its variables, found {}",
                                    host.as_str(),
                                    yaml::kind(other)
                                ),
                            ));
                        }
                    };
                    b.add_host(name, host.as_str(), vars);
                }
            }
            "vars" => {
                let vars = located_vars(doc, value)?;
                let g = b.group(name);
                g.vars.extend(vars.vars);
                g.var_locs.extend(vars.locs);
            }
            "children" => {
                let Some(children) = value.as_mapping() else {
                    if matches!(value, Node::Scalar(s) if s.as_str().is_empty()) {
                        continue;
                    }
                    return Err(Error::input(
                        doc.loc(value),
                        format!("`children` of group `{name}` must be a mapping of groups"),
                    ));
                };
                for (child, cnode) in children.iter() {
                    b.group(name).children.push(child.as_str().to_string());
                    yaml_group(doc, b, child.as_str(), cnode)?;
                }
            }
            other => {
                let mut e = Error::input(
                    doc.key_loc(key),
                    format!("unknown key `{other}` in inventory group `{name}`"),
                );
                e = match suggest(other, ["hosts", "vars", "children"]) {
                    Some(s) => e.with_hint(format!("did you mean `{s}`?")),
                    None => e.with_hint("a group has `hosts`, `vars` and `children`"),
                };
                return Err(e);
            }
        }
    }
    Ok(())
}

pub(super) fn parse_ini(path: PathBuf, text: &str) -> Result<Builder> {
    let file = Arc::new(path);
    // Its values are templates where they hold `{{ }}`: the raw text says as much.
    crate::fact_need::note_text(text);
    let mut b = Builder::default();
    enum Section {
        Hosts(String),
        Vars(String),
        Children(String),
    }
    let mut section = Section::Hosts("ungrouped".into());
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        let lineno = n + 1;
        let col = raw.len() - raw.trim_start().len() + 1;
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(head) = line.strip_prefix('[') {
            let Some(head) = head.strip_suffix(']') else {
                return Err(Error::input(
                    Location::new(&file, lineno, col + line.len()),
                    "section header is missing its closing `]`",
                )
                .with_hint(format!("write `{line}]`")));
            };
            section = match head.split_once(':') {
                None => Section::Hosts(head.to_string()),
                Some((g, "vars")) => Section::Vars(g.to_string()),
                Some((g, "children")) => Section::Children(g.to_string()),
                Some((_, other)) => {
                    return Err(Error::input(
                        Location::new(&file, lineno, col + head.find(':').unwrap() + 2),
                        format!("unknown section kind `:{other}`"),
                    )
                    .with_hint("sections are `[group]`, `[group:vars]` or `[group:children]`"));
                }
            };
            let (Section::Hosts(g) | Section::Vars(g) | Section::Children(g)) = &section;
            b.group(g);
            continue;
        }
        match &section {
            Section::Hosts(g) => {
                let words = split_ini_words(line).map_err(|(off, msg)| {
                    Error::input(Location::new(&file, lineno, col + off), msg)
                })?;
                let mut it = words.into_iter();
                let (_, name) = it.next().expect("non-empty line");
                let mut vars = Located::default();
                for (off, w) in it {
                    let Some((k, v)) = w.split_once('=') else {
                        return Err(Error::input(
                            Location::new(&file, lineno, col + off),
                            format!("expected `key=value` after the host name, found `{w}`"),
                        )
                        .with_hint(
                            "host variables are written `name=value`, with no spaces around `=`",
                        ));
                    };
                    vars.vars.insert(k.to_string(), yaml::typed_scalar(v));
                    let at = col + line[..off].chars().count() + k.chars().count() + 1;
                    vars.locs
                        .insert(k.to_string(), Location::new(&file, lineno, at));
                }
                b.add_host(g, &name, vars);
            }
            Section::Vars(g) => {
                let Some((k, v)) = line.split_once('=') else {
                    return Err(Error::input(
                        Location::new(&file, lineno, col),
                        format!("expected `key=value` in [{g}:vars]"),
                    ));
                };
                let value_col = col + line.len() - v.trim_start().len();
                let v = unquote(v.trim());
                let grp = b.group(g);
                grp.vars
                    .insert(k.trim().to_string(), yaml::typed_scalar(&v));
                grp.var_locs.insert(
                    k.trim().to_string(),
                    Location::new(&file, lineno, value_col),
                );
            }
            Section::Children(g) => {
                let child = line.to_string();
                b.group(&child);
                b.group(g).children.push(child);
            }
        }
    }
    Ok(b)
}

pub(super) fn unquote(v: &str) -> String {
    for q in ['"', '\''] {
        if v.len() >= 2 && v.starts_with(q) && v.ends_with(q) {
            return v[1..v.len() - 1].to_string();
        }
    }
    v.to_string()
}

/// Words of an INI host line, with their byte offsets; quotes group words (`k="a b"`).
fn split_ini_words(line: &str) -> std::result::Result<Vec<(usize, String)>, (usize, String)> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut start = None;
    let mut quote: Option<(char, usize)> = None;
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (Some((q, _)), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => {
                start.get_or_insert(i);
                quote = Some((c, i));
            }
            (None, c) if c.is_whitespace() => {
                if let Some(s) = start.take() {
                    out.push((s, std::mem::take(&mut cur)));
                }
            }
            (None, '#') if start.is_none() => break,
            (None, c) => {
                start.get_or_insert(i);
                cur.push(c);
            }
        }
    }
    if let Some((_, at)) = quote {
        return Err((at, "unterminated quote".into()));
    }
    if let Some(s) = start {
        out.push((s, cur));
    }
    Ok(out)
}
