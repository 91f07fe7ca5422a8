//! System facts: platform, distribution, lsb, dns, selinux, cmdline, service and package
//! managers, the user, the clock.

use super::raw::{Raw, s};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// Ansible's package manager table (path, name), in its order: the last one present wins.
pub(crate) const PKG_MGRS: &[(&str, &str)] = &[
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

pub(crate) fn platform(raw: &Raw, f: &mut Map<String, Value>) -> Result<(), String> {
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

pub(crate) fn userspace_bits(machine: &str) -> &'static str {
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
pub(crate) fn fqdn(hostname: &str, hosts: &[&str]) -> String {
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
pub(crate) fn kv(lines: &[&str]) -> BTreeMap<String, String> {
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
pub(crate) fn os_family(distribution: &str) -> String {
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

pub(crate) fn distribution(raw: &Raw, f: &mut Map<String, Value>) -> Result<(), String> {
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
pub(crate) fn lsb(raw: &Raw) -> Value {
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
pub(crate) fn dns(lines: &[&str]) -> Value {
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

pub(crate) fn selinux(raw: &Raw) -> Value {
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
pub(crate) fn cmdline(line: &str) -> (Value, Value) {
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

pub(crate) fn service_mgr(raw: &Raw) -> String {
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

pub(crate) fn pkg_mgr(raw: &Raw, family: &str) -> String {
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

pub(crate) fn user(raw: &Raw, f: &mut Map<String, Value>) -> Result<(), String> {
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

pub(crate) const SSH_KEYS: &[(&str, &str)] = &[
    ("/etc/ssh/ssh_host_dsa_key.pub", "dsa"),
    ("/etc/ssh/ssh_host_rsa_key.pub", "rsa"),
    ("/etc/ssh/ssh_host_ecdsa_key.pub", "ecdsa"),
    ("/etc/ssh/ssh_host_ed25519_key.pub", "ed25519"),
];
