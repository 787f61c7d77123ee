//! The four questions the scale benchmark asks, and what they are asked
//! about in a given estate.

use aibomdb_store::Store;
use anyhow::{Context, Result, bail};

use super::ADVISORY;

/// The four query shapes, with what each is asked about.
pub(crate) struct Shapes {
    pub(crate) path_deployment: String,
    pub(crate) path_package: String,
    pub(crate) purl: String,
}

/// The name-range question: transformers below 4.38.
fn name_range() -> Result<aibomdb_query::Target> {
    Ok(aibomdb_query::Target::Name {
        ecosystem: None,
        name: "transformers".into(),
        range: Some(aibomdb_query::parse_range("<4.38")?),
    })
}

impl Shapes {
    /// What the path and purl shapes ask about in this estate: the first
    /// name-range hit, and the most shared `requests` version.
    pub(crate) fn of(store: &Store) -> Result<Shapes> {
        let first = aibomdb_query::deployments_using_page(store, &name_range()?, false, 0, 50)?;
        let Some(hit) = first.hits.first() else {
            bail!("no deployment uses transformers < 4.38");
        };
        Ok(Shapes {
            path_deployment: hit.deployment.clone(),
            path_package: hit.package.clone(),
            purl: most_shared_requests(store)?,
        })
    }

    pub(crate) fn all(&self) -> [&'static str; 4] {
        ["name-range", "advisory", "path", "purl"]
    }

    pub(crate) fn graphql(&self, shape: &str) -> String {
        match shape {
            "name-range" => r#"{deploymentsUsing(name:"transformers",versionRange:"<4.38"){totalCount edges{node{deployment package path{id}}}}}"#.into(),
            "advisory" => format!(r#"{{affected(advisory:"{ADVISORY}"){{deployments advisories}}}}"#),
            "path" => format!(
                r#"{{deploymentsUsing(purl:"{}",deployment:"{}"){{totalCount edges{{node{{deployment package path{{kind id via}}}}}}}}}}"#,
                self.path_package, self.path_deployment
            ),
            _ => format!(
                r#"{{deploymentsUsing(purl:"{}"){{totalCount edges{{node{{deployment path{{id}}}}}}}}}}"#,
                self.purl
            ),
        }
    }

    /// The same question from the query layer (the Rust API a service
    /// embeds); returns the number of deployments in the answer.
    pub(crate) fn ask_layer(&self, store: &Store, shape: &str) -> Result<usize> {
        Ok(match shape {
            "name-range" => {
                aibomdb_query::deployments_using_page(store, &name_range()?, false, 0, 50)?.total
            }
            // As GraphQL answers `affected{deployments}`: no match rows.
            "advisory" => {
                let (_, deployments) = aibomdb_query::affected_deployments(store, ADVISORY)?
                    .with_context(|| format!("{ADVISORY} not loaded"))?;
                deployments.len()
            }
            "path" => {
                let target =
                    aibomdb_query::Target::Purl(aibomdb_query::parse_purl(&self.path_package)?);
                let a = aibomdb_query::paths_in_deployment(
                    store,
                    &self.path_deployment,
                    &target,
                    false,
                )?;
                if a.hits.first().is_none_or(|h| h.path.len() < 4) {
                    bail!("no path in {}", self.path_deployment);
                }
                a.total
            }
            _ => {
                let target = aibomdb_query::Target::Purl(aibomdb_query::parse_purl(&self.purl)?);
                aibomdb_query::deployments_using_page(store, &target, false, 0, 50)?.total
            }
        })
    }
}

/// The requests version held by the most deployments: the exact-purl shape
/// asks about it.
fn most_shared_requests(store: &Store) -> Result<String> {
    let mut best = (0usize, String::new());
    for p in store.package_records_named("requests", Some("pypi"))? {
        let n = store.package_document_ids(p.id)?.len();
        if n > best.0 {
            best = (n, p.key);
        }
    }
    if best.0 == 0 {
        bail!("no requests package in the estate");
    }
    Ok(best.1)
}
