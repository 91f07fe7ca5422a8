//! Network facts from the kernel's files (no `ip`): IPv4 addresses from `/proc/net/fib_trie`
//! (the `/32 host LOCAL` entries), their interface and prefix from the connected routes of
//! `/proc/net/route` and the trie, IPv6 addresses from `/proc/net/if_inet6`, default routes from
//! `/proc/net/route` and `/proc/net/ipv6_route`, link facts from `/sys/class/net/IFACE/*`.
//!
//! Differences from Ansible (which parses `ip addr`): `broadcast` is always "" (the kernel keeps a
//! broadcast route whether or not the address carries one, so the files cannot tell); interfaces
//! are listed by ifindex; secondary IPv4 addresses are ordered numerically; no `ethtool` features,
//! `pciid`, `module` or `locally_reachable_ips`.

use super::raw::Raw;
use serde_json::{Map, Value, json};
use std::net::{Ipv4Addr, Ipv6Addr};

/// The files (and globs) the facts grep reads for the network subset.
pub(super) const FILES: [&str; 9] = [
    "/proc/net/route",
    "/proc/net/ipv6_route",
    "/proc/net/if_inet6",
    "/sys/class/net/*/address",
    "/sys/class/net/*/mtu",
    "/sys/class/net/*/type",
    "/sys/class/net/*/flags",
    "/sys/class/net/*/ifindex",
    "/sys/class/net/*/speed",
];

/// Paths whose existence the network facts need (bridges and bonds).
pub(super) const EXISTS: [&str; 2] = ["/sys/class/net/*/bridge", "/sys/class/net/*/bonding"];

#[derive(Debug, Default, Clone)]
struct Link {
    name: String,
    ifindex: Option<u64>,
    mac: Option<String>,
    mtu: Option<i64>,
    kind: Option<i64>,
    flags: Option<u64>,
    speed: Option<i64>,
}

/// An IPv4 route: interface, destination, gateway, mask, flags, metric.
#[derive(Debug, Clone)]
struct Route4 {
    iface: String,
    dest: u32,
    gateway: u32,
    mask: u32,
    flags: u32,
    metric: u32,
}

fn hex32(s: &str, big_endian: bool) -> Option<u32> {
    let v = u32::from_str_radix(s, 16).ok()?;
    // The kernel prints the address as a host-order integer.
    Some(if big_endian { v } else { v.swap_bytes() })
}

fn big_endian(arch: &str) -> bool {
    matches!(
        arch,
        "s390x" | "s390" | "ppc64" | "ppc" | "sparc64" | "sparc" | "mips" | "mips64" | "m68k"
    )
}

fn routes4(lines: &[&str], be: bool) -> Vec<Route4> {
    lines
        .iter()
        .skip(1)
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            if w.len() < 8 {
                return None;
            }
            // `*` is an unreachable route (RTF_REJECT): no interface, no address.
            if w[0] == "*" {
                return None;
            }
            Some(Route4 {
                iface: w[0].to_string(),
                dest: hex32(w[1], be)?,
                gateway: hex32(w[2], be)?,
                flags: u32::from_str_radix(w[3], 16).ok()?,
                metric: w[6].parse().ok()?,
                mask: hex32(w[7], be)?,
            })
        })
        .collect()
}

/// From `/proc/net/fib_trie`: the local addresses (`/32 host LOCAL`), the prefixes of the
/// connected subnets (`/N link UNICAST`, `/N host LOCAL` with N < 32), and every `host LOCAL`
/// entry (Ansible's `locally_reachable_ips`), each deduplicated.
type Trie = (Vec<u32>, Vec<(u32, u32)>, Vec<(u32, u32)>);

fn fib_trie(lines: &[&str]) -> Trie {
    let mut locals: Vec<u32> = Vec::new();
    let mut nets: Vec<(u32, u32)> = Vec::new();
    let mut reachable: Vec<(u32, u32)> = Vec::new();
    let mut current: Option<u32> = None;
    for line in lines {
        let t = line.trim_start();
        if let Some(a) = t.strip_prefix("|-- ") {
            current = a.trim().parse::<Ipv4Addr>().ok().map(u32::from);
            continue;
        }
        if t.starts_with("+-- ") {
            current = None;
            continue;
        }
        let (Some(addr), Some(rest)) = (current, t.strip_prefix('/')) else {
            continue;
        };
        let w: Vec<&str> = rest.split_whitespace().collect();
        let Some(len) = w.first().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let (scope, kind) = (w.get(1).copied(), w.get(2).copied());
        if scope == Some("host") && kind == Some("LOCAL") && !reachable.contains(&(addr, len)) {
            reachable.push((addr, len));
        }
        if len == 32 && scope == Some("host") && kind == Some("LOCAL") {
            if !locals.contains(&addr) {
                locals.push(addr);
            }
        } else if len < 32
            && len > 0
            && ((scope == Some("link") && kind == Some("UNICAST"))
                || (scope == Some("host") && kind == Some("LOCAL")))
            && !nets.contains(&(addr, len))
        {
            nets.push((addr, len));
        }
    }
    locals.sort_unstable();
    reachable.sort_unstable();
    (locals, nets, reachable)
}

fn mask_of(len: u32) -> u32 {
    if len == 0 { 0 } else { u32::MAX << (32 - len) }
}

fn ip4(v: u32) -> String {
    Ipv4Addr::from(v).to_string()
}

struct Addr6 {
    address: String,
    iface: String,
    prefix: u32,
    scope: &'static str,
}

fn if_inet6(lines: &[&str]) -> Vec<Addr6> {
    lines
        .iter()
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            if w.len() < 6 || w[0].len() != 32 {
                return None;
            }
            let a = Ipv6Addr::from(u128::from_str_radix(w[0], 16).ok()?);
            let scope = match u32::from_str_radix(w[3], 16).ok()? & 0xf0 {
                0x00 => "global",
                0x10 => "host",
                0x20 => "link",
                0x40 => "site",
                _ => "global",
            };
            Some(Addr6 {
                address: a.to_string(),
                iface: w[5].to_string(),
                prefix: u32::from_str_radix(w[2], 16).ok()?,
                scope,
            })
        })
        .collect()
}

fn link_type(l: &Link, raw: &Raw) -> String {
    if raw.exists(&format!("/sys/class/net/{}/bridge", l.name)) {
        return "bridge".into();
    }
    if raw.exists(&format!("/sys/class/net/{}/bonding", l.name)) {
        return "bonding".into();
    }
    match l.kind {
        Some(1) => "ether",
        Some(772) => "loopback",
        Some(65534) => "none",
        Some(768) => "ipip",
        Some(776) => "sit",
        Some(778) => "gre",
        Some(823) => "gre6",
        Some(512) => "ppp",
        Some(32) => "infiniband",
        Some(280) => "can",
        _ => "unknown",
    }
    .into()
}

/// The network facts: `interfaces`, `all_ipv4_addresses`, `all_ipv6_addresses`,
/// `default_ipv4`, `default_ipv6` and one `IFACE` fact per interface.
pub(crate) fn network(raw: &Raw, arch: &str, f: &mut Map<String, Value>) -> Result<(), String> {
    let be = big_endian(arch);
    // Links, from /sys/class/net.
    let mut links: Vec<Link> = Vec::new();
    for (path, lines) in &raw.files {
        let Some(rest) = path.strip_prefix("/sys/class/net/") else {
            continue;
        };
        let Some((name, attr)) = rest.split_once('/') else {
            continue;
        };
        let v = lines.first().map(|v| v.trim()).unwrap_or("");
        let l = match links.iter_mut().position(|l| l.name == name) {
            Some(i) => &mut links[i],
            None => {
                links.push(Link {
                    name: name.to_string(),
                    ..Link::default()
                });
                links.last_mut().expect("just pushed")
            }
        };
        match attr {
            "address" => l.mac = Some(v.to_string()),
            "mtu" => l.mtu = v.parse().ok(),
            "type" => l.kind = v.parse().ok(),
            "flags" => l.flags = u64::from_str_radix(v.trim_start_matches("0x"), 16).ok(),
            "ifindex" => l.ifindex = v.parse().ok(),
            "speed" => l.speed = v.parse().ok(),
            _ => {}
        }
    }
    let route_lines = raw.lines("/proc/net/route");
    if route_lines.is_empty() {
        return Err("facts: no output for /proc/net/route".into());
    }
    let routes = routes4(route_lines, be);
    let v6 = if_inet6(raw.lines("/proc/net/if_inet6"));
    // Without /sys/class/net (some containers), the interfaces the routes and addresses name.
    let named = routes
        .iter()
        .map(|r| r.iface.as_str())
        .chain(v6.iter().map(|a| a.iface.as_str()));
    for name in named {
        if !links.iter().any(|l| l.name == name) {
            links.push(Link {
                name: name.to_string(),
                ..Link::default()
            });
        }
    }
    links.sort_by_key(|l| (l.ifindex.unwrap_or(u64::MAX), l.name.clone()));
    let (locals, nets, reachable) = fib_trie(raw.lines("/proc/net/fib_trie"));
    let default4 = routes
        .iter()
        .filter(|r| r.dest == 0 && r.mask == 0 && r.flags & 0x201 == 1)
        .min_by_key(|r| r.metric);
    // Each local address: its interface and prefix.
    let mut v4: Vec<(u32, String, u32)> = Vec::new();
    for a in &locals {
        let connected = routes
            .iter()
            .filter(|r| r.flags & 0x202 == 0 && r.mask != 0 && a & r.mask == r.dest)
            .max_by_key(|r| r.mask.count_ones());
        let trie_len = nets
            .iter()
            .filter(|(n, len)| a & mask_of(*len) == *n)
            .map(|(_, len)| *len)
            .max();
        let (iface, len) = match connected {
            Some(r) => (r.iface.clone(), r.mask.count_ones()),
            None if a >> 24 == 127 => ("lo".to_string(), trie_len.unwrap_or(8)),
            // A /32 with no subnet (a cloud host's `onlink` default route): the default
            // route's interface.
            None => match default4 {
                Some(r) => (r.iface.clone(), 32),
                None => continue,
            },
        };
        v4.push((*a, iface, len));
    }
    for (_, name, _) in &v4 {
        if !links.iter().any(|l| l.name == *name) {
            links.push(Link {
                name: name.clone(),
                ..Link::default()
            });
        }
    }
    links.sort_by_key(|l| (l.ifindex.unwrap_or(u64::MAX), l.name.clone()));
    let ipv4_of = |a: u32, len: u32| {
        let mask = mask_of(len);
        json!({
            "address": ip4(a),
            "broadcast": "",
            "netmask": ip4(mask),
            "network": ip4(a & mask),
            "prefix": len.to_string(),
        })
    };
    let mut names = Vec::new();
    let mut all4 = Vec::new();
    let mut all6 = Vec::new();
    for l in &links {
        names.push(Value::String(l.name.clone()));
        let mut m = Map::new();
        m.insert("device".into(), json!(l.name));
        m.insert(
            "active".into(),
            json!(l.flags.is_some_and(|fl| fl & 0x1 != 0)),
        );
        m.insert(
            "promisc".into(),
            json!(l.flags.is_some_and(|fl| fl & 0x100 != 0)),
        );
        m.insert("type".into(), json!(link_type(l, raw)));
        if let Some(mtu) = l.mtu {
            m.insert("mtu".into(), json!(mtu));
        }
        if let Some(mac) = l
            .mac
            .as_deref()
            .filter(|m| !m.is_empty() && *m != "00:00:00:00:00:00")
        {
            m.insert("macaddress".into(), json!(mac));
        }
        if let Some(sp) = l.speed.filter(|s| *s >= 0) {
            m.insert("speed".into(), json!(sp));
        }
        let mine: Vec<&(u32, String, u32)> = v4.iter().filter(|(_, i, _)| *i == l.name).collect();
        for (k, (a, _, len)) in mine.iter().enumerate() {
            if a >> 24 != 127 {
                all4.push(json!(ip4(*a)));
            }
            if k == 0 {
                m.insert("ipv4".into(), ipv4_of(*a, *len));
            } else {
                let e = m.entry("ipv4_secondaries").or_insert_with(|| json!([]));
                if let Value::Array(v) = e {
                    v.push(ipv4_of(*a, *len));
                }
            }
        }
        let mut six = Vec::new();
        for a in v6.iter().filter(|a| a.iface == l.name) {
            if a.address != "::1" {
                all6.push(json!(a.address));
            }
            six.push(
                json!({"address": a.address, "prefix": a.prefix.to_string(), "scope": a.scope}),
            );
        }
        if !six.is_empty() {
            m.insert("ipv6".into(), Value::Array(six));
        }
        let key = l.name.replace([':', '-'], "_");
        f.insert(key, Value::Object(m));
    }
    f.insert("interfaces".into(), Value::Array(names));
    let mut local6: Vec<Ipv6Addr> = v6.iter().filter_map(|a| a.address.parse().ok()).collect();
    local6.sort_unstable();
    local6.dedup();
    f.insert(
        "locally_reachable_ips".into(),
        json!({
            "ipv4": reachable
                .iter()
                .map(|(a, len)| if *len == 32 { ip4(*a) } else { format!("{}/{len}", ip4(*a)) })
                .collect::<Vec<_>>(),
            "ipv6": local6.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
        }),
    );
    f.insert("all_ipv4_addresses".into(), Value::Array(all4));
    f.insert("all_ipv6_addresses".into(), Value::Array(all6));
    let link_of = |name: &str| links.iter().find(|l| l.name == name);
    let add_link = |m: &mut Map<String, Value>, name: &str| {
        if let Some(l) = link_of(name) {
            if let Some(mac) = l
                .mac
                .as_deref()
                .filter(|m| !m.is_empty() && *m != "00:00:00:00:00:00")
            {
                m.insert("macaddress".into(), json!(mac));
            }
            if let Some(mtu) = l.mtu {
                m.insert("mtu".into(), json!(mtu));
            }
            m.insert("type".into(), json!(link_type(l, raw)));
        }
    };
    // Default IPv4: the default route with the lowest metric.
    let mut d4 = Map::new();
    if let Some(r) = default4 {
        d4.insert("gateway".into(), json!(ip4(r.gateway)));
        d4.insert("interface".into(), json!(r.iface));
        d4.insert("alias".into(), json!(r.iface));
        if let Some((a, _, len)) = v4.iter().find(|(_, i, _)| *i == r.iface)
            && let Value::Object(o) = ipv4_of(*a, *len)
        {
            d4.extend(o);
        }
        add_link(&mut d4, &r.iface);
    }
    f.insert("default_ipv4".into(), Value::Object(d4));
    // Default IPv6: the default route (not a reject route) with the lowest metric.
    let mut d6 = Map::new();
    let best6 = raw
        .lines("/proc/net/ipv6_route")
        .iter()
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            if w.len() < 10 || w[0] != "0".repeat(32) || w[1] != "00" {
                return None;
            }
            let flags = u32::from_str_radix(w[8], 16).ok()?;
            if flags & 1 == 0 || flags & 0x200 != 0 || w[9] == "lo" {
                return None;
            }
            let metric = u32::from_str_radix(w[5], 16).ok()?;
            let gw = Ipv6Addr::from(u128::from_str_radix(w[4], 16).ok()?);
            Some((metric, gw, w[9].to_string()))
        })
        .min_by_key(|(m, _, _)| *m);
    if let Some((_, gw, iface)) = best6 {
        if !gw.is_unspecified() {
            d6.insert("gateway".into(), json!(gw.to_string()));
        }
        d6.insert("interface".into(), json!(iface));
        if let Some(a) = v6
            .iter()
            .find(|a| a.iface == iface && a.scope == "global")
            .or_else(|| v6.iter().find(|a| a.iface == iface))
        {
            d6.insert("address".into(), json!(a.address));
            d6.insert("prefix".into(), json!(a.prefix.to_string()));
            d6.insert("scope".into(), json!(a.scope));
        }
        add_link(&mut d6, &iface);
    }
    f.insert("default_ipv6".into(), Value::Object(d6));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_hex_is_host_order() {
        assert_eq!(
            hex32("0148E70A", false),
            Some(u32::from(Ipv4Addr::new(10, 231, 72, 1)))
        );
        assert_eq!(
            hex32("0AE74801", true),
            Some(u32::from(Ipv4Addr::new(10, 231, 72, 1)))
        );
    }

    #[test]
    fn fib_trie_locals_and_subnets() {
        let t = [
            "Local:",
            "  +-- 0.0.0.0/0 3 0 5",
            "     |-- 0.0.0.0",
            "        /0 universe UNICAST",
            "     +-- 192.168.1.0/24 2 0 2",
            "        |-- 192.168.1.0",
            "           /24 link UNICAST",
            "        |-- 192.168.1.20",
            "           /32 host LOCAL",
            "           /24 link UNICAST",
            "     |-- 127.0.0.0",
            "        /8 host LOCAL",
            "     |-- 127.0.0.1",
            "        /32 host LOCAL",
        ];
        let (locals, nets, reachable) = fib_trie(&t);
        assert_eq!(
            reachable,
            [
                (u32::from(Ipv4Addr::new(127, 0, 0, 0)), 8),
                (u32::from(Ipv4Addr::new(127, 0, 0, 1)), 32),
                (u32::from(Ipv4Addr::new(192, 168, 1, 20)), 32),
            ]
        );
        assert_eq!(
            locals.iter().map(|a| ip4(*a)).collect::<Vec<_>>(),
            ["127.0.0.1", "192.168.1.20"]
        );
        assert!(nets.contains(&(u32::from(Ipv4Addr::new(192, 168, 1, 0)), 24)));
        assert!(nets.contains(&(u32::from(Ipv4Addr::new(127, 0, 0, 0)), 8)));
    }

    /// Recorded on plumb's control machine: a reject route (`*`), interfaces down (ifb0/1), a
    /// name with `-`, an IPv6 default route, a speed of -1.
    #[test]
    fn network_of_a_recorded_host() {
        let out = include_str!("../../tests/fixtures/facts/net-control.txt");
        let raw = crate::facts::split(out).unwrap();
        let mut f = Map::new();
        network(&raw, "x86_64", &mut f).unwrap();
        assert_eq!(
            f["interfaces"],
            json!(["lo", "ifb0", "ifb1", "eth0", "pf-ctl"])
        );
        assert_eq!(f["all_ipv4_addresses"], json!(["192.0.2.2", "10.232.0.1"]));
        assert_eq!(
            f["all_ipv6_addresses"],
            json!(["fd00::2", "fe80::fc:ff:fe00:1", "fe80::9826:f9ff:fe1a:37ca"])
        );
        assert_eq!(
            f["default_ipv4"],
            json!({"address": "192.0.2.2", "alias": "eth0", "broadcast": "", "gateway": "192.0.2.1",
                   "interface": "eth0", "macaddress": "02:fc:00:00:00:01", "mtu": 1400,
                   "netmask": "255.255.255.0", "network": "192.0.2.0", "prefix": "24", "type": "ether"})
        );
        assert_eq!(
            f["default_ipv6"],
            json!({"address": "fd00::2", "gateway": "fd00::1", "interface": "eth0", "prefix": "64",
                   "scope": "global", "macaddress": "02:fc:00:00:00:01", "mtu": 1400, "type": "ether"})
        );
        assert_eq!(
            f["lo"],
            json!({"active": true, "device": "lo", "mtu": 65536, "promisc": false, "type": "loopback",
                   "ipv4": {"address": "127.0.0.1", "broadcast": "", "netmask": "255.0.0.0",
                            "network": "127.0.0.0", "prefix": "8"},
                   "ipv6": [{"address": "::1", "prefix": "128", "scope": "host"}]})
        );
        assert_eq!(f["ifb0"]["active"], false);
        assert_eq!(f["pf_ctl"]["ipv4"]["address"], "10.232.0.1");
        assert_eq!(f["pf_ctl"]["speed"], 10000);
        assert!(f["eth0"].get("speed").is_none());
        assert!(!f.contains_key("*") && !f.contains_key("pf-ctl"));
    }

    /// A cloud host's /32 address with an `onlink` default route: no subnet route holds it.
    #[test]
    fn a_slash_32_address_belongs_to_the_default_interface() {
        let out = "/proc/net/route:Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
                   /proc/net/route:eth0\t00000000\t01011FAC\t0003\t0\t0\t100\t00000000\t0\t0\t0\n\
                   /proc/net/route:eth0\t01011FAC\t00000000\t0005\t0\t0\t100\tFFFFFFFF\t0\t0\t0\n\
                   /proc/net/fib_trie:        |-- 203.0.113.7\n\
                   /proc/net/fib_trie:           /32 host LOCAL\n\
                   /proc/net/fib_trie:     |-- 127.0.0.0\n\
                   /proc/net/fib_trie:        /8 host LOCAL\n\
                   /proc/net/fib_trie:     |-- 127.0.0.1\n\
                   /proc/net/fib_trie:        /32 host LOCAL\n@@end\n";
        let raw = crate::facts::split(out).unwrap();
        let mut f = Map::new();
        network(&raw, "x86_64", &mut f).unwrap();
        assert_eq!(f["all_ipv4_addresses"], json!(["203.0.113.7"]));
        assert_eq!(f["default_ipv4"]["address"], "203.0.113.7");
        assert_eq!(f["default_ipv4"]["prefix"], "32");
        assert_eq!(f["default_ipv4"]["gateway"], "172.31.1.1");
        assert_eq!(f["lo"]["ipv4"]["network"], "127.0.0.0");
        assert_eq!(
            f["locally_reachable_ips"],
            json!({"ipv4": ["127.0.0.0/8", "127.0.0.1", "203.0.113.7"], "ipv6": []})
        );
    }

    #[test]
    fn if_inet6_lines() {
        let a = if_inet6(&[
            "fe800000000000003ce001fffef434a0 02 40 20 80    host0",
            "20010db8000000000000000000000001 02 40 00 80    host0",
            "00000000000000000000000000000001 01 80 10 80       lo",
        ]);
        let got: Vec<(&str, &str, u32, &str)> = a
            .iter()
            .map(|a| (a.address.as_str(), a.iface.as_str(), a.prefix, a.scope))
            .collect();
        assert_eq!(
            got,
            [
                ("fe80::3ce0:1ff:fef4:34a0", "host0", 64, "link"),
                ("2001:db8::1", "host0", 64, "global"),
                ("::1", "lo", 128, "host"),
            ]
        );
    }
}
