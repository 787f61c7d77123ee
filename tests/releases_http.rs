//! Releases over HTTP: `POST /v1/observations` (write token; one, a batch,
//! all or nothing), GraphQL `releases`, `rollbackTarget` and `drift` on
//! `Deployment`, and the gate's `drift` rule, on the real `aibomdb serve`
//! over the store the CLI wrote (tests/releases.rs has the lifecycle).

mod common;

use std::path::Path;

use common::releases::{config_digest, deployment, lm_eval, run_ok};
use common::{aibomdb, corpus, stderr};
use serde_json::Value;

const WRITE: &str = "write-token-0123456789";
const READ: &str = "read-token-0123456789ab";

fn post_observations(addr: &str, token: Option<&str>, body: &Value) -> (u16, Value) {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(a) = &auth {
        headers.push(("Authorization", a.as_str()));
    }
    let (status, bytes) = common::http(
        addr,
        "POST",
        "/v1/observations",
        &headers,
        body.to_string().as_bytes(),
    );
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// `POST /v1/observations` (write token; one, a batch, all or nothing),
/// GraphQL `releases`, `rollbackTarget` and `drift` on `Deployment`, and the
/// gate's `drift` rule, all on the same store.
#[test]
fn observations_over_http_graphql_drift_and_the_gate_rule() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _) = deployment(&dir);
    let r1 = run_ok(
        &db,
        &[
            "release",
            "create",
            "--deployment",
            "svc",
            "--name",
            "r1",
            "--runner",
            "vllm==0.6.3",
            "--eval",
            &lm_eval(),
            "--format",
            "json",
        ],
    );
    let config = config_digest(&r1);
    let server = common::Server::start(&db, &["--write-token", WRITE, "--read-token", READ]);
    let one = serde_json::json!({"deployment": "svc", "model_sha256": [config], "runners": ["vllm==0.6.3"]});
    // Reads cannot write; nothing is stored.
    let before = observed_state(&server, &db);
    assert_eq!(post_observations(&server.addr, Some(READ), &one).0, 401);
    // A batch with one bad entry stores none of it.
    let batch = serde_json::json!([one, {"deployment": "nope", "runners": ["x==1"]}]);
    let (status, e) = post_observations(&server.addr, Some(WRITE), &batch);
    assert_eq!(status, 404, "{e}");
    let (status, e) = post_observations(
        &server.addr,
        Some(WRITE),
        &serde_json::json!({"deployment": "svc", "model_sha256": ["xyz"]}),
    );
    assert_eq!(status, 400, "{e}");
    assert_eq!(observed_state(&server, &db), before);
    // A batch of two: both stored, in order.
    let later = serde_json::json!({"deployment": "svc", "model_sha256": [config], "runners": ["vllm==0.7.1"]});
    let (status, stored) = post_observations(
        &server.addr,
        Some(WRITE),
        &serde_json::json!({"observations": [one, later]}),
    );
    assert_eq!(status, 200, "{stored}");
    assert_eq!(stored["stored"], 2);
    assert_eq!(stored["observations"][1]["sequence"], 2);

    let q = "{ deployment(name: \"svc\") { releases { name sequence evals { kind metrics { task metric value } } models { purl files { path sha256 } } } rollbackTarget { name } drift { release drifted differences { kind subject released observed } } } }";
    let (status, answer) = common::graphql(&server.addr, Some(READ), q, serde_json::json!({}));
    assert_eq!(status, 200, "{answer}");
    let d = &answer["data"]["deployment"];
    assert_eq!(d["releases"][0]["name"], "r1");
    assert_eq!(d["releases"][0]["evals"][0]["metrics"][0]["value"], 0.34);
    assert_eq!(d["rollbackTarget"], Value::Null);
    assert_eq!(d["drift"]["drifted"], true);
    assert_eq!(
        d["drift"]["differences"],
        serde_json::json!([{"kind": "runner-differs", "subject": "vllm", "released": "0.6.3", "observed": "0.7.1"}])
    );
    server.stop();

    // The gate's drift rule fails on it, passes where nothing is released
    // unless observations are required.
    let policy = dir.path().join("drift.toml");
    std::fs::write(&policy, "version = 1\n[drift]\n").unwrap();
    let out = aibomdb(
        &db,
        &[
            "gate",
            "--policy",
            policy.to_str().unwrap(),
            "--deployment",
            "svc",
            "--format",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let rule = &report["deployments"][0]["rules"][0];
    assert_eq!(rule["rule"], "drift");
    assert_eq!(rule["violations"][0]["subject"], "vllm");
    let lock = corpus().join("dev/lockfiles/a-finetune/pdm/pdm.lock");
    run_ok(
        &db,
        &[
            "ingest",
            "--deployment",
            "other",
            lock.to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    let out = aibomdb(
        &db,
        &[
            "gate",
            "--policy",
            policy.to_str().unwrap(),
            "--deployment",
            "other",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    std::fs::write(
        &policy,
        "version = 1\n[drift]\nrequire_observation = true\n",
    )
    .unwrap();
    let out = aibomdb(
        &db,
        &[
            "gate",
            "--policy",
            policy.to_str().unwrap(),
            "--deployment",
            "other",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", common::stdout(&out));

    // Deleting the deployment deletes its releases and observations: created
    // again under the same name, it starts with none.
    let server = common::Server::start(&db, &["--write-token", WRITE]);
    let (status, deleted) = common::graphql(
        &server.addr,
        Some(WRITE),
        "mutation { deleteDeployment(name: \"svc\") }",
        serde_json::json!({}),
    );
    assert_eq!(
        (status, &deleted["data"]["deleteDeployment"]),
        (200, &Value::Bool(true)),
        "{deleted}"
    );
    server.stop();
    let lock = corpus().join("dev/lockfiles/a-finetune/uv/uv.lock");
    run_ok(
        &db,
        &[
            "ingest",
            "--deployment",
            "svc",
            lock.to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    let releases = run_ok(
        &db,
        &["release", "list", "--deployment", "svc", "--format", "json"],
    );
    assert_eq!(releases, serde_json::json!([]));
    let out = aibomdb(&db, &["drift", "--deployment", "svc"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

/// What the running server holds of svc's observations and releases (the
/// store is open in the server's process, so it is asked over GraphQL).
fn observed_state(server: &common::Server, _db: &Path) -> String {
    let (_, answer) = common::graphql(
        &server.addr,
        Some(READ),
        "{ deployment(name: \"svc\") { drift { observation } releases { name } } }",
        serde_json::json!({}),
    );
    answer.to_string()
}
