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

pub use source::{Fetched, Held, Source};

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
    pub csv_etag: Option<String>,
    pub csv_last_modified: Option<String>,
    pub zip_etag: Option<String>,
    pub zip_last_modified: Option<String>,
    /// Seconds since the epoch of the last sync that applied something.
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
    let fetched = source.fetch(
        &csv_path,
        Held {
            etag: state.csv_etag.as_deref(),
            last_modified: state.csv_last_modified.as_deref(),
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
    let changed: Vec<&(String, String)> = rows
        .iter()
        .filter(|(modified, _)| state.high_water.as_ref().is_none_or(|hw| modified > hw))
        .collect();
    out.listed = changed.len();
    state.csv_etag = csv_etag;
    state.csv_last_modified = csv_last_modified;
    let newest_listed = changed.iter().map(|(m, _)| m).max().cloned();

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
        match source.fetch(&zip_path, held)? {
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
    if !fetched_zip && !changed.is_empty() {
        out.mode = SyncMode::Incremental;
        out.requests += changed.len();
        let ids: Vec<&str> = changed.iter().map(|(_, id)| id.as_str()).collect();
        for (path, result) in fetch_records(source, ecosystem, &ids)? {
            match result {
                Ok(a) => advisories.push(a),
                Err(reason) => out.rejected.push((path, reason)),
            }
        }
    }
    // The high-water mark moves to the newest record applied. One by one, it
    // also passes a listed record that could not be read (it is reported;
    // waiting for it would fetch every later change again on each sync). Not
    // after an archive: one older than the list must not hide what it lacks.
    let newest_applied = advisories.iter().filter_map(|a| a.modified.clone()).max();
    let newest_listed = newest_listed.filter(|_| !fetched_zip);
    state.high_water = [state.high_water.take(), newest_applied, newest_listed]
        .into_iter()
        .flatten()
        .max();
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

/// One record's outcome: where it came from, and the record or why not.
type Fetch = (String, Result<Advisory, String>);

/// Fetches `<ecosystem>/<id>.json` for every id, `PARALLEL_FETCHES` at a
/// time, in the order given. A failed request fails the whole fetch (the
/// sync applies nothing); a record that is missing or unreadable is
/// reported with its reason.
fn fetch_records(source: &Source, ecosystem: &str, ids: &[&str]) -> Result<Vec<Fetch>, FeedError> {
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
                        let result = match source.fetch(&segments, Held::default())? {
                            Fetched::Body { bytes, .. } => aibomdb_osv::load_bytes(&path, &bytes),
                            _ => Err("listed in modified_id.csv but not found".into()),
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
        let looks_like_time = modified.len() >= 20
            && modified.as_bytes()[4] == b'-'
            && modified.as_bytes()[10] == b'T';
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
