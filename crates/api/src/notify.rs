//! Notifications over the API: the webhook targets and their delivery log
//! (queries), and `matchEvents`, a GraphQL subscription (graphql-ws or the
//! older graphql-transport-ws, at `/graphql/ws`) that streams new and
//! resolved matches as they are committed.
//!
//! While a subscription is open the store records events even with no
//! webhook target (`Store::add_listener`); the stream reads them from the
//! outbox, so a subscriber sees exactly what a webhook would get.

use std::sync::Arc;
use std::time::Duration;

use aibomdb_store::Store;
use async_graphql::{Context, Object, Result, SimpleObject, Subscription};
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::extract::{State, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use futures_util::Stream;

use crate::schema::{blocking_with, store};
use crate::{App, auth};

/// How often an open subscription reads the outbox when nothing rang.
const POLL: Duration = Duration::from_millis(1000);

/// How often an idle subscription checks the store's event bell.
const BELL_CHECK: Duration = Duration::from_millis(10);

/// Subscriptions open at once on one server.
const MAX_SUBSCRIPTIONS: usize = 256;

static OPEN_SUBSCRIPTIONS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

#[derive(SimpleObject, Clone)]
pub struct MatchEventView {
    /// The event's id (strictly increasing); resume with `after`.
    pub id: u64,
    /// `opened` or `resolved`.
    pub kind: String,
    /// `advisory`, `sync`, `rematch`, `ingest`, `vex` (a VEX statement took the
    /// match out or put it back) or `delete` (the deployment was deleted).
    pub cause: String,
    /// RFC 3339.
    pub at: String,
    pub deployment: String,
    pub advisory: String,
    pub package: String,
    pub ecosystem: String,
}

fn event_view(e: aibomdb_store::MatchEvent) -> MatchEventView {
    MatchEventView {
        id: e.seq,
        kind: e.kind.as_str().to_string(),
        cause: e.cause,
        at: aibomdb_export::time::rfc3339(e.at),
        deployment: e.deployment,
        advisory: e.advisory,
        package: e.purl,
        ecosystem: e.ecosystem,
    }
}

#[derive(SimpleObject)]
pub struct NotifyTargetView {
    pub name: String,
    /// Scheme and host only: the path of a Slack or Teams webhook URL is
    /// its secret, and reads need only the read token.
    pub url: String,
    /// `json` or `slack`.
    pub format: String,
    /// Whether bodies are signed (a secret file is set; the secret is never shown).
    pub signed: bool,
    pub filter: Option<String>,
    /// The last event handled (delivered or filtered out).
    pub cursor: u64,
}

#[derive(SimpleObject)]
pub struct DeliveryView {
    pub target: String,
    pub event: u64,
    /// `delivered`, `filtered`, `error` (the filter could not judge the
    /// event), `failing` (to be retried), `dead` (refused for good or out of
    /// attempts; passed until `notify retry`) or `queued` (sent back by
    /// `notify retry`).
    pub status: String,
    pub attempts: u32,
    /// RFC 3339, of the last attempt.
    pub last_attempt: String,
    /// RFC 3339, when failing.
    pub next_attempt: Option<String>,
    pub http_status: Option<u16>,
    pub error: Option<String>,
}

/// `https://hooks.example.org/…` of a URL: scheme and authority, without
/// user-info, path or query.
fn origin_only(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit('@').next().unwrap_or_default();
    format!("{scheme}://{host}/…")
}

fn store_error(e: aibomdb_store::StoreError) -> async_graphql::Error {
    async_graphql::Error::new(e.to_string())
}

fn ms_time(ms: u64) -> String {
    aibomdb_export::time::rfc3339(ms / 1000)
}

#[derive(Default)]
pub struct NotifyQuery;

#[Object]
impl NotifyQuery {
    /// Webhook targets (`aibomdb notify add`).
    async fn notify_targets(&self, ctx: &Context<'_>) -> Result<Vec<NotifyTargetView>> {
        blocking_with(
            ctx,
            |store: &Store| {
                let mut out = Vec::new();
                for t in store.notify_targets()? {
                    out.push(NotifyTargetView {
                        cursor: store.notify_cursor(&t.name)?,
                        signed: t.secret_file.is_some(),
                        name: t.name,
                        url: origin_only(&t.url),
                        format: t.format,
                        filter: t.filter,
                    });
                }
                Ok(out)
            },
            store_error,
        )
        .await
    }

    /// The delivery log, newest event first.
    async fn deliveries(
        &self,
        ctx: &Context<'_>,
        target: Option<String>,
        #[graphql(default = 100, validator(minimum = 1, maximum = 10000))] limit: usize,
    ) -> Result<Vec<DeliveryView>> {
        blocking_with(
            ctx,
            move |store: &Store| {
                Ok(store
                    .deliveries(target.as_deref(), limit)?
                    .into_iter()
                    .map(|d| DeliveryView {
                        last_attempt: ms_time(d.last_attempt_ms),
                        next_attempt: (d.status == "failing").then(|| ms_time(d.next_attempt_ms)),
                        target: d.target,
                        event: d.event,
                        status: d.status,
                        attempts: d.attempts,
                        http_status: d.http_status,
                        error: d.error,
                    })
                    .collect())
            },
            store_error,
        )
        .await
    }

    /// Events in the outbox after `after`, oldest first.
    async fn match_events(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 0)] after: u64,
        #[graphql(default = 100, validator(minimum = 1, maximum = 10000))] limit: usize,
    ) -> Result<Vec<MatchEventView>> {
        blocking_with(
            ctx,
            move |store: &Store| {
                Ok(store
                    .events_after(after, limit)?
                    .into_iter()
                    .map(event_view)
                    .collect())
            },
            store_error,
        )
        .await
    }
}

/// Keeps the store recording events while a subscription is open, and
/// counts it against [`MAX_SUBSCRIPTIONS`].
struct Listening(Arc<Store>);

impl Listening {
    fn new(store: Arc<Store>) -> Result<Listening> {
        use std::sync::atomic::Ordering;
        if OPEN_SUBSCRIPTIONS.fetch_add(1, Ordering::AcqRel) >= MAX_SUBSCRIPTIONS {
            OPEN_SUBSCRIPTIONS.fetch_sub(1, Ordering::AcqRel);
            return Err(async_graphql::Error::new(format!(
                "{MAX_SUBSCRIPTIONS} subscriptions are open on this server; try again later"
            )));
        }
        store.add_listener();
        Ok(Listening(store))
    }
}

impl Drop for Listening {
    fn drop(&mut self) {
        self.0.remove_listener();
        OPEN_SUBSCRIPTIONS.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

#[derive(Default)]
pub struct Subscription;

#[Subscription]
impl Subscription {
    /// New and resolved matches as they are committed (by an ingest, an
    /// advisory load or a feed sync, in this server or, over a shared
    /// PostgreSQL database, in another process). `after`: also replay
    /// the outbox after this event id.
    async fn match_events(
        &self,
        ctx: &Context<'_>,
        after: Option<u64>,
    ) -> Result<impl Stream<Item = MatchEventView> + use<>> {
        let store = store(ctx).clone();
        let listening = Listening::new(store.clone())?;
        let start = match after {
            Some(a) => a,
            None => {
                let s = store.clone();
                tokio::task::spawn_blocking(move || s.last_event_seq())
                    .await
                    .map_err(|e| async_graphql::Error::new(e.to_string()))?
                    .map_err(store_error)?
            }
        };
        let state = (listening, start, std::collections::VecDeque::new());
        Ok(futures_util::stream::unfold(
            state,
            |(listening, mut cursor, mut queue)| async move {
                loop {
                    if let Some(e) = queue.pop_front() {
                        return Some((event_view(e), (listening, cursor, queue)));
                    }
                    let s = listening.0.clone();
                    // Read before the outbox, so a commit in between still wakes the wait.
                    let rings = s.event_rings();
                    let read =
                        tokio::task::spawn_blocking(move || s.events_after(cursor, 256)).await;
                    match read {
                        Ok(Ok(events)) if !events.is_empty() => {
                            cursor = events.last().map_or(cursor, |e| e.seq);
                            queue.extend(events);
                        }
                        Ok(Ok(_)) => {
                            // Until a commit rings the store's bell (a cheap
                            // check, no thread held), or POLL has passed.
                            let until = tokio::time::Instant::now() + POLL;
                            while listening.0.event_rings() == rings
                                && tokio::time::Instant::now() < until
                            {
                                tokio::time::sleep(BELL_CHECK).await;
                            }
                        }
                        // A store failure ends the stream; the client sees it close.
                        Ok(Err(e)) => {
                            tracing::warn!(error = %e, "subscription read failed");
                            return None;
                        }
                        Err(_) => return None,
                    }
                }
            },
        ))
    }
}

/// `GET /graphql/ws`: the WebSocket end of subscriptions. Read access as
/// for every read: the token in the `Authorization` header, or (browsers
/// cannot set headers on a WebSocket) in the `connection_init` payload as
/// `{"authorization": "Bearer <token>"}`.
pub(crate) async fn websocket(
    State(app): State<App>,
    headers: HeaderMap,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> Response {
    // Browsers send any site's WebSocket to any host with that site's
    // `Origin` (no CORS for WebSockets): only this server's own pages may
    // open one, or a page elsewhere could read the inventory of a server
    // whose reads are open.
    if let Some(origin) = headers.get(axum::http::header::ORIGIN) {
        let authority = origin
            .to_str()
            .ok()
            .and_then(|o| o.split_once("://"))
            .map(|(_, a)| a.trim_end_matches('/').to_string());
        let same = match (&authority, app.hosts.as_ref()) {
            (Some(a), Some(hosts)) => hosts.allows(a),
            (Some(a), None) => headers
                .get(axum::http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .is_some_and(|h| h.eq_ignore_ascii_case(a)),
            (None, _) => false,
        };
        if !same {
            return crate::error_response(
                axum::http::StatusCode::FORBIDDEN,
                "FORBIDDEN",
                "a WebSocket from another site's page is refused",
            );
        }
    }
    let by_header = auth::caller(&app, &headers).can_read;
    let schema = app.schema.clone();
    upgrade
        .protocols(async_graphql::http::ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| async move {
            GraphQLWebSocket::new(socket, schema, protocol)
                .on_connection_init(move |payload| async move {
                    if by_header || payload_can_read(&app, &payload) {
                        Ok(async_graphql::Data::default())
                    } else {
                        Err(async_graphql::Error::new(
                            "reads need a token: `Authorization: Bearer <token>`",
                        ))
                    }
                })
                .serve()
                .await
        })
        .into_response()
}

fn payload_can_read(app: &App, payload: &serde_json::Value) -> bool {
    let Some(value) = payload
        .get("authorization")
        .or_else(|| payload.get("Authorization"))
        .and_then(|v| v.as_str())
    else {
        return false;
    };
    let mut headers = HeaderMap::new();
    match value.parse() {
        Ok(v) => {
            headers.insert(axum::http::header::AUTHORIZATION, v);
            auth::caller(app, &headers).can_read
        }
        Err(_) => false,
    }
}
