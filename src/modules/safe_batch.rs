//! A loop's writes made together, with the checks of `safe_write` and a handful of processes in
//! all: the directory walked once (`plumb_cd`), the items' directories created with one `mkdir`,
//! their files created `O_EXCL` in one private temp directory (`printf`, a builtin, for text),
//! checked with one `stat`, given their owners and modes with one `chown`/`chgrp`/`chmod` per
//! distinct value, synced with one `sync` and renamed into place with one `mv`, then checked
//! with one `stat` that each name is the inode written.
//!
//! Only in a directory others cannot write (`plumb_tr`): there a name is as good as an inode,
//! since only root or plumb's own user can change what it points to, and the temp directory is
//! 0700 and plumb's own. Anything unexpected (a directory others can write, a name that appeared
//! since the probe, a failed step) ends the group quietly; the items it had not finished then run
//! their own scripts, which say what is wrong.

use super::safe_write;
use crate::shell::quote;
use std::sync::Arc;

/// A write a loop's item makes, in a form a batch can merge with its neighbours'.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum BatchOp {
    /// `safe_write::make_dir` of a directory found absent.
    Dir {
        path: String,
        owner: Option<String>,
        group: Option<String>,
        mode: Option<u32>,
    },
    /// `Copy::write` of a whole file, without backup or validation; after
    /// `safe_write::make_dir` of its parent when `mk`. Owner and group "" are left as created.
    File {
        dest: String,
        content: Arc<Vec<u8>>,
        owner: String,
        group: String,
        mode: u32,
        mk: bool,
    },
}

/// Text up to this size is written with `printf`; larger or binary content with `base64 -d`.
const PRINTF_MAX: usize = 64 << 10;

/// A group's size limit, so its command lines stay short.
const GROUP_MAX: usize = 1000;

/// Consecutive items' writes in one directory, all of one kind.
struct Group<'a> {
    dir: String,
    mk: bool,
    files: bool,
    /// (name, op), names unique; a file written again by a later item is written once, as that
    /// item leaves it.
    entries: Vec<(String, &'a BatchOp)>,
    /// How many items are done once this group is.
    done: usize,
}

impl BatchOp {
    /// (directory, name, walk with `mk`, is a file); None for a path a batch does not take.
    fn place(&self) -> Option<(String, String, bool, bool)> {
        let (path, mk, file) = match self {
            BatchOp::Dir { path, .. } => (path, true, false),
            BatchOp::File { dest, mk, .. } => (dest, *mk, true),
        };
        let (dir, name) = safe_write::split(path);
        let plain = !name.is_empty() && name != "." && name != ".." && !name.contains('\0');
        (path.starts_with('/') && plain).then_some((dir, name, mk, file))
    }
}

/// The scripts that make `ops` (the waiting items' writes, in order) together: each group's
/// body (to run after `safe_write::HEAD`, in a subshell; each step exits on failure itself, as
/// `set -e` is off where a status is tested) and how many of the
/// items are done once it succeeded. Groups cover the items from the first on, stopping at the
/// first op a batch does not take.
pub(crate) fn groups(ops: &[&BatchOp]) -> Vec<(String, usize)> {
    let mut gs: Vec<Group> = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        let Some((dir, name, mk, files)) = op.place() else {
            break;
        };
        if let Some(g) = gs.last_mut()
            && g.dir == dir
            && g.files == files
            && g.entries.len() < GROUP_MAX
        {
            // The same file again: written once, as the later item leaves it.
            let again = files && g.entries.last().is_some_and(|(n, _)| *n == name);
            if again && (g.mk || !mk) {
                g.entries.last_mut().expect("checked").1 = op;
                g.done = i + 1;
                continue;
            }
            if g.mk == mk && !g.entries.iter().any(|(n, _)| *n == name) {
                g.entries.push((name, op));
                g.done = i + 1;
                continue;
            }
        }
        gs.push(Group {
            dir,
            mk,
            files,
            entries: vec![(name, op)],
            done: i + 1,
        });
    }
    gs.iter().map(|g| (g.script(), g.done)).collect()
}

impl Group<'_> {
    fn script(&self) -> String {
        let mut s = format!(
            "plumb_cd {}{} || exit 1\n[ -n \"$plumb_tr\" ] || exit 1\n",
            quote(&self.dir),
            if self.mk { " mk" } else { "" }
        );
        let names: Vec<String> = self
            .entries
            .iter()
            .map(|(n, _)| quote(&format!("./{n}")))
            .collect();
        if self.files {
            self.files_script(&mut s, &names);
        } else {
            // Each name still absent, as the probe saw it; then one mkdir, each a directory.
            for n in &names {
                s.push_str(&format!("[ ! -e {n} ] && [ ! -L {n} ] || exit 1\n"));
            }
            s.push_str(&format!("mkdir -- {} || exit 1\n", names.join(" ")));
            for n in &names {
                s.push_str(&format!("[ -d {n} ] && [ ! -L {n} ] || exit 1\n"));
            }
            let attrs = |op: &BatchOp| match op {
                BatchOp::Dir {
                    owner, group, mode, ..
                } => [
                    owner.clone().unwrap_or_default(),
                    group.clone().unwrap_or_default(),
                    mode.map(|m| format!("{m:04o}")).unwrap_or_default(),
                ],
                BatchOp::File { .. } => unreachable!("a directory group"),
            };
            self.own(&mut s, &names, attrs);
        }
        s
    }

    fn files_script(&self, s: &mut String, names: &[String]) {
        let t = safe_write::temp_name("batch-");
        let tmp: Vec<String> = self
            .entries
            .iter()
            .map(|(n, _)| quote(&format!("./{t}/{n}")))
            .collect();
        // Each destination absent or a regular file, as the probe saw it.
        for n in names {
            s.push_str(&format!(
                "{{ [ ! -e {n} ] || [ -f {n} ]; }} && [ ! -L {n} ] || exit 1\n"
            ));
        }
        // A fresh directory only plumb's user can enter: nothing in it but what this writes.
        s.push_str(&format!(
            "trap 'exit 129' HUP INT TERM PIPE\ntrap 'rm -rf -- ./{t}' EXIT\numask 077\nmkdir -- ./{t} || exit 1\n\
             [ -d ./{t} ] && [ ! -L ./{t} ] && [ \"$(stat -c '%u %a %h' -- ./{t})\" = \"$plumb_uid 700 2\" ] || exit 1\nset -C\n"
        ));
        let mut want = Vec::new();
        for ((_, op), tn) in self.entries.iter().zip(&tmp) {
            let BatchOp::File { content, .. } = op else {
                unreachable!("a file group")
            };
            match std::str::from_utf8(content) {
                Ok(text) if text.len() <= PRINTF_MAX && !text.contains('\0') => {
                    s.push_str(&format!("printf '%s' {} > {tn} || exit 1\n", quote(text)));
                }
                _ => {
                    use base64::Engine;
                    s.push_str(&format!("base64 -d > {tn} <<'PLUMB_EOF' || exit 1\n"));
                    let b64 = base64::engine::general_purpose::STANDARD.encode(content.as_slice());
                    for chunk in b64.as_bytes().chunks(76) {
                        s.push_str(std::str::from_utf8(chunk).expect("base64 is ascii"));
                        s.push('\n');
                    }
                    s.push_str("PLUMB_EOF\n");
                }
            }
            let kind = if content.is_empty() {
                "regular empty file"
            } else {
                "regular file"
            };
            want.push(format!("$plumb_uid 1 {} {kind}", content.len()));
        }
        // Each a new regular file of plumb's user, with one link and the bytes written.
        let all = tmp.join(" ");
        s.push_str(&format!(
            "set +C\n[ \"$(stat -c '%u %h %s %F' -- {all})\" = \"{}\" ] || exit 1\nplumb_ino=$(stat -c %i -- {all}) || exit 1\n",
            want.join("\n")
        ));
        let attrs = |op: &BatchOp| match op {
            BatchOp::File {
                owner, group, mode, ..
            } => [owner.clone(), group.clone(), format!("{mode:04o}")],
            BatchOp::Dir { .. } => unreachable!("a file group"),
        };
        self.own(s, &tmp, attrs);
        // Synced, renamed into place, and each name then the inode written (not a symlink).
        s.push_str(&format!(
            "sync -- {all} || exit 1\nmv -f -t . -- {all} || exit 1\n[ \"$(stat -c %i -- {})\" = \"$plumb_ino\" ] || exit 1\n\
             rmdir -- ./{t} || exit 1\ntrap - EXIT\nsync . || exit 1\n",
            names.join(" ")
        ));
    }

    /// chown, chgrp, then chmod (last: chown clears setuid/setgid), one call per distinct value;
    /// `attrs` gives an op's [owner, group, mode], "" for none.
    fn own(&self, s: &mut String, names: &[String], attrs: impl Fn(&BatchOp) -> [String; 3]) {
        let vals: Vec<[String; 3]> = self.entries.iter().map(|(_, op)| attrs(op)).collect();
        for (k, cmd) in ["chown", "chgrp", "chmod"].into_iter().enumerate() {
            let mut distinct: Vec<&String> = Vec::new();
            for v in &vals {
                if !v[k].is_empty() && !distinct.contains(&&v[k]) {
                    distinct.push(&v[k]);
                }
            }
            for x in distinct {
                let these: Vec<&str> = names
                    .iter()
                    .zip(&vals)
                    .filter(|(_, v)| v[k] == *x)
                    .map(|(n, _)| n.as_str())
                    .collect();
                s.push_str(&format!(
                    "{cmd} -- {} {} || exit 1\n",
                    quote(x),
                    these.join(" ")
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(dest: &str, text: &str, mode: u32, mk: bool) -> BatchOp {
        BatchOp::File {
            dest: dest.into(),
            content: Arc::new(text.as_bytes().to_vec()),
            owner: String::new(),
            group: String::new(),
            mode,
            mk,
        }
    }

    fn dir(path: &str, mode: Option<u32>) -> BatchOp {
        BatchOp::Dir {
            path: path.into(),
            owner: None,
            group: None,
            mode,
        }
    }

    /// Groups: one per directory and kind; a file written again is written once; a name twice
    /// (not in a row), another `mk`, or a path a batch does not take starts a new group or ends
    /// them.
    #[test]
    fn groups_follow_the_items() {
        let ops = [
            dir("/srv/a/d0", None),
            dir("/srv/a/d1", Some(0o750)),
            file("/srv/a/f", "1\n", 0o644, false),
            file("/srv/a/f", "1\n2\n", 0o644, false),
            file("/srv/a/g", "x", 0o600, false),
            file("/srv/a/f", "3\n", 0o644, false),
            file("/srv/b/f", "", 0o644, true),
            file("/srv/b/", "", 0o644, false),
            file("/srv/b/h", "", 0o644, false),
        ];
        let refs: Vec<&BatchOp> = ops.iter().collect();
        let gs = groups(&refs);
        let done: Vec<usize> = gs.iter().map(|g| g.1).collect();
        assert_eq!(done, [2, 5, 6, 7]);
        let (d, f) = (&gs[0].0, &gs[1].0);
        assert!(
            d.starts_with("plumb_cd /srv/a mk || exit 1\n[ -n \"$plumb_tr\" ] || exit 1\n"),
            "{d}"
        );
        assert!(d.contains("mkdir -- ./d0 ./d1 || exit 1\n"), "{d}");
        assert!(
            d.contains("chmod -- 0750 ./d1 || exit 1\n") && !d.contains("chown"),
            "{d}"
        );
        assert!(f.starts_with("plumb_cd /srv/a || exit 1\n"), "{f}");
        // Written once, as the last item leaves it.
        assert!(f.contains("printf '%s' '1\n2\n' > ./.plumb-batch-") && !f.contains("'1\n' >"));
        assert!(f.contains("\"$plumb_uid 1 4 regular file\n$plumb_uid 1 1 regular file\""));
        assert!(f.contains("mv -f -t . -- ./.plumb-batch-"), "{f}");
        assert!(f.contains("chmod -- 0644 ./.plumb-batch-") && f.contains("chmod -- 0600"));
        assert!(gs[3].0.starts_with("plumb_cd /srv/b mk || exit 1\n"));
        assert!(gs[3].0.contains("\"$plumb_uid 1 0 regular empty file\""));
        assert!(groups(&[&file("rel", "", 0o644, false)]).is_empty());
        assert!(
            f.contains("/f || exit 1\n") && f.contains("/g || exit 1\n"),
            "{f}"
        );
        // `set -e` does nothing where the group's status is tested: each step exits itself.
        for (g, _) in &gs {
            for line in g.lines() {
                let cmd = line.split(' ').next().unwrap();
                let steps = ["plumb_cd", "mkdir", "base64", "chown", "chgrp", "chmod"];
                if steps.contains(&cmd)
                    || ["sync", "mv", "rmdir", "plumb_ino=$(stat"].contains(&cmd)
                {
                    assert!(line.ends_with(" || exit 1"), "{line}");
                }
            }
        }
    }

    /// Binary content goes through base64; owners one chown per distinct value.
    #[test]
    fn binary_content_and_owners() {
        let mut a = file("/srv/x", "", 0o644, false);
        if let BatchOp::File { content, owner, .. } = &mut a {
            *content = Arc::new(vec![0, 1, 2]);
            *owner = "app".into();
        }
        let b = file("/srv/y", "y", 0o644, false);
        let g = &groups(&[&a, &b])[0].0;
        assert!(g.contains("base64 -d > ./.plumb-batch-") && g.contains("\nAAEC\nPLUMB_EOF\n"));
        assert!(g.contains("chown -- app ./.plumb-batch-") && !g.contains("/y\nchown"));
        assert_eq!(g.matches("chmod").count(), 1);
    }
}
