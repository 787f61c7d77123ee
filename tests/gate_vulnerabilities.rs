//! `aibomdb gate`'s `vulnerabilities` rule on real corpus inputs, both
//! ways: severity thresholds and the unknown bucket, CVSS v4 scores, VEX,
//! waivers that expire against a fixed `--at`, KEV and EPSS.

mod common;
mod gate_helpers;

use std::path::Path;

use common::{aibomdb, corpus, json};
use gate_helpers::*;
use serde_json::Value;

#[test]
fn vulnerabilities_by_severity_unknown_bucket_vex_and_waivers() {
    let dir = tempfile::tempdir().unwrap();
    let db = python_store(dir.path());
    let at = "2026-12-01T00:00:00Z";

    // The unknown bucket decides: deny trips on setuptools and wheel, with
    // their paths from the deployment.
    let strict = policy(
        dir.path(),
        "strict.toml",
        "version = 1\n[vulnerabilities]\nseverity = \"high\"\nunknown = \"deny\"\n",
    );
    let (code, report) = gate(&db, &strict, "python", at);
    assert_eq!(code, 1);
    let v = rule(&report, "vulnerabilities");
    assert_eq!(v["outcome"], "fail");
    let mut got = subjects(v);
    got.sort();
    assert_eq!(
        got,
        [
            "PYSEC-2022-43012 in pkg:pypi/setuptools@63.2.0",
            "PYSEC-2022-43017 in pkg:pypi/wheel@0.37.1"
        ]
    );
    let path = v["violations"][0]["path"].as_array().unwrap();
    assert_eq!(path.first().unwrap()["id"], "python");
    assert!(
        path.last().unwrap()["id"]
            .as_str()
            .unwrap()
            .starts_with("pkg:pypi/")
    );

    // Warn: reported, not failing.
    let lenient = policy(
        dir.path(),
        "lenient.toml",
        "version = 1\n[vulnerabilities]\nseverity = \"high\"\nunknown = \"warn\"\n",
    );
    let (code, report) = gate(&db, &lenient, "python", at);
    assert_eq!(code, 0);
    assert_eq!(rule(&report, "vulnerabilities")["outcome"], "warn");

    // The threshold: pip's 3.3 is low, so `low` trips and `medium` does not.
    let low = policy(
        dir.path(),
        "low.toml",
        "version = 1\n[vulnerabilities]\nseverity = \"low\"\nunknown = \"allow\"\n",
    );
    let (code, report) = gate(&db, &low, "python", at);
    assert_eq!(code, 1);
    assert_eq!(
        subjects(rule(&report, "vulnerabilities")),
        ["PYSEC-2023-228 in pkg:pypi/pip@22.2.2"]
    );
    let medium = policy(
        dir.path(),
        "medium.toml",
        "version = 1\n[vulnerabilities]\nseverity = \"medium\"\nunknown = \"allow\"\n",
    );
    assert_eq!(gate(&db, &medium, "python", at).0, 0);

    // Waivers by alias, with an expiry: they hold before it, then the gate
    // fails again and says which waiver expired.
    let waived = policy(
        dir.path(),
        "waived.toml",
        r#"version = 1
[vulnerabilities]
severity = "high"
unknown = "deny"

[[vulnerabilities.waivers]]
advisory = "CVE-2022-40897"
package = "pkg:pypi/setuptools"
reason = "setuptools runs at build time only"
expires = "2027-01-31"

[[vulnerabilities.waivers]]
advisory = "PYSEC-2022-43017"
deployment = "python"
reason = "wheel is not invoked at run time"
expires = "2027-01-31T00:00:00Z"
"#,
    );
    let (code, report) = gate(&db, &waived, "python", at);
    assert_eq!(code, 0, "{report}");
    assert_eq!(
        rule(&report, "vulnerabilities")["waived"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let (code, report) = gate(&db, &waived, "python", "2027-02-01");
    assert_eq!(code, 1);
    let v = rule(&report, "vulnerabilities");
    assert_eq!(subjects(v).len(), 2);
    assert!(
        v["violations"][0]["message"]
            .as_str()
            .unwrap()
            .contains("expired on 2027-01-31"),
        "{v}"
    );
    // A renewed waiver holds though an older one for the same advisory has
    // expired; a package written in another spelling is the same package.
    let renewed = policy(
        dir.path(),
        "renewed.toml",
        r#"version = 1
[vulnerabilities]
severity = "high"
unknown = "deny"

[[vulnerabilities.waivers]]
advisory = "CVE-2022-40897"
package = "pkg:pypi/SetupTools"
reason = "first review"
expires = "2026-06-30"

[[vulnerabilities.waivers]]
advisory = "CVE-2022-40897"
package = "pkg:pypi/setuptools"
reason = "renewed after the second review"
expires = "2027-06-30"

[[vulnerabilities.waivers]]
advisory = "PYSEC-2022-43017"
reason = "wheel is not invoked at run time"
expires = "2027-06-30"
"#,
    );
    let (code, report) = gate(&db, &renewed, "python", at);
    assert_eq!(code, 0, "{report}");
    let w = &rule(&report, "vulnerabilities")["waived"];
    assert!(
        w.as_array()
            .unwrap()
            .iter()
            .any(|w| w["reason"] == "renewed after the second review"),
        "{w}"
    );
    // Before the first expired, it (spelt `SetupTools`) is the one that holds.
    let (code, report) = gate(&db, &renewed, "python", "2026-05-01");
    assert_eq!(code, 0, "{report}");
    let w = &rule(&report, "vulnerabilities")["waived"];
    assert!(
        w.as_array()
            .unwrap()
            .iter()
            .any(|w| w["reason"] == "first review"),
        "{w}"
    );

    // A waiver for another package does not cover this one.
    let elsewhere = policy(
        dir.path(),
        "elsewhere.toml",
        "version = 1\n[vulnerabilities]\nseverity = \"low\"\nunknown = \"allow\"\n\
         [[vulnerabilities.waivers]]\nadvisory = \"CVE-2023-5752\"\npackage = \"pkg:pypi/pipx\"\n\
         reason = \"x\"\nexpires = \"2099-01-01\"\n",
    );
    assert_eq!(gate(&db, &elsewhere, "python", at).0, 1);

    // VEX: the OpenVEX statement (made with vexctl-compatible tooling, see
    // tests/fixtures/vex/make.py) marks pip not_affected; the low gate passes.
    run_ok(
        &db,
        &[
            "ingest",
            "--deployment",
            "python",
            fixture("vex/python-image.openvex.json").to_str().unwrap(),
        ],
    );
    let (code, report) = gate(&db, &low, "python", at);
    assert_eq!(code, 0, "{report}");
    assert!(
        rule(&report, "vulnerabilities")["summary"]
            .as_str()
            .unwrap()
            .contains("1 suppressed by VEX")
    );
}

/// A record that carries only a CVSS v4.0 vector is scored by it: log4j-core
/// 2.8.1 in GUAC's SPDX document matches GHSA-3pxv-7cmr-fjr4
/// (`CVSS:4.0/…/SI:L/SA:N`, 6.9 by FIRST's method; the label MODERATE alone
/// gave no score), so `medium` trips with the score named and `high` passes.
#[test]
fn vulnerabilities_scored_by_cvss_v4() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    let record = corpus().join("osv/examples/Maven/GHSA-3pxv-7cmr-fjr4.json");
    run_ok(&db, &["advisories", "load", record.to_str().unwrap()]);
    let java = corpus().join("external/guac-data/docs/spdx/spdx_vuln.json");
    run_ok(
        &db,
        &["ingest", "--deployment", "java", java.to_str().unwrap()],
    );
    let at = "2026-12-01T00:00:00Z";
    let medium = policy(
        dir.path(),
        "medium.toml",
        "version = 1\n[vulnerabilities]\nseverity = \"medium\"\nunknown = \"deny\"\n",
    );
    let (code, report) = gate(&db, &medium, "java", at);
    assert_eq!(code, 1);
    let v = rule(&report, "vulnerabilities");
    assert_eq!(
        subjects(v),
        ["GHSA-3pxv-7cmr-fjr4 in pkg:maven/org.apache.logging.log4j/log4j-core@2.8.1"]
    );
    let message = v["violations"][0]["message"].as_str().unwrap();
    assert!(message.starts_with("medium (CVSS 6.9)"), "{message}");
    let high = policy(
        dir.path(),
        "high.toml",
        "version = 1\n[vulnerabilities]\nseverity = \"high\"\nunknown = \"deny\"\n",
    );
    let (code, report) = gate(&db, &high, "java", at);
    assert_eq!(code, 0, "{report}");
    // The CycloneDX export rates it by the method that scored it.
    let out = dir.path().join("java.cdx.json");
    run_ok(
        &db,
        &[
            "export",
            "--deployment",
            "java",
            "--format",
            "cyclonedx-1.6",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    let bom: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let vulnerability = bom["vulnerabilities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["id"] == "GHSA-3pxv-7cmr-fjr4")
        .unwrap();
    assert_eq!(
        vulnerability["ratings"],
        serde_json::json!([{"score": 6.9, "severity": "medium", "method": "CVSSv4"}])
    );
}

/// CISA KEV on matches and in the gate: Pillow 10.0.0 (compiled by uv with
/// hashes, tests/fixtures/lockfiles/make.sh) matches PyPA's PYSEC-2023-175,
/// which relates CVE-2023-4863 (libwebp), in a trimmed real KEV catalog
/// (tests/fixtures/kev/make.sh). The record has no severity, so a policy that
/// lets unknown severities through passes it, until `kev = "deny"`.
#[test]
fn kev_marks_exploited_matches_and_the_gate_denies_them() {
    let (dir, db) = pillow_matched_by_pysec_2023_175();
    let rows = json(&aibomdb(&db, &["match", "--format", "json"]));
    assert_eq!(rows[0]["advisory"], "PYSEC-2023-175");
    assert_eq!(rows[0]["kev"], Value::Null);
    let at = "2026-12-01T00:00:00Z";
    let lenient = "version = 1\n[vulnerabilities]\nseverity = \"high\"\nunknown = \"allow\"\n";
    let p = policy(dir.path(), "lenient.toml", lenient);
    assert_eq!(gate(&db, &p, "images", at).0, 0);

    let kev = fixture("kev/known_exploited_vulnerabilities.trimmed.json");
    let loaded = json(&aibomdb(
        &db,
        &[
            "advisories",
            "kev",
            kev.to_str().unwrap(),
            "--format",
            "json",
        ],
    ));
    assert_eq!(loaded["version"], "2025.08.25");
    assert_eq!(loaded["entries"], 14);
    let rows = json(&aibomdb(&db, &["match", "--format", "json"]));
    assert_eq!(rows[0]["kev"]["cve"], "CVE-2023-4863");
    assert_eq!(rows[0]["kev"]["date_added"], "2023-09-13");
    let sarif = json(&aibomdb(&db, &["match", "--format", "sarif"]));
    assert_eq!(sarif["runs"][0]["results"][0]["properties"]["kev"], true);
    // Still passing by severity; `kev = "deny"` fails it whatever the severity.
    assert_eq!(gate(&db, &p, "images", at).0, 0);
    let strict = policy(
        dir.path(),
        "kev.toml",
        &format!("{lenient}kev = \"deny\"\n"),
    );
    let (code, report) = gate(&db, &strict, "images", at);
    assert_eq!(code, 1, "{report}");
    let v = rule(&report, "vulnerabilities");
    assert_eq!(subjects(v), ["PYSEC-2023-175 in pkg:pypi/pillow@10.0.0"]);
    let message = v["violations"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("CVE-2023-4863 is in CISA KEV since 2023-09-13"),
        "{message}"
    );
    // A bad level is a bad policy: exit 2 with the line.
    let bad = policy(
        dir.path(),
        "bad.toml",
        &format!("{lenient}kev = \"maybe\"\n"),
    );
    refused_with(&db, &bad, "bad.toml:5: [vulnerabilities] kev");
}

/// FIRST EPSS on matches and in the gate: the same Pillow match, and a
/// trimmed real EPSS CSV (tests/fixtures/epss/make.sh) that scores
/// CVE-2023-4863 at 0.99979. A policy that lets the record's unknown severity
/// through passes it until `epss_at_least` is at or below that score.
#[test]
fn epss_scores_matches_and_the_gate_denies_likely_exploitation() {
    let (dir, db) = pillow_matched_by_pysec_2023_175();
    let epss = fixture("epss/epss_scores.trimmed.csv");
    let loaded = json(&aibomdb(
        &db,
        &[
            "advisories",
            "epss",
            epss.to_str().unwrap(),
            "--format",
            "json",
        ],
    ));
    assert_eq!(loaded["version"], "v2026.06.15");
    assert_eq!(loaded["released"], "2026-09-29T12:00:22Z");
    assert_eq!(loaded["entries"], 16);
    let rows = json(&aibomdb(&db, &["match", "--format", "json"]));
    assert_eq!(rows[0]["epss"]["epss"], 0.99979, "{rows}");
    assert_eq!(rows[0]["epss"]["percentile"], 0.9998);
    let sarif = json(&aibomdb(&db, &["match", "--format", "sarif"]));
    assert_eq!(
        sarif["runs"][0]["results"][0]["properties"]["epss"],
        0.99979
    );
    let at = "2026-12-01T00:00:00Z";
    let lenient = "version = 1\n[vulnerabilities]\nseverity = \"high\"\nunknown = \"allow\"\n";
    let above = policy(
        dir.path(),
        "above.toml",
        &format!("{lenient}epss_at_least = 0.9998\n"),
    );
    assert_eq!(gate(&db, &above, "images", at).0, 0);
    let strict = policy(
        dir.path(),
        "epss.toml",
        &format!("{lenient}epss_at_least = 0.5\n"),
    );
    let (code, report) = gate(&db, &strict, "images", at);
    assert_eq!(code, 1, "{report}");
    let v = rule(&report, "vulnerabilities");
    assert_eq!(subjects(v), ["PYSEC-2023-175 in pkg:pypi/pillow@10.0.0"]);
    let message = v["violations"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("EPSS 0.99979 (percentile 0.9998)"),
        "{message}"
    );
    // A probability out of range is a bad policy, with its line.
    let bad = policy(
        dir.path(),
        "bad.toml",
        &format!("{lenient}epss_at_least = 2\n"),
    );
    refused_with(&db, &bad, "bad.toml:5: [vulnerabilities] epss_at_least");
    // Not an EPSS file: exit 2, and the scores loaded before stay.
    let kev = fixture("kev/known_exploited_vulnerabilities.trimmed.json");
    let out = aibomdb(&db, &["advisories", "epss", kev.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(common::stderr(&out).contains("not an EPSS file"));
    let rows = json(&aibomdb(&db, &["match", "--format", "json"]));
    assert_eq!(rows[0]["epss"]["epss"], 0.99979);
}

/// A store where the service's Pillow 10.0.0 (uv-compiled with hashes,
/// tests/fixtures/lockfiles/make.sh) matches PyPA's PYSEC-2023-175, which
/// relates CVE-2023-4863 (libwebp).
fn pillow_matched_by_pysec_2023_175() -> (tempfile::TempDir, common::TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    let lock = fixture("lockfiles/d-image-service/requirements.txt");
    run_ok(
        &db,
        &["ingest", "--deployment", "images", lock.to_str().unwrap()],
    );
    let record = corpus().join("osv/pypa-advisory-database/vulns/pillow/PYSEC-2023-175.yaml");
    run_ok(&db, &["advisories", "load", record.to_str().unwrap()]);
    (dir, db)
}

/// `gate` refuses the policy: exit 2, and stderr names `place`.
fn refused_with(db: &Path, policy: &Path, place: &str) {
    let out = aibomdb(
        db,
        &[
            "gate",
            "--policy",
            policy.to_str().unwrap(),
            "--deployment",
            "images",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        common::stderr(&out).contains(place),
        "{}",
        common::stderr(&out)
    );
}
