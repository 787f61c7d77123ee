//! Every input a fuzz target ever crashed on, kept under
//! `tests/fixtures/fuzz/<target>/` and fed to the same entry point the target
//! uses (see `fuzz/fuzz_targets/`). Each must now give a result or an error,
//! never a panic.

use std::path::Path;

/// The file names the `document` target picks from by the first byte.
const DOCUMENT_NAMES: &[&str] = &[
    "sbom.json",
    "uv.lock",
    "poetry.lock",
    "pdm.lock",
    "pylock.toml",
    "requirements.txt",
    "Pipfile.lock",
    "README.md",
    "config.json",
    "adapter_config.json",
];

fn inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/fuzz")
        .join(target);
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("entry").path())
        .map(|p| (p.display().to_string(), std::fs::read(&p).expect("read")))
        .collect();
    out.sort();
    out
}

#[test]
fn document_crashes_stay_fixed() {
    let inputs = inputs("document");
    assert!(!inputs.is_empty());
    for (path, data) in inputs {
        let (&pick, bytes) = data.split_first().expect("non-empty");
        let name = DOCUMENT_NAMES[pick as usize % DOCUMENT_NAMES.len()];
        let result = std::panic::catch_unwind(|| aibomdb_ingest::prepare_upload(name, bytes));
        assert!(result.is_ok(), "{path} (read as {name}) panicked");
    }
}
