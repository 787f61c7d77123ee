//! Events that VEX and advisory identifiers turn without a match changing:
//! statements that suppress or reopen an exposure, a deletion that resolves
//! what a deployment had open, and an advisory update that adds or drops the
//! alias a statement names. Replaying the stream from its start always gives
//! what `match` reports open.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::webhook::{Receiver, free_port};
use common::{aibomdb, corpus, json, stderr};
use serde_json::Value;

fn run_ok(db: &Path, args: &[&str]) -> String {
    let out = aibomdb(db, args);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn events(db: &Path) -> Vec<aibomdb_store::MatchEvent> {
    common::open(db).events_after(0, 10_000).unwrap()
}

fn vex_fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/vex")
        .join(name)
        .to_str()
        .unwrap()
        .to_string()
}

fn python_image() -> String {
    corpus()
        .join(
            "external/guac-data/docs/cyclonedx/syft-cyclonedx-docker.io-library-python.latest.json",
        )
        .to_str()
        .unwrap()
        .to_string()
}

/// (deployment, advisory, purl) of the affected matches no VEX statement
/// suppresses, as `match --format json` reports them.
fn open_matches(db: &Path) -> BTreeSet<(String, String, String)> {
    let v = json(&aibomdb(db, &["match", "--format", "json"]));
    v.as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            r["status"] == "affected"
                && !matches!(r["vex"]["status"].as_str(), Some("NotAffected" | "Fixed"))
        })
        .map(|r| {
            (
                r["deployment"].as_str().unwrap().to_string(),
                r["advisory"].as_str().unwrap().to_string(),
                r["package"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The exposures the event stream leaves open, replayed from its start.
fn replayed(events: &[aibomdb_store::MatchEvent]) -> BTreeSet<(String, String, String)> {
    let mut open = BTreeSet::new();
    for e in events {
        let key = (e.deployment.clone(), e.advisory.clone(), e.purl.clone());
        match e.kind {
            aibomdb_store::EventKind::Opened => assert!(open.insert(key), "opened twice: {e:?}"),
            aibomdb_store::EventKind::Resolved => {
                assert!(open.remove(&key), "resolved while not open: {e:?}")
            }
        }
    }
    open
}

/// VEX statements change exposure without changing a match: lib4vex's
/// OpenVEX `not_affected` for CVE-2023-5752 (the alias of PYSEC-2023-228,
/// pip 22.2.2 in syft's SBOM of the python image) resolves that one
/// exposure with cause `vex`, in the deployment the statement was filed
/// into only; a later `affected` statement opens it again. A deployment
/// whose VEX arrived before its SBOM never sees the suppressed match opened,
/// and deleting a deployment resolves what it had open with cause `delete`.
/// Replaying the stream from its start gives what `match` reports open.
#[test]
fn vex_statements_and_deletions_resolve_and_reopen_exposures() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    let secret = dir.path().join("hook.secret");
    std::fs::write(&secret, "a-shared-secret-of-some-length\n").unwrap();
    let port = free_port();
    let receiver = Receiver::start(port, &secret, &dir.path().join("got.jsonl"), 0);
    run_ok(
        &db,
        &[
            "notify",
            "add",
            "hook",
            "--url",
            &format!("http://127.0.0.1:{port}/hook"),
            "--secret-file",
            secret.to_str().unwrap(),
        ],
    );
    // python-d has its VEX and SBOM before any advisory: the load opens
    // what the statements leave open, not the pip match they suppress.
    run_ok(
        &db,
        &[
            "ingest",
            "--deployment",
            "python-d",
            &vex_fixture("python-image.openvex.json"),
        ],
    );
    run_ok(
        &db,
        &["ingest", "--deployment", "python-d", &python_image()],
    );
    let pypa = corpus().join("osv/pypa-advisory-database");
    run_ok(&db, &["advisories", "load", pypa.to_str().unwrap()]);
    let d: Vec<_> = events(&db)
        .into_iter()
        .filter(|e| e.deployment == "python-d")
        .collect();
    assert!(
        d.iter()
            .any(|e| e.advisory == "PYSEC-2022-43012" && e.cause == "advisory"),
        "{d:?}"
    );
    assert!(!d.iter().any(|e| e.advisory == "PYSEC-2023-228"), "{d:?}");
    for d in ["python", "python-b"] {
        run_ok(&db, &["ingest", "--deployment", d, &python_image()]);
    }
    let pip = (
        "python".to_string(),
        "PYSEC-2023-228".to_string(),
        "pkg:pypi/pip@22.2.2".to_string(),
    );
    let before = events(&db);
    assert!(open_matches(&db).contains(&pip));
    assert_eq!(replayed(&before), open_matches(&db));
    let last = before.last().unwrap().seq;

    // not_affected (and an under_investigation that suppresses nothing).
    run_ok(
        &db,
        &[
            "ingest",
            "--deployment",
            "python",
            &vex_fixture("python-image.openvex.json"),
        ],
    );
    let all = events(&db);
    let new: Vec<_> = all.iter().filter(|e| e.seq > last).collect();
    assert_eq!(new.len(), 1, "{new:?}");
    let e = new[0];
    assert_eq!(
        (
            e.kind,
            e.cause.as_str(),
            &e.deployment,
            &e.advisory,
            &e.purl
        ),
        (
            aibomdb_store::EventKind::Resolved,
            "vex",
            &pip.0,
            &pip.1,
            &pip.2
        )
    );
    assert!(!open_matches(&db).contains(&pip));
    assert_eq!(replayed(&all), open_matches(&db));
    let last = e.seq;

    // A later statement (2026-12-02, `affected`) decides: open again.
    run_ok(
        &db,
        &[
            "ingest",
            "--deployment",
            "python",
            &vex_fixture("python-image.openvex-affected.json"),
        ],
    );
    let all = events(&db);
    let new: Vec<_> = all.iter().filter(|e| e.seq > last).collect();
    assert_eq!(new.len(), 1, "{new:?}");
    assert_eq!(
        (new[0].kind, new[0].cause.as_str(), &new[0].purl),
        (aibomdb_store::EventKind::Opened, "vex", &pip.2)
    );
    assert!(open_matches(&db).contains(&pip));
    assert_eq!(replayed(&all), open_matches(&db));

    // VEX first, then the SBOM: the suppressed match is never opened.
    run_ok(
        &db,
        &[
            "ingest",
            "--deployment",
            "python-c",
            &vex_fixture("python-image.openvex.json"),
        ],
    );
    run_ok(
        &db,
        &["ingest", "--deployment", "python-c", &python_image()],
    );
    let all = events(&db);
    let c: Vec<_> = all.iter().filter(|e| e.deployment == "python-c").collect();
    assert!(c.iter().any(|e| e.advisory == "PYSEC-2022-43012"), "{c:?}");
    assert!(!c.iter().any(|e| e.advisory == "PYSEC-2023-228"), "{c:?}");
    assert_eq!(replayed(&all), open_matches(&db));

    // A CycloneDX VEX filed in its own deployment (`python-image`, its
    // subject) reaches every deployment holding the SBOM its BOM-Link names:
    // python-b's pip is resolved; python keeps the later `affected`
    // statement and python-c was suppressed already, so neither moves.
    let last = all.last().unwrap().seq;
    run_ok(&db, &["ingest", &vex_fixture("python-image.cdx-vex.json")]);
    let all = events(&db);
    let new: Vec<_> = all
        .iter()
        .filter(|e| e.seq > last)
        .map(|e| {
            (
                e.kind,
                e.cause.as_str(),
                e.deployment.as_str(),
                e.advisory.as_str(),
                e.purl.as_str(),
            )
        })
        .collect();
    assert_eq!(
        new,
        vec![(
            aibomdb_store::EventKind::Resolved,
            "vex",
            "python-b",
            "PYSEC-2023-228",
            "pkg:pypi/pip@22.2.2"
        )]
    );
    assert_eq!(replayed(&all), open_matches(&db));

    // Deleting a deployment (the API's deleteDeployment) resolves its open
    // exposures, and only those.
    let open_b: BTreeSet<_> = open_matches(&db)
        .into_iter()
        .filter(|k| k.0 == "python-b")
        .collect();
    assert!(!open_b.is_empty());
    let last = all.last().unwrap().seq;
    assert!(common::open(&db).delete_deployment("python-b").unwrap());
    let all = events(&db);
    let new: BTreeSet<_> = all
        .iter()
        .filter(|e| e.seq > last)
        .map(|e| {
            assert_eq!(
                (e.kind, e.cause.as_str()),
                (aibomdb_store::EventKind::Resolved, "delete")
            );
            (e.deployment.clone(), e.advisory.clone(), e.purl.clone())
        })
        .collect();
    assert_eq!(new, open_b);
    assert_eq!(replayed(&all), open_matches(&db));

    // The receiver gets them, signed, causes and all.
    let round = json(&aibomdb(&db, &["notify", "deliver", "--format", "json"]));
    assert_eq!(
        round["delivered"].as_u64().unwrap() as usize,
        all.len(),
        "{round}"
    );
    let got = receiver.requests();
    assert!(got.iter().any(|r| r["valid"] == true
        && r["body"]["cause"] == "vex"
        && r["body"]["kind"] == "resolved"
        && r["body"]["deployment"] == "python"
        && r["body"]["package"] == pip.2.as_str()));
    assert!(got.iter().any(|r| r["body"]["cause"] == "delete"));
}

/// An advisory update that adds the alias a VEX statement names turns the
/// statement on for that advisory: the exposure it suppresses is resolved,
/// with the load's cause (`advisory`), and an update that drops the alias
/// opens it again. PYSEC-2023-228 (pip 22.2.2 in syft's SBOM of the python
/// image) is loaded first without CVE-2023-5752, the id lib4vex's OpenVEX
/// `not_affected` statement names; then as the PyPA database has it; then
/// without it again, each a newer `modified`.
#[test]
fn an_alias_that_an_advisory_update_adds_or_drops_turns_a_statement() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    let secret = dir.path().join("hook.secret");
    std::fs::write(&secret, "a-shared-secret-of-some-length\n").unwrap();
    // A target makes the store keep events; none is delivered here.
    run_ok(
        &db,
        &[
            "notify",
            "add",
            "hook",
            "--url",
            "http://127.0.0.1:9/hook",
            "--secret-file",
            secret.to_str().unwrap(),
        ],
    );
    let real = common::osv_export::record("pip", "PYSEC-2023-228");
    assert_eq!(real["aliases"], serde_json::json!(["CVE-2023-5752"]));
    let load = |record: &Value, name: &str| {
        let d = dir.path().join(name);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(
            d.join("PYSEC-2023-228.json"),
            serde_json::to_vec_pretty(record).unwrap(),
        )
        .unwrap();
        run_ok(&db, &["advisories", "load", d.to_str().unwrap()]);
    };
    let without = |modified: &str| {
        let mut r = real.clone();
        r["aliases"] = serde_json::json!([]);
        r["modified"] = Value::from(modified);
        r
    };
    load(&without("2023-11-01T00:00:00Z"), "v1");
    run_ok(&db, &["ingest", "--deployment", "python", &python_image()]);
    run_ok(
        &db,
        &[
            "ingest",
            "--deployment",
            "python",
            &vex_fixture("python-image.openvex.json"),
        ],
    );
    let pip = (
        "python".to_string(),
        "PYSEC-2023-228".to_string(),
        "pkg:pypi/pip@22.2.2".to_string(),
    );
    // The statement names an id the record does not answer to yet.
    assert!(open_matches(&db).contains(&pip));
    let all = events(&db);
    assert_eq!(replayed(&all), open_matches(&db));

    let new_since = |last: u64| -> Vec<(aibomdb_store::EventKind, String, String, String, String)> {
        events(&db)
            .into_iter()
            .filter(|e| e.seq > last)
            .map(|e| (e.kind, e.cause, e.deployment, e.advisory, e.purl))
            .collect()
    };
    let event = |kind| {
        (
            kind,
            "advisory".to_string(),
            pip.0.clone(),
            pip.1.clone(),
            pip.2.clone(),
        )
    };
    let last = all.last().unwrap().seq;
    load(&real, "v2");
    assert_eq!(
        new_since(last),
        vec![event(aibomdb_store::EventKind::Resolved)]
    );
    assert!(!open_matches(&db).contains(&pip));
    let all = events(&db);
    assert_eq!(replayed(&all), open_matches(&db));

    let last = all.last().unwrap().seq;
    load(&without("2024-01-01T00:00:00Z"), "v3");
    assert_eq!(
        new_since(last),
        vec![event(aibomdb_store::EventKind::Opened)]
    );
    assert!(open_matches(&db).contains(&pip));
    assert_eq!(replayed(&events(&db)), open_matches(&db));
}

/// A BOM-Link covers a deployment only while the BOM it names is current
/// there. syft's SBOM of the python image is made again (a new serial and
/// time, as every run of syft gives; the packages the same): the CycloneDX
/// VEX that names the first serial no longer covers `python-b`, and pip's
/// exposure opens again with cause `vex`; an SBOM with the linked serial
/// again resolves it. No match changes in either ingest.
#[test]
fn a_new_serial_moves_what_a_bom_link_covers() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    let secret = dir.path().join("hook.secret");
    std::fs::write(&secret, "a-shared-secret-of-some-length\n").unwrap();
    run_ok(
        &db,
        &[
            "notify",
            "add",
            "hook",
            "--url",
            "http://127.0.0.1:9/hook",
            "--secret-file",
            secret.to_str().unwrap(),
        ],
    );
    let records = dir.path().join("osv");
    std::fs::create_dir_all(&records).unwrap();
    std::fs::write(
        records.join("PYSEC-2023-228.json"),
        serde_json::to_vec_pretty(&common::osv_export::record("pip", "PYSEC-2023-228")).unwrap(),
    )
    .unwrap();
    run_ok(&db, &["advisories", "load", records.to_str().unwrap()]);
    run_ok(
        &db,
        &["ingest", "--deployment", "python-b", &python_image()],
    );
    run_ok(&db, &["ingest", &vex_fixture("python-image.cdx-vex.json")]);
    let pip = (
        "python-b".to_string(),
        "PYSEC-2023-228".to_string(),
        "pkg:pypi/pip@22.2.2".to_string(),
    );
    assert!(!open_matches(&db).contains(&pip));
    let all = events(&db);
    assert_eq!(replayed(&all), open_matches(&db));

    let original: Value = serde_json::from_slice(&std::fs::read(python_image()).unwrap()).unwrap();
    let linked = original["serialNumber"].as_str().unwrap().to_string();
    let made_again = |serial: &str, timestamp: &str, name: &str| -> String {
        let mut sbom = original.clone();
        sbom["serialNumber"] = Value::from(serial);
        sbom["metadata"]["timestamp"] = Value::from(timestamp);
        let path = dir.path().join(name);
        std::fs::write(&path, serde_json::to_vec_pretty(&sbom).unwrap()).unwrap();
        path.to_str().unwrap().to_string()
    };
    let new_since = |last: u64| -> Vec<(aibomdb_store::EventKind, String, String, String, String)> {
        events(&db)
            .into_iter()
            .filter(|e| e.seq > last)
            .map(|e| (e.kind, e.cause, e.deployment, e.advisory, e.purl))
            .collect()
    };
    let event = |kind| {
        (
            kind,
            "vex".to_string(),
            pip.0.clone(),
            pip.1.clone(),
            pip.2.clone(),
        )
    };

    let last = all.last().unwrap().seq;
    let unlinked = made_again(
        "urn:uuid:5b0e3a52-4f7c-4a8e-9d47-0c3f0f6f2a11",
        "2026-12-04T10:00:00Z",
        "python-2.cdx.json",
    );
    run_ok(&db, &["ingest", "--deployment", "python-b", &unlinked]);
    assert_eq!(
        new_since(last),
        vec![event(aibomdb_store::EventKind::Opened)]
    );
    assert!(open_matches(&db).contains(&pip));
    let all = events(&db);
    assert_eq!(replayed(&all), open_matches(&db));

    let last = all.last().unwrap().seq;
    let relinked = made_again(&linked, "2026-12-04T11:00:00Z", "python-3.cdx.json");
    run_ok(&db, &["ingest", "--deployment", "python-b", &relinked]);
    assert_eq!(
        new_since(last),
        vec![event(aibomdb_store::EventKind::Resolved)]
    );
    assert!(!open_matches(&db).contains(&pip));
    assert_eq!(replayed(&events(&db)), open_matches(&db));
}
