//! Match reports: per deployment (what `aibomdb match` prints) and per
//! advisory (`aibomdb query affected`).

use std::collections::{BTreeMap, HashMap};

use aibomdb_store::{DocumentId, DocumentRecord, PackageRecord, Store, StoreError};
use serde::Serialize;

use crate::record::Advisory;
use crate::severity::{Level, best_cvss, severity};
use crate::vex::{VexResolver, VexVerdict};

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
    /// The CVSS version of the vector that gave `score` (`3.0`, `3.1`, `4.0`).
    pub cvss_version: Option<&'static str>,
    pub fixed: Vec<String>,
    /// `affected`, or `unsupported`/`unorderable` when the version could not be evaluated.
    pub status: String,
    pub detail: Option<String>,
    /// Matched through the source package of this binary package.
    pub via_source_of: Option<String>,
    /// The name the advisory uses for what matched (the source package's,
    /// when matched through it).
    pub matched_name: String,
    pub documents: Vec<DocumentId>,
    /// Source paths of those documents (SARIF locations).
    pub document_paths: Vec<String>,
    /// The VEX statement that covers this match, if any.
    pub vex: Option<VexVerdict>,
}

impl MatchRow {
    /// Open: affected (or not evaluable) and not suppressed by a VEX
    /// `not_affected`/`fixed` statement. Gates count only these.
    pub fn is_open(&self) -> bool {
        !self.vex.as_ref().is_some_and(VexVerdict::suppresses)
    }
}

/// Every match of the current documents of `deployment` (all deployments when `None`).
pub fn deployment_matches(
    store: &Store,
    deployment: Option<&str>,
) -> Result<Vec<MatchRow>, StoreError> {
    let documents = match deployment {
        // One deployment: its own current documents only.
        Some(d) => {
            let mut docs = Vec::new();
            for id in store.current_documents(d)? {
                docs.extend(store.document(id)?);
            }
            docs
        }
        None => store.documents()?,
    };
    let mut listed = Vec::new();
    for doc in documents {
        if !doc.is_current() {
            continue;
        }
        let packages = store
            .document_packages(doc.id)?
            .into_iter()
            .map(|(p, _)| p)
            .collect();
        listed.push((doc, packages));
    }
    matches_of(store, &listed)
}

/// Every match of the advisories `ids` (one advisory's record ids) in current
/// documents, found through the advisory → package index and the package →
/// document index: the documents read are only those that list a matched
/// package, so the answer costs the blast radius, not the estate.
pub fn advisory_matches(store: &Store, ids: &[String]) -> Result<Vec<MatchRow>, StoreError> {
    let mut packages: BTreeMap<u64, ()> = BTreeMap::new();
    for id in ids {
        for m in store.matches_for_advisory(id)? {
            packages.insert(m.package, ());
        }
    }
    let mut by_document: BTreeMap<DocumentId, Vec<PackageRecord>> = BTreeMap::new();
    for &package in packages.keys() {
        let Some(record) = store.package_by_id(package)? else {
            continue;
        };
        for doc in store.package_document_ids(package)? {
            by_document.entry(doc).or_default().push(record.clone());
        }
    }
    let mut listed = Vec::new();
    for (id, packages) in by_document {
        if let Some(doc) = store.document(id)?.filter(DocumentRecord::is_current) {
            listed.push((doc, packages));
        }
    }
    let mut rows = matches_of(store, &listed)?;
    rows.retain(|r| ids.contains(&r.advisory));
    Ok(rows)
}

/// The matches of the given documents' packages (each document with the
/// packages it lists, as the caller already read them). VEX statements may
/// come from any document; those are read as they are needed.
pub fn matches_of(
    store: &Store,
    listed: &[(DocumentRecord, Vec<PackageRecord>)],
) -> Result<Vec<MatchRow>, StoreError> {
    let mut advisories: HashMap<String, Option<Advisory>> = HashMap::new();
    let mut vex = VexResolver::new(store);
    for (doc, _) in listed {
        vex.know(doc);
    }
    let mut rows: BTreeMap<(String, String, String), MatchRow> = BTreeMap::new();
    for (doc, packages) in listed {
        let ids: Vec<_> = packages.iter().map(|p| p.id).collect();
        for (package, found) in packages.iter().zip(store.matches_for_packages(&ids)?) {
            for m in found {
                let key = (
                    doc.deployment.clone(),
                    package.key.clone(),
                    m.advisory.clone(),
                );
                if let Some(row) = rows.get_mut(&key) {
                    row.documents.push(doc.id);
                    row.document_paths.push(doc.source_path.clone());
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
                let identifiers: Vec<String> = std::iter::once(&m.advisory)
                    .chain(
                        advisory
                            .iter()
                            .flat_map(|a| a.aliases.iter().chain(&a.upstream)),
                    )
                    .cloned()
                    .collect();
                let verdict = vex.verdict(&doc.deployment, package, &identifiers)?;
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
                        cvss_version: advisory.and_then(best_cvss).map(|(_, v)| v),
                        fixed: m.fixed,
                        status: m.status,
                        detail: m.detail,
                        via_source_of: m.via_source_of,
                        matched_name: m.name,
                        documents: vec![doc.id],
                        document_paths: vec![doc.source_path.clone()],
                        vex: verdict,
                    },
                );
            }
        }
    }
    Ok(rows.into_values().collect())
}

/// The matches as a SARIF 2.1.0 log (code-scanning dashboards read it): one
/// rule per advisory, one result per (deployment, package, advisory), located
/// at the documents that list the package.
pub fn sarif(rows: &[MatchRow]) -> serde_json::Value {
    use serde_json::json;
    let mut rules: BTreeMap<&str, serde_json::Value> = BTreeMap::new();
    for r in rows {
        rules.entry(r.advisory.as_str()).or_insert_with(|| {
            let mut rule = json!({
                "id": r.advisory,
                "shortDescription": {"text": r.summary.clone().unwrap_or_else(|| r.advisory.clone())},
                "helpUri": format!("https://osv.dev/vulnerability/{}", r.advisory),
                "properties": {"tags": r.aliases},
            });
            if let Some(score) = r.score {
                rule["properties"]["security-severity"] = json!(format!("{score:.1}"));
            }
            rule
        });
    }
    let results: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            let level = match r.severity {
                Level::Critical | Level::High => "error",
                Level::Medium | Level::Unknown => "warning",
                Level::Low | Level::None => "note",
            };
            let fixed = if r.fixed.is_empty() {
                "no fixed version".to_string()
            } else {
                format!("fixed in {}", r.fixed.join(", "))
            };
            let mut result = json!({
                "ruleId": r.advisory,
                "level": level,
                "message": {"text": format!(
                    "{} in deployment {} is {} by {} ({fixed})",
                    r.package, r.deployment, r.status, r.advisory
                )},
                "locations": r.document_paths.iter().map(|p| json!({
                    "physicalLocation": {"artifactLocation": {"uri": p}}
                })).collect::<Vec<_>>(),
                "properties": {"deployment": r.deployment, "package": r.package, "status": r.status},
            });
            if let Some(v) = &r.vex {
                result["properties"]["vex"] = json!(v.status.as_str());
                if v.suppresses() {
                    let why = [v.justification.as_deref(), v.detail.as_deref()]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join(": ");
                    result["suppressions"] = json!([{
                        "kind": "external",
                        "status": "accepted",
                        "justification": format!("VEX {} ({}) in {}{}", v.state, v.vulnerability, v.document_path,
                            if why.is_empty() { String::new() } else { format!(": {why}") }),
                    }]);
                }
            }
            result
        })
        .collect();
    json!({
        "version": "2.1.0",
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "runs": [{
            "tool": {"driver": {
                "name": "aibomdb",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules.into_values().collect::<Vec<_>>(),
            }},
            "results": results,
        }],
    })
}
