//! Notifications on PostgreSQL: the outbox, webhook targets and their
//! delivery log (the tables of migration 1), the events every write records
//! while someone wants them (`events.rs`), and the bell that wakes waiters
//! in any process.
//!
//! - Events are numbered from `meta.next_event_seq` by writers that hold the
//!   writers' lock, so sequence order is commit order, as on redb.
//! - Who wants events: a stored target, or a live listener (a GraphQL
//!   subscription) of any server. A server keeps a row in `listeners` with a
//!   heartbeat while it has one; a row not refreshed for [`LISTENER_LEASE`]
//!   (a server killed) stops counting.
//! - The bell: a commit in this process rings at once; one in another
//!   process is seen by the write-counter poll (`follow_other_writers`),
//!   which reads `next_event_seq` beside the counter every
//!   [`crate::store::FOLLOW_EVERY`].

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};

use aibomdb_store::kit;
use aibomdb_store::{Delivery, MatchEvent, NotifyTarget, StoreError};
use tokio_postgres::Transaction;

use crate::store::{Pg, PgStore, Result};

/// How long a server's listener heartbeat counts; it refreshes it four
/// times as often.
pub(crate) const LISTENER_LEASE: std::time::Duration = std::time::Duration::from_secs(60);

/// The session advisory lock of the process that delivers notifications
/// (the writers' lock is another key).
const DELIVERY_LOCK: i64 = 0x6169_626f_6d64_6202;

/// How often a process checks that it holds the delivery lock, or tries to
/// take it.
const LEADER_CHECK: std::time::Duration = std::time::Duration::from_secs(1);

/// The connection that holds (or tries for) the delivery lock.
#[derive(Default)]
pub(crate) struct DeliveryLeader {
    client: Option<tokio_postgres::Client>,
    leading: bool,
    checked_at: Option<std::time::Instant>,
}

/// What wakes those who wait for events, and who listens in this process.
#[derive(Default)]
pub(crate) struct EventBell {
    rings: Mutex<u64>,
    bell: Condvar,
    /// `meta.next_event_seq` as the poll last read it.
    seen_seq: AtomicU64,
    /// Live listeners (open subscriptions) of this process.
    listeners: AtomicUsize,
    /// Whether the task keeping this process's `listeners` row runs.
    heartbeat: AtomicBool,
}

impl EventBell {
    pub(crate) fn ring(&self) {
        if let Ok(mut n) = self.rings.lock() {
            *n += 1;
        }
        self.bell.notify_all();
    }

    /// The poll read `next_event_seq`: rings when it moved.
    pub(crate) fn saw_next_seq(&self, next: u64) {
        let before = self.seen_seq.fetch_max(next, Ordering::AcqRel);
        if before != 0 && next > before {
            self.ring();
        }
    }

    fn rings(&self) -> u64 {
        self.rings.lock().map_or(0, |n| *n)
    }

    fn wait(&self, seen: u64, timeout: std::time::Duration) -> u64 {
        let guard = self
            .rings
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match self.bell.wait_timeout_while(guard, timeout, |n| *n == seen) {
            Ok((n, _)) => *n,
            Err(e) => *e.into_inner().0,
        }
    }
}

/// A count or id for a `bigint` parameter: past its range, its largest.
fn clamp(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn decode_event(bytes: &[u8], seq: i64) -> Result<MatchEvent> {
    kit::decode(bytes, "outbox", &seq.to_string())
}

fn decode_delivery(bytes: &[u8], target: &str, event: i64) -> Result<Delivery> {
    kit::decode(bytes, "deliveries", &format!("{target}/{event}"))
}

impl PgStore {
    /// Live listeners of this process.
    pub(crate) fn local_listeners(&self) -> usize {
        self.bell.listeners.load(Ordering::Acquire)
    }

    pub(crate) fn listen(&self) {
        if self.bell.listeners.fetch_add(1, Ordering::AcqRel) == 0
            && !self.bell.heartbeat.swap(true, Ordering::AcqRel)
        {
            self.keep_heartbeat();
        }
        // Events another process commits wake subscriptions through the poll.
        if let Err(e) = aibomdb_store::Backend::follow_other_writers(self) {
            tracing::warn!(error = %e, "events of other processes will not wake subscriptions");
        }
    }

    pub(crate) fn unlisten(&self) {
        let _ = self
            .bell
            .listeners
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                Some(n.saturating_sub(1))
            });
    }

    /// Keeps this process's `listeners` row while it has listeners, on a
    /// connection of its own to the primary; removes it when the last goes.
    /// (Spawned: a subscription is opened from inside the server's runtime,
    /// where nothing may block.)
    fn keep_heartbeat(&self) {
        let bell = self.bell.clone();
        let endpoint = self.db.endpoint.clone();
        // The rows of servers killed without saying so go after two leases.
        let stale_after = (LISTENER_LEASE * 2).as_secs_f64();
        self.db.rt().spawn(async move {
            let mut client = None;
            let mut process: Option<String> = None;
            loop {
                let listeners = bell.listeners.load(Ordering::Acquire) as i32;
                if client
                    .as_ref()
                    .is_none_or(tokio_postgres::Client::is_closed)
                {
                    client = crate::reconnect(&endpoint).await;
                }
                if let Some(c) = &client {
                    if process.is_none() {
                        process = c
                            .query_one("SELECT gen_random_uuid()::text", &[])
                            .await
                            .ok()
                            .map(|r| r.get(0));
                    }
                    if let Some(p) = &process {
                        let done = listeners == 0;
                        let sql = match done {
                            true => "DELETE FROM listeners WHERE process = $1::text::uuid",
                            false => {
                                "WITH gone AS (DELETE FROM listeners \
                                 WHERE heartbeat < now() - make_interval(secs => $3)) \
                                 INSERT INTO listeners (process, count, heartbeat) \
                                 VALUES ($1::text::uuid, $2, now()) ON CONFLICT (process) \
                                 DO UPDATE SET count = EXCLUDED.count, heartbeat = now()"
                            }
                        };
                        let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = match done {
                            true => vec![p],
                            false => vec![p, &listeners, &stale_after],
                        };
                        if let Err(e) = c.execute(sql, &params).await {
                            tracing::warn!(error = %e, "listener heartbeat not written");
                        } else if done {
                            bell.heartbeat.store(false, Ordering::Release);
                            // A listener that came meanwhile starts it again.
                            if bell.listeners.load(Ordering::Acquire) == 0
                                || bell.heartbeat.swap(true, Ordering::AcqRel)
                            {
                                return;
                            }
                            continue;
                        }
                    }
                }
                tokio::time::sleep(LISTENER_LEASE / 4).await;
            }
        });
    }

    /// Whether this process delivers notifications: it holds the session
    /// advisory lock [`DELIVERY_LOCK`] on a connection of its own, taken
    /// when free and kept while the process lives (a server that dies lets
    /// it go with its connection, and another takes over). Asked every
    /// round by every lane: the answer is kept for [`LEADER_CHECK`], one
    /// connection tries the lock, and the holder's connection is checked
    /// alive at that pace too.
    pub(crate) fn leads_delivery(&self) -> Result<bool> {
        let mut leader = self
            .delivery_leader
            .lock()
            .map_err(|_| StoreError::Backend("the delivery lock's holder was poisoned".into()))?;
        // A connection seen closed answers at once: the lock went with it.
        let alive = leader.client.as_ref().is_some_and(|c| !c.is_closed());
        if alive
            && leader
                .checked_at
                .is_some_and(|at| at.elapsed() < LEADER_CHECK)
        {
            return Ok(leader.leading);
        }
        leader.checked_at = Some(std::time::Instant::now());
        if leader.client.as_ref().is_none_or(|c| c.is_closed()) {
            leader.leading = false;
            leader.client = Some(self.db.another_client()?);
        }
        let Some(client) = leader.client.as_ref() else {
            return Ok(false);
        };
        // The holder checks its connection is still there: one silently
        // dropped has lost the lock. Bounded: a half-open connection must
        // not stall every lane.
        let leading = leader.leading;
        let asked = self.block_on(async {
            let ask = async {
                match leading {
                    true => client.query_one("SELECT true", &[]).await,
                    false => {
                        client
                            .query_one("SELECT pg_try_advisory_lock($1)", &[&DELIVERY_LOCK])
                            .await
                    }
                }
            };
            tokio::time::timeout(LEADER_CHECK * 5, ask).await
        });
        match asked {
            Ok(Ok(row)) => leader.leading = row.get(0),
            failed => {
                leader.leading = false;
                leader.client = None;
                return Err(match failed {
                    Ok(Err(e)) => crate::backend(e),
                    _ => StoreError::Backend(
                        "the delivery lock's connection did not answer within 5 s".into(),
                    ),
                });
            }
        }
        Ok(leader.leading)
    }

    pub(crate) fn rings(&self) -> u64 {
        self.bell.rings()
    }

    pub(crate) fn wait_rings(&self, seen: u64, timeout: std::time::Duration) -> u64 {
        if let Err(e) = aibomdb_store::Backend::follow_other_writers(self) {
            tracing::warn!(error = %e, "waiting for events without the poll");
        }
        self.bell.wait(seen, timeout)
    }

    /// Runs `work` in a write transaction behind the writers' lock, from
    /// this thread: its statements go to the store's runtime step by step,
    /// so that the event logic can read the transaction between them. When
    /// `work` gives events (`Some`, maybe empty) they are appended to the
    /// outbox and everything commits; `None` rolls back (nothing to write).
    pub(crate) fn write_steps<T>(
        &self,
        work: impl FnOnce(&Transaction<'_>) -> Result<(T, Option<Vec<MatchEvent>>)>,
    ) -> Result<T> {
        let mut writer = self.writer()?;
        let txn = self.block_on(async {
            let txn = crate::txn::begin(&mut writer).await?;
            crate::txn::lock_writers(&txn).await?;
            Ok::<_, StoreError>(txn)
        })?;
        let (value, events) = work(&txn)?;
        let Some(mut events) = events else {
            self.block_on(txn.rollback()).pg()?;
            return Ok(value);
        };
        let generation = self.block_on(async {
            crate::events::append_events(&txn, &mut events).await?;
            let generation = crate::advisories::bump_generation(&txn).await?;
            txn.commit().await.pg()?;
            Ok::<_, StoreError>(generation)
        })?;
        self.committed(Some(generation));
        if !events.is_empty() {
            self.bell.ring();
        }
        Ok(value)
    }

    /// Runs `f` over the committed store as the primary holds it (a write's
    /// VEX verdicts before its change; a replica may lag behind).
    pub(crate) fn with_primary<R>(
        &self,
        f: impl FnOnce(&dyn aibomdb_store::events::EventView) -> Result<R>,
    ) -> Result<R> {
        let client = self.primary_client()?;
        f(&crate::events::PgView::new(self, &*client))
    }

    /// A read connection to the primary: the read connection when there is
    /// no replica (made again if it was lost), else the primary's own, or
    /// one made again and kept.
    fn primary_client(&self) -> Result<crate::store::ReadConnection<'_>> {
        if !self.has_replica() {
            let client = self.client();
            if client.is_closed() {
                let lost = client.epoch();
                drop(client);
                self.block_on(self.reconnect_reads(lost))?;
                return Ok(self.client());
            }
            return Ok(client);
        }
        if !self.db.client.is_closed() {
            return Ok(crate::store::ReadConnection::First(&self.db.client));
        }
        let mut again = self
            .primary_again
            .lock()
            .map_err(|_| StoreError::Backend("the primary's connection was poisoned".into()))?;
        if let Some(c) = again.as_ref().filter(|c| !c.is_closed()) {
            return Ok(crate::store::ReadConnection::Again(0, c.clone()));
        }
        let client = std::sync::Arc::new(self.db.another_client()?);
        *again = Some(client.clone());
        Ok(crate::store::ReadConnection::Again(0, client))
    }

    /// A read of what delivery keeps (targets, cursors, the outbox and the
    /// log), from the primary: a worker that read its cursor from a replica
    /// behind its own last write would send an event again.
    pub(crate) fn primary_rows(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<tokio_postgres::Row>> {
        if !self.has_replica() {
            return self.block_on(self.rows(sql, params));
        }
        let client = self.primary_client()?;
        self.block_on(client.query(sql, params)).pg()
    }

    /// A write of notification bookkeeping (targets, the delivery log, the
    /// outbox's pruning) behind the writers' lock. It raises
    /// `meta.notify_generation`, not the write counter: answers about the
    /// graph stay cached, those about notifications do not
    /// ([`aibomdb_store::Backend::answer_generation`] adds both).
    fn notify_txn<T>(
        &self,
        work: impl AsyncFnOnce(&Transaction<'_>) -> Result<(T, bool)>,
    ) -> Result<T> {
        self.txn_raising(crate::governance::Raises::Notifications, work)
    }

    pub(crate) fn targets(&self) -> Result<Vec<NotifyTarget>> {
        self.primary_rows("SELECT name, target FROM notify_targets ORDER BY name", &[])?
            .iter()
            .map(|r| kit::decode(r.get(1), "notify_targets", r.get(0)))
            .collect()
    }

    pub(crate) fn last_seq(&self) -> Result<u64> {
        let rows = self.primary_rows("SELECT coalesce(max(seq), 0) FROM outbox", &[])?;
        Ok(rows.first().map_or(0, |r| r.get::<_, i64>(0) as u64))
    }

    pub(crate) fn put_target(&self, target: &NotifyTarget) -> Result<()> {
        // Behind the writers' lock: a writer after it records events for it,
        // and its cursor starts after every event committed before.
        self.notify_txn(async |txn| {
            txn.execute(
                "INSERT INTO notify_cursors (target, seq) \
                 SELECT $1, value - 1 FROM meta WHERE key = 'next_event_seq' \
                 ON CONFLICT (target) DO NOTHING",
                &[&target.name],
            )
            .await
            .pg()?;
            txn.execute(
                "INSERT INTO notify_targets (name, target) VALUES ($1, $2) \
                 ON CONFLICT (name) DO UPDATE SET target = EXCLUDED.target",
                &[&target.name, &kit::encode(target)],
            )
            .await
            .pg()?;
            Ok(((), true))
        })
    }

    pub(crate) fn remove_target(&self, name: &str) -> Result<bool> {
        self.notify_txn(async |txn| {
            let removed = txn
                .execute("DELETE FROM notify_targets WHERE name = $1", &[&name])
                .await
                .pg()?
                > 0;
            for sql in [
                "DELETE FROM notify_cursors WHERE target = $1",
                "DELETE FROM deliveries WHERE target = $1",
                "DELETE FROM notify_requeue WHERE target = $1",
            ] {
                txn.execute(sql, &[&name]).await.pg()?;
            }
            Ok((removed, removed))
        })
    }

    pub(crate) fn cursor(&self, target: &str) -> Result<u64> {
        let rows = self.primary_rows(
            "SELECT seq FROM notify_cursors WHERE target = $1",
            &[&target],
        )?;
        Ok(rows.first().map_or(0, |r| r.get::<_, i64>(0) as u64))
    }

    pub(crate) fn outbox_after(&self, seq: u64, limit: usize) -> Result<Vec<MatchEvent>> {
        let rows = self.primary_rows(
            "SELECT seq, event FROM outbox WHERE seq > $1 ORDER BY seq LIMIT $2",
            &[&clamp(seq), &clamp(limit as u64)],
        )?;
        rows.iter()
            .map(|r| decode_event(r.get(1), r.get(0)))
            .collect()
    }

    pub(crate) fn outbox_event(&self, seq: u64) -> Result<Option<MatchEvent>> {
        let rows = self.primary_rows(
            "SELECT seq, event FROM outbox WHERE seq = $1",
            &[&clamp(seq)],
        )?;
        rows.first()
            .map(|r| decode_event(r.get(1), r.get(0)))
            .transpose()
    }

    pub(crate) fn log_delivery(&self, delivery: &Delivery) -> Result<()> {
        self.notify_txn(async |txn| {
            // A target removed while its delivery was in flight keeps no log.
            let exists = txn
                .query_opt(
                    "SELECT 1 FROM notify_targets WHERE name = $1",
                    &[&delivery.target],
                )
                .await
                .pg()?
                .is_some();
            if !exists {
                return Ok(((), false));
            }
            let event = delivery.event as i64;
            txn.execute(
                "INSERT INTO deliveries (target, event, delivery) VALUES ($1, $2, $3) \
                 ON CONFLICT (target, event) DO UPDATE SET delivery = EXCLUDED.delivery",
                &[&delivery.target, &event, &kit::encode(delivery)],
            )
            .await
            .pg()?;
            if delivery.status != "failing" && delivery.status != "queued" {
                // Handled (a dead one too): no longer sent back.
                txn.execute(
                    "DELETE FROM notify_requeue WHERE target = $1 AND event = $2",
                    &[&delivery.target, &event],
                )
                .await
                .pg()?;
                txn.execute(
                    "UPDATE notify_cursors SET seq = greatest(seq, $2) WHERE target = $1",
                    &[&delivery.target, &event],
                )
                .await
                .pg()?;
            }
            Ok(((), true))
        })
    }

    pub(crate) fn prune(&self, before: u64) -> Result<usize> {
        self.notify_txn(async |txn| {
            let targets: Vec<String> = txn
                .query("SELECT name FROM notify_targets", &[])
                .await
                .pg()?
                .iter()
                .map(|r| r.get(0))
                .collect();
            let handled: i64 = match targets.is_empty() {
                true => i64::MAX,
                false => txn
                    .query_one(
                        "SELECT coalesce(min(coalesce(c.seq, 0)), 0) FROM notify_targets t \
                         LEFT JOIN notify_cursors c ON c.target = t.name",
                        &[],
                    )
                    .await
                    .pg()?
                    .get(0),
            };
            // Dead events sent back are still to deliver.
            let queued: HashSet<i64> = txn
                .query("SELECT event FROM notify_requeue", &[])
                .await
                .pg()?
                .iter()
                .map(|r| r.get(0))
                .collect();
            // In pages, so that a long outbox is never read whole.
            let mut gone = Vec::new();
            let mut after = 0i64;
            'pages: loop {
                let page = txn
                    .query(
                        "SELECT seq, event FROM outbox WHERE seq > $1 AND seq <= $2 \
                         ORDER BY seq LIMIT 1000",
                        &[&after, &handled],
                    )
                    .await
                    .pg()?;
                for r in &page {
                    let seq: i64 = r.get(0);
                    after = seq;
                    if decode_event(r.get(1), seq)?.at >= before {
                        // Sequence follows commit order, so later ones are newer.
                        break 'pages;
                    }
                    if !queued.contains(&seq) {
                        gone.push(seq);
                    }
                }
                if page.len() < 1000 {
                    break;
                }
            }
            if gone.is_empty() {
                return Ok((0, false));
            }
            for sql in [
                "DELETE FROM outbox WHERE seq = ANY($1)",
                "DELETE FROM deliveries WHERE event = ANY($1)",
            ] {
                txn.execute(sql, &[&gone]).await.pg()?;
            }
            Ok((gone.len(), true))
        })
    }

    pub(crate) fn delivery_of(&self, target: &str, event: u64) -> Result<Option<Delivery>> {
        let event = clamp(event);
        let rows = self.primary_rows(
            "SELECT delivery FROM deliveries WHERE target = $1 AND event = $2",
            &[&target, &event],
        )?;
        rows.first()
            .map(|r| decode_delivery(r.get(0), target, event))
            .transpose()
    }

    pub(crate) fn delivery_log(&self, target: Option<&str>, limit: usize) -> Result<Vec<Delivery>> {
        let targets: Vec<String> = match target {
            Some(t) => vec![t.to_string()],
            None => self
                .block_on(self.rows("SELECT name FROM notify_targets ORDER BY name", &[]))?
                .iter()
                .map(|r| r.get(0))
                .collect(),
        };
        let mut out = Vec::new();
        for t in &targets {
            for r in self.primary_rows(
                "SELECT event, delivery FROM deliveries WHERE target = $1 \
                 ORDER BY event DESC LIMIT $2",
                &[t, &clamp(limit as u64)],
            )? {
                out.push(decode_delivery(r.get(1), t, r.get(0))?);
            }
        }
        out.sort_by(|a: &Delivery, b| (b.event, &a.target).cmp(&(a.event, &b.target)));
        out.truncate(limit);
        Ok(out)
    }

    pub(crate) fn requeue(&self, target: &str, event: Option<u64>) -> Result<Option<Vec<u64>>> {
        let requeued = self.notify_txn(async |txn| {
            let exists = txn
                .query_opt("SELECT 1 FROM notify_targets WHERE name = $1", &[&target])
                .await
                .pg()?
                .is_some();
            if !exists {
                return Ok((None, false));
            }
            let (from, to) = match event {
                Some(e) => (e as i64, e as i64),
                None => (0, i64::MAX),
            };
            let mut sent_back = Vec::new();
            for r in txn
                .query(
                    "SELECT event, delivery FROM deliveries \
                     WHERE target = $1 AND event BETWEEN $2 AND $3 ORDER BY event",
                    &[&target, &from, &to],
                )
                .await
                .pg()?
            {
                let mut d = decode_delivery(r.get(1), target, r.get(0))?;
                if d.status != "dead" {
                    continue;
                }
                d.status = "queued".into();
                d.attempts = 0;
                d.next_attempt_ms = 0;
                let seq = d.event as i64;
                txn.execute(
                    "UPDATE deliveries SET delivery = $3 WHERE target = $1 AND event = $2",
                    &[&target, &seq, &kit::encode(&d)],
                )
                .await
                .pg()?;
                txn.execute(
                    "INSERT INTO notify_requeue (target, event) VALUES ($1, $2) \
                     ON CONFLICT DO NOTHING",
                    &[&target, &seq],
                )
                .await
                .pg()?;
                sent_back.push(d.event);
            }
            let wrote = !sent_back.is_empty();
            Ok((Some(sent_back), wrote))
        })?;
        if requeued.as_ref().is_some_and(|r| !r.is_empty()) {
            self.bell.ring();
        }
        Ok(requeued)
    }

    pub(crate) fn queued_for(&self, target: &str) -> Result<Vec<u64>> {
        Ok(self
            .block_on(self.rows(
                "SELECT event FROM notify_requeue WHERE target = $1 ORDER BY event",
                &[&target],
            ))?
            .iter()
            .map(|r| r.get::<_, i64>(0) as u64)
            .collect())
    }
}
