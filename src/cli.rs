//! The command line.

use crate::report::OutputFormat;
use crate::transport::ssh::HostKeyChecking;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("PLUMB_GIT_REV"), ")");

#[derive(Parser, Debug)]
#[command(
    name = "plumb",
    version = VERSION,
    about = "Agentless, idempotent provisioning over SSH: Ansible's playbooks, an honest plan, fast runs.",
    after_help = "Defaults for the flags marked [config] can be set in plumb.toml (see the README)."
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
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print plumb's man page (roff), e.g. `plumb man > /usr/local/share/man/man1/plumb.1`.
    Man,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Color {
    /// Colour on a terminal, unless NO_COLOR is set.
    Auto,
    Always,
    Never,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// The playbook (YAML, Ansible syntax).
    pub playbook: PathBuf,
    /// Inventory: a YAML or INI file (Ansible formats), or `host1,host2,`. [config]
    #[arg(short = 'i', long = "inventory")]
    pub inventory: Option<String>,
    /// Extra variables, highest precedence: KEY=VALUE, a JSON/YAML mapping, or @FILE.
    #[arg(short = 'e', long = "extra-vars", value_name = "KEY=VALUE")]
    pub extra_vars: Vec<String>,
    /// Only these hosts: names, groups, globs, `!exclude`, `&intersect`, `@retry-file`.
    #[arg(short = 'l', long)]
    pub limit: Option<String>,
    /// Only tasks with one of these tags (comma-separated; `all`, `tagged`, `untagged`).
    #[arg(short = 't', long, value_name = "TAGS")]
    pub tags: Vec<String>,
    /// Not tasks with one of these tags (comma-separated).
    #[arg(long, value_name = "TAGS")]
    pub skip_tags: Vec<String>,
    /// Output format: lines for people, or one JSON document on stdout.
    #[arg(long, value_enum, default_value = "human")]
    pub output: OutputFormat,
    /// More detail: probe results and commands sent (-v); whole scripts and raw output (-vv).
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Colour: auto (terminal and no NO_COLOR), always, never.
    #[arg(long, value_enum, default_value = "auto")]
    pub color: Color,
    /// Dry run (what `plumb plan` does).
    #[arg(short = 'C', long)]
    pub check: bool,
    /// Show unified diffs of file contents as they change.
    #[arg(short = 'D', long)]
    pub diff: bool,
    /// How many hosts run at once [default: 50]. [config]
    #[arg(short = 'f', long)]
    pub forks: Option<usize>,
    /// Rolling batches for every play: a count, a percentage, or a list like 1,30%,100%.
    #[arg(long)]
    pub serial: Option<String>,
    /// Host key policy: strict (refuse unknown keys), accept-new (record unknown keys, refuse
    /// changed ones), off [default: strict]. [config]
    #[arg(long, value_enum)]
    pub host_key_checking: Option<HostKeyChecking>,
    /// known_hosts file [default: ~/.ssh/known_hosts]. [config]
    #[arg(long)]
    pub known_hosts: Option<PathBuf>,
    /// Seconds to wait for a connection [default: 10]. [config]
    #[arg(long)]
    pub timeout: Option<u64>,
    /// Seconds a remote command may stay silent before the host counts as lost [default: 600].
    #[arg(long)]
    pub command_timeout: Option<u64>,
    /// Seconds between SSH keepalives while waiting on a host; one that answers none for three
    /// of them counts as lost. 0: off [default: 10]. [config]
    #[arg(long)]
    pub keepalive: Option<u64>,
    /// Seconds to wait for another plumb run on the same host to finish.
    #[arg(long, default_value_t = 300)]
    pub lock_timeout: u64,
    /// Ask for the sudo password (for `become`) once, without echo.
    #[arg(short = 'K', long)]
    pub ask_become_pass: bool,
    /// Config file [default: ./plumb.toml, then ~/.config/plumb/plumb.toml].
    #[arg(long, env = "PLUMB_CONFIG")]
    pub config: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct InventoryArgs {
    /// Inventory file. [config]
    #[arg(short = 'i', long = "inventory")]
    pub inventory: Option<String>,
    #[arg(short = 'l', long)]
    pub limit: Option<String>,
    /// List the selected hosts with their groups and variables (the default).
    #[arg(long)]
    pub list: bool,
    /// Show one host's variables.
    #[arg(long)]
    pub host: Option<String>,
    /// Config file [default: ./plumb.toml, then ~/.config/plumb/plumb.toml].
    #[arg(long, env = "PLUMB_CONFIG")]
    pub config: Option<PathBuf>,
}
