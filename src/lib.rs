//! plumb: agentless, idempotent provisioning over SSH.

pub mod cli;
pub mod error;
pub mod host_run;
pub mod http;
pub mod inventory;
pub mod known_hosts;
pub mod location;
pub mod modules;
pub mod paths;
pub mod playbook;
pub mod probe;
pub mod report;
pub mod runner;
pub mod shell;
pub mod task;
pub mod template;
pub mod transport;
pub mod yaml;

use clap::Parser;
use cli::{Cli, Command, RunArgs};
use error::{Error, Result};
use serde_json::{Map, Value};
use std::time::Duration;

/// Runs the command line; returns the process exit code. Errors are printed here and only here.
pub fn run() -> i32 {
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
    }
}

fn run_playbook(a: RunArgs, plan: bool, validate_only: bool) -> Result<i32> {
    let check = plan || a.check;
    let inventory = inventory::Inventory::load(&a.inventory)?;
    let playbook = playbook::Playbook::load(&a.playbook)?;
    let serial = match &a.serial {
        None => None,
        Some(s) => Some(parse_serial(s)?),
    };
    let opts = runner::Options {
        check,
        diff: a.diff || plan,
        forks: a.forks,
        checking: a.host_key_checking,
        known_hosts: a
            .known_hosts
            .clone()
            .unwrap_or_else(known_hosts::default_path),
        connect_timeout: Duration::from_secs(a.timeout.max(1)),
        command_timeout: Duration::from_secs(a.command_timeout.max(1)),
        extra_vars: extra_vars(&a.extra_vars)?,
        limit: a.limit.clone(),
        serial,
    };
    let runner = runner::Runner::new(&playbook, &inventory, &opts);
    runner.validate()?;
    if validate_only && !plan {
        let hosts: usize = playbook
            .plays
            .iter()
            .map(|p| runner.selected(p).map(|h| h.len()).unwrap_or(0))
            .sum();
        println!(
            "{}: {} play(s), {} task(s), {hosts} host selection(s): valid",
            a.playbook.display(),
            playbook.plays.len(),
            playbook
                .plays
                .iter()
                .map(|p| p.tasks.len() + p.handlers.len())
                .sum::<usize>()
        );
        return Ok(0);
    }
    let mut report = report::Report::new(a.output, a.verbose).with_progress();
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
            text = std::fs::read_to_string(file).map_err(Error::with_path(file))?;
            text.as_str()
        } else {
            item.as_str()
        };
        let t = src.trim_start();
        if item.starts_with('@') || t.starts_with('{') {
            let v: Value = serde_yaml::from_str(src)
                .map_err(|e| Error::Usage(format!("-e {item}: not a YAML/JSON mapping: {e}")))?;
            match v {
                Value::Object(m) => out.extend(m),
                _ => return Err(Error::Usage(format!("-e {item}: expected a mapping"))),
            }
            continue;
        }
        let Some((k, v)) = item.split_once('=') else {
            return Err(Error::Usage(format!("-e {item}: expected KEY=VALUE")));
        };
        if k.is_empty() || !k.chars().all(|c| c.is_alphanumeric() || c == '_') {
            return Err(Error::Usage(format!(
                "-e {item}: `{k}` is not a variable name"
            )));
        }
        out.insert(k.to_string(), yaml::typed_scalar(v));
    }
    Ok(out)
}

fn show_inventory(a: cli::InventoryArgs) -> Result<i32> {
    let inv = inventory::Inventory::load(&a.inventory)?;
    let hosts = inv.select(a.limit.as_deref().unwrap_or("all"))?;
    if let Some(name) = &a.host {
        let h = hosts
            .iter()
            .find(|h| &h.name == name)
            .ok_or_else(|| Error::Usage(format!("host `{name}` is not in the selection")))?;
        println!("{}", serde_json::to_string_pretty(&h.vars).expect("json"));
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
    println!("{}", serde_json::to_string_pretty(&doc).expect("json"));
    Ok(0)
}
