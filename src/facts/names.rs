//! The names the host's facts may define, known before any host is contacted: validation
//! lets a template that reads one wait for the host, and calls any other `ansible_*` name an
//! undefined variable (a typo such as `ansible_distrbution`), as the host would.

/// Every fact plumb gathers, as named in `ansible_facts` (without `ansible_`); interfaces
/// are named after the host's own (`eth0`, see [`is_interface`]).
const GATHERED: &[&str] = &[
    "all_ipv4_addresses",
    "all_ipv6_addresses",
    "apparmor",
    "architecture",
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
    "cmdline",
    "date_time",
    "default_ipv4",
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
    "env",
    "fibre_channel_wwn",
    "fips",
    "form_factor",
    "fqdn",
    "gather_subset",
    "hostname",
    "hostnqn",
    "interfaces",
    "is_chroot",
    "iscsi_iqn",
    "kernel",
    "kernel_version",
    "loadavg",
    "local",
    "locally_reachable_ips",
    "lsb",
    "machine",
    "machine_id",
    "memfree_mb",
    "memory_mb",
    "memtotal_mb",
    "module_setup",
    "mounts",
    "nodename",
    "os_family",
    "pkg_mgr",
    "proc_cmdline",
    "processor",
    "processor_cores",
    "processor_count",
    "processor_nproc",
    "processor_threads_per_core",
    "processor_vcpus",
    "product_name",
    "product_serial",
    "product_uuid",
    "product_version",
    "real_group_id",
    "real_user_id",
    "selinux",
    "service_mgr",
    "ssh_host_key_dsa_public",
    "ssh_host_key_dsa_public_keytype",
    "ssh_host_key_ecdsa_public",
    "ssh_host_key_ecdsa_public_keytype",
    "ssh_host_key_ed25519_public",
    "ssh_host_key_ed25519_public_keytype",
    "ssh_host_key_rsa_public",
    "ssh_host_key_rsa_public_keytype",
    "swapfree_mb",
    "swaptotal_mb",
    "system",
    "system_vendor",
    "uptime_seconds",
    "user_dir",
    "user_gecos",
    "user_gid",
    "user_id",
    "user_shell",
    "user_uid",
    "userspace_architecture",
    "userspace_bits",
    "virtualization_role",
    "virtualization_tech_guest",
    "virtualization_tech_host",
    "virtualization_type",
];

/// Facts that modules return (`service_facts`, `package_facts`). Ansible injects them as
/// variables under the names the module gave, without `ansible_` (`services`, not
/// `ansible_services`), as roles read them.
pub(crate) const FROM_MODULES: &[&str] = &["services", "packages"];

/// Facts Ansible's `setup` gathers that plumb does not (they need Python or a command).
const NOT_GATHERED: &[&str] = &[
    "device_links",
    "devices",
    "discovered_interpreter_python",
    "flags",
    "lvm",
    "python",
    "python_version",
    "selinux_python_present",
    "system_capabilities",
    "system_capabilities_enforced",
    "systemd",
];

/// Connection variables: set in the inventory or not at all, and read by the connection.
const CONNECTION: &[&str] = &[
    "ansible_become",
    "ansible_become_exe",
    "ansible_become_flags",
    "ansible_become_method",
    "ansible_become_pass",
    "ansible_become_password",
    "ansible_become_user",
    "ansible_connection",
    "ansible_host",
    "ansible_network_os",
    "ansible_password",
    "ansible_pipelining",
    "ansible_port",
    "ansible_private_key_file",
    "ansible_remote_tmp",
    "ansible_scp_extra_args",
    "ansible_sftp_extra_args",
    "ansible_shell_executable",
    "ansible_shell_type",
    "ansible_ssh_args",
    "ansible_ssh_common_args",
    "ansible_ssh_executable",
    "ansible_ssh_extra_args",
    "ansible_ssh_host",
    "ansible_ssh_pass",
    "ansible_ssh_pipelining",
    "ansible_ssh_port",
    "ansible_ssh_private_key_file",
    "ansible_ssh_retries",
    "ansible_ssh_timeout",
    "ansible_ssh_user",
    "ansible_timeout",
    "ansible_user",
];

/// Whether `bare` (a name in `ansible_facts`) is a fact a host may have: gathered, returned
/// by a module, or an interface's.
pub(crate) fn is_fact(bare: &str) -> bool {
    GATHERED.contains(&bare) || FROM_MODULES.contains(&bare) || is_interface(bare)
}

/// Whether `name` is a connection variable (`ansible_user`, `ansible_python_interpreter`).
pub(crate) fn is_connection(name: &str) -> bool {
    CONNECTION.contains(&name) || (name.starts_with("ansible_") && name.ends_with("_interpreter"))
}

/// Why `bare` is no fact plumb has, when Ansible's `setup` would gather it.
pub(crate) fn not_gathered(bare: &str) -> bool {
    NOT_GATHERED.contains(&bare)
}

/// Every fact by name (in `ansible_facts`) but the interfaces', for "did you mean" hints.
pub(crate) fn known() -> impl Iterator<Item = &'static str> {
    GATHERED.iter().chain(FROM_MODULES).copied()
}

/// The variables the facts a module returns become (`services` after `service_facts`),
/// defined for the tasks after it. `module` is the canonical name.
pub(crate) fn from_module(module: &str) -> &'static [&'static str] {
    match module {
        "service_facts" => &FROM_MODULES[..1],
        "package_facts" => &FROM_MODULES[1..],
        _ => &[],
    }
}

/// The variable a fact named `bare` in `ansible_facts` is injected as.
pub(crate) fn injected_name(bare: &str) -> String {
    match FROM_MODULES.contains(&bare) {
        true => bare.to_string(),
        false => format!("ansible_{bare}"),
    }
}

/// Every `ansible_*` name facts or the connection may define, for "did you mean" hints.
pub(crate) fn all_injected() -> impl Iterator<Item = String> {
    known()
        .filter(|n| !matches!(*n, "gather_subset" | "module_setup"))
        .map(injected_name)
        .chain(CONNECTION.iter().map(|n| n.to_string()))
}

/// Facts about one network interface are named after it, as Ansible names them (`-`, `.`
/// and `:` become `_`): `eth0`, `ens3`, `enp0s3`, `wlp2s0`, `docker0`, `br_1a2b`, `lo` ...
/// No list can hold a host's interfaces: a name with a usual interface prefix and then a
/// number or `_` is taken for one.
pub(crate) fn is_interface(bare: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "bond",
        "br",
        "cali",
        "cilium",
        "cni",
        "docker",
        "dummy",
        "em",
        "en",
        "eno",
        "enp",
        "ens",
        "enx",
        "eth",
        "flannel",
        "gre",
        "host",
        "ib",
        "ifb",
        "ip6",
        "ipvlan",
        "kube",
        "lxc",
        "lxdbr",
        "macvlan",
        "nm",
        "ovs",
        "p",
        "pf",
        "ppp",
        "sit",
        "tailscale",
        "tap",
        "team",
        "tun",
        "usb",
        "veth",
        "virbr",
        "vlan",
        "vmbr",
        "vnet",
        "vxlan",
        "wg",
        "wl",
        "wlan",
        "wlp",
        "wls",
        "ww",
        "zt",
    ];
    if bare == "lo" || !bare.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return bare == "lo";
    }
    PREFIXES.iter().any(|p| {
        bare.strip_prefix(p).is_some_and(|rest| {
            rest.starts_with(|c: char| c.is_ascii_digit() || c == '_')
                || (matches!(*p, "veth" | "cali" | "lxc" | "tap" | "enx") && !rest.is_empty())
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn every_fact_gathered_here_and_by_ansible_is_known() {
        let h72 = include_str!("../../tests/fixtures/facts/h72.txt");
        let ours = crate::facts::parse(h72, &crate::facts::Subset::all()).unwrap();
        for k in ours.keys() {
            assert!(is_fact(k), "{k}");
        }
        let theirs: Value =
            serde_json::from_str(include_str!("../../tests/fixtures/facts/ansible_h72.json"))
                .unwrap();
        for k in theirs.as_object().unwrap().keys() {
            let bare = k.strip_prefix("ansible_").unwrap_or(k);
            assert!(is_fact(bare) || not_gathered(bare), "{k}");
        }
    }

    #[test]
    fn interfaces_and_typos() {
        for name in [
            "eth0",
            "ens3",
            "enp0s31f6",
            "wlp2s0",
            "docker0",
            "br_1a2b3c",
            "lo",
            "host0",
            "vethab12cd",
            "wg0",
            "bond0_100",
        ] {
            assert!(is_interface(name), "{name}");
        }
        for name in [
            "distrbution",
            "hostnmae",
            "ethernet",
            "lonely",
            "processor_vpus",
            "os_familly",
        ] {
            assert!(!is_fact(name), "{name}");
        }
        assert!(is_connection("ansible_python_interpreter"));
        assert!(is_connection("ansible_user"));
        assert!(!is_connection("ansible_usr"));
    }
}
