//! `cron`: one job (or one environment variable) in a user's crontab, read with `crontab -l`
//! and written whole with `crontab -`, or in a file under /etc/cron.d written atomically like
//! `copy`. Jobs carry Ansible's `#Ansible: NAME` marker line, so a crontab Ansible manages is
//! found and left unchanged.

use super::args::Getter;
use super::copy::Copy;
use super::textfile;
use super::{Change, Plan, Resource};
use crate::error::Result;
use crate::shell::quote;
use base64::Engine;
use serde_json::{Value, json};

const MARK: &str = "#Ansible: ";

#[derive(Debug, Clone)]
pub(crate) struct Cron {
    /// The job's name (its marker) or, with `env`, the variable's name.
    pub name: Option<String>,
    /// The whole line: a job's schedule, (user,) and command, or `NAME=value`.
    pub line: Option<String>,
    pub env: bool,
    pub present: bool,
    pub user: Option<String>,
    /// `/etc/cron.d/NAME` (or an absolute path) instead of a user's crontab.
    pub cron_file: Option<String>,
    pub insertafter: Option<String>,
    pub insertbefore: Option<String>,
    pub writer: Option<Copy>,
}

super::plain_module!(Cron);

impl Cron {
    pub(crate) fn build(a: &Getter) -> Result<Cron> {
        let present = a.choice("state", &["present", "absent"], "present")? == "present";
        let name = a.opt_str("name")?;
        let job = a
            .opt_str("job")?
            .or(a.opt_str("value")?)
            .map(|j| j.trim_matches(['\r', '\n']).to_string());
        let env = a.bool("env", false)?;
        let user = match a.opt_str("user")? {
            Some(u) => {
                super::account_name::check_name(a, "user", &u)?;
                Some(u)
            }
            None => None,
        };
        let cron_file = match a.opt_str("cron_file")? {
            None => None,
            Some(f) if f.starts_with('/') => Some(a.opt_path("cron_file")?.expect("present")),
            Some(f) => {
                // Ansible's rule for /etc/cron.d names: run-parts skips anything else.
                if f.is_empty()
                    || !f
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_-".contains(c))
                {
                    return Err(a.err(
                        "cron_file",
                        format!(
                            "`{f}` is not a valid /etc/cron.d file name (letters, digits, `_` and `-` only, or an absolute path)"
                        ),
                    ));
                }
                Some(format!("/etc/cron.d/{f}"))
            }
        };
        for (k, v) in [("name", &name), ("job", &job)] {
            if v.as_deref().is_some_and(|v| v.contains(['\n', '\r'])) {
                return Err(a.err(k, format!("`{k}` must be one line")));
            }
        }
        let field = |k: &str| -> Result<String> {
            let v = a.opt_str(k)?.unwrap_or_else(|| "*".into());
            if v.is_empty() || v.contains(char::is_whitespace) {
                return Err(a.err(k, format!("`{k}: {v}` must be one word")));
            }
            Ok(v)
        };
        let fields = [
            field("minute")?,
            field("hour")?,
            field("day")?,
            field("month")?,
            field("weekday")?,
        ];
        let special = match a.opt_str("special_time")? {
            None => None,
            Some(s) => {
                let ok = [
                    "annually", "daily", "hourly", "monthly", "reboot", "weekly", "yearly",
                ];
                if !ok.contains(&s.as_str()) {
                    return Err(a.err(
                        "special_time",
                        format!(
                            "`special_time: {s}` is not valid; use one of: {}",
                            ok.join(", ")
                        ),
                    ));
                }
                if fields.iter().any(|f| f != "*") {
                    return Err(a.err(
                        "special_time",
                        "You must specify time and date fields or special time.",
                    ));
                }
                Some(s)
            }
        };
        if cron_file.is_some() && present && user.is_none() {
            return Err(a.err(
                "cron_file",
                "To use cron_file=... parameter you must specify user=... as well",
            ));
        }
        if name.is_none() && (present || cron_file.is_none()) {
            return Err(a.err("name", "`cron` needs `name`"));
        }
        if present && job.is_none() {
            return Err(a.err(
                "job",
                "You must specify 'job' to install a new cron job or variable",
            ));
        }
        if a.bool("backup", false)? && cron_file.is_none() {
            return Err(a.err(
                "backup",
                "`backup` is supported with `cron_file` only (a user's crontab is not a file plumb writes)",
            ));
        }
        let disabled = a.bool("disabled", false)?;
        let line = job.map(|job| {
            if env {
                return format!("{}={job}", name.as_deref().unwrap_or_default());
            }
            let who = match (&cron_file, &user) {
                (Some(_), Some(u)) => format!("{u} "),
                _ => String::new(),
            };
            let hash = if disabled { "#" } else { "" };
            match &special {
                Some(s) => format!("{hash}@{s} {who}{job}"),
                None => format!("{hash}{} {who}{job}", fields.join(" ")),
            }
        });
        let writer = match &cron_file {
            Some(f) => Some(Copy {
                mode: Some(0o644),
                ..textfile::writer(a, f)?
            }),
            None => None,
        };
        Ok(Cron {
            name,
            line,
            env,
            present,
            user,
            cron_file,
            insertafter: a.opt_str("insertafter")?,
            insertbefore: a.opt_str("insertbefore")?,
            writer,
        })
    }

    pub(crate) fn reads(&self) -> Vec<Resource> {
        match &self.cron_file {
            Some(f) => vec![Resource::Path(f.clone())],
            None => vec![Resource::Path("/var/spool/cron/crontabs".into())],
        }
    }

    fn u_opt(&self) -> String {
        match &self.user {
            Some(u) => format!("-u {} ", quote(u)),
            None => String::new(),
        }
    }

    /// For a user's crontab: `crontab\tB64` with its text, or `nocrontab\tB64` with crontab's
    /// message (the parser tells "no crontab for USER" from a real error), or `nocmd`.
    pub(crate) fn probe(&self) -> String {
        if let Some(f) = &self.cron_file {
            return textfile::probe(f);
        }
        format!(
            "( if ! command -v crontab >/dev/null 2>&1; then printf 'nocmd\\n'; \
             elif plumb_c=$(LC_ALL=C crontab {u}-l 2>&1); then printf 'crontab\\t'; printf '%s' \"$plumb_c\" | base64 -w0; printf '\\n'; \
             else printf 'nocrontab\\t'; printf '%s' \"$plumb_c\" | base64 -w0; printf '\\n'; fi )\n",
            u = self.u_opt()
        )
    }

    pub(crate) fn plan(&self, facts: &str) -> std::result::Result<Plan, String> {
        let (old, fact) = match &self.cron_file {
            Some(f) => {
                let (fact, text) = textfile::read(facts, f)?;
                (text, Some(fact))
            }
            None => (read_crontab(facts, self.user.as_deref())?, None),
        };
        // A whole cron_file removed (state absent, no name).
        if self.name.is_none() {
            let f = self.cron_file.as_deref().expect("checked in build");
            if old.is_none() {
                return Ok(Plan::ok());
            }
            return Ok(Plan::script(
                vec![Change::new(format!("remove {f}"))],
                format!(
                    "{}{}\n",
                    super::safe_write::HEAD,
                    super::safe_write::remove(f)
                ),
                self.reads(),
            ));
        }
        let text = old.clone().unwrap_or_default();
        let lines: Vec<String> = text.lines().map(str::to_string).collect();
        let (new_lines, what) = self.edit(lines.clone());
        let result = results(&new_lines);
        if new_lines == lines {
            let mut p = match (&self.writer, &fact) {
                (Some(w), Some(f)) if old.is_some() => {
                    textfile::attrs_plan(w, f, self.cron_file.as_deref().expect("cron_file"))
                }
                _ => Plan::ok(),
            };
            p.result = result;
            return Ok(p);
        }
        let new = render(&new_lines);
        let mut p = match (&self.writer, &self.cron_file) {
            (Some(w), Some(f)) => {
                let exists = old.is_some();
                let mut p =
                    textfile::write_plan(w, fact.as_ref().filter(|_| exists), new, String::new());
                p.changes[0].summary = format!("{what} in {f}");
                p
            }
            _ => {
                let who = match &self.user {
                    Some(u) => format!("{u}'s crontab"),
                    None => "the crontab".into(),
                };
                let b64 = base64::engine::general_purpose::STANDARD.encode(new.as_bytes());
                let mut script = format!("base64 -d <<'PLUMB_EOF' | crontab {}-\n", self.u_opt());
                for chunk in b64.as_bytes().chunks(76) {
                    script.push_str(std::str::from_utf8(chunk).expect("ascii"));
                    script.push('\n');
                }
                script.push_str("PLUMB_EOF\n");
                Plan::script(
                    vec![Change::new(format!("{what} in {who}"))],
                    script,
                    self.reads(),
                )
            }
        };
        p.result = result;
        Ok(p)
    }

    /// The crontab's new lines, and what changed in words.
    fn edit(&self, mut lines: Vec<String>) -> (Vec<String>, String) {
        let name = self.name.as_deref().unwrap_or_default();
        let line = self.line.as_deref().unwrap_or_default();
        if self.env {
            let found = lines.iter().position(|l| is_env(l, name));
            return match (self.present, found) {
                (true, Some(i)) if lines[i] == line => (lines, String::new()),
                (true, Some(i)) => {
                    lines[i] = line.to_string();
                    (lines, format!("update variable {name}: {line}"))
                }
                (true, None) => {
                    let at = match (&self.insertafter, &self.insertbefore) {
                        (Some(x), _) => lines.iter().position(|l| is_env(l, x)).map(|i| i + 1),
                        (_, Some(x)) => lines.iter().position(|l| is_env(l, x)),
                        _ => None,
                    }
                    .unwrap_or(0);
                    lines.insert(at, line.to_string());
                    (lines, format!("add variable {name}: {line}"))
                }
                (false, Some(i)) => {
                    lines.remove(i);
                    (lines, format!("remove variable {name}"))
                }
                (false, None) => (lines, String::new()),
            };
        }
        let marker = format!("{MARK}{name}");
        // By its marker, else (as Ansible does) by the exact line, which then gets a marker.
        let found = lines
            .iter()
            .position(|l| *l == marker)
            .filter(|i| i + 1 < lines.len())
            .map(|i| (i, 2))
            .or_else(|| {
                let i = lines.iter().position(|l| !line.is_empty() && l == line)?;
                match i.checked_sub(1).map(|p| lines[p].as_str()) {
                    Some(p) if p == MARK.trim_end() || p == MARK => Some((i - 1, 2)),
                    Some(p) if p.starts_with(MARK) => None,
                    _ => Some((i, 1)),
                }
            });
        match (self.present, found) {
            (true, Some((i, n))) => {
                let new = [marker, line.to_string()];
                if lines[i..i + n] == new {
                    return (lines, String::new());
                }
                lines.splice(i..i + n, new);
                (lines, format!("update cron job \"{name}\": {line}"))
            }
            (true, None) => {
                lines.push(marker);
                lines.push(line.to_string());
                (lines, format!("add cron job \"{name}\": {line}"))
            }
            (false, Some((i, n))) => {
                lines.drain(i..i + n);
                (lines, format!("remove cron job \"{name}\""))
            }
            (false, None) => (lines, String::new()),
        }
    }
}

fn is_env(line: &str, name: &str) -> bool {
    line.strip_prefix(name).is_some_and(|r| r.starts_with('='))
}

/// Ansible's rendering: lines joined, one final newline (none for an empty crontab).
fn render(lines: &[String]) -> String {
    let s = lines.join("\n");
    let s = s.trim_end_matches(['\r', '\n']);
    if s.is_empty() {
        String::new()
    } else {
        format!("{s}\n")
    }
}

/// `jobs` (marker names) and `envs` (variable names), as Ansible registers them.
fn results(lines: &[String]) -> serde_json::Map<String, Value> {
    let jobs: Vec<&str> = lines.iter().filter_map(|l| l.strip_prefix(MARK)).collect();
    let envs: Vec<&str> = lines
        .iter()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('=').map(|(n, _)| n.trim()))
        .filter(|n| !n.is_empty() && !n.contains(char::is_whitespace))
        .collect();
    match json!({"jobs": jobs, "envs": envs}) {
        Value::Object(m) => m,
        _ => unreachable!(),
    }
}

/// A user's crontab from the probe: its text, None for no crontab, or why it cannot be read.
fn read_crontab(facts: &str, user: Option<&str>) -> std::result::Result<Option<String>, String> {
    let mut lines = facts.lines();
    let (Some(first), None) = (lines.next(), lines.next()) else {
        return Err(format!("unexpected probe output: {facts:?}"));
    };
    let decode = |b64: &str| -> std::result::Result<String, String> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|e| format!("unexpected probe output: {e}"))?;
        String::from_utf8(bytes).map_err(|_| "the crontab is not UTF-8 text".to_string())
    };
    if first == "nocmd" {
        return Err("crontab is not installed on the host (install the `cron` package)".into());
    }
    if let Some(b) = first.strip_prefix("crontab\t") {
        return decode(b).map(Some);
    }
    if let Some(b) = first.strip_prefix("nocrontab\t") {
        let msg = decode(b)?;
        if msg.trim_start().starts_with("no crontab for ") {
            return Ok(None);
        }
        let who = user.map(|u| format!(" of {u}")).unwrap_or_default();
        return Err(format!("cannot read the crontab{who}: {}", msg.trim()));
    }
    Err(format!("unexpected probe output: {first:?}"))
}

#[cfg(test)]
mod tests {
    use super::super::textfile::tests::{ABSENT, facts};
    use super::*;
    use crate::modules::Run;
    use crate::modules::args::Args;
    use serde_json::Map;
    use std::collections::HashMap;
    use std::sync::Arc;

    fn cron(args: Value) -> std::result::Result<Cron, String> {
        let map: Map<String, Value> = args.as_object().unwrap().clone();
        let args = Args {
            map: map.clone(),
            locs: HashMap::new(),
            key_locs: HashMap::new(),
            loc: crate::location::Location::new(&Arc::new("t.yml".into()), 1, 1),
        };
        Cron::build(&Getter::new(&map, &args)).map_err(|e| e.to_string())
    }

    fn tab(text: &str) -> String {
        let b = base64::engine::general_purpose::STANDARD.encode(text);
        format!("crontab\t{b}\n")
    }

    fn none(msg: &str) -> String {
        let b = base64::engine::general_purpose::STANDARD.encode(msg);
        format!("nocrontab\t{b}\n")
    }

    fn new_tab(p: &Plan) -> String {
        let Run::Script(s) = &p.run else { panic!() };
        let b64: String = s
            .lines()
            .skip(1)
            .take_while(|l| *l != "PLUMB_EOF")
            .collect();
        String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn user_crontab_table() {
        let backup =
            json!({"name": "backup", "minute": "0", "hour": "3", "job": "/usr/local/bin/backup"});
        // (args, crontab now (None: no crontab), new crontab or None for no change, summary)
        let table: Vec<(Value, Option<&str>, Option<&str>, &str)> = vec![
            (
                backup.clone(),
                None,
                Some("#Ansible: backup\n0 3 * * * /usr/local/bin/backup\n"),
                "add cron job \"backup\": 0 3 * * * /usr/local/bin/backup in the crontab",
            ),
            // What Ansible wrote is found and left alone.
            (
                backup.clone(),
                Some("MAILTO=x\n#Ansible: backup\n0 3 * * * /usr/local/bin/backup\n"),
                None,
                "",
            ),
            // Changed schedule: updated in place.
            (
                backup.clone(),
                Some("#Ansible: backup\n5 4 * * * /usr/local/bin/backup\n# mine\n"),
                Some("#Ansible: backup\n0 3 * * * /usr/local/bin/backup\n# mine\n"),
                "update cron job \"backup\": 0 3 * * * /usr/local/bin/backup in the crontab",
            ),
            // The same line without a marker gets one.
            (
                backup.clone(),
                Some("0 3 * * * /usr/local/bin/backup\n"),
                Some("#Ansible: backup\n0 3 * * * /usr/local/bin/backup\n"),
                "update cron job \"backup\": 0 3 * * * /usr/local/bin/backup in the crontab",
            ),
            (
                json!({"name": "backup", "state": "absent"}),
                Some("a=1\n#Ansible: backup\n0 3 * * * x\n"),
                Some("a=1\n"),
                "remove cron job \"backup\" in the crontab",
            ),
            (json!({"name": "backup", "state": "absent"}), None, None, ""),
            (
                json!({"name": "r", "special_time": "reboot", "job": "/bin/up", "disabled": true}),
                Some("# keep\n"),
                Some("# keep\n#Ansible: r\n#@reboot /bin/up\n"),
                "add cron job \"r\": #@reboot /bin/up in the crontab",
            ),
            // Variables go first, or after another one.
            (
                json!({"name": "PATH", "env": true, "job": "/usr/bin:/bin"}),
                Some("MAILTO=a\n#Ansible: x\n* * * * * y\n"),
                Some("PATH=/usr/bin:/bin\nMAILTO=a\n#Ansible: x\n* * * * * y\n"),
                "add variable PATH: PATH=/usr/bin:/bin in the crontab",
            ),
            (
                json!({"name": "PATH", "env": true, "job": "/bin", "insertafter": "MAILTO"}),
                Some("MAILTO=a\nSHELL=/bin/sh\n"),
                Some("MAILTO=a\nPATH=/bin\nSHELL=/bin/sh\n"),
                "add variable PATH: PATH=/bin in the crontab",
            ),
            (
                json!({"name": "MAILTO", "env": true, "job": "b"}),
                Some("MAILTO=a\n"),
                Some("MAILTO=b\n"),
                "update variable MAILTO: MAILTO=b in the crontab",
            ),
            (
                json!({"name": "MAILTO", "env": true, "state": "absent"}),
                Some("MAILTO=a\n"),
                Some(""),
                "remove variable MAILTO in the crontab",
            ),
        ];
        for (args, old, want, what) in table {
            let c = cron(args.clone()).unwrap();
            let facts = old.map_or(none("no crontab for root\n"), tab);
            let p = c.plan(&facts).unwrap();
            match want {
                None => assert!(p.changes.is_empty(), "{args}: {:?}", p.changes),
                Some(w) => {
                    assert_eq!(new_tab(&p), w, "{args}");
                    assert_eq!(p.changes[0].summary, what);
                    assert!(c.plan(&tab(w)).unwrap().changes.is_empty(), "{args} again");
                }
            }
        }
    }

    #[test]
    fn user_option_results_and_errors() {
        let c = cron(json!({"name": "a", "job": "x", "user": "www-data"})).unwrap();
        assert!(c.probe().contains("crontab -u www-data -l"));
        let p = c.plan(&none("no crontab for www-data\n")).unwrap();
        let Run::Script(s) = &p.run else { panic!() };
        assert!(s.starts_with("base64 -d <<'PLUMB_EOF' | crontab -u www-data -\n"));
        assert_eq!(
            p.changes[0].summary,
            "add cron job \"a\": * * * * * x in www-data's crontab"
        );
        assert_eq!(p.result["jobs"], json!(["a"]));
        assert_eq!(p.result["envs"], json!([]));
        // Probe errors are failures, never "no crontab".
        let e = c.plan(&none("user `www-data' unknown\n")).unwrap_err();
        assert!(e.contains("unknown"), "{e}");
        assert!(c.plan("nocmd\n").unwrap_err().contains("cron"));
        assert!(c.plan("").is_err());
        assert!(c.plan("crontab\t!!\n").is_err());
        assert!(c.plan(&format!("{}{}", tab("a"), tab("b"))).is_err());
        for bad in [
            json!({"name": "a"}),
            json!({"job": "x"}),
            json!({"name": "a", "job": "x\ny"}),
            json!({"name": "a", "job": "x", "minute": "1 2"}),
            json!({"name": "a", "job": "x", "special_time": "daily", "hour": "1"}),
            json!({"name": "a", "job": "x", "special_time": "often"}),
            json!({"name": "a", "job": "x", "cron_file": "app"}),
            json!({"name": "a", "job": "x", "cron_file": "a.b", "user": "root"}),
            json!({"name": "a", "job": "x", "user": "-r"}),
            json!({"name": "a", "job": "x", "backup": true}),
        ] {
            assert!(cron(bad.clone()).is_err(), "{bad}");
        }
    }

    #[test]
    fn cron_file() {
        let c = cron(json!({"name": "sync", "minute": "*/5", "job": "/bin/sync", "user": "app", "cron_file": "myapp"})).unwrap();
        assert!(c.probe().contains("/etc/cron.d/myapp"));
        let p = c.plan(ABSENT).unwrap();
        let cc = p.changes[0].content.as_ref().unwrap();
        assert_eq!(
            std::str::from_utf8(&cc.new).unwrap(),
            "#Ansible: sync\n*/5 * * * * app /bin/sync\n"
        );
        assert_eq!(
            p.changes[0].summary,
            "add cron job \"sync\": */5 * * * * app /bin/sync in /etc/cron.d/myapp"
        );
        let Run::Script(s) = &p.run else { panic!() };
        assert!(s.contains("0644 /dev/fd/3"), "{s}");
        let same = facts(
            "/etc/cron.d/myapp",
            "#Ansible: sync\n*/5 * * * * app /bin/sync\n",
        );
        assert!(c.plan(&same).unwrap().changes.is_empty());
        // The whole file removed.
        let gone = cron(json!({"cron_file": "myapp", "state": "absent"})).unwrap();
        assert_eq!(
            gone.plan(&same).unwrap().changes[0].summary,
            "remove /etc/cron.d/myapp"
        );
        assert!(gone.plan(ABSENT).unwrap().changes.is_empty());
    }
}
