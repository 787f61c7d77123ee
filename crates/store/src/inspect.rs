//! Whole-store inspection for tests and tools: a content fingerprint and
//! per-table row counts.

use std::collections::BTreeMap;

use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata};

use crate::tables::*;
use crate::{RedbStore, Result};

impl RedbStore {
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
        fold(&txn, DOCUMENT_ROWS, &mut h)?;
        fold(&txn, FACTS, &mut h)?;
        fold(&txn, FACT_BY_HASH, &mut h)?;
        fold(&txn, POSTINGS, &mut h)?;
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
        // A cache of the heads, but a command that must write nothing must
        // not write it either.
        fold(&txn, HEADS_SNAPSHOT, &mut h)?;
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

    /// Every table with its entry count and the bytes its keys and values
    /// take (redb's `stored_bytes`, without B-tree metadata and free
    /// space): where a store's size goes.
    pub fn table_sizes(&self) -> Result<BTreeMap<String, (u64, u64)>> {
        use redb::TableHandle;
        let txn = self.db.begin_read()?;
        let mut out = BTreeMap::new();
        for handle in txn.list_tables()? {
            let name = handle.name().to_string();
            let table = txn.open_untyped_table(handle)?;
            out.insert(name, (table.len()?, table.stats()?.stored_bytes()));
        }
        Ok(out)
    }
}
