//! Match reports: per deployment (what `aibomdb match` prints) and per
//! advisory (`aibomdb query affected`).

use std::collections::{BTreeMap, HashMap};

use aibomdb_store::{DocumentId, Store, StoreError};
use serde::Serialize;

use crate::record::Advisory;
use crate::severity::{Level, severity};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MatchRow {
    pub deployment: String,
    pub package: String,
    pub version: Option<String>,
    pub advisory: String,
    pub aliases: Vec<String>,
    pub summary: Option<String>,
    pub severity: Level,
    pub score: Option<f64>,
    pub fixed: Vec<String>,
    /// `affected`, or `unsupported`/`unorderable` when the version could not be evaluated.
    pub status: String,
    pub detail: Option<String>,
    /// Matched through the source package of this binary package.
    pub via_source_of: Option<String>,
    pub documents: Vec<DocumentId>,
}

/// Every match of the current documents of `deployment` (all deployments when `None`).
pub fn deployment_matches(
    store: &Store,
    deployment: Option<&str>,
) -> Result<Vec<MatchRow>, StoreError> {
    let mut advisories: HashMap<String, Option<Advisory>> = HashMap::new();
    let mut rows: BTreeMap<(String, String, String), MatchRow> = BTreeMap::new();
    for doc in store.documents()? {
        if !doc.is_current() || deployment.is_some_and(|d| d != doc.deployment) {
            continue;
        }
        for (package, _) in store.document_packages(doc.id)? {
            for m in store.matches_for_package(package.id)? {
                let key = (
                    doc.deployment.clone(),
                    package.key.clone(),
                    m.advisory.clone(),
                );
                if let Some(row) = rows.get_mut(&key) {
                    row.documents.push(doc.id);
                    continue;
                }
                if !advisories.contains_key(&m.advisory) {
                    let a = store
                        .advisory_json(&m.advisory)?
                        .and_then(|j| serde_json::from_slice::<Advisory>(&j).ok());
                    advisories.insert(m.advisory.clone(), a);
                }
                let advisory = advisories[&m.advisory].as_ref();
                let (level, score) = advisory.map_or((Level::Unknown, None), severity);
                rows.insert(
                    key,
                    MatchRow {
                        deployment: doc.deployment.clone(),
                        package: package.key.clone(),
                        version: package.version.clone(),
                        advisory: m.advisory.clone(),
                        aliases: advisory.map(|a| a.aliases.clone()).unwrap_or_default(),
                        summary: advisory.and_then(|a| a.summary.clone()),
                        severity: level,
                        score,
                        fixed: m.fixed.clone(),
                        status: m.status.clone(),
                        detail: m.detail.clone(),
                        via_source_of: m.via_source_of.clone(),
                        documents: vec![doc.id],
                    },
                );
            }
        }
    }
    Ok(rows.into_values().collect())
}
