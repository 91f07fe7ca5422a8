//! The parsers of `sys.rs`, `hw.rs` and `clock.rs` on hand-written inputs.

use super::clock::*;
use super::hw::*;
use super::sys::*;
use super::*;

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
