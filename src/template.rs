//! Tera for every `{{ }}` in a playbook and for template files, with the Ansible filters and
//! tests people reach for (`bool`, `is changed`, ...). Errors keep the position they came from.

use crate::error::{Error, suggest};
use crate::location::Location;
use serde_json::{Map, Value};
use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};

thread_local! {
    static TERA: RefCell<tera::Tera> = RefCell::new(new_tera());
}

fn new_tera() -> tera::Tera {
    let mut t = tera::Tera::default();
    t.autoescape_on(vec![]);
    t.register_filter("bool", |v: &Value, _: &HashMap<String, Value>| {
        Ok(Value::Bool(truthy(v)))
    });
    t.register_filter("quote", |v: &Value, _: &HashMap<String, Value>| {
        let s = match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        Ok(Value::String(crate::shell::quote(&s)))
    });
    t.register_filter("basename", |v: &Value, _: &HashMap<String, Value>| {
        let s = v.as_str().unwrap_or_default();
        Ok(Value::from(s.rsplit('/').next().unwrap_or(s)))
    });
    t.register_filter("dirname", |v: &Value, _: &HashMap<String, Value>| {
        let s = v.as_str().unwrap_or_default();
        Ok(Value::from(
            s.rsplit_once('/').map(|(d, _)| d).unwrap_or(""),
        ))
    });
    // Ansible's task-result tests: `when: result is changed`.
    for (name, field, want) in [
        ("changed", "changed", true),
        ("failed", "failed", true),
        ("succeeded", "failed", false),
        ("success", "failed", false),
        ("skipped", "skipped", true),
    ] {
        t.register_tester(
            name,
            move |v: Option<&Value>, _: &[Value]| -> tera::Result<bool> {
                let got = v.and_then(|v| v.get(field)).map(truthy).unwrap_or(false);
                Ok(got == want)
            },
        );
    }
    // Tera's own get_env reads any variable; plumb's refuses its own (PLUMB_*): those carry
    // secrets (PLUMB_BECOME_PASS) that no template may print.
    t.register_function("get_env", |args: &HashMap<String, Value>| {
        let name = args.get("name").and_then(Value::as_str).ok_or_else(|| {
            tera::Error::msg("get_env needs a `name` argument (a string)")
        })?;
        if name.to_ascii_uppercase().starts_with("PLUMB_") {
            return Err(tera::Error::msg(format!(
                "get_env(name='{name}'): plumb's own variables (PLUMB_*) are not readable from templates"
            )));
        }
        match (std::env::var(name), args.get("default")) {
            (Ok(v), _) => Ok(Value::String(v)),
            (Err(_), Some(d)) => Ok(d.clone()),
            (Err(_), None) => Err(tera::Error::msg(format!(
                "environment variable `{name}` is not set"
            ))),
        }
    });
    t
}

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
    s.contains("{{") || s.contains("{%")
}

/// Variables visible to one task on one host, ready for rendering.
pub(crate) struct Vars {
    map: Map<String, Value>,
    ctx: tera::Context,
}

impl Vars {
    pub(crate) fn new(map: Map<String, Value>) -> Vars {
        let ctx = tera::Context::from_value(Value::Object(map.clone())).expect("an object");
        Vars { map, ctx }
    }

    pub(crate) fn map(&self) -> &Map<String, Value> {
        &self.map
    }

    /// Renders `text`. `loc` is where `text` starts in its file, for error positions.
    pub(crate) fn render(&self, text: &str, loc: &Location) -> Result<String, Error> {
        if !has_template(text) {
            return Ok(text.to_string());
        }
        self.render_source(text, text, &|p| p, loc)
    }

    /// Renders `source`, which is built around the user's `text` (at `loc`); `to_text` maps a
    /// byte offset in `source` to one in `text`, so errors point into what the user wrote.
    fn render_source(
        &self,
        source: &str,
        text: &str,
        to_text: &dyn Fn(usize) -> usize,
        loc: &Location,
    ) -> Result<String, Error> {
        self.check_source(source, text, to_text, loc)?;
        TERA.with(|t| t.borrow_mut().render_str(source, &self.ctx))
            .map_err(|e| self.error(e, source, text, to_text, loc))
    }

    /// Parses `source` and checks that every filter, test and function it names exists,
    /// whatever branch, condition or short-circuit they sit behind (Tera only looks them up
    /// when it gets there, and an `if` on a failing filter is silently false). Returns the
    /// root names of the variables it reads.
    fn check_source(
        &self,
        source: &str,
        text: &str,
        to_text: &dyn Fn(usize) -> usize,
        loc: &Location,
    ) -> Result<BTreeSet<String>, Error> {
        let tpl = tera::Template::new("__tera_one_off", None, source)
            .map_err(|e| self.error(e, source, text, to_text, loc))?;
        let mut found = Found::default();
        found.nodes(&tpl.ast);
        TERA.with(|t| {
            let t = t.borrow();
            // `default` and `safe` are Tera's own, handled without a lookup.
            for f in found
                .filters
                .iter()
                .filter(|f| !matches!(f.as_str(), "default" | "safe"))
            {
                t.get_filter(f)
                    .map_err(|e| self.error(e, source, text, to_text, loc))?;
            }
            for x in &found.tests {
                t.get_tester(x)
                    .map_err(|e| self.error(e, source, text, to_text, loc))?;
            }
            for x in &found.functions {
                t.get_function(x)
                    .map_err(|e| self.error(e, source, text, to_text, loc))?;
            }
            Ok(found.names)
        })
    }

    /// Checks a value's templates without rendering them (see `check_source`), adding the
    /// variables they read to `names`.
    pub(crate) fn check_value(
        &self,
        v: &Value,
        loc: &Location,
        names: &mut BTreeSet<String>,
    ) -> Result<(), Error> {
        match v {
            Value::String(s) if has_template(s) => {
                names.extend(self.check_source(s, s, &|p| p, loc)?);
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
                let (source, start, e) = condition_source(s);
                let to_text = |p: usize| start + p.saturating_sub(OPEN.len()).min(e.len());
                let found = self
                    .check_source(&source, s, &to_text, loc)
                    .map_err(|err| condition_error(err, e))?;
                names.extend(found);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Renders a value; a string that is one whole `{{ expr }}` keeps the expression's type, so
    /// `loop: "{{ packages }}"` is a list and `port: "{{ p }}"` a number.
    pub(crate) fn render_value(&self, v: &Value, loc: &Location) -> Result<Value, Error> {
        Ok(match v {
            Value::String(s) if has_template(s) => {
                // Exactly `{{ expr }}`: text around it (even a newline) makes it a string.
                let t = s.as_str();
                let whole = t.starts_with("{{")
                    && t.ends_with("}}")
                    && t.matches("{{").count() == 1
                    && !t.contains("{%");
                if whole {
                    let expr = &t[2..t.len() - 2];
                    let json = self.render(&format!("{{{{ ({expr}) | json_encode() }}}}"), loc);
                    match json {
                        Ok(j) => serde_json::from_str(&j).unwrap_or(Value::String(j)),
                        // Re-render as written so the error message shows the user's text.
                        Err(_) => Value::String(self.render(s, loc)?),
                    }
                } else {
                    Value::String(self.render(s, loc)?)
                }
            }
            Value::Array(a) => Value::Array(
                a.iter()
                    .map(|x| self.render_value(x, loc))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(o) => Value::Object(
                o.iter()
                    .map(|(k, x)| Ok((k.clone(), self.render_value(x, loc)?)))
                    .collect::<Result<_, Error>>()?,
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
                let (source, start, e) = condition_source(s);
                let to_text = |p: usize| start + p.saturating_sub(OPEN.len()).min(e.len());
                let out = self
                    .render_source(&source, s, &to_text, loc)
                    .map_err(|err| condition_error(err, e))?;
                // Tera takes an undefined name in `if` as false; Ansible (rightly) calls it an
                // error. Unless the expression asks about definedness itself, say so.
                if !e.contains("defined") && !e.contains("default") {
                    for (off, name) in root_names(e) {
                        if !self.map.contains_key(name) {
                            let at = loc.offset_in(s, start + off);
                            let mut err = Error::input(
                                at,
                                format!(
                                    "cannot evaluate condition `{e}`: undefined variable `{name}`"
                                ),
                            );
                            err = match suggest(name, self.map.keys().map(String::as_str)) {
                                Some(h) => err.with_hint(format!("did you mean `{h}`?")),
                                None => err.with_hint(format!(
                                    "define it, or write `{name} is defined and …`"
                                )),
                            };
                            return Err(err);
                        }
                    }
                }
                Ok(out == "1")
            }
            Value::Null => Ok(false),
            other => Ok(truthy(other)),
        }
    }

    fn error(
        &self,
        e: tera::Error,
        source: &str,
        text: &str,
        to_text: &dyn Fn(usize) -> usize,
        loc: &Location,
    ) -> Error {
        let mut chain = Vec::new();
        let mut cur: Option<&dyn std::error::Error> = Some(&e);
        while let Some(err) = cur {
            chain.push(err.to_string());
            cur = err.source();
        }
        let detail = chain
            .iter()
            .rev()
            .find(|m| !m.starts_with("Failed to render") && !m.starts_with("Failed to parse"))
            .cloned()
            .unwrap_or_else(|| chain.join(": "));
        if let Some(var) = detail
            .strip_prefix("Variable `")
            .and_then(|r| r.split('`').next())
        {
            let root = var.split(['.', '[']).next().unwrap_or(var);
            let at = find_var(text, root)
                .map(|off| snap(loc.offset_in(text, off), root))
                .unwrap_or_else(|| loc.clone());
            let mut err = Error::undefined_variable(at, var);
            if let Some(s) = suggest(root, self.map.keys().map(String::as_str)) {
                err = err.with_hint(format!("did you mean `{s}`?"));
            } else {
                err = err.with_hint("define it in the play's `vars`, the inventory, or with `-e`");
            }
            return err;
        }
        // `Filter 'x' not found` and the like: point at the name, suggest a known one.
        for (what, known) in [
            ("Filter", FILTERS),
            ("Test", TESTS),
            ("Function", FUNCTIONS),
        ] {
            let Some(name) = detail
                .strip_prefix(&format!("{what} '"))
                .and_then(|r| r.split('\'').next())
            else {
                continue;
            };
            let at = find_word(text, name)
                .map(|off| snap(loc.offset_in(text, off), name))
                .unwrap_or_else(|| loc.clone());
            let err = Error::input(at, format!("unknown {} `{name}`", what.to_lowercase()));
            return match suggest(name, known.iter().copied()) {
                Some(s) => err.with_hint(format!("did you mean `{s}`?")),
                None => err,
            };
        }
        // Tera parse errors carry " --> line:col" of the template source.
        let off = parse_pos(&detail).map(|(l, c)| {
            let line_start: usize = source.split_inclusive('\n').take(l - 1).map(str::len).sum();
            let line = &source[line_start.min(source.len())..];
            let in_line = line
                .char_indices()
                .nth(c.saturating_sub(1))
                .map_or(line.len(), |(i, _)| i);
            to_text(line_start + in_line)
        });
        let at = off
            .map(|o| loc.offset_in(text, o))
            .unwrap_or_else(|| loc.clone());
        let first = detail.lines().next().unwrap_or("").trim();
        let mut err = if detail.contains("-->") {
            let expected = detail
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("")
                .trim()
                .trim_start_matches("= ");
            Error::input(at, format!("template syntax error: {expected}"))
        } else {
            Error::input(
                at,
                format!(
                    "template error: {}",
                    first.replace("'__tera_one_off'", "this value")
                ),
            )
        };
        // Jinja's `default('x')`: Tera's arguments are named.
        if let Some(o) = off.filter(|&o| {
            text[o.min(text.len())..]
                .chars()
                .next()
                .is_some_and(|c| matches!(c, '\'' | '"' | '0'..='9' | '-' | '['))
        }) && let Some(call) = text[..o].trim_end().strip_suffix('(')
        {
            let name: String = call
                .chars()
                .rev()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            if !name.is_empty() {
                let example = if name == "default" {
                    "default(value=\"x\")".to_string()
                } else {
                    format!("{name}(name=value)")
                };
                err = err.with_hint(format!(
                    "arguments in Tera are named, like `{example}`; Jinja's positional form does not work"
                ));
            }
        }
        err
    }
}

const OPEN: &str = "{% if ";

/// A `when`-style condition (braces tolerated) as a Tera template printing 1 or 0, where the
/// expression starts in `s`, and the expression.
fn condition_source(s: &str) -> (String, usize, &str) {
    let mut e = s.trim();
    if e.starts_with("{{") && e.ends_with("}}") {
        e = e[2..e.len() - 2].trim();
    }
    // Where `e` starts in `s`: error positions in the wrapper map back into `s`.
    let start = e.as_ptr() as usize - s.as_ptr() as usize;
    let source = format!("{OPEN}{e} %}}1{{% else %}}0{{% endif %}}");
    (source, start, e)
}

fn condition_error(err: Error, e: &str) -> Error {
    match err {
        Error::Input { loc, msg, hint, .. } => Error::Input {
            // The message now says more than that a variable is undefined.
            undefined: None,
            loc,
            msg: format!("cannot evaluate condition `{e}`: {msg}"),
            hint,
        },
        other => other,
    }
}

/// The filters, tests and functions a parsed template names, and the root names of the
/// variables it reads (`r` of `r.stdout`), found by walking Tera's syntax tree.
#[derive(Default)]
struct Found {
    filters: BTreeSet<String>,
    tests: BTreeSet<String>,
    functions: BTreeSet<String>,
    names: BTreeSet<String>,
}

impl Found {
    fn nodes(&mut self, nodes: &[tera::ast::Node]) {
        use tera::ast::Node;
        for n in nodes {
            match n {
                Node::VariableBlock(_, e) => self.expr(e),
                Node::MacroDefinition(_, m, _) => {
                    m.args.values().flatten().for_each(|e| self.expr(e));
                    self.nodes(&m.body);
                }
                Node::Set(_, set) => self.expr(&set.value),
                Node::FilterSection(_, f, _) => {
                    self.call(&f.filter, true);
                    self.nodes(&f.body);
                }
                Node::Block(_, b, _) => self.nodes(&b.body),
                Node::Forloop(_, f, _) => {
                    self.expr(&f.container);
                    self.nodes(&f.body);
                    if let Some(b) = &f.empty_body {
                        self.nodes(b);
                    }
                }
                Node::If(i, _) => {
                    for (_, e, body) in &i.conditions {
                        self.expr(e);
                        self.nodes(body);
                    }
                    if let Some((_, body)) = &i.otherwise {
                        self.nodes(body);
                    }
                }
                _ => {}
            }
        }
    }

    fn call(&mut self, c: &tera::ast::FunctionCall, filter: bool) {
        if filter {
            self.filters.insert(c.name.clone());
        } else {
            self.functions.insert(c.name.clone());
        }
        c.args.values().for_each(|e| self.expr(e));
    }

    fn ident(&mut self, id: &str) {
        let root = id.split(['.', '[']).next().unwrap_or(id);
        if !root.is_empty() {
            self.names.insert(root.to_string());
        }
        // `x[key]`: the index may itself be a variable.
        for part in id.split('[').skip(1) {
            let inner = part.split(']').next().unwrap_or("").trim();
            if inner.starts_with(|c: char| c.is_alphabetic() || c == '_') {
                self.ident(inner);
            }
        }
    }

    fn expr(&mut self, e: &tera::ast::Expr) {
        use tera::ast::ExprVal;
        for f in &e.filters {
            self.call(f, true);
        }
        match &e.val {
            ExprVal::Ident(id) => self.ident(id),
            ExprVal::Math(m) => {
                self.expr(&m.lhs);
                self.expr(&m.rhs);
            }
            ExprVal::Logic(l) => {
                self.expr(&l.lhs);
                self.expr(&l.rhs);
            }
            ExprVal::Test(t) => {
                self.ident(&t.ident);
                self.tests.insert(t.name.clone());
                t.args.iter().for_each(|a| self.expr(a));
            }
            ExprVal::MacroCall(m) => m.args.values().for_each(|a| self.expr(a)),
            ExprVal::FunctionCall(f) => self.call(f, false),
            ExprVal::Array(a) => a.iter().for_each(|x| self.expr(x)),
            ExprVal::StringConcat(c) => {
                for v in &c.values {
                    if let ExprVal::Ident(id) = v {
                        self.ident(id);
                    }
                }
            }
            ExprVal::In(i) => {
                self.expr(&i.lhs);
                self.expr(&i.rhs);
            }
            ExprVal::String(_) | ExprVal::Int(_) | ExprVal::Float(_) | ExprVal::Bool(_) => {}
        }
    }
}

/// The root names of the variables a value's templates read (empty for text Tera cannot
/// parse: rendering it reports that).
pub(crate) fn names_in(v: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    match v {
        Value::String(s) if has_template(s) => {
            if let Ok(t) = tera::Template::new("__tera_one_off", None, s) {
                let mut f = Found::default();
                f.nodes(&t.ast);
                out = f.names;
            }
        }
        Value::Array(a) => a.iter().for_each(|x| out.extend(names_in(x))),
        Value::Object(o) => o.values().for_each(|x| out.extend(names_in(x))),
        _ => {}
    }
    out
}

/// Tera's filters, tests and functions plus plumb's, for "did you mean" hints.
const FILTERS: &[&str] = &[
    "upper",
    "lower",
    "trim",
    "trim_start",
    "trim_end",
    "trim_start_matches",
    "trim_end_matches",
    "truncate",
    "wordcount",
    "replace",
    "capitalize",
    "title",
    "linebreaksbr",
    "indent",
    "striptags",
    "spaceless",
    "escape",
    "escape_xml",
    "addslashes",
    "split",
    "int",
    "float",
    "first",
    "last",
    "nth",
    "join",
    "sort",
    "unique",
    "slice",
    "group_by",
    "filter",
    "map",
    "concat",
    "abs",
    "pluralize",
    "round",
    "length",
    "reverse",
    "json_encode",
    "as_str",
    "get",
    "default",
    "safe",
    "bool",
    "quote",
    "basename",
    "dirname",
];
const TESTS: &[&str] = &[
    "defined",
    "undefined",
    "odd",
    "even",
    "string",
    "number",
    "divisibleby",
    "iterable",
    "object",
    "starting_with",
    "ending_with",
    "containing",
    "matching",
    "changed",
    "failed",
    "succeeded",
    "success",
    "skipped",
];
const FUNCTIONS: &[&str] = &["range", "throw", "get_env"];

/// The same place one line over when the text was not copied verbatim from the file (a block
/// scalar's indentation, escapes): where `token` actually is on the located line.
fn snap(at: Location, token: &str) -> Location {
    let Ok(file) = std::fs::read_to_string(at.path()) else {
        return at;
    };
    let Some(line) = file.lines().nth(at.line - 1) else {
        return at;
    };
    let cols: Vec<usize> = line
        .match_indices(token)
        .map(|(i, _)| line[..i].chars().count() + 1)
        .collect();
    if cols.is_empty() || cols.contains(&at.col) {
        return at;
    }
    let col = *cols
        .iter()
        .min_by_key(|c| c.abs_diff(at.col))
        .expect("non-empty");
    Location::new(&at.file, at.line, col)
}

/// Byte offset of `word` standing alone (not part of a longer name) in `text`.
fn find_word(text: &str, word: &str) -> Option<usize> {
    let is_word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    text.match_indices(word).map(|(i, _)| i).find(|&i| {
        !is_word(text[..i].chars().next_back()) && !is_word(text[i + word.len()..].chars().next())
    })
}

/// The variable names an expression starts its lookups with (`result` in `result.rc != 0`),
/// with their byte offsets: not keywords, tests (after `is`), filters (after `|`), attributes
/// (after `.`), function calls, numbers or quoted text.
fn root_names(e: &str) -> Vec<(usize, &str)> {
    const KEYWORDS: &[&str] = &[
        "and", "or", "not", "in", "is", "true", "false", "True", "False", "none", "None", "if",
        "else",
    ];
    let b = e.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut prev_sig: Option<u8> = None;
    let mut prev_word: &str = "";
    while i < b.len() {
        let c = b[i];
        if c == b'"' || c == b'\'' {
            let q = c;
            i += 1;
            while i < b.len() && b[i] != q {
                i += 1;
            }
            i += 1;
            prev_sig = Some(q);
            prev_word = "";
            continue;
        }
        if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            let word = &e[start..i];
            let mut j = i;
            while j < b.len() && b[j] == b' ' {
                j += 1;
            }
            let call = j < b.len() && b[j] == b'(';
            let after_attr = matches!(prev_sig, Some(b'.') | Some(b'|'));
            let after_is = prev_word == "is" || (prev_word == "not" && is_after_is(e, start));
            if !KEYWORDS.contains(&word) && !call && !after_attr && !after_is {
                out.push((start, word));
            }
            prev_word = word;
            prev_sig = Some(b'a');
            continue;
        }
        if c.is_ascii_digit() {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'.') {
                i += 1;
            }
            prev_sig = Some(b'0');
            prev_word = "";
            continue;
        }
        if !c.is_ascii_whitespace() {
            prev_sig = Some(c);
            prev_word = "";
        }
        i += 1;
    }
    out
}

/// Whether the `not` before `at` follows an `is` (`x is not defined`).
fn is_after_is(e: &str, at: usize) -> bool {
    e[..at]
        .trim_end()
        .strip_suffix("not")
        .is_some_and(|r| r.trim_end().ends_with(" is"))
}

fn parse_pos(detail: &str) -> Option<(usize, usize)> {
    let rest = &detail[detail.find("--> ")? + 4..];
    let pos: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == ':')
        .collect();
    let (l, c) = pos.split_once(':')?;
    Some((l.parse().ok()?, c.parse().ok()?))
}

/// Byte offset of `name` used as a variable inside `{{ }}` or `{% %}` in `text`.
fn find_var(text: &str, name: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = text[from..].find(name) {
        let at = from + i;
        let before = text[..at].chars().next_back();
        let after = text[at + name.len()..].chars().next();
        let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
        let opened = text[..at].rfind("{{").max(text[..at].rfind("{%"));
        let closed = text[..at].rfind("}}").max(text[..at].rfind("%}"));
        if !word(before) && !word(after) && opened.is_some() && opened > closed {
            return Some(at);
        }
        from = at + name.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::path::PathBuf;
    use std::sync::Arc;

    fn vars(v: Value) -> Vars {
        Vars::new(v.as_object().unwrap().clone())
    }

    fn loc() -> Location {
        Location::new(&Arc::new(PathBuf::from("site.yml")), 7, 12)
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
        // The parser stops at the third `=`: 4 bytes into `x ===`, which starts at 7:12.
        let (at, msg, _) = input_err(v.condition(&json!("x ==="), &loc()));
        assert_eq!(at, (7, 16));
        assert!(
            msg.starts_with("cannot evaluate condition `x ===`: "),
            "{msg}"
        );
        // Braces are tolerated and counted.
        let (at, _, _) = input_err(v.condition(&json!("{{ x === }}"), &loc()));
        assert_eq!(at, (7, 19));
        let (at, msg, hint) = input_err(v.condition(&json!("x is definde"), &loc()));
        assert_eq!(at, (7, 17));
        assert!(msg.ends_with("unknown test `definde`"), "{msg}");
        assert_eq!(hint.unwrap(), "did you mean `defined`?");
        let (_, _, hint) = input_err(v.condition(&json!("x | default('a') == 1"), &loc()));
        assert!(hint.unwrap().contains("`default(value=\"x\")`"));
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
        // Tera would never look these up: a false branch, a short-circuit.
        for bad in [
            "{% if on %}{{ x | nope }}{% endif %}",
            "{{ on and x is nope }}",
            "{{ nope() }}",
        ] {
            let err = v.check_value(&json!(bad), &loc(), &mut names).unwrap_err();
            assert!(err.to_string().contains("unknown"), "{bad}: {err}");
            assert!(v.render(bad, &loc()).is_err(), "{bad}");
        }
        let err = v.condition(&json!("on and x | nope"), &loc()).unwrap_err();
        assert!(err.to_string().contains("unknown filter `nope`"), "{err}");
        // Tera's own `default` and `safe` are not looked up.
        assert!(
            v.check_value(
                &json!("{{ y | default(value=1) | safe }}"),
                &loc(),
                &mut names
            )
            .is_ok()
        );
    }

    #[test]
    fn root_names_of_expressions() {
        fn names(e: &str) -> Vec<&str> {
            root_names(e).into_iter().map(|(_, n)| n).collect()
        }
        assert_eq!(names("r.rc != 0 and flag | bool"), ["r", "flag"]);
        assert_eq!(names("'x' in out.stdout"), ["out"]);
        assert_eq!(names("r is not changed"), ["r"]);
        assert_eq!(names("items | length > 2"), ["items"]);
        assert_eq!(names("x == \"a b\" or y"), ["x", "y"]);
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
            v.condition(&json!("missing | default(value=true)"), &loc())
                .is_ok()
        );
    }

    #[test]
    fn bad_condition_is_an_input_error() {
        let v = vars(json!({}));
        let err = v.condition(&json!("x ==="), &loc()).err().unwrap();
        assert!(
            err.to_string().contains("cannot evaluate condition"),
            "{err}"
        );
    }
}
