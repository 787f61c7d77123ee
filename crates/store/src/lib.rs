//! The persistent graph: redb tables for nodes, edges in both directions and
//! the indexes a blast-radius query needs, plus petgraph traversals over them.
//!
//! Invariants:
//! - One document is written in one redb write transaction, committed durably:
//!   after a crash either all of its nodes and edges are visible or none.
//! - Package→Package edges are scoped to the document that states them: two
//!   SBOMs that disagree about a dependency never mix.
//! - redb types stay inside this crate; callers see [`Store`] and [`records`].
//!
//! Traversals load the edges of the documents involved into a petgraph
//! `DiGraphMap` per query rather than mirroring the whole estate in memory at
//! open: edges are scoped per document, so a path query only ever needs one
//! document's edges, and opening a large store stays cheap.

mod advisories;
mod codec;
mod digests;
mod enrichment;
mod models;
mod notify;
mod policies;
pub mod records;
mod releases;
mod report;
mod tables;
mod vex;

use codec::{decode, encode};

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use aibomdb_graph::{DocumentFacts, PackageKey, Purl};
use petgraph::graphmap::DiGraphMap;
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata};

pub use advisories::AdvisoryBatch;
pub use digests::DigestHit;
pub use enrichment::{EnrichmentSource, EpssScore, KevEntry};
pub use models::{Approval, LineageEdge};
pub use notify::{Delivery, EventKind, MatchEvent, NotifyTarget};
pub use policies::StoredPolicy;
pub use records::{
    AdvisoryChange, AdvisoryRow, CoverageGap, DeployedPackage, DeploymentHit, DeploymentRecord,
    DeploymentReport, DocumentId, DocumentRecord, DocumentSummary, EdgeRecord, IngestOutcome,
    LookupName, MatchRecord, Missing, Occurrence, PackageId, PackageRecord, PackageVersion,
    PathStep, Stats,
};
pub use releases::{
    EvalEvidence, Metric, Observation, Release, ReleaseGate, ReleasedArtifact, ReleasedDocument,
    ReleasedModel,
};
use tables::*;
pub use vex::VexRecord;

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
    /// A write that would change what is never changed (a release name
    /// used twice): nothing was written.
    #[error("{0}")]
    Conflict(String),
    #[error("store record {table}/{key} is unreadable: {message}")]
    Corrupt {
        table: &'static str,
        key: String,
        message: String,
    },
    #[error(
        "store {path} has schema {found} and this build reads {supported}: {}",
        if found > supported { "it was written by a newer aibomdb" } else { "it was written by an older aibomdb; ingest into a new store" }
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

/// Every document's head with its rank in (deployment, document) order.
type Heads = std::sync::Arc<HashMap<DocumentId, (records::DocHead, u32)>>;

const SCHEMA_VERSION: u64 = 4;

/// redb's page cache per open store.
const CACHE_BYTES: usize = 384 * 1024 * 1024;

/// A document ready to be written: the importer's facts plus where they came from.
#[derive(Debug, Clone)]
pub struct NewDocument {
    pub deployment: String,
    pub source_path: String,
    pub sha256: [u8; 32],
    pub size: u64,
    pub facts: DocumentFacts,
    /// Per package (aligned with `facts.packages`; shorter means none): how
    /// advisories name it.
    pub lookup_names: Vec<Vec<LookupName>>,
    /// Per package: its advisory matches, computed before the write so that
    /// they land in the document's own transaction (`package` is filled in).
    pub matches: Vec<Vec<MatchRecord>>,
    /// Rows computed ahead of the write ([`NewDocument::encode_rows`]); the
    /// writer computes them itself when `None`.
    pub rows: Option<EncodedRows>,
}

/// The parts of a document's rows that need no store access: each package
/// fact encoded, and the shortest-path tree from the subject. Computing them
/// on the parser threads takes that work off the single writer.
#[derive(Debug, Clone, Default)]
pub struct EncodedRows {
    facts: Vec<Vec<u8>>,
    /// (node, parent, edge kind code) by package index.
    tree: Vec<(usize, usize, u8)>,
}

impl NewDocument {
    /// Fills [`NewDocument::rows`]; call it off the writer thread.
    pub fn encode_rows(&mut self) {
        let facts = self
            .facts
            .packages
            .iter()
            .map(|f| {
                let mut buf = Vec::new();
                encode(f, &mut buf);
                buf
            })
            .collect();
        self.rows = Some(EncodedRows {
            facts,
            tree: tree_rows(&self.facts),
        });
    }
}

/// The path tree by package index, from the subject (empty without one).
fn tree_rows(facts: &DocumentFacts) -> Vec<(usize, usize, u8)> {
    match facts.subject.as_ref().and_then(|s| s.package) {
        Some(root) => path_tree(facts, root)
            .into_iter()
            .map(|(node, (parent, kind))| (node, parent, kind.code()))
            .collect(),
        None => Vec::new(),
    }
}

/// What one group commit has already looked up or written, so that the
/// packages its documents share are resolved once.
#[derive(Default)]
struct GroupCache {
    /// Package key → node id.
    ids: HashMap<String, PackageId>,
    /// (package, advisory lookup name) pairs already recorded.
    lookup: std::collections::HashSet<(PackageId, LookupName)>,
    /// (package, document) rows, written sorted once the group's documents are.
    package_docs: Vec<(PackageId, DocumentId)>,
    /// Events the group's documents cause, when someone listens (`notify.rs`).
    events: Option<Vec<notify::MatchEvent>>,
}

pub struct Store {
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
}

/// redb's file signature (`redb::tree_store::page_store::header::MAGICNUMBER`,
/// private there): its first nine bytes.
const REDB_MAGIC: [u8; 9] = [b'r', b'e', b'd', b'b', 0x1A, 0x0A, 0xA9, 0x0D, 0x0A];

/// Refuses a path that cannot be a store before redb touches it: a directory,
/// a missing folder, or a non-empty file that is not a redb file (an SBOM
/// given as `--db`, told by its signature from a damaged store, never written).
fn not_a_store(path: &Path) -> Result<()> {
    use std::io::Read;
    let refuse = |message: &str| {
        Err(StoreError::NotAStore {
            path: path.to_path_buf(),
            message: message.to_string(),
        })
    };
    if path.is_dir() {
        return refuse("it is a directory");
    }
    if let Some(folder) = path.parent()
        && !folder.as_os_str().is_empty()
        && !folder.is_dir()
    {
        return refuse("its folder does not exist");
    }
    let Ok(mut file) = std::fs::File::open(path) else {
        // Absent (created next) or unreadable (redb reports why).
        return Ok(());
    };
    let mut head = Vec::with_capacity(REDB_MAGIC.len());
    let read = file
        .by_ref()
        .take(REDB_MAGIC.len() as u64)
        .read_to_end(&mut head);
    match read {
        Ok(0) => Ok(()),
        Ok(_) if head == REDB_MAGIC => Ok(()),
        Ok(_) => refuse("it does not start with redb's file signature"),
        Err(_) => Ok(()),
    }
}

impl Store {
    /// Opens the store at `path`, creating it (and its tables) if needed.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        not_a_store(&path)?;
        // redb's own page cache defaults to 1 GiB, which alone would take a
        // server past its memory budget; the OS page cache still holds the
        // file, so a smaller cache costs a copy per miss, not a disk read.
        let db = redb::Builder::new()
            .set_cache_size(CACHE_BYTES)
            .create(&path)
            .map_err(|e| match e {
                redb::DatabaseError::DatabaseAlreadyOpen => {
                    StoreError::InUse { path: path.clone() }
                }
                redb::DatabaseError::UpgradeRequired(v) => StoreError::NotAStore {
                    path: path.clone(),
                    message: format!("redb file format {v}, older than this build reads"),
                },
                other => StoreError::Open {
                    path: path.clone(),
                    message: other.to_string(),
                },
            })?;
        let store = Store {
            db,
            path,
            generation: std::sync::atomic::AtomicU64::new(0),
            heads: std::sync::Mutex::new(None),
            listeners: std::sync::atomic::AtomicUsize::new(0),
            notify_generation: std::sync::atomic::AtomicU64::new(0),
            event_bell: (std::sync::Mutex::new(0), std::sync::Condvar::new()),
        };
        store.init()?;
        Ok(store)
    }

    fn init(&self) -> Result<()> {
        // Opening an existing store must not write to it: a store that only
        // serves reads stays byte-for-byte as it was.
        {
            let read = self.db.begin_read()?;
            let meta = match read.open_table(META) {
                Ok(t) => Some(t),
                Err(redb::TableError::TableDoesNotExist(_)) => None,
                Err(e) => return Err(e.into()),
            };
            if let Some(meta) = meta {
                let found = meta.get("schema_version")?.map(|v| v.value());
                if let Some(found) = found {
                    if found != SCHEMA_VERSION {
                        return Err(StoreError::Schema {
                            path: self.path.clone(),
                            found,
                            supported: SCHEMA_VERSION,
                        });
                    }
                    if found == SCHEMA_VERSION {
                        return Ok(());
                    }
                }
            }
        }
        let txn = self.db.begin_write()?;
        {
            let mut meta = txn.open_table(META)?;
            let found = meta.get("schema_version")?.map(|v| v.value());
            match found {
                Some(v) if v != SCHEMA_VERSION => {
                    return Err(StoreError::Schema {
                        path: self.path.clone(),
                        found: v,
                        supported: SCHEMA_VERSION,
                    });
                }
                Some(_) => {}
                None => {
                    meta.insert("schema_version", SCHEMA_VERSION)?;
                }
            }
            txn.open_table(PACKAGES)?;
            txn.open_table(PACKAGE_BY_KEY)?;
            txn.open_table(PACKAGE_BY_NAME)?;
            txn.open_table(DOCUMENTS)?;
            txn.open_table(DOCUMENT_BY_HASH)?;
            txn.open_table(DEPLOYMENTS)?;
            txn.open_table(DEPLOYMENT_DOCUMENTS)?;
            txn.open_table(DOCUMENT_PACKAGES)?;
            txn.open_table(PACKAGE_DOCUMENTS)?;
            txn.open_table(EDGES)?;
            txn.open_table(EDGES_REVERSE)?;
            txn.open_table(ADVISORIES)?;
            txn.open_table(ADVISORY_JSON)?;
            txn.open_table(ADVISORY_IDENTIFIERS)?;
            txn.open_table(ADVISORY_KEYS)?;
            txn.open_table(PACKAGE_KEYS)?;
            txn.open_table(MATCHES)?;
            txn.open_table(MATCHES_BY_ADVISORY)?;
            txn.open_table(VEX_STATEMENTS)?;
            txn.open_table(DOCUMENT_BY_SERIAL)?;
            txn.open_table(DOCUMENT_HEADS)?;
            txn.open_table(DOCUMENT_PATHS)?;
            txn.open_table(MODEL_NODES)?;
            txn.open_table(APPROVALS)?;
            txn.open_table(POLICIES)?;
            txn.open_table(DIGESTS)?;
        }
        txn.commit()?;
        Ok(())
    }

    /// Gives the file's free pages back (a copy-on-write store keeps the
    /// pages its past transactions freed). Needs the only handle to the
    /// store; returns whether anything was compacted.
    pub fn compact(&mut self) -> Result<bool> {
        self.db
            .compact()
            .map_err(|e| StoreError::Backend(format!("compaction: {e}")))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Changes whenever a write commits (in this process; redb allows one
    /// process per file).
    pub fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::Acquire)
    }

    /// The heads of all documents as of the current generation.
    fn heads(&self) -> Result<Heads> {
        let generation = self.generation();
        if let Ok(guard) = self.heads.lock()
            && let Some((g, map)) = guard.as_ref()
            && *g == generation
        {
            return Ok(map.clone());
        }
        let txn = self.db.begin_read()?;
        let table = txn.open_table(DOCUMENT_HEADS)?;
        let mut all: Vec<(DocumentId, records::DocHead)> = Vec::new();
        for entry in table.iter()? {
            let (k, v) = entry?;
            let id = k.value();
            all.push((id, decode(v.value(), "document_heads", &id.to_string())?));
        }
        // Ranked once here, so that queries sort hits by an integer.
        all.sort_by(|a, b| (&a.1.deployment, a.0).cmp(&(&b.1.deployment, b.0)));
        let map: HashMap<_, _> = all
            .into_iter()
            .enumerate()
            .map(|(rank, (id, head))| (id, (head, rank as u32)))
            .collect();
        let map = std::sync::Arc::new(map);
        if let Ok(mut guard) = self.heads.lock() {
            *guard = Some((generation, map.clone()));
        }
        Ok(map)
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

    /// Writes one document, its packages and edges in one durable transaction.
    ///
    /// Identical bytes already held by the same deployment are a no-op. A
    /// document with the same slot (format family + subject) as a current
    /// document of the deployment supersedes it; the old one stays as history.
    pub fn ingest(&self, doc: NewDocument) -> Result<IngestOutcome> {
        let mut outcomes = self.ingest_batch(std::slice::from_ref(&doc))?;
        Ok(outcomes.remove(0))
    }

    /// Writes several documents in one durable transaction (group commit):
    /// each is written whole, and they become visible and durable together,
    /// or not at all. One commit (and its fsyncs) for many documents is what
    /// makes bulk ingest fast: the B-tree pages the documents share are
    /// written once, not once per document. Outcomes are in input order; a
    /// later document of the batch sees the earlier ones (identical bytes are
    /// `Unchanged`, a newer document of the same slot supersedes).
    pub fn ingest_batch(&self, docs: &[NewDocument]) -> Result<Vec<IngestOutcome>> {
        if docs.is_empty() {
            return Ok(Vec::new());
        }
        let txn = self.db.begin_write()?;
        // A store written before the digest index existed gets it filled
        // from its rows, once, in the first transaction that writes.
        if !has_table(&txn, "digests")? {
            digests::backfill(&txn)?;
        }
        let mut outcomes = Vec::with_capacity(docs.len());
        let mut seen = GroupCache::default();
        if self.events_wanted(&txn)? {
            seen.events = Some(Vec::new());
        }
        for doc in docs {
            outcomes.push(Self::write_document(&txn, doc, &mut seen)?);
        }
        // The package → document index of the whole group, in key order.
        {
            let mut package_docs = txn.open_table(PACKAGE_DOCUMENTS)?;
            seen.package_docs.sort_unstable();
            for pair in &seen.package_docs {
                package_docs.insert(*pair, ())?;
            }
        }
        let evented = match seen.events.as_mut() {
            Some(events) => {
                notify::append_events(&txn, events)?;
                !events.is_empty()
            }
            None => false,
        };
        if outcomes
            .iter()
            .all(|o| matches!(o, IngestOutcome::Unchanged { .. }))
        {
            // Nothing new: leave the file as it was.
            txn.abort()?;
            return Ok(outcomes);
        }
        txn.commit()?;
        self.bump();
        if evented {
            self.ring_event_bell();
        }
        Ok(outcomes)
    }

    /// Borrows the document, so that a group whose transaction failed can be
    /// retried one by one without keeping a copy of every document.
    fn write_document(
        txn: &redb::WriteTransaction,
        doc: &NewDocument,
        seen: &mut GroupCache,
    ) -> Result<IngestOutcome> {
        let NewDocument {
            deployment,
            source_path,
            sha256,
            size,
            facts,
            lookup_names,
            matches,
            rows: encoded_rows,
        } = doc;
        let mut hash_key = sha256.to_vec();
        hash_key.extend_from_slice(deployment.as_bytes());

        {
            let mut by_hash = txn.open_table(DOCUMENT_BY_HASH)?;
            if let Some(existing) = by_hash.get(hash_key.as_slice())? {
                return Ok(IngestOutcome::Unchanged {
                    document: existing.value(),
                });
            }
            let mut meta = txn.open_table(META)?;
            let doc_id = next_id(&mut meta, "next_document_id")?;
            by_hash.insert(hash_key.as_slice(), doc_id)?;

            // Packages: find or create the node for each key.
            let mut packages = txn.open_table(PACKAGES)?;
            let mut by_key = txn.open_table(PACKAGE_BY_KEY)?;
            let mut by_name = txn.open_table(PACKAGE_BY_NAME)?;
            let mut doc_packages = txn.open_table(DOCUMENT_PACKAGES)?;
            let mut model_nodes = txn.open_table(MODEL_NODES)?;
            let mut ids: Vec<PackageId> = Vec::with_capacity(facts.packages.len());
            let mut rows: Vec<(PackageId, std::borrow::Cow<[u8]>)> =
                Vec::with_capacity(facts.packages.len());
            let mut new_packages = 0;
            let mut digest_rows: Vec<(String, PackageId, String)> = Vec::new();
            let mut next_package = meta.get("next_package_id")?.map_or(1, |v| v.value());
            let mut buf = Vec::new();
            for fact in &facts.packages {
                let Some(key) = fact.key.as_ref() else {
                    ids.push(0);
                    continue;
                };
                let existing = match seen.ids.get(key.as_str()) {
                    Some(&id) => Some(id),
                    None => by_key.get(key.as_str())?.map(|v| v.value()),
                };
                let id = match existing {
                    Some(id) => id,
                    None => {
                        let id = next_package;
                        next_package += 1;
                        new_packages += 1;
                        let record = package_record(id, key);
                        buf.clear();
                        encode(&record, &mut buf);
                        packages.insert(id, buf.as_slice())?;
                        by_key.insert(key.as_str(), id)?;
                        by_name.insert(name_index_key(&record).as_str(), id)?;
                        id
                    }
                };
                if !seen.ids.contains_key(key.as_str()) {
                    seen.ids.insert(key.as_str().to_string(), id);
                }
                let encoded = match encoded_rows.as_ref().and_then(|r| r.facts.get(ids.len())) {
                    Some(bytes) => std::borrow::Cow::Borrowed(bytes.as_slice()),
                    None => {
                        let mut bytes = Vec::new();
                        encode(fact, &mut bytes);
                        std::borrow::Cow::Owned(bytes)
                    }
                };
                ids.push(id);
                rows.push((id, encoded));
                seen.package_docs.push((id, doc_id));
                // Models and datasets by what the importer made of them, or
                // by the component type an SBOM gave.
                let node =
                    fact.model
                        .as_ref()
                        .map(|m| m.node.as_str())
                        .or(match fact.kind.as_deref() {
                            Some("machine-learning-model") => Some("model"),
                            Some("data") => Some("dataset"),
                            _ => None,
                        });
                if let Some(node) = node {
                    model_nodes.insert((node, id), ())?;
                }
                for (sha, path) in digests::entries(fact) {
                    digest_rows.push((sha, id, path));
                }
            }
            meta.insert("next_package_id", next_package)?;
            // In key order: a B-tree takes sorted inserts far faster than
            // random ones (the pages stay hot). Stable, so a package listed
            // twice keeps its last occurrence, as before.
            rows.sort_by_key(|(id, _)| *id);
            for (id, encoded) in &rows {
                doc_packages.insert((doc_id, *id), encoded.as_ref())?;
            }
            if !digest_rows.is_empty() {
                let mut index = txn.open_table(DIGESTS)?;
                for (sha, id, path) in &digest_rows {
                    index.insert((sha.as_str(), *id, doc_id), path.as_str())?;
                }
            }

            // Advisory lookup names and matches of this document's packages.
            let mut package_keys = txn.open_table(PACKAGE_KEYS)?;
            for (i, names) in lookup_names.iter().enumerate() {
                let Some(&id) = ids.get(i).filter(|id| **id != 0) else {
                    continue;
                };
                for name in names {
                    // Most packages recur across a group's documents with
                    // the same names: each (package, name) is checked once.
                    if !seen.lookup.insert((id, name.clone())) {
                        continue;
                    }
                    let mut list: Vec<LookupName> =
                        match package_keys.get((name.key.as_str(), id))? {
                            Some(v) => decode(v.value(), "package_keys", &name.key)?,
                            None => Vec::new(),
                        };
                    if !list.contains(name) {
                        list.push(name.clone());
                        buf.clear();
                        encode(&list, &mut buf);
                        package_keys.insert((name.key.as_str(), id), buf.as_slice())?;
                    }
                }
            }
            let mut match_table = txn.open_table(MATCHES)?;
            let mut by_advisory = txn.open_table(MATCHES_BY_ADVISORY)?;
            for (i, found) in matches.iter().enumerate() {
                let Some(&id) = ids.get(i).filter(|id| **id != 0) else {
                    continue;
                };
                for m in found {
                    buf.clear();
                    encode(&advisories::StoredMatch::of(m), &mut buf);
                    match_table.insert((id, m.advisory.as_str()), buf.as_slice())?;
                    by_advisory.insert((m.advisory.as_str(), id), ())?;
                }
            }

            let mut edges = txn.open_table(EDGES)?;
            let mut edges_rev = txn.open_table(EDGES_REVERSE)?;
            let mut edge_count = 0;
            // `finish` sorted the edges, so the kinds one document states
            // between the same two nodes are adjacent: one row each pair.
            let mut pending: Option<((u64, u64), EdgeRecord)> = None;
            let mut edge_rows: Vec<((u64, u64), Vec<u8>)> = Vec::new();
            let mut write =
                |pair: (u64, u64), record: &EdgeRecord, _: &mut Vec<u8>| -> Result<()> {
                    let mut encoded = Vec::new();
                    encode(record, &mut encoded);
                    edge_rows.push((pair, encoded));
                    // Only lineage is walked backwards (`lineage_to`): plain
                    // dependencies need no reverse row, which saves a
                    // B-tree insert per package occurrence.
                    if record.kinds().any(|k| k.is_lineage()) {
                        edges_rev.insert((pair.1, pair.0, doc_id), ())?;
                    }
                    Ok(())
                };
            for e in &facts.dependencies {
                let pair = (ids[e.from], ids[e.to]);
                if pair.0 == 0 || pair.1 == 0 {
                    continue;
                }
                match pending.as_mut() {
                    Some((p, r)) if *p == pair => {
                        if !r.kinds().any(|k| k == e.kind) {
                            r.also.push(e.kind);
                        }
                    }
                    _ => {
                        if let Some((p, r)) = pending.take() {
                            write(p, &r, &mut buf)?;
                        }
                        edge_count += 1;
                        pending = Some((
                            pair,
                            EdgeRecord {
                                kind: e.kind,
                                scope: e.scope,
                                marker: e.marker.clone(),
                                via_extra: e.via_extra.clone(),
                                also: Vec::new(),
                            },
                        ));
                    }
                }
            }
            if let Some((p, r)) = pending.take() {
                write(p, &r, &mut buf)?;
            }
            edge_rows.sort_by_key(|(pair, _)| *pair);
            for ((from, to), encoded) in &edge_rows {
                edges.insert((doc_id, *from, *to), encoded.as_slice())?;
            }

            // The shortest-path tree from the subject (BFS in petgraph over this
            // document's edges): a blast-radius path is then a walk up parent
            // pointers, not a graph search per query.
            if facts.subject.as_ref().and_then(|s| s.package).is_some() {
                let mut paths = txn.open_table(DOCUMENT_PATHS)?;
                let computed;
                let by_index = match encoded_rows.as_ref() {
                    Some(r) => &r.tree,
                    None => {
                        computed = tree_rows(facts);
                        &computed
                    }
                };
                let mut tree: Vec<(u64, (u64, u8))> = by_index
                    .iter()
                    .map(|&(node, parent, kind)| (ids[node], (ids[parent], kind)))
                    .filter(|(node, (parent, _))| *node != 0 && *parent != 0)
                    .collect();
                tree.sort_by_key(|(node, _)| *node);
                for (node, step) in tree {
                    paths.insert((doc_id, node), step)?;
                }
            }

            // Deployment and supersession.
            let slot = slot_of(facts, source_path);
            let now = unix_now();
            let mut deployments = txn.open_table(DEPLOYMENTS)?;
            let mut deployment_record = match deployments.get(deployment.as_str())? {
                Some(v) => decode::<DeploymentRecord>(v.value(), "deployments", deployment)?,
                None => DeploymentRecord {
                    name: deployment.clone(),
                    created_at: now,
                    current: Vec::new(),
                },
            };
            let mut documents = txn.open_table(DOCUMENTS)?;
            let superseded = match deployment_record
                .current
                .iter_mut()
                .find(|(s, _)| *s == slot)
            {
                Some((_, current)) => {
                    let old_id = *current;
                    *current = doc_id;
                    let old = documents
                        .get(old_id)?
                        .map(|v| {
                            decode::<DocumentRecord>(v.value(), "documents", &old_id.to_string())
                        })
                        .transpose()?;
                    if let Some(mut old) = old {
                        old.superseded_by = Some(doc_id);
                        buf.clear();
                        encode(&old, &mut buf);
                        documents.insert(old_id, buf.as_slice())?;
                        buf.clear();
                        encode(&head_of(&old), &mut buf);
                        txn.open_table(DOCUMENT_HEADS)?
                            .insert(old_id, buf.as_slice())?;
                    }
                    Some(old_id)
                }
                None => {
                    deployment_record.current.push((slot.clone(), doc_id));
                    None
                }
            };
            if let Some(events) = seen.events.as_mut() {
                // The events read these tables: redb opens a table once per
                // transaction at a time.
                drop((packages, doc_packages, match_table));
                let others: Vec<DocumentId> = deployment_record
                    .current
                    .iter()
                    .map(|(_, d)| *d)
                    .filter(|d| *d != doc_id)
                    .collect();
                events.extend(notify::events_for_supersession(
                    txn, deployment, &others, superseded, doc_id, now,
                )?);
            }
            buf.clear();
            encode(&deployment_record, &mut buf);
            deployments.insert(deployment.as_str(), buf.as_slice())?;
            txn.open_table(DEPLOYMENT_DOCUMENTS)?
                .insert((deployment.as_str(), doc_id), ())?;

            // VEX statements, filed under every id they answer to.
            let mut vex_table = txn.open_table(VEX_STATEMENTS)?;
            for (index, statement) in facts.vex.iter().enumerate() {
                buf.clear();
                encode(statement, &mut buf);
                for id in statement.identifiers() {
                    vex_table.insert((id.as_str(), doc_id, index as u32), buf.as_slice())?;
                }
            }
            if let Some(serial) = facts.serial.as_deref().filter(|s| !s.trim().is_empty()) {
                txn.open_table(DOCUMENT_BY_SERIAL)?.insert(
                    (aibomdb_graph::normalise_serial(serial).as_str(), doc_id),
                    (),
                )?;
            }

            let subject_package = facts
                .subject
                .as_ref()
                .and_then(|s| s.package)
                .and_then(|i| ids.get(i).copied())
                .filter(|id| *id != 0);
            // Components, not counting the subject's own node.
            let package_count = ids.iter().filter(|id| **id != 0).count() as u64
                - u64::from(subject_package.is_some());
            let record = DocumentRecord {
                id: doc_id,
                deployment: deployment.clone(),
                format: facts.format,
                spec_version: facts.spec_version.clone(),
                tools: facts.tools.clone(),
                serial: facts.serial.clone(),
                created: facts.created.clone(),
                subject: facts.subject.clone(),
                subject_package,
                source_path: source_path.clone(),
                sha256: hex(sha256),
                size: *size,
                ingested_at: now,
                supersedes: superseded,
                superseded_by: None,
                slot,
                package_count,
                entries: facts.entries_read as u64,
                edge_count,
                vex_statements: facts.vex.len() as u64,
                skipped: facts.skipped.clone(),
                warnings: facts.warnings.clone(),
            };
            buf.clear();
            encode(&record, &mut buf);
            documents.insert(doc_id, buf.as_slice())?;
            buf.clear();
            encode(&head_of(&record), &mut buf);
            txn.open_table(DOCUMENT_HEADS)?
                .insert(doc_id, buf.as_slice())?;
            Ok(IngestOutcome::Ingested {
                document: doc_id,
                packages: package_count,
                new_packages,
                edges: edge_count,
                superseded,
            })
        }
    }

    /// Removes a deployment and everything its documents stated (packages
    /// lists, edges, VEX statements, history), in one transaction. Package and
    /// advisory nodes stay: other deployments may share them, and a package no
    /// document lists appears in no answer. Returns false when there was no
    /// such deployment.
    pub fn delete_deployment(&self, name: &str) -> Result<bool> {
        let txn = self.db.begin_write()?;
        if !has_table(&txn, "digests")? {
            digests::backfill(&txn)?;
        }
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
            let mut doc_packages = txn.open_table(DOCUMENT_PACKAGES)?;
            let mut package_docs = txn.open_table(PACKAGE_DOCUMENTS)?;
            let mut edges = txn.open_table(EDGES)?;
            let mut edges_rev = txn.open_table(EDGES_REVERSE)?;
            let mut vex = txn.open_table(VEX_STATEMENTS)?;
            let mut heads = txn.open_table(DOCUMENT_HEADS)?;
            let mut paths = txn.open_table(DOCUMENT_PATHS)?;
            for &doc_id in &doc_ids {
                heads.remove(doc_id)?;
                let mut tree = Vec::new();
                for entry in paths.range((doc_id, 0)..=(doc_id, u64::MAX))? {
                    tree.push(entry?.0.value());
                }
                for k in tree {
                    paths.remove(k)?;
                }
                let Some(record) = documents.remove(doc_id)? else {
                    continue;
                };
                let record: DocumentRecord =
                    decode(record.value(), "documents", &doc_id.to_string())?;
                let mut hash_key = unhex(&record.sha256);
                hash_key.extend_from_slice(name.as_bytes());
                by_hash.remove(hash_key.as_slice())?;
                if let Some(serial) = record.serial.as_deref() {
                    by_serial.remove((aibomdb_graph::normalise_serial(serial).as_str(), doc_id))?;
                }
                let mut packages = Vec::new();
                for entry in doc_packages.range((doc_id, 0)..=(doc_id, u64::MAX))? {
                    packages.push(entry?.0.value().1);
                }
                let mut index = txn.open_table(DIGESTS)?;
                for p in packages {
                    if let Some(row) = doc_packages.remove((doc_id, p))? {
                        let fact: aibomdb_graph::PackageFact =
                            decode(row.value(), "document_packages", &format!("{doc_id}/{p}"))?;
                        for (sha, _) in digests::entries(&fact) {
                            index.remove((sha.as_str(), p, doc_id))?;
                        }
                    }
                    package_docs.remove((p, doc_id))?;
                }
                let mut doc_edges = Vec::new();
                for entry in edges.range((doc_id, 0, 0)..=(doc_id, u64::MAX, u64::MAX))? {
                    doc_edges.push(entry?.0.value());
                }
                for (d, from, to) in doc_edges {
                    edges.remove((d, from, to))?;
                    edges_rev.remove((to, from, d))?;
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
            }
        }
        txn.commit()?;
        self.bump();
        Ok(true)
    }

    pub fn stats(&self) -> Result<Stats> {
        let txn = self.db.begin_read()?;
        let documents = txn.open_table(DOCUMENTS)?;
        let mut current = 0;
        for entry in documents.iter()? {
            let (k, v) = entry?;
            let record: DocumentRecord = decode(v.value(), "documents", &k.value().to_string())?;
            current += u64::from(record.is_current());
        }
        Ok(Stats {
            deployments: txn.open_table(DEPLOYMENTS)?.len()?,
            documents: documents.len()?,
            current_documents: current,
            packages: txn.open_table(PACKAGES)?.len()?,
            occurrences: txn.open_table(DOCUMENT_PACKAGES)?.len()?,
            dependency_edges: txn.open_table(EDGES)?.len()?,
            file_bytes: std::fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0),
        })
    }

    pub fn document(&self, id: DocumentId) -> Result<Option<DocumentRecord>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(DOCUMENTS)?;
        table
            .get(id)?
            .map(|v| decode(v.value(), "documents", &id.to_string()))
            .transpose()
    }

    /// Every document, oldest first.
    pub fn documents(&self) -> Result<Vec<DocumentRecord>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(DOCUMENTS)?;
        let mut out = Vec::new();
        for entry in table.iter()? {
            let (k, v) = entry?;
            out.push(decode(v.value(), "documents", &k.value().to_string())?);
        }
        Ok(out)
    }

    /// Whether a deployment of that name exists (one lookup).
    pub fn has_deployment(&self, name: &str) -> Result<bool> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(DEPLOYMENTS)?;
        Ok(table.get(name)?.is_some())
    }

    pub fn deployments(&self) -> Result<Vec<DeploymentRecord>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(DEPLOYMENTS)?;
        let mut out = Vec::new();
        for entry in table.iter()? {
            let (k, v) = entry?;
            out.push(decode(v.value(), "deployments", k.value())?);
        }
        Ok(out)
    }

    /// Every version of packages called `name` (PEP 503-normalised for PyPI,
    /// case-insensitive otherwise), optionally in one ecosystem; no counting.
    pub fn package_records_named(
        &self,
        name: &str,
        ecosystem: Option<&str>,
    ) -> Result<Vec<PackageRecord>> {
        let txn = self.db.begin_read()?;
        let by_name = txn.open_table(PACKAGE_BY_NAME)?;
        let packages = txn.open_table(PACKAGES)?;
        let mut out: Vec<PackageRecord> = Vec::new();
        let mut seen = HashSet::new();
        for folded in [name.to_lowercase(), aibomdb_graph::pep503_normalise(name)] {
            if !seen.insert(folded.clone()) {
                continue;
            }
            let prefix = match ecosystem {
                Some(e) => format!("{folded}\0{}\0", e.to_ascii_lowercase()),
                None => format!("{folded}\0"),
            };
            let end = format!("{prefix}\u{10FFFF}");
            for entry in by_name.range(prefix.as_str()..end.as_str())? {
                let id = entry?.1.value();
                if out.iter().any(|p| p.id == id) {
                    continue;
                }
                if let Some(v) = packages.get(id)? {
                    out.push(decode(v.value(), "packages", &id.to_string())?);
                }
            }
        }
        Ok(out)
    }

    /// Packages whose name starts with `prefix` (case-insensitive), at most `limit`.
    pub fn packages_with_name_prefix(
        &self,
        prefix: &str,
        limit: usize,
    ) -> Result<Vec<PackageRecord>> {
        let txn = self.db.begin_read()?;
        let by_name = txn.open_table(PACKAGE_BY_NAME)?;
        let packages = txn.open_table(PACKAGES)?;
        let start = prefix.to_lowercase();
        let end = format!("{start}\u{10FFFF}");
        let mut out = Vec::new();
        for entry in by_name.range(start.as_str()..end.as_str())?.take(limit) {
            let id = entry?.1.value();
            if let Some(v) = packages.get(id)? {
                out.push(decode(v.value(), "packages", &id.to_string())?);
            }
        }
        Ok(out)
    }

    /// The Package→Package edges one document states.
    pub fn document_edges(
        &self,
        document: DocumentId,
    ) -> Result<Vec<(PackageId, PackageId, EdgeRecord)>> {
        let txn = self.db.begin_read()?;
        let edges = txn.open_table(EDGES)?;
        let mut out = Vec::new();
        for e in edges.range((document, 0, 0)..=(document, u64::MAX, u64::MAX))? {
            let (k, v) = e?;
            let (_, from, to) = k.value();
            out.push((
                from,
                to,
                decode(v.value(), "edges", &format!("{document}/{from}/{to}"))?,
            ));
        }
        Ok(out)
    }

    pub fn package_by_id(&self, id: PackageId) -> Result<Option<PackageRecord>> {
        let txn = self.db.begin_read()?;
        let packages = txn.open_table(PACKAGES)?;
        packages
            .get(id)?
            .map(|v| decode(v.value(), "packages", &id.to_string()))
            .transpose()
    }

    pub fn package(&self, key: &PackageKey) -> Result<Option<PackageRecord>> {
        let txn = self.db.begin_read()?;
        let by_key = txn.open_table(PACKAGE_BY_KEY)?;
        let Some(id) = by_key.get(key.as_str())?.map(|v| v.value()) else {
            return Ok(None);
        };
        let packages = txn.open_table(PACKAGES)?;
        packages
            .get(id)?
            .map(|v| decode(v.value(), "packages", &id.to_string()))
            .transpose()
    }

    /// Every version of packages called `name` (PEP 503-normalised for PyPI,
    /// case-insensitive otherwise), optionally in one ecosystem, with the
    /// deployments whose current documents list each version.
    pub fn packages_named(
        &self,
        name: &str,
        ecosystem: Option<&str>,
    ) -> Result<Vec<PackageVersion>> {
        let records = self.package_records_named(name, ecosystem)?;
        let txn = self.db.begin_read()?;
        let package_docs = txn.open_table(PACKAGE_DOCUMENTS)?;
        let documents = txn.open_table(DOCUMENTS)?;
        let mut out = Vec::with_capacity(records.len());
        for package in records {
            let mut docs = 0;
            let mut deployments = Vec::new();
            for d in documents_listing(&package_docs, &documents, package.id)? {
                if d.is_current() {
                    docs += 1;
                    if !deployments.contains(&d.deployment) {
                        deployments.push(d.deployment);
                    }
                }
            }
            deployments.sort();
            out.push(PackageVersion {
                package,
                documents: docs,
                deployments,
            });
        }
        Ok(out)
    }

    /// What `document` said about `package`.
    /// Documents (current or not) that list the package.
    pub fn package_document_ids(&self, package: PackageId) -> Result<Vec<DocumentId>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(PACKAGE_DOCUMENTS)?;
        let mut out = Vec::new();
        for entry in table.range((package, 0)..=(package, u64::MAX))? {
            out.push(entry?.0.value().1);
        }
        Ok(out)
    }

    pub fn occurrence(
        &self,
        document: DocumentId,
        package: PackageId,
    ) -> Result<Option<Occurrence>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(DOCUMENT_PACKAGES)?;
        table
            .get((document, package))?
            .map(|v| {
                Ok(Occurrence {
                    document,
                    package,
                    fact: decode(
                        v.value(),
                        "document_packages",
                        &format!("{document}/{package}"),
                    )?,
                })
            })
            .transpose()
    }

    /// All packages one document lists, with what it said about each.
    pub fn document_packages(
        &self,
        document: DocumentId,
    ) -> Result<Vec<(PackageRecord, Occurrence)>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(DOCUMENT_PACKAGES)?;
        let packages = txn.open_table(PACKAGES)?;
        let mut out = Vec::new();
        for entry in table.range((document, 0)..=(document, u64::MAX))? {
            let (k, v) = entry?;
            let (_, package) = k.value();
            let Some(p) = packages.get(package)? else {
                continue;
            };
            out.push((
                decode(p.value(), "packages", &package.to_string())?,
                Occurrence {
                    document,
                    package,
                    fact: decode(
                        v.value(),
                        "document_packages",
                        &format!("{document}/{package}"),
                    )?,
                },
            ));
        }
        Ok(out)
    }

    /// The blast radius of one package: every deployment whose documents list
    /// it, with the path from the deployment to it (see [`Self::deployments_using_page`]).
    pub fn deployments_using(
        &self,
        key: &PackageKey,
        include_history: bool,
    ) -> Result<Vec<DeploymentHit>> {
        Ok(self
            .deployments_using_page(std::slice::from_ref(key), include_history, 0, usize::MAX)?
            .1)
    }

    /// The blast radius of several packages (e.g. every version in a range):
    /// one hit per (document, package), ordered by deployment, document and
    /// package. Returns the number of hits and the hits in
    /// `offset..offset + limit`, each with its path deployment → document →
    /// subject → … → package, read from the shortest-path tree stored at
    /// ingest; only the returned page is resolved.
    pub fn deployments_using_page(
        &self,
        keys: &[PackageKey],
        include_history: bool,
        offset: usize,
        limit: usize,
    ) -> Result<(usize, Vec<DeploymentHit>)> {
        self.using_page(keys, include_history, None, offset, limit)
    }

    /// As [`Store::deployments_using_page`], for one deployment only: "the
    /// path from deployment X to the vulnerable package".
    pub fn paths_in_deployment(
        &self,
        deployment: &str,
        keys: &[PackageKey],
        include_history: bool,
        offset: usize,
        limit: usize,
    ) -> Result<(usize, Vec<DeploymentHit>)> {
        self.using_page(keys, include_history, Some(deployment), offset, limit)
    }

    fn using_page(
        &self,
        keys: &[PackageKey],
        include_history: bool,
        only: Option<&str>,
        offset: usize,
        limit: usize,
    ) -> Result<(usize, Vec<DeploymentHit>)> {
        let txn = self.db.begin_read()?;
        let by_key = txn.open_table(PACKAGE_BY_KEY)?;
        let package_docs = txn.open_table(PACKAGE_DOCUMENTS)?;
        let heads = self.heads()?;
        let head_table = txn.open_table(DOCUMENT_HEADS)?;
        let mut late: HashMap<DocumentId, records::DocHead> = HashMap::new();
        let mut refs: Vec<(&records::DocHead, u32, DocumentId, PackageId, &str)> = Vec::new();
        let mut pairs: Vec<(DocumentId, PackageId, &str)> = Vec::new();
        for key in keys {
            let Some(target) = by_key.get(key.as_str())?.map(|v| v.value()) else {
                continue;
            };
            for entry in package_docs.range((target, 0)..=(target, u64::MAX))? {
                let doc = entry?.0.value().1;
                pairs.push((doc, target, key.as_str()));
                // A document committed after the heads were read is looked up directly.
                if !heads.contains_key(&doc)
                    && !late.contains_key(&doc)
                    && let Some(v) = head_table.get(doc)?
                {
                    late.insert(doc, decode(v.value(), "document_heads", &doc.to_string())?);
                }
            }
        }
        for (doc, target, key) in pairs {
            let (head, rank) = match heads.get(&doc) {
                Some((h, r)) => (h, *r),
                None => match late.get(&doc) {
                    Some(h) => (h, u32::MAX),
                    None => continue,
                },
            };
            if (include_history || head.current) && only.is_none_or(|d| d == head.deployment) {
                refs.push((head, rank, doc, target, key));
            }
        }
        // Documents newer than the ranking (rank MAX) sort by name among themselves.
        refs.sort_by(|a, b| {
            (a.1, &a.0.deployment, a.2, a.4).cmp(&(b.1, &b.0.deployment, b.2, b.4))
        });
        let total = refs.len();
        let doc_packages = txn.open_table(DOCUMENT_PACKAGES)?;
        let packages = txn.open_table(PACKAGES)?;
        let paths = txn.open_table(DOCUMENT_PATHS)?;
        let mut key_cache: HashMap<PackageId, String> = HashMap::new();
        let mut hits = Vec::new();
        for (head, _, doc_id, target, key) in refs.into_iter().skip(offset).take(limit) {
            let fact: aibomdb_graph::PackageFact = match doc_packages.get((doc_id, target))? {
                Some(v) => decode(
                    v.value(),
                    "document_packages",
                    &format!("{doc_id}/{target}"),
                )?,
                None => continue,
            };
            let mut path = vec![
                PathStep {
                    kind: "deployment",
                    id: head.deployment.clone(),
                    via: "",
                },
                PathStep {
                    kind: "document",
                    id: format!("{doc_id} ({})", head.source_path),
                    via: "has_document",
                },
            ];
            // Walk up the parent pointers to the subject.
            let mut chain: Vec<(PackageId, &'static str)> = Vec::new();
            let mut node = target;
            let mut reached = head.subject_package == Some(target);
            while !reached && chain.len() < 10_000 {
                let Some(step) = paths.get((doc_id, node))? else {
                    break;
                };
                let (parent, kind) = step.value();
                chain.push((
                    node,
                    aibomdb_graph::EdgeKind::from_code(kind).map_or("depends_on", |k| k.as_str()),
                ));
                node = parent;
                reached = head.subject_package == Some(node);
            }
            match (reached, head.subject_package) {
                (true, Some(subject)) => {
                    path.push(PathStep {
                        kind: "package",
                        id: package_key_of(subject, &packages, &mut key_cache)?,
                        via: "describes",
                    });
                    for (id, via) in chain.into_iter().rev() {
                        path.push(PathStep {
                            kind: "package",
                            id: package_key_of(id, &packages, &mut key_cache)?,
                            via,
                        });
                    }
                }
                _ => path.push(PathStep {
                    kind: "package",
                    id: key.to_string(),
                    via: "lists",
                }),
            }
            hits.push(DeploymentHit {
                deployment: head.deployment.clone(),
                document: doc_id,
                document_path: head.source_path.clone(),
                current: head.current,
                package: key.to_string(),
                direct: fact.direct,
                scope: fact.scope.map(|s| s.as_str().to_string()),
                flags: fact.flags,
                path,
            });
        }
        Ok((total, hits))
    }

    /// A deployment's documents (history included), the union of the packages
    /// its current documents list, and why each current document leaves out
    /// what another lists. `None` when there is no such deployment.
    pub fn deployment_report(&self, name: &str) -> Result<Option<DeploymentReport>> {
        let txn = self.db.begin_read()?;
        if txn.open_table(DEPLOYMENTS)?.get(name)?.is_none() {
            return Ok(None);
        }
        let documents = txn.open_table(DOCUMENTS)?;
        let doc_packages = txn.open_table(DOCUMENT_PACKAGES)?;
        let packages = txn.open_table(PACKAGES)?;
        let edges = txn.open_table(EDGES)?;
        let mut key_cache = HashMap::new();
        let mut summaries = Vec::new();
        let mut views = Vec::new();
        for entry in txn
            .open_table(DEPLOYMENT_DOCUMENTS)?
            .range((name, 0)..=(name, u64::MAX))?
        {
            let doc_id = entry?.0.value().1;
            let Some(d) = documents.get(doc_id)? else {
                continue;
            };
            let record: DocumentRecord = decode(d.value(), "documents", &doc_id.to_string())?;
            summaries.push(report::summary(&record));
            if !record.is_current() {
                continue;
            }
            let mut listed = BTreeMap::new();
            for e in doc_packages.range((doc_id, 0)..=(doc_id, u64::MAX))? {
                let (k, v) = e?;
                let package = k.value().1;
                let fact: aibomdb_graph::PackageFact = decode(
                    v.value(),
                    "document_packages",
                    &format!("{doc_id}/{package}"),
                )?;
                listed.insert(package_key_of(package, &packages, &mut key_cache)?, fact);
            }
            let mut edge_markers: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for e in edges.range((doc_id, 0, 0)..=(doc_id, u64::MAX, u64::MAX))? {
                let (k, v) = e?;
                let (_, from, to) = k.value();
                let record: EdgeRecord =
                    decode(v.value(), "edges", &format!("{doc_id}/{from}/{to}"))?;
                if let Some(m) = record.marker {
                    let list = edge_markers
                        .entry(package_key_of(to, &packages, &mut key_cache)?)
                        .or_default();
                    if !list.contains(&m) {
                        list.push(m);
                    }
                }
            }
            views.push(report::DocumentView {
                record,
                packages: listed,
                edge_markers,
            });
        }
        let (packages, gaps) = report::packages_and_gaps(&views);
        Ok(Some(DeploymentReport {
            name: name.to_string(),
            documents: summaries,
            packages,
            gaps,
        }))
    }

    /// Document ids of a deployment, oldest first (history included).
    /// The current documents of `deployment` (one per slot), from its record:
    /// no other deployment's rows are read.
    pub fn current_documents(&self, deployment: &str) -> Result<Vec<DocumentId>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(DEPLOYMENTS)?;
        let Some(v) = table.get(deployment)? else {
            return Ok(Vec::new());
        };
        let record: DeploymentRecord = decode(v.value(), "deployments", deployment)?;
        let mut ids: Vec<DocumentId> = record.current.into_iter().map(|(_, id)| id).collect();
        ids.sort_unstable();
        Ok(ids)
    }

    pub fn deployment_documents(&self, deployment: &str) -> Result<Vec<DocumentId>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(DEPLOYMENT_DOCUMENTS)?;
        let mut out = Vec::new();
        for entry in table.range((deployment, 0)..=(deployment, u64::MAX))? {
            out.push(entry?.0.value().1);
        }
        Ok(out)
    }

    /// A fingerprint of every key and value in every table: equal fingerprints
    /// mean the same logical content (redb rewrites its header on open, so
    /// file bytes alone cannot show that nothing was written).
    pub fn content_fingerprint(&self) -> Result<u64> {
        use std::hash::{DefaultHasher, Hash, Hasher};
        fn fold<K: redb::Key + 'static, V: redb::Value + 'static>(
            txn: &redb::ReadTransaction,
            def: redb::TableDefinition<K, V>,
            h: &mut DefaultHasher,
        ) -> Result<()> {
            // A table a later version added is empty in an older store.
            let table = match txn.open_table(def) {
                Ok(t) => t,
                Err(redb::TableError::TableDoesNotExist(_)) => return Ok(()),
                Err(e) => return Err(e.into()),
            };
            for entry in table.iter()? {
                let (k, v) = entry?;
                K::as_bytes(&k.value()).as_ref().hash(h);
                V::as_bytes(&v.value()).as_ref().hash(h);
            }
            Ok(())
        }
        let txn = self.db.begin_read()?;
        let mut h = DefaultHasher::new();
        fold(&txn, META, &mut h)?;
        fold(&txn, PACKAGES, &mut h)?;
        fold(&txn, PACKAGE_BY_KEY, &mut h)?;
        fold(&txn, PACKAGE_BY_NAME, &mut h)?;
        fold(&txn, DOCUMENTS, &mut h)?;
        fold(&txn, DOCUMENT_BY_HASH, &mut h)?;
        fold(&txn, DEPLOYMENTS, &mut h)?;
        fold(&txn, DEPLOYMENT_DOCUMENTS, &mut h)?;
        fold(&txn, DOCUMENT_PACKAGES, &mut h)?;
        fold(&txn, PACKAGE_DOCUMENTS, &mut h)?;
        fold(&txn, EDGES, &mut h)?;
        fold(&txn, EDGES_REVERSE, &mut h)?;
        fold(&txn, ADVISORIES, &mut h)?;
        fold(&txn, ADVISORY_JSON, &mut h)?;
        fold(&txn, ADVISORY_IDENTIFIERS, &mut h)?;
        fold(&txn, ADVISORY_KEYS, &mut h)?;
        fold(&txn, PACKAGE_KEYS, &mut h)?;
        fold(&txn, MATCHES, &mut h)?;
        fold(&txn, MATCHES_BY_ADVISORY, &mut h)?;
        fold(&txn, VEX_STATEMENTS, &mut h)?;
        fold(&txn, DOCUMENT_BY_SERIAL, &mut h)?;
        fold(&txn, DOCUMENT_HEADS, &mut h)?;
        fold(&txn, DOCUMENT_PATHS, &mut h)?;
        fold(&txn, MODEL_NODES, &mut h)?;
        fold(&txn, APPROVALS, &mut h)?;
        fold(&txn, POLICIES, &mut h)?;
        fold(&txn, RELEASES, &mut h)?;
        fold(&txn, EVIDENCE_FILES, &mut h)?;
        fold(&txn, OBSERVATIONS, &mut h)?;
        fold(&txn, KEV, &mut h)?;
        fold(&txn, ADVISORY_SEEN, &mut h)?;
        fold(&txn, ENRICHMENT_SOURCES, &mut h)?;
        fold(&txn, DIGESTS, &mut h)?;
        Ok(h.finish())
    }

    /// Per-table entry counts, for tests that check nothing was half-written.
    pub fn table_sizes(&self) -> Result<BTreeMap<&'static str, u64>> {
        let txn = self.db.begin_read()?;
        let mut out = BTreeMap::new();
        out.insert("packages", txn.open_table(PACKAGES)?.len()?);
        out.insert("package_by_key", txn.open_table(PACKAGE_BY_KEY)?.len()?);
        out.insert("package_by_name", txn.open_table(PACKAGE_BY_NAME)?.len()?);
        out.insert("documents", txn.open_table(DOCUMENTS)?.len()?);
        out.insert("document_by_hash", txn.open_table(DOCUMENT_BY_HASH)?.len()?);
        out.insert("deployments", txn.open_table(DEPLOYMENTS)?.len()?);
        out.insert(
            "deployment_documents",
            txn.open_table(DEPLOYMENT_DOCUMENTS)?.len()?,
        );
        out.insert(
            "document_packages",
            txn.open_table(DOCUMENT_PACKAGES)?.len()?,
        );
        out.insert(
            "package_documents",
            txn.open_table(PACKAGE_DOCUMENTS)?.len()?,
        );
        out.insert("edges", txn.open_table(EDGES)?.len()?);
        out.insert("edges_reverse", txn.open_table(EDGES_REVERSE)?.len()?);
        out.insert("advisories", txn.open_table(ADVISORIES)?.len()?);
        out.insert("matches", txn.open_table(MATCHES)?.len()?);
        out.insert("vex_statements", txn.open_table(VEX_STATEMENTS)?.len()?);
        out.insert("model_nodes", txn.open_table(MODEL_NODES)?.len()?);
        out.insert("approvals", txn.open_table(APPROVALS)?.len()?);
        Ok(out)
    }
}

/// The documents that list `package`, in id order.
fn documents_listing(
    package_docs: &impl ReadableTable<(u64, u64), ()>,
    documents: &impl ReadableTable<u64, &'static [u8]>,
    package: PackageId,
) -> Result<Vec<DocumentRecord>> {
    let mut out = Vec::new();
    for entry in package_docs.range((package, 0)..=(package, u64::MAX))? {
        let doc_id = entry?.0.value().1;
        if let Some(d) = documents.get(doc_id)? {
            out.push(decode(d.value(), "documents", &doc_id.to_string())?);
        }
    }
    Ok(out)
}

fn package_key_of(
    id: PackageId,
    packages: &impl ReadableTable<u64, &'static [u8]>,
    cache: &mut HashMap<PackageId, String>,
) -> Result<String> {
    if let Some(k) = cache.get(&id) {
        return Ok(k.clone());
    }
    let key = match packages.get(id)? {
        Some(v) => decode::<PackageRecord>(v.value(), "packages", &id.to_string())?.key,
        None => format!("#{id}"),
    };
    cache.insert(id, key.clone());
    Ok(key)
}

fn next_id(meta: &mut redb::Table<&str, u64>, name: &str) -> Result<u64> {
    let id = meta.get(name)?.map_or(1, |v| v.value());
    meta.insert(name, id + 1)?;
    Ok(id)
}

fn package_record(id: PackageId, key: &PackageKey) -> PackageRecord {
    let purl = Purl::parse(key.as_str()).ok();
    PackageRecord {
        id,
        key: key.as_str().to_string(),
        ecosystem: key.ty().to_string(),
        namespace: purl.as_ref().and_then(|p| p.namespace.clone()),
        name: purl.as_ref().map(|p| p.name.clone()).unwrap_or_default(),
        version: key.version(),
    }
}

/// `name\0ecosystem\0namespace\0version`, name folded to lower case so that a
/// search by name alone is one range scan.
fn name_index_key(p: &PackageRecord) -> String {
    format!(
        "{}\0{}\0{}\0{}",
        p.name.to_lowercase(),
        p.ecosystem,
        p.namespace.as_deref().unwrap_or(""),
        p.version.as_deref().unwrap_or("")
    )
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

/// What a new document replaces: one of the same format, made by the same
/// tool, describing the same subject (container tags and versions stripped);
/// or the same file path when the document names no subject. Documents from
/// different tools for one deployment are parallel evidence, not successors.
fn slot_of(facts: &DocumentFacts, source_path: &str) -> String {
    let tool = facts
        .tools
        .first()
        .map_or_else(|| "-".to_string(), |t| t.name.to_lowercase());
    let subject = facts
        .subject
        .as_ref()
        .map(|s| s.name.trim())
        .filter(|s| !s.is_empty())
        .map(strip_tag);
    match subject {
        Some(s) => format!("{}/{tool}/{s}", facts.format.as_str()),
        None => format!("{}/{tool}/file:{source_path}", facts.format.as_str()),
    }
}

/// `alpine:3.16@sha256:…` → `alpine`; `registry:5000/app:1` → `registry:5000/app`.
/// syft 0.57 names SPDX documents `registry/repo-<tag>` (`k8s.gcr.io/kube-apiserver-v1.24.1`,
/// `…/alpine-latest`): for image references a version-like `-<tag>` suffix goes too.
fn strip_tag(name: &str) -> String {
    let name = name.split('@').next().unwrap_or(name);
    let last_slash = name.rfind('/').map_or(0, |i| i + 1);
    let name = match name[last_slash..].rfind(':') {
        Some(i) => &name[..last_slash + i],
        None => name,
    };
    if last_slash > 0
        && let Some(dash) = name[last_slash..].rfind('-')
    {
        let tag = &name[last_slash + dash + 1..];
        let digits = tag.strip_prefix('v').unwrap_or(tag);
        let version_like = digits.starts_with(|c: char| c.is_ascii_digit())
            && digits.chars().all(|c| c.is_ascii_digit() || c == '.');
        if tag == "latest" || version_like {
            return name[..last_slash + dash].to_string();
        }
    }
    name.to_string()
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

fn head_of(d: &DocumentRecord) -> records::DocHead {
    records::DocHead {
        deployment: d.deployment.clone(),
        current: d.is_current(),
        subject_package: d.subject_package,
        source_path: d.source_path.clone(),
    }
}

/// Breadth-first from `root` over the document's edges: for every reachable
/// package, the parent on one shortest path and the kind of the edge.
fn path_tree(
    facts: &DocumentFacts,
    root: usize,
) -> HashMap<usize, (usize, aibomdb_graph::EdgeKind)> {
    let mut graph: DiGraphMap<usize, aibomdb_graph::EdgeKind> = DiGraphMap::new();
    for e in &facts.dependencies {
        // `finish` sorted the edges: depends_on before contains for a pair.
        if !graph.contains_edge(e.from, e.to) {
            graph.add_edge(e.from, e.to, e.kind);
        }
    }
    let mut parents = HashMap::new();
    if !graph.contains_node(root) {
        return parents;
    }
    let mut queue = std::collections::VecDeque::from([root]);
    let mut seen = HashSet::from([root]);
    while let Some(n) = queue.pop_front() {
        for (_, next, kind) in graph.edges(n) {
            if seen.insert(next) {
                parents.insert(next, (n, *kind));
                queue.push_back(next);
            }
        }
    }
    parents
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len() / 2)
        .filter_map(|i| u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_stripped_from_subjects() {
        assert_eq!(strip_tag("alpine:3.16"), "alpine");
        assert_eq!(
            strip_tag("registry:5000/app:1.2@sha256:ab"),
            "registry:5000/app"
        );
        assert_eq!(strip_tag("a-finetune"), "a-finetune");
        assert_eq!(
            strip_tag("k8s.gcr.io/kube-apiserver-v1.24.1"),
            "k8s.gcr.io/kube-apiserver"
        );
        assert_eq!(
            strip_tag("example.com/library/alpine-latest"),
            "example.com/library/alpine"
        );
        assert_eq!(
            strip_tag("example.com/team/my-app"),
            "example.com/team/my-app"
        );
        assert_eq!(strip_tag("python-3"), "python-3");
    }
}
