//! The only place that prints: task lines as they finish, diffs, the recap, JSON, and errors.

use crate::error::Error;
use crate::event::{Event, HostReport, TaskReport};
use crate::outcome::{HostStatus, Status};
use serde::{Deserialize, Serialize};
use std::io::{IsTerminal, Write};
use std::time::Duration;

/// The document `--output json` prints, as `plumb recap` reads it back.
#[derive(Debug, Deserialize)]
pub(crate) struct RunDoc {
    pub(crate) mode: String,
    pub(crate) hosts: Vec<HostReport>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum OutputFormat {
    Human,
    Json,
}

pub(crate) struct Report {
    format: OutputFormat,
    color: bool,
    pub(crate) verbose: u8,
    check: bool,
    hosts: Vec<HostReport>,
    out: Box<dyn Write>,
    progress: Option<Progress>,
}

/// Live progress on a terminal: a line per running host (its task, elapsed time) and a bar of
/// hosts done. Finished lines print above it.
struct Progress {
    multi: indicatif::MultiProgress,
    overall: indicatif::ProgressBar,
    bars: std::collections::HashMap<String, indicatif::ProgressBar>,
}

impl Progress {
    fn new() -> Progress {
        let multi = indicatif::MultiProgress::new();
        let overall = multi.add(indicatif::ProgressBar::new(0));
        overall.set_style(
            indicatif::ProgressStyle::with_template(
                "[{elapsed_precise}] {bar:30} {pos}/{len} hosts done",
            )
            .expect("valid template"),
        );
        Progress {
            multi,
            overall,
            bars: Default::default(),
        }
    }
}

const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const RED: &str = "\x1b[31m";
const CYAN: &str = "\x1b[36m";
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

pub(crate) fn color_enabled() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

impl Report {
    pub(crate) fn new(format: OutputFormat, verbose: u8) -> Report {
        Report {
            format,
            color: color_enabled(),
            verbose,
            check: false,
            hosts: Vec::new(),
            out: Box::new(std::io::stdout()),
            progress: None,
        }
    }

    pub(crate) fn with_color(mut self, color: bool) -> Report {
        self.color = color;
        self
    }

    /// Live progress lines, only for people: a terminal, human output, no -v.
    pub(crate) fn with_progress(mut self) -> Report {
        // NO_COLOR or --color never: plain lines, no escape codes at all.
        if self.format == OutputFormat::Human
            && self.verbose == 0
            && self.color
            && std::io::stdout().is_terminal()
        {
            self.progress = Some(Progress::new());
        }
        self
    }

    fn line(&mut self, text: &str) {
        // Vaulted values never reach the screen, whatever carried them here.
        let text = &*crate::vault::mask(text);
        match &self.progress {
            Some(p) => {
                let _ = p.multi.println(text);
            }
            None => {
                let _ = writeln!(self.out, "{text}");
            }
        }
    }

    fn paint(&self, color: &str, text: &str) -> String {
        if self.color {
            format!("{color}{text}{RESET}")
        } else {
            text.to_string()
        }
    }

    fn host_mut(&mut self, host: &str) -> &mut HostReport {
        if let Some(i) = self.hosts.iter().position(|h| h.host == host) {
            return &mut self.hosts[i];
        }
        self.hosts.push(HostReport::new(host));
        self.hosts.last_mut().expect("just pushed")
    }

    pub(crate) fn hosts(&self) -> &[HostReport] {
        &self.hosts
    }

    pub(crate) fn event(&mut self, ev: Event) {
        match ev {
            Event::Play { name, hosts, check } => {
                self.check = check;
                if let Some(p) = &self.progress {
                    p.overall.inc_length(hosts as u64);
                }
                if self.format == OutputFormat::Human {
                    let what = if check { "PLAN" } else { "PLAY" };
                    let line = format!(
                        "{what} {name} ({hosts} host{})",
                        if hosts == 1 { "" } else { "s" }
                    );
                    let line = self.paint(BOLD, &line);
                    self.line(&line);
                }
            }
            Event::HostStart { host } => {
                if let Some(p) = &mut self.progress {
                    let bar = p
                        .multi
                        .insert_before(&p.overall, indicatif::ProgressBar::new_spinner());
                    bar.set_style(
                        indicatif::ProgressStyle::with_template(
                            "{spinner} {prefix}  {msg} ({elapsed})",
                        )
                        .expect("valid template"),
                    );
                    bar.set_prefix(host.clone());
                    bar.set_message("connecting");
                    bar.enable_steady_tick(Duration::from_millis(120));
                    p.bars.insert(host, bar);
                }
            }
            Event::Detail { host, text } => {
                if self.format == OutputFormat::Human {
                    for l in text.lines() {
                        let l = self.paint(CYAN, &format!("      | {}", clean(l)));
                        self.line(&format!("{host}{l}"));
                    }
                }
            }
            Event::TaskStart { host, name } => {
                if let Some(bar) = self.progress.as_ref().and_then(|p| p.bars.get(&host)) {
                    bar.set_message(name);
                }
            }
            Event::Task { host, task } => {
                if self.format == OutputFormat::Human {
                    self.print_task(&host, &task);
                }
                self.host_mut(&host).tasks.push(task);
            }
            Event::Host {
                host,
                status,
                msg,
                duration,
            } => {
                if let Some(p) = &mut self.progress {
                    if let Some(bar) = p.bars.remove(&host) {
                        bar.finish_and_clear();
                        p.multi.remove(&bar);
                    }
                    p.overall.inc(1);
                }
                if self.format == OutputFormat::Human
                    && (status == HostStatus::Unreachable
                        || (status == HostStatus::Failed && !msg.is_empty()))
                {
                    let tag = self.paint(
                        RED,
                        if status == HostStatus::Failed {
                            "FAILED"
                        } else {
                            "UNREACHABLE"
                        },
                    );
                    self.line(&format!("{host}  {tag}  {}", clean(&msg)));
                }
                let h = self.host_mut(&host);
                // A host's later plays keep the worst status seen.
                h.status = worst(h.status, status, h.tasks.is_empty());
                if !msg.is_empty() {
                    h.msg = msg;
                }
                h.duration_ms += duration.as_millis() as u64;
            }
        }
    }

    fn print_task(&mut self, host: &str, t: &TaskReport) {
        if t.status == Status::Skipped && self.verbose == 0 && !self.check {
            return;
        }
        let (color, word) = match t.status {
            Status::Ok => (GREEN, "ok"),
            Status::Changed if self.check => (YELLOW, "will change"),
            Status::Changed => (YELLOW, "changed"),
            Status::MayChange => (CYAN, "may change"),
            Status::Failed => (RED, "FAILED"),
            Status::Skipped => (CYAN, "skipped"),
        };
        let tag = self.paint(color, &format!("{word:<11}"));
        let name = if t.handler {
            format!("handler: {}", clean(&t.name))
        } else {
            clean(&t.name).into_owned()
        };
        let mut lines = Vec::new();
        let mut line = format!("{host}  {tag} {name}");
        if !t.msg.is_empty() && t.status != Status::Failed {
            let first = t.msg.lines().next().unwrap_or("");
            line.push_str(&format!(" — {}", clean(first)));
        }
        lines.push(line);
        for c in &t.changes {
            lines.push(format!("      {} {}", self.paint(YELLOW, "~"), clean(c)));
        }
        if t.status == Status::Failed {
            for l in t.msg.lines() {
                lines.push(format!("      {}", self.paint(RED, &clean(l))));
            }
        }
        if let Some(d) = &t.diff {
            for l in d.lines() {
                let l = &*clean(l);
                let painted = match l.chars().next() {
                    Some('+') if !l.starts_with("+++") => self.paint(GREEN, l),
                    Some('-') if !l.starts_with("---") => self.paint(RED, l),
                    Some('@') => self.paint(CYAN, l),
                    _ => l.to_string(),
                };
                lines.push(format!("      {painted}"));
            }
        }
        for l in lines {
            self.line(&l);
        }
    }

    /// The end of a run: recap table (human) or the whole JSON document.
    pub(crate) fn finish(&mut self, retry_file: Option<&str>) {
        if let Some(p) = self.progress.take() {
            p.overall.finish_and_clear();
            let _ = p.multi.clear();
        }
        match self.format {
            OutputFormat::Json => {
                #[derive(Serialize)]
                struct Doc<'a> {
                    mode: &'a str,
                    hosts: &'a [HostReport],
                    #[serde(skip_serializing_if = "Option::is_none")]
                    retry_file: Option<&'a str>,
                }
                let doc = Doc {
                    mode: if self.check { "plan" } else { "apply" },
                    hosts: &self.hosts,
                    retry_file,
                };
                let text = serde_json::to_string_pretty(&doc).expect("serializable");
                let text = crate::vault::mask_json(&text);
                let _ = writeln!(self.out, "{text}");
            }
            OutputFormat::Human => {
                let _ = writeln!(self.out, "\n{}", self.paint(BOLD, "RECAP"));
                let width = self
                    .hosts
                    .iter()
                    .map(|h| h.host.len())
                    .max()
                    .unwrap_or(4)
                    .max(4);
                let changed_word = if self.check { "to-change" } else { "changed" };
                let _ = writeln!(
                    self.out,
                    "{:<width$}  {:<11}  {:>3}  {:>9}  {:>10}  {:>6}  {:>7}  {:>8}",
                    "host", "status", "ok", changed_word, "may-change", "failed", "skipped", "time"
                );
                let rows: Vec<String> = self
                    .hosts
                    .iter()
                    .map(|h| {
                        let status = match h.status {
                            HostStatus::Ok => "ok",
                            HostStatus::Changed if self.check => "to-change",
                            HostStatus::Changed => "changed",
                            HostStatus::Failed => "FAILED",
                            HostStatus::Unreachable => "UNREACHABLE",
                            HostStatus::NotRun => "not-run",
                        };
                        let color = match h.status {
                            HostStatus::Ok => GREEN,
                            HostStatus::Changed => YELLOW,
                            HostStatus::NotRun => CYAN,
                            _ => RED,
                        };
                        let mut row = format!(
                            "{:<width$}  {}  {:>3}  {:>9}  {:>10}  {:>6}  {:>7}  {:>7.1}s",
                            h.host,
                            self.paint(color, &format!("{status:<11}")),
                            h.count(Status::Ok),
                            h.count(Status::Changed),
                            h.count(Status::MayChange),
                            h.count(Status::Failed),
                            h.count(Status::Skipped),
                            h.duration_ms as f64 / 1000.0
                        );
                        if matches!(h.status, HostStatus::Unreachable | HostStatus::NotRun)
                            && !h.msg.is_empty()
                        {
                            row.push_str(&format!("  {}", clean(&h.msg)));
                        }
                        row
                    })
                    .collect();
                for r in rows {
                    let _ = writeln!(self.out, "{}", crate::vault::mask(&r));
                }
                if let Some(f) = retry_file {
                    let _ = writeln!(
                        self.out,
                        "\nTo retry the failed and unreachable hosts: --limit @{f}"
                    );
                }
            }
        }
        let _ = self.out.flush();
    }

    /// Takes the hosts of several runs' JSON documents (`plumb recap`); a host in two of them,
    /// or a plan mixed with an apply, is an error.
    pub(crate) fn merge(&mut self, docs: Vec<(String, RunDoc)>) -> Result<(), Error> {
        let mut seen: std::collections::BTreeMap<String, String> = Default::default();
        let mut mode: Option<(String, String)> = None;
        for (file, doc) in docs {
            match &mode {
                Some((m, first)) if *m != doc.mode => {
                    return Err(Error::Usage(format!(
                        "{file} is a `{}` result, {first} a `{m}` one: recap one kind at a time",
                        doc.mode
                    )));
                }
                None => mode = Some((doc.mode.clone(), file.clone())),
                _ => {}
            }
            for h in doc.hosts {
                if let Some(other) = seen.insert(h.host.clone(), file.clone()) {
                    return Err(Error::Usage(format!(
                        "host {} is in both {other} and {file}",
                        h.host
                    )));
                }
                self.hosts.push(h);
            }
        }
        self.check = mode.is_some_and(|(m, _)| m == "plan");
        self.hosts.sort_by(|a, b| a.host.cmp(&b.host));
        Ok(())
    }

    /// Exit code for the run: see README "Exit codes".
    pub(crate) fn exit_code(&self) -> i32 {
        if self.hosts.iter().any(|h| h.status == HostStatus::Failed) {
            2
        } else if self
            .hosts
            .iter()
            .any(|h| h.status == HostStatus::Unreachable)
        {
            3
        } else if self.hosts.iter().any(|h| h.status == HostStatus::NotRun) {
            2
        } else {
            0
        }
    }
}

fn worst(old: HostStatus, new: HostStatus, fresh: bool) -> HostStatus {
    use HostStatus::*;
    let rank = |s: HostStatus| match s {
        Ok => 0,
        Changed => 1,
        NotRun => 2,
        Failed => 3,
        Unreachable => 4,
    };
    if fresh || rank(new) > rank(old) {
        new
    } else {
        old
    }
}

/// One line on stdout, for commands that print a single result.
/// Text that came from a host (file contents, command output, messages), made safe for a
/// terminal: C0 and C1 control characters other than newline and tab are shown escaped (`\x1b`,
/// `\u{9b}`), so a host cannot move the cursor, recolour, rewrite or hide lines of the report.
fn clean(text: &str) -> std::borrow::Cow<'_, str> {
    let bad = |c: char| (c.is_control() && c != '\n' && c != '\t') || c == '\u{7f}';
    if !text.chars().any(bad) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\r' => out.push_str("\\r"),
            c if bad(c) && (c as u32) < 0x80 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if bad(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

pub(crate) fn line(text: &str) {
    let _ = writeln!(std::io::stdout(), "{text}");
}

/// A JSON document on stdout.
pub(crate) fn json<T: Serialize>(value: &T) {
    let text = serde_json::to_string_pretty(value).expect("serializable");
    let _ = writeln!(std::io::stdout(), "{text}");
}

/// Prints an error the way compilers do: message, `--> file:line:col`, the line, a caret, a hint.
pub(crate) fn error(e: &Error) {
    let color = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let paint = |c: &str, t: &str| {
        if color {
            format!("{c}{t}{RESET}")
        } else {
            t.to_string()
        }
    };
    let mut err = std::io::stderr().lock();
    match e {
        Error::Many(all) => {
            for (i, e) in all.iter().enumerate() {
                if i > 0 {
                    let _ = writeln!(err);
                }
                drop(err);
                error(e);
                err = std::io::stderr().lock();
            }
            let _ = writeln!(
                err,
                "\n{}",
                paint(RED, &format!("{} errors; nothing was run", all.len()))
            );
        }
        Error::Vault(inner) => {
            drop(err);
            error(inner);
        }
        Error::Input { loc, msg, hint, .. } => {
            let msg = crate::vault::mask(msg);
            let _ = writeln!(err, "{}: {msg}", paint(RED, "error"));
            // As rustc lays it out, one space in: `-->`, `|` and `=` line up past the line number.
            let pad = " ".repeat(loc.as_ref().map_or(1, |l| l.line.to_string().len()));
            if let Some(loc) = loc {
                let _ = writeln!(err, " {pad}--> {loc}");
                if let Some(snippet) = snippet(loc) {
                    for l in snippet.lines() {
                        let _ = writeln!(err, " {}", paint(CYAN, l));
                    }
                }
            }
            if let Some(h) = hint {
                let _ = writeln!(err, " {pad} = hint: {h}");
            }
        }
        other => {
            let _ = writeln!(err, "{}: {other}", paint(RED, "error"));
        }
    }
}

/// The source line and a caret under the column, read back from the file.
fn snippet(loc: &crate::location::Location) -> Option<String> {
    let text = std::fs::read_to_string(loc.path()).ok()?;
    // A vaulted file's positions are in its decrypted text, which is not shown.
    if crate::vault::is_vaulted(text.as_bytes()) {
        return None;
    }
    let line = text.lines().nth(loc.line - 1)?;
    let pad: String = line
        .chars()
        .take(loc.col - 1)
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .collect();
    let num = loc.line.to_string();
    let gutter = " ".repeat(num.len());
    Some(format!("{gutter} |\n{num} | {line}\n{gutter} | {pad}^"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        for (raw, shown) in [
            ("plain text", "plain text"),
            ("tab\tand\nnewline stay", "tab\tand\nnewline stay"),
            (
                "\x1b[1A\x1b[2K\x1b[32mok\x1b[0m",
                "\\x1b[1A\\x1b[2K\\x1b[32mok\\x1b[0m",
            ),
            ("bell\x07 nul\0 del\x7f", "bell\\x07 nul\\x00 del\\x7f"),
            ("crlf\r\n", "crlf\\r\n"),
            ("csi\u{9b}31m osc\u{9d}", "csi\\u{9b}31m osc\\u{9d}"),
            ("café ✓", "café ✓"),
        ] {
            assert_eq!(clean(raw), shown, "{raw:?}");
        }
    }

    /// Every host-provided piece of a task line goes through `clean`.
    #[test]
    fn task_lines_carry_no_escape_codes() {
        let mut r = Report::new(OutputFormat::Human, 2).with_color(false);
        let buf = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        r.out = Box::new(Shared(buf.clone()));
        let esc = "\x1b[2K\x1b]0;title\x07";
        r.event(Event::Detail {
            host: "h".into(),
            text: format!("output: {esc}"),
        });
        for status in [Status::Changed, Status::Failed] {
            r.event(Event::Task {
                host: "h".into(),
                task: TaskReport {
                    name: format!("n{esc}"),
                    status,
                    msg: format!("m{esc}\nsecond{esc}"),
                    changes: vec![format!("c{esc}")],
                    diff: Some(format!("--- a\n+++ b\n-old{esc}\n+new{esc}\n")),
                    handler: false,
                    duration_ms: 0,
                },
            });
        }
        let out = String::from_utf8(buf.lock().unwrap().clone()).unwrap();
        assert!(!out.contains('\x1b') && !out.contains('\x07'), "{out:?}");
        assert!(out.contains("\\x1b[2K"), "{out}");
    }

    struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
}
