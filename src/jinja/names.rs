//! Which variable an expression reads without a guard, and which one is undefined: the names
//! the template engine reports, located in the text.

use super::vars::Vars;
use super::ws::{Ws, split_header};
use crate::jinja_rewrite::{is_ident, rewrite_source, skip_bracket, skip_string, skip_ws};
use minijinja::Environment;
use std::collections::HashSet;
use std::sync::Arc;

/// The variables a template (or a playbook string) reads from outside itself.
pub fn undeclared_variables(source: &str) -> HashSet<String> {
    let env = Environment::new();
    let mut ws = Ws {
        trim_blocks: true,
        lstrip_blocks: false,
        keep_trailing_newline: false,
    };
    let body = split_header(source, &mut ws);
    let src = rewrite_source(&body);
    match env.template_from_str(&src) {
        Ok(t) => t
            .undeclared_variables(false)
            .into_iter()
            .filter(|n| !matches!(n.as_str(), "__pyfmt" | "lookup" | "query" | "q"))
            .collect(),
        Err(_) => HashSet::new(),
    }
}

/// The byte offset of `name` as a whole identifier (outside strings) in `text`.
pub(super) fn find_ident(text: &str, name: &str) -> Option<usize> {
    ident_offsets(text, name).into_iter().next()
}

fn ident_offsets(text: &str, name: &str) -> Vec<usize> {
    let b = text.as_bytes();
    let mut out = vec![];
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\'' || b[i] == b'"' {
            i = skip_string(b, i);
            continue;
        }
        if is_ident(b[i]) && (i == 0 || (!is_ident(b[i - 1]) && b[i - 1] != b'.')) {
            let start = i;
            while i < b.len() && is_ident(b[i]) {
                i += 1;
            }
            if &text[start..i] == name {
                out.push(start);
            }
            continue;
        }
        i += 1;
    }
    out
}

/// True if every use of `name` in `expr` is tested for definedness or given a default.
pub(super) fn all_uses_guarded(expr: &str, name: &str) -> bool {
    let b = expr.as_bytes();
    ident_offsets(expr, name).into_iter().all(|start| {
        let mut i = start + name.len();
        // skip an attribute/item chain
        loop {
            let j = skip_ws(b, i);
            if j < b.len() && b[j] == b'.' {
                i = j + 1;
                while i < b.len() && is_ident(b[i]) {
                    i += 1;
                }
            } else if j < b.len() && b[j] == b'[' {
                i = skip_bracket(b, j);
            } else {
                i = j;
                break;
            }
        }
        let rest: String = expr[i..].split_whitespace().collect::<Vec<_>>().join(" ");
        [
            "is defined",
            "is not defined",
            "is undefined",
            "is not undefined",
            "is ansible.builtin.defined",
            "|default",
            "| default",
            "|d(",
            "| d(",
            "|d ",
            "| d ",
            "| mandatory",
            "|mandatory",
        ]
        .iter()
        .any(|g| rest.starts_with(g))
    })
}

pub(super) const KEYWORDS: &[&str] = &[
    "and",
    "or",
    "not",
    "in",
    "is",
    "if",
    "else",
    "true",
    "false",
    "none",
    "True",
    "False",
    "None",
    "loop",
    "range",
    "dict",
    "lookup",
    "query",
    "q",
    "namespace",
    "__pyfmt",
    "caller",
    "varargs",
    "kwargs",
    "self",
    "super",
    "omit",
    "vars",
    "ansible_managed",
];

/// The first root identifier in `text` that the variables do not define.
pub(super) fn first_undefined_name(text: &str, vars: &Arc<Vars>) -> Option<String> {
    let b = text.as_bytes();
    let mut i = 0;
    let mut prev_sig: u8 = b' ';
    let mut prev_word = String::new();
    while i < b.len() {
        let c = b[i];
        if c == b'\'' || c == b'"' {
            i = skip_string(b, i);
            prev_sig = b'"';
            continue;
        }
        if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            let word = &text[start..i];
            let rest = text[i..].trim_start();
            let is_kwarg = rest.starts_with('=') && !rest.starts_with("==");
            if prev_sig != b'.'
                && prev_sig != b'|'
                && prev_word != "is"
                && !is_kwarg
                && !KEYWORDS.contains(&word)
                && vars.get(word).is_none()
            {
                return Some(word.to_string());
            }
            prev_word = word.to_string();
            prev_sig = b'a';
            continue;
        }
        if !c.is_ascii_whitespace() {
            prev_sig = c;
            prev_word.clear();
        }
        i += 1;
    }
    None
}
