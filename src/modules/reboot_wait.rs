//! What a module that restarts the host (`reboot`) asks of the engine once its script ran, and
//! the wait itself as a pure state machine: the engine connects and runs what `Next` says,
//! tells it what it `Saw`, and sleeps as long as it is told. As Ansible's reboot: first the boot
//! id must differ from the one read before, then `test_command` must pass, each within
//! `reboot_timeout`, retrying with a growing pause (1, 2, 4, 8, then 12 s). A host that cannot
//! be reached meanwhile is expected, not a failure, until the time is up.

use std::time::Duration;

/// How the engine waits for the host to come back.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Back {
    /// What `boot_command` said before the reboot.
    pub(crate) before: String,
    /// `reboot_timeout`: for the new boot id, then again for `test_command`.
    pub(crate) timeout: Duration,
    /// `connect_timeout`: bounds each connection attempt (the run's own when None).
    pub(crate) connect_timeout: Option<Duration>,
    /// `post_reboot_delay`: the wait before the first look.
    pub(crate) post_delay: Duration,
    pub(crate) boot_command: String,
    pub(crate) test_command: String,
}

/// What the engine runs on the host next (after connecting, when it has no connection).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    BootId,
    Test,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Next {
    /// Sleep this long, then run the step.
    Try(Step, Duration),
    /// The host is back: a new boot and a passing test command.
    Back,
    /// The time is up: why, with the last thing seen.
    TimedOut(String),
}

/// What the engine saw when it ran a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Saw {
    /// No connection, or it was lost: the host is (still) down.
    Down(String),
    /// The step's command succeeded with this output.
    Said(String),
    /// The step's command failed: why.
    Failed(String),
}

/// The longest pause between two tries, as Ansible's.
const MAX_PAUSE: Duration = Duration::from_secs(12);

#[derive(Debug)]
pub(crate) struct RebootWait {
    before: String,
    timeout: Duration,
    step: Step,
    /// When the current step's time began, counted from the reboot.
    since: Duration,
    /// Failed tries of the current step.
    fails: u32,
}

impl RebootWait {
    /// The wait after a reboot from boot id `before`, each step given `timeout`.
    pub(crate) fn new(before: &str, timeout: Duration) -> RebootWait {
        RebootWait {
            before: before.trim().to_string(),
            timeout,
            step: Step::BootId,
            since: Duration::ZERO,
            fails: 0,
        }
    }

    /// The first look, after `post_delay`; the boot id's time starts after it.
    pub(crate) fn start(&mut self, post_delay: Duration) -> Next {
        self.since = post_delay;
        Next::Try(Step::BootId, post_delay)
    }

    /// What to do after seeing `saw`, `now` after the reboot.
    pub(crate) fn next(&mut self, now: Duration, saw: Saw) -> Next {
        let why = match (self.step, saw) {
            (Step::BootId, Saw::Said(id)) if !id.trim().is_empty() && id.trim() != self.before => {
                self.step = Step::Test;
                self.since = now;
                self.fails = 0;
                return Next::Try(Step::Test, Duration::ZERO);
            }
            (Step::BootId, Saw::Said(_)) => "the boot id has not changed yet".to_string(),
            (Step::Test, Saw::Said(_)) => return Next::Back,
            (Step::Test, Saw::Failed(e)) => format!("the test command failed: {e}"),
            (_, Saw::Failed(e) | Saw::Down(e)) => e,
        };
        let left = (self.since + self.timeout).saturating_sub(now);
        if left.is_zero() {
            let what = match self.step {
                Step::BootId => "a new boot id",
                Step::Test => "the test command to pass",
            };
            return Next::TimedOut(format!(
                "timed out waiting for {what} (reboot_timeout {} s); last: {}",
                self.timeout.as_secs(),
                why.trim()
            ));
        }
        let pause = Duration::from_secs(1 << self.fails.min(4))
            .min(MAX_PAUSE)
            .min(left);
        self.fails += 1;
        Next::Try(self.step, pause)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Next::*;
    use Saw::*;
    use Step::*;

    const OLD: &str = "4a1f5c3e-8d2b-4e6f-9a7c-1b2d3e4f5a6b";
    const NEW: &str = "0b1c2d3e-8d2b-4e6f-9a7c-1b2d3e4f5a6b";

    fn s(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    /// (seconds since the reboot, what was seen) → what comes next, in order, from one start.
    fn run(timeout: u64, post: u64, rows: &[(u64, Saw, Next)]) {
        let mut w = RebootWait::new(OLD, s(timeout));
        assert_eq!(w.start(s(post)), Try(BootId, s(post)));
        for (i, (now, saw, want)) in rows.iter().enumerate() {
            assert_eq!(&w.next(s(*now), saw.clone()), want, "row {i}");
        }
    }

    #[test]
    fn down_and_the_same_boot_are_waited_for_with_a_growing_pause() {
        run(
            600,
            0,
            &[
                (0, Said(format!("{OLD}\n")), Try(BootId, s(1))),
                (1, Down("connection refused".into()), Try(BootId, s(2))),
                (3, Down("no route to host".into()), Try(BootId, s(4))),
                (7, Failed("cat: boot_id: busy".into()), Try(BootId, s(8))),
                (15, Down("x".into()), Try(BootId, s(12))),
                (27, Down("x".into()), Try(BootId, s(12))),
                (40, Said(NEW.into()), Try(Test, s(0))),
                // The test command's own pauses start again from 1 s.
                (40, Failed("rc 1".into()), Try(Test, s(1))),
                (41, Down("lost".into()), Try(Test, s(2))),
                (43, Said("root\n".into()), Next::Back),
            ],
        );
    }

    #[test]
    fn an_empty_boot_id_is_no_new_boot() {
        run(
            600,
            0,
            &[
                (0, Said(" \n".into()), Try(BootId, s(1))),
                (1, Said(NEW.into()), Try(Test, s(0))),
                (1, Said(String::new()), Next::Back),
            ],
        );
    }

    #[test]
    fn each_step_times_out_on_its_own_with_the_last_reason() {
        // The boot id's time starts after post_reboot_delay; the last pause is cut to what is left.
        run(
            10,
            5,
            &[
                (5, Down("refused".into()), Try(BootId, s(1))),
                (14, Down("refused".into()), Try(BootId, s(1))),
                (
                    15,
                    Down("no route to host".into()),
                    TimedOut(
                        "timed out waiting for a new boot id (reboot_timeout 10 s); last: \
                         no route to host"
                            .into(),
                    ),
                ),
            ],
        );
        run(
            10,
            0,
            &[
                (8, Said(NEW.into()), Try(Test, s(0))),
                // 16 s after the reboot: beyond the first step's time, within the test's.
                (16, Failed("rc 1: nope".into()), Try(Test, s(1))),
                (
                    18,
                    Failed("rc 1: nope".into()),
                    TimedOut(
                        "timed out waiting for the test command to pass (reboot_timeout 10 s); \
                         last: the test command failed: rc 1: nope"
                            .into(),
                    ),
                ),
            ],
        );
    }
}
