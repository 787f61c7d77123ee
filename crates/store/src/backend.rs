//! The store interface: [`Backend`], what every back end implements, and
//! [`Store`], the handle the rest of the workspace holds. Callers name
//! `&Store` or `Arc<Store>` and never learn which back end is behind it: the
//! embedded redb file ([`RedbStore`], this crate) or PostgreSQL (a crate of
//! its own, which implements [`Backend`] and hands it to
//! [`Store::from_backend`]).
//!
//! Every method is synchronous and takes `&self` (but `compact`): the callers
//! (query, osv, export, policy, the API's blocking pool) are synchronous, and
//! a back end that talks to a server drives its own runtime. The list is
//! written once below; a macro makes the trait, redb's implementation (a
//! call to the inherent method of the same name, whose comment says what it
//! does) and the handle's methods from it, so the three cannot drift.

use std::collections::BTreeMap;
use std::path::Path;

use aibomdb_graph::PackageKey;

use crate::advisories::AdvisoryBatch;
use crate::copy::{Record, Restored};
use crate::{
    AdvisoryChange, AdvisoryRow, Approval, Delivery, DeploymentHit, DeploymentRecord,
    DeploymentReport, DigestHit, DocumentId, DocumentRecord, DocumentRef, EdgeRecord,
    EnrichmentSource, EpssScore, FactId, IngestOutcome, KevEntry, LineageEdge, ListedRow,
    LookupName, MatchEvent, MatchRecord, Migration, NewDocument, NotifyTarget, Observation,
    Occurrence, PackageId, PackageRecord, PackageVersion, RedbStore, Release, Result, Stats,
    StoredPolicy, VexRecord,
};
use aibomdb_graph::PackageFact;

macro_rules! interface {
    ($( fn $name:ident(&self $(, $arg:ident: $ty:ty)* $(,)?) -> $ret:ty; )*) => {
        /// What a store back end offers. See the module's comment.
        pub trait Backend: Send + Sync {
            $( fn $name(&self $(, $arg: $ty)*) -> $ret; )*
            /// Gives free space back (redb: free pages to the file system);
            /// false when there was none to give. Needs the only handle.
            fn compact(&mut self) -> Result<bool>;
            /// Where the store is, for messages: a file path or a URL
            /// without its password.
            fn location(&self) -> String;
            /// The store file, for a back end that is one.
            fn file(&self) -> Option<&Path>;
            /// Keeps [`Backend::generation`] in step with writes that other
            /// processes commit, for a process that serves answers from
            /// caches (`serve`). Nothing to do for a back end that only
            /// this process can write (redb holds its file exclusively).
            fn follow_other_writers(&self) -> Result<()> {
                Ok(())
            }
            /// Whether this process is the one that delivers notifications
            /// (several servers over one database must not each send every
            /// event). Asked before each delivery round; a process that
            /// leads keeps leading until it ends. Always, for a back end
            /// only this process can open.
            fn lead_delivery(&self) -> Result<bool> {
                Ok(true)
            }
        }

        impl Backend for RedbStore {
            $( fn $name(&self $(, $arg: $ty)*) -> $ret { RedbStore::$name(self $(, $arg)*) } )*
            fn compact(&mut self) -> Result<bool> {
                RedbStore::compact(self)
            }
            fn location(&self) -> String {
                self.path().display().to_string()
            }
            fn file(&self) -> Option<&Path> {
                Some(self.path())
            }
        }

        impl Store {
            $( #[doc = concat!("See [`RedbStore::", stringify!($name), "`].")]
               pub fn $name(&self $(, $arg: $ty)*) -> $ret { self.backend.$name($($arg),*) } )*
        }
    };
}

/// The handle every caller holds, over whichever back end.
pub struct Store {
    backend: Box<dyn Backend>,
}

impl Store {
    /// The redb store at `path`, created if absent, migrated if of an
    /// earlier layout.
    pub fn open(path: impl AsRef<Path>) -> Result<Store> {
        Ok(Store::from_backend(Box::new(RedbStore::open(path)?)))
    }

    /// What opening the redb store at `path` would migrate, without writing.
    pub fn pending_migration(path: impl AsRef<Path>) -> Result<Option<Migration>> {
        RedbStore::pending_migration(path)
    }

    pub fn from_backend(backend: Box<dyn Backend>) -> Store {
        Store { backend }
    }

    /// The back end, for readers written against the trait.
    pub fn backend(&self) -> &dyn Backend {
        &*self.backend
    }

    /// See [`Backend::compact`].
    pub fn compact(&mut self) -> Result<bool> {
        self.backend.compact()
    }

    /// See [`Backend::location`].
    pub fn location(&self) -> String {
        self.backend.location()
    }

    /// See [`Backend::follow_other_writers`].
    pub fn follow_other_writers(&self) -> Result<()> {
        self.backend.follow_other_writers()
    }

    /// See [`Backend::file`].
    pub fn file(&self) -> Option<&Path> {
        self.backend.file()
    }

    /// See [`Backend::lead_delivery`].
    pub fn lead_delivery(&self) -> Result<bool> {
        self.backend.lead_delivery()
    }
}

interface! {
    // advisories.rs
    fn advisory_changes(&self, rows: &[AdvisoryRow]) -> Result<Vec<AdvisoryChange>>;
    fn apply_advisories(&self, batch: &AdvisoryBatch<'_>) -> Result<(Vec<AdvisoryChange>, usize)>;
    fn advisory_ids(&self, identifier: &str) -> Result<Vec<String>>;
    fn advisory_seen(&self, id: &str) -> Result<Option<u64>>;
    fn advisory_json(&self, id: &str) -> Result<Option<Vec<u8>>>;
    fn advisories_for_key(&self, key: &str) -> Result<Vec<(String, Vec<u8>)>>;
    fn advisories_for_keys(&self, keys: &[&str]) -> Result<Vec<(String, String, Vec<u8>)>>;
    fn packages_for_key(&self, key: &str) -> Result<Vec<(PackageRecord, Vec<LookupName>)>>;
    fn replace_advisory_matches(&self, advisory: &str, matches: &[MatchRecord]) -> Result<()>;
    fn replace_matches_of(&self, advisories: &[String], matches: &crate::MatchRows, since: Option<crate::WriteMarks>, late: Option<&crate::LateRematch<'_>>) -> Result<()>;
    fn matches_for_package(&self, package: PackageId) -> Result<Vec<MatchRecord>>;
    fn matches_for_packages(&self, packages: &[PackageId]) -> Result<Vec<Vec<MatchRecord>>>;
    fn matches_for_advisory(&self, advisory: &str) -> Result<Vec<MatchRecord>>;
    fn matched_package_ids(&self) -> Result<Vec<PackageId>>;
    fn all_advisories(&self) -> Result<Vec<(String, Vec<u8>)>>;
    fn advisory_count(&self) -> Result<u64>;
    fn feed_state(&self, key: &str) -> Result<Option<Vec<u8>>>;
    fn feed_states(&self) -> Result<Vec<(String, Vec<u8>)>>;
    // blast.rs
    fn deployments_using(&self, key: &PackageKey, include_history: bool) -> Result<Vec<DeploymentHit>>;
    fn deployments_using_page(&self, keys: &[PackageKey], include_history: bool, offset: usize, limit: usize) -> Result<(usize, Vec<DeploymentHit>)>;
    fn paths_in_deployment(&self, deployment: &str, keys: &[PackageKey], include_history: bool, offset: usize, limit: usize) -> Result<(usize, Vec<DeploymentHit>)>;
    fn paths_in_documents(&self, documents: &[&DocumentRecord], targets: &[PackageId]) -> Result<Vec<DeploymentHit>>;
    // copy/
    fn dump(&self, sink: &mut dyn FnMut(Record) -> Result<()>) -> Result<()>;
    fn restore(&self, records: &mut dyn Iterator<Item = Result<Record>>) -> Result<Restored>;
    // delete.rs
    fn delete_deployment(&self, name: &str) -> Result<bool>;
    // digests.rs
    fn by_sha256(&self, sha256: &str) -> Result<Vec<DigestHit>>;
    // enrichment.rs
    fn put_kev(&self, source: &EnrichmentSource, entries: &[KevEntry]) -> Result<()>;
    fn kev(&self, cve: &str) -> Result<Option<KevEntry>>;
    fn put_epss(&self, source: &EnrichmentSource, scores: &[(String, EpssScore)]) -> Result<()>;
    fn epss(&self, cve: &str) -> Result<Option<EpssScore>>;
    fn enrichment_source(&self, name: &str) -> Result<Option<EnrichmentSource>>;
    // heads.rs
    fn persist_heads(&self) -> Result<bool>;
    // inspect.rs
    fn content_fingerprint(&self) -> Result<u64>;
    fn table_sizes(&self) -> Result<BTreeMap<String, (u64, u64)>>;
    // lib.rs
    fn generation(&self) -> u64;
    fn answer_generation(&self) -> u64;
    // models.rs
    fn model_nodes(&self, node: &str) -> Result<Vec<PackageRecord>>;
    fn lineage_from(&self, package: PackageId) -> Result<Vec<LineageEdge>>;
    fn lineage_to(&self, package: PackageId) -> Result<Vec<LineageEdge>>;
    fn approve(&self, model_purl: &str, approval: &Approval) -> Result<()>;
    fn approvals(&self, model_purl: &str) -> Result<Vec<Approval>>;
    // notify.rs
    fn add_listener(&self) -> ();
    fn remove_listener(&self) -> ();
    fn event_rings(&self) -> u64;
    fn wait_for_events(&self, seen: u64, timeout: std::time::Duration) -> u64;
    fn put_notify_target(&self, target: &NotifyTarget) -> Result<()>;
    fn remove_notify_target(&self, name: &str) -> Result<bool>;
    fn notify_targets(&self) -> Result<Vec<NotifyTarget>>;
    fn notify_cursor(&self, target: &str) -> Result<u64>;
    fn events_after(&self, seq: u64, limit: usize) -> Result<Vec<MatchEvent>>;
    fn last_event_seq(&self) -> Result<u64>;
    fn record_delivery(&self, delivery: &Delivery) -> Result<()>;
    fn prune_outbox(&self, before: u64) -> Result<usize>;
    fn delivery(&self, target: &str, event: u64) -> Result<Option<Delivery>>;
    fn deliveries(&self, target: Option<&str>, limit: usize) -> Result<Vec<Delivery>>;
    fn requeue_dead(&self, target: &str, event: Option<u64>) -> Result<Option<Vec<u64>>>;
    fn requeued(&self, target: &str) -> Result<Vec<u64>>;
    fn event(&self, seq: u64) -> Result<Option<MatchEvent>>;
    // open.rs
    fn migration(&self) -> Option<&Migration>;
    // policies.rs
    fn put_policy(&self, policy: &StoredPolicy) -> Result<()>;
    fn policy(&self, name: &str) -> Result<Option<StoredPolicy>>;
    fn policies(&self) -> Result<Vec<StoredPolicy>>;
    fn remove_policy(&self, name: &str) -> Result<bool>;
    // read.rs
    fn stats(&self) -> Result<Stats>;
    fn document(&self, id: DocumentId) -> Result<Option<DocumentRecord>>;
    fn documents(&self) -> Result<Vec<DocumentRecord>>;
    fn current_document_refs_among(&self, ids: &[DocumentId]) -> Result<Vec<DocumentRef>>;
    fn has_deployment(&self, name: &str) -> Result<bool>;
    fn write_marks(&self) -> Result<crate::WriteMarks>;
    fn deployments(&self) -> Result<Vec<DeploymentRecord>>;
    fn package_records_named(&self, name: &str, ecosystem: Option<&str>) -> Result<Vec<PackageRecord>>;
    fn packages_with_name_prefix(&self, prefix: &str, limit: usize) -> Result<Vec<PackageRecord>>;
    fn document_edges(&self, document: DocumentId) -> Result<Vec<(PackageId, PackageId, EdgeRecord)>>;
    fn package_by_id(&self, id: PackageId) -> Result<Option<PackageRecord>>;
    fn package(&self, key: &PackageKey) -> Result<Option<PackageRecord>>;
    fn packages_named(&self, name: &str, ecosystem: Option<&str>) -> Result<Vec<PackageVersion>>;
    fn package_document_ids(&self, package: PackageId) -> Result<Vec<DocumentId>>;
    fn package_document_ids_among(&self, packages: &[PackageId]) -> Result<Vec<Vec<DocumentId>>>;
    fn occurrence(&self, document: DocumentId, package: PackageId) -> Result<Option<Occurrence>>;
    fn document_package_records(&self, document: DocumentId) -> Result<Vec<PackageRecord>>;
    fn document_listing(&self, document: DocumentId) -> Result<Vec<ListedRow>>;
    fn packages_by_ids(&self, ids: &[PackageId]) -> Result<Vec<PackageRecord>>;
    fn facts_by_ids(&self, ids: &[FactId]) -> Result<Vec<(FactId, PackageFact)>>;
    fn document_packages(&self, document: DocumentId) -> Result<Vec<(PackageRecord, Occurrence)>>;
    fn current_documents(&self, deployment: &str) -> Result<Vec<DocumentId>>;
    fn deployment_documents(&self, deployment: &str) -> Result<Vec<DocumentId>>;
    // releases.rs
    fn put_release(&self, release: &Release, files: &[(String, Vec<u8>)]) -> Result<Release>;
    fn releases(&self, deployment: &str) -> Result<Vec<Release>>;
    fn latest_release(&self, deployment: &str) -> Result<Option<Release>>;
    fn release(&self, deployment: &str, name: &str) -> Result<Option<Release>>;
    fn evidence_file(&self, sha256: &str) -> Result<Option<Vec<u8>>>;
    fn put_observations(&self, batch: &[Observation]) -> Result<Vec<Observation>>;
    fn observations(&self, deployment: &str) -> Result<Vec<Observation>>;
    fn latest_observation(&self, deployment: &str) -> Result<Option<Observation>>;
    // report.rs
    fn deployment_report(&self, name: &str) -> Result<Option<DeploymentReport>>;
    // vex.rs
    fn vex_for(&self, identifiers: &[String]) -> Result<Vec<VexRecord>>;
    fn all_vex(&self) -> Result<Vec<VexRecord>>;
    fn documents_with_serial(&self, serial: &str) -> Result<Vec<DocumentId>>;
    // write.rs
    fn ingest(&self, doc: NewDocument) -> Result<IngestOutcome>;
    fn ingest_batch(&self, docs: &[NewDocument]) -> Result<Vec<IngestOutcome>>;
}
