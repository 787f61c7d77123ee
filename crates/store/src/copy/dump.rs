//! The redb store's primary content as [`Record`]s, from one read
//! transaction, in the order a restore needs (what is referred to before
//! what refers to it).

use redb::{ReadableDatabase, ReadableTable};

use super::Record;
use crate::tables::*;
use crate::{RedbStore, Result, decode};

/// Calls `each` with every entry of `table`; a table this store never
/// made (added by a later version) has none.
fn each<K: redb::Key + 'static, V: redb::Value + 'static>(
    txn: &redb::ReadTransaction,
    table: redb::TableDefinition<K, V>,
    mut each: impl FnMut(K::SelfType<'_>, V::SelfType<'_>) -> Result<()>,
) -> Result<()> {
    let Some(table) = crate::read_table(txn, table)? else {
        return Ok(());
    };
    for entry in table.iter()? {
        let (k, v) = entry?;
        each(k.value(), v.value())?;
    }
    Ok(())
}

impl RedbStore {
    /// Sends this store's content to `sink`, one [`Record`] at a time, as of
    /// one snapshot: writes that commit meanwhile are not in it.
    pub fn dump(&self, sink: &mut dyn FnMut(Record) -> Result<()>) -> Result<()> {
        let txn = self.db.begin_read()?;
        let mut counters = [1u64; 4];
        if let Some(meta) = crate::read_table(&txn, META)? {
            for (slot, key) in [
                "next_document_id",
                "next_package_id",
                "next_fact_id",
                "next_event_seq",
            ]
            .iter()
            .enumerate()
            {
                if let Some(v) = meta.get(*key)? {
                    counters[slot] = v.value();
                }
            }
        }
        let [document, package, fact, event] = counters;
        sink(Record::Counters {
            document,
            package,
            fact,
            event,
        })?;
        each(&txn, PACKAGES, |id, v| {
            sink(Record::Package(decode(v, "packages", &id.to_string())?))
        })?;
        // Facts by id with their hashes: the hash index read once, inverted.
        let mut hashes = rustc_hash::FxHashMap::default();
        each(&txn, FACT_BY_HASH, |hash, id| {
            hashes.insert(id, *hash);
            Ok(())
        })?;
        each(&txn, FACTS, |id, body| {
            let hash = hashes
                .remove(&id)
                .ok_or_else(|| crate::StoreError::Corrupt {
                    table: "fact_by_hash",
                    key: id.to_string(),
                    message: "a fact without its hash".into(),
                })?;
            sink(Record::Fact {
                id,
                hash,
                body: body.to_vec(),
            })
        })?;
        drop(hashes);
        each(&txn, DEPLOYMENTS, |name, v| {
            sink(Record::Deployment(decode(v, "deployments", name)?))
        })?;
        let rows = crate::read_table(&txn, DOCUMENT_ROWS)?;
        each(&txn, DOCUMENTS, |id, v| {
            let record = Box::new(decode(v, "documents", &id.to_string())?);
            let rows = rows
                .as_ref()
                .map(|t| t.get(id))
                .transpose()?
                .flatten()
                .ok_or_else(|| crate::StoreError::Corrupt {
                    table: "document_rows",
                    key: id.to_string(),
                    message: "a document without its rows".into(),
                })?
                .value()
                .to_vec();
            sink(Record::Document { record, rows })
        })?;
        each(&txn, MODEL_NODES, |(node, package), ()| {
            sink(Record::ModelNode {
                node: node.to_string(),
                package,
            })
        })?;
        each(&txn, DIGESTS, |(sha256, package, document), path| {
            sink(Record::Digest {
                sha256: sha256.to_string(),
                package,
                document,
                path: path.to_string(),
            })
        })?;
        each(&txn, PACKAGE_KEYS, |(key, package), names| {
            sink(Record::LookupNames {
                key: key.to_string(),
                package,
                names: names.to_vec(),
            })
        })?;
        each(
            &txn,
            VEX_STATEMENTS,
            |(identifier, document, index), statement| {
                sink(Record::Vex {
                    identifier: identifier.to_string(),
                    document,
                    index,
                    statement: statement.to_vec(),
                })
            },
        )?;
        let json = crate::read_table(&txn, ADVISORY_JSON)?;
        let seen = crate::read_table(&txn, ADVISORY_SEEN)?;
        each(&txn, ADVISORIES, |id, v| {
            let json = json
                .as_ref()
                .map(|t| t.get(id))
                .transpose()?
                .flatten()
                .ok_or_else(|| crate::StoreError::Corrupt {
                    table: "advisory_json",
                    key: id.to_string(),
                    message: "an advisory without its record".into(),
                })?
                .value()
                .to_vec();
            let seen = match &seen {
                Some(table) => table.get(id)?.map(|v| v.value()),
                None => None,
            };
            sink(Record::Advisory {
                row: decode(v, "advisories", id)?,
                json,
                seen,
            })
        })?;
        each(&txn, MATCHES, |(package, advisory), record| {
            sink(Record::Match {
                package,
                advisory: advisory.to_string(),
                record: record.to_vec(),
            })
        })?;
        each(&txn, FEED_STATE, |key, state| {
            sink(Record::FeedState {
                key: key.to_string(),
                state: state.to_vec(),
            })
        })?;
        each(&txn, KEV, |cve, entry| {
            sink(Record::Kev {
                cve: cve.to_string(),
                entry: entry.to_vec(),
            })
        })?;
        each(&txn, EPSS, |cve, score| {
            sink(Record::Epss {
                cve: cve.to_string(),
                score: score.to_vec(),
            })
        })?;
        each(&txn, ENRICHMENT_SOURCES, |name, source| {
            sink(Record::EnrichmentSource {
                name: name.to_string(),
                source: source.to_vec(),
            })
        })?;
        each(&txn, POLICIES, |name, policy| {
            sink(Record::Policy {
                name: name.to_string(),
                policy: policy.to_vec(),
            })
        })?;
        each(&txn, APPROVALS, |(model_purl, sha256), approval| {
            sink(Record::Approval {
                model_purl: model_purl.to_string(),
                sha256: sha256.to_string(),
                approval: approval.to_vec(),
            })
        })?;
        each(&txn, RELEASES, |(deployment, name), release| {
            sink(Record::Release {
                deployment: deployment.to_string(),
                name: name.to_string(),
                release: release.to_vec(),
            })
        })?;
        each(&txn, EVIDENCE_FILES, |sha256, body| {
            sink(Record::EvidenceFile {
                sha256: sha256.to_string(),
                body: body.to_vec(),
            })
        })?;
        each(&txn, OBSERVATIONS, |(deployment, sequence), observation| {
            sink(Record::Observation {
                deployment: deployment.to_string(),
                sequence,
                observation: observation.to_vec(),
            })
        })?;
        each(&txn, OUTBOX, |seq, event| {
            sink(Record::Event {
                seq,
                event: event.to_vec(),
            })
        })?;
        each(&txn, NOTIFY_TARGETS, |name, target| {
            sink(Record::NotifyTarget {
                name: name.to_string(),
                target: target.to_vec(),
            })
        })?;
        each(&txn, NOTIFY_CURSORS, |target, seq| {
            sink(Record::NotifyCursor {
                target: target.to_string(),
                seq,
            })
        })?;
        each(&txn, DELIVERIES, |(target, event), delivery| {
            sink(Record::Delivery {
                target: target.to_string(),
                event,
                delivery: delivery.to_vec(),
            })
        })?;
        each(&txn, NOTIFY_REQUEUE, |(target, event), ()| {
            sink(Record::Requeue {
                target: target.to_string(),
                event,
            })
        })
    }
}
