//! The values of task keywords as written: strings, booleans, numbers, `when` lists, tags and
//! `environment`, each checked with the place it was written.

use crate::error::{Error, Result};
use crate::location::Spanned;
use crate::yaml::{self, Doc};
use marked_yaml::Node;
use serde_json::Value;

/// `environment`, as layers from the outermost in (see `task_env.rs`).
pub(crate) type Env = Vec<crate::task_env::EnvLayer>;

/// `environment`: a mapping, a template of one, or a list of those.
pub(crate) fn environment(doc: &Doc, node: &Node) -> Result<Env> {
    crate::task_env::parse(doc, node)
}

/// `tags: web`, `tags: web,db` or `tags: [web, db]`.
pub(crate) fn tag_list(doc: &Doc, node: &Node) -> Result<Vec<String>> {
    name_list(doc, node, "tags")
}

/// `key: a`, `key: a,b` or `key: [a, b]` (Ansible's comma-separated lists).
pub(crate) fn name_list(doc: &Doc, node: &Node, key: &str) -> Result<Vec<String>> {
    let items: Vec<&Node> = match node {
        Node::Sequence(seq) => seq.iter().collect(),
        other => vec![other],
    };
    let mut tags = Vec::new();
    for n in items {
        let s = scalar_string(doc, n, key)?;
        tags.extend(
            s.split(',')
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty()),
        );
    }
    Ok(tags)
}

pub(crate) fn scalar_string(doc: &Doc, node: &Node, key: &str) -> Result<String> {
    match node {
        Node::Scalar(s) => Ok(s.as_str().to_string()),
        other => Err(Error::input(
            doc.loc(other),
            format!("`{key}` must be a string, found {}", yaml::kind(other)),
        )),
    }
}

pub(crate) fn identifier(doc: &Doc, node: &Node, key: &str) -> Result<String> {
    let s = scalar_string(doc, node, key)?;
    let ok = s
        .chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_alphanumeric() || c == '_');
    if !ok {
        return Err(Error::input(
            doc.loc(node),
            format!("`{key}` must be a variable name (letters, digits, `_`), found `{s}`"),
        ));
    }
    Ok(s)
}

/// What was written instead, for "must be X, found Y" messages: a scalar as written.
pub(crate) fn found(node: &Node) -> String {
    match node {
        Node::Scalar(s) => format!("`{}`", s.as_str()),
        other => yaml::kind(other).to_string(),
    }
}

/// Which of the keywords whose innermost level wins a task, or a level around it nearer than
/// the one being applied, already set: an outer level's value is for the others only.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Set {
    pub(crate) ignore_errors: bool,
    pub(crate) no_log: bool,
    pub(crate) diff: bool,
}

/// `become_method`: `sudo` or `su`.
pub(crate) fn become_method(doc: &Doc, node: &Node) -> Result<String> {
    let m = scalar_string(doc, node, "become_method")?;
    let m = m.strip_prefix("ansible.builtin.").unwrap_or(&m).to_string();
    match m.as_str() {
        "sudo" | "su" => Ok(m),
        other => Err(Error::input(
            doc.loc(node),
            format!("`become_method: {other}` is not supported"),
        )
        .with_hint("plumb becomes another user with `sudo` or `su`")),
    }
}

/// `become_exe`: the program `become_method` runs (`/usr/local/bin/sudo`, `su`'s path): one
/// word, a name or a path. Ansible lets it carry flags too; plumb passes its own (see
/// `become_flags`), so a second word is an error rather than a silently changed command.
pub(crate) fn become_exe(doc: &Doc, node: &Node) -> Result<String> {
    let s = scalar_string(doc, node, "become_exe")?;
    let bad = s.is_empty()
        || crate::template::has_template(&s)
        || s.chars()
            .any(|c| c.is_whitespace() || "'\"`$;&|<>(){}*?!\\".contains(c));
    if bad {
        return Err(Error::input(
            doc.loc(node),
            format!("`become_exe: {s}` is not supported"),
        )
        .with_hint("name the program alone, as a name or a path (`/usr/local/bin/sudo`), without a template or flags"));
    }
    Ok(s)
}

/// `port`: the SSH port of a play's hosts that set no `ansible_port`.
pub(crate) fn port(doc: &Doc, node: &Node) -> Result<u16> {
    match yaml::to_value(node) {
        Value::Number(n) if n.as_u64().is_some_and(|p| (1..65536).contains(&p)) => {
            Ok(n.as_u64().unwrap_or_default() as u16)
        }
        Value::String(s) if s.parse::<u16>().is_ok_and(|p| p > 0) => Ok(s.parse().unwrap_or(22)),
        _ => Err(Error::input(
            doc.loc(node),
            format!("`port` must be a port number, found {}", found(node)),
        )
        .with_hint("a port is a number from 1 to 65535")),
    }
}

/// `strategy`: `linear` (Ansible's default), `free` and `host_pinned`. plumb's hosts always
/// run free (see the README); the results are the same.
pub(crate) fn strategy(doc: &Doc, node: &Node) -> Result<()> {
    let s = scalar_string(doc, node, "strategy")?;
    match s.strip_prefix("ansible.builtin.").unwrap_or(&s) {
        "linear" | "free" | "host_pinned" => Ok(()),
        other => Err(Error::input(
            doc.loc(node),
            format!("`strategy: {other}` is not supported"),
        )
        .with_hint("plumb runs `linear`, `free` and `host_pinned` plays (its hosts run free)")),
    }
}

/// `become_flags`: accepted when every flag is one plumb's sudo already runs with (`-H`, and
/// `-n`, or `-S` when a password is given); any other would change how the task runs.
pub(crate) fn become_flags(doc: &Doc, node: &Node) -> Result<()> {
    let s = scalar_string(doc, node, "become_flags")?;
    const SAME: &[&str] = &[
        "-H",
        "--set-home",
        "-n",
        "--non-interactive",
        "-S",
        "--stdin",
    ];
    match s.split_whitespace().find(|w| !SAME.contains(w)) {
        None => Ok(()),
        Some(other) => Err(Error::input(
            doc.loc(node),
            format!("`become_flags: {s}`: `{other}` is not supported"),
        )
        .with_hint("plumb runs `sudo -H -n` (`-S` with a password): `-H`, `-n` and `-S` are accepted, other flags are not")),
    }
}

/// Ansible keywords plumb does not have (yet): an error that says so, never ignored.
pub(crate) const NOT_YET: &[&str] = &["debugger", "port", "fact_path", "max_fail_percentage"];

/// The error for a keyword of `NOT_YET` written where plumb lacks it.
pub(crate) fn not_yet(at: crate::location::Location, key: &str, on: &str) -> Error {
    Error::input(
        at,
        format!("`{key}` is an Ansible {on} keyword plumb does not support yet"),
    )
    .with_hint("see the keyword table in the README")
}

pub(crate) fn boolean(doc: &Doc, node: &Node, key: &str) -> Result<bool> {
    match yaml::to_value(node) {
        Value::Bool(b) => Ok(b),
        _ => Err(Error::input(
            doc.loc(node),
            format!("`{key}` must be true or false, found {}", found(node)),
        )
        .with_hint("write true or false (yes and no work too)")),
    }
}

pub(crate) fn number(doc: &Doc, node: &Node, key: &str) -> Result<f64> {
    match yaml::to_value(node) {
        Value::Number(n) if n.as_f64().is_some_and(|f| f >= 0.0) => Ok(n.as_f64().unwrap()),
        _ => Err(Error::input(
            doc.loc(node),
            format!(
                "`{key}` must be a non-negative number, found {}",
                found(node)
            ),
        )),
    }
}

/// A `when`, each condition of a list on its own, so that an error points at its own line.
pub(crate) fn conditions(doc: &Doc, node: &Node) -> Vec<Spanned<Value>> {
    match node {
        Node::Sequence(seq) => seq
            .iter()
            .map(|n| Spanned {
                value: yaml::to_value(n),
                loc: doc.loc(n),
            })
            .collect(),
        other => vec![Spanned {
            value: yaml::to_value(other),
            loc: doc.loc(other),
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn become_flags_only_those_plumbs_sudo_runs_with() {
        let table: &[(&str, Option<&str>)] = &[
            ("-H -S -n", None),
            ("--set-home", None),
            ("''", None),
            ("-E", Some("`become_flags: -E`: `-E` is not supported")),
            (
                "-H -i",
                Some("`become_flags: -H -i`: `-i` is not supported"),
            ),
            (
                "-s /bin/bash",
                Some("`become_flags: -s /bin/bash`: `-s` is not supported"),
            ),
        ];
        for (flags, want) in table {
            let doc =
                Doc::parse("t.yml".into(), &format!("become_flags: {flags}\n"), false).unwrap();
            let Node::Mapping(m) = &doc.root else {
                unreachable!()
            };
            let got = become_flags(&doc, m.get_node("become_flags").unwrap()).err();
            assert_eq!(got.map(|e| e.to_string()).as_deref(), *want, "{flags}");
        }
    }
}
