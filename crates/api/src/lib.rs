//! The HTTP face of the store: GraphQL at `/graphql` (GraphiQL on GET), the
//! web dashboard at `/`, `/healthz`. Writes need the operator's bearer token;
//! reads may need one too. Every request is bounded in body size, query depth,
//! complexity and time, so a hostile request gets an error, never a stall.

mod cache;
pub mod schema;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use aibomdb_store::Store;
use async_graphql::http::GraphiQLSource;
use async_graphql_axum::GraphQLResponse;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

pub use schema::{Access, AppSchema, QueryLimits, build_schema, sdl};

/// What the operator configures.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Bearer token that allows mutations. `None`: the server is read-only.
    pub write_token: Option<String>,
    /// Bearer token required for reads (the write token also reads). `None`: reads are open.
    pub read_token: Option<String>,
    pub max_body_bytes: usize,
    /// Longest a request may take.
    pub timeout: Duration,
    pub limits: QueryLimits,
    /// Answers to read requests kept until the next write (0 turns the cache off).
    pub cache_entries: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            write_token: None,
            read_token: None,
            max_body_bytes: 64 * 1024 * 1024,
            timeout: Duration::from_secs(30),
            limits: QueryLimits::default(),
            cache_entries: 512,
        }
    }
}

#[derive(Clone)]
struct App {
    cache: Arc<cache::ResponseCache>,
    store: Arc<Store>,
    schema: AppSchema,
    config: Arc<ServerConfig>,
}

pub fn router(store: Arc<Store>, config: ServerConfig) -> Router {
    let app = App {
        cache: Arc::new(cache::ResponseCache::new(config.cache_entries)),
        store: store.clone(),
        schema: build_schema(store, config.limits),
        config: Arc::new(config.clone()),
    };
    Router::new()
        .route("/graphql", get(graphiql).post(graphql))
        .route("/healthz", get(|| async { "ok" }))
        .route("/deployments/{name}/sbom.cdx.json", get(download_sbom))
        .route("/deployments/{name}/export/{format}", get(download_export))
        .route(
            "/deployments/{name}/cra-report.html",
            get(download_cra_report),
        )
        .route("/", get(|| async { Html(WEB_INDEX) }))
        .route(
            "/app.js",
            get(|| async { asset("text/javascript", WEB_APP) }),
        )
        .route("/style.css", get(|| async { asset("text/css", WEB_STYLE) }))
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        .with_state(app)
}

/// Serves until the process ends. `on_bound` gets the bound address (useful
/// with port 0).
pub async fn serve(
    listen: SocketAddr,
    store: Arc<Store>,
    config: ServerConfig,
    on_bound: impl FnOnce(SocketAddr),
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    on_bound(listener.local_addr()?);
    axum::serve(listener, router(store, config)).await
}

const WEB_INDEX: &str = include_str!("../../../web/index.html");
const WEB_APP: &str = include_str!("../../../web/app.js");
const WEB_STYLE: &str = include_str!("../../../web/style.css");

fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

async fn graphiql() -> Html<String> {
    Html(GraphiQLSource::build().endpoint("/graphql").finish())
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// Compares without an early exit, so timing does not leak the token's prefix.
fn same_token(given: &str, expected: &str) -> bool {
    given.len() == expected.len()
        && given
            .bytes()
            .zip(expected.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

fn error_response(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(serde_json::json!({
            "data": null,
            "errors": [{"message": message, "extensions": {"code": code}}],
        })),
    )
        .into_response()
}

/// The reader check shared by every read route: `Some(response)` refuses.
fn refuse_read(app: &App, headers: &HeaderMap) -> Option<Response> {
    let read = app.config.read_token.as_ref()?;
    let token = bearer(headers);
    let ok = token.is_some_and(|t| {
        same_token(t, read)
            || app
                .config
                .write_token
                .as_deref()
                .is_some_and(|w| same_token(t, w))
    });
    (!ok).then(|| {
        error_response(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            "reads need `Authorization: Bearer <token>` on this server",
        )
    })
}

/// The deployment as one CycloneDX 1.6 document (the dashboard's download).
async fn download_sbom(
    State(app): State<App>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Response {
    download(
        app,
        headers,
        name,
        aibomdb_export::ExportFormat::CycloneDx16,
    )
    .await
}

/// `/deployments/{name}/export/{format}`: any export format as a download.
async fn download_export(
    State(app): State<App>,
    headers: HeaderMap,
    Path((name, format)): Path<(String, String)>,
) -> Response {
    match format.parse() {
        Ok(f) => download(app, headers, name, f).await,
        Err(e) => error_response(StatusCode::BAD_REQUEST, "BAD_INPUT", &e.to_string()),
    }
}

/// `/deployments/{name}/cra-report.html`: the TR-03183-2 completeness report.
async fn download_cra_report(
    State(app): State<App>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Response {
    if let Some(refused) = refuse_read(&app, &headers) {
        return refused;
    }
    let store = app.store.clone();
    let result = tokio::task::spawn_blocking(move || {
        let opts = aibomdb_export::Options {
            timestamp: aibomdb_export::time::rfc3339_now(),
            ..Default::default()
        };
        aibomdb_export::cra_report(&store, &name, &opts)
    })
    .await;
    match result {
        Ok(Ok(report)) => Html(aibomdb_export::cra_html(&report)).into_response(),
        Ok(Err(e)) => export_error(e),
        Err(e) => error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL",
            &e.to_string(),
        ),
    }
}

fn export_error(e: aibomdb_export::ExportError) -> Response {
    match e {
        aibomdb_export::ExportError::NoDeployment(n) => error_response(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            &format!("no deployment named {n:?}"),
        ),
        aibomdb_export::ExportError::UnknownFormat(_) => {
            error_response(StatusCode::BAD_REQUEST, "BAD_INPUT", &e.to_string())
        }
        e => error_response(StatusCode::INTERNAL_SERVER_ERROR, "STORE", &e.to_string()),
    }
}

async fn download(
    app: App,
    headers: HeaderMap,
    name: String,
    format: aibomdb_export::ExportFormat,
) -> Response {
    if let Some(refused) = refuse_read(&app, &headers) {
        return refused;
    }
    let store = app.store.clone();
    let file = format!(
        "{}.{}",
        name.replace(
            |c: char| !c.is_ascii_alphanumeric() && c != '-' && c != '_' && c != '.',
            "_"
        ),
        format.extension()
    );
    let result = tokio::task::spawn_blocking(move || {
        let opts = aibomdb_export::Options {
            timestamp: aibomdb_export::time::rfc3339_now(),
            ..Default::default()
        };
        aibomdb_export::export(&store, &name, format, &opts)
    })
    .await;
    let content_type = match format {
        aibomdb_export::ExportFormat::CycloneDx16 | aibomdb_export::ExportFormat::CycloneDxVex => {
            "application/vnd.cyclonedx+json; version=1.6"
        }
        aibomdb_export::ExportFormat::CycloneDx15 => "application/vnd.cyclonedx+json; version=1.5",
        aibomdb_export::ExportFormat::Spdx23 => "application/spdx+json",
        aibomdb_export::ExportFormat::OpenVex => "application/json",
    };
    match result {
        Ok(Ok(doc)) => (
            [
                (header::CONTENT_TYPE, content_type.to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{file}\""),
                ),
            ],
            serde_json::to_string_pretty(&doc).unwrap_or_default(),
        )
            .into_response(),
        Ok(Err(e)) => export_error(e),
        Err(e) => error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL",
            &e.to_string(),
        ),
    }
}

async fn graphql(State(app): State<App>, headers: HeaderMap, body: Bytes) -> Response {
    // Access first: nothing, not even a cached answer, reaches a caller
    // without read access.
    if let Some(refused) = refuse_read(&app, &headers) {
        return refused;
    }
    let token = bearer(&headers);
    let can_write =
        matches!((token, &app.config.write_token), (Some(t), Some(w)) if same_token(t, w));
    // The same read asked again before any write is answered from memory
    // (incident dashboards poll the same questions).
    let generation = app.store.generation();
    if let Some(hit) = app.cache.get(&body, generation) {
        return (
            [(header::CONTENT_TYPE, "application/graphql-response+json")],
            hit,
        )
            .into_response();
    }
    // `Bytes` honours the body limit (413); the request is parsed here so that a
    // malformed one is a 400 with a GraphQL-shaped error.
    let request: async_graphql::Request = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                "BAD_REQUEST",
                &format!("the body is not a GraphQL request: {e}"),
            );
        }
    };
    let cacheable = app.cache.enabled() && cache::is_read_only(&request);
    let request = request.data(schema::Access { can_write });
    let response = match tokio::time::timeout(app.config.timeout, app.schema.execute(request)).await
    {
        Ok(r) => r,
        Err(_) => {
            return error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "TIMEOUT",
                &format!(
                    "the request took longer than {} s and was stopped",
                    app.config.timeout.as_secs_f64()
                ),
            );
        }
    };
    let unauthenticated = response.errors.iter().any(|e| {
        e.extensions
            .as_ref()
            .and_then(|x| x.get("code"))
            .is_some_and(|c| *c == async_graphql::Value::from("UNAUTHENTICATED"))
    });
    if cacheable
        && response.errors.is_empty()
        && let Ok(json) = serde_json::to_vec(&response)
    {
        let json = Bytes::from(json);
        app.cache
            .put(body, json.clone(), generation, app.store.generation());
        return (
            [(header::CONTENT_TYPE, "application/graphql-response+json")],
            json,
        )
            .into_response();
    }
    let mut http = GraphQLResponse::from(response).into_response();
    if unauthenticated {
        *http.status_mut() = StatusCode::UNAUTHORIZED;
    }
    http
}

#[cfg(test)]
mod tests {
    #[test]
    fn checked_in_schema_matches_the_code() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../schema/schema.graphql");
        let checked_in = std::fs::read_to_string(path).unwrap_or_default();
        let current = super::sdl();
        if checked_in != current {
            if std::env::var_os("AIBOMDB_UPDATE_SCHEMA").is_some() {
                std::fs::write(path, &current).unwrap();
            } else {
                panic!(
                    "schema/schema.graphql differs from the code: run `aibomdb schema > schema/schema.graphql` \
                     (or this test with AIBOMDB_UPDATE_SCHEMA=1)"
                );
            }
        }
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(super::same_token("abc", "abc"));
        assert!(!super::same_token("abd", "abc"));
        assert!(!super::same_token("ab", "abc"));
    }
}
