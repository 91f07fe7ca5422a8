//! OpenSSH's client configuration (`~/.ssh/config`), read as `ssh` reads it: `Host` and `Match`
//! blocks, the first value of a keyword wins (IdentityFile accumulates), `Include` with globs,
//! `%` tokens and `~`. Pure: reading files is the only I/O, and the result says which lines
//! applied, for `-v`.

use crate::error::{Error, Result};
use crate::location::Location;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One line of a config file that plumb acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Line {
    loc: Location,
    key: String,
    args: Vec<String>,
}

/// A `Host` or `Match` condition and the lines under it; the lines before any block form a
/// block that always applies.
#[derive(Debug, Clone)]
enum Cond {
    Always,
    Host(Vec<String>),
    Match(Vec<Criterion>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Criterion {
    All,
    Host(String),
    OriginalHost(String),
    User(String),
    LocalUser(String),
    /// Criteria plumb cannot evaluate (`exec`, `localnetwork`, …): the block does not apply.
    Unsupported(String),
}

/// A parsed config: its lines in order, each under the condition of its block.
#[derive(Debug, Clone, Default)]
pub(crate) struct SshConfig {
    entries: Vec<(Cond, Line)>,
}

/// What the config says for one host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct HostConfig {
    pub(crate) hostname: Option<String>,
    pub(crate) user: Option<String>,
    pub(crate) port: Option<u16>,
    pub(crate) identity_files: Vec<PathBuf>,
    pub(crate) identities_only: Option<bool>,
    pub(crate) identity_agent: Option<String>,
    /// `Some(vec![])` is `ProxyJump none`.
    pub(crate) proxy_jump: Option<Vec<Jump>>,
    /// `Some(None)` is `ProxyCommand none`.
    pub(crate) proxy_command: Option<Option<String>>,
    pub(crate) user_known_hosts_files: Vec<PathBuf>,
    pub(crate) strict_host_key_checking: Option<String>,
    pub(crate) host_key_alias: Option<String>,
    pub(crate) connect_timeout: Option<u64>,
    pub(crate) server_alive_interval: Option<u64>,
    pub(crate) server_alive_count_max: Option<u64>,
    /// `file:line  Keyword value` of every line that applied, for `-v`.
    pub(crate) applied: Vec<String>,
}

/// One hop of `ProxyJump`: `[user@]host[:port]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Jump {
    pub(crate) user: Option<String>,
    pub(crate) host: String,
    pub(crate) port: Option<u16>,
}

impl Jump {
    pub(crate) fn parse(text: &str) -> Option<Jump> {
        let text = text.strip_prefix("ssh://").unwrap_or(text);
        let (user, rest) = match text.rsplit_once('@') {
            Some((u, r)) => (Some(u.to_string()), r),
            None => (None, text),
        };
        // `[::1]:22`, `host:22`, `host`.
        let (host, port) = if let Some(r) = rest.strip_prefix('[') {
            let (h, after) = r.split_once(']')?;
            (h.to_string(), after.strip_prefix(':'))
        } else {
            match rest.rsplit_once(':') {
                Some((h, p)) if !h.contains(':') => (h.to_string(), Some(p)),
                _ => (rest.to_string(), None),
            }
        };
        let port = match port {
            Some(p) => Some(p.parse().ok()?),
            None => None,
        };
        (!host.is_empty()).then_some(Jump { user, host, port })
    }
}

/// Who is asking: for `%u`, `%d` and `Match localuser`.
#[derive(Debug, Clone)]
pub(crate) struct Local {
    pub(crate) user: String,
    pub(crate) home: PathBuf,
}

impl Local {
    pub(crate) fn current() -> Local {
        Local {
            user: std::env::var("USER").unwrap_or_else(|_| "root".into()),
            home: crate::paths::home(),
        }
    }
}

const MAX_INCLUDE_DEPTH: usize = 16;

impl SshConfig {
    /// Reads a config file and what it includes. A missing top file is an empty config.
    pub(crate) fn load(path: &Path, local: &Local) -> Result<SshConfig> {
        let mut cfg = SshConfig::default();
        if !path.exists() {
            return Ok(cfg);
        }
        cfg.read_file(path, local, Cond::Always, 0)?;
        Ok(cfg)
    }

    /// Parses text as if read from `path` (for tests and recorded configs).
    pub(crate) fn parse(path: &Path, text: &str, local: &Local) -> Result<SshConfig> {
        let mut cfg = SshConfig::default();
        cfg.read_text(path, text, local, Cond::Always, 0)?;
        Ok(cfg)
    }

    fn read_file(&mut self, path: &Path, local: &Local, outer: Cond, depth: usize) -> Result<()> {
        let text = std::fs::read_to_string(path).map_err(Error::with_path(path))?;
        self.read_text(path, &text, local, outer, depth)
    }

    fn read_text(
        &mut self,
        path: &Path,
        text: &str,
        local: &Local,
        outer: Cond,
        depth: usize,
    ) -> Result<()> {
        let file = Arc::new(path.to_path_buf());
        let mut cond = outer.clone();
        for (i, raw) in text.lines().enumerate() {
            let loc = Location::new(&file, i + 1, 1);
            let Some((key, args)) = split_line(raw).map_err(|m| Error::input(loc.clone(), m))?
            else {
                continue;
            };
            let lower = key.to_ascii_lowercase();
            match lower.as_str() {
                "host" => {
                    if args.is_empty() {
                        return Err(Error::input(loc, "`Host` needs at least one pattern"));
                    }
                    // A block inside an included file stays under the include's condition
                    // only for its lines; OpenSSH ends the outer block at the first Host.
                    cond = Cond::Host(args);
                }
                "match" => {
                    cond = Cond::Match(parse_match(&args).map_err(|m| Error::input(loc, m))?)
                }
                "include" => {
                    if depth >= MAX_INCLUDE_DEPTH {
                        return Err(Error::input(loc, "`Include` nested too deeply"));
                    }
                    for pattern in &args {
                        let expanded = expand_tilde(pattern, &local.home);
                        // Relative includes are under ~/.ssh, as for the user's config.
                        let full = if Path::new(&expanded).is_absolute() {
                            PathBuf::from(expanded)
                        } else {
                            local.home.join(".ssh").join(expanded)
                        };
                        for f in glob_files(&full) {
                            self.read_file(&f, local, cond.clone(), depth + 1)?;
                        }
                    }
                }
                _ => {
                    check_value(&lower, &args).map_err(|m| Error::input(loc.clone(), m))?;
                    self.entries.push((cond.clone(), Line { loc, key, args }));
                }
            }
        }
        Ok(())
    }

    /// The settings for `host` (as named in the inventory or on the command line), logging in
    /// as `user` when known: every matching line in order, the first value of each keyword.
    pub(crate) fn host(&self, host: &str, user: Option<&str>, local: &Local) -> HostConfig {
        let mut out = HostConfig::default();
        for (cond, line) in &self.entries {
            let current = out.hostname.clone().unwrap_or_else(|| host.to_string());
            let remote_user = out
                .user
                .clone()
                .or(user.map(String::from))
                .unwrap_or_else(|| local.user.clone());
            let applies = match cond {
                Cond::Always => true,
                Cond::Host(patterns) => host_matches(patterns, host),
                Cond::Match(criteria) => criteria.iter().all(|c| match c {
                    Criterion::All => true,
                    Criterion::Host(p) => list_matches(p, &current),
                    Criterion::OriginalHost(p) => list_matches(p, host),
                    Criterion::User(p) => list_matches(p, &remote_user),
                    Criterion::LocalUser(p) => list_matches(p, &local.user),
                    Criterion::Unsupported(_) => false,
                }),
            };
            if applies && out.apply(line, host, &remote_user, local) {
                out.applied.push(format!(
                    "{}  {} {}",
                    line.loc,
                    line.key,
                    line.args.join(" ")
                ));
            }
        }
        out
    }
}

impl HostConfig {
    /// Takes one line's value unless the keyword already has one. Returns whether it was used.
    fn apply(&mut self, line: &Line, host: &str, remote_user: &str, local: &Local) -> bool {
        let first = line.args.first().cloned().unwrap_or_default();
        let tokens = |s: &str, hostname: &str| -> String {
            expand_tokens(s, host, hostname, remote_user, local, self.port)
        };
        let hostname = self.hostname.clone().unwrap_or_else(|| host.to_string());
        macro_rules! first_wins {
            ($field:expr, $value:expr) => {{
                if $field.is_some() {
                    return false;
                }
                $field = Some($value);
                true
            }};
        }
        match line.key.to_ascii_lowercase().as_str() {
            "hostname" => first_wins!(self.hostname, first.replace("%h", host).replace("%%", "%")),
            "user" => first_wins!(self.user, first),
            "port" => first_wins!(self.port, first.parse().unwrap_or(22)),
            "identityfile" => {
                let p = expand_tilde(&tokens(&first, &hostname), &local.home);
                self.identity_files.push(PathBuf::from(p));
                true
            }
            "identitiesonly" => first_wins!(self.identities_only, yes(&first)),
            "identityagent" => first_wins!(
                self.identity_agent,
                expand_tilde(&tokens(&first, &hostname), &local.home)
            ),
            "proxyjump" => {
                let hops = if first.eq_ignore_ascii_case("none") {
                    Vec::new()
                } else {
                    first.split(',').filter_map(Jump::parse).collect()
                };
                first_wins!(self.proxy_jump, hops)
            }
            "proxycommand" => {
                let cmd = line.args.join(" ");
                let v = (!cmd.eq_ignore_ascii_case("none")).then_some(cmd);
                first_wins!(self.proxy_command, v)
            }
            "userknownhostsfile" => {
                if !self.user_known_hosts_files.is_empty() {
                    return false;
                }
                self.user_known_hosts_files = line
                    .args
                    .iter()
                    .map(|a| PathBuf::from(expand_tilde(&tokens(a, &hostname), &local.home)))
                    .collect();
                true
            }
            "stricthostkeychecking" => {
                first_wins!(self.strict_host_key_checking, first.to_ascii_lowercase())
            }
            "hostkeyalias" => first_wins!(self.host_key_alias, first),
            "connecttimeout" => first_wins!(self.connect_timeout, first.parse().unwrap_or(0)),
            "serveraliveinterval" => {
                first_wins!(self.server_alive_interval, first.parse().unwrap_or(0))
            }
            "serveralivecountmax" => {
                first_wins!(self.server_alive_count_max, first.parse().unwrap_or(3))
            }
            // Unknown keywords are ignored, as the issue of compatibility asks.
            _ => false,
        }
    }
}

fn yes(v: &str) -> bool {
    matches!(v.to_ascii_lowercase().as_str(), "yes" | "true")
}

/// Values plumb uses must parse; a bad one is an error at its line, before any host is contacted.
fn check_value(key: &str, args: &[String]) -> std::result::Result<(), String> {
    let first = args.first().map(String::as_str).unwrap_or("");
    let need = |ok: bool, what: &str| {
        if ok {
            Ok(())
        } else {
            Err(format!("`{key}` needs {what}, found `{first}`"))
        }
    };
    match key {
        "hostname" | "user" | "identityfile" | "identityagent" | "hostkeyalias"
        | "userknownhostsfile" | "proxycommand" => need(!args.is_empty(), "a value"),
        "port" => need(first.parse::<u16>().is_ok_and(|p| p > 0), "a port number"),
        "connecttimeout" | "serveraliveinterval" | "serveralivecountmax" => {
            need(first.parse::<u64>().is_ok(), "a number")
        }
        "identitiesonly" => need(
            matches!(
                first.to_ascii_lowercase().as_str(),
                "yes" | "no" | "true" | "false"
            ),
            "yes or no",
        ),
        "stricthostkeychecking" => need(
            matches!(
                first.to_ascii_lowercase().as_str(),
                "yes" | "no" | "accept-new" | "ask" | "off" | "true" | "false"
            ),
            "yes, accept-new or no",
        ),
        "proxyjump" => need(
            first.eq_ignore_ascii_case("none")
                || (!first.is_empty() && first.split(',').all(|h| Jump::parse(h).is_some())),
            "[user@]host[:port] hops separated by commas, or none",
        ),
        _ => Ok(()),
    }
}

/// `Keyword value...` or `Keyword=value`; None for blank lines and comments. Double quotes
/// group words.
fn split_line(raw: &str) -> std::result::Result<Option<(String, Vec<String>)>, String> {
    let line = raw.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let (key, rest) = match line.find(|c: char| c.is_whitespace() || c == '=') {
        Some(i) => (&line[..i], line[i..].trim_start()),
        None => (line, ""),
    };
    let rest = rest.strip_prefix('=').unwrap_or(rest).trim_start();
    let mut args = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut any = false;
    for c in rest.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any {
                    args.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            c => {
                cur.push(c);
                any = true;
            }
        }
    }
    if quoted {
        return Err("unterminated quote".into());
    }
    if any {
        args.push(cur);
    }
    Ok(Some((key.to_string(), args)))
}

fn parse_match(args: &[String]) -> std::result::Result<Vec<Criterion>, String> {
    let mut out = Vec::new();
    let mut it = args.iter();
    while let Some(word) = it.next() {
        let w = word.to_ascii_lowercase();
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("`Match {word}` needs a value"))
        };
        out.push(match w.as_str() {
            "all" => Criterion::All,
            "host" => Criterion::Host(value()?),
            "originalhost" => Criterion::OriginalHost(value()?),
            "user" => Criterion::User(value()?),
            "localuser" => Criterion::LocalUser(value()?),
            "canonical" | "final" => Criterion::Unsupported(w),
            "exec" | "localnetwork" | "tagged" => {
                value()?;
                Criterion::Unsupported(w)
            }
            other => return Err(format!("unknown `Match` criterion `{other}`")),
        });
    }
    if out.is_empty() {
        return Err("`Match` needs a criterion (`all`, `host`, `user`, …)".into());
    }
    Ok(out)
}

/// A `Host` line's patterns: some positive pattern matches and no negated one does.
fn host_matches(patterns: &[String], host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    let mut hit = false;
    for p in patterns.iter().flat_map(|p| p.split(',')) {
        if let Some(neg) = p.strip_prefix('!') {
            if crate::inventory::glob_match(&neg.to_ascii_lowercase(), &host) {
                return false;
            }
        } else if crate::inventory::glob_match(&p.to_ascii_lowercase(), &host) {
            hit = true;
        }
    }
    hit
}

/// A `Match` value: a comma-separated pattern list.
fn list_matches(list: &str, value: &str) -> bool {
    host_matches(&[list.to_string()], value)
}

fn expand_tilde(s: &str, home: &Path) -> String {
    match s.strip_prefix("~/") {
        Some(rest) => home.join(rest).display().to_string(),
        None if s == "~" => home.display().to_string(),
        None => s.to_string(),
    }
}

/// `%h %n %p %r %u %d %%` as OpenSSH expands them in paths.
fn expand_tokens(
    s: &str,
    original: &str,
    hostname: &str,
    remote_user: &str,
    local: &Local,
    port: Option<u16>,
) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('h') => out.push_str(hostname),
            Some('n') => out.push_str(original),
            Some('p') => out.push_str(&port.unwrap_or(22).to_string()),
            Some('r') => out.push_str(remote_user),
            Some('u') => out.push_str(&local.user),
            Some('d') => out.push_str(&local.home.display().to_string()),
            Some('%') => out.push('%'),
            Some(other) => {
                out.push('%');
                out.push(other);
            }
            None => out.push('%'),
        }
    }
    out
}

/// Files matching a path whose last components may hold `*` and `?`, in name order.
fn glob_files(pattern: &Path) -> Vec<PathBuf> {
    let text = pattern.display().to_string();
    if !text.contains(['*', '?', '[']) {
        return if pattern.is_file() {
            vec![pattern.to_path_buf()]
        } else {
            vec![]
        };
    }
    let (Some(dir), Some(name)) = (pattern.parent(), pattern.file_name()) else {
        return vec![];
    };
    let name = name.to_string_lossy();
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.is_file()
                        && p.file_name().is_some_and(|n| {
                            crate::inventory::glob_match(&name, &n.to_string_lossy())
                        })
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local() -> Local {
        Local {
            user: "me".into(),
            home: PathBuf::from("/home/me"),
        }
    }

    fn cfg(text: &str) -> SshConfig {
        SshConfig::parse(Path::new("config"), text, &local()).unwrap()
    }

    const FLEET: &str = "\
# the fleet
Host bastion
    HostName 10.0.0.1
    User jump
Host web? !web9
    HostName %h.internal
    ProxyJump bastion
    IdentityFile ~/.ssh/web_%r
Host web9
    ProxyJump none
Match host *.internal user deploy
    Port 2222
Host *
    User deploy
    IdentityFile ~/.ssh/id_ed25519
    IdentitiesOnly yes
    ServerAliveInterval 15
    StrictHostKeyChecking accept-new
    Port 22
";

    #[test]
    fn first_value_wins_and_identity_files_accumulate() {
        let c = cfg(FLEET);
        // As in OpenSSH, `Match user` sees the user known when the Match line is read: the
        // one given, not a `User` from a later block.
        assert_eq!(c.host("web1", None, &local()).port, Some(22));
        let h = c.host("web1", Some("deploy"), &local());
        assert_eq!(h.hostname.as_deref(), Some("web1.internal"));
        assert_eq!(h.user.as_deref(), Some("deploy"));
        assert_eq!(h.port, Some(2222), "Match host matched the HostName so far");
        assert_eq!(
            h.proxy_jump,
            Some(vec![Jump {
                user: None,
                host: "bastion".into(),
                port: None
            }])
        );
        assert_eq!(
            h.identity_files,
            [
                PathBuf::from("/home/me/.ssh/web_deploy"),
                PathBuf::from("/home/me/.ssh/id_ed25519")
            ]
        );
        assert_eq!(h.identities_only, Some(true));
        assert_eq!(h.server_alive_interval, Some(15));
        assert_eq!(h.strict_host_key_checking.as_deref(), Some("accept-new"));
        assert!(
            h.applied[0].starts_with("config:6:1  HostName %h.internal"),
            "{:?}",
            h.applied
        );
    }

    #[test]
    fn negation_none_and_unmatched_hosts() {
        let c = cfg(FLEET);
        let h = c.host("web9", None, &local());
        assert_eq!(h.hostname, None);
        assert_eq!(h.proxy_jump, Some(vec![]), "ProxyJump none");
        assert_eq!(h.port, Some(22));
        let b = c.host("bastion", None, &local());
        assert_eq!(
            (b.hostname.as_deref(), b.user.as_deref()),
            (Some("10.0.0.1"), Some("jump"))
        );
        assert_eq!(b.proxy_jump, None);
    }

    #[test]
    fn match_user_uses_the_user_given() {
        let c = cfg("Match user admin\n  Port 2200\n");
        assert_eq!(c.host("x", Some("admin"), &local()).port, Some(2200));
        assert_eq!(c.host("x", Some("other"), &local()).port, None);
        assert_eq!(
            c.host("x", None, &local()).port,
            None,
            "the local user is me"
        );
        let c = cfg("Match exec \"test -f /x\"\n  Port 1\nMatch all\n  Port 2\n");
        assert_eq!(c.host("x", None, &local()).port, Some(2));
    }

    #[test]
    fn jumps() {
        for (text, want) in [
            ("b", (None, "b", None)),
            ("u@b:2222", (Some("u"), "b", Some(2222))),
            ("[::1]:22", (None, "::1", Some(22))),
            ("ssh://u@b", (Some("u"), "b", None)),
        ] {
            let j = Jump::parse(text).unwrap();
            assert_eq!((j.user.as_deref(), j.host.as_str(), j.port), want, "{text}");
        }
        assert!(Jump::parse("b:notaport").is_none());
        let c = cfg("Host x\n ProxyJump a,u@b:2\n");
        assert_eq!(c.host("x", None, &local()).proxy_jump.unwrap().len(), 2);
    }

    #[test]
    fn syntax_errors_name_file_and_line() {
        for (text, line, msg) in [
            ("Host\n", 1, "`Host` needs at least one pattern"),
            (
                "Host a\n  Port abc\n",
                2,
                "`port` needs a port number, found `abc`",
            ),
            ("Match nope x\n", 1, "unknown `Match` criterion `nope`"),
            ("Host a\n  User \"x\n", 2, "unterminated quote"),
            (
                "Host a\n  ProxyJump h:x\n",
                2,
                "`proxyjump` needs [user@]host[:port] hops separated by commas, or none, found `h:x`",
            ),
        ] {
            let e = SshConfig::parse(Path::new("config"), text, &local()).unwrap_err();
            let Error::Input {
                loc: Some(l),
                msg: m,
                ..
            } = e
            else {
                panic!()
            };
            assert_eq!((l.line, m.as_str()), (line, msg), "{text}");
        }
    }

    #[test]
    fn equals_form_quotes_unknown_keywords_and_includes() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().to_path_buf();
        std::fs::create_dir_all(home.join(".ssh/conf.d")).unwrap();
        std::fs::write(home.join(".ssh/conf.d/a.conf"), "Host inc\n  Port 2022\n").unwrap();
        std::fs::write(home.join(".ssh/conf.d/b.conf"), "Host inc\n  Port 9\n").unwrap();
        let me = Local {
            user: "me".into(),
            home: home.clone(),
        };
        let main = home.join(".ssh/config");
        std::fs::write(
            &main,
            "Include conf.d/*.conf\nHost q\n  IdentityFile=\"~/my keys/id\"\n  ForwardAgent yes\n",
        )
        .unwrap();
        let c = SshConfig::load(&main, &me).unwrap();
        assert_eq!(c.host("inc", None, &me).port, Some(2022));
        assert_eq!(
            c.host("q", None, &me).identity_files,
            [home.join("my keys/id")]
        );
        assert!(
            SshConfig::load(&home.join("missing"), &me)
                .unwrap()
                .entries
                .is_empty()
        );
    }
}
