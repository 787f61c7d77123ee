//! The inventory's types: packages, deployments, advisories and their matches, paths,
//! evidence reports, diffs and search results; also where a model runs
//! (`RunningHit`) and a dataset as a deployment lists it (`Dataset`).

use super::*;

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
    pub(super) report: aibomdb_store::DeploymentReport,
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
