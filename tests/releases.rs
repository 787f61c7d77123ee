//! Releases, observations and drift end to end on real inputs: the dev
//! corpus's uv.lock plus a copy of the corpus's LLaMA-Factory LoRA adapter
//! directory, with lm-evaluation-harness and `evaluate.save` results
//! (tests/fixtures/evals/SOURCES.md). Release 1, a changed adapter, release
//! 2: the diff names the changed digest, an observation of release 1's file
//! drifts against release 2, and the rollback target is release 1. Bad input
//! writes nothing; releases never change.

mod common;

use common::releases::{
    REVISION, config_digest, deployment, evaluate_save, ingest_adapter, lm_eval, run_ok,
    run_ok_quiet,
};
use common::{aibomdb, fingerprint, stderr};
use serde_json::Value;

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
