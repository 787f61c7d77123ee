//! Packagist: PHP's `version_compare` after its canonicalisation: `-`, `_`,
//! `+` become `.`, a `.` goes between letters and digits, and words rank
//! `dev < alpha = a < beta = b < RC = rc < # < pl = p` (a number is `#`;
//! unknown words sort first).

use std::cmp::Ordering;

use crate::util::cmp_digits;

/// PHP's canonicalisation: the first character is kept as it is; then
/// `-`, `_`, `+` and any other character that is not alphanumeric (or `#`, the
/// placeholder for a number) become one `.`, and
/// a `.` goes between a digit and a non-digit.
fn canonical(v: &str) -> Vec<String> {
    let v = v.trim();
    let v = v
        .strip_prefix(['v', 'V'])
        .filter(|r| r.starts_with(|c: char| c.is_ascii_digit()))
        .unwrap_or(v);
    let chars: Vec<char> = v.chars().collect();
    let Some(&first) = chars.first() else {
        return Vec::new();
    };
    let mut out = String::with_capacity(v.len() * 2);
    out.push(first);
    let digit = |c: char| c.is_ascii_digit();
    let non_digit = |c: char| !c.is_ascii_digit() && c != '.';
    let mut last = first;
    for &c in &chars[1..] {
        let ends_with_dot = out.ends_with('.');
        if matches!(c, '-' | '_' | '+') {
            if !ends_with_dot {
                out.push('.');
            }
        } else if (non_digit(last) && digit(c)) || (digit(last) && non_digit(c)) {
            if !ends_with_dot {
                out.push('.');
            }
            out.push(c);
        } else if !c.is_ascii_alphanumeric() && c != '#' {
            if !ends_with_dot {
                out.push('.');
            }
        } else {
            out.push(c);
        }
        last = c;
    }
    out.split('.')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
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
    compare_parts(&canonical(a), &canonical(b))
}

fn compare_parts(x: &[String], y: &[String]) -> Ordering {
    for (p, q) in x.iter().zip(y) {
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
    // What remains of the longer one is compared with "#N#", as PHP does.
    let placeholder = canonical("#N#");
    match x.len().cmp(&y.len()) {
        Ordering::Equal => Ordering::Equal,
        Ordering::Greater => {
            let rest = &x[y.len()..];
            if is_num(&rest[0]) {
                Ordering::Greater
            } else {
                compare_parts(rest, &placeholder)
            }
        }
        Ordering::Less => {
            let rest = &y[x.len()..];
            if is_num(&rest[0]) {
                Ordering::Less
            } else {
                compare_parts(&placeholder, rest)
            }
        }
    }
}
