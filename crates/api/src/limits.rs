//! Bounds on what one GraphQL request may cost: the static limits
//! (depth, complexity, parser recursion) checked before anything runs, the
//! cost of the fields whose answer grows with the data, and a byte budget on
//! the answer enforced while it is built.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextResolve, ResolveInfo,
};
use async_graphql::{ServerError, ServerResult, Value};

/// Limits that keep a hostile query from stalling the server or filling its
/// memory.
#[derive(Debug, Clone, Copy)]
pub struct QueryLimits {
    pub max_depth: usize,
    pub max_complexity: usize,
    pub max_recursive_depth: usize,
    /// Largest answer (JSON bytes, estimated as it is built); the fields that
    /// would take it past this fail instead.
    pub max_response_bytes: usize,
}

impl Default for QueryLimits {
    fn default() -> Self {
        QueryLimits {
            max_depth: 16,
            max_complexity: 10_000,
            max_recursive_depth: 32,
            max_response_bytes: 64 * 1024 * 1024,
        }
    }
}

/// Complexity of a field that writes a whole deployment out (`export`,
/// `craReport`): a tenth of the default limit, so one request asks for a few
/// of them, never a thousand.
pub(crate) const WHOLE_DEPLOYMENT_COST: usize = 1_000;

/// Complexity of a field that reads the whole estate (`exposureHistory`,
/// `overview` when not yet computed): a quarter of the default limit.
pub(crate) const ESTATE_COST: usize = 2_500;

/// Complexity of a page of a connection: its children once per item asked for.
pub(crate) fn page_cost(first: Option<i32>, child_complexity: usize) -> usize {
    let items = first.map_or(crate::schema::DEFAULT_PAGE, |f| {
        (f.max(0) as usize).min(crate::schema::MAX_PAGE)
    });
    1 + items.max(1) * child_complexity
}

/// Counts the answer's bytes as fields resolve and fails a field once the
/// request's answer would pass `max`. One instance per request.
pub(crate) struct ResponseBudget {
    pub(crate) max: usize,
}

impl ExtensionFactory for ResponseBudget {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Budget {
            max: self.max,
            used: AtomicUsize::new(0),
        })
    }
}

struct Budget {
    max: usize,
    used: AtomicUsize,
}

/// JSON bytes of a resolved value, not counting nested objects: their fields
/// are counted as they resolve.
fn shallow_bytes(v: &Value) -> usize {
    match v {
        Value::Null | Value::Boolean(_) => 5,
        Value::Number(_) => 20,
        Value::String(s) => s.len() + 2,
        Value::Enum(e) => e.len() + 2,
        Value::Binary(b) => b.len() * 4 / 3 + 2,
        Value::List(items) => 2 + items.iter().map(|i| shallow_bytes(i) + 1).sum::<usize>(),
        Value::Object(_) => 2,
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for Budget {
    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        let key = info.alias.unwrap_or(info.name).len() + 4;
        let pos = info.field.name.pos;
        let value = next.run(ctx, info).await?;
        let size = key + value.as_ref().map_or(0, shallow_bytes);
        let used = self.used.fetch_add(size, Ordering::Relaxed) + size;
        if used > self.max {
            let mut e = ServerError::new(
                format!(
                    "the answer would be larger than {} bytes (the server's --max-response-bytes): ask for less, or page through it",
                    self.max
                ),
                Some(pos),
            );
            e.extensions = Some({
                let mut x = async_graphql::ErrorExtensionValues::default();
                x.set("code", "RESPONSE_TOO_LARGE");
                x
            });
            return Err(e);
        }
        Ok(value)
    }
}
