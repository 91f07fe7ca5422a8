//! Hardware and virtualization facts: memory, processors, mounts, DMI, uptime, and what the
//! host runs in.

use super::raw::{Raw, s};
use serde_json::{Map, Value, json};

/// DMI facts and their sysfs files.
pub(crate) const DMI: &[(&str, &str)] = &[
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
pub(crate) fn dmi(raw: &Raw, f: &mut Map<String, Value>) {
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

pub(crate) fn hardware(raw: &Raw, arch: &str, f: &mut Map<String, Value>) -> Result<(), String> {
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
pub(crate) fn cpu_list_len(list: &str) -> usize {
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
pub(crate) fn cpu_facts(
    lines: &[&str],
    arch: &str,
    nproc: Option<usize>,
    f: &mut Map<String, Value>,
) {
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
pub(crate) fn mounts(mountinfo: &[&str], proc_mounts: &[&str]) -> Value {
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

pub(crate) fn virtual_facts(raw: &Raw, f: &mut Map<String, Value>) {
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
