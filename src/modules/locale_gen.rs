//! `locale_gen` (`community.general.locale_gen`): a locale generated (or not), the Debian way:
//! its line in `/etc/locale.gen` uncommented (or commented out) through the race-free writer,
//! then `locale-gen`. Whether it is there is read from `locale -a`, as Ansible does; a locale
//! missing from `/etc/locale.gen` is added from `/usr/share/i18n/SUPPORTED`.

use super::args::Getter;
use super::copy::{Copy, Entry, sha256_hex};
use super::file_fact::{self, Kind};
use super::{Change, ContentChange, Plan, Resource, safe_write};
use crate::error::Result;
use crate::shell::quote;
use base64::Engine;
use std::sync::Arc;

#[derive(Debug, Clone)]
pub(crate) struct LocaleGen {
    pub names: Vec<String>,
    pub present: bool,
}

const FILE: &str = "/etc/locale.gen";

/// `en_US.UTF-8` and `en_US.utf8` are the same locale.
fn norm(name: &str) -> String {
    let (lang, rest) = name.split_once('.').unwrap_or((name, ""));
    let (code, modifier) = rest.split_once('@').unwrap_or((rest, ""));
    let code = code.to_ascii_lowercase().replace('-', "");
    let mut s = lang.to_string();
    if !code.is_empty() {
        s = format!("{s}.{code}");
    }
    if !modifier.is_empty() {
        s = format!("{s}@{modifier}");
    }
    s
}

super::plain_module!(LocaleGen);

impl LocaleGen {
    pub(crate) fn build(a: &Getter) -> Result<LocaleGen> {
        let names = a.list("name")?;
        if names.is_empty() {
            return Err(a.err("name", "`name` is required"));
        }
        for n in &names {
            if n.starts_with('-')
                || !n
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_.@-".contains(c))
            {
                return Err(a.err("name", format!("`{n}` is not a locale name")));
            }
        }
        let present = a.choice("state", &["present", "absent"], "present")? == "present";
        Ok(LocaleGen { names, present })
    }

    pub(crate) fn reads(&self) -> Vec<Resource> {
        vec![
            Resource::Path(FILE.into()),
            Resource::Path("/usr/lib/locale".into()),
        ]
    }

    pub(crate) fn probe(&self) -> String {
        let mut s = format!(
            "{}if [ -f {FILE} ]; then printf 'content\\t'; head -c 1048576 {FILE} | base64 -w0; printf '\\n'; fi\n\
             printf 'avail\\t'; plumb_v=$(locale -a 2>&1); plumb_rc=$?; printf '%s' \"$plumb_v\" | base64 -w0; printf '\\navail_rc\\t%s\\n' \"$plumb_rc\"\n",
            file_fact::probe(&[FILE], &[])
        );
        for n in &self.names {
            s.push_str(&format!(
                "printf 'supported\\t'; awk -v n={} '$1 == n' /usr/share/i18n/SUPPORTED 2>/dev/null | head -n1 | base64 -w0; printf '\\n'\n",
                quote(n)
            ));
        }
        s
    }

    pub(crate) fn plan(&self, facts: &str) -> std::result::Result<Plan, String> {
        let bad = || format!("unexpected probe output: {}", facts.trim());
        let dec = |v: &str| -> std::result::Result<String, String> {
            let b = base64::engine::general_purpose::STANDARD
                .decode(v.trim())
                .map_err(|_| bad())?;
            Ok(String::from_utf8_lossy(&b).into_owned())
        };
        let (mut content, mut avail, mut avail_rc, mut supported) = (None, None, None, Vec::new());
        let mut rest = Vec::new();
        for l in facts.lines() {
            match l.split_once('\t') {
                Some(("content", v)) => content = Some(dec(v)?),
                Some(("avail", v)) => avail = Some(dec(v)?),
                Some(("avail_rc", v)) => avail_rc = Some(v.trim().to_string()),
                Some(("supported", v)) => supported.push(dec(v)?.trim().to_string()),
                _ => rest.push(l),
            }
        }
        let (Some(avail), Some(rc)) = (avail, avail_rc) else {
            return Err(bad());
        };
        if rc != "0" {
            return Err(format!("locale -a: {}", avail.trim()));
        }
        if supported.len() != self.names.len() {
            return Err(bad());
        }
        let fact = file_fact::parse(&rest.join("\n"), &[FILE])?
            .pop()
            .ok_or_else(bad)?;
        let old = match fact.kind {
            Kind::Absent => None,
            Kind::File => Some(content.ok_or_else(bad)?),
            _ => return Err(format!("{FILE} exists and is not a regular file")),
        };
        let have: Vec<String> = avail.lines().map(|l| norm(l.trim())).collect();
        let mut text = old.clone().unwrap_or_default();
        let mut changes = Vec::new();
        for (name, sup) in self.names.iter().zip(&supported) {
            let there = have.contains(&norm(name));
            if there == self.present {
                continue;
            }
            let mut found = false;
            let mut out = String::new();
            for l in text.split_inclusive('\n') {
                let body = l.trim_end_matches('\n');
                let bare = body.trim_start().trim_start_matches('#').trim_start();
                if bare.split_whitespace().next() == Some(name.as_str()) {
                    found = true;
                    if self.present {
                        out.push_str(bare);
                    } else if body.trim_start().starts_with('#') {
                        out.push_str(body);
                    } else {
                        out.push_str(&format!("# {bare}"));
                    }
                    out.push_str(&l[body.len()..]);
                } else {
                    out.push_str(l);
                }
            }
            if self.present && !found {
                if sup.is_empty() {
                    return Err(format!(
                        "locale {name} is not supported (not in {FILE} nor /usr/share/i18n/SUPPORTED)"
                    ));
                }
                if !out.is_empty() && !out.ends_with('\n') {
                    out.push('\n');
                }
                out.push_str(sup);
                out.push('\n');
            }
            text = out;
            changes.push(Change::new(format!(
                "{} locale {name}",
                if self.present { "generate" } else { "remove" }
            )));
        }
        if changes.is_empty() {
            return Ok(Plan::ok());
        }
        let mut script = String::from(safe_write::HEAD);
        if old.as_deref() != Some(text.as_str()) {
            let bytes = Arc::new(text.into_bytes());
            let entry = Entry {
                dest: FILE.into(),
                sha256: sha256_hex(&bytes),
                content: bytes.clone(),
            };
            changes.push(Change {
                summary: format!("update {FILE}"),
                content: Some(ContentChange {
                    path: FILE.into(),
                    new: bytes,
                    exists: old.is_some(),
                }),
            });
            script.push_str(&Copy::writer(FILE).write(&entry, old.is_some().then_some(&fact)));
            script.push('\n');
        }
        script.push_str("locale-gen\n");
        Ok(Plan::script(changes, script, self.reads()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::Run;
    use crate::modules::args::Args;
    use serde_json::{Map, Value, json};
    use std::collections::HashMap;

    fn lg(args: Value) -> std::result::Result<LocaleGen, String> {
        let map: Map<String, Value> = args.as_object().unwrap().clone();
        let args = Args {
            map: map.clone(),
            locs: HashMap::new(),
            key_locs: HashMap::new(),
            loc: crate::location::Location::new(&Arc::new("t.yml".into()), 1, 1),
        };
        LocaleGen::build(&Getter::new(&map, &args)).map_err(|e| e.to_string())
    }

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    // As on Debian 12 with `locales` installed.
    const GEN: &str = "# This file lists locales that you wish to have built.\n\n# de_DE.UTF-8 UTF-8\n# en_US ISO-8859-1\n# en_US.UTF-8 UTF-8\n";

    fn facts(file: &str, avail: &str, supported: &[&str]) -> String {
        let mut s = format!(
            "stats\nstat\tregular file\t644\troot\troot\t0\t0\t1764000000\t\"/etc/locale.gen\"\ncontent\t{}\navail\t{}\navail_rc\t0\n",
            b64(file),
            b64(avail)
        );
        for l in supported {
            s.push_str(&format!("supported\t{}\n", b64(l)));
        }
        s
    }

    fn new_text(p: &Plan) -> String {
        let c = p.changes.iter().find_map(|c| c.content.as_ref()).unwrap();
        String::from_utf8(c.new.to_vec()).unwrap()
    }

    #[test]
    fn generates_then_is_ok() {
        let l = lg(json!({"name": "en_US.UTF-8"})).unwrap();
        let p = l
            .plan(&facts(GEN, "C\nC.utf8\nPOSIX\n", &["en_US.UTF-8 UTF-8"]))
            .unwrap();
        assert_eq!(p.changes[0].summary, "generate locale en_US.UTF-8");
        assert_eq!(new_text(&p), GEN.replace("# en_US.UTF-8", "en_US.UTF-8"));
        let Run::Script(s) = &p.run else { panic!() };
        assert!(s.ends_with("locale-gen\n"));
        let done = GEN.replace("# en_US.UTF-8", "en_US.UTF-8");
        assert!(
            l.plan(&facts(
                &done,
                "C\nC.utf8\nen_US.utf8\nPOSIX\n",
                &["en_US.UTF-8 UTF-8"]
            ))
            .unwrap()
            .changes
            .is_empty()
        );
    }

    #[test]
    #[allow(clippy::type_complexity)]
    fn table() {
        // (args, file, locale -a, SUPPORTED lines, new file or None when unchanged)
        let table: &[(Value, &str, &str, &[&str], Option<&str>)] = &[
            // Not in the file: added from SUPPORTED.
            (
                json!({"name": "nl_NL.UTF-8"}),
                "en_US.UTF-8 UTF-8\n",
                "C\n",
                &["nl_NL.UTF-8 UTF-8"],
                Some("en_US.UTF-8 UTF-8\nnl_NL.UTF-8 UTF-8\n"),
            ),
            // Absent: commented out, regenerated.
            (
                json!({"name": "en_US.UTF-8", "state": "absent"}),
                "en_US.UTF-8 UTF-8\n",
                "C\nen_US.utf8\n",
                &[""],
                Some("# en_US.UTF-8 UTF-8\n"),
            ),
            (
                json!({"name": "en_US.UTF-8", "state": "absent"}),
                GEN,
                "C\n",
                &[""],
                None,
            ),
            // Uncommented but not generated: only locale-gen runs.
            (
                json!({"name": "en_US.UTF-8"}),
                "en_US.UTF-8 UTF-8\n",
                "C\n",
                &["en_US.UTF-8 UTF-8"],
                Some("en_US.UTF-8 UTF-8\n"),
            ),
        ];
        for (args, file, avail, sup, want) in table {
            let p = lg(args.clone())
                .unwrap()
                .plan(&facts(file, avail, sup))
                .unwrap();
            match want {
                None => assert!(p.changes.is_empty(), "{args}"),
                Some(w) if w == file => {
                    assert_eq!(p.changes.len(), 1, "{args}");
                    assert!(p.changes[0].content.is_none());
                }
                Some(w) => assert_eq!(new_text(&p), *w, "{args}"),
            }
        }
    }

    #[test]
    fn errors() {
        let l = lg(json!({"name": "xx_YY.UTF-8"})).unwrap();
        let e = l.plan(&facts(GEN, "C\n", &[""])).unwrap_err();
        assert!(e.contains("not supported"), "{e}");
        assert!(l.plan("").is_err());
        let no_locale =
            "absent\t0\nstats\navail\tc2g6IGxvY2FsZTogbm90IGZvdW5k\navail_rc\t127\nsupported\t\n";
        assert!(l.plan(no_locale).unwrap_err().contains("locale -a"));
        assert!(lg(json!({"name": "en_US; rm -rf /"})).is_err());
        assert!(lg(json!({"name": "en_US", "state": "gone"})).is_err());
        assert_eq!(norm("en_US.UTF-8"), norm("en_US.utf8"));
        assert_eq!(norm("sr_RS.UTF-8@latin"), "sr_RS.utf8@latin");
    }
}
