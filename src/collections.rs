//! `collections` (on plays, role metadata, blocks and tasks): the collections a short module
//! name is looked for in, in order, before `ansible.builtin`/`ansible.legacy`, as in Ansible.

use crate::error::{Error, Result};
use crate::yaml::{self, Doc};
use marked_yaml::Node;

#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Collections {
    names: Vec<String>,
}

impl Collections {
    /// A list of `namespace.name` strings (one string is taken as a list of one).
    pub(crate) fn parse(doc: &Doc, node: &Node) -> Result<Collections> {
        let items: Vec<&Node> = match node {
            Node::Sequence(seq) => seq.iter().collect(),
            other @ Node::Scalar(_) => vec![other],
            other => {
                return Err(Error::input(
                    doc.loc(other),
                    format!(
                        "`collections` must be a list of collection names, found {}",
                        yaml::kind(other)
                    ),
                ));
            }
        };
        let mut names = Vec::new();
        for n in items {
            let name = crate::task_values::scalar_string(doc, n, "collections")?;
            if !is_collection_name(&name) {
                return Err(
                    Error::input(doc.loc(n), format!("`{name}` is not a collection name"))
                        .with_hint("a collection is `namespace.name`, e.g. `community.general`"),
                );
            }
            names.push(name);
        }
        Ok(Collections { names })
    }

    /// The canonical module a task key names: a FQCN as it is; a short name first as a
    /// module of each listed collection, then as plumb knows it (`ansible.builtin`, and the
    /// short names Ansible routes to their collections, such as `ufw`).
    pub(crate) fn resolve(&self, key: &str) -> Option<&'static str> {
        if key.contains('.') {
            return crate::modules::registry::canonical(key);
        }
        self.names
            .iter()
            .find_map(|c| crate::modules::registry::canonical(&format!("{c}.{key}")))
            .or_else(|| crate::modules::registry::canonical(key))
    }
}

/// `namespace.name`: two identifiers (letters, digits, `_`, not starting with a digit).
fn is_collection_name(s: &str) -> bool {
    let ident = |p: &str| {
        p.chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    matches!(s.split_once('.'), Some((ns, name)) if ident(ns) && ident(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Collections> {
        let doc = Doc::parse("c.yml".into(), text, false).unwrap();
        let Node::Mapping(m) = &doc.root else {
            unreachable!()
        };
        Collections::parse(&doc, m.get_node("collections").unwrap())
    }

    #[test]
    fn names_are_checked() {
        let ok = parse("collections: [community.general, ansible.posix]\n").unwrap();
        assert_eq!(ok.names, ["community.general", "ansible.posix"]);
        assert_eq!(
            parse("collections: community.general\n").unwrap().names,
            ["community.general"]
        );
        for (bad, msg) in [
            (
                "collections: [general]\n",
                "`general` is not a collection name",
            ),
            ("collections: [a.b.c]\n", "`a.b.c` is not a collection name"),
            ("collections: [1x.y]\n", "`1x.y` is not a collection name"),
            (
                "collections: {a: b}\n",
                "`collections` must be a list of collection names, found a mapping",
            ),
        ] {
            assert_eq!(parse(bad).unwrap_err().to_string(), msg, "{bad}");
        }
    }

    #[test]
    fn short_names_resolve_through_the_list() {
        let general = parse("collections: [community.general]\n").unwrap();
        let docker = parse("collections: [community.docker]\n").unwrap();
        let none = Collections::default();
        let table: &[(&Collections, &str, Option<&str>)] = &[
            (&general, "ufw", Some("ufw")),
            (&general, "community.general.ufw", Some("ufw")),
            (&general, "copy", Some("copy")),
            (&none, "ufw", Some("ufw")),
            (&docker, "docker_container", None),
            (&docker, "copy", Some("copy")),
            (&general, "community.docker.docker_container", None),
        ];
        for (c, key, want) in table {
            assert_eq!(c.resolve(key), *want, "{key} with {:?}", c.names);
        }
    }
}
