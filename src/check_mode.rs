//! `check_mode` on a task (or the play, block or role around it): whether the task is only
//! planned, runs for real even in a plan, or follows the run; and what its
//! `ansible_check_mode` says.

/// How one task runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Runs {
    /// Planned and applied as the run goes (`plan` plans, `apply` applies).
    AsTheRun,
    /// Planned only, also under `apply`: nothing is written (`check_mode: true`).
    PlannedOnly,
    /// Run for real, also in a plan: a read-only module under `check_mode: false`.
    ForReal,
}

/// What the effective `check_mode` (`None`: no level set it) makes of a task of a module that
/// only reads (`read_only`: `command`, `shell`, `uri`) or is the engine's own (`engine`:
/// `debug`, `set_fact` ..., which a plan runs anyway). `check_mode: false` on another module
/// keeps it planned in a plan: a plan never changes a host (on the task itself it is an error,
/// see `Task::parse`).
pub(crate) fn runs(check_mode: Option<bool>, read_only: bool) -> Runs {
    match check_mode {
        Some(true) => Runs::PlannedOnly,
        Some(false) if read_only => Runs::ForReal,
        _ => Runs::AsTheRun,
    }
}

/// The task's own `ansible_check_mode`, when it differs from the run's (`None`: the run's).
pub(crate) fn ansible_check_mode(
    check_mode: Option<bool>,
    read_only: bool,
    engine: bool,
) -> Option<bool> {
    match check_mode {
        Some(true) => Some(true),
        Some(false) if read_only || engine => Some(false),
        _ => None,
    }
}

impl crate::task::Task {
    /// Settles what the task's effective `check_mode` makes of it: whether it runs in a plan,
    /// or is only planned; its `ansible_check_mode`. Called again when a level around it
    /// gives it one.
    pub(crate) fn settle_check_mode(&mut self) {
        use crate::modules::registry;
        let c = self.check_mode.as_ref().map(|c| c.value);
        let read_only = registry::runs_in_plan(&self.module);
        let engine = registry::engine_only(&self.module);
        self.runs_in_plan = runs(c, read_only) == Runs::ForReal;
        if let Some(b) = ansible_check_mode(c, read_only, engine) {
            self.vars.insert("ansible_check_mode".into(), b.into());
        }
    }

    /// `check_mode: true`: planned only, also under `apply`.
    pub(crate) fn planned_only(&self) -> bool {
        self.check_mode.as_ref().is_some_and(|c| c.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (check_mode, read-only module, engine action) → how it runs, its `ansible_check_mode`.
    #[test]
    fn check_mode_decides_how_a_task_runs() {
        use Runs::*;
        type Row = (Option<bool>, bool, bool, Runs, Option<bool>);
        let table: &[Row] = &[
            (None, false, false, AsTheRun, None),
            (None, true, false, AsTheRun, None),
            (None, false, true, AsTheRun, None),
            (Some(true), false, false, PlannedOnly, Some(true)),
            (Some(true), true, false, PlannedOnly, Some(true)),
            (Some(true), false, true, PlannedOnly, Some(true)),
            (Some(false), true, false, ForReal, Some(false)),
            // An engine action runs in a plan anyway: it says so.
            (Some(false), false, true, AsTheRun, Some(false)),
            // A module that writes stays planned in a plan (from a block's `check_mode: false`).
            (Some(false), false, false, AsTheRun, None),
        ];
        for (c, ro, engine, want, acm) in table {
            assert_eq!(runs(*c, *ro), *want, "{c:?} {ro} {engine}");
            assert_eq!(
                ansible_check_mode(*c, *ro, *engine),
                *acm,
                "{c:?} {ro} {engine}"
            );
        }
    }
}
