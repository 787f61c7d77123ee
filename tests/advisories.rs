//! OSV advisories against the graph, through the CLI: incremental matching in
//! both orders, the hits on real images checked against their records'
//! ranges, aliases, withdrawn records, and the CI gate.

mod common;

use std::path::{Path, PathBuf};

use common::{aibomdb, corpus, json, stderr};
use serde_json::Value;

fn pypa() -> PathBuf {
    corpus().join("osv/pypa-advisory-database")
}

fn python_image() -> PathBuf {
    corpus().join(
        "external/guac-data/docs/cyclonedx/syft-cyclonedx-docker.io-library-python.latest.json",
    )
}

fn run_ok(db: &Path, args: &[&str]) {
    let out = aibomdb(db, args);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
}

/// (package, advisory, fixed) of every match, sorted.
fn hits(v: &Value) -> Vec<(String, String, String)> {
    let mut out: Vec<_> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["package"].as_str().unwrap().to_string(),
                r["advisory"].as_str().unwrap().to_string(),
                r["fixed"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|f| f.as_str().unwrap())
                    .collect::<Vec<_>>()
                    .join(" "),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn python_image_hits_are_exactly_what_the_records_say() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    run_ok(&db, &["advisories", "load", pypa().to_str().unwrap()]);
    run_ok(
        &db,
        &[
            "ingest",
            python_image().to_str().unwrap(),
            "--deployment",
            "python",
        ],
    );
    let got = hits(&json(&aibomdb(
        &db,
        &["match", "--deployment", "python", "--format", "json"],
    )));
    // Read off the records by hand (vulns/<name>/<id>.yaml in the PyPA snapshot):
    // - pip PYSEC-2023-228: introduced 0, fixed 23.3 → pip 22.2.2 affected.
    // - setuptools PYSEC-2022-43012: introduced 0, fixed 65.5.1 → 63.2.0 affected.
    // - wheel PYSEC-2022-43017: introduced 0, fixed 0.38.1 → 0.37.1 affected.
    // No other PyPI package of the image (its 431 components include only
    // these three from PyPI with a PYSEC record in range) is hit.
    let want = vec![
        (
            "pkg:pypi/pip@22.2.2".to_string(),
            "PYSEC-2023-228".to_string(),
            "23.3".to_string(),
        ),
        (
            "pkg:pypi/setuptools@63.2.0".into(),
            "PYSEC-2022-43012".into(),
            "65.5.1".into(),
        ),
        (
            "pkg:pypi/wheel@0.37.1".into(),
            "PYSEC-2022-43017".into(),
            "0.38.1".into(),
        ),
    ];
    assert_eq!(got, want);

    // The other order (document first, advisories after) gives the same answer.
    let db2 = dir.path().join("t.redb");
    run_ok(
        &db2,
        &[
            "ingest",
            python_image().to_str().unwrap(),
            "--deployment",
            "python",
        ],
    );
    run_ok(&db2, &["advisories", "load", pypa().to_str().unwrap()]);
    let again = hits(&json(&aibomdb(
        &db2,
        &["match", "--deployment", "python", "--format", "json"],
    )));
    assert_eq!(again, want);

    // Any alias finds the record and its blast radius.
    let affected = json(&aibomdb(
        &db,
        &[
            "query",
            "affected",
            "--advisory",
            "CVE-2022-40897",
            "--format",
            "json",
        ],
    ));
    let rows = affected.as_array().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["advisory"], "PYSEC-2022-43012");
    assert_eq!(rows[0]["deployment"], "python");
    let unknown = aibomdb(&db, &["query", "affected", "--advisory", "CVE-1999-0001"]);
    assert_eq!(unknown.status.code(), Some(2));

    // SARIF for code-scanning dashboards: one rule per advisory, one result per hit.
    let sarif = json(&aibomdb(&db, &["match", "--format", "sarif"]));
    assert_eq!(sarif["version"], "2.1.0");
    let run = &sarif["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "aibomdb");
    assert_eq!(run["tool"]["driver"]["rules"].as_array().unwrap().len(), 3);
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), 3);
    let pip = results
        .iter()
        .find(|r| r["ruleId"] == "PYSEC-2023-228")
        .unwrap();
    assert_eq!(pip["level"], "note"); // CVSS 3.3
    assert!(
        pip["message"]["text"]
            .as_str()
            .unwrap()
            .contains("fixed in 23.3")
    );
    assert!(
        pip["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            .as_str()
            .unwrap()
            .ends_with("library-python.latest.json")
    );

    // The gate: pip's record scores 3.3 (low); the others carry no severity,
    // which trips every level rather than passing silently.
    assert_eq!(
        aibomdb(&db, &["match", "--fail-on", "critical"])
            .status
            .code(),
        Some(1)
    );
    assert_eq!(
        aibomdb(&db, &["match", "--fail-on", "nonsense"])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn the_dev_project_has_no_hits_in_the_2024_snapshot() {
    // Every package of a-finetune is a 2026 release, newer than any fix in the
    // PyPA snapshot of 2024-10-10: an empty list is the right answer, and it
    // passes the gate.
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    run_ok(
        &db,
        &[
            "ingest",
            corpus().join("dev").to_str().unwrap(),
            "--deployment",
            "a-finetune",
        ],
    );
    run_ok(&db, &["advisories", "load", pypa().to_str().unwrap()]);
    let got = json(&aibomdb(
        &db,
        &["match", "--deployment", "a-finetune", "--format", "json"],
    ));
    assert_eq!(got.as_array().unwrap().len(), 0, "{got}");
    assert!(
        aibomdb(
            &db,
            &["match", "--deployment", "a-finetune", "--fail-on", "any"]
        )
        .status
        .success()
    );
}

#[test]
fn a_record_that_becomes_withdrawn_stops_matching() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    run_ok(
        &db,
        &[
            "ingest",
            python_image().to_str().unwrap(),
            "--deployment",
            "python",
        ],
    );
    let record = pypa().join("vulns/pip/PYSEC-2023-228.yaml");
    run_ok(&db, &["advisories", "load", record.to_str().unwrap()]);
    let before = json(&aibomdb(&db, &["match", "--format", "json"]));
    assert_eq!(before.as_array().unwrap().len(), 1);
    // Upstream withdraws the record: same id, later `modified`, `withdrawn` set.
    let text = std::fs::read_to_string(&record).unwrap();
    let modified_line = text.lines().find(|l| l.starts_with("modified:")).unwrap();
    let withdrawn = text.replacen(
        modified_line,
        "modified: '2099-01-01T00:00:00Z'\nwithdrawn: '2099-01-01T00:00:00Z'",
        1,
    );
    let update = dir.path().join("PYSEC-2023-228.yaml");
    std::fs::write(&update, withdrawn).unwrap();
    let out = json(&aibomdb(
        &db,
        &[
            "advisories",
            "load",
            update.to_str().unwrap(),
            "--format",
            "json",
        ],
    ));
    assert_eq!(out["summary"]["updated"], 1);
    let after = json(&aibomdb(&db, &["match", "--format", "json"]));
    assert_eq!(after.as_array().unwrap().len(), 0, "{after}");
    // Loading the older, active record again does not bring it back.
    let out = json(&aibomdb(
        &db,
        &[
            "advisories",
            "load",
            record.to_str().unwrap(),
            "--format",
            "json",
        ],
    ));
    assert_eq!(out["summary"]["unchanged"], 1);
    assert_eq!(
        json(&aibomdb(&db, &["match", "--format", "json"]))
            .as_array()
            .unwrap()
            .len(),
        0
    );
}

#[test]
fn broken_records_are_reported_and_the_rest_load() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    let src = std::fs::read_to_string(pypa().join("vulns/pip/PYSEC-2023-228.yaml")).unwrap();
    std::fs::write(
        dir.path().join("cut.yaml"),
        src.replacen("affected:\n", "affected: [\n", 1),
    )
    .unwrap();
    std::fs::copy(
        pypa().join("vulns/wheel/PYSEC-2022-43017.yaml"),
        dir.path().join("ok.yaml"),
    )
    .unwrap();
    let out = aibomdb(&db, &["advisories", "load", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("cut.yaml") && err.contains("YAML"), "{err}");
    assert!(
        common::stdout(&out).contains("1 added"),
        "{}",
        common::stdout(&out)
    );
}

/// `match --fail-on LEVEL` at each level's boundary, with real records that
/// carry a severity (none without one is loaded, so "unknown trips every
/// level" cannot be what trips): pip's PYSEC-2023-228 (CVSS 3.1 vector, 3.3:
/// low), log4j-core's GHSA-3pxv-7cmr-fjr4 (GHSA label MODERATE: medium) and
/// musl's ALPINE-CVE-2025-26519 (CVSS 7.0: high, on the boundary). Then a
/// VEX `not_affected` (lib4vex, tests/fixtures/vex/make.py) takes the only
/// high match out of the gate.
#[test]
fn fail_on_trips_at_each_level_and_vex_takes_a_match_out() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    let osv = corpus().join("osv");
    for record in [
        pypa().join("vulns/pip/PYSEC-2023-228.yaml"),
        osv.join("examples/Maven/GHSA-3pxv-7cmr-fjr4.json"),
        osv.join("examples/Alpine/ALPINE-CVE-2025-26519.json"),
    ] {
        run_ok(&db, &["advisories", "load", record.to_str().unwrap()]);
    }
    let alpine =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/alpine-spdx-syft0.57.json");
    let java = corpus().join("external/guac-data/docs/spdx/spdx_vuln.json");
    for (deployment, file) in [
        ("python", python_image()),
        ("java", java),
        ("alpine", alpine),
    ] {
        run_ok(
            &db,
            &["ingest", "--deployment", deployment, file.to_str().unwrap()],
        );
    }
    // What each deployment holds: one advisory, at one level.
    let rows = json(&aibomdb(&db, &["match", "--format", "json"]));
    let mut seen: Vec<(String, String, String)> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["deployment"].as_str().unwrap().to_string(),
                r["advisory"].as_str().unwrap().to_string(),
                r["severity"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    seen.sort();
    seen.dedup();
    let want = |d: &str, a: &str, s: &str| (d.to_string(), a.to_string(), s.to_string());
    assert_eq!(
        seen,
        vec![
            want("alpine", "ALPINE-CVE-2025-26519", "high"),
            want("java", "GHSA-3pxv-7cmr-fjr4", "medium"),
            want("python", "PYSEC-2023-228", "low"),
        ]
    );
    let gate = |deployment: Option<&str>, level: &str| {
        let mut args = vec!["match", "--fail-on", level];
        if let Some(d) = deployment {
            args.extend(["--deployment", d]);
        }
        let out = aibomdb(&db, &args);
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{args:?}: {}",
            stderr(&out)
        );
        out.status.code().unwrap()
    };
    // (deployment, any, low, medium, high, critical): 1 = the gate trips.
    let table = [
        (Some("python"), [1, 1, 0, 0, 0]),
        (Some("java"), [1, 1, 1, 0, 0]),
        (Some("alpine"), [1, 1, 1, 1, 0]),
        (None, [1, 1, 1, 1, 0]),
    ];
    let levels = ["any", "low", "medium", "high", "critical"];
    for (deployment, codes) in table {
        for (level, code) in levels.iter().zip(codes) {
            assert_eq!(
                gate(deployment, level),
                code,
                "{deployment:?} --fail-on {level}"
            );
        }
    }

    // The supplier's VEX: musl is not affected in this image. The only high
    // match leaves the gate; the estate still trips on java's medium one.
    let vex =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/vex/alpine.openvex.json");
    run_ok(
        &db,
        &["ingest", "--deployment", "alpine", vex.to_str().unwrap()],
    );
    for level in levels {
        assert_eq!(
            gate(Some("alpine"), level),
            0,
            "alpine --fail-on {level} after VEX"
        );
    }
    assert_eq!(gate(None, "high"), 0);
    assert_eq!(gate(None, "medium"), 1);
    let rows = json(&aibomdb(
        &db,
        &["match", "--deployment", "alpine", "--format", "json"],
    ));
    assert!(!rows.as_array().unwrap().is_empty());
    for r in rows.as_array().unwrap() {
        assert_eq!(r["vex"]["state"], "not_affected", "{r}");
    }
}

/// The exposure timeline from history, on real documents: the service's
/// requirements compiled by uv with Pillow 10.0.0, then again after the fix
/// (10.0.1), ingested at the same path so that the second supersedes the
/// first (tests/fixtures/lockfiles/make.sh, d-image-service). The advisory
/// (PYSEC-2023-175) is loaded between the two, so exposure starts when it
/// arrived, and ends when the upgraded document came.
#[test]
fn timeline_shows_when_exposure_began_and_ended() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/lockfiles/d-image-service");
    let service = dir.path().join("svc");
    std::fs::create_dir_all(&service).unwrap();
    let reqs = service.join("requirements.txt");
    let ingest = |db: &Path| {
        let rows = json(&aibomdb(
            db,
            &[
                "ingest",
                "--deployment",
                "svc",
                reqs.to_str().unwrap(),
                "--format",
                "json",
            ],
        ));
        rows[0]["document"].as_u64().unwrap()
    };
    let ingested_at = |db: &Path, id: u64| -> u64 {
        let s = common::open(db);
        s.document(id).unwrap().unwrap().ingested_at
    };
    // Seconds are the store's resolution: one between each step.
    let step = || std::thread::sleep(std::time::Duration::from_millis(1100));
    std::fs::copy(fixtures.join("requirements.txt"), &reqs).unwrap();
    let old = ingest(&db);
    let t_old = ingested_at(&db, old);
    step();
    let record = pypa().join("vulns/pillow/PYSEC-2023-175.yaml");
    run_ok(&db, &["advisories", "load", record.to_str().unwrap()]);
    let t_known = common::open(&db)
        .advisory_seen("PYSEC-2023-175")
        .unwrap()
        .unwrap();
    assert!(t_known > t_old);
    // Still exposed: from when the advisory arrived, not from the ingest.
    let rows = json(&aibomdb(
        &db,
        &[
            "timeline",
            "--advisory",
            "PYSEC-2023-175",
            "--format",
            "json",
        ],
    ));
    assert_eq!(rows.as_array().unwrap().len(), 1, "{rows}");
    assert_eq!(rows[0]["exposed_from"], t_known);
    assert_eq!(rows[0]["resolved_at"], Value::Null);
    step();
    std::fs::copy(fixtures.join("upgraded/requirements.txt"), &reqs).unwrap();
    let new = ingest(&db);
    let t_new = ingested_at(&db, new);
    // The fix: the newer document lists 10.0.1, which is not affected.
    let at_exposed = aibomdb_export::time::rfc3339(t_known);
    let rows = json(&aibomdb(
        &db,
        &[
            "timeline",
            "--advisory",
            "PYSEC-2023-175",
            "--deployment",
            "svc",
            "--at",
            &at_exposed,
            "--format",
            "json",
        ],
    ));
    let e = &rows[0];
    assert_eq!(e["deployment"], "svc");
    assert_eq!(e["exposed_from"], t_known);
    assert_eq!(e["resolved_at"], t_new);
    assert_eq!(e["seconds_exposed"], t_new - t_known);
    assert_eq!(e["periods"][0]["document"], old);
    assert_eq!(
        e["periods"][0]["packages"],
        serde_json::json!(["pkg:pypi/pillow@10.0.0"])
    );
    assert_eq!(e["exposed_at"], true);
    // Before the advisory arrived, and after the fix: not exposed.
    for t in [t_old, t_new + 1] {
        let rows = json(&aibomdb(
            &db,
            &[
                "timeline",
                "--advisory",
                "PYSEC-2023-175",
                "--at",
                &aibomdb_export::time::rfc3339(t),
                "--format",
                "json",
            ],
        ));
        assert_eq!(rows[0]["exposed_at"], false, "at {t}: {rows}");
    }
    // An unknown deployment is bad input.
    let out = aibomdb(&db, &["timeline", "--deployment", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    // The same over GraphQL.
    let server = common::Server::start(&db, &[]);
    let (_, answer) = common::graphql(
        &server.addr,
        None,
        "query($at: String) { timeline(advisory: \"PYSEC-2023-175\", at: $at) { deployment exposedFrom resolvedAt secondsExposed exposedAt } }",
        serde_json::json!({"at": at_exposed}),
    );
    let t = &answer["data"]["timeline"][0];
    assert_eq!(
        t["exposedFrom"],
        aibomdb_export::time::rfc3339(t_known),
        "{answer}"
    );
    assert_eq!(t["resolvedAt"], aibomdb_export::time::rfc3339(t_new));
    assert_eq!(t["exposedAt"], true);
    server.stop();
}
