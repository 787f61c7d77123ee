//! The redb layout. Changing a definition means bumping `SCHEMA_VERSION`
//! and adding the step from the previous layout to `migrate.rs`.

use redb::TableDefinition;

/// `schema_version`, `next_document_id`, `next_package_id`, `next_fact_id`,
/// `next_event_seq`, `occurrence_rows`, `edge_rows`.
pub(crate) const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
/// package id → `PackageRecord`.
pub(crate) const PACKAGES: TableDefinition<u64, &[u8]> = TableDefinition::new("packages");
/// normalised purl → package id.
pub(crate) const PACKAGE_BY_KEY: TableDefinition<&str, u64> =
    TableDefinition::new("package_by_key");
/// `name\0ecosystem\0namespace\0version` → package id.
pub(crate) const PACKAGE_BY_NAME: TableDefinition<&str, u64> =
    TableDefinition::new("package_by_name");
/// document id → `DocumentRecord`.
pub(crate) const DOCUMENTS: TableDefinition<u64, &[u8]> = TableDefinition::new("documents");
/// sha256 (32 bytes) ++ deployment name → document id.
pub(crate) const DOCUMENT_BY_HASH: TableDefinition<&[u8], u64> =
    TableDefinition::new("document_by_hash");
/// deployment name → `DeploymentRecord`.
pub(crate) const DEPLOYMENTS: TableDefinition<&str, &[u8]> = TableDefinition::new("deployments");
/// (deployment, document id) → ().
pub(crate) const DEPLOYMENT_DOCUMENTS: TableDefinition<(&str, u64), ()> =
    TableDefinition::new("deployment_documents");
/// document id → the document's rows (`occurrences::DocRows`): per package
/// it lists the package id, the interned fact, the direct/scope bits and the
/// parent on the shortest-path tree from the subject; its edges by position.
pub(crate) const DOCUMENT_ROWS: TableDefinition<u64, &[u8]> = TableDefinition::new("document_rows");
/// fact id → `PackageFact` (postcard) without the per-occurrence bits: what
/// documents state about packages, each distinct fact once.
pub(crate) const FACTS: TableDefinition<u64, &[u8]> = TableDefinition::new("facts");
/// First 16 bytes of the SHA-256 of a fact's encoding → fact id.
pub(crate) const FACT_BY_HASH: TableDefinition<&[u8; 16], u64> =
    TableDefinition::new("fact_by_hash");
/// (package id, first document id of the chunk) → the chunk's further
/// document ids, delta varints: which documents list a package.
pub(crate) const POSTINGS: TableDefinition<(u64, u64), &[u8]> = TableDefinition::new("postings");
/// (to package, from package, document id) → (): lineage edges walked backwards.
pub(crate) const EDGES_REVERSE: TableDefinition<(u64, u64, u64), ()> =
    TableDefinition::new("edges_reverse");
/// advisory id → `AdvisoryMeta` (postcard).
pub(crate) const ADVISORIES: TableDefinition<&str, &[u8]> = TableDefinition::new("advisories");
/// advisory id → the OSV record as JSON.
pub(crate) const ADVISORY_JSON: TableDefinition<&str, &[u8]> =
    TableDefinition::new("advisory_json");
/// (id, alias or upstream id, advisory id) → (): find a record by any name.
pub(crate) const ADVISORY_IDENTIFIERS: TableDefinition<(&str, &str), ()> =
    TableDefinition::new("advisory_identifiers");
/// (lookup key such as `PyPI/jinja2`, advisory id) → ().
pub(crate) const ADVISORY_KEYS: TableDefinition<(&str, &str), ()> =
    TableDefinition::new("advisory_keys");
/// (lookup key, package id) → `Vec<LookupName>` (postcard): how the package is named in advisories.
pub(crate) const PACKAGE_KEYS: TableDefinition<(&str, u64), &[u8]> =
    TableDefinition::new("package_keys");
/// (package id, advisory id) → `StoredMatch` (postcard: status, detail, ecosystem, name, source-of, fixed).
pub(crate) const MATCHES: TableDefinition<(u64, &str), &[u8]> = TableDefinition::new("matches");
/// (advisory id, package id) → ().
pub(crate) const MATCHES_BY_ADVISORY: TableDefinition<(&str, u64), ()> =
    TableDefinition::new("matches_by_advisory");
/// (vulnerability id or alias, upper case; document id; statement index) → `VexStatement` (postcard).
pub(crate) const VEX_STATEMENTS: TableDefinition<(&str, u64, u32), &[u8]> =
    TableDefinition::new("vex_statements");
/// (normalised serial number, document id) → (): BOM-Links find their document.
pub(crate) const DOCUMENT_BY_SERIAL: TableDefinition<(&str, u64), ()> =
    TableDefinition::new("document_by_serial");
/// document id → `DocHead` (postcard): deployment, current, subject, path — what a
/// blast-radius query needs per document without decoding the whole record.
pub(crate) const DOCUMENT_HEADS: TableDefinition<u64, &[u8]> =
    TableDefinition::new("document_heads");
/// 0 → every document's head in rank order, stamped with what it was made
/// at (varints, names and paths front-coded; see `heads.rs`): read in one go
/// at open instead of a page per head. Stale (and ignored) once the stamp
/// no longer agrees; absent in stores written before it.
pub(crate) const HEADS_SNAPSHOT: TableDefinition<u64, &[u8]> =
    TableDefinition::new("heads_snapshot");
/// (`model` or `dataset`, package id) → (): every package some document
/// describes as a model or dataset, so listing them needs no scan.
pub(crate) const MODEL_NODES: TableDefinition<(&str, u64), ()> =
    TableDefinition::new("model_nodes");
/// (model purl, artifact SHA-256 hex) → `Approval` (postcard): an approval is
/// bound to the exact bytes approved, so a changed file is unapproved.
pub(crate) const APPROVALS: TableDefinition<(&str, &str), &[u8]> =
    TableDefinition::new("approvals");

/// Policies stored on the server for `gate` (name → `StoredPolicy`). Added
/// after schema 4 without a bump: a store that lacks the table has none.
pub(crate) const POLICIES: TableDefinition<&str, &[u8]> = TableDefinition::new("policies");

/// (deployment, release name) → `Release` (postcard). Written once, never changed.
pub(crate) const RELEASES: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("releases");

/// SHA-256 (hex) → bytes of an evidence file a release keeps (eval results).
pub(crate) const EVIDENCE_FILES: TableDefinition<&str, &[u8]> =
    TableDefinition::new("evidence_files");

/// (deployment, sequence) → `Observation` (postcard): what ran, in order.
pub(crate) const OBSERVATIONS: TableDefinition<(&str, u64), &[u8]> =
    TableDefinition::new("observations");
/// (lower-case SHA-256 hex, package id, document id) → the model file's path
/// (empty for an image): model artifacts and container images by digest, so
/// that an attestation's subjects bind without a scan. Added after schema 4
/// without a bump: the first write to a store that lacks it fills it from the
/// rows already there (`digests::backfill`); reads of such a store see none.
pub(crate) const DIGESTS: TableDefinition<(&str, u64, u64), &str> = TableDefinition::new("digests");

/// CVE id → `KevEntry` (postcard): CISA's Known Exploited Vulnerabilities
/// catalog as last loaded (a load replaces it whole).
pub(crate) const KEV: TableDefinition<&str, &[u8]> = TableDefinition::new("kev");

/// CVE id → `EpssScore` (postcard): FIRST's EPSS scores as last loaded (a
/// load replaces them whole).
pub(crate) const EPSS: TableDefinition<&str, &[u8]> = TableDefinition::new("epss");

/// Source name (`kev`) → the loaded catalog's `EnrichmentSource` (postcard).
pub(crate) const ENRICHMENT_SOURCES: TableDefinition<&str, &[u8]> =
    TableDefinition::new("enrichment_sources");

/// Advisory id → seconds since the epoch when this store first loaded it
/// (when its users could first know). Added without a schema bump: records
/// loaded before it existed have none.
pub(crate) const ADVISORY_SEEN: TableDefinition<&str, u64> = TableDefinition::new("advisory_seen");

/// Event sequence → `MatchEvent` (postcard): the notification outbox.
/// Written in the transaction of the change; see `notify.rs`.
pub(crate) const OUTBOX: TableDefinition<u64, &[u8]> = TableDefinition::new("outbox");

/// Target name → `NotifyTarget` (postcard): webhook targets.
pub(crate) const NOTIFY_TARGETS: TableDefinition<&str, &[u8]> =
    TableDefinition::new("notify_targets");

/// Target name → the last event sequence it has handled.
pub(crate) const NOTIFY_CURSORS: TableDefinition<&str, u64> =
    TableDefinition::new("notify_cursors");

/// (target, event sequence) → `Delivery` (postcard): the delivery log.
pub(crate) const DELIVERIES: TableDefinition<(&str, u64), &[u8]> =
    TableDefinition::new("deliveries");

/// (target, event sequence) of dead deliveries an operator sent back
/// (`notify retry`): delivered out of order, beside the cursor's events.
pub(crate) const NOTIFY_REQUEUE: TableDefinition<(&str, u64), ()> =
    TableDefinition::new("notify_requeue");

/// `source\0ecosystem` → `FeedState` (JSON, owned by the feeds crate): how
/// far an advisory feed has been synced.
pub(crate) const FEED_STATE: TableDefinition<&str, &[u8]> = TableDefinition::new("feed_state");
