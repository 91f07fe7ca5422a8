//! The playbook strings that only print variables (`"{{ root }}/d{{ item }}"`, `"{{ item.name }}"`),
//! rendered without the template engine. A loop renders its task's arguments once per item,
//! in validation, in the batched probe and in the run: most of them are this simple, and the
//! engine's parse, rewrite and strictness passes cost more than the rendering itself.
//!
//! `render` answers only where the answer is certainly the engine's (a table test holds the
//! two side by side); anything else, and every error, is `None`: the engine renders it.

use crate::jinja_rewrite::has_template;
use serde_json::Value;

/// Names that are not variables in an expression, or that the engine gives a meaning of its
/// own: left to it.
const RESERVED: &[&str] = &[
    "true",
    "false",
    "none",
    "True",
    "False",
    "None",
    "and",
    "or",
    "not",
    "in",
    "is",
    "if",
    "else",
    "loop",
    "lookup",
    "query",
    "q",
    "range",
    "dict",
    "lipsum",
    "cycler",
    "joiner",
    "namespace",
    "undef",
    "now",
    "omit",
    "vars",
    "hostvars",
    "self",
    "varargs",
    "kwargs",
];

/// Attribute names a dict answers with a method before a key of that name (Jinja's `getattr`
/// tries the attribute first).
const DICT_METHODS: &[&str] = &[
    "items",
    "keys",
    "values",
    "get",
    "pop",
    "popitem",
    "setdefault",
    "update",
    "copy",
    "clear",
    "fromkeys",
];

/// `source` rendered, if it only prints defined variables and attribute paths of them whose
/// values hold no template and print the same in Python and JSON; `get` reads a variable.
pub(crate) fn render<'a>(source: &str, get: &dyn Fn(&str) -> Option<&'a Value>) -> Option<Value> {
    if source.contains("{%")
        || source.contains("{#")
        || source.contains('\r')
        || source.starts_with("#jinja2:")
    {
        return None;
    }
    let want = trailing_newlines(source);
    // One expression (one trailing newline allowed) keeps its value's type.
    let one = source.strip_suffix('\n').unwrap_or(source);
    if let Some(inner) = one.strip_prefix("{{").and_then(|r| r.strip_suffix("}}"))
        && !inner.contains("{{")
        && !inner.contains("}}")
    {
        let v = lookup(inner, get)?;
        if !plain(v) {
            return None;
        }
        return Some(match v {
            Value::String(s) if want > trailing_newlines(s) => {
                Value::String(format!("{s}{}", "\n".repeat(want - trailing_newlines(s))))
            }
            other => other.clone(),
        });
    }
    // Text: Jinja drops the source's one trailing newline, then plumb puts back as many as
    // the source had.
    let mut rest = one;
    let mut out = String::with_capacity(source.len() + 16);
    while let Some(i) = rest.find("{{") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let j = after.find("}}")?;
        match lookup(&after[..j], get)? {
            Value::String(s) if !has_template(s) => out.push_str(s),
            Value::Number(n) if n.is_i64() || n.is_u64() => out.push_str(&n.to_string()),
            Value::Bool(b) => out.push_str(if *b { "True" } else { "False" }),
            _ => return None,
        }
        rest = &after[j + 2..];
    }
    out.push_str(rest);
    let have = trailing_newlines(&out);
    if want > have {
        out.push_str(&"\n".repeat(want - have));
    }
    Some(Value::String(out))
}

fn trailing_newlines(s: &str) -> usize {
    s.len() - s.trim_end_matches('\n').len()
}

/// The value of `expr` if it is `name` or `name.key.key...`, every part there.
fn lookup<'a>(expr: &str, get: &dyn Fn(&str) -> Option<&'a Value>) -> Option<&'a Value> {
    let expr = expr.trim_matches(' ');
    let mut parts = expr.split('.');
    let root = parts.next().filter(|r| ident(r) && !RESERVED.contains(r))?;
    let mut v = get(root)?;
    for key in parts {
        if !ident(key) || DICT_METHODS.contains(&key) {
            return None;
        }
        v = v.as_object()?.get(key)?;
    }
    Some(v)
}

fn ident(s: &str) -> bool {
    let mut b = s.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_alphabetic() || c == b'_')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
        && !s.starts_with("__")
}

/// Holds no template (the engine would render it when read) and no float (printed its own
/// way): the engine would hand it back as it is.
fn plain(v: &Value) -> bool {
    match v {
        Value::String(s) => !has_template(s),
        Value::Number(n) => n.is_i64() || n.is_u64(),
        Value::Array(a) => a.iter().all(plain),
        Value::Object(m) => m.values().all(plain),
        Value::Null | Value::Bool(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars() -> serde_json::Map<String, Value> {
        json!({
            "root": "/srv/app",
            "n": 8080,
            "neg": -3,
            "big": 18446744073709551615u64,
            "flag": true,
            "off": false,
            "nothing": null,
            "f": 1.5,
            "nl": "two\n\n",
            "list": ["a", 1, true, null, {"k": "v"}],
            "fl": [1.0],
            "d": {"name": "web", "port": 80, "items": "shadowed", "inner": {"x": "deep"}},
            "tpl": "{{ root }}/x",
            "in_list": ["{{ root }}"],
            "item": "it",
            "loop": "not a variable here",
            "True": "a keyword",
            "__hidden": "x",
            "_ok": "underscore",
            "a1": "digits",
        })
        .as_object()
        .unwrap()
        .clone()
    }

    /// Every source the fast path renders, it renders as the engine does; the ones it leaves
    /// to the engine are marked.
    #[test]
    fn renders_exactly_what_the_engine_renders_or_declines() {
        let fast_ones = [
            "{{ root }}",
            "{{root}}",
            "{{ root }}\n",
            "{{ root }}/d{{ item }}",
            "{{ root }}/d{{ item }}\n",
            "{{ root }}/d{{ item }}\n\n",
            "x{{ flag }}\n",
            "{{ flag }}\n",
            "{{ flag }}",
            "{{ off }}{{ n }}",
            "{{ n }}",
            "{{ n }}\n",
            "port={{ n }} neg={{ neg }} big={{ big }}",
            "{{ nothing }}",
            "{{ nl }}",
            "{{ nl }}\n",
            "{{ nl }}\n\n\n",
            "<{{ nl }}>\n",
            "{{ nl }}x\n",
            "{{ list }}",
            "{{ d }}",
            "{{ d.name }}:{{ d.port }}",
            "{{ d.inner.x }}",
            "{{ d.inner }}",
            "a }} b {{ root }} }}}",
            "{ {{ root }} }",
            "{{ _ok }}{{ a1 }}",
            "{{ root  }}",
        ];
        let declined = [
            "{{ root | upper }}",
            "{{ f }}",
            "{{ f }}x",
            "{{ fl }}",
            "x{{ nothing }}",
            "x{{ list }}",
            "{{ tpl }}",
            "x{{ tpl }}",
            "{{ in_list }}",
            "{{ missing }}",
            "{{ d.missing }}",
            "{{ d.items }}",
            "{{ d.items }}x",
            "{{ d.name.x }}",
            "{{ root.x }}",
            "{{ loop }}",
            "{{ True }}",
            "{{ __hidden }}",
            "{{- root }}",
            "{{ root -}}",
            "{{ 'a' }}",
            "{{ d['name'] }}",
            "{{ list.0 }}",
            "{% if flag %}x{% endif %}",
            "{# c #}{{ root }}",
            "{{ root }}\r\n",
            "#jinja2: trim_blocks: False\n{{ root }}",
            "{{ root }",
            "{{ root\n}}",
            "{{ root }}{{ item",
        ];
        let map = std::sync::Arc::new(vars());
        let ctx = crate::render_ctx::RenderCtx::default();
        let get = |n: &str| map.get(n);
        for src in fast_ones {
            let fast = render(src, &get);
            let engine = crate::jinja::render_str(src, &map, &ctx).ok();
            assert!(fast.is_some(), "{src:?} should render without the engine");
            assert_eq!(fast, engine, "{src:?}");
        }
        for src in declined {
            assert_eq!(
                render(src, &get),
                None,
                "{src:?} should be left to the engine"
            );
        }
    }
}
