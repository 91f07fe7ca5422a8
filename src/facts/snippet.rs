//! The sh snippet that gathers a [`Subset`] in the batched probe's exec.

use super::hw::DMI;
use super::net;
use super::subset::Subset;
use super::sys::{PKG_MGRS, SSH_KEYS};

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
    if subset.has("user") || subset.has("hardware") {
        // Uid/Gid (and the CPUs allowed) of grep, the same as the shell's: a builtin `read`
        // loop over the file costs dash a system call per byte.
        v.push("/proc/self/status");
    }
    if subset.has("user") {
        // The login name's and the uid's lines are picked out by the parser.
        v.push("/etc/passwd");
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
/// changes directory, leaves no `plumb_f*` variable behind (they are unset at its end), and tolerates
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
            "if [ -r /proc/1/environ ]; then plumb_fl=; IFS= read -r plumb_fl 2>/dev/null </proc/1/environ || :; \
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
    if subset.has("date_time") {
        s.push_str("date '+@@date %s %N %z %Z' 2>/dev/null || :\n");
    }
    if subset.has("env") {
        s.push_str("printf '@@env\\n'; export -p\n");
    }
    s.push_str("printf '@@end\\n'; unset plumb_fp plumb_fl\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::parse;

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

    /// Runs `script` with its stderr in its output, as the batched probe does.
    fn sh(script: &str) -> String {
        use crate::transport::Transport;
        crate::transport::local::Local::new()
            .run(&format!("{{ {script}\n}} 2>&1"), None)
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
            "plumb_fp=keep\n{}echo \"[$plumb_fp][${{plumb_fl-unset}}]\"\n",
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
}
