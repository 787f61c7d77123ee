//! RubyGems (`Gem::Version`): `-` means `.pre.`; segments are runs of digits
//! (numbers) or letters (strings, marking a pre-release); trailing zeros are
//! dropped from the numeric head and from the tail; numbers sort after strings.

use std::cmp::Ordering;

use crate::util::cmp_digits;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Num(String),
    Str(String),
}

fn segments(v: &str) -> Vec<Segment> {
    let v = v.trim().replace('-', ".pre.");
    let mut out = Vec::new();
    let bytes = v.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        if bytes[i].is_ascii_digit() {
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            let n = v[start..i].trim_start_matches('0');
            out.push(Segment::Num(if n.is_empty() {
                "0".into()
            } else {
                n.into()
            }));
        } else if bytes[i].is_ascii_alphabetic() {
            while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
                i += 1;
            }
            out.push(Segment::Str(v[start..i].to_string()));
        } else {
            i += 1;
        }
    }
    out
}

fn canonical(v: &str) -> Vec<Segment> {
    let segs = segments(v);
    let split = segs
        .iter()
        .position(|s| matches!(s, Segment::Str(_)))
        .unwrap_or(segs.len());
    let zero = Segment::Num("0".into());
    let trim = |part: &[Segment]| -> Vec<Segment> {
        let mut p = part.to_vec();
        while p.last() == Some(&zero) {
            p.pop();
        }
        p
    };
    let mut out = trim(&segs[..split]);
    out.extend(trim(&segs[split..]));
    out
}

pub(crate) fn compare(a: &str, b: &str) -> Ordering {
    let (x, y) = (canonical(a), canonical(b));
    let zero = Segment::Num("0".into());
    for i in 0..x.len().max(y.len()) {
        let l = x.get(i).unwrap_or(&zero);
        let r = y.get(i).unwrap_or(&zero);
        let o = match (l, r) {
            (Segment::Num(m), Segment::Num(n)) => cmp_digits(m, n),
            (Segment::Str(m), Segment::Str(n)) => m.cmp(n),
            (Segment::Str(_), Segment::Num(_)) => Ordering::Less,
            (Segment::Num(_), Segment::Str(_)) => Ordering::Greater,
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}
