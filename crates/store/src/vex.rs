//! VEX statements as documents made them. The store files each statement
//! under every id it answers to; deciding which matches a statement covers is
//! the matcher's job (`crates/osv`).

use std::collections::BTreeSet;

use aibomdb_graph::VexStatement;
use redb::{ReadableDatabase, ReadableTable};

use crate::tables::*;
use crate::{DocumentId, Result, Store, decode};

/// A statement and the document that made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VexRecord {
    pub document: DocumentId,
    /// Index of the statement within its document.
    pub index: u32,
    pub statement: VexStatement,
}

impl Store {
    /// Statements naming any of `identifiers` (compared case-insensitively),
    /// from every document, current or not; each statement once.
    pub fn vex_for(&self, identifiers: &[String]) -> Result<Vec<VexRecord>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(VEX_STATEMENTS)?;
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for id in identifiers {
            let id = id.trim().to_ascii_uppercase();
            for entry in table.range((id.as_str(), 0, 0)..=(id.as_str(), u64::MAX, u32::MAX))? {
                let (k, v) = entry?;
                let (_, document, index) = k.value();
                if seen.insert((document, index)) {
                    out.push(VexRecord {
                        document,
                        index,
                        statement: decode(v.value(), "vex_statements", &id)?,
                    });
                }
            }
        }
        out.sort_by_key(|r| (r.document, r.index));
        Ok(out)
    }

    /// Every statement in the store, in document order.
    pub fn all_vex(&self) -> Result<Vec<VexRecord>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(VEX_STATEMENTS)?;
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for entry in table.iter()? {
            let (k, v) = entry?;
            let (id, document, index) = k.value();
            if seen.insert((document, index)) {
                out.push(VexRecord {
                    document,
                    index,
                    statement: decode(v.value(), "vex_statements", id)?,
                });
            }
        }
        out.sort_by_key(|r| (r.document, r.index));
        Ok(out)
    }

    /// Documents whose serial number (CycloneDX `serialNumber`, SPDX namespace)
    /// is `serial`, in either spelling (`urn:uuid:…` or the bare uuid).
    pub fn documents_with_serial(&self, serial: &str) -> Result<Vec<DocumentId>> {
        let serial = aibomdb_graph::normalise_serial(serial);
        let txn = self.db.begin_read()?;
        let table = txn.open_table(DOCUMENT_BY_SERIAL)?;
        let mut out = Vec::new();
        for entry in table.range((serial.as_str(), 0)..=(serial.as_str(), u64::MAX))? {
            out.push(entry?.0.value().1);
        }
        Ok(out)
    }
}
