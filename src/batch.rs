//! Probes of many tasks merged: every path that any `file`/`copy`/`template` task reads goes
//! into one `stat` (and one `sha256sum`), every unit into one `systemctl show`. Each task then
//! gets back exactly the lines its own probe would have printed, so its pure parser and plan
//! are unchanged. On a host each process costs about a millisecond, and hosts share the CPU.

use crate::modules::{Action, file_fact};

/// What one task's probe needs, in merged form.
pub enum Need {
    Files {
        paths: Vec<String>,
        sums: Vec<String>,
    },
    Unit(String),
    /// Anything else runs its own snippet.
    Own(String),
}

pub fn need(action: &Action) -> Option<Need> {
    let probe = action.probe()?;
    Some(match action {
        Action::File(f) => Need::Files {
            paths: vec![f.path.clone()],
            sums: vec![],
        },
        Action::Copy(c) => Need::Files {
            paths: c
                .dirs
                .iter()
                .cloned()
                .chain(c.entries.iter().map(|e| e.dest.clone()))
                .collect(),
            sums: c.entries.iter().map(|e| e.dest.clone()).collect(),
        },
        Action::Service(s) if s.unit.is_some() => Need::Unit(s.unit.clone().unwrap_or_default()),
        _ => Need::Own(probe),
    })
}

/// The merged `stat` + `sha256sum` snippet for all these paths.
pub fn files_probe(paths: &[String], sums: &[String]) -> String {
    let p: Vec<&str> = paths.iter().map(String::as_str).collect();
    let s: Vec<&str> = sums.iter().map(String::as_str).collect();
    file_fact::probe(&p, &s)
}

/// What one task's own probe would have printed, from a merged file probe's output: the
/// records of its paths, re-indexed. A merged output that does not parse is an error for every
/// task that reads it, never "no change".
pub fn select_files(
    output: &str,
    all: &[String],
    paths: &[String],
    sums: &[String],
) -> Result<String, String> {
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    let recs = file_fact::records(output, &all)?;
    let mine = paths
        .iter()
        .map(|p| {
            let i = all
                .iter()
                .position(|x| x == p)
                .ok_or_else(|| format!("probe failed: {p} was not probed"))?;
            Ok((&recs[i], sums.contains(p)))
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(file_fact::render(&mine))
}

/// The merged `systemctl show` for several units.
pub fn units_probe(units: &[String]) -> String {
    let q: Vec<String> = units.iter().map(|u| crate::shell::quote(u)).collect();
    format!(
        "systemctl show -p {} -- {} 2>&1",
        crate::modules::service::PROPS,
        q.join(" ")
    )
}

/// Splits `systemctl show` output for several units into one block per unit, in order; None
/// when it is not that (an error message, say), so each task probes alone.
pub fn split_units(output: &str, count: usize) -> Option<Vec<String>> {
    let blocks: Vec<String> = output
        .trim_end()
        .split("\n\n")
        .map(|b| format!("{}\n", b.trim()))
        .collect();
    // Each block holds known properties, each at most once (a socket has no MainPID), and
    // its Id and LoadState, so no value can pass for the start of another unit's block.
    let props: Vec<&str> = crate::modules::service::PROPS.split(',').collect();
    let one_unit = |b: &String| {
        let keys: Vec<&str> = b
            .lines()
            .map(|l| l.split('=').next().unwrap_or(""))
            .collect();
        keys.iter().all(|k| props.contains(k))
            && props
                .iter()
                .all(|p| keys.iter().filter(|k| *k == p).count() <= 1)
            && ["Id", "LoadState"].iter().all(|p| keys.contains(p))
    };
    let looks_right = blocks.len() == count && blocks.iter().all(one_unit);
    looks_right.then_some(blocks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_records_go_to_their_tasks() {
        let all: Vec<String> = ["/srv/b", "/srv/a", "/srv/a2"].map(String::from).to_vec();
        let out = "absent\t0\nstats\n\
                   stat\tregular file\t644\troot\troot\t0\t0\t\"/srv/a\"\n\
                   stat\tregular file\t600\troot\troot\t0\t0\t\"/srv/a2\"\n\
                   sums\t 1\n\
                   e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  /srv/a\n";
        let a = select_files(out, &all, &["/srv/a".into()], &["/srv/a".into()]).unwrap();
        let facts = file_fact::parse(&a, &["/srv/a"]).unwrap();
        assert_eq!(facts[0].sha256.as_deref().map(str::len), Some(64));
        // A task that does not want the sum does not get it.
        let a = select_files(out, &all, &["/srv/a2".into(), "/srv/a".into()], &[]).unwrap();
        let facts = file_fact::parse(&a, &["/srv/a2", "/srv/a"]).unwrap();
        assert_eq!((facts[0].mode, facts[1].mode), (0o600, 0o644));
        assert!(facts[1].sha256.is_none());
        let b = select_files(out, &all, &["/srv/b".into()], &[]).unwrap();
        assert_eq!(
            file_fact::parse(&b, &["/srv/b"]).unwrap()[0].kind,
            file_fact::Kind::Absent
        );
        // A forged record anywhere in the merged output fails every task that reads it.
        let forged = out.replace("absent\t0\n", "absent\t0\nabsent\t1\n");
        for p in ["/srv/a", "/srv/b"] {
            let e = select_files(&forged, &all, &[p.into()], &[]).unwrap_err();
            assert!(e.contains("probe failed"), "{e}");
        }
    }

    #[test]
    fn unit_blocks_in_order() {
        // Recorded: `systemctl show -p … ssh.service nope.service systemd-journald.socket` on
        // Debian 12 (a socket has no MainPID).
        let out = "MainPID=35\nId=ssh.service\nLoadState=loaded\nActiveState=active\nSubState=running\nUnitFileState=enabled\nNeedDaemonReload=no\n\nMainPID=0\nId=nope.service\nLoadState=not-found\nActiveState=inactive\nSubState=dead\nUnitFileState=\nNeedDaemonReload=no\n\nId=systemd-journald.socket\nLoadState=loaded\nActiveState=active\nSubState=running\nUnitFileState=static\nNeedDaemonReload=no\n";
        let b = split_units(out, 3).unwrap();
        assert!(b[0].contains("Id=ssh.service"));
        assert!(b[1].contains("LoadState=not-found"));
        assert!(split_units("Failed to connect to bus: No such file or directory\n", 2).is_none());
        assert!(split_units(out, 2).is_none());
        // A block with a property twice, or a stray line: not trusted (each task probes alone).
        let twice = out.replacen("MainPID=35\n", "MainPID=35\nActiveState=inactive\n", 1);
        assert!(split_units(&twice, 3).is_none());
        let stray = out.replacen("MainPID=35\n", "MainPID=35\nx\n", 1);
        assert!(split_units(&stray, 3).is_none());
    }
}
