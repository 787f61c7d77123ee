//! The server's bounds, end to end against the real `aibomdb serve`: bodies
//! refused before they are read, slow and idle connections closed by the
//! timeouts, query depth, complexity and answer size, the cache's memory,
//! and the request time limit. Timeouts are configured small for the test;
//! raw `TcpStream`s play the slow clients.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{Server, graphql};
use serde_json::{Value, json};

const WRITER: &str = "limits-write-token-0123456789";
const READER: &str = "limits-read-token-0123456789";

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

/// A store with the shipped examples in it.
fn store_with_examples(temp: &tempfile::TempDir) -> common::TestDb {
    let db = common::db(temp);
    let out = common::aibomdb(&db, &["ingest", examples().to_str().unwrap()]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    db
}

/// A connection whose reads give up after 10 s: a server that waits for
/// something it will never get fails the test instead of hanging it.
fn connect(addr: &str) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// Reads one response head; `None` when the server closed or never answered.
fn status(s: &mut TcpStream) -> Option<(u16, String)> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
        }
        if raw.windows(4).any(|w| w == b"\r\n\r\n") {
            // The head, and the body as far as it came with it.
            let text = String::from_utf8_lossy(&raw).to_string();
            let code = text.split_whitespace().nth(1)?.parse().ok()?;
            return Some((code, text));
        }
    }
    None
}

/// True when the server closes the connection (EOF or reset) before the
/// client's 10 s read timeout; anything it sends first (a 408) is read past.
fn closed_by_server(s: &mut TcpStream) -> bool {
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return false;
            }
            Err(_) => return true,
        }
    }
}

fn post_head(addr: &str, length: &str, token: Option<&str>) -> String {
    let mut head = format!(
        "POST /graphql HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n"
    );
    if let Some(t) = token {
        head.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    head.push_str("\r\n");
    head
}

#[test]
fn bodies_are_refused_before_they_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    let server = Server::start(&db, &["--write-token", WRITER, "--read-token", READER]);
    let a = &server.addr;
    // Only the headers are sent: a server that waited for the 64 MiB body
    // before checking the token would never answer (the body timeout is 60 s).
    let mut s = connect(a);
    s.write_all(post_head(a, "67108864", None).as_bytes())
        .unwrap();
    let (code, text) = status(&mut s).expect("an answer without the body");
    assert_eq!(code, 401, "{text}");
    assert!(text.contains("UNAUTHENTICATED"), "{text}");
    // A reader may send a query, not an upload: 64 MiB is refused at once.
    let mut s = connect(a);
    s.write_all(post_head(a, "67108864", Some(READER)).as_bytes())
        .unwrap();
    let (code, text) = status(&mut s).expect("an answer without the body");
    assert_eq!(code, 413, "{text}");
    assert!(text.contains("--max-query-bytes"), "{text}");
    // The writer's limit is --max-body-bytes (64 MiB): 1 GB is refused at once.
    let mut s = connect(a);
    s.write_all(post_head(a, "1000000000", Some(WRITER)).as_bytes())
        .unwrap();
    let (code, text) = status(&mut s).expect("an answer without the body");
    assert_eq!(code, 413, "{text}");
    assert!(text.contains("--max-body-bytes"), "{text}");
    // And the server is fine.
    let (code, _) = graphql(a, Some(READER), "{deployments}", json!({}));
    assert_eq!(code, 200);
}

#[test]
fn slow_and_idle_connections_are_closed() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    let server = Server::start(
        &db,
        &["--header-timeout-secs", "1", "--body-timeout-secs", "1"],
    );
    let a = &server.addr;
    // Connections that never send a byte.
    let mut idle: Vec<TcpStream> = (0..50).map(|_| connect(a)).collect();
    // Headers begun, never finished.
    let mut half_head = connect(a);
    half_head
        .write_all(format!("POST /graphql HTTP/1.1\r\nHost: {a}\r\n").as_bytes())
        .unwrap();
    // A body begun, never finished: answered 408, then closed.
    let mut half_body = connect(a);
    half_body
        .write_all(format!("{}{{\"query\":", post_head(a, "1000", None)).as_bytes())
        .unwrap();
    // A finished request on a kept-alive connection, then silence.
    let mut kept = connect(a);
    kept.write_all(format!("GET /healthz HTTP/1.1\r\nHost: {a}\r\n\r\n").as_bytes())
        .unwrap();
    let (code, text) = status(&mut kept).unwrap();
    assert_eq!(code, 200, "{text}");

    let (code, text) = status(&mut half_body).expect("an answer to the half-sent body");
    assert_eq!(code, 408, "{text}");
    assert!(closed_by_server(&mut half_body));
    assert!(
        closed_by_server(&mut half_head),
        "half-sent headers kept open"
    );
    assert!(
        closed_by_server(&mut kept),
        "idle kept-alive connection kept open"
    );
    for (i, s) in idle.iter_mut().enumerate() {
        assert!(closed_by_server(s), "idle connection {i} kept open");
    }
    assert_eq!(common::http(a, "GET", "/healthz", &[], b"").0, 200);
}

/// Query depth and complexity, written against fields that exist, so only
/// the limit can refuse them.
#[test]
fn depth_and_complexity_limits() {
    let dir = tempfile::tempdir().unwrap();
    let db = store_with_examples(&dir);
    let server = Server::start(&db, &[]);
    let a = &server.addr;
    let nested = |levels: usize| {
        format!(
            "{{model(id:\"org/none\"){{{}purl{}}}}}",
            "adapters{".repeat(levels),
            "}".repeat(levels)
        )
    };
    // 13 levels of Model.adapters is depth 15: answered (no such model).
    let (_, v) = graphql(a, None, &nested(13), json!({}));
    assert!(v.get("errors").is_none(), "{v}");
    assert!(v["data"]["model"].is_null(), "{v}");
    // 20 levels is depth 22, over 16.
    let (_, v) = graphql(a, None, &nested(20), json!({}));
    assert_eq!(
        v["errors"][0]["message"], "Query is nested too deep.",
        "{v}"
    );

    let aliases = |field: &str, n: usize| {
        let body: Vec<String> = (0..n).map(|i| format!("a{i}:{field}")).collect();
        format!("{{{}}}", body.join(" "))
    };
    // Complexity 10,000 is the limit: 10,001 cheap fields are refused, a few pass.
    let (_, v) = graphql(a, None, &aliases("deployments", 10_001), json!({}));
    assert_eq!(v["errors"][0]["message"], "Query is too complex.", "{v}");
    let (_, v) = graphql(a, None, &aliases("deployments", 3), json!({}));
    assert!(v.get("errors").is_none(), "{v}");
    // A page costs its children once per item asked for: 3 pages of 1,000
    // (9,003) pass, 4 (12,004) do not.
    let page = r#"packages(name:"musl", first:1000){edges{node{purl}}}"#;
    let (_, v) = graphql(a, None, &aliases(page, 3), json!({}));
    assert!(v.get("errors").is_none(), "{v}");
    let (_, v) = graphql(a, None, &aliases(page, 4), json!({}));
    assert_eq!(v["errors"][0]["message"], "Query is too complex.", "{v}");
    // `export` writes a whole deployment: a thousand of them are refused
    // before anything runs, two are answered.
    let export = r#"export(deployment:"a-finetune", format:"cyclonedx-1.6")"#;
    let (_, v) = graphql(a, None, &aliases(export, 1000), json!({}));
    assert_eq!(v["errors"][0]["message"], "Query is too complex.", "{v}");
    let (_, v) = graphql(a, None, &aliases(export, 2), json!({}));
    assert!(v.get("errors").is_none(), "{v}");
    assert!(v["data"]["a1"].as_str().unwrap().contains("specVersion"));
    let cra = r#"craReport(deployment:"a-finetune"){components}"#;
    let (_, v) = graphql(a, None, &aliases(cra, 11), json!({}));
    assert_eq!(v["errors"][0]["message"], "Query is too complex.", "{v}");
}

#[test]
fn the_answer_is_bounded_in_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let db = store_with_examples(&dir);
    let server = Server::start(&db, &["--max-response-bytes", "5000"]);
    let a = &server.addr;
    let (_, v) = graphql(
        a,
        None,
        r#"{export(deployment:"a-finetune", format:"cyclonedx-1.6")}"#,
        json!({}),
    );
    assert_eq!(
        v["errors"][0]["extensions"]["code"], "RESPONSE_TOO_LARGE",
        "{v}"
    );
    assert!(v["data"].is_null() || v["data"]["export"].is_null(), "{v}");
    // Paged lists count as they are built, field by field.
    let (_, v) = graphql(
        a,
        None,
        r#"{deployment(name:"a-finetune"){packages(first:1000){edges{node{purl version listedBy flags}}}}}"#,
        json!({}),
    );
    assert_eq!(
        v["errors"][0]["extensions"]["code"], "RESPONSE_TOO_LARGE",
        "{v}"
    );
    // Small answers are unaffected.
    let (_, v) = graphql(a, None, "{deployments}", json!({}));
    assert!(v.get("errors").is_none(), "{v}");
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("cannot read the server's memory use from /proc: {e}"));
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/PID/status")
}

/// A hundred 900 KB queries that differ only in a comment are one cache
/// entry: the server keeps none of the bodies. Keyed by the raw body, they
/// would fill the cache's 64 MiB byte bound (and, before it had one, 90 MB).
#[test]
fn the_cache_keeps_normalised_queries_not_bodies() {
    let dir = tempfile::tempdir().unwrap();
    let db = store_with_examples(&dir);
    let server = Server::start(&db, &[]);
    let a = &server.addr;
    let (_, v) = graphql(a, None, "{deployments}", json!({}));
    let expected = v["data"].clone();
    let before = rss_kib(server.pid());
    for i in 0..100 {
        let padded = format!("# {i} {}\n{{ deployments }}", "x".repeat(900_000));
        let (code, v) = graphql(a, None, &padded, json!({}));
        assert_eq!(code, 200);
        assert_eq!(v["data"], expected);
    }
    let after = rss_kib(server.pid());
    eprintln!("server RSS {before} KiB before, {after} KiB after");
    assert!(
        after < before + 32 * 1024,
        "RSS grew from {before} KiB to {after} KiB"
    );
}

/// A query that runs past `--timeout-secs` is answered 503 TIMEOUT, and the
/// server carries on.
#[test]
fn a_query_over_the_time_limit_is_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    // GUAC's SPDX and CycloneDX images in one deployment: ten SPDX exports of
    // it take over a second in a debug build.
    let guac = common::corpus().join("external/guac-data/docs");
    let out = common::aibomdb(
        &db,
        &[
            "ingest",
            guac.join("spdx").to_str().unwrap(),
            guac.join("cyclonedx").to_str().unwrap(),
            "--deployment",
            "all",
        ],
    );
    assert!(out.status.success(), "{}", common::stderr(&out));
    let server = Server::start(&db, &["--timeout-secs", "0.1"]);
    let a = &server.addr;
    let exports: Vec<String> = (0..10)
        .map(|i| format!(r#"e{i}:export(deployment:"all", format:"spdx-2.3")"#))
        .collect();
    let (code, v) = graphql(a, None, &format!("{{{}}}", exports.join(" ")), json!({}));
    assert_eq!(code, 503, "{v}");
    assert_eq!(v["errors"][0]["extensions"]["code"], "TIMEOUT", "{v}");
    let (code, v): (u16, Value) = graphql(a, None, "{deployments}", json!({}));
    assert_eq!(code, 200, "{v}");
}
