//! VEX through the CLI: CycloneDX VEX (BOM-Link refs) and OpenVEX made by
//! lib4vex for syft's SBOM of the python image, whose pip 22.2.2 is in range
//! of PYSEC-2023-228 (CVE-2023-5752). The statements name the CVE alias, not
//! the PYSEC id, as vendors do. Plus every VEX document of the corpus.

mod common;

use std::path::{Path, PathBuf};

use common::{aibomdb, corpus, json, stderr};
use serde_json::Value;

fn python_image() -> PathBuf {
    corpus().join(
        "external/guac-data/docs/cyclonedx/syft-cyclonedx-docker.io-library-python.latest.json",
    )
}

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/vex")
        .join(name)
        .to_str()
        .unwrap()
        .to_string()
}

fn run_ok(db: &Path, args: &[&str]) {
    let out = aibomdb(db, args);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
}

fn setup(db: &Path, deployments: &[&str]) {
    let pypa = corpus().join("osv/pypa-advisory-database");
    run_ok(db, &["advisories", "load", pypa.to_str().unwrap()]);
    for d in deployments {
        run_ok(
            db,
            &[
                "ingest",
                "--deployment",
                d,
                python_image().to_str().unwrap(),
            ],
        );
    }
}

/// (deployment, advisory) → VEX state or "" per match.
fn vex_states(db: &Path) -> Vec<(String, String, String)> {
    let v = json(&aibomdb(db, &["match", "--format", "json"]));
    let mut out: Vec<_> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["deployment"].as_str().unwrap().to_string(),
                r["advisory"].as_str().unwrap().to_string(),
                r["vex"]["state"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

fn row<'a>(v: &'a Value, deployment: &str, advisory: &str) -> &'a Value {
    v.as_array()
        .unwrap()
        .iter()
        .find(|r| r["deployment"] == deployment && r["advisory"] == advisory)
        .unwrap_or_else(|| panic!("no match {deployment} {advisory}"))
}

fn triple(d: &str, a: &str, s: &str) -> (String, String, String) {
    (d.into(), a.into(), s.into())
}

#[test]
fn cyclonedx_vex_suppresses_through_its_bom_link() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    setup(&db, &["python"]);
    assert_eq!(
        aibomdb(&db, &["match", "--fail-on", "low"]).status.code(),
        Some(1)
    );
    // Ingested without --deployment: the VEX lands in its own deployment
    // (`python-image`, its subject) and reaches `python` through the BOM-Link
    // `urn:cdx:26dd0c0d-…/1#pkg:pypi/pip@22.2.2`, the serial of syft's SBOM.
    run_ok(&db, &["ingest", &fixture("python-image.cdx-vex.json")]);
    assert_eq!(
        vex_states(&db),
        vec![
            triple("python", "PYSEC-2022-43012", "in_triage"),
            triple("python", "PYSEC-2022-43017", ""),
            triple("python", "PYSEC-2023-228", "not_affected"),
        ]
    );
    let v = json(&aibomdb(&db, &["match", "--format", "json"]));
    let pip = row(&v, "python", "PYSEC-2023-228");
    assert_eq!(pip["vex"]["status"], "NotAffected");
    assert_eq!(
        pip["vex"]["justification"],
        "vulnerable_code_not_in_execute_path"
    );
    assert_eq!(pip["vex"]["vulnerability"], "CVE-2023-5752");
    assert_eq!(pip["vex"]["location"], "vulnerabilities[0]");
    assert!(
        pip["vex"]["detail"]
            .as_str()
            .unwrap()
            .contains("build time")
    );
    // in_triage does not suppress: the setuptools and wheel matches still
    // trip the gate; pip alone would not.
    assert_eq!(
        aibomdb(&db, &["match", "--fail-on", "any"]).status.code(),
        Some(1)
    );
    // SARIF marks the suppressed result, with the justification.
    let sarif = json(&aibomdb(&db, &["match", "--format", "sarif"]));
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    let suppressed: Vec<_> = results
        .iter()
        .filter(|r| r.get("suppressions").is_some())
        .map(|r| r["ruleId"].as_str().unwrap())
        .collect();
    assert_eq!(suppressed, vec!["PYSEC-2023-228"]);
    // The same answer when the advisory is asked for by its alias.
    let affected = json(&aibomdb(
        &db,
        &[
            "query",
            "affected",
            "--advisory",
            "CVE-2023-5752",
            "--format",
            "json",
        ],
    ));
    assert_eq!(affected[0]["vex"]["state"], "not_affected");
}

#[test]
fn openvex_covers_only_the_deployment_it_was_ingested_into() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    setup(&db, &["python", "python-b"]);
    // OpenVEX has no BOM-Link: its purls apply where the document is filed.
    run_ok(
        &db,
        &[
            "ingest",
            "--deployment",
            "python",
            &fixture("python-image.openvex.json"),
        ],
    );
    let states = vex_states(&db);
    assert!(states.contains(&triple("python", "PYSEC-2023-228", "not_affected")));
    assert!(states.contains(&triple("python", "PYSEC-2022-43012", "under_investigation")));
    assert!(states.contains(&triple("python-b", "PYSEC-2023-228", "")));
    assert!(states.contains(&triple("python-b", "PYSEC-2022-43012", "")));
}

#[test]
fn vex_before_sbom_and_advisories_still_applies_and_a_revision_supersedes_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    // VEX first, then the SBOM, then the advisories: statements are resolved
    // when matches are reported, so the order of arrival does not matter.
    run_ok(
        &db,
        &[
            "ingest",
            "--deployment",
            "python",
            &fixture("python-image.cdx-vex.json"),
        ],
    );
    run_ok(
        &db,
        &[
            "ingest",
            "--deployment",
            "python",
            python_image().to_str().unwrap(),
        ],
    );
    let pypa = corpus().join("osv/pypa-advisory-database");
    run_ok(&db, &["advisories", "load", pypa.to_str().unwrap()]);
    assert!(vex_states(&db).contains(&triple("python", "PYSEC-2023-228", "not_affected")));
    // The supplier's revised VEX (same tool, same product) supersedes the
    // first: pip is exploitable after all, and the match is open again.
    run_ok(
        &db,
        &[
            "ingest",
            "--deployment",
            "python",
            &fixture("python-image.cdx-vex-revised.json"),
        ],
    );
    assert!(vex_states(&db).contains(&triple("python", "PYSEC-2023-228", "exploitable")));
    let v = json(&aibomdb(&db, &["match", "--format", "json"]));
    assert_eq!(
        row(&v, "python", "PYSEC-2023-228")["vex"]["status"],
        "Affected"
    );
}

/// Every CycloneDX VEX in the corpus ingests, with one statement per
/// `vulnerabilities[]` entry that has an `analysis.state` (counted here from
/// the JSON itself), and refs that name other BOMs kept for later resolution.
#[test]
fn corpus_vex_documents_ingest_with_every_statement() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    let mut files = Vec::new();
    let vex_dir = corpus().join("formats/cyclonedx/bom-examples/VEX");
    for entry in walk(&vex_dir) {
        if entry.file_name().unwrap().to_str().unwrap().contains("vex") {
            files.push(entry);
        }
    }
    for name in [
        "cyclonedx-vex-affected.json",
        "cyclonedx-vex-false-positive.json",
        "cyclonedx-vex-resolved-with-pedigree.json",
    ] {
        files.push(corpus().join("formats/cyclonedx/guac-testdata").join(name));
    }
    assert_eq!(files.len(), 17, "{files:?}");
    let mut expected_total = 0;
    for f in &files {
        let doc: Value = serde_json::from_slice(&std::fs::read(f).unwrap()).unwrap();
        let expected = doc["vulnerabilities"]
            .as_array()
            .map(|vs| {
                vs.iter()
                    .filter(|v| v["analysis"]["state"].is_string())
                    .count()
            })
            .unwrap_or(0);
        expected_total += expected;
        let out = aibomdb(
            &db,
            &[
                "ingest",
                "--deployment",
                f.parent().unwrap().file_name().unwrap().to_str().unwrap(),
                "--format",
                "json",
                f.to_str().unwrap(),
            ],
        );
        assert!(out.status.success(), "{}: {}", f.display(), stderr(&out));
    }
    let docs = json(&aibomdb(&db, &["documents", "--format", "json"]));
    let total: u64 = docs
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["vex_statements"].as_u64().unwrap())
        .sum();
    assert!(expected_total > 50, "{expected_total}");
    assert_eq!(total, expected_total as u64);
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else if p.extension().is_some_and(|x| x == "json") {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// Of several current statements that cover one match (documents of
/// different formats stay current side by side), the latest timestamp
/// decides, whatever the ingest order; at the same timestamp, the one
/// ingested last.
#[test]
fn the_latest_of_several_current_statements_decides() {
    let dir = tempfile::tempdir().unwrap();
    let pip = |db: &Path| {
        let v = json(&aibomdb(db, &["match", "--format", "json"]));
        row(&v, "python", "PYSEC-2023-228")["vex"]["status"]
            .as_str()
            .unwrap()
            .to_string()
    };
    // 2026-12-02 "affected" (OpenVEX) against 2026-11-23 "not_affected"
    // (CycloneDX): the later statement wins in both orders.
    for (i, order) in [
        [
            "python-image.openvex-affected.json",
            "python-image.cdx-vex.json",
        ],
        [
            "python-image.cdx-vex.json",
            "python-image.openvex-affected.json",
        ],
    ]
    .iter()
    .enumerate()
    {
        let db = dir.path().join(format!("later-{i}.redb"));
        setup(&db, &["python"]);
        for f in order {
            run_ok(&db, &["ingest", "--deployment", "python", &fixture(f)]);
        }
        let docs = json(&aibomdb(&db, &["documents", "--format", "json"]));
        let current = docs
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["superseded_by"].is_null())
            .count();
        assert_eq!(current, 3, "SBOM and both VEX documents are current");
        assert_eq!(pip(&db), "Affected", "{order:?}");
    }
    // Both made in the same second (2026-11-23T10:54:08): the one ingested
    // last decides.
    for (i, (order, want)) in [
        (
            [
                "python-image.openvex.json",
                "python-image.cdx-vex-revised.json",
            ],
            "Affected",
        ),
        (
            [
                "python-image.cdx-vex-revised.json",
                "python-image.openvex.json",
            ],
            "NotAffected",
        ),
    ]
    .iter()
    .enumerate()
    {
        let db = dir.path().join(format!("same-{i}.redb"));
        setup(&db, &["python"]);
        for f in order {
            run_ok(&db, &["ingest", "--deployment", "python", &fixture(f)]);
        }
        assert_eq!(pip(&db), *want, "{order:?}");
    }
}
