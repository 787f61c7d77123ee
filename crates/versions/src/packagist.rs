//! Packagist: PHP's `version_compare` after its canonicalisation: `-`, `_`,
//! `+` become `.`, a `.` goes between letters and digits, and words rank
//! `dev < alpha = a < beta = b < RC = rc < # < pl = p` (a number is `#`;
//! unknown words sort first).

use std::cmp::Ordering;

use crate::util::cmp_digits;

fn canonical(v: &str) -> Vec<String> {
    let v = v.trim();
    let v = v.strip_prefix(['v', 'V']).filter(|r| r.starts_with(|c: char| c.is_ascii_digit())).unwrap_or(v);
    let mut out = String::with_capacity(v.len() * 2);
    let mut prev: Option<char> = None;
    for c in v.chars() {
        let c = if matches!(c, '-' | '_' | '+') { '.' } else { c };
        if let Some(p) = prev {
            let kind = |ch: char| {
                if ch.is_ascii_digit() {
                    1
                } else if ch == '.' {
                    0
                } else {
                    2
                }
            };
            if c != '.' && p != '.' && kind(p) != kind(c) {
                out.push('.');
            }
            if c == '.' && p == '.' {
                continue;
            }
        }
        out.push(c);
        prev = Some(c);
    }
    out.split('.').filter(|s| !s.is_empty()).map(str::to_string).collect()
}

fn special(s: &str) -> i32 {
    const FORMS: [(&str, i32); 10] = [
        ("dev", 0),
        ("alpha", 1),
        ("a", 1),
        ("beta", 2),
        ("b", 2),
        ("RC", 3),
        ("rc", 3),
        ("#", 4),
        ("pl", 5),
        ("p", 5),
    ];
    FORMS
        .iter()
        .find(|(name, _)| s.starts_with(name))
        .map_or(-6, |(_, v)| *v)
}

fn is_num(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_digit())
}

pub(crate) fn compare(a: &str, b: &str) -> Ordering {
    let (x, y) = (canonical(a), canonical(b));
    for (p, q) in x.iter().zip(&y) {
        let o = match (is_num(p), is_num(q)) {
            (true, true) => cmp_digits(p, q),
            (false, false) => special(p).cmp(&special(q)),
            (true, false) => special("#").cmp(&special(q)),
            (false, true) => special(p).cmp(&special("#")),
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    match x.len().cmp(&y.len()) {
        Ordering::Equal => Ordering::Equal,
        Ordering::Greater => {
            let rest = &x[y.len()];
            if is_num(rest) { Ordering::Greater } else { special(rest).cmp(&special("#")) }
        }
        Ordering::Less => {
            let rest = &y[x.len()];
            if is_num(rest) { Ordering::Less } else { special("#").cmp(&special(rest)) }
        }
    }
}
