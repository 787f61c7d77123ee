//! Dependency-Track's BOM upload API, driven by `curl` in the forms
//! Dependency-Track documents (docs.dependencytrack.org, "Continuous
//! Integration & Delivery"): the multipart `POST /api/v1/bom` and the JSON
//! `PUT /api/v1/bom` with the BOM in base64, the key in `X-Api-Key`. A wrong
//! key gets 401 and writes nothing.

mod common;

use std::process::Command;

use common::{Server, aibomdb, corpus, graphql};
use serde_json::Value;

const WRITE: &str = "write-token-0123456789";

fn curl(args: &[&str]) -> (u16, Value) {
    let out = Command::new("curl")
        .args(["-s", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("curl runs");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, code) = text.rsplit_once('\n').unwrap();
    (
        code.trim().parse().unwrap(),
        serde_json::from_str(body).unwrap_or(Value::Null),
    )
}

fn deployments(addr: &str) -> Vec<(String, u64)> {
    let (_, answer) = graphql(addr, None, "{ deployments }", serde_json::json!({}));
    let mut out = Vec::new();
    for name in answer["data"]["deployments"].as_array().unwrap() {
        let name = name.as_str().unwrap();
        let (_, d) = graphql(
            addr,
            None,
            "query($n: String!) { deployment(name: $n) { documents { id } } }",
            serde_json::json!({"n": name}),
        );
        let documents = d["data"]["deployment"]["documents"]
            .as_array()
            .unwrap()
            .len();
        out.push((name.to_string(), documents as u64));
    }
    out.sort();
    out
}

#[test]
fn dependency_track_upload_forms_with_curl() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    // An empty store that exists.
    assert!(aibomdb(&db, &["stats"]).status.success());
    let server = Server::start(&db, &["--write-token", WRITE]);
    let url = server.url("/api/v1/bom");
    let bom = corpus().join("dev/sboms");
    let sbom = std::fs::read_dir(&bom)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".json"))
        .unwrap();
    let at_bom = format!("bom=@{}", sbom.display());

    // A wrong key: 401 before the body is read, nothing written. (A small
    // body, so that curl has sent it whole when the answer comes.)
    let (code, _) = curl(&[
        "-X",
        "POST",
        &url,
        "-H",
        "X-Api-Key: not-the-key-0123456789",
        "-F",
        "autoCreate=true",
        "-F",
        "projectName=svc",
        "-F",
        "projectVersion=1.0",
        "-F",
        "bom=x",
    ]);
    assert_eq!(code, 401);
    assert_eq!(deployments(&server.addr), vec![]);

    // The multipart form, as documented.
    let key = format!("X-Api-Key: {WRITE}");
    let (code, answer) = curl(&[
        "-X",
        "POST",
        &url,
        "-H",
        "Content-Type: multipart/form-data",
        "-H",
        &key,
        "-F",
        "autoCreate=true",
        "-F",
        "projectName=svc",
        "-F",
        "projectVersion=1.0",
        "-F",
        &at_bom,
    ]);
    assert_eq!(code, 200, "{answer}");
    let token = answer["token"].as_str().unwrap().to_string();
    assert_eq!(token.len(), 36);
    let (code, processing) = curl(&[
        "-H",
        &key,
        &server.url(&format!("/api/v1/bom/token/{token}")),
    ]);
    assert_eq!(
        (code, processing),
        (200, serde_json::json!({"processing": false}))
    );
    assert_eq!(deployments(&server.addr), vec![("svc".to_string(), 1)]);

    // The JSON form with the BOM in base64; without autoCreate an unknown
    // project is 404 and nothing is written.
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(std::fs::read(&sbom).unwrap());
    // Written to a file and sent with `-d @file`, as the documentation does.
    let body = |name: &str, create: bool| {
        let path = dir.path().join(format!("{name}-{create}.json"));
        let json = serde_json::json!({"projectName": name, "projectVersion": "2.0", "autoCreate": create, "bom": encoded});
        std::fs::write(&path, json.to_string()).unwrap();
        format!("@{}", path.display())
    };
    let (code, _) = curl(&[
        "-X",
        "PUT",
        &url,
        "-H",
        "Content-Type: application/json",
        "-H",
        &key,
        "-d",
        &body("other", false),
    ]);
    assert_eq!(code, 404);
    let (code, answer) = curl(&[
        "-X",
        "PUT",
        &url,
        "-H",
        "Content-Type: application/json",
        "-H",
        &key,
        "-d",
        &body("other", true),
    ]);
    assert_eq!(code, 200, "{answer}");
    assert_eq!(
        deployments(&server.addr),
        vec![("other".to_string(), 1), ("svc".to_string(), 1)]
    );
    // A real container SBOM over axum's 2 MiB multipart default (4.0 MB):
    // bounded by the server's body limit instead.
    let large = corpus().join("external/guac-data/top-dh-sboms/neo4j.json");
    assert!(std::fs::metadata(&large).unwrap().len() > 2 << 20);
    let (code, answer) = curl(&[
        "-X",
        "POST",
        &url,
        "-H",
        &key,
        "-F",
        "autoCreate=true",
        "-F",
        "projectName=neo4j",
        "-F",
        &format!("bom=@{}", large.display()),
    ]);
    assert_eq!(code, 200, "{answer}");
    // Not a BOM: 400, named.
    let (code, answer) = curl(&[
        "-X",
        "PUT",
        &url,
        "-H",
        "Content-Type: application/json",
        "-H",
        &key,
        "-d",
        r#"{"projectName": "svc", "bom": "bm90IGEgYm9t"}"#,
    ]);
    assert_eq!(code, 400, "{answer}");
    server.stop();
}
