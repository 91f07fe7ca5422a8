//! `include_vars`: variables from YAML/JSON files on the control machine for the rest of the
//! host's run (`file`, `dir`, `name`, the free-form `include_vars: file.yml`). A relative path
//! is looked for as Ansible's `include_vars` does: in the role's `vars/`, the role, then the
//! playbook's `vars/` and the playbook's directory. Nothing runs on the host.

use super::args::Getter;
use crate::error::{Error, Result};
use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub(crate) struct IncludeVars {
    /// The variables, under `name` when given.
    pub(crate) vars: Map<String, Value>,
    pub(crate) files: Vec<String>,
}

/// Where a relative `file` or `dir` is looked for, in order.
fn candidates(base: &Path, role: Option<&Path>, rel: &str) -> Vec<PathBuf> {
    if Path::new(rel).is_absolute() {
        return vec![PathBuf::from(rel)];
    }
    let mut c = Vec::new();
    if let Some(r) = role {
        c.push(crate::paths::under(r, Path::new("vars").join(rel)));
        c.push(crate::paths::under(r, rel));
    }
    c.push(crate::paths::under(base, Path::new("vars").join(rel)));
    c.push(crate::paths::under(base, rel));
    c
}

fn find(base: &Path, role: Option<&Path>, rel: &str, dir: bool) -> Option<PathBuf> {
    candidates(base, role, rel)
        .into_iter()
        .find(|p| if dir { p.is_dir() } else { p.is_file() })
}

/// The variables of one file: a mapping (an empty file has none).
fn load(path: &Path) -> Result<Map<String, Value>> {
    let text = crate::vault::read_text(path)?;
    if crate::yaml::is_blank(&text) {
        return Ok(Map::new());
    }
    let doc = crate::yaml::Doc::parse(path.to_path_buf(), &text, false)?;
    crate::inventory::vars_map(&doc, &doc.root)
}

/// A directory's files, recursively to `depth` (0: all), sorted by path as Ansible walks them.
fn walk(dir: &Path, depth: u64, level: u64, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            if depth == 0 || level < depth {
                walk(&p, depth, level + 1, out)?;
            }
        } else {
            out.push(p);
        }
    }
    Ok(())
}

impl IncludeVars {
    pub(crate) fn build(a: &Getter, base: &Path, role: Option<&Path>) -> Result<IncludeVars> {
        let file = match a.opt_str("file")? {
            Some(f) => Some(f),
            None => a.opt_str("_raw")?.map(|s| s.trim().to_string()),
        };
        let dir = a.opt_str("dir")?;
        let mut files: Vec<PathBuf> = Vec::new();
        match (&file, &dir) {
            (Some(f), None) => match find(base, role, f, false) {
                Some(p) => files.push(p),
                None => {
                    let key = if a.has("file") { "file" } else { "_raw" };
                    let looked: Vec<String> = candidates(base, role, f)
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect();
                    return Err(a
                        .err(key, format!("include_vars: no file `{f}`"))
                        .with_hint(format!("looked in {}", looked.join(", "))));
                }
            },
            (None, Some(d)) => {
                let Some(p) = find(base, role, d, true) else {
                    return Err(a.err("dir", format!("include_vars: no directory `{d}`")));
                };
                let depth = a.opt_u64("depth")?.unwrap_or(0);
                let mut all = Vec::new();
                walk(&p, depth, 1, &mut all)
                    .map_err(|e| a.err("dir", format!("include_vars: {}: {e}", p.display())))?;
                let mut exts = a.list("extensions")?;
                if exts.is_empty() {
                    exts = vec!["json".into(), "yml".into(), "yaml".into()];
                }
                let ignore = a.list("ignore_files")?;
                let matching = match a.opt_str("files_matching")? {
                    Some(re) => Some(
                        regex::Regex::new(&re)
                            .map_err(|e| a.err("files_matching", format!("bad regex: {e}")))?,
                    ),
                    None => None,
                };
                let ignore_unknown = a.bool("ignore_unknown_extensions", false)?;
                for f in all {
                    let name = f
                        .file_name()
                        .map(|n| n.to_string_lossy().to_string())
                        .unwrap_or_default();
                    if ignore.contains(&name)
                        || matching.as_ref().is_some_and(|m| !m.is_match(&name))
                    {
                        continue;
                    }
                    let ext = f
                        .extension()
                        .map(|e| e.to_string_lossy().to_string())
                        .unwrap_or_default();
                    if !exts.contains(&ext) {
                        if ignore_unknown {
                            continue;
                        }
                        return Err(a.err(
                            "dir",
                            format!(
                                "include_vars: {} does not end in one of {} (see `extensions`, `ignore_unknown_extensions`)",
                                f.display(),
                                exts.join(", ")
                            ),
                        ));
                    }
                    files.push(f);
                }
            }
            (Some(_), Some(_)) => {
                return Err(a.err("dir", "include_vars takes `file` or `dir`, not both"));
            }
            (None, None) => {
                return Err(Error::input(
                    a.loc("file"),
                    "include_vars needs a file name, `file` or `dir`",
                ));
            }
        }
        if let Some(h) = a.opt_str("hash_behaviour")?
            && h != "replace"
        {
            return Err(a.err(
                "hash_behaviour",
                format!("`hash_behaviour: {h}` is not supported (only replace)"),
            ));
        }
        let mut vars = Map::new();
        for f in &files {
            vars.extend(load(f)?);
        }
        if let Some(name) = a.opt_str("name")? {
            vars = Map::from_iter([(name, Value::Object(vars))]);
        }
        Ok(IncludeVars {
            vars,
            files: files
                .iter()
                .map(|f| std::path::absolute(f).unwrap_or_else(|_| f.clone()))
                .map(|f| f.display().to_string())
                .collect(),
        })
    }

    /// The registered result, as Ansible's.
    pub(crate) fn result(&self) -> Value {
        json!({"ansible_facts": self.vars, "ansible_included_var_files": self.files,
               "changed": false, "failed": false})
    }
}

/// The names an `include_vars` task defines, when they are known before the run: its `name`,
/// or the keys of the files it names without a template (for validation).
pub(crate) fn static_names(
    args: &super::args::Args,
    base: &Path,
    role: Option<&Path>,
) -> Vec<String> {
    let templated = |v: &Value| v.as_str().is_some_and(crate::template::has_template);
    if let Some(Value::String(n)) = args.map.get("name")
        && !crate::template::has_template(n)
    {
        return vec![n.clone()];
    }
    if args.map.values().any(templated) {
        // `include_vars: "{{ ansible_os_family }}.yml"`: the names of every file it may be.
        let file = args.map.get("file").or_else(|| args.map.get("_raw"));
        return match file.and_then(Value::as_str) {
            Some(f) => maybe_names(f, base, role),
            None => Vec::new(),
        };
    }
    match IncludeVars::build(&Getter::new(&args.map, args), base, role) {
        Ok(iv) => iv.vars.keys().cloned().collect(),
        Err(_) => Vec::new(),
    }
}

/// The variable names of the files a templated file name may render to: each `{{ }}` read as
/// `*`, looked for where `file` would be.
fn maybe_names(file: &str, base: &Path, role: Option<&Path>) -> Vec<String> {
    let re = regex::Regex::new(r"\{\{.*?\}\}").expect("a valid regex");
    let pattern = re.replace_all(file, "*").to_string();
    let mut names = Vec::new();
    for c in candidates(base, role, &pattern) {
        let (Some(dir), Some(name)) = (c.parent(), c.file_name()) else {
            continue;
        };
        if dir.to_string_lossy().contains('*') {
            continue;
        }
        let name = name.to_string_lossy();
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for e in entries.flatten() {
            let n = e.file_name().to_string_lossy().to_string();
            if e.path().is_file()
                && crate::inventory::glob_match(&name, &n)
                && let Ok(vars) = load(&e.path())
            {
                names.extend(vars.keys().cloned());
            }
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::args::Args;

    fn build(
        dir: &Path,
        role: Option<&Path>,
        v: Value,
    ) -> std::result::Result<IncludeVars, String> {
        let map = v.as_object().unwrap().clone();
        let a = Args {
            map: map.clone(),
            locs: Default::default(),
            key_locs: Default::default(),
            loc: crate::location::Location::new(&std::sync::Arc::new("t.yml".into()), 1, 1),
        };
        IncludeVars::build(&Getter::new(&map, &a), dir, role).map_err(|e| e.to_string())
    }

    #[test]
    fn files_dirs_names_and_search_order() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path();
        let w = |p: &str, s: &str| {
            let p = d.join(p);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, s).unwrap();
        };
        w("vars/a.yml", "x: from-playbook-vars\n");
        w("a.yml", "x: from-playbook\n");
        w("roles/r/vars/a.yml", "x: from-role-vars\n");
        w("conf/1.yml", "x: 1\ny: 1\n");
        w("conf/sub/2.json", "{\"x\": 2}\n");
        w("conf/notes.txt", "hello\n");
        w("empty.yml", "");
        let v = build(d, None, json!({"_raw": "a.yml"})).unwrap();
        assert_eq!(v.vars["x"], "from-playbook-vars");
        let role = d.join("roles/r");
        let v = build(d, Some(&role), json!({"file": "a.yml", "name": "n"})).unwrap();
        assert_eq!(v.vars["n"]["x"], "from-role-vars");
        assert!(
            v.result()["ansible_included_var_files"][0]
                .as_str()
                .unwrap()
                .ends_with("roles/r/vars/a.yml")
        );
        let e = build(d, None, json!({"dir": "conf"})).unwrap_err();
        assert!(e.contains("notes.txt"), "{e}");
        let v = build(
            d,
            None,
            json!({"dir": "conf", "ignore_unknown_extensions": true}),
        )
        .unwrap();
        assert_eq!(
            (v.vars["x"].clone(), v.vars["y"].clone()),
            (json!(2), json!(1))
        );
        let v = build(
            d,
            None,
            json!({"dir": "conf", "depth": 1, "ignore_files": ["notes.txt"]}),
        )
        .unwrap();
        assert_eq!(v.vars["x"], 1);
        let v = build(d, None, json!({"dir": "conf", "files_matching": "^1"})).unwrap();
        assert_eq!(v.files.len(), 1);
        assert!(
            build(d, None, json!({"file": "empty.yml"}))
                .unwrap()
                .vars
                .is_empty()
        );
        assert!(
            build(d, None, json!({"file": "nope.yml"}))
                .unwrap_err()
                .contains("nope.yml")
        );
        assert!(build(d, None, json!({})).is_err());
    }
}
