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
//!   read with shell builtins. A full gather starts 3 processes (4 on kernels older than 6.1,
//!   without `/proc/sys/kernel/arch`, where `uname -m` answers); `gather_subset: min` starts 2.
//! - **Framing.** Every file line starts with a path the parser knows; lines the snippet prints
//!   itself start with `@@`, which no path does. The environment comes last, from `export -p`,
//!   and is read quote-aware (dash, ash and bash quoting) up to a final `@@end`, so a value
//!   holding newlines or `@@end` cannot end it early; a missing `@@end` means the output was cut
//!   and is an error.
//! - **A pure parser.** [`parse`] turns that output into `ansible_facts` (names without the
//!   `ansible_` prefix) with Ansible's names, types and formats. A missing essential file (the
//!   kernel's, `/proc/meminfo`, `/proc/cpuinfo`, `/proc/net/route`, the date line, the
//!   environment, `Uid:`) is an error, never a guess; optional files may be absent. Network facts
//!   are in `facts_net.rs`.
//!
//! Not gathered (they need a command or Python): `python*`, `selinux_python_present`, `devices`,
//! `device_links`, `lvm`, `system_capabilities*` (capsh), `systemd` (systemctl), `flags` (one
//! line per CPU), mount sizes and UUIDs (`statvfs`, `lsblk`), `ethtool` features, `local` when
//! `/etc/ansible/facts.d` exists (its scripts are not run), `is_chroot` where init's root
//! cannot be looked at. `fqdn` comes from `/etc/hosts` only (no DNS); `tz_dst` is the zone's
//! current name.

use crate::facts_net;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};

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
pub struct Subset {
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
    pub fn all() -> Subset {
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
    pub fn new<S: AsRef<str>, F: AsRef<str>>(
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
    pub fn has(&self, name: &str) -> bool {
        self.collectors.contains(name)
    }

    /// The collectors gathered, sorted (Ansible's `gather_subset` fact shows what was asked).
    pub fn collectors(&self) -> Vec<&'static str> {
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
    pub fn keep(&self, name: &str) -> bool {
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
pub fn fnmatch(pattern: &str, name: &str) -> bool {
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
        v.extend(facts_net::EXISTS);
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

/// Ansible's package manager table (path, name), in its order: the last one present wins.
const PKG_MGRS: &[(&str, &str)] = &[
    ("/usr/bin/rpm-ostree", "atomic_container"),
    ("/usr/bin/yum", "dnf"),
    ("/usr/bin/dnf-3", "dnf"),
    ("/usr/bin/dnf5", "dnf5"),
    ("/usr/bin/apt-get", "apt"),
    ("/usr/bin/zypper", "zypper"),
    ("/usr/sbin/urpmi", "urpmi"),
    ("/usr/bin/pacman", "pacman"),
    ("/bin/opkg", "opkg"),
    ("/sbin/apk", "apk"),
    ("/usr/bin/emerge", "portage"),
    ("/usr/bin/xbps-install", "xbps"),
    ("/usr/bin/swupd", "swupd"),
    ("/usr/sbin/sorcery", "sorcery"),
];

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
        v.extend(facts_net::FILES);
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

/// DMI facts and their sysfs files.
const DMI: &[(&str, &str)] = &[
    ("bios_date", "/sys/devices/virtual/dmi/id/bios_date"),
    ("bios_vendor", "/sys/devices/virtual/dmi/id/bios_vendor"),
    ("bios_version", "/sys/devices/virtual/dmi/id/bios_version"),
    (
        "board_asset_tag",
        "/sys/devices/virtual/dmi/id/board_asset_tag",
    ),
    ("board_name", "/sys/devices/virtual/dmi/id/board_name"),
    ("board_serial", "/sys/devices/virtual/dmi/id/board_serial"),
    ("board_vendor", "/sys/devices/virtual/dmi/id/board_vendor"),
    ("board_version", "/sys/devices/virtual/dmi/id/board_version"),
    (
        "chassis_asset_tag",
        "/sys/devices/virtual/dmi/id/chassis_asset_tag",
    ),
    (
        "chassis_serial",
        "/sys/devices/virtual/dmi/id/chassis_serial",
    ),
    (
        "chassis_vendor",
        "/sys/devices/virtual/dmi/id/chassis_vendor",
    ),
    (
        "chassis_version",
        "/sys/devices/virtual/dmi/id/chassis_version",
    ),
    ("form_factor", "/sys/devices/virtual/dmi/id/chassis_type"),
    ("product_name", "/sys/devices/virtual/dmi/id/product_name"),
    (
        "product_serial",
        "/sys/devices/virtual/dmi/id/product_serial",
    ),
    ("product_uuid", "/sys/devices/virtual/dmi/id/product_uuid"),
    (
        "product_version",
        "/sys/devices/virtual/dmi/id/product_version",
    ),
    ("system_vendor", "/sys/devices/virtual/dmi/id/sys_vendor"),
];

/// SMBIOS chassis types (DMTF DSP0134, 7.4.1), by number.
const CHASSIS_TYPES: &[&str] = &[
    "Unknown",
    "Other",
    "Unknown",
    "Desktop",
    "Low Profile Desktop",
    "Pizza Box",
    "Mini Tower",
    "Tower",
    "Portable",
    "Laptop",
    "Notebook",
    "Hand Held",
    "Docking Station",
    "All In One",
    "Sub Notebook",
    "Space-saving",
    "Lunch Box",
    "Main Server Chassis",
    "Expansion Chassis",
    "Sub Chassis",
    "Bus Expansion Chassis",
    "Peripheral Chassis",
    "RAID Chassis",
    "Rack Mount Chassis",
    "Sealed-case PC",
    "Multi-system",
    "CompactPCI",
    "AdvancedTCA",
    "Blade",
    "Blade Enclosure",
    "Tablet",
    "Convertible",
    "Detachable",
    "IoT Gateway",
    "Embedded PC",
    "Mini PC",
    "Stick PC",
];

/// DMI facts: each file's content, "NA" where it is unreadable (serials are root's) or where
/// the machine has no DMI at all.
fn dmi(raw: &Raw, f: &mut Map<String, Value>) {
    for (key, path) in DMI {
        let v = match raw.first(path) {
            None => "NA".to_string(),
            Some(v) if *key == "form_factor" => match v.trim().parse::<usize>() {
                Ok(n) if n < CHASSIS_TYPES.len() => CHASSIS_TYPES[n].to_string(),
                _ => format!("unknown ({})", v.trim()),
            },
            Some(v) => v.trim().to_string(),
        };
        f.insert(key.to_string(), Value::String(v));
    }
}

const SSH_KEYS: &[(&str, &str)] = &[
    ("/etc/ssh/ssh_host_dsa_key.pub", "dsa"),
    ("/etc/ssh/ssh_host_rsa_key.pub", "rsa"),
    ("/etc/ssh/ssh_host_ecdsa_key.pub", "ecdsa"),
    ("/etc/ssh/ssh_host_ed25519_key.pub", "ed25519"),
];

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
pub fn snippet(subset: &Subset) -> String {
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
    pub fn lines(&self, path: &str) -> &[&'a str] {
        self.files.get(path).map(|v| v.as_slice()).unwrap_or(&[])
    }
    pub fn first(&self, path: &str) -> Option<&'a str> {
        self.lines(path).first().copied()
    }
    /// The first line of a file that must be there.
    pub fn need(&self, path: &str) -> Result<&'a str, String> {
        self.first(path)
            .ok_or_else(|| format!("facts: no output for {path}"))
    }
    pub fn exists(&self, path: &str) -> bool {
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
pub fn injected(facts: &Map<String, Value>) -> Map<String, Value> {
    facts
        .iter()
        .filter(|(k, _)| *k != "gather_subset" && *k != "module_setup")
        .map(|(k, v)| (format!("ansible_{k}"), v.clone()))
        .collect()
}

/// The facts in `output` of [`snippet`]`(subset)`, keyed as in `ansible_facts` (no `ansible_`
/// prefix), filtered by the subset's `filter`.
pub fn parse(output: &str, subset: &Subset) -> Result<Map<String, Value>, String> {
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
        facts_net::network(&raw, arch, &mut f)?;
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

fn platform(raw: &Raw, f: &mut Map<String, Value>) -> Result<(), String> {
    let system = raw.need("/proc/sys/kernel/ostype")?.trim();
    let nodename = raw.need("/proc/sys/kernel/hostname")?.trim();
    let machine = raw.need("/proc/sys/kernel/arch")?.trim();
    if machine.is_empty() {
        return Err("facts: no machine architecture".into());
    }
    f.insert("system".into(), s(system));
    f.insert(
        "kernel".into(),
        s(raw.need("/proc/sys/kernel/osrelease")?.trim()),
    );
    f.insert(
        "kernel_version".into(),
        s(raw.need("/proc/sys/kernel/version")?.trim()),
    );
    f.insert("machine".into(), s(machine));
    let bits = userspace_bits(machine);
    f.insert("userspace_bits".into(), s(bits));
    let is_x86 = machine.len() == 4 && machine.starts_with('i') && machine.ends_with("86");
    if machine == "x86_64" {
        f.insert("architecture".into(), s(machine));
        f.insert(
            "userspace_architecture".into(),
            s(if bits == "64" { "x86_64" } else { "i386" }),
        );
    } else if is_x86 {
        f.insert("architecture".into(), s("i386"));
        f.insert("userspace_architecture".into(), s("i386"));
    } else {
        f.insert("architecture".into(), s(machine));
    }
    f.insert("nodename".into(), s(nodename));
    f.insert(
        "hostname".into(),
        s(nodename.split('.').next().unwrap_or(nodename)),
    );
    let fqdn = fqdn(nodename, raw.lines("/etc/hosts"));
    let domain = fqdn.split_once('.').map(|(_, d)| d).unwrap_or("");
    f.insert("domain".into(), s(domain));
    f.insert("fqdn".into(), s(&fqdn));
    if let Some(id) = raw.first("/etc/machine-id") {
        f.insert("machine_id".into(), s(id.trim()));
    }
    Ok(())
}

fn userspace_bits(machine: &str) -> &'static str {
    const B64: &[&str] = &[
        "x86_64",
        "aarch64",
        "arm64",
        "ppc64",
        "ppc64le",
        "s390x",
        "riscv64",
        "mips64",
        "sparc64",
        "loongarch64",
        "alpha",
        "ia64",
    ];
    if B64.contains(&machine) { "64" } else { "32" }
}

/// Python's `socket.getfqdn()` with only `/etc/hosts` to ask: the address of the first line
/// naming `hostname`, then the first line with that address gives the canonical name and its
/// aliases; the first of them containing a dot wins, else the canonical name. No line: the
/// hostname (Ansible would ask DNS; plumb does not).
pub fn fqdn(hostname: &str, hosts: &[&str]) -> String {
    let entries: Vec<(&str, Vec<&str>)> = hosts
        .iter()
        .filter_map(|l| {
            let l = l.split('#').next().unwrap_or("");
            let mut w = l.split_whitespace();
            let addr = w.next()?;
            let names: Vec<&str> = w.collect();
            (!names.is_empty()).then_some((addr, names))
        })
        .collect();
    let Some(addr) = entries
        .iter()
        .find(|(_, names)| names.iter().any(|n| n.eq_ignore_ascii_case(hostname)))
        .map(|(a, _)| *a)
    else {
        return hostname.to_string();
    };
    let (_, names) = entries
        .iter()
        .find(|(a, _)| *a == addr)
        .expect("the line found above");
    names
        .iter()
        .find(|n| n.contains('.'))
        .unwrap_or(&names[0])
        .to_string()
}

/// `KEY=value` lines with shell quoting as os-release and lsb-release use it.
fn kv(lines: &[&str]) -> BTreeMap<String, String> {
    lines
        .iter()
        .filter_map(|l| {
            let l = l.trim();
            if l.starts_with('#') {
                return None;
            }
            let (k, v) = l.split_once('=')?;
            let v = v.trim();
            let v = if v.len() >= 2
                && ((v.starts_with('"') && v.ends_with('"'))
                    || (v.starts_with('\'') && v.ends_with('\'')))
            {
                v[1..v.len() - 1]
                    .replace("\\\"", "\"")
                    .replace("\\\\", "\\")
            } else {
                v.to_string()
            };
            Some((k.trim().to_string(), v))
        })
        .collect()
}

/// Ansible's `OS_FAMILY_MAP`, the common part.
pub fn os_family(distribution: &str) -> String {
    const MAP: &[(&str, &[&str])] = &[
        (
            "RedHat",
            &[
                "RedHat",
                "RHEL",
                "Fedora",
                "CentOS",
                "Scientific",
                "SLC",
                "Ascendos",
                "CloudLinux",
                "PSBM",
                "OracleLinux",
                "OVS",
                "OEL",
                "Amazon",
                "Amzn",
                "Virtuozzo",
                "XenServer",
                "Alibaba",
                "EulerOS",
                "openEuler",
                "AlmaLinux",
                "Rocky",
                "TencentOS",
                "EuroLinux",
                "Kylin Linux Advanced Server",
                "MIRACLE",
            ],
        ),
        (
            "Debian",
            &[
                "Debian",
                "Ubuntu",
                "Raspbian",
                "Neon",
                "KDE neon",
                "Linux Mint",
                "SteamOS",
                "Devuan",
                "Kali",
                "Cumulus Linux",
                "Pop!_OS",
                "Parrot",
                "Pardus GNU/Linux",
                "Uos",
                "Deepin",
                "OSMC",
                "Linux Mint Debian Edition",
            ],
        ),
        (
            "Suse",
            &[
                "SuSE",
                "SLES",
                "SLED",
                "openSUSE",
                "openSUSE Tumbleweed",
                "SLES_SAP",
                "SUSE_LINUX",
                "openSUSE Leap",
                "ALP-Dolomite",
                "SL-Micro",
                "openSUSE MicroOS",
            ],
        ),
        ("Archlinux", &["Archlinux", "Antergos", "Manjaro"]),
        ("Mandrake", &["Mandrake", "Mandriva"]),
        ("Slackware", &["Slackware"]),
        ("Altlinux", &["Altlinux"]),
        ("Gentoo", &["Gentoo", "Funtoo"]),
        ("Alpine", &["Alpine"]),
        ("ClearLinux", &["Clear Linux OS", "Clear Linux Mix"]),
    ];
    MAP.iter()
        .find(|(_, names)| names.contains(&distribution))
        .map(|(fam, _)| fam.to_string())
        .unwrap_or_else(|| distribution.to_string())
}

/// Ansible's distribution name for an os-release `ID`.
fn distribution_name(id: &str) -> String {
    match id {
        "debian" | "raspbian" => "Debian".into(),
        "ubuntu" => "Ubuntu".into(),
        "rhel" => "RedHat".into(),
        "centos" => "CentOS".into(),
        "fedora" => "Fedora".into(),
        "rocky" => "Rocky".into(),
        "almalinux" => "AlmaLinux".into(),
        "ol" => "OracleLinux".into(),
        "amzn" => "Amazon".into(),
        "alpine" => "Alpine".into(),
        "arch" => "Archlinux".into(),
        "manjaro" => "Manjaro".into(),
        "linuxmint" => "Linux Mint".into(),
        "pop" => "Pop!_OS".into(),
        "kali" => "Kali".into(),
        "devuan" => "Devuan".into(),
        "opensuse-leap" => "openSUSE Leap".into(),
        "opensuse-tumbleweed" => "openSUSE Tumbleweed".into(),
        "opensuse" => "openSUSE".into(),
        "sles" => "SLES".into(),
        "sled" => "SLED".into(),
        "gentoo" => "Gentoo".into(),
        "" => "OtherLinux".into(),
        other => {
            // Python's str.capitalize().
            let mut c = other.chars();
            match c.next() {
                Some(first) => first
                    .to_uppercase()
                    .chain(c.flat_map(char::to_lowercase))
                    .collect(),
                None => String::new(),
            }
        }
    }
}

fn distribution(raw: &Raw, f: &mut Map<String, Value>) -> Result<(), String> {
    let osr = kv(raw.lines("/etc/os-release"));
    let id = osr.get("ID").map(|s| s.to_lowercase()).unwrap_or_default();
    let name = distribution_name(&id);
    let mut version = osr.get("VERSION_ID").cloned().unwrap_or_default();
    let mut minor: Option<String> = None;
    if id == "debian" || id == "raspbian" {
        if let Some(dv) = raw.first("/etc/debian_version").map(str::trim) {
            let mut parts = dv.split('.');
            let numeric = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
            if parts.clone().all(numeric) && dv.split('.').count() >= version.split('.').count() {
                version = dv.to_string();
            }
            if let (Some(a), Some(b)) = (parts.next(), parts.next())
                && numeric(a)
                && numeric(b)
            {
                minor = Some(b.to_string());
            }
        }
    } else if id == "alpine" {
        if let Some(v) = raw.first("/etc/alpine-release") {
            version = v.trim().to_string();
        }
    } else if id == "amzn" {
        // Ansible sets a minor version for Debian and Amazon only.
        minor = Some(match version.split_once('.') {
            Some((_, b)) => b.to_string(),
            None => "NA".into(),
        });
    }
    // An empty VERSION_CODENAME (Fedora) is an empty release, as in Ansible.
    let release = osr
        .get("VERSION_CODENAME")
        .or_else(|| osr.get("UBUNTU_CODENAME"))
        .cloned()
        .or_else(|| {
            let v = osr.get("VERSION")?;
            let (_, r) = v.split_once('(')?;
            Some(r.split(')').next()?.trim().to_string())
        })
        .or_else(|| {
            // Debian without a codename line: Ansible reads PRETTY_NAME's parentheses.
            if id != "debian" {
                return None;
            }
            let p = osr.get("PRETTY_NAME")?;
            let (_, r) = p.split_once('(')?;
            Some(r.split(')').next()?.trim().to_string())
        })
        .unwrap_or_else(|| "NA".into());
    let version = if version.is_empty() {
        "NA".to_string()
    } else {
        version
    };
    let major = version
        .split('.')
        .next()
        .filter(|m| !m.is_empty())
        .unwrap_or("NA");
    let family = os_family(&name);
    f.insert("distribution".into(), s(&name));
    f.insert("distribution_version".into(), s(&version));
    f.insert("distribution_major_version".into(), s(major));
    f.insert("distribution_release".into(), s(&release));
    if let Some(m) = minor {
        f.insert("distribution_minor_version".into(), s(&m));
    }
    f.insert("os_family".into(), s(&family));
    // Which of Ansible's distribution files answered.
    let file = if raw.exists("/etc/redhat-release") && family == "RedHat" {
        Some(("/etc/redhat-release", "RedHat"))
    } else if raw.exists("/etc/alpine-release") {
        Some(("/etc/alpine-release", "Alpine"))
    } else if raw.exists("/etc/arch-release") {
        Some(("/etc/arch-release", "Archlinux"))
    } else if family == "Suse" {
        Some(("/etc/os-release", "SUSE"))
    } else if family == "Debian" {
        Some(("/etc/os-release", "Debian"))
    } else {
        None
    };
    if let Some((path, variety)) = file {
        f.insert("distribution_file_path".into(), s(path));
        f.insert("distribution_file_variety".into(), s(variety));
        f.insert("distribution_file_parsed".into(), Value::Bool(true));
    }
    Ok(())
}

/// `/etc/lsb-release`, or, where only the `lsb_release` command exists, what it prints (it reads
/// os-release).
fn lsb(raw: &Raw) -> Value {
    let mut m = Map::new();
    let l = kv(raw.lines("/etc/lsb-release"));
    let osr = kv(raw.lines("/etc/os-release"));
    let pairs: [(&str, Option<String>); 4] = if raw.exists("/usr/bin/lsb_release") {
        [
            (
                "id",
                l.get("DISTRIB_ID")
                    .cloned()
                    .or_else(|| osr.get("ID").map(|i| distribution_name(&i.to_lowercase()))),
            ),
            (
                "release",
                l.get("DISTRIB_RELEASE").or(osr.get("VERSION_ID")).cloned(),
            ),
            (
                "codename",
                l.get("DISTRIB_CODENAME")
                    .or(osr.get("VERSION_CODENAME"))
                    .cloned(),
            ),
            (
                "description",
                l.get("DISTRIB_DESCRIPTION")
                    .or(osr.get("PRETTY_NAME"))
                    .cloned(),
            ),
        ]
    } else {
        [
            ("id", l.get("DISTRIB_ID").cloned()),
            ("release", l.get("DISTRIB_RELEASE").cloned()),
            ("codename", l.get("DISTRIB_CODENAME").cloned()),
            ("description", l.get("DISTRIB_DESCRIPTION").cloned()),
        ]
    };
    for (k, v) in pairs {
        if let Some(v) = v {
            if k == "release" {
                m.insert("major_release".into(), s(v.split('.').next().unwrap_or("")));
            }
            m.insert(k.into(), Value::String(v));
        }
    }
    Value::Object(m)
}

/// `/etc/resolv.conf` as Ansible's dns facts.
pub fn dns(lines: &[&str]) -> Value {
    let mut m = Map::new();
    for line in lines {
        if line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let t: Vec<&str> = line.split_whitespace().collect();
        let Some(first) = t.first() else { continue };
        match *first {
            "nameserver" if t.len() > 1 => {
                let e = m.entry("nameservers").or_insert_with(|| json!([]));
                if let Value::Array(a) = e {
                    a.push(s(t[1]));
                }
            }
            "domain" if t.len() > 1 => {
                m.insert("domain".into(), s(t[1]));
            }
            "search" => {
                m.insert("search".into(), json!(t[1..]));
            }
            "sortlist" => {
                m.insert("sortlist".into(), json!(t[1..]));
            }
            "options" => {
                let e = m.entry("options").or_insert_with(|| json!({}));
                if let Value::Object(o) = e {
                    for opt in &t[1..] {
                        match opt.split_once(':') {
                            Some((k, v)) => o.insert(k.into(), s(v)),
                            None => o.insert(opt.to_string(), Value::Bool(true)),
                        };
                    }
                }
            }
            _ => {}
        }
    }
    Value::Object(m)
}

fn selinux(raw: &Raw) -> Value {
    let Some(enforce) = raw.first("/sys/fs/selinux/enforce") else {
        return json!({"status": "disabled"});
    };
    let mut m = Map::new();
    m.insert("status".into(), s("enabled"));
    if let Some(v) = raw
        .first("/sys/fs/selinux/policyvers")
        .and_then(|v| v.trim().parse::<i64>().ok())
    {
        m.insert("policyvers".into(), json!(v));
    }
    let cfg = kv(raw.lines("/etc/selinux/config"));
    if let Some(c) = cfg.get("SELINUX") {
        m.insert("config_mode".into(), s(c));
    }
    let mode = if enforce.trim() == "1" {
        "enforcing"
    } else {
        "permissive"
    };
    m.insert("mode".into(), s(mode));
    if let Some(t) = cfg.get("SELINUXTYPE") {
        m.insert("type".into(), s(t));
    }
    Value::Object(m)
}

/// `/proc/cmdline` as Ansible's `cmdline` (last value wins) and `proc_cmdline` (repeated keys
/// become lists). Split on white space (Ansible's shlex in non-POSIX mode also keeps quotes).
pub fn cmdline(line: &str) -> (Value, Value) {
    let mut last = Map::new();
    let mut all = Map::new();
    for item in line.split_whitespace() {
        let (k, v) = match item.split_once('=') {
            Some((k, v)) => (k, s(v)),
            None => (item, Value::Bool(true)),
        };
        last.insert(k.to_string(), v.clone());
        match all.get_mut(k) {
            None => {
                all.insert(k.to_string(), v);
            }
            Some(Value::Array(a)) => a.push(v),
            Some(old) => {
                let prev = old.take();
                *old = json!([prev, v]);
            }
        }
    }
    (Value::Object(last), Value::Object(all))
}

fn service_mgr(raw: &Raw) -> String {
    let proc1 = raw
        .first("/proc/1/comm")
        .map(str::trim)
        .filter(|p| !p.is_empty());
    if let Some(p) = proc1
        && p != "init"
        && !p.ends_with("sh")
    {
        return match p {
            "procd" => "openwrt_init",
            "runit-init" => "runit",
            "svscan" => "svc",
            "openrc-init" => "openrc",
            other => other,
        }
        .to_string();
    }
    let systemctl = raw.exists("/usr/bin/systemctl") || raw.exists("/bin/systemctl");
    let canary = [
        "/run/systemd/system/",
        "/dev/.run/systemd/",
        "/dev/.systemd/",
    ]
    .iter()
    .any(|c| raw.exists(c));
    if systemctl && canary {
        "systemd"
    } else if raw.exists("/sbin/initctl") && raw.exists("/etc/init/") {
        "upstart"
    } else if raw.exists("/sbin/openrc") {
        "openrc"
    } else if raw.exists("/etc/init.d/") {
        "sysvinit"
    } else if raw.exists("/etc/dinit.d/") {
        "dinit"
    } else {
        "service"
    }
    .to_string()
}

fn pkg_mgr(raw: &Raw, family: &str) -> String {
    let mut name = PKG_MGRS
        .iter()
        .filter(|(p, _)| raw.exists(p))
        .map(|(_, n)| *n)
        .next_back()
        .unwrap_or("unknown");
    if family == "RedHat" {
        name = if raw.exists("/run/ostree-booted") {
            "atomic_container"
        } else if raw.exists("/usr/bin/dnf") || raw.exists("/usr/bin/microdnf") {
            // Ansible follows the dnf symlink; where dnf5 is installed, dnf is dnf5.
            if raw.exists("/usr/bin/dnf5") {
                "dnf5"
            } else {
                "dnf"
            }
        } else {
            "unknown"
        };
    } else if family == "Debian" {
        name = "apt";
    } else if family == "Altlinux" && name == "apt" {
        name = "apt_rpm";
    }
    name.to_string()
}

fn status_ids(raw: &Raw, key: &str) -> Result<(i64, i64), String> {
    let line = raw
        .lines("/proc/self/status")
        .iter()
        .find_map(|l| l.strip_prefix(key))
        .ok_or_else(|| format!("facts: no {key} line from /proc/self/status"))?;
    let ids: Vec<i64> = line
        .split_whitespace()
        .map(|x| x.parse::<i64>())
        .collect::<Result<_, _>>()
        .map_err(|_| format!("facts: bad {key} line `{line}`"))?;
    match ids.as_slice() {
        [real, eff, ..] => Ok((*real, *eff)),
        _ => Err(format!("facts: bad {key} line `{line}`")),
    }
}

fn user(raw: &Raw, f: &mut Map<String, Value>) -> Result<(), String> {
    let (uid, euid) = status_ids(raw, "Uid:")?;
    let (gid, egid) = status_ids(raw, "Gid:")?;
    let env = raw.env.as_ref();
    let from_env = |k: &str| {
        env.and_then(|e| e.get(k))
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
    };
    let passwd: Vec<Vec<&str>> = raw
        .lines("/etc/passwd")
        .iter()
        .map(|l| l.splitn(7, ':').collect::<Vec<_>>())
        .filter(|p| p.len() == 7)
        .collect();
    // Python's getpass.getuser(): LOGNAME, USER, LNAME, USERNAME, then the uid's passwd entry.
    let by_uid = passwd
        .iter()
        .find(|p| p[2].parse::<i64>().ok() == Some(uid));
    let name = ["LOGNAME", "USER", "LNAME", "USERNAME"]
        .iter()
        .find_map(|k| from_env(k))
        .map(String::from)
        .or_else(|| by_uid.map(|p| p[0].to_string()))
        .ok_or("facts: no user name (no LOGNAME/USER and no passwd entry for the uid)")?;
    f.insert("user_id".into(), s(&name));
    if let Some(p) = passwd.iter().find(|p| p[0] == name) {
        f.insert("user_uid".into(), json!(p[2].parse::<i64>().unwrap_or(uid)));
        f.insert("user_gid".into(), json!(p[3].parse::<i64>().unwrap_or(gid)));
        f.insert("user_gecos".into(), s(p[4]));
        f.insert("user_dir".into(), s(p[5]));
        f.insert("user_shell".into(), s(p[6]));
    }
    f.insert("real_user_id".into(), json!(uid));
    f.insert("effective_user_id".into(), json!(euid));
    f.insert("real_group_id".into(), json!(gid));
    f.insert("effective_group_id".into(), json!(egid));
    Ok(())
}

const WEEKDAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

/// `date '+%s %N %z %Z'` as Ansible's `date_time` (local time from the host's own offset).
/// `tz_dst` is the zone's name now, as `date` cannot name the other half of the year.
pub fn date_time(line: &str) -> Result<Value, String> {
    let bad = || format!("facts: bad date line `{line}`");
    let mut w = line.split(' ');
    let epoch: i64 = w.next().and_then(|x| x.parse().ok()).ok_or_else(bad)?;
    let nanos = w.next().ok_or_else(bad)?;
    // Without %N support (busybox) the field is not digits: microseconds are then 0.
    let micros: u32 = if nanos.len() == 9 && nanos.bytes().all(|b| b.is_ascii_digit()) {
        nanos[..6].parse().map_err(|_| bad())?
    } else {
        0
    };
    let tz_offset = w.next().ok_or_else(bad)?;
    let tz = w.collect::<Vec<_>>().join(" ");
    let ob = tz_offset.as_bytes();
    if ob.len() != 5 || !(ob[0] == b'+' || ob[0] == b'-') || !ob[1..].iter().all(u8::is_ascii_digit)
    {
        return Err(bad());
    }
    let oh: i64 = tz_offset[1..3].parse().map_err(|_| bad())?;
    let om: i64 = tz_offset[3..5].parse().map_err(|_| bad())?;
    let off = (oh * 3600 + om * 60) * if ob[0] == b'-' { -1 } else { 1 };
    let parts = |t: i64| {
        let days = t.div_euclid(86_400);
        let secs = t.rem_euclid(86_400);
        let (y, m, d) = civil(days);
        let wday = (days + 4).rem_euclid(7) as usize; // 1970-01-01 was a Thursday
        (y, m, d, secs / 3600, secs % 3600 / 60, secs % 60, wday)
    };
    let (y, mo, d, h, mi, se, wday) = parts(epoch + off);
    let (uy, umo, ud, uh, umi, use_, _) = parts(epoch);
    const CUM: [i64; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    let yday = CUM[(mo - 1) as usize] + i64::from(d) - 1 + i64::from(mo > 2 && is_leap(y));
    let weeknumber = (yday + 7 - ((wday as i64 + 6) % 7)) / 7;
    let mut m = Map::new();
    let mut put = |k: &str, v: String| {
        m.insert(k.into(), Value::String(v));
    };
    put("year", format!("{y:04}"));
    put("month", format!("{mo:02}"));
    put("weekday", WEEKDAYS[wday].into());
    put("weekday_number", wday.to_string());
    put("weeknumber", format!("{weeknumber:02}"));
    put("day", format!("{d:02}"));
    put("hour", format!("{h:02}"));
    put("minute", format!("{mi:02}"));
    put("second", format!("{se:02}"));
    put("epoch", epoch.to_string());
    put("epoch_int", epoch.to_string());
    put("date", format!("{y:04}-{mo:02}-{d:02}"));
    put("time", format!("{h:02}:{mi:02}:{se:02}"));
    put(
        "iso8601_micro",
        format!("{uy:04}-{umo:02}-{ud:02}T{uh:02}:{umi:02}:{use_:02}.{micros:06}Z"),
    );
    put(
        "iso8601",
        format!("{uy:04}-{umo:02}-{ud:02}T{uh:02}:{umi:02}:{use_:02}Z"),
    );
    put(
        "iso8601_basic",
        format!("{y:04}{mo:02}{d:02}T{h:02}{mi:02}{se:02}{micros:06}"),
    );
    put(
        "iso8601_basic_short",
        format!("{y:04}{mo:02}{d:02}T{h:02}{mi:02}{se:02}"),
    );
    put("tz", tz.clone());
    put("tz_dst", tz);
    put("tz_offset", tz_offset.into());
    Ok(Value::Object(m))
}

fn kb_to_mb(raw: &Raw, key: &str) -> Option<i64> {
    raw.lines("/proc/meminfo").iter().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        if k != key {
            return None;
        }
        v.split_whitespace()
            .next()?
            .parse::<i64>()
            .ok()
            .map(|kb| kb / 1024)
    })
}

fn hardware(raw: &Raw, arch: &str, f: &mut Map<String, Value>) -> Result<(), String> {
    // Memory.
    let need = |k: &str| kb_to_mb(raw, k).ok_or_else(|| format!("facts: no {k} in /proc/meminfo"));
    let total = need("MemTotal")?;
    let free = need("MemFree")?;
    let swaptotal = need("SwapTotal")?;
    let swapfree = need("SwapFree")?;
    let buffers = kb_to_mb(raw, "Buffers").unwrap_or(0);
    let cached = kb_to_mb(raw, "Cached").unwrap_or(0);
    let swapcached = kb_to_mb(raw, "SwapCached").unwrap_or(0);
    f.insert("memtotal_mb".into(), json!(total));
    f.insert("memfree_mb".into(), json!(free));
    f.insert("swaptotal_mb".into(), json!(swaptotal));
    f.insert("swapfree_mb".into(), json!(swapfree));
    let nocache_free = cached + free + buffers;
    f.insert(
        "memory_mb".into(),
        json!({
            "real": {"total": total, "free": free, "used": total - free},
            "nocache": {"free": nocache_free, "used": total - nocache_free},
            "swap": {"total": swaptotal, "free": swapfree, "used": swaptotal - swapfree, "cached": swapcached},
        }),
    );
    // Uptime.
    if let Some(up) = raw.first("/proc/uptime") {
        let secs: f64 = up
            .split_whitespace()
            .next()
            .and_then(|x| x.parse().ok())
            .ok_or_else(|| format!("facts: bad /proc/uptime `{up}`"))?;
        f.insert("uptime_seconds".into(), json!(secs as i64));
    }
    // CPUs.
    let cpu = raw.lines("/proc/cpuinfo");
    if cpu.is_empty() {
        return Err("facts: no output for /proc/cpuinfo".into());
    }
    let nproc = raw
        .lines("/proc/self/status")
        .iter()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .map(|l| cpu_list_len(l.trim()));
    cpu_facts(cpu, arch, nproc, f);
    dmi(raw, f);
    // Mounts.
    f.insert(
        "mounts".into(),
        mounts(raw.lines("/proc/self/mountinfo"), raw.lines("/proc/mounts")),
    );
    Ok(())
}

/// The number of CPUs in a list such as `0-3,8,10-11`.
fn cpu_list_len(list: &str) -> usize {
    list.split(',')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('-') {
            Some((a, b)) => match (a.parse::<usize>(), b.parse::<usize>()) {
                (Ok(a), Ok(b)) if b >= a => b - a + 1,
                _ => 0,
            },
            None => usize::from(p.parse::<usize>().is_ok()),
        })
        .sum()
}

/// `/proc/cpuinfo` lines (the keys Ansible reads) as Ansible's processor facts.
pub fn cpu_facts(lines: &[&str], arch: &str, nproc: Option<usize>, f: &mut Map<String, Value>) {
    let mut processor = Vec::new();
    let mut sockets: Vec<(String, i64)> = Vec::new();
    let mut cores: Vec<(String, i64)> = Vec::new();
    let (mut physid, mut coreid) = (String::new(), String::new());
    let (mut proc_occ, mut vendor_occ, mut model_occ) = (0i64, 0i64, 0i64);
    let (mut zp, mut zmt) = (0i64, 1i64);
    fn set(v: &mut Vec<(String, i64)>, k: &str, val: i64, only_new: bool) {
        match v.iter_mut().find(|(x, _)| x == k) {
            Some(e) if !only_new => e.1 = val,
            Some(_) => {}
            None => v.push((k.to_string(), val)),
        }
    }
    for line in lines {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let (key, val) = (k.trim(), v.trim());
        match key {
            "model name" | "Processor" | "vendor_id" | "cpu" | "Vendor" | "processor" => {
                processor.push(s(val));
                match key {
                    "vendor_id" => vendor_occ += 1,
                    "model name" => model_occ += 1,
                    "processor" => proc_occ += 1,
                    _ => {}
                }
            }
            "physical id" => {
                physid = val.to_string();
                set(&mut sockets, val, 1, true);
            }
            "core id" => {
                coreid = val.to_string();
                // Ansible tests the core id against the sockets here, a quirk kept as is.
                if !sockets.iter().any(|(x, _)| x == val) {
                    set(&mut cores, val, 1, false);
                }
            }
            "cpu cores" => set(&mut sockets, &physid, val.parse().unwrap_or(0), false),
            "siblings" => set(&mut cores, &coreid, val.parse().unwrap_or(0), false),
            "# processors" => zp = val.parse().unwrap_or(0),
            "max thread id" => zmt = val.parse::<i64>().unwrap_or(0) + 1,
            _ => {}
        }
    }
    let mut i = if vendor_occ > 0 && vendor_occ == model_occ {
        vendor_occ
    } else {
        proc_occ
    };
    if vendor_occ == 0 {
        i = proc_occ;
    }
    if arch.starts_with("armv") || arch.starts_with("aarch") || arch.starts_with("ppc") {
        i = proc_occ;
    }
    f.insert("processor".into(), Value::Array(processor));
    let (count, ncores, tpc, vcpus, np);
    if arch == "s390x" {
        count = 1;
        ncores = if zmt > 0 {
            (zp as f64 / zmt as f64).round() as i64
        } else {
            0
        };
        tpc = zmt;
        vcpus = zp;
        np = zp;
    } else {
        count = if sockets.is_empty() {
            i
        } else {
            sockets.len() as i64
        };
        ncores = match sockets.first() {
            Some((_, v)) if *v != 0 => *v,
            _ => 1,
        };
        tpc = match cores.first() {
            Some((_, v)) => (*v as f64 / ncores as f64).round() as i64,
            None => (1.0 / ncores as f64).round() as i64,
        };
        vcpus = tpc * count * ncores;
        np = proc_occ;
    }
    f.insert("processor_count".into(), json!(count));
    f.insert("processor_cores".into(), json!(ncores));
    f.insert("processor_threads_per_core".into(), json!(tpc));
    f.insert("processor_vcpus".into(), json!(vcpus));
    f.insert(
        "processor_nproc".into(),
        json!(nproc.map(|n| n as i64).unwrap_or(np)),
    );
}

/// Undo the kernel's octal escapes in mount fields (`\040` for a space).
fn unescape_mount(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Mounts as Ansible lists them: only devices that are paths (or `host:/path`), one entry per
/// mount point (the last mounted wins, at the first one's place), `,bind` appended for bind
/// mounts (a filesystem root other than `/`, as findmnt shows `[/dir]`). From
/// `/proc/self/mountinfo`, else `/proc/mounts` (which cannot tell bind mounts). No size or UUID
/// fields: they need `statvfs` and `lsblk`.
pub fn mounts(mountinfo: &[&str], proc_mounts: &[&str]) -> Value {
    // (device, mount, fstype, options, bind)
    let mut entries: Vec<(String, String, String, String, bool)> = Vec::new();
    if !mountinfo.is_empty() {
        for line in mountinfo {
            let Some((left, right)) = line.split_once(" - ") else {
                continue;
            };
            let l: Vec<&str> = left.split(' ').collect();
            let r: Vec<&str> = right.split(' ').collect();
            if l.len() < 6 || r.len() < 3 {
                continue;
            }
            let (root, mount, mopts) = (l[3], l[4], l[5]);
            let (fstype, source, sopts) = (r[0], r[1], r[2]);
            let mut opts = mopts.to_string();
            for o in sopts.split(',') {
                if o != "rw" && o != "ro" && !o.is_empty() {
                    opts.push(',');
                    opts.push_str(o);
                }
            }
            entries.push((
                unescape_mount(source),
                unescape_mount(mount),
                fstype.to_string(),
                opts,
                root != "/",
            ));
        }
    } else {
        for line in proc_mounts {
            let w: Vec<&str> = line.split(' ').collect();
            if w.len() < 4 {
                continue;
            }
            entries.push((
                unescape_mount(w[0]),
                unescape_mount(w[1]),
                w[2].to_string(),
                w[3].to_string(),
                false,
            ));
        }
    }
    let mut out: Vec<(String, Value)> = Vec::new();
    for (device, mount, fstype, mut options, bind) in entries {
        if (!device.starts_with('/') && !device.starts_with('\\') && !device.contains(":/"))
            || fstype == "none"
        {
            continue;
        }
        if bind {
            options.push_str(",bind");
        }
        let v = json!({
            "mount": mount,
            "device": device,
            "fstype": fstype,
            "options": options,
            "dump": 0,
            "passno": 0,
        });
        match out.iter_mut().find(|(m, _)| *m == mount) {
            Some(e) => e.1 = v,
            None => out.push((mount, v)),
        }
    }
    Value::Array(out.into_iter().map(|(_, v)| v).collect())
}

fn virtual_facts(raw: &Raw, f: &mut Map<String, Value>) {
    let mut guest: Vec<String> = Vec::new();
    let mut host: Vec<String> = Vec::new();
    let mut found: Option<(String, &str)> = None;
    let mut add = |tech: &str,
                   ty: &str,
                   role: &'static str,
                   guest_side: bool,
                   found: &mut Option<(String, &str)>| {
        let list = if guest_side { &mut guest } else { &mut host };
        if !list.iter().any(|t| t == tech) {
            list.push(tech.to_string());
        }
        if found.is_none() {
            *found = Some((ty.to_string(), role));
        }
    };
    for line in raw.lines("/proc/1/cgroup") {
        if line.contains("/docker/") || (line.contains("/docker-") && line.ends_with(".scope")) {
            add("docker", "docker", "guest", true, &mut found);
        }
        if line.contains("/lxc/") || line.contains("/machine.slice/machine-lxc") {
            add("lxc", "lxc", "guest", true, &mut found);
        }
        if line.contains("/system.slice/containerd.service") {
            add("containerd", "containerd", "guest", true, &mut found);
        }
    }
    // PID 1's environment (root only): what `container=` it starts with.
    if raw.exists("@container=lxc") {
        add("lxc", "lxc", "guest", true, &mut found);
    }
    if raw.exists("@container=podman") {
        add("podman", "podman", "guest", true, &mut found);
    }
    if raw.exists("@container") || raw.exists("@container=lxc") || raw.exists("@container=podman") {
        add("container", "container", "guest", true, &mut found);
    }
    if raw.exists("/proc/vz") && !raw.exists("/proc/lve") {
        let bc = raw.exists("/proc/bc");
        add(
            "openvz",
            "openvz",
            if bc { "host" } else { "guest" },
            !bc,
            &mut found,
        );
    }
    let container = raw
        .first("/run/systemd/container")
        .map(str::trim)
        .filter(|c| !c.is_empty());
    if let Some(c) = container {
        add(c, c, "guest", true, &mut found);
    }
    if raw.exists("/.dockerenv") || raw.exists("/.dockerinit") {
        add("docker", "docker", "guest", true, &mut found);
    }
    let has_container_tech = ["docker", "lxc", "podman", "openvz", "containerd"]
        .iter()
        .any(|t| guest.iter().any(|g| g == t));
    if (has_container_tech || container.is_some()) && !guest.iter().any(|g| g == "container") {
        guest.push("container".into());
    }
    let product = raw
        .first("/sys/devices/virtual/dmi/id/product_name")
        .map(str::trim);
    let vendor = raw
        .first("/sys/devices/virtual/dmi/id/sys_vendor")
        .map(str::trim);
    let bios = raw
        .first("/sys/devices/virtual/dmi/id/bios_vendor")
        .map(str::trim);
    let mut add = |tech: &str, found: &mut Option<(String, &str)>| {
        if !guest.iter().any(|t| t == tech) {
            guest.push(tech.to_string());
        }
        if found.is_none() {
            *found = Some((tech.to_string(), "guest"));
        }
    };
    if matches!(
        product,
        Some("KVM" | "KVM Server" | "Bochs" | "AHV" | "CloudStack KVM Hypervisor")
    ) {
        add("kvm", &mut found);
    }
    if matches!(vendor, Some("oVirt" | "Red Hat")) {
        add("RHEV", &mut found);
    }
    if product.is_some_and(|p| p.starts_with("VMware")) {
        add("VMware", &mut found);
    }
    if matches!(product, Some("OpenStack Compute" | "OpenStack Nova")) {
        add("openstack", &mut found);
    }
    if matches!(bios, Some("Xen")) {
        add("xen", &mut found);
    }
    if matches!(bios, Some("innotek GmbH")) {
        add("virtualbox", &mut found);
    }
    if matches!(
        bios,
        Some("Amazon EC2" | "DigitalOcean" | "Hetzner" | "Linode")
    ) || matches!(
        vendor,
        Some("QEMU" | "Amazon EC2" | "DigitalOcean" | "Google" | "Scaleway" | "Nutanix")
    ) {
        add("kvm", &mut found);
    }
    if matches!(vendor, Some("KubeVirt")) {
        add("KubeVirt", &mut found);
    }
    if matches!(vendor, Some("Microsoft Corporation")) {
        add("VirtualPC", &mut found);
    }
    if matches!(vendor, Some("Parallels Software International Inc.")) {
        add("parallels", &mut found);
    }
    if matches!(vendor, Some("OpenStack Foundation")) {
        add("openstack", &mut found);
    }
    let (ty, role) = found.unwrap_or_else(|| ("NA".into(), "NA"));
    f.insert("virtualization_type".into(), s(&ty));
    f.insert("virtualization_role".into(), s(role));
    guest.sort();
    host.sort();
    f.insert("virtualization_tech_guest".into(), json!(guest));
    f.insert("virtualization_tech_host".into(), json!(host));
}

#[cfg(test)]
mod tests {
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
        let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
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
                .collect::<Vec<_>>()
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
