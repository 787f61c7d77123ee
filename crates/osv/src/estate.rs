//! The estate at a glance: for every matched advisory, the deployments it
//! leaves open and those where VEX takes every match out; for every
//! deployment, its open advisories by severity.
//!
//! Built from the match index, the package → document index and the document
//! heads, with one set of deployments per advisory. No match row is built:
//! the cost is the matched packages' listings, not deployments × packages ×
//! advisories (about 20 M rows at 10,000 deployments). The answer is what
//! folding every deployment's match rows would give: a (deployment,
//! advisory) pair is open when any of its rows is open, as
//! [`crate::MatchRow::is_open`] says.

use std::collections::HashMap;

use aibomdb_store::{DocumentId, PackageId, PackageRecord, Store, StoreError};
use serde::Serialize;

use crate::report::MatchReader;
use crate::severity::Level;

/// One advisory across the estate.
#[derive(Debug, Clone, Serialize)]
pub struct AdvisoryExposure {
    pub advisory: String,
    pub aliases: Vec<String>,
    pub summary: Option<String>,
    pub severity: Level,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unknown_reason: Option<String>,
    pub score: Option<f64>,
    /// Listed in CISA's KEV catalogue under one of its CVEs.
    pub kev: bool,
    pub epss: Option<f64>,
    /// Deployments with at least one open match.
    pub open_deployments: usize,
    /// Deployments where VEX takes every match out.
    pub suppressed_deployments: usize,
    /// Some matched package has a fixed version to move to.
    pub fix_available: bool,
    /// The matched packages (purls as stored), ascending.
    pub packages: Vec<String>,
    /// How many packages match, however many `packages` lists.
    pub package_count: usize,
}

/// One deployment's open advisories.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DeploymentExposure {
    pub deployment: String,
    pub critical: usize,
    pub high: usize,
    pub medium: usize,
    pub low: usize,
    /// `none` and `unknown` together: advisories with no usable severity.
    pub unknown: usize,
    /// Open advisories listed in KEV.
    pub kev: usize,
    /// Advisories VEX takes out everywhere in this deployment.
    pub suppressed: usize,
}

impl DeploymentExposure {
    pub fn open(&self) -> usize {
        self.critical + self.high + self.medium + self.low + self.unknown
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct EstateExposure {
    /// Every advisory with a match in a current document, by id.
    pub advisories: Vec<AdvisoryExposure>,
    /// Every deployment with a match, by name.
    pub deployments: Vec<DeploymentExposure>,
}

/// What a (deployment, advisory) pair has been seen as so far, one byte per
/// deployment: dense, because the pairs are as many as the estate's
/// (deployment, package, advisory) triples visit.
const UNSEEN: u8 = 0;
const SUPPRESSED: u8 = 1;
const OPEN: u8 = 2;

/// The estate's exposure, as of the store's current state.
pub fn estate_exposure(store: &Store) -> Result<EstateExposure, StoreError> {
    let matched = store.matched_package_ids()?;
    let packages: Vec<PackageRecord> = store.packages_by_ids(&matched)?;
    let listing =
        store.package_document_ids_among(&packages.iter().map(|p| p.id).collect::<Vec<_>>())?;
    // Current documents only, by their heads: no record decoded.
    let mut all_docs: Vec<DocumentId> = listing.iter().flatten().copied().collect();
    all_docs.sort_unstable();
    all_docs.dedup();
    let mut deployment_names: Vec<String> = Vec::new();
    let mut deployment_index: HashMap<String, u32> = HashMap::new();
    let mut doc_deployment: HashMap<DocumentId, u32> = HashMap::new();
    for doc in store.current_document_refs_among(&all_docs)? {
        let next = deployment_names.len() as u32;
        let index = *deployment_index
            .entry(doc.deployment.clone())
            .or_insert_with(|| {
                deployment_names.push(doc.deployment.clone());
                next
            });
        doc_deployment.insert(doc.id, index);
    }

    let mut reader = MatchReader::new(store);
    // Read once, in one batch; the reader keeps advisories and VEX only.
    let ids: Vec<PackageId> = packages.iter().map(|p| p.id).collect();
    let stored = store.matches_for_packages(&ids)?;
    // Per advisory: (deployment → pair state), the packages and whether a fix exists.
    struct Acc {
        pairs: Vec<u8>,
        packages: Vec<String>,
        fix: bool,
    }
    let mut by_advisory: HashMap<String, Acc> = HashMap::new();
    for ((package, documents), matches) in packages.iter().zip(&listing).zip(&stored) {
        // The deployments currently holding this package, each once.
        let mut holders: Vec<u32> = documents
            .iter()
            .filter_map(|d| doc_deployment.get(d).copied())
            .collect();
        holders.sort_unstable();
        holders.dedup();
        if holders.is_empty() {
            continue;
        }
        for m in matches {
            let facts = reader.advisory_facts(&m.advisory)?;
            let own_id = [m.advisory.clone()];
            let identifiers = facts.as_deref().map_or(&own_id[..], |f| &f.identifiers);
            // Most advisories no VEX statement names: every holder is open.
            let named = reader.vex_names(identifiers)?;
            let acc = by_advisory
                .entry(m.advisory.clone())
                .or_insert_with(|| Acc {
                    pairs: vec![UNSEEN; deployment_names.len()],
                    packages: Vec::new(),
                    fix: false,
                });
            acc.packages.push(package.key.clone());
            acc.fix |= !m.fixed.is_empty();
            for &d in &holders {
                let state = if named
                    && reader
                        .vex_verdict(&deployment_names[d as usize], package, identifiers)?
                        .is_some_and(|v| v.suppresses())
                {
                    SUPPRESSED
                } else {
                    OPEN
                };
                let slot = &mut acc.pairs[d as usize];
                *slot = (*slot).max(state);
            }
        }
    }

    let mut deployments: Vec<DeploymentExposure> = deployment_names
        .iter()
        .map(|name| DeploymentExposure {
            deployment: name.clone(),
            ..Default::default()
        })
        .collect();
    let mut advisories = Vec::with_capacity(by_advisory.len());
    for (advisory, mut acc) in by_advisory {
        let facts = reader.advisory_facts(&advisory)?;
        let (level, reason) = facts.as_deref().map_or(
            (
                Level::Unknown,
                Some("the advisory record is not stored here, or does not parse".to_string()),
            ),
            |f| (f.level, f.unknown_reason.clone()),
        );
        let kev = facts.as_deref().is_some_and(|f| f.kev.is_some());
        let mut open = 0;
        let mut suppressed = 0;
        for (row, &state) in deployments.iter_mut().zip(&acc.pairs) {
            match state {
                UNSEEN => continue,
                SUPPRESSED => {
                    suppressed += 1;
                    row.suppressed += 1;
                    continue;
                }
                _ => open += 1,
            }
            match level {
                Level::Critical => row.critical += 1,
                Level::High => row.high += 1,
                Level::Medium => row.medium += 1,
                Level::Low => row.low += 1,
                Level::None | Level::Unknown => row.unknown += 1,
            }
            row.kev += usize::from(kev);
        }
        acc.packages.sort_unstable();
        acc.packages.dedup();
        advisories.push(AdvisoryExposure {
            aliases: facts.as_deref().map_or(Vec::new(), |f| f.aliases.clone()),
            summary: facts.as_deref().and_then(|f| f.summary.clone()),
            severity: level,
            unknown_reason: reason,
            score: facts.as_deref().and_then(|f| f.score),
            kev,
            epss: facts.as_deref().and_then(|f| f.epss.map(|e| e.epss)),
            open_deployments: open,
            suppressed_deployments: suppressed,
            fix_available: acc.fix,
            package_count: acc.packages.len(),
            packages: acc.packages,
            advisory,
        });
    }
    advisories.sort_by(|a, b| a.advisory.cmp(&b.advisory));
    deployments.retain(|d| d.open() + d.suppressed > 0);
    deployments.sort_by(|a, b| a.deployment.cmp(&b.deployment));
    Ok(EstateExposure {
        advisories,
        deployments,
    })
}
