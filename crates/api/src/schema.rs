//! The GraphQL schema: thin types over `aibomdb-query` answers. Reads run on
//! the blocking pool (redb calls are synchronous), so a slow question never
//! stalls the server's reactor.

use std::sync::Arc;

use aibomdb_query::{QueryError, Target};
use aibomdb_store::Store;
use async_graphql::connection::{Connection, Edge};

pub use crate::limits::QueryLimits;
use async_graphql::{
    Context, Enum, Error, ErrorExtensions, InputObject, Object, Result, Schema, SimpleObject,
};

pub type AppSchema = Schema<Query, Mutation, crate::notify::Subscription>;

/// Every query field: the inventory's and the gate's.
#[derive(async_graphql::MergedObject, Default)]
pub struct Query(
    QueryRoot,
    crate::gate::GateQuery,
    crate::notify::NotifyQuery,
    crate::overview::OverviewQuery,
);

/// Every mutation: the inventory's and the gate's stored policies.
#[derive(async_graphql::MergedObject, Default)]
pub struct Mutation(MutationRoot, crate::gate::GateMutation);

/// What the caller's bearer token allows; put into each request by the HTTP layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Access {
    pub can_write: bool,
}

pub(crate) fn store<'a>(ctx: &Context<'a>) -> &'a Arc<Store> {
    ctx.data_unchecked::<Arc<Store>>()
}

/// Runs a store read on the blocking pool.
pub(crate) async fn blocking<T, F>(ctx: &Context<'_>, f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce(&Store) -> Result<T, QueryError> + Send + 'static,
{
    blocking_with(ctx, f, query_error).await
}

/// As [`blocking`], for work whose errors `to_graphql` turns into GraphQL's.
pub(crate) async fn blocking_with<T, E, F>(
    ctx: &Context<'_>,
    f: F,
    to_graphql: fn(E) -> Error,
) -> Result<T>
where
    T: Send + 'static,
    E: Send + 'static,
    F: FnOnce(&Store) -> Result<T, E> + Send + 'static,
{
    let store = store(ctx).clone();
    tokio::task::spawn_blocking(move || f(&store))
        .await
        .map_err(|e| Error::new(format!("internal: {e}")))?
        .map_err(to_graphql)
}

fn query_error(e: QueryError) -> Error {
    match e {
        QueryError::BadInput(m) => Error::new(m).extend_with(|_, x| x.set("code", "BAD_INPUT")),
        // The position: the field's path and location come with the error;
        // the argument is named here.
        QueryError::BadRange(m) => Error::new(format!("versionRange: {m}")).extend_with(|_, x| {
            x.set("code", "BAD_INPUT");
            x.set("argument", "versionRange");
        }),
        QueryError::Store(e) => {
            Error::new(e.to_string()).extend_with(|_, x| x.set("code", "STORE"))
        }
    }
}

fn bad_input(message: impl Into<String>) -> Error {
    Error::new(message.into()).extend_with(|_, x| x.set("code", "BAD_INPUT"))
}

/// Extra fields on every connection.
#[derive(SimpleObject)]
pub struct ListInfo {
    pub total_count: usize,
    /// Versions a range could not be evaluated on, with the reason.
    pub unordered: Vec<String>,
    /// Everything the answer left out or assumed, as sentences (versions or
    /// purl types a range could not be evaluated on, a versionless purl read
    /// as every version). Empty when the answer is complete.
    pub notes: Vec<String>,
}

type List<T> = Connection<usize, T, ListInfo>;

pub(crate) const DEFAULT_PAGE: usize = 50;
pub(crate) const MAX_PAGE: usize = 1000;

/// The page `after`/`first` ask for: (offset, limit). Cursors are positions.
fn page_bounds(after: Option<&str>, first: Option<i32>) -> Result<(usize, usize)> {
    let offset = match after {
        None => 0,
        Some(c) => {
            c.parse::<usize>()
                .map_err(|_| bad_input(format!("bad cursor {c:?}")))?
                + 1
        }
    };
    let limit = first
        .map_or(DEFAULT_PAGE, |f| f.max(0) as usize)
        .min(MAX_PAGE);
    Ok((offset, limit))
}

/// A Relay connection over one page that starts at `offset` of `total` items.
fn connection<T: async_graphql::OutputType>(
    page: Vec<T>,
    offset: usize,
    total: usize,
    (unordered, notes): (Vec<String>, Vec<String>),
) -> List<T> {
    let end = offset + page.len();
    let mut c = Connection::with_additional_fields(
        offset > 0,
        end < total,
        ListInfo {
            total_count: total,
            unordered,
            notes,
        },
    );
    c.edges.extend(
        page.into_iter()
            .enumerate()
            .map(|(i, n)| Edge::new(offset + i, n)),
    );
    c
}

/// Pagination over an answer already in memory.
fn paginate<T: async_graphql::OutputType>(
    items: Vec<T>,
    unordered: (Vec<String>, Vec<String>),
    after: Option<String>,
    first: Option<i32>,
) -> Result<List<T>> {
    let (offset, limit) = page_bounds(after.as_deref(), first)?;
    let total = items.len();
    let page = items.into_iter().skip(offset).take(limit).collect();
    Ok(connection(page, offset, total, unordered))
}

#[derive(SimpleObject)]
pub struct Package {
    /// Normalised purl without qualifiers: the node's identity.
    pub purl: String,
    pub ecosystem: String,
    pub namespace: Option<String>,
    pub name: String,
    pub version: Option<String>,
    /// Current documents that list it.
    pub documents: u64,
    pub deployments: Vec<String>,
}

impl From<aibomdb_store::PackageVersion> for Package {
    fn from(v: aibomdb_store::PackageVersion) -> Self {
        Package {
            purl: v.package.key,
            ecosystem: v.package.ecosystem,
            namespace: v.package.namespace,
            name: v.package.name,
            version: v.package.version,
            documents: v.documents,
            deployments: v.deployments,
        }
    }
}

#[derive(SimpleObject)]
pub struct PathStep {
    /// `deployment`, `document` or `package`.
    pub kind: String,
    pub id: String,
    /// The edge that leads here: `has_document`, `describes`, `depends_on`, `contains`, `lists`.
    pub via: String,
}

#[derive(SimpleObject)]
pub struct DeploymentHit {
    pub deployment: String,
    pub document: u64,
    pub document_path: String,
    pub current: bool,
    pub package: String,
    /// true direct, false transitive, null when the document does not say.
    pub direct: Option<bool>,
    pub scope: Option<String>,
    pub flags: Vec<String>,
    /// deployment → document → package → … → target.
    pub path: Vec<PathStep>,
}

impl From<aibomdb_store::DeploymentHit> for DeploymentHit {
    fn from(h: aibomdb_store::DeploymentHit) -> Self {
        DeploymentHit {
            deployment: h.deployment,
            document: h.document,
            document_path: h.document_path,
            current: h.current,
            package: h.package,
            direct: h.direct,
            scope: h.scope,
            flags: h.flags,
            path: h
                .path
                .into_iter()
                .map(|s| PathStep {
                    kind: s.kind.to_string(),
                    id: s.id,
                    via: s.via.to_string(),
                })
                .collect(),
        }
    }
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum VexStatus {
    NotAffected,
    Affected,
    Fixed,
    UnderInvestigation,
}

impl From<aibomdb_graph::VexStatus> for VexStatus {
    fn from(s: aibomdb_graph::VexStatus) -> Self {
        match s {
            aibomdb_graph::VexStatus::NotAffected => VexStatus::NotAffected,
            aibomdb_graph::VexStatus::Affected => VexStatus::Affected,
            aibomdb_graph::VexStatus::Fixed => VexStatus::Fixed,
            aibomdb_graph::VexStatus::UnderInvestigation => VexStatus::UnderInvestigation,
        }
    }
}

impl VexStatus {
    pub(crate) fn openvex(self) -> &'static str {
        match self {
            VexStatus::NotAffected => "not_affected",
            VexStatus::Affected => "affected",
            VexStatus::Fixed => "fixed",
            VexStatus::UnderInvestigation => "under_investigation",
        }
    }
}

#[derive(SimpleObject)]
pub struct Vex {
    pub status: VexStatus,
    /// As the document wrote it (`false_positive`, `resolved`, …).
    pub state: String,
    pub justification: Option<String>,
    pub detail: Option<String>,
    pub response: Vec<String>,
    pub timestamp: Option<String>,
    /// The id the statement used.
    pub vulnerability: String,
    pub document: u64,
    pub document_path: String,
    pub suppresses: bool,
}

#[derive(SimpleObject)]
pub struct Match {
    pub deployment: String,
    pub package: String,
    pub version: Option<String>,
    pub advisory: String,
    pub aliases: Vec<String>,
    pub summary: Option<String>,
    /// none, low, medium, high, critical, unknown.
    pub severity: String,
    /// Why the severity is unknown, when it is (the record has no scorable
    /// CVSS vector and no label, or is not stored).
    pub unknown_reason: Option<String>,
    pub score: Option<f64>,
    pub fixed: Vec<String>,
    /// `affected`, or `unsupported`/`unorderable` when the version could not be evaluated.
    pub status: String,
    pub detail: Option<String>,
    pub via_source_of: Option<String>,
    /// The name the advisory uses (the source package's when matched through it).
    pub matched_name: String,
    pub vex: Option<Vex>,
    /// Affected and not suppressed by VEX.
    pub open: bool,
    /// CISA KEV: one of the advisory's CVEs is exploited in the wild.
    pub kev: Option<Kev>,
    /// FIRST EPSS: the probability of exploitation activity in the next 30
    /// days, the highest among the advisory's CVEs (when scores are loaded).
    pub epss: Option<f64>,
    /// That score's percentile among all scored CVEs.
    pub epss_percentile: Option<f64>,
    /// The CVSS version of the vector that gave `score` (3.0, 3.1, 4.0).
    pub cvss_version: Option<String>,
}

/// A deployment's exposure to an advisory over time.
#[derive(SimpleObject)]
pub struct ExposureView {
    pub deployment: String,
    pub advisory: String,
    /// RFC 3339.
    pub exposed_from: String,
    /// RFC 3339; null while still exposed.
    pub resolved_at: Option<String>,
    pub resolved_by: Option<String>,
    pub seconds_exposed: u64,
    /// Whether it was exposed at the `at` asked about.
    pub exposed_at: Option<bool>,
}

/// An entry of CISA's Known Exploited Vulnerabilities catalog.
#[derive(SimpleObject)]
pub struct Kev {
    pub cve: String,
    pub vendor: String,
    pub product: String,
    pub name: String,
    pub date_added: String,
    pub due_date: Option<String>,
    /// `Known` or `Unknown` use in ransomware campaigns.
    pub ransomware: String,
}

impl From<aibomdb_osv::MatchRow> for Match {
    fn from(r: aibomdb_osv::MatchRow) -> Self {
        let open = r.is_open();
        Match {
            deployment: r.deployment,
            package: r.package,
            version: r.version,
            advisory: r.advisory,
            aliases: r.aliases,
            summary: r.summary,
            severity: format!("{:?}", r.severity).to_lowercase(),
            unknown_reason: r.unknown_reason,
            score: r.score,
            fixed: r.fixed,
            status: r.status,
            detail: r.detail,
            via_source_of: r.via_source_of,
            matched_name: r.matched_name,
            vex: r.vex.map(|v| Vex {
                suppresses: v.suppresses(),
                status: v.status.into(),
                state: v.state,
                justification: v.justification,
                detail: v.detail,
                response: v.response,
                timestamp: v.timestamp,
                vulnerability: v.vulnerability,
                document: v.document,
                document_path: v.document_path,
            }),
            open,
            kev: r.kev.map(|k| Kev {
                cve: k.cve,
                vendor: k.vendor,
                product: k.product,
                name: k.name,
                date_added: k.date_added,
                due_date: k.due_date,
                ransomware: k.ransomware,
            }),
            epss: r.epss.map(|e| e.epss),
            epss_percentile: r.epss.map(|e| e.percentile),
            cvss_version: r.cvss_version.map(str::to_string),
        }
    }
}

#[derive(SimpleObject)]
pub struct Affected {
    /// The advisory ids the name given resolves to.
    pub advisories: Vec<String>,
    pub matches: Vec<Match>,
    pub deployments: Vec<String>,
}

#[derive(SimpleObject)]
pub struct Document {
    pub id: u64,
    pub format: String,
    pub tool: Option<String>,
    pub path: String,
    pub current: bool,
    pub supersedes: Option<u64>,
    pub superseded_by: Option<u64>,
    pub packages: u64,
    pub edges: u64,
    pub warnings: Vec<String>,
}

#[derive(SimpleObject, Clone)]
pub struct DeployedPackage {
    pub purl: String,
    pub version: Option<String>,
    pub listed_by: Vec<u64>,
    pub direct: Option<bool>,
    pub flags: Vec<String>,
}

/// A deployment and what runs in it. Model lineage (`models`) joins here
/// with the lineage work.
pub struct Deployment {
    report: aibomdb_store::DeploymentReport,
}

#[Object]
impl Deployment {
    async fn name(&self) -> &str {
        &self.report.name
    }

    /// Its releases, oldest first.
    async fn releases(&self, ctx: &Context<'_>) -> Result<Vec<crate::releases::ReleaseView>> {
        let name = self.report.name.clone();
        blocking_with(
            ctx,
            move |s| aibomdb_release::list(s, &name),
            crate::releases::graphql_error,
        )
        .await
        .map(|v| v.into_iter().map(Into::into).collect())
    }

    /// One release by name.
    async fn release(
        &self,
        ctx: &Context<'_>,
        name: String,
    ) -> Result<Option<crate::releases::ReleaseView>> {
        let deployment = self.report.name.clone();
        blocking_with(
            ctx,
            move |s| Ok(s.release(&deployment, &name)?),
            crate::releases::graphql_error,
        )
        .await
        .map(|r| r.map(Into::into))
    }

    /// The release to roll back to (the latest before the current one not
    /// forced past a failing gate).
    async fn rollback_target(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Option<crate::releases::ReleaseView>> {
        let name = self.report.name.clone();
        blocking_with(
            ctx,
            move |s| aibomdb_release::rollback_target(s, &name),
            crate::releases::graphql_error,
        )
        .await
        .map(|r| r.map(Into::into))
    }

    /// What runs against what was released: the latest observation against
    /// the latest release; null until both exist.
    async fn drift(&self, ctx: &Context<'_>) -> Result<Option<crate::releases::DriftView>> {
        let name = self.report.name.clone();
        blocking_with(
            ctx,
            move |s| aibomdb_release::drift(s, &name),
            crate::releases::graphql_error,
        )
        .await
        .map(|d| d.map(Into::into))
    }

    /// Documents, current first; superseded ones only with `history: true`.
    async fn documents(&self, #[graphql(default = false)] history: bool) -> Vec<Document> {
        self.report
            .documents
            .iter()
            .filter(|d| history || d.current)
            .map(|d| Document {
                id: d.id,
                format: d.format.clone(),
                tool: d.tool.clone(),
                path: d.path.clone(),
                current: d.current,
                supersedes: d.supersedes,
                superseded_by: d.superseded_by,
                packages: d.packages,
                edges: d.edges,
                warnings: d.warnings.clone(),
            })
            .collect()
    }

    /// Packages of the current documents; `direct` filters direct (true) or
    /// transitive (false) as the documents state it.
    #[graphql(complexity = "crate::limits::page_cost(first, child_complexity)")]
    async fn packages(
        &self,
        direct: Option<bool>,
        after: Option<String>,
        first: Option<i32>,
    ) -> Result<List<DeployedPackage>> {
        let items: Vec<DeployedPackage> = self
            .report
            .packages
            .iter()
            .filter(|p| direct.is_none() || p.direct == direct)
            .map(|p| DeployedPackage {
                purl: p.purl.clone(),
                version: p.version.clone(),
                listed_by: p.listed_by.clone(),
                direct: p.direct,
                flags: p.flags.clone(),
            })
            .collect();
        paginate(items, (Vec::new(), Vec::new()), after, first)
    }

    /// Models the deployment runs (from model directories and AI BOMs).
    async fn models(&self, ctx: &Context<'_>) -> Result<Vec<Model>> {
        let name = self.report.name.clone();
        let views = blocking(ctx, move |s| aibomdb_query::models(s, Some(&name))).await?;
        Ok(views.into_iter().map(Model::from).collect())
    }

    /// Advisory matches of the deployment's packages, with VEX status.
    async fn advisories(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = false)] open_only: bool,
    ) -> Result<Vec<Match>> {
        let name = self.report.name.clone();
        let rows = blocking(ctx, move |s| {
            Ok(aibomdb_osv::deployment_matches(s, Some(&name))?)
        })
        .await?;
        Ok(rows
            .into_iter()
            .filter(|r| !open_only || r.is_open())
            .map(Match::from)
            .collect())
    }
}

#[derive(SimpleObject)]
pub struct PickleScan {
    /// `module.name` the pickle would import on load, in order.
    pub imports: Vec<String>,
    /// Imports that run code or reach the system on load (`os.system`,
    /// `builtins.eval`, …): never load the file.
    pub dangerous_imports: Vec<String>,
    /// Imports neither allowed nor known to be dangerous: review them.
    pub unknown_imports: Vec<String>,
    /// A truncated or malformed stream: not a pass.
    pub error: Option<String>,
}

#[derive(SimpleObject)]
pub struct DigestReference {
    pub source: String,
    pub sha256: String,
}

/// One file of a model, with its integrity verdict.
#[derive(SimpleObject)]
pub struct Artifact {
    pub path: String,
    pub size: Option<u64>,
    pub sha256: Option<String>,
    /// Computed when the directory was ingested with `--sha512`.
    pub sha512: Option<String>,
    /// safetensors, pickle, torch-zip, torchscript, gguf, onnx, config, tokenizer, other.
    pub format: String,
    /// verified, mismatch, no reference, not present.
    pub integrity: String,
    pub references: Vec<DigestReference>,
    pub pickle: Option<PickleScan>,
    pub tensors: Option<u64>,
    pub problems: Vec<String>,
}

/// The OpenSSF model-signing bundle, as checked offline.
#[derive(SimpleObject)]
pub struct Signing {
    /// v1.0 or v0.1.
    pub format: String,
    /// key, certificate or keyless.
    pub method: String,
    /// Only `verified` means the signature was checked (for certificates:
    /// and the chain to a trust anchor).
    pub status: String,
    pub covered: Vec<String>,
    pub missing: Vec<String>,
    pub differ: Vec<String>,
    pub unsigned: Vec<String>,
    pub ignored: Vec<String>,
    /// Who the certificate names (SAN or subject); a claim only for keyless bundles.
    pub signer: Option<String>,
    pub issuer: Option<String>,
    /// Certificate subjects checked, leaf to anchor.
    pub chain: Vec<String>,
    pub detail: Option<String>,
}

/// Something about a model's files a responder should look at.
#[derive(SimpleObject)]
pub struct ModelFinding {
    /// unsigned, signature, signature-mismatch, hash-mismatch, no-reference,
    /// not-present, pickle-dangerous, pickle-unknown, pickle-error,
    /// file-problem, unapproved, secret.
    pub kind: String,
    pub path: Option<String>,
    pub message: String,
}

/// A person's approval of one file, bound to its SHA-256.
#[derive(SimpleObject)]
pub struct Approval {
    pub sha256: String,
    pub by: String,
    pub note: Option<String>,
    /// Seconds since the epoch.
    pub at: u64,
    pub path: Option<String>,
}

impl From<aibomdb_store::Approval> for Approval {
    fn from(a: aibomdb_store::Approval) -> Self {
        Approval {
            sha256: a.sha256,
            by: a.by,
            note: a.note,
            at: a.at,
            path: a.path,
        }
    }
}

/// Whether a model's files are approved as they are now.
#[derive(SimpleObject)]
pub struct ApprovalState {
    /// approved, partially approved, unapproved.
    pub state: String,
    pub approvals: Vec<Approval>,
    /// Files without an approval of their current bytes.
    pub unapproved: Vec<String>,
}

#[derive(SimpleObject)]
pub struct Lineage {
    /// finetune, adapter, quantized, merge.
    pub relation: String,
    pub purl: String,
}

/// A model a deployment runs, with its lineage and the state of its files.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct Model {
    pub purl: String,
    pub name: String,
    pub deployment: String,
    pub document: u64,
    /// base, fine-tune, adapter, quantized, merged.
    pub kind: Option<String>,
    pub license: Option<String>,
    pub library_name: Option<String>,
    pub pipeline_tag: Option<String>,
    pub architectures: Vec<String>,
    pub peft_type: Option<String>,
    pub quantization: Option<String>,
    /// The files it was read from.
    pub sources: Vec<String>,
    pub derived_from: Vec<Lineage>,
    /// Adapters among `derivedFrom`'s relations point the other way: the base
    /// models this model adapts.
    pub adapter_of: Vec<String>,
    pub trained_on: Vec<String>,
    pub evaluated_on: Vec<String>,
    pub artifacts: Vec<Artifact>,
    pub signing: Option<Signing>,
    /// Digest mismatches, pickles that run code, unsigned weights, approval
    /// drift, secrets, …
    pub findings: Vec<ModelFinding>,
    pub approval: ApprovalState,
    /// Credentials found in the model's files (never the secret itself).
    pub secrets: Vec<SecretFinding>,
    /// What the model's weight files state in their own headers: GGUF
    /// metadata keys, an ONNX file's producer and opsets, a Keras archive's
    /// version and layers.
    pub file_metadata: Vec<FileMetadata>,
}

/// One fact a weight file's header states, as read.
#[derive(SimpleObject)]
pub struct FileMetadata {
    pub file: String,
    pub key: String,
    pub value: String,
}

/// A credential found in a model's file by a gitleaks rule: where, which
/// rule, a redacted form and the SHA-256 of the secret. The secret itself is
/// not stored.
#[derive(SimpleObject)]
pub struct SecretFinding {
    /// The gitleaks rule id.
    pub rule: String,
    pub file: String,
    /// `text`, `pickle string`, a zip entry, `safetensors header`, `file name`.
    pub within: String,
    pub line: Option<u64>,
    pub offset: Option<u64>,
    pub redacted: String,
    pub fingerprint: String,
}

#[async_graphql::ComplexObject]
impl Model {
    /// Adapters (from any deployment) that apply on top of this model, found
    /// through the reverse edge index, not by reading every model.
    async fn adapters(&self, ctx: &Context<'_>) -> Result<Vec<Model>> {
        let purl = self.purl.clone();
        let views = blocking(ctx, move |s| {
            let graph = aibomdb_query::lineage(s, &purl, aibomdb_query::Direction::Down, 1)?;
            let adapters: Vec<String> = graph
                .links
                .into_iter()
                .filter(|l| l.relation == "derived_from:adapter" && l.to == purl)
                .map(|l| l.from)
                .collect();
            aibomdb_query::model_views(s, &adapters)
        })
        .await?;
        Ok(views.into_iter().map(Model::from).collect())
    }
}

impl From<aibomdb_query::ModelView> for Model {
    fn from(v: aibomdb_query::ModelView) -> Self {
        let info = v.info;
        Model {
            adapter_of: v
                .derived_from
                .iter()
                .filter(|l| l.relation == "adapter")
                .map(|l| l.purl.clone())
                .collect(),
            derived_from: v
                .derived_from
                .into_iter()
                .map(|l| Lineage {
                    relation: l.relation,
                    purl: l.purl,
                })
                .collect(),
            file_metadata: v
                .file_metadata
                .into_iter()
                .map(|m| FileMetadata {
                    file: m.file,
                    key: m.key,
                    value: m.value,
                })
                .collect(),
            secrets: v
                .secrets
                .into_iter()
                .map(|s| SecretFinding {
                    rule: s.rule,
                    file: s.file,
                    within: s.within,
                    line: s.line,
                    offset: s.offset,
                    redacted: s.redacted,
                    fingerprint: s.fingerprint,
                })
                .collect(),
            purl: v.purl,
            name: v.name,
            deployment: v.deployment,
            document: v.document,
            kind: info.kind,
            license: info.license,
            library_name: info.library_name,
            pipeline_tag: info.pipeline_tag,
            architectures: info.architectures,
            peft_type: info.peft_type,
            quantization: info.quantization,
            sources: info.sources,
            trained_on: v.trained_on,
            evaluated_on: v.evaluated_on,
            signing: info.signing.map(|s| Signing {
                format: s.format,
                method: s.method,
                status: s.status,
                covered: s.covered,
                missing: s.missing,
                differ: s.differ,
                unsigned: s.unsigned,
                ignored: s.ignored,
                signer: s.signer,
                issuer: s.issuer,
                chain: s.chain,
                detail: s.detail,
            }),
            artifacts: info
                .artifacts
                .into_iter()
                .map(|a| Artifact {
                    path: a.path,
                    size: a.size,
                    sha256: a.sha256,
                    sha512: a.sha512,
                    format: a.format,
                    integrity: a.integrity,
                    references: a
                        .references
                        .into_iter()
                        .map(|(source, sha256)| DigestReference { source, sha256 })
                        .collect(),
                    pickle: a.pickle.map(|p| PickleScan {
                        imports: p.imports,
                        dangerous_imports: p.dangerous_imports,
                        unknown_imports: p.unknown_imports,
                        error: p.error,
                    }),
                    tensors: a.tensors,
                    problems: a.problems,
                })
                .collect(),
            findings: v
                .findings
                .into_iter()
                .map(|f| ModelFinding {
                    kind: f.kind.to_string(),
                    path: f.path,
                    message: f.message,
                })
                .collect(),
            approval: ApprovalState {
                state: v.approval.state.to_string(),
                approvals: v
                    .approval
                    .approvals
                    .into_iter()
                    .map(Approval::from)
                    .collect(),
                unapproved: v.approval.unapproved,
            },
        }
    }
}

/// A node of a lineage walk.
#[derive(SimpleObject)]
pub struct LineageNode {
    pub purl: String,
    pub name: String,
    /// model, dataset, or package when no document describes it.
    pub node: String,
    pub kind: Option<String>,
    /// Hops from the model asked about: negative up (bases, datasets), positive down.
    pub level: i32,
}

/// An edge of a lineage walk with the current documents that state it.
#[derive(SimpleObject)]
pub struct LineageLink {
    pub from: String,
    pub to: String,
    /// derived_from:finetune|adapter|quantized|merge, derived_from, trained_on, evaluated_on.
    pub relation: String,
    pub documents: Vec<u64>,
}

#[derive(SimpleObject)]
pub struct LineageGraph {
    pub roots: Vec<String>,
    pub nodes: Vec<LineageNode>,
    pub links: Vec<LineageLink>,
}

impl From<aibomdb_query::LineageGraph> for LineageGraph {
    fn from(g: aibomdb_query::LineageGraph) -> Self {
        LineageGraph {
            roots: g.roots,
            nodes: g
                .nodes
                .into_iter()
                .map(|n| LineageNode {
                    purl: n.purl,
                    name: n.name,
                    node: n.node,
                    kind: n.kind,
                    level: n.level,
                })
                .collect(),
            links: g
                .links
                .into_iter()
                .map(|l| LineageLink {
                    from: l.from,
                    to: l.to,
                    relation: l.relation,
                    documents: l.documents,
                })
                .collect(),
        }
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum LineageDirection {
    /// Bases and datasets.
    Up,
    /// Fine-tunes, adapters, quantizations and merges of the model.
    Down,
    Both,
}

/// A deployment that runs the model asked about, or one derived from it.
#[derive(SimpleObject)]
pub struct RunningHit {
    /// The model the deployment runs.
    pub model: String,
    /// From that model to the one asked about, relations in parentheses.
    pub lineage: Vec<String>,
    pub hit: DeploymentHit,
}

/// One BSI TR-03183-2 field and the components that lack it.
#[derive(SimpleObject)]
pub struct CraField {
    /// The guideline's field number (1–20).
    pub number: u8,
    pub field: String,
    /// sbom or component.
    pub level: String,
    /// required, additional or optional.
    pub category: String,
    pub present: u64,
    pub total: u64,
    /// bom-refs of the components without it.
    pub missing: Vec<String>,
    /// Where it is looked for in CycloneDX 1.6.
    pub mapping: String,
}

#[derive(SimpleObject)]
pub struct CraReport {
    pub deployment: String,
    pub standard: String,
    pub components: u64,
    /// True when a required field is missing: a release gate fails.
    pub required_missing: bool,
    pub fields: Vec<CraField>,
}

/// A dataset and the models trained or evaluated on it.
#[derive(SimpleObject)]
pub struct Dataset {
    pub purl: String,
    pub name: String,
    pub trained: Vec<String>,
    pub evaluated: Vec<String>,
}

#[derive(SimpleObject)]
pub struct PackageChange {
    pub package: String,
    pub before: Vec<String>,
    pub after: Vec<String>,
}

#[derive(SimpleObject)]
pub struct AdvisoryChange {
    pub advisory: String,
    pub package: String,
}

#[derive(SimpleObject)]
pub struct Diff {
    pub added: Vec<PackageChange>,
    pub removed: Vec<PackageChange>,
    pub changed: Vec<PackageChange>,
    pub advisories_added: Vec<AdvisoryChange>,
    pub advisories_removed: Vec<AdvisoryChange>,
}

#[derive(SimpleObject)]
pub struct PackageName {
    /// Purl without version.
    pub purl: String,
    pub versions: u64,
    /// Deployments whose current documents list some version.
    pub deployments: u64,
    /// The name is the text searched for (PEP 503 spelling for PyPI).
    pub exact: bool,
}

#[derive(SimpleObject)]
pub struct SearchResults {
    pub packages: Vec<PackageName>,
    pub deployments: Vec<String>,
    pub advisories: Vec<String>,
}

#[derive(Default)]
pub struct QueryRoot;

#[Object]
impl QueryRoot {
    /// Versions of a package name, each with the deployments and documents
    /// that contain it. `versionRange` uses the ecosystem's own ordering
    /// (`<4.38`, `>=1.0,<2`).
    #[graphql(complexity = "crate::limits::page_cost(first, child_complexity)")]
    async fn packages(
        &self,
        ctx: &Context<'_>,
        name: String,
        ecosystem: Option<String>,
        version_range: Option<String>,
        after: Option<String>,
        first: Option<i32>,
    ) -> Result<List<Package>> {
        let answer = blocking(ctx, move |s| {
            let range = version_range
                .as_deref()
                .map(aibomdb_query::parse_range)
                .transpose()?;
            aibomdb_query::packages(s, &name, ecosystem.as_deref(), range.as_ref())
        })
        .await?;
        let items = answer.packages.into_iter().map(Package::from).collect();
        paginate(items, (answer.unordered, answer.notes), after, first)
    }

    /// The blast radius: deployments whose documents contain the package
    /// (by purl, or by name and version range), directly or transitively, each
    /// with the path that makes it a hit.
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "crate::limits::page_cost(first, child_complexity)")]
    async fn deployments_using(
        &self,
        ctx: &Context<'_>,
        purl: Option<String>,
        ecosystem: Option<String>,
        name: Option<String>,
        version_range: Option<String>,
        #[graphql(default = false)] history: bool,
        #[graphql(desc = "Only this deployment: the path from it to the package.")]
        deployment: Option<String>,
        after: Option<String>,
        first: Option<i32>,
    ) -> Result<List<DeploymentHit>> {
        let target = match (purl, name) {
            (Some(p), None) => Target::Purl(aibomdb_query::parse_purl(&p).map_err(query_error)?),
            (None, Some(name)) => Target::Name {
                ecosystem,
                name,
                range: version_range
                    .as_deref()
                    .map(aibomdb_query::parse_range)
                    .transpose()
                    .map_err(query_error)?,
            },
            _ => return Err(bad_input("give either `purl` or `name`")),
        };
        // Only the requested page is resolved (paths are the expensive part).
        let (offset, limit) = page_bounds(after.as_deref(), first)?;
        let answer = blocking(ctx, move |s| match deployment.as_deref() {
            Some(d) => aibomdb_query::paths_in_deployment(s, d, &target, history).map(|mut a| {
                a.hits = a.hits.into_iter().skip(offset).take(limit).collect();
                a
            }),
            None => aibomdb_query::deployments_using_page(s, &target, history, offset, limit),
        })
        .await?;
        let page = answer.hits.into_iter().map(DeploymentHit::from).collect();
        Ok(connection(
            page,
            offset,
            answer.total,
            (answer.unordered, answer.notes),
        ))
    }

    /// Everything an advisory (CVE-, GHSA-, PYSEC-… — any alias) affects; null
    /// when no loaded advisory has that name.
    /// When deployments became exposed to advisories and when that ended,
    /// from history (an advisory, a deployment, or both). `at` (RFC 3339 or
    /// a date) fills `exposedAt`: was it exposed then?
    async fn timeline(
        &self,
        ctx: &Context<'_>,
        advisory: Option<String>,
        deployment: Option<String>,
        at: Option<String>,
    ) -> Result<Vec<ExposureView>> {
        let at = match at {
            Some(t) => Some(
                aibomdb_policy::time::parse(&t)
                    .and_then(|s| u64::try_from(s).ok())
                    .ok_or_else(|| {
                        bad_input(format!("at {t:?} is not an RFC 3339 time or a date"))
                    })?,
            ),
            None => None,
        };
        let now = u64::try_from(aibomdb_policy::time::now()).unwrap_or(0);
        let rows = blocking(ctx, move |s| {
            aibomdb_query::timeline(s, deployment.as_deref(), advisory.as_deref(), now)
        })
        .await?;
        Ok(rows
            .into_iter()
            .map(|e| ExposureView {
                exposed_at: at.map(|t| e.exposed_at(t)),
                deployment: e.deployment,
                advisory: e.advisory,
                exposed_from: aibomdb_policy::time::format(e.exposed_from as i64),
                resolved_at: e
                    .resolved_at
                    .map(|t| aibomdb_policy::time::format(t as i64)),
                resolved_by: e.resolved_by,
                seconds_exposed: e.seconds_exposed,
            })
            .collect())
    }

    async fn affected(&self, ctx: &Context<'_>, advisory: String) -> Result<Option<Affected>> {
        let found = blocking(ctx, move |s| aibomdb_query::affected(s, &advisory)).await?;
        Ok(found.map(|(ids, rows)| {
            let mut deployments: Vec<String> = rows.iter().map(|r| r.deployment.clone()).collect();
            deployments.sort();
            deployments.dedup();
            Affected {
                advisories: ids,
                matches: rows.into_iter().map(Match::from).collect(),
                deployments,
            }
        }))
    }

    async fn deployment(&self, ctx: &Context<'_>, name: String) -> Result<Option<Deployment>> {
        let report = blocking(ctx, move |s| Ok(s.deployment_report(&name)?)).await?;
        Ok(report.map(|report| Deployment { report }))
    }

    /// Models across deployments. Each filter that is true keeps the models
    /// it names: `risky` any finding, `unsigned` no verified signature
    /// covering the files, `hashMismatch` a digest that differs from a
    /// published or signed one, `pickleDangerous` a pickle that runs code on
    /// load, `unapproved` files not approved as they are now, `secrets` a
    /// credential in one of its files.
    #[allow(clippy::too_many_arguments)]
    async fn models(
        &self,
        ctx: &Context<'_>,
        deployment: Option<String>,
        #[graphql(default = false)] risky: bool,
        #[graphql(default = false)] unsigned: bool,
        #[graphql(default = false)] hash_mismatch: bool,
        #[graphql(default = false)] pickle_dangerous: bool,
        #[graphql(default = false)] unapproved: bool,
        #[graphql(default = false)] secrets: bool,
    ) -> Result<Vec<Model>> {
        use aibomdb_query::FindingFilter as F;
        let filters = F::selected([
            risky,
            unsigned,
            hash_mismatch,
            pickle_dangerous,
            unapproved,
            secrets,
        ]);
        let views = blocking(ctx, move |s| {
            aibomdb_query::models(s, deployment.as_deref())
        })
        .await?;
        Ok(views
            .into_iter()
            .filter(|v| F::keep(&filters, v))
            .map(Model::from)
            .collect())
    }

    /// One model by purl or id, as the current documents that list it
    /// describe it (the first description found), or null.
    /// `id` is a Hub id `org/name[@revision]` or a local model's name; with
    /// several revisions known, the first in purl order is given.
    async fn model(
        &self,
        ctx: &Context<'_>,
        purl: Option<String>,
        id: Option<String>,
    ) -> Result<Option<Model>> {
        let key = match (purl, id) {
            (Some(p), None) => aibomdb_query::parse_purl(&p).map_err(query_error)?,
            (None, Some(id)) => {
                let found =
                    blocking(ctx, move |s| Ok(aibomdb_query::resolve_models(s, &id).ok())).await?;
                match found.and_then(|mut f| {
                    f.sort_by(|a, b| a.key.cmp(&b.key));
                    f.into_iter().next()
                }) {
                    Some(p) => aibomdb_graph::PackageKey::from_stored(p.key),
                    None => return Ok(None),
                }
            }
            _ => return Err(bad_input("give either `purl` or `id`")),
        };
        let wanted = key.as_str().to_string();
        let (views, referenced) = blocking(ctx, move |s| {
            let views = aibomdb_query::model_views(s, std::slice::from_ref(&wanted))?;
            let referenced = s.model_nodes("model")?.iter().any(|p| p.key == wanted);
            Ok((views, referenced))
        })
        .await?;
        Ok(match views.into_iter().next() {
            Some(v) => Some(Model::from(v)),
            // Known only as another model's base: no description of its own,
            // but its adapters and descendants are still answers.
            None if referenced => Some(Model {
                purl: key.as_str().to_string(),
                name: key.as_str().to_string(),
                deployment: String::new(),
                document: 0,
                kind: None,
                license: None,
                library_name: None,
                pipeline_tag: None,
                architectures: Vec::new(),
                peft_type: None,
                quantization: None,
                sources: Vec::new(),
                derived_from: Vec::new(),
                adapter_of: Vec::new(),
                trained_on: Vec::new(),
                evaluated_on: Vec::new(),
                artifacts: Vec::new(),
                signing: None,
                findings: Vec::new(),
                approval: ApprovalState {
                    state: "unapproved".into(),
                    approvals: Vec::new(),
                    unapproved: Vec::new(),
                },
                secrets: Vec::new(),
                file_metadata: Vec::new(),
            }),
            None => None,
        })
    }

    /// A model's (or dataset's) lineage across every current document: up to
    /// bases and datasets, down to fine-tunes, adapters, quantizations and
    /// merges. `model` is a purl, a Hub id `org/name[@revision]` or a local
    /// model's name.
    async fn lineage(
        &self,
        ctx: &Context<'_>,
        model: String,
        #[graphql(default_with = "LineageDirection::Both")] direction: LineageDirection,
        #[graphql(default = 8)] depth: u32,
    ) -> Result<LineageGraph> {
        let direction = match direction {
            LineageDirection::Up => aibomdb_query::Direction::Up,
            LineageDirection::Down => aibomdb_query::Direction::Down,
            LineageDirection::Both => aibomdb_query::Direction::Both,
        };
        let depth = depth.min(32);
        let graph = blocking(ctx, move |s| {
            aibomdb_query::lineage(s, &model, direction, depth)
        })
        .await?;
        Ok(graph.into())
    }

    /// Deployments that run the model or (with `includeDerived`, the
    /// default) a fine-tune, adapter, quantization or merge of it — lineage
    /// from any current document counts.
    async fn deployments_running(
        &self,
        ctx: &Context<'_>,
        model: String,
        #[graphql(default = true)] include_derived: bool,
    ) -> Result<Vec<RunningHit>> {
        let hits = blocking(ctx, move |s| {
            aibomdb_query::deployments_running(s, &model, include_derived)
        })
        .await?;
        Ok(hits
            .into_iter()
            .map(|h| RunningHit {
                model: h.model,
                lineage: h.lineage,
                hit: DeploymentHit::from(h.hit),
            })
            .collect())
    }

    /// The deployment as a compliance document: `format` is cyclonedx-1.6,
    /// cyclonedx-1.5, spdx-2.3, openvex or cyclonedx-vex. Returns the JSON
    /// text (also downloadable at `/deployments/{name}/export/{format}`).
    #[graphql(complexity = "crate::limits::WHOLE_DEPLOYMENT_COST")]
    async fn export(
        &self,
        ctx: &Context<'_>,
        deployment: String,
        format: String,
        creator_email: Option<String>,
        creator_url: Option<String>,
        author: Option<String>,
    ) -> Result<String> {
        let format: aibomdb_export::ExportFormat = format
            .parse()
            .map_err(|e: aibomdb_export::ExportError| bad_input(e.to_string()))?;
        let store = store(ctx).clone();
        tokio::task::spawn_blocking(move || {
            let opts = aibomdb_export::Options {
                timestamp: aibomdb_export::time::rfc3339_now(),
                creator_email,
                creator_url,
                author,
            };
            match aibomdb_export::export(&store, &deployment, format, &opts) {
                Ok(doc) => Ok(serde_json::to_string_pretty(&doc).unwrap_or_default()),
                Err(e @ aibomdb_export::ExportError::NoDeployment(_)) => {
                    Err(bad_input(e.to_string()))
                }
                Err(e) => Err(Error::new(e.to_string())),
            }
        })
        .await
        .map_err(|e| Error::new(format!("internal: {e}")))?
    }

    /// Completeness of the deployment's CycloneDX 1.6 export against BSI
    /// TR-03183-2 v2.1.0, field by field.
    #[graphql(complexity = "crate::limits::WHOLE_DEPLOYMENT_COST")]
    async fn cra_report(
        &self,
        ctx: &Context<'_>,
        deployment: String,
        creator_email: Option<String>,
        creator_url: Option<String>,
    ) -> Result<CraReport> {
        let store = store(ctx).clone();
        tokio::task::spawn_blocking(move || {
            let opts = aibomdb_export::Options {
                timestamp: aibomdb_export::time::rfc3339_now(),
                creator_email,
                creator_url,
                author: None,
            };
            match aibomdb_export::cra_report(&store, &deployment, &opts) {
                Ok(r) => Ok(CraReport {
                    deployment: r.deployment,
                    standard: r.standard.to_string(),
                    components: r.components as u64,
                    required_missing: r.required_missing,
                    fields: r
                        .fields
                        .into_iter()
                        .map(|f| CraField {
                            number: f.number,
                            field: f.field.to_string(),
                            level: f.level.to_string(),
                            category: f.category.to_string(),
                            present: f.present as u64,
                            total: f.total as u64,
                            missing: f.missing,
                            mapping: f.mapping.to_string(),
                        })
                        .collect(),
                }),
                Err(e @ aibomdb_export::ExportError::NoDeployment(_)) => {
                    Err(bad_input(e.to_string()))
                }
                Err(e) => Err(Error::new(e.to_string())),
            }
        })
        .await
        .map_err(|e| Error::new(format!("internal: {e}")))?
    }

    /// Datasets the documents name, with the models trained or evaluated on them.
    async fn datasets(&self, ctx: &Context<'_>) -> Result<Vec<Dataset>> {
        let all = blocking(ctx, aibomdb_query::datasets).await?;
        Ok(all
            .into_iter()
            .map(|d| Dataset {
                purl: d.purl,
                name: d.name,
                trained: d.trained,
                evaluated: d.evaluated,
            })
            .collect())
    }

    /// Deployment names.
    async fn deployments(&self, ctx: &Context<'_>) -> Result<Vec<String>> {
        blocking(ctx, |s| {
            Ok(s.deployments()?.into_iter().map(|d| d.name).collect())
        })
        .await
    }

    /// What changes from deployment A to deployment B: packages added, removed
    /// or at other versions, and open advisory matches gained or lost.
    async fn diff(
        &self,
        ctx: &Context<'_>,
        deployment_a: String,
        deployment_b: String,
    ) -> Result<Option<Diff>> {
        let d = blocking(ctx, move |s| {
            aibomdb_query::diff(s, &deployment_a, &deployment_b)
        })
        .await?;
        let changes = |v: Vec<aibomdb_query::PackageChange>| {
            v.into_iter()
                .map(|c| PackageChange {
                    package: c.package,
                    before: c.before,
                    after: c.after,
                })
                .collect()
        };
        let advisories = |v: Vec<aibomdb_query::AdvisoryChange>| {
            v.into_iter()
                .map(|c| AdvisoryChange {
                    advisory: c.advisory,
                    package: c.package,
                })
                .collect()
        };
        Ok(d.map(|d| Diff {
            added: changes(d.added),
            removed: changes(d.removed),
            changed: changes(d.changed),
            advisories_added: advisories(d.advisories_added),
            advisories_removed: advisories(d.advisories_removed),
        }))
    }

    /// The web page's search box, ranked: packages whose name is the text
    /// first, then by the deployments holding them; deployments by name
    /// (exact, prefix, substring); advisories by any name.
    #[graphql(complexity = "crate::limits::WHOLE_DEPLOYMENT_COST")]
    async fn search(
        &self,
        ctx: &Context<'_>,
        text: String,
        #[graphql(default = 20)] limit: i32,
    ) -> Result<SearchResults> {
        let limit = limit.clamp(1, 200) as usize;
        let r = blocking(ctx, move |s| aibomdb_query::search(s, &text, limit)).await?;
        Ok(SearchResults {
            packages: r
                .packages
                .into_iter()
                .map(|p| PackageName {
                    purl: p.purl,
                    versions: p.versions,
                    deployments: p.deployments,
                    exact: p.exact,
                })
                .collect(),
            deployments: r.deployments,
            advisories: r.advisories,
        })
    }
}

#[derive(SimpleObject)]
pub struct IngestResult {
    /// `ingested` or `unchanged` (the same bytes were already in the deployment).
    pub status: String,
    pub document: u64,
    pub format: String,
    pub packages: u64,
    pub new_packages: u64,
    pub edges: u64,
    pub superseded: Option<u64>,
    pub vex_statements: u64,
}

#[derive(SimpleObject)]
pub struct AdvisoryLoadResult {
    pub added: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub withdrawn: u64,
    pub matches: u64,
    /// Records that could not be read, with the reason.
    pub rejected: Vec<String>,
}

#[derive(Default)]
pub struct MutationRoot;

pub(crate) fn require_write(ctx: &Context<'_>) -> Result<()> {
    match ctx.data_opt::<Access>() {
        Some(a) if a.can_write => Ok(()),
        _ => Err(Error::new(
            "writes need `Authorization: Bearer <token>` with the server's write token",
        )
        .extend_with(|_, x| x.set("code", "UNAUTHENTICATED"))),
    }
}

async fn ingest_bytes(
    ctx: &Context<'_>,
    deployment: String,
    file_name: String,
    bytes: Vec<u8>,
) -> Result<IngestResult> {
    let store = store(ctx).clone();
    tokio::task::spawn_blocking(move || {
        let prepared = aibomdb_ingest::prepare_upload(&file_name, &bytes)
            .map_err(|e| bad_input(e.to_string()))?;
        let format = prepared.format.label().to_string();
        let vex_statements = prepared.facts.vex.len() as u64;
        let outcome = aibomdb_ingest::commit(&store, prepared, Some(&deployment))
            .map_err(|e| bad_input(e.to_string()))?;
        Ok(ingest_result(outcome, format, vex_statements))
    })
    .await
    .map_err(|e| Error::new(format!("internal: {e}")))?
}

/// One file of an uploaded model directory.
#[derive(InputObject)]
pub struct ModelFileInput {
    /// Path inside the model directory (`config.json`, `weights/model.safetensors`).
    pub path: String,
    /// The file's bytes, base64 (standard alphabet).
    pub content_base64: String,
}

fn ingest_result(
    outcome: aibomdb_store::IngestOutcome,
    format: String,
    vex_statements: u64,
) -> IngestResult {
    match outcome {
        aibomdb_store::IngestOutcome::Ingested {
            document,
            packages,
            new_packages,
            edges,
            superseded,
        } => IngestResult {
            status: "ingested".into(),
            document,
            format,
            packages,
            new_packages,
            edges,
            superseded,
            vex_statements,
        },
        aibomdb_store::IngestOutcome::Unchanged { document } => IngestResult {
            status: "unchanged".into(),
            document,
            format,
            packages: 0,
            new_packages: 0,
            edges: 0,
            superseded: None,
            vex_statements: 0,
        },
    }
}

#[Object]
impl MutationRoot {
    /// Ingests a model directory sent file by file (card, configs, weights,
    /// `SHA256SUMS`, `model.sig`): hashed, scanned and judged exactly as
    /// `aibomdb ingest-model` does, in one transaction. Paths must stay inside
    /// the directory; the request body limit bounds the upload. Signatures
    /// are checked only against keys and anchors the server was given none
    /// of: they show as unverified.
    #[allow(clippy::too_many_arguments)]
    async fn ingest_model(
        &self,
        ctx: &Context<'_>,
        deployment: String,
        files: Vec<ModelFileInput>,
        id: Option<String>,
        revision: Option<String>,
        name: Option<String>,
    ) -> Result<IngestResult> {
        require_write(ctx)?;
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut decoded = Vec::with_capacity(files.len());
        for f in files {
            use base64::Engine;
            let bytes = b64
                .decode(f.content_base64.as_bytes())
                .map_err(|e| bad_input(format!("{}: contentBase64: {e}", f.path)))?;
            decoded.push((f.path, bytes));
        }
        let store = store(ctx).clone();
        tokio::task::spawn_blocking(move || {
            let label = name
                .clone()
                .or_else(|| id.clone())
                .unwrap_or_else(|| "upload".into());
            let identity = aibomdb_importer_model::ModelIdentity {
                id,
                revision,
                name,
                ..Default::default()
            };
            let prepared = aibomdb_ingest::prepare_model_files(
                std::path::Path::new(&label),
                &decoded,
                &identity,
            )
            .map_err(|e| bad_input(e.to_string()))?;
            let format = prepared.format.label().to_string();
            let outcome = aibomdb_ingest::commit(&store, prepared, Some(&deployment))
                .map_err(|e| bad_input(e.to_string()))?;
            Ok(ingest_result(outcome, format, 0))
        })
        .await
        .map_err(|e| Error::new(format!("internal: {e}")))?
    }

    /// Ingests one document (SBOM, lockfile, VEX) into a deployment, whole or
    /// not at all. `fileName` is a label and picks the reader for lockfiles
    /// (`uv.lock`, `requirements.txt`); nothing beside it is read.
    async fn ingest_document(
        &self,
        ctx: &Context<'_>,
        deployment: String,
        file_name: String,
        content: String,
    ) -> Result<IngestResult> {
        require_write(ctx)?;
        ingest_bytes(ctx, deployment, file_name, content.into_bytes()).await
    }

    /// Loads OSV records: one record, or a JSON array of records (JSON or the
    /// PyPA YAML form for a single record). Matches are updated incrementally.
    async fn load_advisories(
        &self,
        ctx: &Context<'_>,
        content: String,
        #[graphql(default_with = "\"upload.json\".to_string()")] file_name: String,
    ) -> Result<AdvisoryLoadResult> {
        require_write(ctx)?;
        let store = store(ctx).clone();
        tokio::task::spawn_blocking(move || {
            let mut advisories = Vec::new();
            let mut rejected = Vec::new();
            match serde_json::from_str::<Vec<serde_json::Value>>(&content) {
                Ok(list) => {
                    for (i, v) in list.iter().enumerate() {
                        let bytes = serde_json::to_vec(v).unwrap_or_default();
                        match aibomdb_osv::load_bytes(&format!("{file_name}[{i}]"), &bytes) {
                            Ok(a) => advisories.push(a),
                            Err(e) => rejected.push(format!("{file_name}[{i}]: {e}")),
                        }
                    }
                }
                Err(_) => match aibomdb_osv::load_bytes(&file_name, content.as_bytes()) {
                    Ok(a) => advisories.push(a),
                    Err(e) => rejected.push(format!("{file_name}: {e}")),
                },
            }
            let s = aibomdb_osv::load_advisories(&store, &advisories)
                .map_err(|e| Error::new(e.to_string()))?;
            Ok(AdvisoryLoadResult {
                added: s.added as u64,
                updated: s.updated as u64,
                unchanged: s.unchanged as u64,
                withdrawn: s.withdrawn as u64,
                matches: s.matches as u64,
                rejected,
            })
        })
        .await
        .map_err(|e| Error::new(format!("internal: {e}")))?
    }

    /// Records an operator's VEX statement for a package in a deployment. It
    /// is stored as an OpenVEX document of its own (kept with its time, so the
    /// latest statement decides), exactly as an uploaded VEX would be.
    #[allow(clippy::too_many_arguments)]
    async fn set_vex(
        &self,
        ctx: &Context<'_>,
        deployment: String,
        advisory: String,
        purl: String,
        status: VexStatus,
        justification: Option<String>,
        detail: Option<String>,
        author: Option<String>,
    ) -> Result<IngestResult> {
        require_write(ctx)?;
        aibomdb_query::parse_purl(&purl).map_err(query_error)?;
        if status == VexStatus::NotAffected && justification.is_none() && detail.is_none() {
            return Err(bad_input(
                "a not_affected statement needs a justification or a detail (OpenVEX requires one)",
            ));
        }
        let now = aibomdb_export::time::rfc3339_now();
        let mut statement = serde_json::json!({
            "vulnerability": {"name": advisory},
            "products": [{"@id": purl}],
            "status": status.openvex(),
            "timestamp": now,
        });
        if let Some(j) = justification {
            statement["justification"] = j.into();
        }
        if let Some(d) = detail {
            statement["impact_statement"] = d.into();
        }
        let doc = serde_json::json!({
            "@context": "https://openvex.dev/ns/v0.2.0",
            "@id": format!("aibomdb:setVex/{deployment}/{advisory}/{now}"),
            "author": author.unwrap_or_else(|| "aibomdb setVex".into()),
            "timestamp": now,
            "version": 1,
            "tooling": "aibomdb setVex",
            "statements": [statement],
        });
        let name = format!("setVex-{advisory}-{now}.openvex.json");
        ingest_bytes(
            ctx,
            deployment,
            name,
            serde_json::to_vec_pretty(&doc).unwrap_or_default(),
        )
        .await
    }

    /// Approves one file of a model by its SHA-256 (bound to those bytes: a
    /// changed file shows as unapproved). Returns the model purls approved.
    async fn approve_model(
        &self,
        ctx: &Context<'_>,
        model: String,
        artifact_sha256: String,
        by: String,
        note: Option<String>,
    ) -> Result<Vec<String>> {
        require_write(ctx)?;
        blocking(ctx, move |s| {
            aibomdb_query::approve(s, &model, &artifact_sha256, &by, note.as_deref())
        })
        .await
    }

    /// Deletes a deployment with its documents, edges and VEX statements.
    /// Returns false when there was none.
    async fn delete_deployment(&self, ctx: &Context<'_>, name: String) -> Result<bool> {
        require_write(ctx)?;
        blocking(ctx, move |s| Ok(s.delete_deployment(&name)?)).await
    }
}

pub fn build_schema(store: Arc<Store>, limits: QueryLimits) -> AppSchema {
    build_schema_with(store, limits, Arc::default(), Arc::default())
}

/// The schema, sharing the server's gate cache with `POST /v1/gate` and its
/// overview with the refresher `serve` runs.
pub(crate) fn build_schema_with(
    store: Arc<Store>,
    limits: QueryLimits,
    gate_cache: Arc<aibomdb_policy::GateCache>,
    overview_cache: Arc<crate::overview_cache::OverviewCache>,
) -> AppSchema {
    Schema::build(
        Query::default(),
        Mutation::default(),
        crate::notify::Subscription,
    )
    .data(store)
    .data(gate_cache)
    .data(overview_cache)
    .limit_depth(limits.max_depth)
    .limit_complexity(limits.max_complexity)
    .limit_recursive_depth(limits.max_recursive_depth)
    .extension(crate::limits::ResponseBudget {
        max: limits.max_response_bytes,
    })
    .finish()
}

/// The schema in SDL, as checked in at `schema/schema.graphql`.
pub fn sdl() -> String {
    Schema::build(
        Query::default(),
        Mutation::default(),
        crate::notify::Subscription,
    )
    .finish()
    .sdl()
}
