//! `aibomdb-bench notify`: continuous operation at estate scale.
//!
//! 1. An incremental feed sync of C changed PyPA records (served over HTTP
//!    on loopback by tests/helpers/osv_export_server.py, laid out like the
//!    OSV export) into a store holding the whole PyPA snapshot and an estate
//!    of N deployments, with a webhook target configured so that every
//!    changed exposure writes an outbox event. Baseline in the same run: the
//!    same change applied by re-downloading the ecosystem's `all.zip`.
//! 2. End-to-end latency from a record change (the advisory load that
//!    commits it) to its first event arriving at a webhook receiver on
//!    loopback, through the delivery worker `serve` runs. Baseline: the
//!    commit alone.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aibomdb_store::{NotifyTarget, Store};
use anyhow::{Context, Result, bail};

use crate::estate::{self, EstateSpec};

pub(crate) fn run(args: &[String]) -> Result<()> {
    let mut spec = EstateSpec {
        deployments: 10_000,
        packages: 300,
        transformers_share: 0.3,
        seed: 42,
    };
    let mut changed = 100usize;
    let mut samples = 30usize;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = || it.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--deployments" => spec.deployments = value()?.parse()?,
            "--packages" => spec.packages = value()?.parse()?,
            "--changed" => changed = value()?.parse()?,
            "--samples" => samples = value()?.parse()?,
            other => bail!("unknown argument {other}"),
        }
    }
    let root = crate::repo_root();
    let pypa = root.join("../shared/corpus/osv/pypa-advisory-database");
    let loaded = aibomdb_osv::load_path(&pypa, &aibomdb_osv::LoadLimits::default())?;
    let mut records: Vec<serde_json::Value> = loaded
        .advisories
        .iter()
        .map(|(_, a)| serde_json::to_value(a))
        .collect::<Result<_, _>>()?;
    let advisories: Vec<_> = loaded.advisories.into_iter().map(|(_, a)| a).collect();
    let pool = estate::name_pool(&advisories);

    let work = tempfile::tempdir_in(root.join("target"))?;
    let db = work.path().join("bench.redb");
    let started = Instant::now();
    let store = Store::open(&db)?;
    estate::build(&store, &spec, &pool)?;
    println!(
        "notify benchmark (release build): {} deployments x {} packages built in {:.1} s; PyPA snapshot: {} records",
        spec.deployments,
        spec.packages,
        started.elapsed().as_secs_f64(),
        records.len()
    );

    // The export, served over HTTP.
    let export = work.path().join("export");
    publish(&export, &records)?;
    let server = FeedServer::start(&export)?;
    let source = aibomdb_feeds::Source::parse(&server.url)?;
    let options = aibomdb_feeds::SyncOptions {
        ecosystems: vec!["PyPI".into()],
        max_individual: changed.max(1),
        ..Default::default()
    };
    let t = Instant::now();
    let first = aibomdb_feeds::sync(&store, &source, &options)?;
    let first_time = t.elapsed();
    println!(
        "  first sync (all.zip, {} records, {} matches): {:>8.1} ms",
        first.ecosystems[0].loaded.added,
        first.ecosystems[0].loaded.matches,
        ms(first_time),
    );

    // The receiver, and a target: from here on changes write events (after
    // the first sync, which would queue an event for every exposure of the estate).
    let receiver = Receiver::start()?;
    store.put_notify_target(&NotifyTarget {
        name: "bench".into(),
        url: format!("http://{}/hook", receiver.addr),
        secret_file: None,
        filter: None,
        format: "json".into(),
        added_at: 0,
    })?;

    // The records to change: those that match something, so that the sync
    // re-matches and writes events, not just rows.
    let matching: Vec<usize> = records
        .iter()
        .enumerate()
        .filter(|(_, r)| {
            let id = r["id"].as_str().unwrap_or_default();
            store
                .matches_for_advisory(id)
                .map(|m| !m.is_empty())
                .unwrap_or(false)
        })
        .map(|(i, _)| i)
        .take(changed)
        .collect();
    if matching.len() < changed {
        bail!("only {} records match the estate", matching.len());
    }
    // Round 1 withdraws the records (every match they had resolves, an
    // event per deployment), round 2 restores them (every match opens again).
    let mut round = 0;
    let mut change = |records: &mut Vec<serde_json::Value>| -> Result<()> {
        round += 1;
        for &i in &matching {
            records[i]["modified"] =
                serde_json::Value::from(format!("2040-01-{round:02}T00:00:00Z"));
            records[i]["summary"] = serde_json::Value::from(format!("revision {round}"));
            if round == 1 {
                records[i]["withdrawn"] = serde_json::Value::from("2040-01-01T00:00:00Z");
            } else if let Some(r) = records[i].as_object_mut() {
                r.remove("withdrawn");
            }
        }
        publish(&export, records)
    };

    change(&mut records)?;
    let before_events = store.last_event_seq()?;
    let t = Instant::now();
    let inc = aibomdb_feeds::sync(&store, &source, &options)?;
    let inc_time = t.elapsed();
    let e = &inc.ecosystems[0];
    println!(
        "  incremental sync of {changed} changed records (withdrawn): {:>8.1} ms ({} requests, {} updated, {} outbox events written)",
        ms(inc_time),
        e.requests,
        e.loaded.updated,
        store.last_event_seq()? - before_events
    );
    change(&mut records)?;
    let full = aibomdb_feeds::SyncOptions {
        max_individual: 0,
        ..options.clone()
    };
    let before_events = store.last_event_seq()?;
    let t = Instant::now();
    let base = aibomdb_feeds::sync(&store, &source, &full)?;
    let base_time = t.elapsed();
    println!(
        "  baseline, the {changed} records restored by re-downloading all.zip: {:>8.1} ms ({} updated, {} unchanged, {} matches, {} outbox events written)",
        ms(base_time),
        base.ecosystems[0].loaded.updated,
        base.ecosystems[0].loaded.unchanged,
        base.ecosystems[0].loaded.matches,
        store.last_event_seq()? - before_events
    );
    println!(
        "  target < 1000 ms for the incremental sync: {}",
        if inc_time < Duration::from_secs(1) {
            "met"
        } else {
            "NOT met"
        }
    );
    drop(server);

    // Latency: a change committed → its first event at the receiver.
    let store = Arc::new(store);
    let stop = Arc::new(AtomicBool::new(false));
    let worker = {
        let (s, f) = (store.clone(), stop.clone());
        std::thread::spawn(move || {
            aibomdb_notify::run_worker(
                s,
                aibomdb_notify::DeliveryOptions::default(),
                Duration::from_millis(25),
                f,
            )
        })
    };
    // Drain what the syncs queued before measuring.
    let queued = store.last_event_seq()?;
    receiver.wait_for(queued, Duration::from_secs(600))?;
    // Records with few matches: one change, a handful of events.
    let mut few: Vec<(usize, usize)> = matching
        .iter()
        .map(|&i| {
            let id = records[i]["id"].as_str().unwrap_or_default().to_string();
            (store.matches_for_advisory(&id).map_or(0, |m| m.len()), i)
        })
        .collect();
    few.sort();
    let mut latencies = Vec::new();
    let mut commits = Vec::new();
    for s in 0..samples {
        let i = few[s % few.len()].1;
        // Withdraw, then restore: each restore opens its matches again.
        for withdraw in [true, false] {
            let mut r = records[i].clone();
            r["modified"] = serde_json::Value::from(format!(
                "2041-{:02}-{:02}T00:00:{:02}Z",
                1 + s / 28,
                1 + s % 28,
                u8::from(!withdraw)
            ));
            if withdraw {
                r["withdrawn"] = serde_json::Value::from("2041-01-01T00:00:00Z");
            } else if let Some(o) = r.as_object_mut() {
                o.remove("withdrawn");
            }
            records[i] = r.clone();
            let advisory: aibomdb_osv::Advisory = serde_json::from_value(r)?;
            let seq = store.last_event_seq()?;
            let t0 = Instant::now();
            aibomdb_osv::load_advisories(&store, &[advisory])?;
            let committed = t0.elapsed();
            let at = receiver.wait_for(seq + 1, Duration::from_secs(60))?;
            if !withdraw {
                latencies.push(at.duration_since(t0));
                commits.push(committed);
            }
            // Let the rest of this change's events drain.
            receiver.wait_for(store.last_event_seq()?, Duration::from_secs(60))?;
        }
    }
    stop.store(true, Ordering::Release);
    let _ = worker.join();
    latencies.sort();
    commits.sort();
    let p = |v: &[Duration], q: f64| ms(v[((v.len() - 1) as f64 * q) as usize]);
    println!(
        "  change → first webhook delivery on loopback ({samples} changes): p50 {:.1} ms, p95 {:.1} ms (target p50 < 100 ms: {})",
        p(&latencies, 0.5),
        p(&latencies, 0.95),
        if p(&latencies, 0.5) < 100.0 {
            "met"
        } else {
            "NOT met"
        }
    );
    println!(
        "  baseline, the change's commit alone: p50 {:.1} ms, p95 {:.1} ms",
        p(&commits, 0.5),
        p(&commits, 0.95)
    );
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Writes the export layout: one JSON per record, `modified_id.csv`, `all.zip`.
fn publish(root: &Path, records: &[serde_json::Value]) -> Result<()> {
    let dir = root.join("PyPI");
    std::fs::create_dir_all(&dir)?;
    let mut rows = Vec::with_capacity(records.len());
    let zip_file = std::fs::File::create(dir.join("all.zip"))?;
    let mut zip = zip::ZipWriter::new(zip_file);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for r in records {
        let id = r["id"].as_str().context("record without id")?;
        let bytes = serde_json::to_vec(r)?;
        let path = dir.join(format!("{id}.json"));
        if std::fs::read(&path).ok().as_deref() != Some(bytes.as_slice()) {
            std::fs::write(&path, &bytes)?;
        }
        zip.start_file(format!("{id}.json"), options)?;
        zip.write_all(&bytes)?;
        rows.push((
            r["modified"].as_str().unwrap_or_default().to_string(),
            id.to_string(),
        ));
    }
    zip.finish()?;
    rows.sort_by(|a, b| b.cmp(a));
    let csv: String = rows.iter().map(|(m, id)| format!("{m},{id}\n")).collect();
    std::fs::write(dir.join("modified_id.csv"), csv)?;
    Ok(())
}

/// tests/helpers/osv_export_server.py over the export.
struct FeedServer {
    child: std::process::Child,
    url: String,
}

impl FeedServer {
    fn start(root: &Path) -> Result<FeedServer> {
        let script = crate::repo_root().join("tests/helpers/osv_export_server.py");
        let mut child = std::process::Command::new("python3")
            .arg(script)
            .arg(root)
            .stdout(std::process::Stdio::piped())
            .spawn()?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().context("stdout")?).read_line(&mut line)?;
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .context("no address from the feed server")?
            .to_string();
        Ok(FeedServer { child, url })
    }
}

impl Drop for FeedServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A webhook receiver on loopback: HTTP/1.1 with keep-alive, answering 204,
/// noting when each event id arrived.
struct Receiver {
    addr: String,
    arrived: Arc<Mutex<Vec<(u64, Instant)>>>,
}

impl Receiver {
    fn start() -> Result<Receiver> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?.to_string();
        let arrived = Arc::new(Mutex::new(Vec::new()));
        let log = arrived.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let log = log.clone();
                std::thread::spawn(move || serve(stream, &log));
            }
        });
        Ok(Receiver { addr, arrived })
    }

    /// Waits until event `seq` (or a later one) has arrived; when it did.
    fn wait_for(&self, seq: u64, timeout: Duration) -> Result<Instant> {
        let until = Instant::now() + timeout;
        loop {
            if seq == 0 {
                return Ok(Instant::now());
            }
            if let Some(at) = self
                .arrived
                .lock()
                .map_err(|_| anyhow::anyhow!("receiver poisoned"))?
                .iter()
                .find(|(s, _)| *s >= seq)
                .map(|(_, at)| *at)
            {
                return Ok(at);
            }
            if Instant::now() > until {
                bail!("event {seq} did not arrive");
            }
            std::thread::sleep(Duration::from_micros(200));
        }
    }
}

fn serve(stream: std::net::TcpStream, log: &Mutex<Vec<(u64, Instant)>>) {
    let mut writer = match stream.try_clone() {
        Ok(w) => w,
        Err(_) => return,
    };
    let mut reader = BufReader::new(stream);
    loop {
        let mut length = 0usize;
        let mut event = 0u64;
        let mut line = String::new();
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            let lower = l.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            } else if let Some(v) = lower.strip_prefix("x-aibomdb-event:") {
                event = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0u8; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        if let Ok(mut l) = log.lock() {
            l.push((event, Instant::now()));
        }
        if writer
            .write_all(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
            .is_err()
        {
            return;
        }
    }
}
