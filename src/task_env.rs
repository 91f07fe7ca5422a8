//! `environment` on a play, a role, a block, an include or a task: layers from the outermost
//! in, each a mapping of names to templated values or one template that renders to a mapping
//! (`environment: "{{ app_env }}"`). As in Ansible, the layers are rendered on the host and
//! merged name by name, the innermost (the task's own) winning.

use crate::error::{Error, Result};
use crate::location::Spanned;
use crate::template::Vars;
use crate::yaml::{self, Doc};
use marked_yaml::Node;
use serde_json::Value;
use std::collections::BTreeMap;

#[derive(Debug, Clone)]
pub(crate) enum EnvLayer {
    /// `{NAME: value}`: names checked as written, values templates.
    Map(BTreeMap<String, Spanned<Value>>),
    /// A template whose value must be such a mapping; its names are checked on the host.
    Template(Spanned<Value>),
}

/// Whether a shell can export `name`.
fn exportable(name: &str) -> bool {
    name.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `environment`: a mapping, a template, or a list of those (Ansible takes all three).
pub(crate) fn parse(doc: &Doc, node: &Node) -> Result<Vec<EnvLayer>> {
    match node {
        Node::Mapping(m) => {
            let mut env = BTreeMap::new();
            for (k, v) in m.iter() {
                let name = k.as_str();
                if !exportable(name) {
                    return Err(Error::input(
                        doc.key_loc(k),
                        format!("`{name}` is not an environment variable name"),
                    ));
                }
                env.insert(
                    name.to_string(),
                    Spanned {
                        value: yaml::to_value(v),
                        loc: doc.loc(v),
                    },
                );
            }
            Ok(vec![EnvLayer::Map(env)])
        }
        Node::Scalar(s) if crate::template::has_template(s.as_str()) => {
            Ok(vec![EnvLayer::Template(Spanned {
                value: yaml::to_value(node),
                loc: doc.loc(node),
            })])
        }
        // `environment:` with nothing: nothing to export, as in Ansible.
        Node::Scalar(s) if s.as_str().trim().is_empty() || s.as_str() == "~" => Ok(Vec::new()),
        Node::Sequence(seq) => {
            let mut layers = Vec::new();
            for n in seq.iter() {
                if matches!(n, Node::Sequence(_)) {
                    return Err(Error::input(
                        doc.loc(n),
                        "`environment` as a list takes mappings or templates, found a list",
                    ));
                }
                layers.extend(parse(doc, n)?);
            }
            Ok(layers)
        }
        other => Err(Error::input(
            doc.loc(other),
            format!(
                "`environment` must be a mapping or a template of one, found {}",
                match other {
                    Node::Scalar(s) => format!("`{}`", s.as_str()),
                    n => yaml::kind(n).to_string(),
                }
            ),
        )
        .with_hint("`environment: {NAME: value}` or `environment: \"{{ app_env }}\"`")),
    }
}

/// Every template the layers hold, with its place: what validation checks.
pub(crate) fn templates(env: &[EnvLayer]) -> Vec<&Spanned<Value>> {
    env.iter()
        .flat_map(|l| match l {
            EnvLayer::Map(m) => m.values().collect::<Vec<_>>(),
            EnvLayer::Template(t) => vec![t],
        })
        .collect()
}

/// The layers rendered with `vars` and merged, the later ones winning name by name.
pub(crate) fn render(env: &[EnvLayer], vars: &Vars) -> Result<BTreeMap<String, String>> {
    let text = |v: Value| match v {
        Value::String(t) => t,
        other => other.to_string(),
    };
    let mut merged = BTreeMap::new();
    for layer in env {
        match layer {
            EnvLayer::Map(m) => {
                for (k, v) in m {
                    merged.insert(k.clone(), text(vars.render_value(&v.value, &v.loc)?));
                }
            }
            EnvLayer::Template(t) => match vars.render_value(&t.value, &t.loc)? {
                Value::Object(o) => {
                    for (k, v) in o {
                        if !exportable(&k) {
                            return Err(Error::input(
                                t.loc.clone(),
                                format!("`environment`: `{k}` is not an environment variable name"),
                            ));
                        }
                        merged.insert(k, text(v));
                    }
                }
                // Ansible skips an empty one.
                Value::Null => {}
                Value::String(s) if s.is_empty() => {}
                other => {
                    return Err(Error::input(
                        t.loc.clone(),
                        format!(
                            "`environment` must be a mapping, but this renders to {}",
                            crate::modules::args::type_name(&other)
                        ),
                    ));
                }
            },
        }
    }
    Ok(merged)
}

/// `export NAME='value'` lines for `env`, rendered with `vars`.
pub(crate) fn exports(env: &[EnvLayer], vars: &Vars) -> Result<String> {
    let mut s = String::new();
    for (k, v) in render(env, vars)? {
        s.push_str(&format!("export {k}={}\n", crate::shell::quote(&v)));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn layers(yaml: &str) -> Result<Vec<EnvLayer>> {
        let text = format!("environment: {yaml}\n");
        let doc = Doc::parse("t.yml".into(), &text, false).unwrap();
        let Node::Mapping(m) = &doc.root else {
            unreachable!()
        };
        parse(&doc, m.get_node("environment").unwrap())
    }

    /// (layers outermost first, variables) → the merged environment, or the error's text.
    #[test]
    fn layers_render_and_merge_innermost_winning() {
        type Row<'a> = (&'a [&'a str], Value, std::result::Result<&'a str, &'a str>);
        let table: &[Row] = &[
            (&["{A: 1, B: x}"], json!({}), Ok("A=1 B=x")),
            (&["{A: 1}", "{A: 2}"], json!({}), Ok("A=2")),
            (
                &["\"{{ env }}\"", "{B: task}"],
                json!({"env": {"A": "play", "B": "play"}}),
                Ok("A=play B=task"),
            ),
            (
                &["{B: play}", "\"{{ env }}\""],
                json!({"env": {"A": "x"}}),
                Ok("A=x B=play"),
            ),
            (
                &["[{A: \"{{ x }}\"}, \"{{ more }}\"]"],
                json!({"x": "one", "more": {"C": 3}}),
                Ok("A=one C=3"),
            ),
            (&["\"{{ none }}\""], json!({"none": null}), Ok("")),
            (&["~"], json!({}), Ok("")),
            (
                &["\"{{ env }}\""],
                json!({"env": "A=1"}),
                Err("`environment` must be a mapping, but this renders to a string"),
            ),
            (
                &["\"{{ env }}\""],
                json!({"env": {"NOT-OK": 1}}),
                Err("`NOT-OK` is not an environment variable name"),
            ),
            (
                &["plain"],
                json!({}),
                Err("`environment` must be a mapping or a template of one, found `plain`"),
            ),
            (&["\"{{ nope }}\""], json!({}), Err("undefined")),
        ];
        for (written, vars, want) in table {
            let got = written
                .iter()
                .map(|y| layers(y))
                .collect::<Result<Vec<_>>>()
                .map(|ls| ls.into_iter().flatten().collect::<Vec<_>>())
                .and_then(|env| render(&env, &Vars::new(vars.as_object().unwrap().clone())))
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .map_err(|e| e.to_string());
            match (&got, want) {
                (Ok(g), Ok(w)) => assert_eq!(g, w, "{written:?}"),
                (Err(e), Err(w)) => assert!(e.contains(w), "{written:?}: {e}"),
                _ => panic!("{written:?}: {got:?}"),
            }
        }
    }
}
