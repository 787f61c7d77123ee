//! Load: the real server on loopback with 256 concurrent clients mixing
//! blast-radius reads with document ingests, three rounds of the same work
//! (bounded: 4,608 requests). Every request must succeed, every write must be
//! there whole afterwards (writes are serialised, none lost or mixed), and the
//! server's memory must not keep growing from one round to the next once its
//! caches have filled (the first round leaves the store's page cache and the
//! allocator's arenas still filling, by an amount that depends on how the
//! 256 clients happen to interleave).

mod common;

use std::path::Path;

use common::{Server, graphql};
use serde_json::json;

const TOKEN: &str = "load-test-token-0123456789";
const CLIENTS: usize = 256;

/// The server's resident memory; no /proc to read it from fails the test
/// (a check that cannot measure must not pass).
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_else(|e| {
        panic!("cannot read the server's memory use from /proc/{pid}/status: {e}")
    });
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmRSS in /proc/{pid}/status"))
}

fn round(addr: &str, round: usize, document: &str) -> Vec<String> {
    let handles: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let addr = addr.to_string();
            let document = document.to_string();
            std::thread::spawn(move || {
                let mut failures = Vec::new();
                let mut check = |what: &str, (status, v): (u16, serde_json::Value)| {
                    if status != 200 || v.get("errors").is_some() {
                        failures.push(format!("client {c} {what}: {status} {v}"));
                    }
                };
                for i in 0..5 {
                    let q = match (c + i) % 4 {
                        0 => r#"{deploymentsUsing(name:"transformers", versionRange:"<6", first:20){totalCount edges{node{deployment path{id}}}}}"#,
                        1 => r#"{search(text:"trans"){packages{purl} deployments}}"#,
                        2 => r#"{deployment(name:"a-finetune"){packages(first:50){totalCount}}}"#,
                        _ => r#"{deployments}"#,
                    };
                    check("read", graphql(&addr, None, q, json!({})));
                }
                check(
                    "write",
                    graphql(
                        &addr,
                        Some(TOKEN),
                        "mutation($d:String!,$c:String!){ingestDocument(deployment:$d,fileName:\"alpine.spdx.json\",content:$c){status packages}}",
                        json!({"d": format!("load-{round}-{c}"), "c": document}),
                    ),
                );
                failures
            })
        })
        .collect();
    handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect()
}

#[test]
fn two_hundred_fifty_six_clients_mixing_reads_and_writes() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    let out = common::aibomdb(&db, &["ingest", root.join("examples").to_str().unwrap()]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let document =
        std::fs::read_to_string(root.join("examples/alpine-spdx-syft0.57.json")).unwrap();
    let server = Server::start(&db, &["--write-token", TOKEN]);
    let a = server.addr.clone();

    let mut rss = Vec::new();
    for r in 1..=3 {
        let failures = round(&a, r, &document);
        assert!(
            failures.is_empty(),
            "{} failures, first: {:?}",
            failures.len(),
            failures.first()
        );
        rss.push(rss_kib(server.pid()));
    }
    // The same work again must not need much more memory (caches are bounded).
    let (warm, after) = (rss[1], rss[2]);
    assert!(
        after <= warm + warm / 2 + 64 * 1024,
        "RSS grew from {warm} KiB to {after} KiB (after each round: {rss:?})"
    );

    // Every write landed whole, in its own deployment.
    let (_, v) = graphql(&a, None, "{deployments}", json!({}));
    let names: Vec<&str> = v["data"]["deployments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    for r in 1..=3 {
        for c in 0..CLIENTS {
            assert!(
                names.contains(&format!("load-{r}-{c}").as_str()),
                "load-{r}-{c} missing"
            );
        }
    }
    for name in ["load-1-0", "load-3-255"] {
        let (_, v) = graphql(
            &a,
            None,
            "query($n:String!){deployment(name:$n){documents{id} packages(first:100){totalCount}}}",
            json!({"n": name}),
        );
        let d = &v["data"]["deployment"];
        assert_eq!(d["documents"].as_array().unwrap().len(), 1, "{v}");
        assert_eq!(d["packages"]["totalCount"], 14, "{v}");
    }
    server.stop();
    // And the store is consistent on disk: one document per load deployment.
    let store = common::open(&db);
    let load_docs = store
        .documents()
        .unwrap()
        .into_iter()
        .filter(|d| d.deployment.starts_with("load-"))
        .count();
    assert_eq!(load_docs, 3 * CLIENTS);
}
