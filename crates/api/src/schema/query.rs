//! The root query fields: packages, deployments, advisories, models and
//! lineage, exports and evidence reports, search. The gate's, notification
//! and overview fields are in their own modules (`crate::gate`, …).

use super::*;

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
        // "Who is affected" alone needs no match rows: thousands of them,
        // each with its advisory's facts, made and dropped for a list of names.
        if !ctx.look_ahead().field("matches").exists() {
            let found = blocking(ctx, move |s| {
                aibomdb_query::affected_deployments(s, &advisory)
            })
            .await?;
            return Ok(found.map(|(advisories, deployments)| Affected {
                advisories,
                matches: Vec::new(),
                deployments,
            }));
        }
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
