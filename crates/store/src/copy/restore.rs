//! [`Record`]s into an empty redb store, in one write transaction: the
//! dumped tables as they come, and every index rebuilt from them as ingest
//! and an advisory load build it.

use redb::ReadableTableMetadata;

use super::{Record, Restored, not_empty, rows_of};
use crate::tables::*;
use crate::write::{head_of, name_index_key};
use crate::{PackageId, RedbStore, Result, StoreError, encode};

impl RedbStore {
    /// Writes `records` (a [`RedbStore::dump`] of any back end) into this
    /// store, which must hold nothing, in one transaction: all of it, or
    /// nothing when a record is refused or the source fails.
    pub fn restore(&self, records: &mut dyn Iterator<Item = Result<Record>>) -> Result<Restored> {
        let txn = self.db.begin_write()?;
        refuse_unless_empty(&txn, &self.path().display().to_string())?;
        let mut restored = Restored::default();
        let mut postings: Vec<(PackageId, u64)> = Vec::new();
        let mut documents = 0u64;
        {
            let mut t = Tables::open(&txn)?;
            for record in records {
                let record = record?;
                restored.count(&record);
                if let Record::Document { record, rows } = &record {
                    documents += 1;
                    let rows = rows_of(record, rows)?;
                    postings.extend(rows.packages.iter().map(|r| (r.id, record.id)));
                    crate::occurrences::count_rows(&mut t.meta, &rows, false)?;
                    for e in rows
                        .edges
                        .iter()
                        .filter(|e| e.record.kinds().any(|k| k.is_lineage()))
                    {
                        t.edges_reverse
                            .insert((rows.id_at(e.to), rows.id_at(e.from), record.id), ())?;
                    }
                }
                t.write(record)?;
            }
            crate::occurrences::add_postings(&mut t.postings, &mut postings)?;
            // Every head changed: the snapshot, if one is made, is stamped anew.
            t.meta.insert(crate::heads::HEADS_VERSION, documents + 1)?;
            // Every record and lookup name is new: a writer that read the
            // empty store before is told so under the lock.
            for counter in [crate::ADVISORIES_VERSION, crate::PACKAGE_KEYS_VERSION] {
                crate::write::next_id(&mut t.meta, counter)?;
            }
        }
        txn.commit()?;
        self.bump();
        Ok(restored)
    }
}

/// Refuses a store that holds anything a copy would write.
fn refuse_unless_empty(txn: &redb::WriteTransaction, location: &str) -> Result<()> {
    fn held<K: redb::Key + 'static, V: redb::Value + 'static>(
        txn: &redb::WriteTransaction,
        def: redb::TableDefinition<K, V>,
    ) -> Result<bool> {
        use redb::TableHandle;
        // Opening a table in a write transaction would make it.
        Ok(crate::has_table(txn, def.name())? && !txn.open_table(def)?.is_empty()?)
    }
    let holds = [
        ("packages", held(txn, PACKAGES)?),
        ("facts", held(txn, FACTS)?),
        ("deployments", held(txn, DEPLOYMENTS)?),
        ("documents", held(txn, DOCUMENTS)?),
        ("advisories", held(txn, ADVISORIES)?),
        ("feed states", held(txn, FEED_STATE)?),
        ("KEV entries", held(txn, KEV)?),
        ("EPSS scores", held(txn, EPSS)?),
        ("enrichment sources", held(txn, ENRICHMENT_SOURCES)?),
        ("policies", held(txn, POLICIES)?),
        ("approvals", held(txn, APPROVALS)?),
        ("releases", held(txn, RELEASES)?),
        ("evidence files", held(txn, EVIDENCE_FILES)?),
        ("observations", held(txn, OBSERVATIONS)?),
        ("events", held(txn, OUTBOX)?),
        ("notification targets", held(txn, NOTIFY_TARGETS)?),
    ];
    match holds.iter().find(|(_, held)| *held) {
        Some((what, _)) => Err(not_empty(location, what)),
        None => Ok(()),
    }
}

/// Every table a restore writes, open for the length of the transaction.
struct Tables<'t> {
    meta: redb::Table<'t, &'static str, u64>,
    packages: redb::Table<'t, u64, &'static [u8]>,
    package_by_key: redb::Table<'t, &'static str, u64>,
    package_by_name: redb::Table<'t, &'static str, u64>,
    facts: redb::Table<'t, u64, &'static [u8]>,
    fact_by_hash: redb::Table<'t, &'static [u8; 16], u64>,
    deployments: redb::Table<'t, &'static str, &'static [u8]>,
    documents: redb::Table<'t, u64, &'static [u8]>,
    document_rows: redb::Table<'t, u64, &'static [u8]>,
    document_by_hash: redb::Table<'t, &'static [u8], u64>,
    deployment_documents: redb::Table<'t, (&'static str, u64), ()>,
    document_heads: redb::Table<'t, u64, &'static [u8]>,
    document_by_serial: redb::Table<'t, (&'static str, u64), ()>,
    postings: redb::Table<'t, (u64, u64), &'static [u8]>,
    edges_reverse: redb::Table<'t, (u64, u64, u64), ()>,
    model_nodes: redb::Table<'t, (&'static str, u64), ()>,
    digests: redb::Table<'t, (&'static str, u64, u64), &'static str>,
    package_keys: redb::Table<'t, (&'static str, u64), &'static [u8]>,
    vex: redb::Table<'t, (&'static str, u64, u32), &'static [u8]>,
    advisories: redb::Table<'t, &'static str, &'static [u8]>,
    advisory_json: redb::Table<'t, &'static str, &'static [u8]>,
    advisory_seen: redb::Table<'t, &'static str, u64>,
    advisory_identifiers: redb::Table<'t, (&'static str, &'static str), ()>,
    advisory_keys: redb::Table<'t, (&'static str, &'static str), ()>,
    matches: redb::Table<'t, (u64, &'static str), &'static [u8]>,
    matches_by_advisory: redb::Table<'t, (&'static str, u64), ()>,
    feed_state: redb::Table<'t, &'static str, &'static [u8]>,
    kev: redb::Table<'t, &'static str, &'static [u8]>,
    epss: redb::Table<'t, &'static str, &'static [u8]>,
    enrichment_sources: redb::Table<'t, &'static str, &'static [u8]>,
    policies: redb::Table<'t, &'static str, &'static [u8]>,
    approvals: redb::Table<'t, (&'static str, &'static str), &'static [u8]>,
    releases: redb::Table<'t, (&'static str, &'static str), &'static [u8]>,
    evidence_files: redb::Table<'t, &'static str, &'static [u8]>,
    observations: redb::Table<'t, (&'static str, u64), &'static [u8]>,
    outbox: redb::Table<'t, u64, &'static [u8]>,
    notify_targets: redb::Table<'t, &'static str, &'static [u8]>,
    notify_cursors: redb::Table<'t, &'static str, u64>,
    deliveries: redb::Table<'t, (&'static str, u64), &'static [u8]>,
    notify_requeue: redb::Table<'t, (&'static str, u64), ()>,
}

impl<'t> Tables<'t> {
    fn open(txn: &'t redb::WriteTransaction) -> Result<Tables<'t>> {
        Ok(Tables {
            meta: txn.open_table(META)?,
            packages: txn.open_table(PACKAGES)?,
            package_by_key: txn.open_table(PACKAGE_BY_KEY)?,
            package_by_name: txn.open_table(PACKAGE_BY_NAME)?,
            facts: txn.open_table(FACTS)?,
            fact_by_hash: txn.open_table(FACT_BY_HASH)?,
            deployments: txn.open_table(DEPLOYMENTS)?,
            documents: txn.open_table(DOCUMENTS)?,
            document_rows: txn.open_table(DOCUMENT_ROWS)?,
            document_by_hash: txn.open_table(DOCUMENT_BY_HASH)?,
            deployment_documents: txn.open_table(DEPLOYMENT_DOCUMENTS)?,
            document_heads: txn.open_table(DOCUMENT_HEADS)?,
            document_by_serial: txn.open_table(DOCUMENT_BY_SERIAL)?,
            postings: txn.open_table(POSTINGS)?,
            edges_reverse: txn.open_table(EDGES_REVERSE)?,
            model_nodes: txn.open_table(MODEL_NODES)?,
            digests: txn.open_table(DIGESTS)?,
            package_keys: txn.open_table(PACKAGE_KEYS)?,
            vex: txn.open_table(VEX_STATEMENTS)?,
            advisories: txn.open_table(ADVISORIES)?,
            advisory_json: txn.open_table(ADVISORY_JSON)?,
            advisory_seen: txn.open_table(ADVISORY_SEEN)?,
            advisory_identifiers: txn.open_table(ADVISORY_IDENTIFIERS)?,
            advisory_keys: txn.open_table(ADVISORY_KEYS)?,
            matches: txn.open_table(MATCHES)?,
            matches_by_advisory: txn.open_table(MATCHES_BY_ADVISORY)?,
            feed_state: txn.open_table(FEED_STATE)?,
            kev: txn.open_table(KEV)?,
            epss: txn.open_table(EPSS)?,
            enrichment_sources: txn.open_table(ENRICHMENT_SOURCES)?,
            policies: txn.open_table(POLICIES)?,
            approvals: txn.open_table(APPROVALS)?,
            releases: txn.open_table(RELEASES)?,
            evidence_files: txn.open_table(EVIDENCE_FILES)?,
            observations: txn.open_table(OBSERVATIONS)?,
            outbox: txn.open_table(OUTBOX)?,
            notify_targets: txn.open_table(NOTIFY_TARGETS)?,
            notify_cursors: txn.open_table(NOTIFY_CURSORS)?,
            deliveries: txn.open_table(DELIVERIES)?,
            notify_requeue: txn.open_table(NOTIFY_REQUEUE)?,
        })
    }

    /// One record, and the index entries ingest would make for it.
    fn write(&mut self, record: Record) -> Result<()> {
        let mut buf = Vec::new();
        match record {
            Record::Counters {
                document,
                package,
                fact,
                event,
            } => {
                for (key, value) in [
                    ("next_document_id", document),
                    ("next_package_id", package),
                    ("next_fact_id", fact),
                    ("next_event_seq", event),
                ] {
                    self.meta.insert(key, value)?;
                }
            }
            Record::Package(p) => {
                encode(&p, &mut buf);
                self.packages.insert(p.id, buf.as_slice())?;
                self.package_by_key.insert(p.key.as_str(), p.id)?;
                self.package_by_name
                    .insert(name_index_key(&p).as_str(), p.id)?;
            }
            Record::Fact { id, hash, body } => {
                self.facts.insert(id, body.as_slice())?;
                self.fact_by_hash.insert(&hash, id)?;
            }
            Record::Deployment(d) => {
                encode(&d, &mut buf);
                self.deployments.insert(d.name.as_str(), buf.as_slice())?;
            }
            Record::Document { record, rows } => {
                let id = record.id;
                let mut hash_key = crate::unhex(&record.sha256);
                if hash_key.len() != 32 {
                    return Err(StoreError::Corrupt {
                        table: "documents",
                        key: id.to_string(),
                        message: format!("sha256 {:?} is not 64 hex digits", record.sha256),
                    });
                }
                hash_key.extend_from_slice(record.deployment.as_bytes());
                self.document_by_hash.insert(hash_key.as_slice(), id)?;
                self.deployment_documents
                    .insert((record.deployment.as_str(), id), ())?;
                if let Some(serial) = record.serial.as_deref().filter(|s| !s.trim().is_empty()) {
                    self.document_by_serial
                        .insert((aibomdb_graph::normalise_serial(serial).as_str(), id), ())?;
                }
                encode(&head_of(&record), &mut buf);
                self.document_heads.insert(id, buf.as_slice())?;
                buf.clear();
                encode(&record, &mut buf);
                self.documents.insert(id, buf.as_slice())?;
                self.document_rows.insert(id, rows.as_slice())?;
            }
            Record::ModelNode { node, package } => {
                self.model_nodes.insert((node.as_str(), package), ())?;
            }
            Record::Digest {
                sha256,
                package,
                document,
                path,
            } => {
                self.digests
                    .insert((sha256.as_str(), package, document), path.as_str())?;
            }
            Record::LookupNames {
                key,
                package,
                names,
            } => {
                self.package_keys
                    .insert((key.as_str(), package), names.as_slice())?;
            }
            Record::Vex {
                identifier,
                document,
                index,
                statement,
            } => {
                self.vex
                    .insert((identifier.as_str(), document, index), statement.as_slice())?;
            }
            Record::Advisory { row, json, seen } => {
                let id = row.id.as_str();
                encode(&row, &mut buf);
                self.advisories.insert(id, buf.as_slice())?;
                self.advisory_json.insert(id, json.as_slice())?;
                if let Some(at) = seen {
                    self.advisory_seen.insert(id, at)?;
                }
                for i in &row.identifiers {
                    self.advisory_identifiers.insert((i.as_str(), id), ())?;
                }
                for k in &row.keys {
                    self.advisory_keys.insert((k.as_str(), id), ())?;
                }
            }
            Record::Match {
                package,
                advisory,
                record,
            } => {
                self.matches
                    .insert((package, advisory.as_str()), record.as_slice())?;
                self.matches_by_advisory
                    .insert((advisory.as_str(), package), ())?;
            }
            Record::FeedState { key, state } => {
                self.feed_state.insert(key.as_str(), state.as_slice())?;
            }
            Record::Kev { cve, entry } => {
                self.kev.insert(cve.as_str(), entry.as_slice())?;
            }
            Record::Epss { cve, score } => {
                self.epss.insert(cve.as_str(), score.as_slice())?;
            }
            Record::EnrichmentSource { name, source } => {
                self.enrichment_sources
                    .insert(name.as_str(), source.as_slice())?;
            }
            Record::Policy { name, policy } => {
                self.policies.insert(name.as_str(), policy.as_slice())?;
            }
            Record::Approval {
                model_purl,
                sha256,
                approval,
            } => {
                self.approvals
                    .insert((model_purl.as_str(), sha256.as_str()), approval.as_slice())?;
            }
            Record::Release {
                deployment,
                name,
                release,
            } => {
                self.releases
                    .insert((deployment.as_str(), name.as_str()), release.as_slice())?;
            }
            Record::EvidenceFile { sha256, body } => {
                self.evidence_files
                    .insert(sha256.as_str(), body.as_slice())?;
            }
            Record::Observation {
                deployment,
                sequence,
                observation,
            } => {
                self.observations
                    .insert((deployment.as_str(), sequence), observation.as_slice())?;
            }
            Record::Event { seq, event } => {
                self.outbox.insert(seq, event.as_slice())?;
            }
            Record::NotifyTarget { name, target } => {
                self.notify_targets
                    .insert(name.as_str(), target.as_slice())?;
            }
            Record::NotifyCursor { target, seq } => {
                self.notify_cursors.insert(target.as_str(), seq)?;
            }
            Record::Delivery {
                target,
                event,
                delivery,
            } => {
                self.deliveries
                    .insert((target.as_str(), event), delivery.as_slice())?;
            }
            Record::Requeue { target, event } => {
                self.notify_requeue.insert((target.as_str(), event), ())?;
            }
        }
        Ok(())
    }
}
