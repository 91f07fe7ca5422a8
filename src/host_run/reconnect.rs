//! The host's connection closed and opened again mid-play, for `HostRun`: after a `reboot`
//! (waiting for the host to come back, see modules/reboot_wait.rs) and at
//! `meta: reset_connection`. The plumb lock went with the old connection, so it is taken again,
//! in the same exec as a fresh batched probe of the play's tasks: what was probed before can
//! have changed since (a reboot, or another run in between), so none of it is trusted. Facts
//! gathered before stay the host's, as in Ansible.

use super::HostRun;
use crate::modules::reboot_wait::{Back, Next, RebootWait, Saw, Step};
use crate::outcome::{Outcome, Status};
use crate::transport::{Transport, TransportError};
use serde_json::json;
use std::time::Instant;

impl<'a> HostRun<'a> {
    /// How the host itself is reached (its `ansible_connection`, else the play's keyword).
    fn own_connection(&self) -> crate::conn_type::ConnType {
        crate::conn_type::ConnType::effective(
            self.base.get("ansible_connection"),
            self.play.connection,
        )
    }

    /// After a reboot's script ran (outcome `o`): waits for the host to come back as `back`
    /// says, then opens the connection again. Registers `rebooted` and `elapsed`.
    pub(super) fn rebooted(
        &mut self,
        mut o: Outcome,
        back: &Back,
        sudo: Option<&str>,
    ) -> std::result::Result<Outcome, TransportError> {
        if o.status == Status::Failed {
            o.value["rebooted"] = json!(false);
            return Ok(o);
        }
        let start = Instant::now();
        let waited = self.wait_back(back, sudo, start);
        o.value["elapsed"] = json!(start.elapsed().as_secs());
        let why = match waited {
            Ok(t) => {
                self.t = t;
                self.down = None;
                self.detail(1, "reboot: the host is back".into());
                match self.reopen()? {
                    None => return Ok(o),
                    Some(why) => why,
                }
            }
            Err(why) => {
                // Later tasks (under ignore_errors) find it down.
                self.t = Box::new(crate::transport::down::Down(why.clone()));
                why
            }
        };
        o.status = Status::Failed;
        o.value["failed"] = json!(true);
        o.value["msg"] = json!(why);
        o.msg = why;
        Ok(o)
    }

    /// Closes the connection and waits for a new boot id and a passing test command: the new
    /// connection, or why the host did not come back in time.
    fn wait_back(
        &mut self,
        back: &Back,
        sudo: Option<&str>,
        start: Instant,
    ) -> Result<Box<dyn Transport>, String> {
        self.t.close();
        self.t = Box::new(crate::transport::down::Down(
            "the host is rebooting".to_string(),
        ));
        let mut wait = RebootWait::new(&back.before, back.timeout);
        let mut conn: Option<Box<dyn Transport>> = None;
        let mut next = wait.start(back.post_delay);
        loop {
            let (step, pause) = match next {
                Next::Back => {
                    return conn.ok_or_else(|| "the host is back but not connected".to_string());
                }
                Next::TimedOut(why) => return Err(why),
                Next::Try(step, pause) => (step, pause),
            };
            std::thread::sleep(pause);
            let saw = self.look(&mut conn, back, step, sudo);
            let why = match &saw {
                Saw::Down(why) | Saw::Failed(why) => why.trim().to_string(),
                Saw::Said(_) => "the boot id has not changed yet".to_string(),
            };
            next = wait.next(start.elapsed(), saw);
            if let Next::Try(again, pause) = &next
                && *again == step
            {
                let secs = pause.as_secs_f64();
                self.detail(1, format!("reboot: {why}; looking again in {secs:.0} s"));
            }
        }
    }

    /// Runs `step` on the host, connecting first if `conn` is None; a lost connection is
    /// dropped, to be opened again next time.
    fn look(
        &self,
        conn: &mut Option<Box<dyn Transport>>,
        back: &Back,
        step: Step,
        sudo: Option<&str>,
    ) -> Saw {
        if conn.is_none() {
            let log = self.log();
            let detail = |text: String| log.detail(2, text);
            match crate::connection::connect_within(
                self.r.opts,
                self.r.become_pass,
                self.play,
                &self.base,
                self.own_connection(),
                &detail,
                back.connect_timeout,
            ) {
                Ok(t) => *conn = Some(t),
                Err(e) => return Saw::Down(e.0),
            }
        }
        let Some(t) = conn.as_mut() else {
            return Saw::Down("not connected".into());
        };
        let cmd = match step {
            Step::BootId => &back.boot_command,
            Step::Test => &back.test_command,
        };
        let saw = match t.run(cmd, sudo) {
            Ok(out) if out.code == 0 => Saw::Said(out.out),
            Ok(out) => Saw::Failed(format!("exit {}: {}", out.code, out.all().trim())),
            Err(e) => Saw::Down(e.0),
        };
        // Only a connection to the new boot is kept: one to a host about to go down could
        // hang until the silence limit instead of failing at once as a new one does.
        let keep = match (step, &saw) {
            (_, Saw::Down(_)) => false,
            (Step::BootId, Saw::Said(id)) => id.trim() != back.before.trim(),
            (Step::BootId, Saw::Failed(_)) => false,
            (Step::Test, _) => true,
        };
        if !keep && let Some(mut t) = conn.take() {
            t.close();
        }
        saw
    }

    /// `meta: reset_connection`: the connection closed and opened again (nothing in a plan).
    pub(super) fn reset_connection(&mut self) -> std::result::Result<Outcome, TransportError> {
        if self.check() {
            return Ok(Outcome::new(
                Status::Ok,
                "the connection is reset here when applied",
            ));
        }
        self.t.close();
        let log = self.log();
        let detail = |text: String| log.detail(1, text);
        let t = crate::connection::connect(
            self.r.opts,
            self.r.become_pass,
            self.play,
            &self.base,
            self.own_connection(),
            &detail,
        );
        match t {
            Ok(t) => self.t = t,
            Err(e) => {
                self.t = Box::new(crate::transport::down::Down(e.0.clone()));
                return Err(e);
            }
        }
        self.down = None;
        Ok(match self.reopen()? {
            None => Outcome::new(Status::Ok, "connection reset"),
            Some(why) => Outcome::new(Status::Failed, why),
        })
    }

    /// On a new connection: the plumb lock taken again with a fresh batched probe of the
    /// play's tasks. Why the lock could not be had, if it could not.
    fn reopen(&mut self) -> std::result::Result<Option<String>, TransportError> {
        self.facts = crate::fact_cache::FactCache::default();
        let wait = self.r.opts.lock_timeout;
        let play = self.play;
        Ok(match self.prefetch_round(Some(wait), None, &play.tasks)? {
            crate::transport::Lock::Held => None,
            crate::transport::Lock::TimedOut => Some(format!(
                "another plumb run took the host's plumb lock while the connection was closed, and held it for {} s (see --lock-timeout)",
                wait.as_secs()
            )),
            crate::transport::Lock::Refused(why) => {
                Some(format!("cannot take the plumb lock again: {why}"))
            }
        })
    }
}
