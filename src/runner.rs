//! Runs a playbook: checks everything that can be checked before touching a host, then runs
//! each play's hosts in parallel (in `serial` batches), collecting results as events.

use crate::error::{Error, Result};
use crate::event::Event;
use crate::host_run::{HostRun, Shared};
use crate::inventory::{Host, Inventory};
use crate::options::Options;
use crate::outcome::HostStatus;
use crate::play::Play;
use crate::playbook::Playbook;
use crate::report::Report;
use crate::serial::{StopRule, batches};
use std::collections::{BTreeSet, VecDeque};
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

pub(crate) struct Runner<'a> {
    pub(crate) pb: &'a Playbook,
    pub(crate) inv: &'a Inventory,
    pub(crate) opts: &'a Options,
    /// Set when a host fails in a play with `any_errors_fatal`: the others stop before their
    /// next task.
    pub(crate) abort: AtomicBool,
    /// Set by `meta: end_play` or `end_batch`: where the batch's hosts stop (see `Shared`).
    pub(crate) end_play: AtomicUsize,
    /// Set by `meta: end_play`: the play's later batches do not run either.
    pub(crate) play_over: AtomicBool,
    /// The sudo password for `become`, if one was given.
    pub(crate) become_pass: Option<String>,
}

impl<'a> Runner<'a> {
    pub(crate) fn new(pb: &'a Playbook, inv: &'a Inventory, opts: &'a Options) -> Runner<'a> {
        Runner {
            pb,
            inv,
            opts,
            abort: AtomicBool::new(false),
            end_play: AtomicUsize::new(usize::MAX),
            play_over: AtomicBool::new(false),
            become_pass: None,
        }
    }

    /// A play's hosts: its pattern, `--limit`, then `--shard` (a slice of the hosts of every
    /// play together, so a host is in one slice for the whole run).
    pub(crate) fn selected(&self, play: &Play) -> Result<Vec<&'a Host>> {
        let mut hosts = self.unsharded(play)?;
        if let Some(shard) = &self.opts.shard {
            let everyone: Vec<&Host> = self
                .pb
                .plays
                .iter()
                .filter_map(|p| self.unsharded(p).ok())
                .flatten()
                .collect();
            let mine = shard.select(everyone.iter().map(|h| h.name.as_str()));
            hosts.retain(|h| mine.contains(&h.name));
        }
        Ok(hosts)
    }

    fn unsharded(&self, play: &Play) -> Result<Vec<&'a Host>> {
        let mut hosts = self.inv.select(&play.hosts).map_err(|e| match e {
            Error::Usage(m) => Error::input(play.hosts_loc.clone(), m),
            other => other,
        })?;
        if let Some(limit) = &self.opts.limit {
            let allowed: BTreeSet<&str> = self
                .inv
                .select(limit)
                .map_err(|e| match e {
                    Error::Usage(m) => Error::Usage(format!("--limit {limit}: {m}")),
                    other => other,
                })?
                .iter()
                .map(|h| h.name.as_str())
                .collect();
            hosts.retain(|h| allowed.contains(h.name.as_str()));
        }
        Ok(hosts)
    }

    /// Runs every play; returns the retry file written, if any host failed.
    pub(crate) fn run(&self, report: &mut Report) -> Result<Option<String>> {
        crate::magic::install_hostvars(self.inv, &self.opts.extra_vars);
        let mut dead: BTreeSet<String> = BTreeSet::new();
        for play in &self.pb.plays {
            let mut hosts: Vec<&Host> = self
                .selected(play)?
                .into_iter()
                .filter(|h| !dead.contains(&h.name))
                .collect();
            // `order`: batches, start and the play's magic host lists follow it, as in Ansible.
            let seed = crate::host_order::HostOrder::seed();
            play.order.arrange(&mut hosts, |h| h.name.as_str(), seed);
            report.event(Event::Play {
                name: play.name.clone().unwrap_or_else(|| play.hosts.clone()),
                hosts: hosts.len(),
                check: self.opts.check,
            });
            self.abort.store(false, Ordering::SeqCst);
            self.play_over.store(false, Ordering::SeqCst);
            let serial = self.opts.serial.as_ref().unwrap_or(&play.serial);
            let rule = StopRule {
                any_errors_fatal: play.any_errors_fatal,
                max_fail_percentage: play.max_fail_percentage,
            };
            let mut stopped: Option<String> = None;
            for batch in batches(&hosts, serial) {
                if let Some(why) = &stopped {
                    for h in batch {
                        report.event(Event::Host {
                            host: h.name.clone(),
                            status: HostStatus::NotRun,
                            msg: why.clone(),
                            duration: Duration::ZERO,
                        });
                    }
                    continue;
                }
                if self.play_over.load(Ordering::SeqCst) {
                    // Not failed: the play ended before their batch, as Ansible ends it.
                    for h in batch {
                        report.event(Event::Host {
                            host: h.name.clone(),
                            status: HostStatus::Ok,
                            msg: "not run: the play ended (meta: end_play)".into(),
                            duration: Duration::ZERO,
                        });
                    }
                    continue;
                }
                self.end_play.store(usize::MAX, Ordering::SeqCst);
                let statuses = self.run_batch(play, &hosts, batch, report);
                let mut failed = 0usize;
                for (name, s) in statuses {
                    if matches!(s, HostStatus::Failed | HostStatus::Unreachable) {
                        failed += 1;
                        dead.insert(name);
                    }
                }
                stopped = rule.after_batch(batch.len(), failed);
            }
        }
        let bad: Vec<&str> = report
            .hosts()
            .iter()
            .filter(|h| {
                matches!(
                    h.status,
                    HostStatus::Failed | HostStatus::Unreachable | HostStatus::NotRun
                )
            })
            .map(|h| h.host.as_str())
            .collect();
        if bad.is_empty() || self.opts.check {
            return Ok(None);
        }
        let stem = self
            .pb
            .path
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_else(|| "playbook".into());
        let dir = std::env::var_os("PLUMB_RETRY_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| crate::paths::home().join(".local/state/plumb"));
        let path = dir.join(format!("{stem}.retry"));
        std::fs::create_dir_all(&dir).map_err(Error::with_path(&dir))?;
        std::fs::write(&path, bad.join("\n") + "\n").map_err(Error::with_path(&path))?;
        Ok(Some(path.display().to_string()))
    }

    /// One batch: every host on its own thread (up to `forks`), none waiting for another.
    fn run_batch(
        &self,
        play: &Play,
        play_hosts: &[&Host],
        hosts: &[&Host],
        report: &mut Report,
    ) -> Vec<(String, HostStatus)> {
        let queue = Mutex::new(hosts.iter().copied().collect::<VecDeque<&Host>>());
        let (tx, rx) = mpsc::channel::<Event>();
        let workers = self.opts.forks.max(1).min(hosts.len());
        let mut statuses = Vec::new();
        let (magic, lists) = crate::magic::play_magic(self.inv, self.opts, play_hosts, hosts);
        crate::play_lists::set(lists);
        let shared = Shared {
            magic: &magic,
            opts: self.opts,
            playbook_dir: &play.dir,
            become_pass: self.become_pass.as_deref(),
            abort: &self.abort,
            end_play: &self.end_play,
            play_over: &self.play_over,
        };
        let shared = &shared;
        std::thread::scope(|s| {
            for _ in 0..workers {
                let tx = tx.clone();
                let queue = &queue;
                s.spawn(move || {
                    loop {
                        let Some(host) = queue.lock().expect("queue lock").pop_front() else {
                            break;
                        };
                        HostRun::run(shared, play, host, &tx);
                    }
                });
            }
            drop(tx);
            let mut take = |ev: Event| {
                if let Event::Host { host, status, .. } = &ev {
                    statuses.push((host.clone(), *status));
                }
                report.event(ev);
            };
            // Events come in bursts (a host's task lines one after another). Waking for each
            // costs a context switch on both sides, which on a fleet is a good part of
            // plumb's own CPU: after one, the rest of the burst is taken a moment later, and
            // the thread blocks again only once nothing came meanwhile.
            while let Ok(ev) = rx.recv() {
                take(ev);
                loop {
                    rx.try_iter().for_each(&mut take);
                    std::thread::sleep(BURST);
                    match rx.try_recv() {
                        Ok(ev) => take(ev),
                        Err(_) => break,
                    }
                }
            }
        });
        statuses
    }
}

/// How long the report waits for the rest of a burst of events: short enough that no one sees
/// a line late.
const BURST: std::time::Duration = std::time::Duration::from_millis(2);
