//! in-toto attestations through `aibomdb ingest`: SLSA provenance and OpenSSF
//! model-signing statements, bare, in DSSE envelopes and in Sigstore bundles;
//! subjects bound by digest to model files and images the graph holds; the
//! signature reported verified only when it verified. Fixtures:
//! `tests/fixtures/attestations/make.sh` (in-toto-attestation,
//! securesystemslib, pip) and the corpus' model-signing bundles.

mod common;

use std::path::Path;

use aibomdb_graph::Attestation;
use common::{aibomdb, corpus, fingerprint, json, stderr};
use serde_json::Value;

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/attestations")
        .join(name)
        .to_str()
        .unwrap()
        .to_string()
}

fn model_fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/models")
        .join(name)
        .to_str()
        .unwrap()
        .to_string()
}

fn signing(rel: &str) -> String {
    corpus()
        .join("formats/model-signing")
        .join(rel)
        .to_str()
        .unwrap()
        .to_string()
}

fn store(dir: &tempfile::TempDir) -> common::TestDb {
    common::db(dir)
}

/// `ingest --format json` of one file: its row (the test fails on an error).
fn ingest(db: &Path, args: &[&str]) -> Value {
    let mut all = vec!["ingest", "--format", "json"];
    all.extend_from_slice(args);
    let rows = json(&aibomdb(db, &all));
    assert_eq!(rows.as_array().unwrap().len(), 1, "{rows}");
    rows[0].clone()
}

fn notes(row: &Value) -> Vec<String> {
    row["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap().to_string())
        .collect()
}

/// The attestation facts the document stored on its subjects.
fn attested(db: &Path, document: u64) -> Vec<(String, Attestation, Vec<String>)> {
    let s = common::open(db);
    s.document_packages(document)
        .unwrap()
        .into_iter()
        .filter_map(|(p, o)| {
            o.fact
                .attestation
                .clone()
                .map(|a| (p.key.clone(), *a, o.fact.flags.clone()))
        })
        .collect()
}

fn ingest_finetune(db: &Path) {
    let out = aibomdb(
        db,
        &[
            "ingest-model",
            &model_fixture("finetune-safetensors"),
            "--format",
            "json",
        ],
    );
    json(&out);
}

#[test]
fn signed_provenance_binds_to_the_model_file_it_names() {
    let dir = tempfile::tempdir().unwrap();
    let db = store(&dir);
    ingest_finetune(&db);
    let row = ingest(
        &db,
        &[
            &fixture("model-provenance.dsse.json"),
            "--signing-key",
            &fixture("signer.pub.pem"),
        ],
    );
    assert_eq!(row["format"], "in-toto attestation");
    let notes = notes(&row);
    assert!(notes[0].ends_with("signature verified (key)"), "{notes:?}");
    assert!(
        notes[1].contains(
            "bound to model artifact model.safetensors of pkg:generic/finetune-safetensors"
        ),
        "{notes:?}"
    );
    let doc = row["document"].as_u64().unwrap();
    let subjects = attested(&db, doc);
    assert_eq!(subjects.len(), 1);
    let (key, a, flags) = &subjects[0];
    assert_eq!(key, "pkg:generic/finetune-safetensors");
    assert!(flags.is_empty());
    assert_eq!(a.predicate_type, "https://slsa.dev/provenance/v1");
    assert_eq!(a.envelope, "dsse");
    assert_eq!(a.signature.status, "verified");
    assert_eq!(
        a.builder_id.as_deref(),
        Some("https://github.com/aibomdb/fixtures/builder@v1")
    );
    assert_eq!(
        a.build_type.as_deref(),
        Some("https://github.com/aibomdb/fixtures/train@v1")
    );
    let bound = a.bound.as_ref().unwrap();
    assert_eq!(bound.path.as_deref(), Some("model.safetensors"));
    assert_eq!(bound.deployment, "finetune-safetensors");

    // The resolved dependencies hang off the model: PyPI wheels as PyPI
    // packages (digest kept), the dataset URL as a generic node.
    let out = json(&aibomdb(
        &db,
        &[
            "query",
            "deployments",
            "--purl",
            "pkg:pypi/safetensors@0.8.0",
            "--format",
            "json",
        ],
    ))["hits"]
        .clone();
    let hit = &out.as_array().unwrap()[0];
    assert_eq!(hit["deployment"], "finetune-safetensors");
    assert_eq!(hit["scope"], "build");
    let path: Vec<&str> = hit["path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(path[2], "pkg:generic/finetune-safetensors");
    let s = common::open(&db);
    let keys: Vec<(String, Vec<String>)> = s
        .document_packages(doc)
        .unwrap()
        .into_iter()
        .map(|(p, o)| (p.key, o.fact.hashes.iter().map(|h| h.alg.clone()).collect()))
        .collect();
    assert!(keys.contains(&("pkg:pypi/numpy@2.4.6".into(), vec!["sha256".into()])));
    assert!(keys.iter().any(
        |(k, _)| k == "pkg:generic/https:%2F%2Fhuggingface.co%2Fdatasets%2Fstanfordnlp%2Fimdb"
    ));
    drop(s);
    // Still one model: the attestation does not describe a second one.
    let models = json(&aibomdb(&db, &["query", "models", "--format", "json"]));
    assert_eq!(models.as_array().unwrap().len(), 1);
    // The deployment's CycloneDX export says what was attested of the model.
    let bom = json(&aibomdb(
        &db,
        &[
            "export",
            "--deployment",
            "finetune-safetensors",
            "--format",
            "cyclonedx-1.6",
        ],
    ));
    let model = bom["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["purl"] == "pkg:generic/finetune-safetensors")
        .unwrap();
    let attested: Vec<&str> = model["properties"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["name"] == "aibomdb:attestation")
        .map(|p| p["value"].as_str().unwrap())
        .collect();
    assert_eq!(
        attested,
        [
            "https://slsa.dev/provenance/v1 (dsse), signature verified, builder https://github.com/aibomdb/fixtures/builder@v1, subject model.safetensors"
        ]
    );
}

#[test]
fn a_wrong_key_is_invalid_and_no_key_is_unverified() {
    for (key, status) in [
        (Some(fixture("other.pub.pem")), "signature invalid"),
        (None, "unverified (no key given)"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let db = store(&dir);
        ingest_finetune(&db);
        let file = fixture("model-provenance.dsse.json");
        let mut args = vec![file.as_str()];
        if let Some(k) = &key {
            args.extend(["--signing-key", k.as_str()]);
        }
        let row = ingest(&db, &args);
        let notes = notes(&row);
        assert!(
            notes[0].contains(&format!("signature {status}")),
            "{notes:?}"
        );
        assert!(
            !notes.iter().any(|n| n.contains("signature verified")),
            "{notes:?}"
        );
        let doc = row["document"].as_u64().unwrap();
        let (_, a, _) = &attested(&db, doc)[0];
        assert_eq!(a.signature.status, status);
        assert!(!a.signature.is_verified());
        // The document says so too.
        let record = common::open(&db).document(doc).unwrap().unwrap();
        assert!(
            record
                .warnings
                .iter()
                .any(|w| w == &format!("signature: {status} (key)")),
            "{:?}",
            record.warnings
        );
    }
    // A key file that is no key: refused before anything is read.
    let dir = tempfile::tempdir().unwrap();
    let db = store(&dir);
    let out = aibomdb(
        &db,
        &[
            "ingest",
            &fixture("model-provenance.dsse.json"),
            "--signing-key",
            &fixture("unbound.intoto.json"),
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--signing-key"), "{}", stderr(&out));
}

#[test]
fn subjects_that_match_nothing_are_reported_not_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let db = store(&dir);
    ingest_finetune(&db);
    let row = ingest(&db, &[&fixture("unbound.intoto.json")]);
    let notes = notes(&row);
    assert!(
        notes[0].ends_with("test-result/v0.1: signature unsigned (bare statement) (none)"),
        "{notes:?}"
    );
    assert!(
        notes[1].contains("subject optimizer.pt (sha256:")
            && notes[1].contains("matches no model file or image in the graph"),
        "{notes:?}"
    );
    let doc = row["document"].as_u64().unwrap();
    let subjects = attested(&db, doc);
    let (key, a, flags) = &subjects[0];
    assert_eq!(key, "pkg:generic/optimizer.pt");
    assert_eq!(
        a.predicate_type,
        "https://in-toto.io/attestation/test-result/v0.1"
    );
    assert!(a.bound.is_none());
    assert!(flags.iter().any(|f| f.starts_with("unbound")));
    let record = common::open(&db).document(doc).unwrap().unwrap();
    assert!(record.warnings.iter().any(|w| w.contains("optimizer.pt")));
    assert!(
        record
            .warnings
            .iter()
            .any(|w| w.contains("not interpreted"))
    );
}

#[test]
fn an_image_subject_binds_to_the_image_an_sbom_named() {
    let dir = tempfile::tempdir().unwrap();
    let db = store(&dir);
    let sbom = corpus().join("formats/cyclonedx/guac-testdata/busybox-cyclonedx.json");
    let first = ingest(&db, &[sbom.to_str().unwrap()]);
    let row = ingest(&db, &[&fixture("image-provenance.dsse.json")]);
    let notes = notes(&row);
    assert!(notes[1].contains("bound to image pkg:"), "{notes:?}");
    let (key, a, _) = &attested(&db, row["document"].as_u64().unwrap())[0];
    let bound = a.bound.as_ref().unwrap();
    assert_eq!(bound.what, "image");
    assert_eq!(bound.document, first["document"].as_u64().unwrap());
    assert!(
        key.ends_with("@sha256:bf5e28853a83134e949201fb5979927a9e5cc74cb747b7a080d96eaba1303411")
    );
}

#[test]
fn broken_attestations_are_refused_whole() {
    let dir = tempfile::tempdir().unwrap();
    let db = store(&dir);
    ingest_finetune(&db);
    for (file, field) in [
        ("truncated.dsse.json", "in `payload`: EOF while parsing"),
        ("no-subject.dsse.json", "field `payload.subject`: missing"),
    ] {
        let before = fingerprint(&db);
        let path = fixture(file);
        let out = aibomdb(
            &db,
            &["ingest", &path, "--signing-key", &fixture("signer.pub.pem")],
        );
        assert_eq!(out.status.code(), Some(2), "{file}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains(&path), "{err}");
        assert!(err.contains(field), "{err}");
        assert_eq!(fingerprint(&db), before, "{file} wrote something");
    }
}

#[test]
fn model_signing_bundles_bind_through_their_signed_files() {
    let dir = tempfile::tempdir().unwrap();
    let db = store(&dir);
    let model = signing("v1.1.0-elliptic-key");
    json(&aibomdb(&db, &["ingest-model", &model, "--format", "json"]));
    let bundle = signing("v1.1.0-elliptic-key/model.sig");
    let row = ingest(
        &db,
        &[
            &bundle,
            "--signing-key",
            &signing("keys/signing-key-pub.pem"),
        ],
    );
    let n = notes(&row);
    assert!(
        n[0].ends_with("model_signing/signature/v1.0: signature verified (key)"),
        "{n:?}"
    );
    assert!(
        n[1].contains("of pkg:generic/v1.1.0-elliptic-key")
            && n[1].ends_with("2 of 3 signed digests found in the graph"),
        "{n:?}"
    );
    let (_, a, _) = &attested(&db, row["document"].as_u64().unwrap())[0];
    assert_eq!(a.envelope, "sigstore-bundle");
    assert_eq!(a.resources.len(), 2);

    // The same bundle checked with a key that did not sign it.
    let dir = tempfile::tempdir().unwrap();
    let db = store(&dir);
    json(&aibomdb(&db, &["ingest-model", &model, "--format", "json"]));
    let row = ingest(&db, &[&bundle, "--signing-key", &fixture("signer.pub.pem")]);
    assert!(notes(&row)[0].ends_with("signature signature invalid (key)"));

    // A certificate bundle: the chain to the CA given, at a time it is valid.
    let dir = tempfile::tempdir().unwrap();
    let db = store(&dir);
    let row = ingest(
        &db,
        &[
            &signing("v1.1.0-certificate/model.sig"),
            "--signing-cert-chain",
            &signing("keys/ca-cert.pem"),
            "--verify-at",
            "1767225600",
        ],
    );
    let n = notes(&row);
    assert!(
        n[0].contains("signature verified (certificate, signer "),
        "{n:?}"
    );
    // Without the model in the graph its subject stays unbound.
    assert!(n[1].contains("matches no model file or image"), "{n:?}");
    // And without an anchor, never verified.
    let dir = tempfile::tempdir().unwrap();
    let db = store(&dir);
    let row = ingest(&db, &[&signing("v1.1.0-certificate/model.sig")]);
    assert!(notes(&row)[0].contains("signature unverified (no trust anchor given) (certificate"));
}
