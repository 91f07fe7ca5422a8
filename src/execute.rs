//! Applies a plan on a host: runs its script, command or request, then judges the result with
//! `changed_when`, `failed_when` and `until` (the pure `verdict`), retrying as `until` asks.

use crate::event::Log;
use crate::modules::{Plan, Run};
use crate::outcome::{Outcome, Status};
use crate::task::Task;
use crate::task_instance::TaskInstance;
use crate::template::Vars;
use crate::transport::{HttpError, Transport, TransportError};
use serde_json::{Value, json};
use std::time::Duration;

/// Where and how a plan runs.
pub(crate) struct Target<'a> {
    pub(crate) t: &'a mut dyn Transport,
    pub(crate) sudo: Option<&'a str>,
    /// Run on the control machine (`delegate_to: localhost`): no diagnosis of the host.
    pub(crate) delegated: bool,
    /// The user to read the diagnosis as, after a failed check of the host.
    pub(crate) diagnosis_sudo: Option<&'a str>,
}

/// Runs `plan` (with `exports` before its script), as many times as `until` allows.
pub(crate) fn apply(
    target: Target,
    log: &Log,
    inst: &TaskInstance,
    vars: &Vars,
    o: Outcome,
    plan: &Plan,
    exports: &str,
) -> std::result::Result<Outcome, TransportError> {
    let Target {
        t,
        sudo,
        delegated,
        diagnosis_sudo,
    } = target;
    let task = inst.task;
    let attempts = attempts(task);
    // `timeout`/`async`: the host stops what the task runs after it (see time_limit.rs).
    let limit = task.time_limit.as_ref();
    let with_env = |s: &str| match limit {
        Some(l) => l.wrap(&format!("{exports}{s}")),
        None => format!("{exports}{s}"),
    };
    let expired = |out: &crate::transport::Output| {
        limit.filter(|_| crate::time_limit::TimeLimit::expired(out))
    };
    for attempt in 1..=attempts {
        let mut value = first_value(plan);
        let mut changed = !plan.changes.is_empty();
        let mut failed = false;
        let mut msg = String::new();
        match &plan.run {
            Run::Nothing => {}
            Run::Script(s) => {
                log.detail(1, format!("run:\n{}", sketch(s)));
                let out = t.run(&with_env(s), sudo)?;
                log.detail(2, format!("output (exit {}):\n{}", out.code, out.all()));
                if let Some(l) = expired(&out) {
                    failed = true;
                    msg = l.message();
                } else if out.code != 0 {
                    failed = true;
                    msg = exit_msg("failed (exit {})", out.code, &out.all());
                } else if crate::modules::script_said::script_said(&out.out, &mut value) {
                    changed = false;
                }
            }
            Run::Command(s) => {
                log.detail(1, format!("run:\n{}", sketch(s)));
                let out = t.run(&with_env(s), sudo)?;
                log.detail(2, format!("output (exit {}):\n{}", out.code, out.all()));
                crate::modules::command::result(&out, &mut value);
                if let Some(l) = expired(&out) {
                    failed = true;
                    msg = l.message();
                } else if out.code != 0 {
                    failed = true;
                    msg = exit_msg("non-zero exit {}", out.code, &out.all());
                }
            }
            Run::Http(req) => match follow(t, req, log) {
                Ok((req, resp)) => {
                    let (v, bad) = crate::modules::uri::check(&req, &resp);
                    value = v;
                    if let Some(m) = bad {
                        failed = true;
                        msg = m;
                    }
                }
                Err(HttpError::Request(e)) => {
                    failed = true;
                    msg = e;
                    value["status"] = json!(-1);
                }
            },
        }
        let v = verdict(
            inst, vars, &mut value, changed, failed, msg, attempt, attempts,
        );
        let mut msg = v.msg.clone();
        let last = v.done || attempt == attempts;
        if v.failed && last && matches!(plan.run, Run::Http(_)) && !delegated {
            msg = format!("{msg}{}", diagnose(t, diagnosis_sudo)?);
        }
        if last {
            return Ok(settle(o, &v, msg, value, attempt));
        }
        std::thread::sleep(Duration::from_secs_f64(task.delay));
    }
    unreachable!("the last attempt returns")
}

/// `req` made, and the redirects its `follow_redirects` follows (see `http_redirect`): the
/// last request and its answer.
fn follow(
    t: &mut dyn Transport,
    req: &crate::http::Request,
    log: &Log,
) -> Result<(crate::http::Request, crate::http::Response), HttpError> {
    let mut req = req.clone();
    for _ in 0..=crate::http_redirect::MAX {
        let resp = t.http(&req)?;
        match crate::http_redirect::next(&req, &resp) {
            None => return Ok((req, resp)),
            Some(Err(e)) => return Err(HttpError::Request(e)),
            Some(Ok(next)) => {
                log.detail(
                    1,
                    format!("{} answered {}: to {}", req.url, resp.status, next.url),
                );
                req = next;
            }
        }
    }
    Err(HttpError::Request(format!(
        "{}: more than {} redirects",
        req.url,
        crate::http_redirect::MAX
    )))
}

/// A result before anything ran: what the plan already knows (`stat`'s `stat`).
fn first_value(plan: &Plan) -> Value {
    let mut value = json!({"changed": false, "failed": false, "skipped": false, "msg": ""});
    if let Value::Object(v) = &mut value {
        v.extend(plan.result.clone());
    }
    value
}

/// The outcome of the last attempt, judged `v`, with `msg` as said.
fn settle(mut o: Outcome, v: &Verdict, msg: String, mut value: Value, attempt: u32) -> Outcome {
    o.status = if v.failed {
        Status::Failed
    } else if v.changed {
        Status::Changed
    } else {
        Status::Ok
    };
    if !v.changed {
        o.changes.clear();
    }
    o.msg = msg;
    value["msg"] = json!(o.msg);
    value["attempts"] = json!(attempt);
    o.value = value;
    o
}

/// A plan's script that ran once among a loop's items (see `item_batch`), with its exit code
/// and output (stdout and stderr together), judged as `apply` judges a single attempt.
pub(crate) fn judge_script(
    inst: &TaskInstance,
    vars: &Vars,
    o: Outcome,
    plan: &Plan,
    code: i32,
    output: &str,
) -> Outcome {
    let mut value = first_value(plan);
    let (failed, msg) = match code {
        0 => (false, String::new()),
        _ => (true, exit_msg("failed (exit {})", code, output)),
    };
    // The script may say its planned change was not needed after all.
    let said_unchanged = code == 0 && crate::modules::script_said::script_said(output, &mut value);
    let changed = !plan.changes.is_empty() && !said_unchanged;
    let v = verdict(inst, vars, &mut value, changed, failed, msg, 1, 1);
    let msg = v.msg.clone();
    settle(o, &v, msg, value, 1)
}

/// How many times a task runs at most: once, or `retries` + 1 with `until`.
fn attempts(task: &Task) -> u32 {
    if task.until.is_some() {
        task.retries.max(1) + 1
    } else {
        1
    }
}

/// What one attempt came to.
#[derive(Debug, PartialEq)]
pub(crate) struct Verdict {
    pub(crate) changed: bool,
    pub(crate) failed: bool,
    pub(crate) msg: String,
    /// `until` holds (or there is none): no further attempt.
    pub(crate) done: bool,
}

/// Judges one attempt's result `value` (what ran says `changed`, `failed` and `msg`) with the
/// task's `changed_when`, `failed_when` and `until`; writes `changed` and `failed` into it.
#[allow(clippy::too_many_arguments)]
pub(crate) fn verdict(
    inst: &TaskInstance,
    vars: &Vars,
    value: &mut Value,
    mut changed: bool,
    mut failed: bool,
    mut msg: String,
    attempt: u32,
    attempts: u32,
) -> Verdict {
    let task = inst.task;
    value["changed"] = json!(changed);
    value["failed"] = json!(failed);
    value["msg"] = json!(msg);
    // changed_when / failed_when / until see the result under its register name (built only
    // for a task that has one: it copies the task's variables).
    let rv = (task.changed_when.is_some() || task.failed_when.is_some())
        .then(|| inst.with_result(vars, value));
    if let (Some(c), Some(rv)) = (&task.changed_when, &rv) {
        match rv.condition(&c.value, &c.loc) {
            Ok(b) => changed = b,
            Err(e) => {
                failed = true;
                msg = e.one_line();
            }
        }
    }
    if let (Some(c), Some(rv)) = (&task.failed_when, &rv) {
        match rv.condition(&c.value, &c.loc) {
            Ok(b) => {
                failed = b;
                if !b {
                    msg.clear();
                } else if msg.is_empty() {
                    msg = format!(
                        "failed_when `{}` is true",
                        c.value.as_str().unwrap_or_default()
                    );
                }
            }
            Err(e) => {
                failed = true;
                msg = e.one_line();
            }
        }
    }
    value["changed"] = json!(changed);
    value["failed"] = json!(failed);
    let done = match &task.until {
        None => true,
        Some(u) => {
            let ok = inst
                .with_result(vars, value)
                .condition(&u.value, &u.loc)
                .unwrap_or(false);
            if !ok && attempt == attempts {
                failed = true;
                if msg.is_empty() {
                    msg = format!("`until` still false after {attempts} attempts");
                } else {
                    msg = format!("{msg} (after {attempts} attempts)");
                }
            }
            ok
        }
    };
    Verdict {
        changed,
        failed,
        msg,
        done,
    }
}

/// Evidence and hints after a failed verify step, as text to append to its message.
fn diagnose(
    t: &mut dyn Transport,
    sudo: Option<&str>,
) -> std::result::Result<String, TransportError> {
    let out = t.run(crate::diagnosis::SCRIPT, sudo)?.all();
    let mut text = String::new();
    if !out.trim().is_empty() {
        text.push('\n');
        text.push_str(out.trim_end());
    }
    for h in crate::diagnosis::hints(&out) {
        text.push_str(&format!("\nhint: {h}"));
    }
    Ok(text)
}

/// `what` (with `{}` for the code), then the output, or that there was none.
fn exit_msg(what: &str, code: i32, output: &str) -> String {
    let head = what.replace("{}", &code.to_string());
    match output.trim_end() {
        "" => format!("{head}, no output"),
        text => format!("{head}:\n{text}"),
    }
}

/// A script as a reader wants it: file contents sent as base64 are summarised, not dumped.
pub(crate) fn sketch(script: &str) -> String {
    let mut out = Vec::new();
    let mut inside = 0usize;
    for line in script.lines() {
        if inside > 0 {
            if line == "PLUMB_EOF" {
                out.push(format!("  [{} lines of base64 content]", inside - 1));
                out.push(line.to_string());
                inside = 0;
            } else {
                inside += 1;
            }
            continue;
        }
        out.push(line.to_string());
        if line.ends_with("<<'PLUMB_EOF'") {
            inside = 1;
        }
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::Doc;
    use serde_json::Map;

    fn task(yaml: &str) -> Task {
        let doc = Doc::parse("t.yml".into(), yaml, false).unwrap();
        Task::parse(&doc, &doc.root, false).unwrap()
    }

    /// Recorded from `command: systemctl is-active nginx` on a host where nginx was stopped:
    /// rc 3, stdout "inactive".
    fn inactive() -> Value {
        json!({"rc": 3, "stdout": "inactive", "stdout_lines": ["inactive"], "stderr": ""})
    }

    #[test]
    fn verdicts() {
        // (keywords, changed, failed, msg as run, attempt of 3) → (changed, failed, msg, done)
        type Row<'a> = (
            &'a str,
            bool,
            bool,
            &'a str,
            u32,
            (bool, bool, &'a str, bool),
        );
        let table: &[Row] = &[
            (
                "",
                true,
                true,
                "non-zero exit 3",
                1,
                (true, true, "non-zero exit 3", true),
            ),
            (
                "changed_when: false\n",
                true,
                false,
                "",
                1,
                (false, false, "", true),
            ),
            (
                "changed_when: out.rc == 3\n",
                false,
                false,
                "",
                1,
                (true, false, "", true),
            ),
            (
                "failed_when: false\n",
                true,
                true,
                "non-zero exit 3",
                1,
                (true, false, "", true),
            ),
            (
                "failed_when: \"'inactive' in out.stdout\"\n",
                true,
                false,
                "",
                1,
                (
                    true,
                    true,
                    "failed_when `'inactive' in out.stdout` is true",
                    true,
                ),
            ),
            (
                "failed_when: result.rc > 3\n",
                true,
                true,
                "non-zero exit 3",
                1,
                (true, false, "", true),
            ),
            (
                "until: out.rc == 0\nretries: 2\n",
                true,
                true,
                "x",
                1,
                (true, true, "x", false),
            ),
            (
                "until: out.rc == 0\nretries: 2\n",
                true,
                false,
                "",
                3,
                (true, true, "`until` still false after 3 attempts", false),
            ),
            (
                "until: out.rc == 0\nretries: 2\n",
                true,
                true,
                "non-zero exit 3",
                3,
                (true, true, "non-zero exit 3 (after 3 attempts)", false),
            ),
            (
                "until: out.rc == 3\nretries: 2\n",
                true,
                true,
                "x",
                1,
                (true, true, "x", true),
            ),
        ];
        for (keywords, changed, failed, msg, attempt, want) in table {
            let t = task(&format!(
                "command: systemctl is-active nginx\nregister: out\n{keywords}"
            ));
            let (base, deferred) = (Map::new(), Map::new());
            let inst = TaskInstance::new(&t, &base, &deferred);
            let mut value = inactive();
            let v = verdict(
                &inst,
                &inst.vars(),
                &mut value,
                *changed,
                *failed,
                msg.to_string(),
                *attempt,
                3,
            );
            let (c, f, m, d) = *want;
            assert_eq!(
                v,
                Verdict {
                    changed: c,
                    failed: f,
                    msg: m.into(),
                    done: d
                },
                "{keywords}"
            );
            // The result the conditions saw says whether it changed.
            assert_eq!(value["changed"], json!(c), "{keywords}");
        }
    }

    #[test]
    fn sketches_hide_file_contents() {
        let s = "mkdir -p /x\nbase64 -d > /x/f <<'PLUMB_EOF'\nAAAA\nBBBB\nPLUMB_EOF\nmv /x/f /x/g";
        assert_eq!(
            sketch(s),
            "mkdir -p /x\nbase64 -d > /x/f <<'PLUMB_EOF'\n  [2 lines of base64 content]\nPLUMB_EOF\nmv /x/f /x/g"
        );
        assert_eq!(
            exit_msg("failed (exit {})", 2, "  \n"),
            "failed (exit 2), no output"
        );
        assert_eq!(
            exit_msg("failed (exit {})", 2, "boom\n"),
            "failed (exit 2):\nboom"
        );
    }

    #[test]
    fn a_script_reports_results_and_no_change() {
        let mut v = json!({"changed": true});
        let said = crate::modules::script_said::script_said(
            "downloading\nplumb-result\t{\"status_code\": 200}\nplumb-unchanged\n",
            &mut v,
        );
        assert!(said);
        assert_eq!(v["status_code"], 200);
        let mut v = json!({});
        assert!(!crate::modules::script_said::script_said(
            "plumb-result\tnot json\nplumb-unchanged later\n",
            &mut v
        ));
        assert_eq!(v, json!({}));
    }
}
