//! Compliance exports on real inputs: every CycloneDX and SPDX document the
//! export writes is validated by independent tools from PyPI (the official
//! CycloneDX JSON schemas in cyclonedx-python-lib, strict; spdx-tools for SPDX
//! 2.3 — both installed by scripts/test-deps.sh), exports round-trip through
//! ingest, and the TR-03183-2 completeness report gates on real gaps.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{aibomdb, corpus, json, stderr};
use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn run_ok(db: &Path, args: &[&str]) {
    let out = aibomdb(db, args);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
}

/// The shipped examples, a fine-tuned model in `a-finetune`, and syft's SBOM
/// of the python image with a CycloneDX VEX and the PyPA advisories.
fn estate(db: &Path) {
    let r = root();
    run_ok(db, &["ingest", r.join("examples").to_str().unwrap()]);
    run_ok(
        db,
        &[
            "ingest-model",
            r.join("tests/fixtures/models/finetune-safetensors")
                .to_str()
                .unwrap(),
            "--deployment",
            "a-finetune",
            "--id",
            "aibomdb-test/bert-imdb",
        ],
    );
    let pypa = corpus().join("osv/pypa-advisory-database");
    run_ok(db, &["advisories", "load", pypa.to_str().unwrap()]);
    let python = corpus().join(
        "external/guac-data/docs/cyclonedx/syft-cyclonedx-docker.io-library-python.latest.json",
    );
    run_ok(
        db,
        &[
            "ingest",
            "--deployment",
            "python",
            python.to_str().unwrap(),
            r.join("tests/fixtures/vex/python-image.cdx-vex.json")
                .to_str()
                .unwrap(),
        ],
    );
}

fn export(db: &Path, deployment: &str, format: &str, out: &Path) -> Value {
    run_ok(
        db,
        &[
            "export",
            "--deployment",
            deployment,
            "--format",
            format,
            "--out",
            out.to_str().unwrap(),
            "--creator-email",
            "psirt@example.org",
            "--author",
            "Example GmbH",
        ],
    );
    serde_json::from_slice(&std::fs::read(out).unwrap()).unwrap()
}

/// Runs the independent validator; returns its verdict.
fn validate(format: &str, file: &Path) -> Value {
    common::validator("validate_export.py", &[format, file.to_str().unwrap()])
}

#[test]
fn exports_validate_with_independent_tools() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    estate(&db);
    let mut checked = 0;
    for deployment in [
        "a-finetune",
        "python",
        "SimpleHTR",
        "alpine-latest",
        "trivy-test-image",
    ] {
        for format in ["cyclonedx-1.6", "cyclonedx-1.5", "spdx-2.3"] {
            let file = dir.path().join(format!("{deployment}-{format}.json"));
            let doc = export(&db, deployment, format, &file);
            let verdict = validate(format, &file);
            assert_eq!(verdict["ok"], true, "{deployment} {format}: {verdict}");
            if format.starts_with("cyclonedx") {
                assert!(doc["components"].as_array().unwrap().len() > 1);
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 15);
    // The validators do reject what is wrong (the test can fail).
    let file = dir.path().join("a-finetune-cyclonedx-1.6.json");
    let mut bom: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    bom["components"][0]["licenses"] =
        serde_json::json!([{"expression": "MIT", "acknowledgment": "x"}]);
    let bad = dir.path().join("bad.cdx.json");
    std::fs::write(&bad, bom.to_string()).unwrap();
    assert_eq!(validate("cyclonedx-1.6", &bad)["ok"], false);
    let file = dir.path().join("a-finetune-spdx-2.3.json");
    let mut doc: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    doc["packages"][1]["licenseDeclared"] = serde_json::json!("Not A Licence");
    let bad = dir.path().join("bad.spdx.json");
    std::fs::write(&bad, doc.to_string()).unwrap();
    assert_eq!(validate("spdx-2.3", &bad)["ok"], false);
}

/// Top-level components by purl, dependencies by ref, and each model's
/// lineage (pedigree ancestors with relations, training and evaluation
/// datasets), leaving out the deployment itself and what refers to it.
fn graph_of(
    bom: &Value,
    skip: &str,
) -> (
    BTreeSet<String>,
    BTreeMap<String, BTreeSet<String>>,
    BTreeSet<String>,
) {
    let mut purls = BTreeSet::new();
    let mut lineage = BTreeSet::new();
    for c in bom["components"].as_array().unwrap() {
        let purl = c["purl"].as_str().unwrap().to_string();
        if purl == skip {
            continue;
        }
        for a in c["pedigree"]["ancestors"].as_array().into_iter().flatten() {
            lineage.insert(format!("{purl} derived {} {}", a["purl"], a["properties"]));
        }
        for d in c["modelCard"]["modelParameters"]["datasets"]
            .as_array()
            .into_iter()
            .flatten()
        {
            lineage.insert(format!("{purl} trained_on {}", d["ref"]));
        }
        for p in c["properties"].as_array().into_iter().flatten() {
            if p["name"] == "aibomdb:lineage:evaluated_on" {
                lineage.insert(format!("{purl} evaluated_on {}", p["value"]));
            }
        }
        purls.insert(purl);
    }
    let mut deps = BTreeMap::new();
    for d in bom["dependencies"].as_array().unwrap() {
        let r = d["ref"].as_str().unwrap();
        if r.starts_with("deployment:") || r == skip || r.contains("#file:") {
            continue;
        }
        deps.insert(
            r.to_string(),
            d["dependsOn"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_str().unwrap().to_string())
                .collect(),
        );
    }
    (purls, deps, lineage)
}

/// An exported BOM ingested into a fresh store and exported again names the
/// same packages, the same dependency edges and the same lineage.
#[test]
fn cyclonedx_export_round_trips_packages_edges_and_lineage() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    estate(&db);
    for deployment in ["a-finetune", "SimpleHTR", "python"] {
        let first_file = dir.path().join(format!("{deployment}-1.json"));
        let first = export(&db, deployment, "cyclonedx-1.6", &first_file);
        let db2 = dir.path().join(format!("{deployment}-2.redb"));
        run_ok(
            &db2,
            &[
                "ingest",
                "--deployment",
                deployment,
                first_file.to_str().unwrap(),
            ],
        );
        let second = export(
            &db2,
            deployment,
            "cyclonedx-1.6",
            &dir.path().join(format!("{deployment}-2.json")),
        );
        // The second store also holds the first export's subject (the deployment).
        let subject = format!("pkg:generic/{}", deployment.to_lowercase());
        let (p1, d1, l1) = graph_of(&first, &subject);
        let (p2, d2, l2) = graph_of(&second, &subject);
        assert_eq!(p1, p2, "{deployment}: packages");
        assert_eq!(d1, d2, "{deployment}: dependency edges");
        assert_eq!(l1, l2, "{deployment}: lineage");
        if deployment == "a-finetune" {
            assert!(
                l1.iter()
                    .any(|l| l.contains("google-bert/bert-base-uncased") && l.contains("finetune")),
                "{l1:?}"
            );
            assert!(
                l1.iter()
                    .any(|l| l.contains("trained_on") && l.contains("stanfordnlp/imdb")),
                "{l1:?}"
            );
        }
        assert!(!p1.is_empty() && !d1.is_empty());
    }
}

/// The VEX exports carry each match's status, and ingested into a store that
/// holds the same SBOM and advisories they give the same verdicts.
#[test]
fn vex_exports_round_trip_statuses() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    estate(&db);
    let status = |db: &Path| -> BTreeMap<String, String> {
        json(&aibomdb(
            db,
            &["match", "--deployment", "python", "--format", "json"],
        ))
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["advisory"].as_str().unwrap().to_string(),
                m["vex"]["status"].as_str().unwrap_or("none").to_string(),
            )
        })
        .collect()
    };
    let before = status(&db);
    // pip: not_affected (the VEX fixture); setuptools: in triage; wheel: none.
    assert_eq!(before["PYSEC-2023-228"], "NotAffected", "{before:?}");
    assert_eq!(
        before["PYSEC-2022-43012"], "UnderInvestigation",
        "{before:?}"
    );
    assert_eq!(before["PYSEC-2022-43017"], "none", "{before:?}");
    let openvex = export(&db, "python", "openvex", &dir.path().join("p.openvex.json"));
    let statements = openvex["statements"].as_array().unwrap();
    assert_eq!(statements.len(), before.len());
    let wheel = statements
        .iter()
        .find(|s| s["vulnerability"]["name"] == "PYSEC-2022-43017")
        .unwrap();
    assert_eq!(wheel["status"], "affected");
    assert_eq!(wheel["action_statement"], "Upgrade to 0.38.1");
    let cdx_vex = export(
        &db,
        "python",
        "cyclonedx-vex",
        &dir.path().join("p.vex.cdx.json"),
    );
    let states: BTreeSet<&str> = cdx_vex["vulnerabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["analysis"]["state"].as_str().unwrap())
        .collect();
    assert_eq!(
        states,
        BTreeSet::from(["exploitable", "in_triage", "not_affected"])
    );
    assert_eq!(
        validate("cyclonedx-1.6", &dir.path().join("p.vex.cdx.json"))["ok"],
        true
    );

    // A fresh store with the SBOM and the advisories, then our OpenVEX.
    let python = corpus().join(
        "external/guac-data/docs/cyclonedx/syft-cyclonedx-docker.io-library-python.latest.json",
    );
    let pypa = corpus().join("osv/pypa-advisory-database");
    for (name, vex) in [("openvex", "p.openvex.json")] {
        let db2 = dir.path().join(format!("{name}.redb"));
        run_ok(&db2, &["advisories", "load", pypa.to_str().unwrap()]);
        run_ok(
            &db2,
            &["ingest", "--deployment", "python", python.to_str().unwrap()],
        );
        run_ok(
            &db2,
            &[
                "ingest",
                "--deployment",
                "python",
                dir.path().join(vex).to_str().unwrap(),
            ],
        );
        let after = status(&db2);
        assert_eq!(after.len(), before.len());
        for (advisory, s) in &before {
            // A match without a statement is exported as `affected`.
            let expected = if s == "none" { "Affected" } else { s.as_str() };
            assert_eq!(after[advisory], expected, "{advisory}");
        }
    }

    // Our CycloneDX VEX names its packages by BOM-Links into the SBOM export
    // (same content, same serial). The SBOM export is made from a store with
    // the same documents and no advisories, so it carries no statements of
    // its own; the VEX goes into another deployment, so only its BOM-Links
    // can reach `python`.
    let db3 = dir.path().join("documents-only.redb");
    run_ok(
        &db3,
        &[
            "ingest",
            "--deployment",
            "python",
            python.to_str().unwrap(),
            root()
                .join("tests/fixtures/vex/python-image.cdx-vex.json")
                .to_str()
                .unwrap(),
        ],
    );
    let sbom = export(
        &db3,
        "python",
        "cyclonedx-1.6",
        &dir.path().join("p.cdx.json"),
    );
    assert!(
        sbom["vulnerabilities"]
            .as_array()
            .is_none_or(|v| v.is_empty()),
        "{}",
        sbom["vulnerabilities"]
    );
    let serial = sbom["serialNumber"]
        .as_str()
        .unwrap()
        .trim_start_matches("urn:uuid:")
        .to_string();
    let links: Vec<&str> = cdx_vex["vulnerabilities"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|v| v["affects"].as_array().unwrap())
        .map(|a| a["ref"].as_str().unwrap())
        .collect();
    assert_eq!(links.len(), before.len());
    let components: BTreeSet<&str> = sbom["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["bom-ref"].as_str().unwrap())
        .collect();
    for link in &links {
        let fragment = link
            .strip_prefix(&format!("urn:cdx:{serial}/1#"))
            .unwrap_or_else(|| panic!("{link} does not name the SBOM export {serial}"));
        let bom_ref = fragment.replace("%40", "@").replace("%2F", "/");
        assert!(components.contains(bom_ref.as_str()), "{link}");
    }
    let db4 = dir.path().join("cyclonedx-vex.redb");
    run_ok(&db4, &["advisories", "load", pypa.to_str().unwrap()]);
    run_ok(
        &db4,
        &[
            "ingest",
            "--deployment",
            "python",
            dir.path().join("p.cdx.json").to_str().unwrap(),
        ],
    );
    let unstated = status(&db4);
    assert_eq!(unstated.len(), before.len());
    assert!(unstated.values().all(|s| s == "none"), "{unstated:?}");
    run_ok(
        &db4,
        &[
            "ingest",
            "--deployment",
            "supplier-vex",
            dir.path().join("p.vex.cdx.json").to_str().unwrap(),
        ],
    );
    let after = status(&db4);
    for (advisory, s) in &before {
        let expected = if s == "none" { "Affected" } else { s.as_str() };
        assert_eq!(after[advisory], expected, "{advisory}");
    }
}

/// The TR-03183-2 report on the dev corpus names real gaps and gates on them.
#[test]
fn cra_report_names_real_gaps_and_gates_releases() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    estate(&db);
    let out = aibomdb(
        &db,
        &[
            "cra-report",
            "--deployment",
            "a-finetune",
            "--format",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let field = |n: u64| -> &Value {
        report["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["number"] == n)
            .unwrap()
    };
    assert_eq!(report["required_missing"], true);
    // No creator e-mail given: field 1 missing; the timestamp is there.
    assert_eq!(field(1)["present"], 0);
    assert_eq!(field(2)["present"], 1);
    // Lockfiles and SBOM tools name no component creator e-mail or URL, and
    // state no distribution (concluded) licence: every component lacks them.
    let total = report["components"].as_u64().unwrap();
    assert!(total > 70, "{total}");
    assert_eq!(field(3)["present"], 0);
    assert_eq!(field(8)["present"], 0);
    // uv.lock names wheels by SHA-256 only: no SHA-512 for the PyPI packages.
    assert!(
        field(9)["missing"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m == "pkg:pypi/transformers@5.23.0"),
        "{}",
        field(9)
    );
    // What the export does carry is counted as present.
    assert_eq!(field(4)["present"], total);
    assert_eq!(field(10)["present"], total);
    assert_eq!(field(7)["present"], total);
    assert!(field(16)["present"].as_u64().unwrap() > 70);
    // The model's weights are files with a filename; packages are not.
    assert!(
        field(6)["missing"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| !m.as_str().unwrap().contains("#file:")),
        "{}",
        field(6)
    );
    // Given the creator's e-mail, field 1 is present; the gate still fails on the rest.
    let out = aibomdb(
        &db,
        &[
            "cra-report",
            "--deployment",
            "a-finetune",
            "--format",
            "json",
            "--creator-email",
            "psirt@example.org",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let with: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(with["fields"][0]["present"], 1);
    let html = dir.path().join("cra.html");
    let out = aibomdb(
        &db,
        &[
            "cra-report",
            "--deployment",
            "a-finetune",
            "--format",
            "html",
            "--out",
            html.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("Required fields are missing") && page.contains("Component creator"));
    // Usage errors are exit 2.
    let out = aibomdb(&db, &["cra-report", "--deployment", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    let out = aibomdb(
        &db,
        &["export", "--deployment", "a-finetune", "--format", "spdx-9"],
    );
    assert_eq!(out.status.code(), Some(2));
}

/// Creators with a contact, concluded licences and file names that real
/// documents state reach the TR-03183-2 report and both exports: the SPDX 2.3
/// examples (`originator`/`supplier` with an e-mail, `licenseConcluded`,
/// `packageFileName`), the CycloneDX 1.6 example (`manufacturer` with
/// contacts) and the CycloneDX 1.7 licence-acknowledgement example.
#[test]
fn cra_evidence_carries_creators_concluded_licences_and_filenames() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    let formats = corpus().join("formats");
    let inputs = [
        "spdx/2.3/spdx-examples/presentations/SBOMS-SPDX-Now-and-Future/ACME-v2.3.spdx.json",
        "spdx/2.3/SPDXJSONExample-v2.3.spdx.json",
        "cyclonedx/spec-testdata/1.6/valid-bom-1.6.json",
        "cyclonedx/spec-testdata/1.7/valid-license-declared-concluded-mix-1.7.json",
    ]
    .map(|f| formats.join(f).to_str().unwrap().to_string());
    let mut args = vec!["ingest", "--deployment", "evidence"];
    args.extend(inputs.iter().map(String::as_str));
    run_ok(&db, &args);
    let out = aibomdb(
        &db,
        &["cra-report", "--deployment", "evidence", "--format", "json"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let missing = |n: u64| -> BTreeSet<String> {
        report["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["number"] == n)
            .unwrap()["missing"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m.as_str().unwrap().to_string())
            .collect()
    };
    let glibc = "pkg:generic/glibc@2.11.1";
    let acme = "pkg:generic/Acme%20Applcation@2.3";
    // The example names it `mylibrary`, its purl says `myapplication`.
    let mylibrary = "pkg:maven/com.example/myapplication@1.0.0";
    // Field 3: a creator reachable by e-mail or URL.
    let no_creator = missing(3);
    for has in [glibc, acme, mylibrary] {
        assert!(
            !no_creator.contains(has),
            "{has} lacks a creator: {no_creator:?}"
        );
    }
    assert!(no_creator.contains("pkg:npm/elliptic@6.5.2"));
    // Field 6: the file name as delivered.
    let no_filename = missing(6);
    assert!(!no_filename.contains(glibc) && !no_filename.contains(acme));
    assert!(no_filename.contains("pkg:npm/elliptic@6.5.2"));
    // Field 8: concluded licences; NOASSERTION is no conclusion.
    let no_concluded = missing(8);
    for has in [
        glibc,
        acme,
        "pkg:npm/elliptic@6.5.2",
        "pkg:generic/com.example%2Fsituation-A@1",
    ] {
        assert!(!no_concluded.contains(has), "{has}: {no_concluded:?}");
    }
    assert!(no_concluded.contains("pkg:generic/Apache%20Commons%20Lang"));
    assert!(no_concluded.contains("pkg:maven/com.example/myframework@1.0.0"));

    // The CycloneDX 1.6 export carries them and stays schema-valid.
    let file = dir.path().join("evidence.cdx.json");
    let bom = export(&db, "evidence", "cyclonedx-1.6", &file);
    assert_eq!(validate("cyclonedx-1.6", &file)["ok"], true);
    let component = |key: &str| -> Value {
        bom["components"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["purl"] == key)
            .unwrap_or_else(|| panic!("{key} not exported"))
            .clone()
    };
    let g = component(glibc);
    assert_eq!(
        g["manufacturer"]["contact"][0]["email"],
        "contact@example.com"
    );
    assert_eq!(
        g["licenses"],
        serde_json::json!([{"expression": "(LGPL-2.0-only OR LicenseRef-3)", "acknowledgement": "concluded"}]),
    );
    assert!(
        g["properties"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "bsi:component:filename" && p["value"] == "glibc-2.11.1.tar.gz")
    );
    let m = component(mylibrary);
    assert_eq!(
        m["manufacturer"]["url"],
        serde_json::json!(["https://example.org"])
    );
    // A compound declared expression and a concluded licence cannot both be
    // written in 1.6 (one expression, or a list of licences): the concluded
    // one, which TR-03183-2 requires, is kept.
    let c = component("pkg:generic/com.example%2Fsituation-C@1");
    assert_eq!(
        c["licenses"],
        serde_json::json!([{"expression": "GPL-3.0-only", "acknowledgement": "concluded"}]),
    );

    // SPDX 2.3: licenseConcluded, packageFileName and the originator.
    let file = dir.path().join("evidence.spdx.json");
    let doc = export(&db, "evidence", "spdx-2.3", &file);
    assert_eq!(validate("spdx-2.3", &file)["ok"], true);
    let p = doc["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "glibc")
        .unwrap();
    assert_eq!(p["licenseConcluded"], "(LGPL-2.0-only OR LicenseRef-3)");
    assert_eq!(p["packageFileName"], "glibc-2.11.1.tar.gz");
    assert_eq!(
        p["originator"],
        "Organization: ExampleCodeInspect (contact@example.com)"
    );
}

/// With `--sha512` the model's files carry the SHA-512 TR-03183-2 asks for,
/// and the report counts them; without it they do not.
#[test]
fn model_files_carry_sha512_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    let model = root().join("tests/fixtures/models/finetune-safetensors");
    for (deployment, extra) in [("plain", None), ("evidence", Some("--sha512"))] {
        let mut args = vec![
            "ingest-model",
            model.to_str().unwrap(),
            "--deployment",
            deployment,
            "--id",
            "aibomdb-test/bert-imdb",
        ];
        args.extend(extra);
        run_ok(&db, &args);
    }
    let sha512_files = |deployment: &str| -> Vec<String> {
        let out = aibomdb(
            &db,
            &["cra-report", "--deployment", deployment, "--format", "json"],
        );
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        let f9 = report["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["number"] == 9)
            .unwrap();
        let missing: BTreeSet<&str> = f9["missing"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m.as_str().unwrap())
            .collect();
        let bom = export(
            &db,
            deployment,
            "cyclonedx-1.6",
            &dir.path().join(format!("{deployment}.json")),
        );
        let mut files = Vec::new();
        for c in bom["components"].as_array().unwrap() {
            for f in c["components"].as_array().into_iter().flatten() {
                let r = f["bom-ref"].as_str().unwrap();
                if !missing.contains(r) {
                    files.push(r.to_string());
                }
            }
        }
        files
    };
    assert!(sha512_files("plain").is_empty());
    let with = sha512_files("evidence");
    assert_eq!(with.len(), 3, "{with:?}");
    // The digest is the file's: checked against Python's hashlib.
    let bom: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("evidence.json")).unwrap()).unwrap();
    let weights = bom["components"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["components"].as_array().into_iter().flatten())
        .find(|f| f["name"] == "model.safetensors")
        .unwrap();
    let ours = weights["hashes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["alg"] == "SHA-512")
        .unwrap()["content"]
        .as_str()
        .unwrap()
        .to_string();
    let out = Command::new("python3")
        .args([
            "-c",
            "import hashlib,sys; print(hashlib.sha512(open(sys.argv[1],'rb').read()).hexdigest())",
        ])
        .arg(model.join("model.safetensors"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), ours);
}

/// An SPDX 2.3 export re-ingested names the same packages and the same
/// DEPENDS_ON/CONTAINS edges (compared through a CycloneDX export of each).
#[test]
fn spdx_export_round_trips_packages_and_edges() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    estate(&db);
    for deployment in ["a-finetune", "trivy-test-image", "alpine-latest"] {
        let spdx = dir.path().join(format!("{deployment}.spdx.json"));
        export(&db, deployment, "spdx-2.3", &spdx);
        let db2 = dir.path().join(format!("{deployment}-spdx.redb"));
        run_ok(
            &db2,
            &["ingest", "--deployment", deployment, spdx.to_str().unwrap()],
        );
        let first = export(
            &db,
            deployment,
            "cyclonedx-1.6",
            &dir.path().join(format!("{deployment}-a.json")),
        );
        let second = export(
            &db2,
            deployment,
            "cyclonedx-1.6",
            &dir.path().join(format!("{deployment}-b.json")),
        );
        let subject = format!("pkg:generic/{}", deployment.to_lowercase());
        let (p1, d1, _) = graph_of(&first, &subject);
        let (p2, d2, _) = graph_of(&second, &subject);
        assert_eq!(p1, p2, "{deployment}: packages");
        assert_eq!(d1, d2, "{deployment}: edges");
    }
}
