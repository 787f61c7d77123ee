//! Removing a deployment: its documents, their rows, postings, digests,
//! lineage edges and VEX statements, its releases and observations, in one
//! transaction, with the events it causes.

use std::collections::HashSet;

use redb::ReadableTable;

use crate::occurrences::{self, DocRows};
use crate::tables::*;
use crate::{DocumentRecord, RedbStore, Result, decode, digests, notify, releases, unix_now};

impl RedbStore {
    /// Removes a deployment and everything its documents stated (packages
    /// lists, edges, VEX statements, history), in one transaction. Package and
    /// advisory nodes stay: other deployments may share them, and a package no
    /// document lists appears in no answer. Returns false when there was no
    /// such deployment.
    pub fn delete_deployment(&self, name: &str) -> Result<bool> {
        let txn = self.db.begin_write()?;
        let now = unix_now();
        // What the deletion ends, judged before anything goes.
        let mut events = match self.events_wanted(&txn)? {
            true => Some(notify::exposures_ending(
                &notify::TxnView::new(&txn),
                name,
                "delete",
                now,
            )?),
            false => None,
        };
        let mut named = std::collections::BTreeSet::new();
        {
            let mut deployments = txn.open_table(DEPLOYMENTS)?;
            if deployments.remove(name)?.is_none() {
                return Ok(false);
            }
            // Its releases and observations go with it: a deployment created
            // again under the same name starts with none.
            releases::delete_of(&txn, name)?;
            let mut dep_docs = txn.open_table(DEPLOYMENT_DOCUMENTS)?;
            let mut doc_ids = Vec::new();
            for entry in dep_docs.range((name, 0)..=(name, u64::MAX))? {
                doc_ids.push(entry?.0.value().1);
            }
            for id in &doc_ids {
                dep_docs.remove((name, *id))?;
            }
            let mut documents = txn.open_table(DOCUMENTS)?;
            let mut by_hash = txn.open_table(DOCUMENT_BY_HASH)?;
            let mut by_serial = txn.open_table(DOCUMENT_BY_SERIAL)?;
            let mut doc_rows = txn.open_table(DOCUMENT_ROWS)?;
            let mut meta = txn.open_table(META)?;
            let version = meta
                .get(crate::heads::HEADS_VERSION)?
                .map_or(0, |v| v.value());
            meta.insert(crate::heads::HEADS_VERSION, version + 1)?;
            let mut postings = txn.open_table(POSTINGS)?;
            let facts = txn.open_table(FACTS)?;
            let mut edges_rev = txn.open_table(EDGES_REVERSE)?;
            let mut vex = txn.open_table(VEX_STATEMENTS)?;
            let mut heads = txn.open_table(DOCUMENT_HEADS)?;
            let mut index = txn.open_table(DIGESTS)?;
            for &doc_id in &doc_ids {
                heads.remove(doc_id)?;
                let Some(record) = documents.remove(doc_id)? else {
                    continue;
                };
                let record: DocumentRecord =
                    decode(record.value(), "documents", &doc_id.to_string())?;
                let mut hash_key = crate::unhex(&record.sha256);
                hash_key.extend_from_slice(name.as_bytes());
                by_hash.remove(hash_key.as_slice())?;
                if let Some(serial) = record.serial.as_deref() {
                    by_serial.remove((aibomdb_graph::normalise_serial(serial).as_str(), doc_id))?;
                }
                let rows = match doc_rows.remove(doc_id)? {
                    Some(v) => DocRows::decode(v.value(), doc_id)?,
                    None => continue,
                };
                occurrences::count_rows(&mut meta, &rows, true)?;
                for row in &rows.packages {
                    let fact = occurrences::fact_of(&facts, row)?;
                    for (sha, _) in digests::entries(&fact) {
                        index.remove((sha.as_str(), row.id, doc_id))?;
                    }
                    occurrences::remove_posting(&mut postings, row.id, doc_id)?;
                }
                for e in &rows.edges {
                    edges_rev.remove((rows.id_at(e.to), rows.id_at(e.from), doc_id))?;
                }
            }
            // Statements are keyed by id first; a scan finds this deployment's.
            let doomed: HashSet<u64> = doc_ids.iter().copied().collect();
            let mut vex_keys = Vec::new();
            for entry in vex.iter()? {
                let (k, _) = entry?;
                let (id, doc, index) = k.value();
                if doomed.contains(&doc) {
                    vex_keys.push((id.to_string(), doc, index));
                }
            }
            for (id, doc, index) in vex_keys {
                vex.remove((id.as_str(), doc, index))?;
                named.insert(id);
            }
        }
        // Its statements no longer cover other deployments' matches.
        let evented = match events.as_mut() {
            Some(events) => {
                let (before, after) = (notify::StoreView::new(self), notify::TxnView::new(&txn));
                events.extend(notify::VexJudge::new(&before, &after).vex_events(
                    &named,
                    &HashSet::new(),
                    "delete",
                    now,
                )?);
                notify::append_events(&txn, events)?;
                !events.is_empty()
            }
            None => false,
        };
        txn.commit()?;
        self.bump();
        if evented {
            self.ring_event_bell();
        }
        Ok(true)
    }
}
