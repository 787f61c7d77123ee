//! Helpers for the release suites (`tests/releases*.rs`): a deployment of
//! the dev corpus's uv.lock and a copy of the corpus's LLaMA-Factory LoRA
//! adapter, and the evaluation results of tests/fixtures/evals.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{aibomdb, corpus, json, stderr};

pub const REVISION: &str = "0123456789abcdef0123456789abcdef01234567";

pub fn run_ok(db: &Path, args: &[&str]) -> Value {
    let out = aibomdb(db, args);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    json(&out)
}

pub fn evals() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/evals")
}

pub fn lm_eval() -> String {
    evals()
        .join("lm-eval-results_2025-01-21T00-40-03.356274.json")
        .display()
        .to_string()
}

pub fn evaluate_save() -> String {
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
pub fn deployment(temp: &tempfile::TempDir) -> (super::TestDb, PathBuf) {
    let dir = temp.path();
    let db = super::db(temp);
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

pub fn ingest_adapter(db: &Path, model: &Path) {
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

pub fn config_digest(release: &Value) -> String {
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

pub fn run_ok_quiet(db: &Path, args: &[&str]) {
    let out = aibomdb(db, args);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
}
