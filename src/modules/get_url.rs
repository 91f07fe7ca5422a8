//! `get_url`: a file downloaded on the host with the host's own `curl` or `wget` (whichever it
//! has; `file://` URLs are read with `cat`), into a temp file beside `dest` held open on fd 3,
//! checked against `checksum`, then renamed into place through the race-free writer.
//!
//! As in Ansible: an existing `dest` whose checksum matches `checksum` is left alone; without
//! `checksum`, an existing `dest` is left alone unless `force: true`, and then the download
//! replaces it only when it differs (known only once downloaded: `may-change` in a plan).

use super::args::Getter;
use super::file_fact::{self, FileFact, Kind, attr_changes};
use super::file_mode::{self, Mode};
use super::safe_write;
use super::{Change, Plan, Resource, Run};
use crate::error::Result;
use crate::shell::quote;
use serde_json::{Map, Value, json};

#[derive(Debug, Clone)]
pub(crate) struct GetUrl {
    pub(crate) url: String,
    pub(crate) dest: String,
    /// (algorithm, lower-case hex digest)
    pub(crate) checksum: Option<(String, String)>,
    pub(crate) mode: Option<Mode>,
    pub(crate) owner: Option<String>,
    pub(crate) group: Option<String>,
    pub(crate) force: bool,
    pub(crate) fetch: Fetch,
}

/// How to download a URL on the host: the part `unarchive` shares.
#[derive(Debug, Clone)]
pub(crate) struct Fetch {
    pub(crate) url: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) timeout: u64,
    pub(crate) validate_certs: bool,
    pub(crate) user: Option<String>,
    pub(crate) password: Option<String>,
}

const ALGORITHMS: &[&str] = &["md5", "sha1", "sha224", "sha256", "sha384", "sha512"];

impl Fetch {
    pub(crate) fn build(a: &Getter, url_key: &str) -> Result<Fetch> {
        let url = a.str(url_key)?;
        let scheme = url.split_once("://").map(|(s, _)| s).unwrap_or("");
        if !matches!(scheme, "http" | "https" | "ftp" | "file") {
            return Err(a.err(
                url_key,
                format!("`{url}` is not an http, https, ftp or file URL"),
            ));
        }
        let mut headers = Vec::new();
        match a.raw("headers") {
            None | Some(Value::Null) => {}
            Some(Value::Object(m)) => {
                for (k, v) in m {
                    let v = match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    headers.push((k.clone(), v));
                }
            }
            Some(_) => return Err(a.err("headers", "`headers` must be a mapping")),
        }
        if headers
            .iter()
            .any(|(k, v)| format!("{k}{v}").contains(|c: char| c.is_control()))
        {
            return Err(a.err("headers", "a header must be one line"));
        }
        Ok(Fetch {
            url,
            headers,
            timeout: a.opt_u64("timeout")?.unwrap_or(10),
            validate_certs: a.bool("validate_certs", true)?,
            user: a.opt_str("url_username")?,
            password: a.opt_str("url_password")?,
        })
    }

    /// Shell that writes the URL's body to standard output, failing on an HTTP error status.
    pub(crate) fn command(&self) -> String {
        let u = quote(&self.url);
        if let Some(path) = self.url.strip_prefix("file://") {
            return format!("cat -- {}", quote(path));
        }
        let mut curl = format!("curl -fsSL --max-time {}", self.timeout);
        let mut wget = format!("wget -q -T {}", self.timeout);
        if !self.validate_certs {
            curl.push_str(" -k");
            wget.push_str(" --no-check-certificate");
        }
        for (k, v) in &self.headers {
            let h = quote(&format!("{k}: {v}"));
            curl.push_str(&format!(" -H {h}"));
            wget.push_str(&format!(" --header={h}"));
        }
        if let Some(user) = &self.user {
            let up = quote(&format!(
                "{user}:{}",
                self.password.as_deref().unwrap_or_default()
            ));
            curl.push_str(&format!(" -u {up}"));
            wget.push_str(&format!(
                " --user={} --password={}",
                quote(user),
                quote(self.password.as_deref().unwrap_or_default())
            ));
        }
        format!(
            "if command -v curl >/dev/null 2>&1; then {curl} -- {u}; \
             elif command -v wget >/dev/null 2>&1; then {wget} -O - -- {u}; \
             else plumb_die 'neither curl nor wget is installed on the host (needed to download %s)' {u}; fi"
        )
    }
}

super::plain_module!(GetUrl);

impl GetUrl {
    pub(crate) fn build(a: &Getter) -> Result<GetUrl> {
        let fetch = Fetch::build(a, "url")?;
        let dest = a
            .opt_path("dest")?
            .ok_or_else(|| a.err("dest", "`get_url` needs `dest`"))?;
        let checksum = match a.opt_str("checksum")?.filter(|c| !c.is_empty()) {
            None => None,
            Some(c) => {
                let Some((alg, hex)) = c.split_once(':') else {
                    return Err(a.err(
                        "checksum",
                        "`checksum` is `ALGORITHM:DIGEST`, like `sha256:9f86d0…`",
                    ));
                };
                let alg = alg.trim().to_ascii_lowercase();
                let hex = hex.trim().to_ascii_lowercase();
                if !ALGORITHMS.contains(&alg.as_str()) {
                    return Err(a.err(
                        "checksum",
                        format!(
                            "unknown algorithm `{alg}`; use one of {}",
                            ALGORITHMS.join(", ")
                        ),
                    ));
                }
                if hex.starts_with("http://") || hex.starts_with("https://") {
                    return Err(a.err(
                        "checksum",
                        "a checksum file at a URL is not supported; give the digest",
                    ));
                }
                if hex.is_empty() || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
                    return Err(a.err("checksum", format!("`{hex}` is not a hex digest")));
                }
                Some((alg, hex))
            }
        };
        Ok(GetUrl {
            url: fetch.url.clone(),
            dest,
            checksum,
            mode: match a.opt_str("mode")? {
                None => None,
                Some(m) => match file_mode::parse(&m) {
                    Some(m) => Some(m),
                    None => a.opt_mode("mode")?.map(Mode::Octal),
                },
            },
            owner: safe_write::check_owner(a, "owner")?,
            group: safe_write::check_owner(a, "group")?,
            force: a.bool("force", false)?,
            fetch,
        })
    }

    /// When `dest` is a directory, the file goes in it under the URL's last path segment.
    fn in_dir(&self) -> String {
        let name = self
            .url
            .split(['?', '#'])
            .next()
            .unwrap_or_default()
            .rsplit('/')
            .next()
            .filter(|n| !n.is_empty())
            .unwrap_or("index.html");
        format!("{}/{name}", self.dest.trim_end_matches('/'))
    }

    pub(crate) fn reads(&self) -> Vec<Resource> {
        vec![Resource::Path(self.dest.clone())]
    }

    /// The checksum of `dest` and of `dest/NAME` (with the algorithm asked for), then the
    /// state of both paths as `file_fact` reads it.
    pub(crate) fn probe(&self) -> String {
        let inner = self.in_dir();
        let alg = self
            .checksum
            .as_ref()
            .map(|c| c.0.as_str())
            .unwrap_or("sha1");
        let mut s = String::new();
        for (i, p) in [&self.dest, &inner].iter().enumerate() {
            let q = quote(p);
            s.push_str(&format!(
                "if [ -f {q} ] && [ ! -L {q} ]; then printf 'sum\\t{i}\\t%s\\n' \"$({alg}sum < {q} | cut -d' ' -f1)\"; fi\n"
            ));
        }
        s.push_str("printf 'files\\n'\n");
        s.push_str(&file_fact::probe(&[&self.dest, &inner], &[]));
        s
    }

    pub(crate) fn plan(&self, facts: &str) -> std::result::Result<Plan, String> {
        let (head, rest) = facts
            .split_once("files\n")
            .ok_or_else(|| format!("unexpected probe output: {}", facts.trim()))?;
        let mut sums = [None, None];
        for line in head.lines() {
            match line.split('\t').collect::<Vec<_>>()[..] {
                ["sum", i, hex] if hex.len() >= 32 => {
                    let i: usize = i.parse().map_err(|_| format!("bad probe line {line:?}"))?;
                    sums[i.min(1)] = Some(hex.to_string());
                }
                _ => return Err(format!("unexpected probe output: {line:?}")),
            }
        }
        let inner = self.in_dir();
        let fs = file_fact::parse(rest, &[&self.dest, &inner])?;
        let (dest, fact, sum) = match fs[0].kind {
            Kind::Dir => (inner, &fs[1], sums[1].take()),
            _ => (self.dest.clone(), &fs[0], sums[0].take()),
        };
        let mut result = Map::new();
        result.insert("dest".into(), json!(dest));
        result.insert("url".into(), json!(self.url));
        result.insert("state".into(), json!("file"));
        if let Some((alg, hex)) = &self.checksum {
            result.insert("checksum_src".into(), json!(format!("{alg}:{hex}")));
        }
        if fact.kind == Kind::Dir {
            return Err(format!("{dest} is a directory"));
        }
        if matches!(fact.kind, Kind::Other | Kind::Link) {
            return Err(format!("{dest} exists and is not a regular file"));
        }
        let exists = fact.kind == Kind::File;
        let matches = match (&self.checksum, &sum) {
            (Some((_, want)), Some(have)) => Some(want == have),
            _ => None,
        };
        if exists && let Some(s) = &sum {
            result.insert("checksum_dest".into(), json!(s));
        }
        let download = match (exists, matches) {
            (false, _) => true,
            (true, Some(m)) => !m,
            (true, None) => self.force,
        };
        if !download {
            let (words, cmds) = attr_changes(
                fact,
                &dest,
                self.mode.as_ref().map(|m| m.resolve(fact.mode, false)),
                self.owner.as_deref(),
                self.group.as_deref(),
            );
            result.insert("msg".into(), json!("file already exists"));
            if words.is_empty() {
                return Ok(Plan {
                    result,
                    ..Plan::ok()
                });
            }
            return Ok(Plan {
                batch: None,
                starts: None,
                changes: words
                    .into_iter()
                    .map(|w| Change::new(format!("{dest}: {w}")))
                    .collect(),
                run: Run::Script(format!("{}{}\n", safe_write::HEAD, cmds.join("\n"))),
                writes: vec![Resource::Path(dest)],
                uncertain: false,
                result,
            });
        }
        let summary = match (exists, matches) {
            (false, _) => format!("download {} to {dest}", self.url),
            (true, Some(false)) => {
                format!("download {} to {dest} (its checksum differs)", self.url)
            }
            _ => format!(
                "download {} to {dest} (force: replaced if it differs)",
                self.url
            ),
        };
        Ok(Plan {
            batch: None,
            starts: None,
            changes: vec![Change::new(summary)],
            run: Run::Script(self.script(&dest, exists.then_some(fact))),
            writes: vec![Resource::Path(dest)],
            // Without a checksum, whether a forced download differs is known only once made.
            uncertain: exists && matches.is_none(),
            result,
        })
    }

    fn script(&self, dest: &str, old: Option<&FileFact>) -> String {
        let (dir, name) = safe_write::split(dest);
        let t = safe_write::temp_name("");
        let n = quote(&format!("./{name}"));
        let qd = quote(dest);
        let mut s = format!(
            "{}( plumb_cd {}\nplumb_open {t} {qd}\n{{ {}; }} >&3 || plumb_die 'download of %s failed' {}\n",
            safe_write::HEAD,
            quote(&dir),
            self.fetch.command(),
            quote(&self.url)
        );
        if let Some((alg, want)) = &self.checksum {
            s.push_str(&format!(
                "got=$({alg}sum < /dev/fd/3 | cut -d' ' -f1)\n\
                 [ \"$got\" = {want} ] || plumb_die 'The checksum for %s did not match %s; it was: %s.' {qd} {want} \"$got\"\n"
            ));
        }
        let owner = self.owner.clone().or_else(|| old.map(|f| f.uid.clone()));
        let group = self.group.clone().or_else(|| old.map(|f| f.gid.clone()));
        let base = old.map(|f| f.mode).unwrap_or(0o644);
        let mode = self.mode.as_ref().map_or(base, |m| m.resolve(base, false));
        if old.is_some() && self.checksum.is_none() {
            // Forced: the same bytes as the file in place leave it alone (attributes aside).
            s.push_str(&format!(
                "if cmp -s /dev/fd/3 {n}; then echo plumb-unchanged; exit 0; fi\n"
            ));
        }
        s.push_str(&format!(
            "plumb_own {} {} {mode:04o} /dev/fd/3\nsync /dev/fd/3\n\
             printf 'plumb-result\\t{{\"status_code\": 200, \"size\": %s}}\\n' \"$(stat -L -c %s /dev/fd/3)\"\n\
             plumb_put {n} {qd} )\n",
            quote(owner.as_deref().unwrap_or_default()),
            quote(group.as_deref().unwrap_or_default()),
        ));
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(checksum: Option<&str>, force: bool) -> GetUrl {
        let url = "https://example.org/dl/app-1.2.tar.gz".to_string();
        GetUrl {
            url: url.clone(),
            dest: "/opt/app.tgz".into(),
            checksum: checksum.map(|c| ("sha256".into(), c.into())),
            mode: Some(Mode::Octal(0o640)),
            owner: None,
            group: None,
            force,
            fetch: Fetch {
                url,
                headers: vec![("Authorization".into(), "Bearer x".into())],
                timeout: 10,
                validate_certs: true,
                user: None,
                password: None,
            },
        }
    }

    const SUM: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    /// A recorded probe: /opt/app.tgz a 0640 root file with SUM; /opt/app.tgz/app… absent.
    fn present(sum: &str) -> String {
        format!(
            "sum\t0\t{sum}\nfiles\nabsent\t1\nstats\nstat\tregular file\t640\troot\troot\t0\t0\t1764000000\t\"/opt/app.tgz\"\n"
        )
    }
    const ABSENT: &str = "files\nabsent\t0\nabsent\t1\nstats\n";

    #[test]
    fn missing_file_is_downloaded() {
        let p = get(Some(SUM), false).plan(ABSENT).unwrap();
        assert_eq!(
            p.changes[0].summary,
            "download https://example.org/dl/app-1.2.tar.gz to /opt/app.tgz"
        );
        assert!(!p.uncertain);
        let Run::Script(s) = &p.run else { panic!() };
        assert!(
            s.contains("curl -fsSL --max-time 10 -H 'Authorization: Bearer x' -- "),
            "{s}"
        );
        assert!(
            s.contains("wget -q -T 10 --header='Authorization: Bearer x' -O - -- "),
            "{s}"
        );
        assert!(s.contains(&format!("[ \"$got\" = {SUM} ]")), "{s}");
        assert!(s.contains("plumb_own '' '' 0640 /dev/fd/3"), "{s}");
        assert!(s.contains("plumb_put ./app.tgz /opt/app.tgz )"), "{s}");
        assert_eq!(p.result["dest"], "/opt/app.tgz");
    }

    #[test]
    fn matching_checksum_is_ok_and_a_different_one_downloads() {
        let p = get(Some(SUM), false).plan(&present(SUM)).unwrap();
        assert!(p.changes.is_empty());
        assert_eq!(p.result["checksum_dest"], SUM);
        let other = "0".repeat(64);
        let p = get(Some(SUM), false).plan(&present(&other)).unwrap();
        assert!(p.changes[0].summary.ends_with("(its checksum differs)"));
    }

    #[test]
    fn existing_file_without_checksum_is_ok_unless_forced() {
        let sha1 = "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3";
        assert!(
            get(None, false)
                .plan(&present(sha1))
                .unwrap()
                .changes
                .is_empty()
        );
        let p = get(None, true).plan(&present(sha1)).unwrap();
        assert!(p.uncertain);
        let Run::Script(s) = &p.run else { panic!() };
        assert!(
            s.contains("if cmp -s /dev/fd/3 ./app.tgz; then echo plumb-unchanged"),
            "{s}"
        );
        // The replaced file keeps its owner; mode comes from the task.
        assert!(s.contains("plumb_own 0 0 0640"), "{s}");
    }

    #[test]
    fn a_directory_dest_takes_the_url_name() {
        let facts = "files\nabsent\t1\nstats\nstat\tdirectory\t755\troot\troot\t0\t0\t1764000000\t\"/opt/app.tgz\"\n";
        let p = get(None, false).plan(facts).unwrap();
        assert_eq!(p.result["dest"], "/opt/app.tgz/app-1.2.tar.gz");
    }

    #[test]
    fn file_urls_are_read_with_cat_and_garbage_is_an_error() {
        let mut g = get(None, false);
        g.fetch.url = "file:///srv/a b".into();
        assert_eq!(g.fetch.command(), "cat -- '/srv/a b'");
        assert!(g.plan("").is_err());
        assert!(g.plan("junk\nfiles\n").is_err());
    }

    /// Through a local shell: a `file://` download, then ok; forced, the same bytes are
    /// reported unchanged by the script itself.
    #[test]
    fn downloads_then_converges() {
        use crate::transport::Transport;
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display().to_string();
        std::fs::write(dir.path().join("src.bin"), "payload\n").unwrap();
        let sum = super::super::copy::sha256_hex(b"payload\n");
        let mut g = get(Some(&sum), false);
        g.dest = format!("{d}/out.bin");
        g.url = format!("file://{d}/src.bin");
        g.fetch.url = g.url.clone();
        let mut t = crate::transport::local::Local::new();
        let p = g.plan(&t.run(&g.probe(), None).unwrap().out).unwrap();
        let Run::Script(s) = &p.run else { panic!() };
        let out = t.run(s, None).unwrap();
        assert_eq!(out.code, 0, "{}", out.all());
        assert_eq!(
            std::fs::read_to_string(format!("{d}/out.bin")).unwrap(),
            "payload\n"
        );
        let p = g.plan(&t.run(&g.probe(), None).unwrap().out).unwrap();
        assert!(p.changes.is_empty());
        g.checksum = None;
        g.force = true;
        let p = g.plan(&t.run(&g.probe(), None).unwrap().out).unwrap();
        let Run::Script(s) = &p.run else { panic!() };
        let out = t.run(s, None).unwrap();
        assert!(out.out.contains("plumb-unchanged"), "{}", out.all());
        // A wrong checksum fails and leaves nothing behind.
        g.checksum = Some(("sha256".into(), "0".repeat(64)));
        g.dest = format!("{d}/bad.bin");
        let p = g.plan(&t.run(&g.probe(), None).unwrap().out).unwrap();
        let Run::Script(s) = &p.run else { panic!() };
        let out = t.run(s, None).unwrap();
        assert_ne!(out.code, 0);
        assert!(out.err.contains("did not match"), "{}", out.all());
        assert!(!dir.path().join("bad.bin").exists());
    }
}
