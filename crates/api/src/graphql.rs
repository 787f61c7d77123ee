//! `POST /graphql`. In order, each before any cost is paid for the next: the
//! caller's token (401), the content type (415), the declared length (413,
//! before a byte of the body is read), the body itself (bounded in size and
//! time), then parsing (off the reactor for large bodies), the cache, and
//! execution (bounded in time and answer size).

use async_graphql_axum::GraphQLResponse;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::{App, auth, cache, error_response, schema};

/// Bodies past this size are parsed on the blocking pool: parsing a large
/// document on a reactor thread stalls every other connection on it.
const OFF_REACTOR_BYTES: usize = 64 * 1024;

pub(crate) async fn graphql(State(app): State<App>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let headers = &parts.headers;
    // Access first: nothing is read from, and nothing (not even a cached
    // answer) reaches, a caller without read access.
    let caller = auth::caller(&app, headers);
    if !caller.can_read {
        return auth::unauthenticated();
    }
    if !is_json(headers) {
        // Also what keeps a cross-site form post (text/plain) out.
        return error_response(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "BAD_REQUEST",
            "a GraphQL request is a POST with `Content-Type: application/json`",
        );
    }
    // Uploads need the write token; anyone else sends a query, which is small.
    let limit = if caller.can_write {
        app.config.max_body_bytes
    } else {
        app.config.max_query_bytes.min(app.config.max_body_bytes)
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return too_large(limit, caller.can_write);
    }
    let body = match read_body(body, limit).await {
        Ok(b) => b,
        Err(refused) => return refused(limit, caller.can_write),
    };
    let prepared = if body.len() > OFF_REACTOR_BYTES {
        tokio::task::spawn_blocking(move || prepare(&body))
            .await
            .unwrap_or_else(|e| Err(format!("internal: {e}")))
    } else {
        prepare(&body)
    };
    let (request, key, read_only) = match prepared {
        Ok(p) => p,
        Err(message) => return error_response(StatusCode::BAD_REQUEST, "BAD_REQUEST", &message),
    };
    // The same read asked again before any write is answered from memory
    // (incident dashboards poll the same questions).
    let generation = app.store.answer_generation();
    let cacheable = app.cache.enabled() && read_only;
    if cacheable && let Some(hit) = app.cache.get(&key, generation) {
        return graphql_json(hit);
    }
    let request = request.data(schema::Access {
        can_write: caller.can_write,
    });
    let response = match tokio::time::timeout(app.config.timeout, app.schema.execute(request)).await
    {
        Ok(r) => r,
        Err(_) => {
            return error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "TIMEOUT",
                &format!(
                    "the request took longer than {} s and its answer was abandoned \
                     (a write already under way still completes or fails whole)",
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
            .put(key, json.clone(), generation, app.store.answer_generation());
        return graphql_json(json);
    }
    let mut http = GraphQLResponse::from(response).into_response();
    if unauthenticated {
        *http.status_mut() = StatusCode::UNAUTHORIZED;
    }
    http
}

fn graphql_json(body: Bytes) -> Response {
    (
        [(header::CONTENT_TYPE, "application/graphql-response+json")],
        body,
    )
        .into_response()
}

/// `application/json`, with or without parameters (`; charset=utf-8`).
pub(crate) fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
}

pub(crate) fn too_large(limit: usize, can_write: bool) -> Response {
    let why = if can_write {
        "--max-body-bytes"
    } else {
        "--max-query-bytes; larger uploads need the write token"
    };
    error_response(
        StatusCode::PAYLOAD_TOO_LARGE,
        "BODY_TOO_LARGE",
        &format!("the request body is over {limit} bytes ({why})"),
    )
}

pub(crate) type Refusal = fn(usize, bool) -> Response;

/// The whole body, at most `limit` bytes; the body deadline layer bounds the
/// time. A refusal is answered from its kind.
pub(crate) async fn read_body(body: Body, limit: usize) -> Result<Bytes, Refusal> {
    match axum::body::to_bytes(body, limit).await {
        Ok(b) => Ok(b),
        Err(e) => {
            let e = e.into_inner();
            let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e.as_ref());
            while let Some(s) = source {
                if s.is::<http_body_util::LengthLimitError>() {
                    return Err(too_large);
                }
                if s.is::<tower_http::timeout::TimeoutError>() {
                    return Err(|_, _| {
                        error_response(
                            StatusCode::REQUEST_TIMEOUT,
                            "TIMEOUT",
                            "the request body did not arrive in time (--body-timeout-secs)",
                        )
                    });
                }
                source = s.source();
            }
            tracing::debug!(error = %e, "request body not read");
            Err(|_, _| {
                error_response(
                    StatusCode::BAD_REQUEST,
                    "BAD_REQUEST",
                    "the request body could not be read",
                )
            })
        }
    }
}

/// Fields that answer as of the moment they are asked, not only of the
/// store's state, so never cached: `gate` (waivers expire, releases age),
/// `exposureHistory` (its days end at midnights and now).
const AS_OF_NOW: &[&str] = &["gate", "exposureHistory"];

/// The request, its cache key, and whether it only reads.
fn prepare(body: &[u8]) -> Result<(async_graphql::Request, String, bool), String> {
    let mut request: async_graphql::Request = serde_json::from_slice(body)
        .map_err(|e| format!("the body is not a GraphQL request: {e}"))?;
    let key = cache::key(&request);
    // Parsed once here; execution reuses it. A parse error is answered by
    // execution, in GraphQL's own shape.
    let read_only = request.parsed_query().is_ok_and(|doc| {
        doc.operations.iter().all(|(_, op)| {
            op.node.ty == async_graphql::parser::types::OperationType::Query
                && !op.node.selection_set.node.items.iter().any(|s| {
                    matches!(&s.node, async_graphql::parser::types::Selection::Field(f) if AS_OF_NOW.contains(&f.node.name.node.as_str()))
                })
        })
    });
    Ok((request, key, read_only))
}

/// The body of a JSON route (`POST /v1/…`), read only after the checks that
/// need no body: the token (`write` for routes that change the store), the
/// content type and the declared length. A refusal is the response to send.
pub(crate) async fn json_route_body(
    app: &App,
    request: axum::extract::Request,
    route: &str,
    write: bool,
) -> Result<Bytes, Response> {
    let (parts, body) = request.into_parts();
    let caller = crate::auth::caller(app, &parts.headers);
    if write && !caller.can_write {
        return Err(error_response(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            &format!("{route} changes the store: it needs `Authorization: Bearer <write token>`"),
        ));
    }
    if !caller.can_read {
        return Err(crate::auth::unauthenticated());
    }
    if !is_json(&parts.headers) {
        return Err(error_response(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "BAD_REQUEST",
            &format!("{route} takes `Content-Type: application/json`"),
        ));
    }
    let identified = caller.can_write || app.config.read_token.is_some();
    let limit = if identified {
        app.config.max_body_bytes
    } else {
        app.config.max_query_bytes.min(app.config.max_body_bytes)
    };
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large(limit, identified));
    }
    read_body(body, limit)
        .await
        .map_err(|refused| refused(limit, identified))
}
