//! RFC 3339 instants and plain dates as Unix seconds, without a date crate:
//! waivers expire on a date, and `--at` fixes "now" for a reproducible run.

pub use aibomdb_graph::time::parse;

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
