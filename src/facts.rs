//! Ansible facts without Python on the host.
//!
//! Design:
//! - **One round trip.** [`snippet`] is a POSIX sh fragment meant to be appended to the batched
//!   probe script a run already sends, so facts cost no extra exec.
//! - **Few processes.** Almost every fact comes from files: one `grep -H ''` reads the small ones
//!   whole (each output line carries the path it came from); a second grep reads the long ones
//!   (`/proc/cpuinfo`, `/proc/meminfo`, `/proc/self/mountinfo`, `/proc/net/fib_trie`) keeping
//!   only the lines the parser uses; `date` gives the clock. The rest (the current user's
//!   `/etc/passwd` line, `Uid:` from `/proc/self/status`, which paths exist, the environment) is
//!   read with shell builtins. A full gather starts 3 processes (4 on older kernels, which have no
//!   `/proc/sys/kernel/arch`, where `uname -m` answers); `gather_subset: min` starts 2.
//! - **Framing.** Every file line starts with a path the parser knows; lines the snippet prints
//!   itself start with `@@`, which no path does. The environment comes last, from `export -p`,
//!   and is read quote-aware (dash, ash and bash quoting) up to a final `@@end`, so a value
//!   holding newlines or `@@end` cannot end it early; a missing `@@end` means the output was cut
//!   and is an error.
//! - **A pure parser.** [`parse`] turns that output into `ansible_facts` (names without the
//!   `ansible_` prefix) with Ansible's names, types and formats. A missing essential file (the
//!   kernel's, `/proc/meminfo`, `/proc/cpuinfo`, `/proc/net/route`, the date line, the
//!   environment, `Uid:`) is an error, never a guess; optional files may be absent. The parsers
//!   live in `facts/sys.rs` (platform, distribution, user, clock...), `facts/hw.rs` (memory,
//!   processors, mounts, DMI, virtualization) and `facts/net.rs`.
//!
//! Not gathered (they need a command or Python): `python*`, `selinux_python_present`, `devices`,
//! `device_links`, `lvm`, `system_capabilities*` (capsh), `systemd` (systemctl), `flags` (one
//! line per CPU), mount sizes and UUIDs (`statvfs`, `lsblk`), `ethtool` features, `local` when
//! `/etc/ansible/facts.d` exists (its scripts are not run), `is_chroot` where init's root
//! cannot be looked at. `fqdn` comes from `/etc/hosts` only (no DNS); `tz_dst` is the zone's
//! current name.

mod hw;
mod net;
mod sys;

use hw::{DMI, hardware, virtual_facts};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};
use sys::{PKG_MGRS, SSH_KEYS, distribution, lsb, pkg_mgr, platform, selinux, service_mgr, user};
pub(crate) use sys::{cmdline, date_time, dns};

/// The collectors Ansible's `gather_subset: min` always includes.
const MIN: &[&str] = &[
    "apparmor",
    "caps",
    "cmdline",
    "date_time",
    "distribution",
    "dns",
    "env",
    "fips",
    "local",
    "lsb",
    "pkg_mgr",
    "platform",
    "python",
    "selinux",
    "service_mgr",
    "ssh_pub_keys",
    "user",
];

/// The other collectors `all` expands to.
const OTHERS: &[&str] = &[
    "fibre_channel_wwn",
    "iscsi",
    "nvme",
    "chroot",
    "facter",
    "hardware",
    "loadavg",
    "network",
    "ohai",
    "systemd",
    "virtual",
];

/// Names that are valid in `gather_subset` and select a collector (Ansible accepts a fact id in
/// place of its collector's name).
const ALIASES: &[(&str, &str)] = &[
    ("devices", "hardware"),
    ("dmi", "hardware"),
    ("mounts", "hardware"),
    ("processor", "hardware"),
    ("processor_cores", "hardware"),
    ("processor_count", "hardware"),
    ("memtotal_mb", "hardware"),
    ("memfree_mb", "hardware"),
    ("swaptotal_mb", "hardware"),
    ("swapfree_mb", "hardware"),
    ("interfaces", "network"),
    ("default_ipv4", "network"),
    ("default_ipv6", "network"),
    ("all_ipv4_addresses", "network"),
    ("all_ipv6_addresses", "network"),
    ("virtualization_type", "virtual"),
    ("virtualization_role", "virtual"),
    ("system", "platform"),
    ("kernel", "platform"),
    ("kernel_version", "platform"),
    ("machine", "platform"),
    ("architecture", "platform"),
    ("machine_id", "platform"),
    ("hostname", "platform"),
    ("nodename", "platform"),
    ("fqdn", "platform"),
    ("domain", "platform"),
    ("userspace_bits", "platform"),
    ("userspace_architecture", "platform"),
    ("distribution_version", "distribution"),
    ("distribution_release", "distribution"),
    ("distribution_major_version", "distribution"),
    ("os_family", "distribution"),
    ("user_id", "user"),
    ("user_uid", "user"),
    ("user_gid", "user"),
    ("user_gecos", "user"),
    ("user_dir", "user"),
    ("user_shell", "user"),
    ("real_user_id", "user"),
    ("effective_user_id", "user"),
    ("effective_group_ids", "user"),
    ("system_capabilities", "caps"),
    ("system_capabilities_enforced", "caps"),
    ("is_chroot", "chroot"),
    ("ssh_host_pub_keys", "ssh_pub_keys"),
];

/// Ansible's `gather_subset` and `filter`, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Subset {
    collectors: BTreeSet<&'static str>,
    filter: Vec<String>,
    /// `gather_subset` as given, for the `gather_subset` fact.
    given: Vec<String>,
}

impl Default for Subset {
    fn default() -> Subset {
        Subset::all()
    }
}

impl Subset {
    /// `gather_subset: all`, no filter: what a play's implicit fact gathering collects.
    pub(crate) fn all() -> Subset {
        Subset {
            collectors: MIN.iter().chain(OTHERS).copied().collect(),
            filter: Vec::new(),
            given: vec!["all".into()],
        }
    }

    /// From `gather_subset` (e.g. `["!all", "network"]`; empty means `all`) and `filter` (fnmatch
    /// patterns, with or without the `ansible_` prefix; empty means everything), as Ansible
    /// resolves them: the min set is always in unless `!min` is given; an explicitly named subset
    /// wins over an exclusion; an unknown name to add is an error, an unknown name to exclude is
    /// ignored.
    pub(crate) fn new<S: AsRef<str>, F: AsRef<str>>(
        gather_subset: &[S],
        filter: &[F],
    ) -> Result<Subset, String> {
        let valid: BTreeSet<&'static str> = MIN.iter().chain(OTHERS).copied().collect();
        let resolve = |name: &str| -> Option<&'static str> {
            valid
                .iter()
                .copied()
                .find(|v| *v == name)
                .or_else(|| ALIASES.iter().find(|(a, _)| *a == name).map(|(_, c)| *c))
        };
        let mut add: BTreeSet<&'static str> = MIN.iter().copied().collect();
        let mut exclude: BTreeSet<&'static str> = BTreeSet::new();
        let mut explicit: BTreeSet<&'static str> = BTreeSet::new();
        let given: Vec<&str> = gather_subset.iter().map(|s| s.as_ref().trim()).collect();
        let given = if given.is_empty() { vec!["all"] } else { given };
        for s in given.iter().copied() {
            match s {
                "min" => add.extend(MIN),
                "all" => add.extend(valid.iter().copied()),
                "!min" => exclude.extend(MIN),
                "!all" => exclude.extend(valid.iter().copied().filter(|v| !MIN.contains(v))),
                _ => {
                    if let Some(name) = s.strip_prefix('!') {
                        if let Some(c) = resolve(name) {
                            exclude.insert(c);
                        }
                    } else {
                        let c = resolve(s).ok_or_else(|| {
                            format!(
                                "gather_subset: unknown subset `{s}`; allowed: all, min, {}",
                                valid.iter().copied().collect::<Vec<_>>().join(", ")
                            )
                        })?;
                        explicit.insert(c);
                        add.insert(c);
                    }
                }
            }
        }
        let collectors = add
            .into_iter()
            .filter(|c| !exclude.contains(c) || explicit.contains(c))
            .collect();
        Ok(Subset {
            collectors,
            filter: filter
                .iter()
                .map(|f| f.as_ref().to_string())
                .filter(|f| !f.is_empty() && f != "*")
                .collect(),
            given: given.iter().map(|g| g.to_string()).collect(),
        })
    }

    /// Whether the collector `name` (`platform`, `hardware`, ...) is gathered.
    pub(crate) fn has(&self, name: &str) -> bool {
        self.collectors.contains(name)
    }

    /// The collectors gathered, sorted (Ansible's `gather_subset` fact shows what was asked).
    pub(crate) fn collectors(&self) -> Vec<&'static str> {
        self.collectors.iter().copied().collect()
    }

    /// `keep` for the names Ansible does not prefix (`gather_subset`, `module_setup`).
    fn keep_bare(&self, name: &str) -> bool {
        self.filter.is_empty()
            || self.filter.iter().any(|f| {
                fnmatch(f, name)
                    || (!f.starts_with("ansible_")
                        && !f.starts_with("facter")
                        && !f.starts_with("ohai")
                        && fnmatch(&format!("ansible_{f}"), name))
            })
    }

    /// Whether the fact `name` (without the `ansible_` prefix) passes `filter`, matched as
    /// Ansible does against `ansible_NAME`, with or without the prefix in the pattern.
    pub(crate) fn keep(&self, name: &str) -> bool {
        if self.filter.is_empty() {
            return true;
        }
        let full = format!("ansible_{name}");
        self.filter.iter().any(|f| {
            fnmatch(f, &full)
                || (!f.starts_with("ansible_")
                    && !f.starts_with("facter")
                    && !f.starts_with("ohai")
                    && fnmatch(&format!("ansible_{f}"), &full))
        })
    }
}

/// Python's `fnmatch.fnmatch` on POSIX: `*`, `?`, `[seq]`, `[!seq]`, case-sensitive.
pub(crate) fn fnmatch(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    fn class(p: &[char], c: char) -> Option<(bool, usize)> {
        // p starts after '['; returns (matched, length consumed including ']').
        let mut i = 0;
        let negate = p.first() == Some(&'!');
        if negate {
            i += 1;
        }
        let start = i;
        let mut hit = false;
        while i < p.len() {
            if p[i] == ']' && i > start {
                return Some((hit != negate, i + 1));
            }
            if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
                if p[i] <= c && c <= p[i + 2] {
                    hit = true;
                }
                i += 3;
            } else {
                if p[i] == c {
                    hit = true;
                }
                i += 1;
            }
        }
        None
    }
    fn go(p: &[char], n: &[char]) -> bool {
        match p.first() {
            None => n.is_empty(),
            Some('*') => (0..=n.len()).any(|k| go(&p[1..], &n[k..])),
            Some('?') => !n.is_empty() && go(&p[1..], &n[1..]),
            Some('[') => match (n.first(), class(&p[1..], *n.first().unwrap_or(&'\0'))) {
                (Some(_), Some((true, len))) => go(&p[1 + len..], &n[1..]),
                (Some(_), Some((false, _))) | (None, Some(_)) => false,
                (_, None) => n.first() == Some(&'[') && go(&p[1..], &n[1..]),
            },
            Some(c) => n.first() == Some(c) && go(&p[1..], &n[1..]),
        }
    }
    go(&p, &n)
}

/// Paths whose existence answers a fact (tested with the shell's `[ -e ]`, no process).
fn exists_paths(subset: &Subset) -> Vec<&'static str> {
    let mut v = Vec::new();
    if subset.has("apparmor") {
        v.push("/sys/kernel/security/apparmor");
    }
    if subset.has("service_mgr") {
        v.extend([
            "/run/systemd/system/",
            "/dev/.run/systemd/",
            "/dev/.systemd/",
            "/usr/bin/systemctl",
            "/bin/systemctl",
            "/sbin/initctl",
            "/etc/init/",
            "/sbin/openrc",
            "/etc/init.d/",
            "/etc/dinit.d/",
        ]);
    }
    if subset.has("pkg_mgr") {
        v.extend(PKG_MGRS.iter().map(|(p, _)| *p));
        v.extend(["/run/ostree-booted", "/usr/bin/dnf", "/usr/bin/microdnf"]);
    }
    if subset.has("distribution") {
        v.extend([
            "/etc/arch-release",
            "/etc/redhat-release",
            "/etc/alpine-release",
        ]);
    }
    if subset.has("lsb") {
        v.push("/usr/bin/lsb_release");
    }
    if subset.has("local") {
        v.push("/etc/ansible/facts.d");
    }
    if subset.has("network") {
        v.extend(net::EXISTS);
    }
    if subset.has("virtual") {
        v.extend([
            "/.dockerenv",
            "/.dockerinit",
            "/proc/vz",
            "/proc/lve",
            "/proc/bc",
            "/proc/xen",
        ]);
    }
    v.sort_unstable();
    v.dedup();
    v
}

/// The files the first grep reads for `subset`.
fn files(subset: &Subset) -> Vec<&'static str> {
    let mut v: Vec<&'static str> = Vec::new();
    if subset.has("distribution") || subset.has("lsb") {
        v.extend(["/etc/os-release", "/etc/lsb-release"]);
    }
    if subset.has("distribution") {
        v.extend([
            "/etc/debian_version",
            "/etc/redhat-release",
            "/etc/alpine-release",
        ]);
    }
    if subset.has("platform") || subset.has("network") || subset.has("hardware") {
        v.extend(["/proc/sys/kernel/arch"]);
    }
    if subset.has("platform") {
        v.extend([
            "/proc/sys/kernel/hostname",
            "/proc/sys/kernel/osrelease",
            "/proc/sys/kernel/version",
            "/proc/sys/kernel/ostype",
            "/etc/hosts",
            "/etc/machine-id",
        ]);
    }
    if subset.has("dns") {
        v.push("/etc/resolv.conf");
    }
    if subset.has("selinux") {
        v.extend([
            "/sys/fs/selinux/enforce",
            "/sys/fs/selinux/policyvers",
            "/etc/selinux/config",
        ]);
    }
    if subset.has("fips") {
        v.push("/proc/sys/crypto/fips_enabled");
    }
    if subset.has("cmdline") {
        v.push("/proc/cmdline");
    }
    if subset.has("iscsi") {
        v.push("/etc/iscsi/initiatorname.iscsi");
    }
    if subset.has("nvme") {
        v.push("/etc/nvme/hostnqn");
    }
    if subset.has("fibre_channel_wwn") {
        v.push("/sys/class/fc_host/*/port_name");
    }
    if subset.has("loadavg") {
        v.push("/proc/loadavg");
    }
    if subset.has("ssh_pub_keys") {
        v.extend(SSH_KEYS.iter().map(|(p, _)| *p));
    }
    if subset.has("service_mgr") {
        v.push("/proc/1/comm");
    }
    if subset.has("hardware") {
        v.push("/proc/uptime");
        v.extend(DMI.iter().map(|(_, p)| *p));
    }
    if subset.has("network") {
        v.extend(net::FILES);
    }
    if subset.has("virtual") {
        v.extend([
            "/proc/1/cgroup",
            "/run/systemd/container",
            "/sys/devices/virtual/dmi/id/product_name",
            "/sys/devices/virtual/dmi/id/sys_vendor",
            "/sys/devices/virtual/dmi/id/bios_vendor",
        ]);
    }
    v.sort_unstable();
    v.dedup();
    v
}

/// The keys of `/proc/cpuinfo` Ansible reads.
const CPU_KEYS: &str = "processor|vendor_id|model name|Processor|cpu|Vendor|physical id|core id|cpu cores|siblings|# processors|max thread id|ncpus active";

/// Files read by the second, filtered grep (only the lines the parser uses: `/proc/meminfo` and
/// `/proc/cpuinfo` are long, and a container host may have hundreds of mounts), and the
/// patterns. Each pattern is written so that it matches no line of the other files.
fn filtered(subset: &Subset) -> (Vec<&'static str>, Vec<String>) {
    let (mut files, mut patterns) = (Vec::new(), Vec::new());
    if subset.has("hardware") {
        files.extend(["/proc/cpuinfo", "/proc/meminfo", "/proc/self/mountinfo"]);
        patterns.push(format!("^({CPU_KEYS})[[:space:]]*:"));
        patterns.push("^(MemTotal|MemFree|Buffers|Cached|SwapCached|SwapTotal|SwapFree):".into());
        // Devices Ansible lists: a path, `\\server`, or `host:/path`.
        patterns.push("^[0-9].* - [^ ]+ ([/\\\\]|[^ ]*:/)".into());
    }
    if subset.has("network") {
        files.push("/proc/net/fib_trie");
        patterns.push("^[ |+-]*([|]-- |/[0-9]+ (host LOCAL|link UNICAST))".into());
    }
    (files, patterns)
}

/// The sh snippet gathering `subset`. POSIX sh, coreutils and grep only; it neither exits nor
/// changes directory, leaves only `plumb_f*` variables behind (unset at its end), and tolerates
/// `set -e`. Its output goes to [`parse`] with the same `subset`.
pub(crate) fn snippet(subset: &Subset) -> String {
    let mut s = String::new();
    let files = files(subset);
    if !files.is_empty() {
        s.push_str("LC_ALL=C grep -H '' ");
        s.push_str(&files.join(" "));
        s.push_str(" 2>/dev/null || :\n");
    }
    if subset.has("platform") || subset.has("network") || subset.has("hardware") {
        s.push_str(
            "[ -r /proc/sys/kernel/arch ] || printf '/proc/sys/kernel/arch:%s\\n' \"$(uname -m)\"\n",
        );
    }
    let (ffiles, patterns) = filtered(subset);
    if !ffiles.is_empty() {
        s.push_str("LC_ALL=C grep -H -E");
        for p in &patterns {
            s.push_str(" -e '");
            s.push_str(p);
            s.push('\'');
        }
        s.push(' ');
        s.push_str(&ffiles.join(" "));
        s.push_str(" 2>/dev/null || :\n");
    }
    let exists = exists_paths(subset);
    if !exists.is_empty() {
        s.push_str(&format!(
            "for plumb_fp in {}; do if [ -e \"$plumb_fp\" ]; then printf '@@exists %s\\n' \"$plumb_fp\"; fi; done\n",
            exists.join(" ")
        ));
    }
    if subset.has("virtual") {
        // The first variable of PID 1's environment (root only; dash stops at its NUL).
        s.push_str(
            "if [ -r /proc/1/environ ]; then plumb_fl=; IFS= read -r plumb_fl </proc/1/environ 2>/dev/null || :; \
             case $plumb_fl in container=lxc*) printf '@@exists @container=lxc\\n';; \
             container=podman*) printf '@@exists @container=podman\\n';; \
             container=?*) printf '@@exists @container\\n';; esac; fi\n",
        );
    }
    if subset.has("chroot") {
        // `/` against init's root, where this user may look at it (Ansible then falls back on
        // inode numbers, which needs `stat`: the fact is left out instead).
        s.push_str(
            "if [ -e /proc/1/root/. ] && [ / -ef / ] 2>/dev/null; then if [ / -ef /proc/1/root/. ]; \
             then printf '@@exists @not-chroot\\n'; else printf '@@exists @chroot\\n'; fi; fi\n",
        );
    }
    if subset.has("user") || subset.has("hardware") {
        // Uid/Gid (and the CPUs this process may run on) of the shell itself, with builtins.
        s.push_str(
            "plumb_fu=\nwhile IFS= read -r plumb_fl; do case $plumb_fl in Uid:*|Gid:*|Cpus_allowed_list:*) \
             printf '/proc/self/status:%s\\n' \"$plumb_fl\"; case $plumb_fl in Uid:*) plumb_fu=${plumb_fl#Uid:}; \
             plumb_fu=${plumb_fu#\"${plumb_fu%%[!\t ]*}\"}; plumb_fu=${plumb_fu%%[\t ]*};; esac;; esac; \
             done </proc/self/status 2>/dev/null || :\n",
        );
    }
    if subset.has("user") {
        // The passwd line of that uid, and of the login name if it differs.
        s.push_str(
            "plumb_fn=${LOGNAME:-${USER:-}}\n[ -r /etc/passwd ] && while IFS= read -r plumb_fl; do \
             plumb_fp=${plumb_fl#*:}; plumb_fp=${plumb_fp#*:}; \
             if [ \"${plumb_fp%%:*}\" = \"$plumb_fu\" ] || [ \"${plumb_fl%%:*}\" = \"$plumb_fn\" ]; then \
             printf '/etc/passwd:%s\\n' \"$plumb_fl\"; fi; done </etc/passwd || :\n",
        );
    }
    if subset.has("date_time") {
        s.push_str("date '+@@date %s %N %z %Z' 2>/dev/null || :\n");
    }
    if subset.has("env") {
        s.push_str("printf '@@env\\n'; export -p\n");
    }
    s.push_str("printf '@@end\\n'; unset plumb_fp plumb_fl plumb_fu plumb_fn\n");
    s
}

/// The snippet's output, split by source.
#[derive(Debug, Default)]
pub(crate) struct Raw<'a> {
    /// Lines of each file, by path, in order.
    pub files: BTreeMap<&'a str, Vec<&'a str>>,
    pub exists: BTreeSet<&'a str>,
    pub date: Option<&'a str>,
    pub env: Option<Map<String, Value>>,
}

impl<'a> Raw<'a> {
    pub(crate) fn lines(&self, path: &str) -> &[&'a str] {
        self.files.get(path).map(|v| v.as_slice()).unwrap_or(&[])
    }
    pub(crate) fn first(&self, path: &str) -> Option<&'a str> {
        self.lines(path).first().copied()
    }
    /// The first line of a file that must be there.
    pub(crate) fn need(&self, path: &str) -> Result<&'a str, String> {
        self.first(path)
            .ok_or_else(|| format!("facts: no output for {path}"))
    }
    pub(crate) fn exists(&self, path: &str) -> bool {
        self.exists.contains(path)
    }
}

pub(crate) fn split(output: &str) -> Result<Raw<'_>, String> {
    let mut raw = Raw::default();
    let mut rest = output;
    loop {
        let (line, next) = match rest.find('\n') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None if rest.is_empty() => {
                return Err("facts: output ends early (no `@@end`)".into());
            }
            None => (rest, ""),
        };
        rest = next;
        if line == "@@end" {
            return Ok(raw);
        }
        if line == "@@env" {
            let (env, after) = parse_env(rest)?;
            raw.env = Some(env);
            rest = after;
            continue;
        }
        if let Some(p) = line.strip_prefix("@@exists ") {
            raw.exists.insert(p);
            continue;
        }
        if let Some(d) = line.strip_prefix("@@date ") {
            raw.date = Some(d);
            continue;
        }
        // Older GNU greps report a binary file on stdout; its content is then missing.
        if line.starts_with("Binary file ") {
            continue;
        }
        match line.split_once(':') {
            Some((path, content)) if path.starts_with('/') => {
                raw.files.entry(path).or_default().push(content);
            }
            _ => return Err(format!("facts: unexpected output line `{line}`")),
        }
    }
}

/// `export -p` as dash, busybox ash (`export K='v'`) and bash (`export K="v"`, `declare -x`)
/// print it, up to a `@@end` line outside any quotes. Returns the variables and the text after
/// `@@end`'s line start (so the caller sees `@@end`).
fn parse_env(text: &str) -> Result<(Map<String, Value>, &str), String> {
    let mut env = Map::new();
    let mut rest = text;
    loop {
        if rest.starts_with("@@end\n") || rest == "@@end" {
            return Ok((env, rest));
        }
        if rest.is_empty() {
            return Err("facts: environment section ends early (no `@@end`)".into());
        }
        let body = rest
            .strip_prefix("export ")
            .or_else(|| rest.strip_prefix("declare -x "))
            .ok_or_else(|| {
                format!(
                    "facts: unexpected environment line `{}`",
                    rest.lines().next().unwrap_or("")
                )
            })?;
        let name_end = body.find(['=', '\n']).unwrap_or(body.len());
        let name = &body[..name_end];
        let mut chars = body[name_end..].char_indices().peekable();
        let mut value = String::new();
        let mut has_value = false;
        let mut consumed = body.len() - name_end;
        if let Some((_, '=')) = chars.peek().copied() {
            has_value = true;
            chars.next();
            loop {
                match chars.next() {
                    None => {
                        return Err(format!("facts: environment value of {name} is cut"));
                    }
                    Some((i, '\n')) => {
                        consumed = i + 1;
                        break;
                    }
                    Some((_, '\'')) => loop {
                        match chars.next() {
                            None => {
                                return Err(format!("facts: environment value of {name} is cut"));
                            }
                            Some((_, '\'')) => break,
                            Some((_, c)) => value.push(c),
                        }
                    },
                    Some((_, '"')) => loop {
                        match chars.next() {
                            None => {
                                return Err(format!("facts: environment value of {name} is cut"));
                            }
                            Some((_, '"')) => break,
                            Some((_, '\\')) => match chars.next() {
                                Some((_, c @ ('"' | '\\' | '$' | '`'))) => value.push(c),
                                Some((_, '\n')) => {}
                                Some((_, c)) => {
                                    value.push('\\');
                                    value.push(c);
                                }
                                None => {
                                    return Err(format!(
                                        "facts: environment value of {name} is cut"
                                    ));
                                }
                            },
                            Some((_, c)) => value.push(c),
                        }
                    },
                    Some((_, '$')) if matches!(chars.peek(), Some((_, '\''))) => {
                        chars.next();
                        ansi_c(&mut chars, &mut value)
                            .ok_or_else(|| format!("facts: environment value of {name} is cut"))?;
                    }
                    Some((_, '\\')) => {
                        if let Some((_, c)) = chars.next() {
                            value.push(c);
                        }
                    }
                    Some((_, c)) => value.push(c),
                }
            }
        } else if let Some((i, '\n')) = chars.peek().copied() {
            consumed = i + 1;
        }
        rest = &body[name_end + consumed.min(body.len() - name_end)..];
        if has_value && !name.is_empty() {
            env.insert(name.to_string(), Value::String(value));
        }
    }
}

/// The rest of bash's `$'...'` quoting (after `$'`), as bash prints values holding control
/// characters: `\n`, `\t`, `\NNN` octal bytes and the like. `None` if the quote never ends.
fn ansi_c(
    chars: &mut std::iter::Peekable<std::str::CharIndices>,
    value: &mut String,
) -> Option<()> {
    let mut bytes: Vec<u8> = Vec::new();
    let mut buf = [0u8; 4];
    loop {
        let (_, c) = chars.next()?;
        match c {
            '\'' => break,
            '\\' => {
                let (_, e) = chars.next()?;
                match e {
                    'n' => bytes.push(b'\n'),
                    't' => bytes.push(b'\t'),
                    'r' => bytes.push(b'\r'),
                    'a' => bytes.push(7),
                    'b' => bytes.push(8),
                    'e' | 'E' => bytes.push(27),
                    'f' => bytes.push(12),
                    'v' => bytes.push(11),
                    '0'..='7' => {
                        let mut v = e as u32 - '0' as u32;
                        for _ in 0..2 {
                            match chars.peek() {
                                Some((_, d @ '0'..='7')) => {
                                    v = v * 8 + (*d as u32 - '0' as u32);
                                    chars.next();
                                }
                                _ => break,
                            }
                        }
                        bytes.push(v as u8);
                    }
                    'x' => {
                        let mut v = 0u32;
                        for _ in 0..2 {
                            match chars.peek().and_then(|(_, d)| d.to_digit(16)) {
                                Some(d) => {
                                    v = v * 16 + d;
                                    chars.next();
                                }
                                None => break,
                            }
                        }
                        bytes.push(v as u8);
                    }
                    other => bytes.extend_from_slice(other.encode_utf8(&mut buf).as_bytes()),
                }
            }
            other => bytes.extend_from_slice(other.encode_utf8(&mut buf).as_bytes()),
        }
    }
    value.push_str(&String::from_utf8_lossy(&bytes));
    Some(())
}

/// The facts as Ansible also injects them as variables (`INJECT_FACTS_AS_VARS`):
/// `ansible_NAME` for each fact but the metadata ones.
pub(crate) fn injected(facts: &Map<String, Value>) -> Map<String, Value> {
    facts
        .iter()
        .filter(|(k, _)| *k != "gather_subset" && *k != "module_setup")
        .map(|(k, v)| (format!("ansible_{k}"), v.clone()))
        .collect()
}

/// The facts in `output` of [`snippet`]`(subset)`, keyed as in `ansible_facts` (no `ansible_`
/// prefix), filtered by the subset's `filter`.
pub(crate) fn parse(output: &str, subset: &Subset) -> Result<Map<String, Value>, String> {
    let raw = split(output)?;
    let mut f = Map::new();
    let arch = raw.first("/proc/sys/kernel/arch").unwrap_or("").trim();
    if subset.has("platform") {
        platform(&raw, &mut f)?;
    }
    if subset.has("distribution") {
        distribution(&raw, &mut f)?;
    }
    if subset.has("lsb") {
        f.insert("lsb".into(), lsb(&raw));
    }
    if subset.has("dns") {
        f.insert("dns".into(), dns(raw.lines("/etc/resolv.conf")));
    }
    if subset.has("selinux") {
        f.insert("selinux".into(), selinux(&raw));
    }
    if subset.has("apparmor") {
        let status = if raw.exists("/sys/kernel/security/apparmor") {
            "enabled"
        } else {
            "disabled"
        };
        f.insert("apparmor".into(), json!({ "status": status }));
    }
    if subset.has("fips") {
        let on = raw.first("/proc/sys/crypto/fips_enabled").map(str::trim) == Some("1");
        f.insert("fips".into(), Value::Bool(on));
    }
    if subset.has("cmdline")
        && let Some(line) = raw.first("/proc/cmdline")
    {
        let (cmdline, proc_cmdline) = cmdline(line);
        f.insert("cmdline".into(), cmdline);
        f.insert("proc_cmdline".into(), proc_cmdline);
    }
    if subset.has("loadavg")
        && let Some(line) = raw.first("/proc/loadavg")
    {
        let v: Vec<f64> = line
            .split_whitespace()
            .take(3)
            .map(|x| {
                x.parse::<f64>()
                    .map_err(|_| format!("facts: bad /proc/loadavg `{line}`"))
            })
            .collect::<Result<_, _>>()?;
        if v.len() != 3 {
            return Err(format!("facts: bad /proc/loadavg `{line}`"));
        }
        f.insert(
            "loadavg".into(),
            json!({"1m": v[0], "5m": v[1], "15m": v[2]}),
        );
    }
    if subset.has("ssh_pub_keys") {
        for (path, kind) in SSH_KEYS {
            if let Some(line) = raw.first(path) {
                let mut w = line.split_whitespace();
                if let (Some(t), Some(k)) = (w.next(), w.next()) {
                    f.insert(
                        format!("ssh_host_key_{kind}_public"),
                        Value::String(k.into()),
                    );
                    f.insert(
                        format!("ssh_host_key_{kind}_public_keytype"),
                        Value::String(t.into()),
                    );
                }
            }
        }
    }
    if subset.has("service_mgr") {
        f.insert("service_mgr".into(), Value::String(service_mgr(&raw)));
    }
    if subset.has("pkg_mgr") {
        let family = match f.get("os_family") {
            Some(Value::String(s)) => s.clone(),
            _ => {
                let mut d = Map::new();
                distribution(&raw, &mut d)?;
                d.get("os_family")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string()
            }
        };
        f.insert("pkg_mgr".into(), Value::String(pkg_mgr(&raw, &family)));
    }
    if subset.has("user") {
        user(&raw, &mut f)?;
    }
    if subset.has("env") {
        let env = raw.env.clone().ok_or("facts: no environment section")?;
        f.insert("env".into(), Value::Object(env));
    }
    if subset.has("date_time") {
        let d = raw.date.ok_or("facts: no date line")?;
        f.insert("date_time".into(), date_time(d)?);
    }
    if subset.has("hardware") {
        hardware(&raw, arch, &mut f)?;
    }
    if subset.has("network") {
        net::network(&raw, arch, &mut f)?;
    }
    if subset.has("virtual") {
        virtual_facts(&raw, &mut f);
    }
    if subset.has("iscsi") {
        let iqn = raw
            .lines("/etc/iscsi/initiatorname.iscsi")
            .iter()
            .find_map(|l| l.strip_prefix("InitiatorName="))
            .unwrap_or("");
        f.insert("iscsi_iqn".into(), s(iqn.trim_end()));
    }
    if subset.has("nvme") {
        let nqn = raw
            .lines("/etc/nvme/hostnqn")
            .iter()
            .find(|l| l.starts_with("nqn."))
            .copied()
            .unwrap_or("");
        f.insert("hostnqn".into(), s(nqn));
    }
    if subset.has("fibre_channel_wwn") {
        let wwn: Vec<Value> = raw
            .files
            .iter()
            .filter(|(p, _)| p.starts_with("/sys/class/fc_host/") && p.ends_with("/port_name"))
            .flat_map(|(_, lines)| lines.iter())
            .map(|l| s(l.trim_end().get(2..).unwrap_or("")))
            .collect();
        f.insert("fibre_channel_wwn".into(), Value::Array(wwn));
    }
    if subset.has("chroot") {
        let debian_chroot = raw
            .env
            .as_ref()
            .and_then(|e| e.get("debian_chroot"))
            .and_then(Value::as_str)
            .is_some_and(|v| !v.is_empty());
        if debian_chroot || raw.exists("@chroot") {
            f.insert("is_chroot".into(), Value::Bool(true));
        } else if raw.exists("@not-chroot") {
            f.insert("is_chroot".into(), Value::Bool(false));
        }
    }
    if subset.has("local") && !raw.exists("/etc/ansible/facts.d") {
        // With a facts.d directory, `local` is left out: its scripts are not run.
        f.insert("local".into(), json!({}));
    }
    f.insert("gather_subset".into(), json!(subset.given));
    f.insert("module_setup".into(), Value::Bool(true));
    // Ansible's metadata facts carry no `ansible_` prefix; the filter sees their bare names.
    f.retain(|k, _| match k.as_str() {
        "gather_subset" | "module_setup" => subset.keep_bare(k),
        _ => subset.keep(k),
    });
    Ok(f)
}

fn s(v: &str) -> Value {
    Value::String(v.to_string())
}

#[cfg(test)]
mod tests {
    use super::hw::*;
    use super::sys::*;
    use super::*;

    const H72: &str = include_str!("../tests/fixtures/facts/h72.txt");
    const H72_ANSIBLE: &str = include_str!("../tests/fixtures/facts/ansible_h72.json");

    fn ansible_h72() -> Map<String, Value> {
        let v: Value = serde_json::from_str(H72_ANSIBLE).unwrap();
        v.as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| {
                (
                    k.strip_prefix("ansible_").unwrap_or(k).to_string(),
                    v.clone(),
                )
            })
            .collect()
    }

    #[test]
    fn subsets_resolve_as_ansible() {
        let min: Vec<&str> = MIN.to_vec();
        let cases: &[(&[&str], Vec<&str>)] = &[
            (&[], Subset::all().collectors()),
            (&["all"], Subset::all().collectors()),
            (&["min"], min.clone()),
            (&["!all"], min.clone()),
            (&["!all", "!min"], vec![]),
            (&["!all", "network"], {
                let mut v = min.clone();
                v.push("network");
                v.sort();
                v
            }),
            // As Ansible's get_collector_names: an exclusion alone leaves the min set only.
            (&["!hardware"], min.clone()),
            (&["!min"], vec![]),
            (&["all", "!hardware"], {
                let mut v = Subset::all().collectors();
                v.retain(|c| *c != "hardware");
                v
            }),
            (&["!all", "!min", "mounts"], vec!["hardware"]),
            (&["network", "!network"], {
                // An explicit add wins over an exclusion.
                let mut v = min.clone();
                v.push("network");
                v.sort();
                v
            }),
            (&["!nonsense"], min.clone()),
        ];
        for (given, want) in cases {
            let got = Subset::new(given, &[] as &[&str]).unwrap();
            assert_eq!(&got.collectors(), want, "{given:?}");
        }
        let err = Subset::new(&["nonsense"], &[] as &[&str]).unwrap_err();
        assert!(err.contains("unknown subset `nonsense`"), "{err}");
        // facter/ohai are accepted and gather nothing of their own.
        assert!(Subset::new(&["!all", "facter"], &[] as &[&str]).is_ok());
    }

    #[test]
    fn filter_matches_with_or_without_prefix() {
        let cases: &[(&str, &str, bool)] = &[
            ("ansible_distribution*", "distribution_version", true),
            ("distribution*", "distribution_version", true),
            ("*_mb", "memtotal_mb", true),
            ("ansible_eth[0-9]", "eth0", true),
            ("ansible_eth[!0-9]", "eth0", false),
            ("os_family", "os_family", true),
            ("os_family", "os_family_x", false),
            ("ansible_?ernel", "kernel", true),
            ("facter_*", "kernel", false),
        ];
        for (pat, fact, want) in cases {
            let s = Subset::new(&[] as &[&str], &[*pat]).unwrap();
            assert_eq!(s.keep(fact), *want, "{pat} vs {fact}");
        }
        let s = Subset::new(&[] as &[&str], &["*", ""]).unwrap();
        assert!(s.keep("anything"));
        // The metadata facts are matched by their bare names.
        let s = Subset::new(&[] as &[&str], &["ansible_*"]).unwrap();
        assert!(s.keep("kernel") && !s.keep_bare("gather_subset"));
        let s = Subset::new(&[] as &[&str], &["gather_*"]).unwrap();
        assert!(s.keep_bare("gather_subset") && !s.keep_bare("module_setup"));
    }

    #[test]
    fn snippet_reads_only_what_the_subset_needs() {
        let min = Subset::new(&["min"], &[] as &[&str]).unwrap();
        let sn = snippet(&min);
        assert!(
            !sn.contains("/proc/cpuinfo") && !sn.contains("/proc/net/route"),
            "{sn}"
        );
        assert!(
            sn.contains("/etc/os-release") && sn.contains("date "),
            "{sn}"
        );
        let all = snippet(&Subset::all());
        assert!(all.contains("/proc/cpuinfo") && all.contains("/proc/net/fib_trie"));
        for bad in [
            "exit",
            "cd ",
            "hostname -",
            "getent",
            "nslookup",
            "python",
            "uname -a",
        ] {
            assert!(!all.contains(bad), "{bad} in {all}");
        }
        // Processes: grep, grep (cpuinfo), date; `uname` only without /proc/sys/kernel/arch.
        let commands = all
            .lines()
            .filter(|l| l.starts_with("LC_ALL=C grep") || l.starts_with("date "))
            .count();
        assert_eq!(commands, 3, "{all}");
        let none = Subset::new(&["!all", "!min"], &[] as &[&str]).unwrap();
        let nothing = parse(&sh(&snippet(&none)), &none).unwrap();
        assert_eq!(
            nothing.keys().collect::<Vec<_>>(),
            ["gather_subset", "module_setup"]
        );
    }

    #[test]
    fn framing_errors_are_errors() {
        let all = Subset::all();
        let cut = H72.replace("@@end\n", "");
        assert!(parse(&cut, &all).unwrap_err().contains("@@end"));
        let stray = H72.replace("@@date", "hello\n@@date");
        assert!(
            parse(&stray, &all)
                .unwrap_err()
                .contains("unexpected output line")
        );
        let no_kernel: String = H72
            .lines()
            .filter(|l| !l.starts_with("/proc/sys/kernel/ostype"))
            .map(|l| format!("{l}\n"))
            .collect();
        assert!(parse(&no_kernel, &all).unwrap_err().contains("ostype"));
        let no_mem: String = H72
            .lines()
            .filter(|l| !l.starts_with("/proc/meminfo"))
            .map(|l| format!("{l}\n"))
            .collect();
        assert!(parse(&no_mem, &all).unwrap_err().contains("meminfo"));
        let no_date = H72.replace("@@date 1796402065 759598777 +0000 UTC\n", "");
        assert!(parse(&no_date, &all).unwrap_err().contains("date"));
        let bad_date = H72.replace("@@date 1796402065", "@@date soon");
        assert!(parse(&bad_date, &all).unwrap_err().contains("date"));
        // A file may hold lines that look like markers or other files: they stay its own.
        let spoof = H72.replace(
            "/etc/hosts:127.0.0.1 localhost h72\n",
            "/etc/hosts:127.0.0.1 localhost h72\n/etc/hosts:@@end\n/etc/hosts:/etc/os-release:ID=evil\n",
        );
        let f = parse(&spoof, &all).unwrap();
        assert_eq!(f["distribution"], "Debian");
    }

    #[test]
    fn env_as_each_shell_prints_it() {
        let text = "export A='x'\\''y'\nexport B='two\nlines\n@@end\nstill B'\nexport C\n\
                    declare -x D=\"q\\\"\\$\\\\z\"\nexport E=\"it's\"\nexport F=plain\n@@end\n";
        let (env, rest) = parse_env(text).unwrap();
        assert_eq!(rest, "@@end\n");
        assert_eq!(env["A"], "x'y");
        assert_eq!(env["B"], "two\nlines\n@@end\nstill B");
        assert!(!env.contains_key("C"));
        assert_eq!(env["D"], "q\"$\\z");
        assert_eq!(env["E"], "it's");
        assert_eq!(env["F"], "plain");
        // bash, for values holding control characters.
        let (env, _) = parse_env(
            "export X=$'two\\nlines\\ttab\\001\\'q'\nexport Y=\"q\\\"\\$\\\\z'\\`\"\n@@end\n",
        )
        .unwrap();
        assert_eq!(env["X"], "two\nlines\ttab\u{1}'q");
        assert_eq!(env["Y"], "q\"$\\z'`");
        // dash's way of quoting a quote.
        let (env, _) = parse_env("export Y='q\"$\\z'\"'\"'`'\n@@end\n").unwrap();
        assert_eq!(env["Y"], "q\"$\\z'`");
        assert!(parse_env("export A='open\n").is_err());
        assert!(parse_env("export A=$'open\n").is_err());
        assert!(parse_env("garbage\n@@end\n").is_err());
    }

    #[test]
    fn date_time_from_epoch_and_offset() {
        let d = date_time("1796402065 759598777 +0000 UTC").unwrap();
        let want = json!({
            "date": "2026-12-04", "day": "04", "epoch": "1796402065", "epoch_int": "1796402065",
            "hour": "16", "iso8601": "2026-12-04T16:34:25Z",
            "iso8601_basic": "20261204T163425759598", "iso8601_basic_short": "20261204T163425",
            "iso8601_micro": "2026-12-04T16:34:25.759598Z", "minute": "34", "month": "12",
            "second": "25", "time": "16:34:25", "tz": "UTC", "tz_dst": "UTC", "tz_offset": "+0000",
            "weekday": "Friday", "weekday_number": "5", "weeknumber": "48", "year": "2026",
        });
        assert_eq!(d, want);
        // 2024-02-29T23:30:00Z in New York (-0500) is still the 29th, 18:30; in Tokyo the 1st.
        let ny = date_time("1709249400 000000001 -0500 EST").unwrap();
        assert_eq!(
            (ny["date"].as_str(), ny["hour"].as_str()),
            (Some("2024-02-29"), Some("18"))
        );
        assert_eq!(ny["iso8601"], "2024-02-29T23:30:00Z");
        assert_eq!(ny["weekday"], "Thursday");
        let tokyo = date_time("1709249400 000000000 +0900 JST").unwrap();
        assert_eq!(tokyo["date"], "2024-03-01");
        assert_eq!(tokyo["weeknumber"], "09");
        // Year start on a Sunday: %W is 00.
        let jan1 = date_time("1672531200 0 +0000 UTC").unwrap(); // 2023-01-01, a Sunday
        assert_eq!(
            (jan1["weeknumber"].as_str(), jan1["weekday_number"].as_str()),
            (Some("00"), Some("0"))
        );
        assert_eq!(jan1["iso8601_micro"], "2023-01-01T00:00:00.000000Z");
        // busybox date has no %N.
        assert_eq!(
            date_time("1672531200 %N +0000 UTC").unwrap()["iso8601_basic"],
            "20230101T000000000000"
        );
        assert!(date_time("1672531200 0 UTC").is_err());
    }

    #[test]
    fn fqdn_from_etc_hosts() {
        let cases: &[(&str, &[&str], &str)] = &[
            (
                "h72",
                &["127.0.0.1 localhost h72", "::1 localhost"],
                "localhost",
            ),
            (
                "web1",
                &["127.0.0.1 localhost", "127.0.1.1 web1.example.com web1"],
                "web1.example.com",
            ),
            (
                "web1",
                &["10.0.0.5 web1 web1.corp.example # comment"],
                "web1.corp.example",
            ),
            ("db", &["127.0.0.1 localhost"], "db"),
            ("db", &["# 10.0.0.9 db.example.com db"], "db"),
            // The canonical name is that of the FIRST line with the address.
            (
                "app",
                &["10.0.0.7 gw.example.com", "10.0.0.7 app"],
                "gw.example.com",
            ),
        ];
        for (host, lines, want) in cases {
            assert_eq!(fqdn(host, lines), *want, "{host} {lines:?}");
        }
    }

    #[test]
    fn resolv_conf() {
        let d = dns(&[
            "# comment",
            "domain example.com",
            "search example.com corp.example",
            "nameserver 10.0.0.2",
            "nameserver 10.0.0.3",
            "options ndots:2 rotate",
        ]);
        assert_eq!(
            d,
            json!({"domain": "example.com", "search": ["example.com", "corp.example"],
                   "nameservers": ["10.0.0.2", "10.0.0.3"], "options": {"ndots": "2", "rotate": true}})
        );
        assert_eq!(dns(&[]), json!({}));
    }

    #[test]
    fn kernel_cmdline() {
        let (c, p) = cmdline("ro quiet console=tty0 console=ttyS0 root=/dev/vda1");
        assert_eq!(
            c,
            json!({"ro": true, "quiet": true, "console": "ttyS0", "root": "/dev/vda1"})
        );
        assert_eq!(p["console"], json!(["tty0", "ttyS0"]));
    }

    #[test]
    fn mounts_from_mountinfo_and_proc_mounts() {
        let info = [
            "24 1 253:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw,errors=remount-ro",
            "25 24 0:22 / /proc rw,nosuid - proc proc rw",
            "30 24 253:1 /srv/data /mnt/data rw,relatime shared:1 - ext4 /dev/vda1 rw,errors=remount-ro",
            "31 24 0:40 / /mnt/my\\040share rw - nfs4 nas:/export rw,vers=4.2",
            "32 24 253:1 / / ro,relatime - ext4 /dev/vda1 ro",
        ];
        let m = mounts(&info, &[]);
        assert_eq!(
            m,
            json!([
                {"mount": "/", "device": "/dev/vda1", "fstype": "ext4", "options": "ro,relatime", "dump": 0, "passno": 0},
                {"mount": "/mnt/data", "device": "/dev/vda1", "fstype": "ext4",
                 "options": "rw,relatime,errors=remount-ro,bind", "dump": 0, "passno": 0},
                {"mount": "/mnt/my share", "device": "nas:/export", "fstype": "nfs4",
                 "options": "rw,vers=4.2", "dump": 0, "passno": 0},
            ])
        );
    }

    #[test]
    fn processor_counts() {
        // Two sockets, two cores each, two threads per core.
        let mut lines = Vec::new();
        for p in 0..8 {
            lines.push(format!("processor\t: {p}"));
            lines.push("vendor_id\t: GenuineIntel".to_string());
            lines.push("model name\t: Xeon".to_string());
            lines.push(format!("physical id\t: {}", p / 4));
            lines.push("siblings\t: 4".to_string());
            lines.push(format!("core id\t\t: {}", p % 2));
            lines.push("cpu cores\t: 2".to_string());
        }
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        let mut f = Map::new();
        cpu_facts(&lines, "x86_64", Some(6), &mut f);
        assert_eq!(f["processor_count"], 2);
        assert_eq!(f["processor_cores"], 2);
        assert_eq!(f["processor_threads_per_core"], 2);
        assert_eq!(f["processor_vcpus"], 8);
        assert_eq!(f["processor_nproc"], 6);
        assert_eq!(f["processor"].as_array().unwrap().len(), 24);
        // An ARM board: no physical id, "Processor"-less modern format.
        let arm = [
            "processor\t: 0",
            "processor\t: 1",
            "processor\t: 2",
            "processor\t: 3",
        ];
        let mut f = Map::new();
        cpu_facts(&arm, "aarch64", None, &mut f);
        assert_eq!(
            (
                f["processor_count"].clone(),
                f["processor_cores"].clone(),
                f["processor_vcpus"].clone()
            ),
            (json!(4), json!(1), json!(4))
        );
        assert_eq!(cpu_list_len("0-3,8,10-11"), 7);
    }

    #[test]
    fn dmi_from_sysfs() {
        let out = "/sys/devices/virtual/dmi/id/product_name:KVM\n\
                   /sys/devices/virtual/dmi/id/sys_vendor:QEMU\n\
                   /sys/devices/virtual/dmi/id/chassis_type:1\n\
                   /sys/devices/virtual/dmi/id/board_asset_tag:\n@@end\n";
        let raw = split(out).unwrap();
        let mut f = Map::new();
        dmi(&raw, &mut f);
        assert_eq!(f["product_name"], "KVM");
        assert_eq!(f["system_vendor"], "QEMU");
        assert_eq!(f["form_factor"], "Other");
        assert_eq!(f["board_asset_tag"], "");
        assert_eq!(f["product_serial"], "NA"); // root's only
        let raw = split("/sys/devices/virtual/dmi/id/chassis_type:99\n@@end\n").unwrap();
        dmi(&raw, &mut f);
        assert_eq!(f["form_factor"], "unknown (99)");
    }

    #[test]
    fn storage_ids_and_chroot() {
        let s = Subset::new(
            &[
                "!all",
                "!min",
                "iscsi",
                "nvme",
                "fibre_channel_wwn",
                "chroot",
            ],
            &[] as &[&str],
        )
        .unwrap();
        let out = "/etc/iscsi/initiatorname.iscsi:## comment\n\
                   /etc/iscsi/initiatorname.iscsi:InitiatorName=iqn.1993-08.org.debian:01:44a42c8ddb8b\n\
                   /etc/nvme/hostnqn:nqn.2014-08.org.nvmexpress:uuid:1b4e28ba\n\
                   /sys/class/fc_host/host1/port_name:0x21000014ff52a9bb\n\
                   @@exists @chroot\n@@end\n";
        let f = parse(out, &s).unwrap();
        assert_eq!(f["iscsi_iqn"], "iqn.1993-08.org.debian:01:44a42c8ddb8b");
        assert_eq!(f["hostnqn"], "nqn.2014-08.org.nvmexpress:uuid:1b4e28ba");
        assert_eq!(f["fibre_channel_wwn"], json!(["21000014ff52a9bb"]));
        assert_eq!(f["is_chroot"], true);
        let f = parse("@@exists @not-chroot\n@@end\n", &s).unwrap();
        assert_eq!(
            (
                f["iscsi_iqn"].clone(),
                f["hostnqn"].clone(),
                f["is_chroot"].clone()
            ),
            (json!(""), json!(""), json!(false))
        );
        assert!(!parse("@@end\n", &s).unwrap().contains_key("is_chroot"));
    }

    #[test]
    fn virtualization() {
        let v = Subset::new(&["!all", "!min", "virtual"], &[] as &[&str]).unwrap();
        let cases: &[(&str, &str, &str, Value)] = &[
            // h72: systemd-nspawn, container= first in PID 1's environment.
            (
                "@@exists @container\n/run/systemd/container:systemd-nspawn\n",
                "container",
                "guest",
                json!(["container", "systemd-nspawn"]),
            ),
            // The same seen without root: only /run/systemd/container.
            (
                "/run/systemd/container:systemd-nspawn\n",
                "systemd-nspawn",
                "guest",
                json!(["container", "systemd-nspawn"]),
            ),
            (
                "/proc/1/cgroup:0::/system.slice/docker-0123abcd.scope\n",
                "docker",
                "guest",
                json!(["container", "docker"]),
            ),
            (
                "@@exists /.dockerenv\n",
                "docker",
                "guest",
                json!(["container", "docker"]),
            ),
            (
                "/sys/devices/virtual/dmi/id/product_name:KVM\n",
                "kvm",
                "guest",
                json!(["kvm"]),
            ),
            (
                "/sys/devices/virtual/dmi/id/sys_vendor:QEMU\n",
                "kvm",
                "guest",
                json!(["kvm"]),
            ),
            (
                "/sys/devices/virtual/dmi/id/product_name:VMware Virtual Platform\n",
                "VMware",
                "guest",
                json!(["VMware"]),
            ),
            ("", "NA", "NA", json!([])),
        ];
        for (out, ty, role, guest) in cases {
            let f = parse(&format!("{out}@@end\n"), &v).unwrap();
            assert_eq!(
                (
                    &f["virtualization_type"],
                    &f["virtualization_role"],
                    &f["virtualization_tech_guest"]
                ),
                (&json!(ty), &json!(role), guest),
                "{out}"
            );
        }
    }

    fn dist(os_release: &str, extra: &str) -> Map<String, Value> {
        let mut out = String::new();
        for l in os_release.lines() {
            out.push_str(&format!("/etc/os-release:{l}\n"));
        }
        out.push_str(extra);
        out.push_str("@@end\n");
        let raw = split(&out).unwrap();
        let mut f = Map::new();
        distribution(&raw, &mut f).unwrap();
        f
    }

    #[test]
    fn distributions() {
        let ubuntu = dist(
            "NAME=\"Ubuntu\"\nVERSION_ID=\"22.04\"\nVERSION=\"22.04.4 LTS (Jammy Jellyfish)\"\nID=ubuntu\nID_LIKE=debian\nVERSION_CODENAME=jammy\nUBUNTU_CODENAME=jammy",
            "",
        );
        assert_eq!(
            (
                ubuntu["distribution"].clone(),
                ubuntu["distribution_version"].clone(),
                ubuntu["distribution_major_version"].clone(),
                ubuntu["distribution_release"].clone(),
                ubuntu["os_family"].clone()
            ),
            (
                json!("Ubuntu"),
                json!("22.04"),
                json!("22"),
                json!("jammy"),
                json!("Debian")
            )
        );
        let rocky = dist(
            "NAME=\"Rocky Linux\"\nVERSION=\"9.3 (Blue Onyx)\"\nID=\"rocky\"\nVERSION_ID=\"9.3\"",
            "@@exists /etc/redhat-release\n",
        );
        assert_eq!(rocky["distribution"], "Rocky");
        assert_eq!(rocky["os_family"], "RedHat");
        assert_eq!(rocky["distribution_release"], "Blue Onyx");
        assert!(!rocky.contains_key("distribution_minor_version"));
        assert_eq!(rocky["distribution_file_path"], "/etc/redhat-release");
        let rhel = dist(
            "ID=\"rhel\"\nVERSION_ID=\"8.9\"\nVERSION=\"8.9 (Ootpa)\"",
            "",
        );
        assert_eq!(
            (rhel["distribution"].clone(), rhel["os_family"].clone()),
            (json!("RedHat"), json!("RedHat"))
        );
        let alpine = dist(
            "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.19.1",
            "/etc/alpine-release:3.19.1\n@@exists /etc/alpine-release\n",
        );
        assert_eq!(
            (
                alpine["distribution"].clone(),
                alpine["distribution_version"].clone(),
                alpine["distribution_release"].clone(),
                alpine["os_family"].clone()
            ),
            (
                json!("Alpine"),
                json!("3.19.1"),
                json!("NA"),
                json!("Alpine")
            )
        );
        let arch = dist(
            "NAME=\"Arch Linux\"\nID=arch\nBUILD_ID=rolling",
            "@@exists /etc/arch-release\n",
        );
        assert_eq!(
            (
                arch["distribution"].clone(),
                arch["distribution_version"].clone(),
                arch["distribution_major_version"].clone(),
                arch["os_family"].clone()
            ),
            (
                json!("Archlinux"),
                json!("NA"),
                json!("NA"),
                json!("Archlinux")
            )
        );
        let fedora = dist(
            "NAME=\"Fedora Linux\"\nVERSION=\"39 (Server Edition)\"\nID=fedora\nVERSION_ID=39\nVERSION_CODENAME=\"\"",
            "",
        );
        assert_eq!(
            (
                fedora["distribution"].clone(),
                fedora["distribution_release"].clone(),
                fedora["os_family"].clone()
            ),
            (json!("Fedora"), json!(""), json!("RedHat"))
        );
        let amzn = dist(
            "NAME=\"Amazon Linux\"\nVERSION=\"2023\"\nID=\"amzn\"\nVERSION_ID=\"2023\"",
            "",
        );
        assert_eq!(
            (
                amzn["distribution"].clone(),
                amzn["distribution_major_version"].clone(),
                amzn["distribution_minor_version"].clone()
            ),
            (json!("Amazon"), json!("2023"), json!("NA"))
        );
        let suse = dist(
            "NAME=\"openSUSE Leap\"\nVERSION_ID=\"15.5\"\nID=\"opensuse-leap\"",
            "",
        );
        assert_eq!(suse["os_family"], "Suse");
        let sid = dist(
            "PRETTY_NAME=\"Debian GNU/Linux trixie/sid\"\nNAME=\"Debian GNU/Linux\"\nVERSION_CODENAME=trixie\nID=debian",
            "/etc/debian_version:trixie/sid\n",
        );
        assert_eq!(
            (
                sid["distribution_version"].clone(),
                sid["distribution_release"].clone()
            ),
            (json!("NA"), json!("trixie"))
        );
        let unknown = dist("ID=someos\nVERSION_ID=1", "");
        assert_eq!(
            (
                unknown["distribution"].clone(),
                unknown["os_family"].clone()
            ),
            (json!("Someos"), json!("Someos"))
        );
    }

    fn sh(script: &str) -> String {
        use crate::transport::Transport;
        crate::transport::local::Local::new()
            .run(script, None)
            .unwrap()
            .out
    }

    /// The snippet runs through sh on this machine and its output parses; also under `set -e`
    /// and embedded between other commands.
    #[test]
    fn snippet_runs_through_sh() {
        let all = Subset::all();
        let script = format!(
            "set -e\necho before >/dev/null\n{}echo after-marker\n",
            snippet(&all)
        );
        let out = sh(&script);
        assert!(out.ends_with("@@end\nafter-marker\n"), "{out}");
        let body = out.strip_suffix("after-marker\n").unwrap();
        let f = parse(body, &all).unwrap_or_else(|e| panic!("{e}\n{body}"));
        for k in [
            "system",
            "kernel",
            "hostname",
            "fqdn",
            "distribution",
            "os_family",
            "memtotal_mb",
            "processor_vcpus",
            "date_time",
            "env",
            "user_id",
            "user_uid",
            "mounts",
            "interfaces",
            "default_ipv4",
            "service_mgr",
            "pkg_mgr",
            "uptime_seconds",
            "loadavg",
            "locally_reachable_ips",
            "product_name",
        ] {
            assert!(f.contains_key(k), "{k} missing: {f:#?}");
        }
        // Where init's root can be looked at, this is no chroot; elsewhere the fact is left out.
        match std::fs::metadata("/proc/1/root/.") {
            Ok(_) => assert_eq!(f["is_chroot"], false),
            Err(_) => assert!(!f.contains_key("is_chroot")),
        }
        assert_eq!(f["system"], "Linux");
        // The same uid as this process.
        let uid = std::fs::read_to_string("/proc/self/status")
            .unwrap()
            .lines()
            .find_map(|l| {
                l.strip_prefix("Uid:")
                    .map(|v| v.split_whitespace().next().unwrap().parse::<i64>().unwrap())
            })
            .unwrap();
        assert_eq!(f["user_uid"], uid);
        assert_eq!(f["env"]["PATH"], std::env::var("PATH").unwrap());
        let epoch: i64 = f["date_time"]["epoch"].as_str().unwrap().parse().unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        assert!((now - epoch).abs() < 60);
        // The snippet leaves nothing behind in the embedding script.
        let leak = sh(&format!(
            "plumb_fu=keep\n{}echo \"[$plumb_fu][${{plumb_fl-unset}}]\"\n",
            snippet(&all)
        ));
        assert!(leak.ends_with("[][unset]\n"), "{leak}");
    }

    /// Under each shell that is installed here: dash, bash as sh (`--posix`), bash, busybox ash.
    /// A value holding a newline and a fake `@@end` stays one value.
    #[test]
    fn snippet_under_each_shell() {
        let all = Subset::all();
        let snippet = snippet(&all);
        let shells: &[&[&str]] = &[
            &["dash"],
            &["bash", "--posix"],
            &["bash"],
            &["busybox", "sh"],
        ];
        let mut ran = 0;
        for sh in shells {
            let Ok(out) = std::process::Command::new(sh[0])
                .args(&sh[1..])
                .arg("-c")
                .arg(&snippet)
                .env("PLUMB_FACTS_TEST", "two\nlines\n@@end\n\u{1}'\"$`\\")
                .output()
            else {
                continue;
            };
            ran += 1;
            let text = String::from_utf8(out.stdout).unwrap();
            let f = parse(&text, &all).unwrap_or_else(|e| panic!("{sh:?}: {e}\n{text}"));
            assert_eq!(
                f["env"]["PLUMB_FACTS_TEST"], "two\nlines\n@@end\n\u{1}'\"$`\\",
                "{sh:?}"
            );
            assert!(f["memtotal_mb"].as_i64().unwrap() > 0, "{sh:?}");
        }
        assert!(ran > 0);
    }

    /// The recorded h72 output against what ansible-core 2.19's `setup` returned for that host.
    #[test]
    fn h72_matches_ansible() {
        let ours = parse(H72, &Subset::all()).unwrap();
        let theirs = ansible_h72();
        // Compared by value.
        let equal = [
            "all_ipv4_addresses",
            "all_ipv6_addresses",
            "apparmor",
            "architecture",
            "default_ipv6",
            "distribution",
            "distribution_file_parsed",
            "distribution_file_path",
            "distribution_file_variety",
            "distribution_major_version",
            "distribution_minor_version",
            "distribution_release",
            "distribution_version",
            "dns",
            "domain",
            "effective_group_id",
            "effective_user_id",
            "fips",
            "fqdn",
            "hostname",
            "kernel",
            "kernel_version",
            "lsb",
            "machine",
            "machine_id",
            "memtotal_mb",
            "nodename",
            "os_family",
            "pkg_mgr",
            "processor",
            "processor_cores",
            "processor_count",
            "processor_nproc",
            "processor_threads_per_core",
            "processor_vcpus",
            "real_group_id",
            "real_user_id",
            "selinux",
            "service_mgr",
            "swapfree_mb",
            "swaptotal_mb",
            "system",
            "user_dir",
            "user_gecos",
            "user_gid",
            "user_id",
            "user_shell",
            "user_uid",
            "userspace_architecture",
            "userspace_bits",
            // h72 has no DMI: all "NA", as Ansible says.
            "bios_date",
            "bios_vendor",
            "bios_version",
            "board_asset_tag",
            "board_name",
            "board_serial",
            "board_vendor",
            "board_version",
            "chassis_asset_tag",
            "chassis_serial",
            "chassis_vendor",
            "chassis_version",
            "form_factor",
            "product_name",
            "product_serial",
            "product_uuid",
            "product_version",
            "system_vendor",
            "local",
            "gather_subset",
            "module_setup",
            "locally_reachable_ips",
            "iscsi_iqn",
            "hostnqn",
            "fibre_channel_wwn",
        ];
        for k in equal {
            assert_eq!(ours.get(k), theirs.get(k), "{k}");
        }
        // Compared on the keys the recording holds (h72.txt has no /sys/class/net: macaddress,
        // mtu, type, active, promisc and speed were not recorded).
        for (k, sub) in [
            (
                "default_ipv4",
                &[
                    "address",
                    "alias",
                    "broadcast",
                    "gateway",
                    "interface",
                    "netmask",
                    "network",
                    "prefix",
                ][..],
            ),
            ("host0", &["device", "ipv4", "ipv6"][..]),
            ("lo", &["device", "ipv4", "ipv6"][..]),
        ] {
            for s in sub {
                assert_eq!(ours[k].get(*s), theirs[k].get(*s), "{k}.{s}");
            }
        }
        // Same set; Ansible lists /sys/class/net in directory order, plumb by ifindex.
        let set = |v: &Value| {
            let mut v: Vec<String> = v
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_str().unwrap().to_string())
                .collect();
            v.sort();
            v
        };
        assert_eq!(set(&ours["interfaces"]), set(&theirs["interfaces"]));
        // Mounts: h72.txt holds /proc/mounts, which cannot tell bind mounts, and plumb has no
        // size/uuid fields; the rest is equal.
        let strip = |m: &Value| {
            m.as_array()
                .unwrap()
                .iter()
                .map(|e| {
                    let mut e: Map<String, Value> = e.as_object().unwrap().clone();
                    e.retain(|k, _| {
                        ["device", "mount", "fstype", "options", "dump", "passno"]
                            .contains(&k.as_str())
                    });
                    let o = e["options"]
                        .as_str()
                        .unwrap()
                        .trim_end_matches(",bind")
                        .to_string();
                    e.insert("options".into(), Value::String(o));
                    Value::Object(e)
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(strip(&ours["mounts"]), strip(&theirs["mounts"]));
        // Compared by shape: these change between the two runs.
        // (As sets: maps keep insertion order, and the recording's keys are sorted.)
        let keys = |v: &Value| {
            v.as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect::<std::collections::BTreeSet<_>>()
        };
        assert_eq!(keys(&ours["date_time"]), keys(&theirs["date_time"]));
        assert!(
            ours["date_time"]
                .as_object()
                .unwrap()
                .values()
                .all(Value::is_string)
        );
        assert_eq!(ours["date_time"]["tz"], theirs["date_time"]["tz"]);
        assert_eq!(
            ours["date_time"]["tz_offset"],
            theirs["date_time"]["tz_offset"]
        );
        assert!(ours["memfree_mb"].is_i64());
        for (k, sub) in [("real", "total"), ("swap", "total")] {
            assert_eq!(ours["memory_mb"][k][sub], theirs["memory_mb"][k][sub]);
        }
        let shape = |v: &Value| {
            v.as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), keys(v)))
                .collect::<std::collections::BTreeMap<_, _>>()
        };
        assert_eq!(shape(&ours["memory_mb"]), shape(&theirs["memory_mb"]));
        let env = ours["env"].as_object().unwrap();
        assert!(env.values().all(Value::is_string));
        for k in ["HOME", "LANG", "LOGNAME", "PATH", "PWD", "SHELL", "USER"] {
            assert_eq!(env.get(k), theirs["env"].get(k), "env.{k}");
        }
    }

    #[test]
    fn injected_names() {
        let f = parse(H72, &Subset::all()).unwrap();
        let v = injected(&f);
        assert_eq!(v["ansible_os_family"], "Debian");
        assert_eq!(v["ansible_host0"]["ipv4"]["address"], "10.231.72.2");
        assert!(!v.contains_key("ansible_gather_subset") && !v.contains_key("os_family"));
    }

    #[test]
    fn filter_applies_to_parse() {
        let s = Subset::new(&["!all"], &["ansible_distribution*", "os_family"]).unwrap();
        let f = parse(H72, &s).unwrap();
        let mut keys: Vec<&str> = f.keys().map(String::as_str).collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "distribution",
                "distribution_file_parsed",
                "distribution_file_path",
                "distribution_file_variety",
                "distribution_major_version",
                "distribution_minor_version",
                "distribution_release",
                "distribution_version",
                "os_family"
            ]
        );
    }
}
