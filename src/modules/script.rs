//! `script`: a script from the control machine (found like `copy`'s `src`: the role's or
//! playbook's `files/`) sent to the host in the task's own script, run there with its
//! arguments, then removed. `creates`/`removes`/`chdir` as for `command`, whose probe and
//! result (`rc`, `stdout`, `stderr`) it shares.

use super::args::Getter;
use super::command::Command;
use super::{BuildCtx, Plan, Resource};
use crate::error::Result;
use crate::shell::{quote, split};
use base64::Engine;

#[derive(Debug, Clone)]
pub(crate) struct Script {
    pub(crate) cmd: Command,
    /// How the plan names it (the script's path as written, and its arguments).
    pub(crate) shown: String,
}

impl super::Module for Script {
    fn probe(&self) -> Option<String> {
        Script::probe(self)
    }
    fn reads(&self) -> Vec<Resource> {
        Script::reads(self)
    }
    fn plan(&self, facts: &str) -> std::result::Result<Plan, String> {
        Script::plan(self, facts)
    }
}

impl Script {
    pub(crate) fn build(a: &Getter, ctx: &BuildCtx) -> Result<Script> {
        let key = if a.has("_raw") { "_raw" } else { "cmd" };
        let raw = a
            .opt_str(key)?
            .ok_or_else(|| a.err(key, "`script` needs the script's path"))?;
        let words = split(&raw).map_err(|e| a.err(key, e))?;
        let Some((first, args)) = words.split_first() else {
            return Err(a.err(key, "`script` needs the script's path"));
        };
        let path = super::copy::resolve_src(ctx.base_dir(), ctx.role_dir(), first, false)
            .ok_or_else(|| a.err(key, format!("script `{first}` not found")))?;
        let data = crate::vault::read(&path)?;
        let b64 = base64::engine::general_purpose::STANDARD.encode(&data);
        let mut body = String::new();
        for chunk in b64.as_bytes().chunks(76) {
            body.push_str(std::str::from_utf8(chunk).expect("base64 is ascii"));
            body.push('\n');
        }
        let argv: Vec<String> = args.iter().map(|w| quote(w)).collect();
        let run = match a.opt_str("executable")? {
            Some(exe) => format!("{} \"$plumb_s\"", quote(&exe)),
            None => "\"$plumb_s\"".into(),
        };
        // The temp file goes when the script ends, whatever its exit status; that status is
        // the task's.
        let text = format!(
            "plumb_s=$(mktemp) || exit 1\ntrap 'rm -f -- \"$plumb_s\"' EXIT\n\
             base64 -d > \"$plumb_s\" <<'PLUMB_EOF'\n{body}PLUMB_EOF\n\
             chmod 0700 \"$plumb_s\"\n{run} {}",
            argv.join(" ")
        );
        Ok(Script {
            cmd: Command {
                text,
                chdir: a.opt_str("chdir")?,
                creates: a.opt_str("creates")?,
                removes: a.opt_str("removes")?,
            },
            shown: raw,
        })
    }

    pub(crate) fn reads(&self) -> Vec<Resource> {
        self.cmd.reads()
    }

    pub(crate) fn probe(&self) -> Option<String> {
        self.cmd.probe()
    }

    pub(crate) fn plan(&self, facts: &str) -> std::result::Result<Plan, String> {
        let mut p = self.cmd.plan(facts)?;
        for c in &mut p.changes {
            c.summary = format!("run script `{}`", self.shown);
        }
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::Run;
    use crate::modules::args::Args;
    use crate::transport::Transport;
    use serde_json::{Map, Value, json};
    use std::collections::HashMap;
    use std::sync::Arc;

    fn build(dir: &std::path::Path, args: Value) -> Script {
        let map: Map<String, Value> = args.as_object().unwrap().clone();
        let args = Args {
            map: map.clone(),
            locs: HashMap::new(),
            key_locs: HashMap::new(),
            loc: crate::location::Location::new(&Arc::new("t.yml".into()), 1, 1),
        };
        let vars = crate::template::Vars::new(Map::new());
        let ctx = BuildCtx::new(dir, None, &vars, &args);
        Script::build(&Getter::new(&map, &args), &ctx).unwrap()
    }

    #[test]
    fn sent_run_with_arguments_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("files")).unwrap();
        std::fs::write(
            dir.path().join("files/setup.sh"),
            "#!/bin/sh\necho \"args: $1|$2\"; echo \"$0\" > \"$3\"; exit 3\n",
        )
        .unwrap();
        let out_file = dir.path().join("where").display().to_string();
        let s = build(
            dir.path(),
            json!({"_raw": format!("setup.sh 'a b' c {out_file}"), "creates": "/nonexistent/x"}),
        );
        let p = s.plan("creates=no\n").unwrap();
        assert_eq!(
            p.changes[0].summary,
            format!("run script `setup.sh 'a b' c {out_file}`")
        );
        assert!(s.plan("creates=yes\n").unwrap().changes.is_empty());
        let Run::Command(c) = &p.run else { panic!() };
        let out = crate::transport::local::Local::new().run(c, None).unwrap();
        assert_eq!(out.code, 3);
        assert_eq!(out.out, "args: a b|c\n");
        let tmp = std::fs::read_to_string(&out_file).unwrap();
        assert!(
            !std::path::Path::new(tmp.trim()).exists(),
            "{tmp} left behind"
        );
    }
}
