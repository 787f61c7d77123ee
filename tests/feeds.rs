//! Advisory feed sync against a real HTTP server on loopback serving the
//! shared corpus's PyPA records as the OSV data export lays them out
//! (`PyPI/all.zip`, `PyPI/modified_id.csv`, `PyPI/<ID>.json`): the first
//! sync loads everything, an unchanged feed costs one conditional request,
//! a change is fetched record by record, and a download cut off mid-archive
//! leaves the store as it was.

mod common;

use std::path::Path;

use common::osv_export::{Export, FeedServer, record, records_of};
use common::{aibomdb, fingerprint, json, stderr};
use serde_json::Value;

fn sync(db: &Path, source: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "advisories",
        "sync",
        "--source",
        source,
        "--ecosystem",
        "PyPI",
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    aibomdb(db, &args)
}

fn advisory_ids(db: &Path, deployment: &str) -> Vec<String> {
    let rows = json(&aibomdb(
        db,
        &["match", "--deployment", deployment, "--format", "json"],
    ));
    let mut ids: Vec<String> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["advisory"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

fn summary(db: &Path, id: &str) -> String {
    let s = common::open(db);
    let json: Value = serde_json::from_slice(&s.advisory_json(id).unwrap().unwrap()).unwrap();
    json["summary"].as_str().unwrap_or_default().to_string()
}

#[test]
fn sync_fetches_only_what_changed_and_survives_a_cut_download() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/lockfiles/d-image-service");
    // The service pins Pillow 10.0.0 (uv-compiled), which PYSEC-2023-175 affects.
    json(&aibomdb(
        &db,
        &[
            "ingest",
            "--deployment",
            "svc",
            fixtures.join("requirements.txt").to_str().unwrap(),
            "--format",
            "json",
        ],
    ));
    let mut export = Export {
        root: dir.path().join("export"),
        records: records_of(&["pillow", "jinja2"]),
    };
    let held_back = "PYSEC-2019-217";
    let later = record("jinja2", held_back);
    export.records.remove(held_back);
    let total = export.records.len();
    export.publish();
    let server = FeedServer::start(&export);

    // First sync: the list and the whole archive, two requests.
    let report = json(&sync(&db, &server.url, &[]));
    let eco = &report["ecosystems"][0];
    assert_eq!(eco["mode"], "full", "{report}");
    assert_eq!(eco["requests"], 2);
    assert_eq!(eco["loaded"]["added"], total);
    assert_eq!(
        server.requests(),
        ["GET /PyPI/modified_id.csv 200", "GET /PyPI/all.zip 200"]
    );
    assert!(advisory_ids(&db, "svc").contains(&"PYSEC-2023-175".to_string()));

    // Nothing changed: one conditional request, answered 304.
    let report = json(&sync(&db, &server.url, &[]));
    assert_eq!(report["ecosystems"][0]["mode"], "unchanged", "{report}");
    assert_eq!(server.requests(), ["GET /PyPI/modified_id.csv 304"]);

    // One record modified, one new: the list and those two records only.
    export.touch("PYSEC-2023-175", "2030-01-01T00:00:00Z");
    export.records.insert(held_back.to_string(), later);
    export.records.get_mut(held_back).unwrap()["modified"] = Value::from("2030-01-02T00:00:00Z");
    export.publish();
    let report = json(&sync(&db, &server.url, &[]));
    let eco = &report["ecosystems"][0];
    assert_eq!(eco["mode"], "incremental", "{report}");
    assert_eq!(eco["listed"], 2);
    assert_eq!(eco["loaded"]["added"], 1);
    assert_eq!(eco["loaded"]["updated"], 1);
    let mut seen = server.requests();
    seen.sort();
    assert_eq!(
        seen,
        [
            format!("GET /PyPI/{held_back}.json 200"),
            "GET /PyPI/PYSEC-2023-175.json 200".to_string(),
            "GET /PyPI/modified_id.csv 200".to_string(),
        ]
    );
    assert_eq!(
        summary(&db, "PYSEC-2023-175"),
        "revised 2030-01-01T00:00:00Z"
    );

    // Many changes (over --max-individual) take the archive; a download cut
    // off half-way fails the sync and leaves the store as it was.
    for id in ["PYSEC-2023-175", "PYSEC-2021-92", "PYSEC-2022-42979"] {
        assert!(export.records.contains_key(id), "{id} not in the corpus");
        export.touch(id, "2031-01-01T00:00:00Z");
    }
    export.publish();
    server.drop_zip(true);
    let before = fingerprint(&db);
    let out = sync(&db, &server.url, &["--max-individual", "1"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("all.zip"), "{}", stderr(&out));
    assert_eq!(fingerprint(&db), before, "a cut download changed the store");
    assert_eq!(
        server.requests(),
        [
            "GET /PyPI/modified_id.csv 200",
            "GET /PyPI/all.zip 200-dropped"
        ]
    );
    // The next sync completes.
    server.drop_zip(false);
    let report = json(&sync(&db, &server.url, &["--max-individual", "1"]));
    let eco = &report["ecosystems"][0];
    assert_eq!(eco["mode"], "full", "{report}");
    assert_eq!(eco["loaded"]["updated"], 3, "{report}");
    assert_eq!(
        summary(&db, "PYSEC-2021-92"),
        "revised 2031-01-01T00:00:00Z"
    );
    let feeds = json(&aibomdb(&db, &["advisories", "feeds", "--format", "json"]));
    assert_eq!(feeds[0]["high_water"], "2031-01-01T00:00:00Z", "{feeds}");
}

/// The same layout on disk is a source too (a mirror synced by other means).
#[test]
fn sync_reads_a_directory_and_refuses_a_foreign_list() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    let export = Export {
        root: dir.path().join("export"),
        records: records_of(&["pillow"]),
    };
    export.publish();
    let root = export.root.clone();
    let source = root.to_str().unwrap();
    let report = json(&sync(&db, source, &[]));
    assert_eq!(
        report["ecosystems"][0]["loaded"]["added"],
        export.records.len()
    );
    let report = json(&sync(&db, source, &[]));
    assert_eq!(report["ecosystems"][0]["mode"], "unchanged", "{report}");

    // Two new records with one `modified`, one of whose files is not there
    // yet (the export writes its list and files apart): the other is
    // applied, the missing one reported, and fetched again next time.
    let mut export = export;
    let at = "2030-05-05T00:00:00Z";
    for id in ["PYSEC-2019-217", "PYSEC-2019-220"] {
        let mut r = record("jinja2", id);
        r["modified"] = Value::from(at);
        export.records.insert(id.to_string(), r);
    }
    export.publish();
    let missing = export.ecosystem_dir().join("PYSEC-2019-220.json");
    let held = std::fs::read(&missing).unwrap();
    std::fs::remove_file(&missing).unwrap();
    let out = sync(&db, source, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("PYSEC-2019-220.json: listed in modified_id.csv but not found"));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ecosystems"][0]["loaded"]["added"], 1, "{report}");
    // The file arrives, and a third record half a second later (text order
    // would put `…00.5Z` before `…00Z`): both, and only both, are read.
    std::fs::write(&missing, held).unwrap();
    let mut r = record("jinja2", "PYSEC-2021-66");
    r["modified"] = Value::from("2030-05-05T00:00:00.5Z");
    export.records.insert("PYSEC-2021-66".into(), r);
    export.publish();
    let report = json(&sync(&db, source, &[]));
    let eco = &report["ecosystems"][0];
    assert_eq!(eco["listed"], 2, "{report}");
    assert_eq!(eco["loaded"]["added"], 2, "{report}");
    let feeds = json(&aibomdb(&db, &["advisories", "feeds", "--format", "json"]));
    assert_eq!(feeds[0]["high_water"], "2030-05-05T00:00:00.5Z", "{feeds}");

    // A list that is not `<time>,<id>` (an HTML error page) is refused, not
    // taken for "nothing changed".
    std::fs::write(
        export.ecosystem_dir().join("modified_id.csv"),
        "<html><body>Service Unavailable</body></html>\n",
    )
    .unwrap();
    let before = fingerprint(&db);
    let out = sync(&db, source, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("modified_id.csv"), "{}", stderr(&out));
    assert_eq!(fingerprint(&db), before);
    // An ecosystem the source does not have is named.
    let out = aibomdb(
        &db,
        &[
            "advisories",
            "sync",
            "--source",
            source,
            "--ecosystem",
            "npm",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("npm"), "{}", stderr(&out));
}
