//! The match table's rows: how a (package, advisory) match is stored, and
//! the write that replaces an advisory's matches by the difference only,
//! reporting the affected match edges that appeared or disappeared.

use redb::{ReadableTable, ReadableTableMetadata};
use std::collections::{HashMap, HashSet};

use crate::notify::{EventKind, MatchChange};
use crate::records::MatchRecord;
use crate::tables::*;
use crate::{PackageId, Result, decode, encode};

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

/// [`StoredMatch`] borrowed from a [`MatchRecord`], to encode without
/// copying: the same fields in the same order, so the same bytes.
#[derive(serde::Serialize)]
pub(crate) struct StoredMatchRef<'a> {
    status: &'a str,
    detail: Option<&'a str>,
    ecosystem: &'a str,
    name: &'a str,
    via_source_of: Option<&'a str>,
    fixed: &'a [String],
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
    matches: &[&MatchRecord],
    keep_from: PackageId,
) -> Result<MatchDiff> {
    write_matches_scanning_from(txn, advisories, matches, keep_from, MERGE_SCAN_FROM)
}

/// [`write_matches`], reading the table in one pass from `merge_from`
/// matches on (tests run both ways).
fn write_matches_scanning_from(
    txn: &redb::WriteTransaction,
    advisories: &[String],
    matches: &[&MatchRecord],
    keep_from: PackageId,
    merge_from: usize,
) -> Result<MatchDiff> {
    let mut table = txn.open_table(MATCHES)?;
    let mut by_advisory = txn.open_table(MATCHES_BY_ADVISORY)?;
    let mut new: HashMap<&str, Vec<&MatchRecord>> = HashMap::new();
    for m in matches {
        new.entry(m.advisory.as_str()).or_default().push(m);
    }
    // In key order, so that the B-tree writes stay local.
    let mut inserts: Vec<(&MatchRecord, Vec<u8>, bool)> = Vec::new();
    let mut removals: Vec<(u64, &str)> = Vec::new();
    let mut diff: Vec<MatchChange> = Vec::new();
    let mut candidates: Vec<&MatchRecord> = advisories
        .iter()
        .flat_map(|a| new.remove(a.as_str()).unwrap_or_default())
        .collect();
    // Sorted by (package, advisory) as the table is, comparing ranks of the
    // advisory ids rather than the ids themselves.
    let mut ranked: Vec<&str> = candidates.iter().map(|m| m.advisory.as_str()).collect();
    ranked.sort_unstable();
    ranked.dedup();
    let rank: HashMap<&str, u32> = ranked
        .iter()
        .enumerate()
        .map(|(i, a)| (*a, i as u32))
        .collect();
    let mut keyed: Vec<(u64, u32, &MatchRecord)> = candidates
        .iter()
        .map(|m| (m.package, rank[m.advisory.as_str()], *m))
        .collect();
    // Stable, so that of two matches for one key the later one given is
    // the one kept, as writing both in turn would leave it.
    keyed.sort_by_key(|c| (c.0, c.1));
    let mut deduped: Vec<(u64, u32, &MatchRecord)> = Vec::with_capacity(keyed.len());
    for c in keyed {
        match deduped.last_mut() {
            Some(last) if (last.0, last.1) == (c.0, c.1) => *last = c,
            _ => deduped.push(c),
        }
    }
    candidates = deduped.into_iter().map(|(_, _, m)| m).collect();
    // What the table holds for each candidate's key.
    let mut found = vec![Found::Absent; candidates.len()];
    let mut buf = Vec::new();
    let mut compare = |m: &MatchRecord, stored: &[u8]| {
        buf.clear();
        encode(&StoredMatchRef::of(m), &mut buf);
        if stored == buf.as_slice() {
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
        let named: HashSet<&str> = advisories.iter().map(String::as_str).collect();
        let mut i = 0;
        for entry in table.iter()? {
            let (k, v) = entry?;
            let (package, advisory) = k.value();
            while i < candidates.len()
                && (candidates[i].package, candidates[i].advisory.as_str()) < (package, advisory)
            {
                i += 1;
            }
            if i < candidates.len()
                && (candidates[i].package, candidates[i].advisory.as_str()) == (package, advisory)
            {
                found[i] = compare(candidates[i], v.value());
            } else if let Some(advisory) = named.get(advisory)
                && package < keep_from
            {
                removals.push((package, advisory));
            }
        }
    } else {
        let wanted: HashSet<(u64, &str)> = candidates
            .iter()
            .map(|m| (m.package, m.advisory.as_str()))
            .collect();
        for advisory in advisories {
            for e in by_advisory.range((advisory.as_str(), 0)..=(advisory.as_str(), u64::MAX))? {
                let package = e?.0.value().1;
                if package < keep_from && !wanted.contains(&(package, advisory.as_str())) {
                    removals.push((package, advisory.as_str()));
                }
            }
        }
        for (i, m) in candidates.iter().enumerate() {
            if let Some(v) = table.get((m.package, m.advisory.as_str()))? {
                found[i] = compare(m, v.value());
            }
        }
    }
    for (m, found) in candidates.into_iter().zip(found) {
        if found != Found::Same {
            let mut buf = Vec::new();
            encode(&StoredMatchRef::of(m), &mut buf);
            inserts.push((m, buf, found == Found::Differs));
        }
    }
    // Matches of advisories not named in `advisories` are written too.
    for m in new.into_values().flatten() {
        let mut buf = Vec::new();
        encode(&StoredMatchRef::of(m), &mut buf);
        inserts.push((m, buf, false));
    }
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
    inserts.sort_by(|a, b| (a.0.package, &a.0.advisory).cmp(&(b.0.package, &b.0.advisory)));
    for (m, buf, _) in &inserts {
        let before = table.insert((m.package, m.advisory.as_str()), buf.as_slice())?;
        let was_affected = match before {
            Some(v) => decode::<StoredMatch>(v.value(), "matches", &m.advisory)?.is_affected(),
            None => false,
        };
        let is_affected = m.status == "affected";
        if is_affected != was_affected {
            let kind = if is_affected {
                EventKind::Opened
            } else {
                EventKind::Resolved
            };
            diff.push((m.package, m.advisory.clone(), m.ecosystem.clone(), kind));
        }
    }
    inserts.sort_by(|a, b| (&a.0.advisory, a.0.package).cmp(&(&b.0.advisory, b.0.package)));
    for (m, _, was_there) in &inserts {
        if !was_there {
            by_advisory.insert((m.advisory.as_str(), m.package), ())?;
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
            let refs: Vec<&MatchRecord> = matches.iter().collect();
            let diff =
                write_matches_scanning_from(&txn, advisories, &refs, PackageId::MAX, merge_from)
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
