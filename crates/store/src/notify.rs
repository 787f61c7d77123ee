//! The notification outbox: events written in the same transaction as the
//! change that caused them (an exposure opened or resolved by an advisory
//! load, a sync, an ingest, a VEX statement or a deleted deployment, judged
//! by VEX as the reports judge it), webhook targets, and the delivery log.
//!
//! Events are recorded only while someone wants them: a webhook target is
//! configured, or a live listener (a GraphQL subscription of the serving
//! process) is registered. A bulk ingest into a store nobody listens to
//! writes no event rows; a target added later starts from the events after
//! it was added, never from the whole history.
//!
//! Delivery is the notify crate's job; the store keeps, per target, the
//! last event handled (its cursor) and one log row per delivered, filtered
//! or failing event, so a restart resumes where delivery stopped.

use std::collections::{BTreeSet, HashMap, HashSet};

use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata};
use serde::{Deserialize, Serialize};

use crate::records::DocHead;
use crate::tables::*;
use crate::vex::VexResolver;
use crate::{PackageId, Result, Store, decode, encode, has_table};

/// Whether a match began or ended for a deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Opened,
    Resolved,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Opened => "opened",
            EventKind::Resolved => "resolved",
        }
    }
}

/// One change of exposure: `deployment` became exposed to `advisory` through
/// `purl`, or stopped being exposed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatchEvent {
    /// Sequence number, strictly increasing: the event's id.
    pub seq: u64,
    /// Seconds since the epoch when the change was committed.
    pub at: u64,
    pub kind: EventKind,
    /// What caused it: `advisory` (a load), `sync` (a feed sync), `rematch`,
    /// `ingest`, `vex` (a statement that takes the match out or puts it
    /// back) or `delete` (a deleted deployment).
    pub cause: String,
    pub deployment: String,
    pub advisory: String,
    pub package: PackageId,
    pub purl: String,
    /// The OSV ecosystem the match was made under.
    pub ecosystem: String,
}

/// A webhook target. The HMAC secret is not kept in the store: the target
/// names the file that holds it, read at each delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotifyTarget {
    pub name: String,
    pub url: String,
    pub secret_file: Option<String>,
    /// A CEL expression over the event; `None` delivers every event.
    pub filter: Option<String>,
    /// `json` (the event with its enrichment) or `slack` (`{"text": …}`).
    pub format: String,
    pub added_at: u64,
}

/// What happened to one event at one target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub target: String,
    pub event: u64,
    /// `delivered`, `filtered` (the filter said no), `error` (the filter
    /// could not judge the event; not sent, not retried), `failing` (will
    /// retry), `dead` (the receiver refused it for good — a 4xx other than
    /// 408, 425 and 429 — or it failed the most attempts allowed; not retried
    /// until `notify retry` sends it back) or `queued` (sent back, due now).
    pub status: String,
    pub attempts: u32,
    /// Milliseconds since the epoch of the last attempt.
    pub last_attempt_ms: u64,
    /// When the next attempt is due, in milliseconds since the epoch (failing only).
    pub next_attempt_ms: u64,
    pub http_status: Option<u16>,
    pub error: Option<String>,
}

/// A (package, advisory) match edge that appeared or disappeared.
pub(crate) type MatchChange = (PackageId, String, String, EventKind);

impl Store {
    /// Registers a live listener: while any is registered, changes record
    /// events even when no webhook target is configured.
    pub fn add_listener(&self) {
        self.listeners
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    pub fn remove_listener(&self) {
        let _ = self.listeners.fetch_update(
            std::sync::atomic::Ordering::AcqRel,
            std::sync::atomic::Ordering::Acquire,
            |n| Some(n.saturating_sub(1)),
        );
    }

    /// Wakes whoever waits in [`Store::wait_for_events`].
    pub(crate) fn ring_event_bell(&self) {
        let (count, bell) = &self.event_bell;
        if let Ok(mut n) = count.lock() {
            *n += 1;
        }
        bell.notify_all();
    }

    /// How many times events have been committed by this process; give it to
    /// [`Store::wait_for_events`].
    pub fn event_rings(&self) -> u64 {
        self.event_bell.0.lock().map_or(0, |n| *n)
    }

    /// Waits until events are committed after `seen` rings (see
    /// [`Store::event_rings`]) or `timeout` passes; returns the rings now.
    /// (The store file is one process's at a time, so every commit that can
    /// add events rings here; the timeout is for retries falling due.)
    pub fn wait_for_events(&self, seen: u64, timeout: std::time::Duration) -> u64 {
        let (count, bell) = &self.event_bell;
        let guard = count
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match bell.wait_timeout_while(guard, timeout, |n| *n == seen) {
            Ok((n, _)) => *n,
            Err(e) => *e.into_inner().0,
        }
    }

    /// Whether a write in `txn` should record events.
    pub(crate) fn events_wanted(&self, txn: &redb::WriteTransaction) -> Result<bool> {
        if self.listeners.load(std::sync::atomic::Ordering::Acquire) > 0 {
            return Ok(true);
        }
        if !has_table(txn, "notify_targets")? {
            return Ok(false);
        }
        Ok(!txn.open_table(NOTIFY_TARGETS)?.is_empty()?)
    }

    /// Stores (or replaces) a target. A new target's cursor starts at the
    /// current end of the outbox: it receives what happens from now on.
    pub fn put_notify_target(&self, target: &NotifyTarget) -> Result<()> {
        let txn = self.db.begin_write()?;
        {
            let mut targets = txn.open_table(NOTIFY_TARGETS)?;
            let mut cursors = txn.open_table(NOTIFY_CURSORS)?;
            if cursors.get(target.name.as_str())?.is_none() {
                let end = txn
                    .open_table(META)?
                    .get("next_event_seq")?
                    .map_or(1, |v| v.value());
                cursors.insert(target.name.as_str(), end.saturating_sub(1))?;
            }
            let mut buf = Vec::new();
            encode(target, &mut buf);
            targets.insert(target.name.as_str(), buf.as_slice())?;
        }
        txn.commit()?;
        self.bump_notify();
        Ok(())
    }

    /// Removes a target, its cursor and its delivery log; false when there was none.
    pub fn remove_notify_target(&self, name: &str) -> Result<bool> {
        let txn = self.db.begin_write()?;
        let removed = {
            let mut targets = txn.open_table(NOTIFY_TARGETS)?;
            let removed = targets.remove(name)?.is_some();
            txn.open_table(NOTIFY_CURSORS)?.remove(name)?;
            let mut log = txn.open_table(DELIVERIES)?;
            let keys: Vec<u64> = log
                .range((name, 0)..=(name, u64::MAX))?
                .map(|e| e.map(|(k, _)| k.value().1))
                .collect::<std::result::Result<_, _>>()?;
            for seq in keys {
                log.remove((name, seq))?;
            }
            if has_table(&txn, "notify_requeue")? {
                let mut queue = txn.open_table(NOTIFY_REQUEUE)?;
                for seq in queued_in(&queue, name)? {
                    queue.remove((name, seq))?;
                }
            }
            removed
        };
        txn.commit()?;
        self.bump_notify();
        Ok(removed)
    }

    pub fn notify_targets(&self) -> Result<Vec<NotifyTarget>> {
        let txn = self.db.begin_read()?;
        let Some(table) = crate::read_table(&txn, NOTIFY_TARGETS)? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for entry in table.iter()? {
            let (k, v) = entry?;
            out.push(decode(v.value(), "notify_targets", k.value())?);
        }
        Ok(out)
    }

    /// The last event a target has handled (delivered or filtered out).
    pub fn notify_cursor(&self, target: &str) -> Result<u64> {
        let txn = self.db.begin_read()?;
        let Some(table) = crate::read_table(&txn, NOTIFY_CURSORS)? else {
            return Ok(0);
        };
        Ok(table.get(target)?.map_or(0, |v| v.value()))
    }

    /// Up to `limit` events after `seq`, in order.
    pub fn events_after(&self, seq: u64, limit: usize) -> Result<Vec<MatchEvent>> {
        let txn = self.db.begin_read()?;
        let Some(table) = crate::read_table(&txn, OUTBOX)? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for entry in table.range(seq.saturating_add(1)..)? {
            let (k, v) = entry?;
            out.push(decode(v.value(), "outbox", &k.value().to_string())?);
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }

    /// The sequence number of the newest event (0 when none).
    pub fn last_event_seq(&self) -> Result<u64> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(META)?;
        Ok(table
            .get("next_event_seq")?
            .map_or(0, |v| v.value().saturating_sub(1)))
    }

    /// Records what happened to an event at a target; when the event is
    /// handled (`delivered` or `filtered`) the target's cursor moves past it.
    /// Never bumps the generation: deliveries change no answer about the graph.
    pub fn record_delivery(&self, delivery: &Delivery) -> Result<()> {
        let txn = self.db.begin_write()?;
        {
            // A target removed while its delivery was in flight keeps no log.
            if txn
                .open_table(NOTIFY_TARGETS)?
                .get(delivery.target.as_str())?
                .is_none()
            {
                return Ok(());
            }
            let mut log = txn.open_table(DELIVERIES)?;
            let mut buf = Vec::new();
            encode(delivery, &mut buf);
            log.insert((delivery.target.as_str(), delivery.event), buf.as_slice())?;
            if delivery.status != "failing" && delivery.status != "queued" {
                // Handled (a dead one too): no longer sent back.
                if has_table(&txn, "notify_requeue")? {
                    txn.open_table(NOTIFY_REQUEUE)?
                        .remove((delivery.target.as_str(), delivery.event))?;
                }
                let mut cursors = txn.open_table(NOTIFY_CURSORS)?;
                let at = cursors
                    .get(delivery.target.as_str())?
                    .map_or(0, |v| v.value());
                if delivery.event > at {
                    cursors.insert(delivery.target.as_str(), delivery.event)?;
                }
            }
        }
        txn.commit()?;
        self.bump_notify();
        Ok(())
    }

    /// Removes the events committed before `before` (seconds since the
    /// epoch) that every target has handled, with their delivery-log rows,
    /// in one transaction; events a target still has to deliver stay,
    /// however old. Returns how many events went. Bounds the outbox: an
    /// estate that changes every day would otherwise keep every event.
    pub fn prune_outbox(&self, before: u64) -> Result<usize> {
        let txn = self.db.begin_write()?;
        let removed = {
            if !has_table(&txn, "outbox")? {
                return Ok(0);
            }
            let targets: Vec<String> = match has_table(&txn, "notify_targets")? {
                true => txn
                    .open_table(NOTIFY_TARGETS)?
                    .iter()?
                    .map(|e| e.map(|(k, _)| k.value().to_string()))
                    .collect::<std::result::Result<_, _>>()?,
                false => Vec::new(),
            };
            let cursors = txn.open_table(NOTIFY_CURSORS)?;
            let mut handled = u64::MAX;
            for t in &targets {
                handled = handled.min(cursors.get(t.as_str())?.map_or(0, |v| v.value()));
            }
            drop(cursors);
            // Dead events sent back are still to deliver.
            let mut queued = HashSet::new();
            if has_table(&txn, "notify_requeue")? {
                let queue = txn.open_table(NOTIFY_REQUEUE)?;
                for t in &targets {
                    queued.extend(queued_in(&queue, t)?);
                }
            }
            let mut outbox = txn.open_table(OUTBOX)?;
            let mut gone = Vec::new();
            for entry in outbox.range(..=handled)? {
                let (k, v) = entry?;
                let event: MatchEvent = decode(v.value(), "outbox", &k.value().to_string())?;
                if event.at >= before {
                    // Sequence follows commit order, so later ones are newer.
                    break;
                }
                if !queued.contains(&event.seq) {
                    gone.push(event.seq);
                }
            }
            for seq in &gone {
                outbox.remove(*seq)?;
            }
            let mut log = txn.open_table(DELIVERIES)?;
            for t in &targets {
                for seq in &gone {
                    log.remove((t.as_str(), *seq))?;
                }
            }
            gone.len()
        };
        if removed == 0 {
            txn.abort()?;
            return Ok(0);
        }
        txn.commit()?;
        self.bump_notify();
        Ok(removed)
    }

    /// The log row of one event at one target, if any.
    pub fn delivery(&self, target: &str, event: u64) -> Result<Option<Delivery>> {
        let txn = self.db.begin_read()?;
        let Some(table) = crate::read_table(&txn, DELIVERIES)? else {
            return Ok(None);
        };
        table
            .get((target, event))?
            .map(|v| decode(v.value(), "deliveries", &format!("{target}/{event}")))
            .transpose()
    }

    /// The delivery log of a target (all targets when `None`), newest event
    /// first (then by target name). Reads at most `limit` rows per target,
    /// backwards in key order, never the whole log.
    pub fn deliveries(&self, target: Option<&str>, limit: usize) -> Result<Vec<Delivery>> {
        let txn = self.db.begin_read()?;
        let Some(table) = crate::read_table(&txn, DELIVERIES)? else {
            return Ok(Vec::new());
        };
        let targets: Vec<String> = match target {
            Some(t) => vec![t.to_string()],
            None => match crate::read_table(&txn, NOTIFY_TARGETS)? {
                Some(t) => t
                    .iter()?
                    .map(|e| e.map(|(k, _)| k.value().to_string()))
                    .collect::<std::result::Result<_, _>>()?,
                None => Vec::new(),
            },
        };
        let mut out: Vec<Delivery> = Vec::new();
        for t in &targets {
            for entry in table
                .range((t.as_str(), 0)..=(t.as_str(), u64::MAX))?
                .rev()
                .take(limit)
            {
                let (k, v) = entry?;
                let (t, seq) = k.value();
                out.push(decode(v.value(), "deliveries", &format!("{t}/{seq}"))?);
            }
        }
        out.sort_by(|a, b| (b.event, &a.target).cmp(&(a.event, &b.target)));
        out.truncate(limit);
        Ok(out)
    }

    /// Sends a target's dead deliveries back (one event, or all of them):
    /// they are `queued` with their attempts reset, and the next round
    /// delivers them beside the events after the cursor. Returns the events
    /// sent back; `None` when there is no such target.
    pub fn requeue_dead(&self, target: &str, event: Option<u64>) -> Result<Option<Vec<u64>>> {
        let txn = self.db.begin_write()?;
        let requeued = {
            if !has_table(&txn, "notify_targets")?
                || txn.open_table(NOTIFY_TARGETS)?.get(target)?.is_none()
            {
                return Ok(None);
            }
            let mut log = txn.open_table(DELIVERIES)?;
            let range = match event {
                Some(e) => (target, e)..=(target, e),
                None => (target, 0)..=(target, u64::MAX),
            };
            let mut dead = Vec::new();
            for entry in log.range(range)? {
                let (k, v) = entry?;
                let seq = k.value().1;
                let d: Delivery = decode(v.value(), "deliveries", &format!("{target}/{seq}"))?;
                if d.status == "dead" {
                    dead.push(d);
                }
            }
            let mut queue = txn.open_table(NOTIFY_REQUEUE)?;
            let mut buf = Vec::new();
            for d in &mut dead {
                d.status = "queued".into();
                d.attempts = 0;
                d.next_attempt_ms = 0;
                buf.clear();
                encode(&*d, &mut buf);
                log.insert((target, d.event), buf.as_slice())?;
                queue.insert((target, d.event), ())?;
            }
            dead.iter().map(|d| d.event).collect::<Vec<_>>()
        };
        if requeued.is_empty() {
            txn.abort()?;
            return Ok(Some(requeued));
        }
        txn.commit()?;
        self.bump_notify();
        self.ring_event_bell();
        Ok(Some(requeued))
    }

    /// The events sent back to a target (`notify retry`) and not handled yet.
    pub fn requeued(&self, target: &str) -> Result<Vec<u64>> {
        let txn = self.db.begin_read()?;
        let Some(table) = crate::read_table(&txn, NOTIFY_REQUEUE)? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for entry in table.range((target, 0)..=(target, u64::MAX))? {
            out.push(entry?.0.value().1);
        }
        Ok(out)
    }

    /// One event of the outbox, if it is still there.
    pub fn event(&self, seq: u64) -> Result<Option<MatchEvent>> {
        let txn = self.db.begin_read()?;
        let Some(table) = crate::read_table(&txn, OUTBOX)? else {
            return Ok(None);
        };
        table
            .get(seq)?
            .map(|v| decode(v.value(), "outbox", &seq.to_string()))
            .transpose()
    }
}

/// The events queued for `target` (see [`Store::requeue_dead`]).
fn queued_in(
    queue: &impl ReadableTable<(&'static str, u64), ()>,
    target: &str,
) -> Result<Vec<u64>> {
    let mut out = Vec::new();
    for entry in queue.range((target, 0)..=(target, u64::MAX))? {
        out.push(entry?.0.value().1);
    }
    Ok(out)
}

/// Appends events to the outbox in `txn`, numbering them.
pub(crate) fn append_events(txn: &redb::WriteTransaction, events: &mut [MatchEvent]) -> Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let mut meta = txn.open_table(META)?;
    let mut next = meta.get("next_event_seq")?.map_or(1, |v| v.value());
    let mut outbox = txn.open_table(OUTBOX)?;
    let mut buf = Vec::new();
    for e in events.iter_mut() {
        e.seq = next;
        next += 1;
        buf.clear();
        encode(&*e, &mut buf);
        outbox.insert(e.seq, buf.as_slice())?;
    }
    meta.insert("next_event_seq", next)?;
    Ok(())
}

/// Events for match edges that changed estate-wide (an advisory load): one
/// per deployment whose current documents hold the package.
pub(crate) fn events_for_matches(
    txn: &redb::WriteTransaction,
    changes: &[MatchChange],
    cause: &str,
    at: u64,
) -> Result<Vec<MatchEvent>> {
    let postings = txn.open_table(POSTINGS)?;
    let heads = txn.open_table(DOCUMENT_HEADS)?;
    let packages = txn.open_table(PACKAGES)?;
    let mut out = Vec::new();
    for (package, advisory, ecosystem, kind) in changes {
        let (package, kind) = (*package, *kind);
        let mut deployments = BTreeSet::new();
        for doc in crate::occurrences::documents_of(&postings, package)? {
            if let Some(v) = heads.get(doc)? {
                let head: DocHead = decode(v.value(), "document_heads", &doc.to_string())?;
                if head.current {
                    deployments.insert(head.deployment);
                }
            }
        }
        if deployments.is_empty() {
            continue;
        }
        let purl = purl_of(&packages, package)?;
        for deployment in deployments {
            out.push(MatchEvent {
                seq: 0,
                at,
                kind,
                cause: cause.to_string(),
                deployment,
                advisory: advisory.to_string(),
                package,
                purl: purl.clone(),
                ecosystem: ecosystem.to_string(),
            });
        }
    }
    Ok(out)
}

fn purl_of(packages: &redb::Table<u64, &[u8]>, package: PackageId) -> Result<String> {
    Ok(match packages.get(package)? {
        Some(v) => {
            let record: crate::PackageRecord = decode(v.value(), "packages", &package.to_string())?;
            record.key
        }
        None => String::new(),
    })
}

/// One affected match of a document: (package, advisory, ecosystem).
pub(crate) type Exposure = (PackageId, String, String);

/// Events for one deployment whose document `old` was superseded by `new`:
/// exposures the new document brings that no other current document of the
/// deployment already held, and exposures that left with the old one.
pub(crate) fn events_for_supersession(
    txn: &redb::WriteTransaction,
    deployment: &str,
    other_current: &[u64],
    old: Option<u64>,
    new: u64,
    at: u64,
) -> Result<Vec<MatchEvent>> {
    // The document → package rows, not the package → document index: the
    // index of a group commit is written at its end, after every document.
    let doc_rows = txn.open_table(DOCUMENT_ROWS)?;
    let package_ids = |doc: u64| -> Result<Vec<PackageId>> {
        Ok(crate::occurrences::rows_of(&doc_rows, doc)?
            .map(|rows| rows.packages.iter().map(|p| p.id).collect())
            .unwrap_or_default())
    };
    let packages = txn.open_table(PACKAGES)?;
    let mut elsewhere: HashSet<PackageId> = HashSet::new();
    for doc in other_current {
        elsewhere.extend(package_ids(*doc)?);
    }
    let held_elsewhere = |package: PackageId| -> Result<bool> { Ok(elsewhere.contains(&package)) };
    // Both sides from the stored matches of each document's packages (those
    // of the new one are written already): one source, so a match that an
    // advisory load made under another lookup name is on both sides.
    let matches = txn.open_table(MATCHES)?;
    let exposures = |doc: u64| -> Result<HashSet<Exposure>> {
        let mut out = HashSet::new();
        for package in package_ids(doc)? {
            for m in matches.range((package, "")..=(package, "\u{10FFFF}"))? {
                let (k, v) = m?;
                let advisory = k.value().1;
                let stored: crate::advisories::StoredMatch =
                    decode(v.value(), "matches", advisory)?;
                if stored.is_affected() {
                    out.insert((package, advisory.to_string(), stored.ecosystem().into()));
                }
            }
        }
        Ok(out)
    };
    let before = match old {
        Some(old) => exposures(old)?,
        None => HashSet::new(),
    };
    let new = &exposures(new)?;
    let mut out = Vec::new();
    let mut push = |(package, advisory, ecosystem): &Exposure, kind| -> Result<()> {
        if held_elsewhere(*package)? {
            return Ok(());
        }
        out.push(MatchEvent {
            seq: 0,
            at,
            kind,
            cause: "ingest".into(),
            deployment: deployment.to_string(),
            advisory: advisory.clone(),
            package: *package,
            purl: purl_of(&packages, *package)?,
            ecosystem: ecosystem.clone(),
        });
        Ok(())
    };
    let mut opened: Vec<&Exposure> = new.difference(&before).collect();
    opened.sort();
    for e in opened {
        push(e, EventKind::Opened)?;
    }
    let mut resolved: Vec<&Exposure> = before.difference(new).collect();
    resolved.sort();
    for e in resolved {
        push(e, EventKind::Resolved)?;
    }
    Ok(out)
}

/// Judges a change's events by VEX with the resolver the reports use: what
/// the store holds now (`before`, the committed state) and what it will
/// hold once the write transaction commits (`after`). An exposure is open
/// when its match is affected and no covering statement suppresses it.
pub(crate) struct VexJudge<'a> {
    store: &'a Store,
    txn: &'a redb::WriteTransaction,
    before: VexResolver<'a>,
    after: VexResolver<'a>,
    identifiers: HashMap<(bool, String), Vec<String>>,
    packages: HashMap<PackageId, Option<crate::PackageRecord>>,
}

impl<'a> VexJudge<'a> {
    pub(crate) fn new(store: &'a Store, txn: &'a redb::WriteTransaction) -> Self {
        VexJudge {
            store,
            txn,
            before: VexResolver::new(store),
            after: VexResolver::in_txn(txn),
            identifiers: HashMap::new(),
            packages: HashMap::new(),
        }
    }

    /// Whether a statement suppresses (deployment, package, advisory):
    /// `after` the change, or before it.
    fn suppressed(
        &mut self,
        after: bool,
        deployment: &str,
        package: PackageId,
        advisory: &str,
    ) -> Result<bool> {
        let key = (after, advisory.to_string());
        if !self.identifiers.contains_key(&key) {
            let ids = match after {
                true => identifiers_of(&self.txn.open_table(ADVISORIES)?, advisory)?,
                false => {
                    let read = self.store.db.begin_read()?;
                    match crate::read_table(&read, ADVISORIES)? {
                        Some(t) => identifiers_of(&t, advisory)?,
                        None => vec![advisory.to_string()],
                    }
                }
            };
            self.identifiers.insert(key.clone(), ids);
        }
        if !self.packages.contains_key(&package) {
            let record = self
                .txn
                .open_table(PACKAGES)?
                .get(package)?
                .map(|v| decode(v.value(), "packages", &package.to_string()))
                .transpose()?;
            self.packages.insert(package, record);
        }
        let Some(record) = &self.packages[&package] else {
            return Ok(false);
        };
        let identifiers = &self.identifiers[&key];
        let resolver = match after {
            true => &mut self.after,
            false => &mut self.before,
        };
        Ok(resolver
            .verdict(deployment, record, identifiers)?
            .is_some_and(|v| v.suppresses()))
    }

    /// Whether the store holds any VEX statement, before or after the change
    /// (an estate without VEX has its events judged for nothing).
    fn any_statements(&self) -> Result<bool> {
        if !self.txn.open_table(VEX_STATEMENTS)?.is_empty()? {
            return Ok(true);
        }
        let read = self.store.db.begin_read()?;
        Ok(match crate::read_table(&read, VEX_STATEMENTS)? {
            Some(t) => !t.is_empty()?,
            None => false,
        })
    }

    /// Drops the events VEX makes moot: an opened exposure a statement
    /// suppresses once the change commits, a resolved one a statement
    /// already suppressed (it was not open).
    pub(crate) fn filter(&mut self, events: Vec<MatchEvent>) -> Result<Vec<MatchEvent>> {
        if events.is_empty() || !self.any_statements()? {
            return Ok(events);
        }
        let mut out = Vec::with_capacity(events.len());
        for e in events {
            let after = e.kind == EventKind::Opened;
            if !self.suppressed(after, &e.deployment, e.package, &e.advisory)? {
                out.push(e);
            }
        }
        Ok(out)
    }

    /// Events for the exposures whose VEX verdict the change turns: for
    /// every affected match of an advisory the `named` identifiers (those
    /// of the statements the change adds or takes away) answer to, in every
    /// deployment whose current documents hold the package after the change,
    /// `resolved` where a statement now suppresses it and `opened` where
    /// none does any more. `skip`: (deployment, advisory, package) the change
    /// evented already (a package the document brought or took away).
    pub(crate) fn vex_events(
        &mut self,
        named: &BTreeSet<String>,
        skip: &HashSet<(String, String, PackageId)>,
        cause: &str,
        at: u64,
    ) -> Result<Vec<MatchEvent>> {
        if named.is_empty() {
            return Ok(Vec::new());
        }
        let txn = self.txn;
        let mut advisories = BTreeSet::new();
        {
            let index = txn.open_table(ADVISORY_IDENTIFIERS)?;
            for name in named {
                for spelling in spellings(name) {
                    for e in
                        index.range((spelling.as_str(), "")..=(spelling.as_str(), "\u{10FFFF}"))?
                    {
                        advisories.insert(e?.0.value().1.to_string());
                    }
                }
            }
        }
        // (advisory, package, ecosystem) of the affected matches.
        let mut exposures: Vec<Exposure> = Vec::new();
        {
            let by_advisory = txn.open_table(MATCHES_BY_ADVISORY)?;
            let matches = txn.open_table(MATCHES)?;
            for advisory in &advisories {
                for e in
                    by_advisory.range((advisory.as_str(), 0)..=(advisory.as_str(), u64::MAX))?
                {
                    let package = e?.0.value().1;
                    let Some(v) = matches.get((package, advisory.as_str()))? else {
                        continue;
                    };
                    let stored: crate::advisories::StoredMatch =
                        decode(v.value(), "matches", advisory)?;
                    if stored.is_affected() {
                        exposures.push((package, advisory.clone(), stored.ecosystem().into()));
                    }
                }
            }
        }
        let packages: BTreeSet<PackageId> = exposures.iter().map(|(p, _, _)| *p).collect();
        let holders = current_holders(txn, &packages)?;
        let mut out = Vec::new();
        for (package, advisory, ecosystem) in &exposures {
            for deployment in &holders[package] {
                if skip.contains(&(deployment.clone(), advisory.clone(), *package)) {
                    continue;
                }
                let was = self.suppressed(false, deployment, *package, advisory)?;
                let is = self.suppressed(true, deployment, *package, advisory)?;
                if was == is {
                    continue;
                }
                let purl = self.packages[package]
                    .as_ref()
                    .map_or_else(String::new, |p| p.key.clone());
                out.push(MatchEvent {
                    seq: 0,
                    at,
                    kind: if is {
                        EventKind::Resolved
                    } else {
                        EventKind::Opened
                    },
                    cause: cause.to_string(),
                    deployment: deployment.clone(),
                    advisory: advisory.clone(),
                    package: *package,
                    purl,
                    ecosystem: ecosystem.clone(),
                });
            }
        }
        Ok(out)
    }
}

/// Per package, the deployments whose current documents list it, as the
/// write transaction leaves them (the postings of an ingest group are
/// written before its events are judged).
fn current_holders(
    txn: &redb::WriteTransaction,
    packages: &BTreeSet<PackageId>,
) -> Result<HashMap<PackageId, BTreeSet<String>>> {
    let postings = txn.open_table(POSTINGS)?;
    let heads = txn.open_table(DOCUMENT_HEADS)?;
    let mut out = HashMap::new();
    for package in packages {
        let mut deployments = BTreeSet::new();
        for doc in crate::occurrences::documents_of(&postings, *package)? {
            if let Some(v) = heads.get(doc)? {
                let head: DocHead = decode(v.value(), "document_heads", &doc.to_string())?;
                if head.current {
                    deployments.insert(head.deployment);
                }
            }
        }
        out.insert(*package, deployments);
    }
    Ok(out)
}

/// An advisory's id first, then its aliases and upstream ids (as the
/// reports give them to the resolver).
fn identifiers_of(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
    id: &str,
) -> Result<Vec<String>> {
    let mut out = vec![id.to_string()];
    if let Some(v) = table.get(id)? {
        let row: crate::records::AdvisoryRow = decode(v.value(), "advisories", id)?;
        out.extend(row.identifiers.into_iter().filter(|i| i != id));
    }
    Ok(out)
}

/// The spellings under which the advisory index may hold an identifier a
/// statement names (statements are compared case-insensitively; GHSA ids
/// are lower case after the prefix).
fn spellings(name: &str) -> BTreeSet<String> {
    let name = name.trim();
    let mut out = BTreeSet::from([
        name.to_string(),
        name.to_ascii_uppercase(),
        name.to_ascii_lowercase(),
    ]);
    if name.len() > 5 && name[..5].eq_ignore_ascii_case("GHSA-") {
        out.insert(format!("GHSA-{}", name[5..].to_ascii_lowercase()));
    }
    out
}

/// Identifiers the statements of `doc` name, read from the statement rows.
pub(crate) fn statement_ids_of(
    txn: &redb::WriteTransaction,
    docs: &HashSet<u64>,
    into: &mut BTreeSet<String>,
) -> Result<()> {
    if docs.is_empty() {
        return Ok(());
    }
    let table = txn.open_table(VEX_STATEMENTS)?;
    for entry in table.iter()? {
        let (k, _) = entry?;
        let (id, doc, _) = k.value();
        if docs.contains(&doc) {
            into.insert(id.to_string());
        }
    }
    Ok(())
}

/// The open exposures of one deployment as the store holds them now (its
/// current documents' affected matches that no statement suppresses), as
/// `resolved` events: what deleting it ends.
pub(crate) fn exposures_ending(
    store: &Store,
    txn: &redb::WriteTransaction,
    deployment: &str,
    cause: &str,
    at: u64,
) -> Result<Vec<MatchEvent>> {
    // Through the store's own reads (the committed state: nothing is
    // deleted yet), not its tables.
    let mut packages = BTreeSet::new();
    for doc in store.current_documents(deployment)? {
        packages.extend(
            store
                .document_package_records(doc)?
                .into_iter()
                .map(|p| p.id),
        );
    }
    let packages: Vec<PackageId> = packages.into_iter().collect();
    let mut found: BTreeSet<Exposure> = BTreeSet::new();
    for (package, matches) in packages.iter().zip(store.matches_for_packages(&packages)?) {
        for m in matches.into_iter().filter(|m| m.status == "affected") {
            found.insert((*package, m.advisory, m.ecosystem));
        }
    }
    let mut judge = VexJudge::new(store, txn);
    let mut out = Vec::new();
    for (package, advisory, ecosystem) in found {
        if judge.suppressed(false, deployment, package, &advisory)? {
            continue;
        }
        let purl = judge.packages[&package]
            .as_ref()
            .map_or_else(String::new, |p| p.key.clone());
        out.push(MatchEvent {
            seq: 0,
            at,
            kind: EventKind::Resolved,
            cause: cause.to_string(),
            deployment: deployment.to_string(),
            advisory,
            package,
            purl,
            ecosystem,
        });
    }
    Ok(out)
}

/// The events of an ingest group: the exposures its documents brought or
/// took away (`raw`, from [`events_for_supersession`]) as VEX leaves them,
/// and the exposures whose verdict the statements it added (or took away
/// with a superseded document) turn, with cause `vex`.
pub(crate) fn vex_judged(
    store: &Store,
    txn: &redb::WriteTransaction,
    docs: &[crate::NewDocument],
    outcomes: &[crate::IngestOutcome],
    raw: Vec<MatchEvent>,
) -> Result<Vec<MatchEvent>> {
    let mut named = BTreeSet::new();
    let mut gone = HashSet::new();
    for (doc, outcome) in docs.iter().zip(outcomes) {
        let crate::IngestOutcome::Ingested { superseded, .. } = outcome else {
            continue;
        };
        for s in &doc.facts.vex {
            named.insert(s.vulnerability.clone());
            named.extend(s.aliases.iter().cloned());
        }
        if let Some(old) = superseded {
            gone.insert(*old);
        }
    }
    // A superseded document's statements stop counting: the verdicts they
    // gave may turn too.
    {
        let documents = txn.open_table(DOCUMENTS)?;
        let mut with_statements = HashSet::new();
        for old in gone {
            if let Some(v) = documents.get(old)? {
                let record: crate::DocumentRecord =
                    decode(v.value(), "documents", &old.to_string())?;
                if record.vex_statements > 0 {
                    with_statements.insert(old);
                }
            }
        }
        drop(documents);
        statement_ids_of(txn, &with_statements, &mut named)?;
    }
    let skip: HashSet<(String, String, PackageId)> = raw
        .iter()
        .map(|e| (e.deployment.clone(), e.advisory.clone(), e.package))
        .collect();
    let at = raw.first().map_or_else(crate::unix_now, |e| e.at);
    let mut judge = VexJudge::new(store, txn);
    let mut events = judge.filter(raw)?;
    events.extend(judge.vex_events(&named, &skip, "vex", at)?);
    Ok(events)
}
