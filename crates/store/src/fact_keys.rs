//! A fact's identity: the encoding of its shared part (what the facts
//! table holds, interned) and the first 16 bytes of that encoding's
//! SHA-256, its key in `fact_by_hash`; and [`FactMemo`], which spares a
//! parser both for a fact it has seen.

use std::sync::Arc;

use aibomdb_graph::PackageFact;

use crate::encode;
use crate::occurrences::FactHash;

/// A fact as interned: what the document said, less what `document_rows`
/// keeps per occurrence.
pub(crate) fn shared_part(fact: &PackageFact) -> PackageFact {
    PackageFact {
        direct: None,
        scope: None,
        ..fact.clone()
    }
}

/// The encoding of a fact's shared part and its identity.
pub(crate) fn intern_key(fact: &PackageFact) -> (Vec<u8>, FactHash) {
    let mut bytes = Vec::new();
    encode(&shared_part(fact), &mut bytes);
    let hash = hash_of(&bytes);
    (bytes, hash)
}

/// As [`intern_key`], without copying the fact: its per-occurrence bits
/// are taken out for the encoding and put back.
pub(crate) fn intern_key_in_place(fact: &mut PackageFact) -> (Vec<u8>, FactHash) {
    let mut bytes = Vec::new();
    let hash = with_shared_encoding(fact, |encoded| {
        bytes.extend_from_slice(encoded);
        hash_of(encoded)
    });
    (bytes, hash)
}

/// As [`intern_key_in_place`], through `memo`: an encoding seen before is
/// neither hashed nor copied again.
pub(crate) fn intern_key_memo(
    fact: &mut PackageFact,
    memo: &mut FactMemo,
) -> (Arc<[u8]>, FactHash) {
    with_shared_encoding(fact, |encoded| memo.intern(encoded))
}

/// Calls `then` with the encoding of `fact`'s shared part: its
/// per-occurrence bits taken out for the encoding and put back.
fn with_shared_encoding<T>(fact: &mut PackageFact, then: impl FnOnce(&[u8]) -> T) -> T {
    thread_local! {
        /// Encoded into a buffer that keeps its capacity: a fresh vector
        /// grew five or six times per fact.
        static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    let (direct, scope) = (fact.direct.take(), fact.scope.take());
    let out = SCRATCH.with_borrow_mut(|scratch| {
        scratch.clear();
        encode(&*fact, scratch);
        then(scratch)
    });
    (fact.direct, fact.scope) = (direct, scope);
    out
}

/// The first 16 bytes of an encoding's SHA-256.
fn hash_of(encoded: &[u8]) -> FactHash {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(encoded);
    let mut hash = [0u8; 16];
    hash.copy_from_slice(&digest[..16]);
    hash
}

/// The fact encodings one parser has seen, each with its hash. Across an
/// estate nearly every fact recurs (3.0 M occurrences of 50 k facts at
/// 10,000 deployments): a recurring one is looked up by its bytes, compared
/// whole (so no collision can give a fact another's identity), instead of
/// hashed with SHA-256 again, and its encoding is shared by the documents
/// waiting for the writer instead of copied for each.
pub struct FactMemo {
    known: rustc_hash::FxHashMap<Arc<[u8]>, FactHash>,
    /// What `known` holds: its encodings plus each entry's overhead
    /// (reference counts, slot, hash).
    bytes: usize,
    budget: usize,
}

/// What a memo counts for each entry besides its encoding.
const FACT_MEMO_ENTRY: usize = 64;

impl Default for FactMemo {
    fn default() -> Self {
        Self::with_budget(16 << 20)
    }
}

impl FactMemo {
    /// A memo of 16 MiB.
    pub fn new() -> Self {
        Self::default()
    }

    /// A memo that holds about `budget` bytes at most: past it, it starts
    /// again empty (32 MiB: about 100 k facts of the estate above).
    pub fn with_budget(budget: usize) -> Self {
        FactMemo {
            known: Default::default(),
            bytes: 0,
            budget,
        }
    }

    fn intern(&mut self, encoded: &[u8]) -> (Arc<[u8]>, FactHash) {
        if let Some((bytes, hash)) = self.known.get_key_value(encoded) {
            return (bytes.clone(), *hash);
        }
        let hash = hash_of(encoded);
        let bytes: Arc<[u8]> = Arc::from(encoded);
        let cost = encoded.len() + FACT_MEMO_ENTRY;
        if self.bytes + cost > self.budget {
            self.known = Default::default();
            self.bytes = 0;
        }
        self.bytes += cost;
        self.known.insert(bytes.clone(), hash);
        (bytes, hash)
    }
}

#[cfg(test)]
mod tests {
    use aibomdb_graph::{PackageFact, Scope};

    #[test]
    fn the_per_occurrence_bits_do_not_change_a_facts_identity() {
        let plain = PackageFact {
            name: "requests".into(),
            version: Some("2.31.0".into()),
            ..Default::default()
        };
        let mut marked = PackageFact {
            direct: Some(true),
            scope: Some(Scope::Dev),
            ..plain.clone()
        };
        let key = super::intern_key(&plain);
        assert_eq!(super::intern_key(&marked), key);
        assert_eq!(super::intern_key_in_place(&mut marked), key);
        // Taken out for the encoding, and put back.
        assert_eq!(
            (marked.direct, marked.scope),
            (Some(true), Some(Scope::Dev))
        );
        let other = PackageFact {
            licenses: vec!["MIT".into()],
            ..plain
        };
        assert_ne!(super::intern_key(&other).1, key.1);

        // Through a memo: the same bytes and hash, the bytes shared by the
        // occurrences of one fact, and the per-occurrence bits put back.
        let mut memo = super::FactMemo::new();
        let (first, hash) = super::intern_key_memo(&mut marked, &mut memo);
        assert_eq!((first.to_vec(), hash), key);
        assert_eq!(
            (marked.direct, marked.scope),
            (Some(true), Some(Scope::Dev))
        );
        let mut again = plain_again();
        let (second, hash_again) = super::intern_key_memo(&mut again, &mut memo);
        assert!(std::sync::Arc::ptr_eq(&first, &second));
        assert_eq!(hash_again, key.1);
        let mut other = other;
        let (bytes, hash) = super::intern_key_memo(&mut other, &mut memo);
        assert_eq!((bytes.to_vec(), hash), super::intern_key(&other));
    }

    fn plain_again() -> PackageFact {
        PackageFact {
            name: "requests".into(),
            version: Some("2.31.0".into()),
            scope: Some(Scope::Test),
            ..Default::default()
        }
    }
}
