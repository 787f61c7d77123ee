//! PyPI: PEP 440 (through `pep440_rs`), and the pre-PEP 440 "legacy" versions
//! still found in old releases, ordered as setuptools/packaging < 22 did: every
//! legacy version sorts before every PEP 440 version, and among themselves by
//! a key of zero-padded numbers and `*`-prefixed words.

use std::cmp::Ordering;
use std::str::FromStr;

pub enum PypiVersion {
    Legacy(Vec<String>),
    Pep440(pep440_rs::Version),
}

pub(crate) fn parse(s: &str) -> PypiVersion {
    match pep440_rs::Version::from_str(s.trim()) {
        Ok(v) => PypiVersion::Pep440(v),
        Err(_) => PypiVersion::Legacy(legacy_key(s)),
    }
}

pub(crate) fn compare(a: &str, b: &str) -> Ordering {
    cmp_parsed(&parse(a), &parse(b))
}

pub(crate) fn cmp_parsed(a: &PypiVersion, b: &PypiVersion) -> Ordering {
    match (a, b) {
        (PypiVersion::Pep440(x), PypiVersion::Pep440(y)) => x.cmp(y),
        (PypiVersion::Legacy(x), PypiVersion::Legacy(y)) => x.cmp(y),
        (PypiVersion::Legacy(_), PypiVersion::Pep440(_)) => Ordering::Less,
        (PypiVersion::Pep440(_), PypiVersion::Legacy(_)) => Ordering::Greater,
    }
}

fn legacy_parts(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        let part: &str = if c.is_ascii_digit() {
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            &s[start..i]
        } else if c.is_ascii_lowercase() {
            while i < bytes.len() && bytes[i].is_ascii_lowercase() {
                i += 1;
            }
            &s[start..i]
        } else {
            i += 1;
            &s[start..i]
        };
        let part = match part {
            "pre" | "preview" | "rc" => "c",
            "-" => "final-",
            "dev" => "@",
            p => p,
        };
        if part.is_empty() || part == "." {
            continue;
        }
        if part.as_bytes()[0].is_ascii_digit() {
            out.push(format!("{part:0>8}"));
        } else {
            out.push(format!("*{part}"));
        }
    }
    out.push("*final".into());
    out
}

fn legacy_key(s: &str) -> Vec<String> {
    let mut parts: Vec<String> = Vec::new();
    for part in legacy_parts(&s.trim().to_lowercase()) {
        if part.starts_with('*') {
            if part.as_str() < "*final" {
                while parts.last().is_some_and(|p| p == "*final-") {
                    parts.pop();
                }
            }
            while parts.last().is_some_and(|p| p == "00000000") {
                parts.pop();
            }
        }
        parts.push(part);
    }
    parts
}
