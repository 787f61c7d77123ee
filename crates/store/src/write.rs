//! The write path: documents in group commits (their packages, occurrences,
//! edges, path trees, matches and events in one transaction).

use aibomdb_graph::{PackageKey, Purl};
use redb::ReadableTable;

use crate::NewDocument;
use crate::new_document::{document_record, document_rows, prepared};
use crate::occurrences::{self, FactId};
use crate::records::{self, LookupName};
use crate::slots::slot_of;
use crate::tables::*;
use crate::write_cache::{GroupCache, KnownFact, WRITE_CACHE_ENTRIES, WriteCache, hash_names};
use crate::{
    DeploymentRecord, DocumentId, DocumentRecord, IngestOutcome, PackageId, PackageRecord,
    RedbStore, Result, advisories, decode, encode, notify, unix_now,
};

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

    /// Writes one document of a group into the group's transaction.
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
            let rows = prepared(doc);
            let prepared_packages = rows.packages();
            let mut ids: Vec<PackageId> = Vec::with_capacity(prepared_packages.len());
            let mut fact_ids: Vec<FactId> = Vec::with_capacity(prepared_packages.len());
            let mut new_packages = 0;
            let mut digest_rows: Vec<(&String, PackageId, &String)> = Vec::new();
            let mut next_package = meta.get("next_package_id")?.map_or(1, |v| v.value());
            // A package older than the group newly named under a key: a load
            // that read its candidates earlier would miss it there.
            let mut older_gained_keys = false;
            let mut buf = Vec::new();
            // Per package: the hash of the names last checked for its fact,
            // so that the loop over lookup names can pass the same list by.
            let mut names_checked: Vec<Option<u64>> = Vec::with_capacity(prepared_packages.len());
            for package in prepared_packages {
                let fact_hash = &package.hash;
                let Some(key) = package.key.as_ref() else {
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
                            &package.fact,
                            fact_hash,
                        )?;
                        // Models and datasets by what the importer made of
                        // them, or by the component type an SBOM gave: one
                        // row per package, written with its first fact.
                        if let Some(node) = package.model_node.as_deref() {
                            model_nodes.insert((node, id), ())?;
                        }
                        let has_digests = !package.digests.is_empty();
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
                    for (sha, path) in &package.digests {
                        digest_rows.push((sha, id, path));
                    }
                }
            }
            meta.insert("next_package_id", next_package)?;
            drop((fact_table, fact_by_hash, model_nodes));
            if !digest_rows.is_empty() {
                let mut index = txn.open_table(DIGESTS)?;
                for (sha, id, path) in digest_rows {
                    index.insert((sha.as_str(), id, doc_id), path.as_str())?;
                }
            }

            // Advisory lookup names and matches of this document's packages.
            let mut package_keys = txn.open_table(PACKAGE_KEYS)?;
            for (i, names) in lookup_names.iter().enumerate() {
                // No names: nothing to record (an ingest leaves out those of
                // facts its earlier groups wrote).
                if names.is_empty() {
                    continue;
                }
                let Some(&id) = ids.get(i).filter(|id| **id != 0) else {
                    continue;
                };
                let names_hash = hash_names(names);
                if names_checked[i] == Some(names_hash) {
                    continue;
                }
                let fact_hash = &prepared_packages[i].hash;
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
            let (doc_rows, edge_count) =
                document_rows(facts, prepared_packages, &ids, &fact_ids, rows.tree());
            {
                let mut edges_rev = txn.open_table(EDGES_REVERSE)?;
                // Only lineage is walked backwards (`lineage_to`): plain
                // dependencies need no reverse row.
                for e in doc_rows
                    .edges
                    .iter()
                    .filter(|e| e.record.kinds().any(|k| k.is_lineage()))
                {
                    edges_rev.insert((doc_rows.id_at(e.to), doc_rows.id_at(e.from), doc_id), ())?;
                }
            }
            txn.open_table(DOCUMENT_ROWS)?
                .insert(doc_id, doc_rows.encode().as_slice())?;
            occurrences::count_rows(&mut meta, &doc_rows, false)?;

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
