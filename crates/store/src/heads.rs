//! The document heads every blast-radius answer ranks its hits by: read
//! whole once per generation, from a snapshot kept in one value when it is
//! current (one read at open, not a page per head), else from the table.

use std::collections::HashMap;

use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata};

use crate::occurrences::{Reader, put};
use crate::records::DocHead;
use crate::tables::*;
use crate::{DocumentId, RedbStore, Result, StoreError, decode, read_table};

/// Every document's head with its rank in (deployment, document) order.
pub(crate) type Heads = std::sync::Arc<HashMap<DocumentId, (DocHead, u32)>>;

/// Meta key counting the transactions that changed a head: a snapshot made
/// at another count is stale.
pub(crate) const HEADS_VERSION: &str = "heads_version";

struct Snapshot {
    stamp: Stamp,
    /// In rank order.
    heads: Vec<(DocumentId, DocHead)>,
}

/// What a snapshot must agree with to be used: `heads_version`, which every
/// change of a head bumps, and, for a store also written by a build from
/// before the snapshot (which knows nothing of the counter), the next
/// document id and the number of heads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    version: u64,
    next_document: u64,
    heads: u64,
}

/// Read and write transactions alike give the stamp of what they see.
trait StampSource {
    fn stamp(&self) -> Result<Stamp>;
}

macro_rules! stamp_source {
    ($txn:ty) => {
        impl StampSource for $txn {
            fn stamp(&self) -> Result<Stamp> {
                let meta = self.open_table(META)?;
                let get =
                    |key: &str| -> Result<u64> { Ok(meta.get(key)?.map_or(0, |v| v.value())) };
                Ok(Stamp {
                    version: get(HEADS_VERSION)?,
                    next_document: get("next_document_id")?,
                    heads: self.open_table(DOCUMENT_HEADS)?.len()?,
                })
            }
        }
    };
}
stamp_source!(redb::ReadTransaction);
stamp_source!(redb::WriteTransaction);

impl Snapshot {
    /// Varints, with each deployment name and source path front-coded
    /// against the previous head's (in rank order, neighbours share the
    /// deployment prefix and the folder): 4.7 MB of postcard at 50,000
    /// deployments is about a quarter of that, and a cold open reads it all.
    fn encode(&self, out: &mut Vec<u8>) {
        put(out, self.stamp.version);
        put(out, self.stamp.next_document);
        put(out, self.heads.len() as u64);
        let (mut previous_deployment, mut previous_path) = ("", "");
        for (id, head) in &self.heads {
            // Every field named, so that one added to `DocHead` is not
            // left out of the snapshot unnoticed.
            let DocHead {
                deployment,
                current,
                subject_package,
                source_path,
            } = head;
            put(out, *id);
            out.push(u8::from(*current) | (u8::from(subject_package.is_some()) << 1));
            if let Some(subject) = subject_package {
                put(out, *subject);
            }
            front_code(out, previous_deployment, deployment);
            front_code(out, previous_path, source_path);
            (previous_deployment, previous_path) = (deployment, source_path);
        }
    }

    /// The stamp alone, read before deciding whether to decode the rest.
    fn stamp_of(bytes: &[u8]) -> Option<Stamp> {
        let mut r = Reader { bytes, at: 0 };
        Some(Stamp {
            version: r.varint()?,
            next_document: r.varint()?,
            heads: r.varint()?,
        })
    }

    fn decode(bytes: &[u8]) -> Result<Snapshot> {
        let corrupt = |what: &str| StoreError::Corrupt {
            table: "heads_snapshot",
            key: "0".into(),
            message: format!("{what} cut short or malformed"),
        };
        let stamp = Snapshot::stamp_of(bytes).ok_or_else(|| corrupt("stamp"))?;
        let mut r = Reader { bytes, at: 0 };
        for _ in 0..3 {
            r.varint();
        }
        let count = stamp.heads as usize;
        if count > bytes.len() {
            return Err(corrupt("count"));
        }
        let mut heads = Vec::with_capacity(count);
        let (mut deployment, mut path) = (String::new(), String::new());
        for _ in 0..count {
            let id = r.varint().ok_or_else(|| corrupt("document id"))?;
            let flags = r.byte().ok_or_else(|| corrupt("flags"))?;
            let subject_package = if flags & 2 != 0 {
                Some(r.varint().ok_or_else(|| corrupt("subject"))?)
            } else {
                None
            };
            deployment = front_decode(&mut r, &deployment).ok_or_else(|| corrupt("deployment"))?;
            path = front_decode(&mut r, &path).ok_or_else(|| corrupt("source path"))?;
            heads.push((
                id,
                DocHead {
                    deployment: deployment.clone(),
                    current: flags & 1 != 0,
                    subject_package,
                    source_path: path.clone(),
                },
            ));
        }
        Ok(Snapshot { stamp, heads })
    }
}

/// `text` as the length of the prefix it shares with `previous` (in bytes,
/// at a character boundary) and the rest.
fn front_code(out: &mut Vec<u8>, previous: &str, text: &str) {
    let mut shared = previous
        .bytes()
        .zip(text.bytes())
        .take_while(|(a, b)| a == b)
        .count();
    while !text.is_char_boundary(shared) {
        shared -= 1;
    }
    put(out, shared as u64);
    put(out, (text.len() - shared) as u64);
    out.extend_from_slice(&text.as_bytes()[shared..]);
}

fn front_decode(r: &mut Reader<'_>, previous: &str) -> Option<String> {
    let shared = r.varint()? as usize;
    let len = r.varint()? as usize;
    let rest = std::str::from_utf8(r.take(len)?).ok()?;
    let mut text = String::with_capacity(shared + len);
    text.push_str(previous.get(..shared)?);
    text.push_str(rest);
    Some(text)
}

impl RedbStore {
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
        if snapshot_is_current(&self.db.begin_read()?)? {
            return Ok(false);
        }
        let txn = self.db.begin_write()?;
        let stamp = txn.stamp()?;
        let heads = ranked_heads(&txn.open_table(DOCUMENT_HEADS)?)?;
        let mut buf = Vec::new();
        Snapshot { stamp, heads }.encode(&mut buf);
        txn.open_table(HEADS_SNAPSHOT)?.insert(0, buf.as_slice())?;
        txn.commit()?;
        Ok(true)
    }
}

/// Whether the stored snapshot agrees with the store (without decoding it).
fn snapshot_is_current(txn: &redb::ReadTransaction) -> Result<bool> {
    Ok(with_current_snapshot(txn, |_| ())?.is_some())
}

/// The snapshot, when there is one that agrees with the store.
fn current_snapshot(txn: &redb::ReadTransaction) -> Result<Option<Snapshot>> {
    // Only a copy of `document_heads`: one that does not read is passed
    // over for the table, and said.
    Ok(
        with_current_snapshot(txn, Snapshot::decode)?.and_then(|decoded| match decoded {
            Ok(snapshot) => Some(snapshot),
            Err(e) => {
                tracing::warn!(error = %e, "heads snapshot unreadable; reading document_heads");
                None
            }
        }),
    )
}

/// `f` of the stored snapshot's bytes, when its stamp (which leads the
/// encoding, so a stale snapshot is not decoded) agrees with the store.
fn with_current_snapshot<T>(
    txn: &redb::ReadTransaction,
    f: impl FnOnce(&[u8]) -> T,
) -> Result<Option<T>> {
    let Some(table) = read_table(txn, HEADS_SNAPSHOT)? else {
        return Ok(None);
    };
    let Some(value) = table.get(0)? else {
        return Ok(None);
    };
    let bytes = value.value();
    if Snapshot::stamp_of(bytes) != Some(txn.stamp()?) {
        return Ok(None);
    }
    Ok(Some(f(bytes)))
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
    use super::*;
    use crate::NewDocument;

    fn doc(deployment: &str, n: u8) -> NewDocument {
        crate::test_docs::doc(deployment, n, vec![crate::test_docs::fact("pkg:pypi/x@1")])
    }

    /// The heads as the table gives them, ranked.
    fn from_table(store: &RedbStore) -> Vec<(DocumentId, DocHead)> {
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

    fn snapshot(store: &RedbStore) -> Option<Vec<(DocumentId, DocHead)>> {
        current_snapshot(&store.db.begin_read().unwrap())
            .unwrap()
            .map(|s| s.heads)
    }

    /// A head changed by a build that knows nothing of `heads_version`.
    #[test]
    fn a_head_written_without_the_counter_still_makes_the_snapshot_stale() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(dir.path().join("s.redb")).unwrap();
        store.ingest(doc("a", 1)).unwrap();
        store.ingest(doc("b", 2)).unwrap();
        assert!(store.persist_heads().unwrap());
        let txn = store.db.begin_write().unwrap();
        let version = txn.stamp().unwrap().version;
        {
            // Delete b's head, then put the counter back as it was.
            let mut heads = txn.open_table(DOCUMENT_HEADS).unwrap();
            heads.remove(2).unwrap();
            txn.open_table(META)
                .unwrap()
                .insert(HEADS_VERSION, version)
                .unwrap();
        }
        txn.commit().unwrap();
        assert_eq!(snapshot(&store), None);
    }

    #[test]
    fn the_snapshot_is_read_only_while_no_head_changed_since() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.redb");
        let store = RedbStore::open(&path).unwrap();
        for (i, name) in ["b", "a", "c", "prod-é", "prod-è"].iter().enumerate() {
            store.ingest(doc(name, i as u8 + 1)).unwrap();
        }
        // None yet: a store without one reads the table.
        assert_eq!(snapshot(&store), None);
        assert!(store.persist_heads().unwrap());
        assert!(!store.persist_heads().unwrap(), "already current");
        let table = from_table(&store);
        assert_eq!(table.len(), 5);
        assert_eq!(snapshot(&store).as_ref(), Some(&table));
        drop(store);
        let store = RedbStore::open(&path).unwrap();
        assert_eq!(ranked(&store.heads().unwrap()), table);

        // A new document that supersedes another (same deployment, same
        // file, no subject) makes it stale.
        let mut next = doc("a", 9);
        next.source_path = "/estate/ü2.json".into();
        store.ingest(next).unwrap();
        assert_eq!(snapshot(&store), None);
        drop(store);
        let store = RedbStore::open(&path).unwrap();
        let heads = ranked(&store.heads().unwrap());
        assert_eq!(heads, from_table(&store));
        assert_eq!(heads.len(), 6);
        assert_eq!(heads.iter().filter(|(_, h)| h.current).count(), 5);

        // So does a delete.
        assert!(store.persist_heads().unwrap());
        assert!(store.delete_deployment("b").unwrap());
        assert_eq!(snapshot(&store), None);
        drop(store);
        let store = RedbStore::open(&path).unwrap();
        let heads = ranked(&store.heads().unwrap());
        assert_eq!(heads, from_table(&store));
        assert!(heads.iter().all(|(_, h)| h.deployment != "b"));
    }
}
