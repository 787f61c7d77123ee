//! Releases, observations and drift end to end on real inputs: the dev
//! corpus's uv.lock plus a copy of the corpus's LLaMA-Factory LoRA adapter
//! directory, with lm-evaluation-harness and `evaluate.save` results
//! (tests/fixtures/evals/SOURCES.md). Release 1, a changed adapter, release
//! 2: the diff names the changed digest, an observation of release 1's file
//! drifts against release 2, and the rollback target is release 1. Bad input
//! writes nothing; releases never change.

mod common;

use std::path::{Path, PathBuf};

use common::{aibomdb, corpus, fingerprint, json, stderr};
use serde_json::Value;

const REVISION: &str = "0123456789abcdef0123456789abcdef01234567";

fn run_ok(db: &Path, args: &[&str]) -> Value {
    let out = aibomdb(db, args);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    json(&out)
}

fn evals() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/evals")
}

fn lm_eval() -> String {
    evals()
        .join("lm-eval-results_2025-01-21T00-40-03.356274.json")
        .display()
        .to_string()
}

fn evaluate_save() -> String {
    let dir = evals().join("evaluate-save");
    let file = std::fs::read_dir(&dir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    file.display().to_string()
}

/// A deployment of the dev corpus's uv.lock and a copy of the adapter
/// directory (so that the test can change it).
fn deployment(temp: &tempfile::TempDir) -> (common::TestDb, PathBuf) {
    let dir = temp.path();
    let db = common::db(temp);
    let model = dir.join("adapter");
    std::fs::create_dir_all(&model).unwrap();
    let source = corpus().join("formats/huggingface/llamafactory-pr7074-checkpoint-900");
    for f in ["README.md", "adapter_config.json"] {
        std::fs::copy(source.join(f), model.join(f)).unwrap();
    }
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
    ingest_adapter(&db, &model);
    (db, model)
}

fn ingest_adapter(db: &Path, model: &Path) {
    run_ok(
        db,
        &[
            "ingest-model",
            model.to_str().unwrap(),
            "--deployment",
            "svc",
            "--id",
            "aibomdb-test/llama-adapter",
            "--revision",
            REVISION,
            "--format",
            "json",
        ],
    );
}

fn config_digest(release: &Value) -> String {
    release["models"][0]["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["path"] == "adapter_config.json")
        .unwrap()["sha256"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn release_diff_drift_and_rollback_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let (db, model) = deployment(&dir);
    let image = format!("registry.example/svc@sha256:{}", "ab".repeat(32));
    let r1 = run_ok(
        &db,
        &[
            "release",
            "create",
            "--deployment",
            "svc",
            "--name",
            "r1",
            "--eval",
            &lm_eval(),
            "--eval",
            &evaluate_save(),
            "--image",
            &image,
            "--runner",
            "vllm==0.6.3",
            "--approved-by",
            "alice@example.org",
            "--note",
            "first",
            "--format",
            "json",
        ],
    );
    assert_eq!(r1["sequence"], 1);
    assert_eq!(r1["approved_by"], "alice@example.org");
    assert_eq!(r1["documents"].as_array().unwrap().len(), 2);
    assert!(r1["packages"].as_array().unwrap().len() > 70);
    let m = &r1["models"][0];
    assert_eq!(
        m["purl"],
        format!("pkg:huggingface/aibomdb-test/llama-adapter@{REVISION}")
    );
    assert_eq!(m["revision"], REVISION);
    assert_eq!(
        m["derived_from"][0],
        serde_json::json!([
            "adapter",
            "pkg:huggingface/meta-llama/Llama-3.2-3B-Instruct"
        ])
    );
    // The harness's metrics and what it says it evaluated; evaluate's plain JSON.
    let lm = r1["evals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "lm-evaluation-harness")
        .unwrap();
    assert_eq!(lm["metrics"][0]["task"], "mmlu_abstract_algebra");
    assert_eq!(lm["metrics"][0]["metric"], "acc");
    assert_eq!(lm["metrics"][0]["value"], 0.34);
    assert!(
        lm["about"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a[0] == "model_sha" && a[1] == "c5ebcd40d208330abc697524c919956e692655cf")
    );
    let plain = r1["evals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "json")
        .unwrap();
    let names: Vec<&str> = plain["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["metric"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["accuracy", "eval_samples", "f1"]);
    // `release show` prints the metrics.
    let out = aibomdb(&db, &["release", "show", "svc", "r1"]);
    let shown = common::stdout(&out);
    assert!(
        shown.contains("mmlu_abstract_algebra acc") && shown.contains("0.34"),
        "{shown}"
    );

    // The adapter changes (its rank doubled), is ingested again, released again.
    let config = model.join("adapter_config.json");
    let mut c: Value = serde_json::from_slice(&std::fs::read(&config).unwrap()).unwrap();
    c["r"] = Value::from(c["r"].as_u64().unwrap() * 2);
    std::fs::write(&config, serde_json::to_vec_pretty(&c).unwrap()).unwrap();
    ingest_adapter(&db, &model);
    let r2 = run_ok(
        &db,
        &[
            "release",
            "create",
            "--deployment",
            "svc",
            "--name",
            "r2",
            "--image",
            &image,
            "--runner",
            "vllm==0.6.3",
            "--format",
            "json",
        ],
    );
    assert_eq!(r2["sequence"], 2);
    let (old, new) = (config_digest(&r1), config_digest(&r2));
    assert_ne!(old, new);
    let diff = run_ok(
        &db,
        &["release", "diff", "svc", "r1", "r2", "--format", "json"],
    );
    let changes = diff["changes"].as_array().unwrap();
    let artifact = changes
        .iter()
        .find(|c| c["kind"] == "artifact")
        .unwrap_or_else(|| panic!("{diff}"));
    assert_eq!(artifact["change"], "changed");
    assert_eq!(
        artifact["subject"],
        "pkg:huggingface/aibomdb-test/llama-adapter adapter_config.json"
    );
    assert_eq!(
        (
            artifact["from"].as_str().unwrap(),
            artifact["to"].as_str().unwrap()
        ),
        (old.as_str(), new.as_str())
    );
    // Same lockfile, same image: neither shows as changed; the metrics do.
    assert!(
        !changes
            .iter()
            .any(|c| c["kind"] == "package" || c["kind"] == "image"),
        "{diff}"
    );
    assert!(
        changes
            .iter()
            .any(|c| c["kind"] == "metric" && c["change"] == "removed")
    );

    // What runs is release 1's adapter on a newer runner: drift, exit 1.
    run_ok(
        &db,
        &[
            "observe",
            "--deployment",
            "svc",
            "--model-sha256",
            &old,
            "--runner",
            "vllm==0.7.0",
            "--image-digest",
            &format!("sha256:{}", "ab".repeat(32)),
            "--format",
            "json",
        ],
    );
    let out = aibomdb(&db, &["drift", "--deployment", "svc", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let drift: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(drift["release"], "r2");
    let kinds: Vec<(&str, &str)> = drift["differences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["kind"].as_str().unwrap(), d["subject"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("model-not-released", format!("sha256:{old}").as_str()),
            ("runner-differs", "vllm")
        ]
    );
    // Seen running as released: no drift, exit 0.
    run_ok(
        &db,
        &[
            "observe",
            "--deployment",
            "svc",
            "--model-sha256",
            &new,
            "--runner",
            "vllm==0.6.3",
            "--format",
            "json",
        ],
    );
    let out = aibomdb(&db, &["drift", "--deployment", "svc"]);
    assert_eq!(out.status.code(), Some(0), "{}", common::stdout(&out));
    // The deployment's CycloneDX export names its latest release and what
    // was last seen running.
    let bom = run_ok(
        &db,
        &["export", "--deployment", "svc", "--format", "cyclonedx-1.6"],
    );
    let props: Vec<(String, String)> = bom["metadata"]["properties"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_string(),
                p["value"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        props.contains(&("aibomdb:release".into(), "r2 (#2)".into())),
        "{props:?}"
    );
    assert!(props.contains(&("aibomdb:observed:model-sha256".into(), new.clone())));
    assert!(props.contains(&("aibomdb:observed:runner".into(), "vllm==0.6.3".into())));

    // Roll back to release 1, with every digest to redeploy it.
    let target = run_ok(
        &db,
        &["release", "rollback-target", "svc", "--format", "json"],
    );
    assert_eq!(target["name"], "r1");
    assert_eq!(config_digest(&target), old);
    assert_eq!(target["images"][0], image);

    // Releases never change: the same name is refused and writes nothing,
    // and r1 reads as it was written, after a restart (every command
    // reopens the store) and after the deployment changed.
    let before = fingerprint(&db);
    let out = aibomdb(
        &db,
        &["release", "create", "--deployment", "svc", "--name", "r1"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("never changed"), "{}", stderr(&out));
    assert_eq!(fingerprint(&db), before);
    let again = run_ok(&db, &["release", "show", "svc", "r1", "--format", "json"]);
    assert_eq!(again, r1);
}

/// With a policy, a failing gate refuses the release (exit 1, nothing
/// written) unless forced; a forced release is recorded as such and is
/// never a rollback target.
#[test]
fn gated_releases_and_forced_ones() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _) = deployment(&dir);
    // The adapter is not approved and its base model is described nowhere.
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        "version = 1\n[models]\nrequire_approval = true\nrequire_known_base = true\n",
    )
    .unwrap();
    let open = dir.path().join("open.toml");
    std::fs::write(
        &open,
        "version = 1\n[licenses]\ndeny = [\"AGPL-3.0-only\"]\n",
    )
    .unwrap();
    let p = policy.to_str().unwrap();
    run_ok(
        &db,
        &[
            "release",
            "create",
            "--deployment",
            "svc",
            "--name",
            "r1",
            "--policy",
            open.to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    let before = fingerprint(&db);
    let out = aibomdb(
        &db,
        &[
            "release",
            "create",
            "--deployment",
            "svc",
            "--name",
            "r2",
            "--policy",
            p,
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("models"), "{}", stderr(&out));
    assert_eq!(fingerprint(&db), before, "a refused release wrote");
    let forced = run_ok(
        &db,
        &[
            "release",
            "create",
            "--deployment",
            "svc",
            "--name",
            "r2",
            "--policy",
            p,
            "--force",
            "hotfix approved by the incident lead",
            "--format",
            "json",
        ],
    );
    assert_eq!(forced["forced"], "hotfix approved by the incident lead");
    assert_eq!(forced["gate"]["passed"], false);
    assert_eq!(
        forced["gate"]["failed_rules"],
        serde_json::json!(["models"])
    );
    run_ok(
        &db,
        &[
            "release",
            "create",
            "--deployment",
            "svc",
            "--name",
            "r3",
            "--format",
            "json",
        ],
    );
    // r3 is current; r2 was forced past its gate; r1 is the target.
    let target = run_ok(
        &db,
        &["release", "rollback-target", "svc", "--format", "json"],
    );
    assert_eq!(target["name"], "r1");
    assert_eq!(target["gate"]["passed"], true);
}

/// Bad input is refused with a clear error and writes nothing.
#[test]
fn bad_release_and_observation_input_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _) = deployment(&dir);
    let not_json = dir.path().join("results.json");
    std::fs::write(&not_json, b"{\"results\": ").unwrap();
    let before = fingerprint(&db);
    let hash = "a".repeat(64);
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec![
                "release",
                "create",
                "--deployment",
                "svc",
                "--name",
                "x",
                "--eval",
                not_json.to_str().unwrap(),
            ],
            "results.json: not JSON at line 1",
        ),
        (
            vec![
                "release",
                "create",
                "--deployment",
                "svc",
                "--name",
                "x",
                "--image",
                "registry.example/svc:latest",
            ],
            "REF@sha256",
        ),
        (
            vec!["release", "create", "--deployment", "nope", "--name", "x"],
            "no deployment named \"nope\"",
        ),
        (
            vec![
                "release",
                "create",
                "--deployment",
                "svc",
                "--name",
                "x",
                "--runner",
                "vllm",
            ],
            "NAME==VERSION",
        ),
        (
            vec!["observe", "--deployment", "nope", "--model-sha256", &hash],
            "no deployment named \"nope\"",
        ),
        (
            vec!["observe", "--deployment", "svc", "--model-sha256", "abc"],
            "is not a SHA-256",
        ),
        (vec!["observe", "--deployment", "svc"], "says nothing"),
        (
            vec!["drift", "--deployment", "svc"],
            "needs a release and an observation",
        ),
        (
            vec!["release", "show", "svc", "nope"],
            "no release named \"nope\"",
        ),
        (
            vec!["release", "rollback-target", "svc"],
            "no release to roll back to",
        ),
    ];
    for (args, expected) in cases {
        let out = aibomdb(&db, &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(expected),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    assert_eq!(fingerprint(&db), before);
}

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

/// A release exports as CycloneDX 1.6 (valid against the official schema,
/// strict) and as an in-toto Statement v1 (valid by the in-toto project's
/// own bindings), each carrying the released digests, the evaluation and
/// the approval.
#[test]
fn releases_export_as_cyclonedx_and_in_toto() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _) = deployment(&dir);
    let image = format!("registry.example/svc@sha256:{}", "cd".repeat(32));
    let r1 = run_ok(
        &db,
        &[
            "release",
            "create",
            "--deployment",
            "svc",
            "--name",
            "r1",
            "--eval",
            &lm_eval(),
            "--image",
            &image,
            "--approved-by",
            "alice@example.org",
            "--format",
            "json",
        ],
    );
    let config = config_digest(&r1);
    let cdx = dir.path().join("r1.cdx.json");
    run_ok_quiet(
        &db,
        &[
            "release",
            "export",
            "svc",
            "r1",
            "--out",
            cdx.to_str().unwrap(),
        ],
    );
    let verdict = common::validator(
        "validate_export.py",
        &["cyclonedx-1.6", cdx.to_str().unwrap()],
    );
    assert_eq!(verdict["ok"], true, "{verdict}");
    let bom: Value = serde_json::from_slice(&std::fs::read(&cdx).unwrap()).unwrap();
    let model = bom["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "machine-learning-model")
        .unwrap();
    assert!(
        model["components"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["name"] == "adapter_config.json" && f["hashes"][0]["content"] == config)
    );
    let task = &bom["formulation"][0]["workflows"][0]["tasks"][0];
    assert!(
        task["properties"]
            .as_array()
            .unwrap()
            .iter()
            .any(
                |p| p["name"] == "aibomdb:metric:mmlu_abstract_algebra:acc" && p["value"] == "0.34"
            )
    );
    assert_eq!(
        bom["declarations"]["affirmation"]["signatories"][0]["name"],
        "alice@example.org"
    );
    let statement = dir.path().join("r1.intoto.json");
    run_ok_quiet(
        &db,
        &[
            "release",
            "export",
            "svc",
            "r1",
            "--format",
            "in-toto",
            "--out",
            statement.to_str().unwrap(),
        ],
    );
    let verdict = common::validator("validate_intoto.py", &[statement.to_str().unwrap()]);
    assert_eq!(verdict["ok"], true, "{verdict}");
    assert_eq!(
        verdict["predicateType"],
        "https://in-toto.io/attestation/release/v0.1"
    );
    let s: Value = serde_json::from_slice(&std::fs::read(&statement).unwrap()).unwrap();
    let digests: Vec<&str> = s["subject"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["digest"]["sha256"].as_str().unwrap())
        .collect();
    assert!(digests.contains(&config.as_str()));
    assert!(digests.contains(&"cd".repeat(32).as_str()));
    assert_eq!(s["predicate"]["releaseId"], "r1");
    // The validators do reject what is wrong (the test can fail).
    let mut broken = s.clone();
    broken["subject"][0]
        .as_object_mut()
        .unwrap()
        .remove("digest");
    let bad = dir.path().join("bad.intoto.json");
    std::fs::write(&bad, broken.to_string()).unwrap();
    assert_eq!(
        common::validator("validate_intoto.py", &[bad.to_str().unwrap()])["ok"],
        false
    );
    let mut broken = bom.clone();
    broken["declarations"]["affirmation"]["signatories"][0]
        .as_object_mut()
        .unwrap()
        .remove("organization");
    let bad = dir.path().join("bad.cdx.json");
    std::fs::write(&bad, broken.to_string()).unwrap();
    assert_eq!(
        common::validator(
            "validate_export.py",
            &["cyclonedx-1.6", bad.to_str().unwrap()]
        )["ok"],
        false
    );
}

fn run_ok_quiet(db: &Path, args: &[&str]) {
    let out = aibomdb(db, args);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
}
