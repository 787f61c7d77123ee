//! What `serve` runs beside the HTTP server: webhook delivery from the
//! outbox, and the advisory feed sync on its interval. Both are plain
//! threads (blocking HTTP clients), stopped when the server stops.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use aibomdb_store::Store;

use crate::ServeArgs;

/// How often the delivery worker looks for new events when idle (a commit
/// wakes it before): a redb file is read in process, a PostgreSQL database
/// over the network, every lane a few statements a round.
const NOTIFY_POLL: Duration = Duration::from_millis(25);
const NOTIFY_POLL_POSTGRES: Duration = Duration::from_millis(250);

pub(crate) fn start(
    store: &Arc<Store>,
    args: &ServeArgs,
    stop: &Arc<AtomicBool>,
) -> Vec<JoinHandle<()>> {
    let mut handles = Vec::new();
    let options = aibomdb_notify::DeliveryOptions {
        backoff: args.notify_backoff,
        max_attempts: args.notify_max_attempts,
        ..Default::default()
    };
    {
        let (s, flag) = (store.clone(), stop.clone());
        let poll = match store.file() {
            Some(_) => NOTIFY_POLL,
            None => NOTIFY_POLL_POSTGRES,
        };
        handles.push(std::thread::spawn(move || {
            aibomdb_notify::run_worker(s, options, poll, flag);
        }));
    }
    if let Some(source) = args.sync_source.clone() {
        let (s, flag) = (store.clone(), stop.clone());
        let options = aibomdb_feeds::SyncOptions {
            ecosystems: args.sync_ecosystems.clone(),
            ..Default::default()
        };
        let every = args.sync_interval;
        handles.push(std::thread::spawn(move || {
            sync_loop(&s, &source, &options, every, &flag);
        }));
    }
    handles
}

fn sync_loop(
    store: &Store,
    source: &str,
    options: &aibomdb_feeds::SyncOptions,
    every: Duration,
    stop: &AtomicBool,
) {
    let source = match aibomdb_feeds::Source::parse(source) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "--sync-source: no sync will run");
            return;
        }
    };
    loop {
        match aibomdb_feeds::sync(store, &source, options) {
            Ok(report) => {
                for e in &report.ecosystems {
                    tracing::info!(
                        ecosystem = %e.ecosystem,
                        mode = ?e.mode,
                        added = e.loaded.added,
                        updated = e.loaded.updated,
                        rejected = e.rejected.len(),
                        "advisory sync"
                    );
                    for (what, why) in &e.rejected {
                        tracing::warn!(source = %what, reason = %why, "advisory record not read");
                    }
                }
            }
            // The next round retries; the store is as it was before this one.
            Err(e) => tracing::warn!(error = %e, "advisory sync failed"),
        }
        let next = Instant::now() + every;
        while Instant::now() < next {
            if stop.load(Ordering::Acquire) {
                return;
            }
            std::thread::sleep(Duration::from_millis(200).min(every));
        }
    }
}
