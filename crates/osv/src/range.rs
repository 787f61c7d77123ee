//! Range evaluation exactly as the OSV schema defines it: per range, events
//! sorted by version (`introduced: "0"` first); walking them, `introduced` at
//! or below the version turns "affected" on, `fixed` at or below turns it off,
//! `last_affected` below turns it off; a `limit` at or below the version
//! means this range does not apply. A version listed in `versions` is
//! affected. `GIT` ranges name commits, not package versions: they are kept
//! and not evaluated. `SEMVER` ranges use SemVer ordering whatever the
//! ecosystem; `ECOSYSTEM` ranges the ecosystem's own.

use std::cell::OnceCell;
use std::cmp::Ordering;

use aibomdb_versions::{Ecosystem, Parsed, VersionError};

use crate::record::{Affected, Event};

/// The answer for one version against one `affected[]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Affected,
    NotAffected,
    /// No ordering is known for the ecosystem: said, never a silent non-match.
    Unsupported(String),
    /// The version (or a bound) cannot be ordered.
    Unorderable(String),
}

fn event_version(e: &Event) -> Option<&str> {
    e.introduced
        .as_deref()
        .or(e.fixed.as_deref())
        .or(e.last_affected.as_deref())
        .or(e.limit.as_deref())
}

/// `introduced: "0"` is below every version; any other "0" (a `fixed: "0"`
/// in real Go records) is an ordinary version.
fn is_zero_introduced(e: &Event) -> bool {
    e.introduced.as_deref() == Some("0")
}

/// One range with its bounds parsed and sorted once, to evaluate many versions.
pub struct PreparedRange<'a> {
    eco: Ecosystem,
    /// Sorted; `None` is `introduced: "0"`, below everything.
    events: Vec<(&'a Event, Option<Parsed<'a>>)>,
}

impl<'a> PreparedRange<'a> {
    pub fn new(eco: Ecosystem, events: &'a [Event]) -> Result<Self, VersionError> {
        let mut parsed = Vec::with_capacity(events.len());
        for e in events {
            let Some(v) = event_version(e) else { continue };
            let p = if is_zero_introduced(e) {
                None
            } else {
                Some(Parsed::new(eco, v)?)
            };
            parsed.push((e, p));
        }
        parsed.sort_by(|(_, a), (_, b)| match (a, b) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (Some(x), Some(y)) => x.cmp(y),
        });
        Ok(PreparedRange {
            eco,
            events: parsed,
        })
    }

    /// Is `version` inside this range?
    pub fn contains(&self, version: &str) -> Result<bool, VersionError> {
        Ok(self.contains_parsed(&Parsed::new(self.eco, version)?))
    }

    /// Is `target` (parsed under this range's ordering) inside it?
    fn contains_parsed(&self, target: &Parsed<'_>) -> bool {
        for (e, p) in &self.events {
            if let (Some(_), Some(limit)) = (&e.limit, p)
                && target.cmp(limit) != Ordering::Less
            {
                return false;
            }
        }
        let mut affected = false;
        for (e, p) in &self.events {
            let o = p.as_ref().map(|p| target.cmp(p));
            if e.introduced.is_some() {
                if o.is_none_or(|o| o != Ordering::Less) {
                    affected = true;
                }
            } else if e.fixed.is_some() {
                if o.is_some_and(|o| o != Ordering::Less) {
                    affected = false;
                }
            } else if e.last_affected.is_some() && o == Some(Ordering::Greater) {
                affected = false;
            }
        }
        affected
    }
}

/// One package version asked about many ranges: parsed at most once per
/// ordering, and its PEP 440 spelling made at most once. A re-match asks
/// each version of a name about every record naming it, and parsing it
/// again for each range was most of the re-match's time.
pub struct Candidate<'v> {
    version: &'v str,
    parsed: [OnceCell<Result<Parsed<'v>, VersionError>>; Ecosystem::ALL.len()],
    /// The canonical PEP 440 spelling, when it differs from `version`.
    canonical: OnceCell<Option<String>>,
}

impl<'v> Candidate<'v> {
    pub fn new(version: &'v str) -> Self {
        Candidate {
            version,
            parsed: Default::default(),
            canonical: OnceCell::new(),
        }
    }

    pub fn version(&self) -> &'v str {
        self.version
    }

    fn parsed(&self, eco: Ecosystem) -> &Result<Parsed<'v>, VersionError> {
        self.parsed[eco as usize].get_or_init(|| Parsed::new(eco, self.version))
    }

    fn canonical(&self) -> Option<&str> {
        self.canonical
            .get_or_init(|| {
                <pep440_rs::Version as std::str::FromStr>::from_str(self.version)
                    .ok()
                    .map(|v| v.to_string())
                    .filter(|c| c != self.version)
            })
            .as_deref()
    }
}

/// Evaluates one range's events for `version`.
pub fn in_range(eco: Ecosystem, events: &[Event], version: &str) -> Result<bool, VersionError> {
    PreparedRange::new(eco, events)?.contains(version)
}

/// The OSV ecosystem name without its `:release` suffix (`Debian:12` → `Debian`),
/// split at the first `:` only.
pub fn base_ecosystem(name: &str) -> &str {
    name.split_once(':').map_or(name, |(b, _)| b)
}

/// One `affected[]` entry prepared for evaluating many versions.
pub struct PreparedAffected<'a> {
    entry: &'a Affected,
    eco: Option<Ecosystem>,
    /// Prepared `ECOSYSTEM`/`SEMVER` ranges, or why one cannot be.
    ranges: Vec<Result<PreparedRange<'a>, Verdict>>,
}

impl<'a> PreparedAffected<'a> {
    pub fn new(entry: &'a Affected) -> Self {
        let ecosystem_name = entry.package.as_ref().map_or("", |p| p.ecosystem.as_str());
        let eco = Ecosystem::from_osv(ecosystem_name);
        let ranges = entry
            .ranges
            .iter()
            .filter_map(|r| {
                let ordering = match r.ty.as_str() {
                    "SEMVER" => Some(Ecosystem::Semver),
                    "ECOSYSTEM" => eco,
                    _ => return None,
                };
                Some(match ordering {
                    None => Err(Verdict::Unsupported(format!(
                        "ecosystem {ecosystem_name:?}"
                    ))),
                    Some(o) => PreparedRange::new(o, &r.events)
                        .map_err(|e| Verdict::Unorderable(e.to_string())),
                })
            })
            .collect();
        PreparedAffected { entry, eco, ranges }
    }

    /// Is `version` affected by this entry? (Package name and ecosystem are
    /// matched by the caller.)
    pub fn evaluate(&self, version: &str) -> Verdict {
        self.evaluate_candidate(&Candidate::new(version))
    }

    /// As [`PreparedAffected::evaluate`], reusing what `candidate` parsed.
    pub fn evaluate_candidate(&self, candidate: &Candidate<'_>) -> Verdict {
        let version = candidate.version();
        if self.entry.versions.iter().any(|v| v == version) {
            return Verdict::Affected;
        }
        for r in &self.ranges {
            match r {
                Err(verdict) => return verdict.clone(),
                Ok(r) => match candidate.parsed(r.eco) {
                    Ok(target) if r.contains_parsed(target) => return Verdict::Affected,
                    Ok(_) => {}
                    Err(e) => return Verdict::Unorderable(e.to_string()),
                },
            }
        }
        // A PyPI version may be written in a non-canonical form (`1.0.0RC1`):
        // its canonical spelling is checked against the list too (the PyPA
        // lists are canonical). Other ecosystems list exact strings.
        if self.eco == Some(Ecosystem::PyPI)
            && !self.entry.versions.is_empty()
            && let Some(canonical) = candidate.canonical()
            && self.entry.versions.iter().any(|v| v == canonical)
        {
            return Verdict::Affected;
        }
        Verdict::NotAffected
    }
}

impl Affected {
    /// Is `version` affected by this entry? (The package name and ecosystem
    /// are matched by the caller.)
    pub fn evaluate(&self, version: &str) -> Verdict {
        PreparedAffected::new(self).evaluate(version)
    }
}

/// Does the advisory's entry name this package? Ecosystems match when equal,
/// or when one side carries no `:release` suffix; PyPI names compare after
/// PEP 503 normalisation, others exactly.
pub fn names_package(entry: &crate::record::Package, ecosystem: &str, name: &str) -> bool {
    let eco_match = entry.ecosystem == ecosystem
        || ((!entry.ecosystem.contains(':') || !ecosystem.contains(':'))
            && base_ecosystem(&entry.ecosystem) == base_ecosystem(ecosystem));
    if !eco_match {
        return false;
    }
    if base_ecosystem(ecosystem) == "PyPI" {
        entry.name == name
            || aibomdb_graph::pep503_normalise(&entry.name) == aibomdb_graph::pep503_normalise(name)
    } else {
        entry.name == name
    }
}

/// An advisory prepared for evaluating many packages (a re-match evaluates
/// each record against every package indexed under its names).
pub struct PreparedAdvisory<'a> {
    pub advisory: &'a crate::record::Advisory,
    entries: Vec<PreparedAffected<'a>>,
}

impl<'a> PreparedAdvisory<'a> {
    pub fn new(advisory: &'a crate::record::Advisory) -> Self {
        PreparedAdvisory {
            advisory,
            entries: advisory
                .affected
                .iter()
                .map(PreparedAffected::new)
                .collect(),
        }
    }

    /// The verdict for one package version: affected if any `affected[]`
    /// entry naming the package says so. A withdrawn advisory affects nothing.
    /// An empty version (nothing pinned) counts as affected: better a flag to
    /// check than a miss.
    pub fn affects(&self, ecosystem: &str, name: &str, version: &str) -> Verdict {
        self.affects_candidate(ecosystem, name, &Candidate::new(version))
    }

    /// As [`PreparedAdvisory::affects`], reusing what `candidate` parsed.
    pub fn affects_candidate(
        &self,
        ecosystem: &str,
        name: &str,
        candidate: &Candidate<'_>,
    ) -> Verdict {
        if self.advisory.is_withdrawn() {
            return Verdict::NotAffected;
        }
        let mut verdict = Verdict::NotAffected;
        for prepared in &self.entries {
            let Some(p) = &prepared.entry.package else {
                continue;
            };
            if !names_package(p, ecosystem, name) {
                continue;
            }
            if candidate.version().is_empty() {
                return Verdict::Affected;
            }
            match prepared.evaluate_candidate(candidate) {
                Verdict::Affected => return Verdict::Affected,
                Verdict::NotAffected => {}
                other => verdict = other,
            }
        }
        verdict
    }
}

impl crate::record::Advisory {
    /// See [`PreparedAdvisory::affects`].
    pub fn affects(&self, ecosystem: &str, name: &str, version: &str) -> Verdict {
        PreparedAdvisory::new(self).affects(ecosystem, name, version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(kind: &str, v: &str) -> Event {
        let mut e = Event::default();
        match kind {
            "i" => e.introduced = Some(v.into()),
            "f" => e.fixed = Some(v.into()),
            "l" => e.last_affected = Some(v.into()),
            _ => e.limit = Some(v.into()),
        }
        e
    }

    #[test]
    fn intervals_last_affected_and_limit() {
        let events = [
            ev("i", "1.0"),
            ev("f", "1.5"),
            ev("i", "2.0"),
            ev("l", "2.3"),
        ];
        let is = |v| in_range(Ecosystem::PyPI, &events, v).unwrap();
        assert!(!is("0.9"));
        assert!(is("1.0"));
        assert!(is("1.4.9"));
        assert!(!is("1.5"));
        assert!(is("2.3"));
        assert!(!is("2.3.1"));
        let limited = [ev("i", "0"), ev("lim", "3.0")];
        assert!(in_range(Ecosystem::Semver, &limited, "2.9.9").unwrap());
        assert!(!in_range(Ecosystem::Semver, &limited, "3.0.0").unwrap());
    }

    #[test]
    fn unsorted_events_are_sorted_first() {
        let events = [
            ev("i", "4.0.0"),
            ev("f", "4.1.12"),
            ev("i", "3.2.0"),
            ev("f", "3.2.22"),
            ev("i", "0"),
        ];
        assert!(in_range(Ecosystem::RubyGems, &events, "4.1.0").unwrap());
        assert!(!in_range(Ecosystem::RubyGems, &events, "3.2.22").unwrap());
        assert!(in_range(Ecosystem::RubyGems, &events, "1.0").unwrap());
    }

    #[test]
    fn ecosystem_suffixes() {
        assert_eq!(base_ecosystem("Debian:12"), "Debian");
        assert_eq!(
            base_ecosystem("Red Hat:enterprise_linux:9::baseos"),
            "Red Hat"
        );
        assert_eq!(base_ecosystem("PyPI"), "PyPI");
    }
}
