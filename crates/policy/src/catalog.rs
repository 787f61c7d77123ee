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

/// One package a document lists, with what the document said about it.
#[derive(Debug, Clone)]
pub(crate) struct Listed {
    pub package: Arc<PackageRecord>,
    /// The interned fact; `direct` and `scope` are the row's own.
    pub fact: Arc<PackageFact>,
    pub fact_id: FactId,
    pub direct: Option<bool>,
    pub scope: Option<Scope>,
    /// The row's position in the document and its tree parent's (with the
    /// edge kind code): the path from the subject, without a store read.
    pub position: u32,
    pub parent: Option<(u32, u8)>,
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
    ) -> Result<Vec<Listed>, PolicyError> {
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

/// The rows as [`Listed`], with the package and fact of each looked up.
fn listed<'c>(
    rows: &[aibomdb_store::ListedRow],
    package: impl Fn(PackageId) -> Option<&'c Arc<PackageRecord>>,
    fact: impl Fn(FactId) -> Option<&'c Arc<PackageFact>>,
) -> Result<Vec<Listed>, PolicyError> {
    let mut out = Vec::with_capacity(rows.len());
    for (position, r) in rows.iter().enumerate() {
        // A row whose package record is gone is left out, as
        // `Store::document_packages` does; a missing fact is corruption
        // (`facts_by_ids` says so), never a silent gap.
        let Some(package) = package(r.package) else {
            continue;
        };
        let Some(fact) = fact(r.fact) else {
            return Err(PolicyError::Store(aibomdb_store::StoreError::Corrupt {
                table: "facts",
                key: r.fact.to_string(),
                message: "a document row names a fact that is not stored".into(),
            }));
        };
        out.push(Listed {
            package: package.clone(),
            fact: fact.clone(),
            fact_id: r.fact,
            direct: r.direct,
            scope: r.scope,
            position: position as u32,
            parent: r.parent,
        });
    }
    Ok(out)
}

/// A catalog one thread keeps to itself, for an evaluation of the whole
/// estate: its records are its own copies, so two threads never touch one
/// reference count (in a shared catalog, the counts of the packages every
/// deployment lists were a third of the estate's time, bouncing between
/// the cores).
#[derive(Default)]
pub(crate) struct LocalCatalog {
    packages: rustc_hash::FxHashMap<PackageId, Arc<PackageRecord>>,
    facts: rustc_hash::FxHashMap<FactId, Arc<PackageFact>>,
}

impl LocalCatalog {
    /// What `document` lists, each package and fact read at most once by
    /// this thread.
    pub(crate) fn listing(
        &mut self,
        store: &Store,
        document: DocumentId,
    ) -> Result<Vec<Listed>, PolicyError> {
        let rows = store.document_listing(document)?;
        let mut missing: Vec<PackageId> = rows
            .iter()
            .map(|r| r.package)
            .filter(|id| !self.packages.contains_key(id))
            .collect();
        if !missing.is_empty() {
            missing.sort_unstable();
            missing.dedup();
            for p in store.packages_by_ids(&missing)? {
                self.packages.insert(p.id, Arc::new(p));
            }
        }
        let mut missing: Vec<FactId> = rows
            .iter()
            .map(|r| r.fact)
            .filter(|id| !self.facts.contains_key(id))
            .collect();
        if !missing.is_empty() {
            missing.sort_unstable();
            missing.dedup();
            for (id, f) in store.facts_by_ids(&missing)? {
                self.facts.insert(id, Arc::new(f));
            }
        }
        listed(&rows, |id| self.packages.get(&id), |id| self.facts.get(&id))
    }
}
