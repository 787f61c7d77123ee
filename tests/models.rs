//! Model lineage and integrity through the CLI, on real model directories
//! (a PEFT LoRA adapter repo and a Trainer checkpoint from the corpus) and on
//! fixtures made with huggingface_hub, safetensors and Python's pickle
//! (tests/fixtures/models/make.sh). Signatures, pickle findings in depth and
//! approvals are in tests/model_integrity.rs.

mod common;

use common::models::{artifact, fixture, ingest_model};
use common::{aibomdb, corpus, fingerprint, json, stderr};
use serde_json::Value;

fn hf(name: &str) -> String {
    corpus()
        .join("formats/huggingface")
        .join(name)
        .to_str()
        .unwrap()
        .to_string()
}

#[test]
fn peft_adapter_repo_links_to_its_base_and_keeps_lfs_digests() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    let out = ingest_model(
        &db,
        &[
            &hf("cognix-openmodel"),
            "--deployment",
            "chat",
            "--id",
            "cognix/openmodel",
        ],
    );
    let m = &out["model"];
    assert_eq!(m["purl"], "pkg:huggingface/cognix/openmodel");
    assert_eq!(m["info"]["kind"], "adapter");
    assert_eq!(m["info"]["peft_type"], "LORA");
    assert_eq!(m["info"]["license"], "mit");
    assert_eq!(m["info"]["quantization"], "bitsandbytes nf4 4-bit");
    assert_eq!(m["info"]["architectures"][0], "LlamaForCausalLM");
    // The card, adapter_config.json and config.json all name the same base.
    assert_eq!(
        m["derived_from"],
        serde_json::json!([{"relation": "adapter", "purl": "pkg:huggingface/unsloth/meta-llama-3.1-8b-bnb-4bit"}])
    );
    // Only the LFS pointers are in the repo: the published digest is kept,
    // and the weights are reported missing, not verified.
    let weights = artifact(m, "adapter_model.safetensors");
    assert_eq!(weights["integrity"], "not present");
    assert_eq!(
        weights["references"][0][1],
        "04ec89671cf582ef6c477bb2fa6fc028a9484d6dd6510df3b1e2bf617793ccf0"
    );
    assert!(m["findings"].as_array().unwrap().iter().any(|f| {
        f["kind"] == "not-present"
            && f["path"] == "adapter_model.safetensors"
            && f["message"]
                .as_str()
                .unwrap()
                .starts_with("adapter_model.safetensors: only a published digest")
    }));
}

#[test]
fn deployments_running_an_adapter_on_a_base_model() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    ingest_model(
        &db,
        &[
            &hf("llamafactory-pr7074-checkpoint-900"),
            "--deployment",
            "support-bot",
        ],
    );
    ingest_model(
        &db,
        &[
            &hf("cognix-openmodel"),
            "--deployment",
            "chat",
            "--id",
            "cognix/openmodel",
        ],
    );
    let hits = json(&aibomdb(
        &db,
        &[
            "query",
            "deployments",
            "--purl",
            "pkg:huggingface/meta-llama/Llama-3.2-3B-Instruct",
            "--format",
            "json",
        ],
    ))["hits"]
        .clone();
    let hits = hits.as_array().unwrap();
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0]["deployment"], "support-bot");
    let path: Vec<(&str, &str)> = hits[0]["path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["via"].as_str().unwrap(), s["id"].as_str().unwrap()))
        .collect();
    assert_eq!(
        &path[2..],
        [
            (
                "describes",
                "pkg:generic/llamafactory-pr7074-checkpoint-900"
            ),
            (
                "derived_from:adapter",
                "pkg:huggingface/meta-llama/Llama-3.2-3B-Instruct"
            ),
        ]
    );
}

#[test]
fn finetune_with_verified_weights_and_its_training_dataset() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    let out = ingest_model(
        &db,
        &[
            fixture("finetune-safetensors").to_str().unwrap(),
            "--deployment",
            "classifier",
            "--id",
            "aibomdb-test/bert-imdb",
            "--revision",
            "0123abc",
        ],
    );
    let m = &out["model"];
    assert_eq!(m["purl"], "pkg:huggingface/aibomdb-test/bert-imdb@0123abc");
    assert_eq!(m["info"]["kind"], "fine-tune");
    assert_eq!(
        m["derived_from"][0]["purl"],
        "pkg:huggingface/google-bert/bert-base-uncased"
    );
    assert_eq!(
        m["trained_on"],
        serde_json::json!(["pkg:generic/huggingface-datasets/stanfordnlp/imdb"])
    );
    let weights = artifact(m, "model.safetensors");
    assert_eq!(weights["integrity"], "verified");
    assert_eq!(weights["tensors"], 2);
    // The digest is the file's: compare with an independent hash.
    let bytes = std::fs::read(fixture("finetune-safetensors/model.safetensors")).unwrap();
    let sums = std::fs::read_to_string(fixture("finetune-safetensors/SHA256SUMS")).unwrap();
    assert!(sums.contains(weights["sha256"].as_str().unwrap()));
    assert_eq!(weights["size"], bytes.len());
    // "Which models were trained on dataset D" is a blast-radius question.
    let hits = json(&aibomdb(
        &db,
        &[
            "query",
            "deployments",
            "--purl",
            "pkg:generic/huggingface-datasets/stanfordnlp/imdb",
            "--format",
            "json",
        ],
    ))["hits"]
        .clone();
    assert_eq!(hits[0]["deployment"], "classifier");
    assert_eq!(
        hits[0]["path"].as_array().unwrap().last().unwrap()["via"],
        "trained_on"
    );
    // Ingesting the unchanged directory again writes nothing.
    let before = fingerprint(&db);
    let again = ingest_model(
        &db,
        &[
            fixture("finetune-safetensors").to_str().unwrap(),
            "--deployment",
            "classifier",
            "--id",
            "aibomdb-test/bert-imdb",
            "--revision",
            "0123abc",
        ],
    );
    assert_eq!(again["status"], "unchanged");
    assert_eq!(fingerprint(&db), before);
}

#[test]
fn pickles_that_would_run_code_and_tampered_files_are_findings() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    let out = ingest_model(
        &db,
        &[
            fixture("checkpoint-pickle").to_str().unwrap(),
            "--deployment",
            "trainer",
        ],
    );
    let m = &out["model"];
    let zip = artifact(m, "pytorch_model.bin");
    assert_eq!(zip["format"], "torch-zip");
    assert_eq!(
        zip["pickle"]["dangerous_imports"],
        serde_json::json!(["posix.system"])
    );
    assert_eq!(zip["integrity"], "verified");
    let proto0 = artifact(m, "training_args.bin");
    assert_eq!(
        proto0["pickle"]["dangerous_imports"],
        serde_json::json!(["posix.system"])
    );
    let benign = artifact(m, "optimizer.pt");
    assert_eq!(
        benign["pickle"]["imports"],
        serde_json::json!(["collections.OrderedDict"])
    );
    assert_eq!(benign["pickle"]["dangerous_imports"], serde_json::json!([]));
    assert_eq!(benign["pickle"]["unknown_imports"], serde_json::json!([]));
    assert_eq!(benign["pickle"]["error"], Value::Null);
    // Appended to after SHA256SUMS was written.
    assert_eq!(benign["integrity"], "mismatch");
    // The release gate: exit 1 while a model has findings.
    let gate = aibomdb(&db, &["query", "models", "--risky", "--format", "json"]);
    assert_eq!(gate.status.code(), Some(1), "{}", stderr(&gate));
    let risky: Value = serde_json::from_slice(&gate.stdout).unwrap();
    let findings: Vec<&str> = risky[0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["message"].as_str().unwrap())
        .collect();
    assert!(
        findings
            .iter()
            .any(|f| f.starts_with("pytorch_model.bin: pickle imports posix.system"))
    );
    assert!(
        findings
            .iter()
            .any(|f| f.starts_with("optimizer.pt: SHA-256"))
    );
}

#[test]
fn bad_model_directories_exit_2_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    ingest_model(
        &db,
        &[
            &hf("llamafactory-pr7074-checkpoint-900"),
            "--deployment",
            "x",
        ],
    );
    let before = fingerprint(&db);
    // An adapter_config.json cut short.
    let bad = dir.path().join("bad-adapter");
    std::fs::create_dir(&bad).unwrap();
    let text = std::fs::read_to_string(
        corpus().join("formats/huggingface/cognix-openmodel/adapter_config.json"),
    )
    .unwrap();
    std::fs::write(bad.join("adapter_config.json"), &text[..text.len() / 2]).unwrap();
    let out = aibomdb(&db, &["ingest-model", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("adapter_config.json") && err.contains("line"),
        "{err}"
    );
    // Card metadata that is not a mapping (huggingface_hub's own invalid fixture).
    let bad_card = dir.path().join("bad-card");
    std::fs::create_dir(&bad_card).unwrap();
    std::fs::copy(
        corpus()
            .join("formats/huggingface/huggingface_hub-fixtures/cards/sample_invalid_card_data.md"),
        bad_card.join("README.md"),
    )
    .unwrap();
    let out = aibomdb(&db, &["ingest-model", bad_card.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("README.md"), "{}", stderr(&out));
    // A file, not a directory.
    let out = aibomdb(
        &db,
        &[
            "ingest-model",
            bad.join("adapter_config.json").to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(fingerprint(&db), before);
}

/// Lineage from the AI BOM formats lands in the same nodes and edges: SPDX 3's
/// AI profile (trainedOn/testedOn) and CycloneDX's ML-BOM (modelCard datasets).
#[test]
fn ai_bom_documents_carry_lineage_too() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    let spdx =
        corpus().join("formats/spdx/3.0/spdx-examples/ai/example01/spdx3.0/simplehtr-example.json");
    let cdx = corpus().join("formats/cyclonedx/spec-testdata/1.6/valid-machine-learning-1.6.json");
    for f in [&spdx, &cdx] {
        let out = aibomdb(&db, &["ingest", f.to_str().unwrap()]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let models = json(&aibomdb(&db, &["query", "models", "--format", "json"]));
    let by: std::collections::BTreeMap<&str, &Value> = models
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["purl"].as_str().unwrap(), m))
        .collect();
    for m in ["pkg:generic/word-model@0.0", "pkg:generic/line-model@0.0"] {
        assert_eq!(
            by[m]["trained_on"],
            serde_json::json!(["pkg:generic/IAMdataset"]),
            "{m}"
        );
        assert_eq!(
            by[m]["evaluated_on"],
            serde_json::json!(["pkg:generic/IAMdataset"]),
            "{m}"
        );
        assert_eq!(by[m]["info"]["sources"][0], "SPDX 3 ai_AIPackage");
    }
    let sd = by
        .values()
        .find(|m| m["purl"].as_str().unwrap().contains("stable-diffusion"))
        .expect("the ML-BOM's model");
    assert_eq!(sd["info"]["sources"][0], "CycloneDX modelCard");
    assert_eq!(sd["trained_on"].as_array().unwrap().len(), 1);
}

/// The model-info JSON bodies recorded in huggingface_hub's VCR cassettes.
fn hub_infos() -> Vec<Value> {
    let dir = corpus().join("formats/huggingface/huggingface_hub-cassettes");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        let cassette: Value = serde_saphyr::from_str(&text).unwrap();
        for i in cassette["interactions"].as_array().unwrap() {
            if let Some(body) = i["response"]["body"]["string"].as_str()
                && let Ok(v) = serde_json::from_str::<Value>(body)
                && v.get("modelId").is_some()
            {
                out.push(v);
            }
        }
    }
    out
}

#[test]
fn hub_model_info_gives_revision_lineage_and_datasets() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    let infos = hub_infos();
    assert!(infos.len() >= 3, "{}", infos.len());
    for (i, v) in infos.iter().enumerate() {
        let f = dir.path().join(format!("info-{i}.json"));
        std::fs::write(&f, v.to_string()).unwrap();
        let out = aibomdb(&db, &["ingest", "--deployment", "hub", f.to_str().unwrap()]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let models = json(&aibomdb(&db, &["query", "models", "--format", "json"]));
    let squad = models
        .as_array()
        .unwrap()
        .iter()
        .find(|m| {
            m["purl"]
                .as_str()
                .unwrap()
                .starts_with("pkg:huggingface/deepset/roberta-base-squad2@")
        })
        .expect("roberta squad2");
    // The revision is the repo commit; the Hub's derived tag names the relation.
    assert_eq!(
        squad["purl"],
        "pkg:huggingface/deepset/roberta-base-squad2@adc3b06f79f797d1c575d5479d6f5efe54a9e3b4"
    );
    assert_eq!(
        squad["derived_from"],
        serde_json::json!([{"relation": "finetune", "purl": "pkg:huggingface/FacebookAI/roberta-base"}])
    );
    assert!(
        squad["trained_on"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d == "pkg:generic/huggingface-datasets/squad_v2")
    );
    assert_eq!(squad["info"]["license"], "cc-by-4.0");
    // A remote listing is not a local copy: no "file is not here" findings.
    assert_eq!(squad["findings"], serde_json::json!([]));
    let bert = models
        .as_array()
        .unwrap()
        .iter()
        .find(|m| {
            m["purl"]
                .as_str()
                .unwrap()
                .starts_with("pkg:huggingface/google-bert/bert-base-uncased@")
        })
        .expect("bert");
    assert_eq!(bert["info"]["kind"], "base");
    assert_eq!(bert["trained_on"].as_array().unwrap().len(), 2);
}

/// Lineage up (bases, datasets) and down (adapters, fine-tunes), and the
/// deployments that run a model or anything built on it — including through
/// lineage that only another document states (the Hub's model info).
#[test]
fn lineage_walks_and_deployments_running_a_base() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    ingest_model(
        &db,
        &[
            fixture("finetune-safetensors").to_str().unwrap(),
            "--deployment",
            "classifier",
            "--id",
            "aibomdb-test/bert-imdb",
        ],
    );
    ingest_model(
        &db,
        &[
            &hf("llamafactory-pr7074-checkpoint-900"),
            "--deployment",
            "support-bot",
        ],
    );
    let up = json(&aibomdb(
        &db,
        &[
            "query",
            "lineage",
            "aibomdb-test/bert-imdb",
            "--direction",
            "up",
            "--format",
            "json",
        ],
    ));
    let level = |g: &Value, purl: &str| -> Option<i64> {
        g["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["purl"] == purl)
            .map(|n| n["level"].as_i64().unwrap())
    };
    // The card's `base_model` and `datasets` (tests/fixtures/models/make.sh).
    assert_eq!(
        level(&up, "pkg:huggingface/aibomdb-test/bert-imdb"),
        Some(0)
    );
    assert_eq!(
        level(&up, "pkg:huggingface/google-bert/bert-base-uncased"),
        Some(-1)
    );
    assert_eq!(
        level(&up, "pkg:generic/huggingface-datasets/stanfordnlp/imdb"),
        Some(-1)
    );
    let relations: Vec<&str> = up["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["relation"].as_str().unwrap())
        .collect();
    assert_eq!(relations, ["derived_from:finetune", "trained_on"]);
    // Down from the base: the fine-tune. Down from the dataset: the model trained on it.
    let down = json(&aibomdb(
        &db,
        &[
            "query",
            "lineage",
            "google-bert/bert-base-uncased",
            "--direction",
            "down",
            "--format",
            "json",
        ],
    ));
    assert_eq!(
        level(&down, "pkg:huggingface/aibomdb-test/bert-imdb"),
        Some(1)
    );
    let from_dataset = json(&aibomdb(
        &db,
        &["query", "lineage", "stanfordnlp/imdb", "--format", "json"],
    ));
    assert_eq!(
        level(&from_dataset, "pkg:huggingface/aibomdb-test/bert-imdb"),
        Some(1)
    );
    // The adapter checkpoint's base: adapter_config.json's base_model_name_or_path.
    let llama = json(&aibomdb(
        &db,
        &[
            "query",
            "lineage",
            "meta-llama/Llama-3.2-3B-Instruct",
            "--format",
            "json",
        ],
    ));
    let link = &llama["links"][0];
    assert_eq!(link["relation"], "derived_from:adapter");
    assert_eq!(
        link["from"],
        "pkg:generic/llamafactory-pr7074-checkpoint-900"
    );

    // Cross-document: the Hub says deepset/roberta-base-squad2 is a fine-tune
    // of FacebookAI/roberta-base; a deployment runs a local copy of that
    // revision whose own files state no lineage.
    for (i, v) in hub_infos().iter().enumerate() {
        let f = dir.path().join(format!("info-{i}.json"));
        std::fs::write(&f, v.to_string()).unwrap();
        let out = aibomdb(&db, &["ingest", "--deployment", "hub", f.to_str().unwrap()]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    ingest_model(
        &db,
        &[
            fixture("torchscript-silero").to_str().unwrap(),
            "--deployment",
            "qa-service",
            "--id",
            "deepset/roberta-base-squad2",
            "--revision",
            "adc3b06f79f797d1c575d5479d6f5efe54a9e3b4",
        ],
    );
    let per_document = json(&aibomdb(
        &db,
        &[
            "query",
            "deployments",
            "--purl",
            "pkg:huggingface/FacebookAI/roberta-base",
            "--format",
            "json",
        ],
    ))["hits"]
        .clone();
    let names = |v: &Value, key: &str| -> Vec<String> {
        let mut n: Vec<String> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h.pointer(key).unwrap().as_str().unwrap().to_string())
            .collect();
        n.dedup();
        n
    };
    assert_eq!(names(&per_document, "/deployment"), ["hub"]);
    let running = json(&aibomdb(
        &db,
        &[
            "query",
            "running",
            "FacebookAI/roberta-base",
            "--format",
            "json",
        ],
    ));
    assert_eq!(names(&running, "/hit/deployment"), ["hub", "qa-service"]);
    let qa = running
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["hit"]["deployment"] == "qa-service")
        .unwrap();
    assert_eq!(
        qa["lineage"],
        serde_json::json!([
            "pkg:huggingface/deepset/roberta-base-squad2@adc3b06f79f797d1c575d5479d6f5efe54a9e3b4",
            "(finetune)",
            "pkg:huggingface/FacebookAI/roberta-base"
        ])
    );
    let exact = json(&aibomdb(
        &db,
        &[
            "query",
            "running",
            "FacebookAI/roberta-base",
            "--exact",
            "--format",
            "json",
        ],
    ));
    assert_eq!(names(&exact, "/hit/deployment"), ["hub"]);
    let missing = aibomdb(&db, &["query", "lineage", "nobody/nothing"]);
    assert_eq!(missing.status.code(), Some(2));
}

/// `aibomdb ingest` takes a model directory like any other input, also when
/// it finds one while walking a folder — loose pickles and TorchScript
/// archives without a config too (issue 17).
#[test]
fn ingest_reads_model_directories() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    let out = aibomdb(
        &db,
        &[
            "ingest",
            "--deployment",
            "fixtures",
            fixture("").to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let models = json(&aibomdb(&db, &["query", "models", "--format", "json"]));
    let purls: Vec<&str> = models
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["purl"].as_str().unwrap())
        .collect();
    assert_eq!(
        purls,
        [
            "pkg:generic/checkpoint-pickle",
            "pkg:generic/finetune-safetensors",
            "pkg:generic/gguf-finetune",
            "pkg:generic/gguf-quantized",
            "pkg:generic/keras-lambda",
            "pkg:generic/leaky-finetune",
            "pkg:generic/numpy-arrays",
            "pkg:generic/onnx-custom-op",
            "pkg:generic/pickle-zoo",
            "pkg:generic/torchscript-silero"
        ]
    );
}

/// A model card or config on its own is a model description too, named
/// after its folder; a README without model-card keys is not.
#[test]
fn a_model_card_alone_is_ingested() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    let card = corpus().join("formats/huggingface/llamafactory-pr7074-checkpoint-900/README.md");
    let out = aibomdb(
        &db,
        &["ingest", "--deployment", "cards", card.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let models = json(&aibomdb(&db, &["query", "models", "--format", "json"]));
    let m = &models[0];
    assert_eq!(m["purl"], "pkg:generic/llamafactory-pr7074-checkpoint-900");
    assert_eq!(m["info"]["sources"], serde_json::json!(["README.md"]));
    assert_eq!(m["info"]["library_name"], "peft");
    // The card's front matter: `base_model: meta-llama/Llama-3.2-3B-Instruct`.
    // Without adapter_config.json beside it the relation is the Hub's default.
    assert_eq!(
        m["derived_from"],
        serde_json::json!([{"relation": "finetune", "purl": "pkg:huggingface/meta-llama/Llama-3.2-3B-Instruct"}])
    );
    let plain = dir.path().join("README.md");
    std::fs::write(&plain, "---\ntitle: docs\n---\n# hello\n").unwrap();
    let out = aibomdb(&db, &["ingest", plain.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}
