//! `timezone` (`community.general.timezone`): the system's time zone and whether the hardware
//! clock keeps local time or UTC. With systemd running, `timedatectl set-timezone` and
//! `set-local-rtc`, as Ansible does; without it, `/etc/localtime` is pointed at the zone file and
//! `/etc/timezone` written, both through the race-free writer. The current zone is read from the
//! `/etc/localtime` link (what `timedatectl` reports) and `/etc/timezone` (Debian keeps both).

use super::args::Getter;
use super::copy::{Copy, Entry, sha256_hex};
use super::file_fact::{self, Kind};
use super::{Change, ContentChange, Plan, Resource, safe_write};
use crate::error::Result;
use crate::shell::quote;
use base64::Engine;
use std::sync::Arc;

#[derive(Debug, Clone)]
pub(crate) struct Timezone {
    pub name: Option<String>,
    /// `local` or `UTC`.
    pub hwclock: Option<String>,
}

const ZONEINFO: &str = "/usr/share/zoneinfo";

super::plain_module!(Timezone);

impl Timezone {
    pub(crate) fn build(a: &Getter) -> Result<Timezone> {
        let name = a.opt_str("name")?;
        if let Some(n) = &name
            && (n.is_empty()
                || n.starts_with('/')
                || n.starts_with('-')
                || n.split('/').any(|c| c.is_empty() || c == "." || c == "..")
                || !n
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_+-/".contains(c)))
        {
            return Err(a.err("name", format!("`{n}` is not a time zone name")));
        }
        let hwclock = match a.opt_str("hwclock")? {
            None => None,
            Some(h) => match h.to_ascii_lowercase().as_str() {
                "local" => Some("local".to_string()),
                "utc" => Some("UTC".to_string()),
                _ => {
                    return Err(a.err(
                        "hwclock",
                        format!("`hwclock: {h}` is not valid; use local or UTC"),
                    ));
                }
            },
        };
        if name.is_none() && hwclock.is_none() {
            return Err(a.err("name", "give `name` or `hwclock`"));
        }
        Ok(Timezone { name, hwclock })
    }

    pub(crate) fn reads(&self) -> Vec<Resource> {
        vec![
            Resource::Path("/etc/localtime".into()),
            Resource::Path("/etc/timezone".into()),
            Resource::Path("/etc/adjtime".into()),
        ]
    }

    /// Tagged lines, host text in base64: whether systemd runs, the `/etc/localtime` link, the
    /// zone file's existence, `/etc/timezone` (stat + content), and `/etc/adjtime`'s third line.
    pub(crate) fn probe(&self) -> String {
        let zone = self
            .name
            .as_deref()
            .map(|n| quote(&format!("{ZONEINFO}/{n}")))
            .unwrap_or_else(|| "/nonexistent".into());
        format!(
            "{}if [ -f /etc/timezone ]; then printf 'tzfile\\t'; head -c 4096 /etc/timezone | base64 -w0; printf '\\n'; fi\n\
             if [ -d /run/systemd/system ] && command -v timedatectl >/dev/null; then echo 'systemd\t1'; else echo 'systemd\t0'; fi\n\
             if [ -L /etc/localtime ]; then printf 'link\\t'; readlink /etc/localtime | base64 -w0; printf '\\n'; elif [ -e /etc/localtime ]; then echo 'link\tfile'; else echo 'link\tnone'; fi\n\
             if [ -f {zone} ]; then echo 'zone\t1'; else echo 'zone\t0'; fi\n\
             printf 'adjtime\\t'; {{ sed -n 3p /etc/adjtime 2>/dev/null || true; }} | head -c 64 | base64 -w0; printf '\\n'\n",
            file_fact::probe(&["/etc/timezone"], &[]),
        )
    }

    pub(crate) fn plan(&self, facts: &str) -> std::result::Result<Plan, String> {
        let mut tags = std::collections::HashMap::new();
        let mut rest = Vec::new();
        for l in facts.lines() {
            match l.split_once('\t') {
                Some((k @ ("tzfile" | "systemd" | "link" | "zone" | "adjtime"), v)) => {
                    tags.insert(k, v.trim());
                }
                _ => rest.push(l),
            }
        }
        let bad = || format!("unexpected probe output: {}", facts.trim());
        let dec = |v: &str| -> std::result::Result<String, String> {
            let b = base64::engine::general_purpose::STANDARD
                .decode(v)
                .map_err(|_| bad())?;
            Ok(String::from_utf8_lossy(&b).trim().to_string())
        };
        let systemd = match tags.get("systemd") {
            Some(&"1") => true,
            Some(&"0") => false,
            _ => return Err(bad()),
        };
        let fact = file_fact::parse(&rest.join("\n"), &["/etc/timezone"])?
            .pop()
            .ok_or_else(bad)?;
        let tzfile = match (&fact.kind, tags.get("tzfile")) {
            (Kind::Absent, _) => None,
            (Kind::File, Some(v)) => Some(dec(v)?),
            _ => return Err("/etc/timezone is not a regular file".into()),
        };
        let link = match tags.get("link").copied() {
            Some("none") => None,
            Some("file") => Some(String::new()),
            Some(v) => Some(dec(v)?),
            None => return Err(bad()),
        };
        // What /etc/localtime says: the zone is the link target's path under zoneinfo.
        let current = link.as_deref().and_then(|l| {
            l.split_once("zoneinfo/")
                .map(|(_, z)| z.trim_start_matches("posix/").to_string())
        });
        let mut changes = Vec::new();
        let mut script = String::from(safe_write::HEAD);
        let mut result = serde_json::Map::new();
        if let Some(want) = &self.name {
            let before = current.clone().or(tzfile.clone()).unwrap_or_default();
            result.insert(
                "diff".into(),
                serde_json::json!({"before": {"name": before}, "after": {"name": want}}),
            );
            let link_ok = current.as_deref() == Some(want.as_str());
            let file_ok =
                tzfile.as_deref().is_none_or(|t| t == want) && (systemd || tzfile.is_some());
            if !link_ok || !file_ok {
                if tags.get("zone") != Some(&"1") {
                    return Err(format!(
                        "unknown time zone `{want}` ({ZONEINFO}/{want} does not exist; is tzdata installed?)"
                    ));
                }
                changes.push(Change::new(format!(
                    "time zone: {} → {want}",
                    if before.is_empty() { "unset" } else { &before }
                )));
                if systemd && !link_ok {
                    script.push_str(&format!("timedatectl set-timezone {}\n", quote(want)));
                } else if !link_ok {
                    script.push_str(&safe_write::link(
                        "/etc/localtime",
                        &format!("{ZONEINFO}/{want}"),
                    ));
                    script.push('\n');
                }
                if !file_ok {
                    let bytes = Arc::new(format!("{want}\n").into_bytes());
                    let entry = Entry {
                        dest: "/etc/timezone".into(),
                        sha256: sha256_hex(&bytes),
                        content: bytes.clone(),
                    };
                    changes.push(Change {
                        summary: format!("/etc/timezone: {want}"),
                        content: Some(ContentChange {
                            path: "/etc/timezone".into(),
                            new: bytes,
                            exists: tzfile.is_some(),
                        }),
                    });
                    script.push_str(
                        &Copy::writer("/etc/timezone")
                            .write(&entry, tzfile.is_some().then_some(&fact)),
                    );
                    script.push('\n');
                }
            }
        }
        if let Some(want) = &self.hwclock {
            let adj = dec(tags.get("adjtime").ok_or_else(bad)?)?;
            let now = if adj == "LOCAL" { "local" } else { "UTC" };
            if now != want {
                if !systemd {
                    return Err("setting `hwclock` needs systemd's timedatectl".into());
                }
                changes.push(Change::new(format!("hardware clock: {now} → {want}")));
                script.push_str(&format!(
                    "timedatectl set-local-rtc {}\n",
                    if want == "local" { "yes" } else { "no" }
                ));
            }
        }
        if changes.is_empty() {
            return Ok(Plan {
                result,
                ..Plan::ok()
            });
        }
        Ok(Plan {
            result,
            ..Plan::script(changes, script, self.reads())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::Run;
    use crate::modules::args::Args;
    use serde_json::{Map, Value, json};
    use std::collections::HashMap;

    fn tz(args: Value) -> std::result::Result<Timezone, String> {
        let map: Map<String, Value> = args.as_object().unwrap().clone();
        let args = Args {
            map: map.clone(),
            locs: HashMap::new(),
            key_locs: HashMap::new(),
            loc: crate::location::Location::new(&Arc::new("t.yml".into()), 1, 1),
        };
        Timezone::build(&Getter::new(&map, &args)).map_err(|e| e.to_string())
    }

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    /// As the probe prints on Debian 12 (link recorded: /usr/share/zoneinfo/Etc/UTC).
    fn facts(tzfile: Option<&str>, systemd: bool, link: &str, zone: bool, adj: &str) -> String {
        let f = match tzfile {
            Some(t) => format!(
                "stats\nstat\tregular file\t644\troot\troot\t0\t0\t1764000000\t\"/etc/timezone\"\ntzfile\t{}\n",
                b64(t)
            ),
            None => "absent\t0\nstats\n".into(),
        };
        format!(
            "{f}systemd\t{}\nlink\t{}\nzone\t{}\nadjtime\t{}\n",
            u8::from(systemd),
            b64(link),
            u8::from(zone),
            b64(adj)
        )
    }

    fn summaries(p: &Plan) -> Vec<&str> {
        p.changes.iter().map(|c| c.summary.as_str()).collect()
    }

    #[test]
    #[allow(clippy::type_complexity)]
    fn table() {
        let utc = "/usr/share/zoneinfo/Etc/UTC";
        let paris = "/usr/share/zoneinfo/Europe/Paris";
        // (args, /etc/timezone, systemd, link, zone exists, adjtime line 3, summaries, script has)
        let table: &[(Value, Option<&str>, bool, &str, bool, &str, &[&str], &str)] = &[
            (
                json!({"name": "Europe/Paris"}),
                Some("Etc/UTC\n"),
                true,
                utc,
                true,
                "UTC",
                &[
                    "time zone: Etc/UTC → Europe/Paris",
                    "/etc/timezone: Europe/Paris",
                ],
                "timedatectl set-timezone Europe/Paris",
            ),
            (
                json!({"name": "Europe/Paris"}),
                Some("Europe/Paris\n"),
                true,
                paris,
                true,
                "UTC",
                &[],
                "",
            ),
            // No /etc/timezone with systemd: only the link matters.
            (
                json!({"name": "Europe/Paris"}),
                None,
                true,
                paris,
                true,
                "",
                &[],
                "",
            ),
            // Without systemd: the link and the file, written by plumb.
            (
                json!({"name": "Europe/Paris"}),
                None,
                false,
                utc,
                true,
                "",
                &[
                    "time zone: Etc/UTC → Europe/Paris",
                    "/etc/timezone: Europe/Paris",
                ],
                "ln -sT -- /usr/share/zoneinfo/Europe/Paris",
            ),
            (
                json!({"hwclock": "local"}),
                None,
                true,
                utc,
                false,
                "UTC",
                &["hardware clock: UTC → local"],
                "timedatectl set-local-rtc yes",
            ),
            (
                json!({"hwclock": "UTC"}),
                None,
                true,
                utc,
                false,
                "",
                &[],
                "",
            ),
        ];
        for (args, file, sd, link, zone, adj, want, has) in table {
            let p = tz(args.clone())
                .unwrap()
                .plan(&facts(*file, *sd, link, *zone, adj))
                .unwrap();
            assert_eq!(summaries(&p), *want, "{args}");
            if let Run::Script(s) = &p.run {
                assert!(s.contains(has), "{args}: {s}");
            }
        }
    }

    #[test]
    fn errors() {
        let t = tz(json!({"name": "Mars/Olympus"})).unwrap();
        let e = t
            .plan(&facts(None, true, "/usr/share/zoneinfo/Etc/UTC", false, ""))
            .unwrap_err();
        assert!(e.contains("unknown time zone"), "{e}");
        assert!(t.plan("").is_err());
        assert!(t.plan("systemd\t1\n").is_err());
        for bad in ["../etc/passwd", "/etc/x", "a b", "-x", "Europe//Paris"] {
            assert!(tz(json!({ "name": bad })).is_err(), "{bad}");
        }
        assert!(tz(json!({"hwclock": "gmt"})).is_err());
        assert!(tz(json!({})).is_err());
    }
}
