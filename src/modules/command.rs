//! `command` and `shell`: run something; `creates`/`removes` make it idempotent.

use super::args::Getter;
use super::{Change, Plan, Resource, Run};
use crate::error::Result;
use crate::shell::{quote, split};

#[derive(Debug, Clone)]
pub(crate) struct Command {
    /// What runs, as sh text.
    pub(crate) text: String,
    pub(crate) chdir: Option<String>,
    pub(crate) creates: Option<String>,
    pub(crate) removes: Option<String>,
}

impl super::Module for Command {
    fn probe(&self) -> Option<String> {
        Command::probe(self)
    }
    fn reads(&self) -> Vec<Resource> {
        Command::reads(self)
    }
    fn plan(&self, facts: &str) -> std::result::Result<Plan, String> {
        Command::plan(self, facts)
    }
}

impl Command {
    pub(crate) fn build(a: &Getter, shell: bool) -> Result<Command> {
        let raw = match a.opt_str("_raw")? {
            Some(r) => Some(r),
            None => a.opt_str("cmd")?,
        };
        let text = if shell {
            let body = raw.unwrap_or_default();
            match a.opt_str("executable")? {
                Some(exe) => format!("{} -c {}", quote(&exe), quote(&body)),
                None => body,
            }
        } else {
            // `command` runs a program with arguments and no shell: quote every word.
            let words = match raw {
                Some(r) => split(&r).map_err(|e| a.err("_raw", e))?,
                None => a.list("argv")?,
            };
            if words.is_empty() {
                return Err(a.err("_raw", "the command is empty"));
            }
            words.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" ")
        };
        if text.trim().is_empty() {
            return Err(a.err("_raw", "the command is empty"));
        }
        Ok(Command {
            text,
            chdir: a.opt_str("chdir")?,
            creates: a.opt_str("creates")?,
            removes: a.opt_str("removes")?,
        })
    }

    /// `chdir` too: a `creates` is checked there, so a task that makes the directory must
    /// make this one probe again.
    pub(crate) fn reads(&self) -> Vec<Resource> {
        self.creates
            .iter()
            .chain(self.removes.iter())
            .chain(self.chdir.iter())
            .map(|p| Resource::Path(p.clone()))
            .collect()
    }

    /// With `chdir`, in a subshell: the probes of a batch share one shell, and a `cd` there
    /// would move every later probe (relative `creates` checked in the wrong place). A
    /// directory that cannot be entered is a probe error, not "creates=no".
    pub(crate) fn probe(&self) -> Option<String> {
        if self.creates.is_none() && self.removes.is_none() {
            return None;
        }
        let mut s = String::new();
        for (k, p) in [("creates", &self.creates), ("removes", &self.removes)] {
            if let Some(p) = p {
                s.push_str(&format!(
                    "if [ -e {} ]; then echo {k}=yes; else echo {k}=no; fi; ",
                    quote(p)
                ));
            }
        }
        Some(match &self.chdir {
            Some(d) => format!("( cd -- {} || {{ echo nochdir; exit 0; }}; {s})", quote(d)),
            None => s,
        })
    }

    pub(crate) fn plan(&self, facts: &str) -> std::result::Result<Plan, String> {
        if facts.lines().any(|l| l.trim() == "nochdir") {
            return Err(format!(
                "cannot change to the directory {} (chdir): {}",
                self.chdir.as_deref().unwrap_or_default(),
                facts.lines().next().unwrap_or_default().trim()
            ));
        }
        for line in facts.lines() {
            match line.trim() {
                "creates=yes" | "removes=no" => return Ok(Plan::ok()),
                "creates=no" | "removes=yes" => {}
                other => return Err(format!("unexpected probe output: `{other}`")),
            }
        }
        let cd = self
            .chdir
            .as_ref()
            .map(|d| format!("cd -- {} && ", quote(d)))
            .unwrap_or_default();
        Ok(Plan {
            batch: None,
            starts: None,
            changes: vec![Change::new(format!("run `{}`", first_line(&self.text)))],
            run: Run::Command(format!("{cd}( {}\n) </dev/null\n", self.text)),
            writes: vec![Resource::All],
            uncertain: true,
            result: Default::default(),
        })
    }
}

fn first_line(s: &str) -> String {
    let mut lines = s.lines();
    let first = lines.next().unwrap_or("").to_string();
    if lines.next().is_some() {
        format!("{first} …")
    } else {
        first
    }
}

/// A command's registered result: rc, stdout(_lines), stderr(_lines), as Ansible has them.
pub(crate) fn result(out: &crate::transport::Output, value: &mut serde_json::Value) {
    use serde_json::json;
    let stdout = out.out.trim_end_matches('\n');
    let stderr = out.err.trim_end_matches('\n');
    value["rc"] = json!(out.code);
    value["stdout"] = json!(stdout);
    value["stdout_lines"] = json!(stdout.lines().collect::<Vec<_>>());
    value["stderr"] = json!(stderr);
    value["stderr_lines"] = json!(stderr.lines().collect::<Vec<_>>());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(creates: Option<&str>) -> Command {
        Command {
            text: "touch /tmp/x".into(),
            chdir: None,
            creates: creates.map(String::from),
            removes: None,
        }
    }

    #[test]
    fn creates_skips_when_present() {
        let c = cmd(Some("/tmp/x"));
        assert!(c.plan("creates=yes\n").unwrap().changes.is_empty());
        let p = c.plan("creates=no\n").unwrap();
        assert_eq!(p.changes[0].summary, "run `touch /tmp/x`");
        assert!(c.plan("garbage").is_err());
    }

    #[test]
    fn chdir_with_a_leading_dash_is_a_directory() {
        let c = Command {
            chdir: Some("-x".into()),
            ..cmd(None)
        };
        let Run::Command(s) = c.plan("").unwrap().run else {
            panic!()
        };
        assert!(s.starts_with("cd -- -x && "), "{s}");
    }

    #[test]
    fn no_probe_without_creates() {
        assert!(cmd(None).probe().is_none());
        assert!(cmd(None).plan("").unwrap().uncertain);
    }

    /// The review's C5 reproduction, through the batch: a `chdir` probe leaves the shell where
    /// it was, and a `chdir` that cannot be entered is an error.
    #[test]
    fn chdir_stays_in_its_probe() {
        use crate::transport::Transport;
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display().to_string();
        std::fs::create_dir_all(dir.path().join("a")).unwrap();
        std::fs::create_dir_all(dir.path().join("run")).unwrap();
        std::fs::write(dir.path().join("a/marker"), "").unwrap();
        let task = |chdir: Option<String>| Command {
            chdir,
            creates: Some("marker".into()),
            ..cmd(None)
        };
        let first = task(Some(format!("{d}/a")));
        let missing = task(Some(format!("{d}/none")));
        let second = task(None);
        let (p1, p2, p3) = (
            first.probe().unwrap(),
            missing.probe().unwrap(),
            second.probe().unwrap(),
        );
        let n = crate::probe::nonce();
        let script = format!(
            "cd {}\n{}",
            quote(&format!("{d}/run")),
            crate::probe::batch_script(&[&p1, &p2, &p3], &n)
        );
        let out = crate::transport::local::Local::new()
            .run(&script, None)
            .unwrap();
        let parts = crate::probe::split(&out.out, &n, 3).unwrap();
        assert!(first.plan(&parts[0].1).unwrap().changes.is_empty());
        let e = missing.plan(&parts[1].1).unwrap_err();
        assert!(e.contains("cannot change to the directory"), "{e}");
        // Checked in the shell's own directory (run/, no marker), not in a/.
        assert_eq!(
            second.plan(&parts[2].1).unwrap().changes.len(),
            1,
            "{}",
            parts[2].1
        );
    }
}
