//! `date_time`: the clock as Ansible reports it, from one `date` line.

use serde_json::{Map, Value};

const WEEKDAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

/// `date '+%s %N %z %Z'` as Ansible's `date_time` (local time from the host's own offset).
/// `tz_dst` is the zone's name now, as `date` cannot name the other half of the year.
pub(crate) fn date_time(line: &str) -> Result<Value, String> {
    let bad = || format!("facts: bad date line `{line}`");
    let mut w = line.split(' ');
    let epoch: i64 = w.next().and_then(|x| x.parse().ok()).ok_or_else(bad)?;
    let nanos = w.next().ok_or_else(bad)?;
    // Without %N support (busybox) the field is not digits: microseconds are then 0.
    let micros: u32 = if nanos.len() == 9 && nanos.bytes().all(|b| b.is_ascii_digit()) {
        nanos[..6].parse().map_err(|_| bad())?
    } else {
        0
    };
    let tz_offset = w.next().ok_or_else(bad)?;
    let tz = w.collect::<Vec<_>>().join(" ");
    let ob = tz_offset.as_bytes();
    if ob.len() != 5 || !(ob[0] == b'+' || ob[0] == b'-') || !ob[1..].iter().all(u8::is_ascii_digit)
    {
        return Err(bad());
    }
    let oh: i64 = tz_offset[1..3].parse().map_err(|_| bad())?;
    let om: i64 = tz_offset[3..5].parse().map_err(|_| bad())?;
    let off = (oh * 3600 + om * 60) * if ob[0] == b'-' { -1 } else { 1 };
    let parts = |t: i64| {
        let days = t.div_euclid(86_400);
        let secs = t.rem_euclid(86_400);
        let (y, m, d) = civil(days);
        let wday = (days + 4).rem_euclid(7) as usize; // 1970-01-01 was a Thursday
        (y, m, d, secs / 3600, secs % 3600 / 60, secs % 60, wday)
    };
    let (y, mo, d, h, mi, se, wday) = parts(epoch + off);
    let (uy, umo, ud, uh, umi, use_, _) = parts(epoch);
    const CUM: [i64; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    let yday = CUM[(mo - 1) as usize] + i64::from(d) - 1 + i64::from(mo > 2 && is_leap(y));
    let weeknumber = (yday + 7 - ((wday as i64 + 6) % 7)) / 7;
    let mut m = Map::new();
    let mut put = |k: &str, v: String| {
        m.insert(k.into(), Value::String(v));
    };
    put("year", format!("{y:04}"));
    put("month", format!("{mo:02}"));
    put("weekday", WEEKDAYS[wday].into());
    put("weekday_number", wday.to_string());
    put("weeknumber", format!("{weeknumber:02}"));
    put("day", format!("{d:02}"));
    put("hour", format!("{h:02}"));
    put("minute", format!("{mi:02}"));
    put("second", format!("{se:02}"));
    put("epoch", epoch.to_string());
    put("epoch_int", epoch.to_string());
    put("date", format!("{y:04}-{mo:02}-{d:02}"));
    put("time", format!("{h:02}:{mi:02}:{se:02}"));
    put(
        "iso8601_micro",
        format!("{uy:04}-{umo:02}-{ud:02}T{uh:02}:{umi:02}:{use_:02}.{micros:06}Z"),
    );
    put(
        "iso8601",
        format!("{uy:04}-{umo:02}-{ud:02}T{uh:02}:{umi:02}:{use_:02}Z"),
    );
    put(
        "iso8601_basic",
        format!("{y:04}{mo:02}{d:02}T{h:02}{mi:02}{se:02}{micros:06}"),
    );
    put(
        "iso8601_basic_short",
        format!("{y:04}{mo:02}{d:02}T{h:02}{mi:02}{se:02}"),
    );
    put("tz", tz.clone());
    put("tz_dst", tz);
    put("tz_offset", tz_offset.into());
    Ok(Value::Object(m))
}
