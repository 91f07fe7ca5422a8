//! A few whole files a module computes (an APT source and its key, say), each wanted with
//! some content and mode or wanted absent: probed together with `file_fact`, compared by
//! SHA-256, and written through the race-free writer.

use super::copy::{Copy, Entry, sha256_hex};
use super::file_fact::{self, Kind, attr_changes};
use super::{Change, ContentChange};
use std::sync::Arc;

#[derive(Debug, Clone)]
pub(crate) struct Want {
    pub(crate) path: String,
    /// None: the file must not exist.
    pub(crate) content: Option<Arc<Vec<u8>>>,
    pub(crate) mode: u32,
}

/// The probe for these paths (their content summed).
pub(crate) fn probe(paths: &[&str]) -> String {
    file_fact::probe(paths, paths)
}

/// Changes and the script (to follow `safe_write::HEAD`) that make the files as wanted.
/// `facts` is `probe`'s output for `paths`, which must start with the wanted files' paths.
pub(crate) fn plan(
    wants: &[Want],
    paths: &[&str],
    facts: &str,
) -> Result<(Vec<Change>, String), String> {
    let got = file_fact::parse(facts, paths)?;
    let mut changes = Vec::new();
    let mut script = String::new();
    for (w, f) in wants.iter().zip(&got) {
        match (&w.content, &f.kind) {
            (None, Kind::Absent) => {}
            (None, _) => {
                changes.push(Change::new(format!("remove {}", w.path)));
                script.push_str(&super::safe_write::remove(&w.path));
                script.push('\n');
            }
            (Some(_), Kind::Dir | Kind::Link | Kind::Other) => {
                return Err(format!("{} exists and is not a regular file", w.path));
            }
            (Some(c), kind) => {
                let exists = *kind == Kind::File;
                let entry = Entry {
                    dest: w.path.clone(),
                    sha256: sha256_hex(c),
                    content: c.clone(),
                };
                let writer = Copy {
                    mode: Some(w.mode),
                    owner: Some("root".into()),
                    group: Some("root".into()),
                    ..Copy::writer(&w.path)
                };
                if exists && f.sha256.as_deref() == Some(entry.sha256.as_str()) {
                    let (words, cmds) =
                        attr_changes(f, &w.path, Some(w.mode), Some("root"), Some("root"));
                    changes.extend(
                        words
                            .into_iter()
                            .map(|x| Change::new(format!("{}: {x}", w.path))),
                    );
                    for c in cmds {
                        script.push_str(&c);
                        script.push('\n');
                    }
                    continue;
                }
                let verb = if exists { "update" } else { "create" };
                changes.push(Change {
                    summary: format!("{verb} {}", w.path),
                    content: Some(ContentChange {
                        path: w.path.clone(),
                        new: c.clone(),
                        exists,
                    }),
                });
                script.push_str(&writer.write(&entry, exists.then_some(f)));
            }
        }
    }
    Ok((changes, script))
}
