//! The command line.

use crate::report::OutputFormat;
use crate::transport::ssh::HostKeyChecking;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "plumb",
    version,
    about = "Agentless, idempotent provisioning over SSH: Ansible's playbooks, an honest plan, fast runs."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Bring hosts to the state the playbook describes, changing only what differs.
    Apply(RunArgs),
    /// Dry run: read every host's state and show what apply would change, with diffs.
    /// Changes nothing (same as `apply --check --diff`).
    Plan(RunArgs),
    /// Check the playbook, inventory, variables and templates without connecting to any host.
    Validate(RunArgs),
    /// Show the hosts a pattern selects and their merged variables.
    Inventory(InventoryArgs),
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// The playbook (YAML, Ansible syntax).
    pub playbook: PathBuf,
    /// Inventory: a YAML or INI file (Ansible formats), or `host1,host2,`.
    #[arg(short = 'i', long = "inventory")]
    pub inventory: String,
    /// Extra variables, highest precedence: KEY=VALUE, a JSON/YAML mapping, or @FILE.
    #[arg(short = 'e', long = "extra-vars", value_name = "KEY=VALUE")]
    pub extra_vars: Vec<String>,
    /// Only these hosts: names, groups, globs, `!exclude`, `&intersect`, `@retry-file`.
    #[arg(short = 'l', long)]
    pub limit: Option<String>,
    /// Output format: lines for people, or one JSON document on stdout.
    #[arg(long, value_enum, default_value = "human")]
    pub output: OutputFormat,
    /// More detail: each task's changes and the commands sent (-v), scripts and output (-vv).
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Dry run (what `plumb plan` does).
    #[arg(short = 'C', long)]
    pub check: bool,
    /// Show unified diffs of file contents as they change.
    #[arg(short = 'D', long)]
    pub diff: bool,
    /// How many hosts run at once.
    #[arg(short = 'f', long, default_value_t = 50)]
    pub forks: usize,
    /// Rolling batches for every play: a count, a percentage, or a list like 1,30%,100%.
    #[arg(long)]
    pub serial: Option<String>,
    /// Host key policy: strict (refuse unknown keys), accept-new (record unknown keys, refuse
    /// changed ones), off.
    #[arg(long, value_enum, default_value = "strict")]
    pub host_key_checking: HostKeyChecking,
    /// known_hosts file [default: ~/.ssh/known_hosts].
    #[arg(long)]
    pub known_hosts: Option<PathBuf>,
    /// Seconds to wait for a connection, and for a command that prints nothing.
    #[arg(long, default_value_t = 10)]
    pub timeout: u64,
    /// Seconds a remote command may stay silent before the host counts as lost.
    #[arg(long, default_value_t = 600)]
    pub command_timeout: u64,
}

#[derive(Args, Debug)]
pub struct InventoryArgs {
    #[arg(short = 'i', long = "inventory")]
    pub inventory: String,
    #[arg(short = 'l', long)]
    pub limit: Option<String>,
    /// List the selected hosts with their variables (the default).
    #[arg(long)]
    pub list: bool,
    /// Show one host's variables.
    #[arg(long)]
    pub host: Option<String>,
}
