//! `Mark`: what the engine must know of a module before building it, written on its registry
//! row, so that no engine file decides by a module's name.

use super::args::Args;
use std::path::Path;

/// One thing a registry row says about its module beyond its arguments and its action.
pub(crate) enum Mark {
    /// It only reads the host, so `check_mode: false` may run it in `plumb plan` too.
    RunsInPlan,
    /// It may return `ansible_facts`, which join the host's facts (validation counts the
    /// facts as known).
    ReturnsFacts,
    /// It prints and touches nothing: when what it shows is known only once applied, a plan
    /// skips it rather than saying it may change.
    PrintsOnly,
    /// It steers the play itself (`meta`): tags never leave it out, and `flush_handlers` runs
    /// in place.
    SteersPlay,
    /// It sets variables for the host's later tasks; the function gives their names as far as
    /// they are known before the run (its arguments as written, the playbook's folder, the
    /// role's).
    SetsVars(fn(&Args, &Path, Option<&Path>) -> Vec<String>),
    /// The fields its registered result may hold (see `returns.rs`): a plan calls a read of
    /// any other a typo.
    Returns(&'static [&'static str]),
    /// These arguments are expressions, not templates (`assert`'s `that`, `debug`'s `var`):
    /// a plan reads them as conditions.
    Expressions(&'static [&'static str]),
}
