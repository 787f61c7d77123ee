//! Releases, observations and drift over the API: `releases`, `release` and
//! `drift` on `Deployment`, and `POST /v1/observations` (write token; one
//! observation or a batch, all or nothing).

use aibomdb_release::{NewObservation, ReleaseError};
use async_graphql::{Error, ErrorExtensions, SimpleObject};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::{App, error_response, graphql};

#[derive(SimpleObject)]
pub struct ReleasedFile {
    pub path: String,
    pub sha256: String,
    pub format: String,
}

#[derive(SimpleObject)]
pub struct ReleasedLineage {
    /// `finetune`, `adapter`, `quantized`, `merge`, `base`.
    pub relation: String,
    pub purl: String,
}

#[derive(SimpleObject)]
pub struct ReleasedModelView {
    pub purl: String,
    pub revision: Option<String>,
    pub derived_from: Vec<ReleasedLineage>,
    pub datasets: Vec<String>,
    pub files: Vec<ReleasedFile>,
}

#[derive(SimpleObject)]
pub struct EvalMetric {
    pub task: String,
    pub metric: String,
    pub value: f64,
}

#[derive(SimpleObject)]
pub struct EvalFile {
    pub file_name: String,
    pub sha256: String,
    /// `lm-evaluation-harness` or `json`.
    pub kind: String,
    pub metrics: Vec<EvalMetric>,
}

#[derive(SimpleObject)]
pub struct ReleaseGateView {
    pub policy: String,
    pub passed: bool,
    pub failed_rules: Vec<String>,
    pub at: String,
}

#[derive(SimpleObject)]
pub struct Runner {
    pub name: String,
    pub version: String,
}

/// What was approved to ship, frozen.
#[derive(SimpleObject)]
pub struct ReleaseView {
    pub name: String,
    pub sequence: u64,
    /// RFC 3339.
    pub created_at: String,
    pub approved_by: Option<String>,
    pub note: Option<String>,
    pub gate: Option<ReleaseGateView>,
    /// Why it was made although its gate failed.
    pub forced: Option<String>,
    /// SHA-256 of each released document.
    pub document_digests: Vec<String>,
    pub packages: u64,
    pub models: Vec<ReleasedModelView>,
    /// `REF@sha256:…`.
    pub images: Vec<String>,
    pub runners: Vec<Runner>,
    pub evals: Vec<EvalFile>,
    /// Open advisories at release time (`ADVISORY in PURL`).
    pub advisories: Vec<String>,
}

fn time(secs: u64) -> String {
    aibomdb_policy::time::format(i64::try_from(secs).unwrap_or(i64::MAX))
}

impl From<aibomdb_store::Release> for ReleaseView {
    fn from(r: aibomdb_store::Release) -> Self {
        ReleaseView {
            name: r.name,
            sequence: r.sequence,
            created_at: time(r.created_at),
            approved_by: r.approved_by,
            note: r.note,
            gate: r.gate.map(|g| ReleaseGateView {
                policy: g.policy,
                passed: g.passed,
                failed_rules: g.failed_rules,
                at: g.at,
            }),
            forced: r.forced,
            document_digests: r.documents.into_iter().map(|d| d.sha256).collect(),
            packages: r.packages.len() as u64,
            models: r
                .models
                .into_iter()
                .map(|m| ReleasedModelView {
                    purl: m.purl,
                    revision: m.revision,
                    derived_from: m
                        .derived_from
                        .into_iter()
                        .map(|(relation, purl)| ReleasedLineage { relation, purl })
                        .collect(),
                    datasets: m.datasets,
                    files: m
                        .artifacts
                        .into_iter()
                        .map(|a| ReleasedFile {
                            path: a.path,
                            sha256: a.sha256,
                            format: a.format,
                        })
                        .collect(),
                })
                .collect(),
            images: r.images,
            runners: r
                .runners
                .into_iter()
                .map(|(name, version)| Runner { name, version })
                .collect(),
            evals: r
                .evals
                .into_iter()
                .map(|e| EvalFile {
                    file_name: e.file_name,
                    sha256: e.sha256,
                    kind: e.kind,
                    metrics: e
                        .metrics
                        .into_iter()
                        .map(|m| EvalMetric {
                            task: m.task,
                            metric: m.metric,
                            value: m.value,
                        })
                        .collect(),
                })
                .collect(),
            advisories: r
                .advisories
                .into_iter()
                .map(|(a, p)| format!("{a} in {p}"))
                .collect(),
        }
    }
}

#[derive(SimpleObject)]
pub struct DriftDifference {
    /// `model-not-released`, `artifact-not-observed`, `image-not-released`,
    /// `image-not-observed`, `runner-differs`, `runner-not-released`.
    pub kind: String,
    pub subject: String,
    pub released: Option<String>,
    pub observed: Option<String>,
}

/// The latest observation against the latest release.
#[derive(SimpleObject)]
pub struct DriftView {
    pub release: String,
    pub observation: u64,
    /// RFC 3339.
    pub observed_at: String,
    pub drifted: bool,
    pub differences: Vec<DriftDifference>,
}

impl From<aibomdb_release::Drift> for DriftView {
    fn from(d: aibomdb_release::Drift) -> Self {
        DriftView {
            release: d.release,
            observation: d.observation,
            observed_at: time(d.observed_at),
            drifted: d.drifted,
            differences: d
                .differences
                .into_iter()
                .map(|x| DriftDifference {
                    kind: x.kind.to_string(),
                    subject: x.subject,
                    released: x.released,
                    observed: x.observed,
                })
                .collect(),
        }
    }
}

pub(crate) fn graphql_error(e: ReleaseError) -> Error {
    let code = match e {
        ReleaseError::Store(_) => "STORE",
        ReleaseError::NoDeployment(_) | ReleaseError::NoRelease { .. } => "NOT_FOUND",
        _ => "BAD_INPUT",
    };
    Error::new(e.to_string()).extend_with(|_, x| x.set("code", code))
}

/// One observation, a JSON array of them, or `{"observations": [...]}`.
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum ObservationBody {
    One(NewObservation),
    Many(Vec<NewObservation>),
    Wrapped { observations: Vec<NewObservation> },
}

/// `POST /v1/observations`: stores what was seen running, all or nothing.
/// 200 with the observations as stored; 400 bad input, 404 unknown
/// deployment, 401 without the write token.
pub(crate) async fn post_observations(State(app): State<App>, request: Request) -> Response {
    let body = match graphql::json_route_body(&app, request, "POST /v1/observations", true).await {
        Ok(b) => b,
        Err(refused) => return refused,
    };
    let store = app.store.clone();
    let work = tokio::task::spawn_blocking(move || {
        let parsed: ObservationBody = serde_json::from_slice(&body).map_err(|e| {
            (
                StatusCode::BAD_REQUEST,
                format!("the body is not an observation or a list of them: {e}"),
            )
        })?;
        let batch = match parsed {
            ObservationBody::One(o) => vec![o],
            ObservationBody::Many(v) | ObservationBody::Wrapped { observations: v } => v,
        };
        if batch.is_empty() {
            return Err((
                StatusCode::BAD_REQUEST,
                "no observation in the body".to_string(),
            ));
        }
        aibomdb_release::observe(&store, &batch, "api", aibomdb_policy::time::now()).map_err(|e| {
            match e {
                ReleaseError::NoDeployment(_) => (StatusCode::NOT_FOUND, e.to_string()),
                ReleaseError::Store(_) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
                other => (StatusCode::BAD_REQUEST, other.to_string()),
            }
        })
    });
    match work.await {
        Ok(Ok(stored)) => (
            StatusCode::OK,
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            serde_json::json!({"stored": stored.len(), "observations": stored}).to_string(),
        )
            .into_response(),
        Ok(Err((status, message))) => {
            let code = if status == StatusCode::NOT_FOUND {
                "NOT_FOUND"
            } else if status.is_server_error() {
                "STORE"
            } else {
                "BAD_REQUEST"
            };
            error_response(status, code, &message)
        }
        Err(e) => error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL",
            &format!("internal: {e}"),
        ),
    }
}
