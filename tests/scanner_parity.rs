//! Parity with the model scanners users already run (issue 17, part 4).
//! `tests/fixtures/models/parity/record.sh` ran picklescan and modelscan
//! from PyPI once over every pickle, PyTorch, TorchScript, Keras and NumPy
//! fixture and wrote their verdicts, with the tools' versions, to
//! `verdicts.json` (CI need not have either tool). Here aibomdb's verdict on
//! each file — from the same importer plain `ingest` runs — is compared with
//! both. Every file where they differ is listed below with the reason; a new
//! difference, or one listed that no longer happens, fails the test.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use aibomdb_graph::Artifact;
use aibomdb_importer_model::{ModelIdentity, ModelLimits, import_dir};
use serde_json::Value;

fn models_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/models")
}

/// (file, tool, our verdict, theirs, why).
const DIFFERENCES: &[(&str, &str, &str, &str, &str)] = &[
    (
        "checkpoint-pickle/optimizer.pt",
        "modelscan",
        "safe",
        "not scanned",
        "modelscan reads a non-zip .pt/.bin only in torch's legacy layout (a magic \
         number first) and skips a plain pickle under a torch name (\"Invalid magic number\")",
    ),
    (
        "checkpoint-pickle/training_args.bin",
        "modelscan",
        "dangerous",
        "not scanned",
        "as above: a plain pickle named .bin is skipped by modelscan, so its os.system \
         call goes unreported there",
    ),
    (
        "leaky-finetune/training_args.bin",
        "modelscan",
        "safe",
        "not scanned",
        "as above: a plain pickle named .bin (as transformers' Trainer writes it) is skipped",
    ),
    (
        "pickle-zoo/popen.pt",
        "modelscan",
        "dangerous",
        "not scanned",
        "as above: a plain pickle named .pt is skipped, subprocess.Popen unreported",
    ),
    (
        "pickle-zoo/truncated.ckpt",
        "modelscan",
        "unknown",
        "not scanned",
        "as above: a plain (cut) pickle named .ckpt is skipped",
    ),
    (
        "pickle-zoo/truncated.ckpt",
        "picklescan",
        "unknown",
        "safe",
        "picklescan logs that it could not parse the stream but reports no issue; a \
         stream not read to its end may hide an import after the cut, so ours is unknown",
    ),
    (
        "pickle-zoo/garbage.pkl",
        "picklescan",
        "unknown",
        "safe",
        "as above: picklescan reports an unparseable stream as clean (a warning only); \
         modelscan and we call it unknown",
    ),
    (
        "torchscript-silero/silero_vad.jit",
        "picklescan",
        "safe",
        "unknown",
        "picklescan calls TorchScript's __torch__.* classes suspicious; torch.jit.load \
         resolves them against the archive's own compiled code, never a Python import, \
         so they are on our allow-list (modelscan agrees: safe)",
    ),
    (
        "keras-lambda/plain.keras",
        "picklescan",
        "safe",
        "not scanned",
        "picklescan reads pickles and zips of pickles only, not a Keras archive's config",
    ),
    (
        "keras-lambda/lambda.keras",
        "picklescan",
        "dangerous",
        "not scanned",
        "as above; modelscan agrees the Lambda layer is dangerous",
    ),
    (
        "keras-lambda/custom-layer.keras",
        "picklescan",
        "unknown",
        "not scanned",
        "as above",
    ),
    (
        "keras-lambda/custom-layer.keras",
        "modelscan",
        "unknown",
        "safe",
        "modelscan flags only Lambda in a Keras config; a custom registered layer \
         (aibomdb_fixtures>Scale) is code from outside Keras that must be imported to \
         load the model, so we ask for review",
    ),
];

/// dangerous: loading runs code; unknown: not fully read, or an import or
/// object to review; safe otherwise.
fn verdict(a: &Artifact) -> &'static str {
    match &a.pickle {
        Some(p) if !p.dangerous_imports.is_empty() => "dangerous",
        Some(p) if !p.unknown_imports.is_empty() || p.error.is_some() => "unknown",
        _ if !a.problems.is_empty() => "unknown",
        _ => "safe",
    }
}

/// Our verdict on every file of every fixture model directory, by
/// `dir/file`.
fn ours(files: &BTreeSet<String>) -> BTreeMap<String, &'static str> {
    let dirs: BTreeSet<&str> = files
        .iter()
        .map(|f| f.split_once('/').expect("dir/file").0)
        .collect();
    let mut out = BTreeMap::new();
    for dir in dirs {
        let facts = import_dir(
            &models_dir().join(dir),
            &ModelIdentity::default(),
            &ModelLimits::default(),
        )
        .unwrap_or_else(|e| panic!("{dir}: {e}"));
        let model = facts.packages[0].model.as_deref().expect("model info");
        for a in &model.artifacts {
            out.insert(format!("{dir}/{}", a.path), verdict(a));
        }
    }
    out
}

#[test]
fn verdicts_agree_with_picklescan_and_modelscan_or_the_difference_is_explained() {
    let recorded: Value = serde_json::from_slice(
        &std::fs::read(models_dir().join("parity/verdicts.json")).expect("verdicts.json"),
    )
    .expect("JSON");
    assert_eq!(recorded["tools"]["picklescan"], "1.0.5");
    assert_eq!(recorded["tools"]["modelscan"], "0.8.8");
    let files = recorded["files"].as_object().expect("files");
    // Every kind the issue names is covered.
    for needed in [
        "pickle-zoo/eval.pkl",
        "checkpoint-pickle/pytorch_model.bin",
        "torchscript-silero/silero_vad.jit",
        "keras-lambda/lambda.keras",
        "numpy-arrays/object.npy",
        "numpy-arrays/object.npz",
    ] {
        assert!(files.contains_key(needed), "{needed} not recorded");
    }
    let ours = ours(&files.keys().cloned().collect());
    let mut found = Vec::new();
    let mut agreed = 0;
    for (file, v) in files {
        let mine = *ours
            .get(file)
            .unwrap_or_else(|| panic!("{file}: recorded but not read by aibomdb"));
        for tool in ["picklescan", "modelscan"] {
            let theirs = v[tool].as_str().expect("verdict");
            if theirs == mine {
                agreed += 1;
            } else {
                found.push((
                    file.clone(),
                    tool.to_string(),
                    mine.to_string(),
                    theirs.to_string(),
                ));
            }
        }
    }
    let listed: Vec<(String, String, String, String)> = DIFFERENCES
        .iter()
        .map(|(f, t, m, th, why)| {
            assert!(!why.is_empty());
            (f.to_string(), t.to_string(), m.to_string(), th.to_string())
        })
        .collect();
    let (mut found, mut listed) = (found, listed);
    found.sort();
    listed.sort();
    assert_eq!(
        found, listed,
        "differences with the recorded scanners (file, tool, ours, theirs) changed"
    );
    // Most verdicts agree: the differences are the exceptions.
    assert_eq!(agreed, 2 * files.len() - DIFFERENCES.len());
    assert!(agreed >= 20, "{agreed}");
}
