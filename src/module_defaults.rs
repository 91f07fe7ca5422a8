//! `module_defaults`: arguments a play, block, role, import or task gives every task of a
//! module that does not set them itself (short names and FQCNs alike, as in Ansible).

use crate::error::{Error, Result};
use crate::modules;
use crate::modules::args::Args;
use crate::yaml::{self, Doc};
use marked_yaml::Node;
use serde_json::Map;
use std::collections::BTreeMap;

/// Canonical module name → its default arguments, as `Args` (with their places).
#[derive(Debug, Clone, Default)]
pub(crate) struct ModuleDefaults(BTreeMap<String, Args>);

impl ModuleDefaults {
    /// `module_defaults: {apt: {update_cache: true}, ansible.builtin.file: {owner: root}}`
    /// (also a list of such mappings); each argument is checked against its module.
    pub(crate) fn parse(doc: &Doc, node: &Node) -> Result<ModuleDefaults> {
        let maps: Vec<&Node> = match node {
            Node::Sequence(seq) => seq.iter().collect(),
            other => vec![other],
        };
        let mut out = ModuleDefaults::default();
        let mut errors = Vec::new();
        for m in maps {
            let Node::Mapping(m) = m else {
                return Err(Error::input(
                    doc.loc(m),
                    format!(
                        "`module_defaults` must be a mapping of module names, found {}",
                        yaml::kind(m)
                    ),
                ));
            };
            for (k, v) in m.iter() {
                let name = k.as_str();
                if name.starts_with("group/") {
                    errors.push(
                        Error::input(
                            doc.key_loc(k),
                            format!(
                                "module groups (`{name}`) are not supported in `module_defaults`"
                            ),
                        )
                        .with_hint("name each module"),
                    );
                    continue;
                }
                let Some(module) = modules::registry::canonical(name) else {
                    let mut e = Error::input(
                        doc.key_loc(k),
                        format!("unknown module `{name}` in `module_defaults`"),
                    );
                    if let Some(s) = crate::error::suggest(name, modules::registry::names()) {
                        e = e.with_hint(format!("did you mean `{s}`?"));
                    }
                    errors.push(e);
                    continue;
                };
                let Node::Mapping(args) = v else {
                    errors.push(Error::input(
                        doc.loc(v),
                        format!(
                            "the defaults of `{name}` must be a mapping, found {}",
                            yaml::kind(v)
                        ),
                    ));
                    continue;
                };
                let entry = out.0.entry(module.to_string()).or_insert_with(|| Args {
                    map: Map::new(),
                    locs: Default::default(),
                    key_locs: Default::default(),
                    loc: doc.loc(v),
                });
                let mut these = Args {
                    map: Map::new(),
                    locs: Default::default(),
                    key_locs: Default::default(),
                    loc: doc.loc(v),
                };
                for (ak, av) in args.iter() {
                    let a = ak.as_str().to_string();
                    these.map.insert(a.clone(), yaml::to_value(av));
                    these.locs.insert(a.clone(), doc.loc(av));
                    these.key_locs.insert(a, doc.key_loc(ak));
                }
                if let Err(e) = modules::registry::check_arg_names(module, &these) {
                    errors.push(e);
                    continue;
                }
                entry.map.extend(these.map);
                entry.locs.extend(these.locs);
                entry.key_locs.extend(these.key_locs);
            }
        }
        match errors.len() {
            0 => Ok(out),
            _ => Err(Error::many(errors)),
        }
    }

    /// `inner`'s defaults over these, argument by argument.
    pub(crate) fn extend(&mut self, inner: &ModuleDefaults) {
        for (m, args) in &inner.0 {
            match self.0.get_mut(m) {
                Some(mine) => {
                    mine.map.extend(args.map.clone());
                    mine.locs.extend(args.locs.clone());
                    mine.key_locs.extend(args.key_locs.clone());
                }
                None => {
                    self.0.insert(m.clone(), args.clone());
                }
            }
        }
    }

    /// Gives a task of `module` (its canonical name) the defaults it does not set itself.
    pub(crate) fn apply(&self, module: &str, args: &mut Args) {
        let Some(d) = self.0.get(module) else {
            return;
        };
        for (k, v) in &d.map {
            if !args.map.contains_key(k) {
                args.map.insert(k.clone(), v.clone());
                args.locs.insert(k.clone(), d.loc_of(k).clone());
                if let Some(kl) = d.key_locs.get(k) {
                    args.key_locs.insert(k.clone(), kl.clone());
                }
            }
        }
    }
}
