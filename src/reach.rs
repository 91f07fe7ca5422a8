//! How to reach host H, as OpenSSH would: inventory values (`ansible_host`, `ansible_user`,
//! `ansible_port`, `ansible_ssh_private_key_file`) first, then `ansible_ssh_common_args` and
//! `ansible_ssh_extra_args` (`-o Key=Value`, `-J`, `-i`, `-p`, `-l`), then the OpenSSH client
//! config (src/ssh_config.rs), then plumb's defaults. Command-line flags (`--known-hosts`,
//! `--host-key-checking`, `--timeout`, `--keepalive`) win over the config file. Pure apart from
//! reading the config once at startup; connecting is transport/jump.rs.

use crate::error::{Error, Result};
use crate::ssh_config::{HostConfig, Jump, Local, SshConfig as ClientConfig};
use crate::transport::extra::Extra;
use crate::transport::host_key_checking::HostKeyChecking;
use crate::transport::ssh_config::SshConfig;
use crate::transport::target::Target;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Run-wide settings: the parsed client config, and which plumb options were given explicitly
/// (flag or plumb.toml), since those win over the config file.
#[derive(Default)]
pub(crate) struct Settings {
    pub config: Option<ClientConfig>,
    pub local: Option<Local>,
    pub known_hosts: Option<PathBuf>,
    pub checking: Option<HostKeyChecking>,
    pub connect_timeout: Option<Duration>,
    pub keepalive: Option<Duration>,
    /// `--ask-pass`.
    pub password: Option<String>,
}

static SETTINGS: Mutex<Option<Arc<Settings>>> = Mutex::new(None);

pub(crate) fn install(s: Settings) {
    *SETTINGS.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(s));
}

pub(crate) fn settings() -> Arc<Settings> {
    SETTINGS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .unwrap_or_default()
}

/// `--ssh-config` (or `ssh_config` in plumb.toml): a path, `none`, or the default
/// ~/.ssh/config. A syntax error is reported here, at its file:line, before any host is
/// contacted.
pub(crate) fn load_config(given: Option<&str>, local: &Local) -> Result<Option<ClientConfig>> {
    match given {
        Some(v) if v.eq_ignore_ascii_case("none") => Ok(None),
        Some(p) => {
            let path = crate::paths::expand(p);
            if !path.exists() {
                return Err(Error::Usage(format!(
                    "ssh config {} does not exist (--ssh-config none disables it)",
                    path.display()
                )));
            }
            ClientConfig::load(&path, local).map(Some)
        }
        None => ClientConfig::load(&local.home.join(".ssh/config"), local).map(Some),
    }
}

/// What the inventory (and play / plumb.toml) says for a host.
#[derive(Default)]
pub(crate) struct Given {
    /// `ansible_host` (the inventory name when unset): what the config's `Host` lines match.
    pub name: String,
    pub user: Option<String>,
    pub port: Option<u16>,
    pub key: Option<PathBuf>,
    /// `ansible_ssh_common_args` then `ansible_ssh_extra_args`.
    pub args: String,
    pub password: Option<String>,
}

const MAX_HOPS: usize = 8;

/// Resolves `given` against `base` (plumb's settings: known_hosts, checking, timeouts).
pub(crate) fn resolve(given: &Given, base: &SshConfig) -> std::result::Result<Target, String> {
    let s = settings();
    let local = s.local.clone().unwrap_or_else(Local::current);
    resolve_with(given, base, &s, &local)
}

fn resolve_with(
    given: &Given,
    base: &SshConfig,
    s: &Settings,
    local: &Local,
) -> std::result::Result<Target, String> {
    let hc = host_config(&given.name, given.user.as_deref(), &given.args, s, local)?;
    let mut ssh = apply(base, &given.name, given, &hc, s, local);
    ssh.extra.password = given.password.clone().or_else(|| s.password.clone());
    let mut applied = hc.applied.clone();
    let mut jumps = Vec::new();
    match hc.proxy_jump.clone() {
        Some(hops) if !hops.is_empty() => {
            jumps = chain(&hops, base, s, local, &mut applied, 0)?;
        }
        _ => {}
    }
    let proxy_command = match (&hc.proxy_jump, &hc.proxy_command) {
        (Some(h), _) if !h.is_empty() => None,
        (_, Some(Some(cmd))) => Some(proxy_tokens(cmd, &given.name, &ssh)),
        _ => None,
    };
    Ok(Target {
        jumps,
        proxy_command,
        ssh,
        applied,
    })
}

/// The hops of a ProxyJump list, each reached through those before it; a first hop that has a
/// ProxyJump of its own is reached through that, as `ssh -J` does.
fn chain(
    hops: &[Jump],
    base: &SshConfig,
    s: &Settings,
    local: &Local,
    applied: &mut Vec<String>,
    depth: usize,
) -> std::result::Result<Vec<SshConfig>, String> {
    if depth > MAX_HOPS {
        return Err("ProxyJump: too many hops (a loop in the ssh config?)".into());
    }
    let mut out = Vec::new();
    for (i, hop) in hops.iter().enumerate() {
        let given = Given {
            name: hop.host.clone(),
            user: hop.user.clone(),
            port: hop.port,
            ..Given::default()
        };
        let hc = host_config(&hop.host, hop.user.as_deref(), "", s, local)?;
        applied.extend(
            hc.applied
                .iter()
                .map(|l| format!("(jump {}) {l}", hop.host)),
        );
        if i == 0
            && let Some(own) = &hc.proxy_jump
            && !own.is_empty()
        {
            out = chain(own, base, s, local, applied, depth + 1)?;
        }
        let mut cfg = apply(base, &hop.host, &given, &hc, s, local);
        // A jump host gets no inventory password and no inventory key.
        cfg.extra.password = None;
        out.push(cfg);
    }
    if out.len() > MAX_HOPS {
        return Err("ProxyJump: too many hops".into());
    }
    Ok(out)
}

/// The config for `name`: ssh args first (as `-o` options come before the config file), then
/// the config file.
fn host_config(
    name: &str,
    user: Option<&str>,
    args: &str,
    s: &Settings,
    local: &Local,
) -> std::result::Result<HostConfig, String> {
    let opts = args_to_config(args)?;
    let mut hc = if opts.is_empty() {
        HostConfig::default()
    } else {
        ClientConfig::parse(Path::new("ansible_ssh_args"), &opts, local)
            .map_err(|e| format!("ansible_ssh_common_args/extra_args: {e}"))?
            .host(name, user, local)
    };
    if let Some(cfg) = &s.config {
        let file = cfg.host(name, user.or(hc.user.as_deref()), local);
        merge(&mut hc, file);
    }
    Ok(hc)
}

/// `b` under `a`: a's values win, identity files accumulate.
fn merge(a: &mut HostConfig, b: HostConfig) {
    macro_rules! or {
        ($($f:ident),*) => { $( if a.$f.is_none() { a.$f = b.$f; } )* };
    }
    or!(
        hostname,
        user,
        port,
        identities_only,
        identity_agent,
        proxy_jump,
        proxy_command,
        strict_host_key_checking,
        host_key_alias,
        connect_timeout,
        server_alive_interval,
        server_alive_count_max
    );
    a.identity_files.extend(b.identity_files);
    if a.user_known_hosts_files.is_empty() {
        a.user_known_hosts_files = b.user_known_hosts_files;
    }
    a.applied.extend(b.applied);
}

/// `-o Key=Value`, `-oKey=Value`, `-J hops`, `-i key`, `-p port`, `-l user` as config lines;
/// other options are ignored.
fn args_to_config(args: &str) -> std::result::Result<String, String> {
    if args.trim().is_empty() {
        return Ok(String::new());
    }
    let words = crate::shell::split(args).map_err(|e| format!("ansible_ssh_*_args: {e}"))?;
    let mut out = String::new();
    let mut it = words.into_iter();
    while let Some(w) = it.next() {
        let (flag, inline) = match w.strip_prefix('-') {
            Some(rest) if !rest.is_empty() && !rest.starts_with('-') => {
                let (f, v) = rest.split_at(1);
                (f.to_string(), (!v.is_empty()).then(|| v.to_string()))
            }
            _ => continue,
        };
        let key = match flag.as_str() {
            "o" => None,
            "J" => Some("ProxyJump"),
            "i" => Some("IdentityFile"),
            "p" => Some("Port"),
            "l" => Some("User"),
            // Flags without a value.
            _ => continue,
        };
        let Some(value) = inline.or_else(|| it.next()) else {
            return Err(format!("ansible_ssh_*_args: `-{flag}` needs a value"));
        };
        let value = value.replace('\n', " ");
        match key {
            Some(k) => out.push_str(&format!("{k} \"{value}\"\n")),
            None => out.push_str(&format!("{value}\n")),
        }
    }
    Ok(out)
}

/// The host's settings: inventory, then config, then plumb's (flags win over the config for
/// known_hosts, checking, timeouts).
fn apply(
    base: &SshConfig,
    name: &str,
    given: &Given,
    hc: &HostConfig,
    s: &Settings,
    local: &Local,
) -> SshConfig {
    let mut cfg = base.clone();
    cfg.address = hc.hostname.clone().unwrap_or_else(|| name.to_string());
    cfg.port = given.port.or(hc.port).unwrap_or(22);
    cfg.user = given
        .user
        .clone()
        .or_else(|| hc.user.clone())
        .unwrap_or_else(|| local.user.clone());
    cfg.key_file = given.key.clone();
    if s.known_hosts.is_none()
        && let Some(f) = hc.user_known_hosts_files.first()
    {
        cfg.known_hosts = f.clone();
    }
    if s.checking.is_none()
        && let Some(v) = &hc.strict_host_key_checking
    {
        cfg.checking = match v.as_str() {
            "accept-new" => HostKeyChecking::AcceptNew,
            "no" | "off" | "false" => HostKeyChecking::Off,
            _ => HostKeyChecking::Strict,
        };
    }
    if s.connect_timeout.is_none()
        && let Some(t) = hc.connect_timeout.filter(|t| *t > 0)
    {
        cfg.connect_timeout = Duration::from_secs(t);
    }
    if s.keepalive.is_none()
        && let Some(t) = hc.server_alive_interval
    {
        cfg.keepalive = Duration::from_secs(t);
    }
    cfg.extra = Extra {
        identity_files: hc.identity_files.clone(),
        identities_only: hc.identities_only.unwrap_or(false),
        identity_agent: hc.identity_agent.clone(),
        password: None,
        host_key_alias: hc.host_key_alias.clone(),
        alive_count_max: hc.server_alive_count_max.map(|n| n.max(1) as u32),
    };
    cfg
}

/// `%h %p %r %n %%` in a ProxyCommand.
fn proxy_tokens(cmd: &str, original: &str, cfg: &SshConfig) -> String {
    let mut out = String::new();
    let mut chars = cmd.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('h') => out.push_str(&cfg.address),
            Some('p') => out.push_str(&cfg.port.to_string()),
            Some('r') => out.push_str(&cfg.user),
            Some('n') => out.push_str(original),
            Some('%') => out.push('%'),
            Some(o) => {
                out.push('%');
                out.push(o);
            }
            None => out.push('%'),
        }
    }
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

    fn base() -> SshConfig {
        SshConfig {
            address: String::new(),
            port: 22,
            user: "root".into(),
            key_file: None,
            known_hosts: PathBuf::from("/home/me/.ssh/known_hosts"),
            checking: HostKeyChecking::Strict,
            connect_timeout: Duration::from_secs(10),
            command_timeout: Duration::from_secs(600),
            keepalive: Duration::from_secs(10),
            extra: Extra::default(),
        }
    }

    fn settings(text: &str) -> Settings {
        Settings {
            config: Some(ClientConfig::parse(Path::new("config"), text, &local()).unwrap()),
            ..Settings::default()
        }
    }

    const CONF: &str = "\
Host bastion
  HostName 10.0.0.1
  User jump
  Port 2200
  UserKnownHostsFile /tmp/kh_bastion
Host outer
  HostName 10.9.9.9
Host inner
  ProxyJump outer
  HostName 10.0.0.5
Host web*
  HostName %h.internal
  ProxyJump bastion
  User deploy
  IdentityFile ~/.ssh/web
  IdentitiesOnly yes
  StrictHostKeyChecking accept-new
  ConnectTimeout 3
  ServerAliveInterval 7
  ServerAliveCountMax 2
  HostKeyAlias webalias
Host pc
  ProxyCommand nc %h %p
";

    #[test]
    fn inventory_wins_over_config_and_flags_over_config() {
        let s = settings(CONF);
        let g = Given {
            name: "web1".into(),
            ..Given::default()
        };
        let t = resolve_with(&g, &base(), &s, &local()).unwrap();
        assert_eq!(t.ssh.address, "web1.internal");
        assert_eq!((t.ssh.user.as_str(), t.ssh.port), ("deploy", 22));
        assert_eq!(t.ssh.checking, HostKeyChecking::AcceptNew);
        assert_eq!(t.ssh.connect_timeout, Duration::from_secs(3));
        assert_eq!(t.ssh.keepalive, Duration::from_secs(7));
        assert_eq!(t.ssh.extra.alive_count_max, Some(2));
        assert_eq!(t.ssh.extra.host_key_alias.as_deref(), Some("webalias"));
        assert!(t.ssh.extra.identities_only);
        assert_eq!(
            t.ssh.extra.identity_files,
            [PathBuf::from("/home/me/.ssh/web")]
        );
        assert_eq!(t.jumps.len(), 1);
        let j = &t.jumps[0];
        assert_eq!(
            (j.address.as_str(), j.user.as_str(), j.port),
            ("10.0.0.1", "jump", 2200)
        );
        assert_eq!(j.known_hosts, PathBuf::from("/tmp/kh_bastion"));
        assert!(t.applied.iter().any(|l| l.starts_with("config:12:1")));

        let g = Given {
            name: "web1".into(),
            user: Some("inv".into()),
            port: Some(2022),
            ..Given::default()
        };
        let s2 = Settings {
            checking: Some(HostKeyChecking::Strict),
            connect_timeout: Some(Duration::from_secs(10)),
            ..settings(CONF)
        };
        let t = resolve_with(&g, &base(), &s2, &local()).unwrap();
        assert_eq!((t.ssh.user.as_str(), t.ssh.port), ("inv", 2022));
        assert_eq!(t.ssh.checking, HostKeyChecking::Strict);
        assert_eq!(t.ssh.connect_timeout, Duration::from_secs(10));
    }

    #[test]
    fn args_win_over_config() {
        let s = settings(CONF);
        let g = Given {
            name: "web1".into(),
            args: "-C -o StrictHostKeyChecking=no -oUser=ops -J u@b1:2,b2 -p 2222 -i /k".into(),
            ..Given::default()
        };
        let t = resolve_with(&g, &base(), &s, &local()).unwrap();
        assert_eq!(t.ssh.checking, HostKeyChecking::Off);
        assert_eq!((t.ssh.user.as_str(), t.ssh.port), ("ops", 2222));
        assert_eq!(
            t.ssh.extra.identity_files,
            [PathBuf::from("/k"), PathBuf::from("/home/me/.ssh/web")]
        );
        let hops: Vec<_> = t
            .jumps
            .iter()
            .map(|j| format!("{}@{}:{}", j.user, j.address, j.port))
            .collect();
        assert_eq!(hops, ["u@b1:2", "me@b2:22"]);
        assert!(args_to_config("-o").is_err());
        // The usual Ansible bastion line.
        let g = Given {
            name: "10.1.1.1".into(),
            args: "-o ProxyCommand=\"ssh -W %h:%p -q ops@bastion\"".into(),
            ..Given::default()
        };
        let t = resolve_with(&g, &base(), &s, &local()).unwrap();
        assert_eq!(
            t.proxy_command.as_deref(),
            Some("ssh -W 10.1.1.1:22 -q ops@bastion")
        );
        assert!(t.jumps.is_empty());
    }

    #[test]
    fn nested_jumps_none_and_proxy_command() {
        let s = settings(&format!("Host web9\n  ProxyJump none\n{CONF}"));
        let g = |n: &str| Given {
            name: n.into(),
            ..Given::default()
        };
        let t = resolve_with(&g("web9"), &base(), &s, &local()).unwrap();
        assert!(t.jumps.is_empty());
        let t = resolve_with(&g("pc"), &base(), &s, &local()).unwrap();
        assert_eq!(t.proxy_command.as_deref(), Some("nc pc 22"));
        let s = settings("Host a\n  ProxyJump inner,b\nHost inner\n  ProxyJump outer\n");
        let t = resolve_with(&g("a"), &base(), &s, &local()).unwrap();
        let hops: Vec<_> = t.jumps.iter().map(|j| j.address.clone()).collect();
        assert_eq!(hops, ["outer", "inner", "b"]);
        let s = settings("Host a\n  ProxyJump a\n");
        assert!(resolve_with(&g("a"), &base(), &s, &local()).is_err());
    }
}
