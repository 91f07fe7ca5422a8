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
// Gathered into the batched probe once facts are wired into the engine; until then only its tests use it.
#[allow(dead_code)]
mod facts;
mod host_run;
mod host_vars;
mod http;
mod inventory;
mod item_batch;
mod jinja_filters;
mod jinja_filters2;
mod jinja_json;
mod jinja_lookups;
mod jinja_regex;
mod jinja_rewrite;
mod jinja_tests;
mod jinja_text;
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
mod py_format;
mod py_methods;
mod py_mutable;
mod py_random;
mod py_strformat;
mod py_value;
mod reach;
mod report;
mod run;
mod runner;
mod serial;
mod shard;
mod shell;
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
// The template engine's API, also used by the template tests in tests/.
pub mod jinja;
pub mod jinja_yaml;

pub use run::run;
