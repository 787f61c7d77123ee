//! Helpers shared by the gate's end-to-end tests (tests/gate.rs,
//! tests/gate_policy.rs).
#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::{aibomdb, corpus, stderr};

pub fn python_image() -> PathBuf {
    corpus().join(
        "external/guac-data/docs/cyclonedx/syft-cyclonedx-docker.io-library-python.latest.json",
    )
}

pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(rel)
}

pub fn run_ok(db: &Path, args: &[&str]) {
    let out = aibomdb(db, args);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
}

pub fn policy(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// Runs the gate; returns the exit code and the JSON report.
pub fn gate(db: &Path, policy: &Path, deployment: &str, at: &str) -> (i32, Value) {
    gate_over(db, policy, &["--deployment", deployment], at)
}

/// The gate over every deployment in one run.
pub fn gate_all(db: &Path, policy: &Path, at: &str) -> (i32, Value) {
    gate_over(db, policy, &["--all"], at)
}

fn gate_over(db: &Path, policy: &Path, which: &[&str], at: &str) -> (i32, Value) {
    let mut args = vec!["gate", "--policy", policy.to_str().unwrap()];
    args.extend_from_slice(which);
    args.extend_from_slice(&["--at", at, "--format", "json"]);
    let out = aibomdb(db, &args);
    let code = out.status.code().unwrap();
    assert!(code == 0 || code == 1, "exit {code}: {}", stderr(&out));
    (code, serde_json::from_slice(&out.stdout).unwrap())
}

/// One deployment's verdict in a report of several.
pub fn verdict_of<'a>(report: &'a Value, deployment: &str) -> &'a Value {
    report["deployments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["deployment"] == deployment)
        .unwrap_or_else(|| panic!("no {deployment} in {report}"))
}

pub fn rule<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["deployments"][0]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["rule"] == name)
        .unwrap_or_else(|| panic!("no {name} verdict in {report}"))
}

pub fn subjects(rule: &Value) -> Vec<String> {
    rule["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["subject"].as_str().unwrap().to_string())
        .collect()
}

/// The python:latest image (syft) with the PyPA advisories: pip 22.2.2 has
/// PYSEC-2023-228 (CVSS 3.3, low); setuptools and wheel have records with no
/// severity at all.
/// The python:latest image alone, as deployment `python`.
pub fn python_image_store(dir: &Path) -> PathBuf {
    let db = dir.join("s.redb");
    run_ok(
        &db,
        &[
            "ingest",
            python_image().to_str().unwrap(),
            "--deployment",
            "python",
        ],
    );
    db
}

pub fn python_store(dir: &Path) -> PathBuf {
    let db = python_image_store(dir);
    run_ok(
        &db,
        &[
            "advisories",
            "load",
            corpus()
                .join("osv/pypa-advisory-database")
                .to_str()
                .unwrap(),
        ],
    );
    db
}
