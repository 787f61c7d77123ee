//! CRAN and Hackage: numeric components only, separated by `.` (CRAN also `-`);
//! missing components count as absent, and a longer version is greater.

use std::cmp::Ordering;

use crate::util::cmp_digits;

pub(crate) fn compare(a: &str, b: &str, separators: &[char]) -> Ordering {
    let xs: Vec<&str> = a.split(separators).collect();
    let ys: Vec<&str> = b.split(separators).collect();
    for (x, y) in xs.iter().zip(&ys) {
        let o = cmp_digits(x, y);
        if o != Ordering::Equal {
            return o;
        }
    }
    xs.len().cmp(&ys.len())
}
