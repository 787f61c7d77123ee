//! redb's views for the events of a change: [`TxnView`] inside the write
//! transaction, [`StoreView`] of the committed file.
//!
//! redb opens a table once per transaction at a time: each read opens what
//! it needs and lets it go, so callers hold no table the views read.

use std::collections::{BTreeSet, HashMap, HashSet};

use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata};

use super::{ChangeView, EventView, Exposure};
use crate::records::{AdvisoryRow, DocHead};
use crate::tables::*;
use crate::vex::{Source, VexSource};
use crate::{DocumentId, PackageId, PackageRecord, RedbStore, Result, decode};

/// The store as a write transaction leaves it.
pub(crate) struct TxnView<'t> {
    txn: &'t redb::WriteTransaction,
    source: Source<'t>,
}

impl<'t> TxnView<'t> {
    pub(crate) fn new(txn: &'t redb::WriteTransaction) -> Self {
        TxnView {
            txn,
            source: Source::Txn(txn),
        }
    }
}

/// The committed store, before a change.
pub(crate) struct StoreView<'s> {
    store: &'s RedbStore,
    source: Source<'s>,
}

impl<'s> StoreView<'s> {
    pub(crate) fn new(store: &'s RedbStore) -> Self {
        StoreView {
            store,
            source: Source::Store(store),
        }
    }
}

/// An advisory's id first, then its aliases and upstream ids.
fn identifiers_in(
    table: Option<impl ReadableTable<&'static str, &'static [u8]>>,
    id: &str,
) -> Result<Vec<String>> {
    let mut out = vec![id.to_string()];
    if let Some(v) = table.as_ref().map(|t| t.get(id)).transpose()?.flatten() {
        let row: AdvisoryRow = decode(v.value(), "advisories", id)?;
        out.extend(row.identifiers.into_iter().filter(|i| i != id));
    }
    Ok(out)
}

impl EventView for TxnView<'_> {
    fn vex_source(&self) -> &dyn VexSource {
        &self.source
    }

    fn identifiers_of(&self, advisory: &str) -> Result<Vec<String>> {
        identifiers_in(Some(self.txn.open_table(ADVISORIES)?), advisory)
    }

    fn has_statements(&self) -> Result<bool> {
        Ok(!self.txn.open_table(VEX_STATEMENTS)?.is_empty()?)
    }
}

impl EventView for StoreView<'_> {
    fn vex_source(&self) -> &dyn VexSource {
        &self.source
    }

    fn identifiers_of(&self, advisory: &str) -> Result<Vec<String>> {
        let read = self.store.db.begin_read()?;
        identifiers_in(crate::read_table(&read, ADVISORIES)?, advisory)
    }

    fn has_statements(&self) -> Result<bool> {
        let read = self.store.db.begin_read()?;
        Ok(match crate::read_table(&read, VEX_STATEMENTS)? {
            Some(t) => !t.is_empty()?,
            None => false,
        })
    }
}

impl ChangeView for TxnView<'_> {
    fn document_package_ids(&self, document: DocumentId) -> Result<Vec<PackageId>> {
        // The document → package rows, not the package → document index:
        // the index of a group commit is written at its end.
        let doc_rows = self.txn.open_table(DOCUMENT_ROWS)?;
        Ok(crate::occurrences::rows_of(&doc_rows, document)?
            .map(|rows| rows.packages.iter().map(|p| p.id).collect())
            .unwrap_or_default())
    }

    fn affected_matches(&self, packages: &[PackageId]) -> Result<Vec<Vec<(String, String)>>> {
        let matches = self.txn.open_table(MATCHES)?;
        let mut out = Vec::with_capacity(packages.len());
        for &package in packages {
            let mut found = Vec::new();
            for m in matches.range((package, "")..=(package, "\u{10FFFF}"))? {
                let (k, v) = m?;
                let advisory = k.value().1;
                let stored: crate::advisories::StoredMatch =
                    decode(v.value(), "matches", advisory)?;
                if stored.is_affected() {
                    found.push((advisory.to_string(), stored.ecosystem().to_string()));
                }
            }
            out.push(found);
        }
        Ok(out)
    }

    fn current_holders(
        &self,
        packages: &BTreeSet<PackageId>,
    ) -> Result<HashMap<PackageId, BTreeSet<String>>> {
        // As the write leaves them: the postings of an ingest group are
        // written before its events are judged.
        let postings = self.txn.open_table(POSTINGS)?;
        let heads = self.txn.open_table(DOCUMENT_HEADS)?;
        let mut out = HashMap::new();
        for package in packages {
            let mut deployments = BTreeSet::new();
            for doc in crate::occurrences::documents_of(&postings, *package)? {
                if let Some(v) = heads.get(doc)? {
                    let head: DocHead = decode(v.value(), "document_heads", &doc.to_string())?;
                    if head.current {
                        deployments.insert(head.deployment);
                    }
                }
            }
            out.insert(*package, deployments);
        }
        Ok(out)
    }

    fn advisories_named(&self, spellings: &BTreeSet<String>) -> Result<BTreeSet<String>> {
        let index = self.txn.open_table(ADVISORY_IDENTIFIERS)?;
        let mut out = BTreeSet::new();
        for spelling in spellings {
            let s = spelling.as_str();
            for e in index.range((s, "")..=(s, "\u{10FFFF}"))? {
                out.insert(e?.0.value().1.to_string());
            }
        }
        Ok(out)
    }

    fn affected_of_advisories(&self, advisories: &BTreeSet<String>) -> Result<Vec<Exposure>> {
        let by_advisory = self.txn.open_table(MATCHES_BY_ADVISORY)?;
        let matches = self.txn.open_table(MATCHES)?;
        let mut out = Vec::new();
        for advisory in advisories {
            let a = advisory.as_str();
            for e in by_advisory.range((a, 0)..=(a, u64::MAX))? {
                let package = e?.0.value().1;
                let Some(v) = matches.get((package, a))? else {
                    continue;
                };
                let stored: crate::advisories::StoredMatch = decode(v.value(), "matches", a)?;
                if stored.is_affected() {
                    out.push((package, advisory.clone(), stored.ecosystem().into()));
                }
            }
        }
        Ok(out)
    }

    fn packages(&self, ids: &BTreeSet<PackageId>) -> Result<HashMap<PackageId, PackageRecord>> {
        let table = self.txn.open_table(PACKAGES)?;
        let mut out = HashMap::with_capacity(ids.len());
        for &id in ids {
            if let Some(v) = table.get(id)? {
                out.insert(id, decode(v.value(), "packages", &id.to_string())?);
            }
        }
        Ok(out)
    }

    fn statement_ids_linking(&self, serials: &BTreeSet<String>) -> Result<BTreeSet<String>> {
        let mut out = BTreeSet::new();
        if serials.is_empty() {
            return Ok(out);
        }
        // No index by target: every statement is read (one pass a group).
        let table = self.txn.open_table(VEX_STATEMENTS)?;
        for entry in table.iter()? {
            let (k, v) = entry?;
            let (id, _, _) = k.value();
            let statement: aibomdb_graph::VexStatement = decode(v.value(), "vex_statements", id)?;
            if super::links_any(&statement, serials) {
                out.insert(id.to_string());
            }
        }
        Ok(out)
    }

    fn statement_ids_of(&self, documents: &HashSet<DocumentId>) -> Result<BTreeSet<String>> {
        let mut out = BTreeSet::new();
        if documents.is_empty() {
            return Ok(out);
        }
        // Statements are keyed by identifier first: a scan finds a document's.
        let table = self.txn.open_table(VEX_STATEMENTS)?;
        for entry in table.iter()? {
            let (k, _) = entry?;
            let (id, doc, _) = k.value();
            if documents.contains(&doc) {
                out.insert(id.to_string());
            }
        }
        Ok(out)
    }
}
