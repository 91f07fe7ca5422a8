//! Template files rendered once for every host and build that reads the same values. The
//! `template` module's action is built three times per host (validation, the batched probe,
//! the run), and most hosts of a play read the same values in a given template: its output is
//! a function of its text and those values alone, unless it loads other files, reads the
//! clock, randomness or a lookup. Such a template is rendered every time.

use crate::template_strict::{names_in, names_read};
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{LazyLock, Mutex};

/// Filters and functions whose output is not a function of their input (checked in the text:
/// a function is no variable the template reads).
const IMPURE_WORDS: &[&str] = &[
    "random",
    "shuffle",
    "password_hash",
    "strftime",
    "lookup",
    "query",
    "q(",
    "now(",
];

/// Variables that hold more than the host's own values.
const IMPURE_NAMES: &[&str] = &["hostvars", "vars"];

/// A render's key: the template and what it read, each name with its value (None: undefined),
/// also the names the values read in turn (a value holding `{{ }}` renders when read).
pub(crate) struct RenderMemo {
    key: (String, PathBuf),
    reads: Vec<(String, Option<Value>)>,
}

type Kept = HashMap<(String, PathBuf), Vec<(Vec<(String, Option<Value>)>, String)>>;

static KEPT: LazyLock<Mutex<Kept>> = LazyLock::new(Default::default);

/// At most this many templates, and renders of each, are kept.
const UP_TO: usize = 256;

impl RenderMemo {
    /// The key of rendering `text` (from `dir`) with these variables, if its output may be
    /// kept.
    pub(crate) fn of<'v>(
        text: &str,
        dir: &Path,
        get: &dyn Fn(&str) -> Option<&'v Value>,
    ) -> Option<RenderMemo> {
        if crate::jinja::loads_files(text) || IMPURE_WORDS.iter().any(|w| text.contains(w)) {
            return None;
        }
        let names = names_in(&Value::String(text.to_string()));
        if IMPURE_NAMES.iter().any(|n| names.contains(*n)) {
            return None;
        }
        let mut reads = Vec::new();
        for n in names_read(names, get) {
            let v = get(&n).cloned();
            // A value that renders when read is held to the same rules as the template.
            if let Some(v) = &v
                && (names_in(v)
                    .iter()
                    .any(|m| IMPURE_NAMES.contains(&m.as_str()))
                    || impure_value(v))
            {
                return None;
            }
            reads.push((n, v));
        }
        Some(RenderMemo {
            key: (text.to_string(), dir.to_path_buf()),
            reads,
        })
    }

    /// What an earlier render that read the same values gave.
    pub(crate) fn kept(&self) -> Option<String> {
        let kept = KEPT.lock().unwrap_or_else(|e| e.into_inner());
        let renders = kept.get(&self.key)?;
        renders
            .iter()
            .find(|(reads, _)| *reads == self.reads)
            .map(|(_, out)| out.clone())
    }

    /// Keeps `out`, this render's output.
    pub(crate) fn keep(self, out: &str) {
        let mut kept = KEPT.lock().unwrap_or_else(|e| e.into_inner());
        if kept.len() >= UP_TO && !kept.contains_key(&self.key) {
            return;
        }
        let renders = kept.entry(self.key).or_default();
        if renders.len() < UP_TO && !renders.iter().any(|(r, _)| *r == self.reads) {
            renders.push((self.reads, out.to_string()));
        }
    }
}

/// Whether a value holds a template with one of `IMPURE_WORDS`.
fn impure_value(v: &Value) -> bool {
    match v {
        Value::String(s) => {
            crate::jinja::has_template(s) && IMPURE_WORDS.iter().any(|w| s.contains(w))
        }
        Value::Array(a) => a.iter().any(impure_value),
        Value::Object(o) => o.values().any(impure_value),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Kept per template, folder and values read (through values that read others); never for
    /// a template whose output is more than that.
    #[test]
    fn a_render_is_reused_only_with_the_same_values_read() {
        let dir = Path::new("/t");
        let text = "server {{ name }}; root {{ root }};\n";
        let vars = json!({"name": "a", "root": "{{ base }}/www", "base": "/srv", "other": 1});
        let memo = |m: &Value, t: &str, d: &Path| {
            let o = m.as_object().unwrap();
            RenderMemo::of(t, d, &|n| o.get(n))
        };
        let first = memo(&vars, text, dir).unwrap();
        assert_eq!(first.kept(), None);
        first.keep("rendered");
        type Row<'a> = (Value, &'a str, &'a str, Option<&'a str>);
        let table: &[Row] = &[
            (vars.clone(), text, "/t", Some("rendered")),
            // A variable it does not read.
            (
                json!({"name": "a", "root": "{{ base }}/www", "base": "/srv", "other": 2}),
                text,
                "/t",
                Some("rendered"),
            ),
            (
                json!({"name": "b", "root": "{{ base }}/www", "base": "/srv"}),
                text,
                "/t",
                None,
            ),
            // Read through `root`.
            (
                json!({"name": "a", "root": "{{ base }}/www", "base": "/opt"}),
                text,
                "/t",
                None,
            ),
            (
                json!({"name": "a", "root": "{{ base }}/www"}),
                text,
                "/t",
                None,
            ),
            (vars.clone(), text, "/u", None),
            (vars.clone(), "server {{ name }};\n", "/t", None),
        ];
        for (m, t, d, want) in table {
            let got = memo(m, t, Path::new(d)).unwrap().kept();
            assert_eq!(got.as_deref(), *want, "{m} {t:?} {d}");
        }
        // nginx's own `include` is text, not a statement.
        let nginx = "include uwsgi_params;\nserver_name {{ name }};\n";
        memo(&vars, nginx, dir).unwrap().keep("nginx");
        assert_eq!(
            memo(&vars, nginx, dir).unwrap().kept().as_deref(),
            Some("nginx")
        );
        for impure in [
            "{% include 'x' %}",
            "{{ lookup('file', 'x') }}",
            "{{ 60 | random }}",
            "{{ now() }}",
            "{{ hostvars[h].x }}",
            "{{ '%Y' | strftime }}",
            "{{ q('env', 'HOME') }}",
            "{{ vars['x' ~ n] }}",
        ] {
            assert!(memo(&vars, impure, dir).is_none(), "{impure}");
        }
        // Also through a value the template reads.
        for value in [
            "{{ lookup('pipe', 'date') }}",
            "{{ hostvars.b.x }}",
            "{{ 9 | random }}",
        ] {
            let m = json!({"name": value, "root": "/srv"});
            assert!(memo(&m, text, dir).is_none(), "{value}");
        }
    }
}
