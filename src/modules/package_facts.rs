//! `package_facts`: the installed packages, read-only, from dpkg's database (`manager: auto` or
//! `apt`), in Ansible's shape: `ansible_facts.packages["nginx"] = [{name, version, arch,
//! source: "apt"}]` in the registered result.

use super::args::Getter;
use super::{Plan, Resource};
use crate::error::Result;
use serde_json::{Map, Value, json};

#[derive(Debug, Clone)]
pub(crate) struct PackageFacts;

super::plain_module!(PackageFacts);

impl PackageFacts {
    pub(crate) fn build(a: &Getter) -> Result<PackageFacts> {
        for m in a.list("manager")? {
            if !matches!(m.as_str(), "auto" | "apt") {
                return Err(a.err(
                    "manager",
                    format!("`manager: {m}` is not supported here; use auto or apt (dpkg)"),
                ));
            }
        }
        a.choice("strategy", &["first", "all"], "first")?;
        Ok(PackageFacts)
    }

    pub(crate) fn reads(&self) -> Vec<Resource> {
        vec![Resource::Path("/var/lib/dpkg".into())]
    }

    /// One tab-separated record a line (package names and versions hold no tabs or newlines).
    pub(crate) fn probe(&self) -> String {
        "dpkg-query -W -f='p\\t${Package}\\t${Version}\\t${Architecture}\\t${db:Status-Abbrev}\\n' 2>&1 && echo done".into()
    }

    pub(crate) fn plan(&self, facts: &str) -> std::result::Result<Plan, String> {
        if facts.lines().last() != Some("done") {
            return Err(format!("dpkg-query: {}", facts.trim()));
        }
        let mut packages: Map<String, Value> = Map::new();
        for line in facts.lines().filter(|l| *l != "done") {
            let f: Vec<&str> = line.split('\t').collect();
            let [_, name, version, arch, status] = f[..] else {
                return Err(format!("dpkg-query: unexpected line `{line}`"));
            };
            if f[0] != "p" {
                return Err(format!("dpkg-query: unexpected line `{line}`"));
            }
            // Installed (or half-installed): not `n`ot-installed nor only `c`onfig-files left.
            if matches!(status.chars().nth(1), None | Some('n' | 'c')) {
                continue;
            }
            let entry = json!({"name": name, "version": version, "arch": arch, "source": "apt"});
            match packages.get_mut(name) {
                Some(Value::Array(v)) => v.push(entry),
                _ => {
                    packages.insert(name.to_string(), json!([entry]));
                }
            }
        }
        let mut result = Map::new();
        result.insert("ansible_facts".into(), json!({ "packages": packages }));
        Ok(Plan {
            result,
            ..Plan::ok()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installed_packages_in_ansibles_shape() {
        // Recorded on a Debian 12 test host (plus a removed one and a multi-arch one).
        let out = "p\tadduser\t3.134\tall\tii \np\tapt\t2.6.1\tamd64\tii \np\tnginx\t1.22.1-9\tamd64\trc \np\tlibc6\t2.36-9\tamd64\tii \np\tlibc6\t2.36-9\ti386\tii \ndone\n";
        let p = PackageFacts.plan(out).unwrap();
        let pk = &p.result["ansible_facts"]["packages"];
        assert_eq!(
            pk["apt"],
            json!([{"name": "apt", "version": "2.6.1", "arch": "amd64", "source": "apt"}])
        );
        assert!(pk.get("nginx").is_none());
        assert_eq!(pk["libc6"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn errors() {
        assert!(PackageFacts.plan("sh: dpkg-query: not found\n").is_err());
        assert!(PackageFacts.plan("p\tx\ndone\n").is_err());
    }
}
