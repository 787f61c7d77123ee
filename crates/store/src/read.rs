//! Reads of documents, deployments and packages by id, key and name.

use std::collections::HashSet;

use aibomdb_graph::{PackageFact, PackageKey};
use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata};

use crate::occurrences;
use crate::records::DocHead;
use crate::tables::*;
use crate::{
    DeploymentRecord, DocumentId, DocumentRecord, DocumentRef, EdgeRecord, FactId, ListedRow,
    Occurrence, PackageId, PackageRecord, PackageVersion, RedbStore, Result, Stats, decode,
};

impl RedbStore {
    pub fn stats(&self) -> Result<Stats> {
        let txn = self.db.begin_read()?;
        let documents = txn.open_table(DOCUMENTS)?;
        let mut current = 0;
        for entry in documents.iter()? {
            let (k, v) = entry?;
            let record: DocumentRecord = decode(v.value(), "documents", &k.value().to_string())?;
            current += u64::from(record.is_current());
        }
        // Kept by every write of a document row (`occurrences::count_rows`).
        let meta = txn.open_table(META)?;
        let count = |key: &str| -> Result<u64> { Ok(meta.get(key)?.map_or(0, |v| v.value())) };
        let (occurrences, dependency_edges) = (count("occurrence_rows")?, count("edge_rows")?);
        Ok(Stats {
            deployments: txn.open_table(DEPLOYMENTS)?.len()?,
            documents: documents.len()?,
            current_documents: current,
            packages: txn.open_table(PACKAGES)?.len()?,
            occurrences,
            dependency_edges,
            file_bytes: std::fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0),
        })
    }

    pub fn document(&self, id: DocumentId) -> Result<Option<DocumentRecord>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(DOCUMENTS)?;
        table
            .get(id)?
            .map(|v| decode(v.value(), "documents", &id.to_string()))
            .transpose()
    }

    /// Every document, oldest first.
    pub fn documents(&self) -> Result<Vec<DocumentRecord>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(DOCUMENTS)?;
        let mut out = Vec::new();
        for entry in table.iter()? {
            let (k, v) = entry?;
            out.push(decode(v.value(), "documents", &k.value().to_string())?);
        }
        Ok(out)
    }

    /// The current documents among `ids`, in id order, with only what a
    /// match row names of each, from the heads: no document record decoded.
    pub fn current_document_refs_among(&self, ids: &[DocumentId]) -> Result<Vec<DocumentRef>> {
        let heads = self.heads()?;
        let mut late = None;
        let mut out = Vec::with_capacity(ids.len());
        for &id in ids {
            let late_head;
            let head = match heads.get(&id) {
                Some((h, _)) => h,
                // A document committed after the heads were read.
                None => {
                    let txn = match &late {
                        Some(txn) => txn,
                        None => late.insert(self.db.begin_read()?),
                    };
                    let Some(v) = txn.open_table(DOCUMENT_HEADS)?.get(id)? else {
                        continue;
                    };
                    late_head = decode::<DocHead>(v.value(), "document_heads", &id.to_string())?;
                    &late_head
                }
            };
            if head.current {
                out.push(DocumentRef {
                    id,
                    deployment: head.deployment.clone(),
                    source_path: head.source_path.clone(),
                });
            }
        }
        out.sort_by_key(|d| d.id);
        Ok(out)
    }

    /// Whether a deployment of that name exists (one lookup).
    pub fn has_deployment(&self, name: &str) -> Result<bool> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(DEPLOYMENTS)?;
        Ok(table.get(name)?.is_some())
    }

    /// Where the writers stand: the advisory counter, the next package id and
    /// the lookup-name counter.
    pub fn write_marks(&self) -> Result<crate::WriteMarks> {
        let txn = self.db.begin_read()?;
        let meta = txn.open_table(META)?;
        let counter = |key: &str| -> Result<u64> { Ok(meta.get(key)?.map_or(0, |v| v.value())) };
        Ok(crate::WriteMarks {
            advisories: counter(crate::ADVISORIES_VERSION)?,
            next_package: counter("next_package_id")?.max(1),
            package_keys: counter(crate::PACKAGE_KEYS_VERSION)?,
        })
    }

    pub fn deployments(&self) -> Result<Vec<DeploymentRecord>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(DEPLOYMENTS)?;
        let mut out = Vec::new();
        for entry in table.iter()? {
            let (k, v) = entry?;
            out.push(decode(v.value(), "deployments", k.value())?);
        }
        Ok(out)
    }

    /// Every version of packages called `name` (PEP 503-normalised for PyPI,
    /// case-insensitive otherwise), optionally in one ecosystem; no counting.
    pub fn package_records_named(
        &self,
        name: &str,
        ecosystem: Option<&str>,
    ) -> Result<Vec<PackageRecord>> {
        let txn = self.db.begin_read()?;
        let by_name = txn.open_table(PACKAGE_BY_NAME)?;
        let packages = txn.open_table(PACKAGES)?;
        let mut out: Vec<PackageRecord> = Vec::new();
        let mut seen = HashSet::new();
        for folded in [name.to_lowercase(), aibomdb_graph::pep503_normalise(name)] {
            if !seen.insert(folded.clone()) {
                continue;
            }
            let prefix = match ecosystem {
                Some(e) => format!("{folded}\0{}\0", e.to_ascii_lowercase()),
                None => format!("{folded}\0"),
            };
            let end = format!("{prefix}\u{10FFFF}");
            for entry in by_name.range(prefix.as_str()..end.as_str())? {
                let id = entry?.1.value();
                if out.iter().any(|p| p.id == id) {
                    continue;
                }
                if let Some(v) = packages.get(id)? {
                    out.push(decode(v.value(), "packages", &id.to_string())?);
                }
            }
        }
        Ok(out)
    }

    /// Packages whose name starts with `prefix` (case-insensitive), at most `limit`.
    pub fn packages_with_name_prefix(
        &self,
        prefix: &str,
        limit: usize,
    ) -> Result<Vec<PackageRecord>> {
        let txn = self.db.begin_read()?;
        let by_name = txn.open_table(PACKAGE_BY_NAME)?;
        let packages = txn.open_table(PACKAGES)?;
        let start = prefix.to_lowercase();
        let end = format!("{start}\u{10FFFF}");
        let mut out = Vec::new();
        for entry in by_name.range(start.as_str()..end.as_str())?.take(limit) {
            let id = entry?.1.value();
            if let Some(v) = packages.get(id)? {
                out.push(decode(v.value(), "packages", &id.to_string())?);
            }
        }
        Ok(out)
    }

    /// The Package→Package edges one document states.
    pub fn document_edges(
        &self,
        document: DocumentId,
    ) -> Result<Vec<(PackageId, PackageId, EdgeRecord)>> {
        let txn = self.db.begin_read()?;
        let Some(rows) = occurrences::rows_of(&txn.open_table(DOCUMENT_ROWS)?, document)? else {
            return Ok(Vec::new());
        };
        Ok(rows
            .edges
            .iter()
            .map(|e| (rows.id_at(e.from), rows.id_at(e.to), e.record.clone()))
            .collect())
    }

    pub fn package_by_id(&self, id: PackageId) -> Result<Option<PackageRecord>> {
        let txn = self.db.begin_read()?;
        let packages = txn.open_table(PACKAGES)?;
        packages
            .get(id)?
            .map(|v| decode(v.value(), "packages", &id.to_string()))
            .transpose()
    }

    pub fn package(&self, key: &PackageKey) -> Result<Option<PackageRecord>> {
        let txn = self.db.begin_read()?;
        let by_key = txn.open_table(PACKAGE_BY_KEY)?;
        let Some(id) = by_key.get(key.as_str())?.map(|v| v.value()) else {
            return Ok(None);
        };
        let packages = txn.open_table(PACKAGES)?;
        packages
            .get(id)?
            .map(|v| decode(v.value(), "packages", &id.to_string()))
            .transpose()
    }

    /// Every version of packages called `name` (PEP 503-normalised for PyPI,
    /// case-insensitive otherwise), optionally in one ecosystem, with the
    /// deployments whose current documents list each version.
    pub fn packages_named(
        &self,
        name: &str,
        ecosystem: Option<&str>,
    ) -> Result<Vec<PackageVersion>> {
        let records = self.package_records_named(name, ecosystem)?;
        let txn = self.db.begin_read()?;
        let postings = txn.open_table(POSTINGS)?;
        let documents = txn.open_table(DOCUMENTS)?;
        let mut out = Vec::with_capacity(records.len());
        for package in records {
            let mut docs = 0;
            let mut deployments = Vec::new();
            for d in documents_listing(&postings, &documents, package.id)? {
                if d.is_current() {
                    docs += 1;
                    if !deployments.contains(&d.deployment) {
                        deployments.push(d.deployment);
                    }
                }
            }
            deployments.sort();
            out.push(PackageVersion {
                package,
                documents: docs,
                deployments,
            });
        }
        Ok(out)
    }

    /// What `document` said about `package`.
    /// Documents (current or not) that list the package.
    pub fn package_document_ids(&self, package: PackageId) -> Result<Vec<DocumentId>> {
        let txn = self.db.begin_read()?;
        occurrences::documents_of(&txn.open_table(POSTINGS)?, package)
    }

    /// [`Self::package_document_ids`] of several packages, in one read.
    pub fn package_document_ids_among(
        &self,
        packages: &[PackageId],
    ) -> Result<Vec<Vec<DocumentId>>> {
        let txn = self.db.begin_read()?;
        let postings = txn.open_table(POSTINGS)?;
        packages
            .iter()
            .map(|&p| occurrences::documents_of(&postings, p))
            .collect()
    }

    pub fn occurrence(
        &self,
        document: DocumentId,
        package: PackageId,
    ) -> Result<Option<Occurrence>> {
        let txn = self.db.begin_read()?;
        let Some(rows) = occurrences::rows_of(&txn.open_table(DOCUMENT_ROWS)?, document)? else {
            return Ok(None);
        };
        let Some(position) = rows.position(package) else {
            return Ok(None);
        };
        let fact = occurrences::fact_of(&txn.open_table(FACTS)?, &rows.packages[position])?;
        Ok(Some(Occurrence {
            document,
            package,
            fact,
        }))
    }

    /// The packages one document lists, without what it said about them:
    /// no fact is read (a report of matches needs only the nodes).
    pub fn document_package_records(&self, document: DocumentId) -> Result<Vec<PackageRecord>> {
        let txn = self.db.begin_read()?;
        let Some(rows) = occurrences::rows_of(&txn.open_table(DOCUMENT_ROWS)?, document)? else {
            return Ok(Vec::new());
        };
        let packages = txn.open_table(PACKAGES)?;
        let mut out = Vec::with_capacity(rows.packages.len());
        for row in &rows.packages {
            if let Some(p) = packages.get(row.id)? {
                out.push(decode(p.value(), "packages", &row.id.to_string())?);
            }
        }
        Ok(out)
    }

    /// The packages one document lists, by ids, ascending by package id;
    /// empty when it lists none.
    pub fn document_listing(&self, document: DocumentId) -> Result<Vec<ListedRow>> {
        let txn = self.db.begin_read()?;
        let Some(rows) = occurrences::rows_of(&txn.open_table(DOCUMENT_ROWS)?, document)? else {
            return Ok(Vec::new());
        };
        Ok(crate::kit::listing(&rows))
    }

    /// Package records by id, in one read; an id with no record is left out.
    pub fn packages_by_ids(&self, ids: &[PackageId]) -> Result<Vec<PackageRecord>> {
        let txn = self.db.begin_read()?;
        let packages = txn.open_table(PACKAGES)?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(v) = packages.get(*id)? {
                out.push(decode(v.value(), "packages", &id.to_string())?);
            }
        }
        Ok(out)
    }

    /// Interned facts by id, in one read (`direct` and `scope` unset: a
    /// [`ListedRow`] carries them). A missing fact is corruption.
    pub fn facts_by_ids(&self, ids: &[FactId]) -> Result<Vec<(FactId, PackageFact)>> {
        let txn = self.db.begin_read()?;
        let facts = txn.open_table(FACTS)?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let Some(v) = facts.get(*id)? else {
                return Err(crate::StoreError::Corrupt {
                    table: "facts",
                    key: id.to_string(),
                    message: "a document row names a fact that is not stored".into(),
                });
            };
            out.push((*id, decode(v.value(), "facts", &id.to_string())?));
        }
        Ok(out)
    }

    /// All packages one document lists, with what it said about each.
    pub fn document_packages(
        &self,
        document: DocumentId,
    ) -> Result<Vec<(PackageRecord, Occurrence)>> {
        let txn = self.db.begin_read()?;
        let Some(rows) = occurrences::rows_of(&txn.open_table(DOCUMENT_ROWS)?, document)? else {
            return Ok(Vec::new());
        };
        let packages = txn.open_table(PACKAGES)?;
        let facts = txn.open_table(FACTS)?;
        let mut out = Vec::with_capacity(rows.packages.len());
        for row in &rows.packages {
            let Some(p) = packages.get(row.id)? else {
                continue;
            };
            out.push((
                decode(p.value(), "packages", &row.id.to_string())?,
                Occurrence {
                    document,
                    package: row.id,
                    fact: occurrences::fact_of(&facts, row)?,
                },
            ));
        }
        Ok(out)
    }

    /// Document ids of a deployment, oldest first (history included).
    /// The current documents of `deployment` (one per slot), from its record:
    /// no other deployment's rows are read.
    pub fn current_documents(&self, deployment: &str) -> Result<Vec<DocumentId>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(DEPLOYMENTS)?;
        let Some(v) = table.get(deployment)? else {
            return Ok(Vec::new());
        };
        let record: DeploymentRecord = decode(v.value(), "deployments", deployment)?;
        let mut ids: Vec<DocumentId> = record.current.into_iter().map(|(_, id)| id).collect();
        ids.sort_unstable();
        Ok(ids)
    }

    pub fn deployment_documents(&self, deployment: &str) -> Result<Vec<DocumentId>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(DEPLOYMENT_DOCUMENTS)?;
        let mut out = Vec::new();
        for entry in table.range((deployment, 0)..=(deployment, u64::MAX))? {
            out.push(entry?.0.value().1);
        }
        Ok(out)
    }
}

/// The documents that list `package`, in id order.
fn documents_listing(
    postings: &impl ReadableTable<(u64, u64), &'static [u8]>,
    documents: &impl ReadableTable<u64, &'static [u8]>,
    package: PackageId,
) -> Result<Vec<DocumentRecord>> {
    let mut out = Vec::new();
    for doc_id in occurrences::documents_of(postings, package)? {
        if let Some(d) = documents.get(doc_id)? {
            out.push(decode(d.value(), "documents", &doc_id.to_string())?);
        }
    }
    Ok(out)
}
