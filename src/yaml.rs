//! YAML with positions. marked-yaml keeps a span on every node, so checks made after parsing
//! (unknown module, missing file, bad `when`) can still point at file:line:col. serde_yaml has no
//! such spans; it serves for plain data where positions are not needed (`-e @vars.yml`).

use crate::error::{Error, Result};
use crate::location::Location;
use marked_yaml::Node;
use serde_json::Value;
use std::path::PathBuf;
use std::sync::Arc;

pub(crate) use marked_yaml::types::MarkedScalarNode;

/// One parsed YAML file: its root node and its path, for locations.
pub(crate) struct Doc {
    pub(crate) file: Arc<PathBuf>,
    pub(crate) root: Node,
    /// The source, to place locations where a reader looks (inside quotes, at a key).
    lines: Vec<String>,
}

/// Nothing but blank lines, comments and `---`: an empty YAML document.
pub(crate) fn is_blank(text: &str) -> bool {
    text.lines()
        .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#') || l.trim() == "---")
}

impl Doc {
    /// The items of a top-level list (none if the top level is not one).
    pub(crate) fn items(&self) -> Vec<&Node> {
        self.root
            .as_sequence()
            .map(|s| s.iter().collect())
            .unwrap_or_default()
    }

    pub(crate) fn parse(file: PathBuf, text: &str, top_sequence: bool) -> Result<Doc> {
        let file = Arc::new(file);
        // An empty file is an empty document, not an error of the YAML library's wording.
        if is_blank(text) {
            let what = if top_sequence {
                "a list of plays"
            } else {
                "a mapping"
            };
            return Err(Error::input(
                Location::new(&file, 1, 1),
                format!("the file is empty; expected {what}"),
            ));
        }
        let root = crate::yaml_load::load(&file, text, top_sequence)?;
        crate::fact_need::note_doc(&root);
        Ok(Doc {
            file,
            root,
            lines: text.lines().map(String::from).collect(),
        })
    }

    /// Where a node starts, as a reader sees it: a quoted scalar at its first character inside
    /// the quotes (so offsets into its text land right), a block mapping at its first key.
    pub(crate) fn loc(&self, node: &Node) -> Location {
        let loc = loc_of(&self.file, node.span());
        let first = self
            .lines
            .get(loc.line - 1)
            .and_then(|l| l.chars().nth(loc.col - 1));
        match node {
            Node::Scalar(_) if matches!(first, Some('"' | '\'')) => {
                Location::new(&self.file, loc.line, loc.col + 1)
            }
            // A block mapping's span starts at its first key's `:`; a flow mapping's at `{`.
            Node::Mapping(m) if first != Some('{') => match m.keys().next() {
                Some(k) => self.key_loc(k),
                None => loc,
            },
            _ => loc,
        }
    }

    pub(crate) fn key_loc(&self, key: &MarkedScalarNode) -> Location {
        loc_of(&self.file, key.span())
    }
}

pub(crate) fn loc_of(file: &Arc<PathBuf>, span: &marked_yaml::Span) -> Location {
    match span.start() {
        Some(m) => Location::new(file, m.line(), m.column()),
        None => Location::new(file, 1, 1),
    }
}

/// Where each value of a mapping was written.
pub(crate) fn value_locs(doc: &Doc, node: &Node) -> std::collections::HashMap<String, Location> {
    node.as_mapping()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.as_str().to_string(), doc.loc(v)))
                .collect()
        })
        .unwrap_or_default()
}

/// A node's YAML type, for "expected X, found Y" messages.
pub(crate) fn kind(node: &Node) -> &'static str {
    match node {
        Node::Scalar(_) => "a scalar",
        Node::Mapping(_) => "a mapping",
        Node::Sequence(_) => "a list",
    }
}

/// Plain scalars get YAML types (bool, int, float, null), including YAML 1.1's yes/no that
/// Ansible users write; quoted scalars stay strings. Numbers with a leading zero stay strings so
/// that `mode: 0644` keeps its octal digits.
fn scalar_value(s: &MarkedScalarNode) -> Value {
    let text = s.as_str();
    if !s.may_coerce() {
        return Value::String(text.to_string());
    }
    typed_scalar(text)
}

pub(crate) fn typed_scalar(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" => {
            return Value::Bool(true);
        }
        "false" | "False" | "FALSE" | "no" | "No" | "NO" | "off" | "Off" | "OFF" => {
            return Value::Bool(false);
        }
        _ => {}
    }
    let digits = text.strip_prefix('-').unwrap_or(text);
    let leading_zero = digits.len() > 1 && digits.starts_with('0') && !digits.starts_with("0.");
    if !leading_zero {
        if let Ok(i) = text.parse::<i64>() {
            return Value::from(i);
        }
        if text.contains('.')
            && text
                .chars()
                .all(|c| c.is_ascii_digit() || c == '.' || c == '-')
            && let Ok(f) = text.parse::<f64>()
        {
            return Value::from(f);
        }
    }
    Value::String(text.to_string())
}

pub(crate) fn to_value(node: &Node) -> Value {
    match node {
        Node::Scalar(s) => scalar_value(s),
        Node::Sequence(seq) => Value::Array(seq.iter().map(to_value).collect()),
        Node::Mapping(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.as_str().to_string(), to_value(v)))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_are_typed_like_ansible() {
        assert_eq!(typed_scalar("yes"), Value::Bool(true));
        assert_eq!(typed_scalar("3600"), Value::from(3600));
        assert_eq!(typed_scalar("0644"), Value::from("0644"));
        assert_eq!(typed_scalar("1.5"), Value::from(1.5));
        assert_eq!(typed_scalar("10.0.0.5"), Value::from("10.0.0.5"));
        assert_eq!(typed_scalar("nginx"), Value::from("nginx"));
    }

    #[test]
    fn quoted_scalars_stay_strings() {
        let doc = Doc::parse("t.yml".into(), "a: 'yes'\nb: yes\n", false).unwrap();
        let v = to_value(&doc.root);
        assert_eq!(v["a"], Value::from("yes"));
        assert_eq!(v["b"], Value::Bool(true));
    }

    fn input_err(text: &str) -> (usize, usize, String, Option<String>) {
        match Doc::parse("t.yml".into(), text, true).err().unwrap() {
            Error::Input {
                loc: Some(loc),
                msg,
                hint,
                ..
            } => (loc.line, loc.col, msg, hint),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn syntax_errors_have_a_location() {
        let (line, _, msg, _) = input_err("- hosts: all\n  tasks: [\n");
        assert!(msg.starts_with("YAML syntax error"), "{msg}");
        assert!(line >= 2, "{line}");
    }

    #[test]
    fn misindented_key_points_at_the_key() {
        let (line, col, msg, hint) = input_err(
            "- hosts: all\n  tasks:\n    - apt:\n        name: x\n       state: present\n",
        );
        assert_eq!((line, col), (5, 8));
        assert_eq!(
            msg,
            "YAML syntax error: while parsing a block mapping, did not find expected key"
        );
        assert_eq!(
            hint.unwrap(),
            "this line is not indented like the keys above it"
        );
    }

    #[test]
    fn unquoted_value_with_colon() {
        let (line, col, msg, hint) = input_err("- hosts: all\n  tasks:\n    - debug: msg: a\n");
        // marked-yaml's markers are 1-based already: the caret is on the second `:`.
        assert_eq!((line, col), (3, 17));
        assert!(msg.contains("mapping values are not allowed"), "{msg}");
        assert_eq!(hint.unwrap(), "a value that contains `: ` must be quoted");
    }

    #[test]
    fn locations_skip_quotes_and_start_mappings_at_a_key() {
        let doc = Doc::parse(
            "t.yml".into(),
            "a: \"{{ x }}\"\nb: '{{ y }}'\nc:\n  d: 1\ne: {f: 1}\ng: plain\n",
            false,
        )
        .unwrap();
        let map = doc.root.as_mapping().unwrap();
        let at = |k: &str| {
            let l = doc.loc(map.get_node(k).unwrap());
            (l.line, l.col)
        };
        assert_eq!(at("a"), (1, 5));
        assert_eq!(at("b"), (2, 5));
        assert_eq!(at("c"), (4, 3));
        assert_eq!(at("e"), (5, 4));
        assert_eq!(at("g"), (6, 4));
    }
}
