//! The state of one path on a host: the probe snippet shared by `file`, `copy` and `template`,
//! and its pure parser.

use crate::shell::quote;

/// One snippet that reads many paths: one `stat` per 30 paths and one `sha256sum` for the
/// files whose content matters. Few processes, because each costs a millisecond on a host.
pub fn probe(paths: &[&str], sums: &[&str]) -> String {
    let mut s = String::new();
    for chunk in paths.chunks(30) {
        let args: Vec<String> = chunk.iter().map(|p| quote(p)).collect();
        s.push_str(&format!(
            "LC_ALL=C QUOTING_STYLE=literal stat --printf 'stat\\t%n\\t%F\\t%a\\t%U\\t%G\\t%u\\t%g\\t%N\\n' -- {} 2>&1\n",
            args.join(" ")
        ));
    }
    if !sums.is_empty() {
        let args: Vec<String> = sums.iter().map(|p| quote(p)).collect();
        s.push_str(&format!("sha256sum -- {} 2>/dev/null\n", args.join(" ")));
    }
    s.push_str("true\n");
    s
}

/// The facts for `paths`, in order, from `probe`'s output. A path stat could not read for
/// any reason but its absence is an error, never "absent".
pub fn parse(output: &str, paths: &[&str]) -> Result<Vec<FileFact>, String> {
    use std::collections::HashMap;
    let mut found: HashMap<&str, FileFact> = HashMap::new();
    let mut sums: HashMap<&str, &str> = HashMap::new();
    let mut errors: Vec<&str> = Vec::new();
    for line in output.lines().filter(|l| !l.is_empty()) {
        if let Some(rest) = line.strip_prefix("stat\t") {
            let f: Vec<&str> = rest.split('\t').collect();
            if f.len() < 8 {
                return Err(format!("unexpected probe output: `{line}`"));
            }
            let bad = || format!("unexpected probe output: `{line}`");
            let kind = match f[1] {
                "regular file" | "regular empty file" => Kind::File,
                "directory" => Kind::Dir,
                "symbolic link" => Kind::Link,
                _ => Kind::Other,
            };
            let target = (kind == Kind::Link)
                .then(|| {
                    f[7].strip_prefix(&format!("{} -> ", f[0]))
                        .map(String::from)
                })
                .flatten();
            found.insert(
                f[0],
                FileFact {
                    kind,
                    mode: u32::from_str_radix(f[2], 8).map_err(|_| bad())?,
                    owner: f[3].to_string(),
                    group: f[4].to_string(),
                    uid: f[5].to_string(),
                    gid: f[6].to_string(),
                    sha256: None,
                    target,
                },
            );
        } else if line.starts_with("stat: ") {
            errors.push(line);
        } else if let Some((sum, path)) = line.split_once("  ")
            && sum.len() == 64
            && sum.chars().all(|c| c.is_ascii_hexdigit())
        {
            sums.insert(path, sum);
        } else {
            return Err(format!("unexpected probe output: `{line}`"));
        }
    }
    paths
        .iter()
        .map(|p| {
            if let Some(f) = found.get(p) {
                let mut f = f.clone();
                f.sha256 = sums.get(p).map(|s| s.to_string());
                return Ok(f);
            }
            let quoted = format!("'{p}'");
            match errors.iter().find(|e| e.contains(&quoted)) {
                Some(e)
                    if e.ends_with("No such file or directory")
                        || e.ends_with("Not a directory") =>
                {
                    Ok(FileFact::absent())
                }
                Some(e) => Err(e.to_string()),
                None => Err(format!("no probe output for {p}: {}", output.trim())),
            }
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Absent,
    File,
    Dir,
    Link,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileFact {
    pub kind: Kind,
    pub mode: u32,
    pub owner: String,
    pub group: String,
    pub uid: String,
    pub gid: String,
    pub sha256: Option<String>,
    pub target: Option<String>,
}

impl FileFact {
    pub fn absent() -> FileFact {
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
    pub fn owner_is(&self, want: &str) -> bool {
        self.owner == want || self.uid == want
    }

    pub fn group_is(&self, want: &str) -> bool {
        self.group == want || self.gid == want
    }
}

/// The mode/owner/group changes needed on an existing path, in words and as shell. The shell
/// (which needs `safe_write::HEAD`) acts on the file or directory reached safely, never through
/// a symlink, and sets owner and group before the mode (chown clears setuid/setgid).
pub fn attr_changes(
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
pub fn decode_text(b64: &str, path: &str) -> Result<String, String> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|e| format!("unexpected probe output: {e}"))?;
    String::from_utf8(bytes).map_err(|_| format!("{path} is not a text file (UTF-8)"))
}

/// Lines back into a text file's content: each ends with a newline.
pub fn text_of<S: AsRef<str>>(lines: &[S]) -> String {
    lines.iter().fold(String::new(), |mut s, l| {
        s.push_str(l.as_ref());
        s.push('\n');
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // Recorded on a Debian 12 host (coreutils 9.1).
    const RECORDED: &str = "stat: cannot statx '/srv/missing': No such file or directory
stat\t/etc/nginx/conf.d/myproject.conf\tregular file\t644\troot\troot\t0\t0\t/etc/nginx/conf.d/myproject.conf
stat\t/srv/myproject\tdirectory\t755\twww-data\twww-data\t33\t33\t/srv/myproject
stat\t/etc/nginx/sites-enabled/default\tsymbolic link\t777\troot\troot\t0\t0\t/etc/nginx/sites-enabled/default -> /etc/nginx/sites-available/default
stat\t/etc/empty\tregular empty file\t600\troot\troot\t0\t0\t/etc/empty
e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  /etc/nginx/conf.d/myproject.conf
";

    #[test]
    fn parses_recorded_output() {
        let paths = [
            "/etc/nginx/conf.d/myproject.conf",
            "/srv/myproject",
            "/etc/nginx/sites-enabled/default",
            "/srv/missing",
            "/etc/empty",
        ];
        let f = parse(RECORDED, &paths).unwrap();
        assert_eq!((f[0].kind.clone(), f[0].mode), (Kind::File, 0o644));
        assert!(f[0].owner_is("root") && f[0].owner_is("0"));
        assert_eq!(f[0].sha256.as_deref().unwrap().len(), 64);
        assert_eq!((f[1].kind.clone(), f[1].mode), (Kind::Dir, 0o755));
        assert!(f[1].group_is("www-data") && f[1].group_is("33"));
        assert_eq!(
            f[2].target.as_deref(),
            Some("/etc/nginx/sites-available/default")
        );
        assert_eq!(f[3].kind, Kind::Absent);
        assert_eq!(f[4].kind, Kind::File);
        assert!(f[4].sha256.is_none());
    }

    #[test]
    fn unreadable_is_an_error_not_absent() {
        let out = "stat: cannot statx '/root/x': Permission denied\n";
        assert!(parse(out, &["/root/x"]).is_err());
        assert!(parse("", &["/root/x"]).is_err());
        assert!(parse("garbage\n", &["/root/x"]).is_err());
    }

    #[test]
    fn probe_runs_through_sh() {
        use crate::transport::Transport;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a b");
        std::fs::write(&file, "x").unwrap();
        let f = file.display().to_string();
        let missing = dir.path().join("none").display().to_string();
        let out = crate::transport::local::Local::new()
            .run(&probe(&[&f, &missing], &[&f]), None)
            .unwrap();
        let facts = parse(&out.out, &[&f, &missing]).unwrap();
        assert_eq!(facts[0].kind, Kind::File);
        assert_eq!(
            facts[0].sha256.as_deref(),
            Some("2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881")
        );
        assert_eq!(facts[1].kind, Kind::Absent);
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
