//! The match table's rows: how a (package, advisory) match is stored, and
//! the write that replaces an advisory's matches by the difference only,
//! reporting the affected match edges that appeared or disappeared.

use redb::{ReadableTable, ReadableTableMetadata};
use std::collections::HashSet;

use crate::notify::{EventKind, MatchChange};
use crate::records::MatchRecord;

use super::match_set::{MatchRowRef, MatchRows};
use crate::tables::*;
use crate::{PackageId, Result, decode};

/// A match as stored: the package and advisory are the key, not repeated.
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct StoredMatch {
    status: String,
    detail: Option<String>,
    ecosystem: String,
    name: String,
    via_source_of: Option<String>,
    fixed: Vec<String>,
}

/// [`StoredMatch`] borrowed (from a [`MatchRecord`], or the fields
/// `MatchRows::add_value` is given), to encode without copying: the same
/// fields in the same order, so the same bytes.
#[derive(serde::Serialize)]
pub(crate) struct StoredMatchRef<'a> {
    pub(super) status: &'a str,
    pub(super) detail: Option<&'a str>,
    pub(super) ecosystem: &'a str,
    pub(super) name: &'a str,
    pub(super) via_source_of: Option<&'a str>,
    pub(super) fixed: &'a [String],
}

impl<'a> StoredMatchRef<'a> {
    pub(crate) fn of(m: &'a MatchRecord) -> Self {
        StoredMatchRef {
            status: &m.status,
            detail: m.detail.as_deref(),
            ecosystem: &m.ecosystem,
            name: &m.name,
            via_source_of: m.via_source_of.as_deref(),
            fixed: &m.fixed,
        }
    }
}

impl StoredMatch {
    pub(super) fn into_record(self, package: PackageId, advisory: &str) -> MatchRecord {
        MatchRecord {
            advisory: advisory.to_string(),
            package,
            status: self.status,
            detail: self.detail,
            ecosystem: self.ecosystem,
            name: self.name,
            via_source_of: self.via_source_of,
            fixed: self.fixed,
        }
    }
}

/// A stored match back into the record it was made from.
pub(crate) fn decode_match(
    bytes: &[u8],
    package: PackageId,
    advisory: &str,
) -> Result<MatchRecord> {
    let stored: StoredMatch = decode(bytes, "matches", advisory)?;
    Ok(stored.into_record(package, advisory))
}

impl StoredMatch {
    pub(crate) fn is_affected(&self) -> bool {
        self.status == "affected"
    }

    pub(crate) fn ecosystem(&self) -> &str {
        &self.ecosystem
    }
}

/// From this many matches to write, and at least a quarter as many as the
/// table holds, the matches table is read in one ordered pass rather than
/// row by row.
const MERGE_SCAN_FROM: usize = 4096;

/// Whether a match to write is in the table already, and as it is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Found {
    Absent,
    Same,
    Differs,
}

/// Replaces the matches of `advisories` by `matches` (plus any matches of
/// other advisories given), writing only the difference: a row already
/// there with the same content is left alone, so re-matching an estate
/// whose matches did not change reads instead of rewriting hundreds of
/// thousands of rows. Rows of those advisories not among `matches` are
/// removed, but for packages from `keep_from` on. Returns the affected
/// match edges that appeared or disappeared.
pub(super) fn write_matches(
    txn: &redb::WriteTransaction,
    advisories: &[String],
    matches: &MatchRows,
    keep_from: PackageId,
) -> Result<MatchDiff> {
    write_matches_scanning_from(txn, advisories, matches, keep_from, MERGE_SCAN_FROM)
}

/// [`write_matches`], reading the table in one pass from `merge_from`
/// matches on (tests run both ways).
fn write_matches_scanning_from(
    txn: &redb::WriteTransaction,
    advisories: &[String],
    matches: &MatchRows,
    keep_from: PackageId,
    merge_from: usize,
) -> Result<MatchDiff> {
    let mut table = txn.open_table(MATCHES)?;
    let mut by_advisory = txn.open_table(MATCHES_BY_ADVISORY)?;
    let named: HashSet<&str> = advisories.iter().map(String::as_str).collect();
    // Each advisory index ranked by its id, equal ids equally: rows sort
    // by (package, rank) as the table sorts by (package, id), comparing
    // numbers rather than strings.
    let ids = matches.advisory_ids();
    let mut by_id: Vec<u32> = (0..ids.len() as u32).collect();
    by_id.sort_unstable_by(|a, b| ids[*a as usize].cmp(&ids[*b as usize]));
    let mut rank = vec![0u32; ids.len()];
    let mut next = 0;
    for (i, at) in by_id.iter().enumerate() {
        if i > 0 && ids[*at as usize] != ids[by_id[i - 1] as usize] {
            next += 1;
        }
        rank[*at as usize] = next;
    }
    let is_named: Vec<bool> = ids.iter().map(|id| named.contains(id.as_str())).collect();
    // Matches of the named advisories are compared with the table; those
    // of others are written as they are.
    let (mut keyed, others): (Vec<(u64, u32, usize)>, Vec<usize>) = {
        let mut keyed = Vec::with_capacity(matches.len());
        let mut others = Vec::new();
        for i in 0..matches.len() {
            let advisory = matches.advisory_of(i);
            if is_named[advisory as usize] {
                keyed.push((matches.get(i).package, rank[advisory as usize], i));
            } else {
                others.push(i);
            }
        }
        (keyed, others)
    };
    // Stable, so that of two matches for one key the later one given is
    // the one kept, as writing both in turn would leave it.
    keyed.sort_by_key(|c| (c.0, c.1));
    let mut deduped: Vec<(u64, u32, usize)> = Vec::with_capacity(keyed.len());
    for c in keyed {
        match deduped.last_mut() {
            Some(last) if (last.0, last.1) == (c.0, c.1) => *last = c,
            _ => deduped.push(c),
        }
    }
    let candidates: Vec<MatchRowRef<'_>> = deduped.into_iter().map(|c| matches.get(c.2)).collect();
    // In key order, so that the B-tree writes stay local.
    let mut inserts: Vec<(MatchRowRef<'_>, bool)> = Vec::new();
    let mut removals: Vec<(u64, &str)> = Vec::new();
    let mut diff: Vec<MatchChange> = Vec::new();
    // What the table holds for each candidate's key.
    let mut found = vec![Found::Absent; candidates.len()];
    let compare = |m: &MatchRowRef<'_>, stored: &[u8]| {
        if stored == m.value {
            Found::Same
        } else {
            Found::Differs
        }
    };
    let rows = table.len()? as usize;
    if candidates.len() >= merge_from && candidates.len().saturating_mul(4) >= rows {
        // Many rows (a full re-match): one pass over the table in key order
        // beside the sorted candidates tells which are there, which changed,
        // and which rows of the named advisories are no longer wanted,
        // instead of a B-tree descent per row.
        let mut i = 0;
        for entry in table.iter()? {
            let (k, v) = entry?;
            let (package, advisory) = k.value();
            while i < candidates.len()
                && (candidates[i].package, candidates[i].advisory) < (package, advisory)
            {
                i += 1;
            }
            if i < candidates.len()
                && (candidates[i].package, candidates[i].advisory) == (package, advisory)
            {
                found[i] = compare(&candidates[i], v.value());
            } else if let Some(advisory) = named.get(advisory)
                && package < keep_from
            {
                removals.push((package, advisory));
            }
        }
    } else {
        let wanted: HashSet<(u64, &str)> =
            candidates.iter().map(|m| (m.package, m.advisory)).collect();
        for advisory in advisories {
            for e in by_advisory.range((advisory.as_str(), 0)..=(advisory.as_str(), u64::MAX))? {
                let package = e?.0.value().1;
                if package < keep_from && !wanted.contains(&(package, advisory.as_str())) {
                    removals.push((package, advisory.as_str()));
                }
            }
        }
        for (i, m) in candidates.iter().enumerate() {
            if let Some(v) = table.get((m.package, m.advisory))? {
                found[i] = compare(m, v.value());
            }
        }
    }
    for (m, found) in candidates.into_iter().zip(found) {
        if found != Found::Same {
            inserts.push((m, found == Found::Differs));
        }
    }
    // Matches of advisories not named in `advisories` are written too.
    inserts.extend(others.into_iter().map(|i| (matches.get(i), false)));
    removals.sort_unstable();
    for &(package, advisory) in &removals {
        if let Some(v) = table.remove((package, advisory))? {
            let stored: StoredMatch = decode(v.value(), "matches", advisory)?;
            if stored.is_affected() {
                diff.push((
                    package,
                    advisory.to_string(),
                    stored.ecosystem,
                    EventKind::Resolved,
                ));
            }
        }
    }
    removals.sort_unstable_by(|a, b| (a.1, a.0).cmp(&(b.1, b.0)));
    for &(package, advisory) in &removals {
        by_advisory.remove((advisory, package))?;
    }
    // Stable: of two rows for one key (advisories not named are not
    // deduplicated), the later one given is written last and stands.
    inserts.sort_by(|a, b| (a.0.package, a.0.advisory).cmp(&(b.0.package, b.0.advisory)));
    for (m, _) in &inserts {
        let before = table.insert((m.package, m.advisory), m.value)?;
        let was_affected = match before {
            Some(v) => decode::<StoredMatch>(v.value(), "matches", m.advisory)?.is_affected(),
            None => false,
        };
        if m.affected != was_affected {
            let kind = if m.affected {
                EventKind::Opened
            } else {
                EventKind::Resolved
            };
            diff.push((
                m.package,
                m.advisory.to_string(),
                m.ecosystem.to_string(),
                kind,
            ));
        }
    }
    inserts.sort_by(|a, b| (a.0.advisory, a.0.package).cmp(&(b.0.advisory, b.0.package)));
    for (m, was_there) in &inserts {
        if !was_there {
            by_advisory.insert((m.advisory, m.package), ())?;
        }
    }
    Ok(MatchDiff {
        wrote: !removals.is_empty() || !inserts.is_empty(),
        changes: diff,
    })
}

/// What [`write_matches`] did: whether any row changed, and which affected
/// match edges appeared or disappeared.
pub(super) struct MatchDiff {
    pub(super) wrote: bool,
    pub(super) changes: Vec<MatchChange>,
}

#[cfg(test)]
mod tests {
    use redb::{ReadableDatabase, ReadableTable};

    use super::*;
    use crate::MatchRecord;

    fn record(advisory: &str, package: u64, status: &str) -> MatchRecord {
        MatchRecord {
            advisory: advisory.into(),
            package,
            status: status.into(),
            detail: None,
            ecosystem: "PyPI".into(),
            name: format!("p{package}"),
            via_source_of: None,
            fixed: vec!["2.0".into()],
        }
    }

    /// Both matches tables, whole.
    type Rows = (Vec<(u64, String, Vec<u8>)>, Vec<(String, u64)>);

    /// Writes `steps` in turn with the one-pass read from `merge_from`
    /// matches on; the events of each step and the tables at the end.
    fn run(
        merge_from: usize,
        steps: &[(Vec<String>, Vec<MatchRecord>)],
    ) -> (Vec<(bool, Vec<MatchChange>)>, Rows) {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::RedbStore::open(dir.path().join("s.redb")).unwrap();
        let mut events = Vec::new();
        for (advisories, matches) in steps {
            let txn = store.db.begin_write().unwrap();
            let rows = MatchRows::from_records(matches);
            let diff =
                write_matches_scanning_from(&txn, advisories, &rows, PackageId::MAX, merge_from)
                    .unwrap();
            txn.commit().unwrap();
            let mut changes = diff.changes;
            changes.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
            events.push((diff.wrote, changes));
        }
        let txn = store.db.begin_read().unwrap();
        let matches = txn.open_table(MATCHES).unwrap();
        let by_advisory = txn.open_table(MATCHES_BY_ADVISORY).unwrap();
        let rows = matches
            .iter()
            .unwrap()
            .map(|e| {
                let (k, v) = e.unwrap();
                let (p, a) = k.value();
                (p, a.to_string(), v.value().to_vec())
            })
            .collect();
        let index = by_advisory
            .iter()
            .unwrap()
            .map(|e| {
                let (k, _) = e.unwrap();
                let (a, p) = k.value();
                (a.to_string(), p)
            })
            .collect();
        (events, (rows, index))
    }

    #[test]
    fn the_one_pass_read_writes_what_row_by_row_lookups_write() {
        let named: Vec<String> = ["A1", "A2", "A3"].map(String::from).to_vec();
        let first: Vec<MatchRecord> = (1..=3000)
            .flat_map(|p| {
                let status = if p % 7 == 0 {
                    "unsupported"
                } else {
                    "affected"
                };
                [record("A1", p, status), record("A2", p * 2, "affected")]
            })
            .chain([record("Z9", 5, "affected")])
            .collect();
        // Unchanged rows, rows that change status, rows no longer matched
        // (p > 2500 for A1), new rows (A3), a row of an advisory not named,
        // and two matches for one key: the later one stands.
        let mut second: Vec<MatchRecord> = (1..=2500)
            .flat_map(|p| {
                let status = if p % 5 == 0 {
                    "unorderable"
                } else {
                    "affected"
                };
                [record("A1", p, status), record("A2", p * 2, "affected")]
            })
            .chain((1..=200).map(|p| record("A3", p, "affected")))
            .chain([record("Z8", 9, "affected")])
            .collect();
        second.push(record("A3", 7, "unsupported"));
        let steps = vec![(named.clone(), first), (named, second)];
        let by_lookup = run(usize::MAX, &steps);
        let by_pass = run(0, &steps);
        assert_eq!(by_lookup, by_pass);
        let (events, (rows, index)) = by_pass;
        assert!(events.iter().all(|(wrote, _)| *wrote));
        // A1 rows past 2,500 are gone, Z9's (not named) stays, A3/7 is the later.
        assert!(!rows.iter().any(|(p, a, _)| a == "A1" && *p > 2500));
        assert!(rows.iter().any(|(p, a, _)| a == "Z9" && *p == 5));
        let a3_7 = rows.iter().find(|(p, a, _)| a == "A3" && *p == 7).unwrap();
        let stored: StoredMatch = crate::decode(&a3_7.2, "matches", "A3").unwrap();
        assert!(!stored.is_affected());
        assert_eq!(rows.len(), index.len());
        // Writing the same again changes nothing, either way (matches of
        // advisories not named are always written, so none here).
        let (named, mut same) = steps[1].clone();
        same.retain(|m| m.advisory != "Z8");
        let again = vec![(named.clone(), same.clone()), (named, same)];
        for merge_from in [0, usize::MAX] {
            let (events, _) = run(merge_from, &again);
            assert_eq!(events[1], (false, Vec::new()));
        }
    }
}
