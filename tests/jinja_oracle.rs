//! Every case of `../shared/jinja-oracle/` (template, vars, and the bytes ansible-core 2.19
//! wrote) rendered by plumb's Jinja engine and compared byte for byte.

use plumb::jinja::{RenderCtx, render_template};
use std::path::PathBuf;

#[test]
fn oracle_cases_render_byte_for_byte() {
    // `shared/` sits beside the checkout (CI); a worktree one level deeper finds it one up more.
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let root = std::env::var_os("JINJA_ORACLE_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            ["../shared/jinja-oracle", "../../shared/jinja-oracle"]
                .iter()
                .map(|p| here.join(p))
                .find(|p| p.is_dir())
        })
        .unwrap_or_else(|| here.join("../shared/jinja-oracle"));
    if !root.is_dir() {
        println!(
            "jinja-oracle: {} is absent; nothing to compare",
            root.display()
        );
        return;
    }
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("template.j2").is_file())
        .collect();
    dirs.sort();
    let mut report = String::new();
    let mut failed = 0;
    for dir in &dirs {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let source = std::fs::read_to_string(dir.join("template.j2")).unwrap();
        let vars_text = std::fs::read_to_string(dir.join("vars.yml")).unwrap_or_default();
        let vars = std::sync::Arc::new(match plumb::jinja_yaml::load(&vars_text).unwrap() {
            serde_json::Value::Object(m) => m,
            _ => Default::default(),
        });
        let expected = std::fs::read(dir.join("expected")).unwrap();
        let ctx = RenderCtx {
            playbook_dir: Some(dir.clone()),
            template_dir: Some(dir.clone()),
            search_dirs: vec![],
            // The case's vars.yml is read as is: variables that refer to variables are
            // rendered when read (plumb's runner renders them in order before a task).
            resolved: false,
            ..Default::default()
        };
        match render_template(&source, &vars, &ctx) {
            Ok(out) if out.as_bytes() == expected.as_slice() => {
                report.push_str(&format!("pass {name}\n"));
            }
            Ok(out) => {
                failed += 1;
                let want = String::from_utf8_lossy(&expected);
                let line = out
                    .lines()
                    .zip(want.lines())
                    .position(|(a, b)| a != b)
                    .map(|i| {
                        format!(
                            "line {}: got {:?} want {:?}",
                            i + 1,
                            out.lines().nth(i).unwrap_or(""),
                            want.lines().nth(i).unwrap_or("")
                        )
                    })
                    .unwrap_or_else(|| format!("got {out:?} want {want:?}"));
                report.push_str(&format!("FAIL {name}: {line}\n"));
            }
            Err(e) => {
                failed += 1;
                report.push_str(&format!("FAIL {name}: error {e}\n"));
            }
        }
    }
    println!("{report}");
    assert_eq!(
        failed,
        0,
        "{failed} of {} oracle cases differ:\n{report}",
        dirs.len()
    );
}
