//! Records written into an empty database in one transaction with binary
//! `COPY`, and what ingest and a load derive from them rebuilt.

use std::collections::{BTreeSet, HashMap};

use aibomdb_store::copy::{Record, Restored};
use aibomdb_store::{StoreError, kit};
use tokio_postgres::Transaction;
use tokio_postgres::types::{ToSql, Type};

use super::BATCH;
use crate::store::{Pg, Result};
use crate::txn::copy_in;

/// Refuses a database that holds anything a copy would write.
pub(super) async fn refuse_unless_empty(txn: &Transaction<'_>, location: &str) -> Result<()> {
    for (table, what) in [
        ("packages", "packages"),
        ("facts", "facts"),
        ("deployments", "deployments"),
        ("documents", "documents"),
        ("advisories", "advisories"),
        ("feed_state", "feed states"),
        ("kev", "KEV entries"),
        ("epss", "EPSS scores"),
        ("enrichment_sources", "enrichment sources"),
        ("policies", "policies"),
        ("approvals", "approvals"),
        ("releases", "releases"),
        ("evidence_files", "evidence files"),
        ("observations", "observations"),
        ("outbox", "events"),
        ("notify_targets", "notification targets"),
    ] {
        let held: bool = txn
            .query_one(&format!("SELECT EXISTS (SELECT 1 FROM {table})"), &[])
            .await
            .pg()?
            .get(0);
        if held {
            return Err(aibomdb_store::copy::not_empty(location, what));
        }
    }
    Ok(())
}

type Value = Box<dyn ToSql + Sync + Send>;

/// Rows waiting for their `COPY`.
struct Pending {
    sql: &'static str,
    types: &'static [Type],
    rows: Vec<Vec<Value>>,
}

impl Pending {
    fn new(sql: &'static str, types: &'static [Type]) -> Pending {
        Pending {
            sql,
            types,
            rows: Vec::new(),
        }
    }

    async fn flush(&mut self, txn: &Transaction<'_>) -> Result<()> {
        if !self.rows.is_empty() {
            copy_in(txn, self.sql, self.types, self.rows.drain(..)).await?;
        }
        Ok(())
    }

    /// Adds a row, writing the batch once it is full.
    async fn push(&mut self, txn: &Transaction<'_>, row: Vec<Value>) -> Result<()> {
        self.rows.push(row);
        if self.rows.len() >= BATCH {
            self.flush(txn).await?;
        }
        Ok(())
    }
}

/// The tables a restore fills besides the dumped ones.
struct Derived {
    occurrences: Pending,
    lineage: Pending,
    identifiers: Pending,
    keys: Pending,
}

const T2: &[Type] = &[Type::TEXT, Type::TEXT];
const I3: &[Type] = &[Type::INT8, Type::INT8, Type::INT8];

/// Writes `records`; what it wrote, and how many occurrence rows.
pub(super) async fn restore(
    txn: &Transaction<'_>,
    records: &mut dyn Iterator<Item = Result<Record>>,
) -> Result<(Restored, u64)> {
    let mut restored = Restored::default();
    let mut derived = Derived {
        occurrences: Pending::new(
            "COPY occurrences (deployment_id, document_id, package_id) FROM STDIN BINARY",
            &[Type::INT4, Type::INT8, Type::INT8],
        ),
        lineage: Pending::new(
            "COPY lineage_edges (to_package, from_package, document_id) FROM STDIN BINARY",
            I3,
        ),
        identifiers: Pending::new(
            "COPY advisory_identifiers (identifier, advisory_id) FROM STDIN BINARY",
            T2,
        ),
        keys: Pending::new(
            "COPY advisory_keys (lookup_key, advisory_id) FROM STDIN BINARY",
            T2,
        ),
    };
    let mut deployment_ids: HashMap<String, i32> = HashMap::new();
    let (mut occurrence_rows, mut edge_rows) = (0i64, 0i64);
    let mut counters = None;
    let mut pending: Option<Pending> = None;
    for record in records {
        let record = record?;
        restored.count(&record);
        let (sql, types, row): (&'static str, &'static [Type], Vec<Value>) = match record {
            Record::Counters {
                document,
                package,
                fact,
                event,
            } => {
                counters = Some([document, package, fact, event]);
                continue;
            }
            Record::Package(p) => (
                "COPY packages (id, key, name_folded, ecosystem, namespace, version, record) \
                 FROM STDIN BINARY",
                &[
                    Type::INT8,
                    Type::TEXT,
                    Type::TEXT,
                    Type::TEXT,
                    Type::TEXT,
                    Type::TEXT,
                    Type::BYTEA,
                ],
                vec![
                    Box::new(p.id as i64),
                    Box::new(p.key.clone()),
                    Box::new(p.name.to_lowercase()),
                    Box::new(p.ecosystem.clone()),
                    Box::new(p.namespace.clone().unwrap_or_default()),
                    Box::new(p.version.clone().unwrap_or_default()),
                    Box::new(kit::encode(&p)),
                ],
            ),
            Record::Fact { id, hash, body } => (
                "COPY facts (id, hash, body) FROM STDIN BINARY",
                &[Type::INT8, Type::BYTEA, Type::BYTEA],
                vec![Box::new(id as i64), Box::new(hash.to_vec()), Box::new(body)],
            ),
            Record::Deployment(d) => {
                let id = deployment_ids.len() as i32 + 1;
                deployment_ids.insert(d.name.clone(), id);
                (
                    "COPY deployments (id, name, record) FROM STDIN BINARY",
                    &[Type::INT4, Type::TEXT, Type::BYTEA],
                    vec![
                        Box::new(id),
                        Box::new(d.name.clone()),
                        Box::new(kit::encode(&d)),
                    ],
                )
            }
            Record::Document { record, rows } => {
                let deployment =
                    *deployment_ids
                        .get(&record.deployment)
                        .ok_or_else(|| StoreError::Corrupt {
                            table: "documents",
                            key: record.id.to_string(),
                            message: format!(
                                "deployment {:?} is not in the copy",
                                record.deployment
                            ),
                        })?;
                let doc_rows = kit::decode_rows(&rows, record.id)?;
                let document = record.id as i64;
                for row in &doc_rows.packages {
                    derived
                        .occurrences
                        .push(
                            txn,
                            vec![
                                Box::new(deployment),
                                Box::new(document),
                                Box::new(row.id as i64),
                            ],
                        )
                        .await?;
                }
                let lineage: BTreeSet<(i64, i64)> = doc_rows
                    .edges
                    .iter()
                    .filter(|e| e.record.kinds().any(|k| k.is_lineage()))
                    .map(|e| (doc_rows.id_at(e.to) as i64, doc_rows.id_at(e.from) as i64))
                    .collect();
                for (to, from) in lineage {
                    derived
                        .lineage
                        .push(txn, vec![Box::new(to), Box::new(from), Box::new(document)])
                        .await?;
                }
                occurrence_rows += doc_rows.packages.len() as i64;
                edge_rows += doc_rows.edges.len() as i64;
                let serial = record
                    .serial
                    .as_deref()
                    .filter(|s| !s.trim().is_empty())
                    .map(aibomdb_graph::normalise_serial);
                let sha = kit::unhex(&record.sha256);
                if sha.len() != 32 {
                    return Err(StoreError::Corrupt {
                        table: "documents",
                        key: record.id.to_string(),
                        message: format!("sha256 {:?} is not 64 hex digits", record.sha256),
                    });
                }
                (
                    "COPY documents (id, deployment_id, current, subject_package, source_path, \
                     sha256, serial_norm, record, rows) FROM STDIN BINARY",
                    &[
                        Type::INT8,
                        Type::INT4,
                        Type::BOOL,
                        Type::INT8,
                        Type::TEXT,
                        Type::BYTEA,
                        Type::TEXT,
                        Type::BYTEA,
                        Type::BYTEA,
                    ],
                    vec![
                        Box::new(document),
                        Box::new(deployment),
                        Box::new(record.is_current()),
                        Box::new(record.subject_package.map(|p| p as i64)),
                        Box::new(record.source_path.clone()),
                        Box::new(sha),
                        Box::new(serial),
                        Box::new(kit::encode(&*record)),
                        Box::new(rows),
                    ],
                )
            }
            Record::ModelNode { node, package } => (
                "COPY model_nodes (node, package_id) FROM STDIN BINARY",
                &[Type::TEXT, Type::INT8],
                vec![Box::new(node), Box::new(package as i64)],
            ),
            Record::Digest {
                sha256,
                package,
                document,
                path,
            } => (
                "COPY digests (sha256, package_id, document_id, path) FROM STDIN BINARY",
                &[Type::TEXT, Type::INT8, Type::INT8, Type::TEXT],
                vec![
                    Box::new(sha256),
                    Box::new(package as i64),
                    Box::new(document as i64),
                    Box::new(path),
                ],
            ),
            Record::LookupNames {
                key,
                package,
                names,
            } => (
                "COPY package_keys (lookup_key, package_id, names) FROM STDIN BINARY",
                &[Type::TEXT, Type::INT8, Type::BYTEA],
                vec![Box::new(key), Box::new(package as i64), Box::new(names)],
            ),
            Record::Vex {
                identifier,
                document,
                index,
                statement,
            } => (
                "COPY vex_statements (identifier, document_id, idx, statement) FROM STDIN BINARY",
                &[Type::TEXT, Type::INT8, Type::INT4, Type::BYTEA],
                vec![
                    Box::new(identifier),
                    Box::new(document as i64),
                    Box::new(index as i32),
                    Box::new(statement),
                ],
            ),
            Record::Advisory { row, json, seen } => {
                let identifiers: BTreeSet<&String> = row.identifiers.iter().collect();
                for i in identifiers {
                    derived
                        .identifiers
                        .push(txn, vec![Box::new(i.clone()), Box::new(row.id.clone())])
                        .await?;
                }
                let keys: BTreeSet<&String> = row.keys.iter().collect();
                for k in keys {
                    derived
                        .keys
                        .push(txn, vec![Box::new(k.clone()), Box::new(row.id.clone())])
                        .await?;
                }
                (
                    "COPY advisories (id, record, json, seen_at) FROM STDIN BINARY",
                    &[Type::TEXT, Type::BYTEA, Type::BYTEA, Type::INT8],
                    vec![
                        Box::new(row.id.clone()),
                        Box::new(kit::encode(&row)),
                        Box::new(json),
                        Box::new(seen.map(|s| s as i64)),
                    ],
                )
            }
            Record::Match {
                package,
                advisory,
                record,
            } => (
                "COPY matches (package_id, advisory_id, record) FROM STDIN BINARY",
                &[Type::INT8, Type::TEXT, Type::BYTEA],
                vec![
                    Box::new(package as i64),
                    Box::new(advisory),
                    Box::new(record),
                ],
            ),
            Record::FeedState { key, state } => (
                "COPY feed_state (key, state) FROM STDIN BINARY",
                &[Type::BYTEA, Type::BYTEA],
                vec![Box::new(key.into_bytes()), Box::new(state)],
            ),
            Record::Kev { cve, entry } => (
                "COPY kev (cve, entry) FROM STDIN BINARY",
                TEXT_BYTEA,
                vec![Box::new(cve), Box::new(entry)],
            ),
            Record::Epss { cve, score } => (
                "COPY epss (cve, score) FROM STDIN BINARY",
                TEXT_BYTEA,
                vec![Box::new(cve), Box::new(score)],
            ),
            Record::EnrichmentSource { name, source } => (
                "COPY enrichment_sources (name, source) FROM STDIN BINARY",
                TEXT_BYTEA,
                vec![Box::new(name), Box::new(source)],
            ),
            Record::Policy { name, policy } => (
                "COPY policies (name, policy) FROM STDIN BINARY",
                TEXT_BYTEA,
                vec![Box::new(name), Box::new(policy)],
            ),
            Record::Approval {
                model_purl,
                sha256,
                approval,
            } => (
                "COPY approvals (model_purl, sha256, approval) FROM STDIN BINARY",
                TEXT_TEXT_BYTEA,
                vec![Box::new(model_purl), Box::new(sha256), Box::new(approval)],
            ),
            Record::Release {
                deployment,
                name,
                release,
            } => (
                "COPY releases (deployment, name, release) FROM STDIN BINARY",
                TEXT_TEXT_BYTEA,
                vec![Box::new(deployment), Box::new(name), Box::new(release)],
            ),
            Record::EvidenceFile { sha256, body } => (
                "COPY evidence_files (sha256, body) FROM STDIN BINARY",
                TEXT_BYTEA,
                vec![Box::new(sha256), Box::new(body)],
            ),
            Record::Observation {
                deployment,
                sequence,
                observation,
            } => (
                "COPY observations (deployment, seq, observation) FROM STDIN BINARY",
                TEXT_INT8_BYTEA,
                vec![
                    Box::new(deployment),
                    Box::new(sequence as i64),
                    Box::new(observation),
                ],
            ),
            Record::Event { seq, event } => (
                "COPY outbox (seq, event) FROM STDIN BINARY",
                &[Type::INT8, Type::BYTEA],
                vec![Box::new(seq as i64), Box::new(event)],
            ),
            Record::NotifyTarget { name, target } => (
                "COPY notify_targets (name, target) FROM STDIN BINARY",
                TEXT_BYTEA,
                vec![Box::new(name), Box::new(target)],
            ),
            Record::NotifyCursor { target, seq } => (
                "COPY notify_cursors (target, seq) FROM STDIN BINARY",
                &[Type::TEXT, Type::INT8],
                vec![Box::new(target), Box::new(seq as i64)],
            ),
            Record::Delivery {
                target,
                event,
                delivery,
            } => (
                "COPY deliveries (target, event, delivery) FROM STDIN BINARY",
                TEXT_INT8_BYTEA,
                vec![Box::new(target), Box::new(event as i64), Box::new(delivery)],
            ),
            Record::Requeue { target, event } => (
                "COPY notify_requeue (target, event) FROM STDIN BINARY",
                &[Type::TEXT, Type::INT8],
                vec![Box::new(target), Box::new(event as i64)],
            ),
        };
        // Records of one table come together: a new table ends the batch.
        match pending.as_mut() {
            Some(p) if p.sql == sql => p.push(txn, row).await?,
            _ => {
                if let Some(mut done) = pending.take() {
                    done.flush(txn).await?;
                }
                let mut fresh = Pending::new(sql, types);
                fresh.push(txn, row).await?;
                pending = Some(fresh);
            }
        }
    }
    if let Some(mut done) = pending {
        done.flush(txn).await?;
    }
    for p in [
        &mut derived.occurrences,
        &mut derived.lineage,
        &mut derived.identifiers,
        &mut derived.keys,
    ] {
        p.flush(txn).await?;
    }
    let [document, package, fact, event] = counters.ok_or_else(|| {
        StoreError::Backend("the copy's source sent no counters: nothing was written".into())
    })?;
    txn.execute(
        "UPDATE meta SET value = u.value FROM unnest($1::text[], $2::int8[]) u(key, value) \
         WHERE meta.key = u.key",
        &[
            &vec![
                "next_document_id",
                "next_package_id",
                "next_fact_id",
                "next_event_seq",
                "occurrence_rows",
                "edge_rows",
            ],
            &vec![
                document as i64,
                package as i64,
                fact as i64,
                event as i64,
                occurrence_rows,
                edge_rows,
            ],
        ],
    )
    .await
    .pg()?;
    // Deployments were given their ids here: later ones follow them.
    txn.execute(
        "SELECT setval(pg_get_serial_sequence('deployments', 'id'), \
         greatest((SELECT max(id) FROM deployments), 1), \
         (SELECT max(id) FROM deployments) IS NOT NULL)",
        &[],
    )
    .await
    .pg()?;
    Ok((restored, occurrence_rows as u64))
}

const TEXT_BYTEA: &[Type] = &[Type::TEXT, Type::BYTEA];
const TEXT_TEXT_BYTEA: &[Type] = &[Type::TEXT, Type::TEXT, Type::BYTEA];
const TEXT_INT8_BYTEA: &[Type] = &[Type::TEXT, Type::INT8, Type::BYTEA];
