//! What building an action may read besides its rendered arguments, and whether it did.

use super::args::Args;
use crate::template::Vars;
use std::cell::Cell;
use std::path::Path;

/// The playbook's directory, the task's role, the host's variables and the arguments as
/// written. Reading the first three makes a build depend on more than its rendered arguments
/// (a `src` file on the control machine, a template rendered with the variables): such an
/// action is built again when it runs, never reused from the batched probe (see
/// `prepared.rs`). Its fields are private so that every such read is counted.
pub(crate) struct BuildCtx<'a> {
    base_dir: &'a Path,
    role_dir: Option<&'a Path>,
    vars: &'a Vars,
    pub(crate) args: &'a Args,
    read: Cell<bool>,
}

impl<'a> BuildCtx<'a> {
    pub(crate) fn new(
        base_dir: &'a Path,
        role_dir: Option<&'a Path>,
        vars: &'a Vars,
        args: &'a Args,
    ) -> BuildCtx<'a> {
        BuildCtx {
            base_dir,
            role_dir,
            vars,
            args,
            read: Cell::new(false),
        }
    }

    /// Directory relative `src` paths resolve against (the playbook's).
    pub(crate) fn base_dir(&self) -> &'a Path {
        self.read.set(true);
        self.base_dir
    }

    /// The task's role, if any: searched first.
    pub(crate) fn role_dir(&self) -> Option<&'a Path> {
        self.read.set(true);
        self.role_dir
    }

    pub(crate) fn vars(&self) -> &'a Vars {
        self.read.set(true);
        self.vars
    }

    /// Whether the build read anything but its arguments.
    pub(crate) fn read_more(&self) -> bool {
        self.read.get()
    }
}
