//! Jinja2 as ansible-core 2.19 renders it, on MiniJinja.
//!
//! Three entry points: [`render_template`] for template files (the `template` module's rules:
//! `trim_blocks` on, `lstrip_blocks` off, a `#jinja2:` first line that overrides them, Ansible's
//! trailing-newline fixup), [`render_str`] for `{{ }}` inside playbook strings (a string that is
//! exactly one `{{ expr }}` yields the expression's typed value), and [`eval_condition`] for
//! `when:`. Values print as Python's `str()` would; variables whose values hold `{{ }}` are
//! rendered lazily when read, as Ansible does.

use crate::jinja_rewrite::{
    add_missing_else, escape_backslashes, escape_backslashes_in_vars, rewrite_expr, rewrite_source,
};
use crate::py_value::{py_output, to_json};

mod jinja_error;
mod names;
mod vars;
mod ws;

pub use crate::jinja_rewrite::has_template;
pub use jinja_error::JinjaError;
use jinja_error::{convert_error, line_col};
use minijinja::value::Value;
use minijinja::{Environment, ErrorKind, UndefinedBehavior};
pub use names::undeclared_variables;
use names::{KEYWORDS, all_uses_guarded, find_ident, first_undefined_name};
pub(crate) use names::{Use, entry_reads, fact_reads, uses_of};
use serde_json::Map;
use std::cell::RefCell;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
pub use vars::OMIT;
use vars::Scope;
pub(crate) use vars::{Vars, current_vars};
use ws::{Ws, split_header};

pub use crate::render_ctx::RenderCtx;

/// The variables of a render, shared rather than copied: every render of a task reads the
/// same host variables, facts included (about 16 kB of values per host).
pub type VarMap = Arc<Map<String, serde_json::Value>>;

/// True if a rendered value is (or is the string) `omit`.
pub fn is_omit(v: &serde_json::Value) -> bool {
    v.as_str() == Some(OMIT)
}

/// Built environments, one per whitespace setting, shared by every host's thread: building
/// one costs far more than a render, and each keeps the playbook strings it compiled.
type Envs = HashMap<(bool, bool, bool), Arc<Environment<'static>>>;
static ENVS: std::sync::LazyLock<std::sync::Mutex<Envs>> =
    std::sync::LazyLock::new(Default::default);

/// Whether `name` is one of the engine's own globals (`range`, `dict`, `lookup` ...): a name a
/// template reads that no variable needs to define.
pub(crate) fn is_global(name: &str) -> bool {
    static GLOBALS: std::sync::OnceLock<std::collections::HashSet<String>> =
        std::sync::OnceLock::new();
    GLOBALS
        .get_or_init(|| {
            let env = new_env(Ws {
                trim_blocks: true,
                lstrip_blocks: false,
                keep_trailing_newline: false,
            });
            env.globals().map(|(n, _)| n.to_string()).collect()
        })
        .contains(name)
}

/// The loader name of a playbook string compiled as a template: this prefix, then its text.
const INLINE: &str = "\u{1}inline:";

/// Whether a template may load others (`include`, `import`, `extends`).
/// Only a statement counts: the word alone is common in what templates write (nginx's
/// `include uwsgi_params;`), and a fresh environment costs more than the render.
pub(crate) fn loads_files(source: &str) -> bool {
    source.match_indices("{%").any(|(i, _)| {
        let rest = source[i + 2..].trim_start_matches(['-', '+']).trim_start();
        ["include", "import", "extends", "from"]
            .iter()
            .any(|w| rest.starts_with(w))
    })
}

/// An environment for `ws`. Templates that include or import others get a fresh one, since
/// an environment keeps the templates its loader found and the search path differs per render.
fn env_for(ws: Ws, source: &str) -> Arc<Environment<'static>> {
    if loads_files(source) {
        return Arc::new(new_env(ws));
    }
    let key = (ws.trim_blocks, ws.lstrip_blocks, ws.keep_trailing_newline);
    let mut envs = ENVS.lock().unwrap_or_else(|e| e.into_inner());
    envs.entry(key)
        .or_insert_with(|| Arc::new(new_env(ws)))
        .clone()
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
    // MiniJinja keeps a template's source for its errors only in debug builds unless asked:
    // without it an error cannot point at its column.
    env.set_debug(true);
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
        // A playbook string, named by its own text: compiled once, then kept by the
        // environment (a loop's items render the same strings).
        if let Some(src) = name.strip_prefix(INLINE) {
            return Ok(Some(src.to_string()));
        }
        let p = std::path::Path::new(name);
        if p.is_absolute() {
            let Ok(s) = std::fs::read_to_string(p) else {
                return Ok(None);
            };
            crate::fact_need::note_text(&s);
            return Ok(Some(rewrite_source(&s)));
        }
        for d in &search_dirs() {
            if let Ok(s) = std::fs::read_to_string(d.join(name)) {
                crate::fact_need::note_text(&s);
                return Ok(Some(rewrite_source(&s)));
            }
        }
        Ok(None)
    });
    crate::jinja_filters::register(&mut env);
    crate::jinja_filters2::register(&mut env);
    crate::jinja_tests::register(&mut env);
    crate::jinja_lookups::register(&mut env, lookup_scope, lookup_template);
    crate::py_mutable::register(&mut env);
    env.set_unknown_method_callback(crate::py_methods::call_method);
    env
}

/// The render a lookup runs in: its variables as the template sees them, and its folders.
fn lookup_scope() -> Option<(Value, RenderCtx)> {
    current_vars().map(|v| (Value::from_dyn_object(v.clone()), v.ctx.clone()))
}

/// `lookup('template')`: a template file rendered with the current variables.
fn lookup_template(source: &str, vars: &VarMap, ctx: &RenderCtx) -> Result<String, String> {
    render_template(source, vars, ctx).map_err(|e| e.to_string())
}

fn count_trailing_newlines(s: &str) -> usize {
    s.len() - s.trim_end_matches('\n').len()
}

/// Render a template file as Ansible's `template` module does.
pub fn render_template(source: &str, vars: &VarMap, ctx: &RenderCtx) -> Result<String, JinjaError> {
    let mut ws = Ws {
        trim_blocks: true,
        lstrip_blocks: false,
        keep_trailing_newline: false,
    };
    let body = split_header(source, &mut ws);
    let header_lines = if body.len() != source.len() { 1 } else { 0 };
    let vars = Vars::new(vars, ctx, render_str_in);
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
    vars: &VarMap,
    ctx: &RenderCtx,
) -> Result<serde_json::Value, JinjaError> {
    if !has_template(text) {
        return Ok(serde_json::Value::String(text.to_string()));
    }
    let vars = Vars::new(vars, ctx, render_str_in);
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

fn render_str_in(text: &str, vars: &Arc<Vars>) -> Result<Value, minijinja::Error> {
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
    // As ansible-core 2.19 (checked): `"{{ n }}\n"` is still the one typed expression (the
    // int 5), but a string result keeps the source's trailing newlines, as any other string
    // does: `"{{ x }}\n"` is "hello\n", `"{{ xn }}\n"` with xn "hello\n" stays "hello\n".
    let want = count_trailing_newlines(text);
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
            if let Some(s) = v.as_str() {
                let have = count_trailing_newlines(s);
                if want > have {
                    return Ok(Value::from(format!("{s}{}", "\n".repeat(want - have))));
                }
            }
            return Ok(v);
        }
    }
    let src = rewrite_source(text);
    let ctx = Value::from_dyn_object(vars.clone());
    // An environment that loads files is not kept (see `env_for`): nothing to cache there.
    let mut out = if loads_files(&src) {
        env.render_str(&src, ctx)?
    } else {
        env.get_template(&format!("{INLINE}{src}"))?.render(ctx)?
    };
    let have = count_trailing_newlines(&out);
    if want > have {
        out.push_str(&"\n".repeat(want - have));
    }
    Ok(Value::from(out))
}

/// Evaluate a `when:` expression (no braces) with Ansible's truthiness.
pub fn eval_condition(expr: &str, vars: &VarMap, ctx: &RenderCtx) -> Result<bool, JinjaError> {
    let trimmed = expr.trim();
    let inner = single_expression(trimmed).unwrap_or(trimmed);
    let vars_arc = Vars::new(vars, ctx, render_str_in);
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

/// Render a playbook string as text: what its `{{ }}` print, Python's way.
pub fn render_text(text: &str, vars: &VarMap, ctx: &RenderCtx) -> Result<String, JinjaError> {
    if !has_template(text) {
        return Ok(text.to_string());
    }
    let vars = Vars::new(vars, ctx, render_str_in);
    render_str_in(text, &vars)
        .map(|v| py_output(&v))
        .map_err(|e| convert_error(&e, text, 0, &vars))
}

/// Compiles a playbook string (or, with `expr`, a bare expression) without rendering it: its
/// syntax errors, at their line and column.
pub fn check_syntax(text: &str, expr: bool) -> Result<(), JinjaError> {
    // Every host's validation checks the same strings: each compiles once per run (a
    // string that fails stops the run).
    use crate::run_memo::RunMemo;
    static TEXTS: RunMemo<()> = RunMemo::new(4096);
    static EXPRS: RunMemo<()> = RunMemo::new(4096);
    let checked = if expr { &EXPRS } else { &TEXTS };
    checked.get_or(text, || compile_only(text, expr))
}

fn compile_only(text: &str, expr: bool) -> Result<(), JinjaError> {
    let ws = Ws {
        trim_blocks: true,
        lstrip_blocks: false,
        keep_trailing_newline: false,
    };
    let env = Environment::new();
    let empty = Vars::new(&VarMap::default(), &RenderCtx::default(), render_str_in);
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

#[cfg(test)]
mod tests {
    use super::loads_files;

    /// Which templates need an environment of their own (their loader finds other files).
    #[test]
    fn loads_files_only_for_statements_that_load() {
        for (source, want) in [
            ("{% include 'a.j2' %}", true),
            ("{%- include 'a.j2' -%}", true),
            ("{%+   import 'm.j2' as m %}", true),
            ("{% extends 'base.j2' %}", true),
            ("{% from 'm.j2' import x %}", true),
            ("x\n{%\ninclude 'a.j2' %}", true),
            ("include uwsgi_params;\nuwsgi_pass {{ sock }};", false),
            ("{% for f in files %}import {{ f }}\n{% endfor %}", false),
            ("{{ 'include' }} {# extends #}", false),
            ("", false),
        ] {
            assert_eq!(loads_files(source), want, "{source:?}");
        }
    }
}
