//! Advisory rows, their lookup indexes and the Package→Advisory match edges.
//! The store keeps OSV records as JSON and knows nothing of their semantics:
//! the matcher (`crates/osv`) decides what matches, the store persists it.

use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata};
use std::collections::{HashMap, HashSet};

use crate::records::{AdvisoryChange, AdvisoryRow, LookupName, MatchRecord, PackageRecord};
use crate::tables::*;
use crate::{PackageId, Result, Store, decode, encode};

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

impl StoredMatch {
    pub(crate) fn of(m: &MatchRecord) -> StoredMatch {
        StoredMatch {
            status: m.status.clone(),
            detail: m.detail.clone(),
            ecosystem: m.ecosystem.clone(),
            name: m.name.clone(),
            via_source_of: m.via_source_of.clone(),
            fixed: m.fixed.clone(),
        }
    }

    fn into_record(self, package: PackageId, advisory: &str) -> MatchRecord {
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

impl Store {
    /// Writes advisories (one transaction for the batch). A record replaces the
    /// stored one with the same id only when its `modified` is later, or equal
    /// with a different withdrawn state (RFC 3339 times compare as text); an
    /// older or identical record is left alone. Returns what happened to each.
    pub fn put_advisories(&self, rows: &[(AdvisoryRow, Vec<u8>)]) -> Result<Vec<AdvisoryChange>> {
        let txn = self.db.begin_write()?;
        let mut changes = Vec::with_capacity(rows.len());
        {
            let mut meta = txn.open_table(ADVISORIES)?;
            let mut json = txn.open_table(ADVISORY_JSON)?;
            let mut identifiers = txn.open_table(ADVISORY_IDENTIFIERS)?;
            let mut keys = txn.open_table(ADVISORY_KEYS)?;
            let mut seen = txn.open_table(ADVISORY_SEEN)?;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let mut buf = Vec::new();
            for (row, bytes) in rows {
                let old: Option<AdvisoryRow> = meta
                    .get(row.id.as_str())?
                    .map(|v| decode(v.value(), "advisories", &row.id))
                    .transpose()?;
                let change = match &old {
                    Some(o) => {
                        let newer = match (&row.modified, &o.modified) {
                            (Some(new), Some(old)) => {
                                new > old || (new == old && row.withdrawn != o.withdrawn)
                            }
                            (Some(_), None) => true,
                            (None, _) => row.withdrawn != o.withdrawn,
                        };
                        if !newer {
                            changes.push(AdvisoryChange::Unchanged);
                            continue;
                        }
                        AdvisoryChange::Updated
                    }
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
        }
        txn.commit()?;
        self.bump();
        Ok(changes)
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
        let table = match txn.open_table(ADVISORY_SEEN) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
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
        self.replace_matches_of(&[advisory.to_string()], matches)
    }

    /// Replaces the matches of several advisories at once (one transaction).
    /// Only the difference is written: a row that is already there with the
    /// same content is left alone, so re-matching an estate whose matches did
    /// not change reads instead of rewriting hundreds of thousands of rows.
    pub fn replace_matches_of(&self, advisories: &[String], matches: &[MatchRecord]) -> Result<()> {
        let txn = self.db.begin_write()?;
        let changed = {
            let mut table = txn.open_table(MATCHES)?;
            let mut by_advisory = txn.open_table(MATCHES_BY_ADVISORY)?;
            let mut new: HashMap<&str, Vec<&MatchRecord>> = HashMap::new();
            for m in matches {
                new.entry(m.advisory.as_str()).or_default().push(m);
            }
            // In key order, so that the B-tree writes stay local.
            let mut inserts: Vec<(&MatchRecord, Vec<u8>, bool)> = Vec::new();
            let mut removals: Vec<(u64, &str)> = Vec::new();
            for advisory in advisories {
                let old: HashSet<u64> = by_advisory
                    .range((advisory.as_str(), 0)..=(advisory.as_str(), u64::MAX))?
                    .map(|e| e.map(|(k, _)| k.value().1))
                    .collect::<std::result::Result<_, _>>()?;
                let wanted = new.remove(advisory.as_str()).unwrap_or_default();
                let keep: HashSet<u64> = wanted.iter().map(|m| m.package).collect();
                removals.extend(
                    old.iter()
                        .filter(|p| !keep.contains(p))
                        .map(|p| (*p, advisory.as_str())),
                );
                for m in wanted {
                    let mut buf = Vec::new();
                    encode(&StoredMatch::of(m), &mut buf);
                    let was_there = old.contains(&m.package);
                    if was_there
                        && table
                            .get((m.package, advisory.as_str()))?
                            .is_some_and(|v| v.value() == buf.as_slice())
                    {
                        continue;
                    }
                    inserts.push((m, buf, was_there));
                }
            }
            // Matches of advisories not named in `advisories` are written too.
            for m in new.into_values().flatten() {
                let mut buf = Vec::new();
                encode(&StoredMatch::of(m), &mut buf);
                inserts.push((m, buf, false));
            }
            let changed = !removals.is_empty() || !inserts.is_empty();
            removals.sort_unstable();
            for &(package, advisory) in &removals {
                table.remove((package, advisory))?;
            }
            removals.sort_unstable_by(|a, b| (a.1, a.0).cmp(&(b.1, b.0)));
            for &(package, advisory) in &removals {
                by_advisory.remove((advisory, package))?;
            }
            inserts.sort_by(|a, b| (a.0.package, &a.0.advisory).cmp(&(b.0.package, &b.0.advisory)));
            for (m, buf, _) in &inserts {
                table.insert((m.package, m.advisory.as_str()), buf.as_slice())?;
            }
            inserts.sort_by(|a, b| (&a.0.advisory, a.0.package).cmp(&(&b.0.advisory, b.0.package)));
            for (m, _, was_there) in &inserts {
                if !was_there {
                    by_advisory.insert((m.advisory.as_str(), m.package), ())?;
                }
            }
            changed
        };
        if !changed {
            txn.abort()?;
            return Ok(());
        }
        txn.commit()?;
        self.bump();
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
