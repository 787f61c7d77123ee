//! What documents state about packages, stored once per fact (layout 5).
//!
//! Nearly every occurrence of a package across an estate repeats the same
//! facts (hashes, licences, purl, supplier): those are interned by content in
//! `facts`, and a document keeps one row in `document_rows` that holds, per
//! package it lists, only the package id, the fact id, the direct/scope bits
//! and its parent on the shortest-path tree, plus its package→package edges
//! by position. The inverse index, package → documents, is `postings`: sorted
//! document ids in chunks, appended to as documents (whose ids only grow)
//! arrive.
//!
//! A document row, all integers LEB128 varints:
//! ```text
//! n
//! n × package id, delta from the previous (ids ascending)
//! n × fact id
//! n × bits: direct (0 none, 1 false, 2 true) | scope code << 2
//! n × parent: 0 none, else ((position + 1) << 4 | edge kind code)
//! m
//! m × (from position, to position, tag: kind code | 0x80 when a full
//!      postcard `EdgeRecord` follows)
//! ```

use aibomdb_graph::{EdgeKind, PackageFact, Scope};

use redb::ReadableTable;

use crate::records::EdgeRecord;

use crate::{DocumentId, PackageId, Result, StoreError, decode, encode};

/// Id of an interned fact.
pub type FactId = u64;

/// The first 16 bytes of the SHA-256 of a fact's encoding: its identity.
pub type FactHash = [u8; 16];

/// One package a document lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowPackage {
    pub id: PackageId,
    pub fact: FactId,
    pub direct: Option<bool>,
    pub scope: Option<Scope>,
    /// (position of the parent in `packages`, edge kind code) on the
    /// shortest-path tree from the subject.
    pub parent: Option<(u32, u8)>,
}

/// One package→package edge, by positions in `packages`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowEdge {
    pub from: u32,
    pub to: u32,
    pub record: EdgeRecord,
}

/// Everything one document states about packages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DocRows {
    /// Ascending by id, each id once.
    pub packages: Vec<RowPackage>,
    /// Ascending by (from id, to id).
    pub edges: Vec<RowEdge>,
}

impl DocRows {
    pub fn position(&self, id: PackageId) -> Option<usize> {
        self.packages.binary_search_by_key(&id, |p| p.id).ok()
    }

    pub fn id_at(&self, position: u32) -> PackageId {
        self.packages.get(position as usize).map_or(0, |p| p.id)
    }

    /// The edges out of the package at `position`.
    pub fn edges_from(&self, position: u32) -> impl Iterator<Item = &RowEdge> {
        let start = self.edges.partition_point(|e| e.from < position);
        self.edges[start..]
            .iter()
            .take_while(move |e| e.from == position)
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + self.packages.len() * 8 + self.edges.len() * 4);
        put(&mut out, self.packages.len() as u64);
        let mut previous = 0;
        for p in &self.packages {
            put(&mut out, p.id - previous);
            previous = p.id;
        }
        for p in &self.packages {
            put(&mut out, p.fact);
        }
        for p in &self.packages {
            out.push(bits_of(p.direct, p.scope));
        }
        for p in &self.packages {
            match p.parent {
                None => put(&mut out, 0),
                Some((position, kind)) => put(
                    &mut out,
                    ((u64::from(position) + 1) << 4) | u64::from(kind & 0x0f),
                ),
            }
        }
        put(&mut out, self.edges.len() as u64);
        for e in &self.edges {
            put(&mut out, u64::from(e.from));
            put(&mut out, u64::from(e.to));
            let r = &e.record;
            let plain = r.scope.is_none()
                && r.marker.is_none()
                && r.via_extra.is_none()
                && r.also.is_empty();
            if plain {
                out.push(r.kind.code());
            } else {
                out.push(r.kind.code() | 0x80);
                let mut record = Vec::new();
                encode(r, &mut record);
                put(&mut out, record.len() as u64);
                out.extend_from_slice(&record);
            }
        }
        out
    }

    pub fn decode(bytes: &[u8], document: DocumentId) -> Result<DocRows> {
        let corrupt = |what: &str| StoreError::Corrupt {
            table: "document_rows",
            key: document.to_string(),
            message: what.to_string(),
        };
        let mut r = Reader { bytes, at: 0 };
        let n = r.varint().ok_or_else(|| corrupt("count"))? as usize;
        if n > bytes.len() {
            return Err(corrupt("count beyond the row"));
        }
        let mut packages = Vec::with_capacity(n);
        let mut previous = 0u64;
        for _ in 0..n {
            let delta = r.varint().ok_or_else(|| corrupt("package id"))?;
            previous = previous.checked_add(delta).ok_or_else(|| corrupt("id"))?;
            packages.push(RowPackage {
                id: previous,
                fact: 0,
                direct: None,
                scope: None,
                parent: None,
            });
        }
        for p in &mut packages {
            p.fact = r.varint().ok_or_else(|| corrupt("fact id"))?;
        }
        for p in &mut packages {
            let bits = r.byte().ok_or_else(|| corrupt("bits"))?;
            (p.direct, p.scope) = from_bits(bits);
        }
        for p in &mut packages {
            let v = r.varint().ok_or_else(|| corrupt("parent"))?;
            if v != 0 {
                let position = (v >> 4) - 1;
                if position >= n as u64 {
                    return Err(corrupt("parent beyond the row"));
                }
                p.parent = Some((position as u32, (v & 0x0f) as u8));
            }
        }
        let m = r.varint().ok_or_else(|| corrupt("edge count"))? as usize;
        if m > bytes.len() {
            return Err(corrupt("edge count beyond the row"));
        }
        let mut edges = Vec::with_capacity(m);
        for _ in 0..m {
            let from = r.varint().ok_or_else(|| corrupt("edge"))?;
            let to = r.varint().ok_or_else(|| corrupt("edge"))?;
            if from >= n as u64 || to >= n as u64 {
                return Err(corrupt("edge beyond the row"));
            }
            let tag = r.byte().ok_or_else(|| corrupt("edge kind"))?;
            let record = if tag & 0x80 == 0 {
                EdgeRecord {
                    kind: EdgeKind::from_code(tag).ok_or_else(|| corrupt("edge kind"))?,
                    scope: None,
                    marker: None,
                    via_extra: None,
                    also: Vec::new(),
                }
            } else {
                let len = r.varint().ok_or_else(|| corrupt("edge record"))? as usize;
                let body = r.take(len).ok_or_else(|| corrupt("edge record"))?;
                decode(body, "document_rows", &document.to_string())?
            };
            edges.push(RowEdge {
                from: from as u32,
                to: to as u32,
                record,
            });
        }
        Ok(DocRows { packages, edges })
    }
}

pub(crate) fn put(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

pub(crate) struct Reader<'a> {
    pub(crate) bytes: &'a [u8],
    pub(crate) at: usize,
}

impl Reader<'_> {
    pub(crate) fn byte(&mut self) -> Option<u8> {
        let b = *self.bytes.get(self.at)?;
        self.at += 1;
        Some(b)
    }

    pub(crate) fn varint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }

    pub(crate) fn take(&mut self, len: usize) -> Option<&[u8]> {
        let end = self.at.checked_add(len)?;
        let out = self.bytes.get(self.at..end)?;
        self.at = end;
        Some(out)
    }
}

/// `direct` (0 none, 1 false, 2 true) | scope code << 2.
pub(crate) fn bits_of(direct: Option<bool>, scope: Option<Scope>) -> u8 {
    let direct = match direct {
        None => 0,
        Some(false) => 1,
        Some(true) => 2,
    };
    direct | (scope_code(scope) << 2)
}

/// [`bits_of`] back.
pub(crate) fn from_bits(bits: u8) -> (Option<bool>, Option<Scope>) {
    let direct = match bits & 3 {
        0 => None,
        1 => Some(false),
        _ => Some(true),
    };
    (direct, scope_of(bits >> 2))
}

fn scope_code(scope: Option<Scope>) -> u8 {
    match scope {
        None => 0,
        Some(Scope::Required) => 1,
        Some(Scope::Optional) => 2,
        Some(Scope::Dev) => 3,
        Some(Scope::Build) => 4,
        Some(Scope::Test) => 5,
        Some(Scope::Excluded) => 6,
        Some(Scope::Runtime) => 7,
        Some(Scope::Provided) => 8,
    }
}

fn scope_of(code: u8) -> Option<Scope> {
    Some(match code {
        1 => Scope::Required,
        2 => Scope::Optional,
        3 => Scope::Dev,
        4 => Scope::Build,
        5 => Scope::Test,
        6 => Scope::Excluded,
        7 => Scope::Runtime,
        8 => Scope::Provided,
        _ => return None,
    })
}

/// The fact a document stated: the interned part with its own bits.
pub(crate) fn fact_of(
    facts: &impl ReadableTable<u64, &'static [u8]>,
    row: &RowPackage,
) -> Result<PackageFact> {
    let mut fact: PackageFact = match facts.get(row.fact)? {
        Some(v) => decode(v.value(), "facts", &row.fact.to_string())?,
        None => {
            return Err(StoreError::Corrupt {
                table: "facts",
                key: row.fact.to_string(),
                message: "a document row names a fact that is not stored".into(),
            });
        }
    };
    fact.direct = row.direct;
    fact.scope = row.scope;
    Ok(fact)
}

/// A document's rows, or `None` when it has none.
pub(crate) fn rows_of(
    table: &impl ReadableTable<u64, &'static [u8]>,
    document: DocumentId,
) -> Result<Option<DocRows>> {
    table
        .get(document)?
        .map(|v| DocRows::decode(v.value(), document))
        .transpose()
}

/// Keeps `meta.occurrence_rows` and `meta.edge_rows` (what `stats` reports)
/// in step with the document rows written or removed, so that counting them
/// reads no row.
pub(crate) fn count_rows(
    meta: &mut redb::Table<&str, u64>,
    rows: &DocRows,
    removed: bool,
) -> Result<()> {
    for (key, n) in [
        ("occurrence_rows", rows.packages.len() as u64),
        ("edge_rows", rows.edges.len() as u64),
    ] {
        let now = meta.get(key)?.map_or(0, |v| v.value());
        let next = if removed {
            now.saturating_sub(n)
        } else {
            now + n
        };
        meta.insert(key, next)?;
    }
    Ok(())
}

/// How many document ids one postings chunk holds before a new one starts.
const CHUNK: usize = 256;

/// Document ids of one chunk: its first id is in the key.
fn chunk_ids(first: DocumentId, bytes: &[u8], out: &mut Vec<DocumentId>) -> Result<()> {
    let mut r = Reader { bytes, at: 0 };
    let mut previous = first;
    out.push(first);
    while r.at < bytes.len() {
        let delta = r.varint().ok_or_else(|| StoreError::Corrupt {
            table: "postings",
            key: first.to_string(),
            message: "truncated chunk".into(),
        })?;
        previous += delta;
        out.push(previous);
    }
    Ok(())
}

fn chunk_bytes(ids: &[DocumentId]) -> Vec<u8> {
    let mut out = Vec::with_capacity(ids.len() * 2);
    put_chunk(ids, &mut out);
    out
}

/// A chunk's ids after its first (which is in the key), as deltas.
fn put_chunk(ids: &[DocumentId], out: &mut Vec<u8>) {
    for pair in ids.windows(2) {
        put(out, pair[1] - pair[0]);
    }
}

/// Every document that lists `package`, ascending.
pub(crate) fn documents_of(
    postings: &impl ReadableTable<(u64, u64), &'static [u8]>,
    package: PackageId,
) -> Result<Vec<DocumentId>> {
    let mut out = Vec::new();
    for entry in postings.range((package, 0)..=(package, u64::MAX))? {
        let (k, v) = entry?;
        chunk_ids(k.value().1, v.value(), &mut out)?;
    }
    Ok(out)
}

/// Adds (package, document) pairs to the postings; `pairs` is sorted here.
/// Documents arrive with ascending ids, so a pair goes to the package's last
/// chunk, or starts a new one when that is full. The last chunk's bytes are
/// appended to as they are: only its length and last id are read out of it.
pub(crate) fn add_postings(
    postings: &mut redb::Table<(u64, u64), &[u8]>,
    pairs: &mut [(PackageId, DocumentId)],
) -> Result<()> {
    pairs.sort_unstable();
    let mut bytes = Vec::new();
    let mut fresh: Vec<DocumentId> = Vec::new();
    let mut i = 0;
    while i < pairs.len() {
        let package = pairs[i].0;
        let mut j = i;
        while j < pairs.len() && pairs[j].0 == package {
            j += 1;
        }
        fresh.clear();
        fresh.extend(pairs[i..j].iter().map(|p| p.1));
        fresh.dedup();
        i = j;
        bytes.clear();
        // The chunk being filled: its first id (its key), how many ids it
        // holds and the last of them; `bytes` holds its deltas.
        let tail = match postings
            .range((package, 0)..=(package, u64::MAX))?
            .next_back()
        {
            Some(entry) => {
                let (k, v) = entry?;
                let first = k.value().1;
                let (count, last) = chunk_tail(first, v.value())?;
                let appendable = count < CHUNK && last < fresh[0];
                if appendable {
                    bytes.extend_from_slice(v.value());
                }
                Some((first, count, last, appendable))
            }
            None => None,
        };
        let (mut first, mut count, mut previous, rest) = match tail {
            // Its first chunk keeps the key, so the insert below replaces
            // the row: no delete first.
            Some((first, count, last, true)) => (first, count, last, &fresh[..]),
            Some((_, _, last, false)) if last >= fresh[0] => {
                // Not appended in order (a migration, a retried group):
                // merge into the chunks at their places.
                for &doc in &fresh {
                    insert_posting(postings, package, doc)?;
                }
                continue;
            }
            _ => (fresh[0], 1, fresh[0], &fresh[1..]),
        };
        for &doc in rest {
            if count == CHUNK {
                postings.insert((package, first), bytes.as_slice())?;
                bytes.clear();
                (first, count, previous) = (doc, 1, doc);
                continue;
            }
            put(&mut bytes, doc - previous);
            previous = doc;
            count += 1;
        }
        postings.insert((package, first), bytes.as_slice())?;
    }
    Ok(())
}

/// How many document ids a chunk holds, and its last.
fn chunk_tail(first: DocumentId, bytes: &[u8]) -> Result<(usize, DocumentId)> {
    let corrupt = |message: &str| StoreError::Corrupt {
        table: "postings",
        key: first.to_string(),
        message: message.into(),
    };
    let mut r = Reader { bytes, at: 0 };
    let (mut count, mut last) = (1, first);
    while r.at < bytes.len() {
        let delta = r.varint().ok_or_else(|| corrupt("truncated chunk"))?;
        last = last
            .checked_add(delta)
            .ok_or_else(|| corrupt("document id out of range"))?;
        count += 1;
    }
    Ok((count, last))
}

/// Inserts one posting wherever it belongs.
fn insert_posting(
    postings: &mut redb::Table<(u64, u64), &[u8]>,
    package: PackageId,
    doc: DocumentId,
) -> Result<()> {
    let holder = postings
        .range((package, 0)..=(package, doc))?
        .next_back()
        .map(|e| e.map(|(k, v)| (k.value().1, v.value().to_vec())))
        .transpose()?;
    let mut ids = Vec::new();
    let first = match holder {
        Some((first, bytes)) => {
            chunk_ids(first, &bytes, &mut ids)?;
            first
        }
        None => {
            // Before the first chunk: it joins the first chunk, if any.
            let next = postings
                .range((package, doc)..=(package, u64::MAX))?
                .next()
                .map(|e| e.map(|(k, v)| (k.value().1, v.value().to_vec())))
                .transpose()?;
            match next {
                Some((first, bytes)) => {
                    chunk_ids(first, &bytes, &mut ids)?;
                    first
                }
                None => doc,
            }
        }
    };
    if let Err(at) = ids.binary_search(&doc) {
        ids.insert(at, doc);
        postings.remove((package, first))?;
        for chunk in ids.chunks(CHUNK) {
            postings.insert((package, chunk[0]), chunk_bytes(chunk).as_slice())?;
        }
    }
    Ok(())
}

/// Removes one posting.
pub(crate) fn remove_posting(
    postings: &mut redb::Table<(u64, u64), &[u8]>,
    package: PackageId,
    doc: DocumentId,
) -> Result<()> {
    let holder = postings
        .range((package, 0)..=(package, doc))?
        .next_back()
        .map(|e| e.map(|(k, v)| (k.value().1, v.value().to_vec())))
        .transpose()?;
    let Some((first, bytes)) = holder else {
        return Ok(());
    };
    let mut ids = Vec::new();
    chunk_ids(first, &bytes, &mut ids)?;
    if let Ok(at) = ids.binary_search(&doc) {
        ids.remove(at);
        postings.remove((package, first))?;
        if let Some(&head) = ids.first() {
            postings.insert((package, head), chunk_bytes(&ids).as_slice())?;
        }
    }
    Ok(())
}

/// Looks up or writes the interned fact with this encoding.
pub(crate) fn intern(
    facts: &mut redb::Table<u64, &[u8]>,
    by_hash: &mut redb::Table<&[u8; 16], u64>,
    meta: &mut redb::Table<&str, u64>,
    bytes: &[u8],
    hash: &FactHash,
) -> Result<FactId> {
    if let Some(id) = by_hash.get(hash)? {
        return Ok(id.value());
    }
    let id = meta.get("next_fact_id")?.map_or(1, |v| v.value());
    meta.insert("next_fact_id", id + 1)?;
    facts.insert(id, bytes)?;
    by_hash.insert(hash, id)?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_round_trip() {
        let rows = DocRows {
            packages: vec![
                RowPackage {
                    id: 3,
                    fact: 9,
                    direct: Some(true),
                    scope: Some(Scope::Dev),
                    parent: None,
                },
                RowPackage {
                    id: 300,
                    fact: 1_000_000,
                    direct: None,
                    scope: None,
                    parent: Some((0, 1)),
                },
            ],
            edges: vec![
                RowEdge {
                    from: 0,
                    to: 1,
                    record: EdgeRecord {
                        kind: EdgeKind::Contains,
                        scope: None,
                        marker: None,
                        via_extra: None,
                        also: vec![],
                    },
                },
                RowEdge {
                    from: 1,
                    to: 0,
                    record: EdgeRecord {
                        kind: EdgeKind::DependsOn,
                        scope: Some(Scope::Optional),
                        marker: Some("python_version < \"3.11\"".into()),
                        via_extra: Some("cuda".into()),
                        also: vec![EdgeKind::TrainedOn],
                    },
                },
            ],
        };
        let bytes = rows.encode();
        assert_eq!(DocRows::decode(&bytes, 1).unwrap(), rows);
        // Every truncation is refused, never a panic or a silent short row.
        for cut in 0..bytes.len() {
            assert!(DocRows::decode(&bytes[..cut], 1).is_err(), "cut at {cut}");
        }
        assert_eq!(rows.position(300), Some(1));
        assert_eq!(rows.edges_from(1).count(), 1);
    }

    #[test]
    fn postings_chunks_hold_every_id_once() {
        let mut ids: Vec<u64> = (1..1000).map(|i| i * 3).collect();
        let bytes = chunk_bytes(&ids);
        let mut back = Vec::new();
        chunk_ids(ids[0], &bytes, &mut back).unwrap();
        assert_eq!(back, ids);
        ids.truncate(1);
        assert!(chunk_bytes(&ids).is_empty());
    }

    /// Groups appended one after another, in order and out of it, give each
    /// package every document it was given, once, ascending, in chunks of at
    /// most `CHUNK` keyed by their first id.
    #[test]
    fn appended_postings_are_what_was_added() {
        let db = redb::Database::builder()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .unwrap();
        let mut expected: std::collections::BTreeMap<u64, Vec<u64>> = Default::default();
        let mut seed = 7u64;
        let mut next = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            seed >> 33
        };
        let mut doc = 1u64;
        for group in 0..150 {
            let mut pairs = Vec::new();
            for _ in 0..(next() % 40) {
                // Mostly new documents; every tenth group also re-adds older
                // ones (a retried group), which go in at their places.
                let d = if group % 10 == 9 && next() % 2 == 0 {
                    1 + next() % doc
                } else {
                    doc += 1 + next() % 3;
                    doc
                };
                for _ in 0..(1 + next() % 3) {
                    let package = 1 + next() % 5;
                    pairs.push((package, d));
                    expected.entry(package).or_default().push(d);
                }
            }
            let txn = db.begin_write().unwrap();
            {
                let mut postings = txn.open_table(crate::tables::POSTINGS).unwrap();
                add_postings(&mut postings, &mut pairs).unwrap();
            }
            txn.commit().unwrap();
        }
        let txn = redb::ReadableDatabase::begin_read(&db).unwrap();
        let postings = txn.open_table(crate::tables::POSTINGS).unwrap();
        for (package, docs) in &mut expected {
            docs.sort_unstable();
            docs.dedup();
            assert_eq!(
                &documents_of(&postings, *package).unwrap(),
                docs,
                "package {package}"
            );
            for entry in postings
                .range((*package, 0)..=(*package, u64::MAX))
                .unwrap()
            {
                let (k, v) = entry.unwrap();
                let (count, _) = chunk_tail(k.value().1, v.value()).unwrap();
                assert!(count <= CHUNK);
            }
        }
        assert!(
            expected.values().any(|d| d.len() > 2 * CHUNK),
            "chunks filled and started"
        );
    }
}
