//! `pip`: Python packages in a virtualenv (created with `python3 -m venv` when missing) or in
//! the host's Python, with the host's own pip. What is installed is read with `pip freeze`;
//! what `present`/`latest`/`requirements` would install is asked of pip itself, read-only
//! (`pip install --dry-run --report -`), so version specifiers and requirement files mean
//! exactly what pip makes of them, and a converged host is `ok`.

use super::args::Getter;
use super::{Change, Plan, Resource};
use crate::error::Result;
use crate::shell::{quote, split};
use base64::Engine;
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum State {
    Present,
    Latest,
    Absent,
    ForceReinstall,
}

#[derive(Debug, Clone)]
pub(crate) struct Pip {
    pub names: Vec<String>,
    pub requirements: Option<String>,
    pub virtualenv: Option<String>,
    /// How a missing virtualenv is made, as sh words before its path.
    venv_cmd: String,
    pub state: State,
    pub extra_args: Vec<String>,
    pub chdir: Option<String>,
    /// The pip to run when there is no virtualenv, as sh words.
    pub executable: String,
}

super::plain_module!(Pip);

impl Pip {
    pub(crate) fn build(a: &Getter) -> Result<Pip> {
        let mut names = a.list("name")?;
        let version = a.opt_str("version")?;
        if let Some(v) = &version {
            if names.len() != 1 {
                return Err(a.err("version", "`version` goes with exactly one `name`"));
            }
            names[0] = format!("{}=={v}", names[0]);
        }
        for n in &names {
            if n.is_empty() || n.starts_with('-') || n.contains('\n') {
                return Err(a.err("name", format!("`{n}` is not a package name")));
            }
        }
        let requirements = a.opt_str("requirements")?;
        if names.is_empty() && requirements.is_none() {
            return Err(a.err("name", "`pip` needs `name` or `requirements`"));
        }
        let state = match a
            .choice(
                "state",
                &["present", "latest", "absent", "forcereinstall"],
                "present",
            )?
            .as_str()
        {
            "latest" => State::Latest,
            "absent" => State::Absent,
            "forcereinstall" => State::ForceReinstall,
            _ => State::Present,
        };
        if state == State::Absent && names.is_empty() {
            return Err(a.err("state", "`state: absent` needs `name`"));
        }
        let virtualenv = a.opt_str("virtualenv")?;
        let py = a.opt_str("virtualenv_python")?;
        let venv_cmd = match a.opt_str("virtualenv_command")? {
            Some(c) => {
                let words = split(&c).map_err(|e| a.err("virtualenv_command", e))?;
                let mut s: Vec<String> = words.iter().map(|w| quote(w)).collect();
                let is_venv = words.iter().any(|w| w == "venv" || w.ends_with("pyvenv"));
                if let Some(p) = &py {
                    if is_venv {
                        return Err(a.err(
                            "virtualenv_python",
                            "virtualenv_python should not be used when using the venv module or pyvenv as virtualenv_command",
                        ));
                    }
                    s.push(format!("-p {}", quote(p)));
                }
                if a.bool("virtualenv_site_packages", false)? {
                    s.push("--system-site-packages".into());
                }
                s.join(" ")
            }
            None => {
                let mut s = format!("{} -m venv", quote(py.as_deref().unwrap_or("python3")));
                if a.bool("virtualenv_site_packages", false)? {
                    s.push_str(" --system-site-packages");
                }
                s
            }
        };
        let executable = match a.opt_str("executable")? {
            Some(e) => {
                if virtualenv.is_some() {
                    return Err(a.err("executable", "give `executable` or `virtualenv`, not both"));
                }
                split(&e)
                    .map_err(|er| a.err("executable", er))?
                    .iter()
                    .map(|w| quote(w))
                    .collect::<Vec<_>>()
                    .join(" ")
            }
            None => "python3 -m pip".into(),
        };
        let extra_args = match a.opt_str("extra_args")? {
            Some(x) => split(&x).map_err(|e| a.err("extra_args", e))?,
            None => Vec::new(),
        };
        Ok(Pip {
            names,
            requirements,
            virtualenv,
            venv_cmd,
            state,
            extra_args,
            chdir: a.opt_str("chdir")?,
            executable,
        })
    }

    pub(crate) fn reads(&self) -> Vec<Resource> {
        let mut r = vec![Resource::Package("python3-pip".into())];
        match &self.virtualenv {
            Some(v) if v.starts_with('/') => r.push(Resource::Path(v.clone())),
            // A relative virtualenv, or the system's packages: anything may hold them.
            _ => r.push(Resource::All),
        }
        if let Some(q) = &self.requirements {
            match &self.chdir {
                _ if q.starts_with('/') => r.push(Resource::Path(q.clone())),
                Some(d) => r.push(Resource::Path(format!("{}/{q}", d.trim_end_matches('/')))),
                None => r.push(Resource::All),
            }
        }
        if let Some(d) = &self.chdir {
            r.push(Resource::Path(d.clone()));
        }
        r
    }

    fn pip(&self) -> String {
        match &self.virtualenv {
            Some(v) => format!("{}/bin/python -m pip", quote(v.trim_end_matches('/'))),
            None => self.executable.clone(),
        }
    }

    /// The packages (or `-r FILE`) and extra arguments, as sh words.
    fn operands(&self) -> String {
        let mut w: Vec<String> = self.extra_args.iter().map(|x| quote(x)).collect();
        if let Some(r) = &self.requirements {
            w.push(format!("-r {}", quote(r)));
        }
        w.extend(self.names.iter().map(|n| quote(n)));
        w.join(" ")
    }

    fn cd(&self) -> String {
        match &self.chdir {
            Some(d) => format!(
                "cd -- {} 2>/dev/null || {{ printf 'nochdir\\n'; exit 0; }}; ",
                quote(d)
            ),
            None => String::new(),
        }
    }

    /// Records: `venv\tyes|no`, `freeze\tRC\tB64`, `dryrun\tRC\tB64(stdout)\tB64(stderr)`.
    pub(crate) fn probe(&self) -> String {
        let pip = self.pip();
        let venv = match &self.virtualenv {
            Some(v) => format!(
                "if [ -x {p}/bin/python ]; then printf 'venv\\tyes\\n'; else printf 'venv\\tno\\n'; exit 0; fi; ",
                p = quote(v.trim_end_matches('/'))
            ),
            None => String::new(),
        };
        let run = |tag: &str, cmd: &str| {
            format!(
                "plumb_t=$(mktemp) || exit 1; if plumb_o=$({cmd} 2>\"$plumb_t\" </dev/null); then plumb_r=0; else plumb_r=$?; fi; \
                 printf '{tag}\\t%s\\t' \"$plumb_r\"; printf '%s' \"$plumb_o\" | base64 -w0; printf '\\t'; base64 -w0 < \"$plumb_t\"; printf '\\n'; rm -f -- \"$plumb_t\"; "
            )
        };
        let mut s = format!("( {}{venv}", self.cd());
        s.push_str(&run(
            "freeze",
            &format!("PIP_DISABLE_PIP_VERSION_CHECK=1 {pip} freeze --all"),
        ));
        if matches!(self.state, State::Present | State::Latest) {
            let up = if self.state == State::Latest {
                " --upgrade"
            } else {
                ""
            };
            s.push_str(&run(
                "dryrun",
                &format!(
                    "PIP_DISABLE_PIP_VERSION_CHECK=1 {pip} install --dry-run --quiet --report -{up} {}",
                    self.operands()
                ),
            ));
        }
        s.push_str(")\n");
        s
    }

    pub(crate) fn plan(&self, facts: &str) -> std::result::Result<Plan, String> {
        let f = Facts::parse(facts)?;
        if f.nochdir {
            return Err(format!(
                "cannot enter {}",
                self.chdir.as_deref().unwrap_or_default()
            ));
        }
        let what = self.what();
        let mut changes = Vec::new();
        let mut script = String::from("set -e\n");
        if let Some(d) = &self.chdir {
            script.push_str(&format!("cd -- {}\n", quote(d)));
        }
        let venv_missing = f.venv == Some(false);
        if venv_missing && self.state == State::Absent {
            return Ok(Plan {
                result: self.result(),
                ..Plan::ok()
            });
        }
        if venv_missing {
            let v = self.virtualenv.as_deref().expect("venv");
            changes.push(Change::new(format!("create virtualenv {v}")));
            script.push_str(&format!("{} {}\n", self.venv_cmd, quote(v)));
        }
        let installed = if venv_missing {
            Vec::new()
        } else {
            let (rc, out, err) = f
                .freeze
                .as_ref()
                .ok_or("unexpected probe output: no freeze")?;
            if *rc != 0 {
                return Err(format!("pip freeze failed (exit {rc}): {}", err.trim()));
            }
            freeze(out)
        };
        let pip = self.pip();
        match self.state {
            State::Absent => {
                let gone: Vec<&String> = self
                    .names
                    .iter()
                    .filter(|n| {
                        let want = norm(base_name(n));
                        installed.iter().any(|(i, _)| *i == want)
                    })
                    .collect();
                if !gone.is_empty() {
                    let names: Vec<String> =
                        gone.iter().map(|n| base_name(n).to_string()).collect();
                    changes.push(Change::new(format!("uninstall {}", names.join(", "))));
                    let q: Vec<String> = names.iter().map(|n| quote(n)).collect();
                    script.push_str(&format!(
                        "PIP_DISABLE_PIP_VERSION_CHECK=1 {pip} uninstall -y {}\n",
                        q.join(" ")
                    ));
                }
            }
            State::ForceReinstall => {
                changes.push(Change::new(format!("reinstall {what}")));
                script.push_str(&format!(
                    "PIP_DISABLE_PIP_VERSION_CHECK=1 {pip} install --force-reinstall {}\n",
                    self.operands()
                ));
            }
            State::Present | State::Latest => {
                let up = if self.state == State::Latest {
                    " --upgrade"
                } else {
                    ""
                };
                if venv_missing {
                    changes.push(Change::new(format!("install {what}")));
                } else {
                    let (rc, out, err) = f
                        .dryrun
                        .as_ref()
                        .ok_or("unexpected probe output: no dry run")?;
                    if *rc != 0 {
                        return Err(format!(
                            "pip cannot resolve {what} (pip install --dry-run exit {rc}): {}",
                            err.trim()
                        ));
                    }
                    for (name, version) in report(out)? {
                        let word = match installed.iter().find(|(i, _)| *i == norm(&name)) {
                            Some((_, old)) => format!("upgrade {name} {old} → {version}"),
                            None => format!("install {name} {version}"),
                        };
                        changes.push(Change::new(word));
                    }
                }
                if changes.is_empty() {
                    return Ok(Plan {
                        result: self.result(),
                        ..Plan::ok()
                    });
                }
                script.push_str(&format!(
                    "PIP_DISABLE_PIP_VERSION_CHECK=1 {pip} install{up} {}\n",
                    self.operands()
                ));
            }
        }
        if changes.is_empty() {
            return Ok(Plan {
                result: self.result(),
                ..Plan::ok()
            });
        }
        let mut writes = vec![Resource::Package("python3-pip".into())];
        match &self.virtualenv {
            Some(v) if v.starts_with('/') => writes.push(Resource::Path(v.clone())),
            _ => writes.push(Resource::All),
        }
        Ok(Plan {
            result: self.result(),
            ..Plan::script(changes, script, writes)
        })
    }

    fn what(&self) -> String {
        let mut w = self.names.clone();
        if let Some(r) = &self.requirements {
            w.push(format!("-r {r}"));
        }
        w.join(", ")
    }

    fn result(&self) -> serde_json::Map<String, Value> {
        match json!({
            "name": self.names,
            "requirements": self.requirements,
            "virtualenv": self.virtualenv,
            "cmd": format!("{} install {}", self.pip(), self.operands()),
        }) {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }
}

/// PEP 503: names compare lowercased, with runs of `-`, `_` and `.` as one `-`.
fn norm(name: &str) -> String {
    let mut s = String::new();
    for c in name.trim().chars() {
        if "-_.".contains(c) {
            if !s.ends_with('-') {
                s.push('-');
            }
        } else {
            s.push(c.to_ascii_lowercase());
        }
    }
    s
}

/// The name part of a requirement (`Django>=4.2` → `Django`, `pkg[extra]==1` → `pkg`).
fn base_name(spec: &str) -> &str {
    let end = spec
        .find(|c: char| !(c.is_ascii_alphanumeric() || "-_.".contains(c)))
        .unwrap_or(spec.len());
    &spec[..end]
}

/// `pip freeze` lines: (normalised name, version); editable and URL installs by name only.
fn freeze(out: &str) -> Vec<(String, String)> {
    out.lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with('-') && !l.trim().is_empty())
        .map(|l| match l.split_once("==") {
            Some((n, v)) => (norm(n), v.trim().to_string()),
            None => match l.split_once(" @ ") {
                Some((n, _)) => (norm(n), String::new()),
                None => (norm(base_name(l)), String::new()),
            },
        })
        .collect()
}

/// What pip's `--report` says it would install: (name, version).
fn report(out: &str) -> std::result::Result<Vec<(String, String)>, String> {
    let v: Value =
        serde_json::from_str(out.trim()).map_err(|e| format!("unexpected pip report: {e}"))?;
    let items = v["install"]
        .as_array()
        .ok_or("unexpected pip report: no `install` list")?;
    items
        .iter()
        .map(|i| {
            let m = &i["metadata"];
            match (m["name"].as_str(), m["version"].as_str()) {
                (Some(n), Some(v)) => Ok((n.to_string(), v.to_string())),
                _ => Err("unexpected pip report: an item without name or version".to_string()),
            }
        })
        .collect()
}

#[derive(Debug, Default)]
struct Facts {
    nochdir: bool,
    venv: Option<bool>,
    freeze: Option<(i32, String, String)>,
    dryrun: Option<(i32, String, String)>,
}

impl Facts {
    fn parse(out: &str) -> std::result::Result<Facts, String> {
        let bad = |l: &str| format!("unexpected probe output: {l:?}");
        let b64 = |s: &str| -> std::result::Result<String, String> {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(s)
                .map_err(|e| format!("unexpected probe output: {e}"))?;
            Ok(String::from_utf8_lossy(&bytes).into_owned())
        };
        let mut f = Facts::default();
        let mut any = false;
        for line in out.lines() {
            any = true;
            let parts: Vec<&str> = line.split('\t').collect();
            match parts.as_slice() {
                ["nochdir"] => f.nochdir = true,
                ["venv", v] if f.venv.is_none() => f.venv = Some(*v == "yes"),
                [tag @ ("freeze" | "dryrun"), rc, o, e] => {
                    let rec = Some((rc.parse().map_err(|_| bad(line))?, b64(o)?, b64(e)?));
                    let slot = if *tag == "freeze" {
                        &mut f.freeze
                    } else {
                        &mut f.dryrun
                    };
                    if slot.is_some() {
                        return Err(bad(line));
                    }
                    *slot = rec;
                }
                _ => return Err(bad(line)),
            }
        }
        if !any {
            return Err("unexpected probe output: nothing".into());
        }
        Ok(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::Run;
    use crate::modules::args::Args;
    use serde_json::Map;
    use std::collections::HashMap;
    use std::sync::Arc;

    fn pip(args: Value) -> std::result::Result<Pip, String> {
        let map: Map<String, Value> = args.as_object().unwrap().clone();
        let args = Args {
            map: map.clone(),
            locs: HashMap::new(),
            key_locs: HashMap::new(),
            loc: crate::location::Location::new(&Arc::new("t.yml".into()), 1, 1),
        };
        Pip::build(&Getter::new(&map, &args)).map_err(|e| e.to_string())
    }

    fn e(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    fn facts(freeze: &str, install: &[(&str, &str)]) -> String {
        let items: Vec<Value> = install
            .iter()
            .map(|(n, v)| json!({"metadata": {"name": n, "version": v}}))
            .collect();
        let report = json!({"version": "1", "install": items}).to_string();
        format!(
            "venv\tyes\nfreeze\t0\t{}\t\ndryrun\t0\t{}\t{}\n",
            e(freeze),
            e(&report),
            e("")
        )
    }

    fn script(p: &Plan) -> &str {
        match &p.run {
            Run::Script(s) => s,
            _ => panic!(),
        }
    }

    #[test]
    fn table() {
        let v = "/srv/app/venv";
        let frozen = "Django==4.2.1\npip==23.0.1\nsetuptools==66.1.1\nmy_lib==1.0\n";
        // (args, facts, changes)
        let table: Vec<(Value, String, Vec<&str>)> = vec![
            (
                json!({"name": ["Django>=4.2", "my-lib"], "virtualenv": v}),
                facts(frozen, &[]),
                vec![],
            ),
            (
                json!({"name": "gunicorn==21.2.0", "virtualenv": v}),
                facts(frozen, &[("gunicorn", "21.2.0"), ("packaging", "23.2")]),
                vec!["install gunicorn 21.2.0", "install packaging 23.2"],
            ),
            (
                json!({"name": "Django", "version": "4.2.7", "virtualenv": v}),
                facts(frozen, &[("Django", "4.2.7")]),
                vec!["upgrade Django 4.2.1 → 4.2.7"],
            ),
            (
                json!({"name": ["django", "nothere"], "virtualenv": v, "state": "absent"}),
                "venv\tyes\nfreeze\t0\t".to_string() + &e(frozen) + "\t\n",
                vec!["uninstall django"],
            ),
            (
                json!({"name": "x", "virtualenv": v, "state": "absent"}),
                "venv\tno\n".into(),
                vec![],
            ),
            (
                json!({"requirements": "requirements.txt", "virtualenv": v, "chdir": "/srv/app"}),
                "venv\tno\n".into(),
                vec![
                    "create virtualenv /srv/app/venv",
                    "install -r requirements.txt",
                ],
            ),
            (
                json!({"name": "x", "virtualenv": v, "state": "forcereinstall"}),
                "venv\tyes\nfreeze\t0\t".to_string() + &e(frozen) + "\t\n",
                vec!["reinstall x"],
            ),
        ];
        for (args, f, want) in table {
            let p = pip(args.clone()).unwrap().plan(&f).unwrap();
            let got: Vec<&str> = p.changes.iter().map(|c| c.summary.as_str()).collect();
            assert_eq!(got, want, "{args}");
        }
    }

    #[test]
    fn scripts_and_probe() {
        let p = pip(json!({"requirements": "requirements.txt", "virtualenv": "/srv/v", "chdir": "/srv/app", "extra_args": "--no-index --find-links /srv/wheels"})).unwrap();
        let probe = p.probe();
        assert!(probe.contains("cd -- /srv/app 2>/dev/null ||"), "{probe}");
        assert!(
            probe.contains("/srv/v/bin/python -m pip install --dry-run --quiet --report - --no-index --find-links /srv/wheels -r requirements.txt"),
            "{probe}"
        );
        let plan = p.plan("venv\tno\n").unwrap();
        let s = script(&plan);
        assert!(
            s.starts_with("set -e\ncd -- /srv/app\npython3 -m venv /srv/v\n"),
            "{s}"
        );
        assert!(s.contains("/srv/v/bin/python -m pip install --no-index --find-links /srv/wheels -r requirements.txt\n"), "{s}");
        let c = pip(json!({"name": "x", "virtualenv": "/v", "virtualenv_command": "virtualenv", "virtualenv_python": "python3.11"})).unwrap();
        assert!(script(&c.plan("venv\tno\n").unwrap()).contains("virtualenv -p python3.11 /v\n"));
        let l = pip(json!({"name": "x", "virtualenv": "/v", "state": "latest"})).unwrap();
        assert!(l.probe().contains("--report - --upgrade x"));
        let sys = pip(json!({"name": "x", "executable": "pip3"})).unwrap();
        assert!(sys.probe().contains("pip3 freeze --all"));
    }

    #[test]
    fn errors() {
        let p = pip(json!({"name": "x", "virtualenv": "/v"})).unwrap();
        let fail = format!(
            "venv\tyes\nfreeze\t0\t{}\t\ndryrun\t1\t\t{}\n",
            e("x==1\n"),
            e("ERROR: No matching distribution found for x")
        );
        assert!(
            p.plan(&fail)
                .unwrap_err()
                .contains("No matching distribution")
        );
        let broken = format!("venv\tyes\nfreeze\t2\t\t{}\n", e("boom"));
        assert!(p.plan(&broken).unwrap_err().contains("boom"));
        assert!(p.plan("").is_err());
        assert!(p.plan("venv\tyes\nfreeze\t0\t!!\t\n").is_err());
        let garbage = format!("venv\tyes\nfreeze\t0\t\t\ndryrun\t0\t{}\t\n", e("not json"));
        assert!(p.plan(&garbage).is_err());
        assert!(p.plan("nochdir\n").is_err());
        for bad in [
            json!({"virtualenv": "/v"}),
            json!({"name": ["a", "b"], "version": "1"}),
            json!({"name": "-e x"}),
            json!({"name": "x", "state": "sometimes"}),
            json!({"requirements": "r.txt", "state": "absent"}),
            json!({"name": "x", "virtualenv": "/v", "virtualenv_command": "python3 -m venv", "virtualenv_python": "python3"}),
            json!({"name": "x", "virtualenv": "/v", "executable": "pip3"}),
        ] {
            assert!(pip(bad.clone()).is_err(), "{bad}");
        }
        assert_eq!(norm("My_Lib.x"), "my-lib-x");
        assert_eq!(base_name("pkg[extra]>=1"), "pkg");
    }
}
