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

use std::collections::HashSet;

use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata};
use serde::{Deserialize, Serialize};

use crate::tables::*;
use crate::{PackageId, RedbStore, Result, decode, encode, has_table};

pub(crate) use crate::events::redb::{StoreView, TxnView};
pub(crate) use crate::events::{
    VexJudge, events_for_matches, events_for_supersession, exposures_ending, load_events,
    vex_judged,
};

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

pub(crate) use crate::events::MatchChange;

impl RedbStore {
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
