//! `stat`: reads a path and registers what it found (`result.stat.exists`, `.isdir`, `.mode`,
//! `.checksum`…), as Ansible's `stat` does. Only reads, so it answers in `plumb plan` too.

use super::args::Getter;
use super::{Plan, Resource, file_fact};
use crate::error::Result;
use crate::shell::quote;
use serde_json::{Map, Value, json};

#[derive(Debug, Clone)]
pub(crate) struct Stat {
    pub(crate) path: String,
    pub(crate) checksum: bool,
}

super::plain_module!(Stat);

impl Stat {
    pub(crate) fn build(a: &Getter) -> Result<Stat> {
        let path = a.opt_path("path")?.expect("checked: path is present");
        if let Some(alg) = a.opt_str("checksum_algorithm")?
            && alg != "sha256"
        {
            return Err(a.err("checksum_algorithm", "only `sha256` is supported"));
        }
        Ok(Stat {
            path,
            checksum: a.bool("get_checksum", true)?,
        })
    }

    pub(crate) fn reads(&self) -> Vec<Resource> {
        vec![Resource::Path(self.path.clone())]
    }

    /// Like `file_fact`'s probe: the name and link target come C-quoted in `%N` (never raw,
    /// so a target cannot forge lines), and only ENOENT/ENOTDIR mean "does not exist".
    pub(crate) fn probe(&self) -> String {
        let p = quote(&self.path);
        let mut s = format!(
            "{}if [ -e {p} ] || [ -L {p} ]; then\n\
             LC_ALL=C QUOTING_STYLE=c stat --printf 'stat\\t%F\\t%a\\t%U\\t%G\\t%u\\t%g\\t%s\\t%Y\\t%N\\n' -- {p} 2>&1\n",
            file_fact::ABSENT_FN
        );
        if self.checksum {
            s.push_str(&format!(
                "[ ! -f {p} ] || [ ! -r {p} ] || printf 'sum\\t%s\\n' \"$(sha256sum < {p} | cut -d' ' -f1)\"\n"
            ));
        }
        s.push_str(&format!("else plumb_absent 0 {p}; fi\n"));
        s
    }

    /// The registered `stat`, from the probe's output: exactly one `absent`, one `error`, or
    /// one `stat` line for this path (and at most one checksum); anything else is an error.
    pub(crate) fn parse(&self, facts: &str) -> std::result::Result<Value, String> {
        let mut st = Map::new();
        st.insert("path".into(), json!(self.path));
        let lines: Vec<&str> = facts.split('\n').filter(|l| !l.is_empty()).collect();
        let bad =
            |line: &str| format!("probe failed: unexpected output: `{}`", line.escape_debug());
        let (first, rest) = lines
            .split_first()
            .ok_or_else(|| format!("probe failed: no output for {}", self.path))?;
        let f: Vec<&str> = first.split('\t').collect();
        match f[..] {
            ["absent", "0"] => {
                st.insert("exists".into(), json!(false));
            }
            ["error", "0", why] => return Err(format!("cannot stat {}: {why}", self.path)),
            ["stat", kind, mode, owner, group, uid, gid, size, mtime, n] => {
                let num = |s: &str| s.parse::<u64>().map_err(|_| bad(first));
                let (name, target) = file_fact::name_and_target(n)
                    .map_err(|e| format!("probe failed: {e}: `{}`", first.escape_debug()))?;
                let link = kind == "symbolic link";
                if name != self.path.as_bytes() || link != target.is_some() {
                    return Err(bad(first));
                }
                st.insert("exists".into(), json!(true));
                st.insert("isdir".into(), json!(kind == "directory"));
                st.insert("isreg".into(), json!(kind.starts_with("regular")));
                st.insert("islnk".into(), json!(link));
                st.insert(
                    "mode".into(),
                    json!(format!(
                        "{:04o}",
                        u32::from_str_radix(mode, 8).map_err(|_| bad(first))?
                    )),
                );
                st.insert("pw_name".into(), json!(owner));
                st.insert("gr_name".into(), json!(group));
                st.insert("uid".into(), json!(num(uid)?));
                st.insert("gid".into(), json!(num(gid)?));
                st.insert("size".into(), json!(num(size)?));
                st.insert("mtime".into(), json!(num(mtime)?));
                if let Some(t) = target {
                    st.insert("lnk_target".into(), json!(file_fact::text_of_bytes(&t, n)));
                }
            }
            _ => return Err(bad(first)),
        }
        match rest {
            [] => {}
            [sum] if st["exists"] == json!(true) => {
                let s = sum.strip_prefix("sum\t").ok_or_else(|| bad(sum))?;
                if s.len() != 64 || !s.bytes().all(|c| c.is_ascii_hexdigit()) {
                    return Err(bad(sum));
                }
                st.insert("checksum".into(), json!(s));
            }
            [line, ..] => return Err(bad(line)),
        }
        Ok(Value::Object(st))
    }

    pub(crate) fn plan(&self, facts: &str) -> std::result::Result<Plan, String> {
        let mut p = Plan::ok();
        p.result.insert("stat".into(), self.parse(facts)?);
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat() -> Stat {
        Stat {
            path: "/etc/nginx/nginx.conf".into(),
            checksum: true,
        }
    }

    const SUM: &str = "3c8f0a6e3c8f0a6e3c8f0a6e3c8f0a6e3c8f0a6e3c8f0a6e3c8f0a6e3c8f0a6e";

    #[test]
    fn recorded_file_link_and_absent() {
        // In the format recorded with coreutils 9.1 (Debian 12).
        let file = format!(
            "stat\tregular file\t644\troot\troot\t0\t0\t1447\t1700000000\t\"/etc/nginx/nginx.conf\"\nsum\t{SUM}\n"
        );
        let v = stat().parse(&file).unwrap();
        assert_eq!(v["exists"], true);
        assert_eq!(v["isreg"], true);
        assert_eq!(v["mode"], "0644");
        assert_eq!(v["size"], 1447);
        assert_eq!(v["checksum"], SUM);
        let link = "stat\tsymbolic link\t777\troot\troot\t0\t0\t34\t1700000000\t\"/etc/nginx/nginx.conf\" -> \"/etc/nginx/sites-available/default\"\n";
        let v = stat().parse(link).unwrap();
        assert_eq!(
            (v["islnk"].clone(), v["lnk_target"].clone()),
            (json!(true), json!("/etc/nginx/sites-available/default"))
        );
        assert_eq!(stat().parse("absent\t0\n").unwrap()["exists"], false);
        let p = stat().plan("absent\t0\n").unwrap();
        assert!(p.changes.is_empty());
        assert_eq!(p.result["stat"]["exists"], false);
    }

    #[test]
    fn errors_and_forgeries_are_not_facts() {
        let st = |n: &str| format!("stat\tregular file\t644\troot\troot\t0\t0\t1\t2\t{n}\n");
        let cases: Vec<(&str, String)> = vec![
            ("empty", String::new()),
            ("a stat error", "error\t0\tPermission denied\n".into()),
            ("the old absent", "absent\n".into()),
            ("the old format", "stat\tregular file\t644\troot\troot\t0\t0\t1447\t1700000000\n".into()),
            // The review's C3 reproduction on the stat module, as the old probe printed it.
            ("a forged link line", "stat\tsymbolic link\t777\troot\troot\t0\t0\t34\t1700000000\nlink\tx\nstat\tregular file\t600\troot\troot\t0\t0\t42\t0\nsum\t0000\n".into()),
            ("another path", st("\"/etc/passwd\"")),
            ("a raw name", st("/etc/nginx/nginx.conf")),
            ("a target on a file", st("\"/etc/nginx/nginx.conf\" -> \"/x\"")),
            ("two records", format!("{}{}", st("\"/etc/nginx/nginx.conf\""), st("\"/etc/nginx/nginx.conf\""))),
            ("absent and a record", format!("absent\t0\n{}", st("\"/etc/nginx/nginx.conf\""))),
            ("absent and a sum", format!("absent\t0\nsum\t{SUM}\n")),
            ("a short sum", format!("{}sum\t0000\n", st("\"/etc/nginx/nginx.conf\""))),
            ("two sums", format!("{}sum\t{SUM}\nsum\t{SUM}\n", st("\"/etc/nginx/nginx.conf\""))),
            ("trailing garbage", format!("{}x\n", st("\"/etc/nginx/nginx.conf\""))),
            ("a stat message", "stat: cannot statx '/etc/nginx/nginx.conf': Permission denied\n".into()),
        ];
        for (what, out) in cases {
            assert!(stat().parse(&out).is_err(), "{what}");
            assert!(stat().plan(&out).is_err(), "{what}");
        }
        assert_eq!(
            stat().parse("error\t0\tPermission denied\n").unwrap_err(),
            "cannot stat /etc/nginx/nginx.conf: Permission denied"
        );
    }

    /// The real probe through sh: a forging link target, a link loop (ELOOP), and absence.
    #[test]
    fn probe_runs_through_sh() {
        use crate::transport::Transport;
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display().to_string();
        let forged = "x\nstat\tregular file\t600\troot\troot\t0\t0\t42\t0\nsum\t0000";
        std::os::unix::fs::symlink(forged, dir.path().join("evil")).unwrap();
        std::os::unix::fs::symlink("loop", dir.path().join("loop")).unwrap();
        std::fs::write(dir.path().join("it's \\ $(x)"), "x").unwrap();
        let run = |path: String| {
            let s = Stat {
                path,
                checksum: true,
            };
            let out = crate::transport::local::Local::new()
                .run(&s.probe(), None)
                .unwrap();
            s.parse(&out.out)
        };
        let v = run(format!("{d}/evil")).unwrap();
        assert_eq!(
            (v["islnk"].clone(), v["isreg"].clone()),
            (json!(true), json!(false))
        );
        assert_eq!(v["lnk_target"], forged);
        assert!(v.get("checksum").is_none());
        let v = run(format!("{d}/it's \\ $(x)")).unwrap();
        assert_eq!(
            v["checksum"],
            "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"
        );
        assert_eq!(run(format!("{d}/none")).unwrap()["exists"], false);
        assert_eq!(run(format!("{d}/evil/x")).unwrap()["exists"], false);
        let e = run(format!("{d}/loop/data")).unwrap_err();
        assert!(e.contains("Too many levels of symbolic links"), "{e}");
    }
}
