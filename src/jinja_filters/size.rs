//! The size filters: `human_readable`, `human_to_bytes`.

use crate::filter_err::err;
use crate::py_value::py_str;
use minijinja::Error;
use minijinja::value::Value;

const SIZE_RANGES: [(&str, f64); 9] = [
    ("Y", 1208925819614629174706176.0),
    ("Z", 1180591620717411303424.0),
    ("E", 1152921504606846976.0),
    ("P", 1125899906842624.0),
    ("T", 1099511627776.0),
    ("G", 1073741824.0),
    ("M", 1048576.0),
    ("K", 1024.0),
    ("B", 1.0),
];

/// Ansible's `human_readable`: `1024` is `1.00 KB`.
pub(super) fn human_readable(
    v: Value,
    isbits: Option<bool>,
    unit: Option<String>,
) -> Result<String, Error> {
    let size = f64::try_from(v.clone())
        .or_else(|_| py_str(&v).trim().parse::<f64>())
        .map_err(|_| err(format!("human_readable() can't interpret {}", py_str(&v))))?;
    let base = if isbits.unwrap_or(false) {
        "bits"
    } else {
        "Bytes"
    };
    let (mut suffix, mut limit) = ("B", 1.0);
    for (sfx, lim) in SIZE_RANGES {
        suffix = sfx;
        limit = lim;
        let hit = match &unit {
            None => size >= lim,
            Some(u) => u.to_uppercase().starts_with(sfx),
        };
        if hit {
            break;
        }
    }
    let label = if limit != 1.0 {
        format!("{suffix}{}", &base[..1])
    } else {
        base.to_string()
    };
    Ok(format!("{:.2} {label}", size / limit))
}

/// Ansible's `human_to_bytes`: `'10M'` is `10485760`.
pub(super) fn human_to_bytes(
    v: Value,
    default_unit: Option<String>,
    isbits: Option<bool>,
) -> Result<Value, Error> {
    let _ = isbits;
    let s = py_str(&v);
    let t = s.trim();
    let split = t.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let num: f64 = num.trim().parse().map_err(|_| {
        err(format!(
            "human_to_bytes() can't interpret following string: {s}"
        ))
    })?;
    let unit = unit.trim();
    let unit = if unit.is_empty() {
        default_unit.unwrap_or_else(|| "B".into())
    } else {
        unit.to_string()
    };
    let first = unit
        .chars()
        .next()
        .map(|c| c.to_ascii_uppercase().to_string())
        .unwrap_or_default();
    let limit = SIZE_RANGES
        .iter()
        .find(|(sfx, _)| *sfx == first)
        .map(|(_, l)| *l)
        .ok_or_else(|| {
            err(format!(
                "human_to_bytes() failed to convert {s}: unknown unit"
            ))
        })?;
    Ok(Value::from((num * limit).round() as i64))
}
