//! `aibomdb gate`'s inputs and outputs: bad policies exit 2 naming file,
//! line and rule without touching the store; stored policies; SARIF and JUnit
//! read by independent tools; a document judged without being stored.

mod common;
mod gate_helpers;

use std::path::Path;

use common::{aibomdb, corpus, fingerprint, json, stderr, stdout};
use gate_helpers::*;
use serde_json::Value;

#[test]
fn bad_policies_exit_2_with_file_line_and_rule_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = python_image_store(dir.path());
    let before = fingerprint(&db);
    for (text, line, needle) in [
        ("version = 1\n[freshnes]\n", 2, "unknown field `freshnes`"),
        (
            "version = 1\n[vulnerabilities]\nseverity = 7\n",
            3,
            "[vulnerabilities]",
        ),
        (
            "version = 1\n[pinning]\nmodles = true\n",
            3,
            "unknown field `modles`",
        ),
        (
            "version = 1\n[vulnerabilities]\nseverity = \"severe\"\n",
            3,
            "severity must be",
        ),
        (
            "version = 1\n\n[licenses]\ndeny = [\"GPL-3.0-only OR\"]\n",
            4,
            "[licenses]",
        ),
        ("version = 2\n", 1, "version 2 is not supported"),
        (
            "version = 1\n[freshness]\nmax_age_days = \"a year\"\n",
            3,
            "[freshness]",
        ),
        (
            "version = 1\n[[custom]]\nname = \"x\"\nfor = \"package\"\ndeny_if = 'pakage.name == \"a\"'\n",
            5,
            "`pakage` is not a variable",
        ),
        (
            "version = 1\n[[custom]]\nname = \"x\"\nfor = \"package\"\ndeny_if = 'pkg.name =='\n",
            5,
            "not a CEL expression",
        ),
        (
            "version = 1\n[[custom]]\nname = \"x\"\nfor = \"pakages\"\ndeny_if = 'true'\n",
            4,
            "`for` must be",
        ),
        (
            "version = 1\n[vulnerabilities]\n[[vulnerabilities.waivers]]\nadvisory = \"X\"\nreason = \"r\"\nexpires = \"next week\"\n",
            6,
            "expires must be",
        ),
    ] {
        let p = policy(dir.path(), "bad.toml", text);
        let out = aibomdb(
            &db,
            &[
                "gate",
                "--policy",
                p.to_str().unwrap(),
                "--deployment",
                "python",
            ],
        );
        assert_eq!(out.status.code(), Some(2), "{text}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains(&format!("bad.toml:{line}:")), "{text}: {err}");
        assert!(err.contains(needle), "{text}: {err}");
        assert!(stdout(&out).is_empty());
    }
    // An empty store has nothing to judge: --all is bad input, not a pass.
    let empty = dir.path().join("empty.redb");
    let ok = policy(dir.path(), "ok.toml", "version = 1\n[pinning]\n");
    let out = aibomdb(&empty, &["gate", "--policy", ok.to_str().unwrap(), "--all"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    // An unknown deployment is bad input too, and so is a missing selection.
    let out = aibomdb(
        &db,
        &[
            "gate",
            "--policy",
            ok.to_str().unwrap(),
            "--deployment",
            "nope",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let out = aibomdb(&db, &["gate", "--policy", ok.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(fingerprint(&db), before);
}

#[test]
fn sarif_validates_and_junit_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let db = python_store(dir.path());
    let p = policy(
        dir.path(),
        "p.toml",
        "version = 1\n[vulnerabilities]\nseverity = \"low\"\nunknown = \"warn\"\n[pinning]\n",
    );
    let sarif = dir.path().join("gate.sarif");
    let junit = dir.path().join("gate.xml");
    for (format, out) in [("sarif", &sarif), ("junit", &junit)] {
        let o = aibomdb(
            &db,
            &[
                "gate",
                "--policy",
                p.to_str().unwrap(),
                "--all",
                "--at",
                "2026-12-01",
                "--format",
                format,
                "--out",
                out.to_str().unwrap(),
            ],
        );
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    }
    let helper = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/helpers/validate_gate.py");
    let check = |kind: &str, file: &Path| -> Value {
        let o = std::process::Command::new("python3")
            .arg(&helper)
            .arg(kind)
            .arg(file)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{kind}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        serde_json::from_slice(&o.stdout).unwrap()
    };
    let s = check("sarif", &sarif);
    // pip (low, error), setuptools and wheel (unknown, warning), 4 unhashed packages.
    assert_eq!(s["results"], 7, "{s}");
    assert_eq!(s["errors"], 5, "{s}");
    let j = check("junit", &junit);
    assert_eq!(j["tests"], 2, "{j}");
    assert_eq!(j["failures"], 2, "{j}");
}

#[test]
fn stored_policies() {
    let dir = tempfile::tempdir().unwrap();
    let db = python_store(dir.path());
    let p = policy(
        dir.path(),
        "team.toml",
        "version = 1\nname = \"team\"\n[vulnerabilities]\nseverity = \"low\"\nunknown = \"allow\"\n",
    );
    run_ok(&db, &["policy", "add", "release", p.to_str().unwrap()]);
    let list = json(&aibomdb(&db, &["policy", "list", "--format", "json"]));
    assert_eq!(list[0]["name"], "release");
    let shown = aibomdb(&db, &["policy", "show", "release"]);
    assert_eq!(stdout(&shown), std::fs::read_to_string(&p).unwrap());
    // The stored text gates like the file.
    let out = aibomdb(
        &db,
        &[
            "gate",
            "--stored",
            "release",
            "--deployment",
            "python",
            "--at",
            "2026-12-01",
            "--format",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    // A bad policy is refused before anything is stored.
    let bad = policy(
        dir.path(),
        "bad.toml",
        "version = 1\n[pinning]\nmodles = true\n",
    );
    let before = fingerprint(&db);
    let out = aibomdb(&db, &["policy", "add", "broken", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("bad.toml:3:"), "{}", stderr(&out));
    assert_eq!(fingerprint(&db), before);
    let out = aibomdb(
        &db,
        &["gate", "--stored", "broken", "--deployment", "python"],
    );
    assert_eq!(out.status.code(), Some(2));
    run_ok(&db, &["policy", "remove", "release"]);
    assert_eq!(
        json(&aibomdb(&db, &["policy", "list", "--format", "json"])),
        serde_json::json!([])
    );
    assert_eq!(
        aibomdb(&db, &["policy", "remove", "release"]).status.code(),
        Some(2)
    );
}

#[test]
fn a_document_is_gated_without_being_stored() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
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
    let before = fingerprint(&db);
    let p = policy(
        dir.path(),
        "p.toml",
        "version = 1\n[vulnerabilities]\nseverity = \"low\"\nunknown = \"deny\"\n",
    );
    let out = aibomdb(
        &db,
        &[
            "gate",
            "--policy",
            p.to_str().unwrap(),
            "--document",
            python_image().to_str().unwrap(),
            "--at",
            "2026-12-01",
            "--format",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    // The store's advisories matched the uploaded packages: pip, setuptools, wheel.
    let mut got = subjects(rule(&report, "vulnerabilities"));
    got.sort();
    assert_eq!(
        got,
        [
            "PYSEC-2022-43012 in pkg:pypi/setuptools@63.2.0",
            "PYSEC-2022-43017 in pkg:pypi/wheel@0.37.1",
            "PYSEC-2023-228 in pkg:pypi/pip@22.2.2"
        ]
    );
    assert_eq!(fingerprint(&db), before, "the store changed");
    assert!(
        json(&aibomdb(&db, &["documents", "--format", "json"]))
            .as_array()
            .unwrap()
            .is_empty()
    );
}
