//! `mount` (`ansible.posix.mount`): a file system's line in fstab (written through the race-free
//! writer) and whether it is mounted now (read from `/proc/mounts`).
//! States as Ansible's: `mounted` (line + mounted; remounted when the line changed while
//! mounted), `present` (line only), `unmounted` (not mounted, line kept), `absent` (neither,
//! and the empty mount point removed), `remounted` (always remounted).

use super::args::Getter;
use super::copy::Copy;
use super::file_fact::{self, Kind};
use super::{Change, Plan, Resource, safe_write};
use crate::error::Result;
use crate::shell::quote;
use base64::Engine;

#[derive(Debug, Clone)]
pub(crate) struct Mount {
    pub path: String,
    pub src: Option<String>,
    pub fstype: Option<String>,
    pub opts: String,
    pub dump: String,
    pub passno: String,
    pub state: String,
    pub fstab: String,
}

/// fstab's escapes for blanks and backslashes (`\040`), as Ansible writes them.
fn escape(s: &str) -> String {
    s.replace('\\', "\\134")
        .replace(' ', "\\040")
        .replace('\t', "\\011")
        .replace('\n', "\\012")
}

fn unescape(s: &str) -> String {
    s.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

super::plain_module!(Mount);

/// The mount point of a line with none (swap): such lines are told apart by their `src`.
const NONE: &str = "none";

impl Mount {
    pub(crate) fn build(a: &Getter) -> Result<Mount> {
        let key = if a.has("path") { "path" } else { "name" };
        let state = a.choice(
            "state",
            &["mounted", "present", "unmounted", "absent", "remounted"],
            "mounted",
        )?;
        // `none`: a swap line's mount point, only written to (or taken out of) fstab.
        let path = match a.opt_str(key)?.as_deref() {
            Some(NONE) if matches!(state.as_str(), "present" | "absent") => NONE.to_string(),
            Some(NONE) => {
                return Err(a.err(
                    key,
                    format!("`{key}: none` (a swap line) is for `state: present` or `absent`"),
                ));
            }
            _ => a
                .opt_path(key)?
                .ok_or_else(|| a.err(key, "`path` is required"))?,
        };
        let src = a.opt_str("src")?;
        let fstype = a.opt_str("fstype")?;
        if matches!(state.as_str(), "mounted" | "present") && (src.is_none() || fstype.is_none()) {
            return Err(a.err(
                "state",
                format!("`state: {state}` needs `src` and `fstype`"),
            ));
        }
        let mut opts = a.opt_str("opts")?.unwrap_or_else(|| "defaults".into());
        if !a.bool("boot", true)? && !opts.split(',').any(|o| o == "noauto") {
            opts = if opts == "defaults" {
                "noauto".into()
            } else {
                format!("{opts},noauto")
            };
        }
        let num = |k: &str| -> Result<String> { Ok(a.opt_u64(k)?.unwrap_or(0).to_string()) };
        for (k, v) in [
            ("src", &src),
            ("fstype", &fstype),
            ("opts", &Some(opts.clone())),
        ] {
            if let Some(v) = v
                && (v.is_empty()
                    || v.starts_with('-')
                    || v.contains(|c: char| c.is_whitespace() || c.is_control()))
            {
                return Err(a.err(k, format!("`{k}: {v}` is not valid in fstab")));
            }
        }
        Ok(Mount {
            path,
            src,
            fstype,
            opts,
            dump: num("dump")?,
            passno: num("passno")?,
            state,
            fstab: a.opt_path("fstab")?.unwrap_or_else(|| "/etc/fstab".into()),
        })
    }

    pub(crate) fn reads(&self) -> Vec<Resource> {
        let mut r = vec![Resource::Path(self.fstab.clone())];
        if self.path != NONE {
            r.push(Resource::Path(self.path.clone()));
        }
        r
    }

    /// The paths the probe looks at: fstab, and the mount point where there is one.
    fn looked_at(&self) -> Vec<&str> {
        match self.path == NONE {
            true => vec![&self.fstab],
            false => vec![&self.fstab, &self.path],
        }
    }

    pub(crate) fn probe(&self) -> String {
        let f = quote(&self.fstab);
        format!(
            "{}if [ -f {f} ]; then printf 'content\\t'; head -c 1048576 {f} | base64 -w0; printf '\\n'; fi\n\
             printf 'mounts\\t'; cut -d' ' -f2 /proc/mounts | base64 -w0; printf '\\n'\n",
            file_fact::probe(&self.looked_at(), &[]),
        )
    }

    fn line(&self) -> String {
        format!(
            "{} {} {} {} {} {}",
            escape(self.src.as_deref().unwrap_or_default()),
            escape(&self.path),
            self.fstype.as_deref().unwrap_or_default(),
            self.opts,
            self.dump,
            self.passno
        )
    }

    pub(crate) fn plan(&self, facts: &str) -> std::result::Result<Plan, String> {
        let bad = || format!("unexpected probe output: {}", facts.trim());
        let dec = |v: &str| -> std::result::Result<String, String> {
            let b = base64::engine::general_purpose::STANDARD
                .decode(v.trim())
                .map_err(|_| bad())?;
            Ok(String::from_utf8_lossy(&b).into_owned())
        };
        let (mut content, mut mounts) = (None, None);
        let mut rest = Vec::new();
        for l in facts.lines() {
            match l.split_once('\t') {
                Some(("content", v)) => content = Some(dec(v)?),
                Some(("mounts", v)) => mounts = Some(dec(v)?),
                _ => rest.push(l),
            }
        }
        let mounts = mounts.ok_or_else(bad)?;
        let mut ff = file_fact::parse(&rest.join("\n"), &self.looked_at())?;
        let dir = match self.path == NONE {
            true => file_fact::FileFact::absent(),
            false => ff.pop().ok_or_else(bad)?,
        };
        let fact = ff.pop().ok_or_else(bad)?;
        let old = match fact.kind {
            Kind::Absent => None,
            Kind::File => Some(content.ok_or_else(bad)?),
            _ => return Err(format!("{} exists and is not a regular file", self.fstab)),
        };
        let mounted = mounts.lines().any(|m| unescape(m) == self.path);
        let text = old.clone().unwrap_or_default();
        let is_ours = |l: &str| {
            let t = l.trim_start();
            let f: Vec<String> = t.split_whitespace().map(unescape).collect();
            !t.starts_with('#')
                && f.get(1) == Some(&self.path)
                && (self.path != NONE || f.first() == self.src.as_ref())
        };
        let want = self.line();
        let q = quote(&self.path);
        let mut changes = Vec::new();
        let mut script = String::from(safe_write::HEAD);
        // The new fstab, for the states that keep or drop the line.
        let new_text = match self.state.as_str() {
            "mounted" | "present" => {
                let mut out = String::new();
                let mut done = false;
                for l in text.split_inclusive('\n') {
                    if is_ours(l) {
                        if !done {
                            let same = l.split_whitespace().collect::<Vec<_>>()
                                == want.split_whitespace().collect::<Vec<_>>();
                            if same {
                                out.push_str(l);
                            } else {
                                out.push_str(&want);
                                out.push('\n');
                            }
                            done = true;
                        }
                        continue;
                    }
                    out.push_str(l);
                }
                if !done {
                    if !out.is_empty() && !out.ends_with('\n') {
                        out.push('\n');
                    }
                    out.push_str(&want);
                    out.push('\n');
                }
                Some(out)
            }
            "absent" => Some(
                text.split_inclusive('\n')
                    .filter(|l| !is_ours(l))
                    .collect::<String>(),
            ),
            _ => None,
        };
        let fstab_changed = new_text.as_deref().is_some_and(|n| n != text);
        // Unmount before the line goes.
        if (self.state == "absent" || self.state == "unmounted") && mounted {
            changes.push(Change::new(format!("unmount {}", self.path)));
            script.push_str(&format!("umount -- {q}\n"));
        }
        if fstab_changed {
            let n = new_text.clone().unwrap_or_default();
            // A swap line is named by what it swaps on.
            let what = match (self.path == NONE, &self.src) {
                (true, Some(src)) => format!("swap {src}"),
                _ => self.path.clone(),
            };
            let summary = match self.state.as_str() {
                "absent" => format!("remove {what} from {}", self.fstab),
                _ if text.lines().any(is_ours) => {
                    format!("update {what} in {}: {want}", self.fstab)
                }
                _ => format!("add {what} to {}: {want}", self.fstab),
            };
            let writer = Copy::writer(&self.fstab);
            let (change, write) =
                super::textfile::rewrite(&writer, old.is_some().then_some(&fact), n, summary);
            changes.push(change);
            script.push_str(&write);
            script.push('\n');
        }
        if self.state == "absent" && matches!(dir.kind, Kind::Dir) {
            // Ansible removes the mount point; only an empty one here.
            script.push_str(&format!("rmdir -- {q} 2>/dev/null || true\n"));
        }
        match self.state.as_str() {
            "mounted" if !mounted => {
                if matches!(dir.kind, Kind::Absent) {
                    changes.push(Change::new(format!("create directory {}", self.path)));
                    script.push_str(&safe_write::make_dir(&self.path, None, None, None));
                    script.push('\n');
                } else if !matches!(dir.kind, Kind::Dir) {
                    return Err(format!("{} exists and is not a directory", self.path));
                }
                changes.push(Change::new(format!("mount {}", self.path)));
                script.push_str(&format!("mount -T {} -- {q}\n", quote(&self.fstab)));
            }
            "mounted" if fstab_changed => {
                changes.push(Change::new(format!(
                    "remount {} (its entry changed)",
                    self.path
                )));
                script.push_str(&format!(
                    "umount -- {q} && mount -T {} -- {q}\n",
                    quote(&self.fstab)
                ));
            }
            "remounted" => {
                if !mounted {
                    return Err(format!("{} is not mounted; cannot remount it", self.path));
                }
                changes.push(Change::new(format!("remount {}", self.path)));
                script.push_str(&format!("mount -o remount -- {q}\n"));
            }
            _ => {}
        }
        if changes.is_empty() {
            return Ok(Plan::ok());
        }
        Ok(Plan::script(changes, script, self.reads()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::Run;
    use crate::modules::args::Args;
    use serde_json::{Map, Value, json};
    use std::collections::HashMap;
    use std::sync::Arc;

    fn mount(args: Value) -> std::result::Result<Mount, String> {
        let map: Map<String, Value> = args.as_object().unwrap().clone();
        let args = Args {
            map: map.clone(),
            locs: HashMap::new(),
            key_locs: HashMap::new(),
            loc: crate::location::Location::new(&Arc::new("t.yml".into()), 1, 1),
        };
        Mount::build(&Getter::new(&map, &args)).map_err(|e| e.to_string())
    }

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    const FSTAB: &str = "# UNCONFIGURED FSTAB FOR BASE SYSTEM\n";

    /// As the probe prints: fstab's stat (recorded on Debian 12), the mount point's, the content
    /// and /proc/mounts' second column.
    fn facts(fstab: &str, dir: bool, mounts: &str) -> String {
        let d = if dir {
            "stat\tdirectory\t755\troot\troot\t0\t0\t1764000000\t\"/srv/cache\"\n"
        } else {
            ""
        };
        let absent = if dir { "" } else { "absent\t1\n" };
        format!(
            "{absent}stats\nstat\tregular file\t644\troot\troot\t0\t0\t1764000000\t\"/etc/fstab\"\n{d}content\t{}\nmounts\t{}\n",
            b64(fstab),
            b64(mounts)
        )
    }

    fn summaries(p: &Plan) -> Vec<&str> {
        p.changes.iter().map(|c| c.summary.as_str()).collect()
    }

    const TMPFS: &str = "tmpfs /srv/cache tmpfs size=16m,mode=0755 0 0";

    #[test]
    #[allow(clippy::type_complexity)]
    fn table() {
        let base = json!({"path": "/srv/cache", "src": "tmpfs", "fstype": "tmpfs", "opts": "size=16m,mode=0755"});
        let with = |k: &str, v: Value| {
            let mut b = base.clone();
            b[k] = v;
            b
        };
        let ours = format!("{FSTAB}{TMPFS}\n");
        let old = format!("{FSTAB}tmpfs  /srv/cache  tmpfs  size=8m  0  0\n");
        let mounts = "/\n/proc\n/srv/cache\n";
        // (args, fstab, mount point exists, mounts, summaries)
        let table: Vec<(Value, &str, bool, &str, Vec<&str>)> = vec![
            (
                base.clone(),
                FSTAB,
                false,
                "/\n",
                vec![
                    "add /srv/cache to /etc/fstab: tmpfs /srv/cache tmpfs size=16m,mode=0755 0 0",
                    "create directory /srv/cache",
                    "mount /srv/cache",
                ],
            ),
            (base.clone(), &ours, true, mounts, vec![]),
            (
                base.clone(),
                &old,
                true,
                mounts,
                vec![
                    "update /srv/cache in /etc/fstab: tmpfs /srv/cache tmpfs size=16m,mode=0755 0 0",
                    "remount /srv/cache (its entry changed)",
                ],
            ),
            (
                with("state", json!("present")),
                FSTAB,
                false,
                "/\n",
                vec!["add /srv/cache to /etc/fstab: tmpfs /srv/cache tmpfs size=16m,mode=0755 0 0"],
            ),
            (
                with("state", json!("unmounted")),
                &ours,
                true,
                mounts,
                vec!["unmount /srv/cache"],
            ),
            (
                with("state", json!("unmounted")),
                &ours,
                true,
                "/\n",
                vec![],
            ),
            (
                json!({"path": "/srv/cache", "state": "absent"}),
                &ours,
                true,
                mounts,
                vec!["unmount /srv/cache", "remove /srv/cache from /etc/fstab"],
            ),
            (
                json!({"path": "/srv/cache", "state": "absent"}),
                FSTAB,
                true,
                "/\n",
                vec![],
            ),
            (
                with("state", json!("remounted")),
                &ours,
                true,
                mounts,
                vec!["remount /srv/cache"],
            ),
        ];
        for (args, fstab, dir, m, want) in table {
            let p = mount(args.clone())
                .unwrap()
                .plan(&facts(fstab, dir, m))
                .unwrap();
            assert_eq!(summaries(&p), want, "{args}");
        }
    }

    #[test]
    fn spaces_are_escaped_and_matched() {
        let m = mount(
            json!({"path": "/srv/my data", "src": "/dev/sdb1", "fstype": "ext4", "boot": false}),
        )
        .unwrap();
        assert_eq!(m.line(), "/dev/sdb1 /srv/my\\040data ext4 noauto 0 0");
        let f = "absent\t1\nstats\nstat\tregular file\t644\troot\troot\t0\t0\t1764000000\t\"/etc/fstab\"\n";
        let text = "/dev/sdb1 /srv/my\\040data ext4 noauto 0 0\n";
        let facts = format!("{f}content\t{}\nmounts\t{}\n", b64(text), b64("/\n"));
        let p = m.plan(&facts).unwrap();
        // The line is right; only the mount (and the directory) remain.
        assert_eq!(
            summaries(&p),
            ["create directory /srv/my data", "mount /srv/my data"]
        );
    }

    /// `path: none`: a swap line, told apart from other swap lines by its `src`; only fstab is
    /// looked at, and it is only for `present` and `absent`.
    #[test]
    fn swap_lines_with_none() {
        let m = |src: &str, state: &str| {
            mount(
                json!({"name": "none", "src": src, "fstype": "swap", "opts": "sw", "state": state}),
            )
        };
        let a = m("/swapfile", "present").unwrap();
        assert_eq!(a.looked_at(), ["/etc/fstab"]);
        assert_eq!(a.reads().len(), 1);
        let f = "stats\nstat\tregular file\t644\troot\troot\t0\t0\t1764000000\t\"/etc/fstab\"\n";
        let plan = |m: &Mount, text: &str| {
            let facts = format!("{f}content\t{}\nmounts\t{}\n", b64(text), b64("/\n"));
            m.plan(&facts).unwrap()
        };
        let other = "/dev/sdb2 none swap sw 0 0\n";
        // Another swap line stays; ours is added after it, once.
        assert_eq!(
            summaries(&plan(&a, other)),
            ["add swap /swapfile to /etc/fstab: /swapfile none swap sw 0 0"]
        );
        let both = format!("{other}/swapfile none swap sw 0 0\n");
        assert!(summaries(&plan(&a, &both)).is_empty());
        let gone = m("/swapfile", "absent").unwrap();
        let p = plan(&gone, &both);
        assert_eq!(summaries(&p), ["remove swap /swapfile from /etc/fstab"]);
        let Run::Script(script) = &p.run else {
            panic!("{p:?}")
        };
        assert!(!script.contains("rmdir"), "{script}");
        assert!(
            m("/swapfile", "mounted")
                .unwrap_err()
                .contains("state: present")
        );
    }

    #[test]
    fn errors() {
        assert!(
            mount(json!({"path": "/mnt/x"}))
                .unwrap_err()
                .contains("src")
        );
        assert!(mount(json!({"path": "rel", "state": "absent"})).is_err());
        assert!(mount(json!({"path": "/mnt/x", "src": "a b", "fstype": "ext4"})).is_err());
        assert!(mount(json!({"path": "/mnt/x", "src": "-o", "fstype": "ext4"})).is_err());
        let m = mount(json!({"path": "/srv/cache", "state": "remounted"})).unwrap();
        assert!(
            m.plan(&facts(FSTAB, true, "/\n"))
                .unwrap_err()
                .contains("not mounted")
        );
        assert!(m.plan("").is_err());
    }
}
