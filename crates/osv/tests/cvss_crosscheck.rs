//! CVSS base scores cross-checked against an independent implementation,
//! Red Hat's `cvss` library from PyPI (installed by scripts/test-deps.sh):
//! every v3.x and v4.0 vector in the corpus's OSV records, and 2,000 v4.0
//! base vectors drawn with a fixed seed, so that every macro-vector class
//! of the v4 method is exercised, not only the two the corpus holds.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use aibomdb_osv::{cvss3_base_score, cvss4_base_score};

fn corpus_vectors() -> BTreeSet<String> {
    let root = std::env::var_os("AIBOMDB_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"))
        .join("osv");
    let mut found = BTreeSet::new();
    let mut stack = vec![root];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            for (i, _) in text.match_indices("CVSS:") {
                let vector: String = text[i..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '/' | '.'))
                    .collect();
                if vector.starts_with("CVSS:3.") || vector.starts_with("CVSS:4.0/") {
                    found.insert(vector);
                }
            }
        }
    }
    found
}

/// Base vectors drawn from every metric's values (xorshift, fixed seed).
fn drawn_v4(n: usize) -> Vec<String> {
    const METRICS: [(&str, &[&str]); 11] = [
        ("AV", &["N", "A", "L", "P"]),
        ("AC", &["L", "H"]),
        ("AT", &["N", "P"]),
        ("PR", &["N", "L", "H"]),
        ("UI", &["N", "P", "A"]),
        ("VC", &["H", "L", "N"]),
        ("VI", &["H", "L", "N"]),
        ("VA", &["H", "L", "N"]),
        ("SC", &["H", "L", "N"]),
        ("SI", &["H", "L", "N"]),
        ("SA", &["H", "L", "N"]),
    ];
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..n)
        .map(|_| {
            let parts: Vec<String> = METRICS
                .iter()
                .map(|(m, values)| {
                    format!("{m}:{}", values[(next() % values.len() as u64) as usize])
                })
                .collect();
            format!("CVSS:4.0/{}", parts.join("/"))
        })
        .collect()
}

#[test]
fn cvss_base_scores_agree_with_an_independent_calculator() {
    let from_corpus = corpus_vectors();
    let v4_in_corpus = from_corpus
        .iter()
        .filter(|v| v.starts_with("CVSS:4.0/"))
        .count();
    assert!(
        from_corpus.len() >= 60 && v4_in_corpus >= 2,
        "{from_corpus:?}"
    );
    let mut vectors: Vec<String> = from_corpus.into_iter().collect();
    vectors.extend(drawn_v4(2_000));
    let ours: Vec<Option<f64>> = vectors
        .iter()
        .map(|v| {
            if v.starts_with("CVSS:4.0/") {
                cvss4_base_score(v)
            } else {
                cvss3_base_score(v)
            }
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("vectors.json");
    std::fs::write(&input, serde_json::to_vec(&vectors).unwrap()).unwrap();
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/helpers/cvss_check.py");
    let out = Command::new(std::env::var("PYTHON").unwrap_or_else(|_| "python3".into()))
        .arg(&script)
        .arg(&input)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "the helper needs Python's `cvss` (scripts/test-deps.sh): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs: Vec<Option<f64>> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(theirs.len(), vectors.len());
    let disagreements: Vec<String> = vectors
        .iter()
        .zip(ours.iter().zip(&theirs))
        .filter(|(_, (a, b))| match (a, b) {
            (Some(a), Some(b)) => (a - b).abs() > 1e-9,
            (a, b) => a.is_some() != b.is_some(),
        })
        .map(|(v, (a, b))| format!("{v}: ours {a:?}, theirs {b:?}"))
        .collect();
    assert!(
        disagreements.is_empty(),
        "{} of {} disagree:\n{}",
        disagreements.len(),
        vectors.len(),
        disagreements.join("\n")
    );
    // Both scored every one (no vector was refused on either side).
    assert!(ours.iter().all(Option::is_some));
    // A base score ignores threat and supplemental metrics.
    assert_eq!(
        cvss4_base_score("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:U/S:P"),
        Some(9.3)
    );
}
