//! `find`: files matching patterns, age, size and content, listed with GNU `find` in the
//! probe (it only reads, so `plumb plan` runs it too); the matching on name, type, depth and
//! content is find's and grep's, age and size are compared in the pure `plan` against the
//! host's clock. Registers `files` (Ansible's `stat`-like entries), `matched`, `examined`.

use super::args::Getter;
use super::{Plan, Resource};
use crate::error::Result;
use crate::shell::quote;
use serde_json::{Map, Value, json};

#[derive(Debug, Clone)]
pub(crate) struct Find {
    pub(crate) paths: Vec<String>,
    pub(crate) patterns: Vec<String>,
    pub(crate) excludes: Vec<String>,
    pub(crate) use_regex: bool,
    pub(crate) file_type: String,
    pub(crate) recurse: bool,
    pub(crate) depth: Option<u64>,
    pub(crate) hidden: bool,
    pub(crate) follow: bool,
    /// Seconds: positive means at least that old, negative at most.
    pub(crate) age: Option<i64>,
    pub(crate) age_stamp: char,
    /// Bytes: positive means at least, negative at most.
    pub(crate) size: Option<i64>,
    pub(crate) contains: Option<String>,
}

/// `10k`, `-2m`, `1g`, or bytes (`b` optional); `2d`, `-1w`, `30s`, or seconds.
fn with_unit(text: &str, units: &[(char, i64)]) -> Option<i64> {
    let t = text.trim();
    let (num, mul) = match t.chars().last() {
        Some(c) if c.is_ascii_alphabetic() => {
            let m = units.iter().find(|(u, _)| *u == c.to_ascii_lowercase())?.1;
            (&t[..t.len() - 1], m)
        }
        _ => (t, 1),
    };
    num.parse::<i64>().ok().map(|n| n * mul)
}

const SIZE_UNITS: &[(char, i64)] = &[
    ('b', 1),
    ('k', 1 << 10),
    ('m', 1 << 20),
    ('g', 1 << 30),
    ('t', 1 << 40),
];
const AGE_UNITS: &[(char, i64)] = &[
    ('s', 1),
    ('m', 60),
    ('h', 3600),
    ('d', 86400),
    ('w', 604800),
];

super::plain_module!(Find);

impl Find {
    pub(crate) fn build(a: &Getter) -> Result<Find> {
        let key = ["paths", "path", "name"]
            .into_iter()
            .find(|k| a.has(k))
            .unwrap_or("paths");
        let paths = comma_list(a.list(key)?);
        if paths.is_empty() {
            return Err(a.err(key, "`find` needs `paths`"));
        }
        if let Some(p) = paths.iter().find(|p| !p.starts_with('/')) {
            return Err(a.err(key, format!("`{p}` is not an absolute path")));
        }
        let pkey = if a.has("pattern") {
            "pattern"
        } else {
            "patterns"
        };
        let ekey = if a.has("exclude") {
            "exclude"
        } else {
            "excludes"
        };
        let use_regex = a.bool("use_regex", false)?;
        let patterns = comma_list(a.list(pkey)?);
        let excludes = comma_list(a.list(ekey)?);
        if use_regex {
            for p in patterns.iter().chain(&excludes) {
                if regex::Regex::new(p).is_err() {
                    return Err(a.err(pkey, format!("`{p}` is not a regular expression")));
                }
            }
        }
        let age = match a.opt_str("age")? {
            None => None,
            Some(t) => Some(with_unit(&t, AGE_UNITS).ok_or_else(|| {
                a.err(
                    "age",
                    format!("`age: {t}` is not an age like `2d`, `-1w`, `3600`"),
                )
            })?),
        };
        let size = match a.opt_str("size")? {
            None => None,
            Some(t) => Some(with_unit(&t, SIZE_UNITS).ok_or_else(|| {
                a.err(
                    "size",
                    format!("`size: {t}` is not a size like `10k`, `-1m`"),
                )
            })?),
        };
        let age_stamp = match a
            .choice("age_stamp", &["mtime", "atime", "ctime"], "mtime")?
            .as_str()
        {
            "atime" => 'A',
            "ctime" => 'C',
            _ => 'T',
        };
        Ok(Find {
            paths,
            patterns,
            excludes,
            use_regex,
            file_type: a.choice("file_type", &["file", "directory", "link", "any"], "file")?,
            recurse: a.bool("recurse", false)?,
            depth: a.opt_u64("depth")?,
            hidden: a.bool("hidden", false)?,
            follow: a.bool("follow", false)?,
            age,
            age_stamp,
            size,
            contains: a.opt_str("contains")?,
        })
    }

    pub(crate) fn reads(&self) -> Vec<Resource> {
        self.paths
            .iter()
            .map(|p| Resource::Path(p.clone()))
            .collect()
    }

    /// find's test for the names: fnmatch globs (`-name`) or, with `use_regex`, Python's
    /// `re.match` on the base name, done by `-regex` on the whole path.
    fn name_test(&self, pats: &[String]) -> String {
        let one = |p: &String| {
            if self.use_regex {
                let p = p.strip_prefix('^').unwrap_or(p);
                format!("-regex {}", quote(&format!(".*/{p}.*")))
            } else {
                format!("-name {}", quote(p))
            }
        };
        let parts: Vec<String> = pats.iter().map(one).collect();
        format!("\\( {} \\)", parts.join(" -o "))
    }

    /// `now\tEPOCH`, then per path `path\tI` and one line per match:
    /// `f\tTYPE\tMODE\tSIZE\tMTIME\tATIME\tCTIME\tUID\tGID\tUSER\tGROUP\tINODE\tDEV\tNLINK\tPATH`,
    /// or `missing\tI` for a path that is not a directory. A name with a newline garbles its
    /// line, which `plan` then refuses.
    pub(crate) fn probe(&self) -> String {
        let mut tests = String::from("-mindepth 1");
        match (self.recurse, self.depth) {
            (false, _) => tests.push_str(" -maxdepth 1"),
            (true, Some(d)) => tests.push_str(&format!(" -maxdepth {d}")),
            (true, None) => {}
        }
        if self.use_regex {
            tests.push_str(" -regextype posix-extended");
        }
        let t = match self.file_type.as_str() {
            "file" => " -type f",
            "directory" => " -type d",
            "link" => " -type l",
            _ => "",
        };
        tests.push_str(t);
        if !self.hidden {
            tests.push_str(" ! -name '.*'");
        }
        if !self.patterns.is_empty() {
            tests.push(' ');
            tests.push_str(&self.name_test(&self.patterns));
        }
        if !self.excludes.is_empty() {
            tests.push_str(" ! ");
            tests.push_str(&self.name_test(&self.excludes));
        }
        if let Some(c) = &self.contains {
            // Content only matters for regular files, as in Ansible.
            tests.push_str(&format!(
                " \\( ! -type f -o -exec grep -Eq -e {} {{}} \\; \\)",
                quote(c)
            ));
        }
        let follow = if self.follow { "-L " } else { "" };
        let st = self.age_stamp;
        let mut s = String::from("printf 'now\\t%s\\n' \"$(date +%s)\"\n");
        for (i, p) in self.paths.iter().enumerate() {
            let q = quote(p);
            s.push_str(&format!(
                "if [ -d {q} ]; then printf 'path\\t{i}\\n'; find {follow}{q} {tests} -printf 'f\\t%y\\t%m\\t%s\\t%T@\\t%A@\\t%C@\\t%U\\t%G\\t%u\\t%g\\t%i\\t%D\\t%n\\t%{st}@\\t%p\\n' 2>/dev/null || true; else printf 'missing\\t{i}\\n'; fi\n"
            ));
        }
        s
    }

    pub(crate) fn plan(&self, facts: &str) -> std::result::Result<Plan, String> {
        let mut now = None;
        let mut files = Vec::new();
        let mut skipped = Map::new();
        let mut examined = 0;
        for line in facts.lines() {
            let bad = || format!("unexpected probe output: {line:?}");
            let f: Vec<&str> = line.split('\t').collect();
            match f[..] {
                ["now", t] => now = Some(t.parse::<f64>().map_err(|_| bad())?),
                ["path", _] => {}
                ["missing", i] => {
                    let i: usize = i.parse().map_err(|_| bad())?;
                    let p = self.paths.get(i).ok_or_else(bad)?;
                    skipped.insert(p.clone(), json!(format!("{p} was skipped as it does not seem to be a valid directory or it cannot be accessed")));
                }
                [
                    "f",
                    kind,
                    mode,
                    size,
                    mt,
                    at,
                    ct,
                    uid,
                    gid,
                    user,
                    group,
                    ino,
                    dev,
                    nlink,
                    stamp,
                    ref path,
                ] => {
                    examined += 1;
                    let num = |s: &str| s.parse::<f64>().map_err(|_| bad());
                    let size: i64 = size.parse().map_err(|_| bad())?;
                    let stamp = num(stamp)?;
                    let now = now.ok_or_else(bad)?;
                    if let Some(age) = self.age {
                        let old = now - stamp;
                        let ok = if age >= 0 {
                            old >= age as f64
                        } else {
                            old <= -age as f64
                        };
                        if !ok {
                            continue;
                        }
                    }
                    if let Some(want) = self.size {
                        let ok = if want >= 0 {
                            size >= want
                        } else {
                            size <= -want
                        };
                        if !ok {
                            continue;
                        }
                    }
                    let m = u32::from_str_radix(mode, 8).map_err(|_| bad())?;
                    let int = |s: &str| s.parse::<u64>().map_err(|_| bad());
                    files.push(json!({
                        "path": path,
                        "mode": format!("{:04o}", m & 0o7777),
                        "isdir": kind == "d",
                        "isreg": kind == "f",
                        "islnk": kind == "l",
                        "ischr": kind == "c",
                        "isblk": kind == "b",
                        "isfifo": kind == "p",
                        "issock": kind == "s",
                        "size": size,
                        "mtime": num(mt)?,
                        "atime": num(at)?,
                        "ctime": num(ct)?,
                        "uid": int(uid)?,
                        "gid": int(gid)?,
                        "pw_name": user,
                        "gr_name": group,
                        "inode": int(ino)?,
                        "dev": int(dev)?,
                        "nlink": int(nlink)?,
                        "isuid": m & 0o4000 != 0,
                        "isgid": m & 0o2000 != 0,
                        "roth": m & 0o004 != 0,
                        "woth": m & 0o002 != 0,
                        "xoth": m & 0o001 != 0,
                        "rgrp": m & 0o040 != 0,
                        "wgrp": m & 0o020 != 0,
                        "xgrp": m & 0o010 != 0,
                        "rusr": m & 0o400 != 0,
                        "wusr": m & 0o200 != 0,
                        "xusr": m & 0o100 != 0,
                    }));
                }
                _ => return Err(bad()),
            }
        }
        if now.is_none() {
            return Err(format!("unexpected probe output: {:?}", facts.trim()));
        }
        let matched = files.len();
        let mut result = Map::new();
        result.insert("files".into(), Value::Array(files));
        result.insert("matched".into(), json!(matched));
        result.insert("examined".into(), json!(examined));
        result.insert("skipped_paths".into(), Value::Object(skipped));
        result.insert(
            "msg".into(),
            json!(if matched == 0 {
                ""
            } else {
                "All paths examined"
            }),
        );
        Ok(Plan {
            result,
            ..Plan::ok()
        })
    }
}

/// Ansible splits a single string on commas (`patterns: "*.log,*.gz"`).
fn comma_list(v: Vec<String>) -> Vec<String> {
    if v.len() == 1 && v[0].contains(',') {
        return v[0].split(',').map(|s| s.trim().to_string()).collect();
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find() -> Find {
        Find {
            paths: vec!["/var/log/app".into(), "/nope".into()],
            patterns: vec!["*.log".into()],
            excludes: vec![],
            use_regex: false,
            file_type: "file".into(),
            recurse: false,
            depth: None,
            hidden: false,
            follow: false,
            age: Some(86400),
            age_stamp: 'T',
            size: None,
            contains: None,
        }
    }

    // Recorded on Debian 12 (find -printf as in the probe); the clock at 1764000000.
    const FACTS: &str = "now\t1764000000\npath\t0\n\
f\tf\t644\t120\t1763000000.5\t1763000000.5\t1763000000.5\t0\t4\troot\tadm\t1311\t2049\t1\t1763000000.5\t/var/log/app/old.log\n\
f\tf\t640\t80\t1763999000.0\t1763999000.0\t1763999000.0\t33\t33\twww-data\twww-data\t1312\t2049\t1\t1763999000.0\t/var/log/app/new.log\n\
missing\t1\n";

    #[test]
    fn old_files_only() {
        let p = find().plan(FACTS).unwrap();
        assert!(p.changes.is_empty());
        assert_eq!(p.result["matched"], 1);
        assert_eq!(p.result["examined"], 2);
        let f = &p.result["files"][0];
        assert_eq!(f["path"], "/var/log/app/old.log");
        assert_eq!(f["mode"], "0644");
        assert_eq!(f["gr_name"], "adm");
        assert_eq!(f["isreg"], true);
        assert!(p.result["skipped_paths"]["/nope"].is_string());
    }

    #[test]
    fn units_and_sizes() {
        assert_eq!(with_unit("2d", AGE_UNITS), Some(172800));
        assert_eq!(with_unit("-1w", AGE_UNITS), Some(-604800));
        assert_eq!(with_unit("10k", SIZE_UNITS), Some(10240));
        assert_eq!(with_unit("3", SIZE_UNITS), Some(3));
        assert_eq!(with_unit("3q", SIZE_UNITS), None);
        let f = Find {
            age: None,
            size: Some(-100),
            ..find()
        };
        let p = f.plan(FACTS).unwrap();
        assert_eq!(p.result["files"][0]["path"], "/var/log/app/new.log");
    }

    #[test]
    fn probe_through_a_shell_and_garbage() {
        use crate::transport::Transport;
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display().to_string();
        for (n, text) in [
            ("a.log", "ERROR x\n"),
            ("b.log", "ok\n"),
            (".h.log", "ERROR\n"),
            ("c.txt", "ERROR\n"),
        ] {
            std::fs::write(dir.path().join(n), text).unwrap();
        }
        let f = Find {
            paths: vec![d.clone()],
            age: None,
            contains: Some("^ERROR".into()),
            ..find()
        };
        let out = crate::transport::local::Local::new()
            .run(&f.probe(), None)
            .unwrap();
        let p = f.plan(&out.out).unwrap();
        assert_eq!(p.result["matched"], 1, "{}", out.out);
        assert_eq!(p.result["files"][0]["path"], format!("{d}/a.log"));
        assert!(f.plan("path\t0\n").is_err());
        assert!(f.plan("now\t1\nf\tf\t644\n").is_err());
    }
}
