//! `blockinfile`: a block of lines between two marker lines, inserted, updated or removed in a
//! text file, as Ansible's `blockinfile` does; the whole new file is written atomically.

use super::args::Getter;
use super::copy::Copy;
use super::textfile;
use super::{Plan, Resource};
use crate::error::Result;
use regex::Regex;
use serde_json::{Value, json};

#[derive(Debug, Clone)]
pub(crate) enum Anchor {
    Bof,
    Eof,
    /// After (or before) the last line matching this.
    Line(Regex),
}

#[derive(Debug, Clone)]
pub(crate) struct BlockInFile {
    pub path: String,
    /// The block's lines (without the markers); empty means: remove the block.
    pub block: Vec<String>,
    begin: String,
    pub end: String,
    pub present: bool,
    pub after: Option<Anchor>,
    pub before: Option<Anchor>,
    pub create: bool,
    pub append_newline: bool,
    pub prepend_newline: bool,
    pub writer: Copy,
}

super::plain_module!(BlockInFile);

impl BlockInFile {
    pub(crate) fn build(a: &Getter) -> Result<BlockInFile> {
        let key = ["path", "dest", "destfile", "name"]
            .into_iter()
            .find(|k| a.has(k))
            .unwrap_or("path");
        let path = a.opt_path(key)?.expect("checked: path is present");
        let present = a.choice("state", &["present", "absent"], "present")? == "present";
        let block = match a.opt_str("block")? {
            Some(b) => Some(b),
            None => a.opt_str("content")?,
        }
        .unwrap_or_default();
        let marker = a
            .opt_str("marker")?
            .unwrap_or_else(|| "# {mark} ANSIBLE MANAGED BLOCK".into());
        if marker.contains('\n') {
            return Err(a.err("marker", "`marker` must be one line"));
        }
        let mark = |k: &str, d: &str| -> Result<String> {
            let m = a.opt_str(k)?.unwrap_or_else(|| d.into());
            Ok(marker.replace("{mark}", &m))
        };
        let begin = mark("marker_begin", "BEGIN")?;
        let end = mark("marker_end", "END")?;
        if begin == end {
            return Err(a.err(
                "marker",
                "the begin and end markers are the same line (put `{mark}` in `marker`)",
            ));
        }
        let anchor = |k: &str, word: &str, other: Anchor| -> Result<Option<Anchor>> {
            match a.opt_str(k)? {
                None => Ok(None),
                Some(w) if w == word => Ok(Some(other)),
                Some(r) => Regex::new(&r)
                    .map(|r| Some(Anchor::Line(r)))
                    .map_err(|e| a.err(k, format!("bad regular expression: {e}"))),
            }
        };
        let after = anchor("insertafter", "EOF", Anchor::Eof)?;
        let before = anchor("insertbefore", "BOF", Anchor::Bof)?;
        if after.is_some() && before.is_some() {
            return Err(a.err(
                "insertbefore",
                "give `insertafter` or `insertbefore`, not both",
            ));
        }
        Ok(BlockInFile {
            writer: textfile::writer(a, &path)?,
            path,
            block: block.lines().map(str::to_string).collect(),
            begin,
            end,
            present,
            after,
            before,
            create: a.bool("create", false)?,
            append_newline: a.bool("append_newline", false)?,
            prepend_newline: a.bool("prepend_newline", false)?,
        })
    }

    pub(crate) fn reads(&self) -> Vec<Resource> {
        vec![Resource::Path(self.path.clone())]
    }

    pub(crate) fn probe(&self) -> String {
        textfile::probe(&self.path)
    }

    fn result(msg: &str) -> serde_json::Map<String, Value> {
        match json!({ "msg": msg }) {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    pub(crate) fn plan(&self, facts: &str) -> std::result::Result<Plan, String> {
        let (fact, old) = textfile::read(facts, &self.path)?;
        let Some(old) = old else {
            if !self.present || self.block.is_empty() {
                return Ok(Plan {
                    result: Self::result(""),
                    ..Plan::ok()
                });
            }
            if !self.create {
                return Err(format!(
                    "Path {} does not exist ! (set `create: true` to make it)",
                    self.path
                ));
            }
            let new = self.edit("");
            let mut p = textfile::write_plan(
                &self.writer,
                None,
                new,
                format!("create {} with the block", self.path),
            );
            p.result = Self::result("File created");
            return Ok(p);
        };
        let new = self.edit(&old);
        if new == old {
            let mut p = textfile::attrs_plan(&self.writer, &fact, &self.path);
            p.result = Self::result(if p.changes.is_empty() {
                ""
            } else {
                "ownership, perms or SE linux context changed"
            });
            return Ok(p);
        }
        let had = split(&old).iter().any(|(l, _)| *l == self.begin);
        let (what, msg) = match (self.present && !self.block.is_empty(), had) {
            (true, true) => (
                format!("update the block in {}", self.path),
                "Block inserted",
            ),
            (true, false) => (
                format!("insert the block in {}", self.path),
                "Block inserted",
            ),
            (false, _) => (
                format!("remove the block from {}", self.path),
                "Block removed",
            ),
        };
        let mut p = textfile::write_plan(&self.writer, Some(&fact), new, what);
        p.result = Self::result(msg);
        Ok(p)
    }

    /// Ansible's algorithm: the first BEGIN and END marker lines (each the last of its kind)
    /// delimit the block, which is replaced in place; without both, the block goes after the
    /// last line `insertafter` matches (default the end), or before the last line
    /// `insertbefore` matches (a pattern that matches nothing means the end).
    fn edit(&self, old: &str) -> String {
        let mut lines: Vec<(String, String)> = split(old)
            .into_iter()
            .map(|(l, e)| (l.to_string(), e.to_string()))
            .collect();
        let eol = lines
            .iter()
            .find(|(_, e)| !e.is_empty())
            .map_or("\n".to_string(), |(_, e)| e.clone());
        let n0 = lines.iter().rposition(|(l, _)| *l == self.begin);
        let n1 = lines.iter().rposition(|(l, _)| *l == self.end);
        let at = match (n0, n1) {
            (Some(a), Some(b)) => {
                let (a, b) = (a.min(b), a.max(b));
                lines.drain(a..=b);
                a
            }
            _ => {
                let last = |r: &Regex| lines.iter().rposition(|(l, _)| r.is_match(l));
                match (&self.after, &self.before) {
                    (_, Some(Anchor::Bof)) => 0,
                    (_, Some(Anchor::Line(r))) => last(r).unwrap_or(lines.len()),
                    (Some(Anchor::Line(r)), _) => last(r).map_or(lines.len(), |i| i + 1),
                    _ => lines.len(),
                }
            }
        };
        if self.present && !self.block.is_empty() {
            if at > 0 && lines[at - 1].1.is_empty() {
                lines[at - 1].1 = eol.clone();
            }
            let mut new: Vec<(String, String)> = Vec::new();
            if self.prepend_newline && at > 0 && !lines[at - 1].0.is_empty() {
                new.push((String::new(), eol.clone()));
            }
            new.push((self.begin.clone(), eol.clone()));
            new.extend(self.block.iter().map(|l| (l.clone(), eol.clone())));
            new.push((self.end.clone(), eol.clone()));
            if self.append_newline && lines.get(at).is_some_and(|(l, _)| !l.is_empty()) {
                new.push((String::new(), eol.clone()));
            }
            lines.splice(at..at, new);
        }
        lines.iter().map(|(l, e)| format!("{l}{e}")).collect()
    }
}

fn split(text: &str) -> Vec<(&str, &str)> {
    textfile::split_lines(text)
}

#[cfg(test)]
mod tests {
    use super::super::Run;
    use super::super::textfile::tests::{ABSENT, facts};
    use super::*;
    use crate::modules::args::Args;
    use serde_json::Map;
    use std::collections::HashMap;
    use std::sync::Arc;

    fn bif(args: Value) -> std::result::Result<BlockInFile, String> {
        let map: Map<String, Value> = args.as_object().unwrap().clone();
        let args = Args {
            map: map.clone(),
            locs: HashMap::new(),
            key_locs: HashMap::new(),
            loc: crate::location::Location::new(&Arc::new("t.yml".into()), 1, 1),
        };
        BlockInFile::build(&Getter::new(&map, &args)).map_err(|e| e.to_string())
    }

    fn new_text(p: &Plan) -> String {
        String::from_utf8(p.changes[0].content.as_ref().unwrap().new.to_vec()).unwrap()
    }

    const B: &str = "# BEGIN ANSIBLE MANAGED BLOCK";
    const E: &str = "# END ANSIBLE MANAGED BLOCK";

    #[test]
    fn table() {
        let p = "/etc/x.conf";
        // (args, old text, new text or None for no change)
        let table: Vec<(Value, String, Option<String>)> = vec![
            // Added at the end, then left alone.
            (
                json!({"path": p, "block": "a=1\nb=2\n"}),
                "x\n".into(),
                Some(format!("x\n{B}\na=1\nb=2\n{E}\n")),
            ),
            (
                json!({"path": p, "block": "a=1\nb=2"}),
                format!("x\n{B}\na=1\nb=2\n{E}\n"),
                None,
            ),
            // Updated in place, wherever it is.
            (
                json!({"path": p, "content": "a=3"}),
                format!("x\n{B}\na=1\n{E}\ny\n"),
                Some(format!("x\n{B}\na=3\n{E}\ny\n")),
            ),
            // Removed by state absent, and by an empty block.
            (
                json!({"path": p, "block": "a", "state": "absent"}),
                format!("x\n{B}\na=1\n{E}\ny\n"),
                Some("x\ny\n".into()),
            ),
            (
                json!({"path": p, "block": ""}),
                format!("x\n{B}\na=1\n{E}\n"),
                Some("x\n".into()),
            ),
            (json!({"path": p, "state": "absent"}), "x\n".into(), None),
            // Custom markers.
            (
                json!({"path": p, "block": "k", "marker": "<!-- {mark} app -->", "marker_begin": "start", "marker_end": "stop"}),
                "x".into(),
                Some("x\n<!-- start app -->\nk\n<!-- stop app -->\n".into()),
            ),
            // insertafter / insertbefore / BOF; a pattern matching nothing means the end.
            (
                json!({"path": p, "block": "k", "insertafter": "^\\[main\\]"}),
                "[main]\na\n[b]\n".into(),
                Some(format!("[main]\n{B}\nk\n{E}\na\n[b]\n")),
            ),
            (
                json!({"path": p, "block": "k", "insertbefore": "^\\[b\\]"}),
                "[main]\na\n[b]\n".into(),
                Some(format!("[main]\na\n{B}\nk\n{E}\n[b]\n")),
            ),
            (
                json!({"path": p, "block": "k", "insertbefore": "BOF"}),
                "a\n".into(),
                Some(format!("{B}\nk\n{E}\na\n")),
            ),
            (
                json!({"path": p, "block": "k", "insertafter": "^nothing"}),
                "a\n".into(),
                Some(format!("a\n{B}\nk\n{E}\n")),
            ),
            // CRLF files stay CRLF.
            (
                json!({"path": p, "block": "k"}),
                "a\r\n".into(),
                Some(format!("a\r\n{B}\r\nk\r\n{E}\r\n")),
            ),
            // Only one marker: the block is added anew (as Ansible does).
            (
                json!({"path": p, "block": "k"}),
                format!("{B}\nold\n"),
                Some(format!("{B}\nold\n{B}\nk\n{E}\n")),
            ),
            (
                json!({"path": p, "block": "k", "prepend_newline": true, "append_newline": true, "insertafter": "^a"}),
                "a\nb\n".into(),
                Some(format!("a\n\n{B}\nk\n{E}\n\nb\n")),
            ),
        ];
        for (args, old, want) in table {
            let t = bif(args.clone()).unwrap();
            let plan = t.plan(&facts(p, &old)).unwrap();
            match want {
                None => assert!(
                    plan.changes.is_empty(),
                    "{args} on {old:?}: {:?}",
                    plan.changes
                ),
                Some(w) => {
                    assert_eq!(new_text(&plan), w, "{args} on {old:?}");
                    // And the result converges.
                    let again = t.plan(&facts(p, &w)).unwrap();
                    assert!(again.changes.is_empty(), "{args}: not idempotent");
                }
            }
        }
    }

    #[test]
    fn words_results_and_script() {
        let t = bif(json!({"path": "/etc/x.conf", "block": "k", "mode": "0600"})).unwrap();
        let p = t.plan(&facts("/etc/x.conf", "a\n")).unwrap();
        assert_eq!(p.changes[0].summary, "insert the block in /etc/x.conf");
        assert_eq!(p.result["msg"], "Block inserted");
        let Run::Script(s) = &p.run else { panic!() };
        assert!(s.contains("plumb_own 0 0 0600 /dev/fd/3"), "{s}");
        assert!(s.contains("plumb_put ./x.conf /etc/x.conf"), "{s}");
        // Same content, other mode: an attribute change only.
        let p = t
            .plan(&facts("/etc/x.conf", &format!("a\n{B}\nk\n{E}\n")))
            .unwrap();
        assert_eq!(p.changes[0].summary, "/etc/x.conf: mode 0644 → 0600");
        assert!(p.changes[0].content.is_none());
    }

    #[test]
    fn missing_file_and_errors() {
        let t = bif(json!({"path": "/etc/x.conf", "block": "k"})).unwrap();
        assert!(t.plan(ABSENT).unwrap_err().contains("create: true"));
        let c = bif(json!({"path": "/etc/x.conf", "block": "k", "create": true})).unwrap();
        let p = c.plan(ABSENT).unwrap();
        assert_eq!(new_text(&p), format!("{B}\nk\n{E}\n"));
        assert_eq!(p.result["msg"], "File created");
        assert!(!p.changes[0].content.as_ref().unwrap().exists);
        let gone = bif(json!({"path": "/etc/x.conf", "state": "absent"})).unwrap();
        assert!(gone.plan(ABSENT).unwrap().changes.is_empty());
        assert!(t.plan("").is_err());
        assert!(bif(json!({"path": "/etc/x", "marker": "same"})).is_err());
        assert!(bif(json!({"path": "/etc/x", "insertafter": "("})).is_err());
        assert!(bif(json!({"path": "/etc/x", "insertafter": "a", "insertbefore": "b"})).is_err());
        assert!(bif(json!({"path": "etc/x"})).is_err());
    }
}
