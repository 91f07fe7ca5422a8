//! `stat`: reads a path and registers what it found (`result.stat.exists`, `.isdir`, `.mode`,
//! `.checksum`…), as Ansible's `stat` does. Only reads, so it answers in `plumb plan` too.

use super::args::Getter;
use super::{Plan, Resource};
use crate::error::Result;
use crate::shell::quote;
use serde_json::{Map, Value, json};

#[derive(Debug, Clone)]
pub struct Stat {
    pub path: String,
    pub checksum: bool,
}

impl Stat {
    pub fn build(a: &Getter) -> Result<Stat> {
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

    pub fn reads(&self) -> Vec<Resource> {
        vec![Resource::Path(self.path.clone())]
    }

    pub fn probe(&self) -> String {
        let p = quote(&self.path);
        let mut s = format!(
            "if LC_ALL=C stat --printf 'stat\\t%F\\t%a\\t%U\\t%G\\t%u\\t%g\\t%s\\t%Y\\n' -- {p} 2>/dev/null; then\n\
             [ ! -L {p} ] || printf 'link\\t%s\\n' \"$(readlink -- {p})\"\n"
        );
        if self.checksum {
            s.push_str(&format!(
                "[ ! -f {p} ] || [ ! -r {p} ] || printf 'sum\\t%s\\n' \"$(sha256sum < {p} | cut -d' ' -f1)\"\n"
            ));
        }
        s.push_str("else printf 'absent\\n'; fi\n");
        s
    }

    /// The registered `stat`, from the probe's output.
    pub fn parse(&self, facts: &str) -> std::result::Result<Value, String> {
        let mut st = Map::new();
        st.insert("path".into(), json!(self.path));
        for line in facts.lines().filter(|l| !l.is_empty()) {
            let f: Vec<&str> = line.split('\t').collect();
            let bad = || format!("unexpected probe output: `{line}`");
            match f[0] {
                "absent" => st.insert("exists".into(), json!(false)),
                "stat" if f.len() == 9 => {
                    let kind = f[1];
                    let n = |s: &str| s.parse::<u64>().map_err(|_| bad());
                    st.insert("exists".into(), json!(true));
                    st.insert("isdir".into(), json!(kind == "directory"));
                    st.insert("isreg".into(), json!(kind.starts_with("regular")));
                    st.insert("islnk".into(), json!(kind == "symbolic link"));
                    st.insert(
                        "mode".into(),
                        json!(format!(
                            "{:04o}",
                            u32::from_str_radix(f[2], 8).map_err(|_| bad())?
                        )),
                    );
                    st.insert("pw_name".into(), json!(f[3]));
                    st.insert("gr_name".into(), json!(f[4]));
                    st.insert("uid".into(), json!(n(f[5])?));
                    st.insert("gid".into(), json!(n(f[6])?));
                    st.insert("size".into(), json!(n(f[7])?));
                    st.insert("mtime".into(), json!(n(f[8])?))
                }
                "link" if f.len() == 2 => st.insert("lnk_target".into(), json!(f[1])),
                "sum" if f.len() == 2 => st.insert("checksum".into(), json!(f[1])),
                _ => return Err(bad()),
            };
        }
        if !st.contains_key("exists") {
            return Err(format!("incomplete probe output: `{}`", facts.trim()));
        }
        Ok(Value::Object(st))
    }

    pub fn plan(&self, facts: &str) -> std::result::Result<Plan, String> {
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

    #[test]
    fn recorded_file_link_and_absent() {
        // Recorded on a Debian 12 host.
        let file = "stat\tregular file\t644\troot\troot\t0\t0\t1447\t1700000000\nsum\t3c8f0a6e\n";
        let v = stat().parse(file).unwrap();
        assert_eq!(v["exists"], true);
        assert_eq!(v["isreg"], true);
        assert_eq!(v["mode"], "0644");
        assert_eq!(v["size"], 1447);
        assert_eq!(v["checksum"], "3c8f0a6e");
        let link = "stat\tsymbolic link\t777\troot\troot\t0\t0\t34\t1700000000\nlink\t/etc/nginx/sites-available/default\n";
        let v = stat().parse(link).unwrap();
        assert_eq!(
            (v["islnk"].clone(), v["lnk_target"].clone()),
            (json!(true), json!("/etc/nginx/sites-available/default"))
        );
        assert_eq!(stat().parse("absent\n").unwrap()["exists"], false);
        assert!(stat().parse("").is_err());
        assert!(stat().parse("stat\tregular file\n").is_err());
        let p = stat().plan("absent\n").unwrap();
        assert!(p.changes.is_empty());
        assert_eq!(p.result["stat"]["exists"], false);
    }
}
