//! [`PgStore`]: the store interface over PostgreSQL. Reads go through one
//! shared connection (tokio-postgres pipelines concurrent statements on it);
//! writes through a second, one transaction at a time.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use aibomdb_graph::{PackageFact, PackageKey};
use aibomdb_store::{
    AdvisoryBatch, AdvisoryChange, AdvisoryRow, Approval, Backend, Delivery, DeploymentHit,
    DeploymentRecord, DeploymentReport, DigestHit, DocumentId, DocumentRecord, DocumentRef,
    EdgeRecord, EnrichmentSource, EpssScore, FactId, IngestOutcome, KevEntry, LineageEdge,
    ListedRow, LookupName, MatchEvent, MatchRecord, Migration, NewDocument, NotifyTarget,
    Observation, Occurrence, PackageId, PackageRecord, PackageVersion, Release, Stats, StoreError,
    StoredPolicy, VexRecord,
};

use crate::write::WriteCache;
use crate::{Database, backend};
use aibomdb_store::copy::{Record, Restored};

pub(crate) type Result<T> = std::result::Result<T, StoreError>;

/// Errors of the driver, as the store reports them.
pub(crate) trait Pg<T> {
    fn pg(self) -> Result<T>;
}

impl<T> Pg<T> for std::result::Result<T, tokio_postgres::Error> {
    fn pg(self) -> Result<T> {
        self.map_err(backend)
    }
}

/// The PostgreSQL store. Open it with [`PgStore::open`] and hand it to
/// `aibomdb_store::Store::from_backend`.
pub struct PgStore {
    /// The primary: the runtime, and the connection reads use when there is
    /// no replica.
    pub(crate) db: Database,
    /// A streaming replica that reads go to instead (`serve --read-db`).
    replica: Option<(tokio_postgres::Client, String)>,
    replica_url: Option<String>,
    /// The writer's connection: one transaction at a time per process
    /// (other processes are kept in order by the database's locks).
    pub(crate) writer: Mutex<tokio_postgres::Client>,
    /// Package and fact ids this process has seen: they never change.
    pub(crate) write_cache: Mutex<WriteCache>,
    /// The database's write counter (`meta.generation`) as last seen: what
    /// the caches key on. Raised by this process's commits and, once
    /// [`Backend::follow_other_writers`] is called, by a poll that sees
    /// other processes' commits.
    pub(crate) generation: Arc<AtomicU64>,
    pub(crate) following: std::sync::atomic::AtomicBool,
    /// Document heads for blast-radius answers, while following the counter.
    /// (An async lock: it is held while the heads catch up.)
    pub(crate) heads: tokio::sync::Mutex<crate::heads::Heads>,
    /// Rows, facts and keys read before: they never change.
    pub(crate) immutable: crate::cache::Immutable,
    /// Occurrence rows this process has written since it last ran VACUUM (ANALYZE).
    pub(crate) written_since_analyze: AtomicU64,
    /// Reads prepared on the read connection, by their SQL, with the read
    /// connection's epoch they were prepared on.
    pub(crate) statements:
        Mutex<std::collections::HashMap<String, (u64, tokio_postgres::Statement)>>,
    /// The read connection made after the first was lost (the database
    /// restarted, or failed over), with its epoch (1, 2, …); `None`: the
    /// first (epoch 0) still serves.
    pub(crate) reconnected: std::sync::RwLock<Option<(u64, Arc<tokio_postgres::Client>)>>,
    /// What wakes those who wait for events, and this process's listeners
    /// (`notify.rs`).
    pub(crate) bell: Arc<crate::notify::EventBell>,
    /// The connection holding the delivery lock, once this process leads.
    pub(crate) delivery_leader: Mutex<crate::notify::DeliveryLeader>,
    /// `meta.notify_generation` as last seen: raised by notification
    /// bookkeeping, which changes no answer about the graph.
    pub(crate) notify_generation: Arc<AtomicU64>,
    /// The primary's read connection made again, when reads go to a replica
    /// and the first was lost (`notify.rs`).
    pub(crate) primary_again: Mutex<Option<Arc<tokio_postgres::Client>>>,
}

/// The connection reads go through, and its epoch.
pub(crate) enum ReadConnection<'a> {
    First(&'a tokio_postgres::Client),
    Again(u64, Arc<tokio_postgres::Client>),
}

impl ReadConnection<'_> {
    pub(crate) fn epoch(&self) -> u64 {
        match self {
            ReadConnection::First(_) => 0,
            ReadConnection::Again(epoch, _) => *epoch,
        }
    }
}

impl std::ops::Deref for ReadConnection<'_> {
    type Target = tokio_postgres::Client;
    fn deref(&self) -> &tokio_postgres::Client {
        match self {
            ReadConnection::First(c) => c,
            ReadConnection::Again(_, c) => c,
        }
    }
}

/// Occurrence rows written in one run from which the run ends with VACUUM (ANALYZE).
const ANALYZE_AFTER_ROWS: u64 = 50_000;

/// How often a serving process reads the write counter: with the replica's
/// lag, the bound on how long another process's commit can go unseen.
pub const FOLLOW_EVERY: std::time::Duration = std::time::Duration::from_millis(100);

impl PgStore {
    /// Connects to `url` and brings its schema up to date (the migrations
    /// are applied at start, under an advisory lock, as `aibomdb migrate`
    /// applies them). A database newer than this build is refused.
    pub fn open(url: &str) -> Result<PgStore> {
        PgStore::open_with_replica(url, None)
    }

    /// As [`PgStore::open`], reading from the streaming replica at
    /// `read_url` when given (writes still go to `url`).
    pub fn open_with_replica(url: &str, read_url: Option<&str>) -> Result<PgStore> {
        let mut db = Database::connect(url)?;
        // Migrated only when behind: a role without CREATE on the schema can
        // still read and write a database that is up to date.
        let status = db.status()?;
        let applied = if status.pending.is_empty() {
            Vec::new()
        } else {
            db.migrate()?
        };
        if !applied.is_empty() {
            tracing::info!(
                "applied {} schema migration(s) to {}",
                applied.len(),
                db.location()
            );
        }
        let writer = db.another_client()?;
        let replica = match read_url {
            Some(read_url) => Some(db.client_of(read_url)?),
            None => None,
        };
        let store = PgStore {
            db,
            replica,
            replica_url: read_url.map(str::to_string),
            writer: Mutex::new(writer),
            write_cache: Mutex::new(WriteCache::default()),
            generation: Arc::new(AtomicU64::new(0)),
            following: std::sync::atomic::AtomicBool::new(false),
            heads: tokio::sync::Mutex::new(crate::heads::Heads::default()),
            immutable: crate::cache::Immutable::default(),
            statements: Mutex::new(std::collections::HashMap::new()),
            reconnected: std::sync::RwLock::new(None),
            written_since_analyze: AtomicU64::new(0),
            bell: Arc::default(),
            delivery_leader: Mutex::default(),
            notify_generation: Arc::default(),
            primary_again: Mutex::new(None),
        };
        let now = store.block_on(read_generation(&store.client()))?;
        store.generation.store(now, Ordering::Release);
        Ok(store)
    }

    /// Runs `f` to completion on the store's runtime. Never call it from
    /// inside an async task.
    pub(crate) fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.db.rt().block_on(f)
    }

    /// The connection reads go through: the replica's, when there is one;
    /// the one made again when the first was lost.
    pub(crate) fn client(&self) -> ReadConnection<'_> {
        if let Ok(again) = self.reconnected.read()
            && let Some((epoch, client)) = again.as_ref()
        {
            return ReadConnection::Again(*epoch, client.clone());
        }
        match &self.replica {
            Some((client, _)) => ReadConnection::First(client),
            None => ReadConnection::First(&self.db.client),
        }
    }

    /// Makes the read connection again after `lost` (an epoch) closed: a
    /// restarted or failed-over database is read again without restarting
    /// this process. Another thread may have made it already.
    pub(crate) async fn reconnect_reads(&self, lost: u64) -> Result<()> {
        if self.client().epoch() != lost {
            return Ok(());
        }
        let config = match &self.replica_url {
            Some(url) => crate::parse(url)?.0,
            None => self.db.endpoint.clone(),
        };
        let client = crate::reconnect(&config).await.ok_or_else(|| {
            StoreError::Backend(format!(
                "the connection to {} was lost and could not be made again",
                self.db.location()
            ))
        })?;
        let mut again = self
            .reconnected
            .write()
            .map_err(|_| crate::read::poisoned())?;
        let current = again.as_ref().map_or(0, |(e, _)| *e);
        if current == lost {
            *again = Some((lost + 1, Arc::new(client)));
            tracing::warn!("reading {} again on a new connection", self.db.location());
        }
        Ok(())
    }

    /// The writer's connection, made again first when it was lost (a write
    /// under way when the database went away fails; the next one goes
    /// through).
    pub(crate) fn writer(&self) -> Result<std::sync::MutexGuard<'_, tokio_postgres::Client>> {
        let mut writer = self.writer.lock().map_err(|_| crate::read::poisoned())?;
        if writer.is_closed() {
            *writer = self.db.another_client()?;
            tracing::warn!("writing to {} on a new connection", self.db.location());
        }
        Ok(writer)
    }

    /// After a commit that raised the write counter to `generation`. With a
    /// replica, the counter is taken only from the replica (by the poll),
    /// so that no answer is cached under a generation whose writes the
    /// replica has not replayed yet.
    pub(crate) fn committed(&self, generation: Option<u64>) {
        if let Some(g) = generation
            && self.replica.is_none()
        {
            self.generation.fetch_max(g, Ordering::AcqRel);
        }
    }

    /// Whether reads go to a streaming replica.
    pub(crate) fn has_replica(&self) -> bool {
        self.replica.is_some()
    }
}

impl Backend for PgStore {
    // Notifications (`notify.rs`).
    fn put_notify_target(&self, target: &NotifyTarget) -> Result<()> {
        self.put_target(target)
    }
    fn remove_notify_target(&self, name: &str) -> Result<bool> {
        self.remove_target(name)
    }
    fn notify_cursor(&self, target: &str) -> Result<u64> {
        self.cursor(target)
    }
    fn events_after(&self, seq: u64, limit: usize) -> Result<Vec<MatchEvent>> {
        self.outbox_after(seq, limit)
    }
    fn record_delivery(&self, delivery: &Delivery) -> Result<()> {
        self.log_delivery(delivery)
    }
    fn prune_outbox(&self, before: u64) -> Result<usize> {
        self.prune(before)
    }
    fn delivery(&self, target: &str, event: u64) -> Result<Option<Delivery>> {
        self.delivery_of(target, event)
    }
    fn deliveries(&self, target: Option<&str>, limit: usize) -> Result<Vec<Delivery>> {
        self.delivery_log(target, limit)
    }
    fn requeue_dead(&self, target: &str, event: Option<u64>) -> Result<Option<Vec<u64>>> {
        self.requeue(target, event)
    }
    fn requeued(&self, target: &str) -> Result<Vec<u64>> {
        self.queued_for(target)
    }
    fn event(&self, seq: u64) -> Result<Option<MatchEvent>> {
        self.outbox_event(seq)
    }

    // Copies between back ends.
    fn dump(&self, sink: &mut dyn FnMut(Record) -> Result<()>) -> Result<()> {
        self.dump_records(sink)
    }
    fn restore(&self, records: &mut dyn Iterator<Item = Result<Record>>) -> Result<Restored> {
        self.restore_records(records)
    }

    // Advisories and matches.
    fn advisory_changes(&self, rows: &[AdvisoryRow]) -> Result<Vec<AdvisoryChange>> {
        self.changes(rows)
    }
    fn apply_advisories(&self, batch: &AdvisoryBatch<'_>) -> Result<(Vec<AdvisoryChange>, usize)> {
        self.apply(batch)
    }
    fn advisories_for_key(&self, key: &str) -> Result<Vec<(String, Vec<u8>)>> {
        self.advisories_under(key)
    }
    fn packages_for_key(&self, key: &str) -> Result<Vec<(PackageRecord, Vec<LookupName>)>> {
        self.packages_keyed(key)
    }
    fn replace_advisory_matches(&self, advisory: &str, matches: &[MatchRecord]) -> Result<()> {
        self.replace_matches_of_advisories(
            &[advisory.to_string()],
            &aibomdb_store::MatchRows::from_records(matches),
            None,
            None,
        )
    }
    fn replace_matches_of(
        &self,
        advisories: &[String],
        matches: &aibomdb_store::MatchRows,
        since: Option<aibomdb_store::WriteMarks>,
        late: Option<&aibomdb_store::LateRematch<'_>>,
    ) -> Result<()> {
        self.replace_matches_of_advisories(advisories, matches, since, late)
    }
    fn all_advisories(&self) -> Result<Vec<(String, Vec<u8>)>> {
        self.every_advisory()
    }
    fn feed_state(&self, key: &str) -> Result<Option<Vec<u8>>> {
        self.feed(key)
    }
    fn feed_states(&self) -> Result<Vec<(String, Vec<u8>)>> {
        self.feeds()
    }
    fn all_vex(&self) -> Result<Vec<VexRecord>> {
        self.every_vex_statement()
    }
    // Governance.
    fn delete_deployment(&self, name: &str) -> Result<bool> {
        self.delete(name)
    }
    fn put_kev(&self, source: &EnrichmentSource, entries: &[KevEntry]) -> Result<()> {
        self.replace_kev(source, entries)
    }
    fn put_epss(&self, source: &EnrichmentSource, scores: &[(String, EpssScore)]) -> Result<()> {
        self.replace_epss(source, scores)
    }
    fn put_policy(&self, policy: &StoredPolicy) -> Result<()> {
        self.store_policy(policy)
    }
    fn remove_policy(&self, name: &str) -> Result<bool> {
        self.drop_policy(name)
    }
    fn put_release(&self, release: &Release, files: &[(String, Vec<u8>)]) -> Result<Release> {
        self.store_release(release, files)
    }
    fn evidence_file(&self, sha256: &str) -> Result<Option<Vec<u8>>> {
        self.evidence(sha256)
    }
    fn put_observations(&self, batch: &[Observation]) -> Result<Vec<Observation>> {
        self.append_observations(batch)
    }
    fn observations(&self, deployment: &str) -> Result<Vec<Observation>> {
        self.observations_of(deployment)
    }
    fn advisory_ids(&self, identifier: &str) -> Result<Vec<String>> {
        self.strings(
            "SELECT advisory_id FROM advisory_identifiers WHERE identifier = $1 ORDER BY advisory_id",
            identifier,
        )
    }
    fn advisory_seen(&self, id: &str) -> Result<Option<u64>> {
        self.advisory_seen_at(id)
    }
    fn advisory_json(&self, id: &str) -> Result<Option<Vec<u8>>> {
        self.blob("SELECT json FROM advisories WHERE id = $1", id)
    }
    fn advisories_for_keys(&self, keys: &[&str]) -> Result<Vec<(String, String, Vec<u8>)>> {
        self.advisories_keyed(keys)
    }
    fn matches_for_package(&self, package: PackageId) -> Result<Vec<MatchRecord>> {
        Ok(self.matches_of(&[package])?.remove(0))
    }
    fn matches_for_packages(&self, packages: &[PackageId]) -> Result<Vec<Vec<MatchRecord>>> {
        self.matches_of(packages)
    }
    fn matches_for_advisory(&self, advisory: &str) -> Result<Vec<MatchRecord>> {
        self.matches_naming(advisory)
    }
    fn matched_package_ids(&self) -> Result<Vec<PackageId>> {
        self.matched_packages()
    }
    fn advisory_count(&self) -> Result<u64> {
        self.count("SELECT count(*) FROM advisories")
    }
    fn kev(&self, cve: &str) -> Result<Option<KevEntry>> {
        self.decoded("SELECT entry FROM kev WHERE cve = $1", cve, "kev")
    }
    fn epss(&self, cve: &str) -> Result<Option<EpssScore>> {
        self.decoded("SELECT score FROM epss WHERE cve = $1", cve, "epss")
    }
    fn enrichment_source(&self, name: &str) -> Result<Option<EnrichmentSource>> {
        self.decoded(
            "SELECT source FROM enrichment_sources WHERE name = $1",
            name,
            "enrichment_sources",
        )
    }
    fn notify_targets(&self) -> Result<Vec<NotifyTarget>> {
        self.targets()
    }
    fn last_event_seq(&self) -> Result<u64> {
        self.last_seq()
    }
    fn policy(&self, name: &str) -> Result<Option<StoredPolicy>> {
        self.decoded(
            "SELECT policy FROM policies WHERE name = $1",
            name,
            "policies",
        )
    }
    fn policies(&self) -> Result<Vec<StoredPolicy>> {
        self.all_decoded("SELECT policy FROM policies ORDER BY name", "policies")
    }
    fn releases(&self, deployment: &str) -> Result<Vec<Release>> {
        self.releases_of(deployment)
    }
    fn latest_release(&self, deployment: &str) -> Result<Option<Release>> {
        // The highest sequence, as redb: clocks of servers may disagree.
        Ok(self.releases_of(deployment)?.pop())
    }
    fn release(&self, deployment: &str, name: &str) -> Result<Option<Release>> {
        Ok(self
            .releases_of(deployment)?
            .into_iter()
            .find(|r| r.name == name))
    }
    fn latest_observation(&self, deployment: &str) -> Result<Option<Observation>> {
        self.decoded(
            "SELECT observation FROM observations WHERE deployment = $1 ORDER BY seq DESC LIMIT 1",
            deployment,
            "observations",
        )
    }
    fn vex_for(&self, identifiers: &[String]) -> Result<Vec<VexRecord>> {
        self.vex_statements_for(identifiers)
    }
    fn documents_with_serial(&self, serial: &str) -> Result<Vec<DocumentId>> {
        self.serial_documents(serial)
    }

    // The graph.
    fn deployments_using(
        &self,
        key: &PackageKey,
        include_history: bool,
    ) -> Result<Vec<DeploymentHit>> {
        Ok(self
            .using_page(
                std::slice::from_ref(key),
                include_history,
                None,
                0,
                usize::MAX,
            )?
            .1)
    }
    fn deployments_using_page(
        &self,
        keys: &[PackageKey],
        include_history: bool,
        offset: usize,
        limit: usize,
    ) -> Result<(usize, Vec<DeploymentHit>)> {
        self.using_page(keys, include_history, None, offset, limit)
    }
    fn paths_in_deployment(
        &self,
        deployment: &str,
        keys: &[PackageKey],
        include_history: bool,
        offset: usize,
        limit: usize,
    ) -> Result<(usize, Vec<DeploymentHit>)> {
        self.using_page(keys, include_history, Some(deployment), offset, limit)
    }
    fn paths_in_documents(
        &self,
        documents: &[&DocumentRecord],
        targets: &[PackageId],
    ) -> Result<Vec<DeploymentHit>> {
        self.paths_within(documents, targets)
    }
    fn by_sha256(&self, sha256: &str) -> Result<Vec<DigestHit>> {
        self.digest_hits(sha256)
    }
    fn persist_heads(&self) -> Result<bool> {
        // Called after an ingest run that stored something, so that the
        // next reads are fast. What they need after a bulk load is fresh
        // planner statistics, and the visibility map that lets the blast
        // radius read `occurrences` from its index alone (without it, every
        // row costs a visit to the table): autovacuum gets there, but some
        // time later. Small runs leave it to autovacuum.
        if self.written_since_analyze.load(Ordering::Acquire) < ANALYZE_AFTER_ROWS {
            return Ok(false);
        }
        let writer = self.writer()?;
        self.block_on(writer.batch_execute(
            "VACUUM (ANALYZE) documents, occurrences, packages, facts, package_keys, matches",
        ))
        .pg()?;
        self.written_since_analyze.store(0, Ordering::Release);
        Ok(true)
    }
    fn content_fingerprint(&self) -> Result<u64> {
        self.fingerprint()
    }
    fn table_sizes(&self) -> Result<BTreeMap<String, (u64, u64)>> {
        self.sizes()
    }
    fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }
    fn follow_other_writers(&self) -> Result<()> {
        if self.following.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let (config, location) = match &self.replica_url {
            Some(url) => crate::parse(url)?,
            None => (self.db.endpoint.clone(), self.db.location().to_string()),
        };
        let mut client = Some(crate::connect_async_client(&self.db, &config, &location)?);
        let counter = self.generation.clone();
        let notify_counter = self.notify_generation.clone();
        let bell = self.bell.clone();
        self.db.rt().spawn(async move {
            let mut failing = false;
            loop {
                tokio::time::sleep(FOLLOW_EVERY).await;
                if client
                    .as_ref()
                    .is_none_or(tokio_postgres::Client::is_closed)
                {
                    client = crate::reconnect(&config).await;
                }
                let read = match &client {
                    Some(c) => read_counters(c).await,
                    None => Err(StoreError::Backend("no connection".into())),
                };
                match read {
                    Ok((g, next_event, notify_g)) => {
                        bell.saw_next_seq(next_event);
                        notify_counter.fetch_max(notify_g, Ordering::AcqRel);
                        counter.fetch_max(g, Ordering::AcqRel);
                        if failing {
                            tracing::info!("reading the write counter of {location} again");
                            failing = false;
                        }
                    }
                    Err(e) => {
                        // Unseen writes may be happening: no cached answer
                        // may be served while the counter cannot be read.
                        counter.fetch_add(1, Ordering::AcqRel);
                        if !failing {
                            tracing::warn!("reading the write counter of {location}: {e}");
                            failing = true;
                        }
                        client = None;
                    }
                }
            }
        });
        Ok(())
    }
    fn lead_delivery(&self) -> Result<bool> {
        self.leads_delivery()
    }
    fn answer_generation(&self) -> u64 {
        self.generation
            .load(Ordering::Acquire)
            .wrapping_add(self.notify_generation.load(Ordering::Acquire))
    }
    fn model_nodes(&self, node: &str) -> Result<Vec<PackageRecord>> {
        self.model_node_records(node)
    }
    fn lineage_from(&self, package: PackageId) -> Result<Vec<LineageEdge>> {
        self.lineage(package, true)
    }
    fn lineage_to(&self, package: PackageId) -> Result<Vec<LineageEdge>> {
        self.lineage(package, false)
    }
    fn approve(&self, model_purl: &str, approval: &Approval) -> Result<()> {
        self.put_approval(model_purl, approval)
    }
    fn approvals(&self, model_purl: &str) -> Result<Vec<Approval>> {
        self.approvals_of(model_purl)
    }
    fn add_listener(&self) {
        self.listen();
    }
    fn remove_listener(&self) {
        self.unlisten();
    }
    fn event_rings(&self) -> u64 {
        self.rings()
    }
    fn wait_for_events(&self, seen: u64, timeout: std::time::Duration) -> u64 {
        self.wait_rings(seen, timeout)
    }
    fn migration(&self) -> Option<&Migration> {
        None
    }
    fn stats(&self) -> Result<Stats> {
        self.counts()
    }
    fn document(&self, id: DocumentId) -> Result<Option<DocumentRecord>> {
        self.document_record(id)
    }
    fn documents(&self) -> Result<Vec<DocumentRecord>> {
        self.all_documents()
    }
    fn current_document_refs_among(&self, ids: &[DocumentId]) -> Result<Vec<DocumentRef>> {
        self.current_refs(ids)
    }
    fn has_deployment(&self, name: &str) -> Result<bool> {
        Ok(self.count_with("SELECT count(*) FROM deployments WHERE name = $1", name)? > 0)
    }
    fn write_marks(&self) -> Result<aibomdb_store::WriteMarks> {
        // From the connection the reads go through: the marks must be no
        // newer than the advisories the caller reads after them.
        let rows = self.block_on(self.rows(
            "SELECT key, value FROM meta WHERE key IN ($1, $2, 'next_package_id')",
            &[
                &aibomdb_store::ADVISORIES_VERSION,
                &aibomdb_store::PACKAGE_KEYS_VERSION,
            ],
        ))?;
        let mut marks = aibomdb_store::WriteMarks {
            advisories: 0,
            next_package: 1,
            package_keys: 0,
        };
        for r in &rows {
            let value = r.get::<_, i64>(1) as u64;
            match r.get::<_, &str>(0) {
                "next_package_id" => marks.next_package = value.max(1),
                aibomdb_store::PACKAGE_KEYS_VERSION => marks.package_keys = value,
                _ => marks.advisories = value,
            }
        }
        Ok(marks)
    }
    fn deployments(&self) -> Result<Vec<DeploymentRecord>> {
        self.all_decoded(
            "SELECT record FROM deployments ORDER BY name",
            "deployments",
        )
    }
    fn package_records_named(
        &self,
        name: &str,
        ecosystem: Option<&str>,
    ) -> Result<Vec<PackageRecord>> {
        self.named(name, ecosystem)
    }
    fn packages_with_name_prefix(&self, prefix: &str, limit: usize) -> Result<Vec<PackageRecord>> {
        self.prefixed(prefix, limit)
    }
    fn document_edges(
        &self,
        document: DocumentId,
    ) -> Result<Vec<(PackageId, PackageId, EdgeRecord)>> {
        let Some(rows) = self.rows_of(document)? else {
            return Ok(Vec::new());
        };
        Ok(rows
            .edges
            .iter()
            .map(|e| (rows.id_at(e.from), rows.id_at(e.to), e.record.clone()))
            .collect())
    }
    fn package_by_id(&self, id: PackageId) -> Result<Option<PackageRecord>> {
        Ok(self.packages_by_ids(&[id])?.pop())
    }
    fn package(&self, key: &PackageKey) -> Result<Option<PackageRecord>> {
        self.decoded(
            "SELECT record FROM packages WHERE key = $1",
            key.as_str(),
            "packages",
        )
    }
    fn packages_named(&self, name: &str, ecosystem: Option<&str>) -> Result<Vec<PackageVersion>> {
        self.versions_named(name, ecosystem)
    }
    fn package_document_ids(&self, package: PackageId) -> Result<Vec<DocumentId>> {
        Ok(self.documents_listing(&[package])?.remove(0))
    }
    fn package_document_ids_among(&self, packages: &[PackageId]) -> Result<Vec<Vec<DocumentId>>> {
        self.documents_listing(packages)
    }
    fn occurrence(&self, document: DocumentId, package: PackageId) -> Result<Option<Occurrence>> {
        self.occurrence_of(document, package)
    }
    fn document_package_records(&self, document: DocumentId) -> Result<Vec<PackageRecord>> {
        let Some(rows) = self.rows_of(document)? else {
            return Ok(Vec::new());
        };
        let ids: Vec<PackageId> = rows.packages.iter().map(|r| r.id).collect();
        self.packages_by_ids(&ids)
    }
    fn document_listing(&self, document: DocumentId) -> Result<Vec<ListedRow>> {
        let Some(rows) = self.rows_of(document)? else {
            return Ok(Vec::new());
        };
        Ok(aibomdb_store::kit::listing(&rows))
    }
    fn packages_by_ids(&self, ids: &[PackageId]) -> Result<Vec<PackageRecord>> {
        self.package_records(ids)
    }
    fn facts_by_ids(&self, ids: &[FactId]) -> Result<Vec<(FactId, PackageFact)>> {
        self.facts(ids)
    }
    fn document_packages(&self, document: DocumentId) -> Result<Vec<(PackageRecord, Occurrence)>> {
        self.packages_of_document(document)
    }
    fn current_documents(&self, deployment: &str) -> Result<Vec<DocumentId>> {
        let record: Option<DeploymentRecord> = self.decoded(
            "SELECT record FROM deployments WHERE name = $1",
            deployment,
            "deployments",
        )?;
        let mut ids: Vec<DocumentId> = record
            .map(|r| r.current.into_iter().map(|(_, id)| id).collect())
            .unwrap_or_default();
        ids.sort_unstable();
        Ok(ids)
    }
    fn deployment_documents(&self, deployment: &str) -> Result<Vec<DocumentId>> {
        self.documents_of_deployment(deployment)
    }
    fn deployment_report(&self, name: &str) -> Result<Option<DeploymentReport>> {
        self.report(name)
    }
    fn ingest(&self, doc: NewDocument) -> Result<IngestOutcome> {
        Ok(self.write_group(std::slice::from_ref(&doc))?.remove(0))
    }
    fn ingest_batch(&self, docs: &[NewDocument]) -> Result<Vec<IngestOutcome>> {
        self.write_group(docs)
    }
    fn compact(&mut self) -> Result<bool> {
        // What redb's compaction does, the PostgreSQL way: every table
        // rewritten without its dead rows (after deletions and superseded
        // writes), the space given back to the file system, and fresh
        // statistics. Each table is locked while it is rewritten, as redb's
        // compaction needs the only handle.
        let size = "SELECT pg_database_size(current_database())";
        let writer = self.writer()?;
        self.block_on(async {
            let before: i64 = writer.query_one(size, &[]).await.pg()?.get(0);
            writer
                .batch_execute(
                    "VACUUM (FULL, ANALYZE) documents, occurrences, packages, facts, deployments, \
                     lineage_edges, digests, model_nodes, package_keys, advisories, \
                     advisory_identifiers, advisory_keys, matches, vex_statements, feed_state, \
                     kev, epss, enrichment_sources, approvals, policies, releases, evidence_files, \
                     observations, outbox, notify_targets, notify_cursors, deliveries, \
                     notify_requeue, meta",
                )
                .await
                .pg()?;
            let after: i64 = writer.query_one(size, &[]).await.pg()?.get(0);
            Ok(after < before)
        })
    }
    fn location(&self) -> String {
        match &self.replica {
            Some((_, replica)) => format!("{} (reads from {replica})", self.db.location()),
            None => self.db.location().to_string(),
        }
    }
    fn file(&self) -> Option<&Path> {
        None
    }
}

/// `meta.generation`: how many writes the database has committed.
/// The write counter, `next_event_seq` and `notify_generation`, in one
/// statement.
async fn read_counters(client: &tokio_postgres::Client) -> Result<(u64, u64, u64)> {
    let (mut generation, mut next_event, mut notify) = (0, 0, 0);
    for r in client
        .query(
            "SELECT key, value FROM meta \
             WHERE key IN ('generation', 'next_event_seq', 'notify_generation')",
            &[],
        )
        .await
        .pg()?
    {
        let value = r.get::<_, i64>(1) as u64;
        match r.get::<_, &str>(0) {
            "generation" => generation = value,
            "next_event_seq" => next_event = value,
            _ => notify = value,
        }
    }
    Ok((generation, next_event, notify))
}

async fn read_generation(client: &tokio_postgres::Client) -> Result<u64> {
    let row = client
        .query_one("SELECT value FROM meta WHERE key = 'generation'", &[])
        .await
        .pg()?;
    Ok(row.get::<_, i64>(0) as u64)
}
