//! `replace`: every match of a regular expression in a text file (or in the part of it between
//! `after` and `before`) replaced, as Ansible's `replace` does; the whole new file is written
//! atomically.
//!
//! Patterns are Rust's `regex` syntax in multi-line mode (`^`/`$` at each line, as Python's
//! `re.MULTILINE`): no look-around, no back-references in the pattern. The replacement takes
//! Python's forms: `\1`, `\g<1>`, `\g<name>`, and the escapes `\n`, `\t`, `\r`, `\\`.

use super::args::Getter;
use super::copy::Copy;
use super::textfile;
use super::{Plan, Resource};
use crate::error::Result;
use regex::{Captures, Regex, RegexBuilder};
use serde_json::{Value, json};

#[derive(Debug, Clone)]
enum Piece {
    Text(String),
    Group(usize),
    Named(String),
}

#[derive(Debug, Clone)]
pub(crate) struct Replace {
    pub path: String,
    regexp: Regex,
    replace: Vec<Piece>,
    /// The section: after the first match of `after`, up to the first match of `before`.
    section: Option<Regex>,
    pub writer: Copy,
}

super::plain_module!(Replace);

impl Replace {
    pub(crate) fn build(a: &Getter) -> Result<Replace> {
        let key = ["path", "dest", "destfile", "name"]
            .into_iter()
            .find(|k| a.has(k))
            .unwrap_or("path");
        let path = a.opt_path(key)?.expect("checked: path is present");
        let pattern = a.str("regexp")?;
        let regexp = RegexBuilder::new(&pattern)
            .multi_line(true)
            .build()
            .map_err(|e| a.err("regexp", format!("bad regular expression: {e}")))?;
        let replace = parse_replacement(&a.opt_str("replace")?.unwrap_or_default())
            .map_err(|e| a.err("replace", e))?;
        for p in &replace {
            match p {
                Piece::Group(n) if *n >= regexp.captures_len() => {
                    return Err(a.err("replace", format!("invalid group reference {n}")));
                }
                Piece::Named(n) if !regexp.capture_names().any(|c| c == Some(n)) => {
                    return Err(a.err("replace", format!("unknown group name `{n}`")));
                }
                _ => {}
            }
        }
        let after = a.opt_str("after")?;
        let before = a.opt_str("before")?;
        let section = match (&after, &before) {
            (None, None) => None,
            (Some(x), Some(y)) => Some(format!("(?:{x})(?P<plumb_sub>.*?)(?:{y})")),
            (Some(x), None) => Some(format!("(?:{x})(?P<plumb_sub>.*)")),
            (None, Some(y)) => Some(format!("(?P<plumb_sub>.*)(?:{y})")),
        };
        let section = match section {
            None => None,
            Some(s) => Some(
                RegexBuilder::new(&s)
                    .dot_matches_new_line(true)
                    .build()
                    .map_err(|e| {
                        a.err(
                            if after.is_some() { "after" } else { "before" },
                            format!("bad regular expression: {e}"),
                        )
                    })?,
            ),
        };
        Ok(Replace {
            writer: textfile::writer(a, &path)?,
            path,
            regexp,
            replace,
            section,
        })
    }

    pub(crate) fn reads(&self) -> Vec<Resource> {
        vec![Resource::Path(self.path.clone())]
    }

    pub(crate) fn probe(&self) -> String {
        textfile::probe(&self.path)
    }

    pub(crate) fn plan(&self, facts: &str) -> std::result::Result<Plan, String> {
        let (fact, old) = textfile::read(facts, &self.path)?;
        let Some(old) = old else {
            return Err(format!("Path {} does not exist !", self.path));
        };
        let (start, end) = match &self.section {
            None => (0, old.len()),
            Some(s) => match s.captures(&old).and_then(|c| c.name("plumb_sub")) {
                Some(m) => (m.start(), m.end()),
                None => {
                    return Ok(Plan {
                        result: msg(&format!(
                            "Pattern for before/after params did not match the given file: {}",
                            s.as_str()
                        )),
                        ..Plan::ok()
                    });
                }
            },
        };
        let section = &old[start..end];
        let mut n = 0;
        let replaced = self.regexp.replace_all(section, |c: &Captures| {
            n += 1;
            self.expand(c)
        });
        if n == 0 || replaced == section {
            let mut p = textfile::attrs_plan(&self.writer, &fact, &self.path);
            p.result = msg("");
            return Ok(p);
        }
        let new = format!("{}{replaced}{}", &old[..start], &old[end..]);
        let what = format!(
            "{n} replacement{} in {}",
            if n == 1 { "" } else { "s" },
            self.path
        );
        let mut p = textfile::write_plan(&self.writer, Some(&fact), new, what);
        p.result = msg(&format!("{n} replacements made"));
        Ok(p)
    }

    fn expand(&self, c: &Captures) -> String {
        let mut s = String::new();
        for p in &self.replace {
            match p {
                Piece::Text(t) => s.push_str(t),
                Piece::Group(i) => s.push_str(c.get(*i).map_or("", |m| m.as_str())),
                Piece::Named(n) => s.push_str(c.name(n).map_or("", |m| m.as_str())),
            }
        }
        s
    }
}

fn msg(m: &str) -> serde_json::Map<String, Value> {
    match json!({ "msg": m }) {
        Value::Object(o) => o,
        _ => unreachable!(),
    }
}

/// Python's `re.sub` replacement template: `\N`, `\NN`, `\g<N>`, `\g<name>`, escapes.
fn parse_replacement(r: &str) -> std::result::Result<Vec<Piece>, String> {
    let mut out = Vec::new();
    let mut text = String::new();
    let mut chars = r.chars().peekable();
    let flush = |text: &mut String, out: &mut Vec<Piece>| {
        if !text.is_empty() {
            out.push(Piece::Text(std::mem::take(text)));
        }
    };
    while let Some(ch) = chars.next() {
        if ch != '\\' {
            text.push(ch);
            continue;
        }
        match chars.next() {
            None => return Err("bad escape (end of pattern)".into()),
            Some(d @ '0'..='9') => {
                let mut num = d.to_string();
                if let Some(&d2 @ '0'..='9') = chars.peek() {
                    num.push(d2);
                    chars.next();
                }
                if num.starts_with('0') {
                    return Err(format!("octal escape \\{num} is not supported"));
                }
                flush(&mut text, &mut out);
                out.push(Piece::Group(num.parse().expect("digits")));
            }
            Some('g') => {
                if chars.next() != Some('<') {
                    return Err("missing < after \\g".into());
                }
                let mut name = String::new();
                loop {
                    match chars.next() {
                        Some('>') => break,
                        Some(c) => name.push(c),
                        None => return Err("missing >, unterminated name".into()),
                    }
                }
                flush(&mut text, &mut out);
                match name.parse::<usize>() {
                    Ok(n) => out.push(Piece::Group(n)),
                    Err(_) if !name.is_empty() => out.push(Piece::Named(name)),
                    Err(_) => return Err("missing group name".into()),
                }
            }
            Some('n') => text.push('\n'),
            Some('t') => text.push('\t'),
            Some('r') => text.push('\r'),
            Some('f') => text.push('\x0c'),
            Some('v') => text.push('\x0b'),
            Some('a') => text.push('\x07'),
            Some('b') => text.push('\x08'),
            Some('\\') => text.push('\\'),
            Some(c) if c.is_ascii_alphabetic() => return Err(format!("bad escape \\{c}")),
            // Python keeps an unknown non-letter escape as written.
            Some(c) => {
                text.push('\\');
                text.push(c);
            }
        }
    }
    flush(&mut text, &mut out);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::textfile::tests::{ABSENT, facts};
    use super::*;
    use crate::modules::args::Args;
    use serde_json::Map;
    use std::collections::HashMap;
    use std::sync::Arc;

    fn rep(args: Value) -> std::result::Result<Replace, String> {
        let map: Map<String, Value> = args.as_object().unwrap().clone();
        let args = Args {
            map: map.clone(),
            locs: HashMap::new(),
            key_locs: HashMap::new(),
            loc: crate::location::Location::new(&Arc::new("t.yml".into()), 1, 1),
        };
        Replace::build(&Getter::new(&map, &args)).map_err(|e| e.to_string())
    }

    fn new_text(p: &Plan) -> String {
        String::from_utf8(p.changes[0].content.as_ref().unwrap().new.to_vec()).unwrap()
    }

    #[test]
    fn table() {
        let p = "/etc/x.conf";
        // (args, old, new or None, summary)
        let table: &[(Value, &str, Option<&str>, &str)] = &[
            (
                json!({"path": p, "regexp": "^#?PermitRootLogin .*$", "replace": "PermitRootLogin no"}),
                "#PermitRootLogin yes\nX 1\n",
                Some("PermitRootLogin no\nX 1\n"),
                "1 replacement in /etc/x.conf",
            ),
            // Already replaced: ok.
            (
                json!({"path": p, "regexp": "^#?PermitRootLogin .*$", "replace": "PermitRootLogin no"}),
                "PermitRootLogin no\n",
                None,
                "",
            ),
            // Groups, Python style, every match.
            (
                json!({"path": p, "regexp": "(\\w+)=(\\d+)", "replace": "\\2=\\g<1>"}),
                "a=1 b=2\n",
                Some("1=a 2=b\n"),
                "2 replacements in /etc/x.conf",
            ),
            (
                json!({"path": p, "regexp": "(?P<k>\\w+):", "replace": "\\g<k> ="}),
                "host: x\n",
                Some("host = x\n"),
                "1 replacement in /etc/x.conf",
            ),
            // `$` in the replacement is literal (not Rust's group syntax); `\n` is a newline.
            (
                json!({"path": p, "regexp": "X", "replace": "$1\\n"}),
                "aXb\n",
                Some("a$1\nb\n"),
                "1 replacement in /etc/x.conf",
            ),
            // Default replacement: remove.
            (
                json!({"path": p, "regexp": "^# .*\\n"}),
                "# c\na\n# d\n",
                Some("a\n"),
                "2 replacements in /etc/x.conf",
            ),
            // after / before limit the section.
            (
                json!({"path": p, "regexp": "^x", "replace": "y", "after": "\\[b\\]", "before": "\\[c\\]"}),
                "[a]\nx\n[b]\nx\n[c]\nx\n",
                Some("[a]\nx\n[b]\ny\n[c]\nx\n"),
                "1 replacement in /etc/x.conf",
            ),
            (
                json!({"path": p, "regexp": "^x", "replace": "y", "after": "\\[b\\]"}),
                "x\n[b]\nx\nx\n",
                Some("x\n[b]\ny\ny\n"),
                "2 replacements in /etc/x.conf",
            ),
            (
                json!({"path": p, "regexp": "^x", "replace": "y", "before": "\\[b\\]"}),
                "x\n[b]\nx\n",
                Some("y\n[b]\nx\n"),
                "1 replacement in /etc/x.conf",
            ),
            // A section that is not there: ok, with Ansible's message.
            (
                json!({"path": p, "regexp": "^x", "replace": "y", "after": "nothing"}),
                "x\n",
                None,
                "",
            ),
            // A match replaced by itself is no change.
            (
                json!({"path": p, "regexp": "a", "replace": "a"}),
                "a\n",
                None,
                "",
            ),
        ];
        for (args, old, want, what) in table {
            let t = rep(args.clone()).unwrap();
            let plan = t.plan(&facts(p, old)).unwrap();
            match want {
                None => assert!(plan.changes.is_empty(), "{args} on {old:?}"),
                Some(w) => {
                    assert_eq!(new_text(&plan), *w, "{args} on {old:?}");
                    assert_eq!(plan.changes[0].summary, *what);
                }
            }
        }
        let t = rep(json!({"path": p, "regexp": "^x", "after": "nothing"})).unwrap();
        let r = t.plan(&facts(p, "x\n")).unwrap().result;
        assert!(
            r["msg"]
                .as_str()
                .unwrap()
                .starts_with("Pattern for before/after")
        );
    }

    #[test]
    fn errors() {
        let t = rep(json!({"path": "/etc/x", "regexp": "a"})).unwrap();
        assert!(t.plan(ABSENT).unwrap_err().contains("does not exist"));
        assert!(t.plan("").is_err());
        for bad in [
            json!({"path": "/etc/x", "regexp": "(?<=a)b"}),
            json!({"path": "/etc/x", "regexp": "(a)", "replace": "\\2"}),
            json!({"path": "/etc/x", "regexp": "(a)", "replace": "\\g<nope>"}),
            json!({"path": "/etc/x", "regexp": "a", "replace": "\\q"}),
            json!({"path": "/etc/x", "regexp": "a", "replace": "x\\"}),
            json!({"path": "/etc/x", "regexp": "a", "after": "("}),
        ] {
            assert!(rep(bad.clone()).is_err(), "{bad}");
        }
    }
}
