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
        let mut h = DefaultHasher::new();
        self.table_fingerprints()?.hash(&mut h);
        Ok(h.finish())
    }

    /// [`RedbStore::content_fingerprint`] table by table: which tables two
    /// stores differ in.
    pub fn table_fingerprints(&self) -> Result<BTreeMap<&'static str, u64>> {
        use std::hash::{DefaultHasher, Hash, Hasher};
        fn fold<K: redb::Key + 'static, V: redb::Value + 'static>(
            txn: &redb::ReadTransaction,
            name: &'static str,
            def: redb::TableDefinition<K, V>,
            out: &mut BTreeMap<&'static str, u64>,
        ) -> Result<()> {
            // A table a later version added (or that nothing has written
            // yet) is absent: the same content as an empty one.
            let mut h = DefaultHasher::new();
            let Some(table) = crate::read_table(txn, def)? else {
                out.insert(name, h.finish());
                return Ok(());
            };
            for entry in table.iter()? {
                let (k, v) = entry?;
                K::as_bytes(&k.value()).as_ref().hash(&mut h);
                V::as_bytes(&v.value()).as_ref().hash(&mut h);
            }
            out.insert(name, h.finish());
            Ok(())
        }
        macro_rules! fold_all {
            ($txn:expr, $out:expr; $($table:ident),* $(,)?) => {
                $( fold($txn, stringify!($table), $table, $out)?; )*
            };
        }
        let txn = self.db.begin_read()?;
        let mut out = BTreeMap::new();
        // The heads snapshot is a cache, but a command that must write
        // nothing must not write it either.
        fold_all!(&txn, &mut out;
            META, PACKAGES, PACKAGE_BY_KEY, PACKAGE_BY_NAME, DOCUMENTS, DOCUMENT_BY_HASH,
            DEPLOYMENTS, DEPLOYMENT_DOCUMENTS, DOCUMENT_ROWS, FACTS, FACT_BY_HASH, POSTINGS,
            EDGES_REVERSE, ADVISORIES, ADVISORY_JSON, ADVISORY_IDENTIFIERS, ADVISORY_KEYS,
            PACKAGE_KEYS, MATCHES, MATCHES_BY_ADVISORY, VEX_STATEMENTS, DOCUMENT_BY_SERIAL,
            DOCUMENT_HEADS, HEADS_SNAPSHOT, MODEL_NODES, APPROVALS, POLICIES, RELEASES,
            EVIDENCE_FILES, OBSERVATIONS, KEV, EPSS, ADVISORY_SEEN, ENRICHMENT_SOURCES, DIGESTS,
            OUTBOX, NOTIFY_TARGETS, NOTIFY_CURSORS, DELIVERIES, NOTIFY_REQUEUE, FEED_STATE,
        );
        Ok(out)
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
