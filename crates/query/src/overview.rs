//! The estate overview a security lead opens first: counts, what hurts most
//! (advisories ranked by deployments affected × severity), the riskiest
//! deployments, models with findings, and what changed recently. Every list
//! is cut to `top`; the counts are over the whole estate. The CLI
//! (`aibomdb overview`), GraphQL (`overview`) and the web page's home view
//! all read this one function.

use std::collections::{BTreeMap, BTreeSet};

use aibomdb_osv::{AdvisoryExposure, DeploymentExposure, Level, estate_exposure};
use aibomdb_store::Store;
use serde::Serialize;

use crate::Result;

/// How much one open advisory weighs in a rank: a (deployment, advisory)
/// pair counts this many times. Unknown counts as low: it is neither hidden
/// nor allowed to outrank a scored advisory.
pub fn severity_weight(level: Level) -> u64 {
    match level {
        Level::Critical => 4,
        Level::High => 3,
        Level::Medium => 2,
        Level::Low | Level::None | Level::Unknown => 1,
    }
}

/// The rule the ranks follow, stated in every answer.
pub const RANKING: &str = "exposures: deployments with an open match × severity weight; \
     deployments: sum of the weights of their open advisories; \
     weights: critical 4, high 3, medium 2, low, none and unknown 1; \
     ties: KEV first, then EPSS, then name";

#[derive(Debug, Clone, Default, Serialize)]
pub struct Counts {
    pub deployments: u64,
    /// Current documents (not superseded).
    pub documents: u64,
    pub packages: u64,
    /// Model and dataset nodes the graph knows (described, or named as a
    /// base or training set).
    pub models: u64,
    pub datasets: u64,
    pub advisories_loaded: u64,
}

/// Matched advisories with an open match somewhere, by severity.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SeverityCounts {
    pub critical: u64,
    pub high: u64,
    pub medium: u64,
    pub low: u64,
    /// `none` and `unknown`: no usable score or label.
    pub unknown: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct RankedExposure {
    pub rank: u64,
    #[serde(flatten)]
    pub exposure: AdvisoryExposure,
}

#[derive(Debug, Clone, Serialize)]
pub struct RankedDeployment {
    pub risk: u64,
    pub open: usize,
    #[serde(flatten)]
    pub exposure: DeploymentExposure,
}

#[derive(Debug, Clone, Serialize)]
pub struct ModelWithFindings {
    pub purl: String,
    /// The first [`LISTED`] deployments, by name.
    pub deployments: Vec<String>,
    pub deployment_count: usize,
    /// Finding kinds, each once, ascending.
    pub kinds: Vec<String>,
    /// Distinct findings (kind, file, message), each once however many
    /// deployments describe the model.
    pub findings: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct RecentDocument {
    pub id: u64,
    pub deployment: String,
    pub format: String,
    pub path: String,
    /// Seconds since the epoch.
    pub ingested_at: u64,
    pub current: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct RecentSync {
    /// `OSV PyPI (where from: a URL without credentials, or a mirror
    /// directory)`, `kev`, `epss`.
    pub feed: String,
    /// Seconds since the epoch.
    pub at: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Overview {
    pub counts: Counts,
    /// Matched advisories (open somewhere) by severity.
    pub advisories_by_severity: SeverityCounts,
    /// Matched advisories open somewhere that KEV lists.
    pub kev_advisories: u64,
    /// Matched advisories in all.
    pub matched_advisories: u64,
    /// (deployment, advisory) pairs with an open match.
    pub open_pairs: u64,
    /// (deployment, advisory) pairs VEX takes out entirely.
    pub suppressed_pairs: u64,
    /// Deployments with at least one open advisory.
    pub exposed_deployments: u64,
    pub ranking: &'static str,
    pub top_exposures: Vec<RankedExposure>,
    pub riskiest_deployments: Vec<RankedDeployment>,
    /// Models (described in current documents) with a finding, most
    /// findings first.
    pub models_with_findings: Vec<ModelWithFindings>,
    /// Newest ingests first.
    pub recent_documents: Vec<RecentDocument>,
    /// Newest feed syncs and enrichment loads first.
    pub recent_syncs: Vec<RecentSync>,
}

/// The largest `top` an answer is asked for (the API's bound).
pub const MAX_TOP: usize = 100;
/// At most this many packages per exposure and deployments per model are
/// listed (an advisory can match hundreds of versions, a base model run in
/// thousands of deployments); the counts say how many there are.
pub(crate) const LISTED: usize = 20;

impl Overview {
    /// This answer with every list cut to `top`: the same as
    /// `overview(store, top)` at the same moment, since each list is sorted
    /// in a total order before it is cut.
    pub fn truncated(&self, top: usize) -> Overview {
        let mut o = self.clone();
        o.top_exposures.truncate(top);
        o.riskiest_deployments.truncate(top);
        o.models_with_findings.truncate(top);
        o.recent_documents.truncate(top);
        o.recent_syncs.truncate(top);
        o
    }
}

/// A finding as told apart: (kind, file, message).
type FindingKey = (&'static str, Option<String>, String);

pub fn overview(store: &Store, top: usize) -> Result<Overview> {
    let stats = store.stats()?;
    let estate = estate_exposure(store)?;

    let mut by_severity = SeverityCounts::default();
    let mut kev_advisories = 0;
    let (mut open_pairs, mut suppressed_pairs) = (0, 0);
    for a in &estate.advisories {
        open_pairs += a.open_deployments as u64;
        suppressed_pairs += a.suppressed_deployments as u64;
        if a.open_deployments == 0 {
            continue;
        }
        kev_advisories += u64::from(a.kev);
        *match a.severity {
            Level::Critical => &mut by_severity.critical,
            Level::High => &mut by_severity.high,
            Level::Medium => &mut by_severity.medium,
            Level::Low => &mut by_severity.low,
            Level::None | Level::Unknown => &mut by_severity.unknown,
        } += 1;
    }
    let matched_advisories = estate.advisories.len() as u64;

    let epss = |a: &AdvisoryExposure| a.epss.unwrap_or(-1.0);
    let mut exposures: Vec<RankedExposure> = estate
        .advisories
        .into_iter()
        .filter(|a| a.open_deployments > 0)
        .map(|a| RankedExposure {
            rank: a.open_deployments as u64 * severity_weight(a.severity),
            exposure: a,
        })
        .collect();
    exposures.sort_by(|a, b| {
        b.rank
            .cmp(&a.rank)
            .then(b.exposure.kev.cmp(&a.exposure.kev))
            .then(epss(&b.exposure).total_cmp(&epss(&a.exposure)))
            .then(a.exposure.advisory.cmp(&b.exposure.advisory))
    });
    exposures.truncate(top);
    for e in &mut exposures {
        e.exposure.packages.truncate(LISTED);
    }

    let exposed_deployments = estate.deployments.iter().filter(|d| d.open() > 0).count() as u64;
    let mut deployments: Vec<RankedDeployment> = estate
        .deployments
        .into_iter()
        .filter(|d| d.open() > 0)
        .map(|d| RankedDeployment {
            risk: severity_weight(Level::Critical) * d.critical as u64
                + severity_weight(Level::High) * d.high as u64
                + severity_weight(Level::Medium) * d.medium as u64
                + severity_weight(Level::Low) * d.low as u64
                + severity_weight(Level::Unknown) * d.unknown as u64,
            open: d.open(),
            exposure: d,
        })
        .collect();
    deployments.sort_by(|a, b| {
        b.risk
            .cmp(&a.risk)
            .then(b.exposure.kev.cmp(&a.exposure.kev))
            .then(a.exposure.deployment.cmp(&b.exposure.deployment))
    });
    deployments.truncate(top);

    // Models: one entry per purl, whatever the deployments describing it.
    // A finding counts once per model, however many deployments describe it:
    // a widely deployed model does not outrank one with more problems.
    let mut distinct: BTreeMap<String, BTreeSet<FindingKey>> = BTreeMap::new();
    let mut models: BTreeMap<String, ModelWithFindings> = BTreeMap::new();
    for view in crate::models(store, None)? {
        if view.findings.is_empty() {
            continue;
        }
        let entry = models
            .entry(view.purl.clone())
            .or_insert_with(|| ModelWithFindings {
                purl: view.purl.clone(),
                deployments: Vec::new(),
                deployment_count: 0,
                kinds: Vec::new(),
                findings: 0,
            });
        entry.deployments.push(view.deployment.clone());
        entry
            .kinds
            .extend(view.findings.iter().map(|f| f.kind.to_string()));
        distinct.entry(view.purl.clone()).or_default().extend(
            view.findings
                .into_iter()
                .map(|f| (f.kind, f.path, f.message)),
        );
    }
    let mut models: Vec<ModelWithFindings> = models
        .into_values()
        .map(|mut m| {
            m.findings = distinct.get(&m.purl).map_or(0, BTreeSet::len);
            m.deployments.sort();
            m.deployments.dedup();
            m.deployment_count = m.deployments.len();
            m.deployments.truncate(LISTED);
            m.kinds.sort();
            m.kinds.dedup();
            m
        })
        .collect();
    models.sort_by(|a, b| b.findings.cmp(&a.findings).then(a.purl.cmp(&b.purl)));
    models.truncate(top);

    let mut documents: Vec<RecentDocument> = store
        .documents()?
        .into_iter()
        .map(|d| RecentDocument {
            id: d.id,
            current: d.is_current(),
            deployment: d.deployment,
            format: d.format.to_string(),
            path: d.source_path,
            ingested_at: d.ingested_at,
        })
        .collect();
    documents.sort_by(|a, b| b.ingested_at.cmp(&a.ingested_at).then(b.id.cmp(&a.id)));
    documents.truncate(top);

    let mut syncs: Vec<RecentSync> = aibomdb_feeds::states(store)?
        .into_iter()
        .map(|f| RecentSync {
            feed: format!("OSV {} ({})", f.ecosystem, f.source),
            at: f.synced_at,
        })
        .collect();
    for name in ["kev", "epss"] {
        if let Some(source) = store.enrichment_source(name)? {
            syncs.push(RecentSync {
                feed: name.to_string(),
                at: source.loaded_at,
            });
        }
    }
    syncs.sort_by(|a, b| b.at.cmp(&a.at).then(a.feed.cmp(&b.feed)));
    syncs.truncate(top);

    Ok(Overview {
        counts: Counts {
            deployments: stats.deployments,
            documents: stats.current_documents,
            packages: stats.packages,
            models: store.model_nodes("model")?.len() as u64,
            datasets: store.model_nodes("dataset")?.len() as u64,
            advisories_loaded: store.advisory_count()?,
        },
        advisories_by_severity: by_severity,
        kev_advisories,
        matched_advisories,
        open_pairs,
        suppressed_pairs,
        exposed_deployments,
        ranking: RANKING,
        top_exposures: exposures,
        riskiest_deployments: deployments,
        models_with_findings: models,
        recent_documents: documents,
        recent_syncs: syncs,
    })
}
