//! Secrets in model directories (issue 17): fake credentials planted by
//! `tests/fixtures/models/make_secrets.sh` in a training config, a notebook,
//! a pickle and a safetensors header are all found with gitleaks' rules, and
//! the secret itself appears in no output and no byte of the store.

mod common;

use std::path::{Path, PathBuf};

use common::{Server, aibomdb, graphql, stderr, stdout};
use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/models")
        .join(name)
}

/// (secret, rule, files) as make_secrets.sh planted them.
fn planted() -> Vec<(String, String, Vec<String>)> {
    let v: Value =
        serde_json::from_slice(&std::fs::read(fixture("leaky-finetune.secrets.json")).unwrap())
            .unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["secret"].as_str().unwrap().to_string(),
                p["rule"].as_str().unwrap().to_string(),
                p["files"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|f| f.as_str().unwrap().to_string())
                    .collect(),
            )
        })
        .collect()
}

/// No planted secret (nor any line of a multi-line one) occurs in `bytes`.
fn assert_clean(what: &str, bytes: &[u8]) {
    for (secret, rule, _) in planted() {
        let mut needles = vec![secret.clone()];
        // A PEM block: its base64 body too, line by line.
        needles.extend(
            secret
                .lines()
                .filter(|l| !l.starts_with("-----") && l.len() >= 16)
                .map(str::to_string),
        );
        for n in needles {
            assert!(
                !bytes.windows(n.len()).any(|w| w == n.as_bytes()),
                "{what} holds the {rule} secret"
            );
        }
    }
}

#[test]
fn secrets_are_found_and_never_stored_or_shown() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    let model = fixture("leaky-finetune");
    let mut outputs: Vec<(String, Vec<u8>)> = Vec::new();
    let mut keep = |what: &str, o: &std::process::Output| {
        outputs.push((format!("{what} stdout"), o.stdout.clone()));
        outputs.push((format!("{what} stderr"), o.stderr.clone()));
    };
    // Logging on: nothing logged may hold a secret either.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_aibomdb"))
        .args([
            "--db",
            db.to_str().unwrap(),
            "ingest",
            "--deployment",
            "leaky",
        ])
        .arg(&model)
        .env("AIBOMDB_LOG", "debug")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    keep("ingest", &out);
    let out = aibomdb(
        &db,
        &[
            "ingest-model",
            model.to_str().unwrap(),
            "--deployment",
            "leaky",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    keep("ingest-model", &out);

    // Every planted secret is found, in every file it was planted in.
    let q = aibomdb(&db, &["query", "models", "--secrets", "--format", "json"]);
    assert_eq!(q.status.code(), Some(1), "a gate: {}", stderr(&q));
    keep("query json", &q);
    let models: Value = serde_json::from_slice(&q.stdout).unwrap();
    let secrets = models[0]["secrets"].as_array().unwrap();
    for (secret, rule, files) in planted() {
        let fingerprint = aibomdb_secrets_fingerprint(&secret);
        for file in &files {
            let hit = secrets
                .iter()
                .find(|s| s["file"] == file.as_str() && s["fingerprint"] == fingerprint.as_str());
            let hit = hit.unwrap_or_else(|| panic!("{rule} in {file} not found: {secrets:?}"));
            assert_eq!(hit["rule"], rule.as_str(), "{hit}");
            let redacted = hit["redacted"].as_str().unwrap();
            assert!(
                redacted.ends_with('…') && redacted.chars().count() <= 5,
                "{hit}"
            );
        }
    }
    // Near misses (config.json: a SHA-256, a commit hash, a UUID) and the
    // card are not reported; every hit is a planted one.
    let planted_prints: Vec<String> = planted()
        .iter()
        .map(|(s, _, _)| aibomdb_secrets_fingerprint(s))
        .collect();
    for s in secrets {
        assert_ne!(s["file"], "config.json", "{s}");
        assert!(
            planted_prints.contains(&s["fingerprint"].as_str().unwrap().to_string()),
            "not planted: {s}"
        );
    }
    let expected: usize = planted().iter().map(|(_, _, f)| f.len()).sum();
    assert_eq!(secrets.len(), expected, "{secrets:?}");
    let findings = models[0]["findings"].as_array().unwrap();
    assert_eq!(
        findings.iter().filter(|f| f["kind"] == "secret").count(),
        expected
    );
    let table = aibomdb(&db, &["query", "models", "--secrets"]);
    assert_eq!(table.status.code(), Some(1));
    assert!(
        stdout(&table).contains("huggingface-access-token hf_"),
        "{}",
        stdout(&table)
    );
    keep("query table", &table);
    keep(
        "documents",
        &aibomdb(&db, &["documents", "--format", "json"]),
    );

    // The gate's `secrets` rule denies.
    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, "version = 1\n[secrets]\nlevel = \"deny\"\n").unwrap();
    let gate = aibomdb(
        &db,
        &[
            "gate",
            "--policy",
            policy.to_str().unwrap(),
            "--deployment",
            "leaky",
            "--format",
            "json",
        ],
    );
    assert_eq!(
        gate.status.code(),
        Some(1),
        "{}{}",
        stdout(&gate),
        stderr(&gate)
    );
    assert!(stdout(&gate).contains("private-key"), "{}", stdout(&gate));
    keep("gate", &gate);
    // A policy with a typo in the rule is refused, not ignored.
    std::fs::write(&policy, "version = 1\n[secrets]\nlevl = \"deny\"\n").unwrap();
    let bad = aibomdb(
        &db,
        &["gate", "--policy", policy.to_str().unwrap(), "--all"],
    );
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));

    for format in ["cyclonedx-1.6", "cyclonedx-1.5", "spdx-2.3"] {
        let e = aibomdb(
            &db,
            &["export", "--deployment", "leaky", "--format", format],
        );
        assert!(e.status.success(), "{format}: {}", stderr(&e));
        keep(format, &e);
    }

    // GraphQL, and the dashboard's question.
    let server = Server::start(&db, &[]);
    for q in [
        "{models(secrets:true){purl findings{kind path message} secrets{rule file within line offset redacted fingerprint}}}",
        "{deployment(name:\"leaky\"){name models{purl kind signing{status signer} approval{state} findings{kind message}}}}",
    ] {
        let (status, v) = graphql(&server.addr, None, q, serde_json::json!({}));
        assert_eq!(status, 200, "{v}");
        assert!(v.get("errors").is_none(), "{v}");
        outputs.push((format!("graphql {q}"), v.to_string().into_bytes()));
        if q.contains("secrets:true") {
            let found = v["data"]["models"][0]["secrets"].as_array().unwrap().len();
            assert_eq!(found, expected, "{v}");
        }
    }
    server.stop();

    for (what, bytes) in &outputs {
        assert_clean(what, bytes);
    }
    // Every byte of the store file.
    assert_clean("the store file", &common::stored_bytes(&db));
}

fn aibomdb_secrets_fingerprint(secret: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
