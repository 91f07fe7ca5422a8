//! The command line: each subcommand, and the one place where errors are printed and exit codes
//! chosen.

use crate::cli::{self, Cli, Command, RunArgs};
use crate::error::{Error, Result};
use crate::options::Options;
use crate::{config, inventory, playbook, prompt, report, runner, vault, vault_cli};
use clap::Parser;
use serde_json::{Map, Value};

/// Runs the command line; returns the process exit code. Errors are printed here and only here.
pub fn run() -> i32 {
    crate::env_secrets::take_env_secrets();
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
    let mut playbook = playbook::Playbook::load(&a.playbook)?;
    let opts = Options::new(&a, d, plan)?;
    for play in &mut playbook.plays {
        let answers =
            crate::vars_prompt::answers(&play.vars_prompt, &opts.extra_vars, !validate_only)?;
        play.add_prompted(answers);
    }
    crate::host_vars::install_extra(&opts.extra_vars);
    // How hosts are reached (~/.ssh/config): read now, so its errors come before any host.
    let local = crate::ssh_config::Local::current();
    crate::reach::install(crate::reach::Settings {
        config: crate::reach::load_config(
            a.ssh_config.as_deref().or(d.ssh_config.as_deref()),
            &local,
        )?,
        local: Some(local),
        known_hosts: a
            .known_hosts
            .clone()
            .or(d.known_hosts.as_deref().map(crate::paths::expand)),
        checking: a.host_key_checking.or(d.host_key_checking),
        connect_timeout: a
            .timeout
            .or(d.timeout)
            .map(|t| std::time::Duration::from_secs(t.max(1))),
        keepalive: a
            .keepalive
            .or(d.keepalive)
            .map(std::time::Duration::from_secs),
        password: if a.ask_pass && (plan || !validate_only) {
            Some(prompt::password("SSH password: ").map_err(Error::with_path("/dev/tty"))?)
        } else {
            None
        },
    });
    let mut runner = runner::Runner::new(&playbook, &inventory, &opts);
    crate::validate::validate(&runner)?;
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
        crate::env_secrets::env_become_pass()
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
