//! The questions responders ask, answered over the store: the same answers
//! for the CLI and for GraphQL, so neither front end holds query logic.

use std::collections::{BTreeMap, BTreeSet};

use aibomdb_graph::PackageKey;
use aibomdb_osv::MatchRow;
use aibomdb_store::{DeploymentHit, PackageVersion, Store, StoreError};
use aibomdb_versions::{Ecosystem, VersionError, VersionRange};
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The question itself is malformed (a bad purl or range): the caller's fault.
    #[error("{0}")]
    BadInput(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub type Result<T, E = QueryError> = std::result::Result<T, E>;

pub fn parse_range(text: &str) -> Result<VersionRange> {
    text.parse::<VersionRange>()
        .map_err(|e| QueryError::BadInput(format!("version range {text:?}: {e}")))
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
}

pub fn packages(
    store: &Store,
    name: &str,
    ecosystem: Option<&str>,
    range: Option<&VersionRange>,
) -> Result<PackagesAnswer> {
    let mut packages = Vec::new();
    let mut unordered = Vec::new();
    for v in store.packages_named(name, ecosystem)? {
        match in_range(&v.package, range) {
            Ok(true) => packages.push(v),
            Ok(false) => {}
            Err(e) => unordered.push(e),
        }
    }
    packages.sort_by(|a, b| a.package.key.cmp(&b.package.key));
    Ok(PackagesAnswer {
        packages,
        unordered,
    })
}

/// Whether the package's version is in `range` under its ecosystem's
/// ordering; `Err` names a version that cannot be ordered.
fn in_range(
    package: &aibomdb_store::PackageRecord,
    range: Option<&VersionRange>,
) -> Result<bool, String> {
    let Some(range) = range else { return Ok(true) };
    let Some(version) = package.version.as_deref() else {
        return Err(format!("{}: no version", package.key));
    };
    Ecosystem::for_purl_type(&package.ecosystem)
        .ok_or_else(|| VersionError::Unsupported(format!("purl type `{}`", package.ecosystem)))
        .and_then(|eco| range.contains(eco, version))
        .map_err(|e| format!("{}: {e}", package.key))
}

/// What a blast-radius question names.
#[derive(Debug, Clone)]
pub enum Target {
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

fn using(
    store: &Store,
    target: &Target,
    history: bool,
    deployment: Option<&str>,
    offset: usize,
    limit: usize,
) -> Result<BlastRadius> {
    let mut unordered = Vec::new();
    let keys: Vec<PackageKey> = match target {
        Target::Purl(key) => vec![key.clone()],
        Target::Name {
            ecosystem,
            name,
            range,
        } => {
            let mut keys = Vec::new();
            for p in store.package_records_named(name, ecosystem.as_deref())? {
                match in_range(&p, range.as_ref()) {
                    Ok(true) => keys.push(PackageKey::from_stored(p.key)),
                    Ok(false) => {}
                    Err(e) => unordered.push(e),
                }
            }
            keys
        }
    };
    let (total, hits) = match deployment {
        Some(d) => store.paths_in_deployment(d, &keys, history, offset, limit)?,
        None => store.deployments_using_page(&keys, history, offset, limit)?,
    };
    Ok(BlastRadius {
        total,
        hits,
        unordered,
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

#[derive(Debug, Clone, Default, Serialize)]
pub struct SearchResults {
    /// Package names (purl without version) starting with the text, with their version count.
    pub packages: Vec<(String, u64)>,
    pub deployments: Vec<String>,
    pub advisories: Vec<String>,
}

/// The web page's search box: package names by prefix, deployments by
/// substring, advisories by any of their names.
pub fn search(store: &Store, text: &str, limit: usize) -> Result<SearchResults> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(SearchResults::default());
    }
    let mut names: BTreeMap<String, u64> = BTreeMap::new();
    for p in store.packages_with_name_prefix(text, limit * 20)? {
        *names
            .entry(
                PackageKey::from_stored(p.key.clone())
                    .unversioned()
                    .to_string(),
            )
            .or_default() += 1;
    }
    let lower = text.to_lowercase();
    let deployments = store
        .deployments()?
        .into_iter()
        .map(|d| d.name)
        .filter(|n| n.to_lowercase().contains(&lower))
        .take(limit)
        .collect();
    Ok(SearchResults {
        packages: names.into_iter().take(limit).collect(),
        deployments,
        advisories: store.advisory_ids(text)?.into_iter().take(limit).collect(),
    })
}

mod models;
mod timeline;
pub use timeline::{Exposure, Period, timeline};

pub use models::{
    ApprovalState, DatasetView, Direction, Finding, FindingFilter, Lineage, LineageGraph,
    LineageLink, LineageNode, ModelView, PublishedDigests, RunningHit, approve, datasets,
    deployments_running, lineage, model_views, models, models_in, models_of, resolve_models,
};
