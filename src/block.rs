//! `block` / `rescue` / `always`: which of a block's tasks still run after a failure, and
//! whether the failure is rescued or goes on to the enclosing block, and from there to the host.

use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Section {
    Main,
    Rescue,
    Always,
}

/// Where a task sits in one block (one level of nesting).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BlockPos {
    /// Index into the play's blocks.
    pub(crate) id: usize,
    pub(crate) section: Section,
}

#[derive(Debug, Clone)]
pub(crate) struct BlockInfo {
    pub(crate) has_rescue: bool,
}

#[derive(Debug, Default, Clone, Copy)]
struct State {
    main_failed: bool,
    rescue_failed: bool,
    always_failed: bool,
}

/// The blocks of one host's run, walked task by task in play order.
pub(crate) struct Blocks<'a> {
    info: &'a [BlockInfo],
    state: HashMap<usize, State>,
    /// The blocks around the current task, outermost first.
    open: Vec<BlockPos>,
}

impl<'a> Blocks<'a> {
    pub(crate) fn new(info: &'a [BlockInfo]) -> Blocks<'a> {
        Blocks {
            info,
            state: HashMap::new(),
            open: Vec::new(),
        }
    }

    /// Moves to a task inside `stack` (outermost first), closing the blocks left behind.
    /// False: a failure that nothing rescued reached the play, and the host has failed.
    pub(crate) fn enter(&mut self, stack: &[BlockPos]) -> bool {
        let keep = self
            .open
            .iter()
            .zip(stack)
            .take_while(|(a, b)| a.id == b.id)
            .count();
        while self.open.len() > keep {
            if !self.close_innermost() {
                return false;
            }
        }
        self.open = stack.to_vec();
        true
    }

    /// Whether the current task runs: in every block around it, its section is live.
    pub(crate) fn runs(&self) -> bool {
        self.open.iter().all(|p| {
            let st = self.state.get(&p.id).copied().unwrap_or_default();
            match p.section {
                Section::Main => !st.main_failed,
                Section::Rescue => st.main_failed && !st.rescue_failed,
                Section::Always => !st.always_failed,
            }
        })
    }

    /// The current task failed. False: no block holds it, so the host has failed.
    pub(crate) fn fail(&mut self) -> bool {
        match self.open.last().copied() {
            None => false,
            Some(p) => {
                self.mark(p);
                true
            }
        }
    }

    /// At the end of the play: closes what is open. False if the host has failed.
    pub(crate) fn finish(&mut self) -> bool {
        while !self.open.is_empty() {
            if !self.close_innermost() {
                return false;
            }
        }
        true
    }

    fn mark(&mut self, p: BlockPos) {
        let st = self.state.entry(p.id).or_default();
        match p.section {
            Section::Main => st.main_failed = true,
            Section::Rescue => st.rescue_failed = true,
            Section::Always => st.always_failed = true,
        }
    }

    /// A block ends: failed if its tasks failed and no rescue made up for it, or its `always`
    /// failed; then the failure belongs to the section of the block around it.
    fn close_innermost(&mut self) -> bool {
        let b = self.open.pop().expect("a block is open");
        let st = self.state.remove(&b.id).unwrap_or_default();
        let rescued = self.info[b.id].has_rescue && !st.rescue_failed;
        if !((st.main_failed && !rescued) || st.always_failed) {
            return true;
        }
        self.fail()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Section::*;

    fn at(v: &[(usize, Section)]) -> Vec<BlockPos> {
        v.iter()
            .map(|&(id, section)| BlockPos { id, section })
            .collect()
    }

    /// Walks `tasks` (stack, fails?) and returns which ran, and whether the host survived.
    fn walk(info: &[BlockInfo], tasks: &[(&[(usize, Section)], bool)]) -> (Vec<usize>, bool) {
        let mut b = Blocks::new(info);
        let mut ran = Vec::new();
        for (i, (stack, fails)) in tasks.iter().enumerate() {
            if !b.enter(&at(stack)) {
                return (ran, false);
            }
            if !b.runs() {
                continue;
            }
            ran.push(i);
            if *fails && !b.fail() {
                return (ran, false);
            }
        }
        let ok = b.finish();
        (ran, ok)
    }

    const WITH_RESCUE: &[BlockInfo] = &[BlockInfo { has_rescue: true }];
    const NO_RESCUE: &[BlockInfo] = &[BlockInfo { has_rescue: false }];

    #[test]
    fn rescue_runs_only_after_a_failure_and_saves_the_host() {
        let b: &[(usize, Section)] = &[(0, Main)];
        let r: &[(usize, Section)] = &[(0, Rescue)];
        let a: &[(usize, Section)] = &[(0, Always)];
        let plain: (&[(usize, Section)], bool) = (&[], false);
        // No failure: main and always, no rescue.
        let t = [(b, false), (b, false), (r, false), (a, false), plain];
        assert_eq!(walk(WITH_RESCUE, &t), (vec![0, 1, 3, 4], true));
        // Failure: the rest of main skipped, rescue and always run, the play goes on.
        let t = [(b, true), (b, false), (r, false), (a, false), plain];
        assert_eq!(walk(WITH_RESCUE, &t), (vec![0, 2, 3, 4], true));
        // The rescue fails too: always still runs, then the host fails.
        let t = [(b, true), (r, true), (r, false), (a, false), plain];
        assert_eq!(walk(WITH_RESCUE, &t), (vec![0, 1, 3], false));
        // No rescue: always runs, then the host fails.
        let t = [(b, true), (a, false), plain];
        assert_eq!(walk(NO_RESCUE, &t), (vec![0, 1], false));
        // A failing always fails the host even after a good main.
        let t = [(b, false), (a, true), (a, false), plain];
        assert_eq!(walk(NO_RESCUE, &t), (vec![0, 1], false));
        // The block is the last thing in the play: its end is the play's.
        let t = [(b, true), (a, false)];
        assert_eq!(walk(NO_RESCUE, &t), (vec![0, 1], false));
    }

    #[test]
    fn an_unrescued_inner_block_fails_the_outer_one() {
        let info = [
            BlockInfo { has_rescue: true },
            BlockInfo { has_rescue: false },
        ];
        let inner: &[(usize, Section)] = &[(0, Main), (1, Main)];
        let inner_always: &[(usize, Section)] = &[(0, Main), (1, Always)];
        let outer_main: &[(usize, Section)] = &[(0, Main)];
        let outer_rescue: &[(usize, Section)] = &[(0, Rescue)];
        let t = [
            (inner, true),
            (inner, false),
            (inner_always, false),
            (outer_main, false),
            (outer_rescue, false),
        ];
        assert_eq!(walk(&info, &t), (vec![0, 2, 4], true));
    }
}
