//! Advisory feed sync: keeps the store's OSV records current from a source
//! laid out like the OSV data export (`<base>/<Ecosystem>/all.zip`,
//! `<base>/<Ecosystem>/modified_id.csv`, `<base>/<Ecosystem>/<ID>.json`).
//!
//! Per ecosystem, a sync asks for `modified_id.csv` conditionally (ETag /
//! If-Modified-Since). Unchanged: done, one request. Changed: the rows
//! modified after the last record applied are fetched one by one when they
//! are few, or the whole `all.zip` when they are many (or on the first sync).
//! Records go through the incremental matcher; the records, their matches,
//! the events they cause and the feed's new state commit in one transaction,
//! so an interrupted sync leaves the store as it was and the next one
//! completes.

mod source;

use serde::{Deserialize, Serialize};

use aibomdb_osv::{Advisory, LoadLimits, LoadSummary};
use aibomdb_store::{Store, StoreError};

pub use source::{Bounded, Fetched, Held, Source};

#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error("{0}")]
    Source(String),
    #[error("{url}: {message}")]
    Fetch { url: String, message: String },
    #[error("{url}: {message}")]
    Content { url: String, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl FeedError {
    /// Whether the fault is the feed's (unreachable, malformed) rather than the store's.
    pub fn is_input(&self) -> bool {
        !matches!(self, FeedError::Store(_))
    }
}

/// How far one ecosystem of one source has been synced (kept in the store,
/// written with the records it describes).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedState {
    pub source: String,
    pub ecosystem: String,
    /// The newest `modified` applied: rows of `modified_id.csv` after it are new.
    pub high_water: Option<String>,
    /// Ids already applied whose `modified` equals the mark: rows at the
    /// mark are new unless listed here.
    #[serde(default)]
    pub at_mark: Vec<String>,
    pub csv_etag: Option<String>,
    pub csv_last_modified: Option<String>,
    pub zip_etag: Option<String>,
    pub zip_last_modified: Option<String>,
    /// Seconds since the epoch of the last sync that read a changed list.
    pub synced_at: u64,
}

fn state_key(source: &str, ecosystem: &str) -> String {
    format!("{source}\0{ecosystem}")
}

#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// Ecosystems to sync; empty: every one the source lists in `ecosystems.txt`.
    pub ecosystems: Vec<String>,
    /// More changed records than this are fetched as the whole `all.zip`.
    pub max_individual: usize,
    pub limits: LoadLimits,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            ecosystems: Vec::new(),
            max_individual: 500,
            limits: LoadLimits::default(),
        }
    }
}

/// How one ecosystem was brought up to date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncMode {
    /// `modified_id.csv` was unchanged (304), or listed nothing new.
    Unchanged,
    /// The changed records were fetched one by one.
    Incremental,
    /// The whole `all.zip` was fetched.
    Full,
}

#[derive(Debug, Clone, Serialize)]
pub struct EcosystemSync {
    pub ecosystem: String,
    pub mode: SyncMode,
    /// Requests made (or files read) for this ecosystem.
    pub requests: usize,
    /// Records the source listed as changed since the last sync.
    pub listed: usize,
    pub loaded: LoadSummary,
    /// Sources that could not be read, with why (never skipped silently).
    pub rejected: Vec<(String, String)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SyncReport {
    pub source: String,
    pub ecosystems: Vec<EcosystemSync>,
}

/// Syncs every requested ecosystem from `source`. An ecosystem that fails
/// stops the sync with the error; those before it are committed.
pub fn sync(
    store: &Store,
    source: &Source,
    options: &SyncOptions,
) -> Result<SyncReport, FeedError> {
    let ecosystems = if options.ecosystems.is_empty() {
        listed_ecosystems(source)?
    } else {
        options.ecosystems.clone()
    };
    let mut report = SyncReport {
        source: source.describe(),
        ecosystems: Vec::new(),
    };
    for ecosystem in ecosystems {
        report
            .ecosystems
            .push(sync_ecosystem(store, source, &ecosystem, options)?);
    }
    Ok(report)
}

/// The ecosystems a source lists in `ecosystems.txt` (one per line).
fn listed_ecosystems(source: &Source) -> Result<Vec<String>, FeedError> {
    match source.fetch(&["ecosystems.txt"], Held::default())? {
        Fetched::Body { bytes, .. } => Ok(String::from_utf8_lossy(&bytes)
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect()),
        _ => Err(FeedError::Source(format!(
            "{}: no ecosystems.txt; name the ecosystems with --ecosystem",
            source.describe()
        ))),
    }
}

fn sync_ecosystem(
    store: &Store,
    source: &Source,
    ecosystem: &str,
    options: &SyncOptions,
) -> Result<EcosystemSync, FeedError> {
    if ecosystem.is_empty() || ecosystem.contains(['/', '\\']) || ecosystem.starts_with('.') {
        return Err(FeedError::Source(format!(
            "{ecosystem:?} is not an OSV ecosystem name"
        )));
    }
    let key = state_key(&source.describe(), ecosystem);
    let mut state: FeedState = match store.feed_state(&key)? {
        Some(bytes) => serde_json::from_slice(&bytes).unwrap_or_default(),
        None => FeedState::default(),
    };
    state.source = source.describe();
    state.ecosystem = ecosystem.to_string();
    let mut out = EcosystemSync {
        ecosystem: ecosystem.to_string(),
        mode: SyncMode::Unchanged,
        requests: 0,
        listed: 0,
        loaded: LoadSummary::default(),
        rejected: Vec::new(),
    };
    let csv_path = [ecosystem, "modified_id.csv"];
    out.requests += 1;
    let fetched = source.fetch_bounded(
        &csv_path,
        Bounded {
            held: Held {
                etag: state.csv_etag.as_deref(),
                last_modified: state.csv_last_modified.as_deref(),
            },
            max_bytes: MAX_LIST_BYTES,
        },
    )?;
    let (csv, csv_etag, csv_last_modified) = match fetched {
        Fetched::NotModified => return Ok(out),
        Fetched::NotFound => {
            return Err(FeedError::Content {
                url: source.url(&csv_path),
                message: "not found: the source has no such ecosystem".into(),
            });
        }
        Fetched::Body {
            bytes,
            etag,
            last_modified,
        } => (bytes, etag, last_modified),
    };
    let rows = parse_modified_ids(&csv).map_err(|message| FeedError::Content {
        url: source.url(&csv_path),
        message,
    })?;
    // Changes: rows after the mark, and rows at the mark not applied yet
    // (several records can share one `modified`; a later list may add one).
    let changed: Vec<&(String, String)> = rows
        .iter()
        .filter(|(modified, id)| match &state.high_water {
            None => true,
            Some(hw) => match time_order(modified, hw) {
                std::cmp::Ordering::Greater => true,
                std::cmp::Ordering::Equal => !state.at_mark.contains(id),
                std::cmp::Ordering::Less => false,
            },
        })
        .collect();
    out.listed = changed.len();
    state.csv_etag = csv_etag;
    state.csv_last_modified = csv_last_modified;

    let mut advisories: Vec<Advisory> = Vec::new();
    let full = state.high_water.is_none() || changed.len() > options.max_individual;
    let mut fetched_zip = false;
    if full {
        let zip_path = [ecosystem, "all.zip"];
        out.requests += 1;
        let held = Held {
            etag: state.zip_etag.as_deref(),
            last_modified: state.zip_last_modified.as_deref(),
        };
        let bounded = Bounded {
            held,
            max_bytes: options.limits.max_zip_total_bytes,
        };
        match source.fetch_bounded(&zip_path, bounded)? {
            Fetched::Body {
                bytes,
                etag,
                last_modified,
            } => {
                let name = source.url(&zip_path);
                let loaded =
                    aibomdb_osv::load_zip_bytes(&name, &bytes, &options.limits).map_err(|e| {
                        FeedError::Content {
                            url: name.clone(),
                            message: e.to_string(),
                        }
                    })?;
                advisories.extend(loaded.advisories.into_iter().map(|(_, a)| a));
                out.rejected.extend(loaded.rejected);
                state.zip_etag = etag;
                state.zip_last_modified = last_modified;
                out.mode = SyncMode::Full;
                fetched_zip = true;
            }
            Fetched::NotFound if state.high_water.is_none() => {
                return Err(FeedError::Content {
                    url: source.url(&zip_path),
                    message: "not found: a first sync needs the ecosystem's all.zip".into(),
                });
            }
            // The archive is the one applied before (or missing): the
            // listed records one by one, then.
            Fetched::NotModified | Fetched::NotFound => {}
        }
    }
    let mut done: Vec<(&str, &str)> = Vec::new();
    if fetched_zip {
        // The mark is the newest record in the archive. One older than the
        // list must not hide what it lacks: the list is then asked for again
        // (its version is not kept) and those rows come one by one next time.
        let newest = advisories
            .iter()
            .filter_map(|a| a.modified.as_deref())
            .max_by(|a, b| time_order(a, b));
        for a in &advisories {
            if let (Some(m), Some(n)) = (a.modified.as_deref(), newest)
                && time_order(m, n).is_eq()
            {
                done.push((m, a.id.as_str()));
            }
        }
        if let Some(n) = newest
            && changed.iter().any(|(m, _)| time_order(m, n).is_gt())
        {
            (state.csv_etag, state.csv_last_modified) = (None, None);
        }
    } else if !changed.is_empty() {
        out.mode = SyncMode::Incremental;
        out.requests += changed.len();
        let ids: Vec<&str> = changed.iter().map(|(_, id)| id.as_str()).collect();
        let mut missing: Vec<&str> = Vec::new();
        for ((modified, id), (path, result)) in changed
            .iter()
            .map(|r| (r.0.as_str(), r.1.as_str()))
            .zip(fetch_records(
                source,
                ecosystem,
                &ids,
                options.limits.max_record_bytes,
            )?)
        {
            match result {
                Ok(a) => {
                    advisories.push(a);
                    done.push((modified, id));
                }
                // Not there yet (the export's files and list are not updated
                // together): asked for again next time, never passed over.
                Err(reason) if reason == NOT_FOUND => {
                    out.rejected.push((path, reason));
                    missing.push(modified);
                }
                // Unreadable: reported, and passed (waiting would fetch every
                // later change again on each sync until it is fixed).
                Err(reason) => {
                    out.rejected.push((path, reason));
                    done.push((modified, id));
                }
            }
        }
        // The mark moves by list times, never past a record still missing.
        if let Some(first_missing) = missing.into_iter().min_by(|a, b| time_order(a, b)) {
            done.retain(|(m, _)| time_order(m, first_missing).is_le());
            done.push((first_missing, ""));
        }
    }
    if let Some(mark) = done.iter().map(|(m, _)| *m).max_by(|a, b| time_order(a, b)) {
        let moved = state
            .high_water
            .as_deref()
            .is_none_or(|hw| time_order(mark, hw).is_gt());
        if moved {
            state.at_mark.clear();
            state.high_water = Some(mark.to_string());
        }
        state.at_mark.extend(
            done.iter()
                .filter(|(m, id)| !id.is_empty() && time_order(m, mark).is_eq())
                .map(|(_, id)| id.to_string()),
        );
        state.at_mark.sort();
        state.at_mark.dedup();
    }
    state.synced_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let encoded = serde_json::to_vec(&state).unwrap_or_default();
    out.loaded = aibomdb_osv::apply_advisories(
        store,
        &advisories,
        Some((key.as_str(), encoded.as_slice())),
        "sync",
    )?;
    tracing::info!(
        ecosystem,
        mode = ?out.mode,
        requests = out.requests,
        added = out.loaded.added,
        updated = out.loaded.updated,
        "advisory feed synced"
    );
    Ok(out)
}

/// Requests in flight at once when records are fetched one by one: a round
/// trip to a remote bucket is tens of milliseconds, a hundred of them in a
/// row would be seconds.
const PARALLEL_FETCHES: usize = 8;

/// Largest `modified_id.csv` read (PyPI's is about 1 MB; all ecosystems
/// together, tens).
const MAX_LIST_BYTES: u64 = 256 * 1024 * 1024;

/// Why a listed record was not applied when its file is not there (yet).
const NOT_FOUND: &str = "listed in modified_id.csv but not found";

/// One record's outcome: where it came from, and the record or why not.
type Fetch = (String, Result<Advisory, String>);

/// Fetches `<ecosystem>/<id>.json` for every id, `PARALLEL_FETCHES` at a
/// time, in the order given. A failed request fails the whole fetch (the
/// sync applies nothing); a record that is missing or unreadable is
/// reported with its reason.
fn fetch_records(
    source: &Source,
    ecosystem: &str,
    ids: &[&str],
    max_record_bytes: u64,
) -> Result<Vec<Fetch>, FeedError> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<Result<Vec<(usize, Fetch)>, FeedError>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..PARALLEL_FETCHES.min(ids.len()))
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(id) = ids.get(i) else {
                            return Ok(mine);
                        };
                        let file = format!("{id}.json");
                        let segments = [ecosystem, file.as_str()];
                        let path = source.url(&segments);
                        // An id that cannot name a file is that record's
                        // problem, not the feed's.
                        if !source::valid_segment(&file) {
                            mine.push((i, (path, Err(format!("{id:?} is not a record id")))));
                            continue;
                        }
                        let bounded = Bounded {
                            held: Held::default(),
                            max_bytes: max_record_bytes,
                        };
                        let result = match source.fetch_bounded(&segments, bounded)? {
                            Fetched::Body { bytes, .. } => aibomdb_osv::load_bytes(&path, &bytes),
                            _ => Err(NOT_FOUND.into()),
                        };
                        mine.push((i, (path, result)));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|_| Err(FeedError::Source("a fetch thread panicked".into())))
            })
            .collect()
    });
    let mut all = Vec::with_capacity(ids.len());
    for r in results {
        all.extend(r?);
    }
    all.sort_by_key(|(i, _)| *i);
    Ok(all.into_iter().map(|(_, f)| f).collect())
}

/// Parses `modified_id.csv`: one `<RFC 3339 modified>,<id>` per line (the
/// export writes newest first, without a header). A header line is
/// tolerated; any other malformed line fails the file, so that a truncated
/// or foreign file is never mistaken for "nothing changed".
pub fn parse_modified_ids(bytes: &[u8]) -> Result<Vec<(String, String)>, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8: {e}"))?;
    let mut rows = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || (n == 0 && line.eq_ignore_ascii_case("modified,id")) {
            continue;
        }
        let Some((modified, id)) = line.split_once(',') else {
            return Err(format!("line {}: expected `<modified>,<id>`", n + 1));
        };
        let (modified, id) = (modified.trim(), id.trim());
        let looks_like_time =
            modified.contains(['T', 't']) && aibomdb_graph::time::instant(modified).is_some();
        if !looks_like_time || id.is_empty() {
            return Err(format!(
                "line {}: {line:?} is not `<RFC 3339 time>,<id>`",
                n + 1
            ));
        }
        rows.push((modified.to_string(), id.to_string()));
    }
    Ok(rows)
}

/// Orders two RFC 3339 times as times (text order when one does not parse:
/// the list's rows were checked when it was read).
fn time_order(a: &str, b: &str) -> std::cmp::Ordering {
    match (
        aibomdb_graph::time::instant(a),
        aibomdb_graph::time::instant(b),
    ) {
        (Some(x), Some(y)) => x.cmp(&y),
        _ => a.cmp(b),
    }
}

/// The state of every synced feed.
pub fn states(store: &Store) -> Result<Vec<FeedState>, StoreError> {
    Ok(store
        .feed_states()?
        .into_iter()
        .filter_map(|(_, bytes)| serde_json::from_slice(&bytes).ok())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modified_ids_parse_and_refuse_foreign_lines() {
        let rows = parse_modified_ids(
            b"2024-06-12T10:00:00Z,PYSEC-2024-1\n2023-01-02T03:04:05.123Z,GHSA-aaaa-bbbb-cccc\n",
        )
        .unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].1, "GHSA-aaaa-bbbb-cccc");
        assert!(parse_modified_ids(b"<html>oops</html>\n").is_err());
        assert!(parse_modified_ids(b"2024-06-12T10:00:00Z,\n").is_err());
    }
}
