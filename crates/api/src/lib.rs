//! The HTTP face of the store: GraphQL at `/graphql` (GraphiQL on GET), the
//! web dashboard at `/`, `/healthz`, and the downloads. Writes need the
//! operator's bearer token; reads may need one too. Every request is bounded
//! before it costs anything: `Host`, token and declared length are checked
//! before the body is read; headers, bodies and answers are bounded in time
//! and size; queries in depth, complexity and answer bytes.

mod auth;
mod cache;
mod downloads;
mod dtrack;
pub mod gate;
mod graphql;
mod limits;
pub mod notify;
pub mod overview;
mod overview_cache;
mod page;
pub mod releases;
pub mod schema;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use aibomdb_store::Store;
use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower_http::timeout::{RequestBodyDeadlineLayer, TimeoutLayer};

pub use auth::MIN_TOKEN_LEN;
pub use schema::{Access, AppSchema, QueryLimits, build_schema, sdl};

/// What the operator configures.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Bearer token that allows mutations. `None`: the server is read-only.
    pub write_token: Option<String>,
    /// Bearer token required for reads (the write token also reads). `None`: reads are open.
    pub read_token: Option<String>,
    /// Largest request body from the write token's holder (uploads).
    pub max_body_bytes: usize,
    /// Largest request body from anyone else (a query and its variables).
    pub max_query_bytes: usize,
    /// Longest a request may take once its body is in.
    pub timeout: Duration,
    /// Longest a client may take to send a request's headers, and to start
    /// the next request on a kept-alive connection (idle connections close).
    pub header_timeout: Duration,
    /// Longest a client may take to send a request's whole body.
    pub body_timeout: Duration,
    pub limits: QueryLimits,
    /// Answers to read requests kept until the next write (0 turns the cache off).
    pub cache_entries: usize,
    /// Bytes the kept answers (and their keys) may take in all.
    pub cache_bytes: usize,
    /// `Host` names this server answers to besides its listen address (and
    /// `localhost` when it listens on loopback or every address).
    pub allowed_hosts: Vec<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            write_token: None,
            read_token: None,
            max_body_bytes: 64 * 1024 * 1024,
            max_query_bytes: 1024 * 1024,
            timeout: Duration::from_secs(30),
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(60),
            limits: QueryLimits::default(),
            cache_entries: 512,
            cache_bytes: 64 * 1024 * 1024,
            allowed_hosts: Vec::new(),
        }
    }
}

#[derive(Clone)]
struct App {
    cache: Arc<cache::ResponseCache>,
    store: Arc<Store>,
    schema: AppSchema,
    config: Arc<ServerConfig>,
    /// `None`: any `Host` (a router used without `serve`, which knows the address).
    hosts: Option<Arc<auth::AllowedHosts>>,
    /// Advisories and shared models the gate read, kept until the store changes.
    gate_cache: Arc<aibomdb_policy::GateCache>,
    /// Set while a whole-estate gate (`POST /v1/gate` with `"all": true`)
    /// runs: it takes every core for a second or more, so one at a time.
    estate_gate: Arc<std::sync::atomic::AtomicBool>,
}

/// The routes, with every bound but the connection-level ones (`serve` adds
/// those) and the `Host` check (which needs the bound address).
pub fn router(store: Arc<Store>, config: ServerConfig) -> Router {
    build_router(store, config, None, Arc::default())
}

fn build_router(
    store: Arc<Store>,
    config: ServerConfig,
    hosts: Option<auth::AllowedHosts>,
    overview_cache: Arc<overview_cache::OverviewCache>,
) -> Router {
    let gate_cache = Arc::new(aibomdb_policy::GateCache::default());
    let app = App {
        cache: Arc::new(cache::ResponseCache::new(
            config.cache_entries,
            config.cache_bytes,
        )),
        store: store.clone(),
        schema: schema::build_schema_with(store, config.limits, gate_cache.clone(), overview_cache),
        config: Arc::new(config.clone()),
        hosts: hosts.map(Arc::new),
        gate_cache,
        estate_gate: Arc::default(),
    };
    // Downloads write a whole deployment out: bounded like a query. /graphql
    // bounds its own execution so that its timeout is a GraphQL answer.
    let downloads = Router::new()
        .route("/deployments/{name}/sbom.cdx.json", get(downloads::sbom))
        .route(
            "/deployments/{name}/export/{format}",
            get(downloads::export),
        )
        .route(
            "/deployments/{name}/cra-report.html",
            get(downloads::cra_report),
        )
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            config.timeout,
        ));
    let routes = Router::new()
        .route("/graphql", get(page::graphiql).post(graphql::graphql))
        .route("/graphql/ws", get(notify::websocket))
        .route("/graphiql/{file}", get(page::graphiql_asset))
        .route("/healthz", get(|| async { "ok" }))
        .route("/v1/gate", axum::routing::post(gate::post))
        .route(
            "/v1/observations",
            axum::routing::post(releases::post_observations),
        )
        .route(
            "/api/v1/bom",
            axum::routing::put(dtrack::put_bom)
                .post(dtrack::post_bom)
                // Multipart bodies are bounded by the server's body limit,
                // not axum's 2 MiB default.
                .layer(axum::extract::DefaultBodyLimit::max(config.max_body_bytes)),
        )
        .route("/api/v1/bom/token/{token}", get(dtrack::bom_token))
        .route("/", get(page::index))
        .route("/app.js", get(page::app_js))
        .route("/style.css", get(page::style_css))
        .merge(downloads)
        .layer(RequestBodyDeadlineLayer::new(config.body_timeout))
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            auth::check_host,
        ));
    page::security_headers(routes).with_state(app)
}

/// Serves until the process ends. `on_bound` gets the bound address (useful
/// with port 0).
pub async fn serve(
    listen: SocketAddr,
    store: Arc<Store>,
    config: ServerConfig,
    on_bound: impl FnOnce(SocketAddr),
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let bound = listener.local_addr()?;
    let hosts = auth::AllowedHosts::new(bound, &config.allowed_hosts);
    let mut http = hyper::server::conn::http1::Builder::new();
    // Also closes a kept-alive connection that sends no next request in time.
    http.timer(TokioTimer::new())
        .header_read_timeout(config.header_timeout);
    let overview = Arc::new(overview_cache::OverviewCache::default());
    tokio::spawn(overview_cache::keep_warm(overview.clone(), store.clone()));
    let service = hyper_util::service::TowerToHyperService::new(build_router(
        store,
        config,
        Some(hosts),
        overview,
    ));
    on_bound(bound);
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors and the like: wait for some to close.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        // Upgrades: GraphQL subscriptions run over WebSocket.
        let connection = http
            .serve_connection(TokioIo::new(stream), service.clone())
            .with_upgrades();
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection ended");
            }
        });
    }
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
}
