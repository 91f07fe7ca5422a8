//! A render error, typed: an undefined variable (with its name) or anything else, at its line
//! and column; and the conversion from MiniJinja's errors.

use super::names::first_undefined_name;
use super::names::undeclared_variables;
use super::vars::Vars;
use minijinja::ErrorKind;
use std::sync::Arc;

/// A render error: where (1-based line and column inside the template or expression) and what.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum JinjaError {
    /// A variable (or an attribute of one) that is not defined was used.
    #[error("{line}:{col}: '{name}' is undefined")]
    Undefined {
        name: String,
        line: usize,
        col: usize,
        message: String,
    },
    /// Any other error: syntax, a failed filter, a type error, `mandatory`, ...
    #[error("{line}:{col}: {message}")]
    Other {
        line: usize,
        col: usize,
        message: String,
    },
}

impl JinjaError {
    pub fn line(&self) -> usize {
        match self {
            JinjaError::Undefined { line, .. } | JinjaError::Other { line, .. } => *line,
        }
    }
    pub fn col(&self) -> usize {
        match self {
            JinjaError::Undefined { col, .. } | JinjaError::Other { col, .. } => *col,
        }
    }
    pub fn message(&self) -> String {
        match self {
            JinjaError::Undefined { message, .. } | JinjaError::Other { message, .. } => {
                message.clone()
            }
        }
    }
}

pub(super) fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(src.len());
    let before = &src[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0)
        + 1;
    (line, col)
}

pub(super) fn convert_error(
    e: &minijinja::Error,
    source: &str,
    header_lines: usize,
    vars: &Arc<Vars>,
) -> JinjaError {
    let (mut line, mut col) = (e.line().unwrap_or(1), 1);
    let mut span_text = String::new();
    if let (Some(range), Some(src)) = (e.range(), e.template_source()) {
        let (l, c) = line_col(src, range.start);
        line = l;
        col = c;
        span_text = src.get(range).unwrap_or_default().to_string();
    }
    line += header_lines;
    let detail = e
        .detail()
        .map(str::to_string)
        .unwrap_or_else(|| e.kind().to_string());
    if e.kind() == ErrorKind::UndefinedError {
        // Look in the whole `{{ }}`/`{% %}` around the error, skipping the template's own
        // names (loop variables, `set`, macro arguments).
        let whole = e.template_source().unwrap_or(source);
        let expr = match e.range() {
            Some(r) => enclosing_tag(whole, r.start),
            None => strip_braces(source).to_string(),
        };
        let locals_ok = undeclared_variables(whole);
        let name = first_undefined_name(&expr, vars)
            .filter(|n| locals_ok.is_empty() || locals_ok.contains(n))
            .unwrap_or_else(|| {
                let t = if span_text.is_empty() {
                    &expr
                } else {
                    &span_text
                };
                strip_braces(t).trim().to_string()
            });
        let message = match e.detail() {
            Some("Mandatory variable not defined.") => {
                format!("Mandatory variable '{name}' not defined.")
            }
            Some(d) if d != "undefined value" && d != "undefined value printed" => d.to_string(),
            _ => format!("'{name}' is undefined"),
        };
        return JinjaError::Undefined {
            message,
            name,
            line,
            col,
        };
    }
    let mut message = detail;
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        message.push_str(&format!(": {s}"));
        src = s.source();
    }
    if e.kind() == ErrorKind::SyntaxError {
        message = format!("syntax error: {message}");
    }
    JinjaError::Other { line, col, message }
}

fn strip_braces(s: &str) -> &str {
    let t = s.trim();
    let t = t.strip_prefix("{{").unwrap_or(t);
    let t = t.strip_suffix("}}").unwrap_or(t);
    t.trim().trim_matches('-').trim()
}

/// The text of the `{{ }}` or `{% %}` tag around byte `at` (inner part).
fn enclosing_tag(src: &str, at: usize) -> String {
    let at = at.min(src.len());
    let before = &src[..at];
    let start = match (before.rfind("{{"), before.rfind("{%")) {
        (Some(a), Some(b)) => a.max(b) + 2,
        (Some(a), None) | (None, Some(a)) => a + 2,
        _ => 0,
    };
    let after = &src[at..];
    let end = match (after.find("}}"), after.find("%}")) {
        (Some(a), Some(b)) => at + a.min(b),
        (Some(a), None) | (None, Some(a)) => at + a,
        _ => src.len(),
    };
    src.get(start..end).unwrap_or_default().to_string()
}
