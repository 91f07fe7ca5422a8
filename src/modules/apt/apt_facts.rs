//! What the apt probe reads: dpkg's status of the packages named (read from the status file by
//! awk, or by dpkg-query), the cache's age, and apt-cache policy for `latest`.

use crate::shell::quote;
use std::collections::HashMap;

#[derive(Debug, Default, PartialEq)]
pub(crate) struct AptFacts {
    /// Package → its instances (one per architecture): (dpkg status abbreviation, version,
    /// architecture).
    pub(crate) status: HashMap<String, Vec<(String, String, String)>>,
    pub(crate) now: u64,
    /// Newest of the cache's timestamps, if any.
    pub(crate) cache_time: Option<u64>,
    pub(crate) have_lists: bool,
    /// Package → (installed, candidate), for `state: latest`.
    pub(crate) policy: HashMap<String, (String, String)>,
}

impl AptFacts {
    pub(crate) fn parse(facts: &str) -> Result<AptFacts, String> {
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
                    f.status.entry(p[0].to_string()).or_default().push((
                        p[1].trim().to_string(),
                        p[2].to_string(),
                        p.get(3).unwrap_or(&"").to_string(),
                    ));
                }
                // `stat`'s own /proc directory: the host's clock.
                "/proc/self/" => {
                    f.now = rest
                        .trim()
                        .parse()
                        .map_err(|_| format!("bad time: `{line}`"))?;
                    seen_now = true;
                }
                "/var/lib/apt/periodic/update-success-stamp" | "/var/lib/apt/lists" => {
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
}

pub(super) const DPKG_FORMAT: &str =
    r"pkg\t${Package}\t${db:Status-Abbrev}\t${Version}\t${Architecture}\n";

/// Prints what `dpkg-query -W -f=DPKG_FORMAT -- NAMES` would for the status file ARGV[1] and
/// the names in the rest of ARGV (POSIX awk, so mawk). db:Status-Abbrev is want, status, eflag
/// of `Status: want eflag status` (dpkg's pkg_abbrev_*). Like dpkg it reads a not-installed,
/// error-free entry that is only a leftover selection as `un ` without version. On anything it
/// does not know it prints nothing and exits 3, so that dpkg-query answers instead. Unlike
/// dpkg-query it prints nothing for a name that has no paragraph but is named in another
/// package's relations (dpkg-query: `un `); both mean "not installed".
const STATUS_AWK: &str = r#"BEGIN { for (i = 2; i < ARGC; i++) want[ARGV[i]] = 1; ARGC = 2; RS = ""; FS = "\n"
W["unknown"] = "u"; W["install"] = "i"; W["hold"] = "h"; W["deinstall"] = "r"; W["purge"] = "p"
S["not-installed"] = "n"; S["config-files"] = "c"; S["half-installed"] = "H"; S["unpacked"] = "U"
S["half-configured"] = "F"; S["triggers-awaited"] = "W"; S["triggers-pending"] = "t"; S["installed"] = "i"
E["ok"] = " "; E["reinstreq"] = "R" }
{ p = substr($0, 1, index($0 "\n", "\n") - 1)
if (p !~ /^Package:/) for (i = 2; i <= NF; i++) if ($i ~ /^Package:/) { p = $i; break }
if (!sub(/^Package:[ \t]*/, "", p)) { bad = 1; exit }
sub(/[ \t]+$/, "", p); if (!(p in want)) next
st = v = a = ""; np = ns = nv = 0
for (i = 1; i <= NF; i++) if ($i ~ /^Package:/) np++
else if ($i ~ /^Status:/) { st = substr($i, 8); ns++ }
else if ($i ~ /^Version:/) { v = substr($i, 9); nv++ }
else if ($i ~ /^Architecture:/) a = substr($i, 14)
if (np != 1 || ns != 1 || nv > 1 || split(st, s, " ") != 3 || !(s[1] in W) || !(s[2] in E) || !(s[3] in S)) { bad = 1; exit }
sub(/^[ \t]+/, "", v); sub(/[ \t]+$/, "", v); gsub(/[ \t]/, "", a)
if (s[3] == "not-installed" && s[2] == "ok" && (s[1] == "install" ? a == "" : s[1] != "hold")) { s[1] = "unknown"; v = "" }
out = out "pkg\t" p "\t" W[s[1]] S[s[3]] E[s[2]] "\t" v "\t" a "\n" }
END { if (bad) exit 3; printf "%s", out }"#;

/// The `pkg` lines for `pkgs` (bare names, already quoted) from the dpkg database in `admindir`.
///
/// dpkg-query parses the whole database (~3.7 ms of host CPU a run); one awk over the status
/// file costs ~1.4 ms. But dpkg-query also applies a pending journal (`updates/0001`…) that
/// the status file does not yet hold, so then, without awk, or when the awk meets something
/// it does not know, dpkg-query answers: never wrong, only slower. Fast path: one process.
pub(super) fn status_probe(admindir: &str, pkgs: &[String]) -> String {
    let dir = quote(admindir);
    let names = pkgs.join(" ");
    let admin = if admindir == "/var/lib/dpkg" {
        String::new()
    } else {
        format!(" --admindir={dir}")
    };
    format!(
        "set -- {dir}/updates/[0-9]*\n\
         if [ -e \"$1\" ] || ! command -v awk >/dev/null || ! awk '{STATUS_AWK}' {dir}/status {names} 2>/dev/null; then\n\
         dpkg-query{admin} -W -f='{DPKG_FORMAT}' -- {names} 2>/dev/null || true\n\
         fi\n"
    )
}
