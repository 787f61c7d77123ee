//! The overview kept warm. Computing it reads every match in the estate
//! (about a second at 10,000 deployments), while the home page wants it in
//! well under that. So the server keeps the answer at its largest size
//! ([`OVERVIEW_MAX_TOP`] per list), computed at a store generation, and cuts
//! it to what each request asks. Never stale: a request at a newer
//! generation waits for a fresh answer (one computation at a time, which a
//! second request then shares). While a dashboard has asked within
//! [`WATCHED_FOR`], [`keep_warm`] recomputes soon after each write, so the
//! next page load finds the answer ready.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aibomdb_query::{OVERVIEW_MAX_TOP, Overview, QueryError};
use aibomdb_store::Store;

/// How long after the last request the server goes on refreshing.
pub(crate) const WATCHED_FOR: Duration = Duration::from_secs(15 * 60);
/// How often the refresher looks at the store's generation.
const POLL: Duration = Duration::from_millis(500);

pub(crate) struct OverviewCache {
    /// Held while computing, so that concurrent askers share one computation.
    slot: Mutex<Option<(u64, Arc<Overview>)>>,
    started: Instant,
    /// Milliseconds after `started` of the last request (0: none yet).
    last_asked_ms: AtomicU64,
}

impl Default for OverviewCache {
    fn default() -> Self {
        OverviewCache {
            slot: Mutex::new(None),
            started: Instant::now(),
            last_asked_ms: AtomicU64::new(0),
        }
    }
}

impl OverviewCache {
    /// The overview as of the store's current generation, cut to `top`.
    /// Blocking: call it off the async reactor.
    pub(crate) fn get(&self, store: &Store, top: usize) -> Result<Overview, QueryError> {
        let now_ms = (self.started.elapsed().as_millis() as u64).max(1);
        self.last_asked_ms.store(now_ms, Ordering::Relaxed);
        Ok(self.current(store)?.truncated(top))
    }

    fn current(&self, store: &Store) -> Result<Arc<Overview>, QueryError> {
        // A panic while computing leaves at worst no answer: recomputed.
        let mut slot = self
            .slot
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Read before computing: a write that commits meanwhile leaves this
        // answer one generation behind, and the next request recomputes.
        let generation = store.generation();
        if let Some((at, answer)) = slot.as_ref()
            && *at == generation
        {
            return Ok(answer.clone());
        }
        let answer = Arc::new(aibomdb_query::overview(store, OVERVIEW_MAX_TOP)?);
        *slot = Some((generation, answer.clone()));
        Ok(answer)
    }

    /// Whether the answer kept is of the store's generation. Called on the
    /// reactor, so it never waits: a computation under way (the lock held)
    /// counts as fresh, since it is the one that would be started.
    fn fresh(&self, store: &Store) -> bool {
        match self.slot.try_lock() {
            Ok(slot) => slot
                .as_ref()
                .is_some_and(|(at, _)| *at == store.generation()),
            Err(std::sync::TryLockError::WouldBlock) => true,
            Err(std::sync::TryLockError::Poisoned(slot)) => slot
                .into_inner()
                .as_ref()
                .is_some_and(|(at, _)| *at == store.generation()),
        }
    }

    fn watched(&self) -> bool {
        let last = self.last_asked_ms.load(Ordering::Relaxed);
        last != 0
            && (self.started.elapsed().as_millis() as u64).saturating_sub(last)
                < WATCHED_FOR.as_millis() as u64
    }
}

/// Computes the overview once at start, then again after each write while a
/// dashboard is watching. Runs until the process ends.
pub(crate) async fn keep_warm(cache: Arc<OverviewCache>, store: Arc<Store>) {
    let mut first = true;
    loop {
        if first || (cache.watched() && !cache.fresh(&store)) {
            first = false;
            let (cache, store) = (cache.clone(), store.clone());
            let started = Instant::now();
            match tokio::task::spawn_blocking(move || cache.current(&store).map(|_| ())).await {
                Ok(Ok(())) => tracing::debug!(
                    ms = started.elapsed().as_millis() as u64,
                    "overview refreshed"
                ),
                Ok(Err(e)) => tracing::warn!(error = %e, "overview refresh failed"),
                Err(e) => tracing::warn!(error = %e, "overview refresh stopped"),
            }
        }
        tokio::time::sleep(POLL).await;
    }
}
