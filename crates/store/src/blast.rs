//! The blast-radius question: which documents (and so deployments) list a
//! package, each with its path from the deployment, one page at a time.

use std::collections::HashMap;

use aibomdb_graph::PackageKey;
use redb::{ReadableDatabase, ReadableTable};

use crate::kit::Holder;
use crate::occurrences::{self, DocRows};
use crate::records::{self, DeploymentHit};
use crate::tables::*;
use crate::{DocumentId, DocumentRecord, PackageId, PackageRecord, RedbStore, Result, decode};

pub(crate) fn package_key_of(
    id: PackageId,
    packages: &impl ReadableTable<u64, &'static [u8]>,
    cache: &mut HashMap<PackageId, String>,
) -> Result<String> {
    if let Some(k) = cache.get(&id) {
        return Ok(k.clone());
    }
    let key = match packages.get(id)? {
        Some(v) => decode::<PackageRecord>(v.value(), "packages", &id.to_string())?.key,
        None => format!("#{id}"),
    };
    cache.insert(id, key.clone());
    Ok(key)
}

impl RedbStore {
    /// The blast radius of one package: every deployment whose documents list
    /// it, with the path from the deployment to it (see [`Self::deployments_using_page`]).
    pub fn deployments_using(
        &self,
        key: &PackageKey,
        include_history: bool,
    ) -> Result<Vec<DeploymentHit>> {
        Ok(self
            .deployments_using_page(std::slice::from_ref(key), include_history, 0, usize::MAX)?
            .1)
    }

    /// The blast radius of several packages (e.g. every version in a range):
    /// one hit per (document, package), ordered by deployment, document and
    /// package. Returns the number of hits and the hits in
    /// `offset..offset + limit`, each with its path deployment → document →
    /// subject → … → package, read from the shortest-path tree stored at
    /// ingest; only the returned page is resolved.
    pub fn deployments_using_page(
        &self,
        keys: &[PackageKey],
        include_history: bool,
        offset: usize,
        limit: usize,
    ) -> Result<(usize, Vec<DeploymentHit>)> {
        self.using_page(keys, include_history, None, offset, limit)
    }

    /// As [`Store::deployments_using_page`], for one deployment only: "the
    /// path from deployment X to the vulnerable package".
    pub fn paths_in_deployment(
        &self,
        deployment: &str,
        keys: &[PackageKey],
        include_history: bool,
        offset: usize,
        limit: usize,
    ) -> Result<(usize, Vec<DeploymentHit>)> {
        self.using_page(keys, include_history, Some(deployment), offset, limit)
    }

    fn using_page(
        &self,
        keys: &[PackageKey],
        include_history: bool,
        only: Option<&str>,
        offset: usize,
        limit: usize,
    ) -> Result<(usize, Vec<DeploymentHit>)> {
        let txn = self.db.begin_read()?;
        let by_key = txn.open_table(PACKAGE_BY_KEY)?;
        let postings = txn.open_table(POSTINGS)?;
        let heads = self.heads()?;
        let head_table = txn.open_table(DOCUMENT_HEADS)?;
        let mut late: HashMap<DocumentId, records::DocHead> = HashMap::new();
        let mut refs: Vec<(&records::DocHead, u32, DocumentId, PackageId, &str)> = Vec::new();
        let mut pairs: Vec<(DocumentId, PackageId, &str)> = Vec::new();
        for key in keys {
            let Some(target) = by_key.get(key.as_str())?.map(|v| v.value()) else {
                continue;
            };
            for doc in occurrences::documents_of(&postings, target)? {
                pairs.push((doc, target, key.as_str()));
                // A document committed after the heads were read is looked up directly.
                if !heads.contains_key(&doc)
                    && !late.contains_key(&doc)
                    && let Some(v) = head_table.get(doc)?
                {
                    late.insert(doc, decode(v.value(), "document_heads", &doc.to_string())?);
                }
            }
        }
        for (doc, target, key) in pairs {
            let (head, rank) = match heads.get(&doc) {
                Some((h, r)) => (h, *r),
                None => match late.get(&doc) {
                    Some(h) => (h, u32::MAX),
                    None => continue,
                },
            };
            if (include_history || head.current) && only.is_none_or(|d| d == head.deployment) {
                refs.push((head, rank, doc, target, key));
            }
        }
        // Documents newer than the ranking (rank MAX) sort by name among themselves.
        refs.sort_by(|a, b| {
            (a.1, &a.0.deployment, a.2, a.4).cmp(&(b.1, &b.0.deployment, b.2, b.4))
        });
        let total = refs.len();
        let doc_rows = txn.open_table(DOCUMENT_ROWS)?;
        let facts = txn.open_table(FACTS)?;
        let packages = txn.open_table(PACKAGES)?;
        let mut key_cache: HashMap<PackageId, String> = HashMap::new();
        let mut hits = Vec::new();
        let mut rows_cache: Option<(DocumentId, DocRows)> = None;
        for (head, _, doc_id, target, key) in refs.into_iter().skip(offset).take(limit) {
            if rows_cache.as_ref().is_none_or(|(d, _)| *d != doc_id) {
                rows_cache = occurrences::rows_of(&doc_rows, doc_id)?.map(|r| (doc_id, r));
            }
            let Some((_, rows)) = rows_cache.as_ref() else {
                continue;
            };
            let Some(position) = rows.position(target) else {
                continue;
            };
            hits.push(hit_in_document(
                Holder {
                    deployment: &head.deployment,
                    source_path: &head.source_path,
                    current: head.current,
                    subject: head.subject_package,
                },
                doc_id,
                rows,
                position,
                key,
                (&facts, &packages),
                &mut key_cache,
            )?);
        }
        Ok((total, hits))
    }

    /// Paths to `targets` within `documents` only, in their order: for a
    /// reader that knows a deployment's documents already (the gate), so no
    /// posting list across the estate is read.
    pub fn paths_in_documents(
        &self,
        documents: &[&DocumentRecord],
        targets: &[PackageId],
    ) -> Result<Vec<DeploymentHit>> {
        let txn = self.db.begin_read()?;
        let doc_rows = txn.open_table(DOCUMENT_ROWS)?;
        let facts = txn.open_table(FACTS)?;
        let packages = txn.open_table(PACKAGES)?;
        let mut key_cache: HashMap<PackageId, String> = HashMap::new();
        let mut hits = Vec::new();
        for doc in documents {
            let Some(rows) = occurrences::rows_of(&doc_rows, doc.id)? else {
                continue;
            };
            for &target in targets {
                let Some(position) = rows.position(target) else {
                    continue;
                };
                let key = package_key_of(target, &packages, &mut key_cache)?;
                hits.push(hit_in_document(
                    Holder {
                        deployment: &doc.deployment,
                        source_path: &doc.source_path,
                        current: doc.is_current(),
                        subject: doc.subject_package,
                    },
                    doc.id,
                    &rows,
                    position,
                    &key,
                    (&facts, &packages),
                    &mut key_cache,
                )?);
            }
        }
        Ok(hits)
    }
}

/// The path deployment → document → subject → … → the package at
/// `position` of `rows`, up the shortest-path tree's parent pointers.
fn hit_in_document<T: ReadableTable<u64, &'static [u8]>>(
    head: Holder,
    doc_id: DocumentId,
    rows: &DocRows,
    position: usize,
    key: &str,
    (facts, packages): (&T, &T),
    key_cache: &mut HashMap<PackageId, String>,
) -> Result<DeploymentHit> {
    let fact = occurrences::fact_of(facts, &rows.packages[position])?;
    let chain = crate::kit::path_to_subject(rows, position, head.subject);
    crate::kit::hit(head, doc_id, key, &fact, chain.as_deref(), |id| {
        package_key_of(id, packages, key_cache)
    })
}
