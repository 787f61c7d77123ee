//! The questions responders ask, answered over the store: the same answers
//! for the CLI and for GraphQL, so neither front end holds query logic.

use std::collections::{BTreeMap, BTreeSet};

use aibomdb_graph::PackageKey;
use aibomdb_osv::MatchRow;
use aibomdb_store::{DeploymentHit, PackageRecord, PackageVersion, Store, StoreError};
use aibomdb_versions::{Ecosystem, VersionRange};
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The question itself is malformed (a bad purl or range): the caller's fault.
    #[error("{0}")]
    BadInput(String),
    /// The version range cannot be read by any ordering it is applied to.
    #[error("{0}")]
    BadRange(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub type Result<T, E = QueryError> = std::result::Result<T, E>;

pub fn parse_range(text: &str) -> Result<VersionRange> {
    text.parse::<VersionRange>()
        .map_err(|e| QueryError::BadRange(format!("version range {text:?}: {e}")))
}

pub fn parse_purl(text: &str) -> Result<PackageKey> {
    PackageKey::parse(text).map_err(|e| QueryError::BadInput(format!("purl {text:?}: {e}")))
}

/// Versions of a package name, filtered by range in the package's own
/// ecosystem ordering.
#[derive(Debug, Clone, Serialize)]
pub struct PackagesAnswer {
    pub packages: Vec<PackageVersion>,
    /// Versions the range could not be evaluated on, with the reason: reported,
    /// never silently dropped.
    pub unordered: Vec<String>,
    /// Everything the answer left out or assumed, as sentences: versions not
    /// evaluated, purl types without an ordering, a versionless purl read as
    /// every version.
    pub notes: Vec<String>,
}

pub fn packages(
    store: &Store,
    name: &str,
    ecosystem: Option<&str>,
    range: Option<&VersionRange>,
) -> Result<PackagesAnswer> {
    let versions = store.packages_named(name, ecosystem)?;
    let mut filter = RangeFilter::new(range, versions.iter().map(|v| &v.package), ecosystem)?;
    let mut packages: Vec<PackageVersion> = versions
        .into_iter()
        .filter(|v| filter.keeps(&v.package))
        .collect();
    packages.sort_by(|a, b| a.package.key.cmp(&b.package.key));
    let (unordered, notes) = filter.finish();
    Ok(PackagesAnswer {
        packages,
        unordered,
        notes,
    })
}

/// A version range applied to a set of stored packages. The range is
/// validated against the orderings of the packages it is applied to before
/// any is evaluated: a range no ordering can read is the caller's mistake
/// ([`QueryError::BadInput`]), never an empty answer. Packages the range
/// cannot be evaluated on are counted and named in the notes.
struct RangeFilter<'r> {
    range: Option<&'r VersionRange>,
    /// Per purl type: its ordering, or why the range cannot be evaluated there.
    plan: BTreeMap<String, std::result::Result<Ecosystem, String>>,
    /// Per purl type the range was not evaluated on: the packages left out.
    skipped: BTreeMap<String, Vec<String>>,
    unordered: Vec<String>,
}

impl<'r> RangeFilter<'r> {
    fn new<'p>(
        range: Option<&'r VersionRange>,
        candidates: impl Iterator<Item = &'p PackageRecord>,
        ecosystem: Option<&str>,
    ) -> Result<Self> {
        let mut plan = BTreeMap::new();
        if let Some(range) = range {
            let types: BTreeSet<&str> = candidates.map(|p| p.ecosystem.as_str()).collect();
            for ty in &types {
                let entry = match Ecosystem::for_purl_type(ty) {
                    None => Err(format!("no version ordering is known for purl type `{ty}`")),
                    Some(eco) => range.check(eco).map(|()| eco).map_err(|e| e.to_string()),
                };
                plan.insert(ty.to_string(), entry);
            }
            validate_range(range, &types, ecosystem)?;
        }
        Ok(RangeFilter {
            range,
            plan,
            skipped: BTreeMap::new(),
            unordered: Vec::new(),
        })
    }

    /// Whether `package` is in the range; a package it cannot be evaluated
    /// on is left out and remembered for the notes.
    fn keeps(&mut self, package: &PackageRecord) -> bool {
        let Some(range) = self.range else { return true };
        let eco = match self.plan.get(&package.ecosystem) {
            Some(Ok(eco)) => *eco,
            _ => {
                self.skipped
                    .entry(package.ecosystem.clone())
                    .or_default()
                    .push(package.key.clone());
                self.unordered.push(format!(
                    "{}: not evaluated ({})",
                    package.key,
                    self.reason(&package.ecosystem)
                ));
                return false;
            }
        };
        let Some(version) = package.version.as_deref() else {
            self.unordered.push(format!("{}: no version", package.key));
            return false;
        };
        match range.contains(eco, version) {
            Ok(inside) => inside,
            Err(e) => {
                self.unordered.push(format!("{}: {e}", package.key));
                false
            }
        }
    }

    fn reason(&self, ty: &str) -> String {
        match self.plan.get(ty) {
            Some(Err(e)) => e.clone(),
            _ => format!("no version ordering is known for purl type `{ty}`"),
        }
    }

    /// (unordered versions, notes)
    fn finish(self) -> (Vec<String>, Vec<String>) {
        let mut notes = Vec::new();
        for (ty, keys) in &self.skipped {
            notes.push(format!(
                "{} {ty} package(s) left out, the range was not evaluated on them: {}",
                keys.len(),
                self.reason(ty)
            ));
        }
        notes.extend(
            self.unordered
                .iter()
                .filter(|u| !u.contains(": not evaluated ("))
                .map(|u| format!("left out, version not comparable: {u}")),
        );
        (self.unordered, notes)
    }
}

/// Refuses a range that no ordering it is applied to can read: the orderings
/// of the candidate packages' purl types; with no candidates (or none with a
/// known ordering), the `ecosystem` asked for, else every known ordering.
fn validate_range(
    range: &VersionRange,
    types: &BTreeSet<&str>,
    ecosystem: Option<&str>,
) -> Result<()> {
    let mut against: Vec<(String, Ecosystem)> = types
        .iter()
        .filter_map(|ty| Ecosystem::for_purl_type(ty).map(|e| (format!("`{ty}`"), e)))
        .collect();
    if against.is_empty() {
        if let Some(eco) = ecosystem.and_then(|e| Ecosystem::for_purl_type(&e.to_ascii_lowercase()))
        {
            against.push((format!("`{}`", ecosystem.unwrap_or_default()), eco));
        } else {
            against = Ecosystem::ALL
                .iter()
                .map(|e| ("any known version scheme".to_string(), *e))
                .collect();
        }
    }
    let mut first = None;
    for (_, eco) in &against {
        match range.check(*eco) {
            Ok(()) => return Ok(()),
            Err(e) => {
                first.get_or_insert(e);
            }
        }
    }
    let mut names: Vec<&str> = against.iter().map(|(n, _)| n.as_str()).collect();
    names.dedup();
    Err(QueryError::BadRange(format!(
        "version range {:?} cannot be read for {}: {}",
        range.text(),
        names.join(", "),
        first.map(|e| e.to_string()).unwrap_or_default()
    )))
}

/// What a blast-radius question names.
#[derive(Debug, Clone)]
pub enum Target {
    /// A purl without a version means every version of that package (the
    /// answer's notes say so and list them).
    Purl(PackageKey),
    Name {
        ecosystem: Option<String>,
        name: String,
        range: Option<VersionRange>,
    },
}

#[derive(Debug, Clone, Serialize)]
pub struct BlastRadius {
    /// Hits in all (one per document and matching package version).
    pub total: usize,
    /// The requested page of hits, each with its path.
    pub hits: Vec<DeploymentHit>,
    pub unordered: Vec<String>,
    /// Everything the answer left out or assumed (see [`PackagesAnswer::notes`]).
    pub notes: Vec<String>,
}

/// Every deployment whose documents contain the target, with the path
/// deployment → document → package → … → target that makes it a hit.
pub fn deployments_using(store: &Store, target: &Target, history: bool) -> Result<BlastRadius> {
    deployments_using_page(store, target, history, 0, usize::MAX)
}

/// As [`deployments_using`], resolving paths only for hits `offset..offset + limit`.
pub fn deployments_using_page(
    store: &Store,
    target: &Target,
    history: bool,
    offset: usize,
    limit: usize,
) -> Result<BlastRadius> {
    using(store, target, history, None, offset, limit)
}

/// The hits of one deployment, each with its path deployment → document →
/// … → target: "show me the path from deployment X to the vulnerable package".
pub fn paths_in_deployment(
    store: &Store,
    deployment: &str,
    target: &Target,
    history: bool,
) -> Result<BlastRadius> {
    using(store, target, history, Some(deployment), 0, usize::MAX)
}

/// The stored keys a target names, with (unordered versions, notes).
fn resolve(store: &Store, target: &Target) -> Result<(Vec<PackageKey>, Vec<String>, Vec<String>)> {
    match target {
        Target::Purl(key) if key.version().is_none() => {
            let purl = aibomdb_graph::Purl::parse(key.as_str())
                .map_err(|e| QueryError::BadInput(format!("purl {key}: {e}")))?;
            let mut keys: Vec<PackageKey> = store
                .package_records_named(&purl.name, Some(key.ty()))?
                .into_iter()
                .map(|p| PackageKey::from_stored(p.key))
                .filter(|k| k.unversioned() == key.unversioned())
                .collect();
            keys.sort();
            let versions: Vec<String> = keys
                .iter()
                .map(|k| k.version().unwrap_or_else(|| "(no version)".into()))
                .collect();
            let note = if versions.is_empty() {
                format!(
                    "{key} has no version: every version was asked for, and the store holds none"
                )
            } else {
                format!(
                    "{key} has no version: every version is counted ({})",
                    versions.join(", ")
                )
            };
            Ok((keys, Vec::new(), vec![note]))
        }
        Target::Purl(key) => Ok((vec![key.clone()], Vec::new(), Vec::new())),
        Target::Name {
            ecosystem,
            name,
            range,
        } => {
            let records = store.package_records_named(name, ecosystem.as_deref())?;
            let mut filter =
                RangeFilter::new(range.as_ref(), records.iter(), ecosystem.as_deref())?;
            let keys = records
                .into_iter()
                .filter(|p| filter.keeps(p))
                .map(|p| PackageKey::from_stored(p.key))
                .collect();
            let (unordered, notes) = filter.finish();
            Ok((keys, unordered, notes))
        }
    }
}

fn using(
    store: &Store,
    target: &Target,
    history: bool,
    deployment: Option<&str>,
    offset: usize,
    limit: usize,
) -> Result<BlastRadius> {
    let (keys, unordered, notes) = resolve(store, target)?;
    let (total, hits) = match deployment {
        Some(d) => store.paths_in_deployment(d, &keys, history, offset, limit)?,
        None => store.deployments_using_page(&keys, history, offset, limit)?,
    };
    Ok(BlastRadius {
        total,
        hits,
        unordered,
        notes,
    })
}

/// Matches of an advisory known by any of its names (CVE, GHSA, PYSEC…);
/// `None` when no loaded advisory has that name.
pub fn affected(store: &Store, advisory: &str) -> Result<Option<(Vec<String>, Vec<MatchRow>)>> {
    let ids = store.advisory_ids(advisory)?;
    if ids.is_empty() {
        return Ok(None);
    }
    let rows = aibomdb_osv::advisory_matches(store, &ids)?;
    Ok(Some((ids, rows)))
}

/// The deployments [`affected`] names, without its match rows.
pub fn affected_deployments(
    store: &Store,
    advisory: &str,
) -> Result<Option<(Vec<String>, Vec<String>)>> {
    let ids = store.advisory_ids(advisory)?;
    if ids.is_empty() {
        return Ok(None);
    }
    let deployments = aibomdb_osv::advisory_deployments(store, &ids)?;
    Ok(Some((ids, deployments)))
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PackageChange {
    /// Purl without version.
    pub package: String,
    pub before: Vec<String>,
    pub after: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AdvisoryChange {
    pub advisory: String,
    pub package: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diff {
    pub added: Vec<PackageChange>,
    pub removed: Vec<PackageChange>,
    /// Same package, other versions.
    pub changed: Vec<PackageChange>,
    /// Open matches in B and not in A.
    pub advisories_added: Vec<AdvisoryChange>,
    pub advisories_removed: Vec<AdvisoryChange>,
}

/// What changes from deployment `a` to deployment `b` (current documents).
/// `None` when either is unknown.
pub fn diff(store: &Store, a: &str, b: &str) -> Result<Option<Diff>> {
    let (Some(ra), Some(rb)) = (store.deployment_report(a)?, store.deployment_report(b)?) else {
        return Ok(None);
    };
    let versions = |r: &aibomdb_store::DeploymentReport| {
        let mut m: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for p in &r.packages {
            let key = PackageKey::from_stored(p.purl.clone());
            m.entry(key.unversioned().to_string())
                .or_default()
                .insert(p.version.clone().unwrap_or_default());
        }
        m
    };
    let (va, vb) = (versions(&ra), versions(&rb));
    let mut out = Diff {
        added: Vec::new(),
        removed: Vec::new(),
        changed: Vec::new(),
        advisories_added: Vec::new(),
        advisories_removed: Vec::new(),
    };
    let change =
        |k: &String, before: Option<&BTreeSet<String>>, after: Option<&BTreeSet<String>>| {
            PackageChange {
                package: k.clone(),
                before: before
                    .map(|s| s.iter().cloned().collect())
                    .unwrap_or_default(),
                after: after
                    .map(|s| s.iter().cloned().collect())
                    .unwrap_or_default(),
            }
        };
    for (k, before) in &va {
        match vb.get(k) {
            None => out.removed.push(change(k, Some(before), None)),
            Some(after) if after != before => {
                out.changed.push(change(k, Some(before), Some(after)))
            }
            Some(_) => {}
        }
    }
    for (k, after) in &vb {
        if !va.contains_key(k) {
            out.added.push(change(k, None, Some(after)));
        }
    }
    let open = |d: &str| -> Result<BTreeSet<(String, String)>> {
        Ok(aibomdb_osv::deployment_matches(store, Some(d))?
            .into_iter()
            .filter(MatchRow::is_open)
            .map(|r| (r.advisory, r.package))
            .collect())
    };
    let (ma, mb) = (open(a)?, open(b)?);
    out.advisories_added = mb
        .difference(&ma)
        .map(|(advisory, package)| AdvisoryChange {
            advisory: advisory.clone(),
            package: package.clone(),
        })
        .collect();
    out.advisories_removed = ma
        .difference(&mb)
        .map(|(advisory, package)| AdvisoryChange {
            advisory: advisory.clone(),
            package: package.clone(),
        })
        .collect();
    Ok(Some(out))
}

mod graph;
mod history;
mod lineage;
mod model_findings;
mod models;
mod overview;
mod search;
mod timeline;
pub use graph::{DependencyGraph, GraphNode, dependency_graph};
pub use history::{exposure_counts, exposure_history};
pub use overview::{
    Counts, MAX_TOP as OVERVIEW_MAX_TOP, ModelWithFindings, Overview, RANKING, RankedDeployment,
    RankedExposure, RecentDocument, RecentSync, SeverityCounts, overview, severity_weight,
};
pub use search::{PackageHit, SearchResults, search};
pub use timeline::{Exposure, Period, timeline};

pub use lineage::{
    DatasetView, Direction, LineageGraph, LineageLink, LineageNode, RunningHit, datasets,
    deployments_running, lineage,
};
pub use models::{
    ApprovalState, Finding, FindingFilter, Lineage, ModelView, PublishedDigests, approve,
    is_described, model_views, models, models_in, models_of, models_of_listed, resolve_models,
};
