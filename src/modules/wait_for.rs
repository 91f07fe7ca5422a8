//! `wait_for`: waits on the host, in sh, for a port, a file or a text in either.
//!
//! A port on this host (`host` is a loopback or any-address, the default) is read from
//! `/proc/net/tcp` and `tcp6` (listening sockets, or for `drained` the active connections);
//! another host's port is tried with bash's `/dev/tcp` (or `nc -z`). `search_regex` on a port
//! reads what the server sends first. Never changes anything; in `plumb plan` it does not wait.

use super::args::Getter;
use super::{Plan, Resource, Run};
use crate::error::Result;
use crate::shell::quote;
use serde_json::{Map, json};

#[derive(Debug, Clone)]
pub(crate) struct WaitFor {
    pub(crate) host: String,
    pub(crate) port: Option<u16>,
    pub(crate) path: Option<String>,
    pub(crate) state: String,
    pub(crate) search_regex: Option<String>,
    pub(crate) timeout: u64,
    pub(crate) delay: u64,
    pub(crate) sleep: u64,
    pub(crate) connect_timeout: u64,
    pub(crate) msg: Option<String>,
    /// TCP states (hex, as /proc/net/tcp has them) that keep a port from being drained.
    pub(crate) active: Vec<&'static str>,
}

const TCP_STATES: &[(&str, &str)] = &[
    ("ESTABLISHED", "01"),
    ("SYN_SENT", "02"),
    ("SYN_RECV", "03"),
    ("FIN_WAIT1", "04"),
    ("FIN_WAIT2", "05"),
    ("TIME_WAIT", "06"),
    ("CLOSE", "07"),
    ("CLOSE_WAIT", "08"),
    ("LAST_ACK", "09"),
    ("LISTEN", "0A"),
    ("CLOSING", "0B"),
];

/// Needs no facts: it only waits, when applied.
impl super::Module for WaitFor {
    fn probe(&self) -> Option<String> {
        None
    }
    fn reads(&self) -> Vec<super::Resource> {
        WaitFor::reads(self)
    }
    fn plan(&self, _facts: &str) -> std::result::Result<super::Plan, String> {
        Ok(WaitFor::plan(self))
    }
}

impl WaitFor {
    pub(crate) fn build(a: &Getter) -> Result<WaitFor> {
        let port = match a.opt_u64("port")? {
            None => None,
            Some(p) if (1..=65535).contains(&p) => Some(p as u16),
            Some(p) => return Err(a.err("port", format!("`port: {p}` is not a TCP port"))),
        };
        let path = a.opt_str("path")?;
        if port.is_some() && path.is_some() {
            return Err(a.err("path", "give `port` or `path`, not both"));
        }
        let state = a.choice(
            "state",
            &["started", "stopped", "present", "absent", "drained"],
            "started",
        )?;
        if state == "drained" && port.is_none() {
            return Err(a.err("state", "`state: drained` needs `port`"));
        }
        if path.is_some() && state == "drained" {
            return Err(a.err("state", "`state: drained` is for ports"));
        }
        let search_regex = a.opt_str("search_regex")?;
        if let Some(r) = &search_regex
            && regex::Regex::new(r).is_err()
        {
            return Err(a.err("search_regex", format!("`{r}` is not a regular expression")));
        }
        if search_regex.is_some() && matches!(state.as_str(), "stopped" | "absent" | "drained") {
            return Err(a.err(
                "search_regex",
                "`search_regex` is for `state: started`/`present`",
            ));
        }
        let mut active = Vec::new();
        let states = a.list("active_connection_states")?;
        let states = if states.is_empty() {
            [
                "ESTABLISHED",
                "FIN_WAIT1",
                "FIN_WAIT2",
                "SYN_RECV",
                "SYN_SENT",
                "TIME_WAIT",
            ]
            .map(String::from)
            .to_vec()
        } else {
            states
        };
        for s in states {
            match TCP_STATES
                .iter()
                .find(|(n, _)| *n == s.to_ascii_uppercase())
            {
                Some((_, hex)) => active.push(*hex),
                None => {
                    return Err(a.err(
                        "active_connection_states",
                        format!("`{s}` is not a TCP state"),
                    ));
                }
            }
        }
        let host = a.opt_str("host")?.unwrap_or_else(|| "127.0.0.1".into());
        if host.is_empty() || host.starts_with('-') || host.contains(char::is_whitespace) {
            return Err(a.err("host", format!("`{host}` is not a host name or address")));
        }
        Ok(WaitFor {
            host,
            port,
            path,
            state,
            search_regex,
            timeout: a.opt_u64("timeout")?.unwrap_or(300),
            delay: a.opt_u64("delay")?.unwrap_or(0),
            sleep: a.opt_u64("sleep")?.unwrap_or(1).max(1),
            connect_timeout: a.opt_u64("connect_timeout")?.unwrap_or(5).max(1),
            msg: a.opt_str("msg")?,
            active,
        })
    }

    pub(crate) fn reads(&self) -> Vec<Resource> {
        self.path
            .iter()
            .map(|p| Resource::Path(p.clone()))
            .collect()
    }

    fn local(&self) -> bool {
        matches!(
            self.host.as_str(),
            "127.0.0.1" | "localhost" | "0.0.0.0" | "::1" | "::" | "ip6-localhost"
        )
    }

    /// Shell whose exit status says whether the awaited condition holds now.
    fn check(&self) -> String {
        let re = self.search_regex.as_deref().map(quote);
        if let Some(p) = &self.path {
            let q = quote(p);
            return match (self.state.as_str(), &re) {
                ("absent" | "stopped", _) => format!("[ ! -e {q} ] && [ ! -L {q} ]"),
                (_, Some(r)) => format!("[ -r {q} ] && grep -Eq -e {r} -- {q}"),
                _ => format!("[ -e {q} ]"),
            };
        }
        let port = self.port.unwrap_or_default();
        // /proc/net/tcp*: `sl local_address rem_address st …`, addresses as HEXIP:HEXPORT.
        let hex = format!("{port:04X}");
        let listening = format!(
            "awk 'NR > 1 {{ split($2, a, \":\"); if (a[2] == \"{hex}\" && $4 == \"0A\") f = 1 }} END {{ exit !f }}' /proc/net/tcp /proc/net/tcp6 2>/dev/null"
        );
        let states: Vec<String> = self
            .active
            .iter()
            .map(|s| format!("$4 == \"{s}\""))
            .collect();
        let busy = format!(
            "awk 'NR > 1 {{ split($2, a, \":\"); if (a[2] == \"{hex}\" && ({})) f = 1 }} END {{ exit !f }}' /proc/net/tcp /proc/net/tcp6 2>/dev/null",
            states.join(" || ")
        );
        let h = quote(&self.host);
        let ct = self.connect_timeout;
        let connect = format!(
            "if command -v bash >/dev/null 2>&1; then timeout {ct} bash -c 'exec 3<>/dev/tcp/$0/$1' {h} {port} 2>/dev/null; \
             else timeout {ct} nc -z -w {ct} {h} {port} 2>/dev/null; fi"
        );
        let up = if self.local() { listening } else { connect };
        match (self.state.as_str(), &re) {
            ("stopped", _) => format!("! {{ {up}; }}"),
            ("drained", _) => format!("! {{ {busy}; }}"),
            (_, Some(r)) => format!(
                "timeout {ct} bash -c 'exec 3<>/dev/tcp/$0/$1; timeout 2 cat <&3' {h} {port} 2>/dev/null | grep -Eq -e {r}"
            ),
            _ => up,
        }
    }

    fn what(&self) -> String {
        match (&self.path, &self.search_regex) {
            (Some(p), Some(r)) => format!("Timeout when waiting for search string {r} in {p}"),
            (Some(p), None) => format!("Timeout when waiting for file {p}"),
            (None, Some(r)) => format!(
                "Timeout when waiting for search string {r} in {}:{}",
                self.host,
                self.port.unwrap_or_default()
            ),
            (None, None) => format!(
                "Timeout when waiting for {}:{}{}",
                self.host,
                self.port.unwrap_or_default(),
                match self.state.as_str() {
                    "stopped" => " to stop",
                    "drained" => " to drain",
                    _ => "",
                }
            ),
        }
    }

    /// Only the waiting script: nothing to probe, nothing to change.
    pub(crate) fn plan(&self) -> Plan {
        let msg = self.msg.clone().unwrap_or_else(|| self.what());
        let mut result = Map::new();
        result.insert("state".into(), json!(self.state));
        if let Some(p) = self.port {
            result.insert("port".into(), json!(p));
        }
        if let Some(p) = &self.path {
            result.insert("path".into(), json!(p));
        }
        if let Some(r) = &self.search_regex {
            result.insert("search_regex".into(), json!(r));
        }
        let script = format!(
            "plumb_start=$(date +%s)\nsleep {delay}\n\
             while :; do\n\
             \x20 if {check}; then printf 'plumb-result\\t{{\"elapsed\": %s}}\\n' $(( $(date +%s) - plumb_start )); exit 0; fi\n\
             \x20 [ $(( $(date +%s) - plumb_start )) -lt {timeout} ] || {{ printf '%s\\n' {msg} >&2; exit 1; }}\n\
             \x20 sleep {sleep}\n\
             done\n",
            delay = self.delay,
            check = self.check(),
            timeout = self.timeout,
            sleep = self.sleep,
            msg = quote(&msg),
        );
        Plan {
            run: Run::Script(script),
            result,
            ..Plan::ok()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::Transport;

    fn w(port: Option<u16>, path: Option<&str>, state: &str) -> WaitFor {
        WaitFor {
            host: "127.0.0.1".into(),
            port,
            path: path.map(String::from),
            state: state.into(),
            search_regex: None,
            timeout: 2,
            delay: 0,
            sleep: 1,
            connect_timeout: 1,
            msg: None,
            active: vec!["01", "06"],
        }
    }

    fn run(w: &WaitFor) -> crate::transport::Output {
        let Run::Script(s) = w.plan().run else {
            panic!()
        };
        crate::transport::local::Local::new().run(&s, None).unwrap()
    }

    #[test]
    fn ports_are_read_from_proc() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let out = run(&w(Some(port), None, "started"));
        assert_eq!(out.code, 0, "{}", out.all());
        assert!(
            out.out.starts_with("plumb-result\t{\"elapsed\": "),
            "{}",
            out.out
        );
        let out = run(&w(Some(port), None, "stopped"));
        assert_ne!(out.code, 0);
        assert_eq!(
            out.err.trim(),
            format!("Timeout when waiting for 127.0.0.1:{port} to stop")
        );
        drop(l);
        assert_eq!(run(&w(Some(port), None, "stopped")).code, 0);
        assert_eq!(run(&w(Some(port), None, "drained")).code, 0);
    }

    #[test]
    fn files_and_their_text() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ready").display().to_string();
        assert_eq!(run(&w(None, Some(&p), "absent")).code, 0);
        std::fs::write(&p, "booting\nlistening on 8000\n").unwrap();
        assert_eq!(run(&w(None, Some(&p), "present")).code, 0);
        let mut s = w(None, Some(&p), "present");
        s.search_regex = Some("listening on [0-9]+".into());
        assert_eq!(run(&s).code, 0);
        s.search_regex = Some("^ready$".into());
        s.timeout = 1;
        let out = run(&s);
        assert_ne!(out.code, 0);
        assert!(
            out.err
                .contains("Timeout when waiting for search string ^ready$"),
            "{}",
            out.err
        );
    }
}
