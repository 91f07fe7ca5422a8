//! The state of one path on a host: the probe snippet shared by `file`, `copy` and `template`,
//! and its pure parser.
//!
//! The probe's output is framed so that nothing on the host can make one record look like
//! another: every record carries an index the probe chose (never a name the host printed), names
//! and link targets are C-quoted by `stat` (`QUOTING_STYLE=c`, so no raw newline, tab or quote),
//! and the parser checks each quoted name against the path it asked for. Anything else (a second
//! record for a path, an index not asked for, trailing output) is a probe error.

use crate::shell::quote;

mod rec;

pub(crate) use rec::{ABSENT_FN, Rec, probe, probe_words, render};

/// Splits a probe's output into one record per path of `paths`, each line checked.
pub(crate) fn records(output: &str, paths: &[&str]) -> Result<Vec<Rec>, String> {
    rec::records(
        output,
        paths,
        |line, path| stat_fact(line, path).map(|_| ()),
        |line, path| sha256_of(line, path).map(|_| ()),
    )
}

/// The facts for `paths`, in order, from `probe`'s output. A path stat could not read for
/// any reason but its absence is an error, never "absent".
pub(crate) fn parse(output: &str, paths: &[&str]) -> Result<Vec<FileFact>, String> {
    records(output, paths)?
        .into_iter()
        .zip(paths)
        .map(|(rec, p)| match rec {
            Rec::Absent => Ok(FileFact::absent()),
            Rec::Error(why) => Err(format!("cannot read {p}: {why}")),
            Rec::Found(line, sum) => {
                let mut f = stat_fact(&line, p)?;
                f.sha256 = sum.map(|s| sha256_of(&s, p)).transpose()?;
                Ok(f)
            }
        })
        .collect()
}

/// One `stat` line of `FORMAT` for `path`.
fn stat_fact(line: &str, path: &str) -> Result<FileFact, String> {
    let f: Vec<&str> = line.split('\t').collect();
    let ["stat", kind, mode, owner, group, uid, gid, mtime, n] = f[..] else {
        return Err("not a stat record".into());
    };
    mtime
        .parse::<i64>()
        .map_err(|_| "a bad modification time")?;
    let kind = match kind {
        "regular file" | "regular empty file" => Kind::File,
        "directory" => Kind::Dir,
        "symbolic link" => Kind::Link,
        _ => Kind::Other,
    };
    let (name, target) = name_and_target(n)?;
    if name != path.as_bytes() {
        return Err("a record for another path".into());
    }
    if (kind == Kind::Link) != target.is_some() {
        return Err("a link target that does not fit the type".into());
    }
    Ok(FileFact {
        kind,
        mode: u32::from_str_radix(mode, 8).map_err(|_| "a bad mode")?,
        owner: owner.to_string(),
        group: group.to_string(),
        uid: uid.to_string(),
        gid: gid.to_string(),
        sha256: None,
        target: target.map(|t| text_of_bytes(&t, n)),
    })
}

/// A link target as text. One that is not UTF-8 keeps stat's C-quoted form (with its quotes),
/// so it never compares equal to a playbook's (UTF-8) `src` by accident.
pub(crate) fn text_of_bytes(b: &[u8], quoted: &str) -> String {
    match std::str::from_utf8(b) {
        Ok(s) => s.to_string(),
        Err(_) => quoted
            .rsplit_once(" -> ")
            .map(|(_, t)| t)
            .unwrap_or(quoted)
            .to_string(),
    }
}

/// `%N` under `QUOTING_STYLE=c`: `"NAME"`, or `"NAME" -> "TARGET"` for a link, as bytes.
pub(crate) fn name_and_target(n: &str) -> Result<(Vec<u8>, Option<Vec<u8>>), String> {
    let (name, rest) = unquote_c(n)?;
    if rest.is_empty() {
        return Ok((name, None));
    }
    let rest = rest
        .strip_prefix(" -> ")
        .ok_or("unexpected text after the name")?;
    let (target, rest) = unquote_c(rest)?;
    if !rest.is_empty() {
        return Err("unexpected text after the link target".into());
    }
    Ok((name, Some(target)))
}

/// One C-quoted string at the start of `s` (GNU quotearg's `c` style: `\\ \" \a \b \f \n \r \t
/// \v \?` and three-digit octal), and what follows it.
fn unquote_c(s: &str) -> Result<(Vec<u8>, &str), String> {
    let bad = || "a badly quoted name".to_string();
    let body = s.strip_prefix('"').ok_or_else(bad)?;
    let b = body.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => return Ok((out, &body[i + 1..])),
            b'\\' => {
                let c = *b.get(i + 1).ok_or_else(bad)?;
                i += 2;
                out.push(match c {
                    b'\\' | b'"' | b'?' | b'\'' => c,
                    b'a' => 7,
                    b'b' => 8,
                    b'f' => 12,
                    b'n' => b'\n',
                    b'r' => b'\r',
                    b't' => b'\t',
                    b'v' => 11,
                    b'0'..=b'3' => {
                        let d = b.get(i..i + 2).ok_or_else(bad)?;
                        if !d.iter().all(|x| (b'0'..=b'7').contains(x)) {
                            return Err(bad());
                        }
                        i += 2;
                        (c - b'0') * 64 + (d[0] - b'0') * 8 + (d[1] - b'0')
                    }
                    _ => return Err(bad()),
                });
            }
            c if !(0x20..0x7f).contains(&c) => return Err(bad()),
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Err(bad())
}

/// The checksum from one `sha256sum` line for `path`. sha256sum escapes a name holding `\`,
/// a newline or a carriage return, and then starts the line with `\`.
fn sha256_of(line: &str, path: &str) -> Result<String, String> {
    let (escaped, line) = match line.strip_prefix('\\') {
        Some(l) => (true, l),
        None => (false, line),
    };
    let (sum, name) = line.split_once("  ").ok_or("not a checksum")?;
    if sum.len() != 64 || !sum.bytes().all(|c| c.is_ascii_hexdigit()) {
        return Err("not a checksum".into());
    }
    let name = if escaped {
        let mut out = String::new();
        let mut chars = name.chars();
        while let Some(c) = chars.next() {
            out.push(match (c, c == '\\') {
                (_, false) => c,
                (_, true) => match chars.next() {
                    Some('\\') => '\\',
                    Some('n') => '\n',
                    Some('r') => '\r',
                    _ => return Err("a badly escaped name".into()),
                },
            });
        }
        out
    } else {
        name.to_string()
    };
    if name != path {
        return Err("a checksum for another path".into());
    }
    Ok(sum.to_string())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    Absent,
    File,
    Dir,
    Link,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileFact {
    pub(crate) kind: Kind,
    pub(crate) mode: u32,
    pub(crate) owner: String,
    pub(crate) group: String,
    pub(crate) uid: String,
    pub(crate) gid: String,
    pub(crate) sha256: Option<String>,
    pub(crate) target: Option<String>,
}

impl FileFact {
    pub(crate) fn absent() -> FileFact {
        FileFact {
            kind: Kind::Absent,
            mode: 0,
            owner: String::new(),
            group: String::new(),
            uid: String::new(),
            gid: String::new(),
            sha256: None,
            target: None,
        }
    }

    /// Whether the owner matches `want` (a name or a numeric id).
    fn owner_is(&self, want: &str) -> bool {
        self.owner == want || self.uid == want
    }

    fn group_is(&self, want: &str) -> bool {
        self.group == want || self.gid == want
    }
}

/// The mode/owner/group changes needed on an existing path, in words and as shell. The shell
/// (which needs `safe_write::HEAD`) acts on the file or directory reached safely, never through
/// a symlink, and sets owner and group before the mode (chown clears setuid/setgid).
pub(crate) fn attr_changes(
    fact: &FileFact,
    path: &str,
    mode: Option<u32>,
    owner: Option<&str>,
    group: Option<&str>,
) -> (Vec<String>, Vec<String>) {
    let mut words = Vec::new();
    let mode = mode.filter(|m| fact.mode != *m);
    if let Some(m) = mode {
        words.push(format!("mode {:04o} → {:04o}", fact.mode, m));
    }
    let owner = owner.filter(|o| !fact.owner_is(o));
    if let Some(o) = owner {
        words.push(format!("owner {} → {}", fact.owner, o));
    }
    let group = group.filter(|g| !fact.group_is(g));
    if let Some(g) = group {
        words.push(format!("group {} → {}", fact.group, g));
    }
    if words.is_empty() {
        return (words, Vec::new());
    }
    let cmd = match fact.kind {
        Kind::File | Kind::Dir => {
            super::safe_write::set_attrs(path, fact.kind == Kind::Dir, owner, group, mode)
        }
        // Never through a symlink (its own mode is always 0777), nor on a device or FIFO.
        _ => format!(
            "plumb_die '%s is not a regular file or directory; plumb sets attributes only on those' {}",
            quote(path)
        ),
    };
    (words, vec![cmd])
}

/// A text file's content as a probe prints it (base64 on one line), back into text.
pub(crate) fn decode_text(b64: &str, path: &str) -> Result<String, String> {
    // The items of a loop over one file (`lineinfile`, a line per item) each plan on the same
    // probed content: decoded once per thread, not once per item.
    // (base64, path, what it decoded to)
    type Last = Option<(String, String, Result<String, String>)>;
    thread_local! {
        static LAST: std::cell::RefCell<Last> = const { std::cell::RefCell::new(None) };
    }
    LAST.with_borrow_mut(|last| match last {
        Some((b, p, r)) if b == b64 && p == path => r.clone(),
        _ => {
            let r = decode_text_once(b64, path);
            *last = Some((b64.to_string(), path.to_string(), r.clone()));
            r
        }
    })
}

fn decode_text_once(b64: &str, path: &str) -> Result<String, String> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|e| format!("unexpected probe output: {e}"))?;
    String::from_utf8(bytes).map_err(|_| format!("{path} is not a text file (UTF-8)"))
}

/// Lines back into a text file's content: each ends with a newline.
pub(crate) fn text_of<S: AsRef<str>>(lines: &[S]) -> String {
    lines.iter().fold(String::new(), |mut s, l| {
        s.push_str(l.as_ref());
        s.push('\n');
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rec::SUMS_PER_GROUP;

    // Recorded with coreutils 9.1 (as on Debian 12): `probe` of the paths below, with sums of
    // `a b`, `nl\nx`, `back\slash` and `d`. `evil` is a link whose target holds a newline and a
    // forged record; `a b/x` is under a file (ENOTDIR). The owner of `d` and the mode of
    // `nl\nx` edited afterwards.
    const RECORDED: &str = "absent\t4
absent\t7
stats
stat\tregular file\t644\troot\troot\t0\t0\t1764000000\t\"/tmp/rec/a b\"
stat\tdirectory\t755\twww-data\twww-data\t33\t33\t1764000000\t\"/tmp/rec/d\"
stat\tsymbolic link\t777\troot\troot\t0\t0\t1764000000\t\"/tmp/rec/lnk\" -> \"/etc/hostname\"
stat\tsymbolic link\t777\troot\troot\t0\t0\t1764000000\t\"/tmp/rec/evil\" -> \"x\\nstat\\tregular file\"
stat\tregular empty file\t600\troot\troot\t0\t0\t1764000000\t\"/tmp/rec/nl\\nx\"
stat\tregular empty file\t644\troot\troot\t0\t0\t1764000000\t\"/tmp/rec/back\\\\slash\"
sums\t 0 5 6
2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881  /tmp/rec/a b
\\e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  /tmp/rec/nl\\nx
\\e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  /tmp/rec/back\\\\slash
";
    const PATHS: [&str; 8] = [
        "/tmp/rec/a b",
        "/tmp/rec/d",
        "/tmp/rec/lnk",
        "/tmp/rec/evil",
        "/tmp/rec/none",
        "/tmp/rec/nl\nx",
        "/tmp/rec/back\\slash",
        "/tmp/rec/a b/x",
    ];
    const EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn parses_recorded_output() {
        let f = parse(RECORDED, &PATHS).unwrap();
        assert_eq!((f[0].kind.clone(), f[0].mode), (Kind::File, 0o644));
        assert!(f[0].owner_is("root") && f[0].owner_is("0"));
        assert_eq!(f[0].sha256.as_deref().unwrap().len(), 64);
        assert_eq!((f[1].kind.clone(), f[1].mode), (Kind::Dir, 0o755));
        assert!(f[1].group_is("www-data") && f[1].group_is("33"));
        assert_eq!(f[2].target.as_deref(), Some("/etc/hostname"));
        assert_eq!(f[3].target.as_deref(), Some("x\nstat\tregular file"));
        assert_eq!(f[4].kind, Kind::Absent);
        assert_eq!((f[5].kind.clone(), f[5].mode), (Kind::File, 0o600));
        assert_eq!(f[5].sha256.as_deref(), Some(EMPTY));
        assert_eq!(f[6].sha256.as_deref(), Some(EMPTY));
        assert_eq!(f[7].kind, Kind::Absent);
    }

    #[test]
    fn forged_or_broken_output_is_a_probe_error() {
        let sum = "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881";
        let st = |n: &str| format!("stat\tregular file\t600\troot\troot\t0\t0\t1764000000\t{n}\n");
        // (what, output) for the paths ["/a", "/b"], with "/b"'s checksum allowed.
        let cases: Vec<(&str, String)> = vec![
            ("empty", String::new()),
            ("garbage", "garbage\n".into()),
            (
                "the old format",
                "stat\t/a\tregular file\t644\troot\troot\t0\t0\t/a\n".into(),
            ),
            ("a path missing", "absent\t0\nstats\n".to_string()),
            (
                "a second record",
                format!("absent\t0\nabsent\t0\nstats\n{}", st("\"/b\"")),
            ),
            (
                "absent and found",
                format!("absent\t0\nstats\n{}{}", st("\"/a\""), st("\"/b\"")),
            ),
            (
                "an index not asked for",
                "absent\t0\nabsent\t1\nabsent\t2\nstats\n".to_string(),
            ),
            ("a bad index", "absent\t-1\nabsent\t1\nstats\n".to_string()),
            (
                "a record for another path",
                format!("absent\t0\nstats\n{}", st("\"/a\"")),
            ),
            ("a raw name", format!("absent\t0\nstats\n{}", st("/b"))),
            ("stat records short", "absent\t0\nstats\n".to_string()),
            (
                "stat records over",
                format!("absent\t0\nstats\n{}{}", st("\"/b\""), st("\"/b\"")),
            ),
            (
                "trailing garbage",
                format!("absent\t0\nstats\n{}x\n", st("\"/b\"")),
            ),
            (
                "a stat error line",
                "absent\t0\nstats\nstat: cannot statx '/b': Permission denied\n".to_string(),
            ),
            (
                "a link target on a file",
                format!("absent\t0\nstats\n{}", st("\"/b\" -> \"/x\"")),
            ),
            (
                "a link without a target",
                "absent\t0\nstats\nstat\tsymbolic link\t777\troot\troot\t0\t0\t1764000000\t\"/b\"\n"
                    .to_string(),
            ),
            (
                "a bad modification time",
                "absent\t0\nstats\nstat\tregular file\t600\troot\troot\t0\t0\tsoon\t\"/b\"\n"
                    .to_string(),
            ),
            (
                "text after the name",
                format!("absent\t0\nstats\n{}", st("\"/b\"x")),
            ),
            (
                "an unclosed quote",
                format!("absent\t0\nstats\n{}", st("\"/b")),
            ),
            (
                "a tab in a field",
                "absent\t0\nstats\nstat\tregular file\t600\tro\tot\troot\t0\t0\t1764000000\t\"/b\"\n"
                    .to_string(),
            ),
            (
                "a checksum for an absent path",
                format!("absent\t0\nstats\n{}sums\t 0\n{sum}  /a\n", st("\"/b\"")),
            ),
            (
                "a checksum for another path",
                format!("absent\t0\nstats\n{}sums\t 1\n{sum}  /a\n", st("\"/b\"")),
            ),
            (
                "two checksums",
                format!(
                    "absent\t0\nstats\n{}sums\t 1 1\n{sum}  /b\n{sum}  /b\n",
                    st("\"/b\"")
                ),
            ),
            (
                "a short checksum",
                format!("absent\t0\nstats\n{}sums\t 1\n2d71  /b\n", st("\"/b\"")),
            ),
            (
                "a checksum line missing",
                format!("absent\t0\nstats\n{}sums\t 1\n", st("\"/b\"")),
            ),
            (
                "output after the checksums",
                format!(
                    "absent\t0\nstats\n{}sums\t 1\n{sum}  /b\n{sum}  /b\n",
                    st("\"/b\"")
                ),
            ),
        ];
        for (what, out) in cases {
            let r = parse(&out, &["/a", "/b"]);
            assert!(r.is_err(), "{what}: {r:?}");
            assert!(r.unwrap_err().contains("probe failed"), "{what}");
        }
        // The control: the same shape, well formed.
        let ok = format!("absent\t0\nstats\n{}sums\t 1\n{sum}  /b\n", st("\"/b\""));
        assert_eq!(
            parse(&ok, &["/a", "/b"]).unwrap()[1].sha256.as_deref(),
            Some(sum)
        );
    }

    #[test]
    fn unreadable_is_an_error_not_absent() {
        let out = "error\t0\tPermission denied\nstats\n";
        assert_eq!(
            parse(out, &["/root/x"]).unwrap_err(),
            "cannot read /root/x: Permission denied"
        );
    }

    #[test]
    fn c_quoted_names() {
        type Case<'a> = (&'a str, &'a [u8], Option<&'a [u8]>);
        let cases: &[Case] = &[
            (r#""a b""#, b"a b", None),
            (r#""l -> k" -> "t -> z""#, b"l -> k", Some(b"t -> z")),
            (r#""q\"uote\\""#, b"q\"uote\\", None),
            (r#""caf\303\251""#, "café".as_bytes(), None),
            (r#""bad\377x\0331""#, b"bad\xffx\x1b1", None),
            (r#""a\a\b\f\n\r\t\v\?""#, b"a\x07\x08\x0c\n\r\t\x0b?", None),
        ];
        for (n, name, target) in cases {
            let (a, b) = name_and_target(n).unwrap();
            assert_eq!((a.as_slice(), b.as_deref()), (*name, *target), "{n}");
        }
        for bad in [
            r#"a"#,
            r#""a"#,
            r#""a\"#,
            r#""a\400""#,
            r#""a\9""#,
            r#""a" -> b"#,
            r#""a""b""#,
            "\"a\tb\"",
        ] {
            assert!(name_and_target(bad).is_err(), "{bad}");
        }
    }

    /// The real probe on hostile names, through sh and the local transport.
    #[test]
    fn probe_runs_through_sh_on_hostile_names() {
        use crate::transport::Transport;
        use std::os::unix::ffi::OsStrExt;
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display().to_string();
        let names = [
            "a b",
            "nl\nx",
            "tab\tx",
            "it's",
            "q\"uote",
            "back\\slash",
            "$(touch pwned)",
            "-lead",
            "x -> y",
            "café",
        ];
        for n in names {
            std::fs::write(dir.path().join(n), "x").unwrap();
        }
        // A link to a non-UTF-8 name, and a non-UTF-8 name beside them.
        let raw = std::ffi::OsStr::from_bytes(b"raw\xff");
        std::fs::write(dir.path().join(raw), "x").unwrap();
        std::os::unix::fs::symlink(raw, dir.path().join("to-raw")).unwrap();
        // The review's C3 reproduction: a target that forges a record for `victim` (absent).
        let victim = format!("{d}/victim");
        let forged = format!(
            "x\nstat\t{victim}\tregular file\t600\troot\troot\t0\t0\tq\n2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881  {victim}\nstats\nabsent\t1"
        );
        std::os::unix::fs::symlink(&forged, dir.path().join("current")).unwrap();
        std::os::unix::fs::symlink("loop", dir.path().join("loop")).unwrap();
        let mut paths: Vec<String> = names.iter().map(|n| format!("{d}/{n}")).collect();
        paths.extend([
            format!("{d}/to-raw"),
            format!("{d}/current"),
            victim.clone(),
            format!("{d}/loop"),
            format!("{d}/a b/under-a-file"),
            format!("{d}/no-dir/x"),
        ]);
        let p: Vec<&str> = paths.iter().map(String::as_str).collect();
        let mut sums: Vec<&str> = p[..names.len()].to_vec();
        sums.push(&victim);
        let out = crate::transport::local::Local::new()
            .run(&probe(&p, &sums), None)
            .unwrap();
        let facts = parse(&out.out, &p).unwrap_or_else(|e| panic!("{e}\n{}", out.out));
        for (n, f) in names.iter().zip(&facts) {
            assert_eq!(f.kind, Kind::File, "{n}");
            assert_eq!(
                f.sha256.as_deref(),
                Some("2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"),
                "{n}"
            );
        }
        let n = names.len();
        assert_eq!(facts[n].target.as_deref(), Some(r#""raw\377""#));
        assert_eq!(facts[n + 1].target.as_deref(), Some(forged.as_str()));
        assert_eq!(facts[n + 2].kind, Kind::Absent, "the forged record won");
        assert_eq!(facts[n + 3].kind, Kind::Link);
        assert_eq!(facts[n + 4].kind, Kind::Absent);
        assert_eq!(facts[n + 5].kind, Kind::Absent, "under a missing directory");
        assert!(!dir.path().join("pwned").exists());
        // Under a link loop: an error, not absent.
        let looped = format!("{d}/loop/data");
        let out = crate::transport::local::Local::new()
            .run(&probe(&[&looped], &[]), None)
            .unwrap();
        let e = parse(&out.out, &[&looped]).unwrap_err();
        assert!(e.contains("Too many levels of symbolic links"), "{e}");
    }

    /// Names the shell must not read as code get their sums too (the sums' file list goes
    /// through `eval`): quotes, blanks, `$(...)`, backquotes, a glob.
    #[test]
    fn checksums_of_names_sh_would_read_as_code() {
        use crate::transport::Transport;
        let dir = tempfile::tempdir().unwrap();
        let names = [
            "it's a file",
            "$(touch pwned)",
            "`touch pwned`",
            "a*b",
            "x;y",
            "\"q\"",
        ];
        let paths: Vec<String> = names
            .iter()
            .map(|n| {
                let p = dir.path().join(n);
                std::fs::write(&p, n).unwrap();
                p.display().to_string()
            })
            .collect();
        let p: Vec<&str> = paths.iter().map(String::as_str).collect();
        let out = crate::transport::local::Local::new()
            .run(&probe(&p, &p), None)
            .unwrap();
        for (f, n) in parse(&out.out, &p).unwrap().iter().zip(names) {
            assert_eq!(
                f.sha256.as_deref(),
                Some(crate::modules::copy::sha256_hex(n.as_bytes()).as_str()),
                "{n}"
            );
        }
        assert!(!dir.path().join("pwned").exists());
        assert!(!std::path::Path::new("pwned").exists());
    }

    /// More files than one checksum group holds: every file gets its own sum.
    #[test]
    fn checksums_in_groups() {
        use crate::transport::Transport;
        let dir = tempfile::tempdir().unwrap();
        let paths: Vec<String> = (0..SUMS_PER_GROUP + 50)
            .map(|i| {
                let p = dir.path().join(format!("f{i}"));
                std::fs::write(&p, i.to_string()).unwrap();
                p.display().to_string()
            })
            .collect();
        let p: Vec<&str> = paths.iter().map(String::as_str).collect();
        let out = crate::transport::local::Local::new()
            .run(&probe(&p, &p), None)
            .unwrap();
        assert_eq!(out.out.matches("sums\t").count(), 2);
        for (i, f) in parse(&out.out, &p).unwrap().iter().enumerate() {
            assert_eq!(
                f.sha256.as_deref(),
                Some(crate::modules::copy::sha256_hex(i.to_string().as_bytes()).as_str())
            );
        }
        // The same checksum in two groups is one too many.
        let st = "stats\nstat\tregular file\t600\troot\troot\t0\t0\t1764000000\t\"/b\"\n";
        let sum = format!("{EMPTY}  /b\n");
        let twice = format!("{st}sums\t 0\n{sum}sums\t 0\n{sum}");
        assert!(parse(&twice, &["/b"]).is_err());
        assert!(parse(&format!("{st}sums\t 0\n{sum}sums\t\n"), &["/b"]).is_ok());
    }

    #[test]
    fn attribute_changes() {
        let f = FileFact {
            kind: Kind::File,
            mode: 0o600,
            owner: "root".into(),
            group: "root".into(),
            uid: "0".into(),
            gid: "0".into(),
            ..FileFact::absent()
        };
        let (w, c) = attr_changes(&f, "/x", Some(0o644), Some("root"), Some("www-data"));
        assert_eq!(w, ["mode 0600 → 0644", "group root → www-data"]);
        assert_eq!(
            c,
            ["( plumb_cd /\nplumb_hold x /x\nplumb_own '' www-data 0644 /dev/fd/3 )"]
        );
    }
}
