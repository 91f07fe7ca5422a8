//! YAML with positions. marked-yaml keeps a span on every node, so checks made after parsing
//! (unknown module, missing file, bad `when`) can still point at file:line:col. serde_yaml has no
//! such spans; it serves for plain data where positions are not needed (`-e @vars.yml`).

use crate::error::{Error, Result};
use crate::location::Location;
use marked_yaml::{LoaderOptions, Node};
use serde_json::Value;
use std::path::PathBuf;
use std::sync::Arc;

pub use marked_yaml::types::{MarkedMappingNode, MarkedScalarNode, MarkedSequenceNode};

/// One parsed YAML file: its root node and its path, for locations.
pub struct Doc {
    pub file: Arc<PathBuf>,
    pub root: Node,
}

impl Doc {
    pub fn parse(file: PathBuf, text: &str, top_sequence: bool) -> Result<Doc> {
        let file = Arc::new(file);
        // prevent_coercion makes the loader remember which scalars were quoted.
        let mut opts = LoaderOptions::default()
            .error_on_duplicate_keys(true)
            .prevent_coercion(true);
        opts = if top_sequence {
            opts.toplevel_sequence()
        } else {
            opts.toplevel_mapping()
        };
        // An empty file is an empty document, not an error of the YAML library's wording.
        if text
            .lines()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#') || l.trim() == "---")
        {
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
        let root = marked_yaml::parse_yaml_with_options(0, text, opts)
            .map_err(|e| load_error(&file, e))?;
        Ok(Doc { file, root })
    }

    pub fn loc(&self, node: &Node) -> Location {
        loc_of(&self.file, node.span())
    }

    pub fn key_loc(&self, key: &MarkedScalarNode) -> Location {
        loc_of(&self.file, key.span())
    }
}

pub fn loc_of(file: &Arc<PathBuf>, span: &marked_yaml::Span) -> Location {
    match span.start() {
        Some(m) => Location::new(file, m.line(), m.column()),
        None => Location::new(file, 1, 1),
    }
}

fn load_error(file: &Arc<PathBuf>, e: marked_yaml::LoadError) -> Error {
    use marked_yaml::LoadError::*;
    let at = |m: &marked_yaml::Marker| Location::new(file, m.line(), m.column());
    match &e {
        TopLevelMustBeMapping(m) => Error::input(at(m), "expected a mapping at the top level"),
        TopLevelMustBeSequence(m) => Error::input(
            at(m),
            "expected a list of plays at the top level (each starting with `- hosts: ...`)",
        ),
        UnexpectedAnchor(m) => Error::input(at(m), "YAML anchors and aliases are not supported")
            .with_hint("repeat the value, or move it into `vars` and use `{{ name }}`"),
        MappingKeyMustBeScalar(m) => Error::input(at(m), "mapping keys must be plain strings"),
        UnexpectedTag(m) => Error::input(at(m), "YAML tags (`!something`) are not supported"),
        ScanError(m, err) => {
            let text = err.to_string();
            // yaml-rust appends its own " at line L column C"; we print the location ourselves.
            let msg = match text.find(" at line ") {
                Some(i) => text[..i].to_string(),
                None => text,
            };
            let mut m = *m;
            // yaml-rust's scanner columns are 0-based in errors.
            m.set_column(m.column() + 1);
            Error::input(at(&m), format!("YAML syntax error: {msg}"))
        }
        DuplicateKey(inner) => {
            let first = loc_of(file, inner.prev_key.span());
            Error::input(
                loc_of(file, inner.key.span()),
                format!(
                    "duplicate key `{}` (first defined at line {})",
                    inner.key.as_str(),
                    first.line
                ),
            )
        }
    }
}

/// A node's YAML type, for "expected X, found Y" messages.
pub fn kind(node: &Node) -> &'static str {
    match node {
        Node::Scalar(_) => "a scalar",
        Node::Mapping(_) => "a mapping",
        Node::Sequence(_) => "a list",
    }
}

/// Plain scalars get YAML types (bool, int, float, null), including YAML 1.1's yes/no that
/// Ansible users write; quoted scalars stay strings. Numbers with a leading zero stay strings so
/// that `mode: 0644` keeps its octal digits.
pub fn scalar_value(s: &MarkedScalarNode) -> Value {
    let text = s.as_str();
    if !s.may_coerce() {
        return Value::String(text.to_string());
    }
    typed_scalar(text)
}

pub fn typed_scalar(text: &str) -> Value {
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

pub fn to_value(node: &Node) -> Value {
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

    #[test]
    fn syntax_errors_have_a_location() {
        let err = Doc::parse("t.yml".into(), "- hosts: all\n  tasks: [\n", true)
            .err()
            .unwrap();
        match err {
            Error::Input {
                loc: Some(loc),
                msg,
                ..
            } => {
                assert!(msg.starts_with("YAML syntax error"), "{msg}");
                assert!(loc.line >= 2, "{loc}");
            }
            other => panic!("{other:?}"),
        }
    }
}
