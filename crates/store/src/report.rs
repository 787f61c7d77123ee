//! The deployment view: documents, the union of their packages, and an
//! explanation of every package one document leaves out that another lists.
//! Tools really differ (platform markers, "unsafe" packages); the report says
//! why instead of hiding the difference.

use std::collections::{BTreeMap, HashMap};

use aibomdb_graph::PackageFact;
use redb::ReadableDatabase;

use crate::blast::package_key_of;
use crate::occurrences;
use crate::records::{
    CoverageGap, DeployedPackage, DeploymentReport, DocumentRecord, DocumentSummary, Missing,
};
use crate::tables::*;
use crate::{Result, decode};

/// What the report needs from each current document.
pub struct DocumentView {
    pub record: DocumentRecord,
    /// purl key → what the document said.
    pub packages: BTreeMap<String, PackageFact>,
    /// purl key → markers on edges into it.
    pub edge_markers: BTreeMap<String, Vec<String>>,
}

pub(crate) fn summary(d: &DocumentRecord) -> DocumentSummary {
    DocumentSummary {
        id: d.id,
        format: d.format.as_str().to_string(),
        tool: tool_of(d),
        path: d.source_path.clone(),
        current: d.is_current(),
        supersedes: d.supersedes,
        superseded_by: d.superseded_by,
        packages: d.package_count,
        edges: d.edge_count,
        warnings: d.warnings.clone(),
        skipped: d.skipped.clone(),
    }
}

fn tool_of(d: &DocumentRecord) -> Option<String> {
    d.tools.first().map(|t| match &t.version {
        Some(v) => format!("{} {v}", t.name),
        None => t.name.clone(),
    })
}

/// Packages pip-compile drops unless `--allow-unsafe`.
const PIP_UNSAFE: [&str; 4] = ["setuptools", "pip", "distribute", "wheel"];

pub(crate) fn packages_and_gaps(
    views: &[DocumentView],
) -> (Vec<DeployedPackage>, Vec<CoverageGap>) {
    let mut union: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, v) in views.iter().enumerate() {
        for key in v.packages.keys() {
            // The documents' own subjects (the project, the image) are not
            // packages the deployment runs.
            if v.record.subject_package.is_some() && is_subject(v, key) {
                continue;
            }
            union.entry(key.as_str()).or_default().push(i);
        }
    }
    let packages = union
        .iter()
        .map(|(key, listed)| {
            let facts: Vec<&PackageFact> =
                listed.iter().map(|&i| &views[i].packages[*key]).collect();
            let direct = if facts.iter().any(|f| f.direct == Some(true)) {
                Some(true)
            } else if facts.iter().any(|f| f.direct == Some(false)) {
                Some(false)
            } else {
                None
            };
            let mut flags: Vec<String> =
                facts.iter().flat_map(|f| f.flags.iter().cloned()).collect();
            flags.sort();
            flags.dedup();
            DeployedPackage {
                purl: key.to_string(),
                version: facts.first().and_then(|f| f.version.clone()),
                listed_by: listed.iter().map(|&i| views[i].record.id).collect(),
                direct,
                flags,
            }
        })
        .collect();
    let mut gaps = Vec::new();
    if views.len() > 1 {
        for (i, v) in views.iter().enumerate() {
            let mut missing = Vec::new();
            for (key, listed) in &union {
                if listed.contains(&i) {
                    continue;
                }
                missing.push(Missing {
                    purl: key.to_string(),
                    listed_by: listed.iter().map(|&j| views[j].record.id).collect(),
                    reason: reason(views, i, key, listed),
                });
            }
            if !missing.is_empty() {
                gaps.push(CoverageGap {
                    document: v.record.id,
                    format: v.record.format.as_str().to_string(),
                    tool: tool_of(&v.record),
                    missing,
                });
            }
        }
    }
    (packages, gaps)
}

fn is_subject(v: &DocumentView, key: &str) -> bool {
    let Some(subject) = &v.record.subject else {
        return false;
    };
    v.packages.get(key).is_some_and(|f| {
        f.name == subject.name && f.version == subject.version && f.direct.is_none()
    })
}

/// Why document `i` does not list `key` although `listed` documents do.
fn reason(views: &[DocumentView], i: usize, key: &str, listed: &[usize]) -> String {
    let me = &views[i];
    let name_part = key.rsplit_once('@').map_or(key, |(n, _)| n);
    let name = name_part.rsplit('/').next().unwrap_or(name_part);
    let tool = tool_of(&me.record).unwrap_or_default().to_lowercase();
    if PIP_UNSAFE.contains(&name) {
        let why = if tool.starts_with("pip-compile") {
            "pip-compile leaves it out"
        } else {
            "pip-compile leaves it out, and so do documents made from its output,"
        };
        return format!(
            "{name} is a packaging tool: {why} as \"unsafe\" unless run with --allow-unsafe"
        );
    }
    let same_name: Vec<&str> = me
        .packages
        .keys()
        .filter(|k| k.rsplit_once('@').map_or(k.as_str(), |(n, _)| n) == name_part)
        .map(String::as_str)
        .collect();
    let instead = if same_name.is_empty() {
        String::new()
    } else {
        format!("; this document locks {} instead", same_name.join(", "))
    };
    // A marker anywhere says the package exists only in some environments.
    for &j in listed {
        let other = &views[j];
        let label = format!(
            "{}{}",
            other.record.format.as_str(),
            tool_of(&other.record)
                .map(|t| format!(" ({t})"))
                .unwrap_or_default()
        );
        let package_marker = other
            .packages
            .get(key)
            .and_then(|f| f.marker.as_deref())
            .filter(|m| is_environment_marker(m));
        if let Some(m) = package_marker {
            return format!(
                "platform/version-specific: {label} installs it only where `{m}`, and this document's resolver did not select it{instead}"
            );
        }
        let edge_marker = other
            .edge_markers
            .get(key)
            .and_then(|ms| ms.iter().find(|m| is_environment_marker(m)));
        if let Some(m) = edge_marker {
            return format!(
                "platform/version-specific: {label} requires it only where `{m}`, and this document's resolver did not select it{instead}"
            );
        }
    }
    if !instead.is_empty() {
        return format!("another version chosen{instead}");
    }
    "not listed by this document; the others name no marker or rule that explains it".to_string()
}

/// True for markers about the environment (platform, Python version), not
/// PEP 751's `dependency_groups`/`extras` selectors.
fn is_environment_marker(m: &str) -> bool {
    const VARIABLES: [&str; 11] = [
        "python_version",
        "python_full_version",
        "sys_platform",
        "platform_system",
        "platform_machine",
        "os_name",
        "platform_release",
        "platform_version",
        "implementation_name",
        "platform_python_implementation",
        "implementation_version",
    ];
    VARIABLES.iter().any(|v| m.contains(v))
}

impl crate::RedbStore {
    /// A deployment's documents (history included), the union of the packages
    /// its current documents list, and why each current document leaves out
    /// what another lists. `None` when there is no such deployment.
    pub fn deployment_report(&self, name: &str) -> Result<Option<DeploymentReport>> {
        let txn = self.db.begin_read()?;
        if txn.open_table(DEPLOYMENTS)?.get(name)?.is_none() {
            return Ok(None);
        }
        let documents = txn.open_table(DOCUMENTS)?;
        let doc_rows = txn.open_table(DOCUMENT_ROWS)?;
        let facts = txn.open_table(FACTS)?;
        let packages = txn.open_table(PACKAGES)?;
        let mut key_cache = HashMap::new();
        let mut summaries = Vec::new();
        let mut views = Vec::new();
        for entry in txn
            .open_table(DEPLOYMENT_DOCUMENTS)?
            .range((name, 0)..=(name, u64::MAX))?
        {
            let doc_id = entry?.0.value().1;
            let Some(d) = documents.get(doc_id)? else {
                continue;
            };
            let record: DocumentRecord = decode(d.value(), "documents", &doc_id.to_string())?;
            summaries.push(summary(&record));
            if !record.is_current() {
                continue;
            }
            let rows = occurrences::rows_of(&doc_rows, doc_id)?.unwrap_or_default();
            views.push(crate::kit::document_view(
                record,
                &rows,
                |row| occurrences::fact_of(&facts, row),
                |id| package_key_of(id, &packages, &mut key_cache),
            )?);
        }
        let (packages, gaps) = packages_and_gaps(&views);
        Ok(Some(DeploymentReport {
            name: name.to_string(),
            documents: summaries,
            packages,
            gaps,
        }))
    }
}
