//! Ansible's `gather_subset` and `filter`: which collectors run, which facts are kept.

use std::collections::BTreeSet;

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
    pub(super) given: Vec<String>,
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
    #[cfg(test)]
    fn collectors(&self) -> Vec<&'static str> {
        self.collectors.iter().copied().collect()
    }

    /// `keep` for the names Ansible does not prefix (`gather_subset`, `module_setup`).
    pub(super) fn keep_bare(&self, name: &str) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
