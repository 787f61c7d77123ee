//! Version ordering per ecosystem and range evaluation.
//!
//! Traps:
//! - PyPI follows PEP 440, not semver: `1.0.post1 > 1.0`, `1.0rc1 < 1.0`,
//!   `1.0 == 1.0.0`, epochs (`1!0.1 > 2.0`), and a specifier such as `<4.38`
//!   excludes pre-releases of 4.38 itself.
//! - Debian uses dpkg ordering: epochs, `~` sorts before everything
//!   (`1.0~rc1 < 1.0`), and letters sort before non-letters.
//! - Anything else is compared as semver when both sides parse (a leading `v`
//!   allowed), else segment by segment, numbers numerically.

use std::cmp::Ordering;
use std::str::FromStr;

/// Which ordering applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Pep440,
    Dpkg,
    Semver,
    Generic,
}

impl Scheme {
    /// The scheme for a purl type (`pypi`, `deb`, `npm`, ...).
    pub fn for_purl_type(ty: &str) -> Scheme {
        match ty {
            "pypi" => Scheme::Pep440,
            "deb" => Scheme::Dpkg,
            "npm" | "cargo" | "golang" | "gem" | "hex" | "pub" | "nuget" | "composer" => {
                Scheme::Semver
            }
            _ => Scheme::Generic,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    #[error("`{version}` is not a valid {scheme} version: {message}")]
    Version {
        scheme: &'static str,
        version: String,
        message: String,
    },
    #[error("`{range}` is not a valid version range: {message}")]
    Range { range: String, message: String },
}

/// Compares two versions under `scheme`.
pub fn compare(scheme: Scheme, a: &str, b: &str) -> Result<Ordering, VersionError> {
    match scheme {
        Scheme::Pep440 => Ok(pep440(a)?.cmp(&pep440(b)?)),
        Scheme::Dpkg => Ok(dpkg(a)?.cmp(&dpkg(b)?)),
        Scheme::Semver => match (semver_of(a), semver_of(b)) {
            (Some(x), Some(y)) => Ok(x.cmp(&y)),
            _ => Ok(generic_cmp(a, b)),
        },
        Scheme::Generic => Ok(generic_cmp(a, b)),
    }
}

fn pep440(v: &str) -> Result<pep440_rs::Version, VersionError> {
    pep440_rs::Version::from_str(v.trim()).map_err(|e| VersionError::Version {
        scheme: "PEP 440",
        version: v.to_string(),
        message: e.to_string(),
    })
}

fn dpkg(v: &str) -> Result<debversion::Version, VersionError> {
    debversion::Version::from_str(v.trim()).map_err(|e| VersionError::Version {
        scheme: "Debian",
        version: v.to_string(),
        message: format!("{e:?}"),
    })
}

fn semver_of(v: &str) -> Option<semver::Version> {
    semver::Version::parse(v.trim().trim_start_matches('v')).ok()
}

/// Segment-wise comparison: digit runs numerically, other runs as text.
fn generic_cmp(a: &str, b: &str) -> Ordering {
    fn segments(s: &str) -> Vec<Result<u128, &str>> {
        let mut out = Vec::new();
        let bytes = s.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let start = i;
            let digit = bytes[i].is_ascii_digit();
            while i < bytes.len()
                && bytes[i].is_ascii_digit() == digit
                && bytes[i].is_ascii_alphanumeric()
            {
                i += 1;
            }
            if i == start {
                i += 1; // a separator
                continue;
            }
            let seg = &s[start..i];
            out.push(if digit {
                seg.parse().map_err(|_| seg)
            } else {
                Err(seg)
            });
        }
        out
    }
    let (x, y) = (segments(a), segments(b));
    for (p, q) in x.iter().zip(&y) {
        let o = match (p, q) {
            (Ok(m), Ok(n)) => m.cmp(n),
            (Ok(_), Err(_)) => Ordering::Greater,
            (Err(_), Ok(_)) => Ordering::Less,
            (Err(m), Err(n)) => m.cmp(n),
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    x.len().cmp(&y.len())
}

/// A range as users write it on the command line: comma-separated
/// comparators (`>=4.0,<4.38`), `==`/`!=` included. For PyPI the whole string
/// is a PEP 440 specifier set (so `~=` and `==4.*` work too).
#[derive(Debug, Clone)]
pub struct VersionRange {
    text: String,
    comparators: Vec<(Op, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl FromStr for VersionRange {
    type Err = VersionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut comparators = Vec::new();
        if s.trim() == "*" {
            return Ok(VersionRange {
                text: "*".into(),
                comparators,
            });
        }
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (op, rest) = [
                ("<=", Op::Le),
                (">=", Op::Ge),
                ("==", Op::Eq),
                ("!=", Op::Ne),
                ("<", Op::Lt),
                (">", Op::Gt),
                ("=", Op::Eq),
            ]
            .iter()
            .find_map(|(p, op)| part.strip_prefix(p).map(|r| (*op, r.trim())))
            .unwrap_or((Op::Eq, part));
            if rest.is_empty() {
                return Err(VersionError::Range {
                    range: s.to_string(),
                    message: format!("`{part}` has no version"),
                });
            }
            comparators.push((op, rest.to_string()));
        }
        if comparators.is_empty() {
            return Err(VersionError::Range {
                range: s.to_string(),
                message: "empty".into(),
            });
        }
        Ok(VersionRange {
            text: s.trim().to_string(),
            comparators,
        })
    }
}

impl VersionRange {
    /// True when `version` is in the range under `scheme`.
    pub fn contains(&self, scheme: Scheme, version: &str) -> Result<bool, VersionError> {
        if scheme == Scheme::Pep440 && self.text != "*" {
            let specs = pep440_rs::VersionSpecifiers::from_str(&self.text).map_err(|e| {
                VersionError::Range {
                    range: self.text.clone(),
                    message: e.to_string(),
                }
            })?;
            return Ok(specs.contains(&pep440(version)?));
        }
        for (op, bound) in &self.comparators {
            let o = compare(scheme, version, bound)?;
            let ok = match op {
                Op::Lt => o == Ordering::Less,
                Op::Le => o != Ordering::Greater,
                Op::Gt => o == Ordering::Greater,
                Op::Ge => o != Ordering::Less,
                Op::Eq => o == Ordering::Equal,
                Op::Ne => o != Ordering::Equal,
            };
            if !ok {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> VersionRange {
        s.parse().unwrap()
    }

    #[test]
    fn pep440_ordering_and_ranges() {
        assert_eq!(
            compare(Scheme::Pep440, "1.0.post1", "1.0").unwrap(),
            Ordering::Greater
        );
        assert_eq!(
            compare(Scheme::Pep440, "1.0rc1", "1.0").unwrap(),
            Ordering::Less
        );
        assert_eq!(
            compare(Scheme::Pep440, "1.0", "1.0.0").unwrap(),
            Ordering::Equal
        );
        assert_eq!(
            compare(Scheme::Pep440, "1!0.1", "2.0").unwrap(),
            Ordering::Greater
        );
        assert!(r("<4.38").contains(Scheme::Pep440, "4.37.2").unwrap());
        assert!(!r("<4.38").contains(Scheme::Pep440, "4.38.0").unwrap());
        assert!(!r("<4.38").contains(Scheme::Pep440, "5.23.0").unwrap());
        assert!(r(">=4.0,<5").contains(Scheme::Pep440, "4.46.1").unwrap());
        assert!(r("==4.*").contains(Scheme::Pep440, "4.2").unwrap());
        assert!(r("*").contains(Scheme::Pep440, "0.1").unwrap());
        assert!(
            r("<4.38")
                .contains(Scheme::Pep440, "not-a-version")
                .is_err()
        );
    }

    #[test]
    fn dpkg_ordering() {
        assert_eq!(
            compare(Scheme::Dpkg, "1.0~rc1", "1.0").unwrap(),
            Ordering::Less
        );
        assert_eq!(
            compare(Scheme::Dpkg, "1:0.9", "2.0").unwrap(),
            Ordering::Greater
        );
        assert_eq!(
            compare(Scheme::Dpkg, "2.36-9+deb12u10", "2.36-9+deb12u4").unwrap(),
            Ordering::Greater
        );
        assert!(
            r("<1:2.31-13+deb11u4")
                .contains(Scheme::Dpkg, "1:2.31-13+deb11u3")
                .unwrap()
        );
    }

    #[test]
    fn semver_and_generic() {
        assert_eq!(
            compare(Scheme::Semver, "v1.10.0", "v1.9.3").unwrap(),
            Ordering::Greater
        );
        assert_eq!(
            compare(Scheme::Semver, "1.0.0-alpha", "1.0.0").unwrap(),
            Ordering::Less
        );
        assert_eq!(
            compare(Scheme::Generic, "3.20.3", "3.9").unwrap(),
            Ordering::Greater
        );
        assert_eq!(
            compare(Scheme::Generic, "1.2.3-r1", "1.2.3-r0").unwrap(),
            Ordering::Greater
        );
        assert!(r(">=1.2,<2").contains(Scheme::Semver, "1.10.0").unwrap());
        assert!("".parse::<VersionRange>().is_err());
        assert!("<".parse::<VersionRange>().is_err());
    }
}
