//! Whole-store inspection for tests and tools: a content fingerprint and
//! per-table row counts.

use std::collections::BTreeMap;

use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata};

use crate::tables::*;
use crate::{Result, Store};

impl Store {
    /// A fingerprint of every key and value in every table: equal fingerprints
    /// mean the same logical content (redb rewrites its header on open, so
    /// file bytes alone cannot show that nothing was written).
    pub fn content_fingerprint(&self) -> Result<u64> {
        use std::hash::{DefaultHasher, Hash, Hasher};
        fn fold<K: redb::Key + 'static, V: redb::Value + 'static>(
            txn: &redb::ReadTransaction,
            def: redb::TableDefinition<K, V>,
            h: &mut DefaultHasher,
        ) -> Result<()> {
            // A table a later version added is empty in an older store.
            let table = match txn.open_table(def) {
                Ok(t) => t,
                Err(redb::TableError::TableDoesNotExist(_)) => return Ok(()),
                Err(e) => return Err(e.into()),
            };
            for entry in table.iter()? {
                let (k, v) = entry?;
                K::as_bytes(&k.value()).as_ref().hash(h);
                V::as_bytes(&v.value()).as_ref().hash(h);
            }
            Ok(())
        }
        let txn = self.db.begin_read()?;
        let mut h = DefaultHasher::new();
        fold(&txn, META, &mut h)?;
        fold(&txn, PACKAGES, &mut h)?;
        fold(&txn, PACKAGE_BY_KEY, &mut h)?;
        fold(&txn, PACKAGE_BY_NAME, &mut h)?;
        fold(&txn, DOCUMENTS, &mut h)?;
        fold(&txn, DOCUMENT_BY_HASH, &mut h)?;
        fold(&txn, DEPLOYMENTS, &mut h)?;
        fold(&txn, DEPLOYMENT_DOCUMENTS, &mut h)?;
        fold(&txn, DOCUMENT_PACKAGES, &mut h)?;
        fold(&txn, PACKAGE_DOCUMENTS, &mut h)?;
        fold(&txn, EDGES, &mut h)?;
        fold(&txn, EDGES_REVERSE, &mut h)?;
        fold(&txn, ADVISORIES, &mut h)?;
        fold(&txn, ADVISORY_JSON, &mut h)?;
        fold(&txn, ADVISORY_IDENTIFIERS, &mut h)?;
        fold(&txn, ADVISORY_KEYS, &mut h)?;
        fold(&txn, PACKAGE_KEYS, &mut h)?;
        fold(&txn, MATCHES, &mut h)?;
        fold(&txn, MATCHES_BY_ADVISORY, &mut h)?;
        fold(&txn, VEX_STATEMENTS, &mut h)?;
        fold(&txn, DOCUMENT_BY_SERIAL, &mut h)?;
        fold(&txn, DOCUMENT_HEADS, &mut h)?;
        fold(&txn, DOCUMENT_PATHS, &mut h)?;
        fold(&txn, MODEL_NODES, &mut h)?;
        fold(&txn, APPROVALS, &mut h)?;
        fold(&txn, POLICIES, &mut h)?;
        fold(&txn, RELEASES, &mut h)?;
        fold(&txn, EVIDENCE_FILES, &mut h)?;
        fold(&txn, OBSERVATIONS, &mut h)?;
        fold(&txn, KEV, &mut h)?;
        fold(&txn, ADVISORY_SEEN, &mut h)?;
        fold(&txn, ENRICHMENT_SOURCES, &mut h)?;
        fold(&txn, DIGESTS, &mut h)?;
        Ok(h.finish())
    }

    /// Per-table entry counts, for tests that check nothing was half-written.
    pub fn table_sizes(&self) -> Result<BTreeMap<&'static str, u64>> {
        let txn = self.db.begin_read()?;
        let mut out = BTreeMap::new();
        out.insert("packages", txn.open_table(PACKAGES)?.len()?);
        out.insert("package_by_key", txn.open_table(PACKAGE_BY_KEY)?.len()?);
        out.insert("package_by_name", txn.open_table(PACKAGE_BY_NAME)?.len()?);
        out.insert("documents", txn.open_table(DOCUMENTS)?.len()?);
        out.insert("document_by_hash", txn.open_table(DOCUMENT_BY_HASH)?.len()?);
        out.insert("deployments", txn.open_table(DEPLOYMENTS)?.len()?);
        out.insert(
            "deployment_documents",
            txn.open_table(DEPLOYMENT_DOCUMENTS)?.len()?,
        );
        out.insert(
            "document_packages",
            txn.open_table(DOCUMENT_PACKAGES)?.len()?,
        );
        out.insert(
            "package_documents",
            txn.open_table(PACKAGE_DOCUMENTS)?.len()?,
        );
        out.insert("edges", txn.open_table(EDGES)?.len()?);
        out.insert("edges_reverse", txn.open_table(EDGES_REVERSE)?.len()?);
        out.insert("advisories", txn.open_table(ADVISORIES)?.len()?);
        out.insert("matches", txn.open_table(MATCHES)?.len()?);
        out.insert("vex_statements", txn.open_table(VEX_STATEMENTS)?.len()?);
        out.insert("model_nodes", txn.open_table(MODEL_NODES)?.len()?);
        out.insert("approvals", txn.open_table(APPROVALS)?.len()?);
        Ok(out)
    }
}
