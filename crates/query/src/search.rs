//! The search box: what most users mean first. Packages whose name is the
//! text come before those whose name only starts with it; among each, the
//! package held by more deployments comes first. Deployments by name (exact,
//! then prefix, then substring), advisories by any of their names.

use std::collections::{BTreeMap, HashMap, HashSet};

use aibomdb_graph::{PackageKey, purl::pep503_normalise};
use aibomdb_store::{DocumentId, Store};
use serde::Serialize;

use crate::Result;

/// One package name (every version of it) found by a search.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackageHit {
    /// Purl without version.
    pub purl: String,
    /// Versions the store knows.
    pub versions: u64,
    /// Deployments whose current documents list some version.
    pub deployments: u64,
    /// The name is the text (PEP 503 spelling for PyPI), not only a prefix.
    pub exact: bool,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct SearchResults {
    /// Ranked: exact names first, then by deployments, then by purl.
    pub packages: Vec<PackageHit>,
    /// Ranked: exact name, then prefix, then substring; then by name.
    pub deployments: Vec<String>,
    pub advisories: Vec<String>,
}

/// How many package records a search reads at most: the name index is
/// ordered, so a prefix shared by many names stops here and says nothing
/// more (the list is cut to `limit` anyway).
const SCAN_FACTOR: usize = 20;

pub fn search(store: &Store, text: &str, limit: usize) -> Result<SearchResults> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(SearchResults::default());
    }
    let lower = text.to_lowercase();
    let normalised = pep503_normalise(text);

    // Every version read, grouped by name; PyPI names are kept in their
    // PEP 503 spelling, so `Python_Dateutil` also looks for `python-dateutil`.
    let mut records = store.packages_with_name_prefix(text, limit * SCAN_FACTOR)?;
    if normalised != lower {
        records.extend(store.packages_with_name_prefix(&normalised, limit * SCAN_FACTOR)?);
        records.sort_by_key(|p| p.id);
        records.dedup_by_key(|p| p.id);
    }
    let mut names: BTreeMap<String, (Vec<usize>, bool)> = BTreeMap::new();
    for (i, p) in records.iter().enumerate() {
        let purl = PackageKey::from_stored(p.key.clone())
            .unversioned()
            .to_string();
        let exact = if p.ecosystem == "pypi" {
            pep503_normalise(&p.name) == normalised
        } else {
            p.name.to_lowercase() == lower
        };
        let entry = names.entry(purl).or_default();
        entry.0.push(i);
        entry.1 |= exact;
    }
    // Deployments per name, from the package → document index and the
    // document heads: no document is decoded.
    let listing =
        store.package_document_ids_among(&records.iter().map(|p| p.id).collect::<Vec<_>>())?;
    let mut all: Vec<DocumentId> = listing.iter().flatten().copied().collect();
    all.sort_unstable();
    all.dedup();
    let deployment_of: HashMap<DocumentId, String> = store
        .current_document_refs_among(&all)?
        .into_iter()
        .map(|d| (d.id, d.deployment))
        .collect();
    let mut packages: Vec<PackageHit> = names
        .into_iter()
        .map(|(purl, (indexes, exact))| {
            let holders: HashSet<&str> = indexes
                .iter()
                .flat_map(|&i| &listing[i])
                .filter_map(|d| deployment_of.get(d).map(String::as_str))
                .collect();
            PackageHit {
                purl,
                versions: indexes.len() as u64,
                deployments: holders.len() as u64,
                exact,
            }
        })
        .collect();
    packages.sort_by(|a, b| {
        b.exact
            .cmp(&a.exact)
            .then(b.deployments.cmp(&a.deployments))
            .then(a.purl.cmp(&b.purl))
    });
    packages.truncate(limit);

    let rank = |n: &str| {
        let n = n.to_lowercase();
        if n == lower {
            0
        } else if n.starts_with(&lower) {
            1
        } else {
            2
        }
    };
    let mut deployments: Vec<String> = store
        .deployments()?
        .into_iter()
        .map(|d| d.name)
        .filter(|n| n.to_lowercase().contains(&lower))
        .collect();
    deployments.sort_by(|a, b| rank(a).cmp(&rank(b)).then(a.cmp(b)));
    deployments.truncate(limit);

    Ok(SearchResults {
        packages,
        deployments,
        advisories: store.advisory_ids(text)?.into_iter().take(limit).collect(),
    })
}
