//! Alpine (apk): `number{.number}{letter}{_suffix{number}}{~hash}{-r#}`.
//! Numbers compare numerically, except that after the first component one
//! with a leading zero compares as text (`1.01 < 1.1`); no letter sorts
//! before a letter; suffixes rank `alpha < beta < pre < rc < (none) < cvs <
//! svn < git < hg < p`; then the `-r` build number. Commit hashes are not
//! ordered. What cannot be parsed is kept as a remainder that sorts below a
//! clean version; two unparsable versions compare as text. These are the rules
//! osv-scalibr's fixtures encode (they differ from apk 2.x in corner cases
//! such as `1-r-0`).

use std::cmp::Ordering;

use crate::util::cmp_digits;

struct Apk<'a> {
    original: &'a str,
    components: Vec<&'a str>,
    letter: Option<u8>,
    suffixes: Vec<(u8, &'a str)>,
    build: &'a str,
    remainder: &'a str,
    invalid: bool,
}

const SUFFIXES: [&str; 9] = ["alpha", "beta", "pre", "rc", "cvs", "svn", "git", "hg", "p"];
/// Weights in the order above (`(none)` would be 4).
const WEIGHTS: [u8; 9] = [0, 1, 2, 3, 5, 6, 7, 8, 9];
const NO_SUFFIX: u8 = 5;

fn digits_len(s: &str) -> usize {
    s.bytes().take_while(u8::is_ascii_digit).count()
}

fn parse(s: &str) -> Apk<'_> {
    let original = s;
    // Number components: (digits "."?)*
    let mut rest = s;
    let mut components = Vec::new();
    loop {
        let n = digits_len(rest);
        if n == 0 {
            break;
        }
        components.push(&rest[..n]);
        rest = &rest[n..];
        match rest.strip_prefix('.') {
            Some(r) => {
                rest = r;
                if digits_len(rest) == 0 {
                    components.push("");
                    break;
                }
            }
            None => break,
        }
    }
    let letter = rest.bytes().next().filter(u8::is_ascii_lowercase);
    if letter.is_some() {
        rest = &rest[1..];
    }
    // Suffixes: every `_name[digits]` found, removed only while at the front.
    let mut suffixes = Vec::new();
    let mut scan = rest;
    while let Some(pos) = scan.find('_') {
        let after = &scan[pos + 1..];
        if let Some(k) = SUFFIXES.iter().position(|name| after.starts_with(name)) {
            let name_end = pos + 1 + SUFFIXES[k].len();
            let n = digits_len(&scan[name_end..]);
            let number = &scan[name_end..name_end + n];
            suffixes.push((WEIGHTS[k], number));
            let whole = &scan[pos..name_end + n];
            if rest.starts_with(whole) {
                rest = &rest[whole.len()..];
            }
            scan = &scan[name_end + n..];
        } else {
            scan = after;
        }
    }
    if let Some(h) = rest.strip_prefix('~') {
        let n = h
            .bytes()
            .take_while(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
            .count();
        if n > 0 {
            rest = &h[n..];
        }
    }
    let mut build = "";
    let mut invalid = false;
    if !rest.is_empty() {
        match rest.strip_prefix("-r") {
            Some(r) => {
                let n = digits_len(r);
                build = &r[..n];
                rest = &r[n..];
            }
            None => invalid = true,
        }
    }
    Apk {
        original,
        components,
        letter,
        suffixes,
        build,
        remainder: rest,
        invalid,
    }
}

fn cmp_component(a: (usize, &str), b: (usize, &str)) -> Ordering {
    let num = |s: &str| {
        if s.is_empty() {
            "0".to_string()
        } else {
            s.to_string()
        }
    };
    if a.0 != 0 && b.0 != 0 && (a.1.starts_with('0') || b.1.starts_with('0')) {
        return a.1.cmp(b.1);
    }
    cmp_digits(&num(a.1), &num(b.1))
}

pub(crate) fn compare(a: &str, b: &str) -> Ordering {
    let (x, y) = (parse(a), parse(b));
    if x.invalid && y.invalid {
        return x.original.cmp(y.original);
    }
    for i in 0..x.components.len().max(y.components.len()) {
        let xa = x.components.get(i).map_or((0, "0"), |c| (i, *c));
        let ya = y.components.get(i).map_or((0, "0"), |c| (i, *c));
        let o = cmp_component(xa, ya);
        if o != Ordering::Equal {
            return o;
        }
    }
    let o = match (x.letter, y.letter) {
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (l, r) => l.cmp(&r),
    };
    if o != Ordering::Equal {
        return o;
    }
    for i in 0..x.suffixes.len().max(y.suffixes.len()) {
        let (wa, na) = x.suffixes.get(i).copied().unwrap_or((NO_SUFFIX, "0"));
        let (wb, nb) = y.suffixes.get(i).copied().unwrap_or((NO_SUFFIX, "0"));
        let num = |s: &str| if s.is_empty() { "0" } else { s }.to_string();
        let o = wa.cmp(&wb).then_with(|| cmp_digits(&num(na), &num(nb)));
        if o != Ordering::Equal {
            return o;
        }
    }
    let num = |s: &str| if s.is_empty() { "0" } else { s }.to_string();
    let o = cmp_digits(&num(x.build), &num(y.build));
    if o != Ordering::Equal {
        return o;
    }
    match (x.remainder.is_empty(), y.remainder.is_empty()) {
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => Ordering::Equal,
    }
}
