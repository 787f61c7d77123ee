//! The bulk ingest pipeline: parser threads prepare documents, one writer
//! commits them in input order, several to a durable transaction.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::mpsc;

use aibomdb_store::{FactHash, FactMemo, IngestOutcome, NewDocument, Store, StoreError};

use crate::{
    Format, IngestError, Input, Limits, Matched, new_document, prepare, prepare_model_dir,
};

/// The fact encodings the parsers remember, in bytes, shared out among them
/// (each remembers what it parsed, so on many cores each holds less).
const FACT_MEMO_BYTES: usize = 64 << 20;

/// How many parsed documents the writer may gather into one durable
/// transaction. A commit costs two fsyncs plus every B-tree page it touched,
/// and documents of one estate share most of those pages, so committing them
/// together is several times faster than one by one; the bounds keep the
/// memory held and the time before a document is reported durable small.
#[derive(Debug, Clone)]
pub struct GroupCommit {
    /// At most this many documents per transaction (1: each alone).
    pub max_documents: usize,
    /// Commit once the gathered documents' files add up to this many bytes.
    pub max_bytes: u64,
    /// Commit when the oldest gathered document has waited this long.
    pub max_wait: std::time::Duration,
}

impl Default for GroupCommit {
    fn default() -> Self {
        GroupCommit {
            // 256: with documents waiting as prepared packages (session 24),
            // a group of 256 and the next one parsed ahead take a
            // 50,000-deployment ingest to 462 MiB, and ingest 10 % less
            // writer time than groups of 128 (postings and commits are
            // paid per group).
            max_documents: 256,
            max_bytes: 64 * 1024 * 1024,
            max_wait: std::time::Duration::from_millis(250),
        }
    }
}

impl GroupCommit {
    /// Every document in its own transaction.
    pub fn one_by_one() -> Self {
        GroupCommit {
            max_documents: 1,
            ..Default::default()
        }
    }
}

/// What happened to one input.
#[derive(Debug)]
pub enum Event {
    Committed {
        path: PathBuf,
        format: Format,
        outcome: IngestOutcome,
        /// What deserves a line of its own (an attestation's signature and
        /// subjects).
        notes: Vec<String>,
    },
    /// A file found in a directory that is not a document this tool reads.
    Skipped(IngestError),
    Failed(IngestError),
}

/// A parsed and matched document, as a parser thread hands it to the writer.
struct Parsed {
    path: PathBuf,
    format: Format,
    size: u64,
    doc: NewDocument,
    notes: Vec<String>,
}

/// One input's result, held by the writer until its transaction commits.
enum Gathered {
    Ready {
        path: PathBuf,
        format: Format,
        doc: Box<NewDocument>,
        notes: Vec<String>,
    },
    Done(Event),
}

/// The facts (by interning hash) that groups of this ingest committed with
/// their lookup names and matches: a later occurrence of one needs neither
/// computed again, its package has them stored (an advisory load that
/// commits later matches them there). Most of an estate's occurrences are
/// of facts seen before, so this saves the parser threads most of the
/// matching, and the waiting documents their names.
#[derive(Default)]
struct SettledFacts(std::sync::RwLock<rustc_hash::FxHashSet<FactHash>>);

/// Entries beyond which [`SettledFacts`] starts over (16 bytes and a
/// control byte each, in a table of powers of two: about 143 MB when full,
/// more while it grows; 10,000 deployments hold about 50,000).
const SETTLED_FACTS: usize = 4_000_000;

impl SettledFacts {
    /// Per package of `doc` (encoded): whether it needs naming and matching.
    fn unsettled(&self, doc: &NewDocument) -> Vec<bool> {
        let Some(rows) = doc.rows.as_ref() else {
            return Vec::new();
        };
        let settled = self.0.read().unwrap_or_else(|p| p.into_inner());
        rows.packages()
            .iter()
            .map(|p| p.key.is_some() && !settled.contains(&p.hash))
            .collect()
    }

    /// Records the facts of documents whose group is durable.
    fn settle<'a>(&self, docs: impl Iterator<Item = &'a NewDocument>) {
        let mut settled = self.0.write().unwrap_or_else(|p| p.into_inner());
        if settled.len() > SETTLED_FACTS {
            settled.clear();
        }
        for rows in docs.filter_map(|d| d.rows.as_ref()) {
            settled.extend(
                rows.packages()
                    .iter()
                    .filter(|p| p.key.is_some())
                    .map(|p| p.hash),
            );
        }
    }
}

/// What a parser thread does with one input: read, import, encode the rows
/// the writer inserts, and match the packages of facts not settled yet
/// against the advisories (they are only read, so this stays off the
/// single writer thread).
fn parse(
    store: &Store,
    input: &Input,
    limits: &Limits,
    deployment: Option<&str>,
    settled: &SettledFacts,
    memo: &mut FactMemo,
) -> Result<Parsed, IngestError> {
    let prepared = if input.model_dir {
        prepare_model_dir(&input.path, &Default::default(), &Default::default())
    } else {
        prepare(&input.path, limits)
    }?;
    let (path, format, size) = (prepared.path.clone(), prepared.format, prepared.size);
    let (mut doc, notes) = new_document(store, prepared, deployment, Matched::ByCaller)?;
    let facts = doc.encode_rows_returning_facts(memo);
    let wanted = settled.unsettled(&doc);
    debug_assert_eq!(facts.len(), wanted.len(), "encoded here, so aligned");
    (doc.lookup_names, doc.matches) = aibomdb_osv::match_encoded(store, &doc, &facts, &wanted)
        .map_err(|e| IngestError::new(&path, e))?;
    Ok(Parsed {
        path,
        format,
        size,
        doc,
        notes,
    })
}

/// The parser threads' share of an ingest, for one input and nothing
/// written: for measuring it apart from the writer. Returns the bytes read.
pub fn parse_only(store: &Store, input: &Input, limits: &Limits) -> Result<u64, IngestError> {
    parse(
        store,
        input,
        limits,
        None,
        &SettledFacts::default(),
        &mut FactMemo::new(),
    )
    .map(|parsed| parsed.size)
}

/// Parses `inputs` on `threads` workers and commits them in input order,
/// gathering ready documents into transactions as `group` allows. `on_event`
/// sees every input once, in input order, after its transaction is durable.
/// Returns the number of failures.
pub fn run(
    store: &Store,
    inputs: &[Input],
    deployment: Option<&str>,
    limits: &Limits,
    group: &GroupCommit,
    threads: usize,
    mut on_event: impl FnMut(&Event),
) -> usize {
    let threads = threads.clamp(1, inputs.len().max(1));
    let max_documents = group.max_documents.max(1);
    let mut failures = 0;
    let next = std::sync::atomic::AtomicUsize::new(0);
    let settled = SettledFacts::default();
    let bound = (threads * 2).max(max_documents.min(256));
    // The channel bounds the results in flight, but the writer takes them
    // out of order into `pending` while it waits for the oldest: a slow
    // input (a huge SBOM) let the other parsers fill `pending` with every
    // input after it. They wait instead once they are a channel and a
    // group ahead of the input the writer waits for.
    let window = Window::new(bound + max_documents.min(256));
    // Whether a document went in: only then can the heads have changed.
    let mut ingested = false;
    std::thread::scope(|scope| {
        // Bounded so parsed documents do not pile up in memory ahead of the
        // writer beyond what one group may hold: a whole next group, so the
        // parsers keep working while the writer commits one (half a group
        // left them waiting, and the cores idle, for the other half).
        let (tx, rx) = mpsc::sync_channel::<(usize, Result<Parsed, IngestError>)>(bound);
        let _close = window.closer(false);
        for _ in 0..threads {
            let tx = tx.clone();
            let (next, settled, window) = (&next, &settled, &window);
            scope.spawn(move || {
                // A parser that panics never sends its input's result, so
                // the writer would wait for it, and the others for the
                // writer, for ever: it closes the window as it unwinds; the
                // others stop, the channel closes, and the scope passes the
                // panic on.
                let _close_on_panic = window.closer(true);
                let mut memo = FactMemo::with_budget(FACT_MEMO_BYTES / threads);
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(input) = inputs.get(i) else { break };
                    if !window.admits(i) {
                        break;
                    }
                    let parsed = parse(store, input, limits, deployment, settled, &mut memo);
                    if tx.send((i, parsed)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut pending = BTreeMap::new();
        let mut want = 0;
        let mut gathered: Vec<Gathered> = Vec::new();
        let (mut documents, mut bytes) = (0usize, 0u64);
        let mut oldest: Option<std::time::Instant> = None;
        let mut flush = |gathered: &mut Vec<Gathered>, failures: &mut usize| {
            for event in write_group(store, std::mem::take(gathered), &settled) {
                match &event {
                    Event::Failed(_) => *failures += 1,
                    Event::Committed {
                        outcome: IngestOutcome::Ingested { .. },
                        ..
                    } => ingested = true,
                    _ => {}
                }
                on_event(&event);
            }
        };
        loop {
            let received = match oldest {
                None => rx.recv().ok(),
                Some(since) => {
                    let left = group.max_wait.saturating_sub(since.elapsed());
                    match rx.recv_timeout(left) {
                        Ok(x) => Some(x),
                        Err(mpsc::RecvTimeoutError::Timeout) => {
                            flush(&mut gathered, &mut failures);
                            (documents, bytes, oldest) = (0, 0, None);
                            continue;
                        }
                        Err(mpsc::RecvTimeoutError::Disconnected) => None,
                    }
                }
            };
            let Some((i, result)) = received else { break };
            pending.insert(i, result);
            let waited_for = want;
            while let Some(result) = pending.remove(&want) {
                let entry = match result {
                    Ok(Parsed {
                        path,
                        format,
                        size,
                        doc,
                        notes,
                    }) => {
                        documents += 1;
                        bytes += size;
                        Gathered::Ready {
                            path,
                            format,
                            doc: Box::new(doc),
                            notes,
                        }
                    }
                    Err(e) if e.is_unrecognised() && inputs[want].from_walk => {
                        Gathered::Done(Event::Skipped(e))
                    }
                    Err(e) => Gathered::Done(Event::Failed(e)),
                };
                gathered.push(entry);
                oldest.get_or_insert_with(std::time::Instant::now);
                want += 1;
                if documents >= max_documents || bytes >= group.max_bytes {
                    // The parsers go on while the group commits.
                    window.advance(want);
                    flush(&mut gathered, &mut failures);
                    (documents, bytes, oldest) = (0, 0, None);
                }
            }
            if want != waited_for {
                window.advance(want);
            }
        }
        flush(&mut gathered, &mut failures);
    });
    // The next open then reads the heads in one go. Only speed is at stake:
    // without the snapshot, the heads are read from their table. A run that
    // stored nothing writes nothing.
    if ingested && let Err(e) = store.persist_heads() {
        tracing::warn!(error = %e, "heads snapshot not written; the next open reads the heads table");
    }
    failures
}

/// How far the parsers may run ahead of the input the writer waits for.
struct Window {
    /// (the oldest input the writer waits for, whether it stopped waiting)
    state: std::sync::Mutex<(usize, bool)>,
    moved: std::sync::Condvar,
    width: usize,
}

impl Window {
    fn new(width: usize) -> Self {
        Window {
            state: std::sync::Mutex::new((0, false)),
            moved: std::sync::Condvar::new(),
            width: width.max(1),
        }
    }

    /// Waits until input `i` is within the window; false once the writer
    /// stopped (it ended, or panicked): the parser then stops too.
    fn admits(&self, i: usize) -> bool {
        let Ok(state) = self.state.lock() else {
            return false;
        };
        let width = self.width;
        match self
            .moved
            .wait_while(state, |(oldest, closed)| !*closed && i >= *oldest + width)
        {
            Ok(state) => !state.1,
            Err(_) => false,
        }
    }

    /// The writer now waits for input `oldest`.
    fn advance(&self, oldest: usize) {
        if let Ok(mut state) = self.state.lock() {
            state.0 = oldest;
        }
        self.moved.notify_all();
    }

    /// Closes the window when dropped (with `on_panic_only`, only when
    /// dropped as its thread unwinds).
    fn closer(&self, on_panic_only: bool) -> impl Drop + '_ {
        struct Close<'w>(&'w Window, bool);
        impl Drop for Close<'_> {
            fn drop(&mut self) {
                if self.1 && !std::thread::panicking() {
                    return;
                }
                match self.0.state.lock() {
                    Ok(mut state) => state.1 = true,
                    Err(poisoned) => poisoned.into_inner().1 = true,
                }
                self.0.moved.notify_all();
            }
        }
        Close(self, on_panic_only)
    }
}

/// Writes `docs` in one transaction. A load that committed after they were
/// matched makes the write refuse them as stale: they are matched again
/// against what it brought, and written then.
pub(crate) fn commit(
    store: &Store,
    docs: &mut [aibomdb_store::NewDocument],
) -> Result<Vec<IngestOutcome>, StoreError> {
    let mut tries = 0;
    loop {
        match store.ingest_batch(docs) {
            Err(StoreError::Stale(why)) if tries < aibomdb_osv::STALE_RETRIES => {
                tries += 1;
                tracing::info!(%why, "matching the group again");
                std::thread::sleep(aibomdb_osv::pause_before_retry(tries));
                for doc in docs.iter_mut() {
                    aibomdb_osv::match_again(store, doc)?;
                }
            }
            other => return other,
        }
    }
}

/// Commits the gathered documents in one transaction and returns every
/// entry's event in order. When the group's transaction fails, each document
/// is retried alone, so one bad write costs only its own document.
fn write_group(store: &Store, gathered: Vec<Gathered>, settled: &SettledFacts) -> Vec<Event> {
    let mut docs = Vec::new();
    let mut shape = Vec::with_capacity(gathered.len());
    for entry in gathered {
        match entry {
            Gathered::Ready {
                path,
                format,
                doc,
                notes,
            } => {
                docs.push(*doc);
                shape.push(Ok((path, format, notes)));
            }
            Gathered::Done(event) => shape.push(Err(event)),
        }
    }
    let outcomes: Vec<Result<IngestOutcome, StoreError>> = match commit(store, &mut docs) {
        Ok(outcomes) => {
            if !docs.is_empty() {
                tracing::debug!(documents = docs.len(), "group committed");
            }
            outcomes.into_iter().map(Ok).collect()
        }
        Err(e) if docs.len() <= 1 => vec![Err(e)],
        Err(e) => {
            tracing::debug!(documents = docs.len(), error = %e, "group failed; retrying one by one");
            docs.iter()
                .map(|doc| {
                    let mut one = [doc.clone()];
                    commit(store, &mut one).map(|mut o| o.remove(0))
                })
                .collect()
        }
    };
    settled.settle(
        docs.iter()
            .zip(&outcomes)
            .filter(|(_, o)| matches!(o, Ok(IngestOutcome::Ingested { .. })))
            .map(|(d, _)| d),
    );
    // Freeing a group's facts (hundreds of thousands of small allocations)
    // is the writer's time too; another thread can do it.
    if docs.len() > 1 {
        std::thread::spawn(move || drop(docs));
    }
    let mut outcomes = outcomes.into_iter();
    shape
        .into_iter()
        .map(|entry| match entry {
            Ok((path, format, notes)) => match outcomes.next().expect("one outcome per document") {
                Ok(outcome) => Event::Committed {
                    path,
                    format,
                    outcome,
                    notes,
                },
                Err(e) => Event::Failed(IngestError::new(&path, e)),
            },
            Err(event) => event,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::Window;
    use std::sync::mpsc;
    use std::time::Duration;

    /// A parser a window ahead of the writer waits until the writer moves,
    /// and one waiting when the writer stops is let go, told to stop.
    #[test]
    fn parsers_wait_for_the_writer_a_window_ahead() {
        let window = Window::new(4);
        std::thread::scope(|scope| {
            // Within the window: admitted at once.
            assert!(window.admits(3));
            let (tx, rx) = mpsc::channel();
            let (window, tx2) = (&window, tx.clone());
            scope.spawn(move || tx.send(window.admits(5)).unwrap());
            assert!(
                rx.recv_timeout(Duration::from_millis(200)).is_err(),
                "admitted 5 with the writer at 0"
            );
            window.advance(1);
            assert!(
                rx.recv_timeout(Duration::from_millis(200)).is_err(),
                "admitted 5 with the writer at 1"
            );
            window.advance(2);
            assert_eq!(rx.recv_timeout(Duration::from_secs(10)), Ok(true));
            scope.spawn(move || tx2.send(window.admits(100)).unwrap());
            assert!(rx.recv_timeout(Duration::from_millis(200)).is_err());
            // A parser's guard closes it only as its thread unwinds.
            drop(window.closer(true));
            assert!(rx.recv_timeout(Duration::from_millis(200)).is_err());
            drop(window.closer(false));
            assert_eq!(rx.recv_timeout(Duration::from_secs(10)), Ok(false));
        });
    }
}
