//! Probes of many tasks merged: every path that any `file`/`copy`/`template` task reads goes
//! into one `stat` (and one `sha256sum`), every unit into one `systemctl show`. Each task then
//! gets back exactly the lines its own probe would have printed, so its pure parser and plan
//! are unchanged. On a host each process costs about a millisecond, and hosts share the CPU.

use crate::modules::{Action, file_fact};
use crate::play::Play;
use crate::tags::TagFilter;
use crate::task_instance::TaskInstance;
use serde_json::{Map, Value};
use std::collections::HashSet;
use std::path::Path;

pub(crate) use crate::modules::Need;

/// What the probe of a task that has one needs, as its module says (its probe text is not
/// made again: a loop's items would each make it twice).
fn need(action: &Action) -> Option<Need> {
    action.module().map(|m| m.need())
}

/// The merged `stat` + `sha256sum` snippet for all these paths.
fn files_probe(paths: &[String], sums: &[String]) -> String {
    let p: Vec<&str> = paths.iter().map(String::as_str).collect();
    let s: Vec<&str> = sums.iter().map(String::as_str).collect();
    file_fact::probe(&p, &s)
}

/// What one task's own probe would have printed, from a merged file probe's output: the
/// records of its paths, re-indexed. A merged output that does not parse is an error for every
/// task that reads it, never "no change".
#[cfg(test)]
pub(crate) fn select_files(
    output: &str,
    all: &[String],
    paths: &[String],
    sums: &[String],
) -> Result<String, String> {
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    let recs = file_fact::records(output, &refs)?;
    select_records(&recs, &index_of(all), paths, sums)
}

/// Each path's place in `all` (the first, if twice).
fn index_of(all: &[String]) -> std::collections::HashMap<&str, usize> {
    let mut at = std::collections::HashMap::with_capacity(all.len());
    for (i, p) in all.iter().enumerate() {
        at.entry(p.as_str()).or_insert(i);
    }
    at
}

/// `select_files` on records parsed once for all the tasks of a batch (a loop of hundreds of
/// items would otherwise parse the merged output once per item).
fn select_records(
    recs: &[file_fact::Rec],
    at: &std::collections::HashMap<&str, usize>,
    paths: &[String],
    sums: &[String],
) -> Result<String, String> {
    let mine = paths
        .iter()
        .map(|p| {
            let i = *at
                .get(p.as_str())
                .ok_or_else(|| format!("probe failed: {p} was not probed"))?;
            Ok((&recs[i], sums.contains(p)))
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(file_fact::render(&mine))
}

/// The lines `stat --printf '%n\t%Y\n' -- PATHS` would print, from the merged `stat`'s
/// records (each path in it, see `Batch::merge`): only for the paths that exist, as there.
fn mtimes(
    recs: &[file_fact::Rec],
    at: &std::collections::HashMap<&str, usize>,
    paths: &[String],
) -> String {
    let mut out = String::new();
    for p in paths {
        if let Some(file_fact::Rec::Found(line, _)) = at.get(p.as_str()).map(|&i| &recs[i])
            && let Some(t) = line.split('\t').nth(7)
        {
            out.push_str(&format!("{p}\t{t}\n"));
        }
    }
    out
}

/// The merged `systemctl show` for several units.
fn units_probe(units: &[String]) -> String {
    let q: Vec<String> = units.iter().map(|u| crate::shell::quote(u)).collect();
    format!(
        "systemctl show -p {} -- {} 2>&1",
        crate::modules::service::PROPS,
        q.join(" ")
    )
}

/// Splits `systemctl show` output for several units into one block per unit, in order; None
/// when it is not that (an error message, say), so each task probes alone.
fn split_units(output: &str, count: usize) -> Option<Vec<String>> {
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

/// A task's own probe text, what it needs, its sudo user.
type Wanted = (String, Need, Option<String>);

/// The probes of `tasks` (of `play`) that render before any of them runs (`base`: the host's
/// variables), each with what it needs and its sudo user; and the probes of `no_log` tasks.
pub(crate) fn wanted(
    play: &Play,
    tasks: &[crate::task::Task],
    tags: &TagFilter,
    base: &std::sync::Arc<Map<String, Value>>,
    deferred: &Map<String, Value>,
    base_dir: &Path,
    keep: Option<(
        &mut crate::prepared::Prepared,
        Option<&mut crate::prepared::Prepared>,
    )>,
) -> (Vec<Wanted>, Vec<String>) {
    // Where the items built now are kept for the run, and what validation built before.
    let (mut keep, mut prior) = match keep {
        Some((k, p)) => (Some(k), p),
        None => (None, None),
    };
    let mut wanted: Vec<Wanted> = Vec::new();
    // Probes of `no_log` tasks: each runs as its own snippet (never merged), so its section
    // can be left out of what -vv prints.
    let mut hidden: Vec<String> = Vec::new();
    // What `set_fact` and `include_vars` set is known before the run (they run on the control
    // machine): later tasks that read it are probed with the others.
    let mut sets: Option<Map<String, Value>> = None;
    // Keyed by long probe texts, plumb's own: a fast hash (see `fact_cache`).
    let mut seen: std::collections::HashMap<
        (String, Option<String>),
        usize,
        foldhash::fast::RandomState,
    > = Default::default();
    for task in tasks {
        let base_now: &Map<String, Value> = sets.as_ref().unwrap_or(base);
        let mut pending: Map<String, Value> = Map::new();
        // Run elsewhere (`delegate_to`, `connection`): probed where it runs.
        if task.delegate_to.is_some() || task.connection.is_some() || !task.selected(tags) {
            continue;
        }
        let inst = match &sets {
            Some(_) => TaskInstance::new(task, base_now, deferred),
            // The host's variables as they are: shared by every item, not copied.
            None => TaskInstance::new(task, base_now, deferred).with_known(base.clone()),
        };
        let Ok(items) = inst.items(&inst.vars()) else {
            continue;
        };
        for (n, item) in items.into_iter().enumerate() {
            let vars = inst.item_vars(item.as_ref()).0;
            if !matches!(inst.when(&vars), Ok(true)) {
                continue;
            }
            let Ok(sudo) = inst.sudo(play, &vars) else {
                continue;
            };
            // Built once for the probe and the run, where the run cannot build another;
            // by validation already, where that holds since.
            let taken = match (&sets, &keep, prior.as_deref_mut()) {
                (None, Some(_), Some(p)) => p.take(task, n, item.as_ref(), base),
                _ => None,
            };
            let (action, pure, probe) = match (taken, &sets, &keep) {
                (Some((a, p)), _, _) => (Ok(a), true, Some(Ok(p))),
                (None, None, Some(_)) => {
                    let (a, pure) = inst.action_plain(item.as_ref(), &vars, base_dir);
                    (a, pure, None)
                }
                _ => (inst.action(&vars, base_dir), false, None),
            };
            if let Ok(Action::SetFact(crate::modules::set_fact::SetFact { vars: v, .. }))
            | Ok(Action::IncludeVars(crate::modules::include_vars::IncludeVars {
                vars: v,
                ..
            })) = &action
            {
                pending.extend(v.clone());
            }
            let Ok(action) = action else {
                continue;
            };
            let probe = probe.unwrap_or_else(|| inst.probe(&action, &vars));
            if pure && let (Some(k), Ok(p)) = (keep.as_deref_mut(), &probe) {
                k.keep(task, n, item.as_ref(), (action.clone(), p.clone()));
            }
            if let (Ok(Some(p)), Some(need)) = (probe, need(&action)) {
                if task.no_log && !hidden.contains(&p) {
                    hidden.push(p.clone());
                }
                let need = if hidden.contains(&p) { Need::Own } else { need };
                // By index: a loop's items share long probe texts, compared in full otherwise.
                let key = (p, sudo.clone());
                match seen.get(&key) {
                    Some(&i) if hidden.contains(&key.0) => wanted[i].1 = need,
                    Some(_) => {}
                    None => {
                        seen.insert(key.clone(), wanted.len());
                        wanted.push((key.0, need, key.1));
                    }
                }
            }
        }
        if !pending.is_empty() {
            let mut next = base_now.clone();
            next.extend(pending);
            sets = Some(next);
        }
    }
    (wanted, hidden)
}

/// One sudo user's probes merged into one script: the merged file and unit snippets, then each
/// probe that runs as its own snippet.
pub(crate) struct Batch {
    pub(crate) user: Option<String>,
    /// The task probes it answers, with what each needs.
    tasks: Vec<(String, Need)>,
    paths: Vec<String>,
    units: Vec<String>,
    files_snippet: Option<String>,
    units_snippet: Option<String>,
    own: Vec<String>,
}

impl Batch {
    /// Groups `wanted` (a task's probe, what it needs, its sudo user) by sudo user, in the order
    /// first wanted, and merges each group.
    pub(crate) fn plan(wanted: Vec<Wanted>) -> Vec<Batch> {
        let mut users: Vec<Option<String>> = Vec::new();
        for (_, _, u) in &wanted {
            if !users.contains(u) {
                users.push(u.clone());
            }
        }
        let mut wanted: Vec<Option<Wanted>> = wanted.into_iter().map(Some).collect();
        users
            .into_iter()
            .map(|user| {
                let tasks: Vec<(String, Need)> = wanted
                    .iter_mut()
                    .filter(|w| w.as_ref().is_some_and(|(_, _, u)| *u == user))
                    .filter_map(Option::take)
                    .map(|(p, n, _)| (p, n))
                    .collect();
                Batch::merge(user, tasks)
            })
            .collect()
    }

    fn merge(user: Option<String>, tasks: Vec<(String, Need)>) -> Batch {
        let (mut paths, mut sums, mut units) = (Vec::new(), Vec::new(), Vec::new());
        // Sets beside the lists: a loop's items bring hundreds of paths.
        let (mut in_paths, mut in_sums) = (HashSet::new(), HashSet::new());
        let mut own: Vec<String> = Vec::new();
        for (p, need) in &tasks {
            match need {
                Need::Files {
                    paths: ps,
                    sums: ss,
                } => {
                    for x in ps {
                        if in_paths.insert(x.clone()) {
                            paths.push(x.clone());
                        }
                    }
                    for x in ss {
                        if in_sums.insert(x.clone()) {
                            sums.push(x.clone());
                        }
                    }
                }
                Need::Unit(u) => {
                    if !units.contains(u) {
                        units.push(u.clone());
                    }
                }
                Need::Mtimes { paths: ps, rest } => {
                    for x in ps {
                        if in_paths.insert(x.clone()) {
                            paths.push(x.clone());
                        }
                    }
                    own.push(rest.clone());
                }
                Need::Own => own.push(p.clone()),
            }
        }
        let files_snippet = (!paths.is_empty()).then(|| files_probe(&paths, &sums));
        let units_snippet = (!units.is_empty()).then(|| units_probe(&units));
        Batch {
            user,
            tasks,
            paths,
            units,
            files_snippet,
            units_snippet,
            own,
        }
    }

    /// How many task probes it answers.
    pub(crate) fn task_count(&self) -> usize {
        self.tasks.len()
    }

    /// The snippets of its script, in order.
    pub(crate) fn snippets(&self) -> Vec<&str> {
        let mut snippets: Vec<&str> = Vec::new();
        snippets.extend(self.files_snippet.as_deref());
        snippets.extend(self.units_snippet.as_deref());
        snippets.extend(self.own.iter().map(String::as_str));
        snippets
    }

    /// Every task probe it answers, with the same error (the framing was forged).
    pub(crate) fn all_failed(&self, e: &str) -> Vec<(String, (i32, String))> {
        self.tasks
            .iter()
            .map(|(p, _)| (p.clone(), (1, e.to_string())))
            .collect()
    }

    /// Each task probe's own output (exit code, text), from the script's parts, one per
    /// snippet. A probe whose part says nothing usable for it gets nothing (it probes alone).
    pub(crate) fn answers(&self, mut parts: Vec<(i32, String)>) -> Vec<(String, (i32, String))> {
        let mut out = Vec::new();
        let files_part = self.files_snippet.as_ref().map(|_| parts.remove(0));
        let refs: Vec<&str> = self.paths.iter().map(String::as_str).collect();
        let at = index_of(&self.paths);
        // Parsed once; a merged output that does not parse fails every task that reads it.
        let recs = files_part
            .as_ref()
            .map(|(_, text)| file_fact::records(text, &refs));
        let unit_blocks = self.units_snippet.as_ref().and_then(|_| {
            let (code, text) = parts.remove(0);
            split_units(&text, self.units.len()).map(|b| (code, b))
        });
        // The own snippets that are the rest of a probe whose times the files' `stat` read.
        let rests: HashSet<&str> = (self.tasks.iter())
            .filter_map(|(_, n)| match n {
                Need::Mtimes { rest, .. } => Some(rest.as_str()),
                _ => None,
            })
            .collect();
        let mut rest_parts: std::collections::HashMap<&str, (i32, String)> = Default::default();
        for (snip, part) in self.own.iter().zip(parts) {
            if rests.contains(snip.as_str()) {
                rest_parts.insert(snip, part);
            } else {
                out.push((snip.clone(), part));
            }
        }
        for (p, need) in &self.tasks {
            let facts = match need {
                Need::Files {
                    paths: ps,
                    sums: ss,
                } => files_part
                    .as_ref()
                    .zip(recs.as_ref())
                    .map(|((code, _), recs)| {
                        match recs
                            .as_ref()
                            .map_err(Clone::clone)
                            .and_then(|r| select_records(r, &at, ps, ss))
                        {
                            Ok(t) => (*code, t),
                            // Exit 1 makes it the task's "could not read the current state".
                            Err(e) => (1, e),
                        }
                    }),
                Need::Unit(u) => unit_blocks.as_ref().and_then(|(code, blocks)| {
                    let i = self.units.iter().position(|x| x == u)?;
                    Some((*code, blocks[i].clone()))
                }),
                Need::Mtimes { paths: ps, rest } => {
                    rest_parts.get(rest.as_str()).map(|(code, text)| {
                        match recs.as_ref().map(|r| r.as_ref().map_err(Clone::clone)) {
                            Some(Ok(r)) => (*code, format!("{text}{}", mtimes(r, &at, ps))),
                            Some(Err(e)) => (1, e),
                            None => (1, "probe failed: no stat of the files".to_string()),
                        }
                    })
                }
                Need::Own => None,
            };
            if let Some(f) = facts {
                out.push((p.clone(), f));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// apt's cache times come from the files' `stat`, as its own `stat` would print them
    /// (none for a path that does not exist); its own part keeps its exit code.
    #[test]
    fn apt_times_come_from_the_files_stat() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<String>>();
        let times = s(&["/proc/self/", "/var/lib/apt/stamp", "/var/lib/apt/lists"]);
        let wanted = vec![
            (
                "FILE".to_string(),
                Need::Files {
                    paths: s(&["/etc/a"]),
                    sums: vec![],
                },
                None,
            ),
            (
                "APT".to_string(),
                Need::Mtimes {
                    paths: times.clone(),
                    rest: "REST".into(),
                },
                None,
            ),
        ];
        let b = Batch::plan(wanted).remove(0);
        let snippets = b.snippets();
        assert_eq!(snippets.len(), 2, "{snippets:?}");
        assert!(snippets[0].contains("/var/lib/apt/lists") && snippets[1] == "REST");
        let files = "absent\t2\nstats\n\
                     stat\tregular file\t644\troot\troot\t0\t0\t1700000000\t\"/etc/a\"\n\
                     stat\tdirectory\t555\troot\troot\t0\t0\t1764000100\t\"/proc/self/\"\n\
                     stat\tdirectory\t755\troot\troot\t0\t0\t1764000000\t\"/var/lib/apt/lists\"\n";
        let out = b.answers(vec![(0, files.into()), (5, "pkg\tx\nlists\tyes\n".into())]);
        let apt: Vec<_> = out.iter().filter(|(p, _)| p == "APT").collect();
        assert_eq!(
            apt,
            [&(
                "APT".to_string(),
                (
                    5,
                    "pkg\tx\nlists\tyes\n/proc/self/\t1764000100\n/var/lib/apt/lists\t1764000000\n"
                        .to_string()
                )
            )]
        );
        // Its rest is not an answer of its own; the file task gets its record.
        assert!(out.iter().all(|(p, _)| p != "REST"));
        assert!(
            out.iter()
                .any(|(p, (_, t))| p == "FILE" && t.contains("\"/etc/a\""))
        );
        // A merged output that does not parse fails it, never "no change".
        let out = b.answers(vec![(0, "garbage\n".into()), (0, "lists\tyes\n".into())]);
        let apt = out.iter().find(|(p, _)| p == "APT").expect("answered");
        assert_eq!(apt.1.0, 1, "{apt:?}");
    }

    #[test]
    fn file_records_go_to_their_tasks() {
        let all: Vec<String> = ["/srv/b", "/srv/a", "/srv/a2"].map(String::from).to_vec();
        let out = "absent\t0\nstats\n\
                   stat\tregular file\t644\troot\troot\t0\t0\t1764000000\t\"/srv/a\"\n\
                   stat\tregular file\t600\troot\troot\t0\t0\t1764000000\t\"/srv/a2\"\n\
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

    #[test]
    fn probes_are_grouped_by_sudo_user_and_answered_in_order() {
        let root = Some("root".to_string());
        let wanted = vec![
            ("a".to_string(), Need::Own, None),
            ("b".to_string(), Need::Own, root.clone()),
            (
                "f".to_string(),
                Need::Files {
                    paths: vec!["/etc/x".into()],
                    sums: vec![],
                },
                None,
            ),
            ("c".to_string(), Need::Own, None),
        ];
        let batches = Batch::plan(wanted);
        // (user, task probes, own snippets after the merged file probe)
        assert_eq!(batches.len(), 2);
        assert_eq!(
            (batches[0].user.clone(), batches[0].task_count()),
            (None, 3)
        );
        assert_eq!(
            (batches[1].user.clone(), batches[1].task_count()),
            (root, 1)
        );
        let snippets = batches[0].snippets();
        assert_eq!(snippets.len(), 3);
        assert!(snippets[0].contains("/etc/x"), "{snippets:?}");
        assert_eq!(&snippets[1..], ["a", "c"]);
        assert_eq!(batches[1].snippets(), ["b"]);
        let answers = batches[1].answers(vec![(0, "B".into())]);
        assert_eq!(answers, [("b".to_string(), (0, "B".to_string()))]);
        let failed = batches[0].all_failed("forged");
        assert_eq!(failed.len(), 3);
        assert!(
            failed
                .iter()
                .all(|(_, (code, e))| *code == 1 && e == "forged")
        );
    }
}
