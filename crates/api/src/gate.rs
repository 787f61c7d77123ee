//! The gate over the API, evaluated by `aibomdb_policy` exactly as the CLI
//! does: GraphQL `gate`, `policies`, `storePolicy` and `removePolicy`, and
//! `POST /v1/gate` for pipelines and admission webhooks, which may send a
//! document to be judged without storing it.

use aibomdb_policy::{GateReport, Policy, PolicyError};
use aibomdb_store::Store;
use async_graphql::{Context, Error, ErrorExtensions, Object, Result, SimpleObject};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::schema::PathStep;
use crate::{App, error_response, graphql};

/// A stored policy by name, or one given inline (TOML).
/// Parsed once while the server's gate cache keeps it.
fn resolve(
    store: &Store,
    inline: Option<&str>,
    stored: Option<&str>,
    cache: &aibomdb_policy::GateCache,
) -> Result<std::sync::Arc<Policy>, PolicyError> {
    match (inline, stored) {
        (Some(text), None) => cache.policy("inline", text, || Policy::parse("inline policy", text)),
        (None, Some(name)) => {
            let p = store.policy(name)?.ok_or_else(|| PolicyError::Read {
                file: format!("stored policy {name}"),
                message: "no such policy (aibomdb policy add)".into(),
            })?;
            cache.policy(&format!("stored {name}"), &p.text, || {
                Policy::from_stored(&p)
            })
        }
        _ => Err(PolicyError::Read {
            file: "request".into(),
            message: "give exactly one of `policy` (TOML) and `stored` (a stored policy's name)"
                .into(),
        }),
    }
}

fn instant(at: Option<&str>) -> Result<i64, PolicyError> {
    match at {
        None => Ok(aibomdb_policy::time::now()),
        Some(t) => aibomdb_policy::time::parse(t).ok_or_else(|| PolicyError::Read {
            file: "at".into(),
            message: format!("{t:?} is not an RFC 3339 time or a date"),
        }),
    }
}

fn graphql_error(e: PolicyError) -> Error {
    let code = match e {
        PolicyError::Store(_) => "STORE",
        PolicyError::NoDeployment(_) => "NOT_FOUND",
        _ => "BAD_INPUT",
    };
    Error::new(e.to_string()).extend_with(|_, x| x.set("code", code))
}

#[derive(SimpleObject)]
pub struct GateViolation {
    /// `deny` or `warn`.
    pub level: String,
    pub subject: String,
    pub message: String,
    /// The document that shows, or fails to show, the evidence.
    pub document: Option<String>,
    /// Deployment → document → … → the offending node.
    pub path: Vec<PathStep>,
}

#[derive(SimpleObject)]
pub struct GateWaiver {
    pub subject: String,
    pub advisory: String,
    pub reason: String,
    pub expires: String,
    /// Its line in the policy.
    pub line: u64,
}

#[derive(SimpleObject)]
pub struct GateRule {
    pub rule: String,
    /// `deny` or `warn`.
    pub level: String,
    /// `pass`, `warn` or `fail`.
    pub outcome: String,
    pub summary: String,
    pub violations: Vec<GateViolation>,
    pub waived: Vec<GateWaiver>,
}

/// One deployment's verdict under a policy.
#[derive(SimpleObject)]
pub struct GateVerdict {
    pub deployment: String,
    pub policy: String,
    /// The instant it was evaluated as of (RFC 3339).
    pub at: String,
    /// No `deny` rule failed: it may ship.
    pub passed: bool,
    pub rules: Vec<GateRule>,
}

fn lower(v: impl std::fmt::Debug) -> String {
    format!("{v:?}").to_lowercase()
}

fn verdict(report: GateReport) -> Option<GateVerdict> {
    let policy = report.policy;
    let at = report.at;
    report.deployments.into_iter().next().map(|d| GateVerdict {
        deployment: d.deployment,
        policy,
        at,
        passed: d.passed,
        rules: d
            .rules
            .into_iter()
            .map(|r| GateRule {
                rule: r.rule,
                level: lower(r.level),
                outcome: lower(r.outcome),
                summary: r.summary,
                violations: r
                    .violations
                    .into_iter()
                    .map(|v| GateViolation {
                        level: lower(v.level),
                        subject: v.subject().to_string(),
                        message: v.message().to_string(),
                        document: v.document.as_deref().map(str::to_string),
                        path: v
                            .path()
                            .iter()
                            .map(|s| PathStep {
                                kind: s.kind.to_string(),
                                id: s.id.clone(),
                                via: s.via.to_string(),
                            })
                            .collect(),
                    })
                    .collect(),
                waived: r
                    .waived
                    .into_iter()
                    .map(|w| GateWaiver {
                        subject: w.subject,
                        advisory: w.advisory,
                        reason: w.reason,
                        expires: w.expires,
                        line: w.line as u64,
                    })
                    .collect(),
            })
            .collect(),
    })
}

#[derive(SimpleObject)]
pub struct StoredPolicyView {
    pub name: String,
    /// RFC 3339.
    pub added_at: String,
    /// The TOML as stored.
    pub text: String,
}

fn view(p: aibomdb_store::StoredPolicy) -> StoredPolicyView {
    StoredPolicyView {
        added_at: aibomdb_policy::time::format(p.added_at as i64),
        name: p.name,
        text: p.text,
    }
}

async fn on_store<T, F>(ctx: &Context<'_>, f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce(&Store) -> Result<T, PolicyError> + Send + 'static,
{
    crate::schema::blocking_with(ctx, f, graphql_error).await
}

#[derive(Default)]
pub struct GateQuery;

#[Object]
impl GateQuery {
    /// May this deployment ship? The policy is a stored one (`stored`) or
    /// TOML given inline (`policy`); `at` fixes "now" (waivers, freshness).
    #[graphql(complexity = "crate::limits::WHOLE_DEPLOYMENT_COST")]
    async fn gate(
        &self,
        ctx: &Context<'_>,
        deployment: String,
        policy: Option<String>,
        stored: Option<String>,
        at: Option<String>,
    ) -> Result<GateVerdict> {
        let cache = ctx
            .data::<std::sync::Arc<aibomdb_policy::GateCache>>()?
            .clone();
        on_store(ctx, move |store| {
            let p = resolve(store, policy.as_deref(), stored.as_deref(), &cache)?;
            let at = instant(at.as_deref())?;
            let report = aibomdb_policy::evaluate_cached(store, &p, &[deployment], at, &cache)?;
            verdict(report).ok_or_else(|| PolicyError::Query("no verdict".into()))
        })
        .await
    }

    /// Policies stored on the server.
    async fn policies(&self, ctx: &Context<'_>) -> Result<Vec<StoredPolicyView>> {
        on_store(ctx, |store| {
            Ok(store.policies()?.into_iter().map(view).collect())
        })
        .await
    }
}

#[derive(Default)]
pub struct GateMutation;

#[Object]
impl GateMutation {
    /// Checks a policy and stores it under `name` (replacing one of that name).
    async fn store_policy(
        &self,
        ctx: &Context<'_>,
        name: String,
        text: String,
    ) -> Result<StoredPolicyView> {
        crate::schema::require_write(ctx)?;
        on_store(ctx, move |store| {
            if name.trim().is_empty() || name.chars().any(char::is_control) {
                return Err(PolicyError::Read {
                    file: "name".into(),
                    message: format!("{name:?} is not a policy name"),
                });
            }
            Policy::parse(&format!("policy {name}"), &text)?;
            let stored = aibomdb_store::StoredPolicy {
                name,
                text,
                added_at: aibomdb_policy::time::now().max(0) as u64,
            };
            store.put_policy(&stored)?;
            Ok(view(stored))
        })
        .await
    }

    /// Removes a stored policy; false when there was none.
    async fn remove_policy(&self, ctx: &Context<'_>, name: String) -> Result<bool> {
        crate::schema::require_write(ctx)?;
        on_store(ctx, move |store| Ok(store.remove_policy(&name)?)).await
    }
}

/// A document sent to be judged, not stored.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UploadedDocument {
    /// Its file name (`uv.lock`, `sbom.cdx.json`): lockfiles are told apart by it.
    name: String,
    /// The text, or `content_base64` for bytes.
    content: Option<String>,
    content_base64: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GateRequest {
    policy: Option<String>,
    stored: Option<String>,
    deployment: Option<String>,
    document: Option<UploadedDocument>,
    /// Every deployment, counted (`gate --all --counts`).
    #[serde(default)]
    all: bool,
    at: Option<String>,
}

/// The one whole-estate gate running, for as long as it is held (a panic
/// included).
struct EstateGate<'a>(&'a std::sync::atomic::AtomicBool);

impl<'a> EstateGate<'a> {
    fn begin(flag: &'a std::sync::atomic::AtomicBool) -> Option<Self> {
        use std::sync::atomic::Ordering;
        flag.compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .ok()
            .map(|_| EstateGate(flag))
    }
}

impl Drop for EstateGate<'_> {
    fn drop(&mut self) {
        self.0.store(false, std::sync::atomic::Ordering::Release);
    }
}

/// A report as JSON, its buffer sized once: a deployment's report runs to
/// hundreds of kilobytes (every violation with its path), and growing the
/// buffer by doubling copied it again and again.
fn report_json(report: &GateReport) -> serde_json::Result<Vec<u8>> {
    let violations: usize = report
        .deployments
        .iter()
        .flat_map(|d| &d.rules)
        .map(|r| r.violations.len())
        .sum();
    let mut json = Vec::with_capacity(1024 + violations * 384);
    serde_json::to_writer(&mut json, report)?;
    Ok(json)
}

/// `POST /v1/gate`: `{"stored"|"policy", "deployment"|"document", "at"?}` →
/// the gate report (`passed`, each rule's verdict with paths); with
/// `"all": true` instead of a deployment or document, every deployment's
/// verdict and each rule's counts (`aibomdb gate --all --counts`), from the
/// server's kept cache, one such request at a time (429 while another
/// runs). 200 whatever the verdict; 400 for a bad policy or document, 404
/// for an unknown deployment. Tokens, content type and length are checked before the body
/// is read, as on `/graphql`; an anonymous caller (reads open) may send at
/// most `--max-query-bytes`, a token holder `--max-body-bytes`.
pub(crate) async fn post(State(app): State<App>, request: Request) -> Response {
    let body = match graphql::json_route_body(&app, request, "POST /v1/gate", false).await {
        Ok(b) => b,
        Err(refused) => return refused,
    };
    let store = app.store.clone();
    let cache = app.gate_cache.clone();
    let estate_gate = app.estate_gate.clone();
    let work = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, (StatusCode, String)> {
        let bad = |m: String| (StatusCode::BAD_REQUEST, m);
        let req: GateRequest = serde_json::from_slice(&body)
            .map_err(|e| bad(format!("the body is not a gate request: {e}")))?;
        let policy = resolve(&store, req.policy.as_deref(), req.stored.as_deref(), &cache)
            .map_err(|e| bad(e.to_string()))?;
        let at = instant(req.at.as_deref()).map_err(|e| bad(e.to_string()))?;
        let status = |e: PolicyError| match e {
            PolicyError::NoDeployment(_) => (StatusCode::NOT_FOUND, e.to_string()),
            PolicyError::Store(_) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
            other => (StatusCode::BAD_REQUEST, other.to_string()),
        };
        if req.all {
            if req.deployment.is_some() || req.document.is_some() {
                return Err(bad(
                    "give exactly one of `deployment`, `document` and `all`".into(),
                ));
            }
            let _running = EstateGate::begin(&estate_gate).ok_or((
                StatusCode::TOO_MANY_REQUESTS,
                "a gate over every deployment is already running; ask again when it is done"
                    .to_string(),
            ))?;
            let deployments = aibomdb_policy::all_deployments(&store).map_err(status)?;
            let counted =
                aibomdb_policy::evaluate_estate(&store, &policy, &deployments, at, &cache)
                    .map_err(status)?;
            return serde_json::to_vec(&counted)
                .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()));
        }
        let result = match (req.deployment, req.document) {
            (Some(d), None) => aibomdb_policy::evaluate_cached(&store, &policy, &[d], at, &cache),
            (None, Some(doc)) => {
                let bytes = match (doc.content, doc.content_base64) {
                    (Some(text), None) => text.into_bytes(),
                    (None, Some(b64)) => {
                        use base64::Engine as _;
                        base64::engine::general_purpose::STANDARD
                            .decode(b64.as_bytes())
                            .map_err(|e| bad(format!("document.content_base64: {e}")))?
                    }
                    _ => {
                        return Err(bad(
                            "document needs one of `content` and `content_base64`".into()
                        ));
                    }
                };
                let prepared = aibomdb_ingest::prepare_upload(&doc.name, &bytes)
                    .map_err(|e| bad(e.to_string()))?;
                aibomdb_policy::evaluate_document(&store, &policy, prepared, at)
            }
            _ => {
                return Err(bad(
                    "give exactly one of `deployment`, `document` and `all`".into(),
                ));
            }
        };
        let report = result.map_err(status)?;
        // Serialized here, off the server's async threads.
        report_json(&report).map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
    });
    match tokio::time::timeout(app.config.timeout, work).await {
        Ok(Ok(Ok(json))) => (
            [(
                axum::http::header::CONTENT_TYPE,
                axum::http::HeaderValue::from_static("application/json"),
            )],
            json,
        )
            .into_response(),
        Ok(Ok(Err((status, message)))) => {
            let code = match status {
                StatusCode::NOT_FOUND => "NOT_FOUND",
                StatusCode::BAD_REQUEST => "BAD_INPUT",
                StatusCode::TOO_MANY_REQUESTS => "BUSY",
                _ => "STORE",
            };
            error_response(status, code, &message)
        }
        Ok(Err(e)) => error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL",
            &e.to_string(),
        ),
        Err(_) => error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "TIMEOUT",
            "the gate took longer than --timeout-secs",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::EstateGate;

    #[test]
    fn one_estate_gate_at_a_time() {
        let flag = std::sync::atomic::AtomicBool::new(false);
        let first = EstateGate::begin(&flag).expect("nothing runs yet");
        assert!(EstateGate::begin(&flag).is_none(), "a second one began");
        drop(first);
        assert!(
            EstateGate::begin(&flag).is_some(),
            "the first one never ended"
        );
        // A panic while held lets go too.
        let caught = std::panic::catch_unwind(|| {
            let _held = EstateGate::begin(&flag).expect("free again");
            panic!("an evaluation failed");
        });
        assert!(caught.is_err());
        assert!(EstateGate::begin(&flag).is_some());
    }
}
