//! RFC 3339 instants and plain dates, without a date crate: waivers expire
//! on a date, and OSV `modified` times order record updates. Text order is
//! not time order (`…:00.5Z` sorts before `…:00Z`; offsets), so compare
//! these instead.

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

/// An RFC 3339 date-time (or date) as (Unix seconds, nanoseconds), for
/// ordering: fractional seconds count. `None` when it is neither.
pub fn instant(text: &str) -> Option<(i64, u32)> {
    let secs = parse(text)?;
    let text = text.trim();
    let nanos = match text.find('.') {
        Some(i) if text[..i].contains(['T', 't', ' ']) => {
            let digits: String = text[i + 1..]
                .chars()
                .take_while(char::is_ascii_digit)
                .take(9)
                .collect();
            format!("{digits:0<9}").parse().unwrap_or(0)
        }
        _ => 0,
    };
    Some((secs, nanos))
}

/// Whether RFC 3339 time `a` is later than `b`; text order when either does
/// not parse (a malformed time still orders, as it did before).
pub fn later(a: &str, b: &str) -> bool {
    match (instant(a), instant(b)) {
        (Some(x), Some(y)) => x > y,
        _ => a > b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fractions_and_offsets_order_by_time_not_text() {
        assert!(later("2024-01-01T00:00:00.5Z", "2024-01-01T00:00:00Z"));
        assert!(!later("2024-01-01T00:00:00Z", "2024-01-01T00:00:00.5Z"));
        assert!(later("2024-01-01T01:00:00+00:30", "2024-01-01T00:00:00Z"));
        assert!(!later("2024-01-01T00:00:00+01:00", "2023-12-31T23:30:00Z"));
        assert_eq!(
            instant("2023-09-25T17:25:13.946374Z"),
            Some((1_695_662_713, 946_374_000))
        );
        assert_eq!(instant("not a time"), None);
    }
}
