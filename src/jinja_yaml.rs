//! YAML as PyYAML reads and writes it, for `from_yaml`, `to_yaml` and `to_nice_yaml`: YAML 1.1
//! scalars (`yes`/`no`, `0644` octal, `1_000`), and the dumper's layout (sorted keys, flow style
//! for leaf collections in `to_yaml`, quoting of strings that would read back as other types).

use crate::py_value::{float_repr, py_str};
use minijinja::value::{Kwargs, Value, ValueKind};
use minijinja::{Error, ErrorKind};
use std::collections::HashMap;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

#[derive(Default)]
struct Events(Vec<Event>);

impl MarkedEventReceiver for Events {
    fn on_event(&mut self, ev: Event, _mark: Marker) {
        self.0.push(ev);
    }
}

/// A plain scalar typed by YAML 1.1's resolver, as PyYAML does.
pub fn resolve_plain(s: &str) -> serde_json::Value {
    use serde_json::Value as J;
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return J::Null,
        "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return J::Bool(true);
        }
        "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return J::Bool(false);
        }
        _ => {}
    }
    let t = s.replace('_', "");
    let (neg, body) = match t.strip_prefix('-') {
        Some(b) => (true, b.to_string()),
        None => (false, t.strip_prefix('+').unwrap_or(&t).to_string()),
    };
    let sign = |n: i64| if neg { -n } else { n };
    if !body.is_empty()
        && s.chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit() || c == '-' || c == '+')
    {
        if let Some(h) = body.strip_prefix("0x") {
            if let Ok(n) = i64::from_str_radix(h, 16) {
                return J::from(sign(n));
            }
        } else if let Some(b) = body.strip_prefix("0b") {
            if let Ok(n) = i64::from_str_radix(b, 2) {
                return J::from(sign(n));
            }
        } else if body.len() > 1
            && body.starts_with('0')
            && body.chars().all(|c| c.is_ascii_digit())
        {
            if let Ok(n) = i64::from_str_radix(&body, 8) {
                return J::from(sign(n));
            }
        } else if body.chars().all(|c| c.is_ascii_digit()) {
            if let Ok(n) = body.parse::<i64>() {
                return J::from(sign(n));
            }
        } else if body.contains(':')
            && !body.starts_with('0')
            && body.split(':').enumerate().all(|(i, p)| {
                !p.is_empty()
                    && p.chars().all(|c| c.is_ascii_digit())
                    && (i == 0
                        || (p.len() <= 2
                            && p.parse::<u32>().unwrap_or(99) < 60
                            && (p.len() == 1 || p.as_bytes()[0] <= b'5')))
            })
        {
            let mut n = 0i64;
            for p in body.split(':') {
                n = n * 60 + p.parse::<i64>().unwrap_or(0);
            }
            return J::from(sign(n));
        }
        // float: [-+]?([0-9][0-9_]*)?\.[0-9.]*([eE][-+][0-9]+)?
        let is_float = body.contains('.')
            && body
                .chars()
                .all(|c| c.is_ascii_digit() || ".eE+-".contains(c))
            && body.matches('.').count() == 1;
        if is_float && let Ok(f) = body.parse::<f64>() {
            return serde_json::Number::from_f64(if neg { -f } else { f })
                .map(J::Number)
                .unwrap_or(J::Null);
        }
    }
    if s.starts_with('.')
        && let Ok(f) = s.parse::<f64>()
        && s[1..].chars().all(|c| c.is_ascii_digit())
    {
        return serde_json::Number::from_f64(f)
            .map(J::Number)
            .unwrap_or(J::Null);
    }
    J::String(s.to_string())
}

struct Loader {
    events: Vec<Event>,
    at: usize,
    anchors: HashMap<usize, serde_json::Value>,
}

impl Loader {
    fn node(&mut self) -> serde_json::Value {
        let ev = self
            .events
            .get(self.at)
            .cloned()
            .unwrap_or(Event::StreamEnd);
        self.at += 1;
        let (aid, v) = match ev {
            Event::Scalar(val, style, aid, tag) => {
                let v = if let Some(t) = tag {
                    match t.suffix.as_str() {
                        "str" => serde_json::Value::String(val),
                        _ => resolve_plain(&val),
                    }
                } else if style == TScalarStyle::Plain {
                    resolve_plain(&val)
                } else {
                    serde_json::Value::String(val)
                };
                (aid, v)
            }
            Event::SequenceStart(aid, _) => {
                let mut items = vec![];
                while !matches!(self.events.get(self.at), Some(Event::SequenceEnd) | None) {
                    items.push(self.node());
                }
                self.at += 1;
                (aid, serde_json::Value::Array(items))
            }
            Event::MappingStart(aid, _) => {
                let mut m = serde_json::Map::new();
                while !matches!(self.events.get(self.at), Some(Event::MappingEnd) | None) {
                    let k = self.node();
                    let v = self.node();
                    if let (Some("<<"), serde_json::Value::Object(src)) = (k.as_str(), &v) {
                        for (a, b) in src {
                            m.entry(a.clone()).or_insert(b.clone());
                        }
                        continue;
                    }
                    let key = match k {
                        serde_json::Value::String(s) => s,
                        serde_json::Value::Null => "None".into(),
                        serde_json::Value::Bool(b) => {
                            if b {
                                "True".into()
                            } else {
                                "False".into()
                            }
                        }
                        other => other.to_string(),
                    };
                    m.insert(key, v);
                }
                self.at += 1;
                (aid, serde_json::Value::Object(m))
            }
            Event::Alias(aid) => (0, self.anchors.get(&aid).cloned().unwrap_or_default()),
            _ => (0, serde_json::Value::Null),
        };
        if aid > 0 {
            self.anchors.insert(aid, v.clone());
        }
        v
    }
}

/// All documents of a YAML text, typed as PyYAML's safe loader types them.
pub fn load_all(text: &str) -> Result<Vec<serde_json::Value>, String> {
    let mut events = Events::default();
    Parser::new_from_str(text)
        .load(&mut events, true)
        .map_err(|e| {
            format!(
                "{}:{}: {}",
                e.marker().line(),
                e.marker().col() + 1,
                e.info()
            )
        })?;
    let mut l = Loader {
        events: events.0,
        at: 0,
        anchors: HashMap::new(),
    };
    let mut docs = vec![];
    while l.at < l.events.len() {
        match l.events[l.at] {
            Event::DocumentStart => {
                l.at += 1;
                if matches!(l.events.get(l.at), Some(Event::DocumentEnd)) {
                    docs.push(serde_json::Value::Null);
                } else {
                    docs.push(l.node());
                }
            }
            _ => l.at += 1,
        }
    }
    Ok(docs)
}

/// The first document (null if none).
pub fn load(text: &str) -> Result<serde_json::Value, String> {
    Ok(load_all(text)?.into_iter().next().unwrap_or_default())
}

fn yerr(msg: String) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg)
}

pub fn from_yaml(v: Value) -> Result<Value, Error> {
    load(&py_str(&v))
        .map(|j| crate::py_value::from_json(&j))
        .map_err(yerr)
}

pub fn from_yaml_all(v: Value) -> Result<Value, Error> {
    let docs = load_all(&py_str(&v)).map_err(yerr)?;
    Ok(Value::from(
        docs.iter()
            .map(crate::py_value::from_json)
            .collect::<Vec<_>>(),
    ))
}

// ---- dumping -------------------------------------------------------------------------------

struct Dumper {
    indent: usize,
    flow_leaves: bool,
    sort: bool,
    width: usize,
}

fn plain_ok(s: &str) -> bool {
    if s.is_empty() || s != s.trim() || s.contains('\n') {
        return false;
    }
    let first = s.chars().next().unwrap_or(' ');
    if "-?:,[]{}#&*!|>'\"%@`".contains(first) {
        // `-`, `?` and `:` are fine when followed by a non-space
        if !("-?:".contains(first) && s.len() > 1 && !s[1..].starts_with(' ')) {
            return false;
        }
    }
    if s.contains(": ") || s.contains(" #") || s.ends_with(':') {
        return false;
    }
    if s.chars()
        .any(|c| (c as u32) < 0x20 || c == '\u{85}' || c == '\u{feff}')
    {
        return false;
    }
    if s == "-" || s == "---" || s == "..." {
        return false;
    }
    // it must read back as a string
    matches!(resolve_plain(s), serde_json::Value::String(_))
        && !matches!(s, "=" | "<<")
        && !matches!(
            s.to_lowercase().as_str(),
            ".inf" | "-.inf" | "+.inf" | ".nan"
        )
}

fn single_quoted(s: &str, indent: usize, width: usize, col: usize) -> String {
    let mut out = String::from("'");
    let mut column = col + 1;
    let words: Vec<&str> = s.split(' ').collect();
    for (i, w) in words.iter().enumerate() {
        if i > 0 {
            if column > width && !w.is_empty() && !words[i - 1].is_empty() {
                out.push('\n');
                out.push_str(&" ".repeat(indent));
                column = indent;
            } else {
                out.push(' ');
                column += 1;
            }
        }
        let esc = w.replace('\'', "''");
        let parts: Vec<&str> = esc.split('\n').collect();
        for (j, p) in parts.iter().enumerate() {
            if j > 0 {
                out.push_str("\n\n");
                out.push_str(&" ".repeat(indent));
                column = indent;
            }
            out.push_str(p);
            column += p.chars().count();
        }
    }
    out.push('\'');
    out
}

fn col_of(out: &str) -> usize {
    out.rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0)
}

fn double_quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\x{:02X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl Dumper {
    fn scalar(&self, v: &Value, indent: usize, col: usize) -> String {
        match v.kind() {
            ValueKind::None | ValueKind::Undefined => "null".into(),
            ValueKind::Bool => if v.is_true() { "true" } else { "false" }.into(),
            ValueKind::Number if v.is_integer() => v.to_string(),
            ValueKind::Number => {
                let f = f64::try_from(v.clone()).unwrap_or(0.0);
                if f.is_nan() {
                    ".nan".into()
                } else if f.is_infinite() {
                    if f > 0.0 {
                        ".inf".into()
                    } else {
                        "-.inf".into()
                    }
                } else {
                    float_repr(f)
                }
            }
            _ => {
                let s = py_str(v);
                if s.chars()
                    .any(|c| ((c as u32) < 0x20 && c != '\n') || (0x7f..0xa0).contains(&(c as u32)))
                {
                    double_quoted(&s)
                } else if plain_ok(&s)
                    && (col + s.chars().count() <= self.width || !s.contains(' '))
                {
                    s
                } else if plain_ok(&s) {
                    // long plain scalars fold at spaces like PyYAML
                    let mut out = String::new();
                    let mut column = col;
                    for (i, w) in s.split(' ').enumerate() {
                        if i > 0 {
                            if column > self.width {
                                out.push('\n');
                                out.push_str(&" ".repeat(indent));
                                column = indent;
                            } else {
                                out.push(' ');
                                column += 1;
                            }
                        }
                        out.push_str(w);
                        column += w.chars().count();
                    }
                    out
                } else {
                    single_quoted(&s, indent, self.width, col)
                }
            }
        }
    }

    fn is_leaf_collection(v: &Value) -> bool {
        v.try_iter()
            .map(|it| {
                it.map(|x| {
                    if v.kind() == ValueKind::Map {
                        v.get_item(&x).unwrap_or_default()
                    } else {
                        x
                    }
                })
                .all(|x| !matches!(x.kind(), ValueKind::Map | ValueKind::Seq))
            })
            .unwrap_or(true)
    }

    fn keys(&self, v: &Value) -> Vec<Value> {
        let mut keys: Vec<Value> = v.try_iter().map(|i| i.collect()).unwrap_or_default();
        // Python sorts keys of one kind; mixed kinds stay in their order (PyYAML's fallback)
        let strings = keys.iter().all(|k| k.kind() == ValueKind::String);
        let numbers = keys
            .iter()
            .all(|k| matches!(k.kind(), ValueKind::Number | ValueKind::Bool));
        if self.sort && (strings || numbers) {
            keys.sort();
        }
        keys
    }

    /// A flow collection (or a scalar in one) at flow indent `indent`, appended to `out`;
    /// lines break after a comma once past the width, as PyYAML does.
    fn flow_into(&self, v: &Value, indent: usize, out: &mut String) {
        let (open, close, keys): (char, char, Option<Vec<Value>>) = match v.kind() {
            ValueKind::Map => ('{', '}', Some(self.keys(v))),
            ValueKind::Seq | ValueKind::Iterable => ('[', ']', None),
            _ => {
                self.flow_scalar(v, indent, out);
                return;
            }
        };
        out.push(open);
        let items: Vec<Value> = match &keys {
            Some(k) => k.clone(),
            None => v.try_iter().map(|i| i.collect()).unwrap_or_default(),
        };
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            if col_of(out) > self.width {
                out.push('\n');
                out.push_str(&" ".repeat(indent));
            } else if i > 0 {
                out.push(' ');
            }
            if keys.is_some() {
                self.flow_scalar(item, indent + self.indent, out);
                out.push_str(": ");
                let child = v.get_item(item).unwrap_or_default();
                self.flow_into(&child, indent + self.indent, out);
            } else {
                self.flow_into(item, indent + self.indent, out);
            }
        }
        out.push(close);
    }

    fn flow_scalar(&self, v: &Value, indent: usize, out: &mut String) {
        let col = col_of(out);
        let s = self.scalar(v, indent, col);
        // inside flow collections `,?[]{}` and `:` need quotes too
        let is_str = v.kind() == ValueKind::String;
        if !is_str || s.starts_with(['\'', '"']) || !s.contains([',', '?', '[', ']', '{', '}', ':'])
        {
            out.push_str(&s);
        } else {
            out.push_str(&single_quoted(&py_str(v), indent, self.width, col));
        }
    }

    /// Block-style node at `indent`; `out` already holds the text before it on the same line.
    fn block(&self, v: &Value, indent: usize, out: &mut String, in_seq: bool) {
        let is_coll = matches!(
            v.kind(),
            ValueKind::Map | ValueKind::Seq | ValueKind::Iterable
        );
        let empty = is_coll && v.len().unwrap_or(0) == 0;
        if !is_coll || empty || (self.flow_leaves && Self::is_leaf_collection(v)) {
            let col = out
                .rsplit('\n')
                .next()
                .map(|l| l.chars().count())
                .unwrap_or(0);
            if is_coll {
                self.flow_into(v, indent.max(self.indent), out);
            } else {
                let text = self.scalar(v, indent, col);
                out.push_str(&text);
            }
            out.push('\n');
            return;
        }
        if v.kind() == ValueKind::Map {
            for (i, k) in self.keys(v).iter().enumerate() {
                if i > 0 || !in_seq {
                    out.push_str(&" ".repeat(indent));
                }
                out.push_str(&self.scalar(k, indent, indent));
                out.push(':');
                let child = v.get_item(k).unwrap_or_default();
                let child_is_block = matches!(child.kind(), ValueKind::Map | ValueKind::Seq)
                    && child.len().unwrap_or(0) > 0
                    && !(self.flow_leaves && Self::is_leaf_collection(&child));
                if child_is_block {
                    out.push('\n');
                    let ci = if child.kind() == ValueKind::Seq {
                        indent
                    } else {
                        indent + self.indent
                    };
                    self.block(&child, ci, out, false);
                } else {
                    out.push(' ');
                    self.block(&child, indent + self.indent, out, false);
                }
            }
        } else {
            for (i, x) in v
                .try_iter()
                .map(|i| i.collect::<Vec<_>>())
                .unwrap_or_default()
                .iter()
                .enumerate()
            {
                if i > 0 || !in_seq {
                    out.push_str(&" ".repeat(indent));
                }
                let nested = matches!(x.kind(), ValueKind::Map | ValueKind::Seq)
                    && x.len().unwrap_or(0) > 0
                    && !(self.flow_leaves && Self::is_leaf_collection(x));
                if nested {
                    // PyYAML pads a nested block after `-` to the indent width
                    out.push('-');
                    out.push_str(&" ".repeat(self.indent.max(2) - 1));
                    self.block(x, indent + self.indent.max(2), out, true);
                } else {
                    out.push_str("- ");
                    self.block(x, indent + 2, out, false);
                }
            }
        }
    }

    fn dump(&self, v: &Value) -> String {
        let mut out = String::new();
        let is_coll = matches!(
            v.kind(),
            ValueKind::Map | ValueKind::Seq | ValueKind::Iterable
        );
        if !is_coll {
            out.push_str(&self.scalar(v, 0, 0));
            out.push('\n');
            return out;
        }
        self.block(v, 0, &mut out, false);
        out
    }
}

pub fn to_yaml(v: Value, kw: Kwargs) -> Result<String, Error> {
    let indent: usize = kw.get::<Option<usize>>("indent")?.unwrap_or(2);
    let sort: bool = kw.get::<Option<bool>>("sort_keys")?.unwrap_or(true);
    let width: usize = kw.get::<Option<usize>>("width")?.unwrap_or(80);
    let flow: Option<bool> = kw.get("default_flow_style")?;
    let d = Dumper {
        indent,
        flow_leaves: flow.is_none(),
        sort,
        width,
    };
    Ok(d.dump(&v))
}

pub fn to_nice_yaml(v: Value, kw: Kwargs) -> Result<String, Error> {
    let indent: usize = kw.get::<Option<usize>>("indent")?.unwrap_or(4);
    let sort: bool = kw.get::<Option<bool>>("sort_keys")?.unwrap_or(true);
    let width: usize = kw.get::<Option<usize>>("width")?.unwrap_or(80);
    let d = Dumper {
        indent,
        flow_leaves: false,
        sort,
        width,
    };
    Ok(d.dump(&v))
}
