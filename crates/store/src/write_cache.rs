//! What the redb writer remembers across group commits, and what one group
//! knows while it is written.

use rustc_hash::FxHashMap;

use crate::occurrences::{FactHash, FactId};
use crate::records::LookupName;
use crate::{DocumentId, PackageId, notify};

/// Ids the store has handed out, remembered across group commits so that
/// the packages and facts an estate repeats are resolved without a B-tree
/// lookup. Packages and facts are never deleted, so an entry stays true;
/// what a group adds joins only once its transaction has committed.
#[derive(Default)]
pub(crate) struct WriteCache {
    /// Package key → node id.
    pub(crate) ids: FxHashMap<String, PackageId>,
    /// Package → the advisory lookup names recorded for it.
    pub(crate) lookup: FxHashMap<PackageId, Vec<LookupName>>,
    /// Fact hash → interned fact id, and what else that fact settles.
    pub(crate) facts: FxHashMap<FactHash, KnownFact>,
}

/// What a fact already written settles for every later occurrence of it
/// (most occurrences of an estate, whose documents repeat their packages).
/// A fact's shared part holds its package key, and its model-node row and
/// digest rows are functions of that part: such an occurrence needs no key
/// lookup and no model-node row. Its lookup names are checked again only
/// when they are not the list last checked for the fact.
#[derive(Clone, Copy)]
pub(crate) struct KnownFact {
    pub(crate) fact: FactId,
    pub(crate) package: PackageId,
    /// A hash of the lookup names last checked against `package_keys` for
    /// this fact. The matcher derives them from the fact alone, but a
    /// document is free to give others: a different list is checked name
    /// by name (an empty one is passed by: nothing to record).
    pub(crate) names_checked: Option<u64>,
    /// The fact has digest rows to write for each document.
    pub(crate) digests: bool,
}

/// Identifies a package's lookup-name list among the lists its fact was
/// given: the same list is checked once. A 64-bit Fx hash, not collision
/// resistant: a list that collided with the one checked before would not be
/// checked. That is safe because documents cannot choose their lists: the
/// ingest pipeline derives them from the fact (`aibomdb_osv::match_encoded`),
/// or gives none once the fact is stored (empty lists are not hashed), and
/// the fact's own SHA-256 keys this entry. Only code that builds a
/// `NewDocument` by hand could give one fact two non-empty lists.
pub(crate) fn hash_names(names: &[LookupName]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = rustc_hash::FxHasher::default();
    names.hash(&mut h);
    h.finish()
}

/// Entries beyond which the cache starts over: package keys, lookup names
/// and facts, 50–250 bytes each, so at most about 1 GB (the scale
/// benchmark's 50,000 deployments hold about 150,000).
pub(crate) const WRITE_CACHE_ENTRIES: usize = 4_000_000;

impl WriteCache {
    pub(crate) fn len(&self) -> usize {
        self.ids.len() + self.lookup.values().map(Vec::len).sum::<usize>() + self.facts.len()
    }

    pub(crate) fn absorb(&mut self, fresh: WriteCache) {
        self.ids.extend(fresh.ids);
        for (id, names) in fresh.lookup {
            self.lookup.entry(id).or_default().extend(names);
        }
        self.facts.extend(fresh.facts);
    }

    pub(crate) fn clear(&mut self) {
        *self = WriteCache::default();
    }
}

/// What one group commit knows: the store's cache, and what the group has
/// looked up or written itself.
#[derive(Default)]
pub(crate) struct GroupCache {
    pub(crate) known: WriteCache,
    pub(crate) fresh: WriteCache,
    /// (package, document) postings, written sorted once the group's documents are.
    pub(crate) package_docs: Vec<(PackageId, DocumentId)>,
    /// Events the group's documents cause, when someone listens (`notify.rs`).
    pub(crate) events: Option<Vec<notify::MatchEvent>>,
    /// The next package id when the group began: packages below it existed
    /// before, and one of them newly named raises `package_keys_version`.
    pub(crate) first_new_package: PackageId,
}
