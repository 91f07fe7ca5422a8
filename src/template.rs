//! Every `{{ }}` of a playbook and every template file, rendered as Ansible renders them (Jinja2
//! on MiniJinja: `src/jinja.rs`), with errors placed at `file:line:col` in what the user wrote.
//! Checks made before any host is contacted (syntax, every filter and test named, the
//! variables read) go through the same engine.

use crate::error::{Cause, Error, suggest};
use crate::jinja::{self, JinjaError, RenderCtx};
use crate::location::Location;
use crate::template_strict::{named_calls, roots};
pub(crate) use crate::template_strict::{names_in, names_read};
use serde_json::{Map, Value};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

mod scan;

use scan::{FILTERS, TESTS, find_var, snap};

/// Ansible's truthiness for `| bool` and `when`.
pub(crate) fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => matches!(
            s.trim().to_ascii_lowercase().as_str(),
            "true" | "yes" | "on" | "1" | "y"
        ),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

pub(crate) fn has_template(s: &str) -> bool {
    jinja::has_template(s)
}

/// Variables visible to one task on one host, ready for rendering. Cloning shares the map.
#[derive(Clone)]
pub(crate) struct Vars {
    map: jinja::VarMap,
    ctx: RenderCtx,
    /// `map` with the loop item's variables (`ctx.item`) over it, made only if asked for.
    merged: std::sync::OnceLock<jinja::VarMap>,
    /// The play's host lists, shared by every host (`play_lists.rs`), as they were when these
    /// variables were made.
    lists: Option<jinja::VarMap>,
}

impl Vars {
    pub(crate) fn new(map: Map<String, Value>) -> Vars {
        Vars::shared(std::sync::Arc::new(map))
    }

    /// The same, over a map shared with others (a host's variables).
    pub(crate) fn shared(map: jinja::VarMap) -> Vars {
        // Lookups (`file`, `template`) and includes search the role's folders, then the
        // playbook's, as Ansible does.
        let dir = |k: &str| map.get(k).and_then(Value::as_str).map(PathBuf::from);
        let ctx = RenderCtx {
            playbook_dir: dir("playbook_dir"),
            template_dir: None,
            search_dirs: dir("role_path")
                .map(|r| vec![r.join("templates"), r.join("files"), r])
                .unwrap_or_default(),
            resolved: true,
            item: None,
        };
        Vars {
            map,
            ctx,
            merged: std::sync::OnceLock::new(),
            lists: crate::play_lists::current(),
        }
    }

    /// `map` with a loop item's variables over it, without copying `map`.
    pub(crate) fn with_item(map: jinja::VarMap, item: Map<String, Value>) -> Vars {
        let mut v = Vars::shared(map);
        v.ctx.item = Some(std::sync::Arc::new(item));
        v
    }

    /// These variables with `top` over them (a task's result under its register name), without
    /// copying the host's.
    pub(crate) fn over(&self, top: Map<String, Value>) -> Vars {
        let mut item = self.ctx.item.as_deref().cloned().unwrap_or_default();
        item.extend(top);
        let mut ctx = self.ctx.clone();
        ctx.item = Some(std::sync::Arc::new(item));
        Vars {
            map: self.map.clone(),
            ctx,
            merged: std::sync::OnceLock::new(),
            lists: self.lists.clone(),
        }
    }

    pub(crate) fn map(&self) -> &Map<String, Value> {
        match &self.ctx.item {
            None => &self.map,
            Some(item) => self.merged.get_or_init(|| {
                let mut m = (*self.map).clone();
                m.extend(item.iter().map(|(k, v)| (k.clone(), v.clone())));
                std::sync::Arc::new(m)
            }),
        }
    }

    /// One variable, the loop item's over the rest, without merging them (`map` copies the
    /// host's variables once per item).
    pub(crate) fn get(&self, name: &str) -> Option<&Value> {
        self.ctx
            .item
            .as_ref()
            .and_then(|i| i.get(name))
            .or_else(|| self.map.get(name))
            .or_else(|| self.lists.as_ref().and_then(|l| l.get(name)))
    }

    /// Whether `name` is one of these variables.
    fn defines(&self, name: &str) -> bool {
        self.ctx.item.as_ref().is_some_and(|i| i.contains_key(name))
            || self.map.contains_key(name)
            || self.lists.as_ref().is_some_and(|l| l.contains_key(name))
    }

    /// Renders `text` (a playbook string) to text. `loc` is where `text` starts in its file.
    #[cfg(test)]
    fn render(&self, text: &str, loc: &Location) -> Result<String, Error> {
        if !has_template(text) {
            return Ok(text.to_string());
        }
        self.check_names(text, 0, text, loc, false)?;
        let src = self.strict(text, false);
        jinja::render_text(&src, &self.map, &self.ctx).map_err(|e| self.error(e, text, 0, loc))
    }

    /// Renders a template file as the `template` module does (trim_blocks, the `#jinja2:`
    /// line, trailing newlines); includes are looked up beside it.
    pub(crate) fn render_file(
        &self,
        text: &str,
        loc: &Location,
        dir: &Path,
    ) -> Result<String, Error> {
        // The same template read the same values before (another host, another build).
        let memo = crate::render_memo::RenderMemo::of(text, dir, &|n| self.get(n));
        if let Some(out) = memo.as_ref().and_then(|m| m.kept()) {
            return Ok(out);
        }
        self.check_names(text, 0, text, loc, false)?;
        let ctx = RenderCtx {
            template_dir: Some(dir.to_path_buf()),
            ..self.ctx.clone()
        };
        let src = self.strict(text, false);
        let out = jinja::render_template(&src, &self.map, &ctx)
            .map_err(|e| self.error(e, text, 0, loc))?;
        if let Some(m) = memo {
            m.keep(&out);
        }
        Ok(out)
    }

    /// Renders a value; a string that is one whole `{{ expr }}` keeps the expression's type, so
    /// `loop: "{{ packages }}"` is a list and `port: "{{ p }}"` a number. A mapping's entries
    /// that render to `omit` are left out, as Ansible leaves out a module's `omit` arguments.
    pub(crate) fn render_value(&self, v: &Value, loc: &Location) -> Result<Value, Error> {
        Ok(match v {
            Value::String(s) if has_template(s) => {
                // Only variables printed: no engine needed (see `template_fast`).
                if let Some(v) = crate::template_fast::render(s, &|n| self.get(n)) {
                    return Ok(v);
                }
                self.check_names(s, 0, s, loc, false)?;
                let src = self.strict(s, false);
                jinja::render_str(&src, &self.map, &self.ctx)
                    .map_err(|e| self.error(e, s, 0, loc))?
            }
            Value::Array(a) => Value::Array(
                a.iter()
                    .map(|x| self.render_value(x, loc))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(o) => {
                let mut out = Map::new();
                for (k, x) in o {
                    let r = self.render_value(x, loc)?;
                    if !jinja::is_omit(&r) {
                        out.insert(k.clone(), r);
                    }
                }
                Value::Object(out)
            }
            other => other.clone(),
        })
    }

    /// `v` rendered as `render_value` does, if no part of it needs the template engine (only
    /// literals and strings that print variables, see `template_fast`): a pure function of
    /// these variables, which a lookup, a filter or `now()` is not. None otherwise.
    pub(crate) fn render_value_plain(&self, v: &Value) -> Option<Value> {
        Some(match v {
            Value::String(s) if has_template(s) => {
                crate::template_fast::render(s, &|n| self.get(n))?
            }
            Value::Array(a) => Value::Array(
                a.iter()
                    .map(|x| self.render_value_plain(x))
                    .collect::<Option<_>>()?,
            ),
            Value::Object(o) => Value::Object(
                o.iter()
                    .map(|(k, x)| Some((k.clone(), self.render_value_plain(x)?)))
                    .collect::<Option<_>>()?,
            ),
            other => other.clone(),
        })
    }

    /// Evaluates an Ansible `when`-style condition (a bare expression, braces tolerated).
    pub(crate) fn condition(&self, expr: &Value, loc: &Location) -> Result<bool, Error> {
        match expr {
            Value::Bool(b) => Ok(*b),
            Value::Array(all) => {
                for e in all {
                    if !self.condition(e, loc)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Value::String(s) => {
                let (start, e) = condition_expr(s);
                self.check_names(e, start, s, loc, true)
                    .map_err(|err| condition_error(err, e.trim()))?;
                let src = self.strict(s, true);
                jinja::eval_condition(&src, &self.map, &self.ctx)
                    .map_err(|err| condition_error(self.error(err, s, start, loc), e.trim()))
            }
            Value::Null => Ok(false),
            other => Ok(truthy(other)),
        }
    }

    /// Checks a value's templates without rendering them (syntax, every filter and test named,
    /// whatever branch it sits in), adding the variables they read to `names`.
    pub(crate) fn check_value(
        &self,
        v: &Value,
        loc: &Location,
        names: &mut BTreeSet<String>,
    ) -> Result<(), Error> {
        match v {
            Value::String(s) if has_template(s) => {
                jinja::check_syntax(s, false).map_err(|e| self.error(e, s, 0, loc))?;
                self.check_names(s, 0, s, loc, false)?;
                names.extend(roots(jinja::undeclared_variables(s)));
            }
            Value::Array(a) => {
                for x in a {
                    self.check_value(x, loc, names)?;
                }
            }
            Value::Object(o) => {
                for x in o.values() {
                    self.check_value(x, loc, names)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Checks a condition without evaluating it, adding the variables it reads to `names`.
    pub(crate) fn check_condition(
        &self,
        expr: &Value,
        loc: &Location,
        names: &mut BTreeSet<String>,
    ) -> Result<(), Error> {
        match expr {
            Value::Array(all) => {
                for e in all {
                    self.check_condition(e, loc, names)?;
                }
                Ok(())
            }
            Value::String(s) => {
                let (start, e) = condition_expr(s);
                jinja::check_syntax(s, true)
                    .map_err(|err| condition_error(self.error(err, s, start, loc), e.trim()))?;
                self.check_names(e, start, s, loc, true)
                    .map_err(|err| condition_error(err, e.trim()))?;
                names.extend(roots(jinja::undeclared_variables(&format!(
                    "{{{{ {e} }}}}"
                ))));
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// `source` made as strict as Ansible about undefined variables (`template_strict.rs`).
    fn strict(&self, source: &str, bare: bool) -> String {
        crate::template_strict::strict(&|n| self.defines(n), source, bare)
    }

    /// Every filter and test `source` names must exist, on every branch (Jinja looks them up
    /// only when it gets there). `source` starts at byte `start` of `text`, which starts at
    /// `loc`; a `bare` source is an expression (a condition), not a template.
    fn check_names(
        &self,
        source: &str,
        start: usize,
        text: &str,
        loc: &Location,
        bare: bool,
    ) -> Result<(), Error> {
        for (off, name, test) in named_calls(source, bare) {
            if jinja::knows(name, test) {
                continue;
            }
            let what = if test { "test" } else { "filter" };
            let at = snap(loc.offset_in(text, start + off), name);
            let err = Error::input(at, format!("unknown {what} `{name}`"));
            let known = if test { TESTS } else { FILTERS };
            return Err(match suggest(name, known.iter().copied()) {
                Some(s) => err.with_hint(format!("did you mean `{s}`?")),
                None => err,
            });
        }
        Ok(())
    }

    /// An engine error as plumb's: placed in `text` (the engine's positions count from byte
    /// `start`), an undefined variable named with a hint.
    fn error(&self, e: JinjaError, text: &str, start: usize, loc: &Location) -> Error {
        let source = &text[start.min(text.len())..];
        let off = start + byte_offset(source, e.line(), e.col());
        match e {
            JinjaError::Undefined { name, .. } => {
                let root = name.split(['.', '[']).next().unwrap_or(&name).to_string();
                let at = find_var(text, &root)
                    .map(|o| snap(loc.offset_in(text, o), &root))
                    .unwrap_or_else(|| loc.offset_in(text, off));
                let err = Error::undefined_variable(at, &name);
                let item = self.ctx.item.iter().flat_map(|i| i.keys());
                match suggest(&root, self.map.keys().chain(item).map(String::as_str)) {
                    Some(s) => err.with_hint(format!("did you mean `{s}`?")),
                    None => {
                        err.with_hint("define it in the play's `vars`, the inventory, or with `-e`")
                    }
                }
            }
            JinjaError::Other { message, .. } => {
                let at = loc.offset_in(text, off);
                match message.strip_prefix("syntax error: ") {
                    Some(m) => Error::input(at, format!("template syntax error: {m}")),
                    None => Error::input(at, format!("template error: {message}")),
                }
            }
        }
    }
}

/// Where the expression of a `when` starts in `s`, and the expression (braces tolerated).
fn condition_expr(s: &str) -> (usize, &str) {
    let t = s.trim();
    let inner = t
        .strip_prefix("{{")
        .and_then(|r| r.strip_suffix("}}"))
        .unwrap_or(t);
    (inner.as_ptr() as usize - s.as_ptr() as usize, inner)
}

fn condition_error(err: Error, e: &str) -> Error {
    match err {
        Error::Input {
            loc,
            msg,
            hint,
            cause: Some(Cause::Undefined(name)),
        } => Error::Input {
            // The message now says more than that a variable is undefined.
            cause: Some(Cause::WrapsUndefined(name.clone())),
            loc,
            msg: format!("cannot evaluate condition `{e}`: {msg}"),
            hint: Some(match hint {
                Some(h) if h.starts_with("did you mean") => h,
                _ => format!("define it, or write `{name} is defined and …`"),
            }),
        },
        Error::Input {
            loc,
            msg,
            hint,
            cause,
        } => Error::Input {
            cause: Cause::wrapped(&cause),
            loc,
            msg: format!("cannot evaluate condition `{e}`: {msg}"),
            hint,
        },
        other => other,
    }
}

/// The byte offset of a 1-based line and column (in characters) of `source`.
fn byte_offset(source: &str, line: usize, col: usize) -> usize {
    let line_start: usize = source
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    let rest = &source[line_start.min(source.len())..];
    line_start
        + rest
            .char_indices()
            .nth(col.saturating_sub(1))
            .map_or(rest.len(), |(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::Arc;

    fn vars(v: Value) -> Vars {
        Vars::new(v.as_object().unwrap().clone())
    }

    fn loc() -> Location {
        Location::new(&Arc::new(PathBuf::from("site.yml")), 7, 12)
    }

    /// Plain renders equal the engine's; anything the engine must render (a filter, a lookup,
    /// `omit`, a variable holding a template) is declined, in a list or a mapping too.
    #[test]
    fn plain_render_is_the_engines_or_none() {
        let v = vars(json!({"root": "/srv", "n": 3, "flag": true, "t": "{{ root }}"}));
        let table: &[(Value, bool)] = &[
            (json!("/srv/x"), true),
            (json!(7), true),
            (json!("{{ root }}/d{{ n }}"), true),
            (json!("{{ n }}"), true),
            (json!(["{{ root }}", {"k": "{{ flag }}"}]), true),
            (json!("{{ root | upper }}"), false),
            (json!("{{ lookup('env', 'HOME') }}"), false),
            (json!("{{ t }}"), false),
            (json!({"a": "x", "b": "{{ omit }}"}), false),
            (json!(["x", "{{ now() }}"]), false),
        ];
        for (src, plain) in table {
            let got = v.render_value_plain(src);
            assert_eq!(got.is_some(), *plain, "{src}");
            if let Some(got) = got {
                assert_eq!(got, v.render_value(src, &loc()).unwrap(), "{src}");
            }
        }
    }

    #[test]
    fn renders_and_keeps_types() {
        let v = vars(json!({"pkgs": ["nginx", "uwsgi"], "port": 8000, "name": "app"}));
        assert_eq!(v.render("/srv/{{ name }}", &loc()).unwrap(), "/srv/app");
        assert_eq!(
            v.render_value(&json!("{{ pkgs }}"), &loc()).unwrap(),
            json!(["nginx", "uwsgi"])
        );
        assert_eq!(
            v.render_value(&json!("{{ port }}"), &loc()).unwrap(),
            json!(8000)
        );
        assert_eq!(v.render("plain", &loc()).unwrap(), "plain");
        // Jinja's positional arguments, methods and inline if, as Ansible has them.
        assert_eq!(
            v.render(
                "{{ missing | default('x') }}-{{ name.upper() }}-{{ 'a' if port > 1 else 'b' }}",
                &loc()
            )
            .unwrap(),
            "x-APP-a"
        );
        assert_eq!(
            v.render("{{ pkgs | join(',') }}", &loc()).unwrap(),
            "nginx,uwsgi"
        );
        // `omit` drops the argument.
        assert_eq!(
            v.render_value(&json!({"a": "{{ nope | default(omit) }}", "b": 1}), &loc())
                .unwrap(),
            json!({"b": 1})
        );
    }

    #[test]
    fn conditions() {
        let v = vars(json!({"r": {"changed": true, "rc": 1, "stdout": "abc"}, "flag": "yes"}));
        let c = |e: &str| v.condition(&json!(e), &loc()).unwrap();
        assert!(c("r is changed"));
        assert!(!c("r is failed"));
        assert!(c("r.rc != 0"));
        assert!(c("'b' in r.stdout"));
        assert!(c("flag | bool"));
        assert!(c("{{ r.rc == 1 }}"));
        assert!(c("missing is not defined"));
        assert!(c("not (flag | bool) or r.rc == 1"));
        assert!(
            v.condition(&json!(["r.rc == 1", "flag | bool"]), &loc())
                .unwrap()
        );
    }

    #[test]
    fn undefined_variable_points_at_it() {
        let v = vars(json!({"app_dir": "/srv"}));
        let err = v.render("root {{ app_dri }}/x", &loc()).err().unwrap();
        match err {
            Error::Input {
                loc: Some(l),
                msg,
                hint,
                ..
            } => {
                assert_eq!(msg, "undefined variable `app_dri`");
                assert_eq!((l.line, l.col), (7, 20));
                assert_eq!(hint.unwrap(), "did you mean `app_dir`?");
            }
            e => panic!("{e:?}"),
        }
    }

    fn input_err(r: Result<bool, Error>) -> ((usize, usize), String, Option<String>) {
        match r.err().unwrap() {
            Error::Input {
                loc: Some(l),
                msg,
                hint,
                ..
            } => ((l.line, l.col), msg, hint),
            e => panic!("{e:?}"),
        }
    }

    #[test]
    fn condition_errors_point_into_the_condition() {
        let v = vars(json!({"x": 1}));
        let (_, msg, _) = input_err(v.condition(&json!("x ==="), &loc()));
        assert!(
            msg.starts_with("cannot evaluate condition `x ===`: template syntax error"),
            "{msg}"
        );
        let (at, msg, hint) = input_err(v.condition(&json!("x is definde"), &loc()));
        assert_eq!(at, (7, 17));
        assert!(msg.ends_with("unknown test `definde`"), "{msg}");
        assert_eq!(hint.unwrap(), "did you mean `defined`?");
        let (at, msg, hint) = input_err(v.condition(&json!("x | lenght > 0"), &loc()));
        assert_eq!(
            (at, msg.as_str()),
            (
                (7, 16),
                "cannot evaluate condition `x | lenght > 0`: unknown filter `lenght`"
            )
        );
        assert_eq!(hint.unwrap(), "did you mean `length`?");
    }

    #[test]
    fn names_read_are_the_templates_own_variables() {
        // By name, never by substring: `r` is not read by `{{ src_dir }}/r.conf`.
        let n = |v: Value| names_in(&v).into_iter().collect::<Vec<_>>();
        assert_eq!(n(json!("{{ src_dir }}/r.conf")), ["src_dir"]);
        assert_eq!(n(json!("{{ r.stdout | trim }}")), ["r"]);
        assert_eq!(
            n(json!({"a": ["{% if x is defined %}{{ y[k] }}{% endif %}"]})),
            ["k", "x", "y"]
        );
        assert!(n(json!("plain r")).is_empty());
    }

    #[test]
    fn unknown_names_are_errors_on_every_branch() {
        let v = vars(json!({"on": false, "x": 1}));
        let mut names = BTreeSet::new();
        for bad in [
            "{% if on %}{{ x | nope }}{% endif %}",
            "{{ on and x is nope }}",
            "{{ 'a|b' ~ (x | nope(1)) }}",
        ] {
            let err = v.check_value(&json!(bad), &loc(), &mut names).unwrap_err();
            assert!(err.to_string().contains("unknown"), "{bad}: {err}");
            assert!(v.render(bad, &loc()).is_err(), "{bad}");
        }
        let err = v.condition(&json!("on and x | nope"), &loc()).unwrap_err();
        assert!(err.to_string().contains("unknown filter `nope`"), "{err}");
        // Literal text, comments and raw blocks name nothing.
        for ok in [
            "# café — {{ x }} ünïcode {# — #}",
            "{{ 'x | nope' }}",
            "{# x | nope #}{{ x }}",
            "{% raw %}{{ x | nope }}{% endraw %}",
            "{{ y | default(1) | ansible.builtin.to_json }}",
        ] {
            assert!(
                v.check_value(&json!(ok), &loc(), &mut names).is_ok(),
                "{ok}"
            );
        }
    }

    #[test]
    fn an_undefined_variable_through_a_filter_is_an_error() {
        let v = vars(json!({"x": "a"}));
        for bad in [
            "{{ nope | upper }}",
            "x{{ nope | length }}",
            "{{ x ~ (nope | trim) }}",
        ] {
            let err = v.render(bad, &loc()).unwrap_err();
            assert!(
                err.to_string().contains("undefined variable `nope`"),
                "{bad}: {err}"
            );
        }
        for ok in [
            "{{ nope | default('d') | upper }}",
            "{{ nope | d(x) }}",
            "{% if nope is defined %}{{ nope | upper }}{% endif %}",
            "{{ x | upper }}",
        ] {
            assert!(v.render(ok, &loc()).is_ok(), "{ok}");
        }
        assert!(v.condition(&json!("nope | bool"), &loc()).is_err());
        assert!(
            !v.condition(&json!("nope | default(false) | bool"), &loc())
                .unwrap()
        );
    }

    #[test]
    fn undefined_name_in_a_condition_is_an_error() {
        let v = vars(json!({"flag": true}));
        let err = v
            .condition(&json!("flga"), &loc())
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("undefined variable `flga`"), "{err}");
        assert!(v.condition(&json!("missing is defined"), &loc()).is_ok());
        assert!(
            v.condition(&json!("missing | default(true)"), &loc())
                .is_ok()
        );
    }

    #[test]
    fn template_files_render_as_the_template_module_does() {
        let v = vars(json!({"items": ["a", "b"]}));
        let out = v
            .render_file(
                "{% for i in items %}\n{{ i }}\n{% endfor %}\n",
                &loc(),
                Path::new("."),
            )
            .unwrap();
        assert_eq!(out, "a\nb\n");
    }
}
