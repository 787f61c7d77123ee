//! Answers to read requests, keyed by the normalised request (query tokens,
//! operation name, variables: comments and spacing do not make a new entry)
//! and valid until the store's next write. Bounded in entries and in bytes
//! (keys and answers both count). Access control runs before the cache is
//! consulted, and a read's answer does not depend on who asks, so one entry
//! serves every reader.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use axum::body::Bytes;

/// Per-entry bookkeeping beyond key and answer (map slot, queue slot).
const ENTRY_OVERHEAD: usize = 64;

pub(crate) struct ResponseCache {
    capacity: usize,
    max_bytes: usize,
    inner: Mutex<Inner>,
}

struct Inner {
    generation: u64,
    entries: HashMap<String, Bytes>,
    /// Insertion order, for eviction.
    order: VecDeque<String>,
    bytes: usize,
}

impl Inner {
    fn clear(&mut self, generation: u64) {
        self.entries.clear();
        self.order.clear();
        self.bytes = 0;
        self.generation = generation;
    }
}

fn cost(key: &str, answer: &Bytes) -> usize {
    key.len() + answer.len() + ENTRY_OVERHEAD
}

impl ResponseCache {
    pub(crate) fn new(capacity: usize, max_bytes: usize) -> Self {
        ResponseCache {
            capacity,
            max_bytes,
            inner: Mutex::new(Inner {
                generation: 0,
                entries: HashMap::new(),
                order: VecDeque::new(),
                bytes: 0,
            }),
        }
    }

    pub(crate) fn enabled(&self) -> bool {
        self.capacity > 0 && self.max_bytes > 0
    }

    pub(crate) fn get(&self, key: &str, generation: u64) -> Option<Bytes> {
        if !self.enabled() {
            return None;
        }
        let mut inner = self.inner.lock().ok()?;
        if inner.generation != generation {
            inner.clear(generation);
            return None;
        }
        inner.entries.get(key).cloned()
    }

    /// Keeps an answer computed at `before` if no write committed while it was
    /// being computed (`after` is the generation read once it was done). An
    /// answer bigger than an eighth of the bound is not kept: it would evict
    /// many small ones.
    pub(crate) fn put(&self, key: String, answer: Bytes, before: u64, after: u64) {
        let size = cost(&key, &answer);
        if before != after || !self.enabled() || size > self.max_bytes / 8 {
            return;
        }
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        if inner.generation != before {
            inner.clear(before);
        }
        if inner.entries.contains_key(&key) {
            return;
        }
        while inner.entries.len() >= self.capacity || inner.bytes + size > self.max_bytes {
            let Some(old) = inner.order.pop_front() else {
                break;
            };
            if let Some(a) = inner.entries.remove(&old) {
                inner.bytes -= cost(&old, &a);
            }
        }
        inner.bytes += size;
        inner.order.push_back(key.clone());
        inner.entries.insert(key, answer);
    }

    /// (entries, bytes) held now.
    #[cfg(test)]
    fn held(&self) -> (usize, usize) {
        let inner = self.inner.lock().unwrap();
        (inner.entries.len(), inner.bytes)
    }
}

/// The cache key of a request: its query's tokens (comments dropped, runs of
/// spacing and commas, which GraphQL ignores, cut to what separates two
/// tokens), then the operation name and the variables.
pub(crate) fn key(request: &async_graphql::Request) -> String {
    let mut out = normalise_query(&request.query);
    out.push('\0');
    out.push_str(request.operation_name.as_deref().unwrap_or_default());
    out.push('\0');
    out.push_str(&serde_json::to_string(&request.variables).unwrap_or_default());
    // The key is kept; its spare capacity (a padded query's length) must not be.
    out.shrink_to_fit();
    out
}

fn normalise_query(query: &str) -> String {
    // Two tokens need a space between them only when both sides are name or
    // number characters, or quotes (`"" ""` is not `""""`).
    let joins = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '"';
    let mut out = String::with_capacity(query.len());
    let mut gap = false;
    let mut chars = query.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '#' => {
                while chars.next_if(|&n| n != '\n' && n != '\r').is_some() {}
                gap = true;
            }
            ' ' | '\t' | '\n' | '\r' | ',' | '\u{feff}' => gap = true,
            _ => {
                if gap && out.chars().last().is_some_and(joins) && joins(c) {
                    out.push(' ');
                }
                gap = false;
                out.push(c);
                if c == '"' {
                    copy_string(&mut chars, &mut out);
                }
            }
        }
    }
    out
}

/// Copies a string literal verbatim after its opening quote: `"…"` with
/// escapes, or a `"""` block string (which ends at an unescaped `"""`).
fn copy_string(chars: &mut std::iter::Peekable<std::str::Chars<'_>>, out: &mut String) {
    let block = {
        let mut ahead = chars.clone();
        ahead.next() == Some('"') && ahead.next() == Some('"')
    };
    if block {
        out.push_str("\"\"");
        chars.nth(1);
        let mut quotes = 0;
        while let Some(c) = chars.next() {
            out.push(c);
            match c {
                '"' => {
                    quotes += 1;
                    if quotes == 3 {
                        return;
                    }
                }
                '\\' => {
                    quotes = 0;
                    // `\"""` is an escaped triple quote inside the block.
                    if chars.clone().take(3).eq("\"\"\"".chars()) {
                        out.push_str("\"\"\"");
                        chars.nth(2);
                    }
                }
                _ => quotes = 0,
            }
        }
        return;
    }
    while let Some(c) = chars.next() {
        out.push(c);
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            }
            '"' | '\n' | '\r' => return,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spacing_and_comments_do_not_change_the_key() {
        let a = normalise_query("{ deployments }");
        assert_eq!(a, normalise_query("{deployments}"));
        assert_eq!(
            a,
            normalise_query("# padding\n{\n  deployments, # more\n}\n")
        );
        assert_eq!(
            normalise_query("query Q($a: String) { x(a: $a) { y z } }"),
            "query Q($a:String){x(a:$a){y z}}"
        );
        // Strings keep their spaces, commas and hashes.
        assert_eq!(
            normalise_query(r#"{ x(a: " #, a\" b ") }"#),
            r#"{x(a:" #, a\" b ")}"#
        );
        assert_eq!(
            normalise_query("{ x(a: \"\"\" # \\\"\"\" ,\"\"\") }"),
            "{x(a:\"\"\" # \\\"\"\" ,\"\"\")}"
        );
        assert_ne!(
            normalise_query(r#"{x(a:"" "")}"#),
            normalise_query(r#"{x(a:"""")}"#)
        );
        assert_ne!(normalise_query("{a b}"), normalise_query("{ab}"));
    }

    #[test]
    fn bounded_in_bytes() {
        let cache = ResponseCache::new(1000, 10_000);
        for i in 0..100 {
            cache.put(format!("q{i}"), Bytes::from(vec![b'x'; 1000]), 0, 0);
            assert!(cache.held().1 <= 10_000, "{:?}", cache.held());
        }
        assert!(cache.held().0 >= 8, "{:?}", cache.held());
        // Too big for the bound: not kept at all.
        cache.put("big".into(), Bytes::from(vec![b'x'; 5000]), 0, 0);
        assert!(cache.get("big", 0).is_none());
        assert!(cache.get("q99", 0).is_some());
        // A write empties it.
        assert!(cache.get("q99", 1).is_none());
        assert_eq!(cache.held(), (0, 0));
    }
}
