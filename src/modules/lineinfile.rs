//! `lineinfile`: one line present (added, or put in place of the last line a `regexp` matches)
//! or absent, in a text file; the whole new file is written atomically, like `copy`.

use super::args::Getter;
use super::copy::{Copy, Entry, sha256_hex};
use super::file_fact::{self, Kind};
use super::{Change, ContentChange, Plan, Resource};
use crate::error::Result;
use crate::shell::quote;
use regex::Regex;
use std::sync::Arc;

#[derive(Debug, Clone)]
pub(crate) enum Anchor {
    Bof,
    Eof,
    /// After (or before) the last line matching this.
    Line(Regex),
}

#[derive(Debug, Clone)]
pub(crate) struct LineInFile {
    pub(crate) path: String,
    pub(crate) line: Option<String>,
    pub(crate) regexp: Option<Regex>,
    pub(crate) present: bool,
    /// Where a new line goes: `insertafter` (default EOF), or before `insertbefore`.
    pub(crate) after: Option<Anchor>,
    pub(crate) before: Option<Anchor>,
    pub(crate) create: bool,
    /// How the file is written: mode, owner, group, backup and validate, as `copy` does.
    pub(crate) writer: Copy,
}

/// Files larger than this are not read into a probe.
const MAX_BYTES: usize = 8 << 20;

impl super::Module for LineInFile {
    fn probe(&self) -> Option<String> {
        Some(LineInFile::probe(self))
    }
    fn reads(&self) -> Vec<Resource> {
        LineInFile::reads(self)
    }
    fn plan(&self, facts: &str) -> std::result::Result<Plan, String> {
        LineInFile::plan(self, facts)
    }
    fn after(&self, facts: &str, plan: &Plan) -> Option<String> {
        LineInFile::after(self, facts, plan)
    }
}

impl LineInFile {
    pub(crate) fn build(a: &Getter) -> Result<LineInFile> {
        let key = ["path", "dest", "name"]
            .into_iter()
            .find(|k| a.has(k))
            .unwrap_or("path");
        let path = a.opt_path(key)?.expect("checked: path is present");
        let present = a.choice("state", &["present", "absent"], "present")? == "present";
        let regex = |k: &str| -> Result<Option<Regex>> {
            match a.opt_str(k)? {
                None => Ok(None),
                Some(r) => Regex::new(&r)
                    .map(Some)
                    .map_err(|e| a.err(k, format!("bad regular expression: {e}"))),
            }
        };
        let anchor = |k: &str, word: &str, other: Anchor| -> Result<Option<Anchor>> {
            match a.opt_str(k)? {
                None => Ok(None),
                Some(w) if w == word => Ok(Some(other)),
                Some(_) => Ok(regex(k)?.map(Anchor::Line)),
            }
        };
        let line = a.opt_str("line")?;
        let regexp = regex("regexp")?;
        if present && line.is_none() {
            return Err(a.err("state", "`state: present` needs `line`"));
        }
        if !present && line.is_none() && regexp.is_none() {
            return Err(a.err("state", "`state: absent` needs `line` or `regexp`"));
        }
        if line.as_deref().is_some_and(|l| l.contains('\n')) {
            return Err(a.err(
                "line",
                "`line` must be one line (use `copy` or `template` for more)",
            ));
        }
        let after = anchor("insertafter", "EOF", Anchor::Eof)?;
        let before = anchor("insertbefore", "BOF", Anchor::Bof)?;
        if after.is_some() && before.is_some() {
            return Err(a.err(
                "insertbefore",
                "give `insertafter` or `insertbefore`, not both",
            ));
        }
        let writer = Copy {
            mode: a.opt_mode("mode")?,
            owner: super::safe_write::check_owner(a, "owner")?,
            group: super::safe_write::check_owner(a, "group")?,
            backup: a.bool("backup", false)?,
            validate: a.opt_str("validate")?,
            ..Copy::writer(&path)
        };
        Ok(LineInFile {
            path,
            line,
            regexp,
            present,
            after,
            before,
            create: a.bool("create", false)?,
            writer,
        })
    }

    pub(crate) fn reads(&self) -> Vec<Resource> {
        vec![Resource::Path(self.path.clone())]
    }

    /// The file's `stat` and checksum, then its content in base64 on one line.
    pub(crate) fn probe(&self) -> String {
        let p = quote(&self.path);
        format!(
            "{}if [ -f {p} ] && [ $(stat -c %s -- {p}) -le {MAX_BYTES} ]; then printf 'content\\t'; base64 -w0 -- {p}; printf '\\n'; fi\n",
            file_fact::probe(&[&self.path], &[&self.path])
        )
    }

    pub(crate) fn plan(&self, facts: &str) -> std::result::Result<Plan, String> {
        let (rest, content) = split_content(facts);
        let fact = file_fact::parse(&rest, &[&self.path])?
            .pop()
            .ok_or("no facts")?;
        let old: Option<String> = match fact.kind {
            Kind::Absent => None,
            Kind::File => {
                let b64 = content
                    .ok_or_else(|| format!("{} is larger than {MAX_BYTES} bytes", self.path))?;
                Some(file_fact::decode_text(b64, &self.path)?)
            }
            _ => return Err(format!("{} exists and is not a regular file", self.path)),
        };
        let Some(old) = old else {
            if !self.present {
                return Ok(Plan::ok());
            }
            if !self.create {
                return Err(format!(
                    "{} does not exist (set `create: true` to make it)",
                    self.path
                ));
            }
            let line = self.line.as_deref().unwrap_or_default();
            return Ok(self.write(
                None,
                format!("{line}\n"),
                format!("create {} with the line", self.path),
            ));
        };
        let edited = self.edit(&old).filter(|(new, _)| *new != old);
        let Some((new, what)) = edited else {
            // Only attributes may differ.
            let (words, cmds) = file_fact::attr_changes(
                &fact,
                &self.path,
                self.writer.mode,
                self.writer.owner.as_deref(),
                self.writer.group.as_deref(),
            );
            if words.is_empty() {
                return Ok(Plan::ok());
            }
            return Ok(Plan::script(
                words
                    .into_iter()
                    .map(|w| Change::new(format!("{}: {w}", self.path)))
                    .collect(),
                format!("{}{}\n", super::safe_write::HEAD, cmds.join("\n")),
                self.reads(),
            ));
        };
        Ok(self.write(Some(&fact), new, what))
    }

    /// What `probe` would print once `plan` (made from `facts`) ran, for a loop's next item to
    /// plan on: a rewrite of an existing file keeps its stat record when the task changes none
    /// of its attributes; the checksum and content are the new ones. None otherwise (a file
    /// created: its mode and owner are the host's to say).
    pub(crate) fn after(&self, facts: &str, plan: &Plan) -> Option<String> {
        let [
            Change {
                content: Some(c), ..
            },
        ] = &plan.changes[..]
        else {
            return None;
        };
        if !c.exists || c.path != self.path || !facts.ends_with('\n') {
            return None;
        }
        let (_, rest): (Vec<&str>, Vec<&str>) =
            facts.lines().partition(|l| l.starts_with("content\t"));
        let fact = file_fact::parse(&rest.join("\n"), &[&self.path])
            .ok()?
            .pop()?;
        let (words, _) = file_fact::attr_changes(
            &fact,
            &self.path,
            self.writer.mode,
            self.writer.owner.as_deref(),
            self.writer.group.as_deref(),
        );
        if fact.kind != Kind::File || !words.is_empty() {
            return None;
        }
        let sum = sha256_hex(&c.new);
        let mut out = String::new();
        let mut sum_next = false;
        let mut summed = false;
        for line in rest {
            if sum_next {
                // `HEX  NAME`, or `\HEX  NAME` for a name sha256sum escapes.
                let at = usize::from(line.starts_with('\\'));
                let old = line.get(at..at + 64)?;
                out.push_str(&line.replacen(old, &sum, 1));
                sum_next = false;
                summed = true;
            } else {
                sum_next = line.starts_with("sums\t");
                out.push_str(line);
            }
            out.push('\n');
        }
        if !summed {
            return None;
        }
        if c.new.len() <= MAX_BYTES {
            use base64::Engine;
            let b64 = base64::engine::general_purpose::STANDARD.encode(c.new.as_slice());
            out.push_str(&format!("content\t{b64}\n"));
        }
        Some(out)
    }

    /// The file's new text, and what changed, in words. Each line keeps its own terminator
    /// (a CRLF file stays CRLF, a missing final newline stays missing unless a line is added
    /// after it), so the new text equals the old byte for byte when nothing matched.
    /// The file's new text and what changed; None if the line is as wanted already.
    fn edit(&self, old: &str) -> Option<(String, String)> {
        // The usual no-op (the line is there), told without splitting the file: a loop asks
        // once per item.
        if self.present
            && self.regexp.is_none()
            && let Some(line) = &self.line
            && has_line(old, line)
        {
            return None;
        }
        let mut lines = split_lines(old);
        let p = &self.path;
        if !self.present {
            let before = lines.len();
            lines.retain(|(l, _)| match (&self.regexp, &self.line) {
                (Some(r), _) => !r.is_match(l),
                (None, Some(line)) => l != line,
                (None, None) => true,
            });
            let n = before - lines.len();
            if n == 0 {
                return None;
            }
            return Some((
                join_lines(&lines),
                format!("remove {n} line{} from {p}", if n == 1 { "" } else { "s" }),
            ));
        }
        let line = self.line.as_deref().unwrap_or_default();
        // The last line the regexp matches is replaced, as in Ansible.
        if let Some(r) = &self.regexp
            && let Some(i) = lines.iter().rposition(|(l, _)| r.is_match(l))
        {
            if lines[i].0 == line {
                return None;
            }
            lines[i].0 = line;
            return Some((join_lines(&lines), format!("replace line {} of {p}", i + 1)));
        }
        if lines.iter().any(|(l, _)| *l == line) {
            return None;
        }
        let last = |r: &Regex| lines.iter().rposition(|(l, _)| r.is_match(l));
        let at = match (&self.after, &self.before) {
            (_, Some(Anchor::Bof)) => 0,
            (_, Some(Anchor::Line(r))) => last(r).unwrap_or(lines.len()),
            (Some(Anchor::Line(r)), _) => last(r).map_or(lines.len(), |i| i + 1),
            _ => lines.len(),
        };
        // A new line ends as the file's lines do; the line before it gets one if it had none.
        let eol = lines
            .iter()
            .find(|(_, e)| !e.is_empty())
            .map_or("\n", |(_, e)| *e);
        if at > 0 && lines[at - 1].1.is_empty() {
            lines[at - 1].1 = eol;
        }
        lines.insert(at, (line, eol));
        Some((
            join_lines(&lines),
            format!("add a line at line {} of {p}", at + 1),
        ))
    }

    fn write(&self, old: Option<&file_fact::FileFact>, new: String, what: String) -> Plan {
        let bytes = Arc::new(new.into_bytes());
        let entry = Entry {
            dest: self.path.clone(),
            sha256: sha256_hex(&bytes),
            content: bytes.clone(),
        };
        Plan {
            batch: self.writer.batch_op(&entry, old, false),
            ..Plan::script(
                vec![Change {
                    summary: what,
                    content: Some(ContentChange {
                        path: self.path.clone(),
                        new: bytes,
                        exists: old.is_some(),
                    }),
                }],
                format!(
                    "{}{}",
                    super::safe_write::HEAD,
                    self.writer.write(&entry, old)
                ),
                self.reads(),
            )
        }
    }
}

/// A file's lines with their terminators (`\n`, `\r\n`, or none for a last line without one).
/// The text matched against is the line without its terminator.
/// The probe's output without its `content` line, and that line's base64 (found without
/// walking the other lines: a loop plans every item on the same output).
fn split_content(facts: &str) -> (std::borrow::Cow<'_, str>, Option<&str>) {
    const TAG: &str = "content\t";
    let at = if facts.starts_with(TAG) {
        Some(0)
    } else {
        facts.find("\ncontent\t").map(|i| i + 1)
    };
    let Some(at) = at else {
        return (facts.into(), None);
    };
    let end = facts[at..].find('\n').map_or(facts.len(), |e| at + e);
    let b64 = facts[at + TAG.len()..end].trim_end_matches('\r');
    let after = facts.get(end + 1..).unwrap_or("");
    let rest = if after.trim().is_empty() {
        facts[..at].into()
    } else {
        format!("{}{after}", &facts[..at]).into()
    };
    (rest, Some(b64))
}

fn split_lines(text: &str) -> Vec<(&str, &str)> {
    lines_of(text).collect()
}

/// Each line of `text` and its ending (`\n`, `\r\n`, or none for a last line without one).
fn lines_of(text: &str) -> impl Iterator<Item = (&str, &str)> {
    text.split_inclusive('\n').map(|l| {
        let body = l.strip_suffix('\n').unwrap_or(l);
        let body = if body.len() < l.len() {
            body.strip_suffix('\r').unwrap_or(body)
        } else {
            body
        };
        (body, &l[body.len()..])
    })
}

/// Whether a line of `text` (as `lines_of` splits it) is `line`: found with a substring
/// search, not line by line (a loop asks once per item, of the same file).
fn has_line(text: &str, line: &str) -> bool {
    if line.is_empty() {
        return lines_of(text).any(|(l, _)| l.is_empty());
    }
    text.match_indices(line).any(|(i, _)| {
        let starts = i == 0 || text.as_bytes()[i - 1] == b'\n';
        let after = &text[i + line.len()..];
        // `lines_of` strips one `\r` before a `\n`: a line ending in `\r` is only itself
        // at the end of the text or before `\r\n`.
        let ends = after.is_empty()
            || after.starts_with("\r\n")
            || (after.starts_with('\n') && !line.ends_with('\r'));
        starts && ends
    })
}

fn join_lines(lines: &[(&str, &str)]) -> String {
    let mut s = String::with_capacity(lines.iter().map(|(l, e)| l.len() + e.len()).sum());
    for (l, e) in lines {
        s.push_str(l);
        s.push_str(e);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::args::Args;
    use base64::Engine;
    use serde_json::{Map, Value, json};

    /// `has_line` says what splitting the text into lines says, endings and `\r` included.
    #[test]
    fn has_line_is_a_line_of_the_text() {
        let texts = [
            "",
            "a",
            "a\n",
            "a\r\n",
            "ab\nb\n",
            "b\nab",
            "x\r\nab\r\n",
            "a\r",
            "a\r\r\n",
            "a\rb\n",
            "\n\n",
            "ba\nab\na\n",
            "a\r\n\r\n",
            "ababa\naba",
            "aaa\naa",
        ];
        let lines = ["a", "b", "ab", "a\r", "", "\r", "a\rb", "x", "aba", "aa"];
        for t in texts {
            for l in lines {
                let want = lines_of(t).any(|(x, _)| x == l);
                assert_eq!(has_line(t, l), want, "{t:?} {l:?}");
            }
        }
    }
    use std::collections::HashMap;

    fn lif(args: Value) -> LineInFile {
        let map: Map<String, Value> = args.as_object().unwrap().clone();
        let args = Args {
            map: map.clone(),
            locs: HashMap::new(),
            key_locs: HashMap::new(),
            loc: crate::location::Location::new(&Arc::new("t.yml".into()), 1, 1),
        };
        LineInFile::build(&Getter::new(&map, &args)).unwrap()
    }

    /// Facts as the probe prints them for a file with `text`.
    fn facts(text: &str) -> String {
        format!(
            "stats\nstat\tregular file\t644\troot\troot\t0\t0\t1764000000\t\"/etc/x.conf\"\nsums\t 0\n{}  /etc/x.conf\ncontent\t{}\n",
            sha256_hex(text.as_bytes()),
            base64::engine::general_purpose::STANDARD.encode(text)
        )
    }

    fn new_text(p: &Plan) -> String {
        String::from_utf8(p.changes[0].content.as_ref().unwrap().new.to_vec()).unwrap()
    }

    /// A loop's next item plans on what the probe would print after this one's change: the
    /// same facts as the probe of the new text; none when the file is created or its mode set.
    #[test]
    fn facts_after_a_rewrite() {
        let t = lif(json!({"path": "/etc/x.conf", "line": "b = 2"}));
        let p = t.plan(&facts("a = 1\n")).unwrap();
        assert_eq!(
            t.after(&facts("a = 1\n"), &p).as_deref(),
            Some(facts("a = 1\nb = 2\n").as_str())
        );
        let next = lif(json!({"path": "/etc/x.conf", "line": "c = 3"}));
        let after = t.after(&facts("a = 1\n"), &p).unwrap();
        assert_eq!(
            new_text(&next.plan(&after).unwrap()),
            "a = 1\nb = 2\nc = 3\n"
        );
        // No change: nothing to tell.
        assert_eq!(t.after(&facts("b = 2\n"), &Plan::ok()), None);
        let mode = lif(json!({"path": "/etc/x.conf", "line": "b = 2", "mode": "0600"}));
        let p = mode.plan(&facts("a = 1\n")).unwrap();
        assert_eq!(mode.after(&facts("a = 1\n"), &p), None);
        let absent = "absent\t0\nstats\n";
        let c = lif(json!({"path": "/etc/x.conf", "line": "a", "create": true}));
        assert_eq!(c.after(absent, &c.plan(absent).unwrap()), None);
    }

    #[test]
    fn present_adds_once_then_is_ok() {
        let t = lif(json!({"path": "/etc/x.conf", "line": "b = 2"}));
        let p = t.plan(&facts("a = 1\n")).unwrap();
        assert_eq!(new_text(&p), "a = 1\nb = 2\n");
        assert_eq!(p.changes[0].summary, "add a line at line 2 of /etc/x.conf");
        assert!(t.plan(&facts("a = 1\nb = 2\n")).unwrap().changes.is_empty());
    }

    #[test]
    fn regexp_replaces_the_last_match() {
        let t = lif(json!({"path": "/etc/x.conf", "regexp": "^port\\s*=", "line": "port = 8080"}));
        let p = t.plan(&facts("port = 1\nx\nport = 2\n")).unwrap();
        assert_eq!(new_text(&p), "port = 1\nx\nport = 8080\n");
        assert_eq!(p.changes[0].summary, "replace line 3 of /etc/x.conf");
        assert!(t.plan(&facts("port = 8080\n")).unwrap().changes.is_empty());
        // No match: added at the end (or where insertafter says).
        let p = t.plan(&facts("x\n")).unwrap();
        assert_eq!(new_text(&p), "x\nport = 8080\n");
    }

    #[test]
    fn insert_after_and_before() {
        let after =
            lif(json!({"path": "/etc/x.conf", "line": "new", "insertafter": "^\\[main\\]"}));
        let p = after.plan(&facts("[main]\na\n[other]\n")).unwrap();
        assert_eq!(new_text(&p), "[main]\nnew\na\n[other]\n");
        let bof = lif(json!({"path": "/etc/x.conf", "line": "# top", "insertbefore": "BOF"}));
        assert_eq!(new_text(&bof.plan(&facts("a\n")).unwrap()), "# top\na\n");
        let before =
            lif(json!({"path": "/etc/x.conf", "line": "new", "insertbefore": "^\\[other\\]"}));
        assert_eq!(
            new_text(&before.plan(&facts("[main]\n[other]\n")).unwrap()),
            "[main]\nnew\n[other]\n"
        );
    }

    #[test]
    fn absent_removes_every_match() {
        let t = lif(json!({"path": "/etc/x.conf", "regexp": "^#", "state": "absent"}));
        let p = t.plan(&facts("# a\nx\n# b\n")).unwrap();
        assert_eq!(new_text(&p), "x\n");
        assert_eq!(p.changes[0].summary, "remove 2 lines from /etc/x.conf");
        assert!(t.plan(&facts("x\n")).unwrap().changes.is_empty());
    }

    #[test]
    fn missing_file_needs_create() {
        let absent = "absent\t0\nstats\n";
        let t = lif(json!({"path": "/etc/x.conf", "line": "a"}));
        assert!(t.plan(absent).unwrap_err().contains("create: true"));
        let c = lif(json!({"path": "/etc/x.conf", "line": "a", "create": true}));
        assert_eq!(new_text(&c.plan(absent).unwrap()), "a\n");
        let gone = lif(json!({"path": "/etc/x.conf", "line": "a", "state": "absent"}));
        assert!(gone.plan(absent).unwrap().changes.is_empty());
    }

    #[test]
    fn line_endings_and_final_newline_are_kept() {
        // (args, old text, new text or None for no change)
        let table: &[(Value, &str, Option<&str>)] = &[
            // CRLF stays CRLF, for the lines kept and the line added.
            (
                json!({"path": "/etc/x.conf", "line": "c=3"}),
                "a=1\r\nb=2\r\n",
                Some("a=1\r\nb=2\r\nc=3\r\n"),
            ),
            (
                json!({"path": "/etc/x.conf", "regexp": "^b=", "line": "b=9"}),
                "a=1\r\nb=2\r\n",
                Some("a=1\r\nb=9\r\n"),
            ),
            (
                json!({"path": "/etc/x.conf", "regexp": "^a=", "state": "absent"}),
                "a=1\r\nb=2\r\n",
                Some("b=2\r\n"),
            ),
            // A CRLF line already there is found (not "b=2\r" vs "b=2").
            (
                json!({"path": "/etc/x.conf", "line": "b=2"}),
                "a=1\r\nb=2\r\n",
                None,
            ),
            // Nothing to remove from a file without a final newline: no change.
            (
                json!({"path": "/etc/x.conf", "regexp": "^c=", "state": "absent"}),
                "a=1\nb=2",
                None,
            ),
            (
                json!({"path": "/etc/x.conf", "line": "b=2"}),
                "a=1\nb=2",
                None,
            ),
            // Replacing the unterminated last line keeps it unterminated.
            (
                json!({"path": "/etc/x.conf", "regexp": "^b=", "line": "b=3"}),
                "a=1\nb=2",
                Some("a=1\nb=3"),
            ),
            // Adding after it ends it first.
            (
                json!({"path": "/etc/x.conf", "line": "c=3"}),
                "a=1\nb=2",
                Some("a=1\nb=2\nc=3\n"),
            ),
            (
                json!({"path": "/etc/x.conf", "regexp": "^b=", "state": "absent"}),
                "a=1\nb=2",
                Some("a=1\n"),
            ),
        ];
        for (args, old, want) in table {
            let p = lif(args.clone()).plan(&facts(old)).unwrap();
            match want {
                None => assert!(p.changes.is_empty(), "{args} on {old:?}: {:?}", p.changes),
                Some(w) => assert_eq!(new_text(&p), *w, "{args} on {old:?}"),
            }
        }
    }

    /// The `content` line is taken out wherever it sits, as splitting by lines would.
    #[test]
    fn content_line_split_off() {
        let table: &[(&str, &str, Option<&str>)] = &[
            ("stats\nstat\tx\n", "stats\nstat\tx\n", None),
            (
                "stats\nstat\tx\ncontent\tYWI=\n",
                "stats\nstat\tx\n",
                Some("YWI="),
            ),
            (
                "stats\nstat\tx\ncontent\tYWI=",
                "stats\nstat\tx\n",
                Some("YWI="),
            ),
            ("content\t\nstats\n", "stats\n", Some("")),
            (
                "stats\ncontent\tYQ==\nsums\t 0\n",
                "stats\nsums\t 0\n",
                Some("YQ=="),
            ),
            (
                "stats\nstat\tx\tcontent\tno\n",
                "stats\nstat\tx\tcontent\tno\n",
                None,
            ),
        ];
        for (facts, rest, b64) in table {
            let (r, b) = split_content(facts);
            assert_eq!((r.as_ref(), b), (*rest, *b64), "{facts:?}");
        }
    }
}
