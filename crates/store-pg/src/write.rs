//! The write path on PostgreSQL: a group of documents in one transaction,
//! in the order and with the ids the redb store would give them.
//!
//! Writers take one transaction-scoped advisory lock first, so writers in
//! any number of processes run one after another: no deadlock, no lost
//! update of a deployment's record, and ids handed out in commit order (as
//! redb's single writer does). Readers never wait for it. Rows go in with
//! binary `COPY` (documents, occurrences) and `unnest` upserts (the rest),
//! a fixed number of statements per group, not per document.

use std::borrow::Cow;

// Fx: the keys are this process's own (package keys, fact hashes, ids),
// looked up millions of times in a bulk ingest.
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use aibomdb_graph::PackageKey;
use aibomdb_store::kit::{self, FactHash};
use aibomdb_store::{
    DeploymentRecord, DocumentId, EncodedRows, IngestOutcome, LookupName, NewDocument, PackageId,
    StoreError,
};
use tokio_postgres::Transaction;

use crate::group_rows::{OccurrenceRow, Rows, write_rows};
use crate::read::id;
use crate::store::{Pg, PgStore, Result};
use crate::txn::{meta_value, reserve};

/// Ids this process has seen handed out: packages and facts are never
/// deleted, so an entry stays true; a group's own entries join only once
/// its transaction has committed.
#[derive(Default)]
pub(crate) struct WriteCache {
    ids: HashMap<String, PackageId>,
    facts: HashMap<FactHash, u64>,
    lookup: HashMap<PackageId, Vec<LookupName>>,
    /// Facts whose occurrences were written: what such a fact settles for
    /// every later occurrence of it (as redb's writer keeps it).
    settled: HashMap<FactHash, Settled>,
}

/// What a fact written before settles for a later occurrence of it. Its
/// shared part holds the package key, and the model-node and digest rows are
/// functions of it, so such an occurrence needs no key lookup and no check
/// of the rows its first occurrence wrote.
#[derive(Clone, Copy)]
pub(crate) struct Settled {
    fact: u64,
    package: PackageId,
    /// A hash of the lookup names last recorded for the fact
    /// ([`kit::hash_names`]): the same list again needs no check.
    names: Option<u64>,
    /// The fact has digest rows to write for each document.
    digests: bool,
}

/// Entries beyond which the cache starts over.
const WRITE_CACHE_ENTRIES: usize = 4_000_000;

impl WriteCache {
    fn len(&self) -> usize {
        self.ids.len() + self.facts.len() + self.lookup.len() + self.settled.len()
    }

    fn absorb(&mut self, fresh: WriteCache) {
        self.ids.extend(fresh.ids);
        self.facts.extend(fresh.facts);
        self.settled.extend(fresh.settled);
        for (id, names) in fresh.lookup {
            self.lookup.entry(id).or_default().extend(names);
        }
    }
}

impl PgStore {
    /// Writes `docs` in one transaction: each whole, all visible together,
    /// or none. Outcomes in input order; a later document sees the earlier
    /// ones (identical bytes are `Unchanged`, a newer one of the same slot
    /// supersedes).
    pub(crate) fn write_group(&self, docs: &[NewDocument]) -> Result<Vec<IngestOutcome>> {
        if docs.is_empty() {
            return Ok(Vec::new());
        }
        // Encoded here once (an ingest's parsers encoded theirs already;
        // an upload's are encoded now): the checks and the write read them.
        let prepared: Vec<Cow<'_, EncodedRows>> = docs.iter().map(kit::prepared).collect();
        for (doc, rows) in docs.iter().zip(&prepared) {
            refuse_nul(doc, rows)?;
        }
        let known = match self.write_cache.lock() {
            Ok(mut cache) => std::mem::take(&mut *cache),
            Err(_) => WriteCache::default(),
        };
        let mut fresh = WriteCache::default();
        let result = self.write_steps(|txn| {
            let evented = self.block_on(crate::events::events_wanted(self, txn))?;
            let group =
                self.block_on(write_txn(txn, docs, &prepared, &known, &mut fresh, evented))?;
            if group.written.is_empty() {
                return Ok(((group.outcomes, 0), None));
            }
            let events = match evented {
                true => self.group_events(txn, docs, &group)?,
                false => Vec::new(),
            };
            Ok(((group.outcomes, group.rows), Some(events)))
        });
        if let Ok(mut cache) = self.write_cache.lock() {
            *cache = known;
            if result.is_ok() {
                cache.absorb(fresh);
            }
            if cache.len() > WRITE_CACHE_ENTRIES {
                *cache = WriteCache::default();
            }
        }
        let (outcomes, rows) = result?;
        self.written_since_analyze
            .fetch_add(rows, std::sync::atomic::Ordering::AcqRel);
        Ok(outcomes)
    }
}

/// What writing a group did.
pub(crate) struct GroupWritten {
    /// Per document given, in order.
    pub(crate) outcomes: Vec<IngestOutcome>,
    /// Occurrence rows written.
    pub(crate) rows: u64,
    /// The documents written (index among those given) with their outcomes;
    /// none when every one was stored before.
    pub(crate) written: Vec<(usize, IngestOutcome)>,
    /// Per document written, in order, when events are wanted: its
    /// deployment's other current documents right after it was written.
    pub(crate) evented: Vec<Supersession>,
}

/// One document written: where its events are read from.
pub(crate) struct Supersession {
    pub(crate) deployment: String,
    pub(crate) document: DocumentId,
    pub(crate) superseded: Option<DocumentId>,
    pub(crate) others: Vec<DocumentId>,
}

/// PostgreSQL's text cannot hold a NUL byte, and a B-tree entry is capped
/// at about 2.7 kB; redb has neither limit. A document whose keys break one
/// is refused whole, naming the field, before anything is written.
fn refuse_nul(doc: &NewDocument, rows: &EncodedRows) -> Result<()> {
    const LONGEST_KEY: usize = 2_000;
    let bad = |what: &str, text: &str| -> Result<()> {
        if text.contains('\0') {
            return Err(StoreError::Unsupported {
                operation: format!("{what} {text:?} (it holds a NUL byte)"),
                backend: "PostgreSQL",
            });
        }
        if text.len() > LONGEST_KEY {
            return Err(StoreError::Unsupported {
                operation: format!(
                    "{what} of {} bytes (an index key holds at most {LONGEST_KEY})",
                    text.len()
                ),
                backend: "PostgreSQL",
            });
        }
        Ok(())
    };
    bad("deployment name", &doc.deployment)?;
    bad("source path", &doc.source_path)?;
    if let Some(serial) = &doc.facts.serial {
        bad("serial number", serial)?;
    }
    for package in rows.packages() {
        if let Some(key) = &package.key {
            bad("package", key.as_str())?;
        }
        for (sha, path) in &package.digests {
            bad("digest", sha)?;
            bad("model file path", path)?;
        }
    }
    for names in &doc.lookup_names {
        for name in names {
            bad("advisory lookup key", &name.key)?;
        }
    }
    for found in &doc.matches {
        for m in found {
            bad("advisory id", &m.advisory)?;
        }
    }
    for statement in &doc.facts.vex {
        for identifier in statement.identifiers() {
            bad("VEX vulnerability id", &identifier)?;
        }
    }
    Ok(())
}

/// Writes a group in `txn` (behind the writers' lock), without committing.
async fn write_txn(
    txn: &Transaction<'_>,
    docs: &[NewDocument],
    all_prepared: &[Cow<'_, EncodedRows>],
    known: &WriteCache,
    fresh: &mut WriteCache,
    evented: bool,
) -> Result<GroupWritten> {
    if docs.iter().any(|d| d.matched_at.is_some()) {
        let now = meta_value(txn, aibomdb_store::ADVISORIES_VERSION).await?;
        kit::refuse_stale_matches(docs, now)?;
    }

    // Which documents are new: (bytes, deployment) is stored once.
    let shas: Vec<&[u8]> = docs.iter().map(|d| &d.sha256[..]).collect();
    let mut stored: HashMap<(Vec<u8>, String), DocumentId> = HashMap::default();
    for r in txn
        .query(
            "SELECT d.sha256, p.name, d.id FROM documents d \
             JOIN deployments p ON p.id = d.deployment_id WHERE d.sha256 = ANY($1)",
            &[&shas],
        )
        .await
        .pg()?
    {
        stored.insert((r.get(0), r.get(1)), r.get::<_, i64>(2) as u64);
    }
    // Per document: Ok(position among those written) or Err(an id already stored).
    let mut plan: Vec<std::result::Result<usize, DocumentId>> = Vec::with_capacity(docs.len());
    let mut writing: Vec<usize> = Vec::new();
    let mut pending: HashMap<(Vec<u8>, String), usize> = HashMap::default();
    for (i, doc) in docs.iter().enumerate() {
        let key = (doc.sha256.to_vec(), doc.deployment.clone());
        if let Some(&existing) = stored.get(&key) {
            plan.push(Err(existing));
        } else if let Some(&n) = pending.get(&key) {
            plan.push(Ok(n));
        } else {
            pending.insert(key, writing.len());
            plan.push(Ok(writing.len()));
            writing.push(i);
        }
    }
    if writing.is_empty() {
        // Nothing is written, so every document is one stored before.
        let outcomes = plan
            .into_iter()
            .filter_map(std::result::Result::err)
            .map(|document| IngestOutcome::Unchanged { document })
            .collect();
        return Ok(GroupWritten {
            outcomes,
            rows: 0,
            written: Vec::new(),
            evented: Vec::new(),
        });
    }
    let first_document = reserve(txn, "next_document_id", writing.len()).await?;

    // Packages and facts: find or create, ids in order of first appearance.
    let prepared: Vec<&EncodedRows> = writing.iter().map(|&i| &*all_prepared[i]).collect();
    let mut wanted_keys: Vec<&str> = Vec::new();
    let mut wanted_facts: Vec<FactHash> = Vec::new();
    {
        let mut seen_keys = HashSet::default();
        let mut seen_facts = HashSet::default();
        for package in prepared.iter().flat_map(|rows| rows.packages()) {
            let hash = &package.hash;
            let Some(key) = package.key.as_ref() else {
                continue;
            };
            if known.settled.contains_key(hash) {
                continue;
            }
            if !known.ids.contains_key(key.as_str()) && seen_keys.insert(key.as_str()) {
                wanted_keys.push(key.as_str());
            }
            if !known.facts.contains_key(hash) && seen_facts.insert(*hash) {
                wanted_facts.push(*hash);
            }
        }
    }
    for r in txn
        .query(
            "SELECT key, id FROM packages WHERE key = ANY($1)",
            &[&wanted_keys],
        )
        .await
        .pg()?
    {
        fresh.ids.insert(r.get(0), r.get::<_, i64>(1) as u64);
    }
    let hashes: Vec<&[u8]> = wanted_facts.iter().map(|h| &h[..]).collect();
    for r in txn
        .query(
            "SELECT hash, id FROM facts WHERE hash = ANY($1)",
            &[&hashes],
        )
        .await
        .pg()?
    {
        let bytes: &[u8] = r.get(0);
        if let Ok(hash) = <FactHash>::try_from(bytes) {
            fresh.facts.insert(hash, r.get::<_, i64>(1) as u64);
        }
    }
    let new_keys: Vec<&str> = wanted_keys
        .iter()
        .copied()
        .filter(|k| !fresh.ids.contains_key(*k))
        .collect();
    let new_facts: Vec<FactHash> = wanted_facts
        .iter()
        .copied()
        .filter(|h| !fresh.facts.contains_key(h))
        .collect();
    let first_package = reserve(txn, "next_package_id", new_keys.len()).await?;
    let first_fact = reserve(txn, "next_fact_id", new_facts.len()).await?;
    let new_key_set: HashSet<&str> = new_keys.iter().copied().collect();
    insert_packages(txn, &new_keys, first_package, fresh).await?;
    let mut new_fact_ids: HashMap<FactHash, u64> = HashMap::default();
    for (n, hash) in new_facts.iter().enumerate() {
        new_fact_ids.insert(*hash, first_fact + n as u64);
    }

    // Deployments, locked in name order.
    let mut names: Vec<&str> = writing
        .iter()
        .map(|&i| docs[i].deployment.as_str())
        .collect();
    names.sort_unstable();
    names.dedup();
    let mut deployments: HashMap<String, (i32, DeploymentRecord)> = HashMap::default();
    for r in txn
        .query(
            "SELECT id, name, record FROM deployments WHERE name = ANY($1) ORDER BY name FOR UPDATE",
            &[&names],
        )
        .await
        .pg()?
    {
        let name: String = r.get(1);
        let record = kit::decode(r.get(2), "deployments", &name)?;
        deployments.insert(name, (r.get(0), record));
    }
    let now = kit::now();
    let missing: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| !deployments.contains_key(*n))
        .collect();
    if !missing.is_empty() {
        let records: Vec<Vec<u8>> = missing
            .iter()
            .map(|n| kit::encode(&new_deployment(n, now)))
            .collect();
        for r in txn
            .query(
                "INSERT INTO deployments (name, record) SELECT * FROM unnest($1::text[], $2::bytea[]) \
                 RETURNING id, name",
                &[&missing, &records],
            )
            .await
            .pg()?
        {
            let name: String = r.get(1);
            deployments.insert(name.clone(), (r.get(0), new_deployment(&name, now)));
        }
    }

    // Each document's rows, in order.
    let mut rows = Rows::default();
    let mut outcomes_written: Vec<IngestOutcome> = Vec::with_capacity(writing.len());
    let mut supersessions = Vec::new();
    let mut fact_bodies: Vec<(i64, Vec<u8>, Vec<u8>)> = Vec::new();
    let mut introduced: HashSet<&str> = HashSet::default();
    let mut facts_written: HashSet<FactHash> = HashSet::default();
    for (n, &i) in writing.iter().enumerate() {
        let doc = &docs[i];
        let doc_id = first_document + n as u64;
        let rows_ahead = &prepared[n];
        let packages = rows_ahead.packages();
        let mut package_ids = Vec::with_capacity(packages.len());
        let mut fact_ids = Vec::with_capacity(packages.len());
        let mut new_packages = 0;
        // Per package: the fact hash, when the fact is keyed.
        let mut hashes: Vec<Option<&FactHash>> = Vec::with_capacity(packages.len());
        for ahead in packages {
            let hash = &ahead.hash;
            let Some(key) = ahead.key.as_ref() else {
                package_ids.push(0);
                fact_ids.push(0);
                hashes.push(None);
                continue;
            };
            hashes.push(Some(hash));
            let settled = fresh
                .settled
                .get(hash)
                .or_else(|| known.settled.get(hash))
                .copied();
            let (package, fact_id, digests) = match settled {
                // Its package was introduced by its first occurrence, and
                // its model-node row written then.
                Some(settled) => (settled.package, settled.fact, settled.digests),
                None => {
                    let package = known
                        .ids
                        .get(key.as_str())
                        .or_else(|| fresh.ids.get(key.as_str()))
                        .copied()
                        .ok_or_else(|| StoreError::Backend(format!("no id was given to {key}")))?;
                    if new_key_set.contains(key.as_str()) && introduced.insert(key.as_str()) {
                        new_packages += 1;
                    }
                    let fact_id = match known.facts.get(hash).or_else(|| fresh.facts.get(hash)) {
                        Some(&f) => f,
                        None => {
                            let f = new_fact_ids[hash];
                            if facts_written.insert(*hash) {
                                fact_bodies.push((id(f), hash.to_vec(), ahead.fact.to_vec()));
                            }
                            f
                        }
                    };
                    if let Some(node) = ahead.model_node.as_deref() {
                        rows.model_nodes.insert((node.to_string(), id(package)));
                    }
                    let digests = !ahead.digests.is_empty();
                    fresh.settled.insert(
                        *hash,
                        Settled {
                            fact: fact_id,
                            package,
                            names: None,
                            digests,
                        },
                    );
                    (package, fact_id, digests)
                }
            };
            package_ids.push(package);
            fact_ids.push(fact_id);
            if digests {
                for (sha, path) in &ahead.digests {
                    rows.digests
                        .insert((sha.clone(), id(package), id(doc_id)), path.clone());
                }
            }
        }
        for (index, names) in doc.lookup_names.iter().enumerate() {
            // No names: nothing to record (an ingest leaves out those of
            // facts its earlier groups wrote).
            if names.is_empty() {
                continue;
            }
            let Some(&package) = package_ids.get(index).filter(|p| **p != 0) else {
                continue;
            };
            let Some(&hash) = hashes[index] else {
                continue;
            };
            let names_hash = kit::hash_names(names);
            let settled = fresh
                .settled
                .get(&hash)
                .or_else(|| known.settled.get(&hash));
            if settled.is_some_and(|s| s.names == Some(names_hash)) {
                continue;
            }
            if let Some(&settled) = settled {
                fresh.settled.insert(
                    hash,
                    Settled {
                        names: Some(names_hash),
                        ..settled
                    },
                );
            }
            for name in names {
                let recorded = |cache: &WriteCache| {
                    cache
                        .lookup
                        .get(&package)
                        .is_some_and(|names| names.contains(name))
                };
                if recorded(known) || recorded(fresh) {
                    continue;
                }
                fresh.lookup.entry(package).or_default().push(name.clone());
                let list = rows
                    .lookup
                    .entry((name.key.clone(), id(package)))
                    .or_default();
                if !list.contains(name) {
                    list.push(name.clone());
                }
            }
        }
        for (index, found) in doc.matches.iter().enumerate() {
            let Some(&package) = package_ids.get(index).filter(|p| **p != 0) else {
                continue;
            };
            for m in found {
                rows.matches
                    .insert((id(package), m.advisory.clone()), kit::encode_match(m));
            }
        }
        let (doc_rows, edge_count) = kit::document_rows(doc, rows_ahead, &package_ids, &fact_ids);

        // Deployment and supersession.
        let slot = kit::slot_of(doc);
        let (deployment_id, deployment) =
            deployments.get_mut(&doc.deployment).ok_or_else(|| {
                StoreError::Backend(format!("deployment {} vanished", doc.deployment))
            })?;
        let superseded = match deployment.current.iter_mut().find(|(s, _)| *s == slot) {
            Some((_, current)) => {
                let old = *current;
                *current = doc_id;
                match rows.documents.iter_mut().find(|(r, ..)| r.id == old) {
                    Some((record, ..)) => record.superseded_by = Some(doc_id),
                    None => rows.superseded.push((old, doc_id)),
                }
                Some(old)
            }
            None => {
                deployment.current.push((slot.clone(), doc_id));
                None
            }
        };
        if evented {
            supersessions.push(Supersession {
                deployment: doc.deployment.clone(),
                document: doc_id,
                superseded,
                others: deployment
                    .current
                    .iter()
                    .map(|(_, d)| *d)
                    .filter(|d| *d != doc_id)
                    .collect(),
            });
        }
        let record =
            kit::document_record(doc, doc_id, &package_ids, slot, superseded, edge_count, now);

        // Who lists what; the rest is in the document's rows.
        for row in &doc_rows.packages {
            rows.occurrences.push(OccurrenceRow {
                deployment: *deployment_id,
                document: id(doc_id),
                package: id(row.id),
            });
        }
        for e in doc_rows
            .edges
            .iter()
            .filter(|e| e.record.kinds().any(|k| k.is_lineage()))
        {
            rows.lineage.insert((
                id(doc_rows.id_at(e.to)),
                id(doc_rows.id_at(e.from)),
                id(doc_id),
            ));
        }
        for (index, statement) in doc.facts.vex.iter().enumerate() {
            let body = kit::encode(statement);
            for identifier in statement.identifiers() {
                rows.vex
                    .insert((identifier, id(doc_id), index as i32), body.clone());
            }
        }
        rows.occurrence_count += doc_rows.packages.len() as i64;
        rows.edge_count += doc_rows.edges.len() as i64;
        outcomes_written.push(IngestOutcome::Ingested {
            document: doc_id,
            packages: record.package_count,
            new_packages,
            edges: edge_count,
            superseded,
        });
        rows.documents
            .push((record, *deployment_id, doc_rows, doc.sha256));
    }

    if !fact_bodies.is_empty() {
        let mut fact_ids = Vec::with_capacity(fact_bodies.len());
        let mut fact_hashes = Vec::with_capacity(fact_bodies.len());
        let mut bodies = Vec::with_capacity(fact_bodies.len());
        for (f, hash, body) in fact_bodies {
            fact_ids.push(f);
            fact_hashes.push(hash);
            bodies.push(body);
        }
        txn.execute(
            "INSERT INTO facts (id, hash, body) SELECT * FROM unnest($1::int8[], $2::bytea[], $3::bytea[])",
            &[&fact_ids, &fact_hashes, &bodies],
        )
        .await
        .pg()?;
    }
    for (hash, f) in new_fact_ids {
        fresh.facts.insert(hash, f);
    }
    write_rows(txn, &rows, &deployments, first_package).await?;

    // The first copy of a document is written; a later copy in the group is
    // unchanged.
    let mut given = HashSet::default();
    let outcomes = plan
        .into_iter()
        .map(|p| match p {
            Err(existing) => IngestOutcome::Unchanged { document: existing },
            Ok(n) if given.insert(n) => outcomes_written[n].clone(),
            Ok(n) => IngestOutcome::Unchanged {
                document: first_document + n as u64,
            },
        })
        .collect();
    Ok(GroupWritten {
        outcomes,
        rows: rows.occurrence_count as u64,
        written: writing.into_iter().zip(outcomes_written).collect(),
        evented: supersessions,
    })
}

fn new_deployment(name: &str, now: u64) -> DeploymentRecord {
    DeploymentRecord {
        name: name.to_string(),
        created_at: now,
        current: Vec::new(),
    }
}

async fn insert_packages(
    txn: &Transaction<'_>,
    keys: &[&str],
    first: u64,
    fresh: &mut WriteCache,
) -> Result<()> {
    if keys.is_empty() {
        return Ok(());
    }
    let mut package_ids = Vec::with_capacity(keys.len());
    let mut texts: [Vec<String>; 5] = Default::default();
    let mut records = Vec::with_capacity(keys.len());
    for (n, key) in keys.iter().enumerate() {
        let package = first + n as u64;
        let parsed = PackageKey::from_stored(key.to_string());
        let record = kit::package_record(package, &parsed);
        package_ids.push(id(package));
        texts[0].push(record.key.clone());
        texts[1].push(record.name.to_lowercase());
        texts[2].push(record.ecosystem.clone());
        texts[3].push(record.namespace.clone().unwrap_or_default());
        texts[4].push(record.version.clone().unwrap_or_default());
        records.push(kit::encode(&record));
        fresh.ids.insert(key.to_string(), package);
    }
    txn.execute(
        "INSERT INTO packages (id, key, name_folded, ecosystem, namespace, version, record) \
         SELECT * FROM unnest($1::int8[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bytea[])",
        &[&package_ids, &texts[0], &texts[1], &texts[2], &texts[3], &texts[4], &records],
    )
    .await
    .pg()?;
    Ok(())
}
