//! `--shard K/N`: the K-th of N slices of a run's hosts, so one fleet run can be spread over CI
//! runners or the pods of a Kubernetes Indexed Job. Each host's slice depends only on the set of
//! host names (not their order in the inventory), slices differ in size by at most one, and a
//! host is in the same slice for every play of the run.

use crate::error::{Error, Result};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Shard {
    /// 1-based.
    pub(crate) k: usize,
    pub(crate) n: usize,
}

impl Shard {
    pub(crate) fn parse(text: &str) -> Result<Shard> {
        let bad = || {
            Error::Usage(format!(
                "--shard {text}: expected K/N with 1 <= K <= N (e.g. --shard 2/4)"
            ))
        };
        let (k, n) = text.split_once('/').ok_or_else(bad)?;
        let (k, n): (usize, usize) = (
            k.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if n == 0 || k == 0 || k > n {
            return Err(bad());
        }
        Ok(Shard { k, n })
    }

    /// The names of `all` (every host any play of the run selects) that fall in this slice:
    /// hosts ordered by a hash of their name, then dealt out in turn.
    pub(crate) fn select<'a>(&self, all: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
        let mut ranked: Vec<([u8; 32], &str)> = all
            .into_iter()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .map(|h| (Sha256::digest(h.as_bytes()).into(), h))
            .collect();
        ranked.sort();
        ranked
            .into_iter()
            .enumerate()
            .filter(|(i, _)| i % self.n == self.k - 1)
            .map(|(_, (_, h))| h.to_string())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsing() {
        assert_eq!(Shard::parse("2/4").unwrap(), Shard { k: 2, n: 4 });
        for bad in ["0/4", "5/4", "1/0", "x/2", "3", ""] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn slices_cover_every_host_once_evenly_and_ignore_order() {
        let hosts: Vec<String> = (1..=1000).map(|i| format!("web{i:04}")).collect();
        let mut seen = BTreeSet::new();
        for k in 1..=7 {
            let s = Shard { k, n: 7 }.select(hosts.iter().map(String::as_str));
            assert!((142..=143).contains(&s.len()), "{}", s.len());
            for h in s {
                assert!(seen.insert(h), "a host in two slices");
            }
            let reversed = Shard { k, n: 7 }.select(hosts.iter().rev().map(String::as_str));
            assert_eq!(
                reversed,
                Shard { k, n: 7 }.select(hosts.iter().map(String::as_str))
            );
        }
        assert_eq!(seen.len(), 1000);
    }
}
