//! The gate over HTTP: GraphQL `gate`/`storePolicy`/`policies`, and
//! `POST /v1/gate` with a deployment or an uploaded document that is judged
//! without being stored (the store's content fingerprint is unchanged).

mod common;

use std::path::PathBuf;

use common::{Server, aibomdb, corpus, fingerprint, graphql, http, stderr};
use serde_json::{Value, json};

const WRITE: &str = "write-token-0123456789";
const READ: &str = "read-token-0123456789ab";
const POLICY: &str = "version = 1\n[vulnerabilities]\nseverity = \"low\"\nunknown = \"deny\"\n";

fn python_image() -> PathBuf {
    corpus().join(
        "external/guac-data/docs/cyclonedx/syft-cyclonedx-docker.io-library-python.latest.json",
    )
}

fn post_gate(addr: &str, token: Option<&str>, body: &Value) -> (u16, Value) {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(a) = &auth {
        headers.push(("Authorization", a.as_str()));
    }
    let (status, bytes) = http(
        addr,
        "POST",
        "/v1/gate",
        &headers,
        body.to_string().as_bytes(),
    );
    let v = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&bytes)));
    (status, v)
}

fn subjects(report: &Value) -> Vec<String> {
    let mut out: Vec<String> = report["deployments"][0]["rules"][0]["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["subject"].as_str().unwrap().to_string())
        .collect();
    out.sort();
    out
}

#[test]
fn gate_over_graphql_and_post_v1_gate() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    for args in [
        vec![
            "ingest",
            python_image().to_str().unwrap(),
            "--deployment",
            "python",
        ],
        vec![
            "advisories",
            "load",
            corpus()
                .join("osv/pypa-advisory-database")
                .to_str()
                .unwrap(),
        ],
    ] {
        let out = aibomdb(&db, &args);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let tokens = ["--write-token", WRITE, "--read-token", READ];

    // Stored policies need the write token.
    let server = Server::start(&db, &tokens);
    let store = "mutation($t: String!) { storePolicy(name: \"release\", text: $t) { name } }";
    let (_, refused) = graphql(&server.addr, Some(READ), store, json!({"t": POLICY}));
    assert_eq!(
        refused["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{refused}"
    );
    let (status, stored) = graphql(&server.addr, Some(WRITE), store, json!({"t": POLICY}));
    assert_eq!(status, 200, "{stored}");
    assert_eq!(stored["data"]["storePolicy"]["name"], "release");
    let (_, bad) = graphql(
        &server.addr,
        Some(WRITE),
        store,
        json!({"t": "version = 1\n[pinning]\nmodles = true\n"}),
    );
    assert_eq!(bad["errors"][0]["extensions"]["code"], "BAD_INPUT", "{bad}");
    assert!(
        bad["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains(":3:"),
        "{bad}"
    );
    server.stop();
    let before = fingerprint(&db);

    let server = Server::start(&db, &tokens);
    // GraphQL: inline and stored give the same verdict, with paths.
    let q = "query($p: String, $s: String) { gate(deployment: \"python\", policy: $p, stored: $s, at: \"2026-12-01\") \
             { passed rules { rule outcome violations { subject path { kind id } } } } }";
    let (_, inline) = graphql(&server.addr, Some(READ), q, json!({"p": POLICY}));
    let (_, stored) = graphql(&server.addr, Some(READ), q, json!({"s": "release"}));
    assert_eq!(inline["data"], stored["data"], "{inline} {stored}");
    let gate = &inline["data"]["gate"];
    assert_eq!(gate["passed"], false);
    let violations = gate["rules"][0]["violations"].as_array().unwrap();
    assert_eq!(violations.len(), 3, "{gate}");
    assert_eq!(violations[0]["path"][0]["id"], "python");
    let (_, unknown) = graphql(
        &server.addr,
        Some(READ),
        "{ gate(deployment: \"nope\", stored: \"release\") { passed } }",
        json!({}),
    );
    assert_eq!(unknown["errors"][0]["extensions"]["code"], "NOT_FOUND");

    // POST /v1/gate: no token, no answer.
    let body = json!({"stored": "release", "deployment": "python", "at": "2026-12-01"});
    assert_eq!(post_gate(&server.addr, None, &body).0, 401);
    let (status, report) = post_gate(&server.addr, Some(READ), &body);
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["passed"], false);
    assert_eq!(subjects(&report).len(), 3);
    // Every deployment, counted (as `gate --all --counts`): each rule's
    // outcome and counts are what the full report lists.
    let all = json!({"stored": "release", "all": true, "at": "2026-12-01"});
    assert_eq!(post_gate(&server.addr, None, &all).0, 401);
    let (status, estate) = post_gate(&server.addr, Some(READ), &all);
    assert_eq!(status, 200, "{estate}");
    assert_eq!(estate["passed"], false);
    assert_eq!(
        estate["deployments"].as_array().unwrap().len(),
        1,
        "{estate}"
    );
    let (full, counted) = (&report["deployments"][0], &estate["deployments"][0]);
    assert_eq!(counted["deployment"], "python");
    let (full_rules, counted_rules) = (
        full["rules"].as_array().unwrap(),
        counted["rules"].as_array().unwrap(),
    );
    assert_eq!(full_rules.len(), counted_rules.len());
    for (f, c) in full_rules.iter().zip(counted_rules) {
        assert_eq!(f["rule"], c["rule"]);
        assert_eq!(f["outcome"], c["outcome"], "{}", f["rule"]);
        for level in ["deny", "warn"] {
            let listed = f["violations"].as_array().unwrap();
            let n = listed.iter().filter(|v| v["level"] == level).count();
            assert_eq!(c[level], n, "{} at {level}", f["rule"]);
        }
        let waived = f["waived"].as_array().map_or(0, Vec::len);
        assert_eq!(c["waived"], waived, "{}", f["rule"]);
    }
    assert_eq!(counted["rules"][0]["deny"], 3, "{estate}");
    let both = json!({"stored": "release", "all": true, "deployment": "python"});
    assert_eq!(post_gate(&server.addr, Some(READ), &both).0, 400);
    // An uploaded SBOM, judged against the store's advisories, not stored.
    let upload = json!({
        "policy": POLICY,
        "document": {
            "name": "sbom.cdx.json",
            "content": std::fs::read_to_string(python_image()).unwrap(),
        },
        "at": "2026-12-01",
    });
    let (status, report) = post_gate(&server.addr, Some(READ), &upload);
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["passed"], false);
    assert_eq!(
        subjects(&report),
        [
            "PYSEC-2022-43012 in pkg:pypi/setuptools@63.2.0",
            "PYSEC-2022-43017 in pkg:pypi/wheel@0.37.1",
            "PYSEC-2023-228 in pkg:pypi/pip@22.2.2"
        ]
    );
    // Bad requests say why.
    let (status, e) = post_gate(
        &server.addr,
        Some(READ),
        &json!({"policy": "version = 1\n[pinning]\nmodles = 1\n", "deployment": "python"}),
    );
    assert_eq!(status, 400, "{e}");
    let (status, _) = post_gate(
        &server.addr,
        Some(READ),
        &json!({"stored": "release", "deployment": "nope"}),
    );
    assert_eq!(status, 404);
    let (status, _) = post_gate(&server.addr, Some(READ), &json!({"stored": "release"}));
    assert_eq!(status, 400);
    server.stop();
    assert_eq!(
        fingerprint(&db),
        before,
        "judging an upload wrote to the store"
    );
}

/// The server keeps what the gate read of advisories between requests, and
/// forgets it when the store changes: log4j-core's GHSA-3pxv-7cmr-fjr4 first
/// loaded as it was before it carried a CVSS vector (its `severity` list
/// taken out and `modified` set back to `published`: the label MODERATE, no
/// score), then as published (CVSS v4.0, 6.9). The same request gives the new score at once.
#[test]
fn gate_cache_follows_advisory_updates() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    let java = corpus().join("external/guac-data/docs/spdx/spdx_vuln.json");
    let out = aibomdb(
        &db,
        &["ingest", "--deployment", "java", java.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let published: Value = serde_json::from_slice(
        &std::fs::read(corpus().join("osv/examples/Maven/GHSA-3pxv-7cmr-fjr4.json")).unwrap(),
    )
    .unwrap();
    let mut earlier = published.clone();
    earlier.as_object_mut().unwrap().remove("severity");
    // An earlier revision: older `modified` (the store keeps the newest).
    earlier["modified"] = published["published"].clone();
    let server = Server::start(&db, &["--write-token", WRITE, "--read-token", READ]);
    let load = "mutation($c: String!) { loadAdvisories(content: $c) { added updated } }";
    let policy = "version = 1\n[vulnerabilities]\nseverity = \"medium\"\nunknown = \"deny\"\n";
    let body = json!({"policy": policy, "deployment": "java", "at": "2026-12-01"});
    let message = |report: &Value| {
        report["deployments"][0]["rules"][0]["violations"][0]["message"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    let (status, loaded) = graphql(
        &server.addr,
        Some(WRITE),
        load,
        json!({"c": earlier.to_string()}),
    );
    assert_eq!(status, 200, "{loaded}");
    let (_, first) = post_gate(&server.addr, Some(READ), &body);
    assert!(
        message(&first).starts_with("medium: Apache Log4j"),
        "{first}"
    );
    // Asked again, unchanged (now from the cache).
    let (_, again) = post_gate(&server.addr, Some(READ), &body);
    assert_eq!(message(&again), message(&first));
    let (status, loaded) = graphql(
        &server.addr,
        Some(WRITE),
        load,
        json!({"c": published.to_string()}),
    );
    assert_eq!(status, 200, "{loaded}");
    let (_, after) = post_gate(&server.addr, Some(READ), &body);
    assert!(
        message(&after).starts_with("medium (CVSS 6.9)"),
        "{loaded} {after}"
    );
    server.stop();
}

/// The server keeps `for = "package"` CEL answers between requests, keyed by
/// the expression: a later request with another expression under the same
/// rule name gets its own answers, the same expression under another name
/// and message gets the same offenders with its own message, and a
/// deployment ingested after the first answers (same packages, another
/// path) is answered by what its own document makes the expression read.
#[test]
fn package_rule_answers_kept_between_requests_follow_the_expression() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    let out = aibomdb(
        &db,
        &[
            "ingest",
            python_image().to_str().unwrap(),
            "--deployment",
            "python",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let server = Server::start(&db, &["--write-token", WRITE]);
    let ask = |deployment: &str, name: &str, expression: &str, message: &str| {
        let policy = format!(
            "version = 1\n[[custom]]\nname = \"{name}\"\nfor = \"package\"\nmessage = \"{message}\"\ndeny_if = '{expression}'\n"
        );
        let body = json!({"policy": policy, "deployment": deployment, "at": "2026-12-01"});
        let (status, report) = post_gate(&server.addr, None, &body);
        assert_eq!(status, 200, "{report}");
        report
    };
    let mercurial = r#"pkg.name == "mercurial" && !document.path.endsWith("copy.cdx.json")"#;
    let first = ask("python", "r", mercurial, "first");
    assert_eq!(
        subjects(&first),
        [
            "pkg:deb/debian/mercurial@5.6.1-4",
            "pkg:pypi/mercurial@5.6.1"
        ]
    );
    let other = ask("python", "r", r#"pkg.name == "bash""#, "other");
    assert_eq!(subjects(&other), ["pkg:deb/debian/bash@5.1-2+deb11u1"]);
    let renamed = ask("python", "renamed", mercurial, "renamed");
    assert_eq!(subjects(&renamed), subjects(&first));
    let messages: Vec<&str> = renamed["deployments"][0]["rules"][0]["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["message"].as_str().unwrap())
        .collect();
    assert_eq!(messages, ["renamed", "renamed"]);
    // The same packages from another path, ingested while the server runs.
    let copy = dir.path().join("copy.cdx.json");
    std::fs::copy(python_image(), &copy).unwrap();
    let (status, body) = common::graphql(
        &server.addr,
        Some(WRITE),
        "mutation($c: String!) { ingestDocument(deployment: \"copy\", fileName: \"copy.cdx.json\", content: $c) { status } }",
        json!({"c": std::fs::read_to_string(&copy).unwrap()}),
    );
    assert_eq!(status, 200, "{body}");
    let copied = ask("copy", "r", mercurial, "first");
    assert!(subjects(&copied).is_empty(), "{copied}");
    server.stop();
}
