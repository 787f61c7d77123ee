//! The document heads every blast-radius answer ranks its hits by: read
//! whole once per generation, from a snapshot kept in one value when it is
//! current (one read at open, not a page per head), else from the table.

use std::collections::HashMap;

use redb::{ReadableDatabase, ReadableTable};

use crate::records::DocHead;
use crate::tables::*;
use crate::{DocumentId, Result, Store, decode, encode, read_table};

/// Every document's head with its rank in (deployment, document) order.
pub(crate) type Heads = std::sync::Arc<HashMap<DocumentId, (DocHead, u32)>>;

/// Meta key counting the transactions that changed a head: a snapshot made
/// at another count is stale.
pub(crate) const HEADS_VERSION: &str = "heads_version";

#[derive(serde::Serialize, serde::Deserialize)]
struct Snapshot {
    version: u64,
    /// In rank order.
    heads: Vec<(DocumentId, DocHead)>,
}

impl Store {
    /// The heads of all documents as of the current generation.
    pub(crate) fn heads(&self) -> Result<Heads> {
        let generation = self.generation();
        if let Ok(guard) = self.heads.lock()
            && let Some((g, map)) = guard.as_ref()
            && *g == generation
        {
            return Ok(map.clone());
        }
        let txn = self.db.begin_read()?;
        let ranked = match current_snapshot(&txn)? {
            Some(snapshot) => snapshot.heads,
            None => ranked_heads(&txn.open_table(DOCUMENT_HEADS)?)?,
        };
        let map: HashMap<_, _> = ranked
            .into_iter()
            .enumerate()
            .map(|(rank, (id, head))| (id, (head, rank as u32)))
            .collect();
        let map = std::sync::Arc::new(map);
        if let Ok(mut guard) = self.heads.lock() {
            *guard = Some((generation, map.clone()));
        }
        Ok(map)
    }

    /// Writes the heads snapshot when the heads changed since the last one
    /// (after a bulk ingest or a delete), so that the next open reads them in
    /// one go. Returns whether it wrote.
    pub fn persist_heads(&self) -> Result<bool> {
        if current_snapshot(&self.db.begin_read()?)?.is_some() {
            return Ok(false);
        }
        let txn = self.db.begin_write()?;
        let version = txn
            .open_table(META)?
            .get(HEADS_VERSION)?
            .map_or(0, |v| v.value());
        let heads = ranked_heads(&txn.open_table(DOCUMENT_HEADS)?)?;
        let mut buf = Vec::new();
        encode(&Snapshot { version, heads }, &mut buf);
        txn.open_table(HEADS_SNAPSHOT)?.insert(0, buf.as_slice())?;
        txn.commit()?;
        Ok(true)
    }
}

/// The snapshot, when there is one made at the current heads version.
fn current_snapshot(txn: &redb::ReadTransaction) -> Result<Option<Snapshot>> {
    let Some(table) = read_table(txn, HEADS_SNAPSHOT)? else {
        return Ok(None);
    };
    let Some(value) = table.get(0)? else {
        return Ok(None);
    };
    let version = txn
        .open_table(META)?
        .get(HEADS_VERSION)?
        .map_or(0, |v| v.value());
    // The version leads the encoding: a stale snapshot is not decoded.
    let bytes = value.value();
    let made_at: Option<(u64, &[u8])> = postcard::take_from_bytes(bytes).ok();
    if made_at.is_none_or(|(v, _)| v != version) {
        return Ok(None);
    }
    Ok(Some(decode(bytes, "heads_snapshot", "0")?))
}

/// Every head, in rank order: by deployment name, then document id.
fn ranked_heads(
    table: &impl ReadableTable<u64, &'static [u8]>,
) -> Result<Vec<(DocumentId, DocHead)>> {
    let mut all: Vec<(DocumentId, DocHead)> = Vec::new();
    for entry in table.iter()? {
        let (k, v) = entry?;
        let id = k.value();
        all.push((id, decode(v.value(), "document_heads", &id.to_string())?));
    }
    all.sort_by(|a, b| (&a.1.deployment, a.0).cmp(&(&b.1.deployment, b.0)));
    Ok(all)
}

#[cfg(test)]
mod tests {
    use aibomdb_graph::{DocumentFacts, DocumentFormat, PackageFact, key_for};

    use super::*;
    use crate::NewDocument;

    fn doc(deployment: &str, n: u8) -> NewDocument {
        let (key, _, qualifiers) = key_for(Some("pkg:pypi/x@1"), "", None);
        let mut facts = DocumentFacts::new(DocumentFormat::CycloneDx, "1.6");
        facts.packages = vec![PackageFact {
            key,
            qualifiers,
            ..Default::default()
        }];
        NewDocument {
            deployment: deployment.into(),
            source_path: format!("{n}.json"),
            sha256: [n; 32],
            size: 1,
            facts,
            lookup_names: Vec::new(),
            matches: Vec::new(),
            rows: None,
        }
    }

    /// The heads as the table gives them, ranked.
    fn from_table(store: &Store) -> Vec<(DocumentId, DocHead)> {
        let txn = store.db.begin_read().unwrap();
        ranked_heads(&txn.open_table(DOCUMENT_HEADS).unwrap()).unwrap()
    }

    fn ranked(heads: &Heads) -> Vec<(DocumentId, DocHead)> {
        let mut all: Vec<_> = heads
            .iter()
            .map(|(id, (h, r))| (*r, *id, h.clone()))
            .collect();
        all.sort_by_key(|(r, _, _)| *r);
        all.into_iter().map(|(_, id, h)| (id, h)).collect()
    }

    fn snapshot(store: &Store) -> Option<Vec<(DocumentId, DocHead)>> {
        current_snapshot(&store.db.begin_read().unwrap())
            .unwrap()
            .map(|s| s.heads)
    }

    #[test]
    fn the_snapshot_is_read_only_while_no_head_changed_since() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.redb");
        let store = Store::open(&path).unwrap();
        for (i, name) in ["b", "a", "c"].iter().enumerate() {
            store.ingest(doc(name, i as u8 + 1)).unwrap();
        }
        // None yet: a store without one reads the table.
        assert_eq!(snapshot(&store), None);
        assert!(store.persist_heads().unwrap());
        assert!(!store.persist_heads().unwrap(), "already current");
        let table = from_table(&store);
        assert_eq!(table.len(), 3);
        assert_eq!(snapshot(&store).as_ref(), Some(&table));
        drop(store);
        let store = Store::open(&path).unwrap();
        assert_eq!(ranked(&store.heads().unwrap()), table);

        // A new document that supersedes another (same deployment, same
        // file, no subject) makes it stale.
        let mut next = doc("a", 9);
        next.source_path = "2.json".into();
        store.ingest(next).unwrap();
        assert_eq!(snapshot(&store), None);
        drop(store);
        let store = Store::open(&path).unwrap();
        let heads = ranked(&store.heads().unwrap());
        assert_eq!(heads, from_table(&store));
        assert_eq!(heads.len(), 4);
        assert_eq!(heads.iter().filter(|(_, h)| h.current).count(), 3);

        // So does a delete.
        assert!(store.persist_heads().unwrap());
        assert!(store.delete_deployment("b").unwrap());
        assert_eq!(snapshot(&store), None);
        drop(store);
        let store = Store::open(&path).unwrap();
        let heads = ranked(&store.heads().unwrap());
        assert_eq!(heads, from_table(&store));
        assert!(heads.iter().all(|(_, h)| h.deployment != "b"));
    }
}
