//! `git`: a checkout of a repository at a version, with the host's own `git`. The probe reads
//! the checkout (`rev-parse HEAD`, the origin URL, local modifications) and, when it may have
//! to move, what the wanted version is on the remote (`git ls-remote`); the pure plan then
//! clones, fetches and checks out, or leaves it alone. Registers `before` and `after`.

use super::args::Getter;
use super::{Change, Plan, Resource};
use crate::error::Result;
use crate::shell::quote;
use base64::Engine;
use serde_json::{Value, json};

#[derive(Debug, Clone)]
pub(crate) struct Git {
    pub repo: String,
    pub dest: String,
    pub version: String,
    pub force: bool,
    pub update: bool,
    pub clone: bool,
    pub depth: Option<u64>,
    pub single_branch: bool,
    pub recursive: bool,
    pub remote: String,
    /// Exported before every git command: no prompts, and the ssh options asked for.
    env: String,
}

/// What the wanted version is on the remote.
#[derive(Debug, Clone, PartialEq)]
enum Target {
    Branch(String),
    Tag(String),
    /// The remote's default branch (`version: HEAD`).
    Head(String),
    /// A commit id (maybe abbreviated), not looked up on the remote.
    Commit,
}

super::plain_module!(Git);

impl Git {
    pub(crate) fn build(a: &Getter) -> Result<Git> {
        let key = if a.has("repo") { "repo" } else { "name" };
        let repo = a.str(key)?;
        if repo.starts_with('-') || repo.contains('\n') {
            return Err(a.err(key, format!("`{repo}` is not a repository URL or path")));
        }
        let dest = a
            .opt_path("dest")?
            .ok_or_else(|| a.err("dest", "`git` needs `dest`"))?;
        let version = a.opt_str("version")?.unwrap_or_else(|| "HEAD".into());
        if version.is_empty()
            || version.starts_with('-')
            || version.contains(|c: char| c.is_whitespace() || "~^:?*[\\".contains(c))
        {
            return Err(a.err(
                "version",
                format!("`{version}` is not a branch, tag or commit"),
            ));
        }
        let remote = a.opt_str("remote")?.unwrap_or_else(|| "origin".into());
        if !remote
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
            || remote.starts_with('-')
        {
            return Err(a.err("remote", format!("`{remote}` is not a remote name")));
        }
        let mut ssh = String::from("ssh -o BatchMode=yes -o ConnectTimeout=20");
        if a.bool("accept_hostkey", false)? {
            ssh.push_str(" -o StrictHostKeyChecking=no");
        } else if a.bool("accept_newhostkey", false)? {
            ssh.push_str(" -o StrictHostKeyChecking=accept-new");
        }
        if let Some(k) = a.opt_path("key_file")? {
            ssh.push_str(&format!(" -i {} -o IdentitiesOnly=yes", quote(&k)));
        }
        if let Some(o) = a.opt_str("ssh_opts")? {
            ssh.push(' ');
            ssh.push_str(&o);
        }
        let env = format!(
            "GIT_TERMINAL_PROMPT=0; GIT_SSH_COMMAND={}; export GIT_TERMINAL_PROMPT GIT_SSH_COMMAND\n",
            quote(&ssh)
        );
        let depth = a.opt_u64("depth")?.filter(|d| *d > 0);
        Ok(Git {
            repo,
            dest,
            version,
            force: a.bool("force", false)?,
            update: a.bool("update", true)?,
            clone: a.bool("clone", true)?,
            depth,
            single_branch: a.bool("single_branch", false)?,
            recursive: a.bool("recursive", true)?,
            remote,
            env,
        })
    }

    pub(crate) fn reads(&self) -> Vec<Resource> {
        vec![
            Resource::Path(self.dest.clone()),
            Resource::Package("git".into()),
        ]
    }

    /// Records, one a line; host-controlled text in base64:
    /// `nogit`, `dest\tabsent|empty|repo|other`, `head\tSHA|none`, `url\tB64`, `dirty\tN`,
    /// `remote\tRC\tB64` (ls-remote's output, or its error).
    pub(crate) fn probe(&self) -> String {
        let d = quote(&self.dest);
        let ls = format!(
            "if plumb_o=$(git ls-remote -- {} HEAD {v} {v}'^{{}}' 2>&1 </dev/null); then plumb_r=0; else plumb_r=$?; fi; \
             printf 'remote\\t%s\\t' \"$plumb_r\"; printf '%s' \"$plumb_o\" | base64 -w0; printf '\\n'; ",
            quote(&self.repo),
            v = quote(&self.version),
        );
        let ls_in_repo = if self.update { ls.as_str() } else { "" };
        format!(
            "( {env}\
             if ! command -v git >/dev/null 2>&1; then printf 'nogit\\n'; \
             elif [ -e {d}/.git ]; then printf 'dest\\trepo\\n'; \
             if plumb_h=$(git -C {d} rev-parse --verify -q HEAD 2>/dev/null); then printf 'head\\t%s\\n' \"$plumb_h\"; else printf 'head\\tnone\\n'; fi; \
             printf 'url\\t'; git -C {d} config --get remote.{r}.url | base64 -w0; printf '\\n'; \
             if plumb_s=$(git -C {d} status --porcelain --untracked-files=no 2>&1); then printf 'dirty\\t%s\\n' \"$(printf '%s' \"$plumb_s\" | grep -c .)\"; \
             else printf 'error\\t'; printf '%s' \"$plumb_s\" | base64 -w0; printf '\\n'; fi; \
             {ls_in_repo}\
             elif [ ! -e {d} ] && [ ! -L {d} ]; then printf 'dest\\tabsent\\n'; {ls}\
             elif [ -d {d} ] && [ -z \"$(ls -A -- {d})\" ]; then printf 'dest\\tempty\\n'; {ls}\
             else printf 'dest\\tother\\n'; fi )\n",
            env = self.env,
            r = self.remote,
        )
    }

    pub(crate) fn plan(&self, facts: &str) -> std::result::Result<Plan, String> {
        let f = Facts::parse(facts)?;
        if f.nogit {
            return Err("git is not installed on the host (install the `git` package)".into());
        }
        if let Some(e) = &f.error {
            return Err(format!("cannot read the checkout in {}: {e}", self.dest));
        }
        let d = quote(&self.dest);
        let sha_like = self.version.len() >= 4
            && self.version.len() <= 40
            && self.version.chars().all(|c| c.is_ascii_hexdigit());
        let target = |f: &Facts| -> std::result::Result<(Target, Option<String>), String> {
            let (rc, out) = f
                .remote
                .as_ref()
                .ok_or("unexpected probe output: no remote")?;
            if *rc != 0 {
                return Err(format!(
                    "cannot read {} (git ls-remote exit {rc}): {}",
                    self.repo,
                    out.trim()
                ));
            }
            let refs: Vec<(&str, &str)> = out.lines().filter_map(|l| l.split_once('\t')).collect();
            let find = |name: &str| {
                refs.iter()
                    .find(|(_, r)| *r == name)
                    .map(|(s, _)| s.to_string())
            };
            let v = &self.version;
            if v == "HEAD" {
                let sha = find("HEAD").ok_or_else(|| format!("{} has no HEAD", self.repo))?;
                // The default branch: the branch whose head is HEAD's commit.
                let branch = refs
                    .iter()
                    .find_map(|(s, r)| (*s == sha).then(|| r.strip_prefix("refs/heads/")).flatten())
                    .unwrap_or("")
                    .to_string();
                return Ok((Target::Head(branch), Some(sha)));
            }
            if let Some(s) = find(&format!("refs/heads/{v}")) {
                return Ok((Target::Branch(v.clone()), Some(s)));
            }
            if let Some(s) =
                find(&format!("refs/tags/{v}^{{}}")).or_else(|| find(&format!("refs/tags/{v}")))
            {
                return Ok((Target::Tag(v.clone()), Some(s)));
            }
            if sha_like {
                let full = (v.len() == 40).then(|| v.to_lowercase());
                return Ok((Target::Commit, full));
            }
            Err(format!(
                "version `{v}` is not a branch, tag or commit of {}",
                self.repo
            ))
        };
        let result = |before: Option<&str>, after: Option<&str>, url_changed: bool| match json!({"before": before, "after": after, "remote_url_changed": url_changed})
        {
            Value::Object(m) => m,
            _ => unreachable!(),
        };
        match f.dest.as_str() {
            "other" => Err(format!(
                "{} exists and is not an empty directory or a git checkout",
                self.dest
            )),
            "absent" | "empty" => {
                if !self.clone {
                    return Ok(Plan {
                        result: result(None, None, false),
                        ..Plan::ok()
                    });
                }
                let (t, sha) = target(&f)?;
                let mut opts = String::new();
                if let Some(n) = self.depth {
                    opts.push_str(&format!(" --depth {n}"));
                }
                if self.single_branch {
                    opts.push_str(" --single-branch");
                }
                if self.recursive {
                    opts.push_str(" --recurse-submodules");
                }
                if self.remote != "origin" {
                    opts.push_str(&format!(" --origin {}", self.remote));
                }
                match &t {
                    Target::Branch(b) | Target::Tag(b) => {
                        opts.push_str(&format!(" --branch {}", quote(b)))
                    }
                    _ => {}
                }
                let mut s = format!(
                    "{}set -e\ngit -c advice.detachedHead=false clone -q{opts} -- {} {d}\n",
                    self.env,
                    quote(&self.repo)
                );
                if t == Target::Commit {
                    s.push_str(&format!(
                        "git -C {d} checkout -q --force --detach {}\n",
                        quote(&self.version)
                    ));
                }
                s.push_str(&self.verify(sha.as_deref()));
                let at = sha.clone().unwrap_or_else(|| self.version.clone());
                Ok(Plan {
                    result: result(None, Some(&at), false),
                    ..Plan::script(
                        vec![Change::new(format!(
                            "clone {} into {} at {} ({})",
                            self.repo,
                            self.dest,
                            self.version,
                            short(&at)
                        ))],
                        s,
                        vec![Resource::Path(self.dest.clone())],
                    )
                })
            }
            "repo" => {
                let before = f.head.clone();
                if !self.update {
                    return Ok(Plan {
                        result: result(before.as_deref(), before.as_deref(), false),
                        ..Plan::ok()
                    });
                }
                let dirty = f.dirty.ok_or("unexpected probe output: no status")?;
                if dirty > 0 && !self.force {
                    return Err(format!(
                        "Local modifications exist in the destination: {} (force=no).",
                        self.dest
                    ));
                }
                let (t, sha) = target(&f)?;
                let mut changes = Vec::new();
                let mut s = format!("{}set -e\n", self.env);
                let url_changed = f.url.as_deref() != Some(self.repo.as_str());
                if url_changed {
                    changes.push(Change::new(format!(
                        "{}: remote {} URL {} → {}",
                        self.dest,
                        self.remote,
                        f.url.as_deref().unwrap_or("(none)"),
                        self.repo
                    )));
                    s.push_str(&format!(
                        "if git -C {d} remote get-url {r} >/dev/null 2>&1; then git -C {d} remote set-url {r} {u}; else git -C {d} remote add {r} {u}; fi\n",
                        r = self.remote,
                        u = quote(&self.repo)
                    ));
                }
                let at_target = match (&before, &sha) {
                    (Some(b), Some(w)) => b == w,
                    (Some(b), None) => b.starts_with(&self.version.to_lowercase()),
                    _ => false,
                };
                if dirty > 0 {
                    changes.push(Change::new(format!(
                        "{}: discard local modifications ({dirty} file{})",
                        self.dest,
                        if dirty == 1 { "" } else { "s" }
                    )));
                    s.push_str(&format!("git -C {d} reset --hard -q\n"));
                }
                if !at_target {
                    let depth = self
                        .depth
                        .map(|n| format!(" --depth {n}"))
                        .unwrap_or_default();
                    let r = &self.remote;
                    match &t {
                        Target::Branch(b) => {
                            let q = quote(b);
                            s.push_str(&format!(
                                "git -C {d} fetch -q{depth} {r} +refs/heads/{b}:refs/remotes/{r}/{b}\n\
                                 git -C {d} checkout -q --force -B {q} {r}/{q}\n",
                                b = q
                            ));
                        }
                        Target::Tag(tag) => {
                            let q = quote(tag);
                            s.push_str(&format!(
                                "git -C {d} fetch -q{depth} {r} +refs/tags/{t}:refs/tags/{t}\n\
                                 git -C {d} checkout -q --force --detach {q}\n",
                                t = q
                            ));
                        }
                        Target::Head(b) if !b.is_empty() => {
                            let q = quote(b);
                            s.push_str(&format!(
                                "git -C {d} fetch -q{depth} {r} +refs/heads/{q}:refs/remotes/{r}/{q}\n\
                                 git -C {d} checkout -q --force -B {q} {r}/{q}\n"
                            ));
                        }
                        Target::Head(_) => {
                            s.push_str(&format!(
                                "git -C {d} fetch -q{depth} {r}\ngit -C {d} checkout -q --force --detach {}\n",
                                quote(sha.as_deref().unwrap_or("FETCH_HEAD"))
                            ));
                        }
                        Target::Commit => {
                            s.push_str(&format!(
                                "git -C {d} cat-file -e {v}^{{commit}} 2>/dev/null || git -C {d} fetch -q{depth} {r}\n\
                                 git -C {d} checkout -q --force --detach {v}\n",
                                v = quote(&self.version)
                            ));
                        }
                    }
                    if self.recursive {
                        s.push_str(&format!(
                            "if [ -f {d}/.gitmodules ]; then git -C {d} submodule update -q --init --recursive; fi\n"
                        ));
                    }
                    changes.push(Change::new(format!(
                        "{}: {} → {} ({})",
                        self.dest,
                        before.as_deref().map_or("(no commit)".to_string(), short),
                        self.version,
                        short(sha.as_deref().unwrap_or(&self.version))
                    )));
                }
                s.push_str(&self.verify(sha.as_deref()));
                let after = if at_target {
                    before.clone()
                } else {
                    sha.clone().or_else(|| Some(self.version.clone()))
                };
                if changes.is_empty() {
                    return Ok(Plan {
                        result: result(before.as_deref(), after.as_deref(), false),
                        ..Plan::ok()
                    });
                }
                Ok(Plan {
                    result: result(before.as_deref(), after.as_deref(), url_changed),
                    ..Plan::script(changes, s, vec![Resource::Path(self.dest.clone())])
                })
            }
            other => Err(format!("unexpected probe output: dest {other:?}")),
        }
    }

    /// After the change, HEAD must be the commit the plan promised.
    fn verify(&self, sha: Option<&str>) -> String {
        match sha {
            Some(sha) => format!(
                "plumb_h=$(git -C {d} rev-parse HEAD)\n[ \"$plumb_h\" = {sha} ] || {{ printf 'plumb: %s is at %s, not %s\\n' {d} \"$plumb_h\" {sha} >&2; exit 1; }}\n",
                d = quote(&self.dest),
            ),
            None => String::new(),
        }
    }
}

fn short(sha: &str) -> String {
    sha.chars().take(12).collect()
}

#[derive(Debug, Default)]
struct Facts {
    nogit: bool,
    dest: String,
    head: Option<String>,
    url: Option<String>,
    dirty: Option<u64>,
    error: Option<String>,
    remote: Option<(i32, String)>,
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
        for line in out.lines() {
            let (k, v) = line.split_once('\t').unwrap_or((line, ""));
            let dup = |set: bool| if set { Err(bad(line)) } else { Ok(()) };
            match k {
                "nogit" => f.nogit = true,
                "dest" => {
                    dup(!f.dest.is_empty())?;
                    f.dest = v.to_string();
                }
                "head" => {
                    dup(f.head.is_some())?;
                    if v != "none" {
                        if v.len() != 40 || !v.chars().all(|c| c.is_ascii_hexdigit()) {
                            return Err(bad(line));
                        }
                        f.head = Some(v.to_string());
                    }
                }
                "url" => {
                    dup(f.url.is_some())?;
                    let u = b64(v)?;
                    f.url = Some(u.trim_end_matches('\n').to_string()).filter(|u| !u.is_empty());
                }
                "dirty" => {
                    dup(f.dirty.is_some())?;
                    f.dirty = Some(v.parse().map_err(|_| bad(line))?);
                }
                "error" => f.error = Some(b64(v)?.trim().to_string()),
                "remote" => {
                    dup(f.remote.is_some())?;
                    let (rc, text) = v.split_once('\t').ok_or_else(|| bad(line))?;
                    f.remote = Some((rc.parse().map_err(|_| bad(line))?, b64(text)?));
                }
                _ => return Err(bad(line)),
            }
        }
        if !f.nogit && f.dest.is_empty() {
            return Err(format!("unexpected probe output: {out:?}"));
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

    fn git(args: Value) -> std::result::Result<Git, String> {
        let map: Map<String, Value> = args.as_object().unwrap().clone();
        let args = Args {
            map: map.clone(),
            locs: HashMap::new(),
            key_locs: HashMap::new(),
            loc: crate::location::Location::new(&Arc::new("t.yml".into()), 1, 1),
        };
        Git::build(&Getter::new(&map, &args)).map_err(|e| e.to_string())
    }

    fn e(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    const A: &str = "1111111111111111111111111111111111111111";
    const B: &str = "2222222222222222222222222222222222222222";
    const T: &str = "3333333333333333333333333333333333333333";
    const REPO: &str = "/srv/git/app.git";

    fn ls() -> String {
        let out =
            format!("{B}\tHEAD\n{B}\trefs/heads/main\n{A}\trefs/tags/v1\n{T}\trefs/tags/v1^{{}}");
        format!("remote\t0\t{}\n", e(&out))
    }

    fn checkout(head: &str, dirty: u32) -> String {
        format!(
            "dest\trepo\nhead\t{head}\nurl\t{}\ndirty\t{dirty}\n{}",
            e(&format!("{REPO}\n")),
            ls()
        )
    }

    fn script(p: &Plan) -> &str {
        match &p.run {
            Run::Script(s) => s,
            _ => panic!("no script"),
        }
    }

    #[test]
    fn clone_when_absent() {
        let g =
            git(json!({"repo": REPO, "dest": "/srv/app", "version": "main", "depth": 1})).unwrap();
        let p = g.plan(&format!("dest\tabsent\n{}", ls())).unwrap();
        assert_eq!(
            p.changes[0].summary,
            "clone /srv/git/app.git into /srv/app at main (222222222222)"
        );
        let s = script(&p);
        assert!(
            s.contains("git -c advice.detachedHead=false clone -q --depth 1 --recurse-submodules --branch main -- /srv/git/app.git /srv/app\n"),
            "{s}"
        );
        assert!(s.contains(&format!("[ \"$plumb_h\" = {B} ]")), "{s}");
        assert_eq!(p.result["before"], Value::Null);
        assert_eq!(p.result["after"], B);
        // A commit: cloned, then checked out.
        let g = git(json!({"repo": REPO, "dest": "/srv/app", "version": A})).unwrap();
        let p = g.plan(&format!("dest\tempty\n{}", ls())).unwrap();
        assert!(script(&p).contains(&format!("checkout -q --force --detach {A}")));
    }

    #[test]
    fn existing_checkout_table() {
        // (args, facts, changed, after, script must contain)
        let table: Vec<(Value, String, bool, &str, &str)> = vec![
            (
                json!({"repo": REPO, "dest": "/srv/app"}),
                checkout(B, 0),
                false,
                B,
                "",
            ),
            (
                json!({"repo": REPO, "dest": "/srv/app"}),
                checkout(A, 0),
                true,
                B,
                "fetch -q origin +refs/heads/main:refs/remotes/origin/main\ngit -C /srv/app checkout -q --force -B main origin/main",
            ),
            (
                json!({"repo": REPO, "dest": "/srv/app", "version": "main"}),
                checkout(B, 0),
                false,
                B,
                "",
            ),
            // An annotated tag: its commit, not the tag object.
            (
                json!({"repo": REPO, "dest": "/srv/app", "version": "v1"}),
                checkout(B, 0),
                true,
                T,
                "+refs/tags/v1:refs/tags/v1\ngit -C /srv/app checkout -q --force --detach v1",
            ),
            (
                json!({"repo": REPO, "dest": "/srv/app", "version": "v1"}),
                checkout(T, 0),
                false,
                T,
                "",
            ),
            // A commit id, abbreviated: compared by prefix.
            (
                json!({"repo": REPO, "dest": "/srv/app", "version": "11111111"}),
                checkout(A, 0),
                false,
                A,
                "",
            ),
            // update: no leaves it alone, whatever the remote says.
            (
                json!({"repo": REPO, "dest": "/srv/app", "update": false}),
                "dest\trepo\nhead\t1111111111111111111111111111111111111111\nurl\t\ndirty\t3\n"
                    .into(),
                false,
                A,
                "",
            ),
            // force: local modifications discarded.
            (
                json!({"repo": REPO, "dest": "/srv/app", "force": true}),
                checkout(B, 2),
                true,
                B,
                "reset --hard -q",
            ),
        ];
        for (args, facts, changed, after, want) in table {
            let p = git(args.clone()).unwrap().plan(&facts).unwrap();
            assert_eq!(!p.changes.is_empty(), changed, "{args}: {:?}", p.changes);
            assert_eq!(p.result["after"], after, "{args}");
            if changed {
                assert!(script(&p).contains(want), "{args}: {}", script(&p));
            }
        }
    }

    #[test]
    fn url_change_and_errors() {
        let g = git(json!({"repo": "/srv/git/other.git", "dest": "/srv/app"})).unwrap();
        // ls-remote reads the new URL; here it answers with the same refs.
        let p = g.plan(&checkout(B, 0)).unwrap();
        assert_eq!(p.result["remote_url_changed"], true);
        assert!(script(&p).contains("remote set-url origin /srv/git/other.git"));

        let g = git(json!({"repo": REPO, "dest": "/srv/app"})).unwrap();
        let err = g.plan(&checkout(A, 1)).unwrap_err();
        assert_eq!(
            err,
            "Local modifications exist in the destination: /srv/app (force=no)."
        );
        assert!(g.plan("nogit\n").unwrap_err().contains("not installed"));
        assert!(
            g.plan("dest\tother\n")
                .unwrap_err()
                .contains("not an empty directory")
        );
        let failed = format!("dest\tabsent\nremote\t128\t{}\n", e("fatal: not a repo"));
        assert!(g.plan(&failed).unwrap_err().contains("fatal: not a repo"));
        assert!(g.plan("").is_err());
        assert!(g.plan("dest\trepo\nhead\tnot-a-sha\n").is_err());
        assert!(g.plan(&format!("{}dest\trepo\n", checkout(B, 0))).is_err());
        let g = git(json!({"repo": REPO, "dest": "/srv/app", "version": "nope"})).unwrap();
        assert!(
            g.plan(&checkout(B, 0))
                .unwrap_err()
                .contains("not a branch, tag or commit")
        );
        for bad in [
            json!({"repo": "-u x", "dest": "/srv/app"}),
            json!({"repo": REPO, "dest": "srv/app"}),
            json!({"repo": REPO, "dest": "/srv/app", "version": "a b"}),
            json!({"repo": REPO, "dest": "/srv/app", "version": "--x"}),
            json!({"repo": REPO, "dest": "/srv/app", "remote": "a;b"}),
        ] {
            assert!(git(bad.clone()).is_err(), "{bad}");
        }
    }
}
