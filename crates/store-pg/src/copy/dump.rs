//! The database's primary content as records, read from one snapshot in
//! the order the redb store dumps it.

use std::collections::HashMap;

use aibomdb_store::copy::Record;
use aibomdb_store::{StoreError, kit};
use tokio_postgres::Transaction;

use super::BATCH;
use crate::store::{Pg, Result};

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

/// A table keyed by one text and holding one value.
async fn pair(
    txn: &Transaction<'_>,
    sink: &mut dyn FnMut(Record) -> Result<()>,
    sql: &str,
    make: fn(String, Vec<u8>) -> Record,
) -> Result<()> {
    each(txn, sql, |r| sink(make(text(r, 0), bytes(r, 1)))).await
}

pub(super) async fn dump(
    txn: &Transaction<'_>,
    sink: &mut dyn FnMut(Record) -> Result<()>,
) -> Result<()> {
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
