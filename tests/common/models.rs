//! What the model tests share: their fixtures (tests/fixtures/models, made
//! by make.sh) and `ingest-model` as JSON.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{aibomdb, json};

/// A fixture made by tests/fixtures/models/make.sh.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/models")
        .join(name)
}

pub fn ingest_model(db: &Path, args: &[&str]) -> Value {
    let mut all = vec!["ingest-model"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--format", "json"]);
    json(&aibomdb(db, &all))
}

pub fn artifact<'a>(model: &'a Value, path: &str) -> &'a Value {
    model["info"]["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["path"] == path)
        .unwrap_or_else(|| panic!("no artifact {path} in {model}"))
}
