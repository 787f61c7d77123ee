//! RPM: `[epoch:]version[-release]`, epoch numerically, then version and
//! release with rpmvercmp: alternating digit and letter segments, digits
//! greater than letters, `~` sorting before anything (pre-releases) and `^`
//! after the base but before anything else (snapshots).

use std::cmp::Ordering;

use crate::util::cmp_digits;

struct Evr<'a> {
    epoch: &'a str,
    version: &'a str,
    /// `None` when there is no `-` at all (`1` sorts before `1-`).
    release: Option<&'a str>,
}

fn split(s: &str) -> Evr<'_> {
    let s = s.trim();
    let (epoch, rest) = match s.split_once(':') {
        Some((e, r)) if e.bytes().all(|b| b.is_ascii_digit()) => (e, r),
        _ => ("0", s),
    };
    let (version, release) = match rest.rsplit_once('-') {
        Some((v, r)) => (v, Some(r)),
        None => (rest, None),
    };
    Evr {
        epoch: if epoch.is_empty() { "0" } else { epoch },
        version,
        release,
    }
}

pub(crate) fn compare(a: &str, b: &str) -> Ordering {
    let (x, y) = (split(a), split(b));
    cmp_digits(x.epoch, y.epoch)
        .then_with(|| rpmvercmp(x.version, y.version))
        .then_with(|| match (x.release, y.release) {
            (Some(p), Some(q)) => rpmvercmp(p, q),
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        })
}

pub(crate) fn rpmvercmp(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let (mut one, mut two) = (a.as_bytes(), b.as_bytes());
    let sep = |c: u8| !c.is_ascii_alphanumeric() && c != b'~' && c != b'^';
    loop {
        while one.first().is_some_and(|&c| sep(c)) {
            one = &one[1..];
        }
        while two.first().is_some_and(|&c| sep(c)) {
            two = &two[1..];
        }
        if one.is_empty() && two.is_empty() {
            return Ordering::Equal;
        }
        let (c1, c2) = (one.first().copied(), two.first().copied());
        if c1 == Some(b'~') || c2 == Some(b'~') {
            if c1 != Some(b'~') {
                return Ordering::Greater;
            }
            if c2 != Some(b'~') {
                return Ordering::Less;
            }
            one = &one[1..];
            two = &two[1..];
            continue;
        }
        if c1 == Some(b'^') || c2 == Some(b'^') {
            if c1.is_none() {
                return Ordering::Less;
            }
            if c2.is_none() {
                return Ordering::Greater;
            }
            if c1 != Some(b'^') {
                return Ordering::Greater;
            }
            if c2 != Some(b'^') {
                return Ordering::Less;
            }
            one = &one[1..];
            two = &two[1..];
            continue;
        }
        if one.is_empty() || two.is_empty() {
            break;
        }
        let numeric = one[0].is_ascii_digit();
        let take = |s: &[u8]| -> usize {
            s.iter()
                .take_while(|c| {
                    if numeric {
                        c.is_ascii_digit()
                    } else {
                        c.is_ascii_alphabetic()
                    }
                })
                .count()
        };
        let (n1, n2) = (take(one), take(two));
        if n2 == 0 {
            return if numeric {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        let (s1, s2) = (
            std::str::from_utf8(&one[..n1]).unwrap_or(""),
            std::str::from_utf8(&two[..n2]).unwrap_or(""),
        );
        let o = if numeric {
            cmp_digits(s1, s2)
        } else {
            s1.cmp(s2)
        };
        if o != Ordering::Equal {
            return o;
        }
        one = &one[n1..];
        two = &two[n2..];
    }
    match (one.is_empty(), two.is_empty()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        _ => Ordering::Greater,
    }
}
