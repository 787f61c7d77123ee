//! Cross-check of PEP 440 range matching against an independent
//! implementation: Python's `packaging` (installed by scripts/test-deps.sh)
//! evaluates the same OSV ranges over every PyPA record × every version the
//! record lists or bounds. Zero disagreements. Cases with a string `packaging`
//! refuses (pre-PEP 440 "legacy" versions) must be ones PEP 440 rejects, and
//! are compared with packaging 21.3's LegacyVersion ordering, which aibomdb
//! follows for them.

use std::path::PathBuf;
use std::process::Command;
use std::str::FromStr;

use aibomdb_osv::{LoadLimits, in_range, load_path};
use aibomdb_versions::Ecosystem;

#[test]
fn pep440_matching_agrees_with_packaging() {
    let corpus = std::env::var_os("AIBOMDB_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus")
        });
    let loaded = load_path(
        &corpus.join("osv/pypa-advisory-database"),
        &LoadLimits::default(),
    )
    .unwrap();
    let mut cases = Vec::new();
    let mut ours = Vec::new();
    for (_, a) in &loaded.advisories {
        for affected in &a.affected {
            for range in affected.ranges.iter().filter(|r| r.ty == "ECOSYSTEM") {
                let mut versions: Vec<&str> =
                    affected.versions.iter().map(String::as_str).collect();
                for e in &range.events {
                    for v in [&e.introduced, &e.fixed, &e.last_affected, &e.limit]
                        .into_iter()
                        .flatten()
                    {
                        if v != "0" {
                            versions.push(v);
                        }
                    }
                }
                versions.sort_unstable();
                versions.dedup();
                for v in versions {
                    cases.push(serde_json::json!({"events": range.events, "version": v}));
                    ours.push((
                        a.id.clone(),
                        v.to_string(),
                        in_range(Ecosystem::PyPI, &range.events, v),
                    ));
                }
            }
        }
    }
    assert!(cases.len() > 50_000, "only {} cases", cases.len());
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("cases.json");
    std::fs::write(&input, serde_json::to_vec(&cases).unwrap()).unwrap();
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/helpers/osv_pep440_check.py");
    let out = Command::new(std::env::var("PYTHON").unwrap_or_else(|_| "python3".into()))
        .arg(&script)
        .arg(&input)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "the helper needs Python's `packaging` (pip install packaging): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(theirs.len(), ours.len());
    let mut disagreements = Vec::new();
    let (mut legacy_version, mut legacy_bound) = (0, 0);
    for ((id, version, mine), theirs) in ours.iter().zip(&theirs) {
        match theirs {
            serde_json::Value::Bool(b) => match mine {
                Ok(m) if m == b => {}
                other => {
                    disagreements.push(format!("{id} {version}: packaging {b}, aibomdb {other:?}"))
                }
            },
            // `packaging` (>= 22) refuses pre-PEP 440 strings, in the version
            // or in a bound; aibomdb orders them as legacy versions below every
            // PEP 440 one, as packaging 21.3's LegacyVersion did. The string
            // refused must be one PEP 440 (pep440_rs, which decides whether
            // aibomdb falls back to legacy ordering) refuses too, and the
            // verdict must be packaging 21.3's.
            serde_json::Value::Object(o) => {
                let refused = o["invalid"].as_str().unwrap();
                let legacy = o["legacy"].as_bool().unwrap();
                if pep440_rs::Version::from_str(refused).is_ok() {
                    disagreements.push(format!(
                        "{id} {version}: packaging refuses {refused:?}, pep440_rs reads it"
                    ));
                } else if mine.as_ref().ok() != Some(&legacy) {
                    disagreements.push(format!(
                        "{id} {version}: packaging 21.3 (legacy) {legacy}, aibomdb {mine:?}"
                    ));
                } else if refused == version {
                    legacy_version += 1;
                } else {
                    legacy_bound += 1;
                }
            }
            other => panic!("unexpected helper answer {other}"),
        }
    }
    // The legacy cases are real (the snapshot has them): the comparison above ran.
    assert!(legacy_version + legacy_bound > 0);
    assert!(
        disagreements.is_empty(),
        "{} of {} cases disagree:\n{}",
        disagreements.len(),
        ours.len(),
        disagreements
            .iter()
            .take(30)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    eprintln!(
        "{} cases agree; {legacy_version} versions and {legacy_bound} ranges with a bound are pre-PEP 440 (legacy): packaging refuses them, packaging 21.3's LegacyVersion agrees",
        ours.len()
    );
}
