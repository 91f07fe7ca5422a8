//! plumb: agentless, idempotent provisioning over SSH.

pub mod batch;
pub mod block;
pub mod cli;
pub mod config;
pub mod diagnosis;
pub mod error;
pub mod facts;
pub mod host_run;
pub mod http;
pub mod inventory;
pub mod known_hosts;
pub mod location;
pub mod modules;
pub mod paths;
pub mod playbook;
pub mod probe;
pub mod prompt;
pub mod reach;
pub mod report;
pub mod runner;
pub mod shard;
pub mod shell;
pub mod ssh_config;
pub mod tags;
pub mod task;
pub mod template;
pub mod transport;
pub mod vault;
pub mod vault_cli;
pub mod yaml;
pub mod yaml_load;

use clap::Parser;
use cli::{Cli, Command, RunArgs};
use error::{Error, Result};
use serde_json::{Map, Value};
use std::time::Duration;

/// Environment variables that carry secrets. plumb takes them out of its own environment as
/// the very first thing, so no child process (local commands, tools) and no template sees them.
pub const SECRET_ENV: [&str; 2] = ["PLUMB_BECOME_PASS", "PLUMB_KEY_PASSPHRASE"];

/// The secrets read from the environment at startup (see `SECRET_ENV`).
#[derive(Default)]
pub struct EnvSecrets {
    pub become_pass: Option<String>,
    pub key_passphrase: Option<String>,
}

static ENV_SECRETS: std::sync::Mutex<Option<EnvSecrets>> = std::sync::Mutex::new(None);

/// Reads the secret variables and removes them from the environment. Call before any thread
/// starts (removing a variable while another thread reads the environment is undefined).
pub fn take_env_secrets() {
    let mut got = EnvSecrets::default();
    for (k, slot) in SECRET_ENV
        .iter()
        .zip([&mut got.become_pass, &mut got.key_passphrase])
    {
        *slot = std::env::var(k).ok();
        // SAFETY: called first thing in `run`, while plumb is still single-threaded.
        unsafe { std::env::remove_var(k) };
    }
    *ENV_SECRETS.lock().unwrap_or_else(|e| e.into_inner()) = Some(got);
}

/// The become password from PLUMB_BECOME_PASS, once (taken out of the process at startup).
fn env_become_pass() -> Option<String> {
    ENV_SECRETS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_mut()
        .and_then(|s| s.become_pass.take())
}

/// The private key passphrase from PLUMB_KEY_PASSPHRASE (taken out of the process at startup).
pub fn key_passphrase() -> Option<String> {
    ENV_SECRETS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()
        .and_then(|s| s.key_passphrase.clone())
}

/// Runs the command line; returns the process exit code. Errors are printed here and only here.
pub fn run() -> i32 {
    take_env_secrets();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 5 } else { 0 };
        }
    };
    match execute(cli) {
        Ok(code) => code,
        Err(e) => {
            report::error(&e);
            e.code()
        }
    }
}

fn execute(cli: Cli) -> Result<i32> {
    match cli.command {
        Command::Apply(a) => run_playbook(a, false, false),
        Command::Plan(a) => run_playbook(a, true, true),
        Command::Validate(a) => run_playbook(a, false, true),
        Command::Inventory(a) => show_inventory(a),
        Command::Vault(a) => vault_cli::run(a),
        Command::Recap(a) => recap(a),
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "plumb", &mut std::io::stdout());
            Ok(0)
        }
        Command::Man => {
            let cmd = <Cli as clap::CommandFactory>::command();
            clap_mangen::Man::new(cmd)
                .render(&mut std::io::stdout())
                .map_err(Error::with_path("stdout"))?;
            Ok(0)
        }
    }
}

fn inventory_spec(given: Option<&str>, cfg: &config::Config) -> Result<String> {
    given
        .map(String::from)
        .or_else(|| cfg.defaults.inventory.clone())
        .ok_or_else(|| {
            Error::Usage(
                "no inventory: pass -i INVENTORY, or set `inventory` under [defaults] in plumb.toml"
                    .into(),
            )
        })
}

fn run_playbook(a: RunArgs, plan: bool, validate_only: bool) -> Result<i32> {
    let check = plan || a.check;
    let cfg = config::Config::load(a.config.as_deref())?;
    let d = &cfg.defaults;
    // Vault passwords before any input is read: vaulted files and values are opened as read.
    vault::install(vault_cli::secrets(
        &a.vault,
        d.vault_password_file.as_deref(),
    )?);
    let inventory = inventory::Inventory::load(
        &inventory_spec(a.inventory.as_deref(), &cfg)?,
        a.playbook.parent(),
    )?;
    let playbook = playbook::Playbook::load(&a.playbook)?;
    let serial = match &a.serial {
        None => None,
        Some(s) => Some(parse_serial(s)?),
    };
    let known_hosts = a
        .known_hosts
        .clone()
        .or_else(|| d.known_hosts.as_deref().map(paths::expand))
        .unwrap_or_else(known_hosts::default_path);
    let opts = runner::Options {
        check,
        diff: a.diff || plan,
        forks: a.forks.or(d.forks).unwrap_or(50),
        checking: a
            .host_key_checking
            .or(d.host_key_checking)
            .unwrap_or(transport::ssh::HostKeyChecking::Strict),
        known_hosts,
        connect_timeout: Duration::from_secs(a.timeout.or(d.timeout).unwrap_or(10).max(1)),
        command_timeout: Duration::from_secs(
            a.command_timeout
                .or(d.command_timeout)
                .unwrap_or(600)
                .max(1),
        ),
        keepalive: Duration::from_secs(a.keepalive.or(d.keepalive).unwrap_or(10)),
        extra_vars: extra_vars(&a.extra_vars)?,
        limit: a.limit.clone(),
        tags: tags::TagFilter::new(&a.tags, &a.skip_tags),
        serial,
        verbose: a.verbose,
        lock_timeout: Duration::from_secs(a.lock_timeout),
        default_user: d.remote_user.clone(),
        default_key: d.private_key.as_deref().map(paths::expand),
        shard: a.shard.as_deref().map(shard::Shard::parse).transpose()?,
    };
    // How hosts are reached (~/.ssh/config): read now, so its errors come before any host.
    let local = ssh_config::Local::current();
    reach::install(reach::Settings {
        config: reach::load_config(a.ssh_config.as_deref().or(d.ssh_config.as_deref()), &local)?,
        local: Some(local),
        known_hosts: a
            .known_hosts
            .clone()
            .or(d.known_hosts.as_deref().map(paths::expand)),
        checking: a.host_key_checking.or(d.host_key_checking),
        connect_timeout: a
            .timeout
            .or(d.timeout)
            .map(|t| Duration::from_secs(t.max(1))),
        keepalive: a.keepalive.or(d.keepalive).map(Duration::from_secs),
        password: if a.ask_pass && (plan || !validate_only) {
            Some(prompt::password("SSH password: ").map_err(Error::with_path("/dev/tty"))?)
        } else {
            None
        },
    });
    let mut runner = runner::Runner::new(&playbook, &inventory, &opts);
    runner.validate()?;
    if validate_only && !plan {
        let hosts: usize = playbook
            .plays
            .iter()
            .map(|p| runner.selected(p).map(|h| h.len()).unwrap_or(0))
            .sum();
        report::line(&format!(
            "{}: {} play(s), {} task(s), {hosts} host selection(s): valid",
            a.playbook.display(),
            playbook.plays.len(),
            playbook
                .plays
                .iter()
                .map(|p| p.tasks.len() + p.handlers.len())
                .sum::<usize>()
        ));
        return Ok(0);
    }
    // The sudo password is asked only once the input is known to be good.
    let become_pass = if a.ask_become_pass {
        Some(prompt::password("BECOME password: ").map_err(Error::with_path("/dev/tty"))?)
    } else {
        env_become_pass()
    };
    runner.become_pass = become_pass;
    let color = match a.color {
        cli::Color::Always => true,
        cli::Color::Never => false,
        cli::Color::Auto => report::color_enabled(),
    };
    let mut report = report::Report::new(a.output, a.verbose)
        .with_color(color)
        .with_progress();
    let retry = runner.run(&mut report)?;
    report.finish(retry.as_deref());
    Ok(report.exit_code())
}

fn parse_serial(s: &str) -> Result<Vec<playbook::Serial>> {
    s.split(',')
        .map(|part| {
            let p = part.trim();
            let bad = || {
                Error::Usage(format!(
                    "--serial {s}: `{p}` is not a host count or a percentage"
                ))
            };
            if let Some(pct) = p.strip_suffix('%') {
                match pct.parse::<f64>() {
                    Ok(f) if f > 0.0 && f <= 100.0 => Ok(playbook::Serial::Percent(f)),
                    _ => Err(bad()),
                }
            } else {
                match p.parse::<usize>() {
                    Ok(n) if n > 0 => Ok(playbook::Serial::Count(n)),
                    _ => Err(bad()),
                }
            }
        })
        .collect()
}

/// `-e KEY=VALUE` (value typed like YAML), `-e '{"k": 1}'`, or `-e @vars.yml`.
fn extra_vars(items: &[String]) -> Result<Map<String, Value>> {
    let mut out = Map::new();
    for item in items {
        let text;
        let src = if let Some(file) = item.strip_prefix('@') {
            text = vault::read_text(std::path::Path::new(file))?;
            text.as_str()
        } else {
            item.as_str()
        };
        let t = src.trim_start();
        if item.starts_with('@') || t.starts_with('{') {
            let v: Value = serde_yaml::from_str(src)
                .map_err(|e| Error::Usage(format!("-e `{item}`: not a YAML/JSON mapping: {e}")))?;
            match v {
                Value::Object(m) => out.extend(m),
                _ => return Err(Error::Usage(format!("-e {item}: expected a mapping"))),
            }
            continue;
        }
        let Some((k, v)) = item.split_once('=') else {
            return Err(Error::Usage(format!("-e {item}: expected KEY=VALUE")));
        };
        let starts_ok = k
            .chars()
            .next()
            .is_some_and(|c| c.is_alphabetic() || c == '_');
        if !starts_ok || !k.chars().all(|c| c.is_alphanumeric() || c == '_') {
            return Err(Error::Usage(format!(
                "-e `{item}`: `{k}` is not a variable name (letters, digits and `_`, not starting with a digit)"
            )));
        }
        out.insert(k.to_string(), yaml::typed_scalar(v));
    }
    Ok(out)
}

/// `plumb recap FILE...`: one recap and one exit code for the results of several runs.
fn recap(a: cli::RecapArgs) -> Result<i32> {
    let mut docs = Vec::new();
    for f in &a.files {
        let text = std::fs::read_to_string(f).map_err(Error::with_path(f))?;
        let doc: report::RunDoc = serde_json::from_str(&text).map_err(|e| {
            Error::Usage(format!(
                "{}: not the JSON of `plumb apply|plan --output json`: {e}",
                f.display()
            ))
        })?;
        docs.push((f.display().to_string(), doc));
    }
    let color = match a.color {
        cli::Color::Always => true,
        cli::Color::Never => false,
        cli::Color::Auto => report::color_enabled(),
    };
    let mut report = report::Report::new(a.output, 0).with_color(color);
    report.merge(docs)?;
    report.finish(None);
    Ok(report.exit_code())
}

fn show_inventory(a: cli::InventoryArgs) -> Result<i32> {
    let cfg = config::Config::load(a.config.as_deref())?;
    let inv = inventory::Inventory::load(&inventory_spec(a.inventory.as_deref(), &cfg)?, None)?;
    let hosts = inv.select(a.limit.as_deref().unwrap_or("all"))?;
    if let Some(name) = &a.host {
        let h = hosts
            .iter()
            .find(|h| &h.name == name)
            .ok_or_else(|| Error::Usage(format!("host `{name}` is not in the selection")))?;
        report::json(&h.vars);
        return Ok(0);
    }
    let doc: Map<String, Value> = hosts
        .iter()
        .map(|h| {
            (
                h.name.clone(),
                serde_json::json!({"groups": h.groups, "vars": h.vars}),
            )
        })
        .collect();
    report::json(&doc);
    Ok(0)
}
