//! Notifications: delivering the store's outbox of match events to webhook
//! targets, at least once, in order per target, with retries and backoff.
//!
//! The store writes each event in the transaction of the change that caused
//! it (`aibomdb-store`'s `notify.rs`); this crate reads events after each
//! target's cursor, enriches them (severity, CVSS score, KEV), applies the
//! target's CEL filter, signs the body with HMAC-SHA256 and POSTs it. A
//! failure is logged with its HTTP status and retried after a backoff that
//! doubles per attempt; the events behind it wait (order is kept). A
//! receiver that refuses an event for good (a 4xx other than 408, 425, 429),
//! or a delivery that fails `max_attempts` times, makes it `dead`: logged,
//! passed, and sent again only when an operator asks (`notify retry`).
//! Targets are served side by side (at most `concurrency` at once), so a
//! slow receiver delays only its own events. Because
//! cursor and log live in the store, a restarted server carries on where it
//! stopped. Receivers deduplicate by the event id (`X-Aibomdb-Event`):
//! an event whose delivery succeeded but was not yet logged when the
//! process died is sent again.

mod filter;

use std::time::Duration;

use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;

use aibomdb_store::{Delivery, MatchEvent, NotifyTarget, Store, StoreError};

pub use filter::{Filter, FilterError, VARIABLES};

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("{0}")]
    BadTarget(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// An event as a target receives it: the change plus what a filter or a
/// person needs to judge it.
#[derive(Debug, Clone, Serialize)]
pub struct Notification {
    /// The event's id; receivers deduplicate by it.
    pub id: u64,
    /// `opened` or `resolved`.
    pub kind: String,
    pub cause: String,
    /// Seconds since the epoch when the change was committed.
    pub at: u64,
    pub deployment: String,
    pub advisory: String,
    pub aliases: Vec<String>,
    pub summary: Option<String>,
    pub package: String,
    pub ecosystem: String,
    /// `critical`, `high`, `medium`, `low`, `none` or `unknown`.
    pub severity: String,
    /// CVSS base score, when the record carries a vector.
    pub score: Option<f64>,
    /// Listed in CISA's Known Exploited Vulnerabilities catalog.
    pub kev: bool,
    /// The highest EPSS score among the advisory's CVEs (0 when none is loaded).
    pub epss: f64,
}

/// Builds the notification for an event from what the store holds now.
pub fn notification(store: &Store, event: &MatchEvent) -> Result<Notification, StoreError> {
    let advisory = store
        .advisory_json(&event.advisory)?
        .and_then(|json| serde_json::from_slice::<aibomdb_osv::Advisory>(&json).ok());
    let (level, score) = advisory
        .as_ref()
        .map_or((aibomdb_osv::Level::Unknown, None), aibomdb_osv::severity);
    let aliases: Vec<String> = advisory
        .as_ref()
        .map(|a| a.aliases.clone())
        .unwrap_or_default();
    let (mut kev, mut epss) = (false, 0.0f64);
    let related = advisory
        .as_ref()
        .map(|a| [a.upstream.clone(), a.related.clone()].concat())
        .unwrap_or_default();
    for cve in std::iter::once(&event.advisory)
        .chain(&aliases)
        .chain(&related)
        .filter(|i| i.starts_with("CVE-"))
    {
        kev = kev || store.kev(cve)?.is_some();
        if let Some(e) = store.epss(cve)? {
            epss = epss.max(e.epss);
        }
    }
    Ok(Notification {
        id: event.seq,
        kind: event.kind.as_str().to_string(),
        cause: event.cause.clone(),
        at: event.at,
        deployment: event.deployment.clone(),
        advisory: event.advisory.clone(),
        aliases,
        summary: advisory.as_ref().and_then(|a| a.summary.clone()),
        package: event.purl.clone(),
        ecosystem: event.ecosystem.clone(),
        severity: level.as_str().to_string(),
        score,
        kev,
        epss,
    })
}

/// The request body for a target's format.
pub fn body(target: &NotifyTarget, n: &Notification) -> Vec<u8> {
    if target.format == "slack" {
        let verb = if n.kind == "opened" {
            "is now exposed to"
        } else {
            "is no longer exposed to"
        };
        let score = n.score.map(|s| format!(" {s:.1}")).unwrap_or_default();
        let kev = if n.kev { ", known exploited (KEV)" } else { "" };
        // Names and summaries come from uploaded documents: escaped as Slack
        // asks, so that `<!channel>` or `<url|text>` in them is plain text.
        let e = slack_escape;
        let text = format!(
            "*{}* {verb} *{}* ({}{score}{kev}) through `{}`{}",
            e(&n.deployment),
            e(&n.advisory),
            n.severity,
            e(&n.package),
            n.summary
                .as_deref()
                .map(|s| format!(": {}", e(s)))
                .unwrap_or_default()
        );
        return serde_json::to_vec(&serde_json::json!({ "text": text })).unwrap_or_default();
    }
    serde_json::to_vec(n).unwrap_or_default()
}

/// Slack's three control characters as entities.
fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// `sha256=<hex>` of HMAC-SHA256(secret, body), as GitHub signs webhooks.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    // HMAC takes a key of any length.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).unwrap_or_else(|_| unreachable!());
    mac.update(body);
    let bytes = mac.finalize().into_bytes();
    let mut hex = String::with_capacity(71);
    hex.push_str("sha256=");
    for b in bytes {
        hex.push_str(&format!("{b:02x}"));
    }
    hex
}

/// Checks a target before it is stored: the URL, the secret file, the filter.
pub fn check_target(target: &NotifyTarget) -> Result<(), NotifyError> {
    // The name goes into a header (`X-Aibomdb-Target`).
    if target.name.is_empty()
        || !target
            .name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    {
        return Err(NotifyError::BadTarget(format!(
            "target name {:?}: letters, digits, '.', '_' and '-' only",
            target.name
        )));
    }
    if !(target.url.starts_with("http://") || target.url.starts_with("https://")) {
        return Err(NotifyError::BadTarget(format!(
            "--url {:?}: an http:// or https:// URL is needed",
            target.url
        )));
    }
    if !["json", "slack"].contains(&target.format.as_str()) {
        return Err(NotifyError::BadTarget(format!(
            "--body {:?}: json or slack",
            target.format
        )));
    }
    if let Some(f) = &target.secret_file {
        read_secret(f).map_err(NotifyError::BadTarget)?;
    }
    if let Some(expr) = &target.filter {
        Filter::parse(expr).map_err(|e| NotifyError::BadTarget(format!("--filter: {e}")))?;
    }
    Ok(())
}

/// The first line of a secret file (never logged).
fn read_secret(path: &str) -> Result<Vec<u8>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("--secret-file {path}: {e}"))?;
    let secret = text.lines().next().unwrap_or_default().trim();
    if secret.len() < 16 {
        return Err(format!(
            "--secret-file {path}: the secret must be at least 16 characters"
        ));
    }
    Ok(secret.as_bytes().to_vec())
}

/// How deliveries are made.
#[derive(Debug, Clone)]
pub struct DeliveryOptions {
    /// First retry delay; it doubles per failed attempt up to `max_backoff`.
    pub backoff: Duration,
    pub max_backoff: Duration,
    /// Longest one POST may take.
    pub timeout: Duration,
    /// Most events sent per target per round.
    pub batch: usize,
    /// How long events every target has handled stay in the outbox (for
    /// the delivery log and subscriptions that resume with `after`).
    pub retention: Duration,
    /// Attempts after which a failing delivery is `dead` (the cursor moves
    /// on; `notify retry` sends it back).
    pub max_attempts: u32,
    /// Targets served at once in a round (each target's events in order).
    pub concurrency: usize,
}

/// How often the worker prunes the outbox.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

impl Default for DeliveryOptions {
    fn default() -> Self {
        DeliveryOptions {
            backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(3600),
            timeout: Duration::from_secs(10),
            batch: 256,
            retention: Duration::from_secs(7 * 24 * 3600),
            max_attempts: 20,
            concurrency: 8,
        }
    }
}

/// What one round of delivery did.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct RoundReport {
    pub delivered: usize,
    pub filtered: usize,
    pub failed: usize,
    /// Deliveries given up (refused for good, or out of attempts).
    pub dead: usize,
    /// Targets whose next attempt is not due yet.
    pub waiting: usize,
    /// Nothing was sent: another process delivers (it holds the delivery
    /// lock of a shared database).
    pub delivered_elsewhere: bool,
}

impl RoundReport {
    fn add(&mut self, other: &RoundReport) {
        self.delivered += other.delivered;
        self.filtered += other.filtered;
        self.failed += other.failed;
        self.dead += other.dead;
        self.waiting += other.waiting;
    }
}

/// Whether an HTTP status refuses an event for good: a 4xx other than 408
/// (timeout), 425 (too early) and 429 (too many requests), which a retry can
/// get past.
pub fn permanent(status: u16) -> bool {
    (400..500).contains(&status) && !matches!(status, 408 | 425 | 429)
}

/// Sends what is due, to every target, once. Returns what it did.
pub fn deliver_round(
    store: &Store,
    agent: &ureq::Agent,
    options: &DeliveryOptions,
) -> Result<RoundReport, NotifyError> {
    if !store.lead_delivery()? {
        return Ok(RoundReport {
            delivered_elsewhere: true,
            ..RoundReport::default()
        });
    }
    let targets = store.notify_targets()?;
    let workers = options.concurrency.clamp(1, targets.len().max(1));
    // Targets are served side by side, so that a slow or unreachable
    // receiver holds back only its own events.
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<Result<RoundReport, NotifyError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut report = RoundReport::default();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(target) = targets.get(i) else {
                            return Ok(report);
                        };
                        deliver_requeued(store, agent, options, target, &mut report)?;
                        deliver_target(store, agent, options, target, &mut report)?;
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    let mut report = RoundReport::default();
    for r in results {
        report.add(&r?);
    }
    Ok(report)
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn deliver_target(
    store: &Store,
    agent: &ureq::Agent,
    options: &DeliveryOptions,
    target: &NotifyTarget,
    report: &mut RoundReport,
) -> Result<(), NotifyError> {
    let cursor = store.notify_cursor(&target.name)?;
    let events = store.events_after(cursor, options.batch)?;
    if events.is_empty() {
        return Ok(());
    }
    // A filter that no longer compiles (stored by an older version) fails
    // each event visibly in the log rather than dropping it.
    let filter = target.filter.as_deref().map(Filter::parse).transpose();
    for event in events {
        let previous = store.delivery(&target.name, event.seq)?;
        let attempts = previous.as_ref().map_or(0, |d| d.attempts);
        if let Some(d) = &previous
            && d.status == "failing"
            && d.next_attempt_ms > now_ms()
        {
            report.waiting += 1;
            return Ok(());
        }
        let n = notification(store, &event)?;
        let mut delivery = Delivery {
            target: target.name.clone(),
            event: event.seq,
            status: String::new(),
            attempts,
            last_attempt_ms: now_ms(),
            next_attempt_ms: 0,
            http_status: None,
            error: None,
        };
        let wanted = match &filter {
            Ok(Some(f)) => f.matches(&n),
            Ok(None) => Ok(true),
            Err(e) => Err(e.to_string()),
        };
        match wanted {
            Ok(false) => {
                delivery.status = "filtered".into();
                store.record_delivery(&delivery)?;
                report.filtered += 1;
                continue;
            }
            Ok(true) => {}
            // The filter cannot judge this event (`aliases[0]` of an event
            // without aliases): a retry would fail the same way and hold
            // every later event back. Logged as an error, and passed.
            Err(e) => {
                delivery.status = "error".into();
                delivery.error = Some(format!("filter: {e}"));
                tracing::warn!(target = %target.name, event = event.seq, error = %e, "filter failed; event not sent");
                store.record_delivery(&delivery)?;
                report.failed += 1;
                continue;
            }
        }
        if attempt(store, agent, options, target, &n, &mut delivery)? {
            report.delivered += 1;
            continue;
        }
        if give_up(options, &mut delivery) {
            // Dead: the cursor moves on and the events behind it go.
            store.record_delivery(&delivery)?;
            report.dead += 1;
            continue;
        }
        store.record_delivery(&delivery)?;
        report.failed += 1;
        return Ok(());
    }
    Ok(())
}

/// After a failed attempt: `dead` when the receiver refused the event for
/// good or the attempts are used up (true), else `failing` with the next
/// attempt after a backoff that doubles per attempt.
fn give_up(options: &DeliveryOptions, delivery: &mut Delivery) -> bool {
    let refused = delivery.http_status.is_some_and(permanent);
    if refused || delivery.attempts >= options.max_attempts.max(1) {
        delivery.status = "dead".into();
        delivery.next_attempt_ms = 0;
        tracing::warn!(
            target = %delivery.target,
            event = delivery.event,
            attempts = delivery.attempts,
            error = delivery.error.as_deref().unwrap_or(""),
            "notification dead: not retried until `notify retry`"
        );
        return true;
    }
    let shift = delivery.attempts.saturating_sub(1).min(30);
    let wait = options
        .backoff
        .saturating_mul(1u32 << shift)
        .min(options.max_backoff);
    delivery.status = "failing".into();
    delivery.next_attempt_ms = now_ms() + wait.as_millis() as u64;
    tracing::warn!(
        target = %delivery.target,
        event = delivery.event,
        attempts = delivery.attempts,
        error = delivery.error.as_deref().unwrap_or(""),
        "notification not delivered; will retry"
    );
    false
}

/// Dead deliveries sent back with `notify retry`: each on its own (they are
/// behind the cursor already, so nothing waits for them), not filtered again.
fn deliver_requeued(
    store: &Store,
    agent: &ureq::Agent,
    options: &DeliveryOptions,
    target: &NotifyTarget,
    report: &mut RoundReport,
) -> Result<(), NotifyError> {
    for seq in store.requeued(&target.name)? {
        let Some(mut delivery) = store.delivery(&target.name, seq)? else {
            continue;
        };
        if delivery.status == "failing" && delivery.next_attempt_ms > now_ms() {
            report.waiting += 1;
            continue;
        }
        delivery.last_attempt_ms = now_ms();
        delivery.http_status = None;
        delivery.error = None;
        let Some(event) = store.event(seq)? else {
            delivery.status = "dead".into();
            delivery.error = Some("the event is no longer in the outbox".into());
            store.record_delivery(&delivery)?;
            report.dead += 1;
            continue;
        };
        let n = notification(store, &event)?;
        if attempt(store, agent, options, target, &n, &mut delivery)? {
            report.delivered += 1;
            continue;
        }
        if give_up(options, &mut delivery) {
            report.dead += 1;
        } else {
            report.failed += 1;
        }
        store.record_delivery(&delivery)?;
    }
    Ok(())
}

/// One attempt at `n`: true (and the delivery recorded as delivered) when
/// the receiver took it; otherwise `delivery` says why not, for the caller
/// to give up or schedule the next attempt.
fn attempt(
    store: &Store,
    agent: &ureq::Agent,
    options: &DeliveryOptions,
    target: &NotifyTarget,
    n: &Notification,
    delivery: &mut Delivery,
) -> Result<bool, NotifyError> {
    delivery.attempts += 1;
    match post(agent, options, target, n) {
        Ok(status) if (200..300).contains(&status) => {
            delivery.status = "delivered".into();
            delivery.http_status = Some(status);
            store.record_delivery(delivery)?;
            return Ok(true);
        }
        Ok(status) => {
            delivery.http_status = Some(status);
            delivery.error = Some(format!("HTTP {status}"));
        }
        Err(e) => delivery.error = Some(e),
    }
    Ok(false)
}

/// POSTs one notification; the HTTP status, or why there was none.
fn post(
    agent: &ureq::Agent,
    options: &DeliveryOptions,
    target: &NotifyTarget,
    n: &Notification,
) -> Result<u16, String> {
    let body = body(target, n);
    let mut request = agent
        .post(&target.url)
        .config()
        .timeout_global(Some(options.timeout))
        .build()
        .header("Content-Type", "application/json")
        .header("X-Aibomdb-Event", n.id.to_string())
        .header("X-Aibomdb-Target", target.name.as_str());
    if let Some(path) = &target.secret_file {
        let secret = read_secret(path)?;
        request = request.header("X-Aibomdb-Signature-256", signature(&secret, &body));
    }
    let response = request.send(&body[..]).map_err(|e| e.to_string())?;
    Ok(response.status().as_u16())
}

/// An HTTP agent for deliveries: statuses are answers, not errors.
pub fn agent() -> ureq::Agent {
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_connect(Some(Duration::from_secs(5)))
        .max_redirects(0)
        .user_agent(concat!("aibomdb/", env!("CARGO_PKG_VERSION")))
        .build();
    ureq::Agent::new_with_config(config)
}

/// Delivers in the background until `stop` is set: a round as soon as this
/// process commits events, and at least every `poll`. Targets are spread over
/// `concurrency` lanes (by a hash of the name, so a target stays on its
/// lane), each lane a thread with its own rounds: a receiver that hangs until
/// the timeout holds back only the targets of its lane, never the rest.
pub fn run_worker(
    store: std::sync::Arc<Store>,
    options: DeliveryOptions,
    poll: Duration,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) {
    let lanes = options.concurrency.max(1);
    std::thread::scope(|scope| {
        for lane in 0..lanes {
            let (store, options, stop) = (&store, &options, &stop);
            scope.spawn(move || run_lane(store, options, poll, stop, lane, lanes));
        }
    });
}

/// The lane a target is delivered on (FNV-1a of its name).
fn lane_of(name: &str, lanes: usize) -> usize {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    (h % lanes as u64) as usize
}

fn run_lane(
    store: &Store,
    options: &DeliveryOptions,
    poll: Duration,
    stop: &std::sync::atomic::AtomicBool,
    lane: usize,
    lanes: usize,
) {
    let agent = agent();
    // Pruned at start, then hourly: a server restarted often still prunes.
    let mut pruned_at = std::time::Instant::now()
        .checked_sub(PRUNE_EVERY)
        .unwrap_or_else(std::time::Instant::now);
    while !stop.load(std::sync::atomic::Ordering::Acquire) {
        // Over a shared database one process delivers; the others wait to
        // take over (its connection ends when it does).
        match store.lead_delivery() {
            Ok(true) => {}
            Ok(false) => {
                std::thread::sleep(poll);
                continue;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot tell which process delivers notifications");
                std::thread::sleep(poll);
                continue;
            }
        }
        if lane == 0 && pruned_at.elapsed() >= PRUNE_EVERY {
            pruned_at = std::time::Instant::now();
            let before = (now_ms() / 1000).saturating_sub(options.retention.as_secs());
            match store.prune_outbox(before) {
                Ok(0) => {}
                Ok(n) => tracing::info!(events = n, "outbox pruned"),
                Err(e) => tracing::warn!(error = %e, "outbox pruning failed"),
            }
        }
        let rings = store.event_rings();
        let mut report = RoundReport::default();
        match store.notify_targets() {
            Ok(targets) => {
                for target in targets.iter().filter(|t| lane_of(&t.name, lanes) == lane) {
                    if let Err(e) = deliver_requeued(store, &agent, options, target, &mut report)
                        .and_then(|()| deliver_target(store, &agent, options, target, &mut report))
                    {
                        tracing::warn!(target = %target.name, error = %e, "notification delivery round failed");
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "notification targets unreadable"),
        }
        // Events moved past: more may be waiting behind a full batch.
        if report.delivered + report.filtered + report.dead > 0 {
            continue;
        }
        // Woken at once by a commit in this process; `poll` bounds the wait
        // for retries that fall due and for events written by another process.
        store.wait_for_events(rings, poll);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_4xx_a_retry_cannot_get_past_is_permanent() {
        for status in [400, 401, 403, 404, 410, 413, 422, 451] {
            assert!(permanent(status), "{status}");
        }
        for status in [200, 204, 301, 408, 425, 429, 500, 502, 503, 504] {
            assert!(!permanent(status), "{status}");
        }
    }

    #[test]
    fn signature_matches_rfc4231_case_2() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn slack_bodies_escape_what_documents_bring() {
        let target = NotifyTarget {
            name: "s".into(),
            url: "http://127.0.0.1:9/".into(),
            secret_file: None,
            filter: None,
            format: "slack".into(),
            added_at: 0,
        };
        let n = Notification {
            id: 1,
            kind: "opened".into(),
            cause: "ingest".into(),
            at: 0,
            deployment: "<!channel>".into(),
            advisory: "PYSEC-1".into(),
            aliases: Vec::new(),
            summary: Some("<https://evil.example|click> & more".into()),
            package: "pkg:pypi/x@1".into(),
            ecosystem: "PyPI".into(),
            severity: "high".into(),
            score: None,
            kev: false,
            epss: 0.0,
        };
        let body: serde_json::Value = serde_json::from_slice(&body(&target, &n)).unwrap();
        let text = body["text"].as_str().unwrap();
        assert!(text.contains("&lt;!channel&gt;"), "{text}");
        assert!(
            text.contains("&lt;https://evil.example|click&gt; &amp; more"),
            "{text}"
        );
        assert!(!text.contains('<'), "{text}");
    }
}
