//! Ansible's magic variables that come from the run rather than from a host: `groups`,
//! `ansible_play_hosts`, `ansible_play_batch`, `ansible_check_mode`, `ansible_version` ...
//! (`inventory_hostname` and the others of one host are set in `host_vars.rs`; `hostvars` is
//! in `hostvars.rs`; `ansible_managed` and `omit` are the template engine's).

use crate::inventory::{Host, Inventory};
use crate::options::Options;
use serde_json::{Map, Value, json};

/// Ansible's magic variables plumb does not set (README: "Variables, facts and magic
/// variables"): read unguarded, they are undefined, and validation says why.
pub(crate) const NOT_SET: &[&str] = &[
    "ansible_collection_name",
    "ansible_config_file",
    "ansible_dependent_role_names",
    "ansible_inventory_sources",
    "ansible_parent_role_names",
    "ansible_parent_role_paths",
    "ansible_play_name",
    "ansible_play_role_names",
    "ansible_playbook_python",
    "ansible_role_name",
    "ansible_role_names",
    "ansible_search_path",
    "ansible_verbosity",
];

/// The ansible-core version plumb follows: its templates, filters, facts and variables.
const ANSIBLE_VERSION: (u64, u64, u64) = (2, 19, 0);

/// `ansible_version` as Ansible sets it.
fn ansible_version() -> Value {
    let (major, minor, revision) = ANSIBLE_VERSION;
    let full = format!("{major}.{minor}.{revision}");
    json!({"full": full, "major": major, "minor": minor, "revision": revision, "string": full})
}

/// The run-wide magic variables of one play and one batch of its hosts: those each host's
/// variables hold, and the host lists, which are shared (see `play_lists.rs`).
pub(crate) fn play_magic(
    inv: &Inventory,
    opts: &Options,
    play_hosts: &[&Host],
    batch: &[&Host],
) -> (Map<String, Value>, Map<String, Value>) {
    let names = |hs: &[&Host]| json!(hs.iter().map(|h| h.name.as_str()).collect::<Vec<_>>());
    let mut lists = Map::new();
    lists.insert("groups".into(), groups(inv));
    lists.insert("play_hosts".into(), names(batch));
    lists.insert("ansible_play_hosts".into(), names(play_hosts));
    lists.insert("ansible_play_hosts_all".into(), names(play_hosts));
    lists.insert("ansible_play_batch".into(), names(batch));
    let mut m = Map::new();
    m.insert("ansible_check_mode".into(), json!(opts.check));
    m.insert("ansible_diff_mode".into(), json!(opts.diff));
    m.insert("ansible_version".into(), ansible_version());
    let tags = if opts.tags.only.is_empty() {
        vec!["all".to_string()]
    } else {
        opts.tags.only.clone()
    };
    m.insert("ansible_run_tags".into(), json!(tags));
    m.insert("ansible_skip_tags".into(), json!(opts.tags.skip));
    if let Some(limit) = &opts.limit {
        m.insert("ansible_limit".into(), json!(limit));
    }
    m.extend(inventory_paths(inv));
    (m, lists)
}

/// `inventory_file` and `inventory_dir`: the inventory's file, absolute, as Ansible gives it
/// (an inline list of hosts has none).
fn inventory_paths(inv: &Inventory) -> Map<String, Value> {
    let mut m = Map::new();
    let source = std::path::Path::new(&inv.source);
    if source.exists() {
        let abs = std::fs::canonicalize(source).unwrap_or_else(|_| source.to_path_buf());
        m.insert("inventory_file".into(), json!(abs.display().to_string()));
        let dir = if abs.is_dir() {
            abs.clone()
        } else {
            abs.parent().map(|p| p.to_path_buf()).unwrap_or_default()
        };
        m.insert("inventory_dir".into(), json!(dir.display().to_string()));
    }
    m
}

/// `groups`: every group's hosts (children's included), `all` and `ungrouped` too.
fn groups(inv: &Inventory) -> Value {
    let mut g = Map::new();
    let all: Vec<&str> = inv.hosts.iter().map(|h| h.name.as_str()).collect();
    g.insert("all".into(), json!(all));
    for name in inv.group_names() {
        if let Ok(hosts) = inv.select(name) {
            let hs: Vec<&str> = hosts.iter().map(|h| h.name.as_str()).collect();
            g.insert(name.to_string(), json!(hs));
        }
    }
    let grouped: Vec<&str> = inv
        .hosts
        .iter()
        .filter(|h| h.groups.iter().all(|g| g == "all" || g == "ungrouped"))
        .map(|h| h.name.as_str())
        .collect();
    g.entry("ungrouped").or_insert_with(|| json!(grouped));
    Value::Object(g)
}

/// Each host's first entry in `hostvars`: its inventory variables, and over them its magic
/// variables (its own, `ansible_version`, the inventory's paths; `groups`, kept once for all
/// of them) and `-e`.
pub(crate) fn install_hostvars(inv: &Inventory, extra: &Map<String, Value>) {
    let mut run = inventory_paths(inv);
    run.insert("ansible_version".into(), ansible_version());
    let table = inv
        .hosts
        .iter()
        .map(|h| {
            let mut top = run.clone();
            top.extend(host_magic(h));
            top.extend(extra.clone());
            (h.name.clone(), (h.vars.clone(), top))
        })
        .collect();
    crate::hostvars::install(table, groups(inv));
}

/// The magic variables of one host.
pub(crate) fn host_magic(host: &Host) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("inventory_hostname".into(), json!(host.name));
    let short = host.name.split('.').next().unwrap_or(&host.name);
    m.insert("inventory_hostname_short".into(), json!(short));
    // Sorted, as Ansible gives them.
    let mut groups = host.groups.clone();
    groups.sort();
    m.insert("group_names".into(), json!(groups));
    m
}
