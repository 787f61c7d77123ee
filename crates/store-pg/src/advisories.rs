//! Advisories and their matches on PostgreSQL: a load writes the records
//! that are newer than what is stored and replaces their matches, with the
//! feed's progress, in one transaction, with the events the changed match
//! edges cause when someone wants them (`events.rs`).

use std::collections::HashMap;

use aibomdb_store::kit;
use aibomdb_store::{
    AdvisoryBatch, AdvisoryChange, AdvisoryRow, LookupName, MatchRecord, MatchRowRef, MatchRows,
    PackageRecord,
};
use tokio_postgres::Transaction;

use crate::store::{Pg, PgStore, Result};
use aibomdb_store::EventKind;
use aibomdb_store::events::MatchChange;

impl PgStore {
    async fn stored_rows(
        &self,
        client: &impl tokio_postgres::GenericClient,
        rows: &[AdvisoryRow],
        for_update: bool,
    ) -> Result<HashMap<String, AdvisoryRow>> {
        let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
        let sql = if for_update {
            "SELECT id, record FROM advisories WHERE id = ANY($1) ORDER BY id FOR UPDATE"
        } else {
            "SELECT id, record FROM advisories WHERE id = ANY($1)"
        };
        let mut out = HashMap::new();
        for r in client.query(sql, &[&ids]).await.pg()? {
            let id: String = r.get(0);
            let row: AdvisoryRow = kit::decode(r.get(1), "advisories", &id)?;
            out.insert(id, row);
        }
        Ok(out)
    }

    pub(crate) fn changes(&self, rows: &[AdvisoryRow]) -> Result<Vec<AdvisoryChange>> {
        let stored = self.block_on(self.stored_rows(&*self.client(), rows, false))?;
        Ok(rows
            .iter()
            .map(|row| change_of(row, stored.get(&row.id)))
            .collect())
    }

    pub(crate) fn apply(&self, batch: &AdvisoryBatch<'_>) -> Result<(Vec<AdvisoryChange>, usize)> {
        self.write_steps(|txn| {
            let (changes, diff, wrote) = self.block_on(self.write_batch(txn, batch))?;
            if !wrote {
                return Ok(((changes, 0), None));
            }
            let events = self.load_events(txn, &diff, &batch.updated(&changes), batch.cause)?;
            Ok(((changes, events.len()), Some(events)))
        })
    }

    /// The events of match edges that appeared or disappeared estate-wide,
    /// and of verdicts an updated record's new identifiers turn, judged by
    /// VEX, when anyone wants them (`events::load_events`).
    fn load_events(
        &self,
        txn: &Transaction<'_>,
        diff: &[MatchChange],
        updated: &[String],
        cause: &str,
    ) -> Result<Vec<aibomdb_store::MatchEvent>> {
        if (diff.is_empty() && updated.is_empty())
            || !self.block_on(crate::events::events_wanted(self, txn))?
        {
            return Ok(Vec::new());
        }
        let after = crate::events::PgView::new(self, txn);
        self.with_primary(|before| {
            aibomdb_store::events::load_events(before, &after, diff, updated, cause, kit::now())
        })
    }

    /// Writes a batch's records and their matches in `txn`: the change of
    /// each row, the affected match edges that appeared or disappeared, and
    /// whether anything is to commit.
    async fn write_batch(
        &self,
        txn: &Transaction<'_>,
        batch: &AdvisoryBatch<'_>,
    ) -> Result<(Vec<AdvisoryChange>, Vec<MatchChange>, bool)> {
        let plain: Vec<AdvisoryRow> = batch.rows.iter().map(|(r, _)| r.clone()).collect();
        let stored = self.stored_rows(txn, &plain, true).await?;
        let now = kit::now() as i64;
        let mut changes = Vec::with_capacity(batch.rows.len());
        // A record given twice: the later one is compared with the earlier.
        let mut written: HashMap<&str, (&AdvisoryRow, &[u8])> = HashMap::new();
        for (row, json) in batch.rows {
            let old = written
                .get(row.id.as_str())
                .map(|(r, _)| *r)
                .or_else(|| stored.get(&row.id));
            let change = change_of(row, old);
            changes.push(change);
            if change != AdvisoryChange::Unchanged {
                written.insert(row.id.as_str(), (row, json.as_slice()));
            }
        }
        // The changed records, each as last given, in a statement per table.
        let (mut changed, mut records, mut jsons) = (Vec::new(), Vec::new(), Vec::new());
        let (mut pair_ids, mut identifiers, mut key_ids, mut keys) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (row, json) in written.values() {
            changed.push(row.id.clone());
            records.push(kit::encode(*row));
            jsons.push(*json);
            for i in &row.identifiers {
                pair_ids.push(row.id.as_str());
                identifiers.push(i.as_str());
            }
            for k in &row.keys {
                key_ids.push(row.id.as_str());
                keys.push(k.as_str());
            }
        }
        if !changed.is_empty() {
            for table in ["advisory_identifiers", "advisory_keys"] {
                txn.execute(
                    &format!("DELETE FROM {table} WHERE advisory_id = ANY($1)"),
                    &[&changed],
                )
                .await
                .pg()?;
            }
            // `seen_at` stays what it was when first loaded (a record a
            // copy brought without one gets it now, as on redb).
            txn.execute(
                    "INSERT INTO advisories (id, record, json, seen_at) \
                     SELECT id, record, json, $4 FROM unnest($1::text[], $2::bytea[], $3::bytea[]) \
                     AS u(id, record, json) \
                     ON CONFLICT (id) DO UPDATE SET record = EXCLUDED.record, json = EXCLUDED.json, \
                     seen_at = coalesce(advisories.seen_at, EXCLUDED.seen_at)",
                    &[&changed, &records, &jsons, &now],
                )
                .await
                .pg()?;
            txn.execute(
                "INSERT INTO advisory_identifiers (identifier, advisory_id) \
                     SELECT DISTINCT * FROM unnest($1::text[], $2::text[]) ON CONFLICT DO NOTHING",
                &[&identifiers, &pair_ids],
            )
            .await
            .pg()?;
            txn.execute(
                "INSERT INTO advisory_keys (lookup_key, advisory_id) \
                     SELECT DISTINCT * FROM unnest($1::text[], $2::text[]) ON CONFLICT DO NOTHING",
                &[&keys, &key_ids],
            )
            .await
            .pg()?;
        }
        let late = late_matches(txn, batch, &changes).await?;
        if !changed.is_empty() {
            crate::txn::raise_counter(txn, aibomdb_store::ADVISORIES_VERSION).await?;
        }
        let matches = MatchRows::from_records(batch.matches_to_write(&changed, &late));
        let (_, diff) = replace_matches(txn, &changed, &matches, i64::MAX).await?;
        if let Some((key, value)) = batch.feed_state {
            txn.execute(
                "INSERT INTO feed_state (key, state) VALUES ($1, $2) \
                     ON CONFLICT (key) DO UPDATE SET state = EXCLUDED.state",
                &[&key.as_bytes(), &value],
            )
            .await
            .pg()?;
        }
        let wrote = !changed.is_empty() || batch.feed_state.is_some();
        Ok((changes, diff, wrote))
    }

    pub(crate) fn replace_matches_of_advisories(
        &self,
        advisories: &[String],
        matches: &MatchRows,
        since: Option<aibomdb_store::WriteMarks>,
        late: Option<&aibomdb_store::LateRematch<'_>>,
    ) -> Result<()> {
        self.write_steps(|txn| {
            let diff = self.block_on(async {
                let mut late_made: Option<MatchRows> = None;
                if let Some(marks) = since {
                    let advisories_now =
                        crate::txn::meta_value(txn, aibomdb_store::ADVISORIES_VERSION).await?;
                    let keys_now =
                        crate::txn::meta_value(txn, aibomdb_store::PACKAGE_KEYS_VERSION).await?;
                    // Packages named anew since: matched under the lock.
                    if kit::rematch_needs_late(marks, advisories_now, keys_now, late.is_some())?
                        && let Some(late) = late
                    {
                        let found = packages_under(txn, late.keys, 0).await?;
                        late_made = Some(MatchRows::from_records(&(late.late)(&found)));
                    }
                }
                // Packages stored since the re-match read them were matched
                // by their own ingest, against these same records: kept.
                let keep_from = since.map_or(i64::MAX, |m| m.next_package as i64);
                // The late matches, when made, are of every package under
                // the keys as named now: they stand for the plan's.
                let rows = late_made.as_ref().unwrap_or(matches);
                let (wrote, diff) = replace_matches(txn, advisories, rows, keep_from).await?;
                Ok::<_, aibomdb_store::StoreError>(wrote.then_some(diff))
            })?;
            // Nothing changed: nothing is committed.
            let Some(diff) = diff else {
                return Ok(((), None));
            };
            let events = self.load_events(txn, &diff, &[], "rematch")?;
            Ok(((), Some(events)))
        })
    }

    pub(crate) fn feed(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let rows = self.block_on(self.rows(
            "SELECT state FROM feed_state WHERE key = $1",
            &[&key.as_bytes()],
        ))?;
        Ok(rows.first().map(|r| r.get(0)))
    }

    pub(crate) fn feeds(&self) -> Result<Vec<(String, Vec<u8>)>> {
        let rows =
            self.block_on(self.rows("SELECT key, state FROM feed_state ORDER BY key", &[]))?;
        Ok(rows
            .iter()
            .map(|r| {
                let key: &[u8] = r.get(0);
                (String::from_utf8_lossy(key).into_owned(), r.get(1))
            })
            .collect())
    }

    pub(crate) fn packages_keyed(
        &self,
        key: &str,
    ) -> Result<Vec<(PackageRecord, Vec<LookupName>)>> {
        let rows = self.block_on(self.rows(
                "SELECT k.id, k.record, n.names FROM package_keys n \
                 JOIN packages k ON k.id = n.package_id WHERE n.lookup_key = $1 ORDER BY n.package_id",
                &[&key],
            ))?;
        rows.iter()
            .map(|r| {
                let id = r.get::<_, i64>(0).to_string();
                Ok((
                    kit::decode(r.get(1), "packages", &id)?,
                    kit::decode(r.get(2), "package_keys", key)?,
                ))
            })
            .collect()
    }

    pub(crate) fn advisories_under(&self, key: &str) -> Result<Vec<(String, Vec<u8>)>> {
        let rows = self.block_on(self.rows(
            "SELECT a.id, a.json FROM advisory_keys k JOIN advisories a ON a.id = k.advisory_id \
                 WHERE k.lookup_key = $1 ORDER BY a.id",
            &[&key],
        ))?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    pub(crate) fn every_advisory(&self) -> Result<Vec<(String, Vec<u8>)>> {
        let rows = self.block_on(self.rows("SELECT id, json FROM advisories ORDER BY id", &[]))?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }
}

/// The matches [`AdvisoryBatch::late`] makes with the packages another
/// writer stored, or newly named, after the batch's matches were computed;
/// read under the writers' lock, so no later one can be missed.
async fn late_matches(
    txn: &Transaction<'_>,
    batch: &AdvisoryBatch<'_>,
    changes: &[AdvisoryChange],
) -> Result<Vec<MatchRecord>> {
    let (Some(marks), Some(late)) = (batch.marks, batch.late) else {
        return Ok(Vec::new());
    };
    let Some(before) = kit::late_from(
        marks,
        crate::txn::meta_value(txn, "next_package_id").await?.max(1),
        crate::txn::meta_value(txn, aibomdb_store::PACKAGE_KEYS_VERSION).await?,
    ) else {
        return Ok(Vec::new());
    };
    let found = packages_under(txn, &batch.changed_keys(changes), before).await?;
    Ok(if found.is_empty() {
        Vec::new()
    } else {
        late(&found)
    })
}

/// Every package indexed under `keys` from id `from` on, with its names
/// there, as the transaction sees them.
async fn packages_under<K: tokio_postgres::types::ToSql + Sync>(
    txn: &Transaction<'_>,
    keys: &[K],
    from: u64,
) -> Result<Vec<aibomdb_store::LatePackage>> {
    let rows = txn
        .query(
            "SELECT n.lookup_key, k.id, k.record, n.names FROM package_keys n \
             JOIN packages k ON k.id = n.package_id \
             WHERE n.lookup_key = ANY($1) AND n.package_id >= $2 \
             ORDER BY n.lookup_key, n.package_id",
            &[&keys, &(from as i64)],
        )
        .await
        .pg()?;
    let mut found = Vec::with_capacity(rows.len());
    for r in &rows {
        let key: String = r.get(0);
        let id = r.get::<_, i64>(1).to_string();
        found.push(aibomdb_store::LatePackage {
            package: kit::decode(r.get(2), "packages", &id)?,
            names: kit::decode(r.get(3), "package_keys", &key)?,
            key,
        });
    }
    Ok(found)
}

fn change_of(row: &AdvisoryRow, old: Option<&AdvisoryRow>) -> AdvisoryChange {
    match old {
        Some(o) if !kit::advisory_is_newer(row, o) => AdvisoryChange::Unchanged,
        Some(_) => AdvisoryChange::Updated,
        None => AdvisoryChange::Added,
    }
}

/// Replaces the matches of `advisories` by those of `matches` naming them,
/// and writes the others given as they are; of two matches for one
/// (package, advisory) the later stands. Only the difference is written, so
/// that re-matching an estate whose matches did not change writes nothing;
/// returns whether anything changed, and the affected match edges that
/// appeared or disappeared (what events are made of).
async fn replace_matches(
    txn: &Transaction<'_>,
    advisories: &[String],
    matches: &MatchRows,
    keep_from: i64,
) -> Result<(bool, Vec<MatchChange>)> {
    // Of two rows for one pair, the later stands.
    let mut wanted: HashMap<(i64, &str), MatchRowRef<'_>> = HashMap::new();
    for m in matches.iter() {
        wanted.insert((m.package as i64, m.advisory), m);
    }
    let mut named: Vec<&str> = advisories.iter().map(String::as_str).collect();
    named.extend(wanted.keys().map(|(_, a)| *a));
    named.sort_unstable();
    named.dedup();
    let replaced: std::collections::HashSet<&str> = advisories.iter().map(String::as_str).collect();
    let mut stored: HashMap<(i64, String), Vec<u8>> = HashMap::new();
    for r in txn
        .query(
            "SELECT package_id, advisory_id, record FROM matches WHERE advisory_id = ANY($1)",
            &[&named],
        )
        .await
        .pg()?
    {
        stored.insert((r.get(0), r.get(1)), r.get(2));
    }
    // Rows of a replaced advisory that are no longer wanted go.
    let (mut gone_package, mut gone_advisory) = (Vec::new(), Vec::new());
    let mut diff: Vec<MatchChange> = Vec::new();
    let affected = |bytes: &[u8], package: i64, advisory: &str| -> Result<Option<MatchRecord>> {
        let m = kit::decode_match(bytes, package as u64, advisory)?;
        Ok((m.status == "affected").then_some(m))
    };
    for ((package, advisory), bytes) in &stored {
        if *package < keep_from
            && replaced.contains(advisory.as_str())
            && !wanted.contains_key(&(*package, advisory.as_str()))
        {
            gone_package.push(*package);
            gone_advisory.push(advisory.as_str());
            if let Some(m) = affected(bytes, *package, advisory)? {
                diff.push((m.package, m.advisory, m.ecosystem, EventKind::Resolved));
            }
        }
    }
    let removals = diff.len();
    let (mut package, mut advisory, mut record) = (Vec::new(), Vec::new(), Vec::new());
    for ((p, a), m) in &wanted {
        let before = stored.get(&(*p, a.to_string()));
        if before.map(Vec::as_slice) != Some(m.value) {
            package.push(*p);
            advisory.push(*a);
            record.push(m.value);
            let was = match before {
                Some(bytes) => affected(bytes, *p, a)?.is_some(),
                None => false,
            };
            let kind = match (was, m.affected) {
                (false, true) => Some(EventKind::Opened),
                (true, false) => Some(EventKind::Resolved),
                _ => None,
            };
            if let Some(kind) = kind {
                diff.push((m.package, a.to_string(), m.ecosystem.to_string(), kind));
            }
        }
    }
    if !gone_package.is_empty() {
        txn.execute(
            "DELETE FROM matches m USING unnest($1::int8[], $2::text[]) g(package_id, advisory_id) \
             WHERE m.package_id = g.package_id AND m.advisory_id = g.advisory_id",
            &[&gone_package, &gone_advisory],
        )
        .await
        .pg()?;
    }
    if !package.is_empty() {
        upsert_matches(txn, &package, &advisory, &record).await?;
    }
    // As redb's write gives them: the rows removed, then those written,
    // each in (package, advisory) order.
    let order = |a: &MatchChange, b: &MatchChange| (a.0, &a.1).cmp(&(b.0, &b.1));
    diff[..removals].sort_by(order);
    diff[removals..].sort_by(order);
    Ok((!gone_package.is_empty() || !package.is_empty(), diff))
}

/// Writes matches (package, advisory, stored match), replacing any of the
/// same pair: the one statement both ingest and advisory loads use.
pub(crate) async fn upsert_matches(
    txn: &Transaction<'_>,
    package: &[i64],
    advisory: &[&str],
    record: &[&[u8]],
) -> Result<()> {
    txn.execute(
        "INSERT INTO matches (package_id, advisory_id, record) \
         SELECT * FROM unnest($1::int8[], $2::text[], $3::bytea[]) \
         ON CONFLICT (package_id, advisory_id) DO UPDATE SET record = EXCLUDED.record",
        &[&package, &advisory, &record],
    )
    .await
    .pg()?;
    Ok(())
}

/// Counts one more write: what every process's caches key on (see
/// `PgStore::follow_other_writers`). The new generation.
pub(crate) async fn bump_generation(txn: &Transaction<'_>) -> Result<u64> {
    let row = txn
        .query_one(
            "UPDATE meta SET value = value + 1 WHERE key = 'generation' RETURNING value",
            &[],
        )
        .await
        .pg()?;
    Ok(row.get::<_, i64>(0) as u64)
}
