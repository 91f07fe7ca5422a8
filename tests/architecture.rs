//! The shape the README's Architecture section promises, checked on the source itself: no file
//! of `src/` imports one that imports it back (directly or through others), and none is over
//! 700 lines. A `mod tests` block is not counted: tests may reach anywhere.

use regex::Regex;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file under `src/`, by its module path (`["transport", "ssh"]`).
fn files() -> BTreeMap<Vec<String>, PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut all = Vec::new();
    walk(&root, &mut all);
    all.into_iter()
        .map(|p| {
            let rel = p.strip_prefix(&root).unwrap().with_extension("");
            let mut parts: Vec<String> = rel.iter().map(|s| s.to_string_lossy().into()).collect();
            if parts.last().is_some_and(|l| l == "mod") {
                parts.pop();
            }
            if parts == ["lib"] || parts == ["main"] {
                parts.clear();
            }
            (parts, p)
        })
        .collect()
}

/// The source without comments and without its `#[cfg(test)] mod tests { … }` (written last).
fn code(p: &Path) -> String {
    let src = std::fs::read_to_string(p).unwrap();
    let src = Regex::new(r"//[^\n]*").unwrap().replace_all(&src, "");
    let src = Regex::new(r"(?s)/\*.*?\*/").unwrap().replace_all(&src, "");
    let test = Regex::new(r"#\[cfg\(test\)\]\s*mod\s+tests\s*\{").unwrap();
    match test.find(&src) {
        Some(m) => src[..m.start()].to_string(),
        None => src.into_owned(),
    }
}

/// `a::{b, c::{d, e}}` as `a::b`, `a::c::d`, `a::c::e`.
fn expand(tree: &str) -> Vec<String> {
    let tree: String = tree.chars().filter(|c| !c.is_whitespace()).collect();
    let Some(i) = tree.find('{') else {
        return vec![tree];
    };
    // Not a use tree after all (a `use` word in a string): nothing imported.
    let Some(j) = tree.rfind('}').filter(|j| *j > i) else {
        return Vec::new();
    };
    let (prefix, body) = (&tree[..i], &tree[i + 1..j]);
    let (mut items, mut cur, mut depth) = (Vec::new(), String::new(), 0);
    for ch in body.chars() {
        match ch {
            '{' => depth += 1,
            '}' => depth -= 1,
            _ => {}
        }
        if ch == ',' && depth == 0 {
            items.push(std::mem::take(&mut cur));
        } else {
            cur.push(ch);
        }
    }
    items.push(cur);
    items
        .iter()
        .filter(|i| !i.is_empty())
        .flat_map(|i| expand(i).into_iter().map(|e| format!("{prefix}{e}")))
        .collect()
}

/// Which files each file takes names from.
fn imports() -> BTreeMap<PathBuf, BTreeSet<PathBuf>> {
    let files = files();
    let resolve = |segs: &[String]| {
        (1..=segs.len())
            .rev()
            .find_map(|n| files.get(&segs[..n]).cloned())
    };
    let uses = Regex::new(r"\buse\s+([^;]+);").unwrap();
    let inline = Regex::new(r"\b((?:crate|super|self)(?:::\w+)+)").unwrap();
    let mods = Regex::new(r"(?m)^\s*(?:pub(?:\([a-z]+\))?\s+)?mod\s+(\w+)\s*;").unwrap();
    let mut edges = BTreeMap::new();
    for (module, p) in &files {
        let src = code(p);
        let children: BTreeSet<String> = mods.captures_iter(&src).map(|c| c[1].into()).collect();
        let mut paths: Vec<String> = uses
            .captures_iter(&src)
            .flat_map(|c| expand(&c[1]))
            .collect();
        paths.extend(inline.captures_iter(&src).map(|c| c[1].to_string()));
        for c in &children {
            let child = Regex::new(&format!(r"\b({c}(?:::\w+)+)")).unwrap();
            paths.extend(child.captures_iter(&src).map(|m| m[1].to_string()));
        }
        let mut to = BTreeSet::new();
        for path in paths {
            let mut segs: Vec<String> = path
                .split("::")
                .filter(|s| !s.is_empty())
                .map(|s| s.split(" as ").next().unwrap().to_string())
                .collect();
            let mut base: Vec<String> = Vec::new();
            match segs.first().map(String::as_str) {
                Some("crate") => {
                    segs.remove(0);
                }
                Some("super" | "self") => {
                    base = module.clone();
                    while let Some(s) = segs
                        .first()
                        .cloned()
                        .filter(|s| s == "super" || s == "self")
                    {
                        if s == "super" {
                            base.pop();
                        }
                        segs.remove(0);
                    }
                }
                Some(first) if children.contains(first) => base = module.clone(),
                _ => continue,
            }
            base.extend(segs);
            if let Some(t) = resolve(&base).filter(|t| t != p) {
                to.insert(t);
            }
        }
        edges.insert(p.clone(), to);
    }
    edges
}

#[test]
fn no_file_imports_one_that_imports_it_back() {
    let edges = imports();
    // Files that reach themselves again through others, with the way round.
    let mut circles = Vec::new();
    for start in edges.keys() {
        let mut seen = BTreeSet::new();
        let mut stack = vec![(start.clone(), vec![start.clone()])];
        while let Some((at, way)) = stack.pop() {
            for next in edges.get(&at).into_iter().flatten() {
                if next == start {
                    circles.push(way.clone());
                } else if seen.insert(next.clone()) {
                    let mut w = way.clone();
                    w.push(next.clone());
                    stack.push((next.clone(), w));
                }
            }
        }
    }
    let shown: Vec<String> = circles
        .iter()
        .take(5)
        .map(|w| {
            w.iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(" -> ")
        })
        .collect();
    assert!(circles.is_empty(), "import circles:\n{}", shown.join("\n"));
}

#[test]
fn the_checker_sees_an_import_circle() {
    // The parser the test above relies on: a `use` tree names each file it takes from.
    assert_eq!(
        expand("crate::a::{b, c::{d, e}}"),
        ["crate::a::b", "crate::a::c::d", "crate::a::c::e"]
    );
    let edges = imports();
    let runner = edges.keys().find(|p| p.ends_with("src/runner.rs")).unwrap();
    assert!(
        edges[runner].iter().any(|p| p.ends_with("src/host_run.rs")),
        "runner.rs runs each host through host_run.rs"
    );
}

#[test]
fn no_source_file_over_700_lines() {
    let long: Vec<String> = files()
        .values()
        .filter_map(|p| {
            let n = std::fs::read_to_string(p).unwrap().lines().count();
            (n > 700).then(|| format!("{}: {n} lines", p.display()))
        })
        .collect();
    assert!(long.is_empty(), "{}", long.join("\n"));
}
