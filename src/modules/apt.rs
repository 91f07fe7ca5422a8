//! `apt`: Debian packages present, absent or latest, with a package-cache refresh only when it
//! is stale and actually needed.

use super::args::Getter;
use super::{Change, Plan, Resource};
use crate::error::Result;
use crate::shell::quote;

mod apt_facts;

pub(crate) use apt_facts::AptFacts;
use apt_facts::status_probe;

#[derive(Debug, Clone)]
pub(crate) struct Apt {
    pub(crate) names: Vec<String>,
    pub(crate) state: String,
    pub(crate) update_cache: bool,
    pub(crate) cache_valid_time: Option<u64>,
    pub(crate) install_recommends: bool,
    /// Seconds to wait for the dpkg/apt lock (held by e.g. unattended-upgrades), as Ansible.
    pub(crate) lock_timeout: u64,
    pub(crate) purge: bool,
}

super::plain_module!(Apt, need);

/// What the cache's age is read from: the host's clock (`/proc/self/` is the `stat` process's
/// own directory, made as it looks it up), apt's last update, the lists.
const MTIMES: [&str; 3] = [
    "/proc/self/",
    "/var/lib/apt/periodic/update-success-stamp",
    "/var/lib/apt/lists",
];

impl Apt {
    pub(crate) fn build(a: &Getter) -> Result<Apt> {
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

    /// `name[:arch][=version]` as apt reads it: (name, arch, version). The version may hold
    /// an epoch's `:`, so `=` is split first.
    fn spec(n: &str) -> (&str, Option<&str>, Option<&str>) {
        let (left, version) = match n.split_once('=') {
            Some((l, v)) => (l, Some(v)),
            None => (n, None),
        };
        match left.split_once(':') {
            Some((name, arch)) => (name, Some(arch), version),
            None => (left, None, version),
        }
    }

    pub(crate) fn reads(&self) -> Vec<Resource> {
        let mut r: Vec<Resource> = self
            .names
            .iter()
            .map(|n| Resource::Package(Self::bare(n).to_string()))
            .collect();
        r.push(Resource::Path("/var/lib/apt".into()));
        r.push(Resource::Path("/var/lib/dpkg".into()));
        r
    }

    pub(crate) fn probe(&self) -> String {
        self.probe_parts(true)
    }

    /// The cache's age joins the files' `stat`: one process fewer on every run.
    pub(crate) fn need(&self) -> super::Need {
        super::Need::Mtimes {
            paths: MTIMES.iter().map(|p| p.to_string()).collect(),
            rest: self.probe_parts(false),
        }
    }

    /// The probe, with its `stat` of `MTIMES` or without it (merged with other tasks').
    fn probe_parts(&self, with_stat: bool) -> String {
        let pkgs: Vec<String> = self.names.iter().map(|n| quote(Self::bare(n))).collect();
        let mut s = String::new();
        if !pkgs.is_empty() {
            s.push_str(&status_probe("/var/lib/dpkg", &pkgs));
        }
        // Few processes: each costs about a millisecond on a host, and this runs every time.
        // The host's clock comes from the same `stat`: `/proc/self/` is the stat process's own
        // directory, made as it looks it up; `date` only where /proc is not mounted.
        s.push_str("[ -d /proc/self/ ] || date +'/proc/self/%t%s'\n");
        if with_stat {
            s.push_str("stat --printf '%n\\t%Y\\n' -- ");
            s.push_str(&MTIMES.join(" "));
            s.push_str(" 2>/dev/null\n");
        }
        s.push_str("set -- /var/lib/apt/lists/*_Packages; if [ -e \"$1\" ]; then printf 'lists\\tyes\\n'; else printf 'lists\\tno\\n'; fi\n");
        if self.state == "latest" && !pkgs.is_empty() {
            s.push_str(&format!(
                "LC_ALL=C apt-cache policy -- {} 2>/dev/null | sed 's/^/policy\\t/'\n",
                pkgs.join(" ")
            ));
        }
        s
    }

    pub(crate) fn plan(&self, facts: &str) -> std::result::Result<Plan, String> {
        let f = AptFacts::parse(facts)?;
        // The instances a name (with its pinned architecture and version, if any) means:
        // `nginx=1.22.1-9` is not satisfied by another version, nor `libc6:i386` by amd64.
        let instances = |n: &str| {
            let (name, arch, version) = Self::spec(n);
            f.status
                .get(name)
                .into_iter()
                .flatten()
                .filter(move |(_, v, a)| {
                    arch.is_none_or(|x| x == a) && version.is_none_or(|x| x == v)
                })
                .map(|(s, _, _)| s.as_str())
                .collect::<Vec<&str>>()
        };
        let installed = |n: &str| {
            instances(n)
                .iter()
                .any(|s| s.starts_with("ii") || s.starts_with("hi"))
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
                    .filter(|n| !installed(n))
                    .collect();
            }
            "latest" => {
                for n in &self.names {
                    let b = Self::bare(n);
                    if !installed(n) {
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
                        // By what is on disk (the status letter), not by what was selected:
                        // `in ` is not installed, `ri ` is.
                        instances(n).iter().any(|s| match s.chars().nth(1) {
                            Some('n') | None => false,
                            Some('c') => self.purge,
                            Some(_) => true,
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
            .filter(|n| !installed(n))
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
            uncertain,
            ..Plan::script(changes, s, vec![Resource::All])
        })
    }
}

/// One line per package instance, as `Apt::parse` reads it.
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
    use crate::modules::Run;
    use apt_facts::DPKG_FORMAT;

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
    const HALF: &str = "pkg\tnginx\tii \t1.22.1-9+deb12u2\n/proc/self/\t1764070000\n/var/lib/apt/periodic/update-success-stamp\t1764069000\n/var/lib/apt/lists\t1764069000\nlists\tyes\n";
    const FRESH: &str = "/proc/self/\t1764070000\nlists\tno\n";

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
        let all = "pkg\tnginx\tii \t1\npkg\tuwsgi\tii \t2\n/proc/self/\t1764070000\n/var/lib/apt/lists\t1000\nlists\tyes\n";
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
    fn absent_goes_by_what_is_on_disk_not_the_selection() {
        let facts = |a: &str, b: &str| {
            format!(
                "pkg\tnginx\t{a}\t1\npkg\tuwsgi\t{b}\t2\n/proc/self/\t100\n/var/lib/apt/lists\t90\nlists\tyes\n"
            )
        };
        // Selected for install but not installed, held but not installed: nothing to remove.
        assert!(
            apt("absent", false, None)
                .plan(&facts("in ", "hn "))
                .unwrap()
                .changes
                .is_empty()
        );
        // Selected for removal but still installed; half-installed: both removed.
        let p = apt("absent", false, None)
            .plan(&facts("ri ", "iHR"))
            .unwrap();
        assert_eq!(p.changes[0].summary, "remove nginx, uwsgi");
        // Config files left: only a purge has something to do.
        assert!(
            apt("absent", false, None)
                .plan(&facts("rc ", "un "))
                .unwrap()
                .changes
                .is_empty()
        );
        let mut purge = apt("absent", false, None);
        purge.purge = true;
        assert_eq!(purge.plan(&facts("rc ", "un ")).unwrap().changes.len(), 1);
    }

    #[test]
    fn latest_compares_candidates() {
        let facts = "pkg\tnginx\tii \t1\npkg\tuwsgi\tii \t2\n/proc/self/\t100\n/var/lib/apt/lists\t90\nlists\tyes\npolicy\tnginx:\npolicy\t  Installed: 1\npolicy\t  Candidate: 1.1\npolicy\tuwsgi:\npolicy\t  Installed: 2\npolicy\t  Candidate: 2\n";
        let p = apt("latest", true, Some(3600)).plan(facts).unwrap();
        assert_eq!(p.changes[0].summary, "upgrade nginx 1 → 1.1");
    }

    /// A dpkg status file as dpkg writes it (sorted by name, native arch first).
    const STATUS: &str = "\
Package: broken
Status: install reinstreq half-installed
Maintainer: N <n@example.org>
Architecture: amd64
Version: 7
Description: half installed, reinstall required

Package: gone
Status: purge ok not-installed
Architecture: amd64

Package: held
Status: hold ok installed
Maintainer: N <n@example.org>
Architecture: amd64
Version: 1:3.4-5
Description: held back

Package: libfoo1
Status: install ok installed
Maintainer: N <n@example.org>
Architecture: amd64
Multi-Arch: same
Version: 2.0-1
Description: one instance per architecture

Package: libfoo1
Status: install ok unpacked
Maintainer: N <n@example.org>
Architecture: i386
Multi-Arch: same
Version: 2.0-2
Description: one instance per architecture

Package: nginx
Status: install ok installed
Priority: optional
Section: httpd
Maintainer: N <n@example.org>
Architecture: amd64
Version: 1.22.1-9+deb12u2
Depends: nginx-common (= 1.22.1-9+deb12u2), libc6 (>= 2.34)
Conffiles:
 /etc/nginx/nginx.conf 0123456789abcdef0123456789abcdef
 /etc/nginx/mime.types 0123456789abcdef0123456789abcdef obsolete
Description: small, powerful, scalable web/proxy server
 Continuation lines are not fields:
 .
 Package: decoy
 Status: purge ok not-installed
 Version: 0

Package: nginx-common
Status: install ok installed
Maintainer: N <n@example.org>
Architecture: all
Version: 1.22.1-9+deb12u2
Description: a longer name that starts with a wanted one

Package: removed
Status: deinstall ok config-files
Maintainer: N <n@example.org>
Architecture: amd64
Version: 0.9
Description: removed, configuration kept

Package: unpacked
Status: install ok unpacked
Maintainer: N <n@example.org>
Architecture: amd64
Version: 8~rc1
Description: unpacked, not configured
";

    const WANTED: &[&str] = &[
        "nginx", "held", "removed", "broken", "unpacked", "gone", "libfoo1", "decoy", "missing",
    ];

    fn admindir(status: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("updates")).unwrap();
        std::fs::write(dir.path().join("status"), status).unwrap();
        dir
    }

    fn run_probe(dir: &std::path::Path, path: Option<&str>) -> String {
        run_probe_for(dir, path, WANTED)
    }

    fn run_probe_for(dir: &std::path::Path, path: Option<&str>, names: &[&str]) -> String {
        let pkgs: Vec<String> = names.iter().map(|n| quote(n)).collect();
        let script = status_probe(dir.to_str().unwrap(), &pkgs);
        let mut cmd = std::process::Command::new("/bin/sh");
        cmd.arg("-c").arg(&script);
        if let Some(p) = path {
            cmd.env("PATH", p);
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{script}: {out:?}");
        assert!(out.stderr.is_empty(), "{script}: {out:?}");
        String::from_utf8(out.stdout).unwrap()
    }

    /// dpkg-query's answer on the same database, or None where dpkg is not installed.
    fn dpkg_query(dir: &std::path::Path) -> Option<String> {
        dpkg_query_for(dir, WANTED)
    }

    fn dpkg_query_for(dir: &std::path::Path, names: &[&str]) -> Option<String> {
        let out = std::process::Command::new("dpkg-query")
            .arg(format!("--admindir={}", dir.display()))
            .args(["-W", &format!("-f={DPKG_FORMAT}"), "--"])
            .args(names)
            .output();
        match out {
            Ok(o) => Some(String::from_utf8(o.stdout).unwrap()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => panic!("dpkg-query: {e}"),
        }
    }

    fn sorted(s: &str) -> Vec<&str> {
        let mut v: Vec<&str> = s.lines().collect();
        v.sort_unstable();
        v
    }

    #[test]
    fn status_awk_matches_dpkg_query() {
        let dir = admindir(STATUS);
        let awk = run_probe(dir.path(), None);
        let expected = [
            "pkg\tbroken\tiHR\t7\tamd64",
            "pkg\tgone\tun \t\tamd64",
            "pkg\theld\thi \t1:3.4-5\tamd64",
            "pkg\tlibfoo1\tiU \t2.0-2\ti386",
            "pkg\tlibfoo1\tii \t2.0-1\tamd64",
            "pkg\tnginx\tii \t1.22.1-9+deb12u2\tamd64",
            "pkg\tremoved\trc \t0.9\tamd64",
            "pkg\tunpacked\tiU \t8~rc1\tamd64",
        ];
        assert_eq!(sorted(&awk), expected, "{awk}");
        match dpkg_query(dir.path()) {
            Some(dq) => assert_eq!(sorted(&awk), sorted(&dq)),
            None => eprintln!("note: no dpkg-query here; checked the awk output only"),
        }
        let f = AptFacts::parse(&format!("{awk}/proc/self/\t1\n")).unwrap();
        assert_eq!(
            f.status["nginx"],
            [("ii".into(), "1.22.1-9+deb12u2".into(), "amd64".into())]
        );
        assert_eq!(
            f.status["gone"],
            [("un".into(), String::new(), "amd64".into())]
        );
        assert_eq!(f.status["libfoo1"].len(), 2);
        // The one known difference: a name only mentioned in another package's relations
        // (libc6 here) is a `un ` line to dpkg-query and no line to the awk. To `plan` both
        // mean not installed.
        assert_eq!(run_probe_for(dir.path(), None, &["libc6"]), "");
        if let Some(dq) = dpkg_query_for(dir.path(), &["libc6"]) {
            assert_eq!(dq, "pkg\tlibc6\tun \t\t\n");
        }
    }

    #[test]
    fn pending_journal_or_no_awk_means_dpkg_query() {
        // The journal says what the status file does not yet: nginx is now configured.
        let dir = admindir(STATUS);
        let journal = STATUS
            .split("\n\n")
            .find(|p| p.starts_with("Package: unpacked\n"))
            .unwrap()
            .replace("install ok unpacked", "install ok installed")
            .replace("8~rc1", "8")
            + "\n";
        std::fs::write(dir.path().join("updates/tmp.i"), &journal).unwrap();
        let fast = run_probe(dir.path(), None);
        assert!(
            fast.contains("pkg\tunpacked\tiU \t8~rc1\tamd64\n"),
            "{fast}"
        );
        std::fs::write(dir.path().join("updates/0001"), &journal).unwrap();
        let slow = run_probe(dir.path(), None);
        match dpkg_query(dir.path()) {
            Some(dq) => {
                assert!(slow.contains("pkg\tunpacked\tii \t8\tamd64\n"), "{slow}");
                assert_eq!(slow, dq);
            }
            None => assert_eq!(slow, "", "dpkg-query is not here, the awk must not answer"),
        }
        // Without awk on the PATH (nor anything else but a stand-in dpkg-query).
        std::fs::remove_file(dir.path().join("updates/0001")).unwrap();
        let bin = tempfile::tempdir().unwrap();
        let stub = bin.path().join("dpkg-query");
        std::fs::write(&stub, "#!/bin/sh\necho 'pkg\tstub\tii \t1'\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&stub, std::fs::Permissions::from_mode(0o755)).unwrap();
        let out = run_probe(dir.path(), bin.path().to_str());
        assert_eq!(out, "pkg\tstub\tii \t1\n");
        // A status paragraph the awk does not know also goes to dpkg-query.
        let odd = admindir(&STATUS.replace("hold ok installed", "hold ok mystery"));
        let out = run_probe(
            odd.path(),
            bin.path()
                .to_str()
                .map(|b| format!("{b}:/usr/bin:/bin"))
                .as_deref(),
        );
        assert_eq!(out, "pkg\tstub\tii \t1\n");
    }

    #[test]
    fn probe_reads_the_real_database() {
        let p = apt("present", false, None).probe();
        assert!(
            p.starts_with("set -- /var/lib/dpkg/updates/[0-9]*\n"),
            "{p}"
        );
        assert!(
            p.contains(" /var/lib/dpkg/status nginx uwsgi 2>/dev/null; then\n"),
            "{p}"
        );
        assert!(p.contains("\ndpkg-query -W -f='pkg\\t${Package}\\t${db:Status-Abbrev}\\t${Version}\\t${Architecture}\\n' -- nginx uwsgi 2>/dev/null || true\nfi\n"), "{p}");
    }

    /// The whole probe runs through sh here and parses; its clock is this machine's.
    #[test]
    fn probe_reads_the_clock_from_stat() {
        let out = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(apt("present", false, None).probe())
            .output()
            .unwrap();
        let f = AptFacts::parse(&String::from_utf8(out.stdout).unwrap()).unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert!(f.now.abs_diff(now) < 60, "{} against {now}", f.now);
    }

    #[test]
    fn pinned_version_and_architecture_are_compared() {
        // Recorded through the awk above on the test STATUS, plus an i386-only package:
        // nginx 1.22.1-9+deb12u2 (amd64), libfoo1 2.0-1 (amd64, ii) and 2.0-2 (i386, only
        // unpacked), zlib1g (i386 only).
        let facts = "pkg\tnginx\tii \t1.22.1-9+deb12u2\tamd64\npkg\tlibfoo1\tii \t2.0-1\tamd64\npkg\tlibfoo1\tiU \t2.0-2\ti386\npkg\tzlib1g\tii \t1:1.2.13.dfsg-1\ti386\n/proc/self/\t100\n/var/lib/apt/lists\t90\nlists\tyes\n";
        let plan = |state: &str, name: &str| {
            let mut a = apt(state, false, None);
            a.names = vec![name.into()];
            let p = a.plan(facts).unwrap();
            p.changes
                .iter()
                .map(|c| c.summary.clone())
                .collect::<Vec<_>>()
        };
        let none: [&str; 0] = [];
        // (state, name, changes)
        let table: &[(&str, &str, &[&str])] = &[
            ("present", "nginx", &none),
            ("present", "nginx=1.22.1-9+deb12u2", &none),
            ("present", "nginx=1.22.1-9", &["install nginx=1.22.1-9"]),
            ("present", "nginx:amd64", &none),
            ("present", "nginx:i386", &["install nginx:i386"]),
            ("present", "libfoo1:amd64", &none),
            ("present", "libfoo1:i386", &["install libfoo1:i386"]),
            (
                "present",
                "libfoo1:i386=2.0-2",
                &["install libfoo1:i386=2.0-2"],
            ),
            ("present", "zlib1g", &none),
            ("present", "zlib1g:i386=1:1.2.13.dfsg-1", &none),
            ("present", "zlib1g:amd64", &["install zlib1g:amd64"]),
            ("absent", "zlib1g:amd64", &none),
            ("absent", "zlib1g:i386", &["remove zlib1g:i386"]),
            ("absent", "nginx=1.0", &none),
        ];
        for (state, name, want) in table {
            assert_eq!(plan(state, name), *want, "{state} {name}");
        }
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(AptFacts::parse("dpkg-query: command not found\n").is_err());
        assert!(AptFacts::parse("").is_err());
    }
}
