//! Which `ansible_*` names a task may read, for validation: the facts a host may have, read
//! by name or through another host's entry in `hostvars`, and the hint for one that is not.

use crate::error::{Error, Result, suggest};
use serde_json::{Map, Value};
use std::collections::BTreeSet;

/// A name the host defines when its facts are known: `ansible_facts`, an injected `ansible_*`
/// fact that plumb gathers or a module returns (or a cacheable `set_fact` in `cached` adds),
/// or a connection variable. Any other `ansible_*` name is undefined, as on the host.
pub(super) fn host_defines(name: &str, cached: &BTreeSet<String>) -> bool {
    name == "ansible_facts"
        || name.strip_prefix("ansible_").is_some_and(|bare| {
            crate::facts::is_fact(bare)
                || cached.contains(bare)
                || crate::facts::is_connection(name)
        })
}

/// Whether a `set_fact`'s `cacheable` is on (as written: a template counts as on).
pub(super) fn cacheable(args: &Map<String, Value>) -> bool {
    match args.get("cacheable") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => {
            crate::template::has_template(s)
                || matches!(s.to_lowercase().as_str(), "yes" | "true" | "on" | "1")
        }
        _ => false,
    }
}

/// A hint for an undefined `ansible_*` name: the fact or connection variable it may be a
/// typo of, or that plumb does not gather it.
pub(super) fn fact_hint(e: Error, base: &Map<String, Value>, cached: &BTreeSet<String>) -> Error {
    let Some(root) = e.undefined_within().map(str::to_string) else {
        return e;
    };
    let Some(bare) = root.strip_prefix("ansible_").filter(|b| *b != "facts") else {
        return e;
    };
    if crate::magic::NOT_SET.contains(&root.as_str()) {
        return e.with_hint(format!("plumb does not set the magic variable `{root}`"));
    }
    if crate::facts::not_gathered(bare) {
        return e.with_hint(format!(
            "plumb does not gather the fact `{bare}` (it needs Python or a command on the host)"
        ));
    }
    let known: Vec<String> = crate::facts::all_injected()
        .chain(cached.iter().map(|c| format!("ansible_{c}")))
        .chain(base.keys().filter(|k| k.starts_with("ansible_")).cloned())
        .collect();
    match suggest(&root, known.iter().map(String::as_str)) {
        Some(s) => e.with_hint(format!("did you mean `{s}`?")),
        None => e,
    }
}

/// Every read of a fact by name (`ansible_facts.os_family`, `ansible_facts['os_family']`) in
/// the task's templates and conditions must name a fact a host may have (or that a cacheable
/// `set_fact` in `cached` adds), unless guarded (`is defined`, `| default`).
pub(super) fn fact_reads(task: &crate::task::Task, cached: &BTreeSet<String>) -> Result<()> {
    for (t, loc, bare) in texts(task) {
        for (off, name, guarded) in crate::jinja::fact_reads(t, bare) {
            if guarded || crate::facts::is_fact(&name) || cached.contains(&name) {
                continue;
            }
            let full = format!("ansible_facts.{name}");
            let err = Error::undefined_variable(loc.offset_in(t, off), &full);
            return Err(match not_a_fact(&name, cached) {
                Some(h) => err.with_hint(h.replace("`ansible_", "`ansible_facts.")),
                None => err,
            });
        }
    }
    Ok(())
}

/// Why `bare` is no fact: plumb does not gather it, or it is a typo of one.
fn not_a_fact(bare: &str, cached: &BTreeSet<String>) -> Option<String> {
    if crate::facts::not_gathered(bare) {
        return Some(format!(
            "plumb does not gather the fact `{bare}` (it needs Python or a command on the host)"
        ));
    }
    let mut known: Vec<&str> = crate::facts::known().collect();
    known.extend(cached.iter().map(String::as_str));
    suggest(bare, known).map(|s| format!("did you mean `ansible_{s}`?"))
}

/// Every `ansible_` name a task reads from a host's entry in `hostvars`
/// (`hostvars[h].ansible_distribution`, `hostvars[h].ansible_facts.os_family`) must be one a
/// host may have, unless guarded: a fact (or one a cacheable `set_fact` in `cached` adds), a
/// connection variable, or a name in `defined` (some host's variables, the run's magic ones,
/// what the playbook registers or sets). Another host's entry is only known on the host, but
/// a name no host can have is a typo now.
pub(super) fn entry_reads(
    task: &crate::task::Task,
    cached: &BTreeSet<String>,
    defined: &BTreeSet<String>,
) -> Result<()> {
    for (t, loc, bare) in texts(task) {
        for r in crate::jinja::entry_reads(t, bare) {
            let bare_name = match (&r.fact, r.name.strip_prefix("ansible_")) {
                (Some(f), Some("facts")) => f.as_str(),
                (None, Some(b)) if b != "facts" => b,
                _ => continue,
            };
            let ok = r.guarded
                || crate::facts::is_fact(bare_name)
                || cached.contains(bare_name)
                || (r.fact.is_none()
                    && (crate::facts::is_connection(&r.name)
                        || defined.contains(&r.name)
                        || crate::magic::NOT_SET.contains(&r.name.as_str())));
            if ok {
                continue;
            }
            let err = Error::undefined_variable(loc.offset_in(t, r.off), &r.written);
            let hint = match &r.fact {
                Some(_) => {
                    not_a_fact(bare_name, cached).map(|h| h.replace("`ansible_", "`ansible_facts."))
                }
                None if crate::facts::not_gathered(bare_name) => not_a_fact(bare_name, cached),
                None => {
                    let known: Vec<String> = crate::facts::all_injected()
                        .chain(cached.iter().map(|c| format!("ansible_{c}")))
                        .chain(
                            defined
                                .iter()
                                .filter(|d| d.starts_with("ansible_"))
                                .cloned(),
                        )
                        .collect();
                    suggest(&r.name, known.iter().map(String::as_str))
                        .map(|s| format!("did you mean `{s}`?"))
                }
            };
            return Err(match hint {
                Some(h) => err.with_hint(h),
                None => err,
            });
        }
    }
    Ok(())
}

/// A task's templates and conditions (`bare`), with where each is written.
fn texts(task: &crate::task::Task) -> Vec<(&str, &crate::location::Location, bool)> {
    fn strings<'v>(v: &'v Value, out: &mut Vec<&'v str>) {
        match v {
            Value::String(s) => out.push(s),
            Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
            Value::Object(o) => o.values().for_each(|x| strings(x, out)),
            _ => {}
        }
    }
    let mut templates: Vec<(&Value, &crate::location::Location)> = Vec::new();
    for (k, v) in &task.args.map {
        templates.push((v, task.args.loc_of(k)));
    }
    if let Some(l) = &task.loop_items {
        templates.push((&l.value, &l.loc));
    }
    for v in crate::task_env::templates(&task.environment) {
        templates.push((&v.value, &v.loc));
    }
    for (k, v) in &task.vars {
        templates.push((v, task.var_locs.get(k).unwrap_or(&task.loc)));
    }
    let mut out = Vec::new();
    for (v, loc) in templates {
        let mut texts = Vec::new();
        strings(v, &mut texts);
        out.extend(texts.into_iter().map(|t| (t, loc, false)));
    }
    let conditions = task.when.iter().chain(
        [&task.changed_when, &task.failed_when, &task.until]
            .into_iter()
            .flatten(),
    );
    for c in conditions {
        let mut texts = Vec::new();
        strings(&c.value, &mut texts);
        out.extend(texts.into_iter().map(|t| (t, &c.loc, true)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_read_from_another_hosts_entry_is_one_a_host_may_have() {
        let task = |when: &str| {
            let yaml = format!("debug: {{msg: x}}\nwhen: \"{when}\"\n");
            let doc = crate::yaml::Doc::parse("t.yml".into(), &yaml, false).unwrap();
            crate::task::Task::parse(&doc, &doc.root, false).unwrap()
        };
        let cached: BTreeSet<String> = ["tier".to_string()].into();
        let defined: BTreeSet<String> = ["ansible_custom".to_string()].into();
        // (condition) → the read that no host can have, with the hint
        let table = [
            ("hostvars[h].ansible_distribution == 'x'", None),
            ("hostvars[h].ansible_facts['os_family'] == 'x'", None),
            (
                "hostvars[h].ansible_tier and hostvars[h].ansible_facts.tier",
                None,
            ),
            (
                "hostvars[h].ansible_host == hostvars[h].ansible_custom",
                None,
            ),
            (
                "hostvars[h].ansible_typo is defined or hostvars[h].anything",
                None,
            ),
            (
                "hostvars[h].ansible_distrbution == 'x'",
                Some("`hostvars[h].ansible_distrbution` (did you mean `ansible_distribution`?)"),
            ),
            (
                "hostvars.db.ansible_facts.os_familly == 'x'",
                Some(
                    "`hostvars.db.ansible_facts.os_familly` (did you mean `ansible_facts.os_family`?)",
                ),
            ),
            (
                "hostvars[h]['ansible_python_version'] == '3'",
                Some(
                    "`hostvars[h]['ansible_python_version']` (plumb does not gather the fact `python_version` (it needs Python or a command on the host))",
                ),
            ),
        ];
        for (when, want) in table {
            let got = entry_reads(&task(when), &cached, &defined).err();
            let got = got.map(|e| e.one_line());
            match want {
                None => assert_eq!(got, None, "{when}"),
                Some(w) => assert!(
                    got.as_deref()
                        .is_some_and(|g| g.ends_with(&format!("undefined variable {w}"))),
                    "{when}: {got:?}"
                ),
            }
        }
    }
}
