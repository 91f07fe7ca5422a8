//! A task's module arguments as written: a mapping, the `key=value` string form, or the
//! free-form text of `command`/`shell`, split as Ansible's `split_args` and `parse_kv` do.

use crate::error::{Error, Result, suggest};
use crate::location::Location;
use crate::modules;
use crate::modules::args::Args;
use crate::yaml::{self, Doc};
use marked_yaml::Node;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// Where a task's arguments come from.
pub(crate) enum ArgSource<'a> {
    /// The value under the module's key.
    Node(&'a Node),
    /// The text after the module's name in `action: copy src=a dest=b`.
    Text(String, Location),
    /// `action: {module: copy, src: a}`: the mapping, without its `module`.
    ActionMap(&'a Node),
}

/// The options Ansible takes out of a free-form `command`/`shell` line: the rest is the command.
const FREE_FORM_OPTIONS: &[&str] = &[
    "creates",
    "removes",
    "chdir",
    "executable",
    "warn",
    "stdin",
    "stdin_add_newline",
    "strip_empty_ends",
];

pub(crate) fn parse_args(
    doc: &Doc,
    module: &str,
    src: ArgSource,
    extra: Option<&Node>,
) -> Result<Args> {
    let loc = match &src {
        ArgSource::Node(n) | ArgSource::ActionMap(n) => doc.loc(n),
        ArgSource::Text(_, l) => l.clone(),
    };
    let mut args = Args {
        map: Map::new(),
        locs: HashMap::new(),
        key_locs: HashMap::new(),
        loc: loc.clone(),
    };
    let text = match src {
        ArgSource::Node(Node::Mapping(m)) | ArgSource::ActionMap(Node::Mapping(m)) => {
            for (k, v) in m.iter().filter(|(k, _)| k.as_str() != "module") {
                args.map.insert(k.as_str().to_string(), yaml::to_value(v));
                args.locs.insert(k.as_str().to_string(), doc.loc(v));
                args.key_locs.insert(k.as_str().to_string(), doc.key_loc(k));
            }
            None
        }
        ArgSource::Node(Node::Scalar(s)) => Some(s.as_str().to_string()),
        ArgSource::Text(t, _) => Some(t),
        ArgSource::Node(_) | ArgSource::ActionMap(_) => {
            return Err(Error::input(
                loc,
                format!("the arguments of `{module}` must be a mapping, found a list"),
            ));
        }
    };
    if let Some(text) = text {
        let bad = |e: String| Error::input(loc.clone(), e);
        if modules::registry::takes_free_form(module) {
            let (raw, opts) = free_form(&text);
            for (k, v) in opts {
                args.map.insert(k.clone(), v);
                args.locs.insert(k, loc.clone());
            }
            if !raw.is_empty() || args.map.is_empty() {
                args.map.insert("_raw".into(), Value::String(raw));
                args.locs.insert("_raw".into(), loc.clone());
            }
        } else {
            for (w, k, v) in key_values(&text).map_err(bad)? {
                let Some(k) = k else {
                    return Err(Error::input(
                        loc,
                        format!("expected `key=value` arguments for `{module}`, found `{w}`"),
                    )
                    .with_hint(format!(
                        "write the arguments as a mapping under `{module}:`"
                    )));
                };
                args.map.insert(k.clone(), v);
                args.locs.insert(k, loc.clone());
            }
        }
    }
    if let Some(extra) = extra {
        let Node::Mapping(m) = extra else {
            return Err(Error::input(doc.loc(extra), "`args` must be a mapping"));
        };
        for (k, v) in m.iter() {
            args.map.insert(k.as_str().to_string(), yaml::to_value(v));
            args.locs.insert(k.as_str().to_string(), doc.loc(v));
            args.key_locs.insert(k.as_str().to_string(), doc.key_loc(k));
        }
    }
    Ok(args)
}

/// Ansible's `split_args`: words separated by whitespace, except inside quotes and inside
/// `{{ }}`, `{% %}` and `{# #}`; each word as written (quotes kept) with its byte range.
fn split_args(text: &str) -> std::result::Result<Vec<(usize, usize)>, String> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let (mut start, mut quote, mut depth) = (None::<usize>, None::<u8>, 0usize);
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let two = b.get(i + 1).copied();
        if let Some(q) = quote {
            if c == b'\\' {
                i += 2;
                continue;
            }
            if c == q {
                quote = None;
            }
        } else if c == b'{' && matches!(two, Some(b'{' | b'%' | b'#')) {
            start.get_or_insert(i);
            depth += 1;
            i += 2;
            continue;
        } else if depth > 0 && matches!(c, b'}' | b'%' | b'#') && two == Some(b'}') {
            depth -= 1;
            i += 2;
            continue;
        } else if c == b'"' || c == b'\'' {
            start.get_or_insert(i);
            quote = Some(c);
        } else if depth == 0 && c.is_ascii_whitespace() {
            if let Some(s) = start.take() {
                out.push((s, i));
            }
        } else {
            start.get_or_insert(i);
        }
        i += 1;
    }
    if quote.is_some() {
        return Err("unbalanced quotes in the arguments".into());
    }
    if depth > 0 {
        return Err("unbalanced jinja2 block or quotes in the arguments".into());
    }
    if let Some(s) = start {
        out.push((s, b.len()));
    }
    Ok(out)
}

/// Strips one pair of matching quotes around a whole value, as Ansible's `unquote`.
fn unquote(v: &str) -> Option<&str> {
    let b = v.as_bytes();
    (b.len() >= 2 && (b[0] == b'"' || b[0] == b'\'') && b[b.len() - 1] == b[0])
        .then(|| &v[1..v.len() - 1])
}

/// `key=value` of one word, if it is one: the `=` before any quote or template.
fn key_value(word: &str) -> Option<(String, Value)> {
    let eq = word.find('=')?;
    let k = &word[..eq];
    if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return None;
    }
    let v = word[eq + 1..].trim();
    Some((
        k.to_string(),
        match unquote(v) {
            Some(inner) => Value::String(inner.to_string()),
            None => yaml::typed_scalar(v),
        },
    ))
}

/// The words of a `key=value` line: (word, key, value); key None for a word without `=`.
type Kv = (String, Option<String>, Value);

fn key_values(text: &str) -> std::result::Result<Vec<Kv>, String> {
    Ok(split_args(text)?
        .into_iter()
        .map(|(s, e)| {
            let w = &text[s..e];
            match key_value(w) {
                Some((k, v)) => (w.to_string(), Some(k), v),
                None => (w.to_string(), None, Value::Null),
            }
        })
        .collect())
}

/// A free-form command line: the command as written without the options Ansible takes out
/// of it (`creates=`, `chdir=` …), and those options.
pub(crate) fn free_form(text: &str) -> (String, Vec<(String, Value)>) {
    let mut opts = Vec::new();
    let mut raw = String::new();
    let mut last = 0;
    // A line Ansible could not split either is left whole: sh will say what is wrong with it.
    let Ok(words) = split_args(text) else {
        return (text.to_string(), opts);
    };
    for (s, e) in words {
        if let Some((k, v)) = key_value(&text[s..e])
            && FREE_FORM_OPTIONS.contains(&k.as_str())
        {
            raw.push_str(&text[last..s]);
            last = e;
            opts.push((k, v));
        }
    }
    raw.push_str(&text[last..]);
    if opts.is_empty() {
        return (text.to_string(), opts);
    }
    (raw.trim().to_string(), opts)
}

/// `action: copy src=a dest=b` or `action: {module: copy, src: a}` (also `local_action`): the
/// module's canonical name and where its arguments are.
pub(crate) fn action<'a>(doc: &Doc, node: &'a Node, key: &str) -> Result<(String, ArgSource<'a>)> {
    let (name, at, src) = match node {
        Node::Scalar(s) => {
            let text = s.as_str().trim_start();
            let (name, rest) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
            (
                name.to_string(),
                doc.loc(node),
                ArgSource::Text(rest.trim_start().to_string(), doc.loc(node)),
            )
        }
        Node::Mapping(m) => match m.get_node("module") {
            Some(n @ Node::Scalar(s)) => (
                s.as_str().to_string(),
                doc.loc(n),
                ArgSource::ActionMap(node),
            ),
            _ => {
                return Err(Error::input(
                    doc.loc(node),
                    format!("`{key}` as a mapping needs `module: NAME`"),
                )
                .with_hint(format!("`{key}: {{module: copy, src: a, dest: b}}`")));
            }
        },
        other => {
            return Err(Error::input(
                doc.loc(other),
                format!(
                    "`{key}` must be `MODULE ARGS` or a mapping, found {}",
                    yaml::kind(other)
                ),
            ));
        }
    };
    match modules::registry::canonical(&name) {
        Some(m) => Ok((m.to_string(), src)),
        None => {
            let mut e = Error::input(at, format!("unknown module `{name}` in `{key}`"));
            if let Some(s) = suggest(&name, modules::registry::names()) {
                e = e.with_hint(format!("did you mean `{s}`?"));
            }
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn words(t: &str) -> Vec<&str> {
        split_args(t)
            .unwrap()
            .into_iter()
            .map(|(s, e)| &t[s..e])
            .collect()
    }

    #[test]
    fn split_keeps_templates_and_quotes_whole() {
        let table: &[(&str, &[&str])] = &[
            (
                "name={{ item }} state=present",
                &["name={{ item }}", "state=present"],
            ),
            (
                "name=\"{{ a }} b\" mode=0644",
                &["name=\"{{ a }} b\"", "mode=0644"],
            ),
            (
                "msg='it is {{ x | default(\"a b\") }}'  x=1",
                &["msg='it is {{ x | default(\"a b\") }}'", "x=1"],
            ),
            // As Ansible's: a `{% %}` tag only groups what is inside the tag itself.
            (
                "dest={% if a %}x y{% endif %} b={{ x }}",
                &["dest={% if a %}x", "y{% endif %}", "b={{ x }}"],
            ),
            ("  a=1\n b=2 ", &["a=1", "b=2"]),
        ];
        for (t, want) in table {
            assert_eq!(&words(t), want, "{t}");
        }
        assert!(split_args("a='b").is_err());
        assert!(split_args("a={{ b").is_err());
    }

    #[test]
    fn key_values_unquote_and_type() {
        let kv = key_values("name=\"{{ a }} b\" update_cache=yes mode=0644 n=3").unwrap();
        let got: Vec<(Option<String>, Value)> = kv.into_iter().map(|(_, k, v)| (k, v)).collect();
        assert_eq!(
            got,
            vec![
                (Some("name".into()), json!("{{ a }} b")),
                (Some("update_cache".into()), json!(true)),
                (Some("mode".into()), json!("0644")),
                (Some("n".into()), json!(3)),
            ]
        );
    }

    #[test]
    fn free_form_takes_out_ansibles_options_only() {
        type Row<'a> = (&'a str, &'a str, Value);
        let table: &[Row] = &[
            (
                "/bin/foo creates=/path chdir=/x",
                "/bin/foo",
                json!({"creates": "/path", "chdir": "/x"}),
            ),
            (
                "tar xf a.tgz removes=/tmp/a.tgz executable=/bin/bash",
                "tar xf a.tgz",
                json!({"removes": "/tmp/a.tgz", "executable": "/bin/bash"}),
            ),
            ("echo a=b 'creates=x'", "echo a=b 'creates=x'", json!({})),
            (
                "set -e\necho {{ x }}\ncreates={{ marker }}\n",
                "set -e\necho {{ x }}",
                json!({"creates": "{{ marker }}"}),
            ),
            ("echo  two   spaces", "echo  two   spaces", json!({})),
            (
                "echo 'unbalanced creates=/a",
                "echo 'unbalanced creates=/a",
                json!({}),
            ),
        ];
        for (t, raw, opts) in table {
            let (r, o) = free_form(t);
            assert_eq!(&r, raw, "{t}");
            let o: Map<String, Value> = o.into_iter().collect();
            assert_eq!(&Value::Object(o), opts, "{t}");
        }
    }
}
