//! `aibomdb copy` on PostgreSQL: the database's primary content as
//! [`Record`]s, read from one REPEATABLE READ snapshot in the order the redb
//! store dumps it (so that two dumps of the same content are equal), and
//! records restored into an empty database in one transaction with binary
//! `COPY`, rebuilding `occurrences`, `lineage_edges` and the advisory
//! identifier and key tables from them as ingest and a load do.

use std::collections::{BTreeSet, HashMap};

use aibomdb_store::copy::{Record, Restored};
use aibomdb_store::{StoreError, kit};
use tokio_postgres::Transaction;
use tokio_postgres::types::{ToSql, Type};

use crate::store::{Pg, PgStore, Result};
use crate::txn::{begin, copy_in, lock_writers};

/// Rows fetched per round trip while dumping, and written per `COPY`
/// while restoring: bounded memory whatever the store's size.
const BATCH: usize = 5_000;

type Row = tokio_postgres::Row;

/// Every row of `sql`, a batch at a time.
async fn each(
    txn: &Transaction<'_>,
    sql: &str,
    mut each: impl FnMut(&Row) -> Result<()>,
) -> Result<()> {
    let portal = txn.bind(sql, &[]).await.pg()?;
    loop {
        let rows = txn.query_portal(&portal, BATCH as i32).await.pg()?;
        for row in &rows {
            each(row)?;
        }
        if rows.len() < BATCH {
            return Ok(());
        }
    }
}

fn u(row: &Row, column: usize) -> u64 {
    row.get::<_, i64>(column) as u64
}

fn text(row: &Row, column: usize) -> String {
    row.get(column)
}

fn bytes(row: &Row, column: usize) -> Vec<u8> {
    row.get(column)
}

impl PgStore {
    /// See [`aibomdb_store::Backend::dump`].
    pub(crate) fn dump_records(&self, sink: &mut dyn FnMut(Record) -> Result<()>) -> Result<()> {
        // The writer's connection: a snapshot transaction on the shared
        // read connection would hold up every other reader's statements.
        let mut client = self.writer()?;
        self.block_on(async {
            let txn = client
                .build_transaction()
                .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .await
                .pg()?;
            dump(&txn, sink).await?;
            txn.commit().await.pg()
        })
    }

    /// See [`aibomdb_store::Backend::restore`].
    pub(crate) fn restore_records(
        &self,
        records: &mut dyn Iterator<Item = Result<Record>>,
    ) -> Result<Restored> {
        let location = self.db.location().to_string();
        let mut client = self.writer()?;
        let (restored, generation) = self.block_on(async {
            let txn = begin(&mut client).await?;
            lock_writers(&txn).await?;
            refuse_unless_empty(&txn, &location).await?;
            let (restored, occurrences) = restore(&txn, records).await?;
            // Every record and lookup name is new: a writer that read the
            // empty store before is told so under the lock.
            for counter in [
                aibomdb_store::ADVISORIES_VERSION,
                aibomdb_store::PACKAGE_KEYS_VERSION,
            ] {
                crate::txn::raise_counter(&txn, counter).await?;
            }
            let generation = crate::advisories::bump_generation(&txn).await?;
            txn.commit().await.pg()?;
            Ok::<_, StoreError>(((restored, occurrences), generation))
        })?;
        drop(client);
        self.committed(Some(generation));
        let (restored, occurrences) = restored;
        // A bulk write: the next `persist_heads` refreshes the statistics.
        self.written_since_analyze
            .fetch_add(occurrences, std::sync::atomic::Ordering::AcqRel);
        Ok(restored)
    }
}

/// A table keyed by one text and holding one value.
async fn pair(
    txn: &Transaction<'_>,
    sink: &mut dyn FnMut(Record) -> Result<()>,
    sql: &str,
    make: fn(String, Vec<u8>) -> Record,
) -> Result<()> {
    each(txn, sql, |r| sink(make(text(r, 0), bytes(r, 1)))).await
}

async fn dump(txn: &Transaction<'_>, sink: &mut dyn FnMut(Record) -> Result<()>) -> Result<()> {
    let mut meta = HashMap::new();
    each(txn, "SELECT key, value FROM meta", |r| {
        meta.insert(text(r, 0), u(r, 1));
        Ok(())
    })
    .await?;
    let counter = |key: &str| meta.get(key).copied().unwrap_or(1);
    sink(Record::Counters {
        document: counter("next_document_id"),
        package: counter("next_package_id"),
        fact: counter("next_fact_id"),
        event: counter("next_event_seq"),
    })?;
    each(txn, "SELECT id, record FROM packages ORDER BY id", |r| {
        let record = kit::decode(r.get(1), "packages", &u(r, 0).to_string())?;
        sink(Record::Package(record))
    })
    .await?;
    each(txn, "SELECT id, hash, body FROM facts ORDER BY id", |r| {
        let id = u(r, 0);
        let hash = <[u8; 16]>::try_from(r.get::<_, &[u8]>(1)).map_err(|_| StoreError::Corrupt {
            table: "facts",
            key: id.to_string(),
            message: "a hash that is not 16 bytes".into(),
        })?;
        sink(Record::Fact {
            id,
            hash,
            body: bytes(r, 2),
        })
    })
    .await?;
    each(
        txn,
        "SELECT name, record FROM deployments ORDER BY name",
        |r| {
            let name = text(r, 0);
            sink(Record::Deployment(kit::decode(
                r.get(1),
                "deployments",
                &name,
            )?))
        },
    )
    .await?;
    each(
        txn,
        "SELECT id, record, rows FROM documents ORDER BY id",
        |r| {
            let record = kit::decode(r.get(1), "documents", &u(r, 0).to_string())?;
            sink(Record::Document {
                record,
                rows: bytes(r, 2),
            })
        },
    )
    .await?;
    each(
        txn,
        "SELECT node, package_id FROM model_nodes ORDER BY node, package_id",
        |r| {
            sink(Record::ModelNode {
                node: text(r, 0),
                package: u(r, 1),
            })
        },
    )
    .await?;
    each(
        txn,
        "SELECT sha256, package_id, document_id, path FROM digests \
         ORDER BY sha256, package_id, document_id",
        |r| {
            sink(Record::Digest {
                sha256: text(r, 0),
                package: u(r, 1),
                document: u(r, 2),
                path: text(r, 3),
            })
        },
    )
    .await?;
    each(
        txn,
        "SELECT lookup_key, package_id, names FROM package_keys ORDER BY lookup_key, package_id",
        |r| {
            sink(Record::LookupNames {
                key: text(r, 0),
                package: u(r, 1),
                names: bytes(r, 2),
            })
        },
    )
    .await?;
    each(
        txn,
        "SELECT identifier, document_id, idx, statement FROM vex_statements \
         ORDER BY identifier, document_id, idx",
        |r| {
            sink(Record::Vex {
                identifier: text(r, 0),
                document: u(r, 1),
                index: r.get::<_, i32>(2) as u32,
                statement: bytes(r, 3),
            })
        },
    )
    .await?;
    each(
        txn,
        "SELECT id, record, json, seen_at FROM advisories ORDER BY id",
        |r| {
            let id = text(r, 0);
            sink(Record::Advisory {
                row: kit::decode(r.get(1), "advisories", &id)?,
                json: bytes(r, 2),
                seen: r.get::<_, Option<i64>>(3).map(|v| v as u64),
            })
        },
    )
    .await?;
    each(
        txn,
        "SELECT package_id, advisory_id, record FROM matches ORDER BY package_id, advisory_id",
        |r| {
            sink(Record::Match {
                package: u(r, 0),
                advisory: text(r, 1),
                record: bytes(r, 2),
            })
        },
    )
    .await?;
    each(txn, "SELECT key, state FROM feed_state ORDER BY key", |r| {
        let key = String::from_utf8(bytes(r, 0)).map_err(|e| StoreError::Corrupt {
            table: "feed_state",
            key: String::from_utf8_lossy(e.as_bytes()).into_owned(),
            message: "a key that is not UTF-8".into(),
        })?;
        sink(Record::FeedState {
            key,
            state: bytes(r, 1),
        })
    })
    .await?;
    pair(
        txn,
        sink,
        "SELECT cve, entry FROM kev ORDER BY cve",
        |cve, entry| Record::Kev { cve, entry },
    )
    .await?;
    pair(
        txn,
        sink,
        "SELECT cve, score FROM epss ORDER BY cve",
        |cve, score| Record::Epss { cve, score },
    )
    .await?;
    pair(
        txn,
        sink,
        "SELECT name, source FROM enrichment_sources ORDER BY name",
        |name, source| Record::EnrichmentSource { name, source },
    )
    .await?;
    pair(
        txn,
        sink,
        "SELECT name, policy FROM policies ORDER BY name",
        |name, policy| Record::Policy { name, policy },
    )
    .await?;
    each(
        txn,
        "SELECT model_purl, sha256, approval FROM approvals ORDER BY model_purl, sha256",
        |r| {
            sink(Record::Approval {
                model_purl: text(r, 0),
                sha256: text(r, 1),
                approval: bytes(r, 2),
            })
        },
    )
    .await?;
    each(
        txn,
        "SELECT deployment, name, release FROM releases ORDER BY deployment, name",
        |r| {
            sink(Record::Release {
                deployment: text(r, 0),
                name: text(r, 1),
                release: bytes(r, 2),
            })
        },
    )
    .await?;
    pair(
        txn,
        sink,
        "SELECT sha256, body FROM evidence_files ORDER BY sha256",
        |sha256, body| Record::EvidenceFile { sha256, body },
    )
    .await?;
    each(
        txn,
        "SELECT deployment, seq, observation FROM observations ORDER BY deployment, seq",
        |r| {
            sink(Record::Observation {
                deployment: text(r, 0),
                sequence: u(r, 1),
                observation: bytes(r, 2),
            })
        },
    )
    .await?;
    each(txn, "SELECT seq, event FROM outbox ORDER BY seq", |r| {
        sink(Record::Event {
            seq: u(r, 0),
            event: bytes(r, 1),
        })
    })
    .await?;
    pair(
        txn,
        sink,
        "SELECT name, target FROM notify_targets ORDER BY name",
        |name, target| Record::NotifyTarget { name, target },
    )
    .await?;
    each(
        txn,
        "SELECT target, seq FROM notify_cursors ORDER BY target",
        |r| {
            sink(Record::NotifyCursor {
                target: text(r, 0),
                seq: u(r, 1),
            })
        },
    )
    .await?;
    each(
        txn,
        "SELECT target, event, delivery FROM deliveries ORDER BY target, event",
        |r| {
            sink(Record::Delivery {
                target: text(r, 0),
                event: u(r, 1),
                delivery: bytes(r, 2),
            })
        },
    )
    .await?;
    each(
        txn,
        "SELECT target, event FROM notify_requeue ORDER BY target, event",
        |r| {
            sink(Record::Requeue {
                target: text(r, 0),
                event: u(r, 1),
            })
        },
    )
    .await
}

/// Refuses a database that holds anything a copy would write.
async fn refuse_unless_empty(txn: &Transaction<'_>, location: &str) -> Result<()> {
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
async fn restore(
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
