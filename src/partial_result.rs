//! What a plan knows of a registered result that only applying produces whole (a command that
//! runs on apply, a change not made): the fields whose planned value is the one applying
//! registers, and which fields the module's result may hold at all. A read of another field
//! is then known only when applied (the task that reads it may change), or, if the module's
//! result never holds it, a typo.

use crate::jinja::Use;
use crate::task::Task;

/// What a plan knows of one registered result.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct PartialResult {
    /// The fields whose planned value is the one applying registers.
    known: Vec<String>,
    /// Every field the result may hold, when the module's registry row lists them (a read of
    /// another is a typo); None: any.
    fields: Option<&'static [&'static str]>,
    /// The module, for the typo's message.
    module: String,
}

/// A read a plan cannot answer.
#[derive(Debug, PartialEq)]
pub(crate) enum Unknown {
    /// Of a value known only when applied (`r.stdout`, or `r` whole).
    Value(String),
    /// Of a field the module's result never holds: its byte offset in the text read, the
    /// message, and a hint.
    Typo(usize, String, Option<String>),
}

impl PartialResult {
    /// The result of `task` (a loop's results hold any field), of which the plan knows `known`.
    pub(crate) fn of(task: &Task, known: Vec<String>) -> PartialResult {
        let fields = match task.loop_items {
            Some(_) => None,
            None => crate::modules::registry::returns(&task.module),
        };
        PartialResult {
            known,
            fields,
            module: task.module.clone(),
        }
    }

    /// A loop's result made of such items: its own fields are none of theirs.
    pub(crate) fn looped(&self) -> PartialResult {
        PartialResult::default()
    }

    /// The first read of this result, registered as `name`, in `text` (a condition when
    /// `bare`, else a string with templates) that the plan cannot answer.
    pub(crate) fn read(&self, name: &str, text: &str, bare: bool) -> Option<Unknown> {
        let mut first = None;
        for u in crate::jinja::uses_of(text, bare, name) {
            let unknown = match u {
                Use::Field(_, f, _) if self.known.contains(&f) => None,
                Use::Field(off, f, guarded) => match self.fields {
                    Some(all) if !guarded && !crate::modules::returns::has(all, &f) => {
                        let hint = crate::error::suggest(&f, crate::modules::returns::all(all))
                            .map(|s| format!("did you mean `{name}.{s}`?"));
                        let msg = format!(
                            "`{name}.{f}`: a `{}` result has no field `{f}`",
                            self.module
                        );
                        // Certain wherever it is: said before anything unknown.
                        return Some(Unknown::Typo(off, msg, hint));
                    }
                    _ => Some(Unknown::Value(format!("{name}.{f}"))),
                },
                Use::Test(t) => match test_field(&t) {
                    Some(Some(f)) if self.known.iter().any(|k| k == f) => None,
                    Some(None) => None,
                    _ => Some(Unknown::Value(name.to_string())),
                },
                Use::Whole => Some(Unknown::Value(name.to_string())),
            };
            first = first.or(unknown);
        }
        first
    }
}

/// The field a test of a whole result reads (`changed` for `r is changed`), Some(None) for a
/// test any result passes the same way (`r is defined`), None for any other.
fn test_field(test: &str) -> Option<Option<&'static str>> {
    Some(match test {
        "changed" | "change" => Some("changed"),
        "failed" | "failure" | "succeeded" | "success" | "successful" => Some("failed"),
        "skipped" | "skip" => Some("skipped"),
        "defined" | "undefined" | "mapping" => None,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(yaml: &str) -> Task {
        let doc = crate::yaml::Doc::parse("t.yml".into(), yaml, false).unwrap();
        Task::parse(&doc, &doc.root, false).unwrap()
    }

    #[test]
    fn reads_known_unknown_and_typos() {
        let value = |s: &str| Some(Unknown::Value(s.into()));
        let command = task("command: x\nregister: r\n");
        let ran = PartialResult::of(&command, vec!["skipped".into()]);
        let certain = PartialResult::of(
            &task("file: {path: /x}\nregister: r\n"),
            vec!["changed".into(), "failed".into(), "skipped".into()],
        );
        let looped =
            PartialResult::of(&task("command: x\nloop: [1]\nregister: r\n"), vec![]).looped();
        let uri = PartialResult::of(&task("uri: {url: 'http://h/'}\nregister: r\n"), vec![]);
        // (result, condition) → what the plan cannot answer
        let table: Vec<(&PartialResult, &str, Option<Unknown>)> = vec![
            (&ran, "r.stdout == 'x'", value("r.stdout")),
            (&ran, "r.rc != 0", value("r.rc")),
            (&ran, "r is changed", value("r")),
            (&ran, "r is not skipped", None),
            (&ran, "r is defined and x", None),
            (&ran, "r.stdot is defined", value("r.stdot")),
            (&ran, "r | length > 1", value("r")),
            (&certain, "r is changed and r is succeeded", None),
            (&certain, "r.path == '/x'", value("r.path")),
            (&looped, "r.results | length", value("r.results")),
            (&looped, "r.resuls", value("r.resuls")),
            (&uri, "r.content_type == 'x'", value("r.content_type")),
            (&ran, "q", None),
        ];
        for (p, text, want) in table {
            assert_eq!(p.read("r", text, true), want, "{text}");
        }
        // A field no `command` result holds, wherever it is read.
        let Some(Unknown::Typo(off, msg, hint)) = ran.read("r", "r.rc and r.stdot == 'x'", true)
        else {
            panic!("no typo found");
        };
        assert_eq!(off, 11);
        assert_eq!(msg, "`r.stdot`: a `command` result has no field `stdot`");
        assert_eq!(hint.as_deref(), Some("did you mean `r.stdout`?"));
        assert!(matches!(
            certain.read("r", "{{ r.sise }}", false),
            Some(Unknown::Typo(5, _, _))
        ));
    }
}
