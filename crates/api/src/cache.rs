//! Answers to read requests, keyed by the request body and valid until the
//! store's next write. Entries are whole HTTP bodies, so a hit costs one map
//! lookup. Access control runs before the cache is consulted, and a read's
//! answer does not depend on who asks, so one entry serves every reader.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use axum::body::Bytes;

pub(crate) struct ResponseCache {
    capacity: usize,
    inner: Mutex<Inner>,
}

struct Inner {
    generation: u64,
    entries: HashMap<Bytes, Bytes>,
    /// Insertion order, for eviction.
    order: VecDeque<Bytes>,
}

impl ResponseCache {
    pub(crate) fn new(capacity: usize) -> Self {
        ResponseCache {
            capacity,
            inner: Mutex::new(Inner {
                generation: 0,
                entries: HashMap::new(),
                order: VecDeque::new(),
            }),
        }
    }

    pub(crate) fn enabled(&self) -> bool {
        self.capacity > 0
    }

    pub(crate) fn get(&self, request: &Bytes, generation: u64) -> Option<Bytes> {
        if !self.enabled() {
            return None;
        }
        let mut inner = self.inner.lock().ok()?;
        if inner.generation != generation {
            inner.entries.clear();
            inner.order.clear();
            inner.generation = generation;
            return None;
        }
        inner.entries.get(request).cloned()
    }

    /// Keeps an answer computed at `before` if no write committed while it was
    /// being computed (`after` is the generation read once it was done).
    pub(crate) fn put(&self, request: Bytes, response: Bytes, before: u64, after: u64) {
        if before != after {
            return;
        }
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        if inner.generation != before {
            inner.entries.clear();
            inner.order.clear();
            inner.generation = before;
        }
        if inner.entries.contains_key(&request) {
            return;
        }
        while inner.entries.len() >= self.capacity {
            let Some(old) = inner.order.pop_front() else {
                break;
            };
            inner.entries.remove(&old);
        }
        inner.order.push_back(request.clone());
        inner.entries.insert(request, response);
    }
}

/// True when every operation in the document is a query (no mutation or
/// subscription), so its answer may be cached.
pub(crate) fn is_read_only(request: &async_graphql::Request) -> bool {
    use async_graphql::parser::types::OperationType;
    let Ok(doc) = async_graphql::parser::parse_query(&request.query) else {
        return false;
    };
    doc.operations
        .iter()
        .all(|(_, op)| op.node.ty == OperationType::Query)
}
