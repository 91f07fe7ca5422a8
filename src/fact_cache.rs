//! Probe results for one host, by (probe script, sudo user), from the batched probe or a later
//! one; and what real changes touched since, which makes a cached result stale.

use crate::event::{Log, head};
use crate::modules::Resource;
use crate::transport::{Transport, TransportError};
use std::collections::HashMap;

/// Probe texts are plumb's own (never a host's output) and long, and a loop looks one up per
/// item several times: a fast hash, not the default one made to resist chosen keys.
type Fast = foldhash::fast::RandomState;

/// A probe's result for each sudo user it ran as: (user, (exit code, output)).
type ByUser = Vec<(Option<String>, (i32, String))>;

#[derive(Debug, Default)]
pub(crate) struct FactCache {
    /// probe → (sudo user, (exit code, output)) for each user it ran as; found by the probe
    /// text without copying it.
    cache: HashMap<String, ByUser, Fast>,
    /// What real changes touched since the cached probes were taken.
    dirty: Vec<Resource>,
}

impl FactCache {
    pub(crate) fn insert(&mut self, probe: &str, user: Option<&str>, result: (i32, String)) {
        let users = self.cache.entry(probe.to_string()).or_default();
        match users.iter_mut().find(|(u, _)| u.as_deref() == user) {
            Some((_, r)) => *r = result,
            None => users.push((user.map(String::from), result)),
        }
    }

    /// Whether `probe` (as `user`) has a result, stale or not.
    pub(crate) fn contains(&self, probe: &str, user: Option<&str>) -> bool {
        self.lookup(probe, user).is_some()
    }

    /// The cached result of `probe`, unless a real change since touched what it `reads`.
    pub(crate) fn get(
        &self,
        probe: &str,
        user: Option<&str>,
        reads: &[Resource],
    ) -> Option<(i32, String)> {
        let stale = reads
            .iter()
            .any(|r| self.dirty.iter().any(|w| w.overlaps(r)));
        if stale {
            return None;
        }
        self.lookup(probe, user).cloned()
    }

    fn lookup(&self, probe: &str, user: Option<&str>) -> Option<&(i32, String)> {
        self.cache
            .get(probe)?
            .iter()
            .find(|(u, _)| u.as_deref() == user)
            .map(|(_, r)| r)
    }

    /// A real change may have written `writes`.
    pub(crate) fn touched(&mut self, writes: &[Resource]) {
        self.dirty.extend(writes.iter().cloned());
    }
}

/// A probe's output as facts, or the task's error when the probe failed.
pub(crate) fn facts(code: i32, out: String) -> Result<String, String> {
    if code != 0 {
        return Err(format!(
            "could not read the current state (exit {code}): {}",
            out.trim()
        ));
    }
    Ok(out)
}

/// A probe's facts: `cached` if given, else from running `probe` on `t` (as `sudo`).
pub(crate) fn read(
    cached: Option<(i32, String)>,
    t: &mut dyn Transport,
    log: &Log,
    probe: &str,
    sudo: Option<&str>,
) -> Result<Result<String, String>, TransportError> {
    let (code, out) = match cached {
        Some(c) => {
            log.detail(
                1,
                format!("facts (from the batched probe):\n{}", head(&c.1, 8)),
            );
            c
        }
        None => {
            log.detail(1, format!("probe:\n{}", head(probe, 8)));
            // The probe's own stderr belongs to its facts, in order, as in the batch; what
            // else reaches stderr (sudo's warnings) does not, unless the probe failed.
            let out = t.run(&format!("{{\n{probe}\n}} 2>&1"), sudo)?;
            log.detail(
                1,
                format!("facts (exit {}):\n{}", out.code, head(&out.all(), 8)),
            );
            (out.code, if out.code == 0 { out.out } else { out.all() })
        }
    };
    Ok(facts(code, out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use Resource::*;

    #[test]
    fn a_change_makes_what_it_touched_stale() {
        let p = |s: &str| Path(s.into());
        // (what changed, what the probe reads, still cached)
        let table: &[(&[Resource], &[Resource], bool)] = &[
            (&[], &[p("/etc/nginx/nginx.conf")], true),
            (&[p("/etc/nginx")], &[p("/etc/nginx/nginx.conf")], false),
            (&[p("/etc/nginx/nginx.conf")], &[p("/etc/nginx")], false),
            (&[p("/etc/nginx2")], &[p("/etc/nginx")], true),
            (&[Unit("nginx.service".into())], &[p("/etc/nginx")], true),
            (
                &[Package("nginx".into())],
                &[Package("nginx".into())],
                false,
            ),
            (&[All], &[Unit("x".into())], false),
            (&[p("/srv")], &[], true),
        ];
        for (writes, reads, cached) in table {
            let mut c = FactCache::default();
            c.insert("stat /etc/nginx", Some("root"), (0, "facts".into()));
            c.touched(writes);
            assert_eq!(
                c.get("stat /etc/nginx", Some("root"), reads).is_some(),
                *cached,
                "{writes:?} {reads:?}"
            );
            // Cached per sudo user.
            assert!(c.get("stat /etc/nginx", None, &[]).is_none());
        }
    }

    #[test]
    fn a_failed_probe_is_an_error_never_no_change() {
        assert_eq!(facts(0, "x\n".into()), Ok("x\n".into()));
        assert_eq!(
            facts(2, "sudo: a password is required\n".into()),
            Err("could not read the current state (exit 2): sudo: a password is required".into())
        );
    }
}
