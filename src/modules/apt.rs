//! `apt`: Debian packages present, absent or latest, with a package-cache refresh only when it
//! is stale and actually needed.

use super::args::Getter;
use super::{Change, Plan, Resource, Run};
use crate::error::Result;
use crate::shell::quote;
use std::collections::HashMap;

#[derive(Debug, Clone)]
pub struct Apt {
    pub names: Vec<String>,
    pub state: String,
    pub update_cache: bool,
    pub cache_valid_time: Option<u64>,
    pub install_recommends: bool,
    /// Seconds to wait for the dpkg/apt lock (held by e.g. unattended-upgrades), as Ansible.
    pub lock_timeout: u64,
    pub purge: bool,
}

#[derive(Debug, Default, PartialEq)]
pub struct AptFacts {
    /// Package → (dpkg status abbreviation, version).
    pub status: HashMap<String, (String, String)>,
    pub now: u64,
    /// Newest of the cache's timestamps, if any.
    pub cache_time: Option<u64>,
    pub have_lists: bool,
    /// Package → (installed, candidate), for `state: latest`.
    pub policy: HashMap<String, (String, String)>,
}

impl Apt {
    pub fn build(a: &Getter) -> Result<Apt> {
        let key = ["name", "pkg", "package"]
            .into_iter()
            .find(|k| a.has(k))
            .unwrap_or("name");
        let state = a.choice(
            "state",
            &["present", "installed", "absent", "removed", "latest"],
            "present",
        )?;
        let state = match state.as_str() {
            "installed" => "present".to_string(),
            "removed" => "absent".to_string(),
            _ => state,
        };
        let names = a.list(key)?;
        for n in &names {
            if !n
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.:=_~".contains(c))
            {
                return Err(a.err(key, format!("`{n}` is not a package name")));
            }
        }
        Ok(Apt {
            names,
            state,
            update_cache: a.bool("update_cache", false)?,
            cache_valid_time: a.opt_u64("cache_valid_time")?,
            install_recommends: a.bool("install_recommends", true)?,
            lock_timeout: a.opt_u64("lock_timeout")?.unwrap_or(60),
            purge: a.bool("purge", false)?,
        })
    }

    fn bare(name: &str) -> &str {
        name.split(['=', ':']).next().unwrap_or(name)
    }

    pub fn reads(&self) -> Vec<Resource> {
        let mut r: Vec<Resource> = self
            .names
            .iter()
            .map(|n| Resource::Package(Self::bare(n).to_string()))
            .collect();
        r.push(Resource::Path("/var/lib/apt".into()));
        r.push(Resource::Path("/var/lib/dpkg".into()));
        r
    }

    pub fn probe(&self) -> String {
        let pkgs: Vec<String> = self.names.iter().map(|n| quote(Self::bare(n))).collect();
        let mut s = String::new();
        if !pkgs.is_empty() {
            s.push_str(&format!(
                "dpkg-query -W -f='pkg\\t${{Package}}\\t${{db:Status-Abbrev}}\\t${{Version}}\\n' -- {} 2>/dev/null || true\n",
                pkgs.join(" ")
            ));
        }
        // Few processes: each costs about a millisecond on a host, and this runs every time.
        s.push_str("date +'now%t%s'\n");
        s.push_str("stat --printf 'stamp\\t%Y\\n' -- /var/lib/apt/periodic/update-success-stamp /var/lib/apt/lists 2>/dev/null\n");
        s.push_str("set -- /var/lib/apt/lists/*_Packages; if [ -e \"$1\" ]; then printf 'lists\\tyes\\n'; else printf 'lists\\tno\\n'; fi\n");
        if self.state == "latest" && !pkgs.is_empty() {
            s.push_str(&format!(
                "LC_ALL=C apt-cache policy -- {} 2>/dev/null | sed 's/^/policy\\t/'\n",
                pkgs.join(" ")
            ));
        }
        s
    }

    pub fn parse(facts: &str) -> std::result::Result<AptFacts, String> {
        let mut f = AptFacts::default();
        let mut seen_now = false;
        let mut current: Option<String> = None;
        for line in facts.lines() {
            let (tag, rest) = line.split_once('\t').unwrap_or((line, ""));
            match tag {
                "pkg" => {
                    let p: Vec<&str> = rest.split('\t').collect();
                    if p.len() < 3 {
                        return Err(format!("unexpected dpkg-query output: `{line}`"));
                    }
                    f.status.insert(
                        p[0].to_string(),
                        (p[1].trim().to_string(), p[2].to_string()),
                    );
                }
                "now" => {
                    f.now = rest
                        .trim()
                        .parse()
                        .map_err(|_| format!("bad time: `{line}`"))?;
                    seen_now = true;
                }
                "stamp" => {
                    let t: u64 = rest
                        .trim()
                        .parse()
                        .map_err(|_| format!("bad stamp: `{line}`"))?;
                    f.cache_time = Some(f.cache_time.map_or(t, |c| c.max(t)));
                }
                "lists" => f.have_lists = rest.trim() == "yes",
                "policy" => {
                    let t = rest.trim();
                    if !rest.starts_with(' ') && t.ends_with(':') {
                        current = Some(t.trim_end_matches(':').to_string());
                    } else if let Some(pkg) = &current {
                        let e = f.policy.entry(pkg.clone()).or_default();
                        if let Some(v) = t.strip_prefix("Installed:") {
                            e.0 = v.trim().to_string();
                        } else if let Some(v) = t.strip_prefix("Candidate:") {
                            e.1 = v.trim().to_string();
                        }
                    }
                }
                _ => return Err(format!("unexpected probe output: `{line}`")),
            }
        }
        if !seen_now {
            return Err(format!("incomplete probe output: `{}`", facts.trim()));
        }
        Ok(f)
    }

    pub fn plan(&self, facts: &str) -> std::result::Result<Plan, String> {
        let f = Self::parse(facts)?;
        let installed = |n: &str| {
            f.status
                .get(n)
                .is_some_and(|(s, _)| s.starts_with("ii") || s.starts_with("hi"))
        };
        let mut changes = Vec::new();
        let mut to_install: Vec<&str> = Vec::new();
        let mut to_remove: Vec<&str> = Vec::new();
        let mut uncertain = false;
        match self.state.as_str() {
            "present" => {
                to_install = self
                    .names
                    .iter()
                    .map(String::as_str)
                    .filter(|n| !installed(Self::bare(n)))
                    .collect();
            }
            "latest" => {
                for n in &self.names {
                    let b = Self::bare(n);
                    if !installed(b) {
                        to_install.push(n);
                    } else if let Some((inst, cand)) = f.policy.get(b)
                        && cand != inst
                        && cand != "(none)"
                        && !cand.is_empty()
                    {
                        changes.push(Change::new(format!("upgrade {b} {inst} → {cand}")));
                        to_install.push(n);
                    }
                }
            }
            "absent" => {
                to_remove = self
                    .names
                    .iter()
                    .map(String::as_str)
                    .filter(|n| {
                        f.status.get(Self::bare(n)).is_some_and(|(s, _)| {
                            s.starts_with('i')
                                || s.starts_with('h')
                                || (self.purge && s.starts_with("rc"))
                        })
                    })
                    .collect();
            }
            _ => unreachable!(),
        }
        let stale = match (f.cache_time, self.cache_valid_time) {
            (None, _) | (_, None) => true,
            (Some(t), Some(valid)) => f.now.saturating_sub(t) > valid,
        };
        // Refresh when asked and stale, but only if it serves something: installing, upgrading,
        // or a bare `update_cache` task. A fresh host without lists gets them in any case.
        let wants_update = (self.update_cache
            && stale
            && (!to_install.is_empty() || self.names.is_empty() || self.state == "latest"))
            || (!to_install.is_empty() && !f.have_lists);
        if wants_update {
            let age = match f.cache_time {
                Some(t) if f.have_lists => {
                    format!("last updated {} ago", human_age(f.now.saturating_sub(t)))
                }
                _ => "no package lists yet".into(),
            };
            changes.insert(0, Change::new(format!("update package cache ({age})")));
            if self.state == "latest" && to_install.is_empty() {
                // Newer versions can only be known after the refresh.
                uncertain = true;
            }
        }
        let new: Vec<&str> = to_install
            .iter()
            .copied()
            .filter(|n| !installed(Self::bare(n)))
            .collect();
        if !new.is_empty() {
            changes.push(Change::new(format!("install {}", new.join(", "))));
        }
        if !to_remove.is_empty() {
            let verb = if self.purge { "purge" } else { "remove" };
            changes.push(Change::new(format!("{verb} {}", to_remove.join(", "))));
        }
        if changes.is_empty() {
            return Ok(Plan::ok());
        }
        let lock = format!("-o DPkg::Lock::Timeout={}", self.lock_timeout);
        let opts = format!(
            "-q -y {lock} -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold"
        );
        let mut s = String::from("set -e\nexport DEBIAN_FRONTEND=noninteractive\n");
        if wants_update {
            s.push_str(&format!("apt-get -q {lock} update\n"));
        }
        if self.state == "latest" && uncertain {
            let all: Vec<String> = self.names.iter().map(|n| quote(n)).collect();
            s.push_str(&format!(
                "apt-get {opts} install --only-upgrade -- {}\n",
                all.join(" ")
            ));
        }
        if !to_install.is_empty() {
            let rec = if self.install_recommends {
                ""
            } else {
                " --no-install-recommends"
            };
            let q: Vec<String> = to_install.iter().map(|n| quote(n)).collect();
            s.push_str(&format!("apt-get {opts}{rec} install -- {}\n", q.join(" ")));
        }
        if !to_remove.is_empty() {
            let purge = if self.purge { " --purge" } else { "" };
            let q: Vec<String> = to_remove.iter().map(|n| quote(n)).collect();
            s.push_str(&format!(
                "apt-get {opts} remove{purge} -- {}\n",
                q.join(" ")
            ));
        }
        Ok(Plan {
            changes,
            run: Run::Script(s),
            writes: vec![Resource::All],
            uncertain,
        })
    }
}

fn human_age(secs: u64) -> String {
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apt(state: &str, update: bool, valid: Option<u64>) -> Apt {
        Apt {
            names: vec!["nginx".into(), "uwsgi".into()],
            state: state.into(),
            update_cache: update,
            cache_valid_time: valid,
            install_recommends: true,
            purge: false,
            lock_timeout: 60,
        }
    }

    // Recorded on a Debian 12 host with nginx installed and uwsgi never installed.
    const HALF: &str = "pkg\tnginx\tii \t1.22.1-9+deb12u2\nnow\t1764070000\nstamp\t1764069000\nstamp\t1764069000\nlists\tyes\n";
    const FRESH: &str = "now\t1764070000\nlists\tno\n";

    #[test]
    fn installs_what_is_missing() {
        let p = apt("present", true, Some(3600)).plan(HALF).unwrap();
        let s: Vec<_> = p.changes.iter().map(|c| c.summary.as_str()).collect();
        assert_eq!(s, ["install uwsgi"]);
        let Run::Script(script) = p.run else { panic!() };
        assert!(!script.contains(" update\n"), "cache is fresh: {script}");
        assert!(script.contains("install -- uwsgi\n"));
    }

    #[test]
    fn fresh_host_updates_the_cache() {
        let p = apt("present", false, None).plan(FRESH).unwrap();
        let s: Vec<_> = p.changes.iter().map(|c| c.summary.as_str()).collect();
        assert_eq!(
            s,
            [
                "update package cache (no package lists yet)",
                "install nginx, uwsgi"
            ]
        );
    }

    #[test]
    fn converged_is_ok_even_with_stale_cache() {
        let all =
            "pkg\tnginx\tii \t1\npkg\tuwsgi\tii \t2\nnow\t1764070000\nstamp\t1000\nlists\tyes\n";
        assert!(
            apt("present", true, Some(3600))
                .plan(all)
                .unwrap()
                .changes
                .is_empty()
        );
        let p = apt("absent", false, None).plan(all).unwrap();
        assert_eq!(p.changes[0].summary, "remove nginx, uwsgi");
    }

    #[test]
    fn latest_compares_candidates() {
        let facts = "pkg\tnginx\tii \t1\npkg\tuwsgi\tii \t2\nnow\t100\nstamp\t90\nlists\tyes\npolicy\tnginx:\npolicy\t  Installed: 1\npolicy\t  Candidate: 1.1\npolicy\tuwsgi:\npolicy\t  Installed: 2\npolicy\t  Candidate: 2\n";
        let p = apt("latest", true, Some(3600)).plan(facts).unwrap();
        assert_eq!(p.changes[0].summary, "upgrade nginx 1 → 1.1");
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(Apt::parse("dpkg-query: command not found\n").is_err());
        assert!(Apt::parse("").is_err());
    }
}
