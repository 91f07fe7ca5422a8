//! The command line.

use crate::report::OutputFormat;
use crate::transport::host_key_checking::HostKeyChecking;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("PLUMB_GIT_REV"), ")");

#[derive(Parser, Debug)]
#[command(
    name = "plumb",
    version = VERSION,
    about = "Agentless, idempotent provisioning over SSH: Ansible's playbooks, an honest plan, fast runs.",
    after_help = "Defaults for the flags marked [config] can be set in plumb.toml (see the README)."
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand, Debug)]
pub(crate) enum Command {
    /// Bring hosts to the state the playbook describes, changing only what differs.
    Apply(RunArgs),
    /// Dry run: read every host's state and show what apply would change, with diffs.
    /// Changes nothing (same as `apply --check --diff`).
    Plan(RunArgs),
    /// Check the playbook, inventory, variables and templates without connecting to any host.
    Validate(RunArgs),
    /// Show the hosts a pattern selects and their merged variables.
    Inventory(InventoryArgs),
    /// Ansible Vault files and strings: encrypt, decrypt, view, edit, rekey, encrypt_string.
    /// What this writes `ansible-vault` reads, and the other way round.
    Vault(VaultArgs),
    /// Merge the `--output json` results of several runs (e.g. `--shard` slices) into one recap
    /// and one exit code.
    Recap(RecapArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print plumb's man page (roff), e.g. `plumb man > /usr/local/share/man/man1/plumb.1`.
    Man,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Color {
    /// Colour on a terminal, unless NO_COLOR is set.
    Auto,
    Always,
    Never,
}

#[derive(Args, Debug)]
pub(crate) struct RunArgs {
    /// The playbook (YAML, Ansible syntax).
    pub(crate) playbook: PathBuf,
    /// Inventory: a YAML or INI file (Ansible formats), or `host1,host2,`. [config]
    #[arg(short = 'i', long = "inventory")]
    pub(crate) inventory: Option<String>,
    /// Extra variables, highest precedence: KEY=VALUE, a JSON/YAML mapping, or @FILE.
    #[arg(short = 'e', long = "extra-vars", value_name = "KEY=VALUE")]
    pub(crate) extra_vars: Vec<String>,
    /// Only these hosts: names, groups, globs, `!exclude`, `&intersect`, `@retry-file`.
    #[arg(short = 'l', long)]
    pub(crate) limit: Option<String>,
    /// Only tasks with one of these tags (comma-separated; `all`, `tagged`, `untagged`).
    #[arg(short = 't', long, value_name = "TAGS")]
    pub(crate) tags: Vec<String>,
    /// Not tasks with one of these tags (comma-separated).
    #[arg(long, value_name = "TAGS")]
    pub(crate) skip_tags: Vec<String>,
    /// Output format: lines for people, or one JSON document on stdout.
    #[arg(long, value_enum, default_value = "human")]
    pub(crate) output: OutputFormat,
    /// More detail: probe results and commands sent (-v); whole scripts and raw output (-vv).
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count)]
    pub(crate) verbose: u8,
    /// Colour: auto (terminal and no NO_COLOR), always, never.
    #[arg(long, value_enum, default_value = "auto")]
    pub(crate) color: Color,
    /// Dry run (what `plumb plan` does).
    #[arg(short = 'C', long)]
    pub(crate) check: bool,
    /// Show unified diffs of file contents as they change.
    #[arg(short = 'D', long)]
    pub(crate) diff: bool,
    /// Run notified handlers on a host even after a task failed on it (the play keyword
    /// `force_handlers`, for every play).
    #[arg(long)]
    pub(crate) force_handlers: bool,
    /// How many hosts run at once [default: 50]. [config]
    #[arg(short = 'f', long)]
    pub(crate) forks: Option<usize>,
    /// Rolling batches for every play: a count, a percentage, or a list like 1,30%,100%.
    #[arg(long)]
    pub(crate) serial: Option<String>,
    /// Only the K-th of N slices of the selected hosts (1 <= K <= N), to spread a fleet over
    /// CI runners; merge their JSON results with `plumb recap`.
    #[arg(long, value_name = "K/N")]
    pub(crate) shard: Option<String>,
    /// Host key policy: strict (refuse unknown keys), accept-new (record unknown keys, refuse
    /// changed ones), off [default: strict]. [config]
    #[arg(long, value_enum)]
    pub(crate) host_key_checking: Option<HostKeyChecking>,
    /// known_hosts file [default: ~/.ssh/known_hosts]. [config]
    #[arg(long)]
    pub(crate) known_hosts: Option<PathBuf>,
    /// Seconds to wait for a connection [default: 10]. [config]
    #[arg(long)]
    pub(crate) timeout: Option<u64>,
    /// Seconds a remote command may stay silent before the host counts as lost [default: 600].
    #[arg(long)]
    pub(crate) command_timeout: Option<u64>,
    /// Seconds between SSH keepalives while waiting on a host; one that answers none for three
    /// of them counts as lost. 0: off [default: 10]. [config]
    #[arg(long)]
    pub(crate) keepalive: Option<u64>,
    /// Seconds to wait for another plumb run on the same host to finish.
    #[arg(long, default_value_t = 300)]
    pub(crate) lock_timeout: u64,
    /// Ask for the sudo password (for `become`) once, without echo.
    #[arg(short = 'K', long)]
    pub(crate) ask_become_pass: bool,
    /// Ask for the SSH login password once, without echo (for hosts without keys; below
    /// `ansible_password`).
    #[arg(short = 'k', long)]
    pub(crate) ask_pass: bool,
    /// OpenSSH client config to read (Host/Match, HostName, User, Port, IdentityFile, ProxyJump,
    /// …), or `none` [default: ~/.ssh/config]. Inventory values win over it. [config]
    #[arg(long, value_name = "PATH|none")]
    pub(crate) ssh_config: Option<String>,
    /// Config file [default: ./plumb.toml, then ~/.config/plumb/plumb.toml].
    #[arg(long, env = "PLUMB_CONFIG")]
    pub(crate) config: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) vault: VaultSecretArgs,
}

/// Where vault passwords come from (run commands and `plumb vault` alike).
#[derive(Args, Debug, Default, Clone)]
pub(crate) struct VaultSecretArgs {
    /// A file holding the vault password, or an executable that prints it (repeatable).
    /// Default: PLUMB_VAULT_PASSWORD_FILE, then `vault_password_file` in plumb.toml. [config]
    #[arg(long, global = true, value_name = "PATH")]
    pub(crate) vault_password_file: Vec<PathBuf>,
    /// A labelled vault password: [LABEL@]SOURCE, SOURCE a file, an executable or `prompt`
    /// (repeatable).
    #[arg(long, global = true, value_name = "[LABEL@]SOURCE")]
    pub(crate) vault_id: Vec<String>,
    /// Ask for the vault password once, without echo.
    #[arg(short = 'J', long, global = true)]
    pub(crate) ask_vault_pass: bool,
}

#[derive(Args, Debug)]
pub(crate) struct VaultArgs {
    #[command(subcommand)]
    pub(crate) action: VaultAction,
    #[command(flatten)]
    pub(crate) secrets: VaultSecretArgs,
    /// The vault id to encrypt with when several are given.
    #[arg(long, global = true, value_name = "LABEL")]
    pub(crate) encrypt_vault_id: Option<String>,
    /// Config file [default: ./plumb.toml, then ~/.config/plumb/plumb.toml].
    #[arg(long, global = true, env = "PLUMB_CONFIG")]
    pub(crate) config: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub(crate) enum VaultAction {
    /// Encrypt files in place (or to --output).
    Encrypt {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Write here instead of in place (`-`: stdout); one input file only.
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Decrypt files in place (or to --output).
    Decrypt {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Write here instead of in place (`-`: stdout); one input file only.
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Print decrypted files on stdout.
    View {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Decrypt a file into $EDITOR (default vi) and encrypt it again; a new file is created.
    Edit { file: PathBuf },
    /// Encrypt files again with a new password.
    Rekey {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// The new password's file or executable.
        #[arg(long, value_name = "PATH")]
        new_vault_password_file: Option<PathBuf>,
        /// The new password as [LABEL@]SOURCE.
        #[arg(long, value_name = "[LABEL@]SOURCE")]
        new_vault_id: Option<String>,
    },
    /// Print a string as a YAML `!vault` value (read from stdin when no string is given).
    #[command(name = "encrypt_string", alias = "encrypt-string")]
    EncryptString {
        /// The strings to encrypt.
        strings: Vec<String>,
        /// The variable name to print before each value.
        #[arg(short = 'n', long = "name")]
        names: Vec<String>,
        /// Read the string from stdin and print it under this name.
        #[arg(long)]
        stdin_name: Option<String>,
    },
}

#[derive(Args, Debug)]
pub(crate) struct RecapArgs {
    /// JSON results written by `plumb apply|plan --output json`.
    #[arg(required = true)]
    pub(crate) files: Vec<PathBuf>,
    /// Output format: the recap for people, or the merged JSON document.
    #[arg(long, value_enum, default_value = "human")]
    pub(crate) output: OutputFormat,
    /// Colour: auto (terminal and no NO_COLOR), always, never.
    #[arg(long, value_enum, default_value = "auto")]
    pub(crate) color: Color,
}

#[derive(Args, Debug)]
pub(crate) struct InventoryArgs {
    /// Inventory file. [config]
    #[arg(short = 'i', long = "inventory")]
    pub(crate) inventory: Option<String>,
    #[arg(short = 'l', long)]
    pub(crate) limit: Option<String>,
    /// List the selected hosts with their groups and variables (the default).
    #[arg(long)]
    pub(crate) list: bool,
    /// Show one host's variables.
    #[arg(long)]
    pub(crate) host: Option<String>,
    /// Config file [default: ./plumb.toml, then ~/.config/plumb/plumb.toml].
    #[arg(long, env = "PLUMB_CONFIG")]
    pub(crate) config: Option<PathBuf>,
}
