//! The snippet's output split by source, before any fact is parsed from it.

use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// The snippet's output, split by source.
#[derive(Debug, Default)]
pub(crate) struct Raw<'a> {
    /// Lines of each file, by path, in order.
    pub files: BTreeMap<&'a str, Vec<&'a str>>,
    pub exists: BTreeSet<&'a str>,
    pub date: Option<&'a str>,
    pub env: Option<Map<String, Value>>,
}

impl<'a> Raw<'a> {
    pub(crate) fn lines(&self, path: &str) -> &[&'a str] {
        self.files.get(path).map(|v| v.as_slice()).unwrap_or(&[])
    }
    pub(crate) fn first(&self, path: &str) -> Option<&'a str> {
        self.lines(path).first().copied()
    }
    /// The first line of a file that must be there.
    pub(crate) fn need(&self, path: &str) -> Result<&'a str, String> {
        self.first(path)
            .ok_or_else(|| format!("facts: no output for {path}"))
    }
    pub(crate) fn exists(&self, path: &str) -> bool {
        self.exists.contains(path)
    }
}

pub(crate) fn split(output: &str) -> Result<Raw<'_>, String> {
    let mut raw = Raw::default();
    let mut rest = output;
    loop {
        let (line, next) = match rest.find('\n') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None if rest.is_empty() => {
                return Err("facts: output ends early (no `@@end`)".into());
            }
            None => (rest, ""),
        };
        rest = next;
        if line == "@@end" {
            return Ok(raw);
        }
        if line == "@@env" {
            let (env, after) = parse_env(rest)?;
            raw.env = Some(env);
            rest = after;
            continue;
        }
        if let Some(p) = line.strip_prefix("@@exists ") {
            raw.exists.insert(p);
            continue;
        }
        if let Some(d) = line.strip_prefix("@@date ") {
            raw.date = Some(d);
            continue;
        }
        // Older GNU greps report a binary file on stdout; its content is then missing.
        if line.starts_with("Binary file ") {
            continue;
        }
        match line.split_once(':') {
            Some((path, content)) if path.starts_with('/') => {
                raw.files.entry(path).or_default().push(content);
            }
            _ => return Err(format!("facts: unexpected output line `{line}`")),
        }
    }
}

/// `export -p` as dash, busybox ash (`export K='v'`) and bash (`export K="v"`, `declare -x`)
/// print it, up to a `@@end` line outside any quotes. Returns the variables and the text after
/// `@@end`'s line start (so the caller sees `@@end`).
fn parse_env(text: &str) -> Result<(Map<String, Value>, &str), String> {
    let mut env = Map::new();
    let mut rest = text;
    loop {
        if rest.starts_with("@@end\n") || rest == "@@end" {
            return Ok((env, rest));
        }
        if rest.is_empty() {
            return Err("facts: environment section ends early (no `@@end`)".into());
        }
        let body = rest
            .strip_prefix("export ")
            .or_else(|| rest.strip_prefix("declare -x "))
            .ok_or_else(|| {
                format!(
                    "facts: unexpected environment line `{}`",
                    rest.lines().next().unwrap_or("")
                )
            })?;
        let name_end = body.find(['=', '\n']).unwrap_or(body.len());
        let name = &body[..name_end];
        let mut chars = body[name_end..].char_indices().peekable();
        let mut value = String::new();
        let mut has_value = false;
        let mut consumed = body.len() - name_end;
        if let Some((_, '=')) = chars.peek().copied() {
            has_value = true;
            chars.next();
            loop {
                match chars.next() {
                    None => {
                        return Err(format!("facts: environment value of {name} is cut"));
                    }
                    Some((i, '\n')) => {
                        consumed = i + 1;
                        break;
                    }
                    Some((_, '\'')) => loop {
                        match chars.next() {
                            None => {
                                return Err(format!("facts: environment value of {name} is cut"));
                            }
                            Some((_, '\'')) => break,
                            Some((_, c)) => value.push(c),
                        }
                    },
                    Some((_, '"')) => loop {
                        match chars.next() {
                            None => {
                                return Err(format!("facts: environment value of {name} is cut"));
                            }
                            Some((_, '"')) => break,
                            Some((_, '\\')) => match chars.next() {
                                Some((_, c @ ('"' | '\\' | '$' | '`'))) => value.push(c),
                                Some((_, '\n')) => {}
                                Some((_, c)) => {
                                    value.push('\\');
                                    value.push(c);
                                }
                                None => {
                                    return Err(format!(
                                        "facts: environment value of {name} is cut"
                                    ));
                                }
                            },
                            Some((_, c)) => value.push(c),
                        }
                    },
                    Some((_, '$')) if matches!(chars.peek(), Some((_, '\''))) => {
                        chars.next();
                        ansi_c(&mut chars, &mut value)
                            .ok_or_else(|| format!("facts: environment value of {name} is cut"))?;
                    }
                    Some((_, '\\')) => {
                        if let Some((_, c)) = chars.next() {
                            value.push(c);
                        }
                    }
                    Some((_, c)) => value.push(c),
                }
            }
        } else if let Some((i, '\n')) = chars.peek().copied() {
            consumed = i + 1;
        }
        rest = &body[name_end + consumed.min(body.len() - name_end)..];
        if has_value && !name.is_empty() {
            env.insert(name.to_string(), Value::String(value));
        }
    }
}

/// The rest of bash's `$'...'` quoting (after `$'`), as bash prints values holding control
/// characters: `\n`, `\t`, `\NNN` octal bytes and the like. `None` if the quote never ends.
fn ansi_c(
    chars: &mut std::iter::Peekable<std::str::CharIndices>,
    value: &mut String,
) -> Option<()> {
    let mut bytes: Vec<u8> = Vec::new();
    let mut buf = [0u8; 4];
    loop {
        let (_, c) = chars.next()?;
        match c {
            '\'' => break,
            '\\' => {
                let (_, e) = chars.next()?;
                match e {
                    'n' => bytes.push(b'\n'),
                    't' => bytes.push(b'\t'),
                    'r' => bytes.push(b'\r'),
                    'a' => bytes.push(7),
                    'b' => bytes.push(8),
                    'e' | 'E' => bytes.push(27),
                    'f' => bytes.push(12),
                    'v' => bytes.push(11),
                    '0'..='7' => {
                        let mut v = e as u32 - '0' as u32;
                        for _ in 0..2 {
                            match chars.peek() {
                                Some((_, d @ '0'..='7')) => {
                                    v = v * 8 + (*d as u32 - '0' as u32);
                                    chars.next();
                                }
                                _ => break,
                            }
                        }
                        bytes.push(v as u8);
                    }
                    'x' => {
                        let mut v = 0u32;
                        for _ in 0..2 {
                            match chars.peek().and_then(|(_, d)| d.to_digit(16)) {
                                Some(d) => {
                                    v = v * 16 + d;
                                    chars.next();
                                }
                                None => break,
                            }
                        }
                        bytes.push(v as u8);
                    }
                    other => bytes.extend_from_slice(other.encode_utf8(&mut buf).as_bytes()),
                }
            }
            other => bytes.extend_from_slice(other.encode_utf8(&mut buf).as_bytes()),
        }
    }
    value.push_str(&String::from_utf8_lossy(&bytes));
    Some(())
}

/// A fact's string value.
pub(super) fn s(v: &str) -> Value {
    Value::String(v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_as_each_shell_prints_it() {
        let text = "export A='x'\\''y'\nexport B='two\nlines\n@@end\nstill B'\nexport C\n\
                    declare -x D=\"q\\\"\\$\\\\z\"\nexport E=\"it's\"\nexport F=plain\n@@end\n";
        let (env, rest) = parse_env(text).unwrap();
        assert_eq!(rest, "@@end\n");
        assert_eq!(env["A"], "x'y");
        assert_eq!(env["B"], "two\nlines\n@@end\nstill B");
        assert!(!env.contains_key("C"));
        assert_eq!(env["D"], "q\"$\\z");
        assert_eq!(env["E"], "it's");
        assert_eq!(env["F"], "plain");
        // bash, for values holding control characters.
        let (env, _) = parse_env(
            "export X=$'two\\nlines\\ttab\\001\\'q'\nexport Y=\"q\\\"\\$\\\\z'\\`\"\n@@end\n",
        )
        .unwrap();
        assert_eq!(env["X"], "two\nlines\ttab\u{1}'q");
        assert_eq!(env["Y"], "q\"$\\z'`");
        // dash's way of quoting a quote.
        let (env, _) = parse_env("export Y='q\"$\\z'\"'\"'`'\n@@end\n").unwrap();
        assert_eq!(env["Y"], "q\"$\\z'`");
        assert!(parse_env("export A='open\n").is_err());
        assert!(parse_env("export A=$'open\n").is_err());
        assert!(parse_env("garbage\n@@end\n").is_err());
    }
}
