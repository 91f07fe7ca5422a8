//! A text file read in a probe and rewritten whole: shared by `blockinfile` and `replace`
//! (the same framing as `lineinfile`: the file's `stat` and checksum records, then its content
//! in base64 on one `content` line, so nothing in the file can pass for another record).

use super::copy::{Copy, Entry, sha256_hex};
use super::file_fact::{self, FileFact, Kind};
use super::{Change, ContentChange, Plan, Resource};
use crate::shell::quote;
use std::sync::Arc;

/// Files larger than this are not read into a probe.
pub(crate) const MAX_BYTES: usize = 8 << 20;

/// The file's `stat` and checksum, then its content in base64 on one line.
pub(crate) fn probe(path: &str) -> String {
    probe_max(path, MAX_BYTES)
}

/// `probe`, reading files of at most `max` bytes.
pub(crate) fn probe_max(path: &str, max: usize) -> String {
    let p = quote(path);
    format!(
        "{}if [ -f {p} ] && [ $(stat -c %s -- {p}) -le {max} ]; then printf 'content\\t'; base64 -w0 -- {p}; printf '\\n'; fi\n",
        file_fact::probe(&[path], &[path])
    )
}

/// The file's facts and its text (None when it does not exist). Anything but a regular UTF-8
/// file of at most `MAX_BYTES` is an error.
pub(crate) fn read(facts: &str, path: &str) -> Result<(FileFact, Option<String>), String> {
    read_max(facts, path, MAX_BYTES)
}

/// `read` of what `probe_max(path, max)` printed.
pub(crate) fn read_max(
    facts: &str,
    path: &str,
    max: usize,
) -> Result<(FileFact, Option<String>), String> {
    let (content_lines, rest): (Vec<&str>, Vec<&str>) =
        facts.lines().partition(|l| l.starts_with("content\t"));
    if content_lines.len() > 1 {
        return Err("unexpected probe output: two content records".into());
    }
    let fact = file_fact::parse(&rest.join("\n"), &[path])?
        .pop()
        .ok_or("no facts")?;
    let text = match fact.kind {
        Kind::Absent => None,
        Kind::File => {
            let b64 = content_lines
                .first()
                .map(|l| &l["content\t".len()..])
                .ok_or_else(|| format!("{path} is larger than {max} bytes"))?;
            Some(file_fact::decode_text(b64, path)?)
        }
        _ => return Err(format!("{path} exists and is not a regular file")),
    };
    Ok((fact, text))
}

/// Only the attributes (mode/owner/group) of an existing file, if they differ.
pub(crate) fn attrs_plan(writer: &Copy, fact: &FileFact, path: &str) -> Plan {
    let (words, cmds) = file_fact::attr_changes(
        fact,
        path,
        writer.mode,
        writer.owner.as_deref(),
        writer.group.as_deref(),
    );
    if words.is_empty() {
        return Plan::ok();
    }
    Plan::script(
        words
            .into_iter()
            .map(|w| Change::new(format!("{path}: {w}")))
            .collect(),
        format!("{}{}\n", super::safe_write::HEAD, cmds.join("\n")),
        vec![Resource::Path(path.to_string())],
    )
}

/// Writes `new` as the whole file through the race-free writer, with a diff.
pub(crate) fn write_plan(writer: &Copy, old: Option<&FileFact>, new: String, what: String) -> Plan {
    let path = writer.dest.clone();
    // A file created anew gets its missing parent directories, as in Ansible.
    let mkdir = match old {
        None => format!(
            "{}\n",
            super::safe_write::make_dir(&super::safe_write::split(&path).0, None, None, None)
        ),
        Some(_) => String::new(),
    };
    let (change, write) = rewrite(writer, old, new, what);
    let batch = change.content.as_ref().and_then(|c| {
        let entry = Entry {
            dest: path.clone(),
            sha256: String::new(),
            content: c.new.clone(),
        };
        writer.batch_op(&entry, old, old.is_none())
    });
    Plan {
        batch,
        ..Plan::script(
            vec![change],
            format!("{}{mkdir}{write}", super::safe_write::HEAD),
            vec![Resource::Path(path)],
        )
    }
}

/// The change (with its new content, for a diff) and the race-free writer's script (to run
/// after `safe_write::HEAD`) that replace the whole file with `new`; `old`: its facts, when it
/// is a file now.
pub(crate) fn rewrite(
    writer: &Copy,
    old: Option<&FileFact>,
    new: String,
    what: String,
) -> (Change, String) {
    let bytes = Arc::new(new.into_bytes());
    let entry = Entry {
        dest: writer.dest.clone(),
        sha256: sha256_hex(&bytes),
        content: bytes.clone(),
    };
    let change = Change {
        summary: what,
        content: Some(ContentChange {
            path: writer.dest.clone(),
            new: bytes,
            exists: old.is_some(),
        }),
    };
    (change, writer.write(&entry, old))
}

/// A writer from the common file arguments (`mode`, `owner`, `group`, `backup`, `validate`).
pub(crate) fn writer(a: &super::args::Getter, path: &str) -> crate::error::Result<Copy> {
    let validate = a.opt_str("validate")?;
    if let Some(v) = &validate
        && !v.contains("%s")
    {
        return Err(a.err(
            "validate",
            "`validate` must contain `%s` (where the new file's path goes)",
        ));
    }
    Ok(Copy {
        mode: a.opt_mode("mode")?,
        owner: super::safe_write::check_owner(a, "owner")?,
        group: super::safe_write::check_owner(a, "group")?,
        backup: a.bool("backup", false)?,
        validate,
        ..Copy::writer(path)
    })
}

/// A file's lines with their terminators (`\n`, `\r\n`, or none for a last line without one).
pub(crate) fn split_lines(text: &str) -> Vec<(&str, &str)> {
    text.split_inclusive('\n')
        .map(|l| {
            let body = l.strip_suffix('\n').unwrap_or(l);
            let body = if body.len() < l.len() {
                body.strip_suffix('\r').unwrap_or(body)
            } else {
                body
            };
            (body, &l[body.len()..])
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use base64::Engine;

    /// Facts as the probe prints them for `path` holding `text`.
    pub(crate) fn facts(path: &str, text: &str) -> String {
        format!(
            "stats\nstat\tregular file\t644\troot\troot\t0\t0\t1764000000\t\"{path}\"\nsums\t 0\n{}  {path}\ncontent\t{}\n",
            sha256_hex(text.as_bytes()),
            base64::engine::general_purpose::STANDARD.encode(text)
        )
    }

    pub(crate) const ABSENT: &str = "absent\t0\nstats\n";

    #[test]
    fn reads_text_and_refuses_the_rest() {
        let (f, t) = read(&facts("/etc/a", "x\n"), "/etc/a").unwrap();
        assert_eq!(f.kind, Kind::File);
        assert_eq!(t.as_deref(), Some("x\n"));
        assert_eq!(read(ABSENT, "/etc/a").unwrap().1, None);
        // A file too large to read has no content record.
        let big = facts("/etc/a", "x")
            .lines()
            .take(4)
            .collect::<Vec<_>>()
            .join("\n");
        assert!(read(&big, "/etc/a").unwrap_err().contains("larger"));
        let two = format!("{}content\tAA==\n", facts("/etc/a", "x"));
        assert!(read(&two, "/etc/a").is_err());
        assert!(read("", "/etc/a").is_err());
        let dir =
            "stats\nstat\tdirectory\t755\troot\troot\t0\t0\t1764000000\t\"/etc/a\"\nsums\t 0\n";
        assert!(read(dir, "/etc/a").is_err());
    }
}
