//! `overview`: the estate at a glance for the web page's home view, the same
//! answer as `aibomdb overview` (both read `aibomdb_query::overview`). Each
//! list is cut to `top` (at most 100), so the answer stays small however
//! large the estate; the server keeps it warm (`overview_cache`).

use async_graphql::{Context, ErrorExtensions, Object, Result, SimpleObject};

use crate::schema::blocking;

#[derive(SimpleObject)]
pub struct OverviewCounts {
    pub deployments: u64,
    /// Current documents (not superseded).
    pub documents: u64,
    pub packages: u64,
    pub models: u64,
    pub datasets: u64,
    pub advisories_loaded: u64,
}

#[derive(SimpleObject)]
pub struct SeverityCounts {
    pub critical: u64,
    pub high: u64,
    pub medium: u64,
    pub low: u64,
    /// No usable score or label.
    pub unknown: u64,
}

#[derive(SimpleObject)]
pub struct TopExposure {
    /// Deployments with an open match × severity weight.
    pub rank: u64,
    pub advisory: String,
    pub aliases: Vec<String>,
    pub summary: Option<String>,
    pub severity: String,
    pub unknown_reason: Option<String>,
    pub score: Option<f64>,
    pub kev: bool,
    pub epss: Option<f64>,
    pub open_deployments: u64,
    pub suppressed_deployments: u64,
    pub fix_available: bool,
    /// The matched packages (purls), at most 20.
    pub packages: Vec<String>,
    /// How many packages match.
    pub package_count: u64,
}

#[derive(SimpleObject)]
pub struct RiskyDeployment {
    /// Sum of the severity weights of its open advisories.
    pub risk: u64,
    pub deployment: String,
    pub open: u64,
    pub critical: u64,
    pub high: u64,
    pub medium: u64,
    pub low: u64,
    pub unknown: u64,
    pub kev: u64,
    pub suppressed: u64,
}

#[derive(SimpleObject)]
pub struct ModelWithFindings {
    pub purl: String,
    /// At most 20, by name.
    pub deployments: Vec<String>,
    pub deployment_count: u64,
    pub kinds: Vec<String>,
    pub findings: u64,
}

#[derive(SimpleObject)]
pub struct RecentDocument {
    pub id: u64,
    pub deployment: String,
    pub format: String,
    pub path: String,
    /// RFC 3339.
    pub ingested_at: String,
    pub current: bool,
}

#[derive(SimpleObject)]
pub struct RecentSync {
    pub feed: String,
    /// RFC 3339.
    pub at: String,
}

#[derive(SimpleObject)]
pub struct Overview {
    pub counts: OverviewCounts,
    pub advisories_by_severity: SeverityCounts,
    pub kev_advisories: u64,
    pub matched_advisories: u64,
    /// (deployment, advisory) pairs with an open match.
    pub open_pairs: u64,
    /// (deployment, advisory) pairs VEX takes out entirely.
    pub suppressed_pairs: u64,
    pub exposed_deployments: u64,
    /// How the lists below are ranked.
    pub ranking: String,
    pub top_exposures: Vec<TopExposure>,
    pub riskiest_deployments: Vec<RiskyDeployment>,
    pub models_with_findings: Vec<ModelWithFindings>,
    pub recent_documents: Vec<RecentDocument>,
    pub recent_syncs: Vec<RecentSync>,
}

#[derive(SimpleObject)]
pub struct GraphNode {
    pub id: u64,
    pub purl: String,
    /// An open advisory matches this package.
    pub vulnerable: bool,
    /// On a path from a root to a vulnerable package.
    pub on_vulnerable_path: bool,
    /// Hops from the nearest root.
    pub depth: u32,
}

#[derive(SimpleObject)]
pub struct GraphEdge {
    /// Depends on `to`.
    pub from: u64,
    pub to: u64,
}

#[derive(SimpleObject)]
pub struct DependencyGraph {
    pub nodes: Vec<GraphNode>,
    pub edges: Vec<GraphEdge>,
    pub roots: Vec<u64>,
    /// Packages the deployment's current documents list, before any cut.
    pub total_nodes: u64,
    /// Cut to `maxNodes`: the paths to vulnerable packages are kept first.
    pub truncated: bool,
}

#[derive(SimpleObject)]
pub struct ExposurePoint {
    /// RFC 3339.
    pub at: String,
    /// (deployment, advisory) pairs exposed at that moment.
    pub open: u64,
}

#[derive(Default)]
pub struct OverviewQuery;

#[Object]
impl OverviewQuery {
    /// Open exposures over time: at each midnight (UTC) of the last `days`
    /// days (1–366) and now, the (deployment, advisory) pairs exposed, read
    /// from history as `timeline` reads it.
    #[graphql(complexity = "crate::limits::ESTATE_COST")]
    async fn exposure_history(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 30)] days: i32,
    ) -> Result<Vec<ExposurePoint>> {
        let days = days.clamp(1, 366) as u32;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let points = blocking(ctx, move |s| aibomdb_query::exposure_history(s, days, now)).await?;
        Ok(points
            .into_iter()
            .map(|(at, open)| ExposurePoint {
                at: aibomdb_export::time::rfc3339(at),
                open,
            })
            .collect())
    }

    /// Exposures at the given moments (RFC 3339; at most 400): the
    /// (deployment, advisory) pairs exposed at each, as `exposureHistory`
    /// counts them. "How exposed were we on the day of the audit?"
    #[graphql(complexity = "crate::limits::ESTATE_COST")]
    async fn exposure_at(
        &self,
        ctx: &Context<'_>,
        times: Vec<String>,
    ) -> Result<Vec<ExposurePoint>> {
        if times.len() > 400 {
            return Err(async_graphql::Error::new(format!(
                "times: {} moments asked, at most 400",
                times.len()
            )));
        }
        let mut points = Vec::with_capacity(times.len());
        for t in &times {
            let Some(at) = aibomdb_graph::time::parse(t).filter(|&s| s >= 0) else {
                return Err(async_graphql::Error::new(format!(
                    "times: {t:?} is not an RFC 3339 date-time after 1970"
                ))
                .extend_with(|_, x| x.set("code", "BAD_INPUT")));
            };
            points.push(at as u64);
        }
        let asked = points.clone();
        let counts = blocking(ctx, move |s| aibomdb_query::exposure_counts(s, &asked)).await?;
        Ok(points
            .into_iter()
            .zip(counts)
            .map(|(at, open)| ExposurePoint {
                at: aibomdb_export::time::rfc3339(at),
                open,
            })
            .collect())
    }

    /// A deployment's dependency graph for a picture: its current documents'
    /// packages and edges, vulnerable packages and the paths to them marked.
    /// At most `maxNodes` (1–5,000) nodes, paths to vulnerable ones first.
    #[graphql(complexity = "crate::limits::WHOLE_DEPLOYMENT_COST")]
    async fn dependency_graph(
        &self,
        ctx: &Context<'_>,
        deployment: String,
        #[graphql(default = 800)] max_nodes: i32,
    ) -> Result<Option<DependencyGraph>> {
        let max = max_nodes.clamp(1, 5_000) as usize;
        let g = blocking(ctx, move |s| {
            aibomdb_query::dependency_graph(s, &deployment, max)
        })
        .await?;
        Ok(g.map(|g| DependencyGraph {
            nodes: g
                .nodes
                .into_iter()
                .map(|n| GraphNode {
                    id: n.id,
                    purl: n.purl,
                    vulnerable: n.vulnerable,
                    on_vulnerable_path: n.on_vulnerable_path,
                    depth: n.depth,
                })
                .collect(),
            edges: g
                .edges
                .into_iter()
                .map(|(from, to)| GraphEdge { from, to })
                .collect(),
            roots: g.roots,
            total_nodes: g.total_nodes as u64,
            truncated: g.truncated,
        }))
    }

    /// The estate at a glance: counts, matched advisories by severity, the
    /// top exposures and riskiest deployments, models with findings, recent
    /// ingests and syncs. Lists hold at most `top` entries (1–100).
    #[graphql(complexity = "crate::limits::ESTATE_COST")]
    async fn overview(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 10)] top: i32,
    ) -> Result<Overview> {
        let top = top.clamp(1, aibomdb_query::OVERVIEW_MAX_TOP as i32) as usize;
        let cache = ctx
            .data::<std::sync::Arc<crate::overview_cache::OverviewCache>>()?
            .clone();
        let o = blocking(ctx, move |s| cache.get(s, top)).await?;
        let time = aibomdb_export::time::rfc3339;
        let s = o.advisories_by_severity;
        Ok(Overview {
            counts: OverviewCounts {
                deployments: o.counts.deployments,
                documents: o.counts.documents,
                packages: o.counts.packages,
                models: o.counts.models,
                datasets: o.counts.datasets,
                advisories_loaded: o.counts.advisories_loaded,
            },
            advisories_by_severity: SeverityCounts {
                critical: s.critical,
                high: s.high,
                medium: s.medium,
                low: s.low,
                unknown: s.unknown,
            },
            kev_advisories: o.kev_advisories,
            matched_advisories: o.matched_advisories,
            open_pairs: o.open_pairs,
            suppressed_pairs: o.suppressed_pairs,
            exposed_deployments: o.exposed_deployments,
            ranking: o.ranking.to_string(),
            top_exposures: o
                .top_exposures
                .into_iter()
                .map(|r| {
                    let e = r.exposure;
                    TopExposure {
                        rank: r.rank,
                        advisory: e.advisory,
                        aliases: e.aliases,
                        summary: e.summary,
                        severity: e.severity.as_str().to_string(),
                        unknown_reason: e.unknown_reason,
                        score: e.score,
                        kev: e.kev,
                        epss: e.epss,
                        open_deployments: e.open_deployments as u64,
                        suppressed_deployments: e.suppressed_deployments as u64,
                        fix_available: e.fix_available,
                        packages: e.packages,
                        package_count: e.package_count as u64,
                    }
                })
                .collect(),
            riskiest_deployments: o
                .riskiest_deployments
                .into_iter()
                .map(|r| {
                    let d = r.exposure;
                    RiskyDeployment {
                        risk: r.risk,
                        open: r.open as u64,
                        deployment: d.deployment,
                        critical: d.critical as u64,
                        high: d.high as u64,
                        medium: d.medium as u64,
                        low: d.low as u64,
                        unknown: d.unknown as u64,
                        kev: d.kev as u64,
                        suppressed: d.suppressed as u64,
                    }
                })
                .collect(),
            models_with_findings: o
                .models_with_findings
                .into_iter()
                .map(|m| ModelWithFindings {
                    purl: m.purl,
                    deployments: m.deployments,
                    deployment_count: m.deployment_count as u64,
                    kinds: m.kinds,
                    findings: m.findings as u64,
                })
                .collect(),
            recent_documents: o
                .recent_documents
                .into_iter()
                .map(|d| RecentDocument {
                    id: d.id,
                    deployment: d.deployment,
                    format: d.format,
                    path: d.path,
                    ingested_at: time(d.ingested_at),
                    current: d.current,
                })
                .collect(),
            recent_syncs: o
                .recent_syncs
                .into_iter()
                .map(|x| RecentSync {
                    feed: x.feed,
                    at: time(x.at),
                })
                .collect(),
        })
    }
}
