//! What never changes once written, kept by a process that reads it again:
//! a document's rows, an interned fact, a package's key. Ids are handed out
//! once and never given to other content, and facts and packages are never
//! deleted, so an entry never goes stale and no write has to clear it (a
//! deleted document's rows linger unread: no occurrence names it any more,
//! and only the blast radius, which starts from occurrences, reads them
//! here). Each part is bounded; one that fills up starts over.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use aibomdb_graph::PackageFact;
use aibomdb_store::kit::DocRows;
use aibomdb_store::{DocumentId, FactId, PackageId};

/// Document rows held, counted in packages and edges (about 60 bytes each
/// decoded): some 30 MB.
const ROWS_WEIGHT: usize = 500_000;
/// A decoded fact is a few hundred bytes: some 20 MB.
const FACTS: usize = 50_000;
/// A key with its map entry is about 80 bytes: some 16 MB.
const KEYS: usize = 200_000;

pub(crate) struct Bounded<K, V> {
    map: HashMap<K, V>,
    weight: usize,
    limit: usize,
}

impl<K: Hash + Eq + Copy, V: Clone> Bounded<K, V> {
    fn new(limit: usize) -> Self {
        Bounded {
            map: HashMap::new(),
            weight: 0,
            limit,
        }
    }

    /// The values held for `wanted`, and the keys not held.
    pub(crate) fn split(&self, wanted: &[K]) -> (HashMap<K, V>, Vec<K>) {
        let mut held = HashMap::with_capacity(wanted.len());
        let mut missing = Vec::new();
        for k in wanted {
            match self.map.get(k) {
                Some(v) => {
                    held.insert(*k, v.clone());
                }
                None => missing.push(*k),
            }
        }
        (held, missing)
    }

    pub(crate) fn insert(&mut self, key: K, value: V, weight: usize) {
        if self.weight + weight > self.limit {
            self.map.clear();
            self.weight = 0;
        }
        if self.map.insert(key, value).is_none() {
            self.weight += weight;
        }
    }
}

pub(crate) struct Immutable {
    pub(crate) rows: Mutex<Bounded<DocumentId, Arc<DocRows>>>,
    pub(crate) facts: Mutex<Bounded<FactId, PackageFact>>,
    pub(crate) keys: Mutex<Bounded<PackageId, String>>,
}

impl Default for Immutable {
    fn default() -> Self {
        Immutable {
            rows: Mutex::new(Bounded::new(ROWS_WEIGHT)),
            facts: Mutex::new(Bounded::new(FACTS)),
            keys: Mutex::new(Bounded::new(KEYS)),
        }
    }
}
