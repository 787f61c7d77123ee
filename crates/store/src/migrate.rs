//! Layout migrations. A store written by an earlier layout opens: before the
//! first transaction the file is copied beside itself (`<file>.layout<N>.bak`),
//! then every step from its layout to the current one runs in one write
//! transaction, so a crash leaves either the old store or the new one.
//!
//! Layouts that landed: 1–3 (2026-11-23, the first week; refused, see
//! [`OLDEST_MIGRATED`]), 4 (2026-11-30: one row per occurrence with its full
//! facts, an edge table and a path table), 5 (facts interned, one row per
//! document, postings).

use std::path::{Path, PathBuf};

use redb::{ReadableDatabase, ReadableTable, TableDefinition};

use crate::occurrences::{self, DocRows, FactHash, FactId, RowEdge, RowPackage};
use crate::records::EdgeRecord;
use crate::tables::*;
use crate::{
    DocumentId, PackageId, Result, SCHEMA_VERSION, StoreError, decode, digests, has_table,
};

/// The oldest layout this build migrates.
pub(crate) const OLDEST_MIGRATED: u64 = 4;

/// What opening an older store did, or would do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    pub from: u64,
    pub to: u64,
    /// Where the copy of the file as it was is kept.
    pub backup: PathBuf,
    /// One line per step, in order.
    pub steps: Vec<String>,
}

/// Layout 4's tables that layout 5 replaced.
mod layout4 {
    use super::TableDefinition;
    /// (document id, package id) → `PackageFact` as the document stated it.
    pub(super) const DOCUMENT_PACKAGES: TableDefinition<(u64, u64), &[u8]> =
        TableDefinition::new("document_packages");
    /// (package id, document id) → ().
    pub(super) const PACKAGE_DOCUMENTS: TableDefinition<(u64, u64), ()> =
        TableDefinition::new("package_documents");
    /// (document id, from package, to package) → `EdgeRecord`.
    pub(super) const EDGES: TableDefinition<(u64, u64, u64), &[u8]> = TableDefinition::new("edges");
    /// (document id, package id) → (parent package id, edge kind code).
    pub(super) const DOCUMENT_PATHS: TableDefinition<(u64, u64), (u64, u8)> =
        TableDefinition::new("document_paths");
}

/// The steps from layout `from` to the current one, described; an error
/// when `from` cannot be migrated.
pub(crate) fn plan(path: &Path, from: u64) -> Result<Migration> {
    if from > SCHEMA_VERSION {
        return Err(StoreError::Schema {
            path: path.to_path_buf(),
            found: from,
            supported: SCHEMA_VERSION,
        });
    }
    if from < OLDEST_MIGRATED {
        return Err(StoreError::Schema {
            path: path.to_path_buf(),
            found: from,
            supported: SCHEMA_VERSION,
        });
    }
    let mut steps = Vec::new();
    if from <= 4 {
        steps.push(
            "4 → 5: index model files and images by digest where the store has no such index yet"
                .to_string(),
        );
        steps.push(
            "4 → 5: intern every occurrence's facts (table facts), one row per document \
             (document_rows: packages, bits, path tree, edges) and package → document postings; \
             drop document_packages, package_documents, edges and document_paths"
                .to_string(),
        );
    }
    Ok(Migration {
        from,
        to: SCHEMA_VERSION,
        backup: backup_path(path, from),
        steps,
    })
}

pub(crate) fn backup_path(path: &Path, from: u64) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".layout{from}.bak"));
    path.with_file_name(name)
}

/// Runs every step from `from` in `txn`.
pub(crate) fn run(txn: &redb::WriteTransaction, from: u64) -> Result<()> {
    if from <= 4 {
        four_to_five(txn)?;
    }
    txn.open_table(META)?
        .insert("schema_version", SCHEMA_VERSION)?;
    Ok(())
}

fn four_to_five(txn: &redb::WriteTransaction) -> Result<()> {
    if !has_table(txn, "digests")? {
        backfill_digests(txn)?;
    }
    let doc_ids: Vec<DocumentId> = {
        let documents = txn.open_table(DOCUMENTS)?;
        let mut ids = Vec::new();
        for entry in documents.iter()? {
            ids.push(entry?.0.value());
        }
        ids
    };
    let mut pairs: Vec<(PackageId, DocumentId)> = Vec::new();
    {
        let old_rows = txn.open_table(layout4::DOCUMENT_PACKAGES)?;
        let old_edges = txn.open_table(layout4::EDGES)?;
        let old_paths = txn.open_table(layout4::DOCUMENT_PATHS)?;
        let mut facts = txn.open_table(FACTS)?;
        let mut by_hash = txn.open_table(FACT_BY_HASH)?;
        let mut meta = txn.open_table(META)?;
        let mut doc_rows = txn.open_table(DOCUMENT_ROWS)?;
        let mut known: std::collections::HashMap<FactHash, FactId> =
            std::collections::HashMap::new();
        for doc in doc_ids {
            let mut rows = DocRows::default();
            for entry in old_rows.range((doc, 0)..=(doc, u64::MAX))? {
                let (k, v) = entry?;
                let package = k.value().1;
                let mut fact: aibomdb_graph::PackageFact =
                    decode(v.value(), "document_packages", &format!("{doc}/{package}"))?;
                let (bytes, hash) = crate::fact_keys::intern_key_in_place(&mut fact);
                let id = match known.get(&hash) {
                    Some(&id) => id,
                    None => {
                        let id = occurrences::intern(
                            &mut facts,
                            &mut by_hash,
                            &mut meta,
                            &bytes,
                            &hash,
                        )?;
                        known.insert(hash, id);
                        id
                    }
                };
                rows.packages.push(RowPackage {
                    id: package,
                    fact: id,
                    direct: fact.direct,
                    scope: fact.scope,
                    parent: None,
                });
                pairs.push((package, doc));
            }
            for entry in old_paths.range((doc, 0)..=(doc, u64::MAX))? {
                let (k, v) = entry?;
                let node = k.value().1;
                let (parent, kind) = v.value();
                if let (Some(n), Some(p)) = (rows.position(node), rows.position(parent)) {
                    rows.packages[n].parent = Some((p as u32, kind));
                }
            }
            for entry in old_edges.range((doc, 0, 0)..=(doc, u64::MAX, u64::MAX))? {
                let (k, v) = entry?;
                let (_, from, to) = k.value();
                let record: EdgeRecord = decode(v.value(), "edges", &format!("{doc}/{from}/{to}"))?;
                if let (Some(f), Some(t)) = (rows.position(from), rows.position(to)) {
                    rows.edges.push(RowEdge {
                        from: f as u32,
                        to: t as u32,
                        record,
                    });
                }
            }
            doc_rows.insert(doc, rows.encode().as_slice())?;
            occurrences::count_rows(&mut meta, &rows, false)?;
        }
    }
    occurrences::add_postings(&mut txn.open_table(POSTINGS)?, &mut pairs)?;
    txn.delete_table(layout4::DOCUMENT_PACKAGES)?;
    txn.delete_table(layout4::PACKAGE_DOCUMENTS)?;
    txn.delete_table(layout4::EDGES)?;
    txn.delete_table(layout4::DOCUMENT_PATHS)?;
    Ok(())
}

/// Fills the digest index from layout 4's rows (a store written before the
/// index existed): the documents of every model node, and of every package
/// whose version is a `sha256:` digest or that is a container image.
fn backfill_digests(txn: &redb::WriteTransaction) -> Result<()> {
    let mut index = txn.open_table(DIGESTS)?;
    let doc_packages = txn.open_table(layout4::DOCUMENT_PACKAGES)?;
    let package_docs = txn.open_table(layout4::PACKAGE_DOCUMENTS)?;
    let packages = txn.open_table(PACKAGES)?;
    let models = txn.open_table(MODEL_NODES)?;
    let mut candidates: Vec<PackageId> = Vec::new();
    for entry in models.iter()? {
        candidates.push(entry?.0.value().1);
    }
    for entry in packages.iter()? {
        let (k, v) = entry?;
        let record: crate::PackageRecord = decode(v.value(), "packages", &k.value().to_string())?;
        if digests::is_digest_candidate(&record) {
            candidates.push(record.id);
        }
    }
    candidates.sort_unstable();
    candidates.dedup();
    for package in candidates {
        let mut docs = Vec::new();
        for entry in package_docs.range((package, 0)..=(package, u64::MAX))? {
            docs.push(entry?.0.value().1);
        }
        for doc in docs {
            let Some(row) = doc_packages.get((doc, package))? else {
                continue;
            };
            let fact: aibomdb_graph::PackageFact = decode(
                row.value(),
                "document_packages",
                &format!("{doc}/{package}"),
            )?;
            for (sha, path) in digests::entries(&fact) {
                index.insert((sha.as_str(), package, doc), path.as_str())?;
            }
        }
    }
    Ok(())
}

/// The layout a store file was written with, read without writing to it;
/// `None` for a new, empty file.
pub(crate) fn layout_of(db: &impl ReadableDatabase) -> Result<Option<u64>> {
    let read = db.begin_read()?;
    let meta = match read.open_table(META) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    Ok(meta.get("schema_version")?.map(|v| v.value()))
}

#[cfg(test)]
mod tests {
    use crate::{RedbStore, StoreError};

    fn with_layout(path: &std::path::Path, layout: u64) {
        drop(RedbStore::open(path).unwrap());
        let db = redb::Database::create(path).unwrap();
        let txn = db.begin_write().unwrap();
        txn.open_table(crate::tables::META)
            .unwrap()
            .insert("schema_version", layout)
            .unwrap();
        txn.commit().unwrap();
    }

    #[test]
    fn layouts_before_the_oldest_migrated_and_after_this_build_are_refused_unwritten() {
        let dir = tempfile::tempdir().unwrap();
        for layout in [1, 3, super::SCHEMA_VERSION + 1] {
            let path = dir.path().join(format!("s{layout}.redb"));
            with_layout(&path, layout);
            match RedbStore::open(&path) {
                Err(StoreError::Schema { found, .. }) => assert_eq!(found, layout),
                Err(other) => panic!("layout {layout}: {other}"),
                Ok(_) => panic!("layout {layout} opened"),
            }
            assert!(matches!(
                RedbStore::pending_migration(&path),
                Err(StoreError::Schema { .. })
            ));
            // redb rewrites its header on open, so the bytes are not the
            // test: the layout is as it was, and no copy was made.
            let db = redb::ReadOnlyDatabase::open(&path).unwrap();
            assert_eq!(super::layout_of(&db).unwrap(), Some(layout));
            assert!(!super::backup_path(&path, layout).exists());
        }
    }
}
