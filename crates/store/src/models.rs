//! Models and datasets: the index of model/dataset nodes, lineage edges in
//! both directions across every current document, and approvals bound to
//! artifact digests.

use redb::ReadableDatabase;
use serde::{Deserialize, Serialize};

use crate::occurrences;
use crate::tables::*;
use crate::{DocumentId, EdgeRecord, PackageId, PackageRecord, RedbStore, Result, decode, encode};

/// A person's approval of one file of a model, as it was when approved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    /// Lower-case hex SHA-256 of the approved bytes.
    pub sha256: String,
    pub by: String,
    pub note: Option<String>,
    /// Seconds since the epoch.
    pub at: u64,
    /// The path the file had in the model when approved (for people; the
    /// digest is what binds).
    pub path: Option<String>,
}

/// A lineage edge as one current document states it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineageEdge {
    pub from: PackageId,
    pub to: PackageId,
    pub document: DocumentId,
    pub edge: EdgeRecord,
}

impl RedbStore {
    /// Packages some document describes as a `model` or a `dataset`.
    pub fn model_nodes(&self, node: &str) -> Result<Vec<PackageRecord>> {
        let txn = self.db.begin_read()?;
        let index = txn.open_table(MODEL_NODES)?;
        let packages = txn.open_table(PACKAGES)?;
        let mut out = Vec::new();
        for entry in index.range((node, 0)..=(node, u64::MAX))? {
            let (_, id) = entry?.0.value();
            if let Some(v) = packages.get(id)? {
                out.push(decode(v.value(), "packages", &id.to_string())?);
            }
        }
        Ok(out)
    }

    /// Lineage edges out of `package` (to its bases and datasets), as every
    /// current document that lists it states them.
    pub fn lineage_from(&self, package: PackageId) -> Result<Vec<LineageEdge>> {
        let heads = self.heads()?;
        let txn = self.db.begin_read()?;
        let postings = txn.open_table(POSTINGS)?;
        let doc_rows = txn.open_table(DOCUMENT_ROWS)?;
        let mut out = Vec::new();
        for doc in occurrences::documents_of(&postings, package)? {
            if !heads.get(&doc).is_some_and(|(h, _)| h.current) {
                continue;
            }
            let Some(rows) = occurrences::rows_of(&doc_rows, doc)? else {
                continue;
            };
            out.extend(crate::kit::lineage_out(&rows, package, doc));
        }
        Ok(out)
    }

    /// Lineage edges into `package` (models derived from it, trained or
    /// evaluated on it), from current documents.
    pub fn lineage_to(&self, package: PackageId) -> Result<Vec<LineageEdge>> {
        let heads = self.heads()?;
        let txn = self.db.begin_read()?;
        let reverse = txn.open_table(EDGES_REVERSE)?;
        let doc_rows = txn.open_table(DOCUMENT_ROWS)?;
        let mut out = Vec::new();
        for entry in reverse.range((package, 0, 0)..=(package, u64::MAX, u64::MAX))? {
            let (_, from, doc) = entry?.0.value();
            if !heads.get(&doc).is_some_and(|(h, _)| h.current) {
                continue;
            }
            let Some(rows) = occurrences::rows_of(&doc_rows, doc)? else {
                continue;
            };
            out.extend(crate::kit::lineage_in(&rows, from, package, doc));
        }
        Ok(out)
    }

    /// Records an approval of the file with digest `approval.sha256` of the
    /// model `model_purl`, in one durable transaction. A second approval of
    /// the same bytes replaces the first.
    pub fn approve(&self, model_purl: &str, approval: &Approval) -> Result<()> {
        let txn = self.db.begin_write()?;
        {
            let mut table = txn.open_table(APPROVALS)?;
            let mut buf = Vec::new();
            encode(approval, &mut buf);
            table.insert((model_purl, approval.sha256.as_str()), buf.as_slice())?;
        }
        txn.commit()?;
        self.bump();
        Ok(())
    }

    /// Every approval recorded for `model_purl`, by digest.
    pub fn approvals(&self, model_purl: &str) -> Result<Vec<Approval>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(APPROVALS)?;
        let mut out = Vec::new();
        for entry in table.range((model_purl, "")..=(model_purl, "\u{10FFFF}"))? {
            let (k, v) = entry?;
            out.push(decode(v.value(), "approvals", k.value().1)?);
        }
        Ok(out)
    }
}
