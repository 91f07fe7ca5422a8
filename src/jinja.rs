//! Jinja2 as ansible-core 2.19 renders it, on MiniJinja.
//!
//! Three entry points: [`render_template`] for template files (the `template` module's rules:
//! `trim_blocks` on, `lstrip_blocks` off, a `#jinja2:` first line that overrides them, Ansible's
//! trailing-newline fixup), [`render_str`] for `{{ }}` inside playbook strings (a string that is
//! exactly one `{{ expr }}` yields the expression's typed value), and [`eval_condition`] for
//! `when:`. Values print as Python's `str()` would; variables whose values hold `{{ }}` are
//! rendered lazily when read, as Ansible does.

use crate::jinja_rewrite::{
    add_missing_else, escape_backslashes, escape_backslashes_in_vars, is_ident, rewrite_expr,
    rewrite_source, skip_bracket, skip_string, skip_ws,
};
use crate::py_value::{from_json, py_output, to_json};
use minijinja::value::{Enumerator, Object, ObjectRepr, Value};
use minijinja::{Environment, ErrorKind, UndefinedBehavior};
use serde_json::Map;
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// The value of `omit`: a parameter whose value is this marker is left out, as in Ansible.
pub const OMIT: &str = "__omit_place_holder__plumb";

/// True if a rendered value is (or is the string) `omit`.
pub fn is_omit(v: &serde_json::Value) -> bool {
    v.as_str() == Some(OMIT)
}

/// Where a render happens: the folders that lookups and includes search.
#[derive(Debug, Clone, Default)]
pub struct RenderCtx {
    /// The playbook's folder: `lookup('file')` looks in its `files/` then in it; includes look
    /// in its `templates/`.
    pub playbook_dir: Option<PathBuf>,
    /// The folder of the template being rendered (template files only).
    pub template_dir: Option<PathBuf>,
    /// Extra folders (a role's `files/`, `templates/`), searched before the playbook's.
    pub search_dirs: Vec<PathBuf>,
    /// The variables are rendered already (plumb resolves them in order before a task, and a
    /// registered result is what the host said): none is rendered again when read, so text a
    /// host returned is never taken for a template, as Ansible marks it unsafe.
    pub resolved: bool,
}

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

thread_local! {
    static DEPTH: Cell<usize> = const { Cell::new(0) };
}

/// The variables of a render: the caller's map, with `{{ }}` inside values rendered when read,
/// and Ansible's defaults (`ansible_managed`, `omit`) underneath.
#[derive(Debug)]
pub(crate) struct Vars {
    raw: Map<String, serde_json::Value>,
    cache: Mutex<HashMap<String, Value>>,
    pub(crate) ctx: RenderCtx,
}

impl Vars {
    pub(crate) fn new(raw: &Map<String, serde_json::Value>, ctx: &RenderCtx) -> Arc<Vars> {
        Arc::new(Vars {
            raw: raw.clone(),
            cache: Mutex::new(HashMap::new()),
            ctx: ctx.clone(),
        })
    }

    /// A variable's value, its templated strings rendered (None if undefined).
    pub(crate) fn get(self: &Arc<Self>, name: &str) -> Option<Value> {
        if let Some(v) = self.cache.lock().ok()?.get(name) {
            return Some(v.clone());
        }
        let v = match self.raw.get(name) {
            Some(raw) if self.ctx.resolved => from_json(raw),
            Some(raw) => self.lazy(raw),
            None => match name {
                "ansible_managed" => Value::from("Ansible managed"),
                "omit" => Value::from(OMIT),
                "vars" => Value::from_dyn_object(self.clone()),
                "hostvars" => crate::hostvars::value(),
                _ => return None,
            },
        };
        self.cache.lock().ok()?.insert(name.to_string(), v.clone());
        Some(v)
    }

    fn lazy(self: &Arc<Self>, raw: &serde_json::Value) -> Value {
        match raw {
            serde_json::Value::String(s) if has_template(s) => {
                let depth = DEPTH.with(|d| d.get());
                if depth > 40 {
                    return Value::from(s.as_str());
                }
                DEPTH.with(|d| d.set(depth + 1));
                let r = render_str_in(s, self);
                DEPTH.with(|d| d.set(depth));
                match r {
                    Ok(v) => v,
                    Err(_) => Value::UNDEFINED,
                }
            }
            serde_json::Value::Array(a) if a.iter().any(needs_render) => {
                Value::from(a.iter().map(|x| self.lazy(x)).collect::<Vec<_>>())
            }
            serde_json::Value::Object(m) if m.values().any(needs_render) => {
                crate::py_value::map_from(m.iter().map(|(k, v)| (k.clone(), self.lazy(v))))
            }
            other => from_json(other),
        }
    }
}

fn needs_render(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::String(s) => has_template(s),
        serde_json::Value::Array(a) => a.iter().any(needs_render),
        serde_json::Value::Object(m) => m.values().any(needs_render),
        _ => false,
    }
}

/// True if a string holds Jinja syntax.
pub fn has_template(s: &str) -> bool {
    s.contains("{{") || s.contains("{%") || s.contains("{#")
}

impl Object for Vars {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.get(key.as_str()?)
    }
    fn enumerate(self: &Arc<Self>) -> Enumerator {
        let mut keys: Vec<Value> = self.raw.keys().map(|k| Value::from(k.as_str())).collect();
        if !self.raw.contains_key("ansible_managed") {
            keys.push(Value::from("ansible_managed"));
        }
        Enumerator::Values(keys)
    }
}

/// Whitespace settings of one render.
#[derive(Debug, Clone, Copy)]
struct Ws {
    trim_blocks: bool,
    lstrip_blocks: bool,
    keep_trailing_newline: bool,
}

thread_local! {
    /// Built environments, one per whitespace setting: building one costs far more than a render.
    static ENVS: std::cell::RefCell<HashMap<(bool, bool, bool), std::rc::Rc<Environment<'static>>>> =
        std::cell::RefCell::new(HashMap::new());
    /// The variables of the renders in progress on this thread (innermost last).
    static CURRENT: std::cell::RefCell<Vec<Arc<Vars>>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The variables of the innermost render in progress (for lookups and the include loader).
pub(crate) fn current_vars() -> Option<Arc<Vars>> {
    CURRENT.with(|c| c.borrow().last().cloned())
}

/// Makes `vars` the current variables until dropped.
struct Scope;

impl Scope {
    fn enter(vars: &Arc<Vars>) -> Scope {
        CURRENT.with(|c| c.borrow_mut().push(vars.clone()));
        Scope
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        CURRENT.with(|c| {
            c.borrow_mut().pop();
        });
    }
}

/// An environment for `ws`. Templates that include or import others get a fresh one, since
/// an environment keeps the templates its loader found and the search path differs per render.
fn env_for(ws: Ws, source: &str) -> std::rc::Rc<Environment<'static>> {
    let loads = ["include", "import", "extends"]
        .iter()
        .any(|w| source.contains(w));
    if loads {
        return std::rc::Rc::new(new_env(ws));
    }
    let key = (ws.trim_blocks, ws.lstrip_blocks, ws.keep_trailing_newline);
    if let Some(env) = ENVS.with(|e| e.borrow().get(&key).cloned()) {
        return env;
    }
    let env = std::rc::Rc::new(new_env(ws));
    ENVS.with(|e| e.borrow_mut().insert(key, env.clone()));
    env
}

fn search_dirs() -> Vec<PathBuf> {
    let Some(vars) = current_vars() else {
        return vec![];
    };
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(d) = &vars.ctx.template_dir {
        dirs.push(d.clone());
    }
    for d in &vars.ctx.search_dirs {
        dirs.push(d.clone());
    }
    if let Some(p) = &vars.ctx.playbook_dir {
        dirs.push(p.join("templates"));
        dirs.push(p.clone());
    }
    dirs
}

fn new_env(ws: Ws) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Chainable);
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    env.set_syntax(
        minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(ws.trim_blocks)
            .lstrip_blocks(ws.lstrip_blocks)
            .keep_trailing_newline(ws.keep_trailing_newline)
            .build()
            .expect("the default delimiters are valid"),
    );
    env.set_formatter(|out, _state, value| {
        if value.is_undefined() {
            return Err(minijinja::Error::new(
                ErrorKind::UndefinedError,
                "undefined value printed",
            ));
        }
        let s = py_output(value);
        out.write_str(&s)
            .map_err(|_| minijinja::Error::new(ErrorKind::WriteFailure, "write failed"))
    });
    env.set_loader(move |name| {
        let p = std::path::Path::new(name);
        if p.is_absolute() {
            return Ok(std::fs::read_to_string(p).ok().map(|s| rewrite_source(&s)));
        }
        for d in &search_dirs() {
            if let Ok(s) = std::fs::read_to_string(d.join(name)) {
                return Ok(Some(rewrite_source(&s)));
            }
        }
        Ok(None)
    });
    crate::jinja_filters::register(&mut env);
    crate::jinja_filters2::register(&mut env);
    crate::jinja_tests::register(&mut env);
    crate::jinja_lookups::register(&mut env);
    crate::py_mutable::register(&mut env);
    env.set_unknown_method_callback(crate::py_methods::call_method);
    env
}

/// A `#jinja2:` first line: the overrides it sets and the source without it.
fn split_header(source: &str, ws: &mut Ws) -> String {
    let Some(rest) = source.strip_prefix("#jinja2:") else {
        return source.to_string();
    };
    let (line, body) = rest.split_once('\n').unwrap_or((rest, ""));
    for pair in line.split(',') {
        let Some((k, v)) = pair.split_once(':') else {
            continue;
        };
        let yes = matches!(v.trim(), "True" | "true" | "1" | "yes");
        match k.trim() {
            "trim_blocks" => ws.trim_blocks = yes,
            "lstrip_blocks" => ws.lstrip_blocks = yes,
            "keep_trailing_newline" => ws.keep_trailing_newline = yes,
            _ => {}
        }
    }
    body.to_string()
}

fn count_trailing_newlines(s: &str) -> usize {
    s.len() - s.trim_end_matches('\n').len()
}

/// Render a template file as Ansible's `template` module does.
pub fn render_template(
    source: &str,
    vars: &Map<String, serde_json::Value>,
    ctx: &RenderCtx,
) -> Result<String, JinjaError> {
    let mut ws = Ws {
        trim_blocks: true,
        lstrip_blocks: false,
        keep_trailing_newline: false,
    };
    let body = split_header(source, &mut ws);
    let header_lines = if body.len() != source.len() { 1 } else { 0 };
    let vars = Vars::new(vars, ctx);
    let _scope = Scope::enter(&vars);
    let env = env_for(ws, &body);
    let src = rewrite_source(&body);
    let tmpl = env
        .template_from_named_str("template", &src)
        .map_err(|e| convert_error(&e, &body, header_lines, &vars))?;
    let mut out = tmpl
        .render(Value::from_dyn_object(vars.clone()))
        .map_err(|e| convert_error(&e, &body, header_lines, &vars))?;
    if !ws.keep_trailing_newline {
        let want = count_trailing_newlines(source);
        let have = count_trailing_newlines(&out);
        if want > have {
            out.push_str(&"\n".repeat(want - have));
        }
    }
    Ok(out)
}

/// Render a playbook string. Exactly one `{{ expr }}` gives the expression's typed value; any
/// other text gives a string. Text without Jinja syntax comes back unchanged.
pub fn render_str(
    text: &str,
    vars: &Map<String, serde_json::Value>,
    ctx: &RenderCtx,
) -> Result<serde_json::Value, JinjaError> {
    if !has_template(text) {
        return Ok(serde_json::Value::String(text.to_string()));
    }
    let vars = Vars::new(vars, ctx);
    render_str_in(text, &vars)
        .map(|v| to_json(&v))
        .map_err(|e| convert_error(&e, text, 0, &vars))
}

/// The inner expression of a string that is exactly one `{{ expr }}`.
fn single_expression(text: &str) -> Option<&str> {
    let inner = text.strip_prefix("{{")?.strip_suffix("}}")?;
    let inner = inner.strip_prefix('-').unwrap_or(inner);
    let inner = inner.strip_suffix('-').unwrap_or(inner);
    if inner.contains("{{") || inner.contains("}}") || inner.contains("{%") {
        return None;
    }
    Some(inner)
}

pub(crate) fn render_str_in(text: &str, vars: &Arc<Vars>) -> Result<Value, minijinja::Error> {
    // Ansible's Templar: the template module's whitespace rules (the `#jinja2:` line too),
    // and Jinja's `keep_trailing_newline` off, so `"{{ 1 }}\n"` is still the int 1.
    let mut ws = Ws {
        trim_blocks: true,
        lstrip_blocks: false,
        keep_trailing_newline: false,
    };
    let body = split_header(text, &mut ws);
    let _scope = Scope::enter(vars);
    let env = env_for(ws, &body);
    let escaped = escape_backslashes_in_vars(&body);
    let text = escaped.as_str();
    // As ansible-core 2.19 (checked): `"{{ n }}\n"` is still the one typed expression, but
    // any other string keeps its trailing newlines (`content: "x={{ v }}\n"` writes the
    // newline).
    let one = text.strip_suffix('\n').unwrap_or(text);
    if let Some(inner) = single_expression(one) {
        let src = rewrite_expr(&add_missing_else(inner));
        if let Ok(expr) = env.compile_expression(&src) {
            let v = expr.eval(Value::from_dyn_object(vars.clone()))?;
            if v.is_undefined() {
                return Err(minijinja::Error::new(
                    ErrorKind::UndefinedError,
                    "undefined value",
                ));
            }
            return Ok(v);
        }
    }
    let src = rewrite_source(text);
    let mut out = env.render_str(&src, Value::from_dyn_object(vars.clone()))?;
    let (want, have) = (count_trailing_newlines(text), count_trailing_newlines(&out));
    if want > have {
        out.push_str(&"\n".repeat(want - have));
    }
    Ok(Value::from(out))
}

/// Evaluate a `when:` expression (no braces) with Ansible's truthiness.
pub fn eval_condition(
    expr: &str,
    vars: &Map<String, serde_json::Value>,
    ctx: &RenderCtx,
) -> Result<bool, JinjaError> {
    let trimmed = expr.trim();
    let inner = single_expression(trimmed).unwrap_or(trimmed);
    let vars_arc = Vars::new(vars, ctx);
    let _scope = Scope::enter(&vars_arc);
    let env = env_for(
        Ws {
            trim_blocks: true,
            lstrip_blocks: false,
            keep_trailing_newline: false,
        },
        inner,
    );
    let src = rewrite_expr(&add_missing_else(&escape_backslashes(inner)));
    let compiled = env
        .compile_expression(&src)
        .map_err(|e| convert_error(&e, inner, 0, &vars_arc))?;
    // Ansible fails a condition that uses an undefined variable without testing it
    // (`not x`, `x == 1`); `x is defined` and `x | default(...)` are fine.
    let mut names: Vec<String> = compiled.undeclared_variables(false).into_iter().collect();
    names.sort();
    for name in names {
        if !KEYWORDS.contains(&name.as_str())
            && vars_arc.get(&name).is_none()
            && !all_uses_guarded(inner, &name)
        {
            let (line, col) = find_ident(inner, &name)
                .map(|o| line_col(inner, o))
                .unwrap_or((1, 1));
            return Err(JinjaError::Undefined {
                message: format!("'{name}' is undefined"),
                name,
                line,
                col,
            });
        }
    }
    let v = compiled
        .eval(Value::from_dyn_object(vars_arc.clone()))
        .map_err(|e| convert_error(&e, inner, 0, &vars_arc))?;
    if v.is_undefined() {
        let name = first_undefined_name(inner, &vars_arc).unwrap_or_else(|| inner.to_string());
        return Err(JinjaError::Undefined {
            message: format!("'{name}' is undefined"),
            name,
            line: 1,
            col: 1,
        });
    }
    if v.kind() == minijinja::value::ValueKind::Bool {
        return Ok(v.is_true());
    }
    // ansible-core 2.19 refuses a condition whose result is not a boolean.
    Err(JinjaError::Other {
        line: 1,
        col: 1,
        message: format!(
            "Conditional result ({}) was derived from value of type '{}'. Conditionals must have \
             a boolean result.",
            if v.is_true() { "True" } else { "False" },
            crate::jinja_filters::type_name(&v)
        ),
    })
}

/// The byte offset of `name` as a whole identifier (outside strings) in `text`.
fn find_ident(text: &str, name: &str) -> Option<usize> {
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
fn all_uses_guarded(expr: &str, name: &str) -> bool {
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

const KEYWORDS: &[&str] = &[
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
fn first_undefined_name(text: &str, vars: &Arc<Vars>) -> Option<String> {
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

fn line_col(src: &str, offset: usize) -> (usize, usize) {
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

fn convert_error(
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

/// Render a playbook string as text: what its `{{ }}` print, Python's way.
pub fn render_text(
    text: &str,
    vars: &Map<String, serde_json::Value>,
    ctx: &RenderCtx,
) -> Result<String, JinjaError> {
    if !has_template(text) {
        return Ok(text.to_string());
    }
    let vars = Vars::new(vars, ctx);
    render_str_in(text, &vars)
        .map(|v| py_output(&v))
        .map_err(|e| convert_error(&e, text, 0, &vars))
}

/// Compiles a playbook string (or, with `expr`, a bare expression) without rendering it: its
/// syntax errors, at their line and column.
pub fn check_syntax(text: &str, expr: bool) -> Result<(), JinjaError> {
    let ws = Ws {
        trim_blocks: true,
        lstrip_blocks: false,
        keep_trailing_newline: false,
    };
    let env = Environment::new();
    let empty = Vars::new(&Map::new(), &RenderCtx::default());
    if expr {
        let trimmed = text.trim();
        let inner = single_expression(trimmed).unwrap_or(trimmed);
        let src = rewrite_expr(&add_missing_else(&escape_backslashes(inner)));
        env.compile_expression(&src)
            .map(|_| ())
            .map_err(|e| convert_error(&e, inner, 0, &empty))
    } else {
        let mut ws = ws;
        let body = split_header(text, &mut ws);
        let src = rewrite_source(&escape_backslashes_in_vars(&body));
        env.template_from_str(&src)
            .map(|_| ())
            .map_err(|e| convert_error(&e, &body, 0, &empty))
    }
}

thread_local! {
    static KNOWN: RefCell<HashMap<(bool, String), bool>> = RefCell::new(HashMap::new());
}

/// Whether a filter (`test` false) or a test (`test` true) of this name exists: asked of the
/// environment itself, once per name.
pub fn knows(name: &str, test: bool) -> bool {
    let key = (test, name.to_string());
    if let Some(k) = KNOWN.with(|k| k.borrow().get(&key).copied()) {
        return k;
    }
    let env = env_for(
        Ws {
            trim_blocks: true,
            lstrip_blocks: false,
            keep_trailing_newline: false,
        },
        "",
    );
    let src = if test {
        format!("{{{{ none is {name} }}}}")
    } else {
        format!("{{{{ none | {name} }}}}")
    };
    let kind = if test {
        ErrorKind::UnknownTest
    } else {
        ErrorKind::UnknownFilter
    };
    let known = match env.render_str(&src, ()) {
        Ok(_) => true,
        Err(e) => e.kind() != kind,
    };
    KNOWN.with(|k| k.borrow_mut().insert(key, known));
    known
}
