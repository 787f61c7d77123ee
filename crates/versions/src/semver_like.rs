//! SemVer as OSV uses it for npm, crates.io, Go, Hex (and, with four numeric
//! components, NuGet): a leading `v` allowed, any number of numeric components
//! (missing ones are 0), then a pre-release/build tail. Build metadata (`+…`)
//! is ignored; a pre-release sorts before the release; pre-release identifiers
//! compare numerically when both are numbers, else as ASCII text, numbers first.

use std::cmp::Ordering;

use crate::util::{cmp_digits, is_digits};

pub(crate) struct SemverLike<'a> {
    components: Vec<&'a str>,
    tail: &'a str,
}

pub(crate) fn parse(s: &str, max_components: usize) -> SemverLike<'_> {
    let s = s.strip_prefix('v').unwrap_or(s);
    let bytes = s.as_bytes();
    let mut components = Vec::new();
    let mut start = 0;
    let mut i = 0;
    let mut tail_start = s.len();
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_digit() {
            i += 1;
            continue;
        }
        if i > start {
            components.push(&s[start..i]);
        }
        if c == b'.' {
            i += 1;
            start = i;
            continue;
        }
        tail_start = i;
        break;
    }
    if tail_start == s.len() && start < s.len() {
        components.push(&s[start..]);
    }
    let mut tail = &s[tail_start..];
    // Components past the maximum belong to the build string (NuGet's fifth part).
    if components.len() > max_components {
        let cut = components[max_components];
        let offset = cut.as_ptr() as usize - s.as_ptr() as usize;
        tail = &s[offset.saturating_sub(1)..];
        components.truncate(max_components);
    }
    SemverLike { components, tail }
}

pub(crate) fn cmp_components(a: &[&str], b: &[&str]) -> Ordering {
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or("0");
        let y = b.get(i).copied().unwrap_or("0");
        let o = cmp_digits(x, y);
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

/// Pre-release comparison (semver §11), with build metadata dropped.
pub(crate) fn cmp_prerelease(a: &str, b: &str, fold_case: bool) -> Ordering {
    let strip = |s: &str| -> String {
        let s = s.split('+').next().unwrap_or("");
        let s = s.strip_prefix('-').unwrap_or(s);
        if fold_case {
            s.to_ascii_lowercase()
        } else {
            s.to_string()
        }
    };
    let (a, b) = (strip(a), strip(b));
    match (a.is_empty(), b.is_empty()) {
        (true, true) => return Ordering::Equal,
        (true, false) => return Ordering::Greater,
        (false, true) => return Ordering::Less,
        _ => {}
    }
    let (xs, ys): (Vec<&str>, Vec<&str>) = (a.split('.').collect(), b.split('.').collect());
    for (x, y) in xs.iter().zip(&ys) {
        let o = match (is_digits(x), is_digits(y)) {
            (true, true) => cmp_digits(x, y),
            (false, false) => x.cmp(y),
            (true, false) => Ordering::Less,
            (false, true) => Ordering::Greater,
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    xs.len().cmp(&ys.len())
}

pub(crate) fn compare(a: &str, b: &str) -> Ordering {
    let (x, y) = (parse(a, usize::MAX), parse(b, usize::MAX));
    cmp_components(&x.components, &y.components).then_with(|| cmp_prerelease(x.tail, y.tail, false))
}

/// NuGet: four numeric components, case-insensitive pre-release labels.
pub(crate) fn compare_nuget(a: &str, b: &str) -> Ordering {
    let (x, y) = (parse(a, 4), parse(b, 4));
    cmp_components(&x.components, &y.components).then_with(|| cmp_prerelease(x.tail, y.tail, true))
}

/// Pub: semver where build metadata also orders (`1.0.0+1 < 1.0.0+2`) and a
/// build sorts after the plain release.
pub(crate) fn compare_pub(a: &str, b: &str) -> Ordering {
    let (x, y) = (parse(a, usize::MAX), parse(b, usize::MAX));
    cmp_components(&x.components, &y.components).then_with(|| {
        let (xp, xb) = x.tail.split_once('+').unwrap_or((x.tail, ""));
        let (yp, yb) = y.tail.split_once('+').unwrap_or((y.tail, ""));
        cmp_prerelease(xp, yp, false).then_with(|| match (xb.is_empty(), yb.is_empty()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Less,
            (false, true) => Ordering::Greater,
            // Build identifiers compare like pre-release ones.
            _ => cmp_prerelease(&format!("-{xb}"), &format!("-{yb}"), false),
        })
    })
}
