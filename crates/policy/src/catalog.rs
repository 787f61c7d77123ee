//! Decoded packages and facts by id, shared by every deployment an
//! evaluation reads. An estate lists the same packages with the same facts
//! over and over (facts are interned in the store), so each is decoded once
//! per store generation rather than once per document that lists it.
//!
//! An entry never goes stale: package and fact ids come from counters that
//! never go back, and neither record is rewritten once stored. The catalog
//! is cleared with the rest of the gate's cache when the store changes, so
//! that what deleted documents alone listed does not stay in memory.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use aibomdb_graph::{PackageFact, Scope};
use aibomdb_store::{DocumentId, FactId, PackageId, PackageRecord, Store};

use crate::PolicyError;

/// One package a document lists, with what the document said about it:
/// the records borrowed from a catalog (or, for one evaluation, from the
/// [`Held`] rows), so that listing a row touches no reference count.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Listed<'c> {
    pub package: &'c PackageRecord,
    /// The interned fact; `direct` and `scope` are the row's own.
    pub fact: &'c PackageFact,
    pub fact_id: FactId,
    pub direct: Option<bool>,
    pub scope: Option<Scope>,
    /// The row's position in the document and its tree parent's (with the
    /// edge kind code): the path from the subject, without a store read.
    pub position: u32,
    pub parent: Option<(u32, u8)>,
    /// The occurrence's number in the catalog of an estate's worker
    /// ([`LocalCatalog`]): (package, fact, `direct`, `scope`) numbered from 0
    /// in the order first met, so that what a rule judges of an occurrence
    /// is kept in a vector, not a hash map. [`NO_SLOT`] when read through
    /// the shared catalog.
    pub slot: u32,
}

/// The slot of a row read through the shared [`Catalog`].
pub(crate) const NO_SLOT: u32 = u32::MAX;

/// A judgement per occurrence slot, for one evaluation: a vector indexed by
/// [`Listed::slot`], grown as slots are met. A row without a slot is
/// judged each time.
pub(crate) struct BySlot<T> {
    kept: Vec<Option<T>>,
    unkept: Option<T>,
}

impl<T> Default for BySlot<T> {
    fn default() -> Self {
        BySlot {
            kept: Vec::new(),
            unkept: None,
        }
    }
}

impl<T> BySlot<T> {
    /// The judgement of `slot`, made by `judge` the first time.
    pub(crate) fn get_or(&mut self, slot: u32, judge: impl FnOnce() -> T) -> &T {
        if slot == NO_SLOT {
            return self.unkept.insert(judge());
        }
        let i = slot as usize;
        if self.kept.len() <= i {
            self.kept.resize_with(i + 1, || None);
        }
        self.kept[i].get_or_insert_with(judge)
    }

    /// The judgement of `slot` if made (never for a row without a slot).
    pub(crate) fn get(&self, slot: u32) -> Option<&T> {
        self.kept.get(slot as usize).and_then(Option::as_ref)
    }

    /// Keeps the judgement of `slot` (not for a row without a slot).
    pub(crate) fn insert(&mut self, slot: u32, judged: T) {
        if slot != NO_SLOT {
            let i = slot as usize;
            if self.kept.len() <= i {
                self.kept.resize_with(i + 1, || None);
            }
            self.kept[i] = Some(judged);
        }
    }
}

#[derive(Default)]
pub(crate) struct Catalog {
    packages: RwLock<HashMap<PackageId, Arc<PackageRecord>>>,
    facts: RwLock<HashMap<FactId, Arc<PackageFact>>>,
}

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Catalog {
    pub(crate) fn clear(&self) {
        write(&self.packages).clear();
        write(&self.facts).clear();
    }

    /// What `document` lists, each package and fact decoded at most once
    /// for all documents read through this catalog.
    pub(crate) fn listing(
        &self,
        store: &Store,
        document: DocumentId,
    ) -> Result<Vec<Held>, PolicyError> {
        let rows = store.document_listing(document)?;
        let (mut missing_packages, mut missing_facts) = (Vec::new(), Vec::new());
        {
            let packages = read(&self.packages);
            let facts = read(&self.facts);
            for r in &rows {
                if !packages.contains_key(&r.package) {
                    missing_packages.push(r.package);
                }
                if !facts.contains_key(&r.fact) {
                    missing_facts.push(r.fact);
                }
            }
        }
        // What this call reads is kept here too: another evaluation may
        // clear the shared maps (the store changed) before the rows are built.
        let mut read_packages: HashMap<PackageId, Arc<PackageRecord>> = HashMap::new();
        let mut read_facts: HashMap<FactId, Arc<PackageFact>> = HashMap::new();
        if !missing_packages.is_empty() {
            missing_packages.sort_unstable();
            missing_packages.dedup();
            read_packages = store
                .packages_by_ids(&missing_packages)?
                .into_iter()
                .map(|p| (p.id, Arc::new(p)))
                .collect();
            let mut packages = write(&self.packages);
            for (id, p) in &read_packages {
                packages.entry(*id).or_insert_with(|| p.clone());
            }
        }
        if !missing_facts.is_empty() {
            missing_facts.sort_unstable();
            missing_facts.dedup();
            read_facts = store
                .facts_by_ids(&missing_facts)?
                .into_iter()
                .map(|(id, f)| (id, Arc::new(f)))
                .collect();
            let mut facts = write(&self.facts);
            for (id, f) in &read_facts {
                facts.entry(*id).or_insert_with(|| f.clone());
            }
        }
        let packages = read(&self.packages);
        let facts = read(&self.facts);
        listed(
            &rows,
            |id| packages.get(&id).or(read_packages.get(&id)),
            |id| facts.get(&id).or(read_facts.get(&id)),
        )
    }
}

/// A row of the shared catalog's listing, holding its records for as long
/// as an evaluation borrows them ([`Held::listed`]).
pub(crate) struct Held {
    package: Arc<PackageRecord>,
    fact: Arc<PackageFact>,
    row: Placed,
}

impl Held {
    pub(crate) fn listed(held: &[Held]) -> Vec<Listed<'_>> {
        held.iter()
            .map(|h| h.row.with(&h.package, &h.fact, NO_SLOT))
            .collect()
    }
}

/// What a listed row says of itself, apart from its records: both
/// listings keep it and lend it the records ([`Placed::with`]).
#[derive(Clone, Copy)]
struct Placed {
    fact_id: FactId,
    direct: Option<bool>,
    scope: Option<Scope>,
    position: u32,
    parent: Option<(u32, u8)>,
}

impl Placed {
    fn of(r: &aibomdb_store::ListedRow, position: usize) -> Self {
        Placed {
            fact_id: r.fact,
            direct: r.direct,
            scope: r.scope,
            position: position as u32,
            parent: r.parent,
        }
    }

    fn with<'c>(self, package: &'c PackageRecord, fact: &'c PackageFact, slot: u32) -> Listed<'c> {
        Listed {
            package,
            fact,
            fact_id: self.fact_id,
            direct: self.direct,
            scope: self.scope,
            position: self.position,
            parent: self.parent,
            slot,
        }
    }
}

/// The rows as [`Held`], with the package and fact of each looked up.
fn listed<'c>(
    rows: &[aibomdb_store::ListedRow],
    package: impl Fn(PackageId) -> Option<&'c Arc<PackageRecord>>,
    fact: impl Fn(FactId) -> Option<&'c Arc<PackageFact>>,
) -> Result<Vec<Held>, PolicyError> {
    let mut out = Vec::with_capacity(rows.len());
    for (position, r) in rows.iter().enumerate() {
        // A row whose package record is gone is left out, as
        // `Store::document_packages` does; a missing fact is corruption
        // (`facts_by_ids` says so), never a silent gap.
        let Some(package) = package(r.package) else {
            continue;
        };
        let Some(fact) = fact(r.fact) else {
            return Err(missing_fact(r.fact));
        };
        out.push(Held {
            package: package.clone(),
            fact: fact.clone(),
            row: Placed::of(r, position),
        });
    }
    Ok(out)
}

/// (package, fact, `direct`, `scope`): what a row says of a package, apart
/// from where it stands in the document.
type Occurrence = (PackageId, FactId, Option<bool>, Option<Scope>);

fn missing_fact(fact: FactId) -> PolicyError {
    PolicyError::Store(aibomdb_store::StoreError::Corrupt {
        table: "facts",
        key: fact.to_string(),
        message: "a document row names a fact that is not stored".into(),
    })
}

/// A catalog one thread keeps to itself, for an evaluation of the whole
/// estate: its records are its own copies, so two threads never touch one
/// reference count (in a shared catalog, the counts of the packages every
/// deployment lists were a third of the estate's time, bouncing between
/// the cores). Each distinct occurrence gets a slot (see [`Listed::slot`]):
/// a row costs one hash probe here, and none in the rules.
#[derive(Default)]
pub(crate) struct LocalCatalog {
    packages: rustc_hash::FxHashMap<PackageId, Arc<PackageRecord>>,
    facts: rustc_hash::FxHashMap<FactId, Arc<PackageFact>>,
    occurrences: rustc_hash::FxHashMap<Occurrence, u32>,
    /// By slot.
    slots: Vec<(Arc<PackageRecord>, Arc<PackageFact>)>,
}

/// A row of a [`LocalCatalog`]'s listing: its slot and what the row
/// itself says. [`LocalCatalog::listed`] lends it the records.
#[derive(Clone, Copy)]
pub(crate) struct Slotted {
    slot: u32,
    row: Placed,
}

impl LocalCatalog {
    /// What `document` lists, each package and fact read at most once by
    /// this thread, and each distinct occurrence given its slot.
    pub(crate) fn listing(
        &mut self,
        store: &Store,
        document: DocumentId,
    ) -> Result<Vec<Slotted>, PolicyError> {
        let rows = store.document_listing(document)?;
        let slots: Vec<Option<u32>> = rows
            .iter()
            .map(|r| {
                self.occurrences
                    .get(&(r.package, r.fact, r.direct, r.scope))
                    .copied()
            })
            .collect();
        if slots.iter().any(Option::is_none) {
            self.read_missing(store, &rows, &slots)?;
        }
        let mut out = Vec::with_capacity(rows.len());
        for (position, (r, slot)) in rows.iter().zip(slots).enumerate() {
            let slot = match slot {
                Some(s) => s,
                None => {
                    let key = (r.package, r.fact, r.direct, r.scope);
                    if let Some(s) = self.occurrences.get(&key) {
                        *s
                    } else {
                        // As `listed`: a row whose package record is gone
                        // is left out; a missing fact is corruption.
                        let Some(package) = self.packages.get(&r.package) else {
                            continue;
                        };
                        let Some(fact) = self.facts.get(&r.fact) else {
                            return Err(missing_fact(r.fact));
                        };
                        let s = self.slots.len() as u32;
                        self.slots.push((package.clone(), fact.clone()));
                        self.occurrences.insert(key, s);
                        s
                    }
                }
            };
            out.push(Slotted {
                slot,
                row: Placed::of(r, position),
            });
        }
        Ok(out)
    }

    /// The rows of [`LocalCatalog::listing`] with their records.
    pub(crate) fn listed(&self, rows: &[Slotted]) -> Vec<Listed<'_>> {
        rows.iter()
            .map(|r| {
                let (package, fact) = &self.slots[r.slot as usize];
                r.row.with(package, fact, r.slot)
            })
            .collect()
    }

    /// Reads the packages and facts of the rows without a slot that this
    /// thread has not read yet.
    fn read_missing(
        &mut self,
        store: &Store,
        rows: &[aibomdb_store::ListedRow],
        slots: &[Option<u32>],
    ) -> Result<(), PolicyError> {
        let new = || rows.iter().zip(slots).filter(|(_, s)| s.is_none());
        let mut missing: Vec<PackageId> = new()
            .map(|(r, _)| r.package)
            .filter(|id| !self.packages.contains_key(id))
            .collect();
        if !missing.is_empty() {
            missing.sort_unstable();
            missing.dedup();
            for p in store.packages_by_ids(&missing)? {
                self.packages.insert(p.id, Arc::new(p));
            }
        }
        let mut missing: Vec<FactId> = new()
            .map(|(r, _)| r.fact)
            .filter(|id| !self.facts.contains_key(id))
            .collect();
        if !missing.is_empty() {
            missing.sort_unstable();
            missing.dedup();
            for (id, f) in store.facts_by_ids(&missing)? {
                self.facts.insert(id, Arc::new(f));
            }
        }
        Ok(())
    }
}
