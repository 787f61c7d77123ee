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

/// A set of small indexes (deployments, documents) as bits: an advisory's
/// deployments are a few kilobytes however many deployments hold it.
pub struct Bits(pub Vec<u64>);

impl Bits {
    pub fn new(len: usize) -> Bits {
        Bits(vec![0; len.div_ceil(64)])
    }
    pub fn set(&mut self, i: u32) {
        self.0[i as usize / 64] |= 1 << (i % 64);
    }
    /// Each set index of the words, ascending.
    pub fn each(words: impl Iterator<Item = u64>, mut f: impl FnMut(usize)) {
        for (w, mut word) in words.enumerate() {
            while word != 0 {
                f(w * 64 + word.trailing_zeros() as usize);
                word &= word - 1;
            }
        }
    }
}

/// A small index for each of some documents: by id in a dense table
/// (document ids are given in sequence), or a map when they are too sparse.
pub enum DocIndex {
    Dense(Vec<u32>),
    Sparse(HashMap<DocumentId, u32>),
}

impl DocIndex {
    const NONE: u32 = u32::MAX;
    pub fn new(pairs: &[(DocumentId, u32)]) -> DocIndex {
        let max = pairs.iter().map(|&(d, _)| d).max().unwrap_or(0);
        if max < (pairs.len() as u64 * 8).max(1 << 20) {
            let mut dense = vec![Self::NONE; max as usize + 1];
            for &(d, i) in pairs {
                dense[d as usize] = i;
            }
            DocIndex::Dense(dense)
        } else {
            DocIndex::Sparse(pairs.iter().copied().collect())
        }
    }
    pub fn get(&self, doc: DocumentId) -> Option<u32> {
        match self {
            DocIndex::Dense(v) => v.get(doc as usize).copied().filter(|&i| i != Self::NONE),
            DocIndex::Sparse(m) => m.get(&doc).copied(),
        }
    }
}

/// The estate's exposure, as of the store's current state.
pub fn estate_exposure(store: &Store) -> Result<EstateExposure, StoreError> {
    let matched = store.matched_package_ids()?;
    let packages: Vec<PackageRecord> = store.packages_by_ids(&matched)?;
    let ids: Vec<PackageId> = packages.iter().map(|p| p.id).collect();
    let listing = store.package_document_ids_among(&ids)?;
    // Current documents only, by their heads: no record decoded.
    let mut all_docs: Vec<DocumentId> = listing.iter().flatten().copied().collect();
    all_docs.sort_unstable();
    all_docs.dedup();
    let mut deployment_names: Vec<String> = Vec::new();
    let mut deployment_index: HashMap<String, u32> = HashMap::new();
    let mut doc_pairs: Vec<(DocumentId, u32)> = Vec::new();
    for doc in store.current_document_refs_among(&all_docs)? {
        let next = deployment_names.len() as u32;
        let index = *deployment_index
            .entry(doc.deployment.clone())
            .or_insert_with(|| {
                deployment_names.push(doc.deployment.clone());
                next
            });
        doc_pairs.push((doc.id, index));
    }
    let doc_deployment = DocIndex::new(&doc_pairs);

    let mut reader = MatchReader::new(store);
    // Read once, in one batch; the reader keeps advisories and VEX only.
    let stored = store.matches_for_packages(&ids)?;
    // Per advisory: the deployments seen (`seen`) and those with an open
    // match (`open`; seen but not open: VEX took every match out), the
    // packages (indexes into `packages`) and whether a fix exists.
    struct Acc {
        advisory: String,
        facts: Option<std::sync::Arc<crate::report::AdvisoryFacts>>,
        /// Some VEX statement names the advisory.
        named: bool,
        seen: Bits,
        open: Bits,
        packages: Vec<u32>,
        fix: bool,
    }
    let mut accs: Vec<Acc> = Vec::new();
    let mut acc_index: HashMap<String, usize> = HashMap::new();
    let mut holders: Vec<u32> = Vec::new();
    for (p, (documents, matches)) in listing.iter().zip(&stored).enumerate() {
        let package = &packages[p];
        // The deployments currently holding this package, each once.
        holders.clear();
        holders.extend(documents.iter().filter_map(|&d| doc_deployment.get(d)));
        holders.sort_unstable();
        holders.dedup();
        if holders.is_empty() {
            continue;
        }
        for m in matches {
            let a = match acc_index.get(m.advisory.as_str()) {
                Some(&a) => a,
                None => {
                    let facts = reader.advisory_facts(&m.advisory)?;
                    let named = match facts.as_deref() {
                        Some(f) => reader.vex_names(&f.identifiers)?,
                        None => reader.vex_names(std::slice::from_ref(&m.advisory))?,
                    };
                    accs.push(Acc {
                        advisory: m.advisory.clone(),
                        facts,
                        named,
                        seen: Bits::new(deployment_names.len()),
                        open: Bits::new(deployment_names.len()),
                        packages: Vec::new(),
                        fix: false,
                    });
                    acc_index.insert(m.advisory.clone(), accs.len() - 1);
                    accs.len() - 1
                }
            };
            let acc = &mut accs[a];
            acc.packages.push(p as u32);
            acc.fix |= !m.fixed.is_empty();
            for &d in &holders {
                acc.seen.set(d);
            }
            if !acc.named {
                // Most advisories no VEX statement names: every holder is open.
                for &d in &holders {
                    acc.open.set(d);
                }
                continue;
            }
            let own_id = [m.advisory.clone()];
            let identifiers = acc.facts.as_deref().map_or(&own_id[..], |f| &f.identifiers);
            for &d in &holders {
                let suppressed = reader
                    .vex_verdict(&deployment_names[d as usize], package, identifiers)?
                    .is_some_and(|v| v.suppresses());
                if !suppressed {
                    acc.open.set(d);
                }
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
    let mut advisories = Vec::with_capacity(accs.len());
    for mut acc in accs {
        let facts = acc.facts.as_deref();
        let (level, reason) = facts.map_or(
            (
                Level::Unknown,
                Some("the advisory record is not stored here, or does not parse".to_string()),
            ),
            |f| (f.level, f.unknown_reason.clone()),
        );
        let kev = facts.is_some_and(|f| f.kev.is_some());
        let mut open = 0;
        Bits::each(acc.open.0.iter().copied(), |d| {
            open += 1;
            let row = &mut deployments[d];
            match level {
                Level::Critical => row.critical += 1,
                Level::High => row.high += 1,
                Level::Medium => row.medium += 1,
                Level::Low => row.low += 1,
                Level::None | Level::Unknown => row.unknown += 1,
            }
            row.kev += usize::from(kev);
        });
        let mut suppressed = 0;
        Bits::each(
            acc.seen.0.iter().zip(&acc.open.0).map(|(s, o)| s & !o),
            |d| {
                suppressed += 1;
                deployments[d].suppressed += 1;
            },
        );
        acc.packages.sort_unstable();
        acc.packages.dedup();
        let mut keys: Vec<String> = acc
            .packages
            .iter()
            .map(|&p| packages[p as usize].key.clone())
            .collect();
        keys.sort_unstable();
        keys.dedup();
        advisories.push(AdvisoryExposure {
            aliases: facts.map_or(Vec::new(), |f| f.aliases.clone()),
            summary: facts.and_then(|f| f.summary.clone()),
            severity: level,
            unknown_reason: reason,
            score: facts.and_then(|f| f.score),
            kev,
            epss: facts.and_then(|f| f.epss.map(|e| e.epss)),
            open_deployments: open,
            suppressed_deployments: suppressed,
            fix_available: acc.fix,
            package_count: keys.len(),
            packages: keys,
            advisory: acc.advisory,
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
