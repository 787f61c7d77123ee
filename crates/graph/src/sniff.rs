//! Substring search for format sniffing. Every input file's first and last
//! 64 KiB are searched for a dozen markers before it is parsed; `str::find`
//! (two-way search) took 7 % of a parser thread's time doing that, and
//! memchr's SIMD `memmem` does the same search several times faster.

/// Whether `needle` occurs in `hay`.
pub fn contains(hay: &str, needle: &str) -> bool {
    find(hay, needle).is_some()
}

/// The byte offset of the first `needle` in `hay`.
pub fn find(hay: &str, needle: &str) -> Option<usize> {
    memchr::memmem::find(hay.as_bytes(), needle.as_bytes())
}

#[cfg(test)]
mod tests {
    #[test]
    fn finds_what_str_finds() {
        for (hay, needle) in [
            ("{\"bomFormat\": \"CycloneDX\"}", "\"bomFormat\""),
            ("abc", ""),
            ("", "a"),
            ("ünïcödé \"spdxVersion\"", "\"spdxVersion\""),
            ("aaab", "aab"),
        ] {
            assert_eq!(
                super::find(hay, needle),
                hay.find(needle),
                "{hay:?} {needle:?}"
            );
        }
    }
}
