//! The write path: documents in group commits (their packages, occurrences,
//! edges, path trees, matches and events in one transaction), and the removal
//! of a deployment.

use std::borrow::Cow;

use rustc_hash::FxHashMap;

use aibomdb_graph::{DocumentFacts, PackageKey, Purl};
use redb::ReadableTable;

use crate::occurrences::{self, DocRows, FactHash, FactId, RowEdge, RowPackage};
use crate::records::{self, LookupName, MatchRecord};
use crate::slots::slot_of;
use crate::tables::*;
use crate::{
    DeploymentRecord, DocumentId, DocumentRecord, EdgeRecord, IngestOutcome, PackageId,
    PackageRecord, RedbStore, Result, advisories, decode, digests, encode, hex, notify, unix_now,
};

/// A document ready to be written: the importer's facts plus where they came from.
#[derive(Debug, Clone)]
pub struct NewDocument {
    pub deployment: String,
    pub source_path: String,
    pub sha256: [u8; 32],
    pub size: u64,
    pub facts: DocumentFacts,
    /// Per package (aligned with `facts.packages`; shorter means none): how
    /// advisories name it.
    pub lookup_names: Vec<Vec<LookupName>>,
    /// Per package: its advisory matches, computed before the write so that
    /// they land in the document's own transaction (`package` is filled in).
    pub matches: Vec<Vec<MatchRecord>>,
    /// [`crate::WriteMarks::advisories`] read before the matches were
    /// computed: a write that finds the counter moved since refuses the
    /// group with [`crate::StoreError::Stale`], so that the document is
    /// matched again against what the load brought. `None`: not checked.
    pub matched_at: Option<u64>,
    /// Rows computed ahead of the write ([`NewDocument::encode_rows`]); the
    /// writer computes them itself when `None`.
    pub rows: Option<EncodedRows>,
}

/// The parts of a document's rows that need no store access: each package
/// fact encoded and hashed for interning, and the shortest-path tree from the
/// subject. Computing them
/// on the parser threads takes that work off the single writer.
#[derive(Debug, Clone, Default)]
pub struct EncodedRows {
    /// Per package: its fact's shared part encoded, and that encoding's hash.
    facts: Vec<(Vec<u8>, FactHash)>,
    /// (node, parent, edge kind code) by package index.
    tree: Vec<(usize, usize, u8)>,
}

impl NewDocument {
    /// Fills [`NewDocument::rows`]; call it off the writer thread.
    /// Each fact is then cut down to what the writer still reads of it
    /// (its encoding holds the rest): parsed documents wait for the writer
    /// in hundreds, and their facts were most of an ingest's memory.
    pub fn encode_rows(&mut self) {
        if self.rows.is_some() {
            // Already encoded, and the facts already cut down.
            return;
        }
        let facts = self
            .facts
            .packages
            .iter_mut()
            .map(occurrences::intern_key_in_place)
            .collect();
        self.rows = Some(EncodedRows {
            facts,
            tree: tree_rows(&self.facts),
        });
        for fact in &mut self.facts.packages {
            keep_what_the_writer_reads(fact);
        }
    }
}

/// Empties the fields of an encoded fact that the writer does not read: it
/// reads the key, kind, model, attestation, direct and scope bits, and a
/// container's hashes (for the digest index), and takes the rest from the
/// encoding.
fn keep_what_the_writer_reads(fact: &mut aibomdb_graph::PackageFact) {
    let container = fact.kind.as_deref() == Some("container");
    let kept = aibomdb_graph::PackageFact {
        key: fact.key.take(),
        kind: fact.kind.take(),
        scope: fact.scope,
        direct: fact.direct,
        hashes: if container {
            std::mem::take(&mut fact.hashes)
        } else {
            Vec::new()
        },
        model: fact.model.take(),
        attestation: fact.attestation.take(),
        ..Default::default()
    };
    *fact = kept;
}

/// The path tree by package index, from the subject (empty without one).
fn tree_rows(facts: &DocumentFacts) -> Vec<(usize, usize, u8)> {
    match facts.subject.as_ref().and_then(|s| s.package) {
        Some(root) => path_tree(facts, root)
            .into_iter()
            .map(|(node, parent, kind)| (node, parent, kind.code()))
            .collect(),
        None => Vec::new(),
    }
}

/// Ids the store has handed out, remembered across group commits so that
/// the packages and facts an estate repeats are resolved without a B-tree
/// lookup. Packages and facts are never deleted, so an entry stays true;
/// what a group adds joins only once its transaction has committed.
#[derive(Default)]
pub(crate) struct WriteCache {
    /// Package key → node id.
    ids: FxHashMap<String, PackageId>,
    /// Package → the advisory lookup names recorded for it.
    lookup: FxHashMap<PackageId, Vec<LookupName>>,
    /// Fact hash → interned fact id, and what else that fact settles.
    facts: FxHashMap<FactHash, KnownFact>,
}

/// What a fact already written settles for every later occurrence of it. A
/// fact's shared part holds its package key, and its lookup names and
/// digest rows are functions of that part, so an occurrence whose fact is
/// known needs no key lookup, no lookup-name check and no model-node row:
/// most occurrences of an estate, whose documents repeat their packages.
#[derive(Clone, Copy)]
struct KnownFact {
    fact: FactId,
    package: PackageId,
    /// A hash of the lookup names last checked against `package_keys` for
    /// this fact. The matcher derives them from the fact alone, but a
    /// document is free to give others (or none): a different list is
    /// checked name by name.
    names_checked: Option<u64>,
    /// The fact has digest rows to write for each document.
    digests: bool,
}

/// Identifies a package's lookup-name list among the lists its fact was
/// given: the same list is checked once.
pub(crate) fn hash_names(names: &[LookupName]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = rustc_hash::FxHasher::default();
    names.hash(&mut h);
    h.finish()
}

/// Entries beyond which the cache starts over (about 100 bytes each).
const WRITE_CACHE_ENTRIES: usize = 4_000_000;

impl WriteCache {
    fn len(&self) -> usize {
        self.ids.len() + self.lookup.values().map(Vec::len).sum::<usize>() + self.facts.len()
    }

    fn absorb(&mut self, fresh: WriteCache) {
        self.ids.extend(fresh.ids);
        for (id, names) in fresh.lookup {
            self.lookup.entry(id).or_default().extend(names);
        }
        self.facts.extend(fresh.facts);
    }

    pub(crate) fn clear(&mut self) {
        *self = WriteCache::default();
    }
}

/// What one group commit knows: the store's cache, and what the group has
/// looked up or written itself.
#[derive(Default)]
struct GroupCache {
    known: WriteCache,
    fresh: WriteCache,
    /// (package, document) postings, written sorted once the group's documents are.
    package_docs: Vec<(PackageId, DocumentId)>,
    /// Events the group's documents cause, when someone listens (`notify.rs`).
    events: Option<Vec<notify::MatchEvent>>,
    /// The next package id when the group began: packages below it existed
    /// before, and one of them newly named raises `package_keys_version`.
    first_new_package: PackageId,
}

impl RedbStore {
    /// Writes one document, its packages and edges in one durable transaction.
    ///
    /// Identical bytes already held by the same deployment are a no-op. A
    /// document with the same slot (format family + subject) as a current
    /// document of the deployment supersedes it; the old one stays as history.
    pub fn ingest(&self, doc: NewDocument) -> Result<IngestOutcome> {
        let mut outcomes = self.ingest_batch(std::slice::from_ref(&doc))?;
        Ok(outcomes.remove(0))
    }

    /// Writes several documents in one durable transaction (group commit):
    /// each is written whole, and they become visible and durable together,
    /// or not at all. One commit (and its fsyncs) for many documents is what
    /// makes bulk ingest fast: the B-tree pages the documents share are
    /// written once, not once per document. Outcomes are in input order; a
    /// later document of the batch sees the earlier ones (identical bytes are
    /// `Unchanged`, a newer document of the same slot supersedes).
    pub fn ingest_batch(&self, docs: &[NewDocument]) -> Result<Vec<IngestOutcome>> {
        if docs.is_empty() {
            return Ok(Vec::new());
        }
        let known = match self.write_cache.lock() {
            Ok(mut cache) => std::mem::take(&mut *cache),
            Err(_) => WriteCache::default(),
        };
        let mut seen = GroupCache {
            known,
            ..GroupCache::default()
        };
        let result = self.ingest_group(docs, &mut seen);
        if let Ok(mut cache) = self.write_cache.lock() {
            *cache = seen.known;
            if result.is_ok() {
                cache.absorb(seen.fresh);
            }
            if cache.len() > WRITE_CACHE_ENTRIES {
                cache.clear();
            }
        }
        result
    }

    fn ingest_group(
        &self,
        docs: &[NewDocument],
        seen: &mut GroupCache,
    ) -> Result<Vec<IngestOutcome>> {
        let txn = self.db.begin_write()?;
        {
            let meta = txn.open_table(META)?;
            stale_matches(&meta, docs)?;
            seen.first_new_package = meta.get("next_package_id")?.map_or(1, |v| v.value());
        }
        let mut outcomes = Vec::with_capacity(docs.len());
        if self.events_wanted(&txn)? {
            seen.events = Some(Vec::new());
        }
        for doc in docs {
            outcomes.push(Self::write_document(&txn, doc, seen)?);
        }
        // The package → document postings of the whole group, in key order.
        occurrences::add_postings(&mut txn.open_table(POSTINGS)?, &mut seen.package_docs)?;
        let evented = match seen.events.take() {
            Some(raw) => {
                let written: Vec<_> = docs.iter().zip(&outcomes).collect();
                let mut events = notify::vex_judged(
                    &notify::StoreView::new(self),
                    &notify::TxnView::new(&txn),
                    &written,
                    raw,
                )?;
                notify::append_events(&txn, &mut events)?;
                !events.is_empty()
            }
            None => false,
        };
        if outcomes
            .iter()
            .all(|o| matches!(o, IngestOutcome::Unchanged { .. }))
        {
            // Nothing new: leave the file as it was.
            txn.abort()?;
            return Ok(outcomes);
        }
        txn.commit()?;
        self.bump();
        if evented {
            self.ring_event_bell();
        }
        Ok(outcomes)
    }

    /// Borrows the document, so that a group whose transaction failed can be
    /// retried one by one without keeping a copy of every document.
    fn write_document(
        txn: &redb::WriteTransaction,
        doc: &NewDocument,
        seen: &mut GroupCache,
    ) -> Result<IngestOutcome> {
        let NewDocument {
            deployment,
            source_path,
            sha256,
            facts,
            lookup_names,
            matches,
            ..
        } = doc;
        let mut hash_key = sha256.to_vec();
        hash_key.extend_from_slice(deployment.as_bytes());

        {
            let mut by_hash = txn.open_table(DOCUMENT_BY_HASH)?;
            if let Some(existing) = by_hash.get(hash_key.as_slice())? {
                return Ok(IngestOutcome::Unchanged {
                    document: existing.value(),
                });
            }
            let mut meta = txn.open_table(META)?;
            let doc_id = next_id(&mut meta, "next_document_id")?;
            // This document's head (and that of one it supersedes) change.
            next_id(&mut meta, crate::heads::HEADS_VERSION)?;
            by_hash.insert(hash_key.as_slice(), doc_id)?;

            // Packages: find or create the node for each key, and the
            // interned fact of each occurrence.
            let mut packages = txn.open_table(PACKAGES)?;
            let mut by_key = txn.open_table(PACKAGE_BY_KEY)?;
            let mut by_name = txn.open_table(PACKAGE_BY_NAME)?;
            let mut model_nodes = txn.open_table(MODEL_NODES)?;
            let mut fact_table = txn.open_table(FACTS)?;
            let mut fact_by_hash = txn.open_table(FACT_BY_HASH)?;
            let mut ids: Vec<PackageId> = Vec::with_capacity(facts.packages.len());
            let mut fact_ids: Vec<FactId> = Vec::with_capacity(facts.packages.len());
            let mut new_packages = 0;
            let mut digest_rows: Vec<(String, PackageId, String)> = Vec::new();
            let mut next_package = meta.get("next_package_id")?.map_or(1, |v| v.value());
            // A package older than the group newly named under a key: a load
            // that read its candidates earlier would miss it there.
            let mut older_gained_keys = false;
            let mut buf = Vec::new();
            let (interned, tree) = prepared(doc);
            // Per package: the hash of the names last checked for its fact,
            // so that the loop over lookup names can pass the same list by.
            let mut names_checked: Vec<Option<u64>> = Vec::with_capacity(facts.packages.len());
            for (fact, (fact_bytes, fact_hash)) in facts.packages.iter().zip(interned.iter()) {
                let Some(key) = fact.key.as_ref() else {
                    ids.push(0);
                    fact_ids.push(0);
                    names_checked.push(None);
                    continue;
                };
                // A group's own entries first: they may have learnt more.
                let known = seen
                    .fresh
                    .facts
                    .get(fact_hash)
                    .or_else(|| seen.known.facts.get(fact_hash))
                    .copied();
                let (id, fact_id, has_digests) = match known {
                    Some(known) => {
                        names_checked.push(known.names_checked);
                        (known.package, known.fact, known.digests)
                    }
                    None => {
                        let cached = seen
                            .known
                            .ids
                            .get(key.as_str())
                            .or_else(|| seen.fresh.ids.get(key.as_str()));
                        let existing = match cached {
                            Some(&id) => Some(id),
                            None => by_key.get(key.as_str())?.map(|v| v.value()),
                        };
                        let id = match existing {
                            Some(id) => id,
                            None => {
                                let id = next_package;
                                next_package += 1;
                                new_packages += 1;
                                let record = package_record(id, key);
                                buf.clear();
                                encode(&record, &mut buf);
                                packages.insert(id, buf.as_slice())?;
                                by_key.insert(key.as_str(), id)?;
                                by_name.insert(name_index_key(&record).as_str(), id)?;
                                id
                            }
                        };
                        if cached.is_none() {
                            seen.fresh.ids.insert(key.as_str().to_string(), id);
                        }
                        let fact_id = occurrences::intern(
                            &mut fact_table,
                            &mut fact_by_hash,
                            &mut meta,
                            fact_bytes,
                            fact_hash,
                        )?;
                        // Models and datasets by what the importer made of
                        // them, or by the component type an SBOM gave: one
                        // row per package, written with its first fact.
                        if let Some(node) = model_node(fact) {
                            model_nodes.insert((node, id), ())?;
                        }
                        let has_digests = !digests::entries(fact).is_empty();
                        seen.fresh.facts.insert(
                            *fact_hash,
                            KnownFact {
                                fact: fact_id,
                                package: id,
                                names_checked: None,
                                digests: has_digests,
                            },
                        );
                        names_checked.push(None);
                        (id, fact_id, has_digests)
                    }
                };
                ids.push(id);
                fact_ids.push(fact_id);
                seen.package_docs.push((id, doc_id));
                if has_digests {
                    for (sha, path) in digests::entries(fact) {
                        digest_rows.push((sha, id, path));
                    }
                }
            }
            meta.insert("next_package_id", next_package)?;
            drop((fact_table, fact_by_hash, model_nodes));
            if !digest_rows.is_empty() {
                let mut index = txn.open_table(DIGESTS)?;
                for (sha, id, path) in &digest_rows {
                    index.insert((sha.as_str(), *id, doc_id), path.as_str())?;
                }
            }

            // Advisory lookup names and matches of this document's packages.
            let mut package_keys = txn.open_table(PACKAGE_KEYS)?;
            for (i, names) in lookup_names.iter().enumerate() {
                let Some(&id) = ids.get(i).filter(|id| **id != 0) else {
                    continue;
                };
                let names_hash = hash_names(names);
                if names_checked[i] == Some(names_hash) {
                    continue;
                }
                let fact_hash = &interned[i].1;
                if let Some(known) = seen.fresh.facts.get_mut(fact_hash) {
                    // Checked below: the next occurrence of this fact with
                    // the same names needs no check. (An entry known before
                    // the group learns it when the group commits.)
                    known.names_checked = Some(names_hash);
                } else if let Some(&known) = seen.known.facts.get(fact_hash) {
                    seen.fresh.facts.insert(
                        *fact_hash,
                        KnownFact {
                            names_checked: Some(names_hash),
                            ..known
                        },
                    );
                }
                for name in names {
                    // Most packages recur across a group's documents with
                    // the same names: each (package, name) is checked once.
                    let recorded = |cache: &WriteCache| {
                        cache
                            .lookup
                            .get(&id)
                            .is_some_and(|names| names.contains(name))
                    };
                    if recorded(&seen.known) || recorded(&seen.fresh) {
                        continue;
                    }
                    seen.fresh.lookup.entry(id).or_default().push(name.clone());
                    let mut list: Vec<LookupName> =
                        match package_keys.get((name.key.as_str(), id))? {
                            Some(v) => decode(v.value(), "package_keys", &name.key)?,
                            None => Vec::new(),
                        };
                    if !list.contains(name) {
                        older_gained_keys |= id < seen.first_new_package;
                        list.push(name.clone());
                        buf.clear();
                        encode(&list, &mut buf);
                        package_keys.insert((name.key.as_str(), id), buf.as_slice())?;
                    }
                }
            }
            drop(package_keys);
            if older_gained_keys {
                next_id(&mut meta, crate::PACKAGE_KEYS_VERSION)?;
            }
            let mut match_table = txn.open_table(MATCHES)?;
            let mut by_advisory = txn.open_table(MATCHES_BY_ADVISORY)?;
            for (i, found) in matches.iter().enumerate() {
                let Some(&id) = ids.get(i).filter(|id| **id != 0) else {
                    continue;
                };
                for m in found {
                    buf.clear();
                    encode(&advisories::StoredMatchRef::of(m), &mut buf);
                    match_table.insert((id, m.advisory.as_str()), buf.as_slice())?;
                    by_advisory.insert((m.advisory.as_str(), id), ())?;
                }
            }

            // The document's row: its packages by id (a package listed twice
            // keeps its last occurrence), their path-tree parents and edges.
            let (rows, edge_count) = document_rows(facts, &ids, &fact_ids, &tree);
            {
                let mut edges_rev = txn.open_table(EDGES_REVERSE)?;
                // Only lineage is walked backwards (`lineage_to`): plain
                // dependencies need no reverse row.
                for e in rows
                    .edges
                    .iter()
                    .filter(|e| e.record.kinds().any(|k| k.is_lineage()))
                {
                    edges_rev.insert((rows.id_at(e.to), rows.id_at(e.from), doc_id), ())?;
                }
            }
            txn.open_table(DOCUMENT_ROWS)?
                .insert(doc_id, rows.encode().as_slice())?;
            occurrences::count_rows(&mut meta, &rows, false)?;

            // Deployment and supersession.
            let slot = slot_of(facts, source_path);
            let now = unix_now();
            let mut deployments = txn.open_table(DEPLOYMENTS)?;
            let mut deployment_record = match deployments.get(deployment.as_str())? {
                Some(v) => decode::<DeploymentRecord>(v.value(), "deployments", deployment)?,
                None => DeploymentRecord {
                    name: deployment.clone(),
                    created_at: now,
                    current: Vec::new(),
                },
            };
            let mut documents = txn.open_table(DOCUMENTS)?;
            let superseded = match deployment_record
                .current
                .iter_mut()
                .find(|(s, _)| *s == slot)
            {
                Some((_, current)) => {
                    let old_id = *current;
                    *current = doc_id;
                    let old = documents
                        .get(old_id)?
                        .map(|v| {
                            decode::<DocumentRecord>(v.value(), "documents", &old_id.to_string())
                        })
                        .transpose()?;
                    if let Some(mut old) = old {
                        old.superseded_by = Some(doc_id);
                        buf.clear();
                        encode(&old, &mut buf);
                        documents.insert(old_id, buf.as_slice())?;
                        buf.clear();
                        encode(&head_of(&old), &mut buf);
                        txn.open_table(DOCUMENT_HEADS)?
                            .insert(old_id, buf.as_slice())?;
                    }
                    Some(old_id)
                }
                None => {
                    deployment_record.current.push((slot.clone(), doc_id));
                    None
                }
            };
            if let Some(events) = seen.events.as_mut() {
                // The events read these tables: redb opens a table once per
                // transaction at a time.
                drop((packages, match_table));
                let others: Vec<DocumentId> = deployment_record
                    .current
                    .iter()
                    .map(|(_, d)| *d)
                    .filter(|d| *d != doc_id)
                    .collect();
                events.extend(notify::events_for_supersession(
                    &notify::TxnView::new(txn),
                    deployment,
                    &others,
                    superseded,
                    doc_id,
                    now,
                )?);
            }
            buf.clear();
            encode(&deployment_record, &mut buf);
            deployments.insert(deployment.as_str(), buf.as_slice())?;
            txn.open_table(DEPLOYMENT_DOCUMENTS)?
                .insert((deployment.as_str(), doc_id), ())?;

            // VEX statements, filed under every id they answer to.
            let mut vex_table = txn.open_table(VEX_STATEMENTS)?;
            for (index, statement) in facts.vex.iter().enumerate() {
                buf.clear();
                encode(statement, &mut buf);
                for id in statement.identifiers() {
                    vex_table.insert((id.as_str(), doc_id, index as u32), buf.as_slice())?;
                }
            }
            if let Some(serial) = facts.serial.as_deref().filter(|s| !s.trim().is_empty()) {
                txn.open_table(DOCUMENT_BY_SERIAL)?.insert(
                    (aibomdb_graph::normalise_serial(serial).as_str(), doc_id),
                    (),
                )?;
            }

            let record = document_record(doc, doc_id, &ids, slot, superseded, edge_count, now);
            let package_count = record.package_count;
            buf.clear();
            encode(&record, &mut buf);
            documents.insert(doc_id, buf.as_slice())?;
            buf.clear();
            encode(&head_of(&record), &mut buf);
            txn.open_table(DOCUMENT_HEADS)?
                .insert(doc_id, buf.as_slice())?;
            Ok(IngestOutcome::Ingested {
                document: doc_id,
                packages: package_count,
                new_packages,
                edges: edge_count,
                superseded,
            })
        }
    }
}

/// A document's row from its facts, given the package id (0: none) and the
/// fact id of each package index; and how many distinct edges it states.
pub(crate) fn document_rows(
    facts: &DocumentFacts,
    ids: &[PackageId],
    fact_ids: &[FactId],
    tree: &[(usize, usize, u8)],
) -> (DocRows, u64) {
    let mut order: Vec<usize> = (0..ids.len()).filter(|&i| ids[i] != 0).collect();
    order.sort_by_key(|&i| ids[i]);
    let mut chosen: Vec<usize> = Vec::with_capacity(order.len());
    for i in order {
        match chosen.last_mut() {
            Some(last) if ids[*last] == ids[i] => *last = i,
            _ => chosen.push(i),
        }
    }
    let mut rows = DocRows {
        packages: chosen
            .iter()
            .map(|&i| RowPackage {
                id: ids[i],
                fact: fact_ids[i],
                direct: facts.packages[i].direct,
                scope: facts.packages[i].scope,
                parent: None,
            })
            .collect(),
        edges: Vec::new(),
    };
    let position = |index: usize| -> Option<u32> {
        let id = *ids.get(index).filter(|id| **id != 0)?;
        rows.position(id).map(|p| p as u32)
    };
    let mut parents = Vec::new();
    for &(node, parent, kind) in tree {
        if let (Some(n), Some(p)) = (position(node), position(parent)) {
            parents.push((n, p, kind));
        }
    }
    // `finish` sorted the edges, so the kinds one document states between
    // the same two nodes are adjacent: one row each pair.
    let mut edge_count = 0;
    let mut edges: Vec<RowEdge> = Vec::new();
    let mut pending: Option<(usize, usize)> = None;
    for e in &facts.dependencies {
        let (Some(from), Some(to)) = (position(e.from), position(e.to)) else {
            continue;
        };
        let pair = (ids[e.from], ids[e.to]);
        match (pending, edges.last_mut()) {
            (Some(p), Some(last)) if (ids[p.0], ids[p.1]) == pair => {
                if !last.record.kinds().any(|k| k == e.kind) {
                    last.record.also.push(e.kind);
                }
            }
            _ => {
                edge_count += 1;
                pending = Some((e.from, e.to));
                edges.push(RowEdge {
                    from,
                    to,
                    record: EdgeRecord {
                        kind: e.kind,
                        scope: e.scope,
                        marker: e.marker.clone(),
                        via_extra: e.via_extra.clone(),
                        also: Vec::new(),
                    },
                });
            }
        }
    }
    // By position (which is by id); the last statement of a pair stands.
    edges.sort_by_key(|e| (e.from, e.to));
    let mut deduped: Vec<RowEdge> = Vec::with_capacity(edges.len());
    for e in edges {
        match deduped.last_mut() {
            Some(last) if (last.from, last.to) == (e.from, e.to) => *last = e,
            _ => deduped.push(e),
        }
    }
    rows.edges = deduped;
    // By node id, the last parent given for a node stands.
    parents.sort_by_key(|(n, _, _)| *n);
    for (n, p, kind) in parents {
        rows.packages[n as usize].parent = Some((p, kind));
    }
    (rows, edge_count)
}

/// The interned facts and the path tree of `doc`: what the parser threads
/// computed, or computed here.
#[allow(clippy::type_complexity)]
pub(crate) fn prepared(
    doc: &NewDocument,
) -> (
    Cow<'_, [(Vec<u8>, FactHash)]>,
    Cow<'_, [(usize, usize, u8)]>,
) {
    let facts = &doc.facts;
    let interned = match doc.rows.as_ref() {
        Some(r) if r.facts.len() == facts.packages.len() => Cow::Borrowed(r.facts.as_slice()),
        _ => Cow::Owned(facts.packages.iter().map(occurrences::intern_key).collect()),
    };
    let tree = match doc.rows.as_ref() {
        Some(r) => Cow::Borrowed(r.tree.as_slice()),
        None => Cow::Owned(tree_rows(facts)),
    };
    (interned, tree)
}

/// Models and datasets by what the importer made of them, or by the
/// component type an SBOM gave.
pub(crate) fn model_node(fact: &aibomdb_graph::PackageFact) -> Option<&str> {
    fact.model
        .as_ref()
        .map(|m| m.node.as_str())
        .or(match fact.kind.as_deref() {
            Some("machine-learning-model") => Some("model"),
            Some("data") => Some("dataset"),
            _ => None,
        })
}

/// The record of a document being written, given its id, its packages' ids
/// (0: none) by index, its slot and what it supersedes.
pub(crate) fn document_record(
    doc: &NewDocument,
    id: DocumentId,
    ids: &[PackageId],
    slot: String,
    supersedes: Option<DocumentId>,
    edge_count: u64,
    now: u64,
) -> DocumentRecord {
    let facts = &doc.facts;
    let subject_package = facts
        .subject
        .as_ref()
        .and_then(|s| s.package)
        .and_then(|i| ids.get(i).copied())
        .filter(|id| *id != 0);
    // Components, not counting the subject's own node.
    let package_count =
        ids.iter().filter(|id| **id != 0).count() as u64 - u64::from(subject_package.is_some());
    DocumentRecord {
        id,
        deployment: doc.deployment.clone(),
        format: facts.format,
        spec_version: facts.spec_version.clone(),
        tools: facts.tools.clone(),
        serial: facts.serial.clone(),
        created: facts.created.clone(),
        subject: facts.subject.clone(),
        subject_package,
        source_path: doc.source_path.clone(),
        sha256: hex(&doc.sha256),
        size: doc.size,
        ingested_at: now,
        supersedes,
        superseded_by: None,
        slot,
        package_count,
        entries: facts.entries_read as u64,
        edge_count,
        vex_statements: facts.vex.len() as u64,
        skipped: facts.skipped.clone(),
        warnings: facts.warnings.clone(),
    }
}

/// Refuses a group with a document matched before the last advisory load
/// that committed (another thread or, on PostgreSQL, another process).
fn stale_matches(meta: &redb::Table<&str, u64>, docs: &[NewDocument]) -> Result<()> {
    if docs.iter().all(|d| d.matched_at.is_none()) {
        return Ok(());
    }
    let now = meta
        .get(crate::ADVISORIES_VERSION)?
        .map_or(0, |v| v.value());
    crate::kit::refuse_stale_matches(docs, now)
}

pub(crate) fn next_id(meta: &mut redb::Table<&str, u64>, name: &str) -> Result<u64> {
    let id = meta.get(name)?.map_or(1, |v| v.value());
    meta.insert(name, id + 1)?;
    Ok(id)
}

pub(crate) fn package_record(id: PackageId, key: &PackageKey) -> PackageRecord {
    let purl = Purl::parse(key.as_str()).ok();
    PackageRecord {
        id,
        key: key.as_str().to_string(),
        ecosystem: key.ty().to_string(),
        namespace: purl.as_ref().and_then(|p| p.namespace.clone()),
        name: purl.as_ref().map(|p| p.name.clone()).unwrap_or_default(),
        version: key.version(),
    }
}

/// `name\0ecosystem\0namespace\0version`, name folded to lower case so that a
/// search by name alone is one range scan.
pub(crate) fn name_index_key(p: &PackageRecord) -> String {
    format!(
        "{}\0{}\0{}\0{}",
        p.name.to_lowercase(),
        p.ecosystem,
        p.namespace.as_deref().unwrap_or(""),
        p.version.as_deref().unwrap_or("")
    )
}

pub(crate) fn head_of(d: &DocumentRecord) -> records::DocHead {
    records::DocHead {
        deployment: d.deployment.clone(),
        current: d.is_current(),
        subject_package: d.subject_package,
        source_path: d.source_path.clone(),
    }
}

/// Breadth-first from `root` over the document's edges: for every reachable
/// package, the parent on one shortest path and the kind of the edge. Each
/// node's successors are visited in the order the edges are listed (`finish`
/// sorts them: depends_on before contains for a pair, and the first kind of a
/// pair is the one the tree keeps).
fn path_tree(facts: &DocumentFacts, root: usize) -> Vec<(usize, usize, aibomdb_graph::EdgeKind)> {
    let n = facts.packages.len();
    let mut out = Vec::new();
    if root >= n {
        return out;
    }
    // Successor lists as one array (a stable counting sort by `from`).
    let mut start = vec![0usize; n + 1];
    for e in &facts.dependencies {
        if e.from < n && e.to < n {
            start[e.from + 1] += 1;
        }
    }
    for i in 0..n {
        start[i + 1] += start[i];
    }
    let mut fill = start.clone();
    let mut next = vec![(0usize, aibomdb_graph::EdgeKind::DependsOn); start[n]];
    for e in &facts.dependencies {
        if e.from < n && e.to < n {
            next[fill[e.from]] = (e.to, e.kind);
            fill[e.from] += 1;
        }
    }
    let mut seen = vec![false; n];
    seen[root] = true;
    let mut queue = std::collections::VecDeque::from([root]);
    while let Some(node) = queue.pop_front() {
        for &(to, kind) in &next[start[node]..start[node + 1]] {
            if !seen[to] {
                seen[to] = true;
                out.push((to, node, kind));
                queue.push_back(to);
            }
        }
    }
    out
}
