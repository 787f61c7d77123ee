//! Matching advisories against the graph, incrementally: loading advisories
//! evaluates them only against packages already indexed under the names they
//! mention, and ingesting a document evaluates only that document's packages
//! (in the document's own transaction). No estate-wide rescan on a change.

use std::collections::HashMap;

use aibomdb_graph::{DocumentFacts, PackageFact, PackageKey, Purl};
use aibomdb_store::{
    AdvisoryBatch, AdvisoryChange, AdvisoryRow, LatePackage, LookupName, MatchRecord, NewDocument,
    PackageId, Store, StoreError,
};

use crate::names::{index_key, osv_names};
use crate::range::{Candidate, PreparedAdvisory, Verdict};
use crate::record::Advisory;

/// How advisories name this package (empty when its purl type has no OSV ecosystem here).
pub fn lookup_names(fact: &PackageFact) -> Vec<LookupName> {
    names_keyed(fact.key.as_ref(), fact)
}

/// [`lookup_names`] of a fact whose key was taken out of it (`key`).
fn names_keyed(key: Option<&PackageKey>, fact: &PackageFact) -> Vec<LookupName> {
    let Some(key) = key else {
        return Vec::new();
    };
    // Only the type, namespace and name are read: nothing else of the
    // purl is decoded or copied (this ran for every occurrence ingested).
    let Ok(purl) = Purl::parse_name(key.as_str()) else {
        return Vec::new();
    };
    osv_names(
        &purl.ty,
        purl.namespace.as_deref(),
        &purl.name,
        &fact.qualifiers,
        fact.source_package.as_ref().map(|(n, _)| n.as_str()),
    )
    .into_iter()
    .map(|n| LookupName {
        key: n.key(),
        ecosystem: n.ecosystem,
        name: n.name,
        via_source_of: n.via_source_of,
    })
    .collect()
}

/// Evaluates one advisory for one package under the names it goes by.
pub fn evaluate(
    advisory: &Advisory,
    names: &[LookupName],
    version: &str,
    package: u64,
) -> Option<MatchRecord> {
    evaluate_prepared(
        &PreparedAdvisory::new(advisory),
        names,
        &Candidate::new(version),
        package,
    )
}

/// As [`evaluate`], for an advisory prepared once and evaluated many times.
pub fn evaluate_prepared(
    prepared: &PreparedAdvisory<'_>,
    names: &[LookupName],
    version: &Candidate<'_>,
    package: u64,
) -> Option<MatchRecord> {
    let hit = verdict(prepared, names, version, package)?;
    Some(hit.record(prepared.advisory))
}

/// How a record found one package: the verdict under the first of its
/// names that gave one.
pub(crate) struct Hit<'n> {
    pub(crate) package: PackageId,
    pub(crate) status: &'static str,
    pub(crate) detail: Option<String>,
    pub(crate) name: &'n LookupName,
}

impl Hit<'_> {
    fn record(&self, advisory: &Advisory) -> MatchRecord {
        MatchRecord {
            advisory: advisory.id.clone(),
            package: self.package,
            status: self.status.to_string(),
            detail: self.detail.clone(),
            ecosystem: self.name.ecosystem.clone(),
            name: self.name.name.clone(),
            via_source_of: self.name.via_source_of.clone(),
            fixed: fixed_under(advisory, self.name),
        }
    }
}

/// The verdict of `prepared` on a package under the first of its names
/// that it affects or cannot evaluate, if any.
fn verdict<'n>(
    prepared: &PreparedAdvisory<'_>,
    names: &'n [LookupName],
    version: &Candidate<'_>,
    package: PackageId,
) -> Option<Hit<'n>> {
    for n in names {
        let (status, detail) = match prepared.affects_candidate(&n.ecosystem, &n.name, version) {
            Verdict::Affected => ("affected", None),
            Verdict::NotAffected => continue,
            Verdict::Unsupported(why) => (
                "unsupported",
                Some(format!("no version ordering for {why}")),
            ),
            Verdict::Unorderable(why) => ("unorderable", Some(why)),
        };
        return Some(Hit {
            package,
            status,
            detail,
            name: n,
        });
    }
    None
}

/// The fixed versions an advisory gives for the package it names as `name`.
pub(crate) fn fixed_under(advisory: &Advisory, name: &LookupName) -> Vec<String> {
    advisory
        .affected
        .iter()
        .filter(|a| {
            a.package
                .as_ref()
                .is_some_and(|p| crate::names_package(p, &name.ecosystem, &name.name))
        })
        .flat_map(|a| a.fixed_versions())
        .collect()
}

/// Per package of a document (aligned with its packages): how advisories
/// name it, and its matches.
pub type DocumentMatches = (Vec<Vec<LookupName>>, Vec<Vec<MatchRecord>>);

/// Lookup names and matches for every package of a document, read from the
/// advisories the store holds; to be written with the document.
pub fn match_document(store: &Store, facts: &DocumentFacts) -> Result<DocumentMatches, StoreError> {
    let all_names: Vec<Vec<LookupName>> = facts.packages.iter().map(lookup_names).collect();
    let keys: Vec<Option<&PackageKey>> = facts.packages.iter().map(|p| p.key.as_ref()).collect();
    let all_matches = matches_named(store, &keys, &all_names)?;
    Ok((all_names, all_matches))
}

/// As [`match_document`], for a document whose rows are encoded: `facts`
/// are what [`NewDocument::encode_rows_returning_facts`] handed back (their
/// keys are in the rows). Only the packages `wanted` says are named and
/// matched; the others get neither, for a writer to skip: an ingest leaves
/// out the facts its earlier groups committed, whose package has its names
/// and matches stored already (a later advisory load matches them there).
pub fn match_encoded(
    store: &Store,
    doc: &NewDocument,
    facts: &[PackageFact],
    wanted: &[bool],
) -> Result<DocumentMatches, StoreError> {
    let keys = doc.package_keys();
    let all_names: Vec<Vec<LookupName>> = keys
        .iter()
        .zip(facts)
        .zip(wanted)
        .map(|((key, fact), wanted)| match wanted {
            true => names_keyed(*key, fact),
            false => Vec::new(),
        })
        .collect();
    let all_matches = matches_named(store, &keys, &all_names)?;
    Ok((all_names, all_matches))
}

/// Matches a document read for writing ([`match_document`]) anew, with the
/// names it already has, and stamps it with the advisory counter read
/// first: what a write refused as stale ([`StoreError::Stale`]) does before
/// it is tried again. Its rows may be encoded already (the keys stay, and
/// they hold the versions matched).
pub fn match_again(store: &Store, doc: &mut NewDocument) -> Result<(), StoreError> {
    let marks = store.write_marks()?;
    doc.matches = matches_named(store, &doc.package_keys(), &doc.lookup_names)?;
    doc.matched_at = Some(marks.advisories);
    Ok(())
}

/// Each package's matches (aligned with `package_keys`) from the names it
/// goes by.
fn matches_named(
    store: &Store,
    package_keys: &[Option<&PackageKey>],
    all_names: &[Vec<LookupName>],
) -> Result<Vec<Vec<MatchRecord>>, StoreError> {
    let mut keys: Vec<&str> = all_names.iter().flatten().map(|n| n.key.as_str()).collect();
    keys.sort_unstable();
    keys.dedup();
    let mut by_key: HashMap<String, Vec<Advisory>> = HashMap::new();
    for (key, _, json) in store.advisories_for_keys(&keys)? {
        if let Ok(a) = serde_json::from_slice::<Advisory>(&json) {
            by_key.entry(key).or_default().push(a);
        }
    }
    let mut all_matches = Vec::with_capacity(package_keys.len());
    for (key, names) in package_keys.iter().zip(all_names) {
        // Most packages have no advisory under any of their names: their
        // version is not read out of the key at all.
        if !names.iter().any(|n| by_key.contains_key(&n.key)) {
            all_matches.push(Vec::new());
            continue;
        }
        // Matched at the document's own version string (for Debian the
        // epoch is part of it).
        let version = key.and_then(|k| k.version()).unwrap_or_default();
        let mut found: Vec<MatchRecord> = Vec::new();
        for key in names.iter().map(|n| n.key.as_str()) {
            for a in by_key.get(key).into_iter().flatten() {
                if found.iter().any(|m| m.advisory == a.id) {
                    continue;
                }
                let relevant: Vec<LookupName> =
                    names.iter().filter(|n| n.key == key).cloned().collect();
                if let Some(m) = evaluate(a, &relevant, &version, 0) {
                    found.push(m);
                }
            }
        }
        all_matches.push(found);
    }
    Ok(all_matches)
}

/// What loading advisories did.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LoadSummary {
    pub added: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub withdrawn: usize,
    /// Match edges written for the added and updated advisories.
    pub matches: usize,
}

/// Stores advisories and re-matches the ones that changed against the
/// packages indexed under the names they mention: records, matches and the
/// events they cause in one transaction.
pub fn load_advisories(store: &Store, advisories: &[Advisory]) -> Result<LoadSummary, StoreError> {
    apply_advisories(store, advisories, None, "advisory")
}

/// As [`load_advisories`], recording `feed_state` (key, value) in the same
/// transaction, so that a feed's progress and what it brought commit together.
pub fn apply_advisories(
    store: &Store,
    advisories: &[Advisory],
    feed_state: Option<(&str, &[u8])>,
    cause: &str,
) -> Result<LoadSummary, StoreError> {
    plan_advisories(store, advisories)?.write(store, feed_state, cause)
}

/// A load read and matched but not written yet ([`plan_advisories`]). A
/// package another writer stores before [`PlannedLoad::write`] is matched
/// under the writers' lock, when the records are written.
pub struct PlannedLoad<'a> {
    advisories: &'a [Advisory],
    rows: Vec<(AdvisoryRow, Vec<u8>)>,
    /// Which rows (by index) were matched: those that will change.
    evaluated: Vec<usize>,
    matches: Vec<MatchRecord>,
    /// The packages the matches were computed over, by key.
    indexed: Indexed,
    /// Where the writers stood before they were read.
    marks: aibomdb_store::WriteMarks,
}

/// Reads what loading `advisories` changes and matches the changed records
/// against the packages stored now.
pub fn plan_advisories<'a>(
    store: &Store,
    advisories: &'a [Advisory],
) -> Result<PlannedLoad<'a>, StoreError> {
    let rows: Vec<(AdvisoryRow, Vec<u8>)> = advisories
        .iter()
        .map(|a| {
            let keys = advisory_keys(a);
            let mut identifiers: Vec<String> = a.identifiers().map(str::to_string).collect();
            identifiers.sort();
            identifiers.dedup();
            let row = AdvisoryRow {
                id: a.id.clone(),
                modified: a.modified.clone(),
                withdrawn: a.is_withdrawn(),
                identifiers,
                keys,
            };
            (row, serde_json::to_vec(a).unwrap_or_default())
        })
        .collect();
    // Which rows will change decides which are matched; the write checks
    // again and ignores the matches of a row found unchanged by then.
    let plain: Vec<AdvisoryRow> = rows.iter().map(|(r, _)| r.clone()).collect();
    let planned = store.advisory_changes(&plain)?;
    // A batch may hold two versions of one record: as the write does, the
    // first stands unless a later one is newer.
    let mut winner: HashMap<&str, usize> = HashMap::new();
    for (i, (row, _)) in rows.iter().enumerate() {
        let w = winner.entry(row.id.as_str()).or_insert(i);
        let first = &rows[*w].0;
        let newer = match (&row.modified, &first.modified) {
            (Some(new), Some(old)) => {
                aibomdb_graph::time::later(new, old)
                    || (!aibomdb_graph::time::later(old, new) && row.withdrawn != first.withdrawn)
            }
            (Some(_), None) => true,
            (None, _) => row.withdrawn != first.withdrawn,
        };
        if newer {
            *w = i;
        }
    }
    let evaluated: Vec<usize> = rows
        .iter()
        .zip(&planned)
        .enumerate()
        .filter(|(i, ((row, _), change))| {
            **change != AdvisoryChange::Unchanged && !row.withdrawn && winner[row.id.as_str()] == *i
        })
        .map(|(i, _)| i)
        .collect();
    // Read before the packages: any package stored after this is handed
    // back under the writers' lock, however the writes interleave.
    let marks = store.write_marks()?;
    let indexed = Indexed::load(store, evaluated.iter().flat_map(|&i| &rows[i].0.keys))?;
    let candidates = indexed.candidates();
    let mut matches = Vec::new();
    for &i in &evaluated {
        match_advisory_into(&advisories[i], &rows[i].0.keys, &candidates, &mut matches);
    }
    drop(candidates);
    Ok(PlannedLoad {
        advisories,
        rows,
        evaluated,
        matches,
        indexed,
        marks,
    })
}

impl PlannedLoad<'_> {
    /// Writes the records, their matches and the events they cause in one
    /// transaction, recording `feed_state` with them.
    pub fn write(
        self,
        store: &Store,
        feed_state: Option<(&str, &[u8])>,
        cause: &str,
    ) -> Result<LoadSummary, StoreError> {
        let late_made: std::sync::Mutex<Vec<MatchRecord>> = Default::default();
        let late = |found: &[LatePackage]| -> Vec<MatchRecord> {
            let unseen: Vec<&LatePackage> = found
                .iter()
                .filter(|p| !self.indexed.holds(&p.key, p.package.id, &p.names))
                .collect();
            if unseen.is_empty() {
                return Vec::new();
            }
            let indexed = Indexed::of_late(&unseen);
            let candidates = indexed.candidates();
            let mut made: Vec<MatchRecord> = Vec::new();
            for &i in &self.evaluated {
                match_advisory_into(
                    &self.advisories[i],
                    &self.rows[i].0.keys,
                    &candidates,
                    &mut made,
                );
            }
            let made = affected_wins(&self.matches, made);
            if let Ok(mut kept) = late_made.lock() {
                kept.clone_from(&made);
            }
            made
        };
        let (changes, _events) = store.apply_advisories(&AdvisoryBatch {
            rows: &self.rows,
            matches: &self.matches,
            feed_state,
            cause,
            marks: Some(self.marks),
            late: Some(&late),
        })?;
        let mut summary = LoadSummary::default();
        for ((row, _), change) in self.rows.iter().zip(&changes) {
            match change {
                AdvisoryChange::Unchanged => {
                    summary.unchanged += 1;
                    continue;
                }
                AdvisoryChange::Added => summary.added += 1,
                AdvisoryChange::Updated => summary.updated += 1,
            }
            summary.withdrawn += usize::from(row.withdrawn);
        }
        // The matches written: those of the records found changed under the
        // lock, of a package given twice the later (as the store keeps it).
        let changed: std::collections::HashSet<&str> = self
            .rows
            .iter()
            .zip(&changes)
            .filter(|(_, c)| **c != AdvisoryChange::Unchanged)
            .map(|((row, _), _)| row.id.as_str())
            .collect();
        let late = late_made.into_inner().unwrap_or_default();
        summary.matches = self
            .matches
            .iter()
            .chain(&late)
            .filter(|m| changed.contains(m.advisory.as_str()))
            .map(|m| (m.package, m.advisory.as_str()))
            .collect::<std::collections::HashSet<_>>()
            .len();
        Ok(summary)
    }
}

/// How often a write refused as stale is computed and tried again.
pub const STALE_RETRIES: usize = 8;

/// How long to wait before the `tries`-th retry of a write refused as stale:
/// none before the first (the load that moved the counter has committed, and
/// the primary has it), then doubling from 25 ms, 3.2 s in all. A read
/// replica (`--read-db`) that lags replays the load meanwhile: a lag up to
/// that long costs retries, not the write.
pub fn pause_before_retry(tries: usize) -> std::time::Duration {
    match tries {
        0 | 1 => std::time::Duration::ZERO,
        n => std::time::Duration::from_millis(25 << (n - 2).min(6)),
    }
}

/// The index keys an advisory's `affected[]` entries name, sorted, once each.
pub(crate) fn advisory_keys(advisory: &Advisory) -> Vec<String> {
    let mut keys: Vec<String> = advisory
        .affected
        .iter()
        .filter_map(|a| a.package.as_ref())
        .map(|p| index_key(&p.ecosystem, &p.name))
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

/// The packages indexed under some keys, each with the names it goes by
/// under that key: read once for every record that names the key.
pub(crate) struct Indexed {
    pub(crate) by_key: HashMap<String, Vec<IndexedPackage>>,
}

/// A package under one key: its id, version and names under that key.
pub(crate) type IndexedPackage = (PackageId, Option<String>, Vec<LookupName>);

/// One package asked about every record naming its key, its version parsed
/// at most once per ordering.
pub(crate) struct KeyCandidate<'a> {
    package: PackageId,
    names: &'a [LookupName],
    version: Candidate<'a>,
}

impl Indexed {
    pub(crate) fn load<'k>(
        store: &Store,
        keys: impl IntoIterator<Item = &'k String>,
    ) -> Result<Self, StoreError> {
        let mut by_key = HashMap::new();
        for key in keys {
            if by_key.contains_key(key) {
                continue;
            }
            let packages = store
                .packages_for_key(key)?
                .into_iter()
                .map(|(package, names)| {
                    let names = names.into_iter().filter(|n| &n.key == key).collect();
                    (package.id, package.version, names)
                })
                .collect();
            by_key.insert(key.clone(), packages);
        }
        Ok(Indexed { by_key })
    }

    /// Packages a writer stored after the first read, by key as they came.
    pub(crate) fn of_late(found: &[&LatePackage]) -> Self {
        let mut by_key: HashMap<String, Vec<IndexedPackage>> = HashMap::new();
        for p in found {
            let names = p.names.iter().filter(|n| n.key == p.key).cloned().collect();
            by_key.entry(p.key.clone()).or_default().push((
                p.package.id,
                p.package.version.clone(),
                names,
            ));
        }
        Indexed { by_key }
    }

    /// Whether `package` was read under `key` with these same names (its
    /// matches under that key are made already).
    fn holds(&self, key: &str, package: PackageId, names: &[LookupName]) -> bool {
        let Some(list) = self.by_key.get(key) else {
            return false;
        };
        // Both back ends read a key's packages in id order.
        list.binary_search_by_key(&package, |(id, _, _)| *id)
            .is_ok_and(|at| same_names(key, &list[at].2, names))
    }

    pub(crate) fn candidates(&self) -> HashMap<&str, Vec<KeyCandidate<'_>>> {
        self.by_key
            .iter()
            .map(|(key, packages)| {
                let list = packages
                    .iter()
                    .map(|(package, version, names)| KeyCandidate {
                        package: *package,
                        names,
                        version: Candidate::new(version.as_deref().unwrap_or("")),
                    })
                    .collect();
                (key.as_str(), list)
            })
            .collect()
    }
}

/// Whether the names a package was read with under `key` are those it has
/// now (under that key: the rest are another key's).
fn same_names(key: &str, known: &[LookupName], now: &[LookupName]) -> bool {
    now.iter()
        .filter(|n| n.key == key)
        .all(|n| known.contains(n))
}

/// The matches a late read made, but for those that would overwrite an
/// affected match the first read made of the same (package, advisory) with
/// one that is not: of several names, one that finds it affected stands.
fn affected_wins(first: &[MatchRecord], late: Vec<MatchRecord>) -> Vec<MatchRecord> {
    if late.is_empty() {
        return late;
    }
    let packages: std::collections::HashSet<PackageId> = late.iter().map(|m| m.package).collect();
    let affected: std::collections::HashSet<(PackageId, &str)> = first
        .iter()
        .filter(|m| m.status == "affected" && packages.contains(&m.package))
        .map(|m| (m.package, m.advisory.as_str()))
        .collect();
    late.into_iter()
        .filter(|m| m.status == "affected" || !affected.contains(&(m.package, m.advisory.as_str())))
        .collect()
}

/// One record against every package under its keys, its matches appended
/// to `out` as records.
pub(crate) fn match_advisory_into(
    advisory: &Advisory,
    keys: &[String],
    candidates: &HashMap<&str, Vec<KeyCandidate<'_>>>,
    out: &mut Vec<MatchRecord>,
) {
    let mut scratch = HitScratch::default();
    let hits = scratch.hits(&PreparedAdvisory::new(advisory), keys, candidates);
    out.extend(hits.iter().map(|hit| hit.record(advisory)));
}

/// What finding one record's packages reuses from record to record.
#[derive(Default)]
pub(crate) struct HitScratch<'c> {
    hits: Vec<Hit<'c>>,
    /// Where each package's hit is in `hits`.
    at: HashMap<PackageId, usize>,
}

impl<'c> HitScratch<'c> {
    /// One hit per (advisory, package), though several of its names may
    /// index the same package: the first found stands unless a later name
    /// finds it affected (an index per record: scanning every match so far
    /// made loading quadratic, 221 s for 248k matches).
    pub(crate) fn hits(
        &mut self,
        prepared: &PreparedAdvisory<'_>,
        keys: &[String],
        candidates: &HashMap<&str, Vec<KeyCandidate<'c>>>,
    ) -> &[Hit<'c>] {
        self.hits.clear();
        self.at.clear();
        for key in keys {
            for c in candidates.get(key.as_str()).into_iter().flatten() {
                let Some(hit) = verdict(prepared, c.names, &c.version, c.package) else {
                    continue;
                };
                match self.at.get(&hit.package) {
                    None => {
                        self.at.insert(hit.package, self.hits.len());
                        self.hits.push(hit);
                    }
                    Some(&i) if self.hits[i].status != "affected" && hit.status == "affected" => {
                        self.hits[i] = hit
                    }
                    Some(_) => {}
                }
            }
        }
        &self.hits
    }
}
