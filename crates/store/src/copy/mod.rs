//! Moving a store between back ends (`aibomdb copy`): the source dumps its
//! primary content as a stream of [`Record`]s from one snapshot, and the
//! target restores them into an empty store in one transaction, rebuilding
//! its own indexes from them as ingest does. Every id and time is kept
//! (document ids appear in answers, ingest times in timelines), so a copy
//! is not a re-ingest.
//!
//! What is dumped is what no other table can give back: records, facts, a
//! document's rows, matches, VEX statements, the governance and
//! notification tables, and the two indexes ingest fills from the whole
//! fact rather than from the rows a document keeps (model nodes, digests).
//! What is rebuilt is everything an index: names and keys of packages,
//! documents by hash, serial and deployment, who lists a package, lineage
//! walked backwards, document heads, advisories by identifier and key, and
//! the row counters.

mod dump;
mod restore;

use std::collections::BTreeMap;

use crate::records::{AdvisoryRow, DeploymentRecord, DocumentRecord, PackageRecord};
use crate::{DocumentId, FactId, PackageId, Result, Store, StoreError};

/// One piece of a store's primary content. Values other back ends only
/// decode stay in the store's own encoding (both back ends keep the same
/// bytes), so a copy does not re-encode what it does not read.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// The next ids the store hands out.
    Counters {
        document: u64,
        package: u64,
        fact: u64,
        event: u64,
    },
    Package(PackageRecord),
    /// An interned fact: its id, the first 16 bytes of its encoding's
    /// SHA-256, the encoding.
    Fact {
        id: FactId,
        hash: [u8; 16],
        body: Vec<u8>,
    },
    Deployment(DeploymentRecord),
    /// A document and its rows (`occurrences::DocRows` encoding).
    Document {
        record: Box<DocumentRecord>,
        rows: Vec<u8>,
    },
    ModelNode {
        node: String,
        package: PackageId,
    },
    Digest {
        sha256: String,
        package: PackageId,
        document: DocumentId,
        path: String,
    },
    /// How advisories name a package under a lookup key.
    LookupNames {
        key: String,
        package: PackageId,
        names: Vec<u8>,
    },
    Vex {
        identifier: String,
        document: DocumentId,
        index: u32,
        statement: Vec<u8>,
    },
    Advisory {
        row: AdvisoryRow,
        json: Vec<u8>,
        /// When this store first loaded it; none in stores older than that record.
        seen: Option<u64>,
    },
    Match {
        package: PackageId,
        advisory: String,
        record: Vec<u8>,
    },
    FeedState {
        key: String,
        state: Vec<u8>,
    },
    Kev {
        cve: String,
        entry: Vec<u8>,
    },
    Epss {
        cve: String,
        score: Vec<u8>,
    },
    EnrichmentSource {
        name: String,
        source: Vec<u8>,
    },
    Policy {
        name: String,
        policy: Vec<u8>,
    },
    Approval {
        model_purl: String,
        sha256: String,
        approval: Vec<u8>,
    },
    Release {
        deployment: String,
        name: String,
        release: Vec<u8>,
    },
    EvidenceFile {
        sha256: String,
        body: Vec<u8>,
    },
    Observation {
        deployment: String,
        sequence: u64,
        observation: Vec<u8>,
    },
    Event {
        seq: u64,
        event: Vec<u8>,
    },
    NotifyTarget {
        name: String,
        target: Vec<u8>,
    },
    NotifyCursor {
        target: String,
        seq: u64,
    },
    Delivery {
        target: String,
        event: u64,
        delivery: Vec<u8>,
    },
    Requeue {
        target: String,
        event: u64,
    },
}

impl Record {
    /// What the record is, as the copy's report counts it.
    pub fn kind(&self) -> &'static str {
        match self {
            Record::Counters { .. } => "counters",
            Record::Package(_) => "packages",
            Record::Fact { .. } => "facts",
            Record::Deployment(_) => "deployments",
            Record::Document { .. } => "documents",
            Record::ModelNode { .. } => "model_nodes",
            Record::Digest { .. } => "digests",
            Record::LookupNames { .. } => "package_keys",
            Record::Vex { .. } => "vex_statements",
            Record::Advisory { .. } => "advisories",
            Record::Match { .. } => "matches",
            Record::FeedState { .. } => "feed_state",
            Record::Kev { .. } => "kev",
            Record::Epss { .. } => "epss",
            Record::EnrichmentSource { .. } => "enrichment_sources",
            Record::Policy { .. } => "policies",
            Record::Approval { .. } => "approvals",
            Record::Release { .. } => "releases",
            Record::EvidenceFile { .. } => "evidence_files",
            Record::Observation { .. } => "observations",
            Record::Event { .. } => "outbox",
            Record::NotifyTarget { .. } => "notify_targets",
            Record::NotifyCursor { .. } => "notify_cursors",
            Record::Delivery { .. } => "deliveries",
            Record::Requeue { .. } => "notify_requeue",
        }
    }
}

/// What a restore wrote: records by kind.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Restored {
    pub records: BTreeMap<&'static str, u64>,
}

impl Restored {
    /// Counts one record written.
    pub fn count(&mut self, record: &Record) {
        if !matches!(record, Record::Counters { .. }) {
            *self.records.entry(record.kind()).or_default() += 1;
        }
    }
}

/// The refusal of a restore into a store that holds something.
pub fn not_empty(location: &str, what: &str) -> StoreError {
    StoreError::Conflict(format!(
        "{location} already holds {what}: a copy goes into an empty store only"
    ))
}

/// A document's rows as the target keeps them, from a dumped record.
pub(crate) fn rows_of(record: &DocumentRecord, rows: &[u8]) -> Result<crate::kit::DocRows> {
    crate::kit::decode_rows(rows, record.id)
}

/// Copies everything `from` holds into `to`, which must be empty: the
/// source is read from one snapshot while the target writes, and the
/// target commits all of it or nothing.
pub fn copy(from: &Store, to: &Store) -> Result<Restored> {
    // Enough records in flight to keep both sides busy, few enough that a
    // copy of any size runs in bounded memory.
    let (send, receive) = std::sync::mpsc::sync_channel::<Result<Record>>(4096);
    let finished = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        let finished = &finished;
        let reader = scope.spawn(move || {
            let sent = from.dump(&mut |record| {
                send.send(Ok(record))
                    .map_err(|_| StoreError::Backend("the copy's target stopped reading".into()))
            });
            match sent {
                Ok(()) => finished.store(true, std::sync::atomic::Ordering::Release),
                // The target sees the failure and writes nothing.
                Err(e) => {
                    let _ = send.send(Err(e));
                }
            }
        });
        // The stream ends only when the source said it was done: a source
        // that stopped otherwise (a panic) is a failure, never a short copy.
        let mut failed = false;
        let mut records = std::iter::from_fn(|| match receive.recv() {
            Ok(item) => Some(item),
            Err(_) if finished.load(std::sync::atomic::Ordering::Acquire) || failed => None,
            Err(_) => {
                failed = true;
                Some(Err(StoreError::Backend(
                    "the copy's source stopped before its end".into(),
                )))
            }
        });
        let restored = to.restore(&mut records);
        // A target that fails stops reading: the reader's next send fails
        // and it ends.
        drop(receive);
        let _ = reader.join();
        restored
    })
}
