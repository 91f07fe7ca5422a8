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

mod clock;
mod hw;
mod names;
mod net;
#[cfg(test)]
mod parse_tests;
mod raw;
mod snippet;
mod subset;
mod sys;

pub(crate) use clock::date_time;
use hw::{hardware, virtual_facts};
pub(crate) use names::{all_injected, from_module, is_connection, is_fact, known, not_gathered};
use raw::s;
pub(crate) use raw::split;
use serde_json::{Map, Value, json};
pub(crate) use snippet::snippet;
pub(crate) use subset::Subset;
use sys::{SSH_KEYS, distribution, lsb, pkg_mgr, platform, selinux, service_mgr, user};
pub(crate) use sys::{cmdline, dns};

/// The facts as Ansible also injects them as variables (`INJECT_FACTS_AS_VARS`):
/// `ansible_NAME` for each fact but the metadata ones.
pub(crate) fn injected(facts: &Map<String, Value>) -> Map<String, Value> {
    facts
        .iter()
        .filter(|(k, _)| *k != "gather_subset" && *k != "module_setup")
        .map(|(k, v)| (names::injected_name(k), v.clone()))
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
