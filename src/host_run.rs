//! One host through one play: connect, probe every task in one round trip, then plan and apply
//! task by task (re-probing only what an earlier change may have touched), then handlers.

use crate::error::{Error, Result};
use crate::inventory::Host;
use crate::modules::{Action, BuildCtx, Plan, Resource, Run};
use crate::playbook::Play;
use crate::report::{Event, HostStatus, Status, TaskReport};
use crate::runner::{Runner, host_vars};
use crate::task::Task;
use crate::template::Vars;
use crate::transport::local::Local;
use crate::transport::ssh::SshConfig;
use crate::transport::{HttpError, Transport, TransportError};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

/// Connection settings from a host's variables, checked before any host is contacted.
pub fn connection_check(host: &Host, vars: &Map<String, Value>) -> Result<()> {
    // Point into the inventory when the value came from there (not from play vars or -e).
    let at = |key: &str| {
        host.var_locs
            .get(key)
            .filter(|_| host.vars.get(key) == vars.get(key))
            .cloned()
    };
    match vars.get("ansible_connection").and_then(Value::as_str) {
        None | Some("ssh") | Some("local") => {}
        Some(other) => {
            return Err(Error::input(
                at("ansible_connection"),
                format!(
                    "host {}: ansible_connection={other} is not supported",
                    host.name
                ),
            )
            .with_hint("use ssh or local"));
        }
    }
    if let Some((var, key)) = key_file(vars)
        && !key.exists()
    {
        return Err(Error::input(
            at(var),
            format!(
                "host {}: private key file {} does not exist ({var})",
                host.name,
                key.display()
            ),
        )
        .with_hint("fix the path, or remove the variable to use ssh-agent or ~/.ssh/id_*"));
    }
    if let Some(p) = vars.get("ansible_port")
        && !p.as_u64().is_some_and(|p| p > 0 && p < 65536)
        && p.as_str().is_none_or(|s| s.parse::<u16>().is_err())
    {
        return Err(Error::input(
            at("ansible_port"),
            format!("host {}: ansible_port={p} is not a port number", host.name),
        )
        .with_hint("a port is a number from 1 to 65535"));
    }
    Ok(())
}

/// The private key variable in use, and its path.
fn key_file(vars: &Map<String, Value>) -> Option<(&'static str, std::path::PathBuf)> {
    ["ansible_ssh_private_key_file", "ansible_private_key_file"]
        .into_iter()
        .find_map(|k| {
            vars.get(k)
                .and_then(Value::as_str)
                .map(|v| (k, crate::paths::expand(v)))
        })
}

fn str_var(vars: &Map<String, Value>, key: &str) -> Option<String> {
    vars.get(key).map(|v| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    })
}

/// One item's (or one task's) result.
struct Outcome {
    status: Status,
    msg: String,
    changes: Vec<String>,
    diffs: Vec<String>,
    value: Value,
}

impl Outcome {
    fn new(status: Status, msg: impl Into<String>) -> Outcome {
        let msg = msg.into();
        let failed = status == Status::Failed;
        Outcome {
            value: json!({"changed": false, "failed": failed, "skipped": status == Status::Skipped, "msg": msg}),
            status,
            msg,
            changes: Vec::new(),
            diffs: Vec::new(),
        }
    }
}

/// The connection went away: the host is unreachable from here on.
struct Lost(String);

impl From<TransportError> for Lost {
    fn from(e: TransportError) -> Lost {
        Lost(e.0)
    }
}

pub struct HostRun<'a> {
    r: &'a Runner<'a>,
    play: &'a Play,
    host: &'a Host,
    tx: &'a Sender<Event>,
    t: Box<dyn Transport>,
    local: Local,
    base: Map<String, Value>,
    /// Play variables that did not render at the start (they read a registered result, a
    /// task's vars or the loop item), as written: rendered for each task by
    /// `runner::task_item_vars` (validation rejected every other one).
    deferred: Map<String, Value>,
    registered: Map<String, Value>,
    /// Probe results by (probe script, sudo user), from the batched probe or a later one.
    cache: HashMap<(String, Option<String>), (i32, String)>,
    /// What real changes touched since the cached probes were taken.
    dirty: Vec<Resource>,
    /// Dry run: what the changes that were not made would have touched.
    simulated: Vec<Resource>,
    /// Handler index → (notifying task names, whether any notification is certain).
    notified: Vec<(usize, Vec<String>, bool)>,
    /// Tasks run so far: orders (re)starts against notifications.
    seq: usize,
    /// Unit → when plumb last started or restarted it in this run.
    restarted: HashMap<String, usize>,
    /// Handler index → when it was last notified.
    notified_at: HashMap<usize, usize>,
    /// The handler being run, if any.
    current_handler: Option<usize>,
    /// Dry run: registered results that only a real run can produce.
    unknown: Vec<String>,
    /// Why the host stopped early, when it was not its own task that failed.
    stop_msg: String,
    /// The current task has `no_log`.
    quiet: bool,
}

impl<'a> HostRun<'a> {
    pub fn run(r: &'a Runner<'a>, play: &'a Play, host: &'a Host, tx: &'a Sender<Event>) {
        let start = Instant::now();
        let _ = tx.send(Event::HostStart {
            host: host.name.clone(),
        });
        let (base, unresolved) = host_vars(host, play, r.pb, &r.opts.extra_vars);
        let deferred: Map<String, Value> =
            unresolved.into_iter().map(|u| (u.name, u.value)).collect();
        let done = |status: HostStatus, msg: String| {
            let _ = tx.send(Event::Host {
                host: host.name.clone(),
                status,
                msg,
                duration: start.elapsed(),
            });
        };
        let fatal = || {
            if play.any_errors_fatal {
                r.abort.store(true, std::sync::atomic::Ordering::SeqCst);
            }
        };
        let detail = |text: String| {
            let _ = tx.send(Event::Detail {
                host: host.name.clone(),
                text,
            });
        };
        let t = match Self::connect(r, play, &base, &detail) {
            Ok(t) => t,
            Err(e) => {
                fatal();
                return done(HostStatus::Unreachable, e.0);
            }
        };
        let mut hr = HostRun {
            r,
            play,
            host,
            tx,
            t,
            local: Local::new(),
            base,
            deferred,
            registered: Map::new(),
            cache: HashMap::new(),
            dirty: Vec::new(),
            simulated: Vec::new(),
            notified: Vec::new(),
            seq: 0,
            restarted: HashMap::new(),
            notified_at: HashMap::new(),
            current_handler: None,
            unknown: Vec::new(),
            stop_msg: String::new(),
            quiet: false,
        };
        let result = hr.run_play();
        hr.t.close();
        match result {
            Ok((false, changed)) => done(
                if changed {
                    HostStatus::Changed
                } else {
                    HostStatus::Ok
                },
                String::new(),
            ),
            Ok((true, _)) => {
                fatal();
                done(HostStatus::Failed, hr.stop_msg)
            }
            Err(Lost(msg)) => {
                fatal();
                done(HostStatus::Unreachable, msg)
            }
        }
    }

    fn connect(
        r: &Runner,
        play: &Play,
        vars: &Map<String, Value>,
        detail: &dyn Fn(String),
    ) -> std::result::Result<Box<dyn Transport>, TransportError> {
        if vars.get("ansible_connection").and_then(Value::as_str) == Some("local") {
            let mut t = Local::new();
            t.set_become_password(r.become_pass.clone());
            return Ok(Box::new(t));
        }
        // Inventory, then ansible_ssh_*_args, then ~/.ssh/config (src/reach.rs).
        let given = crate::reach::Given {
            name: str_var(vars, "ansible_host").unwrap_or_default(),
            user: str_var(vars, "ansible_user")
                .or_else(|| play.remote_user.clone())
                .or_else(|| r.opts.default_user.clone()),
            port: str_var(vars, "ansible_port").and_then(|p| p.parse().ok()),
            key: key_file(vars)
                .map(|(_, p)| p)
                .or_else(|| r.opts.default_key.clone()),
            args: ["ansible_ssh_common_args", "ansible_ssh_extra_args"]
                .iter()
                .filter_map(|k| str_var(vars, k))
                .collect::<Vec<_>>()
                .join(" "),
            password: str_var(vars, "ansible_password")
                .or_else(|| str_var(vars, "ansible_ssh_pass")),
        };
        let base = SshConfig {
            address: String::new(),
            port: 22,
            user: String::new(),
            key_file: None,
            known_hosts: r.opts.known_hosts.clone(),
            checking: r.opts.checking,
            connect_timeout: r.opts.connect_timeout,
            command_timeout: r.opts.command_timeout,
            keepalive: r.opts.keepalive,
            extra: Default::default(),
        };
        let target = crate::reach::resolve(&given, &base).map_err(TransportError)?;
        if r.opts.verbose >= 1 {
            for line in &target.applied {
                detail(format!("ssh config: {line}"));
            }
            for hop in &target.jumps {
                detail(format!("through {}@{}:{}", hop.user, hop.address, hop.port));
            }
        }
        let mut t: Box<dyn Transport> = Box::new(crate::transport::jump::connect(&target)?);
        t.set_become_password(r.become_pass.clone());
        Ok(t)
    }

    /// -v detail; nothing of a `no_log` task is shown.
    fn detail(&self, level: u8, text: String) {
        if self.r.opts.verbose >= level {
            let text = if self.quiet {
                "(details hidden: no_log)".to_string()
            } else {
                text
            };
            let _ = self.tx.send(Event::Detail {
                host: self.host.name.clone(),
                text,
            });
        }
    }

    fn check(&self) -> bool {
        self.r.opts.check
    }

    fn sudo_for(&self, task: &Task) -> Option<String> {
        if task.become_.unwrap_or(self.play.become_) {
            Some(
                task.become_user
                    .clone()
                    .or_else(|| self.play.become_user.clone())
                    .unwrap_or_else(|| "root".into()),
            )
        } else {
            None
        }
    }

    /// Returns (failed, changed).
    fn run_play(&mut self) -> std::result::Result<(bool, bool), Lost> {
        // Two runs on one host must not interleave. A dry run takes no lock: it changes nothing
        // and must leave nothing behind, not even a lock file. A real run takes the lock and
        // probes in the same exec, so the probe sees the host as no other run can change it.
        let lock = (!self.check()).then_some(self.r.opts.lock_timeout);
        if let Some(wait) = lock {
            match self.prefetch(Some(wait))? {
                crate::transport::Lock::Held => {}
                crate::transport::Lock::TimedOut => {
                    self.stop_msg = format!(
                        "another plumb run held the host's plumb lock for {} s; giving up (see --lock-timeout)",
                        wait.as_secs()
                    );
                    return Ok((true, false));
                }
                crate::transport::Lock::Refused(why) => {
                    self.stop_msg = format!("cannot take the plumb lock: {why}");
                    return Ok((true, false));
                }
            }
        }
        if lock.is_none() {
            self.prefetch(None)?;
        }
        let mut changed = false;
        let mut blocks = crate::block::Blocks::new(&self.play.blocks);
        for task in &self.play.tasks {
            // Not taken by --tags / --skip-tags: not run, not reported (flush_handlers always is).
            if task.module != "meta" && !self.r.opts.tags.selects(&task.tags) {
                continue;
            }
            // Leaving a block whose failure nothing rescued fails the host here; inside one,
            // tasks after a failure give way to its `rescue` and `always`.
            if !blocks.enter(&task.blocks) {
                return Ok((true, changed));
            }
            if !blocks.runs() {
                continue;
            }
            if self.r.abort.load(std::sync::atomic::Ordering::SeqCst) {
                self.stop_msg = "stopped: another host failed and any_errors_fatal is set".into();
                return Ok((true, changed));
            }
            if task.module == "meta"
                && task
                    .args
                    .map
                    .get("_raw")
                    .and_then(Value::as_str)
                    .map(str::trim)
                    == Some("flush_handlers")
            {
                let (f, c) = self.flush_handlers()?;
                changed |= c;
                if f {
                    return Ok((true, changed));
                }
                continue;
            }
            let (status, value) = self.run_task(task, false)?;
            changed |= matches!(status, Status::Changed | Status::MayChange);
            if status == Status::Failed && !task.ignore_errors {
                if !blocks.fail() {
                    return Ok((true, changed));
                }
                // What a `rescue` may look at, as in Ansible.
                self.registered.insert(
                    "ansible_failed_task".into(),
                    json!({"name": task.display_name(), "action": task.module}),
                );
                self.registered
                    .insert("ansible_failed_result".into(), value);
            }
        }
        if !blocks.finish() {
            return Ok((true, changed));
        }
        let (f, c) = self.flush_handlers()?;
        Ok((f, changed || c))
    }

    fn flush_handlers(&mut self) -> std::result::Result<(bool, bool), Lost> {
        let mut changed = false;
        // Handlers run in the order they are defined, each at most once per flush; a handler
        // may notify a later one.
        for (i, h) in self.play.handlers.iter().enumerate() {
            let Some(pos) = self.notified.iter().position(|(idx, _, _)| *idx == i) else {
                continue;
            };
            let (_, by, certain) = self.notified.remove(pos);
            self.current_handler = Some(i);
            let res = self.run_task_notified(h, &by, certain);
            self.current_handler = None;
            let (mut status, _) = res?;
            if status == Status::MayChange {
                status = Status::Changed;
            }
            changed |= status == Status::Changed;
            if status == Status::Failed && !h.ignore_errors {
                return Ok((true, changed));
            }
        }
        Ok((false, changed))
    }

    /// Variables a task sees before its own `vars` and loop item (`runner::task_item_vars`
    /// adds those).
    fn known_vars(&self) -> Map<String, Value> {
        let mut m = self.base.clone();
        m.extend(self.registered.clone());
        m
    }

    /// Probes every task that can be rendered now, in one round trip per sudo user; with `lock`,
    /// takes the host's plumb lock in the first of them.
    fn prefetch(
        &mut self,
        mut lock: Option<std::time::Duration>,
    ) -> std::result::Result<crate::transport::Lock, Lost> {
        use crate::batch::{self, Need};
        // (the task's own probe text, what it needs, sudo user)
        let mut wanted: Vec<(String, Need, Option<String>)> = Vec::new();
        // Probes of `no_log` tasks: each runs as its own snippet (never merged), so its section
        // can be left out of what -vv prints.
        let mut hidden: Vec<String> = Vec::new();
        for task in &self.play.tasks {
            if task.delegate_to.is_some() || !self.r.opts.tags.selects(&task.tags) {
                continue;
            }
            let sudo = self.sudo_for(task);
            let m = self.known_vars();
            let vars = Vars::new(crate::runner::task_item_vars(task, &m, None, &self.deferred).0);
            let items: Vec<Option<Value>> = match &task.loop_items {
                None => vec![None],
                Some(l) => match vars.render_value(&l.value, &l.loc) {
                    Ok(Value::Array(a)) => a.into_iter().map(Some).collect(),
                    _ => continue,
                },
            };
            for item in items {
                let vars = Vars::new(
                    crate::runner::task_item_vars(task, &m, item.as_ref(), &self.deferred).0,
                );
                if !task
                    .when
                    .iter()
                    .all(|w| matches!(vars.condition(&w.value, &w.loc), Ok(true)))
                {
                    continue;
                }
                if let Ok(action) = self.build(task, &vars)
                    && let (Some(p), Some(need)) = (action.probe(), batch::need(&action))
                {
                    if task.no_log && !hidden.contains(&p) {
                        hidden.push(p.clone());
                    }
                    let need = if hidden.contains(&p) {
                        Need::Own(p.clone())
                    } else {
                        need
                    };
                    match wanted.iter_mut().find(|(q, _, u)| *q == p && *u == sudo) {
                        Some(w) if hidden.contains(&p) => w.1 = need,
                        Some(_) => {}
                        None => wanted.push((p, need, sudo.clone())),
                    }
                }
            }
        }
        let mut users: Vec<Option<String>> = Vec::new();
        for (_, _, u) in &wanted {
            if !users.contains(u) {
                users.push(u.clone());
            }
        }
        if let Some(wait) = lock
            && users.is_empty()
        {
            // Nothing to probe: the lock alone.
            return Ok(self.lock_and_run(wait, "true", None)?.0);
        }
        for user in users {
            let mine: Vec<&(String, Need, Option<String>)> =
                wanted.iter().filter(|(_, _, u)| *u == user).collect();
            let (mut paths, mut sums, mut units) = (Vec::new(), Vec::new(), Vec::new());
            let mut own: Vec<&str> = Vec::new();
            for (p, need, _) in &mine {
                match need {
                    Need::Files {
                        paths: ps,
                        sums: ss,
                    } => {
                        for x in ps {
                            if !paths.contains(x) {
                                paths.push(x.clone());
                            }
                        }
                        for x in ss {
                            if !sums.contains(x) {
                                sums.push(x.clone());
                            }
                        }
                    }
                    Need::Unit(u) => {
                        if !units.contains(u) {
                            units.push(u.clone());
                        }
                    }
                    Need::Own(_) => own.push(p.as_str()),
                }
            }
            let files_snippet = (!paths.is_empty()).then(|| batch::files_probe(&paths, &sums));
            let units_snippet = (!units.is_empty()).then(|| batch::units_probe(&units));
            let mut snippets: Vec<&str> = Vec::new();
            snippets.extend(files_snippet.as_deref());
            snippets.extend(units_snippet.as_deref());
            snippets.extend(own.iter().copied());
            let nonce = crate::probe::nonce();
            let script = crate::probe::batch_script(&snippets, &nonce);
            let secret: Vec<bool> = snippets
                .iter()
                .map(|s| hidden.iter().any(|h| h == s))
                .collect();
            self.detail(
                1,
                format!(
                    "probe: {} tasks in one round trip{}",
                    mine.len(),
                    user.as_deref()
                        .map(|u| format!(" (sudo -u {u})"))
                        .unwrap_or_default()
                ),
            );
            self.detail(
                2,
                format!(
                    "script:\n{}",
                    crate::probe::redacted_script(&snippets, &nonce, &secret)
                ),
            );
            let out = match lock.take() {
                Some(wait) => match self.lock_and_run(wait, &script, user.as_deref())? {
                    (_, Some(out)) => out,
                    (timed_out, None) => return Ok(timed_out),
                },
                None => self.t.run(&script, user.as_deref())?,
            };
            self.detail(
                2,
                format!(
                    "output (exit {}):\n{}",
                    out.code,
                    crate::probe::redacted_output(&out.all(), &nonce, &secret)
                ),
            );
            // A batch that fails as a whole (e.g. sudo refused) is not cached: each task then
            // probes alone and reports its own error.
            let mut parts = match crate::probe::split(&out.out, &nonce, snippets.len()) {
                Ok(parts) => parts,
                Err(crate::probe::SplitError::Incomplete(_)) => continue,
                // Something on the host forged the framing: every task it probed fails.
                Err(crate::probe::SplitError::Forged(e)) => {
                    for (p, _, _) in &mine {
                        self.cache.insert((p.clone(), user.clone()), (1, e.clone()));
                    }
                    continue;
                }
            };
            let files_part = files_snippet.as_ref().map(|_| parts.remove(0));
            let unit_blocks = units_snippet.as_ref().and_then(|_| {
                let (code, text) = parts.remove(0);
                batch::split_units(&text, units.len()).map(|b| (code, b))
            });
            for (snip, part) in own.iter().zip(parts) {
                self.cache.insert((snip.to_string(), user.clone()), part);
            }
            for (p, need, _) in &mine {
                let facts = match need {
                    Need::Files {
                        paths: ps,
                        sums: ss,
                    } => files_part.as_ref().map(|(code, text)| {
                        match batch::select_files(text, &paths, ps, ss) {
                            Ok(t) => (*code, t),
                            // Exit 1 makes it the task's "could not read the current state".
                            Err(e) => (1, e),
                        }
                    }),
                    Need::Unit(u) => unit_blocks.as_ref().and_then(|(code, blocks)| {
                        let i = units.iter().position(|x| x == u)?;
                        Some((*code, blocks[i].clone()))
                    }),
                    Need::Own(_) => None,
                };
                if let Some(f) = facts {
                    self.cache.insert((p.clone(), user.clone()), f);
                }
            }
        }
        Ok(crate::transport::Lock::Held)
    }

    /// Takes the lock and runs the first probe, telling the user if another run holds it.
    /// A play that becomes another user takes the lock as that user (root's lock lives where
    /// only root can write: see transport::LOCK_FILE), even when the first probe is not one of
    /// its become tasks; then the probe runs on its own exec.
    fn lock_and_run(
        &mut self,
        wait: std::time::Duration,
        script: &str,
        user: Option<&str>,
    ) -> std::result::Result<(crate::transport::Lock, Option<crate::transport::Output>), Lost> {
        let (tx, host) = (self.tx, self.host.name.clone());
        let mut on_wait = || {
            let _ = tx.send(Event::Detail {
                host: host.clone(),
                text: "waiting for another plumb run on this host to finish (its plumb lock)"
                    .to_string(),
            });
        };
        let lock_user = self.lock_user();
        if lock_user.as_deref() == user {
            return Ok(self.t.lock_and_run(wait, script, user, &mut on_wait)?);
        }
        let (lock, _) = self
            .t
            .lock_and_run(wait, "true", lock_user.as_deref(), &mut on_wait)?;
        if lock != crate::transport::Lock::Held {
            return Ok((lock, None));
        }
        Ok((lock, Some(self.t.run(script, user)?)))
    }

    /// Whom the host lock is taken as: root if any task of the play becomes root, else the
    /// first become user, else the login user (None).
    fn lock_user(&self) -> Option<String> {
        let users: Vec<String> = self
            .play
            .tasks
            .iter()
            .filter_map(|t| self.sudo_for(t))
            .collect();
        users
            .iter()
            .find(|u| *u == "root")
            .or(users.first())
            .cloned()
    }

    fn build(&self, task: &Task, vars: &Vars) -> Result<Action> {
        let mut rendered = Map::new();
        for (k, v) in &task.args.map {
            rendered.insert(k.clone(), vars.render_value(v, task.args.loc_of(k))?);
        }
        let ctx = BuildCtx {
            base_dir: &self.r.pb.dir,
            role_dir: task.role_dir.as_deref(),
            vars,
            args: &task.args,
        };
        Action::build(&task.module, rendered, &ctx)
    }

    fn run_task(
        &mut self,
        task: &Task,
        handler: bool,
    ) -> std::result::Result<(Status, Value), Lost> {
        self.run_task_inner(task, handler, &[], true)
    }

    fn run_task_notified(
        &mut self,
        task: &Task,
        by: &[String],
        certain: bool,
    ) -> std::result::Result<(Status, Value), Lost> {
        self.run_task_inner(task, true, by, certain)
    }

    fn run_task_inner(
        &mut self,
        task: &Task,
        handler: bool,
        by: &[String],
        certain: bool,
    ) -> std::result::Result<(Status, Value), Lost> {
        let start = Instant::now();
        self.seq += 1;
        self.quiet = task.no_log;
        let _ = self.tx.send(Event::TaskStart {
            host: self.host.name.clone(),
            name: task.display_name(),
        });
        let m = self.known_vars();
        let items: Vec<Option<Value>> = match &task.loop_items {
            None => vec![None],
            Some(l) => {
                match Vars::new(crate::runner::task_item_vars(task, &m, None, &self.deferred).0)
                    .render_value(&l.value, &l.loc)
                {
                    Ok(Value::Array(a)) => a.into_iter().map(Some).collect(),
                    Ok(other) => {
                        let o = Outcome::new(
                            Status::Failed,
                            format!(
                                "`loop` must be a list, found {}",
                                crate::modules::args::type_name(&other)
                            ),
                        );
                        return Ok(self.finish(task, handler, by, vec![o], false, start));
                    }
                    Err(e) => {
                        let o = Outcome::new(Status::Failed, error_text(&e));
                        return Ok(self.finish(task, handler, by, vec![o], false, start));
                    }
                }
            }
        };
        let looped = task.loop_items.is_some();
        let mut outcomes = Vec::new();
        for item in items {
            let vars =
                Vars::new(crate::runner::task_item_vars(task, &m, item.as_ref(), &self.deferred).0);
            let mut o = self.run_item(task, &vars)?;
            if let Some(i) = item
                && let Value::Object(obj) = &mut o.value
            {
                obj.insert(task.loop_var.clone(), i);
            }
            let stop = o.status == Status::Failed;
            outcomes.push(o);
            if stop {
                break;
            }
        }
        // A handler notified only by tasks that may change may not need to run; one notified by
        // a certain change will run, even if what it then does depends on earlier changes.
        if handler {
            for o in outcomes.iter_mut() {
                match o.status {
                    Status::Changed if !certain => o.status = Status::MayChange,
                    Status::MayChange if certain && self.check() => o.status = Status::Changed,
                    _ => {}
                }
            }
        }
        Ok(self.finish(task, handler, by, outcomes, looped, start))
    }

    /// Aggregates items into the task's line, registers the result, notifies handlers.
    fn finish(
        &mut self,
        task: &Task,
        handler: bool,
        by: &[String],
        outcomes: Vec<Outcome>,
        looped: bool,
        start: Instant,
    ) -> (Status, Value) {
        let any = |s: Status| outcomes.iter().any(|o| o.status == s);
        let status = if any(Status::Failed) {
            Status::Failed
        } else if any(Status::Changed) {
            Status::Changed
        } else if any(Status::MayChange) {
            Status::MayChange
        } else if !outcomes.is_empty() && outcomes.iter().all(|o| o.status == Status::Skipped) {
            Status::Skipped
        } else {
            Status::Ok
        };
        let value = if looped {
            let results: Vec<Value> = outcomes.iter().map(|o| o.value.clone()).collect();
            json!({"results": results, "changed": matches!(status, Status::Changed),
                   "failed": status == Status::Failed, "skipped": status == Status::Skipped,
                   "msg": ""})
        } else {
            outcomes
                .first()
                .map(|o| o.value.clone())
                .unwrap_or(json!({}))
        };
        if let Some(r) = &task.register {
            self.registered.insert(r.clone(), value.clone());
        }
        if matches!(status, Status::Changed | Status::MayChange) {
            let me = task.display_name();
            for n in &task.notify {
                for (i, h) in self.play.handlers.iter().enumerate() {
                    if h.name.as_deref() == Some(n.value.as_str()) || h.listen.contains(&n.value) {
                        self.notified_at.insert(i, self.seq);
                        match self.notified.iter_mut().find(|(idx, _, _)| *idx == i) {
                            Some(entry) => {
                                entry.1.push(me.clone());
                                entry.2 |= status == Status::Changed;
                            }
                            None => {
                                self.notified
                                    .push((i, vec![me.clone()], status == Status::Changed))
                            }
                        }
                    }
                }
            }
        }
        let mut msgs: Vec<String> = outcomes
            .iter()
            .filter(|o| !o.msg.is_empty())
            .map(|o| o.msg.clone())
            .collect();
        msgs.dedup();
        let mut msg = msgs.join("\n");
        if status == Status::Failed && task.ignore_errors {
            msg = format!("{msg}\n(ignored: ignore_errors is set)");
        } else if status == Status::Failed
            && task.blocks.iter().rev().any(|b| {
                b.section == crate::block::Section::Main && self.play.blocks[b.id].has_rescue
            })
        {
            msg = format!("{msg}\n(a block's rescue runs next)");
        }
        if handler && !by.is_empty() && status != Status::Failed {
            let verb = match status {
                Status::MayChange => "may run",
                _ if self.check() => "will run",
                _ => "ran",
            };
            msg = format!("{verb}, notified by: {}", by.join(", "));
        }
        let mut changes: Vec<String> = outcomes.iter().flat_map(|o| o.changes.clone()).collect();
        let mut diffs: Vec<String> = outcomes.iter().flat_map(|o| o.diffs.clone()).collect();
        if task.no_log {
            if !changes.is_empty() {
                changes = vec!["(details hidden: no_log)".into()];
            }
            diffs.clear();
            if status == Status::Failed || !msg.is_empty() {
                msg = "(output hidden: no_log)".into();
            }
        }
        let report = TaskReport {
            name: task.display_name(),
            status,
            msg,
            changes,
            diff: if diffs.is_empty() {
                None
            } else {
                Some(diffs.join(""))
            },
            handler,
            duration_ms: start.elapsed().as_millis() as u64,
        };
        let _ = self.tx.send(Event::Task {
            host: self.host.name.clone(),
            task: report,
        });
        (status, value)
    }

    fn run_item(&mut self, task: &Task, vars: &Vars) -> std::result::Result<Outcome, Lost> {
        for w in &task.when {
            match vars.condition(&w.value, &w.loc) {
                Ok(true) => {}
                Ok(false) => return Ok(Outcome::new(Status::Skipped, "")),
                Err(e) => return Ok(self.failed_or_unknown(task, &e)),
            }
        }
        let action = match self.build(task, vars) {
            Ok(a) => a,
            Err(e) => return Ok(self.failed_or_unknown(task, &e)),
        };
        match &action {
            Action::Debug(m) => return Ok(Outcome::new(Status::Ok, m.clone())),
            Action::Noop | Action::FlushHandlers => return Ok(Outcome::new(Status::Ok, "")),
            _ => {}
        }
        // A restart (or reload) handler for a unit that plumb itself started after the change
        // that notified it has nothing left to do: the unit already runs the new config.
        if let (Action::Service(s), Some(h), false) = (&action, self.current_handler, self.check())
            && matches!(s.state.as_deref(), Some("restarted" | "reloaded"))
            && let Some(unit) = &s.unit
            && let (Some(&started), Some(&notified)) =
                (self.restarted.get(unit), self.notified_at.get(&h))
            && started > notified
        {
            return Ok(Outcome::new(
                Status::Ok,
                format!("{unit} was started after the change; no restart needed"),
            ));
        }
        let sudo = self.sudo_for(task);
        let delegated = task.delegate_to.is_some();
        let mut reads = action.reads();
        if task.runs_in_plan {
            // A command run in a plan may read anything.
            reads.push(crate::modules::Resource::All);
        }
        // Dry run: facts an earlier (unmade) change would have altered are not to be trusted.
        let stale = reads
            .iter()
            .any(|r| self.simulated.iter().any(|w| w.overlaps(r)));
        let facts = match action.probe() {
            None => Ok(String::new()),
            Some(p) => self.facts(&p, &reads, sudo.as_deref(), delegated)?,
        };
        let plan = match facts.and_then(|f| action.plan(&f)) {
            Ok(p) => p,
            Err(msg) if self.check() && stale => {
                return Ok(Outcome::new(
                    Status::MayChange,
                    format!("depends on an earlier change (now: {msg})"),
                ));
            }
            Err(msg) => return Ok(Outcome::new(Status::Failed, msg)),
        };
        let mut o = Outcome::new(Status::Ok, "");
        o.changes = plan.changes.iter().map(|c| c.summary.clone()).collect();
        let want_diff = (self.check() || self.r.opts.diff) && task.diff && !task.no_log;
        if want_diff {
            o.diffs = self.diffs(&plan, sudo.as_deref(), delegated)?;
        }
        // `check_mode: false`: the playbook vouches that this one only reads. It still waits for
        // apply when an earlier planned change would alter what it reads: run now, it would
        // read the host as it is, not as it will be.
        if self.check() && (!task.runs_in_plan || stale) {
            let mut o = self.simulate(task, o, plan, stale, &action);
            if task.runs_in_plan {
                o.msg = "not run in this plan: an earlier change alters what it reads".into();
            }
            return Ok(o);
        }
        let unit = match &action {
            Action::Service(s) => s.unit.clone(),
            _ => None,
        };
        let started = plan
            .changes
            .iter()
            .any(|c| c.summary.starts_with("start ") || c.summary.starts_with("restart "));
        let o = self.apply(task, vars, o, plan, sudo.as_deref(), delegated)?;
        if let Some(unit) = unit
            && started
            && o.status == Status::Changed
        {
            self.restarted.insert(unit, self.seq);
        }
        Ok(o)
    }

    /// A dry run cannot know what a command printed: what depends on it may change.
    fn failed_or_unknown(&self, task: &Task, e: &Error) -> Outcome {
        if let Error::Input { msg, .. } = e
            && let Some(var) = msg.strip_prefix("undefined variable `")
        {
            let root = var.split(['.', '[', '`']).next().unwrap_or_default();
            if self.unknown.iter().any(|u| u == root) {
                let status = if task.module == "debug" {
                    Status::Skipped
                } else {
                    Status::MayChange
                };
                return Outcome::new(
                    status,
                    format!("depends on the result of `{root}`, known only when applied"),
                );
            }
        }
        Outcome::new(Status::Failed, error_text(e))
    }

    fn simulate(
        &mut self,
        task: &Task,
        mut o: Outcome,
        plan: Plan,
        stale: bool,
        action: &Action,
    ) -> Outcome {
        let never_changes = matches!(&task.changed_when, Some(c) if c.value == Value::Bool(false));
        if matches!(action, Action::Uri(_))
            || (matches!(plan.run, Run::Command(_)) && never_changes)
        {
            o.status = Status::Skipped;
            o.msg = "not run in a dry run: runs on apply".into();
            o.changes.clear();
            if let Some(r) = &task.register {
                self.unknown.push(r.clone());
            }
            return o;
        }
        if (plan.uncertain || stale)
            && let Some(r) = &task.register
        {
            self.unknown.push(r.clone());
        }
        o.status = if plan.changes.is_empty() {
            if stale {
                o.msg = "depends on an earlier change".into();
                Status::MayChange
            } else {
                Status::Ok
            }
        } else if plan.uncertain {
            Status::MayChange
        } else {
            Status::Changed
        };
        if o.status != Status::Ok {
            self.simulated.extend(plan.writes);
        }
        o.value = json!({"changed": o.status != Status::Ok, "failed": false, "skipped": false, "msg": o.msg});
        // Facts an earlier (unmade) change may alter are not registered: what reads them is
        // then `may-change`, not planned on stale facts.
        if let Value::Object(v) = &mut o.value
            && !stale
        {
            v.extend(plan.result);
        }
        o
    }

    fn apply(
        &mut self,
        task: &Task,
        vars: &Vars,
        mut o: Outcome,
        plan: Plan,
        sudo: Option<&str>,
        delegated: bool,
    ) -> std::result::Result<Outcome, Lost> {
        let attempts = if task.until.is_some() {
            task.retries.max(1) + 1
        } else {
            1
        };
        // `environment`: exported before what the task runs (its probe only reads, without it).
        let exports = match self.exports(task, vars) {
            Ok(e) => e,
            Err(e) => return Ok(Outcome::new(Status::Failed, error_text(&e))),
        };
        let with_env = |s: &str| format!("{exports}{s}");
        for attempt in 1..=attempts {
            let mut value = json!({"changed": false, "failed": false, "skipped": false, "msg": ""});
            if let Value::Object(v) = &mut value {
                v.extend(plan.result.clone());
            }
            let mut changed = !plan.changes.is_empty();
            let mut failed = false;
            let mut msg = String::new();
            match &plan.run {
                Run::Nothing => {}
                Run::Script(s) => {
                    self.detail(1, format!("run:\n{}", sketch(s)));
                    let out = self.transport(delegated).run(&with_env(s), sudo)?;
                    self.detail(2, format!("output (exit {}):\n{}", out.code, out.all()));
                    if out.code != 0 {
                        failed = true;
                        msg = exit_msg("failed (exit {})", out.code, &out.all());
                    }
                }
                Run::Command(s) => {
                    self.detail(1, format!("run:\n{}", sketch(s)));
                    let out = self.transport(delegated).run(&with_env(s), sudo)?;
                    self.detail(2, format!("output (exit {}):\n{}", out.code, out.all()));
                    let stdout = out.out.trim_end_matches('\n');
                    let stderr = out.err.trim_end_matches('\n');
                    value["rc"] = json!(out.code);
                    value["stdout"] = json!(stdout);
                    value["stdout_lines"] = json!(stdout.lines().collect::<Vec<_>>());
                    value["stderr"] = json!(stderr);
                    value["stderr_lines"] = json!(stderr.lines().collect::<Vec<_>>());
                    if out.code != 0 {
                        failed = true;
                        msg = exit_msg("non-zero exit {}", out.code, &out.all());
                    }
                }
                Run::Http(req) => {
                    let res = if delegated {
                        self.local.http(req)
                    } else {
                        self.t.http(req)
                    };
                    match res {
                        Ok((status, body)) => {
                            value = crate::modules::uri::result(req, status, &body);
                            value["changed"] = json!(false);
                            value["skipped"] = json!(false);
                            if !req.status_codes.contains(&status) {
                                failed = true;
                                msg = format!(
                                    "{} answered {status}, expected {}",
                                    req.url,
                                    req.status_codes
                                        .iter()
                                        .map(u16::to_string)
                                        .collect::<Vec<_>>()
                                        .join(" or ")
                                );
                            }
                        }
                        Err(HttpError::Request(e)) => {
                            failed = true;
                            msg = e;
                            value["status"] = json!(-1);
                        }
                        Err(HttpError::Transport(e)) => return Err(Lost(e.0)),
                    }
                }
            }
            value["changed"] = json!(changed);
            value["failed"] = json!(failed);
            value["msg"] = json!(msg);
            // changed_when / failed_when / until see the result under its register name.
            let mut with = vars.map().clone();
            if let Some(r) = &task.register {
                with.insert(r.clone(), value.clone());
            }
            with.insert("result".into(), value.clone());
            let rv = Vars::new(with);
            if let Some(c) = &task.changed_when {
                match rv.condition(&c.value, &c.loc) {
                    Ok(b) => changed = b,
                    Err(e) => {
                        failed = true;
                        msg = error_text(&e);
                    }
                }
            }
            if let Some(c) = &task.failed_when {
                match rv.condition(&c.value, &c.loc) {
                    Ok(b) => {
                        failed = b;
                        if !b {
                            msg.clear();
                        } else if msg.is_empty() {
                            msg = format!(
                                "failed_when `{}` is true",
                                c.value.as_str().unwrap_or_default()
                            );
                        }
                    }
                    Err(e) => {
                        failed = true;
                        msg = error_text(&e);
                    }
                }
            }
            value["changed"] = json!(changed);
            value["failed"] = json!(failed);
            let done = match &task.until {
                None => true,
                Some(u) => {
                    let mut with = vars.map().clone();
                    if let Some(r) = &task.register {
                        with.insert(r.clone(), value.clone());
                    }
                    with.insert("result".into(), value.clone());
                    let ok = Vars::new(with).condition(&u.value, &u.loc).unwrap_or(false);
                    if !ok && attempt == attempts {
                        failed = true;
                        if msg.is_empty() {
                            msg = format!("`until` still false after {attempts} attempts");
                        } else {
                            msg = format!("{msg} (after {attempts} attempts)");
                        }
                    }
                    ok
                }
            };
            if failed
                && (done || attempt == attempts)
                && matches!(plan.run, Run::Http(_))
                && !delegated
            {
                msg = format!("{msg}{}", self.diagnose()?);
            }
            if done || attempt == attempts {
                if !plan.changes.is_empty() || matches!(plan.run, Run::Command(_)) {
                    self.dirty.extend(plan.writes.clone());
                }
                o.status = if failed {
                    Status::Failed
                } else if changed {
                    Status::Changed
                } else {
                    Status::Ok
                };
                if !changed {
                    o.changes.clear();
                }
                o.msg = msg;
                value["msg"] = json!(o.msg);
                value["attempts"] = json!(attempt);
                o.value = value;
                return Ok(o);
            }
            std::thread::sleep(Duration::from_secs_f64(task.delay));
        }
        unreachable!("the last attempt returns")
    }

    /// `export NAME='value'` lines for the task's `environment`, values rendered.
    fn exports(&self, task: &Task, vars: &Vars) -> Result<String> {
        let mut s = String::new();
        for (k, v) in &task.environment {
            let v = vars.render_value(&v.value, &v.loc)?;
            let text = match v {
                Value::String(t) => t,
                other => other.to_string(),
            };
            s.push_str(&format!("export {k}={}\n", crate::shell::quote(&text)));
        }
        Ok(s)
    }

    /// Evidence and hints after a failed verify step, as text to append to its message.
    fn diagnose(&mut self) -> std::result::Result<String, Lost> {
        let sudo = self.sudo_for_diagnosis().map(String::from);
        let out = self.t.run(crate::diagnosis::SCRIPT, sudo.as_deref())?.all();
        let mut text = String::new();
        if !out.trim().is_empty() {
            text.push('\n');
            text.push_str(out.trim_end());
        }
        for h in crate::diagnosis::hints(&out) {
            text.push_str(&format!("\nhint: {h}"));
        }
        Ok(text)
    }

    /// nginx's log is readable by root (and adm): read it as the play's become user.
    fn sudo_for_diagnosis(&self) -> Option<&str> {
        if self.play.become_ {
            Some(self.play.become_user.as_deref().unwrap_or("root"))
        } else {
            None
        }
    }

    fn transport(&mut self, delegated: bool) -> &mut dyn Transport {
        if delegated {
            &mut self.local
        } else {
            &mut *self.t
        }
    }

    /// Facts for one probe: from the batch if nothing since may have changed them, else fresh.
    fn facts(
        &mut self,
        probe: &str,
        reads: &[Resource],
        sudo: Option<&str>,
        delegated: bool,
    ) -> std::result::Result<std::result::Result<String, String>, Lost> {
        let key = (probe.to_string(), sudo.map(String::from));
        let fresh_enough = !reads
            .iter()
            .any(|r| self.dirty.iter().any(|w| w.overlaps(r)));
        let cached = if fresh_enough && !delegated {
            self.cache.get(&key).cloned()
        } else {
            None
        };
        let (code, out) = match cached {
            Some(c) => {
                self.detail(
                    1,
                    format!("facts (from the batched probe):\n{}", head(&c.1, 8)),
                );
                c
            }
            None => {
                self.detail(1, format!("probe:\n{}", head(probe, 8)));
                // The probe's own stderr belongs to its facts, in order, as in the batch; what
                // else reaches stderr (sudo's warnings) does not, unless the probe failed.
                let out = self
                    .transport(delegated)
                    .run(&format!("{{\n{probe}\n}} 2>&1"), sudo)?;
                self.detail(
                    1,
                    format!("facts (exit {}):\n{}", out.code, head(&out.all(), 8)),
                );
                (out.code, if out.code == 0 { out.out } else { out.all() })
            }
        };
        if code != 0 {
            return Ok(Err(format!(
                "could not read the current state (exit {code}): {}",
                out.trim()
            )));
        }
        Ok(Ok(out))
    }

    /// Unified diffs of the files a plan rewrites, against what is on the host now.
    fn diffs(
        &mut self,
        plan: &Plan,
        sudo: Option<&str>,
        delegated: bool,
    ) -> std::result::Result<Vec<String>, Lost> {
        let mut out = Vec::new();
        for c in &plan.changes {
            let Some(cc) = &c.content else { continue };
            let limit = crate::report::MAX_DIFF_BYTES;
            if cc.new.len() > limit {
                out.push(format!(
                    "({}: {} bytes, too large to diff)\n",
                    cc.path,
                    cc.new.len()
                ));
                continue;
            }
            let old = if cc.exists {
                let script = format!("head -c {} -- {}", limit + 1, crate::shell::quote(&cc.path));
                let res = self.transport(delegated).run(&script, sudo)?;
                if res.code != 0 {
                    out.push(format!(
                        "(cannot read {} for a diff: {})\n",
                        cc.path,
                        res.all().trim()
                    ));
                    continue;
                }
                if res.out.len() > limit {
                    out.push(format!(
                        "({}: the file on the host is over {limit} bytes, too large to diff)\n",
                        cc.path
                    ));
                    continue;
                }
                Some(res.out.into_bytes())
            } else {
                None
            };
            out.push(crate::report::unified_diff(
                &cc.path,
                old.as_deref(),
                &cc.new,
            ));
        }
        Ok(out)
    }
}

/// `what` (with `{}` for the code), then the output, or that there was none.
fn exit_msg(what: &str, code: i32, output: &str) -> String {
    let head = what.replace("{}", &code.to_string());
    match output.trim_end() {
        "" => format!("{head}, no output"),
        text => format!("{head}:\n{text}"),
    }
}

fn error_text(e: &Error) -> String {
    match e {
        Error::Input {
            loc: Some(l),
            msg,
            hint,
        } => {
            let mut s = format!("{l}: {msg}");
            if let Some(h) = hint {
                s.push_str(&format!(" ({h})"));
            }
            s
        }
        other => other.to_string(),
    }
}

/// The first `n` lines of `text`, and how many more there are.
fn head(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.trim_end().lines().collect();
    let mut out = lines.iter().take(n).copied().collect::<Vec<_>>().join("\n");
    if lines.len() > n {
        out.push_str(&format!("\n… {} more lines", lines.len() - n));
    }
    out
}

/// A script as a reader wants it: file contents sent as base64 are summarised, not dumped.
fn sketch(script: &str) -> String {
    let mut out = Vec::new();
    let mut inside = 0usize;
    for line in script.lines() {
        if inside > 0 {
            if line == "PLUMB_EOF" {
                out.push(format!("  [{} lines of base64 content]", inside - 1));
                out.push(line.to_string());
                inside = 0;
            } else {
                inside += 1;
            }
            continue;
        }
        out.push(line.to_string());
        if line.ends_with("<<'PLUMB_EOF'") {
            inside = 1;
        }
    }
    out.join("\n")
}
