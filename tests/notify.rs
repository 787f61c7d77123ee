//! Webhook notifications, end to end: events written with the change that
//! caused them (an advisory load, an ingest), delivered by `aibomdb serve`
//! to a real receiver on loopback that verifies the HMAC signature. The
//! receiver is down at first, then up but failing, and the server is
//! restarted in between: every event still arrives, each id delivered once.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::webhook::{Receiver, free_port};
use common::{Server, aibomdb, corpus, json, stderr};
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/lockfiles/d-image-service")
}

fn run_ok(db: &Path, args: &[&str]) -> String {
    let out = aibomdb(db, args);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn events(db: &Path) -> Vec<aibomdb_store::MatchEvent> {
    common::open(db).events_after(0, 10_000).unwrap()
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn every_event_reaches_a_receiver_that_was_down_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    let reqs = dir.path().join("requirements.txt");
    std::fs::copy(fixtures().join("requirements.txt"), &reqs).unwrap();
    run_ok(
        &db,
        &["ingest", "--deployment", "svc", reqs.to_str().unwrap()],
    );
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let alpine = examples.join("alpine-spdx-syft0.57.json");
    run_ok(
        &db,
        &["ingest", "--deployment", "alpine", alpine.to_str().unwrap()],
    );
    let secret = dir.path().join("hook.secret");
    std::fs::write(&secret, "a-shared-secret-of-some-length\n").unwrap();
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    run_ok(
        &db,
        &[
            "notify",
            "add",
            "hook",
            "--url",
            &format!("{url}/hook"),
            "--secret-file",
            secret.to_str().unwrap(),
        ],
    );
    run_ok(
        &db,
        &[
            "notify",
            "add",
            "one-advisory",
            "--url",
            &format!("{url}/filtered"),
            "--secret-file",
            secret.to_str().unwrap(),
            "--filter",
            r#"advisory == "PYSEC-2023-175" && ecosystem == "PyPI""#,
        ],
    );
    // No event before a target existed; the load records one per new exposure.
    assert!(events(&db).is_empty());
    let pillow = corpus().join("osv/pypa-advisory-database/vulns/pillow");
    let musl = examples.join("advisories/ALPINE-CVE-2025-26519.json");
    run_ok(
        &db,
        &[
            "advisories",
            "load",
            pillow.to_str().unwrap(),
            musl.to_str().unwrap(),
        ],
    );
    let opened = events(&db);
    // One event per (deployment, advisory, package) that the load exposed:
    // as many as `match` lists affected rows.
    let matched = json(&aibomdb(&db, &["match", "--format", "json"]));
    let affected = matched
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == "affected")
        .count();
    assert_eq!(opened.len(), affected, "{opened:?}");
    assert!(
        opened
            .iter()
            .all(|e| e.kind == aibomdb_store::EventKind::Opened && e.cause == "advisory")
    );
    assert!(opened.iter().any(|e| e.deployment == "svc"
        && e.advisory == "PYSEC-2023-175"
        && e.purl == "pkg:pypi/pillow@10.0.0"));
    assert!(opened.iter().any(|e| e.deployment == "alpine"
        && e.advisory == "ALPINE-CVE-2025-26519"
        && e.ecosystem.starts_with("Alpine")));

    // Pruning keeps what a target has still to deliver, however old.
    let store = common::open(&db);
    assert_eq!(store.prune_outbox(u64::MAX).unwrap(), 0);
    drop(store);

    // The receiver is down: the server tries, logs failures, backs off.
    let server = Server::start(&db, &["--notify-backoff", "0.1"]);
    let log = |server: &Server| -> Value {
        let (status, v) = common::graphql(
            &server.addr,
            None,
            "{ deliveries(limit: 1000) { target event status attempts httpStatus error } }",
            serde_json::json!({}),
        );
        assert_eq!(status, 200, "{v}");
        v["data"]["deliveries"].clone()
    };
    wait_for("a failed attempt", || {
        log(&server)
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["status"] == "failing" && d["attempts"].as_u64() >= Some(2))
    });
    server.stop();

    // Up, but answering 503 to its first two requests; the server restarted.
    let out = dir.path().join("received.jsonl");
    let receiver = Receiver::start(port, &secret, &out, 2);
    let server = Server::start(&db, &["--notify-backoff", "0.1"]);
    let all: BTreeSet<u64> = opened.iter().map(|e| e.seq).collect();
    wait_for("every event", || {
        receiver
            .accepted("/hook")
            .into_iter()
            .collect::<BTreeSet<_>>()
            == all
    });
    // The receiver notes a request before it answers: wait for the server
    // to log each delivery too, or stopping it could resend one later.
    wait_for("the hook's log", || {
        log(&server)
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["target"] == "hook" && d["status"] == "delivered")
            .count()
            == all.len()
    });
    wait_for("the filtered target", || {
        !receiver.accepted("/filtered").is_empty()
            && log(&server)
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| d["target"] == "one-advisory" && d["status"] != "failing")
                .count()
                == all.len()
    });
    // Each id once: nothing was delivered twice.
    let hook = receiver.accepted("/hook");
    assert_eq!(hook.len(), all.len(), "{hook:?}");
    // Only the advisory the filter names passed it; the rest are logged as filtered.
    let passed: Vec<Value> = receiver
        .requests()
        .into_iter()
        .filter(|r| r["path"] == "/filtered" && r["status"] == 204)
        .collect();
    assert_eq!(passed.len(), 1, "{passed:?}");
    assert_eq!(passed[0]["body"]["advisory"], "PYSEC-2023-175");
    assert_eq!(passed[0]["body"]["kind"], "opened");
    assert_eq!(passed[0]["body"]["deployment"], "svc");
    assert_eq!(passed[0]["body"]["package"], "pkg:pypi/pillow@10.0.0");
    let first = log(&server)
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["target"] == "hook" && d["event"] == *all.first().unwrap())
        .cloned()
        .unwrap();
    assert_eq!(first["status"], "delivered", "{first}");
    assert!(first["attempts"].as_u64().unwrap() >= 3, "{first}");
    server.stop();

    // The upgrade ends the exposure: an ingest records `resolved` events,
    // delivered here by one CLI round.
    let last = events(&db).last().unwrap().seq;
    std::fs::copy(fixtures().join("upgraded/requirements.txt"), &reqs).unwrap();
    run_ok(
        &db,
        &["ingest", "--deployment", "svc", reqs.to_str().unwrap()],
    );
    let new: Vec<_> = events(&db).into_iter().filter(|e| e.seq > last).collect();
    assert!(new.iter().any(|e| e.advisory == "PYSEC-2023-175"
        && e.cause == "ingest"
        && e.purl == "pkg:pypi/pillow@10.0.0"));
    let round = json(&aibomdb(&db, &["notify", "deliver", "--format", "json"]));
    let named = new
        .iter()
        .filter(|e| e.advisory == "PYSEC-2023-175")
        .count();
    assert_eq!(
        round["delivered"].as_u64().unwrap() as usize,
        new.len() + named,
        "{round}"
    );
    let got = receiver.requests();
    assert!(got.iter().any(|r| r["path"] == "/hook"
        && r["body"]["kind"] == "resolved"
        && r["body"]["advisory"] == "PYSEC-2023-175"));

    // Every target has handled every event: pruning takes them all, with
    // their delivery log; a cutoff before them takes none.
    let store = common::open(&db);
    let held = store.events_after(0, 100_000).unwrap();
    assert_eq!(store.prune_outbox(held[0].at).unwrap(), 0);
    assert_eq!(store.prune_outbox(u64::MAX).unwrap(), held.len());
    assert!(store.events_after(0, 10).unwrap().is_empty());
    assert!(store.deliveries(None, 10).unwrap().is_empty());
}

#[test]
fn targets_are_checked_before_they_are_stored() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    let short = dir.path().join("short.secret");
    std::fs::write(&short, "short\n").unwrap();
    for (args, needle) in [
        (vec!["--url", "ftp://example.org/x"], "http"),
        (
            vec![
                "--url",
                "http://127.0.0.1:9/x",
                "--filter",
                "sevirity == 'high'",
            ],
            "unknown variable",
        ),
        (
            vec!["--url", "http://127.0.0.1:9/x", "--filter", "severity =="],
            "filter",
        ),
        (
            vec![
                "--url",
                "http://127.0.0.1:9/x",
                "--secret-file",
                short.to_str().unwrap(),
            ],
            "16 characters",
        ),
        (
            vec!["--url", "http://127.0.0.1:9/x", "--body", "xml"],
            "json or slack",
        ),
    ] {
        let mut all = vec!["notify", "add", "t"];
        all.extend(args.iter().copied());
        let out = aibomdb(&db, &all);
        assert_eq!(out.status.code(), Some(2), "{all:?}");
        assert!(stderr(&out).contains(needle), "{all:?}: {}", stderr(&out));
    }
    let list = json(&aibomdb(&db, &["notify", "list", "--format", "json"]));
    assert_eq!(list, serde_json::json!([]));
}

/// A GraphQL subscription over a real WebSocket client (tungstenite,
/// graphql-transport-ws): a record that arrives by the server's own feed
/// sync, and a document uploaded through the API, each reach the open
/// subscription as an event. Without the read token the connection is refused.
#[test]
fn subscription_streams_matches_from_sync_and_upload() {
    use common::osv_export::{Export, records_of};
    use tungstenite::Message;

    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    run_ok(
        &db,
        &[
            "ingest",
            "--deployment",
            "svc",
            fixtures().join("requirements.txt").to_str().unwrap(),
        ],
    );
    let mut export = Export {
        root: dir.path().join("export"),
        records: records_of(&["pillow"]),
    };
    let mut fix = export.records.remove("PYSEC-2023-175").unwrap();
    // As the export would list it: modified after everything synced before.
    fix["modified"] = Value::from("2030-01-01T00:00:00Z");
    export.publish();
    let (read, write) = ("read-token-0123456789", "write-token-0123456789");
    let server = Server::start(
        &db,
        &[
            "--read-token",
            read,
            "--write-token",
            write,
            "--sync-source",
            export.root.to_str().unwrap(),
            "--sync-ecosystem",
            "PyPI",
            "--sync-interval",
            "0.2",
        ],
    );
    let connect = |token: Option<&str>| {
        let request = tungstenite::ClientRequestBuilder::new(
            format!("ws://{}/graphql/ws", server.addr).parse().unwrap(),
        )
        .with_sub_protocol("graphql-transport-ws");
        let (mut socket, _) = tungstenite::connect(request).expect("websocket");
        // A test fails rather than hangs when an answer does not come.
        if let tungstenite::stream::MaybeTlsStream::Plain(s) = socket.get_mut() {
            s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        }
        let payload = match token {
            Some(t) => serde_json::json!({"authorization": format!("Bearer {t}")}),
            None => serde_json::json!({}),
        };
        socket
            .send(Message::text(
                serde_json::json!({"type": "connection_init", "payload": payload}).to_string(),
            ))
            .unwrap();
        socket
    };
    // No token: the server closes the connection instead of acknowledging.
    let mut refused = connect(None);
    let answer = refused.read();
    assert!(
        match &answer {
            Ok(Message::Text(t)) => !t.contains("connection_ack"),
            _ => true,
        },
        "{answer:?}"
    );

    let mut socket = connect(Some(read));
    let ack: Value = match socket.read().unwrap() {
        Message::Text(t) => serde_json::from_str(&t).unwrap(),
        other => panic!("{other:?}"),
    };
    assert_eq!(ack["type"], "connection_ack", "{ack}");
    socket
        .send(Message::text(
            serde_json::json!({
                "id": "1",
                "type": "subscribe",
                "payload": {"query": "subscription { matchEvents { id kind cause deployment advisory package } }"}
            })
            .to_string(),
        ))
        .unwrap();
    let mut next = || -> Value {
        loop {
            match socket.read().unwrap() {
                Message::Text(t) => {
                    let v: Value = serde_json::from_str(&t).unwrap();
                    if v["type"] == "next" {
                        return v["payload"]["data"]["matchEvents"].clone();
                    }
                    assert_ne!(v["type"], "error", "{v}");
                }
                Message::Ping(_) | Message::Pong(_) => {}
                other => panic!("{other:?}"),
            }
        }
    };
    // The first syncs (every 0.2 s) found nothing for svc; now the feed gets
    // the record that affects its Pillow 10.0.0.
    std::thread::sleep(Duration::from_millis(500));
    export.records.insert("PYSEC-2023-175".into(), fix);
    export.publish();
    let event = next();
    assert_eq!(event["kind"], "opened", "{event}");
    assert_eq!(event["cause"], "sync");
    assert_eq!(event["deployment"], "svc");
    assert_eq!(event["advisory"], "PYSEC-2023-175");

    // An upload through the API: another deployment with the same pin.
    let body = std::fs::read_to_string(fixtures().join("requirements.txt")).unwrap();
    let (status, v) = common::graphql(
        &server.addr,
        Some(write),
        "mutation($c: String!) { ingestDocument(deployment: \"svc2\", fileName: \"requirements.txt\", content: $c) { document } }",
        serde_json::json!({"c": body}),
    );
    assert_eq!(status, 200, "{v}");
    assert!(v.get("errors").is_none(), "{v}");
    let event = next();
    assert_eq!(event["cause"], "ingest", "{event}");
    assert_eq!(event["deployment"], "svc2");
    assert_eq!(event["advisory"], "PYSEC-2023-175");
    assert_eq!(event["package"], "pkg:pypi/pillow@10.0.0");
}

/// A store with two deployments and, once `targets` are added, the events of
/// an advisory load: Pillow's PyPA records and one Alpine record against the
/// requirements of d-image-service and syft's SPDX of Alpine.
fn store_with_events(dir: &Path, targets: &[(&str, String)]) -> (common::TestDb, PathBuf) {
    std::fs::create_dir_all(dir).unwrap();
    let db = common::db_in(dir);
    let reqs = dir.join("requirements.txt");
    std::fs::copy(fixtures().join("requirements.txt"), &reqs).unwrap();
    run_ok(
        &db,
        &["ingest", "--deployment", "svc", reqs.to_str().unwrap()],
    );
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let alpine = examples.join("alpine-spdx-syft0.57.json");
    run_ok(
        &db,
        &["ingest", "--deployment", "alpine", alpine.to_str().unwrap()],
    );
    let secret = dir.join("hook.secret");
    std::fs::write(&secret, "a-shared-secret-of-some-length\n").unwrap();
    for (name, url) in targets {
        run_ok(
            &db,
            &[
                "notify",
                "add",
                name,
                "--url",
                url,
                "--secret-file",
                secret.to_str().unwrap(),
            ],
        );
    }
    let pillow = corpus().join("osv/pypa-advisory-database/vulns/pillow");
    let musl = examples.join("advisories/ALPINE-CVE-2025-26519.json");
    run_ok(
        &db,
        &[
            "advisories",
            "load",
            pillow.to_str().unwrap(),
            musl.to_str().unwrap(),
        ],
    );
    (db, secret)
}

fn log_of(db: &Path) -> Vec<Value> {
    json(&aibomdb(
        db,
        &["notify", "log", "--limit", "1000", "--format", "json"],
    ))
    .as_array()
    .unwrap()
    .clone()
}

/// A receiver that answers 410 Gone refuses the event for good: after one
/// attempt its delivery is `dead` (in the log, with the status) and the
/// events behind it are delivered; `notify retry` sends it again once the
/// receiver takes it. A receiver that keeps failing with 503 is retried up
/// to `--max-attempts`, then dead too.
#[test]
fn a_refused_delivery_is_dead_and_retry_sends_it_again() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let (db, secret) = store_with_events(
        dir.path(),
        &[("hook", format!("http://127.0.0.1:{port}/hook"))],
    );
    let all: Vec<u64> = events(&db).iter().map(|e| e.seq).collect();
    assert!(all.len() >= 3, "{all:?}");
    let receiver =
        Receiver::start_failing_with(port, &secret, &dir.path().join("got.jsonl"), 1, 410);
    let round = json(&aibomdb(&db, &["notify", "deliver", "--format", "json"]));
    assert_eq!(round["dead"], 1, "{round}");
    assert_eq!(round["delivered"].as_u64().unwrap() as usize, all.len() - 1);
    let log = log_of(&db);
    // Newest event first.
    let order: Vec<u64> = log.iter().map(|d| d["event"].as_u64().unwrap()).collect();
    assert_eq!(order, all.iter().rev().copied().collect::<Vec<_>>());
    let dead = log.iter().find(|d| d["event"] == all[0]).unwrap();
    assert_eq!(
        (&dead["status"], &dead["attempts"], &dead["http_status"]),
        (&Value::from("dead"), &Value::from(1), &Value::from(410)),
        "{dead}"
    );
    assert_eq!(receiver.accepted("/hook"), all[1..].to_vec());
    // Nothing is due: a dead delivery is not retried by itself.
    let round = json(&aibomdb(&db, &["notify", "deliver", "--format", "json"]));
    assert_eq!(
        (round["delivered"].as_u64(), round["failed"].as_u64()),
        (Some(0), Some(0))
    );

    // Sent back: delivered once, now that the receiver takes it.
    let unknown = aibomdb(&db, &["notify", "retry", "nobody"]);
    assert_eq!(unknown.status.code(), Some(2), "{}", stderr(&unknown));
    let not_dead = aibomdb(
        &db,
        &["notify", "retry", "hook", "--event", &all[1].to_string()],
    );
    assert_eq!(not_dead.status.code(), Some(2), "{}", stderr(&not_dead));
    run_ok(
        &db,
        &["notify", "retry", "hook", "--event", &all[0].to_string()],
    );
    let queued = log_of(&db);
    assert_eq!(
        queued.iter().find(|d| d["event"] == all[0]).unwrap()["status"],
        "queued"
    );
    let round = json(&aibomdb(&db, &["notify", "deliver", "--format", "json"]));
    assert_eq!(
        (round["delivered"].as_u64(), round["dead"].as_u64()),
        (Some(1), Some(0)),
        "{round}"
    );
    let mut got = receiver.accepted("/hook");
    got.sort_unstable();
    assert_eq!(got, all);
    let log = log_of(&db);
    assert!(log.iter().all(|d| d["status"] == "delivered"), "{log:?}");
    let round = json(&aibomdb(&db, &["notify", "deliver", "--format", "json"]));
    assert_eq!(round["delivered"], 0, "{round}");
    drop(receiver);

    // 503 is worth retrying: failing until the attempts run out.
    let port = free_port();
    let (db, secret) = store_with_events(
        &dir.path().join("b"),
        &[("flaky", format!("http://127.0.0.1:{port}/flaky"))],
    );
    let first = events(&db)[0].seq;
    let _receiver =
        Receiver::start_failing_with(port, &secret, &dir.path().join("b.jsonl"), 2, 503);
    let round = json(&aibomdb(
        &db,
        &[
            "notify",
            "deliver",
            "--max-attempts",
            "2",
            "--format",
            "json",
        ],
    ));
    assert_eq!(
        (round["failed"].as_u64(), round["dead"].as_u64()),
        (Some(1), Some(0)),
        "{round}"
    );
    let failing = log_of(&db);
    assert_eq!(failing[0]["status"], "failing");
    // The backoff (1 s by default) passes before the next attempt.
    std::thread::sleep(Duration::from_millis(1100));
    let round = json(&aibomdb(
        &db,
        &[
            "notify",
            "deliver",
            "--max-attempts",
            "2",
            "--format",
            "json",
        ],
    ));
    assert_eq!(round["dead"], 1, "{round}");
    let log = log_of(&db);
    let dead = log.iter().find(|d| d["event"] == first).unwrap();
    assert_eq!(
        (&dead["status"], &dead["attempts"]),
        (&Value::from("dead"), &Value::from(2))
    );
    assert!(
        log.iter()
            .filter(|d| d["event"] != first)
            .all(|d| d["status"] == "delivered")
    );
}

/// Targets are served side by side: one whose receiver never answers (a
/// socket that accepts nothing, so each POST waits out its timeout) does not
/// hold back another target's events.
#[test]
fn a_slow_target_does_not_delay_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let port = free_port();
    // Targets are served in name order: the silent one comes first.
    let (db, secret) = store_with_events(
        dir.path(),
        &[
            ("a-silent", format!("http://127.0.0.1:{silent_port}/silent")),
            ("b-fast", format!("http://127.0.0.1:{port}/fast")),
        ],
    );
    let all: Vec<u64> = events(&db).iter().map(|e| e.seq).collect();
    let receiver = Receiver::start(port, &secret, &dir.path().join("got.jsonl"), 0);
    let started = Instant::now();
    let mut round = std::process::Command::new(env!("CARGO_BIN_EXE_aibomdb"))
        .arg("--db")
        .arg(&*db)
        .args(["notify", "deliver"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_for("the fast target's events", || {
        receiver.accepted("/fast").len() == all.len()
    });
    let fast = started.elapsed();
    // The silent target's POST is still waiting (10 s timeout).
    assert!(
        round.try_wait().unwrap().is_none(),
        "the round ended after {fast:?}"
    );
    assert!(fast < Duration::from_secs(8), "{fast:?}");
    let status = round.wait().unwrap();
    assert!(status.success());
    assert_eq!(receiver.accepted("/fast"), all);

    // `serve` delivers on lanes: while the silent target's retry hangs, an
    // event committed meanwhile (a deployment deleted over GraphQL, cause
    // `delete`) still reaches the fast target at once.
    let write = "write-token-0123456789";
    let server = Server::start(&db, &["--write-token", write]);
    // The silent target's retry (due after the 1 s backoff) is under way.
    std::thread::sleep(Duration::from_millis(1500));
    let started = Instant::now();
    let (status, v) = common::graphql(
        &server.addr,
        Some(write),
        r#"mutation{deleteDeployment(name:"alpine")}"#,
        Value::Null,
    );
    assert_eq!(
        (status, &v["data"]["deleteDeployment"]),
        (200, &Value::Bool(true)),
        "{v}"
    );
    // The server holds the store: its events are read over GraphQL.
    let (_, v) = common::graphql(
        &server.addr,
        None,
        "{matchEvents(after:0, limit:10000){id cause}}",
        Value::Null,
    );
    let deleted: Vec<u64> = v["data"]["matchEvents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["cause"] == "delete")
        .map(|e| e["id"].as_u64().unwrap())
        .collect();
    assert!(!deleted.is_empty());
    wait_for("the deletion's events", || {
        receiver.accepted("/fast").len() == all.len() + deleted.len()
    });
    let fast = started.elapsed();
    assert!(fast < Duration::from_secs(4), "{fast:?}");
    let got = receiver.requests();
    assert!(got.iter().any(|r| r["body"]["cause"] == "delete"
        && r["body"]["kind"] == "resolved"
        && r["body"]["deployment"] == "alpine"));
    server.stop();
    drop(silent);
}
