//! Rolling batches (`serial`) and when a rollout stops.

use crate::error::{Error, Result};
use crate::yaml::{self, Doc};
use marked_yaml::Node;
use serde_json::Value;

/// One step of a rolling rollout: a host count or a percentage of the play's hosts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Serial {
    Count(usize),
    Percent(f64),
}

impl Serial {
    /// A percentage of the play's hosts, if `text` is a number in (0, 100].
    pub(crate) fn percent(text: &str) -> Option<Serial> {
        match text.parse::<f64>() {
            Ok(f) if f > 0.0 && f <= 100.0 => Some(Serial::Percent(f)),
            _ => None,
        }
    }
}

/// When a rollout stops, decided after each batch as Ansible does: a failure with
/// `any_errors_fatal`; a batch in which every host failed (with or without
/// `max_fail_percentage`), so a change that breaks every host is not rolled through the fleet;
/// or more than `max_fail_percentage` of this batch's hosts failed (Ansible divides by the
/// batch size, not by the play's hosts).
#[derive(Debug, Clone, Copy)]
pub(crate) struct StopRule {
    pub(crate) any_errors_fatal: bool,
    pub(crate) max_fail_percentage: Option<f64>,
}

impl StopRule {
    /// Why the remaining batches do not run, or None to go on.
    pub(crate) fn after_batch(&self, size: usize, failed: usize) -> Option<String> {
        if failed == 0 || size == 0 {
            return None;
        }
        if self.any_errors_fatal {
            return Some("not run: a host failed and any_errors_fatal is set".into());
        }
        if let Some(max) = self.max_fail_percentage
            && (failed as f64) * 100.0 / (size as f64) > max
        {
            return Some(format!(
                "not run: {failed} of {size} hosts of the previous batch failed, over max_fail_percentage {max}"
            ));
        }
        (failed >= size).then(|| {
            format!("not run: every host of the previous batch failed ({failed} of {size})")
        })
    }
}

/// Splits hosts into rolling batches: `serial` sizes in order, the last one repeating.
pub(crate) fn batches<'h, T>(hosts: &'h [T], serial: &[Serial]) -> Vec<&'h [T]> {
    if serial.is_empty() || hosts.is_empty() {
        return vec![hosts];
    }
    let total = hosts.len();
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while start < total {
        let step = &serial[i.min(serial.len() - 1)];
        let n = match step {
            Serial::Count(c) => *c,
            Serial::Percent(p) => ((total as f64) * p / 100.0).floor() as usize,
        }
        .max(1);
        let end = (start + n).min(total);
        out.push(&hosts[start..end]);
        start = end;
        i += 1;
    }
    out
}

/// A play's `serial`: one step or a list of them, checked where written.
pub(crate) fn parse_list(doc: &Doc, node: &Node) -> Result<Vec<Serial>> {
    let one = |n: &Node| -> Result<Serial> {
        let bad = || {
            let found = match n {
                Node::Scalar(s) => format!("`{}`", s.as_str()),
                other => yaml::kind(other).to_string(),
            };
            Error::input(
                doc.loc(n),
                format!(
                    "`serial` must be a positive number of hosts or a percentage, found {found}"
                ),
            )
            .with_hint(
                "for example `serial: 2`, `serial: \"30%\"` or `serial: [1, \"30%\", \"100%\"]`",
            )
        };
        match yaml::to_value(n) {
            Value::Number(x) => match x.as_u64() {
                Some(c) if c > 0 => Ok(Serial::Count(c as usize)),
                _ => Err(bad()),
            },
            Value::String(s) => {
                let p = s.trim().strip_suffix('%').ok_or_else(bad)?;
                Serial::percent(p.trim()).ok_or_else(bad)
            }
            _ => Err(bad()),
        }
    };
    match node {
        Node::Sequence(seq) if !seq.is_empty() => seq.iter().map(one).collect(),
        n => Ok(vec![one(n)?]),
    }
}

/// `--serial`: comma-separated host counts and percentages.
pub(crate) fn parse_serial(s: &str) -> Result<Vec<Serial>> {
    s.split(',')
        .map(|part| {
            let p = part.trim();
            let bad = || {
                Error::Usage(format!(
                    "--serial {s}: `{p}` is not a host count or a percentage"
                ))
            };
            if let Some(pct) = p.strip_suffix('%') {
                Serial::percent(pct).ok_or_else(bad)
            } else {
                match p.parse::<usize>() {
                    Ok(n) if n > 0 => Ok(Serial::Count(n)),
                    _ => Err(bad()),
                }
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_rule_after_each_batch() {
        // (any_errors_fatal, max_fail_percentage, batch size, failed in it, stops)
        let table: &[(bool, Option<f64>, usize, usize, bool)] = &[
            (false, None, 1, 0, false),
            (false, None, 1, 1, true), // serial: 1, the host failed: stop (the old code went on)
            (false, None, 3, 2, false),
            (false, None, 3, 3, true),
            (true, None, 3, 1, true),
            (true, None, 3, 0, false),
            (false, Some(0.0), 4, 1, true),
            (false, Some(50.0), 4, 2, false), // exactly 50% is not over
            (false, Some(50.0), 4, 3, true),
            // Per batch: 1 of a batch of 2 is 50%, over 40 (the old code divided by all 10 hosts).
            (false, Some(40.0), 2, 1, true),
            (false, Some(100.0), 2, 2, true), // a whole batch failed stops even at 100%
            (false, Some(30.0), 0, 0, false),
        ];
        for &(fatal, max, size, failed, stops) in table {
            let rule = StopRule {
                any_errors_fatal: fatal,
                max_fail_percentage: max,
            };
            assert_eq!(
                rule.after_batch(size, failed).is_some(),
                stops,
                "{fatal} {max:?} {failed}/{size}"
            );
        }
    }

    #[test]
    fn rolling_batches() {
        let hosts: Vec<u32> = (1..=10).collect();
        let sizes = |s: &[Serial]| {
            batches(&hosts, s)
                .iter()
                .map(|b| b.len())
                .collect::<Vec<_>>()
        };
        assert_eq!(sizes(&[]), [10]);
        assert_eq!(sizes(&[Serial::Count(3)]), [3, 3, 3, 1]);
        assert_eq!(
            sizes(&[
                Serial::Count(1),
                Serial::Percent(30.0),
                Serial::Percent(100.0)
            ]),
            [1, 3, 6]
        );
        assert_eq!(sizes(&[Serial::Percent(1.0)]), [1; 10]);
    }
}
