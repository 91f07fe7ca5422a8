//! plumb: agentless, idempotent provisioning over SSH.

mod batch;
mod block;
mod cli;
mod config;
mod connection;
mod diagnosis;
mod diff;
mod dry_run;
mod env_secrets;
mod error;
mod event;
mod execute;
mod fact_cache;
mod host_run;
mod host_vars;
mod http;
mod inventory;
mod known_hosts;
mod location;
mod modules;
mod notify;
mod options;
mod outcome;
mod paths;
mod playbook;
mod probe;
mod prompt;
mod report;
mod run;
mod runner;
mod serial;
mod shard;
mod shell;
// Read by connections once ~/.ssh/config support is wired in; until then only its tests use it.
#[allow(dead_code)]
mod ssh_config;
mod tags;
mod task;
mod task_instance;
mod template;
mod transport;
mod vault;
mod vault_cli;
mod yaml;
mod yaml_load;

pub use run::run;
