//! The persistent graph: redb tables for nodes, each document's packages and
//! edges, and the indexes a blast-radius query needs.
//!
//! Invariants:
//! - One document is written in one redb write transaction, committed durably:
//!   after a crash either all of its nodes and edges are visible or none.
//! - Package→Package edges are scoped to the document that states them: two
//!   SBOMs that disagree about a dependency never mix.
//! - redb types stay inside this crate; callers see [`Store`] and [`records`].
//!
//! Paths are not searched per query: each document's shortest-path tree from
//! its subject is computed once at ingest (breadth-first over its edges) and
//! kept in its row, so a path is a walk up parent pointers. Edges are scoped
//! per document, so a path never needs more than one document's row, and
//! opening a large store reads nothing per document.
//!
//! Where things are: `tables` (the layout), `open` (opening, versions),
//! `migrate` (earlier layouts), `new_document` (a document as the writers
//! take it, and the rows made of it), `write` (group-committed ingest),
//! `write_cache` (what the writer remembers across groups), `delete`,
//! `slots` (what a new document supersedes), `occurrences` (document rows,
//! interned facts, postings), `read` (nodes by id, key and name), `blast` (who
//! lists a package, with paths), `report` (a deployment's view),
//! `advisories`/`vex`/`enrichment` (records, matches, statements, KEV and
//! EPSS), `models`, `digests`, `releases`, `policies`, `notify` (targets, the
//! outbox, deliveries), `events` (what a change opens or resolves), `inspect`
//! (fingerprints and table sizes), `codec` (row encoding).

mod advisories;
mod backend;
mod blast;
mod codec;
pub mod copy;
mod delete;
mod digests;
mod enrichment;
pub mod events;
mod fact_keys;
mod heads;
mod inspect;
#[doc(hidden)]
pub mod kit;
mod migrate;
mod models;
mod new_document;
mod notify;
mod occurrences;
mod open;
mod policies;
mod read;
pub mod records;
mod releases;
mod report;
mod slots;
mod tables;
#[cfg(test)]
mod test_docs;
mod vex;
mod write;
mod write_cache;

use codec::{decode, encode};

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use redb::Database;

pub use advisories::{
    AdvisoryBatch, LateMatcher, LatePackage, LateRematch, MatchRowRef, MatchRows, MatchValueFields,
};
pub use backend::{Backend, Store};
pub use digests::DigestHit;
pub use enrichment::{EnrichmentSource, EpssScore, KevEntry};
pub use fact_keys::FactMemo;
pub use migrate::Migration;
pub use models::{Approval, LineageEdge};
pub use new_document::{EncodedRows, NewDocument, PreparedPackage};
pub use notify::{Delivery, EventKind, MatchEvent, NotifyTarget};
pub use occurrences::FactHash;
pub use occurrences::FactId;
pub use policies::StoredPolicy;
pub use records::{
    AdvisoryChange, AdvisoryRow, CoverageGap, DeployedPackage, DeploymentHit, DeploymentRecord,
    DeploymentReport, DocumentId, DocumentRecord, DocumentRef, DocumentSummary, EdgeRecord,
    IngestOutcome, ListedRow, LookupName, MatchRecord, Missing, Occurrence, PackageId,
    PackageRecord, PackageVersion, PathStep, Stats,
};
pub use releases::{
    EvalEvidence, Metric, Observation, Release, ReleaseGate, ReleasedArtifact, ReleasedDocument,
    ReleasedModel,
};
pub use vex::{VexRecord, VexResolver, VexSource, VexVerdict};

use heads::Heads;

/// Errors from the store. Backend errors are carried as text so that redb's
/// types stay out of the interface.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file could not be opened or created (I/O, permissions).
    #[error("store {path}: {message}")]
    Open { path: PathBuf, message: String },
    /// What `--db` names cannot be a store: a file of another kind, a
    /// directory, a path whose folder does not exist.
    #[error("{path} is not an aibomdb store: {message}")]
    NotAStore { path: PathBuf, message: String },
    /// Another process (a running `serve`) holds the store.
    #[error("store {path}: already open in another process")]
    InUse { path: PathBuf },
    #[error("store backend: {0}")]
    Backend(String),
    /// The back end cannot do this (yet): nothing was read or written.
    #[error("{operation}: not supported on {backend}")]
    Unsupported {
        operation: String,
        backend: &'static str,
    },
    /// A write that would change what is never changed (a release name
    /// used twice): nothing was written.
    #[error("{0}")]
    Conflict(String),
    /// The work a write carries was computed from what another writer has
    /// changed since (a document matched against advisories a load has
    /// replaced): nothing was written; compute it again and retry.
    #[error("stale: {0}")]
    Stale(String),
    #[error("store record {table}/{key} is unreadable: {message}")]
    Corrupt {
        table: &'static str,
        key: String,
        message: String,
    },
    #[error(
        "store {path} has layout {found} and this build reads {supported}: {}",
        if found > supported { "it was written by a newer aibomdb" } else { "it was written by an aibomdb older than layout 4, the oldest this build migrates; ingest into a new store" }
    )]
    Schema {
        path: PathBuf,
        found: u64,
        supported: u64,
    },
}

macro_rules! backend_from {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                StoreError::Backend(e.to_string())
            }
        }
    )*};
}
backend_from!(
    redb::Error,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Where the store's writers stand, read before work that a write will
/// carry is computed from the store, so that the write can tell whether
/// another writer changed its inputs in between ([`StoreError::Stale`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteMarks {
    /// Raised by every advisory load that adds, updates or withdraws a record.
    pub advisories: u64,
    /// The id the next new package gets: packages below it exist.
    pub next_package: PackageId,
    /// Raised by every ingest that gives a package stored before it a lookup
    /// name it did not have (an older package newly indexed under a key).
    pub package_keys: u64,
}

/// The `meta` counter [`WriteMarks::advisories`] is kept in, on both back ends.
pub const ADVISORIES_VERSION: &str = "advisories_version";

/// The `meta` counter [`WriteMarks::package_keys`] is kept in, on both back ends.
pub const PACKAGE_KEYS_VERSION: &str = "package_keys_version";

const SCHEMA_VERSION: u64 = 5;

/// The on-disk layout this build writes (`migrate.rs` lists them all).
pub const LAYOUT: u64 = SCHEMA_VERSION;

/// redb's page cache per open store.
const CACHE_BYTES: usize = 160 * 1024 * 1024;

/// The embedded back end: one redb file, one process ([`Store::open`]).
pub struct RedbStore {
    db: Database,
    path: PathBuf,
    /// Bumped after every committed write: callers that cache answers (the
    /// API's response cache) compare it to know they are stale.
    generation: std::sync::atomic::AtomicU64,
    /// Every document's head, read once per generation: a blast-radius query
    /// touches a thousand documents and must not read each from disk.
    heads: std::sync::Mutex<Option<(u64, Heads)>>,
    /// Live listeners (GraphQL subscriptions): while any is registered,
    /// writes record events (`notify.rs`).
    listeners: std::sync::atomic::AtomicUsize,
    /// Bumped by writes that change no answer about the graph but do change
    /// the notification answers (deliveries, targets); see `answer_generation`.
    notify_generation: std::sync::atomic::AtomicU64,
    /// Rung after a commit that appended events, so that a delivery worker
    /// or a subscription waiting on it wakes at once (`notify.rs`).
    event_bell: (std::sync::Mutex<u64>, std::sync::Condvar),
    /// Package, fact and lookup-name ids known from earlier group commits.
    write_cache: std::sync::Mutex<write_cache::WriteCache>,
    /// What opening migrated, if the store was of an earlier layout.
    migration: Option<Migration>,
}

impl RedbStore {
    /// Changes whenever a write commits (in this process; redb allows one
    /// process per file).
    pub fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Changes whenever any answer may change, the delivery log included:
    /// what a response cache keys on. [`Store::generation`] ignores
    /// deliveries, so that caches of graph answers survive them.
    pub fn answer_generation(&self) -> u64 {
        self.generation().wrapping_add(
            self.notify_generation
                .load(std::sync::atomic::Ordering::Acquire),
        )
    }

    pub(crate) fn bump_notify(&self) {
        self.notify_generation
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    pub(crate) fn bump(&self) {
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }
}

/// Whether the write transaction's store already has table `name`.
/// A table a read may find absent: tables added without a schema bump
/// (policies, releases, the outbox…) do not exist in a store written before
/// them, which then holds none of their rows. `None` then.
pub(crate) fn read_table<K: redb::Key + 'static, V: redb::Value + 'static>(
    txn: &redb::ReadTransaction,
    table: redb::TableDefinition<K, V>,
) -> Result<Option<redb::ReadOnlyTable<K, V>>> {
    match txn.open_table(table) {
        Ok(t) => Ok(Some(t)),
        Err(redb::TableError::TableDoesNotExist(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn has_table(txn: &redb::WriteTransaction, name: &str) -> Result<bool> {
    use redb::TableHandle;
    Ok(txn.list_tables()?.any(|t| t.name() == name))
}

/// [`hex`] back (pairs that are not hex are skipped).
fn unhex(text: &str) -> Vec<u8> {
    (0..text.len() / 2)
        .filter_map(|i| u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok())
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
