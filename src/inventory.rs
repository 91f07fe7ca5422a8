//! Hosts, groups and their variables, from Ansible's YAML or INI inventory formats.

use crate::error::{Error, Result, suggest};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

mod builder;
mod group;
mod host;
mod vars_dirs;

use builder::{Builder, parse_ini, parse_yaml};
use group::Group;
pub(crate) use host::Host;
pub(crate) use vars_dirs::vars_map;
use vars_dirs::{Located, VarsDirs};

#[derive(Debug)]
pub(crate) struct Inventory {
    pub(crate) hosts: Vec<Host>,
    /// Ansible's implicit `localhost`: the control machine, for a play that names
    /// `localhost` (or `127.0.0.1`) when the inventory does not; never part of `all`.
    implicit_localhost: Host,
    groups: BTreeMap<String, Group>,
    pub(crate) source: String,
}

impl Inventory {
    /// The inventory `spec` with the `group_vars/` and `host_vars/` beside it and beside the
    /// playbook (`playbook_dir`), in Ansible's precedence order.
    pub(crate) fn load(spec: &str, playbook_dir: Option<&Path>) -> Result<Inventory> {
        let mut b = Self::parse(spec)?;
        let path = Path::new(spec);
        let inv_dir = path
            .is_file()
            .then(|| path.parent().map(Path::to_path_buf))
            .flatten()
            .map(|d| {
                if d.as_os_str().is_empty() {
                    PathBuf::from(".")
                } else {
                    d
                }
            });
        let mut dirs: Vec<PathBuf> = inv_dir.into_iter().collect();
        if let Some(p) = playbook_dir {
            let p = if p.as_os_str().is_empty() {
                Path::new(".")
            } else {
                p
            };
            // The same directory is read once (inventory and playbook side by side).
            if !dirs.iter().any(|d| same_dir(d, p)) {
                dirs.push(p.to_path_buf());
            }
        }
        b.vars_dirs = VarsDirs::read(&dirs, b.groups.keys(), &b.order)?;
        Inventory::built(b, spec.to_string())
    }

    /// The inventory a builder holds, read from `source`.
    fn built(b: Builder, source: String) -> Result<Inventory> {
        let (hosts, implicit_localhost, groups) = b.finish()?;
        Ok(Inventory {
            hosts,
            implicit_localhost,
            groups,
            source,
        })
    }

    fn parse(spec: &str) -> Result<Builder> {
        let path = Path::new(spec);
        if !path.exists() && spec.contains(',') {
            // Ansible's ad-hoc form: `-i host1,host2,`
            let mut b = Builder::default();
            for name in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                b.add_host("ungrouped", name, Located::default());
            }
            return Ok(b);
        }
        let text = crate::vault::read_text(path)?;
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        let b = if matches!(ext, "yml" | "yaml" | "json") {
            parse_yaml(path.to_path_buf(), &text)?
        } else {
            parse_ini(path.to_path_buf(), &text)?
        };
        Ok(b)
    }

    pub(crate) fn group_names(&self) -> impl Iterator<Item = &str> {
        self.groups.keys().map(String::as_str)
    }

    /// Hosts selected by an Ansible host pattern: names, groups, globs, `!exclude`, `&intersect`,
    /// separated by `,` or `:`; `@FILE` reads names from a file (one per line).
    pub(crate) fn select(&self, pattern: &str) -> Result<Vec<&Host>> {
        let term = pattern.trim();
        if matches!(term, "localhost" | "127.0.0.1") && !self.hosts.iter().any(|h| h.name == term) {
            return Ok(vec![&self.implicit_localhost]);
        }
        let mut union: BTreeSet<usize> = BTreeSet::new();
        let mut inter: Vec<BTreeSet<usize>> = Vec::new();
        let mut excl: BTreeSet<usize> = BTreeSet::new();
        let mut terms: Vec<String> = Vec::new();
        for raw in pattern
            .split([',', ':'])
            .map(str::trim)
            .filter(|t| !t.is_empty())
        {
            if let Some(file) = raw.strip_prefix('@') {
                let text = std::fs::read_to_string(file).map_err(Error::with_path(file))?;
                terms.extend(
                    text.lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty() && !l.starts_with('#'))
                        .map(String::from),
                );
            } else {
                terms.push(raw.to_string());
            }
        }
        for term in &terms {
            let (kind, name) = match term.as_bytes()[0] {
                b'!' => ('!', &term[1..]),
                b'&' => ('&', &term[1..]),
                _ => ('+', term.as_str()),
            };
            let set = self.match_term(name)?;
            match kind {
                '!' => excl.extend(set),
                '&' => inter.push(set),
                _ => union.extend(set),
            }
        }
        if union.is_empty() && !inter.is_empty() {
            // `&web` alone means "all hosts that are also in web".
            union = (0..self.hosts.len()).collect();
        }
        let picked = union
            .into_iter()
            .filter(|i| inter.iter().all(|s| s.contains(i)) && !excl.contains(i))
            .map(|i| &self.hosts[i])
            .collect();
        Ok(picked)
    }

    fn match_term(&self, term: &str) -> Result<BTreeSet<usize>> {
        let index = |name: &str| self.hosts.iter().position(|h| h.name == name);
        if term == "all" || term == "*" {
            return Ok((0..self.hosts.len()).collect());
        }
        let mut out = BTreeSet::new();
        let glob = term.contains(['*', '?', '[']);
        for (gname, _) in self.groups.iter() {
            if gname == term || (glob && glob_match(term, gname)) {
                out.extend(self.hosts_of_group(gname).iter().filter_map(|h| index(h)));
            }
        }
        for (i, h) in self.hosts.iter().enumerate() {
            if h.name == term || (glob && glob_match(term, &h.name)) {
                out.insert(i);
            }
        }
        if out.is_empty() && !glob {
            let names = self
                .hosts
                .iter()
                .map(|h| h.name.as_str())
                .chain(self.group_names());
            let mut e = Error::Usage(format!(
                "`{term}` names no host or group in the inventory {}",
                self.source
            ));
            if let Some(s) = suggest(term, names) {
                e = Error::Usage(format!("{e} (did you mean `{s}`?)"));
            }
            return Err(e);
        }
        Ok(out)
    }

    fn hosts_of_group(&self, group: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut seen = BTreeSet::new();
        let mut stack = vec![group.to_string()];
        while let Some(g) = stack.pop() {
            if !seen.insert(g.clone()) {
                continue;
            }
            if let Some(grp) = self.groups.get(&g) {
                out.extend(grp.hosts.iter().cloned());
                stack.extend(grp.children.iter().cloned());
            }
        }
        out
    }
}

/// Shell-style glob: `*`, `?`, `[abc]`.
pub(crate) fn glob_match(pat: &str, s: &str) -> bool {
    fn go(p: &[char], s: &[char]) -> bool {
        match p.first() {
            None => s.is_empty(),
            Some('*') => (0..=s.len()).any(|i| go(&p[1..], &s[i..])),
            Some('?') => !s.is_empty() && go(&p[1..], &s[1..]),
            Some('[') => match p.iter().position(|&c| c == ']') {
                Some(end) if !s.is_empty() => {
                    p[1..end].contains(&s[0]) && go(&p[end + 1..], &s[1..])
                }
                _ => false,
            },
            Some(c) => s.first() == Some(c) && go(&p[1..], &s[1..]),
        }
    }
    let p: Vec<char> = pat.chars().collect();
    let s: Vec<char> = s.chars().collect();
    go(&p, &s)
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ini(text: &str) -> Inventory {
        Inventory::built(parse_ini("inv.ini".into(), text).unwrap(), "inv.ini".into()).unwrap()
    }

    /// One level of Ansible's inventory-variable precedence: a file that sets `x`.
    type Level = (&'static str, &'static str, &'static str, &'static str);
    const LEVELS: [Level; 9] = [
        // (directory: inv or pb, file, content, the value of x it gives)
        ("inv", "inv.ini", "[all:vars]\nx=inv_all\n", "inv_all"),
        ("inv", "inv.ini", "[web:vars]\nx=inv_group\n", "inv_group"),
        ("inv", "group_vars/all.yml", "x: inv_gv_all\n", "inv_gv_all"),
        (
            "pb",
            "group_vars/all/main.yml",
            "x: pb_gv_all\n",
            "pb_gv_all",
        ),
        (
            "inv",
            "group_vars/web.yaml",
            "x: inv_gv_web\n",
            "inv_gv_web",
        ),
        ("pb", "group_vars/web", "x: pb_gv_web\n", "pb_gv_web"),
        ("inv", "inv.ini", "[web]\nh1 x=inv_host\n", "inv_host"),
        ("inv", "host_vars/h1.yml", "x: inv_hv\n", "inv_hv"),
        ("pb", "host_vars/h1.json", "{\"x\": \"pb_hv\"}\n", "pb_hv"),
    ];

    #[test]
    fn group_vars_and_host_vars_precedence_level_by_level() {
        for top in 0..LEVELS.len() {
            let root = tempfile::tempdir().unwrap();
            let (inv, pb) = (root.path().join("inv"), root.path().join("pb"));
            let mut ini = String::from("[web]\nh1\n[web:vars]\ny=1\n");
            for (dir, file, text, _) in &LEVELS[..=top] {
                if *file == "inv.ini" {
                    ini.push_str(text);
                    continue;
                }
                let p = if *dir == "inv" { &inv } else { &pb }.join(file);
                std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                std::fs::write(p, text).unwrap();
            }
            std::fs::create_dir_all(&inv).unwrap();
            let spec = inv.join("inv.ini");
            std::fs::write(&spec, ini).unwrap();
            let i = Inventory::load(spec.to_str().unwrap(), Some(&pb)).unwrap();
            assert_eq!(
                i.hosts[0].vars["x"], LEVELS[top].3,
                "with levels up to {top}"
            );
        }
    }

    #[test]
    fn group_vars_of_other_groups_and_broken_files() {
        let root = tempfile::tempdir().unwrap();
        let d = root.path();
        std::fs::write(d.join("inv.ini"), "[web]\nh1\n[db]\nh2\n").unwrap();
        std::fs::create_dir_all(d.join("group_vars")).unwrap();
        std::fs::write(d.join("group_vars/db.yml"), "port: 5432\n").unwrap();
        std::fs::write(d.join("group_vars/.hidden.yml"), "nope: [\n").unwrap();
        let spec = d.join("inv.ini");
        let i = Inventory::load(spec.to_str().unwrap(), None).unwrap();
        assert!(i.hosts[0].vars.get("port").is_none());
        assert_eq!(i.hosts[1].vars["port"], 5432);
        // A variable from group_vars remembers its file and line.
        assert!(
            i.hosts[1].var_locs["port"]
                .to_string()
                .ends_with("group_vars/db.yml:1:7")
        );
        std::fs::write(d.join("group_vars/web.yml"), "a: 1\n  b: [\n").unwrap();
        let e = Inventory::load(spec.to_str().unwrap(), None).unwrap_err();
        let Error::Input { loc: Some(l), .. } = e else {
            panic!("{e:?}")
        };
        assert!(l.to_string().contains("group_vars/web.yml:2"), "{l}");
    }

    #[test]
    fn ini_hosts_groups_and_vars() {
        let inv = ini("local ansible_connection=local\n\
             [web]\n\
             h1 ansible_host=10.0.0.5 ansible_user=ubuntu ansible_port=22 ansible_ssh_private_key_file=~/.ssh/id\n\
             h2 ansible_host=10.0.0.6 note=\"two words\"\n\
             [web:vars]\n\
             app_port=8000\n\
             ansible_user=admin\n\
             [prod:children]\n\
             web\n\
             [prod:vars]\n\
             env=prod\n");
        let h1 = inv.hosts.iter().find(|h| h.name == "h1").unwrap();
        assert_eq!(h1.vars["ansible_host"], "10.0.0.5");
        assert_eq!(h1.vars["ansible_port"], 22);
        // Host vars beat group vars; child group vars beat parent group vars.
        assert_eq!(h1.vars["ansible_user"], "ubuntu");
        assert_eq!(h1.vars["app_port"], 8000);
        assert_eq!(h1.vars["env"], "prod");
        let h2 = inv.hosts.iter().find(|h| h.name == "h2").unwrap();
        assert_eq!(h2.vars["ansible_user"], "admin");
        assert_eq!(h2.vars["note"], "two words");
        assert_eq!(inv.hosts[0].vars["ansible_connection"], "local");
    }

    #[test]
    fn yaml_inventory() {
        let text = "all:\n  vars:\n    x: 1\n  hosts:\n    a:\n  children:\n    web:\n      vars:\n        x: 2\n      hosts:\n        b:\n          ansible_host: 10.1.1.1\n";
        let inv =
            Inventory::built(parse_yaml("i.yml".into(), text).unwrap(), "i.yml".into()).unwrap();
        assert_eq!(inv.hosts.len(), 2);
        assert_eq!(inv.hosts[0].vars["x"], 1);
        assert_eq!(inv.hosts[1].vars["x"], 2);
        assert_eq!(inv.hosts[1].groups, vec!["web".to_string()]);
    }

    #[test]
    fn yaml_inventory_unknown_key_points_at_it() {
        let text = "all:\n  host:\n    a:\n";
        let err = parse_yaml("i.yml".into(), text).err().unwrap();
        match err {
            Error::Input {
                loc: Some(l),
                msg,
                hint,
                ..
            } => {
                assert_eq!((l.line, l.col), (2, 3));
                assert!(msg.contains("unknown key `host`"));
                assert_eq!(hint.unwrap(), "did you mean `hosts`?");
            }
            e => panic!("{e:?}"),
        }
    }

    #[test]
    fn patterns() {
        let inv = ini("[web]\nw1\nw2\n[db]\nd1\nw2\n");
        let names = |p: &str| -> Vec<String> {
            inv.select(p)
                .unwrap()
                .iter()
                .map(|h| h.name.clone())
                .collect()
        };
        assert_eq!(names("all"), ["w1", "w2", "d1"]);
        assert_eq!(names("web:!w1"), ["w2"]);
        assert_eq!(names("web:&db"), ["w2"]);
        assert_eq!(names("w*"), ["w1", "w2"]);
        assert_eq!(names("d1,w1"), ["w1", "d1"]);
        let err = inv.select("wbe").err().unwrap().to_string();
        assert!(err.contains("did you mean `web`"), "{err}");
    }

    #[test]
    fn variables_remember_where_they_were_written() {
        let inv = ini("[web]\n\
             h1 ansible_host=10.0.0.5 ansible_ssh_private_key_file=keys/a\n\
             h2\n\
             [web:vars]\n\
             ansible_ssh_private_key_file = keys/b\n");
        let at = |h: usize, k: &str| {
            let l = &inv.hosts[h].var_locs[k];
            (l.line, l.col)
        };
        // The host's own value wins, and so does its location.
        assert_eq!(at(0, "ansible_ssh_private_key_file"), (2, 55));
        assert_eq!(at(0, "ansible_host"), (2, 17));
        assert_eq!(at(1, "ansible_ssh_private_key_file"), (5, 32));
        let text = "all:\n  hosts:\n    a:\n      ansible_port: 2222\n";
        let inv =
            Inventory::built(parse_yaml("i.yml".into(), text).unwrap(), "i.yml".into()).unwrap();
        let l = &inv.hosts[0].var_locs["ansible_port"];
        assert_eq!((l.line, l.col), (4, 21));
    }

    #[test]
    fn ini_error_location() {
        let err = parse_ini("inv.ini".into(), "[web]\nh1 ansible_host\n")
            .err()
            .unwrap();
        match err {
            Error::Input { loc: Some(l), .. } => assert_eq!((l.line, l.col), (2, 4)),
            e => panic!("{e:?}"),
        }
    }
}
