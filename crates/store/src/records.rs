//! What the store keeps per node, in the shape callers read it. Encoded with
//! postcard inside redb values; redb types never leave this crate.

use aibomdb_graph::{DocumentFormat, EdgeKind, PackageFact, Scope, Skipped, Subject, Tool};
use serde::{Deserialize, Serialize};

/// Dense ids handed out by the store; stable for the life of the file.
pub type PackageId = u64;
pub type DocumentId = u64;

/// A Package node: the identity shared by every document that names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageRecord {
    pub id: PackageId,
    /// Normalised purl without qualifiers.
    pub key: String,
    pub ecosystem: String,
    pub namespace: Option<String>,
    pub name: String,
    pub version: Option<String>,
}

/// A Document node: one ingested file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentRecord {
    pub id: DocumentId,
    pub deployment: String,
    pub format: DocumentFormat,
    pub spec_version: String,
    pub tools: Vec<Tool>,
    pub serial: Option<String>,
    pub created: Option<String>,
    pub subject: Option<Subject>,
    /// The package node of the subject, where the subject is also a package:
    /// traversals start there.
    pub subject_package: Option<PackageId>,
    pub source_path: String,
    /// Lower-case hex SHA-256 of the file's bytes.
    pub sha256: String,
    pub size: u64,
    /// Seconds since the Unix epoch.
    pub ingested_at: u64,
    /// Which earlier document of the same deployment and slot this one replaced.
    pub supersedes: Option<DocumentId>,
    pub superseded_by: Option<DocumentId>,
    /// `family/subject`: a new document supersedes the current one with the same slot.
    pub slot: String,
    /// Distinct packages, the subject's own node not counted.
    pub package_count: u64,
    /// Component/package entries the document listed (before merging duplicates).
    pub entries: u64,
    pub edge_count: u64,
    /// VEX statements the document makes.
    pub vex_statements: u64,
    pub skipped: Vec<Skipped>,
    pub warnings: Vec<String>,
}

impl DocumentRecord {
    pub fn is_current(&self) -> bool {
        self.superseded_by.is_none()
    }
}

/// A Deployment node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentRecord {
    pub name: String,
    pub created_at: u64,
    /// Current document per slot.
    pub current: Vec<(String, DocumentId)>,
}

/// The Document→Package edge: what this document said about the package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Occurrence {
    pub document: DocumentId,
    pub package: PackageId,
    pub fact: PackageFact,
}

/// One package a document lists, by ids: what [`Store::document_packages`]
/// gives without decoding the package or the fact, for a reader that keeps
/// the decoded ones by id (an estate repeats both: facts are interned).
///
/// [`Store::document_packages`]: crate::Store::document_packages
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListedRow {
    pub package: PackageId,
    /// The interned fact: what the document said, less `direct` and `scope`.
    pub fact: crate::FactId,
    pub direct: Option<bool>,
    pub scope: Option<Scope>,
    /// (position of the parent among the document's rows, which are in
    /// package id order; edge kind code) on the shortest-path tree from the
    /// document's subject.
    pub parent: Option<(u32, u8)>,
}

/// A package→package edge as one document states it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EdgeRecord {
    pub kind: EdgeKind,
    pub scope: Option<Scope>,
    pub marker: Option<String>,
    pub via_extra: Option<String>,
    /// Further kinds the document states between the same two nodes (a model
    /// both trained and evaluated on one dataset).
    pub also: Vec<EdgeKind>,
}

impl EdgeRecord {
    /// Every kind of this edge, the first one first.
    pub fn kinds(&self) -> impl Iterator<Item = EdgeKind> + '_ {
        std::iter::once(self.kind).chain(self.also.iter().copied())
    }
}

/// Outcome of [`crate::Store::ingest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IngestOutcome {
    /// The deployment already holds a document with these bytes; nothing was written.
    Unchanged { document: DocumentId },
    Ingested {
        document: DocumentId,
        packages: u64,
        new_packages: u64,
        edges: u64,
        superseded: Option<DocumentId>,
    },
}

/// Counts over the whole store.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    pub deployments: u64,
    pub documents: u64,
    pub current_documents: u64,
    pub packages: u64,
    pub occurrences: u64,
    pub dependency_edges: u64,
    pub file_bytes: u64,
}

/// One hop of a path from a deployment to a package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PathStep {
    /// `deployment`, `document` or `package`.
    pub kind: &'static str,
    pub id: String,
    /// The edge that leads to this step (`has_document`, `describes`, `depends_on`, `contains`, `lists`).
    pub via: &'static str,
}

/// A deployment that contains a package, and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeploymentHit {
    pub deployment: String,
    pub document: DocumentId,
    pub document_path: String,
    pub current: bool,
    pub package: String,
    /// What the document said: `Some(true)` direct, `Some(false)` transitive, `None` not stated.
    pub direct: Option<bool>,
    pub scope: Option<String>,
    /// Doubts the document's entry carries (vendored copy, source package, ...).
    pub flags: Vec<String>,
    pub path: Vec<PathStep>,
}

/// A package version and where it appears.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackageVersion {
    pub package: PackageRecord,
    pub documents: u64,
    pub deployments: Vec<String>,
}

/// One deployment: its documents, the union of their packages, and what each
/// current document leaves out that another one lists, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeploymentReport {
    pub name: String,
    pub documents: Vec<DocumentSummary>,
    pub packages: Vec<DeployedPackage>,
    pub gaps: Vec<CoverageGap>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DocumentSummary {
    pub id: DocumentId,
    pub format: String,
    pub tool: Option<String>,
    pub path: String,
    pub current: bool,
    pub supersedes: Option<DocumentId>,
    pub superseded_by: Option<DocumentId>,
    pub packages: u64,
    pub edges: u64,
    pub warnings: Vec<String>,
    /// Entries the document has that were not read, with the reason.
    pub skipped: Vec<Skipped>,
}

/// A package of the deployment, over its current documents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeployedPackage {
    pub purl: String,
    pub version: Option<String>,
    pub listed_by: Vec<DocumentId>,
    /// True if any document says direct, false if documents say transitive, none if none says.
    pub direct: Option<bool>,
    pub flags: Vec<String>,
}

/// Packages one current document does not list although another does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CoverageGap {
    pub document: DocumentId,
    pub format: String,
    pub tool: Option<String>,
    pub missing: Vec<Missing>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Missing {
    pub purl: String,
    pub listed_by: Vec<DocumentId>,
    pub reason: String,
}

/// How a package is named in advisories (computed by the matcher, stored so
/// that loading advisories later finds the package without a rescan).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LookupName {
    /// Join key: base ecosystem and name (`PyPI/jinja2`, `Debian/openssl`).
    pub key: String,
    /// Ecosystem with release when known (`Debian:11`).
    pub ecosystem: String,
    pub name: String,
    /// The binary package when this name is its source package.
    pub via_source_of: Option<String>,
}

/// What the store keeps about an advisory besides its JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdvisoryRow {
    pub id: String,
    pub modified: Option<String>,
    pub withdrawn: bool,
    /// id, aliases and upstream ids.
    pub identifiers: Vec<String>,
    /// Lookup keys of the packages it names.
    pub keys: Vec<String>,
}

/// How a load changed one advisory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum AdvisoryChange {
    Added,
    Updated,
    Unchanged,
}

/// A Package→Advisory edge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatchRecord {
    pub advisory: String,
    pub package: PackageId,
    /// `affected`, or `unsupported`/`unorderable` when the version could not be
    /// evaluated (reported, never dropped).
    pub status: String,
    pub detail: Option<String>,
    /// The ecosystem and name the advisory was matched under.
    pub ecosystem: String,
    pub name: String,
    pub via_source_of: Option<String>,
    pub fixed: Vec<String>,
}

/// A current document as match rows name it: read from the document heads,
/// so that listing the documents an advisory reaches decodes no record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentRef {
    pub id: DocumentId,
    pub deployment: String,
    pub source_path: String,
}

/// The slice of a `DocumentRecord` that queries read per hit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DocHead {
    pub(crate) deployment: String,
    pub(crate) current: bool,
    pub(crate) subject_package: Option<PackageId>,
    pub(crate) source_path: String,
}
