//! YAML text into marked nodes, as Ansible's loader reads it: anchors and aliases, merge keys
//! (`<<: *base`), and the tags playbooks use (`!vault` values are decrypted here, `!!str` keeps a
//! value a string). Built on yaml-rust2's event parser, which gives every event its position.

use crate::error::{Error, Result};
use crate::location::Location;
use marked_yaml::types::{MarkedMappingNode, MarkedScalarNode, MarkedSequenceNode};
use marked_yaml::{Marker, Node, Span};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser, Tag};
use yaml_rust2::scanner::{Marker as YamlMarker, TScalarStyle};

#[derive(Default)]
struct Events(Vec<(Event, YamlMarker)>);

impl MarkedEventReceiver for Events {
    fn on_event(&mut self, ev: Event, mark: YamlMarker) {
        self.0.push((ev, mark));
    }
}

/// The first document of `text`; `top_sequence` says whether it must be a list or a mapping.
pub(crate) fn load(file: &Arc<PathBuf>, text: &str, top_sequence: bool) -> Result<Node> {
    let mut events = Events::default();
    Parser::new_from_str(text)
        .load(&mut events, false)
        .map_err(|e| {
            let m = e.marker();
            syntax_error(file, text, m.line(), m.col() + 1, e.info())
        })?;
    // Every `!vault` value of the file decrypted side by side before the tree is built.
    let vaulted: Vec<&str> = events
        .0
        .iter()
        .filter_map(|(ev, _)| match ev {
            Event::Scalar(v, _, _, Some(t)) if t.handle == "!" && t.suffix == "vault" => {
                Some(v.as_str())
            }
            _ => None,
        })
        .collect();
    crate::vault::prefetch(&vaulted);
    let mut b = Builder {
        file,
        text,
        events: events.0,
        at: 0,
        anchors: HashMap::new(),
        expanded: 0,
    };
    b.document(top_sequence)
}

struct Builder<'a> {
    file: &'a Arc<PathBuf>,
    text: &'a str,
    events: Vec<(Event, YamlMarker)>,
    at: usize,
    anchors: HashMap<usize, (Node, usize)>,
    /// Nodes copied in by aliases so far.
    expanded: usize,
}

const MAX_EXPANDED: usize = 1_000_000;

/// A YAML syntax error at a 1-based line and column, with a hint for the usual causes.
fn syntax_error(file: &Arc<PathBuf>, text: &str, line_no: usize, col: usize, info: &str) -> Error {
    let line = text.lines().nth(line_no.saturating_sub(1)).unwrap_or("");
    let indent = line.chars().take_while(|c| *c == ' ').count() + 1;
    let mut col = col;
    let hint = if info.contains("did not find expected key") {
        // The parser stops inside the line; the problem is where the line starts.
        col = col.min(indent);
        Some("this line is not indented like the keys above it")
    } else if info.contains("mapping values are not allowed") {
        Some("a value that contains `: ` must be quoted")
    } else if info.contains("cannot start any token") && line.contains('\t') {
        Some("YAML does not allow tabs for indentation; use spaces")
    } else if info.contains("did not find expected node content") {
        Some("a value that starts with `{{` must be quoted: \"{{ ... }}\"")
            .filter(|_| line.contains("{{"))
    } else {
        None
    };
    let e = Error::input(
        Location::new(file, line_no, col),
        format!("YAML syntax error: {info}"),
    );
    match hint {
        Some(h) => e.with_hint(h),
        None => e,
    }
}

fn size(n: &Node) -> usize {
    match n {
        Node::Scalar(_) => 1,
        Node::Sequence(s) => 1 + s.iter().map(size).sum::<usize>(),
        Node::Mapping(m) => 1 + m.values().map(size).sum::<usize>(),
    }
}

fn marker(m: &YamlMarker) -> Marker {
    Marker::new(0, m.index(), m.line(), m.col() + 1)
}

impl Builder<'_> {
    fn loc(&self, m: &Marker) -> Location {
        Location::new(self.file, m.line(), m.column())
    }

    fn next(&mut self) -> (Event, Marker) {
        let last = self.events.len().saturating_sub(1);
        let (ev, m) = self.events[self.at.min(last)].clone();
        self.at += 1;
        (ev, marker(&m))
    }

    fn peek(&self) -> Option<&Event> {
        self.events.get(self.at).map(|(e, _)| e)
    }

    fn document(&mut self, top_sequence: bool) -> Result<Node> {
        // StreamStart, then DocumentStart (or StreamEnd for an empty stream).
        loop {
            match self.peek() {
                Some(Event::StreamStart | Event::DocumentStart) => {
                    self.next();
                }
                Some(Event::StreamEnd) | None => {
                    let (_, m) = self.next();
                    let span = Span::new_with_marks(m, m);
                    return Ok(if top_sequence {
                        Node::from(MarkedSequenceNode::new_empty(span))
                    } else {
                        Node::from(MarkedMappingNode::new_empty(span))
                    });
                }
                _ => break,
            }
        }
        let start = self.at;
        let node = self.node()?;
        let m = marker(&self.events[start].1);
        match (&node, top_sequence) {
            (Node::Sequence(_), true) | (Node::Mapping(_), false) => Ok(node),
            (_, true) => Err(Error::input(
                self.loc(&m),
                "expected a list of plays at the top level (each starting with `- hosts: ...`)",
            )),
            (_, false) => Err(Error::input(
                self.loc(&m),
                "expected a mapping at the top level",
            )),
        }
    }

    fn node(&mut self) -> Result<Node> {
        let (ev, m) = self.next();
        match ev {
            Event::Scalar(val, style, aid, tag) => {
                let node = Node::from(self.scalar(val, style, tag, m)?);
                Ok(self.anchor(aid, node))
            }
            Event::SequenceStart(aid, tag) => {
                self.tag_allowed(tag.as_ref(), &["seq"], &m)?;
                let mut items = Vec::new();
                while !matches!(self.peek(), Some(Event::SequenceEnd) | None) {
                    items.push(self.node()?);
                }
                let (_, end) = self.next();
                let node = Node::from(MarkedSequenceNode::new(Span::new_with_marks(m, end), items));
                Ok(self.anchor(aid, node))
            }
            Event::MappingStart(aid, tag) => {
                self.tag_allowed(tag.as_ref(), &["map"], &m)?;
                let node = self.mapping(m)?;
                Ok(self.anchor(aid, node))
            }
            Event::Alias(aid) => {
                let (node, size) = self.anchors.get(&aid).cloned().ok_or_else(|| {
                    Error::input(self.loc(&m), "this alias names no anchor defined before it")
                })?;
                // Aliases of aliases grow exponentially ("billion laughs"): bound the total.
                self.expanded += size;
                if self.expanded > MAX_EXPANDED {
                    return Err(Error::input(
                        self.loc(&m),
                        format!("aliases here expand to over {MAX_EXPANDED} YAML nodes"),
                    ));
                }
                Ok(node)
            }
            other => Err(Error::input(
                self.loc(&m),
                format!("unexpected YAML event {other:?}"),
            )),
        }
    }

    fn anchor(&mut self, aid: usize, node: Node) -> Node {
        if aid != 0 {
            self.anchors.insert(aid, (node.clone(), size(&node)));
        }
        node
    }

    fn mapping(&mut self, start: Marker) -> Result<Node> {
        let mut explicit: Vec<(MarkedScalarNode, Node)> = Vec::new();
        let mut merged: Vec<(MarkedScalarNode, Node)> = Vec::new();
        while !matches!(self.peek(), Some(Event::MappingEnd) | None) {
            let key_at = self.at;
            let key = self.node()?;
            let key_mark = marker(&self.events[key_at].1);
            let Node::Scalar(key) = key else {
                let e = Error::input(self.loc(&key_mark), "mapping keys must be plain strings");
                let line = self
                    .text
                    .lines()
                    .nth(key_mark.line().saturating_sub(1))
                    .unwrap_or("");
                return Err(if line.contains("{{") {
                    e.with_hint("a value that starts with `{{` must be quoted: \"{{ ... }}\"")
                } else {
                    e
                });
            };
            let value = self.node()?;
            if key.as_str() == "<<" && key.may_coerce() {
                self.merge_into(&mut merged, value, &key_mark)?;
                continue;
            }
            if let Some((prev, _)) = explicit.iter().find(|(k, _)| k.as_str() == key.as_str()) {
                let first = prev.span().start().map(|m| m.line()).unwrap_or(0);
                return Err(Error::input(
                    self.loc(&key_mark),
                    format!(
                        "duplicate key `{}` (first defined at line {first})",
                        key.as_str()
                    ),
                ));
            }
            explicit.push((key, value));
        }
        let (_, end) = self.next();
        // As PyYAML does: merged keys first, in order; explicit keys win and come after.
        let merged = merged
            .into_iter()
            .filter(|(k, _)| !explicit.iter().any(|(e, _)| e.as_str() == k.as_str()))
            .collect::<Vec<_>>();
        let mut map: MarkedMappingNode = merged.into_iter().chain(explicit).collect();
        *map.span_mut() = Span::new_with_marks(start, end);
        Ok(Node::from(map))
    }

    /// `<<: *a` or `<<: [*a, *b]`: earlier mappings win over later ones, as in YAML 1.1.
    fn merge_into(
        &self,
        merged: &mut Vec<(MarkedScalarNode, Node)>,
        value: Node,
        at: &Marker,
    ) -> Result<()> {
        let sources = match value {
            Node::Mapping(m) => vec![m],
            Node::Sequence(s) => s
                .iter()
                .map(|n| n.as_mapping().cloned())
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| {
                    Error::input(self.loc(at), "a merge key (`<<`) takes mappings only")
                })?,
            Node::Scalar(_) => {
                return Err(Error::input(
                    self.loc(at),
                    "a merge key (`<<`) takes a mapping or a list of mappings",
                ));
            }
        };
        for source in sources {
            for (k, v) in source.iter() {
                if !merged.iter().any(|(m, _)| m.as_str() == k.as_str()) {
                    merged.push((k.clone(), v.clone()));
                }
            }
        }
        Ok(())
    }

    fn tag_allowed(&self, tag: Option<&Tag>, core: &[&str], m: &Marker) -> Result<()> {
        match tag {
            None => Ok(()),
            Some(t) if t.handle == "tag:yaml.org,2002:" && core.contains(&t.suffix.as_str()) => {
                Ok(())
            }
            Some(t) => Err(Error::input(
                self.loc(m),
                format!(
                    "the YAML tag `{}{}` is not supported here",
                    short_handle(t),
                    t.suffix
                ),
            )),
        }
    }

    fn scalar(
        &self,
        val: String,
        style: TScalarStyle,
        tag: Option<Tag>,
        m: Marker,
    ) -> Result<MarkedScalarNode> {
        let span = Span::new_start(m);
        let plain = matches!(style, TScalarStyle::Plain);
        let Some(tag) = tag else {
            let mut node = MarkedScalarNode::new(span, val);
            node.set_coerce(plain);
            return Ok(node);
        };
        let (handle, suffix) = (short_handle(&tag), tag.suffix.as_str());
        match (handle, suffix) {
            ("!", "vault") => {
                let plain = crate::vault::reveal(&val).map_err(|e| {
                    Error::vault(
                        Error::input(self.loc(&m), format!("vaulted value: {e}")).with_hint(
                            "give the vault password with --vault-password-file, --vault-id or --ask-vault-pass",
                        ),
                    )
                })?;
                let mut node = MarkedScalarNode::new(span, plain);
                node.set_coerce(false);
                Ok(node)
            }
            // `!unsafe` marks text Ansible must not template; plumb keeps it as a string.
            ("!", "unsafe") | ("!!", "str") => {
                let mut node = MarkedScalarNode::new(span, val);
                node.set_coerce(false);
                Ok(node)
            }
            ("!!", "int" | "float" | "bool" | "null") => {
                let mut node = MarkedScalarNode::new(span, val);
                node.set_coerce(true);
                Ok(node)
            }
            _ => Err(Error::input(
                self.loc(&m),
                format!("the YAML tag `{handle}{suffix}` is not supported"),
            )),
        }
    }
}

fn short_handle(t: &Tag) -> &str {
    if t.handle == "tag:yaml.org,2002:" {
        "!!"
    } else {
        &t.handle
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Node> {
        load(&Arc::new(PathBuf::from("t.yml")), text, false)
    }

    fn get<'a>(n: &'a Node, path: &[&str]) -> &'a Node {
        path.iter().fold(n, |n, k| {
            n.as_mapping()
                .and_then(|m| m.get_node(k))
                .unwrap_or_else(|| panic!("no {k}"))
        })
    }

    #[test]
    fn anchors_aliases_and_merge_keys() {
        let n = parse(
            "base: &base\n  user: www\n  port: 80\nsite:\n  <<: *base\n  port: 8080\nlist: &l [a, b]\nagain: *l\n",
        )
        .unwrap();
        assert_eq!(
            get(&n, &["site", "user"]).as_scalar().unwrap().as_str(),
            "www"
        );
        assert_eq!(
            get(&n, &["site", "port"]).as_scalar().unwrap().as_str(),
            "8080"
        );
        let keys: Vec<&str> = get(&n, &["site"])
            .as_mapping()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        assert_eq!(keys, ["user", "port"]);
        assert_eq!(get(&n, &["again"]).as_sequence().unwrap().len(), 2);
    }

    #[test]
    fn alias_bombs_are_refused() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..8 {
            let p = i - 1;
            text.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let e = parse(&text).unwrap_err();
        assert!(e.to_string().contains("expand to over"), "{e}");
    }

    #[test]
    fn merge_of_several_first_wins() {
        let n = parse("a: &a {x: 1}\nb: &b {x: 2, y: 2}\nc:\n  <<: [*a, *b]\n").unwrap();
        assert_eq!(get(&n, &["c", "x"]).as_scalar().unwrap().as_str(), "1");
        assert_eq!(get(&n, &["c", "y"]).as_scalar().unwrap().as_str(), "2");
    }

    #[test]
    fn quoting_is_remembered_and_str_tags_keep_strings() {
        let n = parse("a: yes\nb: 'yes'\nc: !!str 10\n").unwrap();
        assert!(get(&n, &["a"]).as_scalar().unwrap().may_coerce());
        assert!(!get(&n, &["b"]).as_scalar().unwrap().may_coerce());
        assert!(!get(&n, &["c"]).as_scalar().unwrap().may_coerce());
    }

    #[test]
    fn errors_point_at_their_place() {
        let e = parse("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(e.to_string(), "duplicate key `a` (first defined at line 1)");
        let Error::Input { loc: Some(l), .. } = e else {
            panic!()
        };
        assert_eq!((l.line, l.col), (3, 1));
        let e = parse("a: !custom x\n").unwrap_err();
        assert_eq!(e.to_string(), "the YAML tag `!custom` is not supported");
        let e = parse("a: *nope\n").unwrap_err();
        assert!(e.to_string().contains("YAML syntax error") || e.to_string().contains("alias"));
    }

    #[test]
    fn a_vault_value_without_a_password_is_an_error_at_its_line() {
        let e = parse("x: 1\npw: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  3031\n").unwrap_err();
        let Error::Vault(inner) = &e else {
            panic!("{e:?}")
        };
        let Error::Input { loc: Some(l), .. } = &**inner else {
            panic!("{inner:?}")
        };
        assert_eq!(l.line, 3, "the line of the vault header");
        assert!(e.to_string().starts_with("vaulted value:"), "{e}");
    }
}
