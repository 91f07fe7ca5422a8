//! `copy` with `remote_src: true` and a directory `src`: the tree on the host listed with
//! `find` and summed with `sha256sum` on both sides in the probe, and the plan's directories
//! made and files written one by one as `copy` writes them. Names with control characters or
//! a backslash, and anything but files and directories in the source, are refused: the
//! listing is line-framed and must not be forgeable by a name.

use super::copy::Copy;
use super::file_fact::{FileFact, Kind, attr_changes};
use super::{Change, safe_write};
use crate::shell::quote;
use std::collections::HashMap;

/// The probe's listing of the source tree and of the destination tree.
#[derive(Debug, Default)]
pub(crate) struct Trees {
    /// The source's entries under it, parents first: (relative path, is a directory, mode).
    pub(crate) src: Vec<(String, bool, u32)>,
    pub(crate) src_sums: HashMap<String, String>,
    /// What is at the same relative paths under the destination.
    pub(crate) dest: HashMap<String, FileFact>,
}

const BAD_NAMES: &str = "\\( -name '*[[:cntrl:]]*' -o -name '*\\\\*' \\)";

/// Sh that lists `src` and `top` (its copy's top directory) when `src` is a directory, then
/// prints `facts`.
pub(crate) fn probe(src: &str, top: &str) -> String {
    let (s, t) = (quote(src), quote(top));
    format!(
        "if [ -d {s} ] && [ ! -L {s} ]; then ( cd -- {s} || exit 1\n\
         LC_ALL=C find . -mindepth 1 \\( {BAD_NAMES} -o ! -type f ! -type d \\) -printf 'bad\\t%y\\n' -quit\n\
         LC_ALL=C find . -mindepth 1 -printf 'src\\t%y\\t%m\\t%P\\n'\n\
         LC_ALL=C find . -mindepth 1 -type f -exec sha256sum -- {{}} + | sed 's/^/srcsum\\t/' )\n\
         if [ -d {t} ] && [ ! -L {t} ]; then ( cd -- {t} || exit 1\n\
         LC_ALL=C find . -mindepth 1 {BAD_NAMES} -prune -o -printf 'dest\\t%y\\t%m\\t%u\\t%g\\t%U\\t%G\\t%P\\n'\n\
         LC_ALL=C find . -mindepth 1 {BAD_NAMES} -prune -o -type f -exec sha256sum -- {{}} + | sed 's/^/destsum\\t/' ); fi\n\
         fi\nprintf 'facts\\n'\n"
    )
}

/// Splits the probe's output into the listing and the file facts after it.
pub(crate) fn split(facts: &str) -> Result<(Trees, &str), String> {
    let (listing, rest) = match facts.strip_prefix("facts\n") {
        Some(rest) => ("", rest),
        None => facts
            .split_once("\nfacts\n")
            .ok_or("the probe printed no `facts` line")?,
    };
    let mut t = Trees::default();
    let mut sums = HashMap::new();
    for line in listing.lines() {
        let bad = || format!("unexpected probe output: `{line}`");
        let f: Vec<&str> = line.split('\t').collect();
        match f[..] {
            ["bad", kind] => {
                return Err(match kind {
                    "f" | "d" => "the source directory has a name with a control character or a backslash, which plumb does not copy".into(),
                    _ => "the source directory holds something that is not a file or a directory (a link, say): `remote_src` copies only files and directories".into(),
                });
            }
            ["src", kind, mode, rel] => t.src.push((
                rel.to_string(),
                match kind {
                    "d" => true,
                    "f" => false,
                    _ => return Err(bad()),
                },
                u32::from_str_radix(mode, 8).map_err(|_| bad())?,
            )),
            ["srcsum", sum] | ["destsum", sum] => {
                let (hash, rel) = sum.split_once("  ./").ok_or_else(bad)?;
                if hash.starts_with('\\') {
                    // sha256sum's escaped form: a name plumb lists as bad or prunes.
                    continue;
                }
                let map = if f[0] == "srcsum" {
                    &mut t.src_sums
                } else {
                    &mut sums
                };
                map.insert(rel.to_string(), hash.to_string());
            }
            ["dest", kind, mode, owner, group, uid, gid, rel] => {
                let fact = FileFact {
                    kind: match kind {
                        "f" => Kind::File,
                        "d" => Kind::Dir,
                        "l" => Kind::Link,
                        _ => Kind::Other,
                    },
                    mode: u32::from_str_radix(mode, 8).map_err(|_| bad())?,
                    owner: owner.into(),
                    group: group.into(),
                    uid: uid.into(),
                    gid: gid.into(),
                    sha256: None,
                    target: None,
                };
                t.dest.insert(rel.to_string(), fact);
            }
            _ => return Err(bad()),
        }
    }
    for (rel, sum) in sums {
        if let Some(f) = t.dest.get_mut(&rel) {
            f.sha256 = Some(sum);
        }
    }
    Ok((t, rest))
}

/// The changes and script that make `top` a copy of the source tree `src` as copy `c` writes:
/// `top_fact` is what is at `top` now, `src_mode` the source directory's mode; `preserve`
/// (`mode: preserve`): each file gets its source's mode, also one already there.
pub(crate) fn tree(
    c: &Copy,
    src: &str,
    t: &Trees,
    top: &str,
    top_fact: &FileFact,
    src_mode: u32,
    preserve: bool,
) -> Result<(Vec<Change>, String), String> {
    let src = src.trim_end_matches('/');
    let (mut changes, mut script) = (Vec::new(), String::new());
    let absent = FileFact::absent();
    let entries = std::iter::once((String::new(), true, src_mode)).chain(t.src.iter().cloned());
    for (rel, is_dir, mode) in entries {
        let (path, now) = if rel.is_empty() {
            (top.to_string(), top_fact)
        } else {
            (format!("{top}/{rel}"), t.dest.get(&rel).unwrap_or(&absent))
        };
        let (owner, group) = (c.owner.as_deref(), c.group.as_deref());
        if is_dir {
            match now.kind {
                Kind::Absent => {
                    changes.push(Change::new(format!("create directory {path}")));
                    script.push_str(&safe_write::make_dir(
                        &path,
                        owner,
                        group,
                        Some(c.directory_mode.unwrap_or(mode)),
                    ));
                    script.push('\n');
                }
                Kind::Dir => {
                    let (words, cmds) = attr_changes(now, &path, c.directory_mode, owner, group);
                    changes.extend(
                        words
                            .into_iter()
                            .map(|w| Change::new(format!("{path}: {w}"))),
                    );
                    for cmd in cmds {
                        script.push_str(&cmd);
                        script.push('\n');
                    }
                }
                _ => return Err(format!("{path} exists and is not a directory")),
            }
            continue;
        }
        let sum = t
            .src_sums
            .get(&rel)
            .ok_or_else(|| format!("no checksum of {src}/{rel}"))?;
        let want = if preserve { Some(mode) } else { c.mode };
        let mut file = c.clone();
        file.mode = Some(want.unwrap_or(mode));
        let fill = format!("cat -- {} >&3\n", quote(&format!("{src}/{rel}")));
        match now.kind {
            Kind::Absent => {
                changes.push(Change::new(format!(
                    "create {path} (a copy of {src}/{rel})"
                )));
                script.push_str(&file.write_with(&path, &fill, None));
            }
            Kind::File if now.sha256.as_deref() != Some(sum.as_str()) && c.force => {
                changes.push(Change::new(format!("update {path} from {src}/{rel}")));
                script.push_str(&file.write_with(&path, &fill, Some(now)));
            }
            Kind::File => {
                let (words, cmds) = attr_changes(now, &path, want, owner, group);
                changes.extend(
                    words
                        .into_iter()
                        .map(|w| Change::new(format!("{path}: {w}"))),
                );
                for cmd in cmds {
                    script.push_str(&cmd);
                    script.push('\n');
                }
            }
            _ => return Err(format!("{path} exists and is not a regular file")),
        }
    }
    Ok((changes, script))
}
