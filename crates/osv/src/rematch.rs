//! The full re-match: every stored record evaluated again against every
//! package indexed under its keys, on every core, and the matches written as
//! the difference in one transaction. Day-to-day changes stay incremental
//! (`matcher`); this is for a change of matching rules.

use std::collections::HashMap;

use aibomdb_store::{
    LatePackage, LookupName, MatchRecord, MatchRows, MatchValueFields, Store, StoreError,
};

use crate::matcher::{
    HitScratch, Indexed, KeyCandidate, STALE_RETRIES, advisory_keys, fixed_under,
    match_advisory_into, pause_before_retry,
};
use crate::range::PreparedAdvisory;
use crate::record::Advisory;

/// What a full re-match did.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RematchSummary {
    pub advisories: usize,
    /// (advisory, package) pairs evaluated.
    pub candidates: usize,
    pub matches: usize,
    /// Time spent reading and evaluating, and writing the matches, in milliseconds.
    pub evaluate_ms: u64,
    pub store_ms: u64,
}

/// Re-evaluates every advisory against every package indexed under the names
/// it mentions and replaces all matches (after a change of matching rules;
/// day-to-day changes are incremental).
pub fn rematch_all(store: &Store) -> Result<RematchSummary, StoreError> {
    let mut tries = 0;
    loop {
        match rematch_once(store) {
            // A load committed while it ran: its records are read again.
            Err(StoreError::Stale(_)) if tries < STALE_RETRIES => {
                tries += 1;
                std::thread::sleep(pause_before_retry(tries));
            }
            other => return other,
        }
    }
}

/// One re-match: planned, then written.
fn rematch_once(store: &Store) -> Result<RematchSummary, StoreError> {
    plan_rematch(store)?.write(store)
}

/// A full re-match computed and not yet written: the marks it read first,
/// the records and the matches they make.
pub struct PlannedRematch {
    marks: aibomdb_store::WriteMarks,
    /// Every stored record, (id, JSON).
    all: Vec<(String, Vec<u8>)>,
    matches: MatchRows,
    /// The index keys the records name, sorted, once each.
    keys: Vec<String>,
    summary: RematchSummary,
}

/// Reads every record and the packages under their keys, and evaluates
/// them on every core. [`PlannedRematch::write`] then stores the matches;
/// what ingests and loads commit in between is handled there.
pub fn plan_rematch(store: &Store) -> Result<PlannedRematch, StoreError> {
    let started = std::time::Instant::now();
    let marks = store.write_marks()?;
    let mut summary = RematchSummary::default();
    let all = store.all_advisories()?;
    // Records are independent: evaluate them on every core, each thread with
    // its own read transactions and package cache.
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .max(1);
    let chunk = all.len().div_ceil(threads).max(1);
    let results: Vec<PartResult> = std::thread::scope(|scope| {
        let handles: Vec<_> = all
            .chunks(chunk)
            .map(|part| scope.spawn(move || rematch_part(store, part)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(StoreError::Backend("re-match thread panicked".into())))
            })
            .collect()
    });
    // Sized once: growing by doubling copied every match and touched fresh
    // memory for each copy.
    let total = results
        .iter()
        .map(|r| r.as_ref().map_or(0, |part| part.matches.len()))
        .sum();
    let mut matches = MatchRows::new();
    matches.reserve(total);
    let mut keys = Vec::new();
    for r in results {
        let part = r?;
        summary.advisories += part.advisories;
        summary.candidates += part.candidates;
        matches.append(part.matches);
        keys.extend(part.keys);
    }
    keys.sort_unstable();
    keys.dedup();
    summary.matches = matches.len();
    summary.evaluate_ms = started.elapsed().as_millis() as u64;
    Ok(PlannedRematch {
        marks,
        all,
        matches,
        keys,
        summary,
    })
}

impl PlannedRematch {
    /// Stores the matches in one transaction. A load committed since the
    /// plan read the records refuses it as stale ([`rematch_all`] plans
    /// again). Packages an ingest stored since keep the matches their ingest
    /// made; packages an ingest gave a new lookup name since are matched
    /// again under the writers' lock, against every record, so that a steady
    /// stream of such ingests cannot keep a re-match from landing.
    pub fn write(self, store: &Store) -> Result<RematchSummary, StoreError> {
        let PlannedRematch {
            marks,
            all,
            matches,
            keys,
            mut summary,
        } = self;
        let ids: Vec<String> = all.iter().map(|(id, _)| id.clone()).collect();
        // Called only when some package gained a name since the plan, with
        // every package under the records' keys as it is named now: the
        // records are read again, all of them against all of those.
        let late_count = std::sync::atomic::AtomicUsize::new(usize::MAX);
        let late = |found: &[LatePackage]| -> Vec<MatchRecord> {
            let records: Vec<Advisory> = all
                .iter()
                .filter_map(|(_, json)| serde_json::from_slice::<Advisory>(json).ok())
                .filter(|a| !a.is_withdrawn())
                .collect();
            let found: Vec<&LatePackage> = found.iter().collect();
            let indexed = Indexed::of_late(&found);
            let candidates = indexed.candidates();
            let mut made = Vec::new();
            for advisory in &records {
                match_advisory_into(advisory, &advisory_keys(advisory), &candidates, &mut made);
            }
            late_count.store(made.len(), std::sync::atomic::Ordering::Relaxed);
            made
        };
        let writing = std::time::Instant::now();
        store.replace_matches_of(
            &ids,
            &matches,
            Some(marks),
            Some(&aibomdb_store::LateRematch {
                keys: &keys,
                late: &late,
            }),
        )?;
        // The late matches, when made, are what was written (their
        // evaluation, on one thread under the lock, counts as the write's).
        let late_count = late_count.into_inner();
        if late_count != usize::MAX {
            summary.matches = late_count;
        }
        summary.store_ms = writing.elapsed().as_millis() as u64;
        Ok(summary)
    }
}

/// What one re-match thread found.
struct RematchPart {
    /// Records read.
    advisories: usize,
    candidates: usize,
    matches: MatchRows,
    /// The index keys its records name.
    keys: Vec<String>,
}

type PartResult = Result<RematchPart, StoreError>;

/// Evaluates a slice of (id, JSON) records.
fn rematch_part(store: &Store, part: &[(String, Vec<u8>)]) -> PartResult {
    let mut records = Vec::with_capacity(part.len());
    for (_, json) in part {
        if let Ok(advisory) = serde_json::from_slice::<Advisory>(json) {
            records.push(advisory);
        }
    }
    let advisories = records.len();
    let keyed: Vec<(&Advisory, Vec<String>)> = records
        .iter()
        .filter(|a| !a.is_withdrawn())
        .map(|a| (a, advisory_keys(a)))
        .collect();
    let indexed = Indexed::load(store, keyed.iter().flat_map(|(_, keys)| keys))?;
    let candidates = indexed.candidates();
    let of_keys = |keys: &[String]| -> usize {
        keys.iter()
            .map(|k| candidates.get(k.as_str()).map_or(0, Vec::len))
            .sum()
    };
    let candidates_seen: usize = keyed.iter().map(|(_, keys)| of_keys(keys)).sum();
    // At most one match a candidate: reserved once, the pages never used are
    // never touched.
    let mut matches = MatchRows::new();
    matches.reserve(candidates_seen);
    let mut scratch = HitScratch::default();
    for (advisory, keys) in &keyed {
        match_advisory_rows(advisory, keys, &candidates, &mut scratch, &mut matches);
    }
    let mut keys: Vec<String> = keyed.iter().flat_map(|(_, k)| k.iter().cloned()).collect();
    keys.sort_unstable();
    keys.dedup();
    Ok(RematchPart {
        advisories,
        candidates: candidates_seen,
        matches,
        keys,
    })
}

/// One record against every package under its keys, its matches appended
/// to `out` as rows: every package it finds under one name with no detail
/// shares one value, whose fixed versions are listed once.
fn match_advisory_rows<'c>(
    advisory: &Advisory,
    keys: &[String],
    candidates: &HashMap<&str, Vec<KeyCandidate<'c>>>,
    scratch: &mut HitScratch<'c>,
    out: &mut MatchRows,
) {
    let prepared = PreparedAdvisory::new(advisory);
    let hits = scratch.hits(&prepared, keys, candidates);
    if hits.is_empty() {
        return;
    }
    let at = out.add_advisory(&advisory.id);
    // (status, name, value): an advisory finds its packages under few names.
    let mut shared: Vec<(&str, &LookupName, u32)> = Vec::new();
    for hit in hits {
        let known = shared.iter().find(|(status, name, _)| {
            hit.detail.is_none() && *status == hit.status && *name == hit.name
        });
        let value = match known {
            Some(&(_, _, value)) => value,
            None => {
                let fixed = fixed_under(advisory, hit.name);
                let value = out.add_value(&MatchValueFields {
                    status: hit.status,
                    detail: hit.detail.as_deref(),
                    ecosystem: &hit.name.ecosystem,
                    name: &hit.name.name,
                    via_source_of: hit.name.via_source_of.as_deref(),
                    fixed: &fixed,
                });
                if hit.detail.is_none() {
                    shared.push((hit.status, hit.name, value));
                }
                value
            }
        };
        out.push(hit.package, at, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matcher::IndexedPackage;
    use aibomdb_store::PackageId;

    /// The PyPA records of the shared corpus.
    fn pypa() -> Vec<Advisory> {
        let dir = std::env::var_os("AIBOMDB_CORPUS")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| {
                std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus")
            })
            .join("osv/pypa-advisory-database");
        let loaded = crate::load_path(&dir, &Default::default()).expect("the PyPA records");
        loaded.advisories.into_iter().map(|(_, a)| a).collect()
    }

    fn name(key: &str, via: Option<&str>) -> LookupName {
        let (ecosystem, name) = key.split_once('/').unwrap();
        LookupName {
            key: key.to_string(),
            ecosystem: ecosystem.to_string(),
            name: name.to_string(),
            via_source_of: via.map(str::to_string),
        }
    }

    /// The re-match's rows, with their shared values, hold exactly the
    /// records the per-match path makes: for packages found under several
    /// names, as a source package, under an ecosystem with no ordering, and
    /// by records naming several packages.
    #[test]
    fn rows_with_shared_values_are_the_records_matching_makes() {
        let mut records = pypa();
        assert!(records.len() > 2000, "{} records", records.len());
        // Fifty of them again under an ecosystem with no version ordering
        // here: `unsupported` matches, with a detail.
        let unordered: Vec<Advisory> = records[..50]
            .iter()
            .cloned()
            .map(|mut a| {
                a.id.push_str("-elsewhere");
                for entry in &mut a.affected {
                    if let Some(p) = entry.package.as_mut() {
                        p.ecosystem = "Elsewhere".into();
                    }
                }
                a
            })
            .collect();
        records.extend(unordered);
        // Every key the records name, each with packages at old versions,
        // as a source package, and under a second name.
        let mut by_key: HashMap<String, Vec<IndexedPackage>> = HashMap::new();
        let mut next: PackageId = 1;
        for advisory in &records {
            for key in advisory_keys(advisory) {
                let list = by_key.entry(key.clone()).or_default();
                if !list.is_empty() {
                    continue;
                }
                for (version, names) in [
                    ("0.0.1", vec![name(&key, None)]),
                    ("1.0", vec![name(&key, Some("binary-of-it"))]),
                    (
                        "0.1",
                        vec![name("PyPI/some-other-name", None), name(&key, None)],
                    ),
                ] {
                    list.push((next, Some(version.to_string()), names));
                    next += 1;
                }
            }
        }
        let indexed = Indexed { by_key };
        let candidates = indexed.candidates();
        let mut records_made = Vec::new();
        let mut rows = MatchRows::new();
        let mut scratch = HitScratch::default();
        for advisory in records.iter().filter(|a| !a.is_withdrawn()) {
            let keys = advisory_keys(advisory);
            match_advisory_into(advisory, &keys, &candidates, &mut records_made);
            match_advisory_rows(advisory, &keys, &candidates, &mut scratch, &mut rows);
        }
        let statuses: std::collections::HashSet<&str> =
            records_made.iter().map(|m| m.status.as_str()).collect();
        assert!(
            statuses.contains("affected") && statuses.contains("unsupported"),
            "{statuses:?}"
        );
        assert!(records_made.iter().any(|m| m.via_source_of.is_some()));
        assert!(records_made.len() > 1000, "{} matches", records_made.len());
        assert_eq!(rows.records().unwrap(), records_made);
        let encoded = MatchRows::from_records(&records_made);
        assert!(
            rows.iter()
                .zip(encoded.iter())
                .all(|(a, b)| a.value == b.value
                    && a.affected == b.affected
                    && a.ecosystem == b.ecosystem)
        );
    }
}
