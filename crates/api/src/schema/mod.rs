//! The GraphQL schema: thin types over `aibomdb-query` answers. Reads run on
//! the blocking pool (redb calls are synchronous), so a slow question never
//! stalls the server's reactor.

use std::sync::Arc;

use aibomdb_query::{QueryError, Target};
use aibomdb_store::Store;
use async_graphql::connection::{Connection, Edge};

pub use crate::limits::QueryLimits;
use async_graphql::{
    Context, Enum, Error, ErrorExtensions, InputObject, Object, Result, Schema, SimpleObject,
};

mod inventory;
mod models;
mod mutation;
mod query;

pub use inventory::*;
pub use models::*;
pub use mutation::*;
pub use query::*;

pub type AppSchema = Schema<Query, Mutation, crate::notify::Subscription>;

/// Every query field: the inventory's and the gate's.
#[derive(async_graphql::MergedObject, Default)]
pub struct Query(
    QueryRoot,
    crate::gate::GateQuery,
    crate::notify::NotifyQuery,
    crate::overview::OverviewQuery,
);

/// Every mutation: the inventory's and the gate's stored policies.
#[derive(async_graphql::MergedObject, Default)]
pub struct Mutation(MutationRoot, crate::gate::GateMutation);

/// What the caller's bearer token allows; put into each request by the HTTP layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Access {
    pub can_write: bool,
}

pub(crate) fn store<'a>(ctx: &Context<'a>) -> &'a Arc<Store> {
    ctx.data_unchecked::<Arc<Store>>()
}

/// Runs a store read on the blocking pool.
pub(crate) async fn blocking<T, F>(ctx: &Context<'_>, f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce(&Store) -> Result<T, QueryError> + Send + 'static,
{
    blocking_with(ctx, f, query_error).await
}

/// As [`blocking`], for work whose errors `to_graphql` turns into GraphQL's.
pub(crate) async fn blocking_with<T, E, F>(
    ctx: &Context<'_>,
    f: F,
    to_graphql: fn(E) -> Error,
) -> Result<T>
where
    T: Send + 'static,
    E: Send + 'static,
    F: FnOnce(&Store) -> Result<T, E> + Send + 'static,
{
    let store = store(ctx).clone();
    tokio::task::spawn_blocking(move || f(&store))
        .await
        .map_err(|e| Error::new(format!("internal: {e}")))?
        .map_err(to_graphql)
}

fn query_error(e: QueryError) -> Error {
    match e {
        QueryError::BadInput(m) => Error::new(m).extend_with(|_, x| x.set("code", "BAD_INPUT")),
        // The position: the field's path and location come with the error;
        // the argument is named here.
        QueryError::BadRange(m) => Error::new(format!("versionRange: {m}")).extend_with(|_, x| {
            x.set("code", "BAD_INPUT");
            x.set("argument", "versionRange");
        }),
        QueryError::Store(e) => {
            Error::new(e.to_string()).extend_with(|_, x| x.set("code", "STORE"))
        }
    }
}

fn bad_input(message: impl Into<String>) -> Error {
    Error::new(message.into()).extend_with(|_, x| x.set("code", "BAD_INPUT"))
}

/// Extra fields on every connection.
#[derive(SimpleObject)]
pub struct ListInfo {
    pub total_count: usize,
    /// Versions a range could not be evaluated on, with the reason.
    pub unordered: Vec<String>,
    /// Everything the answer left out or assumed, as sentences (versions or
    /// purl types a range could not be evaluated on, a versionless purl read
    /// as every version). Empty when the answer is complete.
    pub notes: Vec<String>,
}

type List<T> = Connection<usize, T, ListInfo>;

pub(crate) const DEFAULT_PAGE: usize = 50;
pub(crate) const MAX_PAGE: usize = 1000;

/// The page `after`/`first` ask for: (offset, limit). Cursors are positions.
fn page_bounds(after: Option<&str>, first: Option<i32>) -> Result<(usize, usize)> {
    let offset = match after {
        None => 0,
        Some(c) => {
            c.parse::<usize>()
                .map_err(|_| bad_input(format!("bad cursor {c:?}")))?
                + 1
        }
    };
    let limit = first
        .map_or(DEFAULT_PAGE, |f| f.max(0) as usize)
        .min(MAX_PAGE);
    Ok((offset, limit))
}

/// A Relay connection over one page that starts at `offset` of `total` items.
fn connection<T: async_graphql::OutputType>(
    page: Vec<T>,
    offset: usize,
    total: usize,
    (unordered, notes): (Vec<String>, Vec<String>),
) -> List<T> {
    let end = offset + page.len();
    let mut c = Connection::with_additional_fields(
        offset > 0,
        end < total,
        ListInfo {
            total_count: total,
            unordered,
            notes,
        },
    );
    c.edges.extend(
        page.into_iter()
            .enumerate()
            .map(|(i, n)| Edge::new(offset + i, n)),
    );
    c
}

/// Pagination over an answer already in memory.
fn paginate<T: async_graphql::OutputType>(
    items: Vec<T>,
    unordered: (Vec<String>, Vec<String>),
    after: Option<String>,
    first: Option<i32>,
) -> Result<List<T>> {
    let (offset, limit) = page_bounds(after.as_deref(), first)?;
    let total = items.len();
    let page = items.into_iter().skip(offset).take(limit).collect();
    Ok(connection(page, offset, total, unordered))
}

pub fn build_schema(store: Arc<Store>, limits: QueryLimits) -> AppSchema {
    build_schema_with(store, limits, Arc::default(), Arc::default())
}

/// The schema, sharing the server's gate cache with `POST /v1/gate` and its
/// overview with the refresher `serve` runs.
pub(crate) fn build_schema_with(
    store: Arc<Store>,
    limits: QueryLimits,
    gate_cache: Arc<aibomdb_policy::GateCache>,
    overview_cache: Arc<crate::overview_cache::OverviewCache>,
) -> AppSchema {
    Schema::build(
        Query::default(),
        Mutation::default(),
        crate::notify::Subscription,
    )
    .data(store)
    .data(gate_cache)
    .data(overview_cache)
    .limit_depth(limits.max_depth)
    .limit_complexity(limits.max_complexity)
    .limit_recursive_depth(limits.max_recursive_depth)
    .extension(crate::limits::ResponseBudget {
        max: limits.max_response_bytes,
    })
    .finish()
}

/// The schema in SDL, as checked in at `schema/schema.graphql`.
pub fn sdl() -> String {
    Schema::build(
        Query::default(),
        Mutation::default(),
        crate::notify::Subscription,
    )
    .finish()
    .sdl()
}
