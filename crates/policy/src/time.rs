//! RFC 3339 instants and plain dates as Unix seconds, without a date crate:
//! waivers expire on a date, and `--at` fixes "now" for a reproducible run.

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn number(s: &str, len: usize) -> Option<i64> {
    (s.len() == len && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

fn leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

/// `YYYY-MM-DD` (midnight UTC) or an RFC 3339 date-time with `Z` or an
/// offset, fractional seconds allowed. `None` when it is neither.
pub fn parse(text: &str) -> Option<i64> {
    let text = text.trim();
    let (date, rest) = match text.find(['T', 't', ' ']) {
        Some(i) => (&text[..i], Some(&text[i + 1..])),
        None => (text, None),
    };
    let mut parts = date.split('-');
    let year = number(parts.next()?, 4)?;
    let month = number(parts.next()?, 2)?;
    let day = number(parts.next()?, 2)?;
    if parts.next().is_some() || !(1..=12).contains(&month) {
        return None;
    }
    let month_days = [
        31,
        if leap(year) { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if day < 1 || day > month_days[(month - 1) as usize] {
        return None;
    }
    let mut secs = days_from_civil(year, month, day) * 86_400;
    let Some(rest) = rest else {
        return Some(secs);
    };
    let (clock, offset) = if let Some(c) = rest.strip_suffix(['Z', 'z']) {
        (c, 0)
    } else {
        let i = rest.rfind(['+', '-'])?;
        let (c, off) = rest.split_at(i);
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let (h, m) = off[1..].split_once(':')?;
        (c, sign * (number(h, 2)? * 3600 + number(m, 2)? * 60))
    };
    let clock = clock.split('.').next()?;
    let mut hms = clock.split(':');
    let h = number(hms.next()?, 2)?;
    let m = number(hms.next()?, 2)?;
    let s = number(hms.next()?, 2)?;
    if hms.next().is_some() || h > 23 || m > 59 || s > 60 {
        return None;
    }
    secs += h * 3600 + m * 60 + s - offset;
    Some(secs)
}

/// Seconds since the Unix epoch, now.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// The RFC 3339 form of `secs` (UTC).
pub fn format(secs: i64) -> String {
    aibomdb_export::time::rfc3339(secs.max(0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_instants() {
        assert_eq!(parse("1970-01-01"), Some(0));
        assert_eq!(parse("2000-02-29"), Some(951_782_400));
        assert_eq!(parse("2026-11-18T11:06:40Z"), Some(1_795_000_000));
        assert_eq!(parse("2026-11-18T12:06:40.250+01:00"), Some(1_795_000_000));
        assert_eq!(parse("2026-11-18T10:06:40-01:00"), Some(1_795_000_000));
        for bad in [
            "2026-13-01",
            "2027-02-29",
            "26-01-01",
            "2026-01-01T25:00:00Z",
            "soon",
            "",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
        assert_eq!(format(1_795_000_000), "2026-11-18T11:06:40Z");
    }
}
