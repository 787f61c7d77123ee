//! Maven, as the version-order specification states it: a version splits at
//! `.`, `-` and at each change between digits and other characters (a change
//! counts as `-`); each token keeps the separator before it. Trailing "null"
//! tokens (`0`, empty, `final`, `ga`) are trimmed at the end and before each
//! remaining `-`. Tokens compare pairwise, the shorter version padded with
//! nulls: with equal separators numbers compare numerically, a non-null
//! number sorts after a qualifier, qualifiers rank
//! `alpha < beta < milestone < rc = cr < snapshot < "" = ga = final = release < sp`
//! and unknown ones after those, alphabetically; with different separators
//! `.qualifier < -qualifier < -number < .number`. `a1`, `b1`, `m1` are alpha,
//! beta, milestone.

use std::cmp::Ordering;

use crate::util::{cmp_digits, is_digits};

#[derive(Debug, Clone, PartialEq, Eq)]
struct Token {
    prefix: char,
    value: String,
    null: bool,
}

const KEYWORDS: [&str; 7] = ["alpha", "beta", "milestone", "rc", "snapshot", "", "sp"];

fn keyword_rank(k: &str) -> usize {
    KEYWORDS
        .iter()
        .position(|x| *x == k)
        .unwrap_or(KEYWORDS.len())
}

fn tokens(version: &str) -> Vec<Token> {
    let mut out: Vec<Token> = Vec::new();
    let mut prefix = '\0';
    let mut offset = 0;
    for raw in version.split(['.', '-']) {
        if offset > 0 {
            // The separator before this raw token.
            prefix = char::from(version.as_bytes()[offset - 1]);
        }
        offset += raw.len() + 1;
        let bytes = raw.as_bytes();
        let mut cuts: Vec<usize> = (1..bytes.len())
            .filter(|&i| bytes[i - 1].is_ascii_digit() != bytes[i].is_ascii_digit())
            .collect();
        cuts.push(raw.len());
        let mut start = 0;
        for (j, &cut) in cuts.iter().enumerate() {
            let p = if j > 0 { '-' } else { prefix };
            let mut value = raw[start..cut].to_lowercase();
            if value.is_empty() {
                value = "0".into();
            }
            value = match value.as_str() {
                "cr" => "rc".into(),
                "ga" | "final" | "release" => String::new(),
                "a" if cut != raw.len() => "alpha".into(),
                "b" if cut != raw.len() => "beta".into(),
                "m" if cut != raw.len() => "milestone".into(),
                _ => value,
            };
            if is_digits(&value) {
                let t = value.trim_start_matches('0');
                value = if t.is_empty() { "0".into() } else { t.into() };
            }
            out.push(Token {
                prefix: p,
                value,
                null: false,
            });
            start = cut;
        }
    }
    // Trim trailing nulls at the end and before each remaining hyphen.
    let trim = |t: &Token| matches!(t.value.as_str(), "0" | "" | "final" | "ga");
    let mut i = out.len() as isize - 1;
    while i > 0 {
        let iu = i as usize;
        if trim(&out[iu]) {
            out.remove(iu);
            i -= 1;
            continue;
        }
        while i >= 0 && out[i as usize].prefix != '-' {
            i -= 1;
        }
        i -= 1;
    }
    out
}

fn null_like(t: &Token) -> Token {
    if t.prefix == '-' {
        Token {
            prefix: '-',
            value: String::new(),
            null: true,
        }
    } else {
        // `sp` is the one qualifier after the empty value.
        Token {
            prefix: '.',
            value: if t.value == "sp" {
                String::new()
            } else {
                "0".into()
            },
            null: true,
        }
    }
}

fn order(t: &Token) -> u8 {
    match (is_digits(&t.value), t.prefix) {
        (true, '-') => 2,
        (true, _) => 3,
        (false, '-') => 1,
        (false, _) => 0,
    }
}

fn less(a: &Token, b: &Token) -> bool {
    if a.prefix == b.prefix {
        let (an, bn) = (is_digits(&a.value), is_digits(&b.value));
        if an && bn {
            return cmp_digits(&a.value, &b.value) == Ordering::Less;
        }
        if an && !a.null {
            return false;
        }
        if bn && !b.null {
            return true;
        }
        let (l, r) = (keyword_rank(&a.value), keyword_rank(&b.value));
        if l == KEYWORDS.len() && r == KEYWORDS.len() {
            return a.value < b.value;
        }
        return l < r;
    }
    order(a) < order(b)
}

pub(crate) fn compare(a: &str, b: &str) -> Ordering {
    let (x, y) = (tokens(a.trim()), tokens(b.trim()));
    let same = |p: &Token, q: &Token| p.prefix == q.prefix && p.value == q.value;
    if x.len() == y.len() && x.iter().zip(&y).all(|(p, q)| same(p, q)) {
        return Ordering::Equal;
    }
    for i in 0..x.len().max(y.len()) {
        let l = x.get(i).cloned().unwrap_or_else(|| null_like(&y[i]));
        let r = y.get(i).cloned().unwrap_or_else(|| null_like(&x[i]));
        if same(&l, &r) {
            continue;
        }
        return if less(&l, &r) {
            Ordering::Less
        } else {
            Ordering::Greater
        };
    }
    Ordering::Equal
}
