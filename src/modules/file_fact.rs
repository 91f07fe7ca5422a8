//! The state of one path on a host: the probe snippet shared by `file`, `copy` and `template`,
//! and its pure parser.

use crate::shell::quote;

/// Defines `_pf PATH WANTSUM`, printing one line: `absent`, `link\tTARGET`,
/// `dir\tMODE\tUSER\tGROUP\tUID\tGID`, `file\t…\tSHA256` or `other\t…`.
pub const PRELUDE: &str = r#"_pf() {
  if [ -L "$1" ]; then printf 'link\t%s\n' "$(readlink -- "$1")"
  elif [ -d "$1" ]; then stat --printf 'dir\t%a\t%U\t%G\t%u\t%g\n' -- "$1"
  elif [ -f "$1" ]; then
    stat --printf 'file\t%a\t%U\t%G\t%u\t%g\t' -- "$1"
    if [ "$2" = 1 ]; then sha256sum < "$1" | cut -d' ' -f1; else echo; fi
  elif [ -e "$1" ]; then stat --printf 'other\t%a\t%U\t%G\t%u\t%g\n' -- "$1"
  else echo absent; fi
}
"#;

pub fn probe(path: &str, want_sum: bool) -> String {
    format!("_pf {} {}", quote(path), u8::from(want_sum))
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

    /// Parses one `_pf` line.
    pub fn parse(line: &str) -> Result<FileFact, String> {
        let f: Vec<&str> = line.split('\t').collect();
        let bad = || format!("unexpected probe output: `{line}`");
        let mut fact = FileFact::absent();
        match f[0] {
            "absent" => return Ok(fact),
            "link" => {
                fact.kind = Kind::Link;
                fact.target = Some(f.get(1).ok_or_else(bad)?.to_string());
                return Ok(fact);
            }
            "file" => fact.kind = Kind::File,
            "dir" => fact.kind = Kind::Dir,
            "other" => fact.kind = Kind::Other,
            _ => return Err(bad()),
        }
        if f.len() < 6 {
            return Err(bad());
        }
        fact.mode = u32::from_str_radix(f[1], 8).map_err(|_| bad())?;
        fact.owner = f[2].to_string();
        fact.group = f[3].to_string();
        fact.uid = f[4].to_string();
        fact.gid = f[5].to_string();
        if fact.kind == Kind::File {
            let sum = f.get(6).copied().unwrap_or("");
            if !sum.is_empty() {
                if sum.len() != 64 || !sum.chars().all(|c| c.is_ascii_hexdigit()) {
                    return Err(bad());
                }
                fact.sha256 = Some(sum.to_string());
            }
        }
        Ok(fact)
    }

    /// Whether the owner matches `want` (a name or a numeric id).
    pub fn owner_is(&self, want: &str) -> bool {
        self.owner == want || self.uid == want
    }

    pub fn group_is(&self, want: &str) -> bool {
        self.group == want || self.gid == want
    }
}

/// The mode/owner/group changes needed on an existing path, in words and as shell.
pub fn attr_changes(
    fact: &FileFact,
    path: &str,
    mode: Option<u32>,
    owner: Option<&str>,
    group: Option<&str>,
) -> (Vec<String>, Vec<String>) {
    let mut words = Vec::new();
    let mut cmds = Vec::new();
    if let Some(m) = mode
        && fact.mode != m
    {
        words.push(format!("mode {:04o} → {:04o}", fact.mode, m));
        cmds.push(format!("chmod {:04o} -- {}", m, quote(path)));
    }
    if let Some(o) = owner
        && !fact.owner_is(o)
    {
        words.push(format!("owner {} → {}", fact.owner, o));
        cmds.push(format!("chown {} -- {}", quote(o), quote(path)));
    }
    if let Some(g) = group
        && !fact.group_is(g)
    {
        words.push(format!("group {} → {}", fact.group, g));
        cmds.push(format!("chgrp {} -- {}", quote(g), quote(path)));
    }
    (words, cmds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_recorded_lines() {
        let f = FileFact::parse(
            "file\t644\troot\troot\t0\t0\te3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        )
        .unwrap();
        assert_eq!(f.kind, Kind::File);
        assert_eq!(f.mode, 0o644);
        assert!(f.owner_is("root") && f.owner_is("0"));
        assert_eq!(f.sha256.as_deref().unwrap().len(), 64);
        let d = FileFact::parse("dir\t755\twww-data\twww-data\t33\t33").unwrap();
        assert_eq!((d.kind, d.mode), (Kind::Dir, 0o755));
        let l = FileFact::parse("link\t/etc/nginx/sites-available/default").unwrap();
        assert_eq!(
            l.target.as_deref(),
            Some("/etc/nginx/sites-available/default")
        );
        assert_eq!(FileFact::parse("absent").unwrap().kind, Kind::Absent);
        assert!(FileFact::parse("stat: cannot stat 'x': Permission denied").is_err());
        assert!(FileFact::parse("file\t644\troot\troot\t0\t0\tnot-a-sum").is_err());
    }

    #[test]
    fn attribute_changes() {
        let f = FileFact::parse("file\t600\troot\troot\t0\t0\t").unwrap();
        let (w, c) = attr_changes(&f, "/x", Some(0o644), Some("root"), Some("www-data"));
        assert_eq!(w, ["mode 0600 → 0644", "group root → www-data"]);
        assert_eq!(c, ["chmod 0644 -- /x", "chgrp www-data -- /x"]);
    }
}
