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

mod alpine;
mod cran;
mod maven;
mod packagist;
mod pypi;
mod rpm;
mod rubygems;
mod semver_like;
mod util;

use std::cmp::Ordering;
use std::str::FromStr;

/// An ordering, by the OSV ecosystem names that use it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ecosystem {
    PyPI,
    /// dpkg ordering: Debian and Ubuntu.
    Debian,
    Alpine,
    /// SemVer as npm, crates.io, Go and Hex use it.
    Semver,
    NuGet,
    Pub,
    Maven,
    RubyGems,
    Packagist,
    /// rpmvercmp with epoch and release: Red Hat, AlmaLinux, Rocky Linux, SUSE, openSUSE, Mageia, openEuler.
    Rpm,
    Cran,
    Hackage,
}

impl Ecosystem {
    /// Every ordering known here.
    pub const ALL: [Ecosystem; 12] = [
        Ecosystem::PyPI,
        Ecosystem::Debian,
        Ecosystem::Alpine,
        Ecosystem::Semver,
        Ecosystem::NuGet,
        Ecosystem::Pub,
        Ecosystem::Maven,
        Ecosystem::RubyGems,
        Ecosystem::Packagist,
        Ecosystem::Rpm,
        Ecosystem::Cran,
        Ecosystem::Hackage,
    ];

    /// From an OSV `affected[].package.ecosystem` (a `:release` suffix such
    /// as `Debian:12` is ignored). `None`: no ordering for it here.
    pub fn from_osv(name: &str) -> Option<Ecosystem> {
        let base = name.split(':').next().unwrap_or(name).trim();
        Some(match base {
            "PyPI" => Ecosystem::PyPI,
            "Debian" | "Ubuntu" => Ecosystem::Debian,
            "Alpine" | "Alpaquita" | "BellSoft Hardened Containers" | "Wolfi" | "Chainguard" => {
                Ecosystem::Alpine
            }
            "npm" | "crates.io" | "Go" | "Hex" | "SwiftURL" | "Bitnami" => Ecosystem::Semver,
            "NuGet" => Ecosystem::NuGet,
            "Pub" => Ecosystem::Pub,
            "Maven" => Ecosystem::Maven,
            "RubyGems" => Ecosystem::RubyGems,
            "Packagist" => Ecosystem::Packagist,
            "Red Hat" | "AlmaLinux" | "Rocky Linux" | "SUSE" | "openSUSE" | "Mageia"
            | "openEuler" => Ecosystem::Rpm,
            "CRAN" => Ecosystem::Cran,
            "Hackage" => Ecosystem::Hackage,
            _ => return None,
        })
    }

    /// The ordering for a purl type (`pypi`, `deb`, `npm`, ...). `None`: no
    /// ordering known for that type.
    pub fn for_purl_type(ty: &str) -> Option<Ecosystem> {
        Some(match ty {
            "pypi" => Ecosystem::PyPI,
            "deb" => Ecosystem::Debian,
            // The purl spec says `apk`; syft and Trivy write `alpine`.
            "apk" | "alpine" => Ecosystem::Alpine,
            "npm" | "cargo" | "golang" | "hex" | "swift" => Ecosystem::Semver,
            "nuget" => Ecosystem::NuGet,
            "pub" => Ecosystem::Pub,
            "maven" => Ecosystem::Maven,
            "gem" => Ecosystem::RubyGems,
            "composer" => Ecosystem::Packagist,
            "rpm" => Ecosystem::Rpm,
            "cran" => Ecosystem::Cran,
            "hackage" => Ecosystem::Hackage,
            _ => return None,
        })
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
    #[error("no version ordering is known for {0}")]
    Unsupported(String),
}

/// Compares two versions under `ecosystem`'s rules.
pub fn compare(ecosystem: Ecosystem, a: &str, b: &str) -> Result<Ordering, VersionError> {
    Ok(match ecosystem {
        Ecosystem::PyPI => pypi::compare(a, b),
        Ecosystem::Debian => dpkg(a)?.cmp(&dpkg(b)?),
        Ecosystem::Alpine => alpine::compare(a, b),
        Ecosystem::Semver => semver_like::compare(a, b),
        Ecosystem::NuGet => semver_like::compare_nuget(a, b),
        Ecosystem::Pub => semver_like::compare_pub(a, b),
        Ecosystem::Maven => maven::compare(a, b),
        Ecosystem::RubyGems => rubygems::compare(a, b),
        Ecosystem::Packagist => packagist::compare(a, b),
        Ecosystem::Rpm => rpm::compare(a, b),
        Ecosystem::Cran => cran::compare(a, b, &['.', '-']),
        Ecosystem::Hackage => cran::compare(a, b, &['.']),
    })
}

/// A version parsed once for repeated comparisons (range evaluation compares
/// one version against many bounds). PyPI and Debian versions are parsed into
/// their orderable form; the others compare their strings on demand.
pub enum Parsed<'a> {
    PyPI(pypi::PypiVersion),
    Debian(debversion::Version),
    Other(Ecosystem, &'a str),
}

impl<'a> Parsed<'a> {
    pub fn new(ecosystem: Ecosystem, s: &'a str) -> Result<Parsed<'a>, VersionError> {
        Ok(match ecosystem {
            Ecosystem::PyPI => Parsed::PyPI(pypi::parse(s)),
            Ecosystem::Debian => Parsed::Debian(dpkg(s)?),
            other => Parsed::Other(other, s),
        })
    }
}

impl Ord for Parsed<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Parsed::PyPI(a), Parsed::PyPI(b)) => pypi::cmp_parsed(a, b),
            (Parsed::Debian(a), Parsed::Debian(b)) => a.cmp(b),
            (Parsed::Other(e, a), Parsed::Other(_, b)) => {
                compare(*e, a, b).unwrap_or(Ordering::Equal)
            }
            // Both sides are always parsed under one ecosystem.
            _ => Ordering::Equal,
        }
    }
}

impl PartialOrd for Parsed<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Parsed<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Parsed<'_> {}

fn dpkg(v: &str) -> Result<debversion::Version, VersionError> {
    debversion::Version::from_str(v.trim()).map_err(|e| VersionError::Version {
        scheme: "Debian",
        version: v.to_string(),
        message: format!("{e:?}"),
    })
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
    /// The range as the user wrote it (trimmed).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether the range can be evaluated under `ecosystem` at all: for
    /// PyPI, the whole text is a PEP 440 specifier set; elsewhere each bound
    /// must look like a version of that scheme (a letter or digit first, then
    /// only the characters version schemes use). A range that fails here can
    /// only ever answer "nothing matches", so callers refuse it instead.
    pub fn check(&self, ecosystem: Ecosystem) -> Result<(), VersionError> {
        if self.text == "*" {
            return Ok(());
        }
        let bad = |message: String| VersionError::Range {
            range: self.text.clone(),
            message,
        };
        if ecosystem == Ecosystem::PyPI {
            return pep440_rs::VersionSpecifiers::from_str(&self.text)
                .map(drop)
                .map_err(|e| bad(e.to_string()));
        }
        for (_, bound) in &self.comparators {
            if !bound.starts_with(|c: char| c.is_ascii_alphanumeric()) {
                return Err(bad(format!(
                    "`{bound}` does not start with a letter or digit"
                )));
            }
            if let Some(c) = bound
                .chars()
                .find(|c| !(c.is_ascii_alphanumeric() || "._+~:^-".contains(*c)))
            {
                return Err(bad(if c == '*' {
                    format!("`{bound}`: wildcards are only understood in PEP 440 (PyPI) ranges")
                } else {
                    format!("`{bound}` contains {c:?}, which no version of this scheme has")
                }));
            }
            if ecosystem == Ecosystem::Debian {
                dpkg(bound).map_err(|e| bad(e.to_string()))?;
            }
        }
        Ok(())
    }

    /// True when `version` is in the range under `scheme`.
    pub fn contains(&self, ecosystem: Ecosystem, version: &str) -> Result<bool, VersionError> {
        if ecosystem == Ecosystem::PyPI && self.text != "*" {
            let specs = pep440_rs::VersionSpecifiers::from_str(&self.text).map_err(|e| {
                VersionError::Range {
                    range: self.text.clone(),
                    message: e.to_string(),
                }
            })?;
            let v = pep440_rs::Version::from_str(version.trim()).map_err(|e| {
                VersionError::Version {
                    scheme: "PEP 440",
                    version: version.to_string(),
                    message: e.to_string(),
                }
            })?;
            return Ok(specs.contains(&v));
        }
        for (op, bound) in &self.comparators {
            let o = compare(ecosystem, version, bound)?;
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

    #[test]
    fn ranges_checked_per_scheme() {
        for text in ["<<4", "=>4", ">=4,<<5", "<4 .0", "4.0@x", ">", "<=", ","] {
            if let Ok(range) = text.parse::<VersionRange>() {
                for eco in Ecosystem::ALL {
                    assert!(range.check(eco).is_err(), "{text:?} under {eco:?}");
                }
            }
        }
        // `~=` is PEP 440 only; wildcards likewise.
        for text in ["~=4.38", "==4.*"] {
            let range = r(text);
            assert!(range.check(Ecosystem::PyPI).is_ok(), "{text}");
            assert!(range.check(Ecosystem::Semver).is_err(), "{text}");
        }
        for text in ["<4.38", ">=1.0,<2", "*", "1:2.0~rc1-1", "1.1.0f_3-r0"] {
            let range = r(text);
            assert!(
                Ecosystem::ALL.iter().any(|e| range.check(*e).is_ok()),
                "{text}"
            );
        }
    }

    fn r(s: &str) -> VersionRange {
        s.parse().unwrap()
    }

    #[test]
    fn pep440_ordering_and_ranges() {
        assert_eq!(
            compare(Ecosystem::PyPI, "1.0.post1", "1.0").unwrap(),
            Ordering::Greater
        );
        assert_eq!(
            compare(Ecosystem::PyPI, "1.0rc1", "1.0").unwrap(),
            Ordering::Less
        );
        assert_eq!(
            compare(Ecosystem::PyPI, "1.0", "1.0.0").unwrap(),
            Ordering::Equal
        );
        assert_eq!(
            compare(Ecosystem::PyPI, "1!0.1", "2.0").unwrap(),
            Ordering::Greater
        );
        assert!(r("<4.38").contains(Ecosystem::PyPI, "4.37.2").unwrap());
        assert!(!r("<4.38").contains(Ecosystem::PyPI, "4.38.0").unwrap());
        assert!(!r("<4.38").contains(Ecosystem::PyPI, "5.23.0").unwrap());
        assert!(r(">=4.0,<5").contains(Ecosystem::PyPI, "4.46.1").unwrap());
        assert!(r("==4.*").contains(Ecosystem::PyPI, "4.2").unwrap());
        assert!(r("*").contains(Ecosystem::PyPI, "0.1").unwrap());
        assert!(
            r("<4.38")
                .contains(Ecosystem::PyPI, "not-a-version")
                .is_err()
        );
    }

    #[test]
    fn dpkg_ordering() {
        assert_eq!(
            compare(Ecosystem::Debian, "1.0~rc1", "1.0").unwrap(),
            Ordering::Less
        );
        assert_eq!(
            compare(Ecosystem::Debian, "1:0.9", "2.0").unwrap(),
            Ordering::Greater
        );
        assert_eq!(
            compare(Ecosystem::Debian, "2.36-9+deb12u10", "2.36-9+deb12u4").unwrap(),
            Ordering::Greater
        );
        assert!(
            r("<1:2.31-13+deb11u4")
                .contains(Ecosystem::Debian, "1:2.31-13+deb11u3")
                .unwrap()
        );
    }

    #[test]
    fn semver_and_generic() {
        assert_eq!(
            compare(Ecosystem::Semver, "v1.10.0", "v1.9.3").unwrap(),
            Ordering::Greater
        );
        assert_eq!(
            compare(Ecosystem::Semver, "1.0.0-alpha", "1.0.0").unwrap(),
            Ordering::Less
        );
        assert_eq!(
            compare(Ecosystem::Alpine, "3.20.3", "3.9").unwrap(),
            Ordering::Greater
        );
        assert_eq!(
            compare(Ecosystem::Alpine, "1.2.3-r1", "1.2.3-r0").unwrap(),
            Ordering::Greater
        );
        assert!(r(">=1.2,<2").contains(Ecosystem::Semver, "1.10.0").unwrap());
        assert!("".parse::<VersionRange>().is_err());
        assert!("<".parse::<VersionRange>().is_err());
    }
}
