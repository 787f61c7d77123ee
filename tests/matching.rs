//! Matching claims end to end: a version that cannot be ordered is reported
//! by every front end (CLI table and JSON, GraphQL, the match report), never
//! silently dropped; and a full re-match writes only what changed.

mod common;

use std::path::{Path, PathBuf};

use common::{aibomdb, corpus, json, stderr, stdout};
use serde_json::json;

fn dla() -> PathBuf {
    corpus().join("osv/examples/Debian/DLA-3008-1.json")
}

/// A stretch image SBOM, written at run time: openssl at a version in range
/// of DLA-3008-1 (fixed 1.1.0l-1~deb9u6), and its binary libssl1.1 at a
/// version dpkg cannot parse (`_` is not allowed), matched through its source
/// package `openssl`.
fn stretch_image(dir: &Path) -> PathBuf {
    let doc = json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "metadata": {"component": {"type": "container", "name": "stretch-image", "bom-ref": "root"}},
        "components": [
            {"type": "library", "name": "openssl", "version": "1.1.0f-3+deb9u2", "bom-ref": "a",
             "purl": "pkg:deb/debian/openssl@1.1.0f-3%2Bdeb9u2?distro=debian-9"},
            {"type": "library", "name": "libssl1.1", "version": "1.1.0f_3", "bom-ref": "b",
             "purl": "pkg:deb/debian/libssl1.1@1.1.0f_3?upstream=openssl&distro=debian-9"}
        ]
    });
    let path = dir.join("stretch.cdx.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    path
}

#[test]
fn unorderable_versions_are_reported_by_every_front_end() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    for args in [
        &["ingest", stretch_image(dir.path()).to_str().unwrap()][..],
        &["advisories", "load", dla().to_str().unwrap()],
    ] {
        let out = aibomdb(&db, args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    }
    let why = "`1.1.0f_3` is not a valid Debian version";

    // The match report: the orderable version is affected, the other is
    // listed as unorderable with the reason, not left out.
    let rows = json(&aibomdb(&db, &["match", "--format", "json"]));
    let mut got: Vec<(String, String)> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["package"].as_str().unwrap().to_string(),
                r["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            (
                "pkg:deb/debian/libssl1.1@1.1.0f_3".to_string(),
                "unorderable".to_string()
            ),
            (
                "pkg:deb/debian/openssl@1.1.0f-3+deb9u2".into(),
                "affected".into()
            ),
        ]
    );
    let libssl = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["status"] == "unorderable")
        .unwrap();
    assert!(libssl["detail"].as_str().unwrap().contains(why), "{libssl}");
    assert_eq!(libssl["matched_name"], "openssl");
    let table = stdout(&aibomdb(&db, &["match"]));
    assert!(
        table
            .lines()
            .any(|l| l.contains("libssl1.1@1.1.0f_3") && l.contains("unorderable")),
        "{table}"
    );

    // Version-range questions: the JSON names it, the table warns on stderr.
    let packages = json(&aibomdb(
        &db,
        &[
            "query",
            "packages",
            "--name",
            "libssl1.1",
            "--version-range",
            "<2",
            "--format",
            "json",
        ],
    ));
    assert_eq!(packages["packages"], json!([]));
    assert_eq!(packages["unordered"].as_array().unwrap().len(), 1);
    assert!(
        packages["unordered"][0].as_str().unwrap().contains(why),
        "{packages}"
    );
    for args in [
        &[
            "query",
            "packages",
            "--name",
            "libssl1.1",
            "--version-range",
            "<2",
        ][..],
        &[
            "query",
            "deployments",
            "--name",
            "libssl1.1",
            "--version-range",
            "<2",
        ],
    ] {
        let out = aibomdb(&db, args);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        let err = stderr(&out);
        assert!(
            err.contains("warning: cannot compare pkg:deb/debian/libssl1.1@1.1.0f_3")
                && err.contains(why),
            "{args:?}: {err}"
        );
    }

    // GraphQL: the connections carry the same `unordered` list.
    let server = common::Server::start(&db, &[]);
    let (status, v) = common::graphql(
        &server.addr,
        None,
        r#"{packages(name:"libssl1.1", versionRange:"<2"){totalCount unordered}
            deploymentsUsing(name:"libssl1.1", versionRange:"<2"){totalCount unordered}}"#,
        json!({}),
    );
    assert_eq!(status, 200, "{v}");
    for field in ["packages", "deploymentsUsing"] {
        let c = &v["data"][field];
        assert_eq!(c["totalCount"], 0, "{v}");
        assert_eq!(c["unordered"].as_array().unwrap().len(), 1, "{v}");
        assert!(c["unordered"][0].as_str().unwrap().contains(why), "{v}");
    }
}

/// `rematch_all` of an estate whose matches did not change commits nothing
/// (the store's write generation stays), and after one record changes only
/// its rows change.
#[test]
fn a_full_rematch_writes_only_differences() {
    use aibomdb_osv::{LoadLimits, load_advisories, load_path, rematch_all};
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    let store = common::open(&db);
    let python = corpus().join(
        "external/guac-data/docs/cyclonedx/syft-cyclonedx-docker.io-library-python.latest.json",
    );
    let prepared = aibomdb_ingest::prepare(&python, &Default::default()).unwrap();
    aibomdb_ingest::commit(&store, prepared, Some("python")).unwrap();
    let pypa = load_path(
        &corpus().join("osv/pypa-advisory-database"),
        &LoadLimits::default(),
    )
    .unwrap();
    let records: Vec<_> = pypa.advisories.into_iter().map(|(_, a)| a).collect();
    load_advisories(&store, &records).unwrap();
    let matches = |store: &aibomdb_store::Store| {
        let mut m: Vec<(String, String)> = aibomdb_osv::deployment_matches(store, Some("python"))
            .unwrap()
            .into_iter()
            .map(|r| (r.package, r.advisory))
            .collect();
        m.sort();
        m
    };
    let before = matches(&store);
    assert_eq!(before.len(), 3, "{before:?}");
    let (generation, fingerprint) = (store.generation(), store.content_fingerprint().unwrap());

    let summary = rematch_all(&store).unwrap();
    assert_eq!(summary.matches, 3);
    assert!(summary.candidates >= 3);
    assert_eq!(
        store.generation(),
        generation,
        "a re-match with no change wrote"
    );
    assert_eq!(store.content_fingerprint().unwrap(), fingerprint);

    // pip's record, revised upstream: fixed in 22.0, so 22.2.2 is no longer
    // affected. Loading it changes that record's rows, and nothing else.
    let mut pip = records
        .iter()
        .find(|a| a.id == "PYSEC-2023-228")
        .unwrap()
        .clone();
    pip.modified = Some("2099-01-01T00:00:00Z".into());
    for affected in &mut pip.affected {
        for range in &mut affected.ranges {
            for e in &mut range.events {
                if e.fixed.is_some() {
                    e.fixed = Some("22.0".into());
                }
            }
        }
        affected.versions.retain(|v| v.as_str() < "22");
    }
    load_advisories(&store, &[pip]).unwrap();
    let after = matches(&store);
    assert_eq!(
        after,
        before
            .iter()
            .filter(|(_, a)| a != "PYSEC-2023-228")
            .cloned()
            .collect::<Vec<_>>()
    );
    let (generation, fingerprint) = (store.generation(), store.content_fingerprint().unwrap());
    rematch_all(&store).unwrap();
    assert_eq!(
        store.generation(),
        generation,
        "a re-match with no change wrote"
    );
    assert_eq!(store.content_fingerprint().unwrap(), fingerprint);
    assert_eq!(matches(&store), after);
}

/// The python image SBOM and the PyPA records, as in the test above.
fn python_and_pypa() -> (PathBuf, Vec<aibomdb_osv::Advisory>) {
    let python = corpus().join(
        "external/guac-data/docs/cyclonedx/syft-cyclonedx-docker.io-library-python.latest.json",
    );
    (python, common::pypa_records())
}

/// A fresh store and a second writer on it: on PostgreSQL a store of its
/// own, as another process has; one redb file has one handle, whose
/// writers are threads (the same handle). The first element keeps the
/// store's place (bound first, it is dropped after both handles).
fn two_writers() -> (
    (tempfile::TempDir, common::TestDb),
    aibomdb_store::Store,
    Option<aibomdb_store::Store>,
) {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    let first = common::open(&db);
    let second = common::on_postgres().then(|| common::open(&db));
    ((dir, db), first, second)
}

/// The SBOM at `path` ingested into `deployment` with its packages' lookup
/// names taken away: stored, but under no name OSV knows.
fn write_nameless(store: &aibomdb_store::Store, path: &Path, deployment: &str) {
    let prepared = aibomdb_ingest::prepare(path, &Default::default()).unwrap();
    let mut doc = aibomdb_ingest::document_for_write(store, prepared, Some(deployment)).unwrap();
    doc.lookup_names.iter_mut().for_each(Vec::clear);
    aibomdb_ingest::write_documents(store, &mut [doc]).unwrap();
}

fn python_matches(store: &aibomdb_store::Store) -> Vec<(String, String)> {
    let mut m: Vec<(String, String)> = aibomdb_osv::deployment_matches(store, Some("python"))
        .unwrap()
        .into_iter()
        .map(|r| (r.package, r.advisory))
        .collect();
    m.sort();
    m
}

/// Loads pip's PYSEC-2023-228 again as a newer record: a load that moves
/// the advisories counter under a re-match.
fn load_newer_pip(store: &aibomdb_store::Store, records: &[aibomdb_osv::Advisory]) {
    let mut pip = records
        .iter()
        .find(|a| a.id == "PYSEC-2023-228")
        .unwrap()
        .clone();
    pip.modified = Some("2099-01-01T00:00:00Z".into());
    aibomdb_osv::load_advisories(store, &[pip]).unwrap();
}

/// Two writers whose work interleaves (two processes on PostgreSQL, two
/// threads of one server on redb): an ingest matched before an advisory load
/// committed, a load matched before an ingest committed, and a full re-match
/// that read the estate before an ingest committed. None may leave the
/// package–advisory matches between them unwritten, or remove them. Without
/// the re-check under the writers' lock each ends with no match at all.
#[test]
fn writers_that_interleave_miss_no_match() {
    let (python, records) = python_and_pypa();
    // What one writer alone makes: the reference.
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    let expected = {
        let store = common::open(&db);
        let prepared = aibomdb_ingest::prepare(&python, &Default::default()).unwrap();
        aibomdb_ingest::commit(&store, prepared, Some("python")).unwrap();
        aibomdb_osv::load_advisories(&store, &records).unwrap();
        python_matches(&store)
    };
    assert_eq!(expected.len(), 3, "{expected:?}");

    // 1. The document is matched (no advisory yet), a load commits, then the
    //    document is written.
    let (_dir, ingester, other) = two_writers();
    let loader = other.as_ref().unwrap_or(&ingester);
    let prepared = aibomdb_ingest::prepare(&python, &Default::default()).unwrap();
    let doc = aibomdb_ingest::document_for_write(&ingester, prepared, Some("python")).unwrap();
    assert!(doc.matches.iter().all(Vec::is_empty));
    aibomdb_osv::load_advisories(loader, &records).unwrap();
    aibomdb_ingest::write_documents(&ingester, &mut [doc]).unwrap();
    assert_eq!(python_matches(&ingester), expected);
    assert_eq!(python_matches(loader), expected);

    // 2. The load is read and matched (no package yet), an ingest commits,
    //    then the load is written.
    let (_dir, ingester, other) = two_writers();
    let loader = other.as_ref().unwrap_or(&ingester);
    let planned = aibomdb_osv::plan_advisories(loader, &records).unwrap();
    let prepared = aibomdb_ingest::prepare(&python, &Default::default()).unwrap();
    aibomdb_ingest::commit(&ingester, prepared, Some("python")).unwrap();
    assert!(python_matches(&ingester).is_empty());
    let summary = planned.write(loader, None, "advisory").unwrap();
    assert_eq!(summary.matches, 3, "{summary:?}");
    assert_eq!(python_matches(&ingester), expected);
    assert_eq!(python_matches(loader), expected);

    // 3. A full re-match reads the estate (no package yet), an ingest
    //    commits, then the re-match writes what it found (nothing): the
    //    ingest's matches stay. A load committed meanwhile makes the write
    //    stale instead, and nothing is written.
    let (_dir, ingester, other) = two_writers();
    let rematcher = other.as_ref().unwrap_or(&ingester);
    aibomdb_osv::load_advisories(rematcher, &records).unwrap();
    let ids: Vec<String> = records.iter().map(|a| a.id.clone()).collect();
    let marks = rematcher.write_marks().unwrap();
    let prepared = aibomdb_ingest::prepare(&python, &Default::default()).unwrap();
    aibomdb_ingest::commit(&ingester, prepared, Some("python")).unwrap();
    assert_eq!(python_matches(&ingester), expected);
    rematcher
        .replace_matches_of(&ids, &aibomdb_store::MatchRows::new(), Some(marks), None)
        .unwrap();
    assert_eq!(python_matches(rematcher), expected);
    let marks = rematcher.write_marks().unwrap();
    load_newer_pip(&ingester, &records);
    let fingerprint = rematcher.content_fingerprint().unwrap();
    assert!(matches!(
        rematcher.replace_matches_of(&ids, &aibomdb_store::MatchRows::new(), Some(marks), None),
        Err(aibomdb_store::StoreError::Stale(_))
    ));
    assert_eq!(rematcher.content_fingerprint().unwrap(), fingerprint);
    assert_eq!(python_matches(rematcher), expected);

    // 4. Packages stored before the load read its candidates, under no name
    //    OSV knows (as a Debian binary package is until a document tells its
    //    source package), gain their names from a document committed while
    //    the load matches: the load must match them under the lock, though
    //    their ids are older than its marks. The first document is the same
    //    SBOM with its lookup names taken away, which no importer can be
    //    made to write for PyPI packages.
    let (_dir, ingester, other) = two_writers();
    let loader = other.as_ref().unwrap_or(&ingester);
    write_nameless(&ingester, &python, "nameless");
    let planned = aibomdb_osv::plan_advisories(loader, &records).unwrap();
    let prepared = aibomdb_ingest::prepare(&python, &Default::default()).unwrap();
    aibomdb_ingest::commit(&ingester, prepared, Some("python")).unwrap();
    assert!(python_matches(&ingester).is_empty());
    let summary = planned.write(loader, None, "advisory").unwrap();
    assert_eq!(summary.matches, 3, "{summary:?}");
    assert_eq!(python_matches(&ingester), expected);
    // A document that brings no new name leaves the counter as it was (a
    // load reads its keys' older packages again only when one gained one).
    let marks = ingester.write_marks().unwrap();
    write_nameless(&ingester, &python, "late");
    assert_eq!(
        ingester.write_marks().unwrap().package_keys,
        marks.package_keys
    );
    // A re-match that read the packages before they gained their names is
    // refused as stale rather than removing the matches their ingest made,
    // when its write is given no way to match them under the lock.
    let (_dir, ingester, other) = two_writers();
    let rematcher = other.as_ref().unwrap_or(&ingester);
    write_nameless(&ingester, &python, "nameless");
    aibomdb_osv::load_advisories(rematcher, &records).unwrap();
    let marks = rematcher.write_marks().unwrap();
    let prepared = aibomdb_ingest::prepare(&python, &Default::default()).unwrap();
    aibomdb_ingest::commit(&ingester, prepared, Some("python")).unwrap();
    assert_eq!(python_matches(&ingester), expected);
    assert!(matches!(
        rematcher.replace_matches_of(&ids, &aibomdb_store::MatchRows::new(), Some(marks), None),
        Err(aibomdb_store::StoreError::Stale(_))
    ));
    assert_eq!(python_matches(rematcher), expected);

    // 5. A full re-match planned before the packages gained their names and
    //    written after: it lands (an ingest naming packages at every turn
    //    cannot keep it out), and matches them under the lock. Its own plan
    //    found nothing for them; without the late matching the write would
    //    be refused as stale (above), or would remove what the ingest made.
    let (_dir, ingester, other) = two_writers();
    let rematcher = other.as_ref().unwrap_or(&ingester);
    write_nameless(&ingester, &python, "nameless");
    aibomdb_osv::load_advisories(rematcher, &records).unwrap();
    let planned = aibomdb_osv::plan_rematch(rematcher).unwrap();
    let prepared = aibomdb_ingest::prepare(&python, &Default::default()).unwrap();
    aibomdb_ingest::commit(&ingester, prepared, Some("python")).unwrap();
    // The ingest's own matches, taken out, so that only the re-match's late
    // matching can bring them back.
    let matched = python_matches(&ingester);
    assert_eq!(matched, expected);
    for advisory in &ids {
        rematcher.replace_advisory_matches(advisory, &[]).unwrap();
    }
    assert!(python_matches(rematcher).is_empty());
    let summary = planned.write(rematcher).unwrap();
    // What was written: the late matches (the plan read no named package).
    assert_eq!(summary.matches, 3, "{summary:?}");
    assert_eq!(python_matches(rematcher), expected);
    assert_eq!(python_matches(&ingester), expected);

    // 6. The same, with a load committed too before the write: the late
    //    matching does not cover records that changed, so the write is still
    //    refused as stale, and nothing is written.
    let (_dir, ingester, other) = two_writers();
    let rematcher = other.as_ref().unwrap_or(&ingester);
    write_nameless(&ingester, &python, "nameless");
    aibomdb_osv::load_advisories(rematcher, &records).unwrap();
    let planned = aibomdb_osv::plan_rematch(rematcher).unwrap();
    let prepared = aibomdb_ingest::prepare(&python, &Default::default()).unwrap();
    aibomdb_ingest::commit(&ingester, prepared, Some("python")).unwrap();
    load_newer_pip(&ingester, &records);
    let fingerprint = rematcher.content_fingerprint().unwrap();
    assert!(matches!(
        planned.write(rematcher),
        Err(aibomdb_store::StoreError::Stale(_))
    ));
    assert_eq!(rematcher.content_fingerprint().unwrap(), fingerprint);
}

/// The estate-wide JSON report is written one deployment at a time; it must
/// be what the per-deployment reports give, in deployment order, as one
/// pretty-printed array.
#[test]
fn the_estate_report_is_every_deployments_report_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    let image = stretch_image(dir.path());
    for name in ["zeta", "alpha", "mid"] {
        let out = aibomdb(
            &db,
            &["ingest", image.to_str().unwrap(), "--deployment", name],
        );
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let out = aibomdb(&db, &["advisories", "load", dla().to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));

    let whole = aibomdb(&db, &["match", "--format", "json"]);
    assert!(whole.status.success(), "{}", stderr(&whole));
    let text = String::from_utf8(whole.stdout.clone()).unwrap();
    assert!(text.starts_with("[\n  {\n    \""), "{text}");
    assert!(text.ends_with("\n  }\n]\n"), "{text}");
    let mut each = Vec::new();
    for name in ["alpha", "mid", "zeta"] {
        let rows = json(&aibomdb(
            &db,
            &["match", "--deployment", name, "--format", "json"],
        ));
        assert_eq!(rows.as_array().unwrap().len(), 2, "{name}: {rows}");
        each.extend(rows.as_array().unwrap().iter().cloned());
    }
    assert_eq!(json(&whole), serde_json::Value::Array(each));
    // The gate reads the same rows.
    assert_eq!(
        aibomdb(&db, &["match", "--format", "json", "--fail-on", "any"])
            .status
            .code(),
        Some(1)
    );
}

/// `aibomdb ingest` names and matches a fact once: a package whose fact an
/// earlier group of the same ingest wrote is left out of the later
/// documents' matching (its names and matches are stored). Every deployment
/// still shows its matches, exactly as in a store that got each document
/// by an ingest of its own; and a package whose version differs (a fact of
/// its own, first seen in a later group) is matched at its version.
#[test]
fn facts_an_earlier_group_wrote_keep_their_matches() {
    let (python, records) = python_and_pypa();
    let dir = tempfile::tempdir().unwrap();
    let original: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&python).unwrap()).unwrap();
    // The same image under twelve names; the last with pip at another
    // version in range of PYSEC-2023-228. A group per document and one
    // parser thread, at most a few documents ahead of the writer (the
    // channel's bound; with one thread no result waits out of order): the
    // last documents are parsed after the first ones commit.
    const COPIES: usize = 12;
    let name = |n: usize| format!("python-{n:02}");
    let mut inputs = Vec::new();
    for n in 0..COPIES {
        let mut doc = original.clone();
        doc["metadata"]["component"]["name"] = json!(name(n));
        if n == COPIES - 1 {
            for c in doc["components"].as_array_mut().unwrap() {
                if c["purl"]
                    .as_str()
                    .is_some_and(|p| p.starts_with("pkg:pypi/pip@"))
                {
                    c["version"] = json!("21.1");
                    c["purl"] = json!("pkg:pypi/pip@21.1");
                }
            }
        }
        let path = dir.path().join(format!("{}.cdx.json", name(n)));
        std::fs::write(&path, serde_json::to_vec(&doc).unwrap()).unwrap();
        inputs.push(aibomdb_ingest::Input {
            path,
            from_walk: false,
            model_dir: false,
            arg: n,
        });
    }
    let ingest = |store: &aibomdb_store::Store, inputs: &[aibomdb_ingest::Input]| {
        let one_by_one = aibomdb_ingest::GroupCommit::one_by_one();
        let failures = aibomdb_ingest::run(
            store,
            inputs,
            None,
            &Default::default(),
            &one_by_one,
            1,
            |_| {},
        );
        assert_eq!(failures, 0);
    };
    let matches = |store: &aibomdb_store::Store, deployment: &str| {
        let mut m: Vec<(String, String)> = aibomdb_osv::deployment_matches(store, Some(deployment))
            .unwrap()
            .into_iter()
            .map(|r| (r.package, r.advisory))
            .collect();
        m.sort();
        m
    };
    let together_db = common::db(&dir);
    let together = common::open(&together_db);
    aibomdb_osv::load_advisories(&together, &records).unwrap();
    ingest(&together, &inputs);
    let apart_dir = tempfile::tempdir().unwrap();
    let apart_db = common::db(&apart_dir);
    let apart = common::open(&apart_db);
    aibomdb_osv::load_advisories(&apart, &records).unwrap();
    for input in &inputs {
        ingest(&apart, std::slice::from_ref(input));
    }
    let first = matches(&together, &name(0));
    let pip = |p: &String| p.starts_with("pkg:pypi/pip@");
    assert!(first.iter().any(|(p, _)| pip(p)), "{first:?}");
    for n in 0..COPIES {
        assert_eq!(
            matches(&together, &name(n)),
            matches(&apart, &name(n)),
            "{}",
            name(n)
        );
        if n < COPIES - 1 {
            assert_eq!(matches(&together, &name(n)), first, "{}", name(n));
        }
    }
    let last = matches(&together, &name(COPIES - 1));
    let pip_at = |version: &str| format!("pkg:pypi/pip@{version}");
    assert!(
        last.contains(&(pip_at("21.1"), "PYSEC-2023-228".to_string())),
        "{last:?}"
    );
    assert!(
        !last.iter().any(|(p, _)| *p == pip_at("22.2.2")),
        "{last:?}"
    );
    assert_eq!(
        last.iter().filter(|(p, _)| !pip(p)).count(),
        first.iter().filter(|(p, _)| !pip(p)).count()
    );
}
