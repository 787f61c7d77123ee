//! Advisory rows, their lookup indexes and the Package→Advisory match edges.
//! The store keeps OSV records as JSON and knows nothing of their semantics:
//! the matcher (`crates/osv`) decides what matches, the store persists it.

use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata};
use std::collections::HashSet;

use crate::records::{AdvisoryChange, AdvisoryRow, LookupName, MatchRecord, PackageRecord};
use crate::tables::*;
use crate::{PackageId, RedbStore, Result, decode, encode};

mod match_rows;
mod match_set;

use match_rows::write_matches;
pub(crate) use match_rows::{StoredMatch, StoredMatchRef, decode_match};
pub use match_set::{MatchRowRef, MatchRows, MatchValueFields};

/// Whether `row` replaces `old`: a later `modified` (as times: a fraction
/// of a second counts, offsets are applied), or the same one with a
/// different withdrawn state.
pub(crate) fn is_newer(row: &AdvisoryRow, old: &AdvisoryRow) -> bool {
    use aibomdb_graph::time::later;
    match (&row.modified, &old.modified) {
        (Some(new), Some(old_m)) => {
            later(new, old_m) || (!later(old_m, new) && row.withdrawn != old.withdrawn)
        }
        (Some(_), None) => true,
        (None, _) => row.withdrawn != old.withdrawn,
    }
}

/// A write of advisories and their matches, applied whole in one transaction.
pub struct AdvisoryBatch<'a> {
    pub rows: &'a [(AdvisoryRow, Vec<u8>)],
    /// The matches of every row that changes (rows found unchanged at write
    /// time have theirs ignored).
    pub matches: &'a [MatchRecord],
    /// Feed state to record with the batch (key, value), so that a sync's
    /// progress and the records it brought commit together.
    pub feed_state: Option<(&'a str, &'a [u8])>,
    /// What caused it, for the events it records (`advisory`, `sync`).
    pub cause: &'a str,
    /// The [`crate::WriteMarks`] read before `matches` were computed.
    /// Packages stored since (by another writer) and indexed under a changed
    /// record's keys are handed to `late` under the writers' lock, and the
    /// matches it makes are written too: an ingest committing while the load
    /// was matching cannot leave its packages unmatched. When an older
    /// package gained a lookup name since ([`crate::WriteMarks::package_keys`]
    /// moved), every package under those keys is handed over, and `late`
    /// leaves out the (key, package, names) it matched already.
    pub marks: Option<crate::WriteMarks>,
    pub late: Option<&'a LateMatcher<'a>>,
}

/// Matches the batch's changed records make with packages stored, or newly
/// named under their keys, after its matches were computed.
pub type LateMatcher<'a> = dyn Fn(&[LatePackage]) -> Vec<MatchRecord> + Sync + 'a;

/// What a full re-match hands its write for the packages that gained a
/// lookup name while it ran ([`crate::WriteMarks::package_keys`] moved):
/// every package under `keys` is read under the writers' lock and given to
/// `late`, whose matches are written instead of the re-match's own.
/// Without it such a write is refused as stale, and ingests that keep naming
/// packages could refuse every retry.
pub struct LateRematch<'a> {
    pub keys: &'a [String],
    pub late: &'a LateMatcher<'a>,
}

/// A package under one of a load's changed keys, with the names it goes by
/// under that key, read under the writers' lock ([`AdvisoryBatch::marks`]).
#[derive(Debug, Clone)]
pub struct LatePackage {
    pub key: String,
    pub package: PackageRecord,
    pub names: Vec<LookupName>,
}

impl AdvisoryBatch<'_> {
    /// What the write stores as the matches of the records found changed
    /// under the lock (`changed`): the batch's own and the `late` ones
    /// naming them; those of a record found unchanged by then are dropped.
    pub fn matches_to_write<'m>(
        &'m self,
        changed: &[String],
        late: &'m [MatchRecord],
    ) -> Vec<&'m MatchRecord> {
        let wanted: HashSet<&str> = changed.iter().map(String::as_str).collect();
        self.matches
            .iter()
            .chain(late)
            .filter(|m| wanted.contains(m.advisory.as_str()))
            .collect()
    }

    /// The ids of the records that replace a stored one, once each.
    pub fn updated(&self, changes: &[AdvisoryChange]) -> Vec<String> {
        let ids: std::collections::BTreeSet<&str> = self
            .rows
            .iter()
            .zip(changes)
            .filter(|(_, c)| **c == AdvisoryChange::Updated)
            .map(|((row, _), _)| row.id.as_str())
            .collect();
        ids.into_iter().map(str::to_string).collect()
    }

    /// The keys of the rows that change, once each.
    pub fn changed_keys(&self, changes: &[AdvisoryChange]) -> Vec<&str> {
        let mut keys: Vec<&str> = self
            .rows
            .iter()
            .zip(changes)
            .filter(|(_, c)| **c != AdvisoryChange::Unchanged)
            .flat_map(|((row, _), _)| row.keys.iter().map(String::as_str))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        keys
    }
}

impl RedbStore {
    /// What [`Store::apply_advisories`] would do with each row, without writing.
    pub fn advisory_changes(&self, rows: &[AdvisoryRow]) -> Result<Vec<AdvisoryChange>> {
        let txn = self.db.begin_read()?;
        let meta = txn.open_table(ADVISORIES)?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let old: Option<AdvisoryRow> = meta
                .get(row.id.as_str())?
                .map(|v| decode(v.value(), "advisories", &row.id))
                .transpose()?;
            out.push(match old {
                Some(o) if !is_newer(row, &o) => AdvisoryChange::Unchanged,
                Some(_) => AdvisoryChange::Updated,
                None => AdvisoryChange::Added,
            });
        }
        Ok(out)
    }

    /// Writes a batch of advisories, replaces the matches of those that
    /// changed, records the events those match changes cause and the feed
    /// state: all in one durable transaction, so that a record is never
    /// stored without its matches. Returns the change of each row and the
    /// number of events recorded.
    pub fn apply_advisories(
        &self,
        batch: &AdvisoryBatch<'_>,
    ) -> Result<(Vec<AdvisoryChange>, usize)> {
        let txn = self.db.begin_write()?;
        let changes = write_rows(&txn, batch.rows)?;
        let changed: Vec<String> = batch
            .rows
            .iter()
            .zip(&changes)
            .filter(|(_, c)| **c != AdvisoryChange::Unchanged)
            .map(|((row, _), _)| row.id.clone())
            .collect();
        let late = late_matches(&txn, batch, &changes)?;
        if !changed.is_empty() {
            crate::write::next_id(&mut txn.open_table(META)?, crate::ADVISORIES_VERSION)?;
        }
        let matches = MatchRows::from_records(batch.matches_to_write(&changed, &late));
        let diff = write_matches(&txn, &changed, &matches, PackageId::MAX)?;
        let mut events = 0;
        let updated = batch.updated(&changes);
        if (!diff.changes.is_empty() || !updated.is_empty()) && self.events_wanted(&txn)? {
            let (before, after) = (
                crate::notify::StoreView::new(self),
                crate::notify::TxnView::new(&txn),
            );
            let mut recorded = crate::notify::load_events(
                &before,
                &after,
                &diff.changes,
                &updated,
                batch.cause,
                crate::unix_now(),
            )?;
            crate::notify::append_events(&txn, &mut recorded)?;
            events = recorded.len();
        }
        if let Some((key, value)) = batch.feed_state {
            txn.open_table(FEED_STATE)?.insert(key, value)?;
        }
        let wrote = !changed.is_empty() || batch.feed_state.is_some();
        if !wrote {
            txn.abort()?;
            return Ok((changes, 0));
        }
        txn.commit()?;
        self.bump();
        if events > 0 {
            self.ring_event_bell();
        }
        Ok((changes, events))
    }

    /// Advisory ids answering to `identifier` (an id, alias or upstream id).
    pub fn advisory_ids(&self, identifier: &str) -> Result<Vec<String>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(ADVISORY_IDENTIFIERS)?;
        let mut out = Vec::new();
        for e in table.range((identifier, "")..=(identifier, "\u{10FFFF}"))? {
            out.push(e?.0.value().1.to_string());
        }
        Ok(out)
    }

    /// The stored OSV JSON of one advisory.
    /// When this store first loaded the advisory (seconds since the epoch);
    /// `None` for records loaded before that was kept.
    pub fn advisory_seen(&self, id: &str) -> Result<Option<u64>> {
        let txn = self.db.begin_read()?;
        let Some(table) = crate::read_table(&txn, ADVISORY_SEEN)? else {
            return Ok(None);
        };
        Ok(table.get(id)?.map(|v| v.value()))
    }

    pub fn advisory_json(&self, id: &str) -> Result<Option<Vec<u8>>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(ADVISORY_JSON)?;
        Ok(table.get(id)?.map(|v| v.value().to_vec()))
    }

    /// The JSON of every advisory naming a package under `key`.
    pub fn advisories_for_key(&self, key: &str) -> Result<Vec<(String, Vec<u8>)>> {
        let txn = self.db.begin_read()?;
        let keys = txn.open_table(ADVISORY_KEYS)?;
        let json = txn.open_table(ADVISORY_JSON)?;
        let mut out = Vec::new();
        for e in keys.range((key, "")..=(key, "\u{10FFFF}"))? {
            let id = e?.0.value().1.to_string();
            if let Some(v) = json.get(id.as_str())? {
                out.push((id.clone(), v.value().to_vec()));
            }
        }
        Ok(out)
    }

    /// As [`Store::advisories_for_key`] for many keys, in one read transaction.
    pub fn advisories_for_keys(&self, keys: &[&str]) -> Result<Vec<(String, String, Vec<u8>)>> {
        let txn = self.db.begin_read()?;
        let index = txn.open_table(ADVISORY_KEYS)?;
        if index.is_empty()? {
            return Ok(Vec::new());
        }
        let json = txn.open_table(ADVISORY_JSON)?;
        let mut out = Vec::new();
        for key in keys {
            for e in index.range((*key, "")..=(*key, "\u{10FFFF}"))? {
                let id = e?.0.value().1.to_string();
                if let Some(v) = json.get(id.as_str())? {
                    out.push((key.to_string(), id.clone(), v.value().to_vec()));
                }
            }
        }
        Ok(out)
    }

    /// Packages named under `key`, with the names they go by.
    pub fn packages_for_key(&self, key: &str) -> Result<Vec<(PackageRecord, Vec<LookupName>)>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(PACKAGE_KEYS)?;
        let packages = txn.open_table(PACKAGES)?;
        let mut out = Vec::new();
        for e in table.range((key, 0)..=(key, u64::MAX))? {
            let (k, v) = e?;
            let id = k.value().1;
            let names: Vec<LookupName> = decode(v.value(), "package_keys", key)?;
            if let Some(p) = packages.get(id)? {
                out.push((decode(p.value(), "packages", &id.to_string())?, names));
            }
        }
        Ok(out)
    }

    /// Replaces every match of `advisory` by `matches` (empty: the advisory
    /// was withdrawn or no longer matches).
    pub fn replace_advisory_matches(&self, advisory: &str, matches: &[MatchRecord]) -> Result<()> {
        self.replace_matches_of(
            &[advisory.to_string()],
            &MatchRows::from_records(matches),
            None,
            None,
        )
    }

    /// Replaces the matches of several advisories at once (one transaction),
    /// recording the events the changes cause. With `since`, the marks read
    /// before the matches were computed: a load committed since refuses the
    /// write as stale, and the matches of packages stored since (which their
    /// own ingest matched against these same records) are kept. Packages
    /// that gained a lookup name since are matched by `late` under the lock
    /// ([`LateRematch`]); without it, that too refuses the write as stale.
    pub fn replace_matches_of(
        &self,
        advisories: &[String],
        matches: &MatchRows,
        since: Option<crate::WriteMarks>,
        late: Option<&LateRematch<'_>>,
    ) -> Result<()> {
        let txn = self.db.begin_write()?;
        let mut late_made: Option<MatchRows> = None;
        if let Some(marks) = since {
            let (advisories_now, keys_now) = {
                let meta = txn.open_table(META)?;
                let counter =
                    |key: &str| -> Result<u64> { Ok(meta.get(key)?.map_or(0, |v| v.value())) };
                (
                    counter(crate::ADVISORIES_VERSION)?,
                    counter(crate::PACKAGE_KEYS_VERSION)?,
                )
            };
            if crate::kit::rematch_needs_late(marks, advisories_now, keys_now, late.is_some())?
                && let Some(late) = late
            {
                let found = packages_under(&txn, late.keys.iter().map(String::as_str), 0)?;
                late_made = Some(MatchRows::from_records(&(late.late)(&found)));
            }
        }
        let keep_from = since.map_or(PackageId::MAX, |m| m.next_package);
        // The late matches, when made, are of every package under the keys
        // as named now: they stand for the plan's (names are only ever
        // added, so they hold every match the plan found).
        let diff = write_matches(
            &txn,
            advisories,
            late_made.as_ref().unwrap_or(matches),
            keep_from,
        )?;
        if !diff.wrote {
            txn.abort()?;
            return Ok(());
        }
        let mut events = 0;
        if !diff.changes.is_empty() && self.events_wanted(&txn)? {
            let (before, after) = (
                crate::notify::StoreView::new(self),
                crate::notify::TxnView::new(&txn),
            );
            let recorded = crate::notify::events_for_matches(
                &after,
                &diff.changes,
                "rematch",
                crate::unix_now(),
            )?;
            let mut recorded = crate::notify::VexJudge::new(&before, &after).filter(recorded)?;
            crate::notify::append_events(&txn, &mut recorded)?;
            events = recorded.len();
        }
        txn.commit()?;
        self.bump();
        if events > 0 {
            self.ring_event_bell();
        }
        Ok(())
    }

    pub fn matches_for_package(&self, package: PackageId) -> Result<Vec<MatchRecord>> {
        Ok(self
            .matches_for_packages(&[package])?
            .pop()
            .unwrap_or_default())
    }

    /// The matches of each package, in one read transaction.
    pub fn matches_for_packages(&self, packages: &[PackageId]) -> Result<Vec<Vec<MatchRecord>>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(MATCHES)?;
        let mut all = Vec::with_capacity(packages.len());
        for &package in packages {
            let mut out = Vec::new();
            for e in table.range((package, "")..=(package, "\u{10FFFF}"))? {
                let (k, v) = e?;
                let advisory = k.value().1;
                let stored: StoredMatch = decode(v.value(), "matches", advisory)?;
                out.push(stored.into_record(package, advisory));
            }
            all.push(out);
        }
        Ok(all)
    }

    /// Every package that matches some advisory, ascending: where an
    /// estate-wide summary starts, without reading any advisory.
    pub fn matched_package_ids(&self) -> Result<Vec<PackageId>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(MATCHES)?;
        let mut out: Vec<PackageId> = Vec::new();
        for e in table.iter()? {
            let package = e?.0.value().0;
            if out.last() != Some(&package) {
                out.push(package);
            }
        }
        Ok(out)
    }

    pub fn matches_for_advisory(&self, advisory: &str) -> Result<Vec<MatchRecord>> {
        let txn = self.db.begin_read()?;
        let by_advisory = txn.open_table(MATCHES_BY_ADVISORY)?;
        let table = txn.open_table(MATCHES)?;
        let mut out = Vec::new();
        for e in by_advisory.range((advisory, 0)..=(advisory, u64::MAX))? {
            let package = e?.0.value().1;
            if let Some(v) = table.get((package, advisory))? {
                let stored: StoredMatch = decode(v.value(), "matches", advisory)?;
                out.push(stored.into_record(package, advisory));
            }
        }
        Ok(out)
    }

    /// Every advisory held, as (id, JSON).
    pub fn all_advisories(&self) -> Result<Vec<(String, Vec<u8>)>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(ADVISORY_JSON)?;
        let mut out = Vec::new();
        for e in table.iter()? {
            let (k, v) = e?;
            out.push((k.value().to_string(), v.value().to_vec()));
        }
        Ok(out)
    }

    /// Number of advisories held.
    pub fn advisory_count(&self) -> Result<u64> {
        let txn = self.db.begin_read()?;
        Ok(txn.open_table(ADVISORIES)?.len()?)
    }
}

/// Writes the advisory rows that are newer than what is stored.
fn write_rows(
    txn: &redb::WriteTransaction,
    rows: &[(AdvisoryRow, Vec<u8>)],
) -> Result<Vec<AdvisoryChange>> {
    let mut changes = Vec::with_capacity(rows.len());
    let mut meta = txn.open_table(ADVISORIES)?;
    let mut json = txn.open_table(ADVISORY_JSON)?;
    let mut identifiers = txn.open_table(ADVISORY_IDENTIFIERS)?;
    let mut keys = txn.open_table(ADVISORY_KEYS)?;
    let mut seen = txn.open_table(ADVISORY_SEEN)?;
    let now = crate::unix_now();
    let mut buf = Vec::new();
    for (row, bytes) in rows {
        let old: Option<AdvisoryRow> = meta
            .get(row.id.as_str())?
            .map(|v| decode(v.value(), "advisories", &row.id))
            .transpose()?;
        let change = match &old {
            Some(o) if !is_newer(row, o) => {
                changes.push(AdvisoryChange::Unchanged);
                continue;
            }
            Some(_) => AdvisoryChange::Updated,
            None => AdvisoryChange::Added,
        };
        if seen.get(row.id.as_str())?.is_none() {
            seen.insert(row.id.as_str(), now)?;
        }
        if let Some(o) = old {
            for i in &o.identifiers {
                identifiers.remove((i.as_str(), o.id.as_str()))?;
            }
            for k in &o.keys {
                keys.remove((k.as_str(), o.id.as_str()))?;
            }
        }
        buf.clear();
        encode(row, &mut buf);
        meta.insert(row.id.as_str(), buf.as_slice())?;
        json.insert(row.id.as_str(), bytes.as_slice())?;
        for i in &row.identifiers {
            identifiers.insert((i.as_str(), row.id.as_str()), ())?;
        }
        for k in &row.keys {
            keys.insert((k.as_str(), row.id.as_str()), ())?;
        }
        changes.push(change);
    }
    Ok(changes)
}

/// The matches [`AdvisoryBatch::late`] makes with the packages stored, or
/// newly named, since the batch's matches were computed (none when no
/// package was).
fn late_matches(
    txn: &redb::WriteTransaction,
    batch: &AdvisoryBatch<'_>,
    changes: &[AdvisoryChange],
) -> Result<Vec<MatchRecord>> {
    let (Some(marks), Some(late)) = (batch.marks, batch.late) else {
        return Ok(Vec::new());
    };
    let (next, keys_version) = {
        let meta = txn.open_table(META)?;
        let counter = |key: &str| -> Result<u64> { Ok(meta.get(key)?.map_or(0, |v| v.value())) };
        (
            counter("next_package_id")?.max(1),
            counter(crate::PACKAGE_KEYS_VERSION)?,
        )
    };
    let Some(from) = crate::kit::late_from(marks, next, keys_version) else {
        return Ok(Vec::new());
    };
    let found = packages_under(txn, batch.changed_keys(changes), from)?;
    Ok(if found.is_empty() {
        Vec::new()
    } else {
        late(&found)
    })
}

/// Every package indexed under `keys` from id `from` on, with its names
/// there, as the write transaction sees them.
fn packages_under<'k>(
    txn: &redb::WriteTransaction,
    keys: impl IntoIterator<Item = &'k str>,
    from: PackageId,
) -> Result<Vec<LatePackage>> {
    let index = txn.open_table(PACKAGE_KEYS)?;
    let packages = txn.open_table(PACKAGES)?;
    let mut found = Vec::new();
    for key in keys {
        for e in index.range((key, from)..=(key, u64::MAX))? {
            let (k, v) = e?;
            let id = k.value().1;
            let names: Vec<LookupName> = decode(v.value(), "package_keys", key)?;
            if let Some(p) = packages.get(id)? {
                found.push(LatePackage {
                    key: key.to_string(),
                    package: decode(p.value(), "packages", &id.to_string())?,
                    names,
                });
            }
        }
    }
    Ok(found)
}

impl RedbStore {
    /// A feed's saved state (opaque to the store; the feeds crate owns it).
    pub fn feed_state(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let txn = self.db.begin_read()?;
        let Some(table) = crate::read_table(&txn, FEED_STATE)? else {
            return Ok(None);
        };
        Ok(table.get(key)?.map(|v| v.value().to_vec()))
    }

    /// Every feed state, by key.
    pub fn feed_states(&self) -> Result<Vec<(String, Vec<u8>)>> {
        let txn = self.db.begin_read()?;
        let Some(table) = crate::read_table(&txn, FEED_STATE)? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for entry in table.iter()? {
            let (k, v) = entry?;
            out.push((k.value().to_string(), v.value().to_vec()));
        }
        Ok(out)
    }
}
